"""Packaging: what ``pip install .`` and ``python -m build`` give (issue 21, item 4).

The fast tests read ``setup.cfg``: test tools are extras, not run-time requirements; the
engines whose behaviour changes results have bounded ranges that include the versions
the suite runs with; every data folder inside ``geoattr/`` is declared as package data.

The slow test builds the sdist and the wheel once (``python -m build``, which builds the
wheel *from the sdist*), checks that setuptools printed no warning, installs the wheel
into a fresh virtual environment and runs ``geoattr demo`` there: its CSVs equal
``tests/results/demo_reference`` (the same tolerance as ``test_demo_reference.py``). The
sdist is installed into a second fresh environment and must hold the same files as the
wheel. The fresh environments get their dependencies from the running interpreter's
``site-packages`` through a ``.pth`` file, so nothing but the build back-end
(setuptools, from the package index, as for any ``pip install .``) is downloaded.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.results.compare_outputs import compare_dirs

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "results" / "demo_reference"
RESULT_ENGINES = ("esda", "spreg", "libpysal", "linearmodels")
TEST_TOOLS = ("pytest", "pytest-benchmark", "pytest-xdist", "nbclient", "selenium", "build")


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _requirements(value: str) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in value.splitlines() if line.strip()]
    return {r.name.lower(): r for r in reqs}


def test_test_tools_are_extras_not_runtime_requirements():
    cfg = _setup_cfg()
    runtime = _requirements(cfg["options"]["install_requires"])
    test_extra = _requirements(cfg["options.extras_require"]["test"])
    for tool in TEST_TOOLS:
        assert tool not in runtime, f"{tool} is a run-time requirement"
    for tool in ("pytest", "pytest-xdist", "build", "sphinx", "myst-nb"):
        assert tool in test_extra, f"{tool} missing from the test extra"
    docs_extra = _requirements(cfg["options.extras_require"]["docs"])
    assert {"sphinx", "numpydoc", "myst-nb"} <= set(docs_extra)


@pytest.mark.parametrize("name", RESULT_ENGINES)
def test_result_changing_engines_have_a_tested_range(name):
    req = _requirements(_setup_cfg()["options"]["install_requires"])[name]
    ops = {spec.operator for spec in req.specifier}
    assert ">=" in ops and "<" in ops, f"{name}: {req.specifier} needs a lower and an upper bound"
    installed = metadata.version(name)  # the version this suite runs (and was tested) with
    assert req.specifier.contains(installed), f"{name} {installed} is outside {req.specifier}"


def test_every_data_folder_is_declared_package_data():
    cfg = _setup_cfg()
    declared = {k.strip() for k in cfg["options.package_data"]}
    assert cfg["options"]["packages"].strip() == "find_namespace:"
    pkg = ROOT / "geoattr"
    data_dirs = [
        d
        for d in pkg.rglob("*")
        if d.is_dir()
        and d.name != "__pycache__"
        and not (d / "__init__.py").exists()
        and any(f.is_file() for f in d.iterdir())
    ]
    assert data_dirs, "expected geoattr/_assets and geoattr/datasets/data/..."
    for d in data_dirs:
        name = ".".join(d.relative_to(ROOT).parts)
        assert name in declared, f"{name} holds files but is not in [options.package_data]"


# --- the built distributions (slow) ---------------------------------------------------

PACKAGE_FILES = ("pyproject.toml", "setup.cfg", "README.md", "CITATION.cff")


def _clean_checkout(dest: Path) -> Path:
    """Copy what a clean checkout holds for the build (no build/, egg-info or caches)."""
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "geoattr", dest / "geoattr", ignore=ignore)
    return dest


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _in_venv(cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    """Run in a fresh venv, away from the checkout (no PYTHONPATH, cwd outside it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return _run([str(c) for c in cmd], cwd=cwd, env=env)


def _fresh_venv(path: Path) -> Path:
    """A virtual environment that sees this interpreter's packages after its own."""
    venv.EnvBuilder(with_pip=False).create(path)
    python = path / "bin" / "python"
    own = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(own.stdout.strip(), "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _pip_install(python: Path, target: Path) -> None:
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--ignore-installed", str(target)])


def _installed_files(python: Path, cwd: Path) -> set[str]:
    code = (
        "from importlib import metadata\n"
        "d = metadata.distribution('geoattr')\n"
        "print('\\n'.join(str(f) for f in d.files if f.parts[0] == 'geoattr'"
        " and '__pycache__' not in f.parts))"
    )
    return set(_in_venv([python, "-c", code], cwd).stdout.split())


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("build", reason="install the 'test' extra (python -m build)")
    src = _clean_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    # PYTHONDONTWRITEBYTECODE makes distutils say "byte-compiling is disabled": not ours
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), str(src)], env=env)
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if "warning" in line.lower()]
    assert not warnings, "python -m build printed warnings:\n" + "\n".join(warnings)
    (wheel,) = out.glob("geoattr-*.whl")
    (sdist,) = out.glob("geoattr-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.slow
def test_wheel_holds_the_package_data(dists):
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    for needed in [
        "geoattr/py.typed",
        "geoattr/_assets/leaflet.js",
        "geoattr/_assets/LICENSE-leaflet.txt",
        "geoattr/datasets/data/individuals_true_params.csv",
        "geoattr/datasets/data/synthetic_norway/panel.parquet",
        "geoattr/datasets/data/synthetic_norway/truth.json",
    ]:
        assert needed in names, f"{needed} missing from {dists['wheel'].name}"
    assert not any(n.startswith(("tests/", "docs/", "notebooks/")) for n in names)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_demo_with_the_reference_numbers(dists, tmp_path):
    python = _fresh_venv(tmp_path / "venv")
    _pip_install(python, dists["wheel"])
    where = _in_venv([python, "-c", "import geoattr; print(geoattr.__file__)"], tmp_path).stdout
    assert str(tmp_path / "venv") in where, f"geoattr imported from {where}"
    out = tmp_path / "demo"
    _in_venv([tmp_path / "venv" / "bin" / "geoattr", "demo", "--no-progress", "--out", out], tmp_path)
    assert compare_dirs(REFERENCE, out, rtol=1e-10, atol=1e-10) == {}
    assert (out / "map.html").is_file() and (out / "report.html").is_file()


@pytest.mark.slow
def test_sdist_in_a_fresh_venv_installs_the_same_files_as_the_wheel(dists, tmp_path):
    from_sdist = _fresh_venv(tmp_path / "sdist")
    _pip_install(from_sdist, dists["sdist"])
    from_wheel = _fresh_venv(tmp_path / "wheel")
    _pip_install(from_wheel, dists["wheel"])
    files = _installed_files(from_sdist, tmp_path)
    assert "geoattr/datasets/data/synthetic_norway/panel.parquet" in files
    assert files == _installed_files(from_wheel, tmp_path)
    versions = _in_venv([tmp_path / "sdist" / "bin" / "geoattr", "versions"], tmp_path)
    assert "geoattr" in versions.stdout
