"""Births and deaths of a unit when the data carry only the population by age.

Statistics Norway's municipal files have no births or deaths by municipality; they
have the population by single age and sex on 1 January of every year.  From it:

* **Fertility.**  The children aged 0 on 1 January of ``t+1`` were born during ``t``
  (less those who died or moved before New Year's Eve).  The national fertility rate
  of year ``t`` is estimated as

  ``f[t] = sum_i P[i, age 0, t+1] / sum_i W[i, 15-49, t]``

  (women aged 15-49 on 1 January of ``t``; national sums over the units), a rate per
  woman of ages 15-49 and zero outside them (:func:`estimate_fertility_rates`).
  Expected births of unit *i* are ``f[t] * W[i, 15-49, t]``; they add up to the
  national number of children aged 0.
* **Births** of unit *i* are approximated by its children aged 0 on 1 January of
  ``t+1``; the **fertility deviation** is that count minus the expected births.
* **Deaths** follow from the accounting identity
  ``P[t+1] - P[t] = births - deaths + net migration``:
  ``deaths = births - (P[t+1] - P[t] - NM[t])``.  **Expected deaths** apply the
  national death probabilities by age and sex to the unit's population on 1 January of
  ``t``, scaled each year so that they add up to the national deaths so defined; the
  **mortality deviation** is expected minus these deaths.

With these definitions ``observed = expected births + fertility deviation - expected
deaths + mortality deviation + net migration`` holds exactly for every unit and year:
nothing is left in the decomposition's ``discrepancy``.  What the age-0 proxy misses
(infants who died or moved during their first year) and the rounding of published
rates land in the mortality deviation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.data.checks import check_fertility_rates
from geoattr.demography import data_death_probabilities, death_probabilities_of_rows
from geoattr.exceptions import InputError

__all__ = ["estimate_fertility_rates", "NaturalChange", "natural_change", "FERTILE_AGES"]

#: Ages of the women the fertility estimate divides by (inclusive).
FERTILE_AGES = (15, 49)


def estimate_fertility_rates(
    population_by_age: pd.DataFrame, *, years: list[int] | None = None, ages: tuple[int, int] = FERTILE_AGES
) -> pd.DataFrame:
    """National fertility per woman of fertile age, estimated from the population by age.

    ``rate[t] = sum_i P[i, 0, t+1] / sum_i W[i, ages, t]``: children aged 0 on 1 January
    of ``t+1`` against women of ``ages`` on 1 January of ``t`` (national sums).

    Parameters
    ----------
    population_by_age : pandas.DataFrame
        Columns ``unit, year, sex, age, population`` (1 January).
    years : list of int, optional
        Years ``t``; default every year whose ``t+1`` is in the table.
    ages : (int, int), default (15, 49)
        Inclusive ages of the women.

    Returns
    -------
    pandas.DataFrame
        Index ``year``; columns ``children_age0_next`` (children aged 0 on 1 January
        of ``t+1``), ``women`` and ``rate`` (children per woman).
    """
    pa = population_by_age
    have = set(pa["year"].astype(int).unique())
    want = sorted(y for y in have if y + 1 in have) if years is None else sorted(years)
    missing = [y for y in want if y not in have or y + 1 not in have]
    if missing:
        raise InputError(f"the fertility estimate of year t needs the population by age of t and t+1; "
                         f"missing for t = {format_ids(missing)}")
    age0 = pa[pa["age"] == 0].groupby("year")["population"].sum()
    fem = pa[(pa["sex"] == "female") & pa["age"].between(*ages)].groupby("year")["population"].sum()
    out = pd.DataFrame({"children_age0_next": age0.reindex([y + 1 for y in want]).to_numpy(dtype=float),
                        "women": fem.reindex(want).to_numpy(dtype=float)}, index=pd.Index(want, name="year"))
    if (out["women"] <= 0).any():
        raise InputError(f"no women aged {ages[0]}-{ages[1]} in year(s) {list(out.index[out['women'] <= 0])}")
    out["rate"] = out["children_age0_next"] / out["women"]
    return out


@dataclass(frozen=True)
class NaturalChange:
    """Expected and actual births and deaths of each unit and year (see the module docstring).

    Returned by :func:`natural_change`; the expected values apply national rates (fertility
    from the population by age, death probabilities from mortality rates or a Gompertz fit).

    Attributes
    ----------
    table : pandas.DataFrame
        Index (unit, year); columns ``births``, ``deaths``, ``expected_births``,
        ``expected_deaths`` (persons, deaths positive).
    notes : list of str
        Where the rates came from and the scale factors applied.
    """

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _by_unit_year(pa: pd.DataFrame, values: np.ndarray, idx: pd.MultiIndex) -> pd.Series:
    s = pd.Series(values, index=pd.MultiIndex.from_arrays([pa["unit"].to_numpy(), pa["year"].to_numpy()],
                                                          names=["unit", "year"]))
    return s.groupby(level=[0, 1]).sum().reindex(idx)


def _scaled(raw: pd.Series, actual: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``raw`` scaled per year so that its national sum equals that of ``actual``."""
    years = raw.index.get_level_values("year")
    scale = actual.groupby(level="year").sum() / raw.groupby(level="year").sum()
    return raw * scale.reindex(years).to_numpy(), scale


