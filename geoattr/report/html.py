"""Publication outputs of a run: tables, figures and ``report.html``.

Everything here formats results that exist already; nothing is estimated.

* :func:`write_tables` writes the model, comparison and ranking tables as LaTeX
  (booktabs) and Markdown files (see :mod:`geoattr.report.tables`).
* :func:`write_figures` writes the figures of :mod:`geoattr.report.figures` as PNG and SVG.
* :func:`write_report` writes ``report.html``: the data summary and row accounting, the
  model and comparison tables, the rankings, the figures (embedded, so the page works
  on its own) and the map (``map.html`` in an ``<iframe>``).

The profile pages the map links to are written by :func:`geoattr.report.profiles.write_profiles`.
The pages are static HTML with no external assets: they open from the file system, offline.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._format import escape_html
from geoattr.exceptions import InputError
from geoattr.io.figures import save_figure
from geoattr.report.figures import (
    coefficients_over_time,
    decomposition_waterfall,
    forest_plot,
    observed_vs_expected,
    ranking_bars,
)
from geoattr.report.forecast import forecast_section
from geoattr.report.page import check_attractiveness, files_section, format_cell, html_page, html_table
from geoattr.report.tables import comparison_table as make_comparison_table
from geoattr.report.tables import ranking_table, regression_table

__all__ = ["write_tables", "write_figures", "write_report"]


def write_tables(
    out_dir: str | Path,
    *,
    models: Mapping[str, Any],
    comparison: Any | None = None,
    rankings: pd.DataFrame | None = None,
    top_n: int = 10,
) -> dict[str, Path]:
    """Write the publication tables as LaTeX (booktabs) and Markdown.

    Parameters
    ----------
    out_dir : str or Path
        Folder (created).
    models : mapping of str to results
        Column name -> fitted model (:func:`geoattr.estimate` output or a
        ``RegressionResults``) for ``model.tex`` / ``model.md``.
    comparison : Comparison, optional
        :func:`geoattr.compare` output for ``comparison.tex`` / ``comparison.md``
        (stars from its p-values).
    rankings : pandas.DataFrame, optional
        :func:`geoattr.rankings` output for ``rankings.tex`` / ``rankings.md``; with a
        ``level`` column, one pair of files per level (``rankings_region.tex``...) after
        the first.
    top_n : int, default 10
        Units per panel of the ranking tables.

    Returns
    -------
    dict of str to Path
        Keys ``model_tex``, ``model_md``, ``comparison_tex``... for the files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for fmt, ext in (("latex", "tex"), ("markdown", "md")):
        p = out / f"model.{ext}"
        p.write_text(regression_table(dict(models), fmt=fmt, stats=("nobs", "r2", "adj_r2", "aic")),
                     encoding="utf-8")
        files[f"model_{ext}"] = p
        if comparison is not None:
            p = out / f"comparison.{ext}"
            p.write_text(make_comparison_table(comparison, fmt=fmt), encoding="utf-8")
            files[f"comparison_{ext}"] = p
        if rankings is not None:
            levels = list(dict.fromkeys(rankings["level"])) if "level" in rankings.columns else [None]
            for i, lv in enumerate(levels):
                part = rankings if lv is None else rankings[rankings["level"] == lv]
                n = int(min(top_n, (part["list"] == "top").sum()))
                stem = "rankings" if i == 0 else f"rankings_{lv}"
                p = out / f"{stem}.{ext}"
                p.write_text(ranking_table(part, fmt=fmt, top_n=max(n, 1)), encoding="utf-8")
                files[f"{stem}_{ext}"] = p
    return files


