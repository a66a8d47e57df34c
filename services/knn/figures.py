"""What the KNN page shows, built from plain data: figures, their download tables, captions and the text
that spells out a vote.

Regions are coloured by ``class + confidence``: each class owns a band of the colour scale running from a
pale tint (a split vote) to a stronger one (a unanimous vote), so one trace shows both the decision and how
sure it is. Confidence is the winning probability rescaled so 1/n_classes -> 0 and 1 -> 1. The boundary,
rebuilt on every K step, sends them as a PNG (``region_image_trace``) in a ``live_figure``; the K-sweep
animation as one byte per cell of a heatmap (``region_codes``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from services.knn.evaluation import CvCurve, LearningCurve
from services.knn.explain import Explanation
from services.knn.preprocess import Grid, Split
from services.knn.scratch import ScratchComparison
from services.knn.trees import ModelBoundary
from services.plotting import fixed_margin, live_figure, png_data_uri
from services.text import escape_markdown

PALETTE = [*qualitative.D3, *qualitative.Dark24[10:]]
#: How far towards white the region tint goes at the lowest and the highest confidence.
PALE, STRONG = 0.88, 0.5
#: Spacing of the invisible hover-and-click targets, in grid cells (about 40 a side: every point is within
#: plotly's 20 px hover distance of a target on a full-width plot, at a third of the bytes of 60 a side).
LATTICE_TARGET = 40
#: Markers of the invisible lattice that plotly actually draws (``marker.maxdisplayed``). Hover and click-to-
#: select read every point from plotly's data, not from the drawn SVG, so they still reach all ~1,600 targets;
#: drawing them (one transparent SVG path each) was most of plotly's time on every K step.
LATTICE_DRAWN = 1
#: The boundary figure's margins (``fixed_margin``): the bottom holds the axis title and up to five legend rows.
MARGIN = fixed_margin(70, 10, 50, 170)
#: The same without a legend and title, for the side-by-side panels.
PANEL_MARGIN = {**MARGIN, "t": 10, "b": 45}
#: The error curves' margins: ticks, the K axis title and three legend rows.
CURVE_MARGIN = fixed_margin(60, 10, 50, 110)
CURVE_LEGEND = {"orientation": "h", "y": -0.2, "yanchor": "top"}
#: Train and test curves: Okabe-Ito blue and vermillion, told apart by colour-blind readers too.
TRAIN_COLOR, TEST_COLOR = "#0072B2", "#D55E00"

#: Names of the page's choices as a person reads them.
DATASET_LABELS = {
    "iris": "Iris (pick 2 of 4 features)",
    "wine": "Wine (pick 2 of 13 features)",
    "breast_cancer": "Breast cancer (2 features or PCA)",
    "moons": "Synthetic: two moons",
    "circles": "Synthetic: circles",
    "blobs": "Synthetic: blobs",
    "xor": "Synthetic: XOR",
    "spiral": "Synthetic: spiral",
    "csv": "Upload a CSV",
}
SCALING_LABELS = {"none": "none", "standard": "standard (z-score)", "minmax": "min-max [0, 1]"}
VIEW_LABELS = {"features": "two features", "pca": "2-D PCA of all features"}
WEIGHT_LABELS = {"uniform": "uniform", "distance": "1 / distance"}
CLICK_ACTIONS = {"explain": "explain that location", "add": "add a training point there"}

INTRO = (
    "Watch the K-nearest-neighbour vote carve up the plane: small K follows every point, large K smooths "
    "over them. Every K is live, the cross-validated error says which K to trust, and any location can "
    "be explained neighbour by neighbour."
)
COMPARE_CAPTION = (
    "Trees split one feature at a time, hence the axis-parallel blocks; the forest averages trees grown on "
    "bootstrap samples."
)

#: The page's "how it works" text (Markdown with LaTeX).
HOW_IT_WORKS = r"""
**The vote.** For a location $x$, KNN finds the $K$ training points nearest to $x$ (the set $\mathcal{A}$)
and estimates $P(y=j \mid x) = \frac{1}{K}\sum_{i\in\mathcal{A}} I(y^{(i)}=j)$; with *distance* weights each
neighbour counts $1/d(x, x^{(i)})$ instead of 1. The colour of a region is the winning class; its strength
is the winning probability (pale = split vote, strong = unanimous).

