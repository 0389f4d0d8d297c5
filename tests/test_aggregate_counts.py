"""PanelData.aggregate sums every count of persons, the subgroup columns included.

Reference: hand sums over the toy panel's units (tests/conftest.py: 0101 and 0102 form
region R1, 0103 alone is R2).  Before the fix ``net_migration__*`` and ``flow__*`` were
population-weighted means, so a region's subgroup net migration was not the sum of its
units' (and the subgroups no longer added up to the region's net migration).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geoattr.data import PanelData
from tests.conftest import toy_flows, toy_panel


def test_region_subgroup_counts_are_sums_over_their_units():
    panel = toy_panel()
    rng = np.random.default_rng(3)
    young = np.round(panel["net_migration"] * 0.4 + rng.integers(-3, 4, len(panel)))
    panel["net_migration__young"] = young
    panel["net_migration__old"] = panel["net_migration"] - young  # the two groups add up to the total
    panel["flow__in"] = rng.integers(0, 50, len(panel)).astype(float)
    panel["in_migration"] = rng.integers(0, 80, len(panel)).astype(float)
    data = PanelData(panel, flows=toy_flows(), regions=pd.Series({"0101": "R1", "0102": "R1", "0103": "R2"}))
    reg = data.aggregate().panel
    for col in ("net_migration__young", "net_migration__old", "flow__in", "in_migration", "net_migration"):
        r1 = panel.loc[["0101", "0102"], col].groupby(level="year").sum()
        assert np.array_equal(reg.loc["R1", col].to_numpy(), r1.to_numpy()), col  # exact: sums of whole numbers
        assert np.array_equal(reg.loc["R2", col].to_numpy(), panel.loc["0103", col].to_numpy()), col
    # the groups still add up to the region's net migration
    assert np.allclose(reg["net_migration__young"] + reg["net_migration__old"], reg["net_migration"], atol=1e-9)
