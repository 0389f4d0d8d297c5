"""``geoattr forecast CONFIG.toml``: the main model of ``[data]`` and ``[model]``, then ``[forecast]``.

:func:`forecast_step` writes the forecast's files (also from ``geoattr run`` when its
configuration has a ``[forecast]`` section); :func:`run_forecast` is the whole job,
written through a staged output folder as ``geoattr run`` is, with its own page
``forecast.html``.  In ``geoattr run`` the forecast also reaches the publication:
:func:`write_fan_chart` writes ``figures/fan_chart.png`` (and ``.svg``),
:func:`forecast_report` the keywords of the report's forecast section and the
profile pages get the scenario calculator (``kept["calculator"]``).  The units of the
fan charts: :func:`fan_units`.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._format import format_ids, write_csv
from geoattr.attractiveness import attractiveness, cumulate
from geoattr.config import check_run_config
from geoattr.data import PanelData
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.forecast import ForecastResults, forecast
from geoattr.io.figures import save_figure
from geoattr.io.folders import collect_warnings, relocate, staged_output
from geoattr.models.ols import AttractivenessResults, estimate
from geoattr.pipeline.outputs import echo_files, run_info
from geoattr.pipeline.sources import read_run_data, resolve_path
from geoattr.report.calculator import calculator_from_forecast
from geoattr.report.forecast import fan_chart, write_forecast_page

__all__ = ["FORECAST_FILES", "ForecastOutputs", "fan_units", "forecast_from_config", "forecast_report",
           "forecast_step", "main_model", "run_forecast", "write_fan_chart", "write_forecast"]

#: The files of a forecast: key -> file name.
FORECAST_FILES = {"forecast": "forecast.csv", "forecast_history": "forecast_history.csv", "scenario": "scenario.csv",
                  "backtest": "backtest.csv", "calculator": "calculator.json", "forecast_page": "forecast.html",
                  "fan_chart": "fan_chart.png"}
#: How many units the fan charts show by default.
FAN_UNITS = 4
_DESIGN_KEYS = ("year_effects", "relative_to_national", "min_share", "top_k", "include_diagonal", "on_missing")


@dataclass(frozen=True)
class ForecastOutputs:
    """What :func:`run_forecast` produced: the files, the main model and the forecast."""

    out: Path
    files: dict[str, Path]
    main: AttractivenessResults
    results: ForecastResults


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, (list, tuple)) else v


def main_model(data: PanelData, dcfg: Mapping[str, Any], mcfg: Mapping[str, Any]) -> AttractivenessResults:
    """The main model of a run configuration: the first ``[model] spec`` at the first ``level``.

    Parameters
    ----------
    data : PanelData
    dcfg, mcfg : mapping
        The ``[data]`` and ``[model]`` sections.

    Returns
    -------
    AttractivenessResults
    """
    opts = {k: mcfg[k] for k in _DESIGN_KEYS if k in mcfg}
    if "extra" in mcfg:
        opts["extra"] = list(mcfg["extra"])
    return estimate(data, str(_first(mcfg.get("spec", "2022"))), unit_level=_first(mcfg.get("level", "municipality")),
                    years=tuple(dcfg["years"]) if dcfg.get("years") else None,
                    commuting_year=dcfg.get("commuting_year", "same"),
                    obs_weights="population" if mcfg.get("weighted", False) else None,
                    cov_type=mcfg.get("cov_type", "clustered"), **opts)


def forecast_from_config(main: AttractivenessResults, fcfg: Mapping[str, Any], *,
                         progress: bool = False) -> ForecastResults:
    """:func:`geoattr.forecast.forecast` with the keys of a ``[forecast]`` section.

    Parameters
    ----------
    main : AttractivenessResults
    fcfg : mapping
        The ``[forecast]`` section (checked against :data:`geoattr.config.FORECAST_SCHEMA`).
    progress : bool, default False

    Returns
    -------
    ForecastResults
    """
    kw = {k: fcfg[k] for k in ("horizon", "draws", "seed", "level", "attractiveness", "jobs", "backtest", "n_jobs")
          if k in fcfg}
    return forecast(main, scenarios=fcfg.get("scenario", ()), progress=progress, **kw)


def write_forecast(res: ForecastResults, out: Path, files: dict[str, Path]) -> dict[str, Any]:
    """Write a forecast's files; the facts for ``run.json``.

    Writes ``forecast.csv``, ``forecast_history.csv`` (the observed values before it),
    ``scenario.csv``, ``backtest.csv`` (with a backtest) and ``calculator.json``
    (:meth:`~geoattr.forecast.ForecastResults.calculator_json`).

    Parameters
    ----------
    res : ForecastResults
    out : Path
    files : dict of str to Path
        Updated with the files written.

    Returns
    -------
    dict
        ``{"forecast": {... info, "rules": [...]}}``.
    """
    tables = {"forecast": res.forecast, "forecast_history": res.history, "scenario": res.scenarios,
              "backtest": res.backtest}
    for key, frame in tables.items():
        if frame is not None:
            files[key] = write_csv(frame, out / FORECAST_FILES[key], index=False)
    files["calculator"] = out / FORECAST_FILES["calculator"]
    files["calculator"].write_text(json.dumps(res.calculator_json()), encoding="utf-8")
    return {"forecast": {**dict(res.info), "rules": list(res.notes)}}


def forecast_step(main: AttractivenessResults, fcfg: Mapping[str, Any], out: Path, files: dict[str, Path], *,
                  progress: bool = False, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the forecast of ``[forecast]`` and write its files (:func:`write_forecast`).

    Parameters
    ----------
    main : AttractivenessResults
    fcfg : mapping
    out : Path
    files : dict of str to Path
    progress : bool, default False
    kept : dict, optional
        Objects the publication reuses: updated with ``forecast`` (the
        ForecastResults) and ``calculator`` (the profile pages' calculator inputs,
        :func:`geoattr.report.calculator.calculator_from_forecast`; when the
        calculator refuses the forecast's numbers, a GeoattrWarning says why and the
        pages go without it).

    Returns
    -------
    dict
        The facts for ``run.json``.
    """
    res = forecast_from_config(main, fcfg, progress=progress)
    facts = write_forecast(res, out, files)
    if kept is not None:
        kept["forecast"] = res
        try:
            kept["calculator"] = calculator_from_forecast(res)
        except InputError as e:  # e.g. a workplace with commuters but no jobs: the pages go without
            warnings.warn(f"the profile pages have no scenario calculator: {e}", GeoattrWarning, stacklevel=2)
    return facts


