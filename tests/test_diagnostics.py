"""Spatial diagnostics pinned to spreg (LMtests, MoranRes) on the same data; tolerance 1e-8 relative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from scipy import sparse, stats

from geoattr.exceptions import InputError
from tests.conftest import square_grid
from geoattr.models.diagnostics import likelihood_ratio, lm_tests, moran_residuals, pesaran_cd
from geoattr.weights.lag import panel_weights
from geoattr.models.ols import LeastSquares
from geoattr.variables import Design

spreg = pytest.importorskip("spreg")


def _case(n_side=10, rho=0.3, seed=0):
    from libpysal.weights import lat2W

    w = lat2W(n_side, n_side, rook=False)
    w.transform = "r"
    n = w.n
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    W = sparse.csr_matrix(w.sparse)
    y = np.linalg.solve(np.eye(n) - rho * W.toarray(), 1 + X @ [1.0, -0.5] + rng.normal(size=n))
    idx = pd.MultiIndex.from_arrays([[f"{i:03d}" for i in range(n)], [2020] * n], names=["unit", "year"])
    Xd = pd.DataFrame({"const": 1.0, "x1": X[:, 0], "x2": X[:, 1]}, index=idx)
    d = Design(y=pd.Series(y, index=idx, name="y"), X=Xd, population=pd.Series(1.0, index=idx), spec="t",
               unit_level="unit", years=(2020, 2020))
    res = LeastSquares(d).fit(cov_type="unadjusted")
    return w, W, X, y, Xd, res


def test_lm_tests_match_spreg():
    w, W, X, y, Xd, res = _case()
    ols = spreg.OLS(y[:, None], X, w=w, spat_diag=True)
    ours = lm_tests(res, Xd, W)
    ref = {"lm_lag": ols.lm_lag, "robust_lm_lag": ols.rlm_lag, "lm_error": ols.lm_error,
           "robust_lm_error": ols.rlm_error, "sarma": ols.lm_sarma}
    for k, (stat, p) in ref.items():
        assert ours.loc[k, "statistic"] == pytest.approx(stat, rel=1e-8), k
        assert ours.loc[k, "pvalue"] == pytest.approx(p, rel=1e-6, abs=1e-300), k


def test_moran_residuals_match_spreg():
    w, W, X, y, Xd, res = _case(rho=0.5, seed=2)
    ols = spreg.OLS(y[:, None], X, w=w, spat_diag=True, moran=True)
    m = moran_residuals(res.resids, Xd, W)
    I, z, p = ols.moran_res
    assert m.statistic == pytest.approx(z, rel=1e-8)
    assert m.pvalue == pytest.approx(p, rel=1e-6)
    assert f"I = {I:.6f}" in m.null


def _dense_moran(e, X, W):
    """Cliff and Ord's I, E[I], V[I] for regression residuals with the explicit N x N M (N = 100)."""
    n, k = X.shape
    M = np.eye(n) - X @ np.linalg.solve(X.T @ X, X.T)
    S0 = W.sum()
    MW = M @ W
    I = n / S0 * (e @ W @ e) / (e @ e)
    EI = n / S0 * np.trace(MW) / (n - k)
    VI = (n / S0) ** 2 * (np.trace(MW @ M @ W.T) + np.trace(MW @ MW) + np.trace(MW) ** 2) / (
        (n - k) * (n - k + 2)) - EI**2
    return I, EI, VI


