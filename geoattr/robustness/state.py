"""What every task of the battery needs, shipped once to each worker, and data copies.

The battery never modifies the caller's data: it works on shallow copies with their own
cache (:func:`own_copy`), and variants with other commuting flows get a copy that keeps
only the cache entries that do not depend on the flows (:func:`replace_flows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoattr.data import PanelData
from geoattr.robustness.bootstrap import ClusterProblem
from geoattr.variables import Design

__all__ = ["BatteryState", "own_copy", "replace_flows", "FLOW_TERMS"]

#: Terms built from the commuting flows (the weights variants and the placebo change them).
FLOW_TERMS: tuple[str, ...] = ("vra", "nv", "ami")


@dataclass(frozen=True)
class BatteryState:
    """The baseline's design, data and options: what every task needs.

    Attributes
    ----------
    spec, unit_level, years, commuting_year, obs_weights, cov_type, design_opts
        The baseline's options (``design_opts``: the other options of
        :func:`geoattr.variables.build_design`).
    unit_data, est_data : PanelData or None
        Data at the unit and estimation levels (None when no task rebuilds a design).
    est_design, unit_design : Design
        The baseline's designs at the estimation and unit levels.
    problem : ClusterProblem
        The estimation design in cluster-sum form.
    rank_by : str
    units : pandas.Index
        Units of the unit-level design (the order of the attractiveness vectors).
    seed : int
    wild_weights : str
    n_years_resample : int
        Years drawn per bootstrap replication (0: years not resampled).
    placebo_fast : bool
        The placebo permutes the commuting-weighted columns of the design.
    placebo_cols : list of int
        Columns built from the commuting flows.
    placebo_pos : ndarray or None
        Row of each (estimation unit, year) of the design (fast placebo).
    est_units : pandas.Index
        Units of the estimation design.
    """

    spec: Any
    unit_level: str
    years: tuple[int, int]
    commuting_year: Any
    obs_weights: Literal["population"] | None
    cov_type: str
    design_opts: dict[str, Any]
    unit_data: PanelData | None
    est_data: PanelData | None
    est_design: Design
    unit_design: Design
    problem: ClusterProblem
    rank_by: str
    units: pd.Index
    seed: int
    wild_weights: str
    n_years_resample: int
    placebo_fast: bool
    placebo_cols: list[int]
    placebo_pos: np.ndarray | None
    est_units: pd.Index


def replace_flows(data: PanelData, flows: pd.DataFrame) -> PanelData:
    """Return a shallow copy of ``data`` with other commuting flows (and a cache without them).

    Parameters
    ----------
    data : PanelData
    flows : pandas.DataFrame

    Returns
    -------
    PanelData
    """
    return data.replace(flows=flows)


def own_copy(data: PanelData) -> PanelData:
    """Return a shallow copy with its own cache, so the caller's object is never modified.

    Parameters
    ----------
    data : PanelData

    Returns
    -------
    PanelData
    """
    return data.replace()
