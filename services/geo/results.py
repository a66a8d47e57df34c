"""The one copy of what makes every engine's answer the brute-force answer: input validation, the exact
re-ranking by (distance, idx), and the ``idx`` / ``distance_km`` frame every search returns.

A leaf module (numpy, pandas and :mod:`services.geo.errors` only), so the in-memory engines, the PostGIS
store and the batch join share it without importing each other.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from services.geo.errors import InvalidCoordinatesError, InvalidSearchError

RESULT_COLUMNS = pd.Index(["idx", "distance_km"])


def result_frame(idx: np.ndarray, distance_km: np.ndarray) -> pd.DataFrame:
    """The ``idx`` / ``distance_km`` frame every search returns.

    Built from blocks because the plain ``pd.DataFrame({...})`` constructor costs ~0.2 ms here, more than
    the whole indexed search it would wrap.
    """
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    distance_km = np.ascontiguousarray(distance_km, dtype=np.float64)
    return create_dataframe_from_blocks(
        [(idx.reshape(1, -1), np.array([0])), (distance_km.reshape(1, -1), np.array([1]))],
        index=pd.RangeIndex(len(idx)),
        columns=RESULT_COLUMNS,
    )


def rank(rows: np.ndarray, dist: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows and their exact distances ordered by (distance, idx), cut to the first ``k``.

    The tie rule (equal distances by row position) is what makes every engine return the same rows.
    """
    if k is not None and rows.size > 4 * k + 64:
        kth = np.partition(dist, k - 1)[k - 1]
        keep = dist <= kth
        rows, dist = rows[keep], dist[keep]
    order = np.lexsort((rows, dist))[:k]
    return rows[order], dist[order]


def ranked(rows: np.ndarray, dist: np.ndarray, k: int | None = None) -> pd.DataFrame:
    """:func:`rank` as a result frame."""
    return result_frame(*rank(rows, dist, k))


def validate_points(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of the coordinates, or an :class:`InvalidCoordinatesError` naming the bad rows."""
    try:
        lat = np.asarray(lat, dtype=float).ravel()
        lon = np.asarray(lon, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InvalidCoordinatesError("coordinates must be numbers") from None
    if lat.shape != lon.shape:
        raise InvalidCoordinatesError(f"latitude and longitude differ in length ({lat.size} vs {lon.size})")
    bad_lat = ~(np.abs(lat) <= 90.0)  # also catches NaN
    bad_lon = ~(np.abs(lon) <= 180.0)
    bad = np.flatnonzero(bad_lat | bad_lon)
    if bad.size:
        shown = "; ".join(_describe_bad_row(i, lat[i], lon[i]) for i in bad[:10])
        more = f" (and {bad.size - 10} more)" if bad.size > 10 else ""
        raise InvalidCoordinatesError(
            f"{bad.size} of {lat.size} points have invalid coordinates: {shown}{more}", rows=bad
        )
    return np.ascontiguousarray(lat), np.ascontiguousarray(lon)


def _describe_bad_row(row: int, lat: float, lon: float) -> str:
    problems = []
    for name, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
        if not math.isfinite(value):
            problems.append(f"{name} is missing" if math.isnan(value) else f"{name} is {value}")
        elif abs(value) > limit:
            problems.append(f"{name} {value:g} is outside [-{limit}, {limit}]")
    return f"row {row}: " + ", ".join(problems)


def validate_query(lat, lon) -> tuple[float, float]:
    """The query point as two floats inside [-90, 90] x [-180, 180]."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InvalidCoordinatesError(f"query point must be two numbers, got {lat!r}, {lon!r}") from None
    if not abs(lat) <= 90.0:
        raise InvalidCoordinatesError(f"query latitude {lat} is outside [-90, 90]")
    if not abs(lon) <= 180.0:
        raise InvalidCoordinatesError(f"query longitude {lon} is outside [-180, 180]")
    return lat, lon


def validate_k(k) -> int:
    """K as an int of at least 1 (numpy integers accepted, bools and floats refused)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidSearchError(f"k must be a whole number of at least 1, got {k!r}")
    return int(k)


def validate_radius(radius_km) -> float:
    """The radius as a finite float of at least 0 km."""
    try:
        radius = float(radius_km)
    except (TypeError, ValueError):
        raise InvalidSearchError(f"radius must be a number of km, got {radius_km!r}") from None
    if not (radius >= 0.0 and math.isfinite(radius)):
        raise InvalidSearchError(f"radius must be a finite number of km, at least 0, got {radius_km!r}")
    return radius
