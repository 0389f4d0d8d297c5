"""Commuting weights from origin-destination tables larger than memory, and sparse VRA.

The pandas builder :func:`geoattr.weights.commuting` needs the whole origin-destination
(OD) table in memory and returns a libpysal ``Graph``.  Register OD tables between fine
zones (census blocks, grid cells) have 10^8 rows and more; aggregated to analysis units
through a lookup table they become at most ~10^7 unit pairs among ~10^5-10^6 units.
:func:`commuting_from_files` does that aggregation out of core and builds the same
weights:

* ``engine="duckdb"`` (default): embedded, single machine, out of core (spills to
  ``temp_directory``), bounded by ``memory_limit`` and ``threads``.
* ``engine="dask"``: Dask DataFrame, on the active ``dask.distributed`` client (or
  ``client=``), else Dask's threaded scheduler.  For tables spread over a cluster.
* ``engine="pandas"``: reads everything into memory; the reference the other two are
  tested against.  Refuses (with the engines to switch to) an input estimated larger
  than the memory available.

Every engine only *aggregates*: (year, origin unit, destination unit) sums of the
valid rows plus row counts by reason for the invalid ones.  The shares, ``min_share``,
``top_k``, the diagonal and isolates are then computed by one shared numpy routine
with the conventions of :func:`geoattr.weights.commuting`, so all engines give the
same matrix as the pandas builder run on the aggregated table (the tests pin this to
1e-12).

Nothing is dropped silently: rows with a missing id, a missing (NULL/NaN) or a
negative count, or a fine id that is not in the lookup raise an
:class:`~geoattr.exceptions.InputError` naming examples (ids, files) by default;
``on_invalid="drop"`` / ``on_unknown="drop"`` drop them with a
:class:`~geoattr.exceptions.DroppedRowsWarning` and the counts go to the result's
``account`` (a :class:`~geoattr.accounting.RowAccount`).  Zero counts are counted there
too; they change no share.

The result is a :class:`CommutingMatrix` (scipy CSR + ids + account), or a libpysal
``Graph`` when ``as_graph=True`` (``"auto"``: a Graph up to ``graph_max_edges`` edges).
``CommutingMatrix`` has ``unique_ids`` and ``sparse`` like a Graph, so
:func:`geoattr.weights.to_sparse`, :func:`geoattr.models.diagnostics.panel_weights` and
:func:`geoattr.models.spatial.fit_spatial` accept it directly: weights building and
estimation stay sparse end to end.

:func:`vra_sparse` computes relative job growth and the commuting-weighted VRA with its
lags from an ``N x T`` jobs array and CSR weights, without a Graph or pandas index
(for N up to 10^6 units); it is pinned to :func:`geoattr.variables.weighted_growth`.
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from geoattr._format import format_ids
from geoattr.accounting import RowAccount
from geoattr.exceptions import DroppedRowsWarning, InputError, IsolatesWarning
import geoattr._validation as val
from geoattr.weights.commuting import CommutingWeights

__all__ = [
    "CommutingMatrix",
    "commuting_from_files",
    "commuting_by_year_from_files",
    "aggregate_od",
    "relative_job_growth_array",
    "vra_sparse",
    "GRAPH_MAX_EDGES",
    "ENGINES",
]

Engine = Literal["duckdb", "dask", "pandas"]
ENGINES: tuple[str, ...] = ("duckdb", "dask", "pandas")

#: Largest number of stored entries (edges plus isolates) for which ``as_graph="auto"``
#: returns a libpysal ``Graph`` and ``as_graph=True`` is allowed; beyond it the Graph's
#: pandas adjacency (object ids, MultiIndex: ~150-250 bytes per edge and minutes of
#: construction at 10^8 edges) costs far more than the CSR (12 bytes per edge).
GRAPH_MAX_EDGES = 5_000_000

#: Row status codes of the aggregation (0 = used).
_OK, _MISSING_ID, _MISSING_COUNT, _NEGATIVE, _UNKNOWN, _ZERO = 0, 1, 2, 3, 4, 5
_REASONS = {
    _MISSING_ID: "missing origin or destination id",
    _MISSING_COUNT: "missing count (null or NaN)",
    _NEGATIVE: "negative count",
    _UNKNOWN: "fine id not in the lookup",
    _ZERO: "zero count",
}
_NO_YEAR = -(2**31)  # year key of a table without a year column

_ADVICE = "use engine='duckdb' (single machine, out of core) or engine='dask' (cluster)"


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class CommutingMatrix:
    """Row-stochastic commuting weights as a scipy CSR matrix with unit ids.

    Duck-types the parts of a libpysal ``Graph`` that geoattr's sparse code uses
    (``unique_ids``, ``sparse``, ``isolates``), so it can be passed wherever geoattr
    converts a graph to a sparse matrix (``to_sparse``, ``panel_weights``,
    ``fit_spatial``).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        ``N x N``, rows and columns in the order of ``ids``; ``w[i, j]`` is the share of
        the employed residents of ``ids[i]`` working in ``ids[j]``; rows with flows sum
        to 1, rows of isolates are empty.  Column indices sorted.
    ids : pandas.Index
        Unit ids (str).
    year : int, optional
        Year of the flows (None for a table without a year column).
    account : RowAccount, optional
        Rows read, used and dropped by reason.
    notes : tuple of str
        What was done (aggregation, options), for reports.
    """

    matrix: sparse.csr_matrix
    ids: pd.Index
    year: int | None = None
    account: RowAccount | None = None
    notes: tuple[str, ...] = ()

    @property
    def unique_ids(self) -> pd.Index:
        """The unit ids (as ``Graph.unique_ids``)."""
        return self.ids

    @property
    def sparse(self) -> sparse.csr_matrix:
        """The CSR matrix (as ``Graph.sparse``; not a copy)."""
        return self.matrix

    @property
    def n_units(self) -> int:
        """Number of units ``N``."""
        return len(self.ids)

    @property
    def nnz(self) -> int:
        """Number of stored (non-zero) weights."""
        return int(self.matrix.nnz)

    @property
    def isolates(self) -> pd.Index:
        """Units without any weight (empty rows)."""
        return self.ids[np.diff(self.matrix.indptr) == 0]

    def to_sparse(self, ids: Sequence[str] | pd.Index | None = None) -> sparse.csr_matrix:
        """A copy of the matrix, rows and columns in the order of ``ids`` (default: ``self.ids``).

        Raises
        ------
        InputError
            ``ids`` are not the same set as ``self.ids`` (naming the differences).
        """
        if ids is None:
            return self.matrix.copy()
        ids = pd.Index(ids)
        if ids.equals(self.ids):
            return self.matrix.copy()
        if set(ids) != set(self.ids) or len(ids) != len(self.ids):
            only_w, only_i = set(self.ids) - set(ids), set(ids) - set(self.ids)
            raise InputError(
                f"the weights' ids differ from the data's: {len(only_w)} only in the weights ({format_ids(only_w)}), "
                f"{len(only_i)} only in the data ({format_ids(only_i)})"
            )
        p = self.ids.get_indexer(ids)
        return self.matrix[p][:, p].tocsr()

    def without_diagonal(self, *, renormalise: bool = True) -> CommutingMatrix:
        """Drop self-weights and renormalise rows: the W of a spatial lag (MODEL.md).

        A unit whose only weight was on itself becomes an isolate (empty row).
        """
        m = self.matrix.tocsr(copy=True)
        m.setdiag(0.0)
        m.eliminate_zeros()
        if renormalise:
            rs = np.asarray(m.sum(axis=1)).ravel()
            scale = np.divide(1.0, rs, out=np.zeros_like(rs), where=rs > 0)
            m = sparse.csr_matrix(sparse.diags(scale) @ m)
            m.sort_indices()
        note = "off-diagonal shares" + (" renormalised" if renormalise else "")
        return CommutingMatrix(matrix=m, ids=self.ids, year=self.year, account=self.account,
                               notes=(*self.notes, note))

    def to_graph(self, *, max_edges: int = GRAPH_MAX_EDGES) -> Any:
        """The same weights as a libpysal ``Graph`` (isolates as zero self-weights).

        The result equals what :func:`geoattr.weights.commuting` returns for the same
        flows (ids in the same order, ``transformation="r"``).

        Parameters
        ----------
        max_edges : int, default GRAPH_MAX_EDGES
            Refuse larger matrices (the Graph's pandas adjacency needs ~20x the memory
            of the CSR).

        Raises
        ------
        InputError
            More than ``max_edges`` entries: keep the CSR (``as_graph=False``).
        """
        from libpysal.graph import Graph

        iso = np.flatnonzero(np.diff(self.matrix.indptr) == 0)
        size = self.nnz + len(iso)
        if size > max_edges:
            raise InputError(
                f"{size:,} edges are too many for a libpysal Graph (limit max_edges={max_edges:,}; its pandas "
                f"adjacency needs ~200 bytes per edge, ~{_fmt_bytes(200 * size)} here): pass as_graph=False to get a "
                "CommutingMatrix (scipy.sparse CSR + ids), which geoattr's sparse VRA, diagnostics and spatial "
                "models accept, or raise max_edges / graph_max_edges"
            )
        coo = self.matrix.tocoo()
        rows = np.concatenate([coo.row, iso]).astype(np.int64)
        cols = np.concatenate([coo.col, iso]).astype(np.int64)
        vals = np.concatenate([coo.data, np.zeros(len(iso))])
        order = np.lexsort((cols, rows))
        ids = np.asarray(self.ids, dtype=object)
        adj = pd.Series(vals[order], index=pd.MultiIndex.from_arrays([ids[rows[order]], ids[cols[order]]],
                                                                     names=["focal", "neighbor"]), name="weight")
        return Graph(adj, transformation="r", is_sorted=True)

    def __repr__(self) -> str:
        return (f"CommutingMatrix(N={self.n_units:,}, nnz={self.nnz:,}, year={self.year}, "
                f"isolates={len(self.isolates):,})")


@dataclass(frozen=True)
class AggregatedOD:
    """A fine-level OD table aggregated to unit pairs.

    Attributes
    ----------
    flows : pandas.DataFrame
        Columns ``year`` (when the files have a year column), ``origin``, ``destination``
        (unit ids, str) and ``count`` (float sum of the rows' counts), one row per unit
        pair (and year) with at least one used row; sorted.
    accounts : dict
        Year (None for no year column) -> :class:`~geoattr.accounting.RowAccount`.
    """

    flows: pd.DataFrame
    accounts: dict[int | None, RowAccount] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _parse_bytes(value: str | int | float | None) -> int | None:
    """``"4GB"`` -> 4e9, ``"1.5GiB"`` -> 1.5 * 2**30; numbers are bytes."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"memory_limit must be positive, got {value}")
        return int(value)
    s = str(value).strip().upper().replace(" ", "")
    num = s.rstrip("KMGTIB")
    unit = s[len(num):]
    try:
        b = int(float(num) * _UNITS[unit])
    except (ValueError, KeyError):
        raise ValueError(f"memory_limit must be bytes or a size like '4GB' or '512MiB', got {value!r}") from None
    if b <= 0:
        raise ValueError(f"memory_limit must be positive, got {value!r}")
    return b


def _fmt_bytes(b: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= f:
            return f"{b / f:.1f} {unit}"
    return f"{int(b)} B"


def _available_memory() -> int:
    """Memory available to this process now (psutil when installed, else /proc or sysconf)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is installed with the test extras
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 2**62


def _expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> tuple[list[str], str]:
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
            hits = sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and _format_of(str(f)) is not None)
            if not hits:
                raise InputError(f"directory {p!r} holds no .parquet or .csv files")
            files += hits
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise InputError(f"OD file {p!r} does not exist")
    formats = {_format_of(f) for f in files}
    if None in formats:
        bad = [f for f in files if _format_of(f) is None]
        raise InputError(f"unsupported OD file type(s) {format_ids(bad)}: use .parquet or .csv (.csv.gz)")
    if len(formats) > 1:
        raise InputError("the OD files mix Parquet and CSV; convert them to one format (Parquet is faster)")
    return files, formats.pop()


def _format_of(path: str) -> str | None:
    low = path.lower()
    if low.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if low.endswith((".csv", ".csv.gz", ".txt", ".tsv", ".csv.zst")):
        return "csv"
    return None


def _schema(files: list[str], fmt: str) -> dict[str, str]:
    """Column name -> kind ("int", "float", "str", "other") from the files' metadata (no data read)."""
    if fmt == "csv":
        cols = pd.read_csv(files[0], nrows=0, sep=None, engine="python").columns
        return {c: "str" for c in cols}  # CSV: ids are read as text, counts as numbers
    import pyarrow as pa
    import pyarrow.parquet as pq

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


def _estimate_rows_bytes(files: list[str], fmt: str, columns: dict[str, str]) -> tuple[int | None, int]:
    """Rows (None for CSV) and the estimated in-memory bytes of the used columns in pandas."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        per_row = sum(64 if k == "str" else 8 for k in columns.values())
        return rows, rows * per_row
    size = sum(os.path.getsize(f) for f in files)
    factor = 20 if any(f.lower().endswith((".gz", ".zst")) for f in files) else 4  # text -> object strings
    return None, size * factor


class _Lookup:
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
            self._cache["dense"] = _dense_lookup(self, kind)
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


def _prepare_lookup(lookup: pd.DataFrame | pd.Series | str | os.PathLike, *, fine: str, unit: str,
                    kind: str) -> _Lookup:
    """Validate the lookup (fine id -> unit) and convert the fine ids to the OD files' id type."""
    if isinstance(lookup, (str, os.PathLike)):
        p = os.fspath(lookup)
        if not os.path.isfile(p):
            raise InputError(f"lookup file {p!r} does not exist")
        fmt = _format_of(p)
        if fmt == "parquet":
            have = _schema([p], "parquet")
            df = pd.read_parquet(p, columns=[fine, unit] if fine in have and unit in have else None)
        elif fmt == "csv":
            df = pd.read_csv(p, dtype=str, sep=_csv_sep(p))
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
    return _Lookup(fine=fv, code=code, units=units)


# --------------------------------------------------------------------------- engines
@dataclass
class _Raw:
    """Engine output: one row per (year, status, origin key, destination key)."""

    year: np.ndarray  # int64 (_NO_YEAR when no year column)
    status: np.ndarray  # int8
    o: np.ndarray  # int codes (lookup) or raw ids; arbitrary for status 1-4
    d: np.ndarray
    count: np.ndarray  # float64 sum of counts
    rows: np.ndarray  # int64 row counts


@dataclass(frozen=True)
class _Spec:
    files: list[str]
    fmt: str
    origin: str
    destination: str
    value: str
    year_column: str | None  # None: no year column used
    years: tuple[int, ...] | None  # filter (None: all)
    kind: str  # id kind of the OD files: "int" or "str"
    lookup: _Lookup | None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _duckdb_source(spec: _Spec) -> str:
    files = "[" + ", ".join(_sql_str(f) for f in spec.files) + "]"
    if spec.fmt == "parquet":
        return f"read_parquet({files}, union_by_name = true, filename = true)"
    types = {spec.origin: "VARCHAR", spec.destination: "VARCHAR", spec.value: "DOUBLE"}
    if spec.year_column:
        types[spec.year_column] = "BIGINT"
    tsql = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in types.items()) + "}"
    return f"read_csv({files}, header = true, union_by_name = true, filename = true, types = {tsql})"


def _duckdb_rows(spec: _Spec) -> str:
    """SQL of (yr, o, d, c, filename) for every row of the selected years."""
    yr = f"CAST({_q(spec.year_column)} AS BIGINT)" if spec.year_column else f"CAST({_NO_YEAR} AS BIGINT)"
    where = ""
    if spec.years is not None:
        where = f"WHERE {_q(spec.year_column)} IN ({', '.join(str(int(y)) for y in spec.years)})"
    return (f"SELECT {yr} AS yr, {_q(spec.origin)} AS o, {_q(spec.destination)} AS d, "
            f"CAST({_q(spec.value)} AS DOUBLE) AS c, filename FROM {_duckdb_source(spec)} {where}")


def _duckdb_base(spec: _Spec) -> str:
    """SQL of (yr, o, d, c, filename, oc, dc) for every row of the selected years (oc, dc: unit codes)."""
    src = _duckdb_rows(spec)
    if spec.lookup is None:
        return f"SELECT yr, o, d, c, filename, 0 AS oc, 0 AS dc FROM ({src})"
    return (f"SELECT s.yr, s.o, s.d, s.c, s.filename, lo.code AS oc, ld.code AS dc FROM ({src}) s "
            "LEFT JOIN lut lo ON s.o = lo.fine LEFT JOIN lut ld ON s.d = ld.fine")


def _status_sql(missing: str, unknown: str) -> str:
    return (f"CASE WHEN {missing} THEN {_MISSING_ID} "
            f"WHEN c IS NULL OR isnan(c) THEN {_MISSING_COUNT} WHEN c < 0 THEN {_NEGATIVE} "
            f"WHEN {unknown} THEN {_UNKNOWN} WHEN c = 0 THEN {_ZERO} ELSE {_OK} END")


_STATUS_SQL = _status_sql("o IS NULL OR d IS NULL", "oc IS NULL OR dc IS NULL")
#: status of the stream mapped in numpy (codes: -2 missing id, -1 not in the lookup)
_STATUS_SQL_MAPPED = _status_sql("oc = -2 OR dc = -2", "oc = -1 OR dc = -1")

#: Rows per Arrow batch of the numpy-mapped DuckDB path.
_BATCH_ROWS = 1 << 20


def _dense_lookup(lookup: _Lookup | None, kind: str) -> tuple[np.ndarray, int] | None:
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


def _map_ids(col: Any, arr: np.ndarray, base: int) -> np.ndarray:
    """Unit codes of an Arrow integer column of fine ids: -1 not in the lookup, -2 null."""
    import pyarrow.compute as pc

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


class _DuckDB:
    def __init__(self, spec: _Spec, *, memory_limit: int | None, threads: int | None,
                 temp_directory: str | None) -> None:
        import duckdb

        self.duckdb = duckdb
        self.spec = spec
        self.memory_limit = memory_limit
        self._tmp = None
        config: dict[str, Any] = {"preserve_insertion_order": False}
        if memory_limit is not None:
            config["memory_limit"] = f"{max(1, math.ceil(memory_limit / 1024))}KiB"
        if threads is not None:
            config["threads"] = int(threads)
        if temp_directory is None:
            self._tmp = tempfile.mkdtemp(prefix="geoattr_duckdb_")
            config["temp_directory"] = self._tmp
        else:
            config["temp_directory"] = temp_directory
        self.con = duckdb.connect(database=":memory:", config=config)
        if spec.lookup is not None:
            import pyarrow as pa

            fine = spec.lookup.fine
            arr = pa.array(fine, type=pa.int64()) if spec.kind == "int" else pa.array(fine, type=pa.string())
            self.con.register("lut_arrow", pa.table({"fine": arr, "code": pa.array(spec.lookup.code)}))
            self.con.execute("CREATE TEMP TABLE lut AS SELECT * FROM lut_arrow")
            self.con.unregister("lut_arrow")

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _run(self, sql: str, out: str = "arrow") -> Any:
        try:
            rel = self.con.sql(sql)
            return rel.to_arrow_table() if out == "arrow" else rel.df()
        except self.duckdb.OutOfMemoryException as e:
            lim = "DuckDB's default (80% of RAM)" if self.memory_limit is None else _fmt_bytes(self.memory_limit)
            raise InputError(
                f"DuckDB ran out of memory (memory_limit={lim}): raise memory_limit=, lower threads= (each thread "
                "holds its own buffers), make sure temp_directory= has free disk to spill to, or use engine='dask' "
                f"on a cluster. DuckDB said: {str(e).splitlines()[0]}"
            ) from e
        except (self.duckdb.ConversionException, self.duckdb.InvalidInputException) as e:
            raise InputError(f"the OD files could not be read as (origin, destination, count): "
                             f"{str(e).splitlines()[0]}; check the column types") from e

    def aggregate(self) -> _Raw:
        dense = self.spec.lookup.dense(self.spec.kind) if self.spec.lookup is not None else None
        if dense is not None:
            # Integer fine ids in a compact range: map them with a numpy array on the Arrow stream
            # DuckDB reads, and let DuckDB aggregate the mapped stream (a hash join against a
            # 10^7-row lookup costs ~2x more).
            import pyarrow as pa

            arr, base = dense
            reader = self.con.cursor().sql(f"SELECT yr, o, d, c FROM ({_duckdb_rows(self.spec)})").to_arrow_reader(
                _BATCH_ROWS)
            schema = pa.schema([("yr", pa.int64()), ("oc", pa.int32()), ("dc", pa.int32()), ("c", pa.float64())])

            def mapped() -> Any:
                for b in reader:
                    yield pa.RecordBatch.from_arrays(
                        [b.column(0), pa.array(_map_ids(b.column(1), arr, base)),
                         pa.array(_map_ids(b.column(2), arr, base)), b.column(3)], schema=schema)

            self.con.register("od_mapped", pa.RecordBatchReader.from_batches(schema, mapped()))
            source, status = "od_mapped", _STATUS_SQL_MAPPED
        else:
            source, status = f"({_duckdb_base(self.spec)})", _STATUS_SQL
        ko, kd = ("oc", "dc") if self.spec.lookup is not None else ("o", "d")
        sql = (f"SELECT yr, status, sum(c) AS c, count(*) AS n, "
               f"CASE WHEN status IN ({_OK}, {_ZERO}) THEN {ko} END AS ok, "
               f"CASE WHEN status IN ({_OK}, {_ZERO}) THEN {kd} END AS dk "
               f"FROM (SELECT *, {status} AS status FROM {source}) "
               "GROUP BY yr, status, ok, dk")
        t = self._run(sql)
        import pyarrow.compute as pc

        def keys(col: Any) -> np.ndarray:  # nulls (rows not used) filled, so integer ids stay integers
            col = col.combine_chunks() if hasattr(col, "combine_chunks") else col
            fill = "" if (self.spec.lookup is None and self.spec.kind == "str") else 0
            return pc.fill_null(col, fill).to_numpy(zero_copy_only=False)

        return _Raw(year=t["yr"].to_numpy(), status=t["status"].to_numpy().astype(np.int8),
                    o=keys(t["ok"]), d=keys(t["dk"]),
                    count=t["c"].to_numpy(zero_copy_only=False).astype(float), rows=t["n"].to_numpy())

    def examples(self, status: int, limit: int = 10) -> pd.DataFrame:
        sql = (f"SELECT filename AS file, yr AS year, o AS origin, d AS destination, c AS count FROM "
               f"(SELECT *, {_STATUS_SQL} AS status FROM ({_duckdb_base(self.spec)})) WHERE status = {status} "
               f"LIMIT {int(limit)}")
        return self._run(sql, "df")

    def unknown_ids(self, limit: int = 10) -> tuple[list[Any], int]:
        base = _duckdb_base(self.spec)
        ids = (f"SELECT o AS id FROM ({base}) WHERE oc IS NULL AND o IS NOT NULL UNION "
               f"SELECT d AS id FROM ({base}) WHERE dc IS NULL AND d IS NOT NULL")
        t = self._run(f"SELECT id, count(*) OVER () AS n FROM ({ids}) ORDER BY id LIMIT {int(limit)}", "df")
        return t["id"].tolist(), int(t["n"].iloc[0]) if len(t) else 0


def _frame_status(df: pd.DataFrame, spec: _Spec) -> pd.DataFrame:
    """Columns yr, status, ok, dk, c of a pandas chunk of the OD table (used by pandas and dask)."""
    n = len(df)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    if spec.year_column:
        out["yr"] = pd.to_numeric(df[spec.year_column]).to_numpy(dtype=np.int64)
    else:
        out["yr"] = np.full(n, _NO_YEAR, dtype=np.int64)
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
    status = np.full(n, _OK, dtype=np.int8)
    if spec.lookup is not None:
        ok_key, dk_key = spec.lookup.codes(keys["o"], spec.kind), spec.lookup.codes(keys["d"], spec.kind)
        unknown = (ok_key < 0) | (dk_key < 0)
    else:
        unknown = np.zeros(n, dtype=bool)
        ok_key, dk_key = keys["o"], keys["d"]
    status[(c == 0)] = _ZERO
    status[unknown] = _UNKNOWN
    status[c < 0] = _NEGATIVE
    status[np.isnan(c)] = _MISSING_COUNT
    status[miss_id] = _MISSING_ID
    used = (status == _OK) | (status == _ZERO)
    if spec.lookup is not None:
        out["ok"] = np.where(used, ok_key, -1)
        out["dk"] = np.where(used, dk_key, -1)
    else:
        out["ok"] = pd.Series(ok_key, dtype=object).where(used, None).to_numpy(dtype=object)
        out["dk"] = pd.Series(dk_key, dtype=object).where(used, None).to_numpy(dtype=object)
    out["status"] = status
    out["c"] = c
    return out


def _frame_aggregate(df: pd.DataFrame, spec: _Spec) -> pd.DataFrame:
    """Sums and row counts by (year, status, origin, destination) of a pandas chunk.

    With a lookup the three last keys are packed into one int64 (``key``): ``o * N + d`` for
    used rows, ``N^2 + o * N + d`` for zero counts, ``-status`` for the others.
    """
    s = _frame_status(df, spec)
    if spec.lookup is None:
        s["n"] = 1
        g = s.groupby(["yr", "status", "ok", "dk"], sort=False, dropna=False).agg(c=("c", "sum"), n=("n", "sum"))
        return g.reset_index()
    n_units = len(spec.lookup.units)
    st = s["status"].to_numpy()
    pair = s["ok"].to_numpy() * n_units + s["dk"].to_numpy()
    key = np.where(st == _OK, pair, np.where(st == _ZERO, n_units * n_units + pair, -st.astype(np.int64)))
    g = pd.DataFrame({"yr": s["yr"].to_numpy(), "key": key, "c": s["c"].to_numpy(), "n": np.ones(len(st), np.int64)})
    return g.groupby(["yr", "key"], sort=False).agg(c=("c", "sum"), n=("n", "sum")).reset_index()


def _frame_examples(df: pd.DataFrame, spec: _Spec, status: int, limit: int) -> pd.DataFrame:
    s = _frame_status(df, spec)
    m = np.flatnonzero(s["status"].to_numpy() == status)[:limit]
    file = df["__file"].astype(object).to_numpy()[m] if "__file" in df.columns else np.full(len(m), None)
    ids = {k: df[col].astype(object).to_numpy()[m] for k, col in (("o", spec.origin), ("d", spec.destination))}
    return pd.DataFrame({"file": file, "year": s["yr"].to_numpy()[m], "origin": ids["o"],
                         "destination": ids["d"], "count": s["c"].to_numpy()[m]})


def _frame_unknown(df: pd.DataFrame, spec: _Spec) -> pd.DataFrame:
    if spec.lookup is None:
        return pd.DataFrame({"id": pd.Series([], dtype=object)})
    vals = []
    for col in (spec.origin, spec.destination):
        s = df[col].dropna()
        k = pd.to_numeric(s).to_numpy(dtype=np.int64) if spec.kind == "int" else s.astype(str).to_numpy(dtype=object)
        vals.append(k[spec.lookup.codes(k, spec.kind) < 0])
    u = pd.unique(np.concatenate(vals)) if vals else np.array([])
    return pd.DataFrame({"id": pd.Series(u, dtype=np.int64 if spec.kind == "int" else object)})


def _raw_from_frame(g: pd.DataFrame, spec: _Spec) -> _Raw:
    if "key" in g.columns:  # packed keys (see _frame_aggregate)
        n_units = len(spec.lookup.units)
        key = g["key"].to_numpy(dtype=np.int64)
        status = np.where(key < 0, -key, np.where(key >= n_units * n_units, _ZERO, _OK)).astype(np.int8)
        pair = np.where(key < 0, 0, key % (n_units * n_units))
        return _Raw(year=g["yr"].to_numpy(dtype=np.int64), status=status, o=pair // n_units, d=pair % n_units,
                    count=g["c"].to_numpy(dtype=float), rows=g["n"].to_numpy(dtype=np.int64))
    return _Raw(year=g["yr"].to_numpy(dtype=np.int64), status=g["status"].to_numpy(dtype=np.int8),
                o=g["ok"].to_numpy(), d=g["dk"].to_numpy(), count=g["c"].to_numpy(dtype=float),
                rows=g["n"].to_numpy(dtype=np.int64))


#: Rows per Dask partition of Parquet input (whole row groups are grouped up to this).
PARQUET_PARTITION_ROWS = 4_000_000


def _csv_sep(path: str) -> str:
    """``;`` when the header has more semicolons than commas (Norwegian CSV), else ``,``."""
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        head = fh.readline()
    return ";" if head.count(";") > head.count(",") else ","


def _columns(spec: _Spec) -> list[str]:
    return [spec.origin, spec.destination, spec.value] + ([spec.year_column] if spec.year_column else [])


def _file_column(path: str, files: Sequence[str], n: int) -> pd.Categorical:
    """The source file of each row, as a categorical over all the files (1 byte per row)."""
    return pd.Categorical.from_codes(np.full(n, list(files).index(path), dtype=np.int32), categories=list(files))


def _read_parquet_piece(piece: tuple[str, tuple[int, ...] | None], use: list[str], year_column: str | None,
                        years: tuple[int, ...] | None, files: Sequence[str]) -> pd.DataFrame:
    """Row groups of one Parquet file as pandas; integer ids stay int64 even with nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path, groups = piece
    pf = pq.ParquetFile(path)
    t = pf.read(columns=use) if groups is None else pf.read_row_groups(list(groups), columns=use)
    if years is not None:
        t = t.filter(pc.is_in(t[year_column], value_set=pa.array(list(years), type=t.schema.field(year_column).type)))
    nullable = {pa.int8(): pd.Int64Dtype(), pa.int16(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.Int64Dtype(), pa.uint16(): pd.Int64Dtype(),
                pa.uint32(): pd.Int64Dtype(), pa.uint64(): pd.UInt64Dtype()}
    df = t.to_pandas(types_mapper=nullable.get)
    df["__file"] = _file_column(path, files, len(df))
    return df


def _read_csv_file(path: str, use: list[str], spec: _Spec) -> pd.DataFrame:
    df = pd.read_csv(path, usecols=use, sep=_csv_sep(path), dtype={spec.origin: str, spec.destination: str})
    if spec.years is not None:
        df = df[pd.to_numeric(df[spec.year_column]).isin(list(spec.years))]
    df["__file"] = _file_column(path, spec.files, len(df))
    return df


def _parquet_pieces(files: list[str], max_rows: int = PARQUET_PARTITION_ROWS) -> list[tuple[str, tuple[int, ...]]]:
    import pyarrow.parquet as pq

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


class _Pandas:
    """Everything in memory: the reference."""

    def __init__(self, spec: _Spec, *, memory_limit: int | None) -> None:
        self.spec = spec
        cols = {c: k for c, k in _schema(spec.files, spec.fmt).items() if c in _columns(spec)}
        rows, need = _estimate_rows_bytes(spec.files, spec.fmt, cols)
        need *= 6  # the table, status and key columns, the group-by (measured: 10^7 rows of 4 integer columns, 2.1 GB)
        budget = memory_limit if memory_limit is not None else _available_memory()
        if need > budget:
            src = f"{rows:,} rows" if rows is not None else f"{len(spec.files)} CSV file(s)"
            raise InputError(
                f"the OD input ({src} in {len(spec.files)} file(s)) needs ~{_fmt_bytes(need)} in memory with "
                f"engine='pandas', more than the {_fmt_bytes(budget)} "
                f"{'allowed by memory_limit' if memory_limit is not None else 'available'}: {_ADVICE}"
            )
        self._df: pd.DataFrame | None = None

    def frame(self) -> pd.DataFrame:
        if self._df is None:
            spec = self.spec
            use = _columns(spec)
            try:
                if spec.fmt == "parquet":
                    parts = [_read_parquet_piece((f, None), use, spec.year_column, spec.years, spec.files)
                             for f in spec.files]
                else:
                    parts = [_read_csv_file(f, use, spec) for f in spec.files]
            except MemoryError as e:  # pragma: no cover - depends on the machine
                raise InputError(f"engine='pandas' ran out of memory reading the OD files: {_ADVICE}") from e
            self._df = pd.concat(parts, ignore_index=True)
        return self._df

    def aggregate(self) -> _Raw:
        return _raw_from_frame(_frame_aggregate(self.frame(), self.spec), self.spec)

    def examples(self, status: int, limit: int = 10) -> pd.DataFrame:
        return _frame_examples(self.frame(), self.spec, status, limit)

    def unknown_ids(self, limit: int = 10) -> tuple[list[Any], int]:
        u = _frame_unknown(self.frame(), self.spec)["id"]
        return sorted(u.tolist())[:limit], len(u)

    def close(self) -> None:
        self._df = None


class _Dask:
    """Dask DataFrame: per-partition aggregation, then a distributed group-by."""

    def __init__(self, spec: _Spec, *, client: Any, threads: int | None, blocksize: str | int | None) -> None:
        import dask
        import dask.dataframe as dd

        self.dask, self.spec, self.client, self.threads = dask, spec, client, threads
        use = _columns(spec)
        if spec.fmt == "parquet":
            pieces = _parquet_pieces(spec.files)
            meta = _read_parquet_piece((spec.files[0], ()), use, spec.year_column, spec.years, spec.files)
            ddf = dd.from_map(_read_parquet_piece, pieces, args=(use, spec.year_column, spec.years, spec.files),
                              meta=meta,
                              label="read-od-parquet", enforce_metadata=False)
        else:
            seps = {_csv_sep(f) for f in spec.files}
            if len(seps) == 1:
                ddf = dd.read_csv(spec.files, usecols=use, sep=seps.pop(),
                                  dtype={spec.origin: str, spec.destination: str, spec.value: "float64"},
                                  include_path_column="__file", blocksize=blocksize or "64MB")
                if spec.years is not None:
                    ddf = ddf[ddf[spec.year_column].isin(list(spec.years))]
            else:  # files with different separators: one partition per file
                light = replace(spec, lookup=None)  # the readers need no lookup: keep the tasks small
                meta = _read_csv_file(spec.files[0], use, light).iloc[:0]
                ddf = dd.from_map(_read_csv_file, spec.files, args=(use, light), meta=meta, label="read-od-csv",
                                  enforce_metadata=False)
        self.ddf = ddf
        self.spec_d = dask.delayed(spec, pure=True)  # the lookup travels once per worker, not once per task

    def _compute(self, *objs: Any) -> tuple[Any, ...]:
        try:
            if self.client is not None:
                return tuple(self.client.compute(list(objs), sync=True))
            kw = {"num_workers": self.threads} if self.threads else {}
            return self.dask.compute(*objs, **kw)
        except MemoryError as e:
            raise InputError("dask ran out of memory: give the workers more memory, use smaller partitions "
                             "(blocksize=) or engine='duckdb' (out of core on one machine)") from e
        except Exception as e:
            if type(e).__name__ == "KilledWorker":
                raise InputError(
                    "dask workers died (usually out of memory) while aggregating the OD files: give the workers "
                    "more memory (LocalCluster(memory_limit=...)), use smaller partitions (blocksize=), or "
                    "engine='duckdb' (out of core on one machine)"
                ) from e
            raise

    def aggregate(self) -> _Raw:
        if self.spec.lookup is not None:
            keys = ["yr", "key"]
            cols = {"yr": np.int64, "key": np.int64}
        else:
            keys = ["yr", "status", "ok", "dk"]
            cols = {"yr": np.int64, "status": np.int8, "ok": object, "dk": object}
        meta = pd.DataFrame({k: pd.Series([], dtype=t) for k, t in {**cols, "c": float, "n": np.int64}.items()})
        parts = self.ddf.map_partitions(_frame_aggregate, self.spec_d, meta=meta)
        n_out = max(1, self.ddf.npartitions // 8)
        g = parts.groupby(keys, dropna=False, sort=False).agg({"c": "sum", "n": "sum"}, split_out=n_out).reset_index()
        (res,) = self._compute(g)
        return _raw_from_frame(res, self.spec)

    def examples(self, status: int, limit: int = 10) -> pd.DataFrame:
        meta = pd.DataFrame({"file": pd.Series([], dtype=object), "year": pd.Series([], dtype=np.int64),
                             "origin": pd.Series([], dtype=object), "destination": pd.Series([], dtype=object),
                             "count": pd.Series([], dtype=float)})
        (res,) = self._compute(self.ddf.map_partitions(_frame_examples, self.spec_d, status, limit, meta=meta))
        return res.head(limit)

    def unknown_ids(self, limit: int = 10) -> tuple[list[Any], int]:
        meta = pd.DataFrame({"id": pd.Series([], dtype=np.int64 if self.spec.kind == "int" else object)})
        (res,) = self._compute(self.ddf.map_partitions(_frame_unknown, self.spec_d, meta=meta))
        u = pd.unique(res["id"].to_numpy())
        return sorted(u.tolist())[:limit], len(u)

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- core
@dataclass
class _YearEdges:
    o: np.ndarray  # codes into units
    d: np.ndarray
    count: np.ndarray
    zero_o: np.ndarray  # codes of pairs whose rows all had zero counts (ids only)
    zero_d: np.ndarray
    account: RowAccount


def _show(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "missing"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return repr(v) if isinstance(v, str) else str(v)


def _examples_text(ex: pd.DataFrame) -> str:
    parts = []
    for r in ex.itertuples(index=False):
        f = f" in {os.path.basename(str(r.file))}" if r.file is not None and not pd.isna(r.file) else ""
        c = "missing" if pd.isna(r.count) else f"{float(r.count):g}"
        parts.append(f"({_show(r.origin)} -> {_show(r.destination)}: {c}{f})")
    return ", ".join(parts)


def _run_engine(
    spec: _Spec, *, engine: str, client: Any, memory_limit: int | None, threads: int | None,
    temp_directory: str | None, blocksize: Any, on_invalid: str, on_unknown: str,
) -> tuple[dict[int, _YearEdges], pd.Index]:
    if engine == "duckdb":
        eng: Any = _DuckDB(spec, memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    elif engine == "pandas":
        eng = _Pandas(spec, memory_limit=memory_limit)
    elif engine == "dask":
        eng = _Dask(spec, client=client, threads=threads, blocksize=blocksize)
    else:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    try:
        raw = eng.aggregate()
        bad_rows = {s: int(raw.rows[raw.status == s].sum()) for s in (_MISSING_ID, _MISSING_COUNT, _NEGATIVE, _UNKNOWN)}
        invalid = {s: n for s, n in bad_rows.items() if n and s != _UNKNOWN}
        messages = []
        if invalid:
            lines = []
            for s, n in invalid.items():
                lines.append(f"{n:,} row(s) with a {_REASONS[s]}, e.g. {_examples_text(eng.examples(s, 5))}")
            messages.append(("invalid", "; ".join(lines)))
        if bad_rows[_UNKNOWN]:
            ids, n_ids = eng.unknown_ids(10)
            shown = ", ".join(repr(i) for i in ids) + (f" and {n_ids - len(ids)} more" if n_ids > len(ids) else "")
            messages.append(("unknown", f"{bad_rows[_UNKNOWN]:,} row(s) name {n_ids:,} fine id(s) that are not in "
                                        f"the lookup: {shown}"))
    finally:
        eng.close()
    for what, text in messages:
        if (what == "invalid" and on_invalid == "raise") or (what == "unknown" and on_unknown == "raise"):
            fix = ("fix the rows or pass on_invalid='drop' to drop and count them" if what == "invalid" else
                   "add the fine ids to the lookup (or correct the codes), or pass on_unknown='drop' to drop and "
                   "count those rows")
            raise InputError(f"the OD table has {text}; {fix}")
    for what, text in messages:
        warnings.warn(f"dropped at your request (on_{what}='drop'): {text}", DroppedRowsWarning, stacklevel=3)

    # unit ids and codes
    used = (raw.status == _OK) | (raw.status == _ZERO)
    if spec.lookup is not None:
        units = spec.lookup.units
        o = raw.o[used].astype(np.int64)
        d = raw.d[used].astype(np.int64)
    else:
        raw_ids = pd.unique(np.concatenate([raw.o[used], raw.d[used]]))
        names = val.normalise_ids(pd.Index(raw_ids), name="OD ids")
        units = pd.Index(sorted(set(names)))
        pos = pd.Index(raw_ids)
        remap = units.get_indexer(names.to_numpy())
        o = remap[pos.get_indexer(raw.o[used])].astype(np.int64)
        d = remap[pos.get_indexer(raw.d[used])].astype(np.int64)
    yr, st, c = raw.year[used], raw.status[used], raw.count[used]
    out: dict[int, _YearEdges] = {}
    for y in np.unique(raw.year):
        m = yr == y
        pos_m = m & (st == _OK)
        zero_m = m & (st == _ZERO)
        # after id normalisation (no lookup) several raw pairs may be one unit pair: sum them
        oo, dd, cc = _sum_pairs(o[pos_m], d[pos_m], c[pos_m], len(units))
        rows_y = raw.rows[raw.year == y]
        status_y = raw.status[raw.year == y]
        dropped = {_REASONS[s]: int(rows_y[status_y == s].sum()) for s in
                   (_MISSING_ID, _MISSING_COUNT, _NEGATIVE, _UNKNOWN, _ZERO)}
        acc = RowAccount(table="commuting flows" + ("" if y == _NO_YEAR else f" {int(y)}"),
                         read=int(rows_y.sum()), dropped={k: v for k, v in dropped.items() if v})
        out[int(y)] = _YearEdges(o=oo, d=dd, count=cc, zero_o=o[zero_m], zero_d=d[zero_m], account=acc)
    return out, units


def _sum_pairs(o: np.ndarray, d: np.ndarray, c: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (o, d) pairs sorted by (o, d), counts summed."""
    if len(o) == 0:
        return o.astype(np.int64), d.astype(np.int64), c.astype(float)
    key = o.astype(np.int64) * n + d.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, c = key[order], c[order]
    first = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(first)
    sums = np.add.reduceat(c, starts)
    k = key[starts]
    return k // n, k % n, sums


def _standardised(o: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    tot = np.bincount(o, weights=c, minlength=n)
    return c / tot[o]


def _weights(
    e: _YearEdges, units: pd.Index, *, ids: pd.Index | None, min_share: float, top_k: int | None,
    include_diagonal: bool, year: int | None, notes: list[str], warn: bool = True,
) -> CommutingMatrix:
    """The conventions of :func:`geoattr.weights.commuting`, in numpy."""
    present = np.unique(np.concatenate([e.o, e.d, e.zero_o, e.zero_d]))
    if ids is None:
        all_ids = pd.Index(sorted(units[present]))
    else:
        all_ids = pd.Index(val.normalise_ids(pd.Index(ids), name="ids").to_numpy())
        unknown = set(units[present]) - set(all_ids)
        if unknown:
            raise InputError(
                f"{len(unknown)} id(s) in the flows are not among ids: {format_ids(unknown)}; "
                "harmonise the codes or add the units to ids"
            )
    n = len(all_ids)
    to_pos = np.full(len(units), -1, dtype=np.int64)
    to_pos[present] = all_ids.get_indexer(units[present])
    o, d, c = to_pos[e.o], to_pos[e.d], e.count.astype(float)
    if not include_diagonal:
        keep = o != d
        o, d, c = o[keep], d[keep], c[keep]
    w = _standardised(o, c, n)
    if min_share > 0:
        keep = w >= min_share
        o, d, c = o[keep], d[keep], c[keep]
        w = _standardised(o, c, n)
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(np.asarray(all_ids, dtype=object).astype(str), kind="stable")] = np.arange(n)
        order = np.lexsort((rank[d], -w, o))
        o, d, c = o[order], d[order], c[order]
        starts = np.r_[0, np.flatnonzero(o[1:] != o[:-1]) + 1] if len(o) else np.array([], dtype=np.int64)
        within = np.arange(len(o)) - np.repeat(starts, np.diff(np.r_[starts, len(o)]))
        keep = within < top_k
        o, d, c = o[keep], d[keep], c[keep]
        w = _standardised(o, c, n)
    m = sparse.csr_matrix((w, (o, d)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    iso = np.flatnonzero(np.diff(m.indptr) == 0)
    if len(iso) and warn:
        warnings.warn(
            f"{len(iso)} unit(s) have no commuting flows and are kept as isolates: {format_ids(all_ids[iso])}",
            IsolatesWarning,
            stacklevel=4,
        )
    opts = []
    if min_share > 0:
        opts.append(f"min_share={min_share}")
    if top_k is not None:
        opts.append(f"top_k={top_k}")
    if not include_diagonal:
        opts.append("diagonal excluded")
    if opts:
        notes = [*notes, "options (rows renormalised): " + ", ".join(opts)]
    return CommutingMatrix(matrix=m, ids=all_ids, year=year, account=e.account, notes=tuple(notes))


def _spec(
    paths: Any, *, origin: str, destination: str, value: str, year_column: str, years: Sequence[int] | None,
    year_required: bool, lookup: Any, lookup_columns: tuple[str, str],
) -> tuple[_Spec, bool]:
    """Resolve files, columns and the lookup; returns the spec and whether a year column is used."""
    files, fmt = _expand_paths(paths)
    schema = _schema(files, fmt)
    missing = [c for c in (origin, destination, value) if c not in schema]
    if missing:
        keyword = {origin: "origin", destination: "destination", value: "value"}
        raise InputError(
            f"the OD files lack column(s) {missing} (they have {sorted(schema)}); name the columns with "
            + ", ".join(f"{keyword[c]}='<column>'" for c in missing)
        )
    has_year = year_column in schema
    if years is not None and not has_year:
        raise InputError(f"year={list(years) if len(years) > 1 else years[0]} was given but the OD files have no "
                         f"{year_column!r} column; pass year_column= or leave out the year")
    if year_required and not has_year:
        raise InputError(f"the OD files have no {year_column!r} column; pass year_column=")
    kinds = {schema[origin], schema[destination]}
    if len(kinds) > 1:
        raise InputError(f"origin and destination ids have different types ({schema[origin]}, "
                         f"{schema[destination]}); store both as integers or both as text")
    kind = kinds.pop()
    if kind not in ("int", "str"):
        raise InputError(f"OD ids must be integer or text columns, not {kind}: cast {origin!r} and "
                         f"{destination!r} (ids stored as floats lose precision beyond 2^53)")
    if schema[value] not in ("int", "float", "str"):
        raise InputError(f"the count column {value!r} must be numeric, it is {schema[value]}")
    lut = None
    if lookup is not None:
        lut = _prepare_lookup(lookup, fine=lookup_columns[0], unit=lookup_columns[1], kind=kind)
    spec = _Spec(files=files, fmt=fmt, origin=origin, destination=destination, value=value,
                 year_column=year_column if has_year else None,
                 years=tuple(int(y) for y in years) if years is not None else None, kind=kind, lookup=lut)
    return spec, has_year


def _check_options(engine: str, on_invalid: str, on_unknown: str, as_graph: Any) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    for name, v in (("on_invalid", on_invalid), ("on_unknown", on_unknown)):
        if v not in ("raise", "drop"):
            raise ValueError(f"{name} must be 'raise' or 'drop', got {v!r}")
    if as_graph not in (True, False, "auto"):
        raise ValueError(f"as_graph must be True, False or 'auto', got {as_graph!r}")


def _notes(spec: _Spec, acc: RowAccount, n_pairs: int) -> list[str]:
    via = (f" through a lookup of {len(spec.lookup.fine):,} fine ids to {len(spec.lookup.units):,} units"
           if spec.lookup is not None else "")
    return [f"{acc.read:,} OD rows in {len(spec.files)} file(s) aggregated{via} to {n_pairs:,} unit pairs"]


def _finish(cm: CommutingMatrix, as_graph: bool | str, graph_max_edges: int) -> Any:
    size = cm.nnz + len(cm.isolates)
    if as_graph is True or (as_graph == "auto" and size <= graph_max_edges):
        return cm.to_graph(max_edges=graph_max_edges)
    return cm


def commuting_from_files(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    year: int | None = None,
    year_column: str = "year",
    lookup: pd.DataFrame | pd.Series | str | os.PathLike | None = None,
    lookup_columns: tuple[str, str] = ("fine", "unit"),
    ids: Sequence[str] | pd.Index | None = None,
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
    engine: Engine = "duckdb",
    client: Any = None,
    memory_limit: str | int | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    blocksize: str | int | None = None,
    on_invalid: Literal["raise", "drop"] = "raise",
    on_unknown: Literal["raise", "drop"] = "raise",
    as_graph: bool | Literal["auto"] = "auto",
    graph_max_edges: int = GRAPH_MAX_EDGES,
) -> Any:
    """Commuting weights ``w[i,j] = C[i,j] / sum_j C[i,j]`` from OD files of any size.

    Reads one or many Parquet or CSV files, maps fine zones to analysis units through
    ``lookup`` (optional), sums the counts per unit pair, and builds the weights with
    the conventions of :func:`geoattr.weights.commuting` (which it reproduces exactly
    on the aggregated table).

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files, globs (``"od/*.parquet"``, ``"od/**/*.parquet"``) or directories (every
        ``.parquet`` / ``.csv`` inside).  All Parquet or all CSV (``.csv.gz`` too; CSV
        ids are read as text so leading zeros stay).
    origin, destination, value : str
        Columns of the residence id, the workplace id and the count.  Rows of the same
        pair (in one file or across files) are summed.
    year : int, optional
        Year to use; required when the files hold several years (an error lists them).
    year_column : str, default "year"
        Year column (optional in the files).
    lookup : DataFrame, Series, path or None
        Fine id -> unit: a table with the two ``lookup_columns``, a Series indexed by
        fine id, or a Parquet/CSV file.  Fine ids are converted to the OD files' id type
        (integer or text) and matched exactly.  ``None``: the OD ids are the units.
    lookup_columns : (str, str), default ("fine", "unit")
    ids : sequence of str, optional
        All units (order of the result).  Flows naming other units are an error; units
        without flows become isolates (:class:`~geoattr.exceptions.IsolatesWarning`).
        Default: the units in the (used) flows, sorted.
    min_share, top_k, include_diagonal
        As in :func:`geoattr.weights.commuting`: drop shares below ``min_share``, keep
        the ``top_k`` largest destinations (ties: the id sorting first), drop the
        diagonal; rows are renormalised after each option.
    engine : {"duckdb", "dask", "pandas"}, default "duckdb"
        ``duckdb``: embedded, out of core.  ``dask``: Dask DataFrame on ``client`` (or
        the active distributed client, else threads).  ``pandas``: in memory (refused
        when the input is estimated larger than the memory available).
    client : distributed.Client, optional
        For ``engine="dask"``.
    memory_limit : str or int, optional
        ``"4GB"``, ``"512MiB"`` or bytes.  DuckDB's memory limit (default: DuckDB's,
        80 % of RAM); for ``pandas`` the budget the input is checked against (default:
        the memory available now).  Dask workers have their own limits.
    threads : int, optional
        DuckDB threads / Dask threaded-scheduler workers (default: all cores).
    temp_directory : str, optional
        Where DuckDB spills (default: a fresh directory under the system temp dir,
        removed afterwards; ``""`` disables spilling).
    blocksize : str or int, optional
        Dask partition size of CSV input (bytes, default ``"64MB"``); Parquet input is
        split into whole row groups of up to ``PARQUET_PARTITION_ROWS`` rows.
    on_invalid : {"raise", "drop"}, default "raise"
        Rows with a missing id or a missing (null/NaN) or negative count: raise an
        :class:`~geoattr.exceptions.InputError` naming examples, or drop them with a
        :class:`~geoattr.exceptions.DroppedRowsWarning` (counts in ``account``).
    on_unknown : {"raise", "drop"}, default "raise"
        Rows whose origin or destination fine id is not in ``lookup``: raise naming the
        ids, or drop with a warning.
    as_graph : bool or "auto", default "auto"
        ``True``: a libpysal ``Graph`` (error above ``graph_max_edges``); ``False``: a
        :class:`CommutingMatrix`; ``"auto"``: a Graph up to ``graph_max_edges`` entries,
        else a CommutingMatrix.
    graph_max_edges : int, default GRAPH_MAX_EDGES

    Returns
    -------
    libpysal.graph.Graph or CommutingMatrix
        Row-stochastic weights (rows with flows sum to 1).  The CommutingMatrix carries
        the row ``account`` (read, used, dropped by reason) and ``notes``.

    Raises
    ------
    InputError
        Files or columns missing, several years without ``year=``, invalid rows or
        unknown fine ids (by default), a lookup mapping a fine id to two units, input
        too large for ``engine="pandas"``, DuckDB out of memory, too many edges for
        ``as_graph=True`` (each message says what to do).

    Examples
    --------
    >>> W = commuting_from_files("od/*.parquet", lookup="blocks.parquet", year=2022,
    ...                          memory_limit="4GB", threads=2, as_graph=False)  # doctest: +SKIP
    >>> W.matrix, W.ids, W.account.to_dict()  # doctest: +SKIP
    """
    _check_options(engine, on_invalid, on_unknown, as_graph)
    spec, has_year = _spec(paths, origin=origin, destination=destination, value=value, year_column=year_column,
                           years=None if year is None else [int(year)], year_required=False, lookup=lookup,
                           lookup_columns=lookup_columns)
    by_year, units = _run_engine(spec, engine=engine, client=client, memory_limit=_parse_bytes(memory_limit),
                                 threads=threads, temp_directory=temp_directory, blocksize=blocksize,
                                 on_invalid=on_invalid, on_unknown=on_unknown)
    if has_year and year is None and len(by_year) > 1:
        raise InputError(f"the OD files hold several years {sorted(by_year)}; pass year= to choose one")
    if year is not None and int(year) not in by_year:
        raise InputError(f"year {year} is not in the OD files (no rows with {year_column} = {year})")
    if not by_year:
        raise InputError("the OD files hold no rows")
    (key, e), = by_year.items()
    yr = None if key == _NO_YEAR else key
    cm = _weights(e, units, ids=None if ids is None else pd.Index(ids), min_share=min_share, top_k=top_k,
                  include_diagonal=include_diagonal, year=yr, notes=_notes(spec, e.account, len(e.o)))
    return _finish(cm, as_graph, graph_max_edges)


def commuting_by_year_from_files(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    years: Iterable[int],
    *,
    fixed_year: int | None = None,
    year_column: str = "year",
    as_graph: bool | Literal["auto"] = "auto",
    graph_max_edges: int = GRAPH_MAX_EDGES,
    **options: Any,
) -> CommutingWeights:
    """Commuting weights for each requested year from OD files, in one pass over the data.

    As :func:`geoattr.weights.commuting_by_year`: each year uses its own matrix; a year
    without one uses the nearest year that has one (ties: the earlier), recorded in
    ``substitutions``; with ``fixed_year`` every year uses that one matrix.  Only the
    source years are read (one aggregation grouped by year).

    Parameters
    ----------
    paths : str, path-like or iterable of them
    years : iterable of int
    fixed_year : int, optional
    year_column : str, default "year"
    as_graph, graph_max_edges
        As in :func:`commuting_from_files` (per year).
    **options
        The other keywords of :func:`commuting_from_files` (``origin``, ``lookup``,
        ``engine``, ``min_share``, ...), except ``year``.

    Returns
    -------
    geoattr.weights.CommutingWeights
        Year -> Graph or CommutingMatrix, with ``substitutions``.
    """
    if "year" in options:
        raise TypeError("commuting_by_year_from_files takes years=, not year=")
    years = [int(y) for y in years]
    if not years:
        raise InputError("years is empty")
    engine = options.pop("engine", "duckdb")
    on_invalid = options.pop("on_invalid", "raise")
    on_unknown = options.pop("on_unknown", "raise")
    _check_options(engine, on_invalid, on_unknown, as_graph)
    run_kw = {k: options.pop(k, None) for k in ("client", "memory_limit", "threads", "temp_directory", "blocksize")}
    build_kw = {k: options.pop(k) for k in ("ids", "min_share", "top_k", "include_diagonal") if k in options}
    spec_kw = {k: options.pop(k) for k in ("origin", "destination", "value", "lookup", "lookup_columns")
               if k in options}
    if options:
        raise TypeError(f"unexpected keyword(s) {sorted(options)}")
    spec_kw.setdefault("origin", "origin")
    spec_kw.setdefault("destination", "destination")
    spec_kw.setdefault("value", "count")
    spec_kw.setdefault("lookup", None)
    spec_kw.setdefault("lookup_columns", ("fine", "unit"))
    # which years exist: a first cheap pass is avoided by aggregating every year once
    filt = None if fixed_year is None else [int(fixed_year)]
    spec, _ = _spec(paths, year_column=year_column, years=filt, year_required=True, **spec_kw)
    by_year, units = _run_engine(spec, engine=engine, client=run_kw["client"],
                                 memory_limit=_parse_bytes(run_kw["memory_limit"]), threads=run_kw["threads"],
                                 temp_directory=run_kw["temp_directory"], blocksize=run_kw["blocksize"],
                                 on_invalid=on_invalid, on_unknown=on_unknown)
    available = sorted(by_year)
    if not available:
        raise InputError("the OD files hold no rows" if fixed_year is None else
                         f"fixed_year {fixed_year} has no commuting matrix (no rows with {year_column} = {fixed_year})")
    if fixed_year is not None:
        source = {y: int(fixed_year) for y in years}
    else:
        arr = np.asarray(available)
        source = {y: int(arr[np.argmin(np.abs(arr - y))]) for y in years}
    ids = build_kw.pop("ids", None)
    built = {}
    for s in sorted(set(source.values())):
        e = by_year[s]
        cm = _weights(e, units, ids=None if ids is None else pd.Index(ids), year=s,
                      notes=_notes(spec, e.account, len(e.o)), min_share=build_kw.get("min_share", 0.0),
                      top_k=build_kw.get("top_k"), include_diagonal=build_kw.get("include_diagonal", True))
        built[s] = _finish(cm, as_graph, graph_max_edges)
    return CommutingWeights(graphs={y: built[s] for y, s in source.items()},
                            substitutions={y: s for y, s in source.items() if s != y})


def aggregate_od(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    years: Sequence[int] | None = None,
    year_column: str = "year",
    lookup: pd.DataFrame | pd.Series | str | os.PathLike | None = None,
    lookup_columns: tuple[str, str] = ("fine", "unit"),
    engine: Engine = "duckdb",
    client: Any = None,
    memory_limit: str | int | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    blocksize: str | int | None = None,
    on_invalid: Literal["raise", "drop"] = "raise",
    on_unknown: Literal["raise", "drop"] = "raise",
) -> AggregatedOD:
    """Sum a fine-level OD table to unit pairs (and years), out of core.

    The unit-level table is what the pandas tools take (``geoattr.weights.commuting``,
    ``labour_market_integration``, :class:`~geoattr.data.PanelData` ``flows``).  The
    parameters are those of :func:`commuting_from_files`; ``years`` filters years
    (default: all).  Pairs whose rows all have a zero count are kept with count 0.

    Returns
    -------
    AggregatedOD
        ``flows`` (``year`` if the files have a year column, ``origin``,
        ``destination``, ``count``) and ``accounts`` by year.
    """
    _check_options(engine, on_invalid, on_unknown, False)
    spec, has_year = _spec(paths, origin=origin, destination=destination, value=value, year_column=year_column,
                           years=years, year_required=False, lookup=lookup, lookup_columns=lookup_columns)
    by_year, units = _run_engine(spec, engine=engine, client=client, memory_limit=_parse_bytes(memory_limit),
                                 threads=threads, temp_directory=temp_directory, blocksize=blocksize,
                                 on_invalid=on_invalid, on_unknown=on_unknown)
    parts = []
    for y, e in sorted(by_year.items()):
        zo, zd, zc = _sum_pairs(e.zero_o, e.zero_d, np.zeros(len(e.zero_o)), len(units))
        o, d, c = _sum_pairs(np.r_[e.o, zo], np.r_[e.d, zd], np.r_[e.count, zc], len(units))
        df = pd.DataFrame({"origin": np.asarray(units, dtype=object)[o],
                           "destination": np.asarray(units, dtype=object)[d], "count": c})
        if has_year:
            df.insert(0, "year", y)
        parts.append(df)
    cols = (["year"] if has_year else []) + ["origin", "destination", "count"]
    flows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    accounts = {(None if y == _NO_YEAR else y): e.account for y, e in by_year.items()}
    return AggregatedOD(flows=flows, accounts=accounts)


# --------------------------------------------------------------------------- sparse VRA
def relative_job_growth_array(jobs: np.ndarray) -> np.ndarray:
    """Relative job growth ``RA`` of an ``N x T`` jobs array (consecutive years in columns).

    ``RA[i,t] = 100*(E[i,t]/E[i,t-1] - 1) - 100*(E[.,t]/E[.,t-1] - 1)`` with ``E[.,t]``
    the sum over units (NaN cells skipped, as :func:`geoattr.variables.relative_job_growth`);
    the first column is NaN.

    Parameters
    ----------
    jobs : numpy.ndarray
        Jobs by workplace, shape ``(N, T)``; not modified.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, T)``.
    """
    E = np.asarray(jobs, dtype=float)
    if E.ndim != 2:
        raise InputError(f"jobs must be an N x T array (units x consecutive years), got shape {E.shape}")
    out = np.full(E.shape, np.nan)
    if E.shape[1] < 2:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        local = 100.0 * (E[:, 1:] / E[:, :-1] - 1.0)
        tot = np.nansum(E, axis=0)
        tot[np.all(np.isnan(E), axis=0)] = np.nan
        national = 100.0 * (tot[1:] / tot[:-1] - 1.0)
    out[:, 1:] = local - national[None, :]
    return out


def vra_sparse(
    W: sparse.spmatrix | Sequence[sparse.spmatrix] | CommutingMatrix | Sequence[CommutingMatrix],
    jobs: np.ndarray,
    *,
    lags: Sequence[int] = (0, 1, 2),
    name: str = "vra",
) -> dict[str, np.ndarray]:
    """Commuting-weighted relative job growth ``VRA`` and its lags with sparse products.

    ``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]``: lag *k* uses the weights and the job
    growth of year *t-k* (MODEL.md), so ``VRA_lk[:, t] = VRA_l0[:, t-k]``.  One sparse
    matrix-vector product per year; memory ``O(nnz + N T)``, never ``N x N``.

    Parameters
    ----------
    W : CSR matrix, CommutingMatrix, or a sequence of T of them
        ``N x N`` commuting weights in the row order of ``jobs``: one matrix for every
        year, or one per column of ``jobs`` (year-specific weights).
    jobs : numpy.ndarray
        Jobs by workplace, ``N x T``, consecutive years in columns; not modified.
    lags : sequence of int, default (0, 1, 2)
    name : str, default "vra"
        Keys ``name``, ``name_l1``, ``name_l2``, ...

    Returns
    -------
    dict of str -> numpy.ndarray
        Each ``N x T``; columns whose year *t-k* has no relative growth (``t-k < 1``) are
        NaN.  Equal to :func:`geoattr.variables.weighted_growth` on the same data.
    """
    E = np.asarray(jobs, dtype=float)
    ra = relative_job_growth_array(E)
    N, T = ra.shape
    lags = [int(k) for k in lags]
    if any(k < 0 for k in lags):
        raise InputError(f"lags must be >= 0, got {lags}")

    def as_csr(m: Any) -> sparse.csr_matrix:
        m = m.matrix if isinstance(m, CommutingMatrix) else m
        if not sparse.issparse(m):
            raise InputError(f"W must be scipy.sparse matrices or CommutingMatrix, got {type(m).__name__}")
        if m.shape != (N, N):
            raise InputError(f"W is {m.shape[0]} x {m.shape[1]} but jobs has {N} units (rows)")
        return sparse.csr_matrix(m)

    if isinstance(W, CommutingMatrix) or sparse.issparse(W):
        base = as_csr(W) @ ra  # N x T at once; a NaN growth spreads to the rows weighting it, as in the Graph path
    else:
        Ws = list(W)
        if len(Ws) != T:
            raise InputError(f"{len(Ws)} weight matrices for {T} years (columns of jobs): pass one or T")
        base = np.column_stack([as_csr(Ws[t]) @ ra[:, t] for t in range(T)])
    out: dict[str, np.ndarray] = {}
    for k in lags:
        arr = np.full((N, T), np.nan)
        if k < T:
            arr[:, k:] = base[:, : T - k]
        out[name if k == 0 else f"{name}_l{k}"] = arr
    return out
