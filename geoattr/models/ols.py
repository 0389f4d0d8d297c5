"""Pooled and year-by-year least squares of the attractiveness model.

The numerical engine is :class:`linearmodels.panel.PooledOLS` (weighted when
population weights are asked for); geoattr adds the specification logic, region-level
estimation applied to municipalities and labelled results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from linearmodels.panel import PooledOLS

from geoattr import _validation as val
from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.models.least_squares import least_squares
from geoattr.models.pooled_ols import pooled_ols, pooled_ols_applies
from geoattr.models.results import RegressionResults
from geoattr.variables import CommutingYear, Design, build_design

__all__ = ["LeastSquares", "AttractivenessResults", "estimate", "estimate_by_year", "YearlyResults", "ObsWeights",
           "design_weights", "check_values"]

#: Observation weights as :class:`LeastSquares` takes them: ``"population"`` (the design's
#: population), a Series on the design's (unit, year) index, an array in the design's row
#: order, or None (unweighted).
ObsWeights = Literal["population"] | pd.Series | np.ndarray | None

CovType = Literal["unadjusted", "robust", "clustered", "driscoll-kraay"]

#: From this many observations :meth:`LeastSquares.fit` computes the unadjusted, robust and
#: clustered fits with the least-squares kernel (:func:`~geoattr.models.least_squares.least_squares`,
#: pinned to PooledOLS) instead of linearmodels, whose panel containers hold about twelve
#: copies of the data at the peak (1.1 GB over 93 MB at 2 x 10^6 observations; at 2 x 10^7
#: the fit failed under a 16 GB cap, ``benchmarks/results_scale.json``).
KERNEL_MIN_NOBS = 1_000_000
_COV = {
    "unadjusted": ("unadjusted", {}),
    "robust": ("robust", {}),
    "clustered": ("clustered", {"cluster_entity": True}),
    "driscoll-kraay": ("kernel", {}),
}


#: Options of earlier versions of :func:`estimate` -> what replaced them.
_RENAMED = {
    "level": "the unit of estimation is unit_level= ('municipality' or 'region'); level is a confidence level",
    "weighted": "population weighting is obs_weights='population'",
}


def _check_rank(X: pd.DataFrame) -> None:
    """Raise naming the columns involved when ``X`` is rank deficient."""
    arr = X.to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(arr)
    if rank == arr.shape[1]:
        return
    const = [c for c in X.columns if np.ptp(X[c].to_numpy()) == 0]
    culprits: list[str] = []
    if len(const) > 1 or (const and "const" not in X.columns):
        culprits = const
    else:
        for c in X.columns:
            others = X.drop(columns=[c]).to_numpy(dtype=float)
            if np.linalg.matrix_rank(others) == rank:
                culprits.append(c)
    raise InputError(
        f"the regressors are collinear (rank {rank} of {arr.shape[1]} columns); "
        f"the columns involved: {culprits}. Drop one of them or the constant."
    )


def check_values(design: Design) -> None:
    """Refuse a design least squares cannot use: infinite or huge values, a constant ``y``.

    Parameters
    ----------
    design : Design

    Raises
    ------
    InputError
        Naming the columns and (unit, year) rows with infinite values or values whose
        squares overflow, or saying that the dependent variable is constant.
    """
    if not _all_within(design):  # the checks below name the offending cells
        frame = pd.concat([design.y.rename("y"), design.X], axis=1)
        val.require_finite(
            frame, list(frame.columns), table=f"design ({design.spec})",
            hint="They come from the panel columns of these terms: fix the values there.",
        )
    if not _varies(design.y):
        val.require_variation(
            design.y, name=f"y of {design.spec!r}",
            hint="Least squares needs a dependent variable that varies: check its column (net_migration "
            "for the attractiveness model) and the rows or years selected.",
        )


def _all_within(design: Design) -> bool:
    """True when ``y`` and ``X`` are float columns without infinite or huge values (NaN passes).

    The common case, in one array pass: then :func:`geoattr._validation.require_finite`
    has nothing to report and is skipped.
    """
    if not all(_numpy_float(t) for t in [design.y.dtype, *design.X.dtypes]):
        return False
    with np.errstate(invalid="ignore"):
        return not (np.abs(design.y.to_numpy(dtype=float)) > val.MAX_MAGNITUDE).any() and not (
            np.abs(design.X.to_numpy(dtype=float)) > val.MAX_MAGNITUDE).any()


def _numpy_float(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind == "f"


def _varies(y: pd.Series) -> bool:
    """True when the float ``y`` varies (the test of :func:`geoattr._validation.require_variation`)."""
    if not _numpy_float(y.dtype):
        return False
    v = y.to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return len(v) == 0 or bool(np.ptp(v) > 1e-12 * max(1.0, float(np.abs(v).max())))


def design_weights(design: Design, obs_weights: ObsWeights) -> pd.Series | None:
    """The observation weights of ``design`` as a Series on its rows (None: unweighted).

    Parameters
    ----------
    design : Design
    obs_weights : "population", pandas.Series, array or None
        ``"population"``: the design's population; a Series is aligned on the design's
        index (every row needs a weight); an array has one weight per row, in order.

    Returns
    -------
    pandas.Series or None

    Raises
    ------
    InputError
        Another string, a Series without weights for some rows, an array of another length.
    """
    if obs_weights is None:
        return None
    if isinstance(obs_weights, str):
        if obs_weights != "population":
            raise InputError(f"obs_weights must be 'population', a Series or an array, got {obs_weights!r}")
        return design.population
    if isinstance(obs_weights, pd.Series):
        w = obs_weights.reindex(design.y.index)
        if w.isna().any():
            raise InputError(f"obs_weights lack {int(w.isna().sum())} observation(s) of the design: "
                             f"{format_ids(w.index[w.isna()])}")
        return w.astype(float)
    arr = np.asarray(obs_weights, dtype=float)
    if arr.shape != (len(design.y),):
        raise InputError(f"obs_weights must have one weight per observation ({len(design.y)}); "
                         f"an array of shape {arr.shape} was given")
    return pd.Series(arr, index=design.y.index)


class LeastSquares:
    """Pooled (weighted) least squares on a :class:`~geoattr.variables.Design`.

    Parameters
    ----------
    design : Design
        Dependent variable and regressors.
    obs_weights : "population", pandas.Series, array or None, default None
        Observation weights (weighted least squares): ``"population"`` weights by the
        population on 1 January (``design.population``), so that small municipalities
        do not dominate; a Series on the design's index or an array in its row order
        gives the weights.  Default: ordinary least squares.

    Notes
    -----
    The constructor checks the input and estimates nothing; :meth:`fit` returns a new
    :class:`~geoattr.models.results.RegressionResults`.
    """

    def __init__(self, design: Design, *, obs_weights: ObsWeights = None) -> None:
        if not isinstance(design, Design):
            raise TypeError(f"design must be a geoattr Design, {type(design).__name__} was given")
        if len(design.y) <= design.X.shape[1]:
            raise InputError(
                f"{len(design.y)} observations for {design.X.shape[1]} regressors: widen years= or use fewer terms"
            )
        check_values(design)
        _check_rank(design.X)
        self.design = design
        self.obs_weights = design_weights(design, obs_weights)

    def fit(self, *, cov_type: CovType = "clustered", **cov_config: Any) -> RegressionResults:
        """Estimate.

        Parameters
        ----------
        cov_type : {"clustered", "robust", "unadjusted", "driscoll-kraay"}, default "clustered"
            ``clustered``: clustered by unit (linearmodels: the sandwich scaled by
            ``n / (n - k)``, no ``G / (G - 1)`` group correction); ``driscoll-kraay``: linearmodels' kernel
            (Driscoll-Kraay) estimator robust to cross-sectional and serial correlation.
        **cov_config
            Passed to linearmodels (e.g. ``bandwidth`` for Driscoll-Kraay).

        Returns
        -------
        RegressionResults

        Notes
        -----
        From ``KERNEL_MIN_NOBS`` (10^6) observations the unadjusted, robust and clustered
        fits without ``cov_config`` come from the least-squares kernel
        (:func:`geoattr.models.least_squares.least_squares`, the same numbers as
        linearmodels to 1e-10) in about twice the memory of the data.
        """
        if cov_type not in _COV:
            raise ValueError(f"cov_type must be one of {sorted(_COV)}, got {cov_type!r}")
        lm_cov, extra = _COV[cov_type]
        d = self.design
        if len(d.y) >= KERNEL_MIN_NOBS and cov_type != "driscoll-kraay" and not cov_config:
            return _kernel_ols(d, cov_type, self.obs_weights)
        info = _info(d)
        model = "ols" if self.obs_weights is None else "wls"
        if not cov_config and pooled_ols_applies(d.y, d.X, self.obs_weights):
            f = pooled_ols(d.y, d.X, self.obs_weights, cov_type=cov_type)  # PooledOLS's numbers, bit for bit
            params = pd.Series(f.params, index=d.X.columns, name="estimate")
            return _results(d, params, f.cov, (d.X @ params).rename("fitted"), nobs=f.nobs, df_resid=float(f.df_resid),
                            loglik=f.loglik, rsquared=f.rsquared, model=model, cov_type=cov_type)
        y, X, w = _coded(d.y, d.X, self.obs_weights)
        res = PooledOLS(y, X, weights=w, check_rank=False).fit(cov_type=lm_cov, **extra, **cov_config)
        fitted = (d.X @ res.params).rename("fitted")
        resid = (d.y - fitted).rename("resid")
        return RegressionResults.from_linearmodels(
            res, y=d.y, fitted_values=fitted, resids=resid, model=model, cov_type=cov_type, info=info,
            notes=list(d.notes),
        )


def _coded(y: pd.Series, X: pd.DataFrame, w: pd.Series | None) -> tuple[pd.Series, pd.DataFrame, pd.Series | None]:
    """y, X (and weights) with the unit level of the index as integer codes, for linearmodels.

    linearmodels checks and groups the entity level several times; on string ids (Arrow
    strings) that cost 11 of 17 s at 2 million observations, on codes a fraction.  The
    clusters are the same groups, so every estimate is unchanged; only the labels the
    results never show differ.
    """
    idx = y.index
    codes = pd.factorize(idx.get_level_values(0), use_na_sentinel=False)[0]
    coded = pd.MultiIndex.from_arrays([codes, idx.get_level_values(1)], names=idx.names)
    return (y.set_axis(coded), X.set_axis(coded),
            None if w is None else pd.Series(w.reindex(idx).to_numpy(), index=coded, name=w.name))


@dataclass(frozen=True)
class AttractivenessResults:
    """The fitted attractiveness model and what it implies for each unit.

    Attributes
    ----------
    results : RegressionResults
        Estimates at the estimation level.
    design : Design
        Design at the estimation level.
    unit_design : Design
        Design at the municipality (unit) level, to which the coefficients are applied
        (the same object as ``design`` for municipality-level estimation).
    data, unit_data : PanelData
        Data at the estimation level and at the unit level.
    unit_level : str
        ``"municipality"`` or ``"region"`` (the unit of estimation).
    """

    results: RegressionResults
    design: Design
    unit_design: Design
    data: PanelData
    unit_data: PanelData
    unit_level: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def expected(self) -> pd.Series:
        """Expected net migration rate of each unit: unit regressors x coefficients."""
        return self.results.predict(self.unit_design.X).rename("expected")

    @property
    def spec(self) -> str:
        """Specification name."""
        return self.design.spec


def estimate(
    data: PanelData,
    spec: str | Sequence[str] = "2022",
    *,
    unit_level: Literal["municipality", "region"] = "municipality",
    years: tuple[int, int] | None = None,
    commuting_year: CommutingYear = "same",
    obs_weights: Literal["population"] | None = None,
    cov_type: CovType = "clustered",
    regions: pd.Series | None = None,
    **design_options: Any,
) -> AttractivenessResults:
    """Estimate the attractiveness model (pooled least squares).

    Parameters
    ----------
    data : PanelData
        Municipality-level data.
    spec : {"2022", "2019", "2018"} or list of terms, default "2022"
    unit_level : {"municipality", "region"}, default "municipality"
        ``"region"`` aggregates to regions (counts summed, flows region x region,
        centrality population-weighted with the municipal centring constant),
        estimates there, and applies the coefficients to the municipalities.
    years : (int, int), optional
        Inclusive range of the dependent variable's years.
    commuting_year : int or "same", default "same"
    obs_weights : {None, "population"}, default None
        ``"population"``: population-weighted least squares.
    cov_type : str, default "clustered"
        See :meth:`LeastSquares.fit`.
    regions : pandas.Series, optional
        Unit -> region mapping (defaults to ``data.regions``).
    **design_options
        Passed to :func:`geoattr.variables.build_design` (``year_effects``,
        ``relative_to_national``, ``extra``, ``min_share``, ``top_k``,
        ``include_diagonal``, ``on_missing``, ``constant``).

    Returns
    -------
    AttractivenessResults
    """
    for old, new in _RENAMED.items():
        if old in design_options:
            raise InputError(f"estimate() has no option {old}=: {new}")
    val.population_weighted(obs_weights)
    if unit_level not in ("municipality", "region"):
        raise ValueError(f"unit_level must be 'municipality' or 'region', got {unit_level!r}")
    unit_design = build_design(data, spec, years=years, commuting_year=commuting_year, **design_options)
    if unit_level == "municipality":
        est_data, design = data, unit_design
    else:
        est_data = data.aggregate(regions)
        design = build_design(est_data, spec, years=unit_design.years, commuting_year=commuting_year,
                              **design_options)
    res = LeastSquares(design, obs_weights=obs_weights).fit(cov_type=cov_type)
    return AttractivenessResults(
        results=res, design=design, unit_design=unit_design, data=est_data, unit_data=data, unit_level=unit_level,
        options={"spec": spec, "years": list(unit_design.years), "commuting_year": commuting_year,
                 "obs_weights": obs_weights, "cov_type": cov_type, **design_options},
    )


@dataclass(frozen=True)
class YearlyResults:
    """Year-by-year cross-section estimates.

    Attributes
    ----------
    results : dict[int, RegressionResults]
    spec, unit_level : str
    """

    results: dict[int, RegressionResults]
    spec: str
    unit_level: str
    skipped: dict[int, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Long table: spec, level, year, term, estimate, std_error, t, p, significance flag."""
        if not self.results:
            return pd.DataFrame(columns=["spec", "level", "year", "term", "estimate", "std_error", "t", "p",
                                         "significant"])
        rs = list(self.results.values())
        sizes = [len(r.params) for r in rs]
        years = np.repeat(np.array(list(self.results)), sizes)
        out = pd.DataFrame({
            "spec": self.spec, "level": self.unit_level, "year": years,
            # one concatenation per column of what each year's to_frame() holds (its own statistics)
            "term": np.concatenate([r.std_errors.index.to_numpy() for r in rs]),
            **{col: np.concatenate([getattr(r, attr).to_numpy(dtype=float) for r in rs])
               for col, attr in (("estimate", "params"), ("std_error", "std_errors"), ("t", "tstats"),
                                 ("p", "pvalues"))},
        })
        out["significant"] = np.select([out["p"] < 0.01, out["p"] < 0.05, out["p"] < 0.1], ["***", "**", "*"], "")
        return out

    def table(self, value: str = "estimate") -> pd.DataFrame:
        """Wide table: terms x years of ``value`` (``estimate``, ``t``, ``p``...)."""
        return self.to_frame().pivot(index="term", columns="year", values=value)

    def vra_sum(self, terms: Sequence[str] = ("vra", "vra_l1", "vra_l2")) -> pd.DataFrame:
        """Sum of the VRA coefficients by year with its standard error (from the covariance).

        Returns
        -------
        pandas.DataFrame
            Index year; columns ``estimate``, ``std_error``, plus the ``centrality``
            coefficient and its standard error when present.
        """
        rows = {}
        for year, r in self.results.items():
            present = [t for t in terms if t in r.params.index]
            if not present:
                raise InputError(f"none of {list(terms)} were estimated; terms are {list(r.params.index)}")
            a = r.params[present].sum()
            se = float(np.sqrt(r.cov.loc[present, present].to_numpy().sum()))
            row = {"vra_sum": a, "vra_sum_se": se}
            if "centrality" in r.params.index:
                row["centrality"] = r.params["centrality"]
                row["centrality_se"] = r.std_errors["centrality"]
            rows[year] = row
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("year")


