"""Side jobs of a run: independent steps in a forked child process while the run goes on.

A run's robustness battery and its profile pages depend only on what was computed before
them and write their own files, so :func:`geoattr.pipeline.run` starts them in a child
process (``fork``: the child inherits the data, nothing is pickled on the way in) and
collects their results where the serial run would have used them.  The child computes
exactly what the serial step computes, so every output is the same; only the key order
of ``files`` needs care: a :func:`placeholder` holds the place of a job's entries until
:func:`fill` puts them there.

Without ``fork`` (Windows, macOS' default), on one core, on a machine whose cores are busy
(:func:`parallel_available`), or with ``parallel=False``, a job runs at once in the calling
process.  A child that dies without an answer (killed, out
of memory) is run again in the calling process.  Either way the warnings a job raised
are raised again, and its error raised, when its result is collected, so that
:func:`geoattr.io.folders.collect_warnings` records the same warnings in the same order
with or without child processes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SideJobs", "fork_available", "parallel_available", "placeholder", "fill"]


def fork_available() -> bool:
    """Whether this process can fork side jobs: ``fork`` exists and it is not a daemonic worker.

    Returns
    -------
    bool
        False on Windows and macOS' default start method, and in a :class:`multiprocessing.pool.Pool`
        worker (which may not have children).
    """
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return False
    return not multiprocessing.current_process().daemon


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _busy_seconds() -> float | None:
    """Core-seconds the cores this process may use have been busy since boot (``/proc/stat``), or None.

    Busy is everything but idle and I/O wait: user, nice, system, interrupts and, on a
    virtual machine, the time the host gave the core to another guest (steal).
    """
    try:
        cpus = os.sched_getaffinity(0)
        with open("/proc/stat", "rb") as f:
            lines = [line.split() for line in f if line.startswith(b"cpu") and line[3:4].isdigit()]
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return None
    ticks = 0
    for fields in lines:
        if int(fields[0][3:]) in cpus:
            counts = [int(x) for x in fields[1:9]]
            ticks += sum(counts) - counts[3] - counts[4]
    return ticks / os.sysconf("SC_CLK_TCK")


_own_seconds = time.process_time  # this process' CPU time (all its threads)
_clock = time.monotonic


@dataclass
class _Usage:
    """A reading of the cores' busy time, this process' CPU time and the clock."""

    busy: float | None = field(default_factory=lambda: _busy_seconds())
    own: float = field(default_factory=lambda: _own_seconds())
    wall: float = field(default_factory=lambda: _clock())


#: The window over which other processes' use of the cores is measured: from the import
#: of this module (the imports of geoattr take seconds) or the last decision to the next.
_since = _Usage()


def _others(now: _Usage, since: _Usage) -> float | None:
    """Cores other processes used on average between ``since`` and ``now``, or None when unknown."""
    window = now.wall - since.wall
    if now.busy is None or since.busy is None or window <= 0:
        return None
    return max(0.0, (now.busy - since.busy) - (now.own - since.own)) / window


def parallel_available() -> bool:
    """Whether side jobs should run beside the main process: :func:`fork_available`, and a core is free.

    A core counts as free when the other processes on the cores this process may use
    left at least half a core idle besides the one this process needs, on average over
    the seconds since the last decision or since this module was imported (during
    ``import geoattr``; :class:`SideJobs` asks at its first job, after a run has read its
    data and fitted its main model), or over a fresh quarter of a second when that
    window is shorter than half a second or longer than two minutes.  This process' own
    CPU time is not counted: the load average, which counts it and falls slowly, held a
    second run right after a first one serial.  Without ``/proc/stat`` the load average
    of the last minute must be below the number of cores.  The environment variable
    ``GEOATTR_SIDE_JOBS=0`` turns side jobs off.  On a machine already busy with other
    work, child processes only compete with it and with the main process: measured on a
    2-core machine at load 3-6, the demo then took more CPU (62-63 s against 51-54 s) and
    more wall time (57-59 s against 45-49 s) than serially; at load 1-2, 32-45 s wall
    against 42-46 s.

    Returns
    -------
    bool
    """
    global _since
    if os.environ.get("GEOATTR_SIDE_JOBS", "").strip() == "0":  # the user's (or the test suite's) choice
        return False
    cores = _cores()
    if not fork_available() or cores < 2:
        return False
    now = _Usage()
    since = _since
    if not 0.5 <= now.wall - since.wall <= 120:
        since = now
        time.sleep(0.25)
        now = _Usage()
    _since = now
    others = _others(now, since)
    if others is None:  # no /proc/stat
        return os.getloadavg()[0] < cores
    return cores - 1 - others >= 0.5


def _outcome(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """Run the job: ``("ok", value, seconds, warnings)`` or ``("error", exception, traceback)``.

    The warnings are recorded, to be raised again when the result is collected.
    """
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # every warning is kept; the collector's filters decide
            value = fn(*args, **kwargs)
        return ("ok", value, time.perf_counter() - t0, [(w.message, w.category, w.filename, w.lineno) for w in caught])
    except Exception as err:  # noqa: BLE001 - every failure goes to the collector
        return ("error", err, traceback.format_exc())


def _child(conn: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:  # pragma: no cover - in the child
    """Run the job in the child and send its :func:`_outcome` to the parent."""
    msg = _outcome(fn, args, kwargs)
    try:
        conn.send(msg)
    except Exception as err:  # noqa: BLE001 - an unpicklable value or exception
        conn.send(("error", RuntimeError(f"side job failed to send its result back: {err!r}"), traceback.format_exc()))
    finally:
        conn.close()


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    process: Any = None
    conn: Any = None
    outcome: tuple | None = None
    value: Any = None
    seconds: float = 0.0
    done: bool = False


class SideJobs:
    """Jobs started now and collected later, in a child process each when possible.

    Parameters
    ----------
    parallel : bool, optional
        Run the jobs in child processes; default :func:`parallel_available`, asked when
        :attr:`parallel` is first read (the first job's start, usually), so that the
        machine's use is measured over the seconds before.  ``False`` runs each job when
        it is started, in the calling process.

    Examples
    --------
    >>> jobs = SideJobs(parallel=False)
    >>> jobs.start("sum", sum, [1, 2, 3])
    >>> jobs.result("sum")
    6
    """

    def __init__(self, parallel: bool | None = None) -> None:
        self._parallel = parallel
        self._jobs: dict[str, _Job] = {}

    def __repr__(self) -> str:
        return f"SideJobs(parallel={self._parallel!r}, jobs={list(self._jobs)})"

    @property
    def parallel(self) -> bool:
        """Whether the jobs run in child processes (decided once, when first read)."""
        if self._parallel is None:
            self._parallel = parallel_available()
        return self._parallel

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def start(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Start ``fn(*args, **kwargs)`` under ``name`` (a child process, or at once when not parallel).

        Parameters
        ----------
        name : str
            A name not used by another job of this object.
        fn : callable
            The job; its return value must pickle.
        *args, **kwargs
            Its arguments (inherited by the child, not pickled).
        """
        if name in self._jobs:
            raise ValueError(f"a side job named {name!r} was already started")
        job = self._jobs[name] = _Job(fn, args, kwargs)
        if not self.parallel:  # run now; its warnings and its error come out when it is collected
            job.outcome = _outcome(fn, args, kwargs)
            return
        ctx = multiprocessing.get_context("fork")
        job.conn, child_conn = ctx.Pipe(duplex=False)
        job.process = ctx.Process(target=_child, args=(child_conn, fn, args, kwargs), name=f"geoattr-{name}")
        job.process.start()
        child_conn.close()

    @staticmethod
    def _run_here(job: _Job) -> None:
        t0 = time.perf_counter()
        job.value = job.fn(*job.args, **job.kwargs)
        job.seconds, job.done = time.perf_counter() - t0, True

    def result(self, name: str) -> Any:
        """Wait for the job ``name`` and return its value (its exception is raised here).

        Parameters
        ----------
        name : str

        Returns
        -------
        object
        """
        job = self._jobs[name]
        if not job.done:
            self._collect(job)
        return job.value

    def seconds(self, name: str) -> float:
        """Seconds the job ``name`` took where it ran (collected jobs only).

        Parameters
        ----------
        name : str

        Returns
        -------
        float
        """
        job = self._jobs[name]
        if not job.done:
            raise ValueError(f"side job {name!r} has not been collected")
        return job.seconds

    def _collect(self, job: _Job) -> None:
        msg = job.outcome
        if job.process is not None:
            try:
                msg = job.conn.recv()
            except EOFError:  # the child died without an answer: run the job here
                msg = None
            finally:
                job.conn.close()
                job.process.join()
            if msg is None:
                self._run_here(job)
                return
            if msg[0] == "error":
                msg[1].add_note(f"(raised in the side job's child process)\n{msg[2]}")
        if msg[0] == "error":
            job.done = True
            raise msg[1]
        _, job.value, job.seconds, raised = msg
        job.done = True
        for message, category, filename, lineno in raised:
            warnings.warn_explicit(message, category, filename, lineno)

    def close(self) -> None:
        """Stop the jobs that were not collected (after an error of the main process)."""
        for job in self._jobs.values():
            if job.process is not None and not job.done:
                job.process.terminate()
                job.process.join()
                job.conn.close()
                job.done = True


def placeholder(name: str) -> str:
    """The key that holds the place of side job ``name``'s entries in an ordered mapping (see :func:`fill`).

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    return f"<side job {name}>"


def fill(mapping: dict[str, Any], name: str, new: Mapping[str, Any]) -> None:
    """Replace the :func:`placeholder` of ``name`` in ``mapping`` by ``new`` (in place), keeping the order.

    The serial step would have added ``new`` where the placeholder stands.

    Parameters
    ----------
    mapping : dict
        Holds ``placeholder(name)``; modified in place.
    name : str
    new : mapping
    """
    items = list(mapping.items())
    at = [k for k, _ in items].index(placeholder(name))
    mapping.clear()
    mapping.update(items[:at])
    mapping.update(new)
    mapping.update(items[at + 1:])
