"""Distances on the WGS84 ellipsoid (Karney's geodesics via ``pyproj.Geod``), ranked exactly.

Every engine indexes the sphere. Ranking on the ellipsoid stays exact because the ratio between the
geodesic distance and the great-circle distance (same latitude/longitude, sphere of radius
:data:`~services.geo.sphere.EARTH_RADIUS_KM`) is bounded: along any curve the ellipsoid's length element
is between M_min and max(M, N) = M_max times the unit sphere's (M and N are the meridional and
prime-vertical radii of curvature, M_min = a(1 - e²) at the equator, M_max = a / sqrt(1 - e²) at the
poles), so ``RATIO_LOW * sphere <= geodesic <= RATIO_HIGH * sphere``. A point within geodesic distance G
is therefore within sphere distance G / RATIO_LOW: take sphere candidates that far, rank by the geodesic.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from services.geo.errors import InvalidSearchError
from services.geo.results import ranked, validate_k, validate_query, validate_radius
from services.geo.sphere import (
    EARTH_RADIUS_KM,
    MAX_DISTANCE_KM,
    Polygon,
    fold_into_world,
    haversine_km,
    leaflet_polygons,
    ring_polygon,
    wrap_longitude,
)

#: Distance models the page offers: key -> label.
MODELS: dict[str, str] = {
    "sphere": f"Sphere (R = {EARTH_RADIUS_KM} km, haversine)",
    "ellipsoid": "WGS84 ellipsoid (geodesic, Karney)",
}
GEOD = Geod(ellps="WGS84")
_A_KM = GEOD.a / 1000.0
_E2 = GEOD.es
#: Proven bounds of geodesic / great-circle distance (see the module docstring), with 1e-9 slack.
RATIO_LOW = _A_KM * (1.0 - _E2) / EARTH_RADIUS_KM * (1 - 1e-9)
RATIO_HIGH = _A_KM / math.sqrt(1.0 - _E2) / EARTH_RADIUS_KM * (1 + 1e-9)
#: No two points on the ellipsoid are farther apart than half a meridian (pole to pole via a meridian is
#: the longest geodesic); a generous cap for radius inputs.
MAX_GEODESIC_KM = 20_003.94


def geodesic_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """WGS84 geodesic distance in km (broadcasting like :func:`~services.geo.sphere.haversine_km`).

    Calls pyproj's array kernel (``Geod._inv``, what ``Geod.inv`` runs after copying its inputs into fresh
    buffers and first trying, and failing, its scalar path): the same C code and so the same metres, without
    ~15 µs of wrapping per call, which for the ten results of one query is more than the geodesics take.
    ``_inv`` writes its answers over its inputs, so it gets fresh float arrays.
    """
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2)))
    if lat1.size == 0:
        return np.zeros(lat1.shape)
    lons1, lats1, lons2, lats2 = (np.array(v, dtype=np.float64, order="C").ravel() for v in (lon1, lat1, lon2, lat2))
    GEOD._inv(lons1, lats1, lons2, lats2, radians=False, return_back_azimuth=True)
    return (lons2 / 1000.0).reshape(lat1.shape)  # lons2 now holds the distances in metres


def _geodesic_from(lat: float, lon: float, rows: np.ndarray, points_lat: np.ndarray,
                   points_lon: np.ndarray) -> np.ndarray:
    """:func:`geodesic_km` from one query point to the given rows (the same kernel, fewer copies: the
    gathered rows are fresh arrays ``_inv`` may overwrite)."""
    if rows.size == 0:
        return np.zeros(0)
    lons2 = np.ascontiguousarray(points_lon[rows], dtype=np.float64)  # gathered: a fresh array
    lats2 = np.ascontiguousarray(points_lat[rows], dtype=np.float64)
    GEOD._inv(np.full(rows.size, lon), np.full(rows.size, lat), lons2, lats2, radians=False,
              return_back_azimuth=True)
    return lons2 / 1000.0


def ellipsoid_destination(lat: float, lon: float, bearing_deg, distance_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points reached on the ellipsoid from (lat, lon) along the given initial bearing(s) (Karney's direct
    problem); the same signature as :func:`services.geo.sphere.destination`, for the radius circle."""
    bearings = np.atleast_1d(np.asarray(bearing_deg, dtype=float))
    lons, lats, _ = GEOD.fwd(np.full(bearings.size, lon), np.full(bearings.size, lat), bearings,
                             np.full(bearings.size, distance_km * 1000.0))
    return np.asarray(lats), np.asarray(wrap_longitude(np.asarray(lons)))


