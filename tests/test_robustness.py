"""The robustness battery (issue 6): bootstrap, leave-one-out, weights, estimators, placebo.

Pins: the fast least squares equals ``estimate`` (linearmodels' PooledOLS) to 1e-10; every
re-estimated variant equals the library estimator run with the same option; the placebo's
fast path equals rebuilding the design from permuted flows.  Statistical checks: a Monte
Carlo of percentile-interval coverage on a purpose-built clustered DGP, the wild
bootstrap's variance against linearmodels' CRV1 covariance, and the placebo on the
synthetic data (whose generator has a real commuting effect, ``truth.coefficients``).
"""

from __future__ import annotations

import warnings

import json
import math

import numpy as np
import pandas as pd
import pytest

from geoattr import weights as gw
from geoattr.attractiveness import attractiveness, cumulate, rankings
from geoattr.data import PanelData
from geoattr.datasets.synthetic import TRUE_COEFFICIENTS
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.models.least_squares import least_squares
from geoattr.models.ols import LeastSquares, estimate
from geoattr.robustness import (
    CONFIG_KEYS,
    RobustnessResults,
    VariantFit,
    cluster_bootstrap,
    contiguity_flows,
    permuted_flows,
    robustness,
    run_robustness_from_config,
)
from geoattr.robustness.bootstrap import cluster_problem
from geoattr.variables import Design, build_design

N_BOOT, N_PLACEBO = 199, 99


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def region_fit(synthetic_data):
    return estimate(synthetic_data, "2022", unit_level="region")


@pytest.fixture(scope="module")
def muni_fit(synthetic_data):
    return estimate(synthetic_data, "2022", unit_level="municipality")


@pytest.fixture(scope="module")
def snapshot(synthetic_data, region_fit):
    """What the inputs look like before the battery runs (they must not change)."""
    return {"cache": set(synthetic_data._cache), "params": region_fit.results.params.copy(),
            "flows": synthetic_data.flows.copy(), "panel": synthetic_data.panel.copy(),
            "design_X": region_fit.design.X.copy()}


@pytest.fixture(scope="module")
def full(region_fit, snapshot):
    """Every family on the region model, on two worker processes."""
    res = robustness(region_fit, reps=N_BOOT, placebo_reps=N_PLACEBO, n_jobs=2, progress=False, seed=7)
    snapshot["cache_after"] = set(region_fit.unit_data._cache)
    return res


def _row(res: RobustnessResults, variant: str) -> pd.DataFrame:
    c = res.coefficients
    return c[c["variant"] == variant].set_index("term")


