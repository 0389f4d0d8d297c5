"""The main job: read a run configuration, estimate, write the outputs.

``geoattr demo`` and ``geoattr run CONFIG.toml`` are thin wrappers over :func:`run`.
The modules: :mod:`geoattr.pipeline.job` (orchestration), :mod:`geoattr.pipeline.sources`
(the data sources), :mod:`geoattr.pipeline.steps` (the analyses of a run) and
:mod:`geoattr.pipeline.outputs` (the files written).  The configuration is read and
checked by :mod:`geoattr.config`.
"""

from geoattr.config import load_run_config as load_config
from geoattr.pipeline.job import DEFAULT_CONFIG, RunOutputs, run
from geoattr.pipeline.sources import files_panel_data, ssb_panel_data, synthetic_panel_data

__all__ = ["DEFAULT_CONFIG", "load_config", "run", "RunOutputs", "synthetic_panel_data", "ssb_panel_data",
           "files_panel_data"]
