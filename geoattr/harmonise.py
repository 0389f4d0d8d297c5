"""Recode municipality codes between boundary vintages with a crosswalk.

Municipal codes change with reforms (Norway: 426 codes in 2017, 422 in 2018-2019, 356
in 2020-2023, 357 from 2024).  A :class:`Crosswalk` says, for every year, which
*target* unit (a municipality of one fixed vintage, e.g. 2024) each code valid in that
year belongs to, with a weight: 1 for a code that lies wholly inside one target unit,
shares below 1 for a code that was later split between several.

Two targets are offered:

``target="stable"`` (default, merge-only)
    *Stable units* are the connected components of the bipartite graph that links every
    code of the years involved, as a ``(year, code)`` node, to its target unit(s).  A
    code split between targets glues those targets together, so every stable unit is a
    union of target units that is also a union of codes in each year: its territory is
    the same in every year and harmonising only ever *merges* (sums) whole codes.  On
    the Norwegian crosswalk the years 2017-2024 give 353 stable units.
``target="target"``
    The crosswalk's own target units (the 2024 municipalities).  Codes that were split
    are shared out by the crosswalk weights: counts are multiplied by the weight.  The
    Norwegian weights are *equal* shares, not population shares, so such values are
    flagged (``split_weighted``) and listed in the report as ``kind="split"``.

Stable unit ids
    The ids of the target units in the component, sorted and joined with ``"+"``:
    ``"0301"`` for a unit that is one 2024 municipality, ``"1508+1580"`` for Ålesund
    and Haram together.  The id is deterministic (it depends only on the members, not on
    row order) and never collides with a single target code that covers less territory.
    Stable units can never be finer than the target units: the crosswalk only knows
    which target unit a code lies in.

Aggregation rules (MODEL.md conventions): counts (``population, jobs, net_migration,
births, deaths, employed_residents`` and any ``sum_columns``) are summed; rate-like
``mean_columns`` are averaged with the weights ``crosswalk weight x weight_column``
(population by default).  A missing value in any piece makes the merged value missing
(nothing is summed over a hole).  Nothing is dropped silently: codes unknown to the
crosswalk and units only partly covered by the data raise :class:`InputError` unless
the caller asks to keep them, and then they are listed in the report.

Examples
--------
>>> import pandas as pd
>>> cw = Crosswalk.from_frame(pd.DataFrame({
...     "year": [2019, 2019, 2019, 2019, 2020],
...     "kommunenummer": ["0101", "0102", "0103", "0103", "0201"],
...     "kommunenummer_2024": ["0201", "0201", "0301", "0302", "0201"],
...     "weighting": [1.0, 1.0, 0.5, 0.5, 1.0]}))
>>> cw.stable_units([2019, 2020]).to_dict()
{'0101': '0201', '0102': '0201', '0103': '0301+0302', '0201': '0201'}
>>> panel = pd.DataFrame(
...     {"population": [100, 50, 80]},
...     index=pd.MultiIndex.from_tuples([("0101", 2019), ("0102", 2019), ("0103", 2019)],
...                                     names=["unit", "year"]))
>>> res = harmonise_panel(panel, cw, target="target")
>>> res.panel["population"].to_dict()
{('0201', 2019): 150.0, ('0301', 2019): 40.0, ('0302', 2019): 40.0}
>>> res.report[["source", "target", "weight", "kind"]]
  source target  weight   kind
0   0101   0201     1.0  merge
1   0102   0201     1.0  merge
2   0103   0301     0.5  split
3   0103   0302     0.5  split
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.exceptions import InputError
from geoattr.io import validation as val

__all__ = [
    "Crosswalk",
    "HarmonisedPanel",
    "HarmonisedFlows",
    "harmonise_panel",
    "harmonise_flows",
    "DEFAULT_SUM_COLUMNS",
    "STABLE_ID_SEPARATOR",
]

#: Panel columns summed when codes are merged (those present in the panel).
DEFAULT_SUM_COLUMNS: tuple[str, ...] = (
    "population",
    "jobs",
    "net_migration",
    "births",
    "deaths",
    "employed_residents",
)
#: Joins the target ids of a stable unit made of several target units: ``"1508+1580"``.
STABLE_ID_SEPARATOR = "+"
#: Tolerance on "the weights of a (year, source code) sum to 1".
WEIGHT_SUM_TOLERANCE = 1e-6
#: Columns of the report (``harmonisation.csv``).
REPORT_COLUMNS = ["year", "source", "target", "weight", "kind", "code_year"]
#: How many offending items an error message lists.
_LIMIT = 10

Target = Literal["stable", "target"]
OnUnknown = Literal["raise", "keep"]
OnIncomplete = Literal["raise", "keep"]
YearsOfCodes = int | Mapping[int, int] | None


# --------------------------------------------------------------------------- helpers
def _pairs(items: Iterable[tuple], limit: int = _LIMIT) -> str:
    """``('0101', 2019), ('0102', 2019) and 3 more`` (items in the given order)."""
    items = list(items)
    shown = ", ".join(
        "(" + ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in it) + ")"
        for it in items[:limit]
    )
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def _check_choice(value: object, name: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InputError(f"{name} must be one of {list(choices)}; {value!r} was given instead")


def _string_ids(values: pd.Index | pd.Series, *, name: str) -> pd.Series:
    """Ids as object-dtype strings; integer ids are refused (they have lost leading zeros)."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind not in ("string", "empty"):
        example = list(pd.Series(values).dropna().iloc[:3])
        raise InputError(
            f"{name} must be strings with their leading zeros ('0301'); got {kind} values "
            f"like {example}. Convert them, e.g. .astype(str).str.zfill(4), or read the file "
            "with dtype=str"
        )
    return val.normalise_ids(values, name=name)


