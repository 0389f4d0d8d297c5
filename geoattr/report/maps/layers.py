"""The layers of a residual map, one function each; every one returns the layer's JSON payload.

A payload is what ``geoattr.layer(map, data, payload)`` of ``geoattr-map.js`` draws:
``kind`` (``"continuous"`` or ``"categorical"``), the values per unit (or per year and
unit), the tooltip ``fields`` (label, key, decimals) and the ``legend``.  The continuous
layers share a :class:`LayerStyle` (colour stops, the half-range ``vmax``, the profile
link, the units and the legend note); :meth:`LayerStyle.base` is its part of the payload.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from geoattr.exceptions import InputError

__all__ = [
    "LISA_CLUSTERS",
    "NAN_COLOUR",
    "colour_stops",
    "floats",
    "symmetric_vmax",
    "LayerStyle",
    "attractiveness_layer",
    "residual_layer",
    "yearly_layer",
    "lisa_layer",
]

#: LISA cluster codes: (label, fill colour).  The colours follow the residual scale of the
#: other layers (blue = high, red = low), not GeoDa's red-for-hot-spot convention.
LISA_CLUSTERS: tuple[tuple[str, str, str], ...] = (
    ("HH", "High-high (high residual, high neighbours)", "#2166ac"),
    ("LH", "Low-high (low residual, high neighbours)", "#f4a582"),
    ("LL", "Low-low (low residual, low neighbours)", "#b2182b"),
    ("HL", "High-low (high residual, low neighbours)", "#92c5de"),
    ("not significant", "Not significant", "#eeeeee"),
    ("no neighbours", "No neighbours (isolate)", "#9e9e9e"),
)
#: Fill colour of units without a value.
NAN_COLOUR = "#cccccc"

# attractiveness column -> key of the values in the page
_KEY_OF = {
    "actual": "observed",
    "expected": "expected",
    "residual": "residual",
    "residual_persons": "persons",
}


def _key(column: str) -> str:
    return _KEY_OF.get(column, f"x:{column}")


def floats(a: Any, decimals: int = 3) -> list:
    """Values rounded to ``decimals`` as a JSON list; missing values become ``None``.

    Parameters
    ----------
    a : array-like
    decimals : int, default 3

    Returns
    -------
    list
    """
    x = np.round(np.asarray(a, dtype=float), decimals)
    return [None if not math.isfinite(v) else v for v in x.tolist()]


def colour_stops(cmap: str, n: int = 11) -> list[str]:
    """``n`` evenly spaced hex colours of a matplotlib colormap.

    Parameters
    ----------
    cmap : str
        A matplotlib colormap name, e.g. ``"RdBu"``.
    n : int, default 11
        Number of colours.

    Returns
    -------
    list of str
        Hex colours (``"#rrggbb"``) from the low to the high end of the colormap.

    Raises
    ------
    InputError
        Unknown colormap.
    """
    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise InputError(
            f"unknown colormap {cmap!r}; use a matplotlib name such as 'RdBu' or 'PuOr'"
        ) from None
    return [to_hex(cm(t)) for t in np.linspace(0, 1, n)]


def symmetric_vmax(*arrays: np.ndarray) -> float:
    """The largest absolute finite value over the arrays (1 when there is none).

    Parameters
    ----------
    *arrays : numpy.ndarray

    Returns
    -------
    float
    """
    m = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=float)
        if np.isfinite(a).any():
            m = max(m, float(np.nanmax(np.abs(a))))
    return m or 1.0


def _decimals(vmax: float) -> int:
    return 2 if vmax < 10 else 1 if vmax < 100 else 0


def _legend(title: str, vmax: float, note: str | None, values: np.ndarray) -> dict[str, Any]:
    return {
        "title": title,
        "decimals": _decimals(vmax),
        "note": note,
        "missing": bool(np.isnan(values).any()),
    }


@dataclass(frozen=True)
class LayerStyle:
    """What the continuous layers of one map share.

    Parameters
    ----------
    stops : list of str
        Colour stops (:func:`colour_stops`).
    vmax : float
        Half-range of the colour scale.
    profile_links : str or None
        Link template of the popups.
    units : str
        Unit label of the values (tooltips and legend titles).
    note : str or None
        Legend note.
    """

    stops: list[str]
    vmax: float
    profile_links: str | None
    units: str
    note: str | None

    def base(self) -> dict[str, Any]:
        """The part every continuous layer's payload shares: colours, scale and links.

        Returns
        -------
        dict
        """
        return {
            "kind": "continuous",
            "stops": self.stops,
            "nan": NAN_COLOUR,
            "vmax": self.vmax,
            "profile": self.profile_links,
        }


def attractiveness_layer(
    name: str,
    vals: pd.DataFrame,
    *,
    column: str,
    extra: Sequence[str],
    style: LayerStyle,
) -> dict[str, Any]:
    """The first layer: ``vals[column]``, with observed, expected, residual and rank in the tooltip.

    Parameters
    ----------
    name : str
        Layer name, also the legend title (with the units appended).
    vals : pandas.DataFrame
        The checked per-unit table on the polygons' ids.
    column : str
        Column colouring the layer.
    extra : sequence of str
        Further tooltip columns.
    style : LayerStyle

    Returns
    -------
    dict
        The payload; the observed values are in the map's shared data, not here.
    """
    units = style.units
    rows = [
        ("actual", f"Observed ({units})", 2),
        ("expected", f"Expected ({units})", 2),
        ("residual", f"Residual ({units})", 2),
        ("residual_persons", "Residual (persons)", 0),
    ]
    rows += [(c, c, 3) for c in [column, *extra] if c not in _KEY_OF and c != "rank"]
    values: dict[str, list] = {}
    fields: list[list[Any]] = []
    for c, label, d in rows:
        if c in vals.columns and _key(c) not in values:
            if c != "actual":  # observed is in the shared data
                values[_key(c)] = floats(vals[c])
            fields.append([label, _key(c), d])
    fields.append(["Rank", "rank", 0])
    rank = None
    if "rank" in vals.columns:
        rank = [
            None if not math.isfinite(v) else int(v) for v in vals["rank"].astype(float).tolist()
        ]
    main = vals[column].to_numpy(dtype=float)
    return {
        **style.base(),
        "name": name,
        "values": values,
        "colourBy": _key(column),
        "fields": fields,
        "rank": rank,
        "legend": _legend(f"{name} ({units})", style.vmax, style.note, main),
    }


def _observed_over(
    pairs: pd.MultiIndex, ylong: pd.DataFrame, ids: pd.Index
) -> np.ndarray:
    """Observed values summed over exactly a specification's (unit, year) rows."""
    o = ylong["actual"].reindex(pairs).groupby(level="unit").sum(min_count=1)
    return o.reindex(ids).to_numpy(dtype=float)


