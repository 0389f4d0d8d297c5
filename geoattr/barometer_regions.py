"""The Barometer at region level, and top and bottom lists of a Barometer.

:func:`region_barometer` aggregates the municipal panel to regions with
:meth:`geoattr.data.PanelData.aggregate` (population, jobs and net migration summed;
MODEL.md "Conventions") and runs :func:`geoattr.barometer` there.  Because counts are
summed before the ratios are taken, a region's ``y`` (net migration over the period in %
of the starting population) is the population-weighted mean of its municipalities' ``y``,
and its ``x`` (job growth over the period) the mean of the municipal job growth weighted
by the jobs of the year before the period.  Flow-type columns (persons) are summed too.
The regression, the index (its residual) and the long-run index are the municipal
Barometer's, on regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from geoattr.attractiveness import rankings
from geoattr.barometer import BarometerResults, barometer
from geoattr.data import PanelData
from geoattr.exceptions import InputError

__all__ = ["region_barometer", "barometer_top_bottom"]


def region_barometer(
    data: PanelData,
    *,
    regions: pd.Series | None = None,
    flow_columns: Sequence[str] | None = None,
    **barometer_options: Any,
) -> BarometerResults:
    """Run the Barometer on the regions of a municipal panel.

    Parameters
    ----------
    data : PanelData
        Municipality-level panel with ``population``, ``jobs`` and ``net_migration``.
    regions : pandas.Series, optional
        Unit -> region mapping (default ``data.regions``).
    flow_columns : sequence of str, optional
        Flow-type columns (persons); summed over each region's municipalities.
    **barometer_options
        Passed to :func:`geoattr.barometer` (``period_length``, ``last_year``,
        ``n_periods``, ``long_run_periods``, ``obs_weights``, ``cov_type``,
        ``on_missing``).

    Returns
    -------
    BarometerResults
        The units are regions; a note says how many municipalities were aggregated.
    """
    if not isinstance(data, PanelData):
        raise TypeError(f"data must be a geoattr PanelData, {type(data).__name__} was given instead")
    flows = list(flow_columns or [])
    missing = [f for f in flows if f not in data.panel.columns]
    if missing:
        raise InputError(f"flow column(s) {missing} are not in the panel; it has {list(data.panel.columns)}")
    reg = data.aggregate(regions)
    mapping = (data.region_of() if regions is None else regions.reindex(data.units))
    if flows:  # aggregate() averages columns it does not know as counts; flows are persons: sum them
        idx = data.panel.index
        summed = data.panel[flows].groupby([idx.get_level_values("unit").map(mapping),
                                            idx.get_level_values("year")]).sum(min_count=1)
        panel = reg.panel.copy()
        panel[flows] = summed.reindex(panel.index).to_numpy()
        reg = reg.replace(panel=panel)
    bar = barometer(reg, flow_columns=flows or None, **barometer_options)
    note = (f"region Barometer: {len(data.units)} municipalities aggregated to {mapping.nunique()} regions (population, "
            "jobs, net migration and flows summed before the rates are taken)")
    return replace(bar, notes=[note, *bar.notes], options={**bar.options, "unit_level": reg.unit_level})


def barometer_top_bottom(
    bar: BarometerResults,
    *,
    n: int = 10,
    names: pd.Series | None = None,
    flow: str = "total",
    level: str | None = None,
) -> pd.DataFrame:
    """Top and bottom ``n`` units of each period and of the long-run index.

    Parameters
    ----------
    bar : BarometerResults
        From :func:`geoattr.barometer` or :func:`region_barometer`.
    n : int, default 10
        Units at each end.
    names : pandas.Series, optional
        Unit -> name (default: the ids).
    flow : str, default "total"
        Which flow's index to rank.
    level : str, optional
        Written in the ``level`` column (default ``"region"`` for :func:`region_barometer`
        results, else ``"municipality"``).

    Returns
    -------
    pandas.DataFrame
        ``period`` (``"2014-2016"`` or ``"long-run"``), then ``level, list, rank, unit,
        name, residual`` (index, percentage points), ``residual_persons``.
    """
    if flow not in bar.flows:
        raise InputError(f"unknown flow {flow!r}; flows are {bar.flows}")
    idx = bar.index[bar.index["flow"] == flow]
    lvl = level or _level(bar)
    frames = []
    for period, g in idx.groupby("period", sort=False):
        gi = g.set_index("unit")
        cum = gi[["residual"]].assign(residual_persons=gi["residual"] * gi["population"] / 100)
        frames.append(rankings(cum, n=n, names=names, unit_level=lvl).assign(period=period))
    lr = bar.long_run[bar.long_run["flow"] == flow].set_index("unit")
    persons = (idx.assign(p=idx["residual"] * idx["population"] / 100)
               .loc[idx["period"].isin(set(_long_periods(bar)))].groupby("unit")["p"].sum())
    cum = pd.DataFrame({"residual": lr["index"], "residual_persons": persons.reindex(lr.index)})
    frames.append(rankings(cum, n=n, names=names, unit_level=lvl).assign(period="long-run"))
    out = pd.concat(frames, ignore_index=True)
    return out[["period", *[c for c in out.columns if c != "period"]]]


def _long_periods(bar: BarometerResults) -> list[str]:
    k = int(bar.options.get("long_run_periods", 3))
    return [f"{s}-{e}" for s, e in bar.periods[-k:]]


def _level(bar: BarometerResults) -> str:
    return str(bar.options.get("unit_level", "municipality"))
