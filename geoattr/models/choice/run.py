"""The ``geoattr choice`` job: read the data, fit, write tables, predictions, tests, figures and run.json."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._format import escape_markdown, write_csv
from geoattr._versions import versions
from geoattr.datasets.individuals import synthetic_individuals
from geoattr.exceptions import InputError
from geoattr.io.folders import RUN_MARKER, collect_warnings, relocate, staged_output
from geoattr.config import check_choice_config
from geoattr.models.choice.design import build_design
from geoattr.models.choice.estimation import fit_design
from geoattr.models.choice.plot import plot_choice_probabilities
from geoattr.models.choice.results import ChoiceResults
from geoattr.models.choice.spec import ChoiceSpec

__all__ = ["run_choice", "COEFFICIENT_CSV_COLUMNS", "DEFAULT_PROFILES"]

#: Profiles used when the configuration has no ``[[profiles]]`` (restricted to the model's variables).
DEFAULT_PROFILES: tuple[dict[str, Any], ...] = (
    {"name": "woman_35_higher_short", "age": 35, "sex": "female", "education": "higher_short",
     "labour": "employed", "family": "couple_children"},
)

#: ``ChoiceResults.to_frame()`` column -> column of ``coefficients.csv`` (the file keeps its names).
COEFFICIENT_CSV_COLUMNS: Mapping[str, str] = {
    "estimate": "coef", "std_error": "std_err", "t": "z", "p": "p_value", "lower": "ci_lower", "upper": "ci_upper",
}
#: ``ChoiceResults.fit_statistics()`` key -> key of ``run.json``'s ``fit`` (the file keeps its names).
_RUN_FIT_KEYS = {"loglik": "llf", "loglik_null": "llnull"}


def _read_persons(dcfg: Mapping[str, Any], base: Path) -> pd.DataFrame:
    path = Path(dcfg["path"])
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise InputError(f"[data] path {str(path)!r} does not exist")
    fmt = dcfg.get("format") or path.suffix.lower().lstrip(".")
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt in ("csv", "txt"):
        return pd.read_csv(path)
    raise InputError(f"cannot read {path.name!r}: use a .parquet or .csv file (or set [data] format)")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "profile"


def run_choice(
    config: Mapping[str, Any],
    *,
    out: str | Path,
    config_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Run the migration-choice job of a configuration and write its outputs.

    Parameters
    ----------
    config : mapping
        Parsed configuration (see :func:`~geoattr.models.choice.load_choice_config`
        and ``examples/choice.toml``): ``[data]``, ``[model]``, ``[predictions]``,
        ``[output]``, ``[[profiles]]``, ``[[hypotheses]]``.
    out : str or Path
        Output folder: written as ``.<name>.partial-<pid>`` beside it and moved into
        place once complete; it must be new, empty or a previous geoattr run (see
        :mod:`geoattr.io.folders`).
    config_dir : str or Path, optional
        Base folder of a relative ``[data] path`` (default: the configuration's
        ``_config_dir``, else the working directory).
    echo : callable, optional
        Where to print short progress messages and the warnings of the run.

    Returns
    -------
    dict of str -> Path
        ``coefficients`` (CSV with RRRs and intervals), ``coefficients_md`` /
        ``coefficients_tex``, ``predictions``, ``hypotheses``, ``outcome_counts``,
        ``figure_<profile>_png`` / ``_svg`` per profile, and ``run`` (run.json with
        the configuration, versions, timings, row accounting, fit statistics and the
        warnings).
    """
    if not isinstance(config, Mapping):
        raise InputError(f"config must be a mapping (see load_choice_config), got {type(config).__name__}")
    check_choice_config(config)
    cfg = {k: ([dict(x) for x in v] if isinstance(v, list) else dict(v))
           for k, v in config.items() if not k.startswith("_")}
    base = Path(config_dir) if config_dir is not None else Path(config.get("_config_dir", "."))
    final = Path(out)
    timings: dict[str, float] = {}
    files: dict[str, Path] = {}
    inputs = [base] if config_dir is not None or "_config_dir" in config else []
    if "path" in cfg.get("data", {}):
        inputs.append(base / str(cfg["data"]["path"]))
    with staged_output(final, inputs=inputs) as tmp:  # checks `out` before any work
        with collect_warnings() as messages:
            info = _run(cfg, base, tmp, files, timings, echo)
        info["warnings"] = messages
        info["timings_seconds"] = timings
        files["run"] = tmp / "run.json"
        files["run"].write_text(json.dumps({RUN_MARKER: 1, **info}, indent=2, default=str), encoding="utf-8")
    files = relocate(files, tmp, final)
    if echo:
        for m in info["warnings"]:
            echo(f"  warning: {m}")
        echo(f"geoattr choice: wrote {len(files)} files to {final.resolve()}")
        for k, v in files.items():
            echo(f"  {k:<28} {v.name}")
    return files


