"""Sums by several keys on integer codes: pandas' grouped sums without its multi-key grouping.

``frame.groupby(keys, as_index=False)[value].sum()`` factorises every key (strings
included) on every row and combines the codes; on the 1.6 million rows of the age table
that was most of the time of :meth:`geoattr.data.PanelData.aggregate`.
:func:`sum_by` factorises each key once (a key that maps ids to other labels, such as
unit -> region, is mapped on its distinct values only), combines the sorted codes into
one integer and sums with pandas on that integer: the same groups in the same sorted
order, each summing the same rows in the same order, so the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["sum_by", "combined_codes", "group_runs"]


def combined_codes(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray | None:
    """One int64 per row from several keys' codes (``codes[i]`` in ``range(sizes[i])``), in
    the keys' lexicographic order; None when the product of the sizes leaves no room (>= 2^62).

    Parameters
    ----------
    codes : list of numpy.ndarray
        Integer codes of equal length (negative codes give meaningless keys: mask them).
    sizes : list of int
        The number of distinct codes of each key.

    Returns
    -------
    numpy.ndarray or None
    """
    total = 1
    for n in sizes:
        total *= max(int(n), 1)
    if total >= 2**62:
        return None
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for c, n in zip(codes, sizes):
        key = key * max(int(n), 1) + c
    return key


def group_runs(codes: np.ndarray, n_groups: int, *,
               within: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """The rows of each group together: row positions by group code, and where each group starts.

    Parameters
    ----------
    codes : numpy.ndarray
        Each row's group code in ``range(n_groups)`` (``pandas.factorize``); rows with a
        negative code (a missing key) are left out.
    n_groups : int
    within : numpy.ndarray, optional
        A key ordering the rows within each group (stably, e.g. the year); default the
        rows' own order.

    Returns
    -------
    order : numpy.ndarray
        Row positions, group by group.
    starts : list of int
        ``n_groups + 1`` bounds: group ``k`` is ``order[starts[k]:starts[k + 1]]``.
    """
    keep = np.flatnonzero(codes >= 0)
    if within is not None:
        keep = keep[np.argsort(within[keep], kind="stable")]
    order = keep[np.argsort(codes[keep], kind="stable")]
    return order, np.searchsorted(codes[order], np.arange(n_groups + 1)).tolist()


def sum_by(frame: pd.DataFrame, keys: list[str], value: str, *,
           relabel: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """``frame.groupby(keys, as_index=False)[value].sum()`` with ``relabel`` applied to key columns first.

    Parameters
    ----------
    frame : pandas.DataFrame
    keys : list of str
        Key columns, in the order of the result's columns and of its sort.
    value : str
        The column summed.
    relabel : mapping of str to pandas.Series, optional
        Key column -> Series old label -> new label (``frame[key].map(series)``);
        labels without a new one are missing and their rows dropped, as groupby does.

    Returns
    -------
    pandas.DataFrame
        Columns ``keys`` then ``value``, one row per group present, sorted by the keys.
    """
    relabel = relabel or {}
    codes, labels = [], []
    for k in keys:
        if k in relabel:  # map the distinct labels, then their codes
            c0, u0 = pd.factorize(frame[k])
            c1, u1 = pd.factorize(relabel[k].reindex(u0), sort=True)
            c = np.where(c0 < 0, -1, c1[c0])
        else:
            c, u1 = pd.factorize(frame[k], sort=True)
        codes.append(c.astype(np.int64))
        labels.append(u1)
    key = combined_codes(codes, [len(u) for u in labels])
    if key is None:  # no room for one integer
        mapped = frame.assign(**{k: frame[k].map(m) for k, m in relabel.items()})
        return mapped.groupby(keys, as_index=False)[value].sum()
    valid = np.logical_and.reduce([c >= 0 for c in codes])
    sums = pd.Series(frame[value].to_numpy()[valid]).groupby(key[valid]).sum()
    g = sums.index.to_numpy()
    cols: dict[str, object] = {}
    for k, u in zip(reversed(keys), reversed(labels)):
        cols[k] = u.take(g % len(u))
        g = g // len(u)
    return pd.DataFrame({**{k: cols[k] for k in keys}, value: sums.to_numpy()})
