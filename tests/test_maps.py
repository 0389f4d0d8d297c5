"""Web maps (geoattr.report.maps): layers, legends, tooltips, LISA, simplification, size, assets, errors.

The browser behaviour (drawing, hovering, switching layers, the slider) is tested in
tests/test_browser.py; here the map's content is read back from the generated HTML:
the embedded geometry (``geoattr.decode({...})``) and each layer's payload
(``geoattr.layer(map, data, {...})``).
"""

from __future__ import annotations

import copy
import json
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geoattr.exceptions import InputError
from geoattr.lisa import lisa_table
from geoattr.report.maps import (
    LISA_CLUSTERS,
    MapInfo,
    attractiveness_map,
    residual_map,
    simplify_polygons,
    vendored_leaflet_version,
)

YEARS = [2010, 2011, 2012, 2013]


# --------------------------------------------------------------------------- helpers
def grid(side: int = 6, size: float = 10_000.0, crs=25833) -> gpd.GeoDataFrame:
    """side x side squares of ``size`` metres in UTM 33 (southern Norway), ids '0000'..."""
    x0, y0 = 200_000.0, 6_600_000.0
    polys = [
        box(
            x0 + (k % side) * size,
            y0 + (k // side) * size,
            x0 + (k % side + 1) * size,
            y0 + (k // side + 1) * size,
        )
        for k in range(side * side)
    ]
    ids = pd.Index([f"{k:04d}" for k in range(side * side)], name="unit")
    return gpd.GeoDataFrame(
        {"name": [f"Unit {k}" for k in range(side * side)]}, geometry=polys, index=ids, crs=crs
    )


def frames(ids, seed: int = 0):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([ids, YEARS], names=["unit", "year"])
    att = pd.DataFrame({"actual": rng.normal(0, 1, len(idx))}, index=idx)
    att["expected"] = rng.normal(0, 0.5, len(idx))
    att["residual"] = att["actual"] - att["expected"]
    att["residual_persons"] = att["residual"] * 40
    cum = att.groupby(level="unit").sum()
    return cum, att


def render(fmap) -> str:
    return fmap.get_root().render()


def payloads(fmap) -> tuple[dict, dict]:
    """(embedded data, {layer name: layer payload}) read back from the HTML."""
    html = render(fmap)
    data = [json.loads(m) for m in re.findall(r"geoattr\.decode\((.*)\);$", html, re.M)]
    layers = [json.loads(m) for m in re.findall(r"geoattr\.layer\(\w+, \w+, (.*)\);$", html, re.M)]
    assert len(data) == 1
    return data[0], {p["name"]: p for p in layers}


def decode(data: dict) -> list:
    """Python twin of geoattr.decode: unit -> shapely MultiPolygon in EPSG:4326."""
    out = []
    for polys in data["geom"]:
        parts = []
        for rings in polys:
            decoded = []
            for r in rings:
                xy = np.cumsum(np.asarray(r, dtype=np.int64).reshape(-1, 2), axis=0) / data["scale"]
                decoded.append(np.vstack([xy, xy[:1]]))
            parts.append(Polygon(decoded[0], decoded[1:]))
        out.append(MultiPolygon(parts))
    return out


@pytest.fixture(scope="module")
def small():
    g = grid()
    cum, att = frames(g.index)
    return g, cum, att


# --------------------------------------------------------------------------- layers and payloads
def test_layers_legends_and_shared_diverging_scale(small):
    g, cum, att = small
    specs = {"SAR": att["residual"] * 0.5, "SEM": att["residual"] * 2.0}
    fmap = residual_map(g, cum, residuals=specs, yearly=att, permutations=99)
    info = fmap.geoattr_info
    assert isinstance(info, MapInfo)
    assert info.layers == [
        "Attractiveness (cumulative residual)",
        "Residual: SAR",
        "Residual: SEM",
        "Attractiveness by year",
        "LISA clusters: residual",
    ]
    data, lay = payloads(fmap)
    assert list(lay) == info.layers
    # one symmetric scale for the cumulative residual and the compared specifications
    spec_sums = [s.groupby(level="unit").sum() for s in specs.values()]
    m = max(np.abs(cum["residual"]).max(), *[np.abs(s).max() for s in spec_sums])
    for name in info.layers[:3]:
        assert lay[name]["vmax"] == pytest.approx(m, rel=1e-12)
        assert lay[name]["kind"] == "continuous"
    # the SEM residuals are twice the cumulative ones: they set the scale
    assert m == pytest.approx(2 * np.abs(cum["residual"]).max(), rel=1e-12)
    # per-year layer: its own symmetric scale over all years
    assert lay["Attractiveness by year"]["vmax"] == pytest.approx(
        np.abs(att["residual"]).max(), rel=1e-12
    )
    # diverging RdBu: red at -vmax, near-white at 0, blue at +vmax
    stops = lay[info.layers[0]]["stops"]
    assert len(stops) == 11 and stops[0] == "#67001f" and stops[-1] == "#053061"
    assert all(int(stops[5][k : k + 2], 16) >= 0xF0 for k in (1, 3, 5))  # near-white at zero
    # only the first layer is shown on opening; each layer has a legend title
    html = render(fmap)
    shown = re.findall(r"^\s*(\w+)\.addTo\(", html, re.M)
    layer_vars = re.findall(r"^\s*var (\w+) = geoattr\.layer\(", html, re.M)
    assert [v for v in shown if v in layer_vars] == [layer_vars[0]]
    assert all(p["legend"]["title"] for p in lay.values())
    assert '"collapsed": false' in html  # the layer control is open


def test_tooltip_fields_and_values(small):
    g, cum, att = small
    fmap = residual_map(g, cum, lisa=False)
    data, lay = payloads(fmap)
    p = lay["Attractiveness (cumulative residual)"]
    assert [f[0] for f in p["fields"]] == [
        "Observed (pp)",
        "Expected (pp)",
        "Residual (pp)",
        "Residual (persons)",
        "Rank",
    ]
    np.testing.assert_allclose(p["values"]["residual"], cum["residual"].round(3), atol=1e-12)
    np.testing.assert_allclose(p["values"]["expected"], cum["expected"].round(3), atol=1e-12)
    np.testing.assert_allclose(data["shared"]["observed"], cum["actual"].round(3), atol=1e-12)
    assert data["ids"] == list(g.index) and data["names"] == list(g["name"])
    assert p["rank"] is None  # ranked in the browser by the residual
    assert p["profile"] == "profiles/{page}"


def test_rank_column_and_extra_tooltip_columns_pass_through(small):
    g, cum, _ = small
    vals = cum.assign(
        rank=cum["residual"].rank(ascending=False, method="min").astype(int),
        share=np.linspace(0, 1, len(cum)),
    )
    data, lay = payloads(residual_map(g, vals, lisa=False, tooltip=["share"]))
    p = lay["Attractiveness (cumulative residual)"]
    assert p["rank"] == vals["rank"].tolist()
    assert ["share", "x:share", 3] in p["fields"]
    np.testing.assert_allclose(p["values"]["x:share"], vals["share"].round(3))


def test_residuals_by_unit_and_year_are_summed_and_missing_units_shown_as_no_value(small):
    g, cum, att = small
    partial = att["residual"].drop(index=["0000", "0001"], level="unit") * 0.3
    per_unit = cum["residual"].iloc[5:] * -1.0  # a unit index, first five units missing
    _, lay = payloads(residual_map(g, cum, residuals={"a": partial, "b": per_unit}, lisa=False))
    a, b = lay["Residual: a"], lay["Residual: b"]
    expect = partial.groupby(level="unit").sum().reindex(g.index)
    assert a["values"]["residual"][:2] == [None, None]
    np.testing.assert_allclose(a["values"]["residual"][2:], expect.iloc[2:].round(3), atol=1e-12)
    assert b["values"]["residual"][:5] == [None] * 5
    assert a["legend"]["missing"] and b["legend"]["missing"]
    assert not lay["Attractiveness (cumulative residual)"]["legend"]["missing"]
    # expected = observed - residual is derived in the browser, not stored
    assert a["derive"] is True and "expected" not in a["values"]


def test_specification_over_fewer_years_gets_its_own_observed_values(small):
    g, cum, att = small
    last2 = att["residual"][att.index.get_level_values("year") >= 2012] * 0.5
    full = att["residual"] * 0.5
    _, lay = payloads(
        residual_map(g, cum, residuals={"last2": last2, "full": full}, yearly=att, lisa=False)
    )
    short, whole = lay["Residual: last2"], lay["Residual: full"]
    want = att.loc[att.index.get_level_values("year") >= 2012, "actual"].groupby(level="unit").sum()
    np.testing.assert_allclose(short["values"]["observed"], want.reindex(g.index).round(3))
    assert "observed" not in whole["values"]  # same rows as the cumulative layer: shared values
    assert "2012-2013" in short["legend"]["title"] and "2010-2013" in whole["legend"]["title"]
    assert short["derive"] and whole["derive"]


def test_yearly_payload(small):
    g, cum, att = small
    gappy = att.drop(index=("0003", 2011))
    _, lay = payloads(residual_map(g, cum, yearly=gappy, lisa=False))
    p = lay["Attractiveness by year"]
    assert p["years"] == YEARS
    res = np.array(p["yearly"]["residual"], dtype=float)
    assert res.shape == (len(YEARS), len(g))
    assert np.isnan(res[1, 3]) and p["legend"]["missing"]
    want = att["residual"].unstack("year").reindex(g.index)[2012].round(3)
    np.testing.assert_allclose(res[2], want, atol=1e-12)
    assert p["derive"] is True and "expected" not in p["yearly"] and "persons" in p["yearly"]
    # expected not equal to actual - residual: stored as given
    odd = att.assign(expected=att["expected"] + 1.0)
    _, lay = payloads(residual_map(g, cum, yearly=odd, lisa=False))
    assert lay["Attractiveness by year"]["derive"] is False
    np.testing.assert_allclose(
        lay["Attractiveness by year"]["yearly"]["expected"][0],
        odd["expected"].unstack("year")[2010].round(3),
    )


def test_names_profile_links_and_map_info(small, tmp_path):
    g, cum, _ = small
    path = tmp_path / "m.html"
    fmap = residual_map(
        g.drop(columns="name"),
        cum,
        lisa=False,
        names={"0000": "Oslo", "0001": "Bergen"},
        profile_links="../units/{unit}/index.html",
        path=path,
    )
    data, lay = payloads(fmap)
    assert data["names"][:3] == ["Oslo", "Bergen", "0002"]
    assert lay["Attractiveness (cumulative residual)"]["profile"] == "../units/{unit}/index.html"
    info = fmap.geoattr_info
    assert info.html_bytes == path.stat().st_size and info.n_units == 36
    assert info.renderer == "svg" and info.self_contained is False
    _, lay = payloads(residual_map(g, cum, lisa=False, profile_links=None))
    assert lay["Attractiveness (cumulative residual)"]["profile"] is None


def test_renderer_auto_switches_to_canvas_for_many_units():
    g = grid(side=56, size=5_000.0)  # 3,136 units
    vals = pd.DataFrame({"residual": np.random.default_rng(1).normal(size=len(g))}, index=g.index)
    fmap = residual_map(g, vals, lisa=False)
    assert fmap.geoattr_info.renderer == "canvas"
    assert '"preferCanvas": true' in render(fmap)
    assert residual_map(g.iloc[:100], vals.iloc[:100], lisa=False).geoattr_info.renderer == "svg"


def test_inputs_are_not_mutated(small):
    g, cum, att = small
    specs = {"x": att["residual"] * 0.1}
    before = (g.copy(), cum.copy(), att.copy(), {k: v.copy() for k, v in specs.items()})
    names = pd.Series({"0000": "A"})
    names_before = names.copy()
    residual_map(g, cum, residuals=specs, yearly=att, names=names, permutations=99)
    pd.testing.assert_frame_equal(g, before[0])
    pd.testing.assert_frame_equal(cum, before[1])
    pd.testing.assert_frame_equal(att, before[2])
    pd.testing.assert_series_equal(specs["x"], before[3]["x"])
    pd.testing.assert_series_equal(names, names_before)


# --------------------------------------------------------------------------- LISA
def _two_blocks(side=10, seed=0):
    """High block (+3) in one corner, low block (-3) in the opposite one, noise elsewhere."""
    g = grid(side)
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.3, side * side)
    for k in range(side * side):
        i, j = k % side, k // side
        if i < 3 and j < 3:
            v[k] += 3.0
        if i >= side - 3 and j >= side - 3:
            v[k] -= 3.0
    return g, pd.Series(v, index=g.index)


def test_lisa_finds_planted_hot_and_cold_spots():
    from libpysal.graph import Graph

    g, v = _two_blocks()
    t = lisa_table(v, Graph.build_contiguity(g, rook=False), permutations=999, seed=1, fdr=None,
                   alternative="directed")
    assert list(t.columns) == [
        "value",
        "Is",
        "p_sim",
        "n_neighbours",
        "quadrant",
        "significant",
        "cluster",
        "p_value",
        "test",
    ]
    assert t.loc["0011", "cluster"] == "HH"  # centre of the high block (1, 1)
    assert t.loc["0088", "cluster"] == "LL"  # centre of the low block (8, 8)
    assert t.loc["0011", "p_sim"] <= 0.01
    assert t.loc["0011", "n_neighbours"] == 8 and t.loc["0000", "n_neighbours"] == 3
    assert (t["cluster"] == "HH").sum() >= 4 and (t["cluster"] == "LL").sum() >= 4
    assert t.attrs["threshold"] == 0.05 and t.attrs["permutations"] == 999


def test_lisa_default_is_two_sided_with_fdr_as_esda_computes_them():
    import esda
    from esda.significance import calculate_significance
    from libpysal.graph import Graph

    g, v = _two_blocks(seed=3)
    w = Graph.build_contiguity(g, rook=False)
    t = lisa_table(v, w, permutations=199, seed=7)  # defaults: two-sided p, BH FDR 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ml = esda.Moran_Local(v.to_numpy(), w.transform("r"), permutations=199, seed=7)
    p2 = calculate_significance(ml.Is, ml.rlisas, alternative="two-sided")  # reference: esda itself
    np.testing.assert_allclose(t["p_value"], p2, rtol=1e-12)
    assert (t["p_value"] >= t["p_sim"] - 1e-12).all()  # two-sided is never smaller than the folded p
    thr = esda.fdr(p2, 0.05)
    assert t.attrs["threshold"] == pytest.approx(thr) and t.attrs["alternative"] == "two-sided"
    np.testing.assert_array_equal(t["significant"], p2 <= thr)
    assert t["test"].iloc[0] == f"two-sided permutation p, BH FDR 0.05 (p <= {thr:.3g})"
    with pytest.raises(InputError, match=r"alternative must be one of \('two-sided', 'directed'\); 'folded'"):
        lisa_table(v, w, alternative="folded")


def test_lisa_matches_esda_and_is_reproducible():
    import esda
    from libpysal.graph import Graph

    g, v = _two_blocks(seed=3)
    w = Graph.build_contiguity(g, rook=False)
    t = lisa_table(v, w, permutations=199, seed=7, fdr=None, alternative="directed")  # esda's folded p_sim
    with warnings.catch_warnings():  # esda's notice about a future default alternative
        warnings.simplefilter("ignore", DeprecationWarning)
        ml = esda.Moran_Local(v.to_numpy(), w.transform("r"), permutations=199, seed=7)
    np.testing.assert_allclose(t["Is"], ml.Is, rtol=1e-12)
    np.testing.assert_array_equal(t["p_sim"], ml.p_sim)
    quad = pd.Series(ml.q).map({1: "HH", 2: "LH", 3: "LL", 4: "HL"}).to_numpy()
    np.testing.assert_array_equal(t["quadrant"].to_numpy(), quad)
    np.testing.assert_array_equal(t["significant"], ml.p_sim <= 0.05)
    np.random.seed(123)
    expected_draw = np.random.random()
    np.random.seed(123)
    again = lisa_table(v, w, permutations=199, seed=7, fdr=None, alternative="directed")
    assert np.random.random() == expected_draw  # numpy's global generator is left alone
    pd.testing.assert_frame_equal(t, again)
    other = lisa_table(v, w, permutations=199, seed=8)
    assert not np.array_equal(other["p_sim"], t["p_sim"])
    # a libpysal W gives the same table as the Graph
    pd.testing.assert_frame_equal(lisa_table(v, w.to_W(), permutations=199, seed=7, fdr=None, alternative="directed"), t)


def test_lisa_fdr_is_stricter_and_uses_esda_threshold():
    import esda
    from libpysal.graph import Graph

    g, v = _two_blocks(seed=5)
    w = Graph.build_contiguity(g, rook=False)
    plain = lisa_table(v, w, permutations=999, seed=2, fdr=None, alternative="directed")
    fdr = lisa_table(v, w, permutations=999, seed=2, fdr=0.05, alternative="directed")
    assert fdr.attrs["threshold"] == pytest.approx(
        esda.fdr(plain["p_sim"].to_numpy(), 0.05), rel=1e-12
    )
    assert fdr.attrs["threshold"] < 0.05
    assert set(fdr.index[fdr["significant"]]) <= set(plain.index[plain["significant"]])
    assert fdr["significant"].sum() < plain["significant"].sum()
    assert fdr["significant"].sum() >= 1  # the planted block centres survive


def test_bh_fallback_equals_esda_fdr():
    import esda

    from geoattr.lisa import bh_threshold

    rng = np.random.default_rng(0)
    for p in [
        rng.uniform(size=200),
        np.r_[rng.uniform(0, 1e-3, 20), rng.uniform(size=180)],
        rng.uniform(0.5, 1, 50),
    ]:
        for q in (0.05, 0.1):
            assert bh_threshold(p, q) == pytest.approx(esda.fdr(p, q), rel=1e-12)


def test_lisa_isolates_are_not_significant():
    from libpysal.graph import Graph

    g = grid(5)
    island = gpd.GeoDataFrame(
        {"name": ["Island"]},
        geometry=[box(500_000, 7_000_000, 505_000, 7_005_000)],
        index=pd.Index(["9999"], name="unit"),
        crs=25833,
    )
    g = pd.concat([g, island])
    v = pd.Series(np.random.default_rng(0).normal(size=len(g)), index=g.index)
    t = lisa_table(v, Graph.build_contiguity(g, rook=False), permutations=99)
    row = t.loc["9999"]
    assert row["cluster"] == "no neighbours" and not row["significant"] and np.isnan(row["p_sim"])
    assert row["n_neighbours"] == 0 and pd.isna(row["quadrant"])
    assert (t["cluster"] == "no neighbours").sum() == 1


def test_lisa_layer_payload(small):
    g, cum, _ = small
    fmap = residual_map(g, cum, permutations=99, fdr=0.1)
    t = fmap.geoattr_info.lisa
    _, lay = payloads(fmap)
    p = lay["LISA clusters: residual"]
    assert p["kind"] == "categorical"
    labels = [c[0] for c in LISA_CLUSTERS]
    assert [labels[k] for k in p["values"]["category"]] == t["cluster"].tolist()
    assert p["legend"]["counts"] == [int((t["cluster"] == c).sum()) for c in labels]
    assert sum(p["legend"]["counts"]) == len(g)
    assert "FDR 0.1" in p["legend"]["title"] and "99 permutations" in p["legend"]["title"]


def test_lisa_default_weights_are_queen_contiguity(small):
    from libpysal.graph import Graph

    g, cum, _ = small
    t = residual_map(g, cum, permutations=99, seed=4).geoattr_info.lisa
    direct = lisa_table(
        cum["residual"], Graph.build_contiguity(g, rook=False), permutations=99, seed=4
    )
    pd.testing.assert_frame_equal(t, direct, check_names=False)
    assert t["n_neighbours"].max() == 8  # queen: diagonal neighbours count


# --------------------------------------------------------------------------- geometry
def test_encode_round_trip_keeps_holes_and_parts():
    from geoattr.report.maps.geometry import encode_geometry

    outer = [(10.0, 60.0), (10.5, 60.0), (10.5, 60.4), (10.0, 60.4)]
    hole = [(10.1, 60.1), (10.2, 60.1), (10.2, 60.2), (10.1, 60.2)]
    mp = MultiPolygon([Polygon(outer, [hole]), box(11.0, 61.0, 11.123456, 61.2)])
    simple = box(5.0, 58.0, 5.3, 58.3)
    enc, vertices = encode_geometry(np.array([mp, simple], dtype=object))
    back = decode({"geom": enc, "scale": 100_000})
    assert len(back[0].geoms) == 2 and len(back[0].geoms[0].interiors) == 1
    assert back[0].area == pytest.approx(mp.area, rel=1e-4)
    assert shapely.hausdorff_distance(back[0], mp) <= 0.5e-5 * np.sqrt(2) + 1e-12
    assert back[1].equals(MultiPolygon([simple]))
    assert vertices == 4 + 4 + 4 + 4  # closing points dropped
    # the ring starts absolute, then deltas (integers, 1e-5 degrees)
    assert enc[1][0][0][:4] == [530_000, 5_800_000, 0, 30_000]  # box() starts at (maxx, miny)


def test_encode_keeps_a_unit_whose_polygon_collapses_when_rounded():
    from geoattr.report.maps.geometry import encode_geometry

    tiny = box(10.0, 60.0, 10.000001, 60.000001)  # 0.1 m: collapses at 1e-5 degrees
    enc, _ = encode_geometry(np.array([tiny, box(0, 0, 1, 1)], dtype=object))
    assert len(enc[0]) == 1 and len(enc[0][0][0]) == 6  # a minimal triangle, still drawn
    tri = decode({"geom": enc, "scale": 100_000})[0]
    assert tri.area > 0 and tri.distance(tiny) < 2e-5


def test_simplify_auto_tolerance_keeps_shared_edges(synthetic_data):
    poly = synthetic_data.polygons
    out, info = simplify_polygons(poly)
    area = shapely.area(np.asarray(poly.to_crs(25833).geometry.values)).sum()
    assert info["tolerance"] == pytest.approx(np.sqrt(area / len(poly)) / 300, rel=1e-9)
    assert info["method"] == "coverage" and info["metric_crs"] == "EPSG:25833"
    assert info["vertices_out"] < info["vertices_in"]
    assert shapely.coverage_is_valid(np.asarray(poly.geometry.values))
    assert shapely.coverage_is_valid(
        np.asarray(out.values)
    )  # no gaps or overlaps between neighbours
    assert out.index.equals(poly.index) and not shapely.is_empty(np.asarray(out.values)).any()


def wiggly_grid(side: int = 4, size: float = 10_000.0, seed: int = 0) -> gpd.GeoDataFrame:
    """A coverage of side x side cells whose shared edges are the same noisy polylines."""
    rng = np.random.default_rng(seed)
    nodes = {
        (i, j): (i * size + rng.normal(0, size / 20), j * size + rng.normal(0, size / 20))
        for i in range(side + 1)
        for j in range(side + 1)
    }
    edges = {}

    def edge(a, b):
        key = (min(a, b), max(a, b))
        if key not in edges:
            p, q = np.array(nodes[key[0]]), np.array(nodes[key[1]])
            t = np.linspace(0, 1, 41)[1:-1]
            normal = np.array([-(q - p)[1], (q - p)[0]]) / np.linalg.norm(q - p)
            offs = rng.normal(0, size / 100, len(t)) * np.sin(np.pi * t)  # tapered at the nodes
            edges[key] = [tuple(p + tt * (q - p) + o * normal) for tt, o in zip(t, offs)]
        pts = edges[key]
        return pts if key[0] == a else pts[::-1]

    cells, ids = [], []
    for i in range(side):
        for j in range(side):
            corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            ring = []
            for a, b in zip(corners, corners[1:] + corners[:1]):
                ring += [nodes[a]] + edge(a, b)
            cells.append(Polygon(ring))
            ids.append(f"{i}{j}")
    return (
        gpd.GeoDataFrame(geometry=cells, index=pd.Index(ids, name="unit"), crs=25833)
        .translate(300_000, 6_700_000)
        .to_frame("geometry")
        .set_geometry("geometry")
    )


def test_coverage_simplification_keeps_a_valid_coverage(monkeypatch):
    g = wiggly_grid()
    arr = np.asarray(g.geometry.values)
    assert shapely.coverage_is_valid(arr) and shapely.is_valid(arr).all()
    out, info = simplify_polygons(g, 100.0)
    assert info["method"] == "coverage" and info["vertices_out"] < 0.8 * info["vertices_in"]
    res = np.asarray(out.values)
    assert shapely.coverage_is_valid(res)  # neighbours still share their (simplified) edges
    assert shapely.area(res).sum() - shapely.union_all(res).area < 1.0  # m2: no overlaps
    assert shapely.get_num_interior_rings(shapely.union_all(res)) == 0  # no gaps
    # without coverage simplification (old GEOS, or a coverage GEOS rejects): per polygon
    monkeypatch.setattr(
        shapely, "coverage_simplify", lambda *a, **k: (_ for _ in ()).throw(ValueError("x"))
    )
    out2, info2 = simplify_polygons(g, 100.0)
    assert info2["method"] == "topology" and info2["vertices_out"] < 0.8 * info2["vertices_in"]
    assert shapely.is_valid(np.asarray(out2.values)).all()


def test_simplify_size_budget_doubles_the_tolerance(synthetic_data):
    poly = synthetic_data.polygons
    vals = pd.DataFrame({"residual": np.linspace(-1, 1, len(poly))}, index=poly.index)
    free = residual_map(poly, vals, lisa=False).geoattr_info
    budget = int(0.9 * free.geometry_bytes)
    tight = residual_map(poly, vals, lisa=False, max_geometry_bytes=budget).geoattr_info
    assert tight.geometry_bytes <= budget < free.geometry_bytes
    assert tight.tolerance >= 2 * free.tolerance and tight.notes == [] == free.notes
    # an unreachable budget: the smallest tolerance of the plateau, and a note
    floor = residual_map(poly, vals, lisa=False, max_geometry_bytes=10_000).geoattr_info
    assert floor.geometry_bytes > 10_000 and "above max_geometry_bytes=10000" in floor.notes[0]
    assert floor.tolerance < 1e5  # not blown up to the size of the country
    fixed = residual_map(poly, vals, lisa=False, simplify=None).geoattr_info
    assert fixed.simplify_method is None and fixed.tolerance is None
    assert fixed.geometry_bytes > free.geometry_bytes


def test_geographic_crs_and_invalid_geometry_are_handled():
    g = grid(4).to_crs(4326)
    bowtie = Polygon([(10.0, 60.0), (10.2, 60.2), (10.2, 60.0), (10.0, 60.2)])  # self-intersecting
    g.loc["0005", "geometry"] = bowtie
    assert not g.loc["0005", "geometry"].is_valid
    vals = pd.DataFrame({"residual": np.arange(16.0) - 8}, index=g.index)
    fmap = residual_map(g, vals, permutations=99)
    info = fmap.geoattr_info
    assert info.metric_crs.startswith("EPSG:326")  # the UTM zone of the data
    data, _ = payloads(fmap)
    shapes = decode(data)
    assert len(shapes) == 16 and all(s.area > 0 for s in shapes)
    assert shapes[5].area == pytest.approx(
        shapely.make_valid(bowtie).area, rel=0.05
    )  # both triangles


# ------------------------------------------------------------------- size and offline assets
def test_full_synthetic_map_is_well_under_3_mb(synthetic_data, tmp_path):
    poly = synthetic_data.polygons
    rng = np.random.default_rng(0)
    idx = pd.MultiIndex.from_product([poly.index, range(2000, 2025)], names=["unit", "year"])
    att = pd.DataFrame(
        {"actual": rng.normal(size=len(idx)), "expected": rng.normal(size=len(idx))}, index=idx
    )
    att["residual"] = att["actual"] - att["expected"]
    cum = att.groupby(level="unit").sum()
    specs = {f"spec {k}": att["residual"] * (k / 4) for k in range(1, 5)}
    path = tmp_path / "map.html"
    fmap = residual_map(poly, cum, residuals=specs, yearly=att, self_contained=True, path=path)
    assert len(fmap.geoattr_info.layers) == 7
    assert path.stat().st_size < 3_000_000


@pytest.mark.realdata
def test_real_norway_map_is_under_3_mb(real_data_dir, tmp_path):
    g = gpd.read_file(real_data_dir / "polygons" / "kommuner_2020.geojson").set_index(
        "kommunenummer"
    )
    g = g.rename(columns={"kommunenavn": "name"})
    assert len(g) == 356
    rng = np.random.default_rng(0)
    idx = pd.MultiIndex.from_product([g.index, range(2000, 2023)], names=["unit", "year"])
    att = pd.DataFrame(
        {"actual": rng.normal(size=len(idx)), "expected": rng.normal(size=len(idx))}, index=idx
    )
    att["residual"] = att["actual"] - att["expected"]
    cum = att.groupby(level="unit").sum()
    path = tmp_path / "norway.html"
    fmap = residual_map(
        g, cum, residuals={"SAR": att["residual"] * 0.5}, yearly=att, self_contained=True, path=path
    )
    info = fmap.geoattr_info
    assert path.stat().st_size < 3_000_000
    assert info.simplify_method == "coverage" and 50 < info.tolerance < 200
    lisa = info.lisa
    # island municipalities have no contiguity neighbours
    assert lisa.loc["1856", "cluster"] == "no neighbours"  # Røst
    assert (lisa["cluster"] == "no neighbours").sum() >= 15


def test_self_contained_html_fetches_nothing(small, tmp_path):
    g, cum, _ = small
    path = tmp_path / "offline.html"
    residual_map(g, cum, lisa=False, self_contained=True, path=path)
    html = path.read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*\bsrc=", html) == []
    assert re.findall(r"<link[^>]*\bhref=", html) == []
    assert re.findall(r"url\((?!data:|#)", html) == []  # every CSS image inlined
    assert f"Leaflet {vendored_leaflet_version()}" in html
    assert "data:image/png;base64," in html
    assert "cdn.jsdelivr" not in html and "code.jquery.com" not in html
    assert "tile.openstreetmap" not in html


def test_cdn_map_uses_folium_links_and_tiles(small):
    import folium.folium

    g, cum, _ = small
    html = render(residual_map(g, cum, lisa=False, tiles="OpenStreetMap"))
    leaflet_url = dict(folium.folium._default_js)["leaflet"]
    assert f'<script src="{leaflet_url}"></script>' in html
    assert "tile.openstreetmap.org" in html
    assert '"Background map"' in html  # an overlay that can be switched off


def test_vendored_leaflet_matches_folium_and_is_licensed():
    from importlib import resources

    import folium.folium

    url = dict(folium.folium._default_js)["leaflet"]
    assert re.search(r"leaflet@([\d.]+)/", url).group(1) == vendored_leaflet_version() == "1.9.3"
    assets = resources.files("geoattr").joinpath("_assets")
    assert "BSD 2-Clause" in assets.joinpath("LICENSE-leaflet.txt").read_text()
    readme = assets.joinpath("README.md").read_text()
    assert "leaflet@1.9.3" in readme
    for name in [
        "leaflet.js",
        "leaflet.css",
        "leaflet-layers.png",
        "leaflet-layers-2x.png",
        "leaflet-marker-icon.png",
        "geoattr-map.js",
    ]:
        assert assets.joinpath(name).is_file()


def test_names_cannot_break_out_of_the_script(small):
    g, cum, _ = small
    evil = g.assign(name=["</script><script>alert(1)</script>"] + list(g["name"].iloc[1:]))
    html = render(residual_map(evil, cum, lisa=False))
    assert "</script><script>alert(1)" not in html
    data, _ = payloads(residual_map(evil, cum, lisa=False))
    assert data["names"][0] == "</script><script>alert(1)</script>"  # escaped in the browser


# --------------------------------------------------------------------------- compatibility
def test_attractiveness_map_keeps_the_pipeline_call_working(small, tmp_path):
    import folium

    g, cum, att = small
    vals = cum
    path = tmp_path / "map.html"
    fmap = attractiveness_map(
        g,
        vals[["actual", "expected", "residual", "residual_persons"]],
        layer_name="Attractiveness 2022 (municipality model), cumulative 2010-2013",
        path=path,
    )
    assert isinstance(fmap, folium.Map) and path.stat().st_size > 10_000
    assert fmap.geoattr_info.layers == [
        "Attractiveness 2022 (municipality model), cumulative 2010-2013"
    ]
    assert fmap.geoattr_info.lisa is None
    assert "tile.openstreetmap.org" in path.read_text()
    offline = attractiveness_map(g, vals[["residual"]], self_contained=True, yearly=att)
    assert offline.geoattr_info.self_contained and len(offline.geoattr_info.layers) == 2


# --------------------------------------------------------------------------- errors
def _err_cases():
    g = grid(3)
    cum, att = frames(g.index)
    no_crs = gpd.GeoDataFrame(g.drop(columns="geometry"), geometry=list(g.geometry))
    none_geom = g.copy()
    none_geom.loc["0004", "geometry"] = None
    point = g.copy()
    point.loc["0002", "geometry"] = shapely.Point(0, 0)
    dup = pd.concat([g, g.iloc[[0]]])
    text = cum.assign(expected=cum["expected"].astype(str))
    extra = pd.concat([cum, cum.iloc[[0]].rename(index={"0000": "9999"})])
    few = cum.iloc[1:]
    years_str = att.rename(index={2010: "a"}, level="year")
    m = residual_map
    return [
        (lambda: m(pd.DataFrame(g), cum), "polygons must be a GeoDataFrame"),
        (lambda: m(no_crs, cum), "polygons have no CRS"),
        (lambda: m(none_geom, cum), r"1 polygon\(s\) have no geometry.*'0004'"),
        (lambda: m(point, cum), r"non-polygon geometries.*'0002'"),
        (lambda: m(dup, cum), r"duplicate key.*'0000'"),
        (lambda: m(g, cum["residual"]), "attractiveness must be a DataFrame"),
        (lambda: m(g, att), "indexed by unit only"),
        (lambda: m(g, cum, column="nope"), "attractiveness has no column 'nope'"),
        (
            lambda: m(g, cum, tooltip=["zzz"]),
            r"tooltip column\(s\) \['zzz'\] are not in attractiveness",
        ),
        (lambda: m(g, text), r"column\(s\) \['expected'\] are not numeric"),
        (lambda: m(g, extra), r"1 id\(s\) only in attractiveness: '9999'"),
        (lambda: m(g, few), r"1 id\(s\) only in polygons: '0000'"),
        (lambda: m(g, cum, residuals={"x": "abc"}), r"residuals\['x'\] must be a pandas Series"),
        (
            lambda: m(g, cum, residuals={"x": cum[["actual", "expected"]]}),
            r"residuals\['x'\] must be a Series",
        ),
        (
            lambda: m(g, cum, residuals={"x": cum["residual"].astype(str)}),
            r"residuals\['x'\] is not numeric",
        ),
        (
            lambda: m(g, cum, residuals={"x": extra["residual"]}),
            r"residuals\['x'\] has 1 unit\(s\) without a "
            r"polygon: '9999'",
        ),
        (
            lambda: m(
                g, cum, residuals={"Residual": cum["residual"]}, layer_name="Residual: Residual"
            ),
            "layer names must be unique",
        ),
        (lambda: m(g, cum, yearly=cum), r"yearly must be indexed by \(unit, year\)"),
        (lambda: m(g, cum, yearly=att["residual"]), "yearly must be a DataFrame"),
        (lambda: m(g, cum, yearly=att.drop(columns="residual")), "yearly has no column 'residual'"),
        (
            lambda: m(g, cum, yearly=att.assign(actual="x")),
            r"yearly column\(s\) \['actual'\] are not numeric",
        ),
        (
            lambda: m(g, cum, yearly=att.rename(index={"0000": "7777"}, level="unit")),
            r"yearly has 1 unit\(s\) without a polygon: '7777'",
        ),
        (lambda: m(g, cum, yearly=years_str), "years .* must be integers"),
        (
            lambda: m(g, cum, yearly=att.rename(index={2010: 2010.5}, level="year")),
            r"yearly years \(second index level\) must be whole numbers",
        ),
        (
            lambda: m(gpd.GeoDataFrame(pd.DataFrame({"x": [1]}, index=["0000"])), cum),
            "polygons has no active geometry column",
        ),
        (
            lambda: m(g, cum, yearly=pd.concat([att, att.iloc[[0]]])),
            r"duplicate key.*\('0000', 2010\)",
        ),
        (lambda: m(g, cum, simplify="fast"), "simplify must be 'auto', a tolerance"),
        (lambda: m(g, cum, simplify=-5), "simplify must be 'auto', a non-negative tolerance"),
        (lambda: m(g, cum, fdr=1.5), "fdr must be a false-discovery rate"),
        (lambda: m(g, cum, alpha=0), "alpha must be between 0 and 1"),
        (lambda: m(g, cum, permutations=10), "permutations must be a whole number of at least 99"),
        (
            lambda: m(g, cum, self_contained=True, tiles="OpenStreetMap"),
            "tiles='OpenStreetMap' need a network",
        ),
        (
            lambda: m(g, cum, profile_links="profiles/x.html"),
            r"profile_links must contain '\{unit\}'",
        ),
        (lambda: m(g, cum, renderer="webgl"), "renderer must be 'auto', 'svg' or 'canvas'"),
        (lambda: m(g, cum, max_geometry_bytes=100), "max_geometry_bytes must be at least 10000"),
        (lambda: m(g, cum, vmax=0), "vmax must be a positive number"),
        (lambda: m(g, cum, cmap="NotAColormap"), "unknown colormap 'NotAColormap'"),
        (lambda: m(g, cum, names=["a", "b"]), "names must be a Series or mapping"),
        (
            lambda: m(g, cum.assign(residual=np.r_[np.nan, cum["residual"].iloc[1:]])),
            r"1 unit\(s\) have no value for the LISA: '0000'",
        ),
        (lambda: m(g, cum, weights="queen"), "weights must be a libpysal Graph or W"),
        (lambda: simplify_polygons(no_crs), "polygons have no CRS"),
    ]


@pytest.mark.parametrize("case", range(len(_err_cases())))
def test_errors_name_the_problem(case):
    fn, match = _err_cases()[case]
    with pytest.raises(InputError, match=match):
        fn()


def test_lisa_table_errors():
    from libpysal.graph import Graph

    g = grid(3)
    v = pd.Series(np.arange(9.0), index=g.index)
    w = Graph.build_contiguity(g, rook=False)
    with pytest.raises(InputError, match="values must be a pandas Series"):
        lisa_table(v.to_frame(), w)
    with pytest.raises(InputError, match="values are not numeric"):
        lisa_table(v.astype(str), w)
    with pytest.raises(
        InputError, match=r"2 unit\(s\) are not in the LISA weights: '0009', '0010'"
    ):
        lisa_table(pd.concat([v, pd.Series([1.0, 2.0], index=["0009", "0010"])]), w)
    with pytest.raises(InputError, match="a LISA needs at least 3 units"):
        lisa_table(v.iloc[:2], w)
    isolated = Graph.build_contiguity(g.iloc[[0, 2, 6, 8]], rook=True)
    with pytest.raises(InputError, match="no unit has a neighbour"):
        lisa_table(v.iloc[[0, 2, 6, 8]], isolated)
    with pytest.raises(InputError, match="fdr must be"):
        lisa_table(v, w, fdr=0)
    # the inputs are untouched by a successful call
    v0, w0 = v.copy(), copy.deepcopy(w.adjacency)
    lisa_table(v, w, permutations=99)
    pd.testing.assert_series_equal(v, v0)
    pd.testing.assert_series_equal(w.adjacency, w0)
