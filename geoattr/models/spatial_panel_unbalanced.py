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

The dummies are dense columns: memory ``n x (N + T)`` doubles (``MAX_DUMMY_CELLS``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError
from geoattr.models.spatial import SpatialResults, fit_spatial
from geoattr.typing import WeightsLike
from geoattr.weights.geometry import align
from geoattr.weights.sparse import as_sparse

__all__ = ["fit_unbalanced_fe", "within_varying", "is_balanced", "keep_balanced", "MAX_DUMMY_CELLS", "KEEP_MODELS"]

#: Most cells (observations x effect dummies) of the dense dummy block.
MAX_DUMMY_CELLS = 60_000_000

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


def _dummies(index: pd.MultiIndex, effects: str) -> pd.DataFrame:
    """Unit dummies (and, two-way, year dummies but the first year's) on ``index``."""
    units, years = index.get_level_values(0), index.get_level_values(1)
    uniq_u, uniq_t = pd.unique(units), sorted(pd.unique(years))
    n_cols = len(uniq_u) + (len(uniq_t) - 1 if effects == "twoway" else 0)
    if len(index) * n_cols > MAX_DUMMY_CELLS:
        raise InputError(
            f"balance='keep' concentrates the effects out with dense dummy columns: {len(index):,} observations x "
            f"{n_cols:,} effects exceed MAX_DUMMY_CELLS = {MAX_DUMMY_CELLS:,}; use balance='drop' (balanced panel, "
            "no dummies) or fewer years")
    cols = {f"fe_unit[{u}]": (units == u).astype(float) for u in uniq_u}
    if effects == "twoway":
        cols.update({f"fe_year[{t}]": (years == t).astype(float) for t in uniq_t[1:]})
    return pd.DataFrame(cols, index=index)


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
    D = _dummies(y.index, effects)
    res = fit_spatial(y, pd.concat([X[varying], D], axis=1), weights, model=model)
    keep = varying + ["rho" if model == "sar" else "lambda"]
    n, N = len(y), y.index.get_level_values(0).nunique()
    T = y.index.get_level_values(1).nunique()
    Dm = D.to_numpy()
    y_within = y - Dm @ np.linalg.lstsq(Dm, y.to_numpy(dtype=float), rcond=None)[0]
    e = res.resids
    fitted = (y_within - e).rename("fitted")
    n_eff = D.shape[1]
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
        df_resid=n - n_eff - len(keep), rsquared=float(np.corrcoef(y_within.to_numpy(), fitted.to_numpy())[0, 1] ** 2),
        info=info, add_notes=notes)
