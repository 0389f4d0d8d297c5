"""The design matrix: ``y`` and the regressors of a named or custom specification (:func:`build_design`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from geoattr import weights as gw
from geoattr._format import format_ids
from geoattr.accounting import Accounting, step_name
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.variables.growth import (
    CommutingYear,
    commuting_weights,
    own_neighbour_growth,
    relative_job_growth,
    to_long,
    to_wide,
    weighted_growth,
)
from geoattr.variables.terms import centrality, demographic_supply, net_migration_rate
from geoattr.weights import CommutingWeights, SparseWeights

__all__ = ["Design", "build_design", "SPECIFICATIONS", "KNOWN_TERMS"]

#: Terms of the named specifications (the constant is added separately).
SPECIFICATIONS: dict[str, tuple[str, ...]] = {
    "2022": ("vra", "vra_l1", "vra_l2", "centrality", "ds"),
    "2019": ("vra", "vra_l1", "vra_l2", "centrality"),
    "2018": ("ra", "ra_l1", "ra_l2", "nv", "nv_l1", "nv_l2", "log_pop", "ami"),
}

#: The terms geoattr computes (any other term must be a panel column).
KNOWN_TERMS = frozenset({"vra", "vra_l1", "vra_l2", "centrality", "ds", "ra", "ra_l1", "ra_l2",
                         "nv", "nv_l1", "nv_l2", "log_pop", "ami"})


@dataclass(frozen=True)
class Design:
    """Dependent variable and regressors of one specification, ready for estimation.

    Attributes
    ----------
    y : pandas.Series
        Net migration rate (``y``) on (unit, year).
    X : pandas.DataFrame
        Regressors with stable term names (``const`` first when there is a constant).
    population : pandas.Series
        Population on 1 January (for weighted least squares and persons).
    spec : str
        Specification name.
    unit_level : str
        Unit level (``"municipality"``, ``"region"``...).
    years : (int, int)
        Inclusive range of the dependent variable's years.
    notes : list of str
        Substitutions and other facts to report (e.g. commuting year used).
    accounting : Accounting
        Row accounting up to and including this step.
    """

    y: pd.Series
    X: pd.DataFrame
    population: pd.Series
    spec: str
    unit_level: str
    years: tuple[int, int]
    notes: list[str] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)

    @property
    def terms(self) -> list[str]:
        """Regressor names."""
        return list(self.X.columns)


def _spec_terms(spec: str | Sequence[str]) -> tuple[str, tuple[str, ...]]:
    if isinstance(spec, str):
        if spec not in SPECIFICATIONS:
            raise InputError(f"unknown specification {spec!r}; choose one of {sorted(SPECIFICATIONS)}")
        return spec, SPECIFICATIONS[spec]
    terms = tuple(spec)
    return "custom", terms


def _required_job_years(years: tuple[int, int], max_lag: int) -> list[int]:
    first, last = years
    return list(range(first - max_lag - 1, last + 1))


def _check_complete(s: pd.Series, years: Sequence[int], units: pd.Index, *, what: str, hint: str) -> None:
    """Error naming the (unit, year) cells that are missing or NaN among ``years``."""
    wide = to_wide(s).reindex(index=units, columns=list(years))
    present = set(s.index.get_level_values("year").unique())  # built once, not once per year
    missing_years = [y for y in years if y not in present]
    if missing_years:
        have = sorted(present)
        raise InputError(
            f"{what} is needed for years {years[0]}-{years[-1]} but years {format_ids(missing_years)} "
            f"are missing (available: {have[0]}-{have[-1]}). {hint}"
        )
    cells = wide.isna().stack()
    cells = cells[cells]
    if len(cells):
        raise InputError(
            f"{what} is missing for {len(cells)} (unit, year) cell(s): {format_ids(cells.index)}. {hint}"
        )


def _check_positive_jobs(jobs: pd.Series, years: Sequence[int], *, why: str) -> None:
    """Error naming the (unit, year) cells of ``years`` where jobs are zero (growth divides by them)."""
    cells = jobs[jobs.index.get_level_values("year").isin(list(years)) & (jobs <= 0).to_numpy()]
    if len(cells):
        raise InputError(
            f"{why}, so it needs jobs > 0 in every year {years[0]}-{years[-1]}; the panel column 'jobs' is "
            f"{format_ids(sorted(set(cells.tolist())))} in {len(cells)} (unit, year) cell(s): "
            f"{format_ids(cells.index)}. Fix the jobs in the data; or leave the unit(s) out: remove their "
            "rows from the panel and pass on_mismatch='drop' to PanelData (run configuration: [data] "
            "on_mismatch = \"drop\"), which drops their flows too; or merge them into a neighbouring unit "
            "with a crosswalk (geoattr.harmonise_panel); or narrow years=."
        )


def _lag(term: str) -> int:
    return int(term.split("_l")[1]) if "_l" in term else 0


def _terms(data: PanelData, spec: str | Sequence[str], extra: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    name, terms = _spec_terms(spec)
    terms = tuple(terms) + tuple(t for t in extra if t not in terms)
    unknown = [t for t in terms if t not in KNOWN_TERMS and t not in data.panel.columns]
    if unknown:
        raise InputError(
            f"unknown term(s) {unknown}: not a geoattr variable ({sorted(KNOWN_TERMS)}) nor a panel "
            f"column ({list(data.panel.columns)})"
        )
    return name, terms


def _default_years(data: PanelData, dependent: str, *, needs_jobs: bool, max_lag: int) -> tuple[int, int]:
    """The years where y can be computed, from the first year the lags allow."""
    dep = data.column(dependent)
    y_years = dep.index.get_level_values("year")[dep.notna().to_numpy()]
    first = int(y_years.min())
    if needs_jobs:
        jobs = data.column("jobs")
        j_years = jobs.index.get_level_values("year")[jobs.notna().to_numpy()]
        first = max(first, int(j_years.min()) + max_lag + 1)
    return first, int(y_years.max())


def _dependent(data: PanelData, dependent: str, yrs: list[int], *, relative_to_national: bool,
               notes: list[str]) -> pd.Series:
    for col in (dependent, "population"):
        data.column(col)
    data.cached(("checked", "population complete", tuple(yrs)), lambda: _check_complete(
        data.column("population"), yrs, data.units, what="population",
        hint="population on 1 January is the denominator of y; add it or narrow years=") or True)
    y = net_migration_rate(data, dependent)
    if relative_to_national:
        nat = 100.0 * data.column(dependent).groupby(level="year").sum() / data.column(
            "population").groupby(level="year").sum()
        y = (y - nat.reindex(y.index.get_level_values("year")).to_numpy()).rename("y")
        notes.append("y is net migration relative to the national rate of the year")
    return y


def _substitution_notes(cw: CommutingWeights) -> list[str]:
    by_used: dict[int, list[int]] = {}
    for req, used in cw.substitutions.items():
        by_used.setdefault(used, []).append(req)
    return [f"commuting matrix of {used} used for year(s) {min(reqs)}-{max(reqs)} "
            f"({len(reqs)} year(s) without a matrix of their own or a fixed year)"
            for used, reqs in sorted(by_used.items())]


def _ami(data: PanelData, cw: CommutingWeights, yrs: list[int]) -> pd.Series:
    """AMI of every year of ``yrs`` from its (substituted) year's flows, all years in one pass.

    Each (year, unit) sum adds the same flow rows in the same order as
    :func:`labour_market_integration` on that year's table, so the values are the same.
    """
    source = [cw.substitutions.get(t, t) for t in yrs]
    fl = data.flows[data.flows["year"].isin(set(source))]
    sums = {
        "d": fl.loc[fl["origin"] == fl["destination"]].groupby(["year", "origin"])["count"].sum(),
        "r": fl.groupby(["year", "origin"])["count"].sum(),
        "c": fl.groupby(["year", "destination"])["count"].sum(),
    }
    wide = {k: v.unstack(0).reindex(index=data.units, columns=source) for k, v in sums.items()}
    d = wide["d"].fillna(0.0).to_numpy()
    r, c = wide["r"].to_numpy(), wide["c"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ami = 100.0 * (c - d) / c + 100.0 * (r - d) / r
    n = len(data.units)
    idx = pd.MultiIndex.from_arrays([data.units[np.tile(np.arange(n), len(yrs))], np.repeat(np.asarray(yrs), n)],
                                    names=["unit", "year"])
    return pd.Series(ami.T.ravel(), index=idx, name="ami")


def _sparse_weights(data: PanelData, cw: CommutingWeights, units: pd.Index) -> CommutingWeights:
    """``cw`` with each matrix as SparseWeights on ``units``: one conversion per source matrix per data.

    SparseWeights already on ``units`` are used as they are.  For a Graph,
    :func:`~geoattr.weights.as_sparse` gives the same matrix as for the SparseWeights it
    was made of, so VRA and NV are unchanged; the designs of other specifications and
    year ranges reuse the conversions (cached on ``data`` by Graph).
    """
    memo = data.cached(("weights", "sparse of graph"), dict)  # id(graph) -> (graph, SparseWeights)
    graphs = {}
    for year, g in cw.items():
        if isinstance(g, SparseWeights) and g.ids.equals(units):
            graphs[year] = g
            continue
        hit = memo.get(id(g))
        if hit is None or hit[0] is not g or not hit[1].ids.equals(units):
            hit = (g, SparseWeights(matrix=gw.as_sparse(g, units), ids=units))
            memo[id(g)] = hit
        graphs[year] = hit[1]
    return CommutingWeights(graphs=graphs, substitutions=dict(cw.substitutions))


def _growth_columns(data: PanelData, terms: tuple[str, ...], years: tuple[int, int], *, max_lag: int,
                    commuting_options: dict, notes: list[str]) -> dict[str, pd.Series]:
    """RA, VRA, NV (with lags) and AMI, from jobs and the commuting weights.

    Each family is cached on ``data`` by years, lags and commuting options, so the
    specifications that share VRA (2022, 2019) compute it once.
    """
    growth_terms = [t for t in terms if t.split("_l")[0] in ("vra", "ra", "nv")]
    yrs = list(range(years[0], years[1] + 1))
    opts = tuple(sorted(commuting_options.items()))
    ra = data.cached(("job growth", years, max_lag), lambda: _checked_growth(data, growth_terms, years, max_lag))
    cw = commuting_weights(data, list(range(years[0] - max_lag, years[1] + 1)), as_graph=False, **commuting_options)
    notes.extend(_substitution_notes(cw))
    units = pd.Index(ra.index.get_level_values("unit").unique())
    cols: dict[str, pd.Series] = {}
    vra_terms = [t for t in growth_terms if t.startswith("vra")]
    if vra_terms:
        v = data.cached(("growth part", "vra", years, max_lag, opts), lambda: weighted_growth(
            ra, _sparse_weights(data, cw, units), years=years, lags=range(max_lag + 1)))
        cols.update({t: v[t] for t in vra_terms})
    wide = to_wide(ra)
    for t in [t for t in growth_terms if t.startswith("ra")]:
        cols[t] = to_long(pd.DataFrame({yy: wide[yy - _lag(t)] for yy in yrs}, index=wide.index), t)
    nv_terms = [t for t in growth_terms if t.startswith("nv")]
    if nv_terms:
        nv = data.cached(("growth part", "nv", years, max_lag, opts), lambda: own_neighbour_growth(
            ra, _sparse_weights(data, cw, units), years=years, lags=range(max_lag + 1), renormalise=True))
        cols.update({t: nv[t] for t in nv_terms})
    if "ami" in terms:
        cols["ami"] = data.cached(("growth part", "ami", years, max_lag, opts), lambda: _ami(data, cw, yrs))
    return cols


def _checked_growth(data: PanelData, growth_terms: list[str], years: tuple[int, int], max_lag: int) -> pd.Series:
    """Relative job growth of the years the lags need, after checking that jobs are complete and positive."""
    job_years = _required_job_years(years, max_lag)
    _check_complete(
        data.column("jobs"), job_years, data.units, what="jobs",
        hint=f"the lags need jobs from {job_years[0]} (year t-{max_lag + 1}); "
        f"start years= later or add the missing years",
    )
    jobs = data.column("jobs")
    _check_positive_jobs(
        jobs, job_years,
        why=f"relative job growth (ra, and the {', '.join(growth_terms)} built from it) divides jobs in year t "
        "by jobs in t-1",
    )
    return relative_job_growth(jobs[jobs.index.get_level_values("year").isin(job_years)])


def _growth_and_notes(data: PanelData, terms: tuple[str, ...], years: tuple[int, int], max_lag: int,
                      options: dict) -> tuple[dict[str, pd.Series], tuple[str, ...]]:
    """:func:`_growth_columns` and its notes, for the data's cache (the same for every design that asks)."""
    notes: list[str] = []
    cols = _growth_columns(data, terms, years, max_lag=max_lag, commuting_options=options, notes=notes)
    return cols, tuple(notes)


