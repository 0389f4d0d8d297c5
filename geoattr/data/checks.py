"""The checks of :class:`~geoattr.data.panel.PanelData`'s inputs.

Each takes one input as given, returns a normalised copy (string unit ids, integer
years, numeric values) and raises :class:`~geoattr.exceptions.InputError` with a message
that says what to fix.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr.data.grouping import combined_codes
from geoattr._format import format_ids
from geoattr.exceptions import InputError

__all__ = [
    "COUNT_COLUMNS",
    "check_panel",
    "check_flows",
    "check_unit_series",
    "check_regions",
    "check_polygons",
    "check_population_by_age",
    "check_rates",
    "check_rates_by_year",
    "check_fertility_rates",
]

#: Panel columns that are counts: summed when aggregating to regions, never negative.
COUNT_COLUMNS: tuple[str, ...] = val.COUNT_COLUMNS

# What to do with infinite or huge values, for the messages of the checks below.
_FINITE_HINT = (
    "Fix these values in the source; if they are unknown, make them NaN (missing): "
    "estimation then names the (unit, year) rows, and on_missing='drop' drops them"
)


def check_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel with string unit ids, integer years and numeric columns, sorted; errors say what to fix."""
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, {type(panel).__name__} was given instead")
    if not isinstance(panel.index, pd.MultiIndex) or panel.index.nlevels != 2:
        raise InputError(
            "panel must be indexed by (unit, year); it has index "
            f"{list(panel.index.names)}. Use panel.set_index(['unit', 'year']) or "
            "geoattr.io.read_panel(...)."
        )
    out = panel.copy()
    out.index = val.normalise_panel_index(out.index, name="panel", unit_name="unit")
    val.require_unique(out, None, table="panel")
    val.require_columns(
        out,
        ["population"],
        table="panel",
        hint="rename the population-on-1-January column to 'population'",
    )
    val.require_numeric(out, list(out.columns), table="panel")
    for col in out.columns:
        out[col] = pd.to_numeric(out[col])
    val.require_finite(out, list(out.columns), table="panel", hint=_FINITE_HINT)
    present = [c for c in COUNT_COLUMNS if c in out.columns]
    if present:
        val.require_nonnegative(out, present, table="panel")
    pop = out["population"]
    bad = pop.index[pop.notna() & (pop <= 0)]
    if len(bad):
        raise InputError(
            f"panel has zero or negative population in {len(bad)} row(s): "
            f"{format_ids(bad)}. Population on 1 January is the denominator of every rate: "
            "fix or remove these rows."
        )
    return out.sort_index()



def check_unit_series(s: pd.Series, name: str) -> pd.Series:
    """A numeric Series by unit (centrality), with string ids and no missing values."""
    if not isinstance(s, pd.Series):
        raise TypeError(f"{name} must be a pandas Series indexed by unit, {type(s).__name__} was given")
    out = s.copy()
    out.index = pd.Index(val.normalise_ids(out.index, name=f"{name} index").to_numpy(), dtype=object, name="unit")
    val.require_unique(out.to_frame(name), None, table=name)
    frame = out.to_frame(name)
    val.require_numeric(frame, [name], table=name)
    val.require_no_missing(frame, [name], table=name)
    out = pd.to_numeric(out).rename(name)
    val.require_finite(out.to_frame(name), [name], table=name, hint="Fix these values in the source")
    return out

def check_regions(s: pd.Series) -> pd.Series:
    """The unit -> region mapping with string ids on both sides."""
    if not isinstance(s, pd.Series):
        raise TypeError(f"regions must be a pandas Series unit -> region, {type(s).__name__} was given")
    out = s.copy()
    out.index = pd.Index(val.normalise_ids(out.index, name="regions index").to_numpy(), dtype=object, name="unit")
    val.require_unique(out.to_frame("region"), None, table="regions")
    val.require_no_missing(out.to_frame("region"), ["region"], table="regions")
    return pd.Series(
        val.normalise_ids(out, name="region").to_numpy(), index=out.index, name="region", dtype=object
    )

