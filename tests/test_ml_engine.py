"""Tests of the sparse ML lag / error engine (geoattr.models.ml).

References:
- spreg 1.9 ``ML_Lag`` / ``ML_Error`` with ``method="full"`` (dense) and ``"ord"``
  (eigenvalues), run with ``epsilon=1e-12`` so that the reference's own search error
  (Brent's bounded method stops at ~1.5e-8 relative) is below the tolerances;
- dense numpy (``slogdet``, explicit ``W (I - rho W)^-1``) on small N for the
  log-determinant and the traces.
spreg's "ord" standard errors use tr(W_A W_A) in place of tr(W_A' W_A) (traces of the
symmetrised W), so they are compared after rebuilding ours that way (``_spreg_ord_cov``);
coefficients and log-likelihood are compared directly.
Tolerances are those of the issue: coefficients and rho/lambda 1e-6 relative, standard
errors 1e-4 relative, log-likelihood 1e-6 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

libpysal = pytest.importorskip("libpysal")
spreg = pytest.importorskip("spreg")

from geoattr.exceptions import ConvergenceWarning, InputError  # noqa: E402
from geoattr.models import ml as _ml, ml_jacobian, ml_symmetry  # noqa: E402
from geoattr.models.ml import MLResult, logdet, ml_error, ml_lag  # noqa: E402

BETA = np.array([1.0, 2.0, -1.0, 0.5, 3.0])


def _grid_w(side: int, rook: bool = False):
    w = libpysal.weights.lat2W(side, side, rook=rook)
    w.transform = "r"
    return w


def _knn_w(n: int, k: int = 4, seed: int = 3):
    """Row-standardised k-nearest-neighbour weights: asymmetric, not similar to symmetric."""
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not fully connected": fine here
        w = libpysal.weights.KNN.from_array(pts, k=k)
    w.transform = "r"
    return w


def _simulate(W: sp.spmatrix, model: str, rho: float, seed: int = 1):
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 4))])
    A = (sp.identity(n, format="csc") - rho * W).tocsc()
    eps = rng.normal(size=n)
    y = spsolve(A, X @ BETA + eps) if model == "lag" else X @ BETA + spsolve(A, eps)
    return y, X


def _unused(traces):
    raise AssertionError("exact traces need no covariance callback")


@pytest.fixture(scope="module")
def grid400():
    return _grid_w(20)


@pytest.fixture(scope="module")
def knn300():
    return _knn_w(300)


def _spreg(model: str, y, X, w, method: str):
    cls = spreg.ML_Lag if model == "lag" else spreg.ML_Error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(y[:, None], X[:, 1:], w=w, method=method, epsilon=1e-12)


def _spreg_ord_cov(r: MLResult, X: np.ndarray, W: sp.spmatrix, model: str) -> np.ndarray:
    """The covariance spreg's ``method="ord"`` reports, rebuilt from our estimates.

    For a W with a symmetric pattern, spreg's "ord" takes the traces from the symmetrised
    similar matrix S = D^1/2 W D^-1/2, for which tr(S_A' S_A) = tr(S_A S_A) = tr(W_A W_A);
    "full" and "LU" (and geoattr) use tr(W_A' W_A) of W itself.  Same formulas otherwise.
    """
    n, k = X.shape
    sig2, tr1, tr2 = r.sigma2, r.extra["traces"]["tr1"], r.extra["traces"]["tr2"]
    if model == "lag":
        wpy = W @ r.extra["predy_e"]
        v = np.zeros((k + 2, k + 2))
        v[:k, :k] = X.T @ X / sig2
        v[:k, k] = v[k, :k] = X.T @ wpy / sig2
        v[k, k] = 2 * tr2 + wpy @ wpy / sig2
        v[k, k + 1] = v[k + 1, k] = tr1 / sig2
        v[k + 1, k + 1] = n / (2 * sig2**2)
        return np.linalg.inv(v)[:-1, :-1]
    cov = r.cov.copy()
    cov[k, k] = np.linalg.inv(np.array([[2 * tr2, tr1 / sig2], [tr1 / sig2, n / (2 * sig2**2)]]))[
        0, 0
    ]
    return cov


def _assert_matches_spreg(r: MLResult, s, y: np.ndarray, cov: np.ndarray | None = None) -> None:
    cov = r.cov if cov is None else cov
    np.testing.assert_allclose(r.params, np.asarray(s.betas).ravel(), rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(s.vm)), rtol=1e-4)
    np.testing.assert_allclose(cov, s.vm, rtol=1e-4, atol=1e-4 * np.abs(s.vm).max())
    np.testing.assert_allclose(r.loglik, float(np.squeeze(s.logll)), rtol=1e-6)
    np.testing.assert_allclose(r.sigma2, float(np.squeeze(s.sig2)), rtol=1e-6)
    scale = np.abs(y).max()
    np.testing.assert_allclose(r.resid, np.asarray(s.u).ravel(), rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(r.predy, np.asarray(s.predy).ravel(), rtol=0, atol=1e-6 * scale)


# ---------------------------------------------------------------- against spreg
@pytest.mark.parametrize("method", ["full", "ord"])
@pytest.mark.parametrize("rho", [0.5, -0.4])
def test_lag_matches_spreg(grid400, method, rho):
    y, X = _simulate(grid400.sparse, "lag", rho)
    r = ml_lag(y, X, grid400.sparse)
    s = _spreg("lag", y, X, grid400, method)
    cov = _spreg_ord_cov(r, X, grid400.sparse, "lag") if method == "ord" else None
    _assert_matches_spreg(r, s, y, cov)
    assert r.converged and r.trace_error is None
    # the reduced-form prediction is (I - rho W)^-1 X b, as spreg's predy_e
    ref = np.asarray(s.predy_e).ravel()
    np.testing.assert_allclose(r.extra["predy_e"], ref, rtol=0, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["full", "ord"])
@pytest.mark.parametrize("lam", [0.6, -0.3])
def test_error_matches_spreg(grid400, method, lam):
    y, X = _simulate(grid400.sparse, "error", lam, seed=2)
    r = ml_error(y, X, grid400.sparse)
    s = _spreg("error", y, X, grid400, method)
    _assert_matches_spreg(
        r, s, y, _spreg_ord_cov(r, X, grid400.sparse, "error") if method == "ord" else None
    )
    np.testing.assert_allclose(
        r.extra["e_filtered"], np.asarray(s.e_filtered).ravel(), rtol=0, atol=1e-6 * np.abs(y).max()
    )


@pytest.mark.parametrize("model", ["lag", "error"])
def test_asymmetric_knn_matches_spreg(knn300, model):
    """kNN weights: asymmetric and not similar to a symmetric matrix (complex eigenvalues)."""
    y, X = _simulate(knn300.sparse, model, 0.6, seed=4)
    fit = ml_lag if model == "lag" else ml_error
    r = fit(y, X, knn300.sparse)
    _assert_matches_spreg(r, _spreg(model, y, X, knn300, "full"), y)


def test_ord_differs_only_by_the_documented_trace(grid400):
    """spreg's "ord" SEs differ from its "full" ones; geoattr follows "full"."""
    y, X = _simulate(grid400.sparse, "lag", 0.5)
    r = ml_lag(y, X, grid400.sparse)
    full, ord_ = _spreg("lag", y, X, grid400, "full"), _spreg("lag", y, X, grid400, "ord")
    rel = np.abs(np.sqrt(np.diag(ord_.vm)) / np.sqrt(np.diag(full.vm)) - 1).max()
    assert rel > 1e-4  # the difference is real ...
    tr = r.extra["traces"]
    assert tr["tr3"] > tr["tr2"]  # ... and comes from tr(W_A' W_A) > tr(W_A W_A) for asymmetric W


def test_larger_grid_matches_spreg_full():
    """N = 1,600 against spreg's dense method."""
    w = _grid_w(40)
    for model, fit in (("lag", ml_lag), ("error", ml_error)):
        y, X = _simulate(w.sparse, model, 0.7, seed=5)
        _assert_matches_spreg(fit(y, X, w.sparse), _spreg(model, y, X, w, "full"), y)


# ---------------------------------------------------------------- log-determinant and traces
@pytest.mark.parametrize("rho", [-0.95, -0.3, 0.0, 0.45, 0.9, 0.999])
def test_logdet_matches_dense(grid400, knn300, rho):
    for W in (grid400.sparse, knn300.sparse):
        ref = np.linalg.slogdet(np.eye(W.shape[0]) - rho * W.toarray())[1]
        for method in ("lu", "eigen", "auto"):
            assert logdet(W, rho, method=method) == pytest.approx(ref, rel=1e-10, abs=1e-10)


def test_logdet_rook_singular_at_minus_one():
    """The rook lattice is bipartite: -1 is an eigenvalue, so I + W is singular."""
    W = _grid_w(6, rook=True).sparse
    assert logdet(W, -1.0, method="eigen") < -20  # log of ~0 from rounded eigenvalues
    assert logdet(W, -0.5, method="lu") == pytest.approx(
        np.linalg.slogdet(np.eye(36) + 0.5 * W.toarray())[1], rel=1e-12
    )


@pytest.mark.parametrize("rho", [-0.7, 0.3, 0.9])
def test_traces_match_dense(grid400, knn300, rho):
    """tr(W_A), tr(W_A W_A), tr(W_A' W_A) of the sparse path against a dense W (I - rho W)^-1."""
    for W in (grid400.sparse.tocsr(), knn300.sparse.tocsr()):
        jac = ml_jacobian.Jacobian(W, "lu", (-1.0, 1.0))
        ld, tr1 = jac.logdet_tr1(rho)
        tr, how, se, sens = jac.traces(rho, ld, tr1, (-1.0, 1.0), "exact", 10, 0, _unused)
        Xd = W.toarray() @ np.linalg.inv(np.eye(W.shape[0]) - rho * W.toarray())
        assert tr["tr1"] == pytest.approx(np.trace(Xd), rel=1e-10)
        assert tr["tr2"] == pytest.approx(np.sum(Xd * Xd.T), rel=1e-7)  # central difference
        assert tr["tr3"] == pytest.approx(np.sum(Xd * Xd), rel=1e-10)
        assert se is None and sens == 0.0 and "exact" in how


def test_tr2_one_sided_next_to_a_bound(grid400):
    W = grid400.sparse.tocsr()
    rho, bounds = 0.3 - 1e-8, (0.0, 0.3)
    jac = ml_jacobian.Jacobian(W, "lu", bounds)
    ld, tr1 = jac.logdet_tr1(rho)
    tr, _, _, _ = jac.traces(rho, ld, tr1, bounds, "exact", 10, 0, _unused)
    Xd = W.toarray() @ np.linalg.inv(np.eye(W.shape[0]) - rho * W.toarray())
    assert tr["tr2"] == pytest.approx(np.sum(Xd * Xd.T), rel=1e-7)


def test_symmetric_weights_use_tr3_equal_tr2():
    """Binary (unstandardised) symmetric W: bounds from the eigenvalues, tr3 = tr2 exactly."""
    C = _grid_w(15).sparse.copy()
    C.data[:] = 1.0
    y, X = _simulate(C, "lag", 0.08)
    r = ml_lag(y, X, C)
    ev = np.linalg.eigvalsh(C.toarray())
    np.testing.assert_allclose(r.extra["bounds"], (1 / ev.min(), 1 / ev.max()), rtol=1e-6)
    assert "symmetric" in r.extra["trace_method"]
    re = ml_lag(y, X, C, method="eigen")  # dense reference path
    np.testing.assert_allclose(r.params, re.params, rtol=1e-9)
    np.testing.assert_allclose(r.std_errors, re.std_errors, rtol=1e-7)


@pytest.mark.parametrize("model", ["lag", "error"])
def test_lu_and_eigen_agree(grid400, knn300, model):
    fit = ml_lag if model == "lag" else ml_error
    for w in (grid400, knn300):
        y, X = _simulate(w.sparse, model, 0.55, seed=6)
        a = fit(y, X, w.sparse, method="lu")
        b = fit(y, X, w.sparse, method="eigen")
        assert (a.method, b.method) == ("lu", "eigen")
        np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
        np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-7)
        assert a.loglik == pytest.approx(b.loglik, rel=1e-12)


@pytest.mark.parametrize("weights", ["grid", "knn"])
@pytest.mark.parametrize("model", ["lag", "error"])
def test_stochastic_traces_report_their_error(model, weights):
    """Hutchinson estimate of the asymmetry term: its error is stated and bounds the SE error."""
    W = (_grid_w(30) if weights == "grid" else _knn_w(900)).sparse
    y, X = _simulate(W, model, 0.5, seed=7)
    fit = ml_lag if model == "lag" else ml_error
    exact = fit(y, X, W, traces="exact")
    est = fit(y, X, W, traces="stochastic", n_probes=64, seed=1)
    assert exact.trace_error is None and est.trace_error > 0
    tr3, tr3_hat = exact.extra["traces"]["tr3"], est.extra["traces"]["tr3"]
    assert abs(tr3_hat - tr3) < 4 * est.trace_error
    # se_sensitivity = relative SE change for a one-standard-error change of tr3
    sens = est.extra["se_sensitivity"]
    dev = np.abs(est.std_errors / exact.std_errors - 1).max()
    assert 0 < sens and dev <= 4 * sens
    if weights == "grid":  # nearly symmetric W: the estimated term is small
        assert dev < 1e-4 and sens < 1e-4
    np.testing.assert_array_equal(est.params, exact.params)


# ---------------------------------------------------------------- warnings
def test_bound_warning(grid400):
    y, X = _simulate(grid400.sparse, "lag", 0.7)
    with pytest.warns(
        ConvergenceWarning, match=r"rho = 0\.29999\d* is within 1e-6 of the bound 0\.3 "
    ):
        r = ml_lag(y, X, grid400.sparse, bounds=(0.0, 0.3))
    assert r.params[-1] == pytest.approx(0.3, abs=1e-6)


def test_bound_warning_error_model(grid400):
    y, X = _simulate(grid400.sparse, "error", -0.6)
    with pytest.warns(
        ConvergenceWarning, match=r"lambda = -0\.09999\d* is within 1e-6 of the bound -0\.1 "
    ):
        ml_error(y, X, grid400.sparse, bounds=(-0.1, 0.5))


def test_no_warning_for_interior_estimate(grid400):
    y, X = _simulate(grid400.sparse, "lag", 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = ml_lag(y, X, grid400.sparse)
    assert r.converged and r.iterations < 20


# ---------------------------------------------------------------- inputs
@pytest.fixture()
def small():
    w = _grid_w(5)
    y, X = _simulate(w.sparse, "lag", 0.3)
    return y, X, w.sparse.tocsr()


def test_inputs_not_mutated(small):
    y, X, W = small
    y0, X0, W0 = y.copy(), X.copy(), W.copy()
    ml_lag(y, X, W)
    ml_error(y, X, W)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(X, X0)
    assert abs(W - W0).nnz == 0


def test_result_definitions(small):
    y, X, W = small
    r = ml_lag(y[:, None], X, W.toarray())  # (n, 1) y and dense W are accepted
    np.testing.assert_allclose(r.predy + r.resid, y)
    b, rho = r.params[:-1], r.params[-1]
    np.testing.assert_allclose(r.resid, y - rho * (W @ y) - X @ b, atol=1e-10)
    e = ml_error(y, X, W)
    np.testing.assert_allclose(e.resid, y - X @ e.params[:-1], atol=1e-10)
    np.testing.assert_allclose(
        e.extra["e_filtered"], e.resid - e.params[-1] * (W @ e.resid), atol=1e-10
    )
    with pytest.raises(AttributeError):
        r.sigma2 = 1.0  # frozen


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda y, X, W: (y, X, W[:, :-1]), r"weights \(W\) must be square; its shape is \(25, 24\)"),
        (lambda y, X, W: (y[:-1], X[:-1], W), r"W is 25 x 25 but y has 24 observations"),
        (lambda y, X, W: (y, X[:-1], W), r"X has 24 rows but y has 25 observations"),
        (
            lambda y, X, W: (np.where(np.arange(25) == 3, np.nan, y), X, W),
            r"y has missing or infinite values in rows 3;",
        ),
        (
            lambda y, X, W: (
                y,
                np.where((np.arange(25) == 7)[:, None] & (np.arange(5) == 2), np.inf, X),
                W,
            ),
            r"X has missing or infinite values in rows 7 \(columns 2\)",
        ),
        (
            lambda y, X, W: (y, X, W.toarray().tolist()),
            r"weights \(W\) must be a scipy.sparse matrix .* list was given",
        ),
        (
            lambda y, X, W: (y, np.column_stack([X, X[:, 1]]), W),
            r"X is rank deficient \(rank 5 of 6 columns\)",
        ),
        (lambda y, X, W: (y.reshape(5, 5), X, W), r"y must be a vector"),
        (
            lambda y, X, W: (X @ np.arange(5.0), X, W),
            r"y is an exact linear combination of the columns of X",
        ),
    ],
)
def test_bad_input(small, mutate, match):
    y, X, W = mutate(*small)
    for fit in (ml_lag, ml_error):
        with pytest.raises(InputError, match=match):
            fit(y, X, W)


