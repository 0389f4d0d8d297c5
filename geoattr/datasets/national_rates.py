"""National employment rates and death probabilities by single age from published tables.

The demographic employment supply ``DS`` (MODEL.md) needs a national employment rate
``e[a, s]`` and a death probability ``q[a, s]`` for every single age 14-75 and sex.  The
public sources give less:

* **Employment** (ILOSTAT indicator ``EMP_DWAP_SEX_AGE_RT``, Norway's labour force
  survey): employment-to-population ratios (%) by sex in 5-year age groups 15-19 ...
  60-64 and an open group 65+.  Read with :func:`read_ilostat_employment`.
* **Mortality** (Human Mortality Database): central death rates ``mx`` (deaths per
  person-year), deaths and the population on 1 January by single age 0-110+ and sex.
  Read with :func:`read_hmd_mortality`.

Rules (the same in the API and in ``geoattr run`` with ``source = "ssb"``):

1. **Open group 65+.**  Until the survey's age limit was lifted, the 65+ rate is the
   rate of ages 65-74 (the survey sampled 15-74); afterwards its denominator is everyone
   aged 65 and over.  Which of the two holds is decided per year from the data
   (:func:`open_group_coverage`): the published 15+ rate is compared with the
   population-weighted mean of the group rates under each coverage, and the closer one
   is taken (on Norway's table: 15-74 through 2019, everyone from 2020).  When the group
   covers everyone, the 65-74 rate is ``r(65+) * P(65+) / P(65-74)``: employment at 75
   and over is taken as zero (MODEL.md sets ``e = 0`` above 74), which makes the 65-74
   rate an upper bound.
2. **Single ages** (:func:`interpolate_employment_rates`): mean-preserving monotone
   interpolation.  The cumulative rate ``C(x) = sum of e below age x`` is known exactly at
   the group limits 15, 20, ..., 65, 75; a monotone cubic (PCHIP) through those points
   gives ``C`` at every age, and ``e[a] = C(a + 1) - C(a)``.  Each group's mean rate is
   reproduced exactly (to rounding), rates stay within [0, 1] and are smooth between
   groups; ``e = 0`` below 15 and above 74.
3. **Years** (:func:`national_rates`): the single-age rates are computed per year and
   averaged over the requested years (by default every year of the table); the result is
   one age schedule, as :class:`~geoattr.data.PanelData` holds.  The per-year schedules
   are kept in :attr:`NationalRates.employment_rates_by_year`.
4. **Series breaks** (:func:`employment_series_breaks`): the survey's documented breaks
   (:data:`KNOWN_BREAKS`), the year the open group's coverage changes, and year-to-year
   jumps of a group's rate larger than ``jump`` times the robust spread of that group's
   changes, in the same direction for both sexes.  They are listed, not corrected.
5. **Death probabilities** (:func:`~geoattr.datasets.mortality.death_probabilities_from_rates`, in
   :mod:`geoattr.datasets.mortality`, also importable from here):
   ``q = m / (1 + m / 2)`` (deaths spread evenly over the year), capped at 1, from the
   central rate averaged over the requested years; ages 110+ are age 110.  The same rule
   year by year (:func:`~geoattr.datasets.mortality.death_probabilities_by_year`) gives the schedules the cohort
   residual, the expected deaths and the projection use (a year outside the table takes
   its nearest year's); DS keeps the averaged schedule, as it does the employment rates.
   Without a mortality table the Gompertz fit of
   :func:`geoattr.demography.death_probabilities_from_population` remains the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.datasets.mortality import by_year_note, death_probabilities_by_year, death_probabilities_from_rates
from geoattr.demography import death_probabilities_from_population
from geoattr.exceptions import InputError

__all__ = [
    "read_ilostat_employment",
    "read_hmd_mortality",
    "open_group_coverage",
    "interpolate_employment_rates",
    "employment_series_breaks",
    "death_probabilities_from_rates",
    "national_rates",
    "NationalRates",
    "KNOWN_BREAKS",
    "GROUP_LIMITS",
    "panel_rates",
]

#: Lower limits of the employment groups and the upper limit of the last (65-74).
GROUP_LIMITS: tuple[int, ...] = (15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 75)
#: The 5-year groups of the survey table (the open group "65+" is handled apart).
FIVE_YEAR_GROUPS: tuple[str, ...] = tuple(f"{a}-{a + 4}" for a in GROUP_LIMITS[:-2])
#: Series breaks documented for Norway's labour force survey: year -> what changed.
KNOWN_BREAKS: dict[int, str] = {
    2006: "lower age limit of the labour force survey lowered from 16 to 15 (the 15-19 and 15+ groups)",
    2021: "labour force survey redesigned (EU regulation): the 15-19 rate jumps",
}
#: Misfit (summed over both sexes, a share) above which a year's open-group reading is noted as doubtful.
MISFIT = 0.02
_SEX = {"F": "female", "M": "male", "female": "female", "male": "male"}


def _sex(values: pd.Series) -> pd.Series:
    return values.astype(str).map(_SEX)


def read_ilostat_employment(path: str | Path) -> pd.DataFrame:
    """Read ILOSTAT employment-to-population ratios by sex and age group.

    Parameters
    ----------
    path : str or Path
        CSV with columns ``year, sex, age_group, emp_to_pop_pct`` (the layout of
        ``employment/employment_rate_by_age_sex_ilostat_2000_2024.csv``; ``sex`` F/M/T).

    Returns
    -------
    pandas.DataFrame
        Columns ``year, sex ("female"/"male"), age_group, rate`` (a share in [0, 1]);
        the total (T) rows are left out.

    Raises
    ------
    InputError
        Missing columns, or rates outside 0-100 %.
    """
    raw = pd.read_csv(path)
    val.require_columns(raw, ["year", "sex", "age_group", "emp_to_pop_pct"], table=str(path))
    raw = raw[raw["sex"].astype(str).isin(["F", "M", "female", "male"])]
    val.require_numeric(raw, ["year", "emp_to_pop_pct"], table=str(path))
    bad = raw[(raw["emp_to_pop_pct"] < 0) | (raw["emp_to_pop_pct"] > 100) | raw["emp_to_pop_pct"].isna()]
    if len(bad):
        raise InputError(f"{path}: emp_to_pop_pct must lie in 0-100 %; {len(bad)} row(s) do not: "
                         f"{format_ids(list(zip(bad['year'], bad['sex'], bad['age_group'])))}")
    return pd.DataFrame({"year": raw["year"].astype(int).to_numpy(), "sex": _sex(raw["sex"]).to_numpy(),
                         "age_group": raw["age_group"].astype(str).to_numpy(),
                         "rate": raw["emp_to_pop_pct"].to_numpy(float) / 100.0})


def read_hmd_mortality(path: str | Path) -> pd.DataFrame:
    """Read Human Mortality Database rates by single age and sex.

    Parameters
    ----------
    path : str or Path
        CSV (gzip allowed) with columns ``year, age, sex, mx, deaths, population_jan1``;
        the open age ``"110+"`` becomes 110; ``sex`` F/M/T.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, age, sex ("female"/"male"), mx, deaths, population``.

    Raises
    ------
    InputError
        Missing columns, non-numeric ages or negative rates.

    Notes
    -----
    Rates are empty (NaN) at the oldest ages in years without anyone exposed; they are
    kept as NaN (:func:`death_probabilities_from_rates` skips them).
    """
    raw = pd.read_csv(path, dtype={"age": str})
    val.require_columns(raw, ["year", "age", "sex", "mx", "deaths", "population_jan1"], table=str(path))
    raw = raw[raw["sex"].astype(str).isin(["F", "M", "female", "male"])]
    age = pd.to_numeric(raw["age"].str.rstrip("+"), errors="coerce")
    if age.isna().any():
        raise InputError(f"{path}: column 'age' must be whole ages (the last may end with '+'); got "
                         f"{format_ids(sorted(set(raw.loc[age.isna(), 'age'])))}")
    out = pd.DataFrame({"year": raw["year"].astype(int).to_numpy(), "age": age.astype(int).to_numpy(),
                        "sex": _sex(raw["sex"]).to_numpy(), "mx": raw["mx"].to_numpy(float),
                        "deaths": raw["deaths"].to_numpy(float), "population": raw["population_jan1"].to_numpy(float)})
    bad = out[out["mx"] < 0]
    if len(bad):
        raise InputError(f"{path}: mx must be a non-negative rate (or empty where nobody was exposed); "
                         f"{len(bad)} row(s) are negative: "
                         f"{format_ids(list(zip(bad['year'], bad['sex'], bad['age'])))}")
    return out


def _group_table(employment: pd.DataFrame) -> pd.DataFrame:
    """Rates on (year, sex) x the groups 15-19 ... 60-64, 65+ and 15+ (error naming what is missing)."""
    val.require_columns(employment, ["year", "sex", "age_group", "rate"], table="employment",
                        hint="read the ILOSTAT table with read_ilostat_employment")
    wide = employment.pivot_table(index=["year", "sex"], columns="age_group", values="rate", aggfunc="mean")
    need = list(FIVE_YEAR_GROUPS) + ["65+"]
    absent = [g for g in need if g not in wide.columns]
    if absent:
        raise InputError(f"employment rates lack the age group(s) {absent}; the groups 15-19 ... 60-64 and 65+ "
                         "are needed")
    holes = wide[need].isna().stack()
    holes = holes[holes]
    if len(holes):
        raise InputError(f"employment rates are missing for {len(holes)} (year, sex, group) cell(s): "
                         f"{format_ids(holes.index)}")
    return wide


def _national_population(population: pd.DataFrame, years: Iterable[int]) -> tuple[pd.DataFrame, list[str]]:
    """Population by (year, sex) x age for ``years``; a year without rows takes the nearest year's."""
    val.require_columns(population, ["year", "sex", "age", "population"], table="population")
    p = population.groupby(["year", "sex", "age"])["population"].sum().unstack("age").fillna(0.0)
    have = sorted(p.index.get_level_values("year").unique())
    if not have:
        raise InputError("the national population table is empty")
    rows, notes = [], []
    for y in years:
        near = min(have, key=lambda h: (abs(h - y), h))
        if near != y:
            notes.append(f"national population of {near} used for {y}")
        part = p.xs(near, level="year")
        part.index = pd.MultiIndex.from_product([[y], part.index], names=["year", "sex"])
        rows.append(part)
    return pd.concat(rows), notes