def write_figures(
    out_dir: str | Path,
    *,
    att: pd.DataFrame,
    yearly: pd.DataFrame | None = None,
    decomposition: pd.DataFrame | None = None,
    decomposition_unit: Any | None = None,
    models: Mapping[str, Any] | None = None,
    names: Mapping[Any, str] | pd.Series | None = None,
    top_n: int = 10,
    formats: Sequence[str] = ("png", "svg"),
) -> dict[str, Path]:
    """Write the figures of :mod:`geoattr.report.figures` as PNG and SVG.

    Parameters
    ----------
    out_dir : str or Path
        Folder (created).
    att : pandas.DataFrame
        :func:`geoattr.attractiveness` output of the main model.
    yearly : pandas.DataFrame, optional
        ``estimate_by_year(...).to_frame()`` of the main model: coefficients over time.
    decomposition : pandas.DataFrame, optional
        :func:`geoattr.decompose` output: waterfall of ``decomposition_unit``.
    decomposition_unit : str, optional
        Default: the unit with the highest mean attractiveness.
    models : mapping of str to results, optional
        Name -> fitted model for the forest plot (at least two make it useful).
    names : mapping or pandas.Series, optional
        Unit id -> name for labels.
    top_n : int, default 10
        Units at each end of the ranking bars.
    formats : sequence of {"png", "svg"}, default ("png", "svg")

    Returns
    -------
    dict of str to Path
        ``<figure>_<format>`` -> file, e.g. ``observed_vs_expected_png``.
    """
    bad = [f for f in formats if f not in ("png", "svg")]
    if bad:
        raise InputError(f"figure format(s) {bad} are not supported; use 'png' and/or 'svg'")
    check_attractiveness(att, "att")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    plots: list[tuple[str, Any]] = [
        ("observed_vs_expected", lambda: observed_vs_expected(att, names=names)),
        ("ranking_bars", lambda: ranking_bars(att, n=top_n, names=names)),
    ]
    if yearly is not None and len(yearly):
        plots.append(("coefficients_over_time", lambda: coefficients_over_time(yearly)))
    if decomposition is not None and len(decomposition):
        unit = decomposition_unit
        if unit is None:
            means = att["residual"].groupby(level="unit").mean()
            means = means[means.index.isin(decomposition["unit"].unique())]
            unit = means.idxmax()
        plots.append(("decomposition_waterfall", lambda: decomposition_waterfall(decomposition, unit, names=names,
                                                                                        subtotals=True)))
    if models is not None and len(models) >= 1:
        plots.append(("forest_plot", lambda: forest_plot(dict(models))))
    for key, make in plots:
        # Laid out once, at the first format's resolution; the other formats keep that layout.
        paths = save_figure(make(), [out / f"{key}.{ext}" for ext in formats], dpi=110, tight=True)
        files.update({f"{key}_{ext}": p for ext, p in zip(formats, paths)})
    return files


def _relative_to(base: Path) -> Callable[[str | Path], str]:
    """Link to a file: relative to ``base`` when below it, else an absolute file URI."""

    def rel(p: str | Path) -> str:
        try:
            return Path(p).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return Path(p).resolve().as_uri()

    return rel


def _nav(*, comparison: bool, robustness: bool, map_link: bool, profiles: str | None,
         forecast: bool = False) -> str:
    return ('<nav><a href="#data">Data</a><a href="#model">Model</a>'
            + ('<a href="#comparison">Comparison</a>' if comparison else "")
            + '<a href="#rankings">Rankings</a><a href="#figures">Figures</a>'
            + ('<a href="#robustness">Robustness</a>' if robustness else "")
            + ('<a href="#forecast">Forecast</a>' if forecast else "")
            + ('<a href="#map">Map</a>' if map_link else "")
            + (f'<a href="{escape_html(profiles)}">Unit profiles</a>' if profiles else "")
            + "</nav>")


