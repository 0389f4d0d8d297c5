"""Sparse maximum-likelihood engine for the spatial lag (SAR) and spatial error (SEM) models.

This module works on plain numpy / scipy arrays (the log-determinant engine is
:mod:`geoattr.models.ml_jacobian`); :mod:`geoattr.models.spatial` wraps it
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

*Large N.*  From ``REAL_LU_MIN_N`` units (``method="auto"``) the complex step gives way to
real factorisations only (a complex LU costs about four real ones at N = 10^6), with the
log-determinant interpolated between exact values and the traces ``tr1``, ``tr2`` taken
from the interpolant (:mod:`geoattr.models.ml_realdet`, docs/performance.rst).

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

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq, minimize_scalar

from geoattr.exceptions import ConvergenceWarning, InputError
from geoattr.models.ml_jacobian import (
    EIGEN_MAX_N,
    EXACT_TRACE_MAX_N,
    Jacobian,
    SingularError,
    blas_limit,
    check_bounds,
    check_inputs,
    check_method,
    logdet,
)
from geoattr.models.ml_approx import APPROX_METHODS, ApproxJacobian, describe_approx, low_order_traces
from geoattr.models.ml_blocks import BlockJacobian, panel_setup
from geoattr.models.ml_cholmod import large_n_jacobian
from geoattr.models.ml_filtered import FilteredLeastSquares, filtered_fit, filtered_residuals
from geoattr.models.ml_realdet import REAL_LU_MIN_N, RealLUJacobian, search_values
from geoattr.models.tsqr import augmented_r, solve_augmented

__all__ = ["MLResult", "ml_lag", "ml_error", "logdet", "EXACT_TRACE_MAX_N", "EIGEN_MAX_N"]

_TRACES = ("auto", "exact", "stochastic")
_LN2PI = math.log(2.0 * math.pi)
_BOUND_WARN = 1e-6


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
        ``"lu"``, ``"eigen"``, ``"chebyshev"`` or ``"mc"``.
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

# --------------------------------------------------------------------------- optimiser
def _search(
    sse: Callable[[float], float],
    score_part: Callable[[float], float],
    jac: Jacobian,
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
            except SingularError:
                # I - rho W singular: the log-likelihood is -inf there; push away
                ld, t1 = -math.inf, math.copysign(math.inf, r)
            cache[r] = (score_part(r) + t1, ld, t1)
        return cache[r][0]

    # starting point: minimiser of a surrogate with a 4th-order Taylor log-determinant
    # a pooled panel's traces are T times its block's (the block is N x N, the panel NT x NT)
    block = getattr(jac, "inner", jac)
    own = getattr(block, "low_order_traces", None)  # CHOLMOD's: from its symmetric S
    taylor = own() if own else low_order_traces(block.W)
    t1, t2, t3, t4 = (getattr(jac, "T", 1) * t for t in taylor)

    def surrogate(r: float) -> float:
        return 0.5 * n * math.log(sse(r) / n) + (
            r * t1 + r**2 * t2 / 2 + r**3 * t3 / 3 + r**4 * t4 / 4
        )

    span = hi - lo
    slo, shi = lo + 5e-3 * span, hi - 5e-3 * span
    x0 = float(
        minimize_scalar(surrogate, bounds=(slo, shi), method="bounded", options={"xatol": 1e-6}).x
    )
    inner = getattr(jac, "inner", jac)
    if isinstance(inner, RealLUJacobian):  # large N: exact values from real LU, interpolated
        r, ld, t1r, ok, msg, evals, info = search_values(score_part, jac, (t1, t2, t3, t4), x0, bounds, tol)
        periods = getattr(jac, "T", 1)
        inner.set_tr2(r, info["tr2"] / periods, info["tr2_error"] / periods)
        inner.info = {**info, "tr1": t1r}
        return r, ld, t1r, ok, msg, evals
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


def _inputs(y: Any, X: Any, weights: sp.spmatrix | np.ndarray, *, periods: int, method: str, bounds: Any,
            options: tuple[float, str, int]):
    """Checked (y, X, W over the observations, method, bounds, W of one period or None).

    ``options`` are (tol, traces, n_probes), checked by :func:`_check_options`.
    """
    _check_options(*options)
    if periods != 1:
        return panel_setup(y, X, weights, periods, method, bounds)
    yv, Xv, Wc = check_inputs(y, X, weights)
    return yv, Xv, Wc, check_method(method, Wc.shape[0]), check_bounds(bounds, Wc), None


def _jacobian(Wc: sp.spmatrix, Wb: sp.spmatrix | None, meth: str, bnd: tuple[float, float], periods: int,
              auto: bool = False, seed: int | None = 0, approx: tuple[int | None, int | None] = (None, None)):
    """The log-Jacobian of ``I - r W`` over the observations (one block per period when ``periods > 1``).

    With ``auto`` (``method="auto"``) a block of at least ``REAL_LU_MIN_N`` units takes
    real factorisations only (:func:`~geoattr.models.ml_cholmod.large_n_jacobian`: CHOLMOD
    when available and W is similar to a symmetric matrix, else real sparse LU); an approximate
    ``meth`` (``APPROX_METHODS``) takes :class:`~geoattr.models.ml_approx.ApproxJacobian` (probes from ``seed``;
    ``approx`` = (logdet_order, logdet_probes) of the fit, None for the defaults).
    """
    block = Wc if periods == 1 else Wb
    if meth not in APPROX_METHODS and approx != (None, None):
        given = [f"{k}={v!r}" for k, v in zip(("logdet_order", "logdet_probes"), approx) if v is not None]
        raise InputError(f"{', '.join(given)} set(s) the approximate log-determinant of method='chebyshev' or "
                         f"'mc'; this fit uses method={meth!r}: drop the option(s) or choose an approximate method")
    if meth in APPROX_METHODS:
        jac = ApproxJacobian(block, meth, bnd, seed, order=approx[0], probes=approx[1])
        return jac if periods == 1 else BlockJacobian(jac, periods, Wc)
    cls = large_n_jacobian if auto and meth == "lu" and block.shape[0] >= REAL_LU_MIN_N else Jacobian
    return cls(Wc, meth, bnd) if periods == 1 else BlockJacobian(cls(Wb, meth, bnd), periods, Wc)


def _ml_result(params: np.ndarray, cov: np.ndarray, sig2: float, loglik: float, u: np.ndarray, yv: np.ndarray,
               search: tuple, traced: tuple, **extra: Any) -> MLResult:
    """The :class:`MLResult` of a fit: ``search`` is (iterations, converged, method, bounds,
    log-determinant) and ``traced`` what :meth:`Jacobian.traces` returned; ``extra`` adds to
    the traces, their method, the bounds, the log-determinant and the trace sensitivity."""
    iterations, ok, meth, bnd, ld = search
    tr, trace_method, tr_se, sens = traced
    return MLResult(
        params=params, cov=cov, sigma2=sig2, loglik=float(loglik), resid=u, predy=yv - u, iterations=iterations,
        converged=ok, method=meth, trace_error=tr_se,
        extra={"traces": tr, "trace_method": trace_method, "bounds": bnd, "logdet": ld, "se_sensitivity": sens,
               **extra},
    )


def _describe_real_lu(jac: Any, traced: tuple) -> tuple[tuple, dict[str, Any]]:
    """``traced`` with the description of the real-LU path (interpolated tr1, tr2) and its extra fields."""
    inner = getattr(jac, "inner", jac)
    if not isinstance(inner, RealLUJacobian):
        return traced, {}
    tr, how, se, sens = traced
    info = inner.info
    err1 = info["tr1_error"] / max(abs(info["tr1"]), 1e-300)
    err2 = info["tr2_error"] / max(abs(info["tr2"]), 1e-300)
    tr3 = {"exact (symmetric W: tr3 = tr2)": "tr3 = tr2 (symmetric W)",
           "exact (sparse LU, complex step)": "tr3 exact (sparse LU of A'A, complex step)"}.get(
        how, how.replace("tr1, tr2 exact; ", ""))
    how = (f"tr1, tr2 from exact log-determinants ({inner.factorisation}) at {inner.evaluations} points, "
           f"interpolated (estimated relative error {err1:.1e}, {err2:.1e}); {tr3}")
    return (tr, how, se, sens), {"logdet_points": inner.evaluations,
                                 "trace_interpolation_error": {"tr1": err1, "tr2": err2}}


# --------------------------------------------------------------------------- models
_DOC_COMMON = """
    Parameters
    ----------
    y : array_like, shape (n,) or (n, 1)
        Dependent variable.
    X : array_like, shape (n, k)
        Regressors, including the constant column if one is wanted.
    weights : scipy.sparse matrix or ndarray, shape (n, n)
        Spatial weights ``W``, rows and columns in the order of ``y``.
    method : {"auto", "lu", "eigen", "chebyshev", "mc"}, default "auto"
        Log-determinant: sparse LU or the eigenvalues of ``W`` (dense, at most
        ``EIGEN_MAX_N`` observations), or an approximation for N beyond the memory of a
        sparse LU (row-standardised W): ``"chebyshev"`` (Pace & LeSage 2004) or ``"mc"``
        (Barry & Pace 1999), :mod:`geoattr.models.ml_approx`, with the error bound at the
        estimate in ``extra["logdet_approximation"]`` (probes drawn with ``seed``).  ``"lu"``: complex-step factorisations (exact
        derivatives); ``"auto"``: the same below ``REAL_LU_MIN_N`` units of W, from there
        real factorisations with an interpolated log-determinant
        (:mod:`geoattr.models.ml_realdet`; ``extra["logdet_points"]`` and
        ``extra["trace_interpolation_error"]``).
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
    periods : int, default 1
        Number of periods ``T`` of a pooled panel stacked period by period (``W`` is one
        period's matrix).
    logdet_order : int, optional
        ``"chebyshev"``: degree of the series (default ``CHEB_DEGREE``, 20); ``"mc"``:
        terms of the power series (default ``MC_TERMS``, 50); at least 4.  Higher lowers
        the truncation bound; the cost grows linearly.
    logdet_probes : int, optional
        ``"chebyshev"`` / ``"mc"``: Rademacher probes of the traces of order above 4
        (default ``LOGDET_PROBES``, 32; at least 2).  The sampling standard error falls
        as one over the square root of the probes.

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
    y: Any, X: Any, weights: sp.spmatrix | np.ndarray, *, method: str = "auto",
    bounds: tuple[float, float] | None = None, tol: float = 1e-10, traces: str = "auto",
    n_probes: int = 100, seed: int | None = 0, periods: int = 1, logdet_order: int | None = None,
    logdet_probes: int | None = None,
) -> MLResult:
    """Maximum-likelihood spatial lag model ``y = rho W y + X beta + e``.

    With ``periods = T > 1``, ``W`` is one period's N x N matrix and y, X are stacked
    period by period (a pooled panel with ``I_T (x) W``); log-determinants and traces
    come from the single block.

    Reproduces ``spreg.ML_Lag`` (same concentrated likelihood, information matrix and
    definitions of residuals and sigma2) with sparse algebra only.
    """
    yv, Xv, Wc, meth, bnd, Wb = _inputs(y, X, weights, periods=periods, method=method, bounds=bounds,
                                        options=(tol, traces, n_probes))
    n, k = Xv.shape
    with blas_limit(meth == "lu"):
        jac, wy = _jacobian(Wc, Wb, meth, bnd, periods, method == "auto", seed,
                                  (logdet_order, logdet_probes)), Wc @ yv
        b0, b1 = solve_augmented(augmented_r(Xv, yv, wy), k)[0].T  # QR by blocks: no n x k copies
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
        e1 *= rho
        e0 -= e1  # u = e0 - rho e1, in place
        sig2 = float(e0 @ e0) / n
        del e0, e1, wy  # n-vectors the traces do not need; u is formed again, the same to the last bit, after them
        loglik = -(0.5 * n * math.log(sig2) - ld) - 0.5 * n * _LN2PI - 0.5 * n

        wpy = Wc @ jac.solve(rho, Xv @ beta)  # predy_e: solved again once the traces are done
        xtx = Xv.T @ Xv
        xtwpy = Xv.T @ wpy
        wpywpy = float(wpy @ wpy)
        del wpy

        def inv_information(t: dict[str, float]) -> np.ndarray:
            """Inverse of the information matrix of (beta, rho, sigma2), Anselin (1988)."""
            v = np.zeros((k + 2, k + 2))
            v[:k, :k] = xtx / sig2
            v[:k, k] = v[k, :k] = xtwpy / sig2
            v[k, k] = t["tr2"] + t["tr3"] + wpywpy / sig2
            v[k, k + 1] = v[k + 1, k] = t["tr1"] / sig2
            v[k + 1, k + 1] = n / (2.0 * sig2**2)
            return np.linalg.inv(v)

        traced = jac.traces(rho, ld, tr1, bnd, traces, n_probes, seed, lambda t: inv_information(t)[:-1, :-1])
        traced, more = _describe_real_lu(jac, traced)
        more.update(describe_approx(jac, rho))
        vm1 = inv_information(traced[0])
        predy_e = jac.solve(rho, Xv @ beta)
        del jac  # its factor or reordered W, before u is formed again
        u = (yv - Xv @ b0) - rho * (Wc @ yv - Xv @ b1)  # e0 - rho e1 as above
        return _ml_result(np.append(beta, rho), vm1[:-1, :-1], sig2, loglik, u, yv, (iterations, ok, meth, bnd, ld),
                          traced, var_sigma2=float(vm1[-1, -1]), predy_e=predy_e, e_pred=yv - predy_e, **more)


