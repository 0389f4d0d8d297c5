"""Large-data paths: commuting weights from OD files (DuckDB, Dask, pandas), sparse VRA, errors.

Every engine must give *the same* weights as the pandas builder
:func:`geoattr.weights.commuting` run on the unit-level table aggregated by hand with
pandas (tolerance 1e-12 on the shares, identical sparsity pattern), with and without
the options (min_share, top_k, diagonal), through the dense numpy id mapping and the
DuckDB hash join, from Parquet and CSV.  Data are small (seconds in total).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from geoattr import variables as V
from geoattr import weights as gw
from geoattr.datasets.large import gravity_jobs, od_files, write_gravity_od
from geoattr.exceptions import DroppedRowsWarning, InputError, IsolatesWarning
from geoattr.io.od import aggregate_od, parse_bytes
from geoattr.io.od.lookup import dense_lookup, prepare_lookup
from geoattr.variables import relative_job_growth_array, vra_sparse
from geoattr.weights import SparseWeights, commuting_by_year_from_files, commuting_from_files

TOL = 1e-12
OPTIONS = [
    {},
    {"min_share": 0.04},
    {"top_k": 3},
    {"include_diagonal": False},
    {"min_share": 0.02, "top_k": 4, "include_diagonal": False},
]


# ----------------------------------------------------------------------------- helpers
def graph_csr(g, ids: pd.Index) -> sparse.csr_matrix:
    """A Graph's weights as CSR over ``ids``, from its adjacency (``Graph.sparse`` drops
    trailing columns of units that are nobody's neighbour, e.g. after min_share)."""
    adj = g.adjacency
    f = ids.get_indexer(adj.index.get_level_values("focal"))
    n = ids.get_indexer(adj.index.get_level_values("neighbor"))
    assert (f >= 0).all() and (n >= 0).all()
    m = sparse.csr_matrix((adj.to_numpy(), (f, n)), shape=(len(ids), len(ids)))
    m.eliminate_zeros()
    return m


def assert_same(cm: SparseWeights, ref, ids: pd.Index | None = None) -> None:
    """Same ids (order included), same pattern, shares equal to 1e-12."""
    ids = pd.Index(ref.unique_ids) if ids is None else ids
    assert list(cm.ids) == list(ids)
    A, R = gw.as_sparse(cm, ids), graph_csr(ref, ids)
    A.eliminate_zeros()
    assert A.nnz == R.nnz > 0
    assert (abs(A - R) > 0).nnz == 0 or abs(A - R).max() <= TOL
    assert ((A != 0) != (R != 0)).nnz == 0


def aggregate_by_hand(df: pd.DataFrame, lookup: pd.DataFrame) -> pd.DataFrame:
    """The reference aggregation: pandas merges and a group-by."""
    lk = lookup.set_index("fine")["unit"]
    out = df.assign(origin=df["origin"].map(lk).to_numpy(), destination=df["destination"].map(lk).to_numpy())
    assert out["origin"].notna().all() and out["destination"].notna().all()
    keys = ["year", "origin", "destination"] if "year" in df.columns else ["origin", "destination"]
    return out.groupby(keys, as_index=False)["count"].sum()


@pytest.fixture(scope="module")
def od(tmp_path_factory):
    """Small gravity OD table between fine zones, two years, several files per year."""
    path = tmp_path_factory.mktemp("od")
    lookup = write_gravity_od(path, n_fine=3000, n_units=300, rows=30000, seed=7, chunk_rows=8000,
                              years=(2019, 2020))
    raw = pd.read_parquet(od_files(path))
    return path / "od", lookup, raw, aggregate_by_hand(raw, lookup)


@pytest.fixture(scope="module")
def sparse_ids_od(tmp_path_factory, od):
    """The same table with fine ids spread out (no dense array: the DuckDB hash join path)."""
    path, lookup, raw, agg = od
    spread = lambda s: (s - 10**10) * 1_000_003 + 5  # noqa: E731
    out = tmp_path_factory.mktemp("od_sparse")
    r2 = raw.assign(origin=spread(raw["origin"]), destination=spread(raw["destination"]))
    for i, rows in enumerate(np.array_split(np.arange(len(r2)), 3)):
        r2.iloc[rows].to_parquet(out / f"part{i}.parquet", index=False)
    lk2 = lookup.assign(fine=spread(lookup["fine"]))
    assert dense_lookup(prepare_lookup(lk2, fine="fine", unit="unit", kind="int"), "int") is None
    return out, lk2, agg


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c, \
            distributed.Client(c) as client:
        yield client


