"""The 2022 specification through ``geoattr run`` on the real data, and ``variables.csv``.

The example configurations ``examples/norway_2022.toml`` (2003-2016) and
``examples/norway_2022_2003_2022.toml`` (2003-2022) run on ``../shared/data/norway``
(skipped when absent) at region and municipality level.  ``variables.csv`` is checked
against the model it comes from: the coefficients times the variables give the
expected net migration of ``attractiveness.csv`` (tolerance 1e-9 percentage points,
rounding only).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoattr import cli
from geoattr.models.ols import estimate
from geoattr.pipeline import synthetic_panel_data
from geoattr.pipeline.variables_table import model_variables

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TERMS = ["vra", "vra_l1", "vra_l2", "centrality", "ds"]


def _expected_from_variables(variables: pd.DataFrame, coef: pd.DataFrame, level: str) -> pd.Series:
    b = coef.set_index("term")["estimate"]
    v = variables[variables["level"] == level].set_index(["unit", "year"])
    return b.get("const", 0.0) + v[[t for t in b.index if t != "const"]].mul(b.drop("const", errors="ignore")).sum(
        axis=1)


@pytest.mark.slow
def test_variables_table_holds_the_design_of_every_level():
    data = synthetic_panel_data()
    fits = [estimate(data, "2022", unit_level="region"), estimate(data, "2018", unit_level="municipality")]
    v = model_variables(fits)
    assert list(v.columns[:5]) == ["level", "unit", "year", "population", "y"]
    assert set(v["level"]) == {"region", "municipality"}
    reg = v[v["level"] == "region"].set_index(["unit", "year"])
    pd.testing.assert_series_equal(reg["ds"], fits[0].design.X["ds"], check_names=False, check_index_type=False)
    mun = v[v["level"] == "municipality"].set_index(["unit", "year"])
    # the region model's municipal design and the 2018 model's terms meet on the same rows
    pd.testing.assert_series_equal(mun["vra_l2"], fits[0].unit_design.X["vra_l2"], check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(mun["ami"], fits[1].design.X["ami"], check_names=False, check_index_type=False)
    # terms only the 2018 model has are empty on the region rows
    assert reg["ami"].isna().all() and "const" not in v.columns
    # coefficients x variables = the model's expected values
    coef = fits[0].results.to_frame().reset_index()
    exp = _expected_from_variables(v, coef, "municipality")
    np.testing.assert_allclose(exp.reindex(fits[0].expected.index), fits[0].expected, atol=1e-9)


def _run(config: str, real_data_dir: Path, out: Path) -> dict:
    rc = cli.main(["run", str(EXAMPLES / config), "--data-dir", str(real_data_dir), "--out", str(out),
                   "--no-progress"])
    assert rc == 0
    return json.loads((out / "run.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("config, last", [("norway_2022.toml", 2016), ("norway_2022_2003_2022.toml", 2022)])
def test_the_2022_specification_runs_on_the_real_data(real_data_dir, tmp_path, config, last):
    run = _run(config, real_data_dir, tmp_path)
    coef = pd.read_csv(tmp_path / "coefficients.csv")
    assert set(coef["level"]) == {"region", "municipality"}
    for level, c in coef.groupby("level"):
        assert set(c["term"]) == {"const", *TERMS}
        ds = c.set_index("term").loc["ds"]
        assert np.isfinite(ds["estimate"]) and np.isfinite(ds["std_error"]) and ds["std_error"] > 0
    v = pd.read_csv(tmp_path / "variables.csv", dtype={"unit": str})
    assert set(v["level"]) == {"region", "municipality"}
    assert v.groupby("level")["unit"].nunique().to_dict() == {"region": 85, "municipality": 353}
    assert sorted(v["year"].unique()) == list(range(2006, last + 1))
    assert np.isfinite(v[["y", *TERMS]].to_numpy()).all()
    # the main model (regions) applied to the municipal variables gives attractiveness.csv's expected values
    att = pd.read_csv(tmp_path / "attractiveness.csv", dtype={"unit": str}).set_index(["unit", "year"])
    exp = _expected_from_variables(v, coef[coef["level"] == "region"], "municipality")
    np.testing.assert_allclose(exp.reindex(att.index), att["expected"], atol=1e-9)
    rates = run["national_rates"]
    assert rates["years"] == list(range(2006, last + 1))
    assert any(b["year"] == 2010 and b["kind"] == "jump" for b in rates["series_breaks"])
    notes = " ".join(" ".join(a["notes"]) for a in run["row_accounting"])
    assert "mean-preserving monotone (PCHIP) interpolation" in notes and "series break 2010 (jump)" in notes
    assert "q = m / (1 + m/2)" in notes
    assert any(n.startswith("employment series break 2010 (jump)") for n in run["notes"])
    assert run["outputs"]["variables"] == "variables.csv"