def _data_section(summary: Mapping[str, Any], row_accounting: Sequence[Mapping[str, Any]],
                  notes: Sequence[str], warnings: Sequence[str]) -> list[str]:
    """The summary table, the row accounting, the notes and the run's warnings."""
    parts = ['<h2 id="data">Data and row accounting</h2>']
    parts.append('<table class="plain" id="summary"><tbody>' + "".join(
        f"<tr><th>{escape_html(k)}</th><td>{escape_html(v)}</td></tr>" for k, v in summary.items())
        + "</tbody></table>")
    acc_rows = []
    for r in row_accounting:
        dropped = r.get("dropped") or {}
        dtext = "; ".join([f"{k}: {v}" for k, v in dropped.items()]
                          + [f"added, {k}: {v}" for k, v in (r.get("added") or {}).items()]) or "none"
        source = f' <span class="muted">(rows of {escape_html(r["from"])})</span>' if r.get("from") else ""
        acc_rows.append(
            f"<tr><td>{escape_html(r.get('table', ''))}{source}</td><td>{format_cell(r.get('read'), 0)}</td>"
            f"<td>{format_cell(r.get('used'), 0)}</td><td>{escape_html(dtext)}</td>"
            f"<td>{escape_html('; '.join(map(str, r.get('notes') or [])))}</td></tr>")
    parts.append('<table class="plain" id="row-accounting"><thead><tr><th>table or step</th><th>rows read</th>'
                 '<th>rows used</th><th>dropped (reason: rows)</th><th>notes</th></tr></thead><tbody>'
                 + "".join(acc_rows) + "</tbody></table>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{escape_html(n)}</li>" for n in notes) + "</ul>")
    if warnings:
        parts.append('<p class="warn">Warnings of the run:</p><ul class="warn">'
                     + "".join(f"<li>{escape_html(w)}</li>" for w in warnings) + "</ul>")
    return parts


