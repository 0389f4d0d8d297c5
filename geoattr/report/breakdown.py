"""The commuting breakdown of VRA on a profile page: a table per year and a year picker.

:func:`breakdown_section` turns the rows of :func:`geoattr.vra_breakdown` for one unit
into HTML: a ``<select>`` of the years and one table per year (workplace, share of the
unit's employed residents, relative job growth, contribution, and the total, which is
the unit's VRA).  A few lines of inline JavaScript show the table of the chosen year;
without JavaScript every table is shown.  All text is escaped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import escape_html
from geoattr.exceptions import InputError
from geoattr.report.page import format_cell

__all__ = ["breakdown_section", "check_breakdown"]

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


def _year_table(year: int, cols: tuple[list, ...], lo: int, hi: int) -> str:
    """One year's table from the column lists ``cols`` (rows ``lo:hi``; ``cols[0]``: escaped labels)."""
    labels, share, growth, contrib = cols
    rows = "".join(
        f"<tr><td>{labels[i]}</td>"
        f"<td>{format_cell(100 * float(share[i]), 1)}</td><td>{format_cell(float(growth[i]), 2)}</td>"
        f"<td>{format_cell(float(contrib[i]), 3)}</td></tr>"
        for i in range(lo, hi))
    total = (f"<tr><th>total (VRA)</th><th>{format_cell(100 * float(np.nansum(share[lo:hi])), 1)}</th><th></th>"
             f"<th>{format_cell(float(np.nansum(contrib[lo:hi])), 3)}</th></tr>")
    return (f'<table class="plain vra-breakdown" data-year="{int(year)}" id="vra-{int(year)}">'
            "<thead><tr><th>workplace</th><th>share of employed residents (%)</th>"
            "<th>relative job growth (%)</th><th>contribution (pp)</th></tr></thead>"
            f"<tbody>{rows}</tbody><tfoot>{total}</tfoot></table>")


def _year_tables(rows: pd.DataFrame) -> str:
    """The tables of every year, in year order (rows keep their order within a year)."""
    order = np.argsort(rows["year"].to_numpy(), kind="stable")
    years = rows["year"].to_numpy()[order]
    names = rows["workplace_name"].to_numpy(dtype=object)[order].tolist()
    ids = rows["workplace"].to_numpy(dtype=object)[order].tolist()
    escaped = {key: f"{escape_html(key[0])} ({escape_html(key[1])})" for key in set(zip(names, ids))}
    cols = ([escaped[key] for key in zip(names, ids)],
            rows["share"].to_numpy(dtype=float)[order], rows["relative_growth"].to_numpy(dtype=float)[order].tolist(),
            rows["contribution"].to_numpy(dtype=float)[order])
    cuts = np.flatnonzero(years[1:] != years[:-1]) + 1
    bounds = zip(np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [len(years)]]).tolist())
    return "".join(_year_table(int(years[lo]), cols, lo, hi) for lo, hi in bounds)


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
    years = sorted({int(y) for y in rows["year"]})
    lag = int(rows["lag"].iloc[0]) if "lag" in rows.columns else 0
    opts = "".join(f'<option value="{y}"{" selected" if y == years[-1] else ""}>{y}</option>' for y in years)
    tables = _year_tables(rows)
    what = "VRA" if lag == 0 else f"VRA lagged {lag} year(s)"
    return (f"<h2>Where job growth reaches {escape_html(name)}: the breakdown of {what}</h2>"
            '<p class="muted">Each workplace: the share of the unit\'s employed residents who work there, its job '
            "growth relative to the nation, and their product, its contribution to the unit's VRA (the total).</p>"
            f'<p>Year: <select id="vra-year">{opts}</select></p>' + tables + _JS)
