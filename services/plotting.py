"""Plotly figures built from plain dicts, for the figures a page rebuilds on every slider step."""

from __future__ import annotations

import plotly.graph_objects as go


def unvalidated_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts without plotly's per-property validation: building the
    figures that change with every slider move through validated ``go.Scatter``s was ~5x the cost of the
    same JSON (py-spy at 8 sessions: 20 % of the affine server's time per move, ~half of a KNN K step). The
    unit tests validate every such figure once (``go.Figure(fig.to_dict())`` must accept it and give the same
    JSON)."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)
