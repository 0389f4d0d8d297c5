"""How many factorisations the large-N ML fit costs (geoattr.models.ml_realdet.search_values).

The search evaluates the exact log-determinant at the model's estimate last and returns that
point, so its factorisation also serves the solves (reduced form, Hutchinson probes): no
factorisation after the search.  The counts pinned here were measured on the fixed problems
below (queen lattice 40 x 40, row-standardised, rho = lambda = 0.3): five factorisations for
the lag and the error fit, where the previous search took six for the lag fit (five in the
search and one more at the estimate for the solves); a regression makes these tests fail.

References: the complex-step path (``method="lu"``, exact to rounding, itself pinned to spreg
in tests/test_ml_engine.py) for the estimates, with the tolerances of
tests/test_ml_realdet.py (coefficients 1e-8 relative, standard errors 1e-6, log-likelihood
1e-10); dense ``numpy.linalg.slogdet`` for the log-determinant at the estimate (1e-12 relative).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoattr.models import ml as ml_module
from geoattr.models import ml_cholmod
from geoattr.models.ml import ml_error, ml_lag
from geoattr.models import ml_realdet
from geoattr.models.ml_realdet import NEAR, RealLUJacobian
from tests.test_ml_realdet import _data, _queen

PATHS = ["real LU", pytest.param("CHOLMOD", marks=pytest.mark.skipif(
    not ml_cholmod.available(), reason="scikit-sparse (CHOLMOD) is not installed"))]


@pytest.fixture(scope="module")
def queen40():
    return _queen(40)


def _counted(monkeypatch, path: str) -> list[float]:
    """Switch the large-N path on (``path``: real LU or CHOLMOD) and record every factorisation."""
    monkeypatch.setattr(ml_module, "REAL_LU_MIN_N", 50)
    if path == "real LU":
        monkeypatch.setattr(ml_cholmod, "analyze", None)
    calls: list[float] = []
    cls = ml_cholmod.CholmodJacobian if path == "CHOLMOD" else RealLUJacobian
    ordered = cls._ordered

    def counted(self, rho):  # every factorisation, whoever asks for it
        calls.append(rho)
        return ordered(self, rho)

    monkeypatch.setattr(cls, "_ordered", counted)
    return calls


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("model", ["lag", "error"])
def test_five_factorisations_and_none_after_the_search(monkeypatch, queen40, path, model):
    W = queen40
    y, X = _data(W, model, 0.3)
    fit = ml_lag if model == "lag" else ml_error
    ref = fit(y, X, W, method="lu")  # complex step, before the large-N path is switched on
    calls = _counted(monkeypatch, path)
    fast = fit(y, X, W)
    assert ("CHOLMOD" if path == "CHOLMOD" else "real sparse LU") in fast.extra["trace_method"]
    assert len(calls) == fast.extra["logdet_points"] == fast.iterations == 5
    est = fast.params[-1]
    assert abs(calls[-1] - est) <= NEAR * 2.0  # the last factorisation serves the solves at the estimate
    exact = np.linalg.slogdet(np.eye(W.shape[0]) - est * W.toarray())[1]
    assert fast.extra["logdet"] == pytest.approx(exact, rel=1e-12)
    np.testing.assert_allclose(fast.params, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, ref.std_errors, rtol=1e-6)
    assert fast.loglik == pytest.approx(ref.loglik, rel=1e-10)
    if model == "lag":  # the reduced form: refined from the last factorisation when not exactly there
        np.testing.assert_allclose(fast.extra["predy_e"], ref.extra["predy_e"], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("path", PATHS)
def test_probes_use_the_last_factorisation(monkeypatch, queen40, path):
    """The stochastic tr3 costs no factorisation: its probes use the search's last one, within
    ``NEAR`` of the estimate; the standard errors equal those with probes on a factorisation
    at the estimate itself (``NEAR = 0``, the previous behaviour) to 1e-8 relative."""
    W = queen40
    y, X = _data(W, "error", 0.3)
    calls = _counted(monkeypatch, path)
    fast = ml_error(y, X, W, traces="stochastic")
    assert len(calls) == fast.iterations == 5 and "Hutchinson" in fast.extra["trace_method"]
    monkeypatch.setattr(ml_realdet, "NEAR", 0.0)
    calls.clear()
    again = ml_error(y, X, W, traces="stochastic")
    assert len(calls) == 6 and calls[-1] == again.params[-1]  # one more, at the estimate itself
    np.testing.assert_allclose(fast.params, again.params, rtol=1e-14)
    np.testing.assert_allclose(fast.std_errors, again.std_errors, rtol=1e-8)