def _run(cfg: dict[str, Any], base: Path, out: Path, files: dict[str, Path], timings: dict[str, float],
         echo: Callable[[str], None] | None) -> dict[str, Any]:
    """Estimate and write every output but run.json; return run.json's content."""
    dcfg, mcfg = cfg.get("data", {}), dict(cfg.get("model", {}))
    ocfg = cfg.get("output", {})
    t0 = time.perf_counter()
    truth = None
    if dcfg.get("source", "file" if "path" in dcfg else "synthetic") == "synthetic":
        data, truth = synthetic_individuals(int(dcfg.get("n", 200_000)), seed=int(dcfg.get("seed", 2024)))
    else:
        data = _read_persons(dcfg, base)
    timings["read data"] = round(time.perf_counter() - t0, 4)
    spec = ChoiceSpec.from_config(mcfg)
    t0 = time.perf_counter()
    design = build_design(data, spec=spec, columns=dcfg.get("columns"), recode=dcfg.get("recode"),
                          on_missing=dcfg.get("on_missing", "raise"))
    timings["design"] = round(time.perf_counter() - t0, 4)
    if echo:
        echo(f"geoattr choice: {design.nobs:,} person-years ({design.n_patterns:,} covariate patterns), "
             f"{len(design.terms)} terms x {len(spec.equations)} equations")
    t0 = time.perf_counter()
    res = fit_design(design, on_separation=mcfg.get("on_separation", "raise"), method=mcfg.get("method", "newton"),
                     maxiter=int(mcfg.get("maxiter", 50)))
    timings["estimate"] = round(time.perf_counter() - t0, 4)
    del design
    _write_coefficients(res, ocfg, out, files)
    t0 = time.perf_counter()
    pred = _write_predictions(res, cfg, out, files)
    timings["predictions"] = round(time.perf_counter() - t0, 4)
    _write_hypotheses(res, cfg, out, files)
    t0 = time.perf_counter()
    if {"domestic", "emigration"} <= set(res.equations):
        _write_figures(pred, ocfg.get("figures", ["png", "svg"]), out, files)
    timings["figures"] = round(time.perf_counter() - t0, 4)
    fit = {_RUN_FIT_KEYS.get(k, k): (v.item() if hasattr(v, "item") else v)
           for k, v in res.fit_statistics().items()}
    info: dict[str, Any] = {
        "config": cfg,
        "versions": versions(("geoattr", "numpy", "pandas", "scipy", "statsmodels", "matplotlib")),
        "references": spec.references,
        "terms": list(res.terms),
        "fit": fit,
        "outcome_shares": (res.outcome_totals / res.nobs).round(6).to_dict(),
        "row_accounting": res.accounting.to_dict(),
        "predictions": dict(pred.attrs),
        "engine": "statsmodels.discrete.discrete_model.MNLogit",
    }
    if truth is not None:
        info["synthetic_truth_max_abs_z"] = float(((res.params - truth) / res.std_errors).abs().max())
    return info


