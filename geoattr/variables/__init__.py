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

The package has four modules: :mod:`~geoattr.variables.growth` (RA, VRA on Graphs and
on sparse arrays, NV, the commuting weights by year), :mod:`~geoattr.variables.terms`
(y, AMI, centrality, DS), :mod:`~geoattr.variables.design` (:func:`build_design`) and
:mod:`~geoattr.variables.breakdown` (:func:`vra_breakdown`: VRA by workplace).

Term names are stable: ``vra, vra_l1, vra_l2, centrality, ds, ra, ra_l1, ra_l2, nv,
nv_l1, nv_l2, log_pop, ami, const``.
"""

from geoattr.variables.breakdown import vra_breakdown
from geoattr.variables.design import SPECIFICATIONS, Design, build_design
from geoattr.variables.growth import (
    CommutingYear,
    commuting_weights,
    own_neighbour_growth,
    relative_job_growth,
    relative_job_growth_array,
    vra_sparse,
    weighted_growth,
)
from geoattr.variables.terms import (
    centrality,
    demographic_supply,
    demographic_supply_factors,
    labour_market_integration,
    net_migration_rate,
)

__all__ = [
    "net_migration_rate",
    "relative_job_growth",
    "relative_job_growth_array",
    "commuting_weights",
    "weighted_growth",
    "vra_sparse",
    "own_neighbour_growth",
    "labour_market_integration",
    "centrality",
    "demographic_supply",
    "demographic_supply_factors",
    "Design",
    "build_design",
    "SPECIFICATIONS",
    "CommutingYear",
    "vra_breakdown",
]
