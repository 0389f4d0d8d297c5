"""Benchmark: sparse ML lag / error engine (geoattr.models.ml) against spreg.

Target (issue text): at N = 10,000 (queen grid, row-standardised, 5 regressors) fit the
lag model with standard errors in under 1 s and 500 MB, with estimates identical to
spreg (coefficients 1e-6, standard errors 1e-4 relative); N = 100,000 in under 30 s and
1.5 GB.  spreg's ML_Lag(method="LU") inverts a dense N x N matrix for the standard
errors (~45 s, ~5 GB at N = 10,000), so it runs once.

Run by hand (not part of pytest)::

    .venv/bin/python benchmarks/bench_ml.py            # everything (~2-3 minutes, ~10 GB peak)
    .venv/bin/python benchmarks/bench_ml.py --no-spreg # geoattr only

Every case runs in its own subprocess, so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own; the child reports the peak
before the fit (interpreter, imports and data) and after it.  Wall time covers the fit
only.  Results are printed (and saved as JSON with ``--json PATH``); the table in
``benchmarks/README_ml.md`` is written from them by hand.
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
ROOT = HERE.parent


def _grid_weights(side: int):
    """Row-standardised queen contiguity on a side x side grid (ids row-major, as lat2W).

    Canonical (sorted indices), as libpysal's ``W.sparse`` and ``Graph.sparse`` are: the
    fits then use it without a copy (an unsorted W costs them one canonical copy).
    """
    import numpy as np
    import scipy.sparse as sp

    T = sp.identity(side, format="csr") + sp.diags([1.0, 1.0], [-1, 1], shape=(side, side))
    C = (sp.kron(T, T) - sp.identity(side * side)).tocsr()
    C.eliminate_zeros()
    deg = np.asarray(C.sum(axis=1)).ravel()
    W = (sp.diags(1.0 / deg) @ C).tocsr()
    W.sort_indices()  # the product's rows come unsorted
    return W


def _data(side: int, model: str, rho: float = 0.5, seed: int = 12345):
    """Deterministic data: X = [1, 4 N(0,1)], beta = (1, 2, -1, 0.5, 3), rho / lambda = 0.5."""
    import numpy as np
    W = _grid_weights(side)
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 4))])
    beta = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
    eps = rng.normal(size=n)

    def solve(b: np.ndarray) -> np.ndarray:
        # (I - rho W)^-1 b by x <- b + rho W x (|rho| < 1, W row-standardised: a contraction),
        # to rounding; no factorisation, so the data cost no more memory than themselves
        x = b.copy()
        for _ in range(2000):
            nxt = b + rho * (W @ x)
            if np.abs(nxt - x).max() <= 1e-15 * np.abs(nxt).max():
                return nxt
            x = nxt
        raise RuntimeError("the data generator's fixed-point iteration did not converge")

    y = solve(X @ beta + eps) if model == "lag" else X @ beta + solve(eps)
    return y, X, W


def _cpu_pressure() -> float | None:
    """Share of the last 10 s in which runnable tasks waited for a CPU (Linux PSI), in %.

    Other jobs on the machine show up here; timings taken under pressure are not clean.
    """
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(line.split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


R_SCRIPT = r"""
suppressPackageStartupMessages({library(spatialreg); library(spdep); library(Matrix)})
args <- commandArgs(TRUE)
d <- args[1]; model <- args[2]
hwm <- function() {
  line <- grep("VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}
dat <- read.csv(file.path(d, "data.csv"))
tr <- read.csv(file.path(d, "w.csv"))
n <- nrow(dat)
C <- sparseMatrix(i = tr$i + 1, j = tr$j + 1, x = tr$x, dims = c(n, n))
lw <- mat2listw(C, style = "W")
f <- y ~ x1 + x2 + x3 + x4
before <- hwm()
t0 <- proc.time()[["elapsed"]]
if (model == "lag") {
  fit <- lagsarlm(f, data = dat, listw = lw, method = "Matrix")
} else {
  fit <- errorsarlm(f, data = dat, listw = lw, method = "Matrix")
}
secs <- proc.time()[["elapsed"]] - t0
s <- summary(fit)
sp_par <- if (model == "lag") fit$rho else fit$lambda
sp_se <- if (model == "lag") fit$rho.se else fit$lambda.se
params <- c(unname(fit$coefficients), unname(sp_par))
se <- c(unname(s$Coef[, "Std. Error"]), unname(sp_se))
cat(sprintf('{"seconds": %.6f, "maxrss_before_mb": %.1f, "maxrss_mb": %.1f, ', secs, before, hwm()))
cat(sprintf('"params": [%s], "se": [%s], "loglik": %.10f}
',
            paste(sprintf("%.12g", params), collapse = ", "),
            paste(sprintf("%.12g", se), collapse = ", "), as.numeric(logLik(fit))))
"""


def _child_r(model: str, side: int, y, X, W) -> dict:
    """spatialreg::lagsarlm / errorsarlm(method = "Matrix") on the same data, via Rscript."""
    import tempfile

    import numpy as np

    C = W.tocoo()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        np.savetxt(
            d / "data.csv",
            np.column_stack([y, X[:, 1:]]),
            delimiter=",",
            header="y,x1,x2,x3,x4",
            comments="",
            fmt="%.17g",
        )
        # binary contiguity; R row-standardises it (style "W")
        np.savetxt(
            d / "w.csv",
            np.column_stack([C.row, C.col, np.ones(C.nnz)]),
            delimiter=",",
            header="i,j,x",
            comments="",
            fmt="%d",
        )
        (d / "fit.R").write_text(R_SCRIPT)
        p = subprocess.run(
            ["Rscript", str(d / "fit.R"), str(d), model], capture_output=True, text=True, check=True
        )
    return json.loads(p.stdout.strip().splitlines()[-1])


def child(case: str, side: int) -> dict:
    """Run one case in this process and return its measurements."""
    import numpy as np

    engine, model = case.split("_")
    y, X, W = _data(side, model)
    out: dict = {"case": case, "n": int(W.shape[0])}
    if engine == "r":
        out.update(_child_r(model, side, y, X, W))
        out["note"] = "peak memory is R's VmHWM (the R process alone)"
        out["cpu_pressure_avg10"] = _cpu_pressure()
        return out
    if engine == "geoattr":
        sys.path.insert(0, str(ROOT))
        from geoattr.models.ml import ml_error, ml_lag

        fit = ml_lag if model == "lag" else ml_error
        before = _maxrss_mb()
        t0 = time.perf_counter()
        r = fit(y, X, W)
        out["seconds"] = time.perf_counter() - t0
        out.update(
            params=r.params.tolist(),
            se=r.std_errors.tolist(),
            loglik=r.loglik,
            iterations=r.iterations,
            trace_method=r.extra["trace_method"],
            trace_error=r.trace_error,
            se_sensitivity=r.extra["se_sensitivity"],
        )
    else:
        import libpysal
        import spreg

        w = libpysal.weights.lat2W(side, side, rook=False)
        w.transform = "r"
        diff = abs(w.sparse - W)
        out["weights_max_abs_diff"] = float(diff.max()) if diff.nnz else 0.0
        cls = spreg.ML_Lag if model == "lag" else spreg.ML_Error
        before = _maxrss_mb()
        t0 = time.perf_counter()
        r = cls(y[:, None], X[:, 1:], w=w, method="LU")
        out["seconds"] = time.perf_counter() - t0
        out.update(
            params=np.asarray(r.betas).ravel().tolist(),
            se=np.sqrt(np.diag(r.vm)).tolist(),
            loglik=float(np.squeeze(r.logll)),
        )
    out["maxrss_before_mb"] = before
    out["maxrss_mb"] = _maxrss_mb()
    out["cpu_pressure_avg10"] = _cpu_pressure()
    return out


def run(case: str, side: int, repeat: int = 1) -> dict:
    """Run a case ``repeat`` times, each in a fresh subprocess; keep the fastest.

    All wall times are kept in ``"all_seconds"``.
    """
    best: dict | None = None
    times = []
    for _ in range(repeat):
        p = subprocess.run(
            [sys.executable, __file__, "--child", case, str(side)],
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(p.stdout.strip().splitlines()[-1])
        times.append(res["seconds"])
        if best is None or res["seconds"] < best["seconds"]:
            best = res
        print(
            f"  {case:15s} N={res['n']:>7,d}  {res['seconds']:8.3f} s  "
            f"peak {res['maxrss_mb']:7.0f} MB "
            f"(before fit {res['maxrss_before_mb']:.0f} MB)  "
            f"CPU pressure {res['cpu_pressure_avg10']} %",
            flush=True,
        )
    assert best is not None
    best["all_seconds"] = times
    return best


def _rel(a: list[float], b: list[float]) -> float:
    return max(abs(x / y - 1.0) for x, y in zip(a, b))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--no-spreg", action="store_true", help="skip the (slow, ~5 GB) spreg runs")
    ap.add_argument("--no-100k", action="store_true", help="skip N = 100,000")
    ap.add_argument("--no-10k", action="store_true", help="skip N = 10,000 (and spreg)")
    ap.add_argument("--no-r", action="store_true", help="skip R spatialreg (method 'Matrix')")
    ap.add_argument(
        "--repeat", type=int, default=3, help="fresh-process repeats of each geoattr case"
    )
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--child", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]))))
        return

    results: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "cases": {},
        "comparison": {},
    }
    if not a.no_10k:
        print("N = 10,000 (100 x 100 queen grid)")
        for case in ("geoattr_lag", "geoattr_error"):
            results["cases"][f"{case}_10k"] = run(case, 100, a.repeat)
    if not (a.no_spreg or a.no_10k):
        for case in ("spreg_lag", "spreg_error"):
            results["cases"][f"{case}_10k"] = run(case, 100, 1)
        for model in ("lag", "error"):
            g, s = results["cases"][f"geoattr_{model}_10k"], results["cases"][f"spreg_{model}_10k"]
            cmp = {
                "params_max_rel": _rel(g["params"], s["params"]),
                "se_max_rel": _rel(g["se"], s["se"]),
                "loglik_abs": abs(g["loglik"] - s["loglik"]),
                "speedup": s["seconds"] / g["seconds"],
            }
            results["comparison"][model] = cmp
            print(
                f"  {model}: max rel diff params {cmp['params_max_rel']:.2e}, "
                f"SEs {cmp['se_max_rel']:.2e}, "
                f"|loglik diff| {cmp['loglik_abs']:.2e}, speed-up x{cmp['speedup']:.0f}"
            )
    if not (a.no_r or a.no_10k) and shutil.which("Rscript"):
        for case in ("r_lag", "r_error"):
            results["cases"][f"{case}_10k"] = run(case, 100, a.repeat)
        for model in ("lag", "error"):
            g, r = results["cases"][f"geoattr_{model}_10k"], results["cases"][f"r_{model}_10k"]
            cmp = {
                "params_max_rel": _rel(g["params"], r["params"]),
                "se_max_rel": _rel(g["se"], r["se"]),
                "loglik_abs": abs(g["loglik"] - r["loglik"]),
            }
            results["comparison"][f"r_{model}"] = cmp
            print(
                f"  R {model}: max rel diff params {cmp['params_max_rel']:.2e}, "
                f"SEs {cmp['se_max_rel']:.2e}, |loglik diff| {cmp['loglik_abs']:.2e}"
            )
    if not a.no_100k:
        print("N = 99,856 (316 x 316 queen grid)")
        for case in ("geoattr_lag", "geoattr_error"):
            results["cases"][f"{case}_100k"] = run(case, 316, max(1, a.repeat - 1))
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
        print(f"written {a.json}")


if __name__ == "__main__":
    main()
