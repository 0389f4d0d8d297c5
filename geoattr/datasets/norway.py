"""Statistics Norway (SSB) directory adapter.

Reads the tables SSB publishes, in the layouts of ``shared/data/norway`` (see its
README), from any directory the user names; nothing is copied into the project.

Implemented panel: ``"2003-2016"`` — the 426 municipalities of the 2017 structure
(no harmonisation needed), jobs by workplace and population from the 2003-2016 panel,
net migration as published (``befolkningsvekst_pct - fodselsoverskudd_pct``, in % of
the population on 1 January), VRA from the 2017 commuting matrix (the earliest
available; every year uses it, recorded as a substitution), centrality from the 2020
classification on 2024 codes (a 2017 code takes the value of the 2024 municipality it
became part of; for a code later split, the part with the largest crosswalk weight),
and the 85 functional regions (defined on 2017 codes).

Panel ``"2003-2022"``: on the 353 stable units (or the 2024 codes), jobs spliced from
the 2003-2016 panel and table 11618, year-specific commuting matrices from 2017, net
migration published through 2016 and estimated by the cohort residual method from 2017
(flagged), Rindal's 2019 hole interpolated (flagged), the 85 functional or the 159
commuting regions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.data import Crosswalk, HarmonisedPanel, PanelData, harmonise_flows, harmonise_panel
from geoattr.demography import (
    cohort_residual_net_migration,
    compare_net_migration,
    death_probabilities_from_population,
)
from geoattr.datasets.mortality import by_year_note, death_probabilities_by_year
from geoattr.datasets.national_rates import panel_rates, read_hmd_mortality
from geoattr.datasets.norway_age import population_by_age_2017
from geoattr.exceptions import InputError
from geoattr.io import read_flows, read_mapping, read_polygons

__all__ = ["load", "FILES", "regions_to_stable", "population_by_code"]

#: Default file names inside the SSB directory (relative paths).
FILES = {
    "panel_2003_2016": "jobs/kommune_panel_2003_2016.csv",
    "commuting": "commuting/pendling_03321_2017_2022.csv.gz",
    "centrality": "centrality/sentralitetsindeks_2020_kommuner_b2024.csv",
    "crosswalk": "crosswalk/kommune_to_2024_by_year.csv",
    "regions85": "regions/regioner_85_kommuner_2016.csv",
    "polygons2024": "polygons/kommuner_2024.geojson",
    "jobs_11618": "jobs/sysselsatte_11618_2017_2022.csv",
    "population_by_age": "population/population_by_age_sex_b2024.csv.gz",
    "ba_regions2024": "regions/ba_regioner_2024.csv",
    "employment": "employment/employment_rate_by_age_sex_ilostat_2000_2024.csv",
    "mortality": "mortality/hmd_mx_deaths_population_1x1_2000_2023.csv.gz",
}
#: Rindal: 1567 until 2018, 5061 from 2019; absent from the 2019 commuting table and zero in 11618 2019.
RINDAL = {"codes": ("1567", "5061"), "year": 2019}
STABLE_YEARS = range(2017, 2025)


def _path(data_dir: Path, key: str) -> Path:
    p = data_dir / FILES[key]
    if not p.exists():
        raise InputError(f"SSB file {FILES[key]!r} not found in {str(data_dir)!r}; pass the folder that holds the "
                         "SSB tables (data_dir=) or see the README for the expected layout")
    return p


def _centrality_for(codes: pd.Index, year: int, data_dir: Path, acc: Accounting) -> pd.Series:
    """Centrality of codes valid in ``year``, via the crosswalk to 2024 codes."""
    cw = pd.read_csv(_path(data_dir, "crosswalk"), dtype={"kommunenummer": str, "kommunenummer_2024": str})
    cw = cw[cw["year"] == year]
    best = cw.sort_values(["kommunenummer", "weighting", "kommunenummer_2024"], ascending=[True, False, True])
    target = best.drop_duplicates("kommunenummer").set_index("kommunenummer")["kommunenummer_2024"]
    missing = sorted(set(codes) - set(target.index))
    if missing:
        raise InputError(f"{len(missing)} code(s) of {year} are not in the crosswalk: {format_ids(missing)}")
    cent = pd.read_csv(_path(data_dir, "centrality"), dtype={"kommunenummer": str}).set_index("kommunenummer")
    values = cent["sentralitetsindeks"].reindex(target.reindex(codes).to_numpy())
    if values.isna().any():
        bad = codes[values.isna().to_numpy()]
        raise InputError(f"no centrality for the 2024 successors of {format_ids(bad)}")
    changed = int((target.reindex(codes).to_numpy() != codes.to_numpy()).sum())
    acc.note("centrality", f"centrality index of 2020 on 2024 codes; {changed} code(s) of {year} took the value of "
                           "the 2024 municipality they became part of")
    return pd.Series(values.to_numpy(dtype=float), index=pd.Index(codes, name="unit"), name="centrality")


def load(data_dir: str | Path, *, panel: str = "2003-2016", regions: str = "regions85",
         units: str = "2017", rate_years: tuple[int, int] | None = None) -> PanelData:
    """Load SSB tables from ``data_dir`` into a :class:`~geoattr.data.PanelData`.

    Parameters
    ----------
    data_dir : str or Path
        Folder with the SSB tables (layout of ``shared/data/norway``).
    panel : {"2003-2016", "2003-2022"}, default "2003-2016"
        Which panel to build (see the module docstring).  ``"2003-2022"``: jobs spliced
        from the 2003-2016 panel and table 11618, each year's commuting matrix from
        2017, net migration published through 2016 and estimated by the cohort
        residual method afterwards (``data.flags``, ``data.net_migration_agreement``),
        Rindal's 2019 hole interpolated; on ``units="stable"`` or ``"2024"``.
    regions : {"regions85", "ba159"}, default "regions85"
        Unit -> region mapping: the 85 functional regions (2017 codes) or SSB's 159
        commuting regions of 2024 (``panel="2003-2022"`` only).
    units : {"2017", "stable", "2024"}, default "2017"
        ``"2024"`` (``panel="2003-2022"`` only): the 357 municipalities of 2024, codes
        split later shared out by the crosswalk weights (equal shares), flagged
        ``split_weighted`` in ``data.flags``.
        ``"stable"`` recodes panel and flows to the 353 stable units (codes linked
        through the crosswalk in 2017-2024 merged; only merges happen), with the 2024
        polygons dissolved to them (so the results can be mapped); centrality becomes
        the population-weighted mean of the merged codes, and a stable unit whose
        codes lie in two functional regions goes to the region holding most of its
        population (listed in the accounting).
    rate_years : (int, int), optional
        Inclusive years over which the national employment rates and death rates of
        ``employment/`` and ``mortality/`` (when present) are averaged; default the
        panel's years.  The population by age and sex (07459) is attached too (on
        ``units="2017"`` carried back by the crosswalk,
        :mod:`geoattr.datasets.norway_age`), so DS can be estimated;
        see :mod:`geoattr.datasets.national_rates` for the rules.

    Returns
    -------
    PanelData
        Municipality level, 2017 codes, years 2003-2016, with the 2017 commuting
        flows, centrality and the regions; the accounting notes say what was
        substituted (commuting year, centrality codes) and dropped (other flow years).
    """
    data_dir = Path(data_dir)
    if panel not in ("2003-2016", "2003-2022"):
        raise InputError(f"panel {panel!r} is not available; use '2003-2016' (2017 codes or stable units) or "
                         "'2003-2022' (stable units)")
    if regions not in ("regions85", "ba159"):
        raise InputError(f"regions {regions!r} is not available; use 'regions85' (85 functional regions) or 'ba159' "
                         "(SSB's 159 commuting regions)")
    if units not in ("2017", "stable", "2024"):
        raise InputError(f"units must be '2017', 'stable' or '2024', got {units!r}")
    acc = Accounting()
    if panel == "2003-2022":
        if units == "2017":
            raise InputError("panel '2003-2022' spans four code structures: it is built on units='stable' (merges "
                             "only) or units='2024' (split codes shared out by the crosswalk weights, flagged)")
        data = _load_2003_2022(data_dir, regions=regions, acc=acc, target="stable" if units == "stable" else "target")
        return _named(_with_rates(data, data_dir, rate_years), data_dir, regions)
    if units == "2024":
        raise InputError("units='2024' is available with panel='2003-2022'; the 2003-2016 panel uses '2017' or "
                         "'stable'")
    if regions == "ba159":
        raise InputError("regions 'ba159' (on 2024 codes) is available with panel='2003-2022'; the 2003-2016 panel "
                         "uses the 85 functional regions of its 2017 codes")
    panel_df = _published_panel(data_dir, acc)
    units_kind = units
    units = pd.Index(sorted(panel_df.index.get_level_values("unit").unique()))
    flows = read_flows(_path(data_dir, "commuting"), origin="bosted", destination="arbeidssted",
                       value="sysselsatte", accounting=acc)
    f17 = flows[flows["year"] == 2017]
    acc.record("flows", read=0, dropped={"years other than 2017 (the 2017 structure)": int(len(flows) - len(f17))})
    unknown = sorted((set(f17["origin"].unique()) | set(f17["destination"].unique())) - set(units))
    if unknown:
        raise InputError(f"{len(unknown)} code(s) of the 2017 commuting table are not in the panel: {format_ids(unknown)}")
    acc.note("flows", "the 2017 commuting matrix (the earliest available) is used for every year 2003-2016")
    centrality = _centrality_for(units, 2017, data_dir, acc)
    reg = read_mapping(_path(data_dir, "regions85"), key="kommunenummer", value="region_nr", id_width=4)
    missing = sorted(set(units) - set(reg.index))
    if missing:
        raise InputError(f"{len(missing)} unit(s) have no functional region: {format_ids(missing)}")
    if units_kind == "stable":
        data = _stable(panel_df, f17.reset_index(drop=True), centrality, reg.reindex(units), data_dir, acc)
        return _named(_with_rates(data, data_dir, rate_years), data_dir, regions)
    data = PanelData(panel_df, flows=f17.reset_index(drop=True), centrality=centrality, regions=reg.reindex(units),
                     accounting=acc)
    if np.isnan(data.panel["net_migration"]).any():  # pragma: no cover - the published file is complete
        acc.note("panel", f"{int(data.panel['net_migration'].isna().sum())} missing net-migration value(s)")
    if (data_dir / FILES["population_by_age"]).exists():  # carried to the 2017 codes by the crosswalk (shares)
        pa = population_by_age_2017(data_dir / FILES["population_by_age"], _path(data_dir, "crosswalk"),
                                    panel_df["population"], acc)
        return _named(_with_rates(data.replace(population_by_age=pa), data_dir, rate_years), data_dir, regions)
    acc.note("population_by_age", f"no population by age and sex ({FILES['population_by_age']}): DS cannot be "
                                  "computed")
    data = _with_rates(data, data_dir, rate_years)
    hint = {"population_by_age": f"add {FILES['population_by_age']} (SSB table 07459) to {str(data_dir)!r}"}
    return _named(data.replace(info={**data.info, "ds_hint": {**data.info.get("ds_hint", {}), **hint}}),
                  data_dir, regions)


def _named(data: PanelData, data_dir: Path, regions: str) -> PanelData:
    """The data with region names (and municipality names of 2017 codes) from the region files."""
    if regions == "regions85":
        f = pd.read_csv(_path(data_dir, "regions85"), dtype=str)
        unit_names = pd.Series(f["navn"].to_numpy(), index=f["kommunenummer"].str.zfill(4).to_numpy())
        names = pd.Series(f["region"].to_numpy(), index=f["region_nr"].to_numpy())
    else:
        f = pd.read_csv(_path(data_dir, "ba_regions2024"), dtype=str)
        unit_names = pd.Series(f["kommunenavn"].to_numpy(), index=f["kommunenummer"].str.zfill(4).to_numpy())
        names = pd.Series(f["ba_region"].to_numpy(), index=f["ba_region_nr"].to_numpy())
    return data.replace(unit_names=unit_names, region_names=names)


def _stable(panel: pd.DataFrame, flows: pd.DataFrame, centrality: pd.Series, regions: pd.Series, data_dir: Path,
            acc: Accounting) -> PanelData:
    """Recode the 2017-code panel and flows to the stable units of 2017-2024 and attach polygons."""
    cw = Crosswalk.from_frame(pd.read_csv(_path(data_dir, "crosswalk"), dtype={"kommunenummer": str,
                                                                               "kommunenummer_2024": str}))
    hp = harmonise_panel(panel, cw, years_of_codes=2017, stable_years=STABLE_YEARS)
    hf = harmonise_flows(flows, cw, years_of_codes=2017, stable_years=STABLE_YEARS)
    acc.extend(hp.accounting)
    acc.extend(hf.accounting)
    stable_of_2017 = cw.stable_units(STABLE_YEARS).reindex(centrality.index)
    pop = panel["population"].groupby(level="unit").mean().reindex(centrality.index)
    cent = (centrality * pop).groupby(stable_of_2017).sum() / pop.groupby(stable_of_2017).sum()
    by_region = pd.DataFrame({"stable": stable_of_2017, "region": regions, "pop": pop})
    share = by_region.groupby(["stable", "region"])["pop"].sum().reset_index().sort_values(
        ["stable", "pop"], ascending=[True, False])
    straddle = share.groupby("stable").size()
    straddle = straddle[straddle > 1]
    reg = share.drop_duplicates("stable").set_index("stable")["region"]
    if len(straddle):
        acc.note("regions", f"{len(straddle)} stable unit(s) straddle two regions and go to the one holding most of "
                            f"their population: {format_ids(straddle.index)}")
    polys = read_polygons(_path(data_dir, "polygons2024"), id_column="kommunenummer", name_column="kommunenavn",
                          accounting=acc)
    target = cw.stable_targets(STABLE_YEARS).reindex(polys.index)
    g = polys.assign(stable=target.to_numpy())
    names = g.groupby("stable")["name"].agg(lambda s: "/".join(sorted(s)))
    dissolved = g[["stable", "geometry"]].dissolve(by="stable")
    dissolved = gpd.GeoDataFrame({"name": names.reindex(dissolved.index).to_numpy()}, geometry=dissolved.geometry,
                                 index=pd.Index(dissolved.index, name="unit"), crs=polys.crs).to_crs(25833)
    acc.note("panel", f"recoded to {hp.panel.index.get_level_values(0).nunique()} stable units (2017-2024)")
    pa = _population_by_age_stable(data_dir, _stable_map_2024(cw), acc)
    return PanelData(hp.panel, flows=hf.flows, centrality=cent.rename("centrality"), regions=reg.rename("region"),
                     polygons=dissolved, accounting=acc, harmonisation_report=hp.report,
                     population_by_age=_panel_years(pa, hp.panel, acc))


def _panel_years(pa: pd.DataFrame, panel: pd.DataFrame, acc: Accounting) -> pd.DataFrame:
    """The population by age of the panel's years and the year after (the cohort residual's t + 1)."""
    last = int(panel.index.get_level_values("year").max()) + 1
    acc.record("population_by_age", read=0, dropped={f"years after {last} (beyond the panel)":
                                                     int((pa["year"] > last).sum())})
    return pa[pa["year"] <= last].reset_index(drop=True)


def _with_rates(data: PanelData, data_dir: Path, rate_years: tuple[int, int] | None) -> PanelData:
    """Attach the national employment rates and death probabilities of the folder (when present)."""
    first, last = rate_years if rate_years is not None else (int(data.years.min()), int(data.years.max()))
    kw, notes = panel_rates(data_dir / FILES["employment"], data_dir / FILES["mortality"],
                            population_by_age=data.population_by_age, years=range(int(first), int(last) + 1))
    for n in notes:
        data.accounting.note("national_rates", n)
    info = {**data.info, **kw.pop("info", {})}  # type: ignore[dict-item]
    missing = {need: f"{notes[0]}; add {FILES['employment']} to {str(data_dir)!r}" for need in ["employment_rates"]
               if need not in kw}
    if missing:
        info["ds_hint"] = missing
    return data.replace(info=info, **kw)


# --------------------------------------------------------------------------- 2003-2022
def _stable_map_2024(cw: Any) -> pd.Series:
    """2024 code -> stable unit id."""
    return cw.stable_targets(STABLE_YEARS)


def _population_by_age_stable(data_dir: Path, to_stable: pd.Series, acc: Accounting) -> pd.DataFrame:
    """Population by single age and sex (07459, 2024 codes) summed to stable units.

    A (stable unit, year) for which some of its 2024 codes have no rows (1160 and 1576
    lack 2005) is dropped whole, and counted: a partial sum would look like emigration.
    """
    pa = pd.read_csv(_path(data_dir, "population_by_age"), dtype={"kommunenummer": str})
    val.require_columns(pa, ["kommunenummer", "year", "sex", "age", "population"], table="population_by_age")
    pa["kommunenummer"] = val.normalise_ids(pa["kommunenummer"], name="kommunenummer", width=4).to_numpy()
    acc.record("population_by_age", read=len(pa))
    unknown = sorted(set(pa["kommunenummer"].unique()) - set(to_stable.index))
    if unknown:
        raise InputError(f"{len(unknown)} code(s) of the population table are not 2024 codes of the crosswalk: "
                         f"{format_ids(unknown)}")
    pa["unit"] = to_stable.reindex(pa["kommunenummer"]).to_numpy()
    members = to_stable.groupby(to_stable).size()
    have = pa.groupby(["unit", "year"])["kommunenummer"].nunique()
    incomplete = have[have < members.reindex(have.index.get_level_values(0)).to_numpy()]
    # units absent altogether in a year are incomplete too
    years = sorted(pa["year"].unique())
    full = pd.MultiIndex.from_product([members.index, years], names=["unit", "year"])
    absent = full.difference(have.index)
    bad = incomplete.index.append(absent)
    if len(absent):
        acc.note("population_by_age", f"{len(absent)} stable unit-year(s) have no rows: {format_ids(absent)}")
    if len(bad):
        drop = pd.MultiIndex.from_arrays([pa["unit"], pa["year"]]).isin(bad)
        acc.record("population_by_age", read=0, dropped={
            f"stable unit-years with codes missing from the table ({format_ids(bad)}): not summed over a hole":
                int(drop.sum())})
        pa = pa[~drop]
    out = pa.groupby(["unit", "year", "sex", "age"], as_index=False)["population"].sum()
    return out


def _load_2003_2022(data_dir: Path, *, regions: str, acc: Accounting, target: str = "stable") -> PanelData:
    """The 2003-2022 panel on the 353 stable units, or on 2024 codes (see :func:`load`)."""
    cw = Crosswalk.from_frame(pd.read_csv(_path(data_dir, "crosswalk"), dtype={"kommunenummer": str,
                                                                               "kommunenummer_2024": str}))
    if target == "stable":
        to_stable = _stable_map_2024(cw)
    else:  # the 2024 codes themselves; codes split later are shared out by the crosswalk weights (flagged)
        codes24 = sorted(cw.table.loc[cw.table["year"] == 2024, "target"].unique())
        to_stable = pd.Series(codes24, index=pd.Index(codes24), name="unit")
    hkw = {"target": target, "stable_years": STABLE_YEARS}
    # 1. the published panel, 2003-2016 on 2017 codes
    old = _published_panel(data_dir, acc)
    hp_old = harmonise_panel(old, cw, years_of_codes=2017, **hkw)
    acc.extend(hp_old.accounting)
    # 2. 11618 from 2017, each year's own codes
    hp_new, jn, interpolated = _jobs_11618(data_dir, cw, to_stable, hkw, acc)
    # 3. population by age (2024 codes) -> stable units; population from 2017; cohort residual
    pa = _population_by_age_stable(data_dir, to_stable, acc)
    pop_age = pa.groupby(["unit", "year"])["population"].sum()
    est, agreement = _net_migration_estimate(data_dir, pa, hp_old.panel, acc)
    # 4. splice
    panel = _splice(hp_old.panel, pop_age, jn, est, to_stable, acc)
    # 5. commuting: every year's own matrix, harmonised on both ends; Rindal 2019 interpolated
    flows = read_flows(_path(data_dir, "commuting"), origin="bosted", destination="arbeidssted",
                       value="sysselsatte", accounting=acc)
    hf = harmonise_flows(flows, cw, **hkw)
    acc.extend(hf.accounting)
    rindal = to_stable[RINDAL["codes"][1]]
    f, n_interp = _interpolate_rindal_flows(hf.flows, rindal, RINDAL["year"])
    acc.record(hf.table_name, read=0, added={f"flows of Rindal ({rindal}) in {RINDAL['year']} interpolated": n_interp})
    acc.note("flows", f"year-specific commuting matrices 2017-2022 (each on its own codes, recoded on both ends to "
                      f"stable units); 2003-2016 use the 2017 matrix, the earliest available. The 2019 table has no "
                      f"rows for Rindal ({rindal}): its {n_interp} 2019 flows (from or to Rindal) are interpolated as "
                      "the mean of 2018 and 2020 (flagged flows_interpolated)")
    # 6. centrality: the 2024 classification, population-weighted over the 2024 codes of a stable unit
    pop24 = _population_2024_by_code(data_dir)
    centrality = _centrality_stable(data_dir, to_stable, pop24, acc)
    units = pd.Index(sorted(to_stable.unique()), name="unit")
    reg = _regions_for_stable(regions, data_dir, cw, units, old, pop24, to_stable, acc, target=target)
    polys = _stable_polygons(data_dir, cw, acc, mapping=to_stable)
    flags = _flags(panel.index, interpolated, rindal)
    if target == "target":
        split = pd.concat([hp_old.split_weighted, hp_new.split_weighted.reindex(
            hp_new.panel.index)]).groupby(level=[0, 1]).any()
        flags["split_weighted"] = split.reindex(flags.index).fillna(False).astype(bool)
        acc.note("panel", f"units = 2024 codes: {int(flags['split_weighted'].sum())} unit-year(s) include shares of "
                          "codes split later, divided by the crosswalk's weights, which are equal shares, not "
                          "population shares (flagged split_weighted); units='stable' merges instead")
    report = pd.concat([hp_old.report.assign(table="panel_2003_2016"), hp_new.report.assign(table="jobs_11618"),
                        hf.report.assign(table="flows")], ignore_index=True)
    return PanelData(panel, flows=f, centrality=centrality.reindex(units), regions=reg, polygons=polys,
                     accounting=acc, harmonisation_report=report, flags=flags,
                     population_by_age=_panel_years(pa, panel, acc),
                     info={"net_migration_agreement": agreement})


def _jobs_11618(
    data_dir: Path, cw: Crosswalk, to_stable: pd.Series, hkw: dict[str, Any], acc: Accounting
) -> tuple[HarmonisedPanel, pd.DataFrame, list[tuple[str, int]]]:
    """Jobs and employed residents of table 11618 from 2017 on harmonised units; holes interpolated."""
    j = pd.read_csv(_path(data_dir, "jobs_11618"), dtype={"kommunenummer": str})
    val.require_columns(j, ["kommunenummer", "year", "sysselsatte_arbeidssted", "sysselsatte_bosted",
                            "befolkning_15_74_bosted"], table="sysselsatte_11618")
    j["kommunenummer"] = val.normalise_ids(j["kommunenummer"], name="kommunenummer", width=4).to_numpy()
    acc.record("jobs_11618", read=len(j))
    jobs_new = pd.DataFrame(
        {"jobs": j["sysselsatte_arbeidssted"].to_numpy(dtype=float),
         "employed_residents": j["sysselsatte_bosted"].to_numpy(dtype=float)},
        index=pd.MultiIndex.from_arrays([j["kommunenummer"].to_numpy(), j["year"].astype(int).to_numpy()],
                                        names=["unit", "year"]))
    # the Rindal 2019 row is all zeros, under its old code 1567: a hole, not an empty municipality
    zero = (jobs_new == 0).all(axis=1)
    hole = list(jobs_new.index[zero])
    acc.record("jobs_11618", read=0, dropped={"all-zero rows (a hole; interpolated below)": int(zero.sum())})
    hp_new = harmonise_panel(jobs_new[~zero], cw, **hkw)
    step = Accounting()
    step.extend(hp_new.accounting)
    h = step[hp_new.table_name]
    acc.record("jobs_11618 (harmonised)", read=h.read, dropped=h.dropped, added=h.added, source="jobs_11618",
               note="; ".join(h.notes))
    grid = pd.MultiIndex.from_product([sorted(to_stable.unique()), sorted(jobs_new.index.get_level_values(1).unique())],
                                      names=["unit", "year"])
    jn = hp_new.panel.reindex(grid)
    interpolated: list[tuple[str, int]] = []
    for u, y in jn.index[jn["jobs"].isna()]:
        prev, nxt = (u, y - 1), (u, y + 1)
        if prev not in jn.index or nxt not in jn.index:
            raise InputError(f"11618: no value for {u} in {y} and no neighbouring years to interpolate from")
        jn.loc[(u, y)] = (jn.loc[prev] + jn.loc[nxt]) / 2
        interpolated.append((u, y))
    acc.record("jobs_11618 (harmonised)", read=0, added={"unit-years of a hole interpolated": len(interpolated)},
               dropped={"years or units outside the stable grid": len(hp_new.panel) + len(interpolated) - len(jn)})
    if hole:
        acc.note("jobs_11618", f"{len(hole)} zero row(s) of 11618 treated as missing ({format_ids(hole)}: Rindal is "
                               f"zero in 2019) and interpolated as the mean of the year before and after: "
                               f"{format_ids(interpolated)}")
    return hp_new, jn, interpolated


def _net_migration_estimate(
    data_dir: Path, pa: pd.DataFrame, published_panel: pd.DataFrame, acc: Accounting
) -> tuple[pd.Series, pd.Series]:
    """Cohort-residual net migration 2005-2022 and its agreement with the published values.

    Death probabilities: each year's from the national death rates of ``mortality/``
    when present, else (the fallback) a Gompertz fit calibrated on the published natural
    increase."""
    mortality = data_dir / FILES["mortality"]
    if mortality.exists():
        q = death_probabilities_by_year(read_hmd_mortality(mortality), years=range(2005, 2023))
        source = "each year's national death probabilities from the central death rates (Human Mortality Database)"
        acc.note("net_migration", f"death probabilities of the cohort residual: {by_year_note(q)}")
    else:
        q, source = _calibrated_gompertz(data_dir, pa, acc)
    cr = cohort_residual_net_migration(pa, q, years=range(2005, 2023))
    est = cr.table["net_migration_estimate"]
    if cr.skipped:
        acc.note("net_migration", f"cohort residual not computed for {len(cr.skipped)} unit-year(s) whose population "
                                  f"of t or t+1 is missing: {format_ids(cr.skipped)}")
    agreement = compare_net_migration(est[est.index.get_level_values(1) <= 2016], published_panel["net_migration"],
                                      population=published_panel["population"])
    acc.note("net_migration", "net migration as published through 2016 and estimated by the cohort residual method "
                              f"(population by age and sex, {source}) from 2017 (flagged net_migration_estimated); "
                              "agreement with the published values 2005-2016: correlation "
                              f"{agreement['correlation']:.4f}, mean absolute error {agreement['mae_persons']:.1f} "
                              f"persons, bias {agreement['bias_persons']:.2f} persons (n = {int(agreement['n'])})")
    return est, agreement


def _calibrated_gompertz(data_dir: Path, pa: pd.DataFrame, acc: Accounting) -> tuple[pd.DataFrame, str]:
    """The fallback without ``mortality/``: a Gompertz fit to cohort survival, calibrated on the published natural
    increase 2005-2016."""
    q = death_probabilities_from_population(pa)
    # The Gompertz law fitted to old-age cohort survival is too steep for Norway (it
    # under-predicts deaths below 70), so its level is calibrated on the published natural
    # increase: k = (expected births - published births minus deaths) / expected deaths,
    # national sums 2005-2016, and q -> k q (capped at 1).
    first = cohort_residual_net_migration(pa, q, years=range(2005, 2017))
    nat_pub = _natural_increase(data_dir).groupby(level="year").sum()
    t = first.table.groupby(level="year")[["births_estimate", "deaths_estimate"]].sum()
    k = float((t["births_estimate"].sum() - nat_pub.reindex(t.index).sum()) / t["deaths_estimate"].sum())
    q = (q * k).clip(upper=1.0)
    acc.note("net_migration", f"death probabilities: no national death rates ({FILES['mortality']}), so the "
                              "fallback: a Gompertz fit to national cohort survival at ages 70-90, level calibrated to "
                              f"the published natural increase 2005-2016 (factor {k:.3f})")
    return q, "death probabilities from national cohort survival with a calibrated Gompertz fit"


def _splice(old: pd.DataFrame, pop_age: pd.Series, jn: pd.DataFrame, est: pd.Series, to_stable: pd.Series,
            acc: Accounting) -> pd.DataFrame:
    """The published panel through 2016, then the population by age, 11618 and the estimate."""
    # population check at the seam: 1 January 2016 in both sources
    p16 = pd.concat([old["population"].xs(2016, level="year"), pop_age.xs(2016, level="year")],
                    axis=1, keys=["panel", "by_age"]).dropna()
    acc.note("panel", f"population 1 January 2016, published panel vs 07459 summed: largest absolute difference "
                      f"{float((p16['panel'] - p16['by_age']).abs().max()):.0f} persons over {len(p16)} units")
    years_new = range(2017, 2023)
    new = pd.DataFrame(index=pd.MultiIndex.from_product([sorted(to_stable.unique()), years_new], names=["unit", "year"]))
    new["population"] = pop_age.reindex(new.index).to_numpy()
    new["jobs"] = jn["jobs"].reindex(new.index).to_numpy()
    new["net_migration"] = est.reindex(new.index).to_numpy()
    panel = pd.concat([old[["population", "jobs", "net_migration"]], new]).sort_index()
    acc.record("panel (spliced)", read=len(old), source=acc.last_step("panel"), added={
        f"unit-years {years_new[0]}-{years_new[-1]}: population from 07459, jobs from 11618, net migration by the "
        "cohort residual method": len(new)})
    if panel.isna().any().any():
        bad = panel.index[panel.isna().any(axis=1)]
        raise InputError(f"{len(bad)} stable unit-year(s) lack a value after splicing: {format_ids(bad)}")
    nat = panel["jobs"].groupby(level="year").sum()
    growth = 100 * (nat / nat.shift(1) - 1)
    acc.note("panel", "jobs spliced: the 2003-2016 panel (arbeidsplasser) through 2016, table 11618 "
                      "(sysselsatte_arbeidssted) from 2017, without rescaling; national job growth across the seam "
                      f"2016-2017 {growth[2017]:.2f} % (2015-2016 {growth[2016]:.2f} %, 2017-2018 {growth[2018]:.2f} %)")
    return panel


def _centrality_stable(data_dir: Path, to_stable: pd.Series, pop24: pd.Series, acc: Accounting) -> pd.Series:
    """The 2020 index on 2024 codes, population-weighted (1 January 2024) over a stable unit's codes."""
    cent = pd.read_csv(_path(data_dir, "centrality"), dtype={"kommunenummer": str}).set_index("kommunenummer")
    c = cent["sentralitetsindeks"].reindex(to_stable.index)
    w24 = pop24.reindex(to_stable.index).fillna(0)
    centrality = ((c * w24).groupby(to_stable).sum() / w24.groupby(to_stable).sum()).rename("centrality")
    n_merged = int((to_stable.groupby(to_stable).size() > 1).sum())
    acc.note("centrality", f"centrality index of 2020 on 2024 codes; the {n_merged} stable unit(s) of several 2024 "
                           "codes take the population-weighted mean (population 1 January 2024)")
    return centrality


