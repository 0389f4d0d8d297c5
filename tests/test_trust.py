"""What geoattr refuses, and why: the catalogue of bad or awkward inputs (issue 16).

Each test is one case: an input a user may plausibly give, and what geoattr does with it
(an error naming the offending ids, rows or columns and saying how to fix it, a warning,
or a note in the results).  Read it as the specification of geoattr's input checks.
"""

from __future__ import annotations


# ==== Non-finite and zero values; Number formats ====
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import geoattr  # noqa: E402
from geoattr import cli  # noqa: E402
from geoattr.data import PanelData  # noqa: E402
from geoattr.exceptions import DroppedRowsWarning, InputError  # noqa: E402
from geoattr.io import read_flows, read_panel  # noqa: E402
from geoattr.models.ols import LeastSquares  # noqa: E402
from geoattr.variables import build_design  # noqa: E402
from tests.conftest import toy_flows, toy_panel  # noqa: E402

_CENTRALITY = pd.Series({"0101": 800.0, "0102": 500.0, "0103": 200.0})


def _values_data(panel: pd.DataFrame | None = None, flows: pd.DataFrame | None = None, **kw) -> PanelData:
    """The three-municipality toy data, with a panel or flows changed by the case."""
    return PanelData(toy_panel() if panel is None else panel, flows=toy_flows() if flows is None else flows,
                     centrality=_CENTRALITY, **kw)


def _with(column: str, cell: tuple[str, int], value: float) -> pd.DataFrame:
    p = toy_panel()
    p.loc[cell, column] = value
    return p


# ---------------------------------------------------------------- non-finite values
@pytest.mark.parametrize("column", ["population", "jobs", "net_migration"])
def test_inf_in_a_panel_count_is_refused_naming_column_and_unit_year(column):
    # before: inf population gave residual_persons = -inf; inf jobs "missing values in vra"
    with pytest.raises(InputError, match=rf"table 'panel' has infinite values: column '{column}': 1 value\(s\) "
                                         r"inf in row\(s\) \('0102', 2004\)\. Fix these values in the source; "
                                         r"if they are unknown, make them NaN"):
        _values_data(_with(column, ("0102", 2004), np.inf))


def test_minus_inf_population_is_called_infinite_not_negative():
    with pytest.raises(InputError, match=r"infinite values: column 'population': 1 value\(s\) -inf in row\(s\) "
                                         r"\('0101', 2003\)"):
        _values_data(_with("population", ("0101", 2003), -np.inf))


def test_inf_in_a_user_regressor_is_refused_before_estimation():
    p = toy_panel().assign(wage=1.0)
    p.loc[("0103", 2005), "wage"] = np.inf
    with pytest.raises(InputError, match=r"column 'wage': 1 value\(s\) inf in row\(s\) \('0103', 2005\)"):
        _values_data(p)


def test_inf_in_a_flow_count_is_refused_naming_the_row():
    f = toy_flows().astype({"count": float})
    f.loc[4, "count"] = np.inf
    with pytest.raises(InputError, match=r"table 'flows' has infinite values: column 'count': 1 value\(s\) inf "
                                         r"in row\(s\) 4\. Fix these counts"):
        _values_data(flows=f)


def test_inf_in_centrality_is_refused_naming_the_unit():
    with pytest.raises(InputError, match=r"table 'centrality' has infinite values: column 'centrality': "
                                         r"1 value\(s\) inf in row\(s\) '0102'"):
        PanelData(toy_panel(), centrality=_CENTRALITY.replace(500.0, np.inf))


def test_inf_in_a_design_given_to_least_squares_names_the_term():
    # a Design built by hand (or by fit()) is checked by the estimator itself
    d = build_design(_values_data(), "2019")
    X = d.X.copy()
    X.loc[("0101", 2004), "vra"] = np.inf
    with pytest.raises(InputError, match=r"table 'design \(2019\)' has infinite values: column 'vra': "
                                         r"1 value\(s\) inf in row\(s\) \('0101', 2004\)"):
        LeastSquares(replace(d, X=X))


