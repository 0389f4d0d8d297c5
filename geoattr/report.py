"""Publication outputs of a run: tables, figures, ``report.html`` and one profile page per unit.

Everything here formats results that exist already; nothing is estimated.

* :func:`write_tables` writes the model, comparison and ranking tables as LaTeX
  (booktabs) and Markdown files (see :mod:`geoattr.tables`).
* :func:`write_figures` writes the figures of :mod:`geoattr.figures` as PNG and SVG.
* :func:`write_report` writes ``report.html``: the data summary and row accounting, the
  model and comparison tables, the rankings, the figures (embedded, so the page works
  on its own) and the map (``map.html`` in an ``<iframe>``).
* :func:`write_profiles` writes ``profiles/<unit>.html`` for every unit (its
  attractiveness over time with intervals and a period picker, its decomposition of
  population change, its commuting destinations) and ``profiles/index.html`` to pick a
  unit and a period.  The map's popups link to these pages.

The pages are static HTML with a few lines of inline JavaScript and no external
assets: they open from the file system, offline.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError

__all__ = ["write_tables", "write_figures", "write_report", "write_profiles", "profile_file_name"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{padding:.15em .7em}
table.geoattr-table thead{border-top:2px solid #000;border-bottom:1px solid #000}
table.geoattr-table tbody+tbody{border-top:1px solid #000}
table.geoattr-table{border-bottom:2px solid #000}
table.geoattr-table tfoot td{font-size:.85em;color:#555;border-top:1px solid #000}
table.plain th{text-align:left;border-bottom:1px solid #000}table.plain td{border-bottom:1px solid #eee}
.muted{color:#666;font-size:.9em}.warn{color:#9a4b00}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
iframe{width:100%;height:620px;border:1px solid #ccc}
.pos{color:#2166ac}.neg{color:#b2182b}
nav a{margin-right:1em}
"""


# --------------------------------------------------------------------------- helpers
def _esc(v: Any) -> str:
    return html.escape(str(v))


def _fmt(v: Any, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals and thousands separators; text (ids!) unchanged."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return _esc(v)
    x = float(v)
    if not math.isfinite(x):
        return ""
    text = f"{x:,.0f}" if isinstance(v, (int, np.integer)) else f"{x:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def _page(title: str, body: str, *, script: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_esc(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n{body}\n"
        + (f"<script>{script}</script>\n" if script else "")
        + "</body></html>\n"
    )