def test_moran_residuals_numbers_are_exposed_unrounded():
    """Was: I, E[I] and V[I] only inside a string rounded to 6 digits.  References: the dense formula
    (1e-10 relative), spreg's MoranRes (1e-10) and, for X = None, esda.Moran's normality moments (1e-10)."""
    from esda import Moran
    from libpysal.weights import WSP
    from spreg.diagnostics_sp import MoranRes

    w, W, X, y, Xd, res = _case(rho=0.5, seed=2)
    m = moran_residuals(res.resids, Xd, W)
    I, EI, VI = _dense_moran(res.resids.to_numpy(), Xd.to_numpy(), W.toarray())
    got = m.to_series()
    for name, ref in (("moran_i", I), ("expected", EI), ("variance", VI)):
        assert isinstance(getattr(m, name), float) and getattr(m, name) == pytest.approx(ref, rel=1e-10), name
        assert got[name] == getattr(m, name)
    assert m.z == m.statistic == pytest.approx((I - EI) / np.sqrt(VI), rel=1e-10)
    ols = spreg.OLS(y[:, None], X, w=w)
    ref = MoranRes(ols, w, z=True)
    assert (m.moran_i, m.expected, m.variance) == pytest.approx((ref.I, ref.eI, ref.vI), rel=1e-10)
    # residuals of a mean only: esda's moments under normality
    e = pd.Series(y - y.mean(), index=Xd.index)
    m0 = moran_residuals(e, None, W)
    mo = Moran(y, WSP(W).to_W(silence_warnings=True), transformation="o", permutations=0)
    assert (m0.moran_i, m0.expected, m0.variance, m0.z) == pytest.approx((mo.I, mo.EI, mo.VI_norm, mo.z_norm), rel=1e-10)


def test_panel_weights_block_diagonal():
    ids = ["a", "b", "c"]
    g = Graph.from_arrays(["a", "b", "b", "c"], ["b", "a", "c", "b"], [1.0, 0.5, 0.5, 1.0])
    idx = pd.MultiIndex.from_product([ids, [2001, 2002]], names=["unit", "year"])
    Wp = panel_weights(g, idx).toarray()
    # (a, 2001) row links to (b, 2001) only; (b, 2002) to (a, 2002) and (c, 2002)
    assert Wp[0, 2] == 1.0 and Wp[0].sum() == 1.0
    assert Wp[3, 1] == 0.5 and Wp[3, 5] == 0.5 and Wp[3, [0, 2, 4]].sum() == 0
    with pytest.raises(InputError, match=r"1 unit\(s\) of the data are not in the weights: 'd'"):
        panel_weights(g, pd.MultiIndex.from_product([ids + ["d"], [2001]], names=["unit", "year"]))


def test_likelihood_ratio_by_hand():
    _, _, _, _, Xd, res = _case()
    d = Design(y=res.y, X=Xd[["const", "x1"]], population=pd.Series(1.0, index=Xd.index), spec="t", unit_level="u",
               years=(2020, 2020))
    small = LeastSquares(d).fit(cov_type="unadjusted")
    lr = likelihood_ratio(small, res)
    assert lr.statistic == pytest.approx(2 * (res.loglik - small.loglik), rel=1e-12) and lr.df == 1
    with pytest.raises(InputError, match="must have more parameters"):
        likelihood_ratio(res, small)


def test_j_test_prefers_the_true_weights():
    from geoattr.models.diagnostics import j_test

    side = 18
    n = side * side
    ids = [f"{i:03d}" for i in range(n)]
    gdf = square_grid(side)
    queen = Graph.build_contiguity(gdf, rook=False).transform("r")
    rng = np.random.default_rng(5)
    perm = rng.permutation(n)  # placebo weights: the grid with units shuffled
    placebo = Graph.from_arrays([ids[perm[ids.index(f)]] for f in queen.adjacency.index.get_level_values(0)],
                                [ids[perm[ids.index(j)]] for j in queen.adjacency.index.get_level_values(1)],
                                queen.adjacency.to_numpy())
    x = rng.normal(size=n)
    W = queen.sparse.toarray()  # N = 324, dense only to generate the data
    y = np.linalg.solve(np.eye(n) - 0.6 * W, 1 + x + rng.normal(size=n))
    df = pd.DataFrame({"y": y, "x": x}, index=pd.MultiIndex.from_arrays([ids, [2020] * n], names=["unit", "year"]))
    jt = j_test("y ~ x", df, model="sar", weights={"queen": queen, "placebo": placebo})
    # generator truth: the queen model is right, so it is not rejected and the placebo is
    assert jt.loc["H0: queen", "pvalue"] > 0.01
    assert jt.loc["H0: placebo", "pvalue"] < 0.001
    with pytest.raises(InputError, match="j_test supports"):
        j_test("y ~ x", df, model="fe", weights={"queen": queen, "placebo": placebo})