def _flags(index: pd.MultiIndex, interpolated: list[tuple[str, int]], rindal: str) -> pd.DataFrame:
    """Which values are estimated (net migration from 2017) or interpolated (jobs, flows)."""
    flags = pd.DataFrame(False, index=index, columns=["net_migration_estimated", "jobs_interpolated",
                                                      "flows_interpolated"])
    flags.loc[flags.index.get_level_values("year") >= 2017, "net_migration_estimated"] = True
    for key in interpolated:
        flags.loc[key, "jobs_interpolated"] = True
    flags.loc[(rindal, RINDAL["year"]), "flows_interpolated"] = True
    return flags


def _published_panel(data_dir: Path, acc: Accounting) -> pd.DataFrame:
    """The 2003-2016 panel on 2017 codes: population, jobs and published net migration."""
    raw = pd.read_csv(_path(data_dir, "panel_2003_2016"), dtype={"kommunenummer": str})
    val.require_columns(raw, ["kommunenummer", "year", "folketall", "befolkningsvekst_pct", "fodselsoverskudd_pct",
                              "arbeidsplasser"], table="kommune_panel_2003_2016")
    raw["kommunenummer"] = val.normalise_ids(raw["kommunenummer"], name="kommunenummer", width=4).to_numpy()
    acc.record("panel", read=len(raw))
    nm_pct = raw["befolkningsvekst_pct"] - raw["fodselsoverskudd_pct"]
    acc.note("panel", "net migration = (befolkningsvekst_pct - fodselsoverskudd_pct) x folketall / 100 "
                      "(published rates rounded to 0.01 %)")
    return pd.DataFrame({
        "population": raw["folketall"].to_numpy(dtype=float),
        "jobs": raw["arbeidsplasser"].to_numpy(dtype=float),
        "net_migration": (nm_pct * raw["folketall"] / 100.0).to_numpy(),
    }, index=pd.MultiIndex.from_arrays([raw["kommunenummer"].to_numpy(), raw["year"].astype(int).to_numpy()],
                                       names=["unit", "year"]))


