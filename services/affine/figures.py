"""Everything the affine page shows, built from plain data: plotly figures, LaTeX lines, tables, slider ranges.

The page (``views/affine_playground.py``) only lays these out; building them here keeps every number on the
page unit-tested. Pictures inside figures travel as JPEG data URIs (a tenth of a PNG's bytes for a photo),
because a figure is resent whole on every rerun.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import get_colorscale

from services.affine.bilinear import BilinearExplanation, PixelWindow
from services.affine.matrices import (
    AreaChange,
    Decomposition,
    Frame,
    ShapeSet,
    decompose,
    latex_matrix,
)
from services.affine.render import AnimationFrame
from services.affine.sampling import EngineCheck
from services.affine.steps import Step, compose, step_matrix
from services.plotting import fixed_margin, live_figure

#: JPEG quality for pictures shown on the page (downloads stay lossless PNG).
JPEG_QUALITY = 85
#: Side of the reference square in the pixel frames, as a fraction of the picture's shorter side.
PIXEL_UNIT_FRACTION = 0.25
MARGIN = {"l": 10, "r": 10, "t": 10, "b": 10}
#: The margins of the two figures redrawn on every slider move (``fixed_margin``); the shapes figure's bottom
#: holds the ticks and its legend's four rows at a phone's width.
GRID_MARGIN = fixed_margin(65, 10, 10, 60)
SHAPES_MARGIN = fixed_margin(45, 10, 10, 110)
BILINEAR_MARGIN = fixed_margin(60, 10, 10, 50)
#: plotly.py's "gray" scale spelt out: a figure built without validation is sent as written (plotly.js has no "gray").
GRAY = get_colorscale("gray")
OUTLINE, GRID_LINE = "#ff4b4b", "rgba(255,255,0,0.8)"
NEIGHBOUR, MIDPOINT, POINT = "#1f77b4", "#2ca02c", "#ff4b4b"


# ------------------------------------------------------------------------------------------------ texts

#: The page's "How it works" (its conventions are the services').
HOW_IT_WORKS = r"""
**Linear maps.** A 2 × 2 matrix moves a point $K = (x, y)$ to $K' = MK$: scaling $S$, rotation $R$ and shear
$H = \begin{bmatrix}1 & m\\ n & 1\end{bmatrix}$. Doing a shear, then a scale, then a rotation is one matrix,
$M = R\,S\,H$ (the rightmost factor acts first), and the order matters because matrix products do not commute.

**Homogeneous coordinates.** Translation is not linear, but writing $K = (x, y, 1)$ turns it into a
3 × 3 matrix with $t_x, t_y$ in the last column, so every step, and their product, is one matrix.

**The sampler pulls, it does not push.** To draw the output, (1) build a grid over the output in normalised
coordinates $[-1, 1]^2$, (2) map every grid point through $\theta$ (output → input), (3) read the input there
with bilinear interpolation. That is why the seed's $\theta$ with $t_x = 0.5$ moves the picture *left*.

**Conventions here.** $-1$ and $1$ are the centres of the first and last pixels (torch's
`align_corners=True`); the seed's own code maps $x_s = 1$ to $W$ instead of $W - 1$. Rotation is about the
origin of the chosen frame: the image centre in normalised coordinates, the top-left pixel in OpenCV's pixel
frame. The y axis points down, as image rows do, so a positive angle turns points clockwise on screen (and, in
sampler mode, the picture counter-clockwise).
Padding *reflection* mirrors about the edge pixels' centres; bicubic is Keys' kernel with $a = -0.75$.
"""

FORWARD_VS_INVERSE = (
    "Pushing every input pixel to where the map sends it (*forward mapping*) lands on fractional "
    "positions: rounding them leaves **holes** where the picture is enlarged and makes pixels **collide** "
    "where it shrinks. The sampler instead asks, for every output pixel, where it comes from "
    "(*inverse mapping*) and interpolates there, so every output pixel gets exactly one value. "
    "The *Mapping* control above says which of the two M describes: in sampler mode M is θ itself; "
    "in forward mode the page inverts it first (impossible when det M = 0)."
)


# ------------------------------------------------------------------------------------------------ pictures


def jpeg_bytes(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an RGB (or grey) uint8 picture: what the page sends instead of a PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg_data_uri(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """A ``data:image/jpeg`` URI for plotly's ``go.Image(source=...)``."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(pixels, quality)).decode("ascii")


