"""The spatial-transformer page's presenter: plotly figures (digit mosaics, training curves, the learned
sampling grid, outputs over epochs, the angle relation, the confusion matrices), their captions and the
tables behind the downloads.

Digits are drawn white on black as the networks see them; mosaics are one heatmap (tiles separated by a
grey gap) with the captions as annotations, which keeps every figure a few traces however many digits it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from services.stn.analysis import StnAnalysis, ThetaView
from services.stn.data import DigitSet
from services.stn.training import EpochReport, EpochSnapshot

#: Value of the gap between tiles (mid grey on the 0..1 grey scale).
GAP_VALUE = 0.35
GAP = 2
MODEL_COLOURS = {"CNN": "#1f77b4", "ST-CNN": "#d62728"}
GREYS = [[0.0, "black"], [1.0, "white"]]


def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Tiles (n, h, w) laid out ``columns`` a row with a ``GAP``-pixel grey border between them."""
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    out = np.full((rows * (h + GAP) + GAP, columns * (w + GAP) + GAP), GAP_VALUE, dtype=np.float32)
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        top, left = GAP + row * (h + GAP), GAP + col * (w + GAP)
        out[top : top + h, left : left + w] = image
    return out


def _tile_centre(index: int, columns: int, h: int, w: int) -> tuple[float, float]:
    row, col = divmod(index, columns)
    return GAP + col * (w + GAP) + (w - 1) / 2, GAP + row * (h + GAP) + (h - 1) / 2


def _mosaic_trace(tiles: np.ndarray, columns: int) -> go.Heatmap:
    return go.Heatmap(z=mosaic(tiles, columns), colorscale=GREYS, zmin=0, zmax=1, showscale=False, hoverinfo="skip")


def _image_axes(fig: go.Figure, **selector) -> None:
    fig.update_xaxes(visible=False, constrain="domain", **selector)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain", **selector)


