"""The book's coefficient tables and the figure of Sum VRA and centrality over the years.

* :func:`sum_table` formats the wide table of :func:`geoattr.models.vra_sum.yearly_table`
  (or of :func:`~geoattr.models.vra_sum.wide_table` for subgroups) as LaTeX, Markdown or
  HTML: one row per year (or subgroup) with the estimates and their stars, the standard
  errors in parentheses on the row below, the "Sum VRA" column after the VRA lags, and
  the observations and R² on the right (the book's Tabell 3).
* :func:`vra_sum_over_time` draws Sum VRA and the centrality coefficient by year with
  their confidence bands (the panels of :func:`~geoattr.report.figures.coefficients_over_time`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from geoattr._docstrings import FIGURE_PATH, fill_doc
from geoattr._format import escape_html, escape_latex, escape_markdown
from geoattr.exceptions import InputError
from geoattr.report.figures import coefficients_over_time
from geoattr.report.tables import Format, coefficient_cells, render_table

__all__ = ["LABELS", "sum_table", "table_terms", "vra_sum_over_time"]

#: Display names of the terms in the book's tables.
LABELS: dict[str, str] = {"vra": "VRA t", "vra_l1": "VRA t-1", "vra_l2": "VRA t-2", "vra_sum": "Sum VRA",
                          "centrality": "Centrality", "ds": "DS", "const": "Constant"}


def table_terms(wide: pd.DataFrame) -> list[str]:
    """The terms of a wide table (columns with ``_se``, ``_p`` and ``_stars`` partners), the constant last.

    Parameters
    ----------
    wide : pandas.DataFrame
        :func:`geoattr.models.vra_sum.wide_table` output.

    Returns
    -------
    list of str
    """
    terms = [c for c in wide.columns if f"{c}_se" in wide.columns and f"{c}_p" in wide.columns]
    return [t for t in terms if t != "const"] + [t for t in terms if t == "const"]


def _escape(text: str, fmt: str) -> str:
    return {"latex": escape_latex, "html": escape_html}.get(fmt, escape_markdown)(text)


def sum_table(
    wide: pd.DataFrame,
    *,
    fmt: Format = "latex",
    digits: int = 3,
    stars: Sequence[float] = (0.10, 0.05, 0.01),
    labels: Mapping[str, str] | None = None,
    terms: Sequence[str] | None = None,
) -> str:
    """Format a wide coefficient table: rows are years (or subgroups), columns terms.

    Parameters
    ----------
    wide : pandas.DataFrame
        :func:`geoattr.models.vra_sum.yearly_table` output (index: year) or
        :func:`~geoattr.models.vra_sum.wide_table` of subgroups (index: subgroup).
    fmt : {"latex", "markdown", "html"}, default "latex"
    digits : int, default 3
    stars : sequence of float, default (0.10, 0.05, 0.01)
        One star per threshold the p-value lies below.
    labels : mapping of str to str, optional
        Display names of the terms (default :data:`LABELS`); escaped for ``fmt``.
    terms : sequence of str, optional
        Terms shown, in this order (default every term, the constant last).

    Returns
    -------
    str
        The table, with the note "Standard errors in parentheses" and the star legend.

    Raises
    ------
    InputError
        A table without terms, or unknown ``terms``.
    """
    if not isinstance(wide, pd.DataFrame):
        raise InputError(f"sum_table needs the DataFrame of yearly_table()/wide_table(), got {type(wide).__name__}")
    have = table_terms(wide)
    if not have:
        raise InputError(f"sum_table: no term columns (<term>, <term>_se, <term>_p) in {list(wide.columns)}")
    shown = list(terms) if terms is not None else have
    unknown = [t for t in shown if t not in have]
    if unknown:
        raise InputError(f"sum_table: term(s) {unknown} are not in the table; it has {have}")
    names = {**LABELS, **dict(labels or {})}
    extra = [c for c in ("nobs", "r2") if c in wide.columns]
    header = [_escape(str(wide.index.name or ""), fmt)] + [_escape(names.get(t, t), fmt) for t in shown]
    header += [{"nobs": "N", "r2": "$R^2$" if fmt == "latex" else "R²"}[c] for c in extra]
    blocks = []
    for key, r in wide.iterrows():
        row, se_row = [_escape(str(key), fmt)], [""]
        for t in shown:
            cell, se_cell = coefficient_cells(r[t], r[f"{t}_se"], r[f"{t}_p"], digits=digits, stars=stars)
            row.append(cell)
            se_row.append(se_cell)
        for c in extra:
            row.append("" if pd.isna(r[c]) else (f"{int(r[c])}" if c == "nobs" else f"{float(r[c]):.{digits}f}"))
            se_row.append("")
        blocks.append([row, se_row])
    legend = ", ".join(f"{'*' * (i + 1)} p<{t:g}" for i, t in enumerate(sorted(stars, reverse=True)))
    if fmt == "markdown":
        legend = legend.replace("*", "\\*")
    note = "Standard errors in parentheses" + (f". {legend}." if legend else ".")
    return render_table(header, [sum(blocks, [])], fmt=fmt, note=note,
                        align="l" + "c" * (len(shown)) + "r" * len(extra))


@fill_doc(figure_path=FIGURE_PATH)
def vra_sum_over_time(
    wide: pd.DataFrame,
    *,
    terms: Sequence[str] = ("vra_sum", "centrality"),
    level: float = 0.95,
    path: str | Path | None = None,
) -> Figure:
    """Sum VRA and the centrality coefficient by year, with confidence bands.

    Parameters
    ----------
    wide : pandas.DataFrame
        :func:`geoattr.models.vra_sum.yearly_table` output (index year; ``vra_sum``,
        ``vra_sum_se``, ``centrality``, ``centrality_se``...).
    terms : sequence of str, default ("vra_sum", "centrality")
        One panel each, titled with :data:`LABELS`.
    level : float, default 0.95
        The band is ``estimate ± z * std_error``.
    {figure_path}

    Raises
    ------
    InputError
        A term the table lacks (e.g. a specification without VRA has no Sum VRA).
    """
    missing = [t for t in terms if t not in wide.columns or f"{t}_se" not in wide.columns]
    if missing:
        raise InputError(f"vra_sum_over_time: the table has no {missing} (with standard errors); its columns are "
                         f"{list(wide.columns)}")
    long = pd.concat([pd.DataFrame({"year": wide.index.to_numpy(), "term": LABELS.get(t, t),
                                    "estimate": wide[t].to_numpy(float), "std_error": wide[f"{t}_se"].to_numpy(float)})
                      for t in terms], ignore_index=True)
    return coefficients_over_time(long, level=level, path=path)
