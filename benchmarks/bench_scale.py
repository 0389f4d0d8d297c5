"""Benchmark (issue 8): commuting weights from 10^8-row OD tables and models with 10^5-10^6 units.

Three parts, each measurement in its own subprocess so that the peak resident set size
(``ru_maxrss``, the whole process: Python, numpy, DuckDB) belongs to that step alone:

(a) ``--rows`` (default 10^8) OD rows between fine zones, aggregated through a lookup
    to ``rows / 1000`` analysis units (10^5), to row-standardised commuting weights with
    ``commuting_from_files(engine="duckdb", memory_limit=..., threads=2)``.  Target:
    under 60 s and 4 GB on 2 cores.  The same step with the Dask engine, and on a
    table that fits in memory (``--compare-rows``, default 10^7) with every path: DuckDB,
    Dask, the pandas engine, "geoattr today" (pandas read + merge + group-by +
    ``geoattr.weights.commuting`` -> Graph) and libpysal ``Graph.from_adjacency`` on
    the fine-level rows (the issue's baseline), with the ratios to DuckDB.
(b) The pooled VRA model (const, VRA t, t-1, t-2, centrality) on N = 10^5 units x T = 20
    years plus the spatial lag model (geoattr's sparse ML, ``fit_spatial(model="sar")``)
    with the off-diagonal commuting W from (a).  Target: under 2 minutes.  y is simulated
    from a known SAR model, so the estimates can be checked against the truth.
(c) Growth with N (``--growth``, default 10^3, 10^4, 10^5, 10^6 units; 100 OD rows and 20
    fine zones per unit): time and peak memory of the weights and of the model steps,
    plotted log-log.
(d) Where the ML spatial lag does not fit (N = 10^6: its sparse LU needs more than the
    16 GB cap): VRA + spatial 2SLS (``fit_gmm(model="gmm_lag")``, spreg ``GM_Lag``,
    sparse products only) on N = ``--gmm-units`` x T = ``--gmm-T`` (default 10^6 x 2),
    y simulated from the same SAR model.

Synthetic data are written once (in chunks) under ``--data-dir`` (default
``/tmp/geoattr_bench_scale``) and reused; ``--clean`` deletes them at the end.  Results go
to ``benchmarks/results_scale.json`` and the plot to ``benchmarks/scale_loglog.png``.

    .venv/bin/python benchmarks/bench_scale.py                    # everything (~40 min the first time)
    .venv/bin/python benchmarks/bench_scale.py --rows 1e6 --growth 1000,10000 --compare-rows 1e5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


# ----------------------------------------------------------------------------- workers (run in subprocesses)
def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: kB


def _current_rss_gb() -> float:
    """The process's resident memory now (VmRSS), in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def _dataset(p: dict) -> Path:
    return Path(p["data_dir"]) / f"od_rows{p['rows']}_units{p['units']}_fine{p['fine']}"


def worker_gen(p: dict) -> dict:
    from geoattr.datasets.large import write_gravity_od

    t0 = time.perf_counter()
    write_gravity_od(_dataset(p), n_fine=p["fine"], n_units=p["units"], rows=p["rows"], seed=0,
                     chunk_rows=2_000_000)
    return {"seconds": time.perf_counter() - t0}


