"""Spatial weights builders; each returns a libpysal ``Graph`` indexed by unit id."""

from geoattr.weights.commuting import CommutingWeights, commuting, commuting_by_year, to_sparse, without_diagonal
from geoattr.weights.geometry import align, contiguity, distance_band, knn, row_standardise

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
]