def fan_units(res: ForecastResults, fcfg: Mapping[str, Any], cum: pd.DataFrame | None = None) -> list[str]:
    """The units of the fan charts: ``[forecast] fan_units``, else the scenario units and the extremes.

    Without ``fan_units``: the workplace of each ``[[forecast.scenario]]`` (in the
    order of the configuration), then the most and the least attractive unit (largest
    and smallest cumulative attractiveness ``cum``), :data:`FAN_UNITS` in all; units
    the forecast does not project are skipped.

    Parameters
    ----------
    res : ForecastResults
    fcfg : mapping
        The ``[forecast]`` section.
    cum : pandas.DataFrame, optional
        :func:`geoattr.cumulate` output (index unit, ``residual``).

    Returns
    -------
    list of str
        The units of the fan chart, in drawing order.

    Raises
    ------
    InputError
        A unit of ``fan_units`` that the forecast does not project (named).
    """
    projected = list(dict.fromkeys(res.forecast["unit"].astype(str)))
    have = set(projected)
    if fcfg.get("fan_units"):
        chosen = [str(u) for u in fcfg["fan_units"]]
        bad = [u for u in chosen if u not in have]
        if bad:
            raise InputError(f"[forecast] fan_units {format_ids(bad)} are not units of the forecast; use unit ids "
                             f"such as {format_ids(projected[:3])}")
        return list(dict.fromkeys(chosen))
    chosen = [str(s["unit"]) for s in fcfg.get("scenario", ())]
    if cum is not None and len(cum):
        order = cum["residual"].rename(index=str).sort_values(ascending=False, kind="stable")
        order = order[order.index.isin(have)]
        chosen += [order.index[0], order.index[-1]] if len(order) else []
    chosen = [u for u in dict.fromkeys(chosen) if u in have]
    return (chosen or projected)[:FAN_UNITS]


