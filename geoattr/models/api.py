"""``geoattr.fit``: one front door for every estimator.

``fit(formula, data, *, model, weights=None, obs_weights=None, effects=None, method="ml", cov_type=..., **options)``

The formula is ``"y ~ a + b + lag(c, 1) + W(d)"``: column names of ``data``,
``lag(x, k)`` (the value of *x* in year *t-k* of the same unit), ``W(x)`` (the
spatial lag of *x* within each year with the ``weights`` graph); ``- 1`` or ``+ 0``
drops the constant.  ``data`` is a panel on (unit, year), a cross-section (a
DataFrame or GeoDataFrame indexed by unit), or a :class:`~geoattr.data.PanelData`
(model variables such as ``vra``, ``centrality``, ``ds`` are built first and ``y`` is
the net migration rate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from linearmodels.iv import IV2SLS

from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.models.ml_mixture import MIXTURE_MODELS, fit_mixture
from geoattr.models.ols import LeastSquares, check_values
from geoattr.models.panel import fit_panel
from geoattr.models.results import RegressionResults
from geoattr.models.spatial import fit_gmm, fit_spatial
from geoattr.models.spatial_panel import fit_sar_re, fit_sem_re, fit_spatial_panel
from geoattr.models.spatial_panel_durbin import DURBIN_PANEL_MODELS, fit_durbin_panel
from geoattr.models.spatial_panel_unbalanced import KEEP_MODELS
from geoattr.variables import Design, build_design
from geoattr.weights.commuting import without_diagonal
from geoattr.weights.lag import spatial_lag
from geoattr.typing import WeightsLike
from geoattr.weights.sparse import id_mismatch_hint
import geoattr._validation as val

__all__ = ["fit", "parse_formula", "MODELS", "CROSS_SECTION_MODELS"]

#: the year given to a cross-section so that it runs through the panel estimators
_CROSS_SECTION_YEAR = 0

#: Names accepted by ``fit(model=...)`` -> what is estimated.
MODELS = {
    # least squares and linearmodels panels
    "ols": "pooled least squares (weighted with obs_weights=)",
    "slx": "least squares with spatially lagged regressors WX",
    "fe": "fixed effects (linearmodels PanelOLS)",
    "re": "random effects (linearmodels RandomEffects)",
    "fd": "first differences (linearmodels FirstDifferenceOLS)",
    "iv": "two-stage least squares (linearmodels IV2SLS): endog= and instruments=",
    # spatial cross-sections (and pooled panels)
    "sar": "spatial lag of y (ML, sparse)",
    "sem": "spatial error (ML, sparse)",
    "sdm": "spatial Durbin: lag of y and WX (ML)",
    "sdem": "spatial Durbin error: error and WX (ML)",
    "sac": "spatial lag and spatial error, optionally with different weights (ML)",
    "gmm_lag": "spatial two-stage least squares (spreg GM_Lag; endog=, instruments= optional)",
    "gmm_error": "heteroskedasticity-robust GMM spatial error (spreg GM_Error_Het)",
    # spatial panels with unit (or two-way) effects
    "sar_fe": "spatial lag panel with fixed effects (ML on within-transformed data)",
    "sem_fe": "spatial error panel with fixed effects (ML on within-transformed data)",
    "sar_re": "spatial lag panel with random effects (Elhorst's ML, phi concentrated)",
    "sem_re": "spatial error panel with random effects (Elhorst's ML, sparse log-determinants)",
    "sdm_fe": "spatial Durbin panel with fixed effects: lag of y and WX (ML on within-transformed data)",
    "sdem_fe": "spatial Durbin error panel with fixed effects: error and WX (ML on within-transformed data)",
    "sdm_re": "spatial Durbin panel with random effects: lag of y and WX (Elhorst's ML)",
}

#: Models that ``fit`` estimates on a cross-section (data indexed by unit).
CROSS_SECTION_MODELS = ("ols", "slx", "iv", "sar", "sem", "sdm", "sdem", "sac", "gmm_lag", "gmm_error")
_SPATIAL_ML = ("sar", "sem", "sdm", "sdem", "sac", "sar_fe", "sem_fe", "sar_re", "sem_re", *DURBIN_PANEL_MODELS)
#: Options of the approximate log-determinant (``method="chebyshev"`` / ``"mc"``) and the models taking them.
_LOGDET_OPTIONS = ("logdet_order", "logdet_probes")
_LOGDET_MODELS = ("sar", "sem", "sdm", "sdem", "sac")
_BUILD_OPTIONS = ("years", "commuting_year", "min_share", "top_k", "include_diagonal", "on_missing", "dependent")

_TERM = re.compile(r"^(?:(W)\()?(?:lag\(\s*([A-Za-z_][\w]*)\s*,\s*(\d+)\s*\)|([A-Za-z_][\w]*))\)?$")


@dataclass(frozen=True)
class Term:
    """A parsed formula term: variable, time lag and whether it is spatially lagged."""

    variable: str
    lag: int = 0
    spatial: bool = False

    @property
    def name(self) -> str:
        """Output name: ``x``, ``x_l1``, ``W_x``, ``W_x_l1``."""
        base = self.variable if self.lag == 0 else f"{self.variable}_l{self.lag}"
        return f"W_{base}" if self.spatial else base


def parse_formula(formula: str) -> tuple[str, list[Term], bool]:
    """Parse ``"y ~ a + lag(b, 1) + W(c) - 1"``.

    Returns
    -------
    (str, list of Term, bool)
        Dependent variable, terms, and whether there is a constant.
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise InputError(f"formula must look like 'y ~ x1 + x2', got {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not re.fullmatch(r"[A-Za-z_]\w*", lhs):
        raise InputError(f"the left-hand side must be one column name, got {lhs!r}")
    constant = True
    terms: list[Term] = []
    rhs = rhs.replace("- 1", "+ -1").replace("-1", "+ -1")
    for raw in [t.strip() for t in rhs.split("+") if t.strip()]:
        if raw in ("0", "-1"):
            constant = False
            continue
        if raw == "1":
            continue
        m = _TERM.match(raw.replace(" ", ""))
        if not m or (m.group(1) and not raw.replace(" ", "").endswith(")")):
            raise InputError(
                f"cannot read the term {raw!r}; use a column name, lag(x, k) or W(x) (e.g. W(lag(x, 1)))"
            )
        spatial = bool(m.group(1))
        var = m.group(2) or m.group(4)
        lag = int(m.group(3)) if m.group(3) else 0
        terms.append(Term(var, lag, spatial))
    if not terms and not constant:
        raise InputError("the formula has no regressors")
    return lhs, terms, constant


def _time_lag(s: pd.Series, k: int) -> pd.Series:
    """Value in year t-k of the same unit (NaN when that year is absent)."""
    if k == 0:
        return s
    prev = s.copy()
    prev.index = pd.MultiIndex.from_arrays(
        [s.index.get_level_values(0), s.index.get_level_values(1) + k], names=s.index.names
    )
    return prev.reindex(s.index)


def _off_diagonal(weights: WeightsLike | None, name: str, notes: list[str]) -> WeightsLike | None:
    """Commuting weights (self-weights on the diagonal) as the W of a spatial term: drop the
    diagonal and renormalise the rows (MODEL.md conventions), with a note."""
    if weights is None or not hasattr(weights, "adjacency"):
        return weights
    adj = weights.adjacency
    self_w = (adj.index.get_level_values("focal") == adj.index.get_level_values("neighbor")) & (adj.to_numpy() != 0)
    n_self = int(self_w.sum())
    if not n_self:
        return weights
    notes.append(f"{name}: {n_self} self-weight(s) (commuting shares of residents working locally) dropped and the "
                 "rows renormalised for the spatial terms")
    return without_diagonal(weights)


def _frame(data: pd.DataFrame | PanelData, lhs: str, terms: list[Term], build: Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(data, PanelData):
        vars_needed = sorted({t.variable for t in terms})
        d = build_design(data, vars_needed, constant=False, **build)
        df = d.X.copy()
        if lhs != "y" and lhs in data.panel.columns:
            df[lhs] = data.column(lhs).reindex(df.index)
        else:
            df[lhs] = d.y
        df["population"] = d.population
        return df
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a DataFrame on (unit, year) or a PanelData, {type(data).__name__} was given")
    if not isinstance(data.index, pd.MultiIndex) or data.index.nlevels != 2:
        raise InputError("data must be indexed by (unit, year): use data.set_index(['unit', 'year'])")
    if build:
        raise InputError(f"options {sorted(build)} apply to PanelData input only")
    years = val.whole_years_of_index(data.index, name="data")
    if not pd.api.types.is_integer_dtype(data.index.get_level_values(1)):
        data = data.set_axis(pd.MultiIndex.from_arrays([data.index.get_level_values(0), years],
                                                       names=data.index.names))
    return data


def _is_cross_section(data: Any) -> bool:
    """A DataFrame indexed by unit (one level that is not a default RangeIndex)."""
    if not isinstance(data, pd.DataFrame) or isinstance(data.index, pd.MultiIndex):
        return False
    if isinstance(data.index, pd.RangeIndex) and data.index.name is None:
        raise InputError(
            "data must be indexed by (unit, year) for a panel, or by unit for a cross-section; it has a default "
            "RangeIndex: use data.set_index(['unit', 'year']) or data.set_index('unit')"
        )
    return True


def _check_ids(index: pd.Index, weights: WeightsLike | Mapping[str, WeightsLike] | None, name: str) -> None:
    """The ids of a cross-section's weights must be its units (any order)."""
    if weights is None:
        return
    if isinstance(weights, Mapping):
        for key, g in weights.items():
            _check_ids(index, g, f"{name}[{key!r}]")
        return
    ids = pd.Index(weights.unique_ids)
    not_in_w = index.difference(ids)
    not_in_data = ids.difference(index)
    parts = []
    if len(not_in_w):
        parts.append(f"{len(not_in_w)} unit(s) of the data are not in {name} ({format_ids(not_in_w)})")
    if len(not_in_data):
        parts.append(f"{len(not_in_data)} id(s) of {name} are not in the data ({format_ids(not_in_data)})")
    if parts:
        raise InputError(f"the ids of {name} differ from the data's units: {'; '.join(parts)}"
                         f"{id_mismatch_hint(index, ids, weights_name=f'the {name}')}; subset the data or the weights so "
                         "that they match (geoattr.weights.align(weights, data.index) renormalises "
                         "row-standardised weights)")


def _with_year(obj: Any) -> Any:
    """A unit-indexed Series/DataFrame with the fake year level appended."""
    out = obj.copy()
    out.index = pd.MultiIndex.from_arrays(
        [obj.index, np.full(len(obj), _CROSS_SECTION_YEAR)], names=[obj.index.name or "unit", "year"])
    return out


def _fit_cross_section(formula: str, data: pd.DataFrame, *, model: str, weights: WeightsLike | None,
                       error_weights: WeightsLike | None, obs_weights: Any, **kw: Any) -> RegressionResults:
    """A cross-section through the panel path with one fake year; results on the unit index."""
    if model not in CROSS_SECTION_MODELS:
        raise InputError(f"model={model!r} needs a panel indexed by (unit, year); on a cross-section use one of "
                         f"{list(CROSS_SECTION_MODELS)}")
    lagged = [t.name for t in parse_formula(formula)[1] if t.lag]
    if lagged:
        raise InputError(f"time lags {lagged} need a panel indexed by (unit, year); a cross-section has one period")
    if data.index.has_duplicates:
        dup = data.index[data.index.duplicated()].unique()
        raise InputError(f"a cross-section has one row per unit; {len(dup)} unit(s) repeat: {format_ids(dup)}")
    _check_ids(data.index, weights, "weights")
    _check_ids(data.index, error_weights, "error_weights")
    if obs_weights is not None and not isinstance(obs_weights, str):
        obs_weights = _with_year(pd.Series(np.asarray(obs_weights, dtype=float), index=data.index)
                                 if not isinstance(obs_weights, pd.Series) else obs_weights)
    res = _fit_panel_data(formula, _with_year(pd.DataFrame(data)), model=model, weights=weights,
                          error_weights=error_weights, obs_weights=obs_weights, **kw)
    name = data.index.name

    def flat(s: pd.Series) -> pd.Series:
        return s.set_axis(s.index.get_level_values(0).rename(name))

    geodata = data if isinstance(data, gpd.GeoDataFrame) else None
    return res.replace(y=flat(res.y), fitted_values=flat(res.fitted_values), resids=flat(res.resids),
                       geodata=geodata)


def fit(
    formula: str,
    data: pd.DataFrame | PanelData,
    *,
    model: str = "ols",
    weights: WeightsLike | Mapping[str, WeightsLike] | None = None,
    error_weights: WeightsLike | None = None,
    obs_weights: str | pd.Series | np.ndarray | None = None,
    effects: str | None = None,
    method: str = "ml",
    cov_type: str | None = None,
    **options: Any,
) -> RegressionResults:
    """Estimate any geoattr model from a formula.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + lag(x2, 1) + W(x3)"``; see the module docstring.
    data : DataFrame, GeoDataFrame or PanelData
        A DataFrame on the (unit, year) index (a panel); a DataFrame or GeoDataFrame
        indexed by unit (a cross-section: the models of :data:`CROSS_SECTION_MODELS`,
        results on the unit index; fitted on a GeoDataFrame, the results'
        ``explore()`` maps the residuals); or a PanelData (model variables built with
        :func:`geoattr.variables.build_design`; pass its options such as ``years=``,
        ``commuting_year=`` here).
    model : str, default "ols"
        One of :data:`MODELS`.
    weights : libpysal.graph.Graph or SparseWeights, optional
        Spatial weights for ``W(...)`` terms and spatial models; ids must match the
        data's units.  Commuting graphs (with self-weights on the diagonal) are
        passed through :func:`geoattr.weights.without_diagonal` automatically: the
        diagonal is dropped and the rows renormalised (MODEL.md), and a note says so.
        On a cross-section the weights' ids must be the data's units (an error names
        the differences, and both forms when integer ids meet string ids).  On a panel,
        weights over more units than the data (or units missing in some years) are
        subset to the units observed in each year by the spatial models: the rows of
        row-standardised weights that lost neighbours are renormalised to sum to 1, and
        a note in the results and a :class:`~geoattr.exceptions.WeightsSubsetWarning`
        say so (see :func:`geoattr.weights.lag.data_weights`).
        A mapping ``{"commuting": g1, "queen": g2, ...}`` (models ``sar``, ``sem``,
        ``sdm``, ``sdem``, ``sac``; cross-sections and pooled panels) estimates the convex combination ``W(gamma) = sum_k gamma_k W_k``
        jointly with rho or lambda (:func:`geoattr.models.ml_mixture.fit_mixture`):
        ``gamma_<name>`` in ``params``, likelihood-ratio tests of each pure matrix in
        ``corner_tests``; ``gamma={...}`` fixes gamma.
    error_weights : libpysal.graph.Graph or SparseWeights, optional
        ``sac``: different weights for the error term.
    obs_weights : "population", pandas.Series or array, optional
        Observation weights of ``ols``, ``slx``, ``fe``, ``re`` and ``fd``:
        ``"population"`` weights by the ``population`` column (weighted least
        squares), a Series (on the data's index) or an array gives the weights.
    effects : {"unit", "time", "twoway"}, optional
        Panel effects for ``fe``/``re``.
    method : str, default "ml"
        Estimation method of the spatial models (maximum likelihood; the
        log-determinant method of the engine may be named instead: ``"lu"``,
        ``"eigen"``, or the approximations ``"chebyshev"``, ``"mc"`` for ``sar``/``sem``
        beyond the memory of a sparse LU, :mod:`geoattr.models.ml_approx`).
    cov_type : str, optional
        Covariance; default ``"clustered"`` (by unit) for least squares and panels.
    **options
        ``balance="drop"`` lets the spatial panel models drop units not observed in
        every year (reported in the notes); ``balance="keep"`` fits ``sar_fe``,
        ``sem_fe``, ``sdm_fe`` and ``sdem_fe`` on the unbalanced panel with each
        year's subgraph of W (:mod:`geoattr.models.spatial_panel_unbalanced`); ``endog=``/``instruments=`` for ``iv``
        and ``gmm_lag``; ``logdet_order=``/``logdet_probes=`` set the degree (terms) and
        probes of an approximate log-determinant (``method="chebyshev"``/``"mc"``,
        :func:`geoattr.models.ml.ml_lag`); design options (``years``, ``commuting_year``...)
        apply to PanelData input.

    Returns
    -------
    RegressionResults
    """
    if model == "wls":
        raise InputError("model='wls' is not a model: population weighting is obs_weights='population' "
                         "(e.g. fit(formula, data, model='ols', obs_weights='population'))")
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {sorted(MODELS)}")
    if isinstance(weights, Mapping) and model not in MIXTURE_MODELS:
        raise InputError(f"a mapping of weights {list(weights)} (a convex combination W(gamma)) works with model in "
                         f"{list(MIXTURE_MODELS)}, not {model!r}; pass one weights graph for {model!r}")
    if "gamma" in options and not isinstance(weights, Mapping):
        raise InputError("gamma= fixes the weights of a convex combination: pass weights={name: graph, ...}")
    kw = {"model": model, "weights": weights, "error_weights": error_weights, "obs_weights": obs_weights,
          "effects": effects, "method": method, "cov_type": cov_type, **options}
    if _is_cross_section(data):
        return _fit_cross_section(formula, data, **kw)
    return _fit_panel_data(formula, data, **kw)


def _fit_panel_data(formula: str, data: pd.DataFrame | PanelData, *, model: str, weights: WeightsLike | None,
                    error_weights: WeightsLike | None, obs_weights: Any, effects: str | None, method: str, cov_type: str | None,
                    **options: Any) -> RegressionResults:
    """``fit`` on panel data (or a PanelData): the design, then the estimator."""
    lhs, terms, constant = parse_formula(formula)
    if model == "slx":
        if weights is None:
            raise InputError("model='slx' needs weights= (a libpysal Graph)")
        terms = terms + [Term(t.variable, t.lag, True) for t in terms if not t.spatial]
    diag_notes: list[str] = []
    mixture = weights if isinstance(weights, Mapping) else None
    if mixture is not None:
        mixture = {k: _off_diagonal(g, f"weights[{k!r}]", diag_notes) for k, g in mixture.items()}
        weights = None
    weights = _off_diagonal(weights, "weights", diag_notes)
    error_weights = _off_diagonal(error_weights, "error_weights", diag_notes)
    endog = list(options.pop("endog", []) or [])
    instruments = list(options.pop("instruments", []) or [])
    balance = _balance_option(options.pop("balance", "raise"), model)
    gamma = options.pop("gamma", None)
    approx = {k: options.pop(k) for k in list(options) if k in _LOGDET_OPTIONS and model in _LOGDET_MODELS}
    build = {k: options.pop(k) for k in list(options) if k in _BUILD_OPTIONS}
    if options:
        raise InputError(f"unknown option(s) {sorted(options)} for model {model!r}")
    df = _frame(data, lhs, terms, build)
    if model in ("iv",) and (not endog or not instruments):
        raise InputError("model='iv' needs endog= and instruments= (lists of column names)")
    y, X, notes = _regressors(df, lhs, terms, constant, instruments, weights)
    notes += diag_notes
    pop = _obs_weights(obs_weights, df, y.index, model)
    years = (int(y.index.get_level_values(1).min()), int(y.index.get_level_values(1).max()))
    design = Design(y=y, X=X, population=pop if pop is not None else pd.Series(1.0, index=y.index), spec=formula,
                    unit_level="unit", years=years, notes=notes)
    check_values(design)  # every estimator: finite values and a y that varies
    if model in ("ols", "slx"):
        # the design's notes reach the results through LeastSquares
        return LeastSquares(design, obs_weights=pop).fit(cov_type=cov_type or "clustered")
    if model == "iv":
        return _fit_iv(y, X, df.loc[y.index, instruments], endog, cov_type or "clustered", notes)
    if mixture is not None:
        res = fit_mixture(y, X, mixture, model=model, gamma=gamma)
        return res.replace(add_notes=notes) if notes else res
    if model in ("gmm_lag", "gmm_error") or model in _SPATIAL_ML:
        if weights is None:
            raise InputError(f"model={model!r} needs weights= (a libpysal Graph)")
    if model in ("gmm_lag", "gmm_error"):
        ex = X[endog] if endog else None
        res = fit_gmm(y, X.drop(columns=endog) if endog else X, weights, model=model, endog=ex,
                      instruments=df.loc[y.index, instruments] if instruments else None)
    elif model in _SPATIAL_ML:
        res = _fit_spatial_ml(y, X, model=model, weights=weights, error_weights=error_weights, effects=effects,
                              method=method, balance=balance, approx=approx)
    else:
        res = fit_panel(y, X, model=model, effects=(effects or "unit") if model != "fd" else None,
                        cov_type=cov_type or "clustered", obs_weights=pop)
    return res.replace(add_notes=notes) if notes else res


def _regressors(df: pd.DataFrame, lhs: str, terms: list[Term], constant: bool, instruments: list[str],
                weights: WeightsLike | None) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """y and X of the formula on the rows with every value (time and spatial lags built)."""
    needed = [lhs] + sorted({t.variable for t in terms}) + instruments
    missing_cols = [c for c in needed if c not in df.columns]
    if missing_cols:
        raise InputError(f"column(s) {missing_cols} are not in the data; it has {list(df.columns)}")
    _check_lags(df, terms)
    cols: dict[str, pd.Series] = {}
    for t in terms:
        s = _time_lag(df[t.variable], t.lag).rename(t.name if not t.spatial else t.name[2:])
        if t.spatial:
            if weights is None:
                raise InputError(f"the term W({t.variable}) needs weights= (one graph; with a mapping of weights "
                                 "use model='sdm' for the lags of the regressors)")
            s = spatial_lag(s, weights)
        cols[t.name] = s
    X = pd.DataFrame(cols, index=df.index)
    if constant:
        X.insert(0, "const", 1.0)
    y = df[lhs].rename("y")
    ok = y.notna() & X.notna().all(axis=1)
    if not ok.any():
        empty = [c for c in [y.name, *X.columns] if (y if c == "y" else X[c]).isna().all()]
        raise InputError(f"no row has every value the formula needs: {empty or 'the combination of columns'} "
                         f"{'is' if len(empty) == 1 else 'are'} missing in every row; check the lags and the "
                         "data's years")
    dropped = int((~ok).sum())
    notes = [f"{dropped} row(s) without the lags or values needed were left out"] if dropped else []
    return y[ok], X[ok], notes


def _check_lags(df: pd.DataFrame, terms: list[Term]) -> None:
    """Every time lag ``lag(x, k)`` needs some row whose year ``t - k`` is in the data."""
    years = sorted(pd.unique(df.index.get_level_values(1)))
    if not years:
        raise InputError("the data have no rows")
    span = f"{years[0]}-{years[-1]}" if len(years) > 1 else f"{years[0]}"
    for t in terms:
        if t.lag and not set(years).intersection(y - t.lag for y in years):
            raise InputError(
                f"lag({t.variable}, {t.lag}) needs the value {t.lag} year(s) earlier, but the data have "
                f"{len(years)} year(s) ({span}): no year t has t-{t.lag} in the data. Use a lag of at most "
                f"{years[-1] - years[0]} or add earlier years")


def _obs_weights(obs_weights: Any, df: pd.DataFrame, index: pd.Index, model: str) -> pd.Series | None:
    """The observation weights on the estimation sample (``None``: unweighted)."""
    if obs_weights is None:
        return None
    if model not in ("ols", "slx", "fe", "re", "fd"):
        raise InputError(f"obs_weights apply to ols, slx, fe, re and fd, not to model={model!r}")
    if isinstance(obs_weights, str):
        if obs_weights != "population":
            raise InputError(f"obs_weights must be 'population', a Series or an array, got {obs_weights!r}")
        if "population" not in df.columns:
            raise InputError("obs_weights='population' weights by a 'population' column, which the data lack")
        return df["population"].reindex(index)
    w = obs_weights if isinstance(obs_weights, pd.Series) else pd.Series(np.asarray(obs_weights, dtype=float),
                                                                          index=df.index)
    w = w.reindex(index)
    if w.isna().any():
        raise InputError(f"obs_weights lack {int(w.isna().sum())} observation(s) of the estimation sample: "
                         f"{format_ids(w.index[w.isna()])}")
    return w


def _balance_option(balance: Any, model: str) -> str:
    """``balance=`` checked: "raise", "drop", or "keep" for the fixed-effects spatial panels."""
    if balance not in ("raise", "drop", "keep"):
        raise InputError(f"balance must be 'raise', 'drop' or 'keep', got {balance!r}")
    if balance == "keep" and model not in KEEP_MODELS:
        raise InputError(f"balance='keep' (unbalanced spatial panels) is supported by {list(KEEP_MODELS)}, not by "
                         f"model={model!r}; use balance='drop' to drop the units not observed in every year")
    return balance


def _fit_spatial_ml(y: pd.Series, X: pd.DataFrame, *, model: str, weights: WeightsLike,
                    error_weights: WeightsLike | None, effects: str | None, method: str, balance: str,
                    approx: Mapping[str, Any]) -> RegressionResults:
    """The maximum-likelihood spatial models (cross-section, pooled and panel); ``approx`` holds
    ``logdet_order``/``logdet_probes`` of the pooled models (``_LOGDET_MODELS``)."""
    if model == "sar_re":
        return fit_sar_re(y, X, weights, balance=balance)
    if model == "sem_re":
        return fit_sem_re(y, X, weights, balance=balance)
    if model in DURBIN_PANEL_MODELS:
        return fit_durbin_panel(y, X, weights, model=model, effects=effects or "unit", balance=balance)
    if model.endswith("_fe"):
        return fit_spatial_panel(y, X, weights, model=model, effects=effects or "unit", balance=balance)
    return fit_spatial(y, X, weights, model=model, error_weights=error_weights,
                       method=method if method != "ml" else "auto", **approx)


def _fit_iv(y: pd.Series, X: pd.DataFrame, Z: pd.DataFrame, endog: list[str], cov_type: str,
            notes: list[str]) -> RegressionResults:
    """Two-stage least squares with linearmodels; first-stage F statistics in the notes."""
    missing = [e for e in endog if e not in X.columns]
    if missing:
        raise InputError(f"endog {missing} must be regressors of the formula; they are {list(X.columns)}")
    exog = X.drop(columns=endog)
    kw: dict[str, Any] = {}
    lm_cov = {"clustered": "clustered", "robust": "robust", "unadjusted": "unadjusted"}.get(cov_type)
    if lm_cov is None:
        raise ValueError(f"cov_type for model='iv' must be clustered, robust or unadjusted, got {cov_type!r}")
    if lm_cov == "clustered":
        kw["clusters"] = pd.Series(pd.factorize(y.index.get_level_values(0))[0], index=y.index)
    def flat(f: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        return f.reset_index(drop=True)  # linearmodels' IV estimators want a plain index

    res = IV2SLS(flat(y), flat(exog), flat(X[endog]), flat(Z)).fit(
        cov_type=lm_cov, **({"clusters": flat(kw["clusters"])} if "clusters" in kw else {}))
    fs = res.first_stage.diagnostics
    notes = notes + [f"first-stage partial F for {e}: {fs.loc[e, 'f.stat']:.2f}" for e in endog]
    params = res.params.reindex(list(X.columns))
    cov = res.cov.reindex(index=list(X.columns), columns=list(X.columns))
    fitted = pd.Series(X.to_numpy() @ params.to_numpy(), index=y.index, name="fitted")
    return RegressionResults(
        params=params.rename("estimate"), cov=cov, y=y, fitted_values=fitted, resids=(y - fitted).rename("resid"),
        nobs=int(res.nobs), df_resid=float(res.df_resid), loglik=float("nan"), rsquared=float(res.rsquared),
        model="iv", cov_type=cov_type, info={"Instruments": ", ".join(Z.columns)}, notes=notes,
    )