def test_nan_in_w(small):
    y, X, W = small
    W = W.copy()
    W.data[W.indptr[4]] = np.nan
    with pytest.raises(InputError, match=r"W has missing or infinite weights in rows 4"):
        ml_lag(y, X, W)


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            {"method": "cholesky"},
            r"method must be one of \('auto', 'lu', 'eigen'\); 'cholesky' was given",
        ),
        ({"bounds": (0.5, -0.5)}, r"bounds must be finite with lower < upper"),
        ({"bounds": "wide"}, r"bounds must be a pair"),
        ({"traces": "guess"}, r"traces must be one of"),
        ({"tol": 0.0}, r"tol must be a small positive number"),
        ({"n_probes": 1}, r"n_probes must be an integer >= 2"),
    ],
)
def test_bad_options(small, kw, match):
    y, X, W = small
    with pytest.raises(InputError, match=match):
        ml_lag(y, X, W, **kw)


def test_eigen_refuses_large_n(small, monkeypatch):
    y, X, W = small
    monkeypatch.setattr(ml_jacobian, "EIGEN_MAX_N", 10)
    with pytest.raises(
        InputError, match=r"method='eigen' needs a dense 25 x 25 eigenproblem .* use method='lu'"
    ):
        ml_error(y, X, W, method="eigen")