def _ds_of(data: PanelData, yrs: list[int]) -> pd.Series:
    return demographic_supply(data.population_by_age, data.column("jobs"), data.employment_rates,
                              data.death_probabilities, years=yrs)


def _ds_every_year(data: PanelData) -> pd.Series | None:
    """DS of every year with jobs for every unit (None when it cannot be computed)."""
    jobs = data.column("jobs")
    missing = jobs.isna().groupby(level="year").any()
    years = sorted(set(missing.index[~missing.to_numpy()]) & set(data.population_by_age["year"].unique()))
    try:
        return _ds_of(data, [int(y) for y in years]) if years else None
    except InputError:
        return None


def _ds(data: PanelData, yrs: list[int]) -> pd.Series:
    """DS of the years ``yrs``: the data's DS of every year with jobs, cut to ``yrs``, computed once for all designs.

    A year's DS depends only on that year's rows (its numerator sums and national value
    are by year), so the cut equals DS computed on ``yrs`` alone, bit for bit (tested for
    ranges of two or more years; a single year, whose national value pandas sums another
    way, is computed alone).  When that DS cannot be computed (a year outside ``yrs``
    lacks ages) or lacks a year of ``yrs``, DS is computed on ``yrs`` alone (and raises
    its usual errors).
    """
    full = data.cached(("ds", "every year with jobs"), lambda: _ds_every_year(data)) if len(yrs) > 1 else None
    if full is not None:
        ys = full.index.get_level_values("year")
        if set(yrs) <= set(ys.unique()):
            return full[ys.isin(yrs)]
    return data.cached(("ds", tuple(yrs)), lambda: _ds_of(data, yrs))


