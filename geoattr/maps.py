"""Folium web maps of attractiveness, the residuals of compared models and their LISA clusters.

:func:`residual_map` draws, on one Leaflet map,

* the attractiveness (cumulative residual) of every unit,
* the residual of every compared specification (one layer each),
* the per-year residuals with a year slider,
* the LISA clusters of the residual (local Moran's I, :class:`esda.Moran_Local`),

as mutually exclusive layers of a layer control.  Each layer has its own legend, shown
exactly while the layer is on the map; the continuous layers use a diverging colour
scale symmetric around zero; tooltips give name, observed, expected, residual and rank,
and a click opens a popup linking to the unit's profile page.

The geometry is stored once in the page (delta-encoded integer coordinates, 5 decimals
in EPSG:4326) and shared by all layers; per-year values are a compact ``{year:
[values]}`` array recoloured by a small script, not one GeoJSON per year.  With
``self_contained=True`` Leaflet's JavaScript, CSS and control icons (vendored in
``geoattr/_assets``, the version folium uses) are inlined, so the HTML file works
offline and fetches nothing.

:func:`lisa_table` computes the local Moran statistics, pseudo p-values and cluster
labels on their own; :func:`attractiveness_map` is the earlier single-layer interface,
kept for compatibility.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoattr._format import format_ids
from geoattr.exceptions import InputError
import geoattr._validation as val

__all__ = [
    "residual_map",
    "attractiveness_map",
    "lisa_table",
    "simplify_polygons",
    "MapInfo",
    "LISA_CLUSTERS",
    "vendored_leaflet_version",
]

log = logging.getLogger(__name__)

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
_QUADRANT = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}

_SCALE = 100_000  # coordinates stored as integers in 1e-5 degrees (about 1 m)
_NAN_COLOUR = "#cccccc"
_CSS = """
.geoattr-legend, .geoattr-slider {
  background: rgba(255, 255, 255, 0.92); padding: 6px 8px; border-radius: 4px;
  box-shadow: 0 0 4px rgba(0, 0, 0, 0.35); font: 12px/1.4 sans-serif; max-width: 280px;
}
.geoattr-legend-title { font-weight: bold; margin-bottom: 4px; }
.geoattr-ramp { height: 12px; width: 220px; border: 1px solid #888; }
.geoattr-ticks { display: flex; justify-content: space-between; width: 222px; }
.geoattr-legend-note { color: #444; margin-top: 2px; }
.geoattr-legend-row { display: flex; align-items: center; margin: 1px 0; }
.geoattr-swatch {
  display: inline-block; width: 14px; height: 12px; margin-right: 6px; border: 1px solid #888;
}
.geoattr-slider input { width: 220px; }
.geoattr-year { font-weight: bold; }
"""


# --------------------------------------------------------------------------- assets
def _asset(name: str) -> bytes:
    return resources.files("geoattr").joinpath("_assets", name).read_bytes()


def vendored_leaflet_version() -> str:
    """Return the version of the Leaflet copy inlined by ``self_contained=True`` maps.

    Returns
    -------
    str
        For example ``"1.9.3"``; it matches the Leaflet that folium loads from its CDN.
    """
    head = _asset("leaflet.js")[:200].decode("utf-8")
    m = re.search(r"Leaflet (\d+\.\d+\.\d+)", head)
    if m is None:  # pragma: no cover - the vendored file is part of the package
        raise RuntimeError("cannot read the version of geoattr/_assets/leaflet.js")
    return m.group(1)


def _inline_leaflet() -> str:
    css = _asset("leaflet.css").decode("utf-8")
    for img, asset in [
        ("images/layers-2x.png", "leaflet-layers-2x.png"),
        ("images/layers.png", "leaflet-layers.png"),
        ("images/marker-icon.png", "leaflet-marker-icon.png"),
    ]:
        uri = "data:image/png;base64," + base64.b64encode(_asset(asset)).decode("ascii")
        css = css.replace(f"url({img})", f"url({uri})")
    js = _asset("leaflet.js").decode("utf-8")
    return f"<style>{css}</style>\n<script>{_script_safe(js)}</script>\n"


def _script_safe(text: str) -> str:
    """Make text safe inside a ``<script>`` element (no ``</script>`` or ``<!--``)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _json(obj: Any) -> str:
    return _script_safe(json.dumps(obj, separators=(",", ":"), allow_nan=False))


# --------------------------------------------------------------------------- folium elements
def _elements():
    """Folium/branca element classes (imported lazily: folium is slow to import)."""
    from branca.element import Element, MacroElement
    from folium.map import Layer

    class Raw(Element):
        """Literal HTML/JS, not passed through Jinja (the payloads may contain ``{{``)."""

        def __init__(self, text: str):
            super().__init__()
            self.text = text

        def render(self, **kwargs: Any) -> str:
            return self.text

    class Library(MacroElement):
        """Header: inline Leaflet (self-contained maps), geoattr's CSS and JS helpers."""

        def __init__(self, inline_leaflet: bool):
            super().__init__()
            self._name = "GeoattrLibrary"
            self.inline_leaflet = inline_leaflet

        def render(self, **kwargs: Any) -> None:
            head = _inline_leaflet() if self.inline_leaflet else ""
            head += f"<style>{_CSS}</style>\n"
            head += f"<script>{_script_safe(_asset('geoattr-map.js').decode('utf-8'))}</script>\n"
            self.get_root().header.add_child(Raw(head), name="geoattr_library")

    class Data(MacroElement):
        """The shared geometry (one FeatureCollection for every layer)."""

        def __init__(self, payload: str):
            super().__init__()
            self._name = "GeoattrData"
            self.payload = payload

        def render(self, **kwargs: Any) -> None:
            js = f"\nvar {self.get_name()} = geoattr.decode({self.payload});\n"
            self.get_root().script.add_child(Raw(js), name=self.get_name())

    class GeoattrLayer(Layer):
        """A ``geoattr.layer`` (choropleth or categorical) listed in the layer control."""

        def __init__(self, name: str, data: Any, payload: str, *, show: bool):
            super().__init__(name=name, overlay=False, control=True, show=show)
            self._name = "GeoattrLayer"
            self.data = data
            self.payload = payload

        def render(self, **kwargs: Any) -> None:
            me, parent = self.get_name(), self._parent.get_name()
            js = f"\nvar {me} = geoattr.layer({parent}, {self.data.get_name()}, {self.payload});\n"
            if self.show:
                js += f"{me}.addTo({parent});\n"
            self.get_root().script.add_child(Raw(js), name=me)

    return Raw, Library, Data, GeoattrLayer


# --------------------------------------------------------------------------- results
@dataclass
class MapInfo:
    """What :func:`residual_map` did; attached to the returned map as ``geoattr_info``.

    Attributes
    ----------
    n_units : int
        Units drawn (every polygon, each as one feature of every layer).
    layers : list of str
        Layer names in the layer control, in order (the first is shown on opening).
    simplify_method : str or None
        ``"coverage"`` (:func:`shapely.coverage_simplify`: neighbours keep shared
        edges), ``"topology"`` (``simplify(preserve_topology=True)`` per polygon) or
        ``None`` (no simplification).
    tolerance : float or None
        Simplification tolerance in metres (in ``metric_crs``).
    metric_crs : str
        The projected CRS the tolerance applies in.
    vertices_in, vertices_out : int
        Vertices before simplification and after simplification and rounding.
    coordinate_decimals : int
        Decimals of the EPSG:4326 coordinates kept (5: about 1 m).
    geometry_bytes, values_bytes : int
        Size of the embedded geometry and of all layers' values (JSON).
    html_bytes : int or None
        Size of the written file (when ``path`` was given).
    self_contained : bool
    renderer : str
        ``"svg"`` or ``"canvas"``.
    lisa : pandas.DataFrame or None
        The :func:`lisa_table` behind the LISA layer.
    build_seconds : float
    """

    n_units: int
    layers: list[str]
    simplify_method: str | None
    tolerance: float | None
    metric_crs: str
    vertices_in: int
    vertices_out: int
    coordinate_decimals: int
    geometry_bytes: int
    values_bytes: int
    self_contained: bool
    renderer: str
    lisa: pd.DataFrame | None = None
    html_bytes: int | None = None
    build_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- validation
def _ids(index: pd.Index, *, name: str) -> pd.Index:
    return pd.Index(val.normalise_ids(index, name=name).to_numpy(), dtype=object, name="unit")


def _check_polygons(polygons: Any) -> tuple[gpd.GeoDataFrame, pd.Index]:
    if not isinstance(polygons, gpd.GeoDataFrame):
        raise InputError(f"polygons must be a GeoDataFrame, {type(polygons).__name__} was given")
    try:
        geom = polygons.geometry
    except AttributeError:
        raise InputError(
            "polygons has no active geometry column; set one with set_geometry()"
        ) from None
    if polygons.crs is None:
        raise InputError(
            "polygons have no CRS; set one with set_crs() (e.g. EPSG:25833 for Norwegian "
            "UTM 33 metres, EPSG:4326 for longitude/latitude)"
        )
    ids = _ids(polygons.index, name="polygons index")
    val.require_unique(ids, None, table="polygons")
    arr = np.asarray(geom.values, dtype=object)
    empty = ids[pd.isna(arr) | shapely.is_empty(arr)]
    if len(empty):
        raise InputError(
            f"{len(empty)} polygon(s) have no geometry (missing or empty): "
            f"{format_ids(empty)}; drop them from both polygons and values"
        )
    kinds = shapely.get_type_id(arr)
    bad = ids[~np.isin(kinds, [3, 6, 7])]  # Polygon, MultiPolygon, GeometryCollection
    if len(bad):
        raise InputError(
            f"{len(bad)} unit(s) have non-polygon geometries (points or lines): "
            f"{format_ids(bad)}; a map needs areas"
        )
    return polygons, ids


def _numeric(df: pd.DataFrame, cols: Sequence[str], *, table: str) -> None:
    bad = [
        c
        for c in cols
        if not (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]))
    ]
    if bad:
        raise InputError(
            f"{table} column(s) {bad} are not numeric "
            f"(dtypes {[str(df[c].dtype) for c in bad]}); convert them with pd.to_numeric"
        )


