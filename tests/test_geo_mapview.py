"""Map pieces: the base map needs no CDN and stays identical between queries; the results layer holds what
was found, geodesic and escaped."""

import json
import re

import pandas as pd
import pytest
from streamlit_folium import _get_map_string, generate_js_hash

from services.geo.mapview import (
    BASE_MAPS,
    MAX_DRAWN_RESULTS,
    base_map,
    display_sample,
    dots_json,
    leaflet_assets,
    outlines_json,
    results_script,
)
from services.geo.places import country_outlines

OUTLINES = outlines_json({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {},
     "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 1], [0, 0]]]}}
]})


def _links(fmap):
    fmap.get_root().render()
    js = [url for element in _walk(fmap) for _, url in getattr(element, "default_js", [])]
    css = [url for element in _walk(fmap) for _, url in getattr(element, "default_css", [])]
    return js, css


def _walk(element):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def _results(names, distances=None):
    distances = distances or [1.0 + i for i in range(len(names))]
    return pd.DataFrame({"name": names, "lat": [48.9 + i / 10 for i in range(len(names))],
                         "lon": [2.4] * len(names), "distance_km": distances})


def test_leaflet_comes_from_the_installed_package():
    assets = leaflet_assets()
    assert assets is not None, "xstatic-leaflet is needed for a map that works offline"
    js, css = _links(base_map(OUTLINES, "outlines", None))
    assert js and all(url.startswith("data:text/javascript;base64,") for url in js)
    assert css and all(url.startswith("data:text/css;base64,") for url in css)


def test_offline_base_map_has_outlines_and_no_tiles():
    script = _get_map_string(base_map(OUTLINES, "outlines", dots_json(_results(["a", "b"]))))
    assert "L.geoJSON" in script and '"Polygon"' in script
    assert "tileLayer" not in script
    assert "L.canvas" in script and "[48.9,2.4],[49.0,2.4]" in script


@pytest.mark.parametrize("base", ["osm", "carto"])
def test_tile_base_maps_fall_back_to_outlines(base):
    script = _get_map_string(base_map(OUTLINES, base, None))
    assert BASE_MAPS[base][1] in script.replace("\\/", "/")
    assert 'on("tileerror"' in script and "L.geoJSON" in script


def test_unknown_base_map():
    with pytest.raises(ValueError, match="unknown base map"):
        base_map(OUTLINES, "satellite", None)


def test_base_map_is_the_same_component_between_queries():
    """streamlit-folium remounts the map when its script changes: it must not depend on the query."""
    first = generate_js_hash(_get_map_string(base_map(OUTLINES, "outlines", None)), "nn_map")
    second = generate_js_hash(_get_map_string(base_map(OUTLINES, "outlines", None)), "nn_map")
    assert first == second
    # What the page does per query: the same base map, plus a results layer for that query, rendered as
    # st_folium renders them. The query reaches the browser through the layer only.
    hashes, layers = set(), set()
    for lat, lon in [(48.85, 2.35), (-33.87, 151.21), (0.0, 179.9)]:
        fmap = base_map(OUTLINES, "outlines", None)
        layers.add(results_script(lat, lon, _results(["a", "b"]), radius_km=20.0))
        hashes.add(generate_js_hash(_get_map_string(fmap), "nn_map"))
    assert len(layers) == 3, "each query must change the results layer"
    assert len(hashes) == 1, "the map's own script (and so the component) must not change with the query"


def test_real_outlines_render_quickly_enough_to_embed():
    text = outlines_json(country_outlines())
    assert 100_000 < len(text) < 600_000
    assert "{{" not in text and "{%" not in text


def test_results_layer_payload():
    script = results_script(48.85, 2.35, _results(["A", "B", "C"]), radius_km=20.0)
    payload = json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\{.*\})\);", script, re.S)[1])
    assert payload["query"] == [48.85, 2.35]
    assert [r[2] for r in payload["results"]] == ["1. A — 1.00 km", "2. B — 2.00 km", "3. C — 3.00 km"]
    assert len(payload["paths"]) == 3
    assert len(payload["circle"]) == 1 and len(payload["circle"][0][0]) > 100


def test_results_layer_without_radius_and_across_the_antimeridian():
    far = pd.DataFrame({"name": ["east"], "lat": [0.0], "lon": [-179.0], "distance_km": [222.4]})
    script = results_script(0.0, 179.0, far, radius_km=None)
    payload = json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\{.*\})\);", script, re.S)[1])
    assert payload["circle"] == []
    # The great circle is cut at ±180, and both pieces are drawn beside the query, not a world apart.
    assert len(payload["paths"]) == 2
    assert all(179.0 <= lon <= 181.0 for path in payload["paths"] for _, lon in path)
    assert payload["results"][0][:2] == [0.0, 181.0]


