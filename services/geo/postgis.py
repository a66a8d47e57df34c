"""PostGIS backend for nearest-place search: the same answers as ``PointIndex(..., backend="brute")``, served
by a GiST index on ``geography(Point)`` so millions of points need no process memory and can be shared.

Why results are *exactly* the brute-force ones: PostGIS's sphere (``use_spheroid=false``) has the WGS84 mean
radius (2a+b)/3 = 6371008.7714 m, not the 6371.0088 km this project uses, and its distance formula rounds
differently. So the database only *selects candidates* (``ORDER BY geog <-> q LIMIT m`` for K-nearest,
``ST_DWithin`` with a slightly padded radius for radius search); the returned rows are then re-ranked here
with the project's own haversine on the stored latitude/longitude, ties broken by ``idx``. For K-nearest the
candidate list grows until the K-th exact distance lies safely below the distance of the last candidate, so a
near-tie at the cut can never be missed.

Loading is a binary ``COPY`` into a fresh table, then the GiST index and ``ANALYZE``, then a swap with the
old table, all in one transaction: an interrupted load leaves the previous table as it was. A metadata table
``geo_point_sets`` remembers the content hash per table, so re-loading the same points is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from services.budget import JOIN_MAX_ROWS
from services.geo.batch import join_frame, ranks_within, validate_join_spec
from services.geo.errors import BackendError, GeoError, InvalidSearchError, JoinStopped, RequestTooLargeError
from services.geo.results import (
    rank,
    ranked,
    result_frame,
    validate_k,
    validate_points,
    validate_query,
    validate_radius,
)
from services.geo.sphere import EARTH_RADIUS_KM, MAX_DISTANCE_KM, haversine_km

#: Radius of the sphere PostGIS uses for geography with ``use_spheroid=false``: the WGS84 mean radius (2a+b)/3.
POSTGIS_SPHERE_RADIUS_KM = 6371.0087714150598
#: Table names we accept from users: lower-case identifiers PostgreSQL never needs to case-fold or truncate.
TABLE_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: Where each loaded table's content hash lives (makes reloading the same points a no-op).
METADATA_TABLE = "geo_point_sets"
#: Candidate pre-selection is padded by this relative + absolute slack, far above both the radius mismatch
#: above (4.5e-9 relative) and floating-point differences between the two distance formulas.
RELATIVE_SLACK = 1e-7
ABSOLUTE_SLACK_KM = 1e-6
#: Query points per LATERAL join statement (results stream back chunk by chunk).
JOIN_SQL_CHUNK_QUERIES = 2_000
#: Rows per COPY chunk; progress is reported after each.
COPY_CHUNK_ROWS = 100_000
CONNECT_TIMEOUT_S = 5
#: Bumped when the table layout changes, so old tables are reloaded instead of reused.
LAYOUT_VERSION = 1

Progress = Callable[[float, str], None]


class PostgisError(BackendError):
    """Something went wrong on the database side; the message is safe to show (no password)."""


class PostgisUnavailable(PostgisError):
    """The server cannot be reached or stopped answering (stopped, wrong address, wrong password)."""


class PostgisTableError(PostgisError):
    """The table is missing, has the wrong columns, or is not ours to replace."""


class _IndexOrderBroken(PostgisError):
    """PostGIS's KNN index scan gave up on a query (see ``PostgisPointStore._nearest_by_radius``)."""


class InvalidTableName(GeoError):
    """A user-supplied table name that does not match ``TABLE_NAME_PATTERN``."""


# -- connection strings ------------------------------------------------------------------------------------------


def dsn_from_env() -> str | None:
    """The PostGIS connection string from ``GEO_DSN``, or None when it is unset or blank."""
    value = os.environ.get("GEO_DSN", "").strip()
    return value or None


#: Connection parameters whose values are secrets (libpq's): never shown, whatever else is.
SECRET_PARAMETERS = ("password", "sslpassword")
UNENCODED_AT = "<host hidden: the connection string has an unencoded @ (write it as %40 in a password)>"


