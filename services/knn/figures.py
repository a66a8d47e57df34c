"""Plotly figures for the KNN page: shaded decision regions, curves, and the K-sweep animation.

Regions use one heatmap whose value is ``class + confidence``: each class owns a band of the colour scale
running from a pale tint (a split vote) to a stronger one (a unanimous vote), so one trace shows both the
decision and how sure it is. Confidence is the winning probability rescaled so 1/n_classes -> 0 and 1 -> 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from services.knn.evaluation import CvCurve, LearningCurve
from services.knn.explain import Explanation
from services.knn.preprocess import Grid, Split

PALETTE = [*qualitative.D3, *qualitative.Dark24[10:]]
#: How far towards white the region tint goes at the lowest and the highest confidence.
PALE, STRONG = 0.88, 0.5
#: Spacing of the invisible hover-and-click targets, in grid cells (about 60 a side).
LATTICE_TARGET = 60


def class_colors(n_classes: int) -> list[str]:
    return [PALETTE[code % len(PALETTE)] for code in range(n_classes)]


def _tint(color: str, towards_white: float) -> str:
    red, green, blue = hex_to_rgb(color)
    mix = [round(channel + (255 - channel) * towards_white) for channel in (red, green, blue)]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"


def region_colorscale(n_classes: int) -> list[list]:
    """Class ``c`` owns [c/n, (c+1)/n) of the scale, pale at its start and strong at its end."""
    scale = []
    for code, color in enumerate(class_colors(n_classes)):
        scale.append([code / n_classes, _tint(color, PALE)])
        scale.append([(code + 1) / n_classes, _tint(color, STRONG)])
    return scale


def confidence(proba: np.ndarray) -> np.ndarray:
    """The winning probability mapped from [1/n_classes, 1] to [0, 1]."""
    n_classes = proba.shape[1]
    return (proba.max(axis=1) - 1.0 / n_classes) / (1.0 - 1.0 / n_classes)


def region_values(labels: np.ndarray, proba: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Heatmap values ``class + 0.999 * confidence`` on the grid, rounded to keep the figure small."""
    return np.round(labels + 0.999 * confidence(proba), 3).reshape(shape)


def region_trace(grid: Grid, labels: np.ndarray, proba: np.ndarray, n_classes: int) -> go.Heatmap:
    return go.Heatmap(
        x=grid.xs,
        y=grid.ys,
        z=region_values(labels, proba, grid.shape),
        zmin=0,
        zmax=n_classes,
        colorscale=region_colorscale(n_classes),
        showscale=False,
        hoverinfo="skip",
        name="decision regions",
    )


def lattice_trace(grid: Grid, labels: np.ndarray, proba: np.ndarray, class_names: Sequence[str]) -> go.Scatter:
    """Invisible markers over the grid: hovering shows the vote there, clicking selects a location."""
    step = max(1, len(grid.xs) // LATTICE_TARGET)
    rows = np.arange(0, len(grid.ys), step)
    columns = np.arange(0, len(grid.xs), step)
    cells = (rows[:, np.newaxis] * len(grid.xs) + columns[np.newaxis, :]).ravel()
    names = np.asarray(class_names, dtype=object)[labels[cells]]
    return go.Scatter(
        x=grid.points_raw[cells, 0],
        y=grid.points_raw[cells, 1],
        mode="markers",
        marker={"size": 8, "opacity": 0},
        selected={"marker": {"opacity": 0}},
        unselected={"marker": {"opacity": 0}},
        customdata=np.column_stack([names, np.round(proba[cells].max(axis=1), 3)]),
        hovertemplate="(%{x:.3g}, %{y:.3g})<br>vote: %{customdata[0]} (P = %{customdata[1]})<extra></extra>",
        showlegend=False,
        name="locations",
    )


def _points(split: Split, train_pred: np.ndarray | None, test_pred: np.ndarray | None) -> list[go.Scatter]:
    colors = class_colors(split.n_classes)
    keep_visible = {"marker": {"opacity": 1}}
    traces = []
    n_original = split.n_train - split.n_added
    sets = (
        ("train", split.X_train_raw[:n_original], split.y_train[:n_original], "circle", 7),
        ("test", split.X_test_raw, split.y_test, "diamond", 8),
        ("added", split.X_train_raw[n_original:], split.y_train[n_original:], "star", 13),
    )
    for set_name, points, truth, symbol, size in sets:
        for code, name in enumerate(split.class_names):
            chosen = truth == code
            if not chosen.any():
                continue
            traces.append(
                go.Scatter(
                    x=points[chosen, 0],
                    y=points[chosen, 1],
                    mode="markers",
                    marker={
                        "color": colors[code], "symbol": symbol, "size": size, "line": {"width": 0.8, "color": "#222"}
                    },
                    unselected=keep_visible,
                    name=f"{name} ({set_name})",
                    legendgroup=set_name,
                    hovertemplate=f"{name} · {set_name}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>",
                )
            )
    wrong = []
    if train_pred is not None:
        wrong.append(split.X_train_raw[train_pred != split.y_train])
    if test_pred is not None:
        wrong.append(split.X_test_raw[test_pred != split.y_test])
    if wrong:
        missed = np.vstack(wrong)
        traces.append(
            go.Scatter(
                x=missed[:, 0],
                y=missed[:, 1],
                mode="markers",
                marker={"symbol": "circle-open", "size": 14, "color": "#111", "line": {"width": 1.6}},
                unselected=keep_visible,
                name=f"misclassified ({len(missed)})",
                hoverinfo="skip",
            )
        )
    return traces


def _explanation_traces(explanation: Explanation, split: Split) -> list[go.Scatter]:
    x0, y0 = explanation.location
    neighbours = explanation.neighbours
    xs = neighbours[split.feature_names[0]].to_numpy()
    ys = neighbours[split.feature_names[1]].to_numpy()
    line_x = np.column_stack([np.full(len(xs), x0), xs, np.full(len(xs), np.nan)]).ravel()
    line_y = np.column_stack([np.full(len(ys), y0), ys, np.full(len(ys), np.nan)]).ravel()
    keep_visible = {"marker": {"opacity": 1}}
    return [
        go.Scatter(
            x=line_x, y=line_y, mode="lines", line={"color": "#333", "width": 1}, hoverinfo="skip",
            name=f"the {explanation.k} neighbours", unselected=keep_visible,
        ),
        go.Scatter(
            x=[x0], y=[y0], mode="markers",
            marker={"symbol": "x-thin", "size": 16, "color": "#000", "line": {"width": 3}},
            name=f"explained: {explanation.predicted_name}", unselected=keep_visible,
            hovertemplate=f"explained location → {explanation.predicted_name}<extra></extra>",
        ),
    ]


def boundary_figure(
    grid: Grid,
    labels: np.ndarray,
    proba: np.ndarray,
    split: Split,
    *,
    title: str,
    train_pred: np.ndarray | None = None,
    test_pred: np.ndarray | None = None,
    explanation: Explanation | None = None,
    height: int = 620,
) -> go.Figure:
    """Shaded regions, hover/click lattice, training/test/added points, misclassified rings, explanation."""
    traces = [region_trace(grid, labels, proba, split.n_classes), lattice_trace(grid, labels, proba, split.class_names)]
    traces += _points(split, train_pred, test_pred)
    if explanation is not None:
        traces += _explanation_traces(explanation, split)
    figure = go.Figure(traces)
    figure.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"title": split.feature_names[0], "range": [grid.xs[0], grid.xs[-1]], "constrain": "domain"},
        yaxis={"title": split.feature_names[1], "range": [grid.ys[0], grid.ys[-1]]},
        legend={"orientation": "h", "y": -0.12},
        clickmode="event+select",
        dragmode="pan",
    )
    return figure


