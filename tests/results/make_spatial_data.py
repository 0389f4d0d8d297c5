"""Write the data and weights of the R reference checks (run once; outputs are committed).

    .venv/bin/python tests/results/make_spatial_data.py
    Rscript tests/results/spatial_reference.R

A 15 x 15 queen-contiguity grid (row-standardised), y from a SAC process with rho = 0.4,
lambda = 0.3, beta = (1, 1, -0.5); a second weights matrix (4 nearest neighbours) for SAC
with different lag and error weights.
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from shapely.geometry import box

HERE = Path(__file__).resolve().parent
side = 15
n = side * side
ids = [f"{i:03d}" for i in range(n)]
gdf = gpd.GeoDataFrame(geometry=[box(i % side, i // side, i % side + 1, i // side + 1) for i in range(n)],
                       index=pd.Index(ids, name="unit"))
queen = Graph.build_contiguity(gdf, rook=False).transform("r")
knn = Graph.build_knn(gdf.centroid, k=4).transform("r")
rng = np.random.default_rng(20261123)
X = rng.normal(size=(n, 2))
W = queen.sparse.toarray()  # dense is fine: N = 225, data generation only
u = np.linalg.solve(np.eye(n) - 0.3 * W, rng.normal(size=n) * 0.6)
y = np.linalg.solve(np.eye(n) - 0.4 * W, 1 + X @ [1.0, -0.5] + u)
pd.DataFrame({"unit": ids, "y": y, "x1": X[:, 0], "x2": X[:, 1]}).to_csv(HERE / "spatial_data.csv", index=False)
for name, g in (("queen", queen), ("knn4", knn)):
    g.adjacency.reset_index().to_csv(HERE / f"spatial_weights_{name}.csv", index=False)

# Spatial panel (issue 9, item 7): the same grid, T = 5, unit effects; y from a SAR process
# (rho = 0.35) and, for the error model, y_sem from a SEM process (lambda = 0.4).
T = 5
alpha = rng.normal(size=n)
rows = []
for t in range(T):
    x = rng.normal(size=(n, 2))
    y_sar = np.linalg.solve(np.eye(n) - 0.35 * W, alpha + x @ [0.8, -0.4] + rng.normal(size=n) * 0.5)
    y_sem = alpha + x @ [0.8, -0.4] + np.linalg.solve(np.eye(n) - 0.4 * W, rng.normal(size=n) * 0.5)
    rows.append(pd.DataFrame({"unit": ids, "year": 2010 + t, "y_sar": y_sar, "y_sem": y_sem,
                              "x1": x[:, 0], "x2": x[:, 1]}))
pd.concat(rows).to_csv(HERE / "spatial_panel_data.csv", index=False)
