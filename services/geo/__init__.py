"""Exact great-circle search over places on the sphere, and the data the map page searches.

The map pieces (``services.geo.mapview``, folium) and the benchmark (``services.geo.benchmark``) are imported
from their modules; ``services.geo.postgis`` is the optional database engine.
"""

from services.geo.index import BACKENDS, ENGINE_NAMES, InvalidCoordinatesError, PointIndex
from services.geo.places import (
    POPULATION_THRESHOLDS,
    LoadedPoints,
    PointsFileError,
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
    "InvalidCoordinatesError",
    "LoadedPoints",
    "PointIndex",
    "PointsFileError",
    "country_outlines",
    "find_places",
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
