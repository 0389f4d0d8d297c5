"""Shift-share instrument by hand and 2SLS through the front door."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.exceptions import InputError
from geoattr.instruments import shift_share
from geoattr.models.api import fit


def _emp():
    rows = [("A", 2000, "fish", 80), ("A", 2000, "it", 20), ("B", 2000, "fish", 10), ("B", 2000, "it", 90),
            ("A", 2001, "fish", 60), ("A", 2001, "it", 30), ("B", 2001, "fish", 20), ("B", 2001, "it", 135)]
    return pd.DataFrame(rows, columns=["unit", "year", "industry", "jobs"])


def test_shift_share_by_hand():
    b = shift_share(_emp(), base_year=2000, leave_one_out=False, relative=False)
    # national growth: fish 90 -> 80 (-11.11 %), it 110 -> 165 (+50 %); shares A .8/.2, B .1/.9
    g_fish, g_it = 100 * (80 / 90 - 1), 100 * (165 / 110 - 1)
    assert b[("A", 2001)] == pytest.approx(0.8 * g_fish + 0.2 * g_it, rel=1e-12)
    assert b[("B", 2001)] == pytest.approx(0.1 * g_fish + 0.9 * g_it, rel=1e-12)
    loo = shift_share(_emp(), base_year=2000, relative=False)
    # leave one out: for A the national growth is B's own: fish 10 -> 20, it 90 -> 135
    assert loo[("A", 2001)] == pytest.approx(0.8 * 100 + 0.2 * 50, rel=1e-12)
    rel = shift_share(_emp(), base_year=2000, leave_one_out=False)
    assert rel[("A", 2001)] == pytest.approx(b[("A", 2001)] - 100 * (245 / 200 - 1), rel=1e-12)
    with pytest.raises(InputError, match="base_year 1999 is not in the employment table"):
        shift_share(_emp(), base_year=1999)


def test_two_stage_least_squares_recovers_truth():
    rng = np.random.default_rng(9)
    n, t = 300, 4
    idx = pd.MultiIndex.from_product([[f"{i:03d}" for i in range(n)], range(2001, 2001 + t)], names=["unit", "year"])
    z = rng.normal(size=len(idx))
    u = rng.normal(size=len(idx))
    x = z + 0.8 * u + rng.normal(size=len(idx)) * 0.5  # endogenous: correlated with the error u
    df = pd.DataFrame({"y": 1 + 0.5 * x + u, "x": x, "z": z}, index=idx)
    ols = fit("y ~ x", df)
    iv = fit("y ~ x", df, model="iv", endog=["x"], instruments=["z"])
    # generator truth 0.5: OLS is biased upward, 2SLS within 3 standard errors
    assert ols.params["x"] > 0.7
    assert abs(iv.params["x"] - 0.5) < 3 * iv.std_errors["x"]
    assert "first-stage" in " ".join(iv.notes)
    with pytest.raises(InputError, match="model='iv' needs endog= and instruments="):
        fit("y ~ x", df, model="iv")
