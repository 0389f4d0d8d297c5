"""The numerical design of the migration-choice model and the separation check.

:func:`build_design` validates person-level data and codes it by covariate pattern
(:class:`ChoiceDesign`); :func:`separation_report` lists the categories and cells in
which an outcome never occurs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.exceptions import DroppedRowsWarning, GeoattrWarning, InputError
from geoattr.models.choice.spec import DEFAULT_SPEC, ChoiceSpec

__all__ = ["ChoiceDesign", "SeparationWarning", "build_design", "separation_report", "separation_message"]


class SeparationWarning(GeoattrWarning):
    """An outcome never occurs in a category of a covariate: its coefficient is not identified."""


@dataclass(frozen=True)
class ChoiceDesign:
    """The numerical design of the migration-choice model.

    Every regressor is a function of the categorical codes (and of age), so the
    person-years fall into a limited number of distinct *covariate patterns* (at
    most 11,520 with the default specification, whatever the number of rows).  The
    design keeps one row per pattern plus the pattern of every person-year; the
    dense ``(n, k)`` matrix is materialised only on request (:meth:`full_exog`).

    Attributes
    ----------
    exog : numpy.ndarray
        ``(m, k)`` float64 design rows of the ``m`` distinct covariate patterns,
        columns named by ``terms``.
    counts : numpy.ndarray or None
        ``(m, J)`` number of person-years per pattern and outcome (columns: base
        outcome, then the equations); ``None`` for prediction designs.
    inverse : numpy.ndarray
        Pattern (row of ``exog``) of every person-year, length ``n``.
    endog : numpy.ndarray or None
        Outcome code of every person-year (0 = base outcome, then the equations in
        order); ``None`` for prediction designs.
    terms : tuple of str
        Column names of ``exog``.
    index : pandas.Index
        Row labels of the data rows used.
    spec : ChoiceSpec
    outcome_counts : pandas.DataFrame or None
        Rows per outcome (columns) in every category of every categorical variable and
        every background x centrality cell (index ``variable, category``).
    accounting : Accounting
        Rows read, used and dropped (and why).
    """

    exog: np.ndarray
    counts: np.ndarray | None
    inverse: np.ndarray
    endog: np.ndarray | None
    terms: tuple[str, ...]
    index: pd.Index
    spec: ChoiceSpec
    outcome_counts: pd.DataFrame | None
    accounting: Accounting

    @property
    def nobs(self) -> int:
        """Number of person-years (rows of the data used)."""
        return int(self.inverse.shape[0])

    @property
    def n_patterns(self) -> int:
        """Number of distinct covariate patterns."""
        return int(self.exog.shape[0])

    def full_exog(self) -> np.ndarray:
        """Materialise the dense ``(n, k)`` design matrix of the person-years (``8 n k`` bytes)."""
        return self.exog[self.inverse]

    def frame(self) -> pd.DataFrame:
        """Return the dense design matrix as a DataFrame on the data's index."""
        return pd.DataFrame(self.full_exog(), index=self.index, columns=list(self.terms), copy=False)

    def outcome(self) -> pd.Series:
        """Return the outcome as a categorical Series on the data's index."""
        if self.endog is None:
            raise InputError("this design was built without an outcome (a prediction design)")
        order = (self.spec.base, *self.spec.equations)
        return pd.Series(pd.Categorical.from_codes(self.endog, categories=list(order)), index=self.index,
                         name="outcome")


# --------------------------------------------------------------------------- coding the columns
def _unique_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the distinct values of a column, fast for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), list(series.cat.categories)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, list(uniques)


def _lookup_codes(
    series: pd.Series,
    lookup: Mapping[Any, int],
    recode: Mapping[Any, Any] | None,
) -> tuple[np.ndarray, dict[Any, int]]:
    """Map a column to category codes; returns codes (-1 missing, -2 unknown) and unknown value counts."""
    codes_in, uniques = _unique_codes(series)
    mapped = np.empty(len(uniques) + 1, dtype=np.int64)
    mapped[-1] = -1
    for k, u in enumerate(uniques):
        v = u
        if recode is not None:
            v = recode.get(u, recode.get(str(u), u))
        if v is None or (isinstance(v, float) and math.isnan(v)):
            mapped[k] = -1
            continue
        try:
            mapped[k] = lookup.get(v, lookup.get(str(v), -2))
        except TypeError:
            mapped[k] = -2
    codes = mapped[codes_in]
    unknown: dict[Any, int] = {}
    if (mapped == -2).any():
        counts = np.bincount(codes_in[codes_in >= 0], minlength=len(uniques))
        unknown = {uniques[k]: int(counts[k]) for k in np.flatnonzero(mapped[:-1] == -2) if counts[k] > 0}
    return codes, unknown


