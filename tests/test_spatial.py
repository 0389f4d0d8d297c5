"""Spatial models through geoattr.fit, pinned to spreg (same data; tolerances as stated)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from geoattr.exceptions import InputError
from tests.conftest import square_grid
from geoattr.models.api import fit
from geoattr.models.spatial import fit_spatial
from geoattr.models.spatial_panel import fit_spatial_panel

spreg = pytest.importorskip("spreg")


def _grid(side=12):
    """Queen contiguity of a side x side grid of squares; string ids; row-standardised."""
    ids = [f"{i:03d}" for i in range(side * side)]
    gdf = square_grid(side)
    g = Graph.build_contiguity(gdf, rook=False).transform("r")
    w = g.to_W()
    return w, g, ids


def _cross_section(model="sar", rho=0.4, seed=0, side=12):
    w, g, ids = _grid(side)
    n = w.n
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    W = w.sparse.toarray()
    e = rng.normal(size=n)
    if model == "sar":
        y = np.linalg.solve(np.eye(n) - rho * W, 1 + X @ [1.0, -0.5] + e)
    else:
        y = 1 + X @ [1.0, -0.5] + np.linalg.solve(np.eye(n) - rho * W, e)
    idx = pd.MultiIndex.from_arrays([ids, [2020] * n], names=["unit", "year"])
    df = pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1]}, index=idx)
    return w, g, df, X, y


def test_sar_matches_spreg_ml_lag():
    w, g, df, X, y = _cross_section("sar")
    r = fit("y ~ x1 + x2", df, model="sar", weights=g)
    ref = spreg.ML_Lag(y[:, None], X, w=w, method="full")
    # engine tolerance: coefficients 1e-6 relative, standard errors 1e-4 (issue 9)
    np.testing.assert_allclose(r.params.to_numpy(), ref.betas.ravel(), rtol=1e-6)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm)), rtol=1e-4)
    assert r.loglik == pytest.approx(ref.logll, rel=1e-6)
    assert list(r.params.index) == ["const", "x1", "x2", "rho"]
    imp = r.impacts(draws=200)
    assert imp.loc[("x1", "total"), "estimate"] == pytest.approx(r.params["x1"] / (1 - r.params["rho"]), rel=1e-9)


def test_sem_matches_spreg_ml_error():
    w, g, df, X, y = _cross_section("sem", rho=0.5, seed=1)
    r = fit("y ~ x1 + x2", df, model="sem", weights=g)
    ref = spreg.ML_Error(y[:, None], X, w=w, method="full")
    np.testing.assert_allclose(r.params.to_numpy(), ref.betas.ravel(), rtol=1e-6)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm)), rtol=1e-4)
    assert "lambda" in r.params.index
    with pytest.raises(InputError, match="impacts need a spatial lag of y"):
        r.impacts()


def test_sdm_adds_spatial_lags_of_x():
    w, g, df, X, y = _cross_section("sar")
    r = fit("y ~ x1 + x2", df, model="sdm", weights=g)
    assert list(r.params.index) == ["const", "x1", "x2", "W_x1", "W_x2", "rho"]
    WX = w.sparse @ X
    ref = spreg.ML_Lag(y[:, None], np.column_stack([X, WX]), w=w, method="full")
    np.testing.assert_allclose(r.params.to_numpy(), ref.betas.ravel(), rtol=1e-6)


def test_sac_recovers_parameters_and_accepts_two_weights():
    w, g, ids = _grid(20)
    n = w.n
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n, 2))
    W = w.sparse.toarray()
    u = np.linalg.solve(np.eye(n) - 0.3 * W, rng.normal(size=n) * 0.5)
    y = np.linalg.solve(np.eye(n) - 0.4 * W, 1 + X @ [1.0, -0.5] + u)
    idx = pd.MultiIndex.from_arrays([ids, [2020] * n], names=["unit", "year"])
    df = pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1]}, index=idx)
    r = fit("y ~ x1 + x2", df, model="sac", weights=g)
    # generator truth: rho 0.4, lambda 0.3; within 3 standard errors
    assert abs(r.params["rho"] - 0.4) < 3 * r.std_errors["rho"]
    assert abs(r.params["lambda"] - 0.3) < 3 * r.std_errors["lambda"]
    assert abs(r.params["x1"] - 1.0) < 3 * r.std_errors["x1"]
    # SAR is SAC with lambda = 0: the SAC maximum cannot be lower
    assert r.loglik >= fit("y ~ x1 + x2", df, model="sar", weights=g).loglik - 1e-8
    import geopandas as gpd

    pts = gpd.GeoSeries(gpd.points_from_xy(np.arange(n) % 20, np.arange(n) // 20), index=pd.Index(ids))
    knn = Graph.build_knn(pts, k=4).transform("r")
    r2 = fit("y ~ x1 + x2", df, model="sac", weights=g, error_weights=knn)
    assert any("different weights" in n for n in r2.notes)


def test_spatial_panel_fe_balanced_and_errors():
    w, g, ids = _grid(10)
    n, T = w.n, 6
    rng = np.random.default_rng(7)
    W = w.sparse.toarray()
    A = np.linalg.inv(np.eye(n) - 0.35 * W)
    alpha = rng.normal(size=n)
    rows = []
    for t in range(T):
        x = rng.normal(size=n)
        y = A @ (alpha + 0.8 * x + rng.normal(size=n) * 0.5)
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x, "y": y}))
    df = pd.concat(rows).set_index(["unit", "year"]).sort_index()
    r = fit("y ~ x", df, model="sar_fe", weights=g)
    assert r.model == "sar_fe"
    assert abs(r.params["rho"] - 0.35) < 3 * r.std_errors["rho"]
    assert abs(r.params["x"] - 0.8) < 3 * r.std_errors["x"]
    assert "const" not in r.params.index
    # equals the lag model on within-transformed data (Elhorst): same estimates
    dm = df - df.groupby(level=0).transform("mean")
    r_within = fit_spatial(dm["y"], dm[["x"]], g, model="sar")
    np.testing.assert_allclose(r.params.to_numpy(), r_within.params.to_numpy(), rtol=1e-10)
    unbalanced = df.drop(index=("003", 2002))
    with pytest.raises(InputError, match=r"balanced panel: 1 unit\(s\) .*'003'.*balance='drop'"):
        fit_spatial_panel(unbalanced["y"], unbalanced[["x"]], g, model="sar_fe")


def test_gmm_lag_and_error_equal_spreg():
    w, g, df, X, y = _cross_section("sar", rho=0.4, seed=3)
    r = fit("y ~ x1 + x2", df, model="gmm_lag", weights=g)
    ref = spreg.GM_Lag(y[:, None], X, w=w, spat_diag=False)
    np.testing.assert_allclose(r.params.to_numpy(), np.asarray(ref.betas).ravel(), rtol=1e-10)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm)), rtol=1e-10)
    assert abs(r.params["rho"] - 0.4) < 3 * r.std_errors["rho"]  # generator truth
    w2, g2, df2, X2, y2 = _cross_section("sem", rho=0.5, seed=4)
    e = fit("y ~ x1 + x2", df2, model="gmm_error", weights=g2)
    ref2 = spreg.GM_Error_Het(y2[:, None], X2, w=w2)
    # lambda comes from spreg's numerical optimiser: 1e-8 (W built from a Graph vs spreg's W object)
    np.testing.assert_allclose(e.params.to_numpy(), np.asarray(ref2.betas).ravel(), rtol=1e-8)
    assert list(e.params.index)[-1] == "lambda"
    with pytest.raises(InputError, match="needs weights="):
        fit("y ~ x1", df, model="gmm_lag")


def _two_sls_no_constant(y, X, W):
    """Dense spatial 2SLS without a constant: Z = [X, Wy], instruments H = [X, WX] (spreg's w_lags=1)."""
    Z = np.column_stack([X, W @ y])
    H = np.column_stack([X, W @ X])
    PZ = H @ np.linalg.solve(H.T @ H, H.T @ Z)
    return np.linalg.solve(PZ.T @ Z, PZ.T @ y)


@pytest.mark.parametrize("formula", ["y ~ x1 + x2 - 1", "y ~ -1 + x1 + x2"])
def test_gmm_lag_honours_minus_one(formula):
    """Was: the constant was dropped and spreg added its own, so '- 1' silently got one.  Reference:
    dense 2SLS without a constant (1e-10)."""
    w, g, df, X, y = _cross_section("sar", rho=0.4, seed=3)
    r = fit(formula, df, model="gmm_lag", weights=g)
    assert list(r.params.index) == ["x1", "x2", "rho"]
    W = w.sparse.toarray()
    np.testing.assert_allclose(r.params.to_numpy(), _two_sls_no_constant(y, X, W), rtol=1e-10)
    assert any("without a constant" in n for n in r.notes)
    with_const = fit("y ~ x1 + x2", df, model="gmm_lag", weights=g)
    assert "const" in with_const.params.index and not any("without a constant" in n for n in with_const.notes)


def test_gmm_error_honours_minus_one():
    """gmm_error without a constant: spreg's BaseGM_Error_Het on x as given (1e-10), no const term."""
    from spreg.error_sp_het import BaseGM_Error_Het

    w, g, df, X, y = _cross_section("sem", rho=0.5, seed=4)
    r = fit("y ~ x1 + x2 - 1", df, model="gmm_error", weights=g)
    assert list(r.params.index) == ["x1", "x2", "lambda"]
    ref = BaseGM_Error_Het(y[:, None], X, w.sparse)
    np.testing.assert_allclose(r.params.to_numpy(), np.asarray(ref.betas).ravel(), rtol=1e-8)
    # and with a constant, the base estimator on [1, X] equals what fit() gives today
    ref_c = BaseGM_Error_Het(y[:, None], np.column_stack([np.ones(len(y)), X]), w.sparse)
    np.testing.assert_allclose(fit("y ~ x1 + x2", df, model="gmm_error", weights=g).params.to_numpy(),
                               np.asarray(ref_c.betas).ravel(), rtol=1e-8)


def test_sar_re_recovers_truth():
    w, g, ids = _grid(14)
    n, T = w.n, 8
    rng = np.random.default_rng(21)
    A = np.linalg.inv(np.eye(n) - 0.3 * w.sparse.toarray())  # N = 196, data generation only
    mu = rng.normal(size=n) * 0.8  # random effects independent of x
    rows = []
    for t in range(T):
        x = rng.normal(size=n)
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x, "y": A @ (1 + 0.7 * x + mu + rng.normal(size=n))}))
    df = pd.concat(rows).set_index(["unit", "year"]).sort_index()
    r = fit("y ~ x", df, model="sar_re", weights=g)
    # generator truth: rho 0.3, beta 0.7, phi = 1 / (T * 0.64 + 1) = 0.163
    assert abs(r.params["rho"] - 0.3) < 3 * r.std_errors["rho"]
    assert abs(r.params["x"] - 0.7) < 3 * r.std_errors["x"]
    assert float(r.info["phi"]) == pytest.approx(1 / (T * 0.64 + 1), abs=0.06)
    # nested: the pooled lag model (phi = 1) cannot have a higher likelihood
    assert r.loglik >= fit("y ~ x", df, model="sar", weights=g).loglik - 1e-6


