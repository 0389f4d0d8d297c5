r"""Estimation of the migration-choice multinomial logit with statsmodels ``MNLogit``.

The likelihood is evaluated on the distinct covariate patterns with their outcome
counts (:class:`PatternMNLogit`), which is the person-level likelihood at a cost that
does not grow with the number of rows; :func:`fit_design` checks the design for empty
categories and separation first and translates statsmodels' warnings.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import MNLogit
from statsmodels.tools import sm_exceptions as sme
from threadpoolctl import threadpool_limits

from geoattr.exceptions import ConvergenceWarning, InputError
from geoattr.models.choice.design import (
    ChoiceDesign,
    SeparationWarning,
    build_design,
    separation_message,
    separation_report,
)
from geoattr.models.choice.results import ChoiceResults
from geoattr.models.choice.spec import ChoiceSpec

__all__ = ["PatternMNLogit", "fit_design", "fit_choice"]


class PatternMNLogit(MNLogit):
    """``MNLogit`` whose rows are covariate patterns and whose endog holds outcome counts.

    statsmodels accepts a 2-D numeric endog as the outcome indicators, and its
    ``loglike`` (``sum(d * log p)``) is already right for counts; ``score`` and
    ``hessian`` need each pattern's number of person-years ``n_p``.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(m, J)`` person-years per pattern and outcome (base outcome first).
    exog : numpy.ndarray
        ``(m, k)`` design rows of the patterns.
    """

    def __init__(self, counts: np.ndarray, exog: np.ndarray) -> None:
        super().__init__(np.asarray(counts, dtype=float), exog, missing="none")
        self._n_p = np.asarray(counts, dtype=float).sum(axis=1)

    def score(self, params: np.ndarray) -> np.ndarray:
        """Gradient of the log-likelihood (counts-weighted)."""
        b = params.reshape(self.K, -1, order="F")
        pr = self.cdf(self.exog @ b)
        resid = self.wendog[:, 1:] - self._n_p[:, None] * pr[:, 1:]
        return (resid.T @ self.exog).ravel()

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Hessian of the log-likelihood (counts-weighted), equation-major blocks."""
        b = params.reshape(self.K, -1, order="F")
        pr = self.cdf(self.exog @ b)[:, 1:]
        X, K, E = self.exog, self.K, self.J - 1
        H = np.empty((E * K, E * K))
        for i in range(E):
            for j in range(i, E):
                w = self._n_p * pr[:, i] * ((1.0 if i == j else 0.0) - pr[:, j])
                block = -(X.T * w) @ X
                H[i * K:(i + 1) * K, j * K:(j + 1) * K] = block
                H[j * K:(j + 1) * K, i * K:(i + 1) * K] = block.T
        return H


def _check_cells(design: ChoiceDesign, on_separation: str) -> pd.DataFrame:
    """Refuse empty categories; raise (or warn) on separation.  Returns the separation report."""
    assert design.outcome_counts is not None
    empty = design.outcome_counts[design.outcome_counts.sum(axis=1) == 0]
    if len(empty):
        cells = [f"{v} = {c!r}" for v, c in empty.index]
        more = f" and {len(cells) - 10} more" if len(cells) > 10 else ""
        raise InputError(
            f"declared level(s) or cells with no rows: {', '.join(cells[:10])}{more}; the design is then "
            "collinear. Remove the levels from the categories, merge them with another level, or drop the "
            "interaction"
        )
    rep = separation_report(design)
    if len(rep):
        msg = separation_message(rep)
        if on_separation == "raise":
            raise InputError(msg)
        warnings.warn(msg, SeparationWarning, stacklevel=3)
    return rep


