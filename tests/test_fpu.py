"""geoattr.models.fpu: flush-to-zero only inside the block (reference: IEEE 754, 1e-310 is subnormal)."""

from __future__ import annotations

import numpy as np
import pytest

from geoattr.models import fpu

needs_daz = pytest.mark.skipif(not fpu.available(), reason="the daz package (cholmod extra, x86) is not installed")
TINY = np.array([1e-310])  # subnormal: 2.2e-308 is the smallest normal double


@needs_daz
def test_flush_inside_block_only():
    assert (TINY * 1.0)[0] == 1e-310
    with fpu.flush_denormals():
        assert (TINY * 1.0)[0] == 0.0  # flushed (and read as zero)
        assert (np.array([1e-300]) * 1e-10)[0] == 0.0  # a subnormal result
    assert (TINY * 1.0)[0] == 1e-310


@needs_daz
def test_nested_blocks_keep_the_modes_until_the_outermost_exits():
    with fpu.flush_denormals():
        with fpu.flush_denormals():
            assert (TINY * 1.0)[0] == 0.0
        assert (TINY * 1.0)[0] == 0.0  # still inside the outer block
    assert (TINY * 1.0)[0] == 1e-310


@needs_daz
def test_modes_cleared_after_an_exception():
    with pytest.raises(RuntimeError, match="inside"), fpu.flush_denormals():
        raise RuntimeError("inside")
    assert (TINY * 1.0)[0] == 1e-310


def test_block_runs_without_daz(monkeypatch):
    monkeypatch.setattr(fpu, "daz", None)
    assert not fpu.available()
    with fpu.flush_denormals():
        assert (TINY * 1.0)[0] == 1e-310  # nothing changed
