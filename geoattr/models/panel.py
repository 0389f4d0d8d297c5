"""Panel estimators (fixed effects, random effects, first differences) via linearmodels.

The numbers come from :mod:`linearmodels.panel`; geoattr maps its options onto the
names used across geoattr (``effects="unit" | "time" | "twoway"``, ``cov_type``) and
returns the common :class:`~geoattr.models.results.RegressionResults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from linearmodels.panel import FirstDifferenceOLS, PanelOLS, RandomEffects
from scipy import stats

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.models.results import RegressionResults

__all__ = ["fit_panel", "hausman", "HypothesisTest", "PANEL_COV_TYPES"]

Effects = Literal["unit", "time", "twoway"] | None
#: ``cov_type`` of the panel models -> (linearmodels ``cov_type``, its keyword arguments).
PANEL_COV_TYPES = {
    "unadjusted": ("unadjusted", {}),
    "robust": ("robust", {}),
    "clustered": ("clustered", {"cluster_entity": True}),
    "clustered-twoway": ("clustered", {"cluster_entity": True, "cluster_time": True}),
    "driscoll-kraay": ("kernel", {}),
}


@dataclass(frozen=True)
class HypothesisTest:
    """Result of a test: statistic, degrees of freedom, p-value and what it tests."""

    name: str
    statistic: float
    df: float
    pvalue: float
    null: str
    distribution: str = "chi2"

    def to_series(self) -> pd.Series:
        """The test as a labelled Series."""
        return pd.Series({"statistic": self.statistic, "df": self.df, "pvalue": self.pvalue}, name=self.name)


def _cov(cov_type: str) -> tuple[str, dict]:
    if cov_type not in PANEL_COV_TYPES:
        raise ValueError(f"cov_type must be one of {sorted(PANEL_COV_TYPES)}, got {cov_type!r}")
    return PANEL_COV_TYPES[cov_type]


def fit_panel(
    y: pd.Series,
    X: pd.DataFrame,
    *,
    model: Literal["fe", "re", "fd"],
    effects: Effects = "unit",
    cov_type: str = "clustered",
    obs_weights: pd.Series | None = None,
) -> RegressionResults:
    """Fixed-effects, random-effects or first-difference estimation.

    Parameters
    ----------
    y : pandas.Series
        Dependent variable on the (unit, year) index.
    X : pandas.DataFrame
        Regressors on the same index.  ``const`` is dropped for ``fd`` (it differences
        away) and kept for ``fe`` (linearmodels then reports the mean effect as the
        constant) and ``re``.
    model : {"fe", "re", "fd"}
    effects : {"unit", "time", "twoway"} or None, default "unit"
        Fixed effects for ``fe``; ``re`` supports unit random effects only (pass
        ``"unit"``; add year dummies to ``X`` for time effects); ignored by ``fd``.
    cov_type : str, default "clustered"
        ``clustered`` (by unit), ``clustered-twoway`` (unit and year), ``robust``,
        ``unadjusted`` or ``driscoll-kraay`` (kernel estimator robust to
        cross-sectional and serial correlation).
    obs_weights : pandas.Series, optional
        Observation weights (e.g. population).

    Returns
    -------
    RegressionResults
        ``resids`` are the idiosyncratic errors (``fe``: net of the estimated effects;
        ``re``: ``y - X b`` including the unit's random effect; ``fd``: residuals of
        the differenced model on the differenced index).  ``rsquared`` is
        linearmodels' ``rsquared`` (within R² for ``fe``, the GLS R² for ``re``, the
        differenced model's R² for ``fd``).

    Notes
    -----
    With unit effects, regressors that do not vary within units (e.g. centrality) are
    absorbed: they are dropped and named in ``notes``.  Validates that the index is (unit, year) and that every unit appears at least
    twice for ``fe``/``fd`` (single-observation units are reported by id).
    """
    if model not in ("fe", "re", "fd"):
        raise ValueError(f"model must be 'fe', 're' or 'fd', got {model!r}")
    if effects not in ("unit", "time", "twoway", None):
        raise ValueError(f"effects must be 'unit', 'time', 'twoway' or None, got {effects!r}")
    if not y.index.equals(X.index):
        raise InputError("y and X must share the same (unit, year) index")
    counts = y.groupby(level=0).size()
    single = counts.index[counts < 2]
    if model in ("fe", "fd") and len(single):
        raise InputError(
            f"{len(single)} unit(s) have a single year, which a {model.upper()} model cannot use: "
            f"{format_ids(single)}; drop them or use pooled OLS"
        )
    lm_cov, extra = _cov(cov_type)
    info = {"Effects": str(effects)}
    notes: list[str] = []
    if model == "fe" and effects in ("unit", "twoway"):
        within = X - X.groupby(level=0).transform("mean")
        absorbed = [c for c in X.columns if c != "const" and within[c].abs().max() < 1e-12]
        if absorbed:
            X = X.drop(columns=absorbed)
            notes.append(f"time-invariant regressor(s) absorbed by the unit effects and dropped: {absorbed}")
    if model == "fe":
        ent = effects in ("unit", "twoway")
        tim = effects in ("time", "twoway")
        res = PanelOLS(y, X, weights=obs_weights, entity_effects=ent, time_effects=tim, check_rank=False,
                       drop_absorbed=False).fit(cov_type=lm_cov, **extra)
        resid = res.idiosyncratic.iloc[:, 0].rename("resid")
        yy = y
    elif model == "re":
        if effects not in ("unit", None):
            raise InputError("random effects are unit effects; add year dummies to X for time effects")
        res = RandomEffects(y, X, weights=obs_weights, check_rank=False).fit(cov_type=lm_cov, **extra)
        resid = (y - X @ res.params).rename("resid")
        yy = y
        info["theta (mean)"] = f"{float(np.asarray(res.theta).mean()):.4f}"
    else:
        Xd = X.drop(columns=[c for c in X.columns if np.ptp(X[c].to_numpy()) == 0])
        res = FirstDifferenceOLS(y, Xd, weights=obs_weights).fit(cov_type=lm_cov, **extra)
        resid = res.resids.rename("resid")
        yy = (resid + res.fitted_values.iloc[:, 0]).rename("y")
    fitted = (yy.reindex(resid.index) - resid).rename("fitted")
    return RegressionResults.from_linearmodels(
        res, y=yy.reindex(resid.index), fitted_values=fitted, resids=resid, model=model, cov_type=cov_type,
        info=info, notes=notes, rsquared_definition="linearmodels rsquared: within (fe), GLS (re), differenced (fd)",
    )


def hausman(fe: RegressionResults, re: RegressionResults) -> HypothesisTest:
    """Hausman test of random against fixed effects.

    ``H = (b_fe - b_re)' (V_fe - V_re)^+ (b_fe - b_re)`` over the coefficients the two
    models share (the constant excluded), chi-squared with the rank of ``V_fe - V_re``
    degrees of freedom (a generalised inverse is used when the difference is not
    positive definite, as Stata's ``hausman`` does).

    Parameters
    ----------
    fe, re : RegressionResults
        From :func:`fit_panel` with ``model="fe"`` and ``model="re"``.
    """
    common = [t for t in fe.params.index if t in re.params.index and t != "const"]
    if not common:
        raise InputError("the two models share no coefficient besides the constant")
    d = (fe.params[common] - re.params[common]).to_numpy()
    V = fe.cov.loc[common, common].to_numpy() - re.cov.loc[common, common].to_numpy()
    stat = float(d @ np.linalg.pinv(V) @ d)
    df = int(np.linalg.matrix_rank(V))
    return HypothesisTest(
        name="Hausman", statistic=stat, df=df, pvalue=float(stats.chi2.sf(stat, df)),
        null="random effects are consistent (no correlation between effects and regressors)",
    )
