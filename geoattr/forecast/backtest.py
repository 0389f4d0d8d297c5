"""Backtest: fit on the years up to ``fit_until``, project to ``through`` with the observed jobs, compare.

The model's projection of net migration (the draws' mean and their central interval)
is compared with what was observed, and so are three naive benchmarks: zero net
migration, the unit's mean of its last five years (``mean5``) and its last year
(``last``).  By method and horizon (1 = the first year after ``fit_until``) over all
units: root mean squared error, mean absolute error, bias (mean of projected minus
observed) and the share of observations inside the model's 95 % interval
(``coverage95``; empty for the benchmarks, which have no interval).  ``rmse``, ``mae``
and ``bias`` are in persons; ``rmse_rate``, ``mae_rate`` and ``bias_rate`` in % of the
observed population on 1 January.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.forecast.launch import build_launch
from geoattr.forecast.projection import observed_jobs, project
from geoattr.forecast.results import quantiles
from geoattr.forecast.simulate import simulate
from geoattr.models.ols import AttractivenessResults, estimate

__all__ = ["BENCHMARKS", "backtest", "refit"]

#: The naive benchmarks.
BENCHMARKS = ("zero", "mean5", "last")


def refit(fit: AttractivenessResults, fit_until: int) -> AttractivenessResults:
    """The same model estimated on the years up to ``fit_until``.

    Parameters
    ----------
    fit : AttractivenessResults
    fit_until : int

    Returns
    -------
    AttractivenessResults
    """
    opts = dict(fit.options)
    spec, years = opts.pop("spec"), opts.pop("years")
    if not years[0] + 2 <= fit_until:
        raise InputError(f"[forecast] backtest fit_until = {fit_until} leaves too few years: the fit starts in "
                         f"{years[0]}; choose fit_until >= {years[0] + 2}")
    return estimate(fit.unit_data, spec, unit_level=fit.unit_level, years=(years[0], fit_until), **opts)


def _observed(fit: AttractivenessResults, years: list[int]) -> tuple[np.ndarray, np.ndarray]:
    panel = fit.unit_data.panel
    units = fit.unit_data.units
    wide = panel["net_migration"].unstack("year").reindex(units)
    pop = panel["population"].unstack("year").reindex(units)
    missing = [y for y in years if y not in wide.columns or y not in pop.columns]
    if missing:
        raise InputError(f"the backtest needs observed net migration and population in {years[0]}-{years[-1]}; "
                         f"years {format_ids(missing)} are missing (lower [forecast] backtest through)")
    nm, p = wide[years], pop[years]
    bad = nm.index[(nm.isna() | p.isna()).any(axis=1)]
    if len(bad):
        raise InputError(f"observed net migration or population is missing in {years[0]}-{years[-1]} for "
                         f"{format_ids(bad)}")
    return nm.to_numpy(float), p.to_numpy(float)


def _metrics(method: str, pred: np.ndarray, obs: np.ndarray, pop: np.ndarray, inside: np.ndarray | None
             ) -> list[dict[str, object]]:
    rows = []
    err = pred - obs
    rate = err * 100.0 / pop
    for h in range(obs.shape[1]):
        e, r = err[:, h], rate[:, h]
        rows.append({"method": method, "horizon": h + 1, "rmse": float(np.sqrt(np.mean(e ** 2))),
                     "mae": float(np.mean(np.abs(e))), "bias": float(np.mean(e)),
                     "coverage95": float(np.mean(inside[:, h])) if inside is not None else np.nan,
                     "rmse_rate": float(np.sqrt(np.mean(r ** 2))), "mae_rate": float(np.mean(np.abs(r))),
                     "bias_rate": float(np.mean(r)), "n": int(len(e))})
    return rows


def backtest(fit: AttractivenessResults, *, fit_until: int, through: int, draws: int = 1000, seed: int = 0,
             attractiveness: str = "shrunken", n_jobs: int = 1) -> pd.DataFrame:
    """Backtest the projection of net migration against naive benchmarks.

    Parameters
    ----------
    fit : AttractivenessResults
        The model to backtest (re-estimated on the years up to ``fit_until``).
    fit_until : int
        Last year of the fit.
    through : int
        Last projected year (> ``fit_until``); net migration, population and jobs
        must be observed through it.
    draws : int, default 1000
    seed : int, default 0
    attractiveness : {"zero", "mean", "shrunken"}, default "shrunken"
    n_jobs : int, default 1

    Returns
    -------
    pandas.DataFrame
        ``method, horizon, rmse, mae, bias, coverage95, rmse_rate, mae_rate, bias_rate,
        n``: one row per method (``model`` and :data:`BENCHMARKS`) and horizon.
    """
    if through <= fit_until:
        raise InputError(f"[forecast] backtest needs through > fit_until, got fit_until = {fit_until}, through = "
                         f"{through}")
    early = refit(fit, fit_until)
    horizon = through - fit_until
    years = list(range(fit_until + 1, through + 1))
    obs, pop = _observed(fit, years)
    launch = build_launch(early, attractiveness=attractiveness)
    path = project(launch, observed_jobs(launch, horizon))
    d = simulate(launch, (path,), draws=draws, seed=seed, n_jobs=n_jobs).values[0]["net_migration"]
    lower, upper = quantiles(d, [0.025, 0.975])
    hist, _ = _observed(fit, list(range(fit_until - 4, fit_until + 1)))
    rows = _metrics("model", d.mean(axis=-1), obs, pop, (obs >= lower) & (obs <= upper))
    naive = {"zero": np.zeros_like(obs), "mean5": np.repeat(hist.mean(axis=1, keepdims=True), horizon, axis=1),
             "last": np.repeat(hist[:, -1:], horizon, axis=1)}
    for name in BENCHMARKS:
        rows += _metrics(name, naive[name], obs, pop, None)
    out = pd.DataFrame(rows)
    out.attrs["rules"] = [f"backtest: the model refitted on {early.unit_design.years[0]}-{fit_until} and projected "
                          f"{years[0]}-{years[-1]} with the observed jobs, {draws} draws; "] + launch.rules
    return out
