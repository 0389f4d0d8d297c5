"""Matplotlib figures of the attractiveness model, ready for papers and reports.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas
(the figures are created without :mod:`matplotlib.pyplot`, so nothing changes the
global backend or accumulates open figures) and takes a keyword-only ``path``: when
given, the figure is also saved there as PNG or SVG, chosen by the suffix.

In a notebook the returned figure displays itself; in a script call
``fig.savefig(...)`` or pass ``path=``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from geoattr._docstrings import FIGURE_PATH, fill_doc
from geoattr._format import escape_mathtext
from geoattr.exceptions import InputError
from geoattr.report.tables import as_models, params_of, select_terms, unwrap
from geoattr.report.waterfall import component_values, waterfall_steps

__all__ = [
    "observed_vs_expected",
    "coefficients_over_time",
    "ranking_bars",
    "decomposition_waterfall",
    "forest_plot",
    "SAVE_FORMATS",
]

#: File suffixes accepted by ``path=`` (case-insensitive).
SAVE_FORMATS: tuple[str, ...] = (".png", ".svg")

_POS, _NEG, _TOTAL = "#2166ac", "#b2182b", "#4d4d4d"

Names = Mapping[str, str] | pd.Series | None


# --------------------------------------------------------------------------- helpers
def _check_path(path: str | Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() not in SAVE_FORMATS:
        raise InputError(
            f"cannot save a figure as {p.name!r}: the suffix must be one of {list(SAVE_FORMATS)}"
        )
    return p


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, path: Path | None) -> Figure:
    if path is not None:
        fig.savefig(path, format=path.suffix.lower().lstrip("."), dpi=150)
    return fig


def _name(names: Names, unit: Any) -> str:
    """The unit's name (else its id) as a figure label: drawn as written, never as mathtext."""
    if names is not None and unit in names.keys():
        v = names[unit]
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return escape_mathtext(v)
    return escape_mathtext(unit)


def _check_frame(frame: Any, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected the DataFrame of {what}, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"the table lacks column(s) {missing} (it has {list(frame.columns)}); pass the output of {what}")


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _z(level: float) -> float:
    if not isinstance(level, (int, float, np.floating)) or not 0.0 < float(level) < 1.0:
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    return float(stats.norm.ppf(0.5 + float(level) / 2.0))


def _shown_terms(all_terms: list[str], terms: Sequence[str] | None) -> list[str]:
    """``terms`` checked (:func:`select_terms`); by default every term but ``const`` (all if only it)."""
    if terms is None:
        return [t for t in all_terms if t != "const"] or all_terms
    return select_terms(all_terms, terms)


