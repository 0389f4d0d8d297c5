"""Warning and error classes used throughout geoattr.

All warnings geoattr emits derive from :class:`GeoattrWarning`, so users (and the
test-suite) can filter or escalate them in one place.  Errors about bad input are
:class:`ValueError` subclasses whose messages name the offending ids, rows or columns
and say how to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "GeoattrWarning",
    "IsolatesWarning",
    "GeographicCRSWarning",
    "InvalidGeometryWarning",
    "DroppedRowsWarning",
    "WeightsSubstitutionWarning",
    "ConvergenceWarning",
    "InputError",
]


class GeoattrWarning(UserWarning):
    """Base class of every warning geoattr emits."""


class IsolatesWarning(GeoattrWarning):
    """Some units have no neighbours; they are kept as explicit isolates."""


class GeographicCRSWarning(GeoattrWarning):
    """A distance-based operation was asked for on a geographic (degree) CRS."""


class InvalidGeometryWarning(GeoattrWarning):
    """Invalid geometries were found and repaired with ``make_valid``."""


class DroppedRowsWarning(GeoattrWarning):
    """Rows were dropped at the caller's explicit request; counts are in the accounting."""


class WeightsSubstitutionWarning(GeoattrWarning):
    """A year had no commuting matrix and the nearest available year was used."""


class ConvergenceWarning(GeoattrWarning):
    """An iterative estimator did not converge or a parameter sits on its boundary."""


class InputError(ValueError):
    """Input data that geoattr cannot use as given; the message says how to fix it."""


class WeightsSubsetWarning(GeoattrWarning):
    """The weights cover units the data lack; they were subset to the data (rows renormalised)."""


__all__ += ["WeightsSubsetWarning"]
