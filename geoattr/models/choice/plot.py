"""Figure of predicted migration-choice probabilities: domestic move (x) against emigration (y)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geoattr._format import escape_mathtext
from geoattr.exceptions import InputError

__all__ = ["plot_choice_probabilities"]

_BG_COLOURS = ("#b2182b", "#2166ac", "#4d4d4d", "#1b7837", "#762a83")
_BG_MARKERS = ("o", "s", "^", "D", "v")


def _draw_panel(ax: Any, g: pd.DataFrame, d: pd.DataFrame, bgs: list[Any], *, has_ci: bool, scale: str) -> None:
    """One panel: a line of points per background group, labelled by centrality, with the diagonal."""
    x_all = 100 * d["p_domestic"].to_numpy()
    y_all = 100 * d["p_emigration"].to_numpy()
    hi = max(x_all.max(), y_all.max()) * 1.15
    if has_ci:
        hi = max(hi, 100 * d["p_domestic_upper"].max() * 1.05, 100 * d["p_emigration_upper"].max() * 1.05)
    for k, b in enumerate(bgs):
        s = g[g["background"] == b]
        x, y = 100 * s["p_domestic"].to_numpy(), 100 * s["p_emigration"].to_numpy()
        col, mk = _BG_COLOURS[k % len(_BG_COLOURS)], _BG_MARKERS[k % len(_BG_MARKERS)]
        if has_ci:
            xerr = np.vstack([x - 100 * s["p_domestic_lower"], 100 * s["p_domestic_upper"] - x])
            yerr = np.vstack([y - 100 * s["p_emigration_lower"], 100 * s["p_emigration_upper"] - y])
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=col, alpha=0.45, lw=0.9)
        ax.plot(x, y, "-", color=col, alpha=0.5, lw=1)
        ax.scatter(x, y, color=col, marker=mk, s=30, zorder=3, label=escape_mathtext(str(b).replace("_", " ")))
        for xi, yi, c in zip(x, y, s["centrality"], strict=True):
            ax.annotate(escape_mathtext(str(c).replace("_", "-")), (xi, yi), xytext=(4, 3), textcoords="offset points",
                        fontsize=7, color=col)
    lo = 0.0 if scale == "linear" else max(min(x_all.min(), y_all.min()) * 0.5, 1e-3)
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, label="equal probability")
    ax.set_xscale(scale)
    ax.set_yscale(scale)
    if scale == "linear":
        ax.set_xlim(0, max(x_all.max() * 1.15, 1e-6) if not has_ci else
                    100 * d["p_domestic_upper"].max() * 1.08)
        ax.set_ylim(0, max(y_all.max() * 1.15, 1e-6) if not has_ci else
                    100 * d["p_emigration_upper"].max() * 1.08)
    ax.grid(alpha=0.3)


def _selected(predictions: pd.DataFrame, profile: str | None, path: str | Path | None, scale: str) -> pd.DataFrame:
    """Validate the arguments; return the rows of the chosen profile."""
    need = ["profile", "background", "centrality", "p_domestic", "p_emigration"]
    if not isinstance(predictions, pd.DataFrame) or any(c not in predictions.columns for c in need):
        raise InputError(f"pass the output of ChoiceResults.predict (it needs columns {need})")
    if path is not None and Path(path).suffix.lower() not in (".png", ".svg"):
        raise InputError(f"cannot save a figure as {Path(path).name!r}: use a .png or .svg suffix")
    if scale not in ("linear", "log"):
        raise InputError(f"scale must be 'linear' or 'log', got {scale!r}")
    names = list(dict.fromkeys(predictions["profile"]))
    profile = names[0] if profile is None else profile
    if profile not in names:
        raise InputError(f"profile {profile!r} is not in the predictions; they have {names}")
    return predictions[predictions["profile"] == profile]


def plot_choice_probabilities(
    predictions: pd.DataFrame,
    *,
    profile: str | None = None,
    path: str | Path | None = None,
    intervals: bool = True,
    scale: Literal["linear", "log"] = "linear",
    title: str | None = None,
    max_panels: int = 16,
) -> Figure:
    """Domestic-move probability (x) against emigration probability (y) by group and centrality.

    One point per background group and centrality category (labelled with the
    category, connected from the most to the least central within a group), with the
    prediction intervals as error bars and the diagonal where both probabilities are
    equal.  When the profile also varies another variable (e.g. labour-market
    status), each combination gets its own panel.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Output of :meth:`~geoattr.models.choice.ChoiceResults.predict` (needs
        ``p_domestic`` and ``p_emigration`` and their bounds).
    profile : str, optional
        Which profile to draw (default: the first).
    path : str or Path, optional
        Also save the figure here (``.png`` or ``.svg``).
    intervals : bool, default True
        Draw the intervals as error bars.
    scale : {"linear", "log"}, default "linear"
        Axis scale (percent either way).
    title : str, optional
    max_panels : int, default 16

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = _selected(predictions, profile, path, scale)
    profile = str(d["profile"].iloc[0])
    skip = {"profile", "background", "centrality", "age_group"} | {c for c in d.columns if c.startswith("p_")}
    varying = [c for c in d.columns if c not in skip and d[c].nunique(dropna=False) > 1]
    groups = list(d.groupby(varying, sort=False)) if varying else [((), d)]
    if len(groups) > max_panels:
        raise InputError(
            f"profile {profile!r} varies {varying} over {len(groups)} combinations (max_panels={max_panels}); "
            "fix some of them or raise max_panels"
        )
    ncol = min(len(groups), 4)
    nrow = math.ceil(len(groups) / ncol)
    fig = Figure(figsize=(4.2 * ncol + 0.8, 3.9 * nrow + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False, sharex=True, sharey=True)).ravel()
    bgs = list(dict.fromkeys(d["background"]))
    has_ci = intervals and {"p_domestic_lower", "p_emigration_upper"} <= set(d.columns)
    for ax, (key, g) in zip(axes, groups, strict=False):
        _draw_panel(ax, g, d, bgs, has_ci=has_ci, scale=scale)
        key = key if isinstance(key, tuple) else (key,)
        if varying:
            ax.set_title(escape_mathtext(", ".join(f"{v} = {k}" for v, k in zip(varying, key, strict=True))), fontsize=9)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    for k, ax in enumerate(axes[:len(groups)]):
        if k + ncol >= len(groups):
            ax.set_xlabel("domestic move, % per year")
        if k % ncol == 0:
            ax.set_ylabel("emigration, % per year")
    axes[0].legend(fontsize=8, loc="upper left")
    fixed = [c for c in d.columns if c not in skip and c not in varying]
    sub = ", ".join(f"{c} = {d[c].iloc[0]}" for c in fixed)
    fig.suptitle(title or escape_mathtext(f"Predicted probabilities, profile {profile!r}: {sub}\n(labels: centrality class)"),
                 fontsize=10)
    if path is not None:
        fig.savefig(Path(path), format=Path(path).suffix.lower().lstrip("."), dpi=150)
    return fig

