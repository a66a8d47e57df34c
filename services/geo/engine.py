"""The seam between the page and the search engines: what an engine is, which engines exist, and how to
get the optional database one.

Every engine answers ``nearest(lat, lon, k)`` and ``within(lat, lon, radius_km)`` with the same
``idx`` / ``distance_km`` frame (see :mod:`services.geo.results`) and has a length (its number of points).
:func:`services.geo.index.make_engine` is the one factory that builds them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Protocol, runtime_checkable

import pandas as pd

from services.geo.errors import BackendUnavailable

#: Engines that run in this process: name -> what the page says about it.
BACKENDS: dict[str, str] = {
    "rtree": "R-tree (rtree / libspatialindex) over 3-D unit vectors, refined by great-circle distance",
    "strtree": "STRtree (shapely / GEOS) over lon/lat, windows split at ±180°, refined by great-circle distance",
    "balltree": "Ball tree (scikit-learn, haversine metric), refined by great-circle distance",
    "brute": "Brute force: great-circle distance to every point (the reference)",
}
#: The database engine, built by :mod:`services.geo.postgis` when a server is configured.
POSTGIS = "postgis"
#: Short names for legends and pickers.
ENGINE_NAMES: dict[str, str] = {
    "rtree": "R-tree",
    "strtree": "STRtree",
    "balltree": "BallTree",
    "brute": "Brute force",
    POSTGIS: "PostGIS",
}


@runtime_checkable
class Engine(Protocol):
    """Exact great-circle search over fixed points; queries arrive already validated."""

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame: ...

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame: ...

    def __len__(self) -> int: ...


def load_postgis() -> ModuleType:
    """:mod:`services.geo.postgis`, or :class:`BackendUnavailable` when its driver (psycopg) is missing."""
    try:
        from services.geo import postgis
    except ImportError as exc:
        raise BackendUnavailable(
            f"PostGIS is not available in this installation ({type(exc).__name__}: {exc})."
        ) from exc
    return postgis
