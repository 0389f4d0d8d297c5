"""Readers with validation and the OD engines (``geoattr.io.od``); the shared validators are :mod:`geoattr._validation`."""

from geoattr.io import od
from geoattr.io.readers import read_flows, read_mapping, read_panel, read_polygons, read_series

__all__ = ["read_polygons", "read_flows", "read_panel", "read_mapping", "read_series", "od"]
