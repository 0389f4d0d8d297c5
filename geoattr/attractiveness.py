"""Residential attractiveness: the residual of the attractiveness model.

``A[i,t] = y[i,t] - yhat[i,t]`` in % of the population on 1 January, also in persons
(``A * P / 100``); cumulated over a period (sum over years) and ranked.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from geoattr._format import format_ids
from geoattr.exceptions import InputError
from geoattr.models.ols import AttractivenessResults

__all__ = ["attractiveness", "cumulate", "rankings", "region_attractiveness"]


def attractiveness(fit: AttractivenessResults) -> pd.DataFrame:
    """Attractiveness of every unit and year.

    For municipality-level estimation this is the model residual; for region-level
    estimation the region coefficients are applied to the municipalities' own
    regressors, and the residual is the municipality's actual minus that expectation.

    Parameters
    ----------
    fit : AttractivenessResults
        From :func:`geoattr.estimate`.

    Returns
    -------
    pandas.DataFrame
        Index (unit, year); columns ``actual``, ``expected``, ``residual`` (percentage
        points of the population on 1 January), ``population`` and
        ``residual_persons`` (``residual * population / 100``).
    """
    d = fit.unit_design
    expected = fit.expected
    out = pd.DataFrame({"actual": d.y, "expected": expected})
    out["residual"] = out["actual"] - out["expected"]
    out["population"] = d.population
    out["residual_persons"] = out["residual"] * out["population"] / 100.0
    return out


def _check_att(att: pd.DataFrame) -> None:
    need = ["residual", "residual_persons"]
    missing = [c for c in need if c not in att.columns]
    if missing:
        raise InputError(
            f"attractiveness table lacks column(s) {missing}; pass the output of geoattr.attractiveness()"
        )


def cumulate(att: pd.DataFrame, *, years: tuple[int, int] | None = None) -> pd.DataFrame:
    """Attractiveness cumulated over a period (sum over years) per unit.

    Parameters
    ----------
    att : pandas.DataFrame
        Output of :func:`attractiveness` (or :func:`region_attractiveness`).
    years : (int, int), optional
        Inclusive period; default all years in ``att``.

    Returns
    -------
    pandas.DataFrame
        Index unit; ``residual`` (sum of yearly residuals, percentage points),
        ``residual_persons`` (sum of persons), ``mean_residual`` and ``n_years``.
    """
    _check_att(att)
    a = att
    if years is not None:
        yr = a.index.get_level_values("year")
        avail = sorted(set(yr))
        missing = [y for y in range(years[0], years[1] + 1) if y not in avail]
        if missing:
            raise InputError(
                f"years {format_ids(missing)} are not in the attractiveness table "
                f"(it covers {avail[0]}-{avail[-1]})"
            )
        a = a[(yr >= years[0]) & (yr <= years[1])]
    g = a.groupby(level="unit")
    return pd.DataFrame(
        {
            "residual": g["residual"].sum(),
            "residual_persons": g["residual_persons"].sum(),
            "mean_residual": g["residual"].mean(),
            "n_years": g["residual"].size(),
        }
    )


def rankings(
    cumulative: pd.DataFrame,
    *,
    n: int = 10,
    by: Literal["residual", "residual_persons", "mean_residual"] = "residual",
    names: pd.Series | None = None,
    unit_level: str = "municipality",
) -> pd.DataFrame:
    """Top and bottom ``n`` units by cumulative attractiveness.

    Parameters
    ----------
    cumulative : pandas.DataFrame
        Output of :func:`cumulate`.
    n : int, default 10
    by : str, default "residual"
        Column to rank on.
    names : pandas.Series, optional
        Unit -> name for the ``name`` column (the id where a unit has no name).
    unit_level : str, default "municipality"
        The unit level, written in the ``level`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``level, list, rank, unit, name, residual, residual_persons`` where
        ``list`` is ``top`` (most attractive first) or ``bottom`` (least attractive
        first) and ``rank`` is the position among all units (1 = most attractive).
    """
    if by not in cumulative.columns:
        raise InputError(f"cannot rank by {by!r}; columns are {list(cumulative.columns)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    s = cumulative.sort_values(by, ascending=False, kind="mergesort")
    full_rank = pd.Series(range(1, len(s) + 1), index=s.index)
    top = s.head(n).assign(list="top")
    bottom = s.tail(n).iloc[::-1].assign(list="bottom")
    out = pd.concat([top, bottom])
    out["rank"] = full_rank.reindex(out.index).to_numpy()
    out["unit"] = out.index
    if names is not None:
        nm = pd.Series(names).reindex(out.index).to_numpy(dtype=object)
        out["name"] = np.where(pd.isna(nm), out.index.to_numpy(dtype=object), nm)
    else:
        out["name"] = out.index
    out["level"] = unit_level
    return out[["level", "list", "rank", "unit", "name", "residual", "residual_persons"]].reset_index(drop=True)


def region_attractiveness(fit: AttractivenessResults, att: pd.DataFrame | None = None) -> pd.DataFrame:
    """Attractiveness of regions.

    When the model was estimated at region level, these are the residuals of the
    region model; otherwise the population-weighted mean of the municipal residuals
    (MODEL.md convention).

    Parameters
    ----------
    fit : AttractivenessResults
    att : pandas.DataFrame, optional
        Municipal attractiveness (default ``attractiveness(fit)``).

    Returns
    -------
    pandas.DataFrame
        Index (unit=region, year); columns as :func:`attractiveness`.
    """
    if fit.unit_level == "region":
        r = fit.results
        out = pd.DataFrame({"actual": r.y, "expected": r.fitted_values})
        out["residual"] = out["actual"] - out["expected"]
        out["population"] = fit.design.population
        out["residual_persons"] = out["residual"] * out["population"] / 100.0
        return out
    att = attractiveness(fit) if att is None else att
    mapping = fit.unit_data.region_of()
    reg = att.index.get_level_values("unit").map(mapping)
    yr = att.index.get_level_values("year")
    w = att["population"]
    g = att[["actual", "expected", "residual"]].mul(w, axis=0).groupby([reg, yr]).sum()
    pop = w.groupby([reg, yr]).sum()
    out = g.div(pop, axis=0)
    out["population"] = pop
    out["residual_persons"] = att["residual_persons"].groupby([reg, yr]).sum()
    out.index = out.index.set_names(["unit", "year"])
    return out
