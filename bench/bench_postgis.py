"""PostGIS vs the embedded R-tree on N synthetic points uniform on the sphere, in one run.

For each N: PostGIS load rate (binary COPY, rows/s), GiST index build time, the time a fresh process needs
before its first answer (PostGIS: attach to the loaded table; R-tree: build in memory), memory, and latency
p50/p95 over 1,000 random queries for K=10 nearest and for a 20 km radius, the two backends interleaved query by
query (``bench.common.interleaved_times``) so a busy moment slows both alike. Both backends return identical
frames (see tests/test_geo_postgis.py), so only speed and footprint differ.

    BENCH_POSTGIS_N=1000000,10000000 .venv/bin/python -m bench postgis

Environment: ``BENCH_POSTGIS_N`` (comma-separated sizes, default 1000000), ``BENCH_POSTGIS_QUERIES`` (default
1000), ``BENCH_POSTGIS_EMBEDDED_MAX`` (largest N for the in-memory R-tree, default 10000000),
``BENCH_POSTGIS_DSN`` (an existing server to use instead of a throwaway cluster in a temp folder).
Goal: PostGIS K=10 p95 under 5 ms at 10M points.

The batch join (issue 16) on the same table: ``BENCH_POSTGIS_JOIN_QUERIES`` query points (default 2000, 0 to
skip) joined by ``PostgisPointStore.join`` (``CROSS JOIN LATERAL``, chunks of 2,000 queries per statement,
re-ranked and proven per query) for K=10 and for 20 km, in result rows per second, against the in-memory
batch join (``BatchIndex``, cKDTree) on the same points, interleaved, results compared row for row.
``BENCH_POSTGIS_JOIN_ONLY=1`` measures only the join (no per-query latencies, no in-memory R-tree), which with
``BENCH_POSTGIS_DSN`` on an already loaded table fits a short locked run at 10M points.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from bench.common import interleaved_times
from scripts.postgis_cluster import LocalCluster
from services.geo.batch import BatchIndex
from services.geo.index import PointIndex
from services.geo.postgis import PostgisPointStore, synthetic_points

K = 10
RADIUS_KM = 20.0
WARMUP_QUERIES = 1000  # different points from the measured ones: steady state, not a primed cache
GOAL_P95_MS = 5.0


@dataclass
class Run:
    backend: str
    n: int
    ready_s: float  # fresh process: time before the first query can run
    k_ms: np.ndarray
    r_ms: np.ndarray
    hits: float  # mean number of points within RADIUS_KM
    footprint_mb: float
    extra: dict[str, float] = field(default_factory=dict)


def _env_sizes() -> list[int]:
    raw = os.environ.get("BENCH_POSTGIS_N", "1000000")
    return [int(float(part)) for part in raw.split(",") if part.strip()]


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _latencies(searches: dict[str, Callable[[float, float], pd.DataFrame]],
               queries: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-query wall time in ms for each backend, interleaved query by query (``bench.common``), and the
    mean result size; after a warm-up on other points (steady state, not a primed cache)."""
    for lat, lon in synthetic_points(WARMUP_QUERIES, seed=999).itertuples(index=False):
        for search in searches.values():
            search(lat, lon)
    points = list(queries.itertuples(index=False))
    sizes: dict[str, list[int]] = {name: [] for name in searches}

    def peer(name: str) -> Callable[[], None]:
        position = iter(range(10**12))

        def run() -> None:
            lat, lon = points[next(position) % len(points)]
            sizes[name].append(len(searches[name](lat, lon)))

        return run

    times = interleaved_times({name: peer(name) for name in searches}, len(points))
    return ({name: np.array(seconds) * 1000 for name, seconds in times.items()},
            {name: float(np.mean(found)) for name, found in sizes.items()})


def _store(dsn: str, points: pd.DataFrame) -> tuple[PostgisPointStore, dict[str, float], float]:
    """Load (or reuse) the points in PostGIS; the store attached as a fresh process would, its load
    timings and the seconds that attach took."""
    marks: dict[str, float] = {}

    def progress(fraction: float, message: str) -> None:
        # from_points reports 0.6 once the COPY is done and 0.95 once the GiST index is built.
        now = time.perf_counter()
        if fraction >= 0.6:
            marks.setdefault("copied", now)
        if fraction >= 0.95:
            marks.setdefault("indexed", now)

    n = len(points)
    table = f"bench_points_{n}"
    started = time.perf_counter()
    with PostgisPointStore.from_points(dsn, points["lat"], points["lon"], table=table, progress=progress) as loaded:
        reused = loaded.reused  # BENCH_POSTGIS_DSN with these points already loaded: queries only
    done = time.perf_counter()
    attach_started = time.perf_counter()
    store = PostgisPointStore.from_table(dsn, table)
    store.nearest(0.0, 0.0, K)
    ready = time.perf_counter() - attach_started
    load = {} if reused else {
        "load_rows_per_s": n / (marks["copied"] - started),
        "index_s": marks["indexed"] - marks["copied"],
        "load_total_s": done - started,
    }
    return store, load, ready


