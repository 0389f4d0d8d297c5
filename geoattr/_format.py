"""Formatting shared by every module: ids in messages, significance stars, escaping.

One copy of each: error messages list ids with :func:`format_ids`; tables, summaries and
reports mark significance with :func:`stars`.  Text that reaches a document is escaped
for the format it is read in, one function per format:

* LaTeX: :func:`escape_latex`;
* Markdown: :func:`escape_markdown` (raw HTML, links, emphasis, math and cell breaks are
  shown as text);
* HTML and SVG markup: :func:`escape_html`; data in a ``<script>`` element: :func:`script_json`;
* matplotlib text (figure labels): :func:`escape_mathtext` (a ``$`` would start math);
* CSV read by a spreadsheet: :func:`escape_csv` on a text cell, :func:`csv_safe` on a
  frame, and :func:`write_csv`, the one writer of every CSV a run produces.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "format_ids",
    "as_finite",
    "stars",
    "STARS_NOTE",
    "DEFAULT_STARS",
    "escape_latex",
    "escape_markdown",
    "escape_html",
    "escape_mathtext",
    "script_json",
    "escape_csv",
    "csv_safe",
    "write_csv",
    "CSV_FORMULA_PREFIXES",
]

#: Significance thresholds of one, two and three stars (p < 0.1, 0.05, 0.01).
DEFAULT_STARS: tuple[float, ...] = (0.1, 0.05, 0.01)
#: The legend printed under tables that use :data:`DEFAULT_STARS`.
STARS_NOTE = "Significance: *** p<0.01, ** p<0.05, * p<0.1"


def _plain(v: Any) -> Any:
    """Turn numpy scalars (and tuples of them) into Python values for ``repr``."""
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v


def format_ids(ids: Any, limit: int = 10) -> str:
    """Format a collection of ids for an error message, listing at most ``limit``.

    Parameters
    ----------
    ids : iterable
        The offending ids (or row labels).
    limit : int, default 10
        How many to list before summarising the rest as "... and N more".

    Returns
    -------
    str
        For example ``"'0301', '1103' and 3 more"``.
    """
    ids = [_plain(i) for i in ids]
    try:
        ids = sorted(ids, key=str)
    except TypeError:  # pragma: no cover - mixed unsortable types
        pass
    shown = ", ".join(repr(i) for i in ids[:limit])
    if len(ids) > limit:
        shown += f" and {len(ids) - limit} more"
    return shown


def as_finite(value: Any) -> float | None:
    """The value as a finite float; ``None`` when it is not a number, missing or infinite.

    Parameters
    ----------
    value : Any
        A number, a numpy scalar, a numeric string or anything else.

    Returns
    -------
    float or None
        ``None`` for what cannot be converted, NaN and infinities: the cell is left blank.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def stars(p: Any, thresholds: Sequence[float] = DEFAULT_STARS) -> str:
    """As many stars as thresholds the p-value lies below; blank when not a finite number.

    Parameters
    ----------
    p : float
        A p-value.
    thresholds : sequence of float, default (0.1, 0.05, 0.01)
        One star per threshold that ``p`` is below.

    Returns
    -------
    str

    Examples
    --------
    >>> stars(0.03), stars(0.003), stars(0.5)
    ('**', '***', '')
    """
    x = as_finite(p)
    if x is None:
        return ""
    return "*" * sum(x < t for t in thresholds)


_LATEX = {
    "\\": "\\textbackslash{}",
    "_": "\\_",
    "%": "\\%",
    "&": "\\&",
    "#": "\\#",
    "$": "\\$",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "|": "\\textbar{}",
    "<": "\\textless{}",
    ">": "\\textgreater{}",
}


