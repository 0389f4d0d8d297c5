"""Compare two whole output folders of geoattr (e.g. ``geoattr demo`` before and after a change).

    python tests/results/compare_demo.py REFERENCE_DIR NEW_DIR

CSVs: numbers to 1e-10 (tests/results/compare_outputs.py); every other file: bytes, and for
PNGs that differ in bytes, the decoded pixels (max abs difference, share of pixels that differ).
run.json is skipped (timings, versions); text files are compared after masking SVG dates,
SVG and folium ids and the report's "written" time ("byte-identical" counts those as equal).
"""
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.results.compare_outputs import compare_frames, read  # noqa: E402

MASKS = [(re.compile(r"<dc:date>[^<]*</dc:date>"), "<dc:date/>"),
         (re.compile(r"_[0-9a-f]{32}"), "_ID"),
         (re.compile(r'(?<=["#])[a-z][0-9a-f]{10}(?=[")])'), "SVGID"),
         (re.compile(r"written \d{4}-\d\d-\d\d \d\d:\d\d"), "written DATE")]


def mask(text):
    for pat, rep in MASKS:
        text = pat.sub(rep, text)
    return text


def compare(ref: Path, new: Path) -> int:
    """Print the differences of ``new`` from ``ref`` file by file; return the number of problems."""
    bad = 0
    ref_files = {p.relative_to(ref) for p in ref.rglob("*") if p.is_file()}
    new_files = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    for p in sorted(ref_files - new_files):
        print(f"MISSING {p}")
        bad += 1
    for p in sorted(new_files - ref_files):
        print(f"extra   {p}")
    same_bytes = 0
    for p in sorted(ref_files & new_files):
        a, b = ref / p, new / p
        if p.name == "run.json":
            continue
        if a.read_bytes() == b.read_bytes():
            same_bytes += 1
            continue
        if p.suffix == ".csv":
            probs = compare_frames(read(a), read(b))
            if probs:
                print(f"DIFF    {p}: {probs[:2]}")
                bad += 1
            else:
                print(f"ok      {p}: numbers within 1e-10 (bytes differ)")
        elif p.suffix == ".png":
            x = np.asarray(Image.open(a).convert("RGBA"), dtype=int)
            y = np.asarray(Image.open(b).convert("RGBA"), dtype=int)
            if x.shape != y.shape:
                print(f"DIFF    {p}: image size {x.shape} vs {y.shape}")
                bad += 1
            else:
                d = np.abs(x - y).max(axis=-1)
                tag = "ok     " if d.max() == 0 else "PIXELS "
                print(f"{tag} {p}: max pixel diff {d.max()}, {100 * (d > 0).mean():.3f}% of pixels differ")
                bad += d.max() > 0
        else:
            la, lb = (mask(t) for t in (a.read_text(errors="replace"), b.read_text(errors="replace")))
            if la == lb:
                same_bytes += 1
                continue
            la, lb = la.splitlines(), lb.splitlines()
            i = next((k for k, (u, v) in enumerate(zip(la, lb)) if u != v), min(len(la), len(lb)))
            print(f"DIFF    {p}: first differing line {i + 1}: {la[i][:150] if i < len(la) else '<eof>'!r} vs {lb[i][:150] if i < len(lb) else '<eof>'!r}")
            bad += 1
    print(f"{same_bytes} files byte-identical; {bad} problem(s)")
    return int(bad)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(1 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 0)
