"""A crosswalk of municipality codes between boundary vintages, and stable units.

Municipal codes change with reforms (Norway: 426 codes in 2017, 422 in 2018-2019, 356
in 2020-2023, 357 from 2024).  A :class:`Crosswalk` says, for every year, which
*target* unit (a municipality of one fixed vintage, e.g. 2024) each code valid in that
year belongs to, with a weight: 1 for a code that lies wholly inside one target unit,
shares below 1 for a code that was later split between several.

*Stable units* are the connected components of the bipartite graph that links every
code of the years involved, as a ``(year, code)`` node, to its target unit(s).  A code
split between targets glues those targets together, so every stable unit is a union of
target units that is also a union of codes in each year: its territory is the same in
every year.  Their ids are the ids of the target units in the component, sorted and
joined with ``"+"`` (``"0301"``, ``"1508+1580"``).  :mod:`geoattr.data.harmonise`
recodes panels and flows with a crosswalk.

Examples
--------
>>> import pandas as pd
>>> cw = Crosswalk(pd.DataFrame({"year": [2023, 2023, 2024, 2024], "source": ["1507", "1507", "1508", "1580"],
...                              "target": ["1508", "1580", "1508", "1580"], "weight": [0.5, 0.5, 1.0, 1.0]}))
>>> cw.stable_targets([2023, 2024]).to_dict()
{'1508': '1508+1580', '1580': '1508+1580'}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.exceptions import InputError

__all__ = [
    "Crosswalk",
    "STABLE_ID_SEPARATOR",
    "WEIGHT_SUM_TOLERANCE",
    "REPORT_COLUMNS",
    "Target",
    "OnUnknown",
    "OnIncomplete",
]

#: Joins the target ids of a stable unit made of several target units: ``"1508+1580"``.
STABLE_ID_SEPARATOR = "+"
#: Tolerance on "the weights of a (year, source code) sum to 1".
WEIGHT_SUM_TOLERANCE = 1e-6

#: Columns of the harmonisation report (``harmonisation.csv``).
REPORT_COLUMNS = ["year", "source", "target", "weight", "kind", "code_year"]

#: The units to harmonise to: stable units, or the crosswalk's own target units.
Target = Literal["stable", "target"]
#: What to do with codes absent from the crosswalk.
OnUnknown = Literal["raise", "keep"]
#: What to do with a harmonised unit for which the data have only some of the codes.
OnIncomplete = Literal["raise", "keep"]


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
        year=val.normalise_years(out["year"], name="crosswalk column 'year'"),
        source=val.normalise_string_ids(out["source"], name="crosswalk column 'source'").to_numpy(),
        target=val.normalise_string_ids(out["target"], name="crosswalk column 'target'").to_numpy(),
    )
    val.require_numeric(out, ["weight"], table="crosswalk")
    out["weight"] = pd.to_numeric(out["weight"]).astype(float)
    val.require_no_missing(out, ["weight"], table="crosswalk")
    neg = out[out["weight"] < 0]
    if len(neg):
        raise InputError(
            f"crosswalk has {len(neg)} negative weight(s): (year, source, target, weight) "
            f"{val.format_in_order(neg.itertuples(index=False, name=None))}. Weights are the shares of a "
            "source code going to each target: fix them"
        )
    zero = out[out["weight"] == 0]
    if len(zero):
        raise InputError(
            f"crosswalk has {len(zero)} zero weight(s): (year, source, target) "
            f"{val.format_in_order(zero[['year', 'source', 'target']].itertuples(index=False, name=None))}. "
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
            f"{int(dup.sum())} rows: {val.format_in_order(keys)}. Keep one row per key (drop_duplicates) "
            "or add their weights up"
        )
    sums = out.groupby(["year", "source"], sort=True)["weight"].sum()
    bad = sums[(sums - 1.0).abs() > WEIGHT_SUM_TOLERANCE]
    if len(bad):
        items = [f"{code!r} in {year} sums to {w:.6g}" for (year, code), w in bad.items()]
        shown = "; ".join(items[:val.LIMIT]) + (
            f" and {len(items) - val.LIMIT} more" if len(items) > val.LIMIT else ""
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

    def mapping(
        self, code_years: Iterable[int], *, target: Target, stable_years: Iterable[int] | None
    ) -> pd.DataFrame:
        """Where each code of ``code_years`` goes, with its weight.

        Parameters
        ----------
        code_years : iterable of int
            The code systems (years) whose codes are mapped.
        target : {"stable", "target"}
            Stable units (weight 1) or the crosswalk's target units (its weights).
        stable_years : iterable of int or None
            Further years whose codes shape the stable units.

        Returns
        -------
        DataFrame
            Columns ``code_year, source, to, weight``.
        """
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

    def assign(
        self,
        codes: pd.DataFrame,
        *,
        target: Target,
        stable_years: Iterable[int] | None,
        on_unknown: OnUnknown,
        on_incomplete: OnIncomplete,
        table: str,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Map the distinct ``(year, code_year, code)`` of some data to harmonised units.

        Parameters
        ----------
        codes : DataFrame
            Columns ``year`` (data year), ``code_year`` (the code system) and ``code``.
        target, stable_years, on_unknown, on_incomplete
            As in :func:`geoattr.data.harmonise.harmonise_panel`.
        table : str
            The data's name, for messages.

        Returns
        -------
        assignment : DataFrame
            Columns ``year, code, to, weight``; one row per piece.
        report : DataFrame
            Columns :data:`REPORT_COLUMNS`: every merge, split, recode, kept unknown code
            and missing piece.
        """
        mapping = self.mapping(codes["code_year"].unique(), target=target, stable_years=stable_years)
        a = codes.merge(
            mapping, left_on=["code_year", "code"], right_on=["code_year", "source"], how="left"
        )
        unknown = a["to"].isna()
        extra_report = []
        if unknown.any():
            _keep_unknown(a, unknown, mapping, on_unknown=on_unknown, table=table)
            extra_report.append(
                a.loc[unknown, ["year", "code", "to", "weight", "code_year"]].assign(kind="unknown")
            )
        known = a[~unknown]
        missing = _missing_pieces(known, mapping)
        if len(missing):
            if on_incomplete == "raise":
                _raise_incomplete(missing, table)
            extra_report.append(missing.assign(kind="missing"))
        report = _report(known, extra_report)
        assign = a[["year", "code", "to", "weight"]].reset_index(drop=True)
        return assign, report


