"""The catalogue of what geoattr refuses and why (issue 16, "Trust").

Read it as a specification: every test is one bad or awkward input, and the assertion
is what the user gets — an error that names the offending ids, rows, columns or keys
and says how to fix it, a warning, or a note in the results.  One section per category.
"""

from __future__ import annotations

# ==== Geometry and CRS / Ids and years / Weights against data ====
import re
import warnings
from pathlib import Path
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from shapely.geometry import box

import geoattr
import geoattr.weights as gw
from geoattr._format import escape_html
from geoattr.config import load_run_config
from geoattr.data import PanelData
from geoattr.exceptions import InputError, IsolatesWarning, WeightsSubsetWarning
from geoattr.io import read_polygons
from geoattr.models.spatial import fit_spatial
from geoattr.pipeline.sources import read_run_data
from geoattr.report import profile_file_name, write_profiles
from geoattr.report.maps import residual_map
from geoattr.variables import build_design
from tests.conftest import toy_flows, toy_panel

TOY_UNITS = ["0101", "0102", "0103"]


def _utm_boxes(ids, crs="EPSG:25833") -> gpd.GeoDataFrame:
    """Adjacent 10 km squares in UTM 33 (southern Norway), one per id."""
    x0, y0 = 250_000.0, 6_650_000.0
    return gpd.GeoDataFrame({"unit": list(ids), "name": [f"Unit {i}" for i in ids]},
                            geometry=[box(x0 + 1e4 * k, y0, x0 + 1e4 * (k + 1), y0 + 1e4) for k in range(len(ids))],
                            crs=crs)


def _degree_boxes(ids) -> gpd.GeoDataFrame:
    """Longitude/latitude squares around Oslo, wrongly declared as EPSG:25833 (metres)."""
    return gpd.GeoDataFrame({"unit": list(ids)},
                            geometry=[box(10 + 0.1 * k, 59.9, 10.1 + 0.1 * k, 60.0) for k in range(len(ids))],
                            crs="EPSG:25833")


# ---------------------------------------------------------------- Geometry and CRS
def test_degrees_declared_as_utm_are_refused_by_the_reader():
    with pytest.raises(InputError, match=r"declared in the projected CRS EPSG:25833 \(metres\) but their "
                                         r"coordinates span x 10 to 10\.3, y 59\.9 to 60.*look like longitude/"
                                         r"latitude.*set_crs\('EPSG:4326', allow_override=True\).*"
                                         r"to_crs\('EPSG:25833'\)"):
        read_polygons(_degree_boxes(TOY_UNITS), id_column="unit")


def test_degrees_declared_as_utm_are_refused_by_the_weights_builders():
    gdf = _degree_boxes(TOY_UNITS).set_index("unit")
    for build in (gw.contiguity, lambda g: gw.knn(g, 1), lambda g: gw.distance_band(g, 5_000)):
        with pytest.raises(InputError, match=r"EPSG:25833 \(metres\) but their coordinates span"):
            build(gdf)


def test_metres_declared_as_degrees_are_refused():
    gdf = _utm_boxes(TOY_UNITS).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InputError, match=r"geographic CRS EPSG:4326 \(degrees\) but their coordinates span "
                                         r"x 250000 to 280000.*look like projected metres.*set_crs"):
        read_polygons(gdf, id_column="unit")


def test_utm_coordinates_in_their_crs_pass():
    out = read_polygons(_utm_boxes(TOY_UNITS), id_column="unit")
    assert list(out.index) == TOY_UNITS and out.crs == "EPSG:25833"


def test_distance_band_on_degrees_is_refused_unless_asked_for():
    geo = _utm_boxes(TOY_UNITS).set_index("unit").to_crs("EPSG:4326")
    with pytest.raises(InputError, match=r"distance band needs distances in metres, but the CRS EPSG:4326 is "
                                         r"geographic.*to_crs\('EPSG:25833'\).*allow_geographic=True"):
        gw.distance_band(geo, 15_000)
    g = gw.distance_band(geo, 0.4, allow_geographic=True)  # the threshold is then in degrees
    assert set(g.neighbors["0101"]) == {"0102", "0103"}


