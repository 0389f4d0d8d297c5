"""Validators shared by the readers, :class:`~geoattr.data.PanelData` and the builders.

Each validator raises :class:`~geoattr.exceptions.InputError` (a ``ValueError``) with
a message that names the table, the columns and the offending rows or ids (at most
ten of them, then "and N more"), and says how to fix the input.  Rows are named by
their index labels; for a table read from a file that is the 0-based data row (the
header is not counted).

Examples
--------
>>> import pandas as pd
>>> import geoattr._validation as val
>>> val.normalise_ids([301, "1103 ", 5001.0], name="kommunenummer", width=4).tolist()
['0301', '1103', '5001']
>>> df = pd.DataFrame({"count": [1, -2]})
>>> val.require_nonnegative(df, ["count"], table="flows")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoattr.exceptions.InputError: table 'flows' has negative values: ... -2 in row(s) 1. ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr._ids import (
    LIMIT,
    format_in_order,
    normalise_ids,
    normalise_panel_index,
    normalise_string_ids,
    normalise_years,
    plain_scalar,
    whole_years_of_index,
)
from geoattr.exceptions import InputError

__all__ = [
    "number_pair",
    "normalise_ids",
    "normalise_string_ids",
    "normalise_years",
    "normalise_panel_index",
    "whole_years_of_index",
    "format_in_order",
    "require_choice",
    "population_weighted",
    "require_columns",
    "require_numeric",
    "require_no_missing",
    "require_nonnegative",
    "require_positive",
    "require_unique",
    "require_finite",
    "require_whole",
    "require_variation",
    "COUNT_COLUMNS",
    "SIGNED_COUNT_COLUMNS",
    "is_person_count",
    "MAX_MAGNITUDE",
    "compare_id_sets",
    "require_same_ids",
]


#: Panel columns that are counts: summed when aggregating to regions, never negative.
COUNT_COLUMNS: tuple[str, ...] = (
    "population",
    "jobs",
    "births",
    "deaths",
    "employed_residents",
)
#: Panel columns that are counts of persons but may be negative (summed when aggregating).
SIGNED_COUNT_COLUMNS: tuple[str, ...] = ("net_migration",)
# Further columns of persons that readers require to be whole numbers.
_PERSON_COLUMNS = ("in_migration", "out_migration", "immigration", "emigration", "migrants")
_PERSON_PREFIXES = ("net_migration__", "flow__")

# Symbols SSB (and PxWeb) use for missing, confidential or not applicable cells.
_SSB_SYMBOLS = {".", "..", "...", ":", "-"}

#: Largest magnitude accepted in a count or regressor: sums of squares of larger values
#: overflow float64 (about 1.8e308) in the estimators.
MAX_MAGNITUDE = 1e150


def _column_list(columns: Iterable[str] | str) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)





def require_choice(value: object, name: str, choices: Sequence[str]) -> None:
    """Check that an option is one of ``choices``.

    Parameters
    ----------
    value : object
        The value given.
    name : str
        The option's name, for the message.
    choices : sequence of str
        The allowed values.

    Raises
    ------
    InputError
        If ``value`` is not one of ``choices``.
    """
    if value not in choices:
        raise InputError(f"{name} must be one of {list(choices)}; {value!r} was given instead")


def population_weighted(obs_weights: object) -> bool:
    """Whether ``obs_weights`` asks for population weighting (``"population"``) or not (None).

    For functions whose only observation weights are the population.

    Parameters
    ----------
    obs_weights : {None, "population"}
        The ``obs_weights`` argument.

    Returns
    -------
    bool
        True for ``"population"``, False for None.

    Raises
    ------
    InputError
        Any other value (the message names the old ``weighted=True``).
    """
    if obs_weights is None:
        return False
    if isinstance(obs_weights, str) and obs_weights == "population":
        return True
    raise InputError(
        f"obs_weights must be None or 'population'; {obs_weights!r} was given instead "
        "(obs_weights='population' replaces weighted=True)"
    )


def require_columns(
    df: pd.DataFrame, columns: Iterable[str], *, table: str, hint: str | None = None
) -> None:
    """Raise when ``df`` lacks any of ``columns``.

    Parameters
    ----------
    df : DataFrame
    columns : iterable of str
        Required column names.
    table : str
        Table name for the message.
    hint : str, optional
        How to fix it, appended to the message (e.g. ``"pass value='sysselsatte'"``).

    Raises
    ------
    InputError
        ``"table 'flows' lacks column(s) 'count'; it has: ...; <hint>"``.
    """
    missing = [c for c in _column_list(columns) if c not in df.columns]
    if missing:
        msg = (
            f"table {table!r} lacks column(s) {format_in_order(missing)}; "
            f"it has: {format_in_order([str(c) for c in df.columns], 30)}"
        )
        if hint:
            msg += f"; {hint}"
        raise InputError(msg)


def require_numeric(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming each column with values that cannot be converted to numbers.

    Columns of a numeric dtype pass; other columns pass when every non-missing value
    converts with :func:`pandas.to_numeric` (e.g. ``"12"`` read as text).  Missing
    values are not this check's business (see :func:`require_no_missing`).

    Raises
    ------
    InputError
        Naming, per column, the number of bad values and up to 10 of them with their
        rows (in the same order), and how to fix them.
    """
    cols = _column_list(columns)
    require_columns(df, cols, table=table)
    problems = []
    symbols = False
    for c in cols:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            continue
        conv = pd.to_numeric(col, errors="coerce")
        bad = conv.isna().to_numpy() & col.notna().to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            vals = [col.iloc[i] for i in pos[:LIMIT]]
            symbols = symbols or any(isinstance(v, str) and v.strip() in _SSB_SYMBOLS for v in vals)
            problems.append(
                f"column {c!r}: {len(pos)} non-numeric value(s) {format_in_order(vals, total=len(pos))} "
                f"in row(s) {format_in_order(df.index[pos])}"
            )
    if problems:
        msg = (
            f"table {table!r} has non-numeric values: "
            + "; ".join(problems)
            + ". Clean them, or convert with pd.to_numeric(..., errors='coerce') and decide "
            "what the "
            "resulting missing values mean"
        )
        if symbols:
            msg += " ('.', '..', ':' are SSB's symbols for missing or confidential cells)"
        raise InputError(msg + ".")


