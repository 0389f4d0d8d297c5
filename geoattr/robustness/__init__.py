"""Robustness battery: is the attractiveness ranking an artefact of the choices made.

:func:`robustness` re-estimates the attractiveness model under many alternative choices
and reports how much the coefficients and the ranking of units move:

* **bootstrap** of the coefficients and of the attractiveness ranks: the pairs bootstrap
  clustered by estimation unit (whole units resampled with replacement) and the wild
  cluster bootstrap (Rademacher or Webb weights, one draw per unit), with percentile
  intervals;
* **loyo** / **loro**: leave one year out, leave one region out (re-estimation without
  those observations; the regressors of the remaining observations are unchanged);
* **weights**: another commuting matrix (one fixed year), minimum-share thresholds,
  top-k destinations, with or without the diagonal, and contiguity in place of commuting;
* **estimators**: year effects instead of a constant (or the reverse), weighted instead
  of unweighted least squares (or the reverse), the other estimation level, unit fixed
  effects and a spatial lag of the dependent variable;
* **placebo**: the commuting matrix permuted across units many times (unit *i* gets the
  commuting pattern of another unit); where the true specification's fit and
  coefficients fall in the placebo distribution.

The bootstrap and the placebo never rebuild the design: the design matrix is built once
and the replications resample its clusters (pairs), reweight its cluster scores (wild) or
permute its commuting-weighted columns across units (placebo).  Every replication draws
from its own stream, ``numpy.random.SeedSequence(seed, spawn_key=(stream, r))``, so the
results are identical for a given ``seed`` whatever the number of workers or the backend
(serial, processes, or a Dask cluster).

Conventions
-----------
* Attractiveness of a unit is its cumulative residual over the design years at the unit
  (municipality) level, ``sum_t (y - X b)``, as :func:`geoattr.cumulate`; rank 1 is the
  most attractive unit.  With region-level estimation the region coefficients are applied
  to the municipalities, as :func:`geoattr.attractiveness` does.
* Bootstrap ranks apply each replication's coefficients to the observed data, so the rank
  intervals measure the uncertainty of the ranking that comes from estimating the
  coefficients (``resample_years=True`` adds the year-to-year noise of the residuals).
* Intervals of the re-estimated variants are the usual ``level`` confidence intervals of the
  variant (covariance as the baseline's ``cov_type``).  Bootstrap intervals are percentile
  intervals; they under-cover somewhat with few clusters (fewer than ~50).

The subpackage has one module per concept: ``battery`` (:func:`robustness`: plan, run, assemble), ``options`` (the checked options),
``executor`` (serial, process pool or Dask), ``bootstrap`` (:func:`cluster_bootstrap`
and the cluster-sum problem), ``variants`` (leave-one-out, weights and estimator
variants, :func:`contiguity_flows`), ``placebo`` (:func:`permuted_flows`), ``ranks``,
``results`` (:class:`RobustnessResults`, :class:`VariantFit`), ``plots`` and ``config``
(the ``[robustness]`` section of a run).
"""

from __future__ import annotations

from geoattr.robustness.battery import robustness
from geoattr.robustness.bootstrap import BOOTSTRAP_METHODS, WILD_WEIGHTS, cluster_bootstrap
from geoattr.robustness.config import CONFIG_KEYS, run_robustness_from_config
from geoattr.robustness.options import FAMILIES
from geoattr.robustness.placebo import permuted_flows
from geoattr.robustness.results import RobustnessResults, VariantFit
from geoattr.robustness.variants import ESTIMATORS, contiguity_flows

__all__ = [
    "robustness",
    "RobustnessResults",
    "VariantFit",
    "cluster_bootstrap",
    "run_robustness_from_config",
    "contiguity_flows",
    "permuted_flows",
    "FAMILIES",
    "BOOTSTRAP_METHODS",
    "WILD_WEIGHTS",
    "ESTIMATORS",
    "CONFIG_KEYS",
]

# The class's public home is this package (as pickle and the API reference name it):
# geoattr.RobustnessResults and geoattr.robustness.RobustnessResults are one object.
RobustnessResults.__module__ = __name__
