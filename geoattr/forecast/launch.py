"""The state a projection starts from: the fitted model, the last observed year and the rules.

:func:`build_launch` collects, from a fitted attractiveness model, everything the
projection needs as arrays on the units of the model's data (the municipalities):
the coefficients and their covariance, the regressors held constant, the last two
observed years of VRA (the lags of the first projected years), the commuting matrix
that carries future job growth into VRA, the launch population (total and by age
and sex), the cohort-component rates, the migration age profile and the
attractiveness of every unit with its uncertainty.  Every choice it makes is
written to ``rules`` (they go to ``run.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from geoattr import weights as gw
from geoattr._format import format_ids
from geoattr.analysis import shrunken_attractiveness
from geoattr.demography import label_positions
from geoattr.attractiveness import attractiveness as unit_attractiveness
from geoattr.exceptions import InputError
from geoattr.forecast.cohort import Cohort, migration_shares
from geoattr.forecast.profile import migration_profile, vital_factors
from geoattr.forecast.vitals import NationalVitals, national_vitals
from geoattr.models.ols import AttractivenessResults
from geoattr.variables import commuting_weights, demographic_supply_factors

__all__ = ["ATTRACTIVENESS_MODES", "Launch", "build_launch", "VRA_TERMS"]

#: How a unit's attractiveness is carried forward.
ATTRACTIVENESS_MODES = ("zero", "mean", "shrunken")
#: The commuting-weighted job growth terms and their lags.
VRA_TERMS = {"vra": 0, "vra_l1": 1, "vra_l2": 2}
_UNSUPPORTED = ("ra", "ra_l1", "ra_l2", "nv", "nv_l1", "nv_l2", "ami")


@dataclass(frozen=True)
class Launch:
    """Arrays on the units (``N``) and terms (``K``) of a projection; see :func:`build_launch`."""

    units: pd.Index
    first_year: int
    terms: list[str]
    theta: np.ndarray
    cov: np.ndarray
    fixed: np.ndarray
    vra_observed: np.ndarray
    weights: sparse.csr_matrix
    weights_year: int
    jobs: pd.DataFrame
    population: np.ndarray
    age: np.ndarray | None
    cohort: Cohort | None
    natural_rate: np.ndarray
    att_mean: np.ndarray
    att_sd: np.ndarray
    noise_sd: np.ndarray
    year_sd: float
    ds_inputs: dict[str, Any] | None
    rules: list[str] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        """Number of units."""
        return len(self.units)

    def term_index(self, term: str) -> int | None:
        """Position of ``term`` among the coefficients (None when the model has no such term)."""
        return self.terms.index(term) if term in self.terms else None


def _check_fit(fit: AttractivenessResults) -> None:
    if not isinstance(fit, AttractivenessResults):
        raise TypeError(f"fit must come from geoattr.estimate (AttractivenessResults), got {type(fit).__name__}")
    bad = [t for t in fit.results.params.index if t in _UNSUPPORTED]
    if bad:
        raise InputError(f"forecasts need the commuting-weighted specifications ('2022', '2019' or terms vra, vra_l1, "
                         f"vra_l2, centrality, ds and panel columns); the model has {bad}: set [model] spec = "
                         "\"2022\" or \"2019\"")
    if fit.options.get("relative_to_national"):
        raise InputError("forecasts need y in % of the population, not relative to the national rate: set [model] "
                         "relative_to_national = false")


def _fixed_terms(fit: AttractivenessResults, units: pd.Index, last: int, rules: list[str]) -> np.ndarray:
    """Values of the terms that do not move with job growth or the population by age, held at the last year."""
    X = fit.unit_design.X
    terms = list(fit.results.params.index)
    n_years = fit.unit_design.years[1] - fit.unit_design.years[0] + 1
    at_last = X.xs(last, level="year").reindex(units)
    fixed = np.zeros((len(units), len(terms)))
    held = []
    for k, t in enumerate(terms):
        if t in VRA_TERMS or t == "ds":
            continue
        if t.startswith("year_"):
            fixed[:, k] = 1.0 / n_years
            continue
        col = at_last[t]
        if col.isna().any():
            raise InputError(f"the term {t!r} is missing in {last} (the last year of the fit) for "
                             f"{format_ids(units[col.isna().to_numpy()])}; forecasts start from the last year's values")
        fixed[:, k] = col.to_numpy(float)
        if t not in ("const", "centrality"):
            held.append(t)
    if any(t.startswith("year_") for t in terms):
        rules.append("year effects: every projected year gets the mean of the estimated year effects (the "
                     "reference year counting as 0)")
    if held:
        rules.append(f"the regressors {held} are held at their {last} values")
    rules.append("centrality is held at its value")
    return fixed


def _vra_observed(fit: AttractivenessResults, units: pd.Index, last: int) -> np.ndarray:
    """VRA of the last two observed years (columns last - 1, last): the lags of the first projected years."""
    X = fit.unit_design.X
    out = np.zeros((len(units), 2))
    if "vra" not in X.columns:
        return out
    for j, yr in enumerate((last - 1, last)):
        v = X["vra"].xs(yr, level="year").reindex(units) if yr in X.index.get_level_values("year") else None
        if v is None or v.isna().any():
            raise InputError(f"VRA of {yr} is needed for the lags of the first projected years; the fit lacks it "
                             "(widen [data] years so the fit covers the last two years)")
        out[:, j] = v.to_numpy(float)
    return out


def _weights(fit: AttractivenessResults, units: pd.Index, last: int, rules: list[str]) -> tuple[sparse.csr_matrix, int]:
    o = fit.options
    cw = commuting_weights(fit.unit_data, [last], commuting_year=o.get("commuting_year", "same"),
                           min_share=o.get("min_share", 0.0), top_k=o.get("top_k"),
                           include_diagonal=o.get("include_diagonal", True), as_graph=False)
    used = int(cw.substitutions.get(last, last))
    rules.append(f"future job growth reaches VRA through the commuting matrix of {used} (the matrix of the last "
                 f"observed year {last}, or the nearest available), held fixed over the projection")
    return gw.as_sparse(cw[last], units).tocsr(), used


def _launch_population(fit: AttractivenessResults, units: pd.Index, first: int, rules: list[str]) -> np.ndarray:
    panel = fit.unit_data.panel
    pop = panel["population"]
    if first in pop.index.get_level_values("year"):
        p = pop.xs(first, level="year").reindex(units)
        if not p.isna().any():
            rules.append(f"launch population: the observed population on 1 January {first}")
            return p.to_numpy(float)
    pa = fit.unit_data.population_by_age
    if pa is not None and first in set(pa["year"]):
        p = pa[pa["year"] == first].groupby("unit")["population"].sum().reindex(units)
        if not p.isna().any():
            rules.append(f"launch population: the observed population on 1 January {first} (population by age)")
            return p.to_numpy(float)
    last = first - 1
    prev = panel.xs(last, level="year").reindex(units)
    natural = (prev["births"] - prev["deaths"]).fillna(0.0) if {"births", "deaths"} <= set(panel.columns) else 0.0
    p = prev["population"] + prev["net_migration"] + natural
    if p.isna().any():
        raise InputError(f"no population on 1 January {first} and none to derive it from for "
                         f"{format_ids(units[p.isna().to_numpy()])}")
    rules.append(f"launch population: 1 January {first} is not observed; population {last} + net migration {last}"
                 + (" + births - deaths" if isinstance(natural, pd.Series) else " (births and deaths not in the "
                                                                                "data: natural increase taken as 0)"))
    return p.to_numpy(float)


def _year_array(sub: pd.DataFrame, units: pd.Index, top: int) -> np.ndarray:
    """One year's population by age ``(N, 2, A)``, NaN where a cell has no row.

    The rows are unique by (unit, sex, age) (a PanelData checks it), so each cell is one row's value."""
    ui, si = label_positions(sub["unit"], units), label_positions(sub["sex"], ["female", "male"])
    age = sub["age"].to_numpy().astype(int)
    ok = (ui >= 0) & (si >= 0) & (age >= 0) & (age <= top)
    arr = np.full((len(units), 2, top + 1), np.nan)
    arr[ui[ok], si[ok], age[ok]] = sub["population"].to_numpy(float)[ok]
    return arr