# --------------------------------------------------------------------------- pins to the library
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("unit_level", ["region", "municipality"])
def test_fast_ols_equals_estimate(synthetic_data, unit_level, weighted):
    """The bootstrap's least squares reproduces estimate() (linearmodels PooledOLS): 1e-10."""
    fit = estimate(synthetic_data, "2022", unit_level=unit_level, obs_weights="population" if weighted else None)
    d, r = fit.design, fit.results
    w = d.population.to_numpy(float) if weighted else None
    f = least_squares(d.X.to_numpy(float), d.y.to_numpy(float), obs_weights=w,
             groups=d.y.index.get_level_values("unit").to_numpy(), cov_type="clustered")
    np.testing.assert_allclose(f.params, r.params.to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(f.cov, r.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    assert f.r2 == pytest.approx(r.rsquared, abs=1e-10)
    assert f.loglik == pytest.approx(r.loglik, abs=1e-8)
    p = cluster_problem(d.X.to_numpy(float), d.y.to_numpy(float), d.y.index.get_level_values("unit").to_numpy(), w)
    np.testing.assert_allclose(p.b, r.params.to_numpy(), rtol=0, atol=1e-10)
    # the normal equations the pairs bootstrap solves give the same full-sample estimate
    full_sample = np.linalg.solve(p.XtX_g.sum(axis=0), p.Xty_g.sum(axis=0))
    np.testing.assert_allclose(full_sample, r.params.to_numpy(), rtol=0, atol=1e-9)


def test_baseline_rows_and_attractiveness(full, region_fit):
    base = _row(full, "baseline")
    r = region_fit.results
    ci = r.conf_int(0.95)
    for t in r.params.index:
        assert base.loc[t, "estimate"] == pytest.approx(r.params[t], abs=1e-12)
        assert base.loc[t, "lower"] == pytest.approx(ci.loc[t, "lower"], abs=1e-10)
        assert base.loc[t, "upper"] == pytest.approx(ci.loc[t, "upper"], abs=1e-10)
    s = ["vra", "vra_l1", "vra_l2"]
    assert base.loc["vra_sum", "estimate"] == pytest.approx(r.params[s].sum(), abs=1e-12)
    assert base.loc["vra_sum", "std_error"] == pytest.approx(math.sqrt(r.cov.loc[s, s].to_numpy().sum()), abs=1e-12)
    cum = cumulate(attractiveness(region_fit))
    ri = full.rank_intervals
    np.testing.assert_allclose(ri["residual"].to_numpy(), cum["residual"].reindex(ri.index).to_numpy(), atol=1e-10)
    top = rankings(cum, n=5)
    top = top[top["list"] == "top"]
    assert ri.sort_values("rank").index[:5].tolist() == top["unit"].tolist()
    assert (ri["rank"].sort_values().to_numpy() == np.arange(1, len(ri) + 1)).all()


def test_loyo_equals_least_squares_without_the_year(full, region_fit):
    d = region_fit.design
    keep = d.y.index.get_level_values("year") != 2010
    sub = Design(y=d.y[keep], X=d.X[keep], population=d.population[keep], spec=d.spec, unit_level=d.unit_level,
                 years=d.years)
    r = LeastSquares(sub).fit(cov_type="clustered")
    row = _row(full, "loyo:2010")
    ci = r.conf_int(0.95)
    np.testing.assert_allclose(row.loc[r.params.index, "estimate"], r.params, atol=1e-10)
    np.testing.assert_allclose(row.loc[r.params.index, "lower"], ci["lower"], atol=1e-10)
    assert row["n"].iloc[0] == r.nobs
    assert sorted(v for v in full.rank_stability["variant"] if v.startswith("loyo:")) == \
        [f"loyo:{t}" for t in range(2003, 2024)]
    assert full.rank_stability["variant"].str.startswith("loro:").sum() == 73


def test_loro_drops_the_region(full, region_fit):
    d = region_fit.design
    keep = d.y.index.get_level_values("unit") != "R05"
    r = LeastSquares(Design(y=d.y[keep], X=d.X[keep], population=d.population[keep], spec=d.spec, unit_level=d.unit_level,
                            years=d.years)).fit()
    np.testing.assert_allclose(_row(full, "loro:R05").loc[r.params.index, "estimate"], r.params, atol=1e-10)


@pytest.mark.parametrize("variant, options", [
    ("min_share=0.05", {"min_share": 0.05}),
    ("top_k=5", {"top_k": 5}),
    ("commuting_year=2023", {"commuting_year": 2023}),
    ("year_effects", {"year_effects": True}),
    ("wls", {"obs_weights": "population"}),
    ("no_diagonal", {"include_diagonal": False}),
])
def test_variants_equal_the_library_estimate(full, synthetic_data, variant, options):
    """Each variant is estimate() with that one option changed (coefficients and intervals)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoattrWarning)  # without the diagonal: units with no commuters out
        ref = estimate(synthetic_data, "2022", unit_level="region", **options).results
    row = _row(full, variant)
    ci = ref.conf_int(0.95)
    np.testing.assert_allclose(row.loc[ref.params.index, "estimate"], ref.params, atol=1e-10)
    np.testing.assert_allclose(row.loc[ref.params.index, "upper"], ci["upper"], atol=1e-9)
    stab = full.rank_stability.set_index("variant").loc[variant]
    assert stab["r2"] == pytest.approx(ref.rsquared, abs=1e-10)
    assert stab["loglik"] == pytest.approx(ref.loglik, abs=1e-8)


def test_other_level_and_estimators(full, muni_fit):
    row = _row(full, "municipality_level")
    np.testing.assert_allclose(row.loc[muni_fit.results.params.index, "estimate"], muni_fit.results.params,
                               atol=1e-10)
    fe = _row(full, "fe")
    assert set(fe.index) >= {"const", "vra", "centrality", "ds"}
    sar = _row(full, "sar")
    assert "rho" in sar.index
    kinds = full.rank_stability.set_index("variant")["kind"]
    assert {kinds[v] for v in ("year_effects", "wls", "municipality_level", "fe", "sar")} == {"estimators"}
    # the commuting-weighted growth effects survive every estimator: vra_sum stays within 0.1 of the truth (0.5)
    c = full.coefficients
    est = c[(c["kind"] == "estimators") & (c["term"] == "vra_sum")]
    assert len(est) == 5
    truth = TRUE_COEFFICIENTS["vra"] + TRUE_COEFFICIENTS["vra_l1"] + TRUE_COEFFICIENTS["vra_l2"]
    assert (est["estimate"] - truth).abs().max() < 0.1


def test_contiguity_flows(synthetic_data):
    f = contiguity_flows(synthetic_data)
    orig = synthetic_data.flows
    y = 2015
    a, b = f[f["year"] == y], orig[orig["year"] == y]
    tot_a, tot_b = a.groupby("origin")["count"].sum(), b.groupby("origin")["count"].sum()
    np.testing.assert_allclose(tot_a.reindex(tot_b.index), tot_b, rtol=1e-12)
    diag = lambda t: t[t["origin"] == t["destination"]].set_index("origin")["count"]  # noqa: E731
    islands = synthetic_data.polygons.index[synthetic_data.polygons["is_island"]]
    mainland = [u for u in tot_b.index if u not in set(islands)]
    np.testing.assert_allclose((diag(a) / tot_a).reindex(mainland), (diag(b) / tot_b).reindex(mainland), rtol=1e-12)
    np.testing.assert_allclose((diag(a) / tot_a).reindex(islands), 1.0)  # islands: no contiguous neighbour
    off = a[a["origin"] != a["destination"]]
    assert off.groupby("origin")["count"].nunique().max() == 1  # equal shares over the neighbours
    assert synthetic_data.flows.equals(orig)


def _contiguity_flows_year_by_year(data):
    """The construction of contiguity_flows one year at a time (its implementation before issue 20's
    demo work): the reference of the vectorised version."""
    units = data.units
    g = gw.contiguity(data.polygons.loc[units], ids=units)
    adj = g.adjacency
    f_ids, n_ids = adj.index.get_level_values("focal"), adj.index.get_level_values("neighbor")
    keep = (f_ids != n_ids) & (adj.to_numpy() > 0)
    nb = pd.DataFrame({"origin": np.asarray(f_ids[keep], dtype=object),
                       "destination": np.asarray(n_ids[keep], dtype=object)})
    n_nb = nb.groupby("origin").size()
    parts = []
    for year, fl in data.flows.groupby("year", sort=True):
        tot = fl.groupby("origin")["count"].sum()
        tot = tot[tot > 0]
        diag = fl.loc[fl["origin"] == fl["destination"]].groupby("origin")["count"].sum().reindex(tot.index)
        d = (diag.fillna(0.0) / tot).where(tot.index.isin(n_nb.index), 1.0)
        own = pd.DataFrame({"origin": tot.index, "destination": tot.index, "count": (d * tot).to_numpy()})
        e = nb[nb["origin"].isin(tot.index)].copy()
        e["count"] = ((1 - d) * tot / n_nb.reindex(tot.index)).reindex(e["origin"]).to_numpy()
        part = pd.concat([own, e], ignore_index=True)
        parts.append(part[part["count"] > 0].assign(year=int(year)))
    out = pd.concat(parts, ignore_index=True)[["year", "origin", "destination", "count"]]
    return out.sort_values(["year", "origin", "destination"]).reset_index(drop=True)


@pytest.mark.filterwarnings("ignore::geoattr.exceptions.GeoattrWarning")
def test_contiguity_flows_equal_the_year_by_year_construction(synthetic_data):
    """Every year at once gives the year-by-year numbers bit for bit (islands and all)."""
    pd.testing.assert_frame_equal(contiguity_flows(synthetic_data), _contiguity_flows_year_by_year(synthetic_data),
                                  check_exact=True)


# --------------------------------------------------------------------------- placebo
def test_placebo_fast_path_equals_rebuilt_design(muni_fit, synthetic_data):
    """Replication 0's placebo coefficients = least squares on the design rebuilt from permuted flows."""
    res = robustness(muni_fit, variants=["placebo"], placebo_reps=19, n_jobs=1, progress=False, seed=3)
    units = muni_fit.unit_design.y.index.get_level_values("unit").unique()
    perm = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(3, 0))).permutation(len(units))
    data = PanelData(synthetic_data.panel, flows=permuted_flows(synthetic_data.flows, units, perm),
                     centrality=synthetic_data.centrality, population_by_age=synthetic_data.population_by_age,
                     employment_rates=synthetic_data.employment_rates,
                     death_probabilities=synthetic_data.death_probabilities)
    d = build_design(data, "2022", years=muni_fit.unit_design.years)
    ref = LeastSquares(d).fit()
    got = res.placebo_draws.iloc[0]
    np.testing.assert_allclose(got[ref.params.index].to_numpy(float), ref.params.to_numpy(), atol=1e-10)
    assert got["r2"] == pytest.approx(ref.rsquared, abs=1e-10)
    assert "placebo: the estimation-level commuting matrix's rows permuted" in "\n".join(res.notes)


