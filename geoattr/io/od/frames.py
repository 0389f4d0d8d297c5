"""OD rows in pandas, shared by the pandas and Dask engines: reading a file or row groups, each row's status,
and a chunk's sums by (year, status, origin, destination)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geoattr.exceptions import InputError
from geoattr.io.od.files import csv_sep, file_column
from geoattr.io.od.spec import NO_YEAR, ODSpec, RawAggregate, Status

__all__ = ["read_parquet_piece", "read_csv_file", "frame_status", "frame_aggregate", "frame_examples",
           "frame_unknown", "raw_from_frame"]


def read_parquet_piece(piece: tuple[str, tuple[int, ...] | None], use: list[str], year_column: str | None,
                        years: tuple[int, ...] | None, files: Sequence[str]) -> pd.DataFrame:
    """Row groups of one Parquet file as pandas; integer ids stay int64 even with nulls."""
    path, groups = piece
    pf = pq.ParquetFile(path)
    t = pf.read(columns=use) if groups is None else pf.read_row_groups(list(groups), columns=use)
    if years is not None:
        t = t.filter(pc.is_in(t[year_column], value_set=pa.array(list(years), type=t.schema.field(year_column).type)))
    nullable = {pa.int8(): pd.Int64Dtype(), pa.int16(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.Int64Dtype(), pa.uint16(): pd.Int64Dtype(),
                pa.uint32(): pd.Int64Dtype(), pa.uint64(): pd.UInt64Dtype()}
    df = t.to_pandas(types_mapper=nullable.get)
    df["__file"] = file_column(path, files, len(df))
    return df


def read_csv_file(path: str, use: list[str], spec: ODSpec) -> pd.DataFrame:
    """One CSV file as pandas (ids as text), rows of the selected years, with its ``__file``."""
    df = pd.read_csv(path, usecols=use, sep=csv_sep(path), dtype={spec.origin: str, spec.destination: str})
    if spec.years is not None:
        df = df[pd.to_numeric(df[spec.year_column]).isin(list(spec.years))]
    df["__file"] = file_column(path, spec.files, len(df))
    return df




def frame_status(df: pd.DataFrame, spec: ODSpec) -> pd.DataFrame:
    """Columns yr, status, ok, dk, c of a pandas chunk of the OD table (used by pandas and dask)."""
    n = len(df)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    if spec.year_column:
        out["yr"] = pd.to_numeric(df[spec.year_column]).to_numpy(dtype=np.int64)
    else:
        out["yr"] = np.full(n, NO_YEAR, dtype=np.int64)
    try:
        c = pd.to_numeric(df[spec.value], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (ValueError, TypeError) as e:
        raise InputError(f"the count column {spec.value!r} has values that are not numbers ({e}); fix them "
                         "or name the right column with value=") from e
    keys = {}
    miss_id = np.zeros(n, dtype=bool)
    for side, col in (("o", spec.origin), ("d", spec.destination)):
        s = df[col]
        isna = s.isna().to_numpy()
        miss_id |= isna
        if spec.kind == "int":
            keys[side] = pd.to_numeric(s).fillna(-1).to_numpy(dtype=np.int64)
        else:
            keys[side] = s.astype(object).where(~isna, None).to_numpy(dtype=object)
    status = np.full(n, Status.OK, dtype=np.int8)
    if spec.lookup is not None:
        ok_key, dk_key = spec.lookup.codes(keys["o"], spec.kind), spec.lookup.codes(keys["d"], spec.kind)
        unknown = (ok_key < 0) | (dk_key < 0)
    else:
        unknown = np.zeros(n, dtype=bool)
        ok_key, dk_key = keys["o"], keys["d"]
    status[(c == 0)] = Status.ZERO
    status[unknown] = Status.UNKNOWN
    status[c < 0] = Status.NEGATIVE
    status[np.isnan(c)] = Status.MISSING_COUNT
    status[miss_id] = Status.MISSING_ID
    used = (status == Status.OK) | (status == Status.ZERO)
    if spec.lookup is not None:
        out["ok"] = np.where(used, ok_key, -1)
        out["dk"] = np.where(used, dk_key, -1)
    else:
        out["ok"] = pd.Series(ok_key, dtype=object).where(used, None).to_numpy(dtype=object)
        out["dk"] = pd.Series(dk_key, dtype=object).where(used, None).to_numpy(dtype=object)
    out["status"] = status
    out["c"] = c
    return out


def frame_aggregate(df: pd.DataFrame, spec: ODSpec) -> pd.DataFrame:
    """Sums and row counts by (year, status, origin, destination) of a pandas chunk.

    With a lookup the three last keys are packed into one int64 (``key``): ``o * N + d`` for
    used rows, ``N^2 + o * N + d`` for zero counts, ``-status`` for the others.
    """
    s = frame_status(df, spec)
    if spec.lookup is None:
        s["n"] = 1
        g = s.groupby(["yr", "status", "ok", "dk"], sort=False, dropna=False).agg(c=("c", "sum"), n=("n", "sum"))
        return g.reset_index()
    n_units = len(spec.lookup.units)
    st = s["status"].to_numpy()
    pair = s["ok"].to_numpy() * n_units + s["dk"].to_numpy()
    key = np.where(st == Status.OK, pair, np.where(st == Status.ZERO, n_units * n_units + pair, -st.astype(np.int64)))
    g = pd.DataFrame({"yr": s["yr"].to_numpy(), "key": key, "c": s["c"].to_numpy(), "n": np.ones(len(st), np.int64)})
    return g.groupby(["yr", "key"], sort=False).agg(c=("c", "sum"), n=("n", "sum")).reset_index()


def frame_examples(df: pd.DataFrame, spec: ODSpec, status: int, limit: int) -> pd.DataFrame:
    """Up to ``limit`` rows of a chunk with ``status`` (file, year, origin, destination, count), for messages."""
    s = frame_status(df, spec)
    m = np.flatnonzero(s["status"].to_numpy() == status)[:limit]
    file = df["__file"].astype(object).to_numpy()[m] if "__file" in df.columns else np.full(len(m), None)
    ids = {k: df[col].astype(object).to_numpy()[m] for k, col in (("o", spec.origin), ("d", spec.destination))}
    return pd.DataFrame({"file": file, "year": s["yr"].to_numpy()[m], "origin": ids["o"],
                         "destination": ids["d"], "count": s["c"].to_numpy()[m]})


def frame_unknown(df: pd.DataFrame, spec: ODSpec) -> pd.DataFrame:
    """The distinct fine ids of a chunk that are not in the lookup (column ``id``)."""
    if spec.lookup is None:
        return pd.DataFrame({"id": pd.Series([], dtype=object)})
    vals = []
    for col in (spec.origin, spec.destination):
        s = df[col].dropna()
        k = pd.to_numeric(s).to_numpy(dtype=np.int64) if spec.kind == "int" else s.astype(str).to_numpy(dtype=object)
        vals.append(k[spec.lookup.codes(k, spec.kind) < 0])
    u = pd.unique(np.concatenate(vals)) if vals else np.array([])
    return pd.DataFrame({"id": pd.Series(u, dtype=np.int64 if spec.kind == "int" else object)})


def raw_from_frame(g: pd.DataFrame, spec: ODSpec) -> RawAggregate:
    """The engine output from the grouped sums of :func:`frame_aggregate` (packed keys unpacked)."""
    if "key" in g.columns:  # packed keys (see frame_aggregate)
        n_units = len(spec.lookup.units)
        key = g["key"].to_numpy(dtype=np.int64)
        status = np.where(key < 0, -key, np.where(key >= n_units * n_units, Status.ZERO, Status.OK)).astype(np.int8)
        pair = np.where(key < 0, 0, key % (n_units * n_units))
        return RawAggregate(year=g["yr"].to_numpy(dtype=np.int64), status=status, o=pair // n_units, d=pair % n_units,
                    count=g["c"].to_numpy(dtype=float), rows=g["n"].to_numpy(dtype=np.int64))
    return RawAggregate(year=g["yr"].to_numpy(dtype=np.int64), status=g["status"].to_numpy(dtype=np.int8),
                o=g["ok"].to_numpy(), d=g["dk"].to_numpy(), count=g["c"].to_numpy(dtype=float),
                rows=g["n"].to_numpy(dtype=np.int64))


