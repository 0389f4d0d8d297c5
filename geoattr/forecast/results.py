"""The results of a forecast: projections with intervals, scenarios, backtest, the rules and the calculator inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ForecastResults", "summarise", "quantiles", "BANDS", "CALCULATOR_TERMS"]

#: Central intervals reported besides ``level`` (for fan charts): columns ``lower_50``, ``upper_50``...
BANDS = (0.5, 0.8)
#: Coefficient names of the calculator -> model terms.
CALCULATOR_TERMS = {"b_vra": "vra", "b_vra_l1": "vra_l1", "b_vra_l2": "vra_l2"}


def quantiles(draws: np.ndarray, probs: list[float]) -> np.ndarray:
    """Quantiles (linear interpolation, as :func:`numpy.quantile`) over the last axis.

    Parameters
    ----------
    draws : numpy.ndarray
        ``(..., D)``; not modified.
    probs : list of float

    Returns
    -------
    numpy.ndarray
        ``(len(probs), ...)``.
    """
    srt = np.sort(draws, axis=-1)
    D = srt.shape[-1]
    out = []
    for p in probs:
        pos = p * (D - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, D - 1)
        out.append(srt[..., lo] + (pos - lo) * (srt[..., hi] - srt[..., lo]))
    return np.stack(out)


def summarise(values: Mapping[str, np.ndarray], units: pd.Index, first_year: int, level: float) -> pd.DataFrame:
    """Long table ``unit, year, quantity, mean, lower, upper`` (+ the :data:`BANDS`) from draws ``(N, H, D)``.

    Parameters
    ----------
    values : mapping of str to numpy.ndarray
        Quantity -> draws.
    units : pandas.Index
    first_year : int
    level : float
        Level of ``lower`` and ``upper`` (central interval of the draws).

    Returns
    -------
    pandas.DataFrame
    """
    frames = []
    qs = [(1 - level) / 2, 1 - (1 - level) / 2] + [p for b in BANDS for p in ((1 - b) / 2, 1 - (1 - b) / 2)]
    for q, arr in values.items():
        N, H, _ = arr.shape
        f = pd.DataFrame({"unit": np.repeat(np.asarray(units, dtype=object), H),
                          "year": np.tile(np.arange(first_year, first_year + H), N), "quantity": q,
                          "mean": arr.mean(axis=-1).reshape(-1)})
        quant = quantiles(arr, qs)
        f["lower"], f["upper"] = quant[0].reshape(-1), quant[1].reshape(-1)
        for j, b in enumerate(BANDS):
            f[f"lower_{round(100 * b)}"] = quant[2 + 2 * j].reshape(-1)
            f[f"upper_{round(100 * b)}"] = quant[3 + 2 * j].reshape(-1)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class ForecastResults:
    """A projection of net migration and population with intervals, scenarios and a backtest.

    Attributes
    ----------
    forecast : pandas.DataFrame
        Long: ``unit, year, quantity, mean, lower, upper`` and the 50 % and 80 % bands
        (``lower_50, upper_50, lower_80, upper_80``).  Quantities: ``net_migration``
        (persons during the year), ``net_migration_rate`` (% of the population on 1
        January), ``population`` (on 31 December, i.e. 1 January of the next year),
        and with age data ``births`` and ``deaths`` (during the year).
    scenarios : pandas.DataFrame
        ``scenario, unit, year, persons, persons_lower, persons_upper, population,
        population_lower, population_upper``: net migrants gained (lost) during the year
        and population on 31 December against the baseline (point: the estimates;
        interval: the draws' differences, same random numbers for both paths).
    backtest : pandas.DataFrame or None
        ``method, horizon, rmse, mae, bias, coverage95`` (persons), ``rmse_rate,
        mae_rate, bias_rate`` (% of the population) and ``n``.
    notes : tuple of str
        Every rule of the projection (also in ``run.json``).
    info : mapping
        Launch year, horizon, draws, seed, level, attractiveness mode...
    coefficients : pandas.Series
        The model's coefficients (by term).
    shares : pandas.DataFrame
        ``unit, destination, share``: the commuting matrix used for future job growth.
    jobs : pandas.Series
        Jobs by workplace in the last observed year (by unit).
    population : pandas.Series
        Launch population (1 January of the first projected year, by unit).
    names : pandas.Series or None
        Unit names (when the data have polygons with names).
    history : pandas.DataFrame or None
        Observed ``unit, year, quantity, value`` of the fit years
        (:func:`geoattr.forecast.api.observed_history`), to draw before the forecast.
    """

    forecast: pd.DataFrame
    scenarios: pd.DataFrame
    backtest: pd.DataFrame | None
    notes: tuple[str, ...]
    info: Mapping[str, Any]
    coefficients: pd.Series
    shares: pd.DataFrame
    jobs: pd.Series
    population: pd.Series
    names: pd.Series | None = field(default=None)
    history: pd.DataFrame | None = field(default=None)

    def to_frame(self) -> pd.DataFrame:
        """The long forecast table (a copy)."""
        return self.forecast.copy()

    def quantity(self, name: str = "net_migration", value: str = "mean") -> pd.DataFrame:
        """One quantity as a units x years table of ``value`` (``mean``, ``lower``, ``upper``...)."""
        f = self.forecast[self.forecast["quantity"] == name]
        if f.empty:
            raise KeyError(f"no quantity {name!r}; the forecast has {sorted(self.forecast['quantity'].unique())}")
        return f.pivot(index="unit", columns="year", values=value)

    def calculator_inputs(self) -> dict[str, Any]:
        """What a scenario calculator needs: coefficients, commuting shares, jobs and population.

        The effect on unit *i*'s net migration (persons) of ``change`` jobs at workplace
        *j* in year *t*, in years *t*, *t + 1* and *t + 2* (*k* = 0, 1, 2), is::

            b_k * (share[i, j] * 100 * change / jobs[j] - 100 * change / national_jobs) * population[i] / 100

        with ``b_0, b_1, b_2`` = ``b_vra, b_vra_l1, b_vra_l2`` (0 when the model lacks the
        term).  The second part is the change's effect on national growth: the relative
        growth of every workplace falls by it, and as each unit's shares sum to 1 it
        reaches every unit once.  Exact for the projection's first year (jobs of the
        last observed year, launch population); for later years the jobs and the
        population have moved on.

        Returns
        -------
        dict
            ``coefficients`` (dict ``b_vra``, ``b_vra_l1``, ``b_vra_l2``), ``shares``
            (DataFrame ``unit, destination, share``), ``jobs`` (Series by workplace,
            the last observed year), ``population`` (Series by unit, launch
            population), ``national_jobs`` (float), ``year`` (the first projected year),
            ``names`` (Series or None) and ``formula`` (str).
        """
        coefs = {name: float(self.coefficients.get(term, 0.0)) for name, term in CALCULATOR_TERMS.items()}
        return {
            "coefficients": coefs,
            "shares": self.shares.copy(),
            "jobs": self.jobs.copy(),
            "population": self.population.copy(),
            "national_jobs": float(self.jobs.sum()),
            "year": int(self.info["first_year"]),
            "names": None if self.names is None else self.names.copy(),
            "formula": "persons_k = b_k * (share[unit, destination] * 100 * change / jobs[destination] - 100 * change "
                       "/ national_jobs) * population[unit] / 100, k = 0, 1, 2 for years t, t+1, t+2",
        }

    def calculator_json(self) -> dict[str, Any]:
        """:meth:`calculator_inputs` as plain JSON types (``json.dumps`` can write it)."""
        c = self.calculator_inputs()
        return {
            "coefficients": c["coefficients"],
            "year": c["year"],
            "national_jobs": c["national_jobs"],
            "formula": c["formula"],
            "jobs": {str(k): float(v) for k, v in c["jobs"].items()},
            "population": {str(k): float(v) for k, v in c["population"].items()},
            "shares": [[str(u), str(d), float(s)] for u, d, s in c["shares"][["unit", "destination", "share"]]
                       .itertuples(index=False)],
        }
