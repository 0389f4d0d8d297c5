"""Ids and years: normalised to the library's conventions, with errors that name them.

Unit ids are strings (``"0301"``: zero-padded codes keep their leading zeros); years are
integers.  Each function raises :class:`~geoattr.exceptions.InputError` naming the
offending values (at most :data:`LIMIT`, then "and N more") and how to fix them.
:mod:`geoattr._validation` re-exports every name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError

__all__ = ["LIMIT", "plain_scalar", "format_in_order", "normalise_ids", "normalise_string_ids", "normalise_years",
           "whole_years_of_index", "normalise_panel_index"]

#: How many offending rows, values or ids a message lists.
LIMIT = 10

# "301.0", "0301.00": a whole number written by a float column; the ".0" part is dropped.
_WHOLE_FLOAT_STR = re.compile(r"^\d+\.0+$")


def plain_scalar(v: Any) -> Any:
    """Numpy scalars (also inside tuples) as Python values, for readable messages."""
    if isinstance(v, tuple):
        return tuple(plain_scalar(x) for x in v)
    return v.item() if isinstance(v, np.generic) else v


def format_in_order(items: Iterable[Any], limit: int = LIMIT, *, total: int | None = None) -> str:
    """List items for a message in the given order (so rows and values line up).

    Like :func:`geoattr._format.format_ids`, but unsorted.

    Parameters
    ----------
    items : iterable
        The values, row labels or tuples to list (numpy scalars are shown as Python values).
    limit : int, default 10
        How many to list before "and N more".
    total : int, optional
        The full count when ``items`` was already cut to the first few.

    Returns
    -------
    str
        For example ``"('0101', 2019), ('0102', 2019) and 3 more"``.
    """
    items = [plain_scalar(i) for i in items]
    n = len(items) if total is None else total
    shown = ", ".join(repr(i) for i in items[:limit])
    if n > limit:
        shown += f" and {n - limit} more"
    return shown


def normalise_ids(
    values: pd.Series | pd.Index | Sequence, *, name: str, width: int | None = None
) -> pd.Series:
    """Turn ids into strings without losing leading zeros.

    Parameters
    ----------
    values : Series, Index or sequence
        Ids as read.  Strings are stripped of surrounding white space and otherwise
        kept as they are (``"0301"`` stays ``"0301"``), except that a string holding a
        whole number with a decimal part of zeros (``"301.0"``, written by a float
        column) loses that part.  Integers, and floats that are whole numbers
        (``301.0`` from a CSV column with gaps), become ``"301"``.
    name : str
        What the ids are (for error messages), e.g. ``"flows column 'origin'"``.
    width : int, optional
        Zero-pad to this width (``width=4``: ``301 -> "0301"``).  Use it for files
        that store codes as numbers; ids already this long or longer are unchanged.

    Returns
    -------
    pandas.Series
        Object-dtype strings on a fresh ``RangeIndex``, positionally aligned with
        ``values``.

    Raises
    ------
    InputError
        Missing or blank ids (naming their row positions), non-integer numbers or
        booleans used as ids.

    Examples
    --------
    >>> normalise_ids(pd.Series(["0301", " 1103"]), name="unit").tolist()
    ['0301', '1103']
    >>> normalise_ids([301, 1103], name="unit", width=4).tolist()
    ['0301', '1103']
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of ids, got the single string {values!r}")
    if isinstance(values, (pd.Series, pd.Index)) and len(values) >= _BY_DISTINCT_MIN:
        done = _normalise_distinct(values, name=name, width=width)
        if done is not None:
            return done
    arr = (
        values.to_numpy(dtype=object) if isinstance(values, (pd.Series, pd.Index)) else list(values)
    )
    raw = pd.Series(arr, dtype=object)
    miss = raw.isna().to_numpy()
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    stripped = None
    if kind == "string":
        stripped = raw.where(~miss, "").astype(str).str.strip()
        miss = miss | (stripped == "").to_numpy()
    elif kind != "integer":
        miss = miss | raw.map(lambda v: isinstance(v, str) and v.strip() == "").to_numpy(dtype=bool)
    if miss.any():
        pos = np.flatnonzero(miss)
        raise InputError(
            f"{name} has {len(pos)} missing or blank id(s) at row position(s) {format_in_order(pos)}; "
            "every row needs an id: fill them in or remove these rows"
        )
    if kind in ("string", "integer"):  # vectorised fast paths (long tables)
        if stripped is not None:
            res = stripped
            if res.str.contains(".", regex=False).any():
                res = res.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        else:
            res = raw.astype(np.int64).astype(str)
        if width is not None:
            res = res.str.zfill(int(width))
        return pd.Series(res.to_numpy(dtype=object), dtype=object)

    bad: list[tuple[int, Any]] = []

    def conv(pos: int, v: Any) -> str:
        if isinstance(v, str):
            s = v.strip()
            return s.split(".", 1)[0] if _WHOLE_FLOAT_STR.match(s) else s
        if isinstance(v, (bool, np.bool_)):
            bad.append((pos, v))
            return ""
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if np.isfinite(v) and float(v).is_integer():
                return str(int(v))
            bad.append((pos, v))
            return ""
        return str(v).strip()

    out = [conv(i, v) for i, v in enumerate(raw.to_numpy())]
    if bad:
        raise InputError(
            f"{name} has {len(bad)} id(s) that are not codes (non-integer numbers or booleans): "
            + ", ".join(f"{plain_scalar(v)!r} at row position {p}" for p, v in bad[:LIMIT])
            + (f" and {len(bad) - LIMIT} more" if len(bad) > LIMIT else "")
            + "; ids must be codes such as '0301': read the column as text (dtype=str)"
        )
    res = pd.Series(out, dtype=object)
    if width is not None:
        res = res.str.zfill(int(width)).astype(object)
    return res


