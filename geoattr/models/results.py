"""One results family for every geoattr estimator.

Modelled on ``linearmodels.panel.results``: labelled pandas properties, lazy
statistics, a ``summary`` object with text, HTML and LaTeX renderings, plus
``to_frame()`` and the statsmodels aliases ``bse`` and ``tvalues``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats

from geoattr._format import STARS_NOTE, escape_latex, stars
from geoattr.exceptions import InputError

__all__ = ["Results", "RegressionResults", "Summary", "copied", "squared_correlation"]


def squared_correlation(a: Any, b: Any, *, rows: int = 1 << 20) -> float:
    """Squared Pearson correlation of two vectors (the spatial models' pseudo R2), by blocks of rows.

    ``numpy.corrcoef`` stacks and centres both vectors (three n-vectors of temporaries:
    480 MB at 2 x 10^7 observations, the peak of a pooled fit); this sums the centred
    cross-products over blocks of ``rows``, equal to it up to rounding.

    Parameters
    ----------
    a, b : array-like, shape (n,)
    rows : int, default 2^20

    Returns
    -------
    float
    """
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    mx, my = x.mean(), y.mean()
    sxy = sxx = syy = 0.0
    for start in range(0, len(x), rows):
        dx, dy = x[start:start + rows] - mx, y[start:start + rows] - my
        sxy, sxx, syy = sxy + float(dx @ dy), sxx + float(dx @ dx), syy + float(dy @ dy)
    return sxy * sxy / (sxx * syy)


def copied(attr: str, doc: str) -> property:
    """A read-only property that returns a copy of the private attribute ``attr``.

    Results objects hand out copies, so that changing a returned table never changes
    the results.

    Parameters
    ----------
    attr : str
        Name of the attribute that holds the value (``"_params"``).
    doc : str
        Docstring of the property.

    Returns
    -------
    property
        Its getter returns ``getattr(self, attr).copy()``.
    """
    return property(lambda self: getattr(self, attr).copy(), doc=doc)


@dataclass(frozen=True)
class Summary:
    """Printable summary of a :class:`RegressionResults`.

    Use ``as_text()``, ``as_html()`` or ``as_latex()``; ``str()`` gives the text.
    """

    title: str
    info: list[tuple[str, str]]
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        """Plain-text rendering."""
        width = 78
        lines = [self.title.center(width), "=" * width]
        half = (len(self.info) + 1) // 2
        left, right = self.info[:half], self.info[half:]
        for i in range(half):
            lk, lv = left[i]
            row = f"{lk + ':':<18}{lv:>18}"
            if i < len(right):
                rk, rv = right[i]
                row += f"    {rk + ':':<18}{rv:>18}"
            lines.append(row)
        lines.append("=" * width)
        lines.append(self.table.to_string(float_format=lambda v: f"{v:.4f}"))
        lines.append("=" * width)
        lines.extend(self.notes)
        return "\n".join(lines)

    def as_html(self) -> str:
        """HTML rendering (two tables, as linearmodels does)."""
        info = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self.info
        )
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (
            f"<table class='geoattr-summary'><caption>{html.escape(self.title)}</caption>{info}</table>"
            + self.table.to_html(float_format=lambda v: f"{v:.4f}", classes="geoattr-params")
            + notes
        )

    def as_latex(self) -> str:
        """LaTeX (booktabs) rendering of the coefficient table with the fit statistics."""
        t = self.table
        lines = [
            "\\begin{table}[htbp]",
            "\\centering",
            f"\\caption{{{escape_latex(self.title)}}}",
            "\\begin{tabular}{l" + "r" * len(t.columns) + "}",
            "\\toprule",
            " & ".join([""] + [escape_latex(str(c)) for c in t.columns]) + " \\\\",
            "\\midrule",
        ]
        for name, row in t.iterrows():
            cells = [escape_latex(str(name))] + [f"{v:.4f}" if isinstance(v, (int, float, np.floating)) else escape_latex(str(v)) for v in row]
            lines.append(" & ".join(cells) + " \\\\")
        lines.append("\\midrule")
        for k, v in self.info:
            lines.append(f"{escape_latex(k)} & \\multicolumn{{{len(t.columns)}}}{{r}}{{{escape_latex(v)}}} \\\\")
        lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


class _Frozen(type):
    """Metaclass that freezes an instance once its ``__init__`` has run."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_init_kwargs", dict(kwargs))
        object.__setattr__(obj, "_frozen", True)
        return obj


