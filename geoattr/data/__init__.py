"""Panel data: the aligned inputs (:class:`PanelData`) and code harmonisation.

* :mod:`geoattr.data.panel`: :class:`PanelData`, the frozen container every model reads;
* :mod:`geoattr.data.crosswalk`: :class:`Crosswalk` of codes between boundary vintages
  and stable units;
* :mod:`geoattr.data.harmonise`: :func:`harmonise_panel` and :func:`harmonise_flows`
  recode data with a crosswalk.

Row accounting is :mod:`geoattr.accounting` (shared with the readers).
"""

from geoattr.data.crosswalk import Crosswalk
from geoattr.data.harmonise import (
    HarmonisedFlows,
    HarmonisedPanel,
    harmonise_flows,
    harmonise_panel,
)
from geoattr.data.panel import COUNT_COLUMNS, PanelData

__all__ = [
    "PanelData",
    "COUNT_COLUMNS",
    "Crosswalk",
    "HarmonisedPanel",
    "HarmonisedFlows",
    "harmonise_panel",
    "harmonise_flows",
]