def _check_jobs_for_ds(data: PanelData, yrs: list[int]) -> bool:
    """Raise unless jobs are complete and positive in ``yrs`` (cached on the data once passed)."""
    _check_complete(data.column("jobs"), yrs, data.units, what="jobs", hint="DS divides by jobs by workplace in year t")
    _check_positive_jobs(data.column("jobs"), yrs, why="ds divides by jobs by workplace in year t")
    return True


def _level_columns(data: PanelData, terms: tuple[str, ...], idx: pd.MultiIndex,
                   yrs: list[int]) -> dict[str, pd.Series]:
    """Centrality, DS, log population."""
    cols: dict[str, pd.Series] = {}
    if "centrality" in terms:
        if data.centrality is None:
            raise InputError("the specification needs centrality: pass centrality= to PanelData(...)")
        c = centrality(data.centrality, mean=data.centrality_mean)
        cols["centrality"] = pd.Series(c.reindex(idx.get_level_values("unit")).to_numpy(), index=idx)
    if "ds" in terms:
        for need in ("population_by_age", "employment_rates", "death_probabilities"):
            if getattr(data, need) is None:
                hint = data.info.get("ds_hint", {}).get(need, "pass it to PanelData(...)")
                raise InputError(f"the 2022 specification's ds term needs {need}: {hint}")
        data.cached(("checked", "jobs for ds", tuple(yrs)), lambda: _check_jobs_for_ds(data, yrs))
        cols["ds"] = _ds(data, yrs)
    if "log_pop" in terms:
        cols["log_pop"] = np.log(data.column("population")).rename("log_pop")
    return cols