def estimate_by_year(
    design: Design, *, obs_weights: ObsWeights = None, cov_type: CovType = "robust"
) -> YearlyResults:
    """Estimate the model separately for every year (cross sections).

    Parameters
    ----------
    design : Design
        Pooled design; year dummies, if any, are dropped per year.
    obs_weights : "population", pandas.Series, array or None, default None
        As in :class:`LeastSquares` (a Series or array covers the whole pooled design).
    cov_type : str, default "robust"
        Heteroskedasticity-robust by default (one observation per unit and year).

    Returns
    -------
    YearlyResults
        Years whose cross-section cannot be estimated (fewer observations than
        regressors, collinear regressors) are listed in ``skipped`` with the reason.
    """
    years = sorted(design.y.index.get_level_values("year").unique())
    out: dict[int, RegressionResults] = {}
    skipped: dict[int, str] = {}
    w = design_weights(design, obs_weights)
    fast = w is None and cov_type in ("robust", "unadjusted")
    Xcols = [c for c in design.X.columns if not c.startswith("year_")]
    X = design.X[Xcols]
    rows = pd.Series(np.arange(len(design.y))).groupby(design.y.index.get_level_values("year")).indices
    for t in years:
        m = rows[t]  # the year's row positions, in order
        sub = Design(
            y=design.y.iloc[m], X=X.iloc[m], population=design.population.iloc[m], spec=design.spec,
            unit_level=design.unit_level, years=(t, t), notes=design.notes, accounting=design.accounting,
        )
        try:
            model = LeastSquares(sub, obs_weights=None if w is None else w.iloc[m])
            out[t] = _kernel_ols(sub, cov_type) if fast else model.fit(cov_type=cov_type)
        except InputError as err:
            skipped[t] = str(err)
    return YearlyResults(results=out, spec=design.spec, unit_level=design.unit_level, skipped=skipped)


