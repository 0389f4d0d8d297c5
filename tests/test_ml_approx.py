"""Approximate log-determinants of the ML engine (geoattr.models.ml_approx).

References: the exact log-determinant and traces from dense numpy (``slogdet``, explicit
``W (I - rho W)^-1``) on a 20 x 20 queen lattice (N = 400), and the exact fits of the same
engine (``method="lu"``).  The approximations' own stated bounds are the tolerances of the
log-determinant checks; the fit tolerances are stated at each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from geoattr.exceptions import InputError
from geoattr.models.ml import ml_error, ml_lag
from geoattr.models import ml_approx
from geoattr.models.ml_approx import ApproxLogdet
from tests.test_ml_engine import _grid_w, _knn_w, _simulate

RHOS = (-0.5, 0.2, 0.5, 0.8, 0.9)


@pytest.fixture(scope="module")
def grid():
    W = _grid_w(20).sparse.tocsr()
    Wd = W.toarray()
    exact = {}
    for r in RHOS:
        A = np.eye(W.shape[0]) - r * Wd
        WA = Wd @ np.linalg.inv(A)
        exact[r] = (np.linalg.slogdet(A)[1], np.trace(WA), float(np.sum(WA * WA.T)))
    return W, exact


@pytest.fixture(scope="module")
def approx(grid):
    return {m: ApproxLogdet(grid[0], m, seed=0) for m in ("chebyshev", "mc")}


@pytest.mark.parametrize("method", ["chebyshev", "mc"])
def test_interval_covers_exact_logdet(grid, approx, method):
    W, exact = grid
    a = approx[method]
    for r in RHOS:
        lo, hi = a.interval(r)
        # the stated 95 % interval (1.96 probe standard errors + truncation bound) covers the exact value
        assert lo <= exact[r][0] <= hi, (method, r, lo, exact[r][0], hi)
        assert hi - lo < 0.1 * abs(exact[r][0]) + 0.01  # and is informative


def test_chebyshev_truncation_bound_is_a_bound(grid):
    """With exact traces (all probes: the unit vectors) only truncation remains: within its bound."""
    W, exact = grid
    a = ApproxLogdet(W, "chebyshev", seed=0, order=6)
    Wd = W.toarray()
    T = [np.eye(W.shape[0]), Wd]
    for _ in range(6):
        T.append(2 * Wd @ T[-1] - T[-2])
    a.traces[:] = [np.trace(t) for t in T[1:7]]  # exact tr T_k(W), dense reference
    for r in RHOS:
        err = abs(a.value(r)[0] - exact[r][0])
        assert err <= a.truncation_bound(r) * (1 + 1e-9) + 1e-9, (r, err, a.truncation_bound(r))
    assert a.truncation_bound(0.9) > 1e-3  # degree 6 at rho 0.9: the bound is doing work


def test_derivatives_match_exact_traces(grid, approx):
    W, exact = grid
    a = approx["chebyshev"]
    for r in (0.2, 0.5):
        _, d1, d2 = a.value(r)
        # sampling error of 32 probes at N = 400: tr1 (~0.1-0.6) within 0.02, tr2 within 0.2
        assert -d1 == pytest.approx(exact[r][1], abs=0.02)
        assert -d2 == pytest.approx(exact[r][2], abs=0.2)


@pytest.fixture(scope="module")
def data(grid):
    W = grid[0]
    y, X = _simulate(W, "lag", 0.5, seed=1)
    return W, y, X


# tolerances on rho: the sampling error of 32 probes at N = 400 moves the estimate by up to
# a few 1e-4 (Chebyshev) or 1e-3 (Monte Carlo); measured 2e-5 / 3e-4 (lag), 2e-4 / 2e-3 (error)
@pytest.mark.parametrize("engine", [ml_lag, ml_error])
@pytest.mark.parametrize(("method", "tol"), [("chebyshev", 1e-3), ("mc", 5e-3)])
def test_fit_close_to_exact(data, engine, method, tol):
    W, y, X = data
    exact = engine(y, X, W, method="lu")
    r = engine(y, X, W, method=method)
    assert r.method == method
    assert r.params[-1] == pytest.approx(exact.params[-1], abs=tol)
    np.testing.assert_allclose(r.params[:-1], exact.params[:-1], rtol=0, atol=20 * tol)
    np.testing.assert_allclose(r.std_errors, exact.std_errors, rtol=20 * tol)
    info = r.extra["logdet_approximation"]
    assert info["method"] == method and info["error_bound"] > 0
    assert "log-determinant by" in info["note"] and "error bound" in info["note"]
    assert "analytic derivatives" in r.extra["trace_method"]


def test_fit_reachable_from_geoattr_fit_with_note():
    from tests.test_spatial import _cross_section

    from geoattr.models.api import fit

    _, g, df, _, _ = _cross_section("sar", rho=0.4, side=12)
    exact = fit("y ~ x1 + x2", df, model="sar", weights=g)
    r = fit("y ~ x1 + x2", df, model="sar", weights=g, method="chebyshev")
    assert r.params["rho"] == pytest.approx(exact.params["rho"], abs=1e-3)  # as test_fit_close_to_exact
    assert any("Chebyshev" in n and "error bound" in n for n in r.notes)


def test_bad_method_names_the_choices(data):
    W, y, X = data
    with pytest.raises(InputError, match=r"method must be one of .*'cheb' was given.*\('chebyshev', 'mc'\)"):
        ml_lag(y, X, W, method="cheb")


def test_chebyshev_needs_a_real_spectrum_and_row_standardised_w():
    W = _knn_w(60).sparse.tocsr()
    rng = np.random.default_rng(0)
    y, X = rng.normal(size=60), np.column_stack([np.ones(60), rng.normal(size=60)])
    with pytest.raises(InputError, match="similar to a symmetric matrix.*use method='mc'"):
        ml_lag(y, X, W, method="chebyshev")
    B = sp.csr_matrix(_grid_w(5).sparse.toarray() > 0, dtype=float)  # binary: not row-standardised
    y5, X5 = rng.normal(size=25), np.column_stack([np.ones(25), rng.normal(size=25)])
    with pytest.raises(InputError, match="row-standardised W"):
        ml_error(y5, X5, B, method="mc", bounds=(-0.1, 0.1))


def test_exact_logdet_refuses_the_approximations():
    from geoattr.models.ml_approx import check_approx_weights
    from geoattr.models.ml_jacobian import logdet

    W = _grid_w(5).sparse.tocsr()
    with pytest.raises(InputError, match="logdet computes exact values.*use geoattr.models.ml_approx.ApproxLogdet"):
        logdet(W, 0.3, method="mc")
    with pytest.raises(InputError, match=r"approximate log-determinant method must be one of .*'lu' was given"):
        check_approx_weights(W, "lu")


def test_mc_works_with_asymmetric_w():
    W = _knn_w(200).sparse.tocsr()
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = spsolve((sp.identity(200) - 0.4 * W).tocsc(), X @ [1.0, 2.0] + rng.normal(size=200))
    exact, r = ml_lag(y, X, W, method="lu"), ml_lag(y, X, W, method="mc")
    assert r.params[-1] == pytest.approx(exact.params[-1], abs=5e-3)  # as test_fit_close_to_exact


def test_neumann_solve_that_does_not_converge(monkeypatch):
    """At rho = 0.999 the iterations x <- b + rho W x shrink the error by 0.999 a step: 30 are too few."""
    monkeypatch.setattr(ml_approx, "MAX_NEUMANN", 30)
    W = _grid_w(6).sparse.tocsr()
    jac = ml_approx.ApproxJacobian(W, "mc", (-0.99, 0.9999), 0)
    with pytest.raises(InputError, match=r"did not converge in 30 iterations at rho = 0.999 .*use method='lu'"):
        jac.solve(0.999, np.linspace(0.0, 1.0, W.shape[0]))



# --------------------------------------------------------------------------- degree, terms, probes
@pytest.mark.parametrize("method", ["chebyshev", "mc"])
def test_order_and_probes_reach_the_approximation(data, method):
    """``logdet_order`` / ``logdet_probes`` of the fit are the approximation's degree (terms) and probes."""
    W, y, X = data
    default = ml_lag(y, X, W, method=method)
    finer = ml_lag(y, X, W, method=method, logdet_order=60, logdet_probes=64)
    d, f = default.extra["logdet_approximation"], finer.extra["logdet_approximation"]
    assert (d["order"], d["probes"]) == ((20 if method == "chebyshev" else 50), 32)
    assert (f["order"], f["probes"]) == (60, 64)
    # the truncation bound (module docstring's formula) falls with the order: at the same rho it is
    # a closed form, so compare it at the finer fit's rho
    same_rho = ApproxLogdet(W, method, seed=0).truncation_bound(f["rho"])
    assert f["truncation_bound"] < same_rho
    assert "64 Rademacher probes" in f["note"] and f" {60}" in f["note"]
    exact = ml_lag(y, X, W, method="lu")
    # still the exact fit's rho within test_fit_close_to_exact's tolerances
    assert finer.params[-1] == pytest.approx(exact.params[-1], abs=1e-3 if method == "chebyshev" else 5e-3)


