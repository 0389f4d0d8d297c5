"""Fine-level OD files summed to unit pairs by year, with the row accounting, on any engine.

Every engine only *aggregates*: (year, origin unit, destination unit) sums of the valid rows
plus row counts by reason for the invalid ones.  Nothing is dropped silently: rows with a
missing id, a missing (NULL/NaN) or a negative count, or a fine id that is not in the lookup
raise an :class:`~geoattr.exceptions.InputError` naming examples (ids, files) by default;
``on_invalid="drop"`` / ``on_unknown="drop"`` drop them with a
:class:`~geoattr.exceptions.DroppedRowsWarning` and the counts go to the year's
:class:`~geoattr.accounting.RowAccount`.  Zero counts are counted there too; they change no
share.  The weights built from the sums are in :mod:`geoattr.weights.large`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr.accounting import RowAccount
from geoattr.exceptions import DroppedRowsWarning, InputError
import geoattr._validation as val
from geoattr.io.od.dask_engine import DaskEngine
from geoattr.io.od.duckdb_engine import DuckDBEngine
from geoattr.io.od.files import expand_paths, read_schema
from geoattr.io.od.lookup import prepare_lookup
from geoattr.io.od.memory import parse_bytes
from geoattr.io.od.pandas_engine import PandasEngine
from geoattr.io.od.spec import ENGINES, NO_YEAR, REASONS, Engine, ODSpec, RawAggregate, Status

__all__ = ["AggregatedOD", "YearEdges", "ODYears", "read_od", "build_spec", "check_options", "sum_pairs",
           "aggregate_od"]

Paths = str | os.PathLike | Iterable[str | os.PathLike]
Lookupish = pd.DataFrame | pd.Series | str | os.PathLike | None


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


@dataclass
class YearEdges:
    """One year's unit pairs: codes into the units, summed counts, zero-count pairs and the row account."""

    o: np.ndarray  # codes into units
    d: np.ndarray
    count: np.ndarray
    zero_o: np.ndarray  # codes of pairs whose rows all had zero counts (ids only)
    zero_d: np.ndarray
    account: RowAccount


@dataclass(frozen=True)
class ODYears:
    """The OD files aggregated by year (``NO_YEAR`` is the key of files without a year column).

    Attributes
    ----------
    edges : dict[int, YearEdges]
    units : pandas.Index
        Unit ids (str); the codes in ``edges`` are positions in it.
    spec : ODSpec
    has_year : bool
        The files have a year column.
    """

    edges: dict[int, YearEdges]
    units: pd.Index
    spec: ODSpec
    has_year: bool

    def notes(self, year: int) -> list[str]:
        """What was aggregated for ``year`` (rows, files, lookup, unit pairs), for reports."""
        e, spec = self.edges[year], self.spec
        via = (f" through a lookup of {len(spec.lookup.fine):,} fine ids to {len(spec.lookup.units):,} units"
               if spec.lookup is not None else "")
        return [f"{e.account.read:,} OD rows in {len(spec.files)} file(s) aggregated{via} to {len(e.o):,} unit pairs"]


