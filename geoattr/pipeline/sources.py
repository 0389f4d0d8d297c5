"""The data sources of a run: ``[data] source`` = ``"synthetic"``, ``"files"`` or ``"ssb"``.

Each source returns a :class:`~geoattr.data.PanelData` at municipality level; the
``[data]`` section has been checked against :data:`geoattr.config.RUN_SCHEMA`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr import io
from geoattr.accounting import Accounting
from geoattr.data import PanelData
from geoattr.datasets import norway, synthetic_norway
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.data import Crosswalk, harmonise_flows, harmonise_panel

__all__ = ["read_run_data", "synthetic_panel_data", "ssb_panel_data", "files_panel_data", "resolve_path"]


def resolve_path(base: Path, path: str | Path) -> Path:
    """``path`` if absolute, else ``base / path``.

    Parameters
    ----------
    base : Path
        The folder relative paths start from.
    path : str or Path

    Returns
    -------
    Path
    """
    q = Path(path)
    return q if q.is_absolute() else base / q


def read_run_data(data_cfg: Mapping[str, Any], base: Path) -> PanelData:
    """The data of ``[data]``, from the source it names.

    Parameters
    ----------
    data_cfg : mapping
        The ``[data]`` section.
    base : Path
        Base folder of relative paths.

    Returns
    -------
    PanelData
    """
    source = data_cfg.get("source", "synthetic")
    if source == "synthetic":
        return synthetic_panel_data(int(data_cfg.get("seed", 2022)))
    if source == "ssb":
        return ssb_panel_data(data_cfg, base)
    return files_panel_data(data_cfg, base, Accounting())


def synthetic_panel_data(seed: int = 2022) -> PanelData:
    """The embedded synthetic Norway as a :class:`PanelData` (municipality level).

    Parameters
    ----------
    seed : int, default 2022
        Seed of the generator (2022 gives the stored data of ``geoattr demo``).

    Returns
    -------
    PanelData
    """
    ds = synthetic_norway(seed)
    return PanelData(
        ds.panel,
        flows=ds.flows,
        centrality=ds.centrality,
        regions=ds.regions,
        polygons=ds.polygons,
        population_by_age=ds.population_by_age,
        employment_rates=ds.employment_rates,
        death_probabilities=ds.death_probabilities,
        fertility_rates=ds.fertility_rates,
    )


def ssb_panel_data(data_cfg: Mapping[str, Any], base: Path) -> PanelData:
    """The folder of Statistics Norway tables (``source = "ssb"``).

    Parameters
    ----------
    data_cfg : mapping
        The ``[data]`` section: ``panel``, ``units`` and ``regions`` (a built-in name or
        a mapping file ``{ path, unit_column, region_column, name_column, code_year }``); ``years``
        also sets the years the national employment and death rates of ``employment/``
        and ``mortality/`` are averaged over (read when present, for DS).
    base : Path
        The SSB data folder.

    Returns
    -------
    PanelData
    """
    r = data_cfg.get("regions")
    units = data_cfg.get("units", "2017")
    years = data_cfg.get("years")
    data = norway.load(base, panel=data_cfg.get("panel", "2003-2016"), units=units,
                       regions=r if isinstance(r, str) else "regions85",
                       rate_years=(int(years[0]), int(years[1])) if years else None)
    if isinstance(r, Mapping):
        if "path" not in r:
            raise InputError("[data] regions needs a path (or a built-in name: 'regions85', 'ba159')")
        code_year = int(r.get("code_year", 2017))
        mapping = io.read_mapping(resolve_path(base, r["path"]), key=r.get("unit_column", "unit"),
                                  value=r.get("region_column", "region"), id_width=4)
        if units == "stable":
            cw = Crosswalk.from_frame(pd.read_csv(base / norway.FILES["crosswalk"],
                                                  dtype={"kommunenummer": str, "kommunenummer_2024": str}))
            regions = norway.regions_to_stable(mapping, cw, data.units, code_year=code_year,
                                               population=norway.population_by_code(base, code_year),
                                               accounting=data.accounting, name=str(r["path"]))
        else:
            regions = mapping.reindex(data.units)
        data = data.replace(regions=regions, region_names=_region_names(resolve_path(base, r["path"]), r))
    return data


def _region_names(path: Path, spec: Mapping[str, Any]) -> pd.Series | None:
    """Region id -> name from the mapping file's ``name_column`` (``[data] regions``), if named."""
    if "name_column" not in spec:
        return None
    return io.read_mapping(path, key=spec.get("region_column", "region"), value=spec["name_column"],
                           name="region name")


def _file_spec(data_cfg: Mapping[str, Any], name: str, required: bool = False) -> Mapping[str, Any] | None:
    s = data_cfg.get(name)
    if s is None and required:
        raise InputError(f"[data] {name} = {{ path = ... }} is required for source = 'files'")
    if s is not None and "path" not in s:
        raise InputError(f"[data] {name} needs a path")
    return s


