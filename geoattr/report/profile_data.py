"""The numbers of the profile pages, computed once for all units.

:func:`geoattr.report.profiles.write_profiles` writes one page per unit.  Slicing the
attractiveness, the intervals and the commuting flows unit by unit costs a pandas
selection per unit and table; these functions do one pass over each table instead and
hand out every unit's part: :func:`unit_years` (a unit's years of attractiveness with
its prediction interval and the rows of its yearly table) and
:func:`commuting_destinations` (where a unit's employed residents work).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geoattr.data.grouping import group_runs
from geoattr.exceptions import InputError
from geoattr.report.page import format_cells

__all__ = ["UnitYears", "Destinations", "unit_years", "commuting_destinations"]


@dataclass(frozen=True)
class UnitYears:
    """One unit's years of attractiveness, in year order.

    Attributes
    ----------
    years : list of int
    actual, expected, residual, persons : numpy.ndarray
        Observed and expected net migration, their difference (% of the population) and
        the residual in persons (NaN without ``residual_persons``).
    lower, upper, se : numpy.ndarray or None
        The attractiveness interval ``[actual - upper, actual - lower]`` of the prediction
        interval and its ``se`` (None without intervals, ``se`` None without that column).
    table_rows : list of str
        The ``<tr id="y<year>">`` rows of the page's yearly table.
    """

    years: list[int]
    actual: np.ndarray
    expected: np.ndarray
    residual: np.ndarray
    persons: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    se: np.ndarray | None
    table_rows: list[str]


@dataclass(frozen=True)
class Destinations:
    """Where a unit's employed residents work: the rows of its destination table.

    Attributes
    ----------
    rows : list of tuple
        ``(destination, name, commuters, share (%))``, the largest first, then
        ``("other", "<k> units", commuters, share)`` for the rest (if any commute there).
    """

    rows: list[tuple[Any, Any, Any, Any]]

    #: The table's column names.
    columns = ("destination", "name", "commuters", "share (%)")


def unit_years(att: pd.DataFrame, intervals: pd.DataFrame | None = None) -> dict[Any, UnitYears]:
    """Every unit's years of attractiveness and interval, from one pass over the tables.

    Parameters
    ----------
    att : pandas.DataFrame
        :func:`geoattr.attractiveness` output (index (unit, year)).
    intervals : pandas.DataFrame, optional
        :func:`geoattr.analysis.prediction_intervals` output (index (unit, year);
        ``lower``, ``upper``, optionally ``se``); a year without a row has a missing
        interval.

    Returns
    -------
    dict
        Unit id -> :class:`UnitYears`, in the order of the units' first rows; the same
        as selecting ``att.xs(unit, level="unit").sort_index()`` and the unit's rows of
        ``intervals`` reindexed to its years.
    """
    codes, units = pd.factorize(att.index.get_level_values("unit"), sort=False)
    # rows by unit (first appearance), then year
    order, starts = group_runs(codes, len(units), within=att.index.get_level_values("year").to_numpy())
    a = att.iloc[order]
    years = a.index.get_level_values("year")
    actual = a["actual"].to_numpy()
    res = a["residual"].to_numpy(float)
    persons = a["residual_persons"].to_numpy(float) if "residual_persons" in a.columns else np.full(len(a), np.nan)
    lo = hi = se = None
    if intervals is not None:
        iv = intervals.reindex(pd.MultiIndex.from_arrays([a.index.get_level_values("unit"), years]))
        lo = a["actual"].to_numpy(float) - iv["upper"].to_numpy(float)
        hi = a["actual"].to_numpy(float) - iv["lower"].to_numpy(float)
        se = iv["se"].to_numpy(float) if "se" in iv.columns else None
    blank = [""] * len(a)
    yrs = [int(y) for y in years]
    rows = [f'<tr id="y{y}"><td>{y}</td><td>{c1}</td><td>{c2}</td><td>{c3}</td><td>{c4}</td><td>{c5}</td></tr>'
            for y, c1, c2, c3, c4, c5 in zip(yrs, format_cells(actual), format_cells(a["expected"].to_numpy()),
                                             format_cells(res), blank if lo is None else format_cells(lo),
                                             blank if hi is None else format_cells(hi))]

    def part(arr: np.ndarray | None, k: int) -> np.ndarray | None:
        return None if arr is None else arr[starts[k]:starts[k + 1]]

    return {u: UnitYears(years=yrs[starts[k]:starts[k + 1]], actual=part(actual, k), expected=part(
                a["expected"].to_numpy(), k), residual=part(res, k), persons=part(persons, k), lower=part(lo, k),
                upper=part(hi, k), se=part(se, k), table_rows=rows[starts[k]:starts[k + 1]])
            for k, u in enumerate(units)}


def commuting_destinations(flows: pd.DataFrame | None, *, year: int | None = None,
                           names: Mapping[Any, Any] | pd.Series | None = None,
                           top: int = 10) -> tuple[dict[Any, Destinations], int | None]:
    """Per origin: its ``top`` destinations (name, commuters, share) and "other", from one grouping.

    Parameters
    ----------
    flows : pandas.DataFrame or None
        Commuting flows (``year``, ``origin``, ``destination``, ``count``).
    year : int, optional
        The year shown (default the latest).
    names : mapping or pandas.Series, optional
        Unit id -> name (default the id).
    top : int, default 10
        Destinations listed; the rest are summed into "other".

    Returns
    -------
    dict, int or None
        Origin -> :class:`Destinations` (origins whose commuters sum to at most zero are
        left out), and the year shown (``({}, None)`` without flows).

    Raises
    ------
    InputError
        No flows in ``year``.
    """
    if flows is None or not len(flows):
        return {}, None
    names = names if names is not None else {}
    fyear = int(year if year is not None else flows["year"].max())
    fl = flows[flows["year"] == fyear]
    if fl.empty:
        raise InputError(f"flows has no rows for year {fyear}; its years are {sorted(flows['year'].unique().tolist())}")
    summed = fl.groupby(["origin", "destination"])["count"].sum()  # by origin, then destination (sorted)
    first = summed.index.codes[0]
    cuts = (np.flatnonzero(first[1:] != first[:-1]) + 1).tolist()
    origins, values = summed.index.levels[0], summed.to_numpy()
    dests = summed.index.get_level_values(1).to_numpy(dtype=object)
    exact = values.dtype.kind in "iu"  # integer sums do not depend on the order of summation
    shown: dict[Any, Any] = {}
    out: dict[Any, Destinations] = {}
    for lo, hi in zip([0, *cuts], [*cuts, len(summed)]):
        if exact:
            order = _descending(values[lo:hi])
            ids, counts = dests[lo:hi][order], values[lo:hi][order]
            total, head, rest = counts.sum(), counts[:top], counts[top:].sum()
        else:  # pandas' sums, in pandas' order
            g = pd.Series(values[lo:hi], index=dests[lo:hi]).sort_values(ascending=False)
            ids, total, head, rest = g.index.to_numpy(dtype=object), g.sum(), g.head(top).to_numpy(), g.iloc[top:].sum()
        if total <= 0:
            continue
        top_ids = ids[:top].tolist()
        for d in top_ids:
            if d not in shown:
                shown[d] = names.get(d, d)
        rows = list(zip([str(d) for d in top_ids], [shown[d] for d in top_ids], head.tolist(),
                        (100 * head / total).tolist()))
        if rest > 0:
            rows.append(("other", f"{len(ids) - len(top_ids)} units", rest, 100 * rest / total))
        out[origins[first[lo]]] = Destinations(rows=rows)
    return out, fyear


def _descending(values: np.ndarray) -> np.ndarray:
    """The order of ``pandas.Series(values).sort_values(ascending=False)`` (its ``nargsort``; no missing values).

    Equal values keep the order pandas gives them: quicksort of the reversed values, reversed.
    """
    rev = np.arange(len(values))[::-1]
    return rev[values[rev].argsort(kind="quicksort")][::-1]
