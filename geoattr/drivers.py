"""Drivers of attractiveness: standardized (beta) coefficients of candidate factors.

Regress attractiveness (or net migration) on candidate factors the user supplies
(students per capita, housing completions per 1,000 inhabitants, cafe jobs per
capita, ...) and report standardized coefficients

    beta_k = b_k * sd(x_k) / sd(y),

with standard errors, t, p and significance stars, by period (pooled over the years
of each period).  The standardization is done within each period's sample, so the
betas are exactly the slopes of least squares on the z-scored variables, which is how
they are computed here (with :class:`~geoattr.models.ols.LeastSquares`, so every
period's fit is a geoattr :class:`~geoattr.models.results.RegressionResults`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr._format import stars as _stars
from geoattr.accounting import Accounting
from geoattr.exceptions import DroppedRowsWarning, InputError
from geoattr.models.ols import CovType, LeastSquares
from geoattr.models.results import RegressionResults
from geoattr.variables import Design

__all__ = ["drivers", "DriversResults"]

Period = tuple[int, int]
FRAME_COLUMNS = ["period", "term", "beta", "std_error", "t", "p", "stars"]
SIGNIFICANCE = "Significance: *** p<0.01, ** p<0.05, * p<0.1"
_Y = "\0target"
_W = "\0obs_weights"


def _label(period: Period) -> str:
    return f"{period[0]}-{period[1]}"


def _public(col: str) -> str:
    return "target" if col == _Y else "obs_weights" if col == _W else col


@dataclass(frozen=True)
class DriversResults:
    """Results of :func:`drivers`.

    Attributes
    ----------
    periods : list of (int, int)
        The periods, in the order given.
    terms : list of str
        Candidate factors (regressors), in the order given.
    results : dict
        ``(start, end) -> RegressionResults`` of least squares of the z-scored target on
        the z-scored candidates (plus a constant, which is zero by construction);
        the slopes are the betas.
    scales : pandas.DataFrame
        Index ``(period, statistic)`` with statistic ``mean`` and ``sd``; columns the
        target and the candidates: the moments used to standardize each period's sample
        (``b_k = beta_k * sd(y) / sd(x_k)`` recovers the raw slopes).
    target_name : str
        ``target.name`` (or ``"target"``).
    excluded : pandas.DataFrame
        ``period, unit, year, reason`` of observations left out for missing values
        (only with ``on_missing="drop"``).
    notes : list of str
    options : dict
    """

    periods: list[Period]
    terms: list[str]
    results: dict[Period, RegressionResults]
    scales: pd.DataFrame
    target_name: str = "target"
    excluded: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["period", "unit", "year", "reason"])
    )
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Long table: ``period, term, beta, std_error, t, p, stars`` (constant excluded)."""
        rows = []
        for p in self.periods:
            r = self.results[p]
            f = pd.DataFrame(
                {
                    "period": _label(p),
                    "term": self.terms,
                    "beta": r.params[self.terms].to_numpy(),
                    "std_error": r.std_errors[self.terms].to_numpy(),
                    "t": r.tstats[self.terms].to_numpy(),
                    "p": r.pvalues[self.terms].to_numpy(),
                }
            )
            f["stars"] = [_stars(v) for v in f["p"]]
            rows.append(f)
        return pd.concat(rows, ignore_index=True)[FRAME_COLUMNS]

    def table(self, *, precision: int = 2, numeric: bool = False) -> pd.DataFrame:
        """Wide table terms x periods.

        Parameters
        ----------
        precision : int, default 2
            Decimals of the text table.
        numeric : bool, default False
            False: strings such as ``"0.31***"`` (beta with significance stars,
            ``***`` p<0.01, ``**`` p<0.05, ``*`` p<0.1); True: the betas as numbers (for colouring).

        Returns
        -------
        pandas.DataFrame
            Index ``term`` (candidate order), columns the period labels (period order).
        """
        f = self.to_frame()
        cols = [_label(p) for p in self.periods]
        beta = f.pivot(index="term", columns="period", values="beta").reindex(
            index=self.terms, columns=cols
        )
        if numeric:
            return beta.rename_axis(index="term", columns="period")
        stars = f.pivot(index="term", columns="period", values="stars").reindex(
            index=self.terms, columns=cols
        )
        # round first and add 0.0 so that -0.001 prints as "0.00", not "-0.00"
        text = beta.map(lambda v: f"{round(v, precision) + 0.0:.{precision}f}") + stars
        return text.astype(object).rename_axis(index="term", columns="period")

    def fit_statistics(self) -> pd.DataFrame:
        """Per period: ``nobs``, ``r2``, ``adj_r2``."""
        rows = [
            {"period": _label(p), "nobs": r.nobs, "r2": r.rsquared, "adj_r2": r.rsquared_adj}
            for p, r in self.results.items()
        ]
        return pd.DataFrame(rows, columns=["period", "nobs", "r2", "adj_r2"]).set_index("period")

    def styled(self, *, precision: int = 2, cmap: str = "RdBu", vmax: float | None = None) -> Any:
        """Return the text table as a pandas Styler coloured by beta, diverging around zero.

        Parameters
        ----------
        precision : int, default 2
        cmap : str, default "RdBu"
            A diverging matplotlib colormap (red negative, blue positive by default).
        vmax : float, optional
            Colour scale limit; the scale runs from ``-vmax`` to ``vmax`` so zero is the
            neutral centre.  Default: the largest absolute beta.

        Returns
        -------
        pandas.io.formats.style.Styler

        Raises
        ------
        ImportError
            When jinja2 (which pandas needs for Styler) is not installed.
        """
        try:
            import jinja2  # noqa: F401
        except ImportError as err:  # pragma: no cover - jinja2 is installed in the test environment
            raise ImportError(
                "DriversResults.styled() needs jinja2: pip install jinja2. "
                "table() and table(numeric=True) give the same content without colours."
            ) from err
        num = self.table(numeric=True)
        text = self.table(precision=precision)
        if vmax is None:
            finite = np.abs(num.to_numpy(dtype=float))
            finite = finite[np.isfinite(finite)]
            vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        if vmax <= 0:
            raise ValueError(f"vmax must be positive, got {vmax}")
        return text.style.background_gradient(
            cmap=cmap, gmap=num.to_numpy(dtype=float), vmin=-vmax, vmax=vmax, axis=None
        ).set_caption(f"Standardized coefficients on {self.target_name}. {SIGNIFICANCE}")