def population_by_code(data_dir: str | Path, code_year: int) -> pd.Series:
    """Population by municipality code of one code system: 2017 (the published panel,
    1 January 2016) or 2024 (table 07459, 1 January 2024)."""
    data_dir = Path(data_dir)
    if code_year == 2024:
        return _population_2024_by_code(data_dir)
    if code_year == 2017:
        return _published_panel(data_dir, Accounting())["population"].xs(2016, level="year")
    raise InputError(f"code_year {code_year} is not available for region mappings; use 2017 or 2024")


def _natural_increase(data_dir: Path) -> pd.Series:
    """Published births minus deaths (persons) on the (2017 code, year) index, 2003-2016."""
    raw = pd.read_csv(_path(data_dir, "panel_2003_2016"), dtype={"kommunenummer": str})
    raw["kommunenummer"] = raw["kommunenummer"].str.zfill(4)
    return pd.Series((raw["fodselsoverskudd_pct"] * raw["folketall"] / 100.0).to_numpy(),
                     index=pd.MultiIndex.from_arrays([raw["kommunenummer"], raw["year"].astype(int)],
                                                     names=["unit", "year"]))


def _population_2024_by_code(data_dir: Path) -> pd.Series:
    pa = pd.read_csv(_path(data_dir, "population_by_age"), dtype={"kommunenummer": str},
                     usecols=["kommunenummer", "year", "population"])
    pa["kommunenummer"] = pa["kommunenummer"].str.zfill(4)
    return pa[pa["year"] == 2024].groupby("kommunenummer")["population"].sum()


