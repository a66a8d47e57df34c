"""Every search engine returns exactly what the brute-force scan returns: same rows, same order, same
distances, on thousands of random queries and on the hard cases (antimeridian, poles, ties, k = n)."""

import math

import numpy as np
import pandas as pd
import pytest
import rtree

from services.geo import postgis
from services.geo.index import BACKENDS, InvalidCoordinatesError, PointIndex, cap_boxes, result_frame
from services.geo.sphere import EARTH_RADIUS_KM, haversine_km

ENGINES = [name for name in BACKENDS if name != "brute"]


def _uniform_on_sphere(rng, n):
    return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)


def _hard_points(seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Spread over the sphere, dense clusters (towns), points on and near ±180 and the poles, duplicates."""
    rng = np.random.default_rng(seed)
    lat, lon = _uniform_on_sphere(rng, 6000)
    centres_lat, centres_lon = _uniform_on_sphere(rng, 40)
    which = rng.integers(0, 40, 6000)
    cl_lat = np.clip(centres_lat[which] + rng.normal(0, 0.3, 6000), -90, 90)
    cl_lon = (centres_lon[which] + rng.normal(0, 0.3, 6000) + 180) % 360 - 180
    seam_lat = rng.uniform(-60, 60, 400)
    seam_lon = np.where(rng.random(400) < 0.5, 1, -1) * rng.uniform(179.0, 180.0, 400)
    pole_lat = np.where(rng.random(300) < 0.5, 1, -1) * rng.uniform(88.0, 90.0, 300)
    pole_lon = rng.uniform(-180, 180, 300)
    lat = np.concatenate([lat, cl_lat, seam_lat, pole_lat, [90.0, -90.0, 0.0, 0.0]])
    lon = np.concatenate([lon, cl_lon, seam_lon, pole_lon, [0.0, 45.0, 180.0, -180.0]])
    dup = rng.integers(0, len(lat), 300)  # exact duplicates: ties that only the idx can order
    return np.concatenate([lat, lat[dup]]), np.concatenate([lon, lon[dup]])


@pytest.fixture(scope="module")
def indexes():
    lat, lon = _hard_points()
    return {name: PointIndex(lat, lon, name) for name in BACKENDS}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == ["idx", "distance_km"]
    assert a["idx"].dtype == np.int64 and a["distance_km"].dtype == np.float64
    np.testing.assert_array_equal(a["idx"].to_numpy(), b["idx"].to_numpy())
    np.testing.assert_array_equal(a["distance_km"].to_numpy(), b["distance_km"].to_numpy())


@pytest.mark.slow
def test_thousands_of_random_queries_agree_with_brute_force(indexes):
    rng = np.random.default_rng(42)
    qlat, qlon = _uniform_on_sphere(rng, 1000)
    near = rng.integers(0, len(indexes["brute"]), 1000)  # right next to points: dense neighbourhoods, ties
    near_lat = np.clip(indexes["brute"].lat[near] + rng.normal(0, 0.05, 1000), -90, 90)
    near_lon = (indexes["brute"].lon[near] + rng.normal(0, 0.05, 1000) + 180) % 360 - 180
    queries = list(zip(np.concatenate([qlat, near_lat]), np.concatenate([qlon, near_lon])))
    for i, (lat, lon) in enumerate(queries):
        k = (1, 5, 10, 37)[i % 4]
        radius = (0.5, 20.0, 150.0, 600.0)[i % 4]
        expected_nearest = indexes["brute"].nearest(lat, lon, k)
        expected_within = indexes["brute"].within(lat, lon, radius)
        for name in ENGINES:
            _same(indexes[name].nearest(lat, lon, k), expected_nearest)
            _same(indexes[name].within(lat, lon, radius), expected_within)


@pytest.mark.parametrize(
    "lat, lon",
    [(0.0, 179.9), (0.0, -179.9), (45.0, 180.0), (-33.0, -180.0), (89.9, 0.0), (-89.9, 120.0), (90.0, 0.0),
     (-90.0, 0.0), (66.0, 179.99), (-80.0, -179.99)],
)
def test_edge_queries_agree_with_brute_force(indexes, lat, lon):
    for k in (1, 10, 200):
        expected = indexes["brute"].nearest(lat, lon, k)
        assert expected["distance_km"].is_monotonic_increasing
        for name in ENGINES:
            _same(indexes[name].nearest(lat, lon, k), expected)
    for radius in (50.0, 400.0, 3000.0):
        expected = indexes["brute"].within(lat, lon, radius)
        for name in ENGINES:
            _same(indexes[name].within(lat, lon, radius), expected)


def test_neighbours_across_the_antimeridian_are_found():
    # Three places 0.2° of longitude apart on the equator: the nearest to lon 179.95 is across ±180.
    index_lat = [0.0, 0.0, 0.0]
    index_lon = [-179.95, 179.75, 179.0]
    for name in BACKENDS:
        hits = PointIndex(index_lat, index_lon, name).nearest(0.0, 179.95, 2)
        assert hits["idx"].tolist() == [0, 1]
        assert hits["distance_km"].iloc[0] == pytest.approx(math.radians(0.1) * EARTH_RADIUS_KM)


def test_radius_that_crosses_the_antimeridian():
    lat = np.zeros(7)
    lon = np.array([179.5, 179.9, 180.0, -180.0, -179.9, -179.5, 0.0])
    for name in BACKENDS:
        hits = PointIndex(lat, lon, name).within(0.0, 179.95, 40.0)
        assert sorted(hits["idx"]) == [1, 2, 3, 4]  # ±0.5° is 55.6 km away: outside
        assert (hits["distance_km"] <= 40.0).all()


def test_query_at_the_pole_sees_every_longitude():
    lon = np.linspace(-180, 170, 36)
    lat = np.full(36, 89.0)
    for name in BACKENDS:
        hits = PointIndex(lat, lon, name).within(90.0, 0.0, 112.0)
        assert len(hits) == 36  # all at 1° (111.2 km) from the pole, whatever their longitude


def test_k_equal_to_and_larger_than_n_return_everything_sorted(indexes):
    n = len(indexes["brute"])
    for k in (n, n + 5):
        expected = indexes["brute"].nearest(12.0, 34.0, k)
        assert len(expected) == n
        assert sorted(expected["idx"]) == list(range(n))
        for name in ENGINES:
            _same(indexes[name].nearest(12.0, 34.0, k), expected)


def test_k_equal_to_one_is_the_single_closest(indexes):
    lat, lon = indexes["brute"].lat, indexes["brute"].lon
    dist = haversine_km(-20.0, 60.0, lat, lon)
    for name in BACKENDS:
        hit = indexes[name].nearest(-20.0, 60.0, 1)
        assert hit["idx"].tolist() == [int(np.argmin(dist))]


def test_duplicate_coordinates_are_ordered_by_row():
    lat = [10.0, 10.0, 10.0, 11.0, 10.0]
    lon = [20.0, 20.0, 20.0, 20.0, 20.0]
    for name in BACKENDS:
        index = PointIndex(lat, lon, name)
        assert index.nearest(10.0, 20.0, 3)["idx"].tolist() == [0, 1, 2]
        assert index.nearest(10.0, 20.0, 4)["idx"].tolist() == [0, 1, 2, 4]
        assert index.within(10.0, 20.0, 1.0)["idx"].tolist() == [0, 1, 2, 4]


def test_empty_radius_result_and_zero_radius(indexes):
    for name in BACKENDS:
        empty = indexes[name].within(-48.0, -140.0, 5.0)  # Southern Pacific, far from every point
        assert empty.empty and list(empty.columns) == ["idx", "distance_km"]
        exact = indexes[name].within(90.0, 0.0, 0.0)  # the north pole itself is a point
        assert indexes["brute"].lat[exact["idx"]].tolist() == [90.0] * len(exact) and len(exact) >= 1


def test_whole_earth_radius_returns_every_point(indexes):
    n = len(indexes["brute"])
    for name in BACKENDS:
        assert len(indexes[name].within(1.0, 2.0, 20_100.0)) == n


def test_tiny_and_empty_datasets():
    for name in BACKENDS:
        single = PointIndex([51.5], [-0.12], name)
        assert single.nearest(48.85, 2.35, 5)["idx"].tolist() == [0]
        empty = PointIndex([], [], name)
        assert len(empty) == 0
        assert empty.nearest(0.0, 0.0, 3).empty
        assert empty.within(0.0, 0.0, 100.0).empty


def test_distances_are_great_circle_not_planar():
    # Two places 10° of longitude apart near the pole are far closer than two 10° apart at the equator.
    for name in BACKENDS:
        index = PointIndex([85.0, 0.0], [10.0, 10.0], name)
        polar = index.nearest(85.0, 0.0, 1)["distance_km"].iloc[0]
        assert polar == pytest.approx(haversine_km(85.0, 0.0, 85.0, 10.0))
        assert polar < 100


def test_planar_rtree_on_degrees_is_wrong_where_this_is_right():
    """The trap from the issue: ranking lon/lat degrees as if planar picks the wrong neighbour."""
    # From (70, 0): (70, 12) is 456 km away, (60, 0) is 1112 km away, but planar degrees say 12 > 10.
    lat, lon = np.array([70.0, 60.0]), np.array([12.0, 0.0])
    planar = rtree.index.Index((np.arange(2), np.column_stack([lon, lat]), np.column_stack([lon, lat])))
    assert list(planar.nearest((0.0, 70.0, 0.0, 70.0), 1)) == [1]
    for name in BACKENDS:
        assert PointIndex(lat, lon, name).nearest(70.0, 0.0, 1)["idx"].tolist() == [0]


def test_invalid_points_name_the_bad_rows():
    with pytest.raises(InvalidCoordinatesError) as caught:
        PointIndex([10.0, float("nan"), 95.0, 0.0], [0.0, 0.0, 0.0, 200.0])
    message = str(caught.value)
    assert "3 of 4 points" in message
    assert "row 1: lat is missing" in message
    assert "row 2: lat 95 is outside [-90, 90]" in message
    assert "row 3: lon 200 is outside [-180, 180]" in message
    assert caught.value.rows.tolist() == [1, 2, 3]
    assert isinstance(caught.value, ValueError)


def test_many_invalid_rows_are_summarised():
    with pytest.raises(InvalidCoordinatesError, match=r"and 15 more"):
        PointIndex(np.full(25, 100.0), np.zeros(25))


def test_mismatched_lengths_and_unknown_backend():
    with pytest.raises(ValueError, match="differ in length"):
        PointIndex([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="unknown backend 'kdtree'"):
        PointIndex([1.0], [1.0], "kdtree")


@pytest.mark.parametrize("lat, lon", [(91.0, 0.0), (0.0, -180.5), (float("nan"), 0.0), ("north", 0.0)])
def test_invalid_queries_are_rejected(indexes, lat, lon):
    with pytest.raises(InvalidCoordinatesError):
        indexes["rtree"].nearest(lat, lon, 3)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_invalid_k_is_rejected(indexes, k):
    with pytest.raises(ValueError, match="k must be"):
        indexes["rtree"].nearest(0.0, 0.0, k)


@pytest.mark.parametrize("radius", [-1.0, float("nan"), float("inf"), "far"])
def test_invalid_radius_is_rejected(indexes, radius):
    with pytest.raises(ValueError, match="radius"):
        indexes["strtree"].within(0.0, 0.0, radius)


def test_numpy_integer_k_is_accepted(indexes):
    assert len(indexes["balltree"].nearest(0.0, 0.0, np.int64(4))) == 4


def test_cap_boxes_cover_the_cap():
    # Across the antimeridian: two boxes, each inside [-180, 180].
    boxes = cap_boxes(0.0, 179.9, math.radians(1.0))
    assert len(boxes) == 2 and all(-180 <= b[0] <= b[2] <= 180 for b in boxes)
    # Touching a pole: one box over every longitude.
    assert cap_boxes(89.5, 10.0, math.radians(1.0)) == [(-180.0, pytest.approx(88.5, abs=1e-3), 180.0, 90.0)]
    # Random caps: every point within the angle lies in some box.
    rng = np.random.default_rng(3)
    for _ in range(200):
        lat, lon = _uniform_on_sphere(rng, 1)
        angle = rng.uniform(0.001, 0.5)
        plat, plon = _uniform_on_sphere(rng, 400)
        inside = haversine_km(lat[0], lon[0], plat, plon) <= angle * EARTH_RADIUS_KM
        boxes = cap_boxes(float(lat[0]), float(lon[0]), angle)
        covered = np.zeros(400, dtype=bool)
        for west, south, east, north in boxes:
            covered |= (plon >= west) & (plon <= east) & (plat >= south) & (plat <= north)
        assert covered[inside].all()


def test_result_frame_shape():
    frame = result_frame(np.array([3, 1]), np.array([0.5, 2.0]))
    assert list(frame.columns) == ["idx", "distance_km"] and frame["idx"].tolist() == [3, 1]
    assert frame.index.tolist() == [0, 1]


def test_postgis_backend_needs_a_dsn():
    with pytest.raises(ValueError, match="needs a dsn"):
        PointIndex([1.0], [2.0], "postgis")


def test_postgis_backend_delegates_to_the_store(monkeypatch):
    """The database engine is built by services.geo.postgis (its own tests run it against a server)."""
    calls = {}

    class FakeStore:
        def nearest(self, lat, lon, k):
            calls["nearest"] = (lat, lon, k)
            return result_frame(np.array([0]), np.array([1.5]))

        def within(self, lat, lon, radius_km):
            calls["within"] = (lat, lon, radius_km)
            return result_frame(np.array([], dtype=np.int64), np.array([]))

    def from_points(dsn, lat, lon, *, table="points"):
        calls["from_points"] = (dsn, list(lat), list(lon), table)
        return FakeStore()

    monkeypatch.setattr(postgis.PostgisPointStore, "from_points", staticmethod(from_points))
    index = PointIndex([1.0, 2.0], [3.0, 4.0], "postgis", dsn="postgresql://u@h/db", table="places_x")
    assert calls["from_points"] == ("postgresql://u@h/db", [1.0, 2.0], [3.0, 4.0], "places_x")
    assert index.nearest(1.0, 3.0, 2)["idx"].tolist() == [0] and calls["nearest"] == (1.0, 3.0, 2)
    assert index.within(1.0, 3.0, 5.0).empty and calls["within"] == (1.0, 3.0, 5.0)
    with pytest.raises(InvalidCoordinatesError):
        index.nearest(100.0, 0.0, 1)  # queries are validated before they reach the database
