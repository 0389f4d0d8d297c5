"""Compare the CSV files of two geoattr output folders (used by tests/test_demo_reference.py).

    python tests/results/compare_outputs.py REFERENCE_DIR NEW_DIR

A reference folder may hold ``name.csv`` or ``name.csv.gz``. Every column of the reference must
be in the new file, in the same order (columns added since are allowed); numeric columns must
agree to ``atol + rtol * |reference|`` (default 1e-10 each); every other column exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def compare_frames(ref: pd.DataFrame, new: pd.DataFrame, *, rtol: float = 1e-10, atol: float = 1e-10) -> list[str]:
    """Differences between two CSV tables read as text, numbers compared with a tolerance."""
    problems = []
    kept = [c for c in new.columns if c in set(ref.columns)]
    if kept != list(ref.columns):
        return [f"columns differ: {list(ref.columns)} != {list(new.columns)}"]
    new = new[kept]  # columns added since the reference are new information, not changed numbers
    if len(ref) != len(new):
        return [f"{len(ref)} rows in the reference, {len(new)} now"]
    for col in ref.columns:
        a, b = ref[col], new[col]
        na = pd.to_numeric(a.replace("", "nan"), errors="coerce")
        nb = pd.to_numeric(b.replace("", "nan"), errors="coerce")
        numeric = na.notna() | a.isin(["", "nan", "NaN", "inf", "-inf"])
        if numeric.all() and (nb.notna() | b.isin(["", "nan", "NaN", "inf", "-inf"])).all():
            x, y = na.to_numpy(float), nb.to_numpy(float)
            same = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                problems.append(f"{col}: {int((~same).sum())} value(s) differ, first at row {i}: {x[i]!r} vs {y[i]!r}")
        elif not (a == b).all():
            i = int(np.flatnonzero((a != b).to_numpy())[0])
            problems.append(f"{col}: {int((a != b).sum())} text value(s) differ, first at row {i}: {a[i]!r} vs {b[i]!r}")
    return problems


def compare_dirs(ref_dir: Path, new_dir: Path, **tol: float) -> dict[str, list[str]]:
    out = {}
    for ref in sorted(ref_dir.glob("*.csv*")):
        name = ref.name.removesuffix(".gz")
        new = new_dir / name
        if not new.exists():
            out[name] = ["missing from the new output"]
            continue
        problems = compare_frames(read(ref), read(new), **tol)
        if problems:
            out[name] = problems
    return out


if __name__ == "__main__":
    diffs = compare_dirs(Path(sys.argv[1]), Path(sys.argv[2]))
    for name, problems in diffs.items():
        for p in problems:
            print(f"{name}: {p}")
    print("identical" if not diffs else f"{len(diffs)} file(s) differ")
    sys.exit(1 if diffs else 0)
