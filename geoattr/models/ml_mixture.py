"""Which weights?  Spatial models with a convex combination of weights matrices.

``W(gamma) = sum_k gamma_k W_k`` with ``gamma`` on the simplex (``gamma_k >= 0``,
``sum gamma_k = 1``) is estimated jointly with the spatial parameter (``rho`` of the lag
models ``sar``/``sdm``, ``lambda`` of the error models ``sem``/``sdem``, both for ``sac``,
which uses ``W(gamma)`` in the lag and in the error) by maximum likelihood.  The Durbin
models lag the regressors with ``W(gamma)`` too.  Panels: a pooled panel (W within each
year) works; the fixed- and random-effects spatial panels (``sar_fe``...) take one
weights matrix (a mapping is an error naming the models that accept one).  Every ``W_k`` must
be row-standardised, so that every ``W(gamma)`` is too and the search interval of the
spatial parameter is ``(-1, 1)`` for every gamma.

Estimation
----------
The log-likelihood is concentrated over the betas and sigma2 (least squares on the
filtered data for given ``(rho, gamma)``, as :mod:`geoattr.models.ml`)::

    l(rho, gamma) = -n/2 (log 2 pi + log(SSE(rho, gamma) / n) + 1) + log|I - rho W(gamma)|

The log-determinant comes from a sparse LU at each evaluation
(:func:`geoattr.models.ml_jacobian.logdet`), which suits N (units x years) in the
hundreds to thousands.  gamma is parametrised by stick-breaking, ``gamma_1 = v_1``,
``gamma_k = v_k prod_{j<k}(1 - v_j)``, ``gamma_K = prod_j (1 - v_j)`` with
``v in [0, 1]^(K-1)``, so that a bounded optimiser (``scipy.optimize.minimize``,
L-BFGS-B) reaches every point of the simplex, corners included.  It starts from every
corner (each a one-dimensional search in rho) and from the centre of the simplex and
keeps the best optimum.

Standard errors
---------------
From the observed information: a central-difference Hessian of the log-likelihood in
``(beta, rho, gamma_1, ..., gamma_{K-1})`` with sigma2 concentrated out (the inverse
Hessian of a likelihood profiled over sigma2 equals the corresponding block of the
full inverse Hessian).  ``gamma_K = 1 - sum_{k<K} gamma_k`` is a linear function of the
others, so its variance and covariances follow exactly by the delta method.  The
stick-breaking parametrisation is used for the search only: the Hessian is taken
directly in gamma.  When the estimate lies on the boundary of the simplex (a gamma at
0) these standard errors are not valid (the likelihood maximum is not an interior
point); a note says so.

Corner tests
------------
For each weights matrix k, the likelihood-ratio statistic ``LR = 2 (l_mix - l_k)`` of
the pure-``W_k`` model (the corner ``gamma = e_k``, which equals the single-weights fit
with ``W_k``).  The null hypothesis lies on the boundary of the parameter space: with
two matrices the asymptotic null distribution is the 50:50 mixture of chi2(0) and
chi2(1) (Self and Liang 1987), ``p = P(chi2_1 > LR) / 2``; with more matrices the
p-value uses chi2(K - 1), which is conservative.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

from geoattr._format import format_ids
from geoattr.exceptions import ConvergenceWarning, InputError
from geoattr.models.impacts_mixture import mixture_impacts
from geoattr.models.ml_jacobian import is_row_standardised, logdet
from geoattr.models.results import squared_correlation
from geoattr.models.spatial import SpatialResults
from geoattr.models.spatial_panel_durbin import slx_impacts
from geoattr.typing import WeightsLike
from geoattr.weights.lag import data_weights
from geoattr.weights.sparse import as_sparse

__all__ = ["MixtureResults", "fit_mixture", "MIXTURE_MODELS", "stick_breaking"]

#: Models with a convex combination of weights matrices (``fit(model=..., weights={...})``).
MIXTURE_MODELS = ("sar", "sem", "sdm", "sdem", "sac")
_EDGE = 1e-7  # distance of the rho search from +-1
_LN2PI = math.log(2.0 * math.pi)


class MixtureResults(SpatialResults):
    """Results of a spatial model with ``W(gamma) = sum_k gamma_k W_k``.

    ``params`` hold the betas, ``rho`` (or ``lambda``) and ``gamma_<name>`` for every
    weights matrix (unless gamma was fixed); ``weights`` is ``W(gamma)`` at the
    estimate over the observations.

    Parameters
    ----------
    corner_tests : pandas.DataFrame
        One row per weights matrix (the pure-``W_k`` model): ``loglik``, the spatial
        parameter at that corner, ``lr``, ``df`` and ``p_value`` (see
        :mod:`geoattr.models.ml_mixture`).  Empty when gamma was fixed.
    gamma : pandas.Series
        The estimated (or fixed) weight of every matrix.
    **kw
        The arguments of :class:`~geoattr.models.spatial.SpatialResults`.
    """

    def __init__(self, *, corner_tests: pd.DataFrame, gamma: pd.Series,
                 components: Mapping[str, sparse.csr_matrix] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._corner_tests = corner_tests
        self._gamma = gamma
        self._components = dict(components) if components is not None else None

    @property
    def corner_tests(self) -> pd.DataFrame:
        """Likelihood-ratio tests of each pure weights matrix against the mixture."""
        return self._corner_tests.copy()

    @property
    def gamma(self) -> pd.Series:
        """The weight of every matrix in ``W(gamma)``."""
        return self._gamma.copy()

    @property
    def components(self) -> dict[str, sparse.csr_matrix] | None:
        """The matrices ``W_k`` by name, over the units (balanced panels and cross-sections) or the
        observations, as the impacts use them (None if the results were built without them)."""
        return None if self._components is None else {k: W.copy() for k, W in self._components.items()}

    def impacts(self, *, draws: int = 1000, level: float = 0.95, seed: int = 0, method: str = "auto",
                inference: str = "auto") -> pd.DataFrame:
        """Direct, indirect and total impacts at ``W(gamma)`` of the estimate, gamma's uncertainty carried.

        Parameters
        ----------
        draws, level, seed, method
            As :meth:`SpatialResults.impacts <geoattr.models.spatial.SpatialResults.impacts>`.
        inference : {"auto", "delta", "simulation", "gamma_known"}, default "auto"
            How the uncertainty of ``(rho, beta, theta, gamma)`` enters
            (:func:`geoattr.models.impacts_mixture.mixture_impacts`): ``"auto"`` is the
            delta method on all of them jointly when gamma was estimated, and the
            single-weights simulation at ``W(gamma)`` when gamma was fixed.
        """
        if self.model == "sdem_mix":  # no lag of y: direct b, indirect theta, whatever gamma
            return slx_impacts(self._params[[p for p in self._params.index if not p.startswith("gamma_")]],
                               self._cov, level=level)
        if "rho" not in self._params.index:
            raise InputError(f"impacts need a spatial lag of y; model {self.model!r} has none")
        if self._components is None:  # built without the matrices: gamma can only be treated as known
            inference = "gamma_known"
            W = self._unit_weights if self._unit_weights is not None else self.weights
            comps = {n: (W if i == 0 else sparse.csr_matrix(W.shape)) for i, n in enumerate(self._gamma.index)}
            gamma = pd.Series(np.eye(len(self._gamma))[0], index=self._gamma.index)
        else:
            comps, gamma = self._components, self._gamma
        return mixture_impacts(self._params, self._cov, comps, gamma, inference=inference, draws=draws, level=level,
                               seed=seed, method=method)

    def _prediction_weights(self, index: pd.Index, weights: Any) -> sparse.csr_matrix:
        """``W(gamma)`` over the rows of ``index`` from the mapping the model was fitted with."""
        if not isinstance(weights, Mapping):
            return super()._prediction_weights(index, weights)
        if set(weights) != set(self._gamma.index):
            raise InputError(f"weights= must have the keys the model was fitted with, {list(self._gamma.index)}; "
                             f"it has {list(weights)}")
        return sum((g * super(MixtureResults, self)._prediction_weights(index, weights[k])
                    for k, g in self._gamma.items()), sparse.csr_matrix((len(index), len(index)))).tocsr()


def stick_breaking(v: np.ndarray) -> np.ndarray:
    """gamma on the simplex (length ``len(v) + 1``) from ``v`` in ``[0, 1]^(K-1)``."""
    rest, out = 1.0, []
    for vk in np.asarray(v, dtype=float):
        out.append(rest * vk)
        rest *= 1.0 - vk
    return np.array([*out, rest])


def _corner_v(k: int, K: int) -> np.ndarray:
    """The stick-breaking ``v`` of the corner ``gamma = e_k``."""
    v = np.full(K - 1, 0.5)
    v[:k] = 0.0
    if k < K - 1:
        v[k] = 1.0
    return v


class _Problem:
    """Concentrated and full log-likelihoods of one model for given data and W_k.

    The spatial parameters ``s`` are ``(rho,)`` (sar, sdm), ``(lambda,)`` (sem, sdem) or
    ``(rho, lambda)`` (sac, both with ``W(gamma)``).  Products ``W_k W_l (y, X)`` are
    computed once, so that ``W(gamma)^2 = sum_kl gamma_k gamma_l W_k W_l`` costs nothing per
    evaluation.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, Ws: list[sparse.csr_matrix], model: str,
                 vary: np.ndarray) -> None:
        self.y, self.Ws, self.model, self.n = y, Ws, model, len(y)
        self.vary = vary  # the columns of X lagged in the Durbin models
        self.X = X
        self.Wy = [W @ y for W in Ws]
        self.WX = [np.asarray(W @ X) for W in Ws]
        self.n_spatial = 2 if model == "sac" else 1
        self.bounds = (-0.99, 0.99) if model == "sac" else (-1 + _EDGE, 1 - _EDGE)  # as the single-W fits
        if model in ("sdem", "sac"):  # second-order lags W_k W_l (y, X)
            self.WWy = [[Wk @ a for a in self.Wy] for Wk in Ws]
            self.WWX = [[np.asarray(Wk @ a) for a in self.WX] for Wk in Ws]

    def W(self, g: np.ndarray) -> sparse.csr_matrix:
        return sum((gk * Wk for gk, Wk in zip(g, self.Ws)), sparse.csr_matrix(self.Ws[0].shape)).tocsr()

    def _lag1(self, g: np.ndarray, arrs: list[np.ndarray]) -> np.ndarray:
        return sum(gk * a for gk, a in zip(g, arrs))

    def _lag2(self, g: np.ndarray, arrs: list[list[np.ndarray]]) -> np.ndarray:
        return sum(g[k] * g[m] * arrs[k][m] for k in range(len(g)) for m in range(len(g)))

    def design(self, g: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filtered (y*, X*) with ``y* - X* b`` the innovations."""
        wy, wx = self._lag1(g, self.Wy), self._lag1(g, self.WX)
        r = float(s[0])
        if self.model == "sem":
            return self.y - r * wy, self.X - r * wx
        if self.model == "sdem":
            Z, WZ = np.hstack([self.X, wx[:, self.vary]]), np.hstack([wx, self._lag2(g, self.WWX)[:, self.vary]])
            return self.y - r * wy, Z - r * WZ
        if self.model == "sac":  # (I - lam W)(I - rho W) y and (I - lam W) X
            lam = float(s[1])
            return self.y - (r + lam) * wy + r * lam * self._lag2(g, self.WWy), self.X - lam * wx
        Xs = self.X if self.model == "sar" else np.hstack([self.X, wx[:, self.vary]])
        return self.y - r * wy, Xs

    def logdet(self, g: np.ndarray, s: np.ndarray) -> float:
        W = self.W(g)
        return float(sum(logdet(W, float(x)) for x in s))

    def loglik(self, g: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Concentrated log-likelihood, betas and innovations at (gamma, s)."""
        s = np.atleast_1d(s)
        ys, Xs = self.design(g, s)
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        e = ys - Xs @ b
        ld = self.logdet(g, s)
        if not np.isfinite(ld):
            return -math.inf, b, e
        return -0.5 * self.n * (_LN2PI + math.log(max(float(e @ e), 1e-300) / self.n) + 1.0) + ld, b, e

    def loglik_full(self, theta: np.ndarray, K: int) -> float:
        """Log-likelihood in (beta, s, gamma_1..gamma_{K-1}), sigma2 concentrated out."""
        g_free = theta[len(theta) - (K - 1):]
        g = np.append(g_free, 1.0 - g_free.sum())
        m = len(theta) - (K - 1) - self.n_spatial
        s, b = theta[m: m + self.n_spatial], theta[:m]
        ys, Xs = self.design(g, s)
        e = ys - Xs @ b
        return -0.5 * self.n * (_LN2PI + math.log(float(e @ e) / self.n) + 1.0) + self.logdet(g, s)

    def profile(self, g: np.ndarray) -> tuple[np.ndarray, float]:
        """(s, loglik) maximising over the spatial parameters for fixed gamma."""
        if self.n_spatial == 1:
            res = optimize.minimize_scalar(lambda r: -self.loglik(g, np.array([r]))[0], bounds=self.bounds,
                                           method="bounded", options={"xatol": 1e-11})
            return np.array([float(res.x)]), float(-res.fun)

        def nll(z: np.ndarray) -> float:
            val = self.loglik(g, z)[0]
            return -val if np.isfinite(val) else 1e300

        # as the single-weights SAC: L-BFGS-B from (0, 0), polished by Nelder-Mead inside the bounds
        best = optimize.minimize(nll, x0=[0.0, 0.0], method="L-BFGS-B", bounds=[self.bounds] * 2,
                                 options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
        polish = optimize.minimize(nll, x0=best.x, method="Nelder-Mead",
                                   options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 2000})
        if polish.fun <= best.fun and np.all((polish.x > self.bounds[0]) & (polish.x < self.bounds[1])):
            best = polish
        return np.asarray(best.x, dtype=float), float(-best.fun)


def _check_weights(weights: Mapping[str, WeightsLike], model: str) -> list[str]:
    """The names of the matrices; errors for a bad mapping."""
    if model not in MIXTURE_MODELS:
        raise InputError(f"a mapping of weights (a convex combination W(gamma)) works with model in "
                         f"{list(MIXTURE_MODELS)}, not {model!r}; pass one weights graph for {model!r}")
    names = list(weights)
    if len(names) < 2:
        raise InputError(f"a mapping of weights needs at least two matrices to combine; it has {names}: pass the "
                         "single graph itself as weights=")
    bad = [n for n in names if not (isinstance(n, str) and n.isidentifier())]
    if bad:
        raise InputError(f"the keys of the weights mapping name the parameters gamma_<key>: {bad} are not valid "
                         "names (use letters, digits and underscores, e.g. 'commuting', 'queen')")
    ids0 = pd.Index(weights[names[0]].unique_ids)
    for n in names[1:]:
        ids = pd.Index(weights[n].unique_ids)
        extra, lacking = ids.difference(ids0), ids0.difference(ids)
        if len(extra) or len(lacking):
            raise InputError(
                f"the weights {names[0]!r} and {n!r} cover different units: {n!r} has {len(extra)} id(s) that "
                f"{names[0]!r} lacks ({format_ids(extra)}) and lacks {len(lacking)} ({format_ids(lacking)}); subset "
                "both to the same units (geoattr.weights.align)")
    return names


def fit_mixture(y: pd.Series, X: pd.DataFrame, weights: Mapping[str, WeightsLike], *, model: str = "sar",
                gamma: Mapping[str, float] | None = None) -> MixtureResults:
    """Spatial model with the weights ``W(gamma) = sum_k gamma_k W_k`` estimated by ML.

    Parameters
    ----------
    y : pandas.Series
        On the (unit, year) index (a cross-section has one year).
    X : pandas.DataFrame
        Regressors (with ``const``); ``sdm`` and ``sdem`` add ``W(gamma) x`` of the varying ones.
    weights : mapping str -> Graph or SparseWeights
        At least two row-standardised weights over the same units, e.g.
        ``{"commuting": g1, "queen": g2}``; the keys name ``gamma_<key>``.
    model : {"sar", "sem", "sdm", "sdem", "sac"}
    gamma : mapping str -> float, optional
        Fix gamma (every key, values >= 0 summing to 1) and estimate the rest; at a
        corner this is the single-weights model.

    Returns
    -------
    MixtureResults
        Model name ``<model>_mix``; ``corner_tests``; ``info["Weights"]`` lists the
        matrices.  See the module docstring for the standard errors and tests.
    """
    names = _check_weights(weights, model)
    K = len(names)
    notes: list[str] = []
    Ws = [data_weights(weights[n], y.index, notes, name=f"weights[{n!r}]") for n in names]
    not_rs = [n for n, W in zip(names, Ws) if not is_row_standardised(W)]
    if not_rs:
        raise InputError(f"the weights {not_rs} are not row-standardised; a convex combination needs row-standardised "
                         "matrices (rows summing to 1) so that rho stays in (-1, 1): use graph.transform('r')")
    Xa = X.to_numpy(dtype=float)
    vary = np.array([np.ptp(Xa[:, j]) > 0 and not c.startswith("year_") for j, c in enumerate(X.columns)])
    prob = _Problem(y.to_numpy(dtype=float), Xa, Ws, model, vary)
    pars = _spatial_names(model)
    corners = [prob.profile(np.eye(K)[k]) for k in range(K)] if gamma is None else None
    if gamma is not None:
        g = _fixed_gamma(gamma, names)
        r, ll = prob.profile(g)
        converged = True
    else:
        g, r, ll, converged = _search(prob, corners, K)
    _, b, e = prob.loglik(g, r)
    durbin = model in ("sdm", "sdem")
    xnames = list(X.columns) + ([f"W_{c}" for c, v in zip(X.columns, vary) if v] if durbin else [])
    free = gamma is None
    theta = np.r_[b, r, g[:-1]] if free else np.r_[b, r]
    H = _hessian(lambda t: prob.loglik_full(t, K) if free else prob.loglik_full(np.r_[t, g[:-1]], K), theta)
    try:
        C = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        C = np.full_like(H, np.nan)
        notes.append("the Hessian of the log-likelihood is singular: no standard errors")
    pnames = xnames + pars
    if free:
        J = np.zeros((len(theta) + 1, len(theta)))  # delta method: gamma_K = 1 - sum of the others
        J[: len(theta), :] = np.eye(len(theta))
        J[-1, len(theta) - (K - 1):] = -1.0
        C = J @ C @ J.T
        pnames += [f"gamma_{n}" for n in names]
        params = np.r_[b, r, g]
        if np.any(g < 1e-6):
            notes.append(f"gamma lies on the boundary of the simplex ({', '.join(n for n, x in zip(names, g) if x < 1e-6)}"
                         " at 0): its standard errors are not valid there; use the corner tests")
    else:
        params = np.r_[b, r]
    gamma_s = pd.Series(g, index=names, name="gamma")
    notes.append(f"W(gamma) = {' + '.join(f'{x:.4f} {n}' for n, x in zip(names, g))}"
                 f"{' (gamma fixed)' if not free else ''}; standard errors from the numerical Hessian of the "
                 "log-likelihood (sigma2 concentrated out; the last gamma by the delta method)")
    if not converged:
        warnings.warn(f"{model.upper()} with mixed weights: the maximisation did not converge", ConvergenceWarning,
                      stacklevel=2)
    return _results(y, prob, g, params, C, pnames, e, ll, model, names, corners, gamma_s, notes,
                    weights)


def _fixed_gamma(gamma: Mapping[str, float], names: list[str]) -> np.ndarray:
    if set(gamma) != set(names):
        raise InputError(f"gamma= must give a value for every weights matrix {names}; it has {sorted(gamma)}")
    g = np.array([float(gamma[n]) for n in names])
    if np.any(g < 0) or abs(g.sum() - 1.0) > 1e-12:
        raise InputError(f"gamma= must be on the simplex (values >= 0 summing to 1); got {dict(gamma)}")
    return g


def _spatial_names(model: str) -> list[str]:
    """The spatial parameters of a mixture model, in the order of ``s``."""
    return {"sem": ["lambda"], "sdem": ["lambda"], "sac": ["rho", "lambda"]}.get(model, ["rho"])


def _search(prob: _Problem, corners: list[tuple[np.ndarray, float]], K: int
            ) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Maximise the concentrated log-likelihood over (s, v) from the corners and the centre."""
    m = prob.n_spatial

    def nll(z: np.ndarray) -> float:
        val = prob.loglik(stick_breaking(z[m:]), z[:m])[0]
        return -val if np.isfinite(val) else 1e300

    starts = [np.r_[r, _corner_v(k, K)] for k, (r, _) in enumerate(corners)]
    centre = np.array([1.0 / (K - k) for k in range(K - 1)])  # stick-breaking of the uniform gamma
    starts.append(np.r_[np.mean([r for r, _ in corners], axis=0), centre])
    bounds = [prob.bounds] * m + [(0.0, 1.0)] * (K - 1)
    best = None
    for z0 in starts:
        # start slightly inside the simplex so that the search can leave a corner
        z0 = np.r_[z0[:m], np.clip(z0[m:], 0.02, 0.98)]
        res = optimize.minimize(nll, z0, method="L-BFGS-B", bounds=bounds,
                                options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500})
        if best is None or res.fun < best.fun:
            best = res
    if not best.success:  # L-BFGS-B stops on line-search trouble near a flat optimum: restart once
        again = optimize.minimize(nll, best.x, method="L-BFGS-B", bounds=bounds,
                                  options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500})
        ok = again.success or abs(again.fun - best.fun) <= 1e-9 * max(1.0, abs(best.fun))
        best = optimize.OptimizeResult(x=again.x if again.fun <= best.fun else best.x,
                                       fun=min(again.fun, best.fun), success=ok)
    k_best = int(np.argmax([ll for _, ll in corners]))
    if corners[k_best][1] >= -best.fun:  # a corner is the maximum
        return np.eye(K)[k_best], corners[k_best][0], corners[k_best][1], True
    return stick_breaking(best.x[m:]), np.asarray(best.x[:m], dtype=float), float(-best.fun), bool(best.success)


def _hessian(f: Any, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian with steps ``1e-4 max(|x_i|, 0.1)``."""
    k = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 0.1)
    H = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


