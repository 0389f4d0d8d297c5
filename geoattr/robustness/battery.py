"""The robustness battery: plan the variants, run them, assemble the tables.

:func:`robustness` checks its options (:class:`~geoattr.robustness.options.RobustnessOptions`),
fits or takes the baseline, builds what every task needs once
(:class:`~geoattr.robustness.state.BatteryState`), plans the tasks (bootstrap chunks,
placebo chunks, weights and estimator variants), runs them with
:func:`~geoattr.robustness.executor.execute` and assembles one
:class:`~geoattr.robustness.results.RobustnessResults`, one step per family.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.models.least_squares import LeastSquaresFit, least_squares
from geoattr.models.ols import AttractivenessResults, estimate
from geoattr.robustness.bootstrap import bootstrap_coefficients, cluster_problem
from geoattr.robustness.executor import backend_name, execute
from geoattr.robustness.options import RobustnessOptions
from geoattr.robustness.placebo import placebo_chunk, placebo_positions, placebo_summary
from geoattr.robustness.ranks import UnitSums, ranks, stability, unit_sums
from geoattr.robustness.results import (
    COEFFICIENT_COLUMNS,
    STABILITY_COLUMNS,
    RobustnessResults,
    VariantFailure,
    VariantFit,
    ci_rows,
    sum_draws,
    variant_rows,
    with_sum,
)
from geoattr.robustness.state import FLOW_TERMS, BatteryState, own_copy
from geoattr.robustness.variants import (
    estimator_variant_names,
    leave_out_fits,
    run_variant,
    weights_variant_specs,
)

__all__ = ["robustness", "run_task"]


@dataclass(frozen=True)
class _Baseline:
    """What the main process keeps about the baseline (not shipped to the workers)."""

    fit: AttractivenessResults
    sums: UnitSums
    cum: np.ndarray
    rank: np.ndarray
    n_top: int
    flow_cols: list[int]
    ls: LeastSquaresFit


@dataclass
class _Tables:
    """Rows of the output tables, filled family by family."""

    coef: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    stab: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fits: dict[str, VariantFit] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- tasks
def run_task(state: BatteryState, task: tuple) -> tuple[Hashable, Any]:
    """Run one task of the battery (in any process); returns ``(task, result)``.

    Parameters
    ----------
    state : BatteryState
    task : tuple
        ``("boot", method, start, stop)``, ``("placebo", start, stop)`` or
        ``("variant", kind, name, options)``.

    Returns
    -------
    tuple
    """
    kind = task[0]
    if kind == "boot":
        _, method, start, stop = task
        return task, bootstrap_coefficients(state.problem, method, state.wild_weights, state.seed,
                                            range(start, stop), state.n_years_resample)
    if kind == "placebo":
        _, start, stop = task
        return task, placebo_chunk(state, range(start, stop))
    if kind == "variant":
        return task, run_variant(state, task[1], task[2], dict(task[3]))
    raise ValueError(f"unknown task {task!r}")


# --------------------------------------------------------------------------- setup
def _baseline_fit(data_or_fit: PanelData | AttractivenessResults, *, spec: Any, unit_level: Any, years: Any,
                  estimate_options: Mapping[str, Any] | None) -> AttractivenessResults:
    if isinstance(data_or_fit, AttractivenessResults):
        given = {k: v for k, v in (("spec", spec), ("unit_level", unit_level), ("years", years),
                                   ("estimate_options", estimate_options)) if v is not None}
        if given:
            raise InputError(f"{sorted(given)} apply when data are given; a fit carries its own "
                             "(pass the PanelData instead, or estimate the baseline you want)")
        return data_or_fit
    if isinstance(data_or_fit, PanelData):
        return estimate(own_copy(data_or_fit), "2022" if spec is None else spec, unit_level=unit_level or "municipality",
                        years=years, **dict(estimate_options or {}))
    raise TypeError(f"data_or_fit must be a PanelData or the result of geoattr.estimate, "
                    f"{type(data_or_fit).__name__} was given")


def _prepare(fit: AttractivenessResults, o: RobustnessOptions) -> tuple[BatteryState, _Baseline]:
    """The state every task needs and the baseline's unit sums and ranks."""
    opts = dict(fit.options)
    f_spec = opts.pop("spec")
    opts.pop("years", None)
    cy = opts.pop("commuting_year", "same")
    obs_weights = opts.pop("obs_weights", None)
    cov_type = opts.pop("cov_type", "clustered")
    unit_data = own_copy(fit.unit_data)
    est_data = unit_data if fit.data is fit.unit_data else own_copy(fit.data)
    est_design, unit_design = fit.design, fit.unit_design
    yrs = tuple(int(v) for v in fit.unit_design.years)
    est_units = pd.Index(pd.unique(est_design.y.index.get_level_values("unit")), name="unit")
    problem = cluster_problem(est_design.X.to_numpy(float), est_design.y.to_numpy(float),
                              est_design.y.index.get_level_values("unit").to_numpy(),
                              est_design.population.to_numpy(float) if obs_weights else None)
    sums = unit_sums(unit_design, by=o.rank_by, per_year=o.resample_years)
    n_top = min(o.top_n, len(sums.units) // 2)
    if n_top < 1:
        raise InputError(f"rank stability needs at least two units; the data have {len(sums.units)}")
    base_cum = sums.cum_of(fit.results.params)
    flow_cols = [i for i, c in enumerate(est_design.X.columns) if c.split("_l")[0] in FLOW_TERMS]
    fast_placebo = bool(flow_cols) and all(est_design.X.columns[i].startswith("vra") for i in flow_cols)
    pos = placebo_positions(est_design, est_units) if fast_placebo else None
    state = BatteryState(
        spec=f_spec, unit_level=fit.unit_level, years=yrs, commuting_year=cy, obs_weights=obs_weights, cov_type=cov_type,
        design_opts=opts, unit_data=unit_data, est_data=est_data, est_design=est_design, unit_design=unit_design,
        problem=problem, rank_by=o.rank_by, units=sums.units, seed=o.seed, wild_weights=o.wild_weights,
        n_years_resample=(yrs[1] - yrs[0] + 1) if o.resample_years else 0,
        placebo_fast=fast_placebo and pos is not None, placebo_cols=flow_cols, placebo_pos=pos, est_units=est_units)
    ls = least_squares(problem.X, problem.y, obs_weights=problem.obs_weights, cov_type=None)
    base = _Baseline(fit=fit, sums=sums, cum=base_cum, rank=ranks(base_cum)[0], n_top=n_top, flow_cols=flow_cols,
                     ls=ls)
    return state, base


def _families(o: RobustnessOptions, state: BatteryState, base: _Baseline) -> tuple[list[str], dict[str, str]]:
    """The families that can run on these data, and why the others were skipped."""
    fams = list(o.families)
    skipped: dict[str, str] = {}
    if "loro" in fams and not (state.unit_level == "region" or state.unit_data.regions is not None):
        if "loro" in o.explicit:
            raise InputError("leave-one-region-out needs a unit -> region mapping: pass regions= to "
                             "PanelData(...), or leave 'loro' out of variants")
        fams.remove("loro")
        skipped["loro"] = "no unit -> region mapping in the data"
    if "placebo" in fams and (o.placebo_reps == 0 or not base.flow_cols):
        fams.remove("placebo")
        skipped["placebo"] = ("placebo_reps = 0" if o.placebo_reps == 0 else
                              f"the specification has no term built from the commuting flows {list(FLOW_TERMS)}")
    if "bootstrap" in fams and not o.bootstrap:
        fams.remove("bootstrap")
    if "weights" in fams and not base.flow_cols:
        if "weights" in o.explicit:
            raise InputError(f"the weights variants change the commuting weights, but the specification has no "
                             f"term built from them {list(FLOW_TERMS)}")
        fams.remove("weights")
        skipped["weights"] = f"the specification has no term built from the commuting flows {list(FLOW_TERMS)}"
    return fams, skipped


def _plan(o: RobustnessOptions, fams: Sequence[str], state: BatteryState,
          skipped: dict[str, str]) -> tuple[list[tuple], BatteryState]:
    """The tasks to run (``skipped`` gains the variants the data cannot run) and the state to ship."""
    variant_tasks: list[tuple] = []
    if "weights" in fams:
        specs, why = weights_variant_specs(
            commuting_years=o.commuting_years, min_shares=o.min_shares, top_ks=o.top_ks, diagonal=o.diagonal,
            contiguity=o.contiguity, design_opts=state.design_opts, commuting_year=state.commuting_year,
            unit_data=state.unit_data, est_data=state.est_data)
        skipped.update(why)
        variant_tasks += [("variant", "weights", n, tuple(sorted(opts.items()))) for n, opts in specs]
    if "estimators" in fams:
        names, why = estimator_variant_names(o.estimators, design_opts=state.design_opts, obs_weights=state.obs_weights,
                                             unit_level=state.unit_level, has_regions=state.unit_data.regions is not None)
        skipped.update(why)
        variant_tasks += [("variant", "estimators", n, ()) for n in names]
    tasks: list[tuple] = list(variant_tasks)
    if "placebo" in fams:
        chunk = 50 if state.placebo_fast else 4
        tasks += [("placebo", s, min(s + chunk, o.placebo_reps)) for s in range(0, o.placebo_reps, chunk)]
    if "bootstrap" in fams:
        size = max(25, math.ceil(o.reps / (4 * max(o.workers, 1))))
        for m in o.bootstrap:
            tasks += [("boot", m, s, min(s + size, o.reps)) for s in range(0, o.reps, size)]
    if not variant_tasks and (state.placebo_fast or "placebo" not in fams):
        state = dataclasses.replace(state, unit_data=None, est_data=None)  # the tasks need only the design arrays
    return tasks, state


# --------------------------------------------------------------------------- assembly
def _add_baseline(t: _Tables, base: _Baseline, level: float) -> pd.Series:
    r = base.fit.results
    q = float(stats.t.ppf(0.5 + level / 2, r.df_resid))
    bparams, bse = with_sum(r.params, r.cov)
    t.coef.append(ci_rows("baseline", "baseline", bparams, bse, q, r.nobs))
    t.stab.append({"kind": "baseline", "variant": "baseline", "nobs": r.nobs, "r2": base.ls.r2,
                   "loglik": base.ls.loglik, "spearman": 1.0, "top_kept": 1.0, "bottom_kept": 1.0, "n": 1})
    return bparams


def _rank_intervals(base: _Baseline, rk: np.ndarray, alpha: float) -> pd.DataFrame:
    units, n_top = base.sums.units, base.n_top
    return pd.DataFrame({
        "name": base.fit.unit_data.names.reindex(units).to_numpy(), "residual": base.cum, "rank": base.rank,
        "lower": np.quantile(rk, alpha, axis=0, method="lower"),
        "median": np.median(rk, axis=0),
        "upper": np.quantile(rk, 1 - alpha, axis=0, method="higher"),
        "p_top": (rk <= n_top).mean(axis=0), "p_bottom": (rk > len(units) - n_top).mean(axis=0),
    }, index=units)


def _add_bootstrap(t: _Tables, raw: Mapping[Hashable, Any], o: RobustnessOptions, base: _Baseline,
                   terms: list[str], bparams: pd.Series) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    alpha = (1 - o.level) / 2
    draws_by: dict[str, pd.DataFrame] = {}
    rank_intervals = pd.DataFrame()
    for m in o.bootstrap:
        parts = sorted((k for k in raw if k[0] == "boot" and k[1] == m), key=lambda k: k[2])
        B = np.vstack([raw[k][0] for k in parts])
        yc = np.vstack([raw[k][1] for k in parts]) if o.resample_years else None
        ok = np.isfinite(B).all(axis=1)
        if (~ok).any():
            t.notes.append(f"bootstrap {m}: {int((~ok).sum())} of {o.reps} replications were collinear and left out")
        draws = sum_draws(pd.DataFrame(B, columns=terms, index=pd.RangeIndex(o.reps, name="replication")))
        draws_by[m] = draws
        good = draws[ok]
        lo, hi = good.quantile(alpha), good.quantile(1 - alpha)
        t.coef.append(pd.DataFrame({"kind": "bootstrap", "variant": m, "term": bparams.index,
                                    "estimate": bparams.to_numpy(),
                                    "std_error": good.std().reindex(bparams.index).to_numpy(),
                                    "lower": lo.reindex(bparams.index).to_numpy(),
                                    "upper": hi.reindex(bparams.index).to_numpy(), "n": int(ok.sum())}))
        sums = base.sums
        cums = sums.cum_resampled(B[ok], yc[ok]) if o.resample_years else sums.SY[None, :] - B[ok] @ sums.SX.T
        rk = ranks(cums)
        rho, top, bot = stability(base.rank, rk, base.n_top)
        t.stab.append({"kind": "bootstrap", "variant": m, "nobs": base.fit.results.nobs, "r2": np.nan,
                       "loglik": np.nan, "spearman": float(np.median(rho)), "top_kept": float(top.mean()),
                       "bottom_kept": float(bot.mean()), "n": int(ok.sum())})
        if m == o.rank_bootstrap:
            rank_intervals = _rank_intervals(base, rk, alpha)
    return draws_by, rank_intervals


def _add_fit(t: _Tables, fit: VariantFit, o: RobustnessOptions, base: _Baseline) -> None:
    coef, stab = variant_rows(fit, level=o.level, base_rank=base.rank, n_top=base.n_top)
    t.coef.append(coef)
    t.stab.append(stab)
    t.fits[fit.variant] = fit


def _add_variants(t: _Tables, raw: Mapping[Hashable, Any], tasks: Sequence[tuple], o: RobustnessOptions,
                  base: _Baseline) -> None:
    for task in [k for k in tasks if k[0] == "variant"]:
        _, kind, name, _opts = task
        res = raw[task]
        if isinstance(res, VariantFailure):
            t.skipped[f"{kind}:{name}"] = res.message
            continue
        t.notes += [n for n in res.notes if n not in t.notes]
        _add_fit(t, res, o, base)


def _add_placebo(t: _Tables, raw: Mapping[Hashable, Any], o: RobustnessOptions, base: _Baseline, terms: list[str],
                 bparams: pd.Series, fast: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = sorted((k for k in raw if k[0] == "placebo"), key=lambda k: k[1])
    P = np.vstack([raw[k] for k in parts])
    placebo, draws = placebo_summary(P, terms, base.ls, alpha=(1 - o.level) / 2)
    R = int(placebo["n"].iloc[0])
    if R < o.placebo_reps:
        t.notes.append(f"placebo: {o.placebo_reps - R} permutation(s) gave collinear designs and were left out")
    pt = placebo.loc[[k for k in bparams.index if k in placebo.index]]
    t.coef.append(pd.DataFrame({"kind": "placebo", "variant": "placebo", "term": pt.index,
                                "estimate": pt["placebo_mean"].to_numpy(), "std_error": pt["placebo_sd"].to_numpy(),
                                "lower": pt["lower"].to_numpy(), "upper": pt["upper"].to_numpy(), "n": R}))
    t.notes.append("placebo: the estimation-level commuting matrix's rows permuted across units "
                   f"({'the commuting-weighted columns permuted in the design' if fast else 'design rebuilt'})")
    return placebo, draws


def _settings(o: RobustnessOptions, fams: Sequence[str], state: BatteryState, base: _Baseline,
              client: Any) -> dict[str, Any]:
    return {"spec": base.fit.spec, "unit_level": state.unit_level, "years": list(state.years), "variants": list(fams),
            "bootstrap": list(o.bootstrap), "reps": o.reps if o.bootstrap else 0, "wild_weights": o.wild_weights,
            "placebo_reps": o.placebo_reps if "placebo" in fams else 0, "level": o.level, "top_n": base.n_top,
            "rank_by": o.rank_by, "rank_bootstrap": o.rank_bootstrap, "resample_years": o.resample_years,
            "seed": o.seed, "clusters": int(state.problem.G), "backend": backend_name(o.workers, client),
            "cov_type": state.cov_type, "obs_weights": state.obs_weights}


def _run(fit: AttractivenessResults, o: RobustnessOptions, *, client: Any, progress: bool,
         t_start: float) -> RobustnessResults:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    state, base = _prepare(fit, o)
    fams, skipped = _families(o, state, base)
    tasks, shipped = _plan(o, fams, state, skipped)
    timings["setup"] = round(time.perf_counter() - t0, 4)

    t0 = time.perf_counter()
    raw = execute(run_task, tasks, shipped, n_jobs=o.workers, client=client, progress=progress)
    timings["tasks"] = round(time.perf_counter() - t0, 4)

    t0 = time.perf_counter()
    t = _Tables(skipped=skipped, notes=list(dict.fromkeys(state.est_design.notes)))
    terms = list(state.est_design.X.columns)
    bparams = _add_baseline(t, base, o.level)
    draws, rank_intervals = ({}, pd.DataFrame())
    if "bootstrap" in fams:
        draws, rank_intervals = _add_bootstrap(t, raw, o, base, terms, bparams)
    leave_out = [f for f in ("loyo", "loro") if f in fams]
    if leave_out:
        region_of = state.unit_data.region_of() if "loro" in leave_out and state.unit_level != "region" else None
        fits, failed = leave_out_fits(state, leave_out, base.sums, region_of)
        t.skipped.update(failed)
        for f in fits:
            _add_fit(t, f, o, base)
    _add_variants(t, raw, tasks, o, base)
    placebo, placebo_draws = (pd.DataFrame(), pd.DataFrame())
    if "placebo" in fams:
        placebo, placebo_draws = _add_placebo(t, raw, o, base, terms, bparams, state.placebo_fast)
    timings["assemble"] = round(time.perf_counter() - t0, 4)
    timings["total"] = round(time.perf_counter() - t_start, 4)
    return RobustnessResults(
        coefficients=pd.concat(t.coef, ignore_index=True)[COEFFICIENT_COLUMNS],
        rank_stability=pd.DataFrame(t.stab)[STABILITY_COLUMNS], rank_intervals=rank_intervals, placebo=placebo,
        bootstrap_draws=draws, placebo_draws=placebo_draws, fits=t.fits, baseline=fit,
        settings=_settings(o, fams, state, base, client), skipped=t.skipped, notes=t.notes, timings=timings)


def robustness(
    data_or_fit: PanelData | AttractivenessResults,
    *,
    spec: str | Sequence[str] | None = None,
    unit_level: Literal["municipality", "region"] | None = None,
    years: tuple[int, int] | None = None,
    estimate_options: Mapping[str, Any] | None = None,
    variants: Sequence[str] | None = None,
    bootstrap: Sequence[str] = ("pairs", "wild"),
    reps: int = 999,
    wild_weights: Literal["rademacher", "webb"] = "rademacher",
    placebo_reps: int = 199,
    commuting_years: Sequence[int] | None = None,
    min_shares: Sequence[float] = (0.01, 0.05),
    top_ks: Sequence[int] = (5, 10),
    diagonal: bool = True,
    contiguity: bool | None = None,
    estimators: Sequence[str] | None = None,
    level: float = 0.95,
    top_n: int = 20,
    rank_by: Literal["residual", "residual_persons"] = "residual",
    rank_bootstrap: Literal["pairs", "wild"] | None = None,
    resample_years: bool = False,
    seed: int = 0,
    n_jobs: int = -1,
    client: Any = None,
    progress: bool = True,
) -> RobustnessResults:
    """Run the robustness battery of the attractiveness model.

    Parameters
    ----------
    data_or_fit : PanelData or AttractivenessResults
        A fitted baseline (from :func:`geoattr.estimate`; its specification, unit level,
        years and options are reused), or the municipality-level data, in which case the
        baseline is ``estimate(data, spec, unit_level=unit_level, years=years, **estimate_options)``.
    spec, unit_level, years, estimate_options
        The baseline when data are given (defaults ``"2022"``, ``"municipality"``, all
        years, no options); an error when a fit is given.
    variants : sequence of str, optional
        Families to run, from :data:`~geoattr.robustness.FAMILIES`: ``bootstrap``,
        ``loyo``, ``loro``, ``weights``, ``estimators``, ``placebo``.  Default: all that
        the data allow (``loro`` needs regions; asking for it without regions is an error).
    bootstrap : sequence of {"pairs", "wild"}, default ("pairs", "wild")
        Bootstrap schemes, both clustered by estimation unit (municipality or region).
    reps : int, default 999
        Bootstrap replications; at least ``2 / (1 - level) - 1`` (39 for 95 % intervals).
    wild_weights : {"rademacher", "webb"}, default "rademacher"
    placebo_reps : int, default 199
        Placebo permutations (at least 19, or 0 to skip); the placebo needs a term built
        from the commuting flows (``vra``, ``nv``, ``ami``).
    commuting_years : sequence of int, optional
        Fixed commuting years for the ``weights`` family (default: the first and last
        years with flows).  Each is a variant ``commuting_year=<y>``; a baseline with a
        fixed year also gets ``commuting_year=same``.
    min_shares : sequence of float, default (0.01, 0.05)
        Minimum commuting shares (rows renormalised), one variant each.
    top_ks : sequence of int, default (5, 10)
        Top-k destinations, one variant each.
    diagonal : bool, default True
        Add the variant with the diagonal toggled (``no_diagonal`` or ``with_diagonal``).
    contiguity : bool, optional
        Add the variant where the cross-border share follows contiguity (see
        :func:`~geoattr.robustness.contiguity_flows`); default: when the data have polygons.
    estimators : sequence of str, optional
        From :data:`~geoattr.robustness.ESTIMATORS`: ``year_effects`` (toggles year
        effects), ``weighted`` (toggles population weights), ``level`` (the other
        estimation level; region needs regions), ``fe`` (unit fixed effects), ``sar``
        (spatial lag of y with the commuting W).  Default: all.
    level : float, default 0.95
        Confidence level of every interval.
    top_n : int, default 20
        Size of the top and bottom lists of the rank stability (at most half the units).
    rank_by : {"residual", "residual_persons"}, default "residual"
        Cumulative attractiveness in percentage points or in persons.
    rank_bootstrap : {"pairs", "wild"}, optional
        Bootstrap giving ``rank_intervals`` (default the first of ``bootstrap``).
    resample_years : bool, default False
        Bootstrap ranks also resample the years (the same draw for every unit), adding the
        year-to-year noise of the residuals to the coefficient uncertainty.
    seed : int, default 0
    n_jobs : int, default -1
        Worker processes (-1: every core available; 1: serial).  BLAS is limited to one
        thread per worker.
    client : dask.distributed.Client, optional
        Run the tasks on this Dask cluster instead (``n_jobs`` is then ignored).
    progress : bool, default True
        Show a progress bar (tqdm).

    Returns
    -------
    RobustnessResults

    Notes
    -----
    Results are identical for a given ``seed`` whatever ``n_jobs`` or ``client``: each
    replication draws from its own ``SeedSequence(seed, spawn_key=(stream, r))``, and BLAS
    runs on one thread in every process (multi-threaded BLAS may sum in another order).
    The input data and fit are not modified.
    """
    with threadpool_limits(limits=1):
        t_start = time.perf_counter()
        o = RobustnessOptions.check(
            variants=variants, bootstrap=bootstrap, reps=reps, wild_weights=wild_weights, placebo_reps=placebo_reps,
            commuting_years=commuting_years, min_shares=min_shares, top_ks=top_ks, diagonal=diagonal,
            contiguity=contiguity, estimators=estimators, level=level, top_n=top_n, rank_by=rank_by,
            rank_bootstrap=rank_bootstrap, resample_years=resample_years, seed=seed, n_jobs=n_jobs)
        fit = _baseline_fit(data_or_fit, spec=spec, unit_level=unit_level, years=years,
                            estimate_options=estimate_options)
        return _run(fit, o, client=client, progress=progress, t_start=t_start)
