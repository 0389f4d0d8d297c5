"""The least-squares kernel: (weighted) least squares with linearmodels' conventions.

One implementation serves every fast path (year-by-year estimates, the bootstrap, the
robustness variants, drivers, the diagnostics): coefficients, R², the Gaussian
log-likelihood and one covariance table, :data:`COVARIANCES`, mapping ``cov_type`` to
its estimator (``unadjusted``, ``robust``, ``clustered``, ``driscoll-kraay``,
``spatial-hac``).  The first four are computed as :class:`linearmodels.panel.PooledOLS`
computes them, ``spatial-hac`` as spreg's ``OLS(robust="hac")`` (pinned in
``tests/test_least_squares.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["COVARIANCES", "LeastSquaresFit", "covariance", "least_squares", "normalised_weights", "xtx_inverse"]


@dataclass(frozen=True)
class LeastSquaresFit:
    """Fast least-squares fit (linearmodels' PooledOLS conventions)."""

    params: np.ndarray
    cov: np.ndarray | None
    r2: float
    loglik: float
    nobs: int
    df_resid: int
    resids: np.ndarray | None = None


def normalised_weights(obs_weights: np.ndarray | None) -> np.ndarray | None:
    """Observation weights scaled to mean 1 (as linearmodels does); ``None`` stays ``None``."""
    return None if obs_weights is None else np.asarray(obs_weights, dtype=float) / float(np.mean(obs_weights))


def xtx_inverse(X: np.ndarray) -> np.ndarray:
    """``(X'X)^-1``: the bread of every covariance in :data:`COVARIANCES`."""
    return np.linalg.inv(X.T @ X)


@dataclass(frozen=True)
class _Parts:
    """What a covariance estimator needs: the (weighted) design, residuals, bread and options."""

    X: np.ndarray
    e: np.ndarray
    A: np.ndarray
    groups: Any = None
    time: Any = None
    kernel: Any = None
    bandwidth: float | None = None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def dof_scale(self) -> float:
        """linearmodels' small-sample factor ``n / (n - k)``."""
        n, k = self.X.shape
        return n / (n - k)


def _symmetric(V: np.ndarray) -> np.ndarray:
    return (V + V.T) / 2


def _unadjusted(p: _Parts) -> np.ndarray:
    """``s2 (X'X)^-1`` with ``s2 = SSR / (n - k)``."""
    return _symmetric(p.A * float(p.e @ p.e) / (p.n - p.X.shape[1]))


def _robust(p: _Parts) -> np.ndarray:
    """White's sandwich scaled by ``n / (n - k)``."""
    Z = p.X * p.e[:, None]
    return _symmetric(p.A @ (Z.T @ Z) @ p.A * p.dof_scale)


def _clustered(p: _Parts) -> np.ndarray:
    """Sandwich of the cluster sums of the scores, scaled by ``n / (n - k)`` (no ``G/(G-1)``)."""
    codes = pd.factorize(p.groups)[0] if p.groups is not None else np.arange(p.n)
    g = int(codes.max()) + 1  # the cluster sums column by column: no n x k temporary
    S = np.column_stack([np.bincount(codes, weights=p.X[:, j] * p.e, minlength=g) for j in range(p.X.shape[1])])
    return _symmetric(p.A @ (S.T @ S) @ p.A * p.dof_scale)


def _driscoll_kraay(p: _Parts) -> np.ndarray:
    """Driscoll-Kraay: Bartlett-weighted autocovariances of the per-period score sums.

    linearmodels' ``cov_type="kernel"``: bandwidth ``floor(4 (T/100)^(2/9))`` unless
    given (it must be below the number of periods ``T``), scaled by ``n / (n - k)``.
    """
    if p.time is None:
        raise ValueError("cov_type 'driscoll-kraay' needs time= (the period of each observation)")
    sums = pd.DataFrame(p.X * p.e[:, None]).groupby(np.asarray(p.time)).sum().sort_index().to_numpy()
    T = sums.shape[0]
    bw = float(np.floor(4 * (T / 100) ** (2 / 9))) if p.bandwidth is None else float(p.bandwidth)
    if bw >= T:
        raise ValueError(f"the Driscoll-Kraay bandwidth {bw:g} must be below the number of periods, {T}")
    m = int(np.floor(bw))
    w = 1 - np.arange(m + 1) / (m + 1)
    S = sums.T @ sums
    for j in range(1, m + 1):
        op = sums[j:].T @ sums[:-j]
        S += w[j] * (op + op.T)
    return _symmetric(p.A @ S @ p.A * p.dof_scale)


def _spatial_hac(p: _Parts) -> np.ndarray:
    """Spatial HAC ``(X'X)^-1 X' diag(e) K diag(e) X (X'X)^-1`` (spreg ``OLS(robust="hac")``).

    ``kernel``: a sparse ``n x n`` kernel matrix over the observations; its diagonal is
    set to 1.  No small-sample factor, and not symmetrised (an adaptive kernel is not
    symmetric; spreg reports the matrix as computed).
    """
    if p.kernel is None:
        raise ValueError("cov_type 'spatial-hac' needs kernel= (an n x n sparse kernel matrix)")
    K = sparse.lil_matrix(p.kernel)
    if K.shape != (p.n, p.n):
        raise ValueError(f"the kernel matrix is {K.shape}, the sample has {p.n} observations")
    K.setdiag(1.0)
    K = K.tocsr()
    Z = p.X * p.e[:, None]
    return p.A @ (Z.T @ (K @ Z)) @ p.A


#: ``cov_type`` -> covariance estimator (one table for every least-squares path).
COVARIANCES: dict[str, Callable[[_Parts], np.ndarray]] = {
    "unadjusted": _unadjusted,
    "robust": _robust,
    "clustered": _clustered,
    "driscoll-kraay": _driscoll_kraay,
    "spatial-hac": _spatial_hac,
}


def covariance(
    X: np.ndarray,
    e: np.ndarray,
    *,
    cov_type: str,
    groups: np.ndarray | None = None,
    time: np.ndarray | None = None,
    kernel: Any = None,
    bandwidth: float | None = None,
) -> np.ndarray:
    """Covariance of least-squares estimates from the (weighted) design and residuals.

    Parameters
    ----------
    X : numpy.ndarray
        The regressors as estimated (rows multiplied by the square roots of the
        observation weights for weighted fits).
    e : numpy.ndarray
        The residuals of that fit (weighted likewise).
    cov_type : str
        A key of :data:`COVARIANCES`.
    groups : array, optional
        Cluster of each observation (``clustered``; default: each observation its own).
    time : array, optional
        Period of each observation (``driscoll-kraay``).
    kernel : scipy.sparse matrix, optional
        Kernel weights over the observations (``spatial-hac``).
    bandwidth : float, optional
        Driscoll-Kraay bandwidth (default linearmodels' rule of thumb).

    Returns
    -------
    numpy.ndarray
        ``k x k`` covariance (symmetrised, except ``spatial-hac`` as spreg computes it).
    """
    if cov_type not in COVARIANCES:
        raise ValueError(f"the fast path has no cov_type {cov_type!r}; choose one of {sorted(COVARIANCES)}")
    parts = _Parts(X=X, e=e, A=xtx_inverse(X), groups=groups, time=time, kernel=kernel, bandwidth=bandwidth)
    return COVARIANCES[cov_type](parts)


def least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    obs_weights: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    cov_type: str | None = "clustered",
    time: np.ndarray | None = None,
    kernel: Any = None,
    bandwidth: float | None = None,
) -> LeastSquaresFit:
    """(Weighted) least squares with linearmodels' covariance, R² and log-likelihood.

    ``obs_weights`` are normalised to mean 1 and the rows multiplied by their square root
    (as linearmodels does); the covariance is :func:`covariance` of the weighted design
    and residuals (``None``: no covariance).  The log-likelihood adds
    ``0.5 sum log w`` for weighted fits.  ``resids`` of the result are ``y - X b``
    (unweighted).
    """
    n, k = X.shape
    w = normalised_weights(obs_weights)
    if w is None:
        Xw, yw = X, y
    else:
        sw = np.sqrt(w)
        Xw, yw = X * sw[:, None], y * sw
    b, _, rank, _ = np.linalg.lstsq(Xw, yw, rcond=None)
    if rank < k:
        raise np.linalg.LinAlgError(f"the regressors are collinear (rank {rank} of {k})")
    e = yw - Xw @ b
    ssr = float(e @ e)
    has_const = bool(np.any(np.all(X == 1.0, axis=0)))
    if has_const:
        ww = np.ones(n) if w is None else w
        ybar = float((ww * y).sum() / ww.sum())
        tss = float((ww * (y - ybar) ** 2).sum())
    else:
        tss = float(yw @ yw)
    loglik = -n / 2 * (math.log(2 * math.pi) + math.log(ssr / n) + 1) if ssr > 0 else math.inf
    if w is not None:
        loglik += 0.5 * float(np.log(w).sum())
    cov = None
    if cov_type is not None:
        cov = covariance(Xw, e, cov_type=cov_type, groups=groups, time=time, kernel=kernel, bandwidth=bandwidth)
    return LeastSquaresFit(params=b, cov=cov, r2=1 - ssr / tss if tss > 0 else float("nan"), loglik=loglik, nobs=n,
                           df_resid=n - k, resids=y - X @ b)
