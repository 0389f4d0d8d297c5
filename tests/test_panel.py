"""Panel estimators against hand calculations (within, first-difference, quasi-demeaning)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geoattr.exceptions import InputError
from geoattr.models.panel import fit_panel, hausman


def _panel(n=40, t=6, seed=3, corr=0.0):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([[f"{i:04d}" for i in range(n)], range(2005, 2005 + t)], names=["unit", "year"])
    a = np.repeat(rng.normal(size=n), t)
    x1 = rng.normal(size=n * t) + corr * a
    x2 = rng.normal(size=n * t)
    X = pd.DataFrame({"const": 1.0, "x1": x1, "x2": x2}, index=idx)
    y = pd.Series(0.5 + 1.0 * x1 - 0.5 * x2 + a + rng.normal(size=n * t), index=idx, name="y")
    return y, X


def _demean(df, level):
    return df - df.groupby(level=level).transform("mean")


def test_fixed_effects_equal_within_ols():
    y, X = _panel()
    r = fit_panel(y, X, model="fe", effects="unit", cov_type="unadjusted")
    Xw, yw = _demean(X[["x1", "x2"]], "unit").to_numpy(), _demean(y, "unit").to_numpy()
    b = np.linalg.lstsq(Xw, yw, rcond=None)[0]  # hand within estimator
    np.testing.assert_allclose(r.params[["x1", "x2"]].to_numpy(), b, rtol=1e-10)
    assert r.resids.index.equals(y.index)
    e = yw - Xw @ b
    np.testing.assert_allclose(r.resids.to_numpy(), e, atol=1e-10)


def test_two_way_fixed_effects_balanced_double_demeaning():
    y, X = _panel()
    r = fit_panel(y, X, model="fe", effects="twoway", cov_type="clustered")

    def dd(s):
        return s - s.groupby(level="unit").transform("mean") - s.groupby(level="year").transform("mean") + s.mean()

    Xw = np.column_stack([dd(X[c]) for c in ["x1", "x2"]])
    b = np.linalg.lstsq(Xw, dd(y).to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(r.params[["x1", "x2"]].to_numpy(), b, rtol=1e-9)


def test_first_differences_equal_ols_on_differences():
    y, X = _panel()
    r = fit_panel(y, X, model="fd", cov_type="robust")
    dX = X[["x1", "x2"]].groupby(level="unit").diff().dropna()
    dy = y.groupby(level="unit").diff().dropna()
    b = np.linalg.lstsq(dX.to_numpy(), dy.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(r.params.to_numpy(), b, rtol=1e-10)
    assert "const" not in r.params.index
    assert r.nobs == 40 * 5


def test_random_effects_is_quasi_demeaned_ols():
    y, X = _panel()
    r = fit_panel(y, X, model="re", cov_type="unadjusted")
    from linearmodels.panel import RandomEffects

    theta = float(RandomEffects(y, X).fit().theta.iloc[0, 0])
    Xq = X - theta * X.groupby(level="unit").transform("mean")
    yq = y - theta * y.groupby(level="unit").transform("mean")
    b = np.linalg.lstsq(Xq.to_numpy(), yq.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(r.params.to_numpy(), b, rtol=1e-8)


def test_hausman_by_hand_and_power():
    y, X = _panel(n=200, corr=1.5)
    fe = fit_panel(y, X, model="fe", cov_type="unadjusted")
    re = fit_panel(y, X, model="re", cov_type="unadjusted")
    h = hausman(fe, re)
    d = (fe.params[["x1", "x2"]] - re.params[["x1", "x2"]]).to_numpy()
    V = fe.cov.loc[["x1", "x2"], ["x1", "x2"]].to_numpy() - re.cov.loc[["x1", "x2"], ["x1", "x2"]].to_numpy()
    assert h.statistic == pytest.approx(float(d @ np.linalg.pinv(V) @ d), rel=1e-10)
    assert h.pvalue == pytest.approx(stats.chi2.sf(h.statistic, h.df), rel=1e-10)
    assert h.pvalue < 0.01  # effects correlated with x1 by construction
    y0, X0 = _panel(corr=0.0, seed=11)
    h0 = hausman(fit_panel(y0, X0, model="fe", cov_type="unadjusted"), fit_panel(y0, X0, model="re", cov_type="unadjusted"))
    assert h0.pvalue > 0.01


def test_panel_bad_input():
    y, X = _panel()
    with pytest.raises(ValueError, match="model must be 'fe', 're' or 'fd'"):
        fit_panel(y, X, model="be")
    with pytest.raises(ValueError, match="cov_type must be one of"):
        fit_panel(y, X, model="fe", cov_type="hac")
    with pytest.raises(InputError, match="random effects are unit effects"):
        fit_panel(y, X, model="re", effects="time")
    one = y.index[:1]
    y1 = pd.concat([y, pd.Series([1.0], index=pd.MultiIndex.from_tuples([("9999", 2005)], names=["unit", "year"]))])
    X1 = pd.concat([X, X.loc[one].set_axis(pd.MultiIndex.from_tuples([("9999", 2005)], names=["unit", "year"]))])
    with pytest.raises(InputError, match=r"1 unit\(s\) have a single year.*'9999'"):
        fit_panel(y1, X1, model="fe")


def test_fixed_effects_drop_time_invariant_regressors_with_a_note():
    y, X = _panel()
    X = X.assign(centrality=np.repeat(np.arange(40, dtype=float), 6))
    r = fit_panel(y, X, model="fe")
    assert "centrality" not in r.params.index
    assert any("absorbed by the unit effects and dropped: ['centrality']" in n for n in r.notes)
