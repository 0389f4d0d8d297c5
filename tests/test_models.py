"""Least-squares estimation: closed-form references, covariance, errors, results object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.exceptions import InputError
from geoattr.models.ols import LeastSquares, estimate, estimate_by_year
from geoattr.variables import Design


def _design(n_units=40, n_years=5, seed=0, collinear=False):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([[f"{i:04d}" for i in range(n_units)], range(2010, 2010 + n_years)],
                                     names=["unit", "year"])
    X = pd.DataFrame({"const": 1.0, "vra": rng.normal(size=len(idx)), "centrality": rng.normal(size=len(idx))},
                     index=idx)
    if collinear:
        X["vra_l1"] = 2 * X["vra"]
    unit_effect = np.repeat(rng.normal(size=n_units), n_years)
    y = pd.Series(0.5 + 0.3 * X["vra"] - 1.0 * X["centrality"] + unit_effect + rng.normal(size=len(idx)),
                  index=idx, name="y")
    pop = pd.Series(rng.integers(500, 50000, len(idx)).astype(float), index=idx)
    return Design(y=y, X=X, population=pop, spec="custom", unit_level="municipality", years=(2010, 2010 + n_years - 1))


def test_ols_equals_closed_form():
    d = _design()
    r = LeastSquares(d).fit(cov_type="unadjusted")
    X, y = d.X.to_numpy(), d.y.to_numpy()
    b = np.linalg.solve(X.T @ X, X.T @ y)
    e = y - X @ b
    s2 = e @ e / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    # hand calculation; tolerance: floating point
    np.testing.assert_allclose(r.params.to_numpy(), b, rtol=1e-10)
    np.testing.assert_allclose(r.std_errors.to_numpy(), se, rtol=1e-8)
    assert r.rsquared == pytest.approx(1 - e @ e / ((y - y.mean()) @ (y - y.mean())), rel=1e-10)
    ll = -len(y) / 2 * (np.log(2 * np.pi) + np.log(e @ e / len(y)) + 1)
    assert r.loglik == pytest.approx(ll, rel=1e-10)
    assert r.aic == pytest.approx(2 * 3 - 2 * ll, rel=1e-10)
    assert r.bic == pytest.approx(3 * np.log(len(y)) - 2 * ll, rel=1e-10)


def test_clustered_covariance_is_the_unit_sandwich():
    d = _design()
    r = LeastSquares(d).fit(cov_type="clustered")
    X, y = d.X.to_numpy(), d.y.to_numpy()
    XtXi = np.linalg.inv(X.T @ X)
    e = y - X @ (XtXi @ X.T @ y)
    groups = d.y.index.get_level_values("unit")
    meat = np.zeros((3, 3))
    for g in np.unique(groups):
        s = X[groups == g].T @ e[groups == g]
        meat += np.outer(s, s)
    n, k = X.shape
    # linearmodels' default clustered estimator: the sandwich scaled by n/(n-k), no G/(G-1) correction
    V = XtXi @ meat @ XtXi * n / (n - k)
    np.testing.assert_allclose(r.cov.to_numpy(), V, rtol=1e-6)


def test_weighted_least_squares_equals_closed_form():
    d = _design()
    r = LeastSquares(d, obs_weights="population").fit(cov_type="unadjusted")
    X, y, w = d.X.to_numpy(), d.y.to_numpy(), d.population.to_numpy()
    b = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    np.testing.assert_allclose(r.params.to_numpy(), b, rtol=1e-10)
    assert r.model == "wls"


def test_results_labels_and_aliases():
    d = _design()
    r = LeastSquares(d).fit()
    assert list(r.params.index) == ["const", "vra", "centrality"]
    pd.testing.assert_series_equal(r.bse, r.std_errors)
    pd.testing.assert_series_equal(r.tvalues, r.tstats)
    assert r.resids.index.equals(d.y.index)
    np.testing.assert_allclose((r.fitted_values + r.resids).to_numpy(), d.y.to_numpy(), rtol=1e-12)
    ci = r.conf_int(0.9)
    assert (ci["lower"] < r.params).all() and (ci["upper"] > r.params).all()
    f = r.to_frame()
    assert list(f.columns) == ["estimate", "std_error", "t", "p", "lower", "upper"]
    text, html, tex = r.summary.as_text(), r.summary.as_html(), r.summary.as_latex()
    assert "centrality" in text and "<table" in html and "\\toprule" in tex and "\\bottomrule" in tex
    assert r.rsquared_adj < r.rsquared


def test_collinear_regressors_named():
    with pytest.raises(InputError, match=r"collinear.*\['vra', 'vra_l1'\]"):
        LeastSquares(_design(collinear=True))


def test_bad_cov_type():
    with pytest.raises(ValueError, match="cov_type must be one of"):
        LeastSquares(_design()).fit(cov_type="hac")


def test_too_few_observations():
    d = _design(n_units=1, n_years=2)
    with pytest.raises(InputError, match="2 observations for 3 regressors"):
        LeastSquares(d)


def test_year_by_year_matches_single_year_fit():
    d = _design()
    yr = estimate_by_year(d)
    m = d.y.index.get_level_values("year") == 2012
    X, y = d.X[m].to_numpy(), d.y[m].to_numpy()
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(yr.results[2012].params.to_numpy(), b, rtol=1e-10)
    t = yr.to_frame()
    assert set(t.columns) >= {"spec", "level", "year", "term", "estimate", "std_error", "t", "p", "significant"}
    assert sorted(t["year"].unique()) == list(range(2010, 2015))
    s = yr.table()
    assert s.shape == (3, 5)


def test_vra_sum_standard_error_by_hand():
    base = _design()
    rng = np.random.default_rng(1)
    X = base.X.rename(columns={"centrality": "vra_l1"}).assign(centrality=rng.normal(size=len(base.y)))
    d = Design(y=base.y, X=X, population=base.population, spec="custom", unit_level="municipality", years=base.years)
    yr = estimate_by_year(d)
    r = yr.results[2011]
    s = yr.vra_sum()
    cov = r.cov.loc[["vra", "vra_l1"], ["vra", "vra_l1"]].to_numpy()
    # var(b1 + b2) = sum of the 2 x 2 covariance block (hand calculation)
    assert s.loc[2011, "vra_sum"] == pytest.approx(r.params["vra"] + r.params["vra_l1"], rel=1e-12)
    assert s.loc[2011, "vra_sum_se"] == pytest.approx(np.sqrt(cov.sum()), rel=1e-12)
    assert s.loc[2011, "centrality"] == pytest.approx(r.params["centrality"], rel=1e-12)


def test_region_level_coefficients_apply_to_municipalities(toy_data):
    fit = estimate(toy_data, ["vra"], unit_level="region", years=(2003, 2005))
    assert fit.unit_level == "region"
    assert list(fit.design.y.index.get_level_values("unit").unique()) == ["R1", "R2"]
    X = fit.unit_design.X
    expected = fit.results.params["const"] + fit.results.params["vra"] * X["vra"]
    np.testing.assert_allclose(fit.expected.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert fit.expected.index.equals(fit.unit_design.y.index)


@pytest.mark.slow
def test_pooled_estimates_recover_synthetic_truth(synthetic, synthetic_data):
    """Generator truth: each pooled 2022 coefficient within 3 unit-clustered standard errors."""
    fit = estimate(synthetic_data, "2022", unit_level="municipality", years=synthetic.years)
    r = fit.results
    truth = synthetic.truth.coefficients
    z = ((r.params[truth.index] - truth) / r.std_errors[truth.index]).abs()
    assert (z < 3).all(), z


def test_year_by_year_skips_years_that_cannot_be_estimated(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2005))
    yr = estimate_by_year(fit.design)
    assert yr.results == {} and sorted(yr.skipped) == [2003, 2004, 2005]
    assert "3 observations for 5 regressors" in yr.skipped[2003]


@pytest.mark.parametrize("cov_type", ["robust", "unadjusted"])
def test_year_by_year_fast_path_equals_linearmodels(cov_type):
    d = _design()
    fast = estimate_by_year(d, cov_type=cov_type)
    for t, r in fast.results.items():
        m = d.y.index.get_level_values("year") == t
        sub = Design(y=d.y[m], X=d.X[m], population=d.population[m], spec=d.spec, unit_level=d.unit_level, years=(t, t))
        ref = LeastSquares(sub).fit(cov_type=cov_type)  # linearmodels PooledOLS
        np.testing.assert_allclose(r.params, ref.params, rtol=1e-10)
        np.testing.assert_allclose(r.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-10)
        assert r.loglik == pytest.approx(ref.loglik, rel=1e-10)
        assert r.rsquared == pytest.approx(ref.rsquared, rel=1e-10)
