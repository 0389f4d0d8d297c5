"""PanelData: validation messages, id alignment, accounting and region aggregation."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geoattr.data import PanelData
from geoattr.exceptions import DroppedRowsWarning, InputError
from tests.conftest import toy_flows, toy_panel


def _polys(ids):
    return gpd.GeoDataFrame({"name": [f"M{i}" for i in ids]}, geometry=[box(i, 0, i + 1, 1) for i in range(len(ids))],
                            index=pd.Index(ids, name="unit"), crs="EPSG:25833")


def test_inputs_not_mutated():
    p, f = toy_panel(), toy_flows()
    p0, f0 = copy.deepcopy(p), copy.deepcopy(f)
    PanelData(p, flows=f, regions=pd.Series({"0101": "R1", "0102": "R1", "0103": "R2"}))
    pd.testing.assert_frame_equal(p, p0)
    pd.testing.assert_frame_equal(f, f0)


def test_ids_keep_leading_zeros(toy_data):
    assert list(toy_data.units) == ["0101", "0102", "0103"]


def test_duplicate_unit_year_rows():
    p = pd.concat([toy_panel(), toy_panel().iloc[[3]]])
    with pytest.raises(InputError, match=r"panel.*duplicate.*0101.*2003"):
        PanelData(p)


def test_zero_population_named():
    p = toy_panel()
    p.loc[("0102", 2004), "population"] = 0
    with pytest.raises(InputError, match=r"zero or negative population in 1 row\(s\): \('0102', 2004\)"):
        PanelData(p)


def test_negative_counts_named():
    p = toy_panel()
    p.loc[("0103", 2002), "jobs"] = -5
    with pytest.raises(InputError, match=r"panel.*jobs.*0103.*2002"):
        PanelData(p)


def test_non_numeric_column_named():
    p = toy_panel()
    p["jobs"] = p["jobs"].astype(object)
    p.loc[("0101", 2001), "jobs"] = "n/a"
    with pytest.raises(InputError, match=r"panel.*jobs.*n/a"):
        PanelData(p)


def test_index_must_be_unit_year():
    with pytest.raises(InputError, match=r"indexed by \(unit, year\)"):
        PanelData(toy_panel().reset_index())


def test_flows_unknown_ids_listed():
    f = toy_flows()
    f.loc[0, "destination"] = "9999"
    with pytest.raises(InputError, match=r"1 unit\(s\) in flows but not in the panel: '9999'"):
        PanelData(toy_panel(), flows=f)


def test_polygon_panel_mismatch_raise_and_drop():
    polys = _polys(["0101", "0102", "0104"])
    with pytest.raises(InputError, match=r"(?s)1 panel unit\(s\) missing from polygons: '0103'.*"
                                         r"1 unit\(s\) in polygons but not in the panel: '0104'.*on_mismatch='drop'"):
        PanelData(toy_panel(), polygons=polys)
    with pytest.warns(DroppedRowsWarning, match=r"1 unit\(s\) dropped \(6 panel rows\): '0103'"):
        d = PanelData(toy_panel(), polygons=polys, flows=toy_flows(), on_mismatch="drop")
    assert list(d.units) == ["0101", "0102"]
    assert list(d.polygons.index) == ["0101", "0102"]
    acc = d.accounting
    assert acc["panel"].dropped == {"unit missing from another input": 6}
    assert acc["polygons"].dropped == {"unit not in panel": 1}
    # flows touching 0103 are dropped and counted: 2 per year x 6 years
    assert acc["flows"].dropped == {"origin or destination dropped": 12}
    assert set(d.flows["origin"]) | set(d.flows["destination"]) == {"0101", "0102"}


def test_centrality_missing_unit():
    with pytest.raises(InputError, match=r"1 panel unit\(s\) missing from centrality: '0103'"):
        PanelData(toy_panel(), centrality=pd.Series({"0101": 1.0, "0102": 2.0}))


def test_rates_outside_unit_interval():
    e = pd.DataFrame({"female": [0.5, 1.2], "male": [0.5, 0.4]}, index=[20, 21])
    with pytest.raises(InputError, match=r"employment_rates must lie in \[0, 1\]; 1 value\(s\) outside it at \(age, sex\) \(21, 'female'\)"):
        PanelData(toy_panel(), employment_rates=e)


def test_aggregate_to_regions(toy_data):
    r = toy_data.aggregate()
    assert list(r.units) == ["R1", "R2"]
    assert r.unit_level == "region"
    # counts summed
    assert r.panel.loc[("R1", 2001), "jobs"] == 110 + 190
    assert r.panel.loc[("R2", 2003), "population"] == 5 * 1030
    assert r.panel.loc[("R1", 2002), "net_migration"] == 4 + 8
    # flows region x region: R1->R1 = 90+10+20+80, R2->R1 = 50, R2->R2 = 50
    f = r.flows[r.flows.year == 2001].set_index(["origin", "destination"])["count"]
    assert f[("R1", "R1")] == 200 and f[("R2", "R1")] == 50 and f[("R2", "R2")] == 50
    # centrality: population-weighted (mean population 1025 and 2050), municipal centring constant kept
    assert r.centrality["R1"] == pytest.approx((800 * 1025 + 500 * 2050) / 3075, rel=1e-12)
    assert r.centrality_mean == pytest.approx(0.5)


def test_aggregate_unmapped_units(toy_data):
    with pytest.raises(InputError, match=r"1 unit\(s\) have no region in the mapping: '0103'"):
        toy_data.aggregate(pd.Series({"0101": "R1", "0102": "R1"}))


def test_region_polygons_dissolved():
    regions = pd.Series({"0101": "R1", "0102": "R1", "0103": "R2"})
    d = PanelData(toy_panel(), polygons=_polys(["0101", "0102", "0103"]), regions=regions)
    r = d.aggregate()
    assert r.polygons.loc["R1", "geometry"].area == pytest.approx(2.0)
    assert np.isclose(r.polygons.loc["R2", "geometry"].area, 1.0)


def test_fertility_rates_validated():
    with pytest.raises(InputError, match=r"fertility_rates must be births per woman in \[0, 1\]; ages 30 are not"):
        PanelData(toy_panel(), fertility_rates=pd.Series({29: 0.1, 30: 1.5}))


def test_frozen_replace_keeps_the_original_and_the_independent_cache():
    d = PanelData(toy_panel(), flows=toy_flows())
    with pytest.raises(AttributeError, match="frozen"):
        d.flows = None
    d._cache[("ds", (2003,))] = "ds"
    d._cache[("weights", (2003,))] = "w"
    same = d.replace()
    assert same is not d and same._cache == d._cache and same._cache is not d._cache
    f2 = toy_flows().assign(count=lambda f: f["count"] * 2)
    new = d.replace(flows=f2)
    assert set(new._cache) == {("ds", (2003,))}  # commuting weights depend on the flows
    assert new.flows["count"].sum() == 2 * d.flows["count"].sum()
    assert d.flows["count"].sum() == toy_flows()["count"].sum()
    assert new.cached(("x",), lambda: 1) == 1 and ("x",) not in d._cache
    with pytest.raises(TypeError, match="unknown input"):
        d.replace(flow=f2)
    with pytest.raises(InputError, match="not in the panel"):
        d.replace(flows=f2.assign(origin=f2["origin"].replace("0101", "9999")))
