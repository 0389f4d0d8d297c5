"""Bring your own data, in Python: the fictional Sweden-style files of this folder.

``python examples/own_data/run_example.py OUT`` runs the whole job from the TOML file
(as ``geoattr run``) into ``OUT`` and then the same model step by step.
``tests/test_howto_own_data.py`` runs this file, so the how-to's code cannot rot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import geoattr
from geoattr import io
from geoattr.data import PanelData
from geoattr.pipeline import load_config, run

HERE = Path(__file__).resolve().parent


def whole_job(out: Path) -> pd.DataFrame:
    """The run configuration does everything: read, check, estimate, write."""
    result = run(load_config(HERE / "own_data.toml"), out=out, progress=False)
    return pd.read_csv(result.files["coefficients"], dtype={"spec": str})


def step_by_step() -> tuple[geoattr.AttractivenessResults, pd.DataFrame]:
    """The same model from Python: each table read with its own column names."""
    panel = io.read_panel(
        HERE / "befolkning.csv", unit="kommunkod", year="år",
        columns={"folkmängd": "population", "dagbefolkning": "jobs", "flyttnetto": "net_migration"},
    )
    flows = io.read_flows(
        HERE / "pendling.csv", origin="bostadskommun", destination="arbetsställekommun",
        value="antal", year="år",
    )
    centrality = io.read_series(
        HERE / "centralitet.csv", key="kommunkod", value="centralitetsindex", name="centrality"
    )
    lan = pd.read_csv(HERE / "lan.csv", sep=";", dtype=str).set_index("kommunkod")
    data = PanelData(panel, flows=flows, centrality=centrality, regions=lan["lan"],
                     unit_names=lan["namn"], region_names=lan.drop_duplicates("lan").set_index("lan")["lansnamn"])
    fit = geoattr.estimate(data, "2019", years=(2011, 2020), commuting_year=2015)
    att = geoattr.attractiveness(fit)  # (unit, year): actual, expected, residual, ...
    top = geoattr.rankings(geoattr.cumulate(att), n=5, names=data.names)
    return fit, top


if __name__ == "__main__":
    coefficients = whole_job(Path(sys.argv[1]))
    print(coefficients[["term", "estimate", "std_error"]].to_string(index=False))
    fit, top = step_by_step()
    print(fit.results.summary)
    print(top)
