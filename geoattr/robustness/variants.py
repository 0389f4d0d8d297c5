"""Re-estimated variants: leave one year / region out, other commuting weights, other estimators.

Each variant is the baseline with one choice changed, fitted with the baseline's
covariance, and returned as a :class:`~geoattr.robustness.results.VariantFit` that also
carries the units' cumulative attractiveness under the variant's coefficients.

* **loyo** / **loro**: the estimation design without one year / one region (the
  regressors of the remaining observations are unchanged);
* **weights**: another commuting matrix (one fixed year), minimum-share thresholds,
  top-k destinations, the diagonal toggled, contiguity in place of commuting
  (:func:`contiguity_flows`);
* **estimators**: year effects toggled, population weights toggled, the other estimation
  level, unit fixed effects, a spatial lag of the dependent variable.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr import weights as gw
from geoattr._docstrings import fill_doc
from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.weights.lag import spatial_lag
from geoattr.models.least_squares import least_squares
from geoattr.models.ols import LeastSquares, design_weights
from geoattr.models.panel import PANEL_COV_TYPES, fit_panel
from geoattr.models.spatial import fit_spatial
from geoattr.robustness.ranks import UnitSums, unit_sums
from geoattr.robustness.results import VariantFailure, VariantFit
from geoattr.robustness.state import BatteryState, replace_flows
from geoattr.typing import WeightsLike
from geoattr.variables import Design, build_design

__all__ = [
    "ESTIMATORS",
    "contiguity_flows",
    "fit_design",
    "leave_out_fits",
    "weights_variant_specs",
    "estimator_variant_names",
    "run_variant",
]

#: Alternative estimators of the ``estimators`` family.
ESTIMATORS: tuple[str, ...] = ("year_effects", "weighted", "level", "fe", "sar")

_FAST_COV_TYPES = ("clustered", "robust", "unadjusted")

#: Parameters and Returns of the estimator variants :func:`fe_variant` and :func:`sar_variant`.
_STATE_TO_FIT = """Parameters
----------
state : BatteryState
    The battery's designs, data and options.

