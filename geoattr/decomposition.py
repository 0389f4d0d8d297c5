"""Decomposition of population change into births, deaths and the forces of migration.

Over a period, in persons per year (the mean over the period's years):

* ``observed``: population change ``P[t+1] - P[t]``;
* births: ``expected_births`` (national age-specific fertility applied to the unit's
  women) and ``fertility_deviation`` (actual minus expected);
* deaths (negative numbers): ``expected_deaths`` (national death probabilities applied
  to the unit's population by age and sex) and ``mortality_deviation``;
* net migration, split with the model: ``national_immigration`` (the national net
  migration rate of the year applied to the unit's population), ``centrality``,
  ``neighbour_job_growth`` and ``own_job_growth`` (the VRA terms split into the
  off-diagonal and diagonal commuting parts, or the ``nv`` and ``ra`` terms of the 2018
  specification), ``demographic_supply``, ``other`` (terms without a named force: log
  population, AMI, user regressors and the constant beyond national immigration) and
  ``attractiveness`` (the residual);
* ``discrepancy``: observed change minus births + deaths + net migration (zero when the
  data satisfy the demographic accounting identity).

The components other than ``observed`` add up to ``observed`` exactly for every unit.

Two conventions (``convention=``) for the model's intercept:

* ``"book"`` (the default, as the attractiveness model's book does it): net migration
  is explained relative to the national rate of the year, without a constant (the
  model is re-estimated so by :func:`book_form` when it was not).  National
  immigration is the national rate applied to the unit's population and nothing of
  the intercept is left over: ``other`` holds only terms without a named force.
* ``"as_estimated"``: the model as it was estimated; its constant (and year effects)
  beyond the national rate go to ``other``.

Births and deaths: with ``births`` and ``deaths`` in the panel, the expected values
come from national rates scaled to the national totals and the deviations are actual
minus expected; ``discrepancy`` is what the accounting identity leaves.  Without them
but with the population by age, births are the children aged 0 on 1 January of
``t+1`` and deaths follow from the identity (:mod:`geoattr.natural_change`), so the
discrepancy is zero.  Without either, births minus deaths stay in ``discrepancy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr.data import PanelData
from geoattr.data.checks import check_fertility_rates
from geoattr.demography import death_probabilities_of_rows, label_positions
from geoattr.exceptions import InputError
from geoattr.models.ols import AttractivenessResults, LeastSquares
from geoattr.natural_change import natural_change
from geoattr.variables import Design
from geoattr.variables import commuting_weights, own_neighbour_growth, relative_job_growth

__all__ = ["decompose", "book_form", "COMPONENTS", "CONVENTIONS"]

#: Components of :func:`decompose` besides ``observed``, in the order of its output.
COMPONENTS = (
    "expected_births",
    "fertility_deviation",
    "expected_deaths",
    "mortality_deviation",
    "national_immigration",
    "centrality",
    "neighbour_job_growth",
    "own_job_growth",
    "demographic_supply",
    "other",
    "attractiveness",
    "discrepancy",
)

#: Conventions of :func:`decompose` for the model's intercept (see the module docstring).
CONVENTIONS = ("book", "as_estimated")


@dataclass(frozen=True)
class _PopRows:
    """The population table's columns as arrays, with each row's (unit, year) position in an index's cells."""

    ui: np.ndarray
    yi: np.ndarray
    n_years: int
    female: np.ndarray
    year: np.ndarray
    age: np.ndarray
    population: np.ndarray
    want: np.ndarray  # the cell of each entry of the index


def _pop_rows(pop_by_age: pd.DataFrame, idx: pd.MultiIndex) -> _PopRows:
    units, years = idx.get_level_values("unit").unique(), idx.get_level_values("year").unique()
    want = label_positions(idx.get_level_values("unit"), units).astype(np.int64) * len(years) + \
        label_positions(idx.get_level_values("year"), years)
    return _PopRows(ui=label_positions(pop_by_age["unit"], units), yi=label_positions(pop_by_age["year"], years),
                    n_years=len(years), female=label_positions(pop_by_age["sex"], ["female"]) == 0,
                    year=pop_by_age["year"].to_numpy(), age=pop_by_age["age"].to_numpy(),
                    population=pop_by_age["population"].to_numpy(), want=want)