def _regressors(cols: dict[str, pd.Series], terms: tuple[str, ...], idx: pd.MultiIndex, *, year_effects: bool,
                constant: bool) -> pd.DataFrame:
    X = pd.DataFrame({t: cols[t].reindex(idx) for t in terms}, index=idx)
    if year_effects:
        dummies = pd.get_dummies(idx.get_level_values("year"), prefix="year", dtype=float)
        dummies.index = idx
        if constant:
            dummies = dummies.iloc[:, 1:]
        X = pd.concat([X, dummies], axis=1)
    if constant:
        X.insert(0, "const", 1.0)
    return X


def _window_drops(data: PanelData, years: tuple[int, int], lag_from: int) -> dict[str, int]:
    """Panel rows outside the estimation years, by reason (those read only for the lags apart)."""
    first, last = years
    y = data.panel.index.get_level_values("year")
    window = f"the estimation years {first}-{last}"
    return {
        f"years before {lag_from}: outside {window}": int((y < lag_from).sum()),
        f"years {lag_from}-{first - 1}: read only for job growth and its lags ({window})":
            int(((y >= lag_from) & (y < first)).sum()),
        f"years after {last}: outside {window}": int((y > last).sum()),
    }


def _drop_missing(yv: pd.Series, X: pd.DataFrame, pop: pd.Series, idx: pd.MultiIndex, *, on_missing: str
                  ) -> tuple[pd.Series, pd.DataFrame, pd.Series, dict[str, int]]:
    """Raise naming the rows with a missing value, or drop them and count them by the columns missing."""
    missing = yv.isna() | X.isna().any(axis=1)
    if not missing.any():
        return yv, X, pop, {}
    bad = idx[missing.to_numpy()]
    which = ["y"] * bool(yv.isna().any()) + [c for c in X.columns if X[c].isna().any()]
    if on_missing == "raise":
        raise InputError(
            f"{len(bad)} (unit, year) row(s) have missing values in {which}: {format_ids(bad)}. "
            "Fill them, narrow years=, or pass on_missing='drop' to drop and report them."
        )
    keep = ~missing.to_numpy()
    na = pd.concat([yv.isna().rename("y"), X.isna()], axis=1)[missing.to_numpy()]
    reasons = na.apply(lambda r: "missing values in " + ", ".join(na.columns[r.to_numpy()]), axis=1)
    return yv[keep], X[keep], pop[keep], {k: int(v) for k, v in reasons.value_counts(sort=False).items()}