def test_order_and_probes_from_geoattr_fit():
    from tests.test_spatial import _cross_section

    from geoattr.models.api import fit

    _, g, df, _, _ = _cross_section("sem", rho=0.4, side=12)
    r = fit("y ~ x1 + x2", df, model="sem", weights=g, method="mc", logdet_order=70, logdet_probes=40)
    assert any("power series, 70 terms" in n and "40 Rademacher probes" in n for n in r.notes)


def test_order_and_probes_need_an_approximate_method(data):
    from tests.test_spatial import _cross_section

    from geoattr.models.api import fit

    W, y, X = data
    with pytest.raises(InputError, match=r"logdet_order=30 set\(s\) the approximate log-determinant.*method='lu'"):
        ml_lag(y, X, W, method="lu", logdet_order=30)
    with pytest.raises(InputError, match=r"logdet_probes=8 set.*uses method='lu'.*choose an approximate method"):
        ml_error(y, X, W, logdet_probes=8)
    with pytest.raises(InputError, match=r"the chebyshev log-determinant's order must be a whole number; 20.5"):
        ml_lag(y, X, W, method="chebyshev", logdet_order=20.5)
    with pytest.raises(InputError, match=r"needs order >= 4 and probes >= 2; order=3, probes=32"):
        ml_lag(y, X, W, method="mc", logdet_order=3)
    _, g, df, _, _ = _cross_section("sar", rho=0.4, side=6)
    with pytest.raises(InputError, match=r"model='sac' uses exact log-determinants: drop the options"):
        fit("y ~ x1", df, model="sac", weights=g, logdet_probes=16)
    with pytest.raises(InputError, match=r"unknown option\(s\) \['logdet_order'\] for model 'sar_fe'"):
        fit("y ~ x1", df.assign(year=1).set_index("year", append=True), model="sar_fe", weights=g,
            logdet_order=30)


