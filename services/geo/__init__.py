"""Exact great-circle search over places on the sphere, and the data the map page searches.

The map pieces (``services.geo.mapview``, folium), figures (``services.geo.figures``) and the benchmark
(``services.geo.benchmark``) are imported from their modules; ``services.geo.postgis`` is the optional
database engine (reach it through ``services.geo.engine.load_postgis``). Layers, leaf first: ``errors`` ->
``results`` -> ``engine`` -> ``index`` (in-memory engines and the factory) -> ``postgis`` (imported by the
factory only when asked for) -> ``search`` / ``batch`` -> ``figures`` / ``mapview``.
"""

from services.geo.engine import BACKENDS, ENGINE_NAMES, POSTGIS, Engine
from services.geo.errors import (
    BackendError,
    BackendUnavailable,
    GeoError,
    InvalidCoordinatesError,
    InvalidSearchError,
    JoinStopped,
    PointsFileError,
    RequestTooLargeError,
)
from services.geo.index import PointIndex, make_engine
from services.geo.places import (
    POPULATION_THRESHOLDS,
    LoadedPoints,
    country_outlines,
    find_places,
    guess_coordinate_columns,
    points_from_table,
    read_geojson_points,
    read_table,
    world_places,
)
from services.geo.search import MODES, results_table, search
from services.geo.sphere import EARTH_RADIUS_KM, geodesic_circle, great_circle_path, haversine_km

__all__ = [
    "BACKENDS",
    "EARTH_RADIUS_KM",
    "ENGINE_NAMES",
    "MODES",
    "POPULATION_THRESHOLDS",
    "POSTGIS",
    "BackendError",
    "BackendUnavailable",
    "Engine",
    "GeoError",
    "InvalidCoordinatesError",
    "InvalidSearchError",
    "JoinStopped",
    "RequestTooLargeError",
    "LoadedPoints",
    "PointIndex",
    "PointsFileError",
    "country_outlines",
    "find_places",
    "make_engine",
    "geodesic_circle",
    "great_circle_path",
    "guess_coordinate_columns",
    "haversine_km",
    "points_from_table",
    "read_geojson_points",
    "read_table",
    "results_table",
    "search",
    "world_places",
]
