"""Scenarios: a change in the jobs at a workplace, against the baseline projection.

A scenario adds ``jobs`` (e.g. 100 or -300) to the jobs located in ``unit`` from
``year`` on (a permanent change of the level).  The change enters the relative job
growth of that workplace (and, slightly, the national growth every unit's relative
growth is measured against), reaches every unit through the commuting matrix into
VRA, and moves net migration at lags 0, 1 and 2 by the coefficients of ``vra``,
``vra_l1`` and ``vra_l2``; the population follows.  The ds term keeps the
baseline's path.  For a unit nobody commutes into or out of, the effect in the three
years is ``b1``, ``b2`` and ``b3`` times the shock to its relative job growth, times
its population over 100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.forecast.launch import Launch
from geoattr.forecast.projection import Projection, jobs_path, project
from geoattr.forecast.results import quantiles

__all__ = ["Scenario", "scenarios_from_config", "scenario_paths", "group_scenarios", "effects_frame",
           "job_change_effect"]


def job_change_effect(coefficients: Sequence[float], *, change: float, jobs: float, population: Any, share: Any,
                      national_jobs: float | None = None) -> np.ndarray:
    """First-order effect of a job change at a workplace on net migration: the one formula of scenarios.

    ``change`` jobs more at workplace *j* (``jobs`` of them in the year before) move
    *j*'s relative job growth by ``100 * change / jobs`` percentage points and the
    national growth, its reference, by ``100 * change / national_jobs``; unit *i*'s VRA
    moves by ``share * 100 * change / jobs - 100 * change / national_jobs`` (its shares
    sum to 1), and its net migration in the year of the change and the two after it by::

        persons_k = b_k * (share * 100 * change / jobs - 100 * change / national_jobs) * population / 100

    It equals the projection's scenario effect (:func:`scenario_paths`) in the year of
    the change when ``jobs`` and ``population`` are those the projection starts from;
    the profile pages' calculator (:mod:`geoattr.report.calculator`) computes the same
    numbers in the browser.

    Parameters
    ----------
    coefficients : sequence of float
        ``b_1, b_2, b_3``: the coefficients of ``vra``, ``vra_l1`` and ``vra_l2`` (0 for
        a term the model lacks).
    change : float
        Jobs added at the workplace (negative: lost).
    jobs : float
        The workplace's jobs (the base year).
    population : float or array_like
        Population of the unit(s) (the base year).
    share : float or array_like
        Share of the unit's employed residents who work at the workplace (0 where none do).
    national_jobs : float, optional
        The national job total; None leaves the national term out (a workplace small
        against the country).

    Returns
    -------
    numpy.ndarray
        Persons, shape ``(3,) + shape of population * share``: years 1, 2 and 3.
    """
    shock = np.asarray(share, dtype=float) * (100.0 * float(change) / float(jobs))
    if national_jobs is not None:
        shock = shock - 100.0 * float(change) / float(national_jobs)
    base = shock * np.asarray(population, dtype=float) / 100.0
    return np.stack([float(b) * base for b in coefficients])


@dataclass(frozen=True)
class Scenario:
    """A change of ``jobs`` at the workplace ``unit`` from ``year`` on, in scenario ``name``."""

    name: str
    unit: str
    year: int
    jobs: float


def scenarios_from_config(items: Iterable[Mapping[str, Any] | Scenario]) -> list[Scenario]:
    """Scenarios from ``[[forecast.scenario]]`` tables (``name``, ``unit``, ``year``, ``jobs``).

    Parameters
    ----------
    items : iterable of mapping or Scenario

    Returns
    -------
    list of Scenario

    Raises
    ------
    InputError
        A table without one of the four keys, or with a value of the wrong type.
    """
    out = []
    for i, s in enumerate(items):
        if isinstance(s, Scenario):
            out.append(s)
            continue
        missing = [k for k in ("name", "unit", "year", "jobs") if k not in s]
        if missing:
            raise InputError(f"[[forecast.scenario]] number {i + 1} lacks {missing}; each scenario needs name, unit, "
                             "year and jobs (e.g. name = \"plant\", unit = \"1804\", year = 2025, jobs = 100)")
        if isinstance(s["jobs"], bool) or not isinstance(s["jobs"], (int, float)):
            raise InputError(f"[[forecast.scenario]] {s['name']!r}: jobs must be a number, got {s['jobs']!r}")
        out.append(Scenario(name=str(s["name"]), unit=str(s["unit"]), year=int(s["year"]), jobs=float(s["jobs"])))
    return out


def group_scenarios(scenarios: Sequence[Scenario], launch: Launch, horizon: int) -> dict[str, list[Scenario]]:
    """Scenarios by name (tables with the same name form one scenario), checked against the projection."""
    units = set(launch.units)
    last = launch.first_year + horizon - 1
    bad_units = sorted({s.unit for s in scenarios if s.unit not in units})
    if bad_units:
        raise InputError(f"scenario unit(s) {format_ids(bad_units)} are not units of the data; use the unit ids of "
                         f"the panel (e.g. {format_ids(list(launch.units[:3]))})")
    bad_years = [f"{s.name!r}: {s.year}" for s in scenarios if not launch.first_year <= s.year <= last]
    if bad_years:
        raise InputError(f"scenario year(s) {bad_years} lie outside the projection {launch.first_year}-{last}; "
                         "choose a projected year")
    groups: dict[str, list[Scenario]] = {}
    for s in scenarios:
        groups.setdefault(s.name, []).append(s)
    return groups


def scenario_paths(launch: Launch, growth: np.ndarray, baseline: Projection,
                   groups: Mapping[str, Sequence[Scenario]]) -> dict[str, Projection]:
    """The projection of every scenario (same national growth; the baseline's ds)."""
    return {name: project(launch, jobs_path(launch, growth, changes=[(s.unit, s.year, s.jobs) for s in items]),
                          ds=baseline.ds) for name, items in groups.items()}


def effects_frame(name: str, launch: Launch, baseline: Projection, path: Projection,
                  draws: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None, level: float) -> pd.DataFrame:
    """Persons gained (lost) against the baseline, by unit and year, with the draws' interval.

    Columns ``scenario, unit, year, persons`` (net migrants gained during the year),
    ``persons_lower, persons_upper``, ``population`` (on 31 December),
    ``population_lower, population_upper`` (the intervals without ``draws``: absent).
    """
    N, H = baseline.rate.shape
    years = np.arange(launch.first_year, launch.first_year + H)
    out = pd.DataFrame({"scenario": name, "unit": np.repeat(np.asarray(launch.units, dtype=object), H),
                        "year": np.tile(years, N)})
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    for q, col, point in (("net_migration", "persons", path.net_migration - baseline.net_migration),
                          ("population", "population", path.population[:, 1:] - baseline.population[:, 1:])):
        out[col] = point.reshape(-1)
        if draws is not None:
            diff = draws[1][q] - draws[0][q]
            bounds = quantiles(diff, [lo, hi])
            out[f"{col}_lower"], out[f"{col}_upper"] = bounds[0].reshape(-1), bounds[1].reshape(-1)
    return out