def _plain_table(frame: pd.DataFrame, *, digits: int = 2, cls: str = "plain", row_ids: bool = False) -> str:
    """A small HTML table of a frame (index not shown unless it is named)."""
    f = frame.reset_index() if (frame.index.name or any(frame.index.names)) and row_ids else frame
    head = "".join(f"<th>{_esc(c)}</th>" for c in f.columns)
    rows = []
    for r in f.itertuples(index=False):
        rows.append("<tr>" + "".join(f"<td>{_fmt(v, digits)}</td>" for v in r) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def profile_file_name(unit: Any) -> str:
    """File name of a unit's profile page: the id with characters unsafe in file names replaced.

    Parameters
    ----------
    unit : str
        Unit id.

    Returns
    -------
    str
        ``"<id>.html"``; characters other than letters, digits, ``-``, ``_`` and ``.``
        become ``_``.
    """
    safe = "".join(ch if (ch.isalnum() or ch in "-_.") else "_" for ch in str(unit))
    return f"{safe}.html"


def _check_att(att: pd.DataFrame, what: str) -> None:
    if not isinstance(att, pd.DataFrame) or list(att.index.names) != ["unit", "year"]:
        raise InputError(
            f"{what} must be the output of geoattr.attractiveness(): a DataFrame indexed by (unit, year); "
            f"got index levels {list(getattr(att, 'index', pd.Index([])).names)}"
        )
    missing = [c for c in ("actual", "expected", "residual") if c not in att.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}; pass the output of geoattr.attractiveness()")


# --------------------------------------------------------------------------- tables and figures
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
    from geoattr.tables import comparison_table, ranking_table, regression_table

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
            p.write_text(comparison_table(comparison, fmt=fmt), encoding="utf-8")
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
    """Write the figures of :mod:`geoattr.figures` as PNG and SVG.

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
    import matplotlib.pyplot as plt

    from geoattr import figures as gf

    bad = [f for f in formats if f not in ("png", "svg")]
    if bad:
        raise InputError(f"figure format(s) {bad} are not supported; use 'png' and/or 'svg'")
    _check_att(att, "att")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    plots: list[tuple[str, Any]] = [
        ("observed_vs_expected", lambda: gf.observed_vs_expected(att, names=names)),
        ("ranking_bars", lambda: gf.ranking_bars(att, n=top_n, names=names)),
    ]
    if yearly is not None and len(yearly):
        plots.append(("coefficients_over_time", lambda: gf.coefficients_over_time(yearly)))
    if decomposition is not None and len(decomposition):
        unit = decomposition_unit
        if unit is None:
            means = att["residual"].groupby(level="unit").mean()
            means = means[means.index.isin(decomposition["unit"].unique())]
            unit = means.idxmax()
        plots.append(("decomposition_waterfall", lambda: gf.decomposition_waterfall(decomposition, unit, names=names)))
    if models is not None and len(models) >= 1:
        plots.append(("forest_plot", lambda: gf.forest_plot(dict(models))))
    for key, make in plots:
        fig = make()
        for ext in formats:
            p = out / f"{key}.{ext}"
            fig.savefig(p, dpi=110, bbox_inches="tight")
            files[f"{key}_{ext}"] = p
        plt.close(fig)
    return files


# --------------------------------------------------------------------------- report
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

    Returns
    -------
    Path
        The report file.
    """
    path = Path(path)
    base = path.parent

    def rel(p: str | Path) -> str:
        try:
            return Path(p).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            return Path(p).resolve().as_uri()

    parts = [f"<h1>{_esc(title)}</h1>",
             f'<p class="muted">geoattr report written {_dt.datetime.now():%Y-%m-%d %H:%M}.</p>',
             '<nav><a href="#data">Data</a><a href="#model">Model</a>'
             + ('<a href="#comparison">Comparison</a>' if comparison_table else "")
             + '<a href="#rankings">Rankings</a><a href="#figures">Figures</a>'
             + ('<a href="#robustness">Robustness</a>' if robustness is not None else "")
             + ('<a href="#map">Map</a>' if map_file else "")
             + (f'<a href="{_esc(rel(profiles_index))}">Unit profiles</a>' if profiles_index else "")
             + "</nav>"]
    parts.append('<h2 id="data">Data and row accounting</h2>')
    parts.append('<table class="plain" id="summary"><tbody>' + "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in summary.items()) + "</tbody></table>")
    acc_rows = []
    for r in row_accounting:
        dropped = r.get("dropped") or {}
        dtext = "; ".join(f"{k}: {v}" for k, v in dropped.items()) or "none"
        acc_rows.append(
            f"<tr><td>{_esc(r.get('table', ''))}</td><td>{_fmt(r.get('read'), 0)}</td><td>{_fmt(r.get('used'), 0)}</td>"
            f"<td>{_esc(dtext)}</td><td>{_esc('; '.join(map(str, r.get('notes') or [])))}</td></tr>")
    parts.append('<table class="plain" id="row-accounting"><thead><tr><th>table</th><th>rows read</th>'
                 '<th>rows used</th><th>dropped (reason: rows)</th><th>notes</th></tr></thead><tbody>'
                 + "".join(acc_rows) + "</tbody></table>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    if warnings:
        parts.append('<p class="warn">Warnings of the run:</p><ul class="warn">'
                     + "".join(f"<li>{_esc(w)}</li>" for w in warnings) + "</ul>")
    parts.append('<h2 id="model">Model</h2>' + f'<div id="model-table">{model_table}</div>')
    if comparison_table:
        parts.append('<h2 id="comparison">Specification comparison</h2>'
                     f'<div id="comparison-table">{comparison_table}</div>')
    parts.append('<h2 id="rankings">Rankings</h2>')
    for heading, t in (ranking_tables or {}).items():
        parts.append(f"<h3>{_esc(heading)}</h3><div class=\"ranking-table\">{t}</div>")
    def embed(caption: str, png: str | Path) -> str:
        png = Path(png)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        svg = png.with_suffix(".svg")
        link = f' (<a href="{_esc(rel(svg))}">SVG</a>)' if svg.exists() else ""
        return (f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_esc(caption)}{link}</figcaption></figure>")

    parts.append('<h2 id="figures">Figures</h2>')
    parts.extend(embed(c, p) for c, p in (figures or {}).items())
    if robustness is not None:
        parts.append('<h2 id="robustness">Robustness</h2><p class="muted">Each variant re-estimates the model '
                     "with one choice changed; <i>spearman</i> is the rank correlation of cumulative attractiveness "
                     "with the baseline, <i>top_kept</i>/<i>bottom_kept</i> the share of the baseline's top and "
                     "bottom units that stay there (robustness.csv has the coefficients).</p>"
                     f'<div id="robustness-table">{_plain_table(robustness, digits=3)}</div>')
        parts.extend(embed(c, p) for c, p in (robustness_figures or {}).items())
    if map_file:
        parts.append('<h2 id="map">Map</h2><p class="muted">Layers: attractiveness, the residuals of each '
                     "compared specification, the year slider and the LISA clusters. Click a unit for its "
                     f'profile. <a href="{_esc(rel(map_file))}" target="_blank">Open the map on its own</a>.</p>'
                     f'<iframe id="map-frame" title="map" src="{_esc(rel(map_file))}"></iframe>')
    if files:
        parts.append('<h2 id="files">Files</h2><ul class="muted">' + "".join(
            f'<li><a href="{_esc(rel(p))}">{_esc(Path(p).name)}</a></li>' for p in files.values()) + "</ul>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_page(title, "\n".join(parts)), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- profiles
def _svg_series(years: list[int], mid: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None,
                *, width: int = 640, height: int = 220, label: str = "") -> str:
    """A small inline SVG line chart with a band and the zero line (no plotting library needed)."""
    pad_l, pad_r, pad_t, pad_b = 48, 22, 10, 26
    vals = [v for arr in (mid, lo, hi) if arr is not None for v in np.asarray(arr, float) if np.isfinite(v)]
    vmin, vmax = (min(vals + [0.0]), max(vals + [0.0])) if vals else (-1.0, 1.0)
    if vmax - vmin < 1e-12:
        vmin, vmax = vmin - 1, vmax + 1
    x0, x1 = min(years), max(years)
    span = max(x1 - x0, 1)

    def sx(y: float) -> float:
        return pad_l + (y - x0) / span * (width - pad_l - pad_r)

    def sy(v: float) -> float:
        return pad_t + (vmax - v) / (vmax - vmin) * (height - pad_t - pad_b)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{_esc(label)}">']
    if lo is not None and hi is not None:
        pts = [(sx(y), sy(h)) for y, h in zip(years, hi) if np.isfinite(h)]
        pts += [(sx(y), sy(lv)) for y, lv in reversed(list(zip(years, lo))) if np.isfinite(lv)]
        out.append('<polygon class="band" fill="#92c5de" fill-opacity="0.5" stroke="none" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    out.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#888" '
               'stroke-dasharray="4 3"/>')
    pts = [(sx(y), sy(v)) for y, v in zip(years, mid) if np.isfinite(v)]
    out.append('<polyline class="series" fill="none" stroke="#2166ac" stroke-width="2" points="'
               + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    for (a, b), y in zip(pts, years):
        out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="#2166ac" data-year="{y}"/>')
    for v in (vmin, 0.0, vmax):
        out.append(f'<text x="{pad_l - 4}" y="{sy(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.1f}</text>')
    step = max(1, round(span / 8))
    for y in range(x0, x1 + 1, step):
        out.append(f'<text x="{sx(y):.1f}" y="{height - 8}" font-size="10" text-anchor="middle">{y}</text>')
    out.append("</svg>")
    return "".join(out)


_PROFILE_JS = """
const D = JSON.parse(document.getElementById('profile-data').textContent);
const from = document.getElementById('from'), to = document.getElementById('to');
function params(){const h=new URLSearchParams(location.hash.slice(1));return [h.get('from'),h.get('to')];}
function update(){
  let a=+from.value, b=+to.value; if(a>b){[a,b]=[b,a];}
  let res=0, pers=0, n=0, v=0, lok=true;
  D.years.forEach((y,i)=>{const row=document.getElementById('y'+y);
    const inside = y>=a && y<=b; if(row){row.classList.toggle('selected', inside);}
    if(inside){res+=D.residual[i]; pers+=D.residual_persons[i]||0; n+=1;
      if(D.se[i]===null){lok=false;} else {v+=D.se[i]*D.se[i];}}});
  const half=1.959964*Math.sqrt(v), lo=res-half, hi=res+half;
  document.getElementById('period').textContent = a+'-'+b+' ('+n+' years)';
  document.getElementById('period-residual').textContent = res.toFixed(2);
  document.getElementById('period-persons').textContent = Math.round(pers).toLocaleString('en');
  document.getElementById('period-interval').textContent = lok ? '['+lo.toFixed(2)+', '+hi.toFixed(2)+']' : 'n/a';
  history.replaceState(null,'','#from='+a+'&to='+b);
}
const [pf,pt]=params(); if(pf&&D.years.includes(+pf)){from.value=pf;} if(pt&&D.years.includes(+pt)){to.value=pt;}
from.addEventListener('change',update); to.addEventListener('change',update); update();
"""

_INDEX_JS = """
const u=document.getElementById('unit'), f=document.getElementById('from'), t=document.getElementById('to');
document.getElementById('open').addEventListener('click',()=>{
  location.href=u.value+'#from='+f.value+'&to='+t.value;});
"""


def write_profiles(
    out_dir: str | Path,
    *,
    att: pd.DataFrame,
    intervals: pd.DataFrame | None = None,
    decomposition: pd.DataFrame | None = None,
    decomposition_years: tuple[int, int] | None = None,
    flows: pd.DataFrame | None = None,
    flows_year: int | None = None,
    names: Mapping[Any, str] | pd.Series | None = None,
    regions: Mapping[Any, str] | pd.Series | None = None,
    top_destinations: int = 10,
    report: str | None = "../report.html",
) -> dict[str, Path]:
    """Write one profile page per unit and an index page to pick a unit and a period.

    Parameters
    ----------
    out_dir : str or Path
        Folder of the pages (created), e.g. ``<out>/profiles``.
    att : pandas.DataFrame
        :func:`geoattr.attractiveness` output (index (unit, year); ``actual``,
        ``expected``, ``residual``, optionally ``residual_persons``).
    intervals : pandas.DataFrame, optional
        :func:`geoattr.analysis.prediction_intervals` output (index (unit, year);
        ``se``, ``lower``, ``upper`` of the expected value).  The attractiveness
        interval of a year is ``[actual - upper, actual - lower]``; over a period the
        page shows the sum of the yearly residuals ± 1.96 times the square root of the
        sum of the yearly ``se**2`` (prediction errors taken as independent across
        years; "n/a" without ``se``).
    decomposition : pandas.DataFrame, optional
        :func:`geoattr.decompose` output (``unit``, ``component``, ``persons_per_year``).
    decomposition_years : tuple of int, optional
        The period of ``decomposition`` (shown in the heading).
    flows : pandas.DataFrame, optional
        Commuting flows (``year``, ``origin``, ``destination``, ``count``): the page
        lists where the unit's employed residents work.
    flows_year : int, optional
        Year of the flows shown (default the latest).
    names, regions : mapping or pandas.Series, optional
        Unit id -> name / region.
    top_destinations : int, default 10
        Destinations listed (the rest are summed into "other").
    report : str or None, default "../report.html"
        Link back to the report (relative to the pages).

    Returns
    -------
    dict of str to Path
        ``unit id -> page`` and ``"index" -> profiles/index.html``.

    Raises
    ------
    InputError
        ``att`` is not an attractiveness table; ``intervals`` or ``flows`` lack their
        columns; ``top_destinations < 1``.
    """
    _check_att(att, "att")
    if isinstance(top_destinations, bool) or not isinstance(top_destinations, (int, np.integer)) \
            or top_destinations < 1:
        raise InputError(f"top_destinations must be an integer >= 1, got {top_destinations!r}")
    if intervals is not None:
        miss = [c for c in ("lower", "upper") if c not in intervals.columns]
        if miss:
            raise InputError(f"intervals lacks column(s) {miss}; pass geoattr.analysis.prediction_intervals(fit)")
    if flows is not None:
        miss = [c for c in ("year", "origin", "destination", "count") if c not in flows.columns]
        if miss:
            raise InputError(f"flows lacks column(s) {miss}; expected year, origin, destination, count")
    names = pd.Series(names if names is not None else {}, dtype=object)
    regions = pd.Series(regions if regions is not None else {}, dtype=object)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    units = list(dict.fromkeys(att.index.get_level_values("unit")))
    if intervals is not None:
        have = set(intervals.index.get_level_values(0))
        missing = [u for u in units if u not in have]
        if missing:
            raise InputError(f"intervals have no rows for {format_ids(missing)}; pass prediction_intervals of the "
                             "same fit as att")
    years_all = sorted(set(int(y) for y in att.index.get_level_values("year")))
    dest_by_unit: dict[Any, pd.DataFrame] = {}
    fyear = None
    if flows is not None and len(flows):
        fyear = int(flows_year if flows_year is not None else flows["year"].max())
        fl = flows[flows["year"] == fyear]
        if fl.empty:
            raise InputError(f"flows has no rows for year {fyear}; its years are {sorted(flows['year'].unique())}")
        for u, g in fl.groupby("origin", sort=False):
            g = g.groupby("destination")["count"].sum().sort_values(ascending=False)
            total = g.sum()
            if total <= 0:
                continue
            top = g.head(top_destinations)
            rows = pd.DataFrame({"destination": top.index.astype(str),
                                 "name": [names.get(d, d) for d in top.index],
                                 "commuters": top.to_numpy(), "share (%)": 100 * top.to_numpy() / total})
            rest = g.iloc[top_destinations:].sum()
            if rest > 0:
                rows.loc[len(rows)] = ["other", f"{len(g) - len(top)} units", rest, 100 * rest / total]
            dest_by_unit[u] = rows
    dec_by_unit = ({u: g for u, g in decomposition.groupby("unit", sort=False)}
                   if decomposition is not None else {})
    cum = att["residual"].groupby(level="unit", sort=False).sum()
    order = cum.sort_values(ascending=False)
    rank = pd.Series(np.arange(1, len(order) + 1), index=order.index)
    pages: dict[str, Path] = {}
    back = f'<a href="{_esc(report)}">Report</a>' if report else ""
    for u in units:
        a = att.xs(u, level="unit").sort_index()
        yrs = [int(y) for y in a.index]
        res = a["residual"].to_numpy(float)
        if intervals is not None:
            iv = intervals.reindex(pd.MultiIndex.from_product([[u], yrs], names=["unit", "year"]))
            lo = a["actual"].to_numpy(float) - iv["upper"].to_numpy(float)
            hi = a["actual"].to_numpy(float) - iv["lower"].to_numpy(float)
            se = iv["se"].to_numpy(float) if "se" in iv.columns else None
        else:
            lo = hi = se = None
        persons = a["residual_persons"].to_numpy(float) if "residual_persons" in a.columns else np.full(len(a), np.nan)
        name = str(names.get(u, u))
        title = f"{name} ({u})" if name != str(u) else str(u)
        data = {"unit": str(u), "years": yrs, "residual": [round(float(v), 6) for v in res],
                "residual_persons": [None if not np.isfinite(v) else round(float(v), 3) for v in persons],
                "lower": [None if lo is None or not np.isfinite(v) else round(float(v), 6)
                          for v in (lo if lo is not None else res)],
                "upper": [None if hi is None or not np.isfinite(v) else round(float(v), 6)
                          for v in (hi if hi is not None else res)],
                "se": [None if se is None or not np.isfinite(v) else round(float(v), 6)
                       for v in (se if se is not None else res)]}
        opts = "".join(f'<option value="{y}">{y}</option>' for y in yrs)
        body = [f"<nav>{back}<a href=\"index.html\">All units</a></nav>",
                f"<h1>{_esc(title)}</h1>",
                '<p class="muted">'
                + (f"Region {_esc(regions.get(u))}. " if u in regions.index else "")
                + f"Cumulative attractiveness {years_all[0]}-{years_all[-1]}: "
                  f"<b>{cum[u]:.2f}</b> percentage points (rank {int(rank[u])} of {len(rank)}).</p>",
                "<h2>Attractiveness over time</h2>",
                '<p>Period: <select id="from">' + opts.replace(f'value="{yrs[0]}"', f'value="{yrs[0]}" selected')
                + '</select> to <select id="to">' + opts.replace(f'value="{yrs[-1]}"', f'value="{yrs[-1]}" selected')
                + '</select></p>',
                '<table class="plain" id="period-summary"><tbody>'
                '<tr><th>period</th><td id="period"></td></tr>'
                '<tr><th>attractiveness (sum of yearly residuals, pp)</th><td id="period-residual"></td></tr>'
                '<tr><th>95 % interval of the sum (independent yearly errors)</th><td id="period-interval"></td></tr>'
                '<tr><th>persons (residual x population)</th><td id="period-persons"></td></tr></tbody></table>',
                _svg_series(yrs, res, lo, hi, label=f"attractiveness of {name} over time"),
                '<p class="muted">Residual net migration (% of the population, observed minus expected) each year; '
                + ("band: 95 % prediction interval." if lo is not None else "no intervals supplied.") + "</p>"]
        rows = []
        for i, y in enumerate(yrs):
            rows.append(f'<tr id="y{y}"><td>{y}</td><td>{_fmt(a["actual"].iloc[i])}</td>'
                        f'<td>{_fmt(a["expected"].iloc[i])}</td><td>{_fmt(res[i])}</td>'
                        f'<td>{"" if lo is None else _fmt(lo[i])}</td><td>{"" if hi is None else _fmt(hi[i])}</td></tr>')
        body.append('<table class="plain" id="yearly"><thead><tr><th>year</th><th>observed</th><th>expected</th>'
                    '<th>attractiveness</th><th>lower</th><th>upper</th></tr></thead><tbody>'
                    + "".join(rows) + "</tbody></table>")
        if u in dec_by_unit:
            g = dec_by_unit[u][["component", "persons_per_year"]]
            period = f" {decomposition_years[0]}-{decomposition_years[1]}" if decomposition_years else ""
            body.append(f"<h2>Decomposition of population change{period}</h2>"
                        + _plain_table(g, digits=1, cls="plain decomposition"))
        if u in dest_by_unit:
            body.append(f"<h2>Where its residents work ({fyear})</h2>"
                        + _plain_table(dest_by_unit[u], digits=1, cls="plain destinations"))
        data_json = json.dumps(data).replace("</", "<\\/")
        body.append(f'<script type="application/json" id="profile-data">{data_json}</script>')
        body.append("<style>tr.selected td{background:#eef4fb}</style>")
        p = out / profile_file_name(u)
        p.write_text(_page(f"{title}: profile", "\n".join(body), script=_PROFILE_JS), encoding="utf-8")
        pages[str(u)] = p
    opts_u = "".join(f'<option value="{_esc(profile_file_name(u))}">{_esc(names.get(u, u))} ({_esc(u)})</option>'
                     for u in sorted(units, key=lambda x: str(names.get(x, x))))
    opts_y = "".join(f'<option value="{y}">{y}</option>' for y in years_all)
    listing = "".join(
        f'<tr><td>{int(rank[u])}</td><td><a href="{_esc(profile_file_name(u))}">{_esc(names.get(u, u))}</a></td>'
        f'<td>{_esc(u)}</td><td class="{"pos" if cum[u] >= 0 else "neg"}">{cum[u]:.2f}</td></tr>'
        for u in order.index)
    idx = [f"<nav>{back}</nav><h1>Unit profiles</h1>",
           '<p>Unit <select id="unit">' + opts_u + '</select> from <select id="from">'
           + opts_y.replace(f'value="{years_all[0]}"', f'value="{years_all[0]}" selected')
           + '</select> to <select id="to">'
           + opts_y.replace(f'value="{years_all[-1]}"', f'value="{years_all[-1]}" selected')
           + '</select> <button id="open">Open profile</button></p>',
           '<table class="plain" id="units"><thead><tr><th>rank</th><th>name</th><th>id</th>'
           f'<th>cumulative attractiveness {years_all[0]}-{years_all[-1]} (pp)</th></tr></thead><tbody>'
           + listing + "</tbody></table>"]
    pages["index"] = out / "index.html"
    pages["index"].write_text(_page("Unit profiles", "\n".join(idx), script=_INDEX_JS), encoding="utf-8")
    return pages
