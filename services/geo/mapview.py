"""Folium pieces for the nearest-neighbour map: a light base map that works offline, and the results layer.

The base map (outlines, optional tiles, the places as canvas dots) depends only on the dataset and the
display choices, so it stays identical between clicks and the browser keeps it mounted (the page builds it
once per display choice); everything that changes per query is the script of :func:`results_script`, which
streamlit-folium swaps in place.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import cast

import folium
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from services.geo.ellipsoid import ellipsoid_circle
from services.geo.errors import InvalidSearchError
from services.geo.sphere import geodesic_circle, great_circle_path, longitude_near, wrap_longitude

#: Base maps: key -> (label, tile URL or None, attribution).
BASE_MAPS: dict[str, tuple[str, str | None, str]] = {
    "outlines": ("Country outlines (offline)", None, "Natural Earth"),
    "osm": (
        "OpenStreetMap tiles",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    ),
    "carto": (
        "CartoDB Positron tiles",
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        '&copy; OpenStreetMap contributors &copy; <a href="https://carto.com/attributions">CARTO</a>',
    ),
}
#: Where the map opens; the view then follows the query through streamlit-folium's ``center``.
HOME_VIEW = ((30.0, 10.0), 3)
#: Web Mercator, what web maps draw, ends at atan(sinh(pi)) = 85.0511288°; this is a hair inside.
MERCATOR_MAX_LAT = 85.05112
#: Most result markers and lines drawn (the table still lists every result).
MAX_DRAWN_RESULTS = 500

QUERY_COLOR = "#d62728"
RESULT_COLOR = "#1f77b4"
PLACE_COLOR = "#6b6b6b"


#: Publishes a text file for the map's iframe to load: (file name, text) -> its URL (``components.static_files``).
Publish = Callable[[str, str], str]
#: Where the published data scripts put their payloads in the map's iframe.
DATA_GLOBAL = "explorableMapData"


@lru_cache(maxsize=1)
def leaflet_files() -> tuple[str, str] | None:
    """Leaflet's JS and CSS text from the xstatic-leaflet package, so the map needs no CDN; None without it."""
    try:
        from xstatic.pkg import leaflet
    except ImportError:
        return None
    folder = Path(leaflet.BASE_DIR)
    return (folder / "leaflet.js").read_text(encoding="utf-8"), (folder / "leaflet.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] | None:
    """Leaflet's JS and CSS as data: URLs (see :func:`leaflet_files`), for a map embedded in one document.

    None when that package is missing: the map then loads Leaflet from folium's CDN links (online only).
    """
    files = leaflet_files()
    if files is None:
        return None
    js = base64.b64encode(files[0].encode()).decode("ascii")
    css = base64.b64encode(files[1].encode()).decode("ascii")
    return (
        (("leaflet", f"data:text/javascript;base64,{js}"),),
        (("leaflet_css", f"data:text/css;base64,{css}"),),
    )


class LeafletMap(folium.Map):
    """A folium map that loads only Leaflet itself, from the installed package when available.

    folium's default list (jQuery, Bootstrap, Font Awesome, from CDNs) is not needed for vector layers and
    would stop the whole map from rendering offline.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assets = leaflet_assets()
        if assets is not None:
            self.default_js = list(assets[0])
            self.default_css = list(assets[1])


class _RawScript(Element):
    """JavaScript that is already rendered, added to the figure as-is."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _ScriptElement(MacroElement):
    """A MacroElement whose rendered script is not fed back through Jinja.

    branca's ``MacroElement.render`` wraps each rendered script in ``Element(text)``, which compiles it as
    a new template: slow for hundreds of kB of coordinates, and unsafe for text from uploads (a place named
    ``{{ ... }}`` would be evaluated on the server). streamlit-folium reads the ``script`` macro directly.
    """

    # MacroElement.render, the method overridden, returns None; branca annotates only Element.render (-> str).
    def render(self, **kwargs) -> None:  # type: ignore[override]
        script = self._template.module.__dict__["script"]
        cast(Figure, self.get_root()).script.add_child(_RawScript(script(self, kwargs)), name=self.get_name())


class _Outlines(_ScriptElement):
    """Country outlines from the compact form of :func:`outlines_json`, decoded to GeoJSON in the browser
    and drawn under everything else, never clickable."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (packed) {
            function ring(deltas) {
                var out = [], x = 0, y = 0;
                for (var i = 0; i < deltas.length; i += 2) {
                    x += deltas[i]; y += deltas[i + 1];
                    out.push([x / packed.scale, y / packed.scale]);
                }
                return out;
            }
            var features = packed.shapes.map(function (shape) {
                var polygons = shape.polygons.map(function (rings) { return rings.map(ring); });
                return {type: "Feature", properties: {}, geometry: shape.type === "Polygon"
                    ? {type: "Polygon", coordinates: polygons[0]}
                    : {type: "MultiPolygon", coordinates: polygons}};
            });
            return L.geoJSON({type: "FeatureCollection", features: features}, {
                style: {color: "#8a96a8", weight: 0.7, fill: true, fillColor: "#f4f1ea", fillOpacity: {{ this.fill }}},
                interactive: false
            });
        })({{ this.geojson }}).addTo({{ this._parent.get_name() }});
        {% if this.ocean -%}
        {{ this._parent.get_name() }}.getContainer().style.background = "{{ this.ocean }}";
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, geojson: str, *, with_tiles: bool):
        super().__init__()
        self._name = "Outlines"
        self.geojson = geojson
        self.fill = 0 if with_tiles else 1
        self.ocean = None if with_tiles else "#d7e6f2"


class _FallbackTiles(_ScriptElement):
    """A tile layer that removes itself and says so when its tiles fail (offline), leaving the outlines."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.tileLayer({{ this.url|tojson }}, {
            attribution: {{ this.attribution|tojson }}, maxZoom: 19
        }).addTo({{ this._parent.get_name() }});
        {{ this.get_name() }}.on("tileerror", function () {
            var map = {{ this._parent.get_name() }};
            if (!map.hasLayer({{ this.get_name() }})) { return; }
            map.removeLayer({{ this.get_name() }});
            map.getContainer().style.background = "#d7e6f2";
            var note = L.control({position: "bottomleft"});
            note.onAdd = function () {
                var box = L.DomUtil.create("div");
                box.style.cssText = "background:#fff;padding:2px 6px;font:12px sans-serif;border-radius:3px";
                box.textContent = "Map tiles could not load: showing the offline outlines";
                return box;
            };
            note.addTo(map);
        });
        {% endmacro %}
        """
    )

    def __init__(self, url: str, attribution: str):
        super().__init__()
        self._name = "FallbackTiles"
        self.url = url
        self.attribution = attribution


class _CanvasDots(_ScriptElement):
    """Many places as small circles on one canvas: no DOM element per point, and clicks pass through."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var renderer = L.canvas({padding: 0.5});
            var layer = L.layerGroup();
            var points = {{ this.points }};
            for (var i = 0; i < points.length; i++) {
                L.circleMarker(points[i], {
                    renderer: renderer, radius: 2, stroke: false,
                    fillColor: "{{ this.color }}", fillOpacity: 0.55, interactive: false
                }).addTo(layer);
            }
            return layer;
        })().addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, points_json: str, *, color: str = PLACE_COLOR):
        super().__init__()
        self._name = "CanvasDots"
        self.points = points_json
        self.color = color