#: Up to this radius the circle is drawn as the region around the centre, beyond it as the world minus the
#: region around the antipode (either is exact; this keeps each polygon well inside its hemisphere).
_CAP_MAX_KM = 10_000.0
_BISECTIONS = 40  # bearing steps of 360° / 720 / 2**40: the cut-locus corner to well under a millimetre


def ellipsoid_circle(lat: float, lon: float, radius_km: float, segments: int = 720, *,
                     split_at_antimeridian: bool = True) -> list[Polygon]:
    """The points within WGS84 geodesic ``radius_km`` of (lat, lon), as flat-map polygons like
    :func:`services.geo.sphere.geodesic_circle`, for any radius.

    The edge is traced by the direct problem (Karney) at ``segments`` bearings, keeping only the bearings
    whose geodesic is still the shortest path at ``radius_km`` (the inverse problem gives the radius back).
    Past the cut locus, a short arc of the antipodal parallel where two shortest geodesics meet, a ray is
    no longer shortest, and nothing on it beyond the cut is on the edge: the edge is then traced by the
    rays that are, and meets itself on the cut locus, where each switch between kept and dropped bearings
    is found by bisection. When no ray is kept, no point is farther than the radius: the whole world.
    """
    if not (radius_km > 0 and math.isfinite(radius_km)):
        raise InvalidSearchError(f"radius must be a positive number of km, got {radius_km!r}")
    lats, lons = _edge(lat, lon, radius_km, segments)
    world = shapely.box(-180.0, -90.0, 180.0, 90.0)
    if lats.size < 3:
        return leaflet_polygons(world)
    if radius_km <= _CAP_MAX_KM:
        cap = ring_polygon(lat, lats, lons)
        return leaflet_polygons(fold_into_world(cap) if split_at_antimeridian else cap)
    hole = ring_polygon(-lat, lats, lons)  # the far side, around the antipode
    return leaflet_polygons(shapely.difference(world, fold_into_world(hole)))