def _normalise_index(obj: pd.Series | pd.DataFrame, *, name: str, panel: bool | None) -> Any:
    """Copy with string unit ids and integer years; ``panel=None`` accepts either index kind."""
    out = obj.copy()
    idx = out.index
    if isinstance(idx, pd.MultiIndex):
        if idx.nlevels != 2:
            raise InputError(
                f"{name} must be indexed by (unit, year) or by unit; it has the index levels "
                f"{list(idx.names)}"
            )
        out.index = val.normalise_panel_index(idx, name=name)
    else:
        if panel:
            raise InputError(
                f"{name} must be indexed by (unit, year); it has the index {list(idx.names)}. "
                "Use .set_index(['unit', 'year'])."
            )
        out.index = pd.Index(
            val.normalise_ids(idx, name=f"{name} unit").to_numpy(), dtype=object, name="unit"
        )
    dup = out.index[out.index.duplicated(keep=False)]
    if len(dup):
        raise InputError(
            f"{name} has {len(set(dup))} duplicated index label(s): {format_ids(set(dup))}; keep "
            "one row each"
        )
    return out


def _align(obj: Any, index: pd.MultiIndex, *, name: str) -> Any:
    """``obj`` on the (unit, year) ``index``: per-unit input is broadcast over the years."""
    units = index.get_level_values("unit")
    have = obj.index.get_level_values("unit") if isinstance(obj.index, pd.MultiIndex) else obj.index
    missing_units = sorted(set(units) - set(have))
    if missing_units:
        raise InputError(
            f"{len(missing_units)} unit(s) of the target are not in {name}: "
            f"{format_ids(missing_units)}. "
            f"Add them to {name} or restrict the target to the units that have {name}."
        )
    if isinstance(obj.index, pd.MultiIndex):
        absent = index.difference(obj.index)
        if len(absent):
            raise InputError(
                f"{len(absent)} (unit, year) row(s) of the target are not in {name}: "
                f"{format_ids(absent)}. "
                f"Add the rows, or pass {name} per unit (index: unit) to use one value for every "
                "year."
            )
        return obj.reindex(index)
    out = obj.reindex(units)
    out.index = index
    return out


