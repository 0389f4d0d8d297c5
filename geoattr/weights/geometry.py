"""Geometric weights: contiguity, k nearest neighbours and distance bands (libpysal builders).

Each builder takes a GeoDataFrame indexed by unit id and returns a libpysal ``Graph``
with those ids, keeping units without neighbours as explicit isolates (with an
:class:`~geoattr.exceptions.IsolatesWarning`).  The weights are the builders' natural
ones (binary, or inverse distance); pass them through :func:`row_standardise` for the
usual spatial lag.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph

from geoattr._format import format_ids
from geoattr.exceptions import GeographicCRSWarning, InputError, IsolatesWarning
import geoattr._validation as val
from geoattr.io.crs import check_coordinates
from geoattr.weights.sparse import SparseWeights, WeightsT, id_mismatch_hint, sparse_row_standardise

__all__ = ["contiguity", "knn", "distance_band", "row_standardise", "align"]


def _prepare(gdf: gpd.GeoDataFrame, ids: Sequence[str] | None, *, distance: bool,
             geographic: str = "warn") -> gpd.GeoDataFrame:
    """The polygons on normalised ids, checked; ``geographic``: "warn" or "raise" on a degree CRS."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"gdf must be a GeoDataFrame, {type(gdf).__name__} was given instead")
    check_coordinates(gdf)
    out = gdf[[gdf.geometry.name]].copy()
    out.index = pd.Index(val.normalise_ids(out.index, name="gdf index").to_numpy(), dtype=object, name="unit")
    val.require_unique(pd.DataFrame(index=out.index), None, table="polygons")
    empty = out.index[out.geometry.isna() | out.geometry.is_empty]
    if len(empty):
        raise InputError(f"{len(empty)} unit(s) have no geometry: {format_ids(empty)}")
    if ids is not None:
        ids = pd.Index(val.normalise_ids(pd.Index(ids), name="ids").to_numpy(), dtype=object)
        val.require_same_ids(ids, out.index, a_name="ids", b_name="the polygons",
                             hint="pass the polygons of exactly the data's units")
        out = out.loc[ids]
    if distance:
        if out.crs is None:
            raise InputError("the polygons have no CRS; set one with set_crs() (distance builders need metres)")
        if out.crs.is_geographic and geographic == "raise":
            raise InputError(
                f"a distance band needs distances in metres, but the CRS {out.crs.to_string()} is geographic "
                "(degrees): a threshold in metres would link every unit to every other. Reproject to a "
                "projected CRS first, e.g. gdf.to_crs('EPSG:25833') for Norway (or the UTM zone of your "
                "data), or pass allow_geographic=True for a threshold in degrees")
        if out.crs.is_geographic and geographic == "warn":
            warnings.warn(
                f"the CRS {out.crs.to_string()} is geographic (degrees): distances are not in metres; "
                "use to_crs(), e.g. EPSG:25833 for Norway", GeographicCRSWarning, stacklevel=3)
    return out


def _warn_isolates(g: Graph) -> Graph:
    iso = list(g.isolates)
    if iso:
        warnings.warn(f"{len(iso)} unit(s) have no neighbours and are kept as isolates: {format_ids(iso)}",
                      IsolatesWarning, stacklevel=3)
    return g


def contiguity(gdf: gpd.GeoDataFrame, *, rook: bool = False, ids: Sequence[str] | None = None) -> Graph:
    """Queen (default) or rook contiguity.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons indexed by unit id.
    rook : bool, default False
        Rook (shared edge) instead of queen (shared edge or vertex).
    ids : sequence of str, optional
        Units to keep, in this order (must be the polygons' ids).
    """
    g = Graph.build_contiguity(_prepare(gdf, ids, distance=False), rook=rook)
    return _warn_isolates(g)


def knn(gdf: gpd.GeoDataFrame, k: int, *, ids: Sequence[str] | None = None) -> Graph:
    """The ``k`` nearest neighbours of each unit's representative point (binary weights)."""
    pts = _prepare(gdf, ids, distance=True)
    if not 1 <= k < len(pts):
        raise InputError(f"k must be between 1 and the number of units minus one ({len(pts) - 1}), got {k}")
    rep = gpd.GeoSeries(pts.geometry.representative_point(), index=pts.index, crs=pts.crs)
    return Graph.build_knn(rep, k=k)


