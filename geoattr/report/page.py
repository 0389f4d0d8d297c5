"""The pieces every static HTML page of a run shares: the page frame, its CSS, numbers, tables.

``report.html`` (:mod:`geoattr.report.html`) and the profile pages
(:mod:`geoattr.report.profiles`) are built from these.  Text is escaped with
:func:`geoattr._format.escape_html`; the pages have no external assets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import escape_html
from geoattr.exceptions import InputError

__all__ = ["PAGE_CSS", "html_page", "format_cell", "format_cells", "html_table", "html_table_rows",
           "check_attractiveness", "files_section"]

#: The style sheet of the report and profile pages.
PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{padding:.15em .7em}
table.geoattr-table thead{border-top:2px solid #000;border-bottom:1px solid #000}
table.geoattr-table tbody+tbody{border-top:1px solid #000}
table.geoattr-table{border-bottom:2px solid #000}
table.geoattr-table tfoot td{font-size:.85em;color:#555;border-top:1px solid #000}
table.plain th{text-align:left;border-bottom:1px solid #000}table.plain td{border-bottom:1px solid #eee}
.muted{color:#666;font-size:.9em}.warn{color:#9a4b00}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
iframe{width:100%;height:620px;border:1px solid #ccc}
.pos{color:#2166ac}.neg{color:#b2182b}
nav a{margin-right:1em}
"""


def format_cell(v: Any, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals and thousands separators; text (ids!) escaped, not changed.

    Parameters
    ----------
    v : Any
        A cell value.
    digits : int, default 2
        Decimals of floats (integers have none).

    Returns
    -------
    str
        HTML text; blank for a missing number, no ``-0.00``.
    """
    if type(v) is float or type(v) is np.float64:  # the common case first (profile pages format ~300,000 cells)
        if not math.isfinite(v):
            return ""
        text = f"{float(v):,.{digits}f}"
        return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return escape_html(v)
    x = float(v)
    if not math.isfinite(x):
        return ""
    text = f"{x:,.0f}" if isinstance(v, (int, np.integer)) else f"{x:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def format_cells(values: Any, digits: int = 2) -> list[str]:
    """:func:`format_cell` of every element of a one-dimensional array, in one pass.

    A float array is formatted without a Python call per element (the profile pages
    format ~300,000 numbers); any other array falls back to :func:`format_cell`.

    Parameters
    ----------
    values : array-like
        One-dimensional.
    digits : int, default 2
        Decimals of floats.

    Returns
    -------
    list of str
        ``[format_cell(v, digits) for v in values]``.
    """
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        return [format_cell(v, digits) for v in arr]
    vals = arr.astype(float)
    out = list(map(f"%.{digits}f".__mod__, vals.tolist()))  # as format_cell below 1,000 (no separator yet)
    grouped = f"{{:,.{digits}f}}".format
    with np.errstate(invalid="ignore"):
        for i in np.flatnonzero(np.abs(vals) >= 999).tolist():  # may round to 1,000 or more: separators
            out[i] = grouped(vals[i])
        for i in np.flatnonzero(~np.isfinite(vals)).tolist():
            out[i] = ""
        for i in np.flatnonzero((vals <= 0) & (vals > -1)).tolist():  # only these can read "-0.00": no minus
            if out[i][:1] == "-" and float(out[i]) == 0:
                out[i] = out[i][1:]
    return out


def html_page(title: str, body: str, *, script: str = "") -> str:
    """A whole HTML document: the escaped title, :data:`PAGE_CSS`, the body and a script.

    Parameters
    ----------
    title : str
        Plain text.
    body : str
        HTML.
    script : str, optional
        JavaScript run at the end of the body.

    Returns
    -------
    str
    """
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape_html(title)}</title>"
        f"<style>{PAGE_CSS}</style></head><body>\n{body}\n"
        + (f"<script>{script}</script>\n" if script else "")
        + "</body></html>\n"
    )


def html_table(frame: pd.DataFrame, *, digits: int = 2, cls: str = "plain", row_ids: bool = False) -> str:
    """A small HTML table of a frame (the index shown only with ``row_ids`` and a name).

    Parameters
    ----------
    frame : pandas.DataFrame
    digits : int, default 2
        Decimals of the numbers (:func:`format_cell`).
    cls : str, default "plain"
        CSS class of the table.
    row_ids : bool, default False
        Show a named index as the first column.

    Returns
    -------
    str
    """
    f = frame.reset_index() if (frame.index.name or any(frame.index.names)) and row_ids else frame
    return html_table_rows(list(f.columns), f.itertuples(index=False), digits=digits, cls=cls)


def html_table_rows(columns: Sequence[Any], rows: Iterable[Sequence[Any]], *, digits: int = 2,
                    cls: str = "plain") -> str:
    """:func:`html_table` of a frame given as its column names and its rows (no DataFrame built).

    Parameters
    ----------
    columns : sequence
        The column names (escaped).
    rows : iterable of sequences
        The rows' cells (:func:`format_cell`).
    digits : int, default 2
        Decimals of the numbers.
    cls : str, default "plain"
        CSS class of the table.

    Returns
    -------
    str
        The same HTML as ``html_table(pandas.DataFrame(rows, columns=columns))``.
    """
    head = "".join(f"<th>{escape_html(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{format_cell(v, digits)}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def check_attractiveness(att: Any, what: str) -> None:
    """Check that ``att`` is :func:`geoattr.attractiveness` output.

    Parameters
    ----------
    att : pandas.DataFrame
        Indexed by (unit, year) with ``actual``, ``expected`` and ``residual``.
    what : str
        The argument's name, for the error message.

    Raises
    ------
    InputError
        Another index or missing columns.
    """
    if not isinstance(att, pd.DataFrame) or list(att.index.names) != ["unit", "year"]:
        raise InputError(
            f"{what} must be the output of geoattr.attractiveness(): a DataFrame indexed by (unit, year); "
            f"got index levels {list(getattr(att, 'index', pd.Index([])).names)}"
        )
    missing = [c for c in ("actual", "expected", "residual") if c not in att.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}; pass the output of geoattr.attractiveness()")


def files_section(files: Mapping[str, str | Path], href: Callable[[str | Path], str]) -> str:
    """The "Files" section of a page: one link per output file, named by its file name.

    Parameters
    ----------
    files : mapping of str to path
        The files (their keys are not shown).
    href : callable
        Path -> link target (e.g. relative to the page).

    Returns
    -------
    str
        ``<h2 id="files">`` and the list (escaped).
    """
    return ('<h2 id="files">Files</h2><ul class="muted">' + "".join(
        f'<li><a href="{escape_html(href(p))}">{escape_html(Path(p).name)}</a></li>' for p in files.values())
        + "</ul>")