def test_placebo_on_synthetic_truth(muni_fit):
    """The generator has a real commuting effect (vra 0.25, vra_l1 0.15, vra_l2 0.10).

    Permuted commuting patterns carry no information about a unit's own labour market, so
    the placebo VRA coefficients are near 0: the permutation keeps each year's
    cross-sectional mean of VRA, so a small common-year component survives (about 0.006);
    we require |mean| < 0.02, under a tenth of the true vra coefficient.  The true
    specification lies outside the placebo distribution: its R² and VRA coefficients exceed
    every permutation's (p = 1/(R+1) one-sided for R², 2/(R+1) two-sided for coefficients).
    """
    R = 199
    res = robustness(muni_fit, variants=["placebo"], placebo_reps=R, n_jobs=1, progress=False, seed=11)
    p = res.placebo
    assert p.loc["vra", "n"] == R
    for t in ("vra", "vra_l1", "vra_l2"):
        assert abs(p.loc[t, "placebo_mean"]) < 0.02
        assert p.loc[t, "upper"] < TRUE_COEFFICIENTS[t] / 2
        assert p.loc[t, "p_value"] == pytest.approx(2 / (R + 1))
        assert p.loc[t, "percentile"] == 100.0
    assert p.loc["r2", "p_value"] == pytest.approx(1 / (R + 1))
    assert p.loc["r2", "placebo_mean"] < 0.1 < 0.9 < p.loc["r2", "observed"]
    assert p.loc["vra_sum", "observed"] == pytest.approx(muni_fit.results.params[["vra", "vra_l1", "vra_l2"]].sum())