# --------------------------------------------------------------------------- bandwidth ordering
def _scattered_knn(n: int, seed: int = 5) -> sp.csr_matrix:
    """kNN weights whose unit numbers carry no geography (shuffled), as a commuting graph's ids."""
    W = _knn_w(n, k=5, seed=seed).sparse.tocsr()
    p = np.random.default_rng(seed).permutation(n)
    return W[p][:, p].tocsr()


def test_bandwidth_order_brings_entries_to_the_diagonal():
    W = _scattered_knn(900)
    assert ml_approx.bandwidth_order(W) is None  # below REORDER_MIN_N: the caller's order
    perm = ml_approx.bandwidth_order(W, min_n=0)
    assert np.array_equal(np.sort(perm), np.arange(900))  # a permutation
    assert perm.dtype == np.int32  # scipy's order as it is: half the memory of an intp copy
    Wp = W[perm][:, perm].tocoo()
    Wc = W.tocoo()
    # shuffled ids: entries ~n/3 from the diagonal on average; RCM on a planar-like kNN graph: a few dozen
    assert np.abs(Wp.row - Wp.col).mean() < 0.2 * np.abs(Wc.row - Wc.col).mean()


@pytest.mark.parametrize("fn", [ml_lag, ml_error])
@pytest.mark.parametrize("method", ["mc", "chebyshev"])
def test_reordered_products_give_the_same_fit(monkeypatch, fn, method):
    """The fit with the products in RCM order equals the fit in the caller's order (1e-9 relative).

    Reference: the same engine with the ordering off (``REORDER_MIN_N`` above N).  The probes
    are drawn in the caller's order and permuted, the solutions permuted back, so only the
    summation order differs; ``traces="stochastic"`` takes the Hutchinson ``tr3`` through the
    permuted Neumann solves and a pooled panel (``periods=3``) the per-period solves.
    """
    n, T = 400, 3
    if method == "mc":
        W = _scattered_knn(n)
    else:  # the lattice with shuffled unit numbers: still similar to a symmetric matrix
        p = np.random.default_rng(1).permutation(n)
        W = _grid_w(20).sparse.tocsr()[p][:, p].tocsr()
    A = sp.kron(sp.identity(T), sp.identity(n) - 0.4 * W).tocsc()
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(n * T), rng.normal(size=(n * T, 2))])
    y = spsolve(A, X @ [1.0, 0.5, -0.3] + rng.normal(size=n * T))
    kw = dict(method=method, periods=T, traces="stochastic", n_probes=48)
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 10**9)
    given = fn(y, X, W, **kw)
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 0)
    ordered = fn(y, X, W, **kw)
    assert given.extra["logdet_approximation"]["ordering"] == "given"
    assert ordered.extra["logdet_approximation"]["ordering"] == "reverse Cuthill-McKee"
    np.testing.assert_allclose(ordered.params, given.params, rtol=1e-9)
    np.testing.assert_allclose(np.diag(ordered.cov), np.diag(given.cov), rtol=1e-9)
    np.testing.assert_allclose(ordered.resid, given.resid, rtol=1e-9, atol=1e-9)
    assert ordered.loglik == pytest.approx(given.loglik, rel=1e-12)


