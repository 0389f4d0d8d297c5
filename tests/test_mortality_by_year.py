"""Year-specific death probabilities (issue 17): the table, the nearest-year rule and their use.

References: hand calculations from the central rates (``q = m / (1 + m/2)``, then
``(q[a] + q[a+1]) / 2`` for the population of 1 January), and the cohort residual of a
single year's schedule computed alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.data import PanelData
from geoattr.datasets.mortality import death_probabilities_by_year
from geoattr.demography import (
    cohort_residual_net_migration,
    death_probabilities_in_year,
    death_probabilities_of_rows,
)
from geoattr.exceptions import InputError
from geoattr.forecast.vitals import national_vitals


def _mortality(years=(2010, 2011), top=3):
    rows = []
    for y in years:
        for a in range(top + 1):
            for s in ("female", "male"):
                rows.append((y, a, s, 0.01 * (a + 1) * (1 + (y - years[0])) * (1.2 if s == "male" else 1.0)))
    return pd.DataFrame(rows, columns=["year", "age", "sex", "mx"])


def test_by_year_table_by_hand_and_the_nearest_year():
    q = death_probabilities_by_year(_mortality(), years=range(2008, 2014))
    assert sorted(q.index.get_level_values("year").unique()) == [2010, 2011]
    assert q.attrs["nearest"] == {2008: 2010, 2009: 2010, 2012: 2011, 2013: 2011}
    m0, m1 = 0.02, 0.04  # 2011, female, ages 0 and 1: 0.01 (a + 1) x 2
    expected = (m0 / (1 + m0 / 2) + m1 / (1 + m1 / 2)) / 2  # hand calculation
    assert q.loc[(2011, 0), "female"] == pytest.approx(expected, rel=1e-12)
    m3 = 0.04  # the open age keeps its own
    assert q.loc[(2010, 3), "female"] == pytest.approx(m3 / (1 + m3 / 2), rel=1e-12)
    # nearest year (the earlier of two equally near), and a table without years is returned as is
    assert death_probabilities_in_year(q, 2030).equals(q.xs(2011, level="year"))
    assert death_probabilities_in_year(q, 1990).equals(q.xs(2010, level="year"))
    single = q.xs(2010, level="year")
    assert death_probabilities_in_year(single, 2011) is single
    rows = death_probabilities_of_rows(q, [2010, 2011, 2020], [1, 1, 2], ["male", "female", "male"])
    np.testing.assert_allclose(rows, [q.loc[(2010, 1), "male"], q.loc[(2011, 1), "female"],
                                      q.loc[(2011, 2), "male"]], rtol=1e-12)


def test_cohort_residual_uses_each_years_schedule():
    """With a (year, age) table, year t's estimate equals the estimate with t's schedule alone."""
    rng = np.random.default_rng(0)
    rows = [(u, y, s, a, float(rng.integers(50, 150))) for u in ("0101", "0102") for y in (2010, 2011, 2012)
            for s in ("female", "male") for a in range(4)]
    pa = pd.DataFrame(rows, columns=["unit", "year", "sex", "age", "population"])
    q = death_probabilities_by_year(_mortality(), years=[2010, 2011])
    both = cohort_residual_net_migration(pa, q, years=[2010, 2011]).table
    for y in (2010, 2011):
        alone = cohort_residual_net_migration(pa, q.xs(y, level="year"), years=[y]).table
        np.testing.assert_allclose(both.xs(y, level="year")["net_migration_estimate"],
                                   alone.xs(y, level="year")["net_migration_estimate"], rtol=1e-12)
    assert not np.allclose(both.xs(2010, level="year")["deaths_estimate"],
                           cohort_residual_net_migration(pa, q.xs(2011, level="year"), years=[2010]).table[
                               "deaths_estimate"])


def test_panel_data_checks_the_by_year_table(toy_data):
    q = death_probabilities_by_year(_mortality())
    assert toy_data.replace(death_probabilities_by_year=q).death_probabilities_by_year.index.names == ["year", "age"]
    with pytest.raises(InputError, match=r"death_probabilities_by_year must be indexed by \(year, age\)"):
        toy_data.replace(death_probabilities_by_year=q.xs(2010, level="year"))
    bad = q.copy()
    bad.iloc[0, 0] = 1.5
    with pytest.raises(InputError, match=r"death_probabilities_by_year must lie in \[0, 1\]"):
        PanelData(toy_data.panel, death_probabilities_by_year=bad)


def test_projection_vitals_from_the_by_year_table_and_the_population(toy_data):
    """Without fertility rates the projection estimates them from the population by age (the
    decomposition's estimate for the last year with t + 1); deaths take the launch year's schedule."""
    rng = np.random.default_rng(1)
    rows = [(u, y, s, a, float(rng.integers(5, 20))) for u in toy_data.units for y in range(2000, 2006)
            for s in ("female", "male") for a in range(61)]
    pa = pd.DataFrame(rows, columns=["unit", "year", "sex", "age", "population"])
    q = death_probabilities_by_year(_mortality(years=(2000, 2001), top=60))
    data = toy_data.replace(population_by_age=pa, death_probabilities_by_year=q)
    rules: list[str] = []
    last = 2004
    v = national_vitals(data, first=last + 1, last=last, rules=rules)
    assert v.death_probabilities.equals(q.xs(2001, level="year"))
    women = pa[(pa["year"] == last) & (pa["sex"] == "female") & pa["age"].between(15, 49)]["population"].sum()
    children = pa[(pa["year"] == last + 1) & (pa["age"] == 0)]["population"].sum()
    assert v.fertility_rates.loc[30] == pytest.approx(children / women, rel=1e-12)  # hand calculation
    assert 14 not in v.fertility_rates.index and 50 not in v.fertility_rates.index
    assert "the nearest year to the launch year" in rules[0] and "estimated from the population by age" in rules[1]
    assert national_vitals(data.replace(population_by_age=None), first=last + 1, last=last, rules=[]) is None


def test_bad_mortality_tables_are_named_with_the_fix():
    m = _mortality()
    with pytest.raises(InputError, match="the mortality table has no rows; read the HMD file"):
        death_probabilities_by_year(m.iloc[:0])
    with pytest.raises(InputError, match="no years asked for; pass years=None"):
        death_probabilities_by_year(m, years=[])
    with pytest.raises(InputError, match=r"no rows for sex \['male'\]; it needs rates of both sexes"):
        death_probabilities_by_year(m[m["sex"] == "female"])
    with pytest.raises(InputError, match="lacks ages 1; give a rate for every single age"):
        death_probabilities_by_year(m[m["age"] != 1])
    with pytest.raises(InputError, match="lacks ages 0; give a rate for every single age"):
        death_probabilities_by_year(m[m["age"] != 0])
    with pytest.raises(InputError, match="no death rate at age 0 in the years asked for; add the age-0 rows"):
        death_probabilities_by_year(m.assign(mx=m["mx"].where(m["age"] != 0)))


def test_death_probabilities_need_the_population_by_age(toy_data):
    from geoattr.demography import data_death_probabilities

    with pytest.raises(InputError, match=r"need the population by single age and sex \(population_by_age\)"):
        data_death_probabilities(toy_data.replace(population_by_age=None))
