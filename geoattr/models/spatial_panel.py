"""Spatial panel models: SAR-FE and SEM-FE, and the random-effects SAR-RE and SEM-RE.

Elhorst's (2003, 2014) estimator: remove the unit (and optionally year) means, then
maximise the likelihood of the spatial lag or error model on the transformed data
with ``log|I_NT - rho (I_T (x) W)| = T log|I_N - rho W|``.  The error variance is
bias-corrected as Lee and Yu (2010) show for the unit-demeaned model
(``sigma2 * T / (T - 1)``; with two-way effects ``NT / ((N - 1)(T - 1))``); the
coefficients are the ML estimates.  The panel must be balanced: every unit of the
weights in every year (or pass ``balance="drop"`` to drop incomplete units, which is
reported).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from linearmodels.panel import RandomEffects
from scipy import optimize, sparse
from scipy.sparse import linalg as spla

from geoattr._format import format_ids
from geoattr.exceptions import ConvergenceWarning, InputError
from geoattr.models.ml_jacobian import check_bounds, default_bounds, is_row_standardised
from geoattr.models.results import squared_correlation
from geoattr.models.spatial import SpatialResults, fit_spatial
from geoattr.models.spatial_panel_unbalanced import fit_unbalanced_fe, is_balanced, keep_balanced, within_varying
from geoattr.weights.sparse import as_sparse
from geoattr.weights.geometry import align
from geoattr.weights.lag import panel_weights
from geoattr.typing import WeightsLike

__all__ = ["fit_spatial_panel", "fit_sar_re", "fit_sem_re", "balance_panel", "fill_ordering", "sem_re_bounds"]


def balance_panel(y: pd.Series, X: pd.DataFrame, units: pd.Index, *, balance: Literal["raise", "drop"] = "raise"):
    """Check (or enforce) a balanced panel over ``units``.

    Returns
    -------
    (y, X, dropped_units)
    """
    if balance not in ("raise", "drop"):
        keep = " (balance='keep' is for sar_fe, sem_fe, sdm_fe and sdem_fe)" if balance == "keep" else ""
        raise InputError(f"balance must be 'raise' or 'drop' here, got {balance!r}{keep}")
    years = sorted(y.index.get_level_values(1).unique())
    present = y.groupby(level=0).size()
    full = set(present.index[present == len(years)])
    incomplete = sorted((set(units) - full) | (set(present.index) - set(units)))
    if not incomplete:
        return y, X, []
    if balance == "raise":
        raise InputError(
            f"the spatial panel models need a balanced panel: {len(incomplete)} unit(s) are not observed in all "
            f"{len(years)} years or are not in the weights: {format_ids(incomplete)}. Pass balance='drop' to drop "
            "them (they are reported), or restrict years=."
        )
    keep = ~y.index.get_level_values(0).isin(incomplete)
    return y[keep], X[keep], incomplete



def _balanced(y: pd.Series, X: pd.DataFrame, weights: WeightsLike, balance: str):
    """(y, X, weights, dropped units, (N, T)) after :func:`balance_panel` on the weights' units."""
    units = pd.Index(weights.unique_ids)
    y, X, dropped = balance_panel(y, X, units, balance=balance)
    if dropped:
        weights = align(weights, sorted(set(units) - set(dropped)))
    return y, X, weights, dropped, (y.index.get_level_values(0).nunique(), y.index.get_level_values(1).nunique())


