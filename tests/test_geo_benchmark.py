"""The live benchmark's service: rows per engine and size, progress, and the planar trap it reports."""

import numpy as np
import pytest

from services.geo.benchmark import BENCH_BACKENDS, planar_disagreements, query_points, scaling_benchmark


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(5)
    return np.degrees(np.arcsin(rng.uniform(-1, 1, 3000))), rng.uniform(-180, 180, 3000)


def test_rows_for_every_engine_and_size(points):
    progress = []
    result = scaling_benchmark(*points, [500, 2000, 10**9], queries=5, on_progress=lambda f, m: progress.append((f, m)))
    assert list(result.columns) == ["backend", "n", "build_s", "query_ms"]
    assert sorted(set(result["n"])) == [500, 2000, 3000]  # sizes above the data are capped
    assert set(result["backend"]) == set(BENCH_BACKENDS) and len(result) == 12
    assert (result["build_s"] >= 0).all() and (result["query_ms"] > 0).all()
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and progress[0][1] == "Brute force, N = 500"


def test_bad_arguments(points):
    with pytest.raises(ValueError, match="unknown engine"):
        scaling_benchmark(*points, [100], backends=["quadtree"])
    with pytest.raises(ValueError, match="at least one query"):
        scaling_benchmark(*points, [100], queries=0)
    with pytest.raises(ValueError, match="at least one size"):
        scaling_benchmark(*points, [0])


def test_query_points_are_near_the_data_and_valid(points):
    lat, lon = query_points(*points, 200, seed=1)
    assert lat.shape == lon.shape == (200,)
    assert np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180)


def test_a_planar_rtree_gets_high_latitudes_wrong():
    rng = np.random.default_rng(9)
    lat, lon = rng.uniform(55, 80, 4000), rng.uniform(-180, 180, 4000)
    qlat, qlon = query_points(lat, lon, 100, seed=2)
    assert planar_disagreements(lat, lon, qlat, qlon, 10) > 30
    # Along the equator degrees are nearly isotropic: the planar answer is almost always right there.
    eq_lat, eq_lon = rng.uniform(-1, 1, 4000), rng.uniform(-170, 170, 4000)
    eq_q = query_points(eq_lat, eq_lon, 100, seed=3)
    assert planar_disagreements(eq_lat, eq_lon, *eq_q, 10) < 10
