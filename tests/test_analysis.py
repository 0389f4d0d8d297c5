"""Subgroups, prediction intervals, empirical Bayes, persistence and regimes.

References: hand calculations and simulations with known truth (fixed seeds); tolerances stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geoattr.analysis import persistence, prediction_intervals, regimes, shrunken_attractiveness, subgroups
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.models.ols import estimate
from tests.conftest import toy_flows, toy_panel


def _att_sim(n=300, t=12, seed=5, rho=0.0, tau=0.5):
    """Residuals = persistent a_i ~ N(0, tau^2) + AR(1) noise with sd 4/sqrt(P)."""
    rng = np.random.default_rng(seed)
    pop = np.exp(rng.uniform(np.log(300), np.log(3e5), n))
    a = rng.normal(0, tau, n)
    sd = 4 / np.sqrt(pop) * 10
    e = np.zeros((n, t))
    e[:, 0] = rng.normal(size=n) * sd
    for k in range(1, t):
        e[:, k] = rho * e[:, k - 1] + np.sqrt(1 - rho**2) * rng.normal(size=n) * sd
    idx = pd.MultiIndex.from_product([[f"{i:04d}" for i in range(n)], range(2000, 2000 + t)], names=["unit", "year"])
    res = (a[:, None] + e).ravel()
    popl = np.repeat(pop, t)
    return pd.DataFrame({"residual": res, "population": popl, "residual_persons": res * popl / 100}, index=idx), a, sd


def test_subgroups_add_up_to_total(toy_data):
    p = toy_panel()
    p["net_migration__female"] = np.round(p["net_migration"] * 0.4, 6)
    p["net_migration__male"] = p["net_migration"] - p["net_migration__female"]
    data = PanelData(p, flows=toy_flows(), centrality=toy_data.centrality)
    t = subgroups(data, "2019", years=(2003, 2005), cov_type="robust")
    assert set(t.subgroup) == {"total", "female", "male"}
    est = t.pivot(index="term", columns="subgroup", values="estimate")
    # OLS is linear in y: the subgroup coefficients add up to the total's (exact identity)
    np.testing.assert_allclose(est["female"] + est["male"], est["total"], rtol=1e-8, atol=1e-10)
    with pytest.raises(InputError, match=r"subgroup column\(s\) \['nm_kids'\] are not in the panel"):
        subgroups(data, "2019", groups={"kids": "nm_kids"}, years=(2003, 2005))


def test_subgroup_periods(toy_data):
    t = subgroups(toy_data, ["vra"], periods=[(2003, 2004)], cov_type="robust", years=(2003, 2005))
    assert set(t.subgroup) == {"total", "period:2003-2004"}
    assert t[t.subgroup == "period:2003-2004"].nobs.iloc[0] == 6


def test_subgroups_reuse_the_total_fit_only_when_it_is_the_same_model(toy_data, monkeypatch):
    import geoattr.analysis as an

    plain = subgroups(toy_data, "2019", periods=[(2003, 2004)], cov_type="robust", years=(2003, 2005))
    main = estimate(toy_data, "2019", cov_type="robust")  # default years: those of the explicit range below
    assert main.options["years"] == [2003, 2005]
    calls = []
    real = an.estimate
    monkeypatch.setattr(an, "estimate", lambda *a, **k: calls.append(k) or real(*a, **k))
    reused = subgroups(toy_data, "2019", periods=[(2003, 2004)], cov_type="robust", years=(2003, 2005), total=main)
    pd.testing.assert_frame_equal(reused, plain, check_exact=True)  # the same numbers, bit for bit
    assert [k.get("years") for k in calls] == [(2003, 2004)]  # only the period was estimated
    calls.clear()
    other = subgroups(toy_data, "2019", periods=[(2003, 2004)], years=(2003, 2005), total=main)  # clustered here
    assert len(calls) == 2  # the total's options differ (cov_type): estimated again, not taken from `total`
    assert not np.allclose(other.loc[other.subgroup == "total", "std_error"],
                           plain.loc[plain.subgroup == "total", "std_error"])


def test_prediction_interval_coverage_on_simulated_model():
    # known truth: y = 1 + 2x + e, e ~ N(0, 1); 95 % intervals cover ~95 % of new draws (tolerance 2 pp)
    rng = np.random.default_rng(0)
    n_u, n_t = 400, 5
    idx = pd.MultiIndex.from_product([[f"{i:04d}" for i in range(n_u)], range(2010, 2010 + n_t)], names=["unit", "year"])
    x = rng.normal(size=len(idx))
    p = pd.DataFrame({"population": 1000.0, "x": x, "net_migration": 10 * (1 + 2 * x + rng.normal(size=len(idx)))},
                     index=idx)
    data = PanelData(p)
    fit = estimate(data, ["x"], years=(2010, 2014), cov_type="robust")
    pi = prediction_intervals(fit, by_population=False)
    coverage = 1 - pi["outside"].mean()
    assert abs(coverage - 0.95) < 0.02
    assert (pi["upper"] > pi["lower"]).all()
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        prediction_intervals(fit, level=95)


def test_shrinkage_reduces_error_against_truth():
    att, a, _ = _att_sim()
    eb = shrunken_attractiveness(att)
    truth = pd.Series(a, index=eb.index)
    mse_raw = ((eb["mean_residual"] - truth) ** 2).mean()
    mse_eb = ((eb["shrunken"] - truth) ** 2).mean()
    assert mse_eb < 0.8 * mse_raw  # simulation truth: shrinkage helps noisy small units
    small = eb.index[np.argsort(att.groupby(level="unit")["population"].mean().to_numpy())[:30]]
    large = eb.index[np.argsort(att.groupby(level="unit")["population"].mean().to_numpy())[-30:]]
    assert eb.loc[small, "reliability"].mean() < eb.loc[large, "reliability"].mean()
    assert eb.attrs["tau2"] == pytest.approx(0.25, rel=0.3)  # truth tau = 0.5
    one = att.xs(2000, level="year", drop_level=False)
    with pytest.raises(InputError, match="fewer than 2 years"):
        shrunken_attractiveness(one)


def test_persistence_split_and_wooldridge_test():
    att, _, _ = _att_sim(rho=0.0)
    p = persistence(att)
    np.testing.assert_allclose(p.table["persistent"] + p.table["transitory"], p.table["residual"], atol=1e-12)
    np.testing.assert_allclose(p.table.groupby(level="unit")["transitory"].sum(), 0, atol=1e-9)
    assert 0 < p.persistent_share < 1
    assert p.serial_correlation.pvalue > 0.01  # no serial correlation in the simulation
    assert p.ar1 == pytest.approx(-0.5, abs=0.05)
    p2 = persistence(_att_sim(rho=0.6, seed=6)[0])
    assert p2.serial_correlation.pvalue < 1e-6


def test_regimes_chow_detects_different_slopes():
    rng = np.random.default_rng(1)
    n_u, n_t = 120, 6
    units = [f"{i:04d}" for i in range(n_u)]
    idx = pd.MultiIndex.from_product([units, range(2010, 2010 + n_t)], names=["unit", "year"])
    cls = pd.Series(np.where(np.arange(n_u) < 60, "central", "rural"), index=units)
    x = rng.normal(size=len(idx))
    slope = np.where(cls.reindex(idx.get_level_values("unit")).to_numpy() == "central", 2.0, 0.5)
    p = pd.DataFrame({"population": 100.0, "x": x, "net_migration": 1 + slope * x + rng.normal(size=len(idx))},
                     index=idx)
    data = PanelData(p)
    r = regimes(data, ["x"], regime=cls, years=(2010, 2015))
    assert r.coefficients.loc["x", "central"] == pytest.approx(2.0, abs=0.15)
    assert r.coefficients.loc["x", "rural"] == pytest.approx(0.5, abs=0.15)
    assert r.chow.pvalue < 1e-6 and r.chow_by_term.loc["x", "pvalue"] < 1e-6
    # single-term Wald statistic by hand from the covariance
    b = r.results.params
    V = r.results.cov
    d = b["x[central]"] - b["x[rural]"]
    var = V.loc["x[central]", "x[central]"] + V.loc["x[rural]", "x[rural]"] - 2 * V.loc["x[central]", "x[rural]"]
    assert r.chow_by_term.loc["x", "statistic"] == pytest.approx(d**2 / var, rel=1e-10)
    assert r.chow_by_term.loc["x", "pvalue"] == pytest.approx(stats.f.sf(d**2 / var, 1, r.results.df_resid), rel=1e-8)
    with pytest.raises(InputError, match=r"1 unit\(s\) have no regime: '0119'"):
        regimes(data, ["x"], regime=cls.iloc[:-1], years=(2010, 2015))