def _unit_means(att: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if "unit" not in (att.index.names or []):
        raise InputError(
            f"the attractiveness table must be indexed by unit (and year); its index levels are "
            f"{list(att.index.names)}"
        )
    return att[columns].groupby(level="unit", sort=False).mean()


# --------------------------------------------------------------------------- figures
@fill_doc(figure_path=FIGURE_PATH)
def observed_vs_expected(
    att: pd.DataFrame,
    *,
    year: int | None = None,
    label_n: int = 5,
    names: Names = None,
    path: str | Path | None = None,
) -> Figure:
    """Scatter of observed against expected net migration, with the 45-degree line.

    Units above the line attract more migrants than the model expects (positive
    attractiveness).  The ``label_n`` units with the largest and the ``label_n`` with the
    smallest residual are annotated.

    Parameters
    ----------
    att : pandas.DataFrame
        Output of :func:`geoattr.attractiveness`: index (unit, year), columns
        ``actual``, ``expected`` and ``residual`` (% of the population).
    year : int, optional
        Plot this year; default the mean over all years of every unit.
    label_n : int, default 5
        Units annotated at each end of the residual ranking (0 for none).
    names : mapping or pandas.Series, optional
        Unit id -> display name for the annotations (default the ids).
    {figure_path}
        One axes; its first collection holds one point per unit.

    Raises
    ------
    InputError
        Missing columns, a ``year`` not in the table, a bad ``label_n`` or ``path``.
    """
    out = _check_path(path)
    _check_frame(att, ["actual", "expected", "residual"], "geoattr.attractiveness()")
    label_n = _check_count(label_n, "label_n", 0)
    data = att
    if year is not None:
        if "year" not in (att.index.names or []):
            raise InputError(
                f"year={year} needs a (unit, year) index; the index is {list(att.index.names)}"
            )
        yrs = att.index.get_level_values("year")
        if year not in set(yrs):
            raise InputError(f"year {year} is not in the table; it covers {sorted(set(yrs))}")
        data = att[yrs == year]
    means = _unit_means(data, ["actual", "expected", "residual"])
    if means.empty:
        raise InputError("the attractiveness table is empty")
    order = means["residual"].sort_values(ascending=False, kind="mergesort").index
    labelled = list(dict.fromkeys(list(order[:label_n]) + list(order[::-1][:label_n])))

    fig = _figure(6.5, 6.0)
    ax = fig.add_subplot()
    ax.scatter(means["expected"], means["actual"], s=14, color=_POS, alpha=0.7, linewidths=0)
    lo = float(min(means["expected"].min(), means["actual"].min()))
    hi = float(max(means["expected"].max(), means["actual"].max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        ls="--",
        lw=1,
        color=_TOTAL,
        label="observed = expected",
    )
    for u in labelled:
        ax.annotate(
            _name(names, u),
            (float(means.at[u, "expected"]), float(means.at[u, "actual"])),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
        )
    when = f"{year}" if year is not None else "mean over years"
    if year is None and "year" in (att.index.names or []):
        yrs = att.index.get_level_values("year")
        when = f"mean {yrs.min()}-{yrs.max()}"
    ax.set_xlabel("Expected net migration (% of population)")
    ax.set_ylabel("Observed net migration (% of population)")
    ax.set_title(f"Observed vs expected net migration, {when}")
    ax.legend(loc="upper left", frameon=False)
    return _finish(fig, out)


@fill_doc(figure_path=FIGURE_PATH)
def coefficients_over_time(
    yearly_frame: pd.DataFrame,
    *,
    terms: Sequence[str] | None = None,
    level: float = 0.95,
    path: str | Path | None = None,
) -> Figure:
    """Year-by-year coefficients with their confidence bands.

    Shows whether an effect is stable over time: one panel per term, the estimates of
    ``geoattr.estimate_by_year`` as a line and the confidence band shaded.

    Parameters
    ----------
    yearly_frame : pandas.DataFrame
        ``geoattr.estimate_by_year(...).to_frame()``: columns ``year``, ``term``,
        ``estimate`` and ``std_error``, one row per year and term.
    terms : sequence of str, optional
        Terms to plot, one panel each (default every term but ``const``).
    level : float, default 0.95
        Confidence level; the band is ``estimate ± z * std_error`` with ``z`` the
        normal quantile (1.96 for 0.95).
    {figure_path}
        One axes per term (titled by the term), in the order of ``terms``; each holds
        the band (a ``fill_between`` collection) and the estimates (a line).

    Raises
    ------
    InputError
        Missing columns, duplicated (year, term) rows, unknown terms, a ``level``
        outside (0, 1) or a bad ``path``.
    """
    out = _check_path(path)
    z = _z(level)
    _check_frame(
        yearly_frame, ["year", "term", "estimate", "std_error"], "estimate_by_year(...).to_frame()"
    )
    dup = yearly_frame.duplicated(["year", "term"])
    if dup.any():
        bad = yearly_frame.loc[dup, ["year", "term"]].head(5).to_records(index=False).tolist()
        raise InputError(
            f"(year, term) pairs appear more than once, e.g. {bad}; pass one specification"
        )
    all_terms = [str(t) for t in dict.fromkeys(yearly_frame["term"])]
    shown = _shown_terms(all_terms, terms)
    if not shown:
        raise InputError("the yearly table has no rows")
    ncols = min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig = _figure(4.0 * ncols, 3.0 * nrows)
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for ax in axes[len(shown) :]:
        fig.delaxes(ax)
    for ax, t in zip(axes, shown):
        sub = yearly_frame[yearly_frame["term"].astype(str) == t].sort_values(
            "year", kind="mergesort"
        )
        x = sub["year"].to_numpy(dtype=float)
        est = sub["estimate"].to_numpy(dtype=float)
        se = sub["std_error"].to_numpy(dtype=float)
        ax.fill_between(
            x, est - z * se, est + z * se, color=_POS, alpha=0.25, lw=0, label=f"{level:.0%} CI"
        )
        ax.plot(x, est, marker="o", ms=3, color=_POS, label="estimate")
        ax.axhline(0.0, color=_TOTAL, lw=0.8)
        ax.set_title(escape_mathtext(t))
        ax.set_xlabel("year")
    axes[0].legend(frameon=False, fontsize=8)
    return _finish(fig, out)


@fill_doc(figure_path=FIGURE_PATH)
def ranking_bars(
    att_or_rankings: pd.DataFrame,
    *,
    n: int = 10,
    names: Names = None,
    path: str | Path | None = None,
) -> Figure:
    """Horizontal bars of the ``n`` most and ``n`` least attractive units.

    Blue bars are units more attractive than the model expects (positive residual), red
    bars less; a dotted line separates the two ends when units in between are left out.

    Parameters
    ----------
    att_or_rankings : pandas.DataFrame
        One of: the output of :func:`geoattr.attractiveness` (index (unit, year);
        units are ranked by their mean residual over the years), of
        :func:`geoattr.cumulate` (ranked by ``mean_residual``) or of
        :func:`geoattr.rankings` (its order and its ``residual`` column are kept).
    n : int, default 10
        Units at each end; all units when there are no more than ``2 n``.
    names : mapping or pandas.Series, optional
        Unit id -> label (default the ``name`` column of a rankings frame, else ids).
    {figure_path}
        One axes; bars from the most attractive (top) to the least attractive
        (bottom), blue for positive and red for negative values.

    Raises
    ------
    InputError
        A table of none of the three kinds, a bad ``n`` or ``path``.
    """
    out = _check_path(path)
    n = _check_count(n, "n", 1)
    frame = att_or_rankings
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a DataFrame, got {type(frame).__name__}")
    labels: dict[Any, str] = {}
    if {"list", "rank", "unit", "residual"} <= set(frame.columns):
        top = frame[frame["list"] == "top"].sort_values("rank", kind="mergesort").head(n)
        bottom = frame[frame["list"] == "bottom"].sort_values(
            "rank", ascending=False, kind="mergesort"
        )
        bottom = bottom.head(n).iloc[::-1]
        both = pd.concat([top, bottom]).drop_duplicates("unit")
        values = pd.Series(both["residual"].to_numpy(dtype=float), index=both["unit"].to_numpy())
        if "name" in both.columns:
            labels = {u: str(v) for u, v in zip(both["unit"], both["name"])}
        xlabel = "Cumulative attractiveness (percentage points)"
        split = len(top) if len(top) and len(both) > len(top) else None
    else:
        if "mean_residual" in frame.columns:
            mean = frame["mean_residual"].astype(float)
        elif "residual" in frame.columns and "year" in (frame.index.names or []):
            mean = _unit_means(frame, ["residual"])["residual"]
        else:
            raise InputError(
                "pass the output of geoattr.attractiveness(), geoattr.cumulate() or "
                "geoattr.rankings(); "
                f"the table has columns {list(frame.columns)} and index {list(frame.index.names)}"
            )
        s = mean.sort_values(ascending=False, kind="mergesort")
        values = s if len(s) <= 2 * n else pd.concat([s.head(n), s.tail(n)])
        split = n if len(s) > 2 * n else None
        xlabel = "Mean attractiveness (% of population per year)"
    ticks = [_name(names, u) if names is not None else escape_mathtext(labels.get(u, u)) for u in values.index]
    k = len(values)
    y = np.arange(k)[::-1].astype(float)
    fig = _figure(6.5, 0.28 * k + 1.2)
    ax = fig.add_subplot()
    v = values.to_numpy(dtype=float)
    ax.barh(y, v, color=np.where(v >= 0, _POS, _NEG), height=0.75)
    ax.set_yticks(y, ticks, fontsize=8)
    ax.axvline(0.0, color=_TOTAL, lw=0.8)
    if split is not None:
        ax.axhline(k - split - 0.5, color=_TOTAL, lw=0.6, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_title("Most and least attractive units")
    return _finish(fig, out)


@fill_doc(figure_path=FIGURE_PATH)
def decomposition_waterfall(
    decomposition_frame: pd.DataFrame,
    unit: Any,
    *,
    names: Names = None,
    subtotals: bool = False,
    path: str | Path | None = None,
) -> Figure:
    """Waterfall of the components of population change for one unit.

    Parameters
    ----------
    decomposition_frame : pandas.DataFrame
        Output of :func:`geoattr.decompose`: columns ``unit, component,
        persons_per_year``, one component ``observed`` that the others add up to.
    unit : str
        Unit id (as in the ``unit`` column, e.g. ``"0301"``).
    names : mapping or pandas.Series, optional
        Unit id -> name for the title.
    subtotals : bool, default False
        Group the bars as :func:`geoattr.report.waterfall.waterfall_steps` does: births
        and deaths then a grey *natural change* bar spanning them, the forces of
        migration then a grey *net migration* bar, the rest, the observed change; with
        readable component names.
    {figure_path}
        One axes; one floating bar per component in the table's order (starting where
        the previous one ended), then a final bar from zero to the observed change
        (with ``subtotals``: the bars of :func:`~geoattr.report.waterfall.waterfall_steps`).

    Raises
    ------
    InputError
        Missing columns, an unknown unit, no ``observed`` row, duplicated components or
        a bad ``path``.
    """
    out = _check_path(path)
    _check_frame(
        decomposition_frame, ["unit", "component", "persons_per_year"], "geoattr.decompose()"
    )
    values = component_values(decomposition_frame, unit)
    if subtotals:
        steps = waterfall_steps(decomposition_frame, unit)
    else:
        parts = values.drop("observed")
        ends = parts.cumsum()
        steps = pd.DataFrame({"label": [c.replace("_", " ") for c in parts.index] + ["observed change"],
                              "kind": ["component"] * len(parts) + ["total"],
                              "value": [*parts, values["observed"]],
                              "start": [*(ends - parts), 0.0], "end": [*ends, values["observed"]]})
    fig = _figure(max(6.0, 0.6 * len(steps) + 1.5), 4.5)
    ax = fig.add_subplot()
    for i, st in enumerate(steps.itertuples(index=False)):
        color = {"subtotal": "#7f7f7f", "total": _TOTAL}.get(st.kind, _POS if st.value >= 0 else _NEG)
        ax.bar(i, st.end - st.start, bottom=st.start, color=color, width=0.7)
        if st.kind == "component" and i + 1 < len(steps):
            ax.plot([i + 0.35, i + 0.65], [st.end, st.end], color=_TOTAL, lw=0.6)
    ax.use_sticky_edges = False  # floating bars would otherwise pin the limits to their ends
    ax.margins(x=0.02, y=0.06)
    labels = list(steps["label"])
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.axhline(0.0, color=_TOTAL, lw=0.8)
    ax.set_ylabel("persons per year")
    ax.set_title(f"Population change of {_name(names, unit)}, by component")
    return _finish(fig, out)


@fill_doc(figure_path=FIGURE_PATH)
def forest_plot(
    results: Mapping[str, Any],
    *,
    terms: Sequence[str] | None = None,
    level: float = 0.95,
    path: str | Path | None = None,
) -> Figure:
    """Coefficients of several specifications side by side, with confidence intervals.

    Shows how an estimate moves between specifications (e.g. the models of
    :func:`geoattr.compare`): one row per term and model, the terms grouped.

    Parameters
    ----------
    results : mapping of str to RegressionResults
        Model name -> result (an :class:`~geoattr.models.ols.AttractivenessResults` is
        unwrapped; a single result is accepted too).
    terms : sequence of str, optional
        Terms to show, top to bottom (default every term but ``const``, in order of
        appearance).
    level : float, default 0.95
        Confidence level.  Intervals come from the result's own ``conf_int(level)``
        (t or normal, as its summary); objects without it get
        ``estimate ± z * std_error`` with the normal ``z``.
    {figure_path}
        One axes with one row per term x model (terms grouped, models in the mapping's
        order, one colour and one ``errorbar`` container per model); a term a model
        lacks is left out.

    Raises
    ------
    InputError
        A result without ``params`` (named), unknown terms, a ``level`` outside (0, 1),
        a bad ``path``.
    """
    out = _check_path(path)
    z = _z(level)
    models = as_models(results)
    cis: dict[str, pd.DataFrame] = {}
    for key, obj in models.items():
        est, se, _ = params_of(obj, key)
        r = unwrap(obj)
        ci = r.conf_int(level) if callable(getattr(r, "conf_int", None)) else None
        if not isinstance(ci, pd.DataFrame) or not {"lower", "upper"} <= set(ci.columns):
            ci = pd.DataFrame({"lower": est - z * se, "upper": est + z * se})
        cis[key] = pd.DataFrame(
            {
                "estimate": est,
                "lower": ci["lower"].reindex(est.index),
                "upper": ci["upper"].reindex(est.index),
            }
        )
    all_terms: list[str] = []
    for f in cis.values():
        all_terms.extend(str(t) for t in f.index if str(t) not in all_terms)
    shown = _shown_terms(all_terms, terms) or all_terms
    m = len(models)
    ypos: dict[tuple[str, str], float] = {}
    row = 0
    for t in shown:  # one row per term x model that has it, a blank row between terms
        for k, f in cis.items():
            if t in f.index:
                ypos[(t, k)] = -float(row)
                row += 1
        row += 1 if m > 1 else 0
    fig = _figure(7.0, 0.3 * row + 1.2)
    ax = fig.add_subplot()
    ticks, ticklabels = [], []
    for key, f in cis.items():
        present = [t for t in shown if t in f.index]
        if not present:
            continue
        g = f.loc[present]
        y = np.array([ypos[(t, key)] for t in present], dtype=float)
        x = g["estimate"].to_numpy(dtype=float)
        err = np.vstack(
            [x - g["lower"].to_numpy(dtype=float), g["upper"].to_numpy(dtype=float) - x]
        )
        ax.errorbar(x, y, xerr=err, fmt="o", ms=4, capsize=2.5, lw=1, label=escape_mathtext(key))
        ticks += list(y)
        ticklabels += [escape_mathtext(f"{t} ({key})" if m > 1 else t) for t in present]
    ax.set_yticks(ticks, ticklabels, fontsize=8)
    ax.axvline(0.0, color=_TOTAL, lw=0.8)
    ax.set_xlabel(f"estimate with {level:.0%} confidence interval")
    if m > 1:
        ax.legend(frameon=False, fontsize=8, loc="best")
    return _finish(fig, out)