def test_radius_circle_across_the_antimeridian_is_drawn_whole_beside_the_query():
    near = pd.DataFrame({"name": ["x"], "lat": [-16.5], "lon": [-179.9], "distance_km": [32.0]})
    script = results_script(-16.5, 179.8, near, radius_km=300.0)
    payload = json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\{.*\})\);", script, re.S)[1])
    (polygon,) = payload["circle"]
    lons = [lon for _, lon in polygon[0]]
    assert min(lons) > 176.0 and max(lons) > 180.0  # one ring in continuous longitude, no seam


def test_names_cannot_inject_html_or_templates():
    script = results_script(0.0, 0.0, _results(["{{ 7*7 }}", "<img src=x onerror=alert(1)>"]), radius_km=None)
    assert "&#123;&#123; 7*7 &#125;&#125;" in script
    assert "1. 49" not in script
    assert "<img" not in script and "&lt;img src=x onerror=alert(1)&gt;" in script


def test_many_results_are_capped_on_the_map():
    many = _results([f"p{i}" for i in range(MAX_DRAWN_RESULTS + 50)])
    script = results_script(48.0, 2.0, many, radius_km=None)
    payload = json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\{.*\})\);", script, re.S)[1])
    assert len(payload["results"]) == MAX_DRAWN_RESULTS


def test_display_sample_takes_the_most_populous():
    places = pd.DataFrame({"name": list("abcde"), "population": [10, None, 30, 20, 30],
                           "lat": [1.0, 2, 3, 4, 5], "lon": [1.0, 2, 3, 4, 5]})
    assert display_sample(places, 3)["name"].tolist() == ["c", "d", "e"]  # original order kept
    assert display_sample(places, 10) is places


def test_dots_are_rounded_pairs():
    dots = json.loads(dots_json(pd.DataFrame({"lat": [1.23456, 5.0], "lon": [-179.99999, 10.0]})))
    assert dots == [[1.235, -180.0], [5.0, 10.0], [1.235, 180.0]]  # near ±180 also one turn over


# --- fitting the view to the results (issue 17, defect 4) ----------------------------------------------

from services.geo.mapview import MERCATOR_MAX_LAT, MIN_VIEW_KM, clicked_query, fit_bounds, marker_radius  # noqa: E402
from services.geo.sphere import geodesic_circle, haversine_km  # noqa: E402


def _inside(bounds, lat, lon):
    (south, west), (north, east) = bounds
    return south - 1e-9 <= lat <= north + 1e-9 and west - 1e-9 <= lon <= east + 1e-9


def test_the_view_holds_the_query_and_every_result():
    lats, lons = [48.86, 48.9, 49.5, 47.2], [2.35, 2.4, 3.1, 1.0]
    bounds = fit_bounds(48.8566, 2.3522, lats, lons)
    assert all(_inside(bounds, a, b) for a, b in zip(lats, lons)) and _inside(bounds, 48.8566, 2.3522)
    (south, west), (north, east) = bounds
    assert north - south < 3 and east - west < 3  # tight: not the whole of Europe


def test_results_within_two_km_still_get_the_minimum_extent():
    (south, west), (north, east) = fit_bounds(48.8566, 2.3522, [48.86], [2.36])
    height_km = haversine_km(south, 2.35, north, 2.35)
    width_km = haversine_km(48.8566, west, 48.8566, east)
    assert MIN_VIEW_KM * 0.99 <= height_km <= MIN_VIEW_KM * 1.01
    assert MIN_VIEW_KM * 0.99 <= width_km <= MIN_VIEW_KM * 1.01


def test_across_the_antimeridian_the_box_runs_past_180_instead_of_round_the_world():
    bounds = fit_bounds(0.0, 179.9, [0.5, -1.0, 2.0], [-179.5, 179.0, -178.0])
    (south, west), (north, east) = bounds
    assert west > 170 and east > 180 and east - west < 10
    assert _inside(bounds, 0.5, -179.5 + 360) and _inside(bounds, 0.0, 179.9)
    circle = geodesic_circle(0.0, 179.9, 1000.0, split_at_antimeridian=False)
    (south, west), (north, east) = fit_bounds(0.0, 179.9, [], [], circle)
    assert 170 < west < 171.1 and 188.8 < east < 190 and -9.1 < south < -8.9 and 8.9 < north < 9.1


@pytest.mark.parametrize("query_lat", [89.9, -89.9, 90.0])
def test_near_a_pole_the_box_stays_on_the_web_map(query_lat):
    side = 1 if query_lat > 0 else -1
    lats = [side * 80.0, side * 78.2, side * 82.5]
    lons = [-60.0, 15.6, 120.0]
    (south, west), (north, east) = fit_bounds(query_lat, 10.0, lats, lons)
    assert -MERCATOR_MAX_LAT <= south < north <= MERCATOR_MAX_LAT
    assert south <= min(lats) and north >= max(lats)
    assert east - west == pytest.approx(360.0) or all(west <= lon <= east for lon in lons)
    # Alone at the pole: still a box with some height on the map, not an empty strip past its edge.
    (south, _), (north, _) = fit_bounds(query_lat, 10.0, [], [])
    assert north - south > 0.5