@pytest.mark.parametrize("rows", [1, 37, 10_000])
def test_low_order_traces_by_blocks_of_rows(rows):
    """tr(W^k), k = 1..4, by blocks of rows against dense numpy matrix powers (1e-12 relative)."""
    W = _scattered_knn(300)
    W = (W + sp.diags(np.linspace(0.0, 0.1, 300))).tocsr()  # a diagonal too, so that tr(W) is not 0
    Wd = W.toarray()
    ref = [np.trace(np.linalg.matrix_power(Wd, k)) for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(ml_approx.low_order_traces(W, rows=rows), ref, rtol=1e-12)
    # one block: the sums of the whole products with W' and (W^2)' held, to the last bit
    WT, W2 = W.T.tocsr(), W @ W
    whole = (float(W.diagonal().sum()), float(W.multiply(WT).sum()), float(W2.multiply(WT).sum()),
             float(W2.multiply(W2.T.tocsr()).sum()))
    assert ml_approx.low_order_traces(W, rows=300) == whole


@pytest.mark.parametrize("rows", [1, 37, 10_000])
def test_low_order_traces_read_the_band_with_the_same_sums_as_whole_column_blocks(rows):
    """The band-limited blocks (ml_symmetry.transposed_block) against the blocks they replace,
    ``W[:, B]'`` and ``(W W[:, B])'`` from whole column slices: the same traces to the last bit,
    on a lattice whose band (21) is far below N = 400 and on a kNN W in random order."""
    def by_whole_columns(W, rows):
        t = [float(W.diagonal().sum()), 0.0, 0.0, 0.0]
        for start in range(0, W.shape[0], rows):
            stop = min(start + rows, W.shape[0])
            columns = W[:, start:stop]
            transposed = columns.T.tocsr()
            t[1] += float(W[start:stop].multiply(transposed).sum())
            A = W[start:stop] @ W
            t[2] += float(A.multiply(transposed).sum())
            t[3] += float(A.multiply((W @ columns).T.tocsr()).sum())
        return tuple(t)

    lattice = _lattice_csr(20)
    lattice.data = lattice.data * np.random.default_rng(2).uniform(0.5, 1.5, lattice.nnz)  # W W' != W^2
    for W in (lattice, _scattered_knn(300)):
        assert ml_approx.low_order_traces(W, rows=rows) == by_whole_columns(W, rows)


def test_the_approximate_engine_uses_a_view_of_w_transposed_with_the_copy_s_products():
    """ApproxJacobian.w_transposed is W.T (no copy of W); its products, and the transposed
    Neumann solves, are those of the CSR copy bit for bit."""
    W = _scattered_knn(400)
    jac = ml_approx.ApproxJacobian(W, "mc", (-1.0, 1.0))
    view = jac.w_transposed()
    assert sp.issparse(view) and view.format == "csc" and np.shares_memory(view.data, jac.W.data)
    copy = jac.W.T.tocsr()
    Z = np.random.default_rng(3).choice([-1.0, 1.0], size=(400, 5))
    np.testing.assert_array_equal(view @ Z, copy @ Z)
    np.testing.assert_array_equal(ml_approx._Neumann(jac.W, 0.6, view).solve(Z, trans="T"),
                                  ml_approx._Neumann(jac.W, 0.6, copy).solve(Z, trans="T"))


# --------------------------------------------------------------------------- a local order is kept
def _lattice_csr(side: int) -> sp.csr_matrix:
    return _grid_w(side).sparse.tocsr()


def test_far_share_counts_entries_beyond_the_window():
    """far_share against a count over the coordinates (blocks of 7 rows and one block)."""
    W = _scattered_knn(300)
    coo = W.tocoo()
    for window in (0, 10, 150, 299):
        expected = np.count_nonzero(np.abs(coo.row - coo.col) > window) / W.nnz
        assert ml_approx.far_share(W, window, rows=7) == pytest.approx(expected, abs=0)
        assert ml_approx.far_share(W, window) == pytest.approx(expected, abs=0)
    assert ml_approx.far_share(sp.csr_matrix((5, 5)), 1) == 0.0


def test_a_lattice_numbered_row_by_row_keeps_its_order_and_a_shuffled_one_is_reordered():
    """Queen lattice 70 x 70: every entry within 71 rows of the diagonal, the window is
    min(LOCAL_ROWS, 4900 // 64) = 76 rows: no reordering (the fit holds no copy of W).  The
    same lattice with shuffled unit numbers: reordered."""
    W = _lattice_csr(70)
    assert ml_approx.far_share(W, 76) == 0.0
    assert ml_approx.bandwidth_order(W, min_n=0) is None
    p = np.random.default_rng(3).permutation(W.shape[0])
    Ws = W[p][:, p].tocsr()
    assert ml_approx.far_share(Ws, 76) > 0.9
    perm = ml_approx.bandwidth_order(Ws, min_n=0)
    assert perm is not None and np.array_equal(np.sort(perm), np.arange(W.shape[0]))


def test_the_fit_on_a_local_order_uses_the_caller_s_w(monkeypatch):
    """Above REORDER_MIN_N a lattice numbered row by row is fitted in its own order: the
    Jacobian's W is the caller's canonical matrix itself (no copy), ordering "given"."""
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 0)
    W = _lattice_csr(70)
    W.sort_indices()
    jac = ml_approx.ApproxJacobian(W, "mc", (-1.0, 1.0), 0)
    assert jac.perm is None and jac.W is W
    y, X = _simulate(W, "lag", 0.4, seed=2)
    fit = ml_lag(y, X, W, method="mc")
    assert fit.extra["logdet_approximation"]["ordering"] == "given"


