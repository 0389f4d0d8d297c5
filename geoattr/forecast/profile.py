"""How a unit's net migration spreads over ages and sexes, and its local fertility and mortality levels.

The age profile comes from the panel's subgroup columns ``net_migration__age_<lo>_<hi>``
(and ``..._<lo>_plus``) and the sex profile from ``net_migration__female`` /
``net_migration__male``.  A unit's share of group *g* is the least-squares slope of the
group's net migration on the total through the origin over the fit years,
``s_g = sum_t NM_g NM / sum_t NM^2``: how one more net migrant of the unit divides
among the groups (the shares add up to 1 because the groups add up to the total).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from geoattr.data import PanelData
from geoattr.demography import label_positions

__all__ = ["migration_profile", "vital_factors", "MIN_PROFILE_YEARS", "MAX_PROFILE_SHARE"]

#: Years with every group observed that a unit needs for its own profile.
MIN_PROFILE_YEARS = 5
#: A unit profile with a share beyond this (in absolute value) is too noisy: the national one is used.
MAX_PROFILE_SHARE = 3.0
_AGE = re.compile(r"^net_migration__age_(\d+)_(\d+|plus)$")


def _age_groups(columns: pd.Index, age_max: int) -> list[tuple[str, int, int]] | None:
    groups = []
    for c in columns:
        m = _AGE.match(str(c))
        if m:
            groups.append((str(c), int(m.group(1)), age_max if m.group(2) == "plus" else int(m.group(2))))
    groups.sort(key=lambda g: g[1])
    if not groups:
        return None
    covered = np.zeros(age_max + 1, dtype=int)
    for _, lo, hi in groups:
        covered[lo:min(hi, age_max) + 1] += 1
    return groups if (covered == 1).all() else None


def _slopes(parts: pd.DataFrame, total: pd.Series, units: pd.Index, what: str, rules: list[str]) -> np.ndarray:
    """Unit shares ``(N, G)`` by slopes through the origin; the national (pooled) shares where a unit's are unusable."""
    ok = parts.notna().all(axis=1) & total.notna()
    parts, total = parts[ok], total[ok]
    nat = (parts.mul(total, axis=0).sum() / float((total ** 2).sum())).to_numpy(float)
    num = parts.mul(total, axis=0).groupby(level="unit").sum()
    den = (total ** 2).groupby(level="unit").sum()
    n = total.groupby(level="unit").size()
    own = num.div(den.where(den > 0), axis=0).reindex(units)
    usable = (n.reindex(units).fillna(0) >= MIN_PROFILE_YEARS) & own.notna().all(axis=1) & \
        (own.abs() <= MAX_PROFILE_SHARE).all(axis=1)
    out = np.where(usable.to_numpy()[:, None], own.fillna(0.0).to_numpy(float), nat[None, :])
    rules.append(f"{what} profile of net migration: the unit's own (slope of each group's net migration on the total "
                 f"through the origin, fit years) for {int(usable.sum())} unit(s); the national profile "
                 f"{ {str(c): round(float(v), 3) for c, v in zip(parts.columns, nat)} } for the {int((~usable).sum())} with fewer than "
                 f"{MIN_PROFILE_YEARS} years or a share beyond +-{MAX_PROFILE_SHARE:g}")
    return out


