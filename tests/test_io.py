"""Readers: ids as strings, validation messages, geometry repair, real SSB files."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from geoattr.accounting import Accounting
from geoattr.exceptions import InputError, InvalidGeometryWarning
from geoattr.io import read_flows, read_mapping, read_panel, read_polygons, read_series


def test_read_flows_semicolon_csv_keeps_leading_zeros(tmp_path):
    (tmp_path / "f.csv").write_text("aar;bosted;arbeidssted;n\n2017;0301;0301;10\n2017;0301;3024;0\n")
    acc = Accounting()
    f = read_flows(tmp_path / "f.csv", origin="bosted", destination="arbeidssted", value="n", year="aar",
                   drop_zero=True, accounting=acc)
    assert list(f.columns) == ["year", "origin", "destination", "count"]
    assert f.origin.tolist() == ["0301"] and f.year.tolist() == [2017]
    assert acc["flows"].dropped == {"zero count": 1}


def test_read_flows_errors(tmp_path):
    base = pd.DataFrame({"year": [2017, 2017], "o": ["a", "b"], "d": ["b", "a"], "n": [1, 2]})
    with pytest.raises(InputError, match=r"lacks column\(s\) 'count'.*value="):
        read_flows(base, origin="o", destination="d")
    with pytest.raises(InputError, match=r"negative value\(s\) -2 in row\(s\) 1"):
        read_flows(base.assign(n=[1, -2]), origin="o", destination="d", value="n")
    with pytest.raises(InputError, match=r"non-numeric value\(s\) 'x'"):
        read_flows(base.assign(n=["1", "x"]), origin="o", destination="d", value="n")
    with pytest.raises(InputError, match=r"duplicate key\(s\).*\(2017, 'a', 'b'\)"):
        read_flows(pd.concat([base, base.iloc[[0]]]), origin="o", destination="d", value="n")
    with pytest.raises(InputError, match="pass year='<column>' or year_value="):
        read_flows(base.drop(columns="year"), origin="o", destination="d", value="n", year=None)
    f = read_flows(base.drop(columns="year"), origin="o", destination="d", value="n", year=None, year_value=2019)
    assert set(f.year) == {2019}
    with pytest.raises(InputError, match="does not exist"):
        read_flows(tmp_path / "nope.csv")


def test_read_panel_renames_and_validates(tmp_path):
    (tmp_path / "p.csv").write_text("kommune,aar,folketall\n0301,2005,100\n0301,2006,110\n1103,2005,50\n")
    p = read_panel(tmp_path / "p.csv", unit="kommune", year="aar", columns={"folketall": "population"})
    assert p.index.names == ["unit", "year"] and p.loc[("0301", 2006), "population"] == 110
    (tmp_path / "d.csv").write_text("kommune,aar,folketall\n0301,2005,100\n0301,2005,110\n")
    with pytest.raises(InputError, match=r"duplicate key\(s\).*\('0301', 2005\)"):
        read_panel(tmp_path / "d.csv", unit="kommune", year="aar")
    (tmp_path / "n.csv").write_text("kommune,aar,folketall\n0301,2005,abc\n")
    with pytest.raises(InputError, match=r"column 'folketall': 1 non-numeric value\(s\) 'abc'"):
        read_panel(tmp_path / "n.csv", unit="kommune", year="aar")


def test_read_panel_zero_pads_numeric_ids():
    df = pd.DataFrame({"unit": [301, 1103], "year": [2005, 2005], "x": [1.0, 2.0]})
    p = read_panel(df, id_width=4)
    assert list(p.index.get_level_values("unit")) == ["0301", "1103"]


def test_read_polygons_repairs_and_checks(tmp_path):
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting
    gdf = gpd.GeoDataFrame({"kode": ["0301", "1103"], "navn": ["Oslo", "Stavanger"]},
                           geometry=[bowtie, box(5, 5, 6, 6)], crs="EPSG:25833")
    gdf.to_file(tmp_path / "k.gpkg", driver="GPKG")
    with pytest.warns(InvalidGeometryWarning, match=r"1 invalid geometry was repaired with make_valid: '0301'"):
        out = read_polygons(tmp_path / "k.gpkg", id_column="kode", name_column="navn")
    assert out.geometry.is_valid.all() and out.loc["0301", "name"] == "Oslo"
    with pytest.raises(InputError, match="no CRS; pass crs="):
        read_polygons(gdf.set_crs(None, allow_override=True), id_column="kode")
    dup = pd.concat([gdf.iloc[[1]], gdf.iloc[[1]]])
    with pytest.raises(InputError, match=r"duplicate key\(s\).*'1103'"):
        read_polygons(dup, id_column="kode")


def test_read_mapping_and_series():
    m = read_mapping(pd.DataFrame({"k": ["0301", "1103"], "r": [1, 2]}), key="k", value="r")
    assert m.to_dict() == {"0301": "1", "1103": "2"}
    with pytest.raises(InputError, match=r"1 key\(s\) map to more than one value: '0301'"):
        read_mapping(pd.DataFrame({"k": ["0301", "0301"], "r": [1, 2]}), key="k", value="r")
    s = read_series(pd.DataFrame({"k": ["0301"], "v": [987.0]}), key="k", value="v", name="centrality")
    assert s["0301"] == 987.0


@pytest.mark.realdata
def test_real_ssb_files(real_data_dir):
    f = read_flows(real_data_dir / "commuting" / "pendling_03321_2017_2022.csv.gz", origin="bosted",
                   destination="arbeidssted", value="sysselsatte")
    assert "0301" in set(f.origin.unique()) and f.year.min() == 2017
    with pytest.warns(InvalidGeometryWarning, match="invalid geometr"):
        g = read_polygons(real_data_dir / "polygons" / "kommuner_2020.geojson", id_column="kommunenummer",
                          name_column="kommunenavn")
    assert len(g) == 356 and g.geometry.is_valid.all()
