"""Migration choice (issue 7): multinomial logit of stay / domestic move / emigration.

Reference values come from the synthetic generator's known truth
(``geoattr.datasets.individuals``) and from statsmodels ``MNLogit`` fitted directly on
the same arrays (the engine geoattr wraps).  Tolerances are stated where used.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from geoattr.models import choice
from geoattr.models.choice import (
    DEFAULT_SPEC,
    ChoiceSpec,
    SeparationWarning,
    build_design,
    fit_choice,
    parse_hypothesis,
    plot_choice_probabilities,
)
from geoattr.datasets.individuals import TRUE_PARAMS, synthetic_individuals, true_params
from geoattr.models.choice.estimation import PatternMNLogit
from geoattr.models.results import Results
from geoattr.exceptions import ConvergenceWarning, DroppedRowsWarning, InputError

ROOT = Path(__file__).resolve().parents[1]
NO_INTERACTION = ChoiceSpec(interaction=False)
#: A small model (background, centrality, education; 7 + 3 terms) for the tests of warnings and errors.
LEAN = ChoiceSpec(interaction=False, age="none", controls=DEFAULT_SPEC.controls[1:2])
PROFILE = {"age": 35, "sex": "female", "education": "higher_short", "labour": "employed",
           "family": "couple_children"}


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def big():
    """200,000 person-years (seed 7) and the fit of the default specification (~3 s on 2 idle cores)."""
    df, truth = synthetic_individuals(200_000, seed=7)
    return df, truth, fit_choice(df)


@pytest.fixture(scope="module")
def small():
    """40,000 person-years, enough for the model without interactions."""
    return synthetic_individuals(40_000, seed=3)[0]


@pytest.fixture(scope="module")
def small_fit(small):
    return fit_choice(small, spec=NO_INTERACTION)


def toy() -> pd.DataFrame:
    """Eight hand-made rows covering every level once or more."""
    return pd.DataFrame({
        "outcome": ["stay", "domestic", "emigration", "stay", "stay", "domestic", "stay", "emigration"],
        "background": ["immigrant", "rest", "born_to_immigrants", "rest", "immigrant", "rest", "rest", "rest"],
        "centrality": [1, 6, 5, 2, 3, 4, 1, 2],
        "age": [35, 18, 24, 25, 49, 50, 67, 80],
        "sex": ["female", "male", "female", "male", "male", "female", "male", "female"],
        "education": ["higher_short", "compulsory", "upper_secondary", "higher_long", "compulsory",
                      "upper_secondary", "higher_short", "higher_long"],
        "labour": ["employed", "student", "unemployed", "outside", "employed", "employed", "outside", "student"],
        "family": ["couple_children", "single", "single_parent", "couple_no_children", "single", "single",
                   "couple_no_children", "single"],
    }, index=pd.Index([f"p{i}" for i in range(8)], name="person"))


# --------------------------------------------------------------------------- generator
def test_generator_columns_rates_and_determinism():
    df, truth = synthetic_individuals(100_000, seed=1)
    assert list(df.columns) == ["outcome", "background", "centrality", "age", "sex", "education", "labour",
                                "family", "year"]
    assert df.index.name == "person_year" and len(df) == 100_000
    shares = df["outcome"].value_counts(normalize=True)
    # the realistic rates: domestic moves 5-8 %, emigration 0.5-1 % per year
    assert 0.05 < shares["domestic"] < 0.08
    assert 0.005 < shares["emigration"] < 0.01
    by = df.groupby("background", observed=True)["outcome"].value_counts(normalize=True).unstack()
    assert by.loc["immigrant", "emigration"] > 3 * by.loc["rest", "emigration"]
    assert set(df["centrality"].unique()) == {1, 2, 3, 4, 5, 6}
    assert df["age"].between(18, 79).all()
    again, _ = synthetic_individuals(100_000, seed=1)
    assert df.equals(again)  # (assert_frame_equal is slow on categoricals)
    other, _ = synthetic_individuals(100_000, seed=2)
    assert not df["outcome"].equals(other["outcome"])
    pd.testing.assert_series_equal(truth, TRUE_PARAMS)
    assert list(truth.index.get_level_values("term").unique()) == list(DEFAULT_SPEC.terms)


def test_generator_params_override():
    df, truth = synthetic_individuals(50_000, seed=1, params={("emigration", "const"): -4.0})
    assert truth[("emigration", "const")] == -4.0
    assert truth[("domestic", "const")] == TRUE_PARAMS[("domestic", "const")]
    # exp(1.75) ~ 5.8 times the odds: the emigration share rises well above 1 %
    assert (df["outcome"] == "emigration").mean() > 0.025
    with pytest.raises(InputError, match=r"unknown parameter \('emigration', 'nonsense'\)"):
        true_params({("emigration", "nonsense"): 1.0})
    with pytest.raises(InputError, match="n must be a positive integer"):
        synthetic_individuals(0, seed=1)


# --------------------------------------------------------------------------- design
def test_design_by_hand():
    d = build_design(toy())
    X = d.frame()
    assert d.n_patterns == 8 and d.counts.sum() == 8 and d.nobs == 8
    assert list(X.columns) == list(DEFAULT_SPEC.terms)
    assert X.index.equals(toy().index)
    assert (X["const"] == 1).all()
    p0 = X.loc["p0"]  # immigrant, class 1, 35, female, higher_short, employed, couple_children
    ones = {"const", "immigrant", "centrality_1", "immigrant:centrality_1", "age_30_39", "sex_female",
            "education_higher_short", "family_couple_children"}
    assert set(p0[p0 == 1].index) == ones and p0.sum() == len(ones)
    # class 6 and class 5 both fall in the merged reference level 5_6
    for row in ("p1", "p2"):
        assert X.loc[row, [t for t in X.columns if "centrality" in t]].sum() == 0
    assert X.loc["p1", "age_18_24"] == 1 and X.loc["p2", "age_18_24"] == 1
    assert X.loc["p3", "age_25_29"] == 1 and X.loc["p4"].filter(like="age_").sum() == 0  # 49: reference 40_49
    assert X.loc["p5", "age_50_66"] == 1 and X.loc["p6", "age_67_plus"] == 1 and X.loc["p7", "age_67_plus"] == 1
    assert X.loc["p2", "born_to_immigrants"] == 1 and X.loc["p2", "labour_unemployed"] == 1
    assert list(d.outcome()) == list(toy()["outcome"])
    assert d.outcome_counts.loc[("centrality", "5_6")].tolist() == [0, 1, 1]


def test_design_reference_levels_are_explicit():
    spec = DEFAULT_SPEC.with_references(education="compulsory", centrality="1", background="immigrant")
    assert "education_upper_secondary" in spec.terms and "education_compulsory" not in spec.terms
    assert "centrality_5_6" in spec.terms and "rest:centrality_5_6" in spec.terms
    assert spec.references["education"] == "compulsory"
    with pytest.raises(InputError, match="reference level 'phd' of 'education' is not one of its categories"):
        DEFAULT_SPEC.with_references(education="phd")
    with pytest.raises(InputError, match=r"unknown variable\(s\) \['colour'\]"):
        DEFAULT_SPEC.with_references(colour="red")


def test_input_is_not_mutated_and_columns_mapping(small):
    before = small.copy()
    renamed = small.rename(columns={"outcome": "flytting", "education": "utdanning"})
    renamed["flytting"] = renamed["flytting"].map({"stay": 0, "domestic": 1, "emigration": 2}).astype(int)
    snapshot = renamed.copy()
    a = build_design(small)
    b = build_design(renamed, columns={"outcome": "flytting", "education": "utdanning"},
                     recode={"outcome": {0: "stay", 1: "domestic", 2: "emigration"}})
    np.testing.assert_array_equal(a.full_exog(), b.full_exog())
    np.testing.assert_array_equal(a.endog, b.endog)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert small.equals(before) and renamed.equals(snapshot)
    # strings and plain object columns give the same design as categoricals
    obj = small.astype({c: object for c in ["background", "sex", "education", "labour", "family"]})
    np.testing.assert_array_equal(build_design(obj).full_exog(), a.full_exog())


# --------------------------------------------------------------------------- validation
def test_unknown_category_names_column_values_and_rows():
    df = toy()
    df.loc[["p1", "p4", "p5"], "education"] = "phd"
    with pytest.raises(InputError, match=r"column 'education' \(education\) has 1 value\(s\) outside its declared "
                                         r"categories .*'phd' \(3 rows\)"):
        build_design(df)
    df = toy()
    df.loc["p0", "centrality"] = 7
    with pytest.raises(InputError, match=r"column 'centrality' \(centrality\).*7 \(1 rows\)"):
        build_design(df)
    df = toy()
    df.loc[["p0", "p1"], "age"] = [15, 16]
    with pytest.raises(InputError, match=r"ages below the first age group 18 \(2 rows"):
        build_design(df)


def test_missing_outcome_raises_or_drops_with_report():
    df = toy()
    df.loc["p3", "outcome"] = np.nan
    df.loc["p6", "outcome"] = "moved_abroad"
    with pytest.raises(InputError, match=r"2 row\(s\) have a missing or unknown outcome \(allowed: \['stay', "
                                         r"'domestic', 'emigration'\]; 1 unknown: 'moved_abroad', 1 missing\); "
                                         r"first rows: 'p3', 'p6'"):
        build_design(df)
    with pytest.warns(DroppedRowsWarning, match=r"dropped 2 of 8 rows .*outcome: 2"):
        d = build_design(df, on_missing="drop")
    assert d.nobs == 6 and "p3" not in d.index
    acc = d.accounting["persons"]
    assert (acc.read, acc.used, acc.dropped) == (8, 6, {"missing outcome": 2})


def test_missing_covariate_and_columns():
    df = toy()
    df.loc["p2", "sex"] = None
    with pytest.raises(InputError, match=r"1 row\(s\) have missing values \(sex: 1\); first rows: 'p2'"):
        build_design(df)
    with pytest.raises(InputError, match=r"the data lack the column\(s\) 'family'"):
        build_design(toy().drop(columns="family"))
    with pytest.raises(InputError, match=r"'outcome' \(column 'flytting'\)"):
        build_design(toy(), columns={"outcome": "flytting"})
    with pytest.raises(InputError, match="on_missing must be 'raise' or 'drop'"):
        build_design(toy(), on_missing="ignore")


def test_empty_level_and_absent_outcome():
    df = toy()
    df.loc["p7", "labour"] = "outside"  # no student left but one
    df.loc["p1", "labour"] = "employed"
    with pytest.raises(InputError, match=r"declared level\(s\) or cells with no rows: labour = 'student'"):
        fit_choice(df, spec=NO_INTERACTION)
    df = toy()
    df.loc[["p2", "p7"], "outcome"] = "stay"
    with pytest.raises(InputError, match=r"outcome\(s\) \['emigration'\] never occur"):
        build_design(df)


def test_separation_is_caught_before_fitting(small):
    df = small.copy()
    df.loc[(df["education"] == "higher_long") & (df["outcome"] == "emigration"), "outcome"] = "stay"
    n_level = int((df["education"] == "higher_long").sum())
    with pytest.raises(InputError, match=rf"perfect separation: no 'emigration' among the {n_level:,} rows with "
                                         r"education = 'higher_long'"):
        fit_choice(df, spec=NO_INTERACTION)
    rep = choice.separation_report(build_design(df, spec=LEAN))
    assert rep.to_dict("records") == [{"variable": "education", "category": "higher_long", "outcome": "emigration",
                                       "rows": n_level}]
    # the fit then fails to converge as well (statsmodels' warning, translated)
    with pytest.warns(ConvergenceWarning), pytest.warns(SeparationWarning, match="education = 'higher_long'"):
        res = fit_choice(df, spec=LEAN, on_separation="warn", maxiter=15)
    # the separated coefficient runs off towards minus infinity (true value +0.6)
    assert res.params[("emigration", "education_higher_long")] < -5


def test_diverging_coefficients_are_caught_after_the_fit(small):
    """The safety net behind the cross-tabulation: a separated design whose counts table was
    (artificially) cleared still fails, naming the diverging coefficient."""
    from dataclasses import replace

    df = small.copy()
    df.loc[(df["education"] == "higher_long") & (df["outcome"] == "emigration"), "outcome"] = "stay"
    d = build_design(df, spec=LEAN)
    hidden = replace(d, outcome_counts=d.outcome_counts + 1)
    with pytest.raises(InputError, match=r"coefficients \['emigration:education_higher_long'\] diverge"):
        choice.fit_design(hidden, maxiter=25)
    with pytest.warns(ConvergenceWarning), pytest.warns(SeparationWarning, match="diverge"):
        choice.fit_design(hidden, maxiter=25, on_separation="warn")


def test_separation_in_an_interaction_cell(big):
    df = big[0]
    cell = (df["background"] == "immigrant") & (df["centrality"] == 1)
    df = df.assign(outcome=df["outcome"].where(~(cell & (df["outcome"] == "emigration")), "stay"))
    with pytest.raises(InputError, match=r"no 'emigration' among the .* rows with background:centrality = "
                                         r"'immigrant:1'"):
        fit_choice(df)


def test_statsmodels_separation_warning_is_translated(small, monkeypatch):
    from statsmodels.discrete.discrete_model import MNLogit
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    original = MNLogit.fit

    def fit(self, *args, **kwargs):
        warnings.warn("Perfect separation or prediction detected", PerfectSeparationWarning)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MNLogit, "fit", fit)
    with pytest.raises(InputError, match="statsmodels reports perfect separation"):
        fit_choice(small, spec=LEAN)
    with pytest.warns(SeparationWarning, match="statsmodels reports perfect separation"):
        fit_choice(small, spec=LEAN, on_separation="warn")


def test_non_convergence_warns(small):
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        res = fit_choice(small, spec=LEAN, maxiter=1)
    assert not res.converged


# --------------------------------------------------------------------------- estimation
@pytest.mark.slow
def test_recovers_the_true_parameters(big):
    """Source: the generator's truth.  Tolerance: each |estimate - truth| < 4 standard errors
    (with 60 coefficients, P(any |z| > 4) ~ 0.4 % under correct standard errors), and the
    joint Wald test of estimate = truth (60 df) not rejected at 1 %."""
    _, truth, res = big
    assert res.converged
    assert res.params.index.equals(truth.index)
    z = (res.params - truth) / res.std_errors
    assert z.abs().max() < 4, z.abs().sort_values().tail()
    w = res.wald_test(np.eye(len(truth)), truth.to_numpy())
    assert w["df"] == 60 and w["p_value"] > 0.01
    # the Wald statistic is the quadratic form, computed here by hand
    d = (res.params - truth).to_numpy()
    np.testing.assert_allclose(w["statistic"], d @ np.linalg.solve(res.cov.to_numpy(), d), rtol=1e-8)
    # a false hypothesis (true value 1.9) is rejected
    assert res.test(["emigration: immigrant = 0"])["p_value"].iloc[0] < 1e-10


def test_equals_statsmodels_on_the_same_arrays(small, small_fit):
    """Source: statsmodels MNLogit fitted directly on the 40,000 person-years (default zero start).
    geoattr fits the same likelihood on the covariate patterns.  Tolerance 1e-6 on coefficients
    (Newton converges to ~1e-10 from either start), 1e-5 relative on standard errors."""
    from statsmodels.discrete.discrete_model import MNLogit

    d = build_design(small, spec=NO_INTERACTION)
    assert small_fit.aggregated and d.n_patterns < d.nobs / 2
    with threadpool_limits(1):  # 40,000 x 24: one BLAS thread is steadier on a busy machine
        direct = MNLogit(d.endog, d.full_exog()).fit(disp=0)
        plain = choice.fit_design(d, aggregate=False)
    np.testing.assert_allclose(small_fit.params.to_numpy(), direct.params.ravel(order="F"), atol=1e-6)
    np.testing.assert_allclose(small_fit.std_errors.to_numpy(), direct.bse.ravel(order="F"), rtol=1e-5)
    np.testing.assert_allclose(small_fit.loglik, direct.llf, rtol=1e-10)
    # the closed-form null log-likelihood equals statsmodels' refitted constants-only model
    np.testing.assert_allclose(small_fit.loglik_null, direct.llnull, rtol=1e-8)
    np.testing.assert_allclose(small_fit.rsquared, direct.prsquared, rtol=1e-8)
    np.testing.assert_allclose(small_fit.aic, direct.aic, rtol=1e-10)
    P = small_fit.probabilities(small)
    np.testing.assert_allclose(P.to_numpy(), direct.predict(d.full_exog()), atol=1e-8)
    assert list(P.columns) == ["stay", "domestic", "emigration"] and P.index.equals(small.index)
    # the same wrapper without aggregation is MNLogit on the dense design
    assert not plain.aggregated
    np.testing.assert_allclose(plain.params.to_numpy(), small_fit.params.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(plain.cov.to_numpy(), small_fit.cov.to_numpy(), rtol=1e-5, atol=1e-12)


def test_pattern_score_and_hessian_equal_statsmodels(small):
    """The pattern model's score and Hessian at arbitrary coefficients equal MNLogit's on the
    person-years (source: statsmodels; tolerance 1e-9 relative)."""
    from statsmodels.discrete.discrete_model import MNLogit

    d = build_design(small.head(5000), spec=LEAN)
    person = MNLogit(d.endog, d.full_exog())
    pattern = PatternMNLogit(d.counts, d.exog)
    b = np.random.default_rng(0).normal(scale=0.3, size=2 * len(d.terms))
    np.testing.assert_allclose(pattern.loglike(b), person.loglike(b), rtol=1e-10)
    np.testing.assert_allclose(pattern.score(b), person.score(b), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pattern.hessian(b), person.hessian(b), rtol=1e-9, atol=1e-9)


def test_coefficient_table(small_fit):
    t = small_fit.to_frame()
    assert list(t.columns) == ["estimate", "std_error", "t", "p", "lower", "upper", "rrr", "rrr_lower",
                               "rrr_upper"]
    assert t.index.names == ["equation", "term"]
    assert list(t.index.get_level_values("equation").unique()) == ["domestic", "emigration"]
    np.testing.assert_allclose(t["upper"] - t["estimate"], stats.norm.ppf(0.975) * t["std_error"], rtol=1e-12)
    np.testing.assert_allclose(t["rrr"], np.exp(t["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(t["rrr_lower"], np.exp(t["lower"]), rtol=1e-12)
    np.testing.assert_allclose(t["p"], 2 * stats.norm.sf(np.abs(t["estimate"] / t["std_error"])), rtol=1e-10)
    md = small_fit.to_markdown()
    assert md.startswith("| term | domestic: RRR [95% CI] | emigration: RRR [95% CI] |")
    assert "| sex_female |" in md
    tex = small_fit.to_latex()
    assert "\\toprule" in tex and "sex\\_female" in tex


def test_results_family(small_fit):
    """ChoiceResults is a geoattr Results: the common names (z statistics as tstats with the normal
    distribution), McFadden's pseudo R² as rsquared, summary a property, immutable, replace() for notes."""
    assert isinstance(small_fit, Results) and small_fit.dist == "normal"
    np.testing.assert_allclose(small_fit.tstats, small_fit.params / small_fit.std_errors, rtol=1e-12)
    ci = small_fit.conf_int(level=0.9)
    np.testing.assert_allclose(ci["upper"] - small_fit.params, stats.norm.ppf(0.95) * small_fit.std_errors,
                               rtol=1e-12)
    np.testing.assert_allclose(small_fit.rsquared, 1 - small_fit.loglik / small_fit.loglik_null, rtol=1e-12)
    assert "McFadden" in small_fit.rsquared_definition
    np.testing.assert_allclose(small_fit.relative_risk_ratios()["rrr"], np.exp(small_fit.params), rtol=1e-12)
    text = small_fit.summary.as_text()
    assert "MNLOGIT" in text and "sex_female" in text and "Pseudo R-squared" in text
    with pytest.raises(AttributeError, match="immutable"):
        small_fit.nobs = 1
    noted = small_fit.replace(add_notes=["a note"])
    assert noted.notes == ("a note",) and small_fit.notes == ()
    np.testing.assert_array_equal(noted.params, small_fit.params)
    assert noted.loglik == small_fit.loglik and noted.nobs == small_fit.nobs