def _files_config(tmp_path: Path, polygons_line: str) -> Path:
    toy_panel().reset_index().to_csv(tmp_path / "panel.csv", index=False)
    toy_flows().to_csv(tmp_path / "flows.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: "'crs' was not provided": the point here
        _utm_boxes(TOY_UNITS).set_crs(None, allow_override=True).to_file(tmp_path / "m.shp")  # no .prj
    cfg = tmp_path / "run.toml"
    cfg.write_text("[data]\nsource = 'files'\npanel = { path = 'panel.csv' }\nflows = { path = 'flows.csv' }\n"
                   + polygons_line + "\n")
    return cfg


def test_run_configuration_sets_the_crs_of_a_file_without_one(tmp_path):
    cfg = load_run_config(_files_config(tmp_path, "polygons = { path = 'm.shp', id_column = 'unit', "
                                                  "crs = 'EPSG:25833' }"))
    data = read_run_data(cfg["data"], tmp_path)
    assert data.polygons.crs == "EPSG:25833" and list(data.polygons.index) == TOY_UNITS


def test_run_configuration_without_crs_for_a_file_without_one_says_which_key(tmp_path):
    cfg = load_run_config(_files_config(tmp_path, "polygons = { path = 'm.shp', id_column = 'unit' }"))
    with pytest.raises(InputError, match=r"the polygons have no CRS; pass crs=.*\[data\] polygons = "
                                         r"\{ path = \.\.\., crs = \"EPSG:25833\" \}"):
        read_run_data(cfg["data"], tmp_path)


def test_unknown_crs_is_an_input_error():
    with pytest.raises(InputError, match=r"crs='EPSG:999999' is not a CRS pyproj knows"):
        read_polygons(_utm_boxes(TOY_UNITS).set_crs(None, allow_override=True), id_column="unit",
                      crs="EPSG:999999")


# ---------------------------------------------------------------- Ids and years
def _line_graph(ids) -> Graph:
    ids = list(ids)
    return Graph.from_arrays(ids[:-1] + ids[1:], ids[1:] + ids[:-1], np.ones(2 * len(ids) - 2)).transform("r")


def test_integer_ids_against_string_weights_say_both_forms():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.normal(size=6), "x": rng.normal(size=6)},
                        index=pd.Index([301, 302, 303, 304, 305, 306], name="unit"))
    g = _line_graph(["0301", "0302", "0303", "0304", "0305", "0306"])
    with pytest.raises(InputError, match=r"the data's ids are integers \(301, 302, \.\.\.\) and the weights' are "
                                         r"strings \('0301', '0302', \.\.\.\).*zfill\(4\)"):
        geoattr.fit("y ~ x", data, model="sar", weights=g)


def test_integer_panel_ids_against_string_weights_in_a_spatial_term():
    panel = toy_panel().rename(index=lambda u: int(u) if isinstance(u, str) else u, level="unit")
    with pytest.raises(InputError, match=r"the data's ids are integers \(101, 102, \.\.\.\) and the weights' "
                                         r"are strings \('0101', '0102', \.\.\.\)"):
        geoattr.fit("net_migration ~ W(jobs)", panel, weights=_line_graph(TOY_UNITS))


def test_ids_that_differ_by_leading_zeros_are_named():
    g = _line_graph(TOY_UNITS)
    with pytest.raises(InputError, match=r"ids \('101', '102', \.\.\.\) and the weights' \('0101', '0102', "
                                         r"\.\.\.\) differ by leading zeros"):
        gw.as_sparse(g, ["101", "102", "103"])


def test_ids_sharing_a_file_name_get_their_own_profile_pages_and_every_link_resolves(tmp_path):
    ids = ["K 1", "K/1", "K_1", "k_1", "index", "0301"]
    idx = pd.MultiIndex.from_product([ids, [2020, 2021]], names=["unit", "year"])
    att = pd.DataFrame({"actual": 1.0, "expected": 0.5, "residual": np.arange(len(idx), dtype=float)}, index=idx)
    pages = write_profiles(tmp_path / "profiles", att=att, report=None)
    files = {u: pages[u] for u in ids if u != "index"}
    assert len({p.name.lower() for p in files.values()}) == len(files)  # distinct, even case-insensitively
    assert pages["0301"].name == "0301.html" and profile_file_name("index") != "index.html"
    for u, p in files.items():
        assert p.exists() and f"<h1>{escape_html(u)}</h1>" in p.read_text()  # each page is its own unit's
    index_html = pages["index"].read_text()
    targets = re.findall(r'(?:href|value)="([^"#]+\.html)"', index_html)
    assert len(set(targets)) == len(ids)
    assert all((tmp_path / "profiles" / unquote(t)).exists() for t in targets)
    # the map's popups link to the same pages
    polys = _utm_boxes(ids).set_index("unit")
    cum = att["residual"].groupby(level="unit").sum().to_frame()
    residual_map(polys, cum, lisa=False, path=tmp_path / "map.html")
    data = re.search(r"geoattr\.decode\((.*)\);$", (tmp_path / "map.html").read_text(), re.M).group(1)
    links = pd.read_json(pd.io.common.StringIO(data), typ="series")["links"]
    assert len(links) == len(ids)
    assert all((tmp_path / unquote(link)).is_file() for link in links)


def test_profile_file_names_are_deterministic_and_lowercase():
    assert profile_file_name("K 1") == profile_file_name("K 1")
    assert profile_file_name("K 1") != profile_file_name("K/1") != profile_file_name("K_1")
    assert profile_file_name("Oslo") == profile_file_name("Oslo").lower() != profile_file_name("oslo")