def _moments(df: pd.DataFrame, w: np.ndarray | None) -> tuple[pd.Series, pd.Series]:
    """Means and standard deviations (sample sd with ddof=1; weighted: sum w (x - m)^2 / sum w)."""
    if w is None:
        return df.mean(), df.std(ddof=1)
    ws = w / w.sum()
    mean = pd.Series(ws @ df.to_numpy(), index=df.columns)
    var = pd.Series(ws @ (df.to_numpy() - mean.to_numpy()) ** 2, index=df.columns)
    return mean, np.sqrt(var)


def _flat(sd: float, mean: float) -> bool:
    return not np.isfinite(sd) or sd <= 1e-12 * max(1.0, abs(mean))


def drivers(
    target: pd.Series,
    candidates: pd.DataFrame,
    *,
    periods: Sequence[tuple[int, int]] | None = None,
    obs_weights: pd.Series | None = None,
    cov_type: CovType = "robust",
    columns: Sequence[str] | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
) -> DriversResults:
    """Standardized (beta) coefficients of candidate drivers of attractiveness, by period.

    Parameters
    ----------
    target : pandas.Series
        Attractiveness (e.g. ``geoattr.attractiveness(fit)["residual"]``) or net
        migration, indexed by (unit, year).
    candidates : pandas.DataFrame
        Candidate factors, numeric, indexed by (unit, year) or by unit (one value per
        unit, used for every year).  Units (and, for a panel, unit-years) of the target
        must all be present; extra rows are ignored.
    periods : sequence of (int, int), optional
        Inclusive year ranges; one regression per period, pooled over its years.
        Default: one period covering all the target's years.  Every year of a period
        must be in the target.
    obs_weights : pandas.Series, optional
        Positive observation weights (e.g. population), indexed like ``candidates``:
        weighted least squares, and the means and standard deviations used to
        standardize are weighted too.  Default: ordinary least squares.
    cov_type : {"robust", "clustered", "unadjusted", "driscoll-kraay"}, default "robust"
        Covariance of the coefficients (see :meth:`geoattr.models.ols.LeastSquares.fit`);
        ``clustered`` clusters by unit, which suits periods pooled over several years.
    columns : sequence of str, optional
        Which columns of ``candidates`` to use (default: all).
    on_missing : {"raise", "drop"}, default "raise"
        Missing target, candidate or weight values in a period's sample: raise naming
        the rows, or leave those observations out (listed in ``excluded``, with a
        :class:`~geoattr.exceptions.DroppedRowsWarning`).

    Returns
    -------
    DriversResults

    Notes
    -----
    Within each period's sample the target and every candidate are centred and divided
    by their standard deviation (sample sd, ``ddof=1``; weighted moments with
    ``obs_weights``), and least squares of the z-scored target on the z-scored candidates
    gives ``beta_k = b_k * sd(x_k) / sd(y)``, where ``b_k`` is the slope of the same
    regression on the raw variables.  Standard errors are those of the standardized
    regression, i.e. ``se(b_k) * sd(x_k) / sd(y)`` (least squares and its sandwich
    covariances are equivariant to rescaling), so t and p equal those of ``b_k``.
    Per-unit candidates repeated over the years of a pooled period are standardized
    over the pooled unit-years.
    """
    if not isinstance(target, pd.Series):
        raise TypeError(
            f"target must be a pandas Series indexed by (unit, year), {type(target).__name__} was "
            "given instead"
        )
    if not isinstance(candidates, pd.DataFrame):
        raise TypeError(
            f"candidates must be a pandas DataFrame, {type(candidates).__name__} was given instead"
        )
    if on_missing not in ("raise", "drop"):
        raise ValueError(f"on_missing must be 'raise' or 'drop', got {on_missing!r}")
    target_name = str(target.name) if target.name is not None else "target"
    y_all = _normalise_index(target, name="target", panel=True)
    val.require_numeric(y_all.to_frame("target"), ["target"], table="target")
    y_all = pd.to_numeric(y_all).astype(float)
    cand, cols = _check_candidates(candidates, columns)
    w_all = _check_obs_weights(obs_weights)

    years_present = sorted(set(y_all.index.get_level_values("year")))
    if not years_present:
        raise InputError("target is empty")
    plist = _check_periods(periods, years_present)

    results: dict[Period, RegressionResults] = {}
    scales: dict[tuple[str, str], pd.Series] = {}
    excluded: list[dict[str, Any]] = []
    yr = y_all.index.get_level_values("year")
    scale_name = target_name if target_name not in cols else f"{target_name} (target)"
    for s, e in plist:
        lab = _label((s, e))
        frame, warr = _period_sample(cand, y_all[(yr >= s) & (yr <= e)], w_all, lab, on_missing, excluded)
        results[(s, e)], stats = _fit_standardized(
            frame[[_Y, *cols]], warr, cols, (s, e), target_name=target_name, cov_type=cov_type
        )
        for stat, row in stats.rename(columns={_Y: scale_name}).iterrows():
            scales[(lab, str(stat))] = row
    scale_frame = pd.DataFrame.from_dict(scales, orient="index")
    scale_frame.index = pd.MultiIndex.from_tuples(scale_frame.index, names=["period", "statistic"])
    notes = [
        f"betas: least squares on variables z-scored within each period's sample "
        f"({'weighted' if w_all is not None else 'unweighted'}); {SIGNIFICANCE}"
    ]
    return DriversResults(
        periods=plist,
        terms=cols,
        results=results,
        scales=scale_frame,
        target_name=target_name,
        excluded=pd.DataFrame(excluded, columns=["period", "unit", "year", "reason"]),
        notes=notes,
        options={
            "periods": [list(p) for p in plist],
            "weighted": w_all is not None,
            "cov_type": cov_type,
            "columns": cols,
            "on_missing": on_missing,
        },
    )