def test_values_that_would_overflow_are_refused_naming_column_and_rows():
    # x 1e200: finite, but sums of squares overflow (before: a libpysal error or NaN results)
    p = toy_panel()
    p["jobs"] = p["jobs"] * 1e200
    with pytest.raises(InputError, match=r"table 'panel' has values too large to compute with \(magnitude above "
                                         r"1e\+150, where sums of squares overflow\): column 'jobs': 18 value\(s\) "
                                         r".* in row\(s\) \('0101', 2000\), .* and 8 more\. Check the values"):
        _values_data(p)


def test_huge_flow_counts_are_refused():
    f = toy_flows().astype({"count": float})
    f.loc[0, "count"] = 9e307
    with pytest.raises(InputError, match=r"table 'flows' has values too large .* column 'count': 1 value\(s\) "
                                         r"9e\+307 in row\(s\) 0"):
        _values_data(flows=f)


# ------------------------------------------------------------------- zero values
def test_zero_jobs_in_one_unit_year_names_unit_year_and_column():
    # before: "the regressors are collinear (rank 0 of 5 columns)"
    with pytest.raises(InputError, match=r"relative job growth \(ra, and the vra, vra_l1, vra_l2 built from it\) "
                                         r"divides jobs in year t by jobs in t-1, so it needs jobs > 0 in every year "
                                         r"2000-2005; the panel column 'jobs' is 0\.0 in 1 \(unit, year\) cell\(s\): "
                                         r"\('0102', 2003\)\. Fix the jobs .* on_mismatch='drop' .* crosswalk"):
        geoattr.estimate(_values_data(_with("jobs", ("0102", 2003), 0.0)), spec="2019")


def test_zero_jobs_in_every_year_names_the_unit_not_missing_vra():
    # before: "9 (unit, year) row(s) have missing values in ['vra', 'vra_l1', 'vra_l2']"
    p = toy_panel()
    p.loc["0103", "jobs"] = 0.0
    with pytest.raises(InputError, match=r"'jobs' is 0\.0 in 6 \(unit, year\) cell\(s\): \('0103', 2000\), "
                                         r"\('0103', 2001\), .*\('0103', 2005\)\."):
        geoattr.estimate(_values_data(p), spec="2019")


def test_a_unit_without_jobs_can_be_left_out_with_on_mismatch_drop():
    # what the message proposes: remove the unit's rows; on_mismatch='drop' drops its flows and centrality too
    p = toy_panel().drop(index="0102", level="unit")
    with pytest.warns(DroppedRowsWarning, match=r"on_mismatch='drop': 1 unit\(s\) not in the panel dropped from "
                                                 r"flows: '0102'"):
        data = _values_data(p, on_mismatch="drop")
    assert list(data.units) == list(data.centrality.index) == ["0101", "0103"]
    assert set(data.flows.origin) | set(data.flows.destination) == {"0101", "0103"}
    assert data.accounting["flows"].dropped == {"origin or destination dropped": 17}


def test_zero_jobs_outside_the_years_used_do_not_matter():
    # years 2004-2005 with lags up to 2 need jobs from 2001: a zero in 2000 is not used
    res = geoattr.estimate(_values_data(_with("jobs", ("0101", 2000), 0.0)), spec="2019", years=(2004, 2005),
                           cov_type="robust")
    assert res.results.nobs == 6 and np.isfinite(res.results.params).all()


def test_constant_dependent_variable_is_refused_naming_it():
    # before: R2 = NaN without a word (API), ZeroDivisionError (CLI)
    p = toy_panel()
    p["net_migration"] = p["population"] * 0.01  # y = 1 % everywhere
    with pytest.raises(InputError, match=r"the dependent variable y of '2019' has the same value 1\.0 in all 9 "
                                         r"row\(s\): there is nothing to explain and R² is undefined"):
        geoattr.estimate(_values_data(p), spec="2019")


