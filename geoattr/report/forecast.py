"""Forecast outputs: fan charts and the forecast and scenario section of ``report.html``.

Everything here draws or formats frames that a forecast wrote already; nothing is
projected here.  The frames (long, one row per value):

* **forecast** (``forecast.csv``): ``unit``, ``year``, ``quantity`` (e.g.
  ``"net_migration"``, ``"population"``), ``mean``, ``lower``, ``upper`` (the 95 %
  interval);
* **history**: the observed values, ``unit``, ``year``, ``quantity``, ``value``;
* **scenario** (``scenario.csv``): ``scenario``, ``unit``, ``year``, ``persons`` (gained,
  or lost when negative, against the baseline);
* **backtest** (``backtest.csv``): ``method``, ``horizon``, ``rmse``, ``mae``, ``bias``,
  ``coverage95``.

:func:`write_forecast_page` writes the section as a page of its own (``forecast.html``
of ``geoattr forecast``).

:func:`fan_chart` draws a matplotlib figure (one panel per unit), :func:`fan_chart_svg`
the same chart of one unit as inline SVG for HTML pages (no script, no external asset),
and :func:`forecast_section` the report's section (fan charts, scenario table, backtest
table; all text escaped).  :func:`check_forecast_frame` checks a frame and returns a
clean copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from geoattr._docstrings import FIGURE_PATH, fill_doc
from geoattr._format import escape_html, escape_mathtext, format_ids
from geoattr._validation import normalise_years, require_columns, require_no_missing, require_numeric, require_unique
from geoattr.exceptions import InputError
from geoattr.report.figures import SAVE_FORMATS
from geoattr.report.page import files_section, html_page, html_table

__all__ = [
    "FORECAST_COLUMNS",
    "HISTORY_COLUMNS",
    "SCENARIO_COLUMNS",
    "BACKTEST_COLUMNS",
    "check_forecast_frame",
    "fan_chart",
    "fan_chart_svg",
    "forecast_section",
    "write_forecast_page",
]

#: Columns of the forecast frame (``forecast.csv``).
FORECAST_COLUMNS: tuple[str, ...] = ("unit", "year", "quantity", "mean", "lower", "upper")
#: Columns of the observed history drawn before the forecast.
HISTORY_COLUMNS: tuple[str, ...] = ("unit", "year", "quantity", "value")
#: Columns of the scenario frame (``scenario.csv``).
SCENARIO_COLUMNS: tuple[str, ...] = ("scenario", "unit", "year", "persons")
#: Columns of the backtest frame (``backtest.csv``).
BACKTEST_COLUMNS: tuple[str, ...] = ("method", "horizon", "rmse", "mae", "bias", "coverage95")

# kind -> (columns, numeric columns, key columns that must be present and unique)
_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "forecast": (FORECAST_COLUMNS, ("mean", "lower", "upper"), ("unit", "year", "quantity")),
    "history": (HISTORY_COLUMNS, ("value",), ("unit", "year", "quantity")),
    "scenario": (SCENARIO_COLUMNS, ("persons",), ("scenario", "unit", "year")),
    "backtest": (BACKTEST_COLUMNS, ("horizon", "rmse", "mae", "bias", "coverage95"), ()),
}
_HISTORY, _MEAN, _BAND = "#4d4d4d", "#2166ac", "#92c5de"
Names = Mapping[Any, str] | pd.Series | None


def check_forecast_frame(frame: Any, kind: str) -> pd.DataFrame:
    """Check a forecast, history, scenario or backtest frame; return a clean copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        The frame (its index is ignored).
    kind : {"forecast", "history", "scenario", "backtest"}
        Which frame it is (:data:`FORECAST_COLUMNS`, :data:`HISTORY_COLUMNS`,
        :data:`SCENARIO_COLUMNS`, :data:`BACKTEST_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        A copy with a fresh index, ``unit`` (and ``scenario``, ``quantity``, ``method``)
        as text and ``year`` as int.

    Raises
    ------
    InputError
        Not a DataFrame; a missing column (named); non-numeric values; a missing key;
        a duplicated key (unit, year, quantity) or (scenario, unit, year); a year that
        is not whole; ``lower > upper`` (rows named).
    """
    if kind not in _KINDS:
        raise InputError(f"unknown forecast frame kind {kind!r}; use one of {list(_KINDS)}")
    columns, numeric, keys = _KINDS[kind]
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the {kind} frame must be a pandas DataFrame with columns {list(columns)}, "
                         f"got {type(frame).__name__}")
    require_columns(frame, columns, table=kind, hint=f"a {kind} frame has the columns {', '.join(columns)}")
    df = frame.reset_index(drop=True).copy()
    require_numeric(df, numeric, table=kind)
    require_no_missing(df, [c for c in columns if c not in numeric or c == "horizon"], table=kind)
    for c in ("unit", "scenario", "quantity", "method"):
        if c in columns:
            df[c] = df[c].astype(str)
    for c in numeric:
        df[c] = pd.to_numeric(df[c])
    if "year" in columns:
        df["year"] = normalise_years(df["year"], name=f"the {kind} frame's year column", rows=list(df.index))
    if keys:
        require_unique(df, list(keys), table=kind)
    if kind == "forecast":
        bad = (df["lower"] > df["upper"]).to_numpy()
        if bad.any():
            rows = df.loc[bad, ["unit", "year", "quantity"]].itertuples(index=False, name=None)
            raise InputError(f"the forecast frame has lower > upper in {int(bad.sum())} row(s): "
                             f"{format_ids(list(rows))}; lower and upper are the ends of the 95 % interval")
    return df


@dataclass(frozen=True)
class _Fan:
    """One unit's and quantity's series: observed, and projected mean with its band."""

    hist_years: np.ndarray
    hist: np.ndarray
    years: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _fan(forecast: pd.DataFrame, history: pd.DataFrame | None, unit: str, quantity: str) -> _Fan:
    """The series of a fan chart; the projection starts at the last observed point when it follows it."""
    f = forecast[(forecast["unit"] == unit) & (forecast["quantity"] == quantity)].sort_values("year")
    if f.empty:
        have = forecast.loc[forecast["unit"] == unit, "quantity"].unique()
        raise InputError(f"the forecast frame has no rows for unit {unit!r} and quantity {quantity!r}"
                         + (f"; its quantities for that unit are {sorted(have)}" if len(have)
                            else f"; its units include {format_ids(forecast['unit'].unique(), 5)}"))
    hy, hv = np.array([], dtype=int), np.array([], dtype=float)
    if history is not None:
        h = history[(history["unit"] == unit) & (history["quantity"] == quantity)].sort_values("year")
        hy, hv = h["year"].to_numpy(), h["value"].to_numpy(float)
    fy = f["year"].to_numpy()
    mean, lo, hi = (f[c].to_numpy(float) for c in ("mean", "lower", "upper"))
    if len(hy) and hy[-1] < fy[0] and np.isfinite(hv[-1]):
        fy = np.r_[hy[-1], fy]
        mean, lo, hi = (np.r_[hv[-1], a] for a in (mean, lo, hi))
    return _Fan(hy, hv, fy, mean, lo, hi)


def _label(names: Names, unit: str) -> str:
    if names is not None and unit in names.keys():
        v = names[unit]
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return str(v)
    return unit


def _units(units: Any) -> list[str]:
    out = [str(units)] if isinstance(units, (str, int, np.integer)) else [str(u) for u in units]
    if not out:
        raise InputError("fan_chart needs at least one unit")
    return out


@fill_doc(figure_path=FIGURE_PATH)
def fan_chart(
    forecast: pd.DataFrame,
    units: Sequence[str] | str,
    *,
    quantity: str = "net_migration",
    history: pd.DataFrame | None = None,
    names: Names = None,
    ncols: int = 2,
    path: str | Path | None = None,
) -> Figure:
    """Fan chart of chosen units: the observed history, the projected mean and its 95 % band.

    Parameters
    ----------
    forecast : pandas.DataFrame
        The forecast frame (:data:`FORECAST_COLUMNS`).
    units : str or sequence of str
        One panel per unit, in this order.
    quantity : str, default "net_migration"
        The quantity drawn (a value of the ``quantity`` column).
    history : pandas.DataFrame, optional
        Observed values (:data:`HISTORY_COLUMNS`), drawn as a line before the forecast;
        the projection then starts at the last observed point.
    names : mapping or pandas.Series, optional
        Unit id -> name for the panel titles.
    ncols : int, default 2
        Panels per row.
    {figure_path}

    Raises
    ------
    InputError
        A bad frame (:func:`check_forecast_frame`), no units, a unit or quantity without
        rows, ``ncols < 1`` or another file suffix.
    """
    if path is not None and Path(path).suffix.lower() not in SAVE_FORMATS:
        raise InputError(f"cannot save a figure as {Path(path).name!r}: the suffix must be one of {list(SAVE_FORMATS)}")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise InputError(f"ncols must be an integer >= 1, got {ncols!r}")
    fc = check_forecast_frame(forecast, "forecast")
    hist = check_forecast_frame(history, "history") if history is not None else None
    chosen = _units(units)
    fans = [_fan(fc, hist, u, quantity) for u in chosen]
    ncols = min(int(ncols), len(chosen))
    nrows = math.ceil(len(chosen) / ncols)
    fig = Figure(figsize=(4.4 * ncols, 3.1 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, u, s in zip(axes, chosen, fans):
        ax.fill_between(s.years, s.lower, s.upper, color=_BAND, alpha=0.6, linewidth=0, label="95 % interval")
        if len(s.hist_years):
            ax.plot(s.hist_years, s.hist, color=_HISTORY, linewidth=1.6, label="observed")
        ax.plot(s.years, s.mean, color=_MEAN, linewidth=1.8, linestyle="--", label="projected mean")
        ax.set_title(escape_mathtext(_label(names, u)), fontsize=10)
        ax.set_xlabel("year")
        ax.set_ylabel(escape_mathtext(quantity.replace("_", " ")))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(chosen):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, frameon=False)
    if path is not None:
        fig.savefig(path, format=Path(path).suffix.lower().lstrip("."), dpi=150)
    return fig


def _tick(v: float, span: float) -> str:
    return f"{v:,.0f}" if span >= 20 else f"{v:,.2f}"


def _points(xs: Any, ys: Any, sx: Any, sy: Any) -> str:
    return " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys) if np.isfinite(y))


def _svg(s: _Fan, label: str, width: int, height: int) -> str:
    """The SVG markup of one fan (``label`` already plain text; escaped here)."""
    pad_l, pad_r, pad_t, pad_b = 58, 14, 22, 26
    vals = np.concatenate([s.hist, s.mean, s.lower, s.upper])
    vals = vals[np.isfinite(vals)]
    vmin, vmax = (float(vals.min()), float(vals.max())) if len(vals) else (-1.0, 1.0)
    if vmax - vmin < 1e-12:
        vmin, vmax = vmin - 1, vmax + 1
    years = np.concatenate([s.hist_years, s.years])
    x0, x1 = int(years.min()), int(years.max())
    span = max(x1 - x0, 1)

    def sx(x: float) -> float:
        return pad_l + (x - x0) / span * (width - pad_l - pad_r)

    def sy(v: float) -> float:
        return pad_t + (vmax - v) / (vmax - vmin) * (height - pad_t - pad_b)

    band = _points(s.years, s.upper, sx, sy) + " " + _points(s.years[::-1], s.lower[::-1], sx, sy)
    out = [f'<svg class="fan-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{escape_html(label)}">',
           f"<title>{escape_html(label)}</title>",
           f'<text x="{pad_l}" y="14" font-size="12" font-weight="bold">{escape_html(label)}</text>',
           f'<polygon class="band" fill="{_BAND}" fill-opacity="0.6" stroke="none" points="{band.strip()}"/>']
    if vmin < 0 < vmax:
        out.append(f'<line class="zero" x1="{pad_l}" x2="{width - pad_r}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" '
                   'stroke="#888" stroke-dasharray="4 3"/>')
    if len(s.hist_years):
        out.append(f'<polyline class="history" fill="none" stroke="{_HISTORY}" stroke-width="1.6" '
                   f'points="{_points(s.hist_years, s.hist, sx, sy)}"/>')
    out.append(f'<polyline class="mean" fill="none" stroke="{_MEAN}" stroke-width="2" stroke-dasharray="6 3" '
               f'points="{_points(s.years, s.mean, sx, sy)}"/>')
    for v in (vmin, vmax):
        out.append(f'<text x="{pad_l - 4}" y="{sy(v) + 4:.1f}" font-size="10" text-anchor="end">'
                   f"{_tick(v, vmax - vmin)}</text>")
    step = max(1, round(span / 6))
    for y in range(x0, x1 + 1, step):
        out.append(f'<text x="{sx(y):.1f}" y="{height - 8}" font-size="10" text-anchor="middle">{y}</text>')
    out.append("</svg>")
    return "".join(out)


def fan_chart_svg(
    forecast: pd.DataFrame,
    unit: str,
    *,
    quantity: str = "net_migration",
    history: pd.DataFrame | None = None,
    title: str | None = None,
    width: int = 460,
    height: int = 230,
) -> str:
    """The fan chart of one unit as inline SVG for an HTML page (no script, no external asset).

    The band is a ``<polygon class="band">`` (upper ends left to right, lower ends back),
    the observed values a ``<polyline class="history">`` and the projected mean a
    ``<polyline class="mean">``; the projection starts at the last observed point when
    the history ends the year before it.

    Parameters
    ----------
    forecast : pandas.DataFrame
        The forecast frame (:data:`FORECAST_COLUMNS`).
    unit : str
        The unit drawn.
    quantity : str, default "net_migration"
    history : pandas.DataFrame, optional
        Observed values (:data:`HISTORY_COLUMNS`).
    title : str, optional
        Plain text (escaped here); default ``"<unit>: <quantity>"``.
    width, height : int, default 460, 230
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element (well-formed XML).

    Raises
    ------
    InputError
        A bad frame, or no rows for the unit and quantity.
    """
    fc = check_forecast_frame(forecast, "forecast")
    hist = check_forecast_frame(history, "history") if history is not None else None
    label = title if title is not None else f"{unit}: {quantity.replace('_', ' ')}"
    return _svg(_fan(fc, hist, str(unit), quantity), label, int(width), int(height))


def _default_units(fc: pd.DataFrame, scen: pd.DataFrame | None, n: int) -> list[str]:
    """The units of the largest scenario effects first, then the largest by projected population."""
    chosen: list[str] = []
    if scen is not None and len(scen):
        tot = scen.groupby(["scenario", "unit"], sort=False)["persons"].sum().abs()
        chosen += list(dict.fromkeys(str(idx[1]) for idx in tot.groupby(level="scenario").idxmax()))
    pop = fc[fc["quantity"] == "population"]
    if len(pop):
        first = pop[pop["year"] == pop["year"].min()]
        order = first.sort_values(["mean", "unit"], ascending=[False, True])["unit"].tolist()
    else:
        order = list(dict.fromkeys(fc["unit"]))
    chosen += [u for u in order if u not in chosen]
    return chosen[:n]


def _scenario_table(scen: pd.DataFrame, names: Names, top_n: int) -> str:
    """Per scenario, the ``top_n`` units with the largest total effect: persons by year and in total."""
    parts = []
    for name, g in scen.groupby("scenario", sort=False):
        wide = g.pivot_table(index="unit", columns="year", values="persons", aggfunc="sum", sort=True)
        wide.columns = [str(c) for c in wide.columns]
        wide["total"] = wide.sum(axis=1)
        wide = wide.reindex(wide["total"].abs().sort_values(ascending=False, kind="stable").index).head(top_n)
        wide.insert(0, "name", [_label(names, u) for u in wide.index])
        wide.insert(0, "unit", wide.index)
        parts.append(f"<h4>Scenario {escape_html(name)}</h4>"
                     + html_table(wide.reset_index(drop=True), digits=1, cls="plain scenario-table"))
    return "".join(parts)


def forecast_section(
    *,
    forecast: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    scenario: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    units: Sequence[str] | None = None,
    quantities: Sequence[str] = ("net_migration", "population"),
    names: Names = None,
    max_units: int = 4,
    top_n: int = 10,
) -> str:
    """The forecast and scenario section of ``report.html`` (HTML, all text escaped).

    Parameters
    ----------
    forecast : pandas.DataFrame, optional
        The forecast frame (:data:`FORECAST_COLUMNS`): inline SVG fan charts of
        ``units``, one per quantity of ``quantities`` that the frame has.
    history : pandas.DataFrame, optional
        Observed values (:data:`HISTORY_COLUMNS`) drawn before the forecast.
    scenario : pandas.DataFrame, optional
        The scenario frame (:data:`SCENARIO_COLUMNS`): per scenario, the ``top_n`` units
        with the largest total effect, persons by year and in total.
    backtest : pandas.DataFrame, optional
        The backtest frame (:data:`BACKTEST_COLUMNS`), shown as a table.
    units : sequence of str, optional
        Units with fan charts; default the unit most affected by each scenario, then
        the largest by projected population (or the first in the frame), ``max_units``
        in all.
    quantities : sequence of str, default ("net_migration", "population")
    names : mapping or pandas.Series, optional
        Unit id -> name.
    max_units : int, default 4
    top_n : int, default 10

    Returns
    -------
    str
        ``<h2 id="forecast">`` and its content.

    Raises
    ------
    InputError
        None of the three frames given; a history without a forecast; a bad frame (:func:`check_forecast_frame`); a
        chosen unit without forecast rows.
    """
    if forecast is None and scenario is None and backtest is None:
        raise InputError("forecast_section needs at least one of forecast, scenario and backtest")
    if history is not None and forecast is None:
        raise InputError("forecast_section got a history but no forecast; pass the forecast frame too "
                         "(the history is drawn before it)")
    fc = check_forecast_frame(forecast, "forecast") if forecast is not None else None
    hist = check_forecast_frame(history, "history") if history is not None else None
    scen = check_forecast_frame(scenario, "scenario") if scenario is not None else None
    parts = ['<h2 id="forecast">Forecast and scenarios</h2>']
    if fc is not None:
        chosen = [str(u) for u in units] if units is not None else _default_units(fc, scen, max_units)
        shown = [q for q in quantities if q in set(fc["quantity"])]
        listed = [q.replace("_", " ") for q in shown]
        what = " and ".join([", ".join(listed[:-1]), listed[-1]] if len(listed) > 1 else listed)
        parts.append(f'<p class="muted">Projected {escape_html(what)} '
                     "with the 95 % interval (band); the grey line is observed, the dashed line the projected "
                     "mean. forecast.csv has every unit and year.</p>")
        charts = [_svg(_fan(fc, hist, u, q), f"{_label(names, u)}: {q.replace('_', ' ')}", 460, 230)
                  for u in chosen for q in shown]
        parts.append('<div id="fan-charts" style="display:flex;flex-wrap:wrap;gap:0 1.5em">'
                     + "".join(f"<figure>{c}</figure>" for c in charts) + "</div>")
    if scen is not None:
        parts.append('<h3 id="scenarios">Scenarios</h3><p class="muted">Persons gained (lost when negative) '
                     "against the baseline projection, by year; the units with the largest total effect "
                     "(scenario.csv has all).</p>"
                     f'<div id="scenario-table">{_scenario_table(scen, names, top_n)}</div>')
    if backtest is not None:
        bt = check_forecast_frame(backtest, "backtest")
        parts.append('<h3 id="backtest">Backtest</h3><p class="muted">Projection errors of the model and of '
                     "naive benchmarks over the held-out years, by horizon (years ahead): root mean squared "
                     "error, mean absolute error, mean error (bias) and the share of observed values inside "
                     "the 95 % intervals (coverage95).</p>"
                     f'<div id="backtest-table">{html_table(bt, digits=3)}</div>')
    return "\n".join(parts)


def write_forecast_page(
    path: str | Path,
    *,
    title: str,
    forecast: pd.DataFrame | None = None,
    forecast_history: pd.DataFrame | None = None,
    scenario: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    forecast_units: Sequence[str] | None = None,
    names: Names = None,
    notes: Sequence[str] = (),
    files: Mapping[str, str | Path] | None = None,
) -> Path:
    """Write the forecast and scenario section as a page of its own (``forecast.html`` of ``geoattr forecast``).

    Parameters
    ----------
    path : str or Path
        The HTML file.
    title : str
        Page title (escaped).
    forecast, forecast_history, scenario, backtest, forecast_units, names
        As :func:`forecast_section` (``forecast_history`` is its ``history``,
        ``forecast_units`` its ``units``).
    notes : sequence of str
        The projection's rules, listed under the section.
    files : mapping of str to path, optional
        Output files linked at the bottom (by name: the page sits beside them).

    Returns
    -------
    Path

    Raises
    ------
    InputError
        As :func:`forecast_section`.
    """
    path = Path(path)
    body = [f"<h1>{escape_html(title)}</h1>",
            forecast_section(forecast=forecast, history=forecast_history, scenario=scenario, backtest=backtest,
                             units=forecast_units, names=names)]
    if notes:
        body.append('<h2 id="rules">Rules of the projection</h2><ul class="muted">'
                    + "".join(f"<li>{escape_html(n)}</li>" for n in notes) + "</ul>")
    if files:
        body.append(files_section(files, lambda p: Path(p).name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(title, "\n".join(body)), encoding="utf-8")
    return path
