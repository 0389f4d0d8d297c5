"""Folium web maps of attractiveness, the residuals of compared models and their LISA clusters.

:func:`residual_map` draws, on one Leaflet map,

* the attractiveness (cumulative residual) of every unit,
* the residual of every compared specification (one layer each),
* the per-year residuals with a year slider,
* the LISA clusters of the residual (local Moran's I, :func:`geoattr.lisa.lisa_table`),

as mutually exclusive layers of a layer control.  Each layer has its own legend, shown
exactly while the layer is on the map; the continuous layers use a diverging colour
scale symmetric around zero; tooltips give name, observed, expected, residual and rank,
and a click opens a popup linking to the unit's profile page.

The geometry is stored once in the page (:mod:`geoattr.report.maps.geometry`) and
shared by all layers (:mod:`geoattr.report.maps.layers`); per-year values are a
compact ``{year: [values]}`` array recoloured by a small script, not one GeoJSON per
year.  With ``self_contained=True`` the vendored Leaflet is inlined
(:mod:`geoattr.report.maps.leaflet`), so the HTML file works offline.
:func:`attractiveness_map` is the earlier single-layer interface, kept for
compatibility.
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph

from geoattr.exceptions import InputError
from geoattr.lisa import lisa_table
from geoattr.typing import WeightsLike
from geoattr.report.maps.geometry import SCALE, geometry_payload, repair_polygons
from geoattr.report.maps.inputs import (
    check_map_options,
    check_polygons,
    check_values,
    check_yearly,
    per_unit,
    unit_ids,
)
from geoattr.report.maps.layers import (
    LayerStyle,
    attractiveness_layer,
    colour_stops,
    floats,
    lisa_layer,
    residual_layer,
    symmetric_vmax,
    yearly_layer,
)
from geoattr.report.maps.leaflet import DataElement, GeoattrLayer, LibraryElement, to_json
from geoattr.report.profiles import profile_file_name

__all__ = ["residual_map", "attractiveness_map", "MapInfo", "profile_links_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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
        The :func:`geoattr.lisa.lisa_table` behind the LISA layer.
    build_seconds : float
    notes : list of str
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


# --------------------------------------------------------------------------- parts
def _unit_names(polygons: gpd.GeoDataFrame, ids: pd.Index, names: Any) -> list[str]:
    """Display name per unit: ``names``, else the polygons' ``name`` column, else the id."""
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
        nm = pd.Series(nm.to_numpy(), index=unit_ids(nm.index, name="names index"))
        nm = nm[~nm.index.duplicated()]
        nm = nm.reindex(ids)
    return [str(u) if pd.isna(v) else str(v) for u, v in zip(ids, nm.reindex(ids).to_numpy())]


def _layer_names(
    layer_name: str, specs: Sequence[str], *, yearly: bool, lisa: bool, column: str
) -> list[str]:
    names = [layer_name] + [f"Residual: {s}" for s in specs]
    if yearly:
        names.append(f"{layer_name.split(' (')[0]} by year")
    if lisa:
        names.append(f"LISA clusters: {column}")
    dup = [x for x in dict.fromkeys(names) if names.count(x) > 1]
    if dup:
        raise InputError(
            f"layer names must be unique; {dup} occur more than once (rename the "
            "residuals' specifications or layer_name)"
        )
    return names


def _queen(polygons: gpd.GeoDataFrame, ids: pd.Index) -> Graph:
    """Queen contiguity of the repaired, unsimplified polygons, on the string ids."""
    repaired = repair_polygons(polygons)
    return Graph.build_contiguity(
        gpd.GeoSeries(repaired.to_numpy(), index=ids, crs=repaired.crs), rook=False
    )


def _base_map(
    bounds: list[list[float]], *, renderer: str, self_contained: bool, title: str | None
) -> folium.Map:
    fmap = folium.Map(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2], zoom_start=5, tiles=None,
        prefer_canvas=renderer == "canvas", control_scale=True,
    )
    if self_contained:
        fmap.default_js = []
        fmap.default_css = []
    if title:
        fmap.get_root().title = html.escape(title)
    fmap.add_child(LibraryElement(inline=self_contained))
    return fmap


def _add_layers(
    fmap: folium.Map,
    data: DataElement,
    payloads: list[dict[str, Any]],
    *,
    tiles: str | None,
    bounds: list[list[float]],
) -> int:
    """Add the tiles, the layers and the layer control; return the layers' JSON size."""
    if tiles is not None:
        folium.TileLayer(tiles, name="Background map", overlay=True, control=True).add_to(fmap)
    nbytes = 0
    for k, p in enumerate(payloads):
        js = to_json(p)
        nbytes += len(js)
        fmap.add_child(GeoattrLayer(p["name"], data, js, show=k == 0))
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds(bounds)
    return nbytes