def test_generator_does_not_import_the_model():
    """The synthetic generator produces data only: no import of geoattr.models (no import cycle)."""
    import ast

    import geoattr.datasets.individuals as gen

    tree = ast.parse(Path(gen.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("geoattr.models")], imported


def test_reference_choice_does_not_change_predictions(small):
    """Reparametrisation invariance: other reference levels, same fitted probabilities (1e-7)."""
    first = fit_choice(small, spec=LEAN)
    other = fit_choice(small, spec=LEAN.with_references(education="compulsory", centrality="1"))
    assert "education_upper_secondary" in other.terms and "centrality_5_6" in other.terms
    np.testing.assert_allclose(other.loglik, first.loglik, rtol=1e-10)
    np.testing.assert_allclose(other.probabilities(small.head(500)).to_numpy(),
                               first.probabilities(small.head(500)).to_numpy(), atol=1e-7)
    # education_compulsory (vs upper secondary) = -(education_upper_secondary vs compulsory)
    np.testing.assert_allclose(other.params[("emigration", "education_upper_secondary")],
                               -first.params[("emigration", "education_compulsory")], atol=1e-6)


def test_quadratic_age(small):
    res = fit_choice(small, spec=ChoiceSpec(interaction=False, age="quadratic", controls=()))
    assert {"age", "age_sq"} <= set(res.terms) and not any(t.startswith("age_1") for t in res.terms)
    # the generator's moving rates peak in the twenties: concave in age for domestic moves
    assert res.params[("domestic", "age")] < 0


# --------------------------------------------------------------------------- hypotheses
def test_parse_hypothesis():
    terms, eqs = list(DEFAULT_SPEC.terms), list(DEFAULT_SPEC.equations)
    K = len(terms)
    R, q = parse_hypothesis("emigration: immigrant:centrality_1 = 0", terms=terms, equations=eqs)
    assert R.shape == (1, 2 * K) and np.flatnonzero(R[0]).tolist() == [K + terms.index("immigrant:centrality_1")]
    assert R[0].sum() == 1 and q.tolist() == [0.0]
    R, q = parse_hypothesis("domestic:sex_female = emigration:sex_female", terms=terms, equations=eqs)
    k = terms.index("sex_female")
    assert R[0, k] == 1 and R[0, K + k] == -1 and q.tolist() == [0.0]
    R, q = parse_hypothesis("emigration: 2*immigrant - born_to_immigrants*0.5 + 1 = 0.25", terms=terms,
                            equations=eqs)
    assert R[0, K + terms.index("immigrant")] == 2 and R[0, K + terms.index("born_to_immigrants")] == -0.5
    assert q.tolist() == [-0.75]
    R, q = parse_hypothesis("emigration: immigrant:centrality_1 = 0; immigrant:centrality_2 = 0;"
                            " domestic: immigrant = 0", terms=terms, equations=eqs)
    assert R.shape == (3, 2 * K) and R[2, terms.index("immigrant")] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("emigration: immigrant:centrality_9 = 0", r"unknown coefficient 'immigrant:centrality_9'.*did you mean"),
    ("immigrant = 0", r"coefficient 'immigrant' .* needs an equation"),
    ("moving: immigrant = 0", r"'moving' in 'moving: immigrant = 0' is not an equation"),
    ("emigration: immigrant = born_to_immigrants = 0", "exactly one '='"),
    ("emigration: 1 = 0", "involves no coefficient"),
    ("emigration: immigrant = 0; immigrant = 0", "linearly dependent"),
    ("emigration: immigrant > 0", r"cannot read '>'"),
    ("emigration: immigrant immigrant = 0", "expected '\\+', '-' or '='"),
    ("", "non-empty string"),
])
def test_parse_hypothesis_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse_hypothesis(text, terms=DEFAULT_SPEC.terms, equations=DEFAULT_SPEC.equations)


