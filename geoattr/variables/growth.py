"""Job growth terms: relative job growth ``RA``, commuting-weighted growth ``VRA`` and neighbour growth ``NV``.

``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]``: lag *k* uses the weights and the job growth
of year *t-k* (MODEL.md).  One computation, :func:`weighted_lags` (one sparse product per
year), serves both entry points: :func:`weighted_growth` on labelled pandas data and a
:class:`~geoattr.weights.CommutingWeights`, and :func:`vra_sparse` on an ``N x T`` array and
CSR / :class:`~geoattr.weights.SparseWeights` (N up to 10^6 units, no pandas index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from geoattr import weights as gw
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.weights import SparseWeights

__all__ = [
    "CommutingYear",
    "to_wide",
    "to_long",
    "relative_job_growth",
    "relative_job_growth_array",
    "commuting_weights",
    "weighted_lags",
    "weighted_growth",
    "vra_sparse",
    "own_neighbour_growth",
]

CommutingYear = int | Literal["same"]


def to_wide(s: pd.Series) -> pd.DataFrame:
    """(unit, year) Series -> units x years frame."""
    return s.unstack("year")


def to_long(df: pd.DataFrame, name: str) -> pd.Series:
    """Units x years frame -> Series ``name`` on the (unit, year) index."""
    out = df.stack(future_stack=True) if hasattr(df, "stack") else df
    out.index = out.index.set_names(["unit", "year"])
    return out.rename(name)


def relative_job_growth(jobs: pd.Series) -> pd.Series:
    """Relative job growth ``RA``: local growth minus national growth, in percent.

    ``RA[i,t] = 100*(E[i,t]/E[i,t-1] - 1) - 100*(E[.,t]/E[.,t-1] - 1)`` where ``E[.,t]``
    is the sum over all units in ``jobs``.  The first year (and any year whose previous
    year is absent) is NaN.

    Parameters
    ----------
    jobs : pandas.Series
        Jobs by workplace on the (unit, year) index.

    Returns
    -------
    pandas.Series
        Named ``ra`` on the (unit, year) index.
    """
    wide = to_wide(jobs).sort_index(axis=1)
    years = wide.columns.to_numpy()
    prev = wide.shift(1, axis=1)
    consecutive = np.r_[False, np.diff(years) == 1]
    local = 100.0 * (wide / prev - 1.0)
    total = wide.sum(axis=0, min_count=1)
    national = 100.0 * (total / total.shift(1) - 1.0)
    ra = local.sub(national, axis=1)
    ra.loc[:, ~consecutive] = np.nan
    return to_long(ra, "ra")


def relative_job_growth_array(jobs: np.ndarray) -> np.ndarray:
    """Relative job growth ``RA`` of an ``N x T`` jobs array (consecutive years in columns).

    ``RA[i,t] = 100*(E[i,t]/E[i,t-1] - 1) - 100*(E[.,t]/E[.,t-1] - 1)`` with ``E[.,t]``
    the sum over units (NaN cells skipped, as :func:`relative_job_growth`); the first
    column is NaN.

    Parameters
    ----------
    jobs : numpy.ndarray
        Jobs by workplace, shape ``(N, T)``; not modified.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, T)``.
    """
    E = np.asarray(jobs, dtype=float)
    if E.ndim != 2:
        raise InputError(f"jobs must be an N x T array (units x consecutive years), got shape {E.shape}")
    out = np.full(E.shape, np.nan)
    if E.shape[1] < 2:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        local = 100.0 * (E[:, 1:] / E[:, :-1] - 1.0)
        tot = np.nansum(E, axis=0)
        tot[np.all(np.isnan(E), axis=0)] = np.nan
        national = 100.0 * (tot[1:] / tot[:-1] - 1.0)
    out[:, 1:] = local - national[None, :]
    return out


def commuting_weights(
    data: PanelData,
    years: Sequence[int],
    *,
    commuting_year: CommutingYear = "same",
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
    as_graph: bool = True,
) -> gw.CommutingWeights:
    """Commuting weights for each year in ``years`` from ``data.flows``.

    Parameters
    ----------
    data : PanelData
        Needs ``flows``.
    years : sequence of int
        Years for which a matrix is wanted.
    commuting_year : int or "same", default "same"
        ``"same"``: each year's own matrix, the nearest available year when a year has
        none (ties: the earlier).  An integer: that one year's matrix for every year.
    min_share, top_k, include_diagonal
        Passed to :func:`geoattr.weights.commuting` (rows renormalised afterwards).
    as_graph : bool, default True
        Graphs; False: :class:`~geoattr.weights.SparseWeights` on ``data.units`` (the
        same shares; what the designs, the decomposition and the forecasts use).

    Returns
    -------
    geoattr.weights.CommutingWeights
        Mapping year -> Graph (SparseWeights with ``as_graph=False``) with
        ``substitutions`` (requested year -> year used).
    """
    if data.flows is None:
        raise InputError("commuting flows are needed for VRA/NV/AMI: pass flows= to PanelData(...)")
    fixed = None if commuting_year == "same" else int(commuting_year)
    key = ("weights", tuple(years), fixed, min_share, top_k, include_diagonal, as_graph)
    # one memo of the matrices by source year, shared by the designs of other year ranges
    built = data.cached(("weights", "by source year", min_share, top_k, include_diagonal, as_graph), dict)
    return data.cached(key, lambda: gw.commuting_by_year(
        data.flows,
        years,
        fixed_year=fixed,
        built=built,
        prepared=data.cached(("weights", "prepared flows"), dict),
        ids=data.units,
        min_share=min_share,
        top_k=top_k,
        include_diagonal=include_diagonal,
        as_graph=as_graph,
    ))


def weighted_lags(
    weights: sparse.spmatrix | Sequence[sparse.spmatrix], ra: np.ndarray, *, lags: Sequence[int], name: str,
) -> dict[str, np.ndarray]:
    """``W_{t-k} @ RA[:, t-k]`` for each lag *k*: the one VRA computation (arrays in, arrays out).

    Parameters
    ----------
    weights : CSR matrix or a sequence of T of them
        ``N x N`` (W); one for every column of ``ra``, or one per column.
    ra : numpy.ndarray
        ``N x T`` growth, consecutive years in columns.
    lags : sequence of int
        Each >= 0.
    name : str
        Keys ``name``, ``name_l1``, ...

    Returns
    -------
    dict of str -> numpy.ndarray
        Each ``N x T``; the first *k* columns of lag *k* are NaN.
    """
    N, T = ra.shape
    if sparse.issparse(weights):
        base = weights @ ra  # N x T at once; a NaN growth spreads to the rows weighting it, as in the Graph path
    else:
        base = np.column_stack([weights[t] @ ra[:, t] for t in range(T)]) if T else np.empty((N, 0))
    out: dict[str, np.ndarray] = {}
    for k in lags:
        arr = np.full((N, T), np.nan)
        if k < T:
            arr[:, k:] = base[:, : T - k]
        out[name if k == 0 else f"{name}_l{k}"] = arr
    return out


def weighted_growth(
    ra: pd.Series,
    weights: gw.CommutingWeights,
    *,
    years: tuple[int, int],
    lags: Sequence[int] = (0, 1, 2),
    name: str = "vra",
) -> pd.DataFrame:
    """Commuting-weighted relative job growth ``VRA`` and its lags.

    ``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]``: lag *k* uses the weights and job
    growth of year *t-k*.

    Parameters
    ----------
    ra : pandas.Series
        Relative job growth on (unit, year), from :func:`relative_job_growth`.
    weights : geoattr.weights.CommutingWeights
        Must contain every year from ``years[0] - max(lags)`` to ``years[1]`` (Graphs or
        SparseWeights).
    years : (int, int)
        Inclusive range of the dependent variable's years.
    lags : sequence of int, default (0, 1, 2)
    name : str, default "vra"
        Base column name; lags get ``_l1``, ``_l2``.

    Returns
    -------
    pandas.DataFrame
        Columns ``vra``, ``vra_l1``, ``vra_l2`` on the (unit, year) index.
    """
    units = pd.Index(ra.index.get_level_values("unit").unique())
    wide = to_wide(ra).reindex(units)
    first, last = years
    lags = [int(k) for k in lags]
    span = list(range(first - max(lags), last + 1))
    ra_arr = np.column_stack([wide[t].to_numpy(dtype=float) for t in span])
    mats = [gw.as_sparse(weights[t], units) for t in span]
    arrays = weighted_lags(mats, ra_arr, lags=lags, name=name)
    keep = slice(max(lags), None)  # the columns of years first..last
    return pd.DataFrame({col: to_long(pd.DataFrame(arr[:, keep], index=units, columns=span[keep]), col)
                         for col, arr in arrays.items()})


def vra_sparse(
    weights: sparse.spmatrix | SparseWeights | Sequence[sparse.spmatrix | SparseWeights],
    jobs: np.ndarray,
    *,
    lags: Sequence[int] = (0, 1, 2),
    name: str = "vra",
) -> dict[str, np.ndarray]:
    """Commuting-weighted relative job growth ``VRA`` and its lags with sparse products.

    ``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]``: lag *k* uses the weights and the job
    growth of year *t-k* (MODEL.md), so ``VRA_lk[:, t] = VRA_l0[:, t-k]``.  One sparse
    matrix-vector product per year; memory ``O(nnz + N T)``, never ``N x N``.

    Parameters
    ----------
    weights : CSR matrix, SparseWeights, or a sequence of T of them
        ``N x N`` commuting weights in the row order of ``jobs``: one matrix for every
        year, or one per column of ``jobs`` (year-specific weights).
    jobs : numpy.ndarray
        Jobs by workplace, ``N x T``, consecutive years in columns; not modified.
    lags : sequence of int, default (0, 1, 2)
    name : str, default "vra"
        Keys ``name``, ``name_l1``, ``name_l2``, ...

    Returns
    -------
    dict of str -> numpy.ndarray
        Each ``N x T``; columns whose year *t-k* has no relative growth (``t-k < 1``) are
        NaN.  Equal to :func:`weighted_growth` on the same data.
    """
    ra = relative_job_growth_array(np.asarray(jobs, dtype=float))
    N, T = ra.shape
    lags = [int(k) for k in lags]
    if any(k < 0 for k in lags):
        raise InputError(f"lags must be >= 0, got {lags}")

    def as_csr(m: sparse.spmatrix | SparseWeights) -> sparse.csr_matrix:
        m = m.matrix if isinstance(m, SparseWeights) else m
        if not sparse.issparse(m):
            raise InputError(f"weights must be scipy.sparse matrices or SparseWeights, got {type(m).__name__}")
        if m.shape != (N, N):
            raise InputError(f"the weights matrix W is {m.shape[0]} x {m.shape[1]} but jobs has {N} units (rows)")
        return sparse.csr_matrix(m)

    if isinstance(weights, SparseWeights) or sparse.issparse(weights):
        return weighted_lags(as_csr(weights), ra, lags=lags, name=name)
    Ws = list(weights)
    if len(Ws) != T:
        raise InputError(f"{len(Ws)} weight matrices for {T} years (columns of jobs): pass one or T")
    return weighted_lags([as_csr(m) for m in Ws], ra, lags=lags, name=name)


def own_neighbour_growth(
    ra: pd.Series,
    weights: gw.CommutingWeights,
    *,
    years: tuple[int, int],
    lags: Sequence[int] = (0, 1, 2),
    renormalise: bool = True,
) -> pd.DataFrame:
    """Own and neighbour job growth.

    Own part ``own = w[i,i] * RA[i]``; neighbour part ``NV = sum_{j!=i} w[i,j] RA[j]``,
    renormalised over *j != i* when ``renormalise`` (the 2018 specification) or not
    (then ``own + nv_raw = vra``, which the decomposition uses).  Lag *k* uses the
    weights and growth of year *t-k*.

    Returns
    -------
    pandas.DataFrame
        Columns ``nv``, ``nv_l1``, ... (and ``own``, ``own_l1``, ... when
        ``renormalise`` is False) on the (unit, year) index.
    """
    units = pd.Index(ra.index.get_level_values("unit").unique())
    wide = to_wide(ra).reindex(units)
    first, last = years
    nv_base, own_base = {}, {}
    for t in range(first - max(lags), last + 1):
        w = gw.as_sparse(weights[t], units)
        diag = w.diagonal()
        r = wide[t].to_numpy(dtype=float)
        off = w @ r - diag * r
        if renormalise:
            denom = 1.0 - diag
            with np.errstate(invalid="ignore", divide="ignore"):
                off = np.where(denom > 1e-12, off / np.where(denom > 1e-12, denom, 1.0), 0.0)
        nv_base[t] = off
        own_base[t] = diag * r
    out = {}
    nv_df, own_df = pd.DataFrame(nv_base, index=units), pd.DataFrame(own_base, index=units)
    for k in lags:
        sfx = "" if k == 0 else f"_l{k}"
        out["nv" + sfx] = to_long(pd.DataFrame({t: nv_df[t - k] for t in range(first, last + 1)}, index=units),
                                  "nv" + sfx)
        if not renormalise:
            out["own" + sfx] = to_long(
                pd.DataFrame({t: own_df[t - k] for t in range(first, last + 1)}, index=units), "own" + sfx
            )
    return pd.DataFrame(out)
