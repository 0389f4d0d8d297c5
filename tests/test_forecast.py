"""Forecasts (issue 18): projection, scenarios, simulation draws, backtest, configuration and CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import geoattr
from geoattr import cli
from geoattr.config import load_run_config, validate, FORECAST_SCHEMA
from geoattr.exceptions import InputError
from geoattr.forecast import forecast
from geoattr.forecast.launch import Launch, build_launch
from geoattr.forecast.projection import jobs_path, project
from geoattr.forecast.scenario import Scenario, effects_frame, group_scenarios, scenario_paths
from geoattr.variables import demographic_supply


@pytest.fixture(scope="module")
def fit(synthetic_data):
    return geoattr.estimate(synthetic_data, "2022")


@pytest.fixture(scope="module")
def small(fit):
    """A short forecast with a scenario in the first projected year (2024) and a backtest."""
    return forecast(fit, horizon=4, draws=300, seed=7, scenarios=[{"name": "plant", "unit": "1804", "year": 2024,
                                                                    "jobs": 500}],
                    backtest={"fit_until": 2015, "through": 2019})


# --------------------------------------------------------------------------- the book's worked example
def _isolated_launch(b: tuple[float, float, float], *, population: float, jobs: float) -> Launch:
    """Unit A: nobody commutes into or out of it; unit B: the rest of the country (10 million jobs)."""
    units = pd.Index(["A", "B"], name="unit")
    job_table = pd.DataFrame({2019: [jobs, 1e7], 2020: [jobs, 1e7]}, index=units)
    return Launch(
        units=units, first_year=2021, terms=["const", "vra", "vra_l1", "vra_l2"],
        theta=np.array([0.0, *b]), cov=np.zeros((4, 4)), fixed=np.array([[1.0, 0, 0, 0], [1.0, 0, 0, 0]]),
        vra_observed=np.zeros((2, 2)), weights=sparse.identity(2, format="csr"), weights_year=2020, jobs=job_table,
        population=np.array([population, 2e7]), age=None, cohort=None, natural_rate=np.zeros(2),
        att_mean=np.zeros(2), att_sd=np.zeros(2), noise_sd=np.zeros(2), year_sd=0.0, ds_inputs=None)


def test_book_example_100_jobs_give_38_26_18_residents():
    # b1, b2, b3 = 0.19, 0.13, 0.09 and 2 residents per job (20,000 residents, 10,000 jobs): 100 jobs are a
    # shock of 1 % to relative job growth, so the effects are 0.19 * 1 * 20,000 / 100 = 38, then 26 and 18
    # (hand calculation).  Tolerance 0.5 persons: the national growth also rises by 100 / 10,010,000 (0.02
    # persons) and the 38 newcomers raise the base of the next years' rates (0.05 persons).
    launch = _isolated_launch((0.19, 0.13, 0.09), population=20_000, jobs=10_000)
    growth = np.zeros(5)
    base = project(launch, jobs_path(launch, growth))
    groups = group_scenarios([Scenario("plant", "A", 2022, 100)], launch, 5)
    path = scenario_paths(launch, growth, base, groups)["plant"]
    eff = effects_frame("plant", launch, base, path, None, 0.95).set_index(["unit", "year"])["persons"]
    a = eff.xs("A")
    assert a[2021] == 0.0
    np.testing.assert_allclose(a[[2022, 2023, 2024]].to_numpy(), [38, 26, 18], atol=0.5)
    assert abs(a[[2022, 2023, 2024]].sum() - 82) < 1.0
    np.testing.assert_allclose(a[2025], 0.0, atol=1e-9)  # no effect after lag 2 (growth is back to 0)
    # b_k times the shock to relative job growth (local 1 % minus the national 100 / 10,010,000), times P / 100
    shock = 100 * 100 / 10_000 - 100 * 100 / 10_010_000
    assert a[2022] == pytest.approx(0.19 * shock * 20_000 / 100, rel=1e-12)
    # the rest of the country loses only the national part of the shock: b1 * (-0.001 %) * 2e7 / 100
    assert eff.xs("B")[2022] == pytest.approx(0.19 * (-100 * 100 / 10_010_000) * 2e7 / 100, rel=1e-9)


def test_calculator_formula_reproduces_the_first_year_scenario_effect(small):
    # the calculator's formula, computed from calculator_inputs(), equals the projection's effect in the
    # scenario year for every unit (same numbers, rtol 1e-9): the population is still the baseline's then
    c = small.calculator_inputs()
    assert set(c["coefficients"]) == {"b_vra", "b_vra_l1", "b_vra_l2"}
    sh = c["shares"]
    dest = sh[sh["destination"] == "1804"].set_index("unit")["share"]
    change = 500.0
    # the change is relative to the jobs of the year before (the last observed year): exact in 2024
    share = sh[sh["destination"] == "1804"].set_index("unit")["share"].reindex(c["population"].index).fillna(0.0)
    b0 = c["coefficients"]["b_vra"]
    persons = b0 * (share * 100 * change / c["jobs"]["1804"] - 100 * change / c["national_jobs"]) * \
        c["population"] / 100
    eff = small.scenarios.set_index(["unit", "year"])["persons"].xs(2024, level="year")
    np.testing.assert_allclose(eff.reindex(persons.index).to_numpy(), persons.to_numpy(), rtol=1e-9)
    assert (eff.reindex(share.index[share > 0]) > 0).all()
    js = small.calculator_json()
    assert json.loads(json.dumps(js))["coefficients"] == c["coefficients"]
    assert len(js["shares"]) == len(sh)


# --------------------------------------------------------------------------- projection
def test_forecast_table_and_intervals(small, synthetic_data):
    f = small.forecast
    assert list(f.columns[:6]) == ["unit", "year", "quantity", "mean", "lower", "upper"]
    assert set(f["quantity"]) == {"net_migration", "net_migration_rate", "population", "births", "deaths"}
    assert len(f) == 5 * 4 * len(synthetic_data.units)
    assert (f["lower"] <= f["mean"] + 1e-9).all() and (f["mean"] <= f["upper"] + 1e-9).all()
    assert (f["lower"] <= f["lower_80"]).all() and (f["lower_80"] <= f["lower_50"]).all()
    # the intervals widen with the horizon (national net migration, summed over units)
    width = f[f["quantity"] == "population"].assign(w=lambda d: d["upper"] - d["lower"]).groupby("year")["w"].mean()
    assert width.is_monotonic_increasing
    assert small.info["first_year"] == 2024 and small.info["mode"] == "cohort component"
    assert any("cohort component" in n for n in small.notes)


def test_population_accounting_identity(fit):
    # population change = births - deaths + net migration, up to the persons clipped from negative cells
    launch = build_launch(fit)
    path = project(launch, jobs_path(launch, np.full(6, 0.5)))
    change = path.population[:, 1:] - path.population[:, :-1]
    flows = path.births - path.deaths + path.net_migration
    assert float((change - flows).sum()) == pytest.approx(path.clipped, abs=1e-6)
    # and unit by unit wherever nothing was clipped (most units)
    close = np.isclose(change, flows, atol=1e-6).all(axis=1)
    assert close.mean() > 0.9


def test_projected_ds_equals_demographic_supply(fit):
    # the array computation of ds is pinned to geoattr.variables.demographic_supply (tolerance 1e-9)
    launch = build_launch(fit)
    E = jobs_path(launch, np.full(2, 1.0))
    path = project(launch, E)
    P = launch.age
    N, _, A = P.shape
    frame = pd.DataFrame({"unit": np.repeat(np.asarray(launch.units, dtype=object), 2 * A), "year": 2024,
                          "sex": np.tile(np.repeat(["female", "male"], A), N), "age": np.tile(np.arange(A), 2 * N),
                          "population": P.reshape(-1)})
    jobs = pd.Series(E[:, 1], index=pd.MultiIndex.from_arrays([launch.units, np.full(N, 2024)], names=["unit", "year"]))
    ds = demographic_supply(frame, jobs, fit.unit_data.employment_rates, fit.unit_data.death_probabilities)
    np.testing.assert_allclose(path.ds[:, 0], ds.reindex(jobs.index).to_numpy(), rtol=1e-9, atol=1e-12)


def test_total_population_mode_without_age_data(synthetic_data):
    data = synthetic_data.replace(population_by_age=None, fertility_rates=None)
    f19 = geoattr.estimate(data, "2019")
    res = forecast(f19, horizon=3, draws=50, seed=1)
    assert res.info["mode"] == "total population"
    assert set(res.forecast["quantity"]) == {"net_migration", "net_migration_rate", "population"}
    launch = build_launch(f19)
    path = project(launch, jobs_path(launch, np.zeros(3)))
    np.testing.assert_allclose(path.population[:, 1:],
                               path.population[:, :-1] * (1 + launch.natural_rate[:, None]) + path.net_migration)


# --------------------------------------------------------------------------- simulation
def test_draws_identical_for_any_number_of_workers(fit):
    a = forecast(fit, horizon=2, draws=300, seed=3, n_jobs=1)
    b = forecast(fit, horizon=2, draws=300, seed=3, n_jobs=2)  # two chunks (250 + 50) in two processes
    pd.testing.assert_frame_equal(a.forecast, b.forecast, check_exact=True)
    c = forecast(fit, horizon=2, draws=300, seed=4, n_jobs=1)
    assert not np.allclose(a.forecast["upper"], c.forecast["upper"])


def test_results_are_frozen(small):
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.forecast = None


# --------------------------------------------------------------------------- backtest
def test_backtest_beats_zero_net_migration(small):
    bt = small.backtest
    assert list(bt.columns[:6]) == ["method", "horizon", "rmse", "mae", "bias", "coverage95"]
    assert set(bt["method"]) == {"model", "zero", "mean5", "last"}
    assert sorted(bt["horizon"].unique()) == [1, 2, 3, 4]
    assert not bt.duplicated(["method", "horizon"]).any()
    rate = bt.set_index(["method", "horizon"])
    # the synthetic data come from the model (known truth), so it must beat zero net migration at every horizon
    assert (rate.loc["model", "mae_rate"] < rate.loc["zero", "mae_rate"]).all()
    assert rate.loc["model", "coverage95"].between(0.7, 1.0).all()
    assert rate.loc["zero", "coverage95"].isna().all()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, match", [
    ({"scenarios": [{"name": "x", "unit": "9999", "year": 2025, "jobs": 1}]}, "'9999'.*not units of the data"),
    ({"scenarios": [{"name": "x", "unit": "0301", "year": 2050, "jobs": 1}]}, "outside the projection 2024-2033"),
    ({"scenarios": [{"name": "x", "unit": "0301", "year": 2025}]}, r"lacks \['jobs'\]"),
    ({"jobs": [1.0, 2.0]}, "gives 2 yearly rate.*horizon of 10"),
    ({"attractiveness": "median"}, "attractiveness must be one of"),
    ({"horizon": 0}, "horizon must be"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"backtest": {"fit_until": 2015, "through": 2015}}, "through > fit_until"),
])
def test_bad_options_are_named(fit, kw, match):
    with pytest.raises(InputError, match=match):
        forecast(fit, draws=5, **kw)


def test_specification_2018_is_refused(synthetic_data):
    with pytest.raises(InputError, match="commuting-weighted specifications.*'ra'"):
        forecast(geoattr.estimate(synthetic_data, "2018"), draws=5)


def test_config_schema_names_bad_keys():
    with pytest.raises(InputError, match="did you mean 'horizon'"):
        validate({"horizn": 3}, FORECAST_SCHEMA, section="[forecast]")
    with pytest.raises(InputError, match=r'unit must be a unit id in quotes, e.g. "0301", got 301'):
        validate({"scenario": [{"name": "a", "unit": 301, "year": 2025, "jobs": 1}]}, FORECAST_SCHEMA,
                 section="[forecast]")
    with pytest.raises(InputError, match="needs through"):
        validate({"backtest": {"fit_until": 2010}}, FORECAST_SCHEMA, section="[forecast]")


# --------------------------------------------------------------------------- command line
def _cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def test_cli_forecast_writes_the_files(tmp_path):
    cfg = tmp_path / "f.toml"
    cfg.write_text('[model]\nspec = "2019"\n[forecast]\nhorizon = 3\ndraws = 60\nseed = 1\n'
                   '[[forecast.scenario]]\nname = "closure"\nunit = "0301"\nyear = 2025\njobs = -300\n',
                   encoding="utf-8")
    code, out, err = _cli(["forecast", str(cfg), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0, err
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {"forecast.csv", "forecast_history.csv", "scenario.csv", "calculator.json", "run.json",
                     "forecast.html", "figures"}
    assert {p.name for p in (tmp_path / "out" / "figures").iterdir()} == {"fan_chart.png", "fan_chart.svg"}
    assert (tmp_path / "out" / "figures" / "fan_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "out" / "forecast.html").read_text(encoding="utf-8")
    assert '<h2 id="forecast">' in page and page.count('<svg class="fan-chart"') >= 2  # the section on its own page
    info = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert info["geoattr_run"] == 1 and info["command"] == "forecast"
    assert any("national job growth" in r for r in info["analyses"]["forecast"]["rules"])
    sc = pd.read_csv(tmp_path / "out" / "scenario.csv", dtype={"unit": str})
    oslo = sc[(sc["unit"] == "0301")].set_index("year")["persons"]
    assert oslo[2024] == 0 and oslo[2025] < 0  # fewer jobs, fewer residents from the year of the closure


def test_cli_forecast_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "f.toml"
    cfg.write_text("[forecast]\ndraws = 0\n", encoding="utf-8")
    code, _, err = _cli(["forecast", str(cfg), "--out", str(tmp_path / "out")])
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("geoattr: error:") and "draws must be >= 1" in err


# --------------------------------------------------------------------------- the real data
@pytest.mark.slow
def test_norway_example_backtest(real_data_dir, tmp_path):
    from pathlib import Path

    from geoattr.pipeline.forecast import run_forecast

    cfg = load_run_config(Path(__file__).resolve().parents[1] / "examples" / "norway_forecast.toml")
    cfg["forecast"]["draws"] = 300
    res = run_forecast(cfg, out=tmp_path / "out", data_dir=real_data_dir, progress=False).results
    # issue 18 on SSB data: births (fertility estimated from the population by age) and deaths (HMD)
    assert res.info["first_year"] == 2017 and res.info["mode"] == "cohort component"
    assert any(r.startswith("births: national fertility estimated") for r in res.notes)
    bt = res.backtest.set_index(["method", "horizon"])
    assert sorted(bt.index.get_level_values("horizon").unique()) == [1, 2, 3, 4, 5, 6]
    # published net migration 2011-2016: the model beats zero net migration on average and its 95 %
    # intervals cover most of the observations
    assert bt.loc["model", "mae_rate"].mean() < bt.loc["zero", "mae_rate"].mean()
    assert bt.loc["model", "coverage95"].mean() > 0.8
