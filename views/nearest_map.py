"""Nearest-neighbour map: exact great-circle K-nearest and radius search over world places, on a folium map."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from components.figure_export import show_figure
from components.folium_map import folium_map
from components.heavy import run_heavy
from components.page_header import page_header
from components.static_files import published_url
from components.url_state import Param, publish, restore
from services.budget import JOIN_DEADLINE_S, JOIN_PAGE_MAX_ROWS
from services.geo.batch import BatchIndex, named_join
from services.geo.benchmark import BENCH_BACKENDS, DEFAULT_SIZES, page_benchmark
from services.geo.ellipsoid import MODELS, model_disagreement
from services.geo.engine import BACKENDS, ENGINE_NAMES, POSTGIS, load_postgis
from services.geo.errors import BackendError, BackendUnavailable, GeoError, PointsFileError
from services.geo.figures import (
    benchmark_figure,
    join_links_figure,
    join_plan,
    join_summary,
    parquet_bytes,
    planar_sentence,
    plural,
    results_summary,
    speedup_caption,
)
from services.geo.index import PointIndex
from services.geo.mapview import (
    BASE_MAPS,
    MAX_DRAWN_RESULTS,
    MERCATOR_MAX_LAT,
    base_map,
    clicked_query,
    display_sample,
    dots_json,
    leaflet_files,
    outlines_json,
    results_script,
)
from services.geo.places import (
    POPULATION_THRESHOLDS,
    LoadedPoints,
    country_outlines,
    find_places,
    guess_coordinate_columns,
    place_label,
    place_query,
    points_from_table,
    read_geojson_points,
    read_table,
    world_places,
)
from services.geo.search import MODES, results_table, table_columns, timed_search
from services.geo.sphere import EARTH_RADIUS_KM, MAX_DISTANCE_KM
from services.text import escape_markdown
from services.workers import WorkTimeout
from views.catalog import PageInfo

TITLE = "Nearest-neighbour map"
MAP_KEY = "nn_map"
MAP_HEIGHT = 560
DATA_SOURCES = {"world": "World places (GeoNames)", "upload": "My file (CSV or GeoJSON)"}
BATCH_SOURCES = {"upload": "My file", "world": "A place list"}
JOIN_PREVIEW_ROWS = 1000

PARAMS = [
    Param("nn_lat", 48.8566, low=-90.0, high=90.0),
    Param("nn_lon", 2.3522, low=-180.0, high=180.0),
    Param("nn_mode", "nearest", choices=list(MODES)),
    Param("nn_k", 10, low=1, high=100),
    Param("nn_radius", 20.0, low=0.1, high=round(MAX_DISTANCE_KM, 1)),
    Param("nn_engine", "rtree", choices=[*BACKENDS, POSTGIS]),
    Param("nn_model", "sphere", choices=list(MODELS)),
    Param("nn_data", "world", choices=list(DATA_SOURCES)),
    Param("nn_pop", 15000, choices=list(POPULATION_THRESHOLDS)),
    Param("nn_base", "outlines", choices=list(BASE_MAPS)),
    Param("nn_dots", 3000, low=0, high=20000),
]

HAVERSINE_LATEX = (r"d = 2R \arcsin\sqrt{\sin^2\frac{\Delta\varphi}{2}"
                   r" + \cos\varphi_1\cos\varphi_2\sin^2\frac{\Delta\lambda}{2}}")

HOW_IT_WORKS = rf"""
**The trap.** An R-tree ranks by straight-line distance in its own coordinates. On longitude/latitude
degrees that is not distance on Earth: a degree of longitude shrinks with latitude, and ±180° is a seam.
On the 235k GeoNames places a planar R-tree's 10 nearest are wrong for most random query points
(the benchmark below counts them).

**Distance.** Every distance here is great-circle distance on a sphere of radius
R = {EARTH_RADIUS_KM} km (the IUGG mean Earth radius), by the haversine formula
${HAVERSINE_LATEX}$.
It differs from the WGS84 ellipsoid by up to about 0.5%.

