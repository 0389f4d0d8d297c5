"""The files a run writes: the estimates' CSVs, the map, the publication outputs, ``run.json``.

Every writer records the files it writes in the run's ``files`` mapping (name -> path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr._format import write_csv
from geoattr.accounting import Accounting
from geoattr._versions import versions
from geoattr.data import PanelData
from geoattr.models.ols import AttractivenessResults
from geoattr.pipeline.book import profile_breakdown, region_labels
from geoattr.pipeline.groups import write_barometer_outputs
from geoattr.pipeline.sidejobs import SideJobs, placeholder
from geoattr.pipeline.unit_names import with_names
from geoattr.report.labels import term_labels
from geoattr.report import (
    comparison_table,
    ranking_table,
    regression_table,
    residual_map,
    write_figures,
    write_profiles,
    write_tables,
)


_RUN_MODELS_DOC = """main : AttractivenessResults
    The main model.
models : mapping of str to AttractivenessResults
    Every fitted model, by label.
data : PanelData
    The run's data."""

__all__ = ["write_estimates", "write_map", "write_publication", "write_profile_pages", "figure_arguments",
           "start_figures", "report_context", "run_info", "echo_files", "row_accounting"]

_ATT_COLUMNS = ["actual", "expected", "residual", "residual_persons"]
_PLURAL = {"municipality": "municipalities", "region": "regions"}
_CAPTIONS = {
    "observed_vs_expected_png": "Observed vs expected net migration (mean over the years)",
    "coefficients_over_time_png": "Coefficients year by year, 95 % confidence bands",
    "ranking_bars_png": "Most and least attractive units (mean residual)",
    "decomposition_waterfall_png": "Decomposition of population change, most attractive unit",
    "forest_plot_png": "Coefficients across specifications and levels, 95 % intervals",
    "barometer_region_long_run_png": "Barometer: highest and lowest long-run index, regions",
    "barometer_region_coefficients_png": "Barometer of the regions: slope on job growth and R² by period",
}
_ROBUSTNESS_CAPTIONS = (("figure_robustness_coefficients_png", "Coefficients across the robustness variants"),
                        ("figure_rank_intervals_png", "Bootstrap intervals of the attractiveness ranks"))


@fill_doc(output_files=OUTPUT_FILES)
def write_estimates(out: Path, files: dict[str, Path], *, coefficients: Sequence[pd.DataFrame],
                    fit_rows: Sequence[Mapping[str, Any]], yearly: Sequence[pd.DataFrame], att: pd.DataFrame,
                    rank_tables: Sequence[pd.DataFrame], data: PanelData) -> None:
    """Write ``coefficients.csv``, ``fit.csv``, ``yearly_coefficients.csv``, ``attractiveness.csv``, ``rankings.csv``.

    Parameters
    ----------
    {output_files}
    coefficients : sequence of DataFrame
        One coefficient table per model (``spec``, ``level``, ``term``, ...).
    fit_rows : sequence of mapping
        One row of fit statistics per model.
    yearly : sequence of DataFrame
        Year-by-year coefficients (may be empty).
    att : DataFrame
        Attractiveness of the main model, by (unit, year).
    rank_tables : sequence of DataFrame
        Rankings (municipalities, regions).
    data : PanelData
        The run's data (its ``flags`` are appended to ``attractiveness.csv``).
    """
    files["coefficients"] = out / "coefficients.csv"
    write_csv(pd.concat(coefficients, ignore_index=True), files["coefficients"], index=False)
    files["fit"] = out / "fit.csv"
    write_csv(pd.DataFrame(list(fit_rows))[["spec", "level", "nobs", "r2", "adj_r2", "loglik", "aic", "bic"]],
              files["fit"], index=False)
    if yearly:
        files["yearly_coefficients"] = out / "yearly_coefficients.csv"
        write_csv(pd.concat(yearly, ignore_index=True), files["yearly_coefficients"], index=False)
    files["attractiveness"] = out / "attractiveness.csv"
    att_out = att.reset_index()[["unit", "year", *_ATT_COLUMNS]]
    flags = getattr(data, "flags", None)
    if flags is not None:  # e.g. net migration estimated by the cohort residual method, interpolated inputs
        f = flags.reindex(pd.MultiIndex.from_frame(att_out[["unit", "year"]])).fillna(False).astype(bool)
        att_out = pd.concat([att_out, f.reset_index(drop=True)], axis=1)
    write_csv(with_names(att_out, data), files["attractiveness"], index=False)
    files["rankings"] = out / "rankings.csv"
    write_csv(pd.concat(rank_tables, ignore_index=True), files["rankings"], index=False)
    if getattr(data, "harmonisation_report", None) is not None:
        files["harmonisation"] = out / "harmonisation.csv"
        write_csv(data.harmonisation_report, files["harmonisation"], index=False)


