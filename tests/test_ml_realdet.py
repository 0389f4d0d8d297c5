"""The real-LU path of the ML engine (geoattr.models.ml_realdet) against the complex-step path.

Reference: the same engine with ``method="lu"`` (complex-step factorisations, exact to
rounding, itself pinned to spreg in tests/test_ml_engine.py).  The real-LU path is switched
on for small N by lowering ``REAL_LU_MIN_N``.  Tolerances: coefficients and rho/lambda
1e-8 relative, standard errors 1e-6 relative, log-likelihood 1e-10 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from geoattr.models import ml as ml_module
from geoattr.models import ml_cholmod
from geoattr.models.ml import ml_error, ml_lag
from geoattr.models.ml_realdet import RealLUJacobian


def _queen(side: int) -> sp.csr_matrix:
    T = sp.identity(side, format="csr") + sp.diags([1.0, 1.0], [-1, 1], shape=(side, side))
    C = (sp.kron(T, T) - sp.identity(side * side)).tocsr()
    C.eliminate_zeros()
    return (sp.diags(1.0 / np.asarray(C.sum(axis=1)).ravel()) @ C).tocsr()


def _data(W: sp.csr_matrix, model: str, rho: float, seed: int = 4):
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    A = (sp.identity(n, format="csc") - rho * W).tocsc()
    e = rng.normal(size=n)
    xb = X @ np.array([1.0, 2.0, -1.0, 0.5])
    y = spsolve(A, xb + e) if model == "lag" else xb + spsolve(A, e)
    return y, X


@pytest.fixture()
def real_path(monkeypatch):
    """The real-LU path from 50 units, without CHOLMOD (tests/test_ml_cholmod.py has that path)."""
    monkeypatch.setattr(ml_module, "REAL_LU_MIN_N", 50)
    monkeypatch.setattr(ml_cholmod, "analyze", None)


@pytest.mark.parametrize("rho", [-0.4, 0.3, 0.85])
@pytest.mark.parametrize("model", ["lag", "error"])
def test_real_lu_path_equals_complex_step(real_path, model, rho):
    W = _queen(22)
    y, X = _data(W, model, rho)
    fit = ml_lag if model == "lag" else ml_error
    fast = fit(y, X, W)  # method="auto": real LU above REAL_LU_MIN_N
    ref = fit(y, X, W, method="lu")  # complex step
    assert "real sparse LU" in fast.extra["trace_method"] and "real" not in ref.extra["trace_method"]
    assert fast.iterations <= fast.extra["logdet_points"] <= fast.iterations + 1 <= 9  # + one at the estimate
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, ref.std_errors, rtol=1e-6)
    assert fast.loglik == pytest.approx(ref.loglik, rel=1e-10)
    for k in ("tr1", "tr2", "tr3"):
        assert fast.extra["traces"][k] == pytest.approx(ref.extra["traces"][k], rel=1e-6)
    err = fast.extra["trace_interpolation_error"]
    assert err["tr1"] < 1e-6 and err["tr2"] < 1e-4
    if model == "lag":  # reduced-form prediction solved by iterative refinement
        np.testing.assert_allclose(fast.extra["predy_e"], ref.extra["predy_e"], rtol=1e-8, atol=1e-10)


def test_real_lu_pooled_panel(real_path):
    """periods > 1: the block's real-LU Jacobian, T times, equals the complex-step fit."""
    W = _queen(9)
    T = 3
    rng = np.random.default_rng(2)
    ys, Xs = [], []
    for _ in range(T):
        y, X = _data(W, "lag", 0.5, seed=int(rng.integers(1000)))
        ys.append(y)
        Xs.append(X)
    y, X = np.concatenate(ys), np.vstack(Xs)
    fast = ml_lag(y, X, W, periods=T)
    ref = ml_lag(y, X, W, periods=T, method="lu")
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(fast.std_errors, ref.std_errors, rtol=1e-6)


def test_ordering_reused_and_input_structure_intact():
    """One minimum-degree ordering is reused; scipy's splu must not corrupt the kept structure."""
    W = _queen(15)
    jac = RealLUJacobian(W, "lu", (-1.0, 1.0))
    dense = np.eye(W.shape[0]) - W.toarray() * 0.0
    for rho in (0.2, 0.5, -0.3, 0.7):
        ref = np.linalg.slogdet(dense - rho * W.toarray())[1]
        assert jac.logdet(rho) == pytest.approx(ref, rel=1e-12)
    assert jac.evaluations == 4
    b = np.arange(W.shape[0], dtype=float)
    x = jac.factor(0.7).solve(b)  # the kept LU
    np.testing.assert_allclose((np.eye(W.shape[0]) - 0.7 * W.toarray()) @ x, b, rtol=1e-12, atol=1e-10)
    x = jac.solve(0.55, b)
    np.testing.assert_allclose((np.eye(W.shape[0]) - 0.55 * W.toarray()) @ x, b, rtol=1e-12, atol=1e-10)
