"""The README is short and the documentation holds what it used to (issue 21).

The README was the whole manual (~900 lines); now it is at most 150 lines with exactly
two commands for a fresh machine, and every former section lives on a page of docs/.
The checks below read files only (no Sphinx build: that is tests/test_docs.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import geoattr

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Each section of the former README -> the docs page that now holds it, and a phrase of
# that section which must still be there (so a page cannot be emptied unnoticed).
MOVED = {
    "Outputs": ("outputs.md", "`robustness.csv`, `rank_stability.csv`, `rank_intervals.csv`"),
    "Term names (stable)": ("model.md", "## Term names (stable)"),
    "Run configuration (TOML)": ("configuration.md", 'vra_breakdown = { units = ["0228"]'),
    "Python API": ("estimation.md", "## What the model layer offers"),
    "Numerical references": ("estimation.md", "tests/results/spatial_reference.R"),
    "Publication tables and figures": ("maps_and_report.md", "regression_table(results, *, fmt"),
    "Web maps": ("maps_and_report.md", "coverage_simplify"),
    "Browser test": ("maps_and_report.md", "## Browser test"),
    "Map benchmark": ("maps_and_report.md", "Voronoi cells, 10,000 (canvas)"),
    "Robustness": ("robustness.md", "**Reproducible and parallel.**"),
    "Migration choice": ("migration_choice.md", "**Estimation on covariate patterns.**"),
    "Large data": ("large_data.md", "commuting_from_files"),
    "Large-data benchmarks": ("large_data.md", "**(d) Spatial 2SLS at N = 10^6**"),
    "API reference": ("getting_started.md", "## This documentation"),
    "Statistics Norway": ("howto_norway.md", "*Cohort-residual net migration*"),
    "The embedded default": ("data_and_ids.md", "## The embedded default"),
}


def test_readme_is_at_most_150_lines():
    assert len(README.splitlines()) <= 150


def test_fresh_machine_section_has_exactly_the_two_commands():
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    assert commands == ["make demo", "make test"]


def test_readme_has_the_parts_the_issue_names():
    for heading in ["## Two commands", "## Example", "## Outputs", "## Documentation"]:
        assert heading in README
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert 10 <= len(example.strip().splitlines()) <= 20
    outputs = README.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    assert sum(line.startswith("| `") for line in outputs.splitlines()) >= 10  # one table


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    for link in links:
        assert not link.startswith("http"), link
        assert (ROOT / link).is_file(), f"README links to a missing file: {link}"


@pytest.mark.parametrize("section", sorted(MOVED))
def test_former_readme_section_lives_in_the_docs(section):
    page, phrase = MOVED[section]
    assert phrase in (DOCS / page).read_text(encoding="utf-8"), f"{section}: not in docs/{page}"


def test_every_page_is_in_a_toctree():
    tocs = (DOCS / "index.rst").read_text() + (DOCS / "user_guide.rst").read_text()
    tocs += (DOCS / "gallery.md").read_text()
    pages = [p for p in DOCS.iterdir() if p.suffix in (".rst", ".md") and p.stem != "index"]
    missing = [p.name for p in pages if not re.search(rf"^\s+{re.escape(p.stem)}\s*$", tocs, re.M)]
    assert not missing


def test_citation_matches_the_package_version():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version: (\S+)$", cff, re.M).group(1) == geoattr.__version__
    assert f"version = {{{geoattr.__version__}}}" in (DOCS / "citing.md").read_text(encoding="utf-8")


def test_changelog_names_every_issue_delivered():
    text = (DOCS / "changelog.rst").read_text(encoding="utf-8")
    for issue in [2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 18, 19, 20, 21]:
        assert f"**Issue {issue}," in text, issue


def test_gallery_lists_every_notebook():
    gallery = (DOCS / "gallery.md").read_text(encoding="utf-8")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{nb.stem}\n" in gallery and f"(notebooks/{nb.name})" in gallery, nb.name


def test_readme_example_calls_names_that_exist():
    # Executing the example costs ~20 s of CPU (a region fit, the comparison grid and the
    # robustness battery); the same calls run in the notebooks and their own tests. Here:
    # it compiles, and every geoattr.<name>(...) it calls is a public callable.
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    compile(example, "README.md", "exec")
    calls = re.findall(r"geoattr\.([\w.]+)\(", example)
    assert {"estimate", "attractiveness", "rankings", "compare", "robustness"} <= set(calls)
    for dotted in calls:
        obj = geoattr
        for part in dotted.split("."):
            obj = getattr(obj, part)
        assert callable(obj), dotted