def _first_rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    rows = index[np.flatnonzero(mask)[:limit]].tolist()
    more = int(mask.sum()) - len(rows)
    return ", ".join(repr(r) for r in rows) + (f" and {more} more" if more > 0 else "")


@dataclass
class _Coded:
    """Category codes of the rows, the missing-value mask and what is wrong with the input."""

    codes: dict[str, np.ndarray]
    missing: np.ndarray
    missing_by: dict[str, int]
    unknown_msgs: list[str]
    age_values: np.ndarray | None = None
    y: np.ndarray | None = None

    def mark_missing(self, name: str, miss: np.ndarray) -> None:
        if miss.any():
            self.missing |= miss
            self.missing_by[name] = int(miss.sum())


def _column_names(data: pd.DataFrame, spec: ChoiceSpec, columns: Mapping[str, str],
                  recode: Mapping[str, Any], outcome: bool) -> dict[str, str]:
    """Model variable -> column of ``data``; refuses unknown variables and absent columns."""
    wanted = (["outcome"] if outcome else []) + list(spec.variables)
    bad_keys = sorted((set(columns) | set(recode)) - set(wanted) - ({"outcome"} if not outcome else set()))
    if bad_keys:
        raise InputError(f"columns/recode name unknown model variable(s) {bad_keys}; the model has {wanted}")
    colname = {v: columns.get(v, v) for v in wanted}
    missing_cols = [f"{v!r}" + (f" (column {colname[v]!r})" if colname[v] != v else "")
                    for v in wanted if colname[v] not in data.columns]
    if missing_cols:
        raise InputError(
            f"the data lack the column(s) {', '.join(missing_cols)}; they have {list(data.columns)[:20]}. "
            "Rename them or map them with columns={'outcome': 'your_column', ...}"
        )
    return colname


def _code_factors(data: pd.DataFrame, spec: ChoiceSpec, colname: Mapping[str, str],
                  recode: Mapping[str, Mapping[Any, Any]], coded: _Coded) -> None:
    """Code every categorical column (age aside); unknown values are collected as messages."""
    for f in (f for f in spec.factors if f.name != "age"):
        lookup: dict[Any, int] = {c: i for i, c in enumerate(f.categories)}
        if f.name == spec.centrality.name:
            for raw, lab in spec.centrality_classes.items():
                lookup.setdefault(raw, f.categories.index(lab))
                lookup.setdefault(str(raw), f.categories.index(lab))
        c, unknown = _lookup_codes(data[colname[f.name]], lookup, recode.get(f.name))
        if unknown:
            rows = sum(unknown.values())
            allowed = list(f.categories)
            if f.name == spec.centrality.name:
                allowed = sorted({str(k) for k in spec.centrality_classes}) + allowed
            coded.unknown_msgs.append(
                f"column {colname[f.name]!r} ({f.name}) has {len(unknown)} value(s) outside its declared "
                f"categories {allowed}: {format_ids(unknown)} ({rows:,} rows)"
            )
        coded.codes[f.name] = c
        coded.mark_missing(f.name, c == -1)


def _code_age(data: pd.DataFrame, spec: ChoiceSpec, colname: Mapping[str, str],
              recode: Mapping[str, Mapping[Any, Any]], coded: _Coded) -> None:
    """Read age in years; with age groups, code the group and flag ages below the first group."""
    raw = data[colname["age"]]
    if recode.get("age"):
        raise InputError("recode is not available for age (a number); transform the column instead")
    if not (pd.api.types.is_numeric_dtype(raw) or raw.isna().all()):
        try:
            raw = pd.to_numeric(raw)
        except (TypeError, ValueError) as err:
            raise InputError(f"column {colname['age']!r} (age) must hold numbers of years: {err}") from None
    age_values = raw.to_numpy(dtype=float, na_value=np.nan)
    miss = np.isnan(age_values)
    coded.mark_missing("age", miss)
    coded.age_values = age_values
    if spec.age == "groups":
        c = np.searchsorted(np.asarray(spec.age_breaks, dtype=float), age_values, side="right") - 1
        c[miss] = -1
        low = (~miss) & (age_values < spec.age_breaks[0])
        if low.any():
            vals = sorted({float(v) for v in age_values[low]})[:10]
            coded.unknown_msgs.append(
                f"column {colname['age']!r} (age) has ages below the first age group {spec.age_breaks[0]} "
                f"({int(low.sum()):,} rows, e.g. {vals}); drop them or lower age_breaks"
            )
        coded.codes["age"] = c


