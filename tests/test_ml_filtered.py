"""FilteredLeastSquares (geoattr.models.ml_filtered) against the full least squares.

Reference: ``numpy.linalg.lstsq`` of ``y - lam W y`` on ``X - lam W X`` at full size, the
computation it replaces in the error model's search.  Tolerance 1e-10 relative (both are
backward-stable least squares of the same problem; the coordinates differ by an
orthonormal Q).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoattr.models.ml_filtered import FilteredLeastSquares
from tests.test_ml_realdet import _queen


@pytest.mark.parametrize("lam", [-0.7, 0.0, 0.35, 0.93])
def test_filtered_trials_equal_full_least_squares(lam):
    W = _queen(12)
    n = W.shape[0]
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    wy, wx = W @ y, W @ X  # W 1 = 1: WX repeats the constant; Z is rank-deficient on purpose
    trials = FilteredLeastSquares(y, X, wy, wx)
    ys, xs = y - lam * wy, X - lam * wx
    b = np.linalg.lstsq(xs, ys, rcond=None)[0]
    e = ys - xs @ b
    u = y - X @ b
    np.testing.assert_allclose(trials.fit(lam)[0], b, rtol=1e-10)
    assert trials.sse(lam) == pytest.approx(float(e @ e), rel=1e-10)
    assert trials.score_part(lam, n) == pytest.approx(-n * float(e @ (W @ u)) / float(e @ e), rel=1e-9)
