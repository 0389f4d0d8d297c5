"""The CHOLMOD path of the ML engine (geoattr.models.ml_cholmod).

References: dense ``numpy.linalg.slogdet`` / ``solve`` for the factorisations (1e-12
relative), and for the fits the same engine on the real-LU path (CHOLMOD switched off) and
on the complex-step path (``method="lu"``, exact to rounding, itself pinned to spreg in
tests/test_ml_engine.py).  Tolerances as in tests/test_ml_realdet.py: coefficients 1e-8
relative, standard errors 1e-6, log-likelihood 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geoattr.models import ml as ml_module
from geoattr.models import ml_cholmod
from geoattr.models.ml import ml_error, ml_lag
from geoattr.models.ml_cholmod import CholmodJacobian, large_n_jacobian, row_scaling, symmetric_structure
from geoattr.models.ml_jacobian import as_sparse_w, csc_with_diagonal, solve_pair
from geoattr.models.ml_symmetry import symmetric_scaling
from geoattr.models.ml_realdet import RealLUJacobian
from tests.test_ml_realdet import _data, _queen

needs_cholmod = pytest.mark.skipif(not ml_cholmod.available(),
                                   reason="scikit-sparse (CHOLMOD) is not installed: pip install geoattr[cholmod]")


@pytest.fixture()
def large_path(monkeypatch):
    monkeypatch.setattr(ml_module, "REAL_LU_MIN_N", 50)


def _dense(W: sp.csr_matrix, rho: float) -> np.ndarray:
    return np.eye(W.shape[0]) - rho * W.toarray()


@needs_cholmod
def test_logdet_and_solves_equal_dense(monkeypatch):
    W = _queen(15)
    calls = []
    real_analyze = ml_cholmod.analyze
    monkeypatch.setattr(ml_cholmod, "analyze", lambda *a, **k: calls.append(1) or real_analyze(*a, **k))
    jac = large_n_jacobian(W, "lu", (-1.0, 1.0))
    assert isinstance(jac, CholmodJacobian)
    for rho in (0.2, 0.5, -0.3, 0.95):
        assert jac.logdet(rho) == pytest.approx(np.linalg.slogdet(_dense(W, rho))[1], rel=1e-12)
    assert jac.evaluations == 4 and jac.lu_evaluations == 0
    assert len(calls) == 1  # one symbolic analysis (fill-reducing ordering), reused
    b = np.linspace(-1.0, 2.0, W.shape[0])
    B = np.column_stack([b, b**2])
    for rho in (0.95, 0.6):  # the kept factor, then refinement from it
        f = jac.factor(rho)
        np.testing.assert_allclose(_dense(W, rho) @ f.solve(b), b, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(_dense(W, rho).T @ f.solve(B, trans="T"), B, rtol=1e-12, atol=1e-11)
        X, Y = solve_pair(f, B, B[:, ::-1])  # one call with the factor (rho = 0.95), two with refinement
        np.testing.assert_allclose(_dense(W, rho) @ X, B, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(_dense(W, rho).T @ Y, B[:, ::-1], rtol=1e-12, atol=1e-11)


@needs_cholmod
def test_indefinite_point_falls_back_to_lu():
    """rho below 1 / lambda_min: I - rho S is indefinite, the real LU gives log|det|."""
    W = _queen(8)
    jac = large_n_jacobian(W, "lu", (-3.0, 1.0))
    rho = -2.5  # lambda_min of a queen lattice > -1, so 1 - rho lambda < 0 for some lambda
    assert np.linalg.eigvals(W.toarray()).real.min() * rho > 1.0
    assert jac.logdet(rho) == pytest.approx(np.linalg.slogdet(_dense(W, rho))[1], rel=1e-12)
    assert jac.lu_evaluations == 1 and jac.evaluations == 1


@needs_cholmod
@pytest.mark.parametrize("rho", [-0.6, 0.4, 0.9])
def test_probe_differences_in_one_solve_equal_dense(rho):
    """``W A^-1 Z - A^-T W' Z`` from the Cholesky factor (S commuting with M^-1) against dense
    solves (1e-12 relative), and equal to the generic way (two solves, W' products)."""
    C = _queen(9).copy()
    C.data[:] = 1.0  # binary queen lattice: 3, 5 or 8 neighbours, so h varies and W != W'
    rows = np.asarray(C.sum(axis=1)).ravel()
    W = (sp.diags(1.0 / rows) @ C).tocsr()
    jac = large_n_jacobian(W, "lu", (-1.0, 1.0))
    assert isinstance(jac, CholmodJacobian) and not jac.w_is_symmetric()
    Z = np.random.default_rng(3).choice([-1.0, 1.0], size=(W.shape[0], 5))
    A, Wd = _dense(W, rho), W.toarray()
    want = Wd @ np.linalg.solve(A, Z) - np.linalg.solve(A.T, Wd.T @ Z)
    lu = jac.probe_factor(rho)
    got = jac.probe_differences(lu, Z.copy())
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * np.abs(want).max())
    generic = RealLUJacobian.probe_differences(jac, lu, Z.copy())
    np.testing.assert_allclose(got, generic, rtol=1e-12, atol=1e-13 * np.abs(want).max())


