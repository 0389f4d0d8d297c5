"""Benchmark: a 10-year projection of every unit with 1,000 draws (issue 18: under 10 s on 2 cores).

Fits the 2022 model on the embedded synthetic Norway (356 municipalities, cohort-component
mode: population by age and sex, births, deaths, ds recomputed) and times
:func:`geoattr.forecast` (launch state, baseline projection, 1,000 simulation draws, the
summary table) with one worker, without and with a scenario, and with 2 workers.  When
``../shared/data/norway`` exists it also times the SSB data (353 units, total-population
mode).  Wall time, process CPU time and the peak memory added by the call (tracemalloc)
are recorded (memory in a second run); the machine is shared, so CPU time (of the main
process: with 2 workers the workers' time is not counted) is the steadier figure, and the
load average is recorded with it.

Run with ``.venv/bin/python benchmarks/bench_forecast.py``; it prints a table and appends
the measurements to ``benchmarks/results_forecast.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import geoattr  # noqa: E402
from geoattr.pipeline import ssb_panel_data, synthetic_panel_data  # noqa: E402

REAL = HERE.parents[1] / "shared" / "data" / "norway"
LIMIT_SECONDS = 10.0


def _time(fit, **kw) -> dict:
    w0, c0 = time.perf_counter(), time.process_time()
    res = geoattr.forecast(fit, horizon=10, draws=1000, seed=0, **kw)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    tracemalloc.start()  # a second run for the memory (tracemalloc slows the allocations down)
    geoattr.forecast(fit, horizon=10, draws=1000, seed=0, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "peak_mb": round(peak / 2**20, 1),
            "units": int(res.info["n_units"]), "mode": res.info["mode"], "rows": len(res.forecast),
            "under_limit": wall < LIMIT_SECONDS}


def main() -> None:
    cases = {}
    fit = geoattr.estimate(synthetic_panel_data(), "2022")
    cases["synthetic 356, 1 worker"] = _time(fit)
    cases["synthetic 356, 1 worker, 1 scenario"] = _time(fit, scenarios=[{"name": "s", "unit": "0301", "year": 2025,
                                                                         "jobs": 100}])
    cases["synthetic 356, 2 workers"] = _time(fit, n_jobs=2)
    if REAL.exists():
        data = ssb_panel_data({"source": "ssb", "panel": "2003-2016", "units": "stable"}, REAL)
        cases["SSB 353 (2019, region), 1 worker"] = _time(geoattr.estimate(data, "2019", unit_level="region",
                                                                           years=(2006, 2016), commuting_year=2017))
    for name, c in cases.items():
        print(f"{name:<40} wall {c['wall_seconds']:>7.2f} s  cpu {c['cpu_seconds']:>7.2f} s  "
              f"peak {c['peak_mb']:>7.1f} MB  {'ok' if c['under_limit'] else 'OVER ' + str(LIMIT_SECONDS) + ' s'}")
    record = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
              "cores": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
              "python": platform.python_version(), "horizon": 10, "draws": 1000, "limit_seconds": LIMIT_SECONDS,
              "cases": cases}
    path = HERE / "results_forecast.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    runs.append(record)
    path.write_text(json.dumps(runs, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
