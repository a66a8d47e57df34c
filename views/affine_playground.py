"""Affine playground: compose scale, rotation, shear and translation, see the sampling grid, compare samplers."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.figure_export import image_download, show_figure
from components.image_input import image_input
from components.page_header import page_header
from components.page_links import link_to_page
from components.url_state import Param, publish, restore
from views.catalog import PageInfo
from services.affine import (
    ENGINES,
    FRAMES,
    INTERPOLATIONS,
    MAPPINGS,
    MAX_STEPS,
    PADDINGS,
    PRESETS,
    SEED_LOCATION,
    STEP_TYPES,
    AffineError,
    SingularMatrixError,
    Step,
    animation_frames,
    apply_to_point,
    area_change,
    compare_engines,
    compose,
    decompose,
    explain_bilinear,
    format_steps,
    forward_splat,
    grid_lines,
    inverse,
    latex_matrix,
    make_step,
    matrix_report,
    parse_steps,
    pixel_window,
    reference_shapes,
    render_warp,
    step_matrix,
    step_values,
    thumbnail,
    to_theta,
    to_uint8,
    to_unit_float,
    transform_shapes,
)
from services.imaging import SAMPLES, encode_png

#: The seed's composition order M = R S H (shear first, then scale, then rotate).
DEFAULT_STEPS = "shear:0.2,0;scale:0.8,0.8;rotate:20"
#: Side of the pictures drawn inside figures (the warp itself always runs at full size).
FIGURE_SIDE = 480
#: Side of the copy the engine check, the forward-mapping demo and the animation work on.
CHECK_SIDE = 256
DEMO_SIDE = 200
ANIMATION_SIDE = 200
ANIMATION_FRAMES = 16
#: Longest side of the working picture: the slider-to-image target is set for 1024 x 1024.
MAX_SIDE = 1024
ENTRY_KEYS = ["m00", "m01", "m02", "m10", "m11", "m12"]
STEP_KEY_PREFIX = "affine_step"
STEP_LABELS = {"scale": "Scale", "rotate": "Rotate", "shear": "Shear", "translate": "Translate"}
CHANNELS = {"red": 0, "green": 1, "blue": 2}

PARAMS = [
    Param("affine_image_sample", "astronaut", choices=list(SAMPLES)),
    Param("mode", "steps", choices=["steps", "direct"]),
    Param("steps", DEFAULT_STEPS),
    Param("frame", "normalised", choices=list(FRAMES)),
    Param("mapping", "sampler", choices=list(MAPPINGS)),
    Param("interp", "bilinear", choices=list(INTERPOLATIONS)),
    Param("padding", "zeros", choices=list(PADDINGS)),
    Param("engine", "numpy", choices=list(ENGINES)),
    *(Param(key, 1.0 if key in ("m00", "m11") else 0.0, low=-1e6, high=1e6) for key in ENTRY_KEYS),
    Param("kx", 0.5, low=-1e6, high=1e6),
    Param("ky", 0.25, low=-1e6, high=1e6),
    Param("bx", SEED_LOCATION[0], low=0.0, high=8192.0),
    Param("by", SEED_LOCATION[1], low=0.0, high=8192.0),
    Param("channel", "red", choices=list(CHANNELS)),
]

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


def render() -> None:
    page_header(
        INFO.title,
        "Build an affine map from scale, rotation, shear and translation steps (or type the matrix), and watch "
        "how the sampler reads the picture through it: the warped grid, the output, the determinant, the "
        "inverse, and four independent samplers that must agree.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    link_to_page("stn", "Part II: a spatial transformer learns θ from the loss alone (train one live)")
    restore(PARAMS)
    steps = _current_steps()
    controls, editor = st.columns([1, 2], gap="large")
    with controls:
        loaded = image_input("affine_image", default_sample="astronaut", max_side=MAX_SIDE)
        st.selectbox("Interpolation", INTERPOLATIONS, key="interp")
        st.selectbox("Padding (outside the picture)", PADDINGS, key="padding")
        st.selectbox("Engine", ENGINES, key="engine", help="All four implement the same conventions.")
        st.radio("Coordinates of M", list(FRAMES), format_func=FRAMES.get, key="frame")
        st.radio("Mapping", list(MAPPINGS), format_func=MAPPINGS.get, key="mapping")
    with editor:
        _presets()
        st.radio(
            "Build M",
            ["steps", "direct"],
            format_func={"steps": "from steps", "direct": "by typing the 2 × 3 matrix"}.get,
            key="mode",
            horizontal=True,
            on_change=_switch_mode,
        )
        if st.session_state["mode"] == "steps":
            steps = _steps_editor(steps)
            matrix = compose(steps)
        else:
            steps = None
            matrix = _matrix_entries()
        _show_product(steps, matrix)
    if steps is not None:
        st.session_state["steps"] = format_steps(steps)
    if loaded is not None:
        _explore(loaded.pixels, matrix, steps)
    publish(PARAMS)


def _explore(pixels: np.ndarray, matrix: np.ndarray, steps: list[Step] | None) -> None:
    """Everything that needs the picture, top to bottom."""
    size = pixels.shape[:2]
    _views(pixels, matrix, size)
    _matrix_facts(matrix, size)
    _forward_vs_inverse(pixels, matrix, size)
    _engine_check(pixels, matrix, size)
    _bilinear_explainer(pixels)
    _animation(pixels, matrix, size)
    _downloads(matrix, steps, size)


# ----------------------------------------------------------------------------------------------- state


def _current_steps() -> list[Step]:
    try:
        return parse_steps(st.session_state["steps"])
    except AffineError as exc:
        st.warning(f"The steps in the URL could not be read ({exc}); using the default steps.")
        st.session_state["steps"] = DEFAULT_STEPS
        return parse_steps(DEFAULT_STEPS)


def _clear_step_widgets() -> None:
    for key in [k for k in st.session_state if str(k).startswith(STEP_KEY_PREFIX)]:
        del st.session_state[key]


def _set_steps(steps: list[Step]) -> None:
    st.session_state["steps"] = format_steps(steps)
    _clear_step_widgets()


def _apply_preset(name: str) -> None:
    _set_steps(list(PRESETS[name].steps))
    st.session_state["mode"] = "steps"
    st.session_state["frame"] = "normalised"
    st.session_state["mapping"] = "sampler"
    st.session_state["affine_preset_note"] = PRESETS[name].note


def _edit_steps(action: str, index: int = 0) -> None:
    steps = parse_steps(st.session_state["steps"])
    if action == "add":
        steps.append(make_step(st.session_state["affine_new_kind"]))
    elif action == "remove":
        steps.pop(index)
    elif action in ("up", "down"):
        other = index - 1 if action == "up" else index + 1
        steps[index], steps[other] = steps[other], steps[index]
    _set_steps(steps)


def _switch_mode() -> None:
    """Carry the current map over: steps -> their product; typed matrix -> its decomposition as steps."""
    if st.session_state["mode"] == "direct":
        product = compose(parse_steps(st.session_state["steps"]))
        for key in ENTRY_KEYS:
            st.session_state[key] = float(product[int(key[1]), int(key[2])])
    else:
        typed = _typed_matrix()
        parts = [step for step in decompose(typed).steps() if not _is_identity(step)]
        _set_steps(parts)


def _is_identity(step: Step) -> bool:
    return bool(np.allclose(step_matrix(step), np.eye(3), atol=1e-9))


def _typed_matrix() -> np.ndarray:
    values = [float(st.session_state.get(key, 0.0)) for key in ENTRY_KEYS]
    return np.array([values[:3], values[3:], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------------------------------------- editor


def _presets() -> None:
    st.markdown("**Presets** (the seed's convention: M is the sampler's map, normalised coordinates)")
    columns = st.columns(3)
    for position, (name, preset) in enumerate(PRESETS.items()):
        columns[position % 3].button(preset.label, key=f"affine_preset_{name}", on_click=_apply_preset, args=(name,),
                                     width="stretch")
    note = st.session_state.pop("affine_preset_note", None)
    if note:
        st.caption(note)


def _slider_spec(kind: str, name: str) -> tuple[float, float, float]:
    """(min, max, step) of a step's slider; translations are in the units of the chosen frame."""
    if kind == "rotate":
        return -180.0, 180.0, 1.0
    if kind == "scale":
        return -3.0, 3.0, 0.05
    if kind == "shear":
        return -2.0, 2.0, 0.05
    if st.session_state["frame"] == "normalised":
        return -2.0, 2.0, 0.05
    return -float(MAX_SIDE), float(MAX_SIDE), 1.0