def _run_engine(design: ChoiceDesign, *, aggregate: bool, start: np.ndarray, method: str,
                maxiter: int) -> tuple[Any, list[warnings.WarningMessage], float]:
    """Fit statsmodels on the patterns (or the dense design); return its results, warnings and seconds."""
    t0 = time.perf_counter()
    # the pattern model's matrices are small (thousands of rows): one BLAS thread is faster than
    # several, which spend more time synchronising than computing (10x on a busy 2-core machine)
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1 if aggregate else None):
        warnings.simplefilter("always")
        try:
            if aggregate:
                assert design.counts is not None
                model = PatternMNLogit(design.counts, design.exog)
            else:
                model = MNLogit(design.endog, design.full_exog(), missing="none")
            res = model.fit(start_params=start.ravel(order="F"), method=method, maxiter=int(maxiter), disp=0)
        except sme.PerfectSeparationError as err:  # older statsmodels raised instead of warning
            raise InputError(f"statsmodels reports perfect separation ({err}); see separation_report()") from err
        except np.linalg.LinAlgError as err:
            raise InputError(
                f"the information matrix is singular ({err}): the design has collinear columns or separated "
                "levels; check separation_report() and the categories"
            ) from err
    return res, list(caught), time.perf_counter() - t0


def _relay_warnings(caught: list[warnings.WarningMessage], out: ChoiceResults, on_separation: str) -> None:
    """Translate statsmodels' warnings into geoattr's (separation, convergence); pass the rest on."""
    for w in caught:
        if issubclass(w.category, sme.PerfectSeparationWarning):
            msg = f"statsmodels reports perfect separation: {w.message}"
            if on_separation == "raise":
                raise InputError(msg + "; see separation_report(design) for the levels concerned")
            warnings.warn(msg, SeparationWarning, stacklevel=3)
        elif issubclass(w.category, sme.ConvergenceWarning) and not out.converged:
            continue  # reported once by fit_design, with the iteration count
        elif issubclass(w.category, (sme.ConvergenceWarning, sme.HessianInversionWarning)):
            warnings.warn(f"statsmodels: {w.message}", ConvergenceWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _check_divergence(out: ChoiceResults, *, separated: bool, on_separation: str, maxiter: int) -> None:
    """The safety net behind the cross-tabulation: coefficients running off to infinity."""
    params, se = out.params, out.std_errors
    diverging = params[(params.abs() > 15) | (se > 100) | ~np.isfinite(se)]
    if len(diverging) and not separated:
        names = [f"{e}:{t}" for e, t in diverging.index]
        msg = (f"coefficients {names[:8]} diverge (|coef| > 15 or std. error > 100"
               + ("" if out.converged else f", no convergence in {maxiter} iterations")
               + "): likely quasi-separation by a combination of levels")
        if on_separation == "raise":
            raise InputError(msg + "; merge sparse levels or pass on_separation='warn'")
        warnings.warn(msg, SeparationWarning, stacklevel=3)


def fit_design(
    design: ChoiceDesign,
    *,
    on_separation: Literal["raise", "warn"] = "raise",
    method: str = "newton",
    maxiter: int = 50,
    start_params: Literal["constants", "zeros"] = "constants",
    aggregate: bool | Literal["auto"] = "auto",
) -> ChoiceResults:
    r"""Estimate the multinomial logit on a built design with statsmodels ``MNLogit``.

    With ``aggregate`` (the default when the person-years have at most half as many
    distinct covariate patterns as rows), the likelihood is evaluated on the
    patterns with their outcome counts: :math:`\ell = \sum_p \sum_j N_{pj} \log
    P_{pj}` is exactly the individual-level log-likelihood, and so are its score
    and Hessian, so estimates, standard errors and the log-likelihood equal those
    of ``MNLogit`` on the person-years (the tests pin them to 1e-6), at a cost that
    no longer grows with the number of rows beyond one pass to count them.  The
    optimiser, covariance and Wald tests are statsmodels' own
    (:class:`PatternMNLogit` subclasses ``MNLogit`` and replaces only ``score`` and
    ``hessian``, which weight each pattern by its number of person-years).

    Parameters
    ----------
    design : ChoiceDesign
        From :func:`~geoattr.models.choice.build_design`.
    on_separation : {"raise", "warn"}, default "raise"
        What to do when an outcome never occurs in a category (see
        :func:`~geoattr.models.choice.separation_report`) or statsmodels reports
        perfect separation: raise :class:`~geoattr.exceptions.InputError`, or emit a
        :class:`~geoattr.models.choice.SeparationWarning` and fit anyway (the affected
        coefficients and their standard errors are then meaningless).
    method : str, default "newton"
        statsmodels optimiser (``"newton"``, ``"bfgs"``, ``"lbfgs"``, ...).
    maxiter : int, default 50
    start_params : {"constants", "zeros"}, default "constants"
        ``"constants"`` starts from the constants-only estimate
        (``log(n_j / n_base)``, zero slopes), which saves Newton steps at the same
        optimum; ``"zeros"`` is statsmodels' default.
    aggregate : bool or "auto", default "auto"
        Fit on the covariate patterns (``True``) or on the dense person-year design
        (``False``: plain ``MNLogit(endog, exog)``); ``"auto"`` aggregates when
        ``n_patterns <= nobs / 2``.

    Returns
    -------
    ChoiceResults
    """
    if design.endog is None:
        raise InputError("the design has no outcome (it was built with outcome=False)")
    if on_separation not in ("raise", "warn"):
        raise InputError(f"on_separation must be 'raise' or 'warn', got {on_separation!r}")
    if start_params not in ("constants", "zeros"):
        raise InputError(f"start_params must be 'constants' or 'zeros', got {start_params!r}")
    if aggregate not in (True, False, "auto"):
        raise InputError(f"aggregate must be True, False or 'auto', got {aggregate!r}")
    if aggregate == "auto":
        aggregate = design.n_patterns <= design.nobs // 2
    spec = design.spec
    rep = _check_cells(design, on_separation)
    J, K = len(spec.outcomes), len(design.terms)
    assert design.counts is not None
    totals = design.counts.sum(axis=0)
    start = np.zeros((K, J - 1))
    if start_params == "constants":
        start[0] = np.log(totals[1:].astype(float) / totals[0])
    res, caught, seconds = _run_engine(design, aggregate=bool(aggregate), start=start, method=method,
                                       maxiter=maxiter)
    out = ChoiceResults(
        engine=res, spec=spec, outcome_counts=design.outcome_counts, accounting=design.accounting,
        outcome_totals=pd.Series(totals, index=pd.Index([spec.base, *spec.equations], name="outcome")),
        n_patterns=design.n_patterns, seconds=seconds, aggregated=bool(aggregate),
    )
    _relay_warnings(caught, out, on_separation)
    _check_divergence(out, separated=bool(len(rep)), on_separation=on_separation, maxiter=maxiter)
    if not out.converged:
        warnings.warn(
            f"MNLogit ({method}) did not converge in {maxiter} iterations; raise maxiter or check separation",
            ConvergenceWarning,
            stacklevel=2,
        )
    return out


def fit_choice(
    data: pd.DataFrame,
    *,
    spec: ChoiceSpec | None = None,
    columns: Mapping[str, str] | None = None,
    recode: Mapping[str, Mapping[Any, Any]] | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
    on_separation: Literal["raise", "warn"] = "raise",
    method: str = "newton",
    maxiter: int = 50,
    aggregate: bool | Literal["auto"] = "auto",
) -> ChoiceResults:
    """Estimate the migration-choice multinomial logit on person-level data.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person-year (see :func:`~geoattr.models.choice.build_design` for
        the columns); not modified.
    spec : ChoiceSpec, optional
        Variables, categories and reference categories; default
        :data:`~geoattr.models.choice.DEFAULT_SPEC`.
    columns, recode, on_missing
        See :func:`~geoattr.models.choice.build_design`.
    on_separation, method, maxiter, aggregate
        See :func:`fit_design`.

    Returns
    -------
    ChoiceResults

    Examples
    --------
    >>> from geoattr.datasets.individuals import synthetic_individuals
    >>> df, truth = synthetic_individuals(50_000, seed=1)
    >>> res = fit_choice(df)
    >>> res.params.index.names
    FrozenList(['equation', 'term'])
    """
    design = build_design(data, spec=spec, columns=columns, recode=recode, on_missing=on_missing)
    return fit_design(design, on_separation=on_separation, method=method, maxiter=maxiter, aggregate=aggregate)
