"""Shared fixtures: a hand-computable three-municipality panel and the synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "norway"

# Jobs by workplace, 2000-2005, for three municipalities with leading-zero codes.
JOBS = {
    "0101": [100, 110, 121, 110, 120, 125],
    "0102": [200, 190, 209, 200, 210, 200],
    "0103": [700, 700, 700, 735, 700, 720],
}
YEARS = list(range(2000, 2006))


def toy_flows() -> pd.DataFrame:
    """Commuting flows: constant shares except in 2003 (to test that lags use year t-k).

    Shares (rows = residence):
      0101: 0.9 local, 0.1 to 0102
      0102: 0.2 to 0101, 0.8 local
      0103: 0.5 to 0101, 0.5 local
    In 2003, 0101 works 100 % locally.
    """
    rows = []
    for y in YEARS:
        if y == 2003:
            rows += [(y, "0101", "0101", 100)]
        else:
            rows += [(y, "0101", "0101", 90), (y, "0101", "0102", 10)]
        rows += [(y, "0102", "0101", 20), (y, "0102", "0102", 80), (y, "0103", "0101", 50), (y, "0103", "0103", 50)]
    return pd.DataFrame(rows, columns=["year", "origin", "destination", "count"])


def toy_panel() -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([list(JOBS), YEARS], names=["unit", "year"])
    jobs = np.concatenate([JOBS[u] for u in JOBS]).astype(float)
    pop = np.tile([1000.0, 1010, 1020, 1030, 1040, 1050], 3) * np.repeat([1, 2, 5], 6)
    nm = np.tile([5.0, -3, 4, 2, -1, 6], 3) * np.repeat([1, 2, 3], 6)
    return pd.DataFrame({"population": pop, "jobs": jobs, "net_migration": nm}, index=idx)


@pytest.fixture
def toy_data():
    from geoattr.data import PanelData

    return PanelData(
        toy_panel(),
        flows=toy_flows(),
        centrality=pd.Series({"0101": 800.0, "0102": 500.0, "0103": 200.0}),
        regions=pd.Series({"0101": "R1", "0102": "R1", "0103": "R2"}),
    )


@pytest.fixture(scope="session")
def synthetic():
    from geoattr.datasets import synthetic_norway

    return synthetic_norway()


@pytest.fixture(scope="session")
def synthetic_data():
    from geoattr.pipeline import synthetic_panel_data

    return synthetic_panel_data()


@pytest.fixture(scope="session")
def real_data_dir():
    if not REAL_DATA.exists():
        pytest.skip(f"real Norway data not found at {REAL_DATA}")
    return REAL_DATA


def square_grid(side: int):
    """A side x side grid of unit squares indexed by zero-padded string ids (for weights tests)."""
    import geopandas as gpd
    from shapely.geometry import box

    ids = [f"{i:03d}" for i in range(side * side)]
    return gpd.GeoDataFrame(geometry=[box(i % side, i // side, i % side + 1, i // side + 1) for i in range(side * side)],
                            index=pd.Index(ids, name="unit"))