def _sem_re_data(side: int, T: int, seed: int, lam: float = 0.5, s_mu: float = 0.8):
    w, g, ids = _grid(side)
    n = w.n
    rng = np.random.default_rng(seed)
    B_inv = np.linalg.inv(np.eye(n) - lam * w.sparse.toarray())  # small N, data generation only
    mu = rng.normal(size=n) * s_mu
    rows = []
    for t in range(T):
        x = rng.normal(size=n)
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x,
                                  "y": 1 + 0.7 * x + mu + B_inv @ rng.normal(size=n)}))
    return pd.concat(rows).set_index(["unit", "year"]).sort_index(), w, g


def test_sem_re_matches_the_dense_exact_likelihood():
    """Reference: the Gaussian log-likelihood of y with the dense NT x NT covariance
    s2 [J_T (x) phi^2 I + I_T (x) (B'B)^-1] (N = 25, T = 4, built explicitly only here),
    maximised by scipy from a different start.  geoattr's sparse formula must give the
    same value at its estimate (1e-8) and the same optimum (parameters 1e-4)."""
    from scipy import optimize

    df, w, g = _sem_re_data(5, 4, seed=3)
    r = fit("y ~ x", df, model="sem_re", weights=g)
    W = w.sparse.toarray()
    ids = list(g.unique_ids)
    years = sorted(df.index.get_level_values(1).unique())
    full = pd.MultiIndex.from_product([ids, years])
    y = df["y"].reindex(full).to_numpy()
    X = np.column_stack([np.ones(len(y)), df["x"].reindex(full).to_numpy()])
    n, T = len(ids), len(years)

    def dense_ll(theta):  # observations in unit-major order (unit outer, year inner)
        b0, b1, lam, phi, log_s2 = theta
        Binv = np.linalg.inv(np.eye(n) - lam * W)
        S = np.kron(phi**2 * np.eye(n), np.ones((T, T))) + np.kron(Binv @ Binv.T, np.eye(T))
        S *= np.exp(log_s2)
        e = y - X @ np.array([b0, b1])
        sign, ld = np.linalg.slogdet(S)
        return -0.5 * (len(y) * np.log(2 * np.pi) + ld + e @ np.linalg.solve(S, e))

    phi, s2 = float(r.info["phi"]), float(r.info["sigma2"])
    theta = np.array([r.params["const"], r.params["x"], r.params["lambda"], phi, np.log(s2)])
    assert dense_ll(theta) == pytest.approx(r.loglik, abs=1e-8)
    opt = optimize.minimize(lambda t: -dense_ll(t), x0=[0.0, 0.0, 0.0, 0.3, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000, "maxfev": 20000})
    assert -opt.fun <= r.loglik + 1e-7
    np.testing.assert_allclose(opt.x[:4], theta[:4], atol=1e-4)