def test_a_circle_larger_than_a_hemisphere_shows_the_world():
    circle = geodesic_circle(10.0, 20.0, 15000.0, split_at_antimeridian=False)
    (south, west), (north, east) = fit_bounds(10.0, 20.0, [], [], circle)
    assert east - west == pytest.approx(360.0) and south == pytest.approx(-MERCATOR_MAX_LAT, abs=1e-4)


def test_many_results_are_drawn_smaller():
    assert marker_radius(10) > marker_radius(60) > marker_radius(300)


def test_results_layer_fits_the_view_and_sizes_markers():
    many = _results([f"p{i}" for i in range(300)])
    script = results_script(48.85, 2.35, many, radius_km=None)
    payload = json.loads(re.search(r"\}\)\(feature_group_feature_group_0, (\{.*\})\);", script, re.S)[1])
    assert payload["marker_radius"] == marker_radius(300)
    (south, _), (north, _) = payload["bounds"]
    assert south <= 48.85 and north >= 48.9 + 299 / 10
    assert "fitBounds(data.bounds" in script


def test_outlines_travel_compactly_and_decode_to_the_same_vertices():
    geojson = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[179.5, -16.1], [180.0, -16.1], [180.0, -17.0], [179.5, -16.1]]],
            [[[-1.25, 2.5], [3.0, 4.0], [0.0, 0.5], [-1.25, 2.5]]]]}}
    ]}
    packed = json.loads(outlines_json(geojson))
    ring = packed["shapes"][0]["polygons"][1][0]
    x = y = 0
    decoded = []
    for dx, dy in zip(ring[::2], ring[1::2]):  # what the layer's JavaScript does
        x, y = x + dx, y + dy
        decoded.append([x / packed["scale"], y / packed["scale"]])
    assert decoded == [[-1.25, 2.5], [3.0, 4.0], [0.0, 0.5], [-1.25, 2.5]]
    real = outlines_json(country_outlines())
    assert len(real) < 0.5 * len(json.dumps(country_outlines(), separators=(",", ":")))


def test_map_clicks_become_query_points():
    assert clicked_query({"lat": -18.14, "lng": 178.44 - 360.0}) == (-18.14, 178.44)
    assert clicked_query({"lat": 95.0, "lng": 0.0}) == (90.0, 0.0)
    assert clicked_query(None) is None and clicked_query({"lat": "x", "lng": 1}) is None
    assert clicked_query({"lat": float("nan"), "lng": 1.0}) is None


# --- issue 17: the big constant data travels as files, not inside every rerun's script ---------------------


def _publisher():
    published: dict[str, str] = {}

    def publish(name: str, text: str) -> str:
        url = f"files/{len(published)}-{name}"
        published[url] = text
        return url

    return published, publish


def test_published_map_names_its_data_instead_of_carrying_it():
    outlines = outlines_json(country_outlines())
    dots = dots_json(_results(["a", "b"]))
    inline = _get_map_string(base_map(outlines, "outlines", dots))
    published, publish = _publisher()
    fmap = base_map(outlines, "outlines", dots, publish=publish)
    script = _get_map_string(fmap)
    assert outlines in inline and outlines not in script and dots not in script
    assert len(script) < 20_000 < len(inline), (len(script), len(inline))
    js, css = _links(fmap)
    # Loaded in this order before the map's script: Leaflet, then the data the script names.
    assert [url.split("-", 1)[1] for url in js] == ["leaflet.js", "outlines.js", "dots.js"]
    assert [url.split("-", 1)[1] for url in css] == ["leaflet.css"]
    assert published[js[0]].startswith("/*") and "L.version" not in script  # Leaflet itself, not in the script
    assert published[js[1]] == ('(window.explorableMapData = window.explorableMapData || {})["outlines"] = '
                                f"{outlines};\n")
    assert 'window.explorableMapData["outlines"]' in script and 'window.explorableMapData["dots"]' in script


def test_published_map_is_the_same_component_between_queries():
    hashes = set()
    for lat, lon in [(48.85, 2.35), (-33.87, 151.21)]:
        _, publish = _publisher()
        fmap = base_map(OUTLINES, "outlines", None, publish=publish)
        results_script(lat, lon, _results(["a"]), radius_km=None)
        hashes.add(generate_js_hash(_get_map_string(fmap), "nn_map"))
    assert len(hashes) == 1
