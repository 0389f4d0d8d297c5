"""Spatial weights builders; each returns a libpysal ``Graph`` indexed by unit id."""

from geoattr.weights.commuting import CommutingWeights, commuting, commuting_by_year, to_sparse, without_diagonal

__all__ = ["commuting", "commuting_by_year", "CommutingWeights", "to_sparse", "without_diagonal"]
