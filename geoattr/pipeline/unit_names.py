"""The ``name`` column of the per-unit output tables (as in ``rankings.csv``)."""

from __future__ import annotations

import pandas as pd

from geoattr.data import PanelData

__all__ = ["with_names"]


def with_names(table: pd.DataFrame, data: PanelData) -> pd.DataFrame:
    """``table`` with a ``name`` column appended: each row's unit name (the id where the data have none).

    Appended last, so the columns of earlier outputs keep their order.

    Parameters
    ----------
    table : pandas.DataFrame
        With a ``unit`` column.
    data : PanelData
        Whose :attr:`~geoattr.data.PanelData.names` give the names (region names for the
        units of a region-level table when the data carry them).

    Returns
    -------
    pandas.DataFrame
        A copy; ``table`` is not changed.
    """
    names = data.names
    if data.region_names is not None:
        names = pd.concat([names, data.region_names[~data.region_names.index.isin(names.index)]])
    units = table["unit"].astype(str)
    return table.assign(name=names.reindex(units).fillna(units).to_numpy(dtype=object))