def open_group_coverage(employment: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Which ages the open 65+ employment group covers, year by year.

    The published 15+ rate is compared with the population-weighted mean of the group
    rates under two readings of the open group: ``"65-74"`` (the survey sampled ages
    15-74, so 65+ means 65-74 and 15+ means 15-74) and ``"65+"`` (everyone aged 65 and
    over).  The reading with the smaller absolute difference, summed over both sexes, is
    taken.

    Parameters
    ----------
    employment : pandas.DataFrame
        From :func:`read_ilostat_employment` (needs the 15+ group too).
    population : pandas.DataFrame
        National population on 1 January: ``year, sex, age, population``.

    Returns
    -------
    pandas.DataFrame
        Index year; columns ``observed_<sex>`` (the 15+ rate), ``if_65_74_<sex>``,
        ``if_all_65plus_<sex>``, ``ratio_<sex>`` (``P(65+) / P(65-74)``),
        ``coverage`` (``"65-74"`` or ``"65+"``) and ``misfit`` (the absolute difference
        of the reading taken, summed over both sexes; a share).
    """
    wide = _group_table(employment)
    if "15+" not in wide.columns:
        raise InputError("the open-group rule compares with the 15+ rate: the employment table lacks group '15+'")
    years = sorted(wide.index.get_level_values("year").unique())
    pop, _ = _national_population(population, years)
    out = pd.DataFrame(index=pd.Index(years, name="year"))
    dist = {"65-74": np.zeros(len(years)), "65+": np.zeros(len(years))}
    for sex in ("female", "male"):
        r = wide.xs(sex, level="sex").reindex(years)
        P = pop.xs(sex, level="sex").reindex(years)
        pg = pd.DataFrame({g: P.loc[:, int(g[:2]):int(g[:2]) + 4].sum(axis=1) for g in FIVE_YEAR_GROUPS})
        employed = (r[list(FIVE_YEAR_GROUPS)] * pg).sum(axis=1)
        p6574, p65 = P.loc[:, 65:74].sum(axis=1), P.loc[:, 65:].sum(axis=1)
        a = (employed + r["65+"] * p6574) / (pg.sum(axis=1) + p6574)
        b = (employed + r["65+"] * p65) / (pg.sum(axis=1) + p65)
        out[f"observed_{sex}"], out[f"if_65_74_{sex}"], out[f"if_all_65plus_{sex}"] = r["15+"], a, b
        out[f"ratio_{sex}"] = p65 / p6574
        dist["65-74"] += (r["15+"] - a).abs().to_numpy()
        dist["65+"] += (r["15+"] - b).abs().to_numpy()
    out["coverage"] = np.where(dist["65-74"] <= dist["65+"], "65-74", "65+")
    out["misfit"] = np.minimum(dist["65-74"], dist["65+"])
    return out


def _single_ages(means: Sequence[float]) -> np.ndarray:
    """Mean-preserving monotone interpolation of group means on :data:`GROUP_LIMITS` (ages 15-74)."""
    limits = np.asarray(GROUP_LIMITS, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(means) * np.diff(limits))])
    c = PchipInterpolator(limits, cum)(np.arange(15, 76, dtype=float))
    return np.clip(np.diff(c), 0.0, 1.0)


def interpolate_employment_rates(employment: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """Employment rates by single age 15-74, sex and year from the 5-year groups.

    Mean-preserving monotone interpolation (module docstring, rule 2); the 65-74 mean
    follows the open group's coverage (rule 1).

    Parameters
    ----------
    employment : pandas.DataFrame
        From :func:`read_ilostat_employment`.
    coverage : pandas.DataFrame
        From :func:`open_group_coverage` (its ``coverage`` and ``ratio_<sex>``).

    Returns
    -------
    pandas.DataFrame
        Index (year, age) with ages 15-74, columns ``female`` and ``male`` (shares);
        ``attrs["group_means"]``: the group means used, on (year, sex) x group
        (``65-74`` for the last).
    """
    wide = _group_table(employment)
    years = sorted(wide.index.get_level_values("year").unique())
    missing = sorted(set(years) - set(coverage.index))
    if missing:
        raise InputError(f"no open-group coverage for year(s) {format_ids(missing)}; pass open_group_coverage(...) "
                         "of the same table")
    means = wide[list(FIVE_YEAR_GROUPS)].copy()
    scale = pd.Series(1.0, index=wide.index)
    for (y, sex) in wide.index:
        if coverage.loc[y, "coverage"] == "65+":
            scale[(y, sex)] = float(coverage.loc[y, f"ratio_{sex}"])
    means["65-74"] = (wide["65+"] * scale).clip(upper=1.0)
    ages = np.arange(15, 75)
    frames = {}
    for sex in ("female", "male"):
        m = means.xs(sex, level="sex").reindex(years)
        frames[sex] = pd.DataFrame(np.vstack([_single_ages(m.loc[y].to_numpy()) for y in years]),
                                   index=pd.Index(years, name="year"), columns=ages).stack()
    out = pd.DataFrame(frames)
    out.index = out.index.set_names(["year", "age"])
    out.attrs["group_means"] = means
    return out


def employment_series_breaks(employment: pd.DataFrame, coverage: pd.DataFrame, *, jump: float = 3.0,
                             years: Iterable[int] | None = None) -> pd.DataFrame:
    """Series breaks of the employment table: documented, coverage changes and jumps.

    Parameters
    ----------
    employment : pandas.DataFrame
        From :func:`read_ilostat_employment`.
    coverage : pandas.DataFrame
        From :func:`open_group_coverage`.
    jump : float, default 3.0
        A group's change from year t-1 to t is a jump when it exceeds ``jump`` times the
        robust spread (1.4826 x median absolute deviation) of that group's changes, for
        both sexes in the same direction.
    years : iterable of int, optional
        Keep only breaks in these years (default: all).

    Returns
    -------
    pandas.DataFrame
        Columns ``year, kind ("documented" / "coverage" / "jump"), group, description``.
    """
    wide = _group_table(employment)
    rows = [(y, "documented", "", what) for y, what in KNOWN_BREAKS.items()]
    cov = coverage["coverage"]
    for y, prev in zip(cov.index[1:], cov.index[:-1]):
        if cov[y] != cov[prev]:
            rows.append((int(y), "coverage", "65+", f"the open group 65+ covers {cov[y]} from {y} ({cov[prev]} "
                                                   f"in {prev}), judged from the 15+ rate"))
    for g in list(FIVE_YEAR_GROUPS) + ["65+"]:
        ch = {s: wide[g].xs(s, level="sex").sort_index().diff().dropna() for s in ("female", "male")}
        signs = []
        for d in ch.values():
            spread = 1.4826 * float((d - d.median()).abs().median()) or float(d.abs().mean())
            signs.append(np.sign(d).where((d - d.median()).abs() > jump * spread, 0.0))
        both = signs[0][(signs[0] != 0) & (signs[0] == signs[1].reindex(signs[0].index))]
        for y in both.index:
            size = ", ".join(f"{s} {100 * ch[s][y]:+.1f} points" for s in ch)
            rows.append((int(y), "jump", g, f"{g} changes {size} from {int(y) - 1} to {int(y)}"))
    out = pd.DataFrame(rows, columns=["year", "kind", "group", "description"]).sort_values(
        ["year", "kind", "group"]).reset_index(drop=True)
    if years is not None:
        out = out[out["year"].isin(list(years))].reset_index(drop=True)
    return out


@dataclass(frozen=True)
class NationalRates:
    """National rates for the demographic employment supply (see the module docstring).

    Attributes
    ----------
    employment_rates : pandas.DataFrame
        Index age 15-74, columns ``female``, ``male``: the mean over ``years``.
    employment_rates_by_year : pandas.DataFrame
        Index (year, age), the same per year.
    group_means : pandas.DataFrame
        The group means interpolated, on (year, sex) x group (65-74 last).
    death_probabilities : pandas.DataFrame or None
        Index age, columns ``female``, ``male`` (None without a mortality table).
    coverage : pandas.DataFrame
        :func:`open_group_coverage`.
    breaks : pandas.DataFrame
        :func:`employment_series_breaks` within ``years``.
    years : list of int
        Years averaged.
    notes : list of str
        What was done, for ``run.json``.
    """

    employment_rates: pd.DataFrame
    employment_rates_by_year: pd.DataFrame
    group_means: pd.DataFrame
    death_probabilities: pd.DataFrame | None
    coverage: pd.DataFrame
    breaks: pd.DataFrame
    years: list[int]
    notes: list[str] = field(default_factory=list)


def national_rates(employment: pd.DataFrame, population: pd.DataFrame, *, mortality: pd.DataFrame | None = None,
                   years: Iterable[int] | None = None, jump: float = 3.0) -> NationalRates:
    """Employment rates by single age and death probabilities, averaged over ``years``.

    Parameters
    ----------
    employment : pandas.DataFrame
        From :func:`read_ilostat_employment`.
    population : pandas.DataFrame
        National population on 1 January (``year, sex, age, population``), for the
        open-group rule (e.g. the HMD table's ``population``).
    mortality : pandas.DataFrame, optional
        From :func:`read_hmd_mortality`; without it ``death_probabilities`` is None.
    years : iterable of int, optional
        Years to average; default every year of the employment table.  Years outside
        the tables are left out (and noted); at least one must remain.
    jump : float, default 3.0
        Threshold of :func:`employment_series_breaks`.

    Returns
    -------
    NationalRates
    """
    cov = open_group_coverage(employment, population)
    by_year = interpolate_employment_rates(employment, cov)
    have = sorted(by_year.index.get_level_values("year").unique())
    want = have if years is None else sorted(set(years))
    used = [y for y in want if y in have]
    if not used:
        raise InputError(f"no employment rates for the years {format_ids(want)} (the table has {have[0]}-{have[-1]})")
    notes = []
    if len(used) < len(want):
        notes.append(f"employment rates: no table for {format_ids(sorted(set(want) - set(used)))}; averaged over "
                     f"{used[0]}-{used[-1]}")
    mean = by_year[by_year.index.get_level_values("year").isin(used)].groupby(level="age").mean()
    shift = cov.loc[used, "coverage"]
    notes.append(
        f"national employment rates (labour force survey) by single age 15-74: mean-preserving monotone (PCHIP) "
        f"interpolation of the 5-year groups, averaged over {used[0]}-{used[-1]}; the open group 65+ read as ages "
        f"65-74 in {format_ids(shift.index[shift == '65-74']) or 'no year'} and as everyone 65+ (its rate scaled by "
        f"P(65+)/P(65-74), no employment above 74) in {format_ids(shift.index[shift == '65+']) or 'no year'}")
    poor = cov.loc[used][cov.loc[used, "misfit"] > MISFIT]
    if len(poor):
        notes.append(f"the 15+ rate fits neither reading of the open group within {100 * MISFIT:.0f} points "
                     f"(both sexes) in {format_ids(poor.index)} (years of transition: read with care)")
    breaks = employment_series_breaks(employment, cov, jump=jump, years=range(used[0] + 1, used[-1] + 1))
    for _, b in breaks.iterrows():
        notes.append(f"employment series break {b['year']} ({b['kind']}): {b['description']}")
    q = None
    if mortality is not None:
        q = death_probabilities_from_rates(mortality, years=want)
        qy = q.attrs["years"]
        notes.append(f"death probabilities q = m / (1 + m/2) from the central death rates (Human Mortality Database) "
                     f"averaged over {qy[0]}-{qy[-1]}")
    return NationalRates(employment_rates=mean, employment_rates_by_year=by_year,
                         group_means=by_year.attrs["group_means"], death_probabilities=q, coverage=cov,
                         breaks=breaks, years=used, notes=notes)


def panel_rates(employment_path: Path | None, mortality_path: Path | None, *,
                population_by_age: pd.DataFrame | None, years: Iterable[int]) -> tuple[dict[str, object], list[str]]:
    """The national rates of a data folder as :class:`~geoattr.data.PanelData` inputs.

    Parameters
    ----------
    employment_path, mortality_path : Path or None
        The ILOSTAT and HMD tables (None or a path that does not exist: not available).
    population_by_age : pandas.DataFrame or None
        The units' population by age (``unit, year, sex, age, population``): its national
        sums serve the open-group rule without a mortality table, and its cohort survival
        the Gompertz fallback for the death probabilities.
    years : iterable of int
        Years to average the rates over.

    Returns
    -------
    (dict, list of str)
        Keyword arguments ``employment_rates``, ``death_probabilities``,
        ``death_probabilities_by_year`` (with a mortality table: each year's own
        schedule, :func:`death_probabilities_by_year`) and ``info``
        (``info["national_rates"]``: years, coverage by year, breaks, notes) for
        ``PanelData.replace``, and the notes for the accounting.
    """
    years = list(years)
    emp = read_ilostat_employment(employment_path) if employment_path and Path(employment_path).exists() else None
    mort = read_hmd_mortality(mortality_path) if mortality_path and Path(mortality_path).exists() else None
    kw: dict[str, object] = {}
    notes: list[str] = []
    if mort is not None:
        pop = mort[["year", "sex", "age", "population"]]
    elif population_by_age is not None:
        pop = population_by_age.groupby(["year", "sex", "age"], as_index=False)["population"].sum()
    else:
        pop = None
    if emp is None:
        notes.append("no national employment rates (employment/): the demographic supply DS of the 2022 "
                     "specification cannot be computed")
    elif pop is None:
        notes.append("employment rates need a national population by age for the open 65+ group (mortality/ or "
                     "population/): DS cannot be computed")
    else:
        nat = national_rates(emp, pop, mortality=mort, years=years)
        kw["employment_rates"] = nat.employment_rates
        notes += nat.notes
        kw["info"] = {"national_rates": {
            "years": nat.years, "open_group_coverage": nat.coverage["coverage"].reindex(nat.years).to_dict(),
            "series_breaks": nat.breaks.to_dict(orient="records"), "notes": nat.notes}}
        if nat.death_probabilities is not None:
            kw["death_probabilities"] = nat.death_probabilities
    if mort is not None and "death_probabilities" not in kw:
        kw["death_probabilities"] = death_probabilities_from_rates(mort, years=years)
        notes.append("death probabilities q = m / (1 + m/2) from the central death rates (Human Mortality Database)")
    if mort is not None:
        # every year of the table, and the panel's years and t + 1 of its last (the cohort residual) outside it
        span = range(min(min(years), int(mort["year"].min())), max(max(years) + 1, int(mort["year"].max())) + 1)
        kw["death_probabilities_by_year"] = death_probabilities_by_year(mort, years=span)
        notes.append(by_year_note(kw["death_probabilities_by_year"]))
    if mort is None and population_by_age is not None:
        kw["death_probabilities"] = death_probabilities_from_population(population_by_age)
        notes.append("no national death rates (mortality/): death probabilities from a Gompertz fit to the national "
                     "cohort survival at ages 70-90 (the fallback)")
    return kw, notes
