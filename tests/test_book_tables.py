"""The book's tables (issue 17, items 3-4): Sum VRA year by year and by subgroup, the VRA breakdown.

References: hand calculations on the three-municipality toy panel (tests/conftest.py), the
model's own design (the breakdown must add up to the ``vra`` the regression uses) and
``a' V a`` computed here with numpy from the covariance of the fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geoattr
from geoattr.exceptions import InputError
from geoattr.models.vra_sum import SUM_TERM, coefficient_table, linear_combination, yearly_table
from geoattr.report.book import sum_table, vra_sum_over_time
from geoattr.report.profiles import write_profiles
from geoattr.variables import build_design
from geoattr.variables.breakdown import BREAKDOWN_COLUMNS, breakdown_years, vra_breakdown

TOL = 1e-9  # sums of at most a few hundred products of numbers of order 1-100


def _check_adds_up(bd: pd.DataFrame, design_vra: pd.Series) -> None:
    shares = bd.groupby(["unit", "year"])["share"].sum()
    assert np.abs(shares - 1.0).max() < TOL  # shares are fractions: they sum to 1 (100 %)
    contrib = bd.groupby(["unit", "year"])["contribution"].sum()
    ref = design_vra.reindex(contrib.index)
    assert ref.notna().all()
    assert np.abs(contrib - ref).max() < TOL


# --------------------------------------------------------------------------- the breakdown
def test_breakdown_by_hand_on_the_toy_panel(toy_data):
    # 2004, unit 0103: half its employed residents work in 0101, half at home.
    # National jobs 2003 -> 2004: 1045 -> 1030; RA = local growth - national growth (percent).
    nat = 100 * (1030 / 1045 - 1)
    ra_0101 = 100 * (120 / 110 - 1) - nat
    ra_0103 = 100 * (700 / 735 - 1) - nat
    bd = vra_breakdown(toy_data, units=["0103"], years=[2004])
    assert list(bd.columns) == list(BREAKDOWN_COLUMNS)
    got = bd.set_index("workplace")
    assert set(got.index) == {"0101", "0103"}
    assert got.loc["0101", "share"] == pytest.approx(0.5, abs=1e-12)
    assert got.loc["0101", "relative_growth"] == pytest.approx(ra_0101, abs=1e-10)
    assert got.loc["0103", "contribution"] == pytest.approx(0.5 * ra_0103, abs=1e-10)
    assert bd["contribution"].sum() == pytest.approx(0.5 * ra_0101 + 0.5 * ra_0103, abs=1e-10)
    # 2003: 0101 works 100 % locally that year (its lag-1 breakdown of 2004 uses the 2003 matrix)
    lag1 = vra_breakdown(toy_data, units="0101", years=2004, lag=1)
    assert lag1["workplace"].tolist() == ["0101"] and lag1["weights_year"].tolist() == [2003]
    assert lag1["share"].iloc[0] == 1.0


def test_breakdown_adds_up_to_the_design_vra_synthetic(synthetic_data):
    design = build_design(synthetic_data, "2019")
    first, last = design.years
    for lag, term in ((0, "vra"), (1, "vra_l1"), (2, "vra_l2")):
        bd = vra_breakdown(synthetic_data, units="all", years=list(range(first, last + 1)), lag=lag)
        assert bd["unit"].nunique() == len(synthetic_data.units)
        _check_adds_up(bd, design.X[term])
    # names come with the ids, and every row is a positive share
    assert (bd["unit_name"] == synthetic_data.names.reindex(bd["unit"]).to_numpy()).all()
    assert (bd["share"] > 0).all()


def test_breakdown_uses_the_model_commuting_options(synthetic_data):
    design = build_design(synthetic_data, "2019", top_k=3, commuting_year=2010)
    first, last = design.years
    bd = vra_breakdown(synthetic_data, years=[first, last], top_k=3, commuting_year=2010)
    assert bd.groupby(["unit", "year"]).size().max() <= 3
    assert set(bd["weights_year"]) == {2010}
    _check_adds_up(bd, design.X["vra"])


def test_breakdown_bad_units_and_years_are_named(toy_data):
    with pytest.raises(InputError, match=r"unknown unit\(s\) '9999', 'x'"):
        vra_breakdown(toy_data, units=["0101", "9999", "x"])
    # jobs start in 2000: relative growth starts in 2001 (lag 0) and 2003 at lag 2
    assert breakdown_years(toy_data) == [2001, 2002, 2003, 2004, 2005]
    with pytest.raises(InputError, match=r"year\(s\) 2000, 2030 cannot be broken down at lag 0.*2001-2005"):
        vra_breakdown(toy_data, years=[2000, 2003, 2030])
    with pytest.raises(InputError, match=r"year\(s\) 2002 cannot be broken down at lag 2.*2003-2005"):
        vra_breakdown(toy_data, years=[2002], lag=2)
    with pytest.raises(InputError, match="lag must be an integer >= 0"):
        vra_breakdown(toy_data, lag=-1)
    with pytest.raises(InputError, match="years is empty"):
        vra_breakdown(toy_data, years=[])


@pytest.fixture(scope="module")
def norway_data(real_data_dir):
    from geoattr.datasets.norway import load

    return load(real_data_dir)


def test_breakdown_adds_up_on_real_data(norway_data):
    # Rælingen (0228, 2017 codes), the book's example, and two more units
    units = ["0228", "0301", "1103"]
    design = build_design(norway_data, ["vra", "vra_l1"], years=(2006, 2016))
    bd = vra_breakdown(norway_data, units=units, years=[2006, 2010, 2016])
    assert sorted(bd["unit"].unique()) == units
    _check_adds_up(bd, design.X["vra"])
    bd1 = vra_breakdown(norway_data, units=units, years=[2010], lag=1)
    _check_adds_up(bd1, design.X["vra_l1"])
    r = bd[(bd["unit"] == "0228") & (bd["year"] == 2016)]
    assert set(r["unit_name"]) == {"Rælingen"}  # names, not only codes
    assert r.set_index("workplace").loc["0301", "workplace_name"] == "Oslo"
    assert (r["share"].diff().dropna() <= 0).all()  # largest share first


def test_region_names_in_real_rankings(norway_data):
    assert norway_data.region_names is not None
    fit = geoattr.estimate(norway_data, "2019", unit_level="region", years=(2006, 2016))
    ranks = geoattr.rankings(geoattr.cumulate(geoattr.region_attractiveness(fit)), n=5,
                             names=norway_data.region_names, unit_level="region")
    assert (ranks["name"] != ranks["unit"]).all()
    assert ranks["name"].str.len().min() > 2 and not ranks["name"].str.fullmatch(r"\d+").any()
    region = norway_data.aggregate()
    assert region.names.loc[norway_data.regions["0228"]] == norway_data.region_names[norway_data.regions["0228"]]


# --------------------------------------------------------------------------- Sum VRA
@pytest.fixture(scope="module")
def yearly(synthetic_data):
    fit = geoattr.estimate(synthetic_data, "2022", unit_level="region")
    return geoattr.estimate_by_year(fit.design)


def test_sum_vra_and_its_standard_error_by_hand(yearly):
    table = yearly_table(yearly)
    for year in (min(yearly.results), max(yearly.results)):
        r = yearly.results[year]
        names = list(r.params.index)
        a = np.array([1.0 if t in ("vra", "vra_l1", "vra_l2") else 0.0 for t in names])
        b = r.params.to_numpy()
        V = r.cov.loc[names, names].to_numpy()
        assert table.loc[year, "vra_sum"] == pytest.approx(b[1] + b[2] + b[3], abs=1e-12)
        assert names[1:4] == ["vra", "vra_l1", "vra_l2"]
        assert table.loc[year, "vra_sum_se"] == pytest.approx(np.sqrt(a @ V @ a), rel=1e-12)
        assert table.loc[year, "vra"] == r.params["vra"] and table.loc[year, "vra_se"] == r.std_errors["vra"]
    # the column sits right after the VRA lags; stars follow the p-values
    cols = [c for c in table.columns if not c.endswith(("_se", "_p", "_stars"))]
    assert cols[cols.index("vra_l2") + 1] == SUM_TERM
    assert ((table["vra_sum_p"] < 0.01) == (table["vra_sum_stars"] == "***")).all()
    # the older vra_sum of YearlyResults agrees
    assert np.allclose(yearly.vra_sum()["vra_sum_se"], table["vra_sum_se"], rtol=1e-12, atol=0)


def test_linear_combination_errors_and_partial_sums(yearly):
    r = next(iter(yearly.results.values()))
    with pytest.raises(InputError, match=r"term\(s\) \['nv'\] were not estimated"):
        linear_combination(r, {"vra": 1.0, "nv": 1.0})
    long = coefficient_table({"x": r}, key="subgroup", sum_terms=("vra", "vra_l1"))
    s = long.set_index("term").loc[SUM_TERM]
    assert s["estimate"] == pytest.approx(r.params["vra"] + r.params["vra_l1"], abs=1e-12)


def test_book_table_formats(yearly):
    table = yearly_table(yearly)
    md = sum_table(table, fmt="markdown")
    assert "| year | VRA t | VRA t-1 | VRA t-2 | Sum VRA |" in md
    first = min(yearly.results)
    row = next(line for line in md.splitlines() if line.startswith(f"| {first} |"))
    est = table.loc[first, "vra_sum"]
    assert f"{est:.3f}{table.loc[first, 'vra_sum_stars']}" in row
    tex = sum_table(table, fmt="latex", labels={"ds": "DS_t & x"})
    assert "\\toprule" in tex and "DS\\_t \\& x" in tex
    with pytest.raises(InputError, match=r"term\(s\) \['nope'\] are not in the table"):
        sum_table(table, terms=["nope"])
    fig = vra_sum_over_time(table)
    assert [ax.get_title() for ax in fig.axes] == ["Sum VRA", "Centrality"]
    with pytest.raises(InputError, match=r"has no \['ds_l1'\]"):
        vra_sum_over_time(table, terms=["ds_l1"])


def test_subgroups_with_sum_vra(synthetic_data):
    sub = geoattr.analysis.subgroups(synthetic_data, "2019", groups={}, periods=[(2005, 2010)],
                                     unit_level="region", vra_sum=True)
    for label, g in sub.groupby("subgroup"):
        e = g.set_index("term")["estimate"]
        assert e[SUM_TERM] == pytest.approx(e["vra"] + e["vra_l1"] + e["vra_l2"], abs=1e-12)
    plain = geoattr.analysis.subgroups(synthetic_data, "2019", groups={}, periods=[(2005, 2010)],
                                       unit_level="region")
    assert SUM_TERM not in set(plain["term"])
    pd.testing.assert_frame_equal(sub[sub["term"] != SUM_TERM].reset_index(drop=True), plain)


# --------------------------------------------------------------------------- a run
def test_run_writes_the_book_outputs_with_region_names(synthetic_data, tmp_path):
    from geoattr.pipeline import run

    regions = sorted(set(synthetic_data.regions))
    named = synthetic_data.replace(region_names=pd.Series({r: f"Region <{r}>" for r in regions[1:]}))
    cfg = {"data": {"source": "synthetic"}, "model": {"spec": "2019", "level": "region"},
           "analyses": {"yearly": True, "vra_breakdown": {"units": ["0301", "3209"], "years": [2010, 2012]}},
           "output": {"map": False, "figures": False, "report": False, "profiles": False}}
    res = run(cfg, out=tmp_path / "out", data=named, progress=False)
    ranks = pd.read_csv(res.files["rankings"], dtype=str)
    reg = ranks[ranks["level"] == "region"]
    named_rows = reg[reg["unit"] != regions[0]]
    assert (named_rows["name"] == "Region <" + named_rows["unit"] + ">").all()
    assert (reg.loc[reg["unit"] == regions[0], "name"] == regions[0]).all()  # no name: the id
    md = res.files["table_rankings_region_md"].read_text(encoding="utf-8")
    assert f"Region &lt;{named_rows['unit'].iloc[0]}&gt;" in md  # the name, escaped
    bd = pd.read_csv(res.files["vra_breakdown"], dtype={"unit": str, "workplace": str})
    assert list(bd.columns[:8]) == ["unit", "unit_name", "year", "workplace", "workplace_name", "share",
                                    "relative_growth", "contribution"]
    assert sorted(bd["unit"].unique()) == ["0301", "3209"] and sorted(bd["year"].unique()) == [2010, 2012]
    assert np.allclose(bd.groupby(["unit", "year"])["share"].sum(), 1.0, rtol=0, atol=TOL)
    yt = pd.read_csv(res.files["yearly_table"])
    assert {"vra_sum", "vra_sum_se", "vra_sum_stars"} <= set(yt.columns)
    assert "Sum VRA" in res.files["table_yearly_md"].read_text(encoding="utf-8")
    bad = {**cfg, "analyses": {"vra_breakdown": {"units": ["0301"], "years": [1990]}}}
    with pytest.raises(InputError, match=r"year\(s\) 1990 cannot be broken down"):
        run(bad, out=tmp_path / "bad", data=named, progress=False)
    with pytest.raises(InputError, match="vra_breakdown.unit"):
        run({**cfg, "analyses": {"vra_breakdown": {"unit": ["0301"]}}}, out=tmp_path / "bad2", progress=False)


def test_region_names_from_the_files_config(tmp_path):
    from geoattr import cli
    from tests.test_cli import CONFIG, _write_files

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_files(data_dir)
    reg = pd.read_csv(data_dir / "reg.csv", dtype=str)
    reg["reg_name"] = reg["reg"].map({"R1": "Nord & co", "R2": "Sør"})
    reg.to_csv(data_dir / "reg.csv", index=False)
    cfg = CONFIG.replace('region_column = "reg" }', 'region_column = "reg", name_column = "reg_name" }')
    cfg += "\n[analyses]\nvra_breakdown = true\n[output]\nfigures = false\nreport = false\n"
    (tmp_path / "run.toml").write_text(cfg, encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["run", str(tmp_path / "run.toml"), "--out", str(out), "--data-dir", str(data_dir),
                     "--no-progress"]) == 0
    ranks = pd.read_csv(out / "rankings.csv", dtype=str)
    reg_ranks = ranks[ranks["level"] == "region"]
    assert set(reg_ranks["name"]) <= {"Nord & co", "Sør"} and len(reg_ranks) == 2
    assert set(zip(reg_ranks["unit"], reg_ranks["name"])) <= {("R1", "Nord & co"), ("R2", "Sør")}
    page = (out / "profiles" / "0103.html").read_text(encoding="utf-8")
    assert "Region Sør (R2)." in page and '<select id="vra-year">' in page
    bd = pd.read_csv(out / "vra_breakdown.csv", dtype={"unit": str, "workplace": str})
    assert sorted(bd["year"].unique()) == [2003, 2004, 2005] and bd["unit"].nunique() == 3


# --------------------------------------------------------------------------- the profile page
def test_profile_page_has_the_year_picker_and_the_rows(toy_data, tmp_path):
    fit = geoattr.estimate(toy_data, ["vra"], years=(2002, 2005))
    att = geoattr.attractiveness(fit)
    bd = vra_breakdown(toy_data, years=[2003, 2004])
    bd.loc[bd["workplace"] == "0101", "workplace_name"] = "<Nord & Sør>"
    pages = write_profiles(tmp_path, att=att, vra_breakdown=bd, names={"0103": "Sør"})
    html = pages["0103"].read_text(encoding="utf-8")
    assert '<select id="vra-year"><option value="2003">2003</option><option value="2004" selected>' in html
    assert html.count('class="plain vra-breakdown"') == 2
    assert "&lt;Nord &amp; Sør&gt; (0101)" in html and "<Nord" not in html
    row = bd[(bd["unit"] == "0103") & (bd["year"] == 2004) & (bd["workplace"] == "0101")].iloc[0]
    assert f"<td>{100 * row['share']:.1f}</td><td>{row['relative_growth']:.2f}</td>" in html
    assert "addEventListener('change',show)" in html
    with pytest.raises(InputError, match=r"vra_breakdown lacks column\(s\) \['share'"):
        write_profiles(tmp_path / "x", att=att, vra_breakdown=bd.drop(columns=["share"]))


@pytest.mark.slow
def test_year_picker_in_browser(browser, toy_data, tmp_path):
    from selenium.webdriver.support.ui import Select

    fit = geoattr.estimate(toy_data, ["vra"], years=(2002, 2005))
    pages = write_profiles(tmp_path, att=geoattr.attractiveness(fit), vra_breakdown=vra_breakdown(toy_data))
    browser.get(pages["0103"].as_uri())
    shown = lambda: [t.get_attribute("data-year") for t in browser.find_elements("css selector", "table.vra-breakdown")
                     if t.is_displayed()]
    assert shown() == ["2005"]  # the last year on opening
    Select(browser.find_element("id", "vra-year")).select_by_value("2003")
    assert shown() == ["2003"]
    assert [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"] == []