**The index.** The R-tree stores each place as a 3-D unit vector (x, y, z). The straight-line (chord)
distance between unit vectors grows monotonically with great-circle distance, and the sphere has no seam
in 3-D, so queries next to the antimeridian or a pole need no special case. A K-nearest query asks the tree
for the K+1 nearest by chord, ranks them by haversine distance, and accepts them only when every point
outside is provably farther than the K-th; otherwise the window grows to a box around the K-th distance.
A radius query takes the box around the chord of the radius. STRtree does the same in lon/lat with
windows split at ±180° and widened to all longitudes near a pole; the ball tree uses scikit-learn's
haversine metric. All engines re-rank with the same haversine function, so they return identical
answers, ties broken by row number.

**Map.** Click the map (or type coordinates, or pick a place by name) to move the query point. The radius
circle is geodesic: its edge is at the true distance, cut where it crosses ±180°. Lines follow great
circles. Country outlines come from Natural Earth and work offline; tile base maps need the internet and
fall back to the outlines when their tiles fail to load.
"""


# --- cached data and indexes (the seam between the page and the services) ---------------------------------


@st.cache_resource(show_spinner="Loading world places…", max_entries=4)
def cached_world_places(min_population: int) -> pd.DataFrame:
    """Read-only and shared: a resource, so the 235k-row table is not copied on every rerun."""
    return world_places(min_population)


@st.cache_resource(show_spinner="Loading country outlines…")
def cached_outlines() -> str:
    return outlines_json(country_outlines())


@st.cache_resource(show_spinner="Reading the file…", max_entries=4)
def cached_table(digest: str, _data: bytes) -> pd.DataFrame:
    """Uploads are keyed by content hash and kept as shared read-only resources: a million-row table is
    not copied (pickled) on every rerun, as ``st.cache_data`` would."""
    return read_table(_data)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_table_points(digest: str, lat_column: str, lon_column: str, _table: pd.DataFrame) -> LoadedPoints:
    return points_from_table(_table, lat_column, lon_column)


@st.cache_resource(show_spinner="Reading the file…", max_entries=4)
def cached_geojson(digest: str, _data: bytes) -> LoadedPoints:
    return read_geojson_points(_data)


@st.cache_resource(show_spinner="Building the index…", max_entries=8)
def cached_index(dataset_key: str, engine: str, _lat: np.ndarray, _lon: np.ndarray, dsn: str | None) -> PointIndex:
    """One index per dataset and engine, kept across reruns and sessions (``dataset_key`` names the data)."""
    if engine == POSTGIS:
        return PointIndex(_lat, _lon, POSTGIS, dsn=dsn, table=load_postgis().dataset_table(dataset_key))
    return PointIndex(_lat, _lon, engine)


@st.cache_resource(show_spinner="Building the k-d tree…", max_entries=4)
def cached_batch_index(dataset_key: str, _lat: np.ndarray, _lon: np.ndarray) -> BatchIndex:
    return BatchIndex(_lat, _lon)


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_dots(dataset_key: str, count: int, _places: pd.DataFrame) -> str:
    return dots_json(display_sample(_places, count))


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_columns(dataset_key: str, _places: pd.DataFrame) -> tuple[str, ...]:
    """The results-table columns this dataset has values for (no all-empty population or country)."""
    return table_columns(_places)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_find(dataset_key: str, text: str, _places: pd.DataFrame) -> pd.DataFrame:
    """Name matches, kept so that reruns (clicks, sliders) do not rescan 235k names while text is typed."""
    return find_places(_places, text, limit=25)


@st.cache_data(show_spinner=False, ttl=30)
def cached_connection_problem(dsn: str) -> str | None:
    return load_postgis().connection_problem(dsn)


# --- PostGIS availability --------------------------------------------------------------------------------


def postgis_status() -> tuple[str | None, str]:
    """(usable DSN or None, a sentence for the engine picker). Never shows the password."""
    try:
        postgis = load_postgis()
    except BackendUnavailable as exc:  # psycopg is not installed: say so, carry on in memory
        return None, str(exc)
    dsn = postgis.dsn_from_env() or _secret_dsn()
    status = postgis.postgis_status(dsn, cached_connection_problem(dsn) if dsn else None)
    return status.dsn, status.note


def _secret_dsn() -> str | None:
    try:
        value = st.secrets.get("GEO_DSN")
    except FileNotFoundError:  # no (or an unreadable) secrets file: Streamlit's error is one of these
        return None
    return str(value) if value else None


# --- state changes from the map and the pickers ------------------------------------------------------------


def _apply_map_click() -> None:
    """A new click on the map moves the query point (runs before the coordinate inputs are drawn)."""
    state = st.session_state.get(MAP_KEY)
    click = state.get("last_clicked") if isinstance(state, dict) else None
    query = clicked_query(click)
    if query is None or click == st.session_state.get("_nn_handled_click"):
        return
    st.session_state["_nn_handled_click"] = click
    st.session_state["nn_lat"], st.session_state["nn_lon"] = query
    _forget_place()


def _forget_place() -> None:
    """The query moved away from the picked place (typed or clicked): the picker must not still name it."""
    st.session_state["nn_place"] = None


def _go_to_place(places: pd.DataFrame) -> None:
    row = st.session_state.get("nn_place")
    if row is None:
        return
    st.session_state["nn_lat"], st.session_state["nn_lon"] = place_query(places, row)


# --- page sections -----------------------------------------------------------------------------------------


def _choose_dataset() -> tuple[str, pd.DataFrame, tuple[str, ...]] | None:
    """(dataset key, places frame, notes) from the world places or an upload; None when nothing is usable."""
    source = st.radio("Places", list(DATA_SOURCES), format_func=DATA_SOURCES.get, key="nn_data", horizontal=True)
    if source == "world":
        minimum = st.select_slider(
            "Minimum population",
            options=list(POPULATION_THRESHOLDS),
            key="nn_pop",
            format_func=lambda n: f"{n:,}",
            help="GeoNames' cities export for this threshold: places of at least this population, plus seats "
            "of administrative divisions. 500 gives all 234,908 places (the first load takes a few seconds).",
        )
        return f"world:{minimum}", cached_world_places(minimum), ()
    upload = st.file_uploader(
        "CSV with latitude/longitude columns, or GeoJSON points", type=["csv", "txt", "tsv", "geojson", "json"],
        key="nn_upload",
    )
    if upload is None:
        st.info("Choose a file, or switch back to the world places.")
        return None
    loaded = _read_upload(upload, "nn")
    if loaded is None:
        return None
    key, points = loaded
    return key, points.frame, points.notes


def _read_upload(upload, prefix: str) -> tuple[str, LoadedPoints] | None:
    """(dataset key, points) of an uploaded CSV or GeoJSON, asking for the coordinate columns when their
    names are not recognised; None (with a message) when the file cannot be used."""
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        if upload.name.lower().endswith((".geojson", ".json")):
            return f"upload:{digest}", cached_geojson(digest, data)
        table = cached_table(digest, data)
        lat_guess, lon_guess = guess_coordinate_columns(table.columns)
        columns = list(table.columns)
        pick_lat, pick_lon = st.columns(2)
        lat_column = pick_lat.selectbox(
            "Latitude column", columns, index=columns.index(lat_guess) if lat_guess else None,
            key=f"{prefix}_latcol_{digest}", placeholder="Choose…",
        )
        lon_column = pick_lon.selectbox(
            "Longitude column", columns, index=columns.index(lon_guess) if lon_guess else None,
            key=f"{prefix}_loncol_{digest}", placeholder="Choose…",
        )
        if lat_column is None or lon_column is None:
            st.info(
                "Choose the latitude and longitude columns: their names were not recognised "
                f"(columns: {escape_markdown(', '.join(map(str, columns)))})."
            )
            return None
        return f"upload:{digest}:{lat_column}:{lon_column}", cached_table_points(digest, lat_column, lon_column, table)
    except PointsFileError as exc:
        st.error(f"Cannot use **{escape_markdown(upload.name)}**: {escape_markdown(exc)}")
        return None


def _choose_query(dataset_key: str, places: pd.DataFrame) -> None:
    text = st.text_input("Find a place by name", key="nn_find", placeholder="e.g. Reykjavík, Suva, Ushuaia")
    if text.strip():
        matches = cached_find(dataset_key, text.strip(), places)
        if matches.empty:
            st.caption(f"No place name contains “{text.strip()}”.")
        else:
            labels = {int(row): place_label(places, int(row)) for row in matches.index}
            st.selectbox(
                f"{len(matches)} match{'es' if len(matches) != 1 else ''}", list(labels), format_func=labels.get,
                index=None, placeholder="Choose one to move the query point there", key="nn_place",
                on_change=_go_to_place, args=(places,),
            )
    # One above the other: side by side, a projector-width column clips "48.85660" to "48.856".
    st.number_input("Latitude (°)", min_value=-90.0, max_value=90.0, step=0.01, format="%.5f", key="nn_lat",
                    on_change=_forget_place)
    st.number_input("Longitude (°)", min_value=-180.0, max_value=180.0, step=0.01, format="%.5f",
                    key="nn_lon", on_change=_forget_place)
    st.caption("Or click the map.")


def _choose_search(size: int) -> tuple[str, int, float]:
    mode = st.radio("Search", list(MODES), format_func=MODES.get, key="nn_mode", horizontal=True)
    k = st.slider("K (number of neighbours)", 1, 100, key="nn_k", disabled=mode == "radius",
                  help="K larger than the number of places returns them all.")
    radius = st.number_input("Radius (km)", min_value=0.1, max_value=round(MAX_DISTANCE_KM, 1), step=5.0,
                             format="%.1f", key="nn_radius", disabled=mode == "nearest")
    st.radio("Distance", list(MODELS), format_func=MODELS.get, key="nn_model", horizontal=True,
             help="The sphere is what the indexes search; the ellipsoid ranks their candidates by the WGS84 "
             "geodesic, exactly (the search bound is widened by the proven largest ratio of the two).")
    if mode != "radius" and k > size:
        st.caption(f"Only {plural(size, 'place')}: all of them are returned.")
    return mode, int(k), float(radius)


def _choose_engine() -> tuple[str, str | None]:
    dsn, postgis_note = postgis_status()
    engines = [*BACKENDS] + ([POSTGIS] if dsn else [])
    if st.session_state.get("nn_engine") not in engines:
        if st.session_state.get("nn_engine") == POSTGIS:
            st.warning("PostGIS is not reachable; using the in-memory R-tree instead.")
        st.session_state["nn_engine"] = "rtree"
    engine = st.selectbox(
        "Search engine", engines, format_func=ENGINE_NAMES.get, key="nn_engine",
        help="\n\n".join(f"**{ENGINE_NAMES[name]}**: {text}" for name, text in BACKENDS.items()),
    )
    st.caption(postgis_note)
    return engine, dsn


def _draw_results(table: pd.DataFrame, summary: str) -> None:
    st.markdown(summary)
    if table.empty:
        st.info("No place matches: widen the radius or raise K.")
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "population": st.column_config.NumberColumn("population", format="localized"),
            "lat": st.column_config.NumberColumn("lat", format="%.5f"),
            "lon": st.column_config.NumberColumn("lon", format="%.5f"),
            "distance_km": st.column_config.NumberColumn("distance (km)", format="%.3f"),
        },
        key="nn_results",
    )
    st.download_button(
        "Download results (CSV)", data=lambda: table.to_csv(index=False), file_name="nearest-places.csv",
        mime="text/csv", key="nn_results_csv", on_click="ignore",
    )


@st.fragment
def _batch_panel() -> None:
    """Many points: a nearest-neighbour join of a whole file (or place list) against the current places."""
    with st.expander("Many points: nearest places for a whole file (batch join)", icon=":material/join:"):
        current = st.session_state.get("_nn_places")
        if current is None:
            st.info("Choose the places above first: the join runs against them.")
            return
        dataset_key, places = current
        source = st.radio("Query points", list(BATCH_SOURCES), format_func=BATCH_SOURCES.get, key="nn_batch_src",
                          horizontal=True)
        if source == "upload":
            upload = st.file_uploader("CSV or GeoJSON of query points", type=["csv", "txt", "tsv", "geojson", "json"],
                                      key="nn_batch_upload")
            loaded = _read_upload(upload, "nn_batch") if upload is not None else None
            if loaded is None:
                if upload is None:
                    st.info("Upload the query points (same formats as the places), or pick a place list.")
                return
            queries_key, queries = loaded[0], loaded[1].frame
            for note in loaded[1].notes:
                st.caption(note)
        else:
            minimum = st.selectbox("Place list as queries", list(POPULATION_THRESHOLDS), key="nn_batch_pop",
                                   format_func=lambda n: f"world places, population ≥ {n:,}")
            queries_key, queries = f"world:{minimum}", cached_world_places(minimum)
        mode_col, k_col, radius_col = st.columns(3)
        mode = mode_col.selectbox("Join", list(MODES), format_func=MODES.get, key="nn_batch_mode")
        k = k_col.number_input("K", 1, 1000, 3, key="nn_batch_k", disabled=mode == "radius")
        radius = radius_col.number_input("Radius (km)", 0.0, round(MAX_DISTANCE_KM, 1), 20.0, step=5.0,
                                         key="nn_batch_radius", disabled=mode == "nearest")
        index = cached_batch_index(dataset_key, places["lat"].to_numpy(), places["lon"].to_numpy())
        q_lat, q_lon = queries["lat"].to_numpy(), queries["lon"].to_numpy()
        try:
            estimate = index.estimate(q_lat, q_lon, mode, int(k), float(radius))
        except GeoError as exc:
            st.error(f"Cannot join: {exc}")
            return
        st.caption(join_plan(len(queries), len(places), estimate, JOIN_PAGE_MAX_ROWS))
        too_big = estimate.rows > JOIN_PAGE_MAX_ROWS
        model = st.session_state.get("nn_model", "sphere")  # the Distance switch of the panel above
        engine, dsn = st.session_state.get("_nn_engine", ("rtree", None))
        in_database = engine == POSTGIS and model == "sphere"
        if engine == POSTGIS and not in_database:
            st.caption("PostGIS measures on the sphere: the join on the ellipsoid runs in memory.")
        request = (queries_key, dataset_key, mode, int(k), float(radius), model, in_database)
        if st.button("Run the join", icon=":material/play_arrow:", key="nn_batch_run", disabled=too_big):
            progress = st.progress(0.0, text="Starting…")

            def report(done: float, step: str) -> None:
                progress.progress(done, text=step)

            try:  # on the shared pool, under a deadline; both joins check should_stop between chunks
                if in_database:
                    store = cached_index(dataset_key, POSTGIS, places["lat"].to_numpy(), places["lon"].to_numpy(),
                                         dsn).engine
                    join = run_heavy(store.join, q_lat, q_lon, mode, int(k), float(radius),
                                     max_rows=JOIN_PAGE_MAX_ROWS, what="The PostGIS join", deadline_s=JOIN_DEADLINE_S,
                                     progress=report)
                else:
                    join = run_heavy(index.join, q_lat, q_lon, mode, int(k), float(radius),
                                     max_rows=JOIN_PAGE_MAX_ROWS, model=model, what="The batch join",
                                     deadline_s=JOIN_DEADLINE_S, progress=report)
            except BackendError as exc:  # the database failed mid-join: what was shown stays
                st.error(f"The PostGIS join failed: {exc}. Pick an in-memory engine to keep going.")
            except (GeoError, WorkTimeout) as exc:  # too large after all, or too slow: what was shown stays
                st.error(f"Cannot join: {exc}")
            else:
                st.session_state["nn_batch_result"] = (request, named_join(join, queries, places))
            finally:
                progress.empty()
        result = st.session_state.get("nn_batch_result")
        if result is None or result[0] != request:
            return
        named = result[1]
        st.markdown(join_summary(named, len(queries), model))
        if in_database:
            st.caption("Joined in PostGIS: `CROSS JOIN LATERAL` in chunks of 2,000 query points, re-ranked by the "
                       "project's great-circle distance (equal to the in-memory join).")
        st.dataframe(named.head(JOIN_PREVIEW_ROWS), hide_index=True, width="stretch", key="nn_batch_table")
        show_figure(join_links_figure(named), "nearest-neighbour-join", key="nn_batch_fig")
        st.download_button("Download the join (CSV)", data=lambda: named.to_csv(index=False),
                           file_name="nearest-join.csv", mime="text/csv", key="nn_batch_csv", on_click="ignore")
        parquet = parquet_bytes(named)
        if parquet is not None:
            st.download_button("Download the join (Parquet)", data=parquet, file_name="nearest-join.parquet",
                               mime="application/vnd.apache.parquet", key="nn_batch_parquet", on_click="ignore")


@st.fragment
def _benchmark_panel() -> None:
    with st.expander("Benchmark: brute force vs R-tree vs STRtree vs BallTree", icon=":material/speed:"):
        st.markdown(
            "The seed post timed brute force against an R-tree as the point count grew from 10,000 to "
            "100,000. Here the same race runs on the sphere, with every engine giving the exact "
            "great-circle answer: index build time and time per K = 10 query as N grows up to all "
            "234,908 GeoNames places (random nested subsets; query points near random places)."
        )
        sizes_col, queries_col, engines_col = st.columns(3)
        largest = sizes_col.select_slider(
            "Largest N", options=list(DEFAULT_SIZES), value=100_000, format_func=lambda n: f"{n:,}",
            key="nn_bench_max",
        )
        queries = queries_col.number_input("Queries per engine and N", 5, 500, 50, step=5, key="nn_bench_queries")
        engines = engines_col.multiselect(
            "Engines", list(BENCH_BACKENDS), default=list(BENCH_BACKENDS), format_func=ENGINE_NAMES.get,
            key="nn_bench_engines",
        )
        if st.button("Run benchmark", icon=":material/play_arrow:", key="nn_bench_run", disabled=not engines):
            places = cached_world_places(500)
            progress = st.progress(0.0, text="Starting…")
            st.session_state["nn_bench_result"] = page_benchmark(
                places["lat"].to_numpy(), places["lon"].to_numpy(), largest, engines, queries=int(queries),
                on_progress=lambda done, step: progress.progress(done, text=f"Timing {step}"),
            )
            progress.empty()
        if "nn_bench_result" in st.session_state:
            bench = st.session_state["nn_bench_result"]
            show_figure(benchmark_figure(bench.timings), "nearest-neighbour-benchmark", data=bench.timings,
                        key="nn_bench_fig")
            caption = speedup_caption(bench.timings)
            if caption:
                st.caption(caption)
            st.markdown(planar_sentence(bench))


# --- the page ----------------------------------------------------------------------------------------------


def render() -> None:
    page_header(
        TITLE,
        "Find the places closest to any point on Earth: the K nearest, everything within a radius, or both. "
        "An R-tree finds candidates fast; great-circle distance decides, so answers stay exact across the "
        "antimeridian and near the poles.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    restore(PARAMS)
    _search_panel()
    _batch_panel()
    _benchmark_panel()


@st.fragment
def _search_panel() -> None:
    """Controls, map and results: a click or a control reruns this panel only, not the benchmark.

    The map comes first so that on a phone (columns stacked) it sits right under the title; on a wide
    screen the controls stand beside it and the results table spans the page below both.
    """
    _apply_map_click()
    map_column, controls = st.columns([2.2, 1.35], gap="large")
    with controls:
        dataset = _choose_dataset()
        if dataset is not None:
            dataset_key, places, notes = dataset
            st.session_state["_nn_places"] = (dataset_key, places)  # what the batch join runs against
            for note in notes:
                st.caption(note)
            _choose_query(dataset_key, places)
            mode, k, radius = _choose_search(len(places))
            engine, dsn = _choose_engine()
            st.session_state["_nn_engine"] = (engine, dsn)  # PostGIS runs the batch join in the database
        with st.expander("Map display", icon=":material/layers:"):
            base = st.selectbox("Base map", list(BASE_MAPS), format_func=lambda key: BASE_MAPS[key][0],
                                key="nn_base")
            dots = st.slider("Places drawn on the map (most populous first)", 0, 20000, step=500, key="nn_dots",
                             help="Only for display: every place is searched. Drawn on one canvas, not as markers.")
    publish(PARAMS)
    if dataset is None:
        with map_column:
            _draw_map(base, None, None, None)
        return

    lat, lon = float(st.session_state["nn_lat"]), float(st.session_state["nn_lon"])
    hits = None
    try:
        index = cached_index(dataset_key, engine, places["lat"].to_numpy(), places["lon"].to_numpy(), dsn)
        model = st.session_state["nn_model"]
        hits, elapsed_ms = timed_search(index, lat, lon, mode, k, radius, model)
        other, _ = timed_search(index, lat, lon, mode, k, radius, "ellipsoid" if model == "sphere" else "sphere")
    except BackendError as exc:  # the database can fail at any time; the in-memory engines stay usable
        st.error(f"The PostGIS search failed: {exc}. Pick an in-memory engine to keep going.")
    except GeoError as exc:
        st.error(f"Cannot search: {exc}")

    table = None
    if hits is not None:
        table = results_table(places, hits, columns=cached_columns(dataset_key, places))
    with map_column:
        _draw_map(base, (dataset_key, dots, places) if dots else None, (lat, lon, table),
                  radius if mode != "nearest" else None)
        if abs(lat) > MERCATOR_MAX_LAT:
            st.caption("Web maps (Web Mercator) stop at ±85° latitude; the search itself covers the poles.")
        if table is not None and len(table) > MAX_DRAWN_RESULTS:
            st.caption(f"The map draws the nearest {MAX_DRAWN_RESULTS:,} results; the table lists all {len(table):,}.")
    if table is not None:
        _draw_results(table, results_summary(
            mode=mode, k=k, radius_km=radius, found=len(table), n_places=len(places), lat=lat, lon=lon,
            engine=engine, elapsed_ms=elapsed_ms, model=model,
        ))
        st.caption(model_disagreement(lat, lon, index.lat, index.lon, hits, other))


def _draw_map(base: str, dots: tuple[str, int, pd.DataFrame] | None, query, radius_km: float | None) -> None:
    """The base map (built once per base and dots, and kept) with the results layer of this query on it."""
    layer = None
    if query is not None and query[2] is not None:
        q_lat, q_lon, table = query
        layer = results_script(q_lat, q_lon, table, radius_km, st.session_state.get("nn_model", "sphere"))
    if leaflet_files() is None:
        st.caption("Leaflet is loaded from a CDN (install `xstatic-leaflet` for a map that works offline).")
    dots_key = dots[:2] if dots else None

    def build():
        # Leaflet, outlines and dots as files the browser caches: a click then resends only the small scripts.
        points = cached_dots(dots[0], dots[1], dots[2]) if dots else None
        return base_map(cached_outlines(), base, points, height=MAP_HEIGHT, publish=published_url)

    # The layer fits the view to the results whenever they change.
    folium_map((base, dots_key), build, key=MAP_KEY, height=MAP_HEIGHT, layer_script=layer)


INFO = PageInfo(
    title=TITLE,
    icon=":material/travel_explore:",
    url_path="map",
    purpose="Exact great-circle K-nearest and radius search over 235k world places on an R-tree, with a live "
    "benchmark against brute force, STRtree and BallTree.",
    offline="Everything: places and country outlines ship with Python packages; map tiles are optional.",
    render=render,
)