def _check_candidates(
    candidates: pd.DataFrame, columns: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """The candidate columns as floats on string unit ids (and integer years)."""
    if columns is None:
        cols = [str(c) for c in candidates.columns]
        cand = candidates.copy()
        cand.columns = cols
    else:
        if isinstance(columns, str):
            raise TypeError(f"columns must be a list of names, not the string {columns!r}")
        cols = list(columns)
        val.require_columns(
            candidates, cols, table="candidates", hint="pass columns= that exist in candidates"
        )
        cand = candidates[cols].copy()
    if not cols:
        raise InputError("candidates has no columns; pass at least one candidate factor")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"candidates has duplicated column name(s) {format_ids(dup)}; rename them")
    if "const" in cols:
        raise InputError("a candidate is called 'const', the name of the constant; rename it")
    val.require_numeric(cand, cols, table="candidates")
    cand = cand.apply(pd.to_numeric).astype(float)
    return _normalise_index(cand, name="candidates", panel=None), cols


def _check_obs_weights(obs_weights: pd.Series | None) -> pd.Series | None:
    if obs_weights is None:
        return None
    if not isinstance(obs_weights, pd.Series):
        raise TypeError(
            f"obs_weights must be a pandas Series, {type(obs_weights).__name__} was given instead"
        )
    w_all = _normalise_index(obs_weights, name="obs_weights", panel=None)
    val.require_numeric(w_all.to_frame("obs_weights"), ["obs_weights"], table="obs_weights")
    return pd.to_numeric(w_all).astype(float)


