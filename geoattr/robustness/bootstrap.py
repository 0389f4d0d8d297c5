"""Cluster bootstrap of least-squares coefficients: pairs and wild, in cluster-sum form.

The design is reduced once to per-cluster ``X_g'W X_g`` and ``X_g'W y_g``; the
full-sample estimate comes from the least-squares kernel
(:func:`geoattr.models.least_squares.least_squares`), and the cluster scores
``X_g'W e_g = X_g'W y_g - X_g'W X_g b`` and ``(X'WX)^-1`` from those sums.  A pairs
replication solves the normal equations of its cluster multiplicities; a wild
replication reweights the cluster scores.  Each replication costs ``O(G k^2)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError
from geoattr.models.least_squares import least_squares, normalised_weights
from geoattr.robustness.executor import STREAMS, replication_rng

__all__ = [
    "BOOTSTRAP_METHODS",
    "WILD_WEIGHTS",
    "ClusterProblem",
    "cluster_problem",
    "bootstrap_coefficients",
    "cluster_bootstrap",
]

#: Bootstrap schemes (both clustered by estimation unit).
BOOTSTRAP_METHODS: tuple[str, ...] = ("pairs", "wild")
#: Auxiliary distributions of the wild bootstrap.
WILD_WEIGHTS: tuple[str, ...] = ("rademacher", "webb")

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_COND_MAX = 1e12


@dataclass(frozen=True)
class ClusterProblem:
    """A least-squares design in cluster-sum form, built once for every replication.

    Attributes
    ----------
    X, y : ndarray
        Unweighted regressors (``n x k``) and dependent variable.
    obs_weights : ndarray or None
        Observation weights normalised to mean 1.
    groups : ndarray of int
        Cluster codes ``0..G-1``.
    XtX_g, Xty_g : ndarray
        Per-cluster ``X_g'W X_g`` (``G x k x k``) and ``X_g'W y_g`` (``G x k``).
    b : ndarray
        Full-sample estimate.
    A : ndarray
        ``(X'WX)^-1``.
    S : ndarray
        Cluster scores ``X_g'W e_g`` (``G x k``).
    wild_scale : float
        ``sqrt(G/(G-1) (n-1)/(n-k))``: the wild bootstrap's variance is then CRV1.
    """

    X: np.ndarray
    y: np.ndarray
    obs_weights: np.ndarray | None
    groups: np.ndarray
    XtX_g: np.ndarray
    Xty_g: np.ndarray
    b: np.ndarray
    A: np.ndarray
    S: np.ndarray
    wild_scale: float

    @property
    def G(self) -> int:
        """Number of clusters."""
        return self.XtX_g.shape[0]

    @property
    def k(self) -> int:
        """Number of regressors."""
        return self.X.shape[1]


def cluster_problem(X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                    obs_weights: np.ndarray | None = None) -> ClusterProblem:
    """Reduce a least-squares design to its cluster sums.

    Parameters
    ----------
    X : ndarray
        Regressors (``n x k``).
    y : ndarray
        Dependent variable (``n``).
    groups : ndarray
        Cluster of each row.
    obs_weights : ndarray, optional
        Observation weights (normalised to mean 1, as the kernel does).

    Returns
    -------
    ClusterProblem
    """
    n, k = X.shape
    codes = pd.factorize(np.asarray(groups))[0]
    G = int(codes.max()) + 1
    if G < 2:
        raise InputError("the bootstrap needs at least two clusters (estimation units)")
    try:
        b = least_squares(X, y, obs_weights=obs_weights, cov_type=None).params
    except np.linalg.LinAlgError as err:
        raise InputError(str(err)) from None
    w = normalised_weights(obs_weights)
    Xw, yw = (X, y) if w is None else (X * np.sqrt(w)[:, None], y * np.sqrt(w))
    XtX_g = np.zeros((G, k, k))
    np.add.at(XtX_g, codes, Xw[:, :, None] * Xw[:, None, :])
    Xty_g = np.zeros((G, k))
    np.add.at(Xty_g, codes, Xw * yw[:, None])
    S = Xty_g - XtX_g @ b
    A = np.linalg.inv(XtX_g.sum(axis=0))
    # residuals scaled so that the wild bootstrap's variance is the CRV1 covariance
    # (G/(G-1) (n-1)/(n-k): Stata's, and linearmodels' clustered with group_debias)
    scale = math.sqrt(G / (G - 1) * (n - 1) / (n - k))
    return ClusterProblem(X=X, y=y, obs_weights=w, groups=codes, XtX_g=XtX_g, Xty_g=Xty_g, b=b, A=A, S=S,
                          wild_scale=scale)


def _solve(M: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``M b = rhs``; NaN when ``M`` is (nearly) singular (a collinear resample)."""
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(M)
    if not np.isfinite(cond) or cond > _COND_MAX:
        return np.full(rhs.shape, np.nan)
    return np.linalg.solve(M, rhs)


def _draw_weights(p: ClusterProblem, method: str, wild_weights: str, seed: int, reps: Sequence[int],
                  n_years: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Cluster multiplicities (pairs) or wild weights per replication, and year counts."""
    R, G = len(reps), p.G
    W = np.empty((R, G))
    yc = np.empty((R, n_years)) if n_years else None
    stream = STREAMS[method]
    for i, r in enumerate(reps):
        rng = replication_rng(seed, stream, r)
        if method == "pairs":
            W[i] = np.bincount(rng.integers(0, G, G), minlength=G)
        elif wild_weights == "rademacher":
            W[i] = 2.0 * rng.integers(0, 2, G) - 1.0
        else:
            W[i] = _WEBB[rng.integers(0, 6, G)]
        if yc is not None:
            yc[i] = np.bincount(rng.integers(0, n_years, n_years), minlength=n_years)
    return W, yc


def bootstrap_coefficients(p: ClusterProblem, method: str, wild_weights: str, seed: int, reps: Sequence[int],
                           n_years: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Coefficients of replications ``reps`` (rows) and their year counts (``n_years > 0``).

    Each replication is computed on its own (matrix-vector products of its draw), so its
    result does not depend on which other replications share the call: batched products
    could round differently with the batch size.

    Parameters
    ----------
    p : ClusterProblem
    method : {"pairs", "wild"}
    wild_weights : {"rademacher", "webb"}
    seed : int
    reps : sequence of int
        Replication numbers.
    n_years : int, default 0
        Also draw year counts (resampled years) for each replication.

    Returns
    -------
    B : ndarray
        ``len(reps) x k`` coefficients (NaN for a collinear resample).
    year_counts : ndarray or None
        ``len(reps) x n_years``.
    """
    W, yc = _draw_weights(p, method, wild_weights, seed, reps, n_years)
    B = np.empty((len(reps), p.k))
    for i in range(len(reps)):
        if method == "pairs":
            B[i] = _solve(np.tensordot(W[i], p.XtX_g, axes=1), W[i] @ p.Xty_g)
        else:
            B[i] = p.b + p.wild_scale * ((W[i] @ p.S) @ p.A)
    return B, yc


def cluster_bootstrap(
    X: pd.DataFrame | np.ndarray,
    y: pd.Series | np.ndarray,
    clusters: pd.Series | np.ndarray,
    *,
    method: Literal["pairs", "wild"] = "pairs",
    reps: int = 999,
    obs_weights: pd.Series | np.ndarray | None = None,
    wild_weights: Literal["rademacher", "webb"] = "rademacher",
    seed: int = 0,
) -> pd.DataFrame:
    """Cluster bootstrap of least-squares coefficients (the engine of :func:`geoattr.robustness.robustness`).

    Parameters
    ----------
    X : pandas.DataFrame or ndarray
        Regressors (``n x k``, with the constant if wanted); column names label the output.
    y : pandas.Series or ndarray
        Dependent variable (``n``).
    clusters : pandas.Series or ndarray
        Cluster of each row (e.g. the unit).
    method : {"pairs", "wild"}, default "pairs"
        ``pairs``: draw ``G`` clusters with replacement and refit on the stacked rows;
        ``wild``: ``y* = X b + v_g e`` with one draw ``v_g`` per cluster (unrestricted
        wild cluster bootstrap), residuals scaled by ``sqrt(G/(G-1) (n-1)/(n-k))`` so that
        the bootstrap variance equals the CRV1 cluster-robust covariance.
    reps : int, default 999
        Bootstrap replications.
    obs_weights : pandas.Series or ndarray, optional
        Observation weights (weighted least squares; e.g. population).
    wild_weights : {"rademacher", "webb"}, default "rademacher"
        Rademacher (+-1) or Webb's six-point distribution (better with fewer than ~12 clusters).
    seed : int, default 0
        Replication ``r`` draws from ``SeedSequence(seed, spawn_key=(stream, r))``.

    Returns
    -------
    pandas.DataFrame
        One row per replication (index ``replication``), one column per coefficient.
        Replications whose resample is (nearly) collinear are NaN.

    Notes
    -----
    The design is reduced once to per-cluster ``X_g'X_g`` and ``X_g'y_g`` (pairs) or to
    the cluster scores ``X_g'e_g`` (wild); a replication costs ``O(G k^2)``.
    """
    if method not in BOOTSTRAP_METHODS:
        raise InputError(f"unknown bootstrap method {method!r}; choose from {list(BOOTSTRAP_METHODS)}")
    if wild_weights not in WILD_WEIGHTS:
        raise InputError(f"unknown wild_weights {wild_weights!r}; choose from {list(WILD_WEIGHTS)}")
    if int(reps) < 1:
        raise InputError(f"reps must be at least 1, got {reps}")
    names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{i}" for i in range(np.shape(X)[1])]
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    if Xa.ndim != 2 or ya.shape != (Xa.shape[0],) or len(np.asarray(clusters)) != Xa.shape[0]:
        raise InputError(f"X must be n x k with y and clusters of length n; got X {Xa.shape}, y {ya.shape}, "
                         f"clusters {np.shape(clusters)}")
    w = None if obs_weights is None else np.asarray(obs_weights, dtype=float)
    p = cluster_problem(Xa, ya, np.asarray(clusters), w)
    B, _ = bootstrap_coefficients(p, method, wild_weights, int(seed), range(int(reps)))
    return pd.DataFrame(B, columns=names, index=pd.RangeIndex(int(reps), name="replication"))