def _int_years(values: pd.Series | pd.Index, *, name: str) -> np.ndarray:
    s = pd.Series(values)
    if s.isna().any():
        raise InputError(
            f"{name} has {int(s.isna().sum())} missing year(s); every row needs a year"
        )
    if pd.api.types.is_integer_dtype(s):
        return s.to_numpy(dtype=np.int64)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | (num != np.round(num))
    if bad.any():
        raise InputError(f"{name} must be whole years; got values like {list(s[bad].iloc[:3])}")
    return num.to_numpy().astype(np.int64)


def _code_years(years: pd.Series, years_of_codes: YearsOfCodes) -> pd.Series:
    """Return the year whose code system each row's code belongs to."""
    if years_of_codes is None:
        return years.astype(np.int64)
    if isinstance(years_of_codes, Mapping):
        mapped = years.map(lambda y: years_of_codes.get(int(y), y))
        return pd.Series(_int_years(mapped, name="years_of_codes values"), index=years.index)
    if isinstance(years_of_codes, (bool, np.bool_)) or not isinstance(
        years_of_codes, (int, np.integer)
    ):
        raise InputError(
            "years_of_codes must be None (each row's codes are those of its own year), a year "
            "such as 2017, or a mapping {data year: code year}; "
            f"{years_of_codes!r} was given instead"
        )
    return pd.Series(int(years_of_codes), index=years.index, dtype=np.int64)


