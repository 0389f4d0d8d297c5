"""Spatial lags of panel data: weights over units applied within each year.

:func:`spatial_lag` gives ``W x`` of a (unit, year) series; :func:`panel_weights` the
sparse block matrix ``W`` over the observations of a (unit, year) sample (the spatial
weights applied within each year), which the spatial models and diagnostics use.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse

from geoattr._format import format_ids
from geoattr.exceptions import InputError, WeightsSubsetWarning
from geoattr.typing import WeightsLike
from geoattr.weights.sparse import as_sparse, id_mismatch_hint, sparse_row_standardise

__all__ = ["panel_weights", "data_weights", "spatial_lag"]


def spatial_lag(s: pd.Series, weights: WeightsLike) -> pd.Series:
    """Spatial lag ``W x`` within each year.

    Parameters
    ----------
    s : pandas.Series
        On the (unit, year) index.
    weights : libpysal.graph.Graph or SparseWeights
        Weights whose ids are the units (rows as stored: pass a row-standardised graph
        for averages of neighbours).

    Returns
    -------
    pandas.Series
        Named ``W_<name>``; a unit's neighbours must be observed in the same year
        (error naming the missing (unit, year) pairs otherwise).
    """
    units = pd.Index(weights.unique_ids)
    wide = s.unstack(level=1)
    missing = sorted(set(units) - set(wide.index))
    if missing:
        raise InputError(f"{len(missing)} unit(s) of the weights are not in the data: {format_ids(missing)}"
                         f"{id_mismatch_hint(wide.index, units)}; pass weights over the data's units "
                         "(geoattr.weights.align(weights, ids) subsets them)")
    wide = wide.reindex(units)
    if wide.isna().any().any():
        cells = wide.isna().stack()
        cells = cells[cells].index
        raise InputError(
            f"the spatial lag needs every unit in every year; {len(cells)} (unit, year) value(s) are missing: "
            f"{format_ids(cells)}. Balance the panel (drop those years or units) first."
        )
    W = as_sparse(weights, units)
    lagged = pd.DataFrame(W @ wide.to_numpy(), index=units, columns=wide.columns)
    out = lagged.stack()
    out.index = out.index.set_names(s.index.names)
    return out.reindex(s.index).rename(f"W_{s.name}")


def panel_weights(weights: WeightsLike, index: pd.MultiIndex) -> sparse.csr_matrix:
    """The sparse W of a (unit, year) sample: ``weights`` applied within each year.

    Parameters
    ----------
    weights : libpysal.graph.Graph or SparseWeights
        Weights over the units.
    index : pandas.MultiIndex
        The (unit, year) index of the observations (any order; every unit of a year
        that has neighbours in the sample links to those neighbours only).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(index) x len(index)``, rows and columns in the order of ``index``.
    """
    units = pd.Index(weights.unique_ids)
    W = as_sparse(weights, units).tocoo()
    # the ids once, not once per observation (a missing id gets its own code and is reported)
    ucodes, uvalues = pd.factorize(index.get_level_values(0), use_na_sentinel=False)
    where = units.get_indexer(uvalues)
    upos = where[ucodes]
    if (where < 0).any():
        missing = sorted(pd.unique(np.asarray(uvalues)[where < 0]))
        raise InputError(f"{len(missing)} unit(s) of the data are not in the weights: {format_ids(missing)}"
                         f"{id_mismatch_hint(pd.unique(uvalues), units)}; build the weights for these units")
    rows, cols, vals = [], [], []
    ycodes, yvalues = pd.factorize(index.get_level_values(1), use_na_sentinel=False)
    for t in range(len(yvalues)):  # the years in order of appearance, as pd.unique gives them
        m = np.flatnonzero(ycodes == t)
        lookup = np.full(len(units), -1)
        lookup[upos[m]] = m
        r, c = lookup[W.row], lookup[W.col]
        keep = (r >= 0) & (c >= 0)
        rows.append(r[keep])
        cols.append(c[keep])
        vals.append(W.data[keep])
    n = len(index)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def data_weights(weights: WeightsLike, index: pd.MultiIndex, notes: list[str], *, name: str = "weights",
                 stacklevel: int = 3, warn: bool = True) -> sparse.csr_matrix:
    """The W over the observations of ``index``, the weights subset to the units observed in each year.

    Links to units the data lack (not in the data, or not observed in that year) are
    dropped.  Row-standardised weights (transformation ``"R"``, or every non-empty row
    summing to 1) then have the rows that lost links renormalised to sum to 1 again,
    so that a spatial lag stays an average of the neighbours observed; other weights
    keep their values.  Either way a note is added to ``notes`` and a
    :class:`~geoattr.exceptions.WeightsSubsetWarning` names the units and the number of
    observations concerned.

    Parameters
    ----------
    weights : Graph or SparseWeights
        Weights over the units (must include every unit of ``index``).
    index : pandas.MultiIndex
        The (unit, year) observations.
    notes : list of str
        Receives the note.
    name : str, default "weights"
        How the note names the weights.
    stacklevel : int, default 3
        Of the warning.
    warn : bool, default True
        Issue the warning (False where the fit that used these weights has already said it).

    Returns
    -------
    scipy.sparse.csr_matrix
        As :func:`geoattr.weights.lag.panel_weights`, rows renormalised where needed.
    """
    W = panel_weights(weights, index)
    units = pd.Index(weights.unique_ids)
    Wu = as_sparse(weights, units)
    full = np.asarray(Wu.sum(axis=1)).ravel()
    ucodes, uvalues = pd.factorize(index.get_level_values(0), use_na_sentinel=False)
    want = full[units.get_indexer(uvalues)[ucodes]]
    have = np.asarray(W.sum(axis=1)).ravel()
    lost = np.abs(want - have) > 1e-12 * np.maximum(1.0, np.abs(want))
    if not lost.any():
        return W
    absent = units.difference(pd.Index(uvalues))
    nz = full[full != 0]
    row_std = str(getattr(weights, "transformation", "")).upper() == "R" or bool(
        len(nz) and np.allclose(nz, 1.0, rtol=0, atol=1e-9))
    what = (f"{len(absent)} of its {len(units)} units are not in the data ({format_ids(absent)})" if len(absent)
            else f"some of its {len(units)} units are not observed in every year")
    done = ("their rows were renormalised to sum to 1 (row-standardised weights subset to the data)" if row_std
            else "their remaining weights were kept as they are (not row-standardised)")
    msg = f"{name}: {what}; {int(lost.sum())} observation(s) lost neighbours, {done}"
    notes.append(msg)
    if warn:
        warnings.warn(msg + "; pass weights built for the data's units (geoattr.weights.align) to silence this",
                      WeightsSubsetWarning, stacklevel=stacklevel)
    return sparse_row_standardise(W) if row_std else W