def _code_outcome(data: pd.DataFrame, spec: ChoiceSpec, colname: Mapping[str, str],
                  recode: Mapping[str, Mapping[Any, Any]], coded: _Coded, on_missing: str) -> None:
    """Code the outcome (0 = base); missing or unknown outcomes raise, or are marked for dropping."""
    order = (spec.base, *spec.equations)
    y, unknown = _lookup_codes(data[colname["outcome"]], {o: i for i, o in enumerate(order)}, recode.get("outcome"))
    coded.y = y
    bad = y < 0
    if not bad.any():
        return
    n_bad, n_nan = int(bad.sum()), int((y == -1).sum())
    what = ", ".join(([f"{n_bad - n_nan:,} unknown: {format_ids(unknown)}"] if unknown else [])
                     + ([f"{n_nan:,} missing"] if n_nan else []))
    if on_missing == "raise":
        raise InputError(
            f"{n_bad:,} row(s) have a missing or unknown outcome (allowed: {list(spec.outcomes)}; "
            f"{what}); first rows: {_first_rows(data.index, bad)}. Fix them, or pass on_missing='drop' "
            "to leave them out (they are counted and reported)"
        )
    coded.missing_by = {"outcome": n_bad, **coded.missing_by}
    coded.missing |= bad


def _drop_missing(coded: _Coded, index: pd.Index, on_missing: str, acc: Accounting) -> pd.Index:
    """Raise on missing values, or drop them with a warning; record the rows; return the index kept."""
    n = len(index)
    missing = coded.missing
    if missing.any():
        n_miss = int(missing.sum())
        detail = ", ".join(f"{k}: {v:,}" for k, v in coded.missing_by.items())
        if on_missing == "raise":
            raise InputError(
                f"{n_miss:,} row(s) have missing values ({detail}); first rows: {_first_rows(index, missing)}. "
                "Fill them, or pass on_missing='drop' to leave them out (they are counted and reported)"
            )
        warnings.warn(
            f"dropped {n_miss:,} of {n:,} rows with a missing or unknown value ({detail}) at the caller's request "
            "(on_missing='drop')",
            DroppedRowsWarning,
            stacklevel=3,
        )
    acc.record("persons", read=n, dropped={f"missing {k}": v for k, v in coded.missing_by.items()})
    if not missing.any():
        return index
    keep = ~missing
    coded.codes = {k: v[keep] for k, v in coded.codes.items()}
    if coded.y is not None:
        coded.y = coded.y[keep]
    if coded.age_values is not None:
        coded.age_values = coded.age_values[keep]
    return index[keep]