def residual_layer(
    spec: str,
    residuals: pd.Series,
    pairs: pd.MultiIndex | None,
    *,
    observed: np.ndarray | None,
    ylong: pd.DataFrame | None,
    style: LayerStyle,
) -> dict[str, Any]:
    """The layer of one compared specification's residuals (summed over its years).

    Parameters
    ----------
    spec : str
        Specification name; the layer is ``"Residual: <spec>"``.
    residuals : pandas.Series
        Per-unit residuals on the polygons' ids.
    pairs : pandas.MultiIndex or None
        The specification's (unit, year) rows when it was given per year.
    observed : numpy.ndarray or None
        The observed values of the map's shared data.
    ylong : pandas.DataFrame or None
        The per-year frame (long); its ``actual`` over ``pairs`` gives the observed value
        of this specification when it differs from ``observed``.
    style : LayerStyle

    Returns
    -------
    dict
        The payload; expected = observed - residual is computed in the browser.
    """
    r = residuals.to_numpy(dtype=float)
    values: dict[str, list] = {"residual": floats(r)}
    period = ""
    spec_obs = observed
    if pairs is not None:
        yrs = pairs.get_level_values("year")
        period = f", {yrs.min()}-{yrs.max()}" if len(yrs) else ""
        if ylong is not None and "actual" in ylong.columns:
            o = _observed_over(pairs, ylong, residuals.index)
            same = observed is not None and np.allclose(o, observed, atol=1e-9, equal_nan=True)
            if not same:
                values["observed"] = floats(o)
            spec_obs = o
    units = style.units
    fields: list[list[Any]] = []
    if spec_obs is not None:  # expected = observed - residual, computed in the browser
        fields += [[f"Observed ({units})", "observed", 2], [f"Expected ({units})", "expected", 2]]
    fields += [[f"Residual ({units})", "residual", 2], ["Rank", "rank", 0]]
    name = f"Residual: {spec}"
    return {
        **style.base(),
        "name": name,
        "values": values,
        "colourBy": "residual",
        "fields": fields,
        "derive": spec_obs is not None,
        "legend": _legend(f"Residual of {spec}{period} ({units})", style.vmax, style.note, r),
    }


