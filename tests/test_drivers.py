"""Tests of the drivers of attractiveness (geoattr.drivers).

References: numpy least squares on z-scored data (``np.linalg.lstsq``), the identity
``beta_k = b_k * sd(x_k) / sd(y)`` with ``b`` from least squares on the raw data, and a
simulation whose true standardized coefficient is 0.5.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from geoattr.drivers import DriversResults, drivers
from geoattr.exceptions import DroppedRowsWarning, InputError
from geoattr.models.ols import LeastSquares
from geoattr.models.results import RegressionResults
from geoattr.variables import Design

YEARS = list(range(2010, 2016))


def make_data(n_units: int = 30, seed: int = 7) -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    units = [f"{i:04d}" for i in range(1, n_units + 1)]
    idx = pd.MultiIndex.from_product([units, YEARS], names=["unit", "year"])
    n = len(idx)
    cand = pd.DataFrame(
        {
            "students": rng.gamma(2.0, 3.0, n),
            "housing": 5 + 2 * rng.normal(size=n),
            "cafes": rng.uniform(0, 1, n),
        },
        index=idx,
    )
    y = 0.4 * cand["housing"] - 1.5 * cand["cafes"] + 0.1 * cand["students"] + rng.normal(0, 1.0, n)
    return y.rename("attractiveness"), cand


def zscore_lstsq(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Betas by numpy: OLS of z(y) on [1, z(X)], sample sd (ddof=1)."""
    zy = (y - y.mean()) / y.std(ddof=1)
    zX = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    A = np.column_stack([np.ones(len(zy)), zX])
    return np.linalg.lstsq(A, zy, rcond=None)[0]


# ---------------------------------------------------------------- numbers
def test_betas_equal_ols_on_zscored_data_and_b_times_sd_ratio():
    y, cand = make_data()
    periods = [(2010, 2012), (2013, 2015)]
    res = drivers(y, cand, periods=periods)
    assert isinstance(res, DriversResults)
    f = res.to_frame()
    assert list(f.columns) == ["period", "term", "beta", "std_error", "t", "p", "stars"]
    for s, e in periods:
        m = (y.index.get_level_values("year") >= s) & (y.index.get_level_values("year") <= e)
        yy, XX = y[m].to_numpy(), cand[m].to_numpy()
        ref = zscore_lstsq(yy, XX)
        got = (
            f[f["period"] == f"{s}-{e}"]
            .set_index("term")
            .loc[list(cand.columns), "beta"]
            .to_numpy()
        )
        np.testing.assert_allclose(got, ref[1:], rtol=1e-10, atol=1e-12)
        assert abs(res.results[(s, e)].params["const"]) < 1e-12  # z-scored: intercept zero
        # raw slopes b, then b * sd(x) / sd(y)
        b = np.linalg.lstsq(np.column_stack([np.ones(len(yy)), XX]), yy, rcond=None)[0][1:]
        np.testing.assert_allclose(got, b * XX.std(axis=0, ddof=1) / yy.std(ddof=1), rtol=1e-10)
        # standard errors: those of the raw regression rescaled (equivariance); same t
        idx = y[m].index
        raw = LeastSquares(
            Design(
                y=y[m],
                X=pd.concat([pd.Series(1.0, index=idx, name="const"), cand[m]], axis=1),
                population=pd.Series(1.0, index=idx),
                spec="raw",
                unit_level="unit",
                years=(s, e),
            )
        ).fit(cov_type="robust")
        se = (
            f[f["period"] == f"{s}-{e}"]
            .set_index("term")
            .loc[list(cand.columns), "std_error"]
            .to_numpy()
        )
        scale = XX.std(axis=0, ddof=1) / yy.std(ddof=1)
        np.testing.assert_allclose(
            se, raw.std_errors[list(cand.columns)].to_numpy() * scale, rtol=1e-8
        )
        t = f[f["period"] == f"{s}-{e}"].set_index("term").loc[list(cand.columns), "t"].to_numpy()
        np.testing.assert_allclose(t, raw.tstats[list(cand.columns)].to_numpy(), rtol=1e-8)
    # the stored moments reproduce the raw slopes
    sc = res.scales.loc[("2010-2012", "sd")]
    b_back = res.results[(2010, 2012)].params["housing"] * sc["attractiveness"] / sc["housing"]
    m = y.index.get_level_values("year") <= 2012
    b = np.linalg.lstsq(
        np.column_stack([np.ones(int(m.sum())), cand[m].to_numpy()]), y[m].to_numpy(), rcond=None
    )[0]
    np.testing.assert_allclose(b_back, b[2], rtol=1e-10)
    assert isinstance(res.results[(2013, 2015)], RegressionResults)


