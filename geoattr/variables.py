"""Derived variables of the attractiveness model and the design matrix.

Everything here is a pure function of a :class:`~geoattr.data.PanelData` (and commuting
weights) returning labelled pandas objects on the (unit, year) index.  Definitions and
conventions follow ``MODEL.md``:

* ``ra``  relative job growth, ``100*(E[i,t]/E[i,t-1]-1) - 100*(E[.,t]/E[.,t-1]-1)``;
* ``vra`` commuting-weighted relative job growth ``sum_j w[i,j,t] RA[j,t]``, and its
  lags ``vra_l1``, ``vra_l2``: lag *k* uses the weights and job growth of year *t-k*;
* ``nv``  neighbour growth ``sum_{j!=i} w[i,j] RA[j]`` renormalised over *j != i*
  (2018 specification);
* ``centrality`` ``c/1000 - mean(c/1000)`` over municipalities;
* ``ds``  demographic employment supply, centred on the national value of the year;
* ``ami`` labour-market integration from the commuting table's row and column sums;
* ``log_pop`` log population on 1 January;
* ``y``   net migration in % of the population on 1 January.

Term names are stable: ``vra, vra_l1, vra_l2, centrality, ds, ra, ra_l1, ra_l2, nv,
nv_l1, nv_l2, log_pop, ami, const``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from geoattr import weights as gw
from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.data import PanelData
from geoattr.exceptions import InputError

__all__ = [
    "net_migration_rate",
    "relative_job_growth",
    "commuting_weights",
    "weighted_growth",
    "own_neighbour_growth",
    "labour_market_integration",
    "centrality",
    "demographic_supply",
    "Design",
    "build_design",
    "SPECIFICATIONS",
]

#: Terms of the named specifications (the constant is added separately).
SPECIFICATIONS: dict[str, tuple[str, ...]] = {
    "2022": ("vra", "vra_l1", "vra_l2", "centrality", "ds"),
    "2019": ("vra", "vra_l1", "vra_l2", "centrality"),
    "2018": ("ra", "ra_l1", "ra_l2", "nv", "nv_l1", "nv_l2", "log_pop", "ami"),
}

CommutingYear = int | Literal["same"]


def _wide(s: pd.Series) -> pd.DataFrame:
    """(unit, year) Series -> units x years frame."""
    return s.unstack("year")


def _long(df: pd.DataFrame, name: str) -> pd.Series:
    out = df.stack(future_stack=True) if hasattr(df, "stack") else df
    out.index = out.index.set_names(["unit", "year"])
    return out.rename(name)


def net_migration_rate(data: PanelData, column: str = "net_migration") -> pd.Series:
    """Net migration in % of the population on 1 January: ``100 * NM / P``.

    Parameters
    ----------
    data : PanelData
        Needs the panel columns ``net_migration`` (or ``column``) and ``population``.
    column : str, default "net_migration"
        Net migration column (persons); a subgroup's column (e.g.
        ``net_migration__female``) gives that group's contribution to the rate.

    Returns
    -------
    pandas.Series
        Named ``y`` on the (unit, year) index.
    """
    nm = data.column(column)
    return (100.0 * nm / data.column("population")).rename("y")


def relative_job_growth(jobs: pd.Series) -> pd.Series:
    """Relative job growth ``RA``: local growth minus national growth, in percent.

    ``RA[i,t] = 100*(E[i,t]/E[i,t-1] - 1) - 100*(E[.,t]/E[.,t-1] - 1)`` where ``E[.,t]``
    is the sum over all units in ``jobs``.  The first year (and any year whose previous
    year is absent) is NaN.

    Parameters
    ----------
    jobs : pandas.Series
        Jobs by workplace on the (unit, year) index.

    Returns
    -------
    pandas.Series
        Named ``ra`` on the (unit, year) index.
    """
    wide = _wide(jobs).sort_index(axis=1)
    years = wide.columns.to_numpy()
    prev = wide.shift(1, axis=1)
    consecutive = np.r_[False, np.diff(years) == 1]
    local = 100.0 * (wide / prev - 1.0)
    total = wide.sum(axis=0, min_count=1)
    national = 100.0 * (total / total.shift(1) - 1.0)
    ra = local.sub(national, axis=1)
    ra.loc[:, ~consecutive] = np.nan
    return _long(ra, "ra")


def _required_job_years(years: tuple[int, int], max_lag: int) -> list[int]:
    first, last = years
    return list(range(first - max_lag - 1, last + 1))


def _check_complete(s: pd.Series, years: Sequence[int], units: pd.Index, *, what: str, hint: str) -> None:
    """Error naming the (unit, year) cells that are missing or NaN among ``years``."""
    wide = _wide(s).reindex(index=units, columns=list(years))
    missing_years = [y for y in years if y not in set(s.index.get_level_values("year"))]
    if missing_years:
        have = sorted(set(s.index.get_level_values("year")))
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


def commuting_weights(
    data: PanelData,
    years: Sequence[int],
    *,
    commuting_year: CommutingYear = "same",
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
) -> gw.CommutingWeights:
    """Commuting weights for each year in ``years`` from ``data.flows``.

    Parameters
    ----------
    data : PanelData
        Needs ``flows``.
    years : sequence of int
        Years for which a matrix is wanted.
    commuting_year : int or "same", default "same"
        ``"same"``: each year's own matrix, the nearest available year when a year has
        none (ties: the earlier).  An integer: that one year's matrix for every year.
    min_share, top_k, include_diagonal
        Passed to :func:`geoattr.weights.commuting` (rows renormalised afterwards).

    Returns
    -------
    geoattr.weights.CommutingWeights
        Mapping year -> Graph with ``substitutions`` (requested year -> year used).
    """
    if data.flows is None:
        raise InputError("commuting flows are needed for VRA/NV/AMI: pass flows= to PanelData(...)")
    fixed = None if commuting_year == "same" else int(commuting_year)
    key = ("weights", tuple(years), fixed, min_share, top_k, include_diagonal)
    if key in data._cache:
        return data._cache[key]
    data._cache[key] = gw.commuting_by_year(
        data.flows,
        years,
        fixed_year=fixed,
        ids=data.units,
        min_share=min_share,
        top_k=top_k,
        include_diagonal=include_diagonal,
    )
    return data._cache[key]


def _apply(graph, units: pd.Index, values: np.ndarray) -> np.ndarray:
    """Sparse product ``W @ values`` with W in ``units`` order."""
    return gw.to_sparse(graph, units) @ values


def weighted_growth(
    ra: pd.Series,
    weights: gw.CommutingWeights,
    *,
    years: tuple[int, int],
    lags: Sequence[int] = (0, 1, 2),
    name: str = "vra",
) -> pd.DataFrame:
    """Commuting-weighted relative job growth ``VRA`` and its lags.

    ``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]``: lag *k* uses the weights and job
    growth of year *t-k*.

    Parameters
    ----------
    ra : pandas.Series
        Relative job growth on (unit, year), from :func:`relative_job_growth`.
    weights : geoattr.weights.CommutingWeights
        Must contain every year from ``years[0] - max(lags)`` to ``years[1]``.
    years : (int, int)
        Inclusive range of the dependent variable's years.
    lags : sequence of int, default (0, 1, 2)
    name : str, default "vra"
        Base column name; lags get ``_l1``, ``_l2``.

    Returns
    -------
    pandas.DataFrame
        Columns ``vra``, ``vra_l1``, ``vra_l2`` on the (unit, year) index.
    """
    units = pd.Index(ra.index.get_level_values("unit").unique())
    wide = _wide(ra)
    first, last = years
    base = {}
    for t in range(first - max(lags), last + 1):
        base[t] = _apply(weights[t], units, wide.reindex(units)[t].to_numpy(dtype=float))
    base_df = pd.DataFrame(base, index=units)
    cols = {}
    for k in lags:
        col = name if k == 0 else f"{name}_l{k}"
        shifted = pd.DataFrame({t: base_df[t - k] for t in range(first, last + 1)}, index=units)
        cols[col] = _long(shifted, col)
    return pd.DataFrame(cols)


def own_neighbour_growth(
    ra: pd.Series,
    weights: gw.CommutingWeights,
    *,
    years: tuple[int, int],
    lags: Sequence[int] = (0, 1, 2),
    renormalise: bool = True,
) -> pd.DataFrame:
    """Own and neighbour job growth.

    Own part ``own = w[i,i] * RA[i]``; neighbour part ``NV = sum_{j!=i} w[i,j] RA[j]``,
    renormalised over *j != i* when ``renormalise`` (the 2018 specification) or not
    (then ``own + nv_raw = vra``, which the decomposition uses).  Lag *k* uses the
    weights and growth of year *t-k*.

    Returns
    -------
    pandas.DataFrame
        Columns ``nv``, ``nv_l1``, ... (and ``own``, ``own_l1``, ... when
        ``renormalise`` is False) on the (unit, year) index.
    """
    units = pd.Index(ra.index.get_level_values("unit").unique())
    wide = _wide(ra).reindex(units)
    first, last = years
    nv_base, own_base = {}, {}
    for t in range(first - max(lags), last + 1):
        w = gw.to_sparse(weights[t], units).tocsr()
        diag = w.diagonal()
        r = wide[t].to_numpy(dtype=float)
        off = w @ r - diag * r
        if renormalise:
            denom = 1.0 - diag
            with np.errstate(invalid="ignore", divide="ignore"):
                off = np.where(denom > 1e-12, off / np.where(denom > 1e-12, denom, 1.0), 0.0)
        nv_base[t] = off
        own_base[t] = diag * r
    out = {}
    nv_df, own_df = pd.DataFrame(nv_base, index=units), pd.DataFrame(own_base, index=units)
    for k in lags:
        sfx = "" if k == 0 else f"_l{k}"
        out["nv" + sfx] = _long(pd.DataFrame({t: nv_df[t - k] for t in range(first, last + 1)}, index=units), "nv" + sfx)
        if not renormalise:
            out["own" + sfx] = _long(
                pd.DataFrame({t: own_df[t - k] for t in range(first, last + 1)}, index=units), "own" + sfx
            )
    return pd.DataFrame(out)


def labour_market_integration(flows: pd.DataFrame, units: pd.Index) -> pd.Series:
    """Labour-market integration ``AMI`` from one year's commuting table.

    ``AMI[i] = 100 * in-commuters / jobs + 100 * out-commuters / employed residents``,
    with the denominators from the table's own column sums (jobs) and row sums
    (employed residents); in-commuters exclude the diagonal.  Units with no flows get
    NaN.

    Parameters
    ----------
    flows : pandas.DataFrame
        Columns ``origin, destination, count`` for one year.
    units : pandas.Index
        Units to report.
    """
    diag = flows.loc[flows["origin"] == flows["destination"]].groupby("origin")["count"].sum()
    rows = flows.groupby("origin")["count"].sum()
    cols = flows.groupby("destination")["count"].sum()
    d = diag.reindex(units).fillna(0.0)
    r, c = rows.reindex(units), cols.reindex(units)
    with np.errstate(invalid="ignore", divide="ignore"):
        ami = 100.0 * (c - d) / c + 100.0 * (r - d) / r
    return ami.rename("ami")


def centrality(c: pd.Series, *, mean: float | None = None) -> pd.Series:
    """Centrality scaled and centred: ``c/1000 - mean(c/1000)``.

    Parameters
    ----------
    c : pandas.Series
        Index 0-1000 per unit.
    mean : float, optional
        Centring constant; default the unweighted mean of ``c/1000`` (municipalities).
        Regions pass the municipal constant so that coefficients transfer.
    """
    scaled = c / 1000.0
    return (scaled - (scaled.mean() if mean is None else mean)).rename("centrality")


def demographic_supply(
    population_by_age: pd.DataFrame,
    jobs: pd.Series,
    employment_rates: pd.DataFrame,
    death_probabilities: pd.DataFrame,
    *,
    years: Sequence[int] | None = None,
) -> pd.Series:
    """Demographic employment supply ``DS``, centred on the national value of each year.

    For each sex and age *a* from 14 to 74:
    ``P[i,a,s,t] * (e[a+1,s] - e[a,s]) - P[i,a,s,t] * q[a,s] * e[a,s]``, summed, divided
    by the jobs (by workplace) in *i* in year *t*, times 100; minus the national value
    ``100 * sum_i(numerator) / sum_i(jobs)`` of that year.  Employment rates are set
    to 0 outside ages 15-74 (MODEL.md convention).

    Parameters
    ----------
    population_by_age : pandas.DataFrame
        Columns ``unit, year, sex, age, population`` (1 January).
    jobs : pandas.Series
        Jobs by workplace on (unit, year).
    employment_rates, death_probabilities : pandas.DataFrame
        Index age, columns ``female`` and ``male``.
    years : sequence of int, optional
        Restrict to these years.

    Returns
    -------
    pandas.Series
        Named ``ds`` on the (unit, year) index.
    """
    ages = np.arange(14, 75)
    e = employment_rates.reindex(np.arange(0, 76)).fillna(0.0).copy()
    e.loc[(e.index < 15) | (e.index > 74)] = 0.0
    missing_q = [a for a in ages if a not in death_probabilities.index]
    if missing_q:
        raise InputError(
            f"death_probabilities lacks ages {format_ids(missing_q)}; ages 14-74 are needed"
        )
    pa = population_by_age
    if years is not None:
        pa = pa[pa["year"].isin(list(years))]
    pa = pa[pa["age"].between(14, 74)]
    counts = pa.groupby(["unit", "year", "sex"])["age"].nunique()
    short = counts[counts < len(ages)]
    if len(short):
        raise InputError(
            f"population_by_age lacks some ages 14-74 for {len(short)} (unit, year, sex) group(s): "
            f"{format_ids(short.index)}; every single age from 14 to 74 is needed for DS"
        )
    factor = {}
    for sex in ("female", "male"):
        es = e[sex]
        factor[sex] = pd.Series(
            es.reindex(ages + 1).to_numpy() - es.reindex(ages).to_numpy()
            - death_probabilities[sex].reindex(ages).to_numpy() * es.reindex(ages).to_numpy(),
            index=ages,
        )
    f = np.where(
        pa["sex"].to_numpy() == "female",
        factor["female"].reindex(pa["age"]).to_numpy(),
        factor["male"].reindex(pa["age"]).to_numpy(),
    )
    num = (pa["population"].to_numpy() * f)
    numerator = pd.Series(num, index=pd.MultiIndex.from_frame(pa[["unit", "year"]])).groupby(level=[0, 1]).sum()
    numerator.index = numerator.index.set_names(["unit", "year"])
    j = jobs.reindex(numerator.index)
    if j.isna().any():
        bad = j.index[j.isna()]
        raise InputError(f"jobs are missing for DS in {len(bad)} (unit, year) cell(s): {format_ids(bad)}")
    local = 100.0 * numerator / j
    national = 100.0 * numerator.groupby(level="year").sum() / j.groupby(level="year").sum()
    return (local - national.reindex(local.index.get_level_values("year")).to_numpy()).rename("ds")


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
    level : str
        Unit level.
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
    level: str
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
    name, terms = _spec_terms(spec)
    terms = tuple(terms) + tuple(t for t in extra if t not in terms)
    known = {"vra", "vra_l1", "vra_l2", "centrality", "ds", "ra", "ra_l1", "ra_l2",
             "nv", "nv_l1", "nv_l2", "log_pop", "ami"}
    unknown = [t for t in terms if t not in known and t not in data.panel.columns]
    if unknown:
        raise InputError(
            f"unknown term(s) {unknown}: not a geoattr variable ({sorted(known)}) nor a panel "
            f"column ({list(data.panel.columns)})"
        )
    units = data.units
    growth_terms = [t for t in terms if t.split("_l")[0] in ("vra", "ra", "nv")]
    max_lag = max([int(t.split("_l")[1]) if "_l" in t else 0 for t in growth_terms], default=0)
    needs_jobs = bool(growth_terms) or "ds" in terms
    if years is None:
        # the years where y can be computed, from the first year the lags allow
        dep = data.column(dependent)
        y_years = dep.index.get_level_values("year")[dep.notna().to_numpy()]
        first = int(y_years.min())
        if needs_jobs:
            jobs = data.column("jobs")
            j_years = jobs.index.get_level_values("year")[jobs.notna().to_numpy()]
            first = max(first, int(j_years.min()) + max_lag + 1)
        years = (first, int(y_years.max()))
    years = (int(years[0]), int(years[1]))
    if years[0] > years[1]:
        raise InputError(f"years must be [first, last] with first <= last, got {list(years)}")
    yrs = list(range(years[0], years[1] + 1))
    notes: list[str] = []
    acc = Accounting().merge(data.accounting)

    for col in (dependent, "population"):
        data.column(col)
    _check_complete(data.column("population"), yrs, units, what="population",
                    hint="population on 1 January is the denominator of y; add it or narrow years=")
    cols: dict[str, pd.Series] = {}
    y = net_migration_rate(data, dependent)
    if relative_to_national:
        nat = 100.0 * data.column(dependent).groupby(level="year").sum() / data.column(
            "population").groupby(level="year").sum()
        y = (y - nat.reindex(y.index.get_level_values("year")).to_numpy()).rename("y")
        notes.append("y is net migration relative to the national rate of the year")
    idx = pd.MultiIndex.from_product([units, yrs], names=["unit", "year"])

    if growth_terms:
        job_years = _required_job_years(years, max_lag)
        _check_complete(
            data.column("jobs"), job_years, units, what="jobs",
            hint=f"the lags need jobs from {job_years[0]} (year t-{max_lag + 1}); "
            f"start years= later or add the missing years",
        )
        jobs = data.column("jobs")
        jobs = jobs[jobs.index.get_level_values("year").isin(job_years)]
        ra = relative_job_growth(jobs)
        wyears = list(range(years[0] - max_lag, years[1] + 1))
        cw = commuting_weights(data, wyears, commuting_year=commuting_year,
                               min_share=min_share, top_k=top_k, include_diagonal=include_diagonal)
        if cw.substitutions:
            subs = cw.substitutions
            by_used: dict[int, list[int]] = {}
            for req, used in subs.items():
                by_used.setdefault(used, []).append(req)
            for used, reqs in sorted(by_used.items()):
                notes.append(
                    f"commuting matrix of {used} used for year(s) {min(reqs)}-{max(reqs)} "
                    f"({len(reqs)} year(s) without a matrix of their own or a fixed year)"
                )
        vra_terms = [t for t in growth_terms if t.startswith("vra")]
        if vra_terms:
            v = weighted_growth(ra, cw, years=years, lags=range(max_lag + 1))
            for t in vra_terms:
                cols[t] = v[t]
        for t in [t for t in growth_terms if t.startswith("ra")]:
            k = int(t.split("_l")[1]) if "_l" in t else 0
            shifted = _wide(ra)
            cols[t] = _long(pd.DataFrame({yy: shifted[yy - k] for yy in yrs}, index=shifted.index), t)
        nv_terms = [t for t in growth_terms if t.startswith("nv")]
        if nv_terms:
            nv = own_neighbour_growth(ra, cw, years=years, lags=range(max_lag + 1), renormalise=True)
            for t in nv_terms:
                cols[t] = nv[t]
        if "ami" in terms:
            parts = []
            for t in yrs:
                src = cw.substitutions.get(t, t)
                f = data.flows[data.flows["year"] == src]
                a = labour_market_integration(f, units)
                a.index = pd.MultiIndex.from_arrays([a.index, np.full(len(a), t)], names=["unit", "year"])
                parts.append(a)
            cols["ami"] = pd.concat(parts)
    elif "ami" in terms:
        raise InputError("ami needs commuting flows and job years; add a growth term or flows")
    if "centrality" in terms:
        if data.centrality is None:
            raise InputError("the specification needs centrality: pass centrality= to PanelData(...)")
        c = centrality(data.centrality, mean=data.centrality_mean)
        cols["centrality"] = pd.Series(c.reindex(idx.get_level_values("unit")).to_numpy(), index=idx)
    if "ds" in terms:
        for need in ("population_by_age", "employment_rates", "death_probabilities"):
            if getattr(data, need) is None:
                raise InputError(f"the 2022 specification's ds term needs {need}: pass it to PanelData(...)")
        _check_complete(data.column("jobs"), yrs, units, what="jobs",
                        hint="DS divides by jobs by workplace in year t")
        key = ("ds", tuple(yrs))
        if key not in data._cache:
            data._cache[key] = demographic_supply(
                data.population_by_age, data.column("jobs"), data.employment_rates,
                data.death_probabilities, years=yrs,
            )
        cols["ds"] = data._cache[key]
    if "log_pop" in terms:
        cols["log_pop"] = np.log(data.column("population")).rename("log_pop")
    for t in terms:
        if t in data.panel.columns and t not in cols:
            cols[t] = data.column(t)

    X = pd.DataFrame({t: cols[t].reindex(idx) for t in terms}, index=idx)
    if year_effects:
        dummies = pd.get_dummies(idx.get_level_values("year"), prefix="year", dtype=float)
        dummies.index = idx
        if constant:
            dummies = dummies.iloc[:, 1:]
        X = pd.concat([X, dummies], axis=1)
    if constant:
        X.insert(0, "const", 1.0)
    yv = y.reindex(idx)
    pop = data.column("population").reindex(idx)
    missing = yv.isna() | X.isna().any(axis=1)
    if missing.any():
        bad = idx[missing.to_numpy()]
        which = ["y"] * bool(yv.isna().any()) + [c for c in X.columns if X[c].isna().any()]
        if on_missing == "raise":
            raise InputError(
                f"{len(bad)} (unit, year) row(s) have missing values in {which}: {format_ids(bad)}. "
                "Fill them, narrow years=, or pass on_missing='drop' to drop and report them."
            )
        keep = ~missing.to_numpy()
        yv, X, pop = yv[keep], X[keep], pop[keep]
        acc.record("design", read=len(idx), dropped={f"missing values in {', '.join(which)}": int(len(bad))})
    else:
        acc.record("design", read=len(idx))
    return Design(y=yv.rename("y"), X=X, population=pop.rename("population"), spec=name,
                  level=data.level, years=years, notes=notes, accounting=acc)
