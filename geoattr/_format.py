"""Formatting shared by every module: ids in messages, significance stars, escaping.

One copy of each: error messages list ids with :func:`format_ids`; tables, summaries and
reports mark significance with :func:`stars`; text that reaches a LaTeX, Markdown or
HTML document goes through :func:`escape_latex`, :func:`escape_markdown` or
:func:`escape_html`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "format_ids",
    "stars",
    "STARS_NOTE",
    "DEFAULT_STARS",
    "escape_latex",
    "escape_markdown",
    "escape_html",
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
    try:
        x = float(p)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(x):
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


def escape_latex(s: Any) -> str:
    """Escape every LaTeX special character of a plain-text label.

    Examples
    --------
    >>> escape_latex("vra_l1 & 5%")
    'vra\\\\_l1 \\\\& 5\\\\%'
    """
    return "".join(_LATEX.get(ch, ch) for ch in str(s))


_MARKDOWN = "\\`*_[]|"


def escape_markdown(s: Any) -> str:
    """Escape a Markdown table cell: HTML is escaped, Markdown punctuation backslashed.

    A Markdown renderer then shows the text as written: no raw HTML (``<script>``), no
    link, emphasis or cell break.

    Examples
    --------
    >>> escape_markdown("a|b <i>")
    'a\\\\|b &lt;i&gt;'
    """
    out = []
    for ch in html.escape(str(s), quote=False):
        out.append("\\" + ch if ch in _MARKDOWN else ch)
    return "".join(out)


def escape_html(s: Any) -> str:
    """Escape text for HTML element content and attribute values (quotes included)."""
    return html.escape(str(s), quote=True)
