"""Exact great-circle K-nearest and radius search over points, behind one API with several engines.

Spatial indexes (R-tree, STRtree) rank by straight-line distance in their own coordinates. On
longitude/latitude degrees that ranking is wrong, so here an index only proposes *candidates*; the answer
is always ranked by :func:`~services.geo.sphere.haversine_km`, and a candidate set is accepted only once it
provably contains every point at least as close as the K-th result. Every engine therefore returns exactly
what the brute-force scan returns, ties broken by row position.
"""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import rtree
import shapely
from sklearn.neighbors import BallTree

from services.geo.engine import BACKENDS, ENGINE_NAMES, POSTGIS, Engine, load_postgis
from services.geo.errors import InvalidCoordinatesError, InvalidSearchError
from services.geo.results import (
    RESULT_COLUMNS,
    rank,
    ranked,
    result_frame,
    validate_k,
    validate_points,
    validate_query,
    validate_radius,
)
from services.geo.sphere import EARTH_RADIUS_KM, haversine_km, unit_vector, unit_vectors

__all__ = [
    "BACKENDS",
    "ENGINE_NAMES",
    "POSTGIS",
    "RESULT_COLUMNS",
    "Engine",
    "InvalidCoordinatesError",
    "PointIndex",
    "make_engine",
    "rank",
    "result_frame",
    "validate_points",
    "validate_query",
]

# Slack that keeps a candidate window a strict superset despite rounding: 1e-9 of the unit sphere's
# chord is 6 mm on Earth, far above float64 error and far below anything a map can show.
_CHORD_SLACK = 1e-9
_ANGLE_SLACK = 1e-6  # radians (6 m), for windows built from angles (STRtree boxes, ball-tree radii)