# --------------------------------------------------------------------------- crosswalk
def _validate_crosswalk_table(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"Crosswalk.table must be a pandas DataFrame, {type(table).__name__} was given instead"
        )
    val.require_columns(
        table,
        ["year", "source", "target", "weight"],
        table="crosswalk",
        hint="build it with Crosswalk.from_frame(df, year=, source=, target=, weight=)",
    )
    out = table[["year", "source", "target", "weight"]].reset_index(drop=True)
    out = out.assign(
        year=_int_years(out["year"], name="crosswalk column 'year'"),
        source=_string_ids(out["source"], name="crosswalk column 'source'").to_numpy(),
        target=_string_ids(out["target"], name="crosswalk column 'target'").to_numpy(),
    )
    val.require_numeric(out, ["weight"], table="crosswalk")
    out["weight"] = pd.to_numeric(out["weight"]).astype(float)
    val.require_no_missing(out, ["weight"], table="crosswalk")
    neg = out[out["weight"] < 0]
    if len(neg):
        raise InputError(
            f"crosswalk has {len(neg)} negative weight(s): (year, source, target, weight) "
            f"{_pairs(neg.itertuples(index=False, name=None))}. Weights are the shares of a "
            "source code going to each target: fix them"
        )
    zero = out[out["weight"] == 0]
    if len(zero):
        raise InputError(
            f"crosswalk has {len(zero)} zero weight(s): (year, source, target) "
            f"{_pairs(zero[['year', 'source', 'target']].itertuples(index=False, name=None))}. "
            "A zero share links nothing: remove these rows"
        )
    dup = out.duplicated(["year", "source", "target"], keep=False)
    if dup.any():
        keys = list(
            dict.fromkeys(
                out.loc[dup, ["year", "source", "target"]].itertuples(index=False, name=None)
            )
        )
        raise InputError(
            f"crosswalk has {len(keys)} duplicate (year, source, target) row(s) over "
            f"{int(dup.sum())} rows: {_pairs(keys)}. Keep one row per key (drop_duplicates) "
            "or add their weights up"
        )
    sums = out.groupby(["year", "source"], sort=True)["weight"].sum()
    bad = sums[(sums - 1.0).abs() > WEIGHT_SUM_TOLERANCE]
    if len(bad):
        items = [f"{code!r} in {year} sums to {w:.6g}" for (year, code), w in bad.items()]
        shown = "; ".join(items[:_LIMIT]) + (
            f" and {len(items) - _LIMIT} more" if len(items) > _LIMIT else ""
        )
        raise InputError(
            f"crosswalk weights must sum to 1 for each (year, source code); {len(bad)} do not: "
            f"{shown}. The shares of a code split between targets must add up to 1: "
            "fix the weights"
        )
    return out.sort_values(["year", "source", "target"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Crosswalk:
    """Which target unit(s) each code valid in a year belongs to, with shares.

    Parameters
    ----------
    table : DataFrame
        Columns ``year`` (int), ``source`` (code valid in ``year``, str), ``target``
        (target unit, str) and ``weight`` (share of the source going to the target,
        in (0, 1]; the weights of one ``(year, source)`` sum to 1).  Validated and
        copied on construction; use :meth:`from_frame` to read other column names.

    Raises
    ------
    InputError
        Missing columns or ids, negative or zero weights, duplicate
        ``(year, source, target)`` rows, weights not summing to 1 per
        ``(year, source)`` (the message names the codes and years).
    """

    table: pd.DataFrame

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _validate_crosswalk_table(self.table))

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        year: str = "year",
        source: str = "kommunenummer",
        target: str = "kommunenummer_2024",
        weight: str = "weighting",
        id_width: int | None = 4,
    ) -> "Crosswalk":
        """Build a crosswalk from a table such as SSB/csdata's ``kommune_to_2024_by_year.csv``.

        Parameters
        ----------
        df : DataFrame
            The crosswalk table; not modified.
        year, source, target, weight : str
            Its column names.
        id_width : int or None, default 4
            Zero-pad codes to this width (``301 -> "0301"``), for tables whose codes
            were read as numbers; ``None`` keeps them as they are.

        Returns
        -------
        Crosswalk

        Examples
        --------
        >>> cw = Crosswalk.from_frame(pd.DataFrame({"year": [2020], "kommunenummer": [301],
        ...                                         "kommunenummer_2024": [301], "weighting": [1]}))
        >>> cw.table.values.tolist()
        [[2020, '0301', '0301', 1.0]]
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, {type(df).__name__} was given instead")
        cols = {"year": year, "source": source, "target": target, "weight": weight}
        val.require_columns(
            df,
            list(cols.values()),
            table="crosswalk",
            hint="name the columns with year=, source=, target=, weight=",
        )
        out = pd.DataFrame({k: df[v].to_numpy() for k, v in cols.items()})
        for k in ("source", "target"):
            out[k] = val.normalise_ids(
                out[k], name=f"crosswalk column {cols[k]!r}", width=id_width
            ).to_numpy()
        return cls(out)

    # ---------------------------------------------------------------- queries
    @property
    def years(self) -> list[int]:
        """The years the crosswalk has codes for."""
        return sorted(int(y) for y in self.table["year"].unique())

    def __repr__(self) -> str:
        n_split = (
            self.table.loc[self.table["weight"] < 1, ["year", "source"]].drop_duplicates().shape[0]
        )
        ys = self.years
        span = f"{ys[0]}-{ys[-1]}" if ys else "none"
        return (
            f"Crosswalk(years {span}, {len(self.table)} rows, "
            f"{self.table['target'].nunique()} targets, {n_split} split (year, code) pairs)"
        )

    def _require_years(self, years: Iterable[int], *, what: str = "year(s)") -> list[int]:
        ys = sorted({int(y) for y in years})
        if not ys:
            raise InputError(
                "no years given: pass the years whose codes are involved, e.g. range(2017, 2025)"
            )
        have = set(self.years)
        missing = [y for y in ys if y not in have]
        if missing:
            span = f"{self.years[0]}-{self.years[-1]}" if have else "no years"
            raise InputError(
                f"the crosswalk has no codes for {what} {format_ids(missing)} (it covers {span}); "
                "use a crosswalk that covers them, or read the codes in another year's code system "
                "with years_of_codes="
            )
        return ys

    def for_year(self, year: int) -> pd.DataFrame:
        """Return the rows of the codes valid in ``year``: columns ``source, target, weight``.

        Raises
        ------
        InputError
            If the crosswalk has no rows for ``year``.
        """
        (y,) = self._require_years([year])
        return self.table.loc[self.table["year"] == y, ["source", "target", "weight"]].reset_index(
            drop=True
        )

    def _stable_assignment(self, years: Iterable[int]) -> pd.DataFrame:
        """One row per ``(year, source)`` of ``years``: columns year, source, unit (stable id)."""
        ys = self._require_years(years)
        sub = self.table[self.table["year"].isin(ys)]
        src = sub.groupby(["year", "source"], sort=True).ngroup().to_numpy()
        tgt_codes, tgt_uniques = pd.factorize(sub["target"], sort=True)
        n_src, n_tgt = int(src.max()) + 1, len(tgt_uniques)
        # sparse bipartite adjacency: (year, source) nodes first, target nodes after
        adj = sparse.coo_matrix(
            (np.ones(len(sub)), (src, n_src + tgt_codes)), shape=(n_src + n_tgt, n_src + n_tgt)
        )
        _, labels = connected_components(adj, directed=False)
        tgt_label = pd.Series(labels[n_src:], index=pd.Index(tgt_uniques, dtype=object))
        comp_id = tgt_label.groupby(tgt_label.to_numpy()).apply(
            lambda s: STABLE_ID_SEPARATOR.join(sorted(s.index))
        )
        out = sub[["year", "source"]].assign(unit=comp_id.reindex(labels[src]).to_numpy())
        return out.drop_duplicates(["year", "source"]).reset_index(drop=True)

    def stable_units(self, years: Iterable[int], *, by_year: bool = False) -> pd.Series:
        """Map every code valid in any of ``years`` to its stable unit.

        Stable units are the connected components of the bipartite graph linking each
        ``(year, code)`` of ``years`` to its target unit(s); their ids are the sorted
        target ids joined with ``"+"`` (a single target keeps its own id).

        Parameters
        ----------
        years : iterable of int
            The years whose codes must be comparable, e.g. ``range(2017, 2025)``.
        by_year : bool, default False
            Index the result by ``(year, code)`` instead of by code.

        Returns
        -------
        Series
            Stable unit id (str) indexed by ``code`` (or ``year, code``), sorted.

        Raises
        ------
        InputError
            A year absent from the crosswalk; with ``by_year=False``, a code that
            belongs to different stable units in different years (use ``by_year=True``).

        Examples
        --------
        >>> cw = Crosswalk(pd.DataFrame({"year": [2019, 2019, 2019], "source": ["A", "B", "B"],
        ...                              "target": ["C", "C", "D"], "weight": [1, 0.5, 0.5]}))
        >>> cw.stable_units([2019]).to_dict()
        {'A': 'C+D', 'B': 'C+D'}
        """
        a = self._stable_assignment(years)
        if by_year:
            return pd.Series(
                a["unit"].to_numpy(dtype=object),
                name="stable_unit",
                index=pd.MultiIndex.from_frame(a[["year", "source"]], names=["year", "code"]),
            )
        per_code = a.drop_duplicates(["source", "unit"])
        amb = per_code[per_code.duplicated("source", keep=False)]
        if len(amb):
            codes = sorted(amb["source"].unique())
            raise InputError(
                f"{len(codes)} code(s) belong to different stable units in different years: "
                f"{format_ids(codes)}; a code was reused for another territory. "
                "Use stable_units(years, by_year=True)"
            )
        s = per_code.set_index("source")["unit"].sort_index()
        s.index = pd.Index(s.index.to_numpy(dtype=object), name="code")
        return pd.Series(s.to_numpy(dtype=object), index=s.index, name="stable_unit")

    def stable_targets(self, years: Iterable[int]) -> pd.Series:
        """Map every target unit reached from ``years`` to its stable unit.

        Use it to build stable-unit geometries from target-vintage polygons, e.g.
        ``polygons_2024.dissolve(by=cw.stable_targets(range(2017, 2025)))``.

        Returns
        -------
        Series
            Stable unit id indexed by ``target``, sorted.
        """
        ys = self._require_years(years)
        targets = sorted(self.table.loc[self.table["year"].isin(ys), "target"].unique())
        ids = pd.Series({t: t for t in targets}, dtype=object)
        joined = [
            u for u in self._stable_assignment(ys)["unit"].unique() if STABLE_ID_SEPARATOR in u
        ]
        for u in joined:
            for t in u.split(STABLE_ID_SEPARATOR):
                if t in ids.index:
                    ids[t] = u
        ids.index = pd.Index(ids.index.to_numpy(dtype=object), name="target")
        return ids.rename("stable_unit")

    def _mapping(
        self, code_years: Iterable[int], target: Target, stable_years: Iterable[int] | None
    ) -> pd.DataFrame:
        """Columns code_year, source, to, weight for the codes of ``code_years``."""
        cys = self._require_years(code_years, what="code year(s)")
        if target == "target":
            sub = self.table[self.table["year"].isin(cys)]
            return pd.DataFrame(
                {
                    "code_year": sub["year"].to_numpy(),
                    "source": sub["source"].to_numpy(dtype=object),
                    "to": sub["target"].to_numpy(dtype=object),
                    "weight": sub["weight"].to_numpy(),
                }
            )
        extra = [] if stable_years is None else [int(y) for y in stable_years]
        a = self._stable_assignment(sorted(set(cys) | set(extra)))
        a = a[a["year"].isin(cys)]
        return pd.DataFrame(
            {
                "code_year": a["year"].to_numpy(),
                "source": a["source"].to_numpy(dtype=object),
                "to": a["unit"].to_numpy(dtype=object),
                "weight": 1.0,
            }
        )


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class HarmonisedPanel:
    """Result of :func:`harmonise_panel`.

    Attributes
    ----------
    panel : DataFrame
        On the (unit, year) index of the harmonised units; the input's value columns.
    report : DataFrame
        Every merge, split, recode (one code renamed), kept unknown code and missing
        piece applied to the data: columns ``year`` (data year), ``source``, ``target``,
        ``weight``, ``kind`` (``"merge" | "split" | "recode" | "unknown" | "missing"``)
        and ``code_year``.  Write it with ``report.to_csv("harmonisation.csv", index=False)``.
    split_weighted : Series
        Boolean on ``panel.index``: True where a value includes a split code's share
        (equal shares in the Norwegian crosswalk, not population shares).
    rows_in, rows_out : int
        Rows of the input and of the output panel.
    target : {"stable", "target"}
    """

    panel: pd.DataFrame
    report: pd.DataFrame
    split_weighted: pd.Series
    rows_in: int
    rows_out: int
    target: str

    @property
    def accounting(self) -> Accounting:
        """Row accounting: nothing dropped, rows aggregated (for ``run.json``)."""
        acc = Accounting()
        acc.record("harmonise_panel", read=self.rows_in, note=_note(self))
        return acc


@dataclass(frozen=True, eq=False)
class HarmonisedFlows:
    """Result of :func:`harmonise_flows`.

    Attributes
    ----------
    flows : DataFrame
        Columns ``year, origin, destination, count`` (plus any extra summed columns)
        on harmonised units, one row per (year, origin, destination), sorted.
    report : DataFrame
        As :attr:`HarmonisedPanel.report`, over the codes of both ends.
    split_weighted : Series
        Boolean aligned with ``flows``: True where a count includes a split share at
        either end.
    rows_in, rows_out : int
    target : {"stable", "target"}
    """

    flows: pd.DataFrame
    report: pd.DataFrame
    split_weighted: pd.Series
    rows_in: int
    rows_out: int
    target: str

    @property
    def accounting(self) -> Accounting:
        """Row accounting: nothing dropped, rows aggregated (for ``run.json``)."""
        acc = Accounting()
        acc.record("harmonise_flows", read=self.rows_in, note=_note(self))
        return acc


def _note(res: HarmonisedPanel | HarmonisedFlows) -> str:
    kinds = res.report["kind"].value_counts()
    parts = ", ".join(
        f"{int(kinds[k])} {k}"
        for k in ("merge", "split", "recode", "unknown", "missing")
        if k in kinds
    )
    return (
        f"{res.rows_in} rows on codes aggregated to {res.rows_out} rows on {res.target} units"
        + (f" (report: {parts})" if parts else "")
    )


# --------------------------------------------------------------------------- core
def _assign(
    codes: pd.DataFrame,
    crosswalk: Crosswalk,
    *,
    target: Target,
    stable_years: Iterable[int] | None,
    on_unknown: OnUnknown,
    on_incomplete: OnIncomplete,
    table: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map the distinct (year, code_year, code) of the data to harmonised units.

    Returns the assignment (columns year, code, to, weight; one row per piece) and the
    report.
    """
    mapping = crosswalk._mapping(codes["code_year"].unique(), target, stable_years)
    a = codes.merge(
        mapping, left_on=["code_year", "code"], right_on=["code_year", "source"], how="left"
    )
    unknown = a["to"].isna()
    extra_report = []
    if unknown.any():
        pairs = list(
            a.loc[unknown, ["code", "code_year"]]
            .drop_duplicates()
            .itertuples(index=False, name=None)
        )
        if on_unknown == "raise":
            raise InputError(
                f"{len(pairs)} code(s) of the {table} are not in the crosswalk for their code "
                f"year: (code, year) {_pairs(pairs)}. Fix the codes, say which year's code "
                "system they use with years_of_codes=, or pass on_unknown='keep' to keep them "
                "as their own units (listed in the report)"
            )
        clash = sorted(set(a.loc[unknown, "code"]) & set(mapping["to"]))
        if clash:
            raise InputError(
                f"cannot keep the unknown code(s) {format_ids(clash)} of the {table} as their own "
                "units: the same id(s) are harmonised units made of other codes, and would be "
                "added to them. Fix the codes or complete the crosswalk"
            )
        a.loc[unknown, "to"] = a.loc[unknown, "code"]
        a.loc[unknown, "weight"] = 1.0
        extra_report.append(
            a.loc[unknown, ["year", "code", "to", "weight", "code_year"]].assign(kind="unknown")
        )
    known = a[~unknown]
    # units only partly covered by the data (a piece of a merged unit is missing)
    expected = mapping.groupby(["code_year", "to"])["source"].nunique().rename("n_expected")
    present = (
        known.groupby(["year", "code_year", "to"])["code"]
        .nunique()
        .rename("n_present")
        .reset_index()
    )
    present = present.join(expected, on=["code_year", "to"])
    partial = present[present["n_present"] < present["n_expected"]]
    if len(partial):
        have = known.groupby(["year", "to"])["code"].agg(set)
        rows = []
        for year, cy, to in partial[["year", "code_year", "to"]].itertuples(index=False, name=None):
            pieces = mapping[(mapping["code_year"] == cy) & (mapping["to"] == to)]
            for src, w in pieces[["source", "weight"]].itertuples(index=False, name=None):
                if src not in have[(year, to)]:
                    rows.append((year, src, to, w, cy))
        missing = pd.DataFrame(rows, columns=["year", "code", "to", "weight", "code_year"])
        if on_incomplete == "raise":
            items = missing.groupby(["to", "year"], sort=True)["code"].agg(
                lambda s: "+".join(sorted(s))
            )
            shown = "; ".join(
                f"{to!r} in {y} lacks {c}" for (to, y), c in list(items.items())[:_LIMIT]
            )
            if len(items) > _LIMIT:
                shown += f" and {len(items) - _LIMIT} more"
            raise InputError(
                f"{len(items)} harmonised (unit, year) of the {table} would be incomplete, because "
                f"the data lack some of the codes the crosswalk maps to them: {shown}. Add the "
                "missing codes, or pass on_incomplete='keep' to sum what is there (listed in the "
                "report as 'missing')"
            )
        extra_report.append(missing.assign(kind="missing"))
    # kinds of the applied pieces
    n_src = known.groupby(["year", "to"])["code"].transform("nunique")
    kind = np.where(
        known["weight"] < 1 - 1e-12,
        "split",
        np.where(n_src > 1, "merge", np.where(known["code"] != known["to"], "recode", "")),
    )
    applied = known[["year", "code", "to", "weight", "code_year"]].assign(kind=kind)
    applied = applied[applied["kind"] != ""]
    report = pd.concat([applied, *extra_report], ignore_index=True)
    report = report.rename(columns={"code": "source", "to": "target"})[REPORT_COLUMNS]
    report = report.astype(
        {
            "year": np.int64,
            "code_year": np.int64,
            "weight": float,
            "source": object,
            "target": object,
            "kind": object,
        }
    )
    report = report.sort_values(["year", "target", "source", "kind"], kind="stable").reset_index(
        drop=True
    )
    assign = a[["year", "code", "to", "weight"]].reset_index(drop=True)
    return assign, report