def test_sem_re_recovers_truth_and_nests_pooled_sem():
    df, _, g = _sem_re_data(14, 8, seed=5)
    r = fit("y ~ x", df, model="sem_re", weights=g)
    # generator truth: lambda 0.5, beta 0.7, sigma2 1, sigma2_mu 0.64
    assert abs(r.params["lambda"] - 0.5) < 3 * r.std_errors["lambda"]
    assert abs(r.params["x"] - 0.7) < 3 * r.std_errors["x"]
    assert float(r.info["sigma2_mu"]) == pytest.approx(0.64, abs=0.25)
    assert r.model == "sem_re" and r.resids.index.equals(df.index)
    # the pooled error model is the case phi = 0: it cannot have a higher likelihood
    assert r.loglik >= fit("y ~ x", df, model="sem", weights=g).loglik - 1e-6


def _binary_sem_re_data(side: int, T: int, seed: int, rook: bool, lam_scaled: float = 0.6):
    """Panel on a binary lattice (W not row-standardised; the 5 x 5 rook and 8 x 8 queen lattices have
    the eigenvalue -1, so I + W is singular); lambda = lam_scaled / lambda_max."""
    g = Graph.build_contiguity(square_grid(side), rook=rook)  # binary weights
    ids = list(g.unique_ids)
    Wd = g.sparse.toarray()
    lam = lam_scaled / np.linalg.eigvalsh(Wd).max()
    rng = np.random.default_rng(seed)
    B_inv = np.linalg.inv(np.eye(len(ids)) - lam * Wd)  # small N, data generation only
    mu = rng.normal(size=len(ids)) * 0.8
    rows = []
    for t in range(T):
        x = rng.normal(size=len(ids))
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x,
                                  "y": 1 + 0.7 * x + mu + B_inv @ rng.normal(size=len(ids))}))
    return pd.concat(rows).set_index(["unit", "year"]).sort_index(), g, lam


