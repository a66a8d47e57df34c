"""Great-circle geometry: distances, unit vectors, geodesic circles and paths, including the antimeridian and
the poles."""

import math

import numpy as np
import pytest
import shapely
from sklearn.metrics.pairwise import haversine_distances

from services.geo.sphere import (
    EARTH_RADIUS_KM,
    MAX_DISTANCE_KM,
    chord_from_km,
    destination,
    geodesic_circle,
    great_circle_path,
    haversine_km,
    unit_vectors,
    wrap_longitude,
)


def test_known_distances():
    assert EARTH_RADIUS_KM == 6371.0088
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.56, abs=0.05)  # Paris-London
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(MAX_DISTANCE_KM)  # antipodes
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(MAX_DISTANCE_KM)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0


def test_the_antimeridian_is_not_a_seam():
    one_degree = math.radians(1.0) * EARTH_RADIUS_KM
    assert haversine_km(0.0, 179.5, 0.0, -179.5) == pytest.approx(one_degree)
    assert haversine_km(0.0, 180.0, 0.0, -180.0) == pytest.approx(0.0, abs=1e-9)


def test_longitude_differences_shrink_towards_the_poles():
    assert haversine_km(60.0, 0.0, 60.0, 10.0) == pytest.approx(haversine_km(0.0, 0.0, 0.0, 10.0) / 2, rel=0.01)
    assert haversine_km(90.0, 0.0, 90.0, 123.0) == pytest.approx(0.0, abs=1e-9)


def test_agrees_with_scikit_learn_haversine():
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(-90, 90, 300), rng.uniform(-180, 180, 300)])
    b = np.column_stack([rng.uniform(-90, 90, 300), rng.uniform(-180, 180, 300)])
    ours = haversine_km(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    theirs = np.diag(haversine_distances(np.radians(a), np.radians(b))) * EARTH_RADIUS_KM
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_distance_of_a_row_does_not_depend_on_its_neighbours():
    """The engines compute candidate subsets; brute force computes everything: results must be bit-equal."""
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-90, 90, 5000), rng.uniform(-180, 180, 5000)
    full = haversine_km(12.3, 45.6, lat, lon)
    for size in (1, 3, 7, 16, 33, 257):
        rows = rng.choice(5000, size, replace=False)
        np.testing.assert_array_equal(haversine_km(12.3, 45.6, lat[rows], lon[rows]), full[rows])


def test_unit_vectors_and_chords():
    xyz = unit_vectors([0.0, 90.0, 0.0], [0.0, 0.0, 90.0])
    np.testing.assert_allclose(xyz, [[1, 0, 0], [0, 0, 1], [0, 1, 0]], atol=1e-15)
    rng = np.random.default_rng(2)
    lat, lon = rng.uniform(-90, 90, 100), rng.uniform(-180, 180, 100)
    points = unit_vectors(lat, lon)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)
    chords = np.linalg.norm(points - points[0], axis=1)
    np.testing.assert_allclose(chord_from_km(haversine_km(lat[0], lon[0], lat, lon)), chords, atol=1e-12)
    assert chord_from_km(MAX_DISTANCE_KM * 2) == pytest.approx(2.0)


def test_wrap_longitude():
    assert wrap_longitude(190.0) == pytest.approx(-170.0)
    assert wrap_longitude(-190.0) == pytest.approx(170.0)
    assert wrap_longitude(540.0) == pytest.approx(-180.0)
    np.testing.assert_allclose(wrap_longitude(np.array([0.0, 359.0])), [0.0, -1.0])


def test_destination_lands_at_the_distance():
    lats, lons = destination(60.0, 170.0, np.arange(0, 360, 15), 1234.5)
    np.testing.assert_allclose(haversine_km(60.0, 170.0, lats, lons), 1234.5, rtol=1e-9)
    assert np.all(np.abs(lons) <= 180)


def _rings(polygons):
    return [ring for polygon in polygons for ring in polygon]