def fit_spatial_panel(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    model: Literal["sar_fe", "sem_fe"],
    effects: Literal["unit", "twoway"] = "unit",
    balance: Literal["raise", "drop", "keep"] = "raise",
) -> SpatialResults:
    """Fixed-effects spatial lag or spatial error panel model.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index; ``const`` and other time-invariant columns are
        removed by the within transformation.
    weights : libpysal.graph.Graph or SparseWeights
        Weights over the units.
    model : {"sar_fe", "sem_fe"}
    effects : {"unit", "twoway"}, default "unit"
    balance : {"raise", "drop", "keep"}, default "raise"
        ``"keep"``: an unbalanced panel as it is, with each year's subgraph of W
        (:func:`geoattr.models.spatial_panel_unbalanced.fit_unbalanced_fe`).

    Returns
    -------
    SpatialResults
        ``model`` is ``sar_fe`` or ``sem_fe``; ``info`` holds the bias-corrected
        error variance.
    """
    if model not in ("sar_fe", "sem_fe"):
        raise InputError(f"model must be 'sar_fe' or 'sem_fe', got {model!r}")
    if effects not in ("unit", "twoway"):
        raise InputError(f"effects must be 'unit' or 'twoway', got {effects!r}")
    notes = []
    if balance == "keep":
        if not is_balanced(y.index):
            res = fit_unbalanced_fe(y, X, weights, model="sar" if model == "sar_fe" else "sem", effects=effects)
            return res.replace(model=model)
        weights, note = keep_balanced(y.index, weights)
        notes.append(note)
        balance = "raise"
    if balance not in ("raise", "drop"):
        raise InputError(f"balance must be 'raise', 'drop' or 'keep', got {balance!r}")
    y, X, weights, dropped, (N, T) = _balanced(y, X, weights, balance)

    def within(df):
        out = df - df.groupby(level=0).transform("mean")
        if effects == "twoway":
            out = out - df.groupby(level=1).transform("mean") + df.mean()
        return out

    varying = within_varying(X)
    if not varying:
        raise InputError("no regressor varies within units; a fixed-effects model cannot identify any")
    yw = within(y.to_frame("y"))["y"].rename(y.name)
    Xw = within(X[varying])
    res = fit_spatial(yw, Xw, weights, model="sar" if model == "sar_fe" else "sem")
    factor = T / (T - 1) if effects == "unit" else N * T / ((N - 1) * (T - 1))
    sigma2 = float((res.resids**2).mean())
    if dropped:
        notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    removed = [c for c in X.columns if c not in varying]
    if removed:
        notes.append(f"time-invariant column(s) absorbed by the unit effects: {removed}")
    info = {**res.info, "Effects": effects, "sigma2 (Lee-Yu corrected)": f"{sigma2 * factor:.6g}",
            "N x T": f"{N} x {T}"}
    return res.replace(model=model, info=info, add_notes=notes)


def fit_sar_re(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    balance: Literal["raise", "drop"] = "raise",
    tol: float = 1e-8,
    max_iter: int = 50,
) -> SpatialResults:
    """Random-effects spatial lag panel ``y = rho (I_T (x) W) y + X b + mu + e`` (Elhorst 2003).

    With ``phi = s2_e / (T s2_mu + s2_e)`` the quasi-demeaning ``y - (1 - sqrt(phi)) ybar_i``
    commutes with ``I_T (x) W``, so for given ``phi`` the model is the lag model on the
    transformed data; ``phi`` maximises the likelihood concentrated in the error
    variance, ``-NT/2 log(e'e) + N/2 log(phi)``.  The two steps alternate until
    ``phi`` changes by less than ``tol``, starting from the non-spatial random-effects
    value.  Standard errors of (b, rho) are the lag model's, conditional on ``phi``
    (the information matrix is treated as block-diagonal between phi and (b, rho)).

    Returns
    -------
    SpatialResults
        ``model="sar_re"``; ``info`` holds ``phi`` and the implied ``theta = 1 - sqrt(phi)``;
        the log-likelihood includes ``N/2 log(phi)``.
    """
    y, X, weights, dropped, (N, T) = _balanced(y, X, weights, balance)
    W = panel_weights(weights, y.index)
    ybar = y.groupby(level=0).transform("mean").to_numpy()
    Xbar = X.groupby(level=0).transform("mean").to_numpy()
    ya, Xa = y.to_numpy(dtype=float), X.to_numpy(dtype=float)
    Wy = W @ ya
    Wybar = W @ ybar

    def transform(phi: float):
        c = 1.0 - np.sqrt(phi)
        return ya - c * ybar, Xa - c * Xbar, Wy - c * Wybar

    theta0 = float(np.asarray(RandomEffects(y, X, check_rank=False).fit().theta).mean())
    phi = float(np.clip((1.0 - theta0) ** 2, 1e-6, 1.0))
    res = None
    for _ in range(max_iter):
        ys, Xs, _ = transform(phi)
        res = fit_spatial(pd.Series(ys, index=y.index, name=y.name), pd.DataFrame(Xs, index=X.index, columns=X.columns),
                          weights, model="sar")
        rho = res.params["rho"]
        b = res.params[list(X.columns)].to_numpy()

        def nll(p: float) -> float:
            ys_, Xs_, Wys_ = transform(p)
            e = ys_ - rho * Wys_ - Xs_ @ b
            return len(ya) / 2 * np.log(e @ e) - N / 2 * np.log(p)

        new = float(optimize.minimize_scalar(nll, bounds=(1e-6, 1.0), method="bounded",
                                             options={"xatol": tol / 10}).x)
        if abs(new - phi) < tol:
            phi = new
            break
        phi = new
    ys, Xs, _ = transform(phi)
    res = fit_spatial(pd.Series(ys, index=y.index, name=y.name), pd.DataFrame(Xs, index=X.index, columns=X.columns),
                      weights, model="sar")
    notes = ["standard errors of (b, rho) conditional on phi"]
    if dropped:
        notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    info = {**res.info, "phi": f"{phi:.6f}", "theta": f"{1 - np.sqrt(phi):.6f}", "N x T": f"{N} x {T}"}
    return res.replace(model="sar_re", loglik=res.loglik + N / 2 * np.log(phi), info=info, add_notes=notes)