def check_options(engine: str, on_invalid: str, on_unknown: str) -> None:
    """ValueError for an unknown engine or an ``on_invalid`` / ``on_unknown`` other than raise / drop."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    for name, v in (("on_invalid", on_invalid), ("on_unknown", on_unknown)):
        if v not in ("raise", "drop"):
            raise ValueError(f"{name} must be 'raise' or 'drop', got {v!r}")


def build_spec(
    paths: Paths, *, origin: str, destination: str, value: str, year_column: str, years: Sequence[int] | None,
    year_required: bool, lookup: Lookupish, lookup_columns: tuple[str, str],
) -> tuple[ODSpec, bool]:
    """Resolve files, columns and the lookup; returns the spec and whether a year column is used."""
    files, fmt = expand_paths(paths)
    schema = read_schema(files, fmt)
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
        lut = prepare_lookup(lookup, fine=lookup_columns[0], unit=lookup_columns[1], kind=kind)
    spec = ODSpec(files=files, fmt=fmt, origin=origin, destination=destination, value=value,
                  year_column=year_column if has_year else None,
                  years=tuple(int(y) for y in years) if years is not None else None, kind=kind, lookup=lut)
    return spec, has_year


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


def _make_engine(spec: ODSpec, *, engine: str, client: Any, memory_limit: int | None, threads: int | None,
                 temp_directory: str | None, blocksize: Any) -> Any:
    if engine == "duckdb":
        return DuckDBEngine(spec, memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    if engine == "pandas":
        return PandasEngine(spec, memory_limit=memory_limit)
    if engine == "dask":
        return DaskEngine(spec, client=client, threads=threads, blocksize=blocksize)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def _problems(raw: RawAggregate, eng: Any) -> list[tuple[str, str]]:
    """("invalid" | "unknown", text naming examples) for the rows that cannot be used."""
    bad_rows = {s: int(raw.rows[raw.status == s].sum())
                for s in (Status.MISSING_ID, Status.MISSING_COUNT, Status.NEGATIVE, Status.UNKNOWN)}
    invalid = {s: n for s, n in bad_rows.items() if n and s != Status.UNKNOWN}
    messages = []
    if invalid:
        lines = [f"{n:,} row(s) with a {REASONS[s]}, e.g. {_examples_text(eng.examples(s, 5))}"
                 for s, n in invalid.items()]
        messages.append(("invalid", "; ".join(lines)))
    if bad_rows[Status.UNKNOWN]:
        ids, n_ids = eng.unknown_ids(10)
        shown = ", ".join(repr(i) for i in ids) + (f" and {n_ids - len(ids)} more" if n_ids > len(ids) else "")
        messages.append(("unknown", f"{bad_rows[Status.UNKNOWN]:,} row(s) name {n_ids:,} fine id(s) that are not in "
                                    f"the lookup: {shown}"))
    return messages


def _raise_or_warn(messages: list[tuple[str, str]], on_invalid: str, on_unknown: str) -> None:
    for what, text in messages:
        if (what == "invalid" and on_invalid == "raise") or (what == "unknown" and on_unknown == "raise"):
            fix = ("fix the rows or pass on_invalid='drop' to drop and count them" if what == "invalid" else
                   "add the fine ids to the lookup (or correct the codes), or pass on_unknown='drop' to drop and "
                   "count those rows")
            raise InputError(f"the OD table has {text}; {fix}")
    for what, text in messages:
        warnings.warn(f"dropped at your request (on_{what}='drop'): {text}", DroppedRowsWarning, stacklevel=5)


def _unit_codes(raw: RawAggregate, spec: ODSpec, used: np.ndarray) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The unit ids and the (origin, destination) unit codes of the used rows."""
    if spec.lookup is not None:
        return spec.lookup.units, raw.o[used].astype(np.int64), raw.d[used].astype(np.int64)
    raw_ids = pd.unique(np.concatenate([raw.o[used], raw.d[used]]))
    names = val.normalise_ids(pd.Index(raw_ids), name="OD ids")
    units = pd.Index(sorted(set(names)))
    pos = pd.Index(raw_ids)
    remap = units.get_indexer(names.to_numpy())
    return (units, remap[pos.get_indexer(raw.o[used])].astype(np.int64),
            remap[pos.get_indexer(raw.d[used])].astype(np.int64))


def _year_edges(raw: RawAggregate, spec: ODSpec) -> tuple[dict[int, YearEdges], pd.Index]:
    used = (raw.status == Status.OK) | (raw.status == Status.ZERO)
    units, o, d = _unit_codes(raw, spec, used)
    yr, st, c = raw.year[used], raw.status[used], raw.count[used]
    out: dict[int, YearEdges] = {}
    for y in np.unique(raw.year):
        m = yr == y
        pos_m = m & (st == Status.OK)
        zero_m = m & (st == Status.ZERO)
        # after id normalisation (no lookup) several raw pairs may be one unit pair: sum them
        oo, dd, cc = sum_pairs(o[pos_m], d[pos_m], c[pos_m], len(units))
        rows_y = raw.rows[raw.year == y]
        status_y = raw.status[raw.year == y]
        dropped = {REASONS[s]: int(rows_y[status_y == s].sum()) for s in
                   (Status.MISSING_ID, Status.MISSING_COUNT, Status.NEGATIVE, Status.UNKNOWN, Status.ZERO)}
        acc = RowAccount(table="commuting flows" + ("" if y == NO_YEAR else f" {int(y)}"),
                         read=int(rows_y.sum()), dropped={k: v for k, v in dropped.items() if v})
        out[int(y)] = YearEdges(o=oo, d=dd, count=cc, zero_o=o[zero_m], zero_d=d[zero_m], account=acc)
    return out, units