def _check_values(values: Any, ids: pd.Index, column: str, extra: Sequence[str]) -> pd.DataFrame:
    if not isinstance(values, pd.DataFrame):
        raise InputError(
            f"attractiveness must be a DataFrame indexed by unit, {type(values).__name__} was given"
        )
    if isinstance(values.index, pd.MultiIndex):
        raise InputError(
            "attractiveness must be indexed by unit only (one row per unit, e.g. "
            "geoattr.cumulate() output); pass per-year rows as yearly="
        )
    if column not in values.columns:
        raise InputError(f"attractiveness has no column {column!r}; it has {list(values.columns)}")
    missing_extra = [c for c in extra if c not in values.columns]
    if missing_extra:
        raise InputError(
            f"tooltip column(s) {missing_extra} are not in attractiveness; "
            f"it has {list(values.columns)}"
        )
    used = [
        c
        for c in dict.fromkeys(
            ["actual", "expected", column, "residual", "residual_persons", "rank", *extra]
        )
        if c in values.columns
    ]
    _numeric(values, used, table="attractiveness")
    vid = _ids(values.index, name="attractiveness index")
    val.require_unique(vid, None, table="attractiveness")
    val.require_same_ids(
        vid,
        ids,
        a_name="attractiveness",
        b_name="polygons",
        hint="pass values for exactly the polygons' units (subset one or the other)",
    )
    out = values[used].copy()
    out.index = vid
    return out.reindex(ids)


def _unit_year(index: pd.MultiIndex, *, what: str) -> pd.MultiIndex:
    """Normalise a (unit, year) index: string unit ids, integer years, no duplicates."""
    unit = _ids(index.get_level_values(0), name=f"{what} index")
    year_raw = index.get_level_values(1)
    if not pd.api.types.is_integer_dtype(year_raw):
        try:
            year_num = pd.to_numeric(pd.Series(year_raw), errors="raise")
        except (ValueError, TypeError):
            raise InputError(
                f"{what} years (second index level) must be integers, got "
                f"{format_ids(pd.unique(year_raw)[:10])}"
            ) from None
        if year_num.isna().any() or not np.all(np.mod(year_num, 1) == 0):
            raise InputError(f"{what} years (second index level) must be whole numbers")
        year_raw = year_num.astype(int).to_numpy()
    idx = pd.MultiIndex.from_arrays([unit, np.asarray(year_raw, dtype=int)], names=["unit", "year"])
    val.require_unique(idx, None, table=what)
    return idx


def _per_unit(s: Any, ids: pd.Index, *, what: str) -> tuple[pd.Series, pd.MultiIndex | None]:
    """Align a per-unit numeric series to ``ids``; a (unit, year) index is summed over years.

    Returns the per-unit series and, for a (unit, year) input, its (unit, year) pairs.
    """
    if isinstance(s, pd.DataFrame):
        if s.shape[1] != 1:
            raise InputError(
                f"{what} must be a Series (or a one-column DataFrame); "
                f"it has columns {list(s.columns)}"
            )
        s = s.iloc[:, 0]
    if not isinstance(s, pd.Series):
        raise InputError(
            f"{what} must be a pandas Series indexed by unit or (unit, year), "
            f"{type(s).__name__} was given"
        )
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise InputError(f"{what} is not numeric (dtype {s.dtype}); convert it with pd.to_numeric")
    pairs = None
    if isinstance(s.index, pd.MultiIndex):
        pairs = _unit_year(s.index, what=what)
        long = pd.Series(s.to_numpy(dtype=float), index=pairs)
        s = long.groupby(level="unit").sum(min_count=1)
        pairs = long.index[long.notna().to_numpy()]
    else:
        unit = _ids(s.index, name=f"{what} index")
        val.require_unique(unit, None, table=what)
        s = pd.Series(s.to_numpy(dtype=float), index=unit)
    extra = s.index.difference(ids)
    if len(extra):
        raise InputError(f"{what} has {len(extra)} unit(s) without a polygon: {format_ids(extra)}")
    return s.reindex(ids), pairs


