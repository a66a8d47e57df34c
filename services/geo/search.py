"""The page's questions in one call: K nearest, everything within a radius, or the K nearest within it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from services.geo.ellipsoid import MODELS, ellipsoid_search
from services.geo.errors import InvalidSearchError
from services.geo.index import PointIndex

#: Search modes: key -> label.
MODES: dict[str, str] = {
    "nearest": "K nearest",
    "radius": "Within a radius",
    "both": "K nearest within a radius",
}
TABLE_COLUMNS = ["rank", "name", "country", "population", "lat", "lon", "distance_km"]


def search(index: PointIndex, lat: float, lon: float, mode: str, k: int, radius_km: float) -> pd.DataFrame:
    """``idx`` / ``distance_km`` rows for the chosen mode, nearest first (ties by idx).

    "both" is exact as the K nearest cut at the radius: the K nearest points within r are the first K of
    all points within r, which are exactly the points of the K nearest overall that lie within r.
    """
    if mode == "nearest":
        return index.nearest(lat, lon, k)
    if mode == "radius":
        return index.within(lat, lon, radius_km)
    if mode == "both":
        if not radius_km >= 0:
            raise InvalidSearchError(f"radius must be at least 0 km, got {radius_km!r}")
        hits = index.nearest(lat, lon, k)
        return hits[hits["distance_km"].to_numpy() <= radius_km].reset_index(drop=True)
    raise InvalidSearchError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")


def timed_search(
    index: PointIndex, lat: float, lon: float, mode: str, k: int, radius_km: float, model: str = "sphere"
) -> tuple[pd.DataFrame, float]:
    """:func:`search` (or, for ``model="ellipsoid"``, its WGS84 geodesic twin) and its wall time in
    milliseconds (the page states it)."""
    if model not in MODELS:
        raise InvalidSearchError(f"unknown distance model {model!r}; choose one of {', '.join(MODELS)}")
    started = time.perf_counter()
    run = ellipsoid_search if model == "ellipsoid" else search
    hits = run(index, lat, lon, mode, k, radius_km)
    return hits, (time.perf_counter() - started) * 1000.0


def table_columns(places: pd.DataFrame) -> tuple[str, ...]:
    """:data:`TABLE_COLUMNS` without the descriptive ones this dataset has no value for (an upload with no
    population or country column would otherwise show "None" and blanks in every row)."""
    empty = set()
    if not pd.to_numeric(places["population"], errors="coerce").notna().any():
        empty.add("population")
    if not places["country"].astype(str).str.strip().ne("").any():
        empty.add("country")
    return tuple(column for column in TABLE_COLUMNS if column not in empty)


def results_table(places: pd.DataFrame, hits: pd.DataFrame, columns=TABLE_COLUMNS) -> pd.DataFrame:
    """The rows of ``places`` that ``hits`` names, in hit order, with rank and distance (for the table,
    the map markers and the CSV download); ``columns`` from :func:`table_columns` drops empty ones."""
    rows = hits["idx"].to_numpy()
    # Column by column (3x faster than indexing the frame: this runs on every click).
    data = {"rank": np.arange(1, len(rows) + 1), "distance_km": hits["distance_km"].to_numpy()}
    data |= {name: places[name].array.take(rows) for name in ("name", "country", "population", "lat", "lon")}
    return pd.DataFrame({name: data[name] for name in columns})