def fit_sem_re(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    balance: Literal["raise", "drop"] = "raise",
    bounds: tuple[float, float] | None = None,
) -> SpatialResults:
    """Random-effects spatial error panel (Elhorst 2003; spreg's ``Panel_RE_Error``).

    ``y_t = X_t b + mu + e_t``, ``e_t = lambda W e_t + v_t``: the unit effects ``mu``
    (variance ``s2_mu = phi^2 s2``) are not spatially correlated, the remainder is.
    With ``B = I - lambda W``, ``A = B'B`` and ``C = I + T phi^2 A`` the inverse
    covariance is ``(1/s2) [Jbar (x) A C^-1 + E (x) A]`` (``Jbar`` the time-mean
    operator, ``E = I - Jbar``), so for given ``(lambda, phi)`` the GLS quadratic form
    needs only products with the sparse ``B`` and sparse solves with ``C``; the
    concentrated log-likelihood is

    ``-NT/2 (log 2pi + 1) - NT/2 log(Q/NT) - 1/2 log|C| + T log|B|``

    with both log-determinants from sparse LU factorisations (spreg uses the dense
    eigenvalues of ``W``; no dense ``N x N`` matrix is built here).  ``(lambda, phi)``
    maximise it (L-BFGS-B, then a Nelder-Mead polish); ``b`` is the GLS estimate.

    Standard errors: ``b`` from ``s2 (X' Omega^-1 X)^-1`` (as spreg); ``lambda`` from
    the observed information of the concentrated log-likelihood in ``(lambda, phi)``
    (a central-difference Hessian).

    Reference: the tests check the log-likelihood and the optimum against the dense
    exact Gaussian likelihood with the explicit ``NT x NT`` covariance.  spreg's
    ``Panel_RE_Error`` is not used as the reference: it takes the log-determinant and
    the transformation from the eigenvalues of a *symmetrised* binary ``W``
    (exact only when that equals the user's ``W``), and on regular test grids
    (spreg 1.9) its optimiser steps to ``lambda = 1`` and fails with a singular matrix.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index; X with ``const``.  Balanced over the weights' units.
    weights : libpysal.graph.Graph or SparseWeights
    balance : {"raise", "drop"}, default "raise"
    bounds : (float, float), optional
        Interval of lambda; default ``(-0.99, 0.99)`` for row-standardised weights,
        otherwise ``0.99 (1/lambda_min, 1/lambda_max)`` from the extreme eigenvalues of
        W (:func:`sem_re_bounds`).

    Returns
    -------
    SpatialResults
        ``model="sem_re"``; ``params`` end with ``lambda``; ``info`` holds ``phi``,
        ``sigma2`` and ``sigma2_mu``; ``resids`` are the innovations
        ``v_t = B (y_t - X_t b - mu_hat)`` with ``mu_hat`` the best linear unbiased
        predictor of the unit effects; ``fitted_values`` are ``X b``.
    """
    units = pd.Index(weights.unique_ids)
    y, X, dropped = balance_panel(y, X, units, balance=balance)
    if dropped:
        weights = align(weights, sorted(set(units) - set(dropped)))
        units = pd.Index(weights.unique_ids)
    years = sorted(y.index.get_level_values(1).unique())
    N, T, k = len(units), len(years), X.shape[1]
    full = pd.MultiIndex.from_product([units, years])
    Y = y.reindex(full).to_numpy(dtype=float).reshape(N, T).T  # (T, N)
    Xa = X.reindex(full).to_numpy(dtype=float).reshape(N, T, k).transpose(1, 0, 2)  # (T, N, k)
    W_units = as_sparse(weights, units).tocsr()
    lo, hi = check_bounds(bounds, W_units) if bounds is not None else sem_re_bounds(W_units)
    lik = _SemReLikelihood(Y, Xa, W_units)
    lam, phi, fx, H = _sem_re_optimum(lik, _sem_re_start(Y, Xa, lik.W, lo, hi), lo, hi)
    G, lu = lik.pieces(lam, phi)
    b, Q = lik.gls(G)
    s2 = Q / (N * T)
    loglik = -N * T / 2 * (np.log(2 * np.pi) + 1) - fx
    # observed information of the concentrated likelihood in (lambda, phi): H from the Newton step
    var_lam = float(np.linalg.inv(H)[0, 0]) if np.all(np.linalg.eigvalsh(H) > 0) else float("nan")
    names = list(X.columns) + ["lambda"]
    params = pd.Series(np.r_[b, lam], index=names, name="estimate")
    cov = np.zeros((k + 1, k + 1))
    cov[:k, :k] = s2 * np.linalg.inv(G[1:, 1:])
    cov[k, k] = var_lam
    v = lik.innovations(b, lam, phi, lu)
    resid = pd.Series(v.T.ravel(), index=full).reindex(y.index).rename("resid")
    xb = np.einsum("tnk,k->tn", Xa, b)
    fitted = pd.Series(xb.T.ravel(), index=full).reindex(y.index).rename("fitted")
    notes = ["standard error of lambda from the observed information of the concentrated likelihood"]
    if min(lam - lo, hi - lam) < 1e-4:
        warnings.warn(f"SEM-RE: lambda = {lam:.4f} sits on the edge of its interval ({lo}, {hi})",
                      ConvergenceWarning, stacklevel=2)
    if dropped:
        notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    return SpatialResults(
        weights=panel_weights(weights, y.index), unit_weights=lik.W, params=params,
        cov=pd.DataFrame(cov, index=names, columns=names), y=y,
        fitted_values=fitted, resids=resid, nobs=len(y), df_resid=len(y) - len(params), loglik=float(loglik),
        rsquared=squared_correlation(y, fitted), model="sem_re", cov_type="ml",
        dist="normal", notes=notes, rsquared_definition="squared correlation of y and X b",
        info={"phi": f"{phi:.6f}", "sigma2": f"{s2:.6g}", "sigma2_mu": f"{phi**2 * s2:.6g}", "N x T": f"{N} x {T}"},
    )