def test_non_integer_year_in_a_panel_is_refused_naming_the_row():
    p = toy_panel().reset_index()
    p["year"] = p["year"].astype(float)
    p.loc[1, "year"] = 2000.5
    with pytest.raises(InputError, match=r"data years must be whole years such as 2017; got values like "
                                         r"\[2000\.5\] in 1 row\(s\): \('0101', 2000\.5\).*never rounded"):
        geoattr.fit("net_migration ~ jobs", p.set_index(["unit", "year"]))
    with pytest.raises(InputError, match=r"\('0101', 2000\.5\)"):
        PanelData(p.set_index(["unit", "year"]), flows=toy_flows())


def test_non_integer_year_in_the_flows_is_refused():
    f = toy_flows().astype({"year": float})
    f.loc[3, "year"] = 2000.5
    with pytest.raises(InputError, match=r"the flows' 'year' column must be whole years such as 2017; got values "
                                         r"like \[2000\.5\] in 1 row\(s\): 3\."):
        gw.commuting_by_year(f, [2000])
    with pytest.raises(InputError, match=r"years must be whole years such as 2017; got values like \[2000\.5\]"):
        gw.commuting_by_year(toy_flows(), [2000.5])


def test_panel_too_short_for_the_lags_says_what_the_lags_need():
    p = toy_panel()
    short = PanelData(p[p.index.get_level_values("year") >= 2003], flows=toy_flows())
    with pytest.raises(InputError, match=r"too short for the lags: it has years 2003-2005.*\(vra_l2\) need jobs "
                                         r"from 3 year\(s\) before the first year of the dependent variable.*2006"):
        build_design(short, ["vra", "vra_l1", "vra_l2"])


def test_time_lag_longer_than_the_panel_names_the_lag_and_the_years():
    with pytest.raises(InputError, match=r"lag\(jobs, 9\) needs the value 9 year\(s\) earlier, but the data have "
                                         r"6 year\(s\) \(2000-2005\).*at most 5"):
        geoattr.fit("net_migration ~ lag(jobs, 9)", toy_panel())


# ---------------------------------------------------------------- Weights against data
def _panel_on(units, years=range(2000, 2006), seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([list(units), list(years)], names=["unit", "year"])
    x = rng.normal(size=len(idx))
    return pd.DataFrame({"y": 1 + 0.5 * x + rng.normal(size=len(idx)), "x": x}, index=idx)


def test_weights_with_more_units_than_the_data_are_subset_and_renormalised_with_a_note():
    units = [f"{k:04d}" for k in range(12)]
    g = _line_graph(units)  # row-standardised; the data lack the first and the last unit
    df = _panel_on(units[1:-1])
    with pytest.warns(WeightsSubsetWarning, match=r"2 of its 12 units are not in the data \('0000', '0011'\); "
                                                  r"12 observation\(s\) lost neighbours, their rows were "
                                                  r"renormalised to sum to 1"):
        res = geoattr.fit("y ~ x", df, model="sar", weights=g)
    assert any("rows were renormalised" in n for n in res.notes)
    np.testing.assert_allclose(np.asarray(res.W.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-12)


def test_binary_weights_subset_to_the_data_keep_their_values_and_say_so():
    units = [f"{k:04d}" for k in range(12)]
    ids = units[:-1] + units[1:]
    g = Graph.from_arrays(ids, units[1:] + units[:-1], np.ones(len(ids)))  # binary
    df = _panel_on(units[:-1])
    with pytest.warns(WeightsSubsetWarning, match=r"kept as they are \(not row-standardised\)"):
        res = fit_spatial(df["y"], df[["x"]].assign(const=1.0), g, model="sem")
    assert res.W.sum() == pytest.approx(2 * 10 * 6)  # the 10 links among the 11 units, both ways, 6 years


def test_align_keeps_row_standardised_weights_row_standardised():
    g = _line_graph(["a", "b", "c", "d"])
    sub = gw.align(g, ["a", "b", "c"])
    assert sub.transformation == "R"
    np.testing.assert_allclose(np.asarray(gw.as_sparse(sub, ["a", "b", "c"]).sum(axis=1)).ravel(), 1.0)
    raw = gw.align(g, ["a", "b", "c"], renormalise=False)
    assert raw.transformation == "O"  # rows no longer sum to 1: not labelled row-standardised
    assert gw.as_sparse(raw, ["a", "b", "c"]).sum(axis=1)[2, 0] == pytest.approx(0.5)


def test_align_on_sparse_weights_renormalises_too():
    sw = gw.SparseWeights.from_graph(_line_graph(["a", "b", "c", "d"]))
    sub = gw.align(sw, ["c", "b"])
    np.testing.assert_allclose(sub.matrix.toarray(), [[0, 1], [1, 0]])
    assert list(sub.ids) == ["c", "b"]


def test_a_year_without_flows_is_named_in_the_warning():
    f = toy_flows()
    f.loc[f["year"] == 2002, "count"] = 0
    with pytest.warns(IsolatesWarning, match=r"3 unit\(s\) have no commuting flows and are kept as isolates in "
                                             r"2002 \(no unit has any"):
        gw.commuting_by_year(f, [2001, 2002])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gw.commuting_by_year(toy_flows(), [2001, 2002])  # a year with flows: no warning
# ==== end of Geometry and CRS / Ids and years / Weights against data ====