**One query, every K.** The $K$ nearest points are the first $K$ of the $K_{max}$ nearest. The page asks a
KD-tree once for the nearest $K_{max}$ training points of every grid cell (the next power of two above
$K$), keeps running class totals along the neighbour ranks, and reads the vote at any $K \le K_{max}$ as one
row of those totals: moving the slider never searches again. The 10-fold cross-validation uses the same
trick: one query per fold, all 25 odd $K$ read off it.

**Exactly scikit-learn.** Distances come from scikit-learn's own KD-tree and votes are added in the same
order, so labels equal `KNeighborsClassifier.predict` and probabilities equal `predict_proba` (weighted
votes to the last few bits, which differ between CPUs). The one freedom is which of several *equally
distant* points fill the last places. Cells where that choice could change the vote are counted as ties and
settled the way scikit-learn settles them (the same KD-tree asked for exactly $K$ neighbours), and the
cross-validation does the same, so it makes the same predictions as `cross_val_score` and its errors agree
to rounding (10⁻¹²).

**What the seed teaches.** Small $K$: jagged, high-variance boundaries; large $K$: smooth, biased ones.
Choose $K$ by cross-validation over odd $K$ (odd avoids two-class draws), scale features so no unit
dominates the distance (the scaler is fitted on training points only), and $K$ cannot exceed the number of
training points.
"""


def plot_text(text: str) -> str:
    """User text shown literally in plotly's labels: its pseudo-HTML (links, styles) and template fields
    (``%{...}``) inert."""
    return html.escape(str(text), quote=False).replace("%{", "%&#123;")


def class_colors(n_classes: int) -> list[str]:
    return [PALETTE[code % len(PALETTE)] for code in range(n_classes)]


def _tint_rgb(color: str, towards_white: float) -> tuple[int, int, int]:
    red, green, blue = (round(channel + (255 - channel) * towards_white) for channel in hex_to_rgb(color))
    return red, green, blue


def _tint(color: str, towards_white: float) -> str:
    return "rgb({},{},{})".format(*_tint_rgb(color, towards_white))


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


def region_levels(n_classes: int) -> int:
    """Confidence steps per class in the one-byte encoding (all classes together fit in 0..255)."""
    return max(1, min(32, 256 // n_classes))


def region_codes(labels: np.ndarray, proba: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``region_values`` quantised to one byte per cell: class ``c`` owns codes ``c*L .. c*L + L-1``."""
    levels = region_levels(proba.shape[1])
    return np.floor(region_values(labels, proba, shape) * levels).astype(np.uint8)


def region_trace(grid: Grid, labels: np.ndarray, proba: np.ndarray, n_classes: int) -> dict:
    return {
        "type": "heatmap",
        "x": grid.xs.astype(np.float32),
        "y": grid.ys.astype(np.float32),
        "z": region_codes(labels, proba, grid.shape),
        "zmin": 0,
        "zmax": n_classes * region_levels(n_classes),
        "colorscale": region_colorscale(n_classes),
        "showscale": False,
        "hoverinfo": "skip",
        "name": "decision regions",
    }


def region_rgb(labels: np.ndarray, proba: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``region_codes`` as the colours the heatmap's ``region_colorscale`` gives them (class ``c``'s tint from
    ``PALE`` to ``STRONG``, linear in RGB as plotly interpolates), row 0 at ``ys[0]``: one colour per code,
    looked up."""
    n_classes = proba.shape[1]
    levels = region_levels(n_classes)
    pale = np.array([_tint_rgb(color, PALE) for color in class_colors(n_classes)], dtype=float)
    strong = np.array([_tint_rgb(color, STRONG) for color in class_colors(n_classes)], dtype=float)
    step = (np.arange(levels) / levels)[np.newaxis, :, np.newaxis]
    colours = pale[:, np.newaxis] + (strong - pale)[:, np.newaxis] * step  # (class, level, rgb)
    return np.round(colours).astype(np.uint8).reshape(-1, 3)[region_codes(labels, proba, shape)]


def region_image_trace(grid: Grid, labels: np.ndarray, proba: np.ndarray) -> dict:
    """The regions as a PNG (``region_rgb``) in an image trace, for the boundary drawn on every K step: a
    string, which plotly compares by value when Streamlit hands the chart its copy of the figure
    (``live_figure``); the heatmap's byte array made it draw the whole figure a second time."""
    return {
        "type": "image",
        "source": png_data_uri(region_rgb(labels, proba, grid.shape)),
        "x0": float(grid.xs[0]), "dx": float(grid.xs[1] - grid.xs[0]),
        "y0": float(grid.ys[0]), "dy": float(grid.ys[1] - grid.ys[0]),
        "hoverinfo": "skip",
        "name": "decision regions",
    }