def check_polygons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Polygons on string unit ids, with a ``name`` column (the id when absent)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"polygons must be a GeoDataFrame, {type(gdf).__name__} was given")
    out = gdf.copy()
    out.index = pd.Index(val.normalise_ids(out.index, name="polygons index").to_numpy(), dtype=object, name="unit")
    val.require_unique(pd.DataFrame(index=out.index), None, table="polygons")
    if "name" not in out.columns:
        out["name"] = out.index.astype(str)
    return out

def check_fertility_rates(rates: pd.Series) -> pd.Series:
    """Births per woman by age, in [0, 1], on an integer age index."""
    f = pd.to_numeric(pd.Series(rates), errors="coerce")
    bad = f.index[f.isna() | (f < 0) | (f > 1)]
    if len(bad):
        raise InputError(f"fertility_rates must be births per woman in [0, 1]; ages {format_ids(bad)} are not")
    f.index = pd.Index(f.index.astype(int), name="age")
    return f.rename("fertility")

def _lower_text(col: pd.Series) -> pd.Series:
    """``col.astype(str).str.lower().astype(object)``; a column of strings is lowered once per distinct value."""
    codes, uniques = pd.factorize(col)
    distinct = np.asarray(uniques, dtype=object)
    if len(col) and (codes >= 0).all() and pd.api.types.infer_dtype(distinct, skipna=False) == "string":
        return pd.Series(np.array([v.lower() for v in distinct], dtype=object)[codes], index=col.index, dtype=object,
                         name=col.name)
    return col.astype(str).str.lower().astype(object)


