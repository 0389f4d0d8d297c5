"""Fixed-effects spatial panels on unbalanced panels (``balance="keep"``).

Units may enter or leave the panel (municipal reforms, missing years).  W applies
within each year to the units observed that year: ``W_t`` is the subgraph of the
weights over year *t*'s units, its rows renormalised to sum to 1 for row-standardised
weights (:func:`geoattr.weights.lag.data_weights`), so that the log-Jacobian is
``sum_t log|I - rho W_t|`` (one block per year of the observation-level W).

Estimator (the *direct approach* of Lee and Yu 2010): the unit effects (and with
``effects="twoway"`` the year effects) are parameters, dummy columns of the design,
concentrated out of the likelihood with the regression coefficients.  For the lag
model this regresses ``M y - rho M W y`` on ``M X`` with ``M`` the exact within
projector of the unbalanced panel (the lag of ``y`` is taken *before* removing the
effects); for the error model the dummies are filtered with ``I - lambda W`` like the
other regressors (GLS).  On a balanced panel with unit effects this is exactly
Elhorst's estimator on demeaned data (unit demeaning commutes with ``I_T (x) W``),
i.e. today's :func:`~geoattr.models.spatial_panel.fit_spatial_panel`.  With two-way
effects the two differ (by ~1e-3 in the estimates) unless the columns of W also sum
to 1: Elhorst lags the demeaned y, the direct approach demeans the lag.  So that
``balance="keep"`` equals the balanced estimator whenever the panel *is* balanced,
a balanced panel is passed to the balanced estimator (:func:`keep_balanced`, noted);
the direct approach serves the unbalanced ones.  There is no
orthogonal transformation of an unbalanced panel that commutes with the yearly
``W_t``, so Lee and Yu's bias-free *transformation* approach is not available: the
estimates of rho and beta carry the direct approach's O(1/T) incidental-parameter
bias when ``W_t`` changes over the years, and the error variance is reported with the
degrees-of-freedom correction ``e'e / (n - N)`` (two-way: ``n - N - T + 1``), which
is Lee and Yu's ``T / (T - 1)`` correction on a balanced panel.

No dense dummy columns are built: the effects are handled by the sparse, exact within
transformation of :mod:`geoattr.models.panel_within` (memory ``O(n + N T)``).  For the
lag model the dummy block is replaced by three columns in the dummy space that leave the
likelihood and the (b, rho) block of the inverse information unchanged
(:func:`_fit_lag`); for the error model the effects' GLS and the engine's (b, lambda)
alternate to the joint maximum (:func:`_fit_error`).  Both are pinned to the dense
dummy regressions (1e-8) in the tests.
"""

from __future__ import annotations

from typing import Literal

import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import spsolve

from geoattr.exceptions import ConvergenceWarning, InputError, WeightsSubsetWarning
from geoattr.models.panel_within import EffectProjector
from geoattr.models.results import squared_correlation
from geoattr.models.spatial import SpatialResults, fit_spatial
from geoattr.typing import WeightsLike
from geoattr.weights.geometry import align
from geoattr.weights.lag import data_weights
from geoattr.weights.sparse import as_sparse

__all__ = ["fit_unbalanced_fe", "within_varying", "is_balanced", "keep_balanced", "KEEP_MODELS"]

#: Models that accept ``balance="keep"``.
KEEP_MODELS = ("sar_fe", "sem_fe", "sdm_fe", "sdem_fe")


def within_varying(X: pd.DataFrame) -> list[str]:
    """Columns of ``X`` that vary within at least one unit (the others are absorbed by unit effects)."""
    return [c for c in X.columns if (X[c] - X[c].groupby(level=0).transform("mean")).abs().max() > 1e-12]


def is_balanced(index: pd.MultiIndex) -> bool:
    """Whether every unit of the (unit, year) ``index`` is observed once in every year of it."""
    units, years = index.get_level_values(0), index.get_level_values(1)
    return not index.duplicated().any() and len(index) == units.nunique() * years.nunique()


