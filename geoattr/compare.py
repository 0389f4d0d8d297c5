"""Compare the commuting-weighted VRA model with panel and spatial alternatives.

:func:`compare` runs a grid of models x weights on the same sample and returns one
tidy table: coefficients with standard errors (one column per model), and rows for
log-likelihood, AIC, BIC, R², residual Moran's I under every weights matrix, LM tests
and the root mean squared error when whole years are held out.

The reference is the VRA model estimated by pooled OLS (``vra_ols``).  The spatial
alternatives replace the commuting-weighted growth by the unit's own relative job
growth (``ra``, ``ra_l1``, ``ra_l2``) and let a spatial term carry the neighbours'
influence — the question the users ask is whether commuting weights beat them.  The
regressor sets are parameters (``terms`` and ``alternative_terms``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import spsolve

from geoattr._format import escape_latex, write_csv
from geoattr._format import stars as significance_stars
from geoattr.data import PanelData
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.models.diagnostics import lm_tests, moran_residuals, pesaran_cd
from geoattr.models.ml_mixture import fit_mixture
from geoattr.models.ols import LeastSquares
from geoattr.models.panel import fit_panel
from geoattr.models.results import RegressionResults
from geoattr.models.spatial import fit_spatial, lagged_regressors
from geoattr.models.spatial_panel import fit_spatial_panel
from geoattr.models.spatial_panel_durbin import DURBIN_PANEL_MODELS, fit_durbin_panel
from geoattr.variables import Design, build_design
from geoattr.weights.lag import data_weights, spatial_lag
from geoattr.typing import WeightsLike

__all__ = ["compare", "Comparison", "GRID_MODELS", "BLUP_MODELS"]

#: Models of the comparison grid and whether they use a weights matrix.
GRID_MODELS: dict[str, bool] = {
    "vra_ols": False, "ols": False, "fe": False, "re": False,
    "slx": True, "sar": True, "sem": True, "sdm": True, "sdem": True, "sac": True,
    "sar_fe": True, "sem_fe": True,
    "sar_mix": True, "sem_mix": True, "sdm_mix": True,
    "sdm_fe": True, "sdem_fe": True, "sdm_re": True, "sar_fe_keep": True, "sem_fe_keep": True,
}
#: Fixed-effects spatial panels of the grid (their held-out prediction adds each unit's effect).
_FE_PANELS = ("sar_fe", "sem_fe", "sdm_fe", "sdem_fe", "sar_fe_keep", "sem_fe_keep")
#: Models of the grid whose held-out-year prediction is the BLUP (``SpatialResults.predict``).
BLUP_MODELS = ("sar", "sdm", "sar_mix", "sem_mix", "sdm_mix")


@dataclass(frozen=True)
class Comparison:
    """The comparison of models: fitted results and the tidy table.

    Attributes
    ----------
    results : dict[str, RegressionResults]
        Column name (``model`` or ``model|weights``) -> results.
    table : pandas.DataFrame
        Rows: ``<term>`` and ``<term> (se)`` for every coefficient, then statistics
        (``nobs, loglik, aic, bic, r2, moran_I_z[<w>], moran_p[<w>], lm_lag[<w>],
        lm_error[<w>], pesaran_cd, pesaran_cd_p, rmse_holdout``; Pesaran's CD test of
        cross-sectional dependence for panel fits, see
        :func:`geoattr.models.diagnostics.pesaran_cd`); one column per model.
    errors : dict[str, str]
        Models that could not be estimated and why (nothing is dropped silently).
    coef_terms : list of str
        The coefficient rows of ``table``, in order (the rest are statistics).
    coef_pvalues : pandas.DataFrame
        p-values of the coefficients (rows ``coef_terms``, one column per model), for
        the significance stars of :meth:`to_latex`.
    """

    results: dict[str, RegressionResults]
    table: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)
    coef_terms: list[str] = field(default_factory=list, repr=False)
    coef_pvalues: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def to_csv(self, path: Any) -> None:
        """Write the table as CSV (rows: statistics, columns: models)."""
        write_csv(self.table, path, index_label="row")

    def to_html(self) -> str:
        """The table as an HTML fragment."""
        return self.table.to_html(float_format=lambda v: f"{v:.4f}", na_rep="")

    def to_latex(self, *, precision: int = 3, stars: bool = True) -> str:
        """Booktabs LaTeX: coefficients with stars, standard errors in parentheses below."""
        cols = list(self.table.columns)
        lines = ["\\begin{tabular}{l" + "c" * len(cols) + "}", "\\toprule",
                 " & ".join([""] + [escape_latex(c) for c in cols]) + " \\\\", "\\midrule"]
        coef_rows = [r for r in self.table.index if not r.endswith(" (se)") and r in self.coef_terms]
        for r in coef_rows:
            est, se = self.table.loc[r], self.table.loc[f"{r} (se)"]
            p = self.coef_pvalues.loc[r] if r in self.coef_pvalues.index else pd.Series(np.nan, index=cols)
            marks = [significance_stars(pp) if stars else "" for pp in p]
            cells = [f"{v:.{precision}f}{m}" if pd.notna(v) else "" for v, m in zip(est, marks)]
            lines.append(" & ".join([escape_latex(r)] + cells) + " \\\\")
            lines.append(" & ".join([""] + [f"({v:.{precision}f})" if pd.notna(v) else "" for v in se]) + " \\\\")
        lines.append("\\midrule")
        for r in [r for r in self.table.index if r not in self.coef_terms and not r.endswith(" (se)")]:
            lines.append(" & ".join([escape_latex(r)] + [f"{v:.{precision}f}" if pd.notna(v) else "" for v in
                                                 self.table.loc[r]]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines)


def _fit_one(model: str, d: Design, weights: WeightsLike | None, cov_type: str) -> RegressionResults:
    y, X = d.y, d.X
    if model in ("vra_ols", "ols"):
        return LeastSquares(d).fit(cov_type=cov_type)
    if model in ("fe", "re"):
        return fit_panel(y, X, model=model, effects="unit", cov_type=cov_type)
    if model == "slx":
        WX = pd.DataFrame({f"W_{c}": spatial_lag(X[c].rename(c), weights) for c in X.columns if c != "const"})
        return LeastSquares(Design(y=y, X=pd.concat([X, WX], axis=1), population=d.population, spec=d.spec,
                                   unit_level=d.unit_level, years=d.years)).fit(cov_type=cov_type)
    if model in ("sar", "sem", "sdm", "sdem", "sac"):
        return fit_spatial(y, X, weights, model=model)
    if model.endswith("_mix"):
        return fit_mixture(y, X, weights, model=model[: -len("_mix")])
    if model in ("sar_fe", "sem_fe"):
        return fit_spatial_panel(y, X, weights, model=model)
    if model in ("sar_fe_keep", "sem_fe_keep"):  # unbalanced panels as they are
        return fit_spatial_panel(y, X, weights, model=model[: -len("_keep")], balance="keep")
    if model in DURBIN_PANEL_MODELS:
        return fit_durbin_panel(y, X, weights, model=model)
    raise InputError(f"unknown model {model!r}; choose from {sorted(GRID_MODELS)}")


def _holdout_rmse(model: str, d: Design, weights: WeightsLike | None, cov_type: str, holdout: Sequence[int]) -> float:
    """Root mean squared error of predictions for whole held-out years.

    The model is fitted on the other years; the prediction for a held-out year is the
    structural mean ``m = X b`` (plus, for fixed-effects models, each unit's effect
    estimated on the training years), and for models with a spatial lag of y the
    reduced form ``(I - rho W)^{-1} m``.  Spatial error terms have mean zero and do not
    enter the prediction.  For the models of :data:`BLUP_MODELS` the prediction is
    :meth:`~geoattr.models.spatial.SpatialResults.predict`'s BLUP, which for a whole
    held-out year (W links units within a year) equals that reduced form.
    """
    yrs = d.y.index.get_level_values("year")
    errs = []
    for t in holdout:
        tr, te = yrs != t, yrs == t
        dt = Design(y=d.y[tr], X=d.X[tr], population=d.population[tr], spec=d.spec, unit_level=d.unit_level, years=d.years)
        r = _fit_one(model, dt, weights, cov_type)
        if model in BLUP_MODELS:
            errs.append(d.y[te].to_numpy() - r.predict(d.X[te], weights=weights).reindex(d.X[te].index).to_numpy())
            continue
        Xtr, Xte = d.X[tr], d.X[te]
        if model == "slx":
            def add_wx(X):
                return pd.concat([X, pd.DataFrame({f"W_{c}": spatial_lag(X[c].rename(c), weights)
                                                   for c in X.columns if c != "const"})], axis=1)
            Xtr, Xte = add_wx(Xtr), add_wx(Xte)
        if model in ("sdm", "sdem", *DURBIN_PANEL_MODELS):
            Xtr, Xte = (lagged_regressors(X, data_weights(weights, X.index, [], warn=False)) for X in (Xtr, Xte))
        terms = [p for p in r.params.index if p in Xte.columns]
        b = r.params[terms].to_numpy()
        m = Xte[terms].to_numpy() @ b
        rho = r.params.get("rho", 0.0)
        if model == "fe" or model in _FE_PANELS:
            ytr = d.y[tr]
            struct = ytr - Xtr[terms].to_numpy() @ b
            if rho:
                Wtr = data_weights(weights, ytr.index, [], warn=False)
                struct = struct - rho * (Wtr @ ytr.to_numpy())
            alpha = struct.groupby(level="unit").mean()
            m = m + alpha.reindex(Xte.index.get_level_values("unit")).fillna(0.0).to_numpy()
        pred = m
        if rho:
            W = data_weights(weights, Xte.index, [], warn=False)
            pred = spsolve(sparse.identity(W.shape[0], format="csc") - rho * W.tocsc(), m)
        errs.append(d.y[te].to_numpy() - pred)
    e = np.concatenate(errs)
    return float(np.sqrt(np.mean(e**2)))


def _runs(model: str, weights: Mapping[str, WeightsLike]) -> list[tuple[str, Any]]:
    """The (column, weights) of one model: once without weights, once per matrix, or (``*_mix``)
    once with every matrix in W(gamma)."""
    if model.endswith("_mix"):
        return [(model, dict(weights))]
    return [(model, None)] if not GRID_MODELS[model] else [(f"{model}|{w}", g) for w, g in weights.items()]


def _task(args: tuple) -> tuple[RegressionResults | None, str | None, float, list[str]]:
    """Fit one model of the grid and its holdout RMSE, collecting its warnings."""
    name, m, d, g, cov_type, holdout = args
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        try:
            res = _fit_one(m, d, g, cov_type)
            score = _holdout_rmse(m, d, g, cov_type, holdout) if holdout else float("nan")
        except (InputError, np.linalg.LinAlgError, ValueError, ImportError) as err:
            return None, f"{type(err).__name__}: {err}", float("nan"), []
    return res, None, score, list(dict.fromkeys(str(w.message) for w in caught))


def compare(
    data: PanelData,
    *,
    weights: Mapping[str, WeightsLike],
    models: Sequence[str] = ("vra_ols", "slx", "sar", "sem", "sdm", "fe", "re", "sar_fe", "sem_fe"),
    terms: str | Sequence[str] = "2022",
    alternative_terms: Sequence[str] | None = None,
    years: tuple[int, int] | None = None,
    holdout_years: Sequence[int] | None = None,
    cov_type: str = "clustered",
    commuting_year: int | str = "same",
) -> Comparison:
    """Run models x weights on one sample and tabulate them.

    Parameters
    ----------
    data : PanelData
    weights : mapping name -> Graph or SparseWeights
        E.g. ``{"commuting": without_diagonal(commuting(...)), "queen": ..., "knn6": ...,
        "distance": ...}``; row-standardise geometric graphs first.  Each is used by
        every spatial model, and every model's residuals are tested (Moran's I, LM)
        under each of them.
    models : sequence of str
        From :data:`GRID_MODELS`; non-spatial models are run once, the other models
        once per weights matrix (columns ``model|weights``), except ``sar_mix``,
        ``sem_mix`` and ``sdm_mix`` (not run by default): one column each, with the
        convex combination of all the ``weights`` (``gamma_<name>`` rows;
        :mod:`geoattr.models.ml_mixture`).  The spatial Durbin panels ``sdm_fe``,
        ``sdem_fe``, ``sdm_re`` (:mod:`geoattr.models.spatial_panel_durbin`) and
        ``sar_fe_keep`` / ``sem_fe_keep`` (``sar_fe`` / ``sem_fe`` with
        ``balance="keep"``: an unbalanced panel as it is) are not run by default either.
    terms : str or list, default "2022"
        Regressors of ``vra_ols`` (a specification name or terms).
    alternative_terms : list of str, optional
        Regressors of the other models; default the VRA terms replaced by own growth
        (``ra, ra_l1, ra_l2``) and the rest kept.
    years : (int, int), optional
    holdout_years : sequence of int, optional
        Years held out one at a time for the out-of-sample RMSE row (default: the
        last year; each held-out year refits every model).
    cov_type : str, default "clustered"
        Covariance of the least-squares and panel models (spatial ML: information matrix).
    commuting_year : int or "same"

    Returns
    -------
    Comparison
    """
    unknown = [m for m in models if m not in GRID_MODELS]
    if unknown:
        raise InputError(f"unknown model(s) {unknown}; choose from {sorted(GRID_MODELS)}")
    if not weights and any(GRID_MODELS[m] for m in models):
        raise InputError("spatial models need weights={name: Graph, ...}")
    base = build_design(data, terms, years=years, commuting_year=commuting_year)
    if alternative_terms is None:
        alt = [t.replace("vra", "ra") if t.startswith("vra") else t for t in base.X.columns if t != "const"]
    else:
        alt = list(alternative_terms)
    alt_design = build_design(data, alt, years=base.years, commuting_year=commuting_year)
    holdout = list(holdout_years) if holdout_years is not None else [base.years[1]]
    results: dict[str, RegressionResults] = {}
    designs: dict[str, Design] = {}
    errors: dict[str, str] = {}
    rmse: dict[str, float] = {}
    tasks = []
    for m in models:
        for name, g in _runs(m, weights):
            tasks.append((name, m, base if m == "vra_ols" else alt_design, g, cov_type, holdout))
    outcomes = [_task(t) for t in tasks]
    for (name, _, d, *_rest), (res, err, score, caught) in zip(tasks, outcomes):
        if err is not None:
            errors[name] = err
            continue
        res = res.replace(add_notes=caught) if caught else res
        results[name], rmse[name], designs[name] = res, score, d
    if errors:
        warnings.warn(f"{len(errors)} model(s) could not be estimated: {errors}", GeoattrWarning, stacklevel=2)
    coef_terms: list[str] = []
    for r in results.values():
        for t in r.params.index:
            if t not in coef_terms:
                coef_terms.append(t)
    rows: dict[str, dict[str, float]] = {}
    pvals: dict[str, dict[str, float]] = {}
    for t in coef_terms:
        rows[t] = {n: r.params.get(t, np.nan) for n, r in results.items()}
        rows[f"{t} (se)"] = {n: r.std_errors.get(t, np.nan) for n, r in results.items()}
        pvals[t] = {n: r.pvalues.get(t, np.nan) for n, r in results.items()}
    for stat in ("nobs", "loglik", "aic", "bic", "r2"):
        rows[stat] = {n: (r.rsquared if stat == "r2" else getattr(r, stat)) for n, r in results.items()}
    for wname, g in weights.items():
        rows[f"moran_I_z[{wname}]"], rows[f"moran_p[{wname}]"] = {}, {}
        rows[f"lm_lag_p[{wname}]"], rows[f"lm_error_p[{wname}]"] = {}, {}
        for n, r in results.items():
            idx = r.resids.index
            try:
                Wp = data_weights(g, idx, [], warn=False)
                least_squares = r.model in ("ols", "wls") and "const" in r.params.index
                if least_squares:
                    Xr = designs[n].X.reindex(idx)
                    if n.startswith("slx"):
                        Xr = None  # WX columns are not in the design; use the mean-deviation moments
                    mt = moran_residuals(r.resids, Xr, Wp)
                    if Xr is not None:
                        lm = lm_tests(r, Xr, Wp)
                        rows[f"lm_lag_p[{wname}]"][n] = lm.loc["lm_lag", "pvalue"]
                        rows[f"lm_error_p[{wname}]"][n] = lm.loc["lm_error", "pvalue"]
                else:
                    mt = moran_residuals(r.resids, None, Wp)
                rows[f"moran_I_z[{wname}]"][n] = mt.statistic
                rows[f"moran_p[{wname}]"][n] = mt.pvalue
            except InputError as err:
                errors[f"{n} moran[{wname}]"] = str(err)
    rows["pesaran_cd"], rows["pesaran_cd_p"] = {}, {}
    for n, r in results.items():
        if not isinstance(r.resids.index, pd.MultiIndex):
            continue  # a cross-section: no years to correlate over
        try:
            cd = pesaran_cd(r.resids)
        except InputError as err:  # an unbalanced panel or fewer than 3 years
            errors[f"{n} pesaran_cd"] = str(err)
            continue
        rows["pesaran_cd"][n], rows["pesaran_cd_p"][n] = cd.statistic, cd.pvalue
    rows["rmse_holdout"] = rmse
    table = pd.DataFrame(rows).T.reindex(columns=list(results))
    return Comparison(results=results, table=table, errors=errors, coef_terms=coef_terms,
                      coef_pvalues=pd.DataFrame(pvals).T.reindex(columns=list(results)))
