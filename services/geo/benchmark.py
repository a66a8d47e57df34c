"""The seed post's benchmark, redone on the sphere: build time and per-query time of each engine as the
number of places grows, plus how often a planar R-tree on degrees gets the K nearest wrong."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import rtree

from services.geo.engine import BACKENDS, ENGINE_NAMES
from services.geo.errors import InvalidSearchError
from services.geo.index import PointIndex
from services.geo.sphere import haversine_km, wrap_longitude

#: Engines in the figure, in legend order.
BENCH_BACKENDS = ("brute", "rtree", "strtree", "balltree")
DEFAULT_SIZES = (10_000, 25_000, 50_000, 100_000, 150_000, 234_908)

Progress = Callable[[float, str], None]


def query_points(lat: np.ndarray, lon: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Query points where people search: random places moved by up to ~30 km, so most queries have
    places nearby (uniform points on the sphere would mostly fall in the ocean)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(lat), count)
    qlat = np.clip(lat[picks] + rng.uniform(-0.25, 0.25, count), -90.0, 90.0)
    qlon = wrap_longitude(lon[picks] + rng.uniform(-0.25, 0.25, count))
    return qlat, np.atleast_1d(qlon)


def time_per_query_ms(run: Callable[[float, float], object], qlat: np.ndarray, qlon: np.ndarray) -> float:
    """Mean wall time of ``run(lat, lon)`` over the query points, in milliseconds."""
    started = time.perf_counter()
    for lat, lon in zip(qlat.tolist(), qlon.tolist()):
        run(lat, lon)
    return (time.perf_counter() - started) / len(qlat) * 1000.0


def scaling_benchmark(
    lat: np.ndarray,
    lon: np.ndarray,
    sizes: Sequence[int],
    backends: Sequence[str] = BENCH_BACKENDS,
    *,
    queries: int = 50,
    k: int = 10,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per (engine, N): index build seconds and mean K-nearest query milliseconds.

    Each N is a random subset of the given places (nested: the 10k set is inside the 50k set), queried
    at the same points for every engine.
    """
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise InvalidSearchError(f"unknown engine(s) {unknown}; choose from {', '.join(BACKENDS)}")
    if queries < 1:
        raise InvalidSearchError("at least one query is needed")
    sizes = sorted({min(int(n), len(lat)) for n in sizes if n >= 1})
    if not sizes:
        raise InvalidSearchError("choose at least one size")
    order = np.random.default_rng(seed).permutation(len(lat))
    qlat, qlon = query_points(lat, lon, queries, seed + 1)
    rows: list[dict[str, object]] = []
    steps = len(sizes) * len(backends)
    for n in sizes:
        subset = order[:n]
        sub_lat, sub_lon = lat[subset], lon[subset]
        for backend in backends:
            if on_progress:
                on_progress(len(rows) / steps, f"{ENGINE_NAMES[backend]}, N = {n:,}")
            index = PointIndex(sub_lat, sub_lon, backend)
            query_ms = time_per_query_ms(lambda a, b: index.nearest(a, b, k), qlat, qlon)  # noqa: B023 (time_per_query_ms calls it at once)
            rows.append({"backend": backend, "n": n, "build_s": index.build_seconds, "query_ms": query_ms})
    if on_progress:
        on_progress(1.0, "done")
    return pd.DataFrame(rows)


def planar_disagreements(lat: np.ndarray, lon: np.ndarray, qlat: np.ndarray, qlon: np.ndarray, k: int) -> int:
    """Queries for which an R-tree on raw (lon, lat) degrees returns a different K-nearest set than the
    exact great-circle search (compared by distances, so exact ties do not count as errors)."""
    planar = rtree.index.Index((np.arange(len(lat)), np.column_stack([lon, lat]), np.column_stack([lon, lat])))
    exact = PointIndex(lat, lon, "rtree")
    wrong = 0
    for a, b in zip(qlat.tolist(), qlon.tolist()):
        rows = np.fromiter(planar.nearest((b, a, b, a), k), dtype=np.int64)[:k]
        planar_km = np.sort(haversine_km(a, b, lat[rows], lon[rows]))
        exact_km = exact.nearest(a, b, k)["distance_km"].to_numpy()
        wrong += not np.allclose(planar_km, exact_km, rtol=0, atol=1e-9)
    return wrong


#: Random query points the page's planar-R-tree check uses.
PLANAR_PROBES = 200


@dataclass(frozen=True)
class PageBenchmark:
    """What the page's benchmark panel shows: the scaling table and the planar R-tree's wrong answers."""

    timings: pd.DataFrame
    planar_wrong: int
    largest: int
    probes: int = PLANAR_PROBES


def page_benchmark(
    lat: np.ndarray, lon: np.ndarray, largest: int, backends: Sequence[str], *, queries: int, k: int = 10,
    on_progress: Progress | None = None,
) -> PageBenchmark:
    """The panel's run: :func:`scaling_benchmark` over the default sizes up to ``largest``, then how often a
    planar R-tree on degrees gets the K nearest wrong on a ``largest``-place subset."""
    sizes = [n for n in DEFAULT_SIZES if n <= largest] or [largest]
    timings = scaling_benchmark(lat, lon, sizes, backends, queries=queries, k=k, on_progress=on_progress)
    subset = np.random.default_rng(0).permutation(len(lat))[:largest]
    qlat, qlon = query_points(lat[subset], lon[subset], PLANAR_PROBES, seed=7)
    wrong = planar_disagreements(lat[subset], lon[subset], qlat, qlon, k)
    return PageBenchmark(timings, wrong, largest)
