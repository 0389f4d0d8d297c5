"""Benchmark: spatial panels, geoattr vs spreg: SAR-FE (Panel_FE_Lag) and SEM-RE (Panel_RE_Error).

Targets (issue 9): N = 3,000, T = 20 in under 2 s and 1 GB; N = 10,000, T = 20 must fit.
Each case runs in its own subprocess so peak memory (ru_maxrss) is per case.
    .venv/bin/python benchmarks/bench_spatial_panel.py [--no-spreg]
Writes benchmarks/results_spatial_panel.json (appends a record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASE = r"""
import time, resource, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd, geopandas as gpd
from shapely.geometry import box
from libpysal.graph import Graph
from scipy import sparse
from scipy.sparse.linalg import splu
side, T, engine = int(sys.argv[1]), 20, sys.argv[2]
n = side * side
ids = [f"{i:05d}" for i in range(n)]
gdf = gpd.GeoDataFrame(geometry=[box(i % side, i // side, i % side + 1, i // side + 1) for i in range(n)],
                       index=pd.Index(ids, name="unit"))
g = Graph.build_contiguity(gdf, rook=False).transform("r")
W = g.sparse.tocsr()
rng = np.random.default_rng(0)
A = splu((sparse.identity(n) - 0.4 * W).tocsc())
alpha = rng.normal(size=n)
ys, Xs, rows = [], [], []
for t in range(T):
    X = rng.normal(size=(n, 3))
    if engine.endswith("sem_re"):  # random effects plus a spatially autocorrelated remainder
        y = alpha + X @ [1, -0.5, 0.2] + A.solve(rng.normal(size=n))
    else:
        y = A.solve(alpha + X @ [1, -0.5, 0.2] + rng.normal(size=n))
    ys.append(y); Xs.append(X)
    rows.append(pd.DataFrame({"unit": ids, "year": 2000 + t, "x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2], "y": y}))
df = pd.concat(rows).set_index(["unit", "year"]).sort_index()
t0 = time.perf_counter()
if engine == "geoattr":
    from geoattr.models.spatial_panel import fit_spatial_panel
    r = fit_spatial_panel(df["y"], df[["x1", "x2", "x3"]], g, model="sar_fe")
    rho = float(r.params["rho"])
elif engine == "geoattr_sem_re":
    from geoattr.models.spatial_panel import fit_sem_re
    r = fit_sem_re(df["y"], df[["x1", "x2", "x3"]].assign(const=1.0), g)
    rho = float(r.params["lambda"])
elif engine == "spreg_sem_re":
    import spreg
    w = g.to_W()
    Y = np.column_stack(ys)
    Xw = np.hstack([np.column_stack([x[:, k] for x in Xs]) for k in range(3)])
    m = spreg.Panel_RE_Error(Y, Xw, w)
    rho = float(m.lam)
else:
    import spreg
    w = g.to_W()
    Y = np.column_stack(ys)            # n x T (spreg's wide layout)
    Xw = np.hstack([np.column_stack([x[:, k] for x in Xs]) for k in range(3)])
    m = spreg.Panel_FE_Lag(Y, Xw, w)
    rho = float(np.asarray(m.rho).ravel()[0])
dt = time.perf_counter() - t0
print(json.dumps({"n": n, "T": T, "engine": engine, "seconds": dt, "rho": rho,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""".replace("import time,", "import json, time,")


def run(side: int, engine: str) -> dict:
    p = subprocess.run([sys.executable, "-c", CASE, str(side), engine], capture_output=True, text=True, timeout=1800)
    if p.returncode:
        return {"n": side * side, "engine": engine, "error": p.stderr.strip().splitlines()[-1] if p.stderr else "?"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    cases = [(55, "geoattr"), (100, "geoattr"), (55, "geoattr_sem_re"), (100, "geoattr_sem_re")]
    if "--no-spreg" not in sys.argv:
        cases.insert(1, (55, "spreg"))
        cases.insert(4, (55, "spreg_sem_re"))
    out = [run(s, e) for s, e in cases]
    for r in out:
        print(r)
    rec = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(), "results": out,
           "targets": "N=3,000 T=20 < 2 s and 1 GB; N=10,000 T=20 must fit", "models": "sar_fe; *_sem_re: sem_re"}
    path = HERE / "results_spatial_panel.json"
    hist = json.loads(path.read_text()) if path.exists() else []
    hist.append(rec)
    path.write_text(json.dumps(hist, indent=2))


if __name__ == "__main__":
    main()
