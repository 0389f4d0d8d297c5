"""Log-determinant (Jacobian) engine of the sparse ML spatial estimators.

``log|I - rho W|``, ``tr(W (I - rho W)^-1)`` and the traces of the information matrix
from sparse LU factorisations with complex-step derivatives, or from the eigenvalues of
``W`` (small N); the input checks shared by :func:`geoattr.models.ml.ml_lag` and
:func:`geoattr.models.ml.ml_error`.  See :mod:`geoattr.models.ml` for the method.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigs, eigsh, splu
from threadpoolctl import ThreadpoolController

from geoattr._format import format_ids
from geoattr._validation import number_pair
from geoattr.exceptions import InputError
from geoattr.models.ml_symmetry import is_symmetric, symmetric_scaling
from geoattr.models.tsqr import augmented_r

__all__ = [
    "APPROX_METHODS", "COMPLEX_STEP", "EIGEN_MAX_N", "EXACT_TRACE_MAX_N", "Jacobian", "METHODS", "SingularError",
    "as_sparse_w", "blas_limit", "csc_with_diagonal", "solve_pair", "check_bounds", "check_inputs", "check_method", "logdet",
    "se_sensitivity", "default_bounds", "eigenvalues", "is_row_standardised",
]

#: Largest N for which ``traces="auto"`` computes ``tr(W_A' W_A)`` exactly (sparse LU of
#: ``A'A``); above it the asymmetry correction is estimated stochastically.  Measured on
#: queen grids (whole lag fit, peak RSS of the process): N = 30,000 exact 2.7 s / 680 MB,
#: stochastic 2.3 s / 500 MB; N = 100,000 exact 12.5 s / 1.95 GB, stochastic 8 s / 0.83 GB.
EXACT_TRACE_MAX_N = 30_000
#: Largest N accepted by ``method="eigen"`` (dense ``N x N`` eigenproblem and inverse).
EIGEN_MAX_N = 5_000
#: Log-determinant methods.
METHODS = ("auto", "lu", "eigen")
#: Approximate log-determinant methods (:mod:`geoattr.models.ml_approx`).
APPROX_METHODS = ("chebyshev", "mc")
#: The complex step of the derivatives.
COMPLEX_STEP = 1e-20
#: Hutchinson: at least this many probes ...
MIN_PROBES = 32
#: ... then stop once tr3's error moves no standard error by more than this
SE_TARGET = 1e-5


# --------------------------------------------------------------------------- inputs
def as_sparse_w(weights: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """W as a CSR float matrix (duplicates summed, zeros dropped); clear errors for other inputs.

    A CSR float matrix already in that form is returned as it is (no copy); otherwise the
    result is a new matrix.  Callers must not modify it in place.
    """
    if sp.issparse(weights):
        Wc = sp.csr_matrix(weights, dtype=float)
    elif isinstance(weights, np.ndarray):
        if weights.ndim != 2:
            raise InputError(
                f"weights (W) must be a 2-D square matrix; an array with {weights.ndim} dimension(s) was given"
            )
        Wc = sp.csr_matrix(weights.astype(float))
    else:
        raise InputError(
            "weights (W) must be a scipy.sparse matrix (or a 2-D numpy array); "
            f"{type(weights).__name__} was given. "
            "For a libpysal Graph pass graph.sparse, for a libpysal W pass w.sparse."
        )
    if Wc.shape[0] != Wc.shape[1]:
        raise InputError(f"weights (W) must be square; its shape is {Wc.shape}")
    if not np.all(np.isfinite(Wc.data)):
        bad = np.unique(
            np.repeat(np.arange(Wc.shape[0]), np.diff(Wc.indptr))[~np.isfinite(Wc.data)]
        )
        raise InputError(
            f"W has missing or infinite weights in rows {format_ids(bad.tolist())}; fix the weights"
        )
    if not Wc.has_canonical_format or not Wc.data.all():  # duplicates, unsorted rows or explicit zeros
        Wc = Wc.copy()  # fixed in a copy: the caller's matrix is never modified
        Wc.sum_duplicates()
        Wc.eliminate_zeros()
    return Wc


def check_inputs(y: Any, X: Any, weights: sp.spmatrix | np.ndarray, *,
                 periods: int = 1) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """y, X and W checked for shape, missing values and rank; returned as arrays and a CSR matrix.

    With ``periods = T`` W is one period's matrix and y, X have ``T`` blocks of its rows.
    """
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
    Wc = as_sparse_w(weights)
    n = yv.shape[0]
    if Xv.shape[0] != n:
        raise InputError(
            f"X has {Xv.shape[0]} rows but y has {n} observations; they must match row for row"
        )
    if Wc.shape[0] * periods != n:
        raise InputError(
            f"the weights matrix W is {Wc.shape[0]} x {Wc.shape[1]} but y has {n} observations; "
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
    # one BLAS thread: at N = 10^5, k = 9 these took 0.17 s threaded under load, 0.03 s on one
    with blas_limit(True):  # R of [X | y] by blocks (no copy of X): X's singular values, y's residual
        Ra = augmented_r(Xv, yv)
        sv = np.linalg.svd(Ra[:k, :k], compute_uv=False)
        rank = int(np.sum(sv > sv.max(initial=0.0) * max(n, k) * np.finfo(float).eps))  # matrix_rank's rule
        rss = float(np.sum(Ra[k:, k] ** 2))
    if rank < k:
        raise InputError(
            f"X is rank deficient (rank {rank} of {k} columns); drop collinear columns"
        )
    if rss <= 1e-20 * max(float(yv @ yv), 1e-300):
        raise InputError(
            "y is an exact linear combination of the columns of X; there is nothing to model"
        )
    return yv, Xv, Wc


def is_row_standardised(W: sp.csr_matrix) -> bool:
    """Whether W is non-negative with rows summing to 1 (or 0: isolates)."""
    if W.nnz and W.data.min() < 0:
        return False
    rs = np.asarray(W.sum(axis=1)).ravel()
    return bool(np.all((np.abs(rs - 1.0) < 1e-10) | (rs == 0.0)))


def default_bounds(W: sp.csr_matrix) -> tuple[float, float]:
    """(-1, 1) for row-standardised W, else (1/lambda_min, 1/lambda_max) from sparse eigs."""
    if is_row_standardised(W):
        return (-1.0, 1.0)
    n = W.shape[0]
    try:
        if n <= 200:  # small: dense eigenvalues (N x N, tiny)
            ev = np.linalg.eigvals(W.toarray()).real
            lmin, lmax = float(ev.min()), float(ev.max())
        elif is_symmetric(W):
            lmax = float(eigsh(W, k=1, which="LA", return_eigenvectors=False)[0])
            lmin = float(eigsh(W, k=1, which="SA", return_eigenvectors=False)[0])
        else:
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


def check_bounds(bounds: Any, weights: sp.csr_matrix) -> tuple[float, float]:
    """The search interval: ``bounds`` checked, or the default of :func:`default_bounds`."""
    if bounds is None:
        return default_bounds(weights)
    lo, hi = number_pair(bounds, what="bounds must be a pair (lower, upper) of numbers")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"bounds must be finite with lower < upper; {bounds!r} was given")
    return (lo, hi)


def check_method(method: str, n: int) -> str:
    """The log-determinant method ('auto' means 'lu'); 'eigen' only up to ``EIGEN_MAX_N``."""
    if method not in METHODS + APPROX_METHODS:
        raise InputError(f"method must be one of {METHODS}; {method!r} was given; for N beyond the memory of a "
                         f"sparse LU the approximations {APPROX_METHODS} are accepted too")
    if method == "auto":
        return "lu"
    if method == "eigen" and n > EIGEN_MAX_N:
        raise InputError(
            f"method='eigen' needs a dense {n} x {n} eigenproblem (limit N = {EIGEN_MAX_N}); "
            "use method='lu'"
        )
    return method


def blas_limit(active: bool) -> contextlib.AbstractContextManager[Any]:
    """Single-threaded BLAS for the sparse path.

    SuperLU and the small dense operations of the sparse path make many tiny BLAS calls.
    With a multi-threaded BLAS and another busy process on the machine they slow down
    several-fold (measured, N = 100,000 error model on 2 cores while another job ran:
    7.8 s single-threaded against 17-58 s threaded); on an idle machine one thread is as
    fast.  The dense eigen method keeps the threads.
    """
    if not active:
        return contextlib.nullcontext()
    return _threadpools().limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """The process's thread pools, found once: a scan of the loaded libraries cost 0.12 s per fit."""
    return ThreadpoolController()


