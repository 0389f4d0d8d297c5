"""The analyses of a run (``[analyses]``, ``[comparison]``): each writes its table.

Every step takes the run's main fit and data, writes its CSV into the output folder,
records it in ``files`` and returns facts for ``run.json``; objects the publication
outputs reuse (decomposition, intervals, comparison) go into ``kept``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr import analysis
from geoattr import weights as gw
from geoattr._format import write_csv
from geoattr.attractiveness import attractiveness
from geoattr.barometer import barometer
from geoattr.barometer_regions import barometer_top_bottom
from geoattr.compare import compare
from geoattr.data import PanelData
from geoattr.decomposition import decompose
from geoattr.demography import cohort_residual_of_data, compare_net_migration, \
    data_death_probabilities
from geoattr.drivers import drivers
from geoattr.exceptions import InputError
from geoattr.models.ols import AttractivenessResults
from geoattr.models.vra_sum import SUM_TERM
from geoattr.pipeline.book import run_breakdown, write_subgroup_table
from geoattr.pipeline.groups import run_age_groups, run_region_barometer
from geoattr.pipeline.unit_names import with_names
from geoattr.typing import WeightsLike

__all__ = ["run_analyses", "run_comparison", "halves", "centrality_classes"]

_FLOW_PREFIX = "flow__"
_DRIVER_PREFIX = "driver__"


def halves(years: tuple[int, int]) -> list[tuple[int, int]]:
    """The two halves of a period (the first gets the middle year).

    Parameters
    ----------
    years : tuple of int
        ``(first, last)``.

    Returns
    -------
    list of tuple
    """
    mid = (years[0] + years[1]) // 2
    return [(years[0], mid), (mid + 1, years[1])]


def centrality_classes(data: PanelData) -> pd.Series:
    """Tertiles of the centrality index: ``'central'``, ``'intermediate'``, ``'peripheral'``.

    Parameters
    ----------
    data : PanelData
        Data with a centrality index.

    Returns
    -------
    pandas.Series
    """
    c = data.centrality
    if c is None:
        raise InputError("regimes = 'centrality' needs centrality in the data")
    return pd.qcut(c, 3, labels=["peripheral", "intermediate", "central"]).astype(str)


def _periods(value: Any, years: tuple[int, int]) -> list[tuple[int, int]]:
    return halves(years) if value == "halves" else [tuple(p) for p in value]


def _write(frame: pd.DataFrame, name: str, out: Path, files: dict[str, Path], **to_csv: Any) -> None:
    files[name] = out / f"{name}.csv"
    write_csv(frame, files[name], **to_csv)


class _Step:
    """What every analysis step sees: the main fit, the data, the section, the outputs."""

    def __init__(self, main: AttractivenessResults, data: PanelData, acfg: Mapping[str, Any], out: Path,
                 files: dict[str, Path], kept: dict[str, Any]) -> None:
        self.main, self.data, self.acfg, self.out, self.files, self.kept = main, data, acfg, out, files, kept
        self.years = main.unit_design.years
        self.info: dict[str, Any] = {}

    def subgroups(self) -> None:
        groups = {c.split("__", 1)[1]: c for c in self.data.panel.columns if c.startswith("net_migration__")}
        periods = _periods(self.acfg.get("subgroup_periods", "halves"), self.years)
        sub = analysis.subgroups(self.data, self.main.spec, groups=groups, periods=periods, unit_level=self.main.unit_level,
                                 years=self.years, vra_sum=True, total=self.main)
        _write(sub[sub["term"] != SUM_TERM], "subgroups", self.out, self.files, index=False)
        self.kept["subgroups_table"] = write_subgroup_table(self.out, self.files, sub)

    def decomposition(self) -> None:
        dyears = tuple(self.acfg.get("decomposition_years", (self.years[0], self.years[1] - 1)))
        fert = self.acfg.get("fertility_rates")
        if fert is None and "births" in self.data.panel.columns:
            fert = getattr(self.data, "fertility_rates", None)
        opts = self.acfg["decomposition"] if isinstance(self.acfg["decomposition"], Mapping) else {}
        convention = opts.get("convention", "book")
        try:
            dec = decompose(self.main, years=dyears, fertility_rates=fert, convention=convention)
        except InputError as err:
            if "births" not in str(err) and "population of 1 January" not in str(err):
                raise
            self.info["decomposition_note"] = str(err)
            return
        _write(dec, "decomposition", self.out, self.files, index=False)
        self.info["decomposition_years"] = list(dyears)
        self.info["decomposition_convention"] = convention
        if dec.attrs.get("notes"):
            self.info["decomposition_notes"] = list(dec.attrs["notes"])
        self.kept["decomposition"], self.kept["decomposition_years"] = dec, tuple(dyears)

    def barometer(self) -> None:
        flows = self.acfg.get("barometer_flows") or [c for c in self.data.panel.columns if c.startswith(_FLOW_PREFIX)]
        levels = self.acfg.get("barometer_level", "municipality")
        if "municipality" in levels:
            bar = barometer(self.data, period_length=int(self.acfg.get("barometer_period_length", 3)),
                            flow_columns=flows or None)
            _write(bar.to_frame(), "barometer", self.out, self.files, index=False)
            _write(bar.long_run, "barometer_long_run", self.out, self.files, index=False)
            _write(barometer_top_bottom(bar, names=self.data.names), "barometer_top_bottom", self.out, self.files,
                   index=False)
            self.kept["barometer"] = bar
        if "region" in levels:
            self.info.update(run_region_barometer(self.data, self.acfg, self.out, self.files, flows or None,
                                                  kept=self.kept))

    def age_groups(self) -> None:
        self.info.update(run_age_groups(self.main, self.data, self.acfg["age_groups"], self.out, self.files,
                                        kept=self.kept))

    def drivers(self) -> None:
        drv = self.acfg["drivers"]
        cols = [c for c in self.data.panel.columns if c.startswith(_DRIVER_PREFIX)] if drv == "auto" else list(drv)
        if not cols:
            return
        att = attractiveness(self.main)["residual"]
        cand = self.data.panel[cols].reindex(att.index)
        dres = drivers(att, cand, periods=_periods(self.acfg.get("driver_periods", "halves"), self.years))
        _write(dres.to_frame(), "drivers", self.out, self.files, index=False)

    def uncertainty(self) -> None:
        pi = analysis.prediction_intervals(self.main)
        self.kept["intervals"] = pi
        _write(with_names(pi.reset_index(), self.data), "prediction_intervals", self.out, self.files, index=False)
        eb = analysis.shrunken_attractiveness(attractiveness(self.main))
        _write(eb.rename_axis("unit").reset_index(), "shrunken_attractiveness", self.out, self.files, index=False)
        self.info["empirical_bayes_tau2"] = eb.attrs["tau2"]
        self.info["prediction_interval_coverage"] = float(1 - pi["outside"].mean())

    def persistence(self) -> None:
        per = analysis.persistence(attractiveness(self.main))
        self.info["persistence"] = {
            "persistent_share": per.persistent_share, "ar1_first_differences": per.ar1,
            **{f"wooldridge_{k}": v for k, v in per.serial_correlation.to_series().items()}}

    def cohort_residual(self) -> None:
        if self.data.population_by_age is None:
            return
        q, which = data_death_probabilities(self.data)
        if self.data.death_probabilities is None or self.data.death_probabilities_by_year is not None:
            self.info["cohort_residual_death_probabilities"] = which
        cr = cohort_residual_of_data(self.data, q)
        table = cr.table.join(self.data.panel[["net_migration"]], how="left").rename(
            columns={"net_migration": "net_migration_published"})
        _write(table.reset_index(), "cohort_residual", self.out, self.files, index=False)
        if table["net_migration_published"].notna().sum() >= 3:
            self.info["cohort_residual_agreement"] = compare_net_migration(
                table["net_migration_estimate"], table["net_migration_published"],
                population=table["population"]).to_dict()
        self.info["cohort_residual_skipped"] = len(cr.skipped)

    def vra_breakdown(self) -> None:
        bd = run_breakdown(self.main, self.acfg["vra_breakdown"])
        self.kept["vra_breakdown"] = bd
        _write(bd, "vra_breakdown", self.out, self.files, index=False)
        self.info["vra_breakdown"] = {"units": int(bd["unit"].nunique()), "years": sorted(set(bd["year"].tolist())),
                                      "lag": int(bd["lag"].iloc[0]) if len(bd) else 0}

    def regimes(self) -> None:
        reg = self.acfg["regimes"]
        classes = centrality_classes(self.data) if reg == "centrality" else reg
        rr = analysis.regimes(self.data, self.main.spec, regime=classes, years=self.years)
        _write(rr.coefficients.rename_axis("term").reset_index(), "regimes", self.out, self.files, index=False)
        self.info["chow"] = rr.chow.to_series().to_dict()


#: The analyses of ``[analyses]`` in the order they run.
_ANALYSES = ("subgroups", "decomposition", "barometer", "drivers", "uncertainty", "persistence", "cohort_residual",
             "regimes", "vra_breakdown", "age_groups")


@fill_doc(output_files=OUTPUT_FILES)
def run_analyses(main: AttractivenessResults, data: PanelData, acfg: Mapping[str, Any], out: Path,
                 files: dict[str, Path], *, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the analyses switched on in ``[analyses]``.

    Parameters
    ----------
    main : AttractivenessResults
        The run's main model.
    data : PanelData
        The run's data.
    acfg : mapping
        The ``[analyses]`` section.
    {output_files}
    kept : dict, optional
        Updated with the objects the publication outputs reuse.

    Returns
    -------
    dict
        Facts for ``run.json``.
    """
    step = _Step(main, data, acfg, out, files, {} if kept is None else kept)
    for name in _ANALYSES:
        if acfg.get(name, False) or isinstance(acfg.get(name), Mapping):  # a table switches its analysis on
            getattr(step, name)()
    return step.info


def _comparison_weights(data: PanelData, ccfg: Mapping[str, Any], years: tuple[int, int]) -> dict[str, WeightsLike]:
    """The weights of ``[comparison] weights``, as row-standardised Graphs without the diagonal."""
    wanted = ccfg.get("weights", ["commuting", "queen", "knn", "distance"])  # names checked by the schema
    graphs: dict[str, WeightsLike] = {}
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
    return graphs


@fill_doc(output_files=OUTPUT_FILES)
def run_comparison(data: PanelData, ccfg: Mapping[str, Any], main: AttractivenessResults, out: Path,
                   files: dict[str, Path], *, kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """The specification comparison of ``[comparison]``: ``comparison.csv`` and ``comparison.tex``.

    Parameters
    ----------
    data : PanelData
        The run's data.
    ccfg : mapping
        The ``[comparison]`` section.
    main : AttractivenessResults
        The run's main model (its terms and years).
    {output_files}
    kept : dict, optional
        Updated with the comparison (``kept["comparison"]``).

    Returns
    -------
    dict
        Facts for ``run.json``.
    """
    years = main.unit_design.years
    graphs = _comparison_weights(data, ccfg, years)
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
