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
