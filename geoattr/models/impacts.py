"""Impacts (direct, indirect, total) of models with a spatial lag of y.

For ``y = rho W y + X beta + W X theta + e`` the effect of regressor *k* is
``S_k = (I - rho W)^{-1} (beta_k I + theta_k W)``; the average direct impact is
``tr(S_k) / N``, the average total impact ``1' S_k 1 / N`` and the indirect impact
their difference (LeSage and Pace 2009).  Both are computed from power series

    tr(S_k)   = sum_j rho^j (beta_k t_j + theta_k t_{j+1}),     t_j = tr(W^j)
    1' S_k 1  = sum_j rho^j (beta_k s_j + theta_k s_{j+1}),     s_j = 1' W^j 1

so that nothing N x N is ever inverted and W need not be row-standardised
(``s_j = N`` only for a row-stochastic W).  ``s_j`` is exact (repeated sparse
matrix-vector products); ``t_j`` is exact from the eigenvalues of W when N is small
(dense, N <= ``exact_max_n``) and otherwise estimated with Hutchinson's estimator,
whose Monte Carlo standard error is reported.  Inference simulates the parameters
from their estimated asymptotic normal distribution (spatialreg's ``impacts(R=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from geoattr.exceptions import InputError

__all__ = ["Traces", "traces", "impacts"]


@dataclass(frozen=True)
class Traces:
    """Power-series moments of W: ``t[j] = tr(W^j)``, ``s[j] = 1' W^j 1`` for j = 0..order.

    Attributes
    ----------
    t, s : numpy.ndarray
    n : int
    method : str
        ``"exact"`` or ``"hutchinson"``.
    t_se : numpy.ndarray or None
        Monte Carlo standard errors of ``t`` (Hutchinson only).
    """

    t: np.ndarray
    s: np.ndarray
    n: int
    method: str
    t_se: np.ndarray | None = None


def traces(
    weights: sparse.spmatrix, *, order: int = 150, exact_max_n: int = 2500, probes: int = 50, seed: int = 0
) -> Traces:
    """Compute the power-series moments of the weights matrix ``W``.

    Parameters
    ----------
    weights : scipy.sparse matrix (N x N)
        The spatial weights ``W``.
    order : int, default 150
        Highest power; the series of ``rho^j`` converge for ``|rho| * radius(W) < 1``.
    exact_max_n : int, default 2500
        Up to this N the traces are exact, from the eigenvalues of the dense W (the
        one place a dense N x N matrix is formed, and only for small N).
    probes : int, default 50
        Rademacher probes of Hutchinson's estimator for larger N.
    seed : int, default 0

    Returns
    -------
    Traces
    """
    W = sparse.csr_matrix(weights)
    n = W.shape[0]
    if W.shape != (n, n):
        raise InputError(f"W must be square, got shape {W.shape}")
    s = np.empty(order + 2)
    v = np.ones(n)
    for j in range(order + 2):
        s[j] = v.sum()
        v = W @ v
    if n <= exact_max_n:
        lam = np.linalg.eigvals(W.toarray())  # dense only for small N (exact traces)
        powers = np.ones_like(lam)
        t = np.empty(order + 2)
        for j in range(order + 2):
            t[j] = float(np.real(powers.sum()))
            powers = powers * lam
        return Traces(t=t, s=s, n=n, method="exact")
    rng = np.random.default_rng(seed)
    Z = rng.choice([-1.0, 1.0], size=(n, probes))
    V = Z.copy()
    vals = np.empty((order + 2, probes))
    for j in range(order + 2):
        vals[j] = np.einsum("ij,ij->j", Z, V)
        V = W @ V
    t = vals.mean(axis=1)
    t[0] = n
    se = vals.std(axis=1, ddof=1) / np.sqrt(probes)
    se[0] = 0.0
    t[1], se[1] = W.diagonal().sum(), 0.0
    return Traces(t=t, s=s, n=n, method="hutchinson", t_se=se)


def _series(rho: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_j rho^j m_j and sum_j rho^j m_{j+1} for a vector of rho values."""
    order = len(m) - 1
    P = np.power.outer(np.asarray(rho, dtype=float), np.arange(order))
    return P @ m[:order], P @ m[1 : order + 1]