def test_hypothesis_table_matches_the_wald_formula(small_fit):
    hyps = {"no sex difference in emigration": "emigration: sex_female = 0",
            "same education gradient": "domestic:education_higher_long = emigration:education_higher_long",
            "joint": "emigration: labour_unemployed = 0; labour_student = 0"}
    t = small_fit.test(hyps)
    assert list(t.columns) == ["hypothesis", "restriction", "statistic", "df", "p_value", "estimate", "std_err"]
    assert t["hypothesis"].tolist() == list(hyps) and t["df"].tolist() == [1, 1, 2]
    b, V = small_fit.params.to_numpy(), small_fit.cov.to_numpy()
    for row in t.itertuples():
        R, q = small_fit.restriction(row.restriction)
        d = R @ b - q
        w = d @ np.linalg.solve(R @ V @ R.T, d)
        np.testing.assert_allclose(row.statistic, w, rtol=1e-8)
        np.testing.assert_allclose(row.p_value, stats.chi2.sf(w, R.shape[0]), rtol=1e-8)
    z = small_fit.tstats[("emigration", "sex_female")]
    np.testing.assert_allclose(t["statistic"].iloc[0], z**2, rtol=1e-8)
    np.testing.assert_allclose(t["estimate"].iloc[0], small_fit.params[("emigration", "sex_female")], rtol=1e-10)
    assert np.isnan(t["estimate"].iloc[2])
    # the configuration's form: a list of tables with name and restriction
    t2 = small_fit.test([{"name": "a", "restriction": "emigration: sex_female = 0"}])
    assert t2["statistic"].iloc[0] == t["statistic"].iloc[0]
    with pytest.raises(InputError, match="needs a 'restriction'"):
        small_fit.test([{"name": "a", "test": "emigration: sex_female = 0"}])