@fill_doc(output_files=OUTPUT_FILES)
def write_map(out: Path, files: dict[str, Path], *, main: AttractivenessResults, data: PanelData,
              att: pd.DataFrame, cum: pd.DataFrame, comparison: Any, ocfg: Mapping[str, Any],
              years: tuple[int, int]) -> None:
    """Write ``map.html`` (and ``lisa.csv`` with the LISA layer).

    Parameters
    ----------
    {output_files}
    main : AttractivenessResults
        The main model.
    data : PanelData
        The run's data (polygons and names).
    att, cum : DataFrame
        Attractiveness by (unit, year) and cumulated by unit.
    comparison : Comparison or None
        The specification comparison (its models' residuals become layers).
    ocfg : mapping
        The ``[output]`` section.
    years : tuple of int
        The estimation years.
    """
    vals = cum.join(att.groupby(level="unit")[["actual", "expected"]].sum())
    files["map"] = out / "map.html"
    fmap = residual_map(
        data.polygons, vals[_ATT_COLUMNS],
        residuals={name: r.resids for name, r in comparison.results.items()} if comparison is not None else None,
        yearly=att[_ATT_COLUMNS],
        layer_name=f"Attractiveness {main.spec} ({main.unit_level} model), cumulative {years[0]}-{years[1]}",
        lisa=bool(ocfg.get("lisa", True)),
        fdr=None if ocfg.get("lisa_fdr") == "none" else ocfg.get("lisa_fdr", 0.05),
        self_contained=bool(ocfg.get("self_contained", True)),
        tiles=None if ocfg.get("self_contained", True) else ocfg.get("tiles", "OpenStreetMap"),
        profile_links="profiles/{page}" if ocfg.get("profiles", True) else None,
        names=data.names, path=files["map"])
    lisa = getattr(getattr(fmap, "geoattr_info", None), "lisa", None)
    if lisa is not None:
        files["lisa"] = out / "lisa.csv"
        write_csv(with_names(lisa.rename_axis("unit").reset_index(), data), files["lisa"], index=False)