def _point(rho: np.ndarray, beta: np.ndarray, theta: np.ndarray, tr: Traces) -> tuple[np.ndarray, np.ndarray]:
    """Direct and total impacts for draws: rho (m,), beta and theta (m, k) -> (m, k) each."""
    a0, a1 = _series(rho, tr.t)
    b0, b1 = _series(rho, tr.s)
    direct = (a0[:, None] * beta + a1[:, None] * theta) / tr.n
    total = (b0[:, None] * beta + b1[:, None] * theta) / tr.n
    return direct, total


def impacts(
    params: pd.Series,
    cov: pd.DataFrame,
    weights: sparse.spmatrix,
    *,
    variables: list[str] | None = None,
    rho: str = "rho",
    lag_prefix: str = "W_",
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    trace: Traces | None = None,
) -> pd.DataFrame:
    """Direct, indirect and total impacts with simulation inference.

    Parameters
    ----------
    params, cov : Series, DataFrame
        Estimates (with ``rho`` and, for SDM, ``W_<x>`` terms) and their covariance.
    weights : scipy.sparse matrix
        The weights of the spatial lag, exactly as used in estimation.
    variables : list of str, optional
        Regressors to report (default: every non-constant, non-spatial term).
    rho : str, default "rho"
    lag_prefix : str, default ``"W_"``
        Prefix of the spatially lagged regressors (theta).
    draws : int, default 1000
        Parameter draws from N(params, cov) for the standard errors and intervals
        (0: point estimates only).
    level : float, default 0.95
    seed : int, default 0
    trace : Traces, optional
        Precomputed :func:`traces` of ``weights``.

    Returns
    -------
    pandas.DataFrame
        Index (variable, effect) with effect in direct / indirect / total; columns
        ``estimate``, ``std_error``, ``lower``, ``upper``, ``z``, ``p``.
    """
    if rho not in params.index:
        raise InputError(f"params have no {rho!r}: impacts need a model with a spatial lag of y")
    if variables is None:
        variables = [v for v in params.index if v not in (rho, "const", "lambda") and not v.startswith(lag_prefix)
                     and not v.startswith("year_")]
    missing = [v for v in variables if v not in params.index]
    if missing:
        raise InputError(f"variable(s) {missing} are not among the estimates {list(params.index)}")
    tr = trace if trace is not None else traces(weights)
    names = [rho] + variables + [lag_prefix + v for v in variables if lag_prefix + v in params.index]
    th_idx = [names.index(lag_prefix + v) if lag_prefix + v in names else None for v in variables]

    def split(p: np.ndarray):
        beta = p[:, 1 : 1 + len(variables)]
        theta = np.column_stack([p[:, i] if i is not None else np.zeros(len(p)) for i in th_idx])
        return p[:, 0], beta, theta

    p0 = params[names].to_numpy()[None, :]
    r0, b0, t0 = split(p0)
    d0, tot0 = _point(r0, b0, t0, tr)
    point = {"direct": d0[0], "indirect": tot0[0] - d0[0], "total": tot0[0]}
    out = []

    if draws:
        rng = np.random.default_rng(seed)
        C = cov.loc[names, names].to_numpy()
        sim = rng.multivariate_normal(p0[0], C, size=draws, method="cholesky" if np.all(np.linalg.eigvalsh(C) > 0) else "svd")
        rs, bs, ts = split(sim)
        d, tt = _point(rs, bs, ts, tr)
        simd = {"direct": d, "indirect": tt - d, "total": tt}
    q = (1 - level) / 2
    for k, v in enumerate(variables):
        for eff in ("direct", "indirect", "total"):
            row = {"variable": v, "effect": eff, "estimate": point[eff][k]}
            if draws:
                sd = simd[eff][:, k].std(ddof=1)
                row.update(std_error=sd, lower=np.quantile(simd[eff][:, k], q),
                           upper=np.quantile(simd[eff][:, k], 1 - q))
                row["z"] = row["estimate"] / sd if sd > 0 else np.nan
                row["p"] = 2 * stats.norm.sf(abs(row["z"])) if sd > 0 else np.nan
            out.append(row)
    frame = pd.DataFrame(out).set_index(["variable", "effect"])
    frame.attrs["trace_method"] = tr.method
    return frame
