"""Net migration by age group and sex, and attractiveness for age groups.

Net migration by age comes from the cohort-residual method
(:func:`geoattr.demography.cohort_residuals_by_age`): the population by single age and
sex on 1 January of two consecutive years and national death probabilities.  Ages are
ages at the end of the year (on 1 January of t+1), as in Statistics Norway's migration
statistics; children born during the year are part of the births estimate, so the
youngest group's net migration covers ages 1 and up.

:func:`group_attractiveness` estimates the attractiveness model once per age group with
the group's net migration rate as the dependent variable, ``y_g = 100 * NM_g / P_g``
(``P_g`` the group's population on 1 January), the regressors of the total model, and
ranks the units by each group's attractiveness.  The default groups are those the 2009
talk compared: young adults (18-29) and families (children 0-5 with adults 30-39).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.attractiveness import attractiveness, cumulate, rankings
from geoattr.data import PanelData
from geoattr.demography import cohort_residuals_by_age, data_death_probabilities
from geoattr.exceptions import InputError
from geoattr.models.ols import AttractivenessResults, LeastSquares, estimate

__all__ = ["AGE_GROUPS", "COMPARED_GROUPS", "parse_age_groups", "death_probabilities_for", "net_migration_by_age",
           "group_totals", "group_attractiveness", "GroupAttractiveness"]

AgeRange = tuple[int, "int | None"]

#: The age groups of the book's subgroup tables (a partition of all ages; MODEL.md "Subgroups").
AGE_GROUPS: dict[str, list[str]] = {
    "0-5": ["0-5"], "6-17": ["6-17"], "18-29": ["18-29"], "30-39": ["30-39"], "40-49": ["40-49"],
    "50-59": ["50-59"], "60+": ["60+"],
}
#: The groups the 2009 talk compared: young adults, and families (small children with their parents' ages).
COMPARED_GROUPS: dict[str, list[str]] = {"young_adults": ["18-29"], "families": ["0-5", "30-39"]}

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|(\+))?\s*$")


def _parse_range(text: Any, group: str) -> AgeRange:
    m = _RANGE.match(str(text)) if isinstance(text, (str, int)) and not isinstance(text, bool) else None
    if m is None:
        raise InputError(f"age group {group!r}: {text!r} is not an age range; write \"18-29\", \"60+\" or \"5\"")
    lo = int(m.group(1))
    hi = None if m.group(3) else int(m.group(2) or lo)
    if hi is not None and hi < lo:
        raise InputError(f"age group {group!r}: range {text!r} ends before it starts; write \"{hi}-{lo}\"")
    return lo, hi


def parse_age_groups(groups: Mapping[str, str | Sequence[str]]) -> dict[str, list[AgeRange]]:
    """Age groups as ``name -> [(first, last), ...]`` (``last`` None for an open range).

    Parameters
    ----------
    groups : mapping
        ``name -> "18-29"`` or ``name -> ["0-5", "30-39"]``; ``"60+"`` is open,
        ``"5"`` a single age.

    Returns
    -------
    dict

    Examples
    --------
    >>> parse_age_groups({"families": ["0-5", "30-39"], "old": "60+"})
    {'families': [(0, 5), (30, 39)], 'old': [(60, None)]}
    """
    if not isinstance(groups, Mapping) or not groups:
        raise InputError(f"age groups must be a non-empty table name -> ranges, e.g. {COMPARED_GROUPS}; "
                         f"got {groups!r}")
    out: dict[str, list[AgeRange]] = {}
    for name, spec in groups.items():
        items = [spec] if isinstance(spec, (str, int)) else list(spec)
        if not items:
            raise InputError(f"age group {name!r} has no age range; give e.g. [\"18-29\"]")
        ranges = sorted(_parse_range(x, str(name)) for x in items)
        for (lo1, hi1), (lo2, _) in zip(ranges, ranges[1:]):
            if hi1 is None or hi1 >= lo2:
                raise InputError(f"age group {name!r}: ranges {format_ids(items)} overlap; list each age once")
        out[str(name)] = ranges
    return out


def _ages_in(ranges: list[AgeRange], ages: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(ages), dtype=bool)
    for lo, hi in ranges:
        mask |= (ages >= lo) & (ages <= (np.inf if hi is None else hi))
    return mask


def death_probabilities_for(data: PanelData) -> tuple[pd.DataFrame, str]:
    """The death probabilities a cohort residual of ``data`` uses, and a note saying which.

    :func:`geoattr.demography.data_death_probabilities` (the year-specific table, else
    the single schedule, else the Gompertz fit), with an error naming the age groups'
    need when ``data`` has no population by age.
    """
    if data.population_by_age is None:
        raise InputError("net migration by age needs the population by single age and sex (population_by_age); "
                         "add it to the data ([data] population_by_age = { path = ... })")
    return data_death_probabilities(data)


def net_migration_by_age(
    population_by_age: pd.DataFrame,
    death_probabilities: pd.DataFrame,
    *,
    groups: Mapping[str, str | Sequence[str]] | None = None,
    years: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Cohort-residual net migration per unit, year, age group and sex.

    Parameters
    ----------
    population_by_age : pandas.DataFrame
        Columns ``unit, year, sex, age, population`` (1 January).
    death_probabilities : pandas.DataFrame
        Index age, columns ``female``, ``male``.
    groups : mapping, optional
        ``name -> ranges`` as in :func:`parse_age_groups`; default :data:`AGE_GROUPS`
        (a partition of all ages, so the groups and sexes add up to the total cohort
        residual).  Groups may overlap or leave ages out; ``attrs["partition"]`` says
        whether they cover every age exactly once.
    years : sequence of int, optional
        Years t (default every year with t+1 present).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, year, age_group, sex, net_migration`` (persons during t, by age
        at its end) and ``population`` (the group's persons on 1 January of t), in the
        order of ``groups``.
    """
    parsed = parse_age_groups(AGE_GROUPS if groups is None else groups)
    single = cohort_residuals_by_age(population_by_age, death_probabilities, years=years)
    ages = single["age"].to_numpy()
    frames, count = [], np.zeros(int(ages.max()) + 1, dtype=int)
    for name, ranges in parsed.items():
        mask = _ages_in(ranges, ages)
        count[np.unique(ages[mask])] += 1
        g = single[mask].groupby(["unit", "year", "sex"], sort=True)[["net_migration", "population"]].sum()
        frames.append(g.reset_index().assign(age_group=name))
    out = pd.concat(frames, ignore_index=True)[["unit", "year", "age_group", "sex", "net_migration", "population"]]
    out.attrs["partition"] = bool((count == 1).all())
    return out