def _interpolate_rindal_flows(flows: pd.DataFrame, unit: str, year: int) -> tuple[pd.DataFrame, int]:
    """Add ``unit``'s missing flows of ``year`` (both ends) as the mean of the years around it."""
    f = flows
    if ((f["year"] == year) & ((f["origin"] == unit) | (f["destination"] == unit))).any():
        return f, 0
    around = f[f["year"].isin([year - 1, year + 1]) & ((f["origin"] == unit) | (f["destination"] == unit))]
    if around.empty:
        raise InputError(f"no flows of {unit} in {year - 1} or {year + 1} to interpolate its missing {year} flows from")
    mean = around.groupby(["origin", "destination"])["count"].sum() / 2.0  # absent in one year counts as 0
    add = mean.reset_index().assign(year=year)[["year", "origin", "destination", "count"]]
    out = pd.concat([f[["year", "origin", "destination", "count"]], add], ignore_index=True)
    return out.sort_values(["year", "origin", "destination"]).reset_index(drop=True), len(add)


def _regions_for_stable(kind: str, data_dir: Path, cw: Any, units: pd.Index, old: pd.DataFrame, pop24: pd.Series,
                        to_stable: pd.Series, acc: Accounting, *, target: str = "stable") -> pd.Series:
    """Functional (85, 2017 codes) or commuting (159, 2024 codes) regions of the stable units."""
    if kind == "regions85":
        reg = read_mapping(_path(data_dir, "regions85"), key="kommunenummer", value="region_nr", id_width=4)
        return regions_to_stable(reg, cw, units, code_year=2017, population=old["population"].xs(2016, level="year"),
                                 accounting=acc, name=kind, target=target)
    if kind == "ba159":
        ba = pd.read_csv(_path(data_dir, "ba_regions2024"), dtype={"kommunenummer": str, "ba_region_nr": str})
        ba = pd.Series(ba["ba_region_nr"].to_numpy(), index=ba["kommunenummer"].str.zfill(4).to_numpy())
        return regions_to_stable(ba, cw, units, code_year=2024, population=pop24, accounting=acc, name=kind,
                                 target=target)
    raise InputError(f"regions {kind!r} is not available; use 'regions85' (85 functional regions) or 'ba159' "
                     "(SSB's 159 commuting regions)")