def _period_sample(
    cand: pd.DataFrame,
    y: pd.Series,
    w_all: pd.Series | None,
    lab: str,
    on_missing: str,
    excluded: list[dict[str, Any]],
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The period's target and candidates without missing values (appended to ``excluded``)."""
    frame = _align(cand, y.index, name="candidates")
    frame[_Y] = y
    if w_all is not None:
        frame[_W] = _align(w_all, y.index, name="obs_weights")
    miss = frame.isna().any(axis=1)
    if miss.any():
        detail = "; ".join(
            f"{_public(c)}: {format_ids(frame.index[frame[c].isna()])}"
            for c in frame.columns
            if frame[c].isna().any()
        )
        if on_missing == "raise":
            raise InputError(
                f"drivers period {lab}: {int(miss.sum())} observation(s) have missing values "
                f"({detail}). "
                "Fill them, or pass on_missing='drop' to leave them out (they are listed in "
                "the results)."
            )
        isna = frame[miss].isna()
        for (u, t), row in isna.iterrows():
            excluded.append(
                {
                    "period": lab,
                    "unit": u,
                    "year": int(t),
                    "reason": "missing " + ", ".join(_public(c) for c in frame.columns if row[c]),
                }
            )
        warnings.warn(
            f"drivers period {lab}: {int(miss.sum())} observation(s) with missing values left "
            "out "
            f"({detail})",
            DroppedRowsWarning,
            stacklevel=3,
        )
        frame = frame[~miss]
    warr = None
    if w_all is not None:
        warr = frame.pop(_W).to_numpy()
        bad = frame.index[warr <= 0]
        if len(bad):
            raise InputError(
                f"obs_weights must be positive; {len(bad)} zero or negative value(s) at "
                f"{format_ids(bad)}"
            )
    return frame, warr


def _fit_standardized(
    data: pd.DataFrame,
    warr: np.ndarray | None,
    cols: list[str],
    period: Period,
    *,
    target_name: str,
    cov_type: CovType,
) -> tuple[RegressionResults, pd.DataFrame]:
    """Least squares of the z-scored target on the z-scored candidates; and the moments."""
    lab = _label(period)
    mean, sd = _moments(data, warr)
    flat = [c for c in cols if _flat(sd[c], mean[c])]
    if flat:
        raise InputError(
            f"drivers period {lab}: candidate(s) {format_ids(flat)} do not vary in the sample "
            "(zero variance), so they have no standardized coefficient; drop them or use a "
            "longer period"
        )
    if _flat(sd[_Y], mean[_Y]):
        raise InputError(
            f"drivers period {lab}: the target does not vary in the sample (zero variance)"
        )
    z = (data - mean) / sd
    Xz = pd.concat([pd.Series(1.0, index=z.index, name="const"), z[cols]], axis=1)
    design = Design(
        y=z[_Y].rename("y"),
        X=Xz,
        population=pd.Series(1.0 if warr is None else warr, index=z.index, name="population"),
        spec="drivers",
        unit_level="unit",
        years=period,
        notes=[f"standardized coefficients of {target_name} on {', '.join(cols)}, {lab}"],
        accounting=Accounting(),
    )
    try:
        res = LeastSquares(design, obs_weights=warr).fit(cov_type=cov_type)
    except InputError as err:
        raise InputError(f"drivers period {lab}: {err}") from err
    return res, pd.DataFrame([mean, sd], index=["mean", "sd"])


def _check_periods(
    periods: Sequence[tuple[int, int]] | None, years_present: list[int]
) -> list[Period]:
    if periods is None:
        return [(int(years_present[0]), int(years_present[-1]))]
    if (
        isinstance(periods, tuple)
        and len(periods) == 2
        and all(isinstance(v, (int, np.integer)) for v in periods)
    ):
        raise TypeError(
            f"periods must be a list of (start, end) pairs; wrap a single period as [{periods!r}]"
        )
    out: list[Period] = []
    have = set(years_present)
    for p in periods:
        s, e = val.number_pair(p, what="each period must be a (start, end) pair of years", cast=int)
        if s > e:
            raise InputError(
                f"period {p!r} starts after it ends; give (start, end) with start <= end"
            )
        absent = [t for t in range(s, e + 1) if t not in have]
        if absent:
            raise InputError(
                f"period {s}-{e}: year(s) {format_ids(absent)} are absent from the target, which "
                "has years "
                f"{years_present[0]}-{years_present[-1]} ({len(years_present)} years); choose "
                "periods inside them"
            )
        out.append((s, e))
    if not out:
        raise InputError(
            "periods is empty; pass at least one (start, end) pair or None for all years"
        )
    dup = sorted({_label(p) for p in out if out.count(p) > 1})
    if dup:
        raise InputError(f"periods lists {format_ids(dup)} more than once")
    return out
