"""Benchmark: the robustness battery's bootstrap on the region-level model, against its engine.

Target (issue 6): 200 bootstrap replications of ``estimate(data, "2022", unit_level="region")``
(73 regions x 21 years of the embedded synthetic Norway) in under 60 s on 2 cores.

Cases, each in its own subprocess so peak memory (``ru_maxrss``, worker processes
included through ``RUSAGE_CHILDREN``) is per case:

* ``pairs`` / ``wild`` / ``pairs+wild``: ``robustness(fit, variants=["bootstrap"], ...)``
  with 200 replications, serial and on 2 worker processes, ranks of the 356
  municipalities included; ``tracemalloc`` peak of a second, traced run;
* ``engine``: 200 pairs-bootstrap refits with the estimator ``estimate`` wraps
  (linearmodels ``PooledOLS``, clustered covariance), each on a resampled design whose
  rows are stacked from the drawn regions: what a bootstrap that refits the library
  estimator costs, without even rebuilding the design;
* ``estimate_cold``: one ``estimate(data, "2022", unit_level="region")`` on fresh data
  (aggregation, weights, VRA, DS, fit): the cost per replication of a bootstrap that
  rebuilt the design each time;
* ``battery``: every family with the defaults (999 + 999 replications, 199 placebo
  permutations, 21 + 73 leave-one-out fits, 8 weights and 5 estimator variants), 2 workers.

Run with ``.venv/bin/python benchmarks/bench_robustness.py``; it prints the records and
appends them to ``benchmarks/results_robustness.json``.
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
import json, resource, sys, time, tracemalloc, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from geoattr.pipeline import synthetic_panel_data
from geoattr.models.ols import estimate
case, n_jobs = sys.argv[1], int(sys.argv[2])
R = 200
data = synthetic_panel_data()
t0 = time.perf_counter()
fit = estimate(data, "2022", unit_level="region")
t_fit = time.perf_counter() - t0
out = {"case": case, "n_jobs": n_jobs, "replications": R, "clusters": int(fit.design.y.index.get_level_values(0).nunique()),
       "nobs": int(fit.results.nobs), "estimate_seconds": t_fit}
if case in ("pairs", "wild", "pairs+wild"):
    from geoattr.robustness import robustness
    methods = case.split("+")
    kw = dict(variants=["bootstrap"], bootstrap=methods, reps=R, n_jobs=n_jobs, progress=False, seed=1)
    robustness(fit, **{**kw, "reps": 39, "n_jobs": 1})  # warm-up (imports)
    t0 = time.perf_counter()
    res = robustness(fit, **kw)
    out["seconds"] = time.perf_counter() - t0
    out["seconds_per_replication"] = out["seconds"] / (R * len(methods))
    tracemalloc.start()
    robustness(fit, **{**kw, "n_jobs": 1})
    out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["vra_interval"] = [float(v) for v in res.coefficients.query("variant == @methods[0] and term == 'vra'")[["lower", "upper"]].iloc[0]]
elif case == "engine":
    from linearmodels.panel import PooledOLS
    d = fit.design
    units = d.y.index.get_level_values("unit")
    codes, uniq = pd.factorize(units)
    rows = [np.flatnonzero(codes == g) for g in range(len(uniq))]
    X, y = d.X.to_numpy(float), d.y.to_numpy(float)
    years = d.y.index.get_level_values("year").to_numpy()
    G = len(uniq)
    B = np.empty((R, X.shape[1]))
    t0 = time.perf_counter()
    for r in range(R):
        rng = np.random.default_rng(np.random.SeedSequence(1, spawn_key=(1, r)))
        draw = rng.integers(0, G, G)
        idx = np.concatenate([rows[g] for g in draw])
        ent = np.repeat(np.arange(G), [len(rows[g]) for g in draw])  # a drawn region twice = two clusters
        mi = pd.MultiIndex.from_arrays([ent, years[idx]], names=["unit", "year"])
        res = PooledOLS(pd.Series(y[idx], index=mi), pd.DataFrame(X[idx], index=mi, columns=d.X.columns),
                        check_rank=False).fit(cov_type="clustered", cluster_entity=True)
        B[r] = res.params.to_numpy()
    out["seconds"] = time.perf_counter() - t0
    out["seconds_per_replication"] = out["seconds"] / R
elif case == "estimate_cold":
    fresh = synthetic_panel_data()
    t0 = time.perf_counter()
    estimate(fresh, "2022", unit_level="region")
    out["seconds"] = time.perf_counter() - t0
    out["seconds_per_replication"] = out["seconds"]
elif case == "battery":
    from geoattr.robustness import robustness
    t0 = time.perf_counter()
    res = robustness(fit, n_jobs=n_jobs, progress=False, seed=1)
    out["seconds"] = time.perf_counter() - t0
    out["timings"] = res.timings
    out["variants"] = res.rank_stability.groupby("kind").size().astype(int).to_dict()
    out["skipped"] = res.skipped
    out["replications"] = {"bootstrap": res.settings["reps"], "placebo": res.settings["placebo_reps"]}
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["max_rss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def run(case: str, n_jobs: int) -> dict:
    p = subprocess.run([sys.executable, "-c", CASE, case, str(n_jobs)], capture_output=True, text=True, timeout=3600,
                       cwd=HERE.parent)
    if p.returncode:
        return {"case": case, "n_jobs": n_jobs, "error": p.stderr.strip().splitlines()[-1] if p.stderr else "?"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    cases = [("pairs", 2), ("pairs", 1), ("wild", 2), ("pairs+wild", 2), ("engine", 1), ("estimate_cold", 1)]
    if "--no-battery" not in sys.argv:
        cases.append(("battery", 2))
    out = [run(c, j) for c, j in cases]
    for r in out:
        print(r)
    by = {(r["case"], r["n_jobs"]): r for r in out if "error" not in r}
    ratios = {}
    if ("pairs", 2) in by and ("engine", 1) in by:
        ours = by[("pairs", 2)]["seconds"]
        ratios["engine_refits_over_pairs_2_workers"] = by[("engine", 1)]["seconds"] / ours
    if ("pairs", 1) in by and ("engine", 1) in by:
        ratios["engine_refits_over_pairs_serial"] = by[("engine", 1)]["seconds"] / by[("pairs", 1)]["seconds"]
    if ("pairs", 1) in by and ("estimate_cold", 1) in by:
        ratios["rebuilt_design_refits_over_pairs_serial"] = (
            200 * by[("estimate_cold", 1)]["seconds"] / by[("pairs", 1)]["seconds"])
    rec = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(),
           "target": "200 bootstrap replications of the region-level model < 60 s on 2 cores",
           "model": "2022 specification, region level (73 regions x 21 years), synthetic Norway",
           "results": out, "ratios": ratios}
    print(json.dumps(ratios, indent=2))
    path = HERE / "results_robustness.json"
    hist = json.loads(path.read_text()) if path.exists() else []
    hist.append(rec)
    path.write_text(json.dumps(hist, indent=2))


if __name__ == "__main__":
    main()