def _payloads(
    vals: pd.DataFrame,
    layer_names: list[str],
    *,
    column: str,
    extra: list[str],
    specs: dict[str, tuple[pd.Series, pd.MultiIndex | None]],
    yearly: tuple[list[int], dict[str, np.ndarray], pd.DataFrame | None],
    lisa: pd.DataFrame | None,
    stops: list[str],
    vmax: float | None,
    cmap: str,
    units: str,
    profile_links: str | None,
) -> list[dict[str, Any]]:
    """The payload of every layer, in the order of ``layer_names``."""
    note = "blue: above expected, red: below" if cmap == "RdBu" else None
    main = vals[column].to_numpy(dtype=float)
    same_scale = [s.to_numpy() for s, _ in specs.values()] if column == "residual" else []
    m = float(vmax) if vmax is not None else symmetric_vmax(main, *same_scale)
    style = LayerStyle(stops, m, profile_links, units, note)
    observed = vals["actual"].to_numpy(dtype=float) if "actual" in vals.columns else None
    out = [attractiveness_layer(layer_names[0], vals, column=column, extra=extra, style=style)]
    years, ydata, ylong = yearly
    for spec, (s, pairs) in specs.items():
        out.append(residual_layer(spec, s, pairs, observed=observed, ylong=ylong, style=style))
    if ylong is not None:
        out.append(yearly_layer(layer_names[len(specs) + 1], years, ydata, style=style))
    if lisa is not None:
        out.append(
            lisa_layer(
                layer_names[-1], lisa, column=column, units=units, profile_links=profile_links
            )
        )
    return out


def profile_links_of(ids: Sequence[str], template: str | None) -> list[str] | None:
    """The popup link of each unit: ``{page}`` -> its profile page's file name, ``{unit}`` -> the id.

    Both are percent-encoded (``quote``), so every link is a valid relative URL;
    ``{page}`` is :func:`geoattr.report.profiles.profile_file_name`, the name
    :func:`~geoattr.report.profiles.write_profiles` writes, so the links resolve.

    Parameters
    ----------
    ids : sequence of str
        Unit ids.
    template : str or None
        E.g. ``"profiles/{page}"``; None: no links.

    Returns
    -------
    list of str or None
    """
    if template is None:
        return None
    return [template.replace("{page}", quote(profile_file_name(u))).replace("{unit}", quote(str(u), safe=""))
            for u in ids]


def _shared_data(ids: pd.Index, names: list[str], enc: list, vals: pd.DataFrame,
                 profile_links: str | None) -> dict[str, Any]:
    """The data every layer reads: ids, names, the encoded geometry, the observed values, the links."""
    shared = {} if "actual" not in vals.columns else {"observed": floats(vals["actual"])}
    out = {"ids": [str(i) for i in ids], "names": names, "scale": SCALE, "geom": enc, "shared": shared}
    links = profile_links_of(ids, profile_links)
    if links is not None:
        out["links"] = links
    return out


