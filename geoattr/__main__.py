"""``python -m geoattr``: the same as the ``geoattr`` console script (:func:`geoattr.cli.main`)."""

from __future__ import annotations

import sys

from geoattr.cli import main

if __name__ == "__main__":
    sys.exit(main())
