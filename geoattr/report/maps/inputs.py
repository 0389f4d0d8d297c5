"""Input checks of the web maps: polygons, per-unit values, per-year values and options.

Every check names what was given and how to fix it; ids are normalised to strings
(:func:`geoattr._validation.normalise_ids`) and values are aligned to the polygons'
units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoattr._format import format_ids
from geoattr.io.crs import check_coordinates
from geoattr.exceptions import InputError
import geoattr._validation as val
from geoattr.lisa import check_lisa_options

__all__ = [
    "unit_ids",
    "check_polygons",
    "check_values",
    "per_unit",
    "check_yearly",
    "check_map_options",
]


def unit_ids(index: pd.Index, *, name: str) -> pd.Index:
    """Ids as strings (:func:`~geoattr._validation.normalise_ids`), as an Index named ``unit``.

    Parameters
    ----------
    index : pandas.Index
        Ids as given.
    name : str
        What the ids are, for error messages.

    Returns
    -------
    pandas.Index
    """
    return pd.Index(val.normalise_ids(index, name=name).to_numpy(), dtype=object, name="unit")


def check_polygons(polygons: Any) -> tuple[gpd.GeoDataFrame, pd.Index]:
    """Check the map's polygons: a GeoDataFrame with a CRS, unique ids, non-empty areas.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame

    Returns
    -------
    (geopandas.GeoDataFrame, pandas.Index)
        The polygons (unchanged) and their ids as strings.
    """
    if not isinstance(polygons, gpd.GeoDataFrame):
        raise InputError(f"polygons must be a GeoDataFrame, {type(polygons).__name__} was given")
    try:
        geom = polygons.geometry
    except AttributeError:
        raise InputError(
            "polygons has no active geometry column; set one with set_geometry()"
        ) from None
    if polygons.crs is None:
        raise InputError(
            "polygons have no CRS; set one with set_crs() (e.g. EPSG:25833 for Norwegian "
            "UTM 33 metres, EPSG:4326 for longitude/latitude)"
        )
    check_coordinates(polygons)
    ids = unit_ids(polygons.index, name="polygons index")
    val.require_unique(ids, None, table="polygons")
    arr = np.asarray(geom.values, dtype=object)
    empty = ids[pd.isna(arr) | shapely.is_empty(arr)]
    if len(empty):
        raise InputError(
            f"{len(empty)} polygon(s) have no geometry (missing or empty): "
            f"{format_ids(empty)}; drop them from both polygons and values"
        )
    kinds = shapely.get_type_id(arr)
    bad = ids[~np.isin(kinds, [3, 6, 7])]  # Polygon, MultiPolygon, GeometryCollection
    if len(bad):
        raise InputError(
            f"{len(bad)} unit(s) have non-polygon geometries (points or lines): "
            f"{format_ids(bad)}; a map needs areas"
        )
    return polygons, ids


def _numeric(df: pd.DataFrame, cols: Sequence[str], *, table: str) -> None:
    bad = [
        c
        for c in cols
        if not (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]))
    ]
    if bad:
        raise InputError(
            f"{table} column(s) {bad} are not numeric "
            f"(dtypes {[str(df[c].dtype) for c in bad]}); convert them with pd.to_numeric"
        )


def check_values(values: Any, ids: pd.Index, column: str, extra: Sequence[str]) -> pd.DataFrame:
    """Check the per-unit table of a map and align it to the polygons' ids.

    Parameters
    ----------
    values : pandas.DataFrame
        One row per unit (the ``attractiveness`` argument of the map).
    ids : pandas.Index
        The polygons' ids.
    column : str
        The column colouring the first layer.
    extra : sequence of str
        Further tooltip columns.

    Returns
    -------
    pandas.DataFrame
        The numeric columns used, on ``ids``.
    """
    if not isinstance(values, pd.DataFrame):
        raise InputError(
            f"attractiveness must be a DataFrame indexed by unit, {type(values).__name__} was given"
        )
    if isinstance(values.index, pd.MultiIndex):
        raise InputError(
            "attractiveness must be indexed by unit only (one row per unit, e.g. "
            "geoattr.cumulate() output); pass per-year rows as yearly="
        )
    if column not in values.columns:
        raise InputError(f"attractiveness has no column {column!r}; it has {list(values.columns)}")
    missing_extra = [c for c in extra if c not in values.columns]
    if missing_extra:
        raise InputError(
            f"tooltip column(s) {missing_extra} are not in attractiveness; "
            f"it has {list(values.columns)}"
        )
    used = [
        c
        for c in dict.fromkeys(
            ["actual", "expected", column, "residual", "residual_persons", "rank", *extra]
        )
        if c in values.columns
    ]
    _numeric(values, used, table="attractiveness")
    vid = unit_ids(values.index, name="attractiveness index")
    val.require_unique(vid, None, table="attractiveness")
    val.require_same_ids(
        vid,
        ids,
        a_name="attractiveness",
        b_name="polygons",
        hint="pass values for exactly the polygons' units (subset one or the other)",
    )
    out = values[used].copy()
    out.index = vid
    return out.reindex(ids)


def _unit_year(index: pd.MultiIndex, *, what: str) -> pd.MultiIndex:
    """Normalise a (unit, year) index: string unit ids, integer years, no duplicates."""
    unit = unit_ids(index.get_level_values(0), name=f"{what} index")
    year_raw = index.get_level_values(1)
    if not pd.api.types.is_integer_dtype(year_raw):
        try:
            year_num = pd.to_numeric(pd.Series(year_raw), errors="raise")
        except (ValueError, TypeError):
            raise InputError(
                f"{what} years (second index level) must be integers, got "
                f"{format_ids(pd.unique(year_raw)[:10])}"
            ) from None
        if year_num.isna().any() or not np.all(np.mod(year_num, 1) == 0):
            raise InputError(f"{what} years (second index level) must be whole numbers")
        year_raw = year_num.astype(int).to_numpy()
    idx = pd.MultiIndex.from_arrays([unit, np.asarray(year_raw, dtype=int)], names=["unit", "year"])
    val.require_unique(idx, None, table=what)
    return idx


def per_unit(s: Any, ids: pd.Index, *, what: str) -> tuple[pd.Series, pd.MultiIndex | None]:
    """Align a per-unit numeric series to ``ids``; a (unit, year) index is summed over years.

    Parameters
    ----------
    s : pandas.Series
        Indexed by unit or (unit, year); a one-column DataFrame is accepted.
    ids : pandas.Index
        The polygons' ids.
    what : str
        The argument's name, for error messages.

    Returns
    -------
    (pandas.Series, pandas.MultiIndex or None)
        The per-unit series on ``ids`` and, for a (unit, year) input, the (unit, year)
        pairs that have a value.
    """
    if isinstance(s, pd.DataFrame):
        if s.shape[1] != 1:
            raise InputError(
                f"{what} must be a Series (or a one-column DataFrame); "
                f"it has columns {list(s.columns)}"
            )
        s = s.iloc[:, 0]
    if not isinstance(s, pd.Series):
        raise InputError(
            f"{what} must be a pandas Series indexed by unit or (unit, year), "
            f"{type(s).__name__} was given"
        )
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise InputError(f"{what} is not numeric (dtype {s.dtype}); convert it with pd.to_numeric")
    pairs = None
    if isinstance(s.index, pd.MultiIndex):
        pairs = _unit_year(s.index, what=what)
        long = pd.Series(s.to_numpy(dtype=float), index=pairs)
        s = long.groupby(level="unit").sum(min_count=1)
        pairs = long.index[long.notna().to_numpy()]
    else:
        unit = unit_ids(s.index, name=f"{what} index")
        val.require_unique(unit, None, table=what)
        s = pd.Series(s.to_numpy(dtype=float), index=unit)
    extra = s.index.difference(ids)
    if len(extra):
        raise InputError(f"{what} has {len(extra)} unit(s) without a polygon: {format_ids(extra)}")
    return s.reindex(ids), pairs


def check_yearly(
    yearly: Any, ids: pd.Index
) -> tuple[list[int], dict[str, np.ndarray], pd.DataFrame]:
    """Validate the per-year frame of a map.

    Parameters
    ----------
    yearly : pandas.DataFrame
        Indexed by (unit, year), with ``residual``.
    ids : pandas.Index
        The polygons' ids.

    Returns
    -------
    (list of int, dict, pandas.DataFrame)
        The years, ``{column: array of shape (year, unit)}`` and the long frame.
    """
    if not isinstance(yearly, pd.DataFrame):
        raise InputError(
            f"yearly must be a DataFrame indexed by (unit, year), {type(yearly).__name__} was given"
        )
    if not isinstance(yearly.index, pd.MultiIndex) or yearly.index.nlevels != 2:
        raise InputError(
            "yearly must be indexed by (unit, year), e.g. geoattr.attractiveness() "
            f"output; its index is {type(yearly.index).__name__} {list(yearly.index.names)}"
        )
    if "residual" not in yearly.columns:
        raise InputError(f"yearly has no column 'residual'; it has {list(yearly.columns)}")
    cols = [
        c for c in ["residual", "actual", "expected", "residual_persons"] if c in yearly.columns
    ]
    _numeric(yearly, cols, table="yearly")
    idx = _unit_year(yearly.index, what="yearly")
    extra = pd.Index(idx.get_level_values("unit").unique()).difference(ids)
    if len(extra):
        raise InputError(f"yearly has {len(extra)} unit(s) without a polygon: {format_ids(extra)}")
    years = sorted(int(y) for y in idx.get_level_values("year").unique())
    long = pd.DataFrame({c: yearly[c].to_numpy(dtype=float) for c in cols}, index=idx)
    out = {}
    for c in cols:
        wide = long[c].unstack("year")
        out[c] = wide.reindex(index=ids, columns=years).to_numpy().T  # (year, unit)
    return years, out, long


def check_map_options(
    *,
    simplify: Any,
    fdr: Any,
    alpha: float,
    permutations: int,
    tiles: Any,
    self_contained: bool,
    profile_links: Any,
    renderer: str,
    max_geometry_bytes: Any,
    vmax: Any = None,
) -> None:
    """Validate the options of :func:`geoattr.report.maps.residual_map`.

    Parameters
    ----------
    simplify, fdr, alpha, permutations, tiles, self_contained, profile_links, renderer, max_geometry_bytes, vmax
        As in :func:`~geoattr.report.maps.residual_map`.

    Raises
    ------
    InputError
        Naming the option and the value given.
    """
    if isinstance(simplify, str):
        if simplify != "auto":
            raise InputError(
                f"simplify must be 'auto', a tolerance in metres or None, got {simplify!r}"
            )
    elif simplify is not None and (
        not isinstance(simplify, (int, float)) or simplify < 0 or not math.isfinite(simplify)
    ):
        raise InputError(
            f"simplify must be 'auto', a non-negative tolerance in metres or None, got {simplify!r}"
        )
    check_lisa_options(fdr=fdr, alpha=alpha, permutations=permutations)
    if self_contained and tiles is not None:
        raise InputError(
            f"tiles={tiles!r} need a network connection; a self-contained map has no "
            "background tiles: pass tiles=None with self_contained=True"
        )
    if profile_links is not None and "{unit}" not in str(profile_links) and "{page}" not in str(profile_links):
        raise InputError(
            f"profile_links must contain '{{unit}}' (replaced by the unit id) or '{{page}}' (replaced by "
            f"the file name of the unit's profile page), got {profile_links!r}"
        )
    if renderer not in ("auto", "svg", "canvas"):
        raise InputError(f"renderer must be 'auto', 'svg' or 'canvas', got {renderer!r}")
    if max_geometry_bytes is not None and max_geometry_bytes < 10_000:
        raise InputError(
            f"max_geometry_bytes must be at least 10000 (or None), got {max_geometry_bytes}"
        )
    if vmax is not None and not (vmax > 0 and math.isfinite(vmax)):
        raise InputError(f"vmax must be a positive number or None, got {vmax}")