def _steps_editor(steps: list[Step]) -> list[Step]:
    """One bordered row per step with its sliders and move/remove buttons; returns the edited steps."""
    origin = "the top-left pixel" if st.session_state["frame"] == "pixels_corner" else "the image centre"
    st.caption(f"Steps apply from top to bottom. Rotation, scale and shear act about the origin: {origin}.")
    edited: list[Step] = []
    clamped = False
    for index, step in enumerate(steps):
        with st.container(border=True):
            label, sliders, buttons = st.columns([2, 6, 2], vertical_alignment="center")
            label.markdown(f"**{index + 1}. {STEP_LABELS[step.kind]}**")
            values = {}
            for name, value in step_values(step).items():
                key = f"{STEP_KEY_PREFIX}{index}_{step.kind}_{name}"
                low, high, increment = _slider_spec(step.kind, name)
                if key not in st.session_state:
                    st.session_state[key] = value
                if not low <= st.session_state[key] <= high:
                    st.session_state[key] = float(np.clip(st.session_state[key], low, high))
                    clamped = True
                values[name] = sliders.slider(_field_label(step.kind, name), low, high, step=increment, key=key)
            buttons.button("↑ up", key=f"affine_up{index}", help="Apply this step earlier", disabled=index == 0,
                           on_click=_edit_steps, args=("up", index), width="stretch")
            buttons.button("↓ down", key=f"affine_down{index}", help="Apply this step later",
                           disabled=index == len(steps) - 1, on_click=_edit_steps, args=("down", index),
                           width="stretch")
            buttons.button("✕ remove", key=f"affine_remove{index}", help="Remove this step",
                           on_click=_edit_steps, args=("remove", index), width="stretch")
            edited.append(make_step(step.kind, **values))
    if clamped:
        st.warning("Some values were outside the sliders' ranges and were clamped; the matrix changed accordingly.")
    if not steps:
        st.info("No steps: M is the identity. Add a step or pick a preset.")
    add_kind, add_button = st.columns([3, 1], vertical_alignment="bottom")
    add_kind.selectbox("New step", list(STEP_TYPES), format_func=STEP_LABELS.get, key="affine_new_kind")
    add_button.button("Add step", key="affine_add", on_click=_edit_steps, args=("add",),
                      disabled=len(steps) >= MAX_STEPS, width="stretch")
    return edited


