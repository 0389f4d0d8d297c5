"""geoattr: spatial econometrics of residential attractiveness."""

from __future__ import annotations

from geoattr._version import __version__

__all__ = ["__version__"]