def files_panel_data(data_cfg: Mapping[str, Any], base: Path, acc: Accounting) -> PanelData:
    """Build PanelData from the tables named in ``[data]`` (``source = "files"``).

    Parameters
    ----------
    data_cfg : mapping
        The ``[data]`` section: ``panel`` and ``flows`` (required), ``crosswalk``,
        ``centrality``, ``regions``, ``polygons``, ``population_by_age``,
        ``employment_rates``, ``death_probabilities``, ``on_mismatch``.
    base : Path
        Base folder of relative paths.
    acc : Accounting
        Row accounting, updated by the readers.

    Returns
    -------
    PanelData
    """
    p = _file_spec(data_cfg, "panel", required=True)
    panel = io.read_panel(
        resolve_path(base, p["path"]), unit=p.get("unit_column", "unit"), year=p.get("year_column", "year"),
        columns=p.get("columns"), thousands=p.get("thousands"),
        whole_counts=_whole_counts(p, data_cfg),
        accounting=acc,
    )
    f = _file_spec(data_cfg, "flows", required=True)
    flows = io.read_flows(
        resolve_path(base, f["path"]), origin=f.get("origin", "origin"),
        destination=f.get("destination", "destination"), value=f.get("value", "count"), year=f.get("year", "year"),
        thousands=f.get("thousands"),
        whole_counts=_whole_counts(f, data_cfg),
        accounting=acc,
    )
    report = None
    if (x := _file_spec(data_cfg, "crosswalk")) is not None:
        panel, flows, report = _harmonise_files(panel, flows, x, base, acc)
    return PanelData(panel, flows=flows, on_mismatch=data_cfg.get("on_mismatch", "raise"), accounting=acc,
                     harmonisation_report=report, **_optional_tables(data_cfg, base, acc))


def _whole_counts(spec: Mapping[str, Any], data_cfg: Mapping[str, Any]) -> bool:
    """A table's ``whole_counts``: as given, else True without a crosswalk (with one, counts on codes it
    merges may be shares of split units)."""
    given = spec.get("whole_counts")
    return data_cfg.get("crosswalk") is None if given is None else bool(given)


def _optional_tables(data_cfg: Mapping[str, Any], base: Path, acc: Accounting) -> dict[str, Any]:
    """The optional inputs of ``source = "files"``, as PanelData keyword arguments."""
    kw: dict[str, Any] = {}
    if (c := _file_spec(data_cfg, "centrality")) is not None:
        kw["centrality"] = io.read_series(resolve_path(base, c["path"]), key=c.get("unit_column", "unit"),
                                          value=c.get("value_column", "centrality"), name="centrality")
    if (r := _file_spec(data_cfg, "regions")) is not None:
        kw["regions"] = io.read_mapping(resolve_path(base, r["path"]), key=r.get("unit_column", "unit"),
                                        value=r.get("region_column", "region"))
        kw["region_names"] = _region_names(resolve_path(base, r["path"]), r)
    if (g := _file_spec(data_cfg, "polygons")) is not None:
        kw["polygons"] = io.read_polygons(resolve_path(base, g["path"]), id_column=g.get("id_column", "unit"),
                                          name_column=g.get("name_column"), crs=g.get("crs"), accounting=acc)
    if (a := _file_spec(data_cfg, "population_by_age")) is not None:
        kw["population_by_age"] = pd.read_csv(resolve_path(base, a["path"]), dtype={"unit": str})
    for name in ("employment_rates", "death_probabilities"):
        if (e := _file_spec(data_cfg, name)) is not None:
            kw[name] = pd.read_csv(resolve_path(base, e["path"]), index_col="age")
    return kw


def _harmonise_files(
    panel: pd.DataFrame, flows: pd.DataFrame, x: Mapping[str, Any], base: Path, acc: Accounting
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Recode the panel and the flows with ``[data] crosswalk`` (both ends of every flow).

    The report (merges, splits, recodes) becomes ``harmonisation.csv``.  Centrality,
    regions and polygons must already be on the harmonised units.
    """
    units = x.get("units", "stable")
    table = pd.read_csv(resolve_path(base, x["path"]), dtype={x.get("source", "source"): str,
                                                              x.get("target", "target"): str})
    cw = Crosswalk.from_frame(table, year=x.get("year", "year"), source=x.get("source", "source"),
                              target=x.get("target", "target"), weight=x.get("weight", "weight"),
                              id_width=x.get("id_width"))
    code_year = x.get("code_year")
    years = sorted(set(cw.years) | set(panel.index.get_level_values("year").unique().tolist())
                   | set(flows["year"].unique().tolist()))
    years = [y for y in years if y in cw.years] if code_year is None else None
    hp = harmonise_panel(panel, cw, target=units, years_of_codes=code_year, stable_years=years)
    hf = harmonise_flows(flows, cw, target=units, years_of_codes=code_year, stable_years=years)
    for res in (hp, hf):
        acc.extend(res.accounting)
    report = pd.concat([hp.report.assign(table="panel"), hf.report.assign(table="flows")], ignore_index=True)
    if units == "target" and bool(hp.split_weighted.any()):
        warnings.warn(
            f"{int(hp.split_weighted.sum())} panel rows include shares of split codes, divided by the crosswalk's "
            "weights (see harmonisation.csv, kind='split'); use units = \"stable\" to merge instead",
            GeoattrWarning, stacklevel=2)
    return hp.panel, hf.flows, report
