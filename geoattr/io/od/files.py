"""OD files: which files a path or glob names, their format and schema, how Parquet input is partitioned."""

from __future__ import annotations

import glob
import gzip
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geoattr._format import format_ids
from geoattr.exceptions import InputError

__all__ = ["expand_paths", "format_of", "read_schema", "csv_sep", "file_column", "parquet_pieces",
           "PARQUET_PARTITION_ROWS"]


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> tuple[list[str], str]:
    """Files named by a glob, a directory, a file or a list of those; and their format."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise InputError("no OD files given: pass a path, a glob such as 'od/*.parquet' or a list of paths")
    files: list[str] = []
    for item in items:
        p = os.fspath(item)
        if any(ch in p for ch in "*?["):
            hits = sorted(glob.glob(p, recursive=True))
            if not hits:
                raise InputError(f"no files match {p!r}")
            files += hits
        elif os.path.isdir(p):
            hits = sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and format_of(str(f)) is not None)
            if not hits:
                raise InputError(f"directory {p!r} holds no .parquet or .csv files")
            files += hits
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise InputError(f"OD file {p!r} does not exist")
    formats = {format_of(f) for f in files}
    if None in formats:
        bad = [f for f in files if format_of(f) is None]
        raise InputError(f"unsupported OD file type(s) {format_ids(bad)}: use .parquet or .csv (.csv.gz)")
    if len(formats) > 1:
        raise InputError("the OD files mix Parquet and CSV; convert them to one format (Parquet is faster)")
    return files, formats.pop()


def format_of(path: str) -> str | None:
    """``"parquet"``, ``"csv"`` or None (not an OD file) from the file name."""
    low = path.lower()
    if low.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if low.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".csv.zst")):
        return "csv"
    return None


def read_schema(files: list[str], fmt: str) -> dict[str, str]:
    """Column name -> kind ("int", "float", "str", "other") from the files' metadata (no data read)."""
    if fmt == "csv":
        cols = pd.read_csv(files[0], nrows=0, sep=None, engine="python").columns
        return {c: "str" for c in cols}  # CSV: ids are read as text, counts as numbers
    out: dict[str, str] = {}
    for f in files:
        for fld in pq.read_schema(f):
            t = fld.type
            kind = ("int" if pa.types.is_integer(t) else "float" if pa.types.is_floating(t)
                    else "str" if (pa.types.is_string(t) or pa.types.is_large_string(t)) else "other")
            if fld.name in out and out[fld.name] != kind:
                raise InputError(f"column {fld.name!r} has different types across the OD files ({out[fld.name]} "
                                 f"and {kind} in {f!r}); write all files with one schema")
            out[fld.name] = kind
    return out


PARQUET_PARTITION_ROWS = 4_000_000


def csv_sep(path: str) -> str:
    """``;`` when the header has more semicolons than commas (Norwegian CSV), else ``,``."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        head = fh.readline()
    return ";" if head.count(";") > head.count(",") else ","


def file_column(path: str, files: Sequence[str], n: int) -> pd.Categorical:
    """The source file of each row, as a categorical over all the files (1 byte per row)."""
    return pd.Categorical.from_codes(np.full(n, list(files).index(path), dtype=np.int32), categories=list(files))


def parquet_pieces(files: list[str], max_rows: int = PARQUET_PARTITION_ROWS) -> list[tuple[str, tuple[int, ...]]]:
    """(file, row groups) pieces of up to ``max_rows`` rows (whole row groups), one Dask partition each."""
    pieces = []
    for f in files:
        md = pq.ParquetFile(f).metadata
        cur: list[int] = []
        rows = 0
        for i in range(md.num_row_groups):
            n = md.row_group(i).num_rows
            if cur and rows + n > max_rows:
                pieces.append((f, tuple(cur)))
                cur, rows = [], 0
            cur.append(i)
            rows += n
        pieces.append((f, tuple(cur)))
    return pieces


