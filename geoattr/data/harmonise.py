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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.data.crosswalk import REPORT_COLUMNS, Crosswalk, OnIncomplete, OnUnknown, Target
from geoattr.exceptions import InputError

__all__ = [
    "Harmonised",
    "HarmonisedPanel",
    "HarmonisedFlows",
    "harmonise_panel",
    "harmonise_flows",
    "DEFAULT_SUM_COLUMNS",
    "REPORT_COLUMNS",
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
YearsOfCodes = int | Mapping[int, int] | None


def _code_years(years: pd.Series, years_of_codes: YearsOfCodes) -> pd.Series:
    """Return the year whose code system each row's code belongs to."""
    if years_of_codes is None:
        return years.astype(np.int64)
    if isinstance(years_of_codes, Mapping):
        mapped = years.map(lambda y: years_of_codes.get(int(y), y))
        return pd.Series(val.normalise_years(mapped, name="years_of_codes values"), index=years.index)
    if isinstance(years_of_codes, (bool, np.bool_)) or not isinstance(
        years_of_codes, (int, np.integer)
    ):
        raise InputError(
            "years_of_codes must be None (each row's codes are those of its own year), a year "
            "such as 2017, or a mapping {data year: code year}; "
            f"{years_of_codes!r} was given instead"
        )
    return pd.Series(int(years_of_codes), index=years.index, dtype=np.int64)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Harmonised:
    """What :func:`harmonise_panel` and :func:`harmonise_flows` have in common.

    Attributes
    ----------
    report : DataFrame
        Every merge, split, recode (one code renamed), kept unknown code and missing
        piece applied to the data: columns ``year`` (data year), ``source``, ``target``,
        ``weight``, ``kind`` (``"merge" | "split" | "recode" | "unknown" | "missing"``)
        and ``code_year``.  Write it with ``report.to_csv("harmonisation.csv", index=False)``.
    split_weighted : Series
        Boolean on the rows of the output: True where a value includes a split code's
        share (equal shares in the Norwegian crosswalk, not population shares).
    rows_in, rows_out : int
        Rows of the input and of the output.
    target : {"stable", "target"}
    """

    report: pd.DataFrame
    split_weighted: pd.Series
    rows_in: int
    rows_out: int
    target: str

    #: The table name in the row accounting.
    table_name = "harmonise"

    @property
    def accounting(self) -> Accounting:
        """Row accounting (for ``run.json``): no value is lost, rows of merged codes are summed.

        The step reads the rows of ``panel`` (``flows``) and counts the rows that fewer
        units leave (merged codes summed) or that more units add (codes shared out).
        """
        acc = Accounting()
        net = self.rows_in - self.rows_out
        how = "merged" if self.target == "stable" else "merged or split"
        acc.record(self.table_name, read=self.rows_in, note=_note(self), source=self.table_name.split("_", 1)[1],
                   dropped={f"codes {how} by the crosswalk: rows summed into {self.target} units": max(net, 0)},
                   added={f"codes split by the crosswalk: rows shared out to {self.target} units": max(-net, 0)})
        return acc


@dataclass(frozen=True, eq=False)
class HarmonisedPanel(Harmonised):
    """Result of :func:`harmonise_panel`: :class:`Harmonised` and the panel.

    Attributes
    ----------
    panel : DataFrame
        On the (unit, year) index of the harmonised units; the input's value columns.
    """

    panel: pd.DataFrame = field(default_factory=pd.DataFrame)
    table_name = "harmonise_panel"


@dataclass(frozen=True, eq=False)
class HarmonisedFlows(Harmonised):
    """Result of :func:`harmonise_flows`: :class:`Harmonised` and the flows.

    Attributes
    ----------
    flows : DataFrame
        Columns ``year, origin, destination, count`` (plus any extra summed columns)
        on harmonised units, one row per (year, origin, destination), sorted.
    """

    flows: pd.DataFrame = field(default_factory=pd.DataFrame)
    table_name = "harmonise_flows"


def _note(res: Harmonised) -> str:
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
def _sum_propagating_nan(df: pd.DataFrame, keys: list[str], cols: list[str]) -> pd.DataFrame:
    """Group sums where a missing value in any piece makes the sum missing."""
    g = df.groupby(keys, sort=True)
    sums = g[cols].sum()
    na = df[cols].isna()
    if na.to_numpy().any():
        sums = sums.mask(na.groupby([df[k] for k in keys], sort=True).any())
    return sums


def _target_options(
    target: object, on_unknown: object, on_incomplete: object, crosswalk: object, stable_years: object
) -> dict[str, object]:
    """Check the options shared by both functions; return them for :meth:`Crosswalk.assign`."""
    if not isinstance(crosswalk, Crosswalk):
        raise TypeError(
            f"crosswalk must be a geoattr Crosswalk (Crosswalk.from_frame(df)), "
            f"{type(crosswalk).__name__} was given instead"
        )
    val.require_choice(target, "target", ["stable", "target"])
    val.require_choice(on_unknown, "on_unknown", ["raise", "keep"])
    val.require_choice(on_incomplete, "on_incomplete", ["raise", "keep"])
    return {"target": target, "stable_years": stable_years, "on_unknown": on_unknown, "on_incomplete": on_incomplete}


def _panel_columns(
    panel: pd.DataFrame,
    sum_columns: Sequence[str] | None,
    mean_columns: Sequence[str] | None,
    weight_column: str | None,
) -> tuple[list[str], list[str], list[str]]:
    """Check the panel; return the summed, the averaged and all the columns used."""
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

    return sums, means, used


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
    options = _target_options(target, on_unknown, on_incomplete, crosswalk, stable_years)
    sums, means, used = _panel_columns(panel, sum_columns, mean_columns, weight_column)
    df = pd.DataFrame({c: pd.to_numeric(panel[c]).to_numpy() for c in dict.fromkeys(used)})
    df["code"] = val.normalise_string_ids(panel.index.get_level_values(0), name="panel unit ids").to_numpy()
    df["year"] = val.normalise_years(panel.index.get_level_values(1), name="panel years")
    df["code_year"] = _code_years(df["year"], years_of_codes).to_numpy()

    codes = df[["year", "code_year", "code"]].drop_duplicates()
    assign, report = crosswalk.assign(codes, table="panel", **options)
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
    return HarmonisedPanel(panel=out, report=report, split_weighted=flag, rows_in=len(panel), rows_out=len(out),
                           target=target)


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
    options = _target_options(target, on_unknown, on_incomplete, crosswalk, stable_years)
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
            "year": val.normalise_years(flows["year"], name="flows column 'year'"),
            "origin": val.normalise_string_ids(flows["origin"], name="flows column 'origin'").to_numpy(),
            "destination": val.normalise_string_ids(
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
    assign, report = crosswalk.assign(codes, table="flows", **options)
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
    return HarmonisedFlows(flows=out, report=report, split_weighted=flag, rows_in=len(flows), rows_out=len(out),
                           target=target)
