"""PostGIS backend: same answers as the brute-force backend, loading, idempotency, connection strings."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import psycopg
import pytest

from services.geo.index import InvalidCoordinatesError, PointIndex, result_frame
from services.geo.postgis import (
    COPY_CHUNK_ROWS,
    POSTGIS_SPHERE_RADIUS_KM,
    InvalidTableName,
    PostgisPointStore,
    PostgisTableError,
    PostgisUnavailable,
    _copy_rows,
    connection_problem,
    content_sha256,
    dsn_from_env,
    redact_dsn,
    spatial_order,
    synthetic_points,
    validate_table_name,
)
from services.geo.sphere import haversine_km

pytest_plugins = ["tests.postgis_fixture"]

SECRET = "s3cr3t-Pa55"


def brute(lat, lon) -> PointIndex:
    return PointIndex(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float), backend="brute")


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Identical rows: same ids in the same order and bit-identical distances."""
    assert list(got.columns) == ["idx", "distance_km"]
    np.testing.assert_array_equal(got["idx"].to_numpy(), expected["idx"].to_numpy())
    np.testing.assert_array_equal(got["distance_km"].to_numpy(), expected["distance_km"].to_numpy())


def edge_points() -> pd.DataFrame:
    """Random points plus the awkward ones: poles, both sides of the antimeridian, duplicates, mirror ties."""
    rng = np.random.default_rng(7)
    random = synthetic_points(1500, seed=3)
    special = pd.DataFrame(
        {
            "lat": [90.0, 90.0, -90.0, 89.9, -89.99, 0.0, 0.0, 0.0, 10.0, 10.0, -10.0, 51.5, 51.5, 51.5, 0.0, 0.0],
            "lon": [0.0, 120.0, 0.0, -179.9, 179.95, 180.0, -180.0, 179.999, -179.999, 179.5, -179.5, -0.1, -0.1,
                    -0.1, 1.0, -1.0],
        }
    )
    near_dateline = pd.DataFrame(
        {"lat": rng.uniform(-5, 5, 80), "lon": rng.choice([-1, 1], 80) * rng.uniform(179, 180, 80)}
    )
    return pd.concat([random, special, near_dateline], ignore_index=True)


@pytest.fixture(scope="module")
def edge_store(postgis_cluster):
    points = edge_points()
    store = PostgisPointStore.from_points(postgis_cluster.dsn(), points["lat"], points["lon"], table="edge_points")
    yield store, brute(points["lat"], points["lon"]), points
    store.close()


# -- no server needed ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"postgresql://geo:{SECRET}@127.0.0.1:5433/geo", "postgresql://geo:***@127.0.0.1:5433/geo"),
        (f"host=db.example port=5432 user=ana password='{SECRET}' dbname=places sslmode=require",
         "postgresql://ana:***@db.example:5432/places?sslmode=require"),
        (f"postgresql://ana@h/db?password={SECRET}&application_name=x", "postgresql://ana:***@h/db?application_name=x"),
        ("postgresql://ana@h:5432/db", "postgresql://ana@h:5432/db"),
        (f"host=h password={SECRET} dbname='unterminated", "<unparseable connection string>"),
    ],
)
def test_redact_dsn_hides_the_password(dsn, shown):
    assert redact_dsn(dsn) == shown
    assert SECRET not in redact_dsn(dsn)


def test_dsn_from_env(monkeypatch):
    monkeypatch.delenv("GEO_DSN", raising=False)
    assert dsn_from_env() is None
    monkeypatch.setenv("GEO_DSN", "   ")
    assert dsn_from_env() is None
    monkeypatch.setenv("GEO_DSN", " postgresql://a@b/c ")
    assert dsn_from_env() == "postgresql://a@b/c"


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_problem_explains_without_the_password():
    assert "GEO_DSN" in connection_problem(None)
    assert "GEO_DSN" in connection_problem("  ")
    assert "not a valid" in connection_problem("postgresql://a:b@h:5432/db?nonsense_option=1")
    message = connection_problem(f"postgresql://geo:{SECRET}@127.0.0.1:{closed_port()}/geo")
    assert message.startswith("cannot connect to PostGIS at postgresql://geo:***@127.0.0.1:")
    assert SECRET not in message