def distance_band(gdf: gpd.GeoDataFrame, threshold: float, *, binary: bool = True, alpha: float = -1.0,
                  ids: Sequence[str] | None = None, allow_geographic: bool = False) -> Graph:
    """Units within ``threshold`` (CRS units, metres) of each other's representative points.

    ``binary=False`` gives inverse-distance weights ``d**alpha``.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons indexed by unit id, in a projected CRS (metres).
    threshold : float
        Distance in the CRS's units.
    binary : bool, default True
    alpha : float, default -1
    ids : sequence of str, optional
        Units to keep, in this order.
    allow_geographic : bool, default False
        Accept a geographic CRS, the threshold then being in degrees.  Without it a
        geographic CRS is an error: a threshold meant in metres links every unit to
        every other (a complete graph).

    Raises
    ------
    InputError
        No CRS, a geographic CRS (without ``allow_geographic``), coordinates that do not
        fit the CRS, ``threshold <= 0``.
    """
    if threshold <= 0:
        raise InputError(f"threshold must be positive, got {threshold}")
    pts = _prepare(gdf, ids, distance=True, geographic="allow" if allow_geographic else "raise")
    rep = gpd.GeoSeries(pts.geometry.representative_point(), index=pts.index, crs=pts.crs)
    return _warn_isolates(Graph.build_distance_band(rep, threshold, binary=binary, alpha=alpha))


def row_standardise(weights: Graph) -> Graph:
    """Row-standardised copy (``Graph.transform("r")``); isolates stay isolates."""
    return weights.transform("r")


def align(weights: WeightsT, ids: Sequence[str] | pd.Index, *, drop_missing: bool = False,
          renormalise: bool | None = None) -> WeightsT:
    """The weights restricted to (and ordered like) ``ids``.

    Ids of the data missing from the weights raise an error listing them, unless
    ``drop_missing`` (then only the ids present are kept).  Extra ids are removed with
    their links (``Graph.subgraph`` for a Graph).  Row-standardised weights
    (transformation ``"R"``) have their rows renormalised to sum to 1 again, so that
    the label stays true; a unit that loses all its neighbours becomes an isolate.

    Parameters
    ----------
    weights : Graph or SparseWeights
    ids : sequence of str
    drop_missing : bool, default False
    renormalise : bool, optional
        Renormalise the rows after removing links; default: when the weights are
        row-standardised.  ``False`` on row-standardised weights labels the result
        ``"O"`` (original weights), since its rows no longer sum to 1.

    Returns
    -------
    Graph or SparseWeights
        The same kind as ``weights``, with ``unique_ids`` equal to ``ids`` (less the
        missing ones with ``drop_missing``).
    """
    ids = pd.Index(val.normalise_ids(pd.Index(ids), name="ids").to_numpy(), dtype=object)
    have = set(weights.unique_ids)  # built once: a set per id made this quadratic (167 s at 10,000 units)
    missing = [i for i in ids if i not in have]
    if missing and not drop_missing:
        raise InputError(f"{len(missing)} id(s) are not in the weights: {format_ids(missing)}"
                         f"{id_mismatch_hint(ids, list(weights.unique_ids), data_name='ids')}; "
                         "rebuild the weights for these units or pass drop_missing=True")
    gone = set(missing)
    keep = pd.Index([i for i in ids if i not in gone], dtype=object)
    row_std = str(weights.transformation).upper() == "R"
    renorm = row_std if renormalise is None else bool(renormalise)
    label = "R" if renorm else ("O" if row_std else weights.transformation)
    if isinstance(weights, SparseWeights):
        p = pd.Index(weights.ids).get_indexer(keep)
        m = weights.matrix[p][:, p].tocsr()
        if renorm:
            m = sparse_row_standardise(m)
        return replace(weights, matrix=m, ids=keep,
                       transformation=label.lower() if str(weights.transformation).islower() else label)
    sub = weights.subgraph(keep)
    adj = sub.adjacency
    pos = pd.Series(np.arange(len(keep)), index=keep)
    order = np.lexsort((pos.reindex(adj.index.get_level_values("neighbor")).to_numpy(),
                        pos.reindex(adj.index.get_level_values("focal")).to_numpy()))
    adj = adj.iloc[order]
    if renorm:
        focal = adj.index.get_level_values("focal")
        tot = adj.groupby(focal, sort=False).transform("sum").to_numpy()
        adj = pd.Series(np.divide(adj.to_numpy(), tot, out=np.zeros(len(adj)), where=tot != 0),
                        index=adj.index, name=adj.name)
    return Graph(adj, transformation=label, is_sorted=True)