def _embed(caption: str, png: str | Path, rel: Callable[[str | Path], str]) -> str:
    """A PNG figure as a data URI (the page stands alone), with a link to its SVG when there is one."""
    png = Path(png)
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    svg = png.with_suffix(".svg")
    link = f' (<a href="{escape_html(rel(svg))}">SVG</a>)' if svg.exists() else ""
    return (f'<figure><img alt="{escape_html(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape_html(caption)}{link}</figcaption></figure>")


def _robustness_section(robustness: pd.DataFrame, figures: Mapping[str, Path] | None,
                        rel: Callable[[str | Path], str]) -> list[str]:
    parts = ['<h2 id="robustness">Robustness</h2><p class="muted">Each variant re-estimates the model '
             "with one choice changed; <i>spearman</i> is the rank correlation of cumulative attractiveness "
             "with the baseline, <i>top_kept</i>/<i>bottom_kept</i> the share of the baseline's top and "
             "bottom units that stay there (robustness.csv has the coefficients).</p>"
             f'<div id="robustness-table">{html_table(robustness, digits=3)}</div>']
    parts.extend(_embed(c, p, rel) for c, p in (figures or {}).items())
    return parts


def _map_section(map_file: str | Path, rel: Callable[[str | Path], str]) -> str:
    src = escape_html(rel(map_file))
    return ('<h2 id="map">Map</h2><p class="muted">Layers: attractiveness, the residuals of each '
            "compared specification, the year slider and the LISA clusters. Click a unit for its "
            f'profile. <a href="{src}" target="_blank">Open the map on its own</a>.</p>'
            f'<iframe id="map-frame" title="map" src="{src}"></iframe>')


def write_report(
    path: str | Path,
    *,
    title: str,
    summary: Mapping[str, Any],
    row_accounting: Sequence[Mapping[str, Any]],
    model_table: str,
    comparison_table: str | None = None,
    ranking_tables: Mapping[str, str] | None = None,
    figures: Mapping[str, Path] | None = None,
    robustness: pd.DataFrame | None = None,
    robustness_figures: Mapping[str, Path] | None = None,
    map_file: str | Path | None = None,
    profiles_index: str | Path | None = None,
    notes: Sequence[str] = (),
    warnings: Sequence[str] = (),
    files: Mapping[str, Path] | None = None,
    forecast: pd.DataFrame | None = None,
    forecast_history: pd.DataFrame | None = None,
    scenario: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    forecast_units: Sequence[str] | None = None,
    names: Mapping[Any, str] | pd.Series | None = None,
) -> Path:
    """Write ``report.html``: one page with everything a reader of the run needs.

    Parameters
    ----------
    path : str or Path
        The HTML file to write.
    title : str
        Page title.
    summary : mapping
        Facts about the data and the model (label -> value), shown as a two-column table.
    row_accounting : sequence of mapping
        One record per table: ``table``, ``read``, ``used``, ``dropped`` (reason ->
        count) and ``notes`` (:meth:`geoattr.accounting.Accounting.to_dict`).
    model_table : str
        HTML model table (``regression_table(..., fmt="html")``).
    comparison_table : str, optional
        HTML comparison table.
    ranking_tables : mapping of str to str, optional
        Heading -> HTML ranking table.
    figures : mapping of str to Path, optional
        Caption -> PNG file; each is embedded as a data URI (the page stands alone),
        with a link to the SVG next to it when one exists.
    robustness : pandas.DataFrame, optional
        Rank stability per variant (``rank_stability.csv`` of :func:`geoattr.robustness`).
    robustness_figures : mapping of str to Path, optional
        Caption -> PNG of the robustness figures (embedded like ``figures``).
    map_file : str or Path, optional
        ``map.html``; embedded in an ``<iframe>`` by its path relative to the report.
    profiles_index : str or Path, optional
        ``profiles/index.html``; linked from the report.
    notes, warnings : sequence of str
        Model notes and the run's geoattr warnings.
    files : mapping of str to Path, optional
        Output files to list at the bottom (relative links).
    forecast, forecast_history, scenario, backtest : pandas.DataFrame, optional
        The forecast (``unit, year, quantity, mean, lower, upper``), the observed
        history (``unit, year, quantity, value``), the scenario effects (``scenario,
        unit, year, persons``) and the backtest (``method, horizon, rmse, mae, bias,
        coverage95``): with any of ``forecast``, ``scenario`` or ``backtest`` the page
        gets a "Forecast and scenarios" section
        (:func:`geoattr.report.forecast.forecast_section`); without them the page is
        as before.
    forecast_units : sequence of str, optional
        Units with fan charts (default: chosen by ``forecast_section``).
    names : mapping or pandas.Series, optional
        Unit id -> name, for the forecast section.

    Returns
    -------
    Path
        The report file.
    """
    path = Path(path)
    rel = _relative_to(path.parent)
    has_forecast = forecast is not None or scenario is not None or backtest is not None
    forecast_html = (forecast_section(forecast=forecast, history=forecast_history, scenario=scenario,
                                      backtest=backtest, units=forecast_units, names=names)
                     if has_forecast else None)
    parts = [f"<h1>{escape_html(title)}</h1>",
             f'<p class="muted">geoattr report written {_dt.datetime.now():%Y-%m-%d %H:%M}.</p>',
             _nav(comparison=bool(comparison_table), robustness=robustness is not None, map_link=bool(map_file),
                  profiles=rel(profiles_index) if profiles_index else None, forecast=has_forecast)]
    parts += _data_section(summary, row_accounting, notes, warnings)
    parts.append('<h2 id="model">Model</h2>' + f'<div id="model-table">{model_table}</div>')
    if comparison_table:
        parts.append('<h2 id="comparison">Specification comparison</h2>'
                     f'<div id="comparison-table">{comparison_table}</div>')
    parts.append('<h2 id="rankings">Rankings</h2>')
    for heading, t in (ranking_tables or {}).items():
        parts.append(f"<h3>{escape_html(heading)}</h3><div class=\"ranking-table\">{t}</div>")
    parts.append('<h2 id="figures">Figures</h2>')
    parts.extend(_embed(c, p, rel) for c, p in (figures or {}).items())
    if robustness is not None:
        parts += _robustness_section(robustness, robustness_figures, rel)
    if forecast_html is not None:
        parts.append(forecast_html)
    if map_file:
        parts.append(_map_section(map_file, rel))
    if files:
        parts.append(files_section(files, rel))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(title, "\n".join(parts)), encoding="utf-8")
    return path
