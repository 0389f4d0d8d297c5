"""Numbers as files write them: counts with thousands separators and decimal commas.

:func:`parse_counts` converts the text of count columns to numbers, removing a given
thousands separator and understanding decimal commas; without a separator it refuses
counts written like ``560.000`` (:func:`refuse_grouped`), which a reader would
otherwise take for 560.  Errors are :class:`~geoattr.exceptions.InputError` naming the
table, the column, the values and their rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr.exceptions import InputError

__all__ = ["parse_counts", "refuse_grouped"]

# "560.000", "1.234.567": digits in groups of three after a '.', as a thousands separator writes them.
_GROUPED = r"[-+]?\d{1,3}(?:\.\d{3})+"
_GROUPED_TWICE = r"[-+]?\d{1,3}(?:\.\d{3}){2,}"


def refuse_grouped(text: pd.Series, *, table: str, column: str, sep: str | None) -> None:
    """Refuse counts whose '.' is most likely a thousands separator (``560.000`` read as 560).

    In a ``;``-separated file (where decimals take a comma) any ``d.ddd`` count is refused;
    elsewhere only those that cannot be a decimal count: two or more groups
    (``1.234.567``) or a group that would read as a fraction (``1.500`` -> 1.5).

    Parameters
    ----------
    text : pandas.Series
        The column as text (stripped); its index labels name the rows.
    table, column : str
        Where the values are, for the message.
    sep : str or None
        The file's delimiter (None: a DataFrame or an undetected delimiter).

    Raises
    ------
    InputError
        Naming the values, their rows, the likely cause and ``thousands='.'``.

    Examples
    --------
    >>> refuse_grouped(pd.Series(["560.000", "12"]), table="panel", column="population", sep=";")
    Traceback (most recent call last):
    ...
    geoattr.exceptions.InputError: table 'panel' column 'population' has 1 count(s) written with '.' \
between groups of three digits: '560.000' in row(s) 0. Counts are whole numbers, so in a ';'-separated \
file the '.' is most likely a thousands separator ('560.000' would be read as 560). Pass thousands='.' \
(in a run configuration: thousands = "." in the table's entry), or write the numbers without separators.
    """
    grouped = text.str.fullmatch(_GROUPED).fillna(False).to_numpy(dtype=bool)
    if sep != ";":
        twice = text.str.fullmatch(_GROUPED_TWICE).fillna(False).to_numpy(dtype=bool)
        with np.errstate(invalid="ignore"):
            frac = (pd.to_numeric(text.where(grouped), errors="coerce") % 1 != 0).to_numpy()
        grouped = twice | (grouped & frac)
    if grouped.any():
        pos = np.flatnonzero(grouped)
        example = text.iloc[pos[0]]
        as_decimal = float(pd.to_numeric(example, errors="coerce"))
        read_as = (f"{example!r} would be read as {as_decimal:g}" if np.isfinite(as_decimal)
                   else f"{example!r} is no number otherwise")
        where = f"a {sep!r}-separated file" if sep else "this table"
        raise InputError(
            f"table {table!r} column {column!r} has {len(pos)} count(s) written with '.' between groups "
            f"of three digits: {val.format_in_order(text.iloc[pos[:10]].tolist(), total=len(pos))} in "
            f"row(s) {val.format_in_order(text.index[pos])}. Counts are whole numbers, so in {where} the "
            f"'.' is most likely a thousands separator ({read_as}). Pass thousands='.' (in a run configuration: "
            "thousands = \".\" in the table's entry), or write the numbers without separators."
        )


def parse_counts(
    df: pd.DataFrame, columns: Sequence[str], *, table: str, sep: str | None, thousands: str | None
) -> pd.DataFrame:
    """Convert the text count ``columns`` to numbers, refusing thousands-grouped values.

    ``thousands`` is removed first; a decimal comma is understood in ``;``-separated
    files (and with ``thousands='.'``).  A column with text that is not a number is left
    as text, for the callers' check to name the cells.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read; its columns are replaced (modified in place and returned).
    columns : sequence of str
        The count columns; absent and numeric ones are skipped.
    table : str
        The table's name, for messages.
    sep : str or None
        The file's delimiter (None for a DataFrame).
    thousands : str or None
        The thousands separator to remove (None: refuse grouped counts instead).

    Returns
    -------
    pandas.DataFrame
        ``df`` with the count columns as numbers where every value is one.

    Examples
    --------
    >>> parse_counts(pd.DataFrame({"n": ["560.000", "1.234,5"]}), ["n"], table="t", sep=";",
    ...              thousands=".")["n"].tolist()
    [560000.0, 1234.5]
    """
    for c in columns:
        if c not in df.columns or pd.api.types.is_numeric_dtype(df[c]):
            continue
        text = df[c].map(lambda v: v.strip() if isinstance(v, str) else v)
        if thousands:
            text = text.str.replace(thousands, "", regex=False)
        else:
            refuse_grouped(text, table=table, column=c, sep=sep)
        if thousands != "," and (sep == ";" or thousands == "."):
            text = text.str.replace(",", ".", regex=False)
        num = pd.to_numeric(text, errors="coerce")
        if not (num.isna() & df[c].notna()).any():
            df[c] = num
    return df
