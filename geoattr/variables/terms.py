"""Level terms of the model: net migration rate ``y``, labour-market integration ``AMI``, centrality and
demographic employment supply ``DS`` (MODEL.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.data.grouping import combined_codes
from geoattr.exceptions import InputError

__all__ = ["net_migration_rate", "labour_market_integration", "centrality", "demographic_supply",
           "demographic_supply_factors"]


def net_migration_rate(data: PanelData, column: str = "net_migration") -> pd.Series:
    """Net migration in % of the population on 1 January: ``100 * NM / P``.

    Parameters
    ----------
    data : PanelData
        Needs the panel columns ``net_migration`` (or ``column``) and ``population``.
    column : str, default "net_migration"
        Net migration column (persons); a subgroup's column (e.g.
        ``net_migration__female``) gives that group's contribution to the rate.

    Returns
    -------
    pandas.Series
        Named ``y`` on the (unit, year) index.
    """
    nm = data.column(column)
    return (100.0 * nm / data.column("population")).rename("y")


def labour_market_integration(flows: pd.DataFrame, units: pd.Index) -> pd.Series:
    """Labour-market integration ``AMI`` from one year's commuting table.

    ``AMI[i] = 100 * in-commuters / jobs + 100 * out-commuters / employed residents``,
    with the denominators from the table's own column sums (jobs) and row sums
    (employed residents); in-commuters exclude the diagonal.  Units with no flows get
    NaN.

    Parameters
    ----------
    flows : pandas.DataFrame
        Columns ``origin, destination, count`` for one year.
    units : pandas.Index
        Units to report.
    """
    diag = flows.loc[flows["origin"] == flows["destination"]].groupby("origin")["count"].sum()
    rows = flows.groupby("origin")["count"].sum()
    cols = flows.groupby("destination")["count"].sum()
    d = diag.reindex(units).fillna(0.0)
    r, c = rows.reindex(units), cols.reindex(units)
    with np.errstate(invalid="ignore", divide="ignore"):
        ami = 100.0 * (c - d) / c + 100.0 * (r - d) / r
    return ami.rename("ami")


def centrality(c: pd.Series, *, mean: float | None = None) -> pd.Series:
    """Centrality scaled and centred: ``c/1000 - mean(c/1000)``.

    Parameters
    ----------
    c : pandas.Series
        Index 0-1000 per unit.
    mean : float, optional
        Centring constant; default the unweighted mean of ``c/1000`` (municipalities).
        Regions pass the municipal constant so that coefficients transfer.
    """
    scaled = c / 1000.0
    return (scaled - (scaled.mean() if mean is None else mean)).rename("centrality")


def demographic_supply_factors(employment_rates: pd.DataFrame, death_probabilities: pd.DataFrame) -> pd.DataFrame:
    """The weight of a person of each age 14-74 and sex in the numerator of :func:`demographic_supply`.

    ``e[a+1,s] - e[a,s] - q[a,s] * e[a,s]``, employment rates set to 0 outside ages
    15-74 (MODEL.md convention).

    Parameters
    ----------
    employment_rates, death_probabilities : pandas.DataFrame
        Index age, columns ``female`` and ``male``.

    Returns
    -------
    pandas.DataFrame
        Index age 14-74, columns ``female`` and ``male``.

    Raises
    ------
    InputError
        When the death probabilities lack some of the ages 14-74.
    """
    ages = np.arange(14, 75)
    e = employment_rates.reindex(np.arange(0, 76)).fillna(0.0).copy()
    e.loc[(e.index < 15) | (e.index > 74)] = 0.0
    missing_q = [a for a in ages if a not in death_probabilities.index]
    if missing_q:
        raise InputError(
            f"death_probabilities lacks ages {format_ids(missing_q)}; ages 14-74 are needed"
        )
    factor = {}
    for sex in ("female", "male"):
        es = e[sex]
        factor[sex] = pd.Series(
            es.reindex(ages + 1).to_numpy() - es.reindex(ages).to_numpy()
            - death_probabilities[sex].reindex(ages).to_numpy() * es.reindex(ages).to_numpy(),
            index=ages,
        )
    return pd.DataFrame(factor)


def demographic_supply(
    population_by_age: pd.DataFrame,
    jobs: pd.Series,
    employment_rates: pd.DataFrame,
    death_probabilities: pd.DataFrame,
    *,
    years: Sequence[int] | None = None,
) -> pd.Series:
    """Demographic employment supply ``DS``, centred on the national value of each year.

    For each sex and age *a* from 14 to 74:
    ``P[i,a,s,t] * (e[a+1,s] - e[a,s]) - P[i,a,s,t] * q[a,s] * e[a,s]``, summed, divided
    by the jobs (by workplace) in *i* in year *t*, times 100; minus the national value
    ``100 * sum_i(numerator) / sum_i(jobs)`` of that year.  Employment rates are set
    to 0 outside ages 15-74 (MODEL.md convention).

    Parameters
    ----------
    population_by_age : pandas.DataFrame
        Columns ``unit, year, sex, age, population`` (1 January).
    jobs : pandas.Series
        Jobs by workplace on (unit, year).
    employment_rates, death_probabilities : pandas.DataFrame
        Index age, columns ``female`` and ``male``.
    years : sequence of int, optional
        Restrict to these years.

    Returns
    -------
    pandas.Series
        Named ``ds`` on the (unit, year) index.
    """
    ages = np.arange(14, 75)
    factor = demographic_supply_factors(employment_rates, death_probabilities)
    pa = population_by_age
    age = pa["age"]
    keep = age.between(14, 74).to_numpy()
    if years is not None:
        keep = keep & pa["year"].isin(list(years)).to_numpy()
    cols = {c: pa[c][keep] for c in ("unit", "year", "sex", "age", "population")}
    codes = {c: pd.factorize(cols[c], sort=True) for c in ("unit", "year", "sex")}
    if any((codes[c][0] < 0).any() for c in codes) or _ages_short(codes, cols["age"], len(ages)):
        pa = pd.DataFrame(cols)  # a missing id, or some group lacks ages: the message names the groups
        counts = pa.groupby(["unit", "year", "sex"])["age"].nunique()
        short = counts[counts < len(ages)]
        if len(short):
            raise InputError(
                f"population_by_age lacks some ages 14-74 for {len(short)} (unit, year, sex) group(s): "
                f"{format_ids(short.index)}; every single age from 14 to 74 is needed for DS"
            )
    sex, age_rows = cols["sex"].to_numpy(), cols["age"]
    f = np.where(sex == "female", factor["female"].reindex(age_rows).to_numpy(),
                 factor["male"].reindex(age_rows).to_numpy())
    num = (cols["population"].to_numpy() * f)
    # the (unit, year) sums of pandas' grouping, on integer codes: the same rows in the same order per group
    (uc, units), (yc, yrs) = codes["unit"], codes["year"]
    valid = (uc >= 0) & (yc >= 0)  # rows without a unit or year are in no group, as in pandas
    gid = pd.Series(num[valid]).groupby((uc.astype(np.int64) * len(yrs) + yc)[valid]).sum()
    g = gid.index.to_numpy()
    numerator = pd.Series(gid.to_numpy(), index=pd.MultiIndex.from_arrays(
        [units.take(g // len(yrs)), yrs.take(g % len(yrs))], names=["unit", "year"]))
    j = jobs.reindex(numerator.index)
    if j.isna().any():
        bad = j.index[j.isna()]
        raise InputError(f"jobs are missing for DS in {len(bad)} (unit, year) cell(s): {format_ids(bad)}")
    local = 100.0 * numerator / j
    national = 100.0 * numerator.groupby(level="year").sum() / j.groupby(level="year").sum()
    return (local - national.reindex(local.index.get_level_values("year")).to_numpy()).rename("ds")


def _ages_short(codes: dict[str, tuple[np.ndarray, pd.Index]], age: pd.Series, n_ages: int) -> bool:
    """Whether some (unit, year, sex) group has fewer than ``n_ages`` distinct ages.

    Rows sorted by group and age without repeats (the usual table) are counted in one
    pass; otherwise the distinct (group, age) pairs are counted.  True as well when the
    groups do not fit one integer key: the caller then counts them with pandas.
    """
    group = combined_codes([codes[c][0] for c in ("unit", "year", "sex")],
                           [len(codes[c][1]) for c in ("unit", "year", "sex")])
    if group is None:  # no room for one integer: the caller's general count decides
        return True
    a = pd.factorize(age, sort=True)[0]
    key = group * (int(a.max(initial=0)) + 1) + a
    if not (len(key) < 2 or bool((np.diff(key) > 0).all())):
        key = np.unique(key)
        group = key // (int(a.max(initial=0)) + 1)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]  # group is sorted: one run per group
    return bool((np.diff(np.r_[starts, len(group)]) < n_ages).any()) if len(group) else False