# --------------------------------------------------------------------------- log-determinant
def csc_with_diagonal(M: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSC structure of ``M`` plus the whole diagonal, sorted indices.

    Returns (indices, indptr, values of ``M`` in that structure, positions of the diagonal):
    ``I - rho M`` is ``(-rho * values`` with 1 added at the diagonal positions``)`` in it.
    """
    n = M.shape[0]
    coo = M.tocoo()
    rows = np.concatenate([coo.row, np.arange(n)])
    cols = np.concatenate([coo.col, np.arange(n)])
    keys, inv = np.unique(cols.astype(np.int64) * n + rows, return_inverse=True)
    indices = (keys % n).astype(np.int32)
    indptr = np.searchsorted(keys // n, np.arange(n + 1)).astype(np.int32)
    values = np.zeros(keys.size)
    np.add.at(values, inv[: coo.nnz], coo.data)
    return indices, indptr, values, inv[coo.nnz :]


class Jacobian:
    """``log|I - rho W|``, ``tr(W A^-1)`` and the traces for the information matrix."""

    def __init__(self, weights: sp.csr_matrix, method: str, bounds: tuple[float, float]) -> None:
        self.W = weights
        self.n = n = weights.shape[0]
        self.method = method
        if method == "eigen":
            # dense N x N, allowed for N <= EIGEN_MAX_N (checked by the caller)
            self.eig = eigenvalues(weights)
            return
        # Without pivoting when I - rho W is diagonally dominant over the whole interval
        # (always the case for row-standardised W with |rho| < 1): stable and fastest.
        rmax = max(abs(bounds[0]), abs(bounds[1]))
        row_abs = float(np.abs(weights).sum(axis=1).max()) if weights.nnz else 0.0
        col_abs = float(np.abs(weights).sum(axis=0).max()) if weights.nnz else 0.0
        dominant = rmax * min(row_abs, col_abs) < 1.0
        self._lu_kw: dict[str, Any] = {
            "permc_spec": "MMD_AT_PLUS_A",
            "diag_pivot_thresh": 0.0 if dominant else 0.1,
            "options": {"SymmetricMode": True},
        }

    # -- LU helpers
    @functools.cached_property
    def _csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """CSC structure of I - rho W with sorted indices (only the values change with rho);
        built on first use (the CHOLMOD path needs it only for a fallback)."""
        return csc_with_diagonal(self.W)

    def _a(self, rho: complex) -> sp.csc_matrix:
        indices, indptr, wdata, diag = self._csc
        data = (-rho) * wdata
        data[diag] += 1.0
        return sp.csc_matrix((data, indices, indptr), shape=(self.n, self.n))

    def _splu(self, M: sp.csc_matrix) -> Any:
        try:
            return splu(M, **self._lu_kw)
        except RuntimeError as exc:  # exactly singular
            raise SingularError(str(exc)) from exc

    def factor(self, rho: float) -> Any:
        """Real sparse LU of ``I - rho W`` (for solves)."""
        return self._splu(self._a(rho))

    def probe_factor(self, rho: float) -> Any:
        """The factorisation for the Hutchinson probes of the stochastic ``tr3`` at ``rho``."""
        return self.factor(rho)

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
        lu = self._splu(self._a(complex(rho, COMPLEX_STEP)))
        self.last = (rho, lu)
        d = lu.U.diagonal()
        if np.any(d.real == 0.0):
            raise SingularError("zero pivot")
        return float(np.log(np.abs(d.real)).sum()), float(-np.sum(d.imag / d.real) / COMPLEX_STEP)

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
        the standard-error sensitivity (see :func:`se_sensitivity`; 0 when exact).  ``cov_of``
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
        if self.w_is_symmetric():
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
        se, sens, used = self._asym_hutchinson(self.probe_factor(rho), n_probes, seed, tr, cov_of)
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

    def w_transposed(self) -> sp.csc_matrix:
        """``W'`` as the transposed view (CSC) of :attr:`W`, without a copy.

        Its products are those of a CSR copy of ``W'``, bit for bit (each entry of ``W' v``
        adds the same terms in the same order), at the same speed; the copy cost 95 MB at
        N = 10^6 (queen lattice) while the factor of the probes was alive.
        """
        return self.W.T

    def w_is_symmetric(self) -> bool:
        """Whether ``W = W'`` (then ``tr3 = tr2``): compared entry by entry with a transient CSR ``W'``."""
        return is_symmetric(self.W, transposed=self.W.T.tocsr())

    def probe_columns(self) -> int:
        """Probes in a block of the Hutchinson ``tr3``: 1 to 16, right-hand sides within 320 MB."""
        return max(1, min(16, int(4e7 // (8 * self.n))))

    def probe_block(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` Rademacher probes (an n x size array) for the Hutchinson estimate of ``tr3``."""
        return rng.choice(np.array([-1.0, 1.0]), size=(self.n, size))

    def _tr3_exact(self, rho: float) -> float:
        """tr((A'A)^-1 W'W) = d/dt log det(A'A + t W'W) at t = 0, by the complex step."""
        W = self.W.tocsc()
        A = (sp.identity(self.n, format="csc") - rho * W).tocsc()
        M = (A.T @ A + (1j * COMPLEX_STEP) * (W.T @ W)).tocsc()
        # A'A is symmetric positive definite: no pivoting needed
        lu = splu(
            M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
        )
        d = lu.U.diagonal()
        return float(np.sum(d.imag / d.real) / COMPLEX_STEP)

    def probe_differences(self, lu: Any, Z: np.ndarray) -> np.ndarray:
        """``W A^-1 Z - A^-T W' Z`` for a block of probes ``Z`` (consumed), from the factorisation ``lu``."""
        C = np.asarray(self.w_transposed() @ Z)
        if hasattr(lu, "solve_pair"):  # one call for both
            X, Y = solve_pair(lu, Z, C)
            del Z, C
        else:  # each right-hand side released once solved: at most four n x b blocks alive in a solve
            X = lu.solve(Z)
            del Z
            Y = lu.solve(C, trans="T")
            del C
        D = self.W @ X
        del X
        D -= Y  # W A^-1 z - A^-T W' z, as W @ X - Y
        return D

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
        come in blocks of 16; after at least ``MIN_PROBES`` the loop stops once the
        standard-error sensitivity is at most ``SE_TARGET``, or at ``m_max`` probes.
        Returns (standard error of the estimate, sensitivity, probes used).
        """
        rng = np.random.default_rng(seed)
        tr2 = tr["tr3"]
        samples: list[np.ndarray] = []
        block = self.probe_columns()
        done, se, sens = 0, math.inf, math.inf
        while done < m_max:
            b = min(block, m_max - done)
            D = self.probe_differences(lu, self.probe_block(rng, b))
            samples.append(0.5 * np.einsum("ij,ij->j", D, D))
            del D
            done += b
            if done >= min(MIN_PROBES, m_max):
                s = np.concatenate(samples)
                tr["tr3"] = tr2 + float(s.mean())
                se = float(s.std(ddof=1) / math.sqrt(done))
                sens = se_sensitivity(cov_of, tr, se)
                if sens <= SE_TARGET:
                    break
        return se, sens, done


def solve_pair(lu: Any, B: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A^-1 B, A^-T C)`` from a factorisation of ``A``.

    One call when the factorisation offers ``solve_pair`` (the Cholesky path: both are
    solves with the same symmetric factor, and a supernodal solve with twice the columns
    costs little more than one, as it is bound by reading the factor); else two solves.
    """
    pair = getattr(lu, "solve_pair", None)
    if pair is not None:
        return pair(B, C)
    return lu.solve(B), lu.solve(C, trans="T")


