"""Spatial HAC covariance (Kelejian-Prucha 2007; Conley 1999) for least-squares results.

``V = (X'X)^{-1} X' diag(e) K diag(e) X (X'X)^{-1}`` with a kernel matrix ``K``
(``K[i,i] = 1``; ``K[i,j]`` the kernel of the distance between *i* and *j*), the
estimator spreg uses for ``OLS(robust="hac", gwk=...)``.  Kelejian and Prucha use a
(possibly adaptive) triangular or Epanechnikov kernel; Conley's estimator is the
Bartlett (triangular) kernel with a fixed distance cutoff.  For pooled panels the
kernel applies within each year (:func:`~geoattr.weights.lag.panel_weights`);
use Driscoll-Kraay (``cov_type="driscoll-kraay"``) to add serial correlation.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from geoattr.exceptions import InputError
from geoattr.models.least_squares import covariance
from geoattr.models.results import RegressionResults
from geoattr.weights.lag import panel_weights

__all__ = ["kernel_graph", "spatial_hac"]


def kernel_graph(
    gdf: gpd.GeoDataFrame, *, bandwidth: float | None = None, k: int | None = None, kernel: str = "triangular"
) -> Graph:
    """Kernel weights between representative points (self-weight 1 added by :func:`spatial_hac`).

    Parameters
    ----------
    gdf : GeoDataFrame
        Units indexed by id, projected CRS.
    bandwidth : float, optional
        Fixed distance cutoff (Conley: the distance beyond which errors are
        uncorrelated).
    k : int, optional
        Adaptive bandwidth: the distance to the k-th nearest neighbour (Kelejian-Prucha
        as in spreg's examples).
    kernel : str, default "triangular"
        A libpysal kernel name (``triangular`` is Bartlett).
    """
    if (bandwidth is None) == (k is None):
        raise InputError("give exactly one of bandwidth= (fixed, Conley) or k= (adaptive)")
    pts = gpd.GeoSeries(gdf.geometry.representative_point(), index=gdf.index, crs=gdf.crs)
    if bandwidth is not None:
        return Graph.build_kernel(pts, kernel=kernel, bandwidth=bandwidth)
    return Graph.build_kernel(pts, kernel=kernel, k=k)


def spatial_hac(res: RegressionResults, X: pd.DataFrame, kernel: Any) -> RegressionResults:
    """Least-squares results with the spatial HAC covariance.

    Parameters
    ----------
    res : RegressionResults
        Least-squares results (OLS; the formula is not valid for ML estimators).
    X : pandas.DataFrame
        The regressors of that estimation.
    kernel : libpysal.graph.Graph or scipy.sparse matrix
        Kernel weights over the units (a Graph, applied within each year) or a sparse
        matrix over the observations in the order of ``res.resids``.  The diagonal is
        set to 1.

    Returns
    -------
    RegressionResults
        The same estimates with ``cov_type="spatial-hac"`` (normal reference
        distribution).
    """
    if res.model not in ("ols", "wls"):
        raise InputError(f"spatial HAC applies to least-squares results, not {res.model!r}")
    idx = res.resids.index
    K = panel_weights(kernel, idx) if isinstance(kernel, Graph) else sparse.csr_matrix(kernel)
    if K.shape != (len(idx), len(idx)):
        raise InputError(f"the kernel matrix is {K.shape}, the sample has {len(idx)} observations")
    terms = list(res.params.index)
    Xa = X.reindex(idx)[terms].to_numpy(dtype=float)
    V = covariance(Xa, res.resids.to_numpy(dtype=float), cov_type="spatial-hac", kernel=K)
    return RegressionResults(
        params=res.params, cov=pd.DataFrame(V, index=terms, columns=terms), y=res.y, fitted_values=res.fitted_values,
        resids=res.resids, nobs=res.nobs, df_resid=res.df_resid, loglik=res.loglik, rsquared=res.rsquared,
        model=res.model, cov_type="spatial-hac", dist="normal", info=res.info, notes=res.notes,
    )