def test_constant_dependent_variable_in_one_year_skips_that_year_with_the_reason():
    p = toy_panel()
    years = p.index.get_level_values("year")
    p.loc[years == 2004, "net_migration"] = p.loc[years == 2004, "population"] * 0.02
    design = build_design(_values_data(p), "2019")
    by_year = geoattr.estimate_by_year(replace(design, X=design.X[["const", "vra"]]))
    assert sorted(by_year.results) == [2003, 2005]
    assert "has the same value 2.0 in all 3 row(s)" in by_year.skipped[2004]


def test_fit_refuses_an_infinite_regressor_and_a_constant_y_on_a_plain_frame():
    p = toy_panel().assign(y=lambda d: 100 * d.net_migration / d.population)
    p.loc[("0101", 2003), "jobs"] = np.inf
    with pytest.raises(InputError, match=r"table 'design \(y ~ jobs\)' has infinite values: column 'jobs': "
                                         r"1 value\(s\) inf in row\(s\) \('0101', 2003\)"):
        geoattr.fit("y ~ jobs", p)
    cross_section = p.xs(2004, level="year").assign(y=2.0)
    with pytest.raises(InputError, match=r"the dependent variable y of 'y ~ jobs' has the same value 2\.0 in all "
                                         r"3 row\(s\)"):
        geoattr.fit("y ~ jobs", cross_section)


# ------------------------------------------------------------------ number formats
def _panel_text(values: list[str], *, sep: str = ";", column: str = "population") -> str:
    rows = [sep.join(["unit", "year", column])]
    rows += [sep.join([f"030{i + 1}", "2005", v]) for i, v in enumerate(values)]
    return "\n".join(rows) + "\n"


def test_dot_thousands_in_a_semicolon_file_are_refused_not_read_as_decimals(tmp_path):
    # before: 560.000 was read as 560 and the constant became 1,294
    (tmp_path / "p.csv").write_text(_panel_text(["560.000", "1.234", "999"]))
    with pytest.raises(InputError, match=r"table 'panel' column 'population' has 2 count\(s\) written with '\.' "
                                         r"between groups of three digits: '560\.000', '1\.234' in row\(s\) 0, 1\. "
                                         r"Counts are whole numbers, so in a ';'-separated file the '\.' is most "
                                         r"likely a thousands separator \('560\.000' would be read as 560\)\. "
                                         r"Pass thousands='\.'"):
        read_panel(tmp_path / "p.csv")


def test_thousands_dot_reads_the_counts_and_keeps_decimal_commas(tmp_path):
    (tmp_path / "p.csv").write_text("unit;year;population;rate\n0301;2005;560.000;0,5\n0302;2005;1.234.567;1,25\n")
    p = read_panel(tmp_path / "p.csv", thousands=".")
    assert p["population"].tolist() == [560000, 1234567] and p["rate"].tolist() == [0.5, 1.25]


def test_two_dot_groups_are_refused_in_a_comma_file_too(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["1.234.567", "12"], sep=","))
    with pytest.raises(InputError, match=r"'1\.234\.567' in row\(s\) 0\. .*\('1\.234\.567' is no number "
                                         r"otherwise\)\. Pass thousands='\.'"):
        read_panel(tmp_path / "p.csv")
    assert read_panel(tmp_path / "p.csv", thousands=".")["population"].tolist() == [1234567, 12]


def test_comma_thousands_with_thousands_comma(tmp_path):
    (tmp_path / "p.csv").write_text('unit,year,population\n0301,2005,"1,234,567"\n0302,2005,12\n')
    assert read_panel(tmp_path / "p.csv", thousands=",")["population"].tolist() == [1234567, 12]