class _InstantClick(_ScriptElement):
    """A click on the map reported at once: streamlit-folium reports it only after a 250 ms debounce (most
    of the 300 ms a click may take to paint). This handler runs first and sends the value the debounced call
    would send, in the same form, so that call then finds nothing new and sends nothing. It acts only when
    the page asks for ``last_clicked`` alone; otherwise (or without streamlit-folium's globals) the component's
    own path is left to do its work."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on("click", function (event) {
            var state = window.__GLOBAL_DATA__, streamlit = window.Streamlit;
            if (!state || !streamlit || !state.returned_objects || state.returned_objects.join() !== "last_clicked"
                || state.wrap_longitude) { return; }
            var value = {last_clicked: event.latlng};
            state.lat_lng_clicked = event.latlng;
            if (JSON.stringify(value) === JSON.stringify(state.previous_data)) { return; }
            state.previous_data = value;
            streamlit.setComponentValue(value);
        });
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "InstantClick"


#: The name streamlit-folium gives the first layer group it adds: its frontend removes the groups listed in
#: ``window.feature_group`` and evaluates the new layer's script against ``map_div``, the map.
LAYER_GROUP = "feature_group_feature_group_0"
#: Draws the query, its results, great-circle lines and the radius circle in the browser from one JSON payload
#: (one script instead of one folium object per marker and line).
_RESULTS_JS = """(function (group, data) {
    var renderer = L.canvas({padding: 0.5});
    data.paths.forEach(function (path) {
        L.polyline(path, {color: data.result_color, weight: data.line_weight, opacity: 0.7,
                          interactive: false, renderer: renderer}).addTo(group);
    });
    data.results.forEach(function (r) {
        L.circleMarker([r[0], r[1]], {radius: data.marker_radius, color: "#fff",
                                      weight: data.marker_radius > 4 ? 1.5 : 0.8,
                                      fillColor: data.result_color, fillOpacity: 0.95,
                                      bubblingMouseEvents: false})
            .bindTooltip(r[2]).addTo(group);
    });
    data.circle.forEach(function (rings) {
        L.polygon(rings, {color: data.query_color, weight: 1.5, dashArray: "6 4", fillOpacity: 0.06,
                          interactive: false}).addTo(group);
    });
    L.circleMarker(data.query, {radius: 7, color: "#fff", weight: 2, fillColor: data.query_color,
                                fillOpacity: 1, bubblingMouseEvents: false})
        .bindTooltip(data.query_label).addTo(group);
    // streamlit-folium runs this only when the results change: fit the view to them then, and
    // leave the reader's own panning and zooming alone otherwise.
    if (data.bounds && window.map && window.map.fitBounds) {
        window.map.fitBounds(data.bounds, {padding: [24, 24], maxZoom: 12, animate: false});
    }
    return group;
})"""


def _rounded(points) -> list[list[float]]:
    """Vertices rounded to 1e-5° (about 1 m): plenty for a line on a web map, and a third of the bytes."""
    return [[round(lat, 5), round(lon, 5)] for lat, lon in points]


def _beside(path, query_lon: float) -> list[list[float]]:
    """A path's [lat, lon] vertices with longitudes shifted beside the query's, rounded as :func:`_rounded`
    does (in one array operation per path: a map click draws up to 500 of them)."""
    vertices = np.array(path, dtype=float)
    vertices[:, 1] = longitude_near(vertices[:, 1], query_lon)
    return np.round(vertices, 5).tolist()


def _html_text(text: str) -> str:
    """Text for a tooltip (HTML): escaped, and with braces as entities so no template engine can see them."""
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")


#: Outline vertices are sent as whole multiples of 1/OUTLINE_SCALE degrees (the outlines are rounded to
#: 0.01° already), each vertex as the step from the previous one: small integers, 2.5x fewer bytes than
#: GeoJSON text, and the map is resent on every rerun of its panel.
OUTLINE_SCALE = 100


def outlines_json(geojson: dict) -> str:
    """Polygon / MultiPolygon features of a GeoJSON FeatureCollection in the compact form the outlines
    layer decodes: ``{"scale", "shapes": [{"type", "polygons": [[ring deltas...]...]}]}`` (the page caches it)."""
    shapes = []
    for feature in geojson.get("features", []):
        geometry = feature.get("geometry") or {}
        kind = geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            continue
        polygons = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
        shapes.append({"type": kind, "polygons": [[_ring_deltas(ring) for ring in rings] for rings in polygons]})
    return json.dumps({"scale": OUTLINE_SCALE, "shapes": shapes}, separators=(",", ":"))


def _ring_deltas(ring) -> list[int]:
    """[x0, y0, dx1, dy1, ...] in 1/OUTLINE_SCALE degrees."""
    steps = np.rint(np.asarray(ring, dtype=float)[:, :2] * OUTLINE_SCALE).astype(np.int64)
    steps[1:] -= steps[:-1].copy()
    return steps.ravel().tolist()


def dots_json(places: pd.DataFrame) -> str:
    """[[lat, lon], ...] rounded to 0.001° (about 100 m) for the canvas dots layer; places within 20° of
    the antimeridian are repeated one turn over, so a map centred near ±180 shows both sides."""
    lat = places["lat"].to_numpy(dtype=float)
    lon = places["lon"].to_numpy(dtype=float)
    east, west = lon > 160.0, lon < -160.0
    pairs = np.column_stack([
        np.concatenate([lat, lat[east], lat[west]]),
        np.concatenate([lon, lon[east] - 360.0, lon[west] + 360.0]),
    ])
    return json.dumps(np.round(pairs, 3).tolist(), separators=(",", ":"))


def display_sample(places: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` places to draw: the most populous first (ties by row), so the map shows the
    places a reader knows. Searching always uses every place."""
    if len(places) <= max_points:
        return places
    population = pd.to_numeric(places["population"], errors="coerce").fillna(-1).to_numpy()
    keep = np.lexsort((np.arange(len(places)), -population))[:max_points]
    return places.iloc[np.sort(keep)]