def _corner_table(corners: list[tuple[np.ndarray, float]] | None, ll: float, names: list[str],
                  pars: list[str]) -> pd.DataFrame:
    cols = ["loglik", *pars, "lr", "df", "p_value"]
    if corners is None:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="corner"))
    K = len(names)
    rows = {}
    for n, (r, llk) in zip(names, corners):
        lr = max(2.0 * (ll - llk), 0.0)
        p = 0.5 * stats.chi2.sf(lr, 1) if K == 2 else stats.chi2.sf(lr, K - 1)
        rows[n] = {"loglik": llk, **dict(zip(pars, np.atleast_1d(r))), "lr": lr, "df": K - 1, "p_value": min(p, 1.0) if lr > 0 else 1.0}
    return pd.DataFrame.from_dict(rows, orient="index")[cols].rename_axis("corner")


def _results(y: pd.Series, prob: _Problem, g: np.ndarray, params: np.ndarray, C: np.ndarray, pnames: list[str],
             e: np.ndarray, ll: float, model: str, names: list[str], corners: list[tuple[np.ndarray, float]] | None,
             gamma_s: pd.Series, notes: list[str], weights: Mapping[str, WeightsLike]) -> MixtureResults:
    resid = pd.Series(e, index=y.index, name="resid")
    fitted = (y - resid).rename("fitted")
    units = pd.Index(weights[names[0]].unique_ids)
    balanced = bool((y.groupby(level=1).size() == len(units)).all())
    comps = {n: as_sparse(weights[n], units) for n in names} if balanced else dict(zip(names, prob.Ws))
    Wu = sum((gk * comps[n] for gk, n in zip(g, names)),
             sparse.csr_matrix((len(units), len(units)))).tocsr() if balanced else None
    table = _corner_table(corners, ll, names, _spatial_names(model))
    info = {"Weights": "W(gamma) = " + " + ".join(f"gamma_{n} {n}" for n in names)}
    for n, row in table.iterrows():
        info[f"LR test pure {n}"] = f"LR = {row['lr']:.3f}, p = {row['p_value']:.4g}"
    return MixtureResults(
        corner_tests=table, gamma=gamma_s, components=comps, weights=prob.W(g), unit_weights=Wu,
        params=pd.Series(params, index=pnames, name="estimate"), cov=pd.DataFrame(C, index=pnames, columns=pnames),
        y=y, fitted_values=fitted, resids=resid, nobs=len(y), df_resid=len(y) - len(pnames), loglik=ll,
        rsquared=squared_correlation(y, fitted), model=f"{model}_mix",
        cov_type="ml-hessian", dist="normal", info=info, notes=notes,
        rsquared_definition="squared correlation of y and y - e (pseudo R2)",
    )