def _footprint_mb(dsn: str, table: str) -> float:
    with psycopg.connect(dsn) as conn:
        table_bytes, index_bytes = conn.execute(
            "SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass)", [table, table]
        ).fetchone()
    return (table_bytes + index_bytes) / 2**20


@dataclass
class JoinRun:
    n: int
    mode: str
    queries: int
    rows: int
    postgis_s: float
    memory_s: float
    identical: bool


JOIN_ROUNDS = 3


def _join_runs(store: PostgisPointStore, points: pd.DataFrame, n_queries: int) -> list[JoinRun]:
    """The LATERAL join and the in-memory batch join on the same points and queries, for K nearest and for
    a radius."""
    queries = synthetic_points(n_queries, seed=54321)
    q_lat, q_lon = queries["lat"].to_numpy(), queries["lon"].to_numpy()
    started = time.perf_counter()
    batch = BatchIndex(points["lat"].to_numpy(), points["lon"].to_numpy())
    print(f"  (in-memory k-d tree over {len(batch):,} points built in {time.perf_counter() - started:.0f} s)",
          flush=True)
    return [_join_run(store, batch, q_lat, q_lon, mode) for mode in ("nearest", "radius")]


def _join_run(store: PostgisPointStore, batch: BatchIndex, q_lat: np.ndarray, q_lon: np.ndarray,
              mode: str) -> JoinRun:
    """Best of ``JOIN_ROUNDS`` interleaved rounds each (after a warm-up call), and whether the results are
    equal row for row."""
    results: dict[str, pd.DataFrame] = {}

    def postgis() -> None:
        results["postgis"] = store.join(q_lat, q_lon, mode, K, RADIUS_KM)

    def memory() -> None:
        results["memory"] = batch.join(q_lat, q_lon, mode, K, RADIUS_KM)

    started = time.perf_counter()
    times = interleaved_times({"postgis": postgis, "memory": memory}, JOIN_ROUNDS)
    print(f"  ({mode} join timed in {time.perf_counter() - started:.0f} s, warm-up included)", flush=True)
    got, expected = results["postgis"], results["memory"]
    identical = (len(got) == len(expected)
                 and all(np.array_equal(got[c].to_numpy(), expected[c].to_numpy())
                         for c in ("query_idx", "place_idx", "rank"))
                 and np.allclose(got["distance_km"], expected["distance_km"], rtol=1e-12, atol=0))
    return JoinRun(len(batch), mode, q_lat.size, len(got), min(times["postgis"]), min(times["memory"]),
                   bool(identical))