def clicked_query(click: object) -> tuple[float, float] | None:
    """The query point of a map click as streamlit-folium reports it (``{"lat", "lng"}``, longitude possibly
    on a repeated world copy beyond ±180), rounded to 1e-6° (~0.1 m); None when it is not a click."""
    if not isinstance(click, dict):
        return None
    try:
        lat, lng = float(click["lat"]), float(click["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        return None
    return round(min(90.0, max(-90.0, lat)), 6), round(float(wrap_longitude(lng)), 6)


#: The smallest area the view zooms to around a query (km across), so a lone result next to the query
#: still shows its surroundings.
MIN_VIEW_KM = 60.0
Bounds = tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east)), Leaflet's order


def fit_bounds(query_lat: float, query_lon: float, lats, lons, circle=()) -> Bounds:
    """The box a web map should show: the query, every result and the radius circle, at least
    :data:`MIN_VIEW_KM` across, in Web Mercator's latitude range.

    Longitudes are taken beside the query (across ±180 the box runs past 180 instead of spanning the whole
    world), the same way the results are drawn. ``circle`` is the radius circle as drawn
    (:func:`~services.geo.sphere.geodesic_circle` without the split). A circle or result set around a pole
    spans every longitude.
    """
    lats = np.atleast_1d(np.asarray(lats, dtype=float))
    lons = np.atleast_1d(np.asarray(longitude_near(np.asarray(lons, dtype=float), query_lon)))
    lat_values = [query_lat, *lats.tolist()]
    lon_values = [query_lon, *lons.tolist()]
    for polygon in circle:
        ring = np.asarray(polygon[0], dtype=float)
        lat_values += ring[:, 0].tolist()
        lon_values += ring[:, 1].tolist()
    south, north = min(lat_values), max(lat_values)
    west, east = min(lon_values), max(lon_values)
    # At least MIN_VIEW_KM across, measured at the box's middle latitude.
    half_lat = MIN_VIEW_KM / 2 / 111.195
    middle = (south + north) / 2
    half_lon = min(180.0, half_lat / max(math.cos(math.radians(middle)), 1e-6))
    if north - south < 2 * half_lat:
        south, north = middle - half_lat, middle + half_lat
    if east - west < 2 * half_lon:
        centre = (west + east) / 2
        west, east = centre - half_lon, centre + half_lon
    if east - west >= 360.0:
        west, east = query_lon - 180.0, query_lon + 180.0
    # Web maps end at ±85.05°: keep the box inside (and at least the minimum height) so a polar query
    # shows the nearest land instead of a blank strip past the edge of the projection.
    south = max(-MERCATOR_MAX_LAT, min(south, MERCATOR_MAX_LAT - 2 * half_lat))
    north = min(MERCATOR_MAX_LAT, max(north, -MERCATOR_MAX_LAT + 2 * half_lat))
    return (round(south, 5), round(west, 5)), (round(north, 5), round(east, 5))


