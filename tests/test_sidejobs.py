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


def _machine(monkeypatch, *, cores: int, others: float | None, window: float = 3.0) -> list[float]:
    """A simulated machine: other processes use ``others`` cores all along (None: no /proc/stat);
    ``window`` seconds have passed since the last reading, this process using 0.8 of a core;
    a sleep lets the clock run on with this process idle.  The sleeps taken are returned."""
    state = {"t": 500.0, "busy": 1000.0, "own": 50.0}
    sleeps: list[float] = []

    def run(seconds: float, own_rate: float) -> None:
        state["t"] += seconds
        state["own"] += own_rate * seconds
        state["busy"] += (own_rate + (others or 0.0)) * seconds

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        run(seconds, 0.0)

    monkeypatch.setattr(sj, "_cores", lambda: cores)
    monkeypatch.setattr(sj, "_busy_seconds", lambda: None if others is None else state["busy"])
    monkeypatch.setattr(sj, "_own_seconds", lambda: state["own"])
    monkeypatch.setattr(sj, "_clock", lambda: state["t"])
    monkeypatch.setattr(sj.time, "sleep", sleep)
    monkeypatch.setattr(sj, "_since", sj._Usage())
    monkeypatch.delenv("GEOATTR_SIDE_JOBS", raising=False)
    run(window, 0.8)
    return sleeps


def test_other_processes_use_is_busy_time_less_this_process_own():
    since = sj._Usage(busy=100.0, own=10.0, wall=0.0)
    assert sj._others(sj._Usage(busy=106.0, own=13.0, wall=3.0), since) == pytest.approx(1.0)  # (6 - 3) / 3
    assert sj._others(sj._Usage(busy=102.9, own=13.0, wall=3.0), since) == 0.0  # clock ticks: never below 0
    assert sj._others(sj._Usage(busy=None, own=13.0, wall=3.0), since) is None
    assert sj._busy_seconds() is None or sj._busy_seconds() > 0


@needs_fork
def test_parallel_only_when_a_core_is_free_of_other_processes(monkeypatch):
    """Half a core idle besides this process' own: children; less: serial.  This process'
    own CPU time is not counted (a load average of 2 right after a first run held the
    second serial)."""
    _machine(monkeypatch, cores=2, others=0.2)
    assert sj.parallel_available() is True
    _machine(monkeypatch, cores=2, others=1.0)  # another program keeps the second core busy
    assert sj.parallel_available() is False
    _machine(monkeypatch, cores=4, others=2.0)
    assert sj.parallel_available() is True
    _machine(monkeypatch, cores=4, others=2.6)
    assert sj.parallel_available() is False
    _machine(monkeypatch, cores=1, others=0.0)
    assert sj.parallel_available() is False
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (1.6, 0.5, 0.5))
    _machine(monkeypatch, cores=2, others=None)  # no /proc/stat: the load average
    assert sj.parallel_available() is True
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (2.0, 3.0, 3.0))
    assert sj.parallel_available() is False


@needs_fork
@pytest.mark.parametrize("window", [0.2, 600.0])
def test_a_window_too_short_or_too_old_is_measured_afresh(monkeypatch, window):
    monkeypatch.setattr(sj.os, "getloadavg", lambda: (5.0, 5.0, 5.0))  # not asked: the fresh window decides
    sleeps = _machine(monkeypatch, cores=2, others=0.0, window=window)
    assert sj.parallel_available() is True
    assert sleeps == [0.25]
    sleeps = _machine(monkeypatch, cores=2, others=1.2, window=window)
    assert sj.parallel_available() is False
    assert sleeps == [0.25]
    sleeps = _machine(monkeypatch, cores=2, others=0.0, window=3.0)
    assert sj.parallel_available() is True
    assert sleeps == []


def test_the_decision_waits_until_it_is_needed(monkeypatch):
    """The machine's use is measured up to the first job, not when the object is made."""
    asked: list[bool] = []
    monkeypatch.setattr(sj, "parallel_available", lambda: asked.append(True) or False)
    jobs = SideJobs()
    assert asked == []
    jobs.start("sum", sum, [1, 2, 3])
    assert asked == [True] and jobs.parallel is False and asked == [True]  # asked once
    assert jobs.result("sum") == 6
    assert "sum" in repr(jobs)


def test_environment_variable_turns_side_jobs_off(monkeypatch):
    _machine(monkeypatch, cores=2, others=0.0)  # an idle machine
    assert sj.parallel_available() == fork_available()
    monkeypatch.setenv("GEOATTR_SIDE_JOBS", "0")
    assert sj.parallel_available() is False
    assert SideJobs().parallel is False


