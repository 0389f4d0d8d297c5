"""report.html and the profile pages in headless Chromium, offline (Debian chromium + Selenium).

Skips with the reason when chromium/chromedriver are absent (see the ``browser`` fixture).
"""

from __future__ import annotations

import pandas as pd
import pytest

from geoattr import pipeline

CONFIG = {
    "data": {"source": "synthetic", "seed": 2022, "years": [2014, 2023]},
    "model": {"spec": ["2022"], "level": ["region"]},
    "analyses": {"yearly": True, "decomposition": True, "decomposition_years": [2014, 2022], "uncertainty": True},
    "comparison": {"enabled": True, "models": ["vra_ols", "sar"], "weights": ["commuting", "queen"]},
    "output": {"top_n": 5},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-run")
    pipeline.run(CONFIG, out=out, progress=False)  # geoattr warnings (contiguity isolates) go to run.json
    return out


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.mark.slow
def test_report_in_browser(browser, run_dir, save_artifact):
    browser.get((run_dir / "report.html").as_uri())
    d = browser
    assert d.title.startswith("Residential attractiveness: VRA 2022 (region model)")
    # every figure is embedded and decodes to a real image
    widths = d.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert len(widths) == 5 and min(widths) > 100
    assert d.find_element("id", "model-table").text.count("vra_l1") == 1
    comp = d.find_element("id", "comparison-table").text
    assert "sar|commuting" in comp and "sar|queen" in comp
    acc = d.find_element("id", "row-accounting").text
    assert "design" in acc
    # the map in its iframe draws one polygon per unit of the first layer
    frame = d.find_element("id", "map-frame")
    d.switch_to.frame(frame)
    try:
        n = d.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")
        assert n >= 356
    finally:
        d.switch_to.default_content()
    save_artifact("report.png", d)
    assert _severe(d) == []


@pytest.mark.slow
def test_profile_period_picker(browser, run_dir, save_artifact):
    from selenium.webdriver.support.ui import Select

    att = pd.read_csv(run_dir / "attractiveness.csv", dtype={"unit": str}).set_index(["unit", "year"])
    unit = "0301"
    browser.get((run_dir / "profiles" / "index.html").as_uri())
    n_units = len(browser.find_elements("css selector", "#units tbody tr"))
    assert n_units == att.index.get_level_values("unit").nunique()
    Select(browser.find_element("id", "unit")).select_by_value(f"{unit}.html")
    Select(browser.find_element("id", "from")).select_by_value("2016")
    Select(browser.find_element("id", "to")).select_by_value("2019")
    browser.find_element("id", "open").click()
    assert browser.current_url.endswith(f"/profiles/{unit}.html#from=2016&to=2019")
    assert browser.find_element("id", "period").text == "2016-2019 (4 years)"
    # the page's sum over the period equals attractiveness.csv summed by hand (2 decimals shown)
    expected = att.loc[unit].loc[2016:2019, "residual"].sum()
    assert float(browser.find_element("id", "period-residual").text) == pytest.approx(expected, abs=0.006)
    lo, hi = (float(x) for x in browser.find_element("id", "period-interval").text.strip("[]").split(","))
    assert lo < expected < hi
    # changing the period in the page updates the summary
    Select(browser.find_element("id", "to")).select_by_value("2023")
    assert browser.find_element("id", "period").text == "2016-2023 (8 years)"
    expected = att.loc[unit].loc[2016:2023, "residual"].sum()
    assert float(browser.find_element("id", "period-residual").text) == pytest.approx(expected, abs=0.006)
    assert len(browser.find_elements("css selector", "#yearly tr.selected")) == 8
    save_artifact("profile.png", browser)
    assert _severe(browser) == []