@fill_doc(run_models=_RUN_MODELS_DOC, output_files=OUTPUT_FILES)
def write_publication(out: Path, files: dict[str, Path], *, main: AttractivenessResults,
                      models: Mapping[str, AttractivenessResults], data: PanelData, att: pd.DataFrame,
                      ranks: pd.DataFrame, yearly: Sequence[pd.DataFrame], kept: Mapping[str, Any],
                      ocfg: Mapping[str, Any], profiles_index: Path | None = None,
                      jobs: SideJobs | None = None) -> dict[str, Path]:
    """Publication tables (``tables/``), figures (``figures/``) and profile pages (``profiles/``).

    Parameters
    ----------
    {output_files}
    {run_models}
    att : DataFrame
        Attractiveness of the main model.
    ranks : DataFrame
        The rankings (every level).
    yearly : sequence of DataFrame
        Year-by-year coefficients.
    kept : mapping
        Objects of the analyses (``comparison``, ``decomposition``, ``intervals``...).
    ocfg : mapping
        The ``[output]`` section.
    profiles_index : Path, optional
        The index of profile pages already written (by :func:`write_profile_pages`,
        in a side job); default: write them here.
    jobs : SideJobs, optional
        Draw the figures of :func:`geoattr.report.write_figures` in the side job
        ``"figures"`` (started here unless the caller started it with
        :func:`start_figures`): the returned mapping and ``files`` then hold its
        :func:`~geoattr.pipeline.sidejobs.placeholder` until the caller fills it in.

    Returns
    -------
    dict of str to Path
        The figures written, by name.
    """
    top_n = int(ocfg.get("top_n", 10))
    if ocfg.get("tables", True):
        written = write_tables(out / "tables", models=models, comparison=kept.get("comparison"), rankings=ranks,
                                  top_n=top_n)
        files.update({f"table_{k}": v for k, v in written.items()})
    figs: dict[str, Path] = {}
    if ocfg.get("figures", True):
        if jobs is None:
            figs = write_figures(out / "figures", **figure_arguments(main=main, models=models, data=data, att=att,
                                                                     yearly=yearly, kept=kept, ocfg=ocfg))
            files.update({f"figure_{k}": v for k, v in figs.items()})
        else:
            if "figures" not in jobs:  # not started earlier by the caller
                start_figures(jobs, out, main=main, models=models, data=data, att=att, yearly=yearly, kept=kept,
                              ocfg=ocfg)
            figs = {placeholder("figures"): None}  # type: ignore[dict-item]
            files[placeholder("figures")] = None  # type: ignore[assignment]
    figs = {**figs, **write_barometer_outputs(out, files, data=data, kept=kept, ocfg=ocfg)}
    if ocfg.get("profiles", True):
        files["profiles"] = profiles_index or write_profile_pages(out, main=main, data=data, att=att, kept=kept)
    return figs


