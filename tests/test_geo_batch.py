"""Batch join: one row per (query, place), equal to the single-query engines and to brute force, on random
and edge-case queries; size estimate and cap; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.geo.batch import JOIN_COLUMNS, BatchIndex, named_join, ranks_within
from services.geo.errors import InvalidCoordinatesError, InvalidSearchError, RequestTooLargeError
from services.geo.index import PointIndex
from services.geo.search import search
from services.geo.sphere import haversine_km

RTOL = 1e-12  # distances from two code paths (batch arrays vs one query): equal to within rounding


def _places(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    # Edge cases among the places: duplicates (exact ties), the poles, both sides of the antimeridian.
    lat[:6] = [10.0, 10.0, 90.0, -90.0, 0.0, 0.0]
    lon[:6] = [20.0, 20.0, 0.0, 45.0, 180.0, -180.0]
    return lat, lon


def _queries(seed=1, n=300):
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    lat[:7] = [10.0, 89.999, -90.0, 0.0, 0.0, -16.5, 45.0]
    lon[:7] = [20.0, 179.0, 0.0, 179.9999, -180.0, 179.9, 20.0]
    return lat, lon


def _per_query(index: PointIndex, q_lat, q_lon, mode, k, radius):
    frames = []
    for i, (a, b) in enumerate(zip(q_lat.tolist(), q_lon.tolist())):
        hits = search(index, a, b, mode, k, radius)
        frames.append(pd.DataFrame({"query_idx": i, "place_idx": hits["idx"].to_numpy(),
                                    "rank": np.arange(1, len(hits) + 1),
                                    "distance_km": hits["distance_km"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame):
    assert list(got.columns) == JOIN_COLUMNS
    for column in ("query_idx", "place_idx", "rank"):
        np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(got["distance_km"].to_numpy(), expected["distance_km"].to_numpy(), rtol=RTOL, atol=0)


@pytest.fixture(scope="module")
def world():
    lat, lon = _places()
    return lat, lon, BatchIndex(lat, lon), PointIndex(lat, lon, "brute"), PointIndex(lat, lon, "rtree")


@pytest.mark.parametrize("mode, k, radius", [("nearest", 1, 0.0), ("nearest", 10, 0.0), ("radius", 1, 500.0),
                                             ("both", 7, 800.0), ("radius", 1, 0.0)])
def test_join_equals_per_query_search_and_brute_force(world, mode, k, radius):
    lat, lon, batch, brute, rtree = world
    q_lat, q_lon = _queries()
    got = batch.join(q_lat, q_lon, mode, k, radius)
    _assert_same(got, _per_query(brute, q_lat, q_lon, mode, k, radius))
    _assert_same(got, _per_query(rtree, q_lat, q_lon, mode, k, radius))


def test_ties_are_broken_by_place_row(world):
    _, _, batch, _, _ = world
    got = batch.join([10.0], [20.0], "nearest", 2)
    assert got["place_idx"].tolist() == [0, 1] and got["distance_km"].tolist() == [0.0, 0.0]
    # The antimeridian written both ways is one point: tie, by row.
    got = batch.join([0.0], [180.0], "nearest", 2)
    assert got["place_idx"].tolist() == [4, 5]


def test_k_larger_than_the_places_returns_them_all():
    batch = BatchIndex([0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    got = batch.join([0.9, -5.0], [0.0, 0.0], "nearest", 10)
    assert got["query_idx"].tolist() == [0, 0, 0, 1, 1, 1]
    assert got["place_idx"].tolist() == [1, 0, 2, 0, 1, 2] and got["rank"].tolist() == [1, 2, 3, 1, 2, 3]


def test_empty_radius_results_and_no_places():
    batch = BatchIndex([0.0], [0.0])
    got = batch.join([50.0, 0.0], [50.0, 0.001], "radius", radius_km=1.0)
    assert got["query_idx"].tolist() == [1] and got["rank"].tolist() == [1]
    assert len(BatchIndex([], []).join([1.0], [2.0], "nearest", 3)) == 0


def test_unproven_candidates_fall_back_to_a_ball_search():
    # Many places at the same distance from the query (a ring around the pole): the (K+1)-th candidate
    # ties the K-th, so the proof fails and the tie rule must still pick the lowest rows.
    lon = np.linspace(-180, 180, 360, endpoint=False)
    lat = np.full(lon.size, 80.0)
    shuffled = np.random.default_rng(3).permutation(lon.size)
    batch = BatchIndex(lat[shuffled], lon[shuffled])
    got = batch.join([90.0], [0.0], "nearest", 5)
    expected = PointIndex(lat[shuffled], lon[shuffled], "brute").nearest(90.0, 0.0, 5)
    np.testing.assert_array_equal(got["place_idx"].to_numpy(), expected["idx"].to_numpy())


def test_distances_are_haversine(world):
    lat, lon, batch, _, _ = world
    q_lat, q_lon = _queries(seed=5, n=50)
    got = batch.join(q_lat, q_lon, "nearest", 3)
    expected = haversine_km(
        q_lat[got["query_idx"]], q_lon[got["query_idx"]], lat[got["place_idx"]], lon[got["place_idx"]]
    )
    np.testing.assert_allclose(got["distance_km"], expected, rtol=RTOL)


def test_size_estimate_and_cap(world):
    _, _, batch, _, _ = world
    q_lat, q_lon = _queries(n=200)
    assert batch.estimate(q_lat, q_lon, "nearest", 10, 0.0).rows == 2000
    estimate = batch.estimate(q_lat, q_lon, "radius", 1, 2000.0)
    actual = len(batch.join(q_lat, q_lon, "radius", 1, 2000.0))
    assert estimate.exact and estimate.rows == actual
    with pytest.raises(RequestTooLargeError, match="at most 1,999 fit"):
        batch.join(q_lat, q_lon, "nearest", 10, max_rows=1999)
    with pytest.raises(RequestTooLargeError, match="at most 100 fit"):
        batch.join(q_lat, q_lon, "radius", 1, 5000.0, max_rows=100)


def test_progress_reaches_the_end(world, monkeypatch):
    import services.geo.batch as batch_module

    _, _, batch, _, _ = world
    monkeypatch.setattr(batch_module, "JOIN_CHUNK_ROWS", 110)  # 10 queries per chunk at K = 10
    seen = []
    q_lat, q_lon = _queries(n=35)
    batch.join(q_lat, q_lon, "nearest", 10, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and len(seen) == 4 and seen[-1] == 1.0


def test_bad_requests(world):
    _, _, batch, _, _ = world
    with pytest.raises(InvalidCoordinatesError, match="row 1"):
        batch.join([0.0, 95.0], [0.0, 0.0], "nearest", 3)
    with pytest.raises(InvalidSearchError, match="k must be"):
        batch.join([0.0], [0.0], "nearest", 0)
    with pytest.raises(InvalidSearchError, match="unknown join mode"):
        batch.join([0.0], [0.0], "closest", 3)
    with pytest.raises(InvalidSearchError, match="radius"):
        batch.join([0.0], [0.0], "radius", 3, float("nan"))


def test_ranks_within_groups():
    assert ranks_within(np.array([0, 0, 0, 2, 5, 5])).tolist() == [1, 2, 3, 1, 1, 2]
    assert ranks_within(np.array([], dtype=np.int64)).tolist() == []


def test_named_join_carries_both_names():
    places = pd.DataFrame(
        {"name": ["a", "b"], "country": ["X", "Y"], "population": [1, 2], "lat": [0.0, 1.0], "lon": [0.0, 0.0]}
    )
    queries = pd.DataFrame({"name": ["q"], "lat": [0.9], "lon": [0.0]})
    join = BatchIndex(places["lat"], places["lon"]).join(queries["lat"], queries["lon"], "nearest", 2)
    named = named_join(join, queries, places)
    assert named["query_name"].tolist() == ["q", "q"] and named["place_name"].tolist() == ["b", "a"]
    assert named["place_country"].tolist() == ["Y", "X"]


@pytest.mark.parametrize("mode, k, radius", [("nearest", 1, 0.0), ("nearest", 6, 0.0), ("radius", 1, 700.0),
                                             ("both", 4, 900.0)])
def test_ellipsoid_join_equals_per_query_geodesic_search(world, mode, k, radius):
    from services.geo.ellipsoid import ellipsoid_search

    lat, lon, batch, brute, _ = world
    q_lat, q_lon = _queries(n=120)
    q_lat[7], q_lon[7] = -10.0, -160.0  # antipode of the duplicated place (10, 20): near-antipodal query
    got = batch.join(q_lat, q_lon, mode, k, radius, model="ellipsoid")
    frames = []
    for i, (a, b) in enumerate(zip(q_lat.tolist(), q_lon.tolist())):
        hits = ellipsoid_search(brute, a, b, mode, k, radius)
        frames.append(pd.DataFrame({"query_idx": i, "place_idx": hits["idx"].to_numpy(),
                                    "rank": np.arange(1, len(hits) + 1),
                                    "distance_km": hits["distance_km"].to_numpy()}))
    _assert_same(got, pd.concat(frames, ignore_index=True))


def test_a_join_asked_to_stop_stops_between_chunks(world, monkeypatch):
    import services.geo.batch as batch_module
    from services.geo.errors import JoinStopped

    _, _, batch, _, _ = world
    monkeypatch.setattr(batch_module, "JOIN_CHUNK_ROWS", 110)  # 10 queries per chunk at K = 10
    seen = []
    asked = []
    q_lat, q_lon = _queries(n=95)
    with pytest.raises(JoinStopped, match="after 30 of 95 query points"):
        batch.join(q_lat, q_lon, "nearest", 10, progress=lambda f, m: seen.append(f),
                   should_stop=lambda: asked.append(1) or len(asked) > 3)
    assert len(seen) == 3 and len(asked) == 4  # three chunks done, asked before each and the fourth


def test_a_join_past_its_deadline_frees_the_worker(world, monkeypatch):
    """Through the heavy-work pool, as the page runs it: the caller gets WorkTimeout at its deadline, and
    the join, told to stop, ends at its next chunk instead of holding the pool's only worker."""
    import threading
    import time

    import services.geo.batch as batch_module
    from services.workers import HeavyWorkPool, WorkTimeout

    _, _, batch, _, _ = world
    monkeypatch.setattr(batch_module, "JOIN_CHUNK_ROWS", 11)  # one query per chunk: 300 chunks
    chunks = []
    ended = threading.Event()

    def slow_join(*args, should_stop, **kwargs):
        try:
            return batch.join(*args, progress=lambda f, m: (chunks.append(f), time.sleep(0.02)),
                              should_stop=should_stop, **kwargs)
        finally:
            ended.set()

    pool = HeavyWorkPool(1)
    q_lat, q_lon = _queries(n=300)
    with pytest.raises(WorkTimeout, match="The batch join took longer than"):
        pool.run("viewer", slow_join, q_lat, q_lon, "nearest", 10, deadline_s=0.3, what="The batch join")
    assert ended.wait(2.0), "the join kept running after its caller gave up"
    assert 0 < len(chunks) < 300
    assert pool.run("viewer", lambda: "free", deadline_s=5.0) == "free"
