"""The ``name`` column appended to attractiveness.csv, lisa.csv and prediction_intervals.csv."""

from __future__ import annotations

import pandas as pd

from geoattr.pipeline.unit_names import with_names


def test_names_are_appended_last_and_fall_back_to_the_id(toy_data):
    data = toy_data.replace(unit_names=pd.Series({"0101": "Halden", "0102": "Moss"}),
                            region_names=pd.Series({"R1": "Østfold"}))
    table = pd.DataFrame({"unit": ["0102", "0103", "R1", "0101"], "x": [1.0, 2.0, 3.0, 4.0]})
    out = with_names(table, data)
    assert list(out.columns) == ["unit", "x", "name"] and list(table.columns) == ["unit", "x"]  # input unchanged
    assert list(out["name"]) == ["Moss", "0103", "Østfold", "Halden"]
