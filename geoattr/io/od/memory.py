"""Memory sizes for the OD engines: parsing ``"4GB"``, printing bytes, what is available, what an input needs."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

__all__ = ["parse_bytes", "format_bytes", "available_memory", "estimate_rows_bytes"]

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(value: str | int | float | None) -> int | None:
    """``"4GB"`` -> 4e9, ``"1.5GiB"`` -> 1.5 * 2**30; numbers are bytes."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"memory_limit must be positive, got {value}")
        return int(value)
    s = str(value).strip().upper().replace(" ", "")
    num = s.rstrip("KMGTIB")
    unit = s[len(num):]
    try:
        b = int(float(num) * _UNITS[unit])
    except (ValueError, KeyError):
        raise ValueError(f"memory_limit must be bytes or a size like '4GB' or '512MiB', got {value!r}") from None
    if b <= 0:
        raise ValueError(f"memory_limit must be positive, got {value!r}")
    return b


def format_bytes(b: float) -> str:
    """``1.5e9`` -> ``"1.5 GB"`` (decimal units)."""
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= f:
            return f"{b / f:.1f} {unit}"
    return f"{int(b)} B"


def available_memory() -> int:
    """Memory available to this process now (psutil when installed, else /proc or sysconf)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is installed with the test extras
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 2**62


def estimate_rows_bytes(files: list[str], fmt: str, columns: dict[str, str]) -> tuple[int | None, int]:
    """Rows (None for CSV) and the estimated in-memory bytes of the used columns in pandas."""
    if fmt == "parquet":
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        per_row = sum(64 if k == "str" else 8 for k in columns.values())
        return rows, rows * per_row
    size = sum(os.path.getsize(f) for f in files)
    factor = 20 if any(f.lower().endswith((".gz", ".zst")) for f in files) else 4  # text -> object strings
    return None, size * factor