def marker_radius(count: int) -> float:
    """Result marker size in pixels: smaller as results get many, so they do not bury the query point."""
    if count <= 20:
        return 6.0
    if count <= 100:
        return 4.0
    return 2.5


def base_map(outlines: str | None, base: str, dots: str | None, *, height: int = 560,
             publish: Publish | None = None) -> folium.Map:
    """The map without any query: outlines (always, so a failed tile load still leaves a map), optional
    tiles, and a sample of places as canvas dots (``outlines`` / ``dots`` from :func:`outlines_json` /
    :func:`dots_json`).

    With ``publish``, Leaflet, the outlines and the dots go to the browser as files the iframe loads (and
    caches) before the map's script runs, and the map's own script only names them: streamlit-folium resends
    that script with every rerun (every click), and inline they were ~480 kB of it."""
    if base not in BASE_MAPS:
        raise InvalidSearchError(f"unknown base map {base!r}; choose one of {', '.join(BASE_MAPS)}")
    (lat, lon), zoom = HOME_VIEW
    fmap = LeafletMap(
        location=[lat, lon],
        zoom_start=zoom,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        world_copy_jump=True,
        height=height,
    )
    files = leaflet_files() if publish is not None else None
    if publish is not None and files is not None:
        fmap.default_js = [("leaflet", publish("leaflet.js", files[0]))]
        fmap.default_css = [("leaflet_css", publish("leaflet.css", files[1]))]
    _, url, attribution = BASE_MAPS[base]
    if url is not None:
        fmap.add_child(_FallbackTiles(url, attribution))
    if outlines is not None:
        fmap.add_child(_Outlines(_data(fmap, "outlines", outlines, publish), with_tiles=url is not None))
    if dots:
        fmap.add_child(_CanvasDots(_data(fmap, "dots", dots, publish)))
    fmap.add_child(_InstantClick())
    return fmap


