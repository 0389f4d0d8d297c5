"""Tests of the Barometer (geoattr.barometer).

Reference values are hand calculations of the simple regression y = a + b x on a
four-unit panel whose numbers were chosen to make them exact:

period 2002-2003 (population 1 January 2002 = 1000 everywhere, jobs 2001 = 100):
    x = 100*(jobs2003/jobs2001 - 1) = 0, 10, 20, 30
    y = 100*(NM2002 + NM2003)/1000  = 1, 2, 2, 5
    Sxx = 500, Sxy = 60 -> b = 0.12, a = 2.5 - 0.12*15 = 0.7
    fitted 0.7, 1.9, 3.1, 4.3 -> residuals 0.3, 0.1, -1.1, 0.7; SSR = 1.8, SST = 9, R2 = 0.8
period 2004-2005 (population 1 January 2004 = 2000, jobs 2003 = 100, 110, 120, 130):
    x = 10, 0, -10, 10;  y = 100*(NM2004 + NM2005)/2000 = 3, 1, 0, 4
    Sxx = 275, Sxy = 50 -> b = 2/11, a = 17/11
    residuals -4/11, -6/11, 3/11, 7/11; SSR = 10/11, SST = 10, R2 = 10/11
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.barometer import BarometerResults, barometer, barometer_periods
from geoattr.data import PanelData
from geoattr.exceptions import DroppedRowsWarning, InputError
from geoattr.models.results import RegressionResults

UNITS = ["0101", "0102", "0103", "0104"]
YEARS = list(range(2000, 2007))  # 2006 carries only the population of 1 January

RESID_1 = np.array([0.3, 0.1, -1.1, 0.7])
RESID_2 = np.array([-4.0, -6.0, 3.0, 7.0]) / 11.0


def tiny_panel() -> pd.DataFrame:
    jobs = {
        2000: [90, 95, 100, 105],
        2001: [100, 100, 100, 100],
        2002: [100, 105, 110, 115],
        2003: [100, 110, 120, 130],
        2004: [105, 110, 115, 135],
        2005: [110, 110, 108, 143],
        2006: [np.nan] * 4,
    }
    pop = {
        2000: [990, 995, 1000, 1005],
        2001: [995, 1000, 1000, 1010],
        2002: [1000] * 4,
        2003: [1010] * 4,
        2004: [2000] * 4,
        2005: [2010, 2005, 2000, 2020],
        2006: [2020, 2010, 2000, 2030],
    }
    nm = {
        2000: [3, -2, 1, 0],
        2001: [-1, 4, 2, 2],
        2002: [5, 10, 10, 25],
        2003: [5, 10, 10, 25],
        2004: [30, 10, 0, 40],
        2005: [30, 10, 0, 40],
        2006: [np.nan] * 4,
    }
    # flow types (persons) that sum to net migration: immigration and the rest
    imm = {
        2000: [1, 1, 1, 1],
        2001: [1, 2, 1, 1],
        2002: [2, 3, 1, 5],
        2003: [1, 4, 2, 6],
        2004: [4, 2, 1, 9],
        2005: [3, 5, 2, 7],
        2006: [np.nan] * 4,
    }
    rows = []
    for t in YEARS:
        for i, u in enumerate(UNITS):
            rest = nm[t][i] - imm[t][i]
            rows.append(
                {
                    "unit": u,
                    "year": t,
                    "population": float(pop[t][i]),
                    "jobs": float(jobs[t][i]),
                    "net_migration": float(nm[t][i]),
                    "immigration": float(imm[t][i]),
                    "rest": float(rest),
                }
            )
    return pd.DataFrame(rows).set_index(["unit", "year"])


@pytest.fixture
def tiny() -> PanelData:
    return PanelData(tiny_panel())


def _period(bar: BarometerResults, label: str, flow: str = "total") -> pd.DataFrame:
    f = bar.index
    return f[(f["period"] == label) & (f["flow"] == flow)].set_index("unit").reindex(UNITS)


# ---------------------------------------------------------------- periods
def test_periods_end_at_last_year_and_leftover_years_reported():
    # 2000-2007 in 3-year periods: 2005-2007, 2002-2004; 2000-2001 do not fill a period
    assert barometer_periods(2000, 2007, 3) == ([(2002, 2004), (2005, 2007)], [2000, 2001])
    assert barometer_periods(2000, 2005, 2) == ([(2000, 2001), (2002, 2003), (2004, 2005)], [])
    assert barometer_periods(2000, 2001, 3) == ([], [2000, 2001])
    with pytest.raises(ValueError, match="period_length must be a positive"):
        barometer_periods(2000, 2005, 0)


def test_default_last_year_is_last_year_with_migration_and_jobs(tiny):
    # the panel runs to 2006, but 2006 has only the population of 1 January
    bar = barometer(tiny, period_length=2)
    assert bar.options["last_year"] == 2005
    assert bar.periods == [(2002, 2003), (2004, 2005)]
    # 2000-2001 fits in the years but needs the jobs of 1999: skipped and reported
    assert list(bar.skipped) == [(2000, 2001)]
    assert "jobs 1999" in bar.skipped[(2000, 2001)]
    assert any("skipped 2000-2001" in n for n in bar.notes)


def test_leftover_years_at_the_start_are_reported(tiny):
    bar = barometer(tiny, period_length=4)
    assert bar.periods == [(2002, 2005)]
    assert list(bar.skipped) == [(2000, 2001)]
    assert "do not fill a 4-year period" in bar.skipped[(2000, 2001)]


def test_explicit_last_year_and_n_periods(tiny):
    bar = barometer(tiny, period_length=2, last_year=2003)
    assert bar.periods == [(2002, 2003)]
    assert (2000, 2001) in bar.skipped
    bar1 = barometer(tiny, period_length=2, n_periods=1)
    assert bar1.periods == [(2004, 2005)]
    assert bar1.skipped == {}
    with pytest.raises(
        InputError,
        match=r"n_periods=4 periods of 2 years ending in 2005 need net migration from "
        r"1998; .* at most 3 period",
    ):
        barometer(tiny, period_length=2, n_periods=4)


# ---------------------------------------------------------------- hand-computed regressions
def test_y_x_and_residuals_by_hand(tiny):
    bar = barometer(tiny, period_length=2, cov_type="unadjusted")
    p1 = _period(bar, "2002-2003")
    np.testing.assert_allclose(p1["x"], [0, 10, 20, 30], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p1["y"], [1, 2, 2, 5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p1["expected"], [0.7, 1.9, 3.1, 4.3], rtol=0, atol=1e-10)
    np.testing.assert_allclose(p1["residual"], RESID_1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(p1["population"], 1000, rtol=0, atol=0)
    p2 = _period(bar, "2004-2005")
    np.testing.assert_allclose(p2["x"], [10, 0, -10, 10], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p2["y"], [3, 1, 0, 4], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p2["residual"], RESID_2, rtol=0, atol=1e-10)

    coef = bar.coefficients()
    assert list(coef.index) == ["2002-2003", "2004-2005"]
    assert list(coef.columns) == ["a", "b", "se", "p", "r2", "nobs"]
    np.testing.assert_allclose(coef["a"], [0.7, 17 / 11], rtol=1e-10)
    np.testing.assert_allclose(coef["b"], [0.12, 2 / 11], rtol=1e-10)
    np.testing.assert_allclose(coef["r2"], [0.8, 10 / 11], rtol=1e-10)
    # unadjusted se(b) = sqrt(SSR / (n - 2) / Sxx)
    np.testing.assert_allclose(
        coef["se"], [np.sqrt(1.8 / 2 / 500), np.sqrt(10 / 11 / 2 / 275)], rtol=1e-10
    )
    assert list(coef["nobs"]) == [4, 4]

    r = bar.results[(2002, 2003)]
    assert isinstance(r, RegressionResults)
    assert bar.result("2002-2003") is r
    assert list(r.params.index) == ["const", "job_growth"]


def test_long_run_index_sums_the_last_periods(tiny):
    bar = barometer(tiny, period_length=2, long_run_periods=2)
    lr = bar.long_run.set_index("unit").reindex(UNITS)
    assert list(bar.long_run.columns) == ["unit", "flow", "index", "n_periods"]
    np.testing.assert_allclose(lr["index"], RESID_1 + RESID_2, rtol=0, atol=1e-10)
    assert (lr["n_periods"] == 2).all()
    # only the last period
    lr1 = (
        barometer(tiny, period_length=2, long_run_periods=1)
        .long_run.set_index("unit")
        .reindex(UNITS)
    )
    np.testing.assert_allclose(lr1["index"], RESID_2, rtol=0, atol=1e-10)
    assert (lr1["n_periods"] == 1).all()
    # default 3 periods, only 2 estimated: both summed and the shortfall noted
    bar3 = barometer(tiny, period_length=2)
    np.testing.assert_allclose(
        bar3.long_run.set_index("unit").reindex(UNITS)["index"], RESID_1 + RESID_2, atol=1e-10
    )
    assert any("fewer than long_run_periods=3" in n for n in bar3.notes)


def test_to_frame_is_the_long_table(tiny):
    bar = barometer(tiny, period_length=2)
    f = bar.to_frame()
    assert list(f.columns) == [
        "unit",
        "period",
        "start",
        "end",
        "flow",
        "population",
        "y",
        "x",
        "expected",
        "residual",
    ]
    assert len(f) == 8
    assert set(f["flow"]) == {"total"}
    assert f["unit"].tolist()[:4] == UNITS
    f.loc[0, "y"] = 99.0  # a copy: the results are not changed
    assert bar.index.loc[0, "y"] != 99.0


# ---------------------------------------------------------------- flow types
def test_flow_types_sum_to_the_total_and_x_is_unchanged(tiny):
    bar = barometer(tiny, period_length=2, flow_columns=["immigration", "rest"])
    assert bar.flows == ["total", "immigration", "rest"]
    for label in ("2002-2003", "2004-2005"):
        tot, imm, rest = (_period(bar, label, f) for f in ("total", "immigration", "rest"))
        np.testing.assert_allclose(imm["y"] + rest["y"], tot["y"], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(imm["x"], tot["x"])
        np.testing.assert_array_equal(rest["x"], tot["x"])
        # least squares is linear in y: coefficients and residuals add up too
        np.testing.assert_allclose(
            imm["residual"] + rest["residual"], tot["residual"], rtol=0, atol=1e-10
        )
    # immigration y by hand, 2002-2003: 100 * (imm2002 + imm2003) / 1000
    np.testing.assert_allclose(
        _period(bar, "2002-2003", "immigration")["y"], [0.3, 0.7, 0.3, 1.1], atol=1e-12
    )
    coef = bar.coefficients(None)
    assert coef.index.names == ["flow", "period"]
    np.testing.assert_allclose(
        coef.loc["immigration", "b"].to_numpy() + coef.loc["rest", "b"].to_numpy(),
        coef.loc["total", "b"].to_numpy(),
        rtol=1e-10,
    )
    assert isinstance(bar.result((2004, 2005), "rest"), RegressionResults)
    lr = bar.long_run
    assert set(lr["flow"]) == {"total", "immigration", "rest"}
    assert any("sum to net_migration" in n and "add up" in n for n in bar.notes)


def test_flows_not_summing_to_net_migration_are_noted(tiny):
    bar = barometer(tiny, period_length=2, flow_columns=["immigration"])
    assert any("do not sum to net_migration" in n for n in bar.notes)


# ---------------------------------------------------------------- weighted
def test_weighted_matches_numpy_wls():
    panel = tiny_panel()
    panel.loc[("0104", 2004), "population"] = 4000.0  # unequal weights in 2004-2005
    data = PanelData(panel)
    bar = barometer(data, period_length=2, obs_weights="population", n_periods=1)
    p = _period(bar, "2004-2005")
    w = p["population"].to_numpy()
    X = np.column_stack([np.ones(4), p["x"].to_numpy()])
    beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], p["y"].to_numpy() * np.sqrt(w), rcond=None)[0]
    np.testing.assert_allclose(bar.results[(2004, 2005)].params.to_numpy(), beta, rtol=1e-10)
    np.testing.assert_allclose(p["residual"], p["y"] - X @ beta, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- missing inputs
def test_unit_with_missing_jobs_raises_or_is_left_out():
    panel = tiny_panel()
    panel.loc[("0102", 2003), "jobs"] = np.nan
    data = PanelData(panel)
    with pytest.raises(
        InputError,
        match=r"period 2002-2003: 1 unit\(s\) lack inputs \(jobs 2003: '0102'\).*"
        r"on_missing='drop'",
    ):
        barometer(data, period_length=2)
    with pytest.warns(DroppedRowsWarning, match="left out"):
        bar = barometer(data, period_length=2, on_missing="drop")
    assert bar.excluded.to_dict("records") == [
        {"period": "2002-2003", "unit": "0102", "reason": "jobs 2003"},
        {"period": "2004-2005", "unit": "0102", "reason": "jobs 2003"},
    ]
    assert bar.results[(2002, 2003)].nobs == 3
    assert bar.accounting["barometer"].dropped == {"unit-period with missing input": 2}
    assert bar.accounting["barometer"].read == 8


def test_zero_jobs_before_the_period_is_reported():
    panel = tiny_panel()
    panel.loc[("0103", 2001), "jobs"] = 0.0
    with pytest.raises(InputError, match=r"zero jobs in 2001 \(job growth undefined\): '0103'"):
        barometer(PanelData(panel), period_length=2)


def test_inputs_not_mutated(tiny):
    before = tiny.panel.copy()
    barometer(tiny, period_length=2, flow_columns=["immigration", "rest"])
    pd.testing.assert_frame_equal(tiny.panel, before)


# ---------------------------------------------------------------- errors
def test_argument_errors(tiny):
    with pytest.raises(TypeError, match="data must be a geoattr PanelData, DataFrame was given"):
        barometer(tiny_panel())
    with pytest.raises(ValueError, match="period_length must be a positive integer"):
        barometer(tiny, period_length=0)
    with pytest.raises(ValueError, match="long_run_periods must be a positive integer"):
        barometer(tiny, long_run_periods=0)
    with pytest.raises(ValueError, match="n_periods must be a positive integer or None"):
        barometer(tiny, n_periods=0)
    with pytest.raises(ValueError, match="on_missing must be 'raise' or 'drop'"):
        barometer(tiny, on_missing="ignore")
    with pytest.raises(InputError, match=r"last_year=2010 is outside the panel's years 2000-2006"):
        barometer(tiny, last_year=2010)
    with pytest.raises(InputError, match="no 8-year period fits between 2000 and 2005"):
        barometer(tiny, period_length=8)


def test_flow_column_errors(tiny):
    with pytest.raises(
        TypeError, match="flow_columns must be a list of column names, not the string 'rest'"
    ):
        barometer(tiny, flow_columns="rest")
    with pytest.raises(InputError, match="flow_columns lists 'rest' more than once"):
        barometer(tiny, flow_columns=["rest", "rest"])
    with pytest.raises(InputError, match="flow_columns cannot include 'total'"):
        barometer(tiny, flow_columns=["total"])
    with pytest.raises(
        InputError, match=r"flow column\(s\) 'emigration' are not in the panel; it has"
    ):
        barometer(tiny, flow_columns=["emigration"])


def test_no_estimable_period(tiny):
    # one 6-year period 2000-2005 that needs the jobs of 1999
    with pytest.raises(
        InputError, match="no barometer period could be estimated: 2000-2005: no data for jobs 1999"
    ):
        barometer(tiny, period_length=6)


def test_missing_columns_and_years():
    panel = tiny_panel()
    with pytest.raises(InputError, match="the panel has no column 'jobs'"):
        barometer(PanelData(panel.drop(columns="jobs")))
    no_overlap = panel.copy()
    no_overlap["net_migration"] = np.where(
        no_overlap.index.get_level_values("year") < 2003, no_overlap["net_migration"], np.nan
    )
    no_overlap["jobs"] = np.where(
        no_overlap.index.get_level_values("year") >= 2003, no_overlap["jobs"], np.nan
    )
    with pytest.raises(InputError, match="no year has both net_migration and jobs"):
        barometer(PanelData(no_overlap))


def test_regression_errors_name_the_period():
    panel = tiny_panel()
    two = PanelData(panel[panel.index.get_level_values("unit").isin(["0101", "0102"])])
    with pytest.raises(
        InputError, match=r"barometer period 2002-2003 \(total\): 2 observations for 2 regressors"
    ):
        barometer(two, period_length=2)
    flat = panel.copy()
    flat.loc[flat.index.get_level_values("year") == 2003, "jobs"] = (
        100.0  # x = 0 for every unit in 2002-2003
    )
    with pytest.raises(
        InputError, match=r"barometer period 2002-2003 \(total\): the regressors are collinear"
    ):
        barometer(PanelData(flat), period_length=2)


def test_result_lookup_errors(tiny):
    bar = barometer(tiny, period_length=2)
    with pytest.raises(KeyError, match="period '1990-1991' was not estimated"):
        bar.result("1990-1991")
    with pytest.raises(KeyError, match="unknown flow 'immigration'"):
        bar.result("2002-2003", "immigration")
    with pytest.raises(KeyError, match="unknown flow 'immigration'"):
        bar.coefficients("immigration")


@pytest.mark.slow
def test_synthetic_flow_types_add_up(synthetic_data):
    flows = [c for c in synthetic_data.panel.columns if c.startswith("flow__")]
    bar = barometer(synthetic_data, flow_columns=flows)
    # the synthetic panel has net migration 2000-2023 and no jobs for 1999
    assert bar.periods[-1] == (2021, 2023)
    assert bar.periods[0] == (2003, 2005)
    assert (2000, 2002) in bar.skipped
    wide = bar.index.pivot_table(index=["unit", "period"], columns="flow", values="residual")
    np.testing.assert_allclose(wide[flows].sum(axis=1), wide["total"], rtol=0, atol=1e-9)
    # job growth raises net migration in the generator: b > 0 in every period
    assert (bar.coefficients()["b"] > 0).all()