def _join_report(runs: list[JoinRun]) -> None:
    print(f"Batch join, PostGIS CROSS JOIN LATERAL vs in-memory cKDTree join (best of {JOIN_ROUNDS} interleaved "
          "rounds, warm: table and index in the page cache):\n")
    print("| N | join | queries | result rows | PostGIS s | PostGIS rows/s | in-memory s | in-memory rows/s | "
          "PostGIS / in-memory time | identical |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        label = f"K={K} nearest" if run.mode == "nearest" else f"within {RADIUS_KM:g} km"
        print(f"| {run.n:,} | {label} | {run.queries:,} | {run.rows:,} | {run.postgis_s:.2f} "
              f"| {run.rows / run.postgis_s:,.0f} | {run.memory_s:.3f} | {run.rows / run.memory_s:,.0f} "
              f"| {run.postgis_s / run.memory_s:,.0f}x | {'yes' if run.identical else 'NO'} |")
    print()


def _runs(dsn: str, points: pd.DataFrame, queries: pd.DataFrame, with_rtree: bool,
          join_queries: int = 0, join_only: bool = False) -> tuple[list[Run], list[JoinRun]]:
    """PostGIS and (when ``with_rtree``) the in-memory R-tree on the same points, timed interleaved; then
    the batch join on ``join_queries`` points (``join_only``: just that)."""
    store, load, pg_ready = _store(dsn, points)
    joins = _join_runs(store, points, join_queries) if join_queries else []
    if join_only:
        store.close()
        return [], joins
    searches_k = {"postgis": lambda lat, lon: store.nearest(lat, lon, K)}
    searches_r = {"postgis": lambda lat, lon: store.within(lat, lon, RADIUS_KM)}
    if with_rtree:
        gc.collect()
        before = _rss_mb()
        started = time.perf_counter()
        index = PointIndex(points["lat"], points["lon"], backend="rtree")
        index.nearest(0.0, 0.0, K)
        rt_ready = time.perf_counter() - started
        rt_footprint = _rss_mb() - before
        searches_k["rtree"] = lambda lat, lon: index.nearest(lat, lon, K)
        searches_r["rtree"] = lambda lat, lon: index.within(lat, lon, RADIUS_KM)
    k_ms, _ = _latencies(searches_k, queries)
    r_ms, hits = _latencies(searches_r, queries)
    runs = [Run("postgis", len(points), pg_ready, k_ms["postgis"], r_ms["postgis"], hits["postgis"],
                _footprint_mb(dsn, store.table), extra=load)]
    store.close()
    if with_rtree:
        runs.append(Run("rtree", len(points), rt_ready, k_ms["rtree"], r_ms["rtree"], hits["rtree"], rt_footprint))
    return runs, joins


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def _report(runs: list[Run]) -> None:
    print("| N | backend | load rows/s | GiST build s | ready in a fresh process s | footprint MB | "
          f"K={K} p50 ms | K={K} p95 ms | r={RADIUS_KM:g} km p50 ms | r={RADIUS_KM:g} km p95 ms | hits in r |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        load = _fmt(run.extra["load_rows_per_s"], 0) if "load_rows_per_s" in run.extra else "-"
        index_s = _fmt(run.extra["index_s"], 1) if "index_s" in run.extra else "-"
        print(f"| {run.n:,} | {run.backend} | {load} | {index_s} | {_fmt(run.ready_s, 3)} "
              f"| {_fmt(run.footprint_mb, 0)} "
              f"| {_fmt(np.percentile(run.k_ms, 50), 3)} | {_fmt(np.percentile(run.k_ms, 95), 3)} "
              f"| {_fmt(np.percentile(run.r_ms, 50), 3)} | {_fmt(np.percentile(run.r_ms, 95), 3)} | {run.hits:.2f} |")
    print()
    print("| N | PostGIS load (COPY+index+ANALYZE) s | R-tree build s | K=10 p50 PostGIS / R-tree | "
          "r=20 km p50 PostGIS / R-tree | queries per process start below which PostGIS is faster overall |")
    print("|---:|---:|---:|---:|---:|---:|")
    by_n: dict[int, dict[str, Run]] = {}
    for run in runs:
        by_n.setdefault(run.n, {})[run.backend] = run
    for n, pair in by_n.items():
        pg, rt = pair.get("postgis"), pair.get("rtree")
        if pg is None or rt is None:
            continue
        k_ratio = np.median(pg.k_ms) / np.median(rt.k_ms)
        r_ratio = np.median(pg.r_ms) / np.median(rt.r_ms)
        # A process that answers q queries spends ready + q * mean latency; PostGIS wins while q < crossover.
        slower_by_s = (np.mean(pg.k_ms) - np.mean(rt.k_ms)) / 1000
        head_start_s = rt.ready_s - pg.ready_s
        if slower_by_s <= 0:
            crossover = "always" if head_start_s >= 0 else "never"
        else:
            crossover = f"{max(head_start_s, 0) / slower_by_s:,.0f}"
        load_s = _fmt(pg.extra["load_total_s"], 1) if "load_total_s" in pg.extra else "reused"
        print(f"| {n:,} | {load_s} | {_fmt(rt.ready_s, 1)} | {k_ratio:.2f}x "
              f"| {r_ratio:.2f}x | {crossover} |")
    print()
    for run in runs:
        if run.backend == "postgis" and run.n >= 10_000_000:
            p95 = np.percentile(run.k_ms, 95)
            verdict = "met" if p95 < GOAL_P95_MS else "NOT met"
            print(f"Goal: PostGIS K={K} p95 < {GOAL_P95_MS:g} ms at {run.n:,} points: {p95:.3f} ms, {verdict}.")
    if not any(run.backend == "postgis" and run.n >= 10_000_000 for run in runs):
        print(f"Goal (K={K} p95 < {GOAL_P95_MS:g} ms at 10M) not measured: set BENCH_POSTGIS_N=1000000,10000000.")


def main() -> None:
    sizes = _env_sizes()
    query_count = int(os.environ.get("BENCH_POSTGIS_QUERIES", "1000"))
    embedded_max = int(float(os.environ.get("BENCH_POSTGIS_EMBEDDED_MAX", "10000000")))
    dsn = os.environ.get("BENCH_POSTGIS_DSN")
    cluster = None
    if not dsn:
        cluster = LocalCluster(tempfile.mkdtemp(prefix="postgis-bench-"))
        dsn = cluster.start()  # durable settings, as `make postgis` uses
    join_queries = int(os.environ.get("BENCH_POSTGIS_JOIN_QUERIES", "2000"))
    join_only = os.environ.get("BENCH_POSTGIS_JOIN_ONLY", "") not in ("", "0")
    queries = synthetic_points(query_count, seed=12345)
    print(f"N = {', '.join(f'{n:,}' for n in sizes)}; {query_count:,} queries uniform on the sphere "
          f"(+{WARMUP_QUERIES} warm-up); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"server: {'throwaway cluster' if cluster else 'BENCH_POSTGIS_DSN'}\n")
    runs: list[Run] = []
    joins: list[JoinRun] = []
    try:
        for n in sizes:
            points = synthetic_points(n, seed=0)
            latency, join = _runs(dsn, points, queries, with_rtree=n <= embedded_max, join_queries=join_queries,
                                  join_only=join_only)
            runs.extend(latency)
            joins.extend(join)
            del points
    finally:
        if cluster is not None:
            cluster.destroy()
    print(f"(load average {os.getloadavg()[0]:.1f} at the end: client and server share these CPUs)\n")
    if joins:
        _join_report(joins)
    if runs:
        _report(runs)
