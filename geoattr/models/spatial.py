"""Spatial regression models by maximum likelihood: SAR, SEM, SDM, SDEM and SAC.

The lag and error models use geoattr's sparse ML engine (:mod:`geoattr.models.ml`:
sparse-LU log-determinants and analytic standard errors, pinned to spreg); SAC
(spatial lag and spatial error, possibly with *different* weights for the two terms,
which spreg does not offer) maximises the likelihood over (rho, lambda) with the
same log-determinants.  Pooled panels apply W within each year
(:func:`~geoattr.weights.lag.panel_weights`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Mapping
from functools import cached_property, partial
from typing import Any

import libpysal
import numpy as np
import pandas as pd
import spreg
from scipy import optimize, sparse
from scipy.sparse.linalg import splu
from spreg.error_sp_het import BaseGM_Error_Het
from spreg.twosls import BaseTSLS
from spreg.utils import set_endog

from geoattr.exceptions import ConvergenceWarning, InputError
from geoattr.models import ml
from geoattr.models.impacts import Traces, impacts, traces
from geoattr.models.ml_jacobian import logdet
from geoattr.models.prediction import PREDICTORS, blup, trend
from geoattr._format import format_ids
from geoattr.models.results import RegressionResults, squared_correlation
from geoattr.weights.sparse import as_sparse
from geoattr.weights.lag import data_weights
from geoattr.typing import WeightsLike

__all__ = ["SpatialResults", "fit_spatial", "fit_gmm", "lagged_regressors", "year_major",
           "SPATIAL_MODELS"]

#: Models estimated by maximum likelihood in :func:`fit_spatial`.
SPATIAL_MODELS = ("sar", "sem", "sdm", "sdem", "sac")


class SpatialResults(RegressionResults):
    """Results of a spatial model: ``rho`` / ``lambda`` are in ``params``.

    Adds :meth:`impacts` for models with a spatial lag of y, and ``weights`` (the sparse
    W used, over the observations); ``unit_weights`` is one period's W over the units
    when the sample is a balanced panel (the impacts use it).
    """

    def __init__(self, *, weights: sparse.csr_matrix | Callable[[], sparse.csr_matrix],
                 unit_weights: sparse.csr_matrix | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._weights = weights
        self._unit_weights = unit_weights

    @cached_property
    def weights(self) -> sparse.csr_matrix:
        """The sparse W used, over the observations.

        A balanced pooled panel is fitted on one period's W (``unit_weights``); its
        ``NT x NT`` matrix (T times the graph) is built only when asked for.
        """
        return self._weights() if callable(self._weights) else self._weights

    @cached_property
    def _traces(self) -> Traces:
        """Traces of powers of the units' W, computed once for the impacts."""
        return traces(self._unit_weights if self._unit_weights is not None else self.weights)

    def impacts(self, *, draws: int = 1000, level: float = 0.95, seed: int = 0, method: str = "auto") -> pd.DataFrame:
        """Direct, indirect and total impacts with simulation inference.

        See :func:`geoattr.models.impacts.impacts` (``method`` "auto", "eigen" or
        "series"; the frame's ``attrs`` say which was used, its error bound and a note
        in ``attrs["notes"]``); for a pooled panel the impacts are those of one year's
        cross-section (W over the units), the same in every year.
        """
        if "rho" not in self._params.index:
            raise InputError(f"impacts need a spatial lag of y; model {self.model!r} has none")
        W = self._unit_weights if self._unit_weights is not None else self.weights
        return impacts(self._params, self._cov, W, draws=draws, level=level, seed=seed, trace=self._traces,
                       method=method)

    def predict(self, X: pd.DataFrame, *, weights: WeightsLike | None = None, y: pd.Series | None = None,
                predictor: str = "blup") -> pd.Series:
        """Out-of-sample prediction: the BLUP (default) or the trend.

        See :mod:`geoattr.models.prediction`: the trend is ``(I - rho W)^{-1} X b``
        (``X b`` for the error models), the BLUP adds what the observed neighbours
        say, ``-Q_oo^{-1} Q_os (y_s - trend_s)`` (Goulard, Laurent and Thomas-Agnan 2017).

        Parameters
        ----------
        X : pandas.DataFrame
            Regressors of every unit of the prediction sample (observed and held-out),
            on the (unit, year) index (or the unit index of a cross-section); the
            ``W_<x>`` terms of a Durbin model are built with ``weights`` when absent.
        weights : Graph or SparseWeights, optional
            Weights over the units of ``X`` (subset per year as in the fit; a mapping
            for a model with mixed weights).  Default: the fitted W, when ``X`` is on
            the estimation sample's index.
        y : pandas.Series, optional
            Observed values on (part of) ``X``'s index; the rows of ``X`` without one
            (absent or NaN) are predicted.  Default: none observed (BLUP = trend).
        predictor : {"blup", "trend"}, default "blup"

        Returns
        -------
        pandas.Series
            ``predicted`` on the held-out rows of ``X``.
        """
        if predictor not in PREDICTORS:
            raise InputError(f"unknown predictor {predictor!r}; choose one of {list(PREDICTORS)}")
        if self.model.endswith(("_fe", "_re")):
            raise InputError(f"predict() needs every part of the mean in params; model {self.model!r} has unit "
                             "effects that are not (geoattr.compare's rmse_holdout adds them from the training years)")
        if predictor == "blup" and {"rho", "lambda"} <= set(self._params.index):
            raise InputError("predictor='blup' is not available for models with both rho and lambda (sac); "
                             "use predictor='trend'")
        W = self._prediction_weights(X.index, weights)
        X = self._with_spatial_lags(X, W)
        b = self._params.drop([p for p in self._params.index if p in ("rho", "lambda") or p.startswith("gamma_")])
        missing = [t for t in b.index if t not in X.columns]
        if missing:
            raise InputError(f"X lacks the term(s) {missing} estimated by this model; it has {list(X.columns)}")
        yy = np.full(len(X), np.nan)
        if y is not None:
            extra = y.index.difference(X.index)
            if len(extra):
                raise InputError(f"y has {len(extra)} row(s) that X lacks ({format_ids(extra)}); X must hold every "
                                 "unit of the prediction sample, observed or not")
            yy = y.reindex(X.index).to_numpy(dtype=float)
        rho = float(self._params.get("rho", 0.0))
        t = trend(X[b.index].to_numpy(dtype=float) @ b.to_numpy(), W, rho)
        held = np.isnan(yy)
        if predictor == "trend":
            out = t
        else:
            out = blup(yy, t, W, rho or float(self._params.get("lambda", 0.0)))
        return pd.Series(out[held], index=X.index[held], name="predicted")

    def _prediction_weights(self, index: pd.Index, weights: Any) -> sparse.csr_matrix:
        """The W over the rows of ``index``."""
        if weights is None:
            if not index.equals(self._y.index):
                raise InputError("predict() on rows other than the estimation sample needs weights= (the graph "
                                 "over the units of X)")
            return self.weights
        if isinstance(weights, Mapping):
            raise InputError(f"a mapping of weights {list(weights)} applies to models with mixed weights only; "
                             "pass the graph the model was fitted with")
        mi = index if isinstance(index, pd.MultiIndex) else pd.MultiIndex.from_arrays(
            [index, np.zeros(len(index), dtype=int)], names=[index.name or "unit", "year"])
        return data_weights(weights, mi, [], warn=False)

    def _with_spatial_lags(self, X: pd.DataFrame, W: sparse.csr_matrix) -> pd.DataFrame:
        """``X`` with the ``W_<x>`` terms of the model it lacks, built with W."""
        lags = {p: p[2:] for p in self._params.index if p.startswith("W_") and p not in X.columns and p[2:] in X.columns}
        if not lags:
            return X
        return X.assign(**{p: W @ X[c].to_numpy(dtype=float) for p, c in lags.items()})


