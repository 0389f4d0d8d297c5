"""The catalogue of what geoattr refuses, repairs or reports, and why (issue 16).

Each test is one case: bad or awkward input and what the user gets (a clear error that
names the offending values and how to fix them, or a note/warning/count in the result).
Sections follow the categories of issue 16.
"""

from __future__ import annotations


# ==== Numbers wrong without a word ====
# Impacts are exact at any admissible rho and say how they were computed; sem_re runs on
# binary W; gmm models honour "- 1"; Moran's I of the residuals is exposed as numbers.
# References are dense (numpy inverse / eigenvalues / explicit M) on small N.
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from libpysal.graph import Graph  # noqa: E402
from scipy import sparse  # noqa: E402

import geoattr  # noqa: E402
from geoattr.exceptions import InputError  # noqa: E402
from geoattr.models.diagnostics import moran_residuals  # noqa: E402
from geoattr.models.impacts import impacts, traces  # noqa: E402
from geoattr.models.spatial_panel import sem_re_bounds  # noqa: E402
from tests.conftest import square_grid  # noqa: E402


def _t16_w(side: int = 10, binary: bool = False, rook: bool = True) -> sparse.csr_matrix:
    g = Graph.build_contiguity(square_grid(side), rook=rook)
    return sparse.csr_matrix(g.sparse if binary else g.transform("r").sparse, dtype=float)


def _t16_dense_impacts(W: sparse.csr_matrix, rho: float, beta: float = 1.0, theta: float = 0.0):
    n = W.shape[0]
    S = np.linalg.inv(np.eye(n) - rho * W.toarray()) @ (beta * np.eye(n) + theta * W.toarray())  # N = 100
    return np.trace(S) / n, S.sum() / n


def _t16_params(rho: float, theta: float = 0.0):
    p = pd.Series({"const": 1.0, "x": 1.0, "W_x": theta, "rho": rho})
    return p, pd.DataFrame(np.eye(4) * 1e-6, index=p.index, columns=p.index)


def test_impacts_total_at_rho_095_is_20_not_19991():
    out = impacts(*_t16_params(0.95), _t16_w(), draws=0)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(20.0, abs=1e-9)
    assert out.attrs["impacts_method"] == "eigen" and "exact" in out.attrs["notes"][0]


@pytest.mark.parametrize("method", ["eigen", "series"])
def test_impacts_at_rho_098_equal_the_dense_inverse(method):
    W = _t16_w()
    out = impacts(*_t16_params(0.98, theta=0.3), W, draws=0, method=method)
    direct, total = _t16_dense_impacts(W, 0.98, theta=0.3)
    assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)


def test_impacts_binary_w_near_one_over_lambda_max():
    W = _t16_w(binary=True)
    rho = 0.97 / np.linalg.eigvalsh(W.toarray()).max()
    out = impacts(*_t16_params(rho), W, draws=0)
    direct, total = _t16_dense_impacts(W, rho)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)  # was off by 1e-2
    assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)


def test_impacts_series_method_states_order_and_error_bound():
    W = _t16_w(binary=True)
    rho = 0.95 / np.linalg.eigvalsh(W.toarray()).max()
    out = impacts(*_t16_params(rho), W, draws=0, method="series", tol=1e-10)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(_t16_dense_impacts(W, rho)[1], abs=1e-6)
    assert out.attrs["impacts_method"] == "series" and out.attrs["series_order"] > 150
    assert out.attrs["error_bound"] <= 1e-10
    assert f"to order {out.attrs['series_order']}" in out.attrs["notes"][0]


def test_impacts_hutchinson_traces_report_their_monte_carlo_error():
    W = _t16_w()
    out = impacts(*_t16_params(0.9), W, draws=0, method="series", trace=traces(W, exact_max_n=10, probes=100))
    assert out.attrs["trace_method"] == "hutchinson" and out.attrs["mc_std_error"] > 0
    assert "traces hutchinson" in out.attrs["notes"][0] and "Monte Carlo standard error" in out.attrs["notes"][0]


def test_impacts_draws_outside_the_interval_are_dropped_and_counted():
    p, _ = _t16_params(0.99)
    cov = pd.DataFrame(np.eye(4) * 1e-4, index=p.index, columns=p.index)
    out = impacts(p, cov, _t16_w(), draws=400, seed=1)
    assert out.attrs["draws_dropped"] > 0
    assert f"{out.attrs['draws_dropped']} of 400 draws of rho outside the admissible interval" in out.attrs["notes"][0]