@pytest.mark.parametrize("n, columns", [(1, 16), (65_536, 16), (65_537, 15), (100_000, 10), (524_288, 2),
                                        (524_289, 1), (10**6, 1), (10**8, 1)])
def test_probe_columns_keep_a_block_within_block_bytes(n, columns):
    """Columns of the approximate engine's blocks: BLOCK_BYTES // (8 n) within 1..16 (hand count)."""
    assert ml_approx.probe_columns(n) == columns
    assert columns == 1 or 8 * n * columns <= ml_approx.BLOCK_BYTES
    jac = ml_approx.ApproxJacobian(_lattice_csr(10), "mc", (-1.0, 1.0), 0)
    assert jac.probe_columns() == ml_approx.probe_columns(100) == 16


@pytest.mark.parametrize("rows", [1, 50, 65_536])
def test_reordered_is_the_permuted_matrix_bit_for_bit(rows):
    """reordered (one pass by blocks) against scipy's W[perm][:, perm] with sorted indices:
    the same indptr, indices and values, for an asymmetric kNN W with isolates and a diagonal."""
    W = _scattered_knn(400).tolil()
    W[7, :] = 0.0  # an isolate
    W[3, 3] = 0.25
    W = W.tocsr()
    W.eliminate_zeros()
    perm = np.random.default_rng(8).permutation(400)
    ref = W[perm][:, perm].tocsr()
    ref.sort_indices()
    got = ml_approx.reordered(W, perm, rows=rows)
    assert got.has_sorted_indices
    assert got.indptr.dtype == W.indptr.dtype and got.indices.dtype == W.indices.dtype  # no wider copies
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    assert ml_approx.reordered(W, None) is W


