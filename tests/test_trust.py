"""What geoattr refuses and why: the catalogue of bad and awkward inputs (issue 16).

Each test is one case: an input a new user may well give, and what geoattr does with it
(a clear error naming what is wrong and how to fix it, a warning, a note, or a count in
the row accounting).  The sections follow the categories of the issue.
"""

from __future__ import annotations


# ==== Escaping and row accounting ====
# Every text output is escaped for the format it is read in (Markdown, LaTeX, HTML, SVG,
# a spreadsheet reading a CSV), and run.json's row accounting adds up from the rows read
# to the observations of the model, with a specific reason for every dropped row.
import ast  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from geoattr import cli  # noqa: E402
from geoattr._format import (  # noqa: E402
    csv_safe,
    escape_csv,
    escape_html,
    escape_latex,
    escape_markdown,
    escape_mathtext,
    write_csv,
)
from geoattr.accounting import Accounting  # noqa: E402
from geoattr.data import PanelData  # noqa: E402
from geoattr.report.figures import ranking_bars  # noqa: E402
from geoattr.report.tables import ranking_table, regression_table  # noqa: E402
from geoattr.variables import build_design  # noqa: E402
from tests.conftest import make_result, toy_flows, toy_panel  # noqa: E402

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'
EVIL = {"0101": SCRIPT, "0102": IMG, "0103": FORMULA}
GENERIC_REASONS = {"dropped", "missing", "other", "invalid", "removed", "filtered", "excluded", "unknown", "nan"}

ESCAPE_CONFIG = """
[data]
source = "files"
years = [2003, 2005]
commuting_year = "same"
panel = { path = "panel.csv", unit_column = "kommune", columns = { folketall = "population", jobs = "jobs", net_migration = "net_migration" } }
flows = { path = "flows.csv", origin = "bosted", destination = "arbeidssted", value = "n" }
centrality = { path = "cent.csv", unit_column = "kommune", value_column = "index" }
regions = { path = "reg.csv", unit_column = "kommune", region_column = "reg" }
{crosswalk}
[model]
spec = "2019"
level = "{level}"
cov_type = "robust"
"""