def test_sem_re_binary_lattice_recovers_lambda():
    """Was "Factor is exactly singular": the ordering ran a numeric LU of I + W, and an 8 x 8 binary
    queen lattice has the eigenvalue -1.  The default interval is 0.99 (1/lambda_min, 1/lambda_max)."""
    from geoattr.models.spatial_panel import fill_ordering, sem_re_bounds

    df, g, lam = _binary_sem_re_data(8, 10, seed=4, rook=False)
    Wd = g.sparse.toarray()
    ev = np.linalg.eigvalsh(Wd)
    assert np.min(np.abs(ev + 1)) < 1e-10  # I + W singular
    lo, hi = sem_re_bounds(g.sparse.tocsr())
    assert (lo, hi) == pytest.approx((0.99 / ev.min(), 0.99 / ev.max()), rel=1e-8)
    assert sorted(fill_ordering(np.eye(64) + Wd)) == list(range(64))
    r = fit("y ~ x", df, model="sem_re", weights=g)
    assert abs(r.params["lambda"] - lam) < 3 * r.std_errors["lambda"]
    assert lo < r.params["lambda"] < hi and abs(r.params["x"] - 0.7) < 3 * r.std_errors["x"]


def test_sem_re_binary_lattice_matches_the_dense_likelihood():
    """Binary W (5 x 5 rook): the sparse log-likelihood at the estimate equals the dense exact Gaussian
    log-likelihood with the explicit NT x NT covariance (1e-8), as for row-standardised W above."""
    df, g, _ = _binary_sem_re_data(5, 4, seed=2, rook=True)
    r = fit("y ~ x", df, model="sem_re", weights=g)
    W = g.sparse.toarray()
    ids, years = list(g.unique_ids), sorted(df.index.get_level_values(1).unique())
    full = pd.MultiIndex.from_product([ids, years])
    y = df["y"].reindex(full).to_numpy()
    e = y - r.params["const"] - r.params["x"] * df["x"].reindex(full).to_numpy()
    n, T, lam = len(ids), len(years), r.params["lambda"]
    phi, s2 = float(r.info["phi"]), float(r.info["sigma2"])
    Binv = np.linalg.inv(np.eye(n) - lam * W)
    S = s2 * (np.kron(phi**2 * np.eye(n), np.ones((T, T))) + np.kron(Binv @ Binv.T, np.eye(T)))
    ll = -0.5 * (len(y) * np.log(2 * np.pi) + np.linalg.slogdet(S)[1] + e @ np.linalg.solve(S, e))
    # info holds phi and sigma2 rounded to 6 significant digits: tolerance from that rounding
    assert ll == pytest.approx(r.loglik, abs=1e-3)


