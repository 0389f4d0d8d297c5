/* geoattr web-map helpers (part of geoattr, BSD-3-Clause).  Needs Leaflet 1.9.
 *
 * geoattr.decode(data)          compact delta-encoded geometry -> GeoJSON FeatureCollection
 * geoattr.layer(map, fc, opts)  a choropleth (continuous, diverging) or categorical L.GeoJSON
 *                               layer whose legend (and year slider, for per-year values) is
 *                               shown exactly while the layer is on the map.
 * geoattr.maps[<map id>].layers[<layer name>] gives the layers (used by the browser tests).
 */
(function (root) {
  "use strict";
  var G = root.geoattr = root.geoattr || {};
  G.maps = G.maps || {};

  var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
  G.esc = function (s) {
    return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
  };

  /* data: {ids: [...], names: [...], scale: 1e5, geom: [unit][polygon][ring] = [x0, y0, dx1, dy1, ...]}
   * (integers: degrees * scale; the closing point of each ring is implied). */
  G.decode = function (data) {
    var s = data.scale, feats = [];
    function ring(r) {
      var out = [], x = 0, y = 0;
      for (var k = 0; k < r.length; k += 2) {
        x += r[k];
        y += r[k + 1];
        out.push([x / s, y / s]);
      }
      out.push(out[0]);
      return out;
    }
    for (var i = 0; i < data.ids.length; i++) {
      feats.push({
        type: "Feature",
        properties: {i: i, unit: data.ids[i], name: data.names[i]},
        geometry: {type: "MultiPolygon", coordinates: data.geom[i].map(function (p) { return p.map(ring); })}
      });
    }
    return {type: "FeatureCollection", features: feats, shared: data.shared || {}, links: data.links || null};
  };

  function rgb(h) {
    return [parseInt(h.substr(1, 2), 16), parseInt(h.substr(3, 2), 16), parseInt(h.substr(5, 2), 16)];
  }

  function missing(v) { return v === null || v === undefined || isNaN(v); }

  /* Linear interpolation between equally spaced colour stops over [-vmax, vmax]. */
  G.colour = function (stops, vmax, v, nan) {
    if (missing(v)) return nan;
    var t = vmax > 0 ? (v + vmax) / (2 * vmax) : 0.5;
    t = Math.max(0, Math.min(1, t));
    var p = t * (stops.length - 1), k = Math.min(Math.floor(p), stops.length - 2), f = p - k;
    var a = rgb(stops[k]), b = rgb(stops[k + 1]), c = [];
    for (var j = 0; j < 3; j++) c.push(Math.round(a[j] + f * (b[j] - a[j])));
    return "rgb(" + c.join(",") + ")";
  };

  /* Rank 1 = largest value; ties share the smallest rank; missing values get no rank. */
  G.ranks = function (v) {
    var idx = [], r = new Array(v.length).fill(null);
    for (var i = 0; i < v.length; i++) if (!missing(v[i])) idx.push(i);
    idx.sort(function (a, b) { return v[b] - v[a]; });
    for (var k = 0; k < idx.length; k++) {
      r[idx[k]] = (k > 0 && v[idx[k]] === v[idx[k - 1]]) ? r[idx[k - 1]] : k + 1;
    }
    r.n = idx.length;
    return r;
  };

  function fmt(v, d) {
    if (missing(v)) return "n/a";
    return Number(v).toFixed(d);
  }

  G.layer = function (map, fc, o) {
    var state = {year: o.years ? o.years.length - 1 : null};
    var rankCache = {};

    function series(key) {
      if (o.yearly) return o.yearly[key] ? o.yearly[key][state.year] : null;
      if (o.values[key]) return o.values[key];
      return (fc.shared && fc.shared[key]) || null;  /* e.g. observed, stored once for all layers */
    }
    function derived(key) {  /* expected = observed - residual, not stored (o.derive) */
      return key === "expected" && o.derive && !!series("observed") && !!series("residual");
    }
    function has(key) { return derived(key) || !!series(key); }
    function val(key, i) {
      if (derived(key)) {
        var a = series("observed")[i], r = series("residual")[i];
        return (missing(a) || missing(r)) ? null : a - r;
      }
      var s = series(key);
      return s ? s[i] : null;
    }
    function rank(i) {
      if (o.rank && !o.yearly) return [o.rank[i], o.rank.filter(function (r) { return r !== null; }).length];
      var ck = o.yearly ? String(state.year) : "all";
      if (!(ck in rankCache)) rankCache[ck] = G.ranks(series(o.colourBy));
      return [rankCache[ck][i], rankCache[ck].n];
    }
    function fill(i) {
      if (o.kind === "categorical") return o.categories[o.values.category[i]][1];
      return G.colour(o.stops, o.vmax, val(o.colourBy, i), o.nan);
    }
    function style(f) {
      return {fillColor: fill(f.properties.i), fillOpacity: 0.8, color: "#555555", weight: 0.5, opacity: 1};
    }
    function tip(l) {
      var p = l.feature.properties, i = p.i;
      var h = "<b>" + G.esc(p.name) + "</b> (" + G.esc(p.unit) + ")";
      if (o.years) h += "<br>Year: " + o.years[state.year];
      o.fields.forEach(function (f) {
        var label = f[0], key = f[1], d = f[2], txt;
        if (key === "rank") {
          var rk = rank(i);
          txt = rk[0] === null ? "n/a" : rk[0] + " of " + rk[1];
        } else if (key === "category") {
          txt = G.esc(o.categories[o.values.category[i]][0]);
        } else {
          if (!has(key)) return;
          txt = fmt(val(key, i), d);
        }
        h += "<br>" + G.esc(label) + ": " + txt;
      });
      if (o.profile) h += "<br><i>Click for the profile page</i>";
      return h;
    }
    var layer = L.geoJson(fc, {
      style: style,
      onEachFeature: function (f, l) {
        l.bindTooltip(tip, {sticky: true, className: "geoattr-tooltip"});
        if (o.profile) {
          l.bindPopup(function () {
            /* the link of each unit is resolved in Python (profile page file names) */
            var href = fc.links ? fc.links[f.properties.i] :
              o.profile.split("{unit}").join(encodeURIComponent(f.properties.unit));
            return "<a href=\"" + G.esc(href) + "\" target=\"_blank\">Profile of " +
              G.esc(f.properties.name) + "</a>";
          });
        }
        l.on("mouseover", function () { l.setStyle({weight: 2, color: "#000000"}); });
        l.on("mouseout", function () { layer.resetStyle(l); });
      }
    });

    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var d = L.DomUtil.create("div", "geoattr-legend");
      d.setAttribute("data-layer", o.name);
      var h = "<div class=\"geoattr-legend-title\">" + G.esc(o.legend.title) + "</div>";
      if (o.kind === "categorical") {
        o.categories.forEach(function (c, k) {
          h += "<div class=\"geoattr-legend-row\"><span class=\"geoattr-swatch\" style=\"background:" + c[1] +
            "\"></span>" + G.esc(c[0]) + " (" + o.legend.counts[k] + ")</div>";
        });
      } else {
        h += "<div class=\"geoattr-ramp\" style=\"background:linear-gradient(to right," + o.stops.join(",") +
          ")\"></div><div class=\"geoattr-ticks\"><span>" + fmt(-o.vmax, o.legend.decimals) +
          "</span><span>0</span><span>" + fmt(o.vmax, o.legend.decimals) + "</span></div>";
        if (o.legend.note) h += "<div class=\"geoattr-legend-note\">" + G.esc(o.legend.note) + "</div>";
        if (o.legend.missing) {
          h += "<div class=\"geoattr-legend-row\"><span class=\"geoattr-swatch\" style=\"background:" + o.nan +
            "\"></span>no value</div>";
        }
      }
      d.innerHTML = h;
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };

    var slider = null;
    if (o.years) {
      slider = L.control({position: "bottomleft"});
      slider.onAdd = function () {
        var d = L.DomUtil.create("div", "geoattr-slider");
        d.setAttribute("data-layer", o.name);
        d.innerHTML = "<label>Year: <span class=\"geoattr-year\">" + o.years[state.year] + "</span><br>" +
          "<input type=\"range\" min=\"0\" max=\"" + (o.years.length - 1) + "\" step=\"1\" value=\"" +
          state.year + "\" aria-label=\"Year\"></label>";
        var inp = d.querySelector("input");
        L.DomEvent.disableClickPropagation(d);
        L.DomEvent.disableScrollPropagation(d);
        L.DomEvent.on(inp, "input change", function () { layer.setYear(parseInt(inp.value, 10)); });
        return d;
      };
    }
    layer.setYear = function (k) {
      if (!o.years) return;
      state.year = Math.max(0, Math.min(o.years.length - 1, k));
      layer.setStyle(style);
      var c = slider && slider.getContainer();
      if (c) {
        c.querySelector(".geoattr-year").textContent = o.years[state.year];
        c.querySelector("input").value = state.year;
      }
    };
    layer.getYear = function () { return o.years ? o.years[state.year] : null; };
    layer.on("add", function () {
      legend.addTo(map);
      if (slider) slider.addTo(map);
    });
    layer.on("remove", function () {
      legend.remove();
      if (slider) slider.remove();
    });
    var id = map.getContainer().id;
    G.maps[id] = G.maps[id] || {layers: {}};
    G.maps[id].layers[o.name] = layer;
    return layer;
  };
})(window);
