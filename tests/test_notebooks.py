"""Execute the notebooks so they never rot (nbclient; skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "norway"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    if path.stem.startswith("norway") and not REAL_DATA.exists():
        pytest.skip(f"real Norway data not found at {REAL_DATA}")
    nbformat = pytest.importorskip("nbformat", reason="install the 'test' extra to execute notebooks")
    nbclient = pytest.importorskip("nbclient", reason="install the 'test' extra to execute notebooks")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