# ------------------------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class SliderSpec:
    low: float
    high: float
    step: float

    def clamp(self, value: float) -> float:
        return float(min(max(value, self.low), self.high))

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


def slider_spec(kind: str, frame: Frame, max_side: int) -> SliderSpec:
    """Range and step of a step's slider; translations are in the units of the chosen frame."""
    if kind == "rotate":
        return SliderSpec(-180.0, 180.0, 1.0)
    if kind == "scale":
        return SliderSpec(-3.0, 3.0, 0.05)
    if kind == "shear" or frame == "normalised":
        return SliderSpec(-2.0, 2.0, 0.05)
    return SliderSpec(-float(max_side), float(max_side), 1.0)


def field_label(name: str, frame: Frame) -> str:
    unit = "" if frame == "normalised" else " (px)"
    return {
        "sx": "sx", "sy": "sy", "degrees": "angle (degrees)", "m": "m (x += m·y)", "n": "n (y += n·x)",
        "tx": f"tx{unit}", "ty": f"ty{unit}",
    }[name]


def steps_from_matrix(matrix: np.ndarray) -> list[Step]:
    """M's decomposition as editor steps, without the ones that do nothing (for "typed matrix -> steps")."""
    return [step for step in decompose(matrix).steps() if not np.allclose(step_matrix(step), np.eye(3), atol=1e-9)]


def frame_unit(frame: Frame, size: tuple[int, int]) -> float:
    """Side of the reference square: 1 in normalised coordinates, a quarter of the picture in pixels."""
    return 1.0 if frame == "normalised" else float(max(1, round(min(size) * PIXEL_UNIT_FRACTION)))


# ---------------------------------------------------------------------------------------------- LaTeX


def product_latex(steps: Sequence[Step] | None, matrix: np.ndarray) -> str:
    """M = (the steps' factors, last step leftmost), and on a second line = the matrix: on one line the matrix
    ran out of its column (two fifths of the page) and was cut off."""
    if not steps:
        return rf"M = {latex_matrix(matrix)}"
    factors = r" \; ".join(step.latex() for step in reversed(steps))
    return rf"M = {factors} \\ = {latex_matrix(matrix)}"


@dataclass(frozen=True)
class FactorsView:
    factors: str  # M = each factor as a 3 x 3 matrix
    reversed_product: str  # the same steps in the opposite order
    same_reversed: bool


def factors_view(steps: Sequence[Step], matrix: np.ndarray) -> FactorsView:
    reverse = compose(list(reversed(steps)))
    return FactorsView(
        factors=r"M = " + r" \, ".join(latex_matrix(step_matrix(step)) for step in reversed(steps)),
        reversed_product=rf"\text{{same steps, opposite order: }} {latex_matrix(reverse)}",
        same_reversed=bool(np.allclose(reverse, matrix, atol=1e-9)),
    )


def theta_latex(theta: np.ndarray) -> str:
    return r"\theta = " + latex_matrix(theta, 4)


def inverse_latex(inverse_matrix: np.ndarray) -> str:
    return r"M^{-1} = " + latex_matrix(inverse_matrix)


def decomposition_latex(parts: Decomposition) -> str:
    return (
        rf"M = T({parts.translation[0]:.3g},\ {parts.translation[1]:.3g})\;R({parts.rotation_degrees:.3g}^\circ)\;"
        rf"S({parts.scale[0]:.3g},\ {parts.scale[1]:.3g})\;H({parts.shear:.3g},\ 0)"
    )


def point_latex(k: tuple[float, float], k_prime: tuple[float, float]) -> str:
    """K -> K' as transposed rows: narrow enough for the facts column on a 1280 px projector."""
    return (
        rf"K = ({k[0]:.4g},\ {k[1]:.4g},\ 1)^\top \;\mapsto\; "
        rf"K' = MK = ({k_prime[0]:.4g},\ {k_prime[1]:.4g},\ 1)^\top"
    )


def determinant_text(change: AreaChange) -> str:
    return f"{change.determinant:.4g}"


def sampler_area_caption(change: AreaChange) -> str | None:
    """What the sampler does to areas (1/|det|); None when M is singular."""
    if change.singular:
        return None
    return f"As the sampler's map, M shows the picture with areas scaled by 1/|det| = {1 / change.area_scale:.4g}."