def worker_weights(p: dict) -> dict:
    import numpy as np
    import pandas as pd

    from geoattr.weights import commuting_from_files

    d = _dataset(p)
    kw = {"engine": p["engine"], "threads": p["threads"], "as_graph": False}
    if p["engine"] == "duckdb":
        kw["memory_limit"] = p["memory_limit"]
    if p["engine"] == "pandas":
        kw.pop("threads")
    cluster = client = None
    t0 = time.perf_counter()
    if p["engine"] == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=p["threads"], threads_per_worker=1, processes=False,
                               dashboard_address=":0")
        client = Client(cluster)
        kw["client"] = client
        kw.pop("threads")
    t1 = time.perf_counter()
    lookup = pd.read_parquet(d / "lookup.parquet")
    cm = commuting_from_files(d / "od", lookup=lookup, **kw)
    secs = time.perf_counter() - t1
    if client is not None:
        client.close()
        cluster.close()
    if p.get("save"):
        np.savez(p["save"], data=cm.matrix.data, indices=cm.matrix.indices, indptr=cm.matrix.indptr,
                 ids=np.asarray(cm.ids, dtype=str))
    return {"seconds": secs, "cluster_start_seconds": t1 - t0, "peak_rss_gb": _rss_gb(), "units": cm.n_units,
            "nnz": cm.nnz, "rows_read": cm.account.read, "isolates": int(len(cm.isolates))}


def worker_today(p: dict) -> dict:
    """What a user does today: read everything with pandas, merge the lookup, group, build the Graph."""
    import glob

    import pandas as pd

    from geoattr import weights as gw

    d = _dataset(p)
    t0 = time.perf_counter()
    lookup = pd.read_parquet(d / "lookup.parquet").set_index("fine")["unit"]
    df = pd.read_parquet(sorted(glob.glob(str(d / "od" / "*.parquet"))), columns=["origin", "destination", "count"])
    df["origin"] = df["origin"].map(lookup)
    df["destination"] = df["destination"].map(lookup)
    agg = df.groupby(["origin", "destination"], as_index=False)["count"].sum()
    del df
    g = gw.commuting(agg)
    return {"seconds": time.perf_counter() - t0, "peak_rss_gb": _rss_gb(), "units": len(g.unique_ids),
            "nnz": int(g.n_edges)}


def worker_from_adjacency(p: dict) -> dict:
    """The issue's baseline: libpysal Graph.from_adjacency on the fine-level rows (no aggregation)."""
    import glob

    import pandas as pd
    from libpysal.graph import Graph

    d = _dataset(p)
    t0 = time.perf_counter()
    df = pd.read_parquet(sorted(glob.glob(str(d / "od" / "*.parquet"))), columns=["origin", "destination", "count"])
    df["share"] = df["count"] / df.groupby("origin")["count"].transform("sum")
    g = Graph.from_adjacency(df, "origin", "destination", "share")
    return {"seconds": time.perf_counter() - t0, "peak_rss_gb": _rss_gb(), "units": int(g.n), "nnz": int(g.n_edges)}


def _progress(step: str) -> None:
    """A progress line on stderr (the driver keeps the last ones when a worker fails)."""
    print(f"progress: {step} done, peak RSS {_rss_gb():.2f} GB", file=sys.stderr, flush=True)


def _cap(p: dict) -> None:
    if p.get("memory_cap_gb"):  # address-space cap: a MemoryError instead of a machine out of memory
        cap = int(p["memory_cap_gb"] * 1e9)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _model_data(p: dict):
    """W from the saved weights, VRA lags 0-2 by ``vra_sparse`` (timed), centrality, X and the truth."""
    import numpy as np
    import pandas as pd
    from scipy import sparse

    from geoattr.datasets.large import gravity_jobs, gravity_units
    from geoattr.variables import vra_sparse
    from geoattr.weights import SparseWeights

    z = np.load(p["weights"])
    ids = pd.Index(z["ids"].astype(object))
    N = len(ids)
    m = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(N, N))
    cm = SparseWeights(matrix=m, ids=ids)
    T = p["T"]
    years = list(range(2000, 2000 + T + 3))
    rows = ids.astype(np.int64).to_numpy()  # unit ids are the generator's integers
    jobs = gravity_jobs(p["units"], years, seed=0)[rows]
    mass = gravity_units(p["units"], seed=0)["mass"].to_numpy()[rows]
    out: dict = {"units": N, "T": T, "nobs": N * T}

    t0 = time.perf_counter()
    v = vra_sparse(cm, jobs)  # commuting weights with the diagonal (MODEL.md)
    out["vra_seconds"] = time.perf_counter() - t0
    _progress(f"VRA ({out['vra_seconds']:.1f} s)")
    sl = slice(3, 3 + T)
    cent = np.log(mass)
    cent = (cent - cent.mean()) / cent.std()
    X = np.column_stack([np.ones(N * T)] + [v[k][:, sl].T.ravel() for k in ("vra", "vra_l1", "vra_l2")]
                        + [np.tile(cent, T)])
    names = ["const", "vra", "vra_l1", "vra_l2", "centrality"]
    beta = np.array([0.1, 0.15, 0.1, 0.05, 0.5])
    rho = 0.3
    W = cm.without_diagonal()  # the spatial-lag W: off-diagonal shares renormalised (MODEL.md)
    idx = pd.MultiIndex.from_arrays([np.tile(np.asarray(ids, dtype=object), T),
                                     np.repeat(np.arange(2003, 2003 + T), N)], names=["unit", "year"])
    out["true"] = dict(zip([*names, "rho"], [*beta.tolist(), rho]))
    return out, W, X, names, beta, rho, idx