def group_totals(by_age: pd.DataFrame) -> pd.DataFrame:
    """Both sexes summed: index (unit, year), columns ``(quantity, group)``.

    Parameters
    ----------
    by_age : pandas.DataFrame
        Output of :func:`net_migration_by_age`.

    Returns
    -------
    pandas.DataFrame
        Column level 0 ``net_migration`` / ``population``, level 1 the group.
    """
    need = ["unit", "year", "age_group", "net_migration", "population"]
    missing = [c for c in need if c not in by_age.columns]
    if missing:
        raise InputError(f"the by-age table lacks column(s) {missing}; pass the output of net_migration_by_age()")
    order = list(dict.fromkeys(by_age["age_group"]))
    wide = by_age.pivot_table(index=["unit", "year"], columns="age_group", values=["net_migration", "population"],
                              aggfunc="sum")
    return wide.reindex(columns=pd.MultiIndex.from_product([["net_migration", "population"], order]))


@dataclass(frozen=True)
class GroupAttractiveness:
    """Results of :func:`group_attractiveness`.

    Attributes
    ----------
    groups : dict
        ``name -> [(first, last), ...]`` age ranges.
    fits : dict
        ``name -> AttractivenessResults`` of each group's model.
    coefficients : pandas.DataFrame
        ``group, term, estimate, std_error, t, p, nobs, r2``.
    attractiveness : pandas.DataFrame
        ``group, unit, year, actual, expected, residual, population, residual_persons``
        (percentage points of the group's population; persons of the group).
    rankings : pandas.DataFrame
        ``group`` and the columns of :func:`geoattr.attractiveness.rankings` (``level,
        list, rank, unit, name, residual, residual_persons``), on the cumulative residual.
    notes : list of str
    """

    groups: dict[str, list[AgeRange]]
    fits: dict[str, AttractivenessResults]
    coefficients: pd.DataFrame
    attractiveness: pd.DataFrame
    rankings: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _group_rate(totals: pd.DataFrame, group: str, index: pd.MultiIndex, *, relative_to_national: bool,
                what: str) -> tuple[pd.Series, pd.Series]:
    nm, pop = totals[("net_migration", group)], totals[("population", group)]
    y = (100.0 * nm / pop).reindex(index)
    bad = index[y.isna().to_numpy() | ~np.isfinite(y.to_numpy())]
    if len(bad):
        have = sorted(set(totals.index.get_level_values("year")))
        raise InputError(
            f"age group {group!r}: no net migration rate for {len(bad)} {what}-year(s) {format_ids(bad)} (no population "
            f"by age of t and t+1, or none of the group's ages); the by-age table covers years {have[0]}-{have[-1]}. "
            "Narrow years= to those years or complete population_by_age")
    if relative_to_national:
        yrs = index.get_level_values("year")
        nat = (100.0 * nm.groupby(level="year").sum() / pop.groupby(level="year").sum()).reindex(yrs)
        y = y - nat.to_numpy()
    return y.rename("y"), pop.reindex(index).rename("population")