def test_default_period_is_all_years():
    y, cand = make_data()
    res = drivers(y, cand)
    assert res.periods == [(2010, 2015)]
    np.testing.assert_allclose(
        res.table(numeric=True)["2010-2015"].to_numpy(),
        zscore_lstsq(y.to_numpy(), cand.to_numpy())[1:],
        rtol=1e-10,
    )
    assert res.fit_statistics().loc["2010-2015", "nobs"] == 180


def test_weighted_betas_use_weighted_moments():
    y, cand = make_data()
    w = pd.Series(np.random.default_rng(3).uniform(100, 5000, len(y)), index=y.index)
    res = drivers(y, cand, obs_weights=w)
    # reference: WLS on raw data, then b * sd_w(x) / sd_w(y) with weighted sds
    sw = np.sqrt(w.to_numpy())
    A = np.column_stack([np.ones(len(y)), cand.to_numpy()])
    b = np.linalg.lstsq(A * sw[:, None], y.to_numpy() * sw, rcond=None)[0][1:]
    ws = w.to_numpy() / w.sum()

    def sdw(v: np.ndarray) -> float:
        return float(np.sqrt(ws @ (v - ws @ v) ** 2))

    ref = b * np.array([sdw(cand[c].to_numpy()) for c in cand.columns]) / sdw(y.to_numpy())
    np.testing.assert_allclose(res.table(numeric=True).iloc[:, 0].to_numpy(), ref, rtol=1e-10)
    assert res.options["weighted"] is True


def test_known_truth_beta_half():
    # y = 0.5 x1 + e with sd(x1) = 1 and var(e) = 0.75, so sd(y) = 1 and the true beta is 0.5;
    # x2 is unrelated (true beta 0).  n = 1200, se(beta) ~ 0.025: tolerance 0.1 is ~4 se.
    rng = np.random.default_rng(20240601)
    units = [f"{i:03d}" for i in range(300)]
    idx = pd.MultiIndex.from_product([units, [2020, 2021, 2022, 2023]], names=["unit", "year"])
    x1, x2 = rng.normal(size=len(idx)), rng.normal(size=len(idx))
    y = pd.Series(0.5 * x1 + rng.normal(0, np.sqrt(0.75), len(idx)), index=idx)
    res = drivers(y, pd.DataFrame({"x1": x1, "x2": x2}, index=idx), cov_type="clustered")
    f = res.to_frame().set_index("term")
    assert abs(f.loc["x1", "beta"] - 0.5) < 0.1
    assert abs(f.loc["x2", "beta"]) < 0.1
    assert f.loc["x1", "p"] < 0.01 and f.loc["x1", "stars"] == "***"


def test_per_unit_candidates_are_broadcast():
    y, cand = make_data()
    per_unit = cand.groupby(level="unit").mean()
    res_unit = drivers(y, per_unit, periods=[(2010, 2012)])
    repeated = per_unit.reindex(y.index.get_level_values("unit"))
    repeated.index = y.index
    res_panel = drivers(y, repeated, periods=[(2010, 2012)])
    pd.testing.assert_frame_equal(res_unit.to_frame(), res_panel.to_frame())


def test_integer_ids_are_normalised_to_strings():
    y, cand = make_data(n_units=12)
    units = y.index.get_level_values("unit")
    y_int = y.copy()
    y_int.index = pd.MultiIndex.from_arrays(
        [units.astype(int), y.index.get_level_values(1)], names=["unit", "year"]
    )
    cand_str = cand.copy()
    cand_str.index = pd.MultiIndex.from_arrays(
        [units.astype(int).astype(str), y.index.get_level_values(1)], names=["unit", "year"]
    )
    # target ids 1..12 (int) match candidate ids "1".."12"; the betas equal the all-string run
    pd.testing.assert_frame_equal(drivers(y_int, cand_str).to_frame(), drivers(y, cand).to_frame())


