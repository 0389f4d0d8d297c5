"""Readers with validation; ``validation`` is the shared validators (:mod:`geoattr._validation`)."""

import geoattr._validation as validation
from geoattr.io.readers import read_flows, read_mapping, read_panel, read_polygons, read_series

__all__ = ["read_polygons", "read_flows", "read_panel", "read_mapping", "read_series", "validation"]