#: From this many ids, string ids are normalised once per distinct value (long tables repeat few codes).
_BY_DISTINCT_MIN = 20_000


def _normalise_distinct(values: pd.Series | pd.Index, *, name: str, width: int | None) -> pd.Series | None:
    """:func:`normalise_ids` of string ids computed on their distinct values, then spread back to the rows.

    Elementwise the same strings.  None (the caller takes the row by row path, whose
    errors name row positions) when a value is missing or not a string, or when a
    distinct value is refused.
    """
    codes, uniques = pd.factorize(values)
    if len(uniques) == 0 or (codes < 0).any():
        return None
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    if pd.api.types.infer_dtype(distinct, skipna=False) != "string":
        return None
    try:
        norm = normalise_ids(distinct, name=name, width=width)
    except InputError:
        return None
    return pd.Series(norm.to_numpy(dtype=object)[codes], dtype=object)


def normalise_string_ids(values: pd.Index | pd.Series, *, name: str) -> pd.Series:
    """Ids that must already be strings, normalised as :func:`normalise_ids` does.

    Integer ids are refused: they have lost their leading zeros.

    Parameters
    ----------
    values : pandas.Index or pandas.Series
        The ids.
    name : str
        What they are, for the message.

    Returns
    -------
    pandas.Series
        Object-dtype strings.

    Raises
    ------
    InputError
        If the values are not strings.
    """
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind not in ("string", "empty"):
        example = list(pd.Series(values).dropna().iloc[:3])
        raise InputError(
            f"{name} must be strings with their leading zeros ('0301'); got {kind} values "
            f"like {example}. Convert them, e.g. .astype(str).str.zfill(4), or read the file "
            "with dtype=str"
        )
    return normalise_ids(values, name=name)


def normalise_years(values: pd.Series | pd.Index, *, name: str, rows: Sequence[Any] | None = None) -> np.ndarray:
    """Whole years as an int64 array; a year is never rounded.

    Parameters
    ----------
    values : pandas.Series or pandas.Index
        Years, as integers, whole floats or strings of whole numbers.
    name : str
        What they are, for the message.
    rows : sequence, optional
        A label per value (row labels, (unit, year) pairs): the message then names the
        rows whose year is not a whole number.

    Returns
    -------
    numpy.ndarray
        int64 years.

    Raises
    ------
    InputError
        A missing year or a value that is not a whole number (2000.5).
    """
    s = pd.Series(values)
    if s.isna().any():
        raise InputError(
            f"{name} has {int(s.isna().sum())} missing year(s); every row needs a year"
        )
    if pd.api.types.is_integer_dtype(s):
        return s.to_numpy(dtype=np.int64)
    num = pd.to_numeric(s, errors="coerce")
    bad = (num.isna() | (num != np.round(num))).to_numpy()
    if bad.any():
        where = ""
        if rows is not None:
            named = [r for r, b in zip(rows, bad) if b]
            where = f" in {int(bad.sum())} row(s): {format_in_order(named, total=len(named))}"
        raise InputError(f"{name} must be whole years such as 2017; got values like {list(s[bad].iloc[:3])}{where}. "
                         "Fix or drop these rows (years are never rounded)")
    return num.to_numpy().astype(np.int64)


def whole_years_of_index(index: pd.MultiIndex, *, name: str) -> np.ndarray:
    """The year level of a (unit, year) index as int64, errors naming the (unit, year) rows.

    ``index`` and ``name`` are those of :func:`normalise_panel_index`.

    Returns
    -------
    numpy.ndarray
        int64 years (see :func:`normalise_years`).
    """
    years = index.get_level_values(1)
    if pd.api.types.is_integer_dtype(years):
        return years.to_numpy(dtype=np.int64)
    return normalise_years(years, name=f"{name} years", rows=list(zip(index.get_level_values(0), years)))


def normalise_panel_index(index: pd.MultiIndex, *, name: str, unit_name: str | None = None) -> pd.MultiIndex:
    """A (unit, year) index with string unit ids and integer years.

    Parameters
    ----------
    index : pandas.MultiIndex
        Two levels: unit, year.
    name : str
        The table's name, for messages.
    unit_name : str, optional
        What the unit ids are called in messages; default ``"<name> unit"``.

    Returns
    -------
    pandas.MultiIndex
        Levels named ``unit`` (object strings) and ``year`` (integers).

    Raises
    ------
    InputError
        Unit ids that are not codes, or years that are not integers.
    """
    units = normalise_ids(index.get_level_values(0), name=unit_name or f"{name} unit")
    years = pd.Index(whole_years_of_index(index, name=name))
    return pd.MultiIndex.from_arrays([pd.Index(units.to_numpy(), dtype=object), years], names=["unit", "year"])