def sum_pairs(o: np.ndarray, d: np.ndarray, c: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def read_od(
    paths: Paths, *, origin: str = "origin", destination: str = "destination", value: str = "count",
    years: Sequence[int] | None = None, year_column: str = "year", year_required: bool = False,
    lookup: Lookupish = None, lookup_columns: tuple[str, str] = ("fine", "unit"), engine: Engine = "duckdb",
    client: Any = None, memory_limit: str | int | None = None, threads: int | None = None,
    temp_directory: str | None = None, blocksize: str | int | None = None,
    on_invalid: Literal["raise", "drop"] = "raise", on_unknown: Literal["raise", "drop"] = "raise",
) -> ODYears:
    """Aggregate the OD files to unit pairs by year on one engine (the parameters of :func:`aggregate_od`).

    Invalid rows and unknown fine ids raise (naming examples) or are dropped with a
    :class:`~geoattr.exceptions.DroppedRowsWarning`, as ``on_invalid`` / ``on_unknown`` say.
    """
    check_options(engine, on_invalid, on_unknown)
    spec, has_year = build_spec(paths, origin=origin, destination=destination, value=value, year_column=year_column,
                                years=years, year_required=year_required, lookup=lookup,
                                lookup_columns=lookup_columns)
    eng = _make_engine(spec, engine=engine, client=client, memory_limit=parse_bytes(memory_limit), threads=threads,
                       temp_directory=temp_directory, blocksize=blocksize)
    try:
        raw = eng.aggregate()
        messages = _problems(raw, eng)
    finally:
        eng.close()
    _raise_or_warn(messages, on_invalid, on_unknown)
    edges, units = _year_edges(raw, spec)
    return ODYears(edges=edges, units=units, spec=spec, has_year=has_year)


def aggregate_od(
    paths: Paths,
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    years: Sequence[int] | None = None,
    year_column: str = "year",
    lookup: Lookupish = None,
    lookup_columns: tuple[str, str] = ("fine", "unit"),
    engine: Engine = "duckdb", client: Any = None, memory_limit: str | int | None = None,
    threads: int | None = None, temp_directory: str | None = None, blocksize: str | int | None = None,
    on_invalid: Literal["raise", "drop"] = "raise", on_unknown: Literal["raise", "drop"] = "raise",
) -> AggregatedOD:
    """Sum a fine-level OD table to unit pairs (and years), out of core.

    The unit-level table is what the pandas tools take (``geoattr.weights.commuting``,
    ``labour_market_integration``, :class:`~geoattr.data.PanelData` ``flows``).  The
    parameters are those of :func:`geoattr.weights.commuting_from_files`; ``years``
    filters years (default: all).  Pairs whose rows all have a zero count are kept with
    count 0.

    Returns
    -------
    AggregatedOD
        ``flows`` (``year`` if the files have a year column, ``origin``,
        ``destination``, ``count``) and ``accounts`` by year.
    """
    od = read_od(paths, origin=origin, destination=destination, value=value, years=years, year_column=year_column,
                 lookup=lookup, lookup_columns=lookup_columns, engine=engine, client=client,
                 memory_limit=memory_limit, threads=threads, temp_directory=temp_directory, blocksize=blocksize,
                 on_invalid=on_invalid, on_unknown=on_unknown)
    units = np.asarray(od.units, dtype=object)
    parts = []
    for y, e in sorted(od.edges.items()):
        zo, zd, zc = sum_pairs(e.zero_o, e.zero_d, np.zeros(len(e.zero_o)), len(units))
        o, d, c = sum_pairs(np.r_[e.o, zo], np.r_[e.d, zd], np.r_[e.count, zc], len(units))
        df = pd.DataFrame({"origin": units[o], "destination": units[d], "count": c})
        if od.has_year:
            df.insert(0, "year", y)
        parts.append(df)
    cols = (["year"] if od.has_year else []) + ["origin", "destination", "count"]
    flows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    accounts = {(None if y == NO_YEAR else y): e.account for y, e in od.edges.items()}
    return AggregatedOD(flows=flows, accounts=accounts)