def year_major(units: Any, years: Any) -> pd.MultiIndex:
    """(unit, year) labels ordered period by period, units in the weights' order."""
    return pd.MultiIndex.from_arrays([np.tile(np.asarray(units, dtype=object), len(years)),
                                      np.repeat(np.asarray(years), len(units))])


def _year_major_order(index: pd.MultiIndex, weights: WeightsLike,
                      units_per_year: pd.Series) -> np.ndarray | slice | None:
    """Rows of a balanced pooled panel in year-major order (units in the weights' order), else None.

    Balanced here means more than one year and, in every year, each unit of the weights
    exactly once: then W over the observations is ``I_T (x) W`` in that order.  Rows
    already in that order give ``slice(None)`` (no copy of the data, no n-vector of row
    numbers held through the fit).
    """
    units = pd.Index(weights.unique_ids)
    n = len(units)
    if units_per_year.size < 2 or not (units_per_year == n).all():
        return None
    # integer keys (year rank, unit position in W) from the index's codes: no hashing of (unit,
    # year) labels, which costs gigabytes at 2 x 10^7 observations, and at most three n-vectors
    codes_u, codes_y = np.asarray(index.codes[0]), np.asarray(index.codes[1])
    if (codes_u < 0).any() or (codes_y < 0).any():
        return None  # a missing label: the general path says which
    used = np.bincount(codes_y, minlength=len(index.levels[1])) > 0  # years present (levels may be unused)
    by_value = np.asarray(index.levels[1].argsort())
    rank = np.full(len(used), -1, dtype=np.int64)
    rank[by_value[used[by_value]]] = np.arange(int(used.sum()))
    key = rank[codes_y]
    key *= n
    upos = units.get_indexer(index.levels[0])[codes_u]
    if (upos < 0).any():
        return None  # a unit outside W: the general path says which
    key += upos
    del upos
    if _is_arange(key):
        return slice(None)
    order = np.argsort(key, kind="stable")
    return order if _is_arange(key[order]) else None  # else a (unit, year) twice: the general path says


