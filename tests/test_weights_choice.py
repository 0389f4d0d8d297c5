"""Which weights (a convex combination W(gamma), issue 19 item 1) and the BLUP predictor (item 4).

References: the single-weights ML fit (geoattr.fit, itself pinned to spreg) at the corners
of the simplex; a simulation's known truth (gamma, rho) on a lattice; a dense computation
of the BLUP's covariance form on a small lattice (N = 100, dense N x N allowed there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

import geoattr
from geoattr import weights as gw
from geoattr.compare import compare
from geoattr.exceptions import InputError, IsolatesWarning
from geoattr.models.ml_mixture import stick_breaking
from tests.conftest import square_grid


def _ring(side: int, dist: int) -> Graph:
    """Cells at Chebyshev distance exactly ``dist`` (the second-order ring), row-standardised."""
    ids = [f"{i:03d}" for i in range(side * side)]
    r, c = np.divmod(np.arange(side * side), side)
    d = np.maximum(np.abs(r[:, None] - r[None, :]), np.abs(c[:, None] - c[None, :]))
    f, nb = np.nonzero(d == dist)
    return Graph.from_arrays(np.array(ids)[f], np.array(ids)[nb], np.ones(len(f))).transform("r")


def _lattice(side: int) -> tuple[Graph, Graph, np.ndarray, np.ndarray, list[str]]:
    """Rook contiguity and the distance-2 ring on a side x side lattice, with dense copies."""
    rook = Graph.build_contiguity(square_grid(side), rook=True).transform("r")
    ring = _ring(side, 2)
    ids = list(rook.unique_ids)
    dense = [pd.DataFrame(g.sparse.toarray(), index=g.unique_ids, columns=g.unique_ids).loc[ids, ids].to_numpy()
             for g in (rook, ring)]
    return rook, ring, dense[0], dense[1], ids


def _simulate(side: int, gamma: float, a: float, seed: int, model: str = "sar") -> tuple[pd.DataFrame, dict]:
    rook, ring, W1, W2, ids = _lattice(side)
    n = len(ids)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    W = gamma * W1 + (1 - gamma) * W2
    A = np.eye(n) - a * W  # dense data generation on a lattice of a few hundred cells
    mean = 1 + X @ [1.0, -0.5]
    e = rng.normal(size=n)
    y = np.linalg.solve(A, mean + e) if model == "sar" else mean + np.linalg.solve(A, e)
    df = pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1]}, index=pd.Index(ids, name="unit"))
    return df, {"rook": rook, "ring": ring}


@pytest.fixture(scope="module")
def small():
    return _simulate(12, 0.7, 0.5, seed=3)


# --------------------------------------------------------------------------- corners
@pytest.mark.parametrize("model", ["sar", "sem", "sdm"])
@pytest.mark.parametrize("corner", ["rook", "ring"])
def test_a_corner_equals_the_single_weights_fit(small, model, corner):
    """gamma fixed at a corner: the same loglik and estimates as geoattr.fit with that W, to 1e-6
    (the engine's rho search stops at 1e-10; the profile search here at 1e-11)."""
    df, ws = small
    single = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws[corner])
    mixed = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws,
                        gamma={k: float(k == corner) for k in ws})
    assert mixed.model == f"{model}_mix"
    assert mixed.loglik == pytest.approx(single.loglik, abs=1e-6)
    np.testing.assert_allclose(mixed.params[single.params.index], single.params, atol=1e-6)
    assert not any(p.startswith("gamma_") for p in mixed.params.index)


def test_stick_breaking_reaches_the_simplex():
    assert stick_breaking(np.array([0.3])).tolist() == pytest.approx([0.3, 0.7])
    g = stick_breaking(np.array([0.2, 0.5, 1.0]))
    assert g.sum() == pytest.approx(1.0, abs=1e-15) and g.tolist() == pytest.approx([0.2, 0.4, 0.4, 0.0])


# --------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def recovered():
    df, ws = _simulate(21, 0.7, 0.6, seed=2)  # N = 441
    return geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws), df, ws


