"""Placebo commuting: the commuting matrix's rows permuted across units.

Unit *i* gets the commuting pattern of another unit; where the true specification's fit
and coefficients fall in the distribution of the permuted fits says whether *where people
commute* carries information.  On a balanced design whose commuting terms are all VRA,
the commuting-weighted columns of the design are permuted directly (the fast path);
otherwise the design is rebuilt from permuted flows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.models.least_squares import LeastSquaresFit, least_squares
from geoattr.robustness.executor import STREAMS, replication_rng
from geoattr.robustness.results import VRA_SUM, sum_draws
from geoattr.robustness.state import BatteryState, replace_flows
from geoattr.variables import Design, build_design

__all__ = ["permuted_flows", "placebo_positions", "placebo_design", "placebo_chunk", "placebo_summary"]


def placebo_positions(d: Design, est_units: pd.Index) -> np.ndarray | None:
    """Row of each (estimation unit, year) in the design; None when the design is unbalanced.

    Parameters
    ----------
    d : Design
    est_units : pandas.Index

    Returns
    -------
    ndarray or None
        Units x years.
    """
    u = est_units.get_indexer(d.y.index.get_level_values("unit"))
    years = np.arange(d.years[0], d.years[1] + 1)
    t = np.searchsorted(years, d.y.index.get_level_values("year"))
    pos = np.full((len(est_units), len(years)), -1)
    pos[u, t] = np.arange(len(u))
    return None if (pos < 0).any() else pos


def permuted_flows(flows: pd.DataFrame, units: pd.Index, perm: np.ndarray) -> pd.DataFrame:
    """Commuting flows with the rows permuted: unit ``units[i]`` gets the flows of ``units[perm[i]]``.

    Destinations are unchanged, so unit *i*'s commuting-weighted growth becomes that of
    unit ``perm[i]``.

    Parameters
    ----------
    flows : pandas.DataFrame
        Columns ``year, origin, destination, count``.
    units : pandas.Index
        All units.
    perm : ndarray of int
        A permutation of ``range(len(units))``.

    Returns
    -------
    pandas.DataFrame
        A new table (the input is not modified).
    """
    perm = np.asarray(perm)
    if sorted(perm.tolist()) != list(range(len(units))):
        raise InputError("perm must be a permutation of range(len(units))")
    mapping = pd.Series(np.asarray(units, dtype=object), index=np.asarray(units, dtype=object)[perm])
    out = flows.copy()
    out["origin"] = out["origin"].map(mapping).to_numpy()
    return out.sort_values(["year", "origin", "destination"]).reset_index(drop=True)


def placebo_design(state: BatteryState, perm: np.ndarray) -> np.ndarray:
    """Return the estimation design's X with the commuting matrix rows permuted by ``perm``.

    Parameters
    ----------
    state : BatteryState
    perm : ndarray of int
        A permutation of the estimation units.

    Returns
    -------
    ndarray
    """
    X = state.problem.X
    if state.placebo_fast:
        pos = state.placebo_pos
        Xp = X.copy()
        cols = state.placebo_cols
        Xp[np.ix_(pos.ravel(), cols)] = X[np.ix_(pos[perm].ravel(), cols)]
        return Xp
    data = replace_flows(state.est_data, permuted_flows(state.est_data.flows, state.est_units, perm))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoattrWarning)
        d = build_design(data, state.spec, years=state.years, commuting_year=state.commuting_year,
                         **state.design_opts)
    return d.X.reindex(state.est_design.X.index).to_numpy(float)


def placebo_chunk(state: BatteryState, reps: Sequence[int]) -> np.ndarray:
    """Coefficients, R² and log-likelihood of placebo replications ``reps`` (NaN when collinear).

    Parameters
    ----------
    state : BatteryState
    reps : sequence of int
        Replication numbers.

    Returns
    -------
    ndarray
        ``len(reps) x (k + 2)``.
    """
    p = state.problem
    out = np.full((len(reps), p.k + 2), np.nan)
    for i, r in enumerate(reps):
        perm = replication_rng(state.seed, STREAMS["placebo"], r).permutation(len(state.est_units))
        Xp = placebo_design(state, perm)
        try:
            f = least_squares(Xp, p.y, obs_weights=p.obs_weights, cov_type=None)
        except np.linalg.LinAlgError:
            continue
        out[i, : p.k] = f.params
        out[i, p.k:] = (f.r2, f.loglik)
    return out


def _p_value(stat: str, v: np.ndarray, o: float) -> float:
    R = len(v)
    if stat in ("r2", "loglik"):
        return (1 + (v >= o).sum()) / (1 + R)
    return min(1.0, 2 * min(1 + (v >= o).sum(), 1 + (v <= o).sum()) / (1 + R))


def placebo_summary(P: np.ndarray, terms: list[str], base: LeastSquaresFit, *,
                    alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where the observed fit falls among the placebo fits.

    Parameters
    ----------
    P : ndarray
        Replications x (coefficients, ``r2``, ``loglik``), as :func:`placebo_chunk` stacked.
    terms : list of str
        Coefficient names.
    base : LeastSquaresFit
        The observed (baseline) fit.
    alpha : float
        ``(1 - level) / 2``: tail of the percentile intervals.

    Returns
    -------
    placebo : pandas.DataFrame
        Index statistic: ``observed``, ``placebo_mean``, ``placebo_sd``, ``lower``,
        ``upper``, ``percentile``, ``p_value``, ``n``.
    draws : pandas.DataFrame
        Replications x statistics (with ``vra_sum``).
    """
    draws = sum_draws(pd.DataFrame(P, columns=terms + ["r2", "loglik"],
                                   index=pd.RangeIndex(len(P), name="replication")))
    good = draws.dropna()
    obs = pd.concat([pd.Series(base.params, index=terms), pd.Series({"r2": base.r2, "loglik": base.loglik})])
    if "vra_sum" in draws.columns:
        obs["vra_sum"] = obs[list(VRA_SUM)].sum()
    order = ["r2", "loglik"] + terms + (["vra_sum"] if "vra_sum" in obs.index else [])
    rows = {}
    for stat in order:
        v = good[stat].to_numpy()
        o = float(obs[stat])
        rows[stat] = {"observed": o, "placebo_mean": float(v.mean()), "placebo_sd": float(v.std(ddof=1)),
                      "lower": float(np.quantile(v, alpha)), "upper": float(np.quantile(v, 1 - alpha)),
                      "percentile": float(100 * (v < o).mean()), "p_value": float(_p_value(stat, v, o)),
                      "n": len(good)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("statistic"), draws
