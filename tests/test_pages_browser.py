"""Every page type of a run in headless Chromium: the charts render and the console has no errors (issue 21).

Reuses the session's ``geoattr demo`` output (``demo_output``, which has a ``[forecast]``
section) and the session's browser; ``forecast.html`` is written from the demo's forecast
CSVs by the same function ``geoattr forecast`` uses.  A chart "renders" when its element
has a non-empty box on the page and draws something (SVG shapes, map paths or a canvas).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from geoattr.report.forecast import write_forecast_page

pytestmark = pytest.mark.slow

#: Per SVG on the page: class, width, height and the number of shapes it draws.
_SVGS = """return Array.from(document.querySelectorAll('svg')).map(s => {const r = s.getBoundingClientRect();
  return [s.getAttribute('class') || '', r.width, r.height,
          s.querySelectorAll('path,polygon,polyline,rect,circle,line').length];});"""
#: Map layers drawn: interactive SVG paths and non-empty canvases.
_MAP = """return [document.querySelectorAll('path.leaflet-interactive').length,
  Array.from(document.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0).length];"""


def _open(browser, path):
    browser.get_log("browser")  # clear what earlier pages logged
    browser.get(path.as_uri())


def _severe(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def _drawn(browser, cls: str) -> list[list]:
    """The SVGs whose class contains ``cls``, each checked to have a box and shapes."""
    svgs = [s for s in browser.execute_script(_SVGS) if cls in s[0].split()]
    for c, w, h, n in svgs:
        assert w > 0 and h > 0 and n > 0, (c, w, h, n)
    return svgs


def _wait_for_map(browser, timeout: float = 20.0) -> list[int]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda d: sum(d.execute_script(_MAP)) > 0)
    return browser.execute_script(_MAP)


def test_demo_run_wires_the_forecast_into_its_pages(demo_output):
    out, _ = demo_output
    assert (out / "figures" / "fan_chart.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (out / "figures" / "fan_chart.svg").read_bytes()[:2000]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="forecast">' in report and report.count('<svg class="fan-chart"') >= 4
    assert "Relative job growth (lag 1) [vra_l1]" in report
    exported = json.loads((out / "calculator.json").read_text(encoding="utf-8"))
    page = (out / "profiles" / "1804.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="calculator-data">(.*?)</script>', page, re.S).group(1))
    assert data["national_jobs"] == pytest.approx(exported["national_jobs"], rel=1e-12)
    assert data["coefficients"] == [exported["coefficients"][k] for k in ("b_vra", "b_vra_l1", "b_vra_l2")]
    assert '<svg class="bar-chart"' in page


def test_report_page(browser, demo_output, save_artifact):
    out, _ = demo_output
    _open(browser, out / "report.html")
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert len(widths) >= 5 and min(widths) > 100  # the embedded PNG figures decode
    fans = _drawn(browser, "fan-chart")
    assert len(fans) >= 4  # net migration and population of at least two units
    assert browser.find_elements("css selector", "#scenario-table tr") and \
        browser.find_elements("css selector", "#backtest-table tr")
    assert "Relative job growth (lag 1)" in browser.find_element("id", "model-table").text
    save_artifact("pages_report.png", browser)
    assert _severe(browser) == []


def test_profile_page(browser, demo_output, save_artifact):
    out, _ = demo_output
    _open(browser, out / "profiles" / "1804.html")
    assert len(_drawn(browser, "chart")) >= 1  # attractiveness over time with its band (+ the waterfall)
    assert browser.find_elements("css selector", "svg.chart polygon.band")
    assert len(_drawn(browser, "waterfall")) == 1
    bars = _drawn(browser, "bar-chart")
    assert len(bars) == 1 and bars[0][3] >= 2  # commuting destinations as bars
    # the calculator computed its numbers on load (the default change of 100 jobs)
    assert browser.find_element("id", "calc-total").text not in ("", "NaN")
    text = browser.find_element("tag name", "body").text
    assert "Net migration" in text and "net_migration" not in text  # readable component names
    save_artifact("pages_profile.png", browser)
    assert _severe(browser) == []


@pytest.mark.parametrize("name", ["map.html", "barometer_map.html"])
def test_map_pages(browser, demo_output, name):
    out, _ = demo_output
    _open(browser, out / name)
    paths, canvases = _wait_for_map(browser)
    assert paths >= 100 or canvases >= 1, (paths, canvases)
    assert _severe(browser) == []


def test_forecast_page(browser, demo_output, tmp_path, save_artifact):
    out, _ = demo_output
    read = {k: pd.read_csv(out / f"{k}.csv", dtype={"unit": str})
            for k in ("forecast", "forecast_history", "scenario", "backtest")}
    page = write_forecast_page(tmp_path / "forecast.html", title="Forecast", forecast=read["forecast"],
                               forecast_history=read["forecast_history"], scenario=read["scenario"],
                               backtest=read["backtest"], forecast_units=["1804", "0301"])
    _open(browser, page)
    assert len(_drawn(browser, "fan-chart")) == 4
    save_artifact("pages_forecast.png", browser)
    assert _severe(browser) == []
