"""Flush-to-zero for the sparse factorisations: subnormal numbers treated as zero.

The fill of a sparse factorisation of ``I - rho W`` decays geometrically with the distance
in the graph; on a large planar graph a share of its entries falls below 2.2e-308, where
x86 processors compute with subnormal numbers many times more slowly.  Measured on the
N = 10^6 queen lattice (CHOLMOD, one thread): 6.6-9.0 s per factorisation at rho = 0.4
with subnormals against 4.0-4.4 s with the processor's flush-to-zero (FTZ) and
denormals-are-zero (DAZ) modes, the same log-determinant to the last printed digit
(anything below 1e-308 is below the rounding of every quantity that is reported).

:func:`flush_denormals` sets both modes for the calling thread for the duration of a
block and clears them afterwards, through the small ``daz`` package (part of the
``cholmod`` extra, x86 only); without it the block runs unchanged.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

try:  # optional (x86): sets the MXCSR flags
    import daz
except ImportError:  # pragma: no cover - exercised where daz is absent
    daz = None

__all__ = ["available", "flush_denormals"]

_state = threading.local()  # how deeply the calling thread is inside flush_denormals blocks


def available() -> bool:
    """Whether the flush-to-zero modes can be set (the ``daz`` package imports)."""
    return daz is not None


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Within the block, subnormal results are flushed to zero and subnormal inputs read as zero.

    The modes are cleared on exit from the outermost block (they are off in a Python
    process unless something set them).  Only the calling thread is affected.
    """
    if daz is None:
        yield
        return
    depth = getattr(_state, "depth", 0)
    if depth == 0:
        daz.set_ftz()
        daz.set_daz()
    _state.depth = depth + 1
    try:
        yield
    finally:
        _state.depth = depth
        if depth == 0:  # nested blocks (a solve inside a factorisation's block) leave the modes on
            daz.unset_ftz()
            daz.unset_daz()