@fill_doc(run_models=_RUN_MODELS_DOC)
def figure_arguments(*, main: AttractivenessResults, models: Mapping[str, AttractivenessResults], data: PanelData,
                     att: pd.DataFrame, yearly: Sequence[pd.DataFrame], kept: Mapping[str, Any],
                     ocfg: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`geoattr.report.write_figures` for the run's figures.

    Parameters
    ----------
    {run_models}
    att : DataFrame
        Attractiveness of the main model.
    yearly : sequence of DataFrame
        Year-by-year coefficients (the main model's rows are drawn).
    kept : mapping
        Objects of the analyses (``decomposition``).
    ocfg : mapping
        The ``[output]`` section (``top_n``).

    Returns
    -------
    dict
    """
    main_yearly = None
    if yearly:
        yf = pd.concat(yearly, ignore_index=True)
        main_yearly = yf[(yf["spec"] == main.spec) & (yf["level"] == main.unit_level)]
    return {"att": att, "yearly": main_yearly, "decomposition": kept.get("decomposition"), "models": models,
            "names": data.names, "top_n": int(ocfg.get("top_n", 10))}


def start_figures(jobs: SideJobs, out: Path, **arguments: Any) -> None:
    """Start the side job ``"figures"``: :func:`geoattr.report.write_figures` into ``out/figures``.

    It needs only the analyses' results, so a run starts it as soon as they are known;
    :func:`write_publication` puts its files where it would have written them.

    Parameters
    ----------
    jobs : SideJobs
    out : Path
        Output folder.
    **arguments
        Those of :func:`figure_arguments`.
    """
    jobs.start("figures", write_figures, out / "figures", **figure_arguments(**arguments))


def write_profile_pages(out: Path, *, main: AttractivenessResults, data: PanelData, att: pd.DataFrame,
                        kept: Mapping[str, Any]) -> Path:
    """Write the profile pages (``profiles/``) of :func:`write_publication`; return the index page.

    Parameters
    ----------
    out : Path
        Output folder.
    main : AttractivenessResults
        The main model.
    data : PanelData
        The run's data.
    att : DataFrame
        Attractiveness of the main model.
    kept : mapping
        Objects of the analyses and of the forecast.

    Returns
    -------
    Path
    """
    pages = write_profiles(out / "profiles", att=att, intervals=kept.get("intervals"),
                           decomposition=kept.get("decomposition"), decomposition_years=kept.get("decomposition_years"),
                           flows=data.flows, names=data.names, regions=region_labels(data),
                           vra_breakdown=profile_breakdown(main, kept), calculator=kept.get("calculator"))
    return pages["index"]


def row_accounting(main: AttractivenessResults) -> Accounting:
    """The run's row accounting, from the rows read to the observations of the main model.

    The municipal design's accounting (every input table, then ``design``), followed, for
    a model estimated on regions, by the region steps (``panel (region)``, ``flows
    (region)``, ``design (region)``): the last step's used rows are the model's ``nobs``.

    Parameters
    ----------
    main : AttractivenessResults
        The main model.

    Returns
    -------
    Accounting
    """
    acc = main.unit_design.accounting
    return acc if main.design is main.unit_design else acc.merge(main.design.accounting, new_only=True)


def _summary(main: AttractivenessResults, data: PanelData, years: tuple[int, int]) -> dict[str, Any]:
    fs = main.results.fit_statistics()
    d = data.to_dict()
    return {
        "units": f"{d.get('units')} {_PLURAL.get(str(d.get('level')), str(d.get('level')) + 's')}",
        "years of data": "-".join(str(y) for y in d.get("years", [])),
        **{k.replace("_", " "): (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()
           if k not in ("units", "years", "level")},
        "main model": f"VRA specification {main.spec}, estimated on {main.unit_level}s",
        "estimation years": f"{years[0]}-{years[1]}",
        "observations": int(fs["nobs"]),
        "R²": round(float(fs["r2"]), 4),
    }


def _group_ranking_tables(group_rankings: pd.DataFrame | None, top_n: int) -> dict[str, str]:
    """Heading -> HTML ranking table of each age group of ``[analyses] age_groups``."""
    if group_rankings is None:
        return {}
    return {f"Age group {g} (net migration rate of the group)": ranking_table(
        r.drop(columns="group"), fmt="html", top_n=max(1, int(min(top_n, (r["list"] == "top").sum()))))
        for g, r in group_rankings.groupby("group", sort=False)}


@fill_doc(run_models=_RUN_MODELS_DOC)
def report_context(main: AttractivenessResults, models: Mapping[str, AttractivenessResults], data: PanelData,
                   ranks: pd.DataFrame, figs: Mapping[str, Path], kept: Mapping[str, Any], files: Mapping[str, Path],
                   *, top_n: int, years: tuple[int, int]) -> dict[str, Any]:
    """The inputs of :func:`geoattr.report.write_report` (title, summary, tables, figures).

    Parameters
    ----------
    {run_models}
    ranks : DataFrame
        The rankings (every level).
    figs : mapping of str to Path
        The figures written by :func:`write_publication`.
    kept : mapping
        Objects of the analyses (``comparison``...).
    files : mapping of str to Path
        The files written so far (robustness tables and figures).
    top_n : int
        Length of the ranking lists.
    years : tuple of int
        The estimation years.

    Returns
    -------
    dict
        Keyword arguments of ``write_report``.
    """
    comp = kept.get("comparison")
    levels = list(dict.fromkeys(ranks["level"]))
    return {
        "title": f"Residential attractiveness: VRA {main.spec} ({main.unit_level} model), {years[0]}-{years[1]}",
        "summary": _summary(main, data, years),
        "row_accounting": row_accounting(main).to_dict(),
        "model_table": regression_table(
            models, fmt="html", stats=("nobs", "r2", "adj_r2", "aic"),
            labels=term_labels(t for m in models.values() for t in m.results.params.index)),
        "comparison_table": comparison_table(comp, fmt="html") if comp is not None else None,
        "ranking_tables": {_PLURAL.get(lv, f"{lv}s").capitalize(): ranking_table(
            ranks[ranks["level"] == lv], fmt="html",
            top_n=max(1, int(min(top_n, (ranks[(ranks["level"] == lv)]["list"] == "top").sum()))))
            for lv in levels} | _group_ranking_tables(kept.get("group_rankings"), top_n),
        "figures": {_CAPTIONS[k]: v for k, v in figs.items() if k in _CAPTIONS},
        "robustness": (pd.read_csv(files["rank_stability"]) if "rank_stability" in files else None),
        "robustness_figures": {c: files[k] for k, c in _ROBUSTNESS_CAPTIONS if k in files},
        "profiles_index": files.get("profiles"),
        "notes": main.unit_design.notes,
    }


def run_info(cfg: Mapping[str, Any], data: PanelData, main: AttractivenessResults, *, analyses: Mapping[str, Any],
             yearly_skipped: Mapping[str, Any], timings: Mapping[str, float],
             files: Mapping[str, Path], side_jobs: bool | None = None) -> dict[str, Any]:
    """The content of ``run.json``: configuration, data, main model, accounting, versions, timings, outputs.

    Parameters
    ----------
    cfg : mapping
        The run configuration.
    data : PanelData
        The run's data.
    main : AttractivenessResults
        The main model.
    analyses : mapping
        Facts returned by the analyses.
    yearly_skipped : mapping
        Years the year-by-year estimation skipped, by model.
    timings : mapping of str to float
        Seconds per step.
    files : mapping of str to Path
        The files written.
    side_jobs : bool, optional
        Whether side jobs ran in child processes (:class:`geoattr.pipeline.sidejobs.SideJobs`);
        recorded as ``side_jobs`` when given.

    Returns
    -------
    dict
    """
    agreement = data.info.get("net_migration_agreement")
    return {
        "geoattr_run": 1,
        "config": cfg,
        "data": data.to_dict(),
        "main": {"spec": main.spec, "level": main.unit_level, "years": list(main.unit_design.years)},
        "notes": main.unit_design.notes + ([f"estimated on {main.unit_level}s; coefficients applied to municipalities"]
                                           if main.unit_level == "region" else [])
        + list(data.info.get("national_rates", {}).get("notes", [])),
        "row_accounting": row_accounting(main).to_dict(),
        "analyses": analyses,
        **({"net_migration_agreement": agreement.to_dict()} if agreement is not None else {}),
        **({"national_rates": data.info["national_rates"]} if "national_rates" in data.info else {}),
        "yearly_skipped": yearly_skipped,
        "versions": versions(),
        "timings_seconds": timings,
        **({"side_jobs": side_jobs} if side_jobs is not None else {}),
        "outputs": {k: v.name for k, v in files.items()},
    }


def echo_files(files: Mapping[str, Path], out: Path, echo: Callable[[str], None]) -> None:
    """Print where the files went: one line per file, one per folder of tables or figures.

    Parameters
    ----------
    files : mapping of str to Path
        The files written.
    out : Path
        Output folder.
    echo : callable
        Where to print.
    """
    echo(f"geoattr: wrote {len(files)} files to {Path(out).resolve()}")
    for k, v in files.items():
        if not k.startswith(("table_", "figure_")):
            echo(f"  {k:<20} {v.resolve()}")
    for prefix in ("table_", "figure_"):
        folders = pd.Series([v.parent.resolve() for k, v in files.items() if k.startswith(prefix)], dtype=object)
        for folder, n in folders.value_counts(sort=False).items():
            echo(f"  {folder.name:<20} {folder} ({n} files)")
