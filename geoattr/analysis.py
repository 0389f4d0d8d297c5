"""Analyses a careful researcher adds to the attractiveness model.

* :func:`subgroups`: the same model for net migration by sex, age group or period;
* :func:`prediction_intervals`: a prediction interval for every unit and year;
* :func:`shrunken_attractiveness`: empirical-Bayes attractiveness that pulls noisy
  (small) units toward zero, with rankings on either;
* :func:`persistence`: persistent (unit mean) and transitory parts of attractiveness,
  with Wooldridge's test of serial correlation;
* :func:`regimes`: coefficients that differ by (centrality) class, with a Chow test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.models.ols import AttractivenessResults, LeastSquares, estimate
from geoattr.models.panel import HypothesisTest
from geoattr.models.results import RegressionResults
from geoattr.models.vra_sum import coefficient_table
from geoattr.variables import Design, build_design

__all__ = [
    "AGE_GROUPS",
    "subgroups",
    "prediction_intervals",
    "shrunken_attractiveness",
    "persistence",
    "Persistence",
    "regimes",
    "RegimeResults",
]

#: Age groups of the subgroup analysis (MODEL.md), label -> (first age, last age).
AGE_GROUPS: dict[str, tuple[int, int]] = {
    "0-5": (0, 5), "6-17": (6, 17), "18-29": (18, 29), "30-39": (30, 39),
    "40-49": (40, 49), "50-59": (50, 59), "60+": (60, 200),
}


def subgroups(
    data: PanelData,
    spec: str | Sequence[str] = "2022",
    *,
    groups: Mapping[str, str] | None = None,
    periods: Sequence[tuple[int, int]] | None = None,
    vra_sum: bool = False,
    total: AttractivenessResults | None = None,
    **estimate_options: Any,
) -> pd.DataFrame:
    """Estimate the model for subgroups of net migration and for sub-periods.

    Parameters
    ----------
    data : PanelData
    spec : str or list of terms, default "2022"
    groups : mapping label -> panel column, optional
        Net migration of each group in persons (e.g. ``{"sex:female":
        "net_migration__female"}``).  Default: every panel column named
        ``net_migration__<group>``.  Each group's ``y`` is ``100 * NM_group / P`` (the
        total population), so the group coefficients add up to the total's.
    periods : list of (first, last), optional
        Sub-periods for the total (e.g. first and second half of the years).
    vra_sum : bool, default False
        Add a row ``term = "vra_sum"`` after the last VRA term of each subgroup: the sum
        of the ``vra``, ``vra_l1`` and ``vra_l2`` coefficients with its standard error
        ``sqrt(a' V a)`` from the covariance (:func:`geoattr.models.vra_sum.linear_combination`).
    total : AttractivenessResults, optional
        The total's fit when it is already estimated (a run's main model): used for the
        ``total`` rows, instead of estimating it again, when it was estimated on ``data``
        (the same object) with ``spec`` and the same options (``years`` given explicitly;
        every other option equal to ``estimate_options`` or its default) and no
        ``regions=`` other than the data's; otherwise the total is estimated as usual.
    **estimate_options
        Passed to :func:`geoattr.estimate` (``unit_level``, ``years``, ``obs_weights``...).

    Returns
    -------
    pandas.DataFrame
        The pooled-model layout with a leading ``subgroup`` column: ``subgroup, spec,
        level, term, estimate, std_error, t, p`` (plus ``nobs`` and ``r2``); with
        ``vra_sum`` also the rows of term ``"vra_sum"``.
    """
    if groups is None:
        groups = {c.split("__", 1)[1]: c for c in data.panel.columns if c.startswith("net_migration__")}
    missing = [c for c in groups.values() if c not in data.panel.columns]
    if missing:
        raise InputError(f"subgroup column(s) {missing} are not in the panel; it has {list(data.panel.columns)}")
    runs: list[tuple[str, dict[str, Any]]] = [("total", {})]
    runs += [(label, {"dependent": col}) for label, col in groups.items()]
    for lo, hi in periods or []:
        runs.append((f"period:{lo}-{hi}", {"years": (lo, hi)}))
    rows = []
    for label, extra in runs:
        opts = {**estimate_options, **extra}
        fit = total if label == "total" and _same_fit(total, data, spec, opts) else estimate(data, spec, **opts)
        if vra_sum:
            f = coefficient_table({label: fit.results}, key="subgroup")[["term", "estimate", "std_error", "t", "p"]]
        else:
            f = fit.results.to_frame().reset_index()[["term", "estimate", "std_error", "t", "p"]]
        f.insert(0, "level", fit.unit_level)
        f.insert(0, "spec", fit.spec)
        f.insert(0, "subgroup", label)
        f["nobs"] = fit.results.nobs
        f["r2"] = fit.results.rsquared
        rows.append(f)
    return pd.concat(rows, ignore_index=True)


#: Defaults of :func:`geoattr.estimate` recorded in a fit's options.
_ESTIMATE_DEFAULTS: dict[str, Any] = {"commuting_year": "same", "obs_weights": None, "cov_type": "clustered"}


def _same_fit(fit: AttractivenessResults | None, data: PanelData, spec: str | Sequence[str],
              opts: Mapping[str, Any]) -> bool:
    """Whether ``estimate(data, spec, **opts)`` would give ``fit`` (explicit years; no regions= option)."""
    if fit is None or fit.unit_data is not data or opts.get("years") is None or opts.get("regions") is not None:
        return False
    want = {**_ESTIMATE_DEFAULTS, **{k: v for k, v in opts.items() if k != "unit_level"}, "spec": spec,
            "years": [int(y) for y in opts["years"]]}
    have = {**fit.options, "years": [int(y) for y in fit.options["years"]]}
    return fit.unit_level == opts.get("unit_level", "municipality") and want == have


def prediction_intervals(
    fit: AttractivenessResults, *, level: float = 0.95, by_population: bool = True
) -> pd.DataFrame:
    """Prediction interval of net migration for every unit and year.

    The prediction error variance of unit *i* in year *t* is ``s2_i + x' V x``: the
    parameter uncertainty ``x' V x`` (``V`` the estimated covariance) plus the
    residual variance ``s2_i`` of the unit-level residuals.  With ``by_population``
    the residual variance is modelled as ``a + b / P`` (least squares of the squared
    residuals on ``1/P``, clipped to positive values), because net migration rates of
    small populations are noisier; otherwise a single ``s2``.

    Parameters
    ----------
    fit : AttractivenessResults
    level : float, default 0.95
    by_population : bool, default True

    Returns
    -------
    pandas.DataFrame
        Index (unit, year); ``actual, expected, se, lower, upper, outside`` where
        ``outside`` flags actual values outside the interval.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    d = fit.unit_design
    params = fit.results.params
    terms = [t for t in params.index if t in d.X.columns]
    X = d.X[terms].to_numpy()
    V = fit.results.cov.loc[terms, terms].to_numpy()
    param_var = np.einsum("ij,jk,ik->i", X, V, X)
    expected = X @ params[terms].to_numpy()
    resid = d.y.to_numpy() - expected
    n, k = X.shape
    if by_population:
        inv_p = 1.0 / d.population.to_numpy()
        A = np.column_stack([np.ones(n), inv_p])
        coef = np.linalg.lstsq(A, resid**2, rcond=None)[0]
        s2 = np.clip(A @ coef, np.mean(resid**2) * 1e-3, None) * n / max(n - k, 1)
    else:
        s2 = np.full(n, resid @ resid / max(n - k, 1))
    se = np.sqrt(s2 + param_var)
    q = stats.norm.ppf(0.5 + level / 2)
    out = pd.DataFrame(
        {"actual": d.y.to_numpy(), "expected": expected, "se": se, "lower": expected - q * se,
         "upper": expected + q * se},
        index=d.y.index,
    )
    out["outside"] = (out["actual"] < out["lower"]) | (out["actual"] > out["upper"])
    return out


