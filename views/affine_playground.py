"""Affine playground: compose scale, rotation, shear and translation, see the sampling grid, compare samplers."""

from __future__ import annotations

import json
import re

import numpy as np
import streamlit as st

from components.figure_export import image_download, show_figure
from components.image_input import image_input
from components.page_header import page_header
from components.url_state import Param, keep_valid, publish, restore
from services import budget
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
    SamplerOptions,
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
    make_step,
    matrix_from_entries,
    matrix_report,
    parse_steps,
    pixel_window,
    reference_shapes,
    render_warp,
    step_values,
    thumbnail,
    to_theta,
    to_uint8,
    to_unit_float,
    transform_shapes,
)
from services.affine import figures
from services.imaging import SAMPLES
from views.catalog import PageInfo

#: The seed's composition order M = R S H (shear first, then scale, then rotate).
DEFAULT_STEPS = "shear:0.2,0;scale:0.8,0.8;rotate:20"
#: Side of the pictures drawn inside figures and of the output as shown (the warp runs at full size).
FIGURE_SIDE = 480
DISPLAY_SIDE = 720
#: Side of the copy the engine check, the forward-mapping demo and the animation work on.
CHECK_SIDE = 256
DEMO_SIDE = 200
ANIMATION_SIDE = 200
ANIMATION_FRAMES = 16
MAX_SIDE = budget.AFFINE_MAX_SIDE
ENTRY_KEYS = ["m00", "m01", "m02", "m10", "m11", "m12"]
STEP_WIDGET = re.compile(r"affine_step\d")
STEP_LABELS = {"scale": "Scale", "rotate": "Rotate", "shear": "Shear", "translate": "Translate"}
CHANNELS = {"red": 0, "green": 1, "blue": 2}
LIMIT = budget.AFFINE_MATRIX_ENTRY_LIMIT