def test_sem_re_unbalanced_panel_error():
    df, _, g = _sem_re_data(5, 4, seed=3)
    with pytest.raises(InputError, match=r"balanced panel: 1 unit\(s\)"):
        fit("y ~ x", df.drop(index=(df.index[0][0], 2001)), model="sem_re", weights=g)


@pytest.mark.parametrize("model,engine", [("sar_fe", "Panel_FE_Lag"), ("sem_fe", "Panel_FE_Error")])
def test_spatial_panel_fe_equals_spreg(model, engine):
    """Reference: spreg's Panel_FE_Lag / Panel_FE_Error on the same data (wide N x T layout).
    Coefficients 1e-6 relative (spreg's bounded Brent search stops at ~1e-8), standard
    errors 1e-5 relative.  (spreg's log-likelihood has another constant: not compared.)"""
    w, g, ids = _grid(10)
    n, T = w.n, 6
    rng = np.random.default_rng(7)
    A = np.linalg.inv(np.eye(n) - 0.35 * w.sparse.toarray())  # N = 100, data generation only
    alpha = rng.normal(size=n)
    rows, Ys, Xs = [], [], []
    for t in range(T):
        x = rng.normal(size=n)
        y = A @ (alpha + 0.8 * x + rng.normal(size=n) * 0.5)
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x, "y": y}))
        Ys.append(y)
        Xs.append(x)
    df = pd.concat(rows).set_index(["unit", "year"]).sort_index()
    r = fit("y ~ x", df, model=model, weights=g)
    ref = getattr(spreg, engine)(np.column_stack(Ys), np.column_stack(Xs), w)
    np.testing.assert_allclose(r.params.to_numpy(), np.asarray(ref.betas).ravel(), rtol=1e-6)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm)), rtol=1e-5)


def test_commuting_weights_lose_their_diagonal_in_spatial_terms():
    """A Graph with self-weights (commuting shares incl. local workers) as W: fit drops
    the diagonal and renormalises (MODEL.md), so it equals the fit with the off-diagonal
    graph (1e-10), and says so in the notes."""
    _, g, df, _, _ = _cross_section("sar", side=8)
    adj = g.adjacency
    ids = list(g.unique_ids)
    selfw = pd.Series(1.0, index=pd.MultiIndex.from_arrays([ids, ids], names=["focal", "neighbor"]))
    with_diag = pd.concat([adj * 0.6, selfw * 0.4]).rename("weight").sort_index()
    gc = Graph(with_diag, transformation="r")
    r0 = fit("y ~ x1 + x2", df, model="sar", weights=g)
    r1 = fit("y ~ x1 + x2 + W(x1)", df, model="sar", weights=gc)
    r2 = fit("y ~ x1 + x2 + W(x1)", df, model="sar", weights=g)
    np.testing.assert_allclose(r1.params.to_numpy(), r2.params.to_numpy(), rtol=1e-10)
    assert any("64 self-weight(s)" in n and "renormalised" in n for n in r1.notes)
    assert not any("self-weight" in n for n in r0.notes)


def test_gmm_estimators_print_nothing(capsys):
    """spreg 1.9 prints its class name while building the summary; geoattr keeps stdout clean."""
    _, g, df, _, _ = _cross_section("sar", rho=0.4, seed=3)
    fit("y ~ x1 + x2", df, model="gmm_lag", weights=g)
    fit("y ~ x1 + x2", df, model="gmm_error", weights=g)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("year_major", [False, True])
