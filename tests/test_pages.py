"""The pages people look at (issues 18 and 21): one scenario formula, readable labels, bars, the forecast wiring.

Numbers are hand calculations or the projection itself: the calculator's first-year
effect must equal the forecast's scenario effect in the year of the change (rtol 1e-9,
both are the same floating-point formula on the same inputs up to rounding).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import geoattr
from geoattr.config import FORECAST_SCHEMA, validate
from geoattr.exceptions import InputError
from geoattr.forecast import forecast
from geoattr.forecast.scenario import job_change_effect
from geoattr.pipeline.forecast import fan_units, forecast_report
from geoattr.report.calculator import calculator_from_forecast, calculator_inputs, scenario_effect
from geoattr.report.charts import bar_chart_svg
from geoattr.report.forecast import write_forecast_page
from geoattr.report.labels import COMPONENT_LABELS, label, term_labels
from geoattr.report.profiles import write_profiles
from geoattr.report.waterfall import COMPONENT_LABELS as WATERFALL_LABELS

BOOK = (0.38, 0.26, 0.18)
SCENARIO = {"name": "plant", "unit": "1804", "year": 2024, "jobs": 500.0}


@pytest.fixture(scope="module")
def small(synthetic_data):
    """A one-year forecast with 500 jobs more at 1804 in its first year (2024)."""
    fit = geoattr.estimate(synthetic_data, "2022")
    return forecast(fit, horizon=1, draws=10, seed=1, scenarios=[SCENARIO])


# --------------------------------------------------------------------------- one scenario formula
def test_job_change_effect_by_hand():
    # the book: everyone works locally, as many residents as jobs, no national term: 100 jobs -> 38 + 26 + 18
    np.testing.assert_allclose(job_change_effect(BOOK, change=100, jobs=1000, population=1000, share=1.0),
                               [38.0, 26.0, 18.0], atol=1e-12)
    # with the national term: VRA moves by 0.25 * 100 * -300 / 1000 - 100 * -300 / 10000 = -7.5 + 3 = -4.5 pp;
    # 2000 residents: 0.38 * -4.5 * 20 = -34.2, then -23.4 and -16.2
    eff = job_change_effect(BOOK, change=-300, jobs=1000, population=2000, share=0.25, national_jobs=10_000)
    np.testing.assert_allclose(eff, [-34.2, -23.4, -16.2], atol=1e-12)
    # vectorised over units: a unit with no share gets only the national term
    many = job_change_effect(BOOK, change=-300, jobs=1000, population=[2000, 100], share=[0.25, 0.0],
                             national_jobs=10_000)
    assert many.shape == (3, 2) and many[0, 1] == pytest.approx(0.38 * 3 * 100 / 100, abs=1e-12)


def test_calculator_uses_the_engine_formula_with_the_national_total():
    shares = pd.DataFrame({"unit": ["A", "B", "B"], "destination": ["A", "B", "A"], "share": [1.0, 0.75, 0.25]})
    inp = calculator_inputs(coefficients=dict(zip(("vra", "vra_l1", "vra_l2"), BOOK)), shares=shares,
                            jobs={"A": 1000, "B": 500}, population={"A": 1000, "B": 2000}, national_jobs=10_000)
    got = scenario_effect(inp, unit="B", destination="A", jobs_change=-300)
    assert got.tolist() == pytest.approx([-34.2, -23.4, -16.2, -73.8], abs=1e-9)  # as by hand above
    with pytest.raises(InputError, match=r"national_jobs must be a positive number .*got 0"):
        calculator_inputs(coefficients=dict(zip(("vra", "vra_l1", "vra_l2"), BOOK)), shares=shares,
                          jobs={"A": 1000, "B": 500}, population={"A": 1000, "B": 2000}, national_jobs=0)


def test_calculator_of_a_forecast_equals_the_projection_in_the_first_year(small):
    calc = calculator_from_forecast(small)
    assert calc.national_jobs == pytest.approx(float(small.jobs.sum()), rel=1e-12) and calc.year == 2024
    eff = small.scenarios.set_index(["unit", "year"])["persons"].xs(2024, level="year")
    commuters = small.shares[small.shares["destination"] == "1804"]["unit"].tolist()
    assert len(commuters) >= 2  # 1804 itself and a neighbour
    for u in [*commuters, "0301"]:  # 0301: nobody works in 1804, only the national term
        got = scenario_effect(calc, unit=u, destination="1804", jobs_change=SCENARIO["jobs"])["year 1"]
        assert got == pytest.approx(eff[u], rel=1e-9, abs=1e-12), u
    with pytest.raises(InputError, match="calculator_from_forecast needs geoattr.forecast"):
        calculator_from_forecast({"coefficients": {}})


# --------------------------------------------------------------------------- labels and charts
def test_one_label_mapping():
    assert label("vra_l1") == "Relative job growth (lag 1)" and label("vra") == "Relative job growth"
    assert label("net_migration") == "Net migration" and label("nv_l2") == "Neighbours' relative job growth (lag 2)"
    assert label("students_per_capita") == "students per capita"  # unknown: the id with spaces
    assert term_labels(["vra_l2", "centrality"]) == {"vra_l2": "Relative job growth (lag 2) [vra_l2]",
                                                     "centrality": "Centrality"}
    assert WATERFALL_LABELS is COMPONENT_LABELS  # the waterfall reads the one mapping


def test_bar_chart_svg():
    svg = bar_chart_svg(["Oslo <b> (0301)", "other (3 units)", "Bærum"], [62.5, -10.0, np.nan], unit=" %",
                        title="t & u")
    assert svg.count('<rect class="bar"') == 2 and 'fill="#b2182b"' in svg  # the NaN has no bar, the negative is red
    assert "Oslo &lt;b&gt; (0301)" in svg and "<b>" not in svg and "62.5 %" in svg
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="[^"]*" y="[^"]*" width="([^"]*)"', svg)]
    assert widths[0] == pytest.approx(6.25 * widths[1], rel=1e-2)  # lengths proportional to the values
    with pytest.raises(InputError, match="2 labels for 1 values"):
        bar_chart_svg(["a", "b"], [1.0])


# --------------------------------------------------------------------------- the wiring's pieces
def test_fan_units_default_and_configured(small):
    cum = pd.DataFrame({"residual": [3.0, -2.0, 0.5]}, index=pd.Index(["1103", "0301", "9999"], name="unit"))
    # the scenario's workplace first, then the most and the least attractive projected unit (9999 is not projected)
    assert fan_units(small, {"scenario": [SCENARIO]}, cum) == ["1804", "1103", "0301"]
    assert fan_units(small, {"fan_units": ["0301", "0301", "1101"]}) == ["0301", "1101"]
    with pytest.raises(InputError, match=r"fan_units '9999' are not units of the forecast"):
        fan_units(small, {"fan_units": ["9999"]})
    validate({"fan_units": ["0301"]}, FORECAST_SCHEMA, section="[forecast]")
    with pytest.raises(InputError, match="fan_units"):
        validate({"fan_units": "0301"}, FORECAST_SCHEMA, section="[forecast]")


def test_forecast_page(small, tmp_path):
    kw = forecast_report(small, ["1804", "0301"], names={"1804": "Plant <town>"})
    page = write_forecast_page(tmp_path / "forecast.html", title="Forecast <1>", notes=small.notes,
                               files={"forecast": tmp_path / "forecast.csv"}, **kw).read_text(encoding="utf-8")
    assert "<h1>Forecast &lt;1&gt;</h1>" in page and '<h2 id="forecast">' in page and "<town>" not in page
    assert re.findall(r'<svg class="fan-chart".*?aria-label="([^"]*)"', page)[:2] == \
        ["Plant &lt;town&gt;: net migration", "Plant &lt;town&gt;: population"]
    assert 'id="scenario-table"' in page and page.count("<li>") == len(small.notes) + 1
    assert '<a href="forecast.csv">' in page



def test_calculator_page_gives_the_projections_first_year_effect(browser, small, tmp_path):
    """The page's JavaScript (unrounded, data-value) equals the forecast's scenario effect in 2024, rtol 1e-9."""
    from selenium.webdriver.support.ui import Select

    calc = calculator_from_forecast(small)
    commuter = small.shares[(small.shares["destination"] == "1804") & (small.shares["unit"] != "1804")]["unit"].iloc[0]
    units = ["1804", commuter]
    idx = pd.MultiIndex.from_product([units, range(2019, 2024)], names=["unit", "year"])
    att = pd.DataFrame({"actual": 1.0, "expected": 0.5, "residual": 0.5}, index=idx)
    pages = write_profiles(tmp_path, att=att, calculator=calc, report=None)
    eff = small.scenarios.set_index(["unit", "year"])["persons"].xs(2024, level="year")
    for u in units:
        browser.get(pages[u].as_uri())
        picker = Select(browser.find_element("id", "calc-destination"))
        picker.select_by_index([d for d, _ in calc.workplaces[u]].index("1804"))
        box = browser.find_element("id", "calc-jobs")
        box.clear()
        box.send_keys(f"{SCENARIO['jobs']:g}")
        shown = float(browser.find_element("id", "calc-y1").get_attribute("data-value"))
        python = scenario_effect(calc, unit=u, destination="1804", jobs_change=SCENARIO["jobs"])
        assert shown == pytest.approx(eff[u], rel=1e-9), u
        totals = float(browser.find_element("id", "calc-total").get_attribute("data-value"))
        assert totals == pytest.approx(python["total"], rel=1e-9), u
    assert [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"] == []


def test_a_forecast_the_calculator_refuses_leaves_the_pages_without_it(small, tmp_path, monkeypatch):
    from dataclasses import replace

    from geoattr.exceptions import GeoattrWarning
    from geoattr.pipeline import forecast as pipeline_forecast

    bad = replace(small, jobs=small.jobs.where(small.jobs.index != "1804", 0.0))
    with pytest.raises(InputError, match=r"jobs must be positive and finite; not so for '1804'"):
        calculator_from_forecast(bad)
    monkeypatch.setattr(pipeline_forecast, "forecast_from_config", lambda *a, **k: bad)
    kept: dict = {}
    with pytest.warns(GeoattrWarning, match=r"no scenario calculator: jobs must be positive .*'1804'"):
        pipeline_forecast.forecast_step(None, {}, tmp_path, {}, kept=kept)
    assert kept["forecast"] is bad and "calculator" not in kept
    assert (tmp_path / "forecast.csv").exists()  # the forecast's files are written all the same
