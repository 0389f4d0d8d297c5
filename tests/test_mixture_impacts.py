"""Impacts of the mixed-weights lag models with gamma's uncertainty carried (issue 19 item 1).

References: the single-weights impacts (geoattr.models.impacts.impacts, pinned to spatialreg)
when gamma is fixed; between the two inferences of geoattr.models.impacts_mixture, the
simulation from the joint asymptotic normal (each draw's impacts computed exactly at its own
W(gamma)) checks the delta method, at a covariance small enough for the normal
approximation to hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geoattr
from geoattr.exceptions import InputError
from geoattr.models.impacts import impacts
from geoattr.models.impacts_mixture import mixture_impacts
from tests.test_weights_choice import _simulate


@pytest.fixture(scope="module")
def mixed():
    df, ws = _simulate(10, 0.6, 0.4, seed=5)  # N = 100
    return geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws), df, ws


def _dense(g, ids):
    return pd.DataFrame(g.sparse.toarray(), index=g.unique_ids, columns=g.unique_ids).loc[ids, ids].to_numpy()


def test_with_gamma_fixed_the_impacts_are_the_single_weights_ones():
    """gamma fixed at a corner (data generated there, N = 100): nothing more to carry, every
    inference is the single-W simulation (same draws: equal to 1e-10 given the same estimates
    and covariance), and the standard errors are within 10 % of the single fit's (whose
    covariance is the expected, not the observed, information; the two differ by O(n^-1/2):
    up to 7 % here at N = 100, < 5 % at N = 441 in the Hessian test of test_weights_choice)."""
    df, ws = _simulate(10, 1.0, 0.4, seed=5)
    single = geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws["rook"])
    fixed = geoattr.fit("y ~ x1 + x2", df, model="sar", weights=ws, gamma={"rook": 1.0, "ring": 0.0})
    ref = impacts(fixed.params, fixed.cov, _dense(ws["rook"], list(df.index)), draws=300, seed=2)
    for inference in ("auto", "delta", "simulation", "gamma_known"):
        got = fixed.impacts(draws=300, seed=2, inference=inference)
        np.testing.assert_allclose(got.to_numpy(dtype=float), ref.to_numpy(dtype=float), rtol=1e-10, atol=1e-12)
        assert got.attrs["impacts_inference"] == "gamma_known" and "gamma fixed" in got.attrs["notes"][-1]
    own = single.impacts(draws=300, seed=2)
    ratio = fixed.impacts(draws=300, seed=2)["std_error"] / own["std_error"]
    assert ((ratio - 1).abs() < 0.10).all(), ratio


def test_delta_method_carries_gamma(mixed):
    """gamma estimated: "auto" is the delta method on (rho, beta, gamma) jointly.  The estimates
    are those at W(gamma_hat) (1e-12); the variance is J C J' with J the central-difference
    Jacobian.  Hand checks: with the variances of rho and gamma set to 0 the direct impact's
    standard error is S0 se(beta) (S0 = direct / beta); the totals beta / (1 - rho) do not depend
    on gamma (every W(gamma) is row-stochastic), so gamma's variance leaves their standard errors
    unchanged (1e-8) and moves the direct and indirect ones."""
    r, _, _ = mixed
    assert 0.05 < r.gamma["rook"] < 0.95  # an interior estimate
    d = r.impacts()
    known = r.impacts(inference="gamma_known", draws=0)
    assert d.attrs["impacts_inference"] == "delta" and "gamma's uncertainty included" in d.attrs["notes"][-1]
    np.testing.assert_allclose(d["estimate"], known["estimate"], rtol=0, atol=1e-12)
    g = [p for p in r.params.index if p.startswith("gamma_")]
    cov0 = r.cov.copy()
    cov0.loc[g, :] = 0.0
    cov0.loc[:, g] = 0.0
    d0 = mixture_impacts(r.params, cov0, r.components, r.gamma, inference="delta")
    # beta enters linearly: with rho's and gamma's variance removed too, the direct SE is S0 se(beta)
    cov_b = cov0.copy()
    cov_b.loc["rho", :] = 0.0
    cov_b.loc[:, "rho"] = 0.0
    db = mixture_impacts(r.params, cov_b, r.components, r.gamma, inference="delta")
    s0 = known.loc[("x1", "direct"), "estimate"] / r.params["x1"]
    assert db.loc[("x1", "direct"), "std_error"] == pytest.approx(s0 * r.std_errors["x1"], rel=1e-8)
    tot = d.index.get_level_values("effect") == "total"
    np.testing.assert_allclose(d["std_error"][tot], d0["std_error"][tot], rtol=1e-8)
    assert (np.abs(d["std_error"][~tot] / d0["std_error"][~tot] - 1) > 1e-4).all()
    assert (d["lower"] < d["estimate"]).all() and (d["upper"] > d["estimate"]).all()


@pytest.mark.slow
def test_delta_and_simulation_agree(mixed):
    """The delta method against the simulation from the joint normal (400 draws, each draw's
    impacts exactly at its own W(gamma_d)), at the estimate's covariance divided by 25 (the
    information of a 25 times larger sample, where the normal approximation of the impacts
    holds): standard errors within 12 % (Monte Carlo error of a standard deviation from 400
    draws ~3.5 %, plus the curvature in rho and gamma)."""
    r, _, _ = mixed
    cov = r.cov / 25.0
    d = mixture_impacts(r.params, cov, r.components, r.gamma, inference="delta")
    s = mixture_impacts(r.params, cov, r.components, r.gamma, inference="simulation", draws=400, seed=3)
    np.testing.assert_allclose(s["estimate"], d["estimate"], rtol=0, atol=1e-12)
    ratio = s["std_error"] / d["std_error"]
    assert ((ratio - 1).abs() < 0.12).all(), ratio
    assert "its own W(gamma)" in s.attrs["notes"][-1]


def test_bad_inference(mixed):
    r, _, _ = mixed
    with pytest.raises(InputError, match=r"inference must be one of .*'delta'.*'bootstrap' was given"):
        r.impacts(inference="bootstrap")
    with pytest.raises(InputError, match=r"inference='simulation' needs draws >= 2"):
        r.impacts(inference="simulation", draws=1)


def test_simulation_with_too_few_admissible_draws(mixed):
    """A covariance so wide (x 10^6) that the draws of gamma leave the simplex: a clear error."""
    r, _, _ = mixed
    with pytest.raises(InputError, match=r"fewer than 2 of 5 draws are inside the simplex .*\(\d outside\); "
                                         r"pass more draws= or use inference='delta'"):
        mixture_impacts(r.params, r.cov * 1e6, r.components, r.gamma, inference="simulation", draws=5, seed=0)

