"""The documentation site (Sphinx + numpydoc + myst-nb) builds without a single warning.

This is how the docs build is part of ``make test``: a docstring that numpydoc or
docutils cannot parse, a page that is in no toctree, a broken cross-reference between
pages or a module in ``docs/api.rst`` that does not import fails this test. The
notebooks of the gallery are rendered without being executed here
(``GEOATTR_DOCS_EXECUTE=off``; ``make docs`` executes them, and
``tests/test_notebooks.py`` executes them in the suite).
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
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated", "notebooks"))
    # pages include files from outside docs/ (CITATION.cff, examples/, benchmarks/):
    # the rest of the checkout is linked beside the copy, so "../" resolves as in the checkout
    for entry in ROOT.iterdir():
        if entry.name != "docs" and not entry.name.startswith("."):
            (src.parent / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    out = src.parent / "html"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "GEOATTR_DOCS_EXECUTE": "off"}
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


SITE = {
    "getting_started": "Two commands",
    "user_guide": "Data and ids",
    "data_and_ids": "leading zeros",
    "weights": "without_diagonal",
    "model": "Term names (stable)",
    "estimation": "What the model layer offers",
    "comparison": "rmse_holdout",
    "robustness": "Reproducible and parallel",
    "forecasting": "Forecasts and scenarios",
    "maps_and_report": "Browser test",
    "large_data": "Sparse from end to end",
    "migration_choice": "covariate patterns",
    "howto_own_data": "step_by_step",  # the literalinclude of the tested script
    "howto_norway": "norway_2022.toml",
    "howto_dask": "engine=&quot;dask&quot;",
    "gallery": "tests/test_notebooks.py",
    "outputs": "rank_intervals.csv",
    "configuration": "on_mismatch",
    "glossary": "Glossary of parameter names",
    "changelog": "Issue 21",
    "citing": "cff-version",
}


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(SITE))
def test_site_page_is_built_with_its_content(html, page):
    assert SITE[page] in _text(html / f"{page}.html")


@pytest.mark.slow
def test_index_is_organised_like_the_issue_asks(html):
    index = _text(html / "index.html")
    for caption in ["Getting started", "User guide", "How-to guides", "Gallery", "Reference", "About"]:
        assert caption in index, caption


@pytest.mark.slow
def test_gallery_renders_every_notebook(html):
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = _text(html / "notebooks" / f"{nb.stem}.html")
        assert "cell_input" in page and "geoattr" in page, nb.name  # code cells rendered