class _SemReLikelihood:
    """The concentrated SEM-RE log-likelihood in (lambda, phi) with sparse LU factorisations.

    ``Y`` is (T, N), ``Xa`` (T, N, k), ``W`` the N x N weights.  The within part
    ``sum_t (B D_t)'(B D_t)`` is a quadratic in lambda whose matrices are precomputed;
    fixed fill-reducing orderings are computed once and reused by every factorisation.
    """

    def __init__(self, Y: np.ndarray, Xa: np.ndarray, W: sparse.csr_matrix) -> None:
        T, N = Y.shape
        self.T, self.N, self.W = T, N, W
        Z = np.concatenate([Y[:, :, None], Xa], axis=2)  # (T, N, 1 + k): y first
        self.Zbar = Z.mean(axis=0)  # (N, 1 + k)
        D = Z - self.Zbar  # deviations from unit means
        WD = np.stack([W @ D[t] for t in range(T)])
        self.M0 = np.einsum("tni,tnj->ij", D, D)
        M1 = np.einsum("tni,tnj->ij", D, WD)
        self.M1 = M1 + M1.T
        self.M2 = np.einsum("tni,tnj->ij", WD, WD)
        self.WZbar = W @ self.Zbar
        self.I = sparse.identity(N, format="csc")
        self.WtW = (W.T @ W).tocsc()
        self.perm_B = fill_ordering(self.I + W)
        self.perm_C = fill_ordering(self.I + W + W.T + self.WtW)
        self.ld_B_cache: dict[float, float] = {}
        self.Y, self.Xa = Y, Xa

    @staticmethod
    def factor(M: Any, perm: np.ndarray, symmetric: bool) -> Any:
        Mp = M.tocsr()[perm][:, perm].tocsc()
        opts = {"SymmetricMode": True} if symmetric else {}
        return spla.splu(Mp, permc_spec="NATURAL", diag_pivot_thresh=0.0 if symmetric else 1.0, options=opts)

    @staticmethod
    def logdet(lu: Any) -> float:
        return float(np.sum(np.log(np.abs(lu.U.diagonal()))))

    def solve_C(self, lu: Any, rhs: np.ndarray) -> np.ndarray:
        sol = np.empty_like(rhs)
        sol[self.perm_C] = lu.solve(np.ascontiguousarray(rhs[self.perm_C]))
        return sol

    def pieces(self, lam: float, phi: float) -> tuple[np.ndarray, Any]:
        W, I, T = self.W, self.I, self.T
        G = self.M0 - lam * self.M1 + lam**2 * self.M2
        BZ = self.Zbar - lam * self.WZbar
        A_Zbar = BZ - lam * (W.T @ BZ)
        C = I + (T * phi**2) * (I - lam * (W + W.T) + lam**2 * self.WtW)
        lu = self.factor(C, self.perm_C, True)
        G = G + T * self.Zbar.T @ self.solve_C(lu, A_Zbar)
        return (G + G.T) / 2, lu

    @staticmethod
    def gls(G: np.ndarray) -> tuple[np.ndarray, float]:
        Gxx, Gxy = G[1:, 1:], G[1:, 0]
        b = np.linalg.solve(Gxx, Gxy)
        return b, float(G[0, 0] - Gxy @ b)

    def nll(self, p: np.ndarray) -> float:
        lam, phi = float(p[0]), float(p[1])
        N, T = self.N, self.T
        G, lu = self.pieces(lam, phi)
        _, Q = self.gls(G)
        if lam not in self.ld_B_cache:
            self.ld_B_cache[lam] = self.logdet(self.factor(self.I - lam * self.W, self.perm_B, False))
        return N * T / 2 * np.log(Q / (N * T)) + 0.5 * self.logdet(lu) - T * self.ld_B_cache[lam]

    def fd(self, p0: np.ndarray, h: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, central-difference gradient and Hessian of nll at p0."""
        nll = self.nll
        f0 = nll(p0)
        g, H = np.empty(2), np.empty((2, 2))
        fp = [nll(p0 + np.eye(2)[i] * h[i]) for i in range(2)]
        fm = [nll(p0 - np.eye(2)[i] * h[i]) for i in range(2)]
        for i in range(2):
            g[i] = (fp[i] - fm[i]) / (2 * h[i])
            H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
        e0, e1 = np.array([h[0], 0]), np.array([0, h[1]])
        H[0, 1] = H[1, 0] = (nll(p0 + e0 + e1) - nll(p0 + e0 - e1) - nll(p0 - e0 + e1)
                             + nll(p0 - e0 - e1)) / (4 * h[0] * h[1])
        return f0, g, H

    def innovations(self, b: np.ndarray, lam: float, phi: float, lu: Any) -> np.ndarray:
        """``v_t = B (u_t - mu_hat)``, mu_hat the BLUP of the unit effects ``T phi^2 A C^-1 ubar``."""
        T = self.T
        e = self.Y - np.einsum("tnk,k->tn", self.Xa, b)  # composite errors mu + e_t
        ebar = e.mean(axis=0)
        B = (self.I - lam * self.W).tocsr()
        sol = self.solve_C(lu, ebar)
        mu_hat = T * phi**2 * (B.T @ (B @ sol))
        return np.stack([B @ (e[t] - mu_hat) for t in range(T)])


def fill_ordering(M: sparse.spmatrix) -> np.ndarray:
    """Fill-reducing symmetric ordering of ``M`` from its sparsity pattern alone.

    SuperLU's minimum degree on the pattern of ``M' + M`` (``permc_spec="MMD_AT_PLUS_A"``;
    SuperLU factors ``Pr A Pc`` with ``A Pc = A[:, argsort(perm_c)]``).  The ordering
    depends only on the pattern, so the matrix factorised to obtain it has ``M``'s
    pattern with values made strictly diagonally dominant: it is never singular, even
    when ``M`` is (``I + W`` for a W with the eigenvalue -1, e.g. a binary lattice).
    """
    P = abs(sparse.csc_matrix(M, dtype=float))
    P = (P + sparse.diags(np.asarray(P.sum(axis=1)).ravel() + 1.0)).tocsc()
    return np.argsort(spla.splu(P, permc_spec="MMD_AT_PLUS_A").perm_c)


def sem_re_bounds(W: sparse.csr_matrix) -> tuple[float, float]:
    """Default interval of lambda: ``(-0.99, 0.99)`` for a row-standardised W, else
    ``0.99 (1/lambda_min, 1/lambda_max)`` from the extreme eigenvalues of W."""
    if is_row_standardised(W):
        return (-0.99, 0.99)
    lo, hi = default_bounds(W)
    return (0.99 * lo, 0.99 * hi)


def _sem_re_start(Y: np.ndarray, Xa: np.ndarray, W: sparse.csr_matrix, lo: float, hi: float) -> list[float]:
    """Start values: lambda from the within residuals regressed on their spatial lag, phi from
    the between/within variance split of the pooled OLS residuals (both cheap moments)."""
    T, N, k = Xa.shape
    b_ols = np.linalg.lstsq(Xa.reshape(T * N, k), Y.reshape(T * N), rcond=None)[0]
    u = Y - Xa @ b_ols
    dev = u - u.mean(axis=0)
    Wdev = np.stack([W @ dev[t] for t in range(T)])
    lam0 = float(np.clip(np.sum(dev * Wdev) / max(np.sum(Wdev * Wdev), 1e-300), lo + 0.05, hi - 0.05))
    s2_e = float(np.sum(dev**2)) / (N * (T - 1))
    s2_mu = max(float(np.var(u.mean(axis=0))) - s2_e / T, 0.01 * s2_e)
    return [lam0, float(np.sqrt(s2_mu / s2_e))]


def _sem_re_optimum(lik: _SemReLikelihood, x0: list[float], lo: float, hi: float):
    """L-BFGS-B, then one Newton step on the finite-difference derivatives (the optimum is
    interior and smooth); its Hessian also gives the standard error of lambda.

    Returns (lambda, phi, nll at the optimum, Hessian).
    """
    best = optimize.minimize(lik.nll, x0=x0, method="L-BFGS-B", bounds=[(lo, hi), (0.0, 1e4)],
                             options={"ftol": 1e-10, "gtol": 1e-6, "maxiter": 500})
    x, fx = np.asarray(best.x, dtype=float), float(best.fun)
    h = 1e-4 * np.maximum(np.abs(x), 1e-2)
    _, g, H = lik.fd(x, h)
    if np.all(np.linalg.eigvalsh(H) > 0):
        cand = x - np.linalg.solve(H, g)
        if lo < cand[0] < hi and cand[1] >= 0 and (fc := lik.nll(cand)) <= fx:
            x, fx = cand, fc
    return float(x[0]), abs(float(x[1])), fx, H
