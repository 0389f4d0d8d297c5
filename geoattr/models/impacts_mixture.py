"""Impacts of spatial-lag models with mixed weights ``W(gamma) = sum_k gamma_k W_k``, with
the uncertainty of gamma carried into their inference.

The impacts of :mod:`geoattr.models.impacts` depend on ``(rho, beta, theta)`` and, through
``W(gamma)``, on gamma.  :func:`mixture_impacts` propagates the joint asymptotic
covariance of ``(rho, beta, theta, gamma_1 .. gamma_{K-1})`` (``gamma_K = 1 - sum`` of
the others) in one of three ways (``inference=``):

``"delta"``
    The delta method on the estimates jointly: ``Var = J C J'`` with ``J`` the Jacobian
    of the (direct, indirect, total) point impacts.  They are linear in beta and theta
    (central differences are exact there) and smooth in rho and gamma, where ``J`` is a
    central difference with step ``1e-5 max(|x|, 0.1)`` (truncation error ~1e-10
    relative); each gamma step recomputes the eigenvalues (or traces) of ``W(gamma)``.
    Intervals are ``estimate +- z se``.  Cost: ``2 (K - 1)`` extra spectra of W.
``"simulation"``
    Draws from the joint asymptotic normal ``N(estimate, C)`` (seeded); each draw's
    impacts are computed exactly at its own ``W(gamma_d)`` (one spectrum of W per draw:
    affordable up to a few hundred units).  Draws with gamma outside the simplex (a
    negative weight) or rho outside the interval where ``I - rho W(gamma_d)`` is
    invertible are dropped and counted (``attrs["draws_dropped"]``).  Standard errors are
    the draws' standard deviations, intervals their quantiles.
``"gamma_known"``
    gamma treated as known: the simulation of :func:`geoattr.models.impacts.impacts` over
    ``(rho, beta, theta)`` at ``W(gamma_hat)``.  With gamma fixed (``fit(..., gamma=...)``)
    there is nothing more to carry, and this equals the single-weights impacts with
    ``W(gamma)``.

``"auto"`` is ``"gamma_known"`` when gamma was fixed and ``"delta"`` when it was
estimated.  On the boundary of the simplex (an estimated gamma at 0) the asymptotic
normal approximation of gamma, and so the delta method, is not valid (the fit says so).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse, stats

from geoattr.exceptions import InputError
from geoattr.models.impacts import EIGEN_MAX_N, Traces, impact_sums, impacts, traces

__all__ = ["mixture_impacts", "MIXTURE_INFERENCE"]

#: The ``inference=`` choices of :func:`mixture_impacts`.
MIXTURE_INFERENCE = ("auto", "delta", "simulation", "gamma_known")
_COLUMNS = ["estimate", "std_error", "lower", "upper", "z", "p"]


def _combine(components: Mapping[str, sparse.spmatrix], g: np.ndarray) -> sparse.csr_matrix:
    mats = list(components.values())
    return sum((gk * Wk for gk, Wk in zip(g, mats)), sparse.csr_matrix(mats[0].shape)).tocsr()


class _Point:
    """The point impacts as a function of the stacked ``(rho, beta, theta, gamma_free)``."""

    def __init__(self, params: pd.Series, cov: pd.DataFrame, components: Mapping[str, sparse.spmatrix],
                 gamma: pd.Series, gamma_free: list[str], method: str) -> None:
        self.gamma_free, self.components, self.method = gamma_free, components, method
        base = [p for p in params.index if not p.startswith("gamma_")]
        self.params, self.cov = params[base], cov.loc[base, base]
        self.variables = [v for v in base if v not in ("rho", "const", "lambda") and not v.startswith("W_")
                          and not v.startswith("year_")]
        self.names = ["rho", *self.variables, *[f"W_{v}" for v in self.variables if f"W_{v}" in base], *gamma_free]
        self.x0 = params[self.names].to_numpy(dtype=float)
        self.g0 = gamma[list(components)].to_numpy(dtype=float)
        self.W0 = _combine(components, self.g0)
        self.tr0: Traces | None = traces(self.W0, order=1) if self.W0.shape[0] <= EIGEN_MAX_N else None

    def gamma(self, x: np.ndarray) -> np.ndarray:
        """gamma of the stacked vector (the fixed or estimated gamma when none is free)."""
        if not self.gamma_free:
            return self.g0
        free = np.asarray(x[len(x) - len(self.gamma_free):], dtype=float)
        return np.append(free, 1.0 - free.sum())

    def frame(self, x: np.ndarray) -> pd.DataFrame:
        """The point impacts (no inference) at the stacked vector ``x``."""
        g = self.gamma(x)
        same = np.array_equal(g, self.g0)
        p = self.params.copy()
        k = len(self.names) - len(self.gamma_free)
        p[self.names[:k]] = x[:k]
        return impacts(p, self.cov, self.W0 if same else _combine(self.components, g), variables=self.variables,
                       draws=0, method=self.method, trace=self.tr0 if same else None)

    def fast(self, x: np.ndarray) -> np.ndarray:
        """As ``self(x).to_numpy()`` from the eigenvalues of ``W(gamma)`` only (no eigenvectors)."""
        W = _combine(self.components, self.gamma(x))
        tr = traces(W, order=1, residues=False) if W.shape[0] <= EIGEN_MAX_N else None
        S = impact_sums(np.array([x[0]]), W, trace=tr, method=self.method)[0][0]
        k = len(self.variables)
        beta = x[1: 1 + k]
        theta = np.array([x[self.names.index(f"W_{v}")] if f"W_{v}" in self.names else 0.0 for v in self.variables])
        direct, total = S[0] * beta + S[1] * theta, S[2] * beta + S[3] * theta
        return np.column_stack([direct, total - direct, total]).ravel()

    def __call__(self, x: np.ndarray) -> pd.Series:
        return self.frame(x)["estimate"]


def mixture_impacts(params: pd.Series, cov: pd.DataFrame, components: Mapping[str, sparse.spmatrix],
                    gamma: pd.Series, *, inference: str = "auto", draws: int = 1000, level: float = 0.95,
                    seed: int = 0, method: str = "auto") -> pd.DataFrame:
    """Direct, indirect and total impacts at ``W(gamma)`` with gamma's uncertainty carried.

    Parameters
    ----------
    params, cov : Series, DataFrame
        The mixture fit's estimates (with ``rho`` and, unless gamma was fixed,
        ``gamma_<name>``) and their covariance.
    components : mapping name -> scipy.sparse matrix
        The weights matrices ``W_k`` (same order as ``gamma``), over the units (or the
        observations) the impacts are averaged over.
    gamma : Series
        The estimated (or fixed) weights, indexed by the names of ``components``.
    inference : {"auto", "delta", "simulation", "gamma_known"}, default "auto"
        See the module docstring.
    draws, level, seed, method
        As :func:`geoattr.models.impacts.impacts` (``draws``: simulations; not used
        by ``"delta"``).

    Returns
    -------
    pandas.DataFrame
        As :func:`geoattr.models.impacts.impacts`; ``attrs["impacts_inference"]`` names
        the inference and ``attrs["notes"]`` says how gamma entered.
    """
    if inference not in MIXTURE_INFERENCE:
        raise InputError(f"inference must be one of {MIXTURE_INFERENCE}; {inference!r} was given")
    if "rho" not in params.index:
        raise InputError("impacts need a spatial lag of y (rho); this model has none")
    names = list(gamma.index)
    estimated = [f"gamma_{n}" for n in names if f"gamma_{n}" in params.index]
    if inference == "auto":
        inference = "delta" if estimated else "gamma_known"
    point = _Point(params, cov, components, gamma, estimated[:-1], method)
    if inference == "gamma_known" or not estimated:
        frame = impacts(point.params, point.cov, point.W0, draws=draws, level=level, seed=seed, trace=point.tr0,
                        method=method)
        frame.attrs["impacts_inference"] = "gamma_known"
        frame.attrs["notes"] = [*frame.attrs.get("notes", []), "impacts at W(gamma) of the estimate, "
                                + ("gamma treated as known" if estimated else "gamma fixed (nothing more to carry)")]
        return frame
    C = cov.loc[point.names, point.names].to_numpy(dtype=float)
    base = point.frame(point.x0)
    out = _delta(point, base["estimate"], C, level) if inference == "delta" else \
        _simulate(point, base["estimate"], C, draws, level, seed)
    kept = {k: v for k, v in base.attrs.items() if k not in ("notes", "draws_dropped")}
    out.attrs = {**kept, **out.attrs, "notes": [*base.attrs.get("notes", []), *out.attrs["notes"]]}
    return out


def _delta(point: _Point, est: pd.Series, C: np.ndarray, level: float) -> pd.DataFrame:
    x0 = point.x0
    h = 1e-5 * np.maximum(np.abs(x0), 0.1)
    J = np.empty((len(est), len(x0)))
    for i in range(len(x0)):
        step = np.zeros(len(x0))
        step[i] = h[i]
        J[:, i] = (point(x0 + step).to_numpy() - point(x0 - step).to_numpy()) / (2 * h[i])
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, C, J), 0.0))
    q = stats.norm.ppf(0.5 + level / 2)
    frame = _frame(est, se, est.to_numpy() - q * se, est.to_numpy() + q * se)
    frame.attrs.update(impacts_inference="delta", draws_dropped=0,
                       notes=["impacts at W(gamma) of the estimate; standard errors by the delta method on "
                              f"({', '.join(point.names)}) jointly, gamma's uncertainty included (numerical "
                              "derivatives in rho and gamma)"])
    return frame


def _simulate(point: _Point, est: pd.Series, C: np.ndarray, draws: int, level: float, seed: int) -> pd.DataFrame:
    if draws < 2:
        raise InputError(f"inference='simulation' needs draws >= 2; {draws!r} was given")
    rng = np.random.default_rng(seed)
    method = "cholesky" if np.all(np.linalg.eigvalsh(C) > 0) else "svd"
    sims = rng.multivariate_normal(point.x0, C, size=draws, method=method)
    out = []
    for x in sims:
        if np.any(point.gamma(x) < 0):
            continue  # outside the simplex: not a weights matrix of the model
        try:
            out.append(point.fast(x))
        except InputError:  # rho outside the admissible interval of W(gamma_d)
            continue
    if len(out) < 2:
        raise InputError(f"fewer than 2 of {draws} draws are inside the simplex and the admissible interval of rho "
                         f"({draws - len(out)} outside); pass more draws= or use inference='delta'")
    arr = np.array(out)
    q = (1 - level) / 2
    frame = _frame(est, arr.std(axis=0, ddof=1), np.quantile(arr, q, axis=0), np.quantile(arr, 1 - q, axis=0))
    dropped = draws - len(out)
    frame.attrs.update(impacts_inference="simulation", draws_dropped=dropped,
                       notes=[f"impacts at W(gamma) of the estimate; inference from {draws} draws of "
                              f"({', '.join(point.names)}) from their joint asymptotic normal, each draw's impacts at "
                              f"its own W(gamma), gamma's uncertainty included; {dropped} draw(s) outside the simplex "
                              "or the admissible interval of rho dropped"])
    return frame


def _frame(est: pd.Series, se: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> pd.DataFrame:
    e = est.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, e / se, np.nan)
    p = np.where(se > 0, 2 * stats.norm.sf(np.abs(z)), np.nan)
    return pd.DataFrame(np.column_stack([e, se, lower, upper, z, p]), index=est.index, columns=_COLUMNS)
