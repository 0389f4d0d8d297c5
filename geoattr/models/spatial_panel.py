"""Spatial panel models with fixed effects: SAR-FE and SEM-FE.

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

from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr.accounting import format_ids
from geoattr.exceptions import InputError
from geoattr.models.spatial import SpatialResults, fit_spatial

__all__ = ["fit_spatial_panel", "fit_sar_re", "balance_panel"]


def balance_panel(y: pd.Series, X: pd.DataFrame, units: pd.Index, *, balance: Literal["raise", "drop"] = "raise"):
    """Check (or enforce) a balanced panel over ``units``.

    Returns
    -------
    (y, X, dropped_units)
    """
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


def fit_spatial_panel(
    y: pd.Series,
    X: pd.DataFrame,
    graph: Any,
    *,
    model: Literal["sar_fe", "sem_fe"],
    effects: Literal["unit", "twoway"] = "unit",
    balance: Literal["raise", "drop"] = "raise",
) -> SpatialResults:
    """Fixed-effects spatial lag or spatial error panel model.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index; ``const`` and other time-invariant columns are
        removed by the within transformation.
    graph : libpysal.graph.Graph
        Weights over the units.
    model : {"sar_fe", "sem_fe"}
    effects : {"unit", "twoway"}, default "unit"
    balance : {"raise", "drop"}, default "raise"

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
    units = pd.Index(graph.unique_ids)
    y, X, dropped = balance_panel(y, X, units, balance=balance)
    if dropped:
        from geoattr.weights import align

        graph = align(graph, sorted(set(units) - set(dropped)))
    N = y.index.get_level_values(0).nunique()
    T = y.index.get_level_values(1).nunique()

    def within(df):
        out = df - df.groupby(level=0).transform("mean")
        if effects == "twoway":
            out = out - df.groupby(level=1).transform("mean") + df.mean()
        return out

    varying = [c for c in X.columns if (X[c] - X[c].groupby(level=0).transform("mean")).abs().max() > 1e-12]
    if not varying:
        raise InputError("no regressor varies within units; a fixed-effects model cannot identify any")
    yw = within(y.to_frame("y"))["y"].rename(y.name)
    Xw = within(X[varying])
    res = fit_spatial(yw, Xw, graph, model="sar" if model == "sar_fe" else "sem")
    factor = T / (T - 1) if effects == "unit" else N * T / ((N - 1) * (T - 1))
    sigma2 = float((res.resids**2).mean())
    res.model = model
    res.info.update({"Effects": effects, "sigma2 (Lee-Yu corrected)": f"{sigma2 * factor:.6g}",
                     "N x T": f"{N} x {T}"})
    if dropped:
        res.notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    removed = [c for c in X.columns if c not in varying]
    if removed:
        res.notes.append(f"time-invariant column(s) absorbed by the unit effects: {removed}")
    return res


def fit_sar_re(
    y: pd.Series,
    X: pd.DataFrame,
    graph: Any,
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
    from scipy import optimize

    from geoattr.models.diagnostics import panel_weights

    units = pd.Index(graph.unique_ids)
    y, X, dropped = balance_panel(y, X, units, balance=balance)
    if dropped:
        from geoattr.weights import align

        graph = align(graph, sorted(set(units) - set(dropped)))
    N = y.index.get_level_values(0).nunique()
    T = y.index.get_level_values(1).nunique()
    W = panel_weights(graph, y.index)
    ybar = y.groupby(level=0).transform("mean").to_numpy()
    Xbar = X.groupby(level=0).transform("mean").to_numpy()
    ya, Xa = y.to_numpy(dtype=float), X.to_numpy(dtype=float)
    Wy, WX = W @ ya, W @ Xa
    Wybar = W @ ybar

    def transform(phi: float):
        c = 1.0 - np.sqrt(phi)
        return ya - c * ybar, Xa - c * Xbar, Wy - c * Wybar

    from linearmodels.panel import RandomEffects

    theta0 = float(np.asarray(RandomEffects(y, X, check_rank=False).fit().theta).mean())
    phi = float(np.clip((1.0 - theta0) ** 2, 1e-6, 1.0))
    res = None
    for _ in range(max_iter):
        ys, Xs, _ = transform(phi)
        res = fit_spatial(pd.Series(ys, index=y.index, name=y.name), pd.DataFrame(Xs, index=X.index, columns=X.columns),
                          graph, model="sar")
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
                      graph, model="sar")
    res.model = "sar_re"
    res.loglik = res.loglik + N / 2 * np.log(phi)
    res.info.update({"phi": f"{phi:.6f}", "theta": f"{1 - np.sqrt(phi):.6f}", "N x T": f"{N} x {T}"})
    res.notes.append("standard errors of (b, rho) conditional on phi")
    if dropped:
        res.notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    return res