def _is_arange(v: np.ndarray, step: int = 1 << 20) -> bool:
    """Whether ``v`` is ``0, 1, ..., len(v) - 1``, compared by blocks (no n-vector of row numbers)."""
    return all(np.array_equal(v[s:s + step], np.arange(s, min(s + step, len(v)))) for s in range(0, len(v), step))


def _lagged_by_period(X: pd.DataFrame, Wu: sparse.csr_matrix, order: np.ndarray | slice) -> pd.DataFrame:
    """:func:`lagged_regressors` of a balanced pooled panel with one period's W (rows ``order``)."""
    n = Wu.shape[0]

    def lag(A: np.ndarray) -> np.ndarray:
        WA = np.empty(A.shape)
        WA[order] = np.concatenate([Wu @ block for block in A[order].reshape(-1, n, A.shape[1])])
        return WA

    return _with_lags(X, lag)


def _with_lags(X: pd.DataFrame, lag: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """``X`` with ``lag`` of its varying, non-year-dummy columns appended as ``W_<x>``."""
    cols = [c for c in X.columns if np.ptp(X[c].to_numpy()) > 0 and not c.startswith("year_")]
    WX = pd.DataFrame(lag(X[cols].to_numpy()), index=X.index, columns=[f"W_{c}" for c in cols])
    return pd.concat([X, WX], axis=1)


def lagged_regressors(X: pd.DataFrame, weights: sparse.csr_matrix) -> pd.DataFrame:
    """``X`` with the spatial lags ``W_<x>`` of its varying, non-year-dummy columns appended (SDM, SDEM).

    ``weights`` is the sparse W over the rows of ``X`` (:func:`geoattr.weights.panel_weights`).
    """
    return _with_lags(X, lambda A: weights @ A)


def _logdet(W: sparse.csr_matrix, a: float) -> float:
    return float(logdet(W, a, method="lu"))


def _sac(y: np.ndarray, X: np.ndarray, W1: sparse.csr_matrix, W2: sparse.csr_matrix, bounds=(-0.99, 0.99)):
    """Concentrated ML of y = rho W1 y + X b + u, u = lambda W2 u + e."""
    n = len(y)
    I = sparse.identity(n, format="csr")
    W1y = W1 @ y
    W2X, W2y, W2W1y = W2 @ X, W2 @ y, W2 @ W1y

    def beta_e(rho, lam):
        ys = (y - rho * W1y) - lam * (W2y - rho * W2W1y)
        Xs = X - lam * W2X
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        return b, ys - Xs @ b

    def nll(p):
        rho, lam = p
        _, e = beta_e(rho, lam)
        s2 = e @ e / n
        return n / 2 * np.log(s2) - _logdet(W1, rho) - _logdet(W2, lam)

    best = optimize.minimize(nll, x0=[0.0, 0.0], method="L-BFGS-B", bounds=[bounds, bounds],
                             options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
    # polish the optimum (the concentrated likelihood is smooth inside the bounds)
    polish = optimize.minimize(nll, x0=best.x, method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 2000})
    if polish.fun <= best.fun and np.all((polish.x > bounds[0]) & (polish.x < bounds[1])):
        best = polish
    rho, lam = best.x
    b, e = beta_e(rho, lam)
    s2 = e @ e / n
    ll = -n / 2 * (np.log(2 * np.pi) + np.log(s2) + 1) + _logdet(W1, rho) + _logdet(W2, lam)
    k = X.shape[1]

    def full_ll(theta):
        bb, r, lm, sig2 = theta[:k], theta[k], theta[k + 1], theta[k + 2]
        A_y = y - r * W1y
        u = A_y - X @ bb
        ee = u - lm * (W2 @ u)
        return -n / 2 * np.log(2 * np.pi * sig2) - ee @ ee / (2 * sig2) + _logdet(W1, r) + _logdet(W2, lm)

    theta = np.r_[b, rho, lam, s2]
    H = _hessian(full_ll, theta)
    cov = np.linalg.inv(-H)[: k + 2, : k + 2]
    converged = bool(best.success)
    edge = [name for name, v in (("rho", rho), ("lambda", lam)) if min(abs(v - bounds[0]), abs(v - bounds[1])) < 1e-4]
    return b, rho, lam, s2, ll, cov, e, converged, edge, I


#: largest number of units for which the SAC information matrix uses dense N x N blocks
SAC_DENSE_MAX_N = 3000


def _sac_information(X: np.ndarray, b: np.ndarray, rho: float, lam: float, s2: float,
                     W1: sparse.csr_matrix, W2: sparse.csr_matrix, W1u: np.ndarray, W2u: np.ndarray,
                     periods: int) -> np.ndarray:
    """Analytic (expected) information matrix of SAC, as spatialreg's ``sacsarlm``.

    Parameter order ``(sigma2, rho, lambda, beta)``.  The traces come from dense blocks
    ``W1u, W2u`` over the units (``N <= SAC_DENSE_MAX_N``; one cross-section of a
    balanced pooled panel, multiplied by ``periods``); the terms in ``X b`` are computed
    over all observations with sparse solves.
    """
    n_obs, k = X.shape
    N = W1u.shape[0]
    I = np.eye(N)
    AI = np.linalg.inv(I - rho * W1u)  # dense N x N: N <= SAC_DENSE_MAX_N
    BI = np.linalg.inv(I - lam * W2u)
    Bu = I - lam * W2u
    WA, WB = W1u @ AI, W2u @ BI
    BWABI = Bu @ WA @ BI
    T = periods
    tr_WA2 = T * np.trace(WA @ WA)
    tr_BWABI = T * np.sum(BWABI * BWABI)
    tr_WB2 = T * np.trace(WB @ WB)
    tr_WBtWB = T * np.sum(WB * WB)
    tr_WA, tr_WB = T * np.trace(WA), T * np.trace(WB)
    tr_32 = T * (np.sum(WB * BWABI) + np.trace(W2u @ WA @ BI))
    In = sparse.identity(n_obs, format="csc")
    Bs = (In - lam * W2).tocsr()
    Bx = Bs @ X
    Axb = splu((In - rho * W1).tocsc()).solve(X @ b)
    BWAxb = Bs @ (W1 @ Axb)
    p3 = k + 3
    V = np.zeros((p3, p3))
    V[3:, 3:] = Bx.T @ Bx / s2
    V[0, 0] = n_obs / (2 * s2 * s2)
    V[1, 1] = tr_WA2 + tr_BWABI + BWAxb @ BWAxb / s2
    V[2, 2] = tr_WB2 + tr_WBtWB
    V[1, 3:] = V[3:, 1] = Bx.T @ BWAxb / s2
    V[1, 0] = V[0, 1] = tr_WA / s2
    V[2, 0] = V[0, 2] = tr_WB / s2
    V[2, 1] = V[1, 2] = tr_32
    return V


def _hessian(f, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian (k is small: regressors plus three parameters)."""
    k = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 1e-2)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = h[i], h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


def fit_spatial(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    model: str,
    error_weights: WeightsLike | None = None,
    method: str = "auto",
    logdet_order: int | None = None,
    logdet_probes: int | None = None,
) -> SpatialResults:
    """Estimate a spatial model by maximum likelihood.

    Parameters
    ----------
    y : pandas.Series
        On the (unit, year) index; a pooled panel must be balanced within the units of
        the weights in each year (W applies within years).
    X : pandas.DataFrame
        Regressors (with ``const``).
    weights : libpysal.graph.Graph or SparseWeights
        Weights of the spatial lag (``sar``, ``sdm``, ``sac``) or error (``sem``,
        ``sdem``).  Use a row-standardised graph for the usual interpretation; the
        estimator accepts any weights.  Units of the weights the data lack are dropped
        with their links (:func:`geoattr.weights.lag.data_weights`: rows renormalised for row-standardised
        weights, a note and a warning).
    model : {"sar", "sem", "sdm", "sdem", "sac"}
        ``sdm``/``sdem`` add the spatial lags ``W_<x>`` of the non-constant regressors.
    error_weights : Graph or SparseWeights, optional
        ``sac`` only: weights of the error term (default: ``weights``).
    method : str, default "auto"
        Log-determinant method of the engine (``"lu"``, ``"eigen"``, ``"auto"``, or the
        approximations ``"chebyshev"`` and ``"mc"`` of :mod:`geoattr.models.ml_approx`,
        whose error bound is in the notes).
    logdet_order, logdet_probes : int, optional
        ``method="chebyshev"`` / ``"mc"`` with ``sar``, ``sem``, ``sdm``, ``sdem``: degree
        (terms) of the series and Rademacher probes of the approximate log-determinant
        (:func:`geoattr.models.ml.ml_lag`); an error with any other method or model.

    Returns
    -------
    SpatialResults
        ``params`` end with ``rho`` and/or ``lambda``; ``resids`` are the innovations
        ``e`` (``y - rho W y - X b`` for the lag model; the spatially filtered
        residuals for the error model); ``rsquared`` is the squared correlation of
        ``y`` and the fitted values ``y - e`` (a pseudo R²).  Standard errors: the
        analytic information matrix for the lag and error models (as spreg and
        spatialreg) and for SAC (as spatialreg's ``sacsarlm``; dense N x N blocks over
        the units, up to ``SAC_DENSE_MAX_N`` units, beyond that the observed
        information from a finite-difference Hessian of the full log-likelihood).
    """
    if model not in SPATIAL_MODELS:
        raise InputError(f"unknown spatial model {model!r}; choose one of {SPATIAL_MODELS}")
    approx = (logdet_order, logdet_probes)
    if model == "sac" and approx != (None, None):
        raise InputError("logdet_order= and logdet_probes= set the approximate log-determinant of 'sar', 'sem', "
                         "'sdm' and 'sdem'; model='sac' uses exact log-determinants: drop the options")
    if not y.index.equals(X.index):
        raise InputError("y and X must share the same (unit, year) index")
    notes: list[str] = []
    units_per_year = y.groupby(level=1).size()
    order = _year_major_order(y.index, weights, units_per_year) if model != "sac" else None
    if order is not None:  # balanced pooled panel: the fit works on one period's W, the NT x NT W on demand
        Wu = as_sparse(weights, pd.Index(weights.unique_ids))
        W = None
        n_iso = int((np.asarray(Wu.sum(axis=1)).ravel() == 0).sum()) * int(units_per_year.size)
    else:
        W = data_weights(weights, y.index, notes)
        n_units = len(weights.unique_ids)
        Wu = as_sparse(weights, pd.Index(weights.unique_ids)) if (units_per_year == n_units).all() else None
        n_iso = int((np.asarray(W.sum(axis=1)).ravel() == 0).sum())
    if n_iso:
        notes.append(f"{n_iso} observation(s) have no neighbours in W (isolates: their spatial lag is 0)")
    if model in ("sdm", "sdem"):
        X = lagged_regressors(X, W) if W is not None else _lagged_by_period(X, Wu, order)
    if model == "sac":
        params, cov, e, loglik, converged = _fit_sac(y, X, W, Wu, weights, error_weights, notes)
    else:
        params, cov, e, loglik, converged = _fit_lag_error(y, X, (W, order), Wu, model, (method, approx), notes)
    if not converged:
        warnings.warn(f"{model.upper()}: the likelihood maximisation did not converge", ConvergenceWarning,
                      stacklevel=2)
    resid = pd.Series(e, index=y.index, name="resid", copy=False)  # e is the fit's own array
    fitted = (y - resid).rename("fitted")
    r2 = squared_correlation(y, fitted)
    return SpatialResults(
        weights=W if W is not None else partial(data_weights, weights, y.index, [], warn=False), unit_weights=Wu,
        params=params.rename("estimate"), cov=cov, y=y, fitted_values=fitted, resids=resid,
        nobs=len(y), df_resid=len(y) - len(params), loglik=loglik, rsquared=r2, model=model, cov_type="ml",
        dist="normal", info={"Weights": type(weights).__name__}, notes=notes,
        rsquared_definition="squared correlation of y and y - e (pseudo R2)",
    )


def _fit_lag_error(y: pd.Series, X: pd.DataFrame,
                   W_order: tuple[sparse.csr_matrix | None, np.ndarray | slice | None],
                   Wu: sparse.csr_matrix | None, model: str, method: tuple[str, tuple[int | None, int | None]],
                   notes: list[str]):
    """The lag (sar, sdm) or error (sem, sdem) model with the sparse ML engine.

    ``method`` is the engine's method with (logdet_order, logdet_probes).

    ``W_order`` is (W over the observations, None) or, for a balanced pooled panel, (None,
    its rows in year-major order: :func:`_year_major_order`), stacked period by period so
    that the engine works on one N x N block.  Returns (params, cov, innovations, loglik, converged); notes are
    appended to ``notes``.
    """
    Xa, ya = X.to_numpy(dtype=float), y.to_numpy(dtype=float)
    W, order = W_order
    engine = partial(ml.ml_lag if model in ("sar", "sdm") else ml.ml_error, method=method[0],
                     logdet_order=method[1][0], logdet_probes=method[1][1])
    try:
        if W is None:  # balanced pooled panel: rows in year-major order, one period's W
            periods = len(ya) // Wu.shape[0]
            if isinstance(order, slice):  # already in that order: no copy of the data
                inverse = None
                r = engine(ya, Xa, Wu, periods=periods)
            else:
                r = engine(ya[order], Xa[order], Wu, periods=periods)
                inverse = np.empty_like(order)
                inverse[order] = np.arange(len(order))
        else:
            inverse = None
            r = engine(ya, Xa, W)
    except MemoryError as exc:
        block = Wu if W is None else W
        n_block, nnz = block.shape[0], block.nnz
        gmm = "gmm_lag" if model in ("sar", "sdm") else "gmm_error"
        raise InputError(
            f"maximum likelihood {model!r} ran out of memory: the sparse LU of I - rho W "
            f"({n_block:,} units, {nnz:,} edges) does not fit. Use model={gmm!r} "
            "(spatial GMM: sparse products only, no log-determinant), method='mc' (or 'chebyshev' "
            "for W similar to a symmetric matrix: maximum likelihood with an approximate "
            "log-determinant, its error bound in the notes), sparser weights (top_k=, min_share=) "
            "or a machine with more memory"
        ) from exc
    par = "rho" if model in ("sar", "sdm") else "lambda"
    pnames = list(X.columns) + [par]
    params = pd.Series(np.asarray(r.params, dtype=float), index=pnames)
    cov = pd.DataFrame(np.asarray(r.cov, dtype=float), index=pnames, columns=pnames)
    e = np.asarray(r.extra.get("e_filtered", r.resid) if model in ("sem", "sdem") else r.resid, dtype=float)
    if inverse is not None:
        e = e[inverse]
    if r.trace_error is not None:
        tr3 = r.extra.get("traces", {}).get("tr3", np.nan)
        sens = r.extra.get("se_sensitivity", np.nan)
        notes.append(
            f"standard errors use a stochastic estimate of tr(W_A' W_A) = {tr3:.6g} "
            f"(standard error {r.trace_error:.2e}); one standard error of it moves the "
            f"standard errors by at most {100 * sens:.2g}%"
        )
    if "logdet_approximation" in r.extra:
        notes.append(r.extra["logdet_approximation"]["note"])
    return params, cov, e, float(r.loglik), bool(r.converged)


def _fit_sac(y: pd.Series, X: pd.DataFrame, W: sparse.csr_matrix, Wu: sparse.csr_matrix | None, weights: WeightsLike,
             error_weights: WeightsLike | None, notes: list[str]):
    """SAC by concentrated ML, with spatialreg's analytic information where dense blocks fit.

    Returns (params, cov, innovations, loglik, converged); notes are appended to ``notes``.
    """
    Xa, ya = X.to_numpy(dtype=float), y.to_numpy(dtype=float)
    W2 = W if error_weights is None else data_weights(error_weights, y.index, notes, name="error_weights",
                                                      stacklevel=4)
    b, rho, lam, s2, loglik, C, e, converged, edge, _ = _sac(ya, Xa, W, W2)
    n_units = len(weights.unique_ids)
    if Wu is not None and n_units <= SAC_DENSE_MAX_N:
        W2u = Wu if error_weights is None else as_sparse(error_weights, pd.Index(weights.unique_ids))
        V = _sac_information(Xa, b, rho, lam, s2, W, W2, Wu.toarray(), W2u.toarray(),
                             int(y.index.get_level_values(1).nunique()))
        try:
            Vi = np.linalg.inv(V)
        except np.linalg.LinAlgError:
            notes.append("SAC: the information matrix is singular; observed information used")
        else:
            k = Xa.shape[1]
            order = [*range(3, 3 + k), 1, 2]  # beta, rho, lambda
            C = Vi[np.ix_(order, order)]
    else:
        notes.append(f"SAC standard errors from the observed information (finite-difference Hessian): "
                     f"the analytic information needs dense blocks, allowed up to {SAC_DENSE_MAX_N} units")
    pnames = list(X.columns) + ["rho", "lambda"]
    params = pd.Series(np.r_[b, rho, lam], index=pnames)
    cov = pd.DataFrame(C, index=pnames, columns=pnames)
    if edge:
        warnings.warn(f"SAC: {', '.join(f'{p} = {params[p]:.4f}' for p in edge)} sits on the edge of its "
                      "interval (-0.99, 0.99)", ConvergenceWarning, stacklevel=3)
    if error_weights is not None:
        notes.append("SAC with different weights for the lag and the error term")
    return params, cov, e, float(loglik), converged


def fit_gmm(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    model: str,
    endog: pd.DataFrame | None = None,
    instruments: pd.DataFrame | None = None,
    robust: str | None = None,
) -> SpatialResults:
    """Spatial GMM / two-stage least squares estimators of spreg.

    ``gmm_lag``: spreg ``GM_Lag`` (spatial 2SLS, instruments ``WX`` for ``Wy`` plus the
    user's instruments for endogenous regressors such as job growth); ``gmm_error``:
    spreg ``GM_Error_Het`` (Arraiz, Drukker, Kelejian and Prucha, heteroskedasticity
    robust).  Pooled panels use W within each year.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index.  With a ``const`` column spreg's ``GM_Lag`` /
        ``GM_Error_Het`` add their own constant; without one (a formula with ``- 1``)
        the base estimators run on the regressors as given, with no constant (noted).
    weights : libpysal.graph.Graph or SparseWeights
    model : {"gmm_lag", "gmm_error"}
    endog, instruments : DataFrame, optional
        Endogenous regressors and their instruments (``gmm_lag`` only).
    robust : {"white"} or None
        ``gmm_lag``: White standard errors.

    Returns
    -------
    SpatialResults
        ``rho`` (lag) or ``lambda`` (error) in ``params``; ``loglik`` is NaN (GMM).
    """
    if model not in ("gmm_lag", "gmm_error"):
        raise InputError(f"model must be 'gmm_lag' or 'gmm_error', got {model!r}")
    if model == "gmm_error" and endog is not None:
        raise InputError("gmm_error takes no endogenous regressors here; use gmm_lag or model='iv'")
    notes: list[str] = []
    W = data_weights(weights, y.index, notes)
    w = libpysal.weights.WSP(W.tocsr()).to_W(silence_warnings=True)
    constant = "const" in X.columns
    xcols = [c for c in X.columns if c != "const"]
    if not xcols and not constant:
        raise InputError(f"{model} needs at least one regressor or a constant; the design has no columns")
    xa = X[xcols].to_numpy(dtype=float)
    ya = y.to_numpy(dtype=float)[:, None]
    kw: dict[str, Any] = {}
    if endog is not None:
        if instruments is None:
            raise InputError("endogenous regressors need instruments=")
        kw = {"yend": endog.reindex(y.index).to_numpy(dtype=float),
              "q": instruments.reindex(y.index).to_numpy(dtype=float)}
    m = _gmm_estimate(model, ya, xa, w, constant, robust, kw)
    par = "rho" if model == "gmm_lag" else "lambda"
    names = [*(["const"] if constant else []), *xcols, *([] if endog is None else list(endog.columns)), par]
    params = pd.Series(np.asarray(m.betas).ravel(), index=names, name="estimate")
    cov = pd.DataFrame(np.asarray(m.vm), index=names, columns=names)
    e = np.asarray(m.e_filtered if model == "gmm_error" else m.u).ravel()
    resid = pd.Series(e, index=y.index, name="resid")
    fitted = (y - resid).rename("fitted")
    return SpatialResults(
        weights=W, params=params, cov=cov, y=y, fitted_values=fitted, resids=resid, nobs=len(y),
        df_resid=len(y) - len(params), loglik=float("nan"), rsquared=squared_correlation(ya, fitted),
        model=model, cov_type="gmm" if robust is None else f"gmm-{robust}", dist="normal",
        info={"Engine": f"spreg {spreg.__version__}", "Estimated": par},
        rsquared_definition="squared correlation of y and y - e (pseudo R2)",
        notes=notes + ([] if constant else [f"{model} without a constant (formula '- 1'): spreg's base estimator "
                                            "on the regressors as given"]),
    )


def _gmm_estimate(model: str, ya: np.ndarray, xa: np.ndarray, w: Any, constant: bool, robust: str | None,
                  kw: dict[str, Any]) -> Any:
    """Run spreg: the user-level classes (which add a constant) with a constant, else the base
    estimators on ``x`` exactly as given (``GM_Lag``'s instruments ``W X`` of the same ``x``)."""
    with contextlib.redirect_stdout(io.StringIO()):  # spreg 1.9 prints the class name from its summary
        if constant and model == "gmm_lag":
            return spreg.GM_Lag(ya, xa, w=w, robust=robust, spat_diag=False, **kw)
        if constant:
            return spreg.GM_Error_Het(ya, xa, w=w)
        if model == "gmm_error":
            return BaseGM_Error_Het(ya, xa, w.sparse)
        yend, q = set_endog(ya, xa, w, kw.get("yend"), kw.get("q"), 1, True)
        return BaseTSLS(ya, xa, yend=yend, q=q, robust=robust)
