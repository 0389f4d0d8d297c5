"""Origin-destination (OD) tables larger than memory, summed to unit pairs out of core.

Register OD tables between fine zones (census blocks, grid cells) have 10^8 rows and
more; aggregated to analysis units through a lookup table they become at most ~10^7
unit pairs.  Three engines do the aggregation, one module each:

* ``engine="duckdb"`` (default, :mod:`~geoattr.io.od.duckdb_engine`): embedded, single
  machine, out of core (spills to ``temp_directory``), bounded by ``memory_limit`` and
  ``threads``.
* ``engine="dask"`` (:mod:`~geoattr.io.od.dask_engine`): Dask DataFrame, on the active
  ``dask.distributed`` client (or ``client=``), else Dask's threaded scheduler.  Needs
  ``pip install geoattr[dask]``.
* ``engine="pandas"`` (:mod:`~geoattr.io.od.pandas_engine`): reads everything into
  memory; the reference the other two are tested against.  Refuses (with the engines to
  switch to) an input estimated larger than the memory available.

:func:`aggregate_od` returns the unit-level table; :func:`read_od` the codes by year that
:func:`geoattr.weights.commuting_from_files` turns into weights.
"""

from geoattr.io.od.aggregate import AggregatedOD, ODYears, YearEdges, aggregate_od, read_od
from geoattr.io.od.files import PARQUET_PARTITION_ROWS
from geoattr.io.od.memory import parse_bytes
from geoattr.io.od.spec import ENGINES, NO_YEAR, Engine

__all__ = ["aggregate_od", "read_od", "AggregatedOD", "ODYears", "YearEdges", "ENGINES", "Engine", "NO_YEAR",
           "PARQUET_PARTITION_ROWS", "parse_bytes"]