# --------------------------------------------------------------------------- bootstrap statistics
def _clustered_dgp(rng: np.random.Generator, G: int, T: int, beta: np.ndarray):
    """y = b0 + b1 x1 + b2 x2 + u_g + e: cluster effects, a cluster-level regressor, heteroskedastic e."""
    g = np.repeat(np.arange(G), T)
    x1 = 0.7 * rng.normal(size=G)[g] + rng.normal(size=G * T)
    x2 = rng.normal(size=G)[g]
    u = 0.8 * rng.normal(size=G)[g]
    e = rng.normal(size=G * T) * (0.5 + 0.5 * np.abs(x1))
    X = np.column_stack([np.ones(G * T), x1, x2])
    return X, X @ beta + u + e, g


def test_bootstrap_interval_coverage_monte_carlo():
    """90 % percentile intervals cover the true coefficients at close to 90 %.

    300 datasets of G = 100 clusters x T = 5 from a DGP with cluster effects (seed
    20240601), 199 replications each, pairs and wild (Rademacher).  One coefficient's
    coverage has binomial sd sqrt(.9 * .1 / 300) = 0.017; percentile intervals also
    under-cover by 1-2 points with ~100 clusters (Cameron, Gelbach and Miller 2008;
    MacKinnon and Webb 2017), so each coverage must lie in [0.84, 0.94] (-3.5 / +2.3 sd)
    and the mean over the three coefficients in [0.86, 0.93].  A broken bootstrap (wrong
    scale, resampling rows instead of clusters) gives 0.6-0.8 here.
    """
    beta = np.array([0.3, 0.5, -0.4])
    rng = np.random.default_rng(20240601)
    M = 300
    covered = {"pairs": np.zeros(3), "wild": np.zeros(3)}
    for m in range(M):
        X, y, g = _clustered_dgp(rng, 100, 5, beta)
        for method in covered:
            B = cluster_bootstrap(X, y, g, method=method, reps=199, seed=m).to_numpy()
            lo, hi = np.quantile(B, [0.05, 0.95], axis=0)
            covered[method] += (lo <= beta) & (beta <= hi)
    for method, c in covered.items():
        rate = c / M
        assert ((rate >= 0.84) & (rate <= 0.94)).all(), (method, rate)
        assert 0.86 <= rate.mean() <= 0.93, (method, rate)


