"""Benchmark (issue 20): exact ML lag / error / Durbin at N = 10^5 and 10^6 on a queen lattice.

Each case runs in its own subprocess (peak memory = that process's ``ru_maxrss``); every
record holds the reference measured in the same run: one real sparse LU of
``I - 0.4 W`` (scipy ``splu``, minimum-degree ordering) at the same N.  Wall and CPU time
are both recorded, with the Linux CPU pressure (the machine is shared).

    .venv/bin/python benchmarks/bench_million.py --sides 316 1000 --models lag error sdm

Appends a record to ``benchmarks/results_million.json`` (``--out`` for another file).  A case
``<model>-<method>`` fits with that log-determinant method, e.g. the approximations
``lag-chebyshev lag-mc error-chebyshev error-mc`` (item 2), with the exact fit in the same run
as their reference; ``<model>-reallu`` is the exact fit with CHOLMOD switched off (the real
sparse LU path), and the case ``cholmod`` one CHOLMOD factorisation (analysis included)::

    .venv/bin/python benchmarks/bench_million.py --sides 316 --out results_logdet.json \
        --models lag lag-chebyshev lag-mc error error-chebyshev error-mc

``--trace-memory`` records the fit's own allocations at their peak (``tracemalloc``, started
just before the fit: numpy's and scipy's arrays, not the allocations of SuperLU or
CHOLMOD), for target 5 (peak memory at most twice that of the graph plus the data): the
fit's peak is within target when it is at most ``data_mb``, the caller's graph + data.
``--shuffled`` numbers the lattice's units in a fixed random order (a graph whose ids carry
no geography, as a commuting network's), which the approximate fits reorder.
``--periods T`` fits the pooled model (``periods=T``) on T years of the lattice's data, each
year's X shifted and y perturbed by a fixed random draw; the reference ``splu`` and
``cholmod`` cases stay those of one period's ``I - 0.4 W``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _pressure() -> float | None:
    try:
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def child(case: str, side: int, *, trace_memory: bool = False, shuffled: bool = False, periods: int = 1) -> dict:
    """One case in this process: ``splu`` (the reference) or a fit (lag, error, sdm)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import numpy as np
    import scipy.sparse as sp
    from bench_ml import _data
    from scipy.sparse.linalg import splu
    from threadpoolctl import threadpool_limits

    from geoattr.models import ml_cholmod
    from geoattr.models.ml import ml_error, ml_lag
    from geoattr.models.ml_symmetry import symmetric_scaling

    model, _, method = case.partition("-")
    y, X, W = _data(side, "error" if model == "error" else "lag")
    if shuffled:  # the same graph and data with the units in a fixed random order
        p = np.random.default_rng(2026).permutation(W.shape[0])
        W = W[p][:, p].tocsr()
        W.sort_indices()
        y, X = y[p], X[p]
    if model == "sdm":
        X = np.column_stack([X, W @ X[:, 1:]])
    if periods > 1:  # T years stacked year by year: X shifted, y perturbed (fixed draws)
        rng = np.random.default_rng(1)
        X = np.vstack([X + 0.1 * t + rng.normal(scale=0.1, size=X.shape) * (t > 0) for t in range(periods)])
        X[:, 0] = 1.0
        y = np.concatenate([y + 0.05 * t + rng.normal(scale=0.1, size=y.shape[0]) for t in range(periods)])
    if trace_memory:
        import tracemalloc

        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, t0 = time.process_time(), time.perf_counter()
    out: dict = {"case": case, "n": int(W.shape[0])}
    if case == "splu":
        with threadpool_limits(1, user_api="blas"):
            lu = splu((sp.identity(W.shape[0], format="csc") - 0.4 * W).tocsc(), permc_spec="MMD_AT_PLUS_A",
                      diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        out["fill"] = int(lu.L.nnz + lu.U.nnz)
    elif case == "cholmod":  # one CHOLMOD factorisation of the symmetric matrix similar to I - 0.4 W
        with threadpool_limits(1, user_api="blas"):
            jac = ml_cholmod.CholmodJacobian(W, "lu", (-1.0, 1.0), symmetric_scaling(W))
            c0, t0 = time.process_time(), time.perf_counter()  # the analysis and factorisation only
            jac.logdet(0.4)
        # the peak before the factor is copied out to count its entries (a scipy copy of L: 0.9 GB at 10^6)
        factor_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["fill"] = int(jac._symbolic.L().nnz)  # noqa: SLF001 - the benchmark reads the factor's size
    else:
        if method == "reallu":  # the real-LU path with CHOLMOD switched off
            ml_cholmod.analyze, method = None, "auto"
        r = (ml_error if model == "error" else ml_lag)(y, X, W, method=method or "auto", periods=periods)
        out.update(params=r.params.tolist(), se=r.std_errors.tolist(), loglik=r.loglik,
                   logdet_approximation={k: v for k, v in r.extra.get("logdet_approximation", {}).items() if k != "note"},
                   logdet_points=r.extra.get("logdet_points"), trace_method=r.extra["trace_method"],
                   se_sensitivity=r.extra["se_sensitivity"])
    if trace_memory:
        out["fit_peak_traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out.update(seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0, maxrss_before_mb=before,
               maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               data_mb=(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes + y.nbytes + X.nbytes) / 2**20,
               cpu_pressure_avg10=_pressure())
    if case == "cholmod":
        out["maxrss_mb"] = factor_peak
    return out


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _system_blas() -> str | None:
    """The BLAS that the system's libcholmod links (Debian alternatives), if readable."""
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sides", type=int, nargs="+", default=[316, 1000])
    ap.add_argument("--models", nargs="+", default=["lag", "error", "sdm"])
    ap.add_argument("--out", default="results_million.json", help="results file in benchmarks/")
    ap.add_argument("--trace-memory", action="store_true", help="record the fit's own peak (tracemalloc)")
    ap.add_argument("--shuffled", action="store_true", help="units of the lattice in a random order")
    ap.add_argument("--periods", type=int, default=1, help="years of a pooled fit (default 1: the cross-section)")
    ap.add_argument("--note", default="", help="a note stored with the record")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), trace_memory=a.trace_memory, shuffled=a.shuffled,
                               periods=a.periods)))
        return
    import numpy
    import scipy

    rec: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
                 "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                              "scipy": scipy.__version__, "scikit-sparse": _version("scikit-sparse"),
                              "blas (CHOLMOD)": _system_blas()},
                 "options": {"trace_memory": a.trace_memory, "shuffled": a.shuffled, "periods": a.periods},
                 "cases": []}
    if a.note:
        rec["note"] = a.note
    flags = [*(["--trace-memory"] if a.trace_memory else []), *(["--shuffled"] if a.shuffled else []),
             "--periods", str(a.periods)]
    for side in a.sides:
        for case in ["splu", *(["cholmod"] if _version("scikit-sparse") else []), *a.models]:
            p = subprocess.run([sys.executable, __file__, "--child", case, str(side), *flags], capture_output=True,
                               text=True)
            if p.returncode:
                res = {"case": case, "n": side * side, "error": (p.stderr.strip().splitlines() or ["?"])[-1]}
            else:
                res = json.loads(p.stdout.strip().splitlines()[-1])
            rec["cases"].append(res)
            print({k: v for k, v in res.items() if k not in ("params", "se")}, flush=True)
    path = HERE / a.out
    hist = json.loads(path.read_text()) if path.exists() else []
    hist.append(rec)
    path.write_text(json.dumps(hist, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