# --------------------------------------------------------------------------- predictions
def test_predictions_profiles_and_intervals(big):
    """Source: the generator's truth.  With 95 % intervals, at least 12 of the 15 group x centrality
    probabilities of emigration (and of domestic moves) should cover the true probability."""
    _, truth, res = big
    pred = res.predict({"woman_35": PROFILE})
    assert len(pred) == 15 and pred["profile"].eq("woman_35").all()
    assert set(pred["centrality"]) == {"1", "2", "3", "4", "5_6"} and set(pred["age_group"]) == {"30_39"}
    p = pred[["p_stay", "p_domestic", "p_emigration"]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-12)
    for o in ("stay", "domestic", "emigration"):
        assert (pred[f"p_{o}_lower"] < pred[f"p_{o}"]).all() and (pred[f"p_{o}"] < pred[f"p_{o}_upper"]).all()
        assert (pred[f"p_{o}_lower"] > 0).all() and (pred[f"p_{o}_upper"] < 1).all()
    X = build_design(pred[list(DEFAULT_SPEC.variables)], outcome=False).full_exog()
    B = truth.to_numpy().reshape(2, -1).T
    eta = np.column_stack([np.zeros(len(X)), X @ B])
    true_p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    for j, o in ((1, "domestic"), (2, "emigration")):
        covered = (pred[f"p_{o}_lower"] <= true_p[:, j]) & (true_p[:, j] <= pred[f"p_{o}_upper"])
        assert covered.sum() >= 12, (o, covered.sum())
    # immigrants emigrate more than the rest in every centrality class (true RRR exp(1.9 - 0.4) or more)
    w = pred.pivot(index="centrality", columns="background", values="p_emigration")
    assert (w["immigrant"] > 2 * w["rest"]).all()


