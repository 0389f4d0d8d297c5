"""Cohort-residual net migration and death probabilities (hand-built populations with known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.demography import cohort_residual_net_migration, compare_net_migration, death_probabilities_from_population
from geoattr.exceptions import InputError

AGES = np.arange(0, 101)
ALPHA, BETA = -10.5, 0.095  # Gompertz truth: log(-log(1 - q)) = alpha + beta a


def _q():
    q = 1 - np.exp(-np.exp(ALPHA + BETA * AGES))
    q[0] = 0.003
    return pd.DataFrame({"female": q, "male": q}, index=pd.Index(AGES, name="age"))


def _closed(units=("A", "B"), years=range(2010, 2014), migrants=None):
    """Populations that age with the exact survival of _q() (floats), plus known migrants."""
    q = _q()["female"].to_numpy()
    rows = []
    for k, u in enumerate(units):
        p = {s: 1000.0 * (k + 1) * np.exp(-AGES / 60.0) for s in ("female", "male")}
        for t in years:
            for s in ("female", "male"):
                rows.append(pd.DataFrame({"unit": u, "year": t, "sex": s, "age": AGES, "population": p[s]}))
            for s in ("female", "male"):
                surv = p[s] * (1 - q)
                new = np.zeros_like(p[s])
                new[1:] = surv[:-1]
                new[-1] += surv[-1]
                new[0] = 12.0 * (k + 1)
                if migrants and (u, t) in migrants and s == "female":
                    new = new + migrants[(u, t)]
                p[s] = new
    return pd.concat(rows, ignore_index=True)


def test_closed_population_has_zero_net_migration():
    res = cohort_residual_net_migration(_closed(), _q(), years=range(2010, 2014))
    assert np.abs(res.table["net_migration_estimate"]).max() < 1e-8  # exact survival: nothing left over
    assert res.table["estimated"].all() and len(res.table) == 2 * 3
    assert res.skipped == [("A", 2013), ("B", 2013)]  # no population of 2014: reported, not lost


def test_known_migrants_are_recovered():
    mig = np.zeros(len(AGES))
    mig[[20, 21, 30]] = [5.0, 7.0, -2.0]  # arrivals at ages 20-21, one departure at 30
    res = cohort_residual_net_migration(_closed(migrants={("B", 2011): mig}), _q())
    assert res.table.loc[("B", 2011), "net_migration_estimate"] == pytest.approx(10.0, abs=1e-8)
    assert res.table.loc[("A", 2011), "net_migration_estimate"] == pytest.approx(0.0, abs=1e-8)
    # the accounting identity: change = births - deaths + net migration
    r = res.table.loc[("B", 2011)]
    assert r.population_next - r.population == pytest.approx(r.births_estimate - r.deaths_estimate
                                                              + r.net_migration_estimate, abs=1e-8)


def test_gompertz_recovered_from_cohort_survival():
    q = death_probabilities_from_population(_closed(units=("A", "B", "C")), fit_ages=(70, 90))
    g = q.attrs["gompertz"]["female"]
    assert g["alpha"] == pytest.approx(ALPHA, abs=1e-6) and g["beta"] == pytest.approx(BETA, abs=1e-8)
    np.testing.assert_allclose(q.loc[40:90, "male"], _q().loc[40:90, "male"], rtol=1e-6)  # extrapolated below 70


def test_errors():
    pa = _closed()
    gap = pa[~((pa.unit == "A") & (pa.year == 2011) & (pa.sex == "male") & (pa.age == 50))]
    with pytest.raises(InputError, match=r"missing ages .* 1 \(unit, year, sex\) group\(s\): \('A', 2011, 'male'\)"):
        cohort_residual_net_migration(gap, _q())
    bad = _q()
    bad.loc[5, "male"] = 1.5
    with pytest.raises(InputError, match=r"death_probabilities must lie in \[0, 1\]; 1 value\(s\) outside it at \(age, sex\) \(5, 'male'\)"):
        cohort_residual_net_migration(pa, bad)
    with pytest.raises(InputError, match="lack ages 100"):
        cohort_residual_net_migration(pa, _q().loc[:99])
    with pytest.raises(InputError, match="only 0 common"):
        compare_net_migration(pd.Series(dtype=float), pd.Series(dtype=float))


@pytest.mark.realdata
@pytest.mark.slow
def test_real_population_against_published_net_migration(real_data_dir):
    pa = pd.read_csv(real_data_dir / "population" / "population_by_age_sex_b2024.csv.gz", dtype={"kommunenummer": str})
    pa = pa.rename(columns={"kommunenummer": "unit"})
    pa = pa[pa.year.between(2005, 2016)]
    q = death_probabilities_from_population(pa)
    assert 0.02 < q.loc[80, "female"] < 0.06 and 0.03 < q.loc[80, "male"] < 0.08
    assert (np.diff(q.loc[70:95, "male"]) > 0).all()
    # compare with published net migration 2005-2015 for codes that are the same in 2017 and 2024
    res = cohort_residual_net_migration(pa, q, years=range(2005, 2016))
    assert ("1160", 2005) in res.skipped and ("1576", 2005) in res.skipped  # missing 2005 rows (data README)
    pub = pd.read_csv(real_data_dir / "jobs" / "kommune_panel_2003_2016.csv", dtype={"kommunenummer": str})
    pub["nm"] = (pub.befolkningsvekst_pct - pub.fodselsoverskudd_pct) * pub.folketall / 100
    published = pub.set_index(["kommunenummer", "year"])["nm"]
    published.index = published.index.set_names(["unit", "year"])
    cmp = compare_net_migration(res.table["net_migration_estimate"], published)
    # observed 2026-11-23: n = 911, correlation 0.998, MAE 13 persons (0.18 % of population)
    assert cmp["n"] > 800 and cmp["correlation"] > 0.99


def test_cohort_residual_of_data_equals_the_table_path(synthetic_data, toy_data):
    """A PanelData's table is checked once (at construction): the same estimates, exactly, as the checked path."""
    from geoattr.demography import cohort_residual_of_data, data_death_probabilities

    q, _ = data_death_probabilities(synthetic_data)
    fast = cohort_residual_of_data(synthetic_data, q)
    slow = cohort_residual_net_migration(synthetic_data.population_by_age, q)
    pd.testing.assert_frame_equal(fast.table, slow.table, check_exact=True)  # same arrays, same sums
    assert fast.skipped == slow.skipped
    some = cohort_residual_of_data(synthetic_data, q, years=[2010, 2011])
    assert sorted(some.table.index.get_level_values("year").unique()) == [2010, 2011]
    with pytest.raises(InputError, match="needs the population by single age and sex"):
        cohort_residual_of_data(toy_data, q)


def test_negative_or_restarting_ages_are_gaps():
    pa = _closed()
    neg = pd.concat([pa, pd.DataFrame({"unit": ["B"], "year": [2012], "sex": ["female"], "age": [-1],
                                       "population": [1.0]})], ignore_index=True)
    with pytest.raises(InputError, match=r"missing ages .* 1 \(unit, year, sex\) group\(s\): \('B', 2012, 'female'\)"):
        cohort_residual_net_migration(neg, _q())
    no_zero = pa[~((pa.unit == "B") & (pa.year == 2010) & (pa.age == 0))]  # both sexes start at 1
    with pytest.raises(InputError, match=r"2 \(unit, year, sex\) group\(s\): \('B', 2010, 'female'\), \('B', 2010, 'male'\)"):
        death_probabilities_from_population(no_zero)