def cv_figure(curve: CvCurve, current_k: int) -> go.Figure:
    """Mean cross-validated error against K, the fold-to-fold spread, the best K and the current K."""
    spread = curve.fold_errors.std(axis=0)
    figure = go.Figure(
        [
            go.Scatter(
                x=np.concatenate([curve.ks, curve.ks[::-1]]),
                y=np.concatenate([curve.errors + spread, (curve.errors - spread)[::-1]]),
                fill="toself", fillcolor="rgba(31,119,180,0.15)", line={"width": 0}, hoverinfo="skip",
                name="± 1 s.d. across folds",
            ),
            go.Scatter(
                x=curve.ks, y=curve.errors, mode="lines+markers", name=f"mean {curve.n_folds}-fold error",
                line={"color": "#1f77b4"}, hovertemplate="K = %{x}<br>error %{y:.4f}<extra></extra>",
            ),
            go.Scatter(
                x=[curve.best_k], y=[curve.errors.min()], mode="markers", name=f"best K = {curve.best_k}",
                marker={"symbol": "star", "size": 18, "color": "#d62728", "line": {"width": 1, "color": "#222"}},
            ),
        ]
    )
    figure.add_vline(x=current_k, line_dash="dot", line_color="#555", annotation_text=f"K = {current_k}")
    figure.update_layout(
        title=f"{curve.n_folds}-fold cross-validated error against K",
        xaxis_title="number of neighbours K",
        yaxis_title="misclassification error",
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def learning_figure(curve: LearningCurve, current_k: int) -> go.Figure:
    figure = go.Figure(
        [
            go.Scatter(x=curve.ks, y=curve.train_errors, mode="lines+markers", name="training error"),
            go.Scatter(x=curve.ks, y=curve.test_errors, mode="lines+markers", name="test error"),
        ]
    )
    figure.add_vline(x=current_k, line_dash="dot", line_color="#555", annotation_text=f"K = {current_k}")
    figure.update_layout(
        title="Training and test error against K",
        xaxis_title="K  (← flexible, high variance · smooth, high bias →)",
        yaxis_title="misclassification error",
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def sweep_figure(grid: Grid, sweep: Sequence[tuple[int, np.ndarray, np.ndarray]], split: Split) -> go.Figure:
    """An animation over K: one frame per (k, labels, proba); the training points stay put."""
    first_k, first_labels, first_proba = sweep[0]
    figure = go.Figure([region_trace(grid, first_labels, first_proba, split.n_classes), *_points(split, None, None)])
    figure.frames = [
        go.Frame(
            name=str(k),
            data=[go.Heatmap(z=region_values(labels, proba, grid.shape))],
            traces=[0],
            layout={"title": {"text": f"K = {k}"}},
        )
        for k, labels, proba in sweep
    ]
    play = {"frame": {"duration": 500, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}}
    figure.update_layout(
        title=f"K = {first_k}",
        height=650,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        xaxis={"title": split.feature_names[0], "range": [grid.xs[0], grid.xs[-1]]},
        yaxis={"title": split.feature_names[1], "range": [grid.ys[0], grid.ys[-1]]},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "xanchor": "right",
                "y": -0.12,
                "yanchor": "top",
                "pad": {"t": 40, "r": 10},
                "showactive": False,
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ Pause", "method": "animate",
                     "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}]},
                ],
            }
        ],
        sliders=[
            {
                "currentvalue": {"prefix": "K = "},
                "x": 0.0,
                "y": -0.12,
                "pad": {"t": 40},
                "steps": [
                    {"label": str(k), "method": "animate",
                     "args": [[str(k)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}]}
                    for k, _, _ in sweep
                ],
            }
        ],
    )
    return figure
