"""Simulation draws of a projection: estimation uncertainty, attractiveness uncertainty and noise.

Draw *d* uses its own generator, ``default_rng(SeedSequence(seed).spawn(draws)[d])``,
and the draws are computed in fixed chunks of :data:`CHUNK` whatever the number of
workers, so the results are identical for any ``n_jobs``.  A draw takes

* coefficients ``theta_d ~ N(theta, cov)`` (the estimates' covariance);
* each unit's attractiveness ``a_d ~ N(mean_i, sd_i)`` (see ``Launch``);
* a common shock per year ``N(0, year_sd)`` and a shock per unit and year
  ``N(0, noise_sd_i)``;

and gives the rate ``X[t] theta_d + a_d + shocks``.  Its net migration is the rate
times its own population, and the population follows from the baseline's plus the
effect of the draw's extra net migrants through the cohort model's response to one
migrant (:func:`~geoattr.forecast.cohort.migrant_response`); the regressors (ds
included) are the path's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from geoattr.forecast.cohort import migrant_response
from geoattr.forecast.launch import Launch
from geoattr.forecast.projection import Projection
from geoattr.robustness.executor import execute, n_workers

__all__ = ["CHUNK", "QUANTITIES", "SCENARIO_QUANTITIES", "Draws", "simulate", "response"]

#: Draws per task (fixed, so that the results do not depend on the number of workers).
CHUNK = 250
#: The simulated quantities (of the first path: the baseline).
QUANTITIES = ("net_migration", "net_migration_rate", "population", "births", "deaths")
#: The simulated quantities of the other paths (scenarios).
SCENARIO_QUANTITIES = ("net_migration", "population")


@dataclass(frozen=True)
class _Task:
    launch_theta: np.ndarray
    chol: np.ndarray
    att_mean: np.ndarray
    att_sd: np.ndarray
    noise_sd: np.ndarray
    year_sd: float
    response: dict[str, np.ndarray]
    paths: tuple[Projection, ...]
    children: tuple[np.random.SeedSequence, ...]


@dataclass(frozen=True)
class Draws:
    """Simulated quantities of one or more paths: ``values[path][quantity]`` is ``(N, H, draws)``."""

    values: tuple[dict[str, np.ndarray], ...]


def response(launch: Launch, horizon: int) -> dict[str, np.ndarray]:
    """The effect of one extra net migrant on later population (and births, deaths): ``(N, H)`` arrays."""
    if launch.cohort is not None:
        return migrant_response(launch.cohort, horizon)
    k = np.arange(horizon)
    return {"population": (1.0 + launch.natural_rate[:, None]) ** k[None, :]}


def _chol(cov: np.ndarray) -> np.ndarray:
    """A square root of a covariance matrix (eigenvalues clipped at 0 when it is not positive definite)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2.0)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))[None, :]