# ---------------------------------------------------------------- tables
def test_tables_text_numeric_and_styled():
    y, cand = make_data()
    res = drivers(y, cand, periods=[(2010, 2012), (2013, 2015)])
    num = res.table(numeric=True)
    text = res.table()
    assert list(num.index) == ["students", "housing", "cafes"]
    assert list(num.columns) == ["2010-2012", "2013-2015"]
    f = res.to_frame().set_index(["term", "period"])
    for term in num.index:
        for per in num.columns:
            cell = text.loc[term, per]
            assert re.fullmatch(r"-?\d+\.\d{2}\*{0,3}", cell), cell
            assert (
                cell
                == f"{round(f.loc[(term, per), 'beta'], 2) + 0.0:.2f}{f.loc[(term, per), 'stars']}"
            )
            assert num.loc[term, per] == f.loc[(term, per), "beta"]
    # housing drives y strongly (positive), cafes negatively: both significant
    assert text.loc["housing", "2010-2012"].endswith("***") and num.loc["housing", "2010-2012"] > 0
    assert num.loc["cafes", "2010-2012"] < 0
    assert (
        res.table(precision=3).loc["housing", "2010-2012"].split(".")[1].rstrip("*").__len__() == 3
    )

    styler = res.styled()
    html = styler.to_html()
    assert text.loc["housing", "2010-2012"] in html
    assert "background-color" in html and "Significance" in html
    # diverging around zero (RdBu): the positive cell is blue, the negative one red
    rgb = {}
    for i, j, colour in re.findall(
        r"_row(\d+)_col(\d+) \{\s*background-color: #([0-9a-f]{6})", html
    ):
        rgb[(num.index[int(i)], num.columns[int(j)])] = tuple(
            int(colour[k : k + 2], 16) for k in (0, 2, 4)
        )
    assert len(rgb) == num.size
    r, _, b = rgb[("housing", "2010-2012")]
    assert b > r
    r, _, b = rgb[("cafes", "2010-2012")]
    assert r > b
    with pytest.raises(ValueError, match="vmax must be positive"):
        res.styled(vmax=0)


def test_inputs_not_mutated():
    y, cand = make_data()
    y0, c0 = y.copy(), cand.copy()
    drivers(y, cand, periods=[(2010, 2012)], obs_weights=pd.Series(1.0, index=y.index))
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_frame_equal(cand, c0)


# ---------------------------------------------------------------- validation
def test_type_errors():
    y, cand = make_data()
    with pytest.raises(
        TypeError, match="target must be a pandas Series indexed by \\(unit, year\\), DataFrame was"
    ):
        drivers(y.to_frame(), cand)
    with pytest.raises(TypeError, match="candidates must be a pandas DataFrame, Series was given"):
        drivers(y, cand["housing"])
    with pytest.raises(TypeError, match="obs_weights must be a pandas Series, DataFrame was given"):
        drivers(y, cand, obs_weights=cand)
    with pytest.raises(
        TypeError, match="columns must be a list of names, not the string 'housing'"
    ):
        drivers(y, cand, columns="housing")
    with pytest.raises(TypeError, match=r"wrap a single period as \[\(2010, 2012\)\]"):
        drivers(y, cand, periods=(2010, 2012))
    with pytest.raises(ValueError, match="on_missing must be 'raise' or 'drop'"):
        drivers(y, cand, on_missing="skip")


def test_target_index_errors():
    y, cand = make_data()
    flat = y.reset_index(drop=True)
    with pytest.raises(InputError, match=r"target must be indexed by \(unit, year\)"):
        drivers(flat, cand)
    dup = pd.concat([y, y.iloc[:1]])
    with pytest.raises(
        InputError, match=r"target has 1 duplicated index label\(s\): \('0001', 2010\)"
    ):
        drivers(dup, cand)


def test_missing_candidate_columns():
    y, cand = make_data()
    with pytest.raises(InputError, match=r"table 'candidates' lacks column\(s\) 'museums'"):
        drivers(y, cand, columns=["housing", "museums"])
    res = drivers(y, cand, columns=["housing"])
    assert res.terms == ["housing"]
    with pytest.raises(InputError, match="candidates has no columns"):
        drivers(y, cand[[]])
    with pytest.raises(InputError, match=r"duplicated column name\(s\) 'housing'"):
        drivers(y, cand, columns=["housing", "housing"])
    with pytest.raises(InputError, match="a candidate is called 'const'"):
        drivers(y, cand.rename(columns={"cafes": "const"}))


def test_non_numeric_candidates():
    y, cand = make_data()
    bad = cand.astype({"cafes": object})
    bad.iloc[3, bad.columns.get_loc("cafes")] = "many"
    with pytest.raises(
        InputError,
        match=r"table 'candidates' has non-numeric values: column 'cafes': 1 "
        r"non-numeric value\(s\) 'many'",
    ):
        drivers(y, bad)