def worker_model(p: dict) -> dict:
    _cap(p)
    import numpy as np
    import pandas as pd
    from scipy import sparse
    from scipy.sparse.linalg import splu

    from geoattr.models.ols import LeastSquares
    from geoattr.models.spatial import fit_spatial
    from geoattr.variables import Design

    out, W, X, names, beta, rho, idx = _model_data(p)
    N, T = out["units"], out["T"]
    t1 = time.perf_counter()
    if p.get("sar_method", "auto") == "auto":
        lu = splu(sparse.identity(N, format="csc") - rho * W.matrix.tocsc())
        rng = np.random.default_rng(1)
        Xb = (X @ beta).reshape(T, N)
        y = np.concatenate([lu.solve(Xb[t] + rng.normal(0.0, 1.0, N)) for t in range(T)])
        del lu
    else:  # no LU in the process whose peak memory is that of the approximate fit
        y = _simulate_neumann(W, X, beta, rho, N, T)
    out["simulate_seconds"] = time.perf_counter() - t1
    _progress(f"simulate y ({out['simulate_seconds']:.1f} s)")

    t2 = time.perf_counter()
    ys = pd.Series(y, index=idx, name="y")
    Xd = pd.DataFrame(X, index=idx, columns=names)
    design = Design(y=ys, X=Xd, population=pd.Series(1.0, index=idx), spec="2019+sim", unit_level="unit",
                    years=(2003, 2003 + T - 1))
    ols = LeastSquares(design).fit(cov_type="clustered")
    out["ols_seconds"] = time.perf_counter() - t2
    _progress(f"pooled OLS ({out['ols_seconds']:.1f} s)")
    out["rss_before_sar_gb"] = _current_rss_gb()  # the fit's own peak is peak_rss_gb minus this
    out["data_gb"] = (X.nbytes + y.nbytes) / 1e9  # y and the regressors, once
    out["graph_gb"] = (W.matrix.data.nbytes + W.matrix.indices.nbytes + W.matrix.indptr.nbytes) / 1e9
    t3 = time.perf_counter()
    sar = fit_spatial(ys, Xd, W, model="sar", method=p.get("sar_method", "auto"))
    out["sar_method"] = p.get("sar_method", "auto")
    out["sar_seconds"] = time.perf_counter() - t3
    out["model_seconds"] = out["vra_seconds"] + out["ols_seconds"] + out["sar_seconds"]
    out["peak_rss_gb"] = _rss_gb()
    out["sar_estimate"] = {k: float(v) for k, v in sar.params.items()}
    out["sar_se"] = {k: float(v) for k, v in sar.bse.items()}
    out["ols_estimate"] = {k: float(v) for k, v in ols.params.items()}
    out["sar_notes"] = list(sar.notes)
    return out