def _normals(children: tuple[np.random.SeedSequence, ...], K: int, N: int, H: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    zt, za, zy, zu = np.empty((len(children), K)), np.empty((len(children), N)), np.empty((len(children), H)), \
        np.empty((len(children), H, N))
    for j, child in enumerate(children):
        rng = np.random.default_rng(child)
        zt[j], za[j], zy[j], zu[j] = (rng.standard_normal(K), rng.standard_normal(N), rng.standard_normal(H),
                                      rng.standard_normal((H, N)))
    return zt, za, zy, zu


def _toeplitz(R: np.ndarray, *, lag: int) -> np.ndarray:
    """``T[n, h, s] = R[n, h - s - lag]`` where ``h - s - lag >= 0``, else 0: ``(N, H, H)``."""
    N, H = R.shape
    h, s_ = np.meshgrid(np.arange(H), np.arange(H), indexing="ij")
    k = h - s_ - lag
    return np.where(k[None] >= 0, R[:, np.clip(k, 0, H - 1)], 0.0)


def _path_draws(t: _Task, path: Projection, theta: np.ndarray, att: np.ndarray, shocks: np.ndarray,
                keep: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The draws ``(N, H, D)`` of one path given the drawn coefficients ``(D, K)``, attractiveness ``(N, D)``
    and shocks ``(N, H, D)``; only the quantities in ``keep``."""
    N, H = path.rate.shape
    D = theta.shape[0]
    rate = (path.X.reshape(H * N, -1) @ theta.T).reshape(H, N, D).transpose(1, 0, 2) + att[:, None, :] + shocks
    R = t.response["population"]
    nm = np.empty((N, H, D))
    dnm = np.empty((N, H, D))
    for h in range(H):
        start = path.population[:, h, None]
        if h:
            start = start + np.matmul(R[:, None, h - 1::-1], dnm[:, :h])[:, 0]
        nm[:, h] = rate[:, h] * start / 100.0
        dnm[:, h] = nm[:, h] - path.net_migration[:, h, None]
    out = {"net_migration": nm, "net_migration_rate": np.ascontiguousarray(rate)}
    if "population" in keep:
        out["population"] = path.population[:, 1:, None] + np.matmul(_toeplitz(R, lag=0), dnm)
    if path.births is not None:
        for q, base in (("births", path.births), ("deaths", path.deaths)):
            if q in keep:
                out[q] = base[:, :, None] + np.matmul(_toeplitz(t.response[q], lag=1), dnm)
    return {q: v for q, v in out.items() if q in keep}


def _run_chunk(t: _Task, task: tuple[int, int]) -> tuple[tuple[int, int], list[dict[str, np.ndarray]]]:
    with threadpool_limits(limits=1):  # one BLAS thread everywhere: the same rounding in and out of workers
        return _chunk(t, task)


def _chunk(t: _Task, task: tuple[int, int]) -> tuple[tuple[int, int], list[dict[str, np.ndarray]]]:
    lo, hi = task
    K = len(t.launch_theta)
    N, H = t.paths[0].rate.shape
    zt, za, zy, zu = _normals(t.children[lo:hi], K, N, H)
    theta = t.launch_theta[None, :] + zt @ t.chol.T
    att = t.att_mean[:, None] + za.T * t.att_sd[:, None]
    shocks = zy.T[None, :, :] * t.year_sd + np.transpose(zu, (2, 1, 0)) * t.noise_sd[:, None, None]
    return task, [_path_draws(t, p, theta, att, shocks, QUANTITIES if i == 0 else SCENARIO_QUANTITIES)
                  for i, p in enumerate(t.paths)]


def simulate(launch: Launch, paths: tuple[Projection, ...], *, draws: int, seed: int, n_jobs: int = 1,
             progress: bool = False) -> Draws:
    """Simulate every path with the same draws (common random numbers).

    Parameters
    ----------
    launch : Launch
    paths : tuple of Projection
        Paths of the same horizon (a baseline and its scenarios); path *p* of draw *d*
        uses the same random numbers as every other path of draw *d*.  The first path
        gets every quantity of :data:`QUANTITIES`, the others :data:`SCENARIO_QUANTITIES`.
    draws : int
        Number of draws (>= 1).
    seed : int
    n_jobs : int, default 1
        Worker processes (-1: all cores); the results do not depend on it.
    progress : bool, default False

    Returns
    -------
    Draws
    """
    H = paths[0].rate.shape[1]
    children = tuple(np.random.SeedSequence(seed).spawn(draws))
    state = _Task(launch_theta=launch.theta, chol=_chol(launch.cov), att_mean=launch.att_mean, att_sd=launch.att_sd,
                  noise_sd=launch.noise_sd, year_sd=launch.year_sd, response=response(launch, H), paths=tuple(paths),
                  children=children)
    tasks = [(lo, min(lo + CHUNK, draws)) for lo in range(0, draws, CHUNK)]
    res = execute(_run_chunk, tasks, state, n_jobs=n_workers(n_jobs), progress=progress)
    values = tuple({q: np.concatenate([res[task][p][q] for task in tasks], axis=2) for q in res[tasks[0]][p]}
                   for p in range(len(paths)))
    return Draws(values=values)
