"""Small inline SVG charts for the HTML pages: labelled horizontal bars.

The pages are static and offline, so the charts are plain ``<svg>`` elements written
here (no plotting library, no script, every text escaped).  :func:`bar_chart_svg` draws
labelled horizontal bars (the profile pages' commuting destinations).  The other inline
charts: the attractiveness over time with its band on the profile pages
(:mod:`geoattr.report.profiles`), the decomposition waterfall
(:func:`geoattr.report.waterfall.waterfall_svg`) and the fan charts
(:func:`geoattr.report.forecast.fan_chart_svg`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geoattr._format import escape_html
from geoattr.exceptions import InputError

__all__ = ["bar_chart_svg"]

_BAR, _NEG = "#2166ac", "#b2182b"


def _finite(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


def bar_chart_svg(labels: Sequence[str], values: Sequence[float], *, title: str = "", unit: str = "",
                  digits: int = 1, width: int = 560, bar_height: int = 18) -> str:
    """Labelled horizontal bars, largest magnitude as long as the plot is wide (negative bars red).

    Parameters
    ----------
    labels : sequence of str
        One label per bar (plain text, escaped here), drawn left of it.
    values : sequence of float
        The bars' values (a missing value draws no bar and no number).
    title : str, default ""
        Accessible name (``aria-label`` and ``<title>``).
    unit : str, default ""
        Appended to each value shown (e.g. ``" %"``).
    digits : int, default 1
        Decimals of the values shown.
    width, bar_height : int
        Size in pixels.

    Returns
    -------
    str
        ``<svg class="bar-chart">`` with one ``<rect class="bar">`` per finite value.

    Raises
    ------
    InputError
        ``labels`` and ``values`` of different lengths.
    """
    vals = _finite(values, "values")
    if len(labels) != len(vals):
        raise InputError(f"bar_chart_svg got {len(labels)} labels for {len(vals)} values")
    pad_l, pad_r, gap = min(240, 12 + 7 * max((len(str(x)) for x in labels), default=1)), 70, 6
    height = max(1, len(vals)) * (bar_height + gap) + gap
    finite = vals[np.isfinite(vals)]
    top = float(np.abs(finite).max()) if len(finite) and np.abs(finite).max() > 0 else 1.0
    neg = bool(len(finite) and finite.min() < 0)
    plot = width - pad_l - pad_r
    zero = pad_l + (plot / 2 if neg else 0)
    scale = (plot / 2 if neg else plot) / top
    out = [f'<svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape_html(title)}">',
           f"<title>{escape_html(title)}</title>"]
    for i, (lab, v) in enumerate(zip(labels, vals)):
        y = gap + i * (bar_height + gap)
        out.append(f'<text x="{pad_l - 6}" y="{y + bar_height * 0.72:.1f}" font-size="11" '
                   f'text-anchor="end">{escape_html(lab)}</text>')
        if not np.isfinite(v):
            continue
        x, w = (zero, v * scale) if v >= 0 else (zero + v * scale, -v * scale)
        out.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar_height}" '
                   f'fill="{_BAR if v >= 0 else _NEG}"><title>{escape_html(lab)}: {v:,.{digits}f}'
                   f"{escape_html(unit)}</title></rect>")
        tx = zero + v * scale + 4 if v >= 0 else zero + 4
        out.append(f'<text x="{tx:.1f}" y="{y + bar_height * 0.72:.1f}" font-size="11">{v:,.{digits}f}'
                   f"{escape_html(unit)}</text>")
    out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="#888"/></svg>')
    return "".join(out)

