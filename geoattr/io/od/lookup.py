"""The lookup of fine zones to analysis units, validated, with a dense array for compact integer ids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from geoattr._format import format_ids
from geoattr.exceptions import InputError
import geoattr._validation as val
from geoattr.io.od.files import csv_sep, format_of, read_schema

__all__ = ["Lookup", "prepare_lookup", "dense_lookup", "map_ids"]


class Lookup:
    """Fine id -> unit code, validated.  The id hash index or dense array is built on first use,
    once per process (and not pickled, so Dask workers build their own)."""

    def __init__(self, fine: np.ndarray, code: np.ndarray, units: pd.Index) -> None:
        self.fine = fine  # int64 or object (str), unique
        self.code = code  # int32 codes into units
        self.units = units  # normalised unit ids (str), position = code
        self._cache: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"fine": self.fine, "code": self.code, "units": self.units}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def dense(self, kind: str) -> tuple[np.ndarray, int] | None:
        if "dense" not in self._cache:
            self._cache["dense"] = dense_lookup(self, kind)
        return self._cache["dense"]

    def codes(self, keys: np.ndarray, kind: str) -> np.ndarray:
        """Unit codes (int64) of fine ids; -1 for ids not in the lookup."""
        d = self.dense(kind)
        if d is not None:
            arr, base = d
            i = keys.astype(np.int64, copy=False) - base
            ok = (i >= 0) & (i < len(arr))
            out = arr[np.where(ok, i, 0)].astype(np.int64)
            out[~ok] = -1
            return out
        if "index" not in self._cache:
            self._cache["index"] = pd.Index(self.fine)
        pos = self._cache["index"].get_indexer(keys)
        return np.where(pos >= 0, self.code[np.maximum(pos, 0)], -1).astype(np.int64)


def prepare_lookup(lookup: pd.DataFrame | pd.Series | str | os.PathLike, *, fine: str, unit: str,
                    kind: str) -> Lookup:
    """Validate the lookup (fine id -> unit) and convert the fine ids to the OD files' id type."""
    if isinstance(lookup, (str, os.PathLike)):
        p = os.fspath(lookup)
        if not os.path.isfile(p):
            raise InputError(f"lookup file {p!r} does not exist")
        fmt = format_of(p)
        if fmt == "parquet":
            have = read_schema([p], "parquet")
            df = pd.read_parquet(p, columns=[fine, unit] if fine in have and unit in have else None)
        elif fmt == "csv":
            df = pd.read_csv(p, dtype=str, sep=csv_sep(p))
        else:
            raise InputError(f"lookup {p!r}: use a .parquet or .csv file")
    elif isinstance(lookup, pd.Series):
        df = pd.DataFrame({fine: lookup.index.to_numpy(), unit: lookup.to_numpy()})
    elif isinstance(lookup, pd.DataFrame):
        df = lookup
    else:
        raise TypeError(f"lookup must be a DataFrame, a Series (fine id -> unit), a path or None, "
                        f"got {type(lookup).__name__}")
    val.require_columns(df, [fine, unit], table="lookup",
                        hint="name the lookup's columns with lookup_columns=('<fine id>', '<unit>')")
    val.require_no_missing(df, [fine, unit], table="lookup")
    f = df[fine]
    if kind == "int":
        if pd.api.types.is_integer_dtype(f.dtype):
            fv = f.to_numpy(dtype=np.int64)
        else:
            num = pd.to_numeric(f, errors="coerce")
            bad = num.isna() | (num != np.round(num))
            if bad.any():
                raise InputError(
                    f"the OD files store integer fine ids but the lookup's {fine!r} has {int(bad.sum())} value(s) that "
                    f"are not integers: {format_ids(f[bad].unique())}; convert the lookup or the OD ids"
                )
            fv = num.to_numpy(dtype=np.int64)
    else:
        fv = f.astype(str).to_numpy(dtype=object)
    ucodes, uniq = pd.factorize(df[unit], sort=False)
    names = val.normalise_ids(pd.Index(uniq), name=f"lookup column {unit!r}")
    units = pd.Index(sorted(set(names)))
    remap = units.get_indexer(names.to_numpy()).astype(np.int32)  # normalisation may merge raw values
    code = remap[ucodes]
    fi = pd.Index(fv)
    if not fi.is_unique:
        dup = fi.duplicated(keep=False)
        pairs = pd.DataFrame({"fine": fv[dup], "code": code[dup]}).drop_duplicates()
        conflict = pairs["fine"][pairs["fine"].duplicated(keep=False)].unique()
        if len(conflict):
            raise InputError(
                f"the lookup maps {len(conflict)} fine id(s) to more than one unit: {format_ids(conflict)}; "
                "each fine zone must belong to exactly one unit"
            )
        keep = ~fi.duplicated(keep="first")
        fv, code = fv[keep], code[keep]
    return Lookup(fine=fv, code=code, units=units)



def dense_lookup(lookup: Lookup | None, kind: str) -> tuple[np.ndarray, int] | None:
    """An array ``code[fine - base]`` when integer fine ids are dense enough (range <= 4x their number)."""
    if lookup is None or kind != "int" or len(lookup.fine) == 0:
        return None
    base, top = int(lookup.fine.min()), int(lookup.fine.max())
    span = top - base + 1
    if span > max(4 * len(lookup.fine), 1 << 20) or span > 2**31 - 2:
        return None
    arr = np.full(span, -1, dtype=np.int32)
    arr[lookup.fine - base] = lookup.code
    return arr, base


def map_ids(col: Any, arr: np.ndarray, base: int) -> np.ndarray:
    """Unit codes of an Arrow integer column of fine ids: -1 not in the lookup, -2 null."""
    nulls = col.null_count
    v = (pc.fill_null(col, base - 1) if nulls else col).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    i = v - base
    if len(i) and i.min() >= 0 and i.max() < len(arr):
        out = arr[i]
    else:
        ok = (i >= 0) & (i < len(arr))
        out = arr[np.where(ok, i, 0)]
        out[~ok] = -1
    if nulls:
        out[np.asarray(col.is_null(), dtype=bool)] = -2
    return out