def _simulate_neumann(W, X, beta, rho: float, N: int, T: int):
    """y = (I - rho W)^-1 (X b + e) period by period by its Neumann series (rho^41 < 1e-21)."""
    import numpy as np

    rng = np.random.default_rng(1)
    ys = []
    for t in range(T):
        u = X[t * N:(t + 1) * N] @ beta + rng.normal(0.0, 1.0, N)
        y, term = u.copy(), u
        for _ in range(40):
            term = rho * (W.matrix @ term)
            y += term
        ys.append(y)
    return np.concatenate(ys)


def worker_gmm(p: dict) -> dict:
    """VRA + spatial 2SLS (``fit_gmm(model="gmm_lag")``, spreg GM_Lag): sparse products only."""
    _cap(p)
    import numpy as np
    import pandas as pd

    from geoattr.models.spatial import fit_gmm

    out, W, X, names, beta, rho, idx = _model_data(p)
    N, T = out["units"], out["T"]
    t1 = time.perf_counter()
    y = _simulate_neumann(W, X, beta, rho, N, T)
    out["simulate_seconds"] = time.perf_counter() - t1
    _progress(f"simulate y ({out['simulate_seconds']:.1f} s)")
    t2 = time.perf_counter()
    r = fit_gmm(pd.Series(y, index=idx), pd.DataFrame(X, index=idx, columns=names), W,
                model="gmm_lag")
    out["gmm_seconds"] = time.perf_counter() - t2
    out["model_seconds"] = out["vra_seconds"] + out["gmm_seconds"]
    out["peak_rss_gb"] = _rss_gb()
    out["gmm_estimate"] = {k: float(v) for k, v in r.params.items()}
    out["gmm_se"] = {k: float(np.sqrt(r.cov.loc[k, k])) for k in r.params.index}
    return out


WORKERS = {"gen": worker_gen, "weights": worker_weights, "today": worker_today,
           "from_adjacency": worker_from_adjacency, "model": worker_model, "gmm": worker_gmm}


# ----------------------------------------------------------------------------- driver
def run(task: str, params: dict, *, timeout: float = 3600) -> dict:
    """Run a worker in a fresh interpreter; its last stdout line is the JSON result."""
    cmd = [PY, str(Path(__file__).resolve()), "--worker", task, "--params", json.dumps(params)]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return {"error": f"exit {r.returncode}: {' | '.join(lines[-2:])}", "wall_seconds": time.perf_counter() - t0,
                "progress": [ln for ln in lines if ln.startswith("progress:")]}
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["wall_seconds"] = time.perf_counter() - t0
    return res


def _p(args, rows: int, units: int, fine: int, **kw) -> dict:
    return {"data_dir": args.data_dir, "rows": rows, "units": units, "fine": fine, "threads": args.threads,
            "memory_limit": args.memory_limit, **kw}


