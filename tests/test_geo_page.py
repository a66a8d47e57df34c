"""The nearest-neighbour map page driven through AppTest: query by coordinates, by a map click (the
component's session state), by place name and by URL; modes; engines; uploads; PostGIS availability."""

import json

import pandas as pd
import pytest

from services.geo.places import find_places, world_places
from services.geo.sphere import haversine_km
from tests.conftest import page_test
from views.nearest_map import INFO


def _run(at, check):
    at.run()
    check(at)
    return at


def _results(at) -> pd.DataFrame:
    frames = [frame.value for frame in at.dataframe]
    assert frames, "no results table"
    return frames[0]


@pytest.fixture
def page(no_exceptions):
    return _run(page_test("nearest_map"), no_exceptions)


def test_default_view_lists_the_ten_places_nearest_paris(page):
    assert INFO.title in page.title[0].value
    table = _results(page)
    assert list(table.columns) == ["rank", "name", "country", "population", "lat", "lon", "distance_km"]
    assert len(table) == 10 and table["rank"].tolist() == list(range(1, 11))
    assert table["distance_km"].is_monotonic_increasing
    assert table["name"].iloc[0].startswith("Paris") and set(table["country"]) == {"France"}
    expected = haversine_km(48.8566, 2.3522, table["lat"].to_numpy(), table["lon"].to_numpy())
    assert table["distance_km"].tolist() == pytest.approx(expected.tolist())
    assert any("10 places" in m.value and "6371.0088 km sphere" in m.value for m in page.markdown)
    assert [b.label for b in page.get("download_button")][:1] == ["Download results (CSV)"]


def test_typed_coordinates_move_the_query(page, no_exceptions):
    page.number_input(key="nn_lat").set_value(35.6895)
    page.number_input(key="nn_lon").set_value(139.6917)
    _run(page, no_exceptions)
    table = _results(page)
    assert table["country"].iloc[0] == "Japan" and table["distance_km"].iloc[0] < 10


def test_a_map_click_moves_the_query(page, no_exceptions):
    page.session_state["nn_map"] = {"last_clicked": {"lat": -18.14, "lng": 178.44 - 360.0}}  # a wrapped world copy
    _run(page, no_exceptions)
    assert page.number_input(key="nn_lat").value == pytest.approx(-18.14)
    assert page.number_input(key="nn_lon").value == pytest.approx(178.44)
    assert _results(page)["country"].iloc[0] == "Fiji"
    # The same click reported again (a rerun for another reason) does not undo a typed change.
    page.number_input(key="nn_lat").set_value(64.1466)
    page.number_input(key="nn_lon").set_value(-21.9426)
    _run(page, no_exceptions)
    assert _results(page)["country"].iloc[0] == "Iceland"


def test_radius_and_both_modes(page, no_exceptions):
    page.radio(key="nn_mode").set_value("radius")
    _run(page, no_exceptions)  # the radius input is enabled from now on
    page.number_input(key="nn_radius").set_value(30.0)
    _run(page, no_exceptions)
    within = _results(page)
    assert len(within) > 10 and (within["distance_km"] <= 30.0).all()
    page.radio(key="nn_mode").set_value("both")
    _run(page, no_exceptions)
    page.slider(key="nn_k").set_value(3)
    _run(page, no_exceptions)
    both = _results(page)
    assert both["name"].tolist() == within["name"].head(3).tolist()


def test_an_empty_radius_says_so(page, no_exceptions):
    page.number_input(key="nn_lat").set_value(-48.0)
    page.number_input(key="nn_lon").set_value(-140.0)
    page.radio(key="nn_mode").set_value("radius")
    _run(page, no_exceptions)
    page.number_input(key="nn_radius").set_value(5.0)
    _run(page, no_exceptions)
    assert not page.dataframe
    assert any("No place matches" in info.value for info in page.info)


def test_every_engine_gives_the_same_table(page, no_exceptions):
    page.number_input(key="nn_lat").set_value(-16.5)
    page.number_input(key="nn_lon").set_value(179.9)  # Fiji, next to the antimeridian
    page.slider(key="nn_k").set_value(25)
    tables = {}
    for engine in ("rtree", "strtree", "balltree", "brute"):
        page.selectbox(key="nn_engine").set_value(engine)
        _run(page, no_exceptions)
        tables[engine] = _results(page)
    for engine, table in tables.items():
        pd.testing.assert_frame_equal(table, tables["brute"], obj=engine)
    assert (tables["brute"]["lon"] < 0).any() and (tables["brute"]["lon"] > 0).any()  # both sides of ±180


