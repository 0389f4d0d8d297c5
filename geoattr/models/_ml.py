"""Sparse maximum-likelihood engine for the spatial lag (SAR) and spatial error (SEM) models.

This module works on plain numpy / scipy arrays; :mod:`geoattr.models.spatial` wraps it
into labelled results.  It reproduces ``spreg.ML_Lag`` and ``spreg.ML_Error`` (Anselin
1988: concentrated likelihood, analytic information matrix) without ever building a dense
``N x N`` matrix on the default path.

How it works
------------
*Estimation.*  The likelihood is concentrated over the betas and sigma2, leaving a 1-D
problem in rho (lag) or lambda (error)::

    f(rho) = n/2 log(SSE(rho) / n) - log|I - rho W|              (minimised)
    f'(rho) = n/2 SSE'(rho) / SSE(rho) + tr(W A^-1),   A = I - rho W

The log-determinant and its derivative come from one sparse LU factorisation
(``scipy.sparse.linalg.splu``, minimum-degree ordering on ``A + A'``) of ``A`` evaluated at
the *complex* point ``rho + i h`` (complex-step differentiation, ``h = 1e-20``): the real
parts of ``diag(U)`` give ``log|det A|``; ``sum(Im u_ii / Re u_ii) / h`` gives
``d/drho log|det A| = -tr(W A^-1)`` to rounding error (no subtractive cancellation).  A
safeguarded root search on ``f'`` (Brent's ``brentq`` once a sign change is bracketed),
started from the minimiser of a cheap surrogate (a fourth-order Taylor expansion of the
log-determinant with exact traces of ``W^k``), typically needs 5-9 factorisations.

*Standard errors.*  The analytic information matrix needs, at the estimate, the traces
``tr1 = tr(W_A)``, ``tr2 = tr(W_A W_A)`` and ``tr3 = tr(W_A' W_A)`` with
``W_A = W A^-1``.  spreg inverts ``A`` densely; here

* ``tr1`` comes from the complex-step factorisation above;
* ``tr2 = d tr1 / drho`` is a central difference of two more complex-step ``tr1`` values
  (truncation error ~1e-8 relative);
* ``tr3 = tr((A'A)^-1 W'W) = d/dt log det(A'A + t W'W)`` at ``t = 0``, again by the
  complex step, from one sparse LU of ``A'A + i h W'W`` (exact; used up to
  ``EXACT_TRACE_MAX_N`` observations, where the fill of ``A'A`` stays affordable), or
* for larger ``N``, ``tr3 = tr2 + ||W_A - W_A'||_F^2 / 2`` with the (small) asymmetry
  term estimated by Hutchinson's estimator with Rademacher probes; its standard error is
  reported as ``MLResult.trace_error`` and its effect on the standard errors in
  ``extra["se_sensitivity"]``.  For a symmetric ``W`` the term is exactly zero.

The ``"eigen"`` method (Ord 1975) takes the log-determinant from the eigenvalues of ``W``
and the traces from a dense ``W A^-1``: both are dense ``N x N`` computations, allowed
only up to ``EIGEN_MAX_N`` observations, and serve as an independent check.

Search interval: for a row-standardised ``W`` (non-negative, rows summing to 1 or 0) the
default is ``(-1, 1)``, as in spreg; it always keeps ``I - rho W`` non-singular, though
the admissible interval may extend below -1 when the smallest eigenvalue of ``W`` is
above -1.  For any other ``W`` it is ``(1 / lambda_min, 1 / lambda_max)`` from the extreme
real parts of the eigenvalues (``scipy.sparse.linalg.eigs``/``eigsh``).

Differences from spreg: (1) spreg's ``method="ord"``, for a W with a symmetric pattern,
takes the traces from the symmetrised similar matrix, i.e. it uses ``tr(W_A W_A)`` in
place of ``tr(W_A' W_A)``; its standard errors then differ from its own ``"full"`` and
``"LU"`` ones (by ~1e-3 relative on a 20 x 20 queen grid).  geoattr follows ``"full"`` /
``"LU"``.  (2) spreg's bounded Brent search stops at ~1.5e-8 relative in rho (its
``epsilon`` cannot go below that); the root search here stops at ``tol`` (absolute).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq, minimize_scalar
from scipy.sparse.linalg import splu

from geoattr._format import format_ids
from geoattr.exceptions import ConvergenceWarning, InputError

__all__ = ["MLResult", "ml_lag", "ml_error", "logdet", "EXACT_TRACE_MAX_N", "EIGEN_MAX_N"]

#: Largest N for which ``traces="auto"`` computes ``tr(W_A' W_A)`` exactly (sparse LU of
#: ``A'A``); above it the asymmetry correction is estimated stochastically.  Measured on
#: queen grids (whole lag fit, peak RSS of the process): N = 30,000 exact 2.7 s / 680 MB,
#: stochastic 2.3 s / 500 MB; N = 100,000 exact 12.5 s / 1.95 GB, stochastic 8 s / 0.83 GB.
EXACT_TRACE_MAX_N = 30_000
#: Largest N accepted by ``method="eigen"`` (dense ``N x N`` eigenproblem and inverse).
EIGEN_MAX_N = 5_000

_METHODS = ("auto", "lu", "eigen")
_TRACES = ("auto", "exact", "stochastic")
_H = 1e-20  # complex step
_LN2PI = math.log(2.0 * math.pi)
_BOUND_WARN = 1e-6
_MIN_PROBES = 32  # Hutchinson: at least this many probes ...
_SE_TARGET = 1e-5  # ... then stop once tr3's error moves no standard error by more than this


@dataclass(frozen=True)
class MLResult:
    """Outcome of :func:`ml_lag` or :func:`ml_error` (plain arrays, no labels).

    Attributes
    ----------
    params : ndarray, shape (k + 1,)
        The betas followed by rho (lag) or lambda (error).
    cov : ndarray, shape (k + 1, k + 1)
        Asymptotic covariance of ``params`` from the inverse analytic information matrix
        (Anselin 1988), as spreg's ``vm``.  The variance of sigma2 is in
        ``extra["var_sigma2"]``.
    sigma2 : float
        ML residual variance (divisor n): ``u'u / n`` (lag), ``e_filtered'e_filtered / n``
        (error).
    loglik : float
        Maximised log-likelihood including constants.
    resid : ndarray
        As spreg's ``u``: ``y - rho W y - X b`` (lag) or ``y - X b`` (error).
    predy : ndarray
        ``y - resid``.
    iterations : int
        Number of log-determinant evaluations (sparse factorisations) in the search.
    converged : bool
        Whether the search met ``tol`` (an estimate on a bound counts as converged but
        triggers a :class:`~geoattr.exceptions.ConvergenceWarning`).
    method : str
        ``"lu"`` or ``"eigen"``.
    trace_error : float or None
        Standard error of the stochastic estimate of ``tr(W_A' W_A)``; None when all
        traces are exact.
    extra : dict
        ``traces`` (tr1, tr2, tr3), ``trace_method``, ``bounds``, ``logdet`` at the
        estimate, ``var_sigma2``, ``se_sensitivity`` (largest relative change of a
        standard error when tr3 moves by one standard error; 0 when exact); lag:
        ``predy_e`` (reduced-form prediction ``A^-1 X b``) and ``e_pred``; error:
        ``e_filtered`` (``u - lambda W u``).
    """

    params: np.ndarray
    cov: np.ndarray
    sigma2: float
    loglik: float
    resid: np.ndarray
    predy: np.ndarray
    iterations: int
    converged: bool
    method: str
    trace_error: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def std_errors(self) -> np.ndarray:
        """Square roots of the diagonal of ``cov``."""
        return np.sqrt(np.diag(self.cov))


# --------------------------------------------------------------------------- inputs
def _as_sparse_w(W: Any) -> sp.csr_matrix:
    if sp.issparse(W):
        Wc = sp.csr_matrix(W, dtype=float)
    elif isinstance(W, np.ndarray):
        if W.ndim != 2:
            raise InputError(
                f"W must be a 2-D square matrix; an array with {W.ndim} dimension(s) was given"
            )
        Wc = sp.csr_matrix(W.astype(float))
    else:
        raise InputError(
            "W must be a scipy.sparse matrix (or a 2-D numpy array); "
            f"{type(W).__name__} was given. "
            "For a libpysal Graph pass graph.sparse, for a libpysal W pass w.sparse."
        )
    if Wc.shape[0] != Wc.shape[1]:
        raise InputError(f"W must be square; its shape is {Wc.shape}")
    if not np.all(np.isfinite(Wc.data)):
        bad = np.unique(
            np.repeat(np.arange(Wc.shape[0]), np.diff(Wc.indptr))[~np.isfinite(Wc.data)]
        )
        raise InputError(
            f"W has missing or infinite weights in rows {format_ids(bad.tolist())}; fix the weights"
        )
    Wc.sum_duplicates()
    Wc.eliminate_zeros()
    return Wc


def _check_inputs(y: Any, X: Any, W: Any) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    yv = np.asarray(y, dtype=float)
    if yv.ndim == 2 and yv.shape[1] == 1:
        yv = yv[:, 0]
    if yv.ndim != 1:
        raise InputError(f"y must be a vector (n,) or (n, 1); its shape is {np.shape(y)}")
    Xv = np.asarray(X, dtype=float)
    if Xv.ndim == 1:
        Xv = Xv[:, None]
    if Xv.ndim != 2:
        raise InputError(f"X must be a 2-D array (n, k); its shape is {np.shape(X)}")
    Wc = _as_sparse_w(W)
    n = yv.shape[0]
    if Xv.shape[0] != n:
        raise InputError(
            f"X has {Xv.shape[0]} rows but y has {n} observations; they must match row for row"
        )
    if Wc.shape[0] != n:
        raise InputError(
            f"W is {Wc.shape[0]} x {Wc.shape[1]} but y has {n} observations; "
            "W must have one row and column "
            "per observation, in the same order"
        )
    bad_y = np.flatnonzero(~np.isfinite(yv))
    if bad_y.size:
        raise InputError(
            f"y has missing or infinite values in rows {format_ids(bad_y.tolist())}; "
            "drop these rows (and the "
            "matching rows and columns of W) or impute them"
        )
    bad = ~np.isfinite(Xv)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        cols = np.flatnonzero(bad.any(axis=0))
        raise InputError(
            f"X has missing or infinite values in rows {format_ids(rows.tolist())} (columns "
            f"{format_ids(cols.tolist())}); drop these rows (and the matching rows and columns "
            "of W) or impute them"
        )
    k = Xv.shape[1]
    if n <= k + 1:
        raise InputError(f"too few observations: n = {n} with k = {k} regressors (need n > k + 1)")
    rank = np.linalg.matrix_rank(Xv)
    if rank < k:
        raise InputError(
            f"X is rank deficient (rank {rank} of {k} columns); drop collinear columns"
        )
    resid = yv - Xv @ np.linalg.lstsq(Xv, yv, rcond=None)[0]
    if float(resid @ resid) <= 1e-20 * max(float(yv @ yv), 1e-300):
        raise InputError(
            "y is an exact linear combination of the columns of X; there is nothing to model"
        )
    return yv, Xv, Wc


def _is_row_standardised(W: sp.csr_matrix) -> bool:
    if W.nnz and W.data.min() < 0:
        return False
    rs = np.asarray(W.sum(axis=1)).ravel()
    return bool(np.all((np.abs(rs - 1.0) < 1e-10) | (rs == 0.0)))


def _is_symmetric(W: sp.csr_matrix) -> bool:
    D = (W - W.T).tocsr()
    return D.nnz == 0 or float(np.abs(D.data).max()) <= 1e-14 * max(
        1.0, float(np.abs(W.data).max())
    )


def _default_bounds(W: sp.csr_matrix) -> tuple[float, float]:
    """(-1, 1) for row-standardised W, else (1/lambda_min, 1/lambda_max) from sparse eigs."""
    if _is_row_standardised(W):
        return (-1.0, 1.0)
    n = W.shape[0]
    try:
        if n <= 200:  # small: dense eigenvalues (N x N, tiny)
            ev = np.linalg.eigvals(W.toarray()).real
            lmin, lmax = float(ev.min()), float(ev.max())
        elif _is_symmetric(W):
            from scipy.sparse.linalg import eigsh

            lmax = float(eigsh(W, k=1, which="LA", return_eigenvectors=False)[0])
            lmin = float(eigsh(W, k=1, which="SA", return_eigenvectors=False)[0])
        else:
            from scipy.sparse.linalg import eigs

            lmax = float(eigs(W, k=1, which="LR", return_eigenvectors=False)[0].real)
            lmin = float(eigs(W, k=1, which="SR", return_eigenvectors=False)[0].real)
    except Exception as exc:  # ARPACK non-convergence
        raise InputError(
            f"could not compute the extreme eigenvalues of W to set the search interval ({exc}); "
            "pass bounds=(lower, upper) explicitly"
        ) from exc
    if lmax <= 0:
        raise InputError("W has no positive eigenvalue; pass bounds=(lower, upper) explicitly")
    hi = 1.0 / lmax
    lo = 1.0 / lmin if lmin < 0 else -hi
    return (lo, hi)


def _check_bounds(bounds: Any, W: sp.csr_matrix) -> tuple[float, float]:
    if bounds is None:
        return _default_bounds(W)
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"bounds must be a pair (lower, upper) of numbers; {bounds!r} was given"
        ) from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"bounds must be finite with lower < upper; {bounds!r} was given")
    return (lo, hi)


def _check_method(method: str, n: int) -> str:
    if method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}; {method!r} was given")
    if method == "auto":
        return "lu"
    if method == "eigen" and n > EIGEN_MAX_N:
        raise InputError(
            f"method='eigen' needs a dense {n} x {n} eigenproblem (limit N = {EIGEN_MAX_N}); "
            "use method='lu'"
        )
    return method


def _blas_limit(active: bool) -> contextlib.AbstractContextManager[Any]:
    """Single-threaded BLAS for the sparse path (a no-op without threadpoolctl).

    SuperLU and the small dense operations of the sparse path make many tiny BLAS calls.
    With a multi-threaded BLAS and another busy process on the machine they slow down
    several-fold (measured, N = 100,000 error model on 2 cores while another job ran:
    7.8 s single-threaded against 17-58 s threaded); on an idle machine one thread is as
    fast.  The dense eigen method keeps the threads.
    """
    if not active:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------- log-determinant
class _Jacobian:
    """``log|I - rho W|``, ``tr(W A^-1)`` and the traces for the information matrix."""

    def __init__(self, W: sp.csr_matrix, method: str, bounds: tuple[float, float]) -> None:
        self.W = W
        self.n = n = W.shape[0]
        self.method = method
        if method == "eigen":
            # dense N x N, allowed for N <= EIGEN_MAX_N (checked by the caller)
            self.eig = _eigenvalues(W)
            return
        # CSC structure of I - rho W with sorted indices; only the values change with rho
        coo = W.tocoo()
        rows = np.concatenate([coo.row, np.arange(n)])
        cols = np.concatenate([coo.col, np.arange(n)])
        keys, inv = np.unique(cols.astype(np.int64) * n + rows, return_inverse=True)
        self._indices = (keys % n).astype(np.int32)
        self._indptr = np.searchsorted(keys // n, np.arange(n + 1)).astype(np.int32)
        self._wdata = np.zeros(keys.size)
        np.add.at(self._wdata, inv[: coo.nnz], coo.data)
        self._diag = inv[coo.nnz :]
        # Without pivoting when I - rho W is diagonally dominant over the whole interval
        # (always the case for row-standardised W with |rho| < 1): stable and fastest.
        rmax = max(abs(bounds[0]), abs(bounds[1]))
        row_abs = float(np.abs(W).sum(axis=1).max()) if W.nnz else 0.0
        col_abs = float(np.abs(W).sum(axis=0).max()) if W.nnz else 0.0
        dominant = rmax * min(row_abs, col_abs) < 1.0
        self._lu_kw: dict[str, Any] = {
            "permc_spec": "MMD_AT_PLUS_A",
            "diag_pivot_thresh": 0.0 if dominant else 0.1,
            "options": {"SymmetricMode": True},
        }

    # -- LU helpers
    def _a(self, rho: complex) -> sp.csc_matrix:
        data = (-rho) * self._wdata
        data[self._diag] += 1.0
        return sp.csc_matrix((data, self._indices, self._indptr), shape=(self.n, self.n))

    def _splu(self, M: sp.csc_matrix) -> Any:
        try:
            return splu(M, **self._lu_kw)
        except RuntimeError as exc:  # exactly singular
            raise _Singular(str(exc)) from exc

    def factor(self, rho: float) -> Any:
        """Real sparse LU of ``I - rho W`` (for solves)."""
        return self._splu(self._a(rho))

    def solve(self, rho: float, b: np.ndarray) -> np.ndarray:
        """``(I - rho W)^-1 b``."""
        if self.method == "eigen":  # N small: dense solve
            return np.linalg.solve(np.eye(self.n) - rho * self.W.toarray(), b)
        last = getattr(self, "last", None)
        if last is not None and last[0] == rho:
            # complex-step factor of A - i h W: the real part of its solution is A^-1 b
            # (error O(h^2))
            return np.real(last[1].solve(b.astype(complex)))
        return self.factor(rho).solve(b)

    # -- value and first derivative
    def logdet(self, rho: float) -> float:
        if self.method == "eigen":
            return float(np.log(np.abs(1.0 - rho * self.eig)).sum())
        d = self._splu(self._a(rho)).U.diagonal()
        return float(np.log(np.abs(d)).sum())

    def logdet_tr1(self, rho: float) -> tuple[float, float]:
        """``log|I - rho W|`` and ``tr(W (I - rho W)^-1)``."""
        if self.method == "eigen":
            z = 1.0 - rho * self.eig
            return float(np.log(np.abs(z)).sum()), float(np.sum(self.eig / z).real)
        lu = self._splu(self._a(complex(rho, _H)))
        self.last = (rho, lu)
        d = lu.U.diagonal()
        if np.any(d.real == 0.0):
            raise _Singular("zero pivot")
        return float(np.log(np.abs(d.real)).sum()), float(-np.sum(d.imag / d.real) / _H)

    # -- traces for the information matrix
    def traces(
        self,
        rho: float,
        ld: float,
        tr1: float,
        bounds: tuple[float, float],
        how: str,
        n_probes: int,
        seed: int | None,
        cov_of: Callable[[dict[str, float]], np.ndarray],
    ) -> tuple[dict[str, float], str, float | None, float]:
        """tr1, tr2, tr3 at rho.

        Returns the traces, a description, the standard error of tr3 (None when exact) and
        the standard-error sensitivity (see ``_sensitivity``; 0 when exact).  ``cov_of``
        maps a dict of traces to the covariance matrix of the model.
        """
        if self.method == "eigen":
            # dense N x N (N <= EIGEN_MAX_N): W A^-1 explicitly, exact traces
            A = np.eye(self.n) - rho * self.W.toarray()
            X = np.linalg.solve(A.T, self.W.toarray().T).T  # W A^-1
            return (
                {
                    "tr1": float(np.trace(X)),
                    "tr2": float(np.sum(X * X.T)),
                    "tr3": float(np.sum(X * X)),
                },
                "exact (dense, eigen method)",
                None,
                0.0,
            )
        tr2 = self._tr2(rho, tr1, bounds)
        if _is_symmetric(self.W):
            return (
                {"tr1": tr1, "tr2": tr2, "tr3": tr2},
                "exact (symmetric W: tr3 = tr2)",
                None,
                0.0,
            )
        if how == "exact" or (how == "auto" and self.n <= EXACT_TRACE_MAX_N):
            return (
                {"tr1": tr1, "tr2": tr2, "tr3": self._tr3_exact(rho)},
                "exact (sparse LU, complex step)",
                None,
                0.0,
            )
        tr = {"tr1": tr1, "tr2": tr2, "tr3": tr2}
        se, sens, used = self._asym_hutchinson(self.factor(rho), n_probes, seed, tr, cov_of)
        return (
            tr,
            "tr1, tr2 exact; tr3 = tr2 + Hutchinson estimate of ||W_A - W_A'||^2/2 "
            f"({used} probes)",
            se,
            sens,
        )

    def _tr2(self, rho: float, tr1: float, bounds: tuple[float, float]) -> float:
        """tr(W_A W_A) = d tr1 / d rho by a central difference of complex-step values of tr1.

        The step ``delta = 1e-4 * min(1, distance to the nearest bound)`` keeps truncation
        (~delta^2 / distance^2) and rounding (~1e-13 / delta) errors near 1e-8 relative.
        Within ``delta`` of a bound a one-sided second-order difference looks inwards.
        """
        lo, hi = bounds
        room = min(rho - lo, hi - rho)
        delta = 1e-4 * min(1.0, max(room, 1e-3))
        if rho - delta > lo and rho + delta < hi:
            tp = self.logdet_tr1(rho + delta)[1]
            tm = self.logdet_tr1(rho - delta)[1]
            return (tp - tm) / (2.0 * delta)
        step = delta if rho - lo < hi - rho else -delta  # towards the interior
        t1 = self.logdet_tr1(rho + step)[1]
        t2 = self.logdet_tr1(rho + 2 * step)[1]
        return (-3.0 * tr1 + 4.0 * t1 - t2) / (2.0 * step)

    def _tr3_exact(self, rho: float) -> float:
        """tr((A'A)^-1 W'W) = d/dt log det(A'A + t W'W) at t = 0, by the complex step."""
        W = self.W.tocsc()
        A = (sp.identity(self.n, format="csc") - rho * W).tocsc()
        M = (A.T @ A + (1j * _H) * (W.T @ W)).tocsc()
        # A'A is symmetric positive definite: no pivoting needed
        lu = splu(
            M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
        )
        d = lu.U.diagonal()
        return float(np.sum(d.imag / d.real) / _H)

    def _asym_hutchinson(
        self,
        lu: Any,
        m_max: int,
        seed: int | None,
        tr: dict[str, float],
        cov_of: Callable[[dict[str, float]], np.ndarray],
    ) -> tuple[float, float, int]:
        """Add a Hutchinson estimate of ||W_A - W_A'||_F^2 / 2 to ``tr["tr3"]`` (in place).

        Rademacher probes z give ``||(W_A - W_A') z||^2 / 2`` with expectation the wanted
        term; ``W_A z = W A^-1 z`` and ``W_A' z = A^-T W' z`` cost one solve each.  Probes
        come in blocks of 16; after at least ``_MIN_PROBES`` the loop stops once the
        standard-error sensitivity is at most ``_SE_TARGET``, or at ``m_max`` probes.
        Returns (standard error of the estimate, sensitivity, probes used).
        """
        rng = np.random.default_rng(seed)
        W = self.W
        WT = W.T.tocsr()
        tr2 = tr["tr3"]
        samples: list[np.ndarray] = []
        block = max(1, min(16, int(4e7 // (8 * self.n))))  # right-hand sides <= 320 MB
        done, se, sens = 0, math.inf, math.inf
        while done < m_max:
            b = min(block, m_max - done)
            Z = rng.choice(np.array([-1.0, 1.0]), size=(self.n, b))
            D = W @ lu.solve(Z) - lu.solve(np.asarray(WT @ Z), trans="T")
            samples.append(0.5 * np.einsum("ij,ij->j", D, D))
            done += b
            if done >= min(_MIN_PROBES, m_max):
                s = np.concatenate(samples)
                tr["tr3"] = tr2 + float(s.mean())
                se = float(s.std(ddof=1) / math.sqrt(done))
                sens = _sensitivity(cov_of, tr, se)
                if sens <= _SE_TARGET:
                    break
        return se, sens, done


class _BlockJacobian:
    """Jacobian terms of ``I_NT - rho (I_T (x) W)`` (year-major order) from one N x N block.

    ``log|I_NT - rho (I_T (x) W)| = T log|I_N - rho W|`` and every trace is T times the
    block's, so a pooled panel costs the factorisations of one cross-section.
    """

    def __init__(self, inner: "_Jacobian", periods: int, W_full: sp.csr_matrix) -> None:
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


def _panel_setup(y: Any, X: Any, W: Any, periods: int, method: str, bounds: Any):
    """Inputs for a pooled panel: W is one period's N x N matrix, y and X stacked by period."""
    Wb = _as_sparse_w(W).copy()  # the block's factorisation work must not touch the caller's matrix
    nb = Wb.shape[0]
    if periods < 1 or np.asarray(y).shape[0] != periods * nb:
        raise InputError(f"periods={periods} with an N x N W of N={nb} needs y of length {periods * nb} "
                         f"(stacked period by period), got {np.asarray(y).shape[0]}")
    W_full = sp.kron(sp.identity(periods, format="csr"), Wb, format="csr")
    yv, Xv, Wc = _check_inputs(y, X, W_full)
    meth = _check_method(method, nb)
    bnd = _check_bounds(bounds, Wb)
    return yv, Xv, Wc, meth, bnd, Wb


class _Singular(Exception):
    """I - rho W is singular at the evaluated rho."""


def _eigenvalues(W: sp.csr_matrix) -> np.ndarray:
    """All eigenvalues of W (dense, N <= EIGEN_MAX_N); real when W is symmetric-similar."""
    n = W.shape[0]
    Wd = W.toarray()  # dense N x N, allowed for the eigen method only
    if _is_symmetric(W):
        return np.linalg.eigvalsh(Wd)
    r = _symmetric_scaling(W)
    if r is not None:  # W = diag(r) C with C symmetric: similar to diag(r)^1/2 C diag(r)^1/2
        s = np.sqrt(r)
        with np.errstate(divide="ignore", invalid="ignore"):
            S = np.where(r[:, None] > 0, Wd / s[:, None], 0.0) * s[None, :]
        S = 0.5 * (S + S.T)
        return np.linalg.eigvalsh(S)
    ev = np.linalg.eigvals(Wd)
    return ev if np.abs(ev.imag).max(initial=0.0) > 1e-12 * n else ev.real


def _symmetric_scaling(W: sp.csr_matrix) -> np.ndarray | None:
    """Positive r with W = diag(r) C, C symmetric (row-standardised contiguity), else None."""
    from scipy.sparse.csgraph import breadth_first_order

    if W.nnz == 0 or W.data.min() <= 0:
        return None
    P = (W != 0).astype(np.int8)
    if (P - P.T).nnz:
        return None
    n = W.shape[0]
    WT = W.T.tocsr()
    r = np.ones(n)
    seen = np.zeros(n, dtype=bool)
    for start in range(n):
        if seen[start]:
            continue
        order, pred = breadth_first_order(P, start, directed=False, return_predecessors=True)
        seen[order] = True
        nodes = order[1:]
        if nodes.size:
            parents = pred[nodes]
            ratio = np.asarray(W[nodes, parents]).ravel() / np.asarray(WT[nodes, parents]).ravel()
            for node, parent, q in zip(nodes.tolist(), parents.tolist(), ratio.tolist()):
                r[node] = r[parent] * q
    Wc = W.tocoo()
    C = Wc.data / r[Wc.row]
    Ct = sp.csr_matrix((C, (Wc.row, Wc.col)), shape=W.shape)
    if abs(Ct - Ct.T).max() > 1e-10 * np.abs(C).max():
        return None
    return r


def logdet(W: Any, rho: float, *, method: str = "lu") -> float:
    """Log-determinant ``log|det(I - rho W)|``.

    Parameters
    ----------
    W : scipy.sparse matrix or ndarray, shape (n, n)
        Spatial weights.
    rho : float
        Spatial parameter.
    method : {"lu", "eigen", "auto"}, default "lu"
        ``"lu"``: sparse LU, ``sum log|diag U|`` (any W).  ``"eigen"``: ``sum log|1 - rho
        lambda_i|`` over the eigenvalues of ``W`` (dense, small N).  ``"auto"`` = ``"lu"``.

    Returns
    -------
    float
        The log of the absolute value of the determinant.
    """
    Wc = _as_sparse_w(W)
    meth = _check_method(method, Wc.shape[0])
    jac = _Jacobian(Wc, meth, (-abs(rho) - 1.0, abs(rho) + 1.0))
    if meth == "lu":  # arbitrary rho: partial pivoting
        jac._lu_kw.update(diag_pivot_thresh=1.0, options={"SymmetricMode": False})
    try:
        return jac.logdet(float(rho))
    except _Singular:
        return -math.inf


# --------------------------------------------------------------------------- optimiser
def _low_order_traces(W: sp.csr_matrix) -> tuple[float, float, float, float]:
    """Exact tr(W), tr(W^2), tr(W^3), tr(W^4) from sparse products."""
    WT = W.T.tocsr()
    W2 = (W @ W).tocsr()
    t1 = float(W.diagonal().sum())
    t2 = float(W.multiply(WT).sum())
    t3 = float(W2.multiply(WT).sum())
    t4 = float(W2.multiply(W2.T).sum())
    return t1, t2, t3, t4


def _search(
    sse: Callable[[float], float],
    score_part: Callable[[float], float],
    jac: _Jacobian,
    bounds: tuple[float, float],
    tol: float,
    n: int,
    maxiter: int = 100,
) -> tuple[float, float, float, bool, str, int]:
    """Minimise f(r) = n/2 log(SSE/n) - logdet(r) over the open interval ``bounds``.

    ``score_part(r)`` is ``n/2 SSE'(r)/SSE(r)``; the derivative of f is that plus
    ``tr(W A^-1)``.  Returns (r, logdet, tr1, converged, message, evaluations).
    """
    lo, hi = bounds
    cache: dict[float, tuple[float, float, float]] = {}

    def g(r: float) -> float:
        if r not in cache:
            if len(cache) >= maxiter:
                raise _TooMany
            try:
                ld, t1 = jac.logdet_tr1(r)
            except _Singular:
                # I - rho W singular: the log-likelihood is -inf there; push away
                ld, t1 = -math.inf, math.copysign(math.inf, r)
            cache[r] = (score_part(r) + t1, ld, t1)
        return cache[r][0]

    # starting point: minimiser of a surrogate with a 4th-order Taylor log-determinant
    t1, t2, t3, t4 = _low_order_traces(jac.W)

    def surrogate(r: float) -> float:
        return 0.5 * n * math.log(sse(r) / n) + (
            r * t1 + r**2 * t2 / 2 + r**3 * t3 / 3 + r**4 * t4 / 4
        )

    span = hi - lo
    slo, shi = lo + 5e-3 * span, hi - 5e-3 * span
    x0 = float(
        minimize_scalar(surrogate, bounds=(slo, shi), method="bounded", options={"xatol": 1e-6}).x
    )
    hs = 1e-4
    curv = (surrogate(x0 + hs) - 2 * surrogate(x0) + surrogate(x0 - hs)) / hs**2

    a_pt = x0
    try:
        ga = g(a_pt)
        if ga == 0.0:
            return _finish(a_pt, cache, True, "")
        direction = -1.0 if ga > 0 else 1.0
        step = -ga / curv if curv > 0 and (-ga / curv) * direction > 0 else 0.05 * direction
        edge = hi if direction > 0 else lo
        while True:
            b_pt = a_pt + step
            # never jump past half-way to the bound: approach it geometrically
            if (edge - b_pt) * direction <= 0.5 * (edge - a_pt) * direction:
                b_pt = a_pt + 0.5 * (edge - a_pt)
            gb = g(b_pt)
            if gb == 0.0 or (gb > 0) != (ga > 0):
                break
            if abs(edge - b_pt) < 0.1 * _BOUND_WARN:
                return _finish(b_pt, cache, True, "bound")
            # secant extrapolation with 50 % overshoot to bracket the root
            slope = (gb - ga) / (b_pt - a_pt)
            new = -gb / slope if slope > 0 else 2.0 * (b_pt - a_pt)
            step = 1.5 * new if new * direction > 0 else 2.0 * (b_pt - a_pt)
            a_pt, ga = b_pt, gb
        if gb == 0.0:
            return _finish(b_pt, cache, True, "")
        lo_b, hi_b = sorted((a_pt, b_pt))
        root = brentq(g, lo_b, hi_b, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=maxiter)
        g(root)
        return _finish(root, cache, True, "")
    except _TooMany:
        best = min(cache, key=lambda r: abs(cache[r][0]))
        return _finish(
            best, cache, False, f"no convergence after {maxiter} log-determinant evaluations"
        )


class _TooMany(Exception):
    pass


def _finish(
    r: float, cache: dict[float, tuple[float, float, float]], ok: bool, msg: str
) -> tuple[float, float, float, bool, str, int]:
    _, ld, t1 = cache[r]
    return r, ld, t1, ok, msg, len(cache)


def _warn_bounds(
    name: str, value: float, bounds: tuple[float, float], converged: bool, msg: str
) -> None:
    lo, hi = bounds
    if not converged:
        warnings.warn(
            f"the maximum-likelihood search for {name} did not converge ({msg}); "
            f"{name} = {value:.8g}",
            ConvergenceWarning,
            stacklevel=3,
        )
    if min(value - lo, hi - value) < _BOUND_WARN:
        edge = lo if value - lo < hi - value else hi
        warnings.warn(
            f"{name} = {value:.8g} is within 1e-6 of the bound {edge:g} of the search interval "
            f"({lo:g}, {hi:g}); the likelihood may have its maximum outside the interval. Check "
            "the weights and the model, or pass wider bounds=",
            ConvergenceWarning,
            stacklevel=3,
        )


def _check_options(tol: float, traces: str, n_probes: int) -> None:
    if not (isinstance(tol, (int, float)) and 0 < tol < 1e-2):
        raise InputError(f"tol must be a small positive number (e.g. 1e-10); {tol!r} was given")
    if traces not in _TRACES:
        raise InputError(f"traces must be one of {_TRACES}; {traces!r} was given")
    if not (isinstance(n_probes, (int, np.integer)) and n_probes >= 2):
        raise InputError(f"n_probes must be an integer >= 2; {n_probes!r} was given")


def _sensitivity(
    cov_of: Callable[[dict[str, float]], np.ndarray], tr: dict[str, float], se: float
) -> float:
    """Largest relative change of a standard error when tr3 moves by +-se."""
    base = np.sqrt(np.diag(cov_of(tr)))
    worst = 0.0
    for sign in (-1.0, 1.0):
        moved = np.sqrt(np.diag(cov_of({**tr, "tr3": tr["tr3"] + sign * se})))
        worst = max(worst, float(np.max(np.abs(moved / base - 1.0))))
    return worst


# --------------------------------------------------------------------------- models
_DOC_COMMON = """
    Parameters
    ----------
    y : array_like, shape (n,) or (n, 1)
        Dependent variable.
    X : array_like, shape (n, k)
        Regressors, including the constant column if one is wanted.
    W : scipy.sparse matrix or ndarray, shape (n, n)
        Spatial weights, rows and columns in the order of ``y``.
    method : {"auto", "lu", "eigen"}, default "auto"
        Log-determinant: sparse LU (``"auto"``) or the eigenvalues of ``W`` (dense, at
        most ``EIGEN_MAX_N`` observations).
    bounds : (float, float), optional
        Open search interval; see the module docstring for the default.
    tol : float, default 1e-10
        Absolute tolerance on the spatial parameter.
    traces : {"auto", "exact", "stochastic"}, default "auto"
        How ``tr(W_A' W_A)`` is obtained for the standard errors (``"auto"``: exact up to
        ``EXACT_TRACE_MAX_N`` observations).
    n_probes : int, default 100
        Most Hutchinson probes for the stochastic ``tr3``; they are drawn in blocks of 16
        and, after at least 32, stop once moving tr3 by one standard error changes no
        standard error by more than 1e-5 relative (``extra["se_sensitivity"]``).
    seed : int or None, default 0
        Seed of the probes.

    Returns
    -------
    MLResult

    Raises
    ------
    InputError
        Non-square or mismatched W, missing values, rank-deficient X, bad options.

    Warns
    -----
    ConvergenceWarning
        The estimate lies within 1e-6 of a bound, or the search did not converge.
"""


def ml_lag(
    y: Any,
    X: Any,
    W: Any,
    *,
    method: str = "auto",
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-10,
    traces: str = "auto",
    n_probes: int = 100,
    seed: int | None = 0,
    periods: int = 1,
) -> MLResult:
    """Maximum-likelihood spatial lag model ``y = rho W y + X beta + e``.

    With ``periods = T > 1``, ``W`` is one period's N x N matrix and y, X are stacked
    period by period (a pooled panel with ``I_T (x) W``); log-determinants and traces
    come from the single block.

    Reproduces ``spreg.ML_Lag`` (same concentrated likelihood, information matrix and
    definitions of residuals and sigma2) with sparse algebra only.
    """
    if periods == 1:
        yv, Xv, Wc = _check_inputs(y, X, W)
        meth = _check_method(method, Wc.shape[0])
        bnd = _check_bounds(bounds, Wc)
    else:
        yv, Xv, Wc, meth, bnd, Wb = _panel_setup(y, X, W, periods, method, bounds)
    _check_options(tol, traces, n_probes)
    n, k = Xv.shape
    with _blas_limit(meth == "lu"):
        jac = _Jacobian(Wc, meth, bnd) if periods == 1 else _BlockJacobian(_Jacobian(Wb, meth, bnd), periods, Wc)

        wy = Wc @ yv
        Q, R = np.linalg.qr(Xv)
        b0 = np.linalg.solve(R, Q.T @ yv)
        b1 = np.linalg.solve(R, Q.T @ wy)
        e0 = yv - Xv @ b0
        e1 = wy - Xv @ b1
        a00, a01, a11 = float(e0 @ e0), float(e0 @ e1), float(e1 @ e1)

        def sse(r: float) -> float:
            return max(a00 - 2 * r * a01 + r * r * a11, 1e-300)

        def score_part(r: float) -> float:
            return 0.5 * n * (-2 * a01 + 2 * r * a11) / sse(r)

        rho, ld, tr1, ok, msg, iterations = _search(sse, score_part, jac, bnd, tol, n)
        _warn_bounds("rho", rho, bnd, ok, msg)

        beta = b0 - rho * b1
        u = e0 - rho * e1
        sig2 = float(u @ u) / n
        loglik = -(0.5 * n * math.log(sig2) - ld) - 0.5 * n * _LN2PI - 0.5 * n

        predy_e = jac.solve(rho, Xv @ beta)
        wpy = Wc @ predy_e
        xtx = Xv.T @ Xv
        xtwpy = Xv.T @ wpy
        wpywpy = float(wpy @ wpy)

        def inv_information(t: dict[str, float]) -> np.ndarray:
            """Inverse of the information matrix of (beta, rho, sigma2), Anselin (1988)."""
            v = np.zeros((k + 2, k + 2))
            v[:k, :k] = xtx / sig2
            v[:k, k] = v[k, :k] = xtwpy / sig2
            v[k, k] = t["tr2"] + t["tr3"] + wpywpy / sig2
            v[k, k + 1] = v[k + 1, k] = t["tr1"] / sig2
            v[k + 1, k + 1] = n / (2.0 * sig2**2)
            return np.linalg.inv(v)

        tr, trace_method, tr_se, sens = jac.traces(
            rho, ld, tr1, bnd, traces, n_probes, seed, lambda t: inv_information(t)[:-1, :-1]
        )
        vm1 = inv_information(tr)
        return MLResult(
            params=np.append(beta, rho),
            cov=vm1[:-1, :-1],
            sigma2=sig2,
            loglik=float(loglik),
            resid=u,
            predy=yv - u,
            iterations=iterations,
            converged=ok,
            method=meth,
            trace_error=tr_se,
            extra={
                "traces": tr,
                "trace_method": trace_method,
                "bounds": bnd,
                "logdet": ld,
                "var_sigma2": float(vm1[-1, -1]),
                "se_sensitivity": sens,
                "predy_e": predy_e,
                "e_pred": yv - predy_e,
            },
        )


def ml_error(
    y: Any,
    X: Any,
    W: Any,
    *,
    method: str = "auto",
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-10,
    traces: str = "auto",
    n_probes: int = 100,
    seed: int | None = 0,
    periods: int = 1,
) -> MLResult:
    """Maximum-likelihood spatial error model ``y = X beta + u``, ``u = lambda W u + e``.

    Reproduces ``spreg.ML_Error`` (same concentrated likelihood, information matrix and
    definitions of residuals and sigma2) with sparse algebra only.  ``periods`` as in
    :func:`ml_lag`.
    """
    if periods == 1:
        yv, Xv, Wc = _check_inputs(y, X, W)
        meth = _check_method(method, Wc.shape[0])
        bnd = _check_bounds(bounds, Wc)
    else:
        yv, Xv, Wc, meth, bnd, Wb = _panel_setup(y, X, W, periods, method, bounds)
    _check_options(tol, traces, n_probes)
    n, k = Xv.shape
    with _blas_limit(meth == "lu"):
        jac = _Jacobian(Wc, meth, bnd) if periods == 1 else _BlockJacobian(_Jacobian(Wb, meth, bnd), periods, Wc)

        wy = Wc @ yv
        wx = np.asarray(Wc @ Xv)

        def fit(lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            ys = yv - lam * wy
            xs = Xv - lam * wx
            b = np.linalg.lstsq(xs, ys, rcond=None)[0]
            return b, ys - xs @ b, xs

        def sse(lam: float) -> float:
            e = fit(lam)[1]
            return float(e @ e)

        def score_part(lam: float) -> float:
            b, e, _ = fit(lam)
            u = yv - Xv @ b
            return -n * float(e @ (Wc @ u)) / float(e @ e)

        lam, ld, tr1, ok, msg, iterations = _search(sse, score_part, jac, bnd, tol, n)
        _warn_bounds("lambda", lam, bnd, ok, msg)

        beta, e_filtered, xs = fit(lam)
        u = yv - Xv @ beta
        sig2 = float(e_filtered @ e_filtered) / n
        loglik = -(0.5 * n * math.log(sig2) - ld) - 0.5 * n * _LN2PI - 0.5 * n

        xsxsi = np.linalg.inv(xs.T @ xs)

        def inv_information(t: dict[str, float]) -> tuple[np.ndarray, float]:
            """Covariance of (beta, lambda) and variance of sigma2, Anselin (1988)."""
            v = np.array(
                [[t["tr2"] + t["tr3"], t["tr1"] / sig2], [t["tr1"] / sig2, n / (2 * sig2**2)]]
            )
            vm1 = np.linalg.inv(v)
            cov = np.zeros((k + 1, k + 1))
            cov[:k, :k] = sig2 * xsxsi
            cov[k, k] = vm1[0, 0]
            return cov, float(vm1[1, 1])

        tr, trace_method, tr_se, sens = jac.traces(
            lam, ld, tr1, bnd, traces, n_probes, seed, lambda t: inv_information(t)[0]
        )
        cov, var_sigma2 = inv_information(tr)
        return MLResult(
            params=np.append(beta, lam),
            cov=cov,
            sigma2=sig2,
            loglik=float(loglik),
            resid=u,
            predy=yv - u,
            iterations=iterations,
            converged=ok,
            method=meth,
            trace_error=tr_se,
            extra={
                "traces": tr,
                "trace_method": trace_method,
                "bounds": bnd,
                "logdet": ld,
                "var_sigma2": var_sigma2,
                "se_sensitivity": sens,
                "e_filtered": e_filtered,
            },
        )


ml_lag.__doc__ = (ml_lag.__doc__ or "") + _DOC_COMMON
ml_error.__doc__ = (ml_error.__doc__ or "") + _DOC_COMMON
