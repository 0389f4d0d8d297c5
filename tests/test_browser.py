"""The web map in headless Chromium, offline: polygons, legends, tooltips, layers, year slider.

The maps are built self-contained (Leaflet inlined), since the browser has no network:
``--host-resolver-rules`` makes every host lookup fail, so a single CDN request would
show up as a console error.  Skips when chromium/chromedriver are absent (see the
``browser`` fixture in conftest.py).  A screenshot of each map is saved to
``tests/artifacts/`` (or ``$GEOATTR_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA

YEARS = list(range(2000, 2011))


def _frames(polygons, seed=3):
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([polygons.index, YEARS], names=["unit", "year"])
    att = pd.DataFrame({"actual": rng.normal(0, 1, len(idx))}, index=idx)
    att["expected"] = rng.normal(0, 0.5, len(idx))
    att["residual"] = att["actual"] - att["expected"]
    att["residual_persons"] = att["residual"] * 25
    cum = att.groupby(level="unit").sum()
    specs = {
        "SAR": att["residual"] * 0.5 + rng.normal(0, 0.5, len(idx)),
        "SEM": att["residual"] * -0.7,
    }
    return cum, att, specs


@pytest.fixture(scope="module")
def synthetic_polygons(synthetic_data):
    return synthetic_data.polygons


@pytest.fixture(scope="module")
def map_html(synthetic_polygons, tmp_path_factory):
    from geoattr.report.maps import residual_map

    cum, att, specs = _frames(synthetic_polygons)
    path = tmp_path_factory.mktemp("map") / "map.html"
    fmap = residual_map(
        synthetic_polygons,
        cum,
        residuals=specs,
        yearly=att,
        self_contained=True,
        title="geoattr test map",
        path=path,
    )
    return path, fmap.geoattr_info


def _open(driver, path):
    driver.get_log("browser")  # flush entries of earlier pages
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    _wait_until_settled(driver)


def _wait_until_settled(driver, timeout=5.0):
    """Wait until Leaflet's opening pan/zoom has finished and the polygons stop moving.

    Hover tests aim the pointer at a polygon's on-screen centre; measured while the map
    still animates, that point has moved by the time the pointer gets there.
    """
    import time

    script = """
        var box = document.querySelector('.leaflet-overlay-pane svg, .leaflet-overlay-pane canvas');
        if (!box) return null;
        var ls = Object.values(geoattr.maps)[0].layers, m = null;
        Object.keys(ls).forEach(function (k) { if (ls[k]._map) m = ls[k]._map; });
        var r = box.getBoundingClientRect();
        return [r.left, r.top, r.width, r.height, !!m._animatingZoom,
                !!(m._panAnim && m._panAnim._inProgress)];"""
    last, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = driver.execute_script(script)
        if now is not None and now == last and not any(now[4:]):
            return
        last = now
        time.sleep(0.15)
    raise AssertionError(f"the map kept moving for {timeout} s: {last}")


def _console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _paths(driver):
    return driver.find_elements("css selector", "path.leaflet-interactive")


def _legends(driver):
    return [
        e.get_attribute("data-layer")
        for e in driver.find_elements("css selector", ".geoattr-legend")
    ]


def _fills(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('path.leaflet-interactive'))"
        ".map(function (p) { return p.getAttribute('fill'); });"
    )


def _choose(driver, layer):
    labels = driver.find_elements("css selector", ".leaflet-control-layers-base label")
    match = [lab for lab in labels if lab.text.strip() == layer]
    assert match, f"no layer control entry {layer!r} among {[lab.text for lab in labels]}"
    match[0].click()


def test_map_draws_every_unit_with_legend_and_no_console_errors(browser, map_html, save_artifact):
    path, info = map_html
    _open(browser, path)
    assert browser.title == "geoattr test map"
    # only the first (base) layer is on the map: one path per unit
    assert len(_paths(browser)) == info.n_units == 356
    assert _legends(browser) == [info.layers[0]]
    legend = browser.find_element("css selector", ".geoattr-legend")
    assert legend.is_displayed()
    assert "0" in legend.text and info.layers[0] in legend.text
    # the layer control lists every layer
    labels = [
        e.text.strip()
        for e in browser.find_elements("css selector", ".leaflet-control-layers-base label")
    ]
    assert labels == info.layers
    # the layer control icon (inlined data: URI) and Leaflet's CSS are in effect
    assert (
        browser.execute_script(
            "return getComputedStyle(document.querySelector('.leaflet-container')).overflow"
        )
        == "hidden"
    )
    # the colour scale: symmetric around zero, zero is the middle stop, missing values grey
    stops = ["#ff0000", "#ffffff", "#0000ff"]
    colour = "return geoattr.colour(arguments[0], 2, arguments[1], '#cccccc');"
    assert browser.execute_script(colour, stops, 0) == "rgb(255,255,255)"
    assert browser.execute_script(colour, stops, -2) == "rgb(255,0,0)"
    assert browser.execute_script(colour, stops, 5) == "rgb(0,0,255)"  # clipped at vmax
    assert browser.execute_script(colour, stops, 1) == "rgb(128,128,255)"
    assert browser.execute_script(colour, stops, None) == "#cccccc"
    assert browser.execute_script("return geoattr.ranks([1, 3, null, 3, -2]);") == [
        3,
        1,
        None,
        1,
        4,
    ]
    shot, _ = save_artifact("map.png", browser)
    assert shot.stat().st_size > 10_000
    assert _console_errors(browser) == []


def _hover_target(driver):
    """A feature of the visible layer whose centre is not covered by a control: (index, name)."""
    return driver.execute_script("""
        var m = Object.values(geoattr.maps)[0].layers, lyr = null;
        Object.keys(m).forEach(function (k) { if (m[k]._map) lyr = m[k]; });
        var best = null, area = 0;
        lyr.getLayers().forEach(function (l, k) {
            var r = l._path.getBoundingClientRect();
            var x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (document.elementFromPoint(x, y) === l._path && r.width * r.height > area) {
                area = r.width * r.height; best = [k, l.feature.properties.name];
            }
        });
        return best;""")


def test_tooltip_appears_on_hover_and_popup_links_profile(browser, map_html):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    path, _ = map_html
    _open(browser, path)
    k, name = _hover_target(browser)
    target = browser.execute_script(
        "var m = Object.values(geoattr.maps)[0].layers; "
        "return m[Object.keys(m)[0]].getLayers()[arguments[0]]._path;",
        k,
    )
    assert browser.find_elements("css selector", ".leaflet-tooltip") == []
    ActionChains(browser).move_to_element(target).perform()
    # Leaflet fades tooltips in and may re-create the element while the pointer
    # settles, so the tooltip is looked up afresh on every poll (a held reference can go stale).
    def shown_tooltip_text(d):
        texts = d.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-tooltip'))"
            ".filter(function (t) { return getComputedStyle(t).opacity > 0.5; })"
            ".map(function (t) { return t.innerText; });"
        )
        return texts[0] if len(texts) == 1 else False

    text = WebDriverWait(browser, 5).until(shown_tooltip_text)
    assert len(browser.find_elements("css selector", ".leaflet-tooltip")) == 1
    assert name in text
    for label in ["Observed (pp)", "Expected (pp)", "Residual (pp)", "Rank", "of 356"]:
        assert label in text, text
    target.click()
    links = browser.find_elements("css selector", ".leaflet-popup-content a")
    assert len(links) == 1 and links[0].get_attribute("href").endswith(".html")
    assert "/profiles/" in links[0].get_attribute("href")
    assert _console_errors(browser) == []


def test_layer_control_switches_layers_and_legends(browser, map_html):
    path, info = map_html
    _open(browser, path)
    main_fills = _fills(browser)
    for layer in info.layers[1:3]:  # the compared specifications
        _choose(browser, layer)
        assert _legends(browser) == [layer]
        assert len(_paths(browser)) == 356
        fills = _fills(browser)
        assert (
            sum(a != b for a, b in zip(fills, main_fills)) > 300
        )  # other residuals, other colours
    lisa = info.layers[-1]
    _choose(browser, lisa)
    assert _legends(browser) == [lisa]
    legend = browser.find_element("css selector", ".geoattr-legend").text
    assert "High-high" in legend and "Not significant" in legend
    assert len(_paths(browser)) == 356
    assert set(_fills(browser)) <= {
        "#2166ac",
        "#f4a582",
        "#b2182b",
        "#92c5de",
        "#eeeeee",
        "#9e9e9e",
    }
    _choose(browser, info.layers[0])
    assert _legends(browser) == [info.layers[0]]
    assert _fills(browser) == main_fills
    assert _console_errors(browser) == []


def test_year_slider_recolours_and_labels_the_year(browser, map_html, save_artifact):
    from selenium.webdriver.common.keys import Keys

    path, info = map_html
    _open(browser, path)
    assert (
        browser.find_elements("css selector", ".geoattr-slider") == []
    )  # only with the yearly layer
    yearly = [name for name in info.layers if name.endswith("by year")][0]
    _choose(browser, yearly)
    assert _legends(browser) == [yearly]
    label = browser.find_element("css selector", ".geoattr-slider .geoattr-year")
    assert label.text == str(YEARS[-1])
    before = _fills(browser)
    slider = browser.find_element("css selector", ".geoattr-slider input[type=range]")
    slider.send_keys(Keys.ARROW_LEFT)
    assert label.text == str(YEARS[-2])
    after = _fills(browser)
    assert len(after) == 356
    assert sum(a != b for a, b in zip(before, after)) > 300  # independent random years
    slider.send_keys(Keys.HOME)
    assert label.text == str(YEARS[0])
    save_artifact("map_year_slider.png", browser)
    _choose(browser, info.layers[0])
    assert browser.find_elements("css selector", ".geoattr-slider") == []
    assert _console_errors(browser) == []


def test_canvas_renderer_draws_every_unit(browser, synthetic_polygons, tmp_path):
    from geoattr.report.maps import residual_map

    cum, _, _ = _frames(synthetic_polygons)
    path = tmp_path / "canvas.html"
    residual_map(
        synthetic_polygons, cum, lisa=False, renderer="canvas", self_contained=True, path=path
    )
    _open(browser, path)
    assert _paths(browser) == []
    assert len(browser.find_elements("css selector", "canvas.leaflet-zoom-animated")) == 1
    n = browser.execute_script(
        "var m = Object.values(geoattr.maps)[0].layers; "
        "return m[Object.keys(m)[0]].getLayers().length;"
    )
    assert n == 356
    assert len(_legends(browser)) == 1
    assert _console_errors(browser) == []


@pytest.mark.realdata
def test_real_norway_map_in_browser(browser, tmp_path, save_artifact):
    import geopandas as gpd

    from geoattr.report.maps import residual_map

    f = REAL_DATA / "polygons" / "kommuner_2020.geojson"
    if not f.exists():
        pytest.skip(f"real Norway polygons not found at {f}")
    g = gpd.read_file(f).set_index("kommunenummer").rename(columns={"kommunenavn": "name"})
    cum, att, specs = _frames(g)
    path = tmp_path / "norway.html"
    residual_map(g, cum, residuals=specs, yearly=att, self_contained=True, path=path)
    assert path.stat().st_size < 3_000_000
    _open(browser, path)
    assert len(_paths(browser)) == 356
    save_artifact("map_norway_2020.png", browser)
    assert _console_errors(browser) == []
