"""The Barometer at region level, and top and bottom lists per period and for the long-run index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoattr import barometer, cli
from geoattr.barometer_regions import barometer_top_bottom, region_barometer
from geoattr.config import load_run_config
from geoattr.datasets import norway
from geoattr.exceptions import InputError
from geoattr.pipeline.groups import run_region_barometer, write_barometer_outputs
from geoattr.report.barometer import barometer_coefficients_figure

FLOWS = ["flow__immigration", "flow__domestic_immigrants", "flow__domestic_rest"]


@pytest.fixture(scope="module")
def bars(synthetic_data):
    return barometer(synthetic_data), region_barometer(synthetic_data, flow_columns=FLOWS)


def test_region_index_follows_the_aggregation_rules(synthetic_data, bars):
    """Documented rules: a region's y is the population-weighted mean of its municipalities' y
    (population on 1 January of the period's first year), its x the mean of their x weighted by
    the jobs of the year before the period; the region Barometer is the Barometer of the
    aggregated panel. Tolerance 1e-9 (floating point)."""
    mun, reg = bars
    assert reg.options["unit_level"] == "region" and "aggregated to" in reg.notes[0]
    assert reg.index["unit"].nunique() == synthetic_data.regions.nunique()
    m = mun.index[mun.index["flow"] == "total"].copy()
    m["region"] = synthetic_data.region_of().reindex(m["unit"]).to_numpy()
    jobs = synthetic_data.column("jobs")
    m["jobs0"] = [jobs[(u, s - 1)] for u, s in zip(m["unit"], m["start"])]
    g = m.groupby(["region", "period"])
    y = g.apply(lambda d: np.average(d["y"], weights=d["population"]), include_groups=False)
    x = g.apply(lambda d: np.average(d["x"], weights=d["jobs0"]), include_groups=False)
    r = reg.index[reg.index["flow"] == "total"].set_index(["unit", "period"])
    assert float((r["y"] - y.reindex(r.index)).abs().max()) < 1e-9
    assert float((r["x"] - x.reindex(r.index)).abs().max()) < 1e-9
    direct = barometer(synthetic_data.aggregate())
    d = direct.index.set_index(["unit", "period"])
    assert float((r["residual"] - d["residual"].reindex(r.index)).abs().max()) < 1e-9


def test_region_flows_are_summed_and_add_up_to_the_total(bars):
    """Flow columns are persons: summed over municipalities (not averaged), so the generator's
    flows, which sum to net migration, give flow indices that add up to the total index."""
    _, reg = bars
    wide = reg.index.pivot_table(index=["unit", "period"], columns="flow", values=["y", "residual"])
    assert float((wide["y"][FLOWS].sum(axis=1) - wide["y"]["total"]).abs().max()) < 1e-9
    assert float((wide["residual"][FLOWS].sum(axis=1) - wide["residual"]["total"]).abs().max()) < 1e-9


def test_top_and_bottom_lists_per_period_and_long_run(synthetic_data, bars):
    mun, reg = bars
    tb = barometer_top_bottom(reg, n=5)
    periods = [f"{s}-{e}" for s, e in reg.periods]
    assert list(dict.fromkeys(tb["period"])) == [*periods, "long-run"]
    assert (tb.groupby("period").size() == 10).all() and set(tb["level"]) == {"region"}
    lr = reg.long_run[reg.long_run["flow"] == "total"].sort_values("index", ascending=False)
    top = tb[(tb["period"] == "long-run") & (tb["list"] == "top")]
    assert list(top["unit"]) == list(lr["unit"].head(5)) and np.allclose(top["residual"], lr["index"].head(5))
    last = reg.index[(reg.index["flow"] == "total") & (reg.index["period"] == periods[-1])]
    bottom = tb[(tb["period"] == periods[-1]) & (tb["list"] == "bottom")]
    assert bottom["unit"].iloc[0] == last.loc[last["residual"].idxmin(), "unit"]
    assert bottom["rank"].iloc[0] == len(last)
    named = barometer_top_bottom(mun, n=3, names=synthetic_data.names)
    assert set(named["level"]) == {"municipality"}
    assert (named["name"] == synthetic_data.names.reindex(named["unit"]).to_numpy()).all()


def test_errors_name_the_problem(synthetic_data, bars):
    with pytest.raises(InputError, match=r"flow column\(s\) \['flow__nope'\] are not in the panel"):
        region_barometer(synthetic_data, flow_columns=["flow__nope"])
    with pytest.raises(InputError, match="unknown flow 'nope'"):
        barometer_top_bottom(bars[1], flow="nope")
    with pytest.raises(InputError, match="unit\\(s\\) have no region"):
        region_barometer(synthetic_data, regions=synthetic_data.regions.iloc[1:])
    with pytest.raises(TypeError, match="PanelData"):
        region_barometer(pd.DataFrame())


@pytest.mark.realdata
def test_region_barometer_on_real_data(real_data_dir):
    """The 85 functional regions, 2003-2016: periods 2005-2007 ... 2014-2016 (2003-2004 do not
    fill a period; the first period needs the jobs of the year before it)."""
    data = norway.load(real_data_dir)
    reg = region_barometer(data)
    assert reg.periods == [(2005, 2007), (2008, 2010), (2011, 2013), (2014, 2016)]
    assert reg.index["unit"].nunique() == 85 and reg.long_run["n_periods"].eq(3).all()
    # least squares with a constant: the residuals of each period sum to zero
    assert reg.index.groupby("period")["residual"].sum().abs().max() < 1e-8
    tb = barometer_top_bottom(reg, n=10)
    assert len(tb) == 5 * 20


def test_run_step_writes_tables_figures_and_map(synthetic_data, tmp_path):
    files: dict = {}
    kept: dict = {}
    info = run_region_barometer(synthetic_data, {"barometer_period_length": 3}, tmp_path, files, None, kept=kept)
    assert {"barometer_region", "barometer_region_long_run", "barometer_region_top_bottom"} <= set(files)
    assert info["barometer_region_periods"][-1] == "2021-2023"
    tb = pd.read_csv(files["barometer_region_top_bottom"])
    assert list(tb.columns) == ["period", "level", "list", "rank", "unit", "name", "residual", "residual_persons"]
    figs = write_barometer_outputs(tmp_path, files, data=synthetic_data, kept=kept,
                                   ocfg={"figures": True, "map": True, "self_contained": True, "top_n": 5})
    assert set(figs) == {"barometer_region_long_run_png", "barometer_region_coefficients_png"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in figs.values())
    assert b"<svg" in (tmp_path / "figures" / "barometer_region_long_run.svg").read_bytes()[:2000]
    html = files["barometer_region_map"].read_text(encoding="utf-8")
    assert "Barometer long-run index (regions" in html and "by year" in html
    with pytest.raises(InputError, match=r"must end in \.png or \.svg"):
        barometer_coefficients_figure(kept["barometer_region"], path=tmp_path / "x.pdf")


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "norway_barometer_groups.toml"


def test_example_config_loads():
    assert load_run_config(EXAMPLE)["analyses"]["barometer_level"] == ["municipality", "region"]


@pytest.mark.realdata
@pytest.mark.slow
def test_example_run_on_real_data(real_data_dir, tmp_path):
    rc = cli.main(["run", str(EXAMPLE), "--data-dir", str(real_data_dir), "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    reg = pd.read_csv(tmp_path / "barometer_region.csv", dtype={"unit": str})
    assert reg["unit"].nunique() == 85 and reg["period"].iloc[-1] == "2020-2022"
    mun = pd.read_csv(tmp_path / "barometer.csv", dtype={"unit": str})
    assert mun["unit"].nunique() == 353
    assert (tmp_path / "barometer_region_map.html").exists() and (tmp_path / "barometer_map.html").exists()
    run = json.loads((tmp_path / "run.json").read_text())
    # net migration by age needs population_by_age from the adapter: the tables, or a note saying why not
    assert (tmp_path / "net_migration_by_age.csv").exists() or "not run" in run["analyses"]["age_groups_note"]
