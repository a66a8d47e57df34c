"""Ellipsoid model: exact ranking by WGS84 geodesic distance (equal to a brute-force geodesic ranking over
every point, ties by idx), near-antipodal queries included; distances equal pyproj's; the sphere/ellipsoid
ratio stays inside its proven bounds."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from services.geo.ellipsoid import (
    RATIO_HIGH,
    RATIO_LOW,
    ellipsoid_nearest,
    ellipsoid_search,
    ellipsoid_within,
    geodesic_km,
    model_disagreement,
)
from services.geo.index import PointIndex
from services.geo.sphere import haversine_km

INDEPENDENT = Geod(ellps="WGS84")


def _points(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    lat[:4], lon[:4] = [10.0, 10.0, 89.5, 0.0], [20.0, 20.0, 100.0, 180.0]
    return lat, lon


def _brute(lat, lon, q_lat, q_lon):
    _, _, metres = INDEPENDENT.inv(np.full(lat.size, q_lon), np.full(lat.size, q_lat), lon, lat)
    km = np.asarray(metres) / 1000.0
    order = np.lexsort((np.arange(lat.size), km))
    return order, km[order]


def _queries(lat, lon):
    rng = np.random.default_rng(4)
    queries = [
        (float(a), float(b)) for a, b in zip(np.degrees(np.arcsin(rng.uniform(-1, 1, 25))), rng.uniform(-180, 180, 25))
    ]
    # Near-antipodal to stored points (where geodesic solvers work hardest), poles, the seam, a duplicate.
    for i in (4, 5, 6):
        queries.append((-float(lat[i]) + 1e-7, float((lon[i] + 360.0) % 360.0 - 180.0)))
    return queries + [(90.0, 0.0), (-89.99, 45.0), (0.0, -179.99), (10.0, 20.0)]


@pytest.fixture(scope="module")
def world():
    lat, lon = _points()
    return lat, lon, {name: PointIndex(lat, lon, name) for name in ("rtree", "brute", "balltree")}


@pytest.mark.parametrize("engine", ["rtree", "brute", "balltree"])
@pytest.mark.parametrize("k", [1, 7])
def test_nearest_equals_brute_force_geodesic_ranking(world, engine, k):
    lat, lon, indexes = world
    for q_lat, q_lon in _queries(lat, lon):
        order, km = _brute(lat, lon, q_lat, q_lon)
        got = ellipsoid_nearest(indexes[engine], q_lat, q_lon, k)
        np.testing.assert_array_equal(got["idx"].to_numpy(), order[:k], err_msg=f"{q_lat}, {q_lon}")
        np.testing.assert_allclose(got["distance_km"], km[:k], rtol=0, atol=1e-6)


def test_within_equals_brute_force_geodesic_filter(world):
    lat, lon, indexes = world
    for q_lat, q_lon in _queries(lat, lon):
        order, km = _brute(lat, lon, q_lat, q_lon)
        for radius in (300.0, 1500.0, 19_990.0):
            got = ellipsoid_within(indexes["rtree"], q_lat, q_lon, radius)
            np.testing.assert_array_equal(got["idx"].to_numpy(), order[km <= radius])


def test_both_mode_and_the_sphere_can_disagree(world):
    lat, lon, indexes = world
    hits = ellipsoid_search(indexes["rtree"], 45.0, 10.0, "both", 5, 800.0)
    assert len(hits) <= 5 and (hits["distance_km"] <= 800.0).all()
    # Two points the sphere ranks one way and the ellipsoid the other: due north vs due east, equal on
    # the sphere (to the metre) but 0.3 % apart on the ellipsoid.
    pair = PointIndex([1.0, 0.0], [0.0, 1.0], "brute")
    sphere = pair.nearest(0.0, 0.0, 2)
    ellipsoid = ellipsoid_nearest(pair, 0.0, 0.0, 2)
    assert sphere["idx"].tolist() == [0, 1] and ellipsoid["idx"].tolist() == [0, 1]
    assert ellipsoid["distance_km"].iloc[0] < ellipsoid["distance_km"].iloc[1]  # a degree of latitude is shorter
    text = model_disagreement(0.0, 0.0, pair.lat, pair.lon, ellipsoid, sphere)
    assert "differ by up to" in text and "same places in the same order" in text


def test_distances_equal_pyproj(world):
    lat, lon, _ = world
    rng = np.random.default_rng(9)
    rows = rng.integers(0, lat.size, 500)
    q_lat, q_lon = rng.uniform(-90, 90, 500), rng.uniform(-180, 180, 500)
    expected = np.array(
        [INDEPENDENT.inv(b, a, d, c)[2] for a, b, c, d in zip(q_lat, q_lon, lat[rows], lon[rows])]
    ) / 1000
    np.testing.assert_allclose(geodesic_km(q_lat, q_lon, lat[rows], lon[rows]), expected, rtol=0, atol=1e-6)


def test_the_ratio_stays_inside_its_proven_bounds():
    rng = np.random.default_rng(2)
    n = 100_000
    lat1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon1 = rng.uniform(-180, 180, n)
    lat2 = np.clip(
        lat1 + rng.normal(0, 3, n) * (rng.random(n) < 0.5) + rng.uniform(-90, 90, n) * (rng.random(n) < 0.3), -90, 90
    )
    lon2 = (lon1 + rng.normal(0, 3, n) + 180) % 360 - 180
    sphere = haversine_km(lat1, lon1, lat2, lon2)
    ratio = geodesic_km(lat1, lon1, lat2, lon2)[sphere > 1e-3] / sphere[sphere > 1e-3]
    assert RATIO_LOW <= ratio.min() and ratio.max() <= RATIO_HIGH
    assert ratio.min() < RATIO_LOW * 1.0005 and ratio.max() > RATIO_HIGH / 1.0005  # and the bounds are tight


def test_the_ellipsoid_circle_edge_is_at_the_geodesic_radius():
    from services.geo.ellipsoid import ellipsoid_destination
    from services.geo.sphere import geodesic_circle

    for lat, lon, radius in [(48.85, 2.35, 300.0), (-16.5, 179.8, 800.0), (88.0, 10.0, 400.0)]:
        (ring, *_), *_ = geodesic_circle(lat, lon, radius, split_at_antimeridian=False,
                                         destination_fn=ellipsoid_destination)
        edge = [(a, b) for a, b in ring if abs(a) < 89.999]  # the pole-closing vertices are not on the edge
        edge_lat, edge_lon = np.array(edge).T
        np.testing.assert_allclose(geodesic_km(lat, lon, edge_lat, edge_lon), radius, rtol=0, atol=1e-6)


def _clustered_points():
    """A dense cluster of duplicates (the one-call proof cannot hold there) amid uniform points."""
    lat, lon = _points(3000, seed=6)
    lat[10:70], lon[10:70] = 45.0, 7.0  # sixty places at the same spot
    lat[70:90], lon[70:90] = 45.0 + np.linspace(0, 0.002, 20), 7.001  # and a ring of near-ties beside them
    return lat, lon


@pytest.mark.parametrize("engine", ["rtree", "strtree", "brute", "balltree"])
def test_nearest_is_exact_where_the_first_candidates_do_not_prove_it(engine):
    lat, lon = _clustered_points()
    index = PointIndex(lat, lon, engine)
    for q_lat, q_lon, k in [(45.0, 7.0, 3), (45.01, 7.0, 25), (45.0005, 7.0008, 64), (-45.0, -173.0, 5),
                            (-45.0 + 1e-7, -173.0, 1), (45.0, 7.0, 3000), (12.0, -40.0, 10)]:
        order, km = _brute(lat, lon, q_lat, q_lon)
        got = ellipsoid_nearest(index, q_lat, q_lon, k)
        np.testing.assert_array_equal(got["idx"].to_numpy(), order[:k], err_msg=f"{engine} {q_lat}, {q_lon}, {k}")
        np.testing.assert_allclose(got["distance_km"], km[:k], rtol=0, atol=1e-6)


@pytest.mark.parametrize("engine", ["rtree", "strtree", "brute", "balltree"])
def test_within_on_every_engine_equals_the_geodesic_filter(engine):
    lat, lon = _clustered_points()
    index = PointIndex(lat, lon, engine)
    for q_lat, q_lon in [(45.0, 7.0), (-45.0, -173.0), (89.9, 0.0), (0.0, 179.99)]:
        order, km = _brute(lat, lon, q_lat, q_lon)
        for radius in (0.0, 0.1, 250.0, 5000.0, 20_000.0):
            got = ellipsoid_within(index, q_lat, q_lon, radius)
            np.testing.assert_array_equal(got["idx"].to_numpy(), order[km <= radius], err_msg=f"{radius}")
            np.testing.assert_allclose(got["distance_km"], km[km <= radius], rtol=0, atol=1e-6)


@pytest.mark.parametrize("engine", ["rtree", "brute"])
def test_sphere_candidates_keep_their_promise(engine):
    """candidates_nearest: every point left out is at least outside_km away on the sphere; candidates_within:
    exactly the points within the radius."""
    lat, lon = _clustered_points()
    index = PointIndex(lat, lon, engine)
    rng = np.random.default_rng(8)
    for q_lat, q_lon in zip(np.degrees(np.arcsin(rng.uniform(-1, 1, 40))), rng.uniform(-180, 180, 40)):
        sphere = haversine_km(q_lat, q_lon, lat, lon)
        rows, dist, outside = index.candidates_nearest(float(q_lat), float(q_lon), 12)
        assert rows.size >= 12 and np.array_equal(dist, sphere[rows])
        others = np.setdiff1d(np.arange(lat.size), rows)
        assert (sphere[others] >= outside).all()
        rows, dist = index.candidates_within(float(q_lat), float(q_lon), 1500.0)
        assert np.array_equal(np.sort(rows), np.flatnonzero(sphere <= 1500.0))
    rows, _, outside = index.candidates_nearest(0.0, 0.0, lat.size)
    assert rows.size == lat.size and outside == np.inf


def test_an_empty_index_has_no_ellipsoid_neighbours():
    empty = PointIndex([], [], "rtree")
    assert ellipsoid_nearest(empty, 0.0, 0.0, 3).empty and ellipsoid_within(empty, 0.0, 0.0, 100.0).empty


@pytest.mark.parametrize("engine", ["rtree", "strtree", "brute", "balltree"])
def test_the_geodesic_nearest_can_lie_beyond_the_spheres_first_candidates(engine):
    """At the equator a degree of latitude is 0.67 % shorter on the ellipsoid than a degree of longitude:
    a point due north at 1.0065 x the sphere distance of thirty points due east is the geodesic nearest,
    though the sphere ranks it 31st; only the widened reach finds it."""
    x_deg = np.degrees(100.0 / 6371.0088)
    east_lon = x_deg * (1 + 1e-5 * np.arange(30))
    lat = np.r_[np.zeros(30), 1.0065 * x_deg, 5.0]
    lon = np.r_[east_lon, 0.0, 5.0]
    index = PointIndex(lat, lon, engine)
    assert index.nearest(0.0, 0.0, 31)["idx"].iloc[-1] == 30  # the sphere: last of the 31
    for k in (1, 2, 12):
        order, km = _brute(lat, lon, 0.0, 0.0)
        got = ellipsoid_nearest(index, 0.0, 0.0, k)
        assert got["idx"].iloc[0] == 30
        np.testing.assert_array_equal(got["idx"].to_numpy(), order[:k])
        np.testing.assert_allclose(got["distance_km"], km[:k], rtol=0, atol=1e-6)


def _shape(polygons):
    import shapely

    return shapely.union_all([
        shapely.Polygon([(b, a) for a, b in rings[0]], [[(b, a) for a, b in hole] for hole in rings[1:]])
        for rings in polygons
    ])


@pytest.mark.parametrize("lat, lon", [(48.85, 2.35), (0.0, 0.0), (-33.0, 151.0), (89.5, 10.0), (0.0, 179.9)])
def test_the_ellipsoid_circle_holds_exactly_the_points_within_the_radius_for_any_radius(lat, lon):
    """Points anywhere and points near the antipode (where the cut locus bends the far edge) are inside the
    drawn circle exactly when their geodesic distance is at most the radius; the edge is at the radius."""
    import shapely

    from services.geo.ellipsoid import ellipsoid_circle, ellipsoid_destination

    rng = np.random.default_rng(3)
    q_lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))
    q_lon = rng.uniform(-180, 180, 3000)
    near = [ellipsoid_destination(-lat, lon + 180.0 if lon <= 0 else lon - 180.0, b, d)
            for b, d in zip(rng.uniform(0, 360, 1500), rng.uniform(0, 120, 1500))]
    q_lat = np.r_[q_lat, [p[0][0] for p in near]]
    q_lon = np.r_[q_lon, [p[1][0] for p in near]]
    dist = geodesic_km(lat, lon, q_lat, q_lon)
    for radius in (3000.0, 12_000.0, 19_000.0, 19_980.0, 19_995.0, 20_001.0, 20_003.5, 20_010.0):
        polygons = ellipsoid_circle(lat, lon, radius)
        shape = _shape(polygons)
        inside = shapely.intersects_xy(shape, q_lon, q_lat)
        assert np.array_equal(inside, dist <= radius), (radius, np.flatnonzero(inside != (dist <= radius))[:5])
        if radius < 20_003.0:  # some points lie beyond it: the far side is really cut out
            assert (~inside).any()
        edge = np.array([v for rings in polygons for ring in rings for v in ring])
        on_edge = geodesic_km(lat, lon, edge[:, 0], edge[:, 1])
        # Vertices are on the edge, or on the world's border / a pole where the map cuts the disc.
        border = (np.abs(np.abs(edge[:, 1]) - 180.0) < 1e-9) | (np.abs(np.abs(edge[:, 0]) - 90.0) < 1e-9)
        np.testing.assert_allclose(on_edge[~border], radius, rtol=0, atol=1e-6)


def test_an_ellipsoid_circle_beyond_every_point_is_the_world():
    from services.geo.ellipsoid import ellipsoid_circle

    (outer, *holes), = ellipsoid_circle(10.0, 20.0, 20_005.0)
    assert not holes and {(round(a), round(b)) for a, b in outer} == {(-90, -180), (-90, 180), (90, 180), (90, -180)}
