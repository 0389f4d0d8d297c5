"""Symmetry of a weights matrix, by blocks of rows: :func:`is_symmetric`, :func:`symmetric_scaling`.

Both compare ``W`` with ``W'`` and neither builds ``W'`` whole: the rows ``B`` of ``W'`` are
the columns ``B`` of ``W`` transposed (:func:`transposed_rows`), so each block holds a
slice of the graph.  At N = 10^6 (the queen lattice, 95 MB of W) the transposes, the
coordinate copy and the difference ``C - C'`` that :func:`symmetric_scaling` built held
0.55 GB at once; it now peaks at 61 MB (tracemalloc), mostly its n-vectors (the search's order,
predecessors and labels), the blocks a few MB each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

__all__ = ["bandwidth", "diagonal_distances", "is_symmetric", "pattern_is_symmetric", "shifted_columns", "symmetric_scaling", "transposed_block",
           "transposed_rows"]

#: Rows per block of the comparisons.
BLOCK_ROWS = 65_536
#: Above this many components of more than one unit, :func:`symmetric_scaling` searches
#: the spanning forest from one virtual root joined to every component (one call, a copy of
#: the graph) instead of one search per component (each costs O(N)).
MAX_SEARCHES = 64


def diagonal_distances(W: sp.csr_matrix, *, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """``|i - j|`` of the stored entries of ``W``, one array per block of ``rows`` rows (row order).

    No array of all the entries' row numbers is made: a block's costs about 16 bytes an entry.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    rows : int, optional
        Rows of a block, whose distances are one array.

    Yields
    ------
    numpy.ndarray
        The distances of the block's entries from the diagonal (empty for a block without entries).
    """
    for start in range(0, W.shape[0], rows):
        stop = min(start + rows, W.shape[0])
        lo, hi = W.indptr[start], W.indptr[stop]
        row = np.repeat(np.arange(start, stop), np.diff(W.indptr[start:stop + 1]))
        yield np.abs(W.indices[lo:hi] - row)


def bandwidth(W: sp.csr_matrix, *, rows: int = BLOCK_ROWS) -> int:
    """The largest :func:`diagonal_distances` of ``W``: 0 when it stores no entry off the diagonal, or none at all."""
    return max((int(d.max()) for d in diagonal_distances(W, rows=rows) if d.size), default=0)


def transposed_block(W: sp.csr_matrix, start: int, stop: int, *, band: int) -> sp.csr_matrix:
    """Rows ``start:stop`` of ``W'`` (``W[:, start:stop]'``, sorted indices), read from the rows that can hold them.

    The columns ``start:stop`` of ``W`` have their entries in the rows within ``band`` of
    them (:func:`bandwidth`), so only those rows are read: a pass over ``W`` costs a
    block the entries of ``2 band + stop - start`` rows instead of all of them (at
    N = 10^6, 16,384-row blocks of the queen lattice took 5.8 s for the low-order traces
    that way round, with the whole column scan each).  ``band >= N`` reads all rows.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    start, stop : int
    band : int
        At least :func:`bandwidth` of ``W``.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (stop - start, N)
        The same entries, in the same order, as ``W[:, start:stop].T.tocsr()``.
    """
    r0, r1 = max(0, start - band), min(W.shape[0], stop + band)
    return shifted_columns(W[r0:r1, start:stop].T.tocsr(), r0, W.shape[0])


def shifted_columns(M: sp.csr_matrix, offset: int, n: int) -> sp.csr_matrix:
    """``M`` (a block whose columns are ``offset:offset + M.shape[1]`` of a wider matrix) with ``n`` columns.

    The same data and row pointers; the column numbers moved by ``offset``.

    Parameters
    ----------
    M : scipy.sparse.csr_matrix
    offset, n : int

    Returns
    -------
    scipy.sparse.csr_matrix, shape (M.shape[0], n)
    """
    return sp.csr_matrix((M.data, M.indices + M.indices.dtype.type(offset), M.indptr), shape=(M.shape[0], n))


def transposed_rows(W: sp.csr_matrix, *, rows: int = BLOCK_ROWS) -> Iterator[tuple[slice, sp.csr_matrix, sp.csr_matrix]]:
    """Blocks ``(B, W[B], W'[B])`` of rows, with ``W'[B] = W[:, B]'`` (sorted indices); no whole ``W'``.

    ``W'[B]`` is read from the rows within :func:`bandwidth` of ``B``
    (:func:`transposed_block`).

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    rows : int, optional
        Rows per block.

    Yields
    ------
    tuple of (slice, scipy.sparse.csr_matrix, scipy.sparse.csr_matrix)
        The rows, those rows of ``W`` (a new matrix: the caller's is not touched) and of ``W'``.
    """
    band = bandwidth(W)
    for start in range(0, W.shape[0], rows):
        block = slice(start, min(start + rows, W.shape[0]))
        yield block, W[block], transposed_block(W, block.start, block.stop, band=band)


def is_symmetric(W: sp.csr_matrix, *, transposed: sp.spmatrix | None = None, rows: int = BLOCK_ROWS) -> bool:
    """Whether W equals its transpose (to rounding: ``max |W - W'| <= 1e-14 max(1, max |W|)``).

    When the caller holds ``W'`` as a CSR matrix and W and W' are canonical with one
    pattern (a contiguity graph, even row-standardised), the values are compared entry by
    entry in blocks; otherwise ``W - W'`` is built by blocks of rows
    (:func:`transposed_rows`), so that no whole transpose is made.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    transposed : scipy.sparse matrix, optional
        ``W'`` when the caller holds it: used as it is if it is a CSR matrix (a transposed
        view, CSC, is not copied: the blocks are used instead).
    rows : int, optional
        Rows per block.

    Returns
    -------
    bool
    """
    tol = 1e-14 * max(1.0, float(W.data.max(initial=0.0)), -float(W.data.min(initial=0.0)))
    if transposed is not None and transposed.format == "csr":
        WT = transposed
        if W.has_canonical_format and WT.has_canonical_format and np.array_equal(W.indptr, WT.indptr) \
                and np.array_equal(W.indices, WT.indices):
            step = 1 << 20  # |W - W'| on the common pattern, a million entries at a time
            return all(float(np.abs(W.data[k:k + step] - WT.data[k:k + step]).max(initial=0.0)) <= tol
                       for k in range(0, W.nnz, step))
        D = (W - WT).tocsr()
        return D.nnz == 0 or float(np.abs(D.data).max()) <= tol
    for _, rows_w, rows_wt in transposed_rows(W, rows=rows):
        D = (rows_w - rows_wt).tocsr()
        if D.nnz and float(np.abs(D.data).max()) > tol:
            return False
    return True


def pattern_is_symmetric(W: sp.csr_matrix, *, rows: int = BLOCK_ROWS) -> bool:
    """Whether the stored entries of W (explicit zeros included) have a symmetric pattern.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    rows : int, optional
        Rows per block.

    Returns
    -------
    bool
    """
    for _, rows_w, rows_wt in transposed_rows(W, rows=rows):
        rows_w.sum_duplicates()  # new matrices (the blocks): canonical, whatever the caller's W
        rows_wt.sum_duplicates()
        if not (np.array_equal(rows_w.indptr, rows_wt.indptr) and np.array_equal(rows_w.indices, rows_wt.indices)):
            return False
    return True


def _spanning_parents(W: sp.csr_matrix) -> np.ndarray:
    """Parents of a breadth-first spanning forest of W's symmetric pattern; ``n`` for the roots.

    The root of each component is its smallest unit.  The forest is that of one search from
    a virtual node ``n`` joined to the roots; components do not meet, so a search from each
    root of more than one unit gives every unit the same parent, and without the copy of W
    the virtual node needs (up to ``MAX_SEARCHES`` such components).
    """
    n = W.shape[0]
    # the pattern is symmetric: strong components are the undirected ones (no transpose made)
    _, labels = connected_components(W, directed=True, connection="strong")
    roots, sizes = np.unique(labels, return_index=True)[1], np.bincount(labels)
    parent = np.full(n + 1, n)
    searched = roots[sizes[labels[roots]] > 1]
    if searched.size <= MAX_SEARCHES:
        for root in searched:
            order, pred = breadth_first_order(W, root, directed=True, return_predecessors=True)
            parent[order[1:]] = pred[order[1:]]
        return parent
    aug = sp.csr_matrix((np.r_[W.data, np.ones(roots.size)], np.r_[W.indices, roots],
                         np.r_[W.indptr, W.nnz + roots.size]), shape=(n + 1, n + 1))
    order, pred = breadth_first_order(aug, n, directed=True, return_predecessors=True)
    nodes = order[1:]
    parent[nodes] = pred[nodes]
    return parent


def symmetric_scaling(W: sp.csr_matrix) -> np.ndarray | None:
    """Positive r with W = diag(r) C, C symmetric (row-standardised contiguity), else None.

    Along a spanning forest of W's pattern ``r[v] / r[parent] = W[v, parent] / W[parent, v]``;
    ``C = diag(r)^-1 W`` is then compared with its transpose by blocks of rows.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
        Without explicit zeros (as :func:`geoattr.models.ml_jacobian.as_sparse_w` gives it).

    Returns
    -------
    numpy.ndarray or None
    """
    if W.nnz == 0 or W.data.min() <= 0 or not pattern_is_symmetric(W):
        return None
    n = W.shape[0]
    parent = _spanning_parents(W)
    acc = np.ones(n + 1)  # r[v] / r[parent[v]] = W[v, parent] / W[parent, v] along tree edges
    inner = np.flatnonzero(parent[:n] != n)
    acc[inner] = np.asarray(W[inner, parent[inner]]).ravel() / np.asarray(W[parent[inner], inner]).ravel()
    while np.any(parent[:n] != n):  # pointer jumping: products along the paths to the roots
        acc, parent = acc * acc[parent], parent[parent]
    r = acc[:n]
    c_max = d_max = 0.0  # max |C| and max |C - C'|, C = diag(r)^-1 W (each entry divided by its row's r)
    for block, rows_w, rows_wt in transposed_rows(W, rows=BLOCK_ROWS):
        rows_c = _row_divided(rows_w, r[block])  # rows B of C
        rows_wt.data /= r[rows_wt.indices]  # now rows B of C' = (C[:, B])': W[j, b] / r[j] at (b, j)
        c_max = max(c_max, float(np.abs(rows_c.data).max(initial=0.0)))
        d_max = max(d_max, float(np.abs((rows_c - rows_wt).tocsr().data).max(initial=0.0)))
    return None if d_max > 1e-10 * c_max else r

def _row_divided(M: sp.csr_matrix, r: np.ndarray) -> sp.csr_matrix:
    """``M`` (a new matrix the caller owns) with each entry divided by ``r`` of its row, in place."""
    M.data /= np.repeat(r, np.diff(M.indptr))
    return M
