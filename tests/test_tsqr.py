"""Least squares by blocks of rows (geoattr.models.tsqr) and the period-block operator of pooled fits.

References: numpy's ``qr`` and ``lstsq`` on the whole matrix and scipy's ``kron`` for
``I_T (x) W``; tolerances are stated at each assertion (rounding of a different order of
operations).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geoattr.models.ml_blocks import PeriodBlocks
from geoattr.models.ml_jacobian import check_inputs
from geoattr.models.tsqr import augmented_r, solve_augmented
from geoattr.exceptions import InputError


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(4)
    n = 1000
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3)) * [1.0, 1e3, 1e-3]])  # uneven scales
    y = X @ [1.0, 2.0, -1e-3, 5e2] + rng.normal(size=n)
    z = rng.normal(size=n)
    return X, y, z


@pytest.mark.parametrize("rows", [7, 100, 1000, 5000])  # many blocks, a few, one, one larger than n
def test_blocks_give_the_least_squares_solution(problem, rows):
    X, y, z = problem
    Ra = augmented_r(X, y, z, rows=rows)
    assert Ra.shape == (6, 6) and np.allclose(Ra, np.triu(Ra))
    b, rss = solve_augmented(Ra, 4)
    ref = np.linalg.lstsq(X, np.column_stack([y, z]), rcond=None)[0]
    np.testing.assert_allclose(b, ref, rtol=1e-10, atol=1e-12)  # lstsq (SVD): rounding only
    resid = np.column_stack([y, z]) - X @ ref
    np.testing.assert_allclose(rss, (resid**2).sum(axis=0), rtol=1e-10)
    # the R of X is numpy's up to the signs of its rows
    R = np.linalg.qr(X, mode="r")
    np.testing.assert_allclose(np.abs(Ra[:4, :4]), np.abs(R), rtol=1e-10, atol=1e-9)


def test_fewer_rows_than_columns():
    X = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 1.0]])
    Ra = augmented_r(X, np.array([1.0, 2.0]), rows=1)
    assert Ra.shape == (2, 4)
    np.testing.assert_allclose(np.abs(Ra), np.abs(np.linalg.qr(np.column_stack([X, [1.0, 2.0]]), mode="r")),
                               atol=1e-12)


def test_check_inputs_rank_and_exact_fit_from_the_blocks(problem):
    """The rank test (numpy's matrix_rank rule on R) and the exact-fit test of check_inputs."""
    X, y, _ = problem
    W = sp.identity(len(y), format="csr")
    with pytest.raises(InputError, match=r"X is rank deficient \(rank 4 of 5 columns\)"):
        check_inputs(y, np.column_stack([X, X[:, 1] - 2 * X[:, 2]]), W)
    with pytest.raises(InputError, match="y is an exact linear combination of the columns of X"):
        check_inputs(X @ [1.0, 2.0, 3.0, 4.0], X, W)
    yv, Xv, _ = check_inputs(y, X, W)
    assert np.linalg.matrix_rank(Xv) == 4 and yv is not None


def test_period_blocks_equal_the_kronecker_product():
    rng = np.random.default_rng(0)
    W = sp.random(30, 30, density=0.2, random_state=1, format="csr")
    op = PeriodBlocks(W, 4)
    full = sp.kron(sp.identity(4), W, format="csr")
    assert op.shape == (120, 120)
    v, V = rng.normal(size=120), rng.normal(size=(120, 3))
    # the same sums in the same order as the NT x NT product: equal bit for bit
    assert np.array_equal(op @ v, full @ v)
    assert np.array_equal(op @ V, full @ V)
    assert (op.matrix() != full).nnz == 0


@pytest.mark.parametrize("rows", [3, 64, 10_000])
def test_squared_correlation_by_blocks_is_numpys(rows):
    """The pseudo R2 of the spatial models by blocks of rows against numpy.corrcoef (1e-12 relative)."""
    from geoattr.models.results import squared_correlation

    rng = np.random.default_rng(2)
    a = 1e3 + rng.normal(size=500)  # a large mean: the centring must come before the products
    b = 0.3 * a + rng.normal(size=500)
    assert squared_correlation(a, b, rows=rows) == pytest.approx(np.corrcoef(a, b)[0, 1] ** 2, rel=1e-12)
    assert squared_correlation(a, a, rows=rows) == pytest.approx(1.0, rel=1e-14)