def test_wild_bootstrap_variance_is_crv1():
    """With Rademacher weights the wild draws' covariance is the CRV1 covariance.

    Reference: linearmodels PooledOLS, clustered by entity with ``group_debias=True``
    (G/(G-1) (n-1)/(n-k)).  20,000 replications: the variance estimate's relative sd is
    sqrt(2/20000) = 1 %; tolerance 5 %.
    """
    from linearmodels.panel import PooledOLS

    X, y, g = _clustered_dgp(np.random.default_rng(5), 60, 4, np.array([0.3, 0.5, -0.4]))
    idx = pd.MultiIndex.from_arrays([g, np.tile(np.arange(4), 60)], names=["unit", "year"])
    ref = PooledOLS(pd.Series(y, index=idx), pd.DataFrame(X, index=idx, columns=["c", "x1", "x2"])).fit(
        cov_type="clustered", cluster_entity=True, group_debias=True)
    B = cluster_bootstrap(pd.DataFrame(X, columns=["c", "x1", "x2"]), y, g, method="wild", reps=20_000, seed=1)
    np.testing.assert_allclose(B.mean(), ref.params, atol=4 * ref.std_errors.max() / math.sqrt(20_000))
    np.testing.assert_allclose(B.var().to_numpy(), np.diag(ref.cov), rtol=0.05)
    webb = cluster_bootstrap(X, y, g, method="wild", wild_weights="webb", reps=20_000, seed=1)
    np.testing.assert_allclose(webb.var().to_numpy(), np.diag(ref.cov), rtol=0.05)


def test_bootstrap_replications_do_not_depend_on_the_batch():
    X, y, g = _clustered_dgp(np.random.default_rng(0), 30, 4, np.array([0.3, 0.5, -0.4]))
    for method in ("pairs", "wild"):
        a = cluster_bootstrap(X, y, g, method=method, reps=50, seed=9)
        b = cluster_bootstrap(X, y, g, method=method, reps=120, seed=9)
        pd.testing.assert_frame_equal(a, b.iloc[:50], check_exact=True)
        c = cluster_bootstrap(X, y, g, method=method, reps=50, seed=10)
        assert not np.allclose(a.to_numpy(), c.to_numpy())
    assert list(cluster_bootstrap(pd.DataFrame(X, columns=["const", "a", "b"]), y, g, reps=5).columns) == \
        ["const", "a", "b"]


def test_bootstrap_rows_and_rank_intervals(full, region_fit):
    c = full.coefficients
    for m in ("pairs", "wild"):
        rows = c[(c["kind"] == "bootstrap") & (c["variant"] == m)].set_index("term")
        draws = full.bootstrap_draws[m]
        assert len(draws) == N_BOOT and rows["n"].iloc[0] == N_BOOT
        np.testing.assert_allclose(rows.loc["vra", "lower"], draws["vra"].quantile(0.025))
        np.testing.assert_allclose(rows.loc["vra", "estimate"], region_fit.results.params["vra"])
        # the bootstrap standard error is close to the clustered one (within 25 %: 199 replications
        # give the sd a relative sd of 5 %; the wild draws use CRV1 = 1.015 x linearmodels' scale)
        se = region_fit.results.std_errors
        np.testing.assert_allclose(rows.loc[se.index, "std_error"], se, rtol=0.25)
    ri = full.rank_intervals
    assert list(ri.columns) == ["name", "residual", "rank", "lower", "median", "upper", "p_top", "p_bottom"]
    assert ri.index.name == "unit" and len(ri) == 356
    assert ((ri["lower"] <= ri["median"]) & (ri["median"] <= ri["upper"])).all()
    assert ri["p_top"].between(0, 1).all() and ri["p_top"].sum() == pytest.approx(20, abs=1e-9)
    best = ri.sort_values("rank").iloc[0]
    assert best["upper"] <= 20 and best["p_top"] > 0.9  # the clear winner stays on top
    rs = full.rank_stability.set_index("variant")
    assert rs.loc["baseline", "spearman"] == 1.0
    assert rs.loc["pairs", "spearman"] > 0.95 and rs.loc["pairs", "n"] == N_BOOT
    assert rs["spearman"].between(-1, 1).all() and rs["top_kept"].between(0, 1).all()


