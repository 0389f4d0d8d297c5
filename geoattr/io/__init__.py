"""Readers with validation, the shared validators (``geoattr.io.validation``) and the OD engines (``geoattr.io.od``)."""

from geoattr.io import od, validation
from geoattr.io.readers import read_flows, read_mapping, read_panel, read_polygons, read_series

__all__ = ["read_polygons", "read_flows", "read_panel", "read_mapping", "read_series", "validation", "od"]