def shrunken_attractiveness(att: pd.DataFrame, *, years: tuple[int, int] | None = None) -> pd.DataFrame:
    """Empirical-Bayes (shrunken) mean attractiveness per unit.

    Model: a unit's mean residual ``m_i`` over ``T_i`` years is its true
    attractiveness ``a_i ~ N(0, tau2)`` plus noise with variance ``v_i = s2_i / T_i``,
    where ``s2_i`` is the unit's within-unit residual variance, smoothed across units
    by the least-squares fit ``log s2_i = c0 + c1 log P_i`` (mean population) so that
    one noisy year does not decide a unit's reliability.  ``tau2`` is the method-of-
    moments estimate ``max(0, var(m) - mean(v))``.  The shrunken attractiveness is
    ``m_i * tau2 / (tau2 + v_i)``.

    Parameters
    ----------
    att : pandas.DataFrame
        Output of :func:`geoattr.attractiveness` (needs ``residual`` and ``population``).
    years : (int, int), optional
        Period; default all years.

    Returns
    -------
    pandas.DataFrame
        Index unit; ``mean_residual, sampling_var, reliability, shrunken, n_years,
        rank_raw, rank_shrunken`` (rank 1 = most attractive), with ``tau2`` in
        ``.attrs``.
    """
    for c in ("residual", "population"):
        if c not in att.columns:
            raise InputError(f"attractiveness table lacks {c!r}; pass geoattr.attractiveness() output")
    a = att
    if years is not None:
        yr = a.index.get_level_values("year")
        a = a[(yr >= years[0]) & (yr <= years[1])]
    g = a.groupby(level="unit")
    T = g["residual"].size()
    if (T < 2).any():
        raise InputError(
            f"{int((T < 2).sum())} unit(s) have fewer than 2 years, so their noise cannot be estimated: "
            f"{format_ids(T.index[T < 2])}"
        )
    m = g["residual"].mean()
    s2 = g["residual"].var(ddof=1).clip(lower=1e-12)
    pop = g["population"].mean()
    A = np.column_stack([np.ones(len(s2)), np.log(pop.to_numpy())])
    c = np.linalg.lstsq(A, np.log(s2.to_numpy()), rcond=None)[0]
    # E[log chi2_{T-1}/(T-1)] < 0: correct the log-scale bias with the mean of exp(resid)
    fit_log = A @ c
    smear = np.mean(np.exp(np.log(s2.to_numpy()) - fit_log))
    s2_smooth = np.exp(fit_log) * smear
    v = pd.Series(s2_smooth, index=s2.index) / T
    tau2 = max(0.0, float(m.var(ddof=1) - v.mean()))
    rel = tau2 / (tau2 + v)
    out = pd.DataFrame({"mean_residual": m, "sampling_var": v, "reliability": rel, "shrunken": m * rel,
                        "n_years": T})
    out["rank_raw"] = out["mean_residual"].rank(ascending=False, method="min").astype(int)
    out["rank_shrunken"] = out["shrunken"].rank(ascending=False, method="min").astype(int)
    out.attrs["tau2"] = tau2
    return out


