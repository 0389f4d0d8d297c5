"""The options of the robustness battery, checked once into a frozen object."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.robustness.bootstrap import BOOTSTRAP_METHODS, WILD_WEIGHTS
from geoattr.robustness.executor import n_workers
from geoattr.robustness.variants import ESTIMATORS

__all__ = ["FAMILIES", "RobustnessOptions", "min_reps"]

#: Families of variants :func:`geoattr.robustness.robustness` can run.
FAMILIES: tuple[str, ...] = ("bootstrap", "loyo", "loro", "weights", "estimators", "placebo")


def _check_choice(values: Sequence[str] | str, allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(f"unknown {what} {format_ids(bad)}; choose from {list(allowed)}")
    return values


def min_reps(level: float) -> int:
    """Fewest replications for percentile intervals at ``level``: (1 - level)/2 * (R + 1) >= 1."""
    return int(math.ceil(2.0 / (1.0 - level) - 1.0 - 1e-9))


@dataclass(frozen=True)
class RobustnessOptions:
    """The options of :func:`geoattr.robustness.robustness`, checked.

    Attributes
    ----------
    families : tuple of str
        Families asked for (all of :data:`FAMILIES` by default).
    explicit : frozenset of str
        Families the caller named (an error, not a skip, when the data cannot run them).
    bootstrap : tuple of str
        Bootstrap methods run (empty when the bootstrap family is not asked for).
    rank_bootstrap : str or None
        The bootstrap that gives the rank intervals.
    workers : int
        Worker processes (``n_jobs`` resolved).
    reps, wild_weights, placebo_reps, commuting_years, min_shares, top_ks, diagonal, contiguity, estimators, level, top_n, rank_by, resample_years, seed
        As the arguments of :func:`geoattr.robustness.robustness`.
    """

    families: tuple[str, ...]
    explicit: frozenset[str]
    bootstrap: tuple[str, ...]
    reps: int
    wild_weights: str
    placebo_reps: int
    commuting_years: tuple[int, ...] | None
    min_shares: tuple[float, ...]
    top_ks: tuple[int, ...]
    diagonal: bool
    contiguity: bool | None
    estimators: tuple[str, ...]
    level: float
    top_n: int
    rank_by: str
    rank_bootstrap: str | None
    resample_years: bool
    seed: int
    workers: int

    @classmethod
    def check(cls, *, variants: Sequence[str] | None, bootstrap: Sequence[str], reps: int, wild_weights: str,
              placebo_reps: int, commuting_years: Sequence[int] | None, min_shares: Sequence[float],
              top_ks: Sequence[int], diagonal: bool, contiguity: bool | None, estimators: Sequence[str] | None,
              level: Any, top_n: int, rank_by: str, rank_bootstrap: str | None, resample_years: bool, seed: int,
              n_jobs: int) -> RobustnessOptions:
        """Check the arguments of :func:`geoattr.robustness.robustness`; errors name the argument.

        Parameters
        ----------
        variants, bootstrap, reps, wild_weights, placebo_reps, commuting_years, min_shares, top_ks, diagonal, contiguity, estimators, level, top_n, rank_by, rank_bootstrap, resample_years, seed, n_jobs
            As in :func:`geoattr.robustness.robustness`.

        Returns
        -------
        RobustnessOptions
        """
        if isinstance(level, str) or not 0 < level < 1:
            raise InputError(f"level (the confidence level) must be in (0, 1), got {level!r}; the estimation "
                             "level is unit_level")
        fams = list(FAMILIES) if variants is None else _check_choice(variants, FAMILIES, "robustness variant(s)")
        boot = _check_choice(bootstrap, BOOTSTRAP_METHODS, "bootstrap method(s)") if "bootstrap" in fams else []
        if wild_weights not in WILD_WEIGHTS:
            raise InputError(f"unknown wild_weights {wild_weights!r}; choose from {list(WILD_WEIGHTS)}")
        est = list(ESTIMATORS) if estimators is None else _check_choice(estimators, ESTIMATORS, "estimator(s)")
        if rank_by not in ("residual", "residual_persons"):
            raise InputError(f"rank_by must be 'residual' or 'residual_persons', got {rank_by!r}")
        reps, placebo_reps, top_n = int(reps), int(placebo_reps), int(top_n)
        if boot and reps < min_reps(level):
            raise InputError(f"reps={reps} is too few for {level:.0%} percentile intervals: at least "
                             f"{min_reps(level)} replications are needed (999 recommended)")
        if "placebo" in fams and placebo_reps != 0 and placebo_reps < 19:
            raise InputError(f"placebo_reps={placebo_reps} is too few: at least 19 permutations are needed for a "
                             "p-value of 0.05 (199 recommended), or 0 to skip the placebo")
        if rank_bootstrap is not None and rank_bootstrap not in boot:
            raise InputError(f"rank_bootstrap={rank_bootstrap!r} is not among the bootstrap methods run {boot}")
        bad_shares = [s for s in min_shares if not 0 < float(s) < 1]
        if bad_shares:
            raise InputError(f"min_shares must lie in (0, 1); got {bad_shares}")
        bad_k = [k for k in top_ks if int(k) < 1]
        if bad_k:
            raise InputError(f"top_ks must be positive integers; got {bad_k}")
        workers = n_workers(n_jobs)
        if top_n < 1:
            raise InputError(f"top_n must be >= 1, got {top_n}")
        return cls(families=tuple(fams), explicit=frozenset(() if variants is None else fams), bootstrap=tuple(boot),
                   reps=reps, wild_weights=wild_weights, placebo_reps=placebo_reps,
                   commuting_years=None if commuting_years is None else tuple(commuting_years),
                   min_shares=tuple(min_shares), top_ks=tuple(top_ks), diagonal=bool(diagonal),
                   contiguity=contiguity, estimators=tuple(est), level=float(level), top_n=top_n, rank_by=rank_by,
                   rank_bootstrap=rank_bootstrap or (boot[0] if boot else None),
                   resample_years=bool(resample_years), seed=int(seed), workers=workers)
