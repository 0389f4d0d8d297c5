"""Cumulative attractiveness of the units, its ranks and how stable they are.

Attractiveness of a unit is its cumulative residual over the design years at the unit
(municipality) level, ``sum_t (y - X b)``, as :func:`geoattr.cumulate`; rank 1 is the
most attractive unit.  The unit sums are built once, so any coefficient vector gives the
units' attractiveness by a matrix-vector product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.variables import Design

__all__ = ["UnitSums", "unit_sums", "ranks", "stability"]


def ranks(cum: np.ndarray) -> np.ndarray:
    """Rank along the last axis: 1 = largest (most attractive); ties keep the unit order.

    Parameters
    ----------
    cum : ndarray
        Units (1-d) or replications x units.

    Returns
    -------
    ndarray
        Replications x units (2-d).
    """
    cum = np.atleast_2d(cum)
    order = np.argsort(-cum, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(1, cum.shape[1] + 1), cum.shape), axis=1)
    return out


def stability(base_rank: np.ndarray, ranks: np.ndarray, n_top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spearman correlation with the baseline and shares of its top/bottom ``n_top`` kept.

    Parameters
    ----------
    base_rank : ndarray
        Baseline ranks of the units.
    ranks : ndarray
        Replications x units.
    n_top : int

    Returns
    -------
    spearman, top_kept, bottom_kept : ndarray
        One value per replication.
    """
    n = base_rank.shape[0]
    a = base_rank - (n + 1) / 2
    b = ranks - (n + 1) / 2
    rho = (b @ a) / np.sqrt((b * b).sum(axis=1) * (a @ a))
    top_b, bot_b = base_rank <= n_top, base_rank > n - n_top
    top = ((ranks <= n_top) & top_b).sum(axis=1) / n_top
    bot = ((ranks > n - n_top) & bot_b).sum(axis=1) / n_top
    return rho, top, bot


@dataclass(frozen=True)
class UnitSums:
    """Unit-level sums from which cumulative attractiveness is ``SY - SX @ b``.

    Attributes
    ----------
    units : pandas.Index
    terms : list of str
    SY : ndarray
        Per unit, the sum of ``y`` (times population / 100 for persons).
    SX : ndarray
        Per unit and term, the sum of ``X``.
    Y, Xt : ndarray or None
        Units x years and units x years x terms (for resampled years).
    """

    units: pd.Index
    terms: list[str]
    SY: np.ndarray
    SX: np.ndarray
    Y: np.ndarray | None = None
    Xt: np.ndarray | None = None

    def cum(self, b: np.ndarray) -> np.ndarray:
        """Cumulative attractiveness of each unit for coefficients ``b`` (in ``terms`` order)."""
        return self.SY - self.SX @ b

    def cum_of(self, params: pd.Series) -> np.ndarray:
        """:meth:`cum` for labelled coefficients; a term not estimated counts as 0."""
        return self.cum(params.reindex(self.terms).fillna(0.0).to_numpy())

    def cum_resampled(self, B: np.ndarray, yc: np.ndarray) -> np.ndarray:
        """Replications x units with the years resampled (``yc``: year counts per replication)."""
        return yc @ self.Y.T - np.einsum("rt,utk,rk->ru", yc, self.Xt, B)


def unit_sums(d: Design, *, by: str, per_year: bool = False, units: pd.Index | None = None) -> UnitSums:
    """Unit sums of a unit-level design.

    Parameters
    ----------
    d : Design
        At the unit (municipality) level.
    by : {"residual", "residual_persons"}
        Percentage points or persons (population / 100 times the rate).
    per_year : bool, default False
        Also keep the per-year sums (for resampled years).
    units : pandas.Index, optional
        Order of the units (default: as in the design).

    Returns
    -------
    UnitSums
    """
    om = d.population.to_numpy(float) / 100.0 if by == "residual_persons" else np.ones(len(d.y))
    X = d.X.to_numpy(float) * om[:, None]
    y = d.y.to_numpy(float) * om
    u = d.y.index.get_level_values("unit")
    units = pd.Index(pd.unique(u), name="unit") if units is None else units
    code = units.get_indexer(u)
    if (code < 0).any():
        raise InputError(f"units {format_ids(pd.unique(u[code < 0]))} are not among the baseline's units")
    SY = np.bincount(code, weights=y, minlength=len(units))
    SX = np.zeros((len(units), X.shape[1]))
    np.add.at(SX, code, X)
    if not per_year:
        return UnitSums(units=units, terms=list(d.X.columns), SY=SY, SX=SX)
    yrs = d.y.index.get_level_values("year")
    years = np.arange(d.years[0], d.years[1] + 1)
    t = np.searchsorted(years, yrs)
    Y = np.zeros((len(units), len(years)))
    Xt = np.zeros((len(units), len(years), X.shape[1]))
    np.add.at(Y, (code, t), y)
    np.add.at(Xt, (code, t), X)
    return UnitSums(units=units, terms=list(d.X.columns), SY=SY, SX=SX, Y=Y, Xt=Xt)
