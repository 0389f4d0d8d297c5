r"""Publication tables: regression, comparison and ranking tables in LaTeX or Markdown.

The layout is the one economists expect: one column per model, the estimate with
significance stars and the standard error in parentheses on the row below, fit
statistics at the bottom.  LaTeX output is a ``tabular`` with booktabs rules
(``\\toprule``, ``\\midrule``, ``\\bottomrule``; add ``\\usepackage{booktabs}`` to the
preamble); Markdown output is a pipe table followed by a one-line note; HTML output (for the
report) is a ``<table class="geoattr-table">`` with one ``<tbody>`` per panel and the
note in ``<tfoot>``.

Nothing here estimates anything: the functions format results that exist already
(:class:`~geoattr.models.results.RegressionResults`, the ``table`` of
:func:`geoattr.compare` and the output of :func:`geoattr.rankings`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr._format import as_finite, escape_html, escape_latex, escape_markdown
from geoattr._format import stars as significance_stars
from geoattr.exceptions import InputError

__all__ = [
    "regression_table",
    "comparison_table",
    "ranking_table",
    "render_table",
    "coefficient_cells",
    "as_models",
    "params_of",
    "unwrap",
    "select_terms",
    "FORMATS",
    "STATISTICS",
]

#: Output formats understood by every table function.
FORMATS: tuple[str, ...] = ("latex", "markdown", "html")

#: Statistics of :func:`regression_table`: key -> (attribute, Markdown label, LaTeX label).
STATISTICS: dict[str, tuple[str, str, str]] = {
    "nobs": ("nobs", "Observations", "Observations"),
    "r2": ("rsquared", "R²", "$R^2$"),
    "adj_r2": ("rsquared_adj", "Adj. R²", "Adj. $R^2$"),
    "loglik": ("loglik", "Log-likelihood", "Log-likelihood"),
    "aic": ("aic", "AIC", "AIC"),
    "bic": ("bic", "BIC", "BIC"),
}

Format = Literal["latex", "markdown", "html"]


# --------------------------------------------------------------------------- helpers
def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown fmt {fmt!r}; allowed values are {list(FORMATS)}")


def _check_options(stars: Sequence[float], digits: int) -> tuple[float, ...]:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise InputError(f"digits must be a non-negative integer, got {digits!r}")
    out = tuple(float(s) for s in stars)
    bad = [s for s in out if not 0.0 < s < 1.0]
    if bad:
        raise InputError(f"stars thresholds must lie strictly between 0 and 1, got {bad}")
    return tuple(sorted(out, reverse=True))


def _plain(s: str, fmt: str) -> str:
    """Escape a plain-text cell for Markdown or HTML."""
    return escape_html(s) if fmt == "html" else escape_markdown(s)


def _num(v: Any, digits: int) -> str:
    """Format a number with ``digits`` decimals; blank for missing, no ``-0.000``."""
    x = as_finite(v)
    if x is None:
        return ""
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


def _persons(x: float) -> str:
    """Whole persons with a thousands separator; blank when not finite, no ``-0``."""
    if not math.isfinite(x):
        return ""
    s = f"{x:,.0f}"
    return s[1:] if s in ("-0",) else s


def _int(v: Any) -> str:
    x = as_finite(v)
    return "" if x is None else f"{x:.0f}"


def _coef_cells(
    estimate: Any, se: Any, p: Any, *, digits: int, thresholds: tuple[float, ...]
) -> tuple[str, str]:
    """The estimate with its stars and the standard error in parentheses (blank when missing)."""
    e = _num(estimate, digits)
    s = _num(se, digits)
    return e + (significance_stars(p, thresholds) if e else ""), f"({s})" if s else ""


def _stars_note(thresholds: tuple[float, ...], fmt: str) -> str:
    parts = [f"{'*' * (i + 1)} p<{t:g}" for i, t in enumerate(thresholds)]
    if fmt == "markdown":
        parts = [p.replace("*", "\\*") for p in parts]
    return ", ".join(parts)


def _render(
    header: list[str],
    blocks: list[list[list[str]]],
    *,
    fmt: str,
    note: str | None,
    align: str,
) -> str:
    """Render already escaped cells; ``blocks`` are separated by a rule (LaTeX) or nothing."""
    ncol = len(header)
    if fmt == "latex":
        lines = [
            "\\begin{tabular}{" + align + "}",
            "\\toprule",
            " & ".join(header) + " \\\\",
            "\\midrule",
        ]
        for i, block in enumerate(blocks):
            if i and block:
                lines.append("\\midrule")
            lines.extend(" & ".join(row) + " \\\\" for row in block)
        lines.append("\\bottomrule")
        if note:
            lines.append(f"\\multicolumn{{{ncol}}}{{l}}{{\\footnotesize {note}}} \\\\")
        lines.append("\\end{tabular}")
        return "\n".join(lines) + "\n"
    if fmt == "html":
        css = {"l": "left", "c": "center", "r": "right"}

        def tr(cells: list[str], tag: str) -> str:
            return "<tr>" + "".join(
                f'<{tag} style="text-align:{css[a]}">{c}</{tag}>' for c, a in zip(cells, align)) + "</tr>"

        lines = ['<table class="geoattr-table">', "<thead>" + tr(header, "th") + "</thead>"]
        for block in blocks:
            if block:
                lines.append("<tbody>" + "".join(tr(row, "td") for row in block) + "</tbody>")
        if note:
            lines.append(f'<tfoot><tr><td colspan="{ncol}">{note}</td></tr></tfoot>')
        lines.append("</table>")
        return "\n".join(lines) + "\n"
    sep = {"l": ":---", "c": ":---:", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep[a] for a in align) + "|"]
    for block in blocks:
        lines.extend("| " + " | ".join(row) + " |" for row in block)
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def render_table(header: list[str], blocks: list[list[list[str]]], *, fmt: Format, note: str | None = None,
                 align: str) -> str:
    """Render cells already escaped for ``fmt`` (``blocks``: groups of rows; ``align``: l/c/r per column).

    Returns
    -------
    str
        The LaTeX, Markdown or HTML table of :func:`regression_table`'s style.
    """
    _check_fmt(fmt)
    return _render(header, blocks, fmt=fmt, note=note, align=align)


def coefficient_cells(estimate: Any, se: Any, p: Any, *, digits: int = 3,
                      stars: Sequence[float] = (0.10, 0.05, 0.01)) -> tuple[str, str]:
    """An estimate with its stars and its standard error in parentheses, e.g. ``("0.452***", "(0.020)")``.

    Returns
    -------
    (str, str)
        Blank cells for missing values.
    """
    return _coef_cells(estimate, se, p, digits=digits, thresholds=_check_options(stars, digits))


def _model_table(
    columns: list[str],
    blocks: list[list[list[str]]],
    *,
    fmt: str,
    notes: bool,
    thresholds: tuple[float, ...],
) -> str:
    """A table of one column per model: escaped model names, the standard-error note."""
    header = [""] + [escape_latex(c) if fmt == "latex" else _plain(c, fmt) for c in columns]
    note = None
    if notes:
        note = "Standard errors in parentheses." + (
            f" {_stars_note(thresholds, fmt)}." if thresholds else ""
        )
    return _render(header, blocks, fmt=fmt, note=note, align="l" + "c" * len(columns))


def params_of(obj: Any, key: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Estimates, standard errors and p-values of one result (NaN where absent).

    Parameters
    ----------
    obj : RegressionResults or AttractivenessResults
        Any object with ``params`` (a Series by term); ``std_errors`` and ``pvalues``
        are used when present.
    key : str
        The result's name, for the error message.

    Returns
    -------
    (pandas.Series, pandas.Series, pandas.Series)
        Estimates, standard errors and p-values on the terms of ``params``.
    """
    obj = unwrap(obj)
    params = getattr(obj, "params", None)
    if not isinstance(params, pd.Series):
        raise InputError(
            f"model {key!r} has no params (a pandas Series of estimates by term); "
            f"got a {type(obj).__name__}. Pass a geoattr RegressionResults"
        )
    nan = pd.Series(np.nan, index=params.index)
    se = getattr(obj, "std_errors", None)
    pv = getattr(obj, "pvalues", None)
    se = se.reindex(params.index) if isinstance(se, pd.Series) else nan
    pv = pv.reindex(params.index) if isinstance(pv, pd.Series) else nan
    return params, se, pv