def ml_error(
    y: Any, X: Any, weights: sp.spmatrix | np.ndarray, *, method: str = "auto",
    bounds: tuple[float, float] | None = None, tol: float = 1e-10, traces: str = "auto",
    n_probes: int = 100, seed: int | None = 0, periods: int = 1, logdet_order: int | None = None,
    logdet_probes: int | None = None,
) -> MLResult:
    """Maximum-likelihood spatial error model ``y = X beta + u``, ``u = lambda W u + e``.

    Reproduces ``spreg.ML_Error`` (same concentrated likelihood, information matrix and
    definitions of residuals and sigma2) with sparse algebra only.  ``periods`` as in
    :func:`ml_lag`.
    """
    yv, Xv, Wc, meth, bnd, Wb = _inputs(y, X, weights, periods=periods, method=method, bounds=bounds,
                                        options=(tol, traces, n_probes))
    n, k = Xv.shape
    with blas_limit(meth == "lu"):
        jac, wy = _jacobian(Wc, Wb, meth, bnd, periods, method == "auto", seed,
                                  (logdet_order, logdet_probes)), Wc @ yv
        # W X and X - lam W X by blocks of rows (ml_filtered): neither is held whole
        trials = FilteredLeastSquares(yv, Xv, wy, Wc)  # the search's trials in (2k + 2) coordinates
        lam, ld, tr1, ok, msg, iterations = _search(trials.sse, lambda lam: trials.score_part(lam, n), jac,
                                                    bnd, tol, n)
        _warn_bounds("lambda", lam, bnd, ok, msg)

        beta, e_filtered, gram = filtered_fit(yv, Xv, wy, Wc, lam)
        sig2 = float(e_filtered @ e_filtered) / n
        loglik = -(0.5 * n * math.log(sig2) - ld) - 0.5 * n * _LN2PI - 0.5 * n
        xsxsi = np.linalg.inv(gram)
        del e_filtered, wy  # not needed by the traces: computed again, the same to the last bit, after them

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

        traced = jac.traces(lam, ld, tr1, bnd, traces, n_probes, seed, lambda t: inv_information(t)[0])
        traced, more = _describe_real_lu(jac, traced)
        more.update(describe_approx(jac, lam))
        del jac  # its factor or reordered W, before the residuals are formed again
        cov, var_sigma2 = inv_information(traced[0])
        e_filtered = filtered_residuals(yv, Xv, Wc @ yv, Wc, lam, beta)[0]
        u = yv - Xv @ beta
        return _ml_result(np.append(beta, lam), cov, sig2, loglik, u, yv, (iterations, ok, meth, bnd, ld),
                          traced, var_sigma2=var_sigma2, e_filtered=e_filtered, **more)


ml_lag.__doc__ = (ml_lag.__doc__ or "") + _DOC_COMMON
ml_error.__doc__ = (ml_error.__doc__ or "") + _DOC_COMMON