def test_unreachable_server_is_a_typed_error():
    dsn = f"postgresql://geo:{SECRET}@127.0.0.1:{closed_port()}/geo"
    for attempt in (lambda: PostgisPointStore.from_table(dsn, "points"),
                    lambda: PostgisPointStore.from_points(dsn, [1.0], [2.0])):
        with pytest.raises(PostgisUnavailable) as caught:
            attempt()
        assert SECRET not in str(caught.value)
        assert "***" in str(caught.value)


@pytest.mark.parametrize("name", ["points", "_", "a", "select", "world_places_2", "x" * 63])
def test_valid_table_names(name):
    assert validate_table_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Points", "1points", "x" * 64, "points;", "a-b", "a b", "pöints", "public.points", '"points"', None, 3,
     "geo_point_sets", "geo_load_0123", "pg_class"],
)
def test_invalid_table_names(name):
    with pytest.raises(InvalidTableName):
        validate_table_name(name)


def test_synthetic_points_are_uniform_on_the_sphere():
    points = synthetic_points(200_000, seed=1)
    assert list(points.columns) == ["lat", "lon"]
    assert points["lat"].between(-90, 90).all() and points["lon"].between(-180, 180).all()
    # Area-uniform: the band |lat| < 30 deg holds sin(30 deg) = half of the sphere's area.
    assert abs((points["lat"].abs() < 30).mean() - 0.5) < 0.005
    assert abs((points["lon"] < 0).mean() - 0.5) < 0.005
    pd.testing.assert_frame_equal(points.head(100), synthetic_points(100, seed=1))
    with pytest.raises(ValueError):
        synthetic_points(0)


def test_content_hash_tracks_values_and_order():
    lat, lon = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert content_sha256(lat, lon) == content_sha256(lat.copy(), lon.copy())
    assert content_sha256(lat, lon) != content_sha256(lat[::-1], lon[::-1])
    assert content_sha256(lat, lon) != content_sha256(lon, lat)


def test_binary_copy_rows_encode_idx_coordinates_and_ewkb():
    row = _copy_rows(np.array([-33.5]), np.array([151.25]), np.array([41]))
    assert len(row) == 67
    fields, *rest = struct.unpack(">hiqidid", row[:38])
    assert fields == 4 and rest == [8, 41, 8, -33.5, 8, 151.25]
    length, order, wkb_type, srid, x, y = struct.unpack(">i", row[38:42]) + struct.unpack("<BIIdd", row[42:])
    assert (length, order, wkb_type, srid, x, y) == (25, 1, 0x20000001, 4326, 151.25, -33.5)


def test_spatial_order_is_a_permutation_that_keeps_neighbours_together():
    points = synthetic_points(20_000, seed=6)
    order = spatial_order(points["lat"].to_numpy(), points["lon"].to_numpy())
    np.testing.assert_array_equal(np.sort(order), np.arange(20_000))
    ordered = points.iloc[order]
    step_km = haversine_km(ordered["lat"].to_numpy()[:-1], ordered["lon"].to_numpy()[:-1],
                           ordered["lat"].to_numpy()[1:], ordered["lon"].to_numpy()[1:])
    random_km = haversine_km(points["lat"].to_numpy()[:-1], points["lon"].to_numpy()[:-1],
                             points["lat"].to_numpy()[1:], points["lon"].to_numpy()[1:])
    assert np.median(step_km) < np.median(random_km) / 20


def test_postgis_sphere_is_the_wgs84_mean_radius():
    a, b = 6378.137, 6356.752314245179
    assert abs(POSTGIS_SPHERE_RADIUS_KM - (2 * a + b) / 3) < 1e-9


# -- against a real server -----------------------------------------------------------------------------------------


@pytest.mark.postgis
def test_postgis_sphere_radius_is_what_the_server_uses(postgis_dsn):
    with psycopg.connect(postgis_dsn) as conn:
        half_turn_m = conn.execute(
            "SELECT ST_Distance('SRID=4326;POINT(0 0)'::geography, 'SRID=4326;POINT(180 0)'::geography, false)"
        ).fetchone()[0]
    assert half_turn_m / 1000 / np.pi == pytest.approx(POSTGIS_SPHERE_RADIUS_KM, rel=1e-12)


