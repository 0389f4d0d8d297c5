"""Mixed weights W(gamma) for the spatial Durbin error (sdem) and SAC models (issue 19 item 1).

References: the single-weights fits (geoattr.fit with one graph, pinned to spreg and
spatialreg) at the corners of the simplex, and the known truth of data simulated from the
mixed-weights models on a lattice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geoattr
from geoattr.exceptions import InputError
from tests.test_weights_choice import _lattice


def _generate(side: int, gamma: float, seed: int, *, rho: float = 0.0, lam: float = 0.0,
              theta: tuple[float, float] = (0.0, 0.0)) -> tuple[pd.DataFrame, dict]:
    """y = (I - rho W)^-1 (1 + X b + W X theta + (I - lam W)^-1 e), W = gamma W_rook + (1 - gamma) W_ring,
    b = (1, -0.5), e ~ N(0, 1); dense solves on a lattice of a few hundred cells."""
    rook, ring, W1, W2, ids = _lattice(side)
    n = len(ids)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    W = gamma * W1 + (1 - gamma) * W2
    u = np.linalg.solve(np.eye(n) - lam * W, rng.normal(size=n))
    y = np.linalg.solve(np.eye(n) - rho * W, 1 + X @ [1.0, -0.5] + W @ X @ np.asarray(theta) + u)
    return pd.DataFrame({"y": y, "x1": X[:, 0], "x2": X[:, 1]}, index=pd.Index(ids, name="unit")), \
        {"rook": rook, "ring": ring}


@pytest.mark.parametrize("model", ["sdem", pytest.param("sac", marks=pytest.mark.slow)])
def test_a_corner_equals_the_single_weights_fit(model):
    """gamma fixed at a corner: loglik and estimates of geoattr.fit with that W, to 1e-6 (both
    searches stop at ~1e-10 in the spatial parameters; the differences seen are ~2e-8)."""
    df, ws = _generate(10, 1.0, 3, rho=0.3 if model == "sac" else 0.0, lam=0.4, theta=(0.5, 0.0))
    single = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws["rook"])
    mixed = geoattr.fit("y ~ x1 + x2", df, model=model, weights=ws, gamma={"rook": 1.0, "ring": 0.0})
    assert mixed.model == f"{model}_mix"
    assert list(mixed.params.index) == list(single.params.index)
    assert mixed.loglik == pytest.approx(single.loglik, abs=1e-6)
    np.testing.assert_allclose(mixed.params, single.params, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_sdem_mixture_recovers_the_truth():
    """Generator truth: gamma_rook = 0.7, lambda = 0.6, b = (1, 1, -0.5), theta = (0.8, 0) on a
    16 x 16 lattice: within 3 standard errors.  Impacts: direct b, indirect theta exactly."""
    df, ws = _generate(16, 0.7, 5, lam=0.6, theta=(0.8, 0.0))
    r = geoattr.fit("y ~ x1 + x2", df, model="sdem", weights=ws)
    truth = pd.Series({"const": 1.0, "x1": 1.0, "x2": -0.5, "W_x1": 0.8, "W_x2": 0.0, "lambda": 0.6,
                       "gamma_rook": 0.7, "gamma_ring": 0.3})
    assert list(r.params.index) == list(truth.index)
    z = (r.params[truth.index] - truth) / r.std_errors[truth.index]
    assert (z.abs() < 3).all(), z
    assert list(r.corner_tests.columns) == ["loglik", "lambda", "lr", "df", "p_value"]
    imp = r.impacts()
    assert imp.loc[("x1", "indirect"), "estimate"] == pytest.approx(r.params["W_x1"], abs=1e-12)
    assert imp.loc[("x1", "indirect"), "std_error"] == pytest.approx(r.std_errors["W_x1"], abs=1e-12)


@pytest.mark.slow
def test_sac_mixture_recovers_the_truth():
    """Generator truth: gamma_rook = 0.7, rho = 0.5, lambda = 0.3, b = (1, 1, -0.5) on a 16 x 16
    lattice: within 3 standard errors; the corner table has both spatial parameters."""
    df, ws = _generate(16, 0.7, 6, rho=0.5, lam=0.3)
    r = geoattr.fit("y ~ x1 + x2", df, model="sac", weights=ws)
    truth = pd.Series({"const": 1.0, "x1": 1.0, "x2": -0.5, "rho": 0.5, "lambda": 0.3, "gamma_rook": 0.7,
                       "gamma_ring": 0.3})
    z = (r.params[truth.index] - truth) / r.std_errors[truth.index]
    assert (z.abs() < 3).all(), z
    assert list(r.corner_tests.columns) == ["loglik", "rho", "lambda", "lr", "df", "p_value"]


def test_fixed_effects_panels_take_one_weights_matrix():
    df, ws = _generate(6, 0.7, 1, lam=0.3)
    panel = pd.concat([df.assign(year=t) for t in (2020, 2021, 2022)]).set_index("year", append=True)
    with pytest.raises(InputError, match=r"works with model in \['sar', 'sem', 'sdm', 'sdem', 'sac'\], "
                                         r"not 'sar_fe'; pass one weights graph"):
        geoattr.fit("y ~ x1 + x2", panel, model="sar_fe", weights=ws)