def test_delta_and_simulation_intervals_agree(big):
    """The delta method (logit scale) and parametric simulation (2,000 draws) approximate the same
    sampling distribution: interval widths within 15 % (simulation error of a percentile interval from
    2,000 draws is ~3-5 %)."""
    res = big[2]
    prof = {"p": {**PROFILE, "labour": ["employed", "unemployed"]}}
    d = res.predict(prof)
    s = res.predict(prof, method="simulation", seed=11)
    assert len(d) == 30
    for o in ("domestic", "emigration"):
        ratio = (s[f"p_{o}_upper"] - s[f"p_{o}_lower"]) / (d[f"p_{o}_upper"] - d[f"p_{o}_lower"])
        assert ratio.between(0.85, 1.15).all(), ratio.describe()
    assert s.attrs == {"method": "simulation", "level": 0.95, "seed": 11, "n_draws": 2000}
    pd.testing.assert_frame_equal(s, res.predict(prof, method="simulation", seed=11))
    assert not s.equals(res.predict(prof, method="simulation", seed=12))


def test_profile_validation(small_fit):
    with pytest.raises(InputError, match=r"profile 'x' does not set \['family'\]"):
        small_fit.predict({"x": {k: v for k, v in PROFILE.items() if k != "family"}})
    with pytest.raises(InputError, match=r"profile 'x': unknown variable\(s\) \['income'\]"):
        small_fit.predict({"x": {**PROFILE, "income": 3}})
    with pytest.raises(InputError, match=r"invalid profile value: .*'education'.*'phd'"):
        small_fit.predict({"x": {**PROFILE, "education": "phd"}})
    with pytest.raises(InputError, match="method must be 'delta' or 'simulation'"):
        small_fit.predict({"x": PROFILE}, method="bootstrap")
    # SSB classes 5 and 6 are the merged level; a one-row profile table works too
    a = small_fit.predict({"x": {**PROFILE, "background": "rest", "centrality": 6}})
    b = small_fit.predict(pd.DataFrame([{**PROFILE, "background": "rest", "centrality": "5_6"}]))
    assert a["centrality"].tolist() == ["5_6"] and b["profile"].tolist() == ["row_0"]
    np.testing.assert_allclose(a["p_emigration"], b["p_emigration"], rtol=1e-12)