def natural_change(
    data: PanelData,
    idx: pd.MultiIndex,
    natural: pd.Series,
    *,
    fertility_rates: pd.Series | pd.DataFrame | Mapping[Any, float] | None = None,
    death_probabilities: pd.DataFrame | None = None,
) -> NaturalChange:
    """Births, deaths and their expected values on ``idx`` from the population by age.

    Parameters
    ----------
    data : PanelData
        With ``population_by_age`` (1 January of every year of ``idx`` and the next).
    idx : pandas.MultiIndex
        (unit, year) pairs.
    natural : pandas.Series
        Births minus deaths on ``idx`` (observed change minus net migration).
    fertility_rates : Series, DataFrame or mapping, optional
        National births per woman by age (a Series, a mapping age -> rate as in
        ``[analyses] fertility_rates``, or a ``female`` column): the
        expected births use this age profile, scaled to the national births of each
        year.  Default: the data's own, else the estimate of
        :func:`estimate_fertility_rates` (one rate for ages 15-49).
    death_probabilities : DataFrame, optional
        National death probabilities by age (or by year and age) and sex; default the
        data's own (:func:`geoattr.demography.data_death_probabilities`: the
        year-specific table, else the single schedule, else a Gompertz fit to the
        population's cohort survival).

    Returns
    -------
    NaturalChange
    """
    pa = data.population_by_age
    if pa is None:
        raise InputError("births and deaths from the population by age need population_by_age in the PanelData")
    notes: list[str] = []
    years = sorted(set(idx.get_level_values("year")))
    have = pa.groupby(["unit", "year"]).size().index
    nxt = pd.MultiIndex.from_arrays([idx.get_level_values("unit"), idx.get_level_values("year") + 1])
    lack = idx[~(idx.isin(have) & nxt.isin(have))]
    if len(lack):
        raise InputError(f"the births and deaths of {len(lack)} unit-year(s) need the population by age of 1 January "
                         f"of t and t+1, missing for {format_ids(lack)}; shorten years= or complete population_by_age")
    cur = pa[pa["year"].isin(years)]
    age0 = pa[(pa["age"] == 0) & pa["year"].isin([y + 1 for y in years])]
    births = _by_unit_year(age0, age0["population"].to_numpy(dtype=float), nxt).set_axis(idx)
    rates = fertility_rates if fertility_rates is not None else data.fertility_rates
    if rates is None:
        est = estimate_fertility_rates(pa, years=years)
        fem = cur["sex"].eq("female") & cur["age"].between(*FERTILE_AGES)
        raw = _by_unit_year(cur, np.where(fem, cur["population"], 0.0), idx)
        notes.append(f"expected births: national fertility per woman aged {FERTILE_AGES[0]}-{FERTILE_AGES[1]} "
                     "estimated from the population by age (children aged 0 on 1 January of t+1 / women of "
                     f"1 January of t): {est['rate'].min():.4f}-{est['rate'].max():.4f} per year")
    else:
        r = check_fertility_rates(rates["female"] if isinstance(rates, pd.DataFrame) else rates)
        f = np.where(cur["sex"].eq("female"), r.reindex(cur["age"]).fillna(0.0).to_numpy(), 0.0)
        raw = _by_unit_year(cur, cur["population"].to_numpy(dtype=float) * f, idx)
        notes.append("expected births: the given fertility rates by age, scaled to the children aged 0 of each year")
    expected_births, _ = _scaled(raw, births)
    deaths = births - natural.reindex(idx)
    q = death_probabilities
    if q is None:
        q, which = data_death_probabilities(data)
        if data.death_probabilities_by_year is not None or data.death_probabilities is None:
            notes.append(f"expected deaths: {which}")
    top = int(cur["age"].max())
    ages = q.index.get_level_values(-1)
    short = [a for a in range(top + 1) if a not in ages]
    if short:
        raise InputError(f"death_probabilities lack ages {format_ids(short)} of population_by_age; give every age "
                         f"0-{top}")
    qa = death_probabilities_of_rows(q, cur["year"], cur["age"], cur["sex"])
    expected_deaths, scale = _scaled(_by_unit_year(cur, cur["population"].to_numpy(dtype=float) * qa, idx), deaths)
    notes.append(f"expected deaths scaled to the national deaths of each year (births minus natural change): factor "
                 f"{scale.min():.3f}-{scale.max():.3f}")
    table = pd.DataFrame({"births": births, "deaths": deaths, "expected_births": expected_births,
                          "expected_deaths": expected_deaths}, index=idx)
    return NaturalChange(table, notes)