def test_resample_years_widens_rank_intervals(region_fit):
    kw = dict(variants=["bootstrap"], bootstrap=["pairs"], reps=99, n_jobs=1, progress=False)
    a = robustness(region_fit, **kw).rank_intervals
    b = robustness(region_fit, resample_years=True, **kw).rank_intervals
    assert (b["upper"] - b["lower"]).median() > (a["upper"] - a["lower"]).median()


def test_rank_by_persons(region_fit):
    res = robustness(region_fit, variants=["bootstrap"], bootstrap=["wild"], reps=39, n_jobs=1, progress=False,
                     rank_by="residual_persons", top_n=10)
    cum = cumulate(attractiveness(region_fit))
    np.testing.assert_allclose(res.rank_intervals["residual"], cum["residual_persons"].reindex(res.rank_intervals.index),
                               atol=1e-8)
    assert res.settings["rank_bootstrap"] == "wild" and res.settings["top_n"] == 10


# --------------------------------------------------------------------------- parallel and reproducible
def test_identical_results_whatever_the_workers(region_fit):
    kw = dict(variants=["bootstrap", "placebo", "loyo", "estimators"], estimators=["fe", "weighted"], reps=99,
              placebo_reps=19, seed=5, progress=False)
    a = robustness(region_fit, n_jobs=1, **kw)
    b = robustness(region_fit, n_jobs=2, **kw)
    for x, y in ((a.coefficients, b.coefficients), (a.rank_stability, b.rank_stability),
                 (a.rank_intervals, b.rank_intervals), (a.placebo, b.placebo),
                 (a.bootstrap_draws["pairs"], b.bootstrap_draws["pairs"])):
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert a.settings["backend"] == "serial" and b.settings["backend"] == "processes (2)"
    c = robustness(region_fit, n_jobs=1, **{**kw, "seed": 6})
    assert not c.bootstrap_draws["pairs"].equals(a.bootstrap_draws["pairs"])