def redact_dsn(dsn: str) -> str:
    """``dsn`` as a URI with every secret replaced by ``***``, safe for logs and the UI.

    Secrets are the password and any other parameter named like one (``sslpassword``). An ``@`` left
    unencoded in a URI password makes libpq read the rest of the password as the host, so a host with an
    ``@`` in it is not shown at all.
    """
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "<unparseable connection string>"
    user = params.pop("user", "")
    password = params.pop("password", None)
    host = str(params.pop("host", ""))
    port = params.pop("port", "")
    dbname = params.pop("dbname", "")
    auth = quote(str(user), safe="") + (":***" if password else "")
    if "@" in host:
        netloc = (auth + "@" if auth else "") + UNENCODED_AT
    else:
        netloc = (auth + "@" if auth else "") + quote(host, safe=",") + (f":{port}" if port else "")
    query = "&".join(
        f"{quote(str(k), safe='')}={'***' if _is_secret(k) else quote(str(v), safe='')}"
        for k, v in sorted(params.items())
    )
    return f"postgresql://{netloc}/{quote(str(dbname), safe='')}" + (f"?{query}" if query else "")


def _is_secret(parameter: str) -> bool:
    return parameter in SECRET_PARAMETERS or "pass" in parameter.casefold()


def _secrets(dsn: str) -> list[str]:
    """Every value to mask in messages: secret parameters and a host that holds part of a password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return []
    values = [str(v) for k, v in params.items() if _is_secret(k) and v]
    host = str(params.get("host", ""))
    if "@" in host:
        values.append(host)
    return sorted(values, key=len, reverse=True)


def _scrub(message: object, dsn: str) -> str:
    """An error message with the DSN's secrets (if they somehow appear) masked; first lines only."""
    text = " ".join(str(message).strip().splitlines()[:3])
    for secret in _secrets(dsn):
        text = text.replace(secret, "***")
    return text


def _connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(
            dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="explorable-ml geo"
        )
    except psycopg.Error as exc:  # OperationalError, but also ProgrammingError for a malformed DSN
        raise PostgisUnavailable(f"cannot connect to PostGIS at {redact_dsn(dsn)}: {_scrub(exc, dsn)}") from exc


def connection_problem(dsn: str | None) -> str | None:
    """None when ``dsn`` reaches a database with PostGIS installed; otherwise why not, in words (no password)."""
    if not dsn or not dsn.strip():
        return "no PostGIS database configured: set GEO_DSN (for a local one run `make postgis`)"
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        return "GEO_DSN is not a valid PostgreSQL connection string (expected postgresql://user:password@host:port/db)"
    try:
        with _connect(dsn) as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
            database = conn.info.dbname
    except PostgisUnavailable as exc:
        return str(exc)
    except psycopg.Error as exc:
        return f"PostGIS at {redact_dsn(dsn)} did not answer a simple query: {_scrub(exc, dsn)}"
    if row is None:
        return (
            f"the database {database!r} at {redact_dsn(dsn)} is reachable but has no PostGIS extension; "
            "a superuser must run CREATE EXTENSION postgis there"
        )
    return None


@dataclass(frozen=True)
class PostgisStatus:
    """Whether the page can offer the PostGIS engine: the usable DSN (or None) and a sentence for the user."""

    dsn: str | None
    note: str


def postgis_status(dsn: str | None, problem: str | None) -> PostgisStatus:
    """What the engine picker says, from the configured DSN and :func:`connection_problem` for it (the page
    caches that probe). Never shows the password."""
    if not dsn:
        return PostgisStatus(
            None, "PostGIS: set `GEO_DSN` (environment or `.streamlit/secrets.toml`) to search a database."
        )
    if problem:
        return PostgisStatus(None, f"PostGIS at `{redact_dsn(dsn)}` is not usable: {problem}")
    return PostgisStatus(dsn, f"PostGIS at `{redact_dsn(dsn)}` is ready.")