def _field_label(kind: str, name: str) -> str:
    unit = "" if st.session_state["frame"] == "normalised" else " (px)"
    return {
        "sx": "sx", "sy": "sy", "degrees": "angle (degrees)", "m": "m (x += m·y)", "n": "n (y += n·x)",
        "tx": f"tx{unit}", "ty": f"ty{unit}",
    }[name]


def _matrix_entries() -> np.ndarray:
    st.caption("Type M's first two rows; the third row of a 2-D affine map is always (0, 0, 1).")
    for row in range(2):
        columns = st.columns(3)
        for col in range(3):
            key = f"m{row}{col}"
            columns[col].number_input(f"M[{row}, {col}]", step=0.05, format="%.4f", key=key)
    return _typed_matrix()


def _show_product(steps: list[Step] | None, matrix: np.ndarray) -> None:
    if steps:
        factors = r" \; ".join(step.latex() for step in reversed(steps))
        st.latex(rf"M = {factors} = {latex_matrix(matrix)}")
        with st.expander("Each factor as a 3 × 3 matrix", icon=":material/calculate:"):
            st.latex(
                r"M = " + r" \, ".join(latex_matrix(step_matrix(step)) for step in reversed(steps))
            )
            reverse = compose(list(reversed(steps)))
            same = np.allclose(reverse, matrix, atol=1e-9)
            st.latex(rf"\text{{same steps, opposite order: }} {latex_matrix(reverse)}")
            st.caption(
                "Reversing the order gives the same matrix here." if same
                else "Reversing the order gives a different matrix: matrix products do not commute."
            )
    else:
        st.latex(rf"M = {latex_matrix(matrix)}")


