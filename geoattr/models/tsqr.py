"""Least squares by blocks of rows: the R of a QR factorisation without a copy of X.

``numpy.linalg.qr(X)`` holds about four n x k arrays at once (a transposed copy, the
factored matrix, Q and LAPACK's work): 354 MB for an 80 MB X (2 x 10^6 rows, 5 columns,
measured with memray).  The ML engine needs only ``R`` and ``Q' y`` for one or two
vectors, which are the triangular factor of the augmented matrix ``[X | y ...]``:

    [X | c] = Q_a R_a,   R_a = [[R, Q'c], [0, r]],   ||c - X b||^2 = ||r||^2 column by column

(``b = R^-1 Q'c`` is the least-squares solution).  :func:`augmented_r` computes ``R_a``
by Householder QR of blocks of ``ROWS`` rows stacked under the previous block's triangle
(a sequential TSQR, as stable as one QR of the whole matrix), so the working memory is one
block.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["ROWS", "augmented_r", "r_by_blocks", "solve_augmented"]

#: Rows of a block (1 MB a column).
ROWS = 131_072


def augmented_r(X: np.ndarray, *columns: np.ndarray, rows: int = ROWS) -> np.ndarray:
    """Triangular factor of ``[X | columns...]`` by blocks of rows.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, k)
    *columns : numpy.ndarray, shape (n,) or (n, p)
        Further columns appended to ``X`` in order (right-hand sides, or more regressors).
    rows : int, default ``ROWS``
        Rows of a block.

    Returns
    -------
    numpy.ndarray, shape (m, q)
        Upper-triangular ``R_a`` of the ``q`` columns, with ``m = min(n, q)`` rows; equal to
        ``numpy.linalg.qr([X | columns], mode="r")`` up to the signs of its rows.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> y = np.array([1.0, 3.0, 5.0, 7.0])
    >>> Ra = augmented_r(X, y, rows=3)
    >>> np.round(solve_augmented(Ra, 2)[0][:, 0], 12)
    array([1., 2.])
    """
    parts = [np.asarray(p).reshape(len(p), -1) for p in (X, *columns)]

    def fill(start: int, out: np.ndarray) -> None:
        col = 0
        for p in parts:
            out[:, col:col + p.shape[1]] = p[start:start + len(out)]
            col += p.shape[1]

    return r_by_blocks(fill, parts[0].shape[0], sum(p.shape[1] for p in parts), rows=rows)


def r_by_blocks(fill: Callable[[int, np.ndarray], None], n: int, q: int, *, rows: int = ROWS) -> np.ndarray:
    """Triangular factor of an ``n x q`` matrix that is never held: ``fill`` writes its blocks of rows.

    The engine of :func:`augmented_r`, for columns computed block by block (the spatially
    filtered ``X - lambda W X`` of :mod:`geoattr.models.ml_filtered`): the same ``R`` as
    :func:`augmented_r` of the whole matrix, bit for bit, for the same ``rows``.

    Parameters
    ----------
    fill : callable
        ``fill(start, out)`` writes rows ``start:start + len(out)`` of the matrix into ``out``
        (shape ``(len(out), q)``).
    n, q : int
        Rows and columns of the matrix.
    rows : int, default ``ROWS``
        Rows of a block.

    Returns
    -------
    numpy.ndarray, shape (min(n, q), q)
        Upper-triangular ``R``.

    Examples
    --------
    >>> Z = np.column_stack([np.ones(5), np.arange(5.0)])
    >>> R = r_by_blocks(lambda start, out: out.__setitem__(slice(None), Z[start:start + len(out)]), 5, 2, rows=2)
    >>> np.allclose(np.abs(R), np.abs(np.linalg.qr(Z, mode="r")))
    True
    """
    R = np.zeros((0, q))
    for start in range(0, n, rows):
        m = R.shape[0]
        block = np.empty((m + min(rows, n - start), q))
        block[:m] = R
        fill(start, block[m:])
        R = np.linalg.qr(block, mode="r")
    return R


def solve_augmented(Ra: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients and residual sums of squares from :func:`augmented_r`.

    Parameters
    ----------
    Ra : numpy.ndarray
        ``augmented_r(X, *columns)`` with ``X`` of ``k`` columns.
    k : int

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``k x p`` coefficients (one column per right-hand side; ``p`` of them) and the ``p``
        residual sums of squares ``||c - X b||^2``.
    """
    R, QtC = Ra[:k, :k], Ra[:k, k:]
    rest = Ra[k:, k:]
    return np.linalg.solve(R, QtC), np.einsum("ij,ij->j", rest, rest)