def _check_yearly(
    yearly: Any, ids: pd.Index
) -> tuple[list[int], dict[str, np.ndarray], pd.DataFrame]:
    """Validate the per-year frame; return years, {column: (year, unit) array}, long frame."""
    if not isinstance(yearly, pd.DataFrame):
        raise InputError(
            f"yearly must be a DataFrame indexed by (unit, year), {type(yearly).__name__} was given"
        )
    if not isinstance(yearly.index, pd.MultiIndex) or yearly.index.nlevels != 2:
        raise InputError(
            "yearly must be indexed by (unit, year), e.g. geoattr.attractiveness() "
            f"output; its index is {type(yearly.index).__name__} {list(yearly.index.names)}"
        )
    if "residual" not in yearly.columns:
        raise InputError(f"yearly has no column 'residual'; it has {list(yearly.columns)}")
    cols = [
        c for c in ["residual", "actual", "expected", "residual_persons"] if c in yearly.columns
    ]
    _numeric(yearly, cols, table="yearly")
    idx = _unit_year(yearly.index, what="yearly")
    extra = pd.Index(idx.get_level_values("unit").unique()).difference(ids)
    if len(extra):
        raise InputError(f"yearly has {len(extra)} unit(s) without a polygon: {format_ids(extra)}")
    years = sorted(int(y) for y in idx.get_level_values("year").unique())
    long = pd.DataFrame({c: yearly[c].to_numpy(dtype=float) for c in cols}, index=idx)
    out = {}
    for c in cols:
        wide = long[c].unstack("year")
        out[c] = wide.reindex(index=ids, columns=years).to_numpy().T  # (year, unit)
    return years, out, long


def _check_options(
    *,
    simplify: Any,
    fdr: Any,
    alpha: float,
    permutations: int,
    tiles: Any,
    self_contained: bool,
    profile_links: Any,
    renderer: str,
    max_geometry_bytes: Any,
) -> None:
    if isinstance(simplify, str):
        if simplify != "auto":
            raise InputError(
                f"simplify must be 'auto', a tolerance in metres or None, got {simplify!r}"
            )
    elif simplify is not None and (
        not isinstance(simplify, (int, float)) or simplify < 0 or not math.isfinite(simplify)
    ):
        raise InputError(
            f"simplify must be 'auto', a non-negative tolerance in metres or None, got {simplify!r}"
        )
    if fdr is not None and not 0 < fdr < 1:
        raise InputError(
            f"fdr must be a false-discovery rate between 0 and 1 (e.g. 0.05) or None, got {fdr}"
        )
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    if int(permutations) != permutations or permutations < 99:
        raise InputError(
            f"permutations must be a whole number of at least 99 (LISA pseudo p-values "
            f"need them), got {permutations}"
        )
    if self_contained and tiles is not None:
        raise InputError(
            f"tiles={tiles!r} need a network connection; a self-contained map has no "
            "background tiles: pass tiles=None with self_contained=True"
        )
    if profile_links is not None and "{unit}" not in str(profile_links):
        raise InputError(
            f"profile_links must contain '{{unit}}' (replaced by the unit id), "
            f"got {profile_links!r}"
        )
    if renderer not in ("auto", "svg", "canvas"):
        raise InputError(f"renderer must be 'auto', 'svg' or 'canvas', got {renderer!r}")
    if max_geometry_bytes is not None and max_geometry_bytes < 10_000:
        raise InputError(
            f"max_geometry_bytes must be at least 10000 (or None), got {max_geometry_bytes}"
        )


# --------------------------------------------------------------------------- LISA
def _bh_threshold(p: np.ndarray, q: float) -> float:
    """Benjamini-Hochberg threshold exactly as :func:`esda.fdr` computes it."""
    n = len(p)
    p_sort = np.sort(p)[::-1]
    p_fdr = np.arange(n, 0, -1) * q / n
    hits = np.where(p_sort < p_fdr)[0]
    return float(q / n) if len(hits) == 0 else float(p_fdr[hits[0]])


def _fdr_threshold(p: np.ndarray, q: float) -> float:
    try:
        from esda import fdr as esda_fdr
    except ImportError:  # pragma: no cover - esda is a dependency; older versions lack fdr
        return _bh_threshold(p, q)
    return float(esda_fdr(p, q))


def _align_graph(graph: Any, ids: pd.Index) -> Any:
    """``graph`` restricted to and ordered like ``ids`` (string ids; linear time)."""
    from libpysal.graph import Graph

    raw = pd.Index(graph.unique_ids)
    norm = pd.Index(val.normalise_ids(raw, name="weights ids").to_numpy(), dtype=object)
    adj = graph.adjacency
    if not norm.equals(raw):
        lookup = pd.Series(norm.to_numpy(), index=raw)
        adj = pd.Series(
            adj.to_numpy(),
            index=pd.MultiIndex.from_arrays(
                [
                    lookup.reindex(adj.index.get_level_values(0)).to_numpy(),
                    lookup.reindex(adj.index.get_level_values(1)).to_numpy(),
                ],
                names=["focal", "neighbor"],
            ),
            name=adj.name,
        )
    missing = ids.difference(norm)
    if len(missing):
        raise InputError(
            f"{len(missing)} unit(s) are not in the LISA weights: {format_ids(missing)}; "
            "rebuild the weights for the map's units"
        )
    if norm.equals(ids) and adj is graph.adjacency:
        return graph
    focal = adj.index.get_level_values(0)
    neigh = adj.index.get_level_values(1)
    pos = pd.Series(np.arange(len(ids)), index=ids)
    fp = pos.reindex(focal).to_numpy()
    npos = pos.reindex(neigh).to_numpy()
    inside = ~np.isnan(fp) & ~np.isnan(npos)
    adj = adj[inside]
    order = np.lexsort((npos[inside], fp[inside]))
    adj = adj.iloc[order]
    # units whose links all left the subset become isolates (a zero self-weight in a Graph)
    present = pd.Index(adj.index.get_level_values(0)).unique()
    lost = ids.difference(present)
    if len(lost):
        extra = pd.Series(
            0.0,
            index=pd.MultiIndex.from_arrays([lost, lost], names=["focal", "neighbor"]),
            name=adj.name,
        )
        adj = pd.concat([adj, extra])
        f = pos.reindex(adj.index.get_level_values(0)).to_numpy()
        nb = pos.reindex(adj.index.get_level_values(1)).to_numpy()
        adj = adj.iloc[np.lexsort((nb, f))]
    return Graph(adj, transformation=graph.transformation, is_sorted=True)


