"""The DuckDB engine: embedded, single machine, out of core (spills to ``temp_directory``).

``duckdb`` is imported when the engine is built, so that the other engines work without it.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geoattr.exceptions import InputError
from geoattr.io.od.lookup import map_ids
from geoattr.io.od.memory import format_bytes
from geoattr.io.od.spec import NO_YEAR, ODSpec, RawAggregate, Status

__all__ = ["DuckDBEngine"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _duckdb_source(spec: ODSpec) -> str:
    files = "[" + ", ".join(_sql_str(f) for f in spec.files) + "]"
    if spec.fmt == "parquet":
        return f"read_parquet({files}, union_by_name = true, filename = true)"
    types = {spec.origin: "VARCHAR", spec.destination: "VARCHAR", spec.value: "DOUBLE"}
    if spec.year_column:
        types[spec.year_column] = "BIGINT"
    tsql = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in types.items()) + "}"
    return f"read_csv({files}, header = true, union_by_name = true, filename = true, types = {tsql})"


def _duckdb_rows(spec: ODSpec) -> str:
    """SQL of (yr, o, d, c, filename) for every row of the selected years."""
    yr = f"CAST({_q(spec.year_column)} AS BIGINT)" if spec.year_column else f"CAST({NO_YEAR} AS BIGINT)"
    where = ""
    if spec.years is not None:
        where = f"WHERE {_q(spec.year_column)} IN ({', '.join(str(int(y)) for y in spec.years)})"
    return (f"SELECT {yr} AS yr, {_q(spec.origin)} AS o, {_q(spec.destination)} AS d, "
            f"CAST({_q(spec.value)} AS DOUBLE) AS c, filename FROM {_duckdb_source(spec)} {where}")


def _duckdb_base(spec: ODSpec) -> str:
    """SQL of (yr, o, d, c, filename, oc, dc) for every row of the selected years (oc, dc: unit codes)."""
    src = _duckdb_rows(spec)
    if spec.lookup is None:
        return f"SELECT yr, o, d, c, filename, 0 AS oc, 0 AS dc FROM ({src})"
    return (f"SELECT s.yr, s.o, s.d, s.c, s.filename, lo.code AS oc, ld.code AS dc FROM ({src}) s "
            "LEFT JOIN lut lo ON s.o = lo.fine LEFT JOIN lut ld ON s.d = ld.fine")


def _status_sql(missing: str, unknown: str) -> str:
    return (f"CASE WHEN {missing} THEN {Status.MISSING_ID} "
            f"WHEN c IS NULL OR isnan(c) THEN {Status.MISSING_COUNT} WHEN c < 0 THEN {Status.NEGATIVE} "
            f"WHEN {unknown} THEN {Status.UNKNOWN} WHEN c = 0 THEN {Status.ZERO} ELSE {Status.OK} END")


_STATUS_SQL = _status_sql("o IS NULL OR d IS NULL", "oc IS NULL OR dc IS NULL")
#: status of the stream mapped in numpy (codes: -2 missing id, -1 not in the lookup)
_STATUS_SQL_MAPPED = _status_sql("oc = -2 OR dc = -2", "oc = -1 OR dc = -1")

#: Rows per Arrow batch of the numpy-mapped DuckDB path.
_BATCH_ROWS = 1 << 20



class DuckDBEngine:
    """Aggregates the OD files with SQL on an in-memory DuckDB connection (closed by :meth:`close`)."""

    def __init__(self, spec: ODSpec, *, memory_limit: int | None, threads: int | None,
                 temp_directory: str | None) -> None:
        try:
            import duckdb
        except ImportError as e:  # pragma: no cover - duckdb is installed with geoattr
            raise ImportError("engine='duckdb' needs the duckdb package: pip install duckdb "
                              "(or use engine='pandas' / engine='dask')") from e

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
            lim = "DuckDB's default (80% of RAM)" if self.memory_limit is None else format_bytes(self.memory_limit)
            raise InputError(
                f"DuckDB ran out of memory (memory_limit={lim}): raise memory_limit=, lower threads= (each thread "
                "holds its own buffers), make sure temp_directory= has free disk to spill to, or use engine='dask' "
                f"on a cluster. DuckDB said: {str(e).splitlines()[0]}"
            ) from e
        except (self.duckdb.ConversionException, self.duckdb.InvalidInputException) as e:
            raise InputError(f"the OD files could not be read as (origin, destination, count): "
                             f"{str(e).splitlines()[0]}; check the column types") from e

    def aggregate(self) -> RawAggregate:
        dense = self.spec.lookup.dense(self.spec.kind) if self.spec.lookup is not None else None
        if dense is not None:
            # Integer fine ids in a compact range: map them with a numpy array on the Arrow stream
            # DuckDB reads, and let DuckDB aggregate the mapped stream (a hash join against a
            # 10^7-row lookup costs ~2x more).
            arr, base = dense
            reader = self.con.cursor().sql(f"SELECT yr, o, d, c FROM ({_duckdb_rows(self.spec)})").to_arrow_reader(
                _BATCH_ROWS)
            schema = pa.schema([("yr", pa.int64()), ("oc", pa.int32()), ("dc", pa.int32()), ("c", pa.float64())])

            def mapped() -> Any:
                for b in reader:
                    yield pa.RecordBatch.from_arrays(
                        [b.column(0), pa.array(map_ids(b.column(1), arr, base)),
                         pa.array(map_ids(b.column(2), arr, base)), b.column(3)], schema=schema)

            self.con.register("od_mapped", pa.RecordBatchReader.from_batches(schema, mapped()))
            source, status = "od_mapped", _STATUS_SQL_MAPPED
        else:
            source, status = f"({_duckdb_base(self.spec)})", _STATUS_SQL
        ko, kd = ("oc", "dc") if self.spec.lookup is not None else ("o", "d")
        sql = (f"SELECT yr, status, sum(c) AS c, count(*) AS n, "
               f"CASE WHEN status IN ({Status.OK}, {Status.ZERO}) THEN {ko} END AS ok, "
               f"CASE WHEN status IN ({Status.OK}, {Status.ZERO}) THEN {kd} END AS dk "
               f"FROM (SELECT *, {status} AS status FROM {source}) "
               "GROUP BY yr, status, ok, dk")
        t = self._run(sql)
        def keys(col: Any) -> np.ndarray:  # nulls (rows not used) filled, so integer ids stay integers
            col = col.combine_chunks() if hasattr(col, "combine_chunks") else col
            fill = "" if (self.spec.lookup is None and self.spec.kind == "str") else 0
            return pc.fill_null(col, fill).to_numpy(zero_copy_only=False)

        return RawAggregate(year=t["yr"].to_numpy(), status=t["status"].to_numpy().astype(np.int8),
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