# ----------------------------------------------------------------------------- equality with the pandas builder
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain")
@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_engines_equal_pandas_builder(od, engine, opts):
    path, lookup, _, agg = od
    ref = gw.commuting(agg, year=2020, **opts)
    cm = commuting_from_files(str(path / "od_*.parquet"), lookup=lookup, year=2020, engine=engine,
                                as_graph=False, **opts)
    assert_same(cm, ref)
    # rows sum to 1 (no isolates here)
    np.testing.assert_allclose(np.asarray(cm.matrix.sum(axis=1)).ravel(), 1.0, atol=TOL)
    assert cm.account.read == 30000 and cm.account.used == 30000


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_hash_join_path_equals_builder(sparse_ids_od, engine):
    path, lookup, agg = sparse_ids_od
    for opts in OPTIONS[:3]:
        ref = gw.commuting(agg, year=2019, **opts)
        cm = commuting_from_files(path, lookup=lookup, year=2019, engine=engine, as_graph=False, **opts)
        assert_same(cm, ref)


def test_dask_on_local_cluster(od, dask_client):
    path, lookup, _, agg = od
    opts = {"min_share": 0.02, "top_k": 5}
    ref = gw.commuting(agg, year=2019, **opts)
    cm = commuting_from_files(sorted(path.glob("od_2019_*.parquet")), lookup=lookup, year=2019, engine="dask",
                                client=dask_client, as_graph=False, **opts)
    assert_same(cm, ref)
    # the active client is used when client= is not given
    cm2 = commuting_from_files(sorted(path.glob("od_2019_*.parquet")), lookup=lookup, year=2019, engine="dask", as_graph=False,
                                 **opts)
    assert (cm2.matrix != cm.matrix).nnz == 0


def test_graph_output_equals_builder_graph(od):
    path, lookup, _, agg = od
    ref = gw.commuting(agg, year=2020, top_k=4)
    g = commuting_from_files(path, lookup=lookup, year=2020, top_k=4)  # as_graph=True (the default): a Graph
    assert type(g).__name__ == "Graph"
    assert list(g.unique_ids) == list(ref.unique_ids)
    pd.testing.assert_index_equal(g.adjacency.index, ref.adjacency.index)
    np.testing.assert_allclose(g.adjacency.to_numpy(), ref.adjacency.to_numpy(), rtol=0, atol=TOL)
    assert g.transformation == ref.transformation == "r"


def test_no_lookup_csv_text_ids_and_isolates(tmp_path, synthetic):
    """Municipal codes with leading zeros from split CSV files (one with ';'), ids= with a unit without flows."""
    flows = synthetic.flows
    f = flows[flows["year"] == 2015]
    shuffled = f.sample(frac=1.0, random_state=1)
    for i, rows in enumerate(np.array_split(np.arange(len(shuffled)), 3)):
        shuffled.iloc[rows].to_csv(tmp_path / f"f{i}.csv", index=False, sep=";" if i == 1 else ",")
    units = sorted(set(f["origin"]) | set(f["destination"]))
    assert units[0].startswith("0")
    ids = ["9999", *units]
    with pytest.warns(IsolatesWarning, match=r"1 unit\(s\) have no commuting flows .*'9999'"):
        ref = gw.commuting(f, year=2015, ids=ids, min_share=0.01)
    for engine in ("duckdb", "pandas", "dask"):
        with pytest.warns(IsolatesWarning, match=r"1 unit\(s\) have no commuting flows .*'9999'"):
            cm = commuting_from_files(str(tmp_path / "*.csv"), ids=ids, min_share=0.01, engine=engine,
                                        as_graph=False)
        assert_same(cm, ref, pd.Index(ids))
        assert list(cm.isolates) == ["9999"]
        assert cm.account.read == len(f)