def keep_balanced(index: pd.MultiIndex, weights: WeightsLike) -> tuple[WeightsLike, str]:
    """``balance="keep"`` on a balanced panel: the weights over the data's units and the note.

    The fit is then today's balanced estimator (Elhorst's within transformation, the lag of
    the demeaned y), so that ``balance="keep"`` equals ``balance="raise"`` whenever the panel
    is balanced, also with two-way effects (where the direct approach lags y before removing
    the year means and differs unless the columns of W sum to 1).  Weights over more units
    are restricted to the data's units as :func:`geoattr.weights.lag.data_weights` does it
    (rows of row-standardised weights renormalised).
    """
    units = pd.Index(pd.unique(index.get_level_values(0)))
    N, T = len(units), index.get_level_values(1).nunique()
    note = (f"balance='keep': the panel is balanced ({N} units x {T} years), so the balanced estimator is used "
            "(within transformation, then the likelihood with T log|I - rho W|)")
    if set(units) == set(weights.unique_ids):
        return weights, note
    Wu = as_sparse(weights, pd.Index(weights.unique_ids))
    sums = np.asarray(Wu.sum(axis=1)).ravel()
    nz = sums[sums != 0]
    row_std = str(getattr(weights, "transformation", "")).upper() == "R" or bool(
        len(nz) and np.allclose(nz, 1.0, rtol=0, atol=1e-9))
    sub = align(weights, sorted(units), renormalise=row_std)
    return sub, note + (f"; the weights restricted to its {N} units" +
                        (", rows renormalised to sum to 1" if row_std else ""))


def _fit_lag(y: pd.Series, X: pd.DataFrame, weights: WeightsLike, P: EffectProjector) -> SpatialResults:
    """SAR with the effects concentrated out, without dummy columns.

    The concentrated likelihood of ``y = rho W y + X b + D a + e`` needs only the residuals
    of y and W y on ``[X, D]``, i.e. of ``M y`` and ``M W y`` on ``M X``.  Replacing ``D`` by
    the two columns ``P y`` and ``P W y`` leaves them unchanged (the rest of the dummy space
    is orthogonal to both), so the estimates, loglik and innovations are those of the dummy
    regression.  Its information matrix profiles the effects out of the rho row through
    ``P W A^-1 (X b + D a)``: a third column ``v`` with that value at the estimate makes the
    (b, rho) block of the inverse information equal to the dummy model's (the likelihood is
    unchanged by ``v``, which lies in the dummy space and gets coefficient 0).
    """
    W = data_weights(weights, y.index, [], warn=False)
    ya = y.to_numpy(dtype=float)
    fe = pd.DataFrame({"_fe_y": P.fitted(ya), "_fe_wy": P.fitted(W @ ya)}, index=y.index)
    Xm = pd.DataFrame(P.within(X.to_numpy(dtype=float)), index=X.index, columns=X.columns)
    first = fit_spatial(y, pd.concat([Xm, fe], axis=1), weights, model="sar")
    rho = float(first.params["rho"])
    structural = ya - rho * (W @ ya) - first.resids.to_numpy()
    A = (sparse.identity(len(ya), format="csc") - rho * W).tocsc()
    v = P.fitted(W @ spsolve(A, structural))
    F = fe.to_numpy()
    if np.linalg.norm(v - F @ np.linalg.lstsq(F, v, rcond=None)[0]) > 1e-10 * max(np.linalg.norm(v), 1e-300):
        fe["_fe_v"] = v  # (otherwise v is already in the span of the two: nothing to add)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsSubsetWarning)  # said by the first fit
        return fit_spatial(y, pd.concat([Xm, fe], axis=1), weights, model="sar")


