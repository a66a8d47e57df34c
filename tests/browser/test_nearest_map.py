"""The map page in a real browser: Leaflet loads without a CDN, a click on the map moves the query point,
and the results for the new point are listed and drawn."""

import re
import time

from tests.browser.conftest import assert_clean, screenshot, settle

SUMMARY = re.compile(r"(\d+) places: the \d+ nearest of [\d,]+ to \((-?\d+\.\d+), (-?\d+\.\d+)\)")
# The results group on the map now (streamlit-folium keeps replaced groups in its list, off the map), its
# number of layers and where its query marker (added last) is.
DRAWN = """() => {
    const groups = (window.feature_group || []).filter((group) => window.map.hasLayer(group));
    if (groups.length !== 1) return null;
    const layers = groups[0].getLayers();
    const query = layers[layers.length - 1].getLatLng();
    return {layers: layers.length, lat: query.lat, lng: query.lng};
}"""


def _summary(page) -> tuple[int, float, float]:
    text = page.get_by_text(SUMMARY).first.inner_text()
    match = SUMMARY.search(text)
    assert match, text
    return int(match[1]), float(match[2]), float(match[3])


def _drawn(leaflet, lat: float, lng: float, timeout_s: float = 30) -> dict:
    """Wait until the map's results layer shows the query at (lat, lng); return what it holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        drawn = leaflet.evaluate(DRAWN)
        if drawn and abs(drawn["lat"] - lat) < 1e-4 and abs(drawn["lng"] - lng) < 1e-4:
            return drawn
        assert time.monotonic() < deadline, f"results layer not redrawn for ({lat}, {lng}): {drawn}"
        time.sleep(0.25)


def test_click_on_the_map_moves_the_query_and_shows_results(page, app_url):
    page.goto(f"{app_url}/map?nn_lat=48.8566&nn_lon=2.3522&nn_k=7")
    settle(page)
    assert_clean(page)
    assert _summary(page) == (7, 48.8566, 2.3522)

    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    leaflet = frame.locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=60_000)  # Leaflet itself loaded (no CDN needed) and built the map
    # 7 great-circle lines + 7 result markers + the query marker.
    assert _drawn(leaflet, 48.8566, 2.3522)["layers"] == 15
    box = leaflet.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200
    screenshot(page, "map-before-click")

    # The view is centred on the query; click 120 px right of and 80 px below the centre: east and south.
    leaflet.click(position={"x": box["width"] / 2 + 120, "y": box["height"] / 2 + 80})
    page.wait_for_function("() => !document.body.innerText.includes('to (48.85660, 2.35220)')", timeout=60_000)
    settle(page)
    assert_clean(page)
    count, lat, lng = _summary(page)
    assert count == 7
    assert lat < 48.8566 and lng > 2.3522
    assert page.get_by_label("Latitude (°)").input_value() == f"{lat:.5f}"
    assert _drawn(leaflet, lat, lng)["layers"] == 15
    screenshot(page, "map-after-click")