def bilinear_latex(ex: BilinearExplanation) -> list[str]:
    """R1, R2 and P, each with its weights and values filled in."""
    return [
        rf"R_1 = \tfrac{{x_2 - x}}{{x_2 - x_1}} Q_{{11}} + \tfrac{{x - x_1}}{{x_2 - x_1}} Q_{{21}}"
        rf" = {ex.weight_x1:.4g}\cdot{ex.q11:g} + {ex.weight_x2:.4g}\cdot{ex.q21:g} = {ex.r1:.6g}",
        rf"R_2 = \tfrac{{x_2 - x}}{{x_2 - x_1}} Q_{{12}} + \tfrac{{x - x_1}}{{x_2 - x_1}} Q_{{22}}"
        rf" = {ex.weight_x1:.4g}\cdot{ex.q12:g} + {ex.weight_x2:.4g}\cdot{ex.q22:g} = {ex.r2:.6g}",
        rf"P = \tfrac{{y_2 - y}}{{y_2 - y_1}} R_1 + \tfrac{{y - y_1}}{{y_2 - y_1}} R_2"
        rf" = {ex.weight_y1:.4g}\cdot{ex.r1:.6g} + {ex.weight_y2:.4g}\cdot{ex.r2:.6g} = {ex.p:.6g}",
    ]


def bilinear_point_text(ex: BilinearExplanation, channel: str) -> str:
    return f"The four pixels around $P = ({ex.x:g}, {ex.y:g})$, {channel} channel (0–255):"


# --------------------------------------------------------------------------------------------- tables


def neighbour_table(ex: BilinearExplanation) -> pd.DataFrame:
    corners = ex.corner_weights
    return pd.DataFrame([
        {"neighbour": "Q11", "(x, y)": f"({ex.x1}, {ex.y1})", "value": ex.q11, "weight in P": corners["Q11"]},
        {"neighbour": "Q21", "(x, y)": f"({ex.x2}, {ex.y1})", "value": ex.q21, "weight in P": corners["Q21"]},
        {"neighbour": "Q12", "(x, y)": f"({ex.x1}, {ex.y2})", "value": ex.q12, "weight in P": corners["Q12"]},
        {"neighbour": "Q22", "(x, y)": f"({ex.x2}, {ex.y2})", "value": ex.q22, "weight in P": corners["Q22"]},
    ])


def engine_table(checks: Sequence[EngineCheck]) -> pd.DataFrame:
    """One row per engine. Refused engines get an empty difference and time (NaN), never the text "None"."""
    return pd.DataFrame(
        [
            {
                "engine": check.engine,
                "max |difference| vs numpy": np.nan if check.max_difference is None else check.max_difference,
                "time (ms)": np.nan if check.milliseconds is None else check.milliseconds,
                "verdict": check.message,
            }
            for check in checks
        ]
    ).astype({"max |difference| vs numpy": float, "time (ms)": float})


def engine_table_text(checks: Sequence[EngineCheck]) -> pd.DataFrame:
    """The engine check as text for a static table: differences in 2-digit scientific notation, times in ms
    with one decimal, and "—" where an engine refused (its verdict says why, in full)."""
    table = engine_table(checks)
    return pd.DataFrame({
        "engine": table["engine"],
        "max |difference| vs numpy": [_or_dash(value, "{:.2e}") for value in table["max |difference| vs numpy"]],
        "time (ms)": [_or_dash(value, "{:.1f}") for value in table["time (ms)"]],
        "verdict": table["verdict"],
    })


def _or_dash(value: float, pattern: str) -> str:
    return "—" if np.isnan(value) else pattern.format(value)


def grid_table(lines: Sequence[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        [(i, end, *point) for i, line in enumerate(lines) for end, point in enumerate(line)],
        columns=["line", "end", "column", "row"],
    )


def window_table(window: PixelWindow) -> pd.DataFrame:
    rows, columns = window.values.shape
    return pd.DataFrame(
        [(window.left + c, window.top + r, float(window.values[r, c])) for r in range(rows) for c in range(columns)],
        columns=["column", "row", "value"],
    )


def animation_table(frames: Sequence[AnimationFrame]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"t": f.fraction, **{f"M{r}{c}": f.matrix[r, c] for r in range(2) for c in range(3)}} for f in frames]
    )