def test_the_true_gamma_is_recovered_within_three_standard_errors(recovered):
    """Generator truth: gamma_rook = 0.7, gamma_ring = 0.3, rho = 0.6, b = (1, 1, -0.5)."""
    r, _, _ = recovered
    truth = pd.Series({"const": 1.0, "x1": 1.0, "x2": -0.5, "rho": 0.6, "gamma_rook": 0.7, "gamma_ring": 0.3})
    z = (r.params[truth.index] - truth) / r.std_errors[truth.index]
    assert (z.abs() < 3).all(), z
    assert r.params[["gamma_rook", "gamma_ring"]].sum() == pytest.approx(1.0, abs=1e-12)
    # delta method with two matrices: gamma_ring = 1 - gamma_rook has the same standard error
    assert r.std_errors["gamma_ring"] == pytest.approx(r.std_errors["gamma_rook"], rel=1e-12)
    assert r.cov.loc["gamma_rook", "gamma_ring"] == pytest.approx(-r.std_errors["gamma_rook"] ** 2, rel=1e-12)
    assert r.gamma.to_dict() == pytest.approx({"rook": r.params["gamma_rook"], "ring": r.params["gamma_ring"]})


def test_corner_tests_are_likelihood_ratios_against_the_single_fits(recovered):
    r, df, ws = recovered
    ct = r.corner_tests
    assert list(ct.columns) == ["loglik", "rho", "lr", "df", "p_value"]
    for k, g in ws.items():
        single = geoattr.fit("y ~ x1 + x2", df, model="sar", weights=g)
        assert ct.loc[k, "loglik"] == pytest.approx(single.loglik, abs=1e-6)
        assert ct.loc[k, "lr"] == pytest.approx(2 * (r.loglik - single.loglik), abs=1e-5)
    # both pure models are rejected on data generated from the 0.7 / 0.3 mixture
    assert (ct["p_value"] < 0.01).all()
    assert "LR test pure rook" in r.info


# --------------------------------------------------------------------------- bad input
def test_bad_mixture_input(small):
    df, ws = small
    other = Graph.build_contiguity(square_grid(11), rook=True).transform("r")
    with pytest.raises(InputError, match=r"the ids of weights\['queen'\] differ .*23 unit\(s\) of the data are not in"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights={"rook": ws["rook"], "queen": other})
    panel = df.assign(year=2020).set_index("year", append=True)
    with pytest.raises(InputError, match=r"'rook' and 'queen' cover different units: 'queen' .* lacks 23"):
        geoattr.fit("y ~ x1 + x2", panel, model="sar", weights={"rook": ws["rook"], "queen": other})
    # sdem and sac joined the mixtures (issue 19 follow-up); slx (no ML) still takes one graph
    with pytest.raises(InputError, match=r"works with model in \['sar', 'sem', 'sdm', 'sdem', 'sac'\], not 'slx'"):
        geoattr.fit("y ~ x1 + x2", df, model="slx", weights=ws)
    with pytest.raises(InputError, match=r"at least two matrices.*\['rook'\]"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights={"rook": ws["rook"]})
    with pytest.raises(InputError, match=r"gamma= must be on the simplex"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws, gamma={"rook": 0.8, "ring": 0.3})
    with pytest.raises(InputError, match=r"gamma= must give a value for every weights matrix"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws, gamma={"rook": 1.0})
    with pytest.raises(InputError, match=r"gamma= fixes the weights of a convex combination"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws["rook"], gamma={"rook": 1.0})
    with pytest.raises(InputError, match=r"the term W\(x2\) needs weights= \(one graph; with a mapping of weights"):
        geoattr.fit("y ~ x1 + W(x2)", df, model="sar", weights=ws)
    binary = Graph.build_contiguity(square_grid(12), rook=True)
    with pytest.raises(InputError, match=r"\['bin'\] are not row-standardised"):
        geoattr.fit("y ~ x1 + x2", df, model="sar", weights={"rook": ws["rook"], "bin": binary})


# --------------------------------------------------------------------------- BLUP
def _dense_blup(y_s, trend, W, a, held):
    """Covariance form, dense (N = 100): trend_o + S_os S_ss^-1 (y_s - trend_s), S = [(I-aW)'(I-aW)]^-1."""
    A = np.eye(len(trend)) - a * W
    S = np.linalg.inv(A.T @ A)
    o, s = held, ~held
    return trend[o] + S[np.ix_(o, s)] @ np.linalg.solve(S[np.ix_(s, s)], y_s - trend[s])


