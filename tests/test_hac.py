"""Spatial HAC pinned to spreg's OLS(robust='hac') with the same kernel (tolerance 1e-8 relative)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from geoattr.exceptions import InputError
from geoattr.models.hac import spatial_hac
from geoattr.models.ols import LeastSquares
from geoattr.variables import Design

spreg = pytest.importorskip("spreg")


def hac_problem():
    """200 random points, an adaptive triangular kernel (k=10), X, y and spreg's OLS(robust='hac') on them."""
    from libpysal.weights import Kernel

    rng = np.random.default_rng(3)
    n = 200
    pts = rng.uniform(0, 100, size=(n, 2))
    wk = Kernel(pts, k=10, function="triangular", fixed=False)
    wk.transform = "o"
    X = rng.normal(size=(n, 2))
    y = 1 + X @ [0.5, -1] + rng.normal(size=n)
    return wk, X, y, spreg.OLS(y[:, None], X, robust="hac", gwk=wk)


def test_hac_matches_spreg():
    wk, X, y, ref = hac_problem()
    n = len(y)
    ids = [f"{i:03d}" for i in range(n)]
    idx = pd.MultiIndex.from_arrays([ids, [2020] * n], names=["unit", "year"])
    Xd = pd.DataFrame({"const": 1.0, "x1": X[:, 0], "x2": X[:, 1]}, index=idx)
    d = Design(y=pd.Series(y, index=idx), X=Xd, population=pd.Series(1.0, index=idx), spec="t", unit_level="u",
               years=(2020, 2020))
    res = LeastSquares(d).fit(cov_type="unadjusted")
    K = sparse.csr_matrix(wk.sparse)
    hac = spatial_hac(res, Xd, K)
    np.testing.assert_allclose(hac.cov.to_numpy(), ref.vm, rtol=1e-8)
    assert hac.cov_type == "spatial-hac"
    np.testing.assert_allclose(hac.params, res.params)
    with pytest.raises(InputError, match=r"the kernel matrix is \(3, 3\), the sample has 200 observations"):
        spatial_hac(res, Xd, sparse.identity(3))