def lisa_table(
    values: pd.Series,
    graph: Any,
    *,
    permutations: int = 999,
    fdr: float | None = None,
    alpha: float = 0.05,
    seed: int | None = 12345,
) -> pd.DataFrame:
    """Local Moran's I of ``values`` with pseudo p-values and cluster labels.

    Parameters
    ----------
    values : pandas.Series
        Numeric, indexed by unit id, no missing values (e.g. the cumulative residual).
    graph : libpysal.graph.Graph or libpysal.weights.W
        Spatial weights over (at least) the units of ``values``; row-standardised here.
        Units without neighbours get the cluster ``"no neighbours"`` and no p-value.
    permutations : int, default 999
        Conditional permutations for the pseudo p-values (at least 99).
    fdr : float, optional
        False-discovery rate (e.g. 0.05): significance then uses the Benjamini-Hochberg
        threshold of :func:`esda.fdr` over the units with neighbours instead of ``alpha``.
    alpha : float, default 0.05
        Significance level when ``fdr`` is None.
    seed : int, optional
        Seed of the permutations (reproducible p-values).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit: ``value``, ``Is`` (local Moran's I), ``p_sim`` (esda's
        conditional-permutation pseudo p-value: the share of the ``permutations + 1``
        statistics, the observed one included, at least as extreme as the observed one in
        its own tail; a one-sided, "folded" test), ``n_neighbours``, ``quadrant`` (HH, LH,
        LL or HL by the sign of the standardised value and of its spatial lag),
        ``significant`` (``p_sim <= threshold``) and ``cluster`` (the quadrant when
        significant, else ``"not significant"``, or ``"no neighbours"``).  ``attrs``
        holds ``threshold``, ``alpha``, ``fdr`` and ``permutations``.

    Raises
    ------
    InputError
        Non-numeric or missing values, units missing from the weights, bad options.
    """
    import esda
    from libpysal.graph import Graph

    if not isinstance(values, pd.Series):
        raise InputError(
            f"values must be a pandas Series indexed by unit, {type(values).__name__} was given"
        )
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise InputError(
            f"values are not numeric (dtype {values.dtype}); convert them with pd.to_numeric"
        )
    _check_options(
        simplify=None,
        fdr=fdr,
        alpha=alpha,
        permutations=permutations,
        tiles=None,
        self_contained=False,
        profile_links=None,
        renderer="auto",
        max_geometry_bytes=None,
    )
    ids = _ids(values.index, name="values index")
    val.require_unique(ids, None, table="values")
    y = values.to_numpy(dtype=float)
    nan = ids[~np.isfinite(y)]
    if len(nan):
        raise InputError(
            f"{len(nan)} unit(s) have no value for the LISA: {format_ids(nan)}; "
            "fill them or drop them from values"
        )
    if not isinstance(graph, Graph):
        try:
            from libpysal.weights import W
        except ImportError:  # pragma: no cover
            W = ()
        if isinstance(graph, W):
            graph = Graph.from_W(graph)
        else:
            raise InputError(
                f"graph must be a libpysal Graph or W, {type(graph).__name__} was given"
            )
    if len(ids) < 3:
        raise InputError(f"a LISA needs at least 3 units, got {len(ids)}")
    g = _align_graph(graph, ids)  # raises naming units missing from the weights
    card = g.cardinalities.reindex(ids).fillna(0).to_numpy()
    iso = card == 0
    if iso.all():
        raise InputError("no unit has a neighbour in the weights; a LISA needs some links")
    g = g.transform("r")
    rng_state = np.random.get_state()  # esda seeds numpy's global generator: restore it after
    with warnings.catch_warnings():
        # esda announces a future change of the default alternative; isolates have zero
        # variance in their permutation distribution (handled below)
        warnings.filterwarnings("ignore", message=".*alternative.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*alternative.*", category=FutureWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        try:
            ml = esda.Moran_Local(
                y, g, transformation="r", permutations=int(permutations), seed=seed, n_jobs=1
            )
        finally:
            np.random.set_state(rng_state)
    p = np.asarray(ml.p_sim, dtype=float).copy()
    p[iso] = np.nan
    threshold = _fdr_threshold(p[~iso], fdr) if fdr is not None else float(alpha)
    sig = ~iso & (p <= threshold)
    quad = pd.Series(np.asarray(ml.q)).map(_QUADRANT).to_numpy(dtype=object)
    quad[iso] = None
    cluster = np.where(sig, quad, "not significant").astype(object)
    cluster[iso] = "no neighbours"
    Is = np.asarray(ml.Is, dtype=float).copy()
    Is[iso] = np.nan
    out = pd.DataFrame(
        {
            "value": y,
            "Is": Is,
            "p_sim": p,
            "n_neighbours": card.astype(int),
            "quadrant": quad,
            "significant": sig,
            "cluster": cluster,
        },
        index=pd.Index(ids, name="unit"),
    )
    out.attrs.update(
        {
            "threshold": threshold,
            "alpha": alpha,
            "fdr": fdr,
            "permutations": int(permutations),
            "seed": seed,
        }
    )
    return out


# --------------------------------------------------------------------------- geometry
def _polygonal(g: Any) -> Any:
    """Keep the polygonal part of a geometry (``make_valid`` may return lines too)."""
    if shapely.get_type_id(g) in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _metric_crs(gs: gpd.GeoSeries) -> Any:
    crs = gs.crs
    if crs.is_projected:
        unit = (crs.axis_info[0].unit_name or "").lower() if crs.axis_info else ""
        if unit in ("metre", "meter", "m"):
            return crs
    return gs.estimate_utm_crs()


def _encode(geoms: np.ndarray) -> tuple[list, int]:
    """Delta-encoded integer rings (1e-5 degrees) per unit; closing points dropped.

    Rings that collapse (fewer than 3 distinct points after rounding) are dropped, with
    their polygon when it is the exterior; a unit left with nothing is drawn as a
    minimal triangle at its representative point so that every unit stays visible.
    """
    n = len(geoms)
    parts, part_unit = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_first = np.r_[True, ring_part[1:] != ring_part[:-1]] if len(rings) else np.zeros(0, bool)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords * _SCALE).astype(np.int64)
    counts = np.bincount(coord_ring, minlength=len(rings))
    keep = np.ones(len(q), bool)
    if len(q):
        keep[np.cumsum(counts)[counts > 0] - 1] = False  # closing point
        same = np.r_[False, coord_ring[1:] == coord_ring[:-1]]
        keep &= ~(same & np.r_[False, np.all(q[1:] == q[:-1], axis=1)])
    q, r = q[keep], coord_ring[keep]
    start = np.r_[True, r[1:] != r[:-1]] if len(r) else np.zeros(0, bool)
    d = q.copy()
    if len(d):
        d[1:] -= q[:-1]
        d[start] = q[start]
    bounds = np.r_[np.flatnonzero(start), len(r)]
    by_ring: dict[int, list[int]] = {}
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if b - a >= 3:
            by_ring[int(r[a])] = d[a:b].ravel().tolist()
    out: list[list] = [[] for _ in range(n)]
    current: list | None = None
    for ri in range(len(rings)):
        ring = by_ring.get(ri)
        if ring_first[ri]:
            current = None
            if ring is not None:
                current = [ring]
                out[part_unit[ring_part[ri]]].append(current)
        elif current is not None and ring is not None:
            current.append(ring)
    vertices = sum(len(x) for x in by_ring.values()) // 2
    for i in range(n):
        if not out[i]:
            pt = shapely.point_on_surface(geoms[i]) if not shapely.is_empty(geoms[i]) else None
            x, y = (0, 0) if pt is None else (round(pt.x * _SCALE), round(pt.y * _SCALE))
            out[i] = [[[int(x), int(y), 1, 0, -1, 1]]]
            vertices += 3
    return out, vertices


