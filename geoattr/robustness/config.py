"""The ``[robustness]`` section of a run configuration: its keys, their checks and the runner.

The configuration keeps its historical key names (``n_boot``, ``n_placebo``, ``ci``);
:data:`CONFIG_ARGUMENTS` maps them to the arguments of
:func:`geoattr.robustness.robustness` (``reps``, ``placebo_reps``, ``level``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr.config import ROBUSTNESS_SCHEMA, check_robustness_config
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.io.figures import save_figure
from geoattr.models.ols import AttractivenessResults
from geoattr.robustness.battery import robustness
from geoattr.robustness.results import RobustnessResults

__all__ = ["CONFIG_KEYS", "CONFIG_ARGUMENTS", "run_robustness_from_config"]

#: Keys of the ``[robustness]`` section of a run configuration (their schema:
#: :data:`geoattr.config.ROBUSTNESS_SCHEMA`).
CONFIG_KEYS: frozenset[str] = frozenset(ROBUSTNESS_SCHEMA.fields)
#: Configuration keys whose argument of :func:`geoattr.robustness.robustness` has another name.
CONFIG_ARGUMENTS: dict[str, str] = {"n_boot": "reps", "n_placebo": "placebo_reps", "ci": "level"}
_NOT_ARGUMENTS = ("enabled", "figures", "figure_format")


def _write_figures(res: RobustnessResults, rcfg: Mapping[str, Any], out: Path, files: dict[str, Path]) -> None:
    fmts = rcfg.get("figure_format", ["png", "svg"])
    (out / "figures").mkdir(parents=True, exist_ok=True)
    fmts = [fmts] if isinstance(fmts, str) else list(fmts)
    # Each figure is built and laid out once, then saved in every format.
    plots = [("robustness_coefficients", res.plot_coefficients)]
    if not res.rank_intervals.empty:
        plots.append(("rank_intervals", res.plot_rank_intervals))
    for stem, plot in plots:
        if fmts:  # laid out once, at the first format's resolution; the others keep that layout
            save_figure(plot(), [out / "figures" / f"{stem}.{fmt}" for fmt in fmts], dpi=150)
    for fmt in fmts:
        for stem, _ in plots:
            files[f"figure_{stem}_{fmt}"] = out / "figures" / f"{stem}.{fmt}"


@fill_doc(output_files=OUTPUT_FILES)
def run_robustness_from_config(
    main_fit: AttractivenessResults,
    data: PanelData,
    rcfg: Mapping[str, Any],
    out: Path,
    files: dict[str, Path],
    *,
    progress: bool,
) -> dict[str, Any]:
    """Run the ``[robustness]`` section of a run: write the tables and figures, return facts for run.json.

    Parameters
    ----------
    main_fit : AttractivenessResults
        The run's main model (the baseline).
    data : PanelData
        The run's data (``main_fit.unit_data``; used for names).
    rcfg : mapping
        The section; keys in :data:`CONFIG_KEYS` (``enabled`` is the pipeline's switch).
        The others map to the keyword arguments of :func:`geoattr.robustness.robustness`
        of the same name, except ``n_boot`` (``reps``), ``n_placebo`` (``placebo_reps``)
        and ``ci`` (``level``); ``figures`` (default true) and ``figure_format``
        (``"png"``, ``"svg"`` or a list of them; default both) control the figures,
        written to ``out/figures/``.
    {output_files}
        ``rank_intervals``, ``placebo``, ``figure_robustness_coefficients_<fmt>`` and
        ``figure_rank_intervals_<fmt>`` for each figure format.
    progress : bool
        Show the progress bar.

    Returns
    -------
    dict
        ``{"robustness": RobustnessResults.to_dict()}``.
    """
    check_robustness_config(rcfg)
    kw = {CONFIG_ARGUMENTS.get(k, k): list(v) if isinstance(v, list) else v
          for k, v in rcfg.items() if k not in _NOT_ARGUMENTS}
    if not main_fit.unit_data.units.equals(data.units):
        raise InputError("the main fit was estimated on other units than the run's data")
    res = robustness(main_fit, progress=progress, **kw)
    out = Path(out)
    files.update(res.to_csv(out))
    if rcfg.get("figures", True):
        _write_figures(res, rcfg, out, files)
    return {"robustness": res.to_dict()}