def unwrap(obj: Any) -> Any:
    """Return the RegressionResults of an AttractivenessResults; anything else unchanged.

    Parameters
    ----------
    obj : Any
        A result, or an :class:`~geoattr.models.ols.AttractivenessResults` holding one
        in ``results``.

    Returns
    -------
    Any
        The result inside, else ``obj`` itself.
    """
    if (
        getattr(obj, "params", None) is None
        and getattr(getattr(obj, "results", None), "params", None) is not None
    ):
        return obj.results
    return obj


def as_models(results: Any) -> dict[str, Any]:
    """Name -> result: a mapping keeps its names (as strings), one result is named ``(1)``.

    Parameters
    ----------
    results : result or mapping of str to result

    Returns
    -------
    dict of str to result
    """
    if isinstance(results, Mapping):
        if not results:
            raise InputError("results is empty; pass a result or a dict name -> result")
        return {str(k): v for k, v in results.items()}
    return {"(1)": results}


def select_terms(all_terms: list[str], terms: Sequence[str] | None) -> list[str]:
    """The terms to show: ``terms`` in their order (checked), else every term.

    Parameters
    ----------
    all_terms : list of str
        The terms estimated.
    terms : sequence of str or None
        The terms asked for.

    Returns
    -------
    list of str
        The terms to show, in the order of the models' terms.

    Raises
    ------
    InputError
        A term no model estimates.
    """
    if terms is None:
        return all_terms
    terms = list(terms)
    unknown = [t for t in terms if t not in all_terms]
    if unknown:
        raise InputError(f"term(s) {unknown} are not estimated by any model; terms are {all_terms}")
    return terms


