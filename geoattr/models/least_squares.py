"""The least-squares kernel: (weighted) least squares with linearmodels' conventions.

One implementation serves every fast path (year-by-year estimates, the bootstrap, the
robustness variants, drivers): coefficients, covariance (``unadjusted``, ``robust``,
``clustered``), R² and the Gaussian log-likelihood computed as
:class:`linearmodels.panel.PooledOLS` computes them (pinned in ``tests/test_least_squares.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LeastSquaresFit", "least_squares", "normalised_weights"]


@dataclass(frozen=True)
class LeastSquaresFit:
    """Fast least-squares fit (linearmodels' PooledOLS conventions)."""

    params: np.ndarray
    cov: np.ndarray | None
    r2: float
    loglik: float
    nobs: int
    df_resid: int


def normalised_weights(w: np.ndarray | None) -> np.ndarray | None:
    """Observation weights scaled to mean 1 (as linearmodels does); ``None`` stays ``None``."""
    return None if w is None else np.asarray(w, dtype=float) / float(np.mean(w))


def least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    obs_weights: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    cov_type: str | None = "clustered",
) -> LeastSquaresFit:
    """(Weighted) least squares with linearmodels' covariance, R² and log-likelihood.

    ``obs_weights`` are normalised to mean 1 and the rows multiplied by their square root
    (as linearmodels does); ``clustered``: ``(X'X)^-1 (sum_g s_g s_g') (X'X)^-1 n/(n-k)``
    with ``s_g`` the cluster sums of the scores; ``robust``: White's sandwich scaled by
    ``n/(n-k)``; ``unadjusted``: ``s2 (X'X)^-1`` with ``s2 = SSR/(n-k)``; ``None``: no
    covariance.  The log-likelihood adds ``0.5 sum log w`` for weighted fits.
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
    loglik = -n / 2 * (math.log(2 * math.pi) + math.log(ssr / n) + 1)
    if w is not None:
        loglik += 0.5 * float(np.log(w).sum())
    cov = None
    if cov_type is not None:
        A = np.linalg.inv(Xw.T @ Xw)
        if cov_type == "clustered":
            codes = pd.factorize(groups)[0] if groups is not None else np.arange(n)
            S = np.zeros((codes.max() + 1, k))
            np.add.at(S, codes, Xw * e[:, None])
            cov = A @ (S.T @ S) @ A * n / (n - k)
        elif cov_type == "robust":
            Z = Xw * e[:, None]
            cov = A @ (Z.T @ Z) @ A * n / (n - k)
        elif cov_type == "unadjusted":
            cov = A * ssr / (n - k)
        else:
            raise ValueError(f"the fast path has no cov_type {cov_type!r}")
        cov = (cov + cov.T) / 2
    return LeastSquaresFit(params=b, cov=cov, r2=1 - ssr / tss if tss > 0 else float("nan"), loglik=loglik, nobs=n,
                df_resid=n - k)
