"""Spatial diagnostics of regression residuals: LM tests, Moran's I, likelihood ratios.

Everything is computed with sparse products of W and the (N x k) regressors, so the
tests work for pooled panels (W applied within each year, i.e. the block-diagonal
``I_T (x) W``) and large N without an N x N matrix.  The formulas are Anselin's (1988)
LM tests and Cliff and Ord's moments of Moran's I for regression residuals; they are
pinned to ``spreg.LMtests`` and ``spreg.MoranRes`` in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse, stats

from geoattr.exceptions import InputError
from geoattr.models.panel import HypothesisTest
from geoattr.models.results import RegressionResults

__all__ = ["panel_weights", "lm_tests", "panel_lm_tests", "moran_residuals", "likelihood_ratio", "j_test"]


def panel_weights(graph, index: pd.MultiIndex) -> sparse.csr_matrix:
    """The sparse W of a (unit, year) sample: ``graph`` applied within each year.

    Parameters
    ----------
    graph : libpysal.graph.Graph
        Weights over the units.
    index : pandas.MultiIndex
        The (unit, year) index of the observations (any order; every unit of a year
        that has neighbours in the sample links to those neighbours only).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``len(index) x len(index)``, rows and columns in the order of ``index``.
    """
    from geoattr import weights as gw

    units = pd.Index(graph.unique_ids)
    W = gw.as_sparse(graph, units).tocoo()
    u = index.get_level_values(0)
    missing = sorted(set(u) - set(units))
    if missing:
        from geoattr._format import format_ids

        raise InputError(f"{len(missing)} unit(s) of the data are not in the weights: {format_ids(missing)}")
    rows, cols, vals = [], [], []
    upos = units.get_indexer(u)
    years = index.get_level_values(1)
    for t in pd.unique(years):
        m = np.flatnonzero(years == t)
        lookup = np.full(len(units), -1)
        lookup[upos[m]] = m
        r, c = lookup[W.row], lookup[W.col]
        keep = (r >= 0) & (c >= 0)
        rows.append(r[keep])
        cols.append(c[keep])
        vals.append(W.data[keep])
    n = len(index)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def _xy(res: RegressionResults, X: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    e = res.resids
    if X is None:
        raise InputError("pass the regressors X used in the estimation (results do not keep them)")
    X = X.reindex(e.index)
    terms = [t for t in res.params.index if t in X.columns]
    return X[terms].to_numpy(dtype=float), e.to_numpy(dtype=float), e.index


def lm_tests(res: RegressionResults, X: pd.DataFrame, W: sparse.spmatrix) -> pd.DataFrame:
    """Lagrange multiplier tests for a spatial lag and a spatial error (Anselin 1988).

    Parameters
    ----------
    res : RegressionResults
        Least-squares results (residuals on the sample index).
    X : pandas.DataFrame
        The regressors of that estimation (same index).
    W : scipy.sparse matrix
        Weights over the observations in the order of ``res.resids`` (see
        :func:`panel_weights`).

    Returns
    -------
    pandas.DataFrame
        Rows ``lm_lag, robust_lm_lag, lm_error, robust_lm_error, sarma``; columns
        ``statistic, df, pvalue``.
    """
    Xa, e, _ = _xy(res, X)
    y = res.y.reindex(res.resids.index).to_numpy(dtype=float)
    W = sparse.csr_matrix(W)
    n = len(e)
    s2 = e @ e / n
    We, Wy = W @ e, W @ y
    d_err = e @ We / s2
    d_lag = e @ Wy / s2
    T1 = float(W.multiply(W).sum() + W.multiply(W.T).sum())  # tr(W'W + WW)
    b = np.linalg.lstsq(Xa, y, rcond=None)[0]
    WXb = W @ (Xa @ b)
    MWXb = WXb - Xa @ np.linalg.lstsq(Xa, WXb, rcond=None)[0]
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


def moran_residuals(resid: pd.Series, X: pd.DataFrame | None, W: sparse.spmatrix) -> HypothesisTest:
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
    W : scipy.sparse matrix
        Weights over the observations in the order of ``resid``.

    Returns
    -------
    HypothesisTest
        ``statistic`` is the z value; Moran's I, its mean and variance are in ``null``.
    """
    e = resid.to_numpy(dtype=float)
    Xa = np.ones((len(e), 1)) if X is None else X.reindex(resid.index).to_numpy(dtype=float)
    if X is None:
        e = e - e.mean()
    W = sparse.csr_matrix(W)
    n, k = Xa.shape
    S0 = W.sum()
    I = n / S0 * (e @ (W @ e)) / (e @ e)
    XtXi = np.linalg.inv(Xa.T @ Xa)
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
    return HypothesisTest(
        name="Moran's I (residuals)", statistic=float(z), df=np.nan, pvalue=float(2 * stats.norm.sf(abs(z))),
        null=f"I = {I:.6f}, E[I] = {EI:.6f}, V[I] = {VI:.6g}", distribution="normal",
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
    weights_a,
    weights_b,
    names: Sequence[str] = ("a", "b"),
) -> pd.DataFrame:
    """Non-nested J test of the same model under two weights matrices.

    Davidson and MacKinnon's J test, in Kelejian's (2008) form for spatial models: the
    prediction of the model under ``weights_b`` (for a lag model the reduced form
    ``(I - rho W_b)^{-1} X b``) is added as a regressor to the model under
    ``weights_a``; a significant coefficient rejects model *a* in favour of *b*.  The
    test is run in both directions.

    Parameters
    ----------
    formula : str
        As for :func:`geoattr.fit`.
    data : pandas.DataFrame
        On the (unit, year) index.
    model : {"slx", "sar", "sem", "sdm"}
    weights_a, weights_b : libpysal.graph.Graph
    names : (str, str)
        Labels of the two weights.

    Returns
    -------
    pandas.DataFrame
        Rows ``H0: <a>`` and ``H0: <b>``; columns ``coefficient, statistic, pvalue``
        (the z or t statistic of the added prediction).
    """
    from scipy.sparse.linalg import spsolve

    from geoattr.models.api import fit

    if model not in ("slx", "sar", "sem", "sdm"):
        raise InputError(f"j_test supports slx, sar, sem and sdm, got {model!r}")
    rows = {}
    for (na, wa), (nb, wb) in (((names[0], weights_a), (names[1], weights_b)),
                               ((names[1], weights_b), (names[0], weights_a))):
        rb = fit(formula, data, model=model, weights=wb)
        idx = rb.resids.index
        pred = rb.fitted_values
        if model in ("sar", "sdm"):
            Wb = panel_weights(wb, idx)
            xb = (rb.fitted_values - rb.params["rho"] * pd.Series(Wb @ rb.y.reindex(idx).to_numpy(), index=idx))
            pred = pd.Series(spsolve((sparse.identity(len(idx), format="csc") - rb.params["rho"] * Wb.tocsc()),
                                     xb.to_numpy()), index=idx)
        elif model == "sem":
            lam = rb.params["lambda"]
            Wb = panel_weights(wb, idx)
            # predicted mean X b: fitted = y - e; e = (I - lam W) u, so X b = y - u
            u = spsolve((sparse.identity(len(idx), format="csc") - lam * Wb.tocsc()), rb.resids.to_numpy())
            pred = pd.Series(rb.y.reindex(idx).to_numpy() - u, index=idx)
        aug = data.copy()
        aug["_j_prediction"] = pred.reindex(aug.index)
        ra = fit(formula + " + _j_prediction", aug, model=model, weights=wa)
        rows[f"H0: {na}"] = {"coefficient": ra.params["_j_prediction"], "statistic": ra.tstats["_j_prediction"],
                             "pvalue": ra.pvalues["_j_prediction"]}
    return pd.DataFrame(rows).T


def panel_lm_tests(y: pd.Series, X: pd.DataFrame, graph, *, effects: str = "unit") -> pd.DataFrame:
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
    graph : libpysal.graph.Graph
    effects : {"unit", "twoway"} or None

    Returns
    -------
    pandas.DataFrame
        As :func:`lm_tests`.
    """
    from geoattr.models.ols import LeastSquares
    from geoattr.variables import Design

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
    d = Design(y=yw.rename("y"), X=Xw, population=pd.Series(1.0, index=yw.index), spec="panel-lm", level="unit",
               years=(int(y.index.get_level_values(1).min()), int(y.index.get_level_values(1).max())))
    res = LeastSquares(d).fit(cov_type="unadjusted")
    return lm_tests(res, Xw, panel_weights(graph, yw.index))
