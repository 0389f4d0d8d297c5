"""Forecast outputs: fan charts, the report's forecast section, the profile pages' scenario calculator.

The frames are built by hand with the shapes a forecast writes (forecast.csv, scenario.csv,
backtest.csv), so every number checked here is known in advance.  The calculator's
expected effects are hand calculations of ``effect_k = b_k/100 * P_i * s_ij * 100 * dJ / J_j``;
the book's worked example (100 jobs in a unit without commuting, coefficients 0.38, 0.26,
0.18) gives 38 + 26 + 18 = 82 persons.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from geoattr.exceptions import InputError
from geoattr.report import html as html_mod
from geoattr.report.calculator import (
    CALCULATOR_JS,
    calculator_data,
    calculator_html,
    calculator_inputs,
    scenario_effect,
)
from geoattr.report.forecast import (
    BACKTEST_COLUMNS,
    FORECAST_COLUMNS,
    HISTORY_COLUMNS,
    SCENARIO_COLUMNS,
    check_forecast_frame,
    fan_chart,
    fan_chart_svg,
    forecast_section,
)
from geoattr.report.html import write_report
from geoattr.report.profiles import write_profiles

BOOK = {"const": 0.1, "vra": 0.38, "vra_l1": 0.26, "vra_l2": 0.18}
EVIL = "</script><script>alert(1)</script>"


@pytest.fixture
def frames():
    """Forecast 2024-2028 of three units (mean 10 + year index, interval +-2*(h)), history 2018-2023."""
    fc = [(u, y, q, m, m - 2 * (y - 2023), m + 2 * (y - 2023))
          for u, base in (("0301", 1000.0), ("1103", 500.0), ("5001", 200.0))
          for y in range(2024, 2029)
          for q, m in (("net_migration", 10.0 + y - 2024), ("population", base + 5 * (y - 2024)))]
    hist = [(u, y, q, v) for u in ("0301", "1103", "5001") for y in range(2018, 2024)
            for q, v in (("net_migration", 8.0 + 0.1 * (y - 2018)), ("population", 900.0))]
    scen = [("oslo +100", u, y, p) for u, k in (("0301", 1.0), ("1103", 0.25))
            for y, p in zip(range(2024, 2029), (38 * k, 26 * k, 18 * k, 0.0, 0.0))]
    bt = [("model", 1, 1.5, 1.2, 0.1, 0.95), ("zero", 1, 3.0, 2.5, -2.0, np.nan)]
    return (pd.DataFrame(fc, columns=FORECAST_COLUMNS), pd.DataFrame(hist, columns=HISTORY_COLUMNS),
            pd.DataFrame(scen, columns=SCENARIO_COLUMNS), pd.DataFrame(bt, columns=BACKTEST_COLUMNS))


def _points(el):
    return [tuple(float(v) for v in p.split(",")) for p in el.get("points").split()]


# --------------------------------------------------------------------------- fan charts
def test_fan_chart_svg_has_band_history_and_mean_inside_the_band(frames):
    fc, hist, _, _ = frames
    svg = fan_chart_svg(fc, "0301", history=hist, title="Oslo <&> 'x'")
    root = ET.fromstring(svg)  # well-formed XML, the title escaped
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:title", ns).text == "Oslo <&> 'x'"
    band = _points(root.find("s:polygon[@class='band']", ns))
    mean = _points(root.find("s:polyline[@class='mean']", ns))
    history = _points(root.find("s:polyline[@class='history']", ns))
    # 5 forecast years plus the joining last observed year (2023), there and back
    assert len(band) == 2 * 6 and len(mean) == 6 and len(history) == 6
    assert mean[0] == history[-1]  # the projection starts at the last observed point
    upper, lower = band[:6], band[6:][::-1]
    for (xu, yu), (xl, yl), (xm, ym) in zip(upper, lower, mean):
        assert xu == xl == xm
        assert yu <= ym <= yl  # SVG y grows downwards: upper end above the mean above the lower end
    assert yu < yl  # the last year's band has a width (+-10)


def test_fan_chart_figure_one_panel_per_unit(frames, tmp_path):
    fc, hist, _, _ = frames
    fig = fan_chart(fc, ["0301", "1103", "5001"], history=hist, names={"0301": "Oslo $x$"},
                    path=tmp_path / "fan.png")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 3 and (tmp_path / "fan.png").stat().st_size > 1000
    assert shown[0].get_title() == "Oslo \\$x\\$"  # drawn as written, never as mathtext
    for ax in shown:
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 1
        assert [ln.get_label() for ln in ax.lines] == ["observed", "projected mean"]
    with pytest.raises(InputError, match=r"no rows for unit '9999' and quantity 'net_migration'"):
        fan_chart(fc, ["9999"])
    with pytest.raises(InputError, match=r"suffix must be one of"):
        fan_chart(fc, "0301", path=tmp_path / "fan.pdf")


# --------------------------------------------------------------------------- bad frames
@pytest.mark.parametrize("kind,drop", [("forecast", "upper"), ("history", "value"),
                                       ("scenario", "persons"), ("backtest", "coverage95")])
def test_bad_frames_name_the_missing_columns(frames, kind, drop):
    frame = dict(zip(("forecast", "history", "scenario", "backtest"), frames))[kind].drop(columns=drop)
    with pytest.raises(InputError, match=rf"table '{kind}' lacks column\(s\) '{drop}'"):
        check_forecast_frame(frame, kind)


def test_bad_forecast_values_are_named(frames):
    fc, hist, scen, _ = frames
    swapped = fc.copy()
    swapped.loc[0, ["lower", "upper"]] = [5.0, 1.0]
    with pytest.raises(InputError, match=r"lower > upper in 1 row\(s\): \('0301', 2024, 'net_migration'\)"):
        fan_chart_svg(swapped, "0301")
    with pytest.raises(InputError, match=r"duplicate key\(s\) \(scenario, unit, year\)"):
        forecast_section(scenario=pd.concat([scen, scen.head(1)]))
    with pytest.raises(InputError, match=r"table 'forecast' lacks column\(s\) 'mean'"):
        write_report("unused.html", title="t", summary={}, row_accounting=[], model_table="",
                     forecast=fc.drop(columns="mean"))
    with pytest.raises(InputError, match="history but no forecast"):
        forecast_section(history=hist, backtest=frames[3])
    with pytest.raises(InputError, match="at least one of forecast, scenario and backtest"):
        forecast_section()


# --------------------------------------------------------------------------- report section
def _report(path, **kw):
    return write_report(path, title="T", summary={"units": 3}, row_accounting=[], model_table="<table></table>",
                        **kw).read_text(encoding="utf-8")


def test_report_section_only_with_forecast_and_otherwise_unchanged(frames, tmp_path, monkeypatch):
    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4)

    monkeypatch.setattr(html_mod._dt, "datetime", Frozen)
    fc, hist, scen, bt = frames
    plain = _report(tmp_path / "plain.html")
    assert "forecast" not in plain.lower() and "scenario" not in plain.lower()
    full = _report(tmp_path / "full.html", forecast=fc, forecast_history=hist, scenario=scen, backtest=bt,
                   names={"0301": "Oslo <b>", "1103": "Bergen"})
    # the section and its nav link are the only differences
    section = re.search(r'\n<h2 id="forecast">.*?</div>(?=\n<h2|\n</body>)', full, re.S)
    assert section is not None
    assert full.replace(section.group(0), "").replace('<a href="#forecast">Forecast</a>', "") == plain
    body = section.group(0)
    # fan charts: the most affected unit of the scenario first, then by population; two quantities each
    charts = re.findall(r'<svg class="fan-chart".*?aria-label="([^"]*)"', body)
    assert charts == ["Oslo &lt;b&gt;: net migration", "Oslo &lt;b&gt;: population", "Bergen: net migration",
                      "Bergen: population", "5001: net migration", "5001: population"]
    assert body.count('<polygon class="band"') == 6
    assert "<b>" not in body  # names escaped
    # scenario table: totals 82 and 20.5 persons, largest first
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td>(?:<td>[^<]*</td>){5}<td>([^<]*)</td></tr>", body)
    assert rows == [("0301", "82.0"), ("1103", "20.5")]
    assert "<td>model</td><td>1</td><td>1.500</td><td>1.200</td><td>0.100</td><td>0.950</td>" in body


# --------------------------------------------------------------------------- calculator
def _inputs(population=None):
    shares = pd.DataFrame({"unit": ["A", "B", "B", "C", "C"], "destination": ["A", "B", "A", "C", "A"],
                           "share": [1.0, 0.75, 0.25, 0.5, 0.5]})
    return calculator_inputs(coefficients=BOOK, shares=shares, jobs={"A": 1000, "B": 500, "C": 800},
                             population=population or {"A": 1000, "B": 2000, "C": 400}, year=2023)


def test_calculator_reproduces_the_books_worked_example():
    # A: no commuting, population = jobs = 1000, +100 jobs -> shock 10 pp -> 0.38/100*1000*10 = 38 ...
    eff = scenario_effect(_inputs(), unit="A", destination="A", jobs_change=100)
    assert eff.tolist() == pytest.approx([38.0, 26.0, 18.0, 82.0], abs=1e-9)
    assert list(eff.index) == ["year 1", "year 2", "year 3", "total"]


def test_calculator_with_commuting_by_hand():
    inp = _inputs()
    # B's residents: 25 % work in A; -300 jobs in A (1000) -> shock -30 pp -> 0.38/100*2000*0.25*-30 = -57
    eff = scenario_effect(inp, unit="B", destination="A", jobs_change=-300)
    assert eff.tolist() == pytest.approx([-57.0, -39.0, -27.0, -123.0], abs=1e-9)
    # nobody from A works in C: no effect
    assert scenario_effect(inp, unit="A", destination="C", jobs_change=500).abs().max() == 0
    data = calculator_data(inp, "C")
    assert [d["id"] for d in data["destinations"]] == ["C", "A"] and data["coefficients"] == [0.38, 0.26, 0.18]
    with pytest.raises(InputError, match="unit 'Z' is not in the calculator's commuting shares"):
        scenario_effect(inp, unit="Z", destination="A", jobs_change=1)


def test_calculator_inputs_reject_bad_tables():
    good = pd.DataFrame({"unit": ["A"], "destination": ["A"], "share": [1.0]})
    kw = {"jobs": {"A": 10}, "population": {"A": 10}}
    with pytest.raises(InputError, match=r"coefficients lack the term\(s\) \['vra_l2'\]"):
        calculator_inputs(coefficients={"vra": 1, "vra_l1": 1}, shares=good, **kw)
    with pytest.raises(InputError, match=r"table 'shares' lacks column\(s\) 'share'"):
        calculator_inputs(coefficients=BOOK, shares=good.drop(columns="share"), **kw)
    with pytest.raises(InputError, match=r"shares of 1 unit\(s\) do not sum to 1 .*'A': 0\.9"):
        calculator_inputs(coefficients=BOOK, shares=good.assign(share=0.9), **kw)
    with pytest.raises(InputError, match=r"jobs has no value for 1 id\(s\): 'B'"):
        calculator_inputs(coefficients=BOOK, shares=pd.DataFrame(
            {"unit": ["A", "A"], "destination": ["A", "B"], "share": [0.5, 0.5]}), **kw)
    with pytest.raises(InputError, match=r"population must be positive and finite; not so for 'A'"):
        calculator_inputs(coefficients=BOOK, shares=good, jobs={"A": 10}, population={"A": 0})


def test_calculator_reads_commuting_weights():
    from geoattr.weights import commuting

    flows = pd.DataFrame({"origin": ["A", "B", "B", "C"], "destination": ["A", "B", "A", "C"],
                          "count": [10, 30, 10, 5]})
    inp = calculator_inputs(coefficients=BOOK, shares=commuting(flows), jobs={"A": 1000, "B": 500, "C": 800},
                            population={"A": 1000, "B": 2000, "C": 400})
    got = inp.shares.sort_values(["unit", "destination"]).reset_index(drop=True)
    assert got["unit"].tolist() == ["A", "B", "B", "C"] and got["destination"].tolist() == ["A", "A", "B", "C"]
    assert got["share"].tolist() == pytest.approx([1.0, 0.25, 0.75, 1.0], abs=1e-12)  # 10/40, 30/40
    assert scenario_effect(inp, unit="B", destination="A", jobs_change=-300)["total"] == pytest.approx(-123.0)


def _att(units=("A", "B", "C"), years=range(2019, 2024)):
    idx = pd.MultiIndex.from_product([list(units), list(years)], names=["unit", "year"])
    rng = np.random.default_rng(1)
    actual = rng.normal(size=len(idx))
    expected = rng.normal(size=len(idx))
    return pd.DataFrame({"actual": actual, "expected": expected, "residual": actual - expected}, index=idx)


def test_profile_calculator_json_is_valid_and_cannot_break_out(tmp_path):
    names = {"A": EVIL, "B": "Bø & <i>", "C": "C"}
    pages = write_profiles(tmp_path, att=_att(), names=names, calculator=_inputs(), report=None)
    text = pages["B"].read_text(encoding="utf-8")
    assert EVIL not in text and "<i>" not in text
    assert len(re.findall(r"<script", text)) == 3  # the two data elements and the page's own script
    raw = re.search(r'<script type="application/json" id="calculator-data">(.*?)</script>', text, re.S).group(1)
    data = json.loads(raw)
    assert data["name"] == "Bø & <i>" and [d["name"] for d in data["destinations"]] == ["Bø & <i>", EVIL]
    assert data["population"] == 2000 and data["destinations"][1]["share"] == 0.25
    assert CALCULATOR_JS in text and 'id="calc-jobs"' in text
    # without calculator inputs the pages have none
    plain = write_profiles(tmp_path / "plain", att=_att(), names=names, report=None)["B"].read_text(encoding="utf-8")
    assert "calculator" not in plain
    with pytest.raises(InputError, match="calculator must be geoattr.report.calculator.calculator_inputs"):
        write_profiles(tmp_path, att=_att(), calculator={"vra": 1})


def test_calculator_rows_name_the_vra_lags_in_words():
    html = calculator_html(_inputs(), "B")
    rows = re.findall(r"<td>(year [123] \(.*?\))</td>", html)
    assert rows == ["year 1 (Relative job growth)", "year 2 (Relative job growth (lag 1))",
                    "year 3 (Relative job growth (lag 2))"]


def test_calculator_html_for_a_unit_without_shares():
    assert "No commuting shares for this unit" in calculator_html(_inputs(), "Z")


def test_calculator_in_browser_agrees_with_python(browser, tmp_path, save_artifact):
    """The page's numbers (1 decimal shown) equal scenario_effect within 0.5 persons."""
    from selenium.webdriver.support.ui import Select

    inp = _inputs()
    pages = write_profiles(tmp_path, att=_att(), names={"A": EVIL, "B": "Bergen"}, calculator=inp, report=None)
    browser.get(pages["B"].as_uri())
    assert browser.find_element("id", "period").text == "2019-2023 (5 years)"  # the page's own script still runs
    jobs = browser.find_element("id", "calc-jobs")
    picker = Select(browser.find_element("id", "calc-destination"))
    cases = [("B", "100"), ("A", "-300"), ("A", "1234.5"), ("B", "-7")]
    for dest, change in cases:
        picker.select_by_index([d["id"] for d in calculator_data(inp, "B")["destinations"]].index(dest))
        jobs.clear()
        jobs.send_keys(change)
        shown = [float(browser.find_element("id", i).text) for i in ("calc-y1", "calc-y2", "calc-y3", "calc-total")]
        expected = scenario_effect(inp, unit="B", destination=dest, jobs_change=float(change)).tolist()
        assert shown == pytest.approx(expected, abs=0.5), (dest, change)
        assert shown == pytest.approx(expected, abs=0.051), (dest, change)  # one decimal shown
    save_artifact("profile_calculator.png", browser)
    assert [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"] == []
    # the book's example on A's page: 38 + 26 + 18 = 82
    browser.get(pages["A"].as_uri())
    assert [browser.find_element("id", i).text for i in ("calc-y1", "calc-y2", "calc-y3", "calc-total")] == \
        ["38.0", "26.0", "18.0", "82.0"]
