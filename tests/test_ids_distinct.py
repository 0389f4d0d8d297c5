"""normalise_ids of long string columns works on their distinct values (a speed-up of the demo's
population-by-age and flows checks): the same strings as the row-by-row path, and the same errors
naming the same row positions."""

from __future__ import annotations

import pandas as pd
import pytest

import geoattr._ids as ids_module
from geoattr._ids import normalise_ids
from geoattr.exceptions import InputError

N = 25_000  # above _BY_DISTINCT_MIN


def _both(values, monkeypatch, **kw):
    fast = normalise_ids(values, name="unit", **kw)
    monkeypatch.setattr(ids_module, "_BY_DISTINCT_MIN", 10**12)  # the row-by-row path
    slow = normalise_ids(values, name="unit", **kw)
    return fast, slow


@pytest.mark.parametrize("values", [
    pd.Series([" 0301", "301.0", "0301.00", "1103 ", "03"] * (N // 5)),
    pd.Series(["0101", "5001"] * (N // 2), dtype="string"),
    pd.Index(["0101", "0102", "0103", "0104", "0105"] * (N // 5)),
])
def test_distinct_path_gives_the_row_by_row_strings(values, monkeypatch):
    fast, slow = _both(values, monkeypatch, width=4)
    pd.testing.assert_series_equal(fast, slow)  # object strings on a RangeIndex, exactly equal


def test_distinct_path_strips_drops_zero_decimals_and_pads():
    out = normalise_ids(pd.Series([" 0301", "301.0", "0301.00", "1103 ", "03"] * (N // 5)), name="unit", width=4)
    assert out.iloc[:5].tolist() == ["0301", "0301", "0301", "1103", "0003"]  # by hand, from the docstring's rules
    assert out.iloc[-5:].tolist() == ["0301", "0301", "0301", "1103", "0003"] and len(out) == N


@pytest.mark.parametrize("bad, message", [
    (pd.Series(["0101", None] * (N // 2)), r"missing or blank id\(s\) at row position\(s\) 1, 3, 5"),
    (pd.Series(["0101", "  "] * (N // 2)), r"missing or blank id\(s\) at row position\(s\) 1, 3, 5"),
    (pd.Series(["0101", 1.5] * (N // 2), dtype=object), r"1\.5 at row position 1, 1\.5 at row position 3"),
])
def test_bad_ids_are_named_by_row_position_as_before(bad, message, monkeypatch):
    with pytest.raises(InputError, match=message) as fast:
        normalise_ids(bad, name="unit")
    monkeypatch.setattr(ids_module, "_BY_DISTINCT_MIN", 10**12)
    with pytest.raises(InputError) as slow:
        normalise_ids(bad, name="unit")
    assert str(fast.value) == str(slow.value)


def test_population_by_age_sex_is_lowered_per_distinct_value_and_checked():
    from geoattr.data.checks import check_population_by_age

    pa = pd.DataFrame({"unit": ["0101"] * 4, "year": 2001, "sex": ["Female", "MALE", "female", "male"],
                       "age": [0, 0, 1, 1], "population": [5, 6, 7, 8]})
    out = check_population_by_age(pa)
    assert out["sex"].tolist() == ["female", "male", "female", "male"] and out["sex"].dtype == object
    with pytest.raises(InputError, match=r"column 'sex' has values \['f'\]; use 'female' and 'male'"):
        check_population_by_age(pa.assign(sex=["F", "MALE", "female", "male"]))


def test_population_by_age_cells_that_coincide_after_normalising_are_duplicates():
    """The uniqueness check runs on the codes of the normalised ids and sexes: ' 0101' is '0101'
    and 'Female' is 'female', so these rows are the same cell (message as require_unique's)."""
    from geoattr.data.checks import check_population_by_age

    pa = pd.DataFrame({"unit": ["0101", " 0101", "0102"], "year": 2001, "sex": ["female", "female", "male"],
                       "age": [3, 3, 3], "population": [5, 6, 7]})
    with pytest.raises(InputError, match=r"1 duplicate key\(s\) \(unit, year, sex, age\) over 2 rows: "
                                         r"\('0101', 2001, 'female', 3\)"):
        check_population_by_age(pa)
    with pytest.raises(InputError, match=r"over 2 rows: \('0102', 2001, 'male', 3\)"):
        check_population_by_age(pa.assign(unit=["0101", "0102", "0102"], sex=["female", "Male", "male"]))
    out = check_population_by_age(pa.assign(age=[3, 4, 3]))
    assert out["unit"].tolist() == ["0101", "0101", "0102"] and len(out) == 3
