"""Report and profile pages: hand-computable content on a small attractiveness table, input errors."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from geoattr.exceptions import InputError
from geoattr.report import profile_file_name, write_figures, write_profiles, write_report, write_tables

from tests.conftest import toy_flows


@pytest.fixture
def att():
    idx = pd.MultiIndex.from_product([["0101", "0102", "0103"], [2003, 2004, 2005]], names=["unit", "year"])
    actual = np.array([1.0, 2.0, 3.0, -1.0, 0.0, 1.0, 0.5, 0.5, 0.5])
    expected = np.array([0.5, 1.0, 1.5, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    return pd.DataFrame({"actual": actual, "expected": expected, "residual": actual - expected,
                         "residual_persons": 10 * (actual - expected)}, index=idx)


@pytest.fixture
def intervals(att):
    se = pd.Series(0.5, index=att.index)
    return pd.DataFrame({"actual": att["actual"], "expected": att["expected"], "se": se,
                         "lower": att["expected"] - 1.0, "upper": att["expected"] + 2.0})


def _data_of(page: str) -> dict:
    return json.loads(re.search(r'id="profile-data">(.*?)</script>', page, re.S).group(1))


def test_profiles_content(tmp_path, att, intervals):
    dec = pd.DataFrame({"unit": ["0101", "0101"], "component": ["observed", "attractiveness"],
                        "persons_per_year": [12.0, -0.0]})
    pages = write_profiles(tmp_path, att=att, intervals=intervals, decomposition=dec, decomposition_years=(2003, 2004),
                           flows=toy_flows(), names={"0101": "Alpha", "0102": "Beta"}, regions={"0101": "R1"},
                           top_destinations=1)
    assert set(pages) == {"0101", "0102", "0103", "index"}
    p1 = pages["0101"].read_text()
    # residuals 0.5, 1.0, 1.5: cumulative 3.0 is the largest of the three units (0102: 0, 0103: -1.5)
    assert "Alpha (0101)" in p1 and "<b>3.00</b> percentage points (rank 1 of 3)" in p1 and "Region R1" in p1
    d = _data_of(p1)
    assert d["years"] == [2003, 2004, 2005] and d["residual"] == [0.5, 1.0, 1.5]
    # attractiveness interval = actual - [upper, lower]: 1.0 - (0.5 + 2) = -1.5, 1.0 - (0.5 - 1) = 1.5
    assert d["lower"][0] == pytest.approx(-1.5) and d["upper"][0] == pytest.approx(1.5) and d["se"] == [0.5] * 3
    # commuting in 2005 (latest): 90 of 100 work locally, 10 in 0102 -> top-1 plus "other"
    dest = p1[p1.index("Where its residents work (2005)"):]
    assert "<td>0101</td><td>Alpha</td><td>90</td><td>90.0</td>" in dest
    assert "<td>other</td><td>1 units</td><td>10</td><td>10.0</td>" in dest
    assert "Decomposition of population change 2003-2004" in p1 and "<td>0.0</td>" in p1  # no "-0.0"
    p3 = pages["0103"].read_text()
    assert "(rank 3 of 3)" in p3 and "Decomposition" not in p3
    idx = pages["index"].read_text()
    assert idx.index('href="0101.html"') < idx.index('href="0102.html"') < idx.index('href="0103.html"')
    assert '<option value="2005" selected>' in idx


def test_profiles_without_intervals_and_file_names(tmp_path, att):
    pages = write_profiles(tmp_path, att=att, report=None)
    d = _data_of(pages["0102"].read_text())
    assert d["se"] == [None] * 3 and d["lower"] == [None] * 3
    assert profile_file_name("03/01 a") == "03_01_a-" + hashlib.sha1(b"03/01 a").hexdigest()[:10] + ".html"


def test_profile_errors(tmp_path, att, intervals):
    with pytest.raises(InputError, match=r"att must be the output of geoattr.attractiveness\(\)"):
        write_profiles(tmp_path, att=att.reset_index())
    with pytest.raises(InputError, match=r"att lacks column\(s\) \['expected'\]"):
        write_profiles(tmp_path, att=att.drop(columns="expected"))
    with pytest.raises(InputError, match=r"intervals lacks column\(s\) \['upper'\]"):
        write_profiles(tmp_path, att=att, intervals=intervals.drop(columns="upper"))
    with pytest.raises(InputError, match=r"intervals have no rows for .*0103"):
        write_profiles(tmp_path, att=att, intervals=intervals.drop(index="0103", level="unit"))
    with pytest.raises(InputError, match=r"flows lacks column\(s\) \['count'\]"):
        write_profiles(tmp_path, att=att, flows=toy_flows().drop(columns="count"))
    with pytest.raises(InputError, match="flows has no rows for year 1999"):
        write_profiles(tmp_path, att=att, flows=toy_flows(), flows_year=1999)
    with pytest.raises(InputError, match="top_destinations must be an integer >= 1"):
        write_profiles(tmp_path, att=att, top_destinations=0)


def test_tables_figures_and_report(tmp_path, synthetic_data):
    import geoattr

    fit = geoattr.estimate(synthetic_data, "2022", unit_level="region", years=(2010, 2015))
    att = geoattr.attractiveness(fit)
    ranks = geoattr.rankings(geoattr.cumulate(att), n=3, names=synthetic_data.names, unit_level="municipality")
    tabs = write_tables(tmp_path / "t", models={"A": fit}, rankings=ranks, top_n=3)
    assert set(tabs) == {"model_tex", "model_md", "rankings_tex", "rankings_md"}
    assert "\\toprule" in tabs["model_tex"].read_text() and "*Most attractive*" in tabs["rankings_md"].read_text()
    figs = write_figures(tmp_path / "f", att=att, models={"A": fit}, formats=("png",))
    assert set(figs) == {"observed_vs_expected_png", "ranking_bars_png", "forest_plot_png"}
    with pytest.raises(InputError, match=r"figure format\(s\) \['pdf'\] are not supported"):
        write_figures(tmp_path / "f", att=att, formats=("pdf",))
    (tmp_path / "map.html").write_text("<html></html>")
    rep = write_report(tmp_path / "report.html", title="T <1>", summary={"units": "356 municipalities"},
                       row_accounting=[{"table": "panel", "read": 10, "used": 8, "dropped": {"missing jobs": 2}}],
                       model_table="<table id='m'></table>", ranking_tables={"Municipalities": "<table></table>"},
                       figures={"Observed": figs["observed_vs_expected_png"]}, map_file=tmp_path / "map.html",
                       warnings=["IsolatesWarning: unit 9 has no neighbours"])
    html = rep.read_text()
    assert "<h1>T &lt;1&gt;</h1>" in html
    assert "<td>panel</td><td>10</td><td>8</td><td>missing jobs: 2</td>" in html
    assert html.count("data:image/png;base64,") == 1 and 'src="map.html"' in html
    assert "IsolatesWarning: unit 9 has no neighbours" in html and 'id="comparison"' not in html
