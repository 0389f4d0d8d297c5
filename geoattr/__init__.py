"""geoattr: spatial econometrics of residential attractiveness.

The public namespace is small; the building blocks live in sub-packages:
``geoattr.io`` (readers), ``geoattr.weights`` (libpysal ``Graph`` builders),
``geoattr.variables`` (RA, VRA, NV, AMI, DS, centrality, designs), ``geoattr.models``
(estimators and results), ``geoattr.datasets`` (the embedded synthetic Norway).
"""

from __future__ import annotations

from geoattr._version import __version__
from geoattr._versions import versions
from geoattr.attractiveness import attractiveness, cumulate, rankings, region_attractiveness
from geoattr.barometer import BarometerResults, barometer
from geoattr.compare import compare  # the function shadows the module name, as users call geoattr.compare(...)
from geoattr.data import PanelData
from geoattr.decomposition import decompose
from geoattr.drivers import DriversResults, drivers
from geoattr.forecast import ForecastResults, forecast  # the function shadows the subpackage's name, as compare does
from geoattr.data import Crosswalk, harmonise_flows, harmonise_panel
from geoattr.models.api import fit
from geoattr.models.ols import estimate, estimate_by_year
from geoattr.robustness import RobustnessResults, cluster_bootstrap, robustness
from geoattr.variables.breakdown import vra_breakdown

__all__ = [
    "__version__",
    "PanelData",
    "estimate",
    "estimate_by_year",
    "fit",
    "compare",
    "attractiveness",
    "cumulate",
    "rankings",
    "region_attractiveness",
    "decompose",
    "barometer",
    "BarometerResults",
    "drivers",
    "DriversResults",
    "Crosswalk",
    "harmonise_panel",
    "harmonise_flows",
    "robustness",
    "RobustnessResults",
    "cluster_bootstrap",
    "vra_breakdown",
    "forecast",
    "ForecastResults",
    "show_versions",
]


def show_versions() -> None:
    """Print the versions of Python, geoattr and its dependencies."""
    for k, v in versions().items():
        print(f"{k:<14} {v}")