def test_impacts_refuse_a_rho_outside_the_interval():
    with pytest.raises(InputError, match=r"rho = 1.05 is outside the interval where \(I - rho W\) is invertible"):
        impacts(*_t16_params(1.05), _t16_w(), draws=0)


def test_impacts_unknown_method():
    with pytest.raises(InputError, match=r"method must be one of \('auto', 'eigen', 'series'\); 'power' was given"):
        impacts(*_t16_params(0.5), _t16_w(), method="power")


def _t16_binary_panel(side: int = 8, T: int = 10, seed: int = 4):
    """8 x 8 binary queen lattice: W has the eigenvalue -1, so I + W is singular."""
    g = Graph.build_contiguity(square_grid(side), rook=False)
    Wd = g.sparse.toarray()
    lam = 0.6 / np.linalg.eigvalsh(Wd).max()
    rng = np.random.default_rng(seed)
    n = len(g.unique_ids)
    B_inv = np.linalg.inv(np.eye(n) - lam * Wd)
    mu = rng.normal(size=n) * 0.8
    frames = [pd.DataFrame({"unit": list(g.unique_ids), "year": 2000 + t, "x": (x := rng.normal(size=n)),
                            "y": 1 + 0.7 * x + mu + B_inv @ rng.normal(size=n)}) for t in range(T)]
    return pd.concat(frames).set_index(["unit", "year"]).sort_index(), g, lam


def test_sem_re_runs_on_a_binary_lattice_with_singular_i_plus_w():
    df, g, lam = _t16_binary_panel()
    r = geoattr.fit("y ~ x", df, model="sem_re", weights=g)  # was "Factor is exactly singular"
    assert abs(r.params["lambda"] - lam) < 3 * r.std_errors["lambda"]


def test_sem_re_default_interval_uses_the_eigenvalues_of_a_binary_w():
    W = _t16_w(side=8, binary=True, rook=False)
    ev = np.linalg.eigvalsh(W.toarray())
    assert sem_re_bounds(W) == pytest.approx((0.99 / ev.min(), 0.99 / ev.max()), rel=1e-8)  # not (-0.99, 0.99)
    assert sem_re_bounds(_t16_w()) == (-0.99, 0.99)


def _t16_cross_section(seed: int = 3):
    g = Graph.build_contiguity(square_grid(8), rook=False).transform("r")
    rng = np.random.default_rng(seed)
    n = len(g.unique_ids)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = np.linalg.solve(np.eye(n) - 0.4 * g.sparse.toarray(), 5 + x1 - 0.5 * x2 + rng.normal(size=n))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2}, index=pd.Index(list(g.unique_ids), name="unit")), g


@pytest.mark.parametrize("model,param", [("gmm_lag", "rho"), ("gmm_error", "lambda")])
def test_gmm_models_honour_minus_one(model, param):
    df, g = _t16_cross_section()
    r = geoattr.fit("y ~ x1 + x2 - 1", df, model=model, weights=g)
    assert list(r.params.index) == ["x1", "x2", param]  # spreg used to add a constant silently
    assert any("without a constant" in note for note in r.notes)


def test_moran_of_residuals_is_exposed_as_unrounded_numbers():
    W = _t16_w()
    rng = np.random.default_rng(0)
    n = W.shape[0]
    X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=n)})
    e = pd.Series(np.linalg.solve(np.eye(n) - 0.4 * W.toarray(), rng.normal(size=n)))
    e = e - X @ np.linalg.lstsq(X.to_numpy(), e.to_numpy(), rcond=None)[0]  # OLS residuals on X
    m = moran_residuals(e, X, W)
    M = np.eye(n) - X.to_numpy() @ np.linalg.pinv(X.to_numpy())
    MW = M @ W.toarray()
    S0 = W.sum()
    EI = n / S0 * np.trace(MW) / (n - 2)
    VI = (n / S0) ** 2 * (np.trace(MW @ M @ W.toarray().T) + np.trace(MW @ MW) + np.trace(MW) ** 2) / (
        (n - 2) * n) - EI**2
    assert m.moran_i == pytest.approx(n / S0 * (e @ (W @ e)) / (e @ e), rel=1e-10)
    assert (m.expected, m.variance) == pytest.approx((EI, VI), rel=1e-10)
    assert m.to_series()[["moran_i", "expected", "variance"]].tolist() == [m.moran_i, m.expected, m.variance]