def test_region_aggregation_through_lookup_equals_region_flows(tmp_path, synthetic):
    """Municipality -> region through a lookup: the region x region matrix of MODEL.md."""
    f = synthetic.flows[synthetic.flows["year"].isin([2010, 2011])]
    f.to_parquet(tmp_path / "flows.parquet", index=False)
    regions = synthetic.regions
    lookup = pd.Series(regions.to_numpy(), index=regions.index)  # a Series fine -> unit
    agg = f.assign(origin=f["origin"].map(regions), destination=f["destination"].map(regions)).groupby(
        ["year", "origin", "destination"], as_index=False)["count"].sum()
    ref = gw.commuting(agg, year=2011)
    cm = commuting_from_files(tmp_path / "flows.parquet", lookup=lookup, year=2011, as_graph=False)
    assert_same(cm, ref)
    assert cm.n_units == regions.nunique()


def test_by_year_one_pass_equals_commuting_by_year(od):
    path, lookup, _, agg = od
    ref = gw.commuting_by_year(agg, [2018, 2019, 2020, 2021], top_k=5)
    cw = commuting_by_year_from_files(path, [2018, 2019, 2020, 2021], lookup=lookup, top_k=5, as_graph=False)
    assert cw.substitutions == ref.substitutions == {2018: 2019, 2021: 2020}
    for y in (2018, 2019, 2020, 2021):
        assert_same(cw[y], ref[y])
    assert cw[2018] is cw[2019]
    fixed = commuting_by_year_from_files(path, [2019, 2020], fixed_year=2020, lookup=lookup, as_graph=False)
    assert fixed.substitutions == {2019: 2020}
    assert fixed[2019].account.read == 30000


def test_aggregate_od_equals_pandas_groupby(od):
    path, lookup, _, agg = od
    res = aggregate_od(path, lookup=lookup, engine="duckdb")
    exp = agg.assign(origin=agg["origin"].astype(str), destination=agg["destination"].astype(str)).sort_values(
        ["year", "origin", "destination"], ignore_index=True)
    got = res.flows.sort_values(["year", "origin", "destination"], ignore_index=True)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)
    assert sorted(res.accounts) == [2019, 2020]


def test_inputs_not_mutated(od):
    path, lookup, _, _ = od
    before = lookup.copy()
    commuting_from_files(path, lookup=lookup, year=2020, as_graph=False, engine="pandas")
    pd.testing.assert_frame_equal(lookup, before)


# ----------------------------------------------------------------------------- accounting and dropped rows
@pytest.fixture
def dirty(tmp_path, od):
    """A copy of the 2020 table with a NaN, a negative, a null id, a zero count and an unknown fine id."""
    _, lookup, raw, _ = od
    df = raw[raw["year"] == 2020].reset_index(drop=True)
    df = df.assign(origin=df["origin"].astype("Int64"), count=df["count"].astype(float))
    df.loc[0, "count"] = np.nan
    df.loc[1, "count"] = -3.0
    df.loc[2, "origin"] = pd.NA
    df.loc[3, "count"] = 0.0
    df.loc[4, "destination"] = 12345
    df.iloc[:2000].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[2000:].to_parquet(tmp_path / "b.parquet", index=False)
    clean = df.drop(index=[0, 1, 2, 4])
    clean = clean.assign(origin=clean["origin"].astype(np.int64))
    return tmp_path, lookup, aggregate_by_hand(clean, lookup)


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_invalid_rows_raise_naming_examples(dirty, engine):
    path, lookup, _ = dirty
    with pytest.raises(InputError, match=r"1 row\(s\) with a missing origin or destination id, e\.g\. \(missing -> \d{11}: 1 in a\.parquet\).*"
                                         r"1 row\(s\) with a missing count \(null or NaN\).*"
                                         r"1 row\(s\) with a negative count, e\.g\. \(\d{11} -> \d{11}: -3 in a\.parquet\)"
                                         r".*on_invalid='drop'"):
        commuting_from_files(path, lookup=lookup, engine=engine, on_unknown="drop")


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_unknown_fine_ids_raise_naming_them(dirty, engine):
    path, lookup, _ = dirty
    with pytest.raises(InputError, match=r"1 row\(s\) name 1 fine id\(s\) that are not in the lookup: 12345; "
                                         r"add the fine ids to the lookup"):
        commuting_from_files(path, lookup=lookup, engine=engine, on_invalid="drop")


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "dask"])
def test_dropped_rows_warned_counted_and_result_clean(dirty, engine):
    path, lookup, agg = dirty
    with pytest.warns(DroppedRowsWarning) as rec:
        cm = commuting_from_files(path, lookup=lookup, engine=engine, on_invalid="drop", on_unknown="drop",
                                    as_graph=False)
    text = " | ".join(str(w.message) for w in rec)
    assert "on_invalid='drop'" in text and "on_unknown='drop'" in text and "12345" in text
    acc = cm.account
    assert acc.read == 30000
    assert acc.dropped == {"missing origin or destination id": 1, "missing count (null or NaN)": 1,
                           "negative count": 1, "fine id not in the lookup": 1, "zero count": 1}
    assert acc.used == 30000 - 5
    assert_same(cm, gw.commuting(agg, year=2020))


