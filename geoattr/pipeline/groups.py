"""Run steps of ``[analyses] age_groups`` and ``[analyses] barometer_level``.

``age_groups`` writes ``net_migration_by_age.csv`` (cohort residual by unit, year, age
group and sex, the book's seven groups), ``attractiveness_by_group.csv``,
``attractiveness_by_group_coefficients.csv`` and ``attractiveness_by_group_rankings.csv``.
``barometer_level`` containing ``"region"`` writes the region Barometer
(``barometer_region.csv``, ``barometer_region_long_run.csv``,
``barometer_region_top_bottom.csv``); the municipality files keep their names.
:func:`write_barometer_outputs` draws their figures (``figures/barometer_*``) and maps
(``barometer_map.html``, ``barometer_region_map.html``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr._format import write_csv
from geoattr.attractiveness_groups import (
    AGE_GROUPS,
    COMPARED_GROUPS,
    death_probabilities_for,
    group_attractiveness,
    net_migration_by_age,
    parse_age_groups,
)
from geoattr.barometer_regions import barometer_top_bottom, region_barometer
from geoattr.data import PanelData
from geoattr.demography import compare_net_migration
from geoattr.io.figures import save_figure
from geoattr.models.ols import AttractivenessResults
from geoattr.report.barometer import barometer_coefficients_figure, barometer_long_run_bars, barometer_map

__all__ = ["run_age_groups", "run_region_barometer", "write_barometer_outputs"]

#: Options of the main fit that are not passed on to the group models.
_NOT_PASSED = ("spec", "years", "dependent")


def _write(frame: pd.DataFrame, name: str, out: Path, files: dict[str, Path]) -> None:
    files[name] = out / f"{name}.csv"
    write_csv(frame, files[name], index=False)


@fill_doc(output_files=OUTPUT_FILES)
def run_age_groups(main: AttractivenessResults, data: PanelData, value: bool | Mapping[str, Any], out: Path,
                   files: dict[str, Path], *, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """Net migration by age group and sex, and the group models of ``[analyses] age_groups``.

    Parameters
    ----------
    main : AttractivenessResults
        The run's main model (its specification, level, years and options are reused).
    data : PanelData
        The run's data; without ``population_by_age`` nothing is written and the
        facts say why.
    value : bool or mapping
        ``true`` (:data:`~geoattr.attractiveness_groups.COMPARED_GROUPS`) or a table
        ``name -> ranges``.
    {output_files}
    kept : dict, optional
        Updated with ``group_rankings`` (the report shows them).

    Returns
    -------
    dict
        Facts for ``run.json`` (``age_groups_*``).
    """
    groups = COMPARED_GROUPS if value is True else dict(value)
    parse_age_groups(groups)  # bad ranges fail before any work
    if data.population_by_age is None:
        return {"age_groups_note": "not run: the data have no population by single age and sex (population_by_age)"}
    q, note = death_probabilities_for(data)
    by_age = net_migration_by_age(data.population_by_age, q, groups=AGE_GROUPS)
    _write(by_age, "net_migration_by_age", out, files)
    info: dict[str, Any] = {"age_groups": {k: list(v) if not isinstance(v, str) else [v] for k, v in groups.items()},
                            "age_groups_death_probabilities": note}
    total = by_age.groupby(["unit", "year"])["net_migration"].sum()
    if "net_migration" in data.panel.columns:
        both = total.to_frame("e").join(data.panel[["net_migration", "population"]], how="inner").dropna()
        if len(both) >= 3:
            info["net_migration_by_age_agreement"] = compare_net_migration(
                both["e"], both["net_migration"], population=both["population"]).to_dict()
    opts = {k: v for k, v in main.options.items() if k not in _NOT_PASSED}
    res = group_attractiveness(data, main.spec if main.spec != "custom" else list(main.options["spec"]),
                               by_age=net_migration_by_age(data.population_by_age, q, groups=groups), groups=groups,
                               unit_level=main.unit_level, years=tuple(main.unit_design.years), **opts)
    _write(res.attractiveness, "attractiveness_by_group", out, files)
    _write(res.coefficients, "attractiveness_by_group_coefficients", out, files)
    _write(res.rankings, "attractiveness_by_group_rankings", out, files)
    info["age_groups_notes"] = res.notes
    if kept is not None:
        kept["group_rankings"] = res.rankings
    return info


@fill_doc(output_files=OUTPUT_FILES)
def run_region_barometer(data: PanelData, acfg: Mapping[str, Any], out: Path, files: dict[str, Path],
                         flows: list[str] | None, *, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Barometer on regions (``[analyses] barometer_level`` with ``"region"``).

    Parameters
    ----------
    data : PanelData
        The run's municipality data (aggregated to its regions).
    acfg : mapping
        The ``[analyses]`` section (``barometer_period_length``).
    {output_files}
        ``barometer_region_top_bottom``.
    flows : list of str or None
        Flow-type columns (as for the municipality Barometer).
    kept : dict, optional
        Updated with ``barometer_region`` (the results) and ``barometer_region_data``
        (the region panel, for its polygons and names).

    Returns
    -------
    dict
        Facts for ``run.json``.
    """
    bar = region_barometer(data, period_length=int(acfg.get("barometer_period_length", 3)), flow_columns=flows)
    names = data.aggregate().names
    _write(bar.to_frame(), "barometer_region", out, files)
    _write(bar.long_run, "barometer_region_long_run", out, files)
    _write(barometer_top_bottom(bar, names=names), "barometer_region_top_bottom", out, files)
    if kept is not None:
        kept["barometer_region"], kept["barometer_region_data"] = bar, data.aggregate()
    return {"barometer_region_periods": [f"{s}-{e}" for s, e in bar.periods], "barometer_region_notes": bar.notes}


