"""Experiment (issue 20, target 5): an exact log-determinant whose factors are discarded (MUMPS).

Not a benchmark of geoattr and not run by ``make bench``: it measures how much memory an
exact factorisation needs when it keeps no factor, to tell whether any exact fit could hold
at most twice graph + data (docs/performance.rst, "A factorisation that discards its fronts").

MUMPS (sequential, Debian's ``libmumps-seq-dev``) factorises the symmetric positive definite
``I - rho S`` similar to ``I - rho W`` on the queen lattice of ``bench_ml.py`` with
``ICNTL(31) = 1`` (factors discarded) and ``ICNTL(33) = 1`` (determinant), and the log-determinant
is compared with CHOLMOD's (geoattr's engine) in the same process.  The binding is ``pymumps``,
built against the sequential library::

    apt-get install libmumps-seq-dev
    L=/usr/lib/x86_64-linux-gnu
    pip install pymumps==0.4.0 --no-binary pymumps \\
        --config-settings=cmake.define.DMUMPS_LIB=$L/libdmumps_seq.so \\
        --config-settings=cmake.define.SMUMPS_LIB=$L/libsmumps_seq.so \\
        --config-settings=cmake.define.CMUMPS_LIB=$L/libcmumps_seq.so \\
        --config-settings=cmake.define.ZMUMPS_LIB=$L/libzmumps_seq.so

Usage: ``python benchmarks/experiment_mumps.py [--side 1000] [--ordering 3]`` (7 = automatic,
3 = SCOTCH, 4 = PORD); appends a record to ``benchmarks/results_mumps.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_ml import _data  # noqa: E402

from geoattr.models.ml_cholmod import large_n_jacobian  # noqa: E402
from geoattr.models.ml_symmetry import symmetric_scaling  # noqa: E402

USE_COMM_WORLD = -987654  # the sequential MUMPS ignores the communicator


class _SequentialComm:
    """What ``mumps.DMumpsContext`` reads of an MPI communicator (the sequential library has none)."""

    rank = 0

    def py2f(self) -> int:
        return USE_COMM_WORLD


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    import mumps

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=1000)
    ap.add_argument("--ordering", type=int, default=3, help="ICNTL(7): 3 SCOTCH, 4 PORD, 7 automatic")
    ap.add_argument("--rho", type=float, nargs="+", default=[0.4, 0.6])
    a = ap.parse_args()
    _, _, W = _data(a.side, "lag")
    n = W.shape[0]
    graph_mb = (W.data.nbytes + W.indices.nbytes + W.indptr.nbytes) / 2**20
    h = np.sqrt(symmetric_scaling(W))
    S = (sp.diags(1.0 / h) @ W @ sp.diags(h)).tocoo()
    low = S.row > S.col  # MUMPS reads one triangle of a symmetric matrix (1-based coordinates)
    irn = np.concatenate([np.arange(1, n + 1), S.row[low] + 1]).astype(np.int32)
    jcn = np.concatenate([np.arange(1, n + 1), S.col[low] + 1]).astype(np.int32)
    off = S.data[low]
    del S, low
    values = np.empty(len(irn))
    rec: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "machine": f"{platform.machine()}, {platform.platform()}", "n": n, "graph_mb": graph_mb,
                 "ordering": a.ordering, "points": []}
    ctx = mumps.DMumpsContext(par=1, sym=1, comm=_SequentialComm())  # sym=1: positive definite
    ctx.set_silent()
    ctx.id.n, ctx.id.nz = n, len(values)
    ctx.id.irn, ctx.id.jcn, ctx.id.a = ctx.cast_array(irn), ctx.cast_array(jcn), ctx.cast_array(values)
    for k, v in ((7, a.ordering), (28, 1), (31, 1), (33, 1)):  # sequential analysis, factors discarded, det
        ctx.set_icntl(k, v)
    rec["resident_before_mb"] = _resident_mb()
    t0 = time.perf_counter()
    ctx.run(job=1)
    rec.update(analysis_seconds=time.perf_counter() - t0, ordering_used=int(ctx.id.infog[6]),
               resident_after_analysis_mb=_resident_mb())
    for rho in a.rho:
        values[:n], values[n:] = 1.0, -rho * off
        t0 = time.perf_counter()
        ctx.run(job=2)
        seconds = time.perf_counter() - t0
        ld = float(np.log(ctx.id.rinfog[11]) + ctx.id.infog[33] * np.log(2.0))  # mantissa * 2^exponent
        rec["points"].append({"rho": rho, "factor_seconds": seconds, "logdet": ld,
                              "working_mb_infog18_22": [int(ctx.id.infog[17]), int(ctx.id.infog[21])],
                              "resident_mb": _resident_mb()})
    ctx.destroy()
    rec["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jac = large_n_jacobian(W, "lu", (-1.0, 1.0))  # the engine's CHOLMOD value, after MUMPS's peak
    for p in rec["points"]:
        ref = jac.logdet(p["rho"])
        p["cholmod_logdet"], p["relative_difference"] = ref, abs(p["logdet"] - ref) / abs(ref)
    print(json.dumps(rec, indent=1))
    path = HERE / "results_mumps.json"
    hist = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*hist, rec], indent=2))


if __name__ == "__main__":
    main()
