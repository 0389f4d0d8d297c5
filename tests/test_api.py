"""The `geoattr.fit` front door: formulas, lags, spatial lags of X, panel models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from geoattr.exceptions import InputError
from geoattr.models.api import fit, parse_formula
from geoattr.weights.lag import spatial_lag


def _df(n=30, t=5, seed=2):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([[f"{i:03d}" for i in range(n)], range(2000, 2000 + t)], names=["unit", "year"])
    df = pd.DataFrame({"x": rng.normal(size=len(idx)), "z": rng.normal(size=len(idx))}, index=idx)
    df["y"] = 1 + 0.5 * df["x"] - df["z"] + rng.normal(size=len(idx))
    df["population"] = 1000.0
    return df


def _ring(n=30):
    ids = [f"{i:03d}" for i in range(n)]
    focal = ids + ids
    nb = [ids[(i + 1) % n] for i in range(n)] + [ids[i - 1] for i in range(n)]
    return Graph.from_arrays(focal, nb, np.full(2 * n, 0.5))


def test_parse_formula():
    lhs, terms, const = parse_formula("y ~ x + lag(z, 2) + W(x) + W(lag(z,1)) - 1")
    assert lhs == "y" and not const
    assert [t.name for t in terms] == ["x", "z_l2", "W_x", "W_z_l1"]
    for bad, msg in [("y = x", "formula must look like"), ("y ~ x + log(z)", r"cannot read the term 'log\(z\)'"),
                     ("y z ~ x", "left-hand side must be one column name")]:
        with pytest.raises(InputError, match=msg):
            parse_formula(bad)


def test_ols_formula_equals_lstsq_and_lags():
    df = _df()
    r = fit("y ~ x + lag(z, 1)", df, cov_type="unadjusted")
    zl = df["z"].groupby(level="unit").shift(1)
    ok = zl.notna()
    X = np.column_stack([np.ones(ok.sum()), df["x"][ok], zl[ok]])
    b = np.linalg.lstsq(X, df["y"][ok].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(r.params.to_numpy(), b, rtol=1e-10)
    assert list(r.params.index) == ["const", "x", "z_l1"]
    assert r.nobs == 30 * 4
    assert any("30 row(s)" in n for n in r.notes)


def test_spatial_lag_by_hand():
    df = _df()
    g = _ring()
    wx = spatial_lag(df["x"], g)
    # hand: mean of the two ring neighbours in the same year
    v = 0.5 * (df.loc[("001", 2003), "x"] + df.loc[("029", 2003), "x"])
    assert wx[("000", 2003)] == pytest.approx(v, rel=1e-12)
    r = fit("y ~ x + z", df, model="slx", weights=g)
    assert list(r.params.index) == ["const", "x", "z", "W_x", "W_z"]


def test_spatial_lag_needs_balanced_panel():
    df = _df().drop(index=("005", 2002))
    with pytest.raises(InputError, match=r"1 \(unit, year\) value\(s\) are missing: \('005', 2002\)"):
        spatial_lag(df["x"], _ring())


def test_panel_models_through_front_door():
    df = _df()
    fe = fit("y ~ x + z", df, model="fe", effects="twoway")
    assert set(fe.params.index) >= {"x", "z"} and fe.model == "fe"
    re = fit("y ~ x + z", df, model="re")
    fd = fit("y ~ x + z", df, model="fd", cov_type="robust")
    assert "const" not in fd.params.index
    assert re.nobs == 150 and fd.nobs == 120
    wls = fit("y ~ x + z", df, obs_weights="population")
    np.testing.assert_allclose(wls.params, fit("y ~ x + z", df).params, rtol=1e-10)  # equal weights


def test_front_door_errors():
    df = _df()
    with pytest.raises(InputError, match="unknown model 'gmm'"):
        fit("y ~ x", df, model="gmm")
    with pytest.raises(InputError, match=r"column\(s\) \['q'\] are not in the data"):
        fit("y ~ q", df)
    with pytest.raises(InputError, match="needs weights="):
        fit("y ~ x", df, model="slx")
    with pytest.raises(InputError, match=r"options \['years'\] apply to PanelData input only"):
        fit("y ~ x", df, years=(2000, 2003))
    with pytest.raises(InputError, match="indexed by \\(unit, year\\)"):
        fit("y ~ x", df.reset_index())


def test_front_door_with_panel_data(toy_data):
    r = fit("y ~ vra + centrality", toy_data, years=(2003, 2005), cov_type="robust")
    assert list(r.params.index) == ["const", "vra", "centrality"] and r.nobs == 9


def test_front_doors_in_the_top_level_namespace():
    import geoattr
    from geoattr.compare import compare as compare_fn

    assert geoattr.fit is fit
    assert geoattr.compare is compare_fn
    with pytest.raises(InputError, match="unknown model 'sar_xx'"):
        geoattr.fit("y ~ x", pd.DataFrame({"y": [1.0], "x": [2.0]}), model="sar_xx")
