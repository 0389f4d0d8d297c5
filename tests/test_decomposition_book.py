"""The decomposition as the book does it: the intercept convention, births and deaths from the
population by age, the waterfall with subtotals, the configuration, and the SSB data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from geoattr import pipeline
from geoattr.config import DECOMPOSITION_CONVENTIONS, check_run_config
from geoattr.decomposition import CONVENTIONS, book_form, decompose
from geoattr.exceptions import InputError
from geoattr.models.ols import estimate
from geoattr.natural_change import estimate_fertility_rates
from geoattr.report.figures import decomposition_waterfall
from geoattr.report.profiles import write_profiles
from geoattr.report.waterfall import waterfall_steps, waterfall_svg

MIGRATION = ["national_immigration", "centrality", "neighbour_job_growth", "own_job_growth", "other",
             "attractiveness"]


def _wide(dec):
    return dec.pivot(index="unit", columns="component", values="persons_per_year")


def _age_table(years, *, age0_0103=60.0):
    """Ages 0-80, 10 x k persons per sex and age (k = 1, 2, 5 for 0101, 0102, 0103); 0103 has
    ``age0_0103 / 2`` per sex at age 0 instead of 50."""
    rows = []
    for unit, k in (("0101", 1), ("0102", 2), ("0103", 5)):
        for y in years:
            for sex in ("female", "male"):
                for age in range(81):
                    n = age0_0103 / 2 if (unit == "0103" and age == 0) else 10.0 * k
                    rows.append((unit, y, sex, age, n))
    return pd.DataFrame(rows, columns=["unit", "year", "sex", "age", "population"])


def _q(value=0.01, top=80):
    return pd.DataFrame({"female": value, "male": value}, index=pd.Index(range(top + 1), name="age"))


@pytest.fixture
def aged(toy_data):
    return toy_data.replace(population_by_age=_age_table(range(2000, 2006)), death_probabilities=_q())


# --------------------------------------------------------------------------- fertility estimate
def test_fertility_estimate_by_hand():
    """Children aged 0 on 1 January 2004 (7 + 18) over women 15-49 on 1 January 2003 (150 + 350)."""
    pa = pd.DataFrame([
        ("A", 2003, "female", 20, 100), ("A", 2003, "female", 30, 50), ("A", 2003, "female", 50, 40),
        ("A", 2003, "male", 20, 90), ("B", 2003, "female", 20, 200), ("B", 2003, "female", 30, 150),
        ("B", 2003, "female", 14, 60),
        ("A", 2004, "female", 0, 3), ("A", 2004, "male", 0, 4), ("B", 2004, "female", 0, 10), ("B", 2004, "male", 0, 8),
    ], columns=["unit", "year", "sex", "age", "population"])
    est = estimate_fertility_rates(pa)
    assert list(est.index) == [2003]
    assert est.loc[2003, "children_age0_next"] == 25 and est.loc[2003, "women"] == 500
    assert est.loc[2003, "rate"] == pytest.approx(0.05, rel=1e-15)
    with pytest.raises(InputError, match=r"needs the population by age of t and t\+1; missing for t = 2004"):
        estimate_fertility_rates(pa, years=[2003, 2004])


# --------------------------------------------------------------------------- births and deaths from ages
def test_components_add_up_exactly_from_the_age_table(aged):
    fit = estimate(aged, "2019", years=(2003, 2004))
    w = _wide(decompose(fit))
    np.testing.assert_allclose(w.drop(columns="observed").sum(axis=1), w["observed"], atol=1e-9)
    assert (w["discrepancy"].abs() < 1e-9).all()
    nm = aged.column("net_migration").loc[(slice(None), [2003, 2004])].groupby(level="unit").mean()
    np.testing.assert_allclose(w[MIGRATION].sum(axis=1), nm, rtol=1e-12)


def test_expected_births_and_deaths_by_hand(aged):
    """Hand calculation on the age table of ``_age_table``.

    Women 15-49: 350 k; children aged 0: 20 (0101), 40 (0102), 60 (0103): national rate
    120 / 2800 per woman, so expected births 15, 30 and 75 (births: 20, 40, 60).
    Deaths: births - (observed - net migration); expected deaths proportional to
    0.01 x population by age (1620, 3240, 8060 persons), scaled to the national deaths.
    """
    fit = estimate(aged, "2019", years=(2003, 2004))
    w = _wide(decompose(fit, years=(2003, 2003)))
    np.testing.assert_allclose(w["expected_births"], [15.0, 30.0, 75.0], rtol=1e-12)
    np.testing.assert_allclose(w["fertility_deviation"], [5.0, 10.0, -15.0], rtol=1e-12)
    panel = aged.panel.xs(2003, level="year")
    observed = aged.panel.xs(2004, level="year")["population"] - panel["population"]
    deaths = pd.Series([20.0, 40.0, 60.0], index=panel.index) - (observed - panel["net_migration"])
    raw = pd.Series([1620.0, 3240.0, 5 * 1600.0 + 60.0], index=panel.index) * 0.01
    expected = raw * deaths.sum() / raw.sum()
    np.testing.assert_allclose(-w["expected_deaths"], expected, rtol=1e-12)
    np.testing.assert_allclose(w["mortality_deviation"], expected - deaths, rtol=1e-12, atol=1e-12)
    # twice the population by age, twice the expected births and deaths
    assert w.loc["0102", "expected_deaths"] == pytest.approx(2 * w.loc["0101", "expected_deaths"], rel=1e-12)


def test_given_fertility_rates_shape_expected_births(aged):
    """Rates only at age 30: expected births follow the women aged 30 (10 k each), scaled to 120."""
    fit = estimate(aged, "2019", years=(2003, 2004))
    rates = pd.Series(0.0, index=range(81))
    rates[30] = 0.1
    w = _wide(decompose(fit, years=(2003, 2003), fertility_rates=rates))
    np.testing.assert_allclose(w["expected_births"], [15.0, 30.0, 75.0], rtol=1e-12)
    # as [analyses] fertility_rates = { 30 = 0.1 } reads from TOML (string keys)
    w = _wide(decompose(fit, years=(2003, 2003), fertility_rates={"30": 0.1, "31": 0.0}))
    np.testing.assert_allclose(w["expected_births"], [15.0, 30.0, 75.0], rtol=1e-12)
    with pytest.raises(InputError, match=r"fertility_rates must be births per woman in \[0, 1\]; ages '30' are not"):
        decompose(fit, fertility_rates={"30": 2.0})


def test_missing_ages_or_years_are_named(aged, toy_data):
    fit = estimate(aged, "2019", years=(2003, 2004))
    short = aged.replace(death_probabilities=_q(top=60))
    with pytest.raises(InputError, match=r"death_probabilities lack ages 61, 62, .* give every age 0-80"):
        decompose(estimate(short, "2019", years=(2003, 2004)))
    hole = aged.replace(population_by_age=_age_table(range(2000, 2005)))
    with pytest.raises(InputError, match=r"need the population by age of 1 January of t and t\+1, missing for "
                                         r"\('0101', 2004\)"):
        decompose(estimate(hole, "2019", years=(2003, 2004)))
    assert fit is not None


def test_gompertz_fallback_without_death_probabilities(aged):
    """No death probabilities in the data: the cohort-survival estimate; still exact."""
    pa = _age_table(range(2000, 2006))
    pa.loc[pa["age"] >= 60, "population"] *= 0.5 ** ((pa.loc[pa["age"] >= 60, "age"] - 59) / 5)
    data = aged.replace(population_by_age=pa, death_probabilities=None)
    dec = decompose(estimate(data, "2019", years=(2003, 2004)))
    w = _wide(dec)
    np.testing.assert_allclose(w.drop(columns="observed").sum(axis=1), w["observed"], atol=1e-9)
    assert any("Gompertz" in n for n in dec.attrs["notes"])


# --------------------------------------------------------------------------- the intercept convention
def test_book_convention_is_the_book_form_of_the_model(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2004))
    book = book_form(fit)
    assert "const" not in book.results.params.index and book.options["constant"] is False
    assert book.options["relative_to_national"] is True and book_form(book) is book
    direct = estimate(toy_data, "2019", years=(2003, 2004), relative_to_national=True, constant=False)
    pd.testing.assert_series_equal(book.results.params, direct.results.params, rtol=1e-12)
    w, w_direct = _wide(decompose(fit)), _wide(decompose(direct, convention="as_estimated"))
    pd.testing.assert_frame_equal(w, w_direct, rtol=1e-10, atol=1e-9)
    # the national rate is national immigration and no constant is left over in "other"
    nat = 100 * (2 + 4 + 6) / (1030 + 2060 + 5150)
    assert w.loc["0103", "national_immigration"] == pytest.approx(
        np.mean([nat * 5150 / 100, 100 * (-1 - 2 - 3) / (1040 + 2080 + 5200) * 5200 / 100]), rel=1e-12)
    assert (w["other"].abs() < 1e-12).all()
    old = _wide(decompose(fit, convention="as_estimated"))
    assert old["other"].abs().max() > 1e-3  # the constant beyond the national rate


def test_book_convention_with_year_effects_and_region_level(toy_data):
    fit = estimate(toy_data, ["vra"], years=(2003, 2005), unit_level="region", year_effects=True)
    book = book_form(fit)
    assert list(book.results.params.index) == ["vra"] and book.unit_design.X.columns.tolist() == ["vra"]
    w = _wide(decompose(fit, years=(2003, 2004)))
    assert set(w.index) == {"0101", "0102", "0103"}  # the region coefficients applied to the municipalities
    np.testing.assert_allclose(w.drop(columns="observed").sum(axis=1), w["observed"], atol=1e-9)


def test_convention_errors(toy_data):
    fit = estimate(toy_data, ["vra"], years=(2003, 2003))
    with pytest.raises(InputError, match=r"convention must be one of \['book', 'as_estimated'\], got 'bok'"):
        decompose(fit, convention="bok")
    only_const = estimate(toy_data, [], years=(2003, 2003))
    with pytest.raises(InputError, match=r"no regressor left .* use convention='as_estimated'"):
        decompose(only_const)
    assert CONVENTIONS == DECOMPOSITION_CONVENTIONS


# --------------------------------------------------------------------------- configuration
def test_config_accepts_a_table_and_names_bad_values():
    check_run_config({"analyses": {"decomposition": {"convention": "as_estimated"}}, "model": {"constant": False}})
    check_run_config({"analyses": {"decomposition": True}})
    with pytest.raises(InputError, match=r"\[analyses\]\.decomposition convention must be 'book' or "
                                         r"'as_estimated', got 'bok'"):
        check_run_config({"analyses": {"decomposition": {"convention": "bok"}}})
    with pytest.raises(InputError, match=r"unknown key.*\[analyses\]\.decomposition.*conventions"):
        check_run_config({"analyses": {"decomposition": {"conventions": "book"}}})
    with pytest.raises(InputError, match=r"\[analyses\] decomposition must be"):
        check_run_config({"analyses": {"decomposition": "book"}})


def test_run_writes_the_configured_convention(tmp_path, aged):
    cfg = {"model": {"spec": "2019", "level": "municipality"}, "data": {"years": [2003, 2005]},
           "analyses": {"yearly": False, "decomposition": {}},
           "output": {"map": False, "figures": False, "report": False, "profiles": False, "tables": False}}
    out = pipeline.run(cfg, out=tmp_path / "book", data=aged, progress=False)
    run = json.loads((out.out / "run.json").read_text())
    assert run["analyses"]["decomposition_convention"] == "book"
    book = pd.read_csv(out.out / "decomposition.csv", dtype={"unit": str})
    cfg["analyses"]["decomposition"] = {"convention": "as_estimated"}
    old = pd.read_csv(pipeline.run(cfg, out=tmp_path / "old", data=aged, progress=False).out / "decomposition.csv",
                      dtype={"unit": str})
    wb, wo = _wide(book), _wide(old)
    assert (wb["other"].abs() < 1e-9).all() and wo["other"].abs().max() > 1e-3
    np.testing.assert_allclose(wb["observed"], wo["observed"], rtol=1e-12)
    assert "expected_births" in wb.columns and (wb["discrepancy"].abs() < 1e-9).all()


# --------------------------------------------------------------------------- waterfall
@pytest.fixture
def dec_frame():
    comps = {"observed": 28.25, "expected_births": 50.0, "fertility_deviation": 2.0, "expected_deaths": -40.0,
             "mortality_deviation": -1.0, "national_immigration": 10.0, "centrality": 5.0, "attractiveness": 2.25,
             "discrepancy": 0.0}
    return pd.DataFrame({"unit": "0301", "component": list(comps), "persons_per_year": list(comps.values())})


def test_waterfall_steps_subtotals(dec_frame):
    s = waterfall_steps(dec_frame, "0301").set_index("component")
    assert list(s.index) == ["expected_births", "fertility_deviation", "expected_deaths", "mortality_deviation",
                             "natural_change", "national_immigration", "centrality", "attractiveness",
                             "net_migration", "discrepancy", "observed"]
    # natural change 50 + 2 - 40 - 1 = 11, spanning 0 -> 11; net migration 17.25 spanning 11 -> 28.25
    assert tuple(s.loc["natural_change", ["value", "start", "end"]]) == (11.0, 0.0, 11.0)
    assert tuple(s.loc["net_migration", ["value", "start", "end"]]) == (17.25, 11.0, 28.25)
    assert s.loc["observed", "label"] == "Observed change" and s.loc["centrality", "start"] == 21.0
    assert s.loc["net_migration", "kind"] == "subtotal" and s.loc["observed", "kind"] == "total"


def test_waterfall_figure_with_subtotals(dec_frame):
    ax = decomposition_waterfall(dec_frame, "0301", subtotals=True).axes[0]
    assert len(ax.patches) == 11
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[4] == "Natural change" and labels[8] == "Net migration" and labels[-1] == "Observed change"
    assert ax.patches[8].get_y() == pytest.approx(11.0) and ax.patches[8].get_height() == pytest.approx(17.25)


def test_waterfall_svg_and_profile_page(tmp_path, dec_frame):
    svg = waterfall_svg(dec_frame, "0301", title="Oslo <2003>")
    assert svg.startswith('<svg class="chart waterfall"') and svg.count("<rect") == 11
    assert "Natural change" in svg and "Job growth in neighbouring units" not in svg and "Oslo &lt;2003&gt;" in svg
    assert ">+11.0</text>" in svg and ">+28.2</text>" in svg and "expected_births</text>" not in svg
    att = pd.DataFrame({"actual": [1.0, 2.0], "expected": [0.5, 1.0], "residual": [0.5, 1.0],
                        "residual_persons": [3.0, 6.0]},
                       index=pd.MultiIndex.from_product([["0301"], [2003, 2004]], names=["unit", "year"]))
    pages = write_profiles(tmp_path, att=att, decomposition=dec_frame, decomposition_years=(2003, 2004),
                           names={"0301": "Oslo"})
    page = pages["0301"].read_text()
    assert '<svg class="chart waterfall"' in page and "Expected births" in page and "Net migration" in page
    assert 'aria-label="population change of Oslo 2003-2004, persons per year, by component"' in page
    assert "<script src=" not in page and "http" not in page.split("<svg class=\"chart waterfall\"")[1][:4000]