def _show(label: str, r: dict) -> None:
    if "error" in r:
        print(f"  {label:<46} ERROR {r['error']}", flush=True)
        return
    secs = r.get("seconds", r.get("model_seconds", float("nan")))
    print(f"  {label:<46} {secs:8.1f} s  {r.get('peak_rss_gb', float('nan')):6.2f} GB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e8, help="OD rows of part (a) (default 1e8)")
    ap.add_argument("--compare-rows", type=float, default=1e7, help="rows of the all-engines comparison")
    ap.add_argument("--growth", default="1000,10000,100000,1000000", help="unit counts of part (c)")
    ap.add_argument("--T", type=int, default=20, help="years of the pooled models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit (default 3GB: process under 4 GB)")
    ap.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "geoattr_bench_scale"))
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,compare,b,c,d")
    ap.add_argument("--pandas-full", action="store_true", help="also run the pandas engine on --rows")
    ap.add_argument("--out", default=str(HERE / "results_scale.json"))
    ap.add_argument("--plot", default=str(HERE / "scale_loglog.png"))
    ap.add_argument("--model-memory-cap", type=float, default=16.0,
                    help="address-space cap (GB) of the model workers, so N = 10^6 fails cleanly if it does not fit")
    ap.add_argument("--gmm-units", default="1e6", help="units of part (d), the spatial 2SLS (default 10^6)")
    ap.add_argument("--gmm-T", type=int, default=2, help="years of part (d) (default 2)")
    ap.add_argument("--sar-method", default="auto",
                    help="log-determinant of part (c)'s spatial lag: auto (exact) or the approximations mc, chebyshev")
    ap.add_argument("--update", action="store_true", help="update the parts run in an existing --out file")
    ap.add_argument("--clean", action="store_true", help="delete the generated data at the end")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.params))))
        return

    skip = set(filter(None, args.skip.split(",")))
    rows = int(args.rows)
    units = max(10, rows // 1000)
    fine = rows // 10
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    res: dict = json.loads(Path(args.out).read_text()) if args.update and Path(args.out).exists() else {}
    res.update({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {"threads": args.threads, "duckdb_memory_limit": args.memory_limit, "T": args.T,
                     "model_memory_cap_gb": args.model_memory_cap},
    })
    try:
        import duckdb
        import libpysal

        res["versions"] = {"duckdb": duckdb.__version__, "libpysal": libpysal.__version__}
    except ImportError:  # pragma: no cover
        pass

    if "a" not in skip or "b" not in skip:
        print(f"(a) {rows:,} OD rows, {fine:,} fine zones -> {units:,} units", flush=True)
        g = run("gen", _p(args, rows, units, fine))
        _show("generate (cached after the first run)", g)
        wfile = str(_dataset(_p(args, rows, units, fine)) / "weights.npz")
        a = {"rows": rows, "fine_zones": fine, "units": units, "generate": g}
        a["duckdb"] = run("weights", _p(args, rows, units, fine, engine="duckdb", save=wfile))
        _show("weights, DuckDB", a["duckdb"])
        if "a" not in skip:
            a["dask"] = run("weights", _p(args, rows, units, fine, engine="dask"))
            _show("weights, Dask (LocalCluster 2 workers)", a["dask"])
            if args.pandas_full:
                a["pandas"] = run("weights", _p(args, rows, units, fine, engine="pandas"))
                _show("weights, pandas engine", a["pandas"])
        a["targets"] = {"seconds": 60, "peak_rss_gb": 4.0}
        ok = a["duckdb"].get("seconds", 1e9) < 60 and a["duckdb"].get("peak_rss_gb", 1e9) < 4.0
        a["duckdb_meets_targets"] = bool(ok)
        if "a" not in skip:
            res["a_weights"] = a

    if "compare" not in skip:
        cr = int(args.compare_rows)
        cu, cf = max(10, cr // 100), cr // 5
        print(f"(a') all paths on {cr:,} rows -> {cu:,} units", flush=True)
        run("gen", _p(args, cr, cu, cf))
        comp: dict = {"rows": cr, "units": cu, "fine_zones": cf}
        for label, task, eng in (("duckdb", "weights", "duckdb"), ("dask", "weights", "dask"),
                                 ("pandas_engine", "weights", "pandas"), ("geoattr_today", "today", None),
                                 ("libpysal_from_adjacency_fine_rows", "from_adjacency", None)):
            comp[label] = run(task, _p(args, cr, cu, cf, engine=eng))
            _show(label, comp[label])
        base = comp["duckdb"]
        comp["ratio_to_duckdb"] = {
            k: {"time": comp[k]["seconds"] / base["seconds"], "memory": comp[k]["peak_rss_gb"] / base["peak_rss_gb"]}
            for k in comp if isinstance(comp[k], dict) and "seconds" in comp[k] and k != "duckdb"
        }
        res["a_compare"] = comp

    if "b" not in skip:
        print(f"(b) pooled VRA model + spatial lag, N = {units:,} x T = {args.T}", flush=True)
        b = run("model", {"weights": wfile, "units": units, "T": args.T, "memory_cap_gb": args.model_memory_cap})
        _show("VRA + pooled OLS + SAR", b)
        b["target_seconds"] = 120
        res["b_model"] = b

    if "c" not in skip:
        growth = [g for g in res.get("c_growth", [])]  # --update: keep the sizes not rerun
        for n in [int(float(x)) for x in args.growth.split(",") if x]:
            r_, f_ = 100 * n, 20 * n
            print(f"(c) N = {n:,}: {r_:,} OD rows, {f_:,} fine zones", flush=True)
            gen = run("gen", _p(args, r_, n, f_))
            wf = str(_dataset(_p(args, r_, n, f_)) / "weights.npz")
            w = run("weights", _p(args, r_, n, f_, engine="duckdb", save=wf))
            _show(f"weights N={n:,}", w)
            m = run("model", {"weights": wf, "units": n, "T": args.T, "memory_cap_gb": args.model_memory_cap,
                              "sar_method": args.sar_method},
                    timeout=2400) if "error" not in w else {}
            _show(f"model N={n:,} (VRA + OLS + SAR)", m)
            growth = [g for g in growth if g["units"] != n]
            growth.append({"units": n, "rows": r_, "fine_zones": f_, "generate": gen, "weights": w, "model": m})
            growth.sort(key=lambda g: g["units"])
        res["c_growth"] = growth
        _plot(growth, args.plot)
        res["plot"] = os.path.relpath(args.plot, HERE.parent)

    if "d" not in skip:
        # N = 10^6 where the ML spatial lag does not fit (c): spatial 2SLS on a short panel
        n, T = int(float(args.gmm_units)), args.gmm_T
        r_, f_ = 100 * n, 20 * n
        print(f"(d) spatial 2SLS, N = {n:,} x T = {T}", flush=True)
        run("gen", _p(args, r_, n, f_))
        wf = _dataset(_p(args, r_, n, f_)) / "weights.npz"
        if not wf.exists():
            run("weights", _p(args, r_, n, f_, engine="duckdb", save=str(wf)))
        d = run("gmm", {"weights": str(wf), "units": n, "T": T, "memory_cap_gb": args.model_memory_cap})
        _show("VRA + spatial 2SLS (fit_gmm, gmm_lag)", d)
        res["d_gmm"] = d

    out = Path(args.out)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"results -> {out}")
    if args.clean:
        shutil.rmtree(args.data_dir, ignore_errors=True)


def _plot(growth: list[dict], path: str) -> None:
    """Log-log time and peak memory against N for the weights and the model steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series = {
        "weights from OD files (DuckDB, 2 threads)": [
            (g["units"], g["weights"]["seconds"], g["weights"]["peak_rss_gb"])
            for g in growth if "seconds" in g.get("weights", {})],
        "VRA + pooled OLS + SAR (T = 20)": [
            (g["units"], g["model"]["model_seconds"], g["model"]["peak_rss_gb"])
            for g in growth if "model_seconds" in g.get("model", {})],
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, col, label in ((axes[0], 1, "time (s)"), (axes[1], 2, "peak resident memory (GB)")):
        for (name, pts), mk in zip(series.items(), ("o-", "s-")):
            if pts:
                ax.loglog([p[0] for p in pts], [p[col] for p in pts], mk, label=name)
        pts = series["VRA + pooled OLS + SAR (T = 20)"] or series["weights from OD files (DuckDB, 2 threads)"]
        if len(pts) > 1:
            ns = np.array([p[0] for p in pts], dtype=float)
            ax.loglog(ns, pts[-1][col] * ns / ns[-1], ":", color="grey", label="linear in N")
        ax.set_xlabel("analysis units N (100 OD rows and 20 fine zones per unit)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("geoattr at scale: growth with the number of units (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
