"""Versions of Python, geoattr and its dependencies (``run.json``, ``geoattr versions``)."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata

__all__ = ["RUN_PACKAGES", "versions"]

#: The packages whose versions a run records.
RUN_PACKAGES: tuple[str, ...] = ("geoattr", "numpy", "pandas", "scipy", "geopandas", "shapely", "libpysal", "spreg",
                                 "linearmodels", "folium", "esda")


def versions(packages: Sequence[str] = RUN_PACKAGES) -> dict[str, str]:
    """The Python version and the installed version of each package ("not installed" if absent).

    Parameters
    ----------
    packages : sequence of str, default RUN_PACKAGES

    Returns
    -------
    dict of str to str
        ``{"python": ..., package: version, ...}``.
    """
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