def simplify_polygons(
    polygons: gpd.GeoDataFrame,
    tolerance: float | Literal["auto"] | None = "auto",
) -> tuple[gpd.GeoSeries, dict[str, Any]]:
    """Simplify unit polygons for a web map, keeping shared edges where possible.

    Invalid geometries are repaired with :func:`shapely.make_valid` (their polygonal
    part kept).  The tolerance applies in metres in a projected CRS: the polygons' own
    when it is metric, else the UTM zone of their centre.
    :func:`shapely.coverage_simplify` (GEOS >= 3.12) simplifies the shared edges of
    neighbouring polygons once, so no gaps or overlaps appear between neighbours; when
    it is unavailable or fails, each polygon is simplified on its own with
    ``preserve_topology=True``.  A polygon that would vanish keeps its original shape.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        With a CRS.
    tolerance : float, "auto" or None, default "auto"
        Metres.  ``"auto"`` uses ``sqrt(total area / number of units) / 300``: about a
        third of a pixel when a typical unit spans 300 pixels on screen (100 m for the 356
        Norwegian municipalities of 2020, about 30 km across on average).  ``None`` or 0
        keeps the geometry as it is.

    Returns
    -------
    (geopandas.GeoSeries, dict)
        The simplified geometry in the metric CRS, indexed like ``polygons``, and
        ``{"method", "tolerance", "metric_crs", "vertices_in", "vertices_out"}``.
    """
    if polygons.crs is None:
        raise InputError("polygons have no CRS; set one with set_crs()")
    arr = np.asarray(polygons.geometry.values, dtype=object)
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        fixed = shapely.make_valid(arr[invalid])
        arr = arr.copy()
        arr[invalid] = [_polygonal(g) for g in fixed]
    gs = gpd.GeoSeries(arr, index=polygons.index, crs=polygons.crs)
    metric = _metric_crs(gs)
    gm = gs.to_crs(metric)
    marr = np.asarray(gm.values, dtype=object)
    info: dict[str, Any] = {
        "metric_crs": metric.to_string(),
        "vertices_in": int(shapely.get_num_coordinates(marr).sum()),
    }
    if tolerance == "auto":
        area = float(shapely.area(marr).sum())
        tolerance = math.sqrt(area / max(len(marr), 1)) / 300.0
    if not tolerance:
        info.update(method=None, tolerance=None, vertices_out=info["vertices_in"])
        return gm, info
    method = "topology"
    out = None
    if hasattr(shapely, "coverage_simplify"):
        try:
            out = np.asarray(shapely.coverage_simplify(marr, float(tolerance)), dtype=object)
            method = "coverage"
        except Exception as exc:  # GEOS errors on coverages it cannot handle
            log.info("coverage_simplify failed (%s); simplifying each polygon on its own", exc)
            out = None
    if out is None:
        out = np.asarray(
            shapely.simplify(marr, float(tolerance), preserve_topology=True), dtype=object
        )
    gone = shapely.is_empty(out) | (shapely.area(out) <= 0)
    if gone.any():
        out[gone] = marr[gone]
    info.update(
        method=method,
        tolerance=float(tolerance),
        vertices_out=int(shapely.get_num_coordinates(out).sum()),
    )
    return gpd.GeoSeries(out, index=polygons.index, crs=metric), info


def _geometry_payload(
    polygons: gpd.GeoDataFrame, simplify: float | str | None, max_bytes: int | None
) -> tuple[list, dict[str, Any], list[list[float]]]:
    """Simplify, project to EPSG:4326 and encode.

    With ``"auto"``, double the tolerance until the encoding fits ``max_bytes`` or stops
    shrinking (then the smallest tolerance of the plateau is kept and a note says the
    budget was not reached).
    """
    tol: float | str | None = simplify
    best = None
    for _ in range(16):
        gm, info = simplify_polygons(polygons, tol)
        g4326 = np.asarray(gm.to_crs(4326).values, dtype=object)
        enc, vertices = _encode(g4326)
        nbytes = len(json.dumps(enc, separators=(",", ":")))
        info.update(vertices_out=vertices, geometry_bytes=nbytes, notes=[])
        current = (enc, info, g4326)
        if simplify != "auto" or max_bytes is None or nbytes <= max_bytes:
            best = current
            break
        if best is not None and nbytes > 0.97 * best[1]["geometry_bytes"]:
            break  # doubling no longer helps: shared nodes and ring minima remain
        best = current
        tol = 2.0 * (info["tolerance"] or 1.0)
        log.info(
            "geometry is %d bytes > %d: doubling the tolerance to %.0f m", nbytes, max_bytes, tol
        )
    enc, info, g4326 = best
    if simplify == "auto" and max_bytes is not None and info["geometry_bytes"] > max_bytes:
        info["notes"].append(
            f"geometry is {info['geometry_bytes']} bytes, above max_geometry_bytes="
            f"{max_bytes}: simplification cannot shrink it further"
        )
    minx, miny, maxx, maxy = shapely.total_bounds(g4326)
    return enc, info, [[float(miny), float(minx)], [float(maxy), float(maxx)]]