def sample_grid_figure(images: np.ndarray, captions: Sequence[str], columns: int = 8) -> go.Figure:
    """A mosaic of distorted digits with a caption under each (label and applied distortion)."""
    n, h, w = images.shape
    fig = go.Figure(_mosaic_trace(images, columns))
    for index, caption in enumerate(captions):
        x, y = _tile_centre(index, columns, h, w)
        fig.add_annotation(x=x, y=y + h / 2 - 3, text=caption, showarrow=False, font={"color": "#ffd54f", "size": 10})
    rows = -(-n // columns)
    fig.update_layout(height=60 + rows * 105, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    _image_axes(fig)
    return fig


def training_figure(history: Sequence[EpochReport], epochs: int) -> go.Figure:
    """Loss and accuracy of both models per epoch; the x axis spans every epoch asked for, so it fills as it goes."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss (cross-entropy)", "Accuracy"))
    x = [report.epoch for report in history]
    for name, prefix in (("CNN", "cnn"), ("ST-CNN", "stn")):
        colour = MODEL_COLOURS[name]
        fig.add_trace(go.Scatter(x=x, y=[getattr(r, f"{prefix}_loss") for r in history], name=f"{name} loss",
                                 mode="lines+markers", line={"color": colour}), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[getattr(r, f"{prefix}_test_accuracy") for r in history],
                                 name=f"{name} test", mode="lines+markers", line={"color": colour}), row=1, col=2)
        fig.add_trace(go.Scatter(x=x, y=[getattr(r, f"{prefix}_train_accuracy") for r in history],
                                 name=f"{name} train", mode="lines", line={"color": colour, "dash": "dot"}),
                      row=1, col=2)
    fig.update_xaxes(title_text="epoch", range=[0.5, epochs + 0.5], dtick=1 if epochs <= 20 else 5)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=340, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.25})
    return fig


def before_after_figure(inputs: np.ndarray, outputs: np.ndarray, captions: Sequence[str]) -> go.Figure:
    """Distorted test digits (top row) and what the transformer made of them (bottom row)."""
    n, h, w = inputs.shape
    tiles = np.concatenate([inputs, outputs])
    fig = go.Figure(_mosaic_trace(tiles, n))
    for index, caption in enumerate(captions):
        x, y = _tile_centre(n + index, n, h, w)
        fig.add_annotation(x=x, y=y + h / 2 + 5, text=caption, showarrow=False, font={"size": 11})
    for row, text in enumerate(("input", "transformer output")):
        fig.add_annotation(x=-2, y=GAP + row * (h + GAP) + h / 2, text=text, textangle=-90, showarrow=False,
                           xanchor="right", font={"size": 12})
    fig.update_layout(height=90 + 2 * int(900 / n), margin={"l": 30, "r": 0, "t": 0, "b": 24})
    _image_axes(fig)
    return fig


def theta_grid_figure(image: np.ndarray, output: np.ndarray, view: ThetaView) -> go.Figure:
    """The input with the learned sampling grid drawn over it (where each output pixel reads), and the output."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("input and the learned sampling grid", "transformer output"),
                        horizontal_spacing=0.06)
    fig.add_trace(go.Heatmap(z=image, colorscale=GREYS, zmin=0, zmax=1, showscale=False, hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Heatmap(z=output, colorscale=GREYS, zmin=0, zmax=1, showscale=False, hoverinfo="skip"), 1, 2)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for line in view.grid:
        xs += [line[0, 0], line[1, 0], None]
        ys += [line[0, 1], line[1, 1], None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#00e5ff", "width": 1}, name="grid",
                             hoverinfo="skip", showlegend=False), 1, 1)
    # grid lines alternate vertical / horizontal; the first and the second-to-last are the output's left and
    # right edges, so their end points are its corners
    left, right = view.grid[0], view.grid[-2]
    corners = np.array([left[0], left[1], right[1], right[0], left[0]])
    fig.add_trace(go.Scatter(x=corners[:, 0], y=corners[:, 1], mode="lines", line={"color": "#ffd54f", "width": 2},
                             name="output's border", hoverinfo="skip", showlegend=False), 1, 1)
    h, w = image.shape
    fig.update_xaxes(range=[-0.5, w - 0.5], row=1, col=1)
    fig.update_yaxes(range=[h - 0.5, -0.5], row=1, col=1)
    _image_axes(fig)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(height=360, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    return fig


def epochs_figure(inputs: np.ndarray, snapshots: Sequence[EpochSnapshot]) -> go.Figure:
    """The fixed test digits (top) and the transformer's output for them after each saved epoch (bottom, a slider
    and a play button step through the epochs)."""
    n = len(inputs)

    def tiles(snapshot: EpochSnapshot) -> np.ndarray:
        return mosaic(np.concatenate([inputs, snapshot.outputs]), n)

    first = snapshots[0]
    fig = go.Figure(
        go.Heatmap(z=tiles(first), colorscale=GREYS, zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
        frames=[go.Frame(data=[go.Heatmap(z=tiles(s))], name=str(s.epoch)) for s in snapshots],
    )
    steps = [{"label": str(s.epoch), "method": "animate",
              "args": [[str(s.epoch)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}]}
             for s in snapshots]
    fig.update_layout(
        height=300,
        margin={"l": 0, "r": 0, "t": 10, "b": 10},
        sliders=[{"active": 0, "steps": steps, "currentvalue": {"prefix": "after epoch "}, "pad": {"t": 10}}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.05, "xanchor": "right",
                      "buttons": [{"label": "▶", "method": "animate",
                                   "args": [None, {"frame": {"duration": 500, "redraw": True},
                                                   "fromcurrent": True}]}]}],
    )
    _image_axes(fig)
    return fig


def angle_figure(analysis: StnAnalysis) -> go.Figure:
    """Applied rotation against the learned theta's rotation; the line y = -x is a transformer that undoes every
    degree, the fitted line is what this one does."""
    fig = go.Figure()
    palette = qualitative.D3
    for digit in range(10):
        mask = analysis.labels == digit
        if not mask.any():
            continue
        fig.add_trace(go.Scatter(
            x=analysis.applied_angles[mask], y=analysis.learned_rotation[mask], mode="markers", name=str(digit),
            marker={"size": 6, "color": palette[digit % len(palette)], "opacity": 0.75},
            hovertemplate="applied %{x:.1f}°<br>learned %{y:.1f}°<extra>digit " + str(digit) + "</extra>",
        ))
    span = float(np.max(np.abs(analysis.applied_angles), initial=1.0))
    line_x = np.array([-span, span])
    fig.add_trace(go.Scatter(x=line_x, y=-line_x, mode="lines", name="undoes every degree (y = −x)",
                             line={"color": "grey", "dash": "dash"}))
    relation = analysis.angles
    title = "Applied rotation vs the rotation of the learned θ"
    if relation.slope is not None and relation.intercept is not None:
        fig.add_trace(go.Scatter(x=line_x, y=relation.slope * line_x + relation.intercept, mode="lines",
                                 name=f"fit: slope {relation.slope:.2f}", line={"color": "black"}))
        title += f" (r = {relation.correlation:.2f})"
    fig.update_layout(title=title, height=420, xaxis_title="applied angle (°, the distortion's sampler θ)",
                      yaxis_title="learned rotation (°, decompose(θ))", legend_title="digit",
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def confusion_figure(cnn: np.ndarray, stn: np.ndarray, cnn_accuracy: float, stn_accuracy: float) -> go.Figure:
    """Both confusion matrices side by side on one colour scale (rows: true digit, columns: predicted)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=(
        f"CNN: {cnn_accuracy:.1%} correct", f"ST-CNN: {stn_accuracy:.1%} correct"))
    top = int(max(cnn.max(initial=1), stn.max(initial=1)))
    digits = [str(d) for d in range(cnn.shape[0])]
    for col, matrix in ((1, cnn), (2, stn)):
        fig.add_trace(go.Heatmap(z=matrix, x=digits, y=digits, zmin=0, zmax=top, colorscale="Blues",
                                 showscale=col == 2, text=matrix, texttemplate="%{text}",
                                 hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"), 1, col)
    fig.update_xaxes(title_text="predicted", type="category")
    fig.update_yaxes(title_text="true", autorange="reversed", type="category")
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


# ------------------------------------------------------------------- what the page shows next to the figures


@dataclass(frozen=True, eq=False)
class SampleView:
    """The digits of the sample grid, their captions, and the table behind the download."""

    indices: np.ndarray
    captions: list[str]
    table: pd.DataFrame


def sample_view(digits: DigitSet, count: int, *, with_scale: bool) -> SampleView:
    """``count`` training digits spread evenly over the set, captioned with the label and applied distortion."""
    indices = np.linspace(0, len(digits) - 1, min(count, len(digits))).astype(int)
    captions = [f"{digits.labels[i]} · {digits.angles[i]:+.0f}°" + (f" · ×{digits.scales[i]:.2f}" if with_scale else "")
                for i in indices]
    table = pd.DataFrame({"train_index": indices, "label": digits.labels[indices], "angle": digits.angles[indices],
                          "scale": digits.scales[indices], "tx": digits.shifts[indices, 0],
                          "ty": digits.shifts[indices, 1]})
    return SampleView(indices, captions, table)


def history_table(history: Sequence[EpochReport]) -> pd.DataFrame:
    return pd.DataFrame([vars(report) for report in history])


def training_seconds(history: Sequence[EpochReport]) -> float:
    return float(sum(report.cnn_seconds + report.stn_seconds for report in history))


def accuracy_gain(report: EpochReport) -> float:
    """ST-CNN test accuracy minus the CNN's, after this epoch."""
    return report.stn_test_accuracy - report.cnn_test_accuracy


def epoch_time_ratio(history: Sequence[EpochReport]) -> float:
    """Mean ST-CNN epoch time over mean CNN epoch time."""
    cnn = float(np.mean([report.cnn_seconds for report in history]))
    return float(np.mean([report.stn_seconds for report in history])) / max(cnn, 1e-9)


def prediction_captions(analysis: StnAnalysis, indices: np.ndarray) -> list[str]:
    return [f"{analysis.labels[i]}: CNN {analysis.cnn_predictions[i]} · ST {analysis.stn_predictions[i]}"
            for i in indices]


def undo_caption(digits: DigitSet, index: int) -> str:
    """What exactly undoing this digit's distortion would take (the inverse of its theta)."""
    return (f"Undoing the distortion exactly needs a rotation of {-digits.angles[index]:+.1f}° and a scale of "
            f"{digits.scales[index]:.2f} (the inverse of the distortion's θ), up to a turn the network may prefer "
            "for every digit.")


def theta_table(theta: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(theta), columns=["x", "y", "1"])


def angle_table(analysis: StnAnalysis) -> pd.DataFrame:
    return pd.DataFrame({"label": analysis.labels, "applied_angle": analysis.applied_angles,
                         "learned_rotation": analysis.learned_rotation})


def playground_query(theta: np.ndarray) -> str:
    """The affine playground's query string with ``theta`` typed in (its own names: mode, m00 ... m12)."""
    entries = "&".join(f"m{row}{col}={theta[row, col]:.6g}" for row in range(2) for col in range(3))
    return f"mode=direct&{entries}"
