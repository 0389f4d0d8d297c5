"""Unbalanced fixed-effects spatial panels (balance="keep") and spatial Durbin panels
(sdm_fe, sdem_fe, sdm_re), issue 19 items 2 and 3.

References, each stated in the test: today's balanced estimator (geoattr's
fit_spatial_panel, itself pinned to spreg and spatialreg), a dense hand computation of
the likelihood, spreg 1.9's Panel_FE_Lag / Panel_FE_Error on [X, WX], and the known truth
of simulated panels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from scipy import optimize

from geoattr.exceptions import InputError, WeightsSubsetWarning
from geoattr.models.api import fit
from geoattr.models.spatial_panel import fit_sar_re, fit_spatial_panel
from geoattr.models.spatial_panel_durbin import fit_durbin_panel
from geoattr.models.spatial_panel_unbalanced import fit_unbalanced_fe
from tests.conftest import square_grid

spreg = pytest.importorskip("spreg")


def _queen(side: int) -> Graph:
    """Row-standardised queen contiguity of a side x side grid (columns do not sum to 1)."""
    return Graph.build_contiguity(square_grid(side), rook=False).transform("r")


def _torus(side: int) -> Graph:
    """Row-standardised rook contiguity on a torus: every unit has 4 neighbours, so rows
    and columns of W sum to 1 (doubly stochastic)."""
    ids = [f"u{i:02d}" for i in range(side * side)]
    foc, nb = [], []
    for r in range(side):
        for c in range(side):
            for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                foc.append(ids[r * side + c])
                nb.append(ids[((r + dr) % side) * side + (c + dc) % side])
    return Graph.from_arrays(foc, nb, np.ones(len(foc))).transform("r")


def _balanced_panel(g: Graph, *, T: int = 6, rho: float = 0.4, seed: int = 1, durbin: bool = False) -> pd.DataFrame:
    """SAR panel with unit effects (sd 2); with durbin=True y also depends on W x (theta = 0.5)."""
    ids = list(g.unique_ids)
    n = len(ids)
    W = g.sparse.toarray()
    rng = np.random.default_rng(seed)
    A = np.linalg.inv(np.eye(n) - rho * W)  # data generation only (n <= 100)
    alpha = rng.normal(size=n) * 2
    rows = []
    for t in range(T):
        x, z = rng.normal(size=n), rng.normal(size=n)
        y = A @ (alpha + 0.8 * x - 0.3 * z + (0.5 * W @ x if durbin else 0) + rng.normal(size=n) * 0.5)
        rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x": x, "z": z, "y": y}))
    return pd.concat(rows).set_index(["unit", "year"]).sort_index()


def _unbalanced_panel(g: Graph, model: str, seed: int, *, effects: str = "unit", T: int = 8, rho: float = 0.4,
                      beta=(0.8, -0.5), p_missing: float = 0.15) -> pd.DataFrame:
    """The keep model's own data-generating process: each unit-year is missing with
    probability p_missing; year t's W_t is the queen subgraph over the observed units,
    rows renormalised; y_t = (I - rho W_t)^-1 (alpha + tau_t + X b + e) (lag) or
    alpha + tau_t + X b + (I - rho W_t)^-1 e (error)."""
    ids = np.asarray(g.unique_ids)
    n = len(ids)
    Wb = (g.sparse > 0).astype(float).toarray()
    rng = np.random.default_rng(seed)
    alpha = rng.normal(size=n) * 2
    rows = []
    for t in range(T):
        S = np.flatnonzero(rng.random(n) > p_missing)
        Wt = Wb[np.ix_(S, S)]
        rs = Wt.sum(axis=1)
        Wt = Wt / np.where(rs == 0, 1, rs)[:, None]
        X = rng.normal(size=(len(S), 2))
        e = rng.normal(size=len(S)) * 0.5
        tau = rng.normal() if effects == "twoway" else 0.0
        Binv = np.linalg.inv(np.eye(len(S)) - rho * Wt)
        y = Binv @ (alpha[S] + tau + X @ beta + e) if model == "sar_fe" else alpha[S] + tau + X @ beta + Binv @ e
        rows.append(pd.DataFrame({"unit": ids[S], "year": 2000 + t, "x1": X[:, 0], "x2": X[:, 1], "y": y}))
    return pd.concat(rows).set_index(["unit", "year"]).sort_index()


# --------------------------------------------------------------------------- balance="keep"
@pytest.mark.parametrize("model", ["sar_fe", "sem_fe"])
def test_keep_on_a_balanced_panel_equals_todays_estimator(model):
    """Reference: today's balanced fit_spatial_panel (Elhorst on demeaned data).  Unit effects
    commute with I_T (x) W for any W, so the dummy-variable likelihood of balance='keep' is the
    same function: estimates, standard errors, log-likelihood and corrected sigma2 to 1e-8."""
    g = _queen(8)
    df = _balanced_panel(g)
    a = fit_spatial_panel(df["y"], df[["x", "z"]], g, model=model)
    b = fit_spatial_panel(df["y"], df[["x", "z"]], g, model=model, balance="keep")
    np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(b.std_errors.to_numpy(), a.std_errors.to_numpy(), rtol=0, atol=1e-8)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)
    assert b.rsquared == pytest.approx(a.rsquared, abs=1e-8)
    assert b.info["sigma2 (Lee-Yu corrected)"] == a.info["sigma2 (Lee-Yu corrected)"]
    assert list(b.params.index) == ["x", "z", "rho" if model == "sar_fe" else "lambda"]
    assert b.model == model and any("balance='keep'" in n for n in b.notes)


@pytest.mark.parametrize("model", ["sar_fe", "sem_fe"])
def test_keep_twoway_equals_todays_estimator_on_balanced_panels(model):
    """Two-way effects: on an unbalanced panel balance='keep' takes the lag of y before removing
    the year means (the direct approach, exact ML of the dummy model); today's balanced
    estimator lags the demeaned y.  The two coincide when the columns of W also sum to 1 (rook
    torus) and not otherwise; issue 19 item 2 asks for equality on every balanced panel, so a
    balanced panel takes the balanced estimator.  Reference: today's balanced
    fit_spatial_panel, 1e-8 on the torus and 1e-7 on the queen grid (columns not summing to 1),
    and also when the weights cover more units than the (balanced) data."""
    def keep_equals_balanced(g, atol):
        d = _balanced_panel(g, seed=2)
        a = fit_spatial_panel(d["y"], d[["x", "z"]], g, model=model, effects="twoway")
        b = fit_spatial_panel(d["y"], d[["x", "z"]], g, model=model, effects="twoway", balance="keep")
        np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=0, atol=atol)
        np.testing.assert_allclose(b.std_errors.to_numpy(), a.std_errors.to_numpy(), rtol=0, atol=atol)
        assert b.loglik == pytest.approx(a.loglik, abs=atol)
        return a, b

    keep_equals_balanced(_torus(7), 1e-8)
    q = _queen(8)
    dq = _balanced_panel(q, seed=2)
    aq, bq = keep_equals_balanced(q, 1e-7)
    assert bq.info["sigma2 (Lee-Yu corrected)"] == aq.info["sigma2 (Lee-Yu corrected)"]
    assert any("the panel is balanced (64 units x 6 years)" in n for n in bq.notes)
    # weights over more units than the balanced data: restricted (rows renormalised) as balance='drop' does
    sub = dq[~dq.index.get_level_values(0).isin(list(q.unique_ids)[:5])]
    ad = fit_spatial_panel(sub["y"], sub[["x", "z"]], q, model=model, effects="twoway", balance="drop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsSubsetWarning)
        bd = fit_spatial_panel(sub["y"], sub[["x", "z"]], q, model=model, effects="twoway", balance="keep")
    np.testing.assert_allclose(bd.params.to_numpy(), ad.params.to_numpy(), rtol=0, atol=1e-7)
    assert any("restricted to its 59 units" in n for n in bd.notes)
    # the direct approach (unbalanced panels) differs from Elhorst's when the columns of W do not sum to 1
    direct = fit_unbalanced_fe(dq["y"], dq[["x", "z"]], q, model=model[:3], effects="twoway")
    assert np.max(np.abs(direct.params.to_numpy() - aq.params.to_numpy())) > 1e-5


def test_keep_sar_fe_maximises_the_dense_unbalanced_likelihood():
    """Reference: a dense hand computation of the direct-approach log-likelihood
    -n/2 (log 2pi + 1 + log(e'e/n)) + sum_t log|I - rho W_t|, e = M (y - rho W y) - M X b,
    W_t the renormalised subgraph of year t's units (numpy slogdet) and M the projector off
    the unit dummies.  The fit's log-likelihood equals it at the estimate (1e-8) and its rho
    is the maximiser found by a bounded scalar search on the dense function (1e-6)."""
    g = _queen(6)
    df = _unbalanced_panel(g, "sar_fe", seed=5, T=5)
    with pytest.warns(WeightsSubsetWarning, match="renormalised"):
        r = fit("y ~ x1 + x2", df, model="sar_fe", weights=g, balance="keep")
    ids = list(g.unique_ids)
    Wb = (g.sparse > 0).astype(float).toarray()
    n = len(df)
    W = np.zeros((n, n))
    units, years = df.index.get_level_values(0), df.index.get_level_values(1)
    for t in pd.unique(years):
        m = np.flatnonzero(years == t)
        pos = [ids.index(u) for u in units[m]]
        Wt = Wb[np.ix_(pos, pos)]
        W[np.ix_(m, m)] = Wt / np.maximum(Wt.sum(axis=1), 1)[:, None]
    D = (np.asarray(units, dtype=object)[:, None] == np.asarray(pd.unique(units), dtype=object)[None, :]).astype(float)
    M = np.eye(n) - D @ np.linalg.pinv(D)
    y, X = df["y"].to_numpy(), df[["x1", "x2"]].to_numpy()
    MX = M @ X

    def loglik(rho):
        v = M @ (y - rho * W @ y)
        e = v - MX @ np.linalg.lstsq(MX, v, rcond=None)[0]
        return -n / 2 * (np.log(2 * np.pi) + 1 + np.log(e @ e / n)) + np.linalg.slogdet(np.eye(n) - rho * W)[1]

    assert r.loglik == pytest.approx(loglik(r.params["rho"]), abs=1e-8)
    best = optimize.minimize_scalar(lambda p: -loglik(p), bounds=(-0.9, 0.9), method="bounded",
                                    options={"xatol": 1e-10})
    assert r.params["rho"] == pytest.approx(best.x, abs=1e-6)


@pytest.mark.parametrize("model,effects", [("sar_fe", "unit"), ("sar_fe", "twoway"), ("sem_fe", "unit")])
def test_keep_recovers_the_truth_on_simulated_unbalanced_panels(model, effects):
    """Reference: the generator's known truth (rho = 0.4, b = (0.8, -0.5); 15 % of unit-years
    missing, 100 units x 8 years).  Over 6 seeds every estimate is within 4 standard errors
    and the mean of the 6 z-scores of each parameter within 3 / sqrt(6) (3 standard errors of
    the average)."""
    g = _queen(10)
    par = "rho" if model == "sar_fe" else "lambda"
    truth = np.array([0.8, -0.5, 0.4])
    zs = []
    for seed in range(6):
        df = _unbalanced_panel(g, model, seed, effects=effects)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WeightsSubsetWarning)
            r = fit("y ~ x1 + x2", df, model=model, weights=g, balance="keep", effects=effects)
        cols = ["x1", "x2", par]
        zs.append((r.params[cols].to_numpy() - truth) / r.std_errors[cols].to_numpy())
    zs = np.array(zs)
    assert np.abs(zs).max() < 4, zs
    assert np.all(np.abs(zs.mean(axis=0)) < 3 / np.sqrt(len(zs))), zs.mean(axis=0)


def test_keep_sdm_fe_on_an_unbalanced_panel_lags_x_within_each_year():
    """sdm_fe with balance='keep' is sar_fe (keep) on [X, W_t X] with W_t each year's renormalised
    subgraph (reference: the W X built by hand from the dense W_t, 1e-10)."""
    g = _queen(6)
    df = _unbalanced_panel(g, "sar_fe", seed=3, T=4)
    ids = list(g.unique_ids)
    Wb = (g.sparse > 0).astype(float).toarray()
    wx = pd.Series(0.0, index=df.index)
    for t, part in df.groupby(level=1):
        pos = [ids.index(u) for u in part.index.get_level_values(0)]
        Wt = Wb[np.ix_(pos, pos)]
        wx[part.index] = (Wt / np.maximum(Wt.sum(axis=1), 1)[:, None]) @ part["x1"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsSubsetWarning)
        r = fit("y ~ x1", df, model="sdm_fe", weights=g, balance="keep")
        ref = fit_spatial_panel(df["y"], pd.DataFrame({"x1": df["x1"], "W_x1": wx}), g, model="sar_fe",
                                balance="keep")
    np.testing.assert_allclose(r.params.to_numpy(), ref.params.to_numpy(), rtol=0, atol=1e-10)
    assert list(r.params.index) == ["x1", "W_x1", "rho"] and r.model == "sdm_fe"


# --------------------------------------------------------------------------- Durbin panels
def _durbin_reference_inputs():
    """The 8 x 8 queen Durbin panel and spreg's inputs: wide y, x, z in the W's id order and
    [X, WX] with WX of the raw x within each year (spreg demeans both)."""
    g = _queen(8)
    w = g.to_W()
    df = _balanced_panel(g, durbin=True, seed=4)
    W = g.sparse.toarray()
    wide = {c: df[c].unstack(level=1).loc[list(w.id_order)].to_numpy() for c in ("y", "x", "z")}
    return g, w, df, wide, np.column_stack([wide["x"], wide["z"], W @ wide["x"], W @ wide["z"]])


@pytest.mark.parametrize("model,engine,par", [("sdm_fe", "Panel_FE_Lag", "rho"), ("sdem_fe", "Panel_FE_Error", "lambda")])
def test_durbin_fe_equals_spreg_on_x_and_wx(model, engine, par):
    """Reference: spreg 1.9's Panel_FE_Lag / Panel_FE_Error given [X, WX] (WX of the raw x
    within each year; spreg demeans both).  Coefficients 1e-6 relative (spreg's bounded Brent
    search stops at ~1e-8), standard errors 1e-5 relative, as the sar_fe/sem_fe reference."""
    g, w, df, wide, Xs = _durbin_reference_inputs()
    ref = getattr(spreg, engine)(wide["y"], Xs, w)
    r = fit("y ~ x + z", df, model=model, weights=g)
    assert list(r.params.index) == ["x", "z", "W_x", "W_z", par]
    np.testing.assert_allclose(r.params.to_numpy(), np.asarray(ref.betas).ravel(), rtol=1e-6)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm)), rtol=1e-5)
    if model == "sdm_fe":
        truth = {"x": 0.8, "z": -0.3, "W_x": 0.5, "W_z": 0.0, "rho": 0.4}  # generator
        for k, v in truth.items():
            assert abs(r.params[k] - v) < 3 * r.std_errors[k], k


def test_sdm_re_is_sar_re_on_x_and_wx():
    """Reference: fit_sar_re on the design augmented by hand with W x (dense W within each year),
    1e-7 (sar_re's alternating phi iteration stops when phi moves by less than 1e-8, so the
    rounding of W x between sparse and dense products can move the estimates by ~1e-9); the impacts exist and their total equals (b + theta) / (1 - rho) for a
    row-standardised W (hand formula, 1e-10)."""
    g = _queen(6)
    df = _balanced_panel(g, durbin=True, seed=6, T=5)
    W = g.sparse.toarray()
    wide = df["x"].unstack(level=1).loc[list(g.unique_ids)]
    wx = pd.DataFrame(W @ wide.to_numpy(), index=wide.index, columns=wide.columns).stack()
    X = pd.DataFrame({"const": 1.0, "x": df["x"], "W_x": wx.reindex(df.index)}, index=df.index)
    ref = fit_sar_re(df["y"], X, g)
    r = fit("y ~ x", df, model="sdm_re", weights=g)
    assert r.model == "sdm_re" and list(r.params.index) == ["const", "x", "W_x", "rho"]
    np.testing.assert_allclose(r.params.to_numpy(), ref.params.to_numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(r.std_errors.to_numpy(), ref.std_errors.to_numpy(), rtol=0, atol=1e-7)
    imp = r.impacts(draws=0)
    p = r.params
    assert imp.loc[("x", "total"), "estimate"] == pytest.approx((p["x"] + p["W_x"]) / (1 - p["rho"]), abs=1e-10)


def test_durbin_impacts_sdm_fe_simulated_and_sdem_fe_exact():
    """sdm_fe: SpatialResults.impacts works (total = (b + theta) / (1 - rho), hand formula,
    1e-10; simulation standard error positive).  sdem_fe: direct = b, indirect = theta,
    total = b + theta with the delta-method standard error sqrt(var b + var theta + 2 cov)
    (hand calculation, 1e-12)."""
    g = _queen(8)
    df = _balanced_panel(g, durbin=True, seed=8)
    r = fit("y ~ x + z", df, model="sdm_fe", weights=g)
    imp = r.impacts(draws=200, seed=1)
    p = r.params
    assert imp.loc[("x", "total"), "estimate"] == pytest.approx((p["x"] + p["W_x"]) / (1 - p["rho"]), abs=1e-10)
    assert imp.loc[("x", "indirect"), "std_error"] > 0
    e = fit("y ~ x + z", df, model="sdem_fe", weights=g)
    ie = e.impacts()
    c = e.cov
    assert ie.loc[("x", "direct"), "estimate"] == pytest.approx(e.params["x"], abs=1e-12)
    assert ie.loc[("x", "indirect"), "estimate"] == pytest.approx(e.params["W_x"], abs=1e-12)
    se_total = np.sqrt(c.loc["x", "x"] + c.loc["W_x", "W_x"] + 2 * c.loc["x", "W_x"])
    assert ie.loc[("x", "total"), "std_error"] == pytest.approx(se_total, abs=1e-12)
    assert ie.loc[("z", "indirect"), "std_error"] == pytest.approx(e.std_errors["W_z"], abs=1e-12)
    assert ie.attrs["impacts_method"] == "analytic"


# --------------------------------------------------------------------------- bad input
def test_bad_balance_and_model_names():
    g = _queen(5)
    df = _balanced_panel(g, T=3)
    with pytest.raises(InputError, match=r"balance='keep' .*supported by .*'sar_fe'.*not by model='sar_re'"):
        fit("y ~ x", df, model="sar_re", weights=g, balance="keep")
    with pytest.raises(InputError, match=r"balance='keep' .*not by model='sdm_re'"):
        fit("y ~ x", df, model="sdm_re", weights=g, balance="keep")
    with pytest.raises(InputError, match=r"balance must be 'raise', 'drop' or 'keep', got 'maybe'"):
        fit("y ~ x", df, model="sar_fe", weights=g, balance="maybe")
    with pytest.raises(InputError, match=r"unknown model 'sdm_fee'"):
        fit("y ~ x", df, model="sdm_fee", weights=g)
    with pytest.raises(InputError, match=r"adds the spatial lags .*\['W_z'\]"):
        fit("y ~ x + W(z)", df, model="sdm_fe", weights=g)
    with pytest.raises(InputError, match=r"balance='keep' is for sar_fe"):
        fit_sar_re(df["y"], df[["x"]], g, balance="keep")
    with pytest.raises(InputError, match=r"model must be one of"):
        fit_durbin_panel(df["y"], df[["x"]], g, model="sdm")
    unbalanced = df.drop(index=(df.index[0][0], 2001))
    with pytest.raises(InputError, match=r"balanced panel: 1 unit\(s\) .*balance='drop'"):
        fit("y ~ x", unbalanced, model="sdm_fe", weights=g)


# --------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_keep_on_the_norway_panel(real_data_dir):
    """Real Statistics Norway panel (353 stable units, 2010-2016, 6-nearest-neighbour W;
    skipped without the data).  Balanced: balance='keep' equals the default estimator (1e-8).
    20 municipalities made to enter in 2012 (their 2010-2011 rows removed, as after a reform):
    the fit keeps every other row, says what it did, and moves the VRA coefficient by less
    than one standard error of the balanced fit (1.6 % of the rows removed)."""
    from geoattr.datasets import norway
    from geoattr.variables import build_design
    from geoattr.weights.geometry import knn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = norway.load(real_data_dir, units="stable")
    g = knn(d.polygons, 6).transform("r")
    des = build_design(d, ["vra"], constant=False, years=(2010, 2016), commuting_year=2017)
    df = des.X.assign(y=des.y)
    a = fit("y ~ vra", df, model="sar_fe", weights=g)
    b = fit("y ~ vra", df, model="sar_fe", weights=g, balance="keep")
    np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=0, atol=1e-8)
    entering = sorted(df.index.get_level_values(0).unique())[:20]
    late = df.drop(index=[(u, yr) for u in entering for yr in (2010, 2011)])
    with pytest.warns(WeightsSubsetWarning, match="lost neighbours"):
        c = fit("y ~ vra", late, model="sar_fe", weights=g, balance="keep")
    assert c.nobs == len(df) - 40
    assert any(f"{len(df) - 40} of 353 x 7 unit-years observed" in n for n in c.notes)
    assert -1 < c.params["rho"] < 1
    assert abs(c.params["vra"] - a.params["vra"]) < a.std_errors["vra"]


def test_durbin_balance_drop_equals_the_fit_on_the_balanced_subset():
    """balance='drop' for sdm_fe drops the incomplete unit (named in the notes) and then equals
    sdm_fe on the panel without it, with the weights aligned to the remaining units (1e-10)."""
    from geoattr.weights.geometry import align

    g = _queen(6)
    df = _balanced_panel(g, durbin=True, seed=9, T=4)
    gone = df.index[0][0]
    r = fit("y ~ x", df.drop(index=(gone, 2001)), model="sdm_fe", weights=g, balance="drop")
    rest = [u for u in g.unique_ids if u != gone]
    ref = fit("y ~ x", df.drop(index=gone, level=0), model="sdm_fe", weights=align(g, rest))
    np.testing.assert_allclose(r.params.to_numpy(), ref.params.to_numpy(), rtol=0, atol=1e-10)
    assert any("balance='drop': 1 unit(s) dropped" in n and gone in n for n in r.notes)


# --------------------------------------------------------------------------- sdm_re references
def test_sdm_re_equals_spreg_panel_re_lag_on_x_and_wx():
    """Reference: spreg 1.9's Panel_RE_Lag (Elhorst's ML random-effects lag panel) given
    [X, WX] (WX of the raw x within each year): coefficients and rho 1e-5 relative, standard
    errors 1e-4 relative (spreg's searches stop at ~1e-8); spreg reports sqrt(phi)."""
    g, w, df, wide, Xs = _durbin_reference_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spreg's own deprecation/runtime warnings
        ref = spreg.Panel_RE_Lag(wide["y"], Xs, w)
    r = fit("y ~ x + z", df, model="sdm_re", weights=g)
    assert list(r.params.index) == ["const", "x", "z", "W_x", "W_z", "rho"]
    np.testing.assert_allclose(r.params.to_numpy(), np.asarray(ref.betas).ravel()[:6], rtol=1e-5)
    np.testing.assert_allclose(r.std_errors.to_numpy(), np.sqrt(np.diag(ref.vm))[:6], rtol=1e-4)
    assert float(r.info["phi"]) == pytest.approx(float(np.asarray(ref.betas).ravel()[6]) ** 2, rel=1e-4)


@pytest.mark.parametrize("seed", [11, 12])
def test_sdm_re_recovers_the_truth_on_a_simulated_panel(seed):
    """Generator truth: y_t = (I - rho W)^-1 (mu + 0.8 x - 0.3 z + 0.5 W x + e), random unit
    effects mu ~ N(0, 2^2) independent of x and z, e ~ N(0, 0.5^2), rho = 0.4, 100 units x 6
    years: const, beta, theta and rho within 3 standard errors of the truth."""
    g = _queen(10)
    df = _balanced_panel(g, durbin=True, seed=seed)
    r = fit("y ~ x + z", df, model="sdm_re", weights=g)
    truth = pd.Series({"const": 0.0, "x": 0.8, "z": -0.3, "W_x": 0.5, "W_z": 0.0, "rho": 0.4})
    z = (r.params[truth.index] - truth) / r.std_errors[truth.index]
    assert (z.abs() < 3).all(), z
