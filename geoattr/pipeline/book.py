"""The book's tables of a run: Sum VRA year by year and by subgroup, its figure, the VRA breakdown.

* ``yearly_table.csv`` (``[analyses] yearly = true``): one row per model and year, the
  coefficients with their standard errors, p-values and stars, and the Sum VRA columns
  (:func:`geoattr.models.vra_sum.yearly_table`); ``tables/yearly.tex`` / ``.md`` for the
  main model and ``figures/vra_sum_over_time.png`` / ``.svg``.
* ``subgroups_table.csv`` and ``tables/subgroups.tex`` / ``.md``
  (``[analyses] subgroups = true``): the same layout, one row per subgroup.
* ``vra_breakdown.csv`` (``[analyses] vra_breakdown``): :func:`geoattr.vra_breakdown`
  of the chosen units and years; the profile pages show every unit's breakdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr._format import write_csv
from geoattr.data import PanelData
from geoattr.io.figures import save_figure
from geoattr.models.ols import AttractivenessResults, YearlyResults
from geoattr.models.vra_sum import SUM_TERM, VRA_TERMS, wide_table, yearly_table
from geoattr.report.book import sum_table, vra_sum_over_time
from geoattr.variables.breakdown import vra_breakdown

__all__ = ["write_yearly_tables", "write_subgroup_table", "run_breakdown", "profile_breakdown",
           "write_book_publication", "region_labels"]

_BREAKDOWN_OPTIONS = ("commuting_year", "min_share", "top_k", "include_diagonal")


def region_labels(data: PanelData) -> pd.Series | None:
    """Unit -> its region as ``"name (id)"`` (the id alone when the region has no name).

    Parameters
    ----------
    data : PanelData

    Returns
    -------
    pandas.Series or None
        None without regions.
    """
    if data.regions is None:
        return None
    if data.region_names is None:
        return data.regions
    names = data.region_names.reindex(data.regions.to_numpy()).to_numpy(dtype=object)
    ids = data.regions.to_numpy(dtype=object)
    return pd.Series([i if pd.isna(n) or n == i else f"{n} ({i})" for n, i in zip(names, ids)],
                     index=data.regions.index, dtype=object)


def _has_vra(main: AttractivenessResults) -> bool:
    return any(t in main.results.params.index for t in VRA_TERMS)


@fill_doc(output_files=OUTPUT_FILES)
def write_yearly_tables(out: Path, files: dict[str, Path],
                        yearly: Mapping[tuple[str, str], YearlyResults]) -> dict[tuple[str, str], pd.DataFrame]:
    """Write ``yearly_table.csv``: every model's coefficients year by year with Sum VRA.

    Parameters
    ----------
    {output_files}
    yearly : mapping of (spec, level) to YearlyResults
        The year-by-year estimates of the run.

    Returns
    -------
    dict of (spec, level) to DataFrame
        The wide tables (index year).
    """
    tables = {k: yearly_table(r) for k, r in yearly.items() if r.results}
    if tables:
        frames = [t.reset_index().assign(spec=s, level=lv) for (s, lv), t in tables.items()]
        frame = pd.concat(frames, ignore_index=True)
        frame = frame[["spec", "level"] + [c for c in frame.columns if c not in ("spec", "level")]]
        files["yearly_table"] = out / "yearly_table.csv"
        write_csv(frame, files["yearly_table"], index=False)
    return tables


@fill_doc(output_files=OUTPUT_FILES)
def write_subgroup_table(out: Path, files: dict[str, Path], sub: pd.DataFrame) -> pd.DataFrame:
    """Write ``subgroups_table.csv``: one row per subgroup with Sum VRA and stars.

    Parameters
    ----------
    {output_files}
    sub : pandas.DataFrame
        :func:`geoattr.analysis.subgroups` output with ``vra_sum=True``.

    Returns
    -------
    pandas.DataFrame
        The wide table (index subgroup).
    """
    wide = wide_table(sub, key="subgroup")
    files["subgroups_table"] = out / "subgroups_table.csv"
    write_csv(wide.reset_index(), files["subgroups_table"], index=False)
    return wide


def _breakdown_options(main: AttractivenessResults) -> dict[str, Any]:
    return {k: main.options[k] for k in _BREAKDOWN_OPTIONS if k in main.options}


def run_breakdown(main: AttractivenessResults, setting: Any) -> pd.DataFrame:
    """The ``[analyses] vra_breakdown`` table of a run (municipal units of the main model).

    Parameters
    ----------
    main : AttractivenessResults
        The main model: its municipal data and commuting options.
    setting : bool or mapping
        ``true`` or ``{ units = [...] or "all", years = [...], lag = 0 }``; the years
        default to the model's years.

    Returns
    -------
    pandas.DataFrame
        :func:`geoattr.vra_breakdown` output.
    """
    cfg = setting if isinstance(setting, Mapping) else {}
    first, last = main.unit_design.years
    years = cfg.get("years", list(range(first, last + 1)))
    return vra_breakdown(main.unit_data, units=cfg.get("units", "all"), years=years, lag=int(cfg.get("lag", 0)),
                         **_breakdown_options(main))


def profile_breakdown(main: AttractivenessResults, kept: Mapping[str, Any]) -> pd.DataFrame | None:
    """The breakdown the profile pages show: every unit and model year at lag 0 (none without VRA).

    Parameters
    ----------
    main : AttractivenessResults
    kept : mapping
        Objects of the analyses; a ``vra_breakdown`` of every unit at lag 0 is reused.

    Returns
    -------
    pandas.DataFrame or None
    """
    if not _has_vra(main) or main.unit_data.flows is None:
        return None
    first, last = main.unit_design.years
    done = kept.get("vra_breakdown")
    if done is not None and (done["lag"] == 0).all() and done["unit"].nunique() == len(main.unit_data.units):
        return done
    return vra_breakdown(main.unit_data, units="all", years=list(range(first, last + 1)), **_breakdown_options(main))


@fill_doc(output_files=OUTPUT_FILES)
def write_book_publication(out: Path, files: dict[str, Path], *, main: AttractivenessResults,
                           yearly_tables: Mapping[tuple[str, str], pd.DataFrame], kept: Mapping[str, Any],
                           ocfg: Mapping[str, Any]) -> dict[str, Path]:
    """``tables/yearly.*``, ``tables/subgroups.*`` and ``figures/vra_sum_over_time.*`` of the main model.

    Parameters
    ----------
    {output_files}
    main : AttractivenessResults
        The main model.
    yearly_tables : mapping of (spec, level) to DataFrame
        :func:`write_yearly_tables` output.
    kept : mapping
        Objects of the analyses (``subgroups_table``).
    ocfg : mapping
        The ``[output]`` section (``tables``, ``figures``).

    Returns
    -------
    dict of str to Path
        The figures written, by name.
    """
    wide = yearly_tables.get((main.spec, main.unit_level))
    if ocfg.get("tables", True):
        tables = {"yearly": wide, "subgroups": kept.get("subgroups_table")}
        for stem, table in tables.items():
            if table is None or not len(table):
                continue
            (out / "tables").mkdir(parents=True, exist_ok=True)
            for fmt, ext in (("latex", "tex"), ("markdown", "md")):
                p = out / "tables" / f"{stem}.{ext}"
                p.write_text(sum_table(table, fmt=fmt), encoding="utf-8")
                files[f"table_{stem}_{ext}"] = p
    figs: dict[str, Path] = {}
    if ocfg.get("figures", True) and wide is not None and SUM_TERM in wide.columns and "centrality" in wide.columns:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        paths = {f"vra_sum_over_time_{ext}": out / "figures" / f"vra_sum_over_time.{ext}" for ext in ("png", "svg")}
        save_figure(vra_sum_over_time(wide), list(paths.values()), dpi=110, tight=True)  # the SVG keeps the PNG's layout
        figs.update(paths)
        files.update({f"figure_{k}": v for k, v in figs.items()})
    return figs
