"""Spatial Durbin panels: ``sdm_fe``, ``sdem_fe`` and ``sdm_re``.

The Durbin models add the spatial lags ``W_<x>`` of the (non-constant) regressors to
the lag or error panel models of :mod:`geoattr.models.spatial_panel`:

* ``sdm_fe``: ``y = rho W y + X b + W X theta + mu (+ tau) + e`` — the fixed-effects
  lag model (:func:`~geoattr.models.spatial_panel.fit_spatial_panel`) on ``[X, WX]``;
  ``WX`` is the lag of the raw regressors within each year, then demeaned with the rest
  of the design (as spreg's ``Panel_FE_Lag`` given ``[X, WX]``);
* ``sdem_fe``: ``y = X b + W X theta + mu + u``, ``u = lambda W u + e`` — the
  fixed-effects error model on ``[X, WX]``;
* ``sdm_re``: the random-effects lag model (:func:`~geoattr.models.spatial_panel.fit_sar_re`)
  on ``[X, WX]``.

Impacts: ``sdm_fe`` and ``sdm_re`` have a spatial lag of y, so
:meth:`SpatialResults.impacts <geoattr.models.spatial.SpatialResults.impacts>` gives
the direct/indirect/total impacts of ``(I - rho W)^-1 (b + W theta)`` with simulation
inference.  ``sdem_fe`` has none: its impacts are exactly ``direct = b``,
``indirect = theta``, ``total = b + theta`` (LeSage and Pace 2009), linear in the
estimates, so their standard errors are exact delta-method ones
(:meth:`DurbinErrorResults.impacts`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.models.spatial import SpatialResults, lagged_regressors
from geoattr.models.spatial_panel import balance_panel, fit_sar_re, fit_spatial_panel
from geoattr.typing import WeightsLike
from geoattr.weights.geometry import align
from geoattr.weights.lag import data_weights

__all__ = ["fit_durbin_panel", "DurbinErrorResults", "slx_impacts", "DURBIN_PANEL_MODELS"]

#: The spatial Durbin panel models.
DURBIN_PANEL_MODELS = ("sdm_fe", "sdem_fe", "sdm_re")


def slx_impacts(params: pd.Series, cov: pd.DataFrame, *, level: float = 0.95,
                lag_prefix: str = "W_") -> pd.DataFrame:
    """Impacts of a model without a spatial lag of y (SLX, SDEM): direct ``b``, indirect ``theta``.

    Parameters
    ----------
    params, cov : Series, DataFrame
        Estimates with ``x`` and ``W_x`` terms and their covariance.
    level : float, default 0.95
        Of the normal confidence intervals.
    lag_prefix : str, default ``"W_"``

    Returns
    -------
    pandas.DataFrame
        As :func:`geoattr.models.impacts.impacts`: index (variable, effect) with effect in
        direct / indirect / total; columns ``estimate``, ``std_error``, ``lower``,
        ``upper``, ``z``, ``p``.  Variables without a ``W_`` term have indirect 0 with
        standard error 0.  ``total`` has the delta-method variance
        ``var b + var theta + 2 cov(b, theta)`` (exact: the impacts are linear).
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    names = [v for v in params.index if v not in ("const", "lambda", "rho") and not v.startswith(lag_prefix)
             and not v.startswith("year_")]
    rows, index = [], []
    q = stats.norm.ppf(0.5 + level / 2)
    for v in names:
        lag = f"{lag_prefix}{v}"
        has = lag in params.index
        th, vth = (params[lag], cov.loc[lag, lag]) if has else (0.0, 0.0)
        cbt = cov.loc[v, lag] if has else 0.0
        for effect, est, var in (("direct", params[v], cov.loc[v, v]), ("indirect", th, vth),
                                 ("total", params[v] + th, cov.loc[v, v] + vth + 2 * cbt)):
            se = float(np.sqrt(max(var, 0.0)))
            z = est / se if se > 0 else np.nan
            rows.append([est, se, est - q * se, est + q * se, z, 2 * stats.norm.sf(abs(z)) if se > 0 else np.nan])
            index.append((v, effect))
    out = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["variable", "effect"]),
                       columns=["estimate", "std_error", "lower", "upper", "z", "p"])
    out.attrs.update(impacts_method="analytic", trace_method="none", error_bound=0.0, draws_dropped=0,
                     notes="impacts without a spatial lag of y: direct = b, indirect = theta (W_x), "
                           "total = b + theta, with exact delta-method standard errors")
    return out


