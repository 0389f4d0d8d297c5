"""The least-squares kernel equals linearmodels' PooledOLS (reference engine).

Tolerance: 1e-10 relative on coefficients, covariances, R² and log-likelihood; the
reference numbers come from linearmodels run in the same test on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from linearmodels.panel import PooledOLS

from geoattr.models.least_squares import least_squares

LM_COV = {"unadjusted": {"cov_type": "unadjusted"}, "robust": {"cov_type": "robust"},
          "clustered": {"cov_type": "clustered", "cluster_entity": True}}


@pytest.fixture
def panel():
    rng = np.random.default_rng(7)
    units, years = [f"{i:04d}" for i in range(40)], list(range(2001, 2009))
    idx = pd.MultiIndex.from_product([units, years], names=["unit", "year"])
    X = pd.DataFrame({"const": 1.0, "x1": rng.normal(size=len(idx)), "x2": rng.normal(size=len(idx))}, index=idx)
    u = np.repeat(rng.normal(size=len(units)), len(years))  # clustered errors
    y = pd.Series(1 + 0.5 * X.x1 - 0.2 * X.x2 + u + rng.normal(size=len(idx)), index=idx, name="y")
    w = pd.Series(rng.uniform(100, 5000, len(idx)), index=idx)
    return y, X, w


@pytest.mark.parametrize("cov_type", sorted(LM_COV))
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_equals_linearmodels(panel, cov_type, weighted):
    y, X, w = panel
    ref = PooledOLS(y, X, weights=w if weighted else None).fit(**LM_COV[cov_type])
    f = least_squares(X.to_numpy(), y.to_numpy(), obs_weights=w.to_numpy() if weighted else None,
                      groups=y.index.get_level_values("unit").to_numpy(), cov_type=cov_type)
    np.testing.assert_allclose(f.params, ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(f.cov, ref.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(f.r2, ref.rsquared, rtol=1e-10)
    np.testing.assert_allclose(f.loglik, ref.loglik, rtol=1e-10)
    assert f.nobs == ref.nobs and f.df_resid == ref.df_resid


def test_kernel_rejects_unknown_cov_type(panel):
    y, X, _ = panel
    with pytest.raises(ValueError, match="cov_type 'hac'"):
        least_squares(X.to_numpy(), y.to_numpy(), cov_type="hac")


@pytest.mark.parametrize("bandwidth", [None, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_driscoll_kraay_equals_linearmodels_kernel(panel, bandwidth, weighted):
    y, X, w = panel
    cfg = {} if bandwidth is None else {"bandwidth": bandwidth}
    ref = PooledOLS(y, X, weights=w if weighted else None).fit(cov_type="kernel", **cfg)
    f = least_squares(X.to_numpy(), y.to_numpy(), obs_weights=w.to_numpy() if weighted else None,
                      time=y.index.get_level_values("year").to_numpy(), cov_type="driscoll-kraay",
                      bandwidth=bandwidth)
    np.testing.assert_allclose(f.params, ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(f.cov, ref.cov.to_numpy(), rtol=1e-10, atol=1e-14)


def test_spatial_hac_equals_spreg():
    """Pinned to spreg's OLS(robust="hac") with the same kernel, as tests/test_hac.py pins models/hac.py."""
    pytest.importorskip("spreg")
    from scipy import sparse

    from tests.test_hac import hac_problem

    wk, X, y, ref = hac_problem()
    n = len(y)
    Xc = np.column_stack([np.ones(n), X])
    f = least_squares(Xc, y, cov_type="spatial-hac", kernel=sparse.csr_matrix(wk.sparse))
    np.testing.assert_allclose(f.params, ref.betas.ravel(), rtol=1e-10)
    np.testing.assert_allclose(f.cov, ref.vm, rtol=1e-8)


def test_covariance_table_names_its_needs(panel):
    y, X, _ = panel
    with pytest.raises(ValueError, match="needs time="):
        least_squares(X.to_numpy(), y.to_numpy(), cov_type="driscoll-kraay")
    with pytest.raises(ValueError, match="needs kernel="):
        least_squares(X.to_numpy(), y.to_numpy(), cov_type="spatial-hac")


@pytest.mark.parametrize("cov_type", sorted(LM_COV))
@pytest.mark.parametrize("weighted", [False, True])
def test_large_pooled_fit_takes_the_kernel_with_linearmodels_numbers(panel, monkeypatch, cov_type, weighted):
    """From ``KERNEL_MIN_NOBS`` observations LeastSquares.fit uses the kernel: the same numbers (1e-10)."""
    from geoattr.models import ols
    from geoattr.variables import Design

    y, X, w = panel
    design = Design(y=y, X=X, population=w, spec="test", unit_level="unit", years=(2001, 2008))
    obs_weights = "population" if weighted else None
    monkeypatch.setattr(ols, "pooled_ols_applies", lambda *a: False)  # the reference: PooledOLS itself
    ref = ols.LeastSquares(design, obs_weights=obs_weights).fit(cov_type=cov_type)  # 320 rows: linearmodels
    calls = []
    monkeypatch.setattr(ols, "KERNEL_MIN_NOBS", len(y))
    monkeypatch.setattr(ols, "PooledOLS", lambda *a, **k: calls.append(a))  # fails if linearmodels were called
    got = ols.LeastSquares(design, obs_weights=obs_weights).fit(cov_type=cov_type)
    assert not calls
    np.testing.assert_allclose(got.params, ref.params, rtol=1e-10)
    np.testing.assert_allclose(got.cov, ref.cov, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([got.rsquared, got.loglik], [ref.rsquared, ref.loglik], rtol=1e-10)
    np.testing.assert_allclose(got.resids, ref.resids, rtol=0, atol=1e-10)
    assert (got.nobs, got.df_resid, got.model, got.cov_type) == (ref.nobs, ref.df_resid, ref.model, ref.cov_type)
    assert list(got.params.index) == list(X.columns) and got.resids.index.equals(y.index)
