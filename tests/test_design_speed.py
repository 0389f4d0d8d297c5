"""The design's faster paths give the numbers of the straightforward computations.

References, computed in each test: :func:`geoattr.variables.labour_market_integration`
year by year (AMI), the growth columns of a design built alone on a fresh PanelData
(shared VRA), and DS on the rows in another order (DS). Equalities are exact except
where the order of a sum changes (DS on shuffled rows: 1e-12 relative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr import variables as V
from geoattr.exceptions import InputError
from geoattr.variables.design import _ami
from geoattr.variables.growth import commuting_weights


def test_ami_of_all_years_is_the_yearly_computation(toy_data):
    """One pass over every year equals labour_market_integration of each (substituted) year's flows."""
    yrs = list(range(2001, 2006))
    cw = commuting_weights(toy_data, yrs, commuting_year=2003)  # every year uses the 2003 flows
    got = _ami(toy_data, cw, yrs)
    for t in yrs:
        f = toy_data.flows[toy_data.flows["year"] == cw.substitutions.get(t, t)]
        ref = V.labour_market_integration(f, toy_data.units)
        part = got.xs(t, level="year")
        assert list(part.index) == list(toy_data.units)
        np.testing.assert_array_equal(part.to_numpy(), ref.to_numpy())
    assert got.name == "ami" and got.index.names == ["unit", "year"]


def test_specifications_share_vra_and_match_a_fresh_build(synthetic_data):
    """2019 after 2022 reuses VRA (one cached part); its regressors equal a build on fresh data."""
    fresh = synthetic_data.replace()  # a copy without the cache of other tests' designs
    fresh._cache.clear()
    V.build_design(fresh, "2022")
    b = V.build_design(fresh, "2019")
    assert len([k for k in fresh._cache if k[:2] == ("growth part", "vra")]) == 1
    alone = synthetic_data.replace()
    alone._cache.clear()
    pd.testing.assert_frame_equal(b.X, V.build_design(alone, "2019").X, check_exact=True)
    c = V.build_design(fresh, "2018")  # ra, nv and ami: other parts, the weights converted once
    pd.testing.assert_frame_equal(c.X, V.build_design(alone, "2018").X, check_exact=True)


def _ds_inputs(data):
    return data.population_by_age, data.column("jobs"), data.employment_rates, data.death_probabilities


def test_ds_on_rows_in_another_order(synthetic_data):
    pa, jobs, e, q = _ds_inputs(synthetic_data)
    years = [2005, 2006]
    ref = V.demographic_supply(pa, jobs, e, q, years=years)
    shuffled = pa.sample(frac=1.0, random_state=3)
    got = V.demographic_supply(shuffled, jobs, e, q, years=years)
    pd.testing.assert_index_equal(got.index, ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12, atol=1e-12)


def test_ds_counts_distinct_ages_not_rows(synthetic_data):
    """A repeated row does not make up for a missing age, in sorted or shuffled tables."""
    pa, jobs, e, q = _ds_inputs(synthetic_data)
    pa = pa[pa["year"] == 2005]
    unit = pa["unit"].iloc[0]
    gone = (pa["unit"] == unit) & (pa["sex"] == "male") & (pa["age"] == 40)
    repeated = pa[(pa["unit"] == unit) & (pa["sex"] == "male") & (pa["age"] == 41)]
    broken = pd.concat([pa[~gone], repeated]).sort_values(["unit", "year", "sex", "age"], kind="stable")
    for table in (broken, broken.sample(frac=1.0, random_state=1)):
        with pytest.raises(InputError, match=rf"lacks some ages 14-74 for 1 \(unit, year, sex\) group\(s\): "
                                             rf"\('{unit}', 2005, 'male'\)"):
            V.demographic_supply(table, jobs, e, q)


def test_sum_by_is_pandas_groupby():
    """geoattr.data.grouping.sum_by equals groupby(...).sum() exactly: unsorted rows, float values,
    missing keys and labels without a new one (rows dropped), relabelled keys."""
    from geoattr.data.grouping import sum_by

    rng = np.random.default_rng(5)
    n = 5000
    frame = pd.DataFrame({
        "unit": pd.array(rng.choice(["b", "a", "c", "d", None], n), dtype="str"),
        "year": rng.integers(2000, 2004, n),
        "sex": rng.choice(np.array(["male", "female"], dtype=object), n),
        "value": rng.normal(size=n) * 1e3,
    })
    mapping = pd.Series({"a": "R2", "b": "R1", "c": "R2"})  # "d" has no region: its rows are dropped
    ref = frame.assign(unit=frame["unit"].map(mapping)).groupby(["unit", "year", "sex"], as_index=False)["value"].sum()
    got = sum_by(frame, ["unit", "year", "sex"], "value", relabel={"unit": mapping})
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    plain = frame.groupby(["year", "sex"], as_index=False)["value"].sum()
    pd.testing.assert_frame_equal(sum_by(frame, ["year", "sex"], "value"), plain, check_exact=True)


def test_combined_codes_order_rows_as_their_keys_and_refuse_overflow():
    """Hand-checked: keys (a, b) with 2 and 3 codes give a * 3 + b, the tuples' sorted order."""
    from geoattr.data.grouping import combined_codes

    a, b = np.array([1, 0, 1, 0]), np.array([0, 2, 2, 1])
    np.testing.assert_array_equal(combined_codes([a, b], [2, 3]), [3, 2, 5, 1])
    assert combined_codes([a, b], [2**31, 2**31]) is None  # 2^62 combinations: no room in int64


def test_group_runs_by_hand():
    """Rows grouped by code (missing codes left out), ordered within a group by ``within``; checked by hand."""
    from geoattr.data.grouping import group_runs

    codes = np.array([1, 0, -1, 1, 0, 1])
    order, starts = group_runs(codes, 3)
    assert order.tolist() == [1, 4, 0, 3, 5] and starts == [0, 2, 5, 5]  # group 2 is empty
    order, starts = group_runs(codes, 2, within=np.array([9, 2, 0, 1, 1, 9]))
    # group 0: rows 1 (2), 4 (1) -> 4, 1; group 1: rows 0 (9), 3 (1), 5 (9) -> 3, 0, 5 (ties stay in row order)
    assert order.tolist() == [4, 1, 3, 0, 5] and starts == [0, 2, 5]
