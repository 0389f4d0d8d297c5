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

__all__ = ["Scenario", "scenarios_from_config", "scenario_paths", "group_scenarios", "effects_frame"]


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
