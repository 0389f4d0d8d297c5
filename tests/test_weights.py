"""Weights builders: hand-computed shares, invariants, ids, isolates, bad input."""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from shapely.geometry import box

from geoattr import weights as gw
from geoattr.exceptions import GeographicCRSWarning, InputError, IsolatesWarning
from tests.conftest import toy_flows


def _dense(g, ids):
    return gw.as_sparse(g, pd.Index(ids)).toarray()


def test_commuting_shares_by_hand():
    g = gw.commuting(toy_flows(), year=2001)
    W = _dense(g, ["0101", "0102", "0103"])
    np.testing.assert_allclose(W, [[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.5, 0.0, 0.5]], rtol=1e-12)
    assert list(g.unique_ids) == ["0101", "0102", "0103"]


def test_rows_sum_to_one_and_options_renormalise():
    f = pd.DataFrame({"origin": ["a"] * 4 + ["b"] * 2, "destination": ["a", "b", "c", "d", "b", "a"],
                      "count": [50, 30, 15, 5, 90, 10]})
    with pytest.warns(IsolatesWarning, match=r"2 unit\(s\) have no commuting flows"):  # c, d: no residents
        W = _dense(gw.commuting(f), ["a", "b", "c", "d"])
    np.testing.assert_allclose(W[:2].sum(axis=1), 1.0)
    # min_share 0.1 drops a->d (0.05) and renormalises: 50/95, 30/95, 15/95
    with pytest.warns(IsolatesWarning):
        W2 = _dense(gw.commuting(f, min_share=0.1), ["a", "b", "c", "d"])
    np.testing.assert_allclose(W2[0], [50 / 95, 30 / 95, 15 / 95, 0], rtol=1e-12)
    # top_k 2 keeps a and b: 50/80, 30/80
    with pytest.warns(IsolatesWarning):
        W3 = _dense(gw.commuting(f, top_k=2), ["a", "b", "c", "d"])
    np.testing.assert_allclose(W3[0], [50 / 80, 30 / 80, 0, 0], rtol=1e-12)
    # no diagonal: a -> (30, 15, 5)/50, b -> a only
    with pytest.warns(IsolatesWarning):
        W4 = _dense(gw.commuting(f, include_diagonal=False), ["a", "b", "c", "d"])
    np.testing.assert_allclose(W4[0], [0, 0.6, 0.3, 0.1], rtol=1e-12)
    np.testing.assert_allclose(W4[1], [1, 0, 0, 0], rtol=1e-12)


def test_isolates_kept_with_warning():
    f = pd.DataFrame({"origin": ["a", "a"], "destination": ["a", "b"], "count": [5, 5]})
    with pytest.warns(IsolatesWarning, match=r"1 unit\(s\) have no commuting flows .*'b'"):
        g = gw.commuting(f, ids=["a", "b"])
    assert list(g.isolates) == ["b"]
    assert list(g.unique_ids) == ["a", "b"]


def test_commuting_bad_input():
    f = toy_flows()
    with pytest.raises(InputError, match=r"several years .* pass year="):
        gw.commuting(f)
    with pytest.raises(InputError, match=r"1 id\(s\) in the flows are not among ids: '0103'"):
        gw.commuting(f, year=2001, ids=["0101", "0102"])
    bad = f.copy()
    bad.loc[1, "count"] = -3
    with pytest.raises(InputError, match=r"negative value\(s\) -3"):
        gw.commuting(bad, year=2000)
    dup = pd.concat([f, f.iloc[[0]]])
    with pytest.raises(InputError, match=r"duplicate key\(s\).*'0101', '0101'"):
        gw.commuting(dup, year=2000)
    with pytest.raises(InputError, match=r"lacks column\(s\) 'n'.*value="):
        gw.commuting(f, year=2000, value="n")


def test_inputs_untouched_and_shuffle_invariant():
    f = toy_flows()
    f0 = copy.deepcopy(f)
    g1 = gw.commuting(f, year=2002)
    pd.testing.assert_frame_equal(f, f0)
    g2 = gw.commuting(f.sample(frac=1, random_state=3), year=2002)
    assert g1.equals(g2)


def test_commuting_by_year_substitution():
    f = toy_flows()
    f = f[f.year.isin([2001, 2003])]
    cw = gw.commuting_by_year(f, [2000, 2001, 2002, 2003, 2004])
    # 2000 -> 2001 (nearest), 2002 -> 2001 (tie: earlier), 2004 -> 2003
    assert cw.substitutions == {2000: 2001, 2002: 2001, 2004: 2003}
    assert cw[2002] is cw[2001]
    fixed = gw.commuting_by_year(f, [2001, 2002], fixed_year=2003)
    assert fixed.substitutions == {2001: 2003, 2002: 2003}
    with pytest.raises(InputError, match=r"fixed_year 1999 has no commuting matrix; available years: \[2001, 2003\]"):
        gw.commuting_by_year(f, [2001], fixed_year=1999)


