"""Folium web maps of attractiveness and residuals."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoattr.accounting import format_ids
from geoattr.exceptions import InputError

__all__ = ["attractiveness_map"]


def attractiveness_map(
    polygons: gpd.GeoDataFrame,
    values: pd.DataFrame,
    *,
    column: str = "residual",
    tooltip: list[str] | None = None,
    cmap: str = "RdBu",
    layer_name: str = "Attractiveness",
    simplify: float | None = 200.0,
    tiles: str | None = "OpenStreetMap",
    path: str | Path | None = None,
):
    """Choropleth of ``values[column]`` on the polygons, diverging colours centred on zero.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        Indexed by unit id, with a ``name`` column (used in the tooltip).
    values : pandas.DataFrame
        Indexed by unit id (e.g. :func:`geoattr.cumulate` output, optionally joined
        with ``actual``/``expected``); every polygon unit must be present.
    column : str, default "residual"
        Column to colour by.  The colour scale runs from ``-m`` to ``m`` with
        ``m = max |value|``, so zero is the neutral midpoint.
    tooltip : list of str, optional
        Columns in the tooltip (default: name, every numeric column of ``values`` and
        ``rank``).
    cmap : str, default "RdBu"
        A diverging matplotlib colormap (red = negative, blue = positive).
    layer_name : str
    simplify : float or None, default 200
        Geometry simplification tolerance in CRS units (metres) to keep the HTML small.
    tiles : str or None
        Background tiles (``None`` for none; tiles need a network connection to show).
    path : str or Path, optional
        Write the HTML file there.

    Returns
    -------
    folium.Map
    """
    import folium  # noqa: F401  (core dependency; imported lazily for start-up time)

    if column not in values.columns:
        raise InputError(f"values has no column {column!r}; it has {list(values.columns)}")
    missing = set(polygons.index) - set(values.index)
    if missing:
        raise InputError(
            f"{len(missing)} polygon unit(s) have no value: {format_ids(missing)}; "
            "pass values for every unit (or subset the polygons)"
        )
    gdf = polygons[["name", "geometry"]].copy() if "name" in polygons else polygons[["geometry"]].copy()
    if "name" not in gdf:
        gdf["name"] = gdf.index.astype(str)
    joined = gdf.join(values, how="left")
    joined["rank"] = joined[column].rank(ascending=False, method="min").astype(int)
    joined = joined.rename_axis("unit").reset_index()
    num_cols = [c for c in values.columns if pd.api.types.is_numeric_dtype(values[c])]
    for c in num_cols:
        joined[c] = joined[c].round(3)
    if simplify and joined.crs is not None and not joined.crs.is_geographic:
        joined["geometry"] = joined.geometry.simplify(simplify, preserve_topology=True)
    m = float(np.nanmax(np.abs(joined[column].to_numpy()))) or 1.0
    fields = tooltip or ["unit", "name", *num_cols, "rank"]
    fmap = joined.explore(
        column=column,
        cmap=cmap,
        vmin=-m,
        vmax=m,
        tooltip=fields,
        name=layer_name,
        tiles=tiles,
        legend=True,
        legend_kwds={"caption": f"{layer_name}: {column} (diverging, centred on 0)"},
        style_kwds={"weight": 0.4, "color": "#555555"},
    )
    import folium as _folium

    _folium.LayerControl().add_to(fmap)
    if path is not None:
        fmap.save(str(path))
    return fmap
