"""``geoattr demo`` keeps its numbers: every CSV equals the stored reference output.

The reference (``tests/results/demo_reference/*.csv.gz``) is the demo output of commit
99c2704, the last commit before the redesign of issue 15 (``geoattr demo --out DIR``;
files gzipped). Tolerance: ``1e-10 + 1e-10 * |reference|`` for every number, text
exactly (``tests/results/compare_outputs.py``). An intended change of a number replaces
the reference file in the same commit and says why in the commit message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.results.compare_outputs import compare_dirs

REFERENCE = Path(__file__).parent / "results" / "demo_reference"


@pytest.mark.slow
def test_demo_csv_outputs_equal_the_reference(demo_output):
    out, _ = demo_output
    assert len(list(REFERENCE.glob("*.csv.gz"))) == 18
    diffs = compare_dirs(REFERENCE, out, rtol=1e-10, atol=1e-10)
    assert diffs == {}


def test_compare_outputs_detects_a_changed_number(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "ref" / "a.csv").write_text("unit,x\n0101,1.0\n0102,2.0\n")
    (tmp_path / "new" / "a.csv").write_text("unit,x\n0101,1.0\n0102,2.0000001\n")
    diffs = compare_dirs(tmp_path / "ref", tmp_path / "new")
    assert list(diffs) == ["a.csv"] and "x: 1 value(s) differ" in diffs["a.csv"][0]
    (tmp_path / "new" / "a.csv").write_text("unit,x\n0101,1.0\n0102,2.00000000000001\n")
    assert compare_dirs(tmp_path / "ref", tmp_path / "new") == {}


def test_compare_outputs_allows_added_columns_but_not_lost_or_reordered_ones(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "ref" / "a.csv").write_text("unit,x\n0101,1.0\n")
    (tmp_path / "new" / "a.csv").write_text("unit,name,x\n0101,Oslo,1.0\n")  # a column added: same numbers
    assert compare_dirs(tmp_path / "ref", tmp_path / "new") == {}
    (tmp_path / "new" / "a.csv").write_text("x,unit\n1.0,0101\n")
    assert "columns differ" in compare_dirs(tmp_path / "ref", tmp_path / "new")["a.csv"][0]
    (tmp_path / "new" / "a.csv").write_text("unit\n0101\n")
    assert "columns differ" in compare_dirs(tmp_path / "ref", tmp_path / "new")["a.csv"][0]
