"""Commuting weights: the share of each origin's employed residents working in each destination.

:func:`commuting_shares` is the one routine (numpy) that turns unit-pair counts into
shares with the ``min_share`` / ``top_k`` thresholds and the diagonal rule; the in-memory
builder :func:`commuting` and the out-of-core :func:`geoattr.weights.commuting_from_files`
both call it.  :class:`CommutingWeights` holds the weights by year.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Generic

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from geoattr._format import format_ids
from geoattr.accounting import RowAccount
from geoattr.exceptions import InputError, IsolatesWarning
import geoattr._validation as val
from geoattr.weights.sparse import SparseWeights, WeightsT, row_shares

__all__ = ["commuting", "commuting_by_year", "CommutingWeights", "commuting_shares", "nearest_years",
           "without_diagonal"]


def _one_year(flows: pd.DataFrame, year: int | None, year_column: str) -> pd.DataFrame:
    """The rows of ``year`` (all rows for a table without a year column)."""
    if year_column in flows.columns:
        years = sorted(pd.unique(flows[year_column]))
        if year is None:
            if len(years) > 1:
                raise InputError(f"the flows hold several years {years}; pass year= to choose one")
            return flows
        if year not in years:
            raise InputError(f"year {year} is not in the flows; available years: {years}")
        return flows[flows[year_column] == year]
    if year is not None:
        raise InputError(f"year={year} was given but the flows have no {year_column!r} column")
    return flows


def _year_of(flows: pd.DataFrame, year: int | None, year_column: str) -> int | None:
    """The year the weights are of, for messages: ``year``, or the table's only year."""
    if year is not None or year_column not in flows.columns:
        return year
    years = pd.unique(flows[year_column])
    return int(years[0]) if len(years) == 1 else None


def _normalised_ids(ids: Sequence[str] | pd.Index) -> pd.Index:
    return pd.Index(val.normalise_ids(pd.Index(ids), name="ids").to_numpy())


def _unit_ids(units: pd.Index, present: np.ndarray, ids: Sequence[str] | pd.Index | None, *,
              normalised: bool = False) -> pd.Index:
    """The result's ids: ``ids`` (normalised, in their order) or the units present, sorted."""
    if ids is None:
        return pd.Index(sorted(units[present]))
    all_ids = pd.Index(ids) if normalised else _normalised_ids(ids)
    # sets of numpy object arrays: 10 times faster than iterating pandas' string Indexes
    unknown = set(np.asarray(units[present], dtype=object)) - set(np.asarray(all_ids, dtype=object))
    if unknown:
        raise InputError(
            f"{len(unknown)} id(s) in the flows are not among ids: {format_ids(unknown)}; "
            "harmonise the codes or add the units to ids"
        )
    return all_ids