def test_zero_counts_keep_their_units_like_the_builder(tmp_path):
    df = pd.DataFrame({"origin": ["a", "a", "b", "c"], "destination": ["a", "b", "b", "a"], "count": [3, 1, 2, 0]})
    df.to_parquet(tmp_path / "z.parquet", index=False)
    with pytest.warns(IsolatesWarning, match="'c'"):
        ref = gw.commuting(df)
    with pytest.warns(IsolatesWarning, match="'c'"):
        cm = commuting_from_files(tmp_path / "z.parquet", as_graph=False)
    assert_same(cm, ref)
    assert list(cm.isolates) == ["c"] and cm.account.dropped == {"zero count": 1}


# ----------------------------------------------------------------------------- errors with advice
def test_pandas_engine_refuses_input_larger_than_memory(od):
    path, lookup, _, _ = od
    with pytest.raises(InputError, match=r"60,000 rows in 8 file\(s\)\) needs ~.* in memory with engine='pandas', "
                                         r"more than the 1\.0 kB allowed by memory_limit: use engine='duckdb' "
                                         r"\(single machine, out of core\) or engine='dask' \(cluster\)"):
        commuting_from_files(path, lookup=lookup, year=2020, engine="pandas", memory_limit="1KB")


def test_duckdb_out_of_memory_reraised_with_advice(od):
    path, _, _, _ = od
    with pytest.raises(InputError, match=r"DuckDB ran out of memory \(memory_limit=2\.0 MB\): raise memory_limit=.*"
                                         r"temp_directory=.*engine='dask'"):
        commuting_from_files(path, year=2020, memory_limit="2MB", temp_directory="", threads=1)


def test_too_many_edges_for_a_graph(od):
    path, lookup, _, _ = od
    with pytest.raises(InputError, match=r"too many for a libpysal Graph \(limit max_edges=100.*pass as_graph=False"):
        commuting_from_files(path, lookup=lookup, year=2020, as_graph=True, graph_max_edges=100)
    cm = commuting_from_files(path, lookup=lookup, year=2020, graph_max_edges=100, as_graph=False)  # any size
    assert isinstance(cm, SparseWeights) and cm.nnz > 100
    with pytest.raises(InputError, match="pass as_graph=False"):
        cm.to_graph(max_edges=100)


def test_input_errors(od, tmp_path):
    path, lookup, _, _ = od
    with pytest.raises(InputError, match=r"several years \[2019, 2020\]; pass year="):
        commuting_from_files(path, lookup=lookup)
    with pytest.raises(InputError, match="year 2017 is not in the OD files"):
        commuting_from_files(path, lookup=lookup, year=2017)
    with pytest.raises(InputError, match=r"lack column\(s\) \['flow'\].*value='<column>'"):
        commuting_from_files(path, lookup=lookup, value="flow")
    with pytest.raises(InputError, match="no files match"):
        commuting_from_files(str(tmp_path / "nothing*.parquet"))
    bad = pd.concat([lookup, pd.DataFrame({"fine": [lookup["fine"].iloc[0]], "unit": [lookup["unit"].iloc[0] + 1]})])
    with pytest.raises(InputError, match=r"maps 1 fine id\(s\) to more than one unit"):
        commuting_from_files(path, lookup=bad, year=2020)
    with pytest.raises(InputError, match=r"lookup's 'fine' has 1 value\(s\) that are not integers: 'x'"):
        commuting_from_files(path, lookup=pd.DataFrame({"fine": ["x"], "unit": [1]}), year=2020)
    with pytest.raises(ValueError, match="engine must be one of"):
        commuting_from_files(path, engine="spark")
    with pytest.raises(InputError, match=r"1 id\(s\) in the flows are not among ids"):
        commuting_from_files(path, lookup=lookup, year=2020, ids=[str(u) for u in range(1, 300)])


