"""Spatial weights: builders that return a libpysal ``Graph`` (or, too large for one, ``SparseWeights``).

* geometry (:mod:`~geoattr.weights.geometry`): ``contiguity``, ``knn``, ``distance_band``;
* commuting (:mod:`~geoattr.weights.commuting`): ``commuting``, ``commuting_by_year``
  (a :class:`CommutingWeights` mapping year -> Graph);
* OD files of any size (:mod:`~geoattr.weights.large`): ``commuting_from_files``,
  ``commuting_by_year_from_files`` (a Graph, or :class:`SparseWeights` with ``as_graph=False``);
* operations: ``align``, ``without_diagonal``, ``row_standardise``;
* :func:`as_sparse`: the one way from either kind of weights to a scipy CSR matrix.
"""

from geoattr.weights.commuting import CommutingWeights, commuting, commuting_by_year, without_diagonal
from geoattr.weights.geometry import align, contiguity, distance_band, knn, row_standardise
from geoattr.weights.large import GRAPH_MAX_EDGES, commuting_by_year_from_files, commuting_from_files
from geoattr.weights.sparse import SparseWeights, as_sparse
from geoattr.weights.lag import panel_weights, spatial_lag

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
    "as_sparse",
    "SparseWeights",
    "GRAPH_MAX_EDGES",
    "commuting_from_files",
    "commuting_by_year_from_files",
]
