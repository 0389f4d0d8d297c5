"""What every OD engine shares: the row status codes, the resolved input (``ODSpec``) and an engine's output."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np

from geoattr.io.od.lookup import Lookup

__all__ = ["Engine", "ENGINES", "ENGINE_ADVICE", "Status", "REASONS", "NO_YEAR", "RawAggregate", "ODSpec",
           "od_columns"]

Engine = Literal["duckdb", "dask", "pandas"]
ENGINES: tuple[str, ...] = ("duckdb", "dask", "pandas")

class Status(IntEnum):
    """Status of an OD row in the aggregation; ``OK`` rows are used."""

    OK = 0
    MISSING_ID = 1
    MISSING_COUNT = 2
    NEGATIVE = 3
    UNKNOWN = 4
    ZERO = 5


#: Why a row is not used, by status (the keys of the row accounts' ``dropped``).
REASONS = {
    Status.MISSING_ID: "missing origin or destination id",
    Status.MISSING_COUNT: "missing count (null or NaN)",
    Status.NEGATIVE: "negative count",
    Status.UNKNOWN: "fine id not in the lookup",
    Status.ZERO: "zero count",
}
NO_YEAR = -(2**31)  # year key of a table without a year column

ENGINE_ADVICE = "use engine='duckdb' (single machine, out of core) or engine='dask' (cluster)"


@dataclass
class RawAggregate:
    """Engine output: one row per (year, status, origin key, destination key)."""

    year: np.ndarray  # int64 (NO_YEAR when no year column)
    status: np.ndarray  # int8
    o: np.ndarray  # int codes (lookup) or raw ids; arbitrary for status 1-4
    d: np.ndarray
    count: np.ndarray  # float64 sum of counts
    rows: np.ndarray  # int64 row counts


@dataclass(frozen=True)
class ODSpec:
    """The resolved OD input: files, format, column names, year filter, id kind and lookup."""

    files: list[str]
    fmt: str
    origin: str
    destination: str
    value: str
    year_column: str | None  # None: no year column used
    years: tuple[int, ...] | None  # filter (None: all)
    kind: str  # id kind of the OD files: "int" or "str"
    lookup: Lookup | None



def od_columns(spec: ODSpec) -> list[str]:
    """The columns an engine reads: origin, destination, value (and the year)."""
    return [spec.origin, spec.destination, spec.value] + ([spec.year_column] if spec.year_column else [])
