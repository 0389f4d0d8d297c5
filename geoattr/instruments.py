"""Instruments for endogenous job growth: the shift-share (Bartik) instrument."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError
import geoattr._validation as val

__all__ = ["shift_share"]


def shift_share(
    employment: pd.DataFrame,
    *,
    base_year: int,
    unit: str = "unit",
    year: str = "year",
    industry: str = "industry",
    value: str = "jobs",
    leave_one_out: bool = True,
    relative: bool = True,
) -> pd.Series:
    """Shift-share (Bartik) predicted job growth.

    ``B[i,t] = sum_k s[i,k] * g[k,t]`` with ``s[i,k]`` the share of industry *k* in
    unit *i*'s jobs in ``base_year`` and ``g[k,t] = 100 * (E[k,t] / E[k,t-1] - 1)``
    the national growth of industry *k*.  With ``leave_one_out`` the national growth
    excludes unit *i* itself (so the instrument does not contain the unit's own
    shocks).  With ``relative`` the national growth of all jobs is subtracted, as in
    the relative job growth RA it instruments.

    Parameters
    ----------
    employment : pandas.DataFrame
        Long table: unit, year, industry, jobs (by workplace).
    base_year : int
        Year of the industry shares (before the estimation period).
    unit, year, industry, value : str
        Column names.
    leave_one_out : bool, default True
    relative : bool, default True

    Returns
    -------
    pandas.Series
        ``bartik`` on the (unit, year) index, for every year after the first.
    """
    val.require_columns(employment, [unit, year, industry, value], table="employment")
    df = employment[[unit, year, industry, value]].copy()
    df.columns = ["unit", "year", "industry", "jobs"]
    val.require_numeric(df, ["jobs"], table="employment")
    val.require_nonnegative(df, ["jobs"], table="employment")
    df["unit"] = val.normalise_ids(df["unit"], name="unit").to_numpy()
    val.require_unique(df, ["unit", "year", "industry"], table="employment")
    if base_year not in set(df["year"]):
        raise InputError(f"base_year {base_year} is not in the employment table; years: {sorted(set(df['year']))}")
    E = df.pivot_table(index=["unit", "industry"], columns="year", values="jobs", aggfunc="sum", fill_value=0.0)
    base = E[base_year]
    tot = base.groupby(level="unit").sum()
    zero = tot.index[tot <= 0]
    if len(zero):
        raise InputError(f"{len(zero)} unit(s) have no jobs in base_year {base_year}: {format_ids(zero)}")
    shares = base / tot.reindex(base.index.get_level_values("unit")).to_numpy()
    years = sorted(E.columns)
    nat = E.groupby(level="industry").sum()
    out = {}
    for prev, t in zip(years[:-1], years[1:]):
        if leave_one_out:
            num = nat[t].reindex(E.index.get_level_values("industry")).to_numpy() - E[t].to_numpy()
            den = nat[prev].reindex(E.index.get_level_values("industry")).to_numpy() - E[prev].to_numpy()
        else:
            num = nat[t].reindex(E.index.get_level_values("industry")).to_numpy()
            den = nat[prev].reindex(E.index.get_level_values("industry")).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(den > 0, 100.0 * (num / den - 1.0), 0.0)
        b = pd.Series(shares.to_numpy() * g, index=E.index).groupby(level="unit").sum()
        if relative:
            b = b - 100.0 * (E[t].sum() / E[prev].sum() - 1.0)
        out[t] = b
    res = pd.DataFrame(out).stack()
    res.index = res.index.set_names(["unit", "year"])
    return res.rename("bartik")
