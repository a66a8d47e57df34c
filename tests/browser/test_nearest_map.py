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


# --- issue 17: the view fits the results, the picker follows the query, small screens -----------------

#: Records every value the map sends to Streamlit, then fires a click the way Leaflet does.
SPY = """() => {
    window.__sent = [];
    const send = window.Streamlit.setComponentValue;
    window.Streamlit.setComponentValue = (value) => { window.__sent.push(JSON.stringify(value)); return send(value); };
}"""
FIRE = """() => { window.map.fire("click", {latlng: L.latLng(10.5, 20.25)}); return window.__sent.slice(); }"""


def test_a_click_is_sent_at_once_and_only_once(page, app_url):
    """streamlit-folium sends a click after a 250 ms debounce, most of the 300 ms a click may take to paint;
    the page's own handler sends it in the same event, and the debounced call then sends nothing more."""
    page.goto(f"{app_url}/map?nn_lat=48.8566&nn_lon=2.3522&nn_k=7")
    settle(page)
    leaflet = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=60_000)
    _drawn(leaflet, 48.8566, 2.3522)
    leaflet.evaluate(SPY)
    sent_in_the_click = leaflet.evaluate(FIRE)
    assert sent_in_the_click == ['{"last_clicked":{"lat":10.5,"lng":20.25}}']
    _drawn(leaflet, 10.5, 20.25)  # the page reran for the click and drew its results
    time.sleep(0.6)  # past the debounce
    assert leaflet.evaluate("() => window.__sent.length") == 1
    settle(page)
    assert _summary(page)[1:] == (10.5, 20.25)
    assert_clean(page)


VIEW = """() => {
    const groups = (window.feature_group || []).filter((group) => window.map.hasLayer(group));
    if (groups.length !== 1) return null;
    const view = window.map.getBounds();
    const layers = groups[0].getLayers();
    const markers = layers.filter((layer) => layer.getLatLng);
    const shown = markers.filter((m) => view.contains(m.getLatLng()) ||
                                 view.contains([m.getLatLng().lat, m.getLatLng().lng + 360]) ||
                                 view.contains([m.getLatLng().lat, m.getLatLng().lng - 360]));
    return {zoom: window.map.getZoom(), center: window.map.getCenter(), markers: markers.length,
            shown: shown.length, radius: markers.length > 1 ? markers[0].options.radius : null,
            query: markers[markers.length - 1].getLatLng()};
}"""


def _leaflet(page):
    leaflet = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator("#map_div.leaflet-container")
    leaflet.wait_for(timeout=60_000)
    return leaflet


def _view(leaflet, lat: float, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        view = leaflet.evaluate(VIEW)
        if view and abs(view["query"]["lat"] - lat) < 1e-4:
            return view
        assert time.monotonic() < deadline, f"no results layer for lat {lat}: {view}"
        time.sleep(0.25)


def test_the_view_fits_the_results(page, app_url):
    # Paris: the 10 nearest lie within a few km; at the old fixed zoom 5 they were one blob.
    page.goto(f"{app_url}/map?nn_lat=48.8566&nn_lon=2.3522&nn_k=10")
    settle(page)
    view = _view(_leaflet(page), 48.8566)
    assert view["shown"] == view["markers"] == 11 and view["zoom"] >= 8, view


def test_the_view_fits_near_the_pole_and_across_the_antimeridian(page, app_url):
    page.goto(f"{app_url}/map?nn_lat=89.9&nn_lon=0&nn_k=5")
    settle(page)
    assert_clean(page)
    view = _view(_leaflet(page), 89.9)
    assert view["center"]["lat"] <= 85.06, view  # not centred past the edge of the web map (blank)
    assert view["shown"] >= 5, view  # the results, at 78-83° N, are on screen
    page.goto(f"{app_url}/map?nn_lat=0&nn_lon=179.9&nn_mode=radius&nn_radius=1000")
    settle(page)
    view = _view(_leaflet(page), 0.0)
    assert view["shown"] == view["markers"], view


def test_many_results_are_drawn_small_enough_to_see_the_query(page, app_url):
    page.goto(f"{app_url}/map?nn_lat=48.8566&nn_lon=2.3522&nn_mode=radius&nn_radius=150")
    settle(page)
    view = _view(_leaflet(page), 48.8566)
    assert view["markers"] > 101 and view["radius"] < 4, view
    assert view["shown"] == view["markers"], view


def _picked(picker) -> str:
    """What a selectbox shows as chosen (its value sits in the combobox, not in the label)."""
    return picker.locator('input[role="combobox"]').input_value()


def test_the_place_picker_follows_typed_coordinates(page, app_url):
    page.goto(f"{app_url}/map")
    settle(page)
    page.get_by_label("Find a place by name").fill("Reykjav")
    page.get_by_label("Find a place by name").press("Enter")
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="match")
    picker.wait_for(timeout=120_000)
    settle(page)
    picker.click()
    page.get_by_role("option").filter(has_text="Reykjavík · Iceland").first.click()
    settle(page)
    assert "Reykjavík" in _picked(picker)
    assert _summary(page)[1] == 64.13548 or abs(_summary(page)[1] - 64.1355) < 0.01
    latitude = page.get_by_label("Latitude (°)")
    latitude.fill("10.5")
    latitude.press("Enter")
    page.wait_for_function("() => document.body.innerText.includes('to (10.50000,')", timeout=60_000)
    settle(page)
    assert_clean(page)
    assert "Reykjavík" not in _picked(picker), "the picker still names a place the query left"


