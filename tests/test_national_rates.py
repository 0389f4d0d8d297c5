"""National employment rates by single age and death probabilities (geoattr.datasets.national_rates).

Hand-made tables check the rules exactly; the real tables (``../shared/data/norway``,
skipped when absent) check what the rules promise on the data: the group means are
reproduced, q lies in [0, 1] and rises with age, the breaks of the README are found,
and DS is finite with a finite standard error in the 2022 model on both panels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from geoattr.datasets import national_rates as nr
from geoattr.exceptions import InputError, InvalidGeometryWarning

GROUPS = list(nr.FIVE_YEAR_GROUPS)
#: Group means reproduced to this absolute tolerance (a share; the rule is exact, the rest is rounding).
MEAN_TOL = 1e-10


def _population(years, ratio_old: float = 0.5) -> pd.DataFrame:
    """Flat national population: 1000 per age 0-74, ``1000 * ratio_old`` per age 75-99."""
    rows = [(y, s, a, 1000.0 if a < 75 else 1000.0 * ratio_old) for y in years for s in ("female", "male")
            for a in range(100)]
    return pd.DataFrame(rows, columns=["year", "sex", "age", "population"])


def _employment(years, means: dict[str, float], open_rate: float, total: float) -> pd.DataFrame:
    rows = []
    for y in years:
        for s in ("female", "male"):
            rows += [(y, s, g, m) for g, m in means.items()]
            rows += [(y, s, "65+", open_rate), (y, s, "15+", total)]
    return pd.DataFrame(rows, columns=["year", "sex", "age_group", "rate"])


MEANS = dict(zip(GROUPS, [0.3, 0.65, 0.8, 0.85, 0.86, 0.86, 0.85, 0.82, 0.75, 0.55]))


def _total(open_rate: float, covers_all: bool) -> float:
    """The 15+ rate of the flat population under either reading (by hand: 5 x 1000 per group)."""
    employed = sum(MEANS.values()) * 5000 + open_rate * (10000 + (12500 if covers_all else 0))
    return employed / (50000 + 10000 + (12500 if covers_all else 0))


def test_open_group_reading_is_taken_from_the_15plus_rate():
    # 2001 published as if the survey covered 15-74, 2002 as if the 65+ group held everyone over 64
    emp = pd.concat([_employment([2001], MEANS, 0.2, _total(0.2, False)),
                     _employment([2002], MEANS, 0.1, _total(0.1, True))])
    cov = nr.open_group_coverage(emp, _population([2001, 2002]))
    assert cov["coverage"].tolist() == ["65-74", "65+"]
    assert cov["misfit"].max() < 1e-12
    # P(65+)/P(65-74) = (10 x 1000 + 25 x 500) / (10 x 1000) = 2.25
    assert cov.loc[2002, "ratio_female"] == pytest.approx(2.25, abs=1e-12)
    rates = nr.interpolate_employment_rates(emp, cov)
    assert rates.loc[(2001, slice(65, 74)), "female"].mean() == pytest.approx(0.2, abs=MEAN_TOL)
    assert rates.loc[(2002, slice(65, 74)), "male"].mean() == pytest.approx(0.1 * 2.25, abs=MEAN_TOL)


def test_interpolation_preserves_every_group_mean_and_stays_in_range():
    emp = _employment([2010], MEANS, 0.2, _total(0.2, False))
    rates = nr.interpolate_employment_rates(emp, nr.open_group_coverage(emp, _population([2010])))
    f = rates.xs(2010, level="year")["female"]
    assert list(f.index) == list(range(15, 75))
    for g, m in MEANS.items():
        lo = int(g[:2])
        assert f.loc[lo:lo + 4].mean() == pytest.approx(m, abs=MEAN_TOL), g
    assert (f >= 0).all() and (f <= 1).all()
    # smooth, not a step function: within 15-19 the rates rise with age
    assert (np.diff(f.loc[15:19].to_numpy()) > 0).all()


def test_death_probabilities_from_central_rates_by_hand():
    mort = pd.DataFrame({"year": [2000] * 6 + [2001] * 6, "age": [0, 1, 2] * 4,
                         "sex": (["female"] * 3 + ["male"] * 3) * 2,
                         "mx": [0.01, 0.02, np.nan, 0.03, 0.04, 3.0, 0.03, 0.02, np.nan, 0.01, 0.04, 3.0]})
    q = nr.death_probabilities_from_rates(mort)
    # female age 0: mean m = 0.02 -> q = 0.02 / 1.01; male age 2: m = 3 -> 3 / 2.5 > 1 -> capped at 1
    assert q.loc[0, "female"] == pytest.approx(0.02 / 1.01, rel=1e-12)
    assert q.loc[1, "male"] == pytest.approx(0.04 / 1.02, rel=1e-12)
    assert q.loc[2, "male"] == 1.0
    # female age 2 has no rate in any year: it takes age 1's (m = 0.02)
    assert q.loc[2, "female"] == pytest.approx(0.02 / 1.01, rel=1e-12) and q.attrs["filled_ages"] == [2]
    with pytest.raises(InputError, match=r"no death rates for the years 1990"):
        nr.death_probabilities_from_rates(mort, years=[1990])


def test_bad_tables_are_named(tmp_path):
    emp = _employment([2010], {g: m for g, m in MEANS.items() if g != "40-44"}, 0.2, 0.7)
    with pytest.raises(InputError, match=r"lack the age group\(s\) \['40-44'\]"):
        nr.open_group_coverage(emp, _population([2010]))
    p = tmp_path / "e.csv"
    pd.DataFrame({"year": [2010], "sex": ["F"], "age_group": ["15-19"], "emp_to_pop_pct": [120.0]}).to_csv(p)
    with pytest.raises(InputError, match=r"emp_to_pop_pct must lie in 0-100 %; 1 row\(s\).*\(2010, 'F', '15-19'\)"):
        nr.read_ilostat_employment(p)
    pd.DataFrame({"year": [2010], "sex": ["F"], "age": ["x"], "mx": [0.1], "deaths": [1],
                  "population_jan1": [10]}).to_csv(p)
    with pytest.raises(InputError, match=r"column 'age' must be whole ages.*'x'"):
        nr.read_hmd_mortality(p)


def test_jumps_in_both_sexes_are_breaks():
    years = range(2000, 2012)
    emp = pd.concat([_employment([y], {**MEANS, "15-19": 0.3 + 0.01 * (y % 2) + (0.1 if y >= 2008 else 0)}, 0.2,
                                 0.7) for y in years])
    cov = pd.DataFrame({"coverage": "65-74"}, index=pd.Index(list(years), name="year"))
    b = nr.employment_series_breaks(emp, cov, years=years)
    jumps = b[b["kind"] == "jump"]
    assert jumps[["year", "group"]].values.tolist() == [[2008, "15-19"]]
    assert set(b.loc[b["kind"] == "documented", "year"]) == {2006}


# --------------------------------------------------------------------------- the real tables
@pytest.fixture(scope="module")
def real_tables(real_data_dir):
    emp = nr.read_ilostat_employment(real_data_dir / "employment" / "employment_rate_by_age_sex_ilostat_2000_2024.csv")
    mort = nr.read_hmd_mortality(real_data_dir / "mortality" / "hmd_mx_deaths_population_1x1_2000_2023.csv.gz")
    return emp, mort


def test_real_rates_reproduce_the_group_means(real_tables):
    emp, mort = real_tables
    res = nr.national_rates(emp, mort, mortality=mort)
    by_year = res.employment_rates_by_year
    for (year, sex), row in res.group_means.iterrows():
        single = by_year.xs(year, level="year")[sex]
        for g in GROUPS + ["65-74"]:
            lo, hi = (65, 74) if g == "65-74" else (int(g[:2]), int(g[:2]) + 4)
            assert single.loc[lo:hi].mean() == pytest.approx(row[g], abs=MEAN_TOL), (year, sex, g)
    # the 5-year groups are the published rates themselves (ILOSTAT, in %)
    pub = emp[(emp["year"] == 2010) & (emp["sex"] == "male")].set_index("age_group")["rate"]
    assert res.group_means.loc[(2010, "male"), "30-34"] == pytest.approx(pub["30-34"], abs=1e-12)
    assert ((res.employment_rates >= 0) & (res.employment_rates <= 1)).all().all()


def test_real_open_group_and_breaks(real_tables):
    emp, mort = real_tables
    res = nr.national_rates(emp, mort, mortality=mort, years=range(2003, 2023))
    cov = res.coverage["coverage"]
    assert (cov.loc[2000:2019] == "65-74").all() and (cov.loc[2020:2024] == "65+").all()
    kinds = {(int(r.year), r.kind) for r in res.breaks.itertuples()}
    assert {(2006, "documented"), (2020, "coverage"), (2021, "documented"), (2019, "jump")} <= kinds
    text = " ".join(res.notes)
    assert "series break 2020 (coverage)" in text and "fits neither reading of the open group within 2 points (both sexes) in 2019" in text


def test_real_death_probabilities(real_tables):
    _, mort = real_tables
    q = nr.death_probabilities_from_rates(mort, years=range(2003, 2017))
    assert ((q >= 0) & (q <= 1)).all().all()
    assert (q.loc[50:100].diff().dropna() > 0).all().all()  # rises with every year of age from 50 to 100
    # 2019 by hand: deaths / exposure at 80 (female), m = deaths / (deaths / mx)
    r = mort[(mort["year"] == 2019) & (mort["sex"] == "female") & (mort["age"] == 80)].iloc[0]
    assert nr.death_probabilities_from_rates(mort, years=[2019]).loc[80, "female"] == pytest.approx(
        r["mx"] / (1 + r["mx"] / 2), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("panel", ["2003-2016", "2003-2022"])
def test_ds_is_finite_with_a_standard_error_on_the_real_data(real_data_dir, panel):
    from geoattr.datasets import norway
    from geoattr.models.ols import estimate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InvalidGeometryWarning)
        data = norway.load(real_data_dir, panel=panel, units="stable")
    notes = " ".join(data.accounting["national_rates"].notes)
    assert "series break 2006 (documented)" in notes
    last = 2016 if panel == "2003-2016" else 2022
    for level in ("region", "municipality"):
        fit = estimate(data, "2022", unit_level=level, years=(2006, last), commuting_year="same")
        for design in (fit.design, fit.unit_design):
            ds = design.X["ds"]
            assert len(ds) == design.X.index.get_level_values("unit").nunique() * (last - 2005)
            assert np.isfinite(ds).all()
        se = fit.results.to_frame().loc["ds", "std_error"]
        assert np.isfinite(se) and se > 0


def _folder_without(real_data_dir, tmp_path, missing: str):
    """The real data folder by symbolic links, without one subfolder (nothing is copied)."""
    tmp_path.mkdir()
    for sub in real_data_dir.iterdir():
        if sub.name != missing:
            (tmp_path / sub.name).symlink_to(sub)
    return tmp_path


@pytest.mark.slow
def test_adapter_without_employment_or_mortality_and_on_2017_codes(real_data_dir, tmp_path):
    from geoattr.datasets import norway
    from geoattr.models.ols import estimate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InvalidGeometryWarning)
        no_emp = norway.load(_folder_without(real_data_dir, tmp_path / "a", "employment"), units="stable")
        no_mort = norway.load(_folder_without(real_data_dir, tmp_path / "b", "mortality"), units="stable")
    with pytest.raises(InputError, match=r"ds term needs employment_rates: no national employment rates "
                                         r"\(employment/\).*add employment/employment_rate_by_age"):
        estimate(no_emp, "2022", years=(2006, 2016), commuting_year=2017)
    # without mortality/ the Gompertz fit is the fallback, and the open group uses the units' population
    notes = " ".join(no_mort.accounting["national_rates"].notes)
    assert "Gompertz fit" in notes and no_mort.death_probabilities is not None
    assert np.isfinite(estimate(no_mort, "2022", years=(2006, 2016), commuting_year=2017).design.X["ds"]).all()
    # the 426 codes of 2017: the population by age carried by the crosswalk (population shares where codes were
    # merged or split later), so DS is estimable there too (it was an InputError asking for units = "stable").
    # Reference: the published population of the 2003-2016 panel; observed largest difference 18 persons (0.41 %,
    # 1617 Hitra in 2012); tolerance 25 persons and 0.5 %, national totals within 0.01 %.
    d17 = norway.load(real_data_dir)
    tot = d17.population_by_age.groupby(["unit", "year"])["population"].sum()
    pub = d17.panel["population"].reindex(tot.index).dropna()
    diff = tot.reindex(pub.index) - pub
    assert len(pub) == 426 * 12 - 2 and diff.abs().max() < 25 and (diff / pub).abs().max() < 0.005
    nat = tot.reindex(pub.index).groupby(level="year").sum() / pub.groupby(level="year").sum()
    assert ((nat - 1).abs() < 1e-4).all()
    assert "carried to the 2017 codes by the crosswalk" in " ".join(d17.accounting["population_by_age"].notes)
    fit17 = estimate(d17, "2022", years=(2006, 2016), commuting_year=2017)
    assert np.isfinite(fit17.design.X["ds"]).all() and fit17.results.to_frame().loc["ds", "std_error"] > 0