def _small_run(out: Path, *, parallel: bool, monkeypatch: pytest.MonkeyPatch, n_jobs: int | None = None) -> dict:
    """The demo's configuration with small replication counts, with or without side jobs: run.json."""
    import copy
    import json

    from geoattr.pipeline import job

    cfg = copy.deepcopy(job.DEFAULT_CONFIG)
    cfg["robustness"].update({"n_boot": 39, "n_placebo": 19})
    if n_jobs is not None:
        cfg["robustness"]["n_jobs"] = n_jobs
    cfg["forecast"]["draws"] = 40
    monkeypatch.setattr(sj, "parallel_available", lambda: parallel)
    job.run(cfg, out=out, progress=False)
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@needs_fork
def test_a_run_with_side_jobs_writes_what_the_serial_run_writes(tmp_path, monkeypatch):
    """The tables, the map, the figures, the fan chart, the profiles and the robustness battery
    run beside the main process and are collected where the serial run writes them: the same
    files, listed in run.json in the same order, the same CSVs byte for byte (the PNGs
    pixel for pixel), the same warnings.  The battery runs serially in its side job unless
    ``n_jobs`` is given (it is the same battery either way)."""
    from PIL import Image

    serial = _small_run(tmp_path / "serial", parallel=False, monkeypatch=monkeypatch)
    forked = _small_run(tmp_path / "forked", parallel=True, monkeypatch=monkeypatch)
    assert list(forked["outputs"]) == list(serial["outputs"])
    assert list(forked["timings_seconds"]) == list(serial["timings_seconds"])
    assert forked["warnings"] == serial["warnings"]
    assert (forked["side_jobs"], serial["side_jobs"]) == (True, False)
    assert forked["analyses"]["robustness"]["settings"]["backend"] == "serial"
    assert serial["analyses"]["robustness"]["settings"]["backend"] != "serial" or os.cpu_count() == 1
    files = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*")
                   if p.is_file() and p.name != "run.json")
    assert files == sorted(p.relative_to(tmp_path / "forked") for p in (tmp_path / "forked").rglob("*")
                           if p.is_file() and p.name != "run.json")
    csvs = [p for p in files if p.suffix == ".csv"]
    assert len(csvs) > 20
    for p in csvs:
        assert (tmp_path / "forked" / p).read_bytes() == (tmp_path / "serial" / p).read_bytes(), p
    for p in [p for p in files if p.suffix == ".png"]:
        a, b = (np.asarray(Image.open(d / p)) for d in (tmp_path / "serial", tmp_path / "forked"))
        np.testing.assert_array_equal(a, b, err_msg=str(p))
    explicit = _small_run(tmp_path / "explicit", parallel=True, monkeypatch=monkeypatch, n_jobs=2)
    assert explicit["analyses"]["robustness"]["settings"]["backend"] == "processes (2)"


@pytest.mark.parametrize("parallel", [False, pytest.param(True, marks=needs_fork)])
def test_the_battery_starts_beside_the_grid_once_the_main_model_is_fitted(tmp_path, monkeypatch, parallel):
    """In a child, the robustness battery needs only the main model (the grid's first), so it
    starts before the grid's second model is estimated, while the other core would be idle;
    run in the calling process it still runs after the whole grid, as before."""
    from geoattr.pipeline import job

    events: list[str] = []
    estimate, start = job.estimate, SideJobs.start

    def logged_estimate(data, spec, **kwargs):
        events.append(f"estimate {spec} {kwargs['unit_level']}")
        return estimate(data, spec, **kwargs)

    def logged_start(self, name, fn, /, *args, **kwargs):
        events.append(f"start {name}")
        return start(self, name, fn, *args, **kwargs)

    monkeypatch.setattr(job, "estimate", logged_estimate)
    monkeypatch.setattr(SideJobs, "start", logged_start)
    monkeypatch.setattr(sj, "parallel_available", lambda: parallel)
    cfg = {"data": dict(job.DEFAULT_CONFIG["data"]),
           "model": {"spec": ["2022", "2019"], "level": ["municipality"]},
           "analyses": {"yearly": False, "subgroups": False, "barometer": False, "uncertainty": False,
                        "persistence": False, "cohort_residual": False},
           "robustness": {"enabled": True, "n_boot": 39, "n_placebo": 19},
           "output": {"map": False, "figures": False, "profiles": False, "report": False}}
    run = job.run(cfg, out=tmp_path / "out", progress=False)
    grid = ["estimate 2022 municipality", "estimate 2019 municipality"]
    if parallel:
        assert events[:3] == [grid[0], "start robustness", grid[1]]
    else:
        assert events[:3] == [*grid, "start robustness"]
    assert (tmp_path / "out" / "robustness.csv").is_file()
    assert run.main.spec == "2022"