def test_an_upload_without_population_or_country_and_one_place(page, app_url):
    page.goto(f"{app_url}/map")
    settle(page)
    page.get_by_text("My file (CSV or GeoJSON)").click()
    settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        files=[{"name": "one.csv", "mimeType": "text/csv", "buffer": b"name,lat,lon\nLighthouse,48.8,2.3\n"}]
    )
    page.wait_for_function("() => document.body.innerText.includes('of 1 to (')", timeout=60_000)
    settle(page)
    assert_clean(page)
    body = page.inner_text("body")
    assert "1 place:" in body and "1 places" not in body
    grid = page.locator('[data-testid="stDataFrame"]').first
    headers = grid.locator('[role="columnheader"]').all_inner_texts()
    assert headers and "name" in headers, headers
    assert "population" not in headers and "country" not in headers, headers


def test_on_a_projector_the_coordinates_are_not_clipped(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = context.new_page()
    try:
        tab.goto(f"{app_url}/map")
        settle(tab)
        for label in ("Latitude (°)", "Longitude (°)"):
            scroll, client = tab.get_by_label(label).evaluate("(e) => [e.scrollWidth, e.clientWidth]")
            assert scroll <= client, f"{label}: text {scroll}px wide in a {client}px box"
    finally:
        context.close()


def test_on_a_phone_the_map_comes_first(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    try:
        tab.goto(f"{app_url}/map")
        settle(tab)
        tab.locator('iframe[title="streamlit_folium.st_folium"]').wait_for(timeout=60_000)
        map_top = tab.locator('iframe[title="streamlit_folium.st_folium"]').bounding_box()["y"]
        controls_top = tab.get_by_label("Find a place by name").bounding_box()["y"]
        assert map_top < controls_top and map_top < 844, (map_top, controls_top)
        screenshot(tab, "map-phone")
    finally:
        context.close()


# --- issue 16: batch mode ---------------------------------------------------------------------------------


def test_batch_join_upload_run_download(page, app_url):
    page.goto(f"{app_url}/map")
    settle(page)
    page.get_by_text("Many points: nearest places for a whole file").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').last.set_input_files(
        files=[{"name": "queries.csv", "mimeType": "text/csv",
                "buffer": b"name,lat,lon\nnear Paris,48.85,2.35\nnear Tokyo,35.68,139.69\n"}]
    )
    page.wait_for_function("() => document.body.innerText.includes('6 result rows')", timeout=60_000)
    page.get_by_role("button", name="Run the join").click()
    page.wait_for_function("() => document.body.innerText.includes('6 rows')", timeout=60_000)
    settle(page)
    assert_clean(page)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download the join (CSV)").click()
    text = open(download.value.path(), encoding="utf-8").read()
    lines = text.strip().splitlines()
    assert lines[0].startswith("query_idx,query_name,query_lat,query_lon,rank,place_idx,place_name") and len(lines) == 7
    assert "near Tokyo" in lines[-1]
    screenshot(page, "map-batch-join")