def _sum_propagating_nan(df: pd.DataFrame, keys: list[str], cols: list[str]) -> pd.DataFrame:
    """Group sums where a missing value in any piece makes the sum missing."""
    g = df.groupby(keys, sort=True)
    sums = g[cols].sum()
    na = df[cols].isna()
    if na.to_numpy().any():
        sums = sums.mask(na.groupby([df[k] for k in keys], sort=True).any())
    return sums


def _check_target_options(
    target: object, on_unknown: object, on_incomplete: object, crosswalk: object
) -> None:
    if not isinstance(crosswalk, Crosswalk):
        raise TypeError(
            f"crosswalk must be a geoattr Crosswalk (Crosswalk.from_frame(df)), "
            f"{type(crosswalk).__name__} was given instead"
        )
    _check_choice(target, "target", ["stable", "target"])
    _check_choice(on_unknown, "on_unknown", ["raise", "keep"])
    _check_choice(on_incomplete, "on_incomplete", ["raise", "keep"])


def harmonise_panel(
    panel: pd.DataFrame,
    crosswalk: Crosswalk,
    *,
    target: Target = "stable",
    years_of_codes: YearsOfCodes = None,
    sum_columns: Sequence[str] | None = None,
    mean_columns: Sequence[str] | None = None,
    weight_column: str | None = "population",
    on_unknown: OnUnknown = "raise",
    on_incomplete: OnIncomplete = "raise",
    stable_years: Iterable[int] | None = None,
) -> HarmonisedPanel:
    """Recode a (unit, year) panel to stable units or to the crosswalk's target units.

    Parameters
    ----------
    panel : DataFrame
        Indexed by (unit, year); unit ids are strings.  Not modified.
    crosswalk : Crosswalk
    target : {"stable", "target"}, default "stable"
        ``"stable"``: merge codes into stable units (see the module docstring);
        ``"target"``: the crosswalk's target units, sharing split codes out by weight.
    years_of_codes : int, mapping or None
        The code system of the unit ids: ``None`` (each row's codes are those of its
        own year), a year for every row (``2017`` for a panel on 2017 codes), or a
        mapping ``{data year: code year}`` (years not in it use their own year).
    sum_columns : sequence of str, optional
        Count columns to sum, besides those of :data:`DEFAULT_SUM_COLUMNS` present.
    mean_columns : sequence of str, optional
        Rate-like columns: mean weighted by ``crosswalk weight x weight_column``.
    weight_column : str or None, default "population"
        Weights of the means; ``None`` weights pieces by the crosswalk weight only.
    on_unknown : {"raise", "keep"}, default "raise"
        Codes absent from the crosswalk for their code year: raise, or keep each as its
        own unit (``kind="unknown"`` in the report).
    on_incomplete : {"raise", "keep"}, default "raise"
        A harmonised (unit, year) for which the data have some but not all of the codes
        the crosswalk maps to it: raise, or sum what is there (the absent codes are
        listed with ``kind="missing"``).
    stable_years : iterable of int, optional
        Further years whose codes shape the stable units (the code years of the data
        are always included).  Give the same years to :func:`harmonise_flows` to get
        the same units in both, e.g. ``range(2017, 2025)``.

    Returns
    -------
    HarmonisedPanel
        ``.panel`` (same columns, harmonised units), ``.report``, ``.split_weighted``,
        ``.rows_in``, ``.rows_out``.

    Raises
    ------
    InputError
        Unknown codes (listing up to 10 (code, year) pairs), incomplete units, code years
        absent from the crosswalk, duplicate (unit, year) rows, integer unit ids, columns
        that are neither summed nor averaged, non-numeric values.
    """
    _check_target_options(target, on_unknown, on_incomplete, crosswalk)
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(
            f"panel must be a pandas DataFrame, {type(panel).__name__} was given instead"
        )
    if not isinstance(panel.index, pd.MultiIndex) or panel.index.nlevels != 2:
        raise InputError(
            f"panel must be indexed by (unit, year); it has index {list(panel.index.names)}. "
            "Use panel.set_index(['unit', 'year'])"
        )
    if len(panel) == 0:
        raise InputError("panel has no rows: there is nothing to harmonise")
    val.require_unique(panel, None, table="panel")
    sums = [c for c in DEFAULT_SUM_COLUMNS if c in panel.columns]
    sums += [c for c in (sum_columns or []) if c not in sums]
    means = list(dict.fromkeys(mean_columns or []))
    val.require_columns(panel, sums + means, table="panel")
    both = [c for c in means if c in sums]
    if both:
        raise InputError(
            f"column(s) {format_ids(both)} cannot be both summed and averaged: "
            "remove them from sum_columns or mean_columns"
        )
    if means and weight_column is not None:
        val.require_columns(
            panel,
            [weight_column],
            table="panel",
            hint=f"the means of {means} are weighted by weight_column={weight_column!r}; "
            "pass another weight_column, or None for unweighted means",
        )
        if weight_column in means:
            raise InputError(
                f"weight_column {weight_column!r} is also in mean_columns: sum it (sum_columns) "
                "or weight by another column"
            )
    other = [c for c in panel.columns if c not in sums and c not in means]
    if other:
        raise InputError(
            f"panel column(s) {format_ids(other)} are neither summed nor averaged; pass them in "
            "sum_columns (counts) or mean_columns (rates), or drop them before harmonising"
        )
    used = sums + means + ([weight_column] if means and weight_column is not None else [])
    val.require_numeric(panel, list(dict.fromkeys(used)), table="panel")

    df = pd.DataFrame({c: pd.to_numeric(panel[c]).to_numpy() for c in dict.fromkeys(used)})
    df["code"] = _string_ids(panel.index.get_level_values(0), name="panel unit ids").to_numpy()
    df["year"] = _int_years(panel.index.get_level_values(1), name="panel years")
    df["code_year"] = _code_years(df["year"], years_of_codes).to_numpy()

    codes = df[["year", "code_year", "code"]].drop_duplicates()
    assign, report = _assign(
        codes,
        crosswalk,
        target=target,
        stable_years=stable_years,
        on_unknown=on_unknown,
        on_incomplete=on_incomplete,
        table="panel",
    )
    m = df.merge(assign, on=["year", "code"], how="left")
    w = m["weight"].to_numpy()
    split = w < 1 - 1e-12
    work = pd.DataFrame({"unit": m["to"].to_numpy(dtype=object), "year": m["year"].to_numpy()})
    for c in sums:
        work[c] = m[c] * w if split.any() else m[c]
    if means:
        eff = w * (m[weight_column].to_numpy(dtype=float) if weight_column is not None else 1.0)
        work["__den"] = eff
        for c in means:
            work[f"__num_{c}"] = m[c].to_numpy(dtype=float) * eff
    work["__split"] = split
    value_cols = [c for c in work.columns if c not in ("unit", "year", "__split")]
    agg = _sum_propagating_nan(work, ["unit", "year"], value_cols)
    out = pd.DataFrame(index=agg.index)
    for c in panel.columns:
        if c in sums:
            out[c] = agg[c]
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = agg[f"__num_{c}"] / agg["__den"]
    out.index = pd.MultiIndex.from_arrays(
        [
            pd.Index(out.index.get_level_values(0).to_numpy(dtype=object), dtype=object),
            out.index.get_level_values(1).astype(np.int64),
        ],
        names=["unit", "year"],
    )
    flag = work.groupby(["unit", "year"], sort=True)["__split"].any()
    flag = pd.Series(flag.to_numpy(dtype=bool), index=out.index, name="split_weighted")
    return HarmonisedPanel(
        panel=out,
        report=report,
        split_weighted=flag,
        rows_in=len(panel),
        rows_out=len(out),
        target=target,
    )