# --------------------------------------------------------------------------- main
def residual_map(
    polygons: gpd.GeoDataFrame,
    attractiveness: pd.DataFrame,
    *,
    column: str = "residual",
    residuals: Mapping[str, pd.Series] | None = None,
    yearly: pd.DataFrame | None = None,
    lisa: bool = True,
    weights: WeightsLike | None = None,
    fdr: float | None = 0.05,
    alpha: float = 0.05,
    permutations: int = 999,
    seed: int | None = 12345,
    simplify: float | Literal["auto"] | None = "auto",
    max_geometry_bytes: int | None = 2_000_000,
    tiles: str | None = None,
    self_contained: bool = False,
    profile_links: str | None = "profiles/{page}",
    names: pd.Series | Mapping[str, str] | None = None,
    layer_name: str = "Attractiveness (cumulative residual)",
    tooltip: Sequence[str] | None = None,
    cmap: str = "RdBu",
    vmax: float | None = None,
    units: str = "pp",
    renderer: Literal["auto", "svg", "canvas"] = "auto",
    title: str | None = None,
    path: str | Path | None = None,
) -> folium.Map:
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
        Add a layer of the LISA clusters of ``column`` (:func:`geoattr.lisa.lisa_table`).
    weights : libpysal Graph or SparseWeights, optional
        Spatial weights of the LISA; default queen contiguity of the (repaired,
        unsimplified) polygons.
    fdr : float or None, default 0.05
        False-discovery rate for the LISA significance of the two-sided permutation
        p-values (Benjamini-Hochberg via :func:`esda.fdr`); None: ``p <= alpha`` unit by
        unit (see :func:`geoattr.lisa.lisa_table`).
    alpha : float, default 0.05
    permutations : int, default 999
    seed : int, optional, default 12345
        LISA permutation seed (reproducible maps).
    simplify : float, "auto" or None, default "auto"
        Tolerance in metres (see :func:`~geoattr.report.maps.geometry.simplify_polygons`).  With ``"auto"`` the
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
    profile_links : str or None, default "profiles/{page}"
        Link target of each unit's popup, relative to the HTML file: ``{page}`` is
        replaced by the file name of the unit's profile page
        (:func:`~geoattr.report.profiles.profile_file_name`, as written by
        :func:`~geoattr.report.profiles.write_profiles`), ``{unit}`` by the
        percent-encoded id (for pages of your own); ``None`` for no popups.
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
        ``residuals``/``yearly``/``weights``, bad options.

    Notes
    -----
    Layers are base layers (radio buttons): one is visible at a time, and its legend
    (and, for the per-year layer, the year slider) is shown exactly while it is.
    LISA significance uses esda's ``p_sim`` (see :func:`geoattr.lisa.lisa_table`).
    """
    t0 = time.perf_counter()
    check_map_options(
        simplify=simplify, fdr=fdr, alpha=alpha, permutations=permutations, tiles=tiles,
        self_contained=self_contained, profile_links=profile_links, renderer=renderer,
        max_geometry_bytes=max_geometry_bytes, vmax=vmax,
    )
    stops = colour_stops(cmap)
    polygons, ids = check_polygons(polygons)
    extra = [c for c in (tooltip or []) if c not in ("unit", "name")]
    vals = check_values(attractiveness, ids, column, extra)
    name_list = _unit_names(polygons, ids, names)
    specs = {
        str(spec): per_unit(s, ids, what=f"residuals[{spec!r}]")
        for spec, s in (residuals or {}).items()
    }
    ycheck = check_yearly(yearly, ids) if yearly is not None else ([], {}, None)
    layer_names = _layer_names(
        layer_name, list(specs), yearly=yearly is not None, lisa=lisa, column=column
    )
    lisa_df = None
    if lisa:
        lisa_df = lisa_table(
            vals[column].rename(column),
            weights if weights is not None else _queen(polygons, ids),
            permutations=permutations,
            fdr=fdr,
            alpha=alpha,
            seed=seed,
        )
    enc, ginfo, bounds = geometry_payload(polygons, simplify, max_geometry_bytes)
    rend = renderer if renderer != "auto" else ("canvas" if len(ids) > 3000 else "svg")
    fmap = _base_map(bounds, renderer=rend, self_contained=self_contained, title=title)
    shared = _shared_data(ids, name_list, enc, vals, profile_links)
    data = DataElement(to_json(shared))
    fmap.add_child(data)
    payloads = _payloads(
        vals, layer_names, column=column, extra=extra, specs=specs, yearly=ycheck, lisa=lisa_df,
        stops=stops, vmax=vmax, cmap=cmap, units=units, profile_links=profile_links,
    )
    values_bytes = len(to_json(shared["shared"]))
    values_bytes += _add_layers(fmap, data, payloads, tiles=tiles, bounds=bounds)
    html_bytes = None
    if path is not None:
        fmap.save(str(path))
        html_bytes = Path(path).stat().st_size
    info = MapInfo(
        n_units=len(ids), layers=[p["name"] for p in payloads], simplify_method=ginfo["method"],
        tolerance=ginfo["tolerance"], metric_crs=ginfo["metric_crs"], vertices_in=ginfo["vertices_in"],
        vertices_out=ginfo["vertices_out"], coordinate_decimals=int(round(math.log10(SCALE))),
        geometry_bytes=ginfo["geometry_bytes"], values_bytes=values_bytes, self_contained=self_contained,
        renderer=rend, lisa=lisa_df, html_bytes=html_bytes, build_seconds=round(time.perf_counter() - t0, 4),
        notes=list(ginfo["notes"]),
    )
    _log(info)
    fmap.geoattr_info = info
    return fmap


def _log(info: MapInfo) -> None:
    log.info(
        "map of %d units: simplification %s, tolerance %s m, %d -> %d vertices, geometry %d bytes",
        info.n_units,
        info.simplify_method,
        None if info.tolerance is None else round(info.tolerance, 1),
        info.vertices_in,
        info.vertices_out,
        info.geometry_bytes,
    )


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
) -> folium.Map:
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
        column=column, tooltip=tooltip, cmap=cmap, layer_name=layer_name, simplify=simplify, tiles=tiles,
        path=path,
        **kwargs,
    )