def test_a_decimal_count_of_people_is_refused(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["12.5", "40"], sep=","))
    with pytest.raises(InputError, match=r"table 'panel' has counts that are not whole numbers: column "
                                         r"'population': 1 value\(s\) 12\.5 in row\(s\) 0\. Counts of persons are "
                                         r"whole numbers: if '\.' or ',' separates thousands .* pass "
                                         r"whole_counts=False if they are estimates"):
        read_panel(tmp_path / "p.csv")
    assert read_panel(tmp_path / "p.csv", whole_counts=False)["population"].tolist() == [12.5, 40.0]


def test_a_decimal_comma_count_in_a_semicolon_file_is_refused(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["7", "-3,5"], column="net_migration"))
    with pytest.raises(InputError, match=r"column 'net_migration': 1 value\(s\) -3\.5 in row\(s\) 1"):
        read_panel(tmp_path / "p.csv")


def test_negative_counts_are_refused_naming_the_file_row(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["100", "-5"], sep=","))
    with pytest.raises(InputError, match=r"table 'panel' has negative values: column 'population': "
                                         r"1 negative value\(s\) -5 in row\(s\) 1"):
        read_panel(tmp_path / "p.csv")


def test_missing_count_in_flows_is_refused_and_in_the_panel_named_at_estimation(tmp_path):
    (tmp_path / "f.csv").write_text("year;origin;destination;count\n2005;0301;0301;\n2005;0301;0302;20\n")
    with pytest.raises(InputError, match=r"table 'flows' has missing values: column 'count': 1 missing value\(s\) "
                                         r"in row\(s\) 0"):
        read_flows(tmp_path / "f.csv")
    data = _values_data(_with("population", ("0103", 2004), np.nan))
    with pytest.raises(InputError, match=r"population is missing for 1 \(unit, year\) cell\(s\): \('0103', 2004\)"):
        geoattr.estimate(data, spec="2019")


def test_dot_thousands_in_flow_counts_are_refused(tmp_path):
    (tmp_path / "f.csv").write_text("year;origin;destination;count\n2005;0301;0301;1.000\n2005;0301;0302;20\n")
    with pytest.raises(InputError, match=r"table 'flows' column 'count' has 1 count\(s\) written with '\.' .* "
                                         r"'1\.000' in row\(s\) 0"):
        read_flows(tmp_path / "f.csv")
    assert read_flows(tmp_path / "f.csv", thousands=".")["count"].tolist() == [1000, 20]


def test_bom_latin1_and_decimal_commas_still_read(tmp_path):
    text = "år;kommune;folketall;andel\n2005;0301;560;0,5\n2005;1103;1200;1,25\n"
    (tmp_path / "p.csv").write_bytes(text.encode("latin-1"))
    p = read_panel(tmp_path / "p.csv", unit="kommune", year="år", columns={"folketall": "population",
                                                                          "andel": "share"})
    assert p["population"].tolist() == [560, 1200] and p["share"].tolist() == [0.5, 1.25]
    (tmp_path / "b.csv").write_bytes(("\ufeff" + _panel_text(["560", "1200"])).encode("utf-8"))
    assert read_panel(tmp_path / "b.csv")["population"].tolist() == [560, 1200]


# ------------------------------------------------------------------------ the CLI
_VALUES_CONFIG = """
[data]
source = "files"
years = [2003, 2005]
panel = {{ path = "panel.csv", unit_column = "kommune", year_column = "year"{panel_extra} }}
flows = {{ path = "flows.csv"{flows_extra} }}
centrality = {{ path = "cent.csv", unit_column = "kommune", value_column = "index" }}

[model]
spec = "2019"
level = "municipality"
cov_type = "robust"

[output]
tables = false
figures = false
profiles = false
report = false
"""