def write_fan_chart(res: ForecastResults, units: list[str], path: Path, files: dict[str, Path], *,
                    names: Any = None) -> Path:
    """Write the fan chart of net migration of ``units`` as PNG and SVG (``fan_chart.png``, ``fan_chart.svg``).

    Parameters
    ----------
    res : ForecastResults
    units : list of str
    path : Path
        The PNG file; the SVG goes beside it.
    files : dict of str to Path
        Updated with ``figure_fan_chart_png`` and ``figure_fan_chart_svg``.
    names : mapping or pandas.Series, optional
        Unit id -> name (panel titles).

    Returns
    -------
    Path
        The PNG file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Laid out once for the PNG; the SVG keeps that layout.
    save_figure(fan_chart(res.forecast, units, history=res.history, names=names), [path, path.with_suffix(".svg")], dpi=150)
    files["figure_fan_chart_png"], files["figure_fan_chart_svg"] = path, path.with_suffix(".svg")
    return path


def forecast_report(res: ForecastResults, units: list[str], *, names: Any = None) -> dict[str, Any]:
    """The keywords of :func:`geoattr.report.write_report` for its forecast and scenario section.

    Parameters
    ----------
    res : ForecastResults
    units : list of str
        The units with fan charts (:func:`fan_units`).
    names : mapping or pandas.Series, optional

    Returns
    -------
    dict
        ``forecast``, ``forecast_history``, ``scenario`` (None without scenarios),
        ``backtest``, ``forecast_units`` and ``names``.
    """
    return {"forecast": res.forecast, "forecast_history": res.history,
            "scenario": res.scenarios if len(res.scenarios) else None, "backtest": res.backtest,
            "forecast_units": units, "names": names}


def run_forecast(config: Mapping[str, Any], *, out: str | Path, data_dir: str | Path | None = None,
                 progress: bool = True, data: PanelData | None = None,
                 echo: Callable[[str], None] | None = None) -> ForecastOutputs:
    """Estimate the main model and write its forecast to ``out`` (``geoattr forecast``).

    Parameters
    ----------
    config : mapping
        A run configuration (:func:`geoattr.config.load_run_config`); ``[data]``,
        ``[model]`` and ``[forecast]`` are used, other sections are ignored.
    out : str or Path
        Output folder, replaced as a whole once every file is written (see
        :mod:`geoattr.io.folders`).
    data_dir : str or Path, optional
        Base folder of relative data paths (overrides ``[data] dir``).
    progress : bool, default True
    data : PanelData, optional
        Use these data instead of reading ``[data]``.
    echo : callable, optional
        Where to print the files written.

    Returns
    -------
    ForecastOutputs

    Raises
    ------
    InputError
        Bad configuration, data or output folder; ``out`` is then left as it was.
    """
    cfg = {k: v for k, v in config.items() if not k.startswith("_")}
    check_run_config(cfg)
    final = Path(out)
    inputs = [p for p in (config.get("_config_dir"), data_dir) if p is not None]
    with staged_output(final, inputs=inputs) as tmp:
        with collect_warnings() as messages:
            t0 = time.perf_counter()
            dcfg, mcfg = dict(cfg.get("data", {})), dict(cfg.get("model", {}))
            base = Path(data_dir) if data_dir else resolve_path(Path(config.get("_config_dir", ".")),
                                                                dcfg.get("dir", "."))
            data = read_run_data(dcfg, base) if data is None else data
            t1 = time.perf_counter()
            main = main_model(data, dcfg, mcfg)
            t2 = time.perf_counter()
            files: dict[str, Path] = {}
            fcfg = cfg.get("forecast", {})
            res = forecast_from_config(main, fcfg, progress=progress)
            facts = write_forecast(res, tmp, files)
            units = fan_units(res, fcfg, cumulate(attractiveness(main)))
            write_fan_chart(res, units, tmp / "figures" / FORECAST_FILES["fan_chart"], files, names=data.names)
            files["forecast_page"] = write_forecast_page(
                tmp / FORECAST_FILES["forecast_page"], title=f"Forecast: VRA {main.spec} ({main.unit_level} model), "
                f"{res.info['first_year']}-{res.info['last_year']}", notes=res.notes,
                files=dict(files), **forecast_report(res, units, names=data.names))
            t3 = time.perf_counter()
        ignored = sorted(set(cfg) - {"data", "model", "forecast"})
        timings = {"read data": round(t1 - t0, 4), "estimate": round(t2 - t1, 4), "forecast": round(t3 - t2, 4),
                   "total": round(t3 - t0, 4)}
        info = run_info(cfg, data, main, analyses=facts, yearly_skipped={}, timings=timings, files=files)
        info.update({"command": "forecast", "ignored_sections": ignored, "warnings": messages})
        files["run"] = tmp / "run.json"
        info["outputs"]["run"] = "run.json"
        files["run"].write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    files = relocate(files, tmp, final)
    if echo:
        echo_files(files, final, echo)
        for m in messages:
            echo(f"  warning: {m}")
    return ForecastOutputs(out=final, files=files, main=main, results=res)
