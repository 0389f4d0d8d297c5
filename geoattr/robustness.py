"""Robustness battery: is the attractiveness ranking an artefact of the choices made.

:func:`robustness` re-estimates the attractiveness model under many alternative choices
and reports how much the coefficients and the ranking of units move:

* **bootstrap** of the coefficients and of the attractiveness ranks: the pairs bootstrap
  clustered by estimation unit (whole units resampled with replacement) and the wild
  cluster bootstrap (Rademacher or Webb weights, one draw per unit), with percentile
  intervals;
* **loyo** / **loro**: leave one year out, leave one region out (re-estimation without
  those observations; the regressors of the remaining observations are unchanged);
* **weights**: another commuting matrix (one fixed year), minimum-share thresholds,
  top-k destinations, with or without the diagonal, and contiguity in place of commuting;
* **estimators**: year effects instead of a constant (or the reverse), weighted instead
  of unweighted least squares (or the reverse), the other estimation level, unit fixed
  effects and a spatial lag of the dependent variable;
* **placebo**: the commuting matrix permuted across units many times (unit *i* gets the
  commuting pattern of another unit); where the true specification's fit and
  coefficients fall in the placebo distribution.

The bootstrap and the placebo never rebuild the design: the design matrix is built once
and the replications resample its clusters (pairs), reweight its cluster scores (wild) or
permute its commuting-weighted columns across units (placebo).  Every replication draws
from its own stream, ``numpy.random.SeedSequence(seed, spawn_key=(stream, r))``, so the
results are identical for a given ``seed`` whatever the number of workers or the backend
(serial, processes, or a Dask cluster).

Conventions
-----------
* Attractiveness of a unit is its cumulative residual over the design years at the unit
  (municipality) level, ``sum_t (y - X b)``, as :func:`geoattr.cumulate`; rank 1 is the
  most attractive unit.  With region-level estimation the region coefficients are applied
  to the municipalities, as :func:`geoattr.attractiveness` does.
* Bootstrap ranks apply each replication's coefficients to the observed data, so the rank
  intervals measure the uncertainty of the ranking that comes from estimating the
  coefficients (``resample_years=True`` adds the year-to-year noise of the residuals).
* Intervals of the re-estimated variants are the usual ``ci`` confidence intervals of the
  variant (covariance as the baseline's ``cov_type``).  Bootstrap intervals are percentile
  intervals; they under-cover somewhat with few clusters (fewer than ~50).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.models.least_squares import LeastSquaresFit, least_squares, normalised_weights
from geoattr.models.ols import AttractivenessResults, LeastSquares, estimate
from geoattr.variables import Design, build_design

__all__ = [
    "robustness",
    "RobustnessResults",
    "cluster_bootstrap",
    "run_robustness_from_config",
    "check_robustness_config",
    "contiguity_flows",
    "permuted_flows",
    "FAMILIES",
    "BOOTSTRAP_METHODS",
    "WILD_WEIGHTS",
    "ESTIMATORS",
    "CONFIG_KEYS",
]

#: Families of variants :func:`robustness` can run.
FAMILIES: tuple[str, ...] = ("bootstrap", "loyo", "loro", "weights", "estimators", "placebo")
#: Bootstrap schemes (both clustered by estimation unit).
BOOTSTRAP_METHODS: tuple[str, ...] = ("pairs", "wild")
#: Auxiliary distributions of the wild bootstrap.
WILD_WEIGHTS: tuple[str, ...] = ("rademacher", "webb")
#: Alternative estimators of the ``estimators`` family.
ESTIMATORS: tuple[str, ...] = ("year_effects", "weighted", "level", "fe", "sar")
#: Keys of the ``[robustness]`` section of a run configuration.
CONFIG_KEYS: frozenset[str] = frozenset({
    "enabled", "variants", "bootstrap", "n_boot", "wild_weights", "n_placebo", "commuting_years", "min_shares",
    "top_ks", "diagonal", "contiguity", "estimators", "ci", "top_n", "rank_by", "rank_bootstrap",
    "resample_years", "seed", "n_jobs", "figures", "figure_format",
})

_STREAMS = {"pairs": 1, "wild": 2, "placebo": 3}
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_FLOW_TERMS = ("vra", "nv", "ami")
_VRA_SUM = ("vra", "vra_l1", "vra_l2")
_COND_MAX = 1e12
_KIND_ORDER = ["baseline", "bootstrap", "loyo", "loro", "weights", "estimators", "placebo"]


# =========================================================================== numerics
def _rng(seed: int, stream: int, r: int) -> np.random.Generator:
    """Return the generator of replication ``r`` of a stream (independent of chunking and workers)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, r)))


@dataclass
class _Problem:
    """The estimation design in cluster-sum form, built once for every replication."""

    X: np.ndarray            # unweighted regressors (n x k)
    y: np.ndarray
    w: np.ndarray | None     # normalised weights or None
    groups: np.ndarray       # cluster codes 0..G-1
    XtX_g: np.ndarray        # G x k x k (weighted)
    Xty_g: np.ndarray        # G x k
    b: np.ndarray
    A: np.ndarray            # (X'WX)^-1
    S: np.ndarray            # G x k cluster scores X_g' W e_g
    wild_scale: float

    @property
    def G(self) -> int:
        return self.XtX_g.shape[0]

    @property
    def k(self) -> int:
        return self.X.shape[1]


def _problem(X: np.ndarray, y: np.ndarray, groups: np.ndarray, weights: np.ndarray | None) -> _Problem:
    n, k = X.shape
    codes = pd.factorize(np.asarray(groups))[0]
    G = int(codes.max()) + 1
    if G < 2:
        raise InputError("the bootstrap needs at least two clusters (estimation units)")
    w = normalised_weights(weights)
    Xw, yw = (X, y) if w is None else (X * np.sqrt(w)[:, None], y * np.sqrt(w))
    XtX_g = np.zeros((G, k, k))
    np.add.at(XtX_g, codes, Xw[:, :, None] * Xw[:, None, :])
    Xty_g = np.zeros((G, k))
    np.add.at(Xty_g, codes, Xw * yw[:, None])
    b, _, rank, _ = np.linalg.lstsq(Xw, yw, rcond=None)
    if rank < k:
        raise InputError(f"the regressors are collinear (rank {rank} of {k} columns)")
    e = yw - Xw @ b
    S = np.zeros((G, k))
    np.add.at(S, codes, Xw * e[:, None])
    A = np.linalg.inv(Xw.T @ Xw)
    # residuals scaled so that the wild bootstrap's variance is the CRV1 covariance
    # (G/(G-1) (n-1)/(n-k): Stata's, and linearmodels' clustered with group_debias)
    scale = math.sqrt(G / (G - 1) * (n - 1) / (n - k))
    return _Problem(X=X, y=y, w=w, groups=codes, XtX_g=XtX_g, Xty_g=Xty_g, b=b, A=A, S=S, wild_scale=scale)


