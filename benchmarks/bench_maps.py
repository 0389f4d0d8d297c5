"""Benchmark: web maps of 356 and 10,000 units (file size, build time, browser load time).

Issue 5: a 356-municipality map must stay under 3 MB and 10,000 units must stay usable.
The script builds :func:`geoattr.report.maps.residual_map` (self-contained: Leaflet inlined,
attractiveness + two compared specifications + a 10-year slider layer + LISA layer) for

* the embedded synthetic Norway (356 municipalities),
* the real 2020 municipality boundaries (356, when ``../shared/data/norway`` exists),
* 10,000 synthetic Voronoi cells (``shapely.voronoi_polygons`` of random points),

and, for comparison, plain ``GeoDataFrame.explore()`` (the folium engine wrapped; one
layer, CDN assets, no simplification) on the same polygons.  When Chromium and
chromedriver are installed it opens each self-contained file headless with no network
and records the page load time (``driver.get`` until the load event: parsing, decoding
the geometry and drawing the first layer), the time to switch to another layer and the
time to move the year slider.  ``explore()`` pages cannot be loaded offline (they need
the CDN), so only their size and build time are recorded.

Run with ``.venv/bin/python benchmarks/bench_maps.py``; it prints a table and appends
the measurements to ``benchmarks/results_maps.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REAL = HERE.parents[1] / "shared" / "data" / "norway" / "polygons" / "kommuner_2020.geojson"
CHROMIUM = os.environ.get("GEOATTR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GEOATTR_CHROMEDRIVER", "/usr/bin/chromedriver")
N_YEARS = 10


def voronoi_units(n: int, seed: int = 0):
    """``n`` Voronoi cells of random points in a 600 km x 1,200 km box (EPSG:25833)."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    x0, y0, w, h = 100_000.0, 6_500_000.0, 600_000.0, 1_200_000.0
    pts = shapely.points(x0 + rng.random(n) * w, y0 + rng.random(n) * h)
    box = shapely.box(x0, y0, x0 + w, y0 + h)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    # order the cells like the points (voronoi_polygons does not keep the order)
    tree = shapely.STRtree(cells)
    pos = tree.query(pts, predicate="within")
    order = np.empty(n, dtype=int)
    order[pos[0]] = pos[1]
    ids = [f"u{i:05d}" for i in range(n)]
    return gpd.GeoDataFrame(
        {"name": [f"Unit {i}" for i in range(n)]},
        geometry=cells[order],
        index=pd.Index(ids, name="unit"),
        crs=25833,
    )


def values_for(polygons, seed: int = 1):
    """A per-(unit, year) attractiveness frame with a spatial pattern, cumulated, and two specs."""
    rng = np.random.default_rng(seed)
    c = polygons.geometry.to_crs(25833).centroid
    trend = np.sin(c.x.to_numpy() / 80_000.0) + np.cos(c.y.to_numpy() / 120_000.0)
    years = list(range(2013, 2013 + N_YEARS))
    idx = pd.MultiIndex.from_product([polygons.index, years], names=["unit", "year"])
    base = np.repeat(trend, N_YEARS)
    att = pd.DataFrame({"actual": base + rng.normal(0, 1, len(idx))}, index=idx)
    att["expected"] = base * 0.5 + rng.normal(0, 0.3, len(idx))
    att["residual"] = att["actual"] - att["expected"]
    cum = att.groupby(level="unit")[["actual", "expected", "residual"]].sum()
    specs = {
        "sar": att["residual"] * 0.8,
        "sem": att["residual"] * 0.6 + rng.normal(0, 0.1, len(idx)),
    }
    return cum, att, specs


def build(polygons, out: Path, **kw):
    from geoattr.report.maps import residual_map

    cum, att, specs = values_for(polygons)
    t0 = time.perf_counter()
    fmap = residual_map(
        polygons, cum, residuals=specs, yearly=att, self_contained=True, path=out, **kw
    )
    dt = time.perf_counter() - t0
    info = fmap.geoattr_info
    return {
        "units": info.n_units,
        "build_seconds": round(dt, 3),
        "bytes": out.stat().st_size,
        "mb": round(out.stat().st_size / 1e6, 3),
        "tolerance_m": None if info.tolerance is None else round(info.tolerance, 1),
        "simplify_method": info.simplify_method,
        "vertices_in": info.vertices_in,
        "vertices_out": info.vertices_out,
        "geometry_bytes": info.geometry_bytes,
        "values_bytes": info.values_bytes,
        "renderer": info.renderer,
        "layers": len(info.layers),
    }