def _keep_unknown(
    a: pd.DataFrame, unknown: pd.Series, mapping: pd.DataFrame, *, on_unknown: OnUnknown, table: str
) -> None:
    """Raise on codes absent from the crosswalk, or make each its own unit (in place on ``a``)."""
    pairs = list(
        a.loc[unknown, ["code", "code_year"]].drop_duplicates().itertuples(index=False, name=None)
    )
    if on_unknown == "raise":
        raise InputError(
            f"{len(pairs)} code(s) of the {table} are not in the crosswalk for their code "
            f"year: (code, year) {val.format_in_order(pairs)}. Fix the codes, say which year's "
            "code system they use with years_of_codes=, or pass on_unknown='keep' to keep them "
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


def _missing_pieces(known: pd.DataFrame, mapping: pd.DataFrame) -> pd.DataFrame:
    """The codes a harmonised (unit, year) lacks when the data cover it only in part."""
    expected = mapping.groupby(["code_year", "to"])["source"].nunique().rename("n_expected")
    present = (
        known.groupby(["year", "code_year", "to"])["code"]
        .nunique()
        .rename("n_present")
        .reset_index()
    )
    present = present.join(expected, on=["code_year", "to"])
    partial = present[present["n_present"] < present["n_expected"]]
    rows = []
    if len(partial):
        have = known.groupby(["year", "to"])["code"].agg(set)
        for year, cy, to in partial[["year", "code_year", "to"]].itertuples(index=False, name=None):
            pieces = mapping[(mapping["code_year"] == cy) & (mapping["to"] == to)]
            for src, w in pieces[["source", "weight"]].itertuples(index=False, name=None):
                if src not in have[(year, to)]:
                    rows.append((year, src, to, w, cy))
    return pd.DataFrame(rows, columns=["year", "code", "to", "weight", "code_year"])


def _raise_incomplete(missing: pd.DataFrame, table: str) -> None:
    items = missing.groupby(["to", "year"], sort=True)["code"].agg(lambda s: "+".join(sorted(s)))
    shown = "; ".join(
        f"{to!r} in {y} lacks {c}" for (to, y), c in list(items.items())[: val.LIMIT]
    )
    if len(items) > val.LIMIT:
        shown += f" and {len(items) - val.LIMIT} more"
    raise InputError(
        f"{len(items)} harmonised (unit, year) of the {table} would be incomplete, because "
        f"the data lack some of the codes the crosswalk maps to them: {shown}. Add the "
        "missing codes, or pass on_incomplete='keep' to sum what is there (listed in the "
        "report as 'missing')"
    )


def _report(known: pd.DataFrame, extra: list[pd.DataFrame]) -> pd.DataFrame:
    """The applied pieces with their kind, plus the unknown and missing ones, sorted."""
    n_src = known.groupby(["year", "to"])["code"].transform("nunique")
    kind = np.where(
        known["weight"] < 1 - 1e-12,
        "split",
        np.where(n_src > 1, "merge", np.where(known["code"] != known["to"], "recode", "")),
    )
    applied = known[["year", "code", "to", "weight", "code_year"]].assign(kind=kind)
    applied = applied[applied["kind"] != ""]
    report = pd.concat([applied, *extra], ignore_index=True)
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
    return report.sort_values(["year", "target", "source", "kind"], kind="stable").reset_index(
        drop=True
    )