def test_picking_a_place_by_name(page, no_exceptions):
    page.text_input(key="nn_find").input("Reykjav")
    _run(page, no_exceptions)
    choice = page.selectbox(key="nn_place")
    assert choice.value is None and choice.options[0].startswith("Reykjavík · Iceland · pop.")
    places = world_places(15000)
    row = int(find_places(places, "Reykjav").index[0])
    choice.set_value(row)
    _run(page, no_exceptions)
    assert page.number_input(key="nn_lat").value == pytest.approx(places["lat"].iloc[row])
    assert page.number_input(key="nn_lon").value == pytest.approx(places["lon"].iloc[row])
    assert _results(page)["name"].iloc[0] == "Reykjavík"


def test_url_state_round_trip(no_exceptions):
    at = page_test("nearest_map")
    at.query_params.update({"nn_lat": "-33.8688", "nn_lon": "151.2093", "nn_k": "4", "nn_engine": "strtree"})
    _run(at, no_exceptions)
    table = _results(at)
    assert len(table) == 4 and table["country"].iloc[0] == "Australia"
    assert at.selectbox(key="nn_engine").value == "strtree"
    at.slider(key="nn_k").set_value(6)
    _run(at, no_exceptions)
    assert at.query_params["nn_k"] == "6" and at.query_params["nn_engine"] == "strtree"


def test_bad_url_values_fall_back_to_defaults(no_exceptions):
    at = page_test("nearest_map")
    at.query_params.update({"nn_lat": "north", "nn_lon": "999", "nn_k": "0", "nn_mode": "closest"})
    _run(at, no_exceptions)
    assert at.number_input(key="nn_lat").value == pytest.approx(48.8566)
    assert at.number_input(key="nn_lon").value == pytest.approx(2.3522)
    assert len(_results(at)) == 10


def test_postgis_is_offered_only_when_configured(monkeypatch, no_exceptions):
    monkeypatch.delenv("GEO_DSN", raising=False)
    at = page_test("nearest_map")
    at.query_params.update({"nn_engine": "postgis"})
    _run(at, no_exceptions)
    assert "PostGIS" not in at.selectbox(key="nn_engine").options
    assert at.selectbox(key="nn_engine").value == "rtree"
    assert any("GEO_DSN" in caption.value for caption in at.caption)

    monkeypatch.setenv("GEO_DSN", "postgresql://mapper:s3cret-pass@127.0.0.1:9/places")
    at = _run(page_test("nearest_map"), no_exceptions)
    notes = [caption.value for caption in at.caption if "PostGIS" in caption.value]
    assert notes and "not usable" in notes[0]
    assert all("s3cret-pass" not in element.value for element in [*at.caption, *at.markdown, *at.error])
    assert len(_results(at)) == 10  # the in-memory engines keep working


def test_csv_upload_with_chosen_columns(page, no_exceptions):
    page.radio(key="nn_data").set_value("upload")
    _run(page, no_exceptions)
    csv = b"site;northing;easting\nA;0,5;179,9\nB;0,5;-179,9\nC;10;10\nD;north;0\n"
    page.file_uploader(key="nn_upload").upload("sites.csv", csv, "text/csv")
    _run(page, no_exceptions)
    latcol = [s for s in page.selectbox if s.label == "Latitude column"][0]
    loncol = [s for s in page.selectbox if s.label == "Longitude column"][0]
    assert latcol.value is None and any("Choose the latitude and longitude columns" in i.value for i in page.info)
    latcol.set_value("northing")
    loncol.set_value("easting")
    _run(page, no_exceptions)
    page.number_input(key="nn_lat").set_value(0.5)
    page.number_input(key="nn_lon").set_value(180.0)
    _run(page, no_exceptions)
    table = _results(page)
    assert table["name"].tolist() == ["A", "B", "C"]  # K = 10 > 3 places: all of them
    assert any("Skipped 1 of 4 rows" in c.value and "row 4" in c.value for c in page.caption)
    assert any("Only 3 places" in c.value for c in page.caption)


def test_geojson_upload_and_a_bad_file(page, no_exceptions):
    page.radio(key="nn_data").set_value("upload")
    _run(page, no_exceptions)
    document = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "{{ 7*7 }}"},
         "geometry": {"type": "Point", "coordinates": [2.35, 48.85]}}
    ]}
    page.file_uploader(key="nn_upload").upload("pois.geojson", json.dumps(document).encode(), "application/geo+json")
    _run(page, no_exceptions)
    assert _results(page)["name"].tolist() == ["{{ 7*7 }}"]
    page.file_uploader(key="nn_upload").upload("broken.geojson", b'{"type": "FeatureCollection", ', "application/json")
    _run(page, no_exceptions)
    assert any("Cannot use **broken.geojson**" in e.value and "not valid JSON" in e.value for e in page.error)


