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


# --------------------------------------------------------------------------- cross-sections
from pathlib import Path  # noqa: E402

import geopandas as gpd  # noqa: E402

from tests.conftest import square_grid  # noqa: E402

RES = Path(__file__).resolve().parent / "results"
CROSS_MODELS = ["ols", "slx", "sar", "sem", "sdm", "sdem", "sac", "gmm_lag", "gmm_error"]


def _cross_data():
    return pd.read_csv(RES / "spatial_data.csv", dtype={"unit": str}).set_index("unit")


def _queen():
    e = pd.read_csv(RES / "spatial_weights_queen.csv", dtype={"focal": str, "neighbor": str})
    return Graph.from_adjacency(e, "focal", "neighbor", "weight")


@pytest.mark.parametrize("model", CROSS_MODELS)
def test_cross_section_equals_the_panel_path_with_one_year(model):
    """A unit-indexed DataFrame fits every cross-sectional model; the numbers equal the same model
    fitted on the data with one fake year (1e-10), and the results are on the unit index."""
    df, g = _cross_data(), _queen()
    panel = df.assign(year=2020).set_index("year", append=True)
    ref = fit("y ~ x1 + x2", panel, model=model, weights=g)
    r = fit("y ~ x1 + x2", df, model=model, weights=g)
    np.testing.assert_allclose(r.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(r.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-10, atol=1e-14)
    assert list(r.params.index) == list(ref.params.index)
    for got, want in ((r.resids, ref.resids), (r.fitted_values, ref.fitted_values), (r.y, ref.y)):
        assert got.index.equals(df.index) and got.index.name == "unit"
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-10, atol=1e-12)
    assert r.nobs == len(df)


def test_cross_section_aligns_the_weights_to_the_index():
    df, g = _cross_data(), _queen()
    shuffled = df.sample(frac=1.0, random_state=3)
    a = fit("y ~ x1 + x2", df, model="sar", weights=g)
    b = fit("y ~ x1 + x2", shuffled, model="sar", weights=g)
    np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=1e-8)
    assert b.resids.index.equals(shuffled.index)
    np.testing.assert_allclose(b.resids.reindex(df.index).to_numpy(), a.resids.to_numpy(), rtol=1e-6, atol=1e-9)
    with pytest.raises(InputError, match=r"1 unit\(s\) of the data are not in weights \('999'\)"):
        fit("y ~ x1", pd.concat([df, df.iloc[[0]].rename(index={"000": "999"})]), model="sar", weights=g)
    with pytest.raises(InputError, match=r"2 id\(s\) of weights are not in the data \('000', '001'\)"):
        fit("y ~ x1", df.drop(index=["000", "001"]), model="sem", weights=g)
    with pytest.raises(InputError, match=r"model='fe' needs a panel indexed by \(unit, year\)"):
        fit("y ~ x1", df, model="fe")
    with pytest.raises(InputError, match=r"time lags \['x1_l1'\] need a panel"):
        fit("y ~ lag(x1, 1)", df)


def test_cross_section_obs_weights_and_wls_message():
    df = _cross_data().assign(population=np.linspace(100, 1000, 225))
    a = fit("y ~ x1 + x2", df, obs_weights="population", cov_type="robust")
    b = fit("y ~ x1 + x2", df, obs_weights=df["population"] * 3, cov_type="robust")
    assert a.model == "wls"
    np.testing.assert_allclose(b.params.to_numpy(), a.params.to_numpy(), rtol=1e-10)
    with pytest.raises(InputError, match="obs_weights='population'"):
        fit("y ~ x1", df, model="wls")


def test_explore_maps_the_residuals_of_a_geodataframe_fit():
    df, g = _cross_data(), _queen()
    gdf = gpd.GeoDataFrame(df, geometry=square_grid(15).geometry.reindex(df.index))
    r = fit("y ~ x1 + x2", gdf, model="sar", weights=g)
    m = r.explore(tooltip=["resids", "fitted_values"])
    html = m.get_root().render()
    # the tooltip fields, the colour-scale caption (the mapped column) and the GeoJSON layer
    for s in ('let fields = ["resids", "fitted_values"]', '.text("resids")', "geo_json"):
        assert s in html, s
    assert "resids" not in gdf.columns  # the input is not mutated
    m2 = r.explore(column="fitted_values")
    assert "fitted_values" in m2.get_root().render()
    with pytest.raises(InputError, match="pass a GeoDataFrame"):
        fit("y ~ x1 + x2", df, model="sar", weights=g).explore()


def test_results_are_constructed_once():
    df, g = _cross_data(), _queen()
    r = fit("y ~ x1 + x2", df, model="sar", weights=g)
    for name in ("model", "_params", "_traces"):
        with pytest.raises(AttributeError, match="immutable"):
            setattr(r, name, None)
    a = r.impacts(draws=0)
    pd.testing.assert_frame_equal(r.impacts(draws=0), a)  # traces cached without mutation
    r2 = r.replace(add_notes=["checked"])
    assert r2.notes[-1] == "checked" and "checked" not in r.notes
    assert r2.resids.index.equals(df.index)
