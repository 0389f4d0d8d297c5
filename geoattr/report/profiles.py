"""One profile page per unit and an index page to pick a unit and a period.

:func:`write_profiles` writes ``profiles/<unit>.html`` for every unit (its
attractiveness over time with intervals and a period picker, its decomposition of
population change, its commuting destinations) and ``profiles/index.html``.  The map's
popups link to these pages (:func:`profile_file_name`).  The pages are static HTML with
a few lines of inline JavaScript and no external assets: they open from the file
system, offline.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import escape_html, format_ids, script_json
from geoattr.exceptions import InputError
from geoattr.report.calculator import CALCULATOR_JS, CalculatorInputs, calculator_html
from geoattr.report.breakdown import breakdown_sections, check_breakdown
from geoattr.report.charts import bar_chart_svg
from geoattr.report.labels import label
from geoattr.report.page import check_attractiveness, html_page, html_table_rows
from geoattr.report.profile_data import Destinations, UnitYears, commuting_destinations, unit_years
from geoattr.report.waterfall import unit_components, waterfall_svgs

__all__ = ["write_profiles", "profile_file_name", "profile_file_names"]


_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_HASHED_NAME = re.compile(r".*-[0-9a-f]{10}")
_RESERVED_NAMES = frozenset({"index", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                             *(f"lpt{i}" for i in range(10))})


def profile_file_name(unit: Any) -> str:
    """File name of a unit's profile page: distinct for distinct ids, the same on every run.

    An id made of lowercase letters, digits, ``-`` and ``_`` (at most 64 characters, not
    ``index`` nor a name Windows reserves) is its own name: ``"0301"`` -> ``"0301.html"``.
    Any other id gets a lowercase slug plus the first 10 hex digits of the SHA-1 of the
    id: ``"K 1"``, ``"K/1"`` and ``"K_1"`` give three different files.  Names are
    lowercase, so they stay distinct on case-insensitive file systems, and a plain name
    never ends like a hashed one.

    Parameters
    ----------
    unit : str
        Unit id.

    Returns
    -------
    str
        ``"<id>.html"`` or ``"<slug>-<hash>.html"``.
    """
    uid = str(unit)
    if _PLAIN_NAME.fullmatch(uid) and not _HASHED_NAME.fullmatch(uid) and uid not in _RESERVED_NAMES:
        return f"{uid}.html"
    slug = re.sub(r"[^a-z0-9_-]+", "_", uid.lower()).strip("_-")[:40] or "unit"
    digest = hashlib.sha1(uid.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}.html"


def profile_file_names(units: Any) -> dict[str, str]:
    """Unit id -> :func:`profile_file_name`, checked to be distinct.

    Parameters
    ----------
    units : iterable of str

    Returns
    -------
    dict of str to str

    Raises
    ------
    InputError
        Two ids share a file name (a hash collision, or ids that are equal as text).
    """
    names = {str(u): profile_file_name(u) for u in units}
    seen: dict[str, str] = {}
    for u, f in names.items():
        if f.lower() in seen:
            raise InputError(f"the units {seen[f.lower()]!r} and {u!r} would share the profile page {f!r}; "
                             "rename one of them")
        seen[f.lower()] = u
    return names


def _svg_series(years: list[int], mid: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None,
                *, width: int = 640, height: int = 220, label: str = "") -> str:
    """A small inline SVG line chart with a band and the zero line (no plotting library needed)."""
    pad_l, pad_r, pad_t, pad_b = 48, 22, 10, 26
    mid, lo, hi = (None if arr is None else np.asarray(arr, float).tolist() for arr in (mid, lo, hi))
    vals = [v for arr in (mid, lo, hi) if arr is not None for v in arr if math.isfinite(v)]
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
           f'aria-label="{escape_html(label)}">']
    if lo is not None and hi is not None:
        pts = [(sx(y), sy(h)) for y, h in zip(years, hi) if math.isfinite(h)]
        pts += [(sx(y), sy(lv)) for y, lv in reversed(list(zip(years, lo))) if math.isfinite(lv)]
        out.append('<polygon class="band" fill="#92c5de" fill-opacity="0.5" stroke="none" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    out.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#888" '
               'stroke-dasharray="4 3"/>')
    pts = [(sx(y), sy(v)) for y, v in zip(years, mid) if math.isfinite(v)]
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



@dataclass(frozen=True)
class _Site:
    """What every profile page of a run shares."""

    names: Mapping[Any, Any]
    shown: dict[Any, str]
    regions: pd.Series
    years: list[int]
    cum: dict[Any, float]
    rank: dict[Any, int]
    back: str
    unit_years: dict[Any, UnitYears]
    decomposition: dict[Any, str]
    destinations: dict[Any, Destinations]
    flows_year: int | None
    calculator: CalculatorInputs | None = None
    breakdown: dict[Any, str] | None = None


def _check_inputs(att: Any, intervals: Any, flows: Any, top_destinations: Any) -> None:
    check_attractiveness(att, "att")
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


def _rounded(values: Any, fallback: np.ndarray, digits: int) -> list:
    """Rounded values for the page's JSON (``None`` where missing or when ``values`` is None)."""
    if values is None:
        return [None] * len(fallback)
    return [round(v, digits) if math.isfinite(v) else None for v in np.asarray(values, float).tolist()]