def _tables(cfg: Mapping[str, Any]) -> list[str]:
    return cfg.get("output", {}).get("tables", ["csv", "markdown", "latex"])


def _write_coefficients(res: ChoiceResults, ocfg: Mapping[str, Any], out: Path, files: dict[str, Path]) -> None:
    """coefficients.csv (and .md / .tex) and outcome_counts.csv."""
    level = float(ocfg.get("level", 0.95))
    digits = int(ocfg.get("digits", 3))
    tables = ocfg.get("tables", ["csv", "markdown", "latex"])
    coef = res.to_frame(level).rename(columns=COEFFICIENT_CSV_COLUMNS).reset_index()
    files["coefficients"] = out / "coefficients.csv"
    write_csv(coef, files["coefficients"], index=False)
    if "markdown" in tables:
        files["coefficients_md"] = out / "coefficients.md"
        files["coefficients_md"].write_text(res.to_markdown(level, digits), encoding="utf-8")
    if "latex" in tables:
        files["coefficients_tex"] = out / "coefficients.tex"
        files["coefficients_tex"].write_text(res.to_latex(level, digits), encoding="utf-8")
    assert res.outcome_counts is not None
    files["outcome_counts"] = out / "outcome_counts.csv"
    write_csv(res.outcome_counts.reset_index().rename(columns={"category": "level"}), files["outcome_counts"],
                                                                                  index=False)


def _write_predictions(res: ChoiceResults, cfg: Mapping[str, Any], out: Path,
                       files: dict[str, Path]) -> pd.DataFrame:
    """predictions.csv (and .md) for the configured profiles (default: :data:`DEFAULT_PROFILES`)."""
    pcfg = cfg.get("predictions", {})
    level = float(cfg.get("output", {}).get("level", 0.95))
    profiles = cfg.get("profiles") or [
        {k: v for k, v in p.items() if k == "name" or k in res.spec.variables} for p in DEFAULT_PROFILES
    ]
    pred = res.predict(profiles, method=pcfg.get("method", "delta"), level=float(pcfg.get("level", level)),
                       n_draws=int(pcfg.get("n_draws", 2000)), seed=pcfg.get("seed", 0))
    files["predictions"] = out / "predictions.csv"
    write_csv(pred, files["predictions"], index=False)
    if "markdown" in _tables(cfg):
        files["predictions_md"] = out / "predictions.md"
        files["predictions_md"].write_text(_predictions_markdown(pred), encoding="utf-8")
    return pred


def _write_hypotheses(res: ChoiceResults, cfg: Mapping[str, Any], out: Path, files: dict[str, Path]) -> None:
    hyp = res.test(cfg.get("hypotheses") or [])
    files["hypotheses"] = out / "hypotheses.csv"
    write_csv(hyp, files["hypotheses"], index=False)
    if "markdown" in _tables(cfg) and len(hyp):
        files["hypotheses_md"] = out / "hypotheses.md"
        files["hypotheses_md"].write_text(_frame_markdown(hyp, digits=4), encoding="utf-8")


def _write_figures(pred: pd.DataFrame, formats: list[str], out: Path, files: dict[str, Path]) -> None:
    for name in dict.fromkeys(pred["profile"]):
        fig = plot_choice_probabilities(pred, profile=name)
        for ext in formats:
            key = f"figure_{_safe(name)}_{ext}"
            files[key] = out / f"choice_{_safe(name)}.{ext}"
            fig.savefig(files[key], format=ext, dpi=150)


def _frame_markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(escape_markdown(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("" if math.isnan(v) else f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else
                             f"{v:.{digits}f}")
            else:
                cells.append(escape_markdown(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _predictions_markdown(pred: pd.DataFrame) -> str:
    show = pred.copy()
    for c in [c for c in show.columns if c.startswith("p_")]:
        show[c] = 100 * show[c]
    show = show.rename(columns={c: c + " (%)" for c in show.columns if c.startswith("p_")})
    return _frame_markdown(show, digits=3)
