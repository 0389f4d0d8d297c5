"""The book's coefficient tables: estimates with significance stars and the "Sum VRA" column.

The total effect of job growth where the residents work is the sum of the three VRA
coefficients, ``b1 + b2 + b3`` (``vra``, ``vra_l1``, ``vra_l2``).  Its standard error
comes from the estimated covariance ``V``: ``sqrt(a' V a)`` with ``a`` the vector of
ones on the three terms (:func:`linear_combination`).  :func:`coefficient_table` lists
the coefficients of several regressions (years, subgroups, periods) in long form with a
``vra_sum`` row after the last VRA term; :func:`wide_table` gives the book's layout, one
row per year (or subgroup) and one column per term (its Tabell 3);
:func:`yearly_table` does both for :func:`~geoattr.models.ols.estimate_by_year` output.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from geoattr._format import stars as significance_stars
from geoattr.exceptions import InputError
from geoattr.models.ols import YearlyResults
from geoattr.models.results import Results

__all__ = ["VRA_TERMS", "SUM_TERM", "linear_combination", "coefficient_table", "wide_table", "yearly_table",
           "COLUMNS"]

#: The terms whose coefficients make "Sum VRA".
VRA_TERMS: tuple[str, ...] = ("vra", "vra_l1", "vra_l2")
#: The term name of the sum in the tables.
SUM_TERM = "vra_sum"
#: Columns of :func:`coefficient_table` after the key.
COLUMNS: tuple[str, ...] = ("term", "estimate", "std_error", "t", "p", "stars", "nobs", "r2")


def linear_combination(results: Results, weights: Mapping[str, float]) -> pd.Series:
    """Estimate, standard error, t and p of ``a' b`` for a results object.

    ``se = sqrt(a' V a)`` with ``V`` the estimated covariance of the coefficients; the
    p-value uses the distribution of the results' own tests (t with ``df_resid`` or the
    normal).

    Parameters
    ----------
    results : Results
        Any geoattr results object with ``params`` and ``cov``.
    weights : mapping of str to float
        Term -> weight ``a`` (terms not named have weight 0).

    Returns
    -------
    pandas.Series
        ``estimate, std_error, t, p``.

    Raises
    ------
    InputError
        A term that was not estimated (the message lists the terms).
    """
    terms = list(weights)
    names = results.params.index
    unknown = [t for t in terms if t not in names]
    if unknown:
        raise InputError(f"term(s) {unknown} were not estimated; the terms are {list(names)}")
    return pd.Series(dict(zip(("estimate", "std_error", "t", "p"), _combination(results, terms, weights))))


def _combination(results: Results, terms: list[str], weights: Mapping[str, float]) -> tuple[float, ...]:
    """``a' b``, ``sqrt(a' V a)``, t and p of :func:`linear_combination` (``terms`` estimated)."""
    pos = results.params.index.get_indexer(terms)
    a = np.array([float(weights[t]) for t in terms])
    est = float(a @ results.params.to_numpy(dtype=float)[pos])
    se = float(np.sqrt(a @ results.cov.to_numpy(dtype=float)[np.ix_(pos, pos)] @ a))
    t = est / se if se > 0 else np.nan
    if getattr(results, "dist", "t") == "t" and np.isfinite(getattr(results, "df_resid", np.nan)):
        p = float(2 * stats.t.sf(abs(t), results.df_resid))
    else:
        p = float(2 * stats.norm.sf(abs(t)))
    return est, se, t, p


def coefficient_table(
    results: Mapping[Hashable, Results],
    *,
    key: str = "year",
    sum_terms: Sequence[str] = VRA_TERMS,
    stars: Sequence[float] = (0.10, 0.05, 0.01),
) -> pd.DataFrame:
    """Coefficients of several regressions in long form, with the sum of ``sum_terms``.

    Parameters
    ----------
    results : mapping of key to Results
        E.g. year -> :class:`~geoattr.models.results.RegressionResults` of
        :func:`~geoattr.models.ols.estimate_by_year`, or subgroup -> results.
    key : str, default "year"
        Name of the first column.
    sum_terms : sequence of str, default ("vra", "vra_l1", "vra_l2")
        Terms summed into the ``vra_sum`` row, placed after the last of them; the row
        is left out for a regression that estimated none of them, and sums the ones
        present otherwise.
    stars : sequence of float, default (0.10, 0.05, 0.01)
        p-value thresholds: one star per threshold the p-value lies below (``stars``
        column), as in :func:`geoattr.report.tables.regression_table`.

    Returns
    -------
    pandas.DataFrame
        ``<key>, term, estimate, std_error, t, p, stars, nobs, r2``.
    """
    if not results:
        raise InputError("coefficient_table: no results given")
    cols: dict[str, list] = {c: [] for c in (key, "term", "estimate", "std_error", "t", "p", "nobs", "r2")}
    for k, r in results.items():
        terms = list(r.params.index)
        values = [r.params.to_numpy(dtype=float), r.std_errors.to_numpy(dtype=float), r.tstats.to_numpy(dtype=float),
                  r.pvalues.to_numpy(dtype=float)]
        present = [t for t in sum_terms if t in terms]
        if present:  # the vra_sum row after the last VRA term
            at = max(terms.index(t) for t in present) + 1
            combo = _combination(r, present, dict.fromkeys(present, 1.0))
            terms.insert(at, SUM_TERM)
            values = [np.insert(v, at, c) for v, c in zip(values, combo)]
        for col, v in zip(("estimate", "std_error", "t", "p"), values):
            cols[col].append(v)
        cols["term"].append(np.array(terms, dtype=object))
        cols[key].append([k] * len(terms))
        cols["nobs"].append(np.full(len(terms), int(getattr(r, "nobs", len(getattr(r, "resids", []))))))
        cols["r2"].append(np.full(len(terms), float(getattr(r, "rsquared", np.nan))))
    out = pd.DataFrame({c: [x for part in v for x in part] if c == key else np.concatenate(v) for c, v in cols.items()})
    out.insert(6, "stars", [significance_stars(p, stars) for p in out["p"]])
    return out[[key, *COLUMNS]]


def wide_table(long: pd.DataFrame, *, key: str = "year") -> pd.DataFrame:
    """The book's layout: one row per ``key``, four columns per term.

    Parameters
    ----------
    long : pandas.DataFrame
        :func:`coefficient_table` output (or any frame with ``<key>, term, estimate,
        std_error, p``, and optionally ``stars``, ``nobs``, ``r2``).
    key : str, default "year"

    Returns
    -------
    pandas.DataFrame
        Index ``key``; for every term in order of appearance ``<term>``,
        ``<term>_se``, ``<term>_p``, ``<term>_stars``; then ``nobs`` and ``r2`` when
        given.
    """
    need = [key, "term", "estimate", "std_error", "p"]
    missing = [c for c in need if c not in long.columns]
    if missing:
        raise InputError(f"wide_table: the table lacks column(s) {missing}; pass coefficient_table(...) output")
    f = long.copy()
    if "stars" not in f.columns:
        f["stars"] = [significance_stars(p) for p in f["p"]]
    keys = list(dict.fromkeys(f[key]))
    cols: dict[str, pd.Series] = {}
    rows_of = f.groupby("term", sort=False).indices  # term -> its row positions, in one pass
    key_values = f[key].to_numpy()
    for term in dict.fromkeys(f["term"]):
        pos = rows_of[term]
        at = pd.Index(key_values[pos], name=key)
        for src, suffix in (("estimate", ""), ("std_error", "_se"), ("p", "_p"), ("stars", "_stars")):
            cols[f"{term}{suffix}"] = f[src].iloc[pos].set_axis(at).reindex(keys)
    for extra in ("nobs", "r2"):
        if extra in f.columns:
            cols[extra] = f.groupby(key, sort=False)[extra].first().reindex(keys)
    out = pd.DataFrame(cols, index=pd.Index(keys, name=key))
    for term in dict.fromkeys(f["term"]):
        out[f"{term}_stars"] = out[f"{term}_stars"].fillna("")
    return out


def yearly_table(yearly: YearlyResults, *, sum_terms: Sequence[str] = VRA_TERMS, wide: bool = True) -> pd.DataFrame:
    """The coefficients year by year with the Sum VRA column and stars (the book's Tabell 3).

    Parameters
    ----------
    yearly : YearlyResults
        :func:`geoattr.estimate_by_year` output.
    sum_terms : sequence of str, default ("vra", "vra_l1", "vra_l2")
    wide : bool, default True
        One row per year (:func:`wide_table`); ``False``: the long form
        (:func:`coefficient_table`).

    Returns
    -------
    pandas.DataFrame
        ``vra_sum`` equals ``b1 + b2 + b3`` and ``vra_sum_se`` is ``sqrt(a' V a)``.
    """
    if not yearly.results:
        raise InputError("yearly_table: no year could be estimated" + (
            f" (skipped: {yearly.skipped})" if yearly.skipped else ""))
    long = coefficient_table(yearly.results, key="year", sum_terms=sum_terms)
    return wide_table(long, key="year") if wide else long
