"""Folium web maps: attractiveness, compared residuals, per-year residuals and LISA clusters.

:func:`residual_map` composes the layers of :mod:`~geoattr.report.maps.layers` on the
geometry of :mod:`~geoattr.report.maps.geometry`, with the vendored Leaflet of
:mod:`~geoattr.report.maps.leaflet`; :func:`attractiveness_map` is the single-layer
interface.  The LISA statistics are an analysis: :func:`geoattr.lisa.lisa_table`.
"""

from geoattr.report.maps.geometry import simplify_polygons
from geoattr.report.maps.layers import LISA_CLUSTERS
from geoattr.report.maps.leaflet import vendored_leaflet_version
from geoattr.report.maps.map import MapInfo, attractiveness_map, residual_map

__all__ = [
    "residual_map",
    "attractiveness_map",
    "simplify_polygons",
    "MapInfo",
    "LISA_CLUSTERS",
    "vendored_leaflet_version",
]