def test_figure(small_fit, tmp_path):
    from matplotlib.figure import Figure

    pred = small_fit.predict({"w": {**PROFILE, "labour": ["employed", "student"]}})
    fig = plot_choice_probabilities(pred, path=tmp_path / "f.svg")
    assert isinstance(fig, Figure) and (tmp_path / "f.svg").stat().st_size > 5000
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2 and axes[1].get_title() == "labour = student"
    diag = [ln for ln in axes[0].lines if ln.get_label() == "equal probability"]
    assert len(diag) == 1 and np.allclose(*diag[0].get_data())
    assert [t.get_text() for t in axes[0].get_legend().get_texts()][:3] == ["immigrant", "born to immigrants",
                                                                            "rest"]
    # points sit at the predicted probabilities, in percent
    xy = axes[0].collections
    pts = np.vstack([c.get_offsets() for c in xy if len(c.get_offsets()) == 5])
    sel = pred[pred["labour"] == "employed"]
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(100 * sel["p_domestic"]), rtol=1e-12)
    with pytest.raises(InputError, match="use a .png or .svg suffix"):
        plot_choice_probabilities(pred, path=tmp_path / "f.pdf")
    with pytest.raises(InputError, match="profile 'nope' is not in the predictions"):
        plot_choice_probabilities(pred, profile="nope")