# ----------------------------------------------------------------------------------------------- views


@st.cache_data(show_spinner=False, max_entries=16)
def _preview(pixels: np.ndarray, side: int) -> np.ndarray:
    return thumbnail(pixels, side)


@st.cache_data(show_spinner=False, max_entries=16)
def _data_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels)).decode("ascii")


def _views(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> None:
    options = _sampler_options()
    left, right = st.columns(2)
    try:
        view = render_warp(pixels, matrix, size=size, **options)
    except AffineError as exc:
        left.error(str(exc))
        with right:
            st.subheader("Input")
            st.image(pixels, width="stretch")
        return
    with left:
        st.subheader("Input, and where the output grid samples it")
        fig = _grid_figure(pixels, view.theta)
        lines = grid_lines(view.theta, *size)
        data = pd.DataFrame(
            [(i, end, *point) for i, line in enumerate(lines) for end, point in enumerate(line)],
            columns=["line", "end", "column", "row"],
        )
        show_figure(fig, "affine_sampling_grid", data=data, key="affine_grid_fig")
    with right:
        st.subheader("Output")
        st.image(view.image, width="stretch", caption=f"{options['engine']} · {options['interpolation']} · "
                 f"{options['padding']} padding")
        image_download(view.image, "affine_warped", label="Download the warped image (PNG)", key="affine_png")
        st.latex(r"\theta = " + latex_matrix(view.theta, 4))
        st.caption("θ: the sampler's normalised output → input map (torch affine_grid, align_corners=True).")


def _sampler_options() -> dict:
    return {
        "frame": st.session_state["frame"],
        "mapping": st.session_state["mapping"],
        "interpolation": st.session_state["interp"],
        "padding": st.session_state["padding"],
        "engine": st.session_state["engine"],
    }


def _grid_figure(pixels: np.ndarray, theta: np.ndarray) -> go.Figure:
    height, width = pixels.shape[:2]
    preview = _preview(pixels, FIGURE_SIDE)
    scale_x, scale_y = width / preview.shape[1], height / preview.shape[0]
    fig = go.Figure(go.Image(source=_data_uri(preview), x0=scale_x / 2 - 0.5, y0=scale_y / 2 - 0.5,
                             dx=scale_x, dy=scale_y, hoverinfo="skip"))
    lines = grid_lines(theta, height, width)
    for index, line in enumerate(lines):
        outline = index in (0, 1, len(lines) - 2, len(lines) - 1)
        fig.add_trace(go.Scatter(
            x=line[:, 0], y=line[:, 1], mode="lines", showlegend=False, hoverinfo="skip",
            line={"color": "#ff4b4b" if outline else "rgba(255,255,0,0.8)", "width": 2.5 if outline else 1},
        ))
    corners = np.vstack(lines)
    fig.update_xaxes(range=_axis_range(corners[:, 0], width), title="column (px)")
    fig.update_yaxes(range=_axis_range(corners[:, 1], height)[::-1], title="row (px)", scaleanchor="x")
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def _axis_range(values: np.ndarray, size: int) -> list[float]:
    """The picture plus wherever the grid goes, but at most one picture size beyond each edge."""
    low = max(min(-0.5, float(values.min())), -size) - 5
    high = min(max(size - 0.5, float(values.max())), 2 * size) + 5
    return [low, high]


def _frame_unit(size: tuple[int, int]) -> float:
    """Side of the reference square: 1 in normalised coordinates, a quarter of the picture in pixels."""
    return 1.0 if st.session_state["frame"] == "normalised" else float(max(1, round(min(size) / 4)))


def _matrix_facts(matrix: np.ndarray, size: tuple[int, int]) -> None:
    st.divider()
    shapes_column, facts_column = st.columns([3, 2], gap="large")
    with facts_column:
        st.subheader("Determinant, inverse, decomposition")
        change = area_change(matrix)
        st.metric("det M", f"{change.determinant:.4g}")
        st.markdown(change.describe())
        if st.session_state["mapping"] == "sampler" and not change.singular:
            st.caption(f"As the sampler's map, M shows the picture with areas scaled by 1/|det| = "
                       f"{1 / change.area_scale:.4g}.")
        try:
            st.latex(r"M^{-1} = " + latex_matrix(inverse(matrix)))
        except SingularMatrixError as exc:
            st.error(str(exc))
        parts = decompose(matrix)
        st.latex(
            rf"M = T({parts.translation[0]:.3g},\ {parts.translation[1]:.3g})\;R({parts.rotation_degrees:.3g}^\circ)\;"
            rf"S({parts.scale[0]:.3g},\ {parts.scale[1]:.3g})\;H({parts.shear:.3g},\ 0)"
        )
        st.caption("Any affine map splits into a shear, a scale (negative sy: a mirror), a rotation and a "
                   "translation, applied in that order.")
        point_x, point_y = st.columns(2)
        point_x.number_input("K x", step=0.05, key="kx")
        point_y.number_input("K y", step=0.05, key="ky")
        k = (float(st.session_state["kx"]), float(st.session_state["ky"]))
        k_prime = apply_to_point(matrix, k)
        st.latex(
            rf"K = \begin{{bmatrix}}{k[0]:.4g} \\ {k[1]:.4g} \\ 1\end{{bmatrix}} \;\mapsto\; "
            rf"K' = MK = \begin{{bmatrix}}{k_prime[0]:.4g} \\ {k_prime[1]:.4g} \\ 1\end{{bmatrix}}"
        )
    with shapes_column:
        st.subheader("The unit square, the basis vectors and an F, before and after K → MK")
        unit = _frame_unit(size)
        before = reference_shapes(unit)
        after = transform_shapes(matrix, before)
        fig, data = _shapes_figure(before, after, k, k_prime)
        show_figure(fig, "affine_shapes", data=data, key="affine_shapes_fig")
        st.caption("y points down, as image rows do. Grey: before; colour: after. In sampler mode the picture "
                   "itself moves by M⁻¹, the opposite way.")


def _shapes_figure(before, after, k, k_prime) -> tuple[go.Figure, pd.DataFrame]:
    fig = go.Figure()
    rows = []
    for label, shapes, dash, colours in (
        ("before", before, "dot", ("#9e9e9e",) * 4),
        ("after", after, "solid", ("#1f77b4", "#d62728", "#2ca02c", "#7b3fbf")),
    ):
        for part, colour in zip(("square", "e1", "e2", "letter"), colours):
            points = getattr(shapes, part)
            fig.add_trace(go.Scatter(
                x=points[:, 0], y=points[:, 1], mode="lines+markers" if part in ("e1", "e2") else "lines",
                name=f"{part} {label}", line={"color": colour, "dash": dash, "width": 2},
                fill="toself" if part == "letter" else None, marker={"size": 4},
            ))
            rows.extend((label, part, float(x), float(y)) for x, y in points)
    fig.add_trace(go.Scatter(x=[k[0]], y=[k[1]], mode="markers+text", text=["K"], textposition="top right",
                             name="K", marker={"size": 10, "color": "#9e9e9e"}))
    fig.add_trace(go.Scatter(x=[k_prime[0]], y=[k_prime[1]], mode="markers+text", text=["K'"],
                             textposition="top right", name="K'", marker={"size": 10, "color": "#ff7f0e"}))
    rows.extend([("before", "K", *k), ("after", "K'", *k_prime)])
    fig.update_yaxes(autorange="reversed", scaleanchor="x", zeroline=True)
    fig.update_xaxes(zeroline=True)
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    return fig, pd.DataFrame(rows, columns=["when", "part", "x", "y"])


def _forward_vs_inverse(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> None:
    with st.expander("Forward vs inverse mapping: why samplers map output → input", icon=":material/swap_horiz:"):
        st.markdown(
            "Pushing every input pixel to where the map sends it (*forward mapping*) lands on fractional "
            "positions: rounding them leaves **holes** where the picture is enlarged and makes pixels **collide** "
            "where it shrinks. The sampler instead asks, for every output pixel, where it comes from "
            "(*inverse mapping*) and interpolates there, so every output pixel gets exactly one value. "
            "The *Mapping* control above says which of the two M describes: in sampler mode M is θ itself; "
            "in forward mode the page inverts it first (impossible when det M = 0)."
        )
        preview = _preview(pixels, DEMO_SIDE)
        try:
            theta = to_theta(matrix, st.session_state["frame"], *size, st.session_state["mapping"])
            splat = forward_splat(to_unit_float(preview), theta)
            pulled = render_warp(preview, matrix, size=size, **{**_sampler_options(), "engine": "numpy"})
        except AffineError as exc:
            st.error(f"No forward picture: {exc}")
            return
        push, pull = st.columns(2)
        push.image(to_uint8(splat.image), width="stretch",
                   caption=f"Forward (push, rounded): {splat.hole_fraction:.1%} of the output never reached, "
                           f"{splat.collision_fraction:.1%} of pixels collided")
        pull.image(pulled.image, width="stretch", caption="Inverse (pull, interpolated): no holes")


def _engine_check(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> None:
    with st.expander("Check: do the four engines agree?", icon=":material/fact_check:"):
        full = st.toggle("Use the full-size picture (slower)", key="affine_check_full")
        work = pixels if full else _preview(pixels, CHECK_SIDE)
        st.caption(f"All engines warp the same {work.shape[1]}×{work.shape[0]} float image; differences are "
                   "in units of full intensity (1.0).")
        try:
            theta = to_theta(matrix, st.session_state["frame"], *size, st.session_state["mapping"])
            with st.spinner("Running the four engines…"):
                checks = compare_engines(to_unit_float(work), theta, interpolation=st.session_state["interp"],
                                         padding=st.session_state["padding"])
        except AffineError as exc:
            st.error(str(exc))
            return
        table = pd.DataFrame([
            {"engine": c.engine, "max |difference| vs numpy": c.max_difference,
             "time (ms)": c.milliseconds, "verdict": c.message}
            for c in checks
        ])
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"max |difference| vs numpy": st.column_config.NumberColumn(format="%.2e"),
                                    "time (ms)": st.column_config.NumberColumn(format="%.1f")})


def _bilinear_explainer(pixels: np.ndarray) -> None:
    st.divider()
    st.subheader("Bilinear interpolation at a fractional location")
    height, width = pixels.shape[:2]
    for key, top in (("bx", width - 1), ("by", height - 1)):
        if st.session_state[key] > top:
            st.session_state[key] = float(top)
    pick_x, pick_y, pick_channel = st.columns(3)
    pick_x.number_input("x (column)", min_value=0.0, max_value=float(width - 1), step=0.1, key="bx")
    pick_y.number_input("y (row)", min_value=0.0, max_value=float(height - 1), step=0.1, key="by")
    pick_channel.selectbox("Channel", list(CHANNELS), key="channel")
    channel = pixels[:, :, CHANNELS[st.session_state["channel"]]].astype(np.float64)
    x, y = float(st.session_state["bx"]), float(st.session_state["by"])
    try:
        ex = explain_bilinear(channel, x, y)
    except AffineError as exc:
        st.error(str(exc))
        return
    grid_column, numbers_column = st.columns([3, 2], gap="large")
    with grid_column:
        window = pixel_window(channel, x, y, radius=3)
        fig = _bilinear_figure(window, ex)
        cells = pd.DataFrame(
            [(window.left + c, window.top + r, float(window.values[r, c]))
             for r in range(window.values.shape[0]) for c in range(window.values.shape[1])],
            columns=["column", "row", "value"],
        )
        show_figure(fig, "affine_bilinear", data=cells, key="affine_bilinear_fig")
    with numbers_column:
        channel_name = st.session_state["channel"]
        st.markdown(f"The four pixels around $P = ({ex.x:g}, {ex.y:g})$, {channel_name} channel (0–255):")
        corners = ex.corner_weights
        st.dataframe(
            pd.DataFrame([
                {"neighbour": "Q11", "(x, y)": f"({ex.x1}, {ex.y1})", "value": ex.q11, "weight in P": corners["Q11"]},
                {"neighbour": "Q21", "(x, y)": f"({ex.x2}, {ex.y1})", "value": ex.q21, "weight in P": corners["Q21"]},
                {"neighbour": "Q12", "(x, y)": f"({ex.x1}, {ex.y2})", "value": ex.q12, "weight in P": corners["Q12"]},
                {"neighbour": "Q22", "(x, y)": f"({ex.x2}, {ex.y2})", "value": ex.q22, "weight in P": corners["Q22"]},
            ]),
            hide_index=True, width="stretch",
            column_config={"weight in P": st.column_config.NumberColumn(format="%.4f")},
        )
        st.caption("The weights sum to 1. Interpolating along y first gives the same P.")
        st.metric("P", f"{ex.p:.6g}")
    st.latex(
        rf"R_1 = \tfrac{{x_2 - x}}{{x_2 - x_1}} Q_{{11}} + \tfrac{{x - x_1}}{{x_2 - x_1}} Q_{{21}}"
        rf" = {ex.weight_x1:.4g}\cdot{ex.q11:g} + {ex.weight_x2:.4g}\cdot{ex.q21:g} = {ex.r1:.6g}"
    )
    st.latex(
        rf"R_2 = \tfrac{{x_2 - x}}{{x_2 - x_1}} Q_{{12}} + \tfrac{{x - x_1}}{{x_2 - x_1}} Q_{{22}}"
        rf" = {ex.weight_x1:.4g}\cdot{ex.q12:g} + {ex.weight_x2:.4g}\cdot{ex.q22:g} = {ex.r2:.6g}"
    )
    st.latex(
        rf"P = \tfrac{{y_2 - y}}{{y_2 - y_1}} R_1 + \tfrac{{y - y_1}}{{y_2 - y_1}} R_2"
        rf" = {ex.weight_y1:.4g}\cdot{ex.r1:.6g} + {ex.weight_y2:.4g}\cdot{ex.r2:.6g} = {ex.p:.6g}"
    )


def _bilinear_figure(window, ex) -> go.Figure:
    columns = np.arange(window.left, window.left + window.values.shape[1])
    rows = np.arange(window.top, window.top + window.values.shape[0])
    fig = go.Figure(go.Heatmap(
        z=window.values, x=columns, y=rows, colorscale="gray", zmin=0, zmax=255, showscale=False,
        text=np.vectorize(lambda v: f"{v:.0f}")(window.values), texttemplate="%{text}", textfont={"size": 10},
        hovertemplate="column %{x}, row %{y}: %{z}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=[ex.x1, ex.x2, ex.x1, ex.x2], y=[ex.y1, ex.y1, ex.y2, ex.y2], mode="markers+text",
        text=["Q11", "Q21", "Q12", "Q22"], textposition="top left", name="neighbours",
        marker={"size": 12, "color": "#1f77b4", "line": {"color": "white", "width": 1}},
        textfont={"color": "#1f77b4"},
    ))
    fig.add_trace(go.Scatter(x=[ex.x, ex.x], y=[ex.y1, ex.y2], mode="markers+text", text=["R1", "R2"],
                             textposition="middle right", name="R1, R2", marker={"size": 10, "color": "#2ca02c"},
                             textfont={"color": "#2ca02c"}))
    fig.add_trace(go.Scatter(x=[ex.x], y=[ex.y], mode="markers+text", text=["P"], textposition="bottom right",
                             name="P", marker={"size": 14, "color": "#ff4b4b", "symbol": "x"},
                             textfont={"color": "#ff4b4b"}))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title="row", dtick=1)
    fig.update_xaxes(title="column", dtick=1)
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    return fig