def migration_profile(data: PanelData, units: pd.Index, years: tuple[int, int], *, age_max: int,
                      rules: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Net-migration shares by age group and sex of every unit.

    Parameters
    ----------
    data : PanelData
    units : pandas.Index
    years : (int, int)
        The years the profiles are estimated on (the fit years).
    age_max : int
        The open age of the population by age.
    rules : list of str
        Appended with the rule used.

    Returns
    -------
    group_shares : numpy.ndarray
        ``(N, G)``.
    group_of_age : numpy.ndarray
        ``(age_max + 1,)``.
    sex_shares : numpy.ndarray or None
        ``(N, 2)`` (female, male), None without the sex columns.
    """
    panel = data.panel
    yr = panel.index.get_level_values("year")
    sub = panel[(yr >= years[0]) & (yr <= years[1])]
    total = sub["net_migration"]
    groups = _age_groups(panel.columns, age_max)
    if groups is None:
        rules.append("age profile of net migration: no net_migration__age_* columns covering every age, so net "
                     "migrants are spread by the unit's population structure")
        shares, group_of_age = np.ones((len(units), 1)), np.zeros(age_max + 1, dtype=int)
    else:
        shares = _slopes(sub[[g[0] for g in groups]], total, units, "age", rules)
        group_of_age = np.zeros(age_max + 1, dtype=int)
        for k, (_, lo, hi) in enumerate(groups):
            group_of_age[lo:min(hi, age_max) + 1] = k
    sexes = None
    if {"net_migration__female", "net_migration__male"} <= set(panel.columns):
        sexes = _slopes(sub[["net_migration__female", "net_migration__male"]], total, units, "sex", rules)
    else:
        rules.append("sex profile of net migration: no net_migration__female/male columns, so each age's net "
                     "migrants are split by the unit's population of that age")
    rules.append("within an age group, net migrants are spread over single ages by the unit's launch population")
    return shares, group_of_age, sexes


def vital_factors(data: PanelData, units: pd.Index, fertility: np.ndarray, q: np.ndarray, *, last: int,
                  rules: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The unit's births and deaths relative to the national rates, over its last five years.

    Parameters
    ----------
    data : PanelData
    units : pandas.Index
    fertility : numpy.ndarray
        ``(A,)`` births per woman.
    q : numpy.ndarray
        ``(2, A)`` death probabilities.
    last : int
        The last observed year.
    rules : list of str

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Fertility and mortality factors ``(N,)``, clipped to [0.25, 4]; 1 without births
        and deaths in the panel.
    """
    panel, pa = data.panel, data.population_by_age
    window = list(range(last - 4, last + 1))
    if not {"births", "deaths"} <= set(panel.columns):
        rules.append("fertility and mortality: national rates (the data have no births and deaths by unit)")
        return np.ones(len(units)), np.ones(len(units))
    sub = pa[pa["year"].isin(window)]
    A = q.shape[1]
    age = sub["age"].clip(upper=A - 1).to_numpy()
    female = sub["sex"].to_numpy() == "female"
    pop = sub["population"].to_numpy(float)
    ui = label_positions(sub["unit"], units)
    yi = sub["year"].to_numpy() - window[0]
    keep = ui >= 0
    cell, n_cells = ui[keep] * len(window) + yi[keep], len(units) * len(window)  # rows summed in order, as np.add.at
    eb = np.bincount(cell, np.where(female, pop * fertility[age], 0.0)[keep], n_cells).reshape(len(units), len(window))
    ed = np.bincount(cell, (pop * np.where(female, q[0, age], q[1, age]))[keep], n_cells).reshape(len(units),
                                                                                                 len(window))
    idx = pd.MultiIndex.from_product([units, window], names=["unit", "year"])
    obs = panel[["births", "deaths"]].reindex(idx)
    ob = obs["births"].to_numpy(float).reshape(len(units), len(window))
    od = obs["deaths"].to_numpy(float).reshape(len(units), len(window))
    ok = ~np.isnan(ob) & ~np.isnan(od) & (eb > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kb = np.where(ok, ob, 0.0).sum(axis=1) / np.where(ok, eb, 0.0).sum(axis=1)
        kd = np.where(ok, od, 0.0).sum(axis=1) / np.where(ok, ed, 0.0).sum(axis=1)
    rules.append(f"fertility and mortality: national rates times the unit's factor = observed / expected births "
                 f"(deaths) over {window[0]}-{window[-1]}, clipped to [0.25, 4] (1 where not observed)")
    kb, kd = np.nan_to_num(kb, nan=1.0, posinf=1.0), np.nan_to_num(kd, nan=1.0, posinf=1.0)
    return np.clip(kb, 0.25, 4.0), np.clip(kd, 0.25, 4.0)