@pytest.mark.parametrize("engine", ["ml_lag", "ml_error"])
def test_periods_block_equals_full_block_diagonal(engine):
    """periods=T with one N x N block reproduces the fit with the explicit I_T (x) W (1e-9)."""
    import scipy.sparse as sps
    from libpysal.weights import lat2W

    from geoattr.models import ml as _ml

    w = lat2W(9, 9, rook=False)
    w.transform = "r"
    Wb = sps.csr_matrix(w.sparse)
    T, nb = 4, Wb.shape[0]
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(T * nb), rng.normal(size=(T * nb, 2))])
    W_full = sps.kron(sps.identity(T), Wb, format="csr")
    y = sps.linalg.spsolve((sps.identity(T * nb) - 0.35 * W_full).tocsc(), X @ [1.0, 0.5, -0.3] + rng.normal(size=T * nb))
    fn = getattr(_ml, engine)
    full = fn(y, X, W_full)
    block = fn(y, X, Wb, periods=T)
    np.testing.assert_allclose(block.params, full.params, rtol=1e-9)
    np.testing.assert_allclose(block.cov, full.cov, rtol=1e-7)
    assert block.loglik == pytest.approx(full.loglik, rel=1e-10)
    with pytest.raises(_ml.InputError, match=r"periods=5 with an N x N W of N=81 needs y of length 405"):
        fn(y, X, Wb, periods=5)