@pytest.mark.postgis
def test_nearest_and_within_equal_brute_on_random_queries(edge_store):
    store, reference, points = edge_store
    rng = np.random.default_rng(11)
    for _ in range(60):
        lat = float(np.degrees(np.arcsin(rng.uniform(-1, 1))))
        lon = float(rng.uniform(-180, 180))
        k = int(rng.integers(1, 40))
        assert_same(store.nearest(lat, lon, k), reference.nearest(lat, lon, k))
        radius = float(rng.choice([0.0, 5.0, 300.0, 1500.0]))
        assert_same(store.within(lat, lon, radius), reference.within(lat, lon, radius))


@pytest.mark.postgis
@pytest.mark.parametrize(
    ("lat", "lon"),
    [(90.0, 0.0), (90.0, -135.0), (-90.0, 0.0), (89.95, 179.99), (0.0, 180.0), (0.0, -180.0), (10.0, 179.9999),
     (-10.0, -179.7), (51.5, -0.1), (0.0, 0.0), (0.0, 1.0)],
)
def test_edge_queries_equal_brute(edge_store, lat, lon):
    store, reference, points = edge_store
    n = len(points)
    for k in (1, 2, 7, 50, n, n + 10):
        assert_same(store.nearest(lat, lon, k), reference.nearest(lat, lon, k))
    for radius in (0.0, 1e-9, 25.0, 250.0, 2500.0, 20_015.2, 25_000.0):
        assert_same(store.within(lat, lon, radius), reference.within(lat, lon, radius))


@pytest.mark.postgis
def test_radius_fallback_for_knn_equals_brute(edge_store):
    """The path taken when PostGIS's KNN scan aborts (stored lon -180 under a query at lon 180)."""
    store, reference, points = edge_store
    rng = np.random.default_rng(5)
    queries = [(0.0, 180.0, 1), (0.0, -180.0, 6), (90.0, 0.0, 3), (-90.0, 45.0, len(points)), (51.5, -0.1, 2)]
    queries += [(float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180)), int(rng.integers(1, 300)))
                for _ in range(15)]
    for lat, lon, k in queries:
        idx, distance = store._nearest_by_radius(lat, lon, k)
        assert_same(result_frame(idx, distance), reference.nearest(lat, lon, k))


@pytest.mark.postgis
def test_radius_across_the_antimeridian_finds_both_sides(edge_store):
    store, _, points = edge_store
    found = points.iloc[store.within(0.0, 180.0, 200.0)["idx"]]
    assert (found["lon"] > 178).any() and (found["lon"] < -178).any()


@pytest.mark.postgis
def test_ties_and_duplicates_break_by_idx(postgis_dsn):
    lat = np.array([5.0] * 40 + [0.0, 0.0, 1.0, -1.0])
    lon = np.array([5.0] * 40 + [1.0, -1.0, 0.0, 0.0])
    reference = brute(lat, lon)
    with PostgisPointStore.from_points(postgis_dsn, lat, lon, table="ties") as store:
        for k in (1, 3, 20, 39, 40, 41, 44):
            assert_same(store.nearest(5.0, 5.0, k), reference.nearest(5.0, 5.0, k))
            assert_same(store.nearest(0.0, 0.0, k), reference.nearest(0.0, 0.0, k))
        first = store.nearest(5.0, 5.0, 3)
        assert first["idx"].tolist() == [0, 1, 2] and (first["distance_km"] == 0).all()
        assert store.within(0.0, 0.0, 112.0)["idx"].tolist()[:2] == [40, 41]


@pytest.mark.postgis
def test_bad_queries_are_rejected_before_sql(edge_store):
    store, _, _ = edge_store
    for bad in [lambda: store.nearest(91.0, 0.0, 3), lambda: store.nearest(0.0, 180.5, 3),
                lambda: store.nearest(float("nan"), 0.0, 3), lambda: store.nearest("north", 0.0, 3)]:
        with pytest.raises(InvalidCoordinatesError):
            bad()
    for bad in [lambda: store.nearest(0.0, 0.0, 0), lambda: store.nearest(0.0, 0.0, 2.5),
                lambda: store.within(0.0, 0.0, -1.0), lambda: store.within(0.0, 0.0, float("inf")),
                lambda: store.within(0.0, 0.0, "far")]:
        with pytest.raises(ValueError):
            bad()


