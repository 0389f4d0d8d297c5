"""Spatial weights builders; each returns a libpysal ``Graph`` indexed by unit id."""

from geoattr.weights.commuting import CommutingWeights, commuting, commuting_by_year, to_sparse, without_diagonal
from geoattr.weights.geometry import align, contiguity, distance_band, knn, row_standardise
from geoattr.weights.lag import panel_weights, spatial_lag
from geoattr.weights.large import (
    CommutingMatrix,
    aggregate_od,
    commuting_by_year_from_files,
    commuting_from_files,
    vra_sparse,
)

__all__ = [
    "commuting",
    "commuting_by_year",
    "CommutingWeights",
    "contiguity",
    "knn",
    "distance_band",
    "row_standardise",
    "without_diagonal",
    "align",
    "to_sparse",
    "commuting_from_files",
    "commuting_by_year_from_files",
    "aggregate_od",
    "CommutingMatrix",
    "vra_sparse",
]
