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


def test_compare_demo_masks_run_stamps_but_not_changes(tmp_path, capsys):
    """The whole-folder comparison used for the demo's speed work: an SVG's date and random ids
    differ between any two runs and are masked; a changed number or a lost file is a problem."""
    from tests.results.compare_demo import compare

    ref, new = tmp_path / "ref", tmp_path / "new"
    for d, stamp, ident in ((ref, "2026-12-03T16:04", "m36f4a3d7a6"), (new, "2026-12-03T17:40", "m66e1c861e6")):
        (d / "figures").mkdir(parents=True)
        (d / "figures" / "a.svg").write_text(f'<dc:date>{stamp}</dc:date>\n<path id="{ident}" d="M 0 0"/>\n')
        (d / "a.csv").write_text("unit,x\n0101,1.0\n")
    assert compare(ref, new) == 0
    (new / "a.csv").write_text("unit,x\n0101,1.1\n")
    (new / "figures" / "a.svg").write_text('<dc:date>x</dc:date>\n<path id="m66e1c861e6" d="M 0 1"/>\n')
    (ref / "b.html").write_text("<p>kept</p>\n")
    assert compare(ref, new) == 3
    out = capsys.readouterr().out
    assert "MISSING b.html" in out and "DIFF    a.csv: ['x: 1 value(s) differ" in out