# ----------------------------------------------------------------------------- sparse VRA and models
def test_relative_job_growth_array_equals_variables(synthetic_data):
    jobs = synthetic_data.column("jobs").dropna()
    wide = jobs.unstack("year").sort_index(axis=1)
    assert wide.shape[1] > 20
    ra = relative_job_growth_array(wide.to_numpy())
    ref = V.relative_job_growth(jobs).unstack("year").reindex(index=wide.index, columns=wide.columns)
    np.testing.assert_allclose(ra, ref.to_numpy(), rtol=0, atol=1e-10, equal_nan=True)
    assert np.isnan(ra[:, 0]).all() and not np.isnan(ra[:, 1:]).any()


def test_vra_sparse_pinned_to_weighted_growth(synthetic_data, tmp_path):
    """Year-specific weights built from Parquet files, VRA and lags equal the Graph/pandas path."""
    data = synthetic_data
    years = (2006, 2020)
    wyears = list(range(years[0] - 2, years[1] + 1))
    units = data.units
    jobs = data.column("jobs")
    jyears = list(range(years[0] - 3, years[1] + 1))
    ra = V.relative_job_growth(jobs[jobs.index.get_level_values("year").isin(jyears)])
    cw = V.commuting_weights(data, wyears)
    ref = V.weighted_growth(ra, cw, years=years)
    data.flows.to_parquet(tmp_path / "flows.parquet", index=False)
    cwf = commuting_by_year_from_files(tmp_path / "flows.parquet", wyears, ids=units, as_graph=False)
    E = jobs.unstack("year").reindex(index=units, columns=jyears).to_numpy()
    Ws = [cwf[y] if y in cwf else sparse.identity(len(units), format="csr") for y in jyears]
    got = vra_sparse(Ws, E)
    for k, name in enumerate(["vra", "vra_l1", "vra_l2"]):
        exp = ref[name].unstack("year").reindex(index=units, columns=list(range(years[0], years[1] + 1)))
        sl = slice(jyears.index(years[0]), None)
        np.testing.assert_allclose(got[name][:, sl], exp.to_numpy(), rtol=0, atol=1e-10)
        assert np.isnan(got[name][:, : 1 + k]).all()
    # one fixed matrix for all years (CSR in, SparseWeights in) = commuting_year=2010
    fixed = V.weighted_growth(ra, V.commuting_weights(data, wyears, commuting_year=2010), years=years)
    one = vra_sparse(cwf[2010], E)
    one_csr = vra_sparse(cwf[2010].matrix, E, lags=(1,))
    exp = fixed["vra_l1"].unstack("year").reindex(index=units).to_numpy()
    np.testing.assert_allclose(one["vra_l1"][:, 3:], exp, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(one_csr["vra_l1"], one["vra_l1"])


def test_vra_sparse_errors():
    W = sparse.identity(3, format="csr")
    with pytest.raises(InputError, match=r"W is 3 x 3 but jobs has 4 units"):
        vra_sparse(W, np.ones((4, 5)))
    with pytest.raises(InputError, match=r"2 weight matrices for 5 years"):
        vra_sparse([W, W], np.ones((3, 5)))
    with pytest.raises(InputError, match="N x T array"):
        vra_sparse(W, np.ones(3))


def test_commuting_matrix_in_spatial_lag_equals_graph(synthetic_data, tmp_path):
    """SparseWeights (sparse end to end) gives the same SAR fit as the libpysal Graph."""
    from geoattr.models.spatial import fit_spatial

    d = V.build_design(synthetic_data, "2019", years=(2015, 2018))
    f = synthetic_data.flows
    f[f["year"] == 2015].to_parquet(tmp_path / "f.parquet", index=False)
    cm = commuting_from_files(tmp_path / "f.parquet", ids=synthetic_data.units, as_graph=False)
    g = gw.without_diagonal(gw.commuting(f, year=2015, ids=synthetic_data.units))
    W = cm.without_diagonal()
    assert (abs(W.matrix - graph_csr(g, W.ids)) > TOL).nnz == 0
    a = fit_spatial(d.y, d.X, g, model="sar")
    b = fit_spatial(d.y, d.X, W, model="sar")
    pd.testing.assert_series_equal(a.params, b.params, rtol=1e-9)
    assert a.params["rho"] != 0


# ----------------------------------------------------------------------------- generator
def test_write_gravity_od_deterministic_unique_and_cached(tmp_path):
    lk = write_gravity_od(tmp_path, n_fine=500, n_units=50, rows=4000, seed=3, chunk_rows=1500, years=(2001, 2002))
    files = od_files(tmp_path)
    assert len(files) == 6 and len(od_files(tmp_path, year=2001)) == 3
    df = pd.read_parquet(files)
    assert len(df) == 8000 and not df.duplicated(["year", "origin", "destination"]).any()
    assert lk["fine"].is_unique and set(df["origin"]) | set(df["destination"]) <= set(lk["fine"])
    assert sorted(lk["unit"].unique()) == list(range(50))  # every unit has a fine zone
    assert (df["count"] >= 1).all()
    # a good share works in the home unit, most flows go to few destinations
    m = aggregate_by_hand(df, lk)
    diag = m.loc[m["origin"] == m["destination"], "count"].sum() / m["count"].sum()
    assert 0.4 < diag < 0.95
    mtimes = [Path(f).stat().st_mtime_ns for f in files]
    lk2 = write_gravity_od(tmp_path, n_fine=500, n_units=50, rows=4000, seed=3, chunk_rows=1500,
                           years=(2001, 2002))
    assert [Path(f).stat().st_mtime_ns for f in files] == mtimes  # cached, not rewritten
    pd.testing.assert_frame_equal(lk, lk2)
    other = tmp_path / "other"
    lk3 = write_gravity_od(other, n_fine=500, n_units=50, rows=4000, seed=3, chunk_rows=1500, years=(2001, 2002))
    pd.testing.assert_frame_equal(lk, lk3)
    pd.testing.assert_frame_equal(pd.read_parquet(od_files(other)), df)
    with pytest.raises(ValueError, match="n_fine"):
        write_gravity_od(tmp_path / "x", n_fine=5, n_units=10, rows=10)


def test_gravity_jobs_shape_and_positive():
    E = gravity_jobs(200, range(2000, 2010), seed=1)
    assert E.shape == (200, 10) and (E > 0).all()
    ra = relative_job_growth_array(E)
    assert abs(np.nanmean(ra[:, 1:])) < 1.0 and np.nanstd(ra[:, 1:]) > 1.0


def test_parse_bytes():
    assert parse_bytes("4GB") == 4 * 10**9
    assert parse_bytes("512MiB") == 512 * 2**20
    assert parse_bytes(1000) == 1000
    with pytest.raises(ValueError, match="memory_limit"):
        parse_bytes("lots")


def test_no_warning_on_clean_input(od):
    path, lookup, _, _ = od
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        commuting_from_files(path, lookup=lookup, year=2019, as_graph=False)


def test_sparse_weights_reorder_and_without_diagonal():
    m = sparse.csr_matrix(np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]]))
    cm = SparseWeights(matrix=m, ids=pd.Index(["a", "b", "c"]))
    r = gw.as_sparse(cm, ["c", "a", "b"]).toarray()
    np.testing.assert_array_equal(r, [[0.6, 0.2, 0.2], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(gw.as_sparse(SparseWeights.from_graph(cm.to_graph()), ["c", "a", "b"]).toarray(), r)
    with pytest.raises(InputError, match=r"1 only in the weights \('c'\), 1 only in the data \('x'\)"):
        gw.as_sparse(cm, ["a", "b", "x"])
    off = cm.without_diagonal()
    np.testing.assert_allclose(off.matrix.toarray(), [[0, 1, 0], [0, 0, 0], [0.5, 0.5, 0]])
    assert list(off.isolates) == ["b"] and cm.matrix[0, 0] == 0.5  # the original is untouched
    g = off.to_graph()
    assert list(g.isolates) == ["b"] and list(g.unique_ids) == ["a", "b", "c"]


def test_spatial_lag_beyond_exact_traces_states_its_trace_estimate():
    """Above EXACT_TRACE_MAX_N observations the SAR standard errors rest on a stochastic
    trace: the estimate still recovers the generator's truth (tolerance 5 standard errors)
    and the notes give the trace, its standard error and the effect on the SEs."""
    from scipy.sparse.linalg import spsolve

    from geoattr.models.ml import EXACT_TRACE_MAX_N
    from geoattr.models.spatial import fit_spatial

    n, k = EXACT_TRACE_MAX_N + 2_000, 4
    rng = np.random.default_rng(11)
    cols = (np.arange(n)[:, None] + rng.integers(1, 50, (n, k))) % n  # asymmetric neighbours
    m = sparse.csr_matrix((np.full(n * k, 1 / k), cols.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    ids = pd.Index([f"u{i}" for i in range(n)])
    W = SparseWeights(matrix=m, ids=ids)
    x = rng.normal(size=n)
    y = spsolve((sparse.identity(n) - 0.4 * m).tocsc(), 1.0 + 2.0 * x + rng.normal(size=n))
    idx = pd.MultiIndex.from_arrays([ids, np.full(n, 2020)], names=["unit", "year"])
    X = pd.DataFrame({"const": 1.0, "x": x}, index=idx)
    r = fit_spatial(pd.Series(y, index=idx), X, W, model="sar")
    for term, truth in (("const", 1.0), ("x", 2.0), ("rho", 0.4)):
        assert abs(r.params[term] - truth) < 5 * r.bse[term], term
    (note,) = [s for s in r.notes if "stochastic" in s]
    assert re.search(r"tr\(W_A' W_A\) = [\d.e+]+ \(standard error [\d.e+-]+\); one standard error "
                     r"of it moves the standard errors by at most [\d.e+-]+%", note), note


class _FailingClient:
    """Stands in for a distributed.Client whose computation fails as a cluster would."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def compute(self, objs, sync=True):
        raise self.error


@pytest.mark.parametrize(
    "error, message",
    [
        (MemoryError("no room"), r"dask ran out of memory: give the workers more memory, use smaller partitions "
                                 r"\(blocksize=\) or engine='duckdb'"),
        ("killed", r"dask workers died \(usually out of memory\) while aggregating the OD files: give the workers "
                   r"more memory \(LocalCluster\(memory_limit=\.\.\.\)\), use smaller partitions \(blocksize=\), "
                   r"or engine='duckdb'"),
    ],
)
def test_dask_failures_reraised_with_advice(od, error, message):
    from distributed.scheduler import KilledWorker

    path, lookup, _, _ = od
    if error == "killed":
        error = KilledWorker("aggregate-od", "tcp://127.0.0.1:1", 3)
    with pytest.raises(InputError, match=message):
        commuting_from_files(path, lookup=lookup, year=2020, engine="dask", client=_FailingClient(error),
                               as_graph=False)


def test_other_dask_errors_pass_through(od):
    path, lookup, _, _ = od
    with pytest.raises(RuntimeError, match="scheduler gone"):
        commuting_from_files(path, lookup=lookup, year=2020, engine="dask",
                               client=_FailingClient(RuntimeError("scheduler gone")), as_graph=False)


@pytest.mark.parametrize("model, advice", [("sar", "gmm_lag"), ("sem", "gmm_error")])
def test_ml_out_of_memory_names_the_gmm_alternative(monkeypatch, model, advice):
    """A log-determinant LU that does not fit gives the estimator to switch to, not a bare MemoryError."""
    from geoattr.models import ml as _ml
    from geoattr.models.spatial import fit_spatial

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 1012. MiB")

    monkeypatch.setattr(_ml, "ml_lag", no_memory)
    monkeypatch.setattr(_ml, "ml_error", no_memory)
    n = 50
    ids = pd.Index([f"u{i}" for i in range(n)])
    m = sparse.csr_matrix((np.full(n, 1.0), (np.arange(n) + 1) % n, np.arange(n + 1)), shape=(n, n))
    idx = pd.MultiIndex.from_product([ids, [2019, 2020]], names=["unit", "year"])
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=2 * n)}, index=idx)
    with pytest.raises(InputError, match=rf"maximum likelihood '{model}' ran out of memory: the sparse LU of "
                                         rf"I - rho W \(50 units, 50 edges\) does not fit\. Use model='{advice}' .*"
                                         r"method='mc' \(or 'chebyshev'.*approximate log-determinant"):
        fit_spatial(pd.Series(rng.normal(size=2 * n), index=idx), X, SparseWeights(matrix=m, ids=ids), model=model)
