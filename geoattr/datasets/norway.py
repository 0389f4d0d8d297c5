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
and the 85 functional regions (defined on 2017 codes).  The stable-unit panel
2003-2022 (harmonised codes, spliced jobs, cohort-residual net migration) is not
implemented yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geoattr.accounting import Accounting, format_ids
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.io import read_flows, read_mapping
from geoattr.io import validation as val

__all__ = ["load", "FILES"]

#: Default file names inside the SSB directory (relative paths).
FILES = {
    "panel_2003_2016": "jobs/kommune_panel_2003_2016.csv",
    "commuting": "commuting/pendling_03321_2017_2022.csv.gz",
    "centrality": "centrality/sentralitetsindeks_2020_kommuner_b2024.csv",
    "crosswalk": "crosswalk/kommune_to_2024_by_year.csv",
    "regions85": "regions/regioner_85_kommuner_2016.csv",
    "polygons2024": "polygons/kommuner_2024.geojson",
}
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
         units: str = "2017") -> PanelData:
    """Load SSB tables from ``data_dir`` into a :class:`~geoattr.data.PanelData`.

    Parameters
    ----------
    data_dir : str or Path
        Folder with the SSB tables (layout of ``shared/data/norway``).
    panel : {"2003-2016"}, default "2003-2016"
        Which panel to build (see the module docstring).
    regions : {"regions85"}, default "regions85"
        Unit -> region mapping: the 85 functional regions (2017 codes).
    units : {"2017", "stable"}, default "2017"
        ``"stable"`` recodes panel and flows to the 353 stable units (codes linked
        through the crosswalk in 2017-2024 merged; only merges happen), with the 2024
        polygons dissolved to them (so the results can be mapped); centrality becomes
        the population-weighted mean of the merged codes, and a stable unit whose
        codes lie in two functional regions goes to the region holding most of its
        population (listed in the accounting).

    Returns
    -------
    PanelData
        Municipality level, 2017 codes, years 2003-2016, with the 2017 commuting
        flows, centrality and the regions; the accounting notes say what was
        substituted (commuting year, centrality codes) and dropped (other flow years).
    """
    data_dir = Path(data_dir)
    if panel != "2003-2016":
        raise InputError(f"panel {panel!r} is not available; implemented: '2003-2016' (2017 codes)")
    if regions != "regions85":
        raise InputError(f"regions {regions!r} is not available; implemented: 'regions85'")
    if units not in ("2017", "stable"):
        raise InputError(f"units must be '2017' or 'stable', got {units!r}")
    acc = Accounting()
    raw = pd.read_csv(_path(data_dir, "panel_2003_2016"), dtype={"kommunenummer": str})
    val.require_columns(raw, ["kommunenummer", "year", "folketall", "befolkningsvekst_pct", "fodselsoverskudd_pct",
                              "arbeidsplasser"], table="kommune_panel_2003_2016")
    raw["kommunenummer"] = val.normalise_ids(raw["kommunenummer"], name="kommunenummer", width=4).to_numpy()
    acc.record("panel", read=len(raw))
    nm_pct = raw["befolkningsvekst_pct"] - raw["fodselsoverskudd_pct"]
    panel_df = pd.DataFrame({
        "population": raw["folketall"].to_numpy(dtype=float),
        "jobs": raw["arbeidsplasser"].to_numpy(dtype=float),
        "net_migration": (nm_pct * raw["folketall"] / 100.0).to_numpy(),
    }, index=pd.MultiIndex.from_arrays([raw["kommunenummer"].to_numpy(), raw["year"].astype(int).to_numpy()],
                                       names=["unit", "year"]))
    acc.note("panel", "net migration = (befolkningsvekst_pct - fodselsoverskudd_pct) x folketall / 100 "
                      "(published rates rounded to 0.01 %)")
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
        return _stable(panel_df, f17.reset_index(drop=True), centrality, reg.reindex(units), data_dir, acc)
    data = PanelData(panel_df, flows=f17.reset_index(drop=True), centrality=centrality, regions=reg.reindex(units),
                     accounting=acc)
    if np.isnan(data.panel["net_migration"]).any():  # pragma: no cover - the published file is complete
        acc.note("panel", f"{int(data.panel['net_migration'].isna().sum())} missing net-migration value(s)")
    return data


def _stable(panel: pd.DataFrame, flows: pd.DataFrame, centrality: pd.Series, regions: pd.Series, data_dir: Path,
            acc: Accounting) -> PanelData:
    """Recode the 2017-code panel and flows to the stable units of 2017-2024 and attach polygons."""
    import geopandas as gpd

    from geoattr.harmonise import Crosswalk, harmonise_flows, harmonise_panel
    from geoattr.io import read_polygons

    cw = Crosswalk.from_frame(pd.read_csv(_path(data_dir, "crosswalk"), dtype={"kommunenummer": str,
                                                                               "kommunenummer_2024": str}))
    hp = harmonise_panel(panel, cw, years_of_codes=2017, stable_years=STABLE_YEARS)
    hf = harmonise_flows(flows, cw, years_of_codes=2017, stable_years=STABLE_YEARS)
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
    data = PanelData(hp.panel, flows=hf.flows, centrality=cent.rename("centrality"), regions=reg.rename("region"),
                     polygons=dissolved, accounting=acc)
    data.harmonisation_report = hp.report
    return data