def _age_table(fit: AttractivenessResults, units: pd.Index, first: int, population: np.ndarray,
               vitals: NationalVitals | None, rules: list[str]) -> np.ndarray | None:
    """Launch population by sex and age ``(N, 2, A)``, scaled to the launch totals; None without age data."""
    data = fit.unit_data
    pa = data.population_by_age
    if pa is None or vitals is None:
        missing = [n for n in ("population_by_age", "death_probabilities", "fertility_rates")
                   if getattr(data, n) is None]
        if pa is not None and "fertility_rates" in missing:  # estimated from the population by age
            missing.remove("fertility_rates")
        rules.append(f"population projected in total, not by age (the data lack {missing}): population[t+1] = "
                     "population[t] x (1 + natural rate) + net migration[t], natural rate = the unit's mean "
                     "(births - deaths) / population of its last five years (0 without births and deaths)")
        return None
    years = sorted(y for y in pa["year"].unique() if y <= first)
    if not years:
        raise InputError(f"population_by_age has no year up to the launch year {first}")
    yr = int(years[-1])
    top = int(pa["age"].max())
    arr = _year_array(pa[pa["year"] == yr], units, top)
    if np.isnan(arr).all(axis=(1, 2)).any():
        absent = units[np.isnan(arr).all(axis=(1, 2))]
        raise InputError(f"population_by_age of {yr} lacks the unit(s) {format_ids(absent)}")
    arr = np.nan_to_num(arr)
    tot = arr.sum(axis=(1, 2))
    arr = arr * np.where(tot > 0, population / np.where(tot > 0, tot, 1.0), 0.0)[:, None, None]
    rules.append(f"launch population by age and sex: population_by_age of {yr}"
                 + ("" if yr == first else f" (the latest before {first})")
                 + ", scaled to each unit's launch total")
    return arr