@pytest.mark.parametrize(
    "lat, lon, radius",
    [(48.85, 2.35, 20.0), (0.0, 179.9, 100.0), (-16.5, -179.8, 800.0), (89.9, 10.0, 100.0), (-89.5, -170.0, 500.0)],
)
def test_geodesic_circle_vertices_lie_at_the_radius(lat, lon, radius):
    polygons = geodesic_circle(lat, lon, radius)
    for ring in _rings(polygons):
        ring = np.array(ring)
        assert np.all(np.abs(ring[:, 1]) <= 180.0) and np.all(np.abs(ring[:, 0]) <= 90.0)
        # Vertices are on the circle, except where the ring was cut at ±180 or closed along a pole.
        on_cut = (np.abs(np.abs(ring[:, 1]) - 180.0) < 1e-9) | (np.abs(np.abs(ring[:, 0]) - 90.0) < 1e-9)
        distances = haversine_km(lat, lon, ring[~on_cut, 0], ring[~on_cut, 1])
        np.testing.assert_allclose(distances, radius, rtol=1e-6)


def test_circle_across_the_antimeridian_is_cut_into_two_pieces():
    polygons = geodesic_circle(0.0, 179.9, 100.0)
    assert len(polygons) == 2
    spans = sorted((min(p[1] for p in poly[0]), max(p[1] for p in poly[0])) for poly in polygons)
    assert spans[0][0] == -180.0 and spans[1][1] == 180.0
    shapes = [shapely.Polygon([(lon, lat) for lat, lon in poly[0]]) for poly in polygons]
    assert any(shape.contains(shapely.Point(-179.5, 0.0)) for shape in shapes)
    assert any(shape.contains(shapely.Point(179.5, 0.0)) for shape in shapes)
    assert not any(shape.contains(shapely.Point(0.0, 0.0)) for shape in shapes)


def test_circle_around_a_pole_covers_the_pole():
    polygons = geodesic_circle(89.0, 45.0, 300.0)
    shape = shapely.union_all([shapely.Polygon([(lon, lat) for lat, lon in poly[0]]) for poly in polygons])
    assert shape.covers(shapely.Point(0.0, 90.0)) and shape.covers(shapely.Point(-135.0, 89.9))
    assert not shape.contains(shapely.Point(-135.0, 80.0))


def test_circle_larger_than_a_hemisphere_leaves_out_the_antipode():
    polygons = geodesic_circle(0.0, 180.0, 19_000.0)
    assert len(polygons) == 1 and len(polygons[0]) == 2  # the world with a hole around the antipode (0, 0)
    outer, hole = ([(lon, lat) for lat, lon in ring] for ring in polygons[0])
    disc = shapely.Polygon(outer, [hole])
    assert disc.contains(shapely.Point(90.0, 0.0)) and disc.contains(shapely.Point(15.0, 0.0))
    assert not disc.contains(shapely.Point(0.0, 0.0)) and not disc.contains(shapely.Point(5.0, 0.0))


def test_circle_covering_the_earth_and_bad_radius():
    assert len(geodesic_circle(10.0, 10.0, MAX_DISTANCE_KM + 1)) == 1
    for radius in (0.0, -5.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="radius"):
            geodesic_circle(0.0, 0.0, radius)


def test_great_circle_path_is_cut_at_the_antimeridian():
    pieces = great_circle_path(10.0, 179.0, 12.0, -179.0, segments=8)
    assert len(pieces) == 2
    assert pieces[0][0] == (10.0, 179.0) and pieces[-1][-1] == (12.0, -179.0)
    assert pieces[0][-1][1] == 180.0 and pieces[1][0][1] == -180.0
    assert pieces[0][-1][0] == pytest.approx(pieces[1][0][0])


def test_great_circle_path_follows_the_great_circle():
    (path,) = great_circle_path(40.0, -74.0, 51.5, -0.1, segments=20)  # New York - London
    lats, lons = np.array(path).T
    total = haversine_km(40.0, -74.0, 51.5, -0.1)
    legs = haversine_km(lats[:-1], lons[:-1], lats[1:], lons[1:])
    assert legs.sum() == pytest.approx(total, rel=1e-9)
    assert lats.max() > 51.5  # the great circle bows north of both ends


def test_great_circle_path_between_antipodes_and_identical_points():
    pieces = great_circle_path(0.0, 10.0, 0.0, -170.0, segments=4)
    points = [p for piece in pieces for p in piece]
    assert points[0] == (0.0, 10.0) and points[-1] == (0.0, -170.0)
    assert great_circle_path(5.0, 5.0, 5.0, 5.0) == [[(5.0, 5.0), (5.0, 5.0)]]
