"""The main job: read a run configuration, estimate, write the outputs.

``geoattr demo`` and ``geoattr run CONFIG.toml`` are thin wrappers over :func:`run`.
The configuration keys are documented in the README ("Run configuration") and checked
against :data:`geoattr.config.RUN_SCHEMA`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from geoattr.attractiveness import attractiveness, cumulate, rankings, region_attractiveness
from geoattr.config import check_run_config
from geoattr.data import PanelData
from geoattr.io.folders import collect_warnings, relocate, staged_output
from geoattr.models.ols import AttractivenessResults, YearlyResults, estimate, estimate_by_year
from geoattr.pipeline.book import write_book_publication, write_yearly_tables
from geoattr.pipeline.outputs import echo_files, report_context, run_info, start_figures, write_estimates, \
    write_map, write_profile_pages, write_publication
from geoattr.pipeline.forecast import fan_units, forecast_report, forecast_step, write_fan_chart
from geoattr.pipeline.sources import read_run_data, resolve_path
from geoattr.pipeline.sidejobs import SideJobs, fill, placeholder
from geoattr.pipeline.steps import run_analyses, run_comparison
from geoattr.pipeline.variables_table import write_variables
from geoattr.report import write_report
from geoattr.robustness import run_robustness_from_config

__all__ = ["DEFAULT_CONFIG", "run", "RunOutputs"]

#: The configuration of ``geoattr demo`` (and of :func:`run` without one).
DEFAULT_CONFIG: dict[str, Any] = {
    "data": {"source": "synthetic", "seed": 2022, "years": None, "commuting_year": "same"},
    "model": {"spec": ["2022", "2019", "2018"], "level": ["region", "municipality"]},
    "analyses": {"yearly": True, "subgroups": True, "subgroup_periods": "halves",
                 "decomposition": {"convention": "as_estimated"},
                 "barometer": True, "drivers": "auto", "uncertainty": True, "persistence": True,
                 "regimes": "centrality", "cohort_residual": True},
    "comparison": {"enabled": False},
    "robustness": {"enabled": True, "n_boot": 499, "n_placebo": 99},
    "output": {"top_n": 10, "map": True},
    "forecast": {"horizon": 10, "draws": 500, "seed": 2022, "backtest": {"fit_until": 2015, "through": 2021},
                 "scenario": [{"name": "plant closure", "unit": "1804", "year": 2025, "jobs": -300}]},
}

_DESIGN_OPTIONS = ("year_effects", "relative_to_national", "constant", "min_share", "top_k", "include_diagonal",
                   "on_missing")


@dataclass
class RunOutputs:
    """What :func:`run` produced: the files and the fitted main model."""

    out: Path
    files: dict[str, Path]
    main: AttractivenessResults
    fits: dict[tuple[str, str], AttractivenessResults] = field(default_factory=dict)
    report: dict[str, Any] | None = field(default=None, repr=False)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 4)


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _obs_weights(model_config: Mapping[str, Any]) -> str | None:
    """``[model] weighted = true`` of the run configuration as the API's ``obs_weights``."""
    return "population" if model_config.get("weighted", False) else None


