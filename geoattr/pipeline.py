"""The main job: read a run configuration, estimate, write the outputs.

``geoattr demo`` and ``geoattr run CONFIG.toml`` are thin wrappers over :func:`run`.
The configuration keys are documented in the README ("Run configuration").
"""

from __future__ import annotations

import json
import platform
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr.accounting import Accounting
from geoattr.attractiveness import attractiveness, cumulate, rankings, region_attractiveness
from geoattr.data import PanelData
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.maps import residual_map
from geoattr.models.ols import AttractivenessResults, estimate, estimate_by_year
from geoattr.robustness import CONFIG_KEYS as _ROBUSTNESS_KEYS

__all__ = ["DEFAULT_CONFIG", "load_config", "run", "synthetic_panel_data", "RunOutputs"]

DEFAULT_CONFIG: dict[str, Any] = {
    "data": {"source": "synthetic", "seed": 2022, "years": None, "commuting_year": "same"},
    "model": {"spec": ["2022", "2019", "2018"], "level": ["region", "municipality"]},
    "analyses": {"yearly": True, "subgroups": True, "subgroup_periods": "halves", "decomposition": True,
                 "barometer": True, "drivers": "auto", "uncertainty": True, "persistence": True,
                 "regimes": "centrality", "cohort_residual": True},
    "comparison": {"enabled": False},
    "robustness": {"enabled": True, "n_boot": 499, "n_placebo": 99},
    "output": {"top_n": 10, "map": True},
}

_DATA_KEYS = {
    "source", "seed", "dir", "units", "years", "commuting_year", "regions", "panel", "flows", "centrality",
    "polygons", "population_by_age", "employment_rates", "death_probabilities", "on_mismatch", "crosswalk",
}
_MODEL_KEYS = {
    "spec", "level", "weighted", "cov_type", "year_effects", "relative_to_national", "extra",
    "min_share", "top_k", "include_diagonal", "on_missing",
}
_OUTPUT_KEYS = {"top_n", "map", "tables", "figures", "report", "profiles", "self_contained", "tiles", "lisa",
                "lisa_fdr"}
_ANALYSES_KEYS = {
    "yearly", "subgroups", "subgroup_periods", "decomposition", "decomposition_years", "barometer",
    "barometer_flows", "barometer_period_length", "drivers", "driver_periods", "uncertainty", "persistence",
    "regimes", "fertility_rates", "cohort_residual",
}
_COMPARISON_KEYS = {"enabled", "models", "weights", "knn", "distance_band", "holdout_years", "weights_year", "years"}
_SECTIONS = {"data": _DATA_KEYS, "model": _MODEL_KEYS, "output": _OUTPUT_KEYS, "analyses": _ANALYSES_KEYS,
             "comparison": _COMPARISON_KEYS, "robustness": _ROBUSTNESS_KEYS}
_VERSIONED = ["geoattr", "numpy", "pandas", "scipy", "geopandas", "shapely", "libpysal", "spreg",
              "linearmodels", "folium", "esda"]


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML run configuration.

    Unknown sections or keys raise an error naming them (typos are not ignored).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The configuration with ``_config_dir`` set to the file's folder (relative data
        paths are resolved against it unless ``--data-dir`` is given).
    """
    from geoattr.io.readers import read_toml

    return read_toml(path, check_config)


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`InputError` naming unknown sections/keys or invalid values."""
    unknown = set(cfg) - set(_SECTIONS) - {"_config_dir"}
    if unknown:
        raise InputError(f"unknown configuration section(s) {sorted(unknown)}; allowed: {sorted(_SECTIONS)}")
    for sec, keys in _SECTIONS.items():
        bad = set(cfg.get(sec, {})) - keys
        if bad:
            raise InputError(f"unknown key(s) {sorted(bad)} in [{sec}]; allowed: {sorted(keys)}")
    data = cfg.get("data", {})
    src = data.get("source", "synthetic")
    if src not in ("synthetic", "files", "ssb"):
        raise InputError(
            f"[data] source = {src!r} is not supported; use 'synthetic' (embedded default), "
            "'files' (panel/flows/... tables named in [data]) or 'ssb' (a folder of Statistics Norway tables)"
        )
    cy = data.get("commuting_year", "same")
    if not (cy == "same" or isinstance(cy, int)):
        raise InputError(f"[data] commuting_year must be an integer year or \"same\", got {cy!r}")
    yrs = data.get("years")
    if yrs is not None and (not isinstance(yrs, list) or len(yrs) != 2 or not all(isinstance(v, int) for v in yrs)):
        raise InputError(f"[data] years must be [first, last] (integers), got {yrs!r}")
    model = cfg.get("model", {})
    for s in _as_list(model.get("spec", "2022")):
        if s not in ("2018", "2019", "2022"):
            raise InputError(f"[model] spec {s!r} is unknown; use \"2018\", \"2019\" or \"2022\"")
    for lv in _as_list(model.get("level", "municipality")):
        if lv not in ("region", "municipality"):
            raise InputError(f"[model] level {lv!r} is unknown; use \"region\" or \"municipality\"")


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def synthetic_panel_data(seed: int = 2022) -> PanelData:
    """The embedded synthetic Norway as a :class:`PanelData` (municipality level)."""
    from geoattr.datasets import synthetic_norway

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