@fill_doc(output_files=OUTPUT_FILES)
def write_barometer_outputs(out: Path, files: dict[str, Path], *, data: PanelData, kept: Mapping[str, Any],
                            ocfg: Mapping[str, Any]) -> dict[str, Path]:
    """Figures and maps of the Barometer(s) of the run (``kept["barometer"]``, ``kept["barometer_region"]``).

    Parameters
    ----------
    {output_files}
    data : PanelData
        The run's municipality data (polygons and names).
    kept : mapping
        Objects of the analyses.
    ocfg : mapping
        The ``[output]`` section (``figures``, ``map``, ``self_contained``, ``tiles``, ``top_n``).

    Returns
    -------
    dict of str to Path
        The PNG figures written, by name (``barometer_long_run_png``...).
    """
    figs: dict[str, Path] = {}
    runs = [("", kept.get("barometer"), data), ("_region", kept.get("barometer_region"), kept.get("barometer_region_data"))]
    self_contained = bool(ocfg.get("self_contained", True))
    for suffix, bar, level_data in runs:
        if bar is None or level_data is None:
            continue
        if ocfg.get("figures", True):
            (out / "figures").mkdir(parents=True, exist_ok=True)
            for kind, draw in (("long_run", lambda p, b=bar, d=level_data: barometer_long_run_bars(
                    b, n=int(ocfg.get("top_n", 10)), names=d.names, path=p)),
                               ("coefficients", lambda p, b=bar: barometer_coefficients_figure(b, path=p))):
                # Built once, saved as PNG then SVG with the layout of the PNG (not re-run).
                paths = {fmt: out / "figures" / f"barometer{suffix}_{kind}.{fmt}" for fmt in ("png", "svg")}
                save_figure(draw(None), [paths["png"], paths["svg"]], dpi=150)
                figs.update({f"barometer{suffix}_{kind}_{fmt}": p for fmt, p in paths.items()})
        if ocfg.get("map", True) and level_data.polygons is not None:
            files[f"barometer{suffix}_map"] = out / f"barometer{suffix}_map.html"
            barometer_map(level_data.polygons, bar, names=level_data.names, self_contained=self_contained,
                          tiles=None if self_contained else ocfg.get("tiles", "OpenStreetMap"),
                          path=files[f"barometer{suffix}_map"])
    files.update({f"figure_{k}": v for k, v in figs.items()})
    return {k: v for k, v in figs.items() if k.endswith("_png")}
