"""FilteredLeastSquares and filtered_fit (geoattr.models.ml_filtered) against the full least squares.

Reference: ``numpy.linalg.lstsq`` of ``y - lam W y`` on ``X - lam W X`` at full size, the
computation they replace in the error model.  Tolerance 1e-10 relative (both are
backward-stable least squares of the same problem; the coordinates differ by an
orthonormal Q).  The blocks of rows are pinned to the whole arrays bit for bit where the
arithmetic is the same (one block; the rows of ``W X``).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoattr.models import ml_filtered
from geoattr.models.ml_blocks import PeriodBlocks
from geoattr.models.ml_filtered import FilteredLeastSquares, filtered_fit, lagged_rows
from geoattr.models.tsqr import augmented_r, r_by_blocks, solve_augmented
from tests.test_ml_realdet import _queen


@pytest.mark.parametrize("lam", [-0.7, 0.0, 0.35, 0.93])
def test_filtered_trials_equal_full_least_squares(lam):
    W = _queen(12)
    n = W.shape[0]
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    wy, wx = W @ y, W @ X  # W 1 = 1: WX repeats the constant; Z is rank-deficient on purpose
    trials = FilteredLeastSquares(y, X, wy, W)
    ys, xs = y - lam * wy, X - lam * wx
    b = np.linalg.lstsq(xs, ys, rcond=None)[0]
    e = ys - xs @ b
    u = y - X @ b
    np.testing.assert_allclose(trials.fit(lam)[0], b, rtol=1e-10)
    assert trials.sse(lam) == pytest.approx(float(e @ e), rel=1e-10)
    assert trials.score_part(lam, n) == pytest.approx(-n * float(e @ (W @ u)) / float(e @ e), rel=1e-9)


def _design(side: int = 12, seed: int = 3):
    W = _queen(side)
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    return W, X, y


def test_lagged_rows_are_the_rows_of_the_whole_product_bit_for_bit():
    W, X, y = _design()
    before = W.copy()
    whole = W @ X
    for start, stop in [(0, 144), (0, 1), (17, 90), (143, 144), (50, 50)]:
        np.testing.assert_array_equal(lagged_rows(W, X, start, stop), whole[start:stop])
    np.testing.assert_array_equal(lagged_rows(W, y, 5, 77), (W @ y)[5:77])
    for name in ("data", "indices", "indptr"):  # the views share W's arrays and leave them as they were
        np.testing.assert_array_equal(getattr(W, name), getattr(before, name))


def test_lagged_rows_of_a_pooled_panel_cross_the_periods():
    W, X, _ = _design(side=5)  # N = 25
    XT = np.vstack([X[:25], X[:25] * 2.0, X[:25] - 1.0])  # three periods
    blocks = PeriodBlocks(W, 3)
    whole = blocks @ XT
    for start, stop in [(0, 75), (10, 40), (24, 26), (25, 50), (60, 75), (30, 30)]:
        np.testing.assert_array_equal(lagged_rows(blocks, XT, start, stop), whole[start:stop])


def test_r_by_blocks_is_augmented_r_bit_for_bit():
    W, X, y = _design()
    Z = np.column_stack([X, y])
    for rows in (7, 50, 1000):
        R = r_by_blocks(lambda start, out: out.__setitem__(slice(None), Z[start:start + len(out)]), 144, 4,
                        rows=rows)
        np.testing.assert_array_equal(R, augmented_r(X, y, rows=rows))


@pytest.mark.parametrize("lam", [-0.4, 0.6])
def test_filtered_fit_is_the_whole_arrays_fit_bit_for_bit_in_one_block(lam):
    """Reference: the error model's fit before the blocks (whole ``W X`` and ``X - lam W X``)."""
    W, X, y = _design()
    wy, wx = W @ y, np.asarray(W @ X)
    ys = y - lam * wy
    xs = wx * -lam
    xs += X
    b = solve_augmented(augmented_r(xs, ys, rows=ml_filtered.ROWS), 3)[0][:, 0]
    beta, e, gram = filtered_fit(y, X, wy, W, lam)
    np.testing.assert_array_equal(beta, b)
    np.testing.assert_array_equal(e, ys - xs @ b)
    np.testing.assert_array_equal(gram, xs.T @ xs)


@pytest.mark.parametrize("lam", [-0.4, 0.6])
def test_filtered_fit_by_many_blocks_equals_full_least_squares(monkeypatch, lam):
    """Blocks of 10 rows (15 blocks) against ``lstsq`` of the whole arrays: 1e-10 relative."""
    W, X, y = _design()
    monkeypatch.setattr(ml_filtered, "ROWS", 10)
    wy = W @ y
    ys, xs = y - lam * wy, X - lam * (W @ X)
    b = np.linalg.lstsq(xs, ys, rcond=None)[0]
    beta, e, gram = filtered_fit(y, X, wy, W, lam)
    np.testing.assert_allclose(beta, b, rtol=1e-10)
    np.testing.assert_allclose(e, ys - xs @ b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gram, xs.T @ xs, rtol=1e-12)
    trials = FilteredLeastSquares(y, X, wy, W)  # its R from blocks of 10 rows too
    np.testing.assert_allclose(trials.fit(lam)[0], b, rtol=1e-10)