@dataclass(frozen=True)
class Persistence:
    """Persistent and transitory attractiveness and the serial-correlation test.

    Returned by :func:`persistence`.

    Attributes
    ----------
    table : pandas.DataFrame
        Index (unit, year); ``residual``, ``persistent`` (the unit's mean),
        ``transitory`` (residual minus the mean).
    persistent_share : float
        Share of the residual variance due to the persistent part.
    serial_correlation : HypothesisTest
        Wooldridge's test: in the regression of first-differenced residuals on their
        lag, the coefficient is -0.5 without serial correlation (F(1, G-1) with
        unit-clustered errors).
    ar1 : float
        The estimated coefficient of that regression.
    """

    table: pd.DataFrame
    persistent_share: float
    serial_correlation: HypothesisTest
    ar1: float


def persistence(att: pd.DataFrame) -> Persistence:
    """Split attractiveness into a persistent and a transitory part and test serial correlation.

    Parameters
    ----------
    att : pandas.DataFrame
        Output of :func:`geoattr.attractiveness` (needs ``residual``).

    Returns
    -------
    Persistence
    """
    if "residual" not in att.columns:
        raise InputError("attractiveness table lacks 'residual'; pass geoattr.attractiveness() output")
    r = att["residual"].sort_index()
    persistent = r.groupby(level="unit").transform("mean")
    table = pd.DataFrame({"residual": r, "persistent": persistent, "transitory": r - persistent})
    share = float(persistent.var(ddof=0) / r.var(ddof=0)) if r.var(ddof=0) > 0 else float("nan")
    dr = r.groupby(level="unit").diff()
    lag = dr.groupby(level="unit").shift(1)
    ok = dr.notna() & lag.notna()
    if ok.sum() < 3:
        raise InputError("Wooldridge's test needs at least 3 years per unit")
    yv, xv = dr[ok].to_numpy(), lag[ok].to_numpy()
    b = float(xv @ yv / (xv @ xv))
    e = yv - b * xv
    units = dr[ok].index.get_level_values("unit")
    scores = pd.Series(xv * e).groupby(np.asarray(units)).sum().to_numpy()
    G = len(scores)
    var_b = G / (G - 1) * (scores @ scores) / (xv @ xv) ** 2
    F = (b + 0.5) ** 2 / var_b
    test = HypothesisTest(
        name="Wooldridge serial correlation", statistic=float(F), df=1.0,
        pvalue=float(stats.f.sf(F, 1, G - 1)), null="no serial correlation in the residuals", distribution="F(1, G-1)",
    )
    return Persistence(table=table, persistent_share=share, serial_correlation=test, ar1=b)


