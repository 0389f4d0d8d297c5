"""Benchmark: `geoattr demo` end to end, and its main steps (weights, VRA, estimation).

Target (issue 2): the demo end to end under 20 s on 2 cores.  The demo has since grown
the analyses of the complete model (subgroups, decomposition, barometer, drivers,
uncertainty, regimes) and the 27-model specification comparison; the script records
the time of each step so the core job and the additions can be compared with the target.  Run with
``.venv/bin/python benchmarks/bench_pipeline.py``; it prints a table and appends the
measurements to ``benchmarks/results_pipeline.json``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from libpysal.graph import Graph

from geoattr import variables as V
from geoattr import weights as gw
from geoattr.models.ols import estimate
from geoattr.pipeline import synthetic_panel_data

HERE = Path(__file__).resolve().parent


def _timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    rows = {}
    t0 = time.perf_counter()
    data = synthetic_panel_data()
    rows["load synthetic data"] = time.perf_counter() - t0
    flows = data.flows[data.flows.year == 2020]
    rows["commuting weights, one year (geoattr)"] = _timed(lambda: gw.commuting(flows, year=2020, ids=data.units))

    def libpysal_only():
        f = flows.assign(share=flows["count"] / flows.groupby("origin")["count"].transform("sum"))
        Graph.from_adjacency(f, "origin", "destination", "share")

    rows["commuting weights, one year (libpysal from_adjacency)"] = _timed(libpysal_only)
    rows["design 2022 (RA, VRA lags, DS, 21 matrices)"] = _timed(lambda: V.build_design(data, "2022"), repeat=1)
    rows["pooled OLS 2022 municipality"] = _timed(lambda: estimate(data, "2022"), repeat=1)
    rows["pooled OLS 2022 region (aggregation included)"] = _timed(lambda: estimate(data, "2022", unit_level="region"),
                                                                   repeat=1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "geoattr.cli", "demo", "--out", tmp, "--no-progress"], check=True,
                       capture_output=True)
        rows["geoattr demo end to end (subprocess)"] = time.perf_counter() - t0
        steps = json.loads((Path(tmp) / "run.json").read_text())["timings_seconds"]
        for k, v in steps.items():
            rows[f"  demo step: {k}"] = v
        core = sum(v for k, v in steps.items() if k not in ("analyses", "comparison", "total"))
        rows["  demo core (issue 2 scope: read, estimate, by year, attractiveness, map)"] = core
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'step':<58}{'seconds':>10}")
    for k, v in rows.items():
        print(f"{k:<58}{v:>10.3f}")
    ratio = rows["commuting weights, one year (geoattr)"] / rows["commuting weights, one year (libpysal from_adjacency)"]
    print(f"ratio geoattr/libpysal (commuting weights): {ratio:.2f}")
    print(f"peak memory of the demo subprocess: {peak_mb:.0f} MB")
    rec = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
           "cores": os.cpu_count(), "seconds": rows, "ratio_weights_vs_libpysal": ratio,
           "demo_peak_mb": peak_mb, "target_demo_seconds": 20}
    out = HERE / "results_pipeline.json"
    hist = json.loads(out.read_text()) if out.exists() else []
    hist.append(rec)
    out.write_text(json.dumps(hist, indent=2))


if __name__ == "__main__":
    main()