def build_design(
    data: pd.DataFrame,
    *,
    spec: ChoiceSpec | None = None,
    columns: Mapping[str, str] | None = None,
    recode: Mapping[str, Mapping[Any, Any]] | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
    outcome: bool = True,
) -> ChoiceDesign:
    """Validate person-level data and build the treatment-coded design.

    The design is stored by covariate pattern (see :class:`ChoiceDesign`); the
    dense person-year matrix is available from :meth:`ChoiceDesign.full_exog`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person-year with the columns ``outcome`` (unless
        ``outcome=False``), ``background``, ``centrality``, ``age`` and the controls
        of ``spec`` (default ``sex``, ``education``, ``labour``, ``family``).  Not
        modified.
    spec : ChoiceSpec, optional
        Default :data:`~geoattr.models.choice.DEFAULT_SPEC`.
    columns : mapping, optional
        Model variable -> column name in ``data`` (e.g. ``{"outcome": "flytting"}``).
    recode : mapping, optional
        Model variable -> {raw value: category}, applied to the distinct values
        (e.g. ``{"outcome": {0: "stay", 1: "domestic", 2: "emigration"}}``).
    on_missing : {"raise", "drop"}, default "raise"
        Rows with a missing or unknown outcome, or a missing covariate, raise an
        :class:`~geoattr.exceptions.InputError` naming their count and first rows;
        with ``"drop"`` they are dropped, counted in ``accounting`` and reported by a
        :class:`~geoattr.exceptions.DroppedRowsWarning`.
    outcome : bool, default True
        Whether the outcome column is part of the data (``False`` for prediction).

    Returns
    -------
    ChoiceDesign

    Raises
    ------
    InputError
        Missing columns; covariate values outside the declared categories (always, with
        the column, the values and their row count); missing values (unless dropped);
        an outcome or a declared category that never occurs.
    """
    spec = DEFAULT_SPEC if spec is None else spec
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if on_missing not in ("raise", "drop"):
        raise InputError(f"on_missing must be 'raise' or 'drop', got {on_missing!r}")
    columns = dict(columns or {})
    recode = {k: dict(v) for k, v in (recode or {}).items()}
    colname = _column_names(data, spec, columns, recode, outcome)
    coded = _Coded(codes={}, missing=np.zeros(len(data), dtype=bool), missing_by={}, unknown_msgs=[])
    _code_factors(data, spec, colname, recode, coded)
    if spec.age != "none":
        _code_age(data, spec, colname, recode, coded)
    if coded.unknown_msgs:
        raise InputError("; ".join(coded.unknown_msgs) + ". Recode the values or declare them as categories")
    if outcome:
        _code_outcome(data, spec, colname, recode, coded, on_missing)
    acc = Accounting()
    index = _drop_missing(coded, data.index, on_missing, acc)
    if outcome and len(index) == 0:
        raise InputError("no rows left to estimate the model")

    codes, age_values, y = coded.codes, coded.age_values, coded.y
    inverse, first = _patterns(spec, codes, age_values)
    X = _fill_design(spec, {k: v[first] for k, v in codes.items()},
                     None if age_values is None else age_values[first])
    counts = pattern_counts = None
    if outcome:
        assert y is not None
        J = len(spec.outcomes)
        _require_every_outcome(spec, y, len(index))
        counts = _outcome_counts(spec, codes, y)
        pattern_counts = np.bincount(inverse * J + y, minlength=len(first) * J).reshape(len(first), J)
    return ChoiceDesign(exog=X, counts=pattern_counts, inverse=inverse, endog=y, terms=spec.terms, index=index,
                        spec=spec, outcome_counts=counts, accounting=acc)


def _require_every_outcome(spec: ChoiceSpec, y: np.ndarray, m: int) -> None:
    J = len(spec.outcomes)
    order = (spec.base, *spec.equations)
    totals = np.bincount(y, minlength=J)
    absent = [order[k] for k in range(J) if totals[k] == 0]
    if absent:
        raise InputError(
            f"outcome(s) {absent} never occur in the {m:,} rows; the model needs every outcome "
            f"(declared: {list(spec.outcomes)})"
        )