def test_periods_does_not_mutate_w():
    import scipy.sparse as sps
    from libpysal.weights import lat2W

    from geoattr.models import ml as _ml

    w = lat2W(6, 6)
    w.transform = "r"
    Wb = sps.csr_matrix(w.sparse)
    before = (Wb.data.copy(), Wb.indices.copy(), Wb.indptr.copy())
    rng = np.random.default_rng(0)
    y = rng.normal(size=72)
    X = np.column_stack([np.ones(72), rng.normal(size=72)])
    _ml.ml_lag(y, X, Wb, periods=2)
    for a, b in zip(before, (Wb.data, Wb.indices, Wb.indptr)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("periods", [1, 2])
@pytest.mark.parametrize("method", ["lu", "mc"])
@pytest.mark.parametrize("fn", ["ml_lag", "ml_error"])
def test_engine_reads_w_without_modifying_it(periods, method, fn):
    """W is read only: neither a canonical CSR (used without a copy) nor one with a duplicate
    entry, an explicit zero and unsorted rows (summed, dropped and sorted in a copy) changes."""
    import scipy.sparse as sps
    from libpysal.weights import lat2W

    from geoattr.models import ml as _ml

    w = lat2W(6, 6)
    w.transform = "r"
    canonical = sps.csr_matrix(w.sparse)
    # every weight split into two duplicate entries, each row's columns unsorted, an explicit zero on row 0
    rows = [np.arange(canonical.indptr[i], canonical.indptr[i + 1]) for i in range(36)]
    indices = [np.r_[canonical.indices[r][::-1], canonical.indices[r], [0] * (i == 0)] for i, r in enumerate(rows)]
    data = [np.r_[canonical.data[r][::-1] / 2, canonical.data[r] / 2, [0.0] * (i == 0)] for i, r in enumerate(rows)]
    messy = sps.csr_matrix((np.concatenate(data), np.concatenate(indices), np.r_[0, np.cumsum([len(d) for d in data])]),
                           shape=canonical.shape)
    assert messy.nnz == 2 * canonical.nnz + 1 and not messy.has_canonical_format
    rng = np.random.default_rng(0)
    y = rng.normal(size=36 * periods)
    X = np.column_stack([np.ones(36 * periods), rng.normal(size=36 * periods)])
    fits = []
    for W in (canonical, messy):
        before = (W.data.copy(), W.indices.copy(), W.indptr.copy())
        fits.append(getattr(_ml, fn)(y, X, W, periods=periods, method=method))
        for a, b in zip(before, (W.data, W.indices, W.indptr)):
            np.testing.assert_array_equal(a, b)
    # the same W once duplicates are summed: the same fit (rounding of the halves' sums)
    np.testing.assert_allclose(fits[1].params, fits[0].params, rtol=1e-9)


def _symmetric_by_difference(W):
    """The rule of is_symmetric written out: max |W - W'| <= 1e-14 max(1, max |W|) (dense, small W)."""
    d = W.toarray()
    return bool(np.abs(d - d.T).max() <= 1e-14 * max(1.0, np.abs(d).max()))


def _lattice(side):
    n = side * side
    i = np.arange(n)
    right, down = i[(i % side) < side - 1], i[i < n - side]
    r = np.concatenate([right, right + 1, down, down + side])
    c = np.concatenate([right + 1, right, down + side, down])
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))