class PointIndex:
    """Exact great-circle search over fixed points: ``nearest(lat, lon, k)`` and ``within(lat, lon, km)``.

    ``backend`` picks the engine (:data:`BACKENDS`, or ``"postgis"`` with a ``dsn``); all of them return
    identical frames: ``idx`` (row position in the input) and ``distance_km``, sorted by distance, then idx.
    """

    def __init__(self, lat, lon, backend: str = "rtree", *, dsn: str | None = None, table: str = "points"):
        if backend not in BACKENDS and backend != POSTGIS:
            known = ", ".join([*BACKENDS, POSTGIS])
            raise InvalidSearchError(f"unknown backend {backend!r}; choose one of {known}")
        self.lat, self.lon = validate_points(lat, lon)
        self.backend = backend
        started = time.perf_counter()
        self._engine = make_engine(backend, self.lat, self.lon, dsn=dsn, table=table)
        self.build_seconds = time.perf_counter() - started

    def __len__(self) -> int:
        return self.lat.size

    def __repr__(self) -> str:
        return f"PointIndex({len(self)} points, backend={self.backend!r})"

    @property
    def engine(self) -> Engine:
        """The engine behind this index (for PostGIS, the store, whose ``join`` runs in the database)."""
        return self._engine

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        """The ``k`` points closest to (lat, lon); all points when ``k`` exceeds their number."""
        lat, lon = validate_query(lat, lon)
        return self._engine.nearest(lat, lon, validate_k(k))

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        """Every point at most ``radius_km`` from (lat, lon)."""
        lat, lon = validate_query(lat, lon)
        return self._engine.within(lat, lon, validate_radius(radius_km))

    # -- unranked candidates, for re-ranking by another distance (the WGS84 ellipsoid) ------------------------
    # Queries arrive validated. An engine may answer these itself (the R-tree does, without building or
    # sorting a frame); otherwise its ranked answer is used.

    def candidates_nearest(self, lat: float, lon: float, count: int) -> tuple[np.ndarray, np.ndarray, float]:
        """``(rows, sphere_km, outside_km)``: at least ``min(count, len(self))`` rows with their great-circle
        km, in no particular order, and a distance every other point is at least as far as (inf when the
        rows are all points)."""
        fast = getattr(self._engine, "candidates_nearest", None)
        if fast is not None:
            return fast(lat, lon, count)
        hits = self._engine.nearest(lat, lon, count)
        rows, dist = hits["idx"].to_numpy(), hits["distance_km"].to_numpy()
        return rows, dist, float(dist[-1]) if 0 < rows.size < len(self) else math.inf

    def candidates_within(self, lat: float, lon: float, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, sphere_km)`` of every point within great-circle ``radius_km``, in no particular order."""
        fast = getattr(self._engine, "candidates_within", None)
        if fast is not None:
            return fast(lat, lon, radius_km)
        hits = self._engine.within(lat, lon, radius_km)
        return hits["idx"].to_numpy(), hits["distance_km"].to_numpy()


def make_engine(backend: str, lat: np.ndarray, lon: np.ndarray, *, dsn: str | None = None,
                table: str = "points") -> Engine:
    """The one factory that knows the backends: an engine over validated points."""
    if backend == POSTGIS:
        if not dsn:
            raise InvalidSearchError("the postgis backend needs a dsn (connection string)")
        return load_postgis().PostgisPointStore.from_points(dsn, lat, lon, table=table)
    engines: dict[str, Callable[[np.ndarray, np.ndarray], Engine]] = {
        "rtree": _RTreeEngine,
        "strtree": _STRtreeEngine,
        "balltree": _BallTreeEngine,
        "brute": _BruteEngine,
    }
    if backend not in engines:
        raise InvalidSearchError(f"unknown backend {backend!r}; choose one of {', '.join([*engines, POSTGIS])}")
    return engines[backend](lat, lon)


def _chord(distance_km: float) -> float:
    """Scalar :func:`chord_from_km` (numpy on one float costs more than the search it guards)."""
    return 2.0 * math.sin(min(distance_km / EARTH_RADIUS_KM, math.pi) * 0.5)


class _Engine:
    """Shared refinement: exact distances for candidate rows, ranked by (distance, idx)."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray):
        self.lat, self.lon = lat, lon
        self.size = lat.size

    def distances(self, rows: np.ndarray | None, lat: float, lon: float) -> np.ndarray:
        """Great-circle km from the query to the given rows (all rows when None).

        One function for every engine and every subset (element-wise numpy, so a row's distance does not
        depend on which other rows are computed with it): the engines agree bit for bit, ties included.
        """
        if rows is None:
            return haversine_km(lat, lon, self.lat, self.lon)
        return haversine_km(lat, lon, self.lat[rows], self.lon[rows])

    def ranked(self, rows: np.ndarray, dist: np.ndarray, k: int | None = None) -> pd.DataFrame:
        """Rows ordered by (distance, idx), cut to the first ``k`` (the shared rule in ``results``)."""
        return ranked(rows, dist, k)

    def __len__(self) -> int:
        return self.size

    def everything(self, lat: float, lon: float, k: int | None = None) -> pd.DataFrame:
        return self.ranked(np.arange(self.size), self.distances(None, lat, lon), k)

    def within_candidates(self, rows: np.ndarray, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        dist = self.distances(rows, lat, lon)
        keep = dist <= radius_km
        return self.ranked(rows[keep], dist[keep])


class _BruteEngine(_Engine):
    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        return self.everything(lat, lon, k)

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        dist = self.distances(None, lat, lon)
        rows = np.flatnonzero(dist <= radius_km)
        return self.ranked(rows, dist[rows])


class _RTreeEngine(_Engine):
    """3-D R-tree of unit vectors: chord length is monotonic in great-circle distance, and the sphere has
    no seam in 3-D, so the antimeridian and the poles need no special case."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray):
        super().__init__(lat, lon)
        self.xyz = unit_vectors(lat, lon)
        if self.size:
            props = rtree.index.Property(dimension=3, leaf_capacity=16, index_capacity=16)
            self.tree = rtree.index.Index((np.arange(self.size), self.xyz, self.xyz), properties=props)

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        if k >= self.size:
            return self.everything(lat, lon)
        q = unit_vector(lat, lon)
        # Candidates: the k+1 nearest by chord (ties at the edge included by libspatialindex).
        rows = self._ids(rtree.core.rt.Index_NearestNeighbors_id, q, q, k + 1)
        dist = self.distances(rows, lat, lon)
        order = np.lexsort((rows, dist))
        reach = _chord(float(dist[order[k - 1]])) + _CHORD_SLACK
        # Every other point is at least as far (by chord) as the farthest candidate. If that is beyond
        # the K-th great-circle distance, nothing outside can tie or beat it: proven.
        if reach < _chord(float(dist[order[-1]])):
            top = order[:k]
            return result_frame(rows[top], dist[top])
        # Near-tie at the edge of the window: grow it to the K-th distance and take everything inside.
        rows = self._in_box(q, reach)
        return self.ranked(rows, self.distances(rows, lat, lon), k)

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        return self.ranked(*self.candidates_within(lat, lon, radius_km))

    def candidates_nearest(self, lat: float, lon: float, count: int) -> tuple[np.ndarray, np.ndarray, float]:
        """The ``count`` nearest by chord (libspatialindex adds ties at the edge) with great-circle km; every
        other point is at least as far by chord as the farthest of them, so at least ``outside_km`` away."""
        if count >= self.size:
            return np.arange(self.size), self.distances(None, lat, lon), math.inf
        q = unit_vector(lat, lon)
        rows = self._ids(rtree.core.rt.Index_NearestNeighbors_id, q, q, count)
        dist = self.distances(rows, lat, lon)
        # Back from the chord, less the slack that covers the tree's and haversine's rounding.
        outside_chord = max(_chord(float(dist.max())) - _CHORD_SLACK, 0.0)
        return rows, dist, 2.0 * EARTH_RADIUS_KM * math.asin(min(outside_chord * 0.5, 1.0))

    def candidates_within(self, lat: float, lon: float, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
        if self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows = self._in_box(unit_vector(lat, lon), _chord(radius_km) + _CHORD_SLACK)
        dist = self.distances(rows, lat, lon)
        keep = dist <= radius_km
        return rows[keep], dist[keep]

    def _in_box(self, q: tuple[float, float, float], half_width: float) -> np.ndarray:
        """Rows inside the cube around q that contains the ball of chord radius ``half_width``."""
        return self._ids(
            rtree.core.rt.Index_Intersects_id, [c - half_width for c in q], [c + half_width for c in q], 0
        )

    def _ids(self, query, mins, maxs, count: int) -> np.ndarray:
        """Ids from one libspatialindex id query, copied straight into numpy.

        Same C calls as ``rtree.index.Index.nearest`` / ``.intersection``, whose generators cost about a
        microsecond per id in Python: more than the tree search for a radius holding dozens of places.
        """
        found = ctypes.pointer(ctypes.c_int64())
        n_found = ctypes.c_uint64(count)
        query(self.tree.handle, _Double3(*mins), _Double3(*maxs), 3, ctypes.byref(found), ctypes.byref(n_found))
        try:
            return np.frombuffer(ctypes.string_at(found, 8 * n_found.value), dtype=np.int64)
        finally:
            rtree.core.rt.Index_Free(ctypes.cast(found, ctypes.POINTER(ctypes.c_void_p)))


_Double3 = ctypes.c_double * 3


class _STRtreeEngine(_Engine):
    """Shapely STRtree over (lon, lat) points. A spherical cap becomes one or two lon/lat boxes (split at
    ±180, full longitude range when it covers a pole); the window grows until the K-th distance fits."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray):
        super().__init__(lat, lon)
        self.tree = shapely.STRtree(shapely.points(lon, lat))
        # A first window expected to hold ~k points if they were spread evenly over the sphere.
        self.density_angle = math.acos(max(-1.0, 1.0 - 2.0 / max(self.size, 1)))

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        if k >= self.size:
            return self.everything(lat, lon)
        angle = self.density_angle * math.sqrt(k)
        while True:
            rows = self._in_cap(lat, lon, angle)
            if rows.size >= k:
                dist = self.distances(rows, lat, lon)
                kth_km = float(np.partition(dist, k - 1)[k - 1])
                if kth_km <= angle * EARTH_RADIUS_KM or angle >= math.pi:
                    return self.ranked(rows, dist, k)
                angle = kth_km / EARTH_RADIUS_KM  # these k points bound the answer: one more round proves it
            else:
                # Too few points: widen in proportion to the shortfall (the count grows with the area, angle²).
                growth = 4.0 if rows.size == 0 else max(1.5, 1.2 * math.sqrt(k / rows.size))
                angle = min(math.pi, angle * growth)

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        rows = self._in_cap(lat, lon, radius_km / EARTH_RADIUS_KM)
        return self.within_candidates(rows, lat, lon, radius_km)

    def _in_cap(self, lat: float, lon: float, angle: float) -> np.ndarray:
        boxes = cap_boxes(lat, lon, angle)
        if len(boxes) == 1:
            return self.tree.query(shapely.box(*boxes[0]))
        # Split at ±180: a point exactly on the seam lies in both boxes.
        return np.unique(self.tree.query(shapely.box(*np.array(boxes).T))[1])


def cap_boxes(lat: float, lon: float, angle: float) -> list[tuple[float, float, float, float]]:
    """(min_lon, min_lat, max_lon, max_lat) boxes covering every point within ``angle`` radians of (lat, lon)."""
    angle += _ANGLE_SLACK
    reach = math.degrees(angle)
    south, north = lat - reach, lat + reach
    if north >= 90.0 or south <= -90.0 or angle >= math.pi / 2:
        return [(-180.0, max(south, -90.0), 180.0, min(north, 90.0))]
    # Widest longitude offset of a cap: asin(sin(angle) / cos(lat)).
    spread = math.sin(angle) / math.cos(math.radians(lat))
    if spread >= 1.0:
        return [(-180.0, south, 180.0, north)]
    half = math.degrees(math.asin(spread)) + math.degrees(_ANGLE_SLACK)
    west, east = lon - half, lon + half
    if west < -180.0:
        return [(-180.0, south, east, north), (west + 360.0, south, 180.0, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


class _BallTreeEngine(_Engine):
    """scikit-learn BallTree with its haversine metric, re-ranked with the shared distance function."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray):
        super().__init__(lat, lon)
        if self.size:
            self.tree = BallTree(np.radians(np.column_stack([lat, lon])), metric="haversine")

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        if k >= self.size:
            return self.everything(lat, lon)
        query = np.radians([[lat, lon]])
        angles, found = self.tree.query(query, k=k + 1)
        rows = found[0]
        dist = self.distances(rows, lat, lon)
        kth_km = float(np.partition(dist, k - 1)[k - 1])
        # Points not returned are at least as far as the (k+1)-th; compare as chords (well conditioned).
        if _chord(kth_km) + _CHORD_SLACK >= 2.0 * math.sin(min(float(angles.max()), math.pi) * 0.5):
            rows = self.tree.query_radius(query, r=self._angle(kth_km))[0]
            dist = self.distances(rows, lat, lon)
        return self.ranked(rows, dist, k)

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        if self.size == 0:
            return self.ranked(np.arange(0), np.zeros(0))
        query = np.radians([[lat, lon]])
        rows = self.tree.query_radius(query, r=self._angle(radius_km))[0]
        return self.within_candidates(rows, lat, lon, radius_km)

    @staticmethod
    def _angle(distance_km: float) -> float:
        """Search radius in radians, capped at pi: scikit-learn compares sin²(r/2), which falls again past
        pi and would then drop the points near the antipode."""
        return min(distance_km / EARTH_RADIUS_KM + _ANGLE_SLACK, math.pi)