@dataclass(frozen=True)
class RegimeResults:
    """Regime-specific coefficients and Chow tests.

    Attributes
    ----------
    results : RegressionResults
        The interacted model; terms are named ``<term>[<regime>]``.
    coefficients : pandas.DataFrame
        Terms x regimes of estimates.
    chow : HypothesisTest
        Joint test that every coefficient (constant included) is the same in all regimes.
    chow_by_term : pandas.DataFrame
        One Wald test per term: statistic, df, pvalue.
    """

    results: RegressionResults
    coefficients: pd.DataFrame
    chow: HypothesisTest
    chow_by_term: pd.DataFrame


def _wald(params: np.ndarray, cov: np.ndarray, R: np.ndarray) -> tuple[float, int]:
    d = R @ params
    W = float(d @ np.linalg.solve(R @ cov @ R.T, d))
    return W, R.shape[0]


def regimes(
    data: PanelData,
    spec: str | Sequence[str] = "2022",
    *,
    regime: pd.Series,
    cov_type: str = "clustered",
    obs_weights: Literal["population"] | None = None,
    **design_options: Any,
) -> RegimeResults:
    """Coefficients that differ by regime (e.g. centrality class) with a Chow-type test.

    Every term (constant included) is interacted with the regime dummies; the Chow
    test is the Wald test that the coefficients are equal across regimes, computed
    with the chosen covariance (unit-clustered by default, so it is robust to
    heteroskedasticity and serial correlation), reported as ``F = W / q`` with
    ``(q, n - k)`` degrees of freedom.

    Parameters
    ----------
    data : PanelData
    spec : str or list of terms
    regime : pandas.Series
        Unit -> regime label (e.g. centrality class 1-6, the least central merged).
    cov_type : str, default "clustered"
    obs_weights : {None, "population"}, default None
        ``"population"``: population-weighted least squares.
    **design_options
        Passed to :func:`geoattr.variables.build_design`.

    Returns
    -------
    RegimeResults
    """
    val.population_weighted(obs_weights)
    d = build_design(data, spec, **design_options)
    units = d.y.index.get_level_values("unit")
    reg = pd.Series(regime).copy()
    reg.index = reg.index.astype(str)
    missing = sorted(set(units) - set(reg.index))
    if missing:
        raise InputError(f"{len(missing)} unit(s) have no regime: {format_ids(missing)}")
    labels = reg.reindex(units).astype(str).to_numpy()
    levels = sorted(set(labels))
    if len(levels) < 2:
        raise InputError(f"regimes need at least two classes; got {levels}")
    cols = {}
    for r in levels:
        m = (labels == r).astype(float)
        for t in d.X.columns:
            cols[f"{t}[{r}]"] = d.X[t].to_numpy() * m
    X = pd.DataFrame(cols, index=d.y.index)
    res = LeastSquares(Design(y=d.y, X=X, population=d.population, spec=d.spec, unit_level=d.unit_level, years=d.years,
                              notes=d.notes, accounting=d.accounting), obs_weights=obs_weights).fit(cov_type=cov_type)
    names = list(X.columns)
    p = res.params.to_numpy()
    V = res.cov.to_numpy()
    rows_all = []
    by_term = {}
    for j, t in enumerate(d.X.columns):
        rows = []
        for r in levels[1:]:
            row = np.zeros(len(names))
            row[names.index(f"{t}[{levels[0]}]")] = 1.0
            row[names.index(f"{t}[{r}]")] = -1.0
            rows.append(row)
        R = np.array(rows)
        W, q = _wald(p, V, R)
        by_term[t] = {"statistic": W / q, "df": q, "pvalue": float(stats.f.sf(W / q, q, res.df_resid))}
        rows_all += rows
    W, q = _wald(p, V, np.array(rows_all))
    chow = HypothesisTest(name="Chow (Wald)", statistic=W / q, df=q, pvalue=float(stats.f.sf(W / q, q, res.df_resid)),
                          null="coefficients equal across regimes", distribution=f"F({q}, {int(res.df_resid)})")
    coef = pd.DataFrame({r: [res.params[f"{t}[{r}]"] for t in d.X.columns] for r in levels}, index=d.X.columns)
    return RegimeResults(results=res, coefficients=coef, chow=chow,
                         chow_by_term=pd.DataFrame.from_dict(by_term, orient="index"))