@pytest.mark.parametrize("case", ["binary lattice", "row-standardised lattice", "knn", "explicit zero",
                                  "unsorted", "below rounding", "above rounding", "empty"])
def test_is_symmetric_compares_values_on_a_common_pattern_without_the_difference(case):
    """is_symmetric keeps its rule (checked against the dense difference) whether it compares
    the common pattern in blocks (canonical W and W' with one pattern), builds W - W' from the
    caller's W', or builds it by blocks of rows from W alone."""
    C = _lattice(12)
    rng = np.random.default_rng(4)
    if case == "binary lattice":
        W = C
    elif case == "row-standardised lattice":  # a symmetric pattern, asymmetric values
        W = sp.csr_matrix(C.multiply(1.0 / np.asarray(C.sum(axis=1))))
    elif case == "knn":
        dist = rng.random((144, 144))
        idx = np.argsort(dist, axis=1)[:, 1:4]
        W = sp.csr_matrix((np.full(idx.size, 1 / 3), (np.repeat(np.arange(144), 3), idx.ravel())), shape=(144, 144))
    elif case == "explicit zero":  # a stored zero without its mirror: symmetric values, asymmetric pattern
        coo = C.tocoo()
        W = sp.csr_matrix((np.append(coo.data, 0.0), (np.append(coo.row, 0), np.append(coo.col, 50))), shape=C.shape)
        assert W.nnz == C.nnz + 1  # the zero is stored
    elif case == "unsorted":
        W = C.copy()
        W.indices[W.indptr[3]:W.indptr[4]] = W.indices[W.indptr[3]:W.indptr[4]][::-1]
        W.has_sorted_indices = False
    else:
        W = C.copy().astype(float)
        W.data[5] += {"below rounding": 1e-16, "above rounding": 1e-9, "empty": 0.0}[case]
        if case == "empty":
            W = sp.csr_matrix((144, 144))
    expected = _symmetric_by_difference(W)
    assert ml_symmetry.is_symmetric(W) is expected
    assert ml_symmetry.is_symmetric(W, transposed=W.T.tocsr()) is expected
    # without a CSR W' (none, or the transposed view): W - W' by blocks of rows, here of 5 and of 144
    assert ml_symmetry.is_symmetric(W, rows=5) is expected
    assert ml_symmetry.is_symmetric(W, transposed=W.T, rows=5) is expected
    assert expected is {"binary lattice": True, "row-standardised lattice": False, "knn": False,
                        "explicit zero": True, "unsorted": True, "below rounding": True, "above rounding": False,
                        "empty": True}[case]