def _refit(fit: AttractivenessResults, totals: pd.DataFrame, group: str, regions: pd.Series | None,
           obs_weights: Any, cov_type: str) -> AttractivenessResults:
    """The total model's designs with a group's rate and population as y and weights, refitted."""
    rel = bool(fit.options.get("relative_to_national", False))
    ud = fit.unit_design
    y, pop = _group_rate(totals, group, ud.y.index, relative_to_national=rel, what="unit")
    unit_design = replace(ud, y=y, population=pop, notes=[*ud.notes, f"y: net migration of age group {group!r} in % "
                                                                      "of the group's population on 1 January"])
    design = unit_design
    if fit.unit_level == "region":
        mapping = fit.unit_data.region_of() if regions is None else regions
        t = totals[totals.index.get_level_values("unit").isin(fit.unit_data.units)]
        reg = t.groupby([t.index.get_level_values("unit").map(mapping), t.index.get_level_values("year")]).sum(
            min_count=1).rename_axis(["unit", "year"])
        ry, rpop = _group_rate(reg, group, fit.design.y.index, relative_to_national=rel, what="region")
        design = replace(fit.design, y=ry, population=rpop, notes=unit_design.notes)
    res = LeastSquares(design, obs_weights=obs_weights).fit(cov_type=cov_type)
    return AttractivenessResults(results=res, design=design, unit_design=unit_design, data=fit.data,
                                 unit_data=fit.unit_data, unit_level=fit.unit_level,
                                 options={**fit.options, "dependent": f"age group {group}"})


def group_attractiveness(
    data: PanelData,
    spec: str | Sequence[str] = "2022",
    *,
    by_age: pd.DataFrame | None = None,
    groups: Mapping[str, str | Sequence[str]] | None = None,
    n: int = 10,
    **estimate_options: Any,
) -> GroupAttractiveness:
    """Estimate the attractiveness model for age groups and rank the units per group.

    Parameters
    ----------
    data : PanelData
        The run's data (with ``population_by_age`` unless ``by_age`` is given).
    spec : str or list of terms, default "2022"
    by_age : pandas.DataFrame, optional
        Output of :func:`net_migration_by_age` computed with ``groups``; default: computed
        from ``data.population_by_age`` with :func:`death_probabilities_for`.
    groups : mapping, optional
        ``name -> ranges``; default :data:`COMPARED_GROUPS` (young adults 18-29,
        families 0-5 with 30-39).
    n : int, default 10
        Length of the top and bottom lists.
    **estimate_options
        Passed to :func:`geoattr.estimate` (``unit_level``, ``years``, ``obs_weights``,
        ``cov_type``, ``relative_to_national``...); with ``relative_to_national`` the
        group's rate is taken relative to the group's national rate of the year, and with
        ``obs_weights="population"`` the weights are the group's population.

    Returns
    -------
    GroupAttractiveness
    """
    parsed = parse_age_groups(COMPARED_GROUPS if groups is None else groups)
    notes: list[str] = []
    if by_age is None:
        q, note = death_probabilities_for(data)
        notes.append(note)
        by_age = net_migration_by_age(data.population_by_age, q, groups={k: [_label(r) for r in v]
                                                                           for k, v in parsed.items()})
    totals = group_totals(by_age)
    absent = [g for g in parsed if ("net_migration", g) not in totals.columns or totals[("net_migration", g)].isna().all()]
    if absent:
        raise InputError(f"age group(s) {format_ids(absent)} are not in the by-age table (it has "
                         f"{format_ids(list(dict.fromkeys(by_age['age_group'])))}); compute it with these groups")
    fit = estimate(data, spec, **estimate_options)
    regions = estimate_options.get("regions")
    fits, coefs, atts, ranks = {}, [], [], []
    for g in parsed:
        fg = _refit(fit, totals, g, regions, fit.options.get("obs_weights"), fit.options.get("cov_type", "clustered"))
        fits[g] = fg
        c = fg.results.to_frame().reset_index()[["term", "estimate", "std_error", "t", "p"]]
        coefs.append(c.assign(nobs=fg.results.nobs, r2=fg.results.rsquared).assign(group=g))
        att = attractiveness(fg)
        atts.append(att.reset_index().assign(group=g))
        ranks.append(rankings(cumulate(att), n=n, names=data.names, unit_level=data.unit_level).assign(group=g))
    first = ["group"]
    notes.append(f"{len(parsed)} age group(s) estimated with the regressors of specification {fit.spec} at "
                 f"{fit.unit_level} level: " + "; ".join(f"{g} = ages {', '.join(_label(r) for r in rs)}"
                                                          for g, rs in parsed.items()))
    return GroupAttractiveness(
        groups=parsed, fits=fits,
        coefficients=_front(pd.concat(coefs, ignore_index=True), first),
        attractiveness=_front(pd.concat(atts, ignore_index=True), first),
        rankings=_front(pd.concat(ranks, ignore_index=True), first),
        notes=notes,
    )


def _front(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df[cols + [c for c in df.columns if c not in cols]]


def _label(r: AgeRange) -> str:
    lo, hi = r
    return f"{lo}+" if hi is None else (str(lo) if hi == lo else f"{lo}-{hi}")
