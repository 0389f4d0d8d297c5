"""Shared fixtures: a hand-computable three-municipality panel and the synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "norway"

# Jobs by workplace, 2000-2005, for three municipalities with leading-zero codes.
JOBS = {
    "0101": [100, 110, 121, 110, 120, 125],
    "0102": [200, 190, 209, 200, 210, 200],
    "0103": [700, 700, 700, 735, 700, 720],
}
YEARS = list(range(2000, 2006))


def toy_flows() -> pd.DataFrame:
    """Commuting flows: constant shares except in 2003 (to test that lags use year t-k).

    Shares (rows = residence):
      0101: 0.9 local, 0.1 to 0102
      0102: 0.2 to 0101, 0.8 local
      0103: 0.5 to 0101, 0.5 local
    In 2003, 0101 works 100 % locally.
    """
    rows = []
    for y in YEARS:
        if y == 2003:
            rows += [(y, "0101", "0101", 100)]
        else:
            rows += [(y, "0101", "0101", 90), (y, "0101", "0102", 10)]
        rows += [(y, "0102", "0101", 20), (y, "0102", "0102", 80), (y, "0103", "0101", 50), (y, "0103", "0103", 50)]
    return pd.DataFrame(rows, columns=["year", "origin", "destination", "count"])


def toy_panel() -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([list(JOBS), YEARS], names=["unit", "year"])
    jobs = np.concatenate([JOBS[u] for u in JOBS]).astype(float)
    pop = np.tile([1000.0, 1010, 1020, 1030, 1040, 1050], 3) * np.repeat([1, 2, 5], 6)
    nm = np.tile([5.0, -3, 4, 2, -1, 6], 3) * np.repeat([1, 2, 3], 6)
    return pd.DataFrame({"population": pop, "jobs": jobs, "net_migration": nm}, index=idx)


@pytest.fixture
def toy_data():
    from geoattr.data import PanelData

    return PanelData(
        toy_panel(),
        flows=toy_flows(),
        centrality=pd.Series({"0101": 800.0, "0102": 500.0, "0103": 200.0}),
        regions=pd.Series({"0101": "R1", "0102": "R1", "0103": "R2"}),
    )


@pytest.fixture(scope="session")
def synthetic():
    from geoattr.datasets import synthetic_norway

    return synthetic_norway()


@pytest.fixture(scope="session")
def synthetic_data():
    from geoattr.pipeline import synthetic_panel_data

    return synthetic_panel_data()


@pytest.fixture(scope="session")
def real_data_dir():
    if not REAL_DATA.exists():
        pytest.skip(f"real Norway data not found at {REAL_DATA}")
    return REAL_DATA


def square_grid(side: int):
    """A side x side grid of unit squares indexed by zero-padded string ids (for weights tests)."""
    import geopandas as gpd
    from shapely.geometry import box

    ids = [f"{i:03d}" for i in range(side * side)]
    return gpd.GeoDataFrame(geometry=[box(i % side, i // side, i % side + 1, i // side + 1) for i in range(side * side)],
                            index=pd.Index(ids, name="unit"))


# --------------------------------------------------------------------------- headless browser
# Appended for the web-map (tests/test_browser.py) and report browser tests.
import os as _os  # noqa: E402
import shutil as _shutil  # noqa: E402

CHROMIUM = _os.environ.get("GEOATTR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = _os.environ.get("GEOATTR_CHROMEDRIVER", "/usr/bin/chromedriver")
# Screenshots and other browser-test artifacts (gitignored); override with GEOATTR_TEST_ARTIFACTS.
ARTIFACTS = Path(_os.environ.get("GEOATTR_TEST_ARTIFACTS", Path(__file__).resolve().parent / "artifacts"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900",
                  # no network at all: any attempt to fetch from a host fails (and is logged)
                  "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """A headless Chromium driven by Selenium, with no network and browser-console logging.

    Skips (with the reason) when Debian's ``chromium``/``chromium-driver`` or selenium are
    not installed.  Read the console with ``browser.get_log("browser")`` (each call
    returns and clears the entries so far).
    """
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if _shutil.which(p) is None]
    if absent:
        pytest.skip(f"headless browser tests need chromium and chromedriver; not found: {', '.join(absent)} "
                    "(apt-get install chromium chromium-driver, or set GEOATTR_CHROMIUM / GEOATTR_CHROMEDRIVER)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def save_artifact(tmp_path):
    """``save_artifact(name, driver)``: screenshot to tmp_path, copied to ARTIFACTS (returns both paths)."""

    def save(name: str, driver) -> tuple[Path, Path | None]:
        shot = tmp_path / name
        driver.save_screenshot(str(shot))
        copy = None
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            copy = ARTIFACTS / name
            _shutil.copyfile(shot, copy)
        except OSError:  # read-only checkout: the tmp_path copy is enough
            copy = None
        return shot, copy

    return save


def make_result(
    params: dict[str, float], se: dict[str, float], *, nobs=120, loglik=-200.5, r2=0.4321
):
    """A RegressionResults for the table and figure tests.

    Diagonal covariance and normal p-values, so stars and intervals are known by hand.
    """
    from geoattr.models.results import RegressionResults

    idx = list(params)
    empty = pd.Series(dtype=float)
    return RegressionResults(
        params=pd.Series(params),
        cov=pd.DataFrame(np.diag([se[k] ** 2 for k in idx]), index=idx, columns=idx),
        y=empty,
        fitted_values=empty,
        resids=empty,
        nobs=nobs,
        df_resid=nobs - len(idx),
        loglik=loglik,
        rsquared=r2,
        model="ols",
        cov_type="unadjusted",
        dist="normal",
    )


def _run_demo(out) -> str:
    """``geoattr demo --out out``: what it printed."""
    import contextlib
    import io

    from geoattr import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["demo", "--out", str(out), "--no-progress"]) == 0
    return buf.getvalue()


def _shared_demo(root, timeout: float = 3600.0):
    """The demo run once for all pytest-xdist workers (under ``root``, their common temporary folder).

    The first worker to ask runs it and marks it done; the others wait for the mark and
    read the same folder.  Returns None when the run failed in the other worker (the
    caller then runs its own, so the failure is reported where it happens).
    """
    import os
    import time

    out, text, done = root / "demo-shared", root / "demo-shared.txt", root / "demo-shared.done"
    try:
        os.close(os.open(root / "demo-shared.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        deadline = time.monotonic() + timeout
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        return (out, text.read_text()) if done.exists() and done.read_text() == "ok" else None
    status = "failed"
    try:
        text.write_text(_run_demo(out))
        status = "ok"
        return out, text.read_text()
    finally:
        tmp = root / "demo-shared.done.tmp"
        tmp.write_text(status)
        tmp.replace(done)


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory):
    """``geoattr demo`` run once for the session, and once for all xdist workers: (output folder, what it
    printed).  The tests only read the folder."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = _shared_demo(tmp_path_factory.getbasetemp().parent)
        if shared is not None:
            return shared
    out = tmp_path_factory.mktemp("demo")
    return out, _run_demo(out)
