"""``python -m geoattr``: the same as the ``geoattr`` console script (:func:`geoattr.cli.console`)."""

from __future__ import annotations

from geoattr.cli import console

if __name__ == "__main__":
    console()
