"""Everything the map page shows besides the map itself, built from plain data: the benchmark figure and
its caption, the results summary line, and the place labels of the picker. The page only places them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from services.geo.benchmark import PageBenchmark
from services.geo.engine import ENGINE_NAMES
from services.geo.sphere import EARTH_RADIUS_KM

ENGINE_COLORS = {"brute": "#d62728", "rtree": "#1f77b4", "strtree": "#2ca02c", "balltree": "#9467bd"}


def benchmark_figure(timings: pd.DataFrame) -> go.Figure:
    """Build time and time per K = 10 query against N, one line per engine (log scale for queries)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Index build time", "Time per K = 10 query"))
    for engine, rows in timings.groupby("backend", sort=False):
        style = dict(mode="lines+markers", name=ENGINE_NAMES[engine], legendgroup=engine,
                     line=dict(color=ENGINE_COLORS.get(engine)))
        fig.add_trace(go.Scatter(x=rows["n"], y=rows["build_s"] * 1000, **style), row=1, col=1)
        fig.add_trace(go.Scatter(x=rows["n"], y=rows["query_ms"], showlegend=False, **style), row=1, col=2)
    fig.update_xaxes(title_text="number of places N")
    fig.update_yaxes(title_text="build (ms)", row=1, col=1)
    fig.update_yaxes(title_text="per query (ms, log)", type="log", row=1, col=2)
    fig.update_layout(height=420, margin=dict(t=60, b=40), legend=dict(orientation="h", y=-0.2))
    return fig


def speedup_caption(timings: pd.DataFrame) -> str | None:
    """Each engine's speed-up over brute force at the largest N, or None when brute force was not timed."""
    largest = timings["n"].max()
    top = timings[timings["n"] == largest].set_index("backend")
    if "brute" not in top.index:
        return None
    speedups = ", ".join(
        f"{ENGINE_NAMES[name]} {top.loc['brute', 'query_ms'] / row.query_ms:,.0f}×"
        for name, row in top.iterrows() if name != "brute"
    )
    return f"Speed-up over brute force per query at N = {int(largest):,}: {speedups}."


def planar_sentence(bench: PageBenchmark) -> str:
    return (
        f"A planar R-tree on raw degrees (fast, but not great-circle) returned a wrong 10-nearest set "
        f"for **{bench.planar_wrong} of {bench.probes}** random query points at N = {bench.largest:,}."
    )


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 place``, ``2 places``, ``1,234 places``."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def results_summary(
    *, mode: str, k: int, radius_km: float, found: int, n_places: int, lat: float, lon: float, engine: str,
    elapsed_ms: float, model: str = "sphere",
) -> str:
    """The line above the results table: how many, of what question, where, by which engine, how fast."""
    what = {
        "nearest": f"the {min(k, n_places):,} nearest",
        "radius": f"all within {radius_km:,.1f} km",
        "both": f"the {k:,} nearest within {radius_km:,.1f} km",
    }[mode]
    distance = (
        f"great-circle km on a {EARTH_RADIUS_KM} km sphere" if model == "sphere"
        else "geodesic km on the WGS84 ellipsoid"
    )
    return (
        f"**{plural(found, 'place')}**: {what} of {n_places:,} to ({lat:.5f}, {lon:.5f}) · "
        f"{ENGINE_NAMES[engine]} · {elapsed_ms:.2f} ms · {distance}"
    )


# --- batch join --------------------------------------------------------------------------------------------

#: Links drawn on the join's map (a sample: the table and the downloads hold every row).
MAX_DRAWN_LINKS = 300


def join_plan(n_queries: int, n_places: int, estimate, cap: int) -> str:
    """What the join will do, said before it runs (and why it will not, past the page's cap)."""
    text = f"{plural(n_queries, 'query point')} against {plural(n_places, 'place')}: {estimate.describe()}."
    if estimate.rows > cap:
        text += f" That is over the page's limit of {cap:,} rows: use fewer query points, a smaller K or radius."
    return text


def join_summary(named: pd.DataFrame, n_queries: int, model: str = "sphere") -> str:
    matched = int(named["query_idx"].nunique()) if len(named) else 0
    distance = (f"great-circle km on a {EARTH_RADIUS_KM} km sphere" if model == "sphere"
                else "geodesic km on the WGS84 ellipsoid")
    return (f"**{plural(len(named), 'row')}** for {plural(matched, 'query point')} of {n_queries:,} with a match"
            f" · {distance}")


def join_links_figure(named: pd.DataFrame, max_links: int = MAX_DRAWN_LINKS) -> go.Figure:
    """A world map of a sample of the join's links (query → place): evenly spaced rows, so every part of
    the file is represented."""
    step = max(1, -(-len(named) // max_links))
    sample = named.iloc[::step]
    lats, lons = [], []
    for row in sample.itertuples(index=False):
        lats += [row.query_lat, row.place_lat, None]
        lons += [row.query_lon, row.place_lon, None]
    fig = go.Figure()
    fig.add_trace(go.Scattergeo(lat=lats, lon=lons, mode="lines", line=dict(width=1, color="#1f77b4"),
                                name="query → place", hoverinfo="skip"))
    fig.add_trace(go.Scattergeo(lat=sample["query_lat"], lon=sample["query_lon"], mode="markers",
                                marker=dict(size=4, color="#d62728"), name="query", text=sample["query_name"]))
    fig.add_trace(go.Scattergeo(lat=sample["place_lat"], lon=sample["place_lon"], mode="markers",
                                marker=dict(size=4, color="#1f77b4"), name="place", text=sample["place_name"]))
    shown = f"{len(sample):,} of {len(named):,} links" if len(sample) < len(named) else f"all {len(named):,} links"
    fig.update_layout(title=f"Join sample: {shown}", height=420, margin=dict(t=50, b=10, l=10, r=10),
                      geo=dict(projection_type="natural earth", showland=True, landcolor="#f4f1ea",
                               showcountries=True, countrycolor="#c8ccd4"))
    return fig


def parquet_bytes(table: pd.DataFrame) -> bytes | None:
    """The table as Parquet when pyarrow is installed (it is optional), else None."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    return table.to_parquet(index=False)
