"""Exact log-determinants from a sparse Cholesky factorisation (CHOLMOD), for large N.

When ``W = diag(r) C`` with ``C`` symmetric and ``r > 0`` (a row-standardised contiguity,
k-nearest-neighbour made symmetric, or distance-band matrix), ``W`` is similar to the
symmetric matrix ``S = H^-1 W H`` with ``H = diag(sqrt(r))``::

    I - rho W = H (I - rho S) H^-1,    log|I - rho W| = log|I - rho S|

and ``I - rho S`` is symmetric positive definite on the whole admissible interval
(``1 / lambda_min < rho < 1``).  Its Cholesky factorisation by CHOLMOD (supernodal, with a
fill-reducing ordering computed once by :func:`sksparse.cholmod.analyze` and reused for
every ``rho``) costs about a quarter of one real sparse LU of ``I - rho W`` at N = 10^6
(measured in ``benchmarks/results_million.json``) and half its memory.  Factorisations
and solves run with subnormal numbers flushed to zero (:mod:`geoattr.models.fpu`).  The
set-up is O(nnz) without sorting: :func:`row_scaling` finds ``r`` of a binary contiguity
directly (else :func:`~geoattr.models.ml_symmetry.symmetric_scaling`),
:func:`symmetric_structure` builds ``S`` and its diagonal on the structure of ``W``, and
``tr(W^k) = tr(S^k)``, k <= 4, come from ``S`` without transposes.

:class:`CholmodJacobian` replaces the factorisations of
:class:`~geoattr.models.ml_realdet.RealLUJacobian` and keeps everything else (the search on
exact values with an interpolated log-determinant, tr1 and tr2 from the interpolant, the
solves at the estimate with iterative refinement).  CHOLMOD comes from scikit-sparse, an
optional dependency (``pip install geoattr[cholmod]``; it compiles against SuiteSparse,
Debian package ``libsuitesparse-dev``).  Without it, or when ``W`` is not similar to a
symmetric matrix, or at a ``rho`` where ``I - rho S`` is not positive definite (bounds
wider than the admissible interval), the real sparse LU is used.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from geoattr.models.fpu import flush_denormals
from geoattr.models.ml_jacobian import Jacobian, SingularError, csc_with_diagonal
from geoattr.models.ml_symmetry import symmetric_scaling
from geoattr.models.ml_realdet import RealLUJacobian

try:  # optional: scikit-sparse (CHOLMOD)
    from sksparse.cholmod import CholmodNotPositiveDefiniteError, CholmodWarning, analyze
except ImportError:  # pragma: no cover - exercised where scikit-sparse is absent
    analyze = None
    CholmodNotPositiveDefiniteError, CholmodWarning = ArithmeticError, UserWarning

__all__ = ["ORDERING", "CholmodJacobian", "available", "large_n_jacobian", "row_scaling", "symmetric_structure",
           "transpose_positions"]

#: Fill-reducing ordering handed to :func:`sksparse.cholmod.analyze` (CHOLMOD's default
#: tries AMD and, when its fill is large, METIS nested dissection, and keeps the better).
ORDERING = "default"


def available() -> bool:
    """Whether scikit-sparse (CHOLMOD) can be imported."""
    return analyze is not None


class _CholeskySolve:
    """Solves with ``I - rho W = H (I - rho S) H^-1`` from the factor of ``I - rho S``."""

    def __init__(self, factor: Any, h: np.ndarray, logdet: float) -> None:
        self.factor, self.h, self.logdet = factor, h, logdet

    def solve(self, b: np.ndarray, trans: str = "N") -> np.ndarray:
        h = self.h if b.ndim == 1 else self.h[:, None]
        with flush_denormals():
            if trans == "T":  # (I - rho W)' = H^-1 (I - rho S) H
                return self.factor(np.asfortranarray(b * h)) / h
            return self.factor(np.asfortranarray(b / h)) * h

    def solve_pair(self, B: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``((I - rho W)^-1 B, (I - rho W)^-T C)`` in one solve with the factor of ``I - rho S``."""
        h = self.h[:, None]
        k = B.shape[1]
        # column-major right-hand sides: scikit-sparse copies a row-major block column by
        # column (measured: 32 columns at N = 10^5 solve in 0.25 s against 0.31 s)
        Z = np.empty((B.shape[0], k + C.shape[1]), order="F")
        np.divide(B, h, out=Z[:, :k])
        np.multiply(C, h, out=Z[:, k:])
        with flush_denormals():
            Y = self.factor(Z)
        return Y[:, :k] * h, Y[:, k:] / h