@pytest.mark.postgis
def test_reload_is_idempotent_and_new_data_replaces(postgis_dsn):
    first = synthetic_points(300, seed=1)
    second = synthetic_points(200, seed=2)
    with PostgisPointStore.from_points(postgis_dsn, first["lat"], first["lon"], table="reload") as store:
        assert not store.reused and len(store) == 300
    with psycopg.connect(postgis_dsn) as conn:
        loaded_at = conn.execute("SELECT loaded_at FROM geo_point_sets WHERE table_name = 'reload'").fetchone()
    with PostgisPointStore.from_points(postgis_dsn, first["lat"], first["lon"], table="reload") as again:
        assert again.reused and len(again) == 300
        assert_same(again.nearest(1.0, 2.0, 5), brute(first["lat"], first["lon"]).nearest(1.0, 2.0, 5))
    with psycopg.connect(postgis_dsn) as conn:
        assert conn.execute("SELECT loaded_at FROM geo_point_sets WHERE table_name = 'reload'").fetchone() == loaded_at
    with PostgisPointStore.from_points(postgis_dsn, second["lat"], second["lon"], table="reload") as replaced:
        assert not replaced.reused and len(replaced) == 200
    attached = PostgisPointStore.from_table(postgis_dsn, "reload")
    assert len(attached) == 200 and attached.content_sha256 == content_sha256(
        second["lat"].to_numpy(), second["lon"].to_numpy()
    )
    assert_same(attached.nearest(-20.0, 100.0, 9), brute(second["lat"], second["lon"]).nearest(-20.0, 100.0, 9))
    attached.close()


@pytest.mark.postgis
def test_progress_is_reported_in_order(postgis_dsn, monkeypatch):
    import services.geo.postgis as postgis_module

    points = synthetic_points(450, seed=4)
    seen: list[tuple[float, str]] = []
    with monkeypatch.context() as patch:
        patch.setattr(postgis_module, "COPY_CHUNK_ROWS", 100)
        with PostgisPointStore.from_points(postgis_dsn, points["lat"], points["lon"], table="progress",
                                           progress=lambda fraction, message: seen.append((fraction, message))):
            pass
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert sum("copied" in message for _, message in seen) == 5  # 450 rows in chunks of the patched 100
    assert any("GiST" in message for _, message in seen)
    # The module attribute the loader reads (not the name this test imported) is back to its default.
    assert postgis_module.COPY_CHUNK_ROWS == COPY_CHUNK_ROWS == 100_000


@pytest.mark.postgis
def test_attach_to_a_hand_made_table(postgis_dsn):
    with psycopg.connect(postgis_dsn) as conn:
        conn.execute("CREATE TABLE hand_made (idx bigint, lat float8, lon float8, geog geography(Point, 4326))")
        conn.execute(
            "INSERT INTO hand_made SELECT i, 0, i, ST_Point(i, 0, 4326)::geography FROM generate_series(0, 9) i"
        )
        conn.execute("CREATE TABLE not_points (id int)")
    store = PostgisPointStore.from_table(postgis_dsn, "hand_made")
    assert len(store) == 10 and store.content_sha256 is None
    assert store.nearest(0.0, 3.2, 2)["idx"].tolist() == [3, 4]
    store.close()
    with pytest.raises(PostgisTableError, match="not_points"):
        PostgisPointStore.from_table(postgis_dsn, "not_points")
    with pytest.raises(PostgisTableError, match="no_such_table"):
        PostgisPointStore.from_table(postgis_dsn, "no_such_table")


@pytest.mark.postgis
def test_connection_problem_is_none_for_a_postgis_database(postgis_dsn):
    assert connection_problem(postgis_dsn) is None


@pytest.mark.postgis
def test_connection_problem_names_a_missing_extension(postgis_cluster):
    with psycopg.connect(postgis_cluster.admin_dsn(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS plain")
        admin.execute("CREATE DATABASE plain OWNER geo")
    plain = postgis_cluster.dsn().rsplit("/", 1)[0] + "/plain"
    assert "CREATE EXTENSION postgis" in connection_problem(plain)
    wrong_password = plain.replace(postgis_cluster.config().password, SECRET)
    message = connection_problem(wrong_password)
    assert "password authentication failed" in message and SECRET not in message