def _fit_error(y: pd.Series, X: pd.DataFrame, weights: WeightsLike, P: EffectProjector, *, tol: float = 1e-11,
               max_iter: int = 200) -> SpatialResults:
    """SEM with the effects concentrated out, without dummy columns.

    Alternates (i) the GLS of ``B y`` on ``B [X, D]`` (``B = I - lambda W``) for the
    effects ``a`` at the current lambda (sparse, :meth:`EffectProjector.filtered_coefficients`)
    and (ii) the SEM of ``y - D a`` on X (the engine) for (b, lambda), until lambda and b
    move by less than ``tol``: block coordinate ascent on the joint likelihood, converging
    to the dummy regression's maximum.  The information matrix of the error model has no
    lambda-effects block, so lambda's variance is the engine's; b's is
    ``sigma2 (X_B' M_F X_B)^-1``, the dummy regression's block (``X_B = B X``, ``M_F`` the
    annihilator of ``F = B D``).
    """
    W = data_weights(weights, y.index, [], warn=False)
    ya, Xa = y.to_numpy(dtype=float), X.to_numpy(dtype=float)
    b = np.linalg.lstsq(P.within(Xa), P.within(ya), rcond=None)[0]
    lam, a, res, done = 0.0, P.coefficients(ya - Xa @ b), None, False
    ident = sparse.identity(len(ya), format="csr")
    with warnings.catch_warnings():
        for it in range(max_iter):
            if it:
                warnings.simplefilter("ignore", WeightsSubsetWarning)  # said by the first fit
            res = fit_spatial(pd.Series(ya - P.D @ a, index=y.index, name=y.name), X, weights, model="sem")
            new_b, new_lam = res.params[list(X.columns)].to_numpy(), float(res.params["lambda"])
            done = abs(new_lam - lam) < tol and np.max(np.abs(new_b - b)) < tol
            b, lam = new_b, new_lam
            B = ident - lam * W
            a = P.filtered_coefficients(B, B @ (ya - Xa @ b))[0]
            if done:
                break
    if not done:
        warnings.warn(f"balance='keep' SEM: the alternation did not converge in {max_iter} steps", ConvergenceWarning,
                      stacklevel=3)
    XB = B @ Xa
    c, F = P.filtered_coefficients(B, XB)
    XM = XB - F @ c
    e = B @ (ya - Xa @ b - P.D @ a)
    cov = res.cov.copy()
    cov.loc[list(X.columns), list(X.columns)] = float(e @ e) / len(ya) * np.linalg.inv(XM.T @ XM)
    return res.replace(cov=cov, add_notes=[f"effects concentrated out in {it + 1} alternation(s) of the effects' GLS "
                                           "and the error model"])


def fit_unbalanced_fe(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    model: Literal["sar", "sem"],
    effects: Literal["unit", "twoway"] = "unit",
) -> SpatialResults:
    """Fixed-effects spatial lag (``"sar"``) or error (``"sem"``) model on a possibly unbalanced panel.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index, any pattern of observed unit-years; columns of
        ``X`` that do not vary within units (``const``) are removed (noted).
    weights : libpysal.graph.Graph or SparseWeights
        Weights over (at least) the data's units.
    model : {"sar", "sem"}
    effects : {"unit", "twoway"}, default "unit"

    Returns
    -------
    SpatialResults
        ``params`` of the varying regressors and ``rho``/``lambda`` (the effects are not
        reported); ``y`` is the within-transformed y (``M y``), ``resids`` the
        innovations, ``fitted_values = M y - resids`` and ``rsquared`` their squared
        correlation, as for the balanced estimator; ``info`` holds the
        degrees-of-freedom corrected error variance; the notes state the estimator.
    """
    if model not in ("sar", "sem"):
        raise InputError(f"model must be 'sar' or 'sem', got {model!r}")
    if effects not in ("unit", "twoway"):
        raise InputError(f"effects must be 'unit' or 'twoway', got {effects!r}")
    varying = within_varying(X)
    if not varying:
        raise InputError("no regressor varies within units; a fixed-effects model cannot identify any")
    P = EffectProjector(y.index, effects)
    res = (_fit_lag if model == "sar" else _fit_error)(y, X[varying], weights, P)
    keep = varying + ["rho" if model == "sar" else "lambda"]
    n, N = len(y), y.index.get_level_values(0).nunique()
    T = y.index.get_level_values(1).nunique()
    y_within = pd.Series(P.within(y.to_numpy(dtype=float)), index=y.index)
    e = res.resids
    fitted = (y_within - e).rename("fitted")
    n_eff = P.n_effects
    sigma2 = float((e**2).sum()) / (n - n_eff)
    removed = [c for c in X.columns if c not in varying]
    notes = [f"balance='keep': {n} of {N} x {T} unit-years observed; the likelihood uses each year's subgraph of W "
             "over the units observed that year (sum_t log|I - rho W_t|; rows of row-standardised W renormalised "
             "per year); the unit" + (" and year" if effects == "twoway" else "") + " effects are concentrated out "
             "as parameters (Lee and Yu's direct approach)"]
    if removed:
        notes.append(f"time-invariant column(s) absorbed by the unit effects: {removed}")
    info = {**res.info, "Effects": effects, "sigma2 (Lee-Yu corrected)": f"{sigma2:.6g}",
            "N x T": f"{N} x {T} ({n} observed)"}
    return res.replace(
        params=res.params[keep], cov=res.cov.loc[keep, keep], y=y_within.rename(y.name), fitted_values=fitted,
        df_resid=n - n_eff - len(keep), rsquared=squared_correlation(y_within, fitted),
        info=info, add_notes=notes)
