"""Side jobs of a run (:mod:`geoattr.pipeline.sidejobs`): a child process gives what the serial path gives."""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest

import geoattr.pipeline.sidejobs as sj
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.pipeline.sidejobs import SideJobs, fill, fork_available, parallel_available, placeholder

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork")


def _write_and_sum(folder: Path, values: np.ndarray, *, name: str) -> tuple[Path, float]:
    path = folder / name
    path.write_text(",".join(repr(float(v)) for v in values))
    return path, float(values.sum())


def _warn_then(value: int) -> int:
    warnings.warn("a geoattr warning from the job", GeoattrWarning, stacklevel=1)
    return value


def _fail() -> None:
    raise InputError("bad input in the job: fix the key 'x'")


def _die() -> int:
    if os.getpid() != _PARENT:  # only the child dies; the rerun in the parent answers
        os.kill(os.getpid(), signal.SIGKILL)
    return 7


_PARENT = os.getpid()


@pytest.mark.parametrize("parallel", [False, pytest.param(True, marks=needs_fork)])
def test_job_gives_the_serial_value_and_files(tmp_path, parallel):
    values = np.random.default_rng(3).normal(size=1000)  # the reference: the same call in this process
    (tmp_path / "serial").mkdir()
    (tmp_path / "job").mkdir()
    expected_path, expected_sum = _write_and_sum(tmp_path / "serial", values, name="v.txt")
    jobs = SideJobs(parallel=parallel)
    jobs.start("w", _write_and_sum, tmp_path / "job", values, name="v.txt")
    path, total = jobs.result("w")
    assert total == expected_sum  # bit for bit
    assert path.read_bytes() == expected_path.read_bytes()
    assert jobs.seconds("w") >= 0.0
    assert jobs.result("w") == (path, total)  # collected once, kept


@pytest.mark.parametrize("parallel", [False, pytest.param(True, marks=needs_fork)])
def test_warnings_are_raised_again_and_errors_raised_when_collected(parallel):
    jobs = SideJobs(parallel=parallel)
    jobs.start("warn", _warn_then, 5)
    jobs.start("fail", _fail)
    with pytest.warns(GeoattrWarning, match="a geoattr warning from the job"):
        assert jobs.result("warn") == 5
    with pytest.raises(InputError, match="fix the key 'x'"):
        jobs.result("fail")


@needs_fork
def test_a_child_that_dies_is_run_again_here():
    jobs = SideJobs(parallel=True)
    jobs.start("die", _die)
    assert jobs.result("die") == 7


def test_names_are_unique_and_results_are_collected_first():
    jobs = SideJobs(parallel=False)
    jobs.start("a", int, "4")
    with pytest.raises(ValueError, match="already started"):
        jobs.start("a", int, "5")
    assert jobs.result("a") == 4
    with pytest.raises(KeyError):
        jobs.result("b")


def test_fill_puts_the_entries_where_the_placeholder_stands():
    files = {"a": 1, placeholder("robustness"): None, "b": 2, placeholder("figures"): None, "forecast": 3}
    fill(files, "figures", {"figure_x_png": 5, "figure_x_svg": 6})
    fill(files, "robustness", {"robustness": 9, "placebo": 8})
    assert list(files) == ["a", "robustness", "placebo", "b", "figure_x_png", "figure_x_svg", "forecast"]
    assert files["placebo"] == 8 and files["forecast"] == 3
    with pytest.raises(ValueError):
        fill(files, "figures", {})  # already filled: no placeholder left


def _available_in_pool_worker(_: int) -> tuple[bool, bool]:
    return fork_available(), parallel_available()


@needs_fork
def test_no_side_processes_inside_a_daemonic_worker():
    with multiprocessing.get_context("fork").Pool(1) as pool:  # Pool workers are daemonic: no children allowed
        assert pool.map(_available_in_pool_worker, [0]) == [(False, False)]


def test_parallel_only_when_the_cores_are_not_all_busy(monkeypatch):
    monkeypatch.setattr(sj, "_cores", lambda: 2)
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (1.6, 0.5, 0.5))
    assert sj.parallel_available() is fork_available()
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (2.0, 3.0, 3.0))  # both cores busy with other work
    assert sj.parallel_available() is False
    assert SideJobs().parallel is False
    monkeypatch.setattr(sj, "_cores", lambda: 1)
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert sj.parallel_available() is False


def test_environment_variable_turns_side_jobs_off(monkeypatch):
    from geoattr.pipeline import sidejobs

    monkeypatch.setattr(sidejobs.os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # an idle machine
    monkeypatch.setattr(sidejobs, "_cores", lambda: 2)
    monkeypatch.delenv("GEOATTR_SIDE_JOBS", raising=False)
    assert sidejobs.parallel_available() == sidejobs.fork_available()
    monkeypatch.setenv("GEOATTR_SIDE_JOBS", "0")
    assert sidejobs.parallel_available() is False
    assert sidejobs.SideJobs().parallel is False