@pytest.mark.parametrize("model", ["sar", "sem", "sdm"])
def test_blup_equals_the_dense_covariance_form(model):
    df, ws = _simulate(10, 1.0, 0.5, seed=5, model="sem" if model == "sem" else "sar")
    g = ws["rook"]
    res = geoattr.fit("y ~ x1 + x2", df, model=model, weights=g)
    rng = np.random.default_rng(0)
    held = rng.random(len(df)) < 0.3
    y_obs = df["y"][~held]
    pred = res.predict(df[["x1", "x2"]].assign(const=1.0), weights=g, y=y_obs)
    assert list(pred.index) == list(df.index[held])
    W = pd.DataFrame(g.sparse.toarray(), index=g.unique_ids, columns=g.unique_ids).loc[df.index, df.index].to_numpy()
    p = res.params
    X = np.column_stack([np.ones(len(df)), df["x1"], df["x2"]])
    mean = X @ p[["const", "x1", "x2"]].to_numpy()
    if model == "sdm":
        mean += (W @ df[["x1", "x2"]].to_numpy()) @ p[["W_x1", "W_x2"]].to_numpy()
    a = p["lambda"] if model == "sem" else p["rho"]
    trend = mean if model == "sem" else np.linalg.solve(np.eye(len(df)) - a * W, mean)
    expected = _dense_blup(y_obs.to_numpy(), trend, W, a, held)
    np.testing.assert_allclose(pred.to_numpy(), expected, rtol=0, atol=1e-10)
    tr = res.predict(df[["x1", "x2"]].assign(const=1.0), weights=g, y=y_obs, predictor="trend")
    np.testing.assert_allclose(tr.to_numpy(), trend[held], rtol=0, atol=1e-10)


def test_blup_beats_the_trend_on_held_out_units():
    """Simulated SAR (N = 400, rho = 0.6): a quarter of the units held out, the model fitted on the
    rest (weights subset and renormalised); the BLUP's RMSE is below the trend's."""
    df, ws = _simulate(20, 1.0, 0.6, seed=11)
    g = ws["rook"]
    held = np.random.default_rng(1).random(len(df)) < 0.25
    obs_ids = df.index[~held]
    res = geoattr.fit("y ~ x1 + x2", df.loc[obs_ids], model="sar", weights=gw.align(g, obs_ids))
    X = df[["x1", "x2"]].assign(const=1.0)
    truth = df["y"][held]
    rmse = {p: float(np.sqrt(((res.predict(X, weights=g, y=df["y"][~held], predictor=p) - truth) ** 2).mean()))
            for p in ("blup", "trend")}
    assert rmse["blup"] < 0.95 * rmse["trend"], rmse


def test_blup_of_a_held_out_year_is_its_trend():
    """W links units within a year: Q is block-diagonal, so a whole held-out year gets its trend."""
    frames = []
    for t, seed in ((2020, 1), (2021, 2), (2022, 3)):
        df, ws = _simulate(8, 1.0, 0.5, seed=seed)
        frames.append(df.assign(year=t).set_index("year", append=True))
    panel = pd.concat(frames)
    g = ws["rook"]
    res = geoattr.fit("y ~ x1 + x2", panel, model="sar", weights=g)
    X = panel[["x1", "x2"]].assign(const=1.0)
    y_obs = panel["y"][panel.index.get_level_values("year") < 2022]
    blup = res.predict(X, weights=g, y=y_obs)
    trend = res.predict(X, weights=g, y=y_obs, predictor="trend")
    assert set(blup.index.get_level_values("year")) == {2022}
    np.testing.assert_allclose(blup.to_numpy(), trend.to_numpy(), rtol=0, atol=1e-12)


def test_bad_prediction_input(small):
    df, ws = small
    res = geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws["rook"])
    X = df[["x1", "x2"]].assign(const=1.0)
    with pytest.raises(InputError, match=r"unknown predictor 'kriging'; choose one of \['blup', 'trend'\]"):
        res.predict(X, weights=ws["rook"], predictor="kriging")
    with pytest.raises(InputError, match=r"X lacks the term\(s\) \['x2'\]"):
        res.predict(X.drop(columns="x2"), weights=ws["rook"])
    with pytest.raises(InputError, match=r"needs weights="):
        res.predict(X.iloc[:10])
    with pytest.raises(InputError, match=r"y has 1 row\(s\) that X lacks"):
        res.predict(X.iloc[1:], weights=ws["rook"], y=df["y"].iloc[:5])
    panel = pd.concat([df.assign(year=t).set_index("year", append=True) for t in (2020, 2021)])
    rng = np.random.default_rng(0)
    panel[["y", "x1", "x2"]] += rng.normal(size=(len(panel), 3))
    fe = geoattr.fit("y ~ x1 + x2", panel, model="sar_fe", weights=ws["rook"])
    with pytest.raises(InputError, match=r"model 'sar_fe' has unit effects that are not"):
        fe.predict(panel[["x1", "x2"]], weights=ws["rook"])
    mixed = geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws)
    with pytest.raises(InputError, match=r"weights= must have the keys the model was fitted with"):
        mixed.predict(X, weights={"rook": ws["rook"]})
    # the mixture's predictor uses W(gamma) from the same mapping
    full = mixed.predict(X, weights=ws, y=df["y"].iloc[5:])
    assert len(full) == 5 and full.notna().all()