def _ssb_panel_data(data_cfg: Mapping[str, Any], base: Path) -> PanelData:
    """The SSB directory adapter; ``[data] regions`` is a built-in name or a mapping file."""
    from geoattr import io
    from geoattr.datasets import norway

    r = data_cfg.get("regions")
    units = data_cfg.get("units", "2017")
    data = norway.load(base, panel=data_cfg.get("panel", "2003-2016"), units=units,
                       regions=r if isinstance(r, str) else "regions85")
    if isinstance(r, Mapping):
        if "path" not in r:
            raise InputError("[data] regions needs a path (or a built-in name: 'regions85', 'ba159')")
        code_year = int(r.get("code_year", 2017))
        mapping = io.read_mapping(_resolve(base, r["path"]), key=r.get("unit_column", "unit"),
                                  value=r.get("region_column", "region"), id_width=4)
        if units == "stable":
            from geoattr.data import Crosswalk

            cw = Crosswalk.from_frame(pd.read_csv(base / norway.FILES["crosswalk"],
                                                  dtype={"kommunenummer": str, "kommunenummer_2024": str}))
            regions = norway.regions_to_stable(mapping, cw, data.units, code_year=code_year,
                                               population=norway.population_by_code(base, code_year),
                                               accounting=data.accounting, name=str(r["path"]))
        else:
            regions = mapping.reindex(data.units)
        data = _with_regions(data, regions)
    return data


def _with_regions(data: PanelData, regions: pd.Series) -> PanelData:
    """The same data with another unit -> region mapping (extra attributes kept)."""
    return data.replace(regions=regions)


