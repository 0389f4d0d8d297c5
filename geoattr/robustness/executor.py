"""Where the battery's tasks run: serially, in a process pool or on a Dask cluster.

Every task is a hashable tuple; a task runner ``run(state, task) -> (task, result)`` is a
module-level function (so that worker processes can unpickle it) and ``state`` is what
every task needs, shipped once per worker.  Each replication draws from its own stream,
:func:`replication_rng`, so results do not depend on the number of workers or on how the
replications are split into tasks; BLAS runs on one thread in every process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from geoattr.exceptions import InputError

__all__ = ["STREAMS", "replication_rng", "n_workers", "backend_name", "execute"]

#: Random stream of each kind of replication (the first ``spawn_key`` entry).
STREAMS: dict[str, int] = {"pairs": 1, "wild": 2, "placebo": 3}

TaskRunner = Callable[[Any, tuple], tuple[Hashable, Any]]

_WORKER_STATE: Any = None


def replication_rng(seed: int, stream: int, r: int) -> np.random.Generator:
    """Return the generator of replication ``r`` of a stream (independent of chunking and workers).

    Parameters
    ----------
    seed : int
    stream : int
        One of :data:`STREAMS`.
    r : int
        Replication number.

    Returns
    -------
    numpy.random.Generator
        ``default_rng(SeedSequence(seed, spawn_key=(stream, r)))``.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, r)))


def n_workers(n_jobs: int) -> int:
    """Number of worker processes for ``n_jobs`` (-1: every core available to this process).

    Parameters
    ----------
    n_jobs : int
        A positive integer or -1.

    Returns
    -------
    int
    """
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if n_jobs == -1:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1
    return int(n_jobs)


def backend_name(workers: int, client: Any) -> str:
    """``"dask"``, ``"serial"`` or ``"processes (<workers>)"``."""
    if client is not None:
        return "dask"
    return "serial" if workers == 1 else f"processes ({workers})"


def _init_worker(state: Any) -> None:  # pragma: no cover - runs in the worker processes
    global _WORKER_STATE
    threadpool_limits(limits=1)
    _WORKER_STATE = state


def _pool_task(run: TaskRunner, task: tuple) -> tuple:  # pragma: no cover - runs in the worker processes
    return run(_WORKER_STATE, task)


def _dask_task(task: tuple, state: Any, run: TaskRunner) -> tuple:
    with threadpool_limits(limits=1):
        return run(state, task)


def _run_dask(run: TaskRunner, tasks: Sequence[tuple], state: Any, client: Any, bar: Any) -> dict[Hashable, Any]:
    try:
        from distributed import as_completed
    except ImportError as err:  # pragma: no cover - the client comes from distributed
        raise ImportError("client= needs dask.distributed: pip install 'geoattr[dask]'") from err
    out: dict[Hashable, Any] = {}
    fstate = client.scatter(state, broadcast=True, hash=False)
    futures = client.map(_dask_task, tasks, state=fstate, run=run, pure=False)
    for fut in as_completed(futures):
        task, res = fut.result()
        out[task] = res
        bar.update()
    return out


def _run_pool(run: TaskRunner, tasks: Sequence[tuple], state: Any, workers: int, bar: Any) -> dict[Hashable, Any]:
    out: dict[Hashable, Any] = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), initializer=_init_worker,
                             initargs=(state,)) as ex:
        futs = [ex.submit(_pool_task, run, t) for t in tasks]
        for fut in futures_completed(futs):
            task, res = fut.result()
            out[task] = res
            bar.update()
    return out


def execute(run: TaskRunner, tasks: Sequence[tuple], state: Any, *, n_jobs: int, client: Any = None,
            progress: bool = True) -> dict[Hashable, Any]:
    """Run ``run(state, task)`` for every task; results by task.

    Parameters
    ----------
    run : callable
        Module-level function ``run(state, task) -> (task, result)``.
    tasks : sequence of tuple
    state : object
        Shipped once to each worker process (or scattered to the Dask workers).
    n_jobs : int
        Worker processes (already resolved by :func:`n_workers`); 1 runs serially.
    client : dask.distributed.Client, optional
        Run on this Dask cluster instead (``n_jobs`` is then ignored).
    progress : bool, default True
        Show a progress bar (tqdm).

    Returns
    -------
    dict
        Task -> result.
    """
    bar = tqdm(total=len(tasks), desc="robustness", unit="task", disable=not progress)
    try:
        if client is not None:
            return _run_dask(run, tasks, state, client, bar)
        if n_jobs == 1 or len(tasks) <= 1:
            out: dict[Hashable, Any] = {}
            for t in tasks:
                task, res = run(state, t)
                out[task] = res
                bar.update()
            return out
        return _run_pool(run, tasks, state, n_jobs, bar)
    finally:
        bar.close()
