"""Polygons for a web map: repair, simplification in metres, and a compact integer encoding.

The map stores the geometry once (:func:`geometry_payload`): polygons simplified in a
metric CRS (:func:`simplify_polygons`), projected to EPSG:4326 and encoded as
delta-encoded integer rings in 1e-5 degrees (:func:`encode_geometry`, about 1 m), which
``geoattr-map.js`` decodes in the browser.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geoattr.exceptions import InputError

__all__ = [
    "simplify_polygons",
    "repair_polygons",
    "encode_geometry",
    "geometry_payload",
    "SCALE",
]

log = logging.getLogger(__name__)

#: Coordinates are stored as integers in 1 / SCALE degrees (1e-5: about 1 m).
SCALE = 100_000


def _polygonal(g: Any) -> Any:
    """Keep the polygonal part of a geometry (``make_valid`` may return lines too)."""
    if shapely.get_type_id(g) in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def repair_polygons(polygons: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    """The polygons' geometry with invalid shapes repaired; the input is not modified.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame or geopandas.GeoSeries
        With a CRS.

    Returns
    -------
    geopandas.GeoSeries
        Same index and CRS; an invalid geometry is replaced by the polygonal part of
        :func:`shapely.make_valid` (an empty polygon when none is left).
    """
    geom = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    arr = np.asarray(geom.values, dtype=object)
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        fixed = shapely.make_valid(arr[invalid])
        arr = arr.copy()
        arr[invalid] = [_polygonal(g) for g in fixed]
    return gpd.GeoSeries(arr, index=geom.index, crs=geom.crs)


def _metric_crs(gs: gpd.GeoSeries) -> Any:
    crs = gs.crs
    if crs.is_projected:
        unit = (crs.axis_info[0].unit_name or "").lower() if crs.axis_info else ""
        if unit in ("metre", "meter", "m"):
            return crs
    return gs.estimate_utm_crs()


def _ring_table(geoms: np.ndarray) -> tuple[Any, ...]:
    """Quantised, deduplicated ring coordinates; the closing point of each ring dropped."""
    parts, part_unit = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_first = np.r_[True, ring_part[1:] != ring_part[:-1]] if len(rings) else np.zeros(0, bool)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords * SCALE).astype(np.int64)
    counts = np.bincount(coord_ring, minlength=len(rings))
    keep = np.ones(len(q), bool)
    if len(q):
        keep[np.cumsum(counts)[counts > 0] - 1] = False  # closing point
        same = np.r_[False, coord_ring[1:] == coord_ring[:-1]]
        keep &= ~(same & np.r_[False, np.all(q[1:] == q[:-1], axis=1)])
    return part_unit, rings, ring_part, ring_first, q[keep], coord_ring[keep]


def _delta_rings(q: np.ndarray, r: np.ndarray) -> dict[int, list[int]]:
    """Ring index -> flat delta-encoded coordinates (rings of fewer than 3 points dropped)."""
    start = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, bool)
    d = q.copy()
    if len(d):
        d[1:] -= q[:-1]
        d[start] = q[start]
    bounds = np.r_[np.flatnonzero(start), len(r)]
    by_ring: dict[int, list[int]] = {}
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if b - a >= 3:
            by_ring[int(r[a])] = d[a:b].ravel().tolist()
    return by_ring


def encode_geometry(geoms: np.ndarray) -> tuple[list, int]:
    """Delta-encoded integer rings (1e-5 degrees) per unit; closing points dropped.

    Rings that collapse (fewer than 3 distinct points after rounding) are dropped, with
    their polygon when it is the exterior; a unit left with nothing is drawn as a
    minimal triangle at its representative point so that every unit stays visible.

    Parameters
    ----------
    geoms : numpy.ndarray
        Shapely polygons or multipolygons in EPSG:4326, one per unit.

    Returns
    -------
    (list, int)
        Per unit a list of polygons, each a list of rings, each a flat list
        ``[x0, y0, dx1, dy1, ...]`` (the first point absolute, then differences); and
        the number of vertices kept.
    """
    n = len(geoms)
    part_unit, rings, ring_part, ring_first, q, r = _ring_table(geoms)
    by_ring = _delta_rings(q, r)
    out: list[list] = [[] for _ in range(n)]
    current: list | None = None
    for ri in range(len(rings)):
        ring = by_ring.get(ri)
        if ring_first[ri]:
            current = None
            if ring is not None:
                current = [ring]
                out[part_unit[ring_part[ri]]].append(current)
        elif current is not None and ring is not None:
            current.append(ring)
    vertices = sum(len(x) for x in by_ring.values()) // 2
    for i in range(n):
        if not out[i]:
            pt = shapely.point_on_surface(geoms[i]) if not shapely.is_empty(geoms[i]) else None
            x, y = (0, 0) if pt is None else (round(pt.x * SCALE), round(pt.y * SCALE))
            out[i] = [[[int(x), int(y), 1, 0, -1, 1]]]
            vertices += 3
    return out, vertices


def _simplified(marr: np.ndarray, tolerance: float) -> tuple[np.ndarray, str]:
    """Coverage simplification when GEOS can, else each polygon on its own."""
    if hasattr(shapely, "coverage_simplify"):
        try:
            return np.asarray(shapely.coverage_simplify(marr, tolerance), dtype=object), "coverage"
        except Exception as exc:  # GEOS errors on coverages it cannot handle
            log.info("coverage_simplify failed (%s); simplifying each polygon on its own", exc)
    out = np.asarray(shapely.simplify(marr, tolerance, preserve_topology=True), dtype=object)
    return out, "topology"


def simplify_polygons(
    polygons: gpd.GeoDataFrame,
    tolerance: float | Literal["auto"] | None = "auto",
) -> tuple[gpd.GeoSeries, dict[str, Any]]:
    """Simplify unit polygons for a web map, keeping shared edges where possible.

    Invalid geometries are repaired with :func:`shapely.make_valid` (their polygonal
    part kept).  The tolerance applies in metres in a projected CRS: the polygons' own
    when it is metric, else the UTM zone of their centre.
    :func:`shapely.coverage_simplify` (GEOS >= 3.12) simplifies the shared edges of
    neighbouring polygons once, so no gaps or overlaps appear between neighbours; when
    it is unavailable or fails, each polygon is simplified on its own with
    ``preserve_topology=True``.  A polygon that would vanish keeps its original shape.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        With a CRS.
    tolerance : float, "auto" or None, default "auto"
        Metres.  ``"auto"`` uses ``sqrt(total area / number of units) / 300``: about a
        third of a pixel when a typical unit spans 300 pixels on screen (100 m for the 356
        Norwegian municipalities of 2020, about 30 km across on average).  ``None`` or 0
        keeps the geometry as it is.

    Returns
    -------
    (geopandas.GeoSeries, dict)
        The simplified geometry in the metric CRS, indexed like ``polygons``, and
        ``{"method", "tolerance", "metric_crs", "vertices_in", "vertices_out"}``.
    """
    if polygons.crs is None:
        raise InputError("polygons have no CRS; set one with set_crs()")
    gs = repair_polygons(polygons)
    metric = _metric_crs(gs)
    gm = gs.to_crs(metric)
    marr = np.asarray(gm.values, dtype=object)
    info: dict[str, Any] = {
        "metric_crs": metric.to_string(),
        "vertices_in": int(shapely.get_num_coordinates(marr).sum()),
    }
    if tolerance == "auto":
        area = float(shapely.area(marr).sum())
        tolerance = math.sqrt(area / max(len(marr), 1)) / 300.0
    if not tolerance:
        info.update(method=None, tolerance=None, vertices_out=info["vertices_in"])
        return gm, info
    out, method = _simplified(marr, float(tolerance))
    gone = shapely.is_empty(out) | (shapely.area(out) <= 0)
    if gone.any():
        out[gone] = marr[gone]
    info.update(
        method=method,
        tolerance=float(tolerance),
        vertices_out=int(shapely.get_num_coordinates(out).sum()),
    )
    return gpd.GeoSeries(out, index=polygons.index, crs=metric), info


def geometry_payload(
    polygons: gpd.GeoDataFrame, simplify: float | str | None, max_bytes: int | None
) -> tuple[list, dict[str, Any], list[list[float]]]:
    """Simplify, project to EPSG:4326 and encode the polygons of a map.

    With ``"auto"``, the tolerance is doubled until the encoding fits ``max_bytes`` or
    stops shrinking (then the smallest tolerance of the plateau is kept and a note says
    the budget was not reached).

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        With a CRS.
    simplify : float, "auto" or None
        Tolerance in metres (:func:`simplify_polygons`).
    max_bytes : int or None
        Size budget of the encoded geometry for ``simplify="auto"``.

    Returns
    -------
    (list, dict, list)
        The encoding (:func:`encode_geometry`); the simplification facts of
        :func:`simplify_polygons` plus ``geometry_bytes`` and ``notes``; the bounds
        ``[[south, west], [north, east]]``.
    """
    tol: float | str | None = simplify
    best = None
    for _ in range(16):
        gm, info = simplify_polygons(polygons, tol)
        g4326 = np.asarray(gm.to_crs(4326).values, dtype=object)
        enc, vertices = encode_geometry(g4326)
        nbytes = len(json.dumps(enc, separators=(",", ":")))
        info.update(vertices_out=vertices, geometry_bytes=nbytes, notes=[])
        current = (enc, info, g4326)
        if simplify != "auto" or max_bytes is None or nbytes <= max_bytes:
            best = current
            break
        if best is not None and nbytes > 0.97 * best[1]["geometry_bytes"]:
            break  # doubling no longer helps: shared nodes and ring minima remain
        best = current
        tol = 2.0 * (info["tolerance"] or 1.0)
        log.info(
            "geometry is %d bytes > %d: doubling the tolerance to %.0f m", nbytes, max_bytes, tol
        )
    enc, info, g4326 = best
    if simplify == "auto" and max_bytes is not None and info["geometry_bytes"] > max_bytes:
        info["notes"].append(
            f"geometry is {info['geometry_bytes']} bytes, above max_geometry_bytes="
            f"{max_bytes}: simplification cannot shrink it further"
        )
    minx, miny, maxx, maxy = shapely.total_bounds(g4326)
    return enc, info, [[float(miny), float(minx)], [float(maxy), float(maxx)]]
