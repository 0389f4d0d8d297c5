"""``geoattr.forecast``: project net migration and population from a fitted attractiveness model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError
from geoattr.forecast.backtest import backtest as run_backtest
from geoattr.forecast.launch import Launch, build_launch
from geoattr.forecast.projection import jobs_path, national_growth, project
from geoattr.forecast.results import ForecastResults, summarise
from geoattr.forecast.scenario import Scenario, effects_frame, group_scenarios, scenario_paths, scenarios_from_config
from geoattr.forecast.simulate import simulate
from geoattr.models.ols import AttractivenessResults

__all__ = ["forecast", "commuting_shares", "observed_history"]


def commuting_shares(launch: Launch) -> pd.DataFrame:
    """The commuting matrix of a projection as a long table ``unit, destination, share`` (non-zero shares).

    Parameters
    ----------
    launch : Launch

    Returns
    -------
    pandas.DataFrame
    """
    W = launch.weights.tocoo()
    units = np.asarray(launch.units, dtype=object)
    out = pd.DataFrame({"unit": units[W.row], "destination": units[W.col], "share": W.data})
    return out[out["share"] != 0].sort_values(["unit", "destination"]).reset_index(drop=True)


def observed_history(fit: AttractivenessResults) -> pd.DataFrame:
    """The observed values of the forecast's quantities in the fit years (for fan charts).

    Parameters
    ----------
    fit : AttractivenessResults

    Returns
    -------
    pandas.DataFrame
        Long: ``unit, year, quantity, value``; ``net_migration``, ``net_migration_rate``
        and ``population`` (on 31 December: the population of 1 January of the next
        year, where observed), on the forecast's definitions.
    """
    panel = fit.unit_data.panel
    first, last = fit.unit_design.years
    yr = panel.index.get_level_values("year")
    sub = panel[(yr >= first) & (yr <= last)]
    pop_next = panel["population"].groupby(level="unit").shift(-1).reindex(sub.index)
    frames = {"net_migration": sub["net_migration"], "net_migration_rate": 100.0 * sub["net_migration"] /
              sub["population"], "population": pop_next}
    out = pd.concat([v.rename("value").reset_index().assign(quantity=q) for q, v in frames.items()],
                    ignore_index=True)
    return out.dropna(subset=["value"])[["unit", "year", "quantity", "value"]].reset_index(drop=True)


def _check_options(horizon: int, draws: int, level: float, seed: int, backtest: Any) -> tuple[int, int] | None:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise InputError(f"horizon must be a whole number of years >= 1, got {horizon!r}")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be an integer >= 1, got {draws!r}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    if backtest is None:
        return None
    if isinstance(backtest, Mapping):
        unknown = sorted(set(backtest) - {"fit_until", "through"})
        if unknown or not {"fit_until", "through"} <= set(backtest):
            raise InputError(f"backtest must be {{ fit_until = YEAR, through = YEAR }}, got keys {sorted(backtest)}")
        return int(backtest["fit_until"]), int(backtest["through"])
    fit_until, through = backtest
    return int(fit_until), int(through)


def forecast(
    fit: AttractivenessResults,
    *,
    horizon: int = 10,
    draws: int = 1000,
    seed: int = 0,
    attractiveness: str = "shrunken",
    jobs: str | Sequence[float] = "trend",
    scenarios: Iterable[Mapping[str, Any] | Scenario] = (),
    backtest: Mapping[str, int] | tuple[int, int] | None = None,
    level: float = 0.95,
    n_jobs: int = 1,
    progress: bool = False,
) -> ForecastResults:
    """Project net migration and population of every unit, with intervals, scenarios and a backtest.

    The projection starts the year after the fit's last year.  Each projected year,
    the fitted model gives the net migration rate from VRA (future job growth through
    the commuting matrix, lags from the observed years), centrality, ds (from the
    projected population by age) and the carried-forward attractiveness; a
    cohort-component model ages the population, adds births and removes deaths, and
    spreads net migration over ages and sexes by the unit's profile.  Intervals come
    from simulation (coefficients, attractiveness, yearly noise); every rule is listed
    in ``notes``.  See ``docs/forecasting.rst``.

    Parameters
    ----------
    fit : AttractivenessResults
        From :func:`geoattr.estimate` (specification ``"2022"``, ``"2019"`` or custom
        terms among vra, its lags, centrality, ds and panel columns).
    horizon : int, default 10
        Years projected.
    draws : int, default 1000
        Simulation draws.
    seed : int, default 0
        Seed (draw *d* uses the *d*-th child of ``numpy.random.SeedSequence(seed)``).
    attractiveness : {"zero", "mean", "shrunken"}, default "shrunken"
        How each unit's attractiveness is carried forward: zero, its mean residual or
        its empirical-Bayes (shrunken) mean.
    jobs : "trend", "zero" or sequence of float, default "trend"
        National job growth of each projected year (percent); every workplace grows at
        the national rate unless a scenario changes it.
    scenarios : iterable of mapping or Scenario, optional
        ``{"name", "unit", "year", "jobs"}``: ``jobs`` more (fewer) jobs at workplace
        ``unit`` from ``year`` on; tables with the same name form one scenario.
    backtest : {"fit_until": int, "through": int} or (int, int), optional
        Also backtest the model (see :func:`geoattr.forecast.backtest`).
    level : float, default 0.95
        Level of the intervals.
    n_jobs : int, default 1
        Worker processes for the draws (-1: all cores); results do not depend on it.
    progress : bool, default False

    Returns
    -------
    ForecastResults

    Raises
    ------
    InputError
        Bad options, a scenario on an unknown unit or outside the projection, a model
        or data the projection cannot use.
    """
    bt = _check_options(horizon, draws, level, seed, backtest)
    launch = build_launch(fit, attractiveness=attractiveness)
    rules = list(launch.rules)
    growth = national_growth(launch, jobs, horizon, rules)
    groups = group_scenarios(scenarios_from_config(scenarios), launch, horizon)
    base = project(launch, jobs_path(launch, growth))
    paths = scenario_paths(launch, growth, base, groups)
    sim = simulate(launch, (base, *paths.values()), draws=draws, seed=seed, n_jobs=n_jobs, progress=progress)
    table = summarise(sim.values[0], launch.units, launch.first_year, level)
    effects = [effects_frame(name, launch, base, p, (sim.values[0], sim.values[i + 1]), level)
               for i, (name, p) in enumerate(paths.items())]
    columns = ["scenario", "unit", "year", "persons", "persons_lower", "persons_upper", "population",
               "population_lower", "population_upper"]
    rules.append(f"intervals: central {level:.0%} of {draws} simulation draws (seed {seed}): coefficients from the "
                 "multivariate normal of the estimates and their covariance, the carried-forward attractiveness "
                 "with its uncertainty, a common shock per year and a shock per unit and year")
    bt_table = None
    if bt is not None:
        bt_table = run_backtest(fit, fit_until=bt[0], through=bt[1], draws=draws, seed=seed,
                                attractiveness=attractiveness, n_jobs=n_jobs)
        rules += [r for r in bt_table.attrs.pop("rules") if r not in rules]
    last = launch.first_year - 1
    info = {"first_year": launch.first_year, "last_year": launch.first_year + horizon - 1, "horizon": horizon,
            "draws": draws, "seed": seed, "level": level, "attractiveness": attractiveness,
            "jobs": jobs if isinstance(jobs, str) else [float(v) for v in jobs],
            "national_growth": [float(g) for g in growth], "weights_year": launch.weights_year,
            "mode": "cohort component" if launch.cohort is not None else "total population",
            "clipped_persons": float(base.clipped), "spec": fit.spec, "unit_level": fit.unit_level,
            "fit_years": list(fit.unit_design.years), "n_units": launch.n_units,
            "scenarios": {k: [vars(s) for s in v] for k, v in groups.items()},
            **({"backtest": {"fit_until": bt[0], "through": bt[1]}} if bt else {})}
    names = fit.unit_data.names if fit.unit_data.polygons is not None else None
    return ForecastResults(
        forecast=table,
        scenarios=pd.concat(effects, ignore_index=True) if effects else pd.DataFrame(columns=columns),
        backtest=bt_table, notes=tuple(rules), info=info, coefficients=fit.results.params,
        shares=commuting_shares(launch), jobs=launch.jobs[last].rename("jobs").rename_axis("unit"),
        population=pd.Series(launch.population, index=launch.units, name="population").rename_axis("unit"),
        names=names, history=observed_history(fit),
    )