def _expected_vital(
    pa: _PopRows, rates: pd.DataFrame, actual: pd.Series, idx: pd.MultiIndex, *, female_only: bool
) -> pd.Series:
    """National age(-sex) rates applied to each unit, scaled to the national total each year."""
    # a row mask instead of a filtered copy of the long table; sums by (unit, year) cell of idx, integer
    # cell codes grouping the rows as the labels would, in the same order
    rows = (pa.yi >= 0) & pa.female if female_only else pa.yi >= 0
    age = pa.age[rows]
    if female_only:
        r = rates["female"] if isinstance(rates, pd.DataFrame) else rates
        rate = np.append(r.to_numpy(float), np.nan)[label_positions(age, r.index)]
        rate = np.where(np.isnan(rate), 0.0, rate)
    else:  # death probabilities: one schedule or one per year
        sex = np.where(pa.female[rows], "female", "male")
        rate = np.nan_to_num(death_probabilities_of_rows(rates, pa.year[rows], age, sex), nan=0.0)
    value = pa.population[rows] * rate
    ui, yi = pa.ui[rows], pa.yi[rows]
    ok = ui >= 0
    sums = pd.Series(value[ok]).groupby(ui[ok].astype(np.int64) * pa.n_years + yi[ok]).sum()
    raw = pd.Series(sums.reindex(pa.want).fillna(0.0).to_numpy(), index=idx)
    nat_actual = actual.groupby(level="year").sum()
    nat_raw = raw.groupby(level="year").sum()
    scale = (nat_actual / nat_raw.replace(0, np.nan)).fillna(1.0)
    return raw * scale.reindex(idx.get_level_values("year")).to_numpy()


def _national_rate(data: PanelData) -> pd.Series:
    """National net migration rate of each year, ``100 * sum NM / sum P`` over all units of the data."""
    return 100.0 * data.column("net_migration").groupby(level="year").sum() / data.column("population").groupby(
        level="year").sum()


def _book_design(d: Design, data: PanelData, *, relative: bool) -> Design:
    X = d.X.drop(columns=[c for c in d.X.columns if c == "const" or c.startswith("year_")])
    if X.shape[1] == 0:
        raise InputError(f"the book form of the model has no regressor left once the constant and year effects are "
                         f"dropped (terms {list(d.X.columns)}); use convention='as_estimated'")
    y = d.y
    if not relative:
        y = (y - _national_rate(data).reindex(y.index.get_level_values("year")).to_numpy()).rename(y.name)
    return replace(d, y=y, X=X, notes=[*d.notes, "book form: y relative to the national net migration rate of the "
                                                  "year, no constant and no year effects"])


def book_form(fit: AttractivenessResults) -> AttractivenessResults:
    """The model in the book's form: net migration relative to the national rate, no constant.

    Parameters
    ----------
    fit : AttractivenessResults
        A fitted attractiveness model with net migration as the dependent variable.

    Returns
    -------
    AttractivenessResults
        ``fit`` itself when it was estimated with ``relative_to_national=True,
        constant=False`` and without year effects; otherwise the same specification,
        years, units and estimator re-estimated with ``y`` minus the national net
        migration rate of the year and without the constant and year dummies (the
        options record ``relative_to_national=True, constant=False``).
    """
    opts = fit.options
    relative = bool(opts.get("relative_to_national", False))
    if relative and opts.get("constant", True) is False and not opts.get("year_effects", False):
        return fit
    design = _book_design(fit.design, fit.data, relative=relative)
    unit_design = design if fit.unit_design is fit.design else _book_design(fit.unit_design, fit.unit_data,
                                                                            relative=relative)
    res = LeastSquares(design, obs_weights=opts.get("obs_weights")).fit(cov_type=opts.get("cov_type", "clustered"))
    return AttractivenessResults(
        results=res, design=design, unit_design=unit_design, data=fit.data, unit_data=fit.unit_data,
        unit_level=fit.unit_level,
        options={**opts, "relative_to_national": True, "constant": False, "year_effects": False},
    )