PARAMS = [
    Param("affine_image_sample", "astronaut", choices=list(SAMPLES)),
    Param("affine_mode", "steps", choices=["steps", "direct"], url="mode"),
    Param("affine_steps", DEFAULT_STEPS, url="steps"),
    Param("affine_frame", "normalised", choices=list(FRAMES), url="frame"),
    Param("affine_mapping", "sampler", choices=list(MAPPINGS), url="mapping"),
    Param("affine_interp", "bilinear", choices=list(INTERPOLATIONS), url="interp"),
    Param("affine_padding", "zeros", choices=list(PADDINGS), url="padding"),
    Param("affine_engine", "numpy", choices=list(ENGINES), url="engine"),
    *(Param(f"affine_{key}", 1.0 if key in ("m00", "m11") else 0.0, low=-LIMIT, high=LIMIT, url=key)
      for key in ENTRY_KEYS),
    Param("affine_kx", 0.5, low=-LIMIT, high=LIMIT, url="kx"),
    Param("affine_ky", 0.25, low=-LIMIT, high=LIMIT, url="ky"),
    Param("affine_bx", SEED_LOCATION[0], low=0.0, high=8192.0, url="bx"),
    Param("affine_by", SEED_LOCATION[1], low=0.0, high=8192.0, url="by"),
    Param("affine_channel", "red", choices=list(CHANNELS), url="channel"),
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
    restore(PARAMS)
    for key, choices in (("affine_frame", FRAMES), ("affine_mapping", MAPPINGS), ("affine_interp", INTERPOLATIONS),
                         ("affine_padding", PADDINGS), ("affine_engine", ENGINES)):
        keep_valid(key, list(choices))
    steps = _current_steps()
    controls, editor = st.columns([1, 2], gap="large")
    with controls:
        loaded = image_input("affine_image", default_sample="astronaut", max_side=MAX_SIDE)
        st.selectbox("Interpolation", INTERPOLATIONS, key="affine_interp")
        st.selectbox("Padding (outside the picture)", PADDINGS, key="affine_padding")
        st.selectbox("Engine", ENGINES, key="affine_engine", help="All four implement the same conventions.")
        st.radio("Coordinates of M", list(FRAMES), format_func=FRAMES.get, key="affine_frame")
        st.radio("Mapping", list(MAPPINGS), format_func=MAPPINGS.get, key="affine_mapping")
    with editor:
        _presets()
        st.radio("Build M", ["steps", "direct"], key="affine_mode", horizontal=True, on_change=_switch_mode,
                 format_func={"steps": "from steps", "direct": "by typing the 2 × 3 matrix"}.get)
        if st.session_state["affine_mode"] == "steps":
            steps = _steps_editor(steps)
            matrix = compose(steps)
        else:
            steps = None
            matrix = _matrix_entries()
        _show_product(steps, matrix)
    if steps is not None:
        st.session_state["affine_steps"] = format_steps(steps)
    if loaded is not None:
        options = _sampler_options()
        size = loaded.pixels.shape[:2]
        _views(loaded.pixels, matrix, options)
        _matrix_facts(matrix, size)
        _forward_vs_inverse(loaded.pixels, matrix, options)
        _engine_check(loaded.pixels, matrix, options)
        _bilinear_explainer(loaded.pixels)
        _animation(loaded.pixels, matrix, options)
        _downloads(matrix, steps, size)
    publish(PARAMS)


# ----------------------------------------------------------------------------------------------- state


def _current_steps() -> list[Step]:
    try:
        return parse_steps(st.session_state["affine_steps"])
    except AffineError as exc:
        st.warning(f"The steps in the URL could not be read ({exc}); using the default steps.")
        st.session_state["affine_steps"] = DEFAULT_STEPS
        return parse_steps(DEFAULT_STEPS)


def _set_steps(steps: list[Step]) -> None:
    st.session_state["affine_steps"] = format_steps(steps)
    for key in [k for k in st.session_state if STEP_WIDGET.match(str(k))]:
        del st.session_state[key]


def _apply_preset(name: str) -> None:
    _set_steps(list(PRESETS[name].steps))
    st.session_state["affine_mode"] = "steps"
    st.session_state["affine_frame"] = "normalised"
    st.session_state["affine_mapping"] = "sampler"
    st.session_state["affine_preset_note"] = PRESETS[name].note


def _edit_steps(action: str, index: int = 0) -> None:
    steps = parse_steps(st.session_state["affine_steps"])
    if action == "add":
        steps.append(make_step(st.session_state["affine_new_kind"]))
    elif action == "remove":
        steps.pop(index)
    else:
        other = index - 1 if action == "up" else index + 1
        steps[index], steps[other] = steps[other], steps[index]
    _set_steps(steps)


def _switch_mode() -> None:
    """Carry the current map over: steps -> their product; typed matrix -> its decomposition as steps."""
    if st.session_state["affine_mode"] == "direct":
        product = compose(parse_steps(st.session_state["affine_steps"]))
        for key in ENTRY_KEYS:
            st.session_state[f"affine_{key}"] = float(product[int(key[1]), int(key[2])])
    else:
        _set_steps(figures.steps_from_matrix(_typed_matrix()))


def _typed_matrix() -> np.ndarray:
    return matrix_from_entries([float(st.session_state.get(f"affine_{key}", 0.0)) for key in ENTRY_KEYS])


def _sampler_options() -> SamplerOptions:
    state = st.session_state
    return SamplerOptions(interpolation=state["affine_interp"], padding=state["affine_padding"],
                          engine=state["affine_engine"], frame=state["affine_frame"], mapping=state["affine_mapping"])


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


def _steps_editor(steps: list[Step]) -> list[Step]:
    """One bordered row per step with its sliders and move/remove buttons; returns the edited steps."""
    frame = st.session_state["affine_frame"]
    origin = "the top-left pixel" if frame == "pixels_corner" else "the image centre"
    st.caption(f"Steps apply from top to bottom. Rotation, scale and shear act about the origin: {origin}.")
    edited: list[Step] = []
    clamped = False
    for index, step in enumerate(steps):
        with st.container(border=True):
            label, sliders, buttons = st.columns([2, 6, 2], vertical_alignment="center")
            label.markdown(f"**{index + 1}. {STEP_LABELS[step.kind]}**")
            values = {}
            for name, value in step_values(step).items():
                key = f"affine_step{index}_{step.kind}_{name}"
                spec = figures.slider_spec(step.kind, frame, MAX_SIDE)
                st.session_state.setdefault(key, value)
                if not spec.holds(st.session_state[key]):
                    st.session_state[key] = spec.clamp(st.session_state[key])
                    clamped = True
                values[name] = sliders.slider(figures.field_label(name, frame), spec.low, spec.high, step=spec.step,
                                              key=key)
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


def _matrix_entries() -> np.ndarray:
    st.caption(f"Type M's first two rows; the third row of a 2-D affine map is always (0, 0, 1). Entries are "
               f"limited to ±{LIMIT:g}.")
    for row in range(2):
        columns = st.columns(3)
        for col in range(3):
            columns[col].number_input(f"M[{row}, {col}]", min_value=-LIMIT, max_value=LIMIT, step=0.05,
                                      format="%.4f", key=f"affine_m{row}{col}")
    return _typed_matrix()


def _show_product(steps: list[Step] | None, matrix: np.ndarray) -> None:
    st.latex(figures.product_latex(steps, matrix))
    if steps:
        with st.expander("Each factor as a 3 × 3 matrix", icon=":material/calculate:"):
            factors = figures.factors_view(steps, matrix)
            st.latex(factors.factors)
            st.latex(factors.reversed_product)
            st.caption(
                "Reversing the order gives the same matrix here." if factors.same_reversed
                else "Reversing the order gives a different matrix: matrix products do not commute."
            )


# ----------------------------------------------------------------------------------------------- views


@st.cache_data(show_spinner=False, max_entries=16)
def _preview(pixels: np.ndarray, side: int) -> np.ndarray:
    return thumbnail(pixels, side)


@st.cache_data(show_spinner=False, max_entries=64)
def _jpeg_uri(pixels: np.ndarray) -> str:
    return figures.jpeg_data_uri(pixels)


@st.cache_data(show_spinner=False, max_entries=8)
def _warp(pixels: np.ndarray, matrix: np.ndarray, options: SamplerOptions):
    """The page's slider-to-image path, keyed by the picture, M and the (hashable) sampler options."""
    view = render_warp(pixels, matrix, options)
    return view, figures.jpeg_bytes(thumbnail(view.image, DISPLAY_SIDE))


def _views(pixels: np.ndarray, matrix: np.ndarray, options: SamplerOptions) -> None:
    left, right = st.columns(2)
    try:
        view, shown = _warp(pixels, matrix, options)
    except AffineError as exc:
        left.error(str(exc))
        with right:
            st.subheader("Input")
            st.image(figures.jpeg_bytes(_preview(pixels, DISPLAY_SIDE)), width="stretch")
        return
    with left:
        st.subheader("Input, and where the output grid samples it")
        preview = _preview(pixels, FIGURE_SIDE)
        lines = grid_lines(view.theta, *pixels.shape[:2])
        fig = figures.grid_figure(_jpeg_uri(preview), preview.shape[:2], pixels.shape[:2], lines)
        show_figure(fig, "affine_sampling_grid", data=figures.grid_table(lines), key="affine_grid_fig")
    with right:
        st.subheader("Output")
        st.image(shown, width="stretch", caption=options.label())
        image_download(view.image, "affine_warped", label="Download the warped image (PNG)", key="affine_png")
        st.latex(figures.theta_latex(view.theta))
        st.caption("θ: the sampler's normalised output → input map (torch affine_grid, align_corners=True).")


def _matrix_facts(matrix: np.ndarray, size: tuple[int, int]) -> None:
    st.divider()
    shapes_column, facts_column = st.columns([3, 2], gap="large")
    with facts_column:
        st.subheader("Determinant, inverse, decomposition")
        change = area_change(matrix)
        st.metric("det M", figures.determinant_text(change))
        st.markdown(change.describe())
        caption = figures.sampler_area_caption(change)
        if st.session_state["affine_mapping"] == "sampler" and caption:
            st.caption(caption)
        try:
            st.latex(figures.inverse_latex(inverse(matrix)))
        except SingularMatrixError as exc:
            st.error(str(exc))
        st.latex(figures.decomposition_latex(decompose(matrix)))
        st.caption("Any affine map splits into a shear, a scale (negative sy: a mirror), a rotation and a "
                   "translation, applied in that order.")
    _point_and_shapes(matrix, size, shapes_column, facts_column)


def _point_and_shapes(matrix, size, shapes_column, facts_column) -> None:
    with facts_column:
        point_x, point_y = st.columns(2)
        point_x.number_input("K x", min_value=-LIMIT, max_value=LIMIT, step=0.05, key="affine_kx")
        point_y.number_input("K y", min_value=-LIMIT, max_value=LIMIT, step=0.05, key="affine_ky")
        k = (float(st.session_state["affine_kx"]), float(st.session_state["affine_ky"]))
        k_prime = apply_to_point(matrix, k)
        st.latex(figures.point_latex(k, k_prime))
    with shapes_column:
        st.subheader("The unit square, the basis vectors and an F, before and after K → MK")
        before = reference_shapes(figures.frame_unit(st.session_state["affine_frame"], size))
        fig, data = figures.shapes_figure(before, transform_shapes(matrix, before), k, k_prime)
        show_figure(fig, "affine_shapes", data=data, key="affine_shapes_fig")
        st.caption("y points down, as image rows do. Grey: before; colour: after. In sampler mode the picture "
                   "itself moves by M⁻¹, the opposite way.")


def _forward_vs_inverse(pixels: np.ndarray, matrix: np.ndarray, options: SamplerOptions) -> None:
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
        size = pixels.shape[:2]
        try:
            theta = to_theta(matrix, options.frame, *size, options.mapping)
            splat = forward_splat(to_unit_float(preview), theta)
            pulled = render_warp(preview, matrix, options, size=size, engine="numpy")
        except AffineError as exc:
            st.error(f"No forward picture: {exc}")
            return
        push, pull = st.columns(2)
        push.image(to_uint8(splat.image), width="stretch",
                   caption=f"Forward (push, rounded): {splat.hole_fraction:.1%} of the output never reached, "
                           f"{splat.collision_fraction:.1%} of pixels collided")
        pull.image(pulled.image, width="stretch", caption="Inverse (pull, interpolated): no holes")


def _engine_check(pixels: np.ndarray, matrix: np.ndarray, options: SamplerOptions) -> None:
    with st.expander("Check: do the four engines agree?", icon=":material/fact_check:"):
        full = st.toggle("Use the full-size picture (slower)", key="affine_check_full")
        work = pixels if full else _preview(pixels, CHECK_SIDE)
        st.caption(f"All engines warp the same {work.shape[1]}×{work.shape[0]} float image; differences are "
                   "in units of full intensity (1.0).")
        try:
            theta = to_theta(matrix, options.frame, *pixels.shape[:2], options.mapping)
            with st.spinner("Running the four engines…"):
                checks = compare_engines(to_unit_float(work), theta, options)
        except AffineError as exc:
            st.error(str(exc))
            return
        st.dataframe(figures.engine_table(checks), hide_index=True, width="stretch",
                     column_config={"max |difference| vs numpy": st.column_config.NumberColumn(format="%.2e"),
                                    "time (ms)": st.column_config.NumberColumn(format="%.1f")})


def _bilinear_explainer(pixels: np.ndarray) -> None:
    st.divider()
    st.subheader("Bilinear interpolation at a fractional location")
    height, width = pixels.shape[:2]
    for key, top in (("affine_bx", width - 1), ("affine_by", height - 1)):
        st.session_state[key] = min(st.session_state[key], float(top))
    pick_x, pick_y, pick_channel = st.columns(3)
    pick_x.number_input("x (column)", min_value=0.0, max_value=float(width - 1), step=0.1, key="affine_bx")
    pick_y.number_input("y (row)", min_value=0.0, max_value=float(height - 1), step=0.1, key="affine_by")
    pick_channel.selectbox("Channel", list(CHANNELS), key="affine_channel")
    channel = pixels[:, :, CHANNELS[st.session_state["affine_channel"]]]
    x, y = float(st.session_state["affine_bx"]), float(st.session_state["affine_by"])
    try:
        ex = explain_bilinear(channel, x, y)
    except AffineError as exc:
        st.error(str(exc))
        return
    grid_column, numbers_column = st.columns([3, 2], gap="large")
    with grid_column:
        window = pixel_window(channel, x, y, radius=3)
        show_figure(figures.bilinear_figure(window, ex), "affine_bilinear", data=figures.window_table(window),
                    key="affine_bilinear_fig")
    with numbers_column:
        st.markdown(figures.bilinear_point_text(ex, st.session_state["affine_channel"]))
        st.dataframe(figures.neighbour_table(ex), hide_index=True, width="stretch",
                     column_config={"weight in P": st.column_config.NumberColumn(format="%.4f")})
        st.caption("The weights sum to 1. Interpolating along y first gives the same P.")
        st.metric("P", f"{ex.p:.6g}")
    for line in figures.bilinear_latex(ex):
        st.latex(line)


def _animation(pixels: np.ndarray, matrix: np.ndarray, options: SamplerOptions) -> None:
    st.divider()
    st.subheader("Animation: from the identity to M")
    if not st.toggle("Build the animation", key="affine_animate",
                     help=f"{ANIMATION_FRAMES} frames at {ANIMATION_SIDE} px, interpolating angle, shear, scale "
                          "and translation."):
        return
    preview = _preview(pixels, ANIMATION_SIDE)
    try:
        with st.spinner(f"Warping {ANIMATION_FRAMES} frames…"):
            frames = animation_frames(preview, matrix, options, size=pixels.shape[:2], count=ANIMATION_FRAMES)
    except AffineError as exc:
        st.error(str(exc))
        return
    usable = [f for f in frames if f.image is not None]
    if len(usable) < len(frames):
        st.caption(f"{len(frames) - len(usable)} in-between matrices are singular and cannot be inverted; skipped.")
    if not usable:
        st.error("No frame can be drawn: every in-between matrix is singular in forward mapping.")
        return
    fig = figures.animation_figure([(f.fraction, _jpeg_uri(f.image)) for f in usable])
    show_figure(fig, "affine_animation", data=figures.animation_table(frames), key="affine_animation_fig")


def _downloads(matrix: np.ndarray, steps: list[Step] | None, size: tuple[int, int]) -> None:
    st.divider()
    frame, mapping = st.session_state["affine_frame"], st.session_state["affine_mapping"]
    st.download_button(
        "Download the matrix (JSON: M, θ for torch, the OpenCV pixel matrix)",
        data=lambda: json.dumps(matrix_report(matrix, frame=frame, mapping=mapping, steps=steps, size=size), indent=2),
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