def build_design(
    data: PanelData,
    spec: str | Sequence[str] = "2022",
    *,
    years: tuple[int, int] | None = None,
    commuting_year: CommutingYear = "same",
    constant: bool = True,
    year_effects: bool = False,
    relative_to_national: bool = False,
    extra: Sequence[str] = (),
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
    on_missing: Literal["raise", "drop"] = "raise",
    dependent: str = "net_migration",
) -> Design:
    """Build ``y`` and the regressors of a specification.

    Parameters
    ----------
    data : PanelData
        Aligned inputs.
    spec : {"2022", "2019", "2018"} or sequence of str, default "2022"
        Named specification or an explicit list of term names.
    years : (int, int), optional
        Inclusive range of the dependent variable's years.  The lags need jobs (and
        weights) two and three years further back.  Default: every year for which the
        lags can be computed, to the last year with net migration.
    commuting_year : int or "same", default "same"
        Which commuting matrix to use (see :func:`commuting_weights`).
    constant : bool, default True
        Include ``const``.
    year_effects : bool, default False
        Add year dummies ``year_<t>`` (the first year is the reference when there is a
        constant).
    relative_to_national : bool, default False
        Express ``y`` relative to the national net migration rate of the year
        (``100 * sum NM / sum P``).
    extra : sequence of str
        User regressors: panel columns added as they are.
    min_share, top_k, include_diagonal
        Commuting-weights options (renormalised rows).
    on_missing : {"raise", "drop"}, default "raise"
        Rows with a missing value in ``y`` or a regressor: raise an error naming them,
        or drop them and record the count in the accounting.
    dependent : str, default "net_migration"
        Panel column of net migration in persons; ``y = 100 * dependent / population``
        (the total population, so that subgroup rates add up to the total rate).

    Returns
    -------
    Design
    """
    name, terms = _terms(data, spec, extra)
    growth_terms = [t for t in terms if t.split("_l")[0] in ("vra", "ra", "nv")]
    max_lag = max([_lag(t) for t in growth_terms], default=0)
    if years is None:
        years = _default_years(data, dependent, needs_jobs=bool(growth_terms) or "ds" in terms, max_lag=max_lag)
        if years[0] > years[1]:
            panel_years = data.years
            raise InputError(
                f"the panel is too short for the lags: it has years {panel_years.min()}-{panel_years.max()}, and the "
                f"lags of specification {name!r} ({', '.join(t for t in growth_terms if _lag(t) == max_lag)}) need jobs from {max_lag + 1} year(s) before the first year of the dependent "
                f"variable, so the first year that can be estimated is {years[0]}, after the last year with "
                f"{dependent} ({years[1]}). Add earlier years of jobs, or use a specification with fewer lags")
    if any(isinstance(v, (float, np.floating)) and not float(v).is_integer() for v in years):
        raise InputError(f"years must be whole years [first, last], got {list(years)}")
    years = (int(years[0]), int(years[1]))
    if years[0] > years[1]:
        raise InputError(f"years must be [first, last] with first <= last, got {list(years)}")
    yrs = list(range(years[0], years[1] + 1))
    notes: list[str] = []
    acc = Accounting().merge(data.accounting)
    y = _dependent(data, dependent, yrs, relative_to_national=relative_to_national, notes=notes)
    idx = pd.MultiIndex.from_product([data.units, yrs], names=["unit", "year"])
    cols: dict[str, pd.Series] = {}
    if growth_terms:
        options = {"commuting_year": commuting_year, "min_share": min_share, "top_k": top_k,
                   "include_diagonal": include_diagonal}
        key = ("growth", tuple(terms), years, max_lag, tuple(sorted(options.items())))
        gcols, gnotes = data.cached(key, lambda: _growth_and_notes(data, terms, years, max_lag, options))
        notes.extend(gnotes)
        cols.update(gcols)
    elif "ami" in terms:
        raise InputError("ami needs commuting flows and job years; add a growth term or flows")
    cols.update(_level_columns(data, terms, idx, yrs))
    for t in terms:
        if t in data.panel.columns and t not in cols:
            cols[t] = data.column(t)
    X = _regressors(cols, terms, idx, year_effects=year_effects, constant=constant)
    yv, X, pop, missing = _drop_missing(y.reindex(idx), X, data.column("population").reindex(idx), idx,
                                        on_missing=on_missing)
    lag_from = years[0] - max_lag - 1 if growth_terms else years[0]
    acc.record(step_name("design", data.unit_level), read=len(data.panel), source=acc.last_step("panel"),
               dropped={**_window_drops(data, years, lag_from), **missing})
    return Design(y=yv.rename("y"), X=X, population=pop.rename("population"), spec=name,
                  unit_level=data.unit_level, years=years, notes=notes, accounting=acc)
