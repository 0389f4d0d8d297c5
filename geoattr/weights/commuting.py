"""Commuting weights: the share of each origin's employed residents working in each destination."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from geoattr._format import format_ids
from geoattr.exceptions import InputError, IsolatesWarning
import geoattr._validation as val

__all__ = ["commuting", "commuting_by_year", "CommutingWeights", "to_sparse", "without_diagonal"]


def _standardise(df: pd.DataFrame) -> pd.DataFrame:
    tot = df.groupby("origin")["count"].transform("sum")
    return df.assign(weight=df["count"] / tot)


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
    df = flows
    if year_column in flows.columns:
        years = sorted(pd.unique(flows[year_column]))
        if year is None:
            if len(years) > 1:
                raise InputError(f"the flows hold several years {years}; pass year= to choose one")
        else:
            if year not in years:
                raise InputError(f"year {year} is not in the flows; available years: {years}")
            df = flows[flows[year_column] == year]
    elif year is not None:
        raise InputError(f"year={year} was given but the flows have no {year_column!r} column")
    df = pd.DataFrame({"origin": df[origin].to_numpy(), "destination": df[destination].to_numpy(),
                       "count": df[value].to_numpy()})
    val.require_no_missing(df, ["origin", "destination", "count"], table="flows")
    val.require_numeric(df, ["count"], table="flows")
    df["count"] = pd.to_numeric(df["count"]).astype(float)
    val.require_nonnegative(df, ["count"], table="flows")
    df["origin"] = val.normalise_ids(df["origin"], name="origin").to_numpy()
    df["destination"] = val.normalise_ids(df["destination"], name="destination").to_numpy()
    val.require_unique(df, ["origin", "destination"], table="flows")
    if ids is None:
        all_ids = pd.Index(sorted(set(df["origin"].unique()) | set(df["destination"].unique())))
    else:
        all_ids = pd.Index(val.normalise_ids(pd.Index(ids), name="ids").to_numpy())
        unknown = (set(df["origin"].unique()) | set(df["destination"].unique())) - set(all_ids)
        if unknown:
            raise InputError(
                f"{len(unknown)} id(s) in the flows are not among ids: {format_ids(unknown)}; "
                "harmonise the codes or add the units to ids"
            )
    df = df[df["count"] > 0]
    if not include_diagonal:
        df = df[df["origin"] != df["destination"]]
    df = _standardise(df)
    if min_share > 0:
        df = _standardise(df[df["weight"] >= min_share].drop(columns="weight"))
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        df = df.sort_values(["origin", "weight", "destination"], ascending=[True, False, True], kind="mergesort")
        df = _standardise(df.groupby("origin", sort=False).head(top_k).drop(columns="weight"))
    isolates = sorted(set(all_ids) - set(df["origin"].unique()))
    if isolates:
        warnings.warn(
            f"{len(isolates)} unit(s) have no commuting flows and are kept as isolates: {format_ids(isolates)}",
            IsolatesWarning,
            stacklevel=2,
        )
    focal = np.concatenate([df["origin"].to_numpy(dtype=object), np.asarray(isolates, dtype=object)])
    neighbor = np.concatenate([df["destination"].to_numpy(dtype=object), np.asarray(isolates, dtype=object)])
    weight = np.concatenate([df["weight"].to_numpy(), np.zeros(len(isolates))])
    adj = pd.Series(weight, index=pd.MultiIndex.from_arrays([focal, neighbor], names=["focal", "neighbor"]),
                    name="weight")
    # order by the ids given, so unique_ids follows `ids`
    pos = pd.Series(np.arange(len(all_ids)), index=all_ids)
    order = np.lexsort((pos.reindex(neighbor).to_numpy(), pos.reindex(focal).to_numpy()))
    return Graph(adj.iloc[order], transformation="r", is_sorted=True)


@dataclass(frozen=True)
class CommutingWeights(Mapping[int, Graph]):
    """Commuting graphs by year, with the substitutions made for years without a matrix.

    Attributes
    ----------
    graphs : dict[int, Graph]
        Requested year -> graph (years that share a source matrix share the object).
    substitutions : dict[int, int]
        Requested year -> year whose matrix was used, for every year that did not
        get its own matrix.
    """

    graphs: dict[int, Graph]
    substitutions: dict[int, int] = field(default_factory=dict)

    def __getitem__(self, year: int) -> Graph:
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


def commuting_by_year(
    flows: pd.DataFrame,
    years: Iterable[int],
    *,
    fixed_year: int | None = None,
    year_column: str = "year",
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
    **commuting_options
        Passed to :func:`commuting` (``ids``, ``min_share``, ``top_k``, ``include_diagonal``,
        column names).
    """
    if year_column not in flows.columns:
        raise InputError(f"the flows have no {year_column!r} column; pass year_column=")
    available = sorted(int(y) for y in pd.unique(flows[year_column]))
    if not available:
        raise InputError("the flows table is empty")
    years = [int(y) for y in years]
    if fixed_year is not None:
        if fixed_year not in available:
            raise InputError(f"fixed_year {fixed_year} has no commuting matrix; available years: {available}")
        source = {y: fixed_year for y in years}
    else:
        arr = np.asarray(available)
        source = {y: int(arr[np.argmin(np.abs(arr - y))]) for y in years}  # argmin takes the first (earlier) tie
    built: dict[int, Graph] = {}
    for s in sorted(set(source.values())):
        built[s] = commuting(flows, year=s, year_column=year_column, **commuting_options)
    return CommutingWeights(graphs={y: built[s] for y, s in source.items()},
                            substitutions={y: s for y, s in source.items() if s != y})