def test_without_diagonal_renormalises():
    g = gw.commuting(toy_flows(), year=2003)  # 0101 works only locally in 2003
    off = gw.without_diagonal(g)
    W = _dense(off, ["0101", "0102", "0103"])
    np.testing.assert_allclose(W, [[0, 0, 0], [1, 0, 0], [1, 0, 0]], rtol=1e-12)
    assert "0101" in list(off.isolates)


def _squares():
    # 2 x 2 block of squares plus a far island: a b / c d, e island
    geoms = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2), box(10, 10, 11, 11)]
    return gpd.GeoDataFrame(geometry=geoms, index=pd.Index(["a", "b", "c", "d", "e"], name="unit"), crs="EPSG:25833")


def test_contiguity_queen_rook_and_island():
    with pytest.warns(IsolatesWarning, match=r"1 unit\(s\) have no neighbours .*'e'"):
        q = gw.contiguity(_squares())
    with pytest.warns(IsolatesWarning):
        r = gw.contiguity(_squares(), rook=True)
    assert set(q.neighbors["a"]) == {"b", "c", "d"}  # queen: the corner d too
    assert set(r.neighbors["a"]) == {"b", "c"}
    assert list(q.isolates) == ["e"]


def test_knn_and_distance_band_by_hand():
    k = gw.knn(_squares(), 1)
    assert list(k.neighbors["e"]) == ["d"]
    with pytest.warns(IsolatesWarning):
        d = gw.distance_band(_squares(), 1.0)
    assert set(d.neighbors["a"]) == {"b", "c"}  # centroids 1 apart; the diagonal is sqrt(2)
    with pytest.raises(InputError, match="k must be between 1"):
        gw.knn(_squares(), 5)


def test_distance_builders_crs_checks():
    geo = _squares().set_crs("EPSG:4326", allow_override=True)
    with pytest.warns(GeographicCRSWarning, match="use to_crs"):
        gw.knn(geo, 2)
    with pytest.raises(InputError, match="no CRS"):
        gw.knn(_squares().set_crs(None, allow_override=True), 2)


def test_align():
    g = Graph.from_arrays(["a", "b", "c"], ["b", "c", "a"], [1.0, 1.0, 1.0])
    sub = gw.align(g, ["c", "a"])
    assert list(sub.unique_ids) == ["c", "a"]
    with pytest.raises(InputError, match=r"1 id\(s\) are not in the weights: 'z'"):
        gw.align(g, ["a", "z"])


def test_as_sparse_returns_a_copy():
    g = gw.commuting(toy_flows(), year=2001)
    m = gw.as_sparse(g, g.unique_ids)
    m.data[:] = 0.0
    assert g.sparse.sum() == pytest.approx(3.0)  # the graph's own weights are untouched


def test_as_sparse_is_square_without_the_diagonal(synthetic_data):
    """Regression: libpysal's Graph.sparse sizes its columns by the ids that occur as neighbours, so
    commuting weights without the diagonal (some units are nobody's destination) came out 356 x 304.
    Reference: the same matrix as Graph.sparse wherever that one is square (exact equality)."""
    data = synthetic_data
    full = gw.commuting(data.flows, year=2010, ids=data.units)
    from geoattr.exceptions import IsolatesWarning

    with pytest.warns(IsolatesWarning, match=r"unit\(s\) have no commuting flows and are kept as isolates"):
        off = gw.commuting(data.flows, year=2010, ids=data.units, include_diagonal=False)
    m = gw.as_sparse(off, data.units)
    assert m.shape == (len(data.units), len(data.units))
    assert m.diagonal().max() == 0
    nobody = np.flatnonzero(np.asarray(m.sum(axis=0)).ravel() == 0)
    assert len(nobody) > 0  # the case that broke: units that are nobody's destination
    ref = full.sparse.tocsr()
    assert ref.shape == (len(data.units),) * 2
    assert abs(gw.as_sparse(full, full.unique_ids) - ref).max() == 0
    perm = list(reversed(data.units))
    p = pd.Index(full.unique_ids).get_indexer(perm)
    assert abs(gw.as_sparse(full, perm) - ref[p][:, p]).max() == 0


def test_commuting_by_year_memo_reuses_the_matrices():
    """``built=`` keeps the matrix of each source year: a second call over another range of years
    reuses the objects already built and builds only the new years; the weights equal those built
    without the memo (exact equality: the same computation)."""
    memo: dict = {}
    first = gw.commuting_by_year(toy_flows(), [2001, 2002, 2003], built=memo)
    assert sorted(memo) == [2001, 2002, 2003]
    second = gw.commuting_by_year(toy_flows(), [2003, 2004], built=memo)
    assert second[2003] is first[2003]
    assert sorted(memo) == [2001, 2002, 2003, 2004]
    plain = gw.commuting_by_year(toy_flows(), [2003, 2004])
    for y in (2003, 2004):
        assert abs(second[y].sparse - plain[y].sparse).max() == 0
