"""Nearest-neighbour joins for a whole table of query points: for each query the K nearest places, every
place within a radius, or the K nearest within it, as one row per (query, place).

A k-d tree over 3-D unit vectors (``scipy.spatial.cKDTree``, queried on every core with ``workers``) gives
candidates in bulk: the chord between unit vectors orders points exactly as great-circle distance does.
The answer is then what the single-query engines return: ranked by the project's haversine, ties by place
row, and for K nearest accepted per query only once the (K+1)-th candidate's chord proves that no point
outside the candidates can beat or tie the K-th; the few queries where that fails (near-ties at the cut)
are redone with a ball search around their K-th distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks
from scipy.spatial import cKDTree

from services.budget import JOIN_CHUNK_ROWS, JOIN_ESTIMATE_SAMPLE, JOIN_MAX_ROWS
from services.geo.ellipsoid import MODELS, RATIO_HIGH, RATIO_LOW, geodesic_km
from services.geo.errors import InvalidSearchError, JoinStopped, RequestTooLargeError
from services.geo.results import rank, validate_k, validate_points, validate_radius
from services.geo.sphere import EARTH_RADIUS_KM, MAX_DISTANCE_KM, haversine_km, unit_vectors

#: Columns of a join result: query row, place row, rank among that query's results (1 = nearest), km.
JOIN_COLUMNS = ["query_idx", "place_idx", "rank", "distance_km"]
JOIN_MODES = ("nearest", "radius", "both")
_CHORD_SLACK = 1e-9  # as in services.geo.index: 6 mm on Earth, far above float64 error

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class JoinEstimate:
    """How many result rows a join will produce (exact for K nearest, sampled for a radius)."""

    rows: int
    exact: bool

    def describe(self) -> str:
        return f"{self.rows:,} result rows" if self.exact else f"about {self.rows:,} result rows (estimated)"


def chord(distance_km):
    """Straight-line distance through the unit sphere for a great-circle distance in km."""
    return 2.0 * np.sin(np.minimum(np.asarray(distance_km, dtype=float) / EARTH_RADIUS_KM, math.pi) * 0.5)


class BatchIndex:
    """Places in a k-d tree over unit vectors, for joins of many query points at once."""

    def __init__(self, lat, lon):
        self.lat, self.lon = validate_points(lat, lon)
        self.size = self.lat.size
        self.tree = cKDTree(unit_vectors(self.lat, self.lon)) if self.size else None

    def __len__(self) -> int:
        return self.size

    @property
    def _kd(self) -> cKDTree:
        """The k-d tree; an empty index has none, and every caller returns before asking for it then."""
        assert self.tree is not None
        return self.tree

    def estimate(self, q_lat: np.ndarray, q_lon: np.ndarray, mode: str, k: int, radius_km: float) -> JoinEstimate:
        """Result rows of :meth:`join` before running it: exact for K nearest, from a sample of queries
        for a radius (so a request that would not fit is refused in a second, not after minutes)."""
        mode, k, radius_km = validate_join_spec(mode, k, radius_km)
        n = len(q_lat)
        if self.size == 0 or n == 0:
            return JoinEstimate(0, True)
        if mode == "nearest":
            return JoinEstimate(n * min(k, self.size), True)
        step = max(1, n // JOIN_ESTIMATE_SAMPLE)
        sample = np.arange(0, n, step)
        counts = self._kd.query_ball_point(
            unit_vectors(q_lat[sample], q_lon[sample]), r=float(chord(radius_km)) + _CHORD_SLACK,
            return_length=True, workers=-1,
        )
        if mode == "both":
            counts = np.minimum(counts, k)
        exact = sample.size == n
        return JoinEstimate(int(round(float(np.mean(counts)) * n)), exact)

    def join(
        self,
        q_lat,
        q_lon,
        mode: str,
        k: int = 10,
        radius_km: float = 20.0,
        *,
        workers: int = -1,
        max_rows: int = JOIN_MAX_ROWS,
        progress: Progress | None = None,
        model: str = "sphere",
        should_stop: Callable[[], bool] | None = None,
    ) -> pd.DataFrame:
        """One row per (query, place): :data:`JOIN_COLUMNS`, by query row, then rank.

        Equal to running ``PointIndex.nearest`` / ``within`` / ``search(mode="both")`` for every query.
        Raises :class:`RequestTooLargeError` before starting (or as soon as a radius join passes
        ``max_rows``) instead of running out of memory. ``should_stop`` (the heavy-work pool passes it) is
        asked before every chunk; once it says so the join stops with :class:`JoinStopped`, so a caller
        that gave up frees the worker within one chunk.
        """
        mode, k, radius_km = validate_join_spec(mode, k, radius_km)
        if model not in MODELS:
            raise InvalidSearchError(f"unknown distance model {model!r}; choose one of {', '.join(MODELS)}")
        q_lat, q_lon = validate_points(q_lat, q_lon)
        estimate = self.estimate(q_lat, q_lon, mode, k, radius_km)
        if estimate.rows > max_rows:
            raise RequestTooLargeError(
                f"this join would give {estimate.describe()}; at most {max_rows:,} fit. Use fewer query "
                "points, a smaller K or a smaller radius."
            )
        report = progress or (lambda fraction, message: None)
        n = q_lat.size
        per_query = min(k, self.size) + 1 if mode != "radius" else max(1, estimate.rows // max(n, 1))
        chunk = max(1, JOIN_CHUNK_ROWS // per_query)
        # K nearest has a known size: chunks are written straight into the result's columns, so a million
        # queries cost the result plus one chunk, not the result twice over.
        known = n * min(k, self.size) if mode == "nearest" else None
        ints = np.empty((3, known), dtype=np.int64) if known is not None else None
        floats = np.empty((1, known)) if known is not None else None
        parts, total = [], 0
        for start in range(0, n, chunk):
            if should_stop is not None and should_stop():
                raise JoinStopped(f"the join was stopped after {start:,} of {n:,} query points")
            stop = min(start + chunk, n)
            chunk_join = self._chunk if model == "sphere" else self._ellipsoid_chunk
            query, place, ranks, dist = chunk_join(q_lat[start:stop], q_lon[start:stop], mode, k, radius_km, workers)
            query += start
            if ints is not None and floats is not None:  # both set, or both None
                span = slice(total, total + query.size)
                ints[0, span], ints[1, span], ints[2, span], floats[0, span] = query, place, ranks, dist
            else:
                parts.append((query, place, ranks, dist))
            total += query.size
            if total > max_rows:
                raise RequestTooLargeError(
                    f"this join passed {max_rows:,} result rows after {stop:,} of {n:,} query points; use "
                    "fewer query points or a smaller radius."
                )
            report(stop / n, f"joined {stop:,} of {n:,} query points")
        if ints is None or floats is None:  # both None together
            ints, floats = np.empty((3, total), dtype=np.int64), np.empty((1, total))
            for row, column in enumerate(zip(*parts)):
                target = floats[0] if row == 3 else ints[row]
                if column:
                    np.concatenate(column, out=target)
        return _frame_from_columns(ints[:, :total], floats[:, :total])

    # -- one chunk of queries ------------------------------------------------------------------------------

    def _chunk(self, q_lat, q_lon, mode, k, radius_km, workers) -> list[np.ndarray]:
        if self.size == 0 or q_lat.size == 0:
            return [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)]
        if mode == "radius":
            return self._within(q_lat, q_lon, radius_km, workers)
        query, place, ranks, dist = self._nearest(q_lat, q_lon, k, workers)
        if mode == "both":
            keep = dist <= radius_km
            query, place, ranks, dist = query[keep], place[keep], ranks[keep], dist[keep]
        return [query, place, ranks, dist]

    def _ellipsoid_chunk(self, q_lat, q_lon, mode, k, radius_km, workers) -> list[np.ndarray]:
        """The chunk on the WGS84 ellipsoid: a sphere ball search per query reaching G / RATIO_LOW, where
        G bounds the answer (the radius, or RATIO_HIGH times the sphere's K-th distance),
        then every candidate ranked by its geodesic distance, ties by place row."""
        if self.size == 0 or q_lat.size == 0:
            return [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)]
        if mode == "radius":
            reach_km = np.full(q_lat.size, radius_km)
        else:
            query, _, _, sphere_km = self._nearest(q_lat, q_lon, k, workers)
            # The K-th geodesic distance is at most RATIO_HIGH times the K-th sphere distance.
            reach_km = np.zeros(q_lat.size)
            np.maximum.at(reach_km, query, sphere_km * RATIO_HIGH)
            if mode == "both":
                reach_km = np.minimum(reach_km, radius_km)
        found = self._kd.query_ball_point(
            unit_vectors(q_lat, q_lon),
            r=chord(np.minimum(reach_km / RATIO_LOW + 1e-6, MAX_DISTANCE_KM)) + _CHORD_SLACK,
            workers=workers, return_sorted=False,
        )
        counts = np.fromiter((len(rows) for rows in found), dtype=np.int64, count=len(found))
        place = np.fromiter((row for rows in found for row in rows), dtype=np.int64, count=int(counts.sum()))
        query = np.repeat(np.arange(q_lat.size, dtype=np.int64), counts)
        dist = geodesic_km(q_lat[query], q_lon[query], self.lat[place], self.lon[place])
        if mode != "nearest":
            keep = dist <= radius_km
            query, place, dist = query[keep], place[keep], dist[keep]
        order = np.lexsort((place, dist, query))
        query, place, dist = query[order], place[order], dist[order]
        ranks = ranks_within(query)
        if mode != "radius":
            keep = ranks <= k
            query, place, ranks, dist = query[keep], place[keep], ranks[keep], dist[keep]
        return [query, place, ranks, dist]

    def _nearest(self, q_lat, q_lon, k, workers) -> list[np.ndarray]:
        m = q_lat.size
        if k >= self.size:
            place = np.broadcast_to(np.arange(self.size), (m, self.size))
        else:
            chords, place = self._kd.query(unit_vectors(q_lat, q_lon), k=k + 1, workers=workers)
            place = np.asarray(place, dtype=np.int64).reshape(m, k + 1)
            chords = np.asarray(chords).reshape(m, k + 1)
        dist = haversine_km(q_lat[:, None], q_lon[:, None], self.lat[place], self.lon[place])
        order = np.lexsort((place, dist), axis=1)
        place = np.take_along_axis(place, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        top = min(k, self.size)
        place, dist = place[:, :top], dist[:, :top]
        if k < self.size:
            # Proof per query: every point outside the k + 1 candidates is at least chords[:, k] away (by
            # chord); if that is beyond the K-th exact distance, nothing outside can tie or beat it.
            unproven = np.flatnonzero(chord(dist[:, -1]) + _CHORD_SLACK >= chords[:, k])
            for row in unproven:  # near-ties at the cut: rare, redone exactly with a ball search
                rows = np.asarray(self._kd.query_ball_point(
                    unit_vectors(q_lat[row:row + 1], q_lon[row:row + 1])[0],
                    r=float(chord(dist[row, -1])) + _CHORD_SLACK,
                ), dtype=np.int64)
                exact = haversine_km(q_lat[row], q_lon[row], self.lat[rows], self.lon[rows])
                place[row], dist[row] = rank(rows, exact, k)
        query = np.repeat(np.arange(m, dtype=np.int64), top)
        ranks = np.tile(np.arange(1, top + 1, dtype=np.int64), m)
        return [query, place.ravel().astype(np.int64), ranks, dist.ravel()]

    def _within(self, q_lat, q_lon, radius_km, workers) -> list[np.ndarray]:
        found = self._kd.query_ball_point(
            unit_vectors(q_lat, q_lon), r=float(chord(radius_km)) + _CHORD_SLACK, workers=workers,
            return_sorted=False,
        )
        counts = np.fromiter((len(rows) for rows in found), dtype=np.int64, count=len(found))
        place = np.fromiter((row for rows in found for row in rows), dtype=np.int64, count=int(counts.sum()))
        query = np.repeat(np.arange(q_lat.size, dtype=np.int64), counts)
        dist = haversine_km(q_lat[query], q_lon[query], self.lat[place], self.lon[place])
        keep = dist <= radius_km
        query, place, dist = query[keep], place[keep], dist[keep]
        order = np.lexsort((place, dist, query))
        query, place, dist = query[order], place[order], dist[order]
        return [query, place, ranks_within(query), dist]


def ranks_within(query: np.ndarray) -> np.ndarray:
    """1, 2, 3... within each run of equal (sorted) query rows."""
    if query.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, query.size]))
    return np.arange(query.size, dtype=np.int64) - first + 1


def _frame_from_columns(ints: np.ndarray, floats: np.ndarray) -> pd.DataFrame:
    """The join frame around (3, n) int64 and (1, n) float64 blocks, without copying them."""
    return create_dataframe_from_blocks(
        [(np.ascontiguousarray(ints), np.array([0, 1, 2])), (np.ascontiguousarray(floats), np.array([3]))],
        index=pd.RangeIndex(ints.shape[1]), columns=pd.Index(JOIN_COLUMNS),
    )


def join_frame(query_idx, place_idx, ranks, distance_km) -> pd.DataFrame:
    return pd.DataFrame({
        "query_idx": np.asarray(query_idx, dtype=np.int64),
        "place_idx": np.asarray(place_idx, dtype=np.int64),
        "rank": np.asarray(ranks, dtype=np.int64),
        "distance_km": np.asarray(distance_km, dtype=np.float64),
    })


def validate_join_spec(mode: str, k, radius_km) -> tuple[str, int, float]:
    if mode not in JOIN_MODES:
        raise InvalidSearchError(f"unknown join mode {mode!r}; choose one of {', '.join(JOIN_MODES)}")
    return mode, validate_k(k), validate_radius(radius_km)


def named_join(join: pd.DataFrame, queries: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """The join with both sides' names (and the places' country): what the table and the download show."""
    query_rows = join["query_idx"].to_numpy()
    place_rows = join["place_idx"].to_numpy()
    return pd.DataFrame({
        "query_idx": query_rows,
        "query_name": queries["name"].to_numpy()[query_rows],
        "query_lat": queries["lat"].to_numpy()[query_rows],
        "query_lon": queries["lon"].to_numpy()[query_rows],
        "rank": join["rank"].to_numpy(),
        "place_idx": place_rows,
        "place_name": places["name"].to_numpy()[place_rows],
        "place_country": places["country"].to_numpy()[place_rows],
        "place_lat": places["lat"].to_numpy()[place_rows],
        "place_lon": places["lon"].to_numpy()[place_rows],
        "distance_km": join["distance_km"].to_numpy(),
    })