def to_sparse(graph: Graph, ids: Sequence[str] | pd.Index) -> sparse.csr_matrix:
    """The graph's weights as a CSR matrix whose rows and columns follow ``ids``.

    Parameters
    ----------
    graph : Graph
    ids : sequence of str
        Must be the graph's ids (any order); error listing the differences otherwise.
    """
    if not isinstance(graph, Graph) and hasattr(graph, "to_sparse"):
        return graph.to_sparse(ids)  # a CommutingMatrix (geoattr.weights.large) is already CSR
    gids = pd.Index(graph.unique_ids)
    ids = pd.Index(ids)
    if not gids.equals(ids):
        if set(gids) != set(ids):
            only_g, only_i = set(gids) - set(ids), set(ids) - set(gids)
            raise InputError(
                f"the weights' ids differ from the data's: {len(only_g)} only in the weights ({format_ids(only_g)}), "
                f"{len(only_i)} only in the data ({format_ids(only_i)}); use geoattr.weights.align()"
            )
    # Built from the adjacency table, not Graph.sparse: libpysal sizes the columns of .sparse by the ids
    # that occur as neighbours, so a graph in which some unit is nobody's destination (commuting
    # without the diagonal) gave a non-square matrix.  Isolates' zero self-loops are dropped.
    adj = graph.adjacency
    rows = ids.get_indexer(adj.index.get_level_values("focal"))
    cols = ids.get_indexer(adj.index.get_level_values("neighbor"))
    m = sparse.csr_matrix((adj.to_numpy(dtype=float), (rows, cols)), shape=(len(ids), len(ids)))
    m.eliminate_zeros()
    m.sort_indices()
    return m


def without_diagonal(graph: Graph, *, renormalise: bool = True) -> Graph:
    """Drop self-weights (and renormalise rows): the W for spatial lags from commuting weights.

    A unit whose only weight was on itself becomes an isolate.
    """
    adj = graph.adjacency
    f = adj.index.get_level_values("focal")
    n = adj.index.get_level_values("neighbor")
    keep = (f != n) & (adj.to_numpy() > 0)
    off = adj[keep]
    if renormalise:
        off = off / off.groupby(level="focal").transform("sum")
    isolates = sorted(set(graph.unique_ids) - set(off.index.get_level_values("focal")))
    iso = pd.Series(0.0, index=pd.MultiIndex.from_arrays([isolates, isolates], names=["focal", "neighbor"]))
    full = pd.concat([off, iso]).rename("weight")
    pos = pd.Series(np.arange(len(graph.unique_ids)), index=graph.unique_ids)
    order = np.lexsort((pos.reindex(full.index.get_level_values("neighbor")).to_numpy(),
                        pos.reindex(full.index.get_level_values("focal")).to_numpy()))
    return Graph(full.iloc[order], transformation="r" if renormalise else graph.transformation, is_sorted=True)