# --------------------------------------------------------------------------- public
def regression_table(
    results: Any,
    *,
    fmt: Format = "latex",
    stars: Sequence[float] = (0.10, 0.05, 0.01),
    digits: int = 3,
    labels: Mapping[str, str] | None = None,
    stats: Sequence[str] = ("nobs", "r2", "loglik", "aic"),
    terms: Sequence[str] | None = None,
    notes: bool = True,
) -> str:
    r"""Regression table: one column per model, standard errors in parentheses.

    Parameters
    ----------
    results : RegressionResults or mapping of str to RegressionResults
        One result, or column name -> result (columns keep the mapping's order).  A
        single result gets the column name ``(1)``.  Any object with ``params``
        (a Series by term) works; ``std_errors`` and ``pvalues`` are used when present,
        and an :class:`~geoattr.models.ols.AttractivenessResults` is unwrapped to its
        ``results``.
    fmt : {"latex", "markdown", "html"}, default "latex"
        LaTeX booktabs ``tabular`` (one ``l`` and one ``c`` column per model), a
        Markdown pipe table or an HTML ``<table>``.
    stars : sequence of float, default (0.10, 0.05, 0.01)
        p-value thresholds; an estimate gets one star per threshold its p-value lies
        strictly below (``*`` p<.10, ``**`` p<.05, ``***`` p<.01).  ``()`` for none.
    digits : int, default 3
        Decimals of estimates, standard errors and statistics (``nobs`` is an integer).
    labels : mapping of str to str, optional
        Display names of terms (and statistics keys).  In LaTeX a label is inserted
        verbatim, so it may contain math (``"$\\rho$"``); terms without a label are
        escaped (``vra_l1`` -> ``vra\\_l1``).
    stats : sequence of str, default ("nobs", "r2", "loglik", "aic")
        Bottom rows, from :data:`STATISTICS` (``nobs, r2, adj_r2, loglik, aic, bic``);
        a result lacking the attribute shows a blank cell.
    terms : sequence of str, optional
        Terms to show, in this order (default every term, in order of appearance).
    notes : bool, default True
        Add the line "Standard errors in parentheses" with the star legend.

    Returns
    -------
    str
        The table (ends with a newline).

    Raises
    ------
    InputError
        Unknown ``fmt`` or statistic, a result without ``params`` (the message names its
        key), unknown ``terms``, invalid ``stars`` or ``digits``.
    """
    _check_fmt(fmt)
    thresholds = _check_options(stars, digits)
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown:
        raise InputError(f"unknown statistic(s) {unknown}; allowed values are {list(STATISTICS)}")
    models = as_models(results)
    est: dict[str, tuple[pd.Series, pd.Series, pd.Series]] = {
        k: params_of(v, k) for k, v in models.items()
    }
    all_terms: list[str] = []
    for p, _, _ in est.values():
        all_terms.extend(str(t) for t in p.index if str(t) not in all_terms)
    shown = select_terms(all_terms, terms)
    labels = dict(labels or {})

    def label(name: str, default: str | None = None) -> str:
        if name in labels:
            return labels[name] if fmt == "latex" else _plain(labels[name], fmt)
        if default is not None:  # statistics labels are already written for their format
            return default if fmt == "latex" else _plain(default, fmt)
        return escape_latex(name) if fmt == "latex" else _plain(name, fmt)

    coef_rows: list[list[str]] = []
    for t in shown:
        row, se_row = [label(t)], [""]
        for p, se, pv in est.values():
            if t in p.index:
                cell, se_cell = _coef_cells(p[t], se[t], pv[t], digits=digits, thresholds=thresholds)
                row.append(cell)
                se_row.append(se_cell)
            else:
                row.append("")
                se_row.append("")
        coef_rows += [row, se_row]
    stat_rows: list[list[str]] = []
    for s in stats:
        attr, md_label, tex_label = STATISTICS[s]
        row = [label(s, tex_label if fmt == "latex" else md_label)]
        for obj in models.values():
            v = getattr(unwrap(obj), attr, np.nan)
            row.append(_int(v) if s == "nobs" else _num(v, digits))
        stat_rows.append(row)
    return _model_table(list(models), [coef_rows, stat_rows], fmt=fmt, notes=notes, thresholds=thresholds)