def _one_line(s: Any) -> str:
    """The text on one line: a line break inside a table cell would end the row (or the paragraph)."""
    return re.sub(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*", " ", str(s))


def escape_latex(s: Any) -> str:
    """Escape every LaTeX special character of a plain-text label (on one line).

    Examples
    --------
    >>> escape_latex("vra_l1 & 5%")
    'vra\\\\_l1 \\\\& 5\\\\%'
    """
    return "".join(_LATEX.get(ch, ch) for ch in _one_line(s))


#: Backslashed in Markdown: code, emphasis, links, cell breaks, math (``$``), strikethrough.
_MARKDOWN = "\\`*[]|$~"
_WORD = re.compile(r"[^\W_]")


def escape_markdown(s: Any) -> str:
    """Escape a Markdown table cell: HTML is escaped, Markdown punctuation backslashed.

    A Markdown renderer then shows the text as written: no raw HTML (``<script>``), no
    link, emphasis, math (``$``) or cell break (``|``, line breaks become spaces).  An
    underscore inside a word (``vra_l1``) stays as it is: it starts no emphasis
    (CommonMark); one at the edge of a word (``_x_``) is backslashed.

    Examples
    --------
    >>> escape_markdown("a|b <i>")
    'a\\\\|b &lt;i&gt;'
    >>> escape_markdown("vra_l1 _x_")
    'vra_l1 \\\\_x\\\\_'
    """
    text = html.escape(_one_line(s), quote=False)
    out = []
    for i, ch in enumerate(text):
        if ch == "_":
            inside = 0 < i < len(text) - 1 and _WORD.match(text[i - 1]) and _WORD.match(text[i + 1])
            out.append("_" if inside else "\\_")
        else:
            out.append("\\" + ch if ch in _MARKDOWN else ch)
    return "".join(out)


def escape_html(s: Any) -> str:
    """Escape text for HTML or SVG element content and attribute values (quotes included)."""
    return html.escape(str(s), quote=True)


def script_json(obj: Any, **dumps: Any) -> str:
    """JSON of ``obj`` for a ``<script type="application/json">`` element of an HTML page.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026``: the
    same JSON, with no markup (``</script>``, ``<!--``) that could end the element.

    Parameters
    ----------
    obj : Any
        JSON-serialisable data.
    **dumps
        Passed to :func:`json.dumps`.

    Returns
    -------
    str

    Examples
    --------
    >>> script_json({"unit": "</script><b>"})
    '{"unit": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = json.dumps(obj, **dumps)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def escape_mathtext(s: Any) -> str:
    """Escape a matplotlib label so that it is drawn as written, never as mathtext.

    matplotlib reads the text between two unescaped ``$`` as math (``$\\alpha$`` is drawn
    as a Greek letter; a malformed one makes ``savefig`` fail); a backslashed ``\\$`` is a
    literal dollar sign.

    Examples
    --------
    >>> escape_mathtext("$5 & $6")
    '\\\\$5 & \\\\$6'
    """
    return str(s).replace("$", "\\$")


#: First characters that make a spreadsheet read a cell as a formula (tab and CR too).
CSV_FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def escape_csv(v: Any) -> Any:
    """Guard one CSV cell against formula injection; numbers and other values are unchanged.

    A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading ``'`` so that a spreadsheet shows it as text instead of running it.  A
    text cell that is a plain number (an id such as ``"-1"``) is left as it is: a
    spreadsheet reads it as that number, not as a formula, and the id still reads back.

    Examples
    --------
    >>> escape_csv("=HYPERLINK(1)"), escape_csv("-1"), escape_csv(-1.5), escape_csv("Oslo")
    ("'=HYPERLINK(1)", '-1', -1.5, 'Oslo')
    """
    if isinstance(v, str) and v.startswith(CSV_FORMULA_PREFIXES) and not _NUMBER.match(v):
        return "'" + v
    return v


def _is_text(dtype: Any) -> bool:
    """Object or string dtype: the columns whose cells may be text."""
    return dtype == object or isinstance(dtype, pd.StringDtype)


def _guard_labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_guard_labels(lv) for lv in index.levels])
    if _is_text(index.dtype):
        return index.map(escape_csv)
    return index


def csv_safe(frame: pd.DataFrame, *, index: bool = True) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column and index labels) pass :func:`escape_csv`.

    Only text (object or string) columns are looked at: numeric and boolean columns keep
    their values and dtypes, so a negative number stays a number.

    Parameters
    ----------
    frame : pandas.DataFrame
    index : bool, default True
        Guard the index labels too (when the index is written).

    Returns
    -------
    pandas.DataFrame
    """
    out = frame.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if isinstance(col.dtype, pd.CategoricalDtype) and _is_text(col.cat.categories.dtype):
            col = col.astype(object)
        if _is_text(col.dtype):
            out.isetitem(j, col.map(escape_csv))
    out.columns = _guard_labels(out.columns)
    if index:
        out.index = _guard_labels(out.index)
    return out


def _text_needs_guard(values: Any) -> bool:
    """Whether any text cell of ``values`` (a Series or an Index) starts with a formula prefix."""
    if isinstance(values, pd.MultiIndex):
        return any(_text_needs_guard(lv) for lv in values.levels)
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _text_needs_guard(pd.Index(values.cat.categories if isinstance(values, pd.Series)
                                          else values.categories))
    if not _is_text(values.dtype):
        return False
    if values.dtype != object:
        distinct = values.dropna().unique()
    else:
        cells = values.to_numpy()
        try:
            distinct = pd.unique(cells)
        except TypeError:  # unhashable cells (lists...): each cell is looked at
            distinct = cells
    return any(isinstance(v, str) and v.startswith(CSV_FORMULA_PREFIXES) for v in distinct)


def _needs_guard(frame: pd.DataFrame, *, index: bool) -> bool:
    """Whether :func:`csv_safe` would change any cell or label of ``frame``."""
    return (any(_text_needs_guard(frame.iloc[:, j]) for j in range(frame.shape[1]))
            or _text_needs_guard(frame.columns) or (index and _text_needs_guard(frame.index)))


def write_csv(frame: pd.DataFrame, path: str | Path, **to_csv: Any) -> Path:
    """Write a CSV whose text cells cannot run as spreadsheet formulas (:func:`csv_safe`).

    The one CSV writer of the pipeline, the robustness battery and the choice runner.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or Path
    **to_csv
        Passed to :meth:`pandas.DataFrame.to_csv` (``index=False``...).

    Returns
    -------
    Path
        ``path``.
    """
    index = bool(to_csv.get("index", True))
    # the frame itself when no text cell needs a guard (most tables: ids and names), without a copy
    safe = csv_safe(frame, index=index) if _needs_guard(frame, index=index) else frame
    safe.to_csv(path, **to_csv)
    return Path(path)
