"""The page parts of a geoattr map: the vendored Leaflet, geoattr's CSS and JS, folium elements.

With ``self_contained=True`` Leaflet's JavaScript, CSS and control icons (vendored in
``geoattr/_assets``, the version folium uses) are inlined, so the HTML file works
offline and fetches nothing.  The folium elements here write literal JavaScript (not
passed through Jinja, as the payloads may contain ``{{``): the shared geometry
(:class:`DataElement`) and one ``geoattr.layer`` per layer (:class:`GeoattrLayer`).
"""

from __future__ import annotations

import base64
import re
from importlib import resources
from typing import Any

from branca.element import Element, MacroElement
from folium.map import Layer

from geoattr._format import script_json

__all__ = [
    "vendored_leaflet_version",
    "inline_leaflet",
    "script_safe",
    "to_json",
    "RawElement",
    "PagePart",
    "LibraryElement",
    "DataElement",
    "GeoattrLayer",
    "MAP_CSS",
]

#: The CSS of the legends and the year slider.
MAP_CSS = """
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


def script_safe(text: str) -> str:
    """Make text safe inside a ``<script>`` element (no ``</script>`` or ``<!--``).

    Parameters
    ----------
    text : str
        HTML, CSS or JavaScript to embed in the page.

    Returns
    -------
    str
        ``text`` with ``</`` written as ``<\\/`` and ``<!--`` as ``<\\!--``.
    """
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def to_json(obj: Any) -> str:
    """Compact JSON of ``obj``, safe inside a ``<script>`` element (no NaN allowed; :func:`geoattr._format.script_json`).

    Parameters
    ----------
    obj : Any
        JSON-serialisable data.

    Returns
    -------
    str
    """
    return script_json(obj, separators=(",", ":"), allow_nan=False)


def inline_leaflet() -> str:
    """Leaflet's CSS (icons as data URIs) and JavaScript as inline ``<style>``/``<script>``.

    Returns
    -------
    str
        HTML for the page header.
    """
    css = _asset("leaflet.css").decode("utf-8")
    for img, asset in [
        ("images/layers-2x.png", "leaflet-layers-2x.png"),
        ("images/layers.png", "leaflet-layers.png"),
        ("images/marker-icon.png", "leaflet-marker-icon.png"),
    ]:
        uri = "data:image/png;base64," + base64.b64encode(_asset(asset)).decode("ascii")
        css = css.replace(f"url({img})", f"url({uri})")
    js = _asset("leaflet.js").decode("utf-8")
    return f"<style>{css}</style>\n<script>{script_safe(js)}</script>\n"


class RawElement(Element):
    """Literal HTML/JS, not passed through Jinja (the payloads may contain ``{{``)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """Return the text as it is."""
        return self.text


class PagePart(MacroElement):
    """An element whose :meth:`text` goes, as it is, into the page's header or script.

    Parameters
    ----------
    name : str
        The element's folium name (its JavaScript variable is derived from it).
    """

    #: The part of the page the text goes to: ``"header"`` or ``"script"``.
    part = "script"

    def __init__(self, name: str):
        super().__init__()
        self._name = name

    def text(self) -> str:
        """The literal HTML or JavaScript of the element."""
        raise NotImplementedError

    def render(self, **kwargs: Any) -> None:
        """Add :meth:`text` to its part of the page."""
        page = getattr(self.get_root(), self.part)
        page.add_child(RawElement(self.text()), name=self.get_name())


class LibraryElement(PagePart):
    """Header: inline Leaflet (self-contained maps), geoattr's CSS and JS helpers.

    Parameters
    ----------
    inline : bool
        Inline the vendored Leaflet too (``self_contained=True``).
    """

    part = "header"

    def __init__(self, inline: bool):
        super().__init__("GeoattrLibrary")
        self.inline_leaflet = inline

    def text(self) -> str:
        """Leaflet when inlined, then geoattr's ``<style>`` and ``<script>``."""
        head = inline_leaflet() if self.inline_leaflet else ""
        head += f"<style>{MAP_CSS}</style>\n"
        return head + f"<script>{script_safe(_asset('geoattr-map.js').decode('utf-8'))}</script>\n"


class DataElement(PagePart):
    """The shared geometry (one FeatureCollection for every layer).

    Parameters
    ----------
    payload : str
        The JSON of the shared data (:func:`to_json`).
    """

    def __init__(self, payload: str):
        super().__init__("GeoattrData")
        self.payload = payload

    def text(self) -> str:
        """Decode the geometry once in the page script."""
        return f"\nvar {self.get_name()} = geoattr.decode({self.payload});\n"


class GeoattrLayer(Layer):
    """A ``geoattr.layer`` (choropleth or categorical) listed in the layer control."""

    def __init__(self, name: str, data: DataElement, payload: str, *, show: bool):
        super().__init__(name=name, overlay=False, control=True, show=show)
        self._name = "GeoattrLayer"
        self.data = data
        self.payload = payload

    def render(self, **kwargs: Any) -> None:
        """Create the layer (and show it when it is the first)."""
        me, parent = self.get_name(), self._parent.get_name()
        js = f"\nvar {me} = geoattr.layer({parent}, {self.data.get_name()}, {self.payload});\n"
        if self.show:
            js += f"{me}.addTo({parent});\n"
        self.get_root().script.add_child(RawElement(js), name=me)
