"""The Barometer: the earliest attractiveness index.

Non-overlapping periods of ``period_length`` years (three by default) that end at the
last year.  For each period and unit

* ``y`` = net migration over the period (the sum of ``net_migration`` over its years)
  in % of the population on 1 January of the period's first year;
* ``x`` = job growth over the period, ``100 * (E[end] / E[start - 1] - 1)`` (MODEL.md,
  "Conventions"), which needs the jobs of the year before the period.

One simple regression ``y = a + b x + e`` per period (least squares, the geoattr
results family); the index is the residual ``e``, and the long-run index the sum of a
unit's residuals over the last ``long_run_periods`` periods.  When the user supplies
flow-type columns (persons, e.g. immigration from abroad, domestic moves of the
immigrant population, domestic moves of everyone else) the same regression is run
with ``y`` built from each flow type separately; ``x`` is the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.data import PanelData
from geoattr.exceptions import DroppedRowsWarning, InputError
from geoattr.models.ols import CovType, LeastSquares
from geoattr.models.results import RegressionResults
from geoattr.variables import Design

__all__ = ["barometer", "BarometerResults", "barometer_periods"]

Period = tuple[int, int]
TOTAL = "total"
INDEX_COLUMNS = ["unit", "period", "start", "end", "flow", "population", "y", "x", "expected", "residual"]


def _label(period: Period) -> str:
    return f"{period[0]}-{period[1]}"


def barometer_periods(
    first_year: int, last_year: int, period_length: int
) -> tuple[list[Period], list[int]]:
    """Non-overlapping periods of ``period_length`` years ending at ``last_year``.

    Parameters
    ----------
    first_year, last_year : int
        First and last year of the data (inclusive).
    period_length : int
        Years per period.

    Returns
    -------
    periods : list of (int, int)
        ``(start, end)`` pairs in chronological order; the last one ends at ``last_year``.
    unused : list of int
        Years at the start that do not fill a whole period (not used).

    Examples
    --------
    >>> barometer_periods(2000, 2007, 3)
    ([(2002, 2004), (2005, 2007)], [2000, 2001])
    """
    if period_length < 1:
        raise ValueError(f"period_length must be a positive number of years, got {period_length}")
    n = max((last_year - first_year + 1) // period_length, 0)
    periods = [
        (last_year - (k + 1) * period_length + 1, last_year - k * period_length) for k in range(n)
    ][::-1]
    start = periods[0][0] if periods else last_year + 1
    return periods, list(range(first_year, start))


@dataclass(frozen=True)
class BarometerResults:
    """Results of :func:`barometer`.

    Attributes
    ----------
    periods : list of (int, int)
        Estimated periods ``(start, end)``, chronological.
    results : dict
        ``(start, end) -> RegressionResults`` of the total net migration.
    flow_results : dict
        ``flow -> {(start, end) -> RegressionResults}`` for each flow type.
    index : pandas.DataFrame
        Long table, one row per unit, period and flow: ``unit, period ("2021-2023"),
        start, end, flow ("total" or the flow column), population`` (1 January of the
        first year, the denominator of ``y``), ``y, x, expected, residual`` (percent).
    long_run : pandas.DataFrame
        ``unit, flow, index, n_periods``: the sum of the unit's residuals over the last
        ``long_run_periods`` estimated periods and how many residuals were summed.
    skipped : dict
        ``(start, end) -> reason`` for periods (or leftover years at the start, which do
        not fill a period) that were not estimated.
    excluded : pandas.DataFrame
        ``period, unit, reason``: units left out of a period's regression because an
        input was missing (only with ``on_missing="drop"``).
    notes : list of str
        What was done and any caveat, in words.
    accounting : Accounting
        Unit-periods read, used and dropped.
    options : dict
        The arguments of the call.
    """

    periods: list[Period]
    results: dict[Period, RegressionResults]
    flow_results: dict[str, dict[Period, RegressionResults]]
    index: pd.DataFrame
    long_run: pd.DataFrame
    skipped: dict[Period, str] = field(default_factory=dict)
    excluded: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["period", "unit", "reason"])
    )
    notes: list[str] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def flows(self) -> list[str]:
        """Flow names: ``"total"`` followed by the flow columns."""
        return [TOTAL, *self.flow_results]

    def result(self, period: Period | str, flow: str = TOTAL) -> RegressionResults:
        """Return the regression of one period and flow.

        Parameters
        ----------
        period : (int, int) or str
            ``(2021, 2023)`` or ``"2021-2023"``.
        flow : str, default "total"
        """
        key = self._period_key(period)
        if flow == TOTAL:
            return self.results[key]
        if flow not in self.flow_results:
            raise KeyError(f"unknown flow {flow!r}; flows are {self.flows}")
        return self.flow_results[flow][key]

    def _period_key(self, period: Period | str) -> Period:
        labels = {_label(p): p for p in self.periods}
        key = labels.get(period) if isinstance(period, str) else tuple(period)  # type: ignore[arg-type]
        if key not in self.results:
            raise KeyError(f"period {period!r} was not estimated; periods are {list(labels)}")
        return key  # type: ignore[return-value]

    def to_frame(self) -> pd.DataFrame:
        """Return the long index table (what the pipeline writes as ``barometer.csv``)."""
        return self.index.copy()

    def coefficients(self, flow: str | None = TOTAL) -> pd.DataFrame:
        """Coefficients by period.

        Parameters
        ----------
        flow : str or None, default "total"
            One flow, or None for all (then the index is ``(flow, period)``).

        Returns
        -------
        pandas.DataFrame
            Index ``period`` (label); columns ``a`` (constant), ``b`` (slope on job
            growth), ``se`` and ``p`` (of ``b``, with the covariance of the fit),
            ``r2``, ``nobs``.
        """
        flows = self.flows if flow is None else [flow]
        rows = []
        for f in flows:
            if f == TOTAL:
                res = self.results
            elif f in self.flow_results:
                res = self.flow_results[f]
            else:
                raise KeyError(f"unknown flow {f!r}; flows are {self.flows}")
            for p in self.periods:
                r = res[p]
                rows.append(
                    {
                        "flow": f,
                        "period": _label(p),
                        "a": r.params["const"],
                        "b": r.params["job_growth"],
                        "se": r.std_errors["job_growth"],
                        "p": r.pvalues["job_growth"],
                        "r2": r.rsquared,
                        "nobs": r.nobs,
                    }
                )
        out = pd.DataFrame(rows, columns=["flow", "period", "a", "b", "se", "p", "r2", "nobs"])
        if flow is None:
            return out.set_index(["flow", "period"])
        return out.drop(columns="flow").set_index("period")


def _wide(data: PanelData, column: str, years: range) -> pd.DataFrame:
    """Units x years table of a panel column (missing rows become NaN)."""
    s = data.column(column)
    wide = s.unstack("year")
    return wide.reindex(index=data.units, columns=list(years)).astype(float)


def _default_last_year(nm: pd.DataFrame, jobs: pd.DataFrame) -> int:
    ok = nm.notna().any(axis=0) & jobs.notna().any(axis=0)
    if not ok.any():
        raise InputError("no year has both net_migration and jobs; the barometer needs both")
    return int(ok[ok].index.max())


def barometer(
    data: PanelData,
    *,
    period_length: int = 3,
    last_year: int | None = None,
    n_periods: int | None = None,
    flow_columns: Sequence[str] | None = None,
    long_run_periods: int = 3,
    obs_weights: Literal["population"] | None = None,
    cov_type: CovType = "robust",
    on_missing: Literal["raise", "drop"] = "raise",
) -> BarometerResults:
    """Compute the Barometer: a simple regression of period net migration on job growth.

    Parameters
    ----------
    data : PanelData
        Panel with ``population`` (1 January), ``jobs`` (by workplace) and
        ``net_migration`` (persons during the year), plus the flow columns if any.
    period_length : int, default 3
        Years per period.  Periods do not overlap and end at ``last_year``; years at
        the start that do not fill a whole period are not used (listed in
        ``skipped``).
    last_year : int, optional
        Last year of the last period.  Default: the last year in which some unit has
        both ``net_migration`` and ``jobs`` (a panel often carries the population of
        1 January of the year after its last migration year).
    n_periods : int, optional
        Use only the last ``n_periods`` periods (error when fewer fit in the data).
        Default: every period that fits.
    flow_columns : sequence of str, optional
        Panel columns of persons by flow type that sum to ``net_migration`` (e.g.
        ``immigration``, ``domestic_immigrants``, ``domestic_rest``).  Each gets its own
        regression with ``y`` = the flow over the period in % of the starting
        population; ``x`` is unchanged.  When the columns do not sum to
        ``net_migration`` a note says so (the flow indices then do not add up to the
        total index).  The flow names in the output are the column names.
    long_run_periods : int, default 3
        The long-run index is the sum of a unit's residuals over the last
        ``long_run_periods`` estimated periods.
    obs_weights : {None, "population"}, default None
        ``"population"``: population-weighted least squares (weights: population on
        1 January of the period's first year) instead of OLS.
    cov_type : {"robust", "unadjusted"}, default "robust"
        Covariance of the coefficients (heteroskedasticity-robust by default: one
        observation per unit).  It affects standard errors only, not the index.
    on_missing : {"raise", "drop"}, default "raise"
        A unit lacking an input of a period (population at the start, jobs in
        ``start - 1`` or ``end``, net migration or a flow in a year of the period), or
        with zero jobs in ``start - 1``: raise an error naming the units, or leave the
        unit out of that period (listed in ``excluded``, counted in the accounting,
        with a :class:`~geoattr.exceptions.DroppedRowsWarning`).  A period where an
        input year is absent for every unit (typically the jobs of the year before the
        first period) is skipped and listed in ``skipped`` either way.

    Returns
    -------
    BarometerResults

    Notes
    -----
    The regressions are indexed by (unit, last year of the period).  The index is in
    percentage points of the starting population; multiply by ``population / 100`` for
    persons.  With flow columns that sum to ``net_migration`` the flow residuals add up
    to the total residual, because least squares is linear in ``y``.
    """
    if not isinstance(data, PanelData):
        raise TypeError(
            f"data must be a geoattr PanelData, {type(data).__name__} was given instead"
        )
    _check_options(period_length, long_run_periods, n_periods, on_missing)
    val.population_weighted(obs_weights)
    flows = _check_flow_columns(data, flow_columns)

    all_years = range(int(data.years.min()), int(data.years.max()) + 1)
    wide = {c: _wide(data, c, all_years) for c in ("population", "jobs", "net_migration", *flows)}
    nm, jobs = wide["net_migration"], wide["jobs"]
    last_year = _last_year(last_year, nm, jobs, all_years)
    candidates, skipped = _candidate_periods(nm, all_years, last_year, period_length, n_periods)

    acc = Accounting()
    excluded_rows: list[dict[str, Any]] = []
    rows: list[pd.DataFrame] = []
    fits: dict[str, dict[Period, RegressionResults]] = {f: {} for f in (TOTAL, *flows)}
    n_read = n_dropped = 0
    for period in candidates:
        inputs = _period_inputs(wide, flows, *period)
        absent = [what for what, col in inputs.items() if col.isna().all()]
        if absent:
            skipped[period] = _absent_reason(absent, period)
            continue
        n_read += len(data.units)
        bad_units = _units_lacking_inputs(inputs, period, on_missing)
        excluded_rows += [
            {"period": _label(period), "unit": u, "reason": ", ".join(w)} for u, w in bad_units.items()
        ]
        n_dropped += len(bad_units)
        keep = data.units[~data.units.isin(list(bad_units))]
        rows += _fit_period(wide, flows, keep, period, fits, unit_level=data.unit_level, accounting=acc,
                            obs_weights=obs_weights, cov_type=cov_type)
    results = fits.pop(TOTAL)
    if not results:
        raise InputError(
            "no barometer period could be estimated: "
            + "; ".join(f"{_label(p)}: {why}" for p, why in skipped.items())
        )
    acc.record(
        "barometer",
        read=n_read,
        dropped={"unit-period with missing input": n_dropped},
        note=f"unit-periods of {len(results)} estimated period(s)",
    )
    periods = sorted(results)
    index, long_run = _index_tables(rows, flows, periods, long_run_periods)
    notes = _notes(periods, period_length, last_year, long_run_periods, skipped)
    if flows:
        notes.append(_flow_sum_note(nm, {f: wide[f] for f in flows},
                                    [y for p in periods for y in range(p[0], p[1] + 1)]))
    return BarometerResults(
        periods=periods, results=results, flow_results=fits, index=index, long_run=long_run, skipped=skipped,
        excluded=pd.DataFrame(excluded_rows, columns=["period", "unit", "reason"]), notes=notes, accounting=acc,
        options={
            "period_length": period_length,
            "last_year": last_year,
            "n_periods": n_periods,
            "flow_columns": list(flows),
            "long_run_periods": long_run_periods,
            "obs_weights": obs_weights,
            "cov_type": cov_type,
            "on_missing": on_missing,
        },
    )


def _check_options(period_length: int, long_run_periods: int, n_periods: int | None, on_missing: str) -> None:
    for name, v in (("period_length", period_length), ("long_run_periods", long_run_periods)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if n_periods is not None and (
        not isinstance(n_periods, (int, np.integer)) or isinstance(n_periods, bool) or n_periods < 1
    ):
        raise ValueError(f"n_periods must be a positive integer or None, got {n_periods!r}")
    if on_missing not in ("raise", "drop"):
        raise ValueError(f"on_missing must be 'raise' or 'drop', got {on_missing!r}")


def _last_year(last_year: int | None, nm: pd.DataFrame, jobs: pd.DataFrame, all_years: range) -> int:
    if last_year is None:
        return _default_last_year(nm, jobs)
    if int(last_year) not in all_years:
        raise InputError(
            f"last_year={last_year} is outside the panel's years {all_years[0]}-{all_years[-1]}; "
            "choose a year with net_migration and jobs"
        )
    return int(last_year)


def _candidate_periods(
    nm: pd.DataFrame, all_years: range, last_year: int, period_length: int, n_periods: int | None
) -> tuple[list[Period], dict[Period, str]]:
    """The periods to try, and the leftover years at the start (as a skipped 'period')."""
    has_nm = nm.columns[nm.notna().any(axis=0)]
    first_nm = int(has_nm.min()) if len(has_nm) else all_years[0]
    candidates, unused = barometer_periods(first_nm, last_year, period_length)
    skipped: dict[Period, str] = {}
    if n_periods is not None:
        if n_periods > len(candidates):
            need = last_year - n_periods * period_length + 1
            raise InputError(
                f"n_periods={n_periods} periods of {period_length} years ending in {last_year} need net migration "
                f"from {need}; the data have it from {first_nm}, so at most {len(candidates)} period(s) fit. "
                "Lower n_periods or period_length."
            )
        candidates = candidates[-n_periods:]
    elif unused:
        skipped[(unused[0], unused[-1])] = (
            f"years {unused[0]}-{unused[-1]} do not fill a {period_length}-year period ending in "
            f"{candidates[0][0] - 1 if candidates else last_year}; not used"
        )
    if not candidates:
        raise InputError(
            f"no {period_length}-year period fits between {first_nm} and {last_year}; lower "
            "period_length"
        )
    return candidates, skipped


def _absent_reason(absent: list[str], period: Period) -> str:
    s = period[0]
    why = f"no data for {', '.join(absent)} in any unit"
    if f"jobs {s - 1}" in absent:
        why += f" (job growth over the period needs the jobs of {s - 1}, the year before it)"
    return why


def _units_lacking_inputs(
    inputs: dict[str, pd.Series], period: Period, on_missing: str
) -> dict[str, list[str]]:
    """Unit -> the inputs it lacks in the period; raise, or warn that they are left out."""
    s = period[0]
    problems = {what: col.index[col.isna()] for what, col in inputs.items() if col.isna().any()}
    zero = inputs[f"jobs {s - 1}"].index[inputs[f"jobs {s - 1}"] == 0]
    if len(zero):
        problems[f"zero jobs in {s - 1} (job growth undefined)"] = zero
    bad_units: dict[str, list[str]] = {}
    for what, units in problems.items():
        for u in units:
            bad_units.setdefault(u, []).append(what)
    if not bad_units:
        return bad_units
    detail = "; ".join(f"{what}: {format_ids(units)}" for what, units in problems.items())
    if on_missing == "raise":
        raise InputError(
            f"barometer period {_label(period)}: {len(bad_units)} unit(s) lack inputs ({detail}). Fill the gaps, "
            "or pass on_missing='drop' to leave these units out of the period (they are listed in the results)."
        )
    warnings.warn(f"barometer period {_label(period)}: {len(bad_units)} unit(s) left out for missing inputs "
                  f"({detail})", DroppedRowsWarning, stacklevel=3)
    return bad_units


def _fit_period(
    wide: dict[str, pd.DataFrame],
    flows: list[str],
    keep: pd.Index,
    period: Period,
    fits: dict[str, dict[Period, RegressionResults]],
    *,
    unit_level: str,
    accounting: Accounting,
    obs_weights: Literal["population"] | None,
    cov_type: CovType,
) -> list[pd.DataFrame]:
    """Fit the total and each flow of one period (into ``fits``); return their index rows."""
    s, e = period
    pop, jobs, nm = wide["population"], wide["jobs"], wide["net_migration"]
    p0 = pop.loc[keep, s]
    x = 100.0 * (jobs.loc[keep, e] / jobs.loc[keep, s - 1] - 1.0)
    ys = {TOTAL: 100.0 * nm.loc[keep, s:e].sum(axis=1) / p0}
    ys.update({f: 100.0 * wide[f].loc[keep, s:e].sum(axis=1) / p0 for f in flows})
    idx = pd.MultiIndex.from_arrays(
        [pd.Index(keep, dtype=object), np.full(len(keep), e)], names=["unit", "year"]
    )
    X = pd.DataFrame({"const": 1.0, "job_growth": x.to_numpy()}, index=idx)
    population = pd.Series(p0.to_numpy(), index=idx, name="population")
    rows = []
    for f, yv in ys.items():
        design = Design(
            y=pd.Series(yv.to_numpy(), index=idx, name="y"), X=X, population=population, spec=f"barometer ({f})",
            unit_level=unit_level, years=period,
            notes=[
                f"period {_label(period)}; y: {'net migration' if f == TOTAL else f} over the period in % of "
                f"the population on 1 January {s}; x: 100*(jobs {e} / jobs {s - 1} - 1)"
            ],
            accounting=accounting,
        )
        try:
            r = LeastSquares(design, obs_weights=obs_weights).fit(cov_type=cov_type)
        except InputError as err:
            raise InputError(f"barometer period {_label(period)} ({f}): {err}") from err
        fits[f][period] = r
        rows.append(
            pd.DataFrame(
                {
                    "unit": pd.Index(keep, dtype=object),
                    "period": _label(period),
                    "start": s,
                    "end": e,
                    "flow": f,
                    "population": p0.to_numpy(),
                    "y": yv.to_numpy(),
                    "x": x.to_numpy(),
                    "expected": r.fitted_values.to_numpy(),
                    "residual": r.resids.to_numpy(),
                }
            )
        )
    return rows


def _index_tables(
    rows: list[pd.DataFrame], flows: list[str], periods: list[Period], long_run_periods: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long index table and the long-run index, sorted by flow (total first)."""
    index = pd.concat(rows, ignore_index=True)[INDEX_COLUMNS]
    order = {f: i for i, f in enumerate([TOTAL, *flows])}
    index = index.sort_values(
        ["flow", "start", "unit"],
        key=lambda c: c.map(order) if c.name == "flow" else c,
        kind="stable",
    ).reset_index(drop=True)
    long_periods = [_label(p) for p in periods[-long_run_periods:]]
    lr = index[index["period"].isin(long_periods)]
    long_run = (
        lr.groupby(["unit", "flow"], sort=False)["residual"]
        .agg(index="sum", n_periods="count")
        .reset_index()
    )
    long_run = long_run.sort_values(
        ["flow", "unit"], key=lambda c: c.map(order) if c.name == "flow" else c, kind="stable"
    ).reset_index(drop=True)
    return index, long_run


def _notes(
    periods: list[Period], period_length: int, last_year: int, long_run_periods: int,
    skipped: dict[Period, str],
) -> list[str]:
    long_periods = [_label(p) for p in periods[-long_run_periods:]]
    notes = [
        f"{len(periods)} period(s) of {period_length} years ending in {last_year}: "
        f"{', '.join(_label(p) for p in periods)}; long-run index over {', '.join(long_periods)}"
    ]
    if len(periods) < long_run_periods:
        notes.append(f"only {len(periods)} period(s) estimated, fewer than long_run_periods={long_run_periods}")
    for p, why in skipped.items():
        notes.append(f"skipped {_label(p)}: {why}")
    return notes


def _check_flow_columns(data: PanelData, flow_columns: Sequence[str] | None) -> list[str]:
    if flow_columns is None:
        return []
    if isinstance(flow_columns, str):
        raise TypeError(
            f"flow_columns must be a list of column names, not the string {flow_columns!r}"
        )
    flows = list(flow_columns)
    dup = sorted({f for f in flows if flows.count(f) > 1})
    if dup:
        raise InputError(f"flow_columns lists {format_ids(dup)} more than once")
    reserved = [f for f in flows if f in (TOTAL, "net_migration")]
    if reserved:
        raise InputError(
            f"flow_columns cannot include {format_ids(reserved)}: the total regression is always run "
            "(flow 'total'); pass only the flow-type columns"
        )
    missing = [f for f in flows if f not in data.panel.columns]
    if missing:
        raise InputError(
            f"flow column(s) {format_ids(missing)} are not in the panel; it has "
            f"{format_ids(list(data.panel.columns), 30)}"
        )
    return flows


def _period_inputs(
    wide: dict[str, pd.DataFrame], flows: list[str], s: int, e: int
) -> dict[str, pd.Series]:
    """Each input the period needs, as a Series by unit (NaN when absent)."""

    def col(df: pd.DataFrame, year: int) -> pd.Series:
        return df[year] if year in df.columns else pd.Series(np.nan, index=df.index)

    pop, jobs = wide["population"], wide["jobs"]
    out = {
        f"population {s}": col(pop, s),
        f"jobs {s - 1}": col(jobs, s - 1),
        f"jobs {e}": col(jobs, e),
    }
    for name in ("net_migration", *flows):
        for t in range(s, e + 1):
            out[f"{name} {t}"] = col(wide[name], t)
    return out


def _flow_sum_note(nm: pd.DataFrame, flow_w: dict[str, pd.DataFrame], years: list[int]) -> str:
    total = sum(flow_w.values())[years]
    diff = (total - nm[years]).abs().stack()
    bad = diff[diff > 1e-6]
    if len(bad):
        return (
            f"the flow columns do not sum to net_migration in {len(bad)} unit-year(s) "
            f"({format_ids(bad.index)}); the flow indices do not add up to the total index"
        )
    return "the flow columns sum to net_migration, so the flow indices add up to the total index"
