"""Figures of the robustness battery: coefficient ranges across variants and rank intervals.

The figures are created without :mod:`matplotlib.pyplot` (nothing changes the global
backend or accumulates open figures); ``path`` saves them as PNG or SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geoattr._docstrings import fill_doc
from geoattr._format import escape_mathtext
from geoattr.exceptions import InputError

__all__ = ["KIND_ORDER", "plot_coefficients", "plot_rank_intervals"]

#: Order of the families in tables and figures.
KIND_ORDER: list[str] = ["baseline", "bootstrap", "loyo", "loro", "weights", "estimators", "placebo"]

#: The ``path`` parameter of the plotting functions.
_PATH_DOC = """path : str or Path, optional
    Save as PNG or SVG (by the suffix)."""

_COLOURS = {"baseline": "#000000", "bootstrap": "#2166ac", "loyo": "#1b9e77", "loro": "#7570b3",
            "weights": "#d95f02", "estimators": "#e7298a", "placebo": "#999999"}


def _plot_rows(c: pd.DataFrame) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for kind in KIND_ORDER:
        ck = c[c["kind"] == kind]
        if ck.empty:
            continue
        if kind in ("loyo", "loro"):
            rows.append((kind, f"{kind} (range)"))
        else:
            rows += [(kind, v) for v in dict.fromkeys(ck["variant"])]
    return rows


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        p = Path(path)
        if p.suffix.lower() not in (".png", ".svg"):
            raise InputError(f"cannot save a figure as {p.name!r}: use a .png or .svg suffix")
        fig.savefig(p, format=p.suffix.lower().lstrip("."), dpi=150)
    return fig


def _draw_term(ax: Any, ct: pd.DataFrame, rows: list[tuple[str, str]], ypos: np.ndarray) -> None:
    """One panel: each row's interval (or range of estimates) for one term."""
    kinds, variants = ct["kind"].to_numpy(dtype=object), ct["variant"].to_numpy(dtype=object)
    est, lower, upper = (ct[c].to_numpy(dtype=float) for c in ("estimate", "lower", "upper"))
    for y, (kind, variant) in zip(ypos, rows):
        at = np.flatnonzero((kinds == kind) & ((variants == variant) | (variant == f"{kind} (range)")))
        if not len(at):
            continue
        col, i = _COLOURS.get(kind, "#333333"), at[0]
        if variant.endswith("(range)"):
            ax.plot([est[at].min(), est[at].max()], [y, y], color=col, lw=5, alpha=0.45, solid_capstyle="butt")
            ax.plot(est[at], np.full(len(at), y), "|", color=col, ms=7)
        elif kind == "placebo":
            ax.plot([lower[i], upper[i]], [y, y], color=col, lw=5, alpha=0.6, solid_capstyle="butt")
            ax.plot([est[i]], [y], "o", color=col, ms=4)
        else:
            ax.plot([lower[i], upper[i]], [y, y], color=col, lw=1.5)
            ax.plot([est[i]], [y], "o", color=col, ms=4)
    base = ct.loc[ct["kind"] == "baseline", "estimate"]
    if len(base):
        ax.axvline(float(base.iloc[0]), color="#000000", lw=0.8, ls="--")
    ax.axvline(0.0, color="#bbbbbb", lw=0.8)


@fill_doc(path=_PATH_DOC)
def plot_coefficients(coefficients: pd.DataFrame, path: str | Path | None = None, *,
                      terms: Sequence[str] | None = None) -> Figure:
    """Coefficient ranges across variants: one panel per term.

    Rows: the baseline with its interval, each bootstrap's percentile interval, the
    range of the leave-one-year-out and leave-one-region-out estimates, each weights
    and estimator variant with its interval, and the placebo band.

    Parameters
    ----------
    coefficients : pandas.DataFrame
        :attr:`RobustnessResults.coefficients <geoattr.robustness.RobustnessResults>`.
    {path}
    terms : sequence of str, optional
        Default: every baseline term and ``vra_sum``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    c = coefficients
    all_terms = list(dict.fromkeys(c.loc[c["kind"] == "baseline", "term"]))
    terms = all_terms if terms is None else list(terms)
    bad = [t for t in terms if t not in all_terms]
    if bad:
        raise InputError(f"unknown term(s) {bad}; the terms are {all_terms}")
    rows = _plot_rows(c)
    ncol = min(3, len(terms))
    nrow = math.ceil(len(terms) / ncol)
    fig = _figure(4.2 * ncol, 0.9 + 0.24 * len(rows) * nrow)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
    ypos = np.arange(len(rows))[::-1]
    by_term = dict(tuple(c.groupby("term", sort=False)))
    for ax, t in zip(axes.ravel(), terms):
        _draw_term(ax, by_term[t], rows, ypos)
        ax.set_title(escape_mathtext(t))
    for ax in axes.ravel()[len(terms):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_yticks(ypos)
        ax.set_yticklabels([escape_mathtext(v) for _, v in rows], fontsize=7)
    fig.suptitle("Coefficients across robustness variants")
    return _save(fig, path)


def _listing(rows: pd.DataFrame, title: str) -> str:
    return "\n".join([title] + [
        f"{int(r['rank'])}. {escape_mathtext(r['name'])} [{int(r['lower'])}-{int(r['upper'])}]"
        for _, r in rows.iterrows()])


@fill_doc(path=_PATH_DOC)
def plot_rank_intervals(rank_intervals: pd.DataFrame, path: str | Path | None = None, *, level: float,
                        top_n: int, method: str, label: int = 5) -> Figure:
    """Bootstrap rank interval of every unit, ordered by its baseline rank.

    Parameters
    ----------
    rank_intervals : pandas.DataFrame
        :attr:`RobustnessResults.rank_intervals <geoattr.robustness.RobustnessResults>`.
    {path}
    level : float
        Confidence level of the intervals (for the legend).
    top_n : int
        Size of the shaded top and bottom bands.
    method : str
        Bootstrap that gave the intervals (for the title).
    label : int, default 5
        List the ``label`` most and least attractive units with their intervals.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if rank_intervals.empty:
        raise InputError("no bootstrap was run, so there are no rank intervals to plot")
    ri = rank_intervals.sort_values("rank")
    n = len(ri)
    fig = _figure(9.0, 4.8)
    ax = fig.subplots()
    x = ri["rank"].to_numpy()
    ax.vlines(x, ri["lower"], ri["upper"], color="#2166ac", lw=0.8, alpha=0.7,
              label=f"{int(round(100 * level))}% bootstrap interval")
    ax.plot(x, x, ".", color="#000000", ms=2.5, label="baseline rank")
    if label > 0:
        box = {"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9}
        ax.text(0.98, 0.97, _listing(ri.head(label), "Most attractive [interval]"), transform=ax.transAxes,
                ha="right", va="top", fontsize=7, bbox=box)
        ax.text(0.02, 0.03, _listing(ri.tail(label).iloc[::-1], "Least attractive [interval]"),
                transform=ax.transAxes, ha="left", va="bottom", fontsize=7, bbox=box)
    ax.axhspan(0.5, top_n + 0.5, color="#1b9e77", alpha=0.08)
    ax.axhspan(n - top_n + 0.5, n + 0.5, color="#d95f02", alpha=0.08)
    ax.set_xlabel("baseline rank (1 = most attractive)")
    ax.set_ylabel("bootstrap rank")
    ax.set_xlim(0, n + 1)
    ax.set_ylim(n + 1, 0)
    ax.legend(loc="upper center", fontsize=8)
    ax.set_title(f"Rank intervals of cumulative attractiveness ({method} bootstrap)")
    return _save(fig, path)
