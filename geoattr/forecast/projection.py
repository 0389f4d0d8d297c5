"""The deterministic projection: jobs path -> VRA -> net migration -> population, year by year.

For each projected year *t* the regressors are built from the launch state
(:class:`~geoattr.forecast.launch.Launch`): ``vra[t] = W RA[t]`` from the jobs path,
``vra_l1[t]`` and ``vra_l2[t]`` from the years before (observed for the first two
projected years), ``ds[t]`` from the projected population by age and the jobs of
*t*, the other terms held constant.  The net migration rate is ``X[t] theta + a``
(``a`` the carried-forward attractiveness), net migration in persons is the rate
times the population on 1 January of *t* over 100, and the population moves on by
the cohort-component step (or in total without age data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.forecast.launch import VRA_TERMS, Launch
from geoattr.variables import relative_job_growth_array

__all__ = ["TREND_YEARS", "Projection", "national_growth", "jobs_path", "observed_jobs", "project"]

#: Years of observed national job growth whose mean is the "trend" path.
TREND_YEARS = 10


@dataclass(frozen=True)
class Projection:
    """One projected path (units ``N`` x years ``H``).

    Attributes
    ----------
    X : numpy.ndarray
        Regressors ``(H, N, K)``.
    rate : numpy.ndarray
        Net migration in % of the population on 1 January, ``(N, H)``.
    net_migration : numpy.ndarray
        Persons during the year, ``(N, H)``.
    population : numpy.ndarray
        On 1 January of the first projected year and of every following year, ``(N, H + 1)``.
    births, deaths : numpy.ndarray or None
        During the year ``(N, H)``; None when the population is projected in total.
    ds : numpy.ndarray or None
        The ds term ``(N, H)`` when the model has it.
    jobs : numpy.ndarray
        Jobs of the last observed year and every projected year, ``(N, H + 1)``.
    clipped : float
        Persons removed by setting negative age-sex cells to 0.
    """

    X: np.ndarray
    rate: np.ndarray
    net_migration: np.ndarray
    population: np.ndarray
    births: np.ndarray | None
    deaths: np.ndarray | None
    ds: np.ndarray | None
    jobs: np.ndarray
    clipped: float


def national_growth(launch: Launch, jobs: str | Sequence[float], horizon: int, rules: list[str]) -> np.ndarray:
    """National job growth of every projected year, in percent.

    Parameters
    ----------
    launch : Launch
    jobs : "trend", "zero" or sequence of float
        ``"trend"``: the mean yearly growth of the national total over the last
        :data:`TREND_YEARS` observed years; ``"zero"``; or one rate per year (percent),
        at least ``horizon`` of them.
    horizon : int
    rules : list of str

    Returns
    -------
    numpy.ndarray
        ``(horizon,)``.
    """
    if isinstance(jobs, str):
        if jobs == "zero":
            g = np.zeros(horizon)
            rules.append("national job growth: 0 % a year")
        elif jobs == "trend":
            tot = launch.jobs.sum(axis=0, min_count=1)
            tot = tot[tot.index < launch.first_year].dropna()
            rates = 100.0 * (tot / tot.shift(1) - 1.0)
            rates = rates.dropna().iloc[-TREND_YEARS:]
            if rates.empty:
                raise InputError("jobs = \"trend\" needs two observed years of jobs; give a list of rates instead")
            g = np.full(horizon, float(rates.mean()))
            rules.append(f"national job growth: the trend, {g[0]:.3f} % a year (mean of {rates.index[0]}-"
                         f"{rates.index[-1]})")
        else:
            raise InputError(f"[forecast] jobs must be \"trend\", \"zero\" or a list of yearly rates in %, got {jobs!r}")
    else:
        vals = [float(v) for v in jobs]
        if len(vals) < horizon:
            raise InputError(f"[forecast] jobs gives {len(vals)} yearly rate(s) for a horizon of {horizon} years; give "
                             f"{horizon} rates (in %) or \"trend\"")
        g = np.asarray(vals[:horizon])
        rules.append(f"national job growth: the given yearly rates {[round(v, 4) for v in g]} %")
    rules.append("local job growth: every workplace grows at the national rate (zero relative growth) unless a "
                 "scenario changes its jobs")
    return g


def jobs_path(launch: Launch, growth: np.ndarray, *,
              changes: Sequence[tuple[str, int, float]] = ()) -> np.ndarray:
    """Jobs of the last observed year and of every projected year ``(N, H + 1)``.

    Parameters
    ----------
    launch : Launch
    growth : numpy.ndarray
        National growth of every projected year (percent).
    changes : sequence of (unit, year, jobs)
        A permanent change of the jobs at a workplace from ``year`` on.

    Returns
    -------
    numpy.ndarray
    """
    H = len(growth)
    last = launch.first_year - 1
    if last not in launch.jobs.columns or launch.jobs[last].isna().any():
        raise InputError(f"jobs of {last} (the last observed year) are needed for every unit")
    E = np.empty((launch.n_units, H + 1))
    E[:, 0] = launch.jobs[last].to_numpy(float)
    for h in range(H):
        E[:, h + 1] = E[:, h] * (1.0 + growth[h] / 100.0)
    pos = {u: i for i, u in enumerate(launch.units)}
    for unit, year, change in changes:
        E[pos[unit], year - launch.first_year + 1:] += change
    return E


def observed_jobs(launch: Launch, horizon: int) -> np.ndarray:
    """The observed jobs of the last fit year and the ``horizon`` years after it ``(N, H + 1)`` (backtests)."""
    years = list(range(launch.first_year - 1, launch.first_year + horizon))
    missing = [y for y in years if y not in launch.jobs.columns]
    if missing:
        raise InputError(f"the backtest needs observed jobs for {years[0]}-{years[-1]}; years "
                         f"{format_ids(missing)} are missing")
    E = launch.jobs[years]
    if E.isna().any().any():
        bad = E.index[E.isna().any(axis=1)]
        raise InputError(f"observed jobs are missing in {years[0]}-{years[-1]} for {format_ids(bad)}")
    return E.to_numpy(float)


def _ds(launch: Launch, P: np.ndarray, jobs: np.ndarray) -> np.ndarray:
    """The ds term of one year from the population by age ``(N, 2, A)`` and the jobs ``(N,)``.

    The numerator is linear in the population (weights from
    :func:`geoattr.variables.demographic_supply_factors`, as in
    :func:`geoattr.variables.demographic_supply`); centred on the national value.
    """
    num = np.einsum("nsa,sa->n", P, launch.ds_inputs["factors"])
    return 100.0 * num / jobs - 100.0 * num.sum() / jobs.sum()


def project(launch: Launch, jobs: np.ndarray, *, ds: np.ndarray | None = None) -> Projection:
    """Project net migration and population along a jobs path with the point estimates.

    Parameters
    ----------
    launch : Launch
    jobs : numpy.ndarray
        ``(N, H + 1)`` from :func:`jobs_path` or :func:`observed_jobs`.
    ds : numpy.ndarray, optional
        ``(N, H)``: use this ds path (a scenario uses the baseline's) instead of
        recomputing it.

    Returns
    -------
    Projection
    """
    N, H = launch.n_units, jobs.shape[1] - 1
    ra = relative_job_growth_array(jobs)[:, 1:]
    vra = np.column_stack([launch.vra_observed, launch.weights @ ra])  # years first-2 .. first+H-1
    k_ds = launch.term_index("ds")
    X = np.repeat(launch.fixed[None], H, axis=0)
    rate, nm = np.empty((N, H)), np.empty((N, H))
    pop = np.empty((N, H + 1))
    pop[:, 0] = launch.population
    vital = launch.cohort is not None
    births, deaths = (np.empty((N, H)), np.empty((N, H))) if vital else (None, None)
    ds_out = np.empty((N, H)) if k_ds is not None else None
    P = launch.age
    clipped = 0.0
    for h in range(H):
        for term, lag in VRA_TERMS.items():
            k = launch.term_index(term)
            if k is not None:
                X[h, :, k] = vra[:, 2 + h - lag]
        if k_ds is not None:
            ds_out[:, h] = ds[:, h] if ds is not None else _ds(launch, P, jobs[:, h + 1])
            X[h, :, k_ds] = ds_out[:, h]
        rate[:, h] = X[h] @ launch.theta + launch.att_mean
        nm[:, h] = rate[:, h] * pop[:, h] / 100.0
        if vital:
            st = launch.cohort.step(P, nm[:, h])
            P, births[:, h], deaths[:, h] = st.population, st.births, st.deaths
            clipped += st.clipped
            pop[:, h + 1] = P.sum(axis=(1, 2))
        else:
            pop[:, h + 1] = pop[:, h] * (1.0 + launch.natural_rate) + nm[:, h]
    return Projection(X=X, rate=rate, net_migration=nm, population=pop, births=births, deaths=deaths, ds=ds_out,
                      jobs=jobs, clipped=clipped)
