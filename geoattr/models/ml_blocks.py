"""Pooled panels on one period's block: ``I_T (x) W`` without the NT x NT matrix.

A balanced pooled panel stacked period by period (year-major) has the weights
``I_T (x) W`` over its observations.  :class:`PeriodBlocks` multiplies by it period by
period, :class:`BlockJacobian` takes every log-determinant and trace from the N x N block
(T times the block's), and :func:`panel_setup` checks a pooled fit's inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from geoattr.exceptions import InputError
from geoattr.models.ml_filtered import lagged_rows
from geoattr.models.ml_jacobian import Jacobian, as_sparse_w, check_bounds, check_inputs, check_method

__all__ = ["BlockJacobian", "PeriodBlocks", "panel_setup"]


class BlockJacobian:
    """Jacobian terms of ``I_NT - rho (I_T (x) W)`` (year-major order) from one N x N block.

    ``log|I_NT - rho (I_T (x) W)| = T log|I_N - rho W|`` and every trace is T times the
    block's, so a pooled panel costs the factorisations of one cross-section.
    """

    def __init__(self, inner: Jacobian, periods: int, W_full: PeriodBlocks | sp.csr_matrix) -> None:
        self.inner, self.T, self.W, self.n = inner, periods, W_full, W_full.shape[0]

    def logdet(self, rho: float) -> float:
        return self.T * self.inner.logdet(rho)

    def logdet_tr1(self, rho: float) -> tuple[float, float]:
        ld, t1 = self.inner.logdet_tr1(rho)
        return self.T * ld, self.T * t1

    def solve(self, rho: float, b: np.ndarray) -> np.ndarray:
        B = np.asarray(b, dtype=float).reshape(self.T, -1).T  # N x T: one column per period
        return np.asarray(self.inner.solve(rho, B)).T.ravel()

    def traces(self, rho, ld, tr1, bounds, how, n_probes, seed, cov_of):  # noqa: ANN001, ANN201
        T = self.T
        tr, method, se, sens = self.inner.traces(
            rho, ld / T, tr1 / T, bounds, how, n_probes, seed,
            lambda t: cov_of({k: T * v for k, v in t.items()}))
        return {k: T * v for k, v in tr.items()}, method, None if se is None else T * se, sens


class PeriodBlocks:
    """``I_T (x) W`` as an operator on vectors stacked period by period (year-major).

    ``PeriodBlocks(W, T) @ v`` multiplies each period's block of ``v`` (length ``N T``, or
    ``N T`` rows) by ``W`` without forming the ``NT x NT`` matrix (T times the graph: 2 GB
    at N = 10^6, T = 20).

    Parameters
    ----------
    block : scipy.sparse.csr_matrix
        One period's ``N x N`` weights.
    periods : int
        ``T``.
    """

    def __init__(self, block: sp.csr_matrix, periods: int) -> None:
        self.block, self.T = block, periods
        n = block.shape[0] * periods
        self.shape = (n, n)

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v)
        nb = self.block.shape[0]
        out = np.empty(v.shape, dtype=np.result_type(v.dtype, self.block.dtype))
        for t in range(self.T):
            out[t * nb:(t + 1) * nb] = self.block @ v[t * nb:(t + 1) * nb]
        return out

    def lagged_rows(self, X: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``self @ X`` (period by period: the same numbers, bit for bit).

        Parameters
        ----------
        X : numpy.ndarray, shape (N T,) or (N T, k)
        start, stop : int

        Returns
        -------
        numpy.ndarray
        """
        X = np.asarray(X)
        nb = self.block.shape[0]
        out = np.empty((stop - start, *X.shape[1:]), dtype=np.result_type(X.dtype, self.block.dtype))
        for t in range(start // nb, -(-stop // nb)):  # the periods the rows fall in
            a, b = max(start, t * nb), min(stop, (t + 1) * nb)
            out[a - start:b - start] = lagged_rows(self.block, X[t * nb:(t + 1) * nb], a - t * nb, b - t * nb)
        return out

    def matrix(self) -> sp.csr_matrix:
        """The ``NT x NT`` matrix ``I_T (x) W``."""
        return sp.kron(sp.identity(self.T, format="csr"), self.block, format="csr")


def panel_setup(y: Any, X: Any, weights: sp.spmatrix | np.ndarray, periods: int, method: str, bounds: Any):
    """Inputs for a pooled panel: W is one period's N x N matrix, y and X stacked by period.

    Returns (y, X, :class:`PeriodBlocks` over the observations, method, bounds, W of one period).
    """
    Wb = as_sparse_w(weights)  # read only, like the cross-section's W (tests/test_ml_engine.py)
    nb = Wb.shape[0]
    if periods < 1 or np.asarray(y).shape[0] != periods * nb:
        raise InputError(f"periods={periods} with an N x N W of N={nb} needs y of length {periods * nb} "
                         f"(stacked period by period), got {np.asarray(y).shape[0]}")
    Wc = PeriodBlocks(Wb, periods)
    yv, Xv, _ = check_inputs(y, X, Wb, periods=periods)
    meth = check_method(method, nb)
    bnd = check_bounds(bounds, Wb)
    return yv, Xv, Wc, meth, bnd, Wb
