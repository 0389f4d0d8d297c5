"""geoattr.models.pooled_ols gives linearmodels' PooledOLS numbers (the reference engine, run here).

Tolerance: none. The coefficients, covariance, R², log-likelihood and degrees of freedom
are compared for exact equality (``assert_array_equal``), since pooled_ols does
PooledOLS's operations on the same arrays; LeastSquares.fit, which uses it, is compared
with PooledOLS likewise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from linearmodels.panel import PooledOLS

from geoattr.models import ols
from geoattr.models.pooled_ols import pooled_ols, pooled_ols_applies
from geoattr.variables import Design

LM_COV = {"unadjusted": {"cov_type": "unadjusted"}, "robust": {"cov_type": "robust"},
          "clustered": {"cov_type": "clustered", "cluster_entity": True}, "driscoll-kraay": {"cov_type": "kernel"}}


def _panel(seed: int = 7, *, n_units: int = 40, n_years: int = 8, const: bool = True):
    rng = np.random.default_rng(seed)
    units, years = [f"{i:04d}" for i in range(n_units)], list(range(2001, 2001 + n_years))
    idx = pd.MultiIndex.from_product([units, years], names=["unit", "year"])
    X = pd.DataFrame({"x1": rng.normal(size=len(idx)), "x2": rng.normal(size=len(idx))}, index=idx)
    if const:
        X.insert(0, "const", 1.0)
    u = np.repeat(rng.normal(size=len(units)), len(years))  # clustered errors
    y = pd.Series(1 + 0.5 * X.x1 - 0.2 * X.x2 + u + rng.normal(size=len(idx)), index=idx, name="y")
    w = pd.Series(rng.uniform(100, 5000, len(idx)), index=idx)
    return y, X, w


def _reference(y, X, w, cov_type):
    """PooledOLS as models.ols called it: entities as integer codes."""
    codes = pd.factorize(y.index.get_level_values(0))[0]
    coded = pd.MultiIndex.from_arrays([codes, y.index.get_level_values(1)], names=y.index.names)
    return PooledOLS(y.set_axis(coded), X.set_axis(coded), weights=None if w is None else w.set_axis(coded),
                     check_rank=False).fit(**LM_COV[cov_type])


def _assert_same(f, ref):
    np.testing.assert_array_equal(f.params, ref.params.to_numpy())
    np.testing.assert_array_equal(f.cov, ref.cov.to_numpy())
    assert (f.rsquared, f.loglik, f.nobs, f.df_resid) == (ref.rsquared, ref.loglik, ref.nobs, ref.df_resid)


@pytest.mark.parametrize("cov_type", sorted(LM_COV))
@pytest.mark.parametrize("weighted", [False, True])
def test_pooled_ols_is_pooledols(cov_type, weighted):
    y, X, w = _panel()
    w = w if weighted else None
    assert pooled_ols_applies(y, X, w)
    _assert_same(pooled_ols(y, X, w, cov_type=cov_type), _reference(y, X, w, cov_type))


def test_implicit_constant_and_unbalanced_unsorted_rows():
    """Year dummies without a constant span one (linearmodels' centred R²); rows in any order."""
    y, X, w = _panel(3, const=False)
    years = X.index.get_level_values("year")
    X = pd.concat([X, pd.get_dummies(years, prefix="year", dtype=float).set_axis(X.index)], axis=1)
    order = np.random.default_rng(1).permutation(len(y))[: len(y) - 17]  # shuffled, 17 rows dropped
    y, X, w = y.iloc[order], X.iloc[order], w.iloc[order]
    for cov_type in LM_COV:
        _assert_same(pooled_ols(y, X, w, cov_type=cov_type), _reference(y, X, w, cov_type))


@pytest.mark.parametrize("problem", ["nan y", "nan x", "zero weight", "duplicate row", "one level"])
def test_pooledols_keeps_what_pooled_ols_does_not_cover(problem):
    """Missing values, bad weights, duplicated rows, a flat index: PooledOLS's handling, not pooled_ols."""
    y, X, w = _panel()
    if problem == "nan y":
        y = y.copy()
        y.iloc[3] = np.nan
    elif problem == "nan x":
        X = X.copy()
        X.iloc[5, 1] = np.nan
    elif problem == "zero weight":
        w = w.copy()
        w.iloc[0] = 0.0
    elif problem == "duplicate row":
        y, X, w = (o.iloc[[*range(len(o)), 0]] for o in (y, X, w))
    else:
        y, X, w = (o.reset_index(drop=True) for o in (y, X, w))
    assert not pooled_ols_applies(y, X, w)


@pytest.mark.parametrize("cov_type", sorted(LM_COV))
@pytest.mark.parametrize("weighted", [False, True])
def test_least_squares_fit_equals_pooledols(cov_type, weighted):
    y, X, w = _panel(11)
    design = Design(y=y, X=X, population=w, spec="test", unit_level="unit", years=(2001, 2008))
    got = ols.LeastSquares(design, obs_weights="population" if weighted else None).fit(cov_type=cov_type)
    ref = _reference(y, X, w if weighted else None, cov_type)
    np.testing.assert_array_equal(got.params.to_numpy(), ref.params.to_numpy())
    np.testing.assert_array_equal(got.cov.to_numpy(), ref.cov.to_numpy())
    assert (got.rsquared, got.loglik, got.nobs, got.df_resid) == (ref.rsquared, ref.loglik, ref.nobs, ref.df_resid)
    assert list(got.params.index) == list(X.columns) and got.params.name == "estimate"
    np.testing.assert_array_equal(got.fitted_values.to_numpy(), (X @ ref.params).to_numpy())


def test_least_squares_fit_with_options_goes_to_linearmodels(monkeypatch):
    """Covariance options (here a Driscoll-Kraay bandwidth) are linearmodels' own: PooledOLS is called."""
    y, X, w = _panel(5)
    design = Design(y=y, X=X, population=w, spec="test", unit_level="unit", years=(2001, 2008))
    calls = []
    real = ols.PooledOLS
    monkeypatch.setattr(ols, "PooledOLS", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = ols.LeastSquares(design).fit(cov_type="driscoll-kraay", bandwidth=2.0)
    ref = _reference(y, X, None, "driscoll-kraay")
    assert calls and np.allclose(got.params, ref.params.to_numpy(), rtol=1e-12)