def _rebuild(cls: type, kwargs: dict[str, Any]) -> Any:
    """Unpickle a results object by calling its constructor."""
    return cls(**kwargs)


class Results(metaclass=_Frozen):
    """Frozen base class of every geoattr results object.

    The same quantities have the same names in every family (regression, spatial,
    panel, spatial panel, choice, robustness variants), following linearmodels:
    ``params``, ``std_errors`` (alias ``bse``), ``tstats`` (alias ``tvalues``),
    ``pvalues``, ``conf_int(level=)``, ``cov``, ``nobs``, ``rsquared``, ``loglik``,
    ``aic``, ``bic``, ``summary``, ``to_frame()``, ``notes`` and ``info``.

    Results are immutable: public attributes cannot be set after construction and
    notes and info are passed to the constructor.  :meth:`replace` returns a copy with
    some constructor arguments changed (for example more notes).

    Parameters
    ----------
    params : pandas.Series
        Estimates, labelled by term (spatial parameters ``rho``/``lambda`` included).
    cov : pandas.DataFrame
        Covariance of ``params``.
    nobs : int
        Number of observations used.
    loglik : float
        Log-likelihood at the estimates.
    model : str
        Estimator name (``"ols"``, ``"wls"``, ``"sar"``, ``"mnlogit"``...).
    cov_type : str
        Covariance estimator.
    df_resid : float, optional
        Residual degrees of freedom (used for t-based p-values when ``dist="t"``).
    rsquared : float, default nan
        Definition in ``rsquared_definition``.
    dist : {"t", "normal"}
        Reference distribution of the t statistics.
    info : mapping, optional
        Extra facts shown in the summary (spec, unit level, years, weights...).
    notes : sequence of str, optional
        Substitutions and other caveats, shown in the summary.
    n_params_ll : int, optional
        Number of estimated parameters counted in AIC/BIC (default ``len(params)``).
    rsquared_definition : str, optional
        How ``rsquared`` was computed.
    """

    _frozen: bool = False

    def __init__(
        self,
        *,
        params: pd.Series,
        cov: pd.DataFrame,
        nobs: int,
        loglik: float,
        model: str,
        cov_type: str,
        df_resid: float = float("inf"),
        rsquared: float = float("nan"),
        dist: str = "t",
        info: Mapping[str, Any] | None = None,
        notes: Sequence[str] | None = None,
        n_params_ll: int | None = None,
        rsquared_definition: str = "1 - SSR/SST (centred), weighted when weights are used",
    ) -> None:
        if dist not in ("t", "normal"):
            raise ValueError(f"dist must be 't' or 'normal', got {dist!r}")
        self._params = params.astype(float)
        self._cov = cov.astype(float)
        self.nobs = int(nobs)
        self.df_resid = float(df_resid)
        self.loglik = float(loglik)
        self.rsquared = float(rsquared)
        self.model = model
        self.cov_type = cov_type
        self.dist = dist
        self.info: Mapping[str, Any] = MappingProxyType(dict(info or {}))
        self.notes: tuple[str, ...] = tuple(notes or ())
        self._k = len(params) if n_params_ll is None else int(n_params_ll)
        self.rsquared_definition = rsquared_definition

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:  # every attribute, private ones included: results are constructed once
            raise AttributeError(
                f"{type(self).__name__} is immutable: {name!r} cannot be set; "
                "use .replace(...) to get a changed copy"
            )
        object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:
        # rebuilt from the constructor arguments (``info`` is a read-only mappingproxy,
        # which pickle cannot copy); results travel between worker processes
        return _rebuild, (type(self), dict(self._init_kwargs))

    def replace(self, *, add_notes: Sequence[str] = (), **changes: Any) -> Results:
        """Return a copy with constructor arguments changed and ``add_notes`` appended.

        Parameters
        ----------
        add_notes : sequence of str, optional
            Notes appended to the existing ones.
        **changes
            Constructor arguments to change (``model=``, ``loglik=``, ``info=``...).

        Returns
        -------
        Results
            A new object of the same class; this one is unchanged.
        """
        kwargs = {**self._init_kwargs, **changes}
        kwargs["notes"] = [*(kwargs.get("notes") or ()), *add_notes]
        return type(self)(**kwargs)

    # --- labelled outputs
    params = copied("_params", "Estimates by term.")
    cov = copied("_cov", "Covariance matrix of the estimates.")

    @cached_property
    def std_errors(self) -> pd.Series:
        """Standard errors (square roots of the covariance diagonal)."""
        return pd.Series(np.sqrt(np.diag(self._cov.to_numpy())), index=self._params.index, name="std_error")

    @property
    def bse(self) -> pd.Series:
        """Alias of :attr:`std_errors` (statsmodels name)."""
        return self.std_errors

    @cached_property
    def tstats(self) -> pd.Series:
        """t (or z) statistics ``params / std_errors``."""
        return (self._params / self.std_errors).rename("t")

    @property
    def tvalues(self) -> pd.Series:
        """Alias of :attr:`tstats` (statsmodels name)."""
        return self.tstats

    @cached_property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the t distribution with ``df_resid`` (or the normal)."""
        t = self.tstats.to_numpy()
        if self.dist == "t":
            p = 2 * stats.t.sf(np.abs(t), self.df_resid)
        else:
            p = 2 * stats.norm.sf(np.abs(t))
        return pd.Series(p, index=self._params.index, name="p")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals with columns ``lower`` and ``upper``.

        Parameters
        ----------
        level : float, default 0.95
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        q = (
            stats.t.ppf(0.5 + level / 2, self.df_resid)
            if self.dist == "t"
            else stats.norm.ppf(0.5 + level / 2)
        )
        se = self.std_errors
        return pd.DataFrame({"lower": self._params - q * se, "upper": self._params + q * se})

    @property
    def nparams(self) -> int:
        """Number of parameters counted in AIC/BIC."""
        return self._k

    @property
    def aic(self) -> float:
        """Akaike information criterion ``2k - 2 loglik``."""
        return 2 * self._k - 2 * self.loglik

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``k ln(n) - 2 loglik``."""
        return self._k * np.log(self.nobs) - 2 * self.loglik

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, std_error, t, p, lower, upper (95 %)."""
        ci = self.conf_int()
        return pd.DataFrame(
            {
                "estimate": self._params,
                "std_error": self.std_errors,
                "t": self.tstats,
                "p": self.pvalues,
                "lower": ci["lower"],
                "upper": ci["upper"],
            }
        ).rename_axis("term")

    def _fit_info(self) -> list[tuple[str, str]]:
        """Goodness-of-fit lines of the summary (subclasses add theirs)."""
        return [("R-squared", f"{self.rsquared:.4f}")] if np.isfinite(self.rsquared) else []

    @property
    def summary(self) -> Summary:
        """Summary with ``as_text()``, ``as_html()`` and ``as_latex()``."""
        frame = self.to_frame()
        frame[""] = [stars(p) for p in frame["p"]]
        info = [(str(k), str(v)) for k, v in self.info.items()]
        info += [
            ("Estimator", self.model),
            ("Covariance", self.cov_type),
            ("No. observations", f"{self.nobs}"),
            *self._fit_info(),
            ("Log-likelihood", f"{self.loglik:.3f}"),
            ("AIC", f"{self.aic:.3f}"),
            ("BIC", f"{self.bic:.3f}"),
        ]
        notes = [*self.notes, STARS_NOTE]
        return Summary(title=f"geoattr {self.model.upper()} estimation results", info=info, table=frame, notes=notes)

    def __str__(self) -> str:
        return self.summary.as_text()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model!r} nobs={self.nobs} terms={list(self._params.index)}>"

    def _repr_html_(self) -> str:
        return self.summary.as_html()


class RegressionResults(Results):
    """Results of a regression (least squares, spatial, panel or spatial panel).

    Takes every :class:`Results` argument, and:

    Parameters
    ----------
    y, fitted_values, resids : pandas.Series
        On the index of the estimation sample ((unit, year), or unit for a cross-section).
    geodata : geopandas.GeoDataFrame, optional
        The GeoDataFrame of a cross-section the model was fitted on (for :meth:`explore`).
    **kwargs
        The arguments of :class:`Results`.

    Notes
    -----
    ``rsquared`` is ``1 - SSR/SST`` of the (weighted) model with the constant,
    as linearmodels computes it; ``rsquared_adj`` adjusts it with ``nobs - 1`` and
    ``df_resid``.  ``aic = 2k - 2 loglik`` and ``bic = k ln(n) - 2 loglik`` with *k* the
    number of regression parameters (the error variance is not counted, as in
    statsmodels).
    """

    def __init__(self, *, y: pd.Series, fitted_values: pd.Series, resids: pd.Series,
                 geodata: gpd.GeoDataFrame | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._y = y
        self._fitted = fitted_values
        self._resids = resids
        self._geodata = geodata

    @classmethod
    def from_linearmodels(cls, res: Any, **kwargs: Any) -> RegressionResults:
        """Results from a fitted linearmodels estimator.

        Parameters
        ----------
        res : linearmodels results
            Its ``params`` (renamed ``estimate``), ``cov``, ``nobs``, ``df_resid``,
            ``loglik`` and ``rsquared`` are taken over.
        **kwargs
            Every other argument of :class:`RegressionResults` (``y``,
            ``fitted_values``, ``resids``, ``model``, ``cov_type``...).

        Returns
        -------
        RegressionResults
        """
        return cls(params=res.params.rename("estimate"), cov=res.cov, nobs=int(res.nobs),
                   df_resid=float(res.df_resid), loglik=float(res.loglik), rsquared=float(res.rsquared), **kwargs)

    def explore(self, column: str = "resids", **kwargs: Any) -> Any:
        """Interactive map of the residuals (or fitted values), like ``GeoDataFrame.explore``.

        Parameters
        ----------
        column : str, default "resids"
            ``"resids"``, ``"fitted_values"`` or any column of the GeoDataFrame.
        **kwargs
            Passed to :meth:`geopandas.GeoDataFrame.explore` (``cmap``, ``tooltip``,
            ``m``...).

        Returns
        -------
        folium.Map

        Raises
        ------
        InputError
            When the model was not fitted on a GeoDataFrame.
        """
        if self._geodata is None:
            raise InputError("explore() maps results fitted on a GeoDataFrame; this model was fitted on a plain "
                             "DataFrame: pass a GeoDataFrame (indexed by unit) to geoattr.fit")
        gdf = self._geodata.copy()
        gdf["resids"] = self._resids.reindex(gdf.index)
        gdf["fitted_values"] = self._fitted.reindex(gdf.index)
        return gdf.explore(column=column, **kwargs)

    y = copied("_y", "Dependent variable of the estimation sample.")
    fitted_values = copied("_fitted", "Fitted values on the (unit, year) index.")
    resids = copied("_resids", "Residuals ``y - fitted`` on the (unit, year) index.")

    @property
    def rsquared_adj(self) -> float:
        """Adjusted R²: ``1 - (1 - R²) (n - 1) / df_resid``."""
        return 1.0 - (1.0 - self.rsquared) * (self.nobs - 1) / self.df_resid

    def fit_statistics(self) -> pd.Series:
        """nobs, r2, adj_r2, loglik, aic, bic as a Series."""
        return pd.Series(
            {
                "nobs": self.nobs,
                "r2": self.rsquared,
                "adj_r2": self.rsquared_adj,
                "loglik": self.loglik,
                "aic": self.aic,
                "bic": self.bic,
            }
        )

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """Linear prediction ``X @ params`` for new regressors (same term names).

        Parameters
        ----------
        X : pandas.DataFrame
            Must contain every term in :attr:`params` that is not a spatial parameter.
        """
        terms = [t for t in self._params.index if t not in ("rho", "lambda")]
        missing = [t for t in terms if t not in X.columns]
        if missing:
            raise ValueError(f"X lacks the term(s) {missing} estimated by this model; it has {list(X.columns)}")
        return (X[terms] @ self._params[terms]).rename("fitted")

    def _fit_info(self) -> list[tuple[str, str]]:
        return [("R-squared", f"{self.rsquared:.4f}"), ("Adj. R-squared", f"{self.rsquared_adj:.4f}")]