class SingularError(Exception):
    """I - rho W is singular at the evaluated rho."""


def eigenvalues(W: sp.csr_matrix) -> np.ndarray:
    """All eigenvalues of W (dense, N <= EIGEN_MAX_N); real when W is symmetric-similar."""
    n = W.shape[0]
    Wd = W.toarray()  # dense N x N, allowed for the eigen method only
    if is_symmetric(W):
        return np.linalg.eigvalsh(Wd)
    r = symmetric_scaling(W)
    if r is not None:  # W = diag(r) C with C symmetric: similar to diag(r)^1/2 C diag(r)^1/2
        s = np.sqrt(r)
        with np.errstate(divide="ignore", invalid="ignore"):
            S = np.where(r[:, None] > 0, Wd / s[:, None], 0.0) * s[None, :]
        S = 0.5 * (S + S.T)
        return np.linalg.eigvalsh(S)
    ev = np.linalg.eigvals(Wd)
    return ev if np.abs(ev.imag).max(initial=0.0) > 1e-12 * n else ev.real


def logdet(weights: sp.spmatrix | np.ndarray, rho: float, *, method: str = "lu") -> float:
    """Log-determinant ``log|det(I - rho W)|``.

    Parameters
    ----------
    weights : scipy.sparse matrix or ndarray, shape (n, n)
        Spatial weights ``W``.
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
    Wc = as_sparse_w(weights)
    meth = check_method(method, Wc.shape[0])
    if meth not in ("lu", "eigen"):
        raise InputError(f"logdet computes exact values (method 'lu' or 'eigen'); for method={meth!r} use "
                         "geoattr.models.ml_approx.ApproxLogdet")
    jac = Jacobian(Wc, meth, (-abs(rho) - 1.0, abs(rho) + 1.0))
    if meth == "lu":  # arbitrary rho: partial pivoting
        jac._lu_kw.update(diag_pivot_thresh=1.0, options={"SymmetricMode": False})
    try:
        return jac.logdet(float(rho))
    except SingularError:
        return -math.inf



def se_sensitivity(
    cov_of: Callable[[dict[str, float]], np.ndarray], tr: dict[str, float], se: float
) -> float:
    """Largest relative change of a standard error when tr3 moves by +-se."""
    base = np.sqrt(np.diag(cov_of(tr)))
    worst = 0.0
    for sign in (-1.0, 1.0):
        moved = np.sqrt(np.diag(cov_of({**tr, "tr3": tr["tr3"] + sign * se})))
        worst = max(worst, float(np.max(np.abs(moved / base - 1.0))))
    return worst