def regions_to_stable(mapping: pd.Series, crosswalk: Any, units: pd.Index, *, code_year: int,
                      population: pd.Series, accounting: Accounting | None = None, name: str = "regions",
                      target: str = "stable") -> pd.Series:
    """Carry a code -> region mapping of one code year to the stable units.

    A stable unit whose codes lie in two regions goes to the one holding most of its
    population (ties: the smaller region id); such units are listed in the accounting.

    Parameters
    ----------
    mapping : Series
        Region by code (codes valid in ``code_year``).
    crosswalk : geoattr.data.Crosswalk
    units : Index
        The stable units wanted.
    code_year : int
        The code system of ``mapping`` (2017 for the 85 functional regions, 2024 for the
        commuting regions of 2024).
    population : Series
        Population by code (the same code system), the weights of the majority rule.
    target : {"stable", "target"}, default "stable"
        The units: stable units, or the crosswalk's target (2024) codes, each code
        counting for every target it goes to with its population times its weight.

    Returns
    -------
    Series
        Region by stable unit, on ``units``.

    Raises
    ------
    InputError
        Codes of ``code_year`` without a region, or stable units without any code.
    """
    if target == "stable":
        st = crosswalk.stable_units(STABLE_YEARS, by_year=True).xs(code_year, level="year")
        weight = np.ones(len(st))
    else:  # every (code, target) pair: a code split between targets gives each its region
        t = crosswalk.table[crosswalk.table["year"] == code_year]
        st = pd.Series(t["target"].to_numpy(), index=t["source"].to_numpy())
        weight = t["weight"].to_numpy(dtype=float)
    missing = sorted(set(st.index) - set(mapping.index))
    if missing:
        raise InputError(f"{len(missing)} code(s) of {code_year} have no region in {name}: {format_ids(missing)}")
    frame = pd.DataFrame({"stable": st.to_numpy(), "region": mapping.reindex(st.index).to_numpy(),
                          "pop": population.reindex(st.index).fillna(0.0).to_numpy() * weight})
    share = frame.groupby(["stable", "region"])["pop"].sum().reset_index().sort_values(
        ["stable", "pop", "region"], ascending=[True, False, True])
    straddle = share.groupby("stable").size()
    straddle = straddle[straddle > 1]
    out = share.drop_duplicates("stable").set_index("stable")["region"].reindex(units).rename("region")
    if out.isna().any():
        raise InputError(f"stable unit(s) without a region: {format_ids(out.index[out.isna()])}")
    if len(straddle) and accounting is not None:
        accounting.note("regions", f"{len(straddle)} stable unit(s) straddle two {name} regions and go to the one "
                                   f"holding most of their population: {format_ids(straddle.index)}")
    return out


def _stable_polygons(data_dir: Path, cw: Any, acc: Accounting, *, mapping: pd.Series | None = None) -> Any:
    """The 2024 boundaries dissolved to stable units (or to ``mapping`` of 2024 codes), EPSG:25833."""

    polys = read_polygons(_path(data_dir, "polygons2024"), id_column="kommunenummer", name_column="kommunenavn",
                          accounting=acc)
    target = (cw.stable_targets(STABLE_YEARS) if mapping is None else mapping).reindex(polys.index)
    g = polys.assign(stable=target.to_numpy())
    names = g.groupby("stable")["name"].agg(lambda s: "/".join(sorted(s)))
    dissolved = g[["stable", "geometry"]].dissolve(by="stable")
    return gpd.GeoDataFrame({"name": names.reindex(dissolved.index).to_numpy()}, geometry=dissolved.geometry,
                            index=pd.Index(dissolved.index, name="unit"), crs=polys.crs).to_crs(25833)
