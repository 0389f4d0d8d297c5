"""Shared validators: id normalisation and the messages naming tables, columns, rows and ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.exceptions import InputError
import geoattr._validation as val


# ----------------------------------------------------------------- normalise_ids
@pytest.mark.parametrize(
    ("values", "width", "expected"),
    [
        (
            pd.Series(["0301", " 1103 ", "5001"]),
            None,
            ["0301", "1103", "5001"],
        ),  # zeros kept, stripped
        (pd.Series(["301", "0301"]), 4, ["0301", "0301"]),  # width pads text too
        (pd.Series([301, 1103]), 4, ["0301", "1103"]),  # integers stored by the file
        (pd.Series([301.0, 1103.0]), 4, ["0301", "1103"]),  # a float column with gaps elsewhere
        (
            pd.Series(["301.0", "0301.00"]),
            None,
            ["301", "0301"],
        ),  # text written from a float column
        (pd.Index([7, 12]), 3, ["007", "012"]),
        (np.array([1, 2]), None, ["1", "2"]),
        ([301.0, "0302", 7], 4, ["0301", "0302", "0007"]),  # mixed types
        (pd.Series(["A-1", "b"]), None, ["A-1", "b"]),  # codes need not be digits
        (pd.Series(["12345"]), 4, ["12345"]),  # longer than width: unchanged
    ],
)
def test_normalise_ids(values, width, expected):
    out = val.normalise_ids(values, name="unit", width=width)
    assert out.tolist() == expected
    assert out.dtype == object
    assert list(out.index) == list(range(len(expected)))


def test_normalise_ids_does_not_mutate_input():
    s = pd.Series([" 0301", "1103"], index=["a", "b"])
    before = s.copy()
    val.normalise_ids(s, name="unit", width=5)
    pd.testing.assert_series_equal(s, before)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["0301", None, "1103", " "]),
        pd.Series([301.0, np.nan, 5.0, np.nan]),
        [1, None, 2, ""],
    ],
)
def test_normalise_ids_missing_names_positions(values):
    with pytest.raises(
        InputError,
        match=r"^unit has 2 missing or blank id\(s\) at row position\(s\) 1, 3; "
        r"every row needs an id",
    ):
        val.normalise_ids(values, name="unit")


def test_normalise_ids_rejects_non_codes():
    with pytest.raises(
        InputError,
        match=r"unit has 1 id\(s\) that are not codes .*: 301\.5 at row position 1; "
        r".*read the column as text \(dtype=str\)",
    ):
        val.normalise_ids([300.0, 301.5], name="unit")
    with pytest.raises(InputError, match=r"1 id\(s\) that are not codes .*True at row position 0"):
        val.normalise_ids([True, 3], name="unit")
    with pytest.raises(TypeError, match="single string '0301'"):
        val.normalise_ids("0301", name="unit")


# ------------------------------------------------------------------ require_columns
def test_require_columns():
    df = pd.DataFrame({"year": [2017], "bosted": ["0301"]})
    val.require_columns(df, ["year"], table="flows")  # passes
    with pytest.raises(
        InputError,
        match=r"^table 'flows' lacks column\(s\) 'count', 'x'; it has: 'year', "
        r"'bosted'; pass value='sysselsatte'$",
    ):
        val.require_columns(
            df, ["year", "count", "x"], table="flows", hint="pass value='sysselsatte'"
        )
    with pytest.raises(InputError, match=r"lacks column\(s\) 'count'; it has: 'year', 'bosted'$"):
        val.require_columns(df, "count", table="flows")


# ------------------------------------------------------------------ require_numeric
def test_require_numeric_names_columns_rows_and_values_in_order():
    df = pd.DataFrame(
        {"a": ["1", "x", "3", "y"], "b": [1.0, 2.0, 3.0, 4.0], "c": ["5", "6", "7", "?"]},
        index=["r0", "r1", "r2", "r3"],
    )
    with pytest.raises(
        InputError,
        match=r"^table 'panel' has non-numeric values: column 'a': 2 non-numeric value\(s\) "
        r"'x', 'y' in row\(s\) 'r1', 'r3'; column 'c': 1 non-numeric value\(s\) '\?' "
        r"in row\(s\) 'r3'\. .*pd\.to_numeric",
    ):
        val.require_numeric(df, ["a", "b", "c"], table="panel")
    # numeric text and numeric dtypes pass; missing values are not this check's business
    val.require_numeric(
        pd.DataFrame({"a": ["1", None, "2.5"], "b": [1, 2, 3]}), ["a", "b"], table="panel"
    )


def test_require_numeric_mentions_ssb_symbols_and_truncates():
    df = pd.DataFrame({"n": [".."] * 12 + ["1"]})
    with pytest.raises(
        InputError,
        match=r"12 non-numeric value\(s\) ('\.\.', ){9}'\.\.' and 2 more in row\(s\) "
        r"0, 1, .*, 9 and 2 more\. .*SSB's symbols for missing or confidential",
    ):
        val.require_numeric(df, ["n"], table="flows")
    with pytest.raises(InputError, match=r"table 'flows' lacks column\(s\) 'm'"):
        val.require_numeric(df, ["m"], table="flows")


# --------------------------------------------------------------- missing and signs
def test_require_no_missing():
    df = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0], "b": ["x", "y", None], "c": [1, 2, 3]}, index=[10, 20, 30]
    )
    val.require_no_missing(df, ["c"], table="t")
    with pytest.raises(
        InputError,
        match=r"^table 't' has missing values: column 'a': 1 missing value\(s\) in row\(s\) "
        r"20; column 'b': 1 missing value\(s\) in row\(s\) 30\. Fill them in",
    ):
        val.require_no_missing(df, ["a", "b", "c"], table="t")


def test_require_nonnegative_and_positive():
    df = pd.DataFrame({"n": [3.0, -1.0, 0.0, np.nan, -7.0]}, index=["a", "b", "c", "d", "e"])
    with pytest.raises(
        InputError,
        match=r"^table 'flows' has negative values: column 'n': 2 negative value\(s\) "
        r"-1\.0, -7\.0 in row\(s\) 'b', 'e'\. These values cannot be negative",
    ):
        val.require_nonnegative(df, ["n"], table="flows")
    with pytest.raises(
        InputError,
        match=r"^table 'panel' has zero or negative values: column 'n': 3 zero or negative "
        r"value\(s\) -1\.0, 0\.0, -7\.0 in row\(s\) 'b', 'c', 'e'\. "
        r"These values must be positive",
    ):
        val.require_positive(df, ["n"], table="panel")
    ok = pd.DataFrame({"n": [0, 1, np.nan]})
    val.require_nonnegative(ok, ["n"], table="flows")  # zero and missing pass
    val.require_positive(ok.iloc[1:], ["n"], table="panel")
    many = pd.DataFrame({"n": -np.arange(1, 13)})
    with pytest.raises(
        InputError,
        match=r"12 negative value\(s\) -1, -2, .*, -10 and 2 more in row\(s\) 0, .*, 9 and 2 more",
    ):
        val.require_nonnegative(many, ["n"], table="flows")


# ------------------------------------------------------------------- require_unique
def test_require_unique_keys():
    df = pd.DataFrame(
        {
            "unit": ["0301", "0301", "1103", "1103", "1103", "5001"],
            "year": [2017, 2017, 2017, 2017, 2018, 2017],
            "x": range(6),
        }
    )
    val.require_unique(df, ["unit", "year", "x"], table="panel")
    with pytest.raises(
        InputError,
        match=r"^table 'panel' has 2 duplicate key\(s\) \(unit, year\) over 4 rows: "
        r"\('0301', 2017\), \('1103', 2017\)\. .*drop_duplicates.*groupby",
    ):
        val.require_unique(df, ["unit", "year"], table="panel")
    with pytest.raises(
        InputError, match=r"2 duplicate key\(s\) \(unit\) over 5 rows: '0301', '1103'\."
    ):
        val.require_unique(df, ["unit"], table="units")
    with pytest.raises(InputError, match=r"lacks column\(s\) 'region'"):
        val.require_unique(df, ["region"], table="units")


def test_require_unique_index():
    idx = pd.MultiIndex.from_tuples(
        [("0301", 2017), ("0301", 2017), ("1103", 2017)], names=["unit", "year"]
    )
    with pytest.raises(
        InputError, match=r"1 duplicate key\(s\) index \(unit, year\) over 2 rows: \('0301', 2017\)"
    ):
        val.require_unique(pd.DataFrame({"x": [1, 2, 3]}, index=idx), None, table="panel")
    with pytest.raises(
        InputError, match=r"table 'polygons' has 1 duplicate key\(s\) index over 2 rows: 'b'"
    ):
        val.require_unique(pd.Index(["a", "b", "b"]), None, table="polygons")
    val.require_unique(pd.Series([1, 2], index=["a", "b"]), None, table="centrality")
    with pytest.raises(TypeError, match="keys= needs a DataFrame"):
        val.require_unique(pd.Index(["a"]), ["unit"], table="x")


# ----------------------------------------------------------------- id set comparison
def test_compare_id_sets():
    only_a, only_b = val.compare_id_sets(
        ["0301", "1103", "0301"], ("1103", "5001"), a_name="panel", b_name="polygons"
    )
    assert only_a == {"0301"} and only_b == {"5001"}
    assert val.compare_id_sets([], [], a_name="a", b_name="b") == (set(), set())


def test_require_same_ids():
    val.require_same_ids(["a", "b"], ["b", "a"], a_name="panel", b_name="polygons")
    with pytest.raises(
        InputError,
        match=r"^the ids of panel and polygons differ: 1 id\(s\) only in panel: '1103'; "
        r"1 id\(s\) only in polygons: '5001'\. harmonise the codes$",
    ):
        val.require_same_ids(
            ["0301", "1103"],
            ["0301", "5001"],
            a_name="panel",
            b_name="polygons",
            hint="harmonise the codes",
        )
    many = [f"{i:04d}" for i in range(12)]
    with pytest.raises(InputError, match=r"12 id\(s\) only in flows: '0000', .*'0009' and 2 more$"):
        val.require_same_ids(many, [], a_name="flows", b_name="panel")


# ------------------------------------------------------- finite, whole, varying values
def test_require_finite_names_infinite_and_huge_cells_and_lets_nan_pass():
    df = pd.DataFrame({"a": [1.0, np.nan, -np.inf], "b": [1e200, 2.0, 3.0], "s": ["x", "y", "z"]},
                      index=["r0", "r1", "r2"])
    with pytest.raises(InputError, match=r"^table 't' has infinite values: column 'a': 1 value\(s\) -inf in "
                                         r"row\(s\) 'r2'\. Replace them"):
        val.require_finite(df, ["a", "b", "s"], table="t")
    with pytest.raises(InputError, match=r"too large to compute with \(magnitude above 1e\+150.*column 'b': "
                                         r"1 value\(s\) 1e\+200 in row\(s\) 'r0'\. Check the values .* Mind it\.$"):
        val.require_finite(df, ["b"], table="t", hint="Mind it.")
    val.require_finite(df, ["b"], table="t", max_abs=1e300)  # a larger bound, and text columns, pass


def test_require_whole_names_fractional_counts():
    df = pd.DataFrame({"n": [1.0, 2.5, np.nan, np.inf, -3.0]})
    with pytest.raises(InputError, match=r"^table 't' has counts that are not whole numbers: column 'n': "
                                         r"1 value\(s\) 2\.5 in row\(s\) 1\. Counts of persons"):
        val.require_whole(df, ["n"], table="t")
    val.require_whole(df.iloc[[0, 2, 3, 4]], ["n"], table="t")


def test_require_variation_and_person_counts():
    with pytest.raises(InputError, match=r"the dependent variable y has the same value 2\.0 in all 3 row\(s\)"):
        val.require_variation(pd.Series([2.0, 2.0, 2.0 + 1e-15, np.nan]), name="y")
    val.require_variation(pd.Series([2.0, 2.1]), name="y")
    val.require_variation(pd.Series([], dtype=float), name="y")
    assert [val.is_person_count(c) for c in ("jobs", "net_migration", "flow__immigration", "centrality")] == [
        True, True, True, False]
