"""Symmetry checks by blocks of rows (geoattr.models.ml_symmetry).

References: the dense transpose (numpy) for the blocks and the patterns, and the defining
property of the scaling (``diag(r)^-1 W`` symmetric, checked densely) for
:func:`symmetric_scaling`.  The two ways of searching the spanning forest (one search per
component, or one from a virtual root) give the same ``r`` to the last bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geoattr.models import ml_symmetry
from geoattr.models.ml_symmetry import (
    bandwidth,
    pattern_is_symmetric,
    symmetric_scaling,
    transposed_block,
    transposed_rows,
)


def _row_standardised(C: sp.spmatrix) -> sp.csr_matrix:
    C = sp.csr_matrix(C, dtype=float)
    d = np.asarray(C.sum(axis=1)).ravel()
    d[d == 0] = 1.0
    W = (sp.diags(1.0 / d) @ C).tocsr()
    W.sort_indices()
    return W


def _lattice(side: int) -> sp.csr_matrix:
    T = sp.identity(side, format="csr") + sp.diags([1.0, 1.0], [-1, 1], shape=(side, side))
    C = (sp.kron(T, T) - sp.identity(side * side)).tocsr()
    C.eliminate_zeros()
    return C


def _weighted_symmetric(n: int = 200, seed: int = 1) -> sp.csr_matrix:
    A = sp.random(n, n, density=0.03, random_state=seed)
    A = (A + A.T).tocsr()
    A.data = np.abs(A.data) + 0.1
    return A


def _islands() -> sp.csr_matrix:
    pair = sp.csr_matrix(np.array([[0.0, 2.0], [2.0, 0.0]]))
    return sp.block_diag([_lattice(12), sp.csr_matrix((4, 4)), _weighted_symmetric(30, 2), pair, pair]).tocsr()


CASES = {
    "row-standardised lattice": lambda: _row_standardised(_lattice(15)),
    "row-standardised islands and isolates": lambda: _row_standardised(_islands()),
    "row-standardised weighted": lambda: _row_standardised(_weighted_symmetric()),
    "many pairs": lambda: _row_standardised(sp.block_diag([sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))] * 80
                                                          + [sp.csr_matrix((3, 3))]).tocsr()),
}


@pytest.mark.parametrize("rows", [1, 7, 10_000])
def test_transposed_rows_are_the_rows_of_the_transpose(rows):
    W = _row_standardised(_weighted_symmetric()) + sp.random(200, 200, density=0.01, random_state=5)
    W = sp.csr_matrix(W)
    dense_t = W.toarray().T
    seen = 0
    for block, rows_w, rows_wt in transposed_rows(W, rows=rows):
        np.testing.assert_array_equal(rows_w.toarray(), W.toarray()[block])
        np.testing.assert_array_equal(rows_wt.toarray(), dense_t[block])
        assert rows_wt.has_sorted_indices
        seen += block.stop - block.start
    assert seen == 200


def test_pattern_is_symmetric_with_explicit_zeros_and_unsorted_rows():
    C = _lattice(6).astype(float)
    assert pattern_is_symmetric(C, rows=5)
    coo = C.tocoo()  # a stored zero at (0, 20) without its mirror: the pattern is not symmetric
    Z = sp.csr_matrix((np.append(coo.data, 0.0), (np.append(coo.row, 0), np.append(coo.col, 20))), shape=C.shape)
    assert Z.nnz == C.nnz + 1 and not pattern_is_symmetric(Z, rows=5)
    U = C.copy()  # one row's entries in reverse order: the same pattern
    U.indices[U.indptr[3]:U.indptr[4]] = U.indices[U.indptr[3]:U.indptr[4]][::-1]
    U.has_sorted_indices = False
    before = U.indices.copy()
    assert pattern_is_symmetric(U, rows=5)
    np.testing.assert_array_equal(U.indices, before)  # the caller's matrix is not sorted in place


@pytest.mark.parametrize("case", sorted(CASES))
def test_symmetric_scaling_makes_w_symmetric_by_either_search(monkeypatch, case):
    """``diag(r)^-1 W`` is symmetric (1e-12 relative, dense check); the per-component
    searches and the virtual root give the same r bit for bit."""
    W = CASES[case]()
    r = symmetric_scaling(W)
    assert r is not None and np.all(r > 0)
    C = W.toarray() / r[:, None]
    np.testing.assert_allclose(C, C.T, rtol=1e-12, atol=1e-15)
    monkeypatch.setattr(ml_symmetry, "MAX_SEARCHES", 0)  # one search from the virtual root
    np.testing.assert_array_equal(symmetric_scaling(W), r)


def test_symmetric_scaling_refuses_what_has_no_such_scaling():
    W = _row_standardised(_weighted_symmetric())
    P = W.copy()
    P.data[5] *= 1.5  # breaks the cycle ratios: no diagonal scaling makes it symmetric
    assert symmetric_scaling(P) is None
    knn = sp.csr_matrix((np.ones(30), (np.repeat(np.arange(10), 3), (np.arange(30) * 7) % 10)), shape=(10, 10))
    knn.sum_duplicates()
    assert not pattern_is_symmetric(knn) and symmetric_scaling(_row_standardised(knn)) is None
    neg = W.copy()
    neg.data[0] = -neg.data[0]
    assert symmetric_scaling(neg) is None
    assert symmetric_scaling(sp.csr_matrix((4, 4))) is None


def test_pattern_of_a_w_with_duplicate_entries_is_its_summed_pattern():
    """An entry stored twice (a CSR matrix before sum_duplicates) counts once: the pattern
    stays symmetric, and the caller's matrix keeps its duplicate."""
    C = _lattice(6).astype(float)
    W = sp.csr_matrix((np.r_[C.data[:1], 0.5, C.data[1:]], np.r_[C.indices[:1], C.indices[:1], C.indices[1:]],
                       np.r_[C.indptr[:1], C.indptr[1:] + 1]), shape=C.shape)  # row 0 holds its first entry twice
    assert W.nnz == C.nnz + 1 and not W.has_canonical_format
    assert pattern_is_symmetric(W, rows=5)
    assert W.nnz == C.nnz + 1