def test_constant_candidate_and_target():
    y, cand = make_data()
    with pytest.raises(
        InputError, match=r"drivers period 2010-2015: candidate\(s\) 'flat' do not vary"
    ):
        drivers(y, cand.assign(flat=3.0))
    # constant within one period only
    per = cand.assign(
        policy=np.where(
            cand.index.get_level_values("year") <= 2012, 1.0, np.arange(len(cand), dtype=float)
        )
    )
    drivers(y, per, periods=[(2013, 2015)])
    with pytest.raises(
        InputError, match=r"drivers period 2010-2012: candidate\(s\) 'policy' do not vary"
    ):
        drivers(y, per, periods=[(2010, 2012), (2013, 2015)])
    with pytest.raises(InputError, match="the target does not vary"):
        drivers(pd.Series(1.0, index=y.index), cand)


def test_misaligned_indices():
    y, cand = make_data()
    no_units = cand.drop(index=["0003", "0007"], level="unit")
    with pytest.raises(
        InputError, match=r"2 unit\(s\) of the target are not in candidates: '0003', '0007'"
    ):
        drivers(y, no_units)
    no_rows = cand.drop(index=[("0005", 2011)])
    with pytest.raises(
        InputError,
        match=r"1 \(unit, year\) row\(s\) of the target are not in candidates: "
        r"\('0005', 2011\)",
    ):
        drivers(y, no_rows)
    # the row outside the period does not matter
    drivers(y, no_rows, periods=[(2012, 2015)])
    with pytest.raises(InputError, match=r"1 unit\(s\) of the target are not in obs_weights: '0001'"):
        drivers(y, cand, obs_weights=pd.Series(1.0, index=cand.index).drop(index="0001", level="unit"))


def test_period_errors():
    y, cand = make_data()
    with pytest.raises(
        InputError,
        match=r"period 2008-2011: year\(s\) 2008, 2009 are absent from the target, "
        r"which has years 2010-2015",
    ):
        drivers(y, cand, periods=[(2008, 2011)])
    gappy = y[y.index.get_level_values("year") != 2012]
    with pytest.raises(InputError, match=r"period 2010-2013: year\(s\) 2012 are absent"):
        drivers(gappy, cand, periods=[(2010, 2013)])
    with pytest.raises(InputError, match=r"period \(2013, 2011\) starts after it ends"):
        drivers(y, cand, periods=[(2013, 2011)])
    with pytest.raises(
        InputError, match="each period must be a \\(start, end\\) pair of years; 2010 was given"
    ):
        drivers(y, cand, periods=[2010, 2011])
    with pytest.raises(InputError, match="periods is empty"):
        drivers(y, cand, periods=[])
    with pytest.raises(InputError, match="periods lists '2010-2011' more than once"):
        drivers(y, cand, periods=[(2010, 2011), (2010, 2011)])


def test_missing_values_raise_or_drop():
    y, cand = make_data()
    holes = cand.copy()
    holes.loc[("0002", 2011), "housing"] = np.nan
    y2 = y.copy()
    y2.loc[("0004", 2014)] = np.nan
    with pytest.raises(
        InputError,
        match=r"drivers period 2010-2012: 1 observation\(s\) have missing values "
        r"\(housing: \('0002', 2011\)\).*on_missing='drop'",
    ):
        drivers(y2, holes, periods=[(2010, 2012), (2013, 2015)])
    with pytest.warns(DroppedRowsWarning, match="missing values left out"):
        res = drivers(y2, holes, periods=[(2010, 2012), (2013, 2015)], on_missing="drop")
    assert res.excluded.to_dict("records") == [
        {"period": "2010-2012", "unit": "0002", "year": 2011, "reason": "missing housing"},
        {"period": "2013-2015", "unit": "0004", "year": 2014, "reason": "missing target"},
    ]
    assert res.fit_statistics()["nobs"].tolist() == [89, 89]
    # equal to dropping the rows by hand
    keep = holes.notna().all(axis=1) & y2.notna()
    ref = drivers(y2[keep], holes[keep], periods=[(2010, 2012), (2013, 2015)])
    pd.testing.assert_frame_equal(res.to_frame(), ref.to_frame())


def test_weight_errors():
    y, cand = make_data()
    w = pd.Series(1.0, index=y.index)
    w.loc[("0001", 2010)] = 0.0
    with pytest.raises(
        InputError,
        match=r"obs_weights must be positive; 1 zero or negative value\(s\) at \('0001', 2010\)",
    ):
        drivers(y, cand, obs_weights=w)


def test_estimation_errors_name_the_period():
    y, cand = make_data(n_units=2)
    with pytest.raises(
        InputError, match="drivers period 2010-2010: 2 observations for 4 regressors"
    ):
        drivers(y, cand, periods=[(2010, 2010)])
    y, cand = make_data()
    with pytest.raises(InputError, match="drivers period 2010-2015: the regressors are collinear"):
        drivers(y, cand.assign(housing2=2 * cand["housing"]))