Returns
-------
VariantFit
    The variant's fit, with the units' cumulative attractiveness under it."""


# --------------------------------------------------------------------------- weights construction
def contiguity_flows(data: PanelData, *, rook: bool = False) -> pd.DataFrame:
    """Commuting-like flows where the cross-border share follows contiguity instead of commuting.

    Each unit keeps its own diagonal share ``w[i,i]`` of each year (those who work where
    they live) and its row total; the rest, ``1 - w[i,i]``, is spread equally over its
    contiguous neighbours (queen, or rook; :func:`geoattr.weights.contiguity`).  Units
    without a neighbour (islands) keep everything on themselves.  Commuting-weighted
    growth built from these flows asks whether *where people commute* matters beyond
    *who is next door*.

    Parameters
    ----------
    data : PanelData
        Needs ``flows`` and ``polygons``.
    rook : bool, default False

    Returns
    -------
    pandas.DataFrame
        Columns ``year, origin, destination, count`` (counts are shares times row totals).
    """
    if data.polygons is None:
        raise InputError("the contiguity variant needs polygons: pass polygons= to PanelData(...)")
    if data.flows is None:
        raise InputError("the contiguity variant needs commuting flows")
    units = data.units
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoattrWarning)
        g = gw.contiguity(data.polygons.loc[units], rook=rook, ids=units)
    adj = g.adjacency
    f_ids, n_ids = adj.index.get_level_values("focal"), adj.index.get_level_values("neighbor")
    keep = (f_ids != n_ids) & (adj.to_numpy() > 0)
    nb = pd.DataFrame({"origin": np.asarray(f_ids[keep], dtype=object),
                       "destination": np.asarray(n_ids[keep], dtype=object)})
    n_nb = nb.groupby("origin").size()
    fl = data.flows
    # every year at once: the same elementwise formulas as one year at a time, so the same numbers
    tot = fl.groupby(["year", "origin"])["count"].sum()
    tot = tot[tot > 0]
    diag = fl.loc[fl["origin"] == fl["destination"]].groupby(["year", "origin"])["count"].sum().reindex(tot.index)
    origins = tot.index.get_level_values("origin")
    d = (diag.fillna(0.0) / tot).where(origins.isin(n_nb.index), 1.0)
    years = tot.index.get_level_values("year").to_numpy().astype("int64")
    own = pd.DataFrame({"year": years, "origin": origins, "destination": origins, "count": (d * tot).to_numpy()})
    spread = pd.DataFrame({"year": years, "origin": np.asarray(origins, dtype=object),
                           "count": ((1 - d) * tot / n_nb.reindex(origins).to_numpy()).to_numpy()})
    e = spread.merge(nb, on="origin", how="inner")
    out = pd.concat([own, e[["year", "origin", "destination", "count"]]], ignore_index=True)
    out = out[out["count"] > 0]
    return out.sort_values(["year", "origin", "destination"]).reset_index(drop=True)


# --------------------------------------------------------------------------- fitting
def fit_design(d: Design, *, obs_weights: Literal["population"] | None, cov_type: str, kind: str, variant: str,
               cumulative: pd.Series | None = None, notes: Sequence[str] = ()) -> VariantFit:
    """Least squares on a design with the baseline's covariance, as a :class:`VariantFit`.

    The kernel (:func:`geoattr.models.least_squares.least_squares`) serves the covariances
    it has; the others go through :class:`geoattr.models.ols.LeastSquares`.

    Parameters
    ----------
    d : Design
    obs_weights : {None, "population"}
        ``"population"``: population-weighted least squares.
    cov_type : str
    kind, variant : str
        Family and name of the variant.
    cumulative : pandas.Series, optional
        The units' cumulative attractiveness (see :class:`VariantFit`).
    notes : sequence of str

    Returns
    -------
    VariantFit
    """
    model = "ols" if obs_weights is None else "wls"
    if cov_type in _FAST_COV_TYPES:
        return _fit_arrays(d.X.to_numpy(float), d.y.to_numpy(float),
                           None if obs_weights is None else design_weights(d, obs_weights).to_numpy(float),
                           d.y.index.get_level_values("unit").to_numpy(), list(d.X.columns), cov_type=cov_type,
                           kind=kind, variant=variant, cumulative=cumulative, notes=notes)
    r = LeastSquares(d, obs_weights=obs_weights).fit(cov_type=cov_type)
    return VariantFit(kind=kind, variant=variant, cumulative=cumulative, params=r.params, cov=r.cov, nobs=r.nobs,
                      loglik=r.loglik, rsquared=r.rsquared, df_resid=r.df_resid, model=model, cov_type=cov_type,
                      notes=notes)


def _fit_arrays(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, groups: np.ndarray, terms: list[str], *,
                cov_type: str, kind: str, variant: str, cumulative: pd.Series | None = None,
                notes: Sequence[str] = ()) -> VariantFit:
    """The least-squares kernel on arrays (a covariance of ``_FAST_COV_TYPES``), as a :class:`VariantFit`."""
    f = least_squares(X, y, obs_weights=weights, groups=groups, cov_type=cov_type)
    return VariantFit(kind=kind, variant=variant, cumulative=cumulative, params=pd.Series(f.params, index=terms),
                      cov=pd.DataFrame(f.cov, index=terms, columns=terms), nobs=f.nobs, loglik=f.loglik,
                      rsquared=f.r2, df_resid=f.df_resid, model="ols" if weights is None else "wls",
                      cov_type=cov_type, notes=notes)


def _cumulative(state: BatteryState, values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=state.units, name="cumulative")


def _fit_and_rank(state: BatteryState, est: Design, unit: Design, kind: str, variant: str, *,
                  obs_weights: Literal["population", "baseline"] | None = "baseline",
                  notes: Sequence[str] = ()) -> VariantFit:
    """Fit the estimation design, then the units' attractiveness on the unit design.

    ``obs_weights="baseline"`` keeps the baseline's observation weights.
    """
    obs_weights = state.obs_weights if obs_weights == "baseline" else obs_weights
    fit = fit_design(est, obs_weights=obs_weights, cov_type=state.cov_type, kind=kind, variant=variant, notes=notes)
    us = unit_sums(unit, by=state.rank_by, units=state.units)
    return fit.replace(cumulative=_cumulative(state, us.cum_of(fit.params)))


def _designs(state: BatteryState, est_data: PanelData, unit_data: PanelData | None,
             **overrides: Any) -> tuple[Design, Design]:
    opts = {**state.design_opts, **overrides}
    cy = opts.pop("commuting_year", state.commuting_year)
    est = build_design(est_data, state.spec, years=state.years, commuting_year=cy, **opts)
    unit = est if unit_data is None else build_design(unit_data, state.spec, years=state.years,
                                                      commuting_year=cy, **opts)
    return est, unit


# --------------------------------------------------------------------------- leave one out
def _leave_out_masks(state: BatteryState, families: Sequence[str],
                     region_of: pd.Series | None) -> list[tuple[str, str, np.ndarray]]:
    d = state.est_design
    unit_of_row = d.y.index.get_level_values("unit")
    masks: list[tuple[str, str, np.ndarray]] = []
    if "loyo" in families:
        yr = d.y.index.get_level_values("year").to_numpy()
        masks += [("loyo", f"loyo:{t}", yr != t) for t in range(state.years[0], state.years[1] + 1)]
    if "loro" in families:
        reg = unit_of_row if state.unit_level == "region" else unit_of_row.map(region_of)
        reg = np.asarray(reg, dtype=object)
        masks += [("loro", f"loro:{r}", reg != r) for r in sorted(pd.unique(reg), key=str)]
    return masks


def leave_out_fits(state: BatteryState, families: Sequence[str], sums: UnitSums,
                   region_of: pd.Series | None) -> tuple[list[VariantFit], dict[str, str]]:
    """Leave-one-year-out and leave-one-region-out fits of the estimation design.

    A regressor that is zero on every remaining row (a dummy of the left-out year) is
    dropped; it counts as 0 in the units' attractiveness.

    Parameters
    ----------
    state : BatteryState
    families : sequence of str
        ``loyo`` and/or ``loro``.
    sums : UnitSums
        The baseline's unit sums (attractiveness of each fit).
    region_of : pandas.Series, optional
        Unit -> region (municipality-level estimation).

    Returns
    -------
    fits : list of VariantFit
    skipped : dict[str, str]
        Variants that failed, and why.
    """
    d = state.est_design
    X, y, terms = d.X.to_numpy(float), d.y.to_numpy(float), list(d.X.columns)
    groups = d.y.index.get_level_values("unit").to_numpy()
    weights = None if state.obs_weights is None else design_weights(d, state.obs_weights).to_numpy(float)
    fits: list[VariantFit] = []
    skipped: dict[str, str] = {}
    for kind, name, keep in _leave_out_masks(state, families, region_of):
        Xk = X[keep]
        cols = np.flatnonzero(Xk.any(axis=0))
        try:
            if state.cov_type in _FAST_COV_TYPES:  # the kernel on the rows kept: no sub-design to build
                f = _fit_arrays(Xk[:, cols], y[keep], None if weights is None else weights[keep], groups[keep],
                                [terms[i] for i in cols], cov_type=state.cov_type, kind=kind, variant=name)
            else:
                sub = Design(y=d.y[keep], X=d.X[keep].iloc[:, cols], population=d.population[keep], spec=d.spec,
                             unit_level=d.unit_level, years=d.years)
                f = fit_design(sub, obs_weights=state.obs_weights, cov_type=state.cov_type, kind=kind, variant=name)
        except (np.linalg.LinAlgError, InputError, ValueError) as err:
            skipped[name] = f"{type(err).__name__}: {err}"
            continue
        fits.append(f.replace(cumulative=_cumulative(state, sums.cum_of(f.params))))
    return fits, skipped


# --------------------------------------------------------------------------- which variants
def weights_variant_specs(*, commuting_years: Sequence[int] | None, min_shares: Sequence[float],
                          top_ks: Sequence[int], diagonal: bool, contiguity: bool | None,
                          design_opts: Mapping[str, Any], commuting_year: Any, unit_data: PanelData,
                          est_data: PanelData) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
    """Names and design options of the weights variants (those that differ from the baseline).

    Parameters
    ----------
    commuting_years, min_shares, top_ks, diagonal, contiguity
        As in :func:`geoattr.robustness.robustness`.
    design_opts : mapping
        The baseline's design options.
    commuting_year : int or "same"
        The baseline's commuting year.
    unit_data, est_data : PanelData
        The data at the unit and estimation levels.

    Returns
    -------
    specs : list of (str, dict)
    skipped : dict[str, str]
    """
    if unit_data.flows is None:
        raise InputError("the weights variants need commuting flows in the data")
    available = sorted(int(y) for y in pd.unique(est_data.flows["year"]))
    cys = [available[0], available[-1]] if commuting_years is None else [int(y) for y in commuting_years]
    missing = [y for y in cys if y not in available]
    if missing:
        raise InputError(f"commuting_years {format_ids(missing)} have no commuting matrix; available years: "
                         f"{available[0]}-{available[-1]}")
    specs: list[tuple[str, dict[str, Any]]] = [(f"commuting_year={y}", {"commuting_year": y})
                                               for y in dict.fromkeys(cys) if y != commuting_year]
    if commuting_year != "same":
        specs.append(("commuting_year=same", {"commuting_year": "same"}))
    specs += [(f"min_share={s:g}", {"min_share": s}) for s in dict.fromkeys(float(v) for v in min_shares)
              if s != float(design_opts.get("min_share", 0.0))]
    specs += [(f"top_k={k}", {"top_k": k}) for k in dict.fromkeys(int(v) for v in top_ks)
              if k != design_opts.get("top_k")]
    if diagonal:
        inc = bool(design_opts.get("include_diagonal", True))
        specs.append(("no_diagonal" if inc else "with_diagonal", {"include_diagonal": not inc}))
    skipped: dict[str, str] = {}
    if (unit_data.polygons is not None) if contiguity is None else bool(contiguity):
        if unit_data.polygons is None:
            raise InputError("contiguity=True needs polygons in the data: pass polygons= to PanelData(...)")
        specs.append(("contiguity", {"contiguity": True}))
    elif contiguity is None:
        skipped["weights:contiguity"] = "the data have no polygons"
    return specs, skipped


def estimator_variant_names(estimators: Sequence[str], *, design_opts: Mapping[str, Any],
                            obs_weights: Literal["population"] | None,
                            unit_level: str, has_regions: bool) -> tuple[list[str], dict[str, str]]:
    """Names of the estimator variants (each toggles the baseline's choice).

    Parameters
    ----------
    estimators : sequence of str
        From :data:`ESTIMATORS`.
    design_opts : mapping
        The baseline's design options.
    obs_weights : {None, "population"}
        The baseline's observation weights.
    unit_level : str
        The baseline's unit of estimation.
    has_regions : bool
        The data map units to regions.

    Returns
    -------
    names : list of str
    skipped : dict[str, str]
    """
    names: list[str] = []
    skipped: dict[str, str] = {}
    for e in estimators:
        if e == "year_effects":
            names.append("no_year_effects" if design_opts.get("year_effects", False) else "year_effects")
        elif e == "weighted":
            names.append("wls" if obs_weights is None else "ols")
        elif e != "level":
            names.append(e)
        elif unit_level == "region":
            names.append("municipality_level")
        elif not has_regions:
            skipped["estimators:region_level"] = "no unit -> region mapping in the data"
        else:
            names.append("region_level")
    return names, skipped


# --------------------------------------------------------------------------- the variants
def run_variant(state: BatteryState, kind: str, name: str, opts: Mapping[str, Any]) -> VariantFit | VariantFailure:
    """One re-estimated variant; its GeoattrWarnings become notes, its errors a :class:`VariantFailure`.

    Parameters
    ----------
    state : BatteryState
    kind : {"weights", "estimators"}
    name : str
        Name of the variant.
    opts : mapping
        Design options of a weights variant.

    Returns
    -------
    VariantFit or VariantFailure
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        try:
            fit = _weights_variant(state, name, opts) if kind == "weights" else _estimator_variant(state, name)
        except (InputError, np.linalg.LinAlgError, ValueError) as err:
            return VariantFailure(f"{type(err).__name__}: {err}")
    return fit.replace(add_notes=list(dict.fromkeys(f"{name}: {w.message}" for w in caught
                                                    if issubclass(w.category, GeoattrWarning))))


def _weights_variant(state: BatteryState, name: str, opts: Mapping[str, Any]) -> VariantFit:
    unit_data = None if state.unit_level == "municipality" else state.unit_data
    if opts.get("contiguity"):
        est_data = replace_flows(state.est_data, contiguity_flows(state.est_data))
        ud = None if unit_data is None else replace_flows(unit_data, contiguity_flows(unit_data))
        est, unit = _designs(state, est_data, ud)
    else:
        est, unit = _designs(state, state.est_data, unit_data, **opts)
    return _fit_and_rank(state, est, unit, "weights", name)


def _estimator_variant(state: BatteryState, name: str) -> VariantFit:
    unit_data = None if state.unit_level == "municipality" else state.unit_data
    if name in ("year_effects", "no_year_effects"):
        est, unit = _designs(state, state.est_data, unit_data, year_effects=name == "year_effects")
        return _fit_and_rank(state, est, unit, "estimators", name)
    if name in ("wls", "ols"):
        return _fit_and_rank(state, state.est_design, state.unit_design, "estimators", name,
                             obs_weights="population" if name == "wls" else None)
    if name == "municipality_level":
        return _fit_and_rank(state, state.unit_design, state.unit_design, "estimators", name)
    if name == "region_level":
        est, _ = _designs(state, state.unit_data.aggregate(), None)
        return _fit_and_rank(state, est, state.unit_design, "estimators", name, notes=[
            "region_level: estimated on the regions of the data, applied to municipalities"])
    if name == "fe":
        return fe_variant(state)
    if name == "sar":
        return sar_variant(state)
    raise InputError(f"unknown variant {name!r}")


def _time_invariant(X: pd.DataFrame) -> list[str]:
    within = X - X.groupby(level="unit").transform("mean")
    return [c for c in X.columns if within[c].abs().max() < 1e-12]


@fill_doc(state_to_fit=_STATE_TO_FIT)
def fe_variant(state: BatteryState) -> VariantFit:
    """Fit unit fixed effects for the time-varying terms, then the time-invariant ones in a second step.

    The within estimator identifies only the coefficients of regressors that vary within
    units.  Attractiveness needs the others too: they are re-estimated by pooled least
    squares of ``y - X_tv b_tv`` on the time-invariant regressors (constant, centrality),
    whose reported intervals ignore the first step's uncertainty.

    {state_to_fit}
    """
    d = state.est_design
    ti = _time_invariant(d.X)
    tv = [c for c in d.X.columns if c not in ti]
    if not tv:
        raise InputError("no regressor varies within units: nothing for fixed effects to estimate")
    cov_type = state.cov_type if state.cov_type in PANEL_COV_TYPES else "clustered"
    r = fit_panel(d.y, d.X[tv], model="fe", effects="unit", cov_type=cov_type,
                  obs_weights=None if state.obs_weights is None else d.population)
    b_tv = r.params.reindex(tv)
    params = b_tv.copy()
    cov = r.cov.reindex(index=tv, columns=tv)
    notes = list(r.notes)
    if ti:
        rest = (d.y - d.X[tv] @ b_tv).rename("y")
        d2 = Design(y=rest, X=d.X[ti], population=d.population, spec=d.spec, unit_level=d.unit_level, years=d.years)
        f2 = fit_design(d2, obs_weights=state.obs_weights, cov_type=state.cov_type, kind="estimators", variant="fe")
        params = pd.concat([f2.params, b_tv])
        cov = pd.DataFrame(np.zeros((len(params), len(params))), index=params.index, columns=params.index)
        cov.loc[ti, ti] = f2.cov.loc[ti, ti].to_numpy()
        cov.loc[tv, tv] = r.cov.loc[tv, tv].to_numpy()
        notes.append(f"fe: {ti} re-estimated on y - X b_fe by pooled least squares (second step)")
    params = params.reindex([c for c in d.X.columns if c in params.index])
    cov = cov.reindex(index=params.index, columns=params.index)
    us = unit_sums(state.unit_design, by=state.rank_by, units=state.units)
    return VariantFit(kind="estimators", variant="fe", cumulative=_cumulative(state, us.cum_of(params)),
                      params=params, cov=cov, nobs=r.nobs, loglik=r.loglik, rsquared=r.rsquared,
                      df_resid=r.df_resid, model="fe", cov_type=cov_type, notes=notes)


def _commuting_graph(data: PanelData, year: int) -> WeightsLike:
    cw = gw.commuting_by_year(data.flows, [year], ids=data.units)
    return gw.without_diagonal(cw[year])


@fill_doc(state_to_fit=_STATE_TO_FIT)
def sar_variant(state: BatteryState) -> VariantFit:
    """Spatial lag of y with the commuting W (off-diagonal shares, renormalised, last design year).

    Attractiveness is the structural residual ``y - rho W y - X b``.

    {state_to_fit}
    """
    year = state.years[1]
    d = state.est_design
    g = _commuting_graph(state.est_data, year)
    r = fit_spatial(d.y, d.X, g, model="sar")
    params = r.params
    ud = state.unit_design
    gu = g if state.unit_level == "municipality" else _commuting_graph(state.unit_data, year)
    wy = spatial_lag(ud.y.rename("y"), gu)
    om = ud.population / 100.0 if state.rank_by == "residual_persons" else 1.0
    b = params.drop("rho")
    e = (ud.y - float(params["rho"]) * wy - ud.X[b.index] @ b) * om
    cum = e.groupby(level="unit").sum().reindex(state.units).to_numpy()
    notes = [f"sar: W = commuting shares of {year} without the diagonal (rows renormalised); attractiveness is the "
             "structural residual y - rho W y - X b"]
    return VariantFit(kind="estimators", variant="sar", cumulative=_cumulative(state, cum), params=params,
                      cov=r.cov, nobs=r.nobs, loglik=r.loglik, rsquared=r.rsquared, df_resid=r.df_resid,
                      model="sar", cov_type=r.cov_type, dist="normal", notes=notes)