def _keep_top_k(o: np.ndarray, d: np.ndarray, c: np.ndarray, w: np.ndarray, top_k: int,
                ids: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` largest shares of each origin (ties: the destination id that sorts first)."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    n = len(ids)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")] = np.arange(n)
    order = np.lexsort((rank[d], -w, o))
    o, d, c = o[order], d[order], c[order]
    starts = np.r_[0, np.flatnonzero(o[1:] != o[:-1]) + 1] if len(o) else np.array([], dtype=np.int64)
    within = np.arange(len(o)) - np.repeat(starts, np.diff(np.r_[starts, len(o)]))
    keep = within < top_k
    return o[keep], d[keep], c[keep]


def _options_note(min_share: float, top_k: int | None, include_diagonal: bool) -> list[str]:
    opts = ([f"min_share={min_share}"] * (min_share > 0) + [f"top_k={top_k}"] * (top_k is not None)
            + ["diagonal excluded"] * (not include_diagonal))
    return ["options (rows renormalised): " + ", ".join(opts)] if opts else []


def commuting_shares(
    o: np.ndarray, d: np.ndarray, count: np.ndarray, units: pd.Index, *, present: np.ndarray,
    ids: Sequence[str] | pd.Index | None = None, min_share: float = 0.0, top_k: int | None = None,
    include_diagonal: bool = True, year: int | None = None, account: RowAccount | None = None,
    notes: Sequence[str] = (), stacklevel: int = 2,
) -> SparseWeights:
    """Shares ``w[i,j] = C[i,j] / sum_j C[i,j]`` of unit-pair counts, with the options; in numpy.

    The one implementation of the commuting conventions: drop the diagonal
    (``include_diagonal=False``), standardise, drop shares below ``min_share`` and
    restandardise, keep the ``top_k`` largest (ties: the id sorting first) and
    restandardise.  Units without flows are isolates (empty rows, with an
    :class:`~geoattr.exceptions.IsolatesWarning`).

    Parameters
    ----------
    o, d : numpy.ndarray
        Origin and destination of each pair: positions in ``units`` (unique pairs).
    count : numpy.ndarray
        Positive counts of the pairs.
    units : pandas.Index
        Unit ids (str) the codes point into.
    present : numpy.ndarray
        Codes of every unit that occurs in the flows (zero-count pairs included).
    ids : sequence of str, optional
        All units, in the order of the result (flows naming other units are an error);
        default: the units present, sorted.
    min_share, top_k, include_diagonal
        As in :func:`commuting`.
    year, account, notes
        Carried to the result (``notes`` get the options).
    stacklevel : int, default 2
        Of the isolates warning, as in ``warnings.warn`` called here (2: the caller).

    Returns
    -------
    SparseWeights
    """
    return _shares(o, d, count, _unit_ids(units, present, ids), units, present, min_share=min_share, top_k=top_k,
                   include_diagonal=include_diagonal, year=year, account=account, notes=notes,
                   stacklevel=stacklevel + 1)


def _shares(o: np.ndarray, d: np.ndarray, count: np.ndarray, all_ids: pd.Index, units: pd.Index, present: np.ndarray,
            *, min_share: float, top_k: int | None, include_diagonal: bool, year: int | None,
            account: RowAccount | None, notes: Sequence[str], stacklevel: int) -> SparseWeights:
    """:func:`commuting_shares` once the result's ids are known."""
    n = len(all_ids)
    to_pos = np.full(len(units), -1, dtype=np.int64)
    to_pos[present] = all_ids.get_indexer(units[present])
    o, d, c = to_pos[o], to_pos[d], np.asarray(count, dtype=float)
    if not include_diagonal:
        keep = o != d
        o, d, c = o[keep], d[keep], c[keep]
    w = row_shares(o, c, n)
    if min_share > 0:
        keep = w >= min_share
        o, d, c = o[keep], d[keep], c[keep]
        w = row_shares(o, c, n)
    if top_k is not None:
        o, d, c = _keep_top_k(o, d, c, w, top_k, all_ids)
        w = row_shares(o, c, n)
    m = sparse.csr_matrix((w, (o, d)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    iso = np.flatnonzero(np.diff(m.indptr) == 0)
    if len(iso):
        when = f" in {year}" if year is not None else ""
        every = " (no unit has any: is that year's table empty or all zeros?)" if len(iso) == n else ""
        warnings.warn(f"{len(iso)} unit(s) have no commuting flows and are kept as isolates{when}{every}: "
                      f"{format_ids(sorted(all_ids[iso]))}", IsolatesWarning, stacklevel=stacklevel)
    return SparseWeights(matrix=m, ids=all_ids, year=year, account=account,
                         notes=(*notes, *_options_note(min_share, top_k, include_diagonal)))


def _check_rows(df: pd.DataFrame, keys: list[str]) -> None:
    """Check the ``origin, destination, count`` rows (unique by ``keys``); counts as float, ids normalised, in place."""
    val.require_no_missing(df, ["origin", "destination", "count"], table="flows")
    val.require_numeric(df, ["count"], table="flows")
    df["count"] = pd.to_numeric(df["count"]).astype(float)
    val.require_nonnegative(df, ["count"], table="flows")
    df["origin"] = val.normalise_ids(df["origin"], name="origin").to_numpy()
    df["destination"] = val.normalise_ids(df["destination"], name="destination").to_numpy()
    val.require_unique(df, keys, table="flows")


def commuting(
    flows: pd.DataFrame,
    *,
    year: int | None = None,
    ids: Sequence[str] | pd.Index | None = None,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    year_column: str = "year",
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
) -> Graph:
    """Commuting weights ``w[i,j] = C[i,j] / sum_j C[i,j]`` as a libpysal ``Graph``.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long origin-destination table (employed residents of origin working in
        destination; the diagonal is those who work where they live).
    year : int, optional
        Year to use; required when the table holds several years.
    ids : sequence of str, optional
        All units.  Flows naming other ids are an error; ids without flows become
        isolates (with an :class:`IsolatesWarning`).  Default: the ids in the flows.
    origin, destination, value, year_column : str
        Column names.
    min_share : float, default 0
        Drop shares below this value.
    top_k : int, optional
        Keep the ``k`` largest destinations of each origin (ties: the destination id
        that sorts first wins, so the result is deterministic).
    include_diagonal : bool, default True
        Keep the share working in the home unit.

    Returns
    -------
    libpysal.graph.Graph
        Row-stochastic (every row with flows sums to 1 after the options, which
        renormalise the rows), indexed by the unit ids.
    """
    val.require_columns(flows, [origin, destination, value], table="flows",
                        hint="name the columns with origin=, destination=, value=")
    df = _one_year(flows, year, year_column)
    df = pd.DataFrame({"origin": df[origin].to_numpy(), "destination": df[destination].to_numpy(),
                       "count": df[value].to_numpy()})
    _check_rows(df, ["origin", "destination"])
    units = pd.Index(pd.unique(np.concatenate([df["origin"].to_numpy(dtype=object),
                                               df["destination"].to_numpy(dtype=object)])))
    o, d = units.get_indexer(df["origin"]), units.get_indexer(df["destination"])
    c = df["count"].to_numpy(dtype=float)
    pos = c > 0
    shares = commuting_shares(o[pos], d[pos], c[pos], units, present=np.arange(len(units)),
                              ids=None if ids is None else pd.Index(ids), min_share=min_share, top_k=top_k,
                              include_diagonal=include_diagonal, stacklevel=3,
                              year=_year_of(flows, year, year_column))
    return shares.to_graph(max_edges=None)


@dataclass(frozen=True)
class CommutingWeights(Mapping[int, WeightsT], Generic[WeightsT]):
    """Commuting weights by year: a ``Mapping[int, Graph]`` (or of SparseWeights) with the substitutions.

    Returned by :func:`commuting_by_year` (Graphs) and
    :func:`geoattr.weights.commuting_by_year_from_files` (Graphs, or SparseWeights with
    ``as_graph=False``); read it as a dict: ``cw[2020]``, ``list(cw)``, ``cw.items()``.

    Attributes
    ----------
    graphs : dict[int, Graph or SparseWeights]
        Requested year -> weights (years that share a source matrix share the object).
    substitutions : dict[int, int]
        Requested year -> year whose matrix was used, for every year that did not
        get its own matrix.
    """

    graphs: dict[int, WeightsT]
    substitutions: dict[int, int] = field(default_factory=dict)

    def __getitem__(self, year: int) -> WeightsT:
        try:
            return self.graphs[year]
        except KeyError:
            raise KeyError(f"no commuting weights for {year}; built for {sorted(self.graphs)}") from None

    def __iter__(self) -> Iterator[int]:
        return iter(self.graphs)

    def __len__(self) -> int:
        return len(self.graphs)

    def source_year(self, year: int) -> int:
        """The year whose matrix is used for ``year``."""
        return self.substitutions.get(year, year)

    @classmethod
    def from_sources(cls, source: Mapping[int, int], built: Mapping[int, WeightsT]) -> CommutingWeights[WeightsT]:
        """Requested year -> source year, and the weights built for each source year."""
        return cls(graphs={y: built[s] for y, s in source.items()},
                   substitutions={y: s for y, s in source.items() if s != y})


def nearest_years(available: Sequence[int], years: Iterable[int]) -> dict[int, int]:
    """Each year -> the nearest available year (ties: the earlier; itself when available)."""
    arr = np.asarray(sorted(available))
    return {int(y): int(arr[np.argmin(np.abs(arr - int(y)))]) for y in years}  # argmin takes the first (earlier) tie


def commuting_by_year(
    flows: pd.DataFrame,
    years: Iterable[int],
    *,
    fixed_year: int | None = None,
    year_column: str = "year",
    built: MutableMapping[int, Graph | SparseWeights] | None = None,
    prepared: MutableMapping[tuple, object] | None = None,
    as_graph: bool = True,
    **commuting_options,
) -> CommutingWeights:
    """Commuting weights for each requested year.

    Each year uses its own matrix; a year without one uses the nearest year that has
    one (ties: the earlier), recorded in ``substitutions``.  With ``fixed_year`` every
    year uses that one matrix.  Each source matrix is built once.

    Parameters
    ----------
    flows : pandas.DataFrame
        Long table with a year column.
    years : iterable of int
    fixed_year : int, optional
    year_column : str, default "year"
    built : mutable mapping of int to Graph or SparseWeights, optional
        Source year -> the weights already built from these flows with these options
        and this ``as_graph``: they are reused, and the ones built here are added (a memo
        shared by calls that ask for different ranges of years).
    prepared : mutable mapping, optional
        A memo of these flows' rows checked and with normalised ids, shared by calls with
        other options (``min_share``, ``top_k``...); the weights are the same with or
        without it.
    as_graph : bool, default True
        Graphs; False: :class:`~geoattr.weights.SparseWeights` on the same ids (the same
        shares; from two source years on, without building the Graphs' pandas adjacency
        tables), as in :func:`geoattr.weights.commuting_by_year_from_files`.
    **commuting_options
        Passed to :func:`commuting` (``ids``, ``min_share``, ``top_k``, ``include_diagonal``,
        column names).

    Returns
    -------
    CommutingWeights
        Year -> Graph (SparseWeights with ``as_graph=False``), with ``substitutions``.
    """
    if not isinstance(as_graph, bool):
        raise ValueError(f"as_graph must be True (a libpysal Graph) or False (SparseWeights), got {as_graph!r}")
    if year_column not in flows.columns:
        raise InputError(f"the flows have no {year_column!r} column; pass year_column=")
    col = pd.Series(val.normalise_years(flows[year_column], name=f"the flows' {year_column!r} column",
                                        rows=flows.index))
    available = sorted(int(y) for y in pd.unique(col))
    if not available:
        raise InputError("the flows table is empty")
    years = [int(y) for y in val.normalise_years(pd.Series(list(years), dtype=object), name="years")]
    if fixed_year is not None:
        if fixed_year not in available:
            raise InputError(f"fixed_year {fixed_year} has no commuting matrix; available years: {available}")
        source = {y: fixed_year for y in years}
    else:
        source = nearest_years(available, years)
    memo: MutableMapping[int, Graph | SparseWeights] = {} if built is None else built
    todo = [s for s in sorted(set(source.values())) if s not in memo]
    memo.update(_commuting_years(flows, todo, year_column, commuting_options, prepared, as_graph=as_graph))
    for s in todo:
        if s not in memo:  # the one-year builder (and its error, if the rows are bad)
            g = commuting(flows, year=s, year_column=year_column, **commuting_options)
            memo[s] = g if as_graph else SparseWeights.from_graph(g)
    return CommutingWeights.from_sources(source, memo)


@dataclass(frozen=True)
class _Prepared:
    """Flows rows of some years, checked, with ids normalised: codes into ``units``, counts, years."""

    years: frozenset[int]
    units: pd.Index
    o: np.ndarray
    d: np.ndarray
    c: np.ndarray
    y: np.ndarray


def _prepare(flows: pd.DataFrame, years: Sequence[int] | None, year_column: str, origin: str, destination: str,
             value: str) -> _Prepared | None:
    """The checks and id normalisation of :func:`commuting` done once for the rows of ``years`` (None: all).

    None when a row fails a check (the per-year path then raises the usual error).
    """
    yr = flows[year_column].to_numpy()
    rows = np.ones(len(yr), dtype=bool) if years is None else np.isin(yr, years)
    df = pd.DataFrame({"year": yr[rows], "origin": flows[origin].to_numpy()[rows],
                       "destination": flows[destination].to_numpy()[rows], "count": flows[value].to_numpy()[rows]})
    try:
        _check_rows(df, ["year", "origin", "destination"])
    except InputError:
        return None
    units = pd.Index(pd.unique(np.concatenate([df["origin"].to_numpy(dtype=object),
                                               df["destination"].to_numpy(dtype=object)])))
    y = df["year"].to_numpy()
    return _Prepared(years=frozenset(int(v) for v in np.unique(y)), units=units,
                     o=units.get_indexer(df["origin"]), d=units.get_indexer(df["destination"]),
                     c=df["count"].to_numpy(dtype=float), y=y)


def _commuting_years(flows: pd.DataFrame, years: Sequence[int], year_column: str,
                     options: Mapping[str, object], prepared: MutableMapping[tuple, object] | None = None, *,
                     as_graph: bool = True) -> dict[int, Graph | SparseWeights]:
    """:func:`commuting` of each year, with the checks and id normalisation done once for all the years.

    The same weights as one :func:`commuting` call per year (the same rows in the same
    order reach :func:`commuting_shares`).  Returns ``{}`` when the rows fail a check or
    the year column is not integer, so that the caller's per-year calls raise their usual
    errors.  ``prepared`` memoises the checked rows of every year of these flows (the
    options do not change them).  ``as_graph=False``: the SparseWeights the Graphs are made of.
    """
    opts = dict(options)
    origin, destination = opts.pop("origin", "origin"), opts.pop("destination", "destination")
    value = opts.pop("value", "count")
    ids = opts.pop("ids", None)
    if len(years) < 2 or not set(opts) <= {"min_share", "top_k", "include_diagonal"} \
            or not pd.api.types.is_integer_dtype(flows[year_column].dtype) \
            or not {origin, destination, value} <= set(flows.columns):
        return {}
    p = None
    if prepared is not None:
        key = ("prepared", year_column, origin, destination, value)
        if key not in prepared:
            prepared[key] = _prepare(flows, None, year_column, origin, destination, value)
        p = prepared[key]
    if p is None or not set(years) <= p.years:
        p = _prepare(flows, years, year_column, origin, destination, value)
    if p is None:
        return {}
    given = None if ids is None else _normalised_ids(ids)
    out: dict[int, Graph | SparseWeights] = {}
    for y in years:
        sel = p.y == y
        o, d, c = p.o[sel], p.d[sel], p.c[sel]
        pos = c > 0
        present = np.unique(np.concatenate([o, d]))
        shares = _shares(o[pos], d[pos], c[pos], _unit_ids(p.units, present, given, normalised=True), p.units,
                         present, min_share=opts.get("min_share", 0.0), top_k=opts.get("top_k"),
                         include_diagonal=opts.get("include_diagonal", True), year=int(y), account=None, notes=(),
                         stacklevel=3)
        out[int(y)] = shares.to_graph(max_edges=None) if as_graph else shares
    return out


def without_diagonal(weights: WeightsT, *, renormalise: bool = True) -> WeightsT:
    """Drop self-weights (and renormalise rows): the W for spatial lags from commuting weights.

    A unit whose only weight was on itself becomes an isolate.  A Graph goes through
    libpysal's own ``assign_self_weight(0)``, ``eliminate_zeros()`` and ``transform("r")``;
    SparseWeights through :meth:`SparseWeights.without_diagonal`.

    Parameters
    ----------
    weights : Graph or SparseWeights
    renormalise : bool, default True
        Rows sum to 1 again (off-diagonal shares).

    Returns
    -------
    Graph or SparseWeights
        The same kind as ``weights``.
    """
    if isinstance(weights, SparseWeights):
        return weights.without_diagonal(renormalise=renormalise)
    off = weights.assign_self_weight(0).eliminate_zeros()
    return off.transform("r") if renormalise else off
