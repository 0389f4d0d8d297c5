"""Derived variables against hand calculations on the three-municipality toy panel.

Reference values are computed by hand from the numbers in ``conftest.py`` (written out
as arithmetic below); tolerance 1e-10 (floating point only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr import variables as V
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from tests.conftest import toy_flows, toy_panel

TOL = 1e-10
# national job growth by hand: totals 1000, 1000, 1030, 1045, 1030, 1045
NAT_2003 = 100 * (1045 / 1030 - 1)
RA_2001 = {"0101": 10.0, "0102": -5.0, "0103": 0.0}
RA_2003 = {
    "0101": 100 * (110 / 121 - 1) - NAT_2003,
    "0102": 100 * (200 / 209 - 1) - NAT_2003,
    "0103": 100 * (735 / 700 - 1) - NAT_2003,
}


def test_relative_job_growth_by_hand(toy_data):
    ra = V.relative_job_growth(toy_data.column("jobs"))
    for u, v in RA_2001.items():
        assert ra[(u, 2001)] == pytest.approx(v, abs=TOL)
    for u, v in RA_2003.items():
        assert ra[(u, 2003)] == pytest.approx(v, abs=TOL)
    assert ra.xs(2000, level="year").isna().all()


def test_vra_three_municipalities_by_hand(toy_data):
    d = V.build_design(toy_data, "2019", years=(2003, 2005))
    X = d.X
    # lag 0 in 2003 uses the 2003 weights: 0101 works 100 % locally
    assert X.loc[("0101", 2003), "vra"] == pytest.approx(RA_2003["0101"], abs=TOL)
    assert X.loc[("0102", 2003), "vra"] == pytest.approx(0.2 * RA_2003["0101"] + 0.8 * RA_2003["0102"], abs=TOL)
    assert X.loc[("0103", 2003), "vra"] == pytest.approx(0.5 * RA_2003["0101"] + 0.5 * RA_2003["0103"], abs=TOL)
    # lag 2 in 2003 is VRA of 2001 with the 2001 weights
    assert X.loc[("0101", 2003), "vra_l2"] == pytest.approx(0.9 * 10 + 0.1 * -5, abs=TOL)
    assert X.loc[("0102", 2003), "vra_l2"] == pytest.approx(0.2 * 10 + 0.8 * -5, abs=TOL)
    assert X.loc[("0103", 2003), "vra_l2"] == pytest.approx(0.5 * 10 + 0.5 * 0, abs=TOL)
    # lag 1 in 2004 is VRA of 2003 computed with the 2003 weights, not the 2004 ones
    assert X.loc[("0101", 2004), "vra_l1"] == pytest.approx(RA_2003["0101"], abs=TOL)
    # centrality c/1000 - mean(c/1000) = (.8, .5, .2) - .5
    assert X.xs(2004, level="year")["centrality"].tolist() == pytest.approx([0.3, 0.0, -0.3], abs=TOL)
    assert list(X.columns) == ["const", "vra", "vra_l1", "vra_l2", "centrality"]


def test_fixed_commuting_year_uses_one_matrix(toy_data):
    d = V.build_design(toy_data, "2019", years=(2003, 2005), commuting_year=2001)
    # with the 2001 matrix, 0101 keeps 10 % commuting to 0102 in 2003
    assert d.X.loc[("0101", 2003), "vra"] == pytest.approx(0.9 * RA_2003["0101"] + 0.1 * RA_2003["0102"], abs=TOL)
    assert any("commuting matrix of 2001" in n for n in d.notes)


def test_neighbour_growth_and_ami_by_hand(toy_data):
    d = V.build_design(toy_data, "2018", years=(2003, 2005))
    X = d.X
    # nv_l2 in 2003 = NV of 2001, renormalised over j != i
    assert X.loc[("0101", 2003), "nv_l2"] == pytest.approx(-5.0, abs=TOL)
    assert X.loc[("0102", 2003), "nv_l2"] == pytest.approx(10.0, abs=TOL)
    assert X.loc[("0103", 2003), "nv_l2"] == pytest.approx(10.0, abs=TOL)
    # in 2003 0101 has no commuters: its neighbour growth is 0 by convention
    assert X.loc[("0101", 2003), "nv"] == pytest.approx(0.0, abs=TOL)
    assert X.loc[("0101", 2003), "ra_l2"] == pytest.approx(10.0, abs=TOL)
    # AMI 2004 (2004 flows): column sums 160, 90, 50; row sums 100; diagonal 90, 80, 50
    assert X.loc[("0101", 2004), "ami"] == pytest.approx(100 * 70 / 160 + 100 * 10 / 100, abs=TOL)
    assert X.loc[("0102", 2004), "ami"] == pytest.approx(100 * 10 / 90 + 100 * 20 / 100, abs=TOL)
    assert X.loc[("0103", 2004), "ami"] == pytest.approx(0 + 100 * 50 / 100, abs=TOL)
    assert X.loc[("0102", 2005), "log_pop"] == pytest.approx(np.log(2100.0), abs=TOL)


def test_own_plus_unnormalised_neighbour_equals_vra(toy_data):
    ra = V.relative_job_growth(toy_data.column("jobs"))
    cw = V.commuting_weights(toy_data, range(2001, 2006))
    vra = V.weighted_growth(ra, cw, years=(2003, 2005))
    parts = V.own_neighbour_growth(ra, cw, years=(2003, 2005), renormalise=False)
    for k in ("", "_l1", "_l2"):
        np.testing.assert_allclose(parts["own" + k] + parts["nv" + k], vra["vra" + k], atol=TOL)


def test_net_migration_rate_and_relative(toy_data):
    y = V.net_migration_rate(toy_data)
    assert y[("0102", 2001)] == pytest.approx(100 * -6 / 2020, abs=TOL)
    d = V.build_design(toy_data, "2019", years=(2003, 2005), relative_to_national=True)
    nat = 100 * (2 + 4 + 6) / (1030 + 2060 + 5150)
    assert d.y[("0101", 2003)] == pytest.approx(100 * 2 / 1030 - nat, abs=TOL)


def test_years_missing_for_lags(toy_data):
    with pytest.raises(InputError, match=r"jobs is needed for years 1999-2005 .*1999.*start years= later"):
        V.build_design(toy_data, "2019", years=(2002, 2005))


def test_missing_jobs_cell_named(toy_data):
    p = toy_panel()
    p.loc[("0102", 2001), "jobs"] = np.nan
    data = PanelData(p, flows=toy_flows(), centrality=toy_data.centrality)
    with pytest.raises(InputError, match=r"jobs is missing for 1 \(unit, year\) cell\(s\): \('0102', 2001\)"):
        V.build_design(data, "2019", years=(2003, 2005))


def test_missing_regressor_rows_raise_or_drop(toy_data):
    p = toy_panel()
    p["students"] = 1.0
    p.loc[("0103", 2004), "students"] = np.nan
    data = PanelData(p, flows=toy_flows(), centrality=toy_data.centrality)
    with pytest.raises(InputError, match=r"1 \(unit, year\) row\(s\) have missing values in \['students'\]: \('0103', 2004\)"):
        V.build_design(data, "2019", years=(2003, 2005), extra=["students"])
    d = V.build_design(data, "2019", years=(2003, 2005), extra=["students"], on_missing="drop")
    assert len(d.y) == 8
    dropped = d.accounting["design"].dropped  # besides the panel years outside 2003-2005
    assert {k: v for k, v in dropped.items() if k.startswith("missing")} == {"missing values in students": 1}


def test_unknown_spec_and_term(toy_data):
    with pytest.raises(InputError, match="unknown specification '2020'"):
        V.build_design(toy_data, "2020")
    with pytest.raises(InputError, match=r"unknown term\(s\) \['housing'\]"):
        V.build_design(toy_data, ["vra", "housing"])


def test_year_effects_columns(toy_data):
    d = V.build_design(toy_data, "2019", years=(2003, 2005), year_effects=True)
    assert [c for c in d.X.columns if c.startswith("year_")] == ["year_2004", "year_2005"]


def _age_table(rows):
    """Population by age for ages 0-90, both sexes, zeros except ``rows``."""
    recs = []
    for unit in ("A", "B"):
        for sex in ("female", "male"):
            for age in range(91):
                recs.append((unit, 2001, sex, age, float(rows.get((unit, sex, age), 0.0))))
    return pd.DataFrame(recs, columns=["unit", "year", "sex", "age", "population"])


def test_demographic_supply_by_hand():
    ages = pd.Index(range(91), name="age")
    e = pd.DataFrame({"female": np.where((ages >= 15) & (ages <= 74), 0.5, 0.0), "male": 0.0}, index=ages)
    q = pd.DataFrame({"female": 0.01, "male": 0.01}, index=ages)
    pa = _age_table({("A", "female", 14): 10, ("A", "female", 40): 100, ("A", "female", 74): 20,
                     ("B", "female", 40): 200})
    jobs = pd.Series([50.0, 50.0], index=pd.MultiIndex.from_tuples([("A", 2001), ("B", 2001)], names=["unit", "year"]))
    ds = V.demographic_supply(pa, jobs, e, q)
    # A: 10*(0.5) + 100*(-0.01*0.5) + 20*(0 - 0.5 - 0.01*0.5) = 5 - 0.5 - 10.1 = -5.6 -> 100*-5.6/50 = -11.2
    # B: 200*(-0.005) = -1 -> -2; national 100*(-6.6)/100 = -6.6
    assert ds[("A", 2001)] == pytest.approx(-11.2 + 6.6, abs=TOL)
    assert ds[("B", 2001)] == pytest.approx(-2.0 + 6.6, abs=TOL)


def test_demographic_supply_missing_ages():
    ages = pd.Index(range(91), name="age")
    e = pd.DataFrame({"female": 0.5, "male": 0.5}, index=ages)
    pa = _age_table({})
    pa = pa[~((pa["unit"] == "B") & (pa["age"] == 30))]
    jobs = pd.Series([50.0, 50.0], index=pd.MultiIndex.from_tuples([("A", 2001), ("B", 2001)], names=["unit", "year"]))
    with pytest.raises(InputError, match=r"lacks some ages 14-74 for 2 \(unit, year, sex\) group\(s\): \('B', 2001, 'female'\)"):
        V.demographic_supply(pa, jobs, e, e * 0.01)
    with pytest.raises(InputError, match=r"death_probabilities lacks ages 70, 71"):
        V.demographic_supply(_age_table({}), jobs, e, (e * 0.01).loc[:69])


def test_designs_share_their_growth_columns(toy_data):
    """Two designs that differ only in y (relative_to_national) build the growth columns once
    (one "growth" entry in the data's cache) and get the same regressors (exact equality); a
    design over other years adds its own entry, with the weights matrices memoised by year."""
    a = V.build_design(toy_data, "2019", years=(2003, 2005))
    b = V.build_design(toy_data, "2019", years=(2003, 2005), relative_to_national=True)
    assert len([k for k in toy_data._cache if k[0] == "growth"]) == 1
    pd.testing.assert_frame_equal(a.X, b.X)
    assert not np.allclose(a.y.to_numpy(), b.y.to_numpy())
    c = V.build_design(toy_data, "2019", years=(2004, 2005))
    assert len([k for k in toy_data._cache if k[0] == "growth"]) == 2
    pd.testing.assert_frame_equal(c.X, a.X.loc[c.X.index])