# -------------------------------------------------------------------------------------------- figures


def axis_range(values: np.ndarray, size: int) -> list[float]:
    """The picture plus wherever the grid goes, but at most one picture size beyond each edge."""
    low = max(min(-0.5, float(values.min())), -size) - 5
    high = min(max(size - 0.5, float(values.max())), 2 * size) + 5
    return [low, high]


def joined_lines(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Polylines as one (n, 2) path with a NaN row between them, which plotly draws as a gap: one trace for
    many lines (a trace per grid line was most of the figure's cost to build, send and draw per slider move)."""
    if not lines:
        return np.empty((0, 2))
    gap = np.full((1, 2), np.nan)
    return np.vstack([part for line in lines for part in (line, gap)][:-1])


def grid_figure(preview_uri: str, preview_shape: tuple[int, int], size: tuple[int, int],
                lines: Sequence[np.ndarray]) -> go.Figure:
    """The input (a small preview stretched to the full picture's pixel frame) and the output grid on it."""
    height, width = size
    scale_x, scale_y = width / preview_shape[1], height / preview_shape[0]
    data: list[dict] = [{"type": "image", "source": preview_uri, "x0": scale_x / 2 - 0.5, "y0": scale_y / 2 - 0.5,
                         "dx": scale_x, "dy": scale_y, "hoverinfo": "skip"}]
    outline = {0, 1, len(lines) - 2, len(lines) - 1}
    for is_outline in (False, True):  # the outline drawn last, on top
        path = joined_lines([line for index, line in enumerate(lines) if (index in outline) == is_outline])
        data.append({
            "type": "scatter", "x": path[:, 0], "y": path[:, 1], "mode": "lines", "showlegend": False,
            "hoverinfo": "skip", "connectgaps": False,
            "line": {"color": OUTLINE if is_outline else GRID_LINE, "width": 2.5 if is_outline else 1},
        })
    corners = np.vstack(lines)
    return live_figure(data, {
        "xaxis": {"range": axis_range(corners[:, 0], width), "title": {"text": "column (px)"}, "automargin": False},
        "yaxis": {"range": axis_range(corners[:, 1], height)[::-1], "title": {"text": "row (px)"},
                  "scaleanchor": "x", "automargin": False},
        "height": 460, "margin": GRID_MARGIN,
    })


def shapes_figure(before: ShapeSet, after: ShapeSet, k: tuple[float, float],
                  k_prime: tuple[float, float]) -> tuple[go.Figure, pd.DataFrame]:
    """The unit square, the basis vectors and an F before (grey) and after (colour) M, and K -> K'."""
    data: list[dict] = []
    rows: list[tuple[str, str, float, float]] = []
    for label, shapes, dash, colours in (
        ("before", before, "dot", ("#9e9e9e",) * 4),
        ("after", after, "solid", ("#1f77b4", "#d62728", "#2ca02c", "#7b3fbf")),
    ):
        for part, colour in zip(("square", "e1", "e2", "letter"), colours, strict=True):
            points = getattr(shapes, part)
            # a few points each: plain lists cost less to serialise than numpy arrays
            trace = {"type": "scatter", "x": points[:, 0].tolist(), "y": points[:, 1].tolist(),
                     "mode": "lines+markers" if part in ("e1", "e2") else "lines", "name": f"{part} {label}",
                     "line": {"color": colour, "dash": dash, "width": 2}, "marker": {"size": 4}}
            if part == "letter":
                trace["fill"] = "toself"
            data.append(trace)
            rows.extend((label, part, float(x), float(y)) for x, y in points)
    for name, point, colour in (("K", k, "#9e9e9e"), ("K'", k_prime, "#ff7f0e")):
        data.append({"type": "scatter", "x": [point[0]], "y": [point[1]], "mode": "markers+text", "text": [name],
                     "textposition": "top right", "name": name, "marker": {"size": 10, "color": colour},
                     "showlegend": False})  # labelled in the plot: the legend keeps to four rows on a phone
    rows.extend([("before", "K", *k), ("after", "K'", *k_prime)])
    fig = live_figure(data, {
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", "zeroline": True, "automargin": False},
        "xaxis": {"zeroline": True, "automargin": False},
        "height": 460, "margin": SHAPES_MARGIN, "legend": {"orientation": "h", "y": -0.08, "yanchor": "top"},
    })
    return fig, pd.DataFrame(rows, columns=["when", "part", "x", "y"])


def bilinear_figure(window: PixelWindow, ex: BilinearExplanation) -> go.Figure:
    """The pixels around P with their values, Q11..Q22, R1, R2 and P.

    Each cell's value is printed in the cell; the neighbour markers sit in the cell's upper half with their
    labels above them, so neither hides the value, and R1/R2 are labelled on the far side of P from the
    neighbours' labels (left when P is right of the cell centre, and the other way round) so they never collide;
    P's label goes above or below P, away from the nearer of R1 and R2.
    """
    columns = np.arange(window.left, window.left + window.values.shape[1])
    rows = np.arange(window.top, window.top + window.values.shape[0])
    lift = 0.28  # markers in the upper part of their cell (y points down), values stay readable in the middle
    side = "middle left" if ex.x - ex.x1 >= 0.5 else "middle right"
    below = "bottom center" if ex.y - ex.y1 < 0.5 else "top center"  # away from the nearer of R1 and R2
    data = [
        {"type": "heatmap", "z": window.values, "x": columns, "y": rows, "colorscale": GRAY, "zmin": 0,
         "zmax": 255, "showscale": False, "text": [[f"{v:.0f}" for v in row] for row in window.values],
         "texttemplate": "%{text}", "textfont": {"size": 11, "color": "#ff9800"},
         "hovertemplate": "column %{x}, row %{y}: %{z}<extra></extra>"},
        {"type": "scatter", "x": [ex.x1, ex.x2, ex.x1, ex.x2],
         "y": [ex.y1 - lift, ex.y1 - lift, ex.y2 - lift, ex.y2 - lift], "mode": "markers+text",
         "text": ["Q11", "Q21", "Q12", "Q22"], "textposition": "top center", "name": "neighbours",
         "marker": {"size": 9, "color": NEIGHBOUR, "line": {"color": "white", "width": 1}},
         "textfont": {"color": NEIGHBOUR, "size": 11}, "hovertemplate": "%{text}<extra></extra>"},
        {"type": "scatter", "x": [ex.x, ex.x], "y": [ex.y1, ex.y2], "mode": "markers+text", "text": ["R1", "R2"],
         "textposition": side, "name": "R1, R2", "marker": {"size": 10, "color": MIDPOINT},
         "textfont": {"color": MIDPOINT, "size": 12}, "hovertemplate": "%{text}<extra></extra>"},
        {"type": "scatter", "x": [ex.x], "y": [ex.y], "mode": "markers+text", "text": ["P"], "textposition": below,
         "name": "P", "marker": {"size": 14, "color": POINT, "symbol": "x"}, "textfont": {"color": POINT, "size": 13},
         "hovertemplate": "P<extra></extra>"},
    ]
    return live_figure(data, {
        "yaxis": {"autorange": "reversed", "scaleanchor": "x", "title": {"text": "row"}, "dtick": 1,
                  "automargin": False},
        "xaxis": {"title": {"text": "column"}, "dtick": 1, "automargin": False},
        "height": 420, "margin": BILINEAR_MARGIN, "showlegend": False,
    })


def animation_figure(frame_uris: Sequence[tuple[float, str]]) -> go.Figure:
    """A plotly animation over (fraction, picture URI) frames, with Play and a t slider."""
    fig = go.Figure(
        data=[go.Image(source=frame_uris[0][1], hoverinfo="skip")],
        frames=[go.Frame(data=[go.Image(source=uri, hoverinfo="skip")], name=f"{t:.2f}") for t, uri in frame_uris],
    )
    fig.update_layout(
        height=420, margin=MARGIN,
        updatemenus=[{
            "type": "buttons", "showactive": False, "x": 0, "y": -0.08, "xanchor": "left",
            "buttons": [{"label": "Play", "method": "animate",
                         "args": [None, {"frame": {"duration": 120, "redraw": True}, "fromcurrent": True}]}],
        }],
        sliders=[{
            "currentvalue": {"prefix": "t = "}, "x": 0.15, "len": 0.85, "y": -0.02,
            "steps": [{"label": f"{t:.2f}", "method": "animate",
                       "args": [[f"{t:.2f}"], {"mode": "immediate", "frame": {"redraw": True}}]}
                      for t, _ in frame_uris],
        }],
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
