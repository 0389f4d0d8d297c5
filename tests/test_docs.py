"""The API reference (Sphinx + numpydoc) builds without a single warning.

This is how the docs build is part of ``make test``: a docstring that numpydoc or
docutils cannot parse, a page that is in no toctree or a module in ``docs/api.rst``
that does not import fails this test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    # Build from a copy so that the autosummary pages (written into the source tree)
    # never touch the working copy and parallel runs cannot collide.
    src = tmp_path_factory.mktemp("docs") / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    out = src.parent / "html"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    cmd += [str(src), str(out)]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stdout}\n{proc.stderr}"
    # numpydoc reports unknown sections and bad underlines as Python UserWarnings,
    # which -W does not turn into errors.
    bad = [line for line in proc.stderr.splitlines() if "Warning" in line]
    assert not bad, "warnings while building the docs:\n" + "\n".join(bad)
    return out


def _text(path: Path) -> str:
    assert path.is_file(), f"missing page {path}"
    return path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_docs_build_with_warnings_as_errors(html):
    assert (html / "index.html").is_file()
    api = _text(html / "api.html")
    for module in ["geoattr.io", "geoattr.weights", "geoattr.models.ols", "geoattr.pipeline"]:
        assert f"generated/{module}.html" in api


@pytest.mark.slow
def test_numpydoc_sections_are_rendered(html):
    page = _text(html / "generated" / "geoattr.estimate.html")
    assert "Parameters" in page and "Returns" in page
    assert "----------" not in page  # a section numpydoc did not recognise stays raw
    assert "Parameters" in _text(html / "generated" / "geoattr.pipeline.run.html")
    assert "Parameters" in _text(html / "generated" / "geoattr.pipeline.load_config.html")


@pytest.mark.slow
def test_every_public_name_of_the_top_level_has_a_page(html):
    import geoattr

    top = _text(html / "generated" / "geoattr.html")
    for name in geoattr.__all__:
        if name.startswith("__"):
            continue
        assert f">{name}<" in top, name


@pytest.mark.slow
def test_module_shadowed_by_a_function_keeps_its_page(html):
    # geoattr.compare is the function at the top level and a module; the page is the module's
    page = _text(html / "generated" / "geoattr.compare.html")
    assert "Comparison" in page and "GRID_MODELS" in page
    assert (html / "generated" / "geoattr.compare.compare.html").is_file()