def _resolve(base: Path, p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else base / q


def _files_panel_data(data_cfg: Mapping[str, Any], base: Path, acc: Accounting) -> PanelData:
    """Build PanelData from the tables named in ``[data]`` (source = "files")."""
    from geoattr import io

    def spec(name: str, required: bool = True) -> Mapping[str, Any] | None:
        s = data_cfg.get(name)
        if s is None and required:
            raise InputError(f"[data] {name} = {{ path = ... }} is required for source = 'files'")
        if s is not None and "path" not in s:
            raise InputError(f"[data] {name} needs a path")
        return s

    p = spec("panel")
    panel = io.read_panel(
        _resolve(base, p["path"]), unit=p.get("unit_column", "unit"), year=p.get("year_column", "year"),
        columns=p.get("columns"), accounting=acc,
    )
    f = spec("flows")
    flows = io.read_flows(
        _resolve(base, f["path"]), origin=f.get("origin", "origin"), destination=f.get("destination", "destination"),
        value=f.get("value", "count"), year=f.get("year", "year"), accounting=acc,
    )
    report = None
    if (x := spec("crosswalk", False)) is not None:
        panel, flows, report = _harmonise_files(panel, flows, x, base, acc)
    kw: dict[str, Any] = {}
    if (c := spec("centrality", False)) is not None:
        kw["centrality"] = io.read_series(_resolve(base, c["path"]), key=c.get("unit_column", "unit"),
                                          value=c.get("value_column", "centrality"), name="centrality")
    if (r := spec("regions", False)) is not None:
        kw["regions"] = io.read_mapping(_resolve(base, r["path"]), key=r.get("unit_column", "unit"),
                                        value=r.get("region_column", "region"))
    if (g := spec("polygons", False)) is not None:
        kw["polygons"] = io.read_polygons(_resolve(base, g["path"]), id_column=g.get("id_column", "unit"),
                                          name_column=g.get("name_column"), accounting=acc)
    if (a := spec("population_by_age", False)) is not None:
        kw["population_by_age"] = pd.read_csv(_resolve(base, a["path"]), dtype={"unit": str})
    for name in ("employment_rates", "death_probabilities"):
        if (e := spec(name, False)) is not None:
            kw[name] = pd.read_csv(_resolve(base, e["path"]), index_col="age")
    return PanelData(panel, flows=flows, on_mismatch=data_cfg.get("on_mismatch", "raise"), accounting=acc,
                     harmonisation_report=report, **kw)


_CROSSWALK_KEYS = {"path", "year", "source", "target", "weight", "units", "code_year", "id_width"}


def _harmonise_files(
    panel: pd.DataFrame, flows: pd.DataFrame, x: Mapping[str, Any], base: Path, acc: Accounting
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Recode the panel and the flows with ``[data] crosswalk`` (both ends of every flow).

    The report (merges, splits, recodes) becomes ``harmonisation.csv``.  Centrality,
    regions and polygons must already be on the harmonised units.
    """
    from geoattr.data import Crosswalk, harmonise_flows, harmonise_panel

    bad = set(x) - _CROSSWALK_KEYS
    if bad:
        raise InputError(f"unknown key(s) {sorted(bad)} in [data] crosswalk; allowed: {sorted(_CROSSWALK_KEYS)}")
    units = x.get("units", "stable")
    if units not in ("stable", "target"):
        raise InputError(f"[data] crosswalk units = {units!r} is unknown; use \"stable\" (merges only) or "
                         "\"target\" (the crosswalk's target codes, split codes shared out by its weights)")
    table = pd.read_csv(_resolve(base, x["path"]), dtype={x.get("source", "source"): str,
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
        for a in res.accounting:
            acc.record(a.table, read=a.read, dropped=a.dropped, note="; ".join(a.notes) or None)
    report = pd.concat([hp.report.assign(table="panel"), hf.report.assign(table="flows")], ignore_index=True)
    if units == "target" and bool(hp.split_weighted.any()):
        warnings.warn(
            f"{int(hp.split_weighted.sum())} panel rows include shares of split codes, divided by the crosswalk's "
            "weights (see harmonisation.csv, kind='split'); use units = \"stable\" to merge instead",
            GeoattrWarning, stacklevel=2)
    return hp.panel, hf.flows, report


@dataclass
class RunOutputs:
    """What :func:`run` produced: the files and the fitted main model."""

    out: Path
    files: dict[str, Path]
    main: AttractivenessResults
    fits: dict[tuple[str, str], AttractivenessResults] = field(default_factory=dict)
    _report: dict[str, Any] | None = field(default=None, repr=False)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 4)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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
        Parsed configuration (see :func:`load_config`); default :data:`DEFAULT_CONFIG`.
    out : str or Path
        Output folder (created).
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
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        result = _run(config, out=out, data_dir=data_dir, progress=progress, data=data, echo=echo)
    messages = []
    for w in caught:
        if issubclass(w.category, GeoattrWarning):
            messages.append(f"{w.category.__name__}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    info = json.loads(result.files["run"].read_text(encoding="utf-8"))
    info["warnings"] = list(dict.fromkeys(messages))
    if result._report is not None:
        from geoattr.report import write_report

        path = Path(out) / "report.html"
        listed = {k: v for k, v in result.files.items() if not k.startswith(("table_", "figure_"))}
        write_report(path, warnings=info["warnings"], map_file=result.files.get("map"), files=listed,
                     **result._report)
        result.files["report"] = path
        info["outputs"]["report"] = path.name
    files = result.files
    if echo:
        out_dir = Path(out)
        echo(f"geoattr: wrote {len(files)} files to {out_dir.resolve()}")
        for k, v in files.items():
            if not k.startswith(("table_", "figure_")):
                echo(f"  {k:<20} {v.resolve()}")
        for prefix in ("table_", "figure_"):
            folders = pd.Series([v.parent.resolve() for k, v in files.items() if k.startswith(prefix)], dtype=object)
            for folder, n in folders.value_counts(sort=False).items():
                echo(f"  {folder.name:<20} {folder} ({n} files)")
    result.files["run"].write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    if echo:
        for m in info["warnings"]:
            echo(f"  warning: {m}")
    return result


def _run(
    config: Mapping[str, Any] | None = None,
    *,
    out: str | Path,
    data_dir: str | Path | None = None,
    progress: bool = True,
    data: PanelData | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunOutputs:
    from tqdm.auto import tqdm

    cfg = {k: dict(v) for k, v in (config or DEFAULT_CONFIG).items() if not k.startswith("_")}
    check_config(cfg)
    timer = _Timer()
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dcfg, mcfg, ocfg = cfg.get("data", {}), cfg.get("model", {}), cfg.get("output", {})
    base = Path(data_dir) if data_dir else _resolve(Path((config or {}).get("_config_dir", ".")), dcfg.get("dir", "."))

    with timer("read data"):
        if data is None:
            if dcfg.get("source", "synthetic") == "synthetic":
                data = synthetic_panel_data(int(dcfg.get("seed", 2022)))
            elif dcfg["source"] == "ssb":
                data = _ssb_panel_data(dcfg, base)
            else:
                data = _files_panel_data(dcfg, base, Accounting())
    specs = [str(s) for s in _as_list(mcfg.get("spec", "2022"))]
    levels = _as_list(mcfg.get("level", "municipality"))
    years = tuple(dcfg["years"]) if dcfg.get("years") else None
    design_opts = {k: mcfg[k] for k in ("year_effects", "relative_to_national", "min_share", "top_k",
                                        "include_diagonal", "on_missing") if k in mcfg}
    if "extra" in mcfg:
        design_opts["extra"] = list(mcfg["extra"])
    fits: dict[tuple[str, str], AttractivenessResults] = {}
    coef_rows, fit_rows, yearly = [], [], []
    grid = [(s, lv) for s in specs for lv in levels]
    bar = tqdm(grid, desc="estimating", disable=not progress, unit="model")
    with timer("estimate"):
        for s, lv in bar:
            bar.set_postfix_str(f"spec {s}, {lv}")
            fit = estimate(data, s, level=lv, years=years, commuting_year=dcfg.get("commuting_year", "same"),
                           weighted=bool(mcfg.get("weighted", False)), cov_type=mcfg.get("cov_type", "clustered"),
                           **design_opts)
            years = years or fit.unit_design.years
            fits[(s, lv)] = fit
            f = fit.results.to_frame().reset_index()[["term", "estimate", "std_error", "t", "p"]]
            f.insert(0, "level", lv)
            f.insert(0, "spec", s)
            coef_rows.append(f)
            fs = fit.results.fit_statistics()
            fit_rows.append({"spec": s, "level": lv, **fs.to_dict()})
    yearly_skipped: dict[str, dict[int, str]] = {}
    if cfg.get("analyses", {}).get("yearly", True):
        with timer("estimate by year"):
            for (s, lv), fit in tqdm(fits.items(), desc="year by year", disable=not progress, unit="model"):
                yr = estimate_by_year(fit.design, weighted=bool(mcfg.get("weighted", False)))
                yearly.append(yr.to_frame())
                if yr.skipped:
                    yearly_skipped[f"{s}|{lv}"] = yr.skipped

    main = fits[(specs[0], levels[0])]
    top_n = int(ocfg.get("top_n", 10))
    with timer("attractiveness"):
        att = attractiveness(main)
        cum = cumulate(att)
        rank_m = rankings(cum, n=top_n, names=data.names, level="municipality")
        rank_tables = [rank_m]
        if data.regions is not None:
            ratt = region_attractiveness(main, att)
            rank_tables.append(rankings(cumulate(ratt), n=min(top_n, ratt.index.get_level_values(0).nunique() // 2 or 1),
                                        level="region"))
    files: dict[str, Path] = {}
    with timer("write tables"):
        files["coefficients"] = out / "coefficients.csv"
        pd.concat(coef_rows, ignore_index=True).to_csv(files["coefficients"], index=False)
        files["fit"] = out / "fit.csv"
        pd.DataFrame(fit_rows)[["spec", "level", "nobs", "r2", "adj_r2", "loglik", "aic", "bic"]].to_csv(
            files["fit"], index=False)
        if yearly:
            files["yearly_coefficients"] = out / "yearly_coefficients.csv"
            pd.concat(yearly, ignore_index=True).to_csv(files["yearly_coefficients"], index=False)
        files["attractiveness"] = out / "attractiveness.csv"
        att_out = att.reset_index()[["unit", "year", "actual", "expected", "residual", "residual_persons"]]
        flags = getattr(data, "flags", None)
        if flags is not None:  # e.g. net migration estimated by the cohort residual method, interpolated inputs
            f = flags.reindex(pd.MultiIndex.from_frame(att_out[["unit", "year"]])).fillna(False).astype(bool)
            att_out = pd.concat([att_out, f.reset_index(drop=True)], axis=1)
        att_out.to_csv(files["attractiveness"], index=False)
        files["rankings"] = out / "rankings.csv"
        pd.concat(rank_tables, ignore_index=True).to_csv(files["rankings"], index=False)
    if getattr(data, "harmonisation_report", None) is not None:
        files["harmonisation"] = out / "harmonisation.csv"
        data.harmonisation_report.to_csv(files["harmonisation"], index=False)
    acfg = cfg.get("analyses", {})
    extra_info: dict[str, Any] = {}
    kept: dict[str, Any] = {}  # objects the publication outputs reuse (decomposition, comparison...)
    if acfg:
        with timer("analyses"):
            extra_info.update(_run_analyses(main, data, acfg, out, files, progress=progress, kept=kept))
    ccfg = cfg.get("comparison", {})
    if ccfg.get("enabled", False):
        with timer("comparison"):
            extra_info.update(_run_comparison(data, ccfg, main, out, files, kept=kept))
    rcfg = cfg.get("robustness", {})
    if rcfg.get("enabled", False):
        from geoattr.robustness import run_robustness_from_config

        with timer("robustness"):
            extra_info.update(run_robustness_from_config(main, data, rcfg, out, files, progress=progress))
    if ocfg.get("map", True) and data.polygons is not None:
        with timer("map"):
            vals = cum.join(att.groupby(level="unit")[["actual", "expected"]].sum())
            files["map"] = out / "map.html"
            comp = kept.get("comparison")
            fmap = residual_map(
                data.polygons, vals[["actual", "expected", "residual", "residual_persons"]],
                residuals={name: r.resids for name, r in comp.results.items()} if comp is not None else None,
                yearly=att[["actual", "expected", "residual", "residual_persons"]],
                layer_name=f"Attractiveness {main.spec} ({main.level} model), cumulative {years[0]}-{years[1]}",
                lisa=bool(ocfg.get("lisa", True)), fdr=ocfg.get("lisa_fdr"),
                self_contained=bool(ocfg.get("self_contained", True)),
                tiles=None if ocfg.get("self_contained", True) else ocfg.get("tiles", "OpenStreetMap"),
                profile_links="profiles/{unit}.html" if ocfg.get("profiles", True) else None,
                names=data.names, path=files["map"])
            lisa = getattr(getattr(fmap, "geoattr_info", None), "lisa", None)
            if lisa is not None:
                files["lisa"] = out / "lisa.csv"
                lisa.rename_axis("unit").reset_index().to_csv(files["lisa"], index=False)
    report_ctx = None
    with timer("publication"):
        report_ctx = _publication(main, fits, data, att, cum, rank_tables, yearly, kept, ocfg, out, files,
                                  years=years)
    timer.timings["total"] = round(time.perf_counter() - t_start, 4)
    acc = main.unit_design.accounting
    run_info = {
        "geoattr_run": 1,
        "config": cfg,
        "data": data.to_dict(),
        "main": {"spec": main.spec, "level": main.level, "years": list(main.unit_design.years)},
        "notes": main.unit_design.notes + ([f"estimated on {main.level}s; coefficients applied to municipalities"]
                                           if main.level == "region" else []),
        "row_accounting": acc.to_dict(),
        "analyses": extra_info,
        **({"net_migration_agreement": data.info["net_migration_agreement"].to_dict()}
           if data.info.get("net_migration_agreement") is not None else {}),
        "yearly_skipped": yearly_skipped,
        "versions": _versions(),
        "timings_seconds": timer.timings,
        "outputs": {k: v.name for k, v in files.items()},
    }
    files["run"] = out / "run.json"
    files["run"].write_text(json.dumps(run_info, indent=2, default=str), encoding="utf-8")
    return RunOutputs(out=out, files=files, main=main, fits=fits, _report=report_ctx)


def _publication(main: AttractivenessResults, fits: Mapping[tuple[str, str], AttractivenessResults],
                 data: PanelData, att: pd.DataFrame, cum: pd.DataFrame, rank_tables: list[pd.DataFrame],
                 yearly: list[pd.DataFrame], kept: Mapping[str, Any], ocfg: Mapping[str, Any], out: Path,
                 files: dict[str, Path], *, years: tuple[int, int]) -> dict[str, Any] | None:
    """Publication tables (tables/), figures (figures/), profile pages (profiles/); the report's inputs."""
    from geoattr import report as rp
    from geoattr.tables import comparison_table, ranking_table, regression_table

    models = {f"{s} ({lv})": f for (s, lv), f in fits.items()}
    ranks = pd.concat(rank_tables, ignore_index=True)
    top_n = int(ocfg.get("top_n", 10))
    comp = kept.get("comparison")
    if ocfg.get("tables", True):
        written = rp.write_tables(out / "tables", models=models, comparison=comp, rankings=ranks, top_n=top_n)
        files.update({f"table_{k}": v for k, v in written.items()})
    figs: dict[str, Path] = {}
    if ocfg.get("figures", True):
        main_yearly = None
        if yearly:
            yf = pd.concat(yearly, ignore_index=True)
            main_yearly = yf[(yf["spec"] == main.spec) & (yf["level"] == main.level)]
        figs = rp.write_figures(out / "figures", att=att, yearly=main_yearly, decomposition=kept.get("decomposition"),
                                models=models, names=data.names, top_n=top_n)
        files.update({f"figure_{k}": v for k, v in figs.items()})
    profiles_index = None
    if ocfg.get("profiles", True):
        pages = rp.write_profiles(out / "profiles", att=att, intervals=kept.get("intervals"),
                                  decomposition=kept.get("decomposition"),
                                  decomposition_years=kept.get("decomposition_years"),
                                  flows=data.flows, names=data.names, regions=data.regions)
        profiles_index = files["profiles"] = pages["index"]
    if not ocfg.get("report", True):
        return None
    fs = main.results.fit_statistics()
    d = data.to_dict()
    plural = {"municipality": "municipalities", "region": "regions"}
    summary = {
        "units": f"{d.get('units')} {plural.get(str(d.get('level')), str(d.get('level')) + 's')}",
        "years of data": "-".join(str(y) for y in d.get("years", [])),
        **{k.replace("_", " "): (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()
           if k not in ("units", "years", "level")},
        "main model": f"VRA specification {main.spec}, estimated on {main.level}s",
        "estimation years": f"{years[0]}-{years[1]}",
        "observations": int(fs["nobs"]),
        "R²": round(float(fs["r2"]), 4),
    }
    captions = {
        "observed_vs_expected_png": "Observed vs expected net migration (mean over the years)",
        "coefficients_over_time_png": "Coefficients year by year, 95 % confidence bands",
        "ranking_bars_png": "Most and least attractive units (mean residual)",
        "decomposition_waterfall_png": "Decomposition of population change, most attractive unit",
        "forest_plot_png": "Coefficients across specifications and levels, 95 % intervals",
    }
    levels = list(dict.fromkeys(ranks["level"]))
    return {
        "title": f"Residential attractiveness: VRA {main.spec} ({main.level} model), {years[0]}-{years[1]}",
        "summary": summary,
        "row_accounting": main.unit_design.accounting.to_dict(),
        "model_table": regression_table(models, fmt="html", stats=("nobs", "r2", "adj_r2", "aic")),
        "comparison_table": comparison_table(comp, fmt="html") if comp is not None else None,
        "ranking_tables": {plural.get(lv, f"{lv}s").capitalize(): ranking_table(
            ranks[ranks["level"] == lv], fmt="html",
            top_n=max(1, int(min(top_n, (ranks[(ranks["level"] == lv)]["list"] == "top").sum()))))
            for lv in levels},
        "figures": {captions[k]: v for k, v in figs.items() if k in captions},
        "robustness": (pd.read_csv(files["rank_stability"]) if "rank_stability" in files else None),
        "robustness_figures": {c: files[k] for k, c in (
            ("figure_robustness_coefficients_png", "Coefficients across the robustness variants"),
            ("figure_rank_intervals_png", "Bootstrap intervals of the attractiveness ranks")) if k in files},
        "profiles_index": profiles_index,
        "notes": main.unit_design.notes,
    }


_FLOW_PREFIX = "flow__"
_DRIVER_PREFIX = "driver__"


def _halves(years: tuple[int, int]) -> list[tuple[int, int]]:
    mid = (years[0] + years[1]) // 2
    return [(years[0], mid), (mid + 1, years[1])]


def _centrality_classes(data: PanelData) -> pd.Series:
    """Tertiles of the centrality index: 'central', 'intermediate', 'peripheral'."""
    c = data.centrality
    if c is None:
        raise InputError("regimes = 'centrality' needs centrality in the data")
    return pd.qcut(c, 3, labels=["peripheral", "intermediate", "central"]).astype(str)


def _run_analyses(main: AttractivenessResults, data: PanelData, acfg: Mapping[str, Any], out: Path,
                  files: dict[str, Path], *, progress: bool, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The analyses of ``[analyses]``: each writes its table and returns facts for run.json."""
    from geoattr import analysis
    from geoattr.decomposition import decompose

    info: dict[str, Any] = {}
    years = main.unit_design.years
    spec = main.spec
    level = main.level
    if acfg.get("subgroups", False):
        groups = {c.split("__", 1)[1]: c for c in data.panel.columns if c.startswith("net_migration__")}
        periods = acfg.get("subgroup_periods", "halves")
        periods = _halves(years) if periods == "halves" else [tuple(p) for p in periods]
        sub = analysis.subgroups(data, spec, groups=groups, periods=periods, level=level, years=years)
        files["subgroups"] = out / "subgroups.csv"
        sub.to_csv(files["subgroups"], index=False)
    if acfg.get("decomposition", False):
        dyears = tuple(acfg.get("decomposition_years", (years[0], years[1] - 1)))
        fert = acfg.get("fertility_rates")
        if fert is None and "births" in data.panel.columns:
            fert = getattr(data, "fertility_rates", None)
        try:
            dec = decompose(main, years=dyears, fertility_rates=fert)
        except InputError as err:
            if "births" not in str(err) and "population of 1 January" not in str(err):
                raise
            info["decomposition_note"] = str(err)
            dec = None
        if dec is not None:
            files["decomposition"] = out / "decomposition.csv"
            dec.to_csv(files["decomposition"], index=False)
            info["decomposition_years"] = list(dyears)
            if kept is not None:
                kept["decomposition"], kept["decomposition_years"] = dec, tuple(dyears)
    if acfg.get("barometer", False):
        from geoattr.barometer import barometer

        flows = acfg.get("barometer_flows") or [c for c in data.panel.columns if c.startswith(_FLOW_PREFIX)]
        bar = barometer(data, period_length=int(acfg.get("barometer_period_length", 3)), flow_columns=flows or None)
        files["barometer"] = out / "barometer.csv"
        bar.to_frame().to_csv(files["barometer"], index=False)
    drv = acfg.get("drivers", False)
    if drv:
        from geoattr.attractiveness import attractiveness
        from geoattr.drivers import drivers

        cols = [c for c in data.panel.columns if c.startswith(_DRIVER_PREFIX)] if drv == "auto" else list(drv)
        if cols:
            att = attractiveness(main)["residual"]
            cand = data.panel[cols].reindex(att.index)
            periods = acfg.get("driver_periods", "halves")
            periods = _halves(years) if periods == "halves" else [tuple(p) for p in periods]
            dres = drivers(att, cand, periods=periods)
            files["drivers"] = out / "drivers.csv"
            dres.to_frame().to_csv(files["drivers"], index=False)
    if acfg.get("uncertainty", False):
        from geoattr.attractiveness import attractiveness

        pi = analysis.prediction_intervals(main)
        if kept is not None:
            kept["intervals"] = pi
        files["prediction_intervals"] = out / "prediction_intervals.csv"
        pi.reset_index().to_csv(files["prediction_intervals"], index=False)
        eb = analysis.shrunken_attractiveness(attractiveness(main))
        files["shrunken_attractiveness"] = out / "shrunken_attractiveness.csv"
        eb.rename_axis("unit").reset_index().to_csv(files["shrunken_attractiveness"], index=False)
        info["empirical_bayes_tau2"] = eb.attrs["tau2"]
        info["prediction_interval_coverage"] = float(1 - pi["outside"].mean())
    if acfg.get("persistence", False):
        from geoattr.attractiveness import attractiveness

        per = analysis.persistence(attractiveness(main))
        info["persistence"] = {"persistent_share": per.persistent_share, "ar1_first_differences": per.ar1,
                               **{f"wooldridge_{k}": v for k, v in per.serial_correlation.to_series().items()}}
    if acfg.get("cohort_residual", False) and data.population_by_age is not None:
        from geoattr.demography import cohort_residual_net_migration, compare_net_migration, \
            death_probabilities_from_population

        q = data.death_probabilities
        if q is None:
            q = death_probabilities_from_population(data.population_by_age)
            info["cohort_residual_death_probabilities"] = "estimated from the population's cohort survival (Gompertz)"
        cr = cohort_residual_net_migration(data.population_by_age, q)
        table = cr.table.join(data.panel[["net_migration"]], how="left").rename(
            columns={"net_migration": "net_migration_published"})
        files["cohort_residual"] = out / "cohort_residual.csv"
        table.reset_index().to_csv(files["cohort_residual"], index=False)
        if table["net_migration_published"].notna().sum() >= 3:
            info["cohort_residual_agreement"] = compare_net_migration(
                table["net_migration_estimate"], table["net_migration_published"],
                population=table["population"]).to_dict()
        info["cohort_residual_skipped"] = len(cr.skipped)
    reg = acfg.get("regimes", False)
    if reg:
        classes = _centrality_classes(data) if reg == "centrality" else reg
        rr = analysis.regimes(data, spec, regime=classes, years=years)
        files["regimes"] = out / "regimes.csv"
        rr.coefficients.rename_axis("term").reset_index().to_csv(files["regimes"], index=False)
        info["chow"] = rr.chow.to_series().to_dict()
    return info


def _run_comparison(data: PanelData, ccfg: Mapping[str, Any], main: AttractivenessResults, out: Path,
                    files: dict[str, Path], *, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The specification comparison of ``[comparison]``: comparison.csv and comparison.tex."""
    from geoattr import weights as gw
    from geoattr.compare import compare

    wanted = ccfg.get("weights", ["commuting", "queen", "knn", "distance"])
    unknown = [w for w in wanted if w not in ("commuting", "queen", "knn", "distance")]
    if unknown:
        raise InputError(f"[comparison] weights {unknown} are unknown; use commuting, queen, knn, distance")
    years = main.unit_design.years
    graphs: dict[str, Any] = {}
    if "commuting" in wanted:
        wyear = ccfg.get("weights_year", years[1])
        graphs["commuting"] = gw.without_diagonal(gw.commuting(data.flows, year=int(wyear), ids=data.units))
    if data.polygons is not None:
        poly = data.polygons
        if "queen" in wanted:
            graphs["queen"] = gw.row_standardise(gw.contiguity(poly))
        if "knn" in wanted:
            graphs[f"knn{int(ccfg.get('knn', 6))}"] = gw.row_standardise(gw.knn(poly, int(ccfg.get("knn", 6))))
        if "distance" in wanted:
            graphs["distance"] = gw.row_standardise(gw.distance_band(poly, float(ccfg.get("distance_band", 60000))))
    models = ccfg.get("models", ["vra_ols", "slx", "sar", "sem", "sdm", "fe", "re", "sar_fe", "sem_fe"])
    cyears = ccfg.get("years")
    if cyears == "last10":
        years = (max(years[0], years[1] - 9), years[1])
    elif cyears is not None:
        years = (int(cyears[0]), int(cyears[1]))
    comp = compare(data, weights=graphs, models=models, terms=main.spec, years=years,
                   holdout_years=ccfg.get("holdout_years"))
    files["comparison"] = out / "comparison.csv"
    comp.to_csv(files["comparison"])
    files["comparison_tex"] = out / "comparison.tex"
    files["comparison_tex"].write_text(comp.to_latex(), encoding="utf-8")
    if kept is not None:
        kept["comparison"] = comp
    return {"comparison_errors": comp.errors, "comparison_weights": list(graphs), "comparison_years": list(years)}