@pytest.mark.parametrize("model", ["sar", "sdm", "sem"])
def test_balanced_pooled_fit_never_builds_the_panel_w(model, year_major, monkeypatch):
    """A balanced pooled panel is fitted on one year's W: the NT x NT W is built only when asked for.

    Reference: the same engine on the NT x NT matrix over the observations (the unbalanced
    path, ``periods=1``), to 1e-8 relative; rows unit-major (reordered for the fit) or
    already year-major in W's unit order (used as they are: ``_year_major_order`` gives
    ``slice(None)``).
    """
    from geoattr.models import ml, spatial
    from geoattr.weights.lag import data_weights

    w, g, ids = _grid(8)
    rng = np.random.default_rng(3)
    if year_major:
        idx = pd.MultiIndex.from_product([range(2001, 2005), list(g.unique_ids)],
                                         names=["year", "unit"]).swaplevel()
    else:
        idx = pd.MultiIndex.from_product([ids, range(2001, 2005)], names=["unit", "year"])
    per_year = pd.Series(1, index=idx).groupby(level=1).size()
    assert isinstance(spatial._year_major_order(idx, g, per_year), slice) is year_major
    df = pd.DataFrame({"x1": rng.normal(size=len(idx)), "x2": rng.normal(size=len(idx))}, index=idx)
    df["y"] = 1 + df.x1 - 0.5 * df.x2 + rng.normal(size=len(idx))
    X = df[["x1", "x2"]].assign(const=1.0)
    built = []
    monkeypatch.setattr(spatial, "data_weights", lambda *a, **k: built.append(1) or data_weights(*a, **k))
    r = fit_spatial(df["y"], X, g, model=model)
    assert not built  # the fit did not build the panel's W
    Wobs = data_weights(g, idx, [])
    assert (r.weights != Wobs).nnz == 0 and len(built) == 1  # built on demand, the matrix of data_weights
    Xr = spatial.lagged_regressors(X, Wobs) if model == "sdm" else X
    assert list(r.params.index[:-1]) == list(Xr.columns)
    engine = ml.ml_error if model == "sem" else ml.ml_lag
    ref = engine(df["y"].to_numpy(), Xr.to_numpy(), Wobs)
    np.testing.assert_allclose(r.params.to_numpy(), ref.params, rtol=1e-8)
    np.testing.assert_allclose(r.cov.to_numpy(), ref.cov, rtol=1e-6)


def test_year_major_order_only_for_exactly_balanced_panels():
    """Rows of a balanced panel in (year, W's unit order); None sends the fit to the general path."""
    from geoattr.models.spatial import _year_major_order

    w, g, ids = _grid(3)
    idx = pd.MultiIndex.from_product([ids[::-1], [2002, 2001]], names=["unit", "year"])
    per_year = pd.Series(1, index=idx).groupby(level=1).size()
    order = _year_major_order(idx, g, per_year)
    want = pd.MultiIndex.from_product([[2001, 2002], list(g.unique_ids)]).swaplevel()
    assert list(idx[order]) == list(want)
    rows = [r for r in idx if r != (ids[1], 2001)] + [(ids[0], 2001)]  # one row twice, one missing
    twice = pd.MultiIndex.from_tuples(rows, names=["unit", "year"])
    twice_per_year = pd.Series(1, index=twice).groupby(level=1).size()
    assert twice_per_year.tolist() == per_year.tolist()  # the counts alone look balanced
    assert _year_major_order(twice, g, twice_per_year) is None
    stranger = idx.set_levels([["zz" if u == ids[0] else u for u in idx.levels[0]], idx.levels[1]])
    assert _year_major_order(stranger, g, per_year) is None
    # rows already in that order: slice(None), the data used without a copy
    assert _year_major_order(idx[order], g, per_year) == slice(None)
    # a year level left unused (rows of 2000 dropped): ranks among the years present
    three = pd.MultiIndex.from_product([[2002, 2000, 2001], list(g.unique_ids)], names=["year", "unit"]).swaplevel()
    kept = three[three.get_level_values("year") != 2000]
    assert 2000 in kept.levels[1]
    kept_order = _year_major_order(kept, g, pd.Series(1, index=kept).groupby(level=1).size())
    assert list(kept[kept_order]) == [(u, y) for y in (2001, 2002) for u in g.unique_ids]
    assert _year_major_order(kept[kept_order], g, per_year) == slice(None)