def dataset_table(dataset_key: str) -> str:
    """The table that holds a dataset the page loaded (``world:15000``, ``upload:<hash>...``): a valid,
    unreserved name derived from the key, so the same data always lands in the same table."""
    return validate_table_name("nn_" + hashlib.sha256(dataset_key.encode()).hexdigest()[:16])


def validate_table_name(name: object) -> str:
    """``name`` if it matches ``TABLE_NAME_PATTERN`` and is not reserved; raises :class:`InvalidTableName`."""
    if not isinstance(name, str) or not TABLE_NAME_PATTERN.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise InvalidTableName(
            f"invalid table name {shown}: use 1-63 characters from a-z, 0-9 and _, not starting with a digit"
        )
    if name == METADATA_TABLE or name.startswith(("geo_load_", "pg_")):
        raise InvalidTableName(f"the table name {name!r} is reserved; pick another one")
    return name


# -- data sources ------------------------------------------------------------------------------------------------


def synthetic_points(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` points uniform on the sphere, columns lat, lon; the first m of n are the m-point set (same seed).

    Area-uniform: sin(latitude) is uniform on [-1, 1], longitude uniform on [-180, 180).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidSearchError(f"the number of synthetic points must be a positive integer, got {n!r}")
    uniform = np.random.default_rng(seed).random((int(n), 2))
    return pd.DataFrame(
        {"lat": np.degrees(np.arcsin(2.0 * uniform[:, 0] - 1.0)), "lon": 360.0 * uniform[:, 1] - 180.0}
    )


def content_sha256(lat: np.ndarray, lon: np.ndarray) -> str:
    """Identity of a point set: same coordinates in the same order give the same hash."""
    digest = hashlib.sha256(f"geo-points layout={LAYOUT_VERSION} n={len(lat)};".encode())
    digest.update(np.ascontiguousarray(lat, dtype="<f8").tobytes())
    digest.update(np.ascontiguousarray(lon, dtype="<f8").tobytes())
    return digest.hexdigest()


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# One row of ``COPY ... (FORMAT BINARY)`` for (idx bigint, lat float8, lon float8, geog geography): network
# byte order field lengths and values, the geography as little-endian EWKB Point with SRID 4326.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"), ("idx_len", ">i4"), ("idx", ">i8"), ("lat_len", ">i4"), ("lat", ">f8"),
        ("lon_len", ">i4"), ("lon", ">f8"), ("geog_len", ">i4"), ("byte_order", "u1"), ("wkb_type", "<u4"),
        ("srid", "<u4"), ("x", "<f8"), ("y", "<f8"),
    ]
)
_EWKB_POINT_WITH_SRID = 0x20000001
_EWKB_LEN = 25


def _copy_rows(lat: np.ndarray, lon: np.ndarray, idx: np.ndarray) -> bytes:
    rows = np.empty(len(lat), dtype=_COPY_ROW)
    rows["fields"] = 4
    rows["idx_len"] = rows["lat_len"] = rows["lon_len"] = 8
    rows["idx"] = idx
    rows["lat"] = rows["y"] = lat
    rows["lon"] = rows["x"] = lon
    rows["geog_len"] = _EWKB_LEN
    rows["byte_order"] = 1
    rows["wkb_type"] = _EWKB_POINT_WITH_SRID
    rows["srid"] = 4326
    return rows.tobytes()


def spatial_order(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Row order along a Z-order (Morton) curve over lat/lon, so rows that are close on the map are loaded
    together: the GiST index then gets tight leaf boxes and a K-nearest query touches a few pages, not dozens
    (about 3x faster at 1M random points)."""

    def spread(cells: np.ndarray) -> np.ndarray:  # 16 bits -> every other bit of 32
        v = cells.astype(np.uint64)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    scale = 2**16 - 1
    y = spread(np.rint((lat + 90.0) / 180.0 * scale))
    x = spread(np.rint((lon + 180.0) / 360.0 * scale))
    return np.argsort(x | (y << np.uint64(1)), kind="stable")


# -- the store ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TableInfo:
    n_points: int
    content_sha256: str | None


class PostgisPointStore:
    """Nearest / radius search over points in a PostGIS table; results match ``PointIndex(backend="brute")``.

    Build with :meth:`from_points` (load) or :meth:`from_table` (attach). One connection, guarded by a lock,
    so an instance can be shared between threads (e.g. via ``st.cache_resource``); a lost connection is
    re-opened on the next call.
    """

    def __init__(self, dsn: str, table: str, info: _TableInfo, *, reused: bool = False) -> None:
        self._dsn = dsn
        self.table = validate_table_name(table)
        self.n_points = info.n_points
        self.content_sha256 = info.content_sha256
        #: True when :meth:`from_points` found the same points already loaded and skipped the load.
        self.reused = reused
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgisPointStore({redact_dsn(self._dsn)!r}, table={self.table!r}, n_points={self.n_points})"

    def __len__(self) -> int:
        return self.n_points

    # -- construction ----------------------------------------------------------------------------------------

    @classmethod
    def from_table(cls, dsn: str, table: str) -> PostgisPointStore:
        """Attach to a table loaded earlier (by :meth:`from_points` or by hand with the same columns)."""
        table = validate_table_name(table)
        with _connect(dsn) as conn:
            try:
                info = _table_info(conn, table)
            except psycopg.OperationalError as exc:
                raise PostgisUnavailable(f"PostGIS connection lost reading {table!r}: {_scrub(exc, dsn)}") from exc
            except psycopg.Error as exc:
                raise PostgisError(f"reading table {table!r} failed: {_scrub(exc, dsn)}") from exc
        if info is None:
            raise PostgisTableError(
                f"table {table!r} not found in {redact_dsn(dsn)} (or it lacks the columns idx, lat, lon, geog)"
            )
        return cls(dsn, table, info)

    @classmethod
    def from_points(
        cls,
        dsn: str,
        lat: Any,
        lon: Any,
        *,
        table: str = "points",
        progress: Progress | None = None,
    ) -> PostgisPointStore:
        """Load points into ``table`` (replacing an earlier load there) and return a store over them.

        ``idx`` is the row position in ``lat``/``lon``. ``progress(fraction, message)`` is called after each
        COPY chunk and before the index build. Reloading identical points reuses the table (``reused``).
        A table of the same name that this module did not create is never replaced.
        """
        table = validate_table_name(table)
        lat_arr, lon_arr = validate_points(lat, lon)
        sha = content_sha256(lat_arr, lon_arr)
        report = progress or (lambda fraction, message: None)
        conn = _connect(dsn)
        try:
            with conn:
                with conn.transaction():
                    _ensure_metadata(conn)
                with conn.transaction():  # everything or nothing: the swap is the last step
                    reused = _load(conn, table, lat_arr, lon_arr, sha, report)
        except psycopg.OperationalError as exc:
            raise PostgisUnavailable(f"PostGIS connection lost while loading {table!r}: {_scrub(exc, dsn)}") from exc
        except psycopg.Error as exc:
            raise PostgisError(
                f"loading {table!r} failed, the previous table is unchanged: {_scrub(exc, dsn)}"
            ) from exc
        report(1.0, f"{len(lat_arr):,} points ready in table {table!r}" + (" (already loaded)" if reused else ""))
        return cls(dsn, table, _TableInfo(len(lat_arr), sha), reused=reused)

    # -- queries ---------------------------------------------------------------------------------------------

    def nearest(self, lat: float, lon: float, k: int) -> pd.DataFrame:
        """The ``k`` points closest to (lat, lon): columns idx, distance_km; by distance, ties by idx."""
        q_lat, q_lon = validate_query(lat, lon)
        k = min(validate_k(k), self.n_points)
        try:
            idx, distance = self._nearest_by_knn(q_lat, q_lon, k)
        except _IndexOrderBroken:
            idx, distance = self._nearest_by_radius(q_lat, q_lon, k)
        return result_frame(idx, distance)

    def within(self, lat: float, lon: float, radius_km: float) -> pd.DataFrame:
        """All points at most ``radius_km`` from (lat, lon): columns idx, distance_km; by distance, ties by idx."""
        q_lat, q_lon = validate_query(lat, lon)
        radius = validate_radius(radius_km)
        idx, distance = self._candidates_within(q_lat, q_lon, radius)
        keep = distance <= radius
        return ranked(idx[keep], distance[keep])

    def _nearest_by_knn(self, q_lat: float, q_lon: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``ORDER BY geog <-> q LIMIT m``, growing m until the exact top k cannot hide beyond the m-th row."""
        query = sql.SQL(
            "SELECT idx, lat, lon, geog <-> ST_Point(%(lon)s, %(lat)s, 4326)::geography AS knn_m FROM {} "
            "ORDER BY geog <-> ST_Point(%(lon)s, %(lat)s, 4326)::geography LIMIT %(limit)s"
        ).format(sql.Identifier(self.table))
        limit = k + 1  # one extra row proves the cut unless it ties with the k-th; then fetch 4x more
        while True:
            rows = self._fetch(query, {"lat": q_lat, "lon": q_lon, "limit": limit})
            top_idx, top_distance = rank(*self._exact(rows, q_lat, q_lon), k)
            if len(rows) < limit:  # every point was a candidate
                return top_idx, top_distance
            # Points not fetched are at least this far (PostGIS distance), so at least this far exactly:
            unseen_from_km = rows[-1][3] / 1000.0 * (1 - RELATIVE_SLACK) - ABSOLUTE_SLACK_KM
            if top_distance[-1] < unseen_from_km:
                return top_idx, top_distance
            limit *= 4

    def _nearest_by_radius(self, q_lat: float, q_lon: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """K-nearest through growing ``ST_DWithin`` searches, for queries where PostGIS's KNN scan fails.

        PostGIS 3.3 aborts ``ORDER BY geog <-> q`` with "index returned tuples in wrong order" when a stored
        point coincides with q but is written differently (lon 180 vs -180): its float index box then lies a
        hair away while the recomputed distance is 0. Radius search has no ordering to get wrong.
        """
        # Start where k points are expected if they were spread evenly (a cap of area k/n of the sphere).
        radius = max(2 * EARTH_RADIUS_KM * np.sqrt(k / max(self.n_points, 1)), 1e-3)
        while True:
            idx, distance = self._candidates_within(q_lat, q_lon, radius)
            if np.count_nonzero(distance <= radius) >= k or radius >= MAX_DISTANCE_KM:
                # Everything within ``radius`` was fetched, so the k-th exact distance bounds the rest.
                return rank(idx, distance, k)
            radius = min(radius * 4, MAX_DISTANCE_KM)

    def _candidates_within(self, q_lat: float, q_lon: float, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Every point within ``radius_km`` (and a few just beyond) with its exact distance, unordered."""
        query = sql.SQL(
            "SELECT idx, lat, lon FROM {} WHERE ST_DWithin(geog, ST_Point(%(lon)s, %(lat)s, 4326)::geography, "
            "%(radius_m)s, false)"
        ).format(sql.Identifier(self.table))
        padded_m = (radius_km * (1 + RELATIVE_SLACK) + ABSOLUTE_SLACK_KM) * 1000.0
        return self._exact(self._fetch(query, {"lat": q_lat, "lon": q_lon, "radius_m": padded_m}), q_lat, q_lon)

    @staticmethod
    def _exact(rows: list[tuple[Any, ...]], q_lat: float, q_lon: float) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their distances by the project's haversine (what the brute backend computes)."""
        idx = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        lat = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
        lon = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
        return idx, haversine_km(q_lat, q_lon, lat, lon)

    def _fetch(self, query: sql.Composed, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._session() as conn:
            return conn.execute(query, params).fetchall()

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The shared connection (re-opened if lost), with database errors turned into typed ones."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = _connect(self._dsn)
            try:
                yield self._conn
            except psycopg.OperationalError as exc:
                self._conn.close()
                raise PostgisUnavailable(
                    f"the PostGIS server at {redact_dsn(self._dsn)} stopped answering: {_scrub(exc, self._dsn)}"
                ) from exc
            except psycopg.errors.InternalError_ as exc:
                if "index returned tuples in wrong order" in str(exc):
                    raise _IndexOrderBroken(str(exc)) from exc
                raise PostgisError(f"PostGIS query on {self.table!r} failed: {_scrub(exc, self._dsn)}") from exc
            except psycopg.errors.UndefinedTable as exc:
                raise PostgisTableError(f"table {self.table!r} no longer exists in {redact_dsn(self._dsn)}") from exc
            except psycopg.Error as exc:
                raise PostgisError(f"PostGIS query on {self.table!r} failed: {_scrub(exc, self._dsn)}") from exc

    # -- batch join ------------------------------------------------------------------------------------------

    def iter_join(
        self, q_lat, q_lon, mode: str, k: int = 10, radius_km: float = 20.0, *,
        chunk_queries: int = JOIN_SQL_CHUNK_QUERIES, progress: Progress | None = None,
    ) -> Iterator[pd.DataFrame]:
        """The batch join (``services.geo.batch`` columns) in chunks of ``chunk_queries`` query points, one
        ``CROSS JOIN LATERAL`` statement each: ``ORDER BY geog <-> q LIMIT k + 1`` for K nearest,
        ``ST_DWithin`` for a radius. Candidates are re-ranked by the project's haversine, ties by idx, and
        a query whose K-th distance is not proven below its (K+1)-th candidate is redone by :meth:`nearest`.
        """
        mode, k, radius_km = validate_join_spec(mode, k, radius_km)
        q_lat, q_lon = validate_points(q_lat, q_lon)
        report = progress or (lambda fraction, message: None)
        n = q_lat.size
        for start in range(0, n, chunk_queries):
            stop = min(start + chunk_queries, n)
            lat, lon = q_lat[start:stop], q_lon[start:stop]
            if mode == "radius":
                query, place, dist = self._join_within(lat, lon, radius_km)
                ranks = ranks_within(query)
            else:
                query, place, ranks, dist = self._join_nearest(lat, lon, min(k, self.n_points))
                if mode == "both":
                    keep = dist <= radius_km
                    query, place, ranks, dist = query[keep], place[keep], ranks[keep], dist[keep]
            yield join_frame(query + start, place, ranks, dist)
            report(stop / n, f"joined {stop:,} of {n:,} query points in PostGIS")

    def join(self, q_lat, q_lon, mode: str, k: int = 10, radius_km: float = 20.0, *,
             max_rows: int = JOIN_MAX_ROWS, progress: Progress | None = None,
             should_stop: Callable[[], bool] | None = None) -> pd.DataFrame:
        """All of :meth:`iter_join` in one frame, refused with a message once it passes ``max_rows``;
        ``should_stop`` (the heavy-work pool passes it) is asked after every chunk, as ``BatchIndex.join`` does."""
        parts, total = [], 0
        for part in self.iter_join(q_lat, q_lon, mode, k, radius_km, progress=progress):
            if should_stop is not None and should_stop():
                raise JoinStopped(f"the PostGIS join was stopped after {total + len(part):,} result rows")
            total += len(part)
            if total > max_rows:
                raise RequestTooLargeError(f"this join passed {max_rows:,} result rows; use fewer query points, "
                                           "a smaller K or a smaller radius")
            parts.append(part)
        return pd.concat(parts, ignore_index=True) if parts else join_frame([], [], [], [])

    def _join_nearest(self, q_lat, q_lon, k: int) -> tuple[np.ndarray, ...]:
        if k == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, np.zeros(0)
        statement = sql.SQL(
            "SELECT q.i, c.idx, c.lat, c.lon, c.knn_m FROM unnest(%(i)s::bigint[], %(lat)s::float8[], "
            "%(lon)s::float8[]) AS q(i, lat, lon) CROSS JOIN LATERAL (SELECT idx, lat, lon, "
            "geog <-> ST_Point(q.lon, q.lat, 4326)::geography AS knn_m FROM {} "
            "ORDER BY geog <-> ST_Point(q.lon, q.lat, 4326)::geography LIMIT %(limit)s) AS c"
        ).format(sql.Identifier(self.table))
        params = {"i": list(range(q_lat.size)), "lat": q_lat.tolist(), "lon": q_lon.tolist(), "limit": k + 1}
        try:
            rows = self._fetch(statement, params)
        except _IndexOrderBroken:  # see _nearest_by_radius: redo this chunk one query at a time
            rows = []
            redo = np.arange(q_lat.size)
        else:
            redo = np.zeros(0, dtype=np.int64)
        query = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        place = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        lat = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
        lon = np.fromiter((row[3] for row in rows), dtype=np.float64, count=len(rows))
        knn_km = np.fromiter((row[4] for row in rows), dtype=np.float64, count=len(rows)) / 1000.0
        dist = haversine_km(q_lat[query], q_lon[query], lat, lon)
        order = np.lexsort((place, dist, query))
        query, place, dist = query[order], place[order], dist[order]
        ranks = ranks_within(query)
        # Per query: fetched k + 1 rows and the K-th exact distance not safely below the farthest fetched
        # (PostGIS distance, so every unseen point is at least that far) -> not proven.
        fetched = np.bincount(query, minlength=q_lat.size)
        farthest = np.full(q_lat.size, -np.inf)
        np.maximum.at(farthest, query, knn_km)
        kth = np.full(q_lat.size, -np.inf)
        at_k = ranks == k
        kth[query[at_k]] = dist[at_k]
        unseen_from = farthest * (1 - RELATIVE_SLACK) - ABSOLUTE_SLACK_KM
        unproven = np.flatnonzero((fetched > k) & ~(kth < unseen_from))
        keep = ranks <= k
        query, place, ranks, dist = query[keep], place[keep], ranks[keep], dist[keep]
        redo = np.union1d(redo, unproven)
        if redo.size:
            again = np.isin(query, redo)
            query, place, ranks, dist = query[~again], place[~again], ranks[~again], dist[~again]
            extra = [self.nearest(float(q_lat[i]), float(q_lon[i]), k) for i in redo.tolist()]
            query = np.concatenate([query, *[np.full(len(e), i, dtype=np.int64) for i, e in zip(redo.tolist(), extra)]])
            place = np.concatenate([place, *[e["idx"].to_numpy() for e in extra]])
            ranks = np.concatenate([ranks, *[np.arange(1, len(e) + 1) for e in extra]])
            dist = np.concatenate([dist, *[e["distance_km"].to_numpy() for e in extra]])
            order = np.lexsort((ranks, query))
            query, place, ranks, dist = query[order], place[order], ranks[order], dist[order]
        return query, place, ranks, dist

    def _join_within(self, q_lat, q_lon, radius_km: float) -> tuple[np.ndarray, ...]:
        statement = sql.SQL(
            "SELECT q.i, c.idx, c.lat, c.lon FROM unnest(%(i)s::bigint[], %(lat)s::float8[], %(lon)s::float8[]) "
            "AS q(i, lat, lon) CROSS JOIN LATERAL (SELECT idx, lat, lon FROM {} WHERE "
            "ST_DWithin(geog, ST_Point(q.lon, q.lat, 4326)::geography, %(radius_m)s, false)) AS c"
        ).format(sql.Identifier(self.table))
        padded_m = (radius_km * (1 + RELATIVE_SLACK) + ABSOLUTE_SLACK_KM) * 1000.0
        rows = self._fetch(statement, {"i": list(range(q_lat.size)), "lat": q_lat.tolist(), "lon": q_lon.tolist(),
                                       "radius_m": padded_m})
        query = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        place = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        lat = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
        lon = np.fromiter((row[3] for row in rows), dtype=np.float64, count=len(rows))
        dist = haversine_km(q_lat[query], q_lon[query], lat, lon)
        keep = dist <= radius_km
        query, place, dist = query[keep], place[keep], dist[keep]
        order = np.lexsort((place, dist, query))
        return query[order], place[order], dist[order]

    # -- lifetime --------------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgisPointStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- helpers -----------------------------------------------------------------------------------------------------


def _ensure_metadata(conn: psycopg.Connection[Any]) -> None:
    """Create the metadata table once (the lock stops two first loads from racing to create it)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [METADATA_TABLE])
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (table_name text PRIMARY KEY, content_sha256 text NOT NULL, "
            "n_points bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(METADATA_TABLE))
    )


def _table_info(conn: psycopg.Connection[Any], table: str) -> _TableInfo | None:
    """Size and content hash of ``table`` when it exists with our columns, else None."""
    columns = {
        name: type_name
        for name, type_name in conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            [sql.Identifier(table).as_string(conn)],
        ).fetchall()
    }
    expected = ("idx", "lat", "lon", "geog")
    if any(name not in columns for name in expected) or not columns["geog"].startswith("geography"):
        return None
    registered = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [METADATA_TABLE]).fetchone()
    if registered and registered[0]:
        row = conn.execute(
            sql.SQL("SELECT n_points, content_sha256 FROM {} WHERE table_name = %s").format(
                sql.Identifier(METADATA_TABLE)
            ),
            [table],
        ).fetchone()
        if row is not None:
            return _TableInfo(int(row[0]), row[1])
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return _TableInfo(int(count[0]) if count else 0, None)


def _load(
    conn: psycopg.Connection[Any], table: str, lat: np.ndarray, lon: np.ndarray, sha: str, report: Progress
) -> bool:
    """Inside the caller's transaction: load into a staging table and swap it in. True when already loaded."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{METADATA_TABLE}:{table}"])
    meta = sql.Identifier(METADATA_TABLE)
    target = sql.Identifier(table)
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [target.as_string(conn)]).fetchone()
    registered = conn.execute(
        sql.SQL("SELECT content_sha256 FROM {} WHERE table_name = %s").format(meta), [table]
    ).fetchone()
    if exists and exists[0]:
        if registered is None:
            raise PostgisTableError(
                f"table {table!r} already exists and was not loaded by this app; pick another table name"
            )
        if registered[0] == sha and _table_info(conn, table) is not None:
            return True
    n = len(lat)
    token = secrets.token_hex(8)
    staging = sql.Identifier(f"geo_load_{token}")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (idx bigint NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL, "
            "geog geography(Point, 4326) NOT NULL)"
        ).format(staging)
    )
    report(0.0, f"copying {n:,} points into PostGIS")
    order = spatial_order(lat, lon)
    copy_sql = sql.SQL("COPY {} (idx, lat, lon, geog) FROM STDIN (FORMAT BINARY)").format(staging)
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(_COPY_SIGNATURE)
        for start in range(0, n, COPY_CHUNK_ROWS):
            stop = min(start + COPY_CHUNK_ROWS, n)
            rows = order[start:stop]
            copy.write(_copy_rows(lat[rows], lon[rows], rows))
            report(0.6 * stop / n, f"copied {stop:,} of {n:,} points")
        copy.write(_COPY_TRAILER)
    report(0.6, f"building the GiST index over {n:,} points")
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING gist (geog)").format(sql.Identifier(f"geo_gist_{token}"), staging)
    )
    report(0.95, "collecting planner statistics (ANALYZE)")
    conn.execute(sql.SQL("ANALYZE {}").format(staging))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, target))
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (table_name, content_sha256, n_points) VALUES (%s, %s, %s) ON CONFLICT (table_name) "
            "DO UPDATE SET content_sha256 = EXCLUDED.content_sha256, n_points = EXCLUDED.n_points, loaded_at = now()"
        ).format(meta),
        [table, sha, n],
    )
    return False
