"""Spatial diagnostics of regression residuals: LM tests, Moran's I, likelihood ratios, Pesaran's CD.

Everything is computed with sparse products of W and the (N x k) regressors, so the
tests work for pooled panels (W applied within each year, i.e. the block-diagonal
``I_T (x) W``, :func:`geoattr.weights.lag.panel_weights`) and large N without an N x N matrix.  The formulas are Anselin's (1988)
LM tests and Cliff and Ord's moments of Moran's I for regression residuals; they are
pinned to ``spreg.LMtests`` and ``spreg.MoranRes`` in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.linalg import spsolve

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.models.api import fit
from geoattr.models.least_squares import least_squares, xtx_inverse
from geoattr.models.ols import LeastSquares
from geoattr.models.panel import HypothesisTest
from geoattr.models.results import RegressionResults
from geoattr.variables import Design
from geoattr.weights.lag import data_weights
from geoattr.typing import WeightsLike

__all__ = ["lm_tests", "panel_lm_tests", "moran_residuals", "MoranTest", "likelihood_ratio", "j_test", "pesaran_cd"]


@dataclass(frozen=True)
class MoranTest(HypothesisTest):
    """Moran's I test of residuals: the numbers behind ``statistic`` (the z value), unrounded.

    Attributes
    ----------
    moran_i : float
        Moran's I, ``(N / S0) e'We / e'e``.
    expected : float
        Its expectation under the null, ``E[I]``.
    variance : float
        Its variance under the null, ``V[I]``.
    """

    moran_i: float = float("nan")
    expected: float = float("nan")
    variance: float = float("nan")

    @property
    def z(self) -> float:
        """The standardised statistic ``(I - E[I]) / sqrt(V[I])`` (same as ``statistic``)."""
        return self.statistic

    def to_series(self) -> pd.Series:
        """The test as a labelled Series: I, E[I], V[I], z and the p-value as floats."""
        return pd.Series({"moran_i": self.moran_i, "expected": self.expected, "variance": self.variance,
                          "statistic": self.statistic, "df": self.df, "pvalue": self.pvalue}, name=self.name)


def _xy(res: RegressionResults, X: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    e = res.resids
    if X is None:
        raise InputError("pass the regressors X used in the estimation (results do not keep them)")
    X = X.reindex(e.index)
    terms = [t for t in res.params.index if t in X.columns]
    return X[terms].to_numpy(dtype=float), e.to_numpy(dtype=float), e.index


def lm_tests(res: RegressionResults, X: pd.DataFrame, weights: sparse.spmatrix) -> pd.DataFrame:
    """Lagrange multiplier tests for a spatial lag and a spatial error (Anselin 1988).

    Parameters
    ----------
    res : RegressionResults
        Least-squares results (residuals on the sample index).
    X : pandas.DataFrame
        The regressors of that estimation (same index).
    weights : scipy.sparse matrix
        Weights over the observations in the order of ``res.resids`` (see
        :func:`geoattr.weights.lag.panel_weights`).

    Returns
    -------
    pandas.DataFrame
        Rows ``lm_lag, robust_lm_lag, lm_error, robust_lm_error, sarma``; columns
        ``statistic, df, pvalue``.
    """
    Xa, e, _ = _xy(res, X)
    y = res.y.reindex(res.resids.index).to_numpy(dtype=float)
    W = sparse.csr_matrix(weights)
    n = len(e)
    s2 = e @ e / n
    We, Wy = W @ e, W @ y
    d_err = e @ We / s2
    d_lag = e @ Wy / s2
    T1 = float(W.multiply(W).sum() + W.multiply(W.T).sum())  # tr(W'W + WW)
    b = least_squares(Xa, y, cov_type=None).params
    WXb = W @ (Xa @ b)
    MWXb = least_squares(Xa, WXb, cov_type=None).resids
    NJ = (WXb @ MWXb) / s2 + T1
    vals = {
        "lm_lag": (d_lag**2 / NJ, 1),
        "robust_lm_lag": ((d_lag - d_err) ** 2 / (NJ - T1), 1),
        "lm_error": (d_err**2 / T1, 1),
        "robust_lm_error": ((d_err - T1 / NJ * d_lag) ** 2 / (T1 * (1 - T1 / NJ)), 1),
        "sarma": ((d_lag - d_err) ** 2 / (NJ - T1) + d_err**2 / T1, 2),
    }
    return pd.DataFrame(
        {k: {"statistic": v, "df": df, "pvalue": float(stats.chi2.sf(v, df))} for k, (v, df) in vals.items()}
    ).T


def moran_residuals(resid: pd.Series, X: pd.DataFrame | None, weights: sparse.spmatrix) -> MoranTest:
    """Moran's I of regression residuals with its exact mean and variance (Cliff and Ord).

    ``I = (N / S0) e'We / e'e``; under the null of no spatial autocorrelation
    ``E[I] = (N/S0) tr(MW) / (N - k)`` and
    ``V[I] = (N/S0)^2 [tr(MWMW') + tr(MWMW) + tr(MW)^2] / ((N-k)(N-k+2)) - E[I]^2``
    with ``M = I - X(X'X)^{-1}X'``; the traces are expanded so that only W times X
    is formed.  The p-value is two-sided from the normal approximation.

    Parameters
    ----------
    resid : pandas.Series
        Residuals on the observations' index.
    X : pandas.DataFrame or None
        The regressors of a least-squares fit (same index) for the exact moments;
        ``None`` treats the residuals as deviations from a mean (``X`` = constant),
        the usual approximation for residuals of ML and panel estimators.
    weights : scipy.sparse matrix
        Weights over the observations in the order of ``resid``.

    Returns
    -------
    MoranTest
        ``statistic`` (and ``z``) is the z value; ``moran_i``, ``expected`` and
        ``variance`` are Moran's I, its mean and variance as floats (``null`` repeats
        them rounded, for display).
    """
    e = resid.to_numpy(dtype=float)
    Xa = np.ones((len(e), 1)) if X is None else X.reindex(resid.index).to_numpy(dtype=float)
    if X is None:
        e = e - e.mean()
    W = sparse.csr_matrix(weights)
    n, k = Xa.shape
    S0 = W.sum()
    I = n / S0 * (e @ (W @ e)) / (e @ e)
    XtXi = xtx_inverse(Xa)
    WX, WtX = W @ Xa, W.T @ Xa
    trW = W.diagonal().sum()
    trMW = trW - np.trace(XtXi @ (Xa.T @ WX))
    trWW = W.multiply(W.T).sum()
    trWWt = W.multiply(W).sum()
    A = XtXi @ (Xa.T @ WX)
    # tr(MWMW) = tr(WW) - 2 tr(P W W) + tr(P W P W)
    trMWMW = trWW - 2 * np.trace(XtXi @ (WtX.T @ WX)) + np.trace(A @ A)
    # tr(MWMW') = tr(WW') - tr(P W W') - tr(P W'W) + tr(P W P W')
    B = XtXi @ (Xa.T @ WtX)
    trMWMWt = trWWt - np.trace(XtXi @ (WtX.T @ WtX)) - np.trace(XtXi @ (WX.T @ WX)) + np.trace(A @ B)
    EI = n / S0 * trMW / (n - k)
    VI = (n / S0) ** 2 * (trMWMWt + trMWMW + trMW**2) / ((n - k) * (n - k + 2)) - EI**2
    z = (I - EI) / np.sqrt(VI)
    return MoranTest(
        name="Moran's I (residuals)", statistic=float(z), df=np.nan, pvalue=float(2 * stats.norm.sf(abs(z))),
        null=f"I = {I:.6f}, E[I] = {EI:.6f}, V[I] = {VI:.6g}", distribution="normal",
        moran_i=float(I), expected=float(EI), variance=float(VI),
    )


def likelihood_ratio(restricted: RegressionResults, unrestricted: RegressionResults,
                     *, df: int | None = None, names: Sequence[str] = ("restricted", "unrestricted")) -> HypothesisTest:
    """Likelihood-ratio test ``2 (ll_u - ll_r)`` ~ chi2(df) between nested models.

    ``df`` defaults to the difference in the number of estimated parameters.
    """
    k = df if df is not None else unrestricted.nparams - restricted.nparams
    if k <= 0:
        raise InputError(f"the unrestricted model must have more parameters ({unrestricted.nparams} vs "
                         f"{restricted.nparams}); pass df= explicitly for other restrictions")
    stat = 2 * (unrestricted.loglik - restricted.loglik)
    return HypothesisTest(name=f"LR {names[0]} vs {names[1]}", statistic=float(stat), df=float(k),
                          pvalue=float(stats.chi2.sf(stat, k)), null=f"{names[0]} restrictions hold")


def j_test(
    formula: str,
    data: pd.DataFrame,
    *,
    model: str,
    weights: Mapping[str, WeightsLike],
) -> pd.DataFrame:
    """Non-nested J test of the same model under two weights matrices.

    Davidson and MacKinnon's J test, in Kelejian's (2008) form for spatial models: the
    prediction of the model under the second weights (for a lag model the reduced form
    ``(I - rho W_b)^{-1} X b``) is added as a regressor to the model under the first;
    a significant coefficient rejects the first in favour of the second.  The test is
    run in both directions.

    Parameters
    ----------
    formula : str
        As for :func:`geoattr.fit`.
    data : pandas.DataFrame
        On the (unit, year) index, or on the unit index (a cross-section).
    model : {"slx", "sar", "sem", "sdm"}
    weights : mapping of str to libpysal.graph.Graph or SparseWeights
        The two weights to compare, by name (``{"queen": g1, "knn": g2}``).

    Returns
    -------
    pandas.DataFrame
        Rows ``H0: <first>`` and ``H0: <second>``; columns ``coefficient, statistic,
        pvalue`` (the z or t statistic of the added prediction).
    """
    if model not in ("slx", "sar", "sem", "sdm"):
        raise InputError(f"j_test supports slx, sar, sem and sdm, got {model!r}")
    if not isinstance(weights, Mapping) or len(weights) != 2:
        raise InputError("j_test needs weights= as a mapping of two named weights, e.g. {'queen': g1, 'knn': g2}")
    (name_a, wa), (name_b, wb) = weights.items()
    rows = {}
    for (na, w_null), w_alt in (((name_a, wa), wb), ((name_b, wb), wa)):
        pred = _prediction(fit(formula, data, model=model, weights=w_alt), w_alt, model)
        aug = data.copy()
        aug["_j_prediction"] = pred.reindex(aug.index)
        ra = fit(formula + " + _j_prediction", aug, model=model, weights=w_null)
        rows[f"H0: {na}"] = {"coefficient": ra.params["_j_prediction"], "statistic": ra.tstats["_j_prediction"],
                             "pvalue": ra.pvalues["_j_prediction"]}
    return pd.DataFrame(rows).T


def _prediction(rb: RegressionResults, weights: WeightsLike, model: str) -> pd.Series:
    """The J test's prediction of a fitted model: its mean ``E[y | X]`` (reduced form for lag models)."""
    idx = rb.resids.index
    if model not in ("sar", "sdm", "sem"):
        return rb.fitted_values
    obs = idx if isinstance(idx, pd.MultiIndex) else pd.MultiIndex.from_arrays([idx, np.zeros(len(idx), int)])
    Wb = data_weights(weights, obs, [], warn=False)  # the fit has said how its weights were subset
    I = sparse.identity(len(idx), format="csc")
    y = rb.y.reindex(idx).to_numpy()
    if model in ("sar", "sdm"):
        rho = rb.params["rho"]
        xb = rb.fitted_values.to_numpy() - rho * (Wb @ y)
        return pd.Series(spsolve(I - rho * Wb.tocsc(), xb), index=idx)
    # predicted mean X b: fitted = y - e; e = (I - lam W) u, so X b = y - u
    u = spsolve(I - rb.params["lambda"] * Wb.tocsc(), rb.resids.to_numpy())
    return pd.Series(y - u, index=idx)


def panel_lm_tests(y: pd.Series, X: pd.DataFrame, weights: WeightsLike, *, effects: str = "unit") -> pd.DataFrame:
    """LM tests for a spatial lag or error in a fixed-effects panel.

    The tests of :func:`lm_tests` on the within-transformed data (unit, or unit and
    year, means removed) with ``W_NT = I_T (x) W``, so that ``T1 = T tr(W'W + WW)``
    (Anselin, Le Gallo and Jayet 2008; Elhorst 2014, section 3.4).  ``effects=None``
    gives the pooled tests.

    Parameters
    ----------
    y, X : Series, DataFrame
        On the (unit, year) index; time-invariant columns (the constant) are dropped
        by the transformation.
    weights : libpysal.graph.Graph or SparseWeights
    effects : {"unit", "twoway"} or None

    Returns
    -------
    pandas.DataFrame
        As :func:`lm_tests`.
    """
    if effects not in ("unit", "twoway", None):
        raise InputError(f"effects must be 'unit', 'twoway' or None, got {effects!r}")

    def within(df: pd.DataFrame) -> pd.DataFrame:
        if effects is None:
            return df
        out = df - df.groupby(level=0).transform("mean")
        if effects == "twoway":
            out = out - df.groupby(level=1).transform("mean") + df.mean()
        return out

    yw = within(y.to_frame("y"))["y"]
    Xw = within(X)
    keep = [c for c in Xw.columns if Xw[c].abs().max() > 1e-12]
    Xw = Xw[keep]
    if effects is None and "const" not in Xw.columns:
        Xw.insert(0, "const", 1.0)
    d = Design(y=yw.rename("y"), X=Xw, population=pd.Series(1.0, index=yw.index), spec="panel-lm", unit_level="unit",
               years=(int(y.index.get_level_values(1).min()), int(y.index.get_level_values(1).max())))
    res = LeastSquares(d).fit(cov_type="unadjusted")
    return lm_tests(res, Xw, data_weights(weights, yw.index, [], name="panel LM weights"))


def pesaran_cd(resids: pd.Series) -> HypothesisTest:
    """Pesaran's (2004) CD test of cross-sectional dependence in panel residuals.

    ``CD = sqrt(2 T / (N (N - 1))) sum_{i<j} rho_ij`` with ``rho_ij`` the correlation
    over the years of the residuals of units *i* and *j*; standard normal under the
    null of no cross-sectional correlation (two-sided p-value).  Computed in O(NT)
    from the standardised residuals ``z`` (``sum_{i<j} rho_ij = (sum_t (sum_i z_it)^2
    - N) / 2``), without the N x N correlation matrix.

    Parameters
    ----------
    resids : pandas.Series
        Residuals on a balanced (unit, year) index (at least 3 units and 3 years).

    Returns
    -------
    HypothesisTest
        ``statistic`` CD, ``df`` NaN, ``pvalue`` two-sided, ``distribution`` "normal".

    Raises
    ------
    InputError
        Not a (unit, year) index, an unbalanced panel (naming units that lack years),
        too few units or years, or a unit whose residuals do not vary.
    """
    if not isinstance(resids.index, pd.MultiIndex) or resids.index.nlevels != 2:
        raise InputError("Pesaran's CD test needs residuals on a (unit, year) index; a cross-section has no "
                         "time dimension to correlate over")
    E = resids.unstack(level=1)
    incomplete = E.index[E.isna().any(axis=1)]
    if len(incomplete):
        raise InputError(f"Pesaran's CD test needs a balanced panel: {len(incomplete)} unit(s) lack some of the "
                         f"{E.shape[1]} years: {format_ids(incomplete)}; drop them or restrict the years")
    N, T = E.shape
    if N < 3 or T < 3:
        raise InputError(f"Pesaran's CD test needs at least 3 units and 3 years; the residuals have {N} x {T}")
    D = E.to_numpy(dtype=float)
    D = D - D.mean(axis=1, keepdims=True)
    norm = np.sqrt((D**2).sum(axis=1))
    flat = E.index[norm <= 1e-12 * max(1.0, float(np.abs(D).max()))]
    if len(flat):
        raise InputError(f"Pesaran's CD test: the residuals of {format_ids(flat)} do not vary over the years")
    Z = D / norm[:, None]
    pair_sum = 0.5 * (float((Z.sum(axis=0) ** 2).sum()) - N)
    cd = math.sqrt(2.0 * T / (N * (N - 1.0))) * pair_sum
    return HypothesisTest(name="Pesaran CD", statistic=cd, df=float("nan"),
                          pvalue=float(2.0 * stats.norm.sf(abs(cd))),
                          null="no cross-sectional correlation of the residuals", distribution="normal")
