"""balance='keep' without dense dummy columns (issue 19 follow-up): the sparse within
transformation (geoattr.models.panel_within) and the estimators built on it.

References: the dense dummy-variable regressions (numpy least squares on the n x (N + T - 1)
dummy design, and geoattr's SAR/SEM engine given the dummies as regressors, which is what
balance='keep' computed before; small panels only), and the known truth of a large simulated
unbalanced panel (sparse generation) that the former dense cap (6e7 cells) refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from scipy import sparse
from scipy.sparse.linalg import spsolve

from geoattr.exceptions import WeightsSubsetWarning
from geoattr.models.panel_within import EffectProjector
from geoattr.models.spatial import fit_spatial
from geoattr.models.spatial_panel_unbalanced import fit_unbalanced_fe
from tests.conftest import square_grid


def _queen(side: int) -> Graph:
    return Graph.build_contiguity(square_grid(side), rook=False).transform("r")


def _panel(g: Graph, model: str, seed: int, *, effects: str, T: int, rho: float = 0.4, p_missing: float = 0.15):
    """Unbalanced SAR/SEM panel with unit (and year) effects, sparse generation: year t's W_t is
    the subgraph over the observed units, rows renormalised; b = (0.8, -0.5)."""
    ids = np.asarray(g.unique_ids)
    n = len(ids)
    Wb = (g.sparse > 0).astype(float).tocsr()
    rng = np.random.default_rng(seed)
    alpha = rng.normal(size=n) * 2
    rows = []
    for t in range(T):
        S = np.flatnonzero(rng.random(n) > p_missing)
        Wt = Wb[S][:, S]
        rs = np.asarray(Wt.sum(axis=1)).ravel()
        Wt = sparse.diags(1.0 / np.where(rs == 0, 1, rs)) @ Wt
        X = rng.normal(size=(len(S), 2))
        e = rng.normal(size=len(S)) * 0.5
        tau = rng.normal() if effects == "twoway" else 0.0
        A = (sparse.identity(len(S)) - rho * Wt).tocsc()
        mean = alpha[S] + tau + X @ [0.8, -0.5]
        y = spsolve(A, mean + e) if model == "sar" else mean + spsolve(A, e)
        rows.append(pd.DataFrame({"unit": ids[S], "year": 2000 + t, "x1": X[:, 0], "x2": X[:, 1], "y": y}))
    return pd.concat(rows).set_index(["unit", "year"]).sort_index()


def _dummies(index: pd.MultiIndex, effects: str) -> pd.DataFrame:
    units, years = index.get_level_values(0), index.get_level_values(1)
    cols = {f"u[{u}]": (units == u).astype(float) for u in pd.unique(units)}
    if effects == "twoway":
        cols.update({f"t[{t}]": (years == t).astype(float) for t in sorted(pd.unique(years))[1:]})
    return pd.DataFrame(cols, index=index)


@pytest.mark.parametrize("effects", ["unit", "twoway"])
def test_projector_equals_the_dense_dummy_regression(effects):
    """Reference: numpy lstsq on the dense dummy design; fitted values and coefficients to 1e-10."""
    df = _panel(_queen(6), "sar", 1, effects=effects, T=5)
    P = EffectProjector(df.index, effects)
    D = _dummies(df.index, effects).to_numpy()
    V = df[["y", "x1"]].to_numpy()
    coef = np.linalg.lstsq(D, V, rcond=None)[0]
    np.testing.assert_allclose(P.fitted(V), D @ coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(P.within(V), V - D @ coef, rtol=0, atol=1e-10)
    assert P.n_effects == D.shape[1]
    B = sparse.identity(len(df)) - 0.3 * sparse.random(len(df), len(df), density=0.02, random_state=1)
    got, F = P.filtered_coefficients(B, V)
    ref = np.linalg.lstsq(B @ D, V, rcond=None)[0]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("model,effects", [("sar", "unit"), ("sar", "twoway"), ("sem", "unit"), ("sem", "twoway")])
def test_keep_equals_the_dense_dummy_fit(model, effects):
    """Reference: geoattr's SAR/SEM engine given the dense dummies as regressors (the former
    balance='keep' computation).  Estimates, standard errors, loglik and innovations to 1e-8
    (observed: SAR ~1e-15, SEM ~1e-11, where the alternation stops at 1e-11)."""
    g = _queen(7)
    df = _panel(g, model, 3, effects=effects, T=6)
    X = df[["x1", "x2"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsSubsetWarning)
        r = fit_unbalanced_fe(df["y"], X, g, model=model, effects=effects)
        ref = fit_spatial(df["y"], pd.concat([X, _dummies(df.index, effects)], axis=1), g, model=model)
    k = list(r.params.index)
    np.testing.assert_allclose(r.params.to_numpy(), ref.params[k].to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(r.std_errors.to_numpy(), ref.std_errors[k].to_numpy(), rtol=0, atol=1e-8)
    assert r.loglik == pytest.approx(ref.loglik, abs=1e-8)
    np.testing.assert_allclose(r.resids.to_numpy(), ref.resids.to_numpy(), rtol=0, atol=1e-8)


@pytest.mark.slow
def test_keep_scales_beyond_the_former_dense_cap():
    """A 70 x 70 queen lattice (4,900 units) over 4 years with 15 % of unit-years missing and
    two-way effects: ~16,700 observations x 4,903 effects = 8.2e7 cells of dense dummies (650 MB),
    beyond the former cap of 6e7 that made balance='keep' refuse it.  Generator truth:
    rho = 0.4, b = (0.8, -0.5), within 3 standard errors."""
    g = _queen(70)
    df = _panel(g, "sar", 2, effects="twoway", T=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsSubsetWarning)
        r = fit_unbalanced_fe(df["y"], df[["x1", "x2"]], g, model="sar", effects="twoway")
    truth = pd.Series({"x1": 0.8, "x2": -0.5, "rho": 0.4})
    z = (r.params[truth.index] - truth) / r.std_errors[truth.index]
    assert (z.abs() < 3).all(), z