def run(
    config: Mapping[str, Any] | None = None,
    *,
    out: str | Path,
    data_dir: str | Path | None = None,
    progress: bool = True,
    data: PanelData | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunOutputs:
    """Run the attractiveness model and write every output to ``out``.

    Parameters
    ----------
    config : mapping, optional
        Parsed configuration (see :func:`geoattr.config.load_run_config`); default
        :data:`DEFAULT_CONFIG`.
    out : str or Path
        Output folder.  The run writes into ``.<name>.partial-<pid>`` beside it and
        replaces ``out`` only once every file is written; ``out`` must be new, empty or
        a previous geoattr run (see :mod:`geoattr.io.folders`).
    data_dir : str or Path, optional
        Base folder for relative data paths (overrides ``[data] dir``).
    progress : bool, default True
        Show progress bars.
    data : PanelData, optional
        Use these data instead of reading them from the configuration.
    echo : callable, optional
        Where to print short messages (also the geoattr warnings of the run).

    Returns
    -------
    RunOutputs
        Paths of ``coefficients.csv``, ``fit.csv``, ``yearly_coefficients.csv``,
        ``attractiveness.csv``, ``rankings.csv``, ``map.html``, the analyses'
        tables and ``run.json``.  geoattr warnings raised during the run (isolates,
        repaired geometries...) are collected into ``run.json`` under ``warnings``.

    Raises
    ------
    InputError
        Bad configuration or data, an output folder that cannot be used (a file, not
        writable, a folder of other files), or a file that cannot be written; ``out``
        is then left as it was.
    """
    final = Path(out)
    config_dir = config.get("_config_dir") if isinstance(config, Mapping) else None
    inputs = [p for p in (config_dir, data_dir) if p is not None]
    with staged_output(final, inputs=inputs) as tmp:  # checks `out` before any work
        with collect_warnings() as messages:
            result = _run(config, out=tmp, data_dir=data_dir, progress=progress, data=data)
        info = json.loads(result.files["run"].read_text(encoding="utf-8"))
        info["warnings"] = messages
        if result.report is not None:
            path = tmp / "report.html"
            listed = {k: v for k, v in result.files.items() if not k.startswith(("table_", "figure_"))}
            write_report(path, warnings=info["warnings"], map_file=result.files.get("map"), files=listed,
                         **result.report)
            result.files["report"] = path
            info["outputs"]["report"] = path.name
        result.files["run"].write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    result = replace(result, out=final, files=relocate(result.files, tmp, final),
                     report=relocate(result.report, tmp, final))
    if echo:
        echo_files(result.files, final, echo)
        for m in info["warnings"]:
            echo(f"  warning: {m}")
    return result


@dataclass
class _Estimates:
    """The models of the run's grid (spec x level) and their tables."""

    fits: dict[tuple[str, str], AttractivenessResults] = field(default_factory=dict)
    coefficients: list[pd.DataFrame] = field(default_factory=list)
    fit_rows: list[dict[str, Any]] = field(default_factory=list)
    yearly: list[pd.DataFrame] = field(default_factory=list)
    yearly_skipped: dict[str, dict[int, str]] = field(default_factory=dict)
    years: tuple[int, int] | None = None
    yearly_fits: dict[tuple[str, str], YearlyResults] = field(default_factory=dict)


def _estimate_grid(data: PanelData, dcfg: Mapping[str, Any], mcfg: Mapping[str, Any], *, progress: bool,
                   timer: _Timer, then: Callable[[AttractivenessResults], None] | None = None) -> _Estimates:
    """Estimate every (spec, level) of ``[model]``; the first is the main model, passed to ``then`` once fitted."""
    specs = [str(s) for s in _as_list(mcfg.get("spec", "2022"))]
    levels = _as_list(mcfg.get("level", "municipality"))
    est = _Estimates(years=tuple(dcfg["years"]) if dcfg.get("years") else None)
    design_opts = {k: mcfg[k] for k in _DESIGN_OPTIONS if k in mcfg}
    if "extra" in mcfg:
        design_opts["extra"] = list(mcfg["extra"])
    bar = tqdm([(s, lv) for s in specs for lv in levels], desc="estimating", disable=not progress, unit="model")
    with timer("estimate"):
        for s, lv in bar:
            bar.set_postfix_str(f"spec {s}, {lv}")
            fit = estimate(data, s, unit_level=lv, years=est.years, commuting_year=dcfg.get("commuting_year", "same"),
                           obs_weights=_obs_weights(mcfg), cov_type=mcfg.get("cov_type", "clustered"),
                           **design_opts)
            est.years = est.years or fit.unit_design.years
            est.fits[(s, lv)] = fit
            f = fit.results.to_frame().reset_index()[["term", "estimate", "std_error", "t", "p"]]
            f.insert(0, "level", lv)
            f.insert(0, "spec", s)
            est.coefficients.append(f)
            est.fit_rows.append({"spec": s, "level": lv, **fit.results.fit_statistics().to_dict()})
            if then is not None and len(est.fits) == 1:
                then(fit)
    return est


def _estimate_by_year(est: _Estimates, mcfg: Mapping[str, Any], *, progress: bool, timer: _Timer) -> None:
    """Year-by-year coefficients of every model of the grid."""
    with timer("estimate by year"):
        for (s, lv), fit in tqdm(est.fits.items(), desc="year by year", disable=not progress, unit="model"):
            yr = estimate_by_year(fit.design, obs_weights=_obs_weights(mcfg))
            est.yearly.append(yr.to_frame())
            est.yearly_fits[(s, lv)] = yr
            if yr.skipped:
                est.yearly_skipped[f"{s}|{lv}"] = yr.skipped


def _rankings(main: AttractivenessResults, data: PanelData, att: pd.DataFrame, cum: pd.DataFrame,
              top_n: int) -> list[pd.DataFrame]:
    """Top and bottom lists of municipalities (and of regions when the data have them)."""
    tables = [rankings(cum, n=top_n, names=data.names, unit_level="municipality")]
    if data.regions is not None:
        ratt = region_attractiveness(main, att)
        tables.append(rankings(cumulate(ratt), n=min(top_n, ratt.index.get_level_values(0).nunique() // 2 or 1),
                               names=data.region_names, unit_level="region"))
    return tables


def _robustness_job(main: AttractivenessResults, data: PanelData, rcfg: Mapping[str, Any], out: Path, *,
                    progress: bool) -> tuple[dict[str, Path], dict[str, Any]]:
    """The ``[robustness]`` step as a side job: the files it wrote and its facts for run.json."""
    files: dict[str, Path] = {}
    info = run_robustness_from_config(main, data, rcfg, out, files, progress=progress)
    return files, info


def _collect_robustness(jobs: SideJobs, files: dict[str, Path], info: dict[str, Any], timer: _Timer) -> None:
    """Put the robustness side job's files and facts where the serial step would have."""
    if "robustness" not in jobs:
        return
    new, rinfo = jobs.result("robustness")
    fill(files, "robustness", new)
    info.update(rinfo)
    timer.timings["robustness"] = round(jobs.seconds("robustness"), 4)


def _fan_chart_job(res: Any, units: list[str], path: Path, *, names: Any) -> dict[str, Path]:
    """:func:`write_fan_chart` as a side job: the files it wrote."""
    files: dict[str, Path] = {}
    write_fan_chart(res, units, path, files, names=names)
    return files


def _collect_figures(jobs: SideJobs, files: dict[str, Path], figs: dict[str, Path]) -> None:
    """Put the figures side job's files where :func:`write_publication` would have written them."""
    if "figures" in jobs:
        new = jobs.result("figures")
        fill(figs, "figures", new)
        fill(files, "figures", {f"figure_{k}": v for k, v in new.items()})


def _tables_job(out: Path, *, est: _Estimates, att: pd.DataFrame, rank_tables: list[pd.DataFrame],
                data: PanelData) -> tuple[dict[str, Path], dict[tuple[str, str], pd.DataFrame]]:
    """The estimates' CSVs, ``variables.csv`` and the yearly tables as a side job: the files and the yearly tables."""
    files: dict[str, Path] = {}
    write_estimates(out, files, coefficients=est.coefficients, fit_rows=est.fit_rows, yearly=est.yearly,
                    att=att, rank_tables=rank_tables, data=data)
    write_variables(out, files, est.fits.values())
    return files, write_yearly_tables(out, files, est.yearly_fits)


def _map_job(out: Path, **arguments: Any) -> dict[str, Path]:
    """:func:`write_map` as a side job: the files it wrote."""
    files: dict[str, Path] = {}
    write_map(out, files, **arguments)
    return files


def _collect(jobs: SideJobs, name: str, files: dict[str, Path], timer: _Timer, step: str) -> Any:
    """Put side job ``name``'s files where its step would have written them; its other results.

    The job returns its files, or a tuple of its files and other results.  Its time
    (where it ran) becomes the step's.
    """
    value = jobs.result(name)
    new, rest = (value[0], value[1:]) if isinstance(value, tuple) else (value, ())
    fill(files, name, new)
    timer.timings[step] = round(jobs.seconds(name), 4)
    return rest[0] if len(rest) == 1 else rest


def _analyses(cfg: Mapping[str, Any], main: AttractivenessResults, data: PanelData, out: Path,
              files: dict[str, Path], kept: dict[str, Any], *, progress: bool, timer: _Timer,
              jobs: SideJobs, then: Callable[[], None]) -> dict[str, Any]:
    """``[analyses]``, ``[comparison]``, ``[robustness]`` and ``[forecast]``: facts for run.json.

    The robustness battery runs as a side job: see :func:`_collect_robustness`.  ``then``
    is called once the analyses and the comparison are known, before the forecast (it
    starts the side jobs that need them).
    """
    info: dict[str, Any] = {}
    if acfg := cfg.get("analyses", {}):
        with timer("analyses"):
            info.update(run_analyses(main, data, acfg, out, files, kept=kept))
    ccfg = cfg.get("comparison", {})
    if ccfg.get("enabled", False):
        with timer("comparison"):
            info.update(run_comparison(data, ccfg, main, out, files, kept=kept))
    if "robustness" in jobs:  # started after the estimation (_run_steps)
        files[placeholder("robustness")] = None  # type: ignore[assignment]  # filled when collected
        info["robustness"] = None
        timer.timings["robustness"] = 0.0
    then()
    fcfg = cfg.get("forecast")
    if fcfg is not None and fcfg.get("enabled", True):
        with timer("forecast"):
            info.update(forecast_step(main, fcfg, out, files, progress=progress, kept=kept))
    return info


def _run(config: Mapping[str, Any] | None, *, out: Path, data_dir: str | Path | None, progress: bool,
         data: PanelData | None) -> RunOutputs:
    jobs = SideJobs()
    try:
        return _run_steps(config, out=out, data_dir=data_dir, progress=progress, data=data, jobs=jobs)
    finally:
        jobs.close()


def _run_steps(config: Mapping[str, Any] | None, *, out: Path, data_dir: str | Path | None, progress: bool,
               data: PanelData | None, jobs: SideJobs) -> RunOutputs:
    cfg = {k: v for k, v in (config or DEFAULT_CONFIG).items() if not k.startswith("_")}
    check_run_config(cfg)  # before copying: a section that is not a table is named
    cfg = {k: dict(v) for k, v in cfg.items()}
    timer = _Timer()
    t_start = time.perf_counter()
    dcfg, mcfg, ocfg = cfg.get("data", {}), cfg.get("model", {}), cfg.get("output", {})
    base = Path(data_dir) if data_dir else resolve_path(Path((config or {}).get("_config_dir", ".")),
                                                        dcfg.get("dir", "."))
    with timer("read data"):
        if data is None:
            data = read_run_data(dcfg, base)
    robust = bool(cfg.get("robustness", {}).get("enabled", False))

    def start_robustness(main: AttractivenessResults) -> None:  # needs only the main model: a side job from now on
        rcfg = cfg["robustness"]
        if jobs.parallel and "n_jobs" not in rcfg:  # the run's other steps keep the other cores busy
            rcfg = {**rcfg, "n_jobs": 1}
        jobs.start("robustness", _robustness_job, main, data, rcfg, out, progress=progress)

    def start_early(main: AttractivenessResults) -> None:  # once the main model is fitted
        if robust and jobs.parallel:  # the first job: whether a core is free is measured until now
            start_robustness(main)

    # In a child, the battery starts beside the grid's other models (the other core is idle until they are
    # done); run here, it runs after them, as it always has.
    est = _estimate_grid(data, dcfg, mcfg, progress=progress, timer=timer, then=start_early)
    if robust and "robustness" not in jobs:
        start_robustness(next(iter(est.fits.values())))
    if cfg.get("analyses", {}).get("yearly", True):
        _estimate_by_year(est, mcfg, progress=progress, timer=timer)
    main = next(iter(est.fits.values()))
    top_n = int(ocfg.get("top_n", 10))
    with timer("attractiveness"):
        att = attractiveness(main)
        cum = cumulate(att)
        rank_tables = _rankings(main, data, att, cum, top_n)
    files: dict[str, Path] = {}
    with timer("write tables"):  # a side job; its time is recorded when it is collected
        jobs.start("tables", _tables_job, out, est=est, att=att, rank_tables=rank_tables, data=data)
        files[placeholder("tables")] = None  # type: ignore[assignment]
    extra_info, report = _outputs(cfg, est, data, att, cum, rank_tables, out, files, progress=progress,
                                  timer=timer, jobs=jobs)
    timer.timings["total"] = round(time.perf_counter() - t_start, 4)
    info = run_info(cfg, data, main, analyses=extra_info, yearly_skipped=est.yearly_skipped,
                    timings=timer.timings, files=files, side_jobs=jobs.parallel)
    files["run"] = out / "run.json"
    files["run"].write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return RunOutputs(out=out, files=files, main=main, fits=est.fits, report=report)


def _outputs(cfg: Mapping[str, Any], est: _Estimates, data: PanelData, att: pd.DataFrame, cum: pd.DataFrame,
             rank_tables: list[pd.DataFrame], out: Path, files: dict[str, Path], *, progress: bool, timer: _Timer,
             jobs: SideJobs) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Everything after the estimates: analyses, forecast, map, publication; facts for run.json and the report.

    The figures and the map start as side jobs once the analyses are known, the fan chart
    once the forecast is, the profile pages after the forecast; each is collected where
    the serial run would have written its files.
    """
    main, years, ocfg = next(iter(est.fits.values())), est.years, cfg.get("output", {})
    top_n, profiles = int(ocfg.get("top_n", 10)), ocfg.get("profiles", True)
    with_map = bool(ocfg.get("map", True)) and data.polygons is not None
    models = {f"{s} ({lv})": f for (s, lv), f in est.fits.items()}
    kept: dict[str, Any] = {}  # objects the publication outputs reuse (decomposition, comparison...)

    def start_outputs() -> None:  # the analyses and the comparison are known
        if ocfg.get("figures", True):
            start_figures(jobs, out, main=main, models=models, data=data, att=att, yearly=est.yearly, kept=kept,
                          ocfg=ocfg)
        if with_map:
            jobs.start("map", _map_job, out, main=main, data=data, att=att, cum=cum,
                       comparison=kept.get("comparison"), ocfg=ocfg, years=years)

    extra_info = _analyses(cfg, main, data, out, files, kept, progress=progress, timer=timer, jobs=jobs,
                           then=start_outputs)
    units = fan_units(kept["forecast"], cfg["forecast"], cum) if "forecast" in kept else []
    if "forecast" in kept and ocfg.get("figures", True):  # the run's last figure: a side job too
        jobs.start("fan chart", _fan_chart_job, kept["forecast"], units, out / "figures" / "fan_chart.png",
                   names=data.names)
    if profiles:  # the profile pages need only what is known now (the forecast's calculator too)
        jobs.start("profiles", write_profile_pages, out, main=main, data=data, att=att, kept=kept)
    if with_map:
        with timer("map"):
            files[placeholder("map")] = None  # type: ignore[assignment]
    with timer("publication"):
        ranks = pd.concat(rank_tables, ignore_index=True)
        figs = write_publication(out, files, main=main, models=models, data=data, att=att, ranks=ranks,
                                 yearly=est.yearly, kept=kept, ocfg=ocfg,
                                 profiles_index=out / "profiles" / "index.html" if profiles else None, jobs=jobs)
        yearly_tables = _collect(jobs, "tables", files, timer, "write tables")
        figs.update(write_book_publication(out, files, main=main, yearly_tables=yearly_tables, kept=kept, ocfg=ocfg))
        _collect_robustness(jobs, files, extra_info, timer)
        _collect_figures(jobs, files, figs)
        if with_map:
            _collect(jobs, "map", files, timer, "map")
        report = report_context(main, models, data, ranks, figs, kept, files, top_n=top_n,
                                years=years) if ocfg.get("report", True) else None
        if "forecast" in kept:  # the fan chart, the report's forecast section (profiles: kept["calculator"])
            if "fan chart" in jobs:
                files[placeholder("fan chart")] = None  # type: ignore[assignment]
            if report is not None:
                report.update(forecast_report(kept["forecast"], units, names=data.names))
    if "fan chart" in jobs:
        fill(files, "fan chart", jobs.result("fan chart"))
    if profiles:
        files["profiles"] = jobs.result("profiles")
        timer.timings["profiles"] = round(jobs.seconds("profiles"), 4)
    return extra_info, report
