"""The Dask engine: per-partition aggregation, then a distributed group-by (for tables spread over a cluster).

``dask`` is an optional dependency (``pip install geoattr[dask]``), imported when the engine is built.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError
from geoattr.io.od.files import csv_sep, parquet_pieces
from geoattr.io.od.frames import (
    frame_aggregate,
    frame_examples,
    frame_unknown,
    raw_from_frame,
    read_csv_file,
    read_parquet_piece,
)
from geoattr.io.od.spec import ODSpec, RawAggregate, od_columns

__all__ = ["DaskEngine"]


class DaskEngine:
    """Dask DataFrame: per-partition aggregation, then a distributed group-by."""

    def __init__(self, spec: ODSpec, *, client: Any, threads: int | None, blocksize: str | int | None) -> None:
        try:
            import dask
            import dask.dataframe as dd
        except ImportError as e:
            raise ImportError("engine='dask' needs Dask: pip install 'geoattr[dask]' (or use engine='duckdb')") from e

        self.dask, self.spec, self.client, self.threads = dask, spec, client, threads
        use = od_columns(spec)
        if spec.fmt == "parquet":
            pieces = parquet_pieces(spec.files)
            meta = read_parquet_piece((spec.files[0], ()), use, spec.year_column, spec.years, spec.files)
            ddf = dd.from_map(read_parquet_piece, pieces, args=(use, spec.year_column, spec.years, spec.files),
                              meta=meta,
                              label="read-od-parquet", enforce_metadata=False)
        else:
            seps = {csv_sep(f) for f in spec.files}
            if len(seps) == 1:
                ddf = dd.read_csv(spec.files, usecols=use, sep=seps.pop(),
                                  dtype={spec.origin: str, spec.destination: str, spec.value: "float64"},
                                  include_path_column="__file", blocksize=blocksize or "64MB")
                if spec.years is not None:
                    ddf = ddf[ddf[spec.year_column].isin(list(spec.years))]
            else:  # files with different separators: one partition per file
                light = replace(spec, lookup=None)  # the readers need no lookup: keep the tasks small
                meta = read_csv_file(spec.files[0], use, light).iloc[:0]
                ddf = dd.from_map(read_csv_file, spec.files, args=(use, light), meta=meta, label="read-od-csv",
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

    def aggregate(self) -> RawAggregate:
        if self.spec.lookup is not None:
            keys = ["yr", "key"]
            cols = {"yr": np.int64, "key": np.int64}
        else:
            keys = ["yr", "status", "ok", "dk"]
            cols = {"yr": np.int64, "status": np.int8, "ok": object, "dk": object}
        meta = pd.DataFrame({k: pd.Series([], dtype=t) for k, t in {**cols, "c": float, "n": np.int64}.items()})
        parts = self.ddf.map_partitions(frame_aggregate, self.spec_d, meta=meta)
        n_out = max(1, self.ddf.npartitions // 8)
        g = parts.groupby(keys, dropna=False, sort=False).agg({"c": "sum", "n": "sum"}, split_out=n_out).reset_index()
        (res,) = self._compute(g)
        return raw_from_frame(res, self.spec)

    def examples(self, status: int, limit: int = 10) -> pd.DataFrame:
        meta = pd.DataFrame({"file": pd.Series([], dtype=object), "year": pd.Series([], dtype=np.int64),
                             "origin": pd.Series([], dtype=object), "destination": pd.Series([], dtype=object),
                             "count": pd.Series([], dtype=float)})
        (res,) = self._compute(self.ddf.map_partitions(frame_examples, self.spec_d, status, limit, meta=meta))
        return res.head(limit)

    def unknown_ids(self, limit: int = 10) -> tuple[list[Any], int]:
        meta = pd.DataFrame({"id": pd.Series([], dtype=np.int64 if self.spec.kind == "int" else object)})
        (res,) = self._compute(self.ddf.map_partitions(frame_unknown, self.spec_d, meta=meta))
        u = pd.unique(res["id"].to_numpy())
        return sorted(u.tolist())[:limit], len(u)

    def close(self) -> None:
        pass