def _cohort(fit: AttractivenessResults, units: pd.Index, age: np.ndarray, last: int, vitals: NationalVitals,
            rules: list[str]) -> Cohort:
    data = fit.unit_data
    A = age.shape[2]
    q = vitals.death_probabilities[["female", "male"]].reindex(range(A)).ffill().bfill().to_numpy(float).T
    f = vitals.fertility_rates.reindex(range(A)).fillna(0.0).to_numpy(float)
    kb, kd = vital_factors(data, units, f, q, last=last, rules=rules)
    groups, group_of_age, sexes = migration_profile(data, units, fit.unit_design.years, age_max=A - 1, rules=rules)
    shares = migration_shares(groups, group_of_age, sexes, age)
    rules.append("cohort component: the population on 1 January is aged one year; deaths = population x national "
                 "death probability x the unit's mortality factor; births = women on 1 January x national "
                 "fertility x the unit's fertility factor, 105 boys per 100 girls, newborns exposed to half a "
                 "year of infant mortality; net migrants join the next 1 January population by the unit's "
                 "migration profile (their deaths and births within the year are neglected); a negative age-sex "
                 "cell is set to 0 and counted (run.json: clipped_persons)")
    return Cohort(q=q, fertility=f, fertility_factor=kb, mortality_factor=kd, shares=shares)


def _natural_rate(fit: AttractivenessResults, units: pd.Index, last: int) -> np.ndarray:
    panel = fit.unit_data.panel
    if not {"births", "deaths"} <= set(panel.columns):
        return np.zeros(len(units))
    yr = panel.index.get_level_values("year")
    sub = panel[(yr > last - 5) & (yr <= last)]
    r = ((sub["births"] - sub["deaths"]) / sub["population"]).groupby(level="unit").mean()
    return r.reindex(units).fillna(0.0).to_numpy(float)