_COMPARISON_LABELS = {
    "nobs": "Observations",
    "loglik": "Log-likelihood",
    "aic": "AIC",
    "bic": "BIC",
    "r2": "R²",
    "rmse_holdout": "RMSE (hold-out)",
}


def comparison_table(
    comparison: Any,
    *,
    fmt: Format = "latex",
    pvalues: pd.DataFrame | None = None,
    stars: Sequence[float] = (0.10, 0.05, 0.01),
    digits: int = 3,
    labels: Mapping[str, str] | None = None,
    notes: bool = True,
) -> str:
    """Format the tidy table of :func:`geoattr.compare` for publication.

    Parameters
    ----------
    comparison : pandas.DataFrame or Comparison
        ``compare(...).table`` — rows ``<term>`` and ``<term> (se)`` for every
        coefficient, then statistics rows (``nobs``, ``loglik``, ``aic``, ``bic``,
        ``r2``, ``moran_I_z[<w>]``, ``rmse_holdout``...); one column per model
        (``model`` or ``model|weights``) — or the :class:`~geoattr.compare.Comparison`
        itself, whose results then supply the p-values.
    fmt : {"latex", "markdown", "html"}, default "latex"
    pvalues : pandas.DataFrame, optional
        p-values, terms x columns, for the stars.  Without them (and without a
        Comparison) estimates are shown without stars.
    stars : sequence of float, default (0.10, 0.05, 0.01)
        See :func:`regression_table`.
    digits : int, default 3
    labels : mapping of str to str, optional
        Display names of terms and statistics rows (verbatim in LaTeX).
    notes : bool, default True
        Add the note line (standard errors; star legend when stars are shown).

    Returns
    -------
    str
        Coefficient rows (estimate, then standard error in parentheses), a rule, then
        the statistics rows in the frame's order; ``nobs`` is shown as an integer and
        missing cells are blank.

    Raises
    ------
    InputError
        Unknown ``fmt``; a frame without any ``<term> (se)`` row, with an ``(se)`` row
        whose estimate row is missing, or with non-numeric cells.
    """
    _check_fmt(fmt)
    thresholds = _check_options(stars, digits)
    if isinstance(comparison, pd.DataFrame):
        frame = comparison
    elif isinstance(getattr(comparison, "table", None), pd.DataFrame):
        frame = comparison.table
        if pvalues is None and isinstance(getattr(comparison, "results", None), Mapping):
            pvalues = pd.DataFrame(
                {
                    k: getattr(r, "pvalues", pd.Series(dtype=float))
                    for k, r in comparison.results.items()
                }
            )
    else:
        raise InputError(
            "comparison must be the table of geoattr.compare(...) or the Comparison, "
            f"got {type(comparison).__name__}"
        )
    try:
        values = frame.apply(pd.to_numeric, errors="raise").astype(float)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"the comparison table has non-numeric cells ({err}); pass compare(...).table"
        ) from err
    rows = [str(r) for r in values.index]
    values.index = rows
    se_rows = [r for r in rows if r.endswith(" (se)")]
    if not se_rows:
        raise InputError(
            "the comparison table has no '<term> (se)' rows; pass compare(...).table "
            f"(its rows are {rows[:8]}{'...' if len(rows) > 8 else ''})"
        )
    orphan = [r for r in se_rows if r[: -len(" (se)")] not in rows]
    if orphan:
        raise InputError(f"standard-error row(s) {orphan} have no estimate row")
    terms = [r for r in rows if f"{r} (se)" in rows]
    stat_names = [r for r in rows if r not in terms and r not in se_rows]
    if pvalues is not None:
        pvalues = pvalues.reindex(index=terms, columns=values.columns)
        use_stars = thresholds
    else:
        use_stars = ()
    labels = dict(labels or {})
    cols = [str(c) for c in values.columns]

    def label(name: str) -> str:
        if name in labels:
            return labels[name] if fmt == "latex" else _plain(labels[name], fmt)
        if name == "r2":
            return "$R^2$" if fmt == "latex" else "R²"
        text = _COMPARISON_LABELS.get(name, name)
        return escape_latex(text) if fmt == "latex" else _plain(text, fmt)

    coef_rows: list[list[str]] = []
    for t in terms:
        row, se_row = [label(t)], [""]
        for j in range(len(cols)):
            p = pvalues.loc[t].iloc[j] if pvalues is not None else np.nan
            cell, se_cell = _coef_cells(
                values.loc[t].iloc[j], values.loc[f"{t} (se)"].iloc[j], p,
                digits=digits, thresholds=use_stars,
            )
            row.append(cell)
            se_row.append(se_cell)
        coef_rows += [row, se_row]
    stat_rows = [
        [label(r)] + [(_int(v) if r == "nobs" else _num(v, digits)) for v in values.loc[r]]
        for r in stat_names
    ]
    return _model_table(cols, [coef_rows, stat_rows], fmt=fmt, notes=notes, thresholds=use_stars)


