"""Benchmark: the migration-choice multinomial logit on 10^6 synthetic person-years.

Target (issue 7): estimation under 60 s on 2 cores.  Three cases on the same data
(``synthetic_individuals(1_000_000, seed=2024)``, default specification: 30 terms x 2
equations), each in its own subprocess so that peak memory (ru_maxrss) is per case:

* ``statsmodels_direct``: ``MNLogit(endog, exog).fit(method="newton")`` on the dense
  person-year design (10^6 x 30, built beforehand and not timed) -- the engine geoattr wraps;
* ``geoattr``: ``fit_choice(df)`` from the DataFrame: validation, design building,
  separation checks, the fit (on the covariate patterns) and the covariance;
* ``geoattr_dense``: ``fit_choice(df, aggregate=False)``: the same wrapper handing the
  dense person-year design to ``MNLogit``.

    .venv/bin/python benchmarks/bench_choice.py [--n 1000000] [--threads 2]

``--threads`` sets the BLAS threads (OMP/OPENBLAS/MKL_NUM_THREADS) of every case; on a busy
shared machine one thread can be much faster than two for the dense fits.

Appends a record to benchmarks/results_choice.json (seconds, peak memory, the ratio of
each geoattr case to the direct statsmodels fit measured in the same run, the largest
coefficient difference, and the load average when the run started: the machine is shared).
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
import json, resource, sys, time, warnings
import numpy as np
from geoattr.datasets.individuals import synthetic_individuals
from geoattr.models.choice import build_design, fit_choice
n, engine = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
df, truth = synthetic_individuals(n, seed=2024)
generate = time.perf_counter() - t0
rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if engine == "statsmodels_direct":
    from statsmodels.discrete.discrete_model import MNLogit
    d = build_design(df)
    y, X = d.endog, d.full_exog()
    del d
    t0 = time.perf_counter()
    r = MNLogit(y, X).fit(method="newton", disp=0)
    cov = r.cov_params()
    seconds = time.perf_counter() - t0
    params = np.asarray(r.params).ravel(order="F")
    iterations = r.mle_retvals["iterations"]
else:
    t0 = time.perf_counter()
    r = fit_choice(df, aggregate=(engine == "geoattr"))
    cov = r.cov
    seconds = time.perf_counter() - t0
    params = r.params.to_numpy()
    iterations = r.iterations
z = (params - truth.to_numpy()) / np.sqrt(np.diag(np.asarray(cov)))
print(json.dumps({"n": n, "engine": engine, "seconds": seconds, "iterations": iterations,
                  "generate_seconds": generate, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_after_data_mb": rss_data, "max_abs_z_vs_truth": float(np.abs(z).max()),
                  "params": params.tolist()}))
"""


def run(n: int, engine: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    p = subprocess.run([sys.executable, "-c", CASE, str(n), engine], capture_output=True, text=True, timeout=3600,
                       env=env, cwd=HERE.parent)
    if p.returncode:
        return {"n": n, "engine": engine, "error": p.stderr.strip().splitlines()[-1] if p.stderr else "?"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    n = int(sys.argv[sys.argv.index("--n") + 1]) if "--n" in sys.argv else 1_000_000
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    load = os.getloadavg()[0]
    out = [run(n, e, threads) for e in ("statsmodels_direct", "geoattr", "geoattr_dense")]
    direct = next((r for r in out if r["engine"] == "statsmodels_direct" and "error" not in r), None)
    for r in out:
        if direct is not None and "error" not in r:
            r["ratio_to_statsmodels"] = r["seconds"] / direct["seconds"]
            r["max_abs_param_diff_vs_statsmodels"] = max(abs(a - b) for a, b in zip(r["params"], direct["params"]))
    for r in out:
        r.pop("params", None)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    rec = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(),
           "blas_threads": threads, "load_average_1min_at_start": load,
           "load_average_1min_at_end": os.getloadavg()[0], "results": out,
           "target": "10^6 person-years (30 terms x 2 equations) estimated in < 60 s on 2 cores",
           "notes": "seconds = estimation only (data generation reported separately); geoattr includes "
                    "validation, design building and separation checks; ratio = geoattr case / direct "
                    "statsmodels MNLogit on the prebuilt dense design, same run"}
    path = HERE / "results_choice.json"
    hist = json.loads(path.read_text()) if path.exists() else []
    hist.append(rec)
    path.write_text(json.dumps(hist, indent=2) + "\n")


if __name__ == "__main__":
    main()