# --------------------------------------------------------------------------- configuration and CLI job
def test_config_validation(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[data]\nsource = 'synthetic'\nsize = 3\n")
    with pytest.raises(InputError, match=r"unknown key\(s\) \['size'\] in \[data\]"):
        choice.load_choice_config(p)
    p.write_text("[modle]\n")
    with pytest.raises(InputError, match=r"unknown configuration section\(s\) \['modle'\]"):
        choice.load_choice_config(p)
    p.write_text("[data]\nsource = 'file'\n")
    with pytest.raises(InputError, match="needs path"):
        choice.load_choice_config(p)
    p.write_text("[data]\npath = 'nowhere.parquet'\n")
    with pytest.raises(InputError, match="nowhere.parquet' does not exist"):
        choice.run_choice(choice.load_choice_config(p), out=tmp_path / "out")
    p.write_text("[predictions]\nmethod = 'bootstrap'\n")
    with pytest.raises(InputError, match=r"\[predictions\] method must be 'delta' or 'simulation'"):
        choice.load_choice_config(p)
    with pytest.raises(InputError, match="control 'income' is not one of the default controls"):
        ChoiceSpec.from_config({"controls": ["sex", "income"]})
    with pytest.raises(InputError, match=r"\[model.reference\] names \['colour'\]"):
        ChoiceSpec.from_config({"reference": {"colour": "red"}})
    spec = ChoiceSpec.from_config({"reference": {"education": "compulsory", "outcome": "stay"},
                                   "controls": ["sex", "education"], "age": "quadratic"})
    assert spec.terms[-4:] == ("sex_female", "education_upper_secondary", "education_higher_short",
                               "education_higher_long")


def test_run_choice_from_files(small, tmp_path):
    """The file source with a column mapping and recoding, on 40,000 rows without interactions."""
    df = small.rename(columns={"outcome": "flytting", "background": "bakgrunn"}).assign(
        flytting=lambda d: d["flytting"].map({"stay": 0, "domestic": 1, "emigration": 2}).astype(int))
    df.to_csv(tmp_path / "persons.csv", index=False)
    (tmp_path / "c.toml").write_text(
        "[data]\npath = 'persons.csv'\n[data.columns]\noutcome = 'flytting'\nbackground = 'bakgrunn'\n"
        "[data.recode.outcome]\n0 = 'stay'\n1 = 'domestic'\n2 = 'emigration'\n"
        "[model]\ninteraction = false\nage = 'none'\ncontrols = ['sex', 'education']\n"
        "[output]\ntables = ['csv']\nfigures = ['png']\n"
        "[[hypotheses]]\nname = 'women emigrate less'\nrestriction = 'emigration: sex_female = 0'\n")
    cfg = choice.load_choice_config(tmp_path / "c.toml")
    printed: list[str] = []
    files = choice.run_choice(cfg, out=tmp_path / "out", echo=printed.append)
    assert set(files) == {"coefficients", "outcome_counts", "predictions", "hypotheses",
                          "figure_woman_35_higher_short_png", "run"}
    coef = pd.read_csv(files["coefficients"])
    direct = fit_choice(small, spec=ChoiceSpec.from_config(cfg["model"])).to_frame().reset_index()
    np.testing.assert_allclose(coef["coef"], direct["estimate"], rtol=1e-9)
    hyp = pd.read_csv(files["hypotheses"])
    assert hyp["hypothesis"].tolist() == ["women emigrate less"] and hyp["df"].tolist() == [1]
    assert any("wrote" in m for m in printed)
    # the default profile keeps only the model's variables
    pred = pd.read_csv(files["predictions"])
    assert {"sex", "education"} <= set(pred.columns) and "labour" not in pred.columns and len(pred) == 15


@pytest.mark.slow
def test_example_config_end_to_end(tmp_path):
    """examples/choice.toml (200,000 synthetic person-years): every output, and run.json."""
    cfg = choice.load_choice_config(ROOT / "examples" / "choice.toml")
    files = choice.run_choice(cfg, out=tmp_path)
    for key in ("coefficients", "coefficients_md", "coefficients_tex", "predictions", "hypotheses", "run"):
        assert files[key].exists(), key
    figs = [k for k in files if k.startswith("figure_")]
    assert {Path(files[k]).suffix for k in figs} == {".png", ".svg"}
    coef = pd.read_csv(files["coefficients"])
    assert list(coef.columns)[:3] == ["equation", "term", "coef"] and "rrr_upper" in coef.columns
    pred = pd.read_csv(files["predictions"])
    assert pred["profile"].nunique() == len(cfg["profiles"])
    hyp = pd.read_csv(files["hypotheses"])
    assert len(hyp) == len(cfg["hypotheses"]) and hyp["p_value"].between(0, 1).all()
    run = json.loads(files["run"].read_text())
    assert {"config", "versions", "fit", "row_accounting", "warnings", "timings_seconds"} <= set(run)
    assert run["versions"]["statsmodels"] != "not installed"
    # source: the generator's truth (each coefficient within 4 standard errors)
    assert run["synthetic_truth_max_abs_z"] < 4