def yearly_layer(
    name: str,
    years: list[int],
    ydata: dict[str, np.ndarray],
    *,
    style: LayerStyle,
) -> dict[str, Any]:
    """The per-year residuals with a year slider (its own symmetric colour scale).

    Parameters
    ----------
    name : str
        Layer name (the slider's years follow it on the map).
    years : list of int
    ydata : dict
        Column -> array of shape (year, unit) (:func:`~geoattr.report.maps.inputs.check_yearly`).
    style : LayerStyle
        Its ``vmax`` is replaced by this layer's.

    Returns
    -------
    dict
    """
    ym = symmetric_vmax(ydata["residual"])
    units = style.units
    # expected = actual - residual is recomputed in the browser when that identity holds
    derive = (
        "actual" in ydata
        and "expected" in ydata
        and bool(
            np.allclose(
                ydata["actual"] - ydata["residual"], ydata["expected"], atol=1e-9, equal_nan=True
            )
        )
    )
    yv = {
        _key(c): [floats(row) for row in a]
        for c, a in ydata.items()
        if not (derive and c == "expected")
    }
    yf = [
        [label, k, d]
        for c, label, k, d in [
            ("actual", f"Observed ({units})", "observed", 2),
            ("expected", f"Expected ({units})", "expected", 2),
            ("residual", f"Residual ({units})", "residual", 2),
            ("residual_persons", "Residual (persons)", "persons", 0),
        ]
        if c in ydata
    ] + [["Rank in year", "rank", 0]]
    return {
        **style.base(),
        "name": name,
        "values": {},
        "yearly": yv,
        "years": years,
        "vmax": ym,
        "derive": derive,
        "colourBy": "residual",
        "fields": yf,
        "legend": _legend(f"Residual by year ({units})", ym, style.note, ydata["residual"]),
    }


def lisa_layer(
    name: str,
    lisa: pd.DataFrame,
    *,
    column: str,
    units: str,
    profile_links: str | None,
) -> dict[str, Any]:
    """The LISA clusters (categorical), with local Moran's I and the p-value used in the tooltip.

    Parameters
    ----------
    name : str
        Layer name, e.g. ``"LISA clusters: residual"``.
    lisa : pandas.DataFrame
        :func:`geoattr.lisa.lisa_table` output on the polygons' ids (its ``attrs`` give
        the significance rule of the legend).
    column : str
        The column the LISA is of.
    units : str
    profile_links : str or None

    Returns
    -------
    dict
    """
    codes = {c[0]: k for k, c in enumerate(LISA_CLUSTERS)}
    cat = [codes[c] for c in lisa["cluster"]]
    counts = [int(sum(1 for x in cat if x == k)) for k in range(len(LISA_CLUSTERS))]
    rule = lisa.attrs["test"]
    return {
        "kind": "categorical",
        "name": name,
        "profile": profile_links,
        "categories": [[c[1], c[2]] for c in LISA_CLUSTERS],
        "values": {
            "category": cat,
            "residual": floats(lisa["value"]),
            "Is": floats(lisa["Is"]),
            "p": floats(lisa["p_value"]),
        },
        "fields": [
            [f"Residual ({units})", "residual", 2],
            ["Cluster", "category", 0],
            ["Local Moran's I", "Is", 3],
            [f"Pseudo p-value ({lisa.attrs['alternative']})", "p", 3],
        ],
        "legend": {
            "title": f"LISA clusters of the {column}, {rule}, "
            f"{lisa.attrs['permutations']} permutations",
            "counts": counts,
        },
    }