class DurbinErrorResults(SpatialResults):
    """Results of ``sdem_fe``: :meth:`impacts` are ``b``, ``theta`` and their sum."""

    def impacts(self, *, draws: int = 1000, level: float = 0.95, seed: int = 0, method: str = "auto") -> pd.DataFrame:
        """Direct (``b``), indirect (``theta``) and total impacts with exact delta-method inference.

        ``draws``, ``seed`` and ``method`` are accepted for the common signature and not
        used (the impacts are linear in the estimates); see :func:`slx_impacts`.
        """
        return slx_impacts(self._params, self._cov, level=level)


def fit_durbin_panel(
    y: pd.Series,
    X: pd.DataFrame,
    weights: WeightsLike,
    *,
    model: Literal["sdm_fe", "sdem_fe", "sdm_re"],
    effects: Literal["unit", "twoway"] = "unit",
    balance: Literal["raise", "drop", "keep"] = "raise",
) -> SpatialResults:
    """Spatial Durbin panel model: the lag or error panel model with ``W_<x>`` regressors.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index; ``X`` without ``W_`` columns (the model adds them).
    weights : libpysal.graph.Graph or SparseWeights
        Weights over the units.
    model : {"sdm_fe", "sdem_fe", "sdm_re"}
    effects : {"unit", "twoway"}, default "unit"
        Fixed-effects models only.
    balance : {"raise", "drop", "keep"}, default "raise"
        ``"keep"`` (``sdm_fe``, ``sdem_fe``): unbalanced panels, see
        :mod:`geoattr.models.spatial_panel_unbalanced`.

    Returns
    -------
    SpatialResults
        (:class:`DurbinErrorResults` for ``sdem_fe``) with ``W_<x>`` terms in ``params``.
    """
    if model not in DURBIN_PANEL_MODELS:
        raise InputError(f"model must be one of {DURBIN_PANEL_MODELS}, got {model!r}")
    if balance == "keep" and model == "sdm_re":
        raise InputError("balance='keep' is for sar_fe, sem_fe, sdm_fe and sdem_fe; sdm_re needs a balanced panel "
                         "(balance='drop' drops the incomplete units)")
    spatial = [c for c in X.columns if c.startswith("W_")]
    if spatial:
        raise InputError(f"model={model!r} adds the spatial lags of the regressors itself; drop the W(...) terms "
                         f"{spatial} from the formula")
    notes: list[str] = []
    if balance != "keep":
        units = pd.Index(weights.unique_ids)
        y, X, dropped = balance_panel(y, X, units, balance=balance)
        if dropped:
            weights = align(weights, sorted(set(units) - set(dropped)))
            notes.append(f"balance='drop': {len(dropped)} unit(s) dropped: {format_ids(dropped)}")
    XW = lagged_regressors(X, data_weights(weights, y.index, [], warn=False))
    if model == "sdm_re":
        res = fit_sar_re(y, XW, weights, balance="raise")
    else:  # already balanced (or kept as it is): nothing more to drop
        res = fit_spatial_panel(y, XW, weights, model="sar_fe" if model == "sdm_fe" else "sem_fe", effects=effects,
                                balance="keep" if balance == "keep" else "raise")
    res = res.replace(model=model, add_notes=notes)
    if model == "sdem_fe":
        # same constructor arguments, the class whose impacts() suit a model without rho
        return DurbinErrorResults(**res._init_kwargs)
    return res