def _solve(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``M b = rhs``; NaN when ``M`` is (nearly) singular (a collinear resample)."""
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(M)
    if not np.isfinite(cond) or cond > _COND_MAX:
        return np.full(rhs.shape, np.nan)
    return np.linalg.solve(M, rhs)


def _draw_weights(p: _Problem, method: str, wild_weights: str, seed: int, reps: Sequence[int],
                  n_years: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Cluster multiplicities (pairs) or wild weights per replication, and year counts."""
    R, G = len(reps), p.G
    W = np.empty((R, G))
    yc = np.empty((R, n_years)) if n_years else None
    stream = _STREAMS[method]
    for i, r in enumerate(reps):
        rng = _rng(seed, stream, r)
        if method == "pairs":
            W[i] = np.bincount(rng.integers(0, G, G), minlength=G)
        elif wild_weights == "rademacher":
            W[i] = 2.0 * rng.integers(0, 2, G) - 1.0
        else:
            W[i] = _WEBB[rng.integers(0, 6, G)]
        if yc is not None:
            yc[i] = np.bincount(rng.integers(0, n_years, n_years), minlength=n_years)
    return W, yc


def _bootstrap_coefficients(p: _Problem, method: str, wild_weights: str, seed: int, reps: Sequence[int],
                            n_years: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Coefficients of replications ``reps`` (rows) and their year counts (``n_years > 0``).

    Each replication is computed on its own (matrix-vector products of its draw), so its
    result does not depend on which other replications share the call: batched products
    could round differently with the batch size.
    """
    W, yc = _draw_weights(p, method, wild_weights, seed, reps, n_years)
    B = np.empty((len(reps), p.k))
    for i in range(len(reps)):
        if method == "pairs":
            B[i] = _solve(np.tensordot(W[i], p.XtX_g, axes=1), W[i] @ p.Xty_g)
        else:
            B[i] = p.b + p.wild_scale * ((W[i] @ p.S) @ p.A)
    return B, yc


def cluster_bootstrap(
    X: pd.DataFrame | np.ndarray,
    y: pd.Series | np.ndarray,
    clusters: pd.Series | np.ndarray,
    *,
    method: Literal["pairs", "wild"] = "pairs",
    n_boot: int = 999,
    weights: pd.Series | np.ndarray | None = None,
    wild_weights: Literal["rademacher", "webb"] = "rademacher",
    seed: int = 0,
) -> pd.DataFrame:
    """Cluster bootstrap of least-squares coefficients (the engine of :func:`robustness`).

    Parameters
    ----------
    X : pandas.DataFrame or ndarray
        Regressors (``n x k``, with the constant if wanted); column names label the output.
    y : pandas.Series or ndarray
        Dependent variable (``n``).
    clusters : pandas.Series or ndarray
        Cluster of each row (e.g. the unit).
    method : {"pairs", "wild"}, default "pairs"
        ``pairs``: draw ``G`` clusters with replacement and refit on the stacked rows;
        ``wild``: ``y* = X b + v_g e`` with one draw ``v_g`` per cluster (unrestricted
        wild cluster bootstrap), residuals scaled by ``sqrt(G/(G-1) (n-1)/(n-k))`` so that
        the bootstrap variance equals the CRV1 cluster-robust covariance.
    n_boot : int, default 999
    weights : pandas.Series or ndarray, optional
        Observation weights (weighted least squares; e.g. population).
    wild_weights : {"rademacher", "webb"}, default "rademacher"
        Rademacher (+-1) or Webb's six-point distribution (better with fewer than ~12 clusters).
    seed : int, default 0
        Replication ``r`` draws from ``SeedSequence(seed, spawn_key=(stream, r))``.

    Returns
    -------
    pandas.DataFrame
        One row per replication (index ``replication``), one column per coefficient.
        Replications whose resample is (nearly) collinear are NaN.

    Notes
    -----
    The design is reduced once to per-cluster ``X_g'X_g`` and ``X_g'y_g`` (pairs) or to
    the cluster scores ``X_g'e_g`` (wild); a replication costs ``O(G k^2)``.
    """
    if method not in BOOTSTRAP_METHODS:
        raise InputError(f"unknown bootstrap method {method!r}; choose from {list(BOOTSTRAP_METHODS)}")
    if wild_weights not in WILD_WEIGHTS:
        raise InputError(f"unknown wild_weights {wild_weights!r}; choose from {list(WILD_WEIGHTS)}")
    if int(n_boot) < 1:
        raise InputError(f"n_boot must be at least 1, got {n_boot}")
    names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{i}" for i in range(np.shape(X)[1])]
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    if Xa.ndim != 2 or ya.shape != (Xa.shape[0],) or len(np.asarray(clusters)) != Xa.shape[0]:
        raise InputError(f"X must be n x k with y and clusters of length n; got X {Xa.shape}, y {ya.shape}, "
                         f"clusters {np.shape(clusters)}")
    p = _problem(Xa, ya, np.asarray(clusters), None if weights is None else np.asarray(weights, dtype=float))
    B, _ = _bootstrap_coefficients(p, method, wild_weights, int(seed), range(int(n_boot)))
    return pd.DataFrame(B, columns=names, index=pd.RangeIndex(int(n_boot), name="replication"))


# =========================================================================== ranks
def _ranks(cum: np.ndarray) -> np.ndarray:
    """Rank along the last axis: 1 = largest (most attractive); ties keep the unit order."""
    cum = np.atleast_2d(cum)
    order = np.argsort(-cum, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1, cum.shape[1] + 1), cum.shape), axis=1)
    return ranks


def _stability(base_rank: np.ndarray, ranks: np.ndarray, n_top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spearman correlation with the baseline and shares of its top/bottom ``n_top`` kept."""
    n = base_rank.shape[0]
    a = base_rank - (n + 1) / 2
    b = ranks - (n + 1) / 2
    rho = (b @ a) / np.sqrt((b * b).sum(axis=1) * (a @ a))
    top_b, bot_b = base_rank <= n_top, base_rank > n - n_top
    top = ((ranks <= n_top) & top_b).sum(axis=1) / n_top
    bot = ((ranks > n - n_top) & bot_b).sum(axis=1) / n_top
    return rho, top, bot


@dataclass
class _UnitSums:
    """Unit-level sums from which cumulative attractiveness is ``SY - SX @ b``."""

    units: pd.Index
    terms: list[str]
    SY: np.ndarray
    SX: np.ndarray
    Y: np.ndarray | None = None   # units x years (for resample_years)
    Xt: np.ndarray | None = None  # units x years x k

    def cum(self, b: np.ndarray) -> np.ndarray:
        return self.SY - self.SX @ b

    def cum_resampled(self, B: np.ndarray, yc: np.ndarray) -> np.ndarray:
        return yc @ self.Y.T - np.einsum("rt,utk,rk->ru", yc, self.Xt, B)


def _unit_sums(d: Design, *, by: str, per_year: bool = False, units: pd.Index | None = None) -> _UnitSums:
    om = d.population.to_numpy(float) / 100.0 if by == "residual_persons" else np.ones(len(d.y))
    X = d.X.to_numpy(float) * om[:, None]
    y = d.y.to_numpy(float) * om
    u = d.y.index.get_level_values("unit")
    units = pd.Index(pd.unique(u), name="unit") if units is None else units
    code = units.get_indexer(u)
    if (code < 0).any():
        raise InputError(f"units {format_ids(pd.unique(u[code < 0]))} are not among the baseline's units")
    SY = np.bincount(code, weights=y, minlength=len(units))
    SX = np.zeros((len(units), X.shape[1]))
    np.add.at(SX, code, X)
    out = _UnitSums(units=units, terms=list(d.X.columns), SY=SY, SX=SX)
    if per_year:
        yrs = d.y.index.get_level_values("year")
        years = np.arange(d.years[0], d.years[1] + 1)
        t = np.searchsorted(years, yrs)
        Y = np.zeros((len(units), len(years)))
        Xt = np.zeros((len(units), len(years), X.shape[1]))
        np.add.at(Y, (code, t), y)
        np.add.at(Xt, (code, t), X)
        out.Y, out.Xt = Y, Xt
    return out


# =========================================================================== worker state
@dataclass
class _State:
    """What every task needs; shipped once per worker."""

    spec: Any
    level: str
    years: tuple[int, int]
    commuting_year: Any
    weighted: bool
    cov_type: str
    design_opts: dict[str, Any]
    unit_data: PanelData | None      # None when no task rebuilds a design
    est_data: PanelData | None
    est_design: Design
    unit_design: Design
    problem: _Problem
    rank_by: str
    units: pd.Index
    seed: int
    wild_weights: str
    n_years_resample: int
    placebo_fast: bool
    placebo_cols: list[int]
    placebo_pos: np.ndarray | None   # est units x years -> row (fast path)
    est_units: pd.Index


_WORKER_STATE: _State | None = None


def _init_worker(state: _State) -> None:  # pragma: no cover - runs in the worker processes
    global _WORKER_STATE
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    _WORKER_STATE = state


def _pool_task(task: tuple) -> tuple:  # pragma: no cover - runs in the worker processes
    return _run_task(_WORKER_STATE, task)


def _dask_task(task: tuple, state: _State) -> tuple:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _run_task(state, task)


def _run_task(state: _State, task: tuple) -> tuple:
    kind = task[0]
    if kind == "boot":
        _, method, start, stop = task
        B, yc = _bootstrap_coefficients(state.problem, method, state.wild_weights, state.seed, range(start, stop),
                                        state.n_years_resample)
        return task, (B, yc)
    if kind == "placebo":
        _, start, stop = task
        return task, _placebo_chunk(state, range(start, stop))
    if kind == "variant":
        return task, _variant(state, task[1], task[2], dict(task[3]))
    raise ValueError(f"unknown task {task!r}")


def _execute(tasks: list[tuple], state: _State, *, n_jobs: int, client: Any, progress: bool) -> dict[tuple, Any]:
    """Run the tasks serially, in a process pool or on a Dask cluster; results by task."""
    from tqdm.auto import tqdm

    out: dict[tuple, Any] = {}
    bar = tqdm(total=len(tasks), desc="robustness", unit="task", disable=not progress)
    try:
        if client is not None:
            from distributed import as_completed

            fstate = client.scatter(state, broadcast=True, hash=False)
            futures = client.map(_dask_task, tasks, state=fstate, pure=False)
            for fut in as_completed(futures):
                task, res = fut.result()
                out[task] = res
                bar.update()
        elif n_jobs == 1 or len(tasks) <= 1:
            for t in tasks:
                task, res = _run_task(state, t)
                out[task] = res
                bar.update()
        else:
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures import as_completed as cf_completed

            with ProcessPoolExecutor(max_workers=min(n_jobs, len(tasks)), initializer=_init_worker,
                                     initargs=(state,)) as ex:
                futs = [ex.submit(_pool_task, t) for t in tasks]
                for fut in cf_completed(futs):
                    task, res = fut.result()
                    out[task] = res
                    bar.update()
    finally:
        bar.close()
    return out


# =========================================================================== placebo
def _placebo_pos(d: Design, est_units: pd.Index) -> np.ndarray | None:
    """Row of each (estimation unit, year) in the design; None when the design is unbalanced."""
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


def _placebo_design(state: _State, perm: np.ndarray) -> np.ndarray:
    """Return the estimation design's X with the commuting matrix rows permuted by ``perm``."""
    X = state.problem.X
    if state.placebo_fast:
        pos = state.placebo_pos
        Xp = X.copy()
        cols = state.placebo_cols
        Xp[np.ix_(pos.ravel(), cols)] = X[np.ix_(pos[perm].ravel(), cols)]
        return Xp
    data = _replace_flows(state.est_data, permuted_flows(state.est_data.flows, state.est_units, perm))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoattrWarning)
        d = build_design(data, state.spec, years=state.years, commuting_year=state.commuting_year,
                         **state.design_opts)
    return d.X.reindex(state.est_design.X.index).to_numpy(float)


def _placebo_chunk(state: _State, reps: Sequence[int]) -> np.ndarray:
    p = state.problem
    out = np.full((len(reps), p.k + 2), np.nan)
    for i, r in enumerate(reps):
        perm = _rng(state.seed, _STREAMS["placebo"], r).permutation(len(state.est_units))
        Xp = _placebo_design(state, perm)
        try:
            f = least_squares(Xp, p.y, obs_weights=p.w, cov_type=None)
        except np.linalg.LinAlgError:
            continue
        out[i, : p.k] = f.params
        out[i, p.k:] = (f.r2, f.loglik)
    return out


# =========================================================================== variants
def _replace_flows(data: PanelData, flows: pd.DataFrame) -> PanelData:
    """Return a shallow copy of ``data`` with other commuting flows (and a cache without them)."""
    return data.replace(flows=flows)


def _own_copy(data: PanelData) -> PanelData:
    """Return a shallow copy with its own cache, so the caller's object is never modified."""
    return data.replace()


def contiguity_flows(data: PanelData, *, rook: bool = False) -> pd.DataFrame:
    """Commuting-like flows where the cross-border share follows contiguity instead of commuting.

    Each unit keeps its own diagonal share ``w[i,i]`` of each year (those who work where
    they live) and its row total; the rest, ``1 - w[i,i]``, is spread equally over its
    contiguous neighbours (queen, or rook).  Units without a neighbour (islands) keep
    everything on themselves.  Commuting-weighted growth built from these flows asks
    whether *where people commute* matters beyond *who is next door*.

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
    from geoattr import weights as gw

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
    parts = []
    for year, fl in data.flows.groupby("year", sort=True):
        tot = fl.groupby("origin")["count"].sum()
        tot = tot[tot > 0]
        diag = fl.loc[fl["origin"] == fl["destination"]].groupby("origin")["count"].sum().reindex(tot.index)
        d = (diag.fillna(0.0) / tot).where(tot.index.isin(n_nb.index), 1.0)
        own = pd.DataFrame({"origin": tot.index, "destination": tot.index, "count": (d * tot).to_numpy()})
        e = nb[nb["origin"].isin(tot.index)].copy()
        e["count"] = ((1 - d) * tot / n_nb.reindex(tot.index)).reindex(e["origin"]).to_numpy()
        part = pd.concat([own, e], ignore_index=True)
        part = part[part["count"] > 0]
        parts.append(part.assign(year=int(year)))
    out = pd.concat(parts, ignore_index=True)[["year", "origin", "destination", "count"]]
    return out.sort_values(["year", "origin", "destination"]).reset_index(drop=True)


def _design_fit(state: _State, d: Design, *, weighted: bool | None = None) -> dict[str, Any]:
    """Coefficients, covariance and fit statistics of least squares on a design."""
    weighted = state.weighted if weighted is None else weighted
    if state.cov_type in ("clustered", "robust", "unadjusted"):
        f = least_squares(d.X.to_numpy(float), d.y.to_numpy(float),
                 obs_weights=d.population.to_numpy(float) if weighted else None,
                 groups=d.y.index.get_level_values("unit").to_numpy(), cov_type=state.cov_type)
        terms = list(d.X.columns)
        return {"params": pd.Series(f.params, index=terms), "cov": pd.DataFrame(f.cov, index=terms, columns=terms),
                "r2": f.r2, "loglik": f.loglik, "nobs": f.nobs, "df": f.df_resid}
    r = LeastSquares(d, weighted=weighted).fit(cov_type=state.cov_type)
    return {"params": r.params, "cov": r.cov, "r2": r.rsquared, "loglik": r.loglik, "nobs": r.nobs,
            "df": r.df_resid}


def _designs(state: _State, est_data: PanelData, unit_data: PanelData | None, **overrides: Any) -> tuple[Design, Design]:
    opts = {**state.design_opts, **overrides}
    cy = opts.pop("commuting_year", state.commuting_year)
    est = build_design(est_data, state.spec, years=state.years, commuting_year=cy, **opts)
    unit = est if unit_data is None else build_design(unit_data, state.spec, years=state.years,
                                                      commuting_year=cy, **opts)
    return est, unit


def _cum_of(state: _State, unit_design: Design, b: pd.Series) -> np.ndarray:
    us = _unit_sums(unit_design, by=state.rank_by, units=state.units)
    return us.cum(b.reindex(us.terms).fillna(0.0).to_numpy())


def _variant(state: _State, kind: str, name: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    """One re-estimated variant: a dict with params, cov, fit statistics and unit attractiveness."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        try:
            res = _variant_inner(state, kind, name, opts)
        except (InputError, np.linalg.LinAlgError, ValueError) as err:
            return {"error": f"{type(err).__name__}: {err}"}
    res.setdefault("notes", [])
    res["notes"] += list(dict.fromkeys(f"{name}: {w.message}" for w in caught
                                       if issubclass(w.category, GeoattrWarning)))
    return res


def _variant_inner(state: _State, kind: str, name: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    unit_data = None if state.level == "municipality" else state.unit_data
    if kind == "weights":
        if opts.get("contiguity"):
            est_data = _replace_flows(state.est_data, contiguity_flows(state.est_data))
            ud = None if unit_data is None else _replace_flows(unit_data, contiguity_flows(unit_data))
            est, unit = _designs(state, est_data, ud)
        else:
            est, unit = _designs(state, state.est_data, unit_data, **opts)
        out = _design_fit(state, est)
        out["cum"] = _cum_of(state, unit, out["params"])
        return out
    # estimators
    if name in ("year_effects", "no_year_effects"):
        est, unit = _designs(state, state.est_data, unit_data, year_effects=name == "year_effects")
        out = _design_fit(state, est)
        out["cum"] = _cum_of(state, unit, out["params"])
        return out
    if name in ("wls", "ols"):
        out = _design_fit(state, state.est_design, weighted=name == "wls")
        out["cum"] = _cum_of(state, state.unit_design, out["params"])
        return out
    if name == "municipality_level":
        out = _design_fit(state, state.unit_design)
        out["cum"] = _cum_of(state, state.unit_design, out["params"])
        return out
    if name == "region_level":
        reg = state.unit_data.aggregate()
        est, _ = _designs(state, reg, None)
        out = _design_fit(state, est)
        out["cum"] = _cum_of(state, state.unit_design, out["params"])
        out["notes"] = ["region_level: estimated on the regions of the data, applied to municipalities"]
        return out
    if name == "fe":
        return _fe_variant(state)
    if name == "sar":
        return _sar_variant(state)
    raise InputError(f"unknown variant {name!r}")


def _time_invariant(X: pd.DataFrame) -> list[str]:
    within = X - X.groupby(level="unit").transform("mean")
    return [c for c in X.columns if within[c].abs().max() < 1e-12]


def _fe_variant(state: _State) -> dict[str, Any]:
    """Fit unit fixed effects for the time-varying terms, then the time-invariant ones in a second step.

    The within estimator identifies only the coefficients of regressors that vary within
    units.  Attractiveness needs the others too: they are re-estimated by pooled least
    squares of ``y - X_tv b_tv`` on the time-invariant regressors (constant, centrality),
    whose reported intervals ignore the first step's uncertainty.
    """
    from geoattr.models.panel import PANEL_COV_TYPES, fit_panel

    d = state.est_design
    ti = _time_invariant(d.X)
    tv = [c for c in d.X.columns if c not in ti]
    if not tv:
        raise InputError("no regressor varies within units: nothing for fixed effects to estimate")
    cov_type = state.cov_type if state.cov_type in PANEL_COV_TYPES else "clustered"
    r = fit_panel(d.y, d.X[tv], model="fe", effects="unit", cov_type=cov_type,
                  weights=d.population if state.weighted else None)
    b_tv = r.params.reindex(tv)
    params = b_tv.copy()
    cov = r.cov.reindex(index=tv, columns=tv)
    notes = list(r.notes)
    if ti:
        rest = (d.y - d.X[tv] @ b_tv).rename("y")
        d2 = Design(y=rest, X=d.X[ti], population=d.population, spec=d.spec, level=d.level, years=d.years)
        f2 = _design_fit(state, d2)
        params = pd.concat([f2["params"], b_tv])
        cov = pd.DataFrame(np.zeros((len(params), len(params))), index=params.index, columns=params.index)
        cov.loc[ti, ti] = f2["cov"].loc[ti, ti].to_numpy()
        cov.loc[tv, tv] = r.cov.loc[tv, tv].to_numpy()
        notes.append(f"fe: {ti} re-estimated on y - X b_fe by pooled least squares (second step)")
    params = params.reindex([c for c in d.X.columns if c in params.index])
    cov = cov.reindex(index=params.index, columns=params.index)
    return {"params": params, "cov": cov, "r2": r.rsquared, "loglik": r.loglik, "nobs": r.nobs,
            "df": r.df_resid, "cum": _cum_of(state, state.unit_design, params), "notes": notes}


def _commuting_graph(data: PanelData, year: int) -> Any:
    from geoattr import weights as gw

    cw = gw.commuting_by_year(data.flows, [year], ids=data.units)
    return gw.without_diagonal(cw[year])


def _sar_variant(state: _State) -> dict[str, Any]:
    """Spatial lag of y with the commuting W (off-diagonal shares, renormalised, last design year)."""
    from geoattr.models.api import spatial_lag
    from geoattr.models.spatial import fit_spatial

    year = state.years[1]
    d = state.est_design
    g = _commuting_graph(state.est_data, year)
    r = fit_spatial(d.y, d.X, g, model="sar")
    params, cov = r.params, r.cov
    ud = state.unit_design
    gu = g if state.level == "municipality" else _commuting_graph(state.unit_data, year)
    wy = spatial_lag(ud.y.rename("y"), gu)
    om = ud.population / 100.0 if state.rank_by == "residual_persons" else 1.0
    b = params.drop("rho")
    e = (ud.y - float(params["rho"]) * wy - ud.X[b.index] @ b) * om
    cum = e.groupby(level="unit").sum().reindex(state.units).to_numpy()
    notes = [f"sar: W = commuting shares of {year} without the diagonal (rows renormalised); attractiveness is the "
             "structural residual y - rho W y - X b"]
    return {"params": params, "cov": cov, "r2": r.rsquared, "loglik": r.loglik, "nobs": r.nobs,
            "df": r.df_resid, "cum": cum, "notes": notes, "dist": "normal"}


# =========================================================================== results
def _with_sum(params: pd.Series, cov: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Estimates and standard errors, with ``vra_sum`` (b1+b2+b3) when the three VRA terms are present."""
    se = pd.Series(np.sqrt(np.clip(np.diag(cov.reindex(index=params.index, columns=params.index).to_numpy()),
                                   0, None)), index=params.index) if cov is not None else \
        pd.Series(np.nan, index=params.index)
    if all(t in params.index for t in _VRA_SUM):
        params = pd.concat([params, pd.Series({"vra_sum": params[list(_VRA_SUM)].sum()})])
        v = float(cov.loc[list(_VRA_SUM), list(_VRA_SUM)].to_numpy().sum()) if cov is not None else np.nan
        se = pd.concat([se, pd.Series({"vra_sum": math.sqrt(v) if v >= 0 else np.nan})])
    return params, se


def _sum_draws(B: pd.DataFrame) -> pd.DataFrame:
    if all(t in B.columns for t in _VRA_SUM):
        B = B.assign(vra_sum=B[list(_VRA_SUM)].sum(axis=1))
    return B


def _ci_rows(kind: str, variant: str, params: pd.Series, se: pd.Series, q: float, n: int) -> pd.DataFrame:
    return pd.DataFrame({"kind": kind, "variant": variant, "term": params.index, "estimate": params.to_numpy(),
                         "std_error": se.to_numpy(), "lower": (params - q * se).to_numpy(),
                         "upper": (params + q * se).to_numpy(), "n": n})


@dataclass(frozen=True)
class RobustnessResults:
    """Results of :func:`robustness`.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Long table, one row per (variant, term): ``kind`` (baseline, bootstrap, loyo,
        loro, weights, estimators, placebo), ``variant``, ``term`` (``vra_sum`` =
        ``vra + vra_l1 + vra_l2``), ``estimate``, ``std_error``, ``lower``, ``upper``,
        ``n`` (observations of the fit, or replications).  Bootstrap rows: the baseline
        estimate, the bootstrap standard deviation and the percentile interval; placebo
        rows: the mean, standard deviation and percentile interval of the placebo
        estimates; other rows: the variant's estimate and ``ci`` confidence interval.
    rank_stability : pandas.DataFrame
        One row per variant: ``kind``, ``variant``, ``nobs``, ``r2``, ``loglik``,
        ``spearman`` (rank correlation of the units' cumulative attractiveness with the
        baseline), ``top_kept`` / ``bottom_kept`` (share of the baseline's top / bottom
        ``top_n`` units that stay there) and ``n`` (replications summarised: bootstrap
        rows give the median Spearman and the mean shares over the replications).
    rank_intervals : pandas.DataFrame
        Index unit: ``name``, ``residual`` (baseline cumulative attractiveness), ``rank``
        (baseline, 1 = most attractive), ``lower``, ``median``, ``upper`` (bootstrap
        percentile interval of the rank), ``p_top`` / ``p_bottom`` (share of replications
        in the top / bottom ``top_n``).
    placebo : pandas.DataFrame
        Index statistic (``r2``, ``loglik`` and each coefficient, ``vra_sum``): ``observed``,
        ``placebo_mean``, ``placebo_sd``, ``lower``, ``upper`` (placebo percentile
        interval), ``percentile`` (% of placebo values below the observed one),
        ``p_value`` (one-sided upper for ``r2``/``loglik``, two-sided for coefficients,
        ``(1 + count) / (1 + R)``), ``n``.
    bootstrap_draws : dict[str, pandas.DataFrame]
        Method -> replications x coefficients.
    placebo_draws : pandas.DataFrame
        Replications x (coefficients, ``r2``, ``loglik``).
    baseline : AttractivenessResults
    settings : dict
        The options used (seed, replications, variants...).
    skipped : dict[str, str]
        Variants that were not run or failed, and why.
    notes : list of str
    timings : dict[str, float]
        Seconds per step.
    """

    coefficients: pd.DataFrame
    rank_stability: pd.DataFrame
    rank_intervals: pd.DataFrame
    placebo: pd.DataFrame
    bootstrap_draws: dict[str, pd.DataFrame]
    placebo_draws: pd.DataFrame
    baseline: AttractivenessResults
    settings: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """Return a plain-text report: coefficient ranges by family, rank stability, placebo."""
        s = self.settings
        lines = [f"Robustness of the attractiveness model: spec {s['spec']}, {s['level']} level, "
                 f"years {s['years'][0]}-{s['years'][1]}",
                 f"seed {s['seed']}; bootstrap {', '.join(s['bootstrap']) or 'none'} ({s['n_boot']} replications, "
                 f"clustered by {s['level']}; wild weights {s['wild_weights']}); placebo {s['n_placebo']} "
                 f"permutations; {int(round(100 * s['ci']))}% intervals", ""]
        c = self.coefficients
        terms = list(dict.fromkeys(c.loc[c["kind"] == "baseline", "term"]))
        rows = {}
        for t in terms:
            ct = c[c["term"] == t]
            row = {}
            for kind in _KIND_ORDER:
                ck = ct[ct["kind"] == kind]
                if ck.empty:
                    continue
                if kind in ("baseline", "bootstrap", "placebo"):
                    for _, r in ck.iterrows():
                        label = kind if kind != "bootstrap" else r["variant"]
                        row[label] = f"{r['estimate']:.3f} [{r['lower']:.3f}, {r['upper']:.3f}]"
                else:
                    row[kind] = f"{ck['estimate'].min():.3f} .. {ck['estimate'].max():.3f}"
            rows[t] = row
        table = pd.DataFrame(rows).T
        lines += ["Coefficients: baseline and bootstrap [interval]; variant families: range of estimates",
                  table.to_string(), ""]
        rs = self.rank_stability
        if not rs.empty:
            g = rs.groupby("kind", sort=False).agg(variants=("variant", "size"), spearman_min=("spearman", "min"),
                                                  spearman_median=("spearman", "median"),
                                                  top_kept_min=("top_kept", "min"),
                                                  bottom_kept_min=("bottom_kept", "min"))
            lines += [f"Rank stability of cumulative attractiveness (top/bottom {s['top_n']}):",
                      g.to_string(float_format=lambda v: f"{v:.3f}"), ""]
        if not self.rank_intervals.empty:
            ri = self.rank_intervals
            width = (ri["upper"] - ri["lower"]).median()
            lines.append(f"Bootstrap rank intervals ({s['rank_bootstrap']}): median width {width:.0f} ranks "
                         f"of {len(ri)} units")
        if not self.placebo.empty:
            p = self.placebo
            lines.append("Placebo (commuting rows permuted across units):")
            for stat in [x for x in ("r2", "loglik", "vra_sum", "vra") if x in p.index]:
                r = p.loc[stat]
                lines.append(f"  {stat:<8} observed {r['observed']:.4f}; placebo mean {r['placebo_mean']:.4f} "
                             f"[{r['lower']:.4f}, {r['upper']:.4f}]; percentile {r['percentile']:.1f}; "
                             f"p = {r['p_value']:.4f}")
        if self.skipped:
            lines.append("Skipped: " + "; ".join(f"{k}: {v}" for k, v in self.skipped.items()))
        if self.notes:
            lines += ["Notes:"] + [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """Facts for ``run.json``: settings, skipped variants, placebo p-values, rank stability."""
        info: dict[str, Any] = {"settings": {k: v for k, v in self.settings.items()}, "skipped": dict(self.skipped),
                                "timings_seconds": dict(self.timings)}
        rs = self.rank_stability
        if not rs.empty:
            info["variants"] = rs.groupby("kind", sort=False).size().astype(int).to_dict()
            single = rs[rs["n"] == 1]
            if not single.empty:
                worst = single.loc[single["spearman"].idxmin()]
                info["spearman_min"] = {"variant": str(worst["variant"]), "spearman": float(worst["spearman"])}
                info["spearman_median"] = float(single["spearman"].median())
        if not self.placebo.empty:
            info["placebo"] = {k: {"observed": float(r["observed"]), "placebo_mean": float(r["placebo_mean"]),
                                   "p_value": float(r["p_value"])}
                               for k, r in self.placebo.iterrows() if k in ("r2", "loglik", "vra_sum", "vra")}
        if not self.rank_intervals.empty:
            ri = self.rank_intervals
            info["rank_interval_median_width"] = float((ri["upper"] - ri["lower"]).median())
        return info

    # ------------------------------------------------------------------ files
    def to_csv(self, directory: str | Path) -> dict[str, Path]:
        """Write ``robustness.csv``, ``rank_stability.csv``, ``rank_intervals.csv`` and ``placebo.csv``.

        Parameters
        ----------
        directory : str or Path
            Created if needed.

        Returns
        -------
        dict[str, Path]
            Name -> path of the files written (empty tables are not written).
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files = {"robustness": d / "robustness.csv"}
        self.coefficients.to_csv(files["robustness"], index=False)
        files["rank_stability"] = d / "rank_stability.csv"
        self.rank_stability.to_csv(files["rank_stability"], index=False)
        if not self.rank_intervals.empty:
            files["rank_intervals"] = d / "rank_intervals.csv"
            self.rank_intervals.reset_index().to_csv(files["rank_intervals"], index=False)
        if not self.placebo.empty:
            files["placebo"] = d / "placebo.csv"
            self.placebo.rename_axis("statistic").reset_index().to_csv(files["placebo"], index=False)
        return files

    # ------------------------------------------------------------------ figures
    def plot_coefficients(self, path: str | Path | None = None, *, terms: Sequence[str] | None = None) -> Any:
        """Coefficient ranges across variants: one panel per term.

        Rows: the baseline with its interval, each bootstrap's percentile interval, the
        range of the leave-one-year-out and leave-one-region-out estimates, each weights
        and estimator variant with its interval, and the placebo band.

        Parameters
        ----------
        path : str or Path, optional
            Save as PNG or SVG (by the suffix).
        terms : sequence of str, optional
            Default: every baseline term and ``vra_sum``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        c = self.coefficients
        all_terms = list(dict.fromkeys(c.loc[c["kind"] == "baseline", "term"]))
        terms = all_terms if terms is None else list(terms)
        bad = [t for t in terms if t not in all_terms]
        if bad:
            raise InputError(f"unknown term(s) {bad}; the terms are {all_terms}")
        rows = _plot_rows(c)
        ncol = min(3, len(terms))
        nrow = math.ceil(len(terms) / ncol)
        fig = _figure(4.2 * ncol, 0.9 + 0.24 * len(rows) * nrow)
        axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
        colours = {"baseline": "#000000", "bootstrap": "#2166ac", "loyo": "#1b9e77", "loro": "#7570b3",
                   "weights": "#d95f02", "estimators": "#e7298a", "placebo": "#999999"}
        ypos = np.arange(len(rows))[::-1]
        for ax, t in zip(axes.ravel(), terms):
            ct = c[c["term"] == t]
            base = ct.loc[ct["kind"] == "baseline", "estimate"]
            for y, (kind, variant) in zip(ypos, rows):
                r = ct[(ct["kind"] == kind) & ((ct["variant"] == variant) | (variant == f"{kind} (range)"))]
                if r.empty:
                    continue
                col = colours.get(kind, "#333333")
                if variant.endswith("(range)"):
                    lo, hi = r["estimate"].min(), r["estimate"].max()
                    ax.plot([lo, hi], [y, y], color=col, lw=5, alpha=0.45, solid_capstyle="butt")
                    ax.plot(r["estimate"], np.full(len(r), y), "|", color=col, ms=7)
                elif kind == "placebo":
                    rr = r.iloc[0]
                    ax.plot([rr["lower"], rr["upper"]], [y, y], color=col, lw=5, alpha=0.6, solid_capstyle="butt")
                    ax.plot([rr["estimate"]], [y], "o", color=col, ms=4)
                else:
                    rr = r.iloc[0]
                    ax.plot([rr["lower"], rr["upper"]], [y, y], color=col, lw=1.5)
                    ax.plot([rr["estimate"]], [y], "o", color=col, ms=4)
            if len(base):
                ax.axvline(float(base.iloc[0]), color="#000000", lw=0.8, ls="--")
            ax.axvline(0.0, color="#bbbbbb", lw=0.8)
            ax.set_title(t)
        for ax in axes.ravel()[len(terms):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_yticks(ypos)
            ax.set_yticklabels([v for _, v in rows], fontsize=7)
        fig.suptitle("Coefficients across robustness variants")
        return _save(fig, path)

    def plot_rank_intervals(self, path: str | Path | None = None, *, label: int = 5) -> Any:
        """Bootstrap rank interval of every unit, ordered by its baseline rank.

        Parameters
        ----------
        path : str or Path, optional
            Save as PNG or SVG (by the suffix).
        label : int, default 5
            List the ``label`` most and least attractive units with their intervals.

        Returns
        -------
        matplotlib.figure.Figure
        """
        ri = self.rank_intervals
        if ri.empty:
            raise InputError("no bootstrap was run, so there are no rank intervals to plot")
        ri = ri.sort_values("rank")
        n = len(ri)
        fig = _figure(9.0, 4.8)
        ax = fig.subplots()
        x = ri["rank"].to_numpy()
        ax.vlines(x, ri["lower"], ri["upper"], color="#2166ac", lw=0.8, alpha=0.7,
                  label=f"{int(round(100 * self.settings['ci']))}% bootstrap interval")
        ax.plot(x, x, ".", color="#000000", ms=2.5, label="baseline rank")
        def listing(rows: pd.DataFrame, title: str) -> str:
            return "\n".join([title] + [f"{int(r['rank'])}. {r['name']} [{int(r['lower'])}-{int(r['upper'])}]"
                                         for _, r in rows.iterrows()])

        if label > 0:
            box = {"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9}
            ax.text(0.98, 0.97, listing(ri.head(label), "Most attractive [interval]"), transform=ax.transAxes,
                    ha="right", va="top", fontsize=7, bbox=box)
            ax.text(0.02, 0.03, listing(ri.tail(label).iloc[::-1], "Least attractive [interval]"),
                    transform=ax.transAxes, ha="left", va="bottom", fontsize=7, bbox=box)
        top = self.settings["top_n"]
        ax.axhspan(0.5, top + 0.5, color="#1b9e77", alpha=0.08)
        ax.axhspan(n - top + 0.5, n + 0.5, color="#d95f02", alpha=0.08)
        ax.set_xlabel("baseline rank (1 = most attractive)")
        ax.set_ylabel("bootstrap rank")
        ax.set_xlim(0, n + 1)
        ax.set_ylim(n + 1, 0)
        ax.legend(loc="upper center", fontsize=8)
        ax.set_title(f"Rank intervals of cumulative attractiveness ({self.settings['rank_bootstrap']} bootstrap)")
        return _save(fig, path)


def _plot_rows(c: pd.DataFrame) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for kind in _KIND_ORDER:
        ck = c[c["kind"] == kind]
        if ck.empty:
            continue
        if kind in ("loyo", "loro"):
            rows.append((kind, f"{kind} (range)"))
        else:
            rows += [(kind, v) for v in dict.fromkeys(ck["variant"])]
    return rows


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path | None) -> Any:
    if path is not None:
        p = Path(path)
        if p.suffix.lower() not in (".png", ".svg"):
            raise InputError(f"cannot save a figure as {p.name!r}: use a .png or .svg suffix")
        fig.savefig(p, format=p.suffix.lower().lstrip("."), dpi=150)
    return fig


# =========================================================================== main function
def _check_choice(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(f"unknown {what} {format_ids(bad)}; choose from {list(allowed)}")
    return values


def _min_reps(ci: float) -> int:
    """Fewest replications for percentile intervals at ``ci``: (1 - ci)/2 * (R + 1) >= 1."""
    return int(math.ceil(2.0 / (1.0 - ci) - 1.0 - 1e-9))


def _n_workers(n_jobs: int) -> int:
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if n_jobs == -1:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1
    return int(n_jobs)


def robustness(
    data_or_fit: PanelData | AttractivenessResults,
    *,
    spec: str | Sequence[str] | None = None,
    level: Literal["municipality", "region"] | None = None,
    years: tuple[int, int] | None = None,
    estimate_options: Mapping[str, Any] | None = None,
    variants: Sequence[str] | None = None,
    bootstrap: Sequence[str] = ("pairs", "wild"),
    n_boot: int = 999,
    wild_weights: Literal["rademacher", "webb"] = "rademacher",
    n_placebo: int = 199,
    commuting_years: Sequence[int] | None = None,
    min_shares: Sequence[float] = (0.01, 0.05),
    top_ks: Sequence[int] = (5, 10),
    diagonal: bool = True,
    contiguity: bool | None = None,
    estimators: Sequence[str] | None = None,
    ci: float = 0.95,
    top_n: int = 20,
    rank_by: Literal["residual", "residual_persons"] = "residual",
    rank_bootstrap: Literal["pairs", "wild"] | None = None,
    resample_years: bool = False,
    seed: int = 0,
    n_jobs: int = -1,
    client: Any = None,
    progress: bool = True,
) -> RobustnessResults:
    """Run the robustness battery of the attractiveness model.

    Parameters
    ----------
    data_or_fit : PanelData or AttractivenessResults
        A fitted baseline (from :func:`geoattr.estimate`; its specification, level,
        years and options are reused), or the municipality-level data, in which case the
        baseline is ``estimate(data, spec, level=level, years=years, **estimate_options)``.
    spec, level, years, estimate_options
        The baseline when data are given (defaults ``"2022"``, ``"municipality"``, all
        years, no options); an error when a fit is given.
    variants : sequence of str, optional
        Families to run, from :data:`FAMILIES`: ``bootstrap``, ``loyo``, ``loro``,
        ``weights``, ``estimators``, ``placebo``.  Default: all that the data allow
        (``loro`` needs regions; asking for it without regions is an error).
    bootstrap : sequence of {"pairs", "wild"}, default ("pairs", "wild")
        Bootstrap schemes, both clustered by estimation unit (municipality or region).
    n_boot : int, default 999
        Bootstrap replications; at least ``2 / (1 - ci) - 1`` (39 for 95 % intervals).
    wild_weights : {"rademacher", "webb"}, default "rademacher"
    n_placebo : int, default 199
        Placebo permutations (at least 19, or 0 to skip); the placebo needs a term built
        from the commuting flows (``vra``, ``nv``, ``ami``).
    commuting_years : sequence of int, optional
        Fixed commuting years for the ``weights`` family (default: the first and last
        years with flows).  Each is a variant ``commuting_year=<y>``; a baseline with a
        fixed year also gets ``commuting_year=same``.
    min_shares : sequence of float, default (0.01, 0.05)
        Minimum commuting shares (rows renormalised), one variant each.
    top_ks : sequence of int, default (5, 10)
        Top-k destinations, one variant each.
    diagonal : bool, default True
        Add the variant with the diagonal toggled (``no_diagonal`` or ``with_diagonal``).
    contiguity : bool, optional
        Add the variant where the cross-border share follows contiguity (see
        :func:`contiguity_flows`); default: when the data have polygons.
    estimators : sequence of str, optional
        From :data:`ESTIMATORS`: ``year_effects`` (toggles year effects), ``weighted``
        (toggles population weights), ``level`` (the other estimation level; region needs
        regions), ``fe`` (unit fixed effects), ``sar`` (spatial lag of y with the
        commuting W).  Default: all.
    ci : float, default 0.95
        Level of every interval.
    top_n : int, default 20
        Size of the top and bottom lists of the rank stability (at most half the units).
    rank_by : {"residual", "residual_persons"}, default "residual"
        Cumulative attractiveness in percentage points or in persons.
    rank_bootstrap : {"pairs", "wild"}, optional
        Bootstrap giving ``rank_intervals`` (default the first of ``bootstrap``).
    resample_years : bool, default False
        Bootstrap ranks also resample the years (the same draw for every unit), adding the
        year-to-year noise of the residuals to the coefficient uncertainty.
    seed : int, default 0
    n_jobs : int, default -1
        Worker processes (-1: every core available; 1: serial).  BLAS is limited to one
        thread per worker.
    client : dask.distributed.Client, optional
        Run the tasks on this Dask cluster instead (``n_jobs`` is then ignored).
    progress : bool, default True
        Show a progress bar (tqdm).

    Returns
    -------
    RobustnessResults

    Notes
    -----
    Results are identical for a given ``seed`` whatever ``n_jobs`` or ``client``: each
    replication draws from its own ``SeedSequence(seed, spawn_key=(stream, r))``, and BLAS
    runs on one thread in every process (multi-threaded BLAS may sum in another order).
    The input data and fit are not modified.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _robustness(
            data_or_fit, spec=spec, level=level, years=years, estimate_options=estimate_options, variants=variants,
            bootstrap=bootstrap, n_boot=n_boot, wild_weights=wild_weights, n_placebo=n_placebo,
            commuting_years=commuting_years, min_shares=min_shares, top_ks=top_ks, diagonal=diagonal,
            contiguity=contiguity, estimators=estimators, ci=ci, top_n=top_n, rank_by=rank_by,
            rank_bootstrap=rank_bootstrap, resample_years=resample_years, seed=seed, n_jobs=n_jobs, client=client,
            progress=progress)


def _robustness(data_or_fit: Any, *, spec: Any, level: Any, years: Any, estimate_options: Any, variants: Any,
                bootstrap: Any, n_boot: int, wild_weights: str, n_placebo: int, commuting_years: Any,
                min_shares: Any, top_ks: Any, diagonal: bool, contiguity: Any, estimators: Any, ci: float,
                top_n: int, rank_by: str, rank_bootstrap: Any, resample_years: bool, seed: int, n_jobs: int,
                client: Any, progress: bool) -> RobustnessResults:
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    # ----------------------------------------------------------- validate options
    if not 0 < ci < 1:
        raise InputError(f"ci must be in (0, 1), got {ci}")
    fams = list(FAMILIES) if variants is None else _check_choice(variants, FAMILIES, "robustness variant(s)")
    explicit = set() if variants is None else set(fams)
    boot_methods = _check_choice(bootstrap, BOOTSTRAP_METHODS, "bootstrap method(s)") if "bootstrap" in fams else []
    if wild_weights not in WILD_WEIGHTS:
        raise InputError(f"unknown wild_weights {wild_weights!r}; choose from {list(WILD_WEIGHTS)}")
    est_list = list(ESTIMATORS) if estimators is None else _check_choice(estimators, ESTIMATORS, "estimator(s)")
    if rank_by not in ("residual", "residual_persons"):
        raise InputError(f"rank_by must be 'residual' or 'residual_persons', got {rank_by!r}")
    n_boot, n_placebo, top_n = int(n_boot), int(n_placebo), int(top_n)
    if boot_methods and n_boot < _min_reps(ci):
        raise InputError(f"n_boot={n_boot} is too few for {ci:.0%} percentile intervals: at least "
                         f"{_min_reps(ci)} replications are needed (999 recommended)")
    if "placebo" in fams and n_placebo != 0 and n_placebo < 19:
        raise InputError(f"n_placebo={n_placebo} is too few: at least 19 permutations are needed for a p-value "
                         "of 0.05 (199 recommended), or 0 to skip the placebo")
    if rank_bootstrap is not None and rank_bootstrap not in boot_methods:
        raise InputError(f"rank_bootstrap={rank_bootstrap!r} is not among the bootstrap methods run {boot_methods}")
    rank_method = rank_bootstrap or (boot_methods[0] if boot_methods else None)
    bad_shares = [s for s in min_shares if not 0 < float(s) < 1]
    if bad_shares:
        raise InputError(f"min_shares must lie in (0, 1); got {bad_shares}")
    bad_k = [k for k in top_ks if int(k) < 1]
    if bad_k:
        raise InputError(f"top_ks must be positive integers; got {bad_k}")
    workers = _n_workers(n_jobs)
    if top_n < 1:
        raise InputError(f"top_n must be >= 1, got {top_n}")

    # ----------------------------------------------------------- baseline
    t0 = time.perf_counter()
    if isinstance(data_or_fit, AttractivenessResults):
        given = {k: v for k, v in (("spec", spec), ("level", level), ("years", years),
                                   ("estimate_options", estimate_options)) if v is not None}
        if given:
            raise InputError(f"{sorted(given)} apply when data are given; a fit carries its own "
                             "(pass the PanelData instead, or estimate the baseline you want)")
        fit = data_or_fit
    elif isinstance(data_or_fit, PanelData):
        fit = estimate(_own_copy(data_or_fit), "2022" if spec is None else spec, level=level or "municipality",
                       years=years, **dict(estimate_options or {}))
    else:
        raise TypeError(f"data_or_fit must be a PanelData or the result of geoattr.estimate, "
                        f"{type(data_or_fit).__name__} was given")
    opts = dict(fit.options)
    f_spec = opts.pop("spec")
    opts.pop("years", None)
    cy = opts.pop("commuting_year", "same")
    weighted = bool(opts.pop("weighted", False))
    cov_type = opts.pop("cov_type", "clustered")
    unit_data = _own_copy(fit.unit_data)
    est_data = unit_data if fit.data is fit.unit_data else _own_copy(fit.data)
    est_design, unit_design = fit.design, fit.unit_design
    yrs = tuple(int(v) for v in fit.unit_design.years)
    est_units = pd.Index(pd.unique(est_design.y.index.get_level_values("unit")), name="unit")
    problem = _problem(est_design.X.to_numpy(float), est_design.y.to_numpy(float),
                       est_design.y.index.get_level_values("unit").to_numpy(),
                       est_design.population.to_numpy(float) if weighted else None)
    sums = _unit_sums(unit_design, by=rank_by, per_year=resample_years)
    units = sums.units
    n_top = min(top_n, len(units) // 2)
    if n_top < 1:
        raise InputError(f"rank stability needs at least two units; the data have {len(units)}")
    base_cum = sums.cum(fit.results.params.reindex(sums.terms).to_numpy())
    base_rank = _ranks(base_cum)[0]
    flow_cols = [i for i, c in enumerate(est_design.X.columns) if c.split("_l")[0] in _FLOW_TERMS]
    fast_placebo = bool(flow_cols) and all(est_design.X.columns[i].startswith("vra") for i in flow_cols)
    pos = _placebo_pos(est_design, est_units) if fast_placebo else None
    fast_placebo = fast_placebo and pos is not None
    state = _State(spec=f_spec, level=fit.level, years=yrs, commuting_year=cy, weighted=weighted, cov_type=cov_type,
                   design_opts=opts, unit_data=unit_data, est_data=est_data, est_design=est_design,
                   unit_design=unit_design, problem=problem, rank_by=rank_by, units=units, seed=int(seed),
                   wild_weights=wild_weights, n_years_resample=(yrs[1] - yrs[0] + 1) if resample_years else 0,
                   placebo_fast=fast_placebo, placebo_cols=flow_cols, placebo_pos=pos, est_units=est_units)
    skipped: dict[str, str] = {}
    notes: list[str] = list(dict.fromkeys(est_design.notes))

    # ----------------------------------------------------------- what can run
    if "loro" in fams:
        has_regions = fit.level == "region" or unit_data.regions is not None
        if not has_regions:
            if "loro" in explicit:
                raise InputError("leave-one-region-out needs a unit -> region mapping: pass regions= to "
                                 "PanelData(...), or leave 'loro' out of variants")
            fams.remove("loro")
            skipped["loro"] = "no unit -> region mapping in the data"
    if "placebo" in fams and (n_placebo == 0 or not flow_cols):
        fams.remove("placebo")
        skipped["placebo"] = ("n_placebo = 0" if n_placebo == 0 else
                              f"the specification has no term built from the commuting flows {list(_FLOW_TERMS)}")
    if "bootstrap" in fams and not boot_methods:
        fams.remove("bootstrap")
    if "weights" in fams and not flow_cols:
        if "weights" in explicit:
            raise InputError(f"the weights variants change the commuting weights, but the specification has no "
                             f"term built from them {list(_FLOW_TERMS)}")
        fams.remove("weights")
        skipped["weights"] = f"the specification has no term built from the commuting flows {list(_FLOW_TERMS)}"

    variant_tasks: list[tuple] = []
    if "weights" in fams:
        if unit_data.flows is None:
            raise InputError("the weights variants need commuting flows in the data")
        available = sorted(int(y) for y in pd.unique(est_data.flows["year"]))
        cys = [available[0], available[-1]] if commuting_years is None else [int(y) for y in commuting_years]
        missing = [y for y in cys if y not in available]
        if missing:
            raise InputError(f"commuting_years {format_ids(missing)} have no commuting matrix; available years: "
                             f"{available[0]}-{available[-1]}")
        w_specs: list[tuple[str, dict[str, Any]]] = []
        for y in dict.fromkeys(cys):
            if y != cy:
                w_specs.append((f"commuting_year={y}", {"commuting_year": y}))
        if cy != "same":
            w_specs.append(("commuting_year=same", {"commuting_year": "same"}))
        for s in dict.fromkeys(float(v) for v in min_shares):
            if s != float(opts.get("min_share", 0.0)):
                w_specs.append((f"min_share={s:g}", {"min_share": s}))
        for k in dict.fromkeys(int(v) for v in top_ks):
            if k != opts.get("top_k"):
                w_specs.append((f"top_k={k}", {"top_k": k}))
        if diagonal:
            inc = bool(opts.get("include_diagonal", True))
            w_specs.append(("no_diagonal" if inc else "with_diagonal", {"include_diagonal": not inc}))
        use_contig = (unit_data.polygons is not None) if contiguity is None else bool(contiguity)
        if use_contig:
            if unit_data.polygons is None:
                raise InputError("contiguity=True needs polygons in the data: pass polygons= to PanelData(...)")
            w_specs.append(("contiguity", {"contiguity": True}))
        elif contiguity is None:
            skipped["weights:contiguity"] = "the data have no polygons"
        variant_tasks += [("variant", "weights", n, tuple(sorted(o.items()))) for n, o in w_specs]
    if "estimators" in fams:
        for e in est_list:
            if e == "year_effects":
                name = "no_year_effects" if opts.get("year_effects", False) else "year_effects"
            elif e == "weighted":
                name = "ols" if weighted else "wls"
            elif e == "level":
                if fit.level == "region":
                    name = "municipality_level"
                elif unit_data.regions is None:
                    skipped["estimators:region_level"] = "no unit -> region mapping in the data"
                    continue
                else:
                    name = "region_level"
            else:
                name = e
            variant_tasks.append(("variant", "estimators", name, ()))
    tasks: list[tuple] = list(variant_tasks)
    placebo_chunk = 50 if fast_placebo else 4
    if "placebo" in fams:
        tasks += [("placebo", s, min(s + placebo_chunk, n_placebo)) for s in range(0, n_placebo, placebo_chunk)]
    if "bootstrap" in fams:
        size = max(25, math.ceil(n_boot / (4 * max(workers, 1))))
        for m in boot_methods:
            tasks += [("boot", m, s, min(s + size, n_boot)) for s in range(0, n_boot, size)]
    if not variant_tasks and (fast_placebo or "placebo" not in fams):
        state.unit_data = state.est_data = None  # the tasks need only the design arrays: ship less
    timings["setup"] = round(time.perf_counter() - t0, 4)

    # ----------------------------------------------------------- run
    t0 = time.perf_counter()
    raw = _execute(tasks, state, n_jobs=workers, client=client, progress=progress)
    timings["tasks"] = round(time.perf_counter() - t0, 4)

    # ----------------------------------------------------------- assemble
    t0 = time.perf_counter()
    q = float(stats.t.ppf(0.5 + ci / 2, fit.results.df_resid))
    alpha = (1 - ci) / 2
    coef_rows: list[pd.DataFrame] = []
    stab_rows: list[dict[str, Any]] = []
    bparams, bse = _with_sum(fit.results.params, fit.results.cov)
    base_ci = _ci_rows("baseline", "baseline", bparams, bse, q, fit.results.nobs)
    coef_rows.append(base_ci)
    base_fit = least_squares(problem.X, problem.y, obs_weights=problem.w, cov_type=None)
    stab_rows.append({"kind": "baseline", "variant": "baseline", "nobs": fit.results.nobs, "r2": base_fit.r2,
                      "loglik": base_fit.loglik, "spearman": 1.0, "top_kept": 1.0, "bottom_kept": 1.0, "n": 1})
    terms = list(est_design.X.columns)

    def add_variant(kind: str, name: str, params: pd.Series, cov: pd.DataFrame | None, nobs: int, r2: float,
                    loglik: float, cum: np.ndarray | None, df: float | None, dist: str = "t") -> None:
        p, se = _with_sum(params, cov)
        qq = float(stats.norm.ppf(0.5 + ci / 2)) if dist == "normal" or df is None else \
            float(stats.t.ppf(0.5 + ci / 2, df))
        coef_rows.append(_ci_rows(kind, name, p, se, qq, nobs))
        row = {"kind": kind, "variant": name, "nobs": nobs, "r2": r2, "loglik": loglik, "spearman": np.nan,
               "top_kept": np.nan, "bottom_kept": np.nan, "n": 1}
        if cum is not None and np.isfinite(cum).all():
            rho, top, bot = _stability(base_rank, _ranks(cum), n_top)
            row.update(spearman=float(rho[0]), top_kept=float(top[0]), bottom_kept=float(bot[0]))
        stab_rows.append(row)

    # bootstrap
    boot_draws: dict[str, pd.DataFrame] = {}
    rank_intervals = pd.DataFrame()
    for m in boot_methods if "bootstrap" in fams else []:
        parts = sorted((t for t in raw if t[0] == "boot" and t[1] == m), key=lambda t: t[2])
        B = np.vstack([raw[t][0] for t in parts])
        yc = np.vstack([raw[t][1] for t in parts]) if resample_years else None
        ok = np.isfinite(B).all(axis=1)
        if (~ok).any():
            notes.append(f"bootstrap {m}: {int((~ok).sum())} of {n_boot} replications were collinear and left out")
        draws = _sum_draws(pd.DataFrame(B, columns=terms, index=pd.RangeIndex(n_boot, name="replication")))
        boot_draws[m] = draws
        good = draws[ok]
        lo, hi = good.quantile(alpha), good.quantile(1 - alpha)
        coef_rows.append(pd.DataFrame({"kind": "bootstrap", "variant": m, "term": bparams.index,
                                       "estimate": bparams.to_numpy(), "std_error": good.std().reindex(bparams.index).to_numpy(),
                                       "lower": lo.reindex(bparams.index).to_numpy(),
                                       "upper": hi.reindex(bparams.index).to_numpy(), "n": int(ok.sum())}))
        cums = sums.cum_resampled(B[ok], yc[ok]) if resample_years else sums.SY[None, :] - B[ok] @ sums.SX.T
        ranks = _ranks(cums)
        rho, top, bot = _stability(base_rank, ranks, n_top)
        stab_rows.append({"kind": "bootstrap", "variant": m, "nobs": fit.results.nobs, "r2": np.nan, "loglik": np.nan,
                          "spearman": float(np.median(rho)), "top_kept": float(top.mean()),
                          "bottom_kept": float(bot.mean()), "n": int(ok.sum())})
        if m == rank_method:
            rank_intervals = pd.DataFrame({
                "name": unit_data.names.reindex(units).to_numpy(), "residual": base_cum, "rank": base_rank,
                "lower": np.quantile(ranks, alpha, axis=0, method="lower"),
                "median": np.median(ranks, axis=0),
                "upper": np.quantile(ranks, 1 - alpha, axis=0, method="higher"),
                "p_top": (ranks <= n_top).mean(axis=0), "p_bottom": (ranks > len(units) - n_top).mean(axis=0),
            }, index=units)

    # leave one year / region out: subsets of the estimation design
    est_unit_of_row = est_design.y.index.get_level_values("unit")
    if "loyo" in fams or "loro" in fams:
        groups: list[tuple[str, str, np.ndarray]] = []
        if "loyo" in fams:
            yr = est_design.y.index.get_level_values("year").to_numpy()
            groups += [("loyo", f"loyo:{t}", yr != t) for t in range(yrs[0], yrs[1] + 1)]
        if "loro" in fams:
            reg = est_unit_of_row if fit.level == "region" else est_unit_of_row.map(unit_data.region_of())
            reg = np.asarray(reg, dtype=object)
            groups += [("loro", f"loro:{r}", reg != r) for r in sorted(pd.unique(reg), key=str)]
        for kind, name, keep in groups:
            X = problem.X[keep]
            dropped_cols = [i for i in range(X.shape[1]) if not X[:, i].any()]
            cols = [i for i in range(X.shape[1]) if i not in dropped_cols]
            try:
                if cov_type in ("clustered", "robust", "unadjusted"):
                    f = least_squares(X[:, cols], problem.y[keep], obs_weights=None if problem.w is None else problem.w[keep],
                             groups=problem.groups[keep], cov_type=cov_type)
                    cterms = [terms[i] for i in cols]
                    params = pd.Series(f.params, index=cterms)
                    cov = pd.DataFrame(f.cov, index=cterms, columns=cterms)
                    r2, ll, nobs, df = f.r2, f.loglik, f.nobs, f.df_resid
                else:
                    sub = Design(y=est_design.y[keep], X=est_design.X[keep].iloc[:, cols],
                                 population=est_design.population[keep], spec=est_design.spec,
                                 level=est_design.level, years=est_design.years)
                    r = LeastSquares(sub, weighted=weighted).fit(cov_type=cov_type)
                    params, cov, r2, ll, nobs, df = r.params, r.cov, r.rsquared, r.loglik, r.nobs, r.df_resid
            except (np.linalg.LinAlgError, InputError, ValueError) as err:
                skipped[name] = f"{type(err).__name__}: {err}"
                continue
            b_full = params.reindex(sums.terms).fillna(0.0).to_numpy()  # an unidentified dummy counts as 0
            add_variant(kind, name, params, cov, nobs, r2, ll, sums.cum(b_full), df)

    # weights and estimator variants
    for t in [t for t in tasks if t[0] == "variant"]:
        _, kind, name, _o = t
        res = raw[t]
        if "error" in res:
            skipped[f"{kind}:{name}"] = res["error"]
            continue
        notes += [n for n in res.get("notes", []) if n not in notes]
        add_variant(kind, name, res["params"], res["cov"], res["nobs"], res["r2"], res["loglik"], res.get("cum"),
                    res.get("df"), res.get("dist", "t"))

    # placebo
    placebo = pd.DataFrame()
    placebo_draws = pd.DataFrame()
    if "placebo" in fams:
        parts = sorted((t for t in raw if t[0] == "placebo"), key=lambda t: t[1])
        P = np.vstack([raw[t] for t in parts])
        placebo_draws = _sum_draws(pd.DataFrame(P, columns=terms + ["r2", "loglik"],
                                                index=pd.RangeIndex(n_placebo, name="replication")))
        good = placebo_draws.dropna()
        if len(good) < n_placebo:
            notes.append(f"placebo: {n_placebo - len(good)} permutation(s) gave collinear designs and were left out")
        obs = pd.concat([pd.Series(base_fit.params, index=terms), pd.Series({"r2": base_fit.r2,
                                                                             "loglik": base_fit.loglik})])
        if "vra_sum" in placebo_draws.columns:
            obs["vra_sum"] = obs[list(_VRA_SUM)].sum()
        order = ["r2", "loglik"] + terms + (["vra_sum"] if "vra_sum" in obs.index else [])
        rows = {}
        R = len(good)
        for stat in order:
            v = good[stat].to_numpy()
            o = float(obs[stat])
            if stat in ("r2", "loglik"):
                p = (1 + (v >= o).sum()) / (1 + R)
            else:
                p = min(1.0, 2 * min(1 + (v >= o).sum(), 1 + (v <= o).sum()) / (1 + R))
            rows[stat] = {"observed": o, "placebo_mean": float(v.mean()), "placebo_sd": float(v.std(ddof=1)),
                          "lower": float(np.quantile(v, alpha)), "upper": float(np.quantile(v, 1 - alpha)),
                          "percentile": float(100 * (v < o).mean()), "p_value": float(p), "n": R}
        placebo = pd.DataFrame.from_dict(rows, orient="index").rename_axis("statistic")
        pt = placebo.loc[[t for t in bparams.index if t in placebo.index]]
        coef_rows.append(pd.DataFrame({"kind": "placebo", "variant": "placebo", "term": pt.index,
                                       "estimate": pt["placebo_mean"].to_numpy(),
                                       "std_error": pt["placebo_sd"].to_numpy(), "lower": pt["lower"].to_numpy(),
                                       "upper": pt["upper"].to_numpy(), "n": R}))
        notes.append("placebo: the estimation-level commuting matrix's rows permuted across units "
                     f"({'the commuting-weighted columns permuted in the design' if fast_placebo else 'design rebuilt'})")

    coefficients = pd.concat(coef_rows, ignore_index=True)[
        ["kind", "variant", "term", "estimate", "std_error", "lower", "upper", "n"]]
    rank_stability = pd.DataFrame(stab_rows)[["kind", "variant", "nobs", "r2", "loglik", "spearman", "top_kept",
                                              "bottom_kept", "n"]]
    timings["assemble"] = round(time.perf_counter() - t0, 4)
    timings["total"] = round(time.perf_counter() - t_start, 4)
    settings = {"spec": fit.spec, "level": fit.level, "years": list(yrs), "variants": fams,
                "bootstrap": boot_methods, "n_boot": n_boot if boot_methods else 0, "wild_weights": wild_weights,
                "n_placebo": n_placebo if "placebo" in fams else 0, "ci": ci, "top_n": n_top, "rank_by": rank_by,
                "rank_bootstrap": rank_method, "resample_years": resample_years, "seed": int(seed),
                "clusters": int(problem.G), "backend": "dask" if client is not None else
                ("serial" if workers == 1 else f"processes ({workers})"), "cov_type": cov_type,
                "weighted": weighted}
    return RobustnessResults(
        coefficients=coefficients, rank_stability=rank_stability, rank_intervals=rank_intervals,
        placebo=placebo, bootstrap_draws=boot_draws, placebo_draws=placebo_draws, baseline=fit, settings=settings,
        skipped=skipped, notes=notes, timings=timings,
    )


# =========================================================================== run configuration
_CONFIG_TYPES: dict[str, Any] = {
    "enabled": bool, "variants": list, "bootstrap": list, "n_boot": int, "wild_weights": str, "n_placebo": int,
    "commuting_years": list, "min_shares": list, "top_ks": list, "diagonal": bool, "contiguity": bool,
    "estimators": list, "ci": float, "top_n": int, "rank_by": str, "rank_bootstrap": str, "resample_years": bool,
    "seed": int, "n_jobs": int, "figures": bool, "figure_format": (str, list),
}


def check_robustness_config(rcfg: Mapping[str, Any]) -> None:
    """Raise :class:`InputError` naming unknown keys or values of the wrong type in ``[robustness]``."""
    bad = sorted(set(rcfg) - CONFIG_KEYS)
    if bad:
        raise InputError(f"unknown key(s) {bad} in [robustness]; allowed: {sorted(CONFIG_KEYS)}")
    for k, v in rcfg.items():
        want = _CONFIG_TYPES[k]
        ok = isinstance(v, want) and not (want is int and isinstance(v, bool))
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            ok = True
        if not ok:
            name = " or ".join(t.__name__ for t in want) if isinstance(want, tuple) else want.__name__
            raise InputError(f"[robustness] {k} must be {name}, got {v!r}")
    fmt = rcfg.get("figure_format", "png")
    fmts = [fmt] if isinstance(fmt, str) else list(fmt)
    if not fmts or any(f not in ("png", "svg") for f in fmts):
        raise InputError(f"[robustness] figure_format must be \"png\", \"svg\" or a list of them, got {fmt!r}")


def run_robustness_from_config(
    main_fit: AttractivenessResults,
    data: PanelData,
    rcfg: Mapping[str, Any],
    out: Path,
    files: dict[str, Path],
    *,
    progress: bool,
) -> dict[str, Any]:
    """Run the ``[robustness]`` section of a run: write the tables and figures, return facts for run.json.

    Parameters
    ----------
    main_fit : AttractivenessResults
        The run's main model (the baseline).
    data : PanelData
        The run's data (``main_fit.unit_data``; used for names).
    rcfg : mapping
        The section; keys in :data:`CONFIG_KEYS` (``enabled`` is the pipeline's switch).
        The others map to the keyword arguments of :func:`robustness` of the same name;
        ``figures`` (default true) and ``figure_format`` (``"png"``, ``"svg"`` or a list of
        them; default both) control the figures, written to ``out/figures/``.
    out : Path
        Output folder.
    files : dict[str, Path]
        Updated in place with the files written: ``robustness``, ``rank_stability``,
        ``rank_intervals``, ``placebo``, ``figure_robustness_coefficients_<fmt>`` and
        ``figure_rank_intervals_<fmt>`` for each figure format.
    progress : bool
        Show the progress bar.

    Returns
    -------
    dict
        ``{"robustness": RobustnessResults.to_dict()}``.
    """
    check_robustness_config(rcfg)
    kw = {k: v for k, v in rcfg.items() if k not in ("enabled", "figures", "figure_format")}
    for k in ("commuting_years", "min_shares", "top_ks", "variants", "bootstrap", "estimators"):
        if k in kw:
            kw[k] = list(kw[k])
    if not main_fit.unit_data.units.equals(data.units):
        raise InputError("the main fit was estimated on other units than the run's data")
    res = robustness(main_fit, progress=progress, **kw)
    out = Path(out)
    files.update(res.to_csv(out))
    if rcfg.get("figures", True):
        fmts = rcfg.get("figure_format", ["png", "svg"])
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for fmt in [fmts] if isinstance(fmts, str) else list(fmts):
            files[f"figure_robustness_coefficients_{fmt}"] = out / "figures" / f"robustness_coefficients.{fmt}"
            res.plot_coefficients(files[f"figure_robustness_coefficients_{fmt}"])
            if not res.rank_intervals.empty:
                files[f"figure_rank_intervals_{fmt}"] = out / "figures" / f"rank_intervals.{fmt}"
                res.plot_rank_intervals(files[f"figure_rank_intervals_{fmt}"])
    return {"robustness": res.to_dict()}
