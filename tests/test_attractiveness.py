"""Attractiveness index, cumulation and rankings (hand calculations on small inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.attractiveness import attractiveness, cumulate, rankings, region_attractiveness
from geoattr.exceptions import InputError
from geoattr.models.ols import estimate


def _att():
    idx = pd.MultiIndex.from_product([["a", "b", "c", "d"], [2001, 2002]], names=["unit", "year"])
    res = np.array([1.0, 0.5, -0.2, -0.3, 0.4, 0.4, -1.0, 0.1])
    pop = np.array([100, 100, 200, 200, 1000, 1000, 50, 50], dtype=float)
    return pd.DataFrame({"residual": res, "population": pop, "residual_persons": res * pop / 100}, index=idx)


def test_cumulate_sums_by_hand():
    c = cumulate(_att())
    assert c.loc["a", "residual"] == pytest.approx(1.5)
    assert c.loc["c", "residual_persons"] == pytest.approx(0.4 * 10 * 2)
    assert c.loc["d", "mean_residual"] == pytest.approx(-0.45)
    assert c["n_years"].eq(2).all()
    c1 = cumulate(_att(), years=(2002, 2002))
    assert c1.loc["b", "residual"] == pytest.approx(-0.3)


def test_cumulate_missing_years():
    with pytest.raises(InputError, match=r"years 2003 are not in the attractiveness table \(it covers 2001-2002\)"):
        cumulate(_att(), years=(2002, 2003))


def test_rankings_top_and_bottom():
    c = cumulate(_att())
    r = rankings(c, n=2, names=pd.Series({"a": "A", "b": "B", "c": "C", "d": "D"}))
    top = r[r.list == "top"]
    bottom = r[r.list == "bottom"]
    # cumulative residuals: a 1.5, c 0.8, b -0.5, d -0.9
    assert list(top.unit) == ["a", "c"] and list(top["rank"]) == [1, 2]
    assert list(bottom.unit) == ["d", "b"] and list(bottom["rank"]) == [4, 3]
    assert list(top.name) == ["A", "C"]
    r2 = rankings(c, n=1, by="residual_persons")
    assert r2.iloc[0].unit == "c"  # 0.8 % of 1000 people = 8 persons beats 1.5 % of 100
    with pytest.raises(InputError, match="cannot rank by 'foo'"):
        rankings(c, by="foo")


def test_attractiveness_is_actual_minus_expected(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2005))
    att = attractiveness(fit)
    np.testing.assert_allclose(att["residual"], fit.results.resids, rtol=1e-12)
    np.testing.assert_allclose(att["residual_persons"], att["residual"] * att["population"] / 100, rtol=1e-12)
    # OLS with a constant: residuals sum to zero
    assert att["residual"].sum() == pytest.approx(0, abs=1e-9)


def test_region_attractiveness_population_weighted(toy_data):
    fit = estimate(toy_data, ["vra"], years=(2003, 2005))
    att = attractiveness(fit)
    ra = region_attractiveness(fit, att)
    a = att.xs(2004, level="year")
    w = a.loc[["0101", "0102"], "population"]
    expect = (a.loc[["0101", "0102"], "residual"] * w).sum() / w.sum()
    assert ra.loc[("R1", 2004), "residual"] == pytest.approx(expect, rel=1e-12)
    assert ra.loc[("R2", 2004), "residual"] == pytest.approx(a.loc["0103", "residual"], rel=1e-12)
    # region-level estimation: region residuals are the region model's own
    rfit = estimate(toy_data, ["vra"], unit_level="region", years=(2003, 2005))
    rr = region_attractiveness(rfit)
    np.testing.assert_allclose(rr["residual"], rfit.results.resids, rtol=1e-12)
