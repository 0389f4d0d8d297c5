"""Readers with validation: polygons, origin-destination flows, long panels, mappings.

Ids are read as strings (leading zeros kept; ``id_width`` zero-pads ids stored as
numbers).  Every problem raises :class:`~geoattr.exceptions.InputError` naming the
rows or ids; repairs (invalid geometries) warn and are counted in the accounting.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geoattr.accounting import Accounting, format_ids
from geoattr.exceptions import InputError, InvalidGeometryWarning
from geoattr.io import validation as val

__all__ = ["read_polygons", "read_flows", "read_panel", "read_mapping", "read_series"]

PathOrFrame = str | Path | pd.DataFrame


def _read_table(src: PathOrFrame, *, str_columns: Sequence[str]) -> pd.DataFrame:
    """CSV (``,`` or ``;``, gzip ok, utf-8 or latin-1) or Parquet, id columns as strings."""
    if isinstance(src, pd.DataFrame):
        return src.copy()
    path = Path(src)
    if not path.exists():
        raise InputError(f"file {str(path)!r} does not exist")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    dtypes = {c: str for c in str_columns}
    for enc in ("utf-8", "latin-1"):
        try:
            return pd.read_csv(path, sep=None, engine="python", dtype=dtypes, encoding=enc)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: cannot decode the file as UTF-8 or Latin-1")  # pragma: no cover


def _repair(gdf: gpd.GeoDataFrame, acc: Accounting | None, table: str) -> gpd.GeoDataFrame:
    bad = ~gdf.geometry.is_valid
    if bad.any():
        fixed = shapely.make_valid(gdf.geometry[bad].to_numpy())
        # keep the polygonal parts of collections
        fixed = [shapely.unary_union([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
                 if g.geom_type == "GeometryCollection" else g for g in fixed]
        gdf = gdf.copy()
        gdf.loc[bad, gdf.geometry.name] = fixed
        ids = list(gdf.index[bad])
        warnings.warn(f"{len(ids)} invalid geometr{'y was' if len(ids) == 1 else 'ies were'} repaired with "
                      f"make_valid: {format_ids(ids)}", InvalidGeometryWarning, stacklevel=3)
        if acc is not None:
            acc.note(table, f"{len(ids)} invalid geometries repaired with make_valid")
    return gdf


def read_polygons(
    path: str | Path | gpd.GeoDataFrame,
    *,
    id_column: str,
    name_column: str | None = None,
    layer: str | None = None,
    crs: Any = None,
    id_width: int | None = None,
    accounting: Accounting | None = None,
) -> gpd.GeoDataFrame:
    """Read unit polygons (any format geopandas reads; ``.parquet`` as GeoParquet).

    Parameters
    ----------
    path : str, Path or GeoDataFrame
    id_column : str
        Column with the unit ids.
    name_column : str, optional
        Column with the names (default: the ids).
    layer : str, optional
        Layer of a multi-layer file (GeoPackage).
    crs : optional
        CRS to set when the file has none (reproject with ``to_crs`` yourself).
    id_width : int, optional
        Zero-pad numeric ids to this width.
    accounting : Accounting, optional

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``unit`` (str) with ``name`` and the geometry; invalid geometries
        repaired (warning with the count).
    """
    if isinstance(path, gpd.GeoDataFrame):
        gdf = path.copy()
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(f"file {str(p)!r} does not exist")
        gdf = gpd.read_parquet(p) if p.suffix == ".parquet" else gpd.read_file(p, layer=layer)
    val.require_columns(gdf, [id_column] + ([name_column] if name_column else []), table="polygons",
                        hint="pass id_column= / name_column=")
    if gdf.crs is None:
        if crs is None:
            raise InputError("the polygons have no CRS; pass crs= (e.g. crs='EPSG:25833')")
        gdf = gdf.set_crs(crs)
    ids = val.normalise_ids(gdf[id_column], name=id_column, width=id_width)
    out = gpd.GeoDataFrame({"name": (gdf[name_column] if name_column else ids).to_numpy()},
                           geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
                           index=pd.Index(ids.to_numpy(), dtype=object, name="unit"))
    val.require_unique(pd.DataFrame(index=out.index), None, table="polygons")
    empty = out.index[out.geometry.isna() | out.geometry.is_empty]
    if len(empty):
        raise InputError(f"{len(empty)} unit(s) have an empty or missing geometry: {format_ids(empty)}")
    if accounting is not None:
        accounting.record("polygons", read=len(out))
    return _repair(out, accounting, "polygons")


def read_flows(
    path_or_frame: PathOrFrame,
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    year: str | None = "year",
    year_value: int | None = None,
    id_width: int | None = None,
    drop_zero: bool = False,
    accounting: Accounting | None = None,
) -> pd.DataFrame:
    """Read a long origin-destination table into ``year, origin, destination, count``.

    Parameters
    ----------
    path_or_frame : str, Path or DataFrame
        CSV (``,``/``;``, ``.csv.gz``) or Parquet.
    origin, destination, value : str
        Column names (e.g. SSB 03321: ``bosted``, ``arbeidssted``, ``sysselsatte``).
    year : str or None, default "year"
        Year column; ``None`` with ``year_value=`` for a single-year table.
    year_value : int, optional
    id_width : int, optional
    drop_zero : bool, default False
        Drop zero counts (counted in the accounting).
    accounting : Accounting, optional
    """
    raw = _read_table(path_or_frame, str_columns=[origin, destination])
    cols = [origin, destination, value] + ([year] if year else [])
    val.require_columns(raw, cols, table="flows",
                        hint="name the columns with origin=, destination=, value= and year=")
    if year is None and year_value is None:
        raise InputError("the flows need a year: pass year='<column>' or year_value=<year>")
    df = pd.DataFrame({
        "year": raw[year].to_numpy() if year else year_value,
        "origin": val.normalise_ids(raw[origin], name=origin, width=id_width).to_numpy(),
        "destination": val.normalise_ids(raw[destination], name=destination, width=id_width).to_numpy(),
        "count": raw[value].to_numpy(),
    })
    val.require_no_missing(df, ["year", "count"], table="flows")
    val.require_numeric(df, ["year", "count"], table="flows")
    df["year"] = pd.to_numeric(df["year"]).astype(int)
    df["count"] = pd.to_numeric(df["count"])
    val.require_nonnegative(df, ["count"], table="flows")
    val.require_unique(df, ["year", "origin", "destination"], table="flows")
    n = len(df)
    dropped = {}
    if drop_zero:
        zero = df["count"] == 0
        dropped["zero count"] = int(zero.sum())
        df = df[~zero].reset_index(drop=True)
    if accounting is not None:
        accounting.record("flows", read=n, dropped=dropped)
    return df


def read_panel(
    path_or_frame: PathOrFrame,
    *,
    unit: str = "unit",
    year: str = "year",
    columns: Mapping[str, str] | Sequence[str] | None = None,
    id_width: int | None = None,
    accounting: Accounting | None = None,
) -> pd.DataFrame:
    """Read a long panel (unit, year, values) into a DataFrame on the (unit, year) index.

    Parameters
    ----------
    path_or_frame : str, Path or DataFrame
    unit, year : str
        Id and year columns.
    columns : mapping or list, optional
        Value columns to keep; a mapping also renames them (source -> canonical, e.g.
        ``{"folketall": "population"}``).  Default: every other column.
    id_width : int, optional
    accounting : Accounting, optional
        Missing values are allowed (the model decides) and counted in a note.
    """
    raw = _read_table(path_or_frame, str_columns=[unit])
    val.require_columns(raw, [unit, year], table="panel", hint="pass unit= and year=")
    if columns is None:
        mapping = {c: c for c in raw.columns if c not in (unit, year)}
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    else:
        mapping = {c: c for c in columns}
    val.require_columns(raw, list(mapping), table="panel")
    df = raw[list(mapping)].rename(columns=mapping).copy()
    val.require_numeric(df, list(df.columns), table="panel")
    df = df.apply(pd.to_numeric)
    val.require_no_missing(raw, [year], table="panel")
    val.require_numeric(raw, [year], table="panel")
    idx = pd.MultiIndex.from_arrays(
        [pd.Index(val.normalise_ids(raw[unit], name=unit, width=id_width).to_numpy(), dtype=object),
         pd.to_numeric(raw[year]).astype(int).to_numpy()], names=["unit", "year"])
    df.index = idx
    val.require_unique(df, None, table="panel")
    if accounting is not None:
        n_missing = int(df.isna().sum().sum())
        accounting.record("panel", read=len(df), note=f"{n_missing} missing value(s)" if n_missing else None)
    return df.sort_index()


def read_mapping(path_or_frame: PathOrFrame, *, key: str, value: str, id_width: int | None = None,
                 name: str = "region") -> pd.Series:
    """Read a unit -> group mapping (e.g. municipality -> region); both as strings.

    A key listed twice with different values is an error naming it.
    """
    raw = _read_table(path_or_frame, str_columns=[key, value])
    val.require_columns(raw, [key, value], table=name, hint="pass key= and value=")
    k = val.normalise_ids(raw[key], name=key, width=id_width)
    v = val.normalise_ids(raw[value], name=value)
    df = pd.DataFrame({"k": k.to_numpy(), "v": v.to_numpy()}).drop_duplicates()
    conflict = df["k"][df["k"].duplicated(keep=False)].unique()
    if len(conflict):
        raise InputError(f"{name}: {len(conflict)} key(s) map to more than one value: {format_ids(conflict)}")
    return pd.Series(df["v"].to_numpy(), index=pd.Index(df["k"].to_numpy(), name="unit"), name=name, dtype=object)


def read_series(path_or_frame: PathOrFrame, *, key: str, value: str, id_width: int | None = None,
                name: str) -> pd.Series:
    """Read a numeric value per unit (e.g. the centrality index)."""
    raw = _read_table(path_or_frame, str_columns=[key])
    val.require_columns(raw, [key, value], table=name, hint="pass key= and value=")
    val.require_numeric(raw, [value], table=name)
    s = pd.Series(pd.to_numeric(raw[value]).to_numpy(),
                  index=pd.Index(val.normalise_ids(raw[key], name=key, width=id_width).to_numpy(), name="unit"),
                  name=name)
    val.require_unique(s.to_frame(), None, table=name)
    return s
