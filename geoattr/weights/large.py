"""Commuting weights from origin-destination tables larger than memory.

The pandas builder :func:`geoattr.weights.commuting` needs the whole origin-destination
(OD) table in memory.  :func:`commuting_from_files` sums the OD files to unit pairs out of
core (DuckDB, Dask or pandas: :mod:`geoattr.io.od`) and builds the same weights with the
same numpy routine (:func:`geoattr.weights.commuting.commuting_shares`), so every engine
gives the matrix of the pandas builder run on the aggregated table (the tests pin this to
1e-12).

The result is a libpysal ``Graph`` (``as_graph=True``, the default, up to
``graph_max_edges`` stored entries) or :class:`~geoattr.weights.SparseWeights`
(``as_graph=False``, any size): the return type follows that one parameter, never the
data.  SparseWeights are accepted wherever geoattr takes weights, so weights building and
estimation stay sparse end to end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from libpysal.graph import Graph

from geoattr.exceptions import InputError
from geoattr.io.od import NO_YEAR, Engine, ODYears, read_od
from geoattr.weights.commuting import CommutingWeights, commuting_shares, nearest_years
from geoattr.weights.sparse import GRAPH_MAX_EDGES, SparseWeights

__all__ = ["commuting_from_files", "commuting_by_year_from_files", "GRAPH_MAX_EDGES"]

Paths = str | os.PathLike | Iterable[str | os.PathLike]
Lookupish = pd.DataFrame | pd.Series | str | os.PathLike | None


def _check_as_graph(as_graph: bool) -> None:
    if not isinstance(as_graph, bool):
        raise ValueError(f"as_graph must be True (a libpysal Graph) or False (SparseWeights), got {as_graph!r}")


def _year_weights(od: ODYears, year: int, *, ids: Sequence[str] | pd.Index | None, min_share: float,
                  top_k: int | None, include_diagonal: bool, as_graph: bool,
                  graph_max_edges: int) -> Graph | SparseWeights:
    """One year's weights from the aggregated pairs (the conventions of :func:`geoattr.weights.commuting`)."""
    e = od.edges[year]
    present = np.unique(np.concatenate([e.o, e.d, e.zero_o, e.zero_d]))
    sw = commuting_shares(e.o, e.d, e.count, od.units, present=present, ids=None if ids is None else pd.Index(ids),
                          min_share=min_share, top_k=top_k, include_diagonal=include_diagonal,
                          year=None if year == NO_YEAR else year, account=e.account, notes=od.notes(year),
                          stacklevel=4)
    return sw.to_graph(max_edges=graph_max_edges) if as_graph else sw


@overload
def commuting_from_files(paths: Paths, *, as_graph: Literal[True] = ..., **options: Any) -> Graph: ...


@overload
def commuting_from_files(paths: Paths, *, as_graph: Literal[False], **options: Any) -> SparseWeights: ...


def commuting_from_files(
    paths: Paths,
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    year: int | None = None,
    year_column: str = "year",
    lookup: Lookupish = None,
    lookup_columns: tuple[str, str] = ("fine", "unit"),
    ids: Sequence[str] | pd.Index | None = None,
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
    engine: Engine = "duckdb", client: Any = None, memory_limit: str | int | None = None,
    threads: int | None = None, temp_directory: str | None = None, blocksize: str | int | None = None,
    on_invalid: Literal["raise", "drop"] = "raise", on_unknown: Literal["raise", "drop"] = "raise",
    as_graph: bool = True,
    graph_max_edges: int = GRAPH_MAX_EDGES,
) -> Graph | SparseWeights:
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
    as_graph : bool, default True
        ``True``: a libpysal ``Graph``, refused (an error saying to pass
        ``as_graph=False``) above ``graph_max_edges`` stored entries; ``False``:
        :class:`~geoattr.weights.SparseWeights` (scipy CSR + ids), for any size.
    graph_max_edges : int, default GRAPH_MAX_EDGES
        The size limit of ``as_graph=True`` (edges plus isolates).

    Returns
    -------
    libpysal.graph.Graph or SparseWeights
        A Graph when ``as_graph`` (the default), SparseWeights otherwise.  Row-stochastic
        weights (rows with flows sum to 1).  SparseWeights carry the row ``account``
        (read, used, dropped by reason) and ``notes``.

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
    _check_as_graph(as_graph)
    od = read_od(paths, origin=origin, destination=destination, value=value, year_column=year_column,
                 years=None if year is None else [int(year)], lookup=lookup, lookup_columns=lookup_columns,
                 engine=engine, client=client, memory_limit=memory_limit, threads=threads,
                 temp_directory=temp_directory, blocksize=blocksize, on_invalid=on_invalid, on_unknown=on_unknown)
    if od.has_year and year is None and len(od.edges) > 1:
        raise InputError(f"the OD files hold several years {sorted(od.edges)}; pass year= to choose one")
    if year is not None and int(year) not in od.edges:
        raise InputError(f"year {year} is not in the OD files (no rows with {year_column} = {year})")
    if not od.edges:
        raise InputError("the OD files hold no rows")
    (key,) = od.edges
    return _year_weights(od, key, ids=ids, min_share=min_share, top_k=top_k, include_diagonal=include_diagonal,
                         as_graph=as_graph, graph_max_edges=graph_max_edges)


_BUILD = ("ids", "min_share", "top_k", "include_diagonal")
_READ = ("origin", "destination", "value", "lookup", "lookup_columns", "engine", "client", "memory_limit", "threads",
         "temp_directory", "blocksize", "on_invalid", "on_unknown")


def commuting_by_year_from_files(
    paths: Paths,
    years: Iterable[int],
    *,
    fixed_year: int | None = None,
    year_column: str = "year",
    as_graph: bool = True,
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
        Year -> Graph (SparseWeights with ``as_graph=False``), with ``substitutions``.
    """
    if "year" in options:
        raise TypeError("commuting_by_year_from_files takes years=, not year=")
    unexpected = sorted(set(options) - set(_BUILD) - set(_READ))
    if unexpected:
        raise TypeError(f"unexpected keyword(s) {unexpected}")
    _check_as_graph(as_graph)
    years = [int(y) for y in years]
    if not years:
        raise InputError("years is empty")
    od = read_od(paths, year_column=year_column, years=None if fixed_year is None else [int(fixed_year)],
                 year_required=True, **{k: v for k, v in options.items() if k in _READ})
    if not od.edges:
        raise InputError("the OD files hold no rows" if fixed_year is None else
                         f"fixed_year {fixed_year} has no commuting matrix (no rows with {year_column} = {fixed_year})")
    source = {y: int(fixed_year) for y in years} if fixed_year is not None else nearest_years(sorted(od.edges), years)
    build = {k: v for k, v in options.items() if k in _BUILD}
    built = {s: _year_weights(od, s, ids=build.get("ids"), min_share=build.get("min_share", 0.0),
                              top_k=build.get("top_k"), include_diagonal=build.get("include_diagonal", True),
                              as_graph=as_graph, graph_max_edges=graph_max_edges)
             for s in sorted(set(source.values()))}
    return CommutingWeights.from_sources(source, built)
