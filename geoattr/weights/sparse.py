"""Weights too large for a libpysal ``Graph``: :class:`SparseWeights`, and :func:`as_sparse`, the one way in.

Every weights builder in geoattr returns a libpysal ``Graph``, except above
:data:`GRAPH_MAX_EDGES` stored entries, where the Graph's pandas adjacency (object ids, a
MultiIndex: ~150-250 bytes per edge and minutes of construction at 10^8 edges) costs far
more than a CSR matrix (12 bytes per edge): there the builders return a
:class:`SparseWeights` (scipy CSR + ids), with the same id and row conventions, convertible
both ways with :meth:`SparseWeights.to_graph` and :meth:`SparseWeights.from_graph`.

Code that needs the numbers takes either kind (``geoattr.typing.WeightsLike``) and calls
:func:`as_sparse(weights, ids) <as_sparse>`, which returns the CSR matrix with rows and
columns in the order of ``ids``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from geoattr._format import format_ids
from geoattr.accounting import RowAccount
from geoattr.exceptions import InputError
from geoattr.io.od.memory import format_bytes

__all__ = ["SparseWeights", "as_sparse", "row_shares", "GRAPH_MAX_EDGES", "WeightsT", "id_mismatch_hint",
           "sparse_row_standardise"]

#: Largest number of stored entries (edges plus isolates) for which a builder returns a
#: libpysal ``Graph`` (``as_graph=True``) and :meth:`SparseWeights.to_graph` converts;
#: beyond it keep the :class:`SparseWeights`.
GRAPH_MAX_EDGES = 5_000_000


def row_shares(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Each value divided by the sum of its row: ``v[e] / sum_{e' in row(e)} v[e']``.

    The one row normalisation of commuting counts and of weights without their diagonal
    (rows that sum to 0 are not expected: callers pass positive values).

    Parameters
    ----------
    rows : numpy.ndarray
        Row (origin) position of each entry, ints in ``[0, n)``.
    values : numpy.ndarray
        The entries (counts or weights).
    n : int
        Number of rows.
    """
    tot = np.bincount(rows, weights=values, minlength=n)
    return values / tot[rows]