def _animation(pixels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> None:
    st.divider()
    st.subheader("Animation: from the identity to M")
    if not st.toggle("Build the animation", key="affine_animate",
                     help=f"{ANIMATION_FRAMES} frames at {ANIMATION_SIDE} px, interpolating angle, shear, scale "
                          "and translation."):
        return
    preview = _preview(pixels, ANIMATION_SIDE)
    try:
        with st.spinner(f"Warping {ANIMATION_FRAMES} frames…"):
            frames = animation_frames(preview, matrix, size=size, count=ANIMATION_FRAMES, **_sampler_options())
    except AffineError as exc:
        st.error(str(exc))
        return
    usable = [f for f in frames if f.image is not None]
    if len(usable) < len(frames):
        st.caption(f"{len(frames) - len(usable)} in-between matrices are singular and cannot be inverted; skipped.")
    if not usable:
        st.error("No frame can be drawn: every in-between matrix is singular in forward mapping.")
        return

    def image_trace(image: np.ndarray) -> go.Image:
        return go.Image(source=_data_uri(image), hoverinfo="skip")

    fig = go.Figure(
        data=[image_trace(usable[0].image)],
        frames=[go.Frame(data=[image_trace(f.image)], name=f"{f.fraction:.2f}") for f in usable],
    )
    fig.update_layout(
        height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        updatemenus=[{
            "type": "buttons", "showactive": False, "x": 0, "y": -0.08, "xanchor": "left",
            "buttons": [{"label": "Play", "method": "animate",
                         "args": [None, {"frame": {"duration": 120, "redraw": True}, "fromcurrent": True}]}],
        }],
        sliders=[{
            "currentvalue": {"prefix": "t = "}, "x": 0.15, "len": 0.85, "y": -0.02,
            "steps": [{"label": f"{f.fraction:.2f}", "method": "animate",
                       "args": [[f"{f.fraction:.2f}"], {"mode": "immediate", "frame": {"redraw": True}}]}
                      for f in usable],
        }],
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    data = pd.DataFrame([{"t": f.fraction, **{f"M{r}{c}": f.matrix[r, c] for r in range(2) for c in range(3)}}
                         for f in frames])
    show_figure(fig, "affine_animation", data=data, key="affine_animation_fig")


def _downloads(matrix: np.ndarray, steps: list[Step] | None, size: tuple[int, int]) -> None:
    st.divider()
    report = matrix_report(matrix, frame=st.session_state["frame"], mapping=st.session_state["mapping"],
                           steps=steps, size=size)
    st.download_button(
        "Download the matrix (JSON: M, θ for torch, the OpenCV pixel matrix)",
        data=json.dumps(report, indent=2),
        file_name="affine_matrix.json",
        mime="application/json",
        key="affine_matrix_json",
        on_click="ignore",
    )


INFO = PageInfo(
    title="Affine playground",
    icon=":material/transform:",
    url_path="affine",
    purpose="Compose scale, rotation, shear and translation; see the sampling grid, the output, and four samplers "
    "agree.",
    offline="Everything: the samplers are numpy, torch, OpenCV and scikit-image; the sample photos ship with "
    "scikit-image.",
    render=render,
)
