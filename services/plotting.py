"""Plotly helpers for the figures a page rebuilds on every slider step: built from plain dicts, drawn once."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image

#: Streamlit's plotly theme as plain layout values (read off its charts in Chromium): a ``live_figure`` is
#: drawn with ``theme=None`` and carries the same look itself.
STREAMLIT_LOOK: dict[str, Any] = {
    "font": {"family": '"Source Sans", sans-serif', "size": 12, "color": "#808495"},
    "title": {"font": {"size": 16, "color": "#1f2937"}, "x": 0, "xref": "container"},
    "legend": {"font": {"color": "#262730"}},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": "rgba(31, 41, 55, 0.2)", "font": {"color": "#808495"}},
    "xaxis": {"title": {"font": {"size": 14}}, "showgrid": False, "zeroline": False, "tickcolor": "#e6eaf1",
              "ticklen": 5},
    "yaxis": {"title": {"font": {"size": 14}}, "showgrid": True, "gridcolor": "#e6eaf1", "zeroline": True,
              "zerolinecolor": "#e6eaf1", "tickcolor": "#e6eaf1", "ticklen": 5},
}
#: Significant digits a ``live_figure`` keeps of each float (hover shows three or four; short JSON).
SIGNIFICANT = 6


def unvalidated_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts without plotly's per-property validation: building the
    figures that change with every slider move through validated ``go.Scatter``s was ~5x the cost of the
    same JSON (py-spy at 8 sessions: 20 % of the affine server's time per move, ~half of a KNN K step). The
    unit tests validate every such figure once (``go.Figure(fig.to_dict())`` must accept it and give the same
    JSON)."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def live_figure(data: list[dict], layout: dict) -> go.Figure:
    """An ``unvalidated_figure`` that Chromium draws once when it arrives, not twice; show it with
    ``st.plotly_chart(..., theme=None)``.

    Every new figure mounts a new chart, and as it mounts Streamlit (1.67) replaces the figure with a JSON copy
    of itself, so ``Plotly.react`` runs again and draws everything again if anything looks changed: a template
    (an object: a new one), a numpy array (it arrives as a typed array, which plotly never takes as unchanged),
    a title (Streamlit's theme bolds it once more) or a fractional width (``components.chart_frame``). So this
    figure has no template and no theme (``STREAMLIT_LOOK`` instead), a fixed ``datarevision`` (plain arrays
    are then compared by revision), its arrays as plain lists (each float to ``SIGNIFICANT`` significant
    digits, ``_rounded``), and its own bold title.
    Measured on a KNN K step (two rounds against the heatmap figure, same run): one Plotly draw instead of
    two, painted p50 0.41 and 0.33 s -> 0.28 and 0.26 s."""
    layout = _merged(STREAMLIT_LOOK, layout)
    if layout["title"].get("text"):
        layout["title"]["text"] = f"<b>{layout['title']['text']}</b>"
    figure = unvalidated_figure([_plain(trace) for trace in data], {**layout, "datarevision": 0})
    figure.layout.template = None
    return figure


def fixed_margin(left: int, right: int, top: int, bottom: int) -> dict:
    """Margins in pixels that nothing may push out (give the figure's axes ``"automargin": False`` too). With
    plotly's auto margins a figure redrawn on every step was drawn twice in the browser: after the first draw
    ``doAutoMargin`` found the legend and tick labels past the margins and drew again (65 of ~180 ms of
    Plotly's work on a KNN K step, ~100 of ~210 ms on an affine move, in Chromium's profiler)."""
    return {"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False}


def png_data_uri(rgb: np.ndarray) -> str:
    """An (h, w, 3) uint8 picture as a PNG data URI (a plotly image trace's ``source``)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _merged(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merged(base[key], value) if nested else value
    return merged


class _SentList(list):
    """A list plotly.py does not deep-copy: a ``go.Figure`` copies its data when built and again when
    Streamlit serialises it, element by element for a list (twice the cost of a KNN step's whole figure).
    Built fresh for one figure and never changed, so sharing it is safe."""

    def __deepcopy__(self, memo: dict) -> _SentList:
        return self


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _SentList(_rounded(value).tolist())
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _rounded(values: np.ndarray) -> np.ndarray:
    """Each float to ``SIGNIFICANT`` significant digits of its own (a value far smaller than the array's largest
    keeps its digits); NaN and infinities stay (NaN: a gap in a line). Scaled by a power of ten, exact up to
    1e22, so for ordinary magnitudes the result is the double nearest the rounded decimal and its JSON short."""
    if values.dtype.kind != "f":
        return values
    values = values.astype(float)
    finite = np.isfinite(values) & (values != 0)
    exponent = np.zeros(values.shape, dtype=int)
    exponent[finite] = SIGNIFICANT - 1 - np.floor(np.log10(np.abs(values[finite]))).astype(int)
    up = 10.0 ** np.clip(exponent, 0, None)
    down = 10.0 ** np.clip(-exponent, 0, None)
    return np.where(finite, np.round(values * up / down) / up * down, values)
