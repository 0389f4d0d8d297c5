"""The embedded synthetic Norway: determinism, realism, and the exact DGP identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from geoattr.datasets import synthetic_norway
from geoattr.datasets import synthetic as synthetic_module
from geoattr.datasets.synthetic import generate


@pytest.mark.slow
def test_stored_data_equal_fresh_generation(synthetic):
    fresh = generate()
    pd.testing.assert_frame_equal(synthetic.panel, fresh.panel, check_dtype=False)
    pd.testing.assert_frame_equal(synthetic.flows, fresh.flows, check_dtype=False)
    pd.testing.assert_frame_equal(synthetic.population_by_age, fresh.population_by_age, check_dtype=False)
    pd.testing.assert_series_equal(synthetic.truth.attractiveness, fresh.truth.attractiveness, check_dtype=False,
                                   check_freq=False)
    other = generate(7)
    assert not np.allclose(other.panel["population"].to_numpy()[:50], fresh.panel["population"].to_numpy()[:50])


def test_shape_and_realism(synthetic):
    ds = synthetic
    assert len(ds.polygons) == 356 and ds.regions.nunique() == 73
    assert ds.polygons.crs.to_epsg() == 25833
    assert ds.polygons.geometry.is_valid.all()
    assert all(len(u) == 4 and u.isdigit() for u in ds.polygons.index) and "0301" in ds.polygons.index
    years = sorted(ds.panel.index.get_level_values("year").unique())
    assert years[0] == 2000 and years[-1] == 2024 and ds.years == (2003, 2023)
    pop = ds.panel["population"]
    assert pop.min() < 1000 and 500_000 < pop.max() < 900_000
    assert pop.xs("0301", level="unit").min() == pop.groupby(level="year").max().min()  # the capital is largest
    c = ds.centrality
    assert c.min() >= 0 and c.max() <= 1000 and c.idxmax() in ds.polygons.index


def test_islands_have_no_land_neighbour(synthetic):
    g = Graph.build_contiguity(synthetic.polygons, rook=False)
    iso = set(g.isolates)
    assert len(iso) >= 3
    assert iso <= set(synthetic.polygons.index[synthetic.polygons["is_island"]])


def test_accounting_identity_and_age_table(synthetic):
    p = synthetic.panel
    P = p["population"].unstack()
    yrs = list(range(2000, 2024))
    change = P[[y + 1 for y in yrs]].to_numpy() - P[yrs].to_numpy()
    comp = (p["births"] - p["deaths"] + p["net_migration"]).unstack()[yrs].to_numpy()
    np.testing.assert_array_equal(change, comp)  # exact, in persons
    age = synthetic.population_by_age.groupby(["unit", "year"])["population"].sum()
    np.testing.assert_array_equal(age.to_numpy(), p["population"].reindex(age.index).to_numpy())
    subs = p[[c for c in p.columns if c.startswith("net_migration__age_")]].sum(axis=1, min_count=1)
    np.testing.assert_array_equal(subs.dropna().to_numpy(), p["net_migration"].reindex(subs.dropna().index).to_numpy())
    sexes = p["net_migration__female"] + p["net_migration__male"]
    np.testing.assert_array_equal(sexes.dropna().to_numpy(), p["net_migration"].dropna().to_numpy())
    flows = p[[c for c in p.columns if c.startswith("flow__")]].sum(axis=1, min_count=1).dropna()
    np.testing.assert_array_equal(flows.to_numpy(), p["net_migration"].reindex(flows.index).to_numpy())


def test_commuting_flows(synthetic):
    f = synthetic.flows
    rows = f.groupby(["year", "origin"])["count"].sum()
    er = synthetic.panel["employed_residents"].reindex(pd.MultiIndex.from_arrays(
        [rows.index.get_level_values(1), rows.index.get_level_values(0)]))
    np.testing.assert_array_equal(rows.to_numpy(), er.to_numpy())
    own = f[f.origin == f.destination].groupby(["year", "origin"])["count"].sum() / rows
    assert 0.7 < own.median() < 0.95 and own.quantile(0.05) < 0.5  # suburbs commute out
    assert f.groupby(["year", "origin"]).size().max() <= 30


def _dense_vra(ds, t, k):
    """Independent dense implementation of VRA lag k in year t (N = 356)."""
    f = ds.flows[ds.flows.year == t - k]
    units = list(ds.polygons.index)
    pos = {u: i for i, u in enumerate(units)}
    C = np.zeros((len(units), len(units)))
    C[f.origin.map(pos), f.destination.map(pos)] = f["count"]
    W = C / C.sum(axis=1, keepdims=True)
    E = ds.panel["jobs"].unstack()
    ra = 100 * (E[t - k] / E[t - k - 1] - 1) - 100 * (E[t - k].sum() / E[t - k - 1].sum() - 1)
    return pd.Series(W @ ra.reindex(units).to_numpy(), index=units)


def test_dgp_identity_from_stored_tables(synthetic):
    """y - true attractiveness = the 2022 systematic part, recomputed independently (1e-9)."""
    ds = synthetic
    t = 2015
    units = list(ds.polygons.index)
    tr = ds.truth.coefficients
    p = ds.panel.xs(t, level="year").reindex(units)
    y = 100 * p["net_migration"] / p["population"]
    cent = ds.centrality.reindex(units) / 1000 - (ds.centrality / 1000).mean()
    pa = ds.population_by_age[(ds.population_by_age.year == t) & ds.population_by_age.age.between(14, 74)]
    e, q = ds.employment_rates, ds.death_probabilities
    num = pd.Series(0.0, index=units)
    for sex in ("female", "male"):
        s = pa[pa.sex == sex]
        fac = e[sex].reindex(s.age + 1).to_numpy() - e[sex].reindex(s.age).to_numpy() * (1 + q[sex].reindex(s.age).to_numpy())
        num = num.add(pd.Series(s.population.to_numpy() * fac, index=s.unit).groupby(level=0).sum(), fill_value=0)
    ds_ = 100 * num / p["jobs"] - 100 * num.sum() / p["jobs"].sum()
    sysv = (tr["const"] + ds.truth.year_effects[t] + tr["vra"] * _dense_vra(ds, t, 0) + tr["vra_l1"] * _dense_vra(ds, t, 1)
            + tr["vra_l2"] * _dense_vra(ds, t, 2) + tr["centrality"] * cent + tr["ds"] * ds_)
    att = ds.truth.attractiveness.xs(t, level="year").reindex(units)
    np.testing.assert_allclose((y - att).to_numpy(), sysv.to_numpy(), atol=1e-9)


def test_returns_copies(synthetic):
    a = synthetic_norway()
    a.panel.iloc[0, 0] = -1
    assert synthetic_norway().panel.iloc[0, 0] != -1


def _melted_reference(wide: pd.DataFrame) -> pd.DataFrame:
    """The previous reader: melt, then sort by the keys (the reference for the row-by-row reader)."""
    age = wide.reset_index().melt(id_vars=["unit", "year", "sex"], var_name="age", value_name="population")
    age["age"] = age["age"].astype(int)
    age["population"] = age["population"].astype(np.int64)
    return age.sort_values(["unit", "year", "sex", "age"]).reset_index(drop=True)


def test_long_age_table_equals_melt_and_sort_even_when_rows_and_ages_are_shuffled():
    rng = np.random.default_rng(3)
    idx = pd.MultiIndex.from_product([["0301", "1101", "5001"], [2000, 2001], ["female", "male"]],
                                     names=["unit", "year", "sex"])
    wide = pd.DataFrame(rng.integers(0, 500, (len(idx), 12)), index=idx,
                        columns=[str(a) for a in range(12)]).astype("int32")
    shuffled = wide.iloc[rng.permutation(len(wide)), rng.permutation(12)]
    expected = _melted_reference(wide)
    pd.testing.assert_frame_equal(synthetic_module._long_age_table(wide), expected)
    pd.testing.assert_frame_equal(synthetic_module._long_age_table(shuffled), expected)