def lattice_traces(grid: Grid, labels: np.ndarray, proba: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    """Invisible markers over the grid, one trace per winning class: hovering shows the vote there, clicking
    selects a location. Numbers only (six digits in a ``live_figure``), so a marker costs a few bytes."""
    step = max(1, len(grid.xs) // LATTICE_TARGET)
    rows = np.arange(0, len(grid.ys), step)
    columns = np.arange(0, len(grid.xs), step)
    cells = (rows[:, np.newaxis] * len(grid.xs) + columns[np.newaxis, :]).ravel()
    traces = []
    for code, name in enumerate(class_names):
        chosen = cells[labels[cells] == code]
        if not len(chosen):
            continue
        traces.append({
            "type": "scatter",
            "x": grid.points_raw[chosen, 0],
            "y": grid.points_raw[chosen, 1],
            "mode": "markers",
            "marker": {"size": 12, "opacity": 0, "maxdisplayed": LATTICE_DRAWN},
            "selected": {"marker": {"opacity": 0}},
            "unselected": {"marker": {"opacity": 0}},
            "customdata": proba[chosen].max(axis=1),
            "hovertemplate": "(%{x:.3g}, %{y:.3g})<br>vote: %{meta} (P = %{customdata:.3f})<extra></extra>",
            "meta": plot_text(name),
            "showlegend": False,
            "name": "locations",
        })
    return traces


def _points(split: Split, train_pred: np.ndarray | None, test_pred: np.ndarray | None) -> list[dict]:
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
            traces.append({
                "type": "scatter",
                "x": points[chosen, 0],
                "y": points[chosen, 1],
                "mode": "markers",
                "marker": {
                    "color": colors[code], "symbol": symbol, "size": size, "line": {"width": 0.8, "color": "#222"}
                },
                "unselected": keep_visible,
                "name": f"{plot_text(name)} ({set_name})",
                "legendgroup": set_name,
                "hovertemplate": f"{plot_text(name)} · {set_name}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>",
            })
    wrong = []
    if train_pred is not None:
        wrong.append(split.X_train_raw[train_pred != split.y_train])
    if test_pred is not None:
        wrong.append(split.X_test_raw[test_pred != split.y_test])
    if wrong:
        missed = np.vstack(wrong)
        traces.append({
            "type": "scatter",
            "x": missed[:, 0],
            "y": missed[:, 1],
            "mode": "markers",
            "marker": {"symbol": "circle-open", "size": 14, "color": "#111", "line": {"width": 1.6}},
            "unselected": keep_visible,
            "name": f"misclassified ({len(missed)})",
            "hoverinfo": "skip",
        })
    return traces


def _explanation_traces(explanation: Explanation, split: Split) -> list[dict]:
    x0, y0 = explanation.location
    neighbours = explanation.neighbours
    xs = neighbours[split.feature_names[0]].to_numpy()
    ys = neighbours[split.feature_names[1]].to_numpy()
    line_x = np.column_stack([np.full(len(xs), x0), xs, np.full(len(xs), np.nan)]).ravel()
    line_y = np.column_stack([np.full(len(ys), y0), ys, np.full(len(ys), np.nan)]).ravel()
    keep_visible = {"marker": {"opacity": 1}}
    return [
        {
            "type": "scatter", "x": line_x, "y": line_y, "mode": "lines", "line": {"color": "#333", "width": 1},
            "hoverinfo": "skip", "name": f"the {explanation.k} neighbours", "unselected": keep_visible,
        },
        {
            "type": "scatter", "x": [x0], "y": [y0], "mode": "markers",
            "marker": {"symbol": "x-thin", "size": 16, "color": "#000", "line": {"width": 3}},
            "name": f"explained: {plot_text(explanation.predicted_name)}", "unselected": keep_visible,
            "hovertemplate": f"explained location → {plot_text(explanation.predicted_name)}<extra></extra>",
        },
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
    height: int = 700,
) -> go.Figure:
    """Shaded regions, hover/click lattice, training/test/added points, misclassified rings, explanation.
    Rebuilt on every K step, so a ``live_figure`` (drawn once per step) with fixed margins (``MARGIN``)."""
    traces = [region_image_trace(grid, labels, proba)]
    traces += lattice_traces(grid, labels, proba, split.class_names)
    traces += _points(split, train_pred, test_pred)
    if explanation is not None:
        traces += _explanation_traces(explanation, split)
    return live_figure(traces, {
        "title": {"text": title},
        "height": height,
        "margin": MARGIN,
        "xaxis": {"title": {"text": plot_text(split.feature_names[0])}, "range": [grid.xs[0], grid.xs[-1]],
                  "constrain": "domain", "automargin": False},
        "yaxis": {"title": {"text": plot_text(split.feature_names[1])}, "range": [grid.ys[0], grid.ys[-1]],
                  "automargin": False, "scaleanchor": False},  # an image trace would tie the axes' scales
        "legend": {"orientation": "h", "y": -0.13, "yanchor": "top"},
        "clickmode": "event+select",
        "dragmode": "pan",
    })


def cv_figure(curve: CvCurve) -> go.Figure:
    """Mean cross-validated error against K, the fold-to-fold spread and the best K. Not the current K (the
    page says its error beside the chart, ``error_at_k``): the figure then stays the same while K moves, and
    the browser does not redraw it on every step of the slider. Built on every K step, so from plain dicts; a
    ``live_figure``, so opening the page draws it once."""
    low, high, clipped = cv_band(curve)
    return live_figure(
        [
            {
                "type": "scatter",
                "x": np.concatenate([curve.ks, curve.ks[::-1]]),
                "y": np.concatenate([high, low[::-1]]),
                "fill": "toself", "fillcolor": "rgba(31,119,180,0.15)", "line": {"width": 0}, "hoverinfo": "skip",
                "name": "± 1 s.d. across folds" + (" (clipped to 0–1)" if clipped else ""),
            },
            {
                "type": "scatter", "x": curve.ks, "y": curve.errors, "mode": "lines+markers",
                "name": f"mean {curve.n_folds}-fold error", "line": {"color": "#1f77b4"},
                "hovertemplate": "K = %{x}<br>error %{y:.4f}<extra></extra>",
            },
            {
                "type": "scatter", "x": [curve.best_k], "y": [curve.errors.min()], "mode": "markers",
                "name": f"best K = {curve.best_k}",
                "marker": {"symbol": "star", "size": 18, "color": "#d62728", "line": {"width": 1, "color": "#222"}},
            },
        ],
        {
            "title": {"text": f"{curve.n_folds}-fold cross-validated error against K"},
            "xaxis": {"title": {"text": "number of neighbours K"}, **_k_axis(curve.ks)},
            "yaxis": {"title": {"text": "misclassification error"}, "automargin": False},
            "height": 420,
            "margin": CURVE_MARGIN,
            "legend": CURVE_LEGEND,
        },
    )


def learning_figure(curve: LearningCurve, current_k: int) -> go.Figure:
    """Training and test error against K, the current K marked: redrawn on every K step while its tab is open,
    so a ``live_figure``."""
    return live_figure(
        [
            {"type": "scatter", "x": curve.ks, "y": curve.train_errors, "mode": "lines+markers",
             "name": "training error", "line": {"color": TRAIN_COLOR, "dash": "dash"}, "marker": {"symbol": "circle"}},
            {"type": "scatter", "x": curve.ks, "y": curve.test_errors, "mode": "lines+markers", "name": "test error",
             "line": {"color": TEST_COLOR}, "marker": {"symbol": "diamond"}},
        ],
        {
            "title": {"text": "Training and test error against K"},
            "xaxis": {"title": {"text": "K  (← flexible, high variance · smooth, high bias →)"}, **_k_axis(curve.ks)},
            "yaxis": {"title": {"text": "misclassification error"}, "automargin": False},
            "shapes": [{"type": "line", "x0": current_k, "x1": current_k, "xref": "x", "y0": 0, "y1": 1,
                        "yref": "y domain", "line": {"color": "#555", "dash": "dot"}}],
            "annotations": [{"text": f"K = {current_k}", "x": current_k, "xref": "x", "y": 1, "yref": "y domain",
                             "xanchor": "left", "yanchor": "top", "showarrow": False}],
            "height": 420,
            "margin": CURVE_MARGIN,
            "legend": CURVE_LEGEND,
        },
    )


def error_at_k(curve: CvCurve, k: int) -> tuple[str, str]:
    """The cross-validated error at the current K as the page's metric shows it (value, help): the curve holds
    odd K only, and may stop before K."""
    hits = np.flatnonzero(curve.ks == k)
    if len(hits):
        return f"{curve.errors[hits[0]]:.3f}", f"Mean {curve.n_folds}-fold error at K = {k}."
    reason = "even" if k % 2 == 0 else "outside the curve's range"
    return "—", f"K = {k} is {reason}: the curve holds odd K from {int(curve.ks[0])} to {int(curve.ks[-1])}."


def cv_band(curve: CvCurve) -> tuple[np.ndarray, np.ndarray, bool]:
    """Mean error ± one fold-to-fold standard deviation, kept inside [0, 1] (an error cannot leave it), and
    whether any end had to be clipped."""
    spread = curve.fold_errors.std(axis=0)
    low, high = curve.errors - spread, curve.errors + spread
    clipped = bool((low < 0).any() or (high > 1).any())
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0), clipped


def _k_axis(ks: np.ndarray) -> dict:
    """A K axis with at most about ten whole-number ticks, however wide the range."""
    return {"tickformat": "d", "nticks": 10, "range": [0, int(np.max(ks)) + 1], "automargin": False}


def sweep_figure(grid: Grid, sweep: Sequence[tuple[int, np.ndarray, np.ndarray]], split: Split) -> go.Figure:
    """An animation over K: one frame per (k, labels, proba); the training points stay put."""
    first_k, first_labels, first_proba = sweep[0]
    figure = go.Figure([region_trace(grid, first_labels, first_proba, split.n_classes), *_points(split, None, None)])
    figure.frames = [
        go.Frame(
            name=str(k),
            data=[go.Heatmap(z=region_codes(labels, proba, grid.shape))],
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
        xaxis={"title": plot_text(split.feature_names[0]), "range": [grid.xs[0], grid.xs[-1]]},
        yaxis={"title": plot_text(split.feature_names[1]), "range": [grid.ys[0], grid.ys[-1]]},
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


def model_figure(grid: Grid, model: ModelBoundary, split: Split, height: int) -> go.Figure:
    """A tree or forest boundary, drawn like the KNN one, for the side-by-side panels."""
    figure = boundary_figure(grid, model.labels, model.proba, split, title="", height=height)
    return figure.update_layout(showlegend=False, margin=PANEL_MARGIN)


def small_copy(figure: go.Figure, height: int) -> go.Figure:
    """The KNN boundary again at panel size, without title and legend."""
    return go.Figure(figure).update_layout(height=height, title=None, showlegend=False, margin=PANEL_MARGIN)


def grid_frame(grid: Grid, labels: np.ndarray, proba: np.ndarray, split: Split) -> pd.DataFrame:
    """The boundary as a table: every grid cell, its predicted class and the probability of each class."""
    names = split.feature_names
    frame = pd.DataFrame({names[0]: grid.points_raw[:, 0], names[1]: grid.points_raw[:, 1]})
    frame["predicted class"] = np.asarray(split.class_names, dtype=object)[labels]
    for code, name in enumerate(split.class_names):
        frame[f"P({name})"] = proba[:, code]
    return frame


def cv_frame(curve: CvCurve) -> pd.DataFrame:
    frame = pd.DataFrame({"K": curve.ks, "mean error": curve.errors})
    for fold in range(curve.n_folds):
        frame[f"fold {fold + 1} error"] = curve.fold_errors[fold]
    return frame


def learning_frame(curve: LearningCurve) -> pd.DataFrame:
    return pd.DataFrame({"K": curve.ks, "training error": curve.train_errors, "test error": curve.test_errors})


def boundary_caption(resolution: int, depth: int, largest: int, reason: str, tie_count: int) -> str:
    notes = [f"Grid {resolution}×{resolution}; one query at {depth} neighbours serves every K ≤ {largest}."]
    if reason:
        notes.append(reason)
    if tie_count:
        notes.append(
            f"{tie_count:,} cells sit on a tie (equally distant points of different classes compete for the "
            "K-th place); scikit-learn's own tie-breaking settles them."
        )
    return " ".join(notes)


def cv_caption(curve: CvCurve, clipped: bool) -> str:
    text = (
        f"{curve.n_folds} folds × {len(curve.ks)} values of K from {curve.n_folds} neighbour queries; equal to "
        f"scikit-learn's `cross_val_score` (the scaler refitted per fold). {curve.delegated} predictions sat "
        "on a tie and were settled by scikit-learn's own tie-breaking."
    )
    if clipped:
        text += " The ± 1 s.d. band is clipped to 0–1: an error rate cannot leave that range."
    return text


def learning_caption(curve: LearningCurve) -> str:
    """Why training error at the smallest K is (or is not) zero, in the chart's own numbers."""
    gap = "The gap to the test error is the variance that a larger K trades for bias."
    if curve.ks[0] != 1:
        return f"Training error counts each training point as its own neighbour. {gap}"
    at_one = float(curve.train_errors[0])
    if curve.conflicting_points == 0:
        return f"Training error counts each training point as its own neighbour, so K = 1 fits the training set. {gap}"
    return (
        f"Training error counts each training point as its own neighbour, so K = 1 would fit the training set, "
        f"but {curve.conflicting_points} training points share their exact coordinates with a point of another "
        f"class: one spot, two labels, so no K can fit both, and the training error at K = 1 is {at_one:.3f}. {gap}"
    )


def explanation_text(explanation: Explanation) -> str:
    """The vote at the explained location in one Markdown sentence; class names are escaped."""
    counts = ", ".join(
        f"{escape_markdown(name)}: {score:.3g}"
        for name, score in zip(explanation.class_names, explanation.scores)
        if score > 0
    )
    verdict = f"**{escape_markdown(explanation.predicted_name)}** (P = {explanation.proba[explanation.predicted]:.2f})"
    vote_kind = "neighbour counts" if explanation.weights == "uniform" else "summed 1/distance weights"
    return f"The {explanation.k} nearest training points vote {counts} ({vote_kind}) → {verdict}."


def compare_titles(train_accuracy: float, test_accuracy: float, models: Sequence[ModelBoundary]) -> list[str]:
    """Panel titles (Markdown) for KNN and each model: name, training and test accuracy."""
    rows = [("KNN", train_accuracy, test_accuracy), *((m.name, m.train_accuracy, m.test_accuracy) for m in models)]
    return [f"**{escape_markdown(name)} · train {train:.1%} · test {test:.1%}**" for name, train, test in rows]


def sweep_caption(ks: Sequence[int], resolution: int) -> str:
    return f"One frame per K ({', '.join(map(str, ks))}) on a {resolution}×{resolution} grid, for presentations."


def scratch_caption(lattice: int) -> str:
    return (
        "The seed's KNN in plain numpy, one point at a time: every test point plus a "
        f"{lattice}×{lattice} lattice over the plot, compared with scikit-learn's predictions."
    )


def scratch_verdict(comparison: ScratchComparison) -> tuple[bool, str]:
    """Whether the from-scratch KNN agrees with scikit-learn away from ties, and the sentence that says so."""
    if comparison.disagreements_away_from_ties == 0:
        return True, (
            f"The from-scratch KNN equals scikit-learn on all {comparison.points_away_from_ties} points away from "
            f"exact distance ties ({comparison.ties} points sit on one)."
        )
    return False, f"{comparison.disagreements_away_from_ties} disagreements away from ties: this is a bug."


def table_height(rows: int) -> int:
    """Pixel height of a dataframe showing ``rows`` rows (a header and 35 px a row), at most 400."""
    return min(400, 38 + 35 * rows)