@pytest.mark.slow
def test_benchmark_panel_runs_and_plots(page, no_exceptions):
    page.select_slider(key="nn_bench_max").set_value(10_000)
    page.number_input(key="nn_bench_queries").set_value(5)
    page.button(key="nn_bench_run").click()
    _run(page, no_exceptions)
    assert page.get("plotly_chart"), "no benchmark figure"
    assert any("Speed-up over brute force" in c.value for c in page.caption)
    assert any("planar R-tree on raw degrees" in m.value for m in page.markdown)


def test_batch_join_from_an_upload(page, no_exceptions):
    csv = b"name,lat,lon\nnear Paris,48.85,2.35\nnear Tokyo,35.68,139.69\nmid-Pacific,0,-150\n"
    page.file_uploader(key="nn_batch_upload").upload("queries.csv", csv, "text/csv")
    _run(page, no_exceptions)
    assert any("3 query points against" in c.value and "9 result rows" in c.value for c in page.caption)
    page.button(key="nn_batch_run").click()
    _run(page, no_exceptions)
    table = [frame.value for frame in page.dataframe if "query_name" in frame.value.columns][0]
    assert len(table) == 9 and table["rank"].tolist() == [1, 2, 3] * 3
    assert table["query_name"].iloc[0] == "near Paris" and table["place_name"].iloc[0].startswith("Paris")
    assert table["place_country"].iloc[3] == "Japan"
    labels = [b.label for b in page.get("download_button")]
    assert "Download the join (CSV)" in labels and "Download the join (Parquet)" in labels
    assert any("9 rows" in m.value for m in page.markdown)


def test_batch_join_refuses_a_request_over_the_page_limit(page, no_exceptions):
    page.radio(key="nn_batch_src").set_value("world")
    _run(page, no_exceptions)
    page.selectbox(key="nn_batch_pop").set_value(500)
    page.number_input(key="nn_batch_k").set_value(1000)
    _run(page, no_exceptions)
    assert any("over the page's limit" in c.value for c in page.caption)
    assert page.button(key="nn_batch_run").disabled


def test_batch_join_bad_file(page, no_exceptions):
    page.file_uploader(key="nn_batch_upload").upload("q.geojson", b'{"type": "MultiPoint", "coordinates": 5}',
                                                    "application/json")
    _run(page, no_exceptions)
    assert any("Cannot use **q.geojson**" in e.value for e in page.error)
    assert _results(page)["name"].iloc[0].startswith("Paris")  # the single-point search is untouched


def test_ellipsoid_model_ranks_by_geodesic_and_says_how_much_it_differs(page, no_exceptions):
    from services.geo.ellipsoid import geodesic_km

    sphere = _results(page)
    assert any("Sphere vs ellipsoid for this query" in c.value for c in page.caption)
    page.radio(key="nn_model").set_value("ellipsoid")
    _run(page, no_exceptions)
    table = _results(page)
    expected = geodesic_km(48.8566, 2.3522, table["lat"].to_numpy(), table["lon"].to_numpy())
    assert table["distance_km"].tolist() == pytest.approx(expected.tolist(), abs=1e-9)
    assert not table["distance_km"].equals(sphere["distance_km"])
    assert any("geodesic km on the WGS84 ellipsoid" in m.value for m in page.markdown)
    assert page.query_params["nn_model"] == "ellipsoid"


def test_a_batch_join_past_its_deadline_says_so_and_keeps_the_shown_result(page, no_exceptions, monkeypatch):
    import views.nearest_map as view

    csv = b"name,lat,lon\nnear Paris,48.85,2.35\nnear Tokyo,35.68,139.69\n"
    page.file_uploader(key="nn_batch_upload").upload("queries.csv", csv, "text/csv")
    _run(page, no_exceptions)
    page.button(key="nn_batch_run").click()
    _run(page, no_exceptions)
    shown = [frame.value for frame in page.dataframe if "query_name" in frame.value.columns][0]
    monkeypatch.setattr(view, "JOIN_DEADLINE_S", 0.0)  # every run is past its deadline at once
    page.button(key="nn_batch_run").click()
    _run(page, no_exceptions)
    assert any("Cannot join: The batch join took longer than 0 s" in e.value for e in page.error)
    kept = [frame.value for frame in page.dataframe if "query_name" in frame.value.columns][0]
    pd.testing.assert_frame_equal(kept, shown)
