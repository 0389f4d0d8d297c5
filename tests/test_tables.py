"""Publication tables: exact cells, stars from known p-values, escaping and input errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import geoattr
from conftest import make_result
from geoattr.compare import Comparison
from geoattr.exceptions import InputError
from geoattr.report.tables import comparison_table, ranking_table, regression_table


@pytest.fixture
def two_models():
    # t = 2.5 (p = .0124, **), 1.65 (p = .0989, *), 3.0 (p = .0027, ***), 1.6 (p = .1096, none)
    a = make_result(
        {"const": 0.32, "vra_l1": 0.5, "ds": -0.6}, {"const": 0.2, "vra_l1": 0.2, "ds": 0.2}
    )
    b = make_result(
        {"const": 0.33, "vra_l1": 0.33},
        {"const": 0.2, "vra_l1": 0.2},
        nobs=80,
        loglik=-150.25,
        r2=0.2,
    )
    return {"A": a, "B": b}


def stars_of(t: float) -> str:
    p = 2 * stats.norm.sf(abs(t))
    return "*" * sum(p < c for c in (0.10, 0.05, 0.01))


def test_stars_helper_matches_known_pvalues():
    assert [stars_of(t) for t in (2.5, 1.65, 3.0, 1.6)] == ["**", "*", "***", ""]


def test_latex_regression_table(two_models):
    tex = regression_table(two_models)
    lines = tex.splitlines()
    assert lines[0] == "\\begin{tabular}{lcc}"
    assert lines[1] == "\\toprule" and "\\bottomrule" in lines and lines[-1] == "\\end{tabular}"
    assert lines[2] == " & A & B \\\\"
    i = lines.index(f"vra\\_l1 & 0.500{stars_of(2.5)} & 0.330{stars_of(1.65)} \\\\")
    assert lines[i + 1] == " & (0.200) & (0.200) \\\\"
    assert "ds & -0.600*** &  \\\\" in lines  # ds missing from B: blank cell
    assert "const & 0.320 & 0.330* \\\\" in lines  # t = 1.6: no star; t = 1.65: one
    assert "vra_l1" not in tex.replace("vra\\_l1", "")  # every underscore escaped
    assert "Observations & 120 & 80 \\\\" in lines
    assert "$R^2$ & 0.432 & 0.200 \\\\" in lines
    a = two_models["A"]
    assert f"AIC & {2 * 3 - 2 * -200.5:.3f} & {2 * 2 - 2 * -150.25:.3f} \\\\" in lines
    assert "Log-likelihood & -200.500 & -150.250 \\\\" in lines
    assert a.aic == pytest.approx(407.0)
    # coefficient block and statistics block separated by a rule
    assert lines.count("\\midrule") == 2
    assert "* p<0.1, ** p<0.05, *** p<0.01" in tex


def test_options(two_models):
    tex = regression_table(
        two_models,
        stars=(0.05,),
        digits=2,
        labels={"vra_l1": "$VRA_{t-1}$"},
        stats=("nobs", "bic"),
        terms=["vra_l1"],
        notes=False,
    )
    lines = tex.splitlines()
    assert "$VRA_{t-1}$ & 0.50* & 0.33 \\\\" in lines  # label verbatim; p = .0989 > .05
    assert " & (0.20) & (0.20) \\\\" in lines
    assert not any(line.startswith("const") for line in lines)
    assert (
        "BIC & " + f"{3 * np.log(120) + 401.0:.2f}" + f" & {2 * np.log(80) + 300.5:.2f} \\\\"
        in lines
    )
    assert "AIC" not in tex and "footnotesize" not in tex
    # no stars at all
    assert "0.50 &" in regression_table(
        two_models, stars=(), digits=2
    ) and "*" not in regression_table(two_models, stars=(), notes=False)


def test_single_result_and_duck_typed_object():
    r = SimpleNamespace(params=pd.Series({"x": -0.0001}), std_errors=pd.Series({"x": 0.5}), nobs=10)
    md = regression_table(r, fmt="markdown", stats=("nobs", "r2"))
    lines = md.splitlines()
    assert lines[0] == "|  | (1) |"
    assert "| x | 0.000 |" in lines  # no "-0.000" and no stars without p-values
    assert "| R² |  |" in lines  # missing attribute -> blank
    assert "| Observations | 10 |" in lines


def test_markdown_columns_and_escaping(two_models):
    models = {"sar|queen": two_models["A"], "B": two_models["B"], "C": two_models["A"]}
    md = regression_table(models, fmt="markdown")
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert table[0] == "|  | sar\\|queen | B | C |"
    assert table[1] == "|:---|:---:|:---:|:---:|"
    for ln in table:  # 1 label + 3 models = 4 cells = 5 unescaped pipes
        assert ln.count("|") - ln.count("\\|") == 5, ln
    assert "| vra_l1 | 0.500** | 0.330* | 0.500** |" in table
    assert "|  | (0.200) | (0.200) | (0.200) |" in table
    assert "\\toprule" not in md
    assert (
        md.splitlines()[-1]
        == "Standard errors in parentheses. \\* p<0.1, \\*\\* p<0.05, \\*\\*\\* p<0.01."
    )


def test_markdown_escapes_html_and_markdown_in_names(two_models, rankings_frame):
    """A name that is HTML or Markdown in a .md table is shown as text (escape_markdown)."""
    models = {"<script>alert(1)</script>": two_models["A"], "[x](javascript:y)": two_models["B"]}
    md = regression_table(models, fmt="markdown", labels={"ds": "<b>ds</b>"})
    header = md.splitlines()[0]
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in header
    assert "\\[x\\](javascript:y)" in header  # no link
    assert "| &lt;b&gt;ds&lt;/b&gt; |" in md
    evil = rankings_frame.assign(name="<img src=x onerror=alert(1)>", unit="a*b*")
    rt = ranking_table(evil, fmt="markdown", top_n=1)
    assert "<img" not in rt and "&lt;img src=x onerror=alert(1)&gt;" in rt and "a\\*b\\*" in rt


def test_regression_table_errors(two_models):
    with pytest.raises(
        InputError, match=r"unknown fmt 'rtf'; allowed values are \['latex', 'markdown', 'html'\]"
    ):
        regression_table(two_models, fmt="rtf")
    with pytest.raises(InputError, match="model 'broken' has no params"):
        regression_table({"A": two_models["A"], "broken": SimpleNamespace(nobs=3)})
    with pytest.raises(InputError, match=r"unknown statistic\(s\) \['rmse'\]"):
        regression_table(two_models, stats=("nobs", "rmse"))
    with pytest.raises(InputError, match=r"term\(s\) \['gamma'\] are not estimated"):
        regression_table(two_models, terms=["gamma"])
    with pytest.raises(InputError, match="stars thresholds"):
        regression_table(two_models, stars=(5,))
    with pytest.raises(InputError, match="digits"):
        regression_table(two_models, digits=-1)
    with pytest.raises(InputError, match="results is empty"):
        regression_table({})


def hand_comparison(two_models) -> pd.DataFrame:
    """The layout compare() builds: <term>, <term> (se), then statistics rows."""
    cols = ["vra_ols", "sar|queen"]
    rows = {
        "vra": [0.5, np.nan],
        "vra (se)": [0.2, np.nan],
        "rho": [np.nan, 0.4],
        "rho (se)": [np.nan, 0.1],
        "nobs": [4272.0, 4272.0],
        "loglik": [-10.0, -12.5],
        "moran_I_z[queen]": [3.21, np.nan],
    }
    return pd.DataFrame(rows, index=cols).T


def test_comparison_table_without_and_with_pvalues(two_models):
    frame = hand_comparison(two_models)
    before = frame.copy()
    tex = comparison_table(frame)
    lines = tex.splitlines()
    assert lines[0] == "\\begin{tabular}{lcc}"
    assert lines[2] == " & vra\\_ols & sar\\textbar{}queen \\\\"
    i = lines.index("vra & 0.500 &  \\\\")  # no p-values: no stars
    assert lines[i + 1] == " & (0.200) &  \\\\"
    assert "rho &  & 0.400 \\\\" in lines
    assert "Observations & 4272 & 4272 \\\\" in lines
    assert "moran\\_I\\_z[queen] & 3.210 &  \\\\" in lines
    assert "*" not in tex
    pd.testing.assert_frame_equal(frame, before)

    p = pd.DataFrame(
        {"vra_ols": {"vra": 0.012, "rho": np.nan}, "sar|queen": {"vra": np.nan, "rho": 0.0001}}
    )
    md = comparison_table(frame, fmt="markdown", pvalues=p)
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert "| vra | 0.500** |  |" in table
    assert "| rho |  | 0.400*** |" in table
    assert "|  | vra_ols | sar\\|queen |" == table[0]
    assert all(ln.count("|") - ln.count("\\|") == 4 for ln in table)


def test_comparison_object_supplies_pvalues(two_models):
    comp = Comparison(
        results={"vra_ols": two_models["A"]},
        table=pd.DataFrame({"vra_ols": {"vra_l1": 0.5, "vra_l1 (se)": 0.2, "nobs": 120.0}}),
    )
    tex = comparison_table(comp)
    assert f"vra\\_l1 & 0.500{stars_of(2.5)} \\\\" in tex.splitlines()


def test_comparison_table_errors(two_models):
    frame = hand_comparison(two_models)
    with pytest.raises(InputError, match=r"allowed values are \['latex', 'markdown', 'html'\]"):
        comparison_table(frame, fmt="csv")
    with pytest.raises(InputError, match="no '<term> \\(se\\)' rows"):
        comparison_table(frame.drop(index=["vra (se)", "rho (se)"]))
    with pytest.raises(InputError, match=r"row\(s\) \['vra \(se\)'\] have no estimate row"):
        comparison_table(frame.drop(index=["vra"]))
    with pytest.raises(InputError, match="comparison must be the table"):
        comparison_table([1, 2])


def test_comparison_table_on_compare_output(synthetic_data):
    comp = geoattr.compare(
        synthetic_data, weights={}, models=["vra_ols", "ols"], years=(2015, 2020)
    )
    tex = comparison_table(comp)
    r = comp.results["vra_ols"]
    p, b, se = r.pvalues["vra"], r.params["vra"], r.std_errors["vra"]
    n = sum(p < c for c in (0.10, 0.05, 0.01))
    lines = tex.splitlines()
    i = lines.index(f"vra & {b:.3f}{'*' * n} &  \\\\")
    assert lines[i + 1] == f" & ({se:.3f}) &  \\\\"
    assert f"Observations & {r.nobs} & {comp.results['ols'].nobs} \\\\" in lines
    assert comparison_table(comp.table, fmt="markdown").count("*") == 0  # bare table: no p-values


@pytest.fixture
def rankings_frame():
    cum = pd.DataFrame(
        {
            "residual": [5.0, -3.0, 12.5, 0.25, -7.125, 1.0],
            "residual_persons": [1500.0, -300.0, 12345.4, 10.0, -2500.0, 40.0],
            "mean_residual": [1.0, -0.6, 2.5, 0.05, -1.425, 0.2],
            "n_years": [5] * 6,
        },
        index=pd.Index(["0301", "1101", "4601", "5001", "1804", "3005"], name="unit"),
    )
    names = pd.Series(
        {
            "0301": "Oslo",
            "1101": "Eigersund",
            "4601": "Bergen",
            "5001": "Trondheim",
            "1804": "Bodø",
            "3005": "Drammen",
        }
    )
    return geoattr.rankings(cum, n=2, names=names)


def test_ranking_table(rankings_frame):
    before = rankings_frame.copy()
    tex = ranking_table(rankings_frame)
    lines = tex.splitlines()
    assert lines[0] == "\\begin{tabular}{rllrr}"
    assert lines[2] == "Rank & Unit & Name & Attractiveness (pp) & Persons \\\\"
    top = lines.index("\\multicolumn{5}{l}{\\textit{Most attractive}} \\\\")
    assert lines[top + 1] == "1 & 4601 & Bergen & 12.50 & 12,345 \\\\"
    assert lines[top + 2] == "2 & 0301 & Oslo & 5.00 & 1,500 \\\\"
    bottom = lines.index("\\multicolumn{5}{l}{\\textit{Least attractive}} \\\\")
    assert lines[bottom + 1] == "6 & 1804 & Bodø & -7.12 & -2,500 \\\\"  # least attractive first
    assert lines[bottom + 2] == "5 & 1101 & Eigersund & -3.00 & -300 \\\\"
    pd.testing.assert_frame_equal(rankings_frame, before)

    md = ranking_table(rankings_frame, fmt="markdown", top_n=1, digits=1)
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert table == [
        "| Rank | Unit | Name | Attractiveness (pp) | Persons |",
        "|---:|:---|:---|---:|---:|",
        "| *Most attractive* |  |  |  |  |",
        "| 1 | 4601 | Bergen | 12.5 | 12,345 |",
        "| *Least attractive* |  |  |  |  |",
        "| 6 | 1804 | Bodø | -7.1 | -2,500 |",
    ]


def test_ranking_table_without_names(rankings_frame):
    plain = rankings_frame.assign(name=rankings_frame["unit"])
    md = ranking_table(plain, fmt="markdown")
    assert md.splitlines()[0] == "| Rank | Unit | Attractiveness (pp) | Persons |"


def test_ranking_table_errors(rankings_frame):
    with pytest.raises(
        InputError, match=r"unknown fmt 'txt'; allowed values are \['latex', 'markdown', 'html'\]"
    ):
        ranking_table(rankings_frame, fmt="txt")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['residual_persons'\]"):
        ranking_table(rankings_frame.drop(columns="residual_persons"))
    with pytest.raises(InputError, match="top_n must be an integer >= 1"):
        ranking_table(rankings_frame, top_n=0)


def test_regression_table_of_estimated_models(synthetic_data):
    fit = geoattr.estimate(synthetic_data, "2022", years=(2015, 2020))
    r = fit.results
    tex = regression_table(
        {
            "VRA": fit,
            "VRA (robust)": geoattr.estimate(
                synthetic_data, "2022", years=(2015, 2020), cov_type="robust"
            ).results,
        }
    )
    n = sum(r.pvalues["ds"] < c for c in (0.10, 0.05, 0.01))
    assert f"ds & {r.params['ds']:.3f}{'*' * n} & {r.params['ds']:.3f}" in tex
    assert f"Observations & {r.nobs} & {r.nobs} \\\\" in tex.splitlines()


def test_html_tables_for_the_report(two_models, rankings_frame):
    """HTML output: same cells as Markdown, escaped text, one tbody per panel, note in tfoot."""
    html = regression_table(two_models, fmt="html", stats=("nobs",))
    assert html.startswith('<table class="geoattr-table">')
    # vra_l1 in A: 0.5 / 0.2 -> t = 2.5, p = .0124 -> two stars (hand calculation above)
    assert '<td style="text-align:center">0.500**</td>' in html
    assert '<td style="text-align:center">(0.200)</td>' in html
    assert html.count("<tbody>") == 2  # coefficients, statistics
    assert "<tfoot>" in html and "Standard errors in parentheses" in html
    assert "\\*" not in html  # markdown escaping does not leak into HTML
    esc = regression_table(two_models, fmt="html", labels={"ds": "a<b & c"})
    assert "a&lt;b &amp; c" in esc
    rt = ranking_table(rankings_frame, fmt="html", top_n=1)
    assert rt.count("<tbody>") == 2 and "<em>Most attractive</em>" in rt and "<em>Least attractive</em>" in rt