# --------------------------------------------------------------------------- patterns and design rows
def _patterns(spec: ChoiceSpec, codes: Mapping[str, np.ndarray],
              age_values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct covariate patterns: the pattern of every row and the first row of every pattern.

    Every regressor is a function of the factor codes (and of age with
    ``age="quadratic"``), so rows with equal codes have equal design rows.
    """
    parts = [codes[f.name].astype(np.int64) for f in spec.factors]
    radix = [len(f.categories) for f in spec.factors]
    if spec.age == "quadratic":
        assert age_values is not None
        _, age_code = np.unique(age_values, return_inverse=True)
        parts.append(age_code.astype(np.int64))
        radix.append(int(age_code.max()) + 1 if len(age_code) else 1)
    n = len(parts[0]) if parts else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if math.prod(radix) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for c, r in zip(parts, radix, strict=True):
            key *= r
            key += c
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:  # pragma: no cover - only with very many fine-grained controls
        _, first, inverse = np.unique(np.column_stack(parts), axis=0, return_index=True, return_inverse=True)
    return inverse.ravel().astype(np.int64), first.astype(np.int64)


def _fill_design(spec: ChoiceSpec, codes: Mapping[str, np.ndarray], age_values: np.ndarray | None) -> np.ndarray:
    """Treatment-coded design rows (``const``, background, centrality, interactions, age, controls)."""
    terms = spec.terms
    m = len(codes[spec.background.name])
    X = np.empty((m, len(terms)), dtype=np.float64, order="F")  # column-major: fast to fill
    X[:, 0] = 1.0
    j = 1
    bg, ce = spec.background, spec.centrality
    for f in (bg, ce):
        for cat in f.non_reference:
            np.equal(codes[f.name], f.categories.index(cat), out=X[:, j], casting="unsafe")
            j += 1
    if spec.interaction:
        bcols = {cat: codes[bg.name] == bg.categories.index(cat) for cat in bg.non_reference}
        ccols = {cat: codes[ce.name] == ce.categories.index(cat) for cat in ce.non_reference}
        for bc in bg.non_reference:
            for cc in ce.non_reference:
                np.logical_and(bcols[bc], ccols[cc], out=X[:, j], casting="unsafe")
                j += 1
    if spec.age == "quadratic":
        assert age_values is not None
        a = (age_values - spec.age_centre) / spec.age_scale
        X[:, j] = a
        X[:, j + 1] = a * a
        j += 2
    for f in spec.factors[2:]:
        for cat in f.non_reference:
            np.equal(codes[f.name], f.categories.index(cat), out=X[:, j], casting="unsafe")
            j += 1
    assert j == len(terms)
    return np.ascontiguousarray(X)


def _outcome_counts(spec: ChoiceSpec, codes: Mapping[str, np.ndarray], y: np.ndarray) -> pd.DataFrame:
    J = len(spec.outcomes)
    order = [spec.base, *spec.equations]
    blocks = []
    keys: list[tuple[str, str]] = []
    cats: list[tuple[str, np.ndarray, list[str]]] = [(f.name, codes[f.name], list(f.categories))
                                                     for f in spec.factors]
    if spec.interaction:
        bg, ce = spec.background, spec.centrality
        cell = codes[bg.name] * len(ce.categories) + codes[ce.name]
        labels = [f"{b}:{c}" for b in bg.categories for c in ce.categories]
        cats.append((f"{bg.name}:{ce.name}", cell, labels))
    for name, c, labels in cats:
        L = len(labels)
        tab = np.bincount(c * J + y, minlength=L * J).reshape(L, J)
        blocks.append(tab)
        keys += [(name, lab) for lab in labels]
    return pd.DataFrame(np.vstack(blocks), index=pd.MultiIndex.from_tuples(keys, names=["variable", "category"]),
                        columns=pd.Index(order, name="outcome"))


# --------------------------------------------------------------------------- separation
def separation_report(design: ChoiceDesign) -> pd.DataFrame:
    """Categories and cells in which an outcome never occurs (quasi-complete separation).

    In a multinomial logit, a category whose rows never take outcome ``j`` (or never
    take the base outcome) drives its coefficient in equation ``j`` (or in every
    equation) to minus (plus) infinity: the maximum-likelihood estimate does not
    exist.  The check cross-tabulates the outcome by every category of every
    categorical variable, reference categories included, and by every background x
    centrality cell when the interaction is in the model.

    Parameters
    ----------
    design : ChoiceDesign

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``category``, ``outcome`` (the outcome never observed),
        ``rows`` (rows in the category); empty when every cell has every outcome.
    """
    if design.outcome_counts is None:
        raise InputError("the design has no outcome")
    c = design.outcome_counts
    rows = c.sum(axis=1)
    out = []
    for (var, cat), r in c.iterrows():
        for o in c.columns:
            if r[o] == 0 and rows[(var, cat)] > 0:
                out.append({"variable": var, "category": cat, "outcome": o, "rows": int(rows[(var, cat)])})
    return pd.DataFrame(out, columns=["variable", "category", "outcome", "rows"])


def separation_message(report: pd.DataFrame) -> str:
    """The error message for a non-empty :func:`separation_report`: what is separated and how to fix it."""
    parts = [f"no {r.outcome!r} among the {r.rows:,} rows with {r.variable} = {r.category!r}"
             for r in report.itertuples()]
    shown = "; ".join(parts[:8]) + (f"; and {len(parts) - 8} more" if len(parts) > 8 else "")
    return (
        f"perfect separation: {shown}. The coefficients of these levels would go to infinity; merge the "
        "level with a neighbouring one, choose another reference level, drop the interaction, or use more data "
        "(on_separation='warn' fits anyway)"
    )