def decompose(
    fit: AttractivenessResults,
    *,
    years: tuple[int, int] | None = None,
    convention: Literal["book", "as_estimated"] = "book",
    fertility_rates: pd.Series | pd.DataFrame | Mapping[Any, float] | None = None,
    death_probabilities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Decompose population change over a period, in persons per year.

    Parameters
    ----------
    fit : AttractivenessResults
        A fitted attractiveness model (municipality or region level; the components are
        computed for the units of ``fit.unit_design`` with the estimated coefficients).
    years : (int, int), optional
        Inclusive period; default the model's years.  Each year needs the population of
        1 January of the next year for the observed change.
    convention : {"book", "as_estimated"}, default "book"
        ``"book"``: the model in the book's form (:func:`book_form`: net migration
        relative to the national rate, no constant; re-estimated when ``fit`` is not
        in that form), so national immigration is the national rate and no constant
        is left over.  ``"as_estimated"``: ``fit`` as it is, its constant and year
        effects beyond the national rate in ``other``.
    fertility_rates : Series, DataFrame or mapping, optional
        National births per woman by age (index age; a Series, a mapping age -> rate
        or a ``female`` column);
        default the data's own ``fertility_rates``.
        With ``births`` in the panel, expected births use these rates scaled so that
        they add up to the national births of each year.  Without births in the panel
        they give the age profile of the expected births; default then the estimate of
        :func:`geoattr.natural_change.estimate_fertility_rates`.
    death_probabilities : DataFrame, optional
        National death probabilities by age and sex (default: the data's own).  With
        ``deaths`` in the panel, expected deaths are scaled to the national deaths of
        each year.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``unit, component, persons_per_year``; one component is
        ``observed`` and the others (see :data:`COMPONENTS`) add up to it.  When births
        and deaths are not in the panel they are derived from the population by age
        (:func:`geoattr.natural_change.natural_change`; ``attrs["notes"]`` says how);
        without it their components are absent and the net of natural change falls
        into ``discrepancy``.
    """
    if convention not in CONVENTIONS:
        raise InputError(f"convention must be one of {list(CONVENTIONS)}, got {convention!r}")
    if fertility_rates is not None and not isinstance(fertility_rates, pd.DataFrame):
        fertility_rates = check_fertility_rates(fertility_rates)  # a mapping age -> rate, as in [analyses]
    notes: list[str] = []
    if convention == "book":
        book = book_form(fit)
        if book is not fit:
            notes.append("the model was re-estimated in the book's form (net migration relative to the national "
                         "rate, no constant) for the decomposition")
        fit = book
    d = fit.unit_design
    data = fit.unit_data
    lo, hi = d.years if years is None else years
    if lo < d.years[0] or hi > d.years[1]:
        raise InputError(f"years {lo}-{hi} lie outside the model's years {d.years[0]}-{d.years[1]}")
    mask = (d.y.index.get_level_values("year") >= lo) & (d.y.index.get_level_values("year") <= hi)
    idx = d.y.index[mask]
    pop = d.population[mask]
    comp: dict[str, pd.Series] = {"observed": _observed_change(data, idx, pop)}
    comp.update(_migration_components(fit, mask))
    nm = data.column("net_migration").reindex(idx)
    natural = _natural_components(data, idx, comp, nm, fertility_rates=fertility_rates,
                                  death_probabilities=death_probabilities, notes=notes)
    migration = sum(comp[c] for c in ("national_immigration", "centrality", "demographic_supply",
                                      "neighbour_job_growth", "own_job_growth", "other", "attractiveness")
                    if c in comp)
    # the migration parts reproduce net migration in persons exactly
    gap = (nm - migration).abs().max()
    if gap > 1e-6 * max(1.0, float(nm.abs().max())):
        raise InputError(
            f"the migration components do not reproduce net migration (largest gap {gap:.3g} persons); "
            "the model's dependent variable must be net migration in % of population"
        )
    comp["discrepancy"] = comp["observed"] - (natural + nm)
    frame = pd.DataFrame(comp)
    per_year = frame.groupby(level="unit").mean()
    order = ["observed"] + [c for c in COMPONENTS if c in per_year.columns]
    long = per_year[order].stack().rename("persons_per_year").reset_index()
    long.columns = ["unit", "component", "persons_per_year"]
    long.attrs["notes"] = notes
    return long


def _observed_change(data: PanelData, idx: pd.MultiIndex, pop: pd.Series) -> pd.Series:
    """Population of 1 January t+1 minus that of t, on ``idx``."""
    nxt = data.column("population")
    nxt = pd.Series(nxt.to_numpy(), index=pd.MultiIndex.from_arrays(
        [nxt.index.get_level_values("unit"), nxt.index.get_level_values("year") - 1], names=["unit", "year"]))
    nxt = nxt.reindex(idx)
    if nxt.isna().any():
        bad = idx[nxt.isna().to_numpy()]
        yrs = sorted({y + 1 for y in bad.get_level_values("year")})
        raise InputError(
            f"the observed change needs the population of 1 January {yrs}, missing for {len(bad)} unit-year(s); "
            "shorten years="
        )
    return nxt - pop


def _natural_components(
    data: PanelData,
    idx: pd.MultiIndex,
    comp: dict[str, pd.Series],
    nm: pd.Series,
    *,
    fertility_rates: pd.Series | pd.DataFrame | None,
    death_probabilities: pd.DataFrame | None,
    notes: list[str],
) -> pd.Series:
    """Add expected births and deaths and their deviations to ``comp``; return births - deaths."""
    cols = data.panel.columns
    if not ("births" in cols and "deaths" in cols) and data.population_by_age is not None:
        nc = natural_change(data, idx, comp["observed"] - nm, fertility_rates=fertility_rates,
                            death_probabilities=death_probabilities)
        t = nc.table
        comp["expected_births"] = t["expected_births"]
        comp["fertility_deviation"] = t["births"] - t["expected_births"]
        comp["expected_deaths"] = -t["expected_deaths"]
        comp["mortality_deviation"] = -(t["deaths"] - t["expected_deaths"])
        notes.extend(nc.notes)
        return t["births"] - t["deaths"]
    natural = pd.Series(0.0, index=idx)
    pa: _PopRows | None = None  # the population table as arrays, built once for births and deaths
    if "births" in data.panel.columns:
        births = data.column("births").reindex(idx)
        rates = fertility_rates if fertility_rates is not None else data.fertility_rates
        if rates is None:
            raise InputError("births are in the panel: pass fertility_rates= (national births per woman by age) "
                             "here or to PanelData(...)")
        if data.population_by_age is None:
            raise InputError("expected births need population_by_age in the PanelData")
        pa = pa if pa is not None else _pop_rows(data.population_by_age, idx)
        eb = _expected_vital(pa, rates, births, idx, female_only=True)
        comp["expected_births"] = eb
        comp["fertility_deviation"] = births - eb
        natural = natural + births
    if "deaths" in data.panel.columns:
        deaths = data.column("deaths").reindex(idx)
        q = next((x for x in (death_probabilities, data.death_probabilities_by_year, data.death_probabilities)
                  if x is not None), None)
        if q is None or data.population_by_age is None:
            raise InputError("expected deaths need death_probabilities and population_by_age in the PanelData")
        pa = pa if pa is not None else _pop_rows(data.population_by_age, idx)
        ed = _expected_vital(pa, q, deaths, idx, female_only=False)
        comp["expected_deaths"] = -ed
        comp["mortality_deviation"] = -(deaths - ed)
        natural = natural - deaths
    return natural


def _migration_components(fit: AttractivenessResults, mask: np.ndarray) -> dict[str, pd.Series]:
    """Net migration in persons split by the model's terms (and the residual, attractiveness)."""
    d, data, params = fit.unit_design, fit.unit_data, fit.results.params
    idx = d.y.index[mask]
    X = d.X[mask]
    persons = d.population[mask] / 100.0
    comp: dict[str, pd.Series] = {}
    nat = _national_rate(data)  # all units of the data
    nat_rate = pd.Series(nat.reindex(idx.get_level_values("year")).to_numpy(), index=idx)
    fitted = X[params.index.intersection(X.columns)] @ params[params.index.intersection(X.columns)]
    intercept = pd.Series(0.0, index=idx)
    for t in params.index:
        if t == "const" or t.startswith("year_"):
            intercept = intercept + params[t] * X[t]
    comp["national_immigration"] = nat_rate * persons
    other = (intercept - nat_rate)
    named = {"centrality": "centrality", "ds": "demographic_supply"}
    for t, c in named.items():
        if t in params.index:
            comp[c] = params[t] * X[t] * persons
    own, nb, vra_terms = _job_growth_parts(fit, X, idx)
    handled = set(named) | set(vra_terms) | {t for t in params.index if t.startswith(("ra", "nv", "year_"))} | {"const"}
    for t in params.index:
        if t not in handled and t in X.columns:
            other = other + params[t] * X[t]
    comp["neighbour_job_growth"] = nb * persons
    comp["own_job_growth"] = own * persons
    comp["other"] = other * persons
    comp["attractiveness"] = (d.y[mask] - fitted) * persons
    if "relative_to_national" in fit.options and fit.options["relative_to_national"]:
        # y was expressed relative to the national rate: add it back so the parts sum to NM
        comp["other"] = comp["other"] + nat_rate * persons
    return comp


def _job_growth_parts(
    fit: AttractivenessResults, X: pd.DataFrame, idx: pd.MultiIndex
) -> tuple[pd.Series, pd.Series, list[str]]:
    """The own and the neighbours' job growth terms (in % of population), and the VRA terms."""
    d, data, params = fit.unit_design, fit.unit_data, fit.results.params
    own = pd.Series(0.0, index=idx)
    nb = pd.Series(0.0, index=idx)
    vra_terms = [t for t in params.index if t.startswith("vra")]
    if vra_terms:
        max_lag = max(int(t.split("_l")[1]) if "_l" in t else 0 for t in vra_terms)
        ra = relative_job_growth(data.column("jobs"))
        cw = commuting_weights(data, range(d.years[0] - max_lag, d.years[1] + 1),
                               commuting_year=fit.options.get("commuting_year", "same"),
                               min_share=fit.options.get("min_share", 0.0), top_k=fit.options.get("top_k"),
                               include_diagonal=fit.options.get("include_diagonal", True), as_graph=False)
        parts = own_neighbour_growth(ra, cw, years=d.years, lags=range(max_lag + 1), renormalise=False).reindex(idx)
        for t in vra_terms:
            sfx = t[3:]
            own = own + params[t] * parts["own" + sfx]
            nb = nb + params[t] * parts["nv" + sfx]
    for t in params.index:
        if t.startswith("ra"):
            own = own + params[t] * X[t]
        elif t.startswith("nv"):
            nb = nb + params[t] * X[t]
    return own, nb, vra_terms