class CholmodJacobian(RealLUJacobian):
    """:class:`~geoattr.models.ml_realdet.RealLUJacobian` with CHOLMOD factorisations.

    Parameters
    ----------
    weights : scipy.sparse.csr_matrix
        ``W`` over the observations of one period.
    method : str
        The checked log-determinant method (``"lu"``).
    bounds : (float, float)
        The search interval.
    scaling : ndarray
        ``r`` with ``W = diag(r) C``, ``C`` symmetric
        (:func:`~geoattr.models.ml_symmetry.symmetric_scaling`).
    """

    factorisation = "sparse Cholesky (CHOLMOD) of the symmetric matrix similar to I - rho W"

    def __init__(self, weights: sp.csr_matrix, method: str, bounds: tuple[float, float], scaling: np.ndarray) -> None:
        super().__init__(weights, method, bounds)
        self._h = np.sqrt(scaling)
        structure = symmetric_structure(weights, self._h)
        if structure is None:  # a stored diagonal, or W not in canonical form
            S = (sp.diags(1.0 / self._h) @ weights @ sp.diags(self._h)).tocsr()
            structure = csc_with_diagonal(0.5 * (S + S.T))  # symmetric to rounding: make it exact
        self._sindices, self._sindptr, self._sdata, self._sdiag = structure
        self._symbolic: Any = None
        self.lu_evaluations = 0

    def _s(self) -> sp.csr_matrix:
        """``S`` (its CSC arrays read as CSR: ``S' = S``), without a copy."""
        return sp.csr_matrix((self._sdata, self._sindices, self._sindptr), shape=(self.n, self.n))

    def low_order_traces(self) -> tuple[float, float, float, float]:
        """tr(W^k) = tr(S^k), k = 1..4, from the symmetric ``S``: no transposes."""
        S = self._s()
        S2 = S @ S
        return (float(self._sdata[self._sdiag].sum()), float(self._sdata @ self._sdata),
                float(S2.multiply(S).sum()), float(S2.data @ S2.data))

    def _sym(self, rho: float) -> sp.csc_matrix:
        data = (-rho) * self._sdata
        data[self._sdiag] += 1.0
        return sp.csc_matrix((data, self._sindices, self._sindptr), shape=(self.n, self.n))

    def _ordered(self, rho: float) -> Any:
        """The factorisation at ``rho``: CHOLMOD when ``I - rho S`` is positive definite, else LU."""
        self._kept = None
        M = self._sym(rho)
        if self._symbolic is None:
            self._symbolic = analyze(M, ordering_method=ORDERING)
        try:
            with warnings.catch_warnings(), np.errstate(invalid="ignore"), flush_denormals():
                # a supernodal factorisation that meets a non-positive pivot warns and stops
                warnings.simplefilter("ignore", CholmodWarning)
                self._symbolic.cholesky_inplace(M)
                ld = float(self._symbolic.logdet())
        except CholmodNotPositiveDefiniteError:
            ld = math.nan
        if not math.isfinite(ld):  # not positive definite: outside the admissible interval
            self.lu_evaluations += 1
            return super()._ordered(rho)
        solver = _CholeskySolve(self._symbolic, self._h, ld)
        self._kept = (rho, solver, None)
        self.evaluations += 1
        return solver

    def probe_differences(self, lu: Any, Z: np.ndarray) -> np.ndarray:
        """``W A^-1 Z - A^-T W' Z`` from the Cholesky factor of ``M = I - rho S``, in one solve.

        With ``W = H S H^-1``, ``A = H M H^-1``, and ``S`` commuting with ``M^-1``::

            W A^-1 z = h * M^-1 S (z / h),    A^-T W' z = M^-1 S (h z) / h

        so the block solved holds ``2 b`` columns and nothing else of that size is alive
        beside it and its solution (the generic way also holds ``Z``, ``W' Z`` and a copy
        of both: at N = 10^6, 230 MB of the peak where this needs about 150 MB).
        """
        base = getattr(lu, "direct", None)  # the Cholesky solver itself, when no refinement is needed
        if not isinstance(base, _CholeskySolve):
            return super().probe_differences(lu, Z)
        S, h, b = self._s(), self._h[:, None], Z.shape[1]
        R = np.empty((self.n, 2 * b), order="F")  # column-major right-hand sides (see _CholeskySolve)
        T = Z / h
        R[:, :b] = S @ T
        np.multiply(Z, h, out=T)
        del Z
        R[:, b:] = S @ T
        del T
        with flush_denormals():
            Y = base.factor(R)
        del R
        Y[:, :b] *= h
        Y[:, b:] /= h
        return Y[:, :b] - Y[:, b:]

    def logdet(self, rho: float) -> float:
        f = self._ordered(rho)
        if isinstance(f, _CholeskySolve):
            return f.logdet
        d = f.U.diagonal()
        if np.any(d == 0.0):
            raise SingularError("zero pivot")
        return float(np.log(np.abs(d)).sum())


