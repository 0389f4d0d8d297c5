"""Results of the migration-choice multinomial logit: :class:`ChoiceResults`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr._format import escape_latex, escape_markdown, stars
from geoattr.accounting import Accounting
from geoattr.exceptions import InputError
from geoattr.models.choice.design import build_design
from geoattr.models.choice.hypotheses import hypothesis_items, parse_hypothesis
from geoattr.models.choice.predictions import (
    add_profile_labels,
    normal_quantile,
    probability_intervals,
    profile_frame,
    softmax,
)
from geoattr.models.choice.spec import ChoiceSpec
from geoattr.models.results import Results

__all__ = ["ChoiceResults", "CHOICE_STARS", "CHOICE_STARS_NOTE"]

#: Significance thresholds of the relative-risk-ratio tables (one to three stars).
CHOICE_STARS: tuple[float, ...] = (0.05, 0.01, 0.001)
#: The legend under those tables.
CHOICE_STARS_NOTE = "* p<0.05, ** p<0.01, *** p<0.001"

_MCFADDEN = "McFadden's pseudo R-squared: 1 - loglik / loglik_null (constants-only model, closed form)"


class ChoiceResults(Results):
    """Results of the migration-choice multinomial logit (labelled pandas output).

    Coefficients are indexed by ``(equation, term)``; equations are the non-base
    outcomes.  The common quantities have the names of every geoattr results object
    (:class:`~geoattr.models.results.Results`): ``params``, ``std_errors``, ``tstats``
    (Wald z statistics: ``dist="normal"``), ``pvalues``, ``conf_int(level=)``, ``cov``
    (inverse observed information), ``nobs``, ``loglik``, ``aic``, ``bic``, ``rsquared``
    (McFadden's pseudo R², see ``rsquared_definition``), ``summary``, ``to_frame()``,
    ``notes`` and ``info``.  The statsmodels results are kept as :attr:`engine`.

    Parameters
    ----------
    engine : statsmodels MultinomialResults
        The fitted statsmodels model (its ``params`` are ``(k, J - 1)``).
    spec : ChoiceSpec
        The specification the model was fitted with.
    outcome_totals : pandas.Series
        Person-years per outcome (base first), indexed by outcome.
    outcome_counts : pandas.DataFrame, optional
        Rows per outcome in every category and cell (see :class:`ChoiceDesign`).
    accounting : Accounting, optional
        Rows read, used and dropped.
    n_patterns : int, default 0
        Number of distinct covariate patterns.
    seconds : float, default 0
        Time spent in the statsmodels fit.
    aggregated : bool, default False
        Whether the likelihood was evaluated on the covariate patterns.
    **kwargs
        Arguments of :class:`~geoattr.models.results.Results` that replace the ones
        derived from ``engine`` (``notes``, ``info``, ``model``...).
    """

    def __init__(
        self,
        *,
        engine: Any,
        spec: ChoiceSpec,
        outcome_totals: pd.Series,
        outcome_counts: pd.DataFrame | None = None,
        accounting: Accounting | None = None,
        n_patterns: int = 0,
        seconds: float = 0.0,
        aggregated: bool = False,
        **kwargs: Any,
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.terms: tuple[str, ...] = spec.terms
        self.equations: tuple[str, ...] = spec.equations
        self.outcome_totals = outcome_totals.rename("rows")
        self.outcome_counts = outcome_counts
        self.accounting = Accounting() if accounting is None else accounting
        self.n_patterns = int(n_patterns)
        self.seconds = float(seconds)
        self.aggregated = bool(aggregated)
        index = pd.MultiIndex.from_product([list(self.equations), list(self.terms)], names=["equation", "term"])
        loglik = float(engine.llf)
        derived: dict[str, Any] = {
            "params": pd.Series(np.asarray(engine.params).ravel(order="F"), index=index, name="params"),
            "cov": pd.DataFrame(np.asarray(engine.cov_params()), index=index, columns=index),
            "nobs": int(self.outcome_totals.sum()),
            "loglik": loglik,
            "model": "mnlogit",
            "cov_type": "unadjusted",
            "dist": "normal",
            "rsquared": 1.0 - loglik / self.loglik_null,
            "rsquared_definition": _MCFADDEN,
            "info": {"Base outcome": spec.base,
                     "References": ", ".join(f"{k}={v}" for k, v in spec.references.items() if k != "outcome")},
        }
        super().__init__(**{**derived, **kwargs})

    # -- coefficients ------------------------------------------------------------
    def relative_risk_ratios(self, level: float = 0.95) -> pd.DataFrame:
        """Relative risk ratios ``exp(params)`` with the exponentiated Wald intervals.

        ``level`` is the confidence level, as in :meth:`to_frame` (whose ``rrr`` columns these are).

        Returns
        -------
        pandas.DataFrame
            Columns ``rrr``, ``lower``, ``upper``, index ``(equation, term)``.
        """
        return self.to_frame(level)[["rrr", "rrr_lower", "rrr_upper"]].rename(
            columns={"rrr_lower": "lower", "rrr_upper": "upper"})

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Return the coefficient table.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level of the intervals.

        Returns
        -------
        pandas.DataFrame
            Index ``(equation, term)``; columns ``estimate``, ``std_error``, ``t`` (the
            Wald z statistic), ``p``, ``lower``, ``upper`` (as in every results
            object), then ``rrr``, ``rrr_lower``, ``rrr_upper``.
        """
        ci = self.conf_int(level)
        return pd.DataFrame({
            "estimate": self.params, "std_error": self.std_errors, "t": self.tstats, "p": self.pvalues,
            "lower": ci["lower"], "upper": ci["upper"], "rrr": np.exp(self.params),
            "rrr_lower": np.exp(ci["lower"]), "rrr_upper": np.exp(ci["upper"]),
        })

    # -- fit statistics ----------------------------------------------------------
    @cached_property
    def loglik_null(self) -> float:
        """Log-likelihood of the constants-only model, ``sum_j n_j log(n_j / n)`` (closed form)."""
        n = self.outcome_totals.to_numpy(dtype=float)
        n = n[n > 0]
        return float(np.sum(n * np.log(n / n.sum())))

    @property
    def converged(self) -> bool:
        """Whether the optimiser reported convergence."""
        return bool(self.engine.mle_retvals.get("converged", False))

    @property
    def iterations(self) -> int | None:
        """Optimiser iterations."""
        it = self.engine.mle_retvals.get("iterations")
        return None if it is None else int(it)

    def fit_statistics(self) -> pd.Series:
        """``nobs``, outcome counts, ``loglik``, ``loglik_null``, ``pseudo_r2``, ``aic``, ``bic``, convergence."""
        d: dict[str, Any] = {"nobs": self.nobs}
        d.update({f"n_{k}": int(v) for k, v in self.outcome_totals.items()})
        d.update({"loglik": self.loglik, "loglik_null": self.loglik_null, "pseudo_r2": self.rsquared,
                  "aic": self.aic, "bic": self.bic, "converged": self.converged, "iterations": self.iterations,
                  "n_patterns": self.n_patterns, "aggregated": self.aggregated, "fit_seconds": self.seconds})
        return pd.Series(d, name="value")

    def _fit_info(self) -> list[tuple[str, str]]:
        return [("Pseudo R-squared", f"{self.rsquared:.4f}"), ("Equations", ", ".join(self.equations)),
                ("Converged", str(self.converged))]

    # -- tests -------------------------------------------------------------------
    def restriction(self, hypothesis: str) -> tuple[np.ndarray, np.ndarray]:
        """``(R, q)`` of a readable hypothesis (see :func:`~geoattr.models.choice.parse_hypothesis`)."""
        return parse_hypothesis(hypothesis, terms=self.terms, equations=self.equations)

    def wald_test(self, r_matrix: np.ndarray, q: np.ndarray | float | None = None) -> pd.Series:
        """Chi-square Wald test of ``R beta = q`` by statsmodels' ``wald_test``.

        Parameters
        ----------
        r_matrix : array_like, shape (m, n_params)
            Columns in the order of :attr:`params` (equation-major).
        q : array_like, optional
            Default zeros.

        Returns
        -------
        pandas.Series
            ``statistic``, ``df``, ``p_value``.
        """
        R = np.atleast_2d(np.asarray(r_matrix, dtype=float))
        k = len(self._params)
        if R.shape[1] != k:
            raise InputError(f"r_matrix must have {k} columns (one per coefficient), got {R.shape[1]}")
        qv = np.zeros(R.shape[0]) if q is None else np.broadcast_to(np.asarray(q, dtype=float), (R.shape[0],))
        w = self.engine.wald_test((R, qv), scalar=True, use_f=False)
        return pd.Series({"statistic": float(w.statistic), "df": int(w.df_denom), "p_value": float(w.pvalue)},
                         dtype=object)

    def test(self, hypotheses: Mapping[str, str] | Sequence[str] | Sequence[Mapping[str, str]]) -> pd.DataFrame:
        """Wald tests of hypotheses stated as linear restrictions.

        Parameters
        ----------
        hypotheses : mapping name -> restriction, or sequence
            Restriction strings (see :func:`~geoattr.models.choice.parse_hypothesis`), e.g.
            ``{"no urban-rural difference for immigrants": "emigration: immigrant:centrality_1 = 0"}``.
            A sequence of strings uses each string as its name; a sequence of mappings
            needs ``restriction`` and optionally ``name`` keys (the configuration form).

        Returns
        -------
        pandas.DataFrame
            Columns ``hypothesis``, ``restriction``, ``statistic`` (chi-square), ``df``,
            ``p_value`` and, for single restrictions, ``estimate`` (``R beta - q``) and
            ``std_err`` (from statsmodels' ``t_test``).
        """
        rows = []
        for name, text in hypothesis_items(hypotheses):
            R, q = self.restriction(text)
            w = self.wald_test(R, q)
            est = se = np.nan
            if R.shape[0] == 1:
                t = self.engine.t_test((R, q), use_t=False)
                est = float(np.asarray(t.effect).ravel()[0]) - float(q[0])
                se = float(np.asarray(t.sd).ravel()[0])
            rows.append({"hypothesis": name, "restriction": text, "statistic": w["statistic"], "df": int(w["df"]),
                         "p_value": w["p_value"], "estimate": est, "std_err": se})
        return pd.DataFrame(rows, columns=["hypothesis", "restriction", "statistic", "df", "p_value", "estimate",
                                           "std_err"])

    # -- predictions -------------------------------------------------------------
    def _coef_matrix(self) -> np.ndarray:
        return self._params.to_numpy().reshape(len(self.equations), len(self.terms)).T

    def probabilities(self, data: pd.DataFrame, *, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Predicted outcome probabilities for the rows of ``data`` (no intervals).

        Parameters
        ----------
        data : pandas.DataFrame
            Covariate columns as for :func:`~geoattr.models.choice.build_design` (an
            ``outcome`` column is ignored).
        columns : mapping, optional

        Returns
        -------
        pandas.DataFrame
            One column per outcome (``stay``, ``domestic``, ``emigration``) on the
            index of ``data``.
        """
        d = build_design(data, spec=self.spec, columns=columns, outcome=False)
        P = softmax(d.exog @ self._coef_matrix())[d.inverse]
        return pd.DataFrame(P, index=d.index, columns=[self.spec.base, *self.equations])

    def predict(
        self,
        profiles: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]] | pd.DataFrame,
        *,
        method: Literal["delta", "simulation"] = "delta",
        level: float = 0.95,
        n_draws: int = 2000,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Predicted probabilities for user-defined profiles, with intervals.

        Parameters
        ----------
        profiles : mapping, sequence of mappings, or DataFrame
            A mapping ``{name: {variable: value, ...}}`` or a sequence of mappings
            with a ``name`` key (the configuration's ``[[profiles]]``).  A list as a
            value expands the profile over its elements (all combinations); omitted
            ``background`` and ``centrality`` expand over all their categories; every
            other model variable (``age`` in years, ``sex``, ``education``, ``labour``,
            ``family``) must be given.  ``centrality`` accepts the SSB class (1-6) or
            the category (``"5_6"``).  A DataFrame is used row by row (its ``profile``
            column, if any, names the rows).
        method : {"delta", "simulation"}, default "delta"
            ``"delta"``: delta method on the logit of each probability,
            ``logit(p) +- z se``, mapped back to (0, 1).  ``"simulation"``: ``n_draws``
            coefficient vectors from ``N(beta_hat, V)`` (generator seeded with
            ``seed``); the interval is the ``(1 - level) / 2`` and
            ``(1 + level) / 2`` percentiles of the simulated probabilities.
        level : float, default 0.95
            Confidence level of the intervals.
        n_draws : int, default 2000
        seed : int or None, default 0

        Returns
        -------
        pandas.DataFrame
            Columns ``profile``, the model variables (``centrality`` as its category),
            ``age_group`` (with age groups), then ``p_<outcome>``,
            ``p_<outcome>_lower``, ``p_<outcome>_upper`` for every outcome.  ``attrs``
            records the method, level and seed.
        """
        if method not in ("delta", "simulation"):
            raise InputError(f"method must be 'delta' or 'simulation', got {method!r}")
        normal_quantile(level)  # validates the level
        frame = profile_frame(profiles, self.spec)
        X = build_design(frame.drop(columns="profile"), spec=self.spec, outcome=False).full_exog()
        P = softmax(X @ self._coef_matrix())
        lower, upper = probability_intervals(P, X, self._params.to_numpy(), self._cov.to_numpy(), method=method,
                                             level=level, n_draws=n_draws, seed=seed)
        out = add_profile_labels(frame, self.spec)
        for j, o in enumerate([self.spec.base, *self.equations]):
            out[f"p_{o}"] = P[:, j]
            out[f"p_{o}_lower"] = lower[:, j]
            out[f"p_{o}_upper"] = upper[:, j]
        out.attrs.update({"method": method, "level": level, "seed": seed if method == "simulation" else None,
                          "n_draws": int(n_draws) if method == "simulation" else None})
        return out.reset_index(drop=True)

    # -- tables ------------------------------------------------------------------
    def to_markdown(self, level: float = 0.95, digits: int = 3) -> str:
        """RRR table in Markdown: one column per equation, ``RRR [lower, upper]`` with stars.

        Parameters
        ----------
        level : float, default 0.95
            Confidence level of the intervals.
        digits : int, default 3
            Decimals of the ratios and their bounds.
        """
        pct = f"{100 * level:g}"
        eqs = list(self.equations)
        lines = ["| term | " + " | ".join(f"{escape_markdown(e)}: RRR [{pct}% CI]" for e in eqs) + " |",
                 "|---|" + "---:|" * len(eqs)]
        for term, cells in self._rrr_rows(level, digits, lambda s: s):
            lines.append(f"| {escape_markdown(term)} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Relative risk ratios against {escape_markdown(self.spec.base)} with {pct}% Wald intervals; "
                     f"{CHOICE_STARS_NOTE}; n = {self.nobs:,}, McFadden pseudo R² = {self.rsquared:.4f}.")
        return "\n".join(lines) + "\n"

    def to_latex(self, level: float = 0.95, digits: int = 3) -> str:
        """RRR table as a booktabs LaTeX ``tabular`` (one column per equation).

        ``level`` and ``digits`` are those of :meth:`to_markdown`.
        """
        pct = f"{100 * level:g}"
        eqs = list(self.equations)
        lines = [r"\begin{tabular}{l" + "c" * len(eqs) + "}", r"\toprule",
                 " & ".join(["Term", *[escape_latex(e) for e in eqs]]) + r" \\", r"\midrule"]
        for term, cells in self._rrr_rows(level, digits, lambda s: f"$^{{{s}}}$"):
            lines.append(" & ".join([escape_latex(term), *cells]) + r" \\")
        lines += [r"\midrule", f"Observations & \\multicolumn{{{len(eqs)}}}{{c}}{{{self.nobs:,}}} \\\\",
                  r"\bottomrule", r"\end{tabular}",
                  f"% Relative risk ratios against {escape_latex(self.spec.base)} with {escape_latex(pct + '%')} "
                  f"Wald intervals; {CHOICE_STARS_NOTE}"]
        return "\n".join(lines) + "\n"

    def _rrr_rows(self, level: float, digits: int, mark: Any) -> list[tuple[str, list[str]]]:
        """Per term, one ``RRR<stars> [lower, upper]`` cell per equation; ``mark`` wraps non-empty stars."""
        t = self.to_frame(level)
        rows = []
        for term in self.terms:
            cells = []
            for e in self.equations:
                r = t.loc[(e, term)]
                st = stars(r["p"], CHOICE_STARS)
                cells.append(f"{r['rrr']:.{digits}f}" + (mark(st) if st else "")
                             + f" [{r['rrr_lower']:.{digits}f}, {r['rrr_upper']:.{digits}f}]")
            rows.append((term, cells))
        return rows

    def __repr__(self) -> str:
        return (f"ChoiceResults(nobs={self.nobs:,}, equations={list(self.equations)}, terms={len(self.terms)}, "
                f"loglik={self.loglik:.2f}, converged={self.converged})")
