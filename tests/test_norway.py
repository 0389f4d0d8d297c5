"""The SSB adapter and the whole run on real Statistics Norway data (skipped when the folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from geoattr import cli
from geoattr.datasets import norway
from geoattr.exceptions import InputError
from geoattr.variables import build_design

pytestmark = pytest.mark.realdata
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "norway.toml"


@pytest.fixture(scope="module")
def ssb(real_data_dir):
    return norway.load(real_data_dir)


def test_panel_2003_2016(ssb):
    assert len(ssb.units) == 426 and list(ssb.years) == list(range(2003, 2017))
    assert ssb.regions.nunique() == 85
    assert ssb.centrality["0301"] == 1000
    assert set(ssb.flows["year"]) == {2017}


def test_vra_by_hand_from_the_raw_commuting_table(ssb, real_data_dir):
    """VRA of Halden (0101) in 2010 from the raw 03321 rows and the raw jobs panel."""
    raw = pd.read_csv(real_data_dir / "commuting" / "pendling_03321_2017_2022.csv.gz", dtype={"bosted": str,
                                                                                          "arbeidssted": str})
    c = raw[(raw.year == 2017) & (raw.bosted == "0101")].set_index("arbeidssted")["sysselsatte"]
    w = c / c.sum()
    jobs = pd.read_csv(real_data_dir / "jobs" / "kommune_panel_2003_2016.csv", dtype={"kommunenummer": str})
    E = jobs.pivot(index="kommunenummer", columns="year", values="arbeidsplasser")
    ra = 100 * (E[2010] / E[2009] - 1) - 100 * (E[2010].sum() / E[2009].sum() - 1)
    expected = float((w * ra.reindex(w.index)).sum())
    d = build_design(ssb, "2019", years=(2010, 2010), commuting_year=2017)
    assert d.X.loc[("0101", 2010), "vra"] == pytest.approx(expected, rel=1e-10)  # hand calculation
    assert any("commuting matrix of 2017" in n for n in d.notes)


def test_stable_units(real_data_dir):
    from geoattr.exceptions import InvalidGeometryWarning

    with pytest.warns(InvalidGeometryWarning, match="invalid geometr"):  # ~8 % of the 2024 polygons as published
        d = norway.load(real_data_dir, units="stable")
    assert len(d.units) == 353 and len(d.polygons) == 353 and d.polygons.crs.to_epsg() == 25833
    # national totals survive the merges exactly
    raw = pd.read_csv(real_data_dir / "jobs" / "kommune_panel_2003_2016.csv")
    tot = raw.groupby("year")[["folketall", "arbeidsplasser"]].sum()
    got = d.panel.groupby(level="year")[["population", "jobs"]].sum()
    assert (got["population"].to_numpy() == tot["folketall"].to_numpy()).all()
    assert (got["jobs"].to_numpy() == tot["arbeidsplasser"].to_numpy()).all()
    assert d.regions.nunique() == 85


def test_missing_folder_error(tmp_path):
    with pytest.raises(InputError, match=r"SSB file 'jobs/kommune_panel_2003_2016.csv' not found"):
        norway.load(tmp_path)
    with pytest.raises(InputError, match="panel '2003-2022' is not available"):
        norway.load(tmp_path, panel="2003-2022")


@pytest.mark.slow
def test_run_example_config(real_data_dir, tmp_path):
    rc = cli.main(["run", str(EXAMPLE), "--data-dir", str(real_data_dir), "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    coef = pd.read_csv(tmp_path / "coefficients.csv")
    assert set(coef.term) == {"const", "vra", "vra_l1", "vra_l2", "centrality"} and set(coef.level) == {"region"}
    fit = pd.read_csv(tmp_path / "fit.csv")
    assert fit.nobs.iloc[0] == 85 * 11
    att = pd.read_csv(tmp_path / "attractiveness.csv", dtype={"unit": str})
    assert att.unit.nunique() == 353 and sorted(att.year.unique()) == list(range(2006, 2017))
    assert (tmp_path / "map.html").exists()
    rep = pd.read_csv(tmp_path / "harmonisation.csv")
    assert {"merge", "recode"} <= set(rep.kind)
    run = json.loads((tmp_path / "run.json").read_text())
    notes = " ".join(a["notes"] and " ".join(a["notes"]) or "" for a in run["row_accounting"])
    assert "2017 commuting matrix" in notes
