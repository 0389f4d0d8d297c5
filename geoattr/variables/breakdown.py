"""The commuting breakdown of VRA: which workplaces make a unit's weighted job growth.

``VRA_lk[i,t] = sum_j w[i,j,t-k] * RA[j,t-k]`` (MODEL.md).  :func:`vra_breakdown` lists the
terms of that sum for chosen units and years: each workplace *j* with the share
``w[i,j,t-k]`` of *i*'s employed residents who work there, its relative job growth
``RA[j,t-k]`` and their product, the workplace's contribution.  The contributions of a
unit and year add up to its VRA in the model's design (the same commuting weights and
the same relative job growth: :func:`~geoattr.variables.growth.commuting_weights` and
:func:`~geoattr.variables.growth.relative_job_growth`), as in the book's table for
Rælingen.
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
import pandas as pd

from geoattr import weights as gw
from geoattr._format import format_ids
from geoattr.data import PanelData
from geoattr.exceptions import InputError
from geoattr.variables.growth import CommutingYear, commuting_weights, relative_job_growth, to_wide

__all__ = ["BREAKDOWN_COLUMNS", "vra_breakdown", "breakdown_years"]

#: Columns of :func:`vra_breakdown` (and of ``vra_breakdown.csv``), in order.
BREAKDOWN_COLUMNS: tuple[str, ...] = ("unit", "unit_name", "year", "workplace", "workplace_name", "share",
                                      "relative_growth", "contribution", "lag", "weights_year")


def breakdown_years(data: PanelData, *, lag: int = 0) -> list[int]:
    """The panel years *t* whose VRA at ``lag`` can be broken down: jobs of every unit in *t-k-1* and *t-k*.

    Parameters
    ----------
    data : PanelData
        Needs the panel column ``jobs``.
    lag : int, default 0
        The lag *k* (0 for ``vra``, 1 for ``vra_l1``, 2 for ``vra_l2``).

    Returns
    -------
    list of int
        Sorted years *t*.
    """
    wide = to_wide(data.column("jobs")).reindex(data.units)
    ok = {int(y) for y in wide.columns if wide[y].notna().all() and (wide[y] > 0).all()}
    panel_years = {int(y) for y in data.years}
    return sorted(y + lag for y in ok if (y - 1) in ok and (y + lag) in panel_years)


def _units(data: PanelData, units: Sequence[str] | str | None) -> list[str]:
    if units is None or (isinstance(units, str) and units == "all"):
        return [str(u) for u in data.units]
    wanted = [units] if isinstance(units, str) else [str(u) for u in units]
    unknown = [u for u in wanted if u not in set(data.units)]
    if unknown:
        raise InputError(f"vra_breakdown: unknown unit(s) {format_ids(unknown)}; the data's units are "
                         f"{format_ids(data.units)} (ids are strings with leading zeros, e.g. '0301'); "
                         "or pass units='all'")
    if not wanted:
        raise InputError("vra_breakdown: units is empty; name at least one unit or pass units='all'")
    return list(dict.fromkeys(wanted))


def _years(data: PanelData, years: Sequence[int] | int | None, lag: int) -> list[int]:
    possible = breakdown_years(data, lag=lag)
    if not possible:
        raise InputError(f"vra_breakdown: no year has jobs > 0 for every unit in two consecutive years "
                         f"(needed for relative job growth at lag {lag})")
    if years is None:
        return possible
    wanted = [years] if isinstance(years, (int, np.integer)) else list(years)
    bad_type = [y for y in wanted if isinstance(y, bool) or not isinstance(y, (int, np.integer))]
    if bad_type:
        raise InputError(f"vra_breakdown: years must be whole years, got {bad_type!r}")
    unknown = [int(y) for y in wanted if int(y) not in set(possible)]
    if unknown:
        raise InputError(
            f"vra_breakdown: year(s) {format_ids(unknown)} cannot be broken down at lag {lag}: relative job growth "
            f"of year t-{lag} needs jobs > 0 of every unit in t-{lag + 1} and t-{lag}; possible years are "
            f"{possible[0]}-{possible[-1]}" + ("" if len(possible) == possible[-1] - possible[0] + 1 else
                                                f" ({format_ids(possible, limit=30)})"))
    if not wanted:
        raise InputError("vra_breakdown: years is empty; name at least one year or pass years=None (all)")
    return sorted(dict.fromkeys(int(y) for y in wanted))


def vra_breakdown(
    data: PanelData,
    *,
    units: Sequence[str] | str | None = "all",
    years: Sequence[int] | int | None = None,
    lag: int = 0,
    commuting_year: CommutingYear = "same",
    min_share: float = 0.0,
    top_k: int | None = None,
    include_diagonal: bool = True,
) -> pd.DataFrame:
    """Break a unit's VRA down by workplace: share x relative job growth = contribution.

    For unit *i*, year *t* and lag *k*, one row per workplace *j* where *i*'s employed
    residents work (``w[i,j,t-k] > 0``, the unit itself included unless
    ``include_diagonal=False``): ``share = w[i,j,t-k]`` (a fraction: the shares of a unit
    and year sum to 1, not 100), ``relative_growth = RA[j,t-k]`` (percent, relative to
    the nation) and ``contribution = share * relative_growth`` (percentage points).  The
    contributions of a unit and year sum to its ``vra`` (``lag=0``), ``vra_l1`` or
    ``vra_l2`` term of :func:`~geoattr.variables.build_design` built with the same
    commuting options.  Rows are sorted by unit, year and decreasing share.

    Parameters
    ----------
    data : PanelData
        Needs the panel column ``jobs`` and ``flows``; names come from
        :attr:`PanelData.names <geoattr.data.PanelData.names>`.
    units : list of str or "all", default "all"
        Unit ids (strings) to break down.
    years : list of int or int, optional
        The model years *t* (default every year possible at ``lag``, see
        :func:`breakdown_years`).
    lag : int, default 0
        *k*: the breakdown of ``vra`` (0), ``vra_l1`` (1) or ``vra_l2`` (2); lag *k* of
        year *t* uses the weights and job growth of year *t-k*.
    commuting_year, min_share, top_k, include_diagonal
        The commuting-weights options of the model
        (:func:`~geoattr.variables.growth.commuting_weights`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BREAKDOWN_COLUMNS`: ``unit, unit_name, year, workplace,
        workplace_name, share, relative_growth, contribution, lag, weights_year``
        (``weights_year``: the year of the commuting matrix used, which differs from
        ``year - lag`` when that year has no matrix of its own).

    Raises
    ------
    InputError
        Unknown units or years that cannot be broken down (named, with the possible
        ones), a negative ``lag``, no flows or no jobs.
    """
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 0:
        raise InputError(f"vra_breakdown: lag must be an integer >= 0, got {lag!r}")
    lag = int(lag)
    unit_list = _units(data, units)
    year_list = _years(data, years, lag)
    src_years = sorted({t - lag for t in year_list})
    jobs = data.column("jobs")
    ra = to_wide(relative_job_growth(jobs[jobs.index.get_level_values("year").isin(
        [y - 1 for y in src_years] + src_years)])).reindex(data.units)
    cw = commuting_weights(data, src_years, commuting_year=commuting_year, min_share=min_share, top_k=top_k,
                           include_diagonal=include_diagonal, as_graph=False)
    ids = data.units
    pos = pd.Series(np.arange(len(ids)), index=ids)
    rows_of = pos.reindex(unit_list).to_numpy()
    names = data.names.reindex(ids).astype(str).to_numpy()
    parts = []
    for t in year_list:
        s = t - lag
        W = gw.as_sparse(cw[s], ids)[rows_of].tocoo()
        growth = ra[s].to_numpy(dtype=float)[W.col]
        parts.append(pd.DataFrame({
            "unit": ids.to_numpy()[rows_of][W.row], "unit_name": names[rows_of][W.row], "year": t,
            "workplace": ids.to_numpy()[W.col], "workplace_name": names[W.col], "share": W.data,
            "relative_growth": growth, "contribution": W.data * growth, "lag": lag,
            "weights_year": cw.substitutions.get(s, s), "_order": W.row}))
    out = pd.concat(parts, ignore_index=True)
    out = out[out["share"] > 0].sort_values(["_order", "year", "share", "workplace"],
                                            ascending=[True, True, False, True], kind="mergesort")
    return out[list(BREAKDOWN_COLUMNS)].reset_index(drop=True)
