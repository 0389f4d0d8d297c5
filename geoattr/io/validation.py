"""Validators shared by the readers and :class:`~geoattr.data.PanelData`.

Each raises :class:`~geoattr.exceptions.InputError` with a message that names the
table, the columns and the offending rows or ids, and says how to fix the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from geoattr.accounting import format_ids
from geoattr.exceptions import InputError

__all__ = [
    "normalise_ids",
    "require_columns",
    "require_numeric",
    "require_no_missing",
    "require_nonnegative",
    "require_positive",
    "require_unique",
    "compare_id_sets",
    "require_same_ids",
]


def normalise_ids(values: pd.Series | pd.Index | Sequence, *, name: str, width: int | None = None) -> pd.Series:
    """Turn ids into strings without losing leading zeros.

    Parameters
    ----------
    values : Series, Index or sequence
        Ids as read.  Integers, and floats that are whole numbers (``301.0`` from a
        CSV column with gaps), become ``"301"``; strings are stripped of white space.
    name : str
        What the ids are (for error messages).
    width : int, optional
        Zero-pad to this width (``width=4``: ``301 -> "0301"``).

    Returns
    -------
    pandas.Series
        Object-dtype strings, positionally aligned with ``values``.
    """
    raw = pd.Series(values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else list(values))
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    miss = raw.isna().to_numpy()
    if kind == "string":
        stripped = raw.astype(object).where(~miss, "").astype(str).str.strip()
        miss = miss | (stripped == "").to_numpy()
    if miss.any():
        pos = np.flatnonzero(miss)
        raise InputError(f"{name} has {len(pos)} missing id(s) at row position(s) {format_ids(pos)}; every row needs an id")
    if kind == "string":
        out = stripped
        if width is not None:
            out = out.str.zfill(width)
        return pd.Series(out.to_numpy(dtype=object), dtype=object)
    if kind == "integer":
        out = raw.astype(np.int64).astype(str)
        if width is not None:
            out = out.str.zfill(width)
        return pd.Series(out.to_numpy(dtype=object), dtype=object)
    s = raw.astype(object)

    def conv(v: object) -> str:
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if float(v).is_integer():
                return str(int(v))
            raise InputError(f"{name} has a non-integer numeric id {v!r}; ids must be codes such as '0301'")
        return str(v).strip()

    out = s.map(conv)
    if width is not None:
        out = out.str.zfill(width)
    return out.astype(object)


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, table: str, hint: str | None = None) -> None:
    """Raise when ``df`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = f"table {table!r} lacks column(s) {format_ids(missing)}; it has: {format_ids(list(df.columns), 20)}"
        if hint:
            msg += f"; {hint}"
        raise InputError(msg)


def _rows(df: pd.DataFrame, mask: np.ndarray) -> list:
    return list(df.index[mask])


def require_numeric(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming each column that holds values that are not numbers, and the rows."""
    problems = []
    for c in columns:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        conv = pd.to_numeric(col, errors="coerce")
        bad = conv.isna().to_numpy() & col.notna().to_numpy()
        if bad.any():
            rows = _rows(df, bad)
            vals = [col.iloc[i] for i in np.flatnonzero(bad)[:10]]
            problems.append(f"column {c!r}: {int(bad.sum())} non-numeric value(s) {format_ids(vals)} "
                            f"in row(s) {format_ids(rows)}")
    if problems:
        raise InputError(
            f"table {table!r} has non-numeric values: " + "; ".join(problems)
            + ". Clean them or convert with pd.to_numeric(..., errors='coerce') and decide about the missing values."
        )


def require_no_missing(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming the columns with missing values and up to 10 rows."""
    problems = []
    for c in columns:
        bad = df[c].isna().to_numpy()
        if bad.any():
            problems.append(f"column {c!r}: {int(bad.sum())} missing value(s) in row(s) {format_ids(_rows(df, bad))}")
    if problems:
        raise InputError(f"table {table!r} has missing values: " + "; ".join(problems) + ". Fill or remove these rows.")


def _sign_check(df: pd.DataFrame, columns: Iterable[str], *, table: str, strict: bool) -> None:
    problems = []
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = (v <= 0 if strict else v < 0).fillna(False).to_numpy()
        if bad.any():
            vals = v[bad].tolist()[:10]
            problems.append(f"column {c!r}: {int(bad.sum())} {'zero or negative' if strict else 'negative'} "
                            f"value(s) {format_ids(vals)} in row(s) {format_ids(_rows(df, bad))}")
    if problems:
        raise InputError(f"table {table!r} has " + "; ".join(problems) + ". Counts cannot be negative: fix these rows.")


def require_nonnegative(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming rows with negative values."""
    _sign_check(df, columns, table=table, strict=False)


def require_positive(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise naming rows with zero or negative values."""
    _sign_check(df, columns, table=table, strict=True)


def require_unique(df_or_index: pd.DataFrame | pd.Index, keys: Sequence[str] | None, *, table: str) -> None:
    """Raise listing duplicated keys (``keys=None``: the index)."""
    if keys is None:
        idx = df_or_index.index if isinstance(df_or_index, pd.DataFrame) else df_or_index
        dup = idx.duplicated(keep=False)
        labels = idx[dup]
    else:
        dup = df_or_index.duplicated(subset=list(keys), keep=False).to_numpy()
        sub = df_or_index.loc[dup, list(keys)]
        labels = list(sub.itertuples(index=False, name=None)) if len(keys) > 1 else list(sub[keys[0]])
    if np.asarray(dup).any():
        uniq = list(dict.fromkeys(labels))
        raise InputError(
            f"table {table!r} has {len(uniq)} duplicate key(s) over {int(np.asarray(dup).sum())} rows: "
            f"{format_ids(uniq)}. Keep one row per key (drop_duplicates) or aggregate them (groupby().sum())."
        )


def compare_id_sets(a: Iterable[str], b: Iterable[str], *, a_name: str, b_name: str) -> tuple[set, set]:
    """Ids only in ``a`` and ids only in ``b``."""
    sa, sb = set(a), set(b)
    return sa - sb, sb - sa


def require_same_ids(a: Iterable[str], b: Iterable[str], *, a_name: str, b_name: str, hint: str | None = None) -> None:
    """Raise listing up to 10 ids present on one side only."""
    only_a, only_b = compare_id_sets(a, b, a_name=a_name, b_name=b_name)
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} id(s) only in {a_name}: {format_ids(only_a)}")
        if only_b:
            parts.append(f"{len(only_b)} id(s) only in {b_name}: {format_ids(only_b)}")
        raise InputError("the ids differ: " + "; ".join(parts) + (f". {hint}" if hint else ""))
