"""The spatially filtered least squares of the error model, for many values of lambda.

The concentrated likelihood of the spatial error model needs, at every trial ``lambda``,
the least-squares fit of ``y - lambda W y`` on ``X - lambda W X``.  Every such vector lies in
the column space of ``Z = [X, WX, y, Wy]``; with one thin QR factorisation ``Z = Q R`` the
fit is a small ``(2k + 2) x k`` problem in the coordinates ``R`` (``Q`` is orthonormal, so
residual norms and inner products are the same), and a trial costs ``O(k^3)`` instead of
``O(n k^2)``.  At N = 10^5 the error model's search made about 60 trials costing
1.3 s of CPU with a full ``lstsq`` each (profiled); the final fit at the estimate is still
the full least squares (:func:`filtered_fit`).

Neither ``W X`` nor ``X - lambda W X`` is held whole: both are computed by blocks of
``ROWS`` rows (``W[B] X`` from a view of the rows ``B`` of ``W``), which is the same, bit
for bit, as the rows ``B`` of the whole products.  At N = 10^6 with five regressors that
spares two 38 MB arrays, which kept the error model with a reordered ``W`` above twice
the memory of its graph and data (``benchmarks/bench_million.py --shuffled``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geoattr.models.tsqr import r_by_blocks, solve_augmented

__all__ = ["ROWS", "FilteredLeastSquares", "filtered_fit", "filtered_residuals", "lagged_rows"]

#: Rows of a block of ``W X`` and of the filtered regressors: a block of the search's
#: ``[X, WX, y, Wy]`` (12 columns for five regressors) is 3 MB, and numpy's QR about three
#: times that.  Up to ``ROWS`` rows there is one block, and the fit is that of the whole arrays.
ROWS = 32_768


def lagged_rows(W: sp.csr_matrix, X: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``W X``, from a view of those rows of ``W`` (no copy of its entries).

    Parameters
    ----------
    W : scipy.sparse.csr_matrix or geoattr.models.ml_blocks.PeriodBlocks
        An operator with a ``lagged_rows(X, start, stop)`` method (a pooled panel's
        ``I_T (x) W``) answers for itself.
    X : numpy.ndarray, shape (n,) or (n, k)
    start, stop : int

    Returns
    -------
    numpy.ndarray
        The same numbers, bit for bit, as ``(W @ X)[start:stop]``.
    """
    if hasattr(W, "lagged_rows"):
        return W.lagged_rows(X, start, stop)
    lo, hi = W.indptr[start], W.indptr[stop]
    rows = sp.csr_matrix((W.data[lo:hi], W.indices[lo:hi], W.indptr[start:stop + 1] - lo),
                         shape=(stop - start, W.shape[1]))
    return np.asarray(rows @ X)


class FilteredLeastSquares:
    """Least squares of ``y - lam W y`` on ``X - lam W X`` from one QR of ``[X, WX, y, Wy]``.

    Parameters
    ----------
    y, wy : ndarray, shape (n,)
        The outcome and its spatial lag.
    X : ndarray, shape (n, k)
        The regressors.
    W : scipy.sparse.csr_matrix
        The weights (``W X`` is computed by blocks, see the module docstring).
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, wy: np.ndarray, W: sp.csr_matrix) -> None:
        self.k = k = X.shape[1]

        def fill(start: int, out: np.ndarray) -> None:  # rows of [X, WX, y, Wy]
            stop = start + len(out)
            out[:, :k] = X[start:stop]
            out[:, k:2 * k] = lagged_rows(W, X, start, stop)
            out[:, 2 * k] = y[start:stop]
            out[:, 2 * k + 1] = wy[start:stop]

        self.R = r_by_blocks(fill, X.shape[0], 2 * k + 2, rows=ROWS)  # Z is never formed
        self._x, self._wx = self.R[:, :k], self.R[:, k : 2 * k]
        self._y, self._wy = self.R[:, 2 * k], self.R[:, 2 * k + 1]

    def fit(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients and the coordinates ``r`` of the filtered residual (``e = Q r``)."""
        xs = self._x - lam * self._wx
        ys = self._y - lam * self._wy
        b = np.linalg.lstsq(xs, ys, rcond=None)[0]
        return b, ys - xs @ b

    def sse(self, lam: float) -> float:
        """Sum of squared filtered residuals ``e'e``."""
        r = self.fit(lam)[1]
        return float(r @ r)

    def score_part(self, lam: float, n: int) -> float:
        """``-n e'(W u) / e'e`` with ``u = y - X b`` (the likelihood's derivative without tr1)."""
        b, r = self.fit(lam)
        wu = self._wy - self._wx @ b  # coordinates of W u = W y - W X b
        return -n * float(r @ wu) / float(r @ r)


def filtered_fit(y: np.ndarray, X: np.ndarray, wy: np.ndarray, W: sp.csr_matrix,
                 lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of ``y - lam W y`` on ``X - lam W X``, by blocks of ``ROWS`` rows.

    Two passes over the rows: the QR of the filtered ``[X_s | y_s]`` (:func:`r_by_blocks`),
    then the residuals and ``X_s' X_s``.  With one block (n at most ``ROWS``) the numbers
    are those of the whole arrays bit for bit; beyond, ``X_s' X_s`` is a sum of blocks
    (rounding).

    Parameters
    ----------
    y, wy : numpy.ndarray, shape (n,)
    X : numpy.ndarray, shape (n, k)
    W : scipy.sparse.csr_matrix
    lam : float

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The coefficients (k), the filtered residuals ``y_s - X_s b`` (n) and ``X_s' X_s``
        (k x k).
    """
    n, k = X.shape

    def fill(start: int, out: np.ndarray) -> None:
        out[:, :k], out[:, k] = _filtered_rows(y, X, wy, W, lam, start, start + len(out))

    b = solve_augmented(r_by_blocks(fill, n, k + 1, rows=ROWS), k)[0][:, 0]
    return (b, *filtered_residuals(y, X, wy, W, lam, b))


def filtered_residuals(y: np.ndarray, X: np.ndarray, wy: np.ndarray, W: sp.csr_matrix, lam: float,
                       b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The second pass of :func:`filtered_fit`: ``y_s - X_s b`` and ``X_s' X_s`` for given coefficients.

    Parameters
    ----------
    y, X, wy, W, lam
        As in :func:`filtered_fit`.
    b : numpy.ndarray, shape (k,)
        The coefficients (:func:`filtered_fit`'s, for the same numbers bit for bit).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The filtered residuals (n) and ``X_s' X_s`` (k x k).
    """
    n, k = X.shape
    e, gram = np.empty(n), np.zeros((k, k))
    for start in range(0, n, ROWS):
        stop = min(start + ROWS, n)
        xs, ys = _filtered_rows(y, X, wy, W, lam, start, stop)
        e[start:stop] = ys - xs @ b
        gram += xs.T @ xs
    return e, gram


def _filtered_rows(y: np.ndarray, X: np.ndarray, wy: np.ndarray, W: sp.csr_matrix, lam: float, start: int,
                   stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start:stop`` of ``X - lam W X`` and ``y - lam W y``."""
    xs = lagged_rows(W, X, start, stop)
    xs *= -lam  # X - lam W X as (W X) (-lam) + X, the same rounding as the whole arrays
    xs += X[start:stop]
    return xs, y[start:stop] - lam * wy[start:stop]