def build_explore(polygons, out: Path):
    cum, _, _ = values_for(polygons)
    gdf = polygons.join(cum)
    t0 = time.perf_counter()
    m = gdf.explore(
        column="residual",
        cmap="RdBu",
        tooltip=["name", "actual", "expected", "residual"],
        tiles=None,
    )
    m.save(str(out))
    dt = time.perf_counter() - t0
    return {
        "build_seconds": round(dt, 3),
        "bytes": out.stat().st_size,
        "mb": round(out.stat().st_size / 1e6, 3),
        "layers": 1,
        "note": "one layer, CDN assets, unsimplified geometry; not loadable offline",
    }


def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tempfile.mkdtemp(prefix='geoattr-bench-chrome-')}",
    ]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))


def browser_times(driver, html: Path) -> dict:
    t0 = time.perf_counter()
    driver.get(html.resolve().as_uri())
    load = time.perf_counter() - t0
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    js_layers = """
        var m = Object.values(geoattr.maps)[0].layers;
        return Object.keys(m).map(function (k) { return [k, m[k].getLayers().length]; });"""
    layers = driver.execute_script(js_layers)
    t0 = time.perf_counter()
    driver.execute_script("""
        var inputs = document.querySelectorAll('.leaflet-control-layers-base input');
        inputs[1].click();""")
    driver.execute_script(
        "return document.querySelector('.geoattr-legend').getAttribute('data-layer');"
    )
    switch = time.perf_counter() - t0
    driver.execute_script("""
        var inputs = document.querySelectorAll('.leaflet-control-layers-base input');
        inputs[3].click();""")
    t0 = time.perf_counter()
    driver.execute_script("""
        var s = document.querySelector('.geoattr-slider input');
        s.value = 0; s.dispatchEvent(new Event('input'));""")
    slider = time.perf_counter() - t0
    return {
        "load_seconds": round(load, 3),
        "switch_layer_seconds": round(switch, 3),
        "slider_seconds": round(slider, 3),
        "features_per_layer": min(n for _, n in layers),
        "console_errors": errors,
    }


def main() -> None:
    import geopandas as gpd

    from geoattr.report.maps import vendored_leaflet_version
    from geoattr.pipeline import synthetic_panel_data

    cases = {"synthetic 356": synthetic_panel_data().polygons}
    if REAL.exists():
        g = gpd.read_file(REAL).set_index("kommunenummer").rename(columns={"kommunenavn": "name"})
        g.index.name = "unit"
        cases["real Norway 2020 (356)"] = g
    t0 = time.perf_counter()
    cases["voronoi 10000"] = voronoi_units(10_000)
    gen = time.perf_counter() - t0
    results: dict = {}
    driver = None
    try:
        driver = browser()
    except Exception as exc:  # pragma: no cover - environment dependent
        print(f"browser not available: {exc}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for name, poly in cases.items():
            slug = name.split()[0]
            row = {"residual_map": build(poly, Path(tmp) / f"{slug}.html")}
            row["explore"] = build_explore(poly, Path(tmp) / f"{slug}_explore.html")
            if driver is not None:
                row["residual_map"]["browser"] = browser_times(driver, Path(tmp) / f"{slug}.html")
            results[name] = row
    if driver is not None:
        driver.quit()
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "leaflet": vendored_leaflet_version(),
        "chromium": shutil.which(CHROMIUM) is not None and driver is not None,
        "years_in_slider": N_YEARS,
        "voronoi_generation_seconds": round(gen, 3),
        "cases": results,
        "target": "356 units < 3 MB; 10,000 units usable (load in a few seconds)",
    }
    print(
        f"{'case':28s} {'map MB':>7s} {'build s':>8s} {'load s':>7s} {'switch s':>8s} "
        f"{'explore MB':>10s} {'explore s':>9s}"
    )
    nan = float("nan")
    for name, row in results.items():
        r, e = row["residual_map"], row["explore"]
        b = r.get("browser") or {}
        print(
            f"{name:28s} {r['mb']:7.2f} {r['build_seconds']:8.2f} "
            f"{b.get('load_seconds', nan):7.2f} {b.get('switch_layer_seconds', nan):8.2f} "
            f"{e['mb']:10.2f} {e['build_seconds']:9.2f}"
        )
    path = HERE / "results_maps.json"
    history = json.loads(path.read_text()) if path.exists() else []
    history.append(record)
    path.write_text(json.dumps(history, indent=2) + "\n")
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
