"""The scenario calculator of the profile pages: what if jobs change at a workplace?

A reader of unit *i*'s profile page types a change in jobs (``+100``, ``-300``) in *i*
or in one of the places its employed residents commute to, and the page shows the
projected effect on *i*'s net migration in the three years that follow, computed in
the page by a few lines of inline JavaScript from exported numbers (no server)::

    shock_j  = 100 * delta_jobs / jobs_j                    (percentage points)
    national = 100 * delta_jobs / national_jobs             (0 without a national total)
    effect_k = b_k / 100 * population_i * (share_ij * shock_j - national)   (persons), k = 1, 2, 3

``shock_j`` is the change of *j*'s relative job growth in the year of the change and
``national`` that of the national growth it is measured against (every unit's shares
sum to 1, so it reaches every unit once); ``share_ij * shock_j - national`` is the
change of *i*'s VRA; ``b_1, b_2, b_3`` are the
coefficients of VRA at lags 0, 1 and 2 (``vra``, ``vra_l1``, ``vra_l2``: net migration
in % of the population per percentage point of VRA), so the change reaches net
migration in the year of the change and the two years after it.  A unit where everyone
works locally (``share_ii = 1``) with as many residents as jobs gets ``b_k * delta_jobs``
persons in year *k*: with the book's coefficients 0.38, 0.26 and 0.18, 100 jobs give
38 + 26 + 18 = 82 persons.  It is the first-order effect: the national total (the
reference of relative growth), the population and the commuting shares are held at the
base year.  The arithmetic is :func:`geoattr.forecast.scenario.job_change_effect`, the
formula of the forecast's scenarios: with the inputs of a forecast
(:func:`calculator_from_forecast`) the page gives the projection's effect in the year of
the change.

:func:`calculator_inputs` checks and bundles the numbers, :func:`scenario_effect` is the
Python reference of the page's arithmetic, :func:`calculator_html` writes a page's
calculator and :data:`CALCULATOR_JS` is its script.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import escape_html, format_ids, script_json
from geoattr._validation import require_columns, require_finite, require_no_missing, require_numeric, require_unique
from geoattr.exceptions import InputError
from geoattr.forecast import ForecastResults
from geoattr.forecast.scenario import job_change_effect
from geoattr.models.vra_sum import VRA_TERMS
from geoattr.report.labels import label

__all__ = ["CALCULATOR_TERMS", "CALCULATOR_JS", "CalculatorInputs", "calculator_inputs", "calculator_from_forecast",
           "shares_of_weights", "scenario_effect", "calculator_data", "calculator_html"]

#: The model terms whose coefficients the calculator uses: VRA at lags 0, 1 and 2.
CALCULATOR_TERMS: tuple[str, ...] = ("vra", "vra_l1", "vra_l2")
#: Tolerance of the check that each unit's commuting shares sum to 1.
SHARE_TOLERANCE = 1e-6
_EFFECT_INDEX = pd.Index(["year 1", "year 2", "year 3", "total"], name="effect")


@dataclass(frozen=True, eq=False)
class CalculatorInputs:
    """The checked numbers of the scenario calculator (build with :func:`calculator_inputs`).

    Attributes
    ----------
    coefficients : tuple of float
        ``b_1, b_2, b_3``: the coefficients of ``vra``, ``vra_l1`` and ``vra_l2``.
    shares : pandas.DataFrame
        ``unit``, ``destination``, ``share`` (text ids; each unit's shares sum to 1).
    jobs : pandas.Series
        Jobs by workplace in the base year, indexed by destination id.
    population : pandas.Series
        Population of each unit in the base year, indexed by unit id.
    year : int or None
        The base year (shown on the page).
    workplaces : dict of str to tuple
        Unit -> its ``(destination, share)`` pairs: the unit itself first (when it has
        jobs, whatever its share), then the other destinations with a positive share,
        largest first (ties: by id).
    national_jobs : float or None
        The national job total of the base year (the reference of relative growth);
        None leaves the national term out.
    """

    coefficients: tuple[float, float, float]
    shares: pd.DataFrame
    jobs: pd.Series
    population: pd.Series
    year: int | None
    workplaces: dict[str, tuple[tuple[str, float], ...]]
    national_jobs: float | None = None


def _coefficients(coefficients: Any) -> tuple[float, float, float]:
    if not isinstance(coefficients, (Mapping, pd.Series)):
        raise InputError(f"coefficients must be a mapping or Series with the keys {list(CALCULATOR_TERMS)} "
                         f"(e.g. a fit's params), got {type(coefficients).__name__}")
    missing = [t for t in CALCULATOR_TERMS if t not in coefficients.keys()]
    if missing:
        raise InputError(f"coefficients lack the term(s) {missing}; the calculator needs {list(CALCULATOR_TERMS)} "
                         "(the 2022 or 2019 specification's VRA at lags 0, 1, 2)")
    values = []
    for t in CALCULATOR_TERMS:
        try:
            v = float(coefficients[t])
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            raise InputError(f"coefficient {t!r} must be a finite number, got {coefficients[t]!r}")
        values.append(v)
    return values[0], values[1], values[2]


def _by_id(values: Any, what: str, ids: Any) -> pd.Series:
    """``values`` as a float Series by text id, positive and finite for every id of ``ids``."""
    if not isinstance(values, (Mapping, pd.Series)):
        raise InputError(f"{what} must be a mapping or Series by unit id, got {type(values).__name__}")
    s = pd.Series(dict(values) if isinstance(values, Mapping) else values, dtype=object)
    s.index = s.index.map(str)
    s = pd.to_numeric(s, errors="coerce").astype(float)
    if s.index.has_duplicates:
        raise InputError(f"{what} has duplicate ids {format_ids(s.index[s.index.duplicated()].unique())}")
    need = list(dict.fromkeys(ids))
    missing = [i for i in need if i not in s.index]
    if missing:
        raise InputError(f"{what} has no value for {len(missing)} id(s): {format_ids(missing)}; "
                         f"pass {what} of every unit in the commuting shares")
    bad = [i for i in need if not (np.isfinite(s[i]) and s[i] > 0)]
    if bad:
        raise InputError(f"{what} must be positive and finite; not so for {format_ids(bad)} "
                         f"(values {[s[i] for i in bad[:5]]})")
    return s


def shares_of_weights(weights: Any) -> pd.DataFrame:
    """The long commuting-share table of a weights object (rows with no flows left out).

    Parameters
    ----------
    weights : libpysal.graph.Graph or geoattr.weights.SparseWeights
        Row-stochastic commuting weights with the diagonal, e.g.
        ``geoattr.weights.commuting(flows, year=2023)``: anything with ``unique_ids``
        and a ``sparse`` matrix.

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``destination``, ``share`` (positive shares only).  A unit without
        flows (an isolate: an empty row, or a zero self-weight in a ``Graph``) has no
        rows, so its profile page says it has no calculator.

    Raises
    ------
    InputError
        ``weights`` has no ``unique_ids`` and ``sparse`` matrix.
    """
    if not (hasattr(weights, "unique_ids") and hasattr(weights, "sparse")):
        raise InputError(f"shares_of_weights needs commuting weights (a Graph or SparseWeights), "
                         f"got {type(weights).__name__}")
    ids = pd.Index(weights.unique_ids).map(str)
    m = weights.sparse.tocoo()
    keep = m.data > 0
    return pd.DataFrame({"unit": np.asarray(ids)[m.row[keep]], "destination": np.asarray(ids)[m.col[keep]],
                         "share": m.data[keep].astype(float)})


def calculator_inputs(
    *,
    coefficients: Mapping[str, float] | pd.Series,
    shares: pd.DataFrame | Any,
    jobs: Mapping[Any, float] | pd.Series,
    population: Mapping[Any, float] | pd.Series,
    year: int | None = None,
    national_jobs: float | None = None,
) -> CalculatorInputs:
    """Check and bundle the numbers of the scenario calculator.

    Parameters
    ----------
    coefficients : mapping or pandas.Series
        Model coefficients with the keys ``vra``, ``vra_l1`` and ``vra_l2`` (net
        migration in % of the population per percentage point of VRA); other keys are
        ignored, so a fit's ``params`` can be passed as it is.
    shares : pandas.DataFrame or commuting weights
        Long table ``unit``, ``destination``, ``share``: the share of the unit's employed
        residents who work in the destination; each unit's shares, its own included,
        sum to 1.  Commuting weights with the diagonal (a ``Graph`` or
        ``SparseWeights``) are read by :func:`shares_of_weights`.
    jobs : mapping or pandas.Series
        Jobs by workplace in the base year, by destination id (every destination of
        ``shares``).
    population : mapping or pandas.Series
        Population of each unit of ``shares`` in the base year.
    year : int, optional
        The base year, shown on the page.
    national_jobs : float, optional
        The national job total of the base year: a job change also moves the national
        growth every unit's relative growth is measured against (as in the
        forecast's scenarios).  Default None: that term is left out (a workplace small
        against the country).

    Returns
    -------
    CalculatorInputs
        What the page's calculator reads, unit by unit (:func:`calculator_data`).

    Raises
    ------
    InputError
        A missing coefficient or column (named); missing, non-numeric, negative or
        duplicated shares; a unit whose shares do not sum to 1 (units and sums named);
        a destination without positive jobs or a unit without positive population;
        a national total that is not a positive number.
    """
    coef = _coefficients(coefficients)
    if national_jobs is not None:
        try:
            national = float(national_jobs)
        except (TypeError, ValueError):
            national = math.nan
        if not (math.isfinite(national) and national > 0):
            raise InputError(f"national_jobs must be a positive number (the national job total), got {national_jobs!r}")
        national_jobs = national
    if hasattr(shares, "unique_ids") and hasattr(shares, "sparse"):
        shares = shares_of_weights(shares)
    if not isinstance(shares, pd.DataFrame):
        raise InputError(f"shares must be a DataFrame with columns unit, destination, share, got {type(shares).__name__}")
    require_columns(shares, ["unit", "destination", "share"], table="shares",
                    hint="one row per unit and workplace with the share of the unit's employed residents")
    sh = shares[["unit", "destination", "share"]].reset_index(drop=True).copy()
    require_no_missing(sh, ["unit", "destination", "share"], table="shares")
    require_numeric(sh, ["share"], table="shares")
    sh["share"] = pd.to_numeric(sh["share"]).astype(float)
    require_finite(sh, ["share"], table="shares")
    sh["unit"], sh["destination"] = sh["unit"].astype(str), sh["destination"].astype(str)
    require_unique(sh, ["unit", "destination"], table="shares")
    bad = sh.index[(sh["share"] < 0) | (sh["share"] > 1)]
    if len(bad):
        raise InputError(f"shares must lie in [0, 1]; rows {format_ids(list(bad))} do not")
    sums = sh.groupby("unit", sort=False)["share"].sum()
    off = sums[(sums - 1).abs() > SHARE_TOLERANCE]
    if len(off):
        raise InputError(f"the shares of {len(off)} unit(s) do not sum to 1 (own unit included): "
                         + ", ".join(f"{u!r}: {v:.6g}" for u, v in off.head(10).items())
                         + "; divide each unit's flows by its employed residents")
    jobs_by_id = _by_id(jobs, "jobs", sh["destination"])
    return CalculatorInputs(coefficients=coef, shares=sh, jobs=jobs_by_id,
                            population=_by_id(population, "population", sh["unit"]),
                            year=None if year is None else int(year), workplaces=_workplaces(sh, jobs_by_id),
                            national_jobs=national_jobs)


def calculator_from_forecast(results: ForecastResults) -> CalculatorInputs:
    """The calculator's inputs of a forecast: its coefficients, commuting shares, jobs, population and national total.

    The base year is the forecast's last observed year (jobs) and launch population,
    so each page's first-year effect equals the projection's scenario effect in the
    first projected year (:func:`geoattr.forecast.scenario.job_change_effect`).  A term
    the model lacks (e.g. ``vra_l2``) has coefficient 0.

    Parameters
    ----------
    results : ForecastResults
        :func:`geoattr.forecast` output.

    Returns
    -------
    CalculatorInputs
        The forecast's coefficients, commuting shares, jobs and population.

    Raises
    ------
    InputError
        Not a ForecastResults; shares, jobs or population the calculator refuses
        (:func:`calculator_inputs`).
    """
    if not isinstance(results, ForecastResults):
        raise InputError(f"calculator_from_forecast needs geoattr.forecast(...) output, got {type(results).__name__}")
    c = results.calculator_inputs()
    coef = {t: float(results.coefficients.get(t, 0.0)) for t in CALCULATOR_TERMS}
    return calculator_inputs(coefficients=coef, shares=c["shares"], jobs=c["jobs"], population=c["population"],
                             year=c["year"], national_jobs=c["national_jobs"])


def _workplaces(shares: pd.DataFrame, jobs: pd.Series) -> dict[str, tuple[tuple[str, float], ...]]:
    """Unit -> ``(destination, share)``: the unit first (when it has jobs), then by share, largest first."""
    pairs: dict[str, list[tuple[str, float]]] = {}
    for u, d, w in zip(shares["unit"], shares["destination"], shares["share"]):
        pairs.setdefault(u, []).append((d, float(w)))
    out = {}
    for u, rows in pairs.items():
        own = [(u, sum(w for d, w in rows if d == u))] if u in jobs.index else []
        others = sorted(((d, w) for d, w in rows if d != u and w > 0), key=lambda x: (-x[1], x[0]))
        out[u] = tuple(own + others)
    return out


def scenario_effect(inputs: CalculatorInputs, *, unit: str, destination: str, jobs_change: float) -> pd.Series:
    """The calculator's arithmetic in Python: the effect of a job change on a unit's net migration.

    ``shock = 100 * jobs_change / jobs[destination]`` percentage points,
    ``national = 100 * jobs_change / national_jobs`` (0 without a national total) and
    ``effect_k = b_k / 100 * population[unit] * (share[unit, destination] * shock - national)``:
    :func:`geoattr.forecast.scenario.job_change_effect`, the formula of the forecast's
    scenarios.

    Parameters
    ----------
    inputs : CalculatorInputs
    unit : str
        The unit whose net migration changes.
    destination : str
        The workplace where the jobs change (``unit`` itself for a local change); a
        destination where none of the unit's residents work gives zero.
    jobs_change : float
        Jobs added (negative: lost).

    Returns
    -------
    pandas.Series
        Persons, indexed ``year 1``, ``year 2``, ``year 3`` and ``total``.

    Raises
    ------
    InputError
        An unknown unit or a destination without jobs; a non-finite change.
    """
    unit, destination = str(unit), str(destination)
    if unit not in inputs.workplaces:
        raise InputError(f"unit {unit!r} is not in the calculator's commuting shares")
    if destination not in inputs.jobs.index:
        raise InputError(f"destination {destination!r} has no jobs in the calculator's inputs")
    if not math.isfinite(float(jobs_change)):
        raise InputError(f"jobs_change must be a finite number, got {jobs_change!r}")
    share = dict(inputs.workplaces[unit]).get(destination, 0.0)
    effects = job_change_effect(inputs.coefficients, change=float(jobs_change), jobs=float(inputs.jobs[destination]),
                                population=float(inputs.population[unit]), share=share,
                                national_jobs=inputs.national_jobs)
    return pd.Series([*effects.tolist(), float(effects.sum())], index=_EFFECT_INDEX, name="persons")


def calculator_data(inputs: CalculatorInputs, unit: str, *, names: Mapping[Any, str] | pd.Series | None = None
                    ) -> dict[str, Any] | None:
    """The numbers a profile page's calculator needs, as JSON-ready data.

    Parameters
    ----------
    inputs : CalculatorInputs
    unit : str
    names : mapping or pandas.Series, optional
        Unit id -> name.

    Returns
    -------
    dict or None
        ``unit``, ``name``, ``population``, ``coefficients`` ``[b_1, b_2, b_3]``, ``year``,
        ``national_jobs`` (None: no national term) and ``destinations`` (``id``, ``name``,
        ``share``, ``jobs``; the unit first, then by share); None for a unit without commuting shares.
    """
    unit = str(unit)
    if unit not in inputs.workplaces:
        return None
    nm = names if names is not None else {}
    return {"unit": unit, "name": str(nm.get(unit, unit)), "population": float(inputs.population[unit]),
            "coefficients": list(inputs.coefficients), "year": inputs.year, "national_jobs": inputs.national_jobs,
            "destinations": [{"id": d, "name": str(nm.get(d, d)), "share": float(s), "jobs": float(inputs.jobs[d])}
                             for d, s in inputs.workplaces[unit]]}


#: The calculator's script (inline, runs after the page; does nothing on a page without one).
CALCULATOR_JS = """
(function(){
  const el=document.getElementById('calculator-data'); if(!el){return;}
  const C=JSON.parse(el.textContent);
  const jobs=document.getElementById('calc-jobs'), dest=document.getElementById('calc-destination');
  const cells=[1,2,3].map(k=>document.getElementById('calc-y'+k));
  const total=document.getElementById('calc-total'), shock=document.getElementById('calc-shock');
  function fmt(v){const t=v.toFixed(1); return t==='-0.0'?'0.0':t;}
  function update(){
    const d=C.destinations[+dest.value], dj=parseFloat(jobs.value);
    if(!d||!isFinite(dj)){cells.forEach(c=>{c.textContent='';}); total.textContent=''; shock.textContent='';
      return;}
    const s=100*dj/d.jobs, nat=C.national_jobs?100*dj/C.national_jobs:0; let sum=0;
    const v=d.share*s-nat;
    const base=v*C.population/100;
    C.coefficients.forEach((b,k)=>{const e=b*base; sum+=e; cells[k].textContent=fmt(e);
      cells[k].dataset.value=e;});
    total.textContent=fmt(sum); total.dataset.value=sum;
    shock.textContent=s.toFixed(4)+' percentage points (share '+(100*d.share).toFixed(2)+' %)';
  }
  jobs.addEventListener('input',update); dest.addEventListener('change',update); update();
})();
"""


def calculator_html(inputs: CalculatorInputs, unit: str, *, names: Mapping[Any, str] | pd.Series | None = None,
                    jobs_change: float = 100) -> str:
    """The calculator block of a unit's profile page (run by :data:`CALCULATOR_JS`).

    Parameters
    ----------
    inputs : CalculatorInputs
    unit : str
    names : mapping or pandas.Series, optional
        Unit id -> name (escaped here).
    jobs_change : float, default 100
        The change shown when the page opens.

    Returns
    -------
    str
        HTML: the job-change input (``#calc-jobs``), the workplace picker
        (``#calc-destination``), the effects (``#calc-y1``... ``#calc-total``), the
        formula and the data (``<script type="application/json" id="calculator-data">``).
        A short note for a unit without commuting shares.
    """
    data = calculator_data(inputs, unit, names=names)
    head = '<h2 id="calculator">Scenario calculator: what if jobs change?</h2>'
    if data is None or not data["destinations"]:
        return head + '<p class="muted">No commuting shares for this unit: no scenario calculator.</p>'
    name = escape_html(data["name"])
    opts = "".join(f'<option value="{i}">{escape_html(d["name"])} ({escape_html(d["id"])}): '
                   f'{100 * d["share"]:.1f} % of the employed residents</option>'
                   for i, d in enumerate(data["destinations"]))
    b1, b2, b3 = (f"{b:.4g}" for b in data["coefficients"])
    year = f" ({data['year']})" if data["year"] is not None else ""
    nat = data["national_jobs"]
    national = "" if nat is None else " &minus; 100 &times; &Delta;jobs / national jobs"
    national_text = "" if nat is None else (f", national jobs {nat:,.0f} (the job change also raises the national "
                                            "growth every place's relative growth is measured against)")
    rows = "".join(f'<tr><td>year {k} ({escape_html(label(term))})</td><td id="calc-y{k}"></td></tr>'
                   for k, term in zip((1, 2, 3), VRA_TERMS))
    return "".join([
        head,
        f'<p>Change in jobs <input type="number" id="calc-jobs" value="{jobs_change:g}" step="1" size="8"> at '
        f'<select id="calc-destination">{opts}</select></p>',
        f'<table class="plain" id="calc-result"><thead><tr><th>year after the change</th>'
        f"<th>effect on the net migration of {name} (persons)</th></tr></thead><tbody>{rows}"
        '<tr><th>total</th><td id="calc-total"></td></tr></tbody></table>',
        '<p class="muted">Shock to the workplace\'s relative job growth: <span id="calc-shock"></span>.</p>',
        '<p class="muted">effect<sub>k</sub> = b<sub>k</sub> / 100 &times; population<sub>i</sub> &times; '
        f"(share<sub>ij</sub> &times; shock<sub>j</sub>{national}), with shock<sub>j</sub> = 100 &times; &Delta;jobs / "
        f"jobs<sub>j</sub> (percentage points of relative job growth){national_text} and b<sub>1</sub>, b<sub>2</sub>, "
        f"b<sub>3</sub> = {b1}, {b2}, {b3}: the model's coefficients of VRA at lags 0, 1 and 2. "
        f"Population{year} {data['population']:,.0f}; share<sub>ij</sub>: the share of the unit's employed "
        "residents who work in the chosen place; jobs<sub>j</sub>: its jobs. A first-order effect: population, "
        "commuting shares and the national job total stay at the base year.</p>",
        f'<script type="application/json" id="calculator-data">{script_json(data)}</script>',
    ])
