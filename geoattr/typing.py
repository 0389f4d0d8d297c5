"""Type aliases shared across geoattr's public signatures."""

from __future__ import annotations

from typing import TypeAlias

from libpysal.graph import Graph

from geoattr.weights.sparse import SparseWeights

__all__ = ["WeightsLike"]

#: Spatial weights as geoattr takes them: a libpysal ``Graph`` or, for what is too large
#: for one, :class:`geoattr.weights.SparseWeights`; turned into numbers with
#: :func:`geoattr.weights.as_sparse`.
WeightsLike: TypeAlias = Graph | SparseWeights
