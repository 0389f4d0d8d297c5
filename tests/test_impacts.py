"""Impacts against dense hand calculations (small N) and spreg's ML_Lag impacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from geoattr.exceptions import InputError
from geoattr.models.impacts import impacts, traces


def _w(n=60, seed=0, row_standardise=False):
    rng = np.random.default_rng(seed)
    A = (rng.random((n, n)) < 0.08).astype(float)
    np.fill_diagonal(A, 0)
    A = A * rng.uniform(0.2, 1.0, (n, n))
    if row_standardise:
        A = A / np.maximum(A.sum(1, keepdims=True), 1e-12)
    else:
        A = A / np.abs(np.linalg.eigvals(A)).max()  # spectral radius 1, rows do not sum to 1
    return sparse.csr_matrix(A)


@pytest.mark.parametrize("row_standardise", [True, False])
def test_impacts_equal_dense_formulas(row_standardise):
    W = _w(row_standardise=row_standardise)
    n = W.shape[0]
    params = pd.Series({"const": 1.0, "x": 0.8, "z": -0.3, "W_x": 0.4, "rho": 0.45})
    cov = pd.DataFrame(np.eye(5) * 1e-4, index=params.index, columns=params.index)
    out = impacts(params, cov, W, draws=0)
    A = np.linalg.inv(np.eye(n) - 0.45 * W.toarray())  # dense reference, N = 60
    for v, beta, theta in (("x", 0.8, 0.4), ("z", -0.3, 0.0)):
        S = A @ (beta * np.eye(n) + theta * W.toarray())
        assert out.loc[(v, "direct"), "estimate"] == pytest.approx(np.trace(S) / n, rel=1e-9)
        assert out.loc[(v, "total"), "estimate"] == pytest.approx(S.sum() / n, rel=1e-9)
        assert out.loc[(v, "indirect"), "estimate"] == pytest.approx((S.sum() - np.trace(S)) / n, rel=1e-8)


def test_hutchinson_traces_close_to_exact():
    W = _w(n=400, row_standardise=True, seed=3)
    ex = traces(W, order=30)
    hu = traces(W, order=30, exact_max_n=10, probes=400)
    assert hu.method == "hutchinson" and ex.method == "exact"
    # stochastic estimate within 4 Monte Carlo standard errors of the exact traces
    assert np.all(np.abs(hu.t - ex.t) <= 4 * hu.t_se + 1e-9)
    np.testing.assert_allclose(hu.s, ex.s, rtol=1e-12)


def test_simulated_inference_and_row_standardised_total():
    W = _w(row_standardise=True)
    params = pd.Series({"const": 0.0, "x": 1.0, "rho": 0.5})
    cov = pd.DataFrame(np.diag([0.01, 0.01, 0.001]), index=params.index, columns=params.index)
    out = impacts(params, cov, W, draws=2000, seed=1)
    # row-standardised W: total = beta / (1 - rho) = 2 (hand)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(2.0, rel=1e-9)
    # delta method: sd(total) ~ sqrt((1/(1-rho))^2 * .01 + (beta/(1-rho)^2)^2 * .001) = 0.2366; MC tolerance 10 %
    assert out.loc[("x", "total"), "std_error"] == pytest.approx(np.sqrt(4 * 0.01 + 16 * 0.001), rel=0.1)
    assert out.loc[("x", "total"), "lower"] < 2 < out.loc[("x", "total"), "upper"]


def test_impacts_match_spreg_ml_lag():
    spreg = pytest.importorskip("spreg")
    from libpysal.weights import lat2W

    w = lat2W(12, 12)
    w.transform = "r"
    rng = np.random.default_rng(0)
    n = w.n
    X = rng.normal(size=(n, 2))
    W = sparse.csr_matrix(w.sparse)
    y = np.linalg.solve(np.eye(n) - 0.4 * W.toarray(), 1 + X @ [1.0, -0.5] + rng.normal(size=n))
    m = spreg.ML_Lag(y[:, None], X, w=w, method="full")
    names = ["const", "x1", "x2", "rho"]
    params = pd.Series(m.betas.ravel(), index=names)
    cov = pd.DataFrame(m.vm, index=names, columns=names)
    out = impacts(params, cov, W, draws=0)
    # spreg's "simple" impacts for row-standardised W: direct = beta * tr(A)/n, total = beta/(1-rho)
    A = np.linalg.inv(np.eye(n) - m.rho * W.toarray())
    for k, v in enumerate(["x1", "x2"], start=1):
        b = m.betas[k, 0]
        assert out.loc[(v, "total"), "estimate"] == pytest.approx(b / (1 - m.rho), rel=1e-9)
        assert out.loc[(v, "direct"), "estimate"] == pytest.approx(b * np.trace(A) / n, rel=1e-9)


def test_impacts_errors():
    W = _w()
    params = pd.Series({"const": 0.0, "x": 1.0})
    cov = pd.DataFrame(np.eye(2), index=params.index, columns=params.index)
    with pytest.raises(InputError, match="impacts need a model with a spatial lag of y"):
        impacts(params, cov, W)
    p2 = pd.Series({"x": 1.0, "rho": 0.2})
    c2 = pd.DataFrame(np.eye(2), index=p2.index, columns=p2.index)
    with pytest.raises(InputError, match=r"variable\(s\) \['q'\] are not among the estimates"):
        impacts(p2, c2, W, variables=["q"])


# ---- exact impacts at any admissible rho (issue 16): dense inverse reference, tolerance 1e-6 absolute
def _lattice(side=10, row_standardise=True):
    from libpysal.weights import lat2W

    w = lat2W(side, side)  # rook lattice
    W = sparse.csr_matrix(w.sparse, dtype=float)
    if row_standardise:
        W = sparse.csr_matrix(W.multiply(1.0 / np.asarray(W.sum(1))))
    return W


def _dense_impacts(W, rho, beta, theta):
    n = W.shape[0]
    Wd = W.toarray()
    S = np.linalg.inv(np.eye(n) - rho * Wd) @ (beta * np.eye(n) + theta * Wd)  # dense reference, N <= 100
    return np.trace(S) / n, S.sum() / n


def _sdm_params(rho):
    params = pd.Series({"const": 1.0, "x": 1.0, "W_x": 0.3, "rho": rho})
    return params, pd.DataFrame(np.eye(4) * 1e-6, index=params.index, columns=params.index)


@pytest.mark.parametrize("method", ["auto", "eigen", "series"])
@pytest.mark.parametrize("case", [("row", 0.95), ("row", 0.98), ("row", -0.9), ("binary", 0.97), ("binary", -0.9)])
def test_impacts_exact_near_the_boundary(case, method):
    kind, scaled = case
    W = _lattice(row_standardise=kind == "row")
    # binary W: rho = scaled / lambda_max (rho x lambda_max = scaled); row-standardised: lambda_max = 1
    rho = scaled / np.linalg.eigvalsh(W.toarray()).max() if kind == "binary" else scaled
    params, cov = _sdm_params(rho)
    out = impacts(params, cov, W, draws=0, method=method)
    direct, total = _dense_impacts(W, rho, 1.0, 0.3)
    assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)
    assert out.loc[("x", "indirect"), "estimate"] == pytest.approx(total - direct, abs=1e-6)
    assert out.attrs["impacts_method"] == ("eigen" if method == "auto" else method)
    assert out.attrs["notes"] and out.attrs["error_bound"] <= 1e-9


def test_row_standardised_total_is_exact_at_rho_095():
    W = _lattice()
    params = pd.Series({"x": 1.0, "rho": 0.95})
    cov = pd.DataFrame(np.eye(2) * 1e-6, index=params.index, columns=params.index)
    for method in ("eigen", "series"):
        out = impacts(params, cov, W, draws=0, method=method)
        assert out.loc[("x", "total"), "estimate"] == pytest.approx(20.0, abs=1e-9)  # 1 / (1 - 0.95), was 19.991


def test_series_with_hutchinson_traces_states_its_errors():
    W = _lattice(side=12)
    params, cov = _sdm_params(0.9)
    tr = traces(W, exact_max_n=10, probes=200)  # force Hutchinson traces
    out = impacts(params, cov, W, draws=0, trace=tr, method="series")
    direct, total = _dense_impacts(W, 0.9, 1.0, 0.3)
    assert out.attrs["trace_method"] == "hutchinson" and out.attrs["series_order"] > 150
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)  # totals exact
    se = out.attrs["mc_std_error"]
    assert 0 < se < 0.05
    # direct within 5 Monte Carlo standard errors (per unit coefficient: |beta| + |theta| = 1.3)
    assert abs(out.loc[("x", "direct"), "estimate"] - direct) <= 5 * 1.3 * se + 1e-9


def test_non_row_stochastic_general_w_totals():
    W = _w(n=60, row_standardise=False, seed=5)  # non-symmetric, rows do not sum to 1, spectral radius 1
    params, cov = _sdm_params(0.97)
    for method in ("eigen", "series"):
        out = impacts(params, cov, W, draws=20, method=method)
        direct, total = _dense_impacts(W, 0.97, 1.0, 0.3)
        assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)
        assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)


def test_draws_outside_the_interval_are_dropped_and_counted():
    W = _lattice()
    params = pd.Series({"x": 1.0, "rho": 0.99})
    cov = pd.DataFrame(np.diag([1e-4, 1e-4]), index=params.index, columns=params.index)
    out = impacts(params, cov, W, draws=500, seed=2)
    dropped = out.attrs["draws_dropped"]
    assert 0 < dropped < 500
    assert f"{dropped} of 500 draws of rho outside the admissible interval dropped" in out.attrs["notes"][0]
    assert np.isfinite(out.loc[("x", "total"), "std_error"])


def test_impacts_method_errors():
    W = _lattice()
    params, cov = _sdm_params(0.5)
    with pytest.raises(InputError, match=r"method must be one of \('auto', 'eigen', 'series'\); 'exact' was given"):
        impacts(params, cov, W, method="exact")
    params, cov = _sdm_params(1.2)
    with pytest.raises(InputError, match=r"rho = 1.2 is outside the interval where \(I - rho W\) is invertible"):
        impacts(params, cov, W, draws=0)


def test_hutchinson_traces_in_bandwidth_order_are_the_same(monkeypatch):
    """Above ``exact_max_n`` the moments run on W in reverse Cuthill-McKee order (ml_approx.bandwidth_order).

    Reference: the same estimator in the caller's order (``REORDER_MIN_N`` above N).  The
    probes are drawn in the caller's order and permuted, so ``z' W^j z`` and ``1' W^j 1``
    agree to rounding (1e-10 relative).  W: kNN weights with shuffled unit numbers.
    """
    from geoattr.models import ml_approx
    from tests.test_ml_approx import _scattered_knn

    W = _scattered_knn(500)
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 10**9)
    given = traces(W, exact_max_n=0, order=30, probes=20)
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 0)
    ordered = traces(W, exact_max_n=0, order=30, probes=20)
    np.testing.assert_allclose(ordered.t, given.t, rtol=1e-10)
    np.testing.assert_allclose(ordered.t_se, given.t_se, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ordered.s, given.s, rtol=1e-10)
    np.testing.assert_allclose(ordered.probe_values, given.probe_values, rtol=1e-10, atol=1e-12)
    # the probes' permutation matters: the same probes against the reordered W unpermuted differ
    perm = ml_approx.bandwidth_order(W, min_n=0)
    monkeypatch.setattr(ml_approx, "REORDER_MIN_N", 10**9)
    assert not np.allclose(traces(W[perm][:, perm], exact_max_n=0, order=30, probes=20).probe_values,
                           given.probe_values)