def harmonise_flows(
    flows: pd.DataFrame,
    crosswalk: Crosswalk,
    *,
    target: Target = "stable",
    years_of_codes: YearsOfCodes = None,
    sum_columns: Sequence[str] | None = None,
    on_unknown: OnUnknown = "raise",
    on_incomplete: OnIncomplete = "raise",
    stable_years: Iterable[int] | None = None,
) -> HarmonisedFlows:
    """Recode both ends of an origin-destination table and sum by (year, origin, destination).

    Parameters
    ----------
    flows : DataFrame
        Columns ``year, origin, destination, count`` (ids are strings).  Not modified.
    crosswalk : Crosswalk
    target : {"stable", "target"}, default "stable"
        As in :func:`harmonise_panel`.  With ``"target"`` a flow whose origin and/or
        destination was split is shared out by the product of the two weights (a split
        code's internal flow D->D with shares 0.5/0.5 to E, F gives 0.25 to each of
        E->E, E->F, F->E, F->F: equal shares, so flagged).
    years_of_codes, on_unknown, on_incomplete, stable_years
        As in :func:`harmonise_panel`; a code counts as present in a year when it is
        an origin or a destination in that year.
    sum_columns : sequence of str, optional
        Further count columns to sum besides ``count``.

    Returns
    -------
    HarmonisedFlows
        ``.flows``, ``.report``, ``.split_weighted``, ``.rows_in``, ``.rows_out``.

    Raises
    ------
    InputError
        As :func:`harmonise_panel`; duplicate (year, origin, destination) rows; other
        columns than the summed ones.
    """
    _check_target_options(target, on_unknown, on_incomplete, crosswalk)
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(
            f"flows must be a pandas DataFrame, {type(flows).__name__} was given instead"
        )
    keys = ["year", "origin", "destination"]
    sums = ["count"] + [c for c in (sum_columns or []) if c != "count"]
    val.require_columns(flows, keys + sums, table="flows")
    if len(flows) == 0:
        raise InputError("flows has no rows: there is nothing to harmonise")
    other = [c for c in flows.columns if c not in keys and c not in sums]
    if other:
        raise InputError(
            f"flows column(s) {format_ids(other)} are not summed; pass them in sum_columns "
            "or drop them before harmonising"
        )
    val.require_numeric(flows, sums, table="flows")
    df = pd.DataFrame(
        {
            "year": _int_years(flows["year"], name="flows column 'year'"),
            "origin": _string_ids(flows["origin"], name="flows column 'origin'").to_numpy(),
            "destination": _string_ids(
                flows["destination"], name="flows column 'destination'"
            ).to_numpy(),
        }
    )
    for c in sums:
        df[c] = pd.to_numeric(flows[c]).to_numpy()
    val.require_unique(df, keys, table="flows")
    df["code_year"] = _code_years(df["year"], years_of_codes).to_numpy()

    ends = pd.concat(
        [
            df[["year", "code_year", "origin"]].rename(columns={"origin": "code"}),
            df[["year", "code_year", "destination"]].rename(columns={"destination": "code"}),
        ]
    )
    codes = ends.drop_duplicates().reset_index(drop=True)
    assign, report = _assign(
        codes,
        crosswalk,
        target=target,
        stable_years=stable_years,
        on_unknown=on_unknown,
        on_incomplete=on_incomplete,
        table="flows",
    )
    a_o = assign.rename(columns={"code": "origin", "to": "o_to", "weight": "w_o"})
    a_d = assign.rename(columns={"code": "destination", "to": "d_to", "weight": "w_d"})
    m = df.merge(a_o, on=["year", "origin"], how="left").merge(
        a_d, on=["year", "destination"], how="left"
    )
    w = (m["w_o"] * m["w_d"]).to_numpy()
    split = w < 1 - 1e-12
    work = pd.DataFrame(
        {
            "year": m["year"].to_numpy(),
            "origin": m["o_to"].to_numpy(dtype=object),
            "destination": m["d_to"].to_numpy(dtype=object),
        }
    )
    for c in sums:
        work[c] = m[c] * w if split.any() else m[c]
    work["__split"] = split
    agg = _sum_propagating_nan(work, keys, sums)
    flag = work.groupby(keys, sort=True)["__split"].any()
    out = agg.reset_index()
    out["year"] = out["year"].astype(np.int64)
    for c in ("origin", "destination"):
        out[c] = out[c].to_numpy(dtype=object)
    flag = pd.Series(flag.to_numpy(dtype=bool), index=out.index, name="split_weighted")
    return HarmonisedFlows(
        flows=out,
        report=report,
        split_weighted=flag,
        rows_in=len(flows),
        rows_out=len(out),
        target=target,
    )