def _edge(lat: float, lon: float, radius_km: float, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Edge vertices in bearing order: direct-problem points whose geodesic is shortest, plus the corners
    where the edge meets the cut locus."""
    bearings = np.linspace(0.0, 360.0, segments, endpoint=False)
    kept = _shortest_at(lat, lon, bearings, radius_km)
    chosen = [bearings[kept]]
    for i in np.flatnonzero(kept != np.roll(kept, -1)):  # a switch between bearing i and the next
        inside, outside = bearings[i], bearings[i] + 360.0 / segments
        if not kept[i]:
            inside, outside = outside, inside
        for _ in range(_BISECTIONS):
            middle = 0.5 * (inside + outside)
            if _shortest_at(lat, lon, np.array([middle]), radius_km)[0]:
                inside = middle
            else:
                outside = middle
        chosen.append(np.array([inside % 360.0]))
    edge = np.sort(np.concatenate(chosen))
    return ellipsoid_destination(lat, lon, edge, radius_km)


def _shortest_at(lat: float, lon: float, bearings: np.ndarray, radius_km: float) -> np.ndarray:
    """Whether the geodesic leaving (lat, lon) at each bearing is still a shortest path after ``radius_km``."""
    lats, lons = ellipsoid_destination(lat, lon, bearings, radius_km)
    return geodesic_km(lat, lon, lats, lons) >= radius_km - 1e-8  # 10 µm: far above the solver's error


def sphere_reach_km(geodesic: float) -> float:
    """The sphere distance within which every point of geodesic distance <= ``geodesic`` lies."""
    return min(geodesic / RATIO_LOW + 1e-6, MAX_DISTANCE_KM)


def _candidate_count(k: int) -> int:
    """Sphere candidates fetched for an ellipsoid K-nearest search. The proof needs every point out to
    RATIO_HIGH / RATIO_LOW (about 1.0101) times the K-th sphere distance; with K + K/2 + 8 candidates the
    farthest is nearly always beyond that, so one engine call answers."""
    return k + k // 2 + 8


def ellipsoid_nearest(index, lat: float, lon: float, k: int) -> pd.DataFrame:
    """The ``k`` points nearest on the ellipsoid (``idx``, geodesic ``distance_km``), ties by idx, from a
    :class:`~services.geo.index.PointIndex` on any engine.

    Exact: any K candidates bound the true K-th geodesic distance by RATIO_HIGH times their K-th sphere
    distance (G), and every point within geodesic G lies within sphere G / RATIO_LOW (the reach). One engine
    call fetches more than K sphere candidates; when every other point is provably beyond the reach, the
    candidates within it are all that can rank, and only they get a geodesic. Otherwise (dense duplicates,
    near-antipodal queries) every point within the reach is fetched.
    """
    lat, lon = validate_query(lat, lon)
    k = validate_k(k)
    if len(index) == 0:
        return ranked(np.zeros(0, dtype=np.int64), np.zeros(0), k)
    rows, sphere, outside_km = index.candidates_nearest(lat, lon, _candidate_count(k))
    top = min(k, rows.size)
    kth = float(np.partition(sphere, top - 1)[top - 1])
    reach = sphere_reach_km(kth * RATIO_HIGH)
    if not reach < outside_km:
        rows, sphere = index.candidates_within(lat, lon, reach)
    near = sphere <= reach
    rows = rows[near]
    return ranked(rows, _geodesic_from(lat, lon, rows, index.lat, index.lon), k)


def ellipsoid_within(index, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
    """Every point within geodesic ``radius_km``, nearest first, ties by idx: the sphere candidates within
    ``radius_km / RATIO_LOW``, kept by their geodesic distance."""
    lat, lon = validate_query(lat, lon)
    radius_km = validate_radius(radius_km)
    rows, _ = index.candidates_within(lat, lon, sphere_reach_km(radius_km))
    dist = _geodesic_from(lat, lon, rows, index.lat, index.lon)
    keep = dist <= radius_km
    return ranked(rows[keep], dist[keep])


def ellipsoid_search(index, lat: float, lon: float, mode: str, k: int, radius_km: float) -> pd.DataFrame:
    """:func:`services.geo.search.search` with geodesic distances."""
    if mode == "nearest":
        return ellipsoid_nearest(index, lat, lon, k)
    if mode == "radius":
        return ellipsoid_within(index, lat, lon, radius_km)
    if mode == "both":
        hits = ellipsoid_nearest(index, lat, lon, k)
        return hits[hits["distance_km"].to_numpy() <= validate_radius(radius_km)].reset_index(drop=True)
    raise InvalidSearchError(f"unknown search mode {mode!r}")


def model_disagreement(lat: float, lon: float, points_lat, points_lon, shown: pd.DataFrame,
                       other: pd.DataFrame) -> str:
    """One sentence on how far the two models disagree for this query: the largest relative and absolute
    difference of the shown results' distances, and whether the other model ranks other places."""
    if shown.empty:
        return "No results to compare the sphere and the ellipsoid on."
    rows = shown["idx"].to_numpy()
    sphere = haversine_km(lat, lon, points_lat[rows], points_lon[rows])
    geodesic = geodesic_km(lat, lon, points_lat[rows], points_lon[rows])
    delta = geodesic - sphere
    relative = np.where(sphere > 0, np.abs(delta) / np.where(sphere > 0, sphere, 1), 0.0)
    worst = int(np.argmax(np.abs(delta)))
    same = len(shown) == len(other) and np.array_equal(rows, other["idx"].to_numpy())
    ranking = "the same places in the same order" if same else "a different set or order of places"
    return (
        f"Sphere vs ellipsoid for this query: distances differ by up to {100 * relative.max():.3f} % "
        f"({delta[worst]:+.3f} km at rank {worst + 1}); the other model gives {ranking}."
    )