def _files_run(folder: Path, *, ids: dict[str, str] | None = None, level: str = "municipality",
               split_0103: bool = False) -> Path:
    """A ``source = "files"`` run on the toy panel (ids renamed, or 0103 delivered as two old codes)."""
    data = folder / "data"
    data.mkdir(parents=True)
    ids = ids or {}
    panel = toy_panel().reset_index().rename(columns={"unit": "kommune", "population": "folketall"})
    flows = toy_flows().rename(columns={"origin": "bosted", "destination": "arbeidssted", "count": "n"})
    crosswalk = ""
    if split_0103:  # 0103 as 0104 + 0105 (halves): the crosswalk merges them back
        half = panel[panel.kommune == "0103"].assign(folketall=lambda d: d.folketall / 2, jobs=lambda d: d.jobs / 2,
                                                     net_migration=lambda d: d.net_migration / 2)
        panel = pd.concat([panel[panel.kommune != "0103"], half.assign(kommune="0104"), half.assign(kommune="0105")])
        rows = []
        for r in flows.itertuples(index=False):
            o = ["0104", "0105"] if r.bosted == "0103" else [r.bosted]
            d = ["0104", "0105"] if r.arbeidssted == "0103" else [r.arbeidssted]
            rows += [(r.year, a, b, r.n / (len(o) * len(d))) for a in o for b in d]
        flows = pd.DataFrame(rows, columns=["year", "bosted", "arbeidssted", "n"])
        pd.DataFrame([(y, c, {"0104": "0103", "0105": "0103"}.get(c, c), 1.0)
                      for y in range(2000, 2006) for c in ["0101", "0102", "0104", "0105"]],
                     columns=["year", "source", "target", "weight"]).to_csv(data / "cw.csv", index=False)
        crosswalk = 'crosswalk = { path = "cw.csv" }'
    rename = lambda s: s.map(lambda v: ids.get(v, v))  # noqa: E731
    panel.assign(kommune=rename(panel.kommune)).to_csv(data / "panel.csv", index=False)
    flows.assign(bosted=rename(flows.bosted), arbeidssted=rename(flows.arbeidssted)).to_csv(
        data / "flows.csv", index=False)
    units = pd.Series(["0101", "0102", "0103"])
    pd.DataFrame({"kommune": rename(units), "index": [800, 500, 200]}).to_csv(data / "cent.csv", index=False)
    pd.DataFrame({"kommune": rename(units), "reg": ["R1", "R1", "R2"]}).to_csv(data / "reg.csv", index=False)
    (folder / "run.toml").write_text(ESCAPE_CONFIG.replace("{crosswalk}", crosswalk).replace("{level}", level))
    out = folder / "out"
    assert cli.main(["run", str(folder / "run.toml"), "--out", str(out), "--data-dir", str(data),
                     "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    """A files-source run whose three unit ids are a script, an HTML attribute break and a formula."""
    return _files_run(tmp_path_factory.mktemp("evil"), ids=EVIL)


def _check_accounting(rows: list[dict], nobs: int) -> None:
    """read + added = used + dropped everywhere, each step reads what its source used, the last step is the model."""
    by_table = {r["table"]: r for r in rows}
    for r in rows:
        assert r["read"] + sum(r.get("added", {}).values()) == r["used"] + sum(r["dropped"].values()), r
        if r.get("from") is not None:
            assert r["read"] == by_table[r["from"]]["used"], (r["table"], r["from"])
        for reason, n in {**r["dropped"], **r.get("added", {})}.items():
            assert n > 0 and reason.lower() not in GENERIC_REASONS and len(reason.split()) >= 2, reason
    last = rows[-1]
    assert last["table"].startswith("design") and last["used"] == nobs
    step, seen = last, set()
    while step.get("from") is not None and step["table"] not in seen:  # back to a table read from a file
        seen.add(step["table"])
        step = by_table[step["from"]]
    assert step["table"] == "panel" and "from" not in step


def _main_nobs(out: Path) -> int:
    run = json.loads((out / "run.json").read_text())
    fit = pd.read_csv(out / "fit.csv")
    row = fit[(fit.spec.astype(str) == str(run["main"]["spec"])) & (fit.level == run["main"]["level"])]
    return int(row["nobs"].iloc[0])


def test_escape_markdown_shows_html_links_math_and_cell_breaks_as_text():
    """A Markdown renderer must show a name as written: no tag, link, emphasis, math or new cell."""
    assert escape_markdown(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_markdown("[x](javascript:y)") == "\\[x\\](javascript:y)"
    assert escape_markdown("a|b *c* $x$ ~~d~~ `e`") == "a\\|b \\*c\\* \\$x\\$ \\~\\~d\\~\\~ \\`e\\`"
    assert escape_markdown("two\nlines\r\nhere") == "two lines here"  # a line break would end the table row
    # one implementation for tables too: an underscore inside a word stays, one at its edge is escaped
    assert escape_markdown("vra_l1") == "vra_l1" and escape_markdown("_x_ a__b") == "\\_x\\_ a\\_\\_b"


def test_markdown_tables_escape_unit_and_model_names():
    models = {SCRIPT: _toy_fit(), "vra_l1|x": _toy_fit()}
    md = regression_table(models, fmt="markdown")
    assert "<script>" not in md and "&lt;script&gt;" in md and "vra_l1\\|x" in md
    rankings = _rankings({"unit": [SCRIPT, IMG], "name": ["_a_\nb", "$\\alpha$"]})
    rt = ranking_table(rankings, fmt="markdown", top_n=2, show_names=True)
    assert "<img" not in rt and "&lt;img src=x onerror=alert(1)&gt;" in rt
    assert "\\_a\\_ b" in rt and "\\$\\\\alpha\\$" in rt
    assert len(rt.splitlines()) == 2 + 2 * 3  # header, rule, two panels of a title and two units


def test_latex_tables_escape_names_and_keep_cells_on_one_line():
    rankings = _rankings({"unit": ["\\input{/etc/passwd}", "a_b"], "name": ["x%\n\ny", "#&$"]})
    tex = ranking_table(rankings, fmt="latex", top_n=2, show_names=True)
    assert "\\input" not in tex and "\\textbackslash{}input\\{/etc/passwd\\}" in tex
    assert "x\\% y" in tex and "\\#\\&\\$" in tex and "a\\_b" in tex
    assert "\n\n" not in tex  # a blank line inside a tabular is a LaTeX error
    assert escape_latex("<b>") == "\\textless{}b\\textgreater{}"


def test_html_tables_escape_attribute_breaks():
    html = regression_table({IMG: _toy_fit()}, fmt="html")
    assert "<img" not in html and escape_html(IMG) in html and "&quot;&gt;&lt;img" in html


def test_figure_labels_are_drawn_as_written_not_as_mathtext(tmp_path):
    """A name with $...$ would be drawn as math, a malformed one made savefig fail; SVG text is escaped."""
    att = _attractiveness(["u1", "u2", "u3"])
    names = {"u1": "$\\frac{", "u2": "$\\alpha$ & co", "u3": SCRIPT}
    assert escape_mathtext("$\\alpha$") == "\\$\\alpha\\$"
    path = tmp_path / "bars.svg"
    fig = ranking_bars(att, names=names, n=3, path=path)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "\\$\\frac{" in labels and "\\$\\alpha\\$ & co" in labels
    svg = path.read_text()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_run_tables_and_pages_escape_hostile_unit_ids(evil_run):
    """The ids reach tables/*.md, tables/*.tex, report.html and the profile pages only escaped."""
    out = evil_run
    md = "".join(p.read_text() for p in (out / "tables").glob("*.md"))
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    tex = "".join(p.read_text() for p in (out / "tables").glob("*.tex"))
    assert "<script>" not in tex and "\\textless{}script\\textgreater{}" in tex
    pages = [out / "report.html", *sorted((out / "profiles").glob("*.html"))]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text()
        assert "<script>alert(1)" not in text and "<img src=x" not in text, page.name


def test_run_csvs_guard_formulas_and_keep_numbers(evil_run):
    """A spreadsheet opening rankings.csv must not run a unit id as a formula; numbers stay numbers."""
    for name in ("rankings.csv", "attractiveness.csv"):
        frame = pd.read_csv(evil_run / name)
        assert "'" + FORMULA in set(frame["unit"]) and FORMULA not in set(frame["unit"]), name
        assert SCRIPT in set(frame["unit"])  # not a formula: written as it is
        assert frame["residual"].dtype == float and (frame["residual"] < 0).any()


def test_escape_csv_quotes_formula_cells_only():
    for cell in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-cmd|' /C calc'!A0"):
        assert escape_csv(cell) == "'" + cell
    # numbers, text ids that are plain numbers ("-1": a judgement call, kept so that ids read back), other text
    for cell in (-1.5, 3, "-1", "+47", "-0.5e3", "Oslo", "0301", "", None):
        assert escape_csv(cell) == cell


def test_csv_safe_leaves_numeric_columns_and_dtypes_alone(tmp_path):
    frame = pd.DataFrame({"unit": ["=x", "-1"], "value": [-1.0, -2.5], "n": [-3, 4], "flag": [True, False],
                          "cat": pd.Categorical(["@a", "b"])}, index=pd.Index(["+i", "j"], name="row"))
    safe = csv_safe(frame)
    assert list(safe["unit"]) == ["'=x", "-1"] and list(safe["cat"]) == ["'@a", "b"]
    assert list(safe.index) == ["'+i", "j"]
    pd.testing.assert_frame_equal(safe[["value", "n", "flag"]].reset_index(drop=True),
                                  frame[["value", "n", "flag"]].reset_index(drop=True))
    assert frame["unit"].iloc[0] == "=x"  # the input is not changed
    back = pd.read_csv(write_csv(frame, tmp_path / "x.csv"), index_col="row")
    assert back["value"].tolist() == [-1.0, -2.5] and back["n"].tolist() == [-3, 4]


def test_every_csv_of_a_run_goes_through_write_csv():
    """No DataFrame.to_csv outside geoattr._format: the pipeline, robustness and choice runners use write_csv."""
    root = Path(__file__).resolve().parents[1] / "geoattr"
    calls = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to_csv":
                calls.append((path.relative_to(root).as_posix(), ast.unparse(node.func.value)))
    # the writer itself, and the to_csv methods of Comparison and RobustnessResults (which use write_csv)
    assert sorted(calls) == [("_format.py", "safe"), ("pipeline/steps.py", "comp"), ("robustness/config.py", "res")]


def test_demo_row_accounting_adds_up_to_the_region_model(demo_output):
    """panel -> design and panel -> panel (region) -> design (region): the last step's rows are the nobs."""
    out, _ = demo_output
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    tables = [r["table"] for r in rows]
    assert tables[-3:] == ["panel (region)", "flows (region)", "design (region)"]
    design = {r["table"]: r for r in rows}["design"]
    assert any("read only for job growth and its lags" in k for k in design["dropped"])
    assert design["used"] == len(pd.read_csv(out / "attractiveness.csv"))


@pytest.mark.parametrize("level", ["municipality", "region"])
def test_files_run_row_accounting_adds_up(tmp_path, level):
    out = _files_run(tmp_path, level=level)
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    design = {r["table"]: r for r in rows}["design"]
    # 18 panel rows: 2000-2002 only for the lags of job growth (vra_l2 needs jobs of 2000), 2003-2005 used
    assert design == {"table": "design", "read": 18, "used": 9, "from": "panel", "notes": [], "dropped": {
        "years 2000-2002: read only for job growth and its lags (the estimation years 2003-2005)": 9}}


def test_files_run_with_crosswalk_accounts_for_merged_codes(tmp_path):
    """Harmonised counts: the rows of merged codes are summed, and the accounting says so."""
    out = _files_run(tmp_path, split_0103=True)
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    by_table = {r["table"]: r for r in rows}
    assert by_table["harmonise_panel"]["from"] == "panel" and by_table["design"]["from"] == "harmonise_panel"
    assert by_table["harmonise_panel"]["dropped"] == {"codes merged by the crosswalk: rows summed into stable units": 6}


def test_design_drops_are_counted_by_the_columns_missing(toy_data):
    p = toy_panel().assign(students=1.0, rent=2.0)
    p.loc[("0103", 2004), "students"] = np.nan
    p.loc[[("0101", 2003), ("0102", 2005)], "rent"] = np.nan
    data = PanelData(p, flows=toy_flows(), centrality=toy_data.centrality)
    d = build_design(data, "2019", years=(2003, 2005), extra=["students", "rent"], on_missing="drop")
    acc = d.accounting["design"]
    assert acc.dropped["missing values in students"] == 1 and acc.dropped["missing values in rent"] == 2
    assert acc.read == len(p) and acc.used == len(d.y) == 6 and acc.source == "panel"


def test_mismatch_drop_labels_tell_absent_units_from_dropped_ones():
    """A polygon of a unit never in the panel and one of a unit dropped for a missing input get different labels."""
    import geopandas as gpd
    from shapely.geometry import box

    polys = gpd.GeoDataFrame({"geometry": [box(i, 0, i + 1, 1) for i in range(3)]},
                             index=pd.Index(["0101", "0102", "0104"], name="unit"), crs=25833)
    flows = pd.concat([toy_flows(), pd.DataFrame([(2001, "0101", "9999", 5)], columns=toy_flows().columns)])
    with pytest.warns(Warning, match=r"1 unit\(s\) dropped \(6 panel rows\): '0103'"):
        d = PanelData(toy_panel(), polygons=polys, flows=flows, centrality=pd.Series(
            {"0101": 1.0, "0102": 2.0, "0103": 3.0}), on_mismatch="drop")
    acc = d.accounting
    assert acc["polygons"].dropped == {"unit not in panel": 1}
    assert acc["centrality"].dropped == {"unit dropped from the panel (missing from another input)": 1}
    assert acc["flows"].dropped == {"origin or destination not a panel unit": 1, "origin or destination dropped": 12}
    assert acc["panel"].used == len(d.panel) and acc["flows"].used == len(d.flows)


def test_accounting_records_add_up_and_chain():
    acc = Accounting()
    acc.record("panel", read=10)
    acc.record("harmonise_panel", read=10, source="panel", dropped={"codes merged": 3})
    acc.record("panel (spliced)", read=7, source="harmonise_panel", added={"later years from another table": 4})
    acc.record("flows", read=5, dropped={"zero count": 1})
    assert [a.table for a in acc.chain("panel")] == ["panel", "harmonise_panel", "panel (spliced)"]
    assert acc.last_step("panel") == "panel (spliced)" and acc["panel (spliced)"].used == 11
    d = acc.to_dict()[2]
    assert d["from"] == "harmonise_panel" and d["added"] == {"later years from another table": 4}
    merged = acc.merge(acc, new_only=True)
    assert merged.to_dict() == acc.to_dict()  # no double counting of a copy's tables


# helpers of the section -------------------------------------------------------------------
def _toy_fit():
    return make_result({"const": 0.3, "vra_l1": 0.5}, {"const": 0.2, "vra_l1": 0.2})


def _rankings(cols: dict[str, list[str]]) -> pd.DataFrame:
    n = len(cols["unit"])
    top = pd.DataFrame({"level": "municipality", "list": "top", "rank": range(1, n + 1), **cols,
                        "residual": np.linspace(1, -1, n), "residual_persons": np.linspace(10, -10, n)})
    return pd.concat([top, top.assign(list="bottom")], ignore_index=True)


def _attractiveness(units: list[str]) -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([units, [2003, 2004]], names=["unit", "year"])
    res = np.linspace(-1, 1, len(idx))
    return pd.DataFrame({"actual": res, "expected": 0.0, "residual": res, "residual_persons": 10 * res}, index=idx)
