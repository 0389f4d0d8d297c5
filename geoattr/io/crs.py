"""Do the coordinates fit the CRS they are declared in?

A file whose coordinates are longitude/latitude in degrees but whose CRS says metres
(degrees inside EPSG:25833), or metres labelled EPSG:4326, reads without complaint
and gives wrong distances, wrong simplification and a map drawn near (0, 0).
:func:`check_coordinates` refuses such polygons, naming the CRS and the bounds found.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pyproj

from geoattr.exceptions import InputError

__all__ = ["check_coordinates", "AREA_MARGIN_DEGREES"]

#: Margin (degrees) around a projected CRS's area of use within which coordinates read
#: as longitude/latitude are taken to be degrees (Norway in UTM 33 spans 4-31 degrees E,
#: its area of use 12-18 degrees E).
AREA_MARGIN_DEGREES = 20.0


def _bounds_text(b: np.ndarray) -> str:
    return f"x {b[0]:.6g} to {b[2]:.6g}, y {b[1]:.6g} to {b[3]:.6g}"


def check_coordinates(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str = "the polygons") -> None:
    """Refuse coordinates that cannot be in the declared CRS.

    Two mistakes are detected:

    * a geographic CRS (degrees) with coordinates beyond longitude -180..360 or
      latitude -90..90 (metres labelled, e.g., EPSG:4326);
    * a projected CRS with every coordinate inside -180..180 / -90..90 that, read as
      longitude/latitude, falls in the CRS's area of use (widened by
      :data:`AREA_MARGIN_DEGREES`): degrees labelled, e.g., EPSG:25833.  Real
      projected coordinates that small would put all units within 200 m of the
      projection's origin, far outside that area.

    Without a CRS, or without geometry, nothing is checked.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
    what : str, default "the polygons"
        How the message names them.

    Raises
    ------
    InputError
        Naming the CRS and the bounds found, and suggesting ``set_crs(...,
        allow_override=True)`` (the CRS label is wrong) or ``to_crs`` (to reproject).
    """
    crs = gdf.crs
    if crs is None or len(gdf) == 0:
        return
    b = np.asarray(gdf.total_bounds, dtype=float)
    if not np.isfinite(b).all():
        return
    name = crs.to_string()
    if crs.is_geographic:
        if b[0] < -180 or b[2] > 360 or b[1] < -90 or b[3] > 90:
            raise InputError(
                f"{what} are declared in the geographic CRS {name} (degrees) but their coordinates span "
                f"{_bounds_text(b)}, which are not longitudes/latitudes: they look like projected metres. "
                "Declare the CRS they are in with .set_crs('EPSG:25833', allow_override=True) (the right code "
                "for your data), or pass crs= when the file has none"
            )
        return
    if b[0] < -180 or b[2] > 180 or b[1] < -90 or b[3] > 90:
        return
    area = crs.area_of_use
    if area is not None:
        m = AREA_MARGIN_DEGREES
        west, south, east, north = area.bounds
        if not (west - m <= b[0] and b[2] <= east + m and south - m <= b[1] and b[3] <= north + m):
            return
    raise InputError(
        f"{what} are declared in the projected CRS {name} (metres) but their coordinates span {_bounds_text(b)}, "
        "which look like longitude/latitude in degrees" + (f" (the CRS is meant for {area.name.split(':')[0]})" if area else "")
        + ". Declare the CRS the coordinates are in with .set_crs('EPSG:4326', allow_override=True) and "
        f"reproject with .to_crs({_short(crs)!r})"
    )


def _short(crs: Any) -> str:
    """``EPSG:25833`` when the CRS has an authority code, else its string."""
    auth = pyproj.CRS.from_user_input(crs).to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_string()

