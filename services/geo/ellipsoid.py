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
from pyproj import Geod

from services.geo.errors import InvalidSearchError
from services.geo.results import ranked, validate_k, validate_query, validate_radius
from services.geo.sphere import EARTH_RADIUS_KM, MAX_DISTANCE_KM, haversine_km, wrap_longitude

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
    """WGS84 geodesic distance in km (broadcasting like :func:`~services.geo.sphere.haversine_km`)."""
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2)))
    if lat1.size == 0:
        return np.zeros(lat1.shape)
    _, _, metres = GEOD.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    return np.asarray(metres, dtype=float).reshape(lat1.shape) / 1000.0


def ellipsoid_destination(lat: float, lon: float, bearing_deg, distance_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points reached on the ellipsoid from (lat, lon) along the given initial bearing(s) (Karney's direct
    problem); the same signature as :func:`services.geo.sphere.destination`, for the radius circle."""
    bearings = np.atleast_1d(np.asarray(bearing_deg, dtype=float))
    lons, lats, _ = GEOD.fwd(np.full(bearings.size, lon), np.full(bearings.size, lat), bearings,
                             np.full(bearings.size, distance_km * 1000.0))
    return np.asarray(lats), np.asarray(wrap_longitude(np.asarray(lons)))


def sphere_reach_km(geodesic: float) -> float:
    """The sphere distance within which every point of geodesic distance <= ``geodesic`` lies."""
    return min(geodesic / RATIO_LOW + 1e-6, MAX_DISTANCE_KM)


def ellipsoid_nearest(index, lat: float, lon: float, k: int) -> pd.DataFrame:
    """The ``k`` points nearest on the ellipsoid (``idx``, geodesic ``distance_km``), ties by idx, from any
    engine with ``nearest``/``within`` on the sphere."""
    lat, lon = validate_query(lat, lon)
    k = validate_k(k)
    first = index.nearest(lat, lon, k)
    if first.empty:
        return first
    # The sphere's K nearest are each at most RATIO_HIGH times their sphere distance away on the ellipsoid,
    # so the true K-th geodesic distance is at most RATIO_HIGH * (K-th sphere distance); every point that
    # close on the ellipsoid lies within that / RATIO_LOW on the sphere (about 1 % beyond the K-th).
    bound = float(first["distance_km"].to_numpy()[-1]) * RATIO_HIGH
    candidates = index.within(lat, lon, sphere_reach_km(bound))["idx"].to_numpy()
    return ranked(candidates, geodesic_km(lat, lon, index.lat[candidates], index.lon[candidates]), k)


def ellipsoid_within(index, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
    """Every point within geodesic ``radius_km``, nearest first, ties by idx."""
    lat, lon = validate_query(lat, lon)
    radius_km = validate_radius(radius_km)
    candidates = index.within(lat, lon, sphere_reach_km(radius_km))["idx"].to_numpy()
    dist = geodesic_km(lat, lon, index.lat[candidates], index.lon[candidates])
    keep = dist <= radius_km
    return ranked(candidates[keep], dist[keep])


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