def _values_cli(tmp_path: Path, capsys, panel: pd.DataFrame | None = None, *, sep: str = ",",
                panel_text: str | None = None, flows: pd.DataFrame | None = None, panel_extra: str = "",
                flows_extra: str = "") -> tuple[int, str]:
    """Write the toy files and a run configuration, run `geoattr run`; return the exit status and stderr."""
    p = (toy_panel() if panel is None else panel).reset_index().rename(columns={"unit": "kommune"})
    p = p.astype({c: "int64" for c in ("population", "jobs", "net_migration") if np.isfinite(p[c]).all()
                  and (p[c] % 1 == 0).all()})
    if panel_text is not None:
        (tmp_path / "panel.csv").write_text(panel_text)
    else:
        p.to_csv(tmp_path / "panel.csv", index=False, sep=sep)
    (toy_flows() if flows is None else flows).to_csv(tmp_path / "flows.csv", index=False)
    pd.DataFrame({"kommune": ["0101", "0102", "0103"], "index": [800, 500, 200]}).to_csv(tmp_path / "cent.csv",
                                                                                        index=False)
    (tmp_path / "run.toml").write_text(_VALUES_CONFIG.format(panel_extra=panel_extra, flows_extra=flows_extra))
    capsys.readouterr()
    rc = cli.main(["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path),
                   "--no-progress"])
    err = capsys.readouterr().err
    return rc, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("geoattr: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _thousands_text() -> str:
    p = toy_panel().reset_index()
    rows = ["kommune;year;population;jobs;net_migration"]
    for r in p.itertuples():
        pop = f"{int(r.population) // 1000}.{int(r.population) % 1000:03d}"  # 1010 -> "1.010"
        rows.append(f"{r.unit};{r.year};{pop};{int(r.jobs)};{int(r.net_migration)}")
    return "\n".join(rows) + "\n"


def test_cli_dot_thousands_panel_exits_2_and_runs_with_thousands_dot(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, panel_text=_thousands_text())
    assert rc == 2
    assert "column 'population' has 18 count(s) written with '.' between groups of three digits: '1.000', " \
           "'1.010'" in _one_error_line(err)
    assert "Pass thousands='.' (in a run configuration: thousands = \".\"" in err
    rc, err = _values_cli(tmp_path, capsys, panel_text=_thousands_text(), panel_extra=', thousands = "."')
    assert rc == 0, err
    reference = tmp_path / "ref"
    reference.mkdir()
    assert _values_cli(reference, capsys)[0] == 0  # the same numbers written without separators
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "coefficients.csv"),
                                  pd.read_csv(reference / "out" / "coefficients.csv"))


def test_cli_inf_jobs_exits_2_naming_the_cell(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("jobs", ("0102", 2004), np.inf))
    assert rc == 2
    assert "table 'panel' has infinite values: column 'jobs': 1 value(s) inf in row(s) 10." in _one_error_line(err)


def test_cli_zero_jobs_exits_2_naming_unit_and_year(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("jobs", ("0101", 2002), 0.0))
    assert rc == 2
    line = _one_error_line(err)
    assert "the panel column 'jobs' is 0 in 1 (unit, year) cell(s): ('0101', 2002)" in line
    assert '[data] on_mismatch = "drop"' in line


def test_cli_constant_dependent_variable_exits_2(tmp_path, capsys):
    p = toy_panel()
    p["net_migration"] = 0.0
    rc, err = _values_cli(tmp_path, capsys, p)
    assert rc == 2
    assert "the dependent variable y of '2019' has the same value 0.0 in all 9 row(s)" in _one_error_line(err)


def test_cli_decimal_people_and_huge_flows_exit_2(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("population", ("0103", 2001), 5050.5))
    assert rc == 2
    assert "column 'population': 1 value(s) 5050.5 in row(s) 13" in _one_error_line(err)
    rc, err = _values_cli(tmp_path, capsys, _with("population", ("0103", 2001), 5050.5),
                          panel_extra=", whole_counts = false")  # estimated counts, said so
    assert rc == 0, err
    f = toy_flows().astype({"count": float})
    f.loc[2, "count"] = 1e300
    rc, err = _values_cli(tmp_path, capsys, flows=f)
    assert rc == 2 and "values too large to compute with" in _one_error_line(err)