def _data(fmap: folium.Map, name: str, payload: str, publish: Publish | None) -> str:
    """A JavaScript expression for the JSON ``payload``: the payload itself, or, with ``publish``, the global a
    published script (loaded before the map's script, in order) sets to it."""
    if publish is None:
        return payload
    script = f"(window.{DATA_GLOBAL} = window.{DATA_GLOBAL} || {{}})[{json.dumps(name)}] = {payload};\n"
    fmap.default_js = [*fmap.default_js, (f"{name}_data", publish(f"{name}.js", script))]
    return f"window.{DATA_GLOBAL}[{json.dumps(name)}]"


def results_script(
    query_lat: float, query_lon: float, results: pd.DataFrame, radius_km: float | None, model: str = "sphere"
) -> str:
    """The results layer as the script streamlit-folium's frontend swaps in on every query (its
    ``feature_group`` argument), built as text: no folium objects or Jinja templates per rerun, and no
    template engine ever sees a place name."""
    payload = json.dumps(results_payload(query_lat, query_lon, results, radius_km, model), separators=(",", ":"))
    return (f"var {LAYER_GROUP} = L.featureGroup({{}});\n"
            f"{_RESULTS_JS}({LAYER_GROUP}, {payload});\n"
            f"map_div.addLayer({LAYER_GROUP});\n"
            "window.feature_group = window.feature_group || [];\n"
            f"window.feature_group.push({LAYER_GROUP});\n")


def results_payload(
    query_lat: float, query_lon: float, results: pd.DataFrame, radius_km: float | None, model: str = "sphere"
) -> dict:
    """What the results layer draws: the query point, great-circle lines to each result, the results, the
    geodesic radius circle, and the view that fits them.

    ``results`` has ``lat``, ``lon``, ``name`` and ``distance_km`` columns, nearest first; at most
    :data:`MAX_DRAWN_RESULTS` are drawn.
    """
    count = min(len(results), MAX_DRAWN_RESULTS)
    lats = results["lat"].to_numpy(dtype=float)[:count]
    raw_lons = results["lon"].to_numpy(dtype=float)[:count]
    distances = results["distance_km"].to_numpy(dtype=float)[:count].tolist()
    # Beside the query, even across ±180 (Leaflet draws vectors at their literal longitude).
    lons = np.atleast_1d(longitude_near(raw_lons, query_lon))
    # On the ellipsoid the circle's edge is at the geodesic radius, for any radius (cut locus included).
    circle: list = []
    if radius_km and model == "ellipsoid":
        circle = ellipsoid_circle(query_lat, query_lon, radius_km, split_at_antimeridian=False)
    elif radius_km:
        circle = geodesic_circle(query_lat, query_lon, radius_km, split_at_antimeridian=False)
    paths = [
        path
        for lat, lon, distance in zip(lats.tolist(), raw_lons.tolist(), distances)
        for path in great_circle_path(query_lat, query_lon, lat, lon, segments=min(32, 1 + int(distance // 50)))
    ]
    payload = {
        "bounds": fit_bounds(query_lat, query_lon, lats, lons, circle),
        "marker_radius": marker_radius(count),
        "line_weight": 1.2 if count <= 100 else 0.6,
        "query": [query_lat, query_lon],
        "query_label": f"Query point {query_lat:.5f}, {query_lon:.5f}",
        "query_color": QUERY_COLOR,
        "result_color": RESULT_COLOR,
        "circle": [[_rounded(ring) for ring in polygon] for polygon in circle],
        "paths": [_beside(path, query_lon) for path in paths],
        "results": [
            [lat, lon, f"{rank}. {_html_text(str(name))} — {distance:,.2f} km"]
            for rank, (lat, lon, name, distance) in enumerate(
                zip(lats.tolist(), lons.tolist(), results["name"].iloc[:count].tolist(), distances), start=1
            )
        ],
    }
    return payload