def test_symmetric_scaling_weighted_with_components():
    """W = diag(r) C recovered for a weighted symmetric C with three components and an island."""
    rng = np.random.default_rng(5)
    blocks = []
    for size in (30, 7, 2):
        A = sp.random(size, size, density=0.3, random_state=rng, data_rvs=lambda m: rng.uniform(0.5, 2.0, m))
        A = sp.triu(A, 1)
        A = A + A.T + sp.diags(np.ones(size - 1), 1) + sp.diags(np.ones(size - 1), -1)  # connected
        blocks.append(A)
    C = sp.block_diag([*blocks, sp.csr_matrix((1, 1))]).tocsr()  # the last unit has no neighbour
    rows = np.asarray(C.sum(axis=1)).ravel()
    W = (sp.diags(np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)) @ C).tocsr()
    r = symmetric_scaling(W)
    assert r is not None and np.all(r > 0)
    Cr = (sp.diags(1.0 / r) @ W).toarray()
    np.testing.assert_allclose(Cr, Cr.T, rtol=1e-12, atol=1e-15)
    Wa = W.tolil()
    Wa[0, 1] *= 1.5  # one asymmetric entry: no longer similar to a symmetric matrix this way
    assert symmetric_scaling(Wa.tocsr()) is None


def test_only_for_w_similar_to_symmetric(monkeypatch):
    rng = np.random.default_rng(0)
    n = 60
    pts = rng.uniform(size=(n, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2) + np.eye(n) * 9
    knn = np.argsort(d, axis=1)[:, :4]  # k nearest neighbours: not symmetric
    C = sp.csr_matrix((np.ones(4 * n), (np.repeat(np.arange(n), 4), knn.ravel())), shape=(n, n))
    W = sp.diags(0.25 * np.ones(n)) @ C
    assert symmetric_scaling(W.tocsr()) is None
    assert type(large_n_jacobian(W.tocsr(), "lu", (-1.0, 1.0))) is RealLUJacobian
    monkeypatch.setattr(ml_cholmod, "analyze", None)  # scikit-sparse absent
    assert not ml_cholmod.available()
    assert type(large_n_jacobian(_queen(5), "lu", (-1.0, 1.0))) is RealLUJacobian


@needs_cholmod
@pytest.mark.parametrize("rho", [-0.4, 0.3, 0.85])
@pytest.mark.parametrize("model", ["lag", "error"])
def test_cholmod_fit_equals_real_lu_and_complex_step(large_path, monkeypatch, model, rho):
    W = _queen(22)
    y, X = _data(W, model, rho)
    fit = ml_lag if model == "lag" else ml_error
    chol = fit(y, X, W)
    ref = fit(y, X, W, method="lu")  # complex step
    assert "CHOLMOD" in chol.extra["trace_method"]
    monkeypatch.setattr(ml_cholmod, "analyze", None)
    lu = fit(y, X, W)
    assert "real sparse LU" in lu.extra["trace_method"]
    for other in (ref, lu):
        np.testing.assert_allclose(chol.params, other.params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(chol.std_errors, other.std_errors, rtol=1e-6)
        assert chol.loglik == pytest.approx(other.loglik, rel=1e-10)
    assert chol.extra["logdet_points"] == lu.extra["logdet_points"]  # same search, other factorisation
    if model == "lag":  # reduced form solved with the Cholesky factor
        np.testing.assert_allclose(chol.extra["predy_e"], ref.extra["predy_e"], rtol=1e-8, atol=1e-10)


@needs_cholmod
def test_cholmod_pooled_panel(large_path):
    W = _queen(9)
    T = 3
    rng = np.random.default_rng(2)
    parts = [_data(W, "lag", 0.5, seed=int(rng.integers(1000))) for _ in range(T)]
    y, X = np.concatenate([p[0] for p in parts]), np.vstack([p[1] for p in parts])
    fast = ml_lag(y, X, W, periods=T)
    ref = ml_lag(y, X, W, periods=T, method="lu")
    assert "CHOLMOD" in fast.extra["trace_method"]
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(fast.std_errors, ref.std_errors, rtol=1e-6)


def test_row_scaling_and_symmetric_structure():
    """The O(nnz) set-up of the CHOLMOD path against the general one: ``row_scaling`` finds
    ``r`` for a binary contiguity (with an island) and declines a weighted one, which
    ``symmetric_scaling`` handles; ``symmetric_structure`` equals ``csc_with_diagonal`` of
    ``0.5 (S + S')`` (reference: the construction the path used before; structure exactly,
    values to 1e-15 relative, the products being taken in another order)."""
    C = sp.block_diag([_queen(6).astype(bool).astype(float), sp.csr_matrix((1, 1))]).tocsr()
    rows = np.asarray(C.sum(axis=1)).ravel()
    W = as_sparse_w(sp.diags(np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)) @ C)
    r = row_scaling(W)
    assert r is not None and r[-1] == 1.0
    np.testing.assert_array_equal(r[:-1], 1.0 / rows[:-1])
    weighted = W.copy()
    weighted.data = weighted.data * (1.0 + 0.1 * (weighted.indices % 3))  # F = diag(1 + 0.1 (j % 3))
    weighted = as_sparse_w(sp.diags(1.0 / np.asarray(weighted.sum(axis=1)).ravel().clip(1e-300)) @ weighted)
    assert row_scaling(weighted) is None and symmetric_scaling(weighted) is not None  # W = diag(r) F C F
    Q = as_sparse_w(_queen(7))
    for M, scale in ((W, r), (Q, symmetric_scaling(Q))):
        h = np.sqrt(scale)
        S = (sp.diags(1.0 / h) @ M @ sp.diags(h)).tocsr()
        got, want = symmetric_structure(M, h), csc_with_diagonal(0.5 * (S + S.T))
        for k in (0, 1, 3):  # indices, pointers, diagonal positions
            np.testing.assert_array_equal(got[k], want[k])
        np.testing.assert_allclose(got[2], want[2], rtol=1e-15, atol=0)  # products in another order
    with_diag = as_sparse_w(W + sp.identity(W.shape[0]) * 0.5)
    assert symmetric_structure(with_diag, np.sqrt(r)) is None  # a stored diagonal: the general path