def sparse_row_standardise(m: sparse.spmatrix) -> sparse.csr_matrix:
    """Each row divided by its sum (rows that sum to 0 stay empty); a new CSR matrix.

    Parameters
    ----------
    m : scipy.sparse matrix

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    m = sparse.csr_matrix(m, dtype=float, copy=True)
    tot = np.asarray(m.sum(axis=1)).ravel()
    scale = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot != 0)
    out = sparse.diags(scale) @ m
    out = out.tocsr()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def _kind(ids: Sequence) -> str:
    """"integers", "strings", "numbers" or "mixed values": what a collection of ids holds."""
    kinds = {"integers" if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else
             "numbers" if isinstance(i, (float, np.floating)) else "strings" if isinstance(i, str) else "other"
             for i in ids}
    return kinds.pop() if len(kinds) == 1 else "mixed values"


def _examples(ids: Sequence, n: int = 2) -> str:
    shown = list(ids)[:n]
    return ", ".join(repr(i.item() if isinstance(i, np.generic) else i) for i in shown) + (
        ", ..." if len(ids) > n else "")


def id_mismatch_hint(data_ids: Sequence, weights_ids: Sequence, *, data_name: str = "the data",
                     weights_name: str = "the weights") -> str:
    """Why two sets of ids that should be the same units do not match, when it is their form.

    Integer ids against string ids (``301`` against ``'0301'``), or strings that differ
    only by leading zeros, are the usual cause; the text names both forms with examples
    and says how to convert.

    Parameters
    ----------
    data_ids, weights_ids : sequence
        The two sets of ids.
    data_name, weights_name : str
        How the message names them.

    Returns
    -------
    str
        ``"; the data's ids are integers (301, 1103, ...) and the weights' are strings
        ('0301', '1103', ...): ..."``, or ``""`` when the forms agree.
    """
    a, b = list(dict.fromkeys(data_ids)), list(dict.fromkeys(weights_ids))
    if not a or not b:
        return ""
    ka, kb = _kind(a), _kind(b)
    width = max((len(str(i)) for i in b), default=0)
    if ka != kb:
        fix = (f"convert them, e.g. data.index.astype(str).str.zfill({width}) for codes with leading zeros, "
               "or read the ids as text (dtype=str); geoattr's readers and weights builders keep ids as strings"
               if kb == "strings" else f"build {weights_name} and {data_name} on ids of the same type")
        return (f"; {data_name}'s ids are {ka} ({_examples(a)}) and {weights_name}' are {kb} ({_examples(b)}): "
                f"{fix}")
    if ka == "strings":
        strip_a, strip_b = {str(i).lstrip("0") for i in a}, {str(i).lstrip("0") for i in b}
        if set(a).isdisjoint(b) and not strip_a.isdisjoint(strip_b):
            return (f"; {data_name}'s ids ({_examples(a)}) and {weights_name}' ({_examples(b)}) differ by leading "
                    f"zeros: zero-pad them the same way, e.g. .str.zfill({width})")
    return ""


def _id_difference(have: pd.Index, ids: pd.Index) -> str:
    only_w, only_i = set(have) - set(ids), set(ids) - set(have)
    return (f"the weights' ids differ from the data's: {len(only_w)} only in the weights ({format_ids(only_w)}), "
            f"{len(only_i)} only in the data ({format_ids(only_i)}){id_mismatch_hint(ids, have)}; "
            "use geoattr.weights.align()")


@dataclass(frozen=True, eq=False)
class SparseWeights:
    """Spatial weights as a scipy CSR matrix with unit ids: the type for what is too big for a ``Graph``.

    Same conventions as a libpysal ``Graph`` built by geoattr: ``unique_ids`` are the unit
    ids (str) in row order, ``sparse`` is the ``N x N`` matrix, isolates are empty rows
    (a Graph stores them as zero self-weights).  Pass it wherever geoattr takes weights
    (:func:`as_sparse`, the spatial models, the sparse VRA).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        ``N x N``, rows and columns in the order of ``ids``; for commuting weights
        ``w[i, j]`` is the share of the employed residents of ``ids[i]`` working in
        ``ids[j]``, rows with flows sum to 1.  Column indices sorted.
    ids : pandas.Index
        Unit ids (str).
    year : int, optional
        Year of the flows (None for a table without a year column).
    account : RowAccount, optional
        Rows read, used and dropped by reason.
    notes : tuple of str
        What was done (aggregation, options), for reports.
    transformation : str, default "r"
        The libpysal transformation code the Graph gets (``"r"``: row-standardised).
    """

    matrix: sparse.csr_matrix
    ids: pd.Index
    year: int | None = None
    account: RowAccount | None = None
    notes: tuple[str, ...] = ()
    transformation: str = "r"

    @property
    def unique_ids(self) -> pd.Index:
        """The unit ids (as ``Graph.unique_ids``)."""
        return self.ids

    @property
    def sparse(self) -> sparse.csr_matrix:
        """The CSR matrix (as ``Graph.sparse``; not a copy)."""
        return self.matrix

    @property
    def n_units(self) -> int:
        """Number of units ``N``."""
        return len(self.ids)

    @property
    def nnz(self) -> int:
        """Number of stored (non-zero) weights."""
        return int(self.matrix.nnz)

    @property
    def isolates(self) -> pd.Index:
        """Units without any weight (empty rows)."""
        return self.ids[np.diff(self.matrix.indptr) == 0]

    def without_diagonal(self, *, renormalise: bool = True) -> SparseWeights:
        """Drop self-weights (and renormalise rows): the W of a spatial lag (MODEL.md).

        A unit whose only weight was on itself becomes an isolate (empty row).  The
        same rule as :func:`geoattr.weights.without_diagonal` on a ``Graph``.
        """
        coo = self.matrix.tocoo()
        keep = (coo.row != coo.col) & (coo.data != 0)
        r, c, v = coo.row[keep], coo.col[keep], coo.data[keep]
        if renormalise:
            v = row_shares(r, v, self.n_units)
        m = sparse.csr_matrix((v, (r, c)), shape=self.matrix.shape)
        m.sort_indices()
        note = "off-diagonal shares" + (" renormalised" if renormalise else "")
        return SparseWeights(matrix=m, ids=self.ids, year=self.year, account=self.account,
                             notes=(*self.notes, note), transformation="r" if renormalise else self.transformation)

    def to_graph(self, *, max_edges: int | None = GRAPH_MAX_EDGES) -> Graph:
        """The same weights as a libpysal ``Graph`` (isolates as zero self-weights).

        The result equals what :func:`geoattr.weights.commuting` returns for the same
        flows (ids in the same order, ``transformation="r"``).

        Parameters
        ----------
        max_edges : int or None, default GRAPH_MAX_EDGES
            Refuse larger matrices (the Graph's pandas adjacency needs ~20x the memory
            of the CSR); None: no limit.

        Raises
        ------
        InputError
            More than ``max_edges`` entries: keep the SparseWeights (``as_graph=False``).
        """
        iso = np.flatnonzero(np.diff(self.matrix.indptr) == 0)
        size = self.nnz + len(iso)
        if max_edges is not None and size > max_edges:
            raise InputError(
                f"{size:,} edges are too many for a libpysal Graph (limit max_edges={max_edges:,}; its pandas "
                f"adjacency needs ~200 bytes per edge, ~{format_bytes(200 * size)} here): pass as_graph=False to get "
                "SparseWeights (scipy.sparse CSR + ids), which geoattr's sparse VRA, diagnostics and spatial "
                "models accept, or raise max_edges / graph_max_edges"
            )
        coo = self.matrix.tocoo()
        rows = np.concatenate([coo.row, iso]).astype(np.int64)
        cols = np.concatenate([coo.col, iso]).astype(np.int64)
        vals = np.concatenate([coo.data, np.zeros(len(iso))])
        order = np.lexsort((cols, rows))
        ids = np.asarray(self.ids, dtype=object)
        adj = pd.Series(vals[order], index=pd.MultiIndex.from_arrays([ids[rows[order]], ids[cols[order]]],
                                                                     names=["focal", "neighbor"]), name="weight")
        return Graph(adj, transformation=self.transformation, is_sorted=True)

    @classmethod
    def from_graph(cls, weights: Graph, *, ids: Sequence[str] | pd.Index | None = None) -> SparseWeights:
        """A Graph's weights as SparseWeights (rows and columns in the order of ``ids``, default the graph's).

        Isolates' zero self-weights become empty rows; ``transformation`` is kept.
        """
        ids = pd.Index(weights.unique_ids if ids is None else ids)
        return cls(matrix=as_sparse(weights, ids), ids=ids, transformation=weights.transformation)

    def __repr__(self) -> str:
        return (f"SparseWeights(N={self.n_units:,}, nnz={self.nnz:,}, year={self.year}, "
                f"isolates={len(self.isolates):,})")


#: Either kind of weights, for functions that return the kind they were given.
WeightsT = TypeVar("WeightsT", Graph, SparseWeights)


def as_sparse(weights: Graph | SparseWeights, ids: Sequence[str] | pd.Index) -> sparse.csr_matrix:
    """The weights as a new CSR matrix whose rows and columns follow ``ids``.

    The single way from weights (a libpysal ``Graph`` or :class:`SparseWeights`) to
    numbers.  For a Graph the matrix is built from its adjacency table, not
    ``Graph.sparse`` (libpysal sizes the columns of ``.sparse`` by the ids that occur as
    neighbours, so a graph in which some unit is nobody's destination gave a non-square
    matrix); isolates' zero self-weights are dropped.  Column indices are sorted.

    Parameters
    ----------
    weights : Graph or SparseWeights
    ids : sequence of str
        Must be the weights' ids (any order).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(ids) x len(ids)``; a copy (changing it leaves ``weights`` untouched).

    Raises
    ------
    InputError
        ``ids`` are not the weights' ids, naming the differences.
    TypeError
        ``weights`` is neither a Graph nor SparseWeights.
    """
    ids = pd.Index(ids)
    if isinstance(weights, SparseWeights):
        have = weights.ids
        if ids.equals(have):
            return weights.matrix.copy()
        if set(ids) != set(have) or len(ids) != len(have):
            raise InputError(_id_difference(have, ids))
        p = have.get_indexer(ids)
        return weights.matrix[p][:, p].tocsr()
    if not isinstance(weights, Graph):
        raise TypeError(f"weights must be a libpysal Graph or geoattr.weights.SparseWeights, "
                        f"got {type(weights).__name__}")
    have = pd.Index(weights.unique_ids)
    if not have.equals(ids) and set(have) != set(ids):
        raise InputError(_id_difference(have, ids))
    adj = weights.adjacency
    rows = ids.get_indexer(adj.index.get_level_values("focal"))
    cols = ids.get_indexer(adj.index.get_level_values("neighbor"))
    m = sparse.csr_matrix((adj.to_numpy(dtype=float), (rows, cols)), shape=(len(ids), len(ids)))
    m.eliminate_zeros()
    m.sort_indices()
    return m
