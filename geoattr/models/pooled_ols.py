"""linearmodels' PooledOLS numbers without its panel containers and unused statistics.

:class:`linearmodels.panel.PooledOLS` builds panel containers for the dependent
variable, the regressors and the weights, and its ``fit`` computes statistics geoattr
never reads (within and between R², correlation R², F statistics: each demeans the data
again); that was about 70 % of the time of each of the demo's pooled fits.
:func:`pooled_ols` does the operations of ``PooledOLS(y, X, weights=w,
check_rank=False).fit(cov_type=...)`` that produce the numbers geoattr keeps
(coefficients, covariance, R², log-likelihood, degrees of freedom), in the same order
on the same arrays, with linearmodels' own covariance estimators, constant test,
weight scaling and R² rule: the same numbers bit for bit (pinned in
``tests/test_pooled_ols.py``).

It covers PooledOLS's common case: no missing values, strictly positive finite weights,
a unique (entity, time) index with numeric times, no covariance options.
:func:`pooled_ols_applies` says whether a problem is one; the others go to PooledOLS
itself (its missing-value handling, its errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from linearmodels.panel.covariance import (
    ClusteredCovariance,
    DriscollKraay,
    HeteroskedasticCovariance,
    HomoskedasticCovariance,
)
from linearmodels.shared.linalg import has_constant
from linearmodels.shared.rsquared import r_squared
from linearmodels.shared.weights import normalize_weights
from scipy.linalg import lstsq

__all__ = ["PooledFit", "pooled_ols", "pooled_ols_applies", "POOLED_COV_TYPES"]

#: geoattr's ``cov_type`` -> linearmodels' covariance estimator (PooledOLS's ``unadjusted``,
#: ``robust``, ``clustered`` with ``cluster_entity=True`` and ``kernel``).
POOLED_COV_TYPES = {
    "unadjusted": HomoskedasticCovariance,
    "robust": HeteroskedasticCovariance,
    "clustered": ClusteredCovariance,
    "driscoll-kraay": DriscollKraay,
}


@dataclass(frozen=True)
class PooledFit:
    """The numbers of a PooledOLS fit that geoattr's results keep."""

    params: np.ndarray
    cov: np.ndarray
    nobs: int
    df_resid: int
    loglik: float
    rsquared: float


def pooled_ols_applies(y: pd.Series, X: pd.DataFrame, weights: pd.Series | None) -> bool:
    """Whether :func:`pooled_ols` gives PooledOLS's result for these inputs.

    True for a unique two-level (entity, time) index with numeric times, no missing
    values in ``y``, ``X`` or the weights, and strictly positive finite weights;
    PooledOLS drops rows with missing values and raises its own errors otherwise.
    """
    idx = y.index
    if not isinstance(idx, pd.MultiIndex) or idx.nlevels != 2 or not X.index.equals(idx):
        return False
    if not pd.api.types.is_numeric_dtype(idx.levels[1].dtype) or not idx.is_unique:
        return False
    if not all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in X.dtypes):
        return False
    values = [y.to_numpy(dtype=float), X.to_numpy(dtype=float)]
    if weights is not None:
        w = weights.reindex(idx).to_numpy(dtype=float)
        if not (np.all(np.isfinite(w)) and np.all(w > 0)):
            return False
        values.append(w)
    return all(not np.isnan(v).any() for v in values)


def pooled_ols(y: pd.Series, X: pd.DataFrame, weights: pd.Series | None, *, cov_type: str) -> PooledFit:
    """PooledOLS's coefficients, covariance, R², log-likelihood and degrees of freedom.

    Parameters
    ----------
    y : pandas.Series
        Dependent variable on a unique (entity, time) MultiIndex.
    X : pandas.DataFrame
        Regressors on the same index.
    weights : pandas.Series or None
        Observation weights on that index (None: unweighted).
    cov_type : {"unadjusted", "robust", "clustered", "driscoll-kraay"}
        ``clustered``: by entity (``cluster_entity=True``); ``driscoll-kraay``:
        linearmodels' ``kernel`` with its default kernel and bandwidth.

    Returns
    -------
    PooledFit

    Notes
    -----
    Valid when :func:`pooled_ols_applies` is true.  The covariance is debiased
    (``n / (n - k)``), as PooledOLS's default.
    """
    idx = y.index
    # PooledOLS's entity and time ids: the codes of its index after geoattr codes the
    # entities (models.ols), in the same integer type, so its cluster sort is the same
    codes = pd.factorize(idx.get_level_values(0), use_na_sentinel=False)[0]
    coded = pd.MultiIndex.from_arrays([codes, idx.get_level_values(1)])
    entity_ids = np.asarray(coded.codes[0])[:, None]
    time_ids = np.asarray(coded.codes[1])[:, None]
    yv = y.to_numpy(dtype=np.float64)[:, None]
    x = X.to_numpy(dtype=np.float64)
    raw = np.ones((len(yv), 1)) if weights is None else weights.reindex(idx).to_numpy(dtype=np.float64)[:, None]
    w = normalize_weights(raw)
    root_w = np.sqrt(w)
    wx = root_w * x
    wy = root_w * yv
    params = lstsq(wx, wy, cond=float(max(wx.shape) * np.finfo(np.float64).eps), lapack_driver="gelsy")[0]
    nobs, k = x.shape
    estimator = POOLED_COV_TYPES[cov_type]
    extra = {"clusters": entity_ids} if cov_type == "clustered" else {}
    cov = estimator(wy, wx, params, entity_ids, time_ids, debiased=True, **extra).cov
    weps = wy - wx @ params
    residual_ss = float(np.squeeze(weps.T @ weps))
    e = yv
    if has_constant(x)[0]:
        e = e - (w * yv).sum() / w.sum()
    total_ss = float(np.squeeze(w.T @ (e**2)))
    y_ss = float(np.squeeze(w.T @ (yv**2)))
    sigma2 = residual_ss / nobs
    loglik = float("nan")
    if sigma2 > 0.0:
        loglik = -0.5 * nobs * (np.log(2 * np.pi) + np.log(sigma2) + 1) + 0.5 * float(np.sum(np.log(w)))
    return PooledFit(params=params.squeeze(axis=1), cov=cov, nobs=nobs, df_resid=nobs - k, loglik=float(loglik),
                     rsquared=r_squared(residual_ss, total_ss, y_ss, nobs))
