"""Population by single age and sex on the 426 municipality codes of 2017, from table 07459 on 2024 codes.

Table 07459 (``population/``) is published on the codes of 2024.  The crosswalk
(``crosswalk/``) says which 2024 code(s) each 2017 code went into, with a weight (below 1
where a code was later split; the weights are equal shares, not population shares).  A
2017 code gets, of each 2024 code it went into, the share

``w(c17 -> c24) * P(c17, t) / sum over the 2017 codes c' of c24 of w(c' -> c24) * P(c', t)``

of that 2024 code's population of every age and sex, where ``P(c, t)`` is the published
population of the 2017 code on 1 January of ``t`` (the 2003-2016 panel; 2017 takes the
shares of 2016).  A 2017 code that went whole into one 2024 code alone gets exactly its
population by age; codes merged (or split) later get their population share with the
age-sex structure of the group they share.  Its total then equals the group's published
total split by population, so it differs from the published population only by the
difference between the two tables.  A (code, year) whose 2024 code(s) lack the year
(1160 and 1576 lack 2005) is left out and counted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.exceptions import InputError

__all__ = ["population_by_age_2017"]


def population_by_age_2017(population_path: Path, crosswalk_path: Path, population: pd.Series,
                           accounting: Accounting) -> pd.DataFrame:
    """Population by age and sex on 2017 codes, 1 January 2005-2017 (see the module docstring).

    Parameters
    ----------
    population_path, crosswalk_path : Path
        Table 07459 on 2024 codes and the crosswalk ``year, kommunenummer,
        kommunenummer_2024, weighting``.
    population : pandas.Series
        Published population by (2017 code, year), the weights of the shares.
    accounting : Accounting
        Records the rows read and dropped and the rule.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, year, sex, age, population``.
    """
    cw = pd.read_csv(crosswalk_path, dtype={"kommunenummer": str, "kommunenummer_2024": str})
    cw = cw[cw["year"] == 2017]
    links = pd.DataFrame({"unit": cw["kommunenummer"].str.zfill(4).to_numpy(),
                          "code24": cw["kommunenummer_2024"].str.zfill(4).to_numpy(),
                          "w": cw["weighting"].to_numpy(float)})
    units = population.index.get_level_values("unit").unique()
    missing = sorted(set(units) - set(links["unit"]))
    if missing:
        raise InputError(f"{len(missing)} code(s) of 2017 are not in the crosswalk: {format_ids(missing)}")
    links = links[links["unit"].isin(units)]
    last = int(population.index.get_level_values("year").max())
    pa = pd.read_csv(population_path, dtype={"kommunenummer": str})
    val.require_columns(pa, ["kommunenummer", "year", "sex", "age", "population"], table="population_by_age")
    pa = pa[pa["year"] <= last + 1]
    pa["code24"] = val.normalise_ids(pa["kommunenummer"], name="kommunenummer", width=4).to_numpy()
    accounting.record("population_by_age", read=len(pa))
    years = sorted(int(y) for y in pa["year"].unique())
    # weights: published population of the 2017 code in the year (the last panel year for the year after it)
    pop = population.rename("p").reset_index()
    pop = pd.concat([pop, pop[pop["year"] == last].assign(year=last + 1)], ignore_index=True)
    lw = links.merge(pd.DataFrame({"year": years}), how="cross").merge(pop, on=["unit", "year"], how="left")
    lw["wp"] = lw["w"] * lw["p"].fillna(0.0)
    lw["share"] = lw["wp"] / lw.groupby(["code24", "year"])["wp"].transform("sum")
    have = pa.groupby(["code24", "year"]).size().rename("n").reset_index()
    lw = lw.merge(have, on=["code24", "year"], how="left")
    hole = lw[lw["n"].isna()].groupby(["unit", "year"]).size().index
    out = pa.merge(lw[["unit", "code24", "year", "share"]], on=["code24", "year"])
    out["population"] = out["population"] * out["share"]
    out = out.groupby(["unit", "year", "sex", "age"], as_index=False)["population"].sum()
    if len(hole):
        drop = pd.MultiIndex.from_arrays([out["unit"], out["year"]]).isin(hole)
        accounting.record("population_by_age", read=0, dropped={
            f"2017 code-years whose 2024 code(s) lack the year ({format_ids(hole)}): not summed over a hole":
                int(drop.sum())})
        out = out[~drop].reset_index(drop=True)
    shared = links.groupby("code24")["unit"].transform("nunique") > 1
    accounting.note("population_by_age", f"population by age and sex (07459, 2024 codes) carried to the 2017 codes "
                                         f"by the crosswalk: {int(links.loc[shared, 'unit'].nunique())} code(s) share "
                                         "a 2024 code with others (merged or split later) and get their share by "
                                         "published population (x the crosswalk weight) with the age-sex structure "
                                         f"of the group; the shares of {last} serve {last + 1}")
    return out