def _kernel_ols(d: Design, cov_type: str, obs_weights: pd.Series | None = None) -> RegressionResults:
    """(Weighted) least squares with the least-squares kernel, without linearmodels' overhead.

    :func:`~geoattr.models.least_squares.least_squares` computes PooledOLS's numbers
    (pinned to it in the tests, 1e-10); clusters are the units (the first index level).
    Used for the hundreds of small cross-sections of the year-by-year step and for pooled
    fits of at least ``KERNEL_MIN_NOBS`` observations.
    """
    Xa = d.X.to_numpy(dtype=float)
    w = None if obs_weights is None else obs_weights.reindex(d.y.index).to_numpy(dtype=float)
    groups = d.y.index.codes[0] if isinstance(d.y.index, pd.MultiIndex) else None
    f = least_squares(Xa, d.y.to_numpy(dtype=float), obs_weights=w, cov_type=cov_type, groups=groups)
    fitted = pd.Series(Xa @ f.params, index=d.y.index, name="fitted")
    del Xa
    return _results(d, pd.Series(f.params, index=list(d.X.columns), name="estimate"), f.cov, fitted, nobs=f.nobs,
                    df_resid=f.df_resid, loglik=f.loglik, rsquared=f.r2,
                    model="ols" if obs_weights is None else "wls", cov_type=cov_type)


def _info(d: Design) -> dict[str, str]:
    return {"Specification": d.spec, "Level": d.unit_level, "Years": f"{d.years[0]}-{d.years[1]}"}


def _results(d: Design, params: pd.Series, cov: np.ndarray, fitted: pd.Series, *, nobs: int, df_resid: float,
             loglik: float, rsquared: float, model: str, cov_type: str) -> RegressionResults:
    """RegressionResults of a least-squares fit of ``d`` computed outside linearmodels (the
    kernel or :func:`~geoattr.models.pooled_ols.pooled_ols`)."""
    terms = params.index
    return RegressionResults(
        params=params, cov=pd.DataFrame(cov, index=terms, columns=terms), y=d.y, fitted_values=fitted,
        resids=(d.y - fitted).rename("resid"), nobs=nobs, df_resid=df_resid, loglik=loglik, rsquared=rsquared,
        model=model, cov_type=cov_type, info=_info(d), notes=list(d.notes),
    )