def test_panel_lm_tests_detect_a_spatial_lag_in_a_fe_panel():
    from geoattr.models.diagnostics import panel_lm_tests

    side, T = 12, 5
    n = side * side
    ids = [f"{i:03d}" for i in range(n)]
    gdf = square_grid(side)
    g = Graph.build_contiguity(gdf, rook=False).transform("r")
    W = g.sparse.toarray()  # N = 144, data generation only
    rng = np.random.default_rng(11)
    alpha = rng.normal(size=n) * 2
    frames = []
    for rho, tag in ((0.5, "lag"), (0.0, "none")):
        rows = []
        for t in range(T):
            x = rng.normal(size=n)
            y = np.linalg.solve(np.eye(n) - rho * W, alpha + x + rng.normal(size=n))
            rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x, "y": y}))
        frames.append((tag, pd.concat(rows).set_index(["unit", "year"]).sort_index()))
    for tag, df in frames:
        lm = panel_lm_tests(df["y"], df[["x"]].assign(const=1.0), g)
        if tag == "lag":
            assert lm.loc["lm_lag", "pvalue"] < 1e-6
        else:
            assert lm.loc["lm_lag", "pvalue"] > 0.01 and lm.loc["lm_error", "pvalue"] > 0.01
    # within-transformed pooled LM equals lm_tests on demeaned data by hand
    df = frames[0][1]
    dm = df - df.groupby(level=0).transform("mean")
    d = Design(y=dm["y"], X=dm[["x"]], population=pd.Series(1.0, index=dm.index), spec="t", unit_level="u", years=(2000, 2004))
    ref = lm_tests(LeastSquares(d).fit(cov_type="unadjusted"), dm[["x"]], panel_weights(g, dm.index))
    pd.testing.assert_frame_equal(panel_lm_tests(df["y"], df[["x"]], g), ref)
    with pytest.raises(InputError, match="effects must be 'unit', 'twoway' or None"):
        panel_lm_tests(df["y"], df[["x"]], g, effects="time")


# ----------------------------------------------------------------------------- Pesaran's CD
def _cd_by_pairs(resids):
    """Reference: the definition, with every pairwise correlation (dense N x N, N = 12 here)."""
    E = resids.unstack(level=1).to_numpy(dtype=float)
    N, T = E.shape
    R = np.corrcoef(E)
    return np.sqrt(2 * T / (N * (N - 1))) * R[np.triu_indices(N, 1)].sum()


def _panel_resids(N=12, T=15, factor=0.0, seed=3):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=T)
    e = rng.normal(size=(N, T)) + factor * f[None, :] * rng.uniform(0.5, 1.5, size=(N, 1))
    idx = pd.MultiIndex.from_product([[f"u{i:02d}" for i in range(N)], range(2000, 2000 + T)], names=["unit", "year"])
    return pd.Series(e.ravel(), index=idx)


def test_pesaran_cd_equals_the_pairwise_definition():
    for factor in (0.0, 1.0):
        r = _panel_resids(factor=factor)
        cd = pesaran_cd(r)
        assert cd.statistic == pytest.approx(_cd_by_pairs(r), rel=1e-10, abs=1e-12)  # reference: np.corrcoef pairs
        assert cd.pvalue == pytest.approx(2 * stats.norm.sf(abs(cd.statistic)), rel=1e-12)


def test_pesaran_cd_size_and_power_by_simulation():
    # known truth: independent units -> CD ~ N(0, 1); a common factor -> CD far above 1.96
    null = np.array([pesaran_cd(_panel_resids(N=30, T=10, seed=s)).statistic for s in range(200)])
    assert abs(null.mean()) < 0.25 and 0.75 < null.std() < 1.25  # 200 draws: se of mean 0.07, of sd 0.05
    assert pesaran_cd(_panel_resids(N=30, T=10, factor=1.0)).statistic > 5


def test_pesaran_cd_refuses_unbalanced_and_cross_sections():
    r = _panel_resids()
    with pytest.raises(InputError, match=r"needs a balanced panel: 1 unit\(s\) lack some of the 15 years: 'u03'"):
        pesaran_cd(r.drop(("u03", 2004)))
    with pytest.raises(InputError, match=r"needs residuals on a \(unit, year\) index"):
        pesaran_cd(r.xs(2000, level="year"))
    with pytest.raises(InputError, match=r"at least 3 units and 3 years; the residuals have 12 x 2"):
        pesaran_cd(r[r.index.get_level_values("year") < 2002])