def _recoded(codes: np.ndarray, distinct: np.ndarray, new: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes of the rows after ``distinct`` is mapped to ``new`` value by value, and the new column's
    values (None when no value changed)."""
    new_codes, new_distinct = pd.factorize(new.to_numpy(dtype=object))
    if len(new_distinct) == len(distinct) and (np.asarray(new_distinct, dtype=object) == distinct).all():
        return codes, None
    return new_codes[codes], np.asarray(new_distinct, dtype=object)[new_codes[codes]]


def _unique_by_codes(codes: list[np.ndarray]) -> bool:
    """Whether the rows' combinations of integer codes are all distinct (one pass, no tuples)."""
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    key = combined_codes(codes, sizes)
    if key is None:
        return False  # the caller's general check decides
    size = math.prod(sizes)
    if size <= 8 * len(key) + 1024:
        return bool(np.bincount(key, minlength=size).max(initial=0) <= 1)
    key.sort()
    return not (key[1:] == key[:-1]).any()


def check_population_by_age(df: pd.DataFrame) -> pd.DataFrame:
    """Columns ``unit, year, sex, age`` and ``population`` with sex ``female``/``male``, one row per cell.

    Ids and sexes are normalised once per distinct value; the cells' uniqueness is checked on
    their integer codes (a 1.6 M-row table of the synthetic Norway in 0.2 s, was 0.8 s); a
    duplicate falls back to :func:`geoattr._validation.require_unique` for its message.
    """
    val.require_columns(df, ["unit", "year", "sex", "age", "population"], table="population_by_age")
    out = df[["unit", "year", "sex", "age", "population"]].copy()
    val.require_no_missing(out, list(out.columns), table="population_by_age")
    val.require_numeric(out, ["year", "age", "population"], table="population_by_age")
    val.require_nonnegative(out, ["population"], table="population_by_age")
    out["population"] = pd.to_numeric(out["population"])
    val.require_finite(out, ["population"], table="population_by_age", hint="Fix these values in the source")
    ucodes, udistinct = pd.factorize(out["unit"])
    udistinct = np.asarray(udistinct, dtype=object)
    try:
        unit = val.normalise_ids(pd.Series(udistinct, dtype=object), name="unit")
    except InputError:
        unit = None  # the row by row call below names the offending rows
    if unit is None or not len(udistinct):
        out["unit"] = val.normalise_ids(out["unit"], name="unit").to_numpy()
        ucodes = pd.factorize(out["unit"])[0]
    else:
        ucodes, changed = _recoded(ucodes, udistinct, unit)
        if changed is not None or out["unit"].dtype == object:  # as before: the strings' own dtype
            out["unit"] = changed if changed is not None else udistinct[ucodes]
    scodes, sdistinct = pd.factorize(out["sex"])
    sdistinct = np.asarray(sdistinct, dtype=object)
    scodes, changed = _recoded(scodes, sdistinct, _lower_text(pd.Series(sdistinct, dtype=object)))
    out["sex"] = pd.Series(changed if changed is not None else sdistinct[scodes], index=out.index, dtype=object)
    bad = sorted(set(out["sex"].unique()) - {"female", "male"})
    if bad:
        raise InputError(
            f"population_by_age column 'sex' has values {bad}; use 'female' and 'male'"
        )
    codes = [ucodes, pd.factorize(out["year"])[0], scodes, pd.factorize(out["age"])[0]]
    if not _unique_by_codes(codes):
        val.require_unique(out, ["unit", "year", "sex", "age"], table="population_by_age")
    return out.reset_index(drop=True)

def check_rates(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rates by age (index) and sex (columns ``female``, ``male``), in [0, 1]."""
    val.require_columns(df, ["female", "male"], table=name,
                        hint="index: age (int); columns: 'female', 'male'")
    out = df[["female", "male"]].copy()
    val.require_numeric(out, ["female", "male"], table=name)
    out = out.apply(pd.to_numeric)
    mask = ((out < 0) | (out > 1)).stack()
    bad = mask[mask]
    if len(bad):
        raise InputError(
            f"{name} must lie in [0, 1]; {len(bad)} value(s) outside it at (age, sex) "
            f"{format_ids(bad.index)}"
        )
    out.index = pd.Index(out.index.astype(int), name="age")
    return out


def check_rates_by_year(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rates by year and age (index levels ``year``, ``age``) and sex (columns ``female``, ``male``), in [0, 1]."""
    if not isinstance(df.index, pd.MultiIndex) or df.index.nlevels != 2:
        raise InputError(f"{name} must be indexed by (year, age) with columns 'female' and 'male'; it has index "
                         f"{list(df.index.names)}")
    out = check_rates(df.reset_index(level=0, drop=True), name)
    years = pd.to_numeric(pd.Series(df.index.get_level_values(0)), errors="coerce")
    if years.isna().any():
        raise InputError(f"{name}: the year level of the index must be whole numbers")
    out.index = pd.MultiIndex.from_arrays([years.astype(int).to_numpy(), out.index.to_numpy()], names=["year", "age"])
    dup = out.index[out.index.duplicated()]
    if len(dup):
        raise InputError(f"{name} has duplicate (year, age) rows: {format_ids(dup)}")
    return out.sort_index()


def check_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """Columns ``year, origin, destination, count``: string ids, integer years, counts >= 0, unique keys."""
    val.require_columns(flows, ["year", "origin", "destination", "count"], table="flows",
                        hint="use geoattr.io.read_flows(..., origin=, destination=, value=) to rename")
    out = flows[["year", "origin", "destination", "count"]].copy()
    val.require_no_missing(out, list(out.columns), table="flows")
    val.require_numeric(out, ["count", "year"], table="flows")
    out["count"] = pd.to_numeric(out["count"])
    val.require_finite(out, ["count"], table="flows",
                       hint="Fix these counts in the source (commuters are persons), or remove these rows")
    out["year"] = pd.to_numeric(out["year"]).astype(int)
    val.require_nonnegative(out, ["count"], table="flows")
    out["origin"] = val.normalise_ids(out["origin"], name="origin").to_numpy()
    out["destination"] = val.normalise_ids(out["destination"], name="destination").to_numpy()
    val.require_unique(out, ["year", "origin", "destination"], table="flows")
    return out.reset_index(drop=True)