def require_no_missing(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming the columns with missing values and up to 10 of their rows.

    Raises
    ------
    InputError
        ``"table 'flows' has missing values: column 'count': 2 missing value(s) in
        row(s) 3, 7. ..."``
    """
    cols = _column_list(columns)
    require_columns(df, cols, table=table)
    problems = []
    for c in cols:
        bad = df[c].isna().to_numpy()
        if bad.any():
            problems.append(
                f"column {c!r}: {int(bad.sum())} missing value(s) "
                f"in row(s) {format_in_order(df.index[bad])}"
            )
    if problems:
        raise InputError(
            f"table {table!r} has missing values: "
            + "; ".join(problems)
            + ". Fill them in or remove these rows."
        )


def _bad_cell_texts(df: pd.DataFrame, cols: list[str], test: Callable[[np.ndarray], np.ndarray]) -> list[str]:
    """:func:`_bad_cells` of each column where ``test`` (on the values as float, non-numbers NaN) is true."""
    texts = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = test(v)
        if bad.any():
            texts.append(_bad_cells(df.index, c, v, bad))
    return texts


def number_pair(value: Any, *, what: str, cast: Callable[[Any], Any] = float) -> tuple[Any, Any]:
    """The two numbers of a pair such as ``(lower, upper)`` or ``(start, end)``.

    Parameters
    ----------
    value : sequence of two numbers
    what : str
        What the pair must be, for the error (``"bounds must be a pair (lower, upper) of numbers"``).
    cast : callable, default float

    Returns
    -------
    tuple

    Raises
    ------
    InputError
        ``value`` is not two numbers: ``"<what>; <value> was given"``.
    """
    try:
        first, second = (cast(v) for v in value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}; {value!r} was given") from err
    return first, second


def _bad_cells(index: pd.Index, column: str, values: np.ndarray, bad: np.ndarray, *, what: str = "") -> str:
    """``"column 'c': 2 <what>value(s) v1, v2 in row(s) r1, r2"``: the cells where ``bad``, for a message."""
    pos = np.flatnonzero(bad)
    return (
        f"column {column!r}: {len(pos)} {what}value(s) "
        f"{format_in_order(values[pos[:LIMIT]].tolist(), total=len(pos))} "
        f"in row(s) {format_in_order(index[pos])}"
    )


def _sign_check(df: pd.DataFrame, columns: Iterable[str], *, table: str, strict: bool) -> None:
    cols = _column_list(columns)
    require_columns(df, cols, table=table)
    what = "zero or negative" if strict else "negative"
    problems = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = (v <= 0 if strict else v < 0).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            problems.append(_bad_cells(df.index, c, v.to_numpy(), bad, what=f"{what} "))
    if problems:
        must = "must be positive" if strict else "cannot be negative"
        raise InputError(
            f"table {table!r} has {what} values: "
            + "; ".join(problems)
            + f". These values {must}: fix or remove these rows."
        )


def require_nonnegative(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming the rows (index labels) with negative values, and the values.

    Missing values pass (see :func:`require_no_missing`).
    """
    _sign_check(df, columns, table=table, strict=False)


def require_positive(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming the rows (index labels) with zero or negative values, and the values.

    Missing values pass (see :func:`require_no_missing`).
    """
    _sign_check(df, columns, table=table, strict=True)


def is_person_count(column: str) -> bool:
    """Whether a panel column counts persons (so must hold whole numbers when read).

    Parameters
    ----------
    column : str
        A canonical panel column name.

    Returns
    -------
    bool
        True for :data:`COUNT_COLUMNS`, :data:`SIGNED_COUNT_COLUMNS`, migration counts
        and the subgroup columns ``net_migration__*`` and ``flow__*``.

    Examples
    --------
    >>> is_person_count("population"), is_person_count("net_migration__female"), is_person_count("wage")
    (True, True, False)
    """
    return (
        column in COUNT_COLUMNS + SIGNED_COUNT_COLUMNS + _PERSON_COLUMNS
        or column.startswith(_PERSON_PREFIXES)
    )


def require_finite(
    df: pd.DataFrame,
    columns: Iterable[str],
    *,
    table: str,
    max_abs: float = MAX_MAGNITUDE,
    hint: str | None = None,
) -> None:
    """Raise naming the rows with infinite values or values too large to compute with.

    Missing values (NaN) pass (see :func:`require_no_missing`); so do non-numeric
    columns (see :func:`require_numeric`).

    Parameters
    ----------
    df : DataFrame
    columns : iterable of str
        Numeric columns to check.
    table : str
        Table name for the message.
    max_abs : float, default :data:`MAX_MAGNITUDE`
        Largest magnitude accepted: squares of larger values overflow in the estimators.
    hint : str, optional
        What to do, appended to the message (a default names the usual fixes).

    Raises
    ------
    InputError
        ``"table 'panel' has infinite values: column 'jobs': 1 value(s) inf in row(s)
        ('0101', 2003). ..."``

    Examples
    --------
    >>> require_finite(pd.DataFrame({"x": [1.0, np.inf]}), ["x"], table="t")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoattr.exceptions.InputError: table 't' has infinite values: column 'x': 1 value(s) inf in row(s) 1. ...
    """
    cols = _column_list(columns)
    require_columns(df, cols, table=table)
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    infinite = _bad_cell_texts(df, numeric, np.isinf)
    huge = _bad_cell_texts(df, numeric, lambda v: np.isfinite(v) & (np.abs(v) > max_abs))
    if infinite:
        raise InputError(
            f"table {table!r} has infinite values: " + "; ".join(infinite) + ". "
            + (hint or "Replace them with the true values, or with NaN (missing) and drop those rows.")
        )
    if huge:
        raise InputError(
            f"table {table!r} has values too large to compute with (magnitude above {max_abs:g}, "
            "where sums of squares overflow): " + "; ".join(huge) + ". Check the values and their unit "
            "(a count is persons, not a scaled number), or rescale the column." + (f" {hint}" if hint else "")
        )


def require_whole(
    df: pd.DataFrame, columns: Iterable[str], *, table: str, hint: str | None = None
) -> None:
    """Raise naming the rows whose values are not whole numbers (counts of persons).

    Missing and infinite values pass (see :func:`require_no_missing`,
    :func:`require_finite`).

    Parameters
    ----------
    df : DataFrame
    columns : iterable of str
        Numeric columns that must hold whole numbers.
    table : str
    hint : str, optional
        The likely cause and how to fix it (a default is given).

    Raises
    ------
    InputError
        ``"table 'panel' has counts that are not whole numbers: column 'population':
        1 value(s) 12.5 in row(s) 0. ..."``
    """
    cols = _column_list(columns)
    require_columns(df, cols, table=table)
    problems = _bad_cell_texts(df, cols, lambda v: np.isfinite(v) & (v != np.round(v)))
    if problems:
        raise InputError(
            f"table {table!r} has counts that are not whole numbers: " + "; ".join(problems) + ". "
            + (hint or "Counts of persons are whole numbers: fix these values in the source.")
        )


def require_variation(values: pd.Series, *, name: str, hint: str | None = None) -> None:
    """Raise when ``values`` (a dependent variable) is constant, naming it and the value.

    A constant dependent variable leaves nothing to explain: R² is undefined (0/0) and
    every coefficient but the constant is zero.

    Parameters
    ----------
    values : pandas.Series
        The values (missing values ignored).
    name : str
        What they are, for the message.
    hint : str, optional
        How to fix it, appended to the message.

    Raises
    ------
    InputError
        ``"the dependent variable y has the same value 1.0 in all 9 rows ..."``.
    """
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return
    if np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
        raise InputError(
            f"the dependent variable {name} has the same value {plain_scalar(v[0])!r} in all {len(v)} row(s): "
            "there is nothing to explain and R² is undefined (0/0). "
            + (hint or "Check the column, or the rows and years selected.")
        )


def require_unique(
    df_or_index: pd.DataFrame | pd.Series | pd.Index, keys: Sequence[str] | None, *, table: str
) -> None:
    """Raise listing duplicated keys.

    Parameters
    ----------
    df_or_index : DataFrame, Series or Index
    keys : sequence of str or None
        Key columns, e.g. ``["year", "origin", "destination"]``; ``None`` checks the
        index (a MultiIndex gives tuple keys such as ``('0301', 2005)``).
    table : str

    Raises
    ------
    InputError
        Listing up to 10 duplicated keys and how many rows they cover; suggests
        ``drop_duplicates`` or aggregating with ``groupby().sum()``.
    """
    if keys is None:
        idx = df_or_index if isinstance(df_or_index, pd.Index) else df_or_index.index
        dup = np.asarray(idx.duplicated(keep=False))
        labels = list(idx[dup])
        names = [n for n in idx.names if n is not None]
        what = f"index ({', '.join(map(str, names))})" if names else "index"
    else:
        keys = _column_list(keys)
        if isinstance(df_or_index, pd.Index):
            raise TypeError(
                "require_unique: keys= needs a DataFrame; pass keys=None to check an Index"
            )
        require_columns(df_or_index, keys, table=table)
        dup = df_or_index.duplicated(subset=keys, keep=False).to_numpy()
        sub = df_or_index.loc[dup, keys]
        labels = (
            list(sub.itertuples(index=False, name=None)) if len(keys) > 1 else list(sub[keys[0]])
        )
        what = f"({', '.join(keys)})"
    if dup.any():
        uniq = list(dict.fromkeys(plain_scalar(x) for x in labels))
        raise InputError(
            f"table {table!r} has {len(uniq)} duplicate key(s) {what} over {int(dup.sum())} rows: "
            f"{format_ids(uniq)}. Keep one row per key (drop_duplicates) or aggregate them "
            "(groupby().sum())."
        )


def compare_id_sets(
    a: Iterable[str], b: Iterable[str], *, a_name: str, b_name: str
) -> tuple[set, set]:
    """Ids only in ``a`` and ids only in ``b``.

    Parameters
    ----------
    a, b : iterable of str
    a_name, b_name : str
        What the two collections are (kept for symmetry with :func:`require_same_ids`).

    Returns
    -------
    (set, set)
        ``(only_in_a, only_in_b)``.

    Examples
    --------
    >>> compare_id_sets(["0301", "1103"], ["0301"], a_name="panel", b_name="polygons")
    ({'1103'}, set())
    """
    sa, sb = set(a), set(b)
    return sa - sb, sb - sa


def require_same_ids(
    a: Iterable[str], b: Iterable[str], *, a_name: str, b_name: str, hint: str | None = None
) -> None:
    """Raise listing up to 10 ids present on one side only.

    Raises
    ------
    InputError
        ``"the ids of panel and polygons differ: 1 id(s) only in panel: '1103'; ... . <hint>"``.
    """
    only_a, only_b = compare_id_sets(a, b, a_name=a_name, b_name=b_name)
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} id(s) only in {a_name}: {format_ids(only_a)}")
        if only_b:
            parts.append(f"{len(only_b)} id(s) only in {b_name}: {format_ids(only_b)}")
        raise InputError(
            f"the ids of {a_name} and {b_name} differ: "
            + "; ".join(parts)
            + (f". {hint}" if hint else "")
        )
