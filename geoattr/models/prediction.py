"""Out-of-sample prediction in spatial models: the trend and the BLUP.

For ``y = rho W y + X b + e`` (SAR, SDM with ``W X`` in ``X``) the *trend* is the
reduced-form mean ``(I - rho W)^{-1} X b``; for the spatial error model
``y = X b + u, u = lambda W u + e`` it is ``X b``.  Either way
``y ~ N(trend, Sigma)`` with ``Sigma = sigma2 [(I - a W)'(I - a W)]^{-1}`` (``a`` = rho
or lambda), so the best linear unbiased predictor of held-out units ``o`` given the
observed units ``s`` is (Goulard, Laurent and Thomas-Agnan 2017, "About predictions in
spatial autoregressive models: optimal and almost optimal strategies", *Spatial
Economic Analysis* 12(2-3), predictor BP)::

    yhat_o = trend_o + Sigma_os Sigma_ss^{-1} (y_s - trend_s)
           = trend_o - Q_oo^{-1} Q_os (y_s - trend_s),   Q = (I - a W)'(I - a W)

The second (precision-matrix) form is what is computed: sparse products and one sparse
LU of ``Q_oo``, never a dense ``N x N`` matrix; sigma2 cancels.  When whole years are
held out (W links units within a year only, so Q is block-diagonal by year) the BLUP of
a held-out year is its trend.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from geoattr.exceptions import InputError

__all__ = ["PREDICTORS", "trend", "blup"]

#: Predictors of :meth:`geoattr.models.spatial.SpatialResults.predict`.
PREDICTORS = ("blup", "trend")


def _filter(W: sparse.spmatrix, a: float) -> sparse.csc_matrix:
    return (sparse.identity(W.shape[0], format="csc") - a * sparse.csc_matrix(W)).tocsc()


def trend(mean: np.ndarray, W: sparse.spmatrix, rho: float = 0.0) -> np.ndarray:
    """The reduced-form mean ``(I - rho W)^{-1} mean`` (``mean`` itself when rho is 0).

    Parameters
    ----------
    mean : ndarray, shape (n,)
        ``X b``.
    W : scipy.sparse matrix, shape (n, n)
    rho : float, default 0
        Spatial lag parameter (0 for the error model).

    Returns
    -------
    ndarray
    """
    mean = np.asarray(mean, dtype=float)
    if not rho:
        return mean
    return splu(_filter(W, rho)).solve(mean)


def blup(y: np.ndarray, trend_values: np.ndarray, W: sparse.spmatrix, a: float) -> np.ndarray:
    """The BLUP of the missing entries of ``y`` (NaN) given the others.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Observed values; NaN marks the units to predict.
    trend_values : ndarray, shape (n,)
        The trend (:func:`trend`) of every unit.
    W : scipy.sparse matrix, shape (n, n)
        Weights over the same units.
    a : float
        rho (lag models) or lambda (error model).

    Returns
    -------
    ndarray, shape (n,)
        ``y`` with the missing entries replaced by ``trend_o - Q_oo^{-1} Q_os (y_s - trend_s)``.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(trend_values, dtype=float)
    if y.shape != t.shape or W.shape != (len(y), len(y)):
        raise InputError(f"y ({y.shape}), the trend ({t.shape}) and W ({W.shape}) must cover the same units")
    o = np.isnan(y)
    out = y.copy()
    if not o.any():
        return out
    s = ~o
    A = _filter(W, a)
    Q = (A.T @ A).tocsr()
    out[o] = t[o]
    if s.any() and a:
        Qo = Q[o]
        rhs = Qo[:, s] @ (y[s] - t[s])
        if np.any(rhs):
            out[o] -= splu(Qo[:, o].tocsc()).solve(rhs)
    return out