def _select(options: str, first: Any, last: Any) -> tuple[str, str]:
    """The options of the "from" and "to" pickers, with the first and last year selected."""
    return (options.replace(f'value="{first}"', f'value="{first}" selected'),
            options.replace(f'value="{last}"', f'value="{last}" selected'))


def _yearly_table(rows: list[str]) -> str:
    return ('<table class="plain" id="yearly"><thead><tr><th>year</th><th>observed</th><th>expected</th>'
            '<th>attractiveness</th><th>lower</th><th>upper</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _period_section(u: Any, name: str, yrs: list[int], res: np.ndarray, lo: Any, hi: Any, site: _Site) -> list[str]:
    """Heading, cumulative attractiveness, period picker and summary, the chart."""
    opts = "".join(f'<option value="{y}">{y}</option>' for y in yrs)
    first, last = _select(opts, yrs[0], yrs[-1])
    return ['<p class="muted">'
            + (f"Region {escape_html(site.regions.get(u))}. " if u in site.regions.index else "")
            + f"Cumulative attractiveness {site.years[0]}-{site.years[-1]}: "
              f"<b>{site.cum[u]:.2f}</b> percentage points (rank {site.rank[u]} of {len(site.rank)}).</p>",
            "<h2>Attractiveness over time</h2>",
            f'<p>Period: <select id="from">{first}</select> to <select id="to">{last}</select></p>',
            '<table class="plain" id="period-summary"><tbody>'
            '<tr><th>period</th><td id="period"></td></tr>'
            '<tr><th>attractiveness (sum of yearly residuals, pp)</th><td id="period-residual"></td></tr>'
            '<tr><th>95 % interval of the sum (independent yearly errors)</th><td id="period-interval"></td></tr>'
            '<tr><th>persons (residual x population)</th><td id="period-persons"></td></tr></tbody></table>',
            _svg_series(yrs, res, lo, hi, label=f"attractiveness of {name} over time"),
            '<p class="muted">Residual net migration (% of the population, observed minus expected) each year; '
            + ("band: 95 % prediction interval." if lo is not None else "no intervals supplied.") + "</p>"]


def _destination_bars(dest: Destinations, name: str) -> str:
    """The commuting destinations as bars: share of the employed residents, "name (id)" labels."""
    labels = [f"other ({n})" if d == "other" else (f"{n} ({d})" if str(n) != str(d) else str(d))
              for d, n, _, _ in dest.rows]
    return bar_chart_svg(labels, np.array([r[3] for r in dest.rows], dtype=float), unit=" %",
                         title=f"where the employed residents of {name} work, % of them")


def _decomposition_tables(decomposition: pd.DataFrame | None) -> dict[Any, str]:
    """Each unit's table of components (readable names) and persons per year."""
    if decomposition is None:
        return {}
    return {u: html_table_rows(["component", "persons per year"], zip([label(c) for c in comps], vals), digits=1,
                               cls="plain decomposition")
            for u, (comps, vals) in unit_components(decomposition).items()}


def _unit_page(u: Any, att: pd.DataFrame, site: _Site) -> tuple[str, str]:
    """Title and body of one unit's profile page."""
    a = site.unit_years[u]
    yrs, res, lo, hi, se, persons = a.years, a.residual, a.lower, a.upper, a.se, a.persons
    name = site.shown[u]
    title = f"{name} ({u})" if name != str(u) else str(u)
    data = {"unit": str(u), "years": yrs, "residual": [round(v, 6) for v in res.tolist()],
            "residual_persons": _rounded(persons, persons, 3),
            "lower": _rounded(lo, res, 6), "upper": _rounded(hi, res, 6), "se": _rounded(se, res, 6)}
    body = [f"<nav>{site.back}<a href=\"index.html\">All units</a></nav>", f"<h1>{escape_html(title)}</h1>"]
    body += _period_section(u, name, yrs, res, lo, hi, site)
    body.append(_yearly_table(a.table_rows))
    if u in site.decomposition:
        body.append(site.decomposition[u])
    if u in site.destinations:
        dest = site.destinations[u]
        body.append(f"<h2>Where its residents work ({site.flows_year})</h2>" + _destination_bars(dest, name)
                    + html_table_rows(dest.columns, dest.rows, digits=1, cls="plain destinations"))
    if site.calculator is not None:
        body.append(calculator_html(site.calculator, str(u), names=site.names))
    if site.breakdown and u in site.breakdown:
        body.append(site.breakdown[u])
    data_json = script_json(data)
    body.append(f'<script type="application/json" id="profile-data">{data_json}</script>')
    body.append("<style>tr.selected td{background:#eef4fb}</style>")
    return title, "\n".join(body)


def _decomposition_sections(decomposition: pd.DataFrame | None, years: tuple[int, int] | None,
                            names: Mapping[Any, str]) -> dict[Any, str]:
    """Each unit's decomposition section: heading, waterfall, note and table."""
    if decomposition is None:
        return {}
    period = f" {years[0]}-{years[1]}" if years else ""
    charts = waterfall_svgs(decomposition, titles={
        u: f"population change of {names.get(u, str(u))}{period}, persons per year, by component"
        for u in set(decomposition["unit"])})
    return {u: (f"<h2>Decomposition of population change{period}</h2>" + charts[u]
                + '<p class="muted">Persons per year. Each bar starts where the one above ended; the grey bars '
                  "are the subtotals natural change and net migration; the last bar is the observed change.</p>"
                + table) for u, table in _decomposition_tables(decomposition).items()}


def _index_page(units: list[Any], site: _Site) -> str:
    """The index: a unit and period picker and the list of units by rank."""
    names, cum, years = site.shown, site.cum, site.years
    opts_u = "".join(
        f'<option value="{escape_html(profile_file_name(u))}">{escape_html(names[u])} ({escape_html(u)})</option>'
        for u in sorted(units, key=lambda x: names[x]))
    first, last = _select("".join(f'<option value="{y}">{y}</option>' for y in years), years[0], years[-1])
    listing = "".join(
        f'<tr><td>{site.rank[u]}</td><td><a href="{escape_html(profile_file_name(u))}">'
        f'{escape_html(names[u])}</a></td>'
        f'<td>{escape_html(u)}</td><td class="{"pos" if cum[u] >= 0 else "neg"}">{cum[u]:.2f}</td></tr>'
        for u in site.rank)
    return "\n".join([
        f"<nav>{site.back}</nav><h1>Unit profiles</h1>",
        f'<p>Unit <select id="unit">{opts_u}</select> from <select id="from">{first}</select> to '
        f'<select id="to">{last}</select> <button id="open">Open profile</button></p>',
        '<table class="plain" id="units"><thead><tr><th>rank</th><th>name</th><th>id</th>'
        f'<th>cumulative attractiveness {years[0]}-{years[-1]} (pp)</th></tr></thead><tbody>'
        + listing + "</tbody></table>"])


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
    calculator: CalculatorInputs | None = None,
    vra_breakdown: pd.DataFrame | None = None,
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
    calculator : CalculatorInputs, optional
        :func:`geoattr.report.calculator.calculator_inputs` output: each page gets a
        scenario calculator (a job change in the unit or one of its commuting
        destinations -> the effect on its net migration in the three years after).
    vra_breakdown : pandas.DataFrame, optional
        :func:`geoattr.vra_breakdown` output: each unit's page gets its breakdown of
        VRA by workplace, one table per year with a year picker.

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
    _check_inputs(att, intervals, flows, top_destinations)
    if calculator is not None and not isinstance(calculator, CalculatorInputs):
        raise InputError(f"calculator must be geoattr.report.calculator.calculator_inputs(...) output, "
                         f"got {type(calculator).__name__}")
    if vra_breakdown is not None:
        check_breakdown(vra_breakdown)
    names = pd.Series(names if names is not None else {}, dtype=object)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    units = list(dict.fromkeys(att.index.get_level_values("unit")))
    if intervals is not None:
        have = set(intervals.index.get_level_values(0))
        missing = [u for u in units if u not in have]
        if missing:
            raise InputError(f"intervals have no rows for {format_ids(missing)}; pass prediction_intervals of the "
                             "same fit as att")
    destinations, fyear = commuting_destinations(flows, year=flows_year, names=names, top=top_destinations)
    cum = att["residual"].groupby(level="unit", sort=False).sum()
    order = cum.sort_values(ascending=False)
    shown = {u: str(names.get(u, u)) for u in units}
    site = _Site(
        names=names.to_dict() if names.index.is_unique else names, shown=shown,  # dict: a fast names.get
        regions=pd.Series(regions if regions is not None else {}, dtype=object),
        years=sorted(set(int(y) for y in att.index.get_level_values("year"))), cum=cum.to_dict(),
        rank=dict(zip(order.index, range(1, len(order) + 1))),
        back=f'<a href="{escape_html(report)}">Report</a>' if report else "", unit_years=unit_years(att, intervals),
        decomposition=_decomposition_sections(decomposition, decomposition_years, shown),
        destinations=destinations, flows_year=fyear, calculator=calculator,
        breakdown=breakdown_sections(vra_breakdown, names=shown) if vra_breakdown is not None else None)
    files = profile_file_names(units)
    pages: dict[str, Path] = {}
    for u in units:
        title, body = _unit_page(u, att, site)
        p = out / files[str(u)]
        script = _PROFILE_JS + (CALCULATOR_JS if calculator is not None else "")
        p.write_text(html_page(f"{title}: profile", body, script=script), encoding="utf-8")
        pages[str(u)] = p
    pages["index"] = out / "index.html"
    pages["index"].write_text(html_page("Unit profiles", _index_page(units, site), script=_INDEX_JS),
                              encoding="utf-8")
    return pages