def _attractiveness(fit: AttractivenessResults, units: pd.Index, mode: str, rules: list[str]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mean and sd of each unit's carried-forward attractiveness, its yearly noise sd and the common year sd."""
    att = unit_attractiveness(fit)
    sh = shrunken_attractiveness(att)
    tau2 = float(sh.attrs["tau2"])
    m = sh["mean_residual"].reindex(units)
    v = sh["sampling_var"].reindex(units)
    if m.isna().any():
        raise InputError(f"no residuals for {format_ids(units[m.isna().to_numpy()])}: they cannot be projected")
    s2 = (v * sh["n_years"].reindex(units)).to_numpy(float)
    year_means = att["residual"].groupby(level="year").mean()
    year_var = max(0.0, float(year_means.var(ddof=1)) - float(np.mean(s2)) / len(units)) if len(year_means) > 1 else 0.0
    noise = np.sqrt(np.maximum(s2 - year_var, 0.0))
    if mode == "zero":
        mean, sd = np.zeros(len(units)), np.full(len(units), np.sqrt(tau2))
        what = "zero, with the between-unit variance of attractiveness (tau2) as its uncertainty"
    elif mode == "mean":
        mean, sd = m.to_numpy(float), np.sqrt(v.to_numpy(float))
        what = "the unit's mean residual over the fit years, with its sampling variance"
    else:
        rel = sh["reliability"].reindex(units).to_numpy(float)
        mean, sd = rel * m.to_numpy(float), np.sqrt(rel * v.to_numpy(float))
        what = "the empirical-Bayes (shrunken) mean residual, with its posterior variance"
    rules.append(f"attractiveness carried forward ({mode!r}): {what}; yearly noise per unit: its smoothed within-unit "
                 "residual variance (shrunken_attractiveness) minus the variance of the common year shock, which is "
                 f"drawn once per year for all units (sd {np.sqrt(year_var):.4f} pp)")
    return mean, sd, noise, float(np.sqrt(year_var))


def build_launch(fit: AttractivenessResults, *, attractiveness: str = "shrunken") -> Launch:
    """The starting point of a projection from a fitted model (the year after its last year).

    Parameters
    ----------
    fit : AttractivenessResults
        From :func:`geoattr.estimate` (specification 2022, 2019 or custom terms among
        ``vra``, ``vra_l1``, ``vra_l2``, ``centrality``, ``ds`` and panel columns).
    attractiveness : {"zero", "mean", "shrunken"}, default "shrunken"
        How each unit's attractiveness (its residual) is carried forward.

    Returns
    -------
    Launch

    Raises
    ------
    InputError
        Unsupported terms, missing launch data, an unknown ``attractiveness``.
    """
    _check_fit(fit)
    if attractiveness not in ATTRACTIVENESS_MODES:
        raise InputError(f"attractiveness must be one of {list(ATTRACTIVENESS_MODES)}, got {attractiveness!r}")
    rules: list[str] = []
    units = pd.Index(fit.unit_data.units)
    last = int(fit.unit_design.years[1])
    first = last + 1
    W, used = _weights(fit, units, last, rules)
    population = _launch_population(fit, units, first, rules)
    vitals = national_vitals(fit.unit_data, first=first, last=last, rules=rules)
    age = _age_table(fit, units, first, population, vitals, rules)
    cohort = None if age is None or vitals is None else _cohort(fit, units, age, last, vitals, rules)
    ds_inputs = None
    if "ds" in fit.results.params.index:
        if age is None:
            raise InputError("the model has the ds term, which needs the population by age; the data lack it")
        d = fit.unit_data
        f = demographic_supply_factors(d.employment_rates, d.death_probabilities)
        factors = np.zeros((2, age.shape[2]))
        ages = f.index.to_numpy()[f.index.to_numpy() < age.shape[2]]
        factors[:, ages] = f.loc[ages, ["female", "male"]].to_numpy(float).T
        ds_inputs = {"factors": factors}
        rules.append("ds is recomputed every projected year from the projected population by age and the projected "
                     "jobs (in the simulation draws and scenarios the baseline's ds is used)")
    mean, sd, noise, year_sd = _attractiveness(fit, units, attractiveness, rules)
    jobs = fit.unit_data.column("jobs").unstack("year").reindex(units)
    params = fit.results.params
    return Launch(
        units=units, first_year=first, terms=list(params.index), theta=params.to_numpy(float),
        cov=fit.results.cov.reindex(index=params.index, columns=params.index).to_numpy(float),
        fixed=_fixed_terms(fit, units, last, rules), vra_observed=_vra_observed(fit, units, last), weights=W,
        weights_year=used, jobs=jobs, population=population, age=age, cohort=cohort,
        natural_rate=_natural_rate(fit, units, last), att_mean=mean, att_sd=sd, noise_sd=noise, year_sd=year_sd,
        ds_inputs=ds_inputs, rules=rules,
    )