def transpose_positions(W: sp.csr_matrix) -> np.ndarray | None:
    """For each stored ``(i, j)`` of ``W`` (canonical CSR), the position of ``(j, i)``; None
    when the pattern is not symmetric or ``W`` is not in canonical form."""
    if not W.has_canonical_format:
        return None
    pos = sp.csr_matrix((np.arange(W.nnz, dtype=np.int64), W.indices, W.indptr), shape=W.shape)
    pos = pos.T.tocsr()
    pos.sort_indices()
    if not (np.array_equal(pos.indptr, W.indptr) and np.array_equal(pos.indices, W.indices)):
        return None
    return pos.data


def row_scaling(W: sp.csr_matrix) -> np.ndarray | None:
    """``r`` = the largest weight of each row (1 for an empty row) when ``W = diag(r) C`` with
    ``C`` symmetric for it (binary contiguity, row-standardised), else None.

    A cheap first try of :func:`~geoattr.models.ml_symmetry.symmetric_scaling` (same tolerance),
    which handles every other case.
    """
    mate = transpose_positions(W)
    if W.nnz == 0 or mate is None or W.data.min() <= 0:
        return None
    counts = np.diff(W.indptr)
    r = np.ones(W.shape[0])
    rows = counts > 0
    r[rows] = np.maximum.reduceat(W.data, W.indptr[:-1][rows])
    C = W.data / np.repeat(r, counts)
    return r if np.abs(C - C[mate]).max() <= 1e-10 * np.abs(C).max() else None


def symmetric_structure(W: sp.csr_matrix, h: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """:func:`~geoattr.models.ml_jacobian.csc_with_diagonal` of ``S = H^-1 W H`` made exactly
    symmetric (``H = diag(h)``), built on the structure of ``W`` in O(nnz) without sorting;
    None when ``W`` stores a diagonal entry or its pattern is not symmetric."""
    mate = transpose_positions(W)
    n = W.shape[0]
    counts = np.diff(W.indptr)
    rows = np.repeat(np.arange(n), counts)
    if mate is None or np.any(W.indices == rows):
        return None
    s = W.data * h[W.indices] / h[rows]
    s = 0.5 * (s + s[mate])  # commutative: exactly symmetric
    below = np.bincount(rows, weights=W.indices < rows, minlength=n).astype(np.int64)
    indptr = (W.indptr + np.arange(n + 1)).astype(np.int32)
    diag = indptr[:-1] + below
    shift = np.arange(W.nnz) + rows + (W.indices > rows)
    indices = np.empty(W.nnz + n, dtype=np.int32)
    data = np.zeros(W.nnz + n)
    indices[shift], data[shift] = W.indices, s
    indices[diag] = np.arange(n)
    return indices, indptr, data, diag


def large_n_jacobian(weights: sp.csr_matrix, method: str, bounds: tuple[float, float]) -> Jacobian:
    """The exact log-Jacobian for ``method="auto"`` from ``REAL_LU_MIN_N`` units on.

    :class:`CholmodJacobian` when scikit-sparse is installed and ``W`` is similar to a
    symmetric matrix, else :class:`~geoattr.models.ml_realdet.RealLUJacobian`.
    """
    if available():
        r = row_scaling(weights)
        r = symmetric_scaling(weights) if r is None else r
        if r is not None:
            return CholmodJacobian(weights, method, bounds, r)
    return RealLUJacobian(weights, method, bounds)
