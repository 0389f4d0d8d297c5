"""The commuting breakdown of VRA on a profile page: a table per year and a year picker.

:func:`breakdown_section` turns the rows of :func:`geoattr.vra_breakdown` for one unit
into HTML: a ``<select>`` of the years and one table per year (workplace, share of the
unit's employed residents, relative job growth, contribution, and the total, which is
the unit's VRA).  A few lines of inline JavaScript show the table of the chosen year;
without JavaScript every table is shown.  All text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import escape_html
from geoattr.data.grouping import group_runs
from geoattr.exceptions import InputError
from geoattr.report.page import format_cells

__all__ = ["breakdown_section", "breakdown_sections", "check_breakdown"]

_NEEDED = ("unit", "year", "workplace", "workplace_name", "share", "relative_growth", "contribution")

_JS = """<script>(function(){const s=document.getElementById('vra-year');
function show(){document.querySelectorAll('table.vra-breakdown').forEach(t=>{
t.hidden=(t.dataset.year!==s.value);});}
s.addEventListener('change',show);show();})();</script>"""


def check_breakdown(frame: Any) -> None:
    """Check that ``frame`` is :func:`geoattr.vra_breakdown` output.

    Parameters
    ----------
    frame : pandas.DataFrame

    Raises
    ------
    InputError
        Not a DataFrame, or missing columns (named).
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"vra_breakdown must be the DataFrame of geoattr.vra_breakdown(), got {type(frame).__name__}")
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        raise InputError(f"vra_breakdown lacks column(s) {missing}; pass the output of geoattr.vra_breakdown()")


def _segment_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values[lo[k]:hi[k]].sum()`` for every k, bit for bit: the segments of one length as the rows of a matrix.

    (A row sum of a C-contiguous matrix is the sum of that row as a vector; ``np.add.reduceat``
    sums in another order.)
    """
    out = np.empty(len(lo))
    n = hi - lo
    for length in np.unique(n).tolist():
        at = np.flatnonzero(n == length)
        out[at] = values[lo[at, None] + np.arange(length)].sum(axis=1)
    return out


class _Rows:
    """The rows of a breakdown ordered by (unit, year), each year's table already written."""

    def __init__(self, frame: pd.DataFrame, codes: np.ndarray, n_units: int) -> None:
        # by unit, then year, then as given
        order, self.unit_starts = group_runs(codes, n_units, within=frame["year"].to_numpy())
        self.codes, years = codes[order], frame["year"].to_numpy()[order]
        names = frame["workplace_name"].to_numpy(dtype=object)[order].tolist()
        ids = frame["workplace"].to_numpy(dtype=object)[order].tolist()
        escaped = {key: f"{escape_html(key[0])} ({escape_html(key[1])})" for key in set(zip(names, ids))}
        share = frame["share"].to_numpy(dtype=float)[order]
        contrib = frame["contribution"].to_numpy(dtype=float)[order]
        html = [f"<tr><td>{escaped[key]}</td><td>{s}</td><td>{g}</td><td>{c}</td></tr>" for key, s, g, c in zip(
            zip(names, ids), format_cells(100 * share, 1),
            format_cells(frame["relative_growth"].to_numpy(dtype=float)[order], 2), format_cells(contrib, 3))]
        # one table per (unit, year); its total as np.nansum of its rows
        cut = np.flatnonzero((self.codes[1:] != self.codes[:-1]) | (years[1:] != years[:-1])) + 1
        lo, hi = np.concatenate([[0], cut]).astype(np.intp), np.concatenate([cut, [len(order)]]).astype(np.intp)
        lo, hi = (lo, hi) if len(order) else (lo[:0], hi[:0])
        self.starts = lo
        sums = [format_cells(x, d) for x, d in ((100 * _segment_sums(np.where(np.isnan(share), 0.0, share), lo, hi), 1),
                                                (_segment_sums(np.where(np.isnan(contrib), 0.0, contrib), lo, hi), 3))]
        self.years = years[lo]
        self.html = [f'<table class="plain vra-breakdown" data-year="{y}" id="vra-{y}">'
                     "<thead><tr><th>workplace</th><th>share of employed residents (%)</th>"
                     "<th>relative job growth (%)</th><th>contribution (pp)</th></tr></thead>"
                     f"<tbody>{''.join(html[a:b])}</tbody><tfoot><tr><th>total (VRA)</th><th>{s}</th><th></th>"
                     f"<th>{c}</th></tr></tfoot></table>"
                     for y, a, b, s, c in zip([int(y) for y in self.years], lo.tolist(), hi.tolist(), *sums)]

    def tables(self, lo: int, hi: int) -> tuple[list[int], str]:
        """The years and the tables (in year order) of rows ``lo:hi`` (one unit)."""
        a, b = np.searchsorted(self.starts, [lo, hi]).tolist()
        return sorted({int(y) for y in self.years[a:b]}), "".join(self.html[a:b])


def breakdown_section(rows: pd.DataFrame, *, name: str) -> str:
    """The heading, the year picker and one table per year of one unit's VRA breakdown.

    Parameters
    ----------
    rows : pandas.DataFrame
        The unit's rows of :func:`geoattr.vra_breakdown`.
    name : str
        The unit's display name (plain text).

    Returns
    -------
    str
        HTML (empty without rows); the last year is selected.
    """
    check_breakdown(rows)
    if not len(rows):
        return ""
    lag = int(rows["lag"].iloc[0]) if "lag" in rows.columns else 0
    return _section(name, lag, _Rows(rows, np.zeros(len(rows), dtype=np.intp), 1), 0, len(rows))


def breakdown_sections(frame: pd.DataFrame, *, names: Mapping[Any, str] | None = None) -> dict[Any, str]:
    """:func:`breakdown_section` of every unit of a breakdown, in one pass over its rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`geoattr.vra_breakdown` output.
    names : mapping, optional
        Unit id -> display name (plain text; default the id as text).

    Returns
    -------
    dict
        Unit id -> ``breakdown_section(<the unit's rows>, name=names[unit])``, in the
        order of the units' first rows (rows of a missing unit id are left out, as by
        ``groupby``).
    """
    check_breakdown(frame)
    names = names if names is not None else {}
    codes, units = pd.factorize(frame["unit"], sort=False)
    rows = _Rows(frame, codes, len(units))
    starts = rows.unit_starts
    _, first = np.unique(codes, return_index=True)
    first = first[-len(units):] if len(units) else first  # the first row of each unit (code -1 sorts first)
    lags = frame["lag"].to_numpy()[first].tolist() if "lag" in frame.columns else [0] * len(units)
    return {u: _section(str(names.get(u, u)), int(lags[k]), rows, starts[k], starts[k + 1])
            for k, u in enumerate(units)}


def _section(name: str, lag: int, rows: _Rows, lo: int, hi: int) -> str:
    """The section of one unit: its rows ``lo:hi`` of ``rows``."""
    years, tables = rows.tables(lo, hi)
    opts = "".join(f'<option value="{y}"{" selected" if y == years[-1] else ""}>{y}</option>' for y in years)
    what = "VRA" if lag == 0 else f"VRA lagged {lag} year(s)"
    return (f"<h2>Where job growth reaches {escape_html(name)}: the breakdown of {what}</h2>"
            '<p class="muted">Each workplace: the share of the unit\'s employed residents who work there, its job '
            "growth relative to the nation, and their product, its contribution to the unit's VRA (the total).</p>"
            f'<p>Year: <select id="vra-year">{opts}</select></p>' + tables + _JS)