_RANKING_COLUMNS = ("list", "rank", "unit", "name", "residual", "residual_persons")


def ranking_table(
    rankings: pd.DataFrame,
    *,
    fmt: Format = "latex",
    top_n: int = 10,
    digits: int = 2,
    show_names: bool | None = None,
) -> str:
    """Table of the most and least attractive units.

    Parameters
    ----------
    rankings : pandas.DataFrame
        Output of :func:`geoattr.rankings` (columns ``level, list, rank, unit, name,
        residual, residual_persons``).
    fmt : {"latex", "markdown", "html"}, default "latex"
    top_n : int, default 10
        Units shown in each panel; at most the ``n`` the rankings were made with.
    digits : int, default 2
        Decimals of the attractiveness (percentage points); persons are rounded to
        whole persons with a thousands separator.
    show_names : bool, optional
        Show the ``name`` column; default only when some name differs from its id.

    Returns
    -------
    str
        Two panels, "Most attractive" (rank 1 first) and "Least attractive" (the least
        attractive first), with columns Rank, Unit, (Name,) Attractiveness (pp) and
        Persons.

    Raises
    ------
    InputError
        Unknown ``fmt``, missing columns, ``top_n < 1``.
    """
    _check_fmt(fmt)
    _check_options((), digits)
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise InputError(f"top_n must be an integer >= 1, got {top_n!r}")
    if not isinstance(rankings, pd.DataFrame):
        raise InputError(
            f"rankings must be the DataFrame of geoattr.rankings(), got {type(rankings).__name__}"
        )
    missing = [c for c in _RANKING_COLUMNS if c not in rankings.columns]
    if missing:
        raise InputError(
            f"rankings lacks column(s) {missing}; pass the output of geoattr.rankings()"
        )
    top = rankings[rankings["list"] == "top"].sort_values("rank", kind="mergesort").head(top_n)
    bottom = (
        rankings[rankings["list"] == "bottom"]
        .sort_values("rank", ascending=False, kind="mergesort")
        .head(top_n)
    )
    if show_names is None:
        both = pd.concat([top, bottom])
        show_names = bool((both["name"].astype(str) != both["unit"].astype(str)).any())
    esc = escape_latex if fmt == "latex" else (lambda text: _plain(text, fmt))
    header = (
        ["Rank", "Unit"] + (["Name"] if show_names else []) + ["Attractiveness (pp)", "Persons"]
    )
    ncol = len(header)

    def rows(part: pd.DataFrame) -> list[list[str]]:
        out = []
        for r in part.itertuples(index=False):
            persons = float(r.residual_persons)
            cells = [_int(r.rank), esc(str(r.unit))] + ([esc(str(r.name))] if show_names else [])
            cells += [_num(r.residual, digits), _persons(persons)]
            out.append(cells)
        return out

    def title(text: str) -> list[str]:
        if fmt == "latex":
            return [f"\\multicolumn{{{ncol}}}{{l}}{{\\textit{{{text}}}}}"]
        if fmt == "html":
            return [f"<em>{text}</em>"] + [""] * (ncol - 1)
        return [f"*{text}*"] + [""] * (ncol - 1)

    blocks = [[title("Most attractive")] + rows(top), [title("Least attractive")] + rows(bottom)]
    align = "rl" + ("l" if show_names else "") + "rr"
    return _render(header, blocks, fmt=fmt, note=None, align=align)