def test_bandwidth_is_the_largest_distance_from_the_diagonal():
    """Reference: max |i - j| over the entries from the coordinate form (hand-checkable cases)."""
    L = _lattice(9)  # queen lattice numbered row by row: 9 + 1 rows from the diagonal at most
    assert bandwidth(L) == 10 == bandwidth(L, rows=4)
    A = sp.csr_matrix((np.ones(2), ([0, 5], [7, 5])), shape=(8, 8))
    assert bandwidth(A) == 7
    assert bandwidth(sp.csr_matrix((6, 6))) == 0
    W = _row_standardised(_weighted_symmetric())
    coo = W.tocoo()
    assert bandwidth(W, rows=13) == int(np.abs(coo.row - coo.col).max())


@pytest.mark.parametrize("band_of", ["exact", "whole"])
def test_transposed_block_reads_the_band_and_equals_the_column_slice_bit_for_bit(band_of):
    """W[:, B]' from the rows within the band against scipy's whole column slice: the same
    indptr, indices and values (a lattice with band 16 of N = 225, asymmetric weights)."""
    W = _row_standardised(_lattice(15)) + sp.diags(np.linspace(0.0, 0.2, 225))
    W = sp.csr_matrix(W)
    W.data = W.data * np.random.default_rng(4).uniform(0.5, 1.5, W.nnz)  # W != W'
    band = bandwidth(W) if band_of == "exact" else W.shape[0]
    assert band_of == "whole" or band == 16
    for start, stop in [(0, 225), (0, 1), (30, 61), (200, 225), (112, 113)]:
        ref = W[:, start:stop].T.tocsr()
        got = transposed_block(W, start, stop, band=band)
        assert got.shape == (stop - start, 225)
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
