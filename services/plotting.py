"""Plotly helpers for the figures a page rebuilds on every slider step: plain dicts, margins that do not move."""

from __future__ import annotations

import plotly.graph_objects as go


def unvalidated_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts without plotly's per-property validation: building the
    figures that change with every slider move through validated ``go.Scatter``s was ~5x the cost of the
    same JSON (py-spy at 8 sessions: 20 % of the affine server's time per move, ~half of a KNN K step). The
    unit tests validate every such figure once (``go.Figure(fig.to_dict())`` must accept it and give the same
    JSON)."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def fixed_margin(left: int, right: int, top: int, bottom: int) -> dict:
    """Margins in pixels that nothing may push out (give the figure's axes ``"automargin": False`` too). With
    plotly's auto margins a figure redrawn on every step was drawn twice in the browser: after the first draw
    ``doAutoMargin`` found the legend and tick labels past the margins and drew again (65 of ~180 ms of
    Plotly's work on a KNN K step, ~100 of ~210 ms on an affine move, in Chromium's profiler)."""
    return {"l": left, "r": right, "t": top, "b": bottom, "autoexpand": False}
