"""The batch join on PostGIS (CROSS JOIN LATERAL, streamed in chunks) equals the in-memory join, edge
cases included, and a server that stops mid-join gives a clear message."""

from __future__ import annotations

import numpy as np
import pytest

from services.geo.batch import JOIN_COLUMNS, BatchIndex
from services.geo.postgis import PostgisPointStore, PostgisUnavailable, synthetic_points

pytest_plugins = ["tests.postgis_fixture"]
pytestmark = pytest.mark.postgis
RTOL = 1e-12  # distances from two code paths: equal to within rounding


def _points():
    points = synthetic_points(2500, seed=8)
    lat, lon = points["lat"].to_numpy().copy(), points["lon"].to_numpy().copy()
    lat[:6] = [10.0, 10.0, 90.0, -90.0, 0.0, 0.0]  # duplicates, poles, the antimeridian both ways
    lon[:6] = [20.0, 20.0, 0.0, 45.0, 180.0, -180.0]
    return lat, lon


def _queries():
    q = synthetic_points(230, seed=9)
    lat, lon = q["lat"].to_numpy().copy(), q["lon"].to_numpy().copy()
    lat[:5] = [10.0, 89.99, -90.0, 0.0, -16.5]
    lon[:5] = [20.0, 179.0, 0.0, 179.99, 179.9]
    return lat, lon


@pytest.fixture
def stores(postgis_dsn):  # reloading the same points is a no-op (content hash), so per test is cheap
    lat, lon = _points()
    store = PostgisPointStore.from_points(postgis_dsn, lat, lon, table="join_points")
    yield store, BatchIndex(lat, lon)
    store.close()


def _assert_same(got, expected):
    assert list(got.columns) == JOIN_COLUMNS
    for column in ("query_idx", "place_idx", "rank"):
        np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(got["distance_km"], expected["distance_km"], rtol=RTOL, atol=0)


@pytest.mark.parametrize("mode, k, radius", [("nearest", 1, 0.0), ("nearest", 8, 0.0), ("radius", 1, 600.0),
                                             ("both", 5, 700.0)])
def test_lateral_join_equals_the_in_memory_join(stores, mode, k, radius):
    store, batch = stores
    q_lat, q_lon = _queries()
    chunks = list(store.iter_join(q_lat, q_lon, mode, k, radius, chunk_queries=100))
    assert len(chunks) == 3  # streamed: 230 queries in chunks of 100
    _assert_same(store.join(q_lat, q_lon, mode, k, radius), batch.join(q_lat, q_lon, mode, k, radius))


def test_a_query_on_the_antimeridian_point_written_the_other_way(stores):
    # PostGIS's KNN scan aborts here ("index returned tuples in wrong order"); the chunk is redone per query.
    store, batch = stores
    _assert_same(
        store.join([0.0, 5.0], [-180.0, 5.0], "nearest", 3), batch.join([0.0, 5.0], [-180.0, 5.0], "nearest", 3)
    )


def test_a_server_stopping_mid_join_gives_a_clear_message(postgis_cluster, postgis_dsn):
    lat, lon = _points()
    store = PostgisPointStore.from_points(postgis_dsn, lat, lon, table="join_points")
    q_lat, q_lon = _queries()
    seen, stopped = [], []

    def stop_after_the_first_chunk(fraction, message):
        if not stopped:
            stopped.append(fraction)
            postgis_cluster.stop()

    try:
        with pytest.raises(PostgisUnavailable, match="stopped answering"):
            for part in store.iter_join(q_lat, q_lon, "nearest", 3, chunk_queries=50,
                                        progress=stop_after_the_first_chunk):
                seen.append(part)
        assert len(seen) == 1 and len(seen[0]) == 150  # what was already joined is kept
    finally:
        postgis_cluster.start()
        store.close()


def test_a_lateral_join_asked_to_stop_stops_after_a_chunk(stores):
    from services.geo.errors import JoinStopped

    store, batch = stores
    q_lat, q_lon = _queries()
    asked = []
    with pytest.raises(JoinStopped, match="after 690 result rows"):  # the first chunk: 230 queries x 3
        store.join(q_lat, q_lon, "nearest", 3, should_stop=lambda: asked.append(1) or True)
    assert len(asked) == 1
    _assert_same(store.join(q_lat, q_lon, "nearest", 3, should_stop=lambda: False),
                 batch.join(q_lat, q_lon, "nearest", 3))