@pytest.mark.parametrize("processes", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_dask_cluster_gives_the_serial_results(region_fit, processes):
    distributed = pytest.importorskip("distributed")
    kw = dict(variants=["bootstrap", "placebo", "loyo"], reps=99, placebo_reps=19, seed=5, progress=False)
    serial = robustness(region_fit, n_jobs=1, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = robustness(region_fit, client=client, **kw)
    pd.testing.assert_frame_equal(serial.coefficients, res.coefficients, check_exact=True)
    pd.testing.assert_frame_equal(serial.rank_intervals, res.rank_intervals, check_exact=True)
    pd.testing.assert_frame_equal(serial.placebo_draws, res.placebo_draws, check_exact=True)
    assert res.settings["backend"] == "dask"


def test_inputs_are_not_modified(full, synthetic_data, region_fit, snapshot):
    assert region_fit.unit_data is synthetic_data
    assert snapshot["cache_after"] == snapshot["cache"]
    pd.testing.assert_series_equal(region_fit.results.params, snapshot["params"])
    pd.testing.assert_frame_equal(synthetic_data.flows, snapshot["flows"])
    pd.testing.assert_frame_equal(synthetic_data.panel, snapshot["panel"])
    pd.testing.assert_frame_equal(region_fit.design.X, snapshot["design_X"])


# --------------------------------------------------------------------------- outputs
def test_tables_files_and_figures(full, tmp_path):
    c = full.coefficients
    assert list(c.columns) == ["kind", "variant", "term", "estimate", "std_error", "lower", "upper", "n"]
    assert set(c["kind"]) == {"baseline", "bootstrap", "loyo", "loro", "weights", "estimators", "placebo"}
    ok = c["kind"] != "placebo"
    assert (c.loc[ok, "lower"] <= c.loc[ok, "estimate"] + 1e-12).all()
    assert (c.loc[ok, "upper"] >= c.loc[ok, "estimate"] - 1e-12).all()
    assert not [k for k in full.skipped if k.startswith("weights:")]
    weights = set(c.loc[c["kind"] == "weights", "variant"])
    assert weights == {"commuting_year=2000", "commuting_year=2023", "min_share=0.01", "min_share=0.05", "top_k=5",
                       "top_k=10", "no_diagonal", "contiguity"}
    files = full.to_csv(tmp_path)
    assert set(files) == {"robustness", "rank_stability", "rank_intervals", "placebo"}
    back = pd.read_csv(files["robustness"])
    assert list(back.columns[:7]) == ["kind", "variant", "term", "estimate", "std_error", "lower", "upper"]
    assert len(back) == len(c)
    assert list(pd.read_csv(files["rank_stability"]).columns) == ["kind", "variant", "nobs", "r2", "loglik", "spearman",
                                                                  "top_kept", "bottom_kept", "n"]
    assert pd.read_csv(files["rank_intervals"], dtype={"unit": str})["unit"].str.len().eq(4).all()
    full.plot_coefficients(tmp_path / "coef.png")
    full.plot_rank_intervals(tmp_path / "ranks.svg")
    assert (tmp_path / "coef.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "ranks.svg").read_text()[:500]
    fig = full.plot_coefficients(terms=["vra", "vra_sum"])
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    with pytest.raises(InputError, match="suffix"):
        full.plot_rank_intervals(tmp_path / "ranks.jpg")
    with pytest.raises(InputError, match=r"unknown term\(s\) \['nope'\]"):
        full.plot_coefficients(terms=["nope"])
    text = full.summary()
    for s in ("Robustness of the attractiveness model", "vra_sum", "Rank stability", "Placebo", "loro"):
        assert s in text
    info = full.to_dict()
    json.dumps(info)
    assert info["placebo"]["r2"]["p_value"] == pytest.approx(1 / (N_PLACEBO + 1))
    assert info["variants"]["loro"] == 73


def test_variant_fits_are_frozen_results(full):
    """Each re-estimated variant is a results object; nothing can be changed after construction."""
    fit = full.fits["wls"]
    assert isinstance(fit, VariantFit) and (fit.kind, fit.variant, fit.model) == ("estimators", "wls", "wls")
    row = _row(full, "wls")
    np.testing.assert_allclose(row.loc[fit.params.index, "estimate"], fit.params, rtol=0, atol=0)
    assert fit.cumulative.index.equals(full.rank_intervals.index)
    assert {"loyo:2010", "loro:R05", "min_share=0.05", "sar"} <= set(full.fits)
    with pytest.raises(AttributeError):
        fit.kind = "weights"
    with pytest.raises(AttributeError):
        full.coefficients = None
    c = full.coefficients
    c.loc[0, "estimate"] = 99.0
    assert full.coefficients.loc[0, "estimate"] != 99.0


def test_failed_variants_are_reported(region_fit, monkeypatch):
    import importlib

    rb = importlib.import_module("geoattr.robustness.variants")

    def boom(state):
        raise InputError("the spatial lag failed on purpose")

    monkeypatch.setattr(rb, "sar_variant", boom)
    res = robustness(region_fit, variants=["estimators"], estimators=["sar", "weighted"], n_jobs=1, progress=False)
    assert res.skipped == {"estimators:sar": "InputError: the spatial lag failed on purpose"}
    assert set(res.rank_stability["variant"]) == {"baseline", "wls"}


def test_run_from_config(region_fit, synthetic_data, tmp_path):
    files: dict = {}
    info = run_robustness_from_config(
        region_fit, synthetic_data,
        {"enabled": True, "variants": ["bootstrap", "placebo", "loyo"], "n_boot": 49, "n_placebo": 19, "n_jobs": 1,
         "seed": 2, "figure_format": "svg", "ci": 0.9}, tmp_path, files, progress=False)
    assert set(files) == {"robustness", "rank_stability", "rank_intervals", "placebo",
                          "figure_robustness_coefficients_svg", "figure_rank_intervals_svg"}
    assert all(p.exists() for p in files.values())
    assert files["figure_rank_intervals_svg"].name == "rank_intervals.svg"
    assert info["robustness"]["settings"]["reps"] == 49 and info["robustness"]["settings"]["level"] == 0.9
    json.dumps(info)
    assert "enabled" in CONFIG_KEYS and "n_boot" in CONFIG_KEYS


# --------------------------------------------------------------------------- errors
def test_errors(region_fit, synthetic_data, toy_data, tmp_path):
    kw = dict(n_jobs=1, progress=False)
    with pytest.raises(InputError, match=r"unknown robustness variant\(s\) 'bootstrapp', 'jackknife'; choose from"):
        robustness(region_fit, variants=["bootstrapp", "jackknife"], **kw)
    with pytest.raises(InputError, match=r"unknown bootstrap method\(s\) 'residual'"):
        robustness(region_fit, bootstrap=["residual"], **kw)
    with pytest.raises(InputError, match=r"unknown estimator\(s\) 'gmm'"):
        robustness(region_fit, estimators=["gmm"], **kw)
    with pytest.raises(InputError, match=r"reps=10 is too few for 95% percentile intervals: at least 39"):
        robustness(region_fit, reps=10, **kw)
    with pytest.raises(InputError, match=r"reps=15 is too few for 90% .* at least 19"):
        robustness(region_fit, reps=15, level=0.9, **kw)
    with pytest.raises(InputError, match=r"placebo_reps=5 is too few: at least 19"):
        robustness(region_fit, variants=["placebo"], placebo_reps=5, **kw)
    with pytest.raises(InputError, match="unknown wild_weights 'normal'"):
        robustness(region_fit, wild_weights="normal", **kw)
    with pytest.raises(InputError, match=r"rank_bootstrap='wild' is not among the bootstrap methods run \['pairs'\]"):
        robustness(region_fit, bootstrap=["pairs"], rank_bootstrap="wild", **kw)
    with pytest.raises(InputError, match=r"commuting_years 1990 have no commuting matrix; available years: 2000-2023"):
        robustness(region_fit, variants=["weights"], commuting_years=[1990], **kw)
    with pytest.raises(InputError, match=r"\['spec', 'unit_level'\] apply when data are given"):
        robustness(region_fit, spec="2019", unit_level="region", **kw)
    with pytest.raises(InputError, match="n_jobs must be a positive integer or -1"):
        robustness(region_fit, n_jobs=0, progress=False)
    with pytest.raises(InputError, match=r"level \(the confidence level\) must be in \(0, 1\)"):
        robustness(region_fit, level=95, **kw)
    with pytest.raises(TypeError, match="PanelData or the result of geoattr.estimate"):
        robustness(synthetic_data.panel, **kw)
    no_regions = PanelData(toy_data.panel, flows=toy_data.flows, centrality=toy_data.centrality)
    with pytest.raises(InputError, match="leave-one-region-out needs a unit -> region mapping: pass regions="):
        robustness(no_regions, spec="2019", years=(2003, 2005), variants=["loro"], **kw)
    with pytest.raises(InputError, match="contiguity=True needs polygons"):
        robustness(no_regions, spec="2019", years=(2003, 2005), variants=["weights"], contiguity=True, **kw)
    with pytest.raises(InputError, match=r"the weights variants change the commuting weights, but the specification"):
        robustness(toy_data, spec=["centrality"], variants=["weights"], **kw)
    with pytest.raises(InputError, match=r"unknown key\(s\) \['n_bootstrap'\] in \[robustness\]; allowed: "):
        run_robustness_from_config(region_fit, synthetic_data, {"n_bootstrap": 99}, tmp_path, {}, progress=False)
    with pytest.raises(InputError, match=r"\[robustness\] n_boot must be int, got '99'"):
        run_robustness_from_config(region_fit, synthetic_data, {"n_boot": "99"}, tmp_path, {}, progress=False)
    with pytest.raises(InputError, match=r"figure_format must be \"png\", \"svg\" or a list of them, got 'pdf'"):
        run_robustness_from_config(region_fit, synthetic_data, {"figure_format": "pdf"}, tmp_path, {},
                                   progress=False)


def test_default_families_adapt_to_the_data(toy_data):
    """Without regions or polygons, loro and contiguity are skipped with a reason, not an error."""
    no_regions = PanelData(toy_data.panel, flows=toy_data.flows, centrality=toy_data.centrality)
    cache = set(no_regions._cache)
    res = robustness(no_regions, spec="2019", years=(2003, 2005), variants=None, bootstrap=["wild"], reps=39,
                     placebo_reps=0, n_jobs=1, progress=False, estimators=["weighted"], top_n=1,
                     commuting_years=[2002])
    assert res.skipped["loro"] == "no unit -> region mapping in the data"
    assert res.skipped["placebo"] == "placebo_reps = 0"
    assert res.skipped["weights:contiguity"] == "the data have no polygons"
    assert {"baseline", "bootstrap", "loyo", "weights", "estimators"} <= set(res.rank_stability["kind"])
    assert set(no_regions._cache) == cache  # the baseline is estimated on a copy: the data's cache is untouched