@pytest.mark.parametrize("symmetric_pattern", [True, False])
def test_bandwidth_order_equals_rcm_of_w_plus_w_transposed(symmetric_pattern):
    """The ordering of W's own pattern (symmetric) or of the 1-byte pattern P + P' is scipy's
    reverse Cuthill-McKee of the float W + W' it replaces, entry for entry."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    W = _scattered_knn(600)
    if symmetric_pattern:
        W = (W + W.T).tocsr()
        W.data[:] = 1.0 / np.repeat(np.diff(W.indptr), np.diff(W.indptr))
        W.sort_indices()  # canonical, as the fits' W is: its own pattern is used
    ref = reverse_cuthill_mckee((W + W.T).tocsr(), symmetric_mode=True)
    np.testing.assert_array_equal(ml_approx.bandwidth_order(W, min_n=0), ref)
    unsorted = W.copy()  # rows in another order: the 1-byte pattern sum, as before
    unsorted.indices[unsorted.indptr[0]:unsorted.indptr[1]] = unsorted.indices[unsorted.indptr[0]:unsorted.indptr[1]][::-1]
    unsorted.data[unsorted.indptr[0]:unsorted.indptr[1]] = unsorted.data[unsorted.indptr[0]:unsorted.indptr[1]][::-1]
    unsorted.has_sorted_indices = False
    np.testing.assert_array_equal(ml_approx.bandwidth_order(unsorted, min_n=0),
                                  reverse_cuthill_mckee((unsorted + unsorted.T).tocsr(), symmetric_mode=True))
