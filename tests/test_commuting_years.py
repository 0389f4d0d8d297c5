"""commuting_by_year checks and normalises the rows of all its years at once (a speed-up of the demo):
the weights must be exactly those of one commuting() call per year, and bad rows keep the
per-year errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr import weights as gw
from geoattr.exceptions import InputError, IsolatesWarning


def _flows(seed: int = 3) -> pd.DataFrame:
    """Random flows among 8 units over 4 years, with zero counts."""
    rng = np.random.default_rng(seed)
    units = [f"{k:04d}" for k in range(1, 9)]
    rows = [(y, o, d, int(rng.integers(0, 40))) for y in range(2001, 2005) for o in units for d in units
            if rng.random() < 0.6 or o == d]
    f = pd.DataFrame(rows, columns=["year", "origin", "destination", "count"])
    return f.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # years interleaved


@pytest.mark.filterwarnings("ignore::geoattr.exceptions.IsolatesWarning")  # unit 0009 of ids has no flows
@pytest.mark.parametrize("opts", [{}, {"min_share": 0.1}, {"top_k": 3}, {"include_diagonal": False},
                                  {"ids": [f"{k:04d}" for k in range(9, 0, -1)], "top_k": 2, "min_share": 0.05}])
def test_by_year_equals_one_commuting_call_per_year(opts):
    f = _flows()
    cw = gw.commuting_by_year(f, [2000, 2001, 2002, 2003, 2004, 2006], **opts)
    assert cw.substitutions == {2000: 2001, 2006: 2004}
    for y in range(2001, 2005):
        ref = gw.commuting(f, year=y, **opts)
        assert list(cw[y].unique_ids) == list(ref.unique_ids)
        pd.testing.assert_series_equal(cw[y].adjacency, ref.adjacency, check_exact=True)  # bit for bit


def test_bad_rows_of_a_requested_year_give_the_one_year_error():
    f = _flows()
    f.loc[f.index[f["year"] == 2003][:2], "count"] = -1.0
    with pytest.raises(InputError, match=r"negative") as by_year:
        gw.commuting_by_year(f, [2002, 2003])
    with pytest.raises(InputError) as one:
        gw.commuting(f, year=2003)
    assert str(by_year.value) == str(one.value)  # rows numbered within the year, as before
    gw.commuting_by_year(f, [2001, 2002])  # the bad rows are in a year not asked for: no error


def test_duplicate_pairs_are_refused_per_year_not_across_years():
    f = _flows()
    dup = pd.concat([f, f[f["year"] == 2002].head(1)], ignore_index=True)
    with pytest.raises(InputError, match=r"duplicate key\(s\) \(origin, destination\)"):
        gw.commuting_by_year(dup, [2001, 2002])
    assert len(gw.commuting_by_year(f, [2001, 2002])) == 2  # the same pair in two years is no duplicate


def test_prepared_memo_shared_across_options_gives_the_same_weights():
    f = _flows()
    memo: dict = {}
    for opts in ({}, {"top_k": 2}, {"min_share": 0.1, "include_diagonal": False}):
        with_memo = gw.commuting_by_year(f, [2001, 2002, 2003], prepared=memo, **opts)
        without = gw.commuting_by_year(f, [2001, 2002, 2003], **opts)
        for y in (2001, 2002, 2003):
            pd.testing.assert_series_equal(with_memo[y].adjacency, without[y].adjacency, check_exact=True)
    assert len(memo) == 1  # the checked rows of every year, prepared once
    bad = f.copy()
    bad.loc[bad.index[bad["year"] == 2004][:1], "count"] = -1.0  # a year not asked for
    memo = {}
    gw.commuting_by_year(bad, [2001, 2002], prepared=memo)  # every-year rows fail; the asked years' rows are used
    assert list(memo.values()) == [None]


@pytest.mark.filterwarnings("ignore::geoattr.exceptions.IsolatesWarning")  # unit 0009 of ids has no flows
@pytest.mark.parametrize("opts", [{}, {"top_k": 3, "include_diagonal": False},
                                  {"ids": [f"{k:04d}" for k in range(9, 0, -1)], "min_share": 0.05}])
@pytest.mark.parametrize("years", [[2000, 2001, 2002, 2003, 2004], [2003]])  # the one-year path too
def test_as_graph_false_gives_the_graphs_matrices_without_building_them(opts, years):
    """``as_graph=False`` returns the SparseWeights the Graphs are made of: on the Graph's ids,
    the same matrix bit for bit (what the designs read through ``as_sparse``)."""
    f = _flows()
    graphs = gw.commuting_by_year(f, years, **opts)
    sparse = gw.commuting_by_year(f, years, as_graph=False, **opts)
    assert sparse.substitutions == graphs.substitutions
    for y in years:
        assert isinstance(sparse[y], gw.SparseWeights)
        ids = pd.Index(graphs[y].unique_ids)
        assert list(sparse[y].ids) == list(ids)
        ref = gw.as_sparse(graphs[y], ids)
        assert (gw.as_sparse(sparse[y], ids) != ref).nnz == 0
        np.testing.assert_array_equal(gw.as_sparse(sparse[y], ids).indices, ref.indices)


def test_as_graph_must_be_a_bool():
    with pytest.raises(ValueError, match=r"as_graph must be True \(a libpysal Graph\) or False \(SparseWeights\), got 'no'"):
        gw.commuting_by_year(_flows(), [2001], as_graph="no")


def test_isolates_warning_points_at_the_caller_of_commuting():
    f = _flows()
    with pytest.warns(IsolatesWarning, match=r"1 unit\(s\) have no commuting flows") as rec:
        gw.commuting(f, year=2001, ids=[f"{k:04d}" for k in range(1, 10)])
    assert rec[0].filename == __file__