# --------------------------------------------------------------------------- values
def _floats(a: Any, decimals: int = 3) -> list:
    x = np.round(np.asarray(a, dtype=float), decimals)
    return [None if not math.isfinite(v) else v for v in x.tolist()]


def _stops(cmap: str, n: int = 11) -> list[str]:
    import matplotlib
    from matplotlib.colors import to_hex

    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise InputError(
            f"unknown colormap {cmap!r}; use a matplotlib name such as 'RdBu' or 'PuOr'"
        ) from None
    return [to_hex(cm(t)) for t in np.linspace(0, 1, n)]


def _vmax(*arrays: np.ndarray) -> float:
    m = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=float)
        if np.isfinite(a).any():
            m = max(m, float(np.nanmax(np.abs(a))))
    return m or 1.0


def _decimals(vmax: float) -> int:
    return 2 if vmax < 10 else 1 if vmax < 100 else 0


# --------------------------------------------------------------------------- main
def residual_map(
    polygons: gpd.GeoDataFrame,
    attractiveness: pd.DataFrame,
    *,
    column: str = "residual",
    residuals: Mapping[str, pd.Series] | None = None,
    yearly: pd.DataFrame | None = None,
    lisa: bool = True,
    lisa_weights: Any = None,
    fdr: float | None = None,
    alpha: float = 0.05,
    permutations: int = 999,
    seed: int | None = 12345,
    simplify: float | Literal["auto"] | None = "auto",
    max_geometry_bytes: int | None = 2_000_000,
    tiles: str | None = None,
    self_contained: bool = False,
    profile_links: str | None = "profiles/{unit}.html",
    names: pd.Series | Mapping[str, str] | None = None,
    layer_name: str = "Attractiveness (cumulative residual)",
    tooltip: Sequence[str] | None = None,
    cmap: str = "RdBu",
    vmax: float | None = None,
    units: str = "pp",
    renderer: Literal["auto", "svg", "canvas"] = "auto",
    title: str | None = None,
    path: str | Path | None = None,
) -> Any:
    """Web map of attractiveness, compared models' residuals, per-year residuals and LISA clusters.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        Unit polygons indexed by unit id, with a CRS; a ``name`` column is used in the
        tooltips.  Invalid geometries are repaired; inputs are never modified.
    attractiveness : pandas.DataFrame
        One row per polygon unit (e.g. :func:`geoattr.cumulate` output joined with the
        summed ``actual`` and ``expected``): ``residual`` (or ``column``), optionally
        ``actual``, ``expected``, ``residual_persons`` and ``rank`` (else ranks are by
        ``column``, 1 = most attractive).
    column : str, default "residual"
        Column colouring the first layer.
    residuals : mapping of str to pandas.Series, optional
        Specification name -> residuals, one layer each ("Residual: <name>").  A
        (unit, year) index (e.g. ``Comparison.results[name].resids``) is summed over
        years per unit, over the years that specification has (its legend names the
        period); a unit index is used as is.  Units may be missing (drawn grey, "no
        value"), but not unknown.  The tooltips' observed value is ``actual`` summed over
        the same (unit, year) rows when ``yearly`` has ``actual`` (else the
        ``attractiveness`` column ``actual``), and expected is observed minus the
        specification's residual.
    yearly : pandas.DataFrame, optional
        Indexed by (unit, year) with ``residual`` and optionally ``actual``,
        ``expected``, ``residual_persons`` (e.g. :func:`geoattr.attractiveness` output):
        a layer with a year slider (its own colour scale, symmetric over all years).
    lisa : bool, default True
        Add a layer of the LISA clusters of ``column`` (:func:`lisa_table`).
    lisa_weights : libpysal Graph or W, optional
        Weights for the LISA; default queen contiguity of the (repaired, unsimplified)
        polygons.
    fdr : float, optional
        False-discovery rate for the LISA significance (Benjamini-Hochberg via
        :func:`esda.fdr`); default: ``p_sim <= alpha`` unit by unit.
    alpha : float, default 0.05
    permutations : int, default 999
    seed : int, optional, default 12345
        LISA permutation seed (reproducible maps).
    simplify : float, "auto" or None, default "auto"
        Tolerance in metres (see :func:`simplify_polygons`).  With ``"auto"`` the
        tolerance is doubled until the embedded geometry is at most
        ``max_geometry_bytes``.
    max_geometry_bytes : int or None, default 2_000_000
        Size budget of the embedded geometry for ``simplify="auto"``.
    tiles : str, optional
        Background tiles (e.g. ``"OpenStreetMap"``, ``"CartoDB positron"``); they need a
        network connection.  Default none.
    self_contained : bool, default False
        Inline Leaflet's JavaScript, CSS and icons (about 160 kB) so that the file works
        offline and fetches nothing; requires ``tiles=None``.  Otherwise folium's CDN
        links are used.
    profile_links : str or None, default "profiles/{unit}.html"
        Link target of each unit's popup (``{unit}`` is replaced by the id, relative to
        the HTML file); ``None`` for no popups.
    names : Series or mapping, optional
        Unit -> display name; default the polygons' ``name`` column, else the ids.
    layer_name : str
        Name of the first layer.
    tooltip : sequence of str, optional
        Extra ``attractiveness`` columns shown in the first layer's tooltips.
    cmap : str, default "RdBu"
        Diverging matplotlib colormap (``RdBu``: red below expected, blue above).
    vmax : float, optional
        Half-range of the colour scale ``[-vmax, vmax]``; default the largest absolute
        value over the first layer and the ``residuals`` layers (one shared scale, so the
        same colour means the same residual everywhere).
    units : str, default "pp"
        Unit label of the values (percentage points of the population).
    renderer : {"auto", "svg", "canvas"}
        Leaflet renderer; ``"auto"``: SVG up to 3,000 units, canvas above (faster).
    title : str, optional
        HTML page title.
    path : str or Path, optional
        Write the HTML there.

    Returns
    -------
    folium.Map
        With ``geoattr_info`` (:class:`MapInfo`): layers, simplification tolerance,
        sizes, and the LISA table.

    Raises
    ------
    InputError
        Units of ``attractiveness`` without polygons or polygons without values (naming
        them), non-numeric columns, missing geometry or CRS, unknown units in
        ``residuals``/``yearly``/``lisa_weights``, bad options.

    Notes
    -----
    Layers are base layers (radio buttons): one is visible at a time, and its legend
    (and, for the per-year layer, the year slider) is shown exactly while it is.
    LISA significance uses esda's ``p_sim`` (see :func:`lisa_table`).
    """
    import folium

    t0 = time.perf_counter()
    _check_options(
        simplify=simplify,
        fdr=fdr,
        alpha=alpha,
        permutations=permutations,
        tiles=tiles,
        self_contained=self_contained,
        profile_links=profile_links,
        renderer=renderer,
        max_geometry_bytes=max_geometry_bytes,
    )
    if vmax is not None and not (vmax > 0 and math.isfinite(vmax)):
        raise InputError(f"vmax must be a positive number or None, got {vmax}")
    stops = _stops(cmap)
    polygons, ids = _check_polygons(polygons)
    extra_cols = [c for c in (tooltip or []) if c not in ("unit", "name")]
    vals = _check_values(attractiveness, ids, column, extra_cols)
    n = len(ids)

    if names is None:
        nm = (
            pd.Series(polygons["name"].to_numpy(), index=ids)
            if "name" in polygons.columns
            else pd.Series(ids, index=ids)
        )
    else:
        nm = pd.Series(names) if isinstance(names, Mapping) else names
        if not isinstance(nm, pd.Series):
            raise InputError(
                f"names must be a Series or mapping unit -> name, {type(names).__name__} was given"
            )
        nm = pd.Series(nm.to_numpy(), index=_ids(nm.index, name="names index"))
        nm = nm[~nm.index.duplicated()]
        nm = nm.reindex(ids)
    name_list = [str(u) if pd.isna(v) else str(v) for u, v in zip(ids, nm.reindex(ids).to_numpy())]

    spec_series: dict[str, pd.Series] = {}
    spec_pairs: dict[str, pd.MultiIndex | None] = {}
    for spec, s in (residuals or {}).items():
        spec_series[str(spec)], spec_pairs[str(spec)] = _per_unit(
            s, ids, what=f"residuals[{spec!r}]"
        )
    years: list[int] = []
    ydata: dict[str, np.ndarray] = {}
    ylong: pd.DataFrame | None = None
    if yearly is not None:
        years, ydata, ylong = _check_yearly(yearly, ids)

    layer_names = [layer_name] + [f"Residual: {s}" for s in spec_series]
    if yearly is not None:
        layer_names.append(f"{layer_name.split(' (')[0]} by year")
    if lisa:
        layer_names.append(f"LISA clusters: {column}")
    dup = [x for x in dict.fromkeys(layer_names) if layer_names.count(x) > 1]
    if dup:
        raise InputError(
            f"layer names must be unique; {dup} occur more than once (rename the "
            "residuals' specifications or layer_name)"
        )

    lisa_df = None
    if lisa:
        if lisa_weights is None:
            from libpysal.graph import Graph

            arr = np.asarray(polygons.geometry.values, dtype=object)
            invalid = ~shapely.is_valid(arr)
            if invalid.any():
                arr = arr.copy()
                arr[invalid] = [_polygonal(g) for g in shapely.make_valid(arr[invalid])]
            lisa_weights = Graph.build_contiguity(
                gpd.GeoSeries(arr, index=ids, crs=polygons.crs), rook=False
            )
        lisa_df = lisa_table(
            vals[column].rename(column),
            lisa_weights,
            permutations=permutations,
            fdr=fdr,
            alpha=alpha,
            seed=seed,
        )

    enc, ginfo, bounds = _geometry_payload(polygons, simplify, max_geometry_bytes)
    rend = renderer if renderer != "auto" else ("canvas" if n > 3000 else "svg")
    note = "blue: above expected, red: below" if cmap == "RdBu" else None

    Raw, Library, Data, GeoattrLayer = _elements()
    fmap = folium.Map(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom_start=5,
        tiles=None,
        prefer_canvas=rend == "canvas",
        control_scale=True,
    )
    if self_contained:
        fmap.default_js = []
        fmap.default_css = []
    if title:
        fmap.get_root().title = html.escape(title)
    fmap.add_child(Library(inline_leaflet=self_contained))
    observed = vals["actual"].to_numpy(dtype=float) if "actual" in vals.columns else None
    shared = {} if observed is None else {"observed": _floats(observed)}
    data_js = _json(
        {
            "ids": [str(i) for i in ids],
            "names": name_list,
            "scale": _SCALE,
            "geom": enc,
            "shared": shared,
        }
    )
    data = Data(data_js)
    fmap.add_child(data)
    if tiles is not None:
        folium.TileLayer(tiles, name="Background map", overlay=True, control=True).add_to(fmap)

    key_of = {
        "actual": "observed",
        "expected": "expected",
        "residual": "residual",
        "residual_persons": "persons",
    }

    def key(c: str) -> str:
        return key_of.get(c, f"x:{c}")

    main_key = key(column)
    rows = [
        ("actual", f"Observed ({units})", 2),
        ("expected", f"Expected ({units})", 2),
        ("residual", f"Residual ({units})", 2),
        ("residual_persons", "Residual (persons)", 0),
    ]
    rows += [(c, c, 3) for c in [column, *extra_cols] if c not in key_of and c != "rank"]
    main_vals: dict[str, list] = {}
    fields: list[list[Any]] = []
    for c, label, d in rows:
        if c in vals.columns and key(c) not in main_vals:
            if c != "actual":  # observed is in the shared data
                main_vals[key(c)] = _floats(vals[c])
            fields.append([label, key(c), d])
    fields.append(["Rank", "rank", 0])
    rank = None
    if "rank" in vals.columns:
        rank = [
            None if not math.isfinite(v) else int(v) for v in vals["rank"].astype(float).tolist()
        ]

    main = vals[column].to_numpy(dtype=float)
    same_scale = [s.to_numpy() for s in spec_series.values()] if column == "residual" else []
    m = float(vmax) if vmax is not None else _vmax(main, *same_scale)
    payloads: list[tuple[str, dict[str, Any]]] = []
    base = {
        "kind": "continuous",
        "stops": stops,
        "nan": _NAN_COLOUR,
        "vmax": m,
        "profile": profile_links,
    }
    payloads.append(
        (
            layer_names[0],
            {
                **base,
                "name": layer_names[0],
                "values": main_vals,
                "colourBy": main_key,
                "fields": fields,
                "rank": rank,
                "legend": {
                    "title": f"{layer_name} ({units})",
                    "decimals": _decimals(m),
                    "note": note,
                    "missing": bool(np.isnan(main).any()),
                },
            },
        )
    )
    for spec, s in spec_series.items():
        r = s.to_numpy(dtype=float)
        sv: dict[str, list] = {"residual": _floats(r)}
        sf: list[list[Any]] = []
        period = ""
        spec_obs = observed
        pairs = spec_pairs[spec]
        if pairs is not None:
            yrs = pairs.get_level_values("year")
            period = f", {yrs.min()}-{yrs.max()}" if len(yrs) else ""
            if ylong is not None and "actual" in ylong.columns:
                # observed over exactly this specification's (unit, year) rows
                o = ylong["actual"].reindex(pairs).groupby(level="unit").sum(min_count=1)
                o = o.reindex(ids).to_numpy(dtype=float)
                same = observed is not None and np.allclose(o, observed, atol=1e-9, equal_nan=True)
                if not same:
                    sv["observed"] = _floats(o)
                spec_obs = o
        if spec_obs is not None:  # expected = observed - residual, computed in the browser
            sf += [[f"Observed ({units})", "observed", 2], [f"Expected ({units})", "expected", 2]]
        sf += [[f"Residual ({units})", "residual", 2], ["Rank", "rank", 0]]
        lname = f"Residual: {spec}"
        payloads.append(
            (
                lname,
                {
                    **base,
                    "name": lname,
                    "values": sv,
                    "colourBy": "residual",
                    "fields": sf,
                    "derive": spec_obs is not None,
                    "legend": {
                        "title": f"Residual of {spec}{period} ({units})",
                        "decimals": _decimals(m),
                        "note": note,
                        "missing": bool(np.isnan(r).any()),
                    },
                },
            )
        )
    if yearly is not None:
        ym = _vmax(ydata["residual"])
        # expected = actual - residual is recomputed in the browser when that identity holds
        derive = (
            "actual" in ydata
            and "expected" in ydata
            and bool(
                np.allclose(
                    ydata["actual"] - ydata["residual"],
                    ydata["expected"],
                    atol=1e-9,
                    equal_nan=True,
                )
            )
        )
        yv = {
            key(c): [_floats(row) for row in a]
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
        lname = layer_names[len(spec_series) + 1]
        payloads.append(
            (
                lname,
                {
                    **base,
                    "name": lname,
                    "values": {},
                    "yearly": yv,
                    "years": years,
                    "vmax": ym,
                    "derive": derive,
                    "colourBy": "residual",
                    "fields": yf,
                    "legend": {
                        "title": f"Residual by year ({units})",
                        "decimals": _decimals(ym),
                        "note": note,
                        "missing": bool(np.isnan(ydata["residual"]).any()),
                    },
                },
            )
        )
    if lisa_df is not None:
        codes = {c[0]: k for k, c in enumerate(LISA_CLUSTERS)}
        cat = [codes[c] for c in lisa_df["cluster"]]
        counts = [int(sum(1 for x in cat if x == k)) for k in range(len(LISA_CLUSTERS))]
        thr = lisa_df.attrs["threshold"]
        rule = f"FDR {fdr:g} (p_sim <= {thr:.3g})" if fdr is not None else f"p_sim <= {alpha:g}"
        lname = layer_names[-1]
        payloads.append(
            (
                lname,
                {
                    "kind": "categorical",
                    "name": lname,
                    "profile": profile_links,
                    "categories": [[c[1], c[2]] for c in LISA_CLUSTERS],
                    "values": {
                        "category": cat,
                        "residual": _floats(lisa_df["value"]),
                        "Is": _floats(lisa_df["Is"]),
                        "p": _floats(lisa_df["p_sim"]),
                    },
                    "fields": [
                        [f"Residual ({units})", "residual", 2],
                        ["Cluster", "category", 0],
                        ["Local Moran's I", "Is", 3],
                        ["Pseudo p-value (p_sim)", "p", 3],
                    ],
                    "legend": {
                        "title": f"LISA clusters of the {column}, {rule}, "
                        f"{permutations} permutations",
                        "counts": counts,
                    },
                },
            )
        )
    values_bytes = len(_json(shared))
    for k, (lname, p) in enumerate(payloads):
        js = _json(p)
        values_bytes += len(js)
        fmap.add_child(GeoattrLayer(lname, data, js, show=k == 0))
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds(bounds)

    info = MapInfo(
        n_units=n,
        layers=[p[0] for p in payloads],
        simplify_method=ginfo["method"],
        tolerance=ginfo["tolerance"],
        metric_crs=ginfo["metric_crs"],
        vertices_in=ginfo["vertices_in"],
        vertices_out=ginfo["vertices_out"],
        coordinate_decimals=int(round(math.log10(_SCALE))),
        geometry_bytes=ginfo["geometry_bytes"],
        values_bytes=values_bytes,
        self_contained=self_contained,
        renderer=rend,
        lisa=lisa_df,
        notes=list(ginfo["notes"]),
    )
    if path is not None:
        fmap.save(str(path))
        info.html_bytes = Path(path).stat().st_size
    info.build_seconds = round(time.perf_counter() - t0, 4)
    log.info(
        "map of %d units: simplification %s, tolerance %s m, %d -> %d vertices, geometry %d bytes",
        n,
        info.simplify_method,
        None if info.tolerance is None else round(info.tolerance, 1),
        info.vertices_in,
        info.vertices_out,
        info.geometry_bytes,
    )
    fmap.geoattr_info = info
    return fmap


def attractiveness_map(
    polygons: gpd.GeoDataFrame,
    values: pd.DataFrame,
    *,
    column: str = "residual",
    tooltip: list[str] | None = None,
    cmap: str = "RdBu",
    layer_name: str = "Attractiveness",
    simplify: float | Literal["auto"] | None = 200.0,
    tiles: str | None = "OpenStreetMap",
    path: str | Path | None = None,
    **kwargs: Any,
) -> Any:
    """Choropleth of ``values[column]`` on the polygons, diverging colours centred on zero.

    The single-layer interface of earlier versions; it calls :func:`residual_map`
    without the LISA layer or profile links (pass them, or any other
    :func:`residual_map` option, as keywords).

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        Indexed by unit id, with a ``name`` column (used in the tooltip) and a CRS.
    values : pandas.DataFrame
        Indexed by unit id (e.g. :func:`geoattr.cumulate` output joined with
        ``actual``/``expected``), exactly the polygons' units.
    column : str, default "residual"
        Column to colour by; the scale runs from ``-m`` to ``m``, ``m = max |value|``.
    tooltip : list of str, optional
        Extra columns of ``values`` in the tooltip (name, observed, expected, residual
        and rank are always shown).
    cmap : str, default "RdBu"
        A diverging matplotlib colormap (red = negative, blue = positive).
    layer_name : str
    simplify : float, "auto" or None, default 200
        Simplification tolerance in metres.
    tiles : str or None, default "OpenStreetMap"
        Background tiles (``None`` for none; tiles need a network connection and are
        dropped when ``self_contained=True`` is passed).
    path : str or Path, optional
        Write the HTML file there.
    **kwargs
        Further :func:`residual_map` options.

    Returns
    -------
    folium.Map
    """
    kwargs.setdefault("lisa", False)
    kwargs.setdefault("profile_links", None)
    if kwargs.get("self_contained"):
        tiles = None
    return residual_map(
        polygons,
        values,
        column=column,
        tooltip=tooltip,
        cmap=cmap,
        layer_name=layer_name,
        simplify=simplify,
        tiles=tiles,
        path=path,
        **kwargs,
    )
