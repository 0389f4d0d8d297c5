"""Benchmark: the whole run on real Statistics Norway data (issue 4: target under 30 s).

Runs ``geoattr run`` on ``examples/norway.toml`` (2003-2016, stable units) and
``examples/norway_2003_2022.toml`` (2003-2022, stable units, cohort-residual net
migration) in subprocesses, records wall time and peak memory, and, for the ratio to
the engine we wrap, the commuting weights of one year built by geoattr and by libpysal's
``Graph.from_adjacency`` alone.
    .venv/bin/python benchmarks/bench_norway.py [DATA_DIR]
Appends a record to benchmarks/results_norway.json.  Needs ../shared/data/norway.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "norway"
    if not data_dir.exists():
        sys.exit(f"real data not found at {data_dir}")
    rows: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for name in ("norway.toml", "norway_2003_2022.toml"):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            subprocess.run([sys.executable, "-m", "geoattr.cli", "run", str(ROOT / "examples" / name), "--data-dir",
                            str(data_dir), "--out", tmp, "--no-progress"], check=True, capture_output=True)
            rows[f"geoattr run examples/{name}"] = time.perf_counter() - t0
            peaks[name] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            steps = json.loads((Path(tmp) / "run.json").read_text())["timings_seconds"]
            for k, v in steps.items():
                rows[f"  {name} step: {k}"] = v
    import pandas as pd
    from libpysal.graph import Graph

    from geoattr import weights as gw

    f = pd.read_csv(data_dir / "commuting" / "pendling_03321_2017_2022.csv.gz", dtype={"bosted": str,
                                                                                     "arbeidssted": str})
    f = f[f.year == 2022].rename(columns={"bosted": "origin", "arbeidssted": "destination", "sysselsatte": "count"})
    t0 = time.perf_counter()
    gw.commuting(f, year=2022)
    rows["commuting weights 2022 (geoattr)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Graph.from_adjacency(f.assign(share=f["count"] / f.groupby("origin")["count"].transform("sum")), "origin",
                         "destination", "share")
    rows["commuting weights 2022 (libpysal from_adjacency)"] = time.perf_counter() - t0
    ratio = rows["commuting weights 2022 (geoattr)"] / rows["commuting weights 2022 (libpysal from_adjacency)"]
    for k, v in rows.items():
        print(f"{k:<60}{v:>10.3f}")
    print("peak memory (MB):", {k: round(v) for k, v in peaks.items()}, f"ratio weights geoattr/libpysal {ratio:.2f}")
    rec = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cores": os.cpu_count(),
           "seconds": rows, "peak_mb": peaks, "ratio_weights_vs_libpysal": ratio, "target_seconds": 30}
    out = HERE / "results_norway.json"
    hist = json.loads(out.read_text()) if out.exists() else []
    hist.append(rec)
    out.write_text(json.dumps(hist, indent=2))


if __name__ == "__main__":
    main()