# --------------------------------------------------------------------------- compare
@pytest.mark.slow
def test_compare_has_a_mixture_column(synthetic_data):
    data = synthetic_data
    with pytest.warns(IsolatesWarning):
        queen = gw.row_standardise(gw.contiguity(data.polygons))
    ws = {"commuting": gw.without_diagonal(gw.commuting(data.flows, year=2023, ids=data.units)), "queen": queen}
    c = compare(data, weights=ws, models=["sar", "sar_mix"], years=(2020, 2023))
    t = c.table
    assert list(t.columns) == ["sar|commuting", "sar|queen", "sar_mix"]
    assert c.errors == {}
    g = t.loc[["gamma_commuting", "gamma_queen"], "sar_mix"]
    assert g.sum() == pytest.approx(1.0, abs=1e-12) and (g >= 0).all()
    assert t.loc["loglik", "sar_mix"] >= t.loc["loglik", ["sar|commuting", "sar|queen"]].max() - 1e-6
    assert np.isfinite(t.loc["rmse_holdout", "sar_mix"])


def test_mixture_impacts_are_those_at_the_estimated_w(recovered):
    """gamma treated as known: the impacts equal geoattr.models.impacts.impacts on the betas and rho
    with W(gamma_hat) (same seed, so the same draws; exact up to rounding, 1e-10)."""
    from geoattr.models.impacts import impacts

    r, _, ws = recovered
    imp = r.impacts(draws=200, seed=4, inference="gamma_known")
    keep = ["const", "x1", "x2", "rho"]
    ids = list(r.y.index)
    Wg = sum(r.gamma[k] * pd.DataFrame(g.sparse.toarray(), index=g.unique_ids, columns=g.unique_ids).loc[ids, ids]
             .to_numpy() for k, g in ws.items())
    ref = impacts(r.params[keep], r.cov.loc[keep, keep], Wg, draws=200, seed=4)
    assert "gamma_rook" not in imp.index.get_level_values(0)
    np.testing.assert_allclose(imp.to_numpy(dtype=float), ref.to_numpy(dtype=float), rtol=1e-8, atol=1e-10)
    assert "gamma treated as known" in imp.attrs["notes"][-1]


@pytest.mark.parametrize("model", ["sar", "sem"])
def test_hessian_standard_errors_agree_with_the_information_matrix(model):
    """At a corner, on data generated from that W (N = 441), the numerical-Hessian (observed
    information) standard errors are within 5 % of the single fit's analytic (expected information,
    pinned to spreg) ones; the two differ by O(n^-1/2) (observed 0-4 % with this seed)."""
    df, ws = _simulate(21, 1.0, 0.5, seed=1, model=model)
    single = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws["rook"])
    mixed = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws, gamma={"rook": 1.0, "ring": 0.0})
    ratio = mixed.std_errors[single.params.index] / single.std_errors
    assert ((ratio - 1).abs() < 0.05).all(), ratio


def test_a_corner_equals_the_single_weights_fit_on_a_pooled_panel():
    """Two years stacked (W within each year): the corner equals the pooled single-W fit, to 1e-6."""
    frames, ws = [], None
    for t, seed in ((2020, 7), (2021, 8)):
        df, ws = _simulate(10, 0.7, 0.4, seed=seed)
        frames.append(df.assign(year=t).set_index("year", append=True))
    panel = pd.concat(frames)
    single = geoattr.fit("y ~ x1 + x2", panel, model="sar", weights=ws["ring"])
    mixed = geoattr.fit("y ~ x1 + x2", panel, model="sar", weights=ws, gamma={"rook": 0.0, "ring": 1.0})
    assert mixed.loglik == pytest.approx(single.loglik, abs=1e-6)
    np.testing.assert_allclose(mixed.params[single.params.index], single.params, atol=1e-6)
    free = geoattr.fit("y ~ x1 + x2", panel, model="sar", weights=ws)
    assert free.loglik >= max(free.corner_tests["loglik"]) - 1e-9
