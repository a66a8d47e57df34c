"""Affine playground: Compose scale, rotation, shear and translation, see the sampling grid, compare samplers."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import services.affine as af
from components.figure_export import image_download, show_figure
from components.image_input import image_input
from components.page_header import page_header
from components.page_links import link_to_page
from components.url_state import Param, keep_valid, publish, restore
from services import budget
from services.affine import figures
from services.affine.bilinear import BilinearExplanation, PixelWindow
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
    Param("affine_frame", "normalised", choices=list(af.FRAMES), url="frame"),
    Param("affine_mapping", "sampler", choices=list(af.MAPPINGS), url="mapping"),
    Param("affine_interp", "bilinear", choices=list(af.INTERPOLATIONS), url="interp"),
    Param("affine_padding", "zeros", choices=list(af.PADDINGS), url="padding"),
    Param("affine_engine", "numpy", choices=list(af.ENGINES), url="engine"),
    *(Param(f"affine_{key}", 1.0 if key in ("m00", "m11") else 0.0, low=-LIMIT, high=LIMIT, url=key)
      for key in ENTRY_KEYS),
    Param("affine_kx", 0.5, low=-LIMIT, high=LIMIT, url="kx"),
    Param("affine_ky", 0.25, low=-LIMIT, high=LIMIT, url="ky"),
    Param("affine_bx", af.SEED_LOCATION[0], low=0.0, high=8192.0, url="bx"),
    Param("affine_by", af.SEED_LOCATION[1], low=0.0, high=8192.0, url="by"),
    Param("affine_channel", "red", choices=list(CHANNELS), url="channel"),
]



def render() -> None:
    page_header(
        INFO.title,
        "Build an affine map from scale, rotation, shear and translation steps (or type the matrix), and watch "
        "how the sampler reads the picture through it: the warped grid, the output, the determinant, the "
        "inverse, and four independent samplers that must agree.",
        figures.HOW_IT_WORKS,
        icon=INFO.icon,
    )
    link_to_page("stn", "Part II: a spatial transformer learns θ from the loss alone (train one live)")
    restore(PARAMS)
    for key, choices in (("affine_frame", af.FRAMES), ("affine_mapping", af.MAPPINGS),
                         ("affine_interp", af.INTERPOLATIONS), ("affine_padding", af.PADDINGS),
                         ("affine_engine", af.ENGINES)):
        keep_valid(key, list(choices))
    with st.sidebar:
        st.markdown("**Picture and sampler**")
        loaded = image_input("affine_image", default_sample="astronaut", max_side=MAX_SIDE)
        st.selectbox("Interpolation", af.INTERPOLATIONS, key="affine_interp")
        st.selectbox("Padding (outside the picture)", af.PADDINGS, key="affine_padding")
        st.selectbox("Engine", af.ENGINES, key="affine_engine", help="All four implement the same conventions.")
        st.radio("Coordinates of M", list(af.FRAMES), format_func=af.FRAMES.get, key="affine_frame")
        st.radio("Mapping", list(af.MAPPINGS), format_func=af.MAPPINGS.get, key="affine_mapping")
    _map_and_views(loaded.pixels if loaded is not None else None)
    if loaded is not None:
        _bilinear_explainer(loaded.pixels)
    publish(PARAMS)


@st.fragment
def _map_and_views(pixels: np.ndarray | None) -> None:
    """A fragment: a step slider, a typed entry or a preset reruns M and what depends on it, not the sidebar,
    the header or the bilinear panel (py-spy at 8 sessions: the rest of the page was ~1/3 of a slider's rerun)."""
    if st.session_state.pop("affine_redraw_sidebar", False):
        st.rerun()  # a preset reset the sidebar's frame and mapping: redraw the whole page so they show it
    steps = _current_steps()
    editor, product = st.columns([3, 2], gap="large")
    with editor:
        _presets()
        st.radio("Build M", ["steps", "direct"], key="affine_mode", horizontal=True, on_change=_switch_mode,
                 format_func={"steps": "from steps", "direct": "by typing the 2 × 3 matrix"}.get)
        if st.session_state["affine_mode"] == "steps":
            steps = _steps_editor(steps)
            matrix = af.compose(steps)
        else:
            steps = None
            matrix = _matrix_entries()
    with product:
        _show_product(steps, matrix)
    if steps is not None:
        st.session_state["affine_steps"] = af.format_steps(steps)
    if pixels is not None:
        options = _sampler_options()
        size = pixels.shape[:2]
        _views(pixels, matrix, options)
        _matrix_facts(matrix, size)
        _forward_vs_inverse(pixels, matrix, options)
        _engine_check(pixels, matrix, options)
        _animation(pixels, matrix, options)
        _downloads(matrix, steps, size)
    publish(PARAMS)


# ----------------------------------------------------------------------------------------------- state


def _current_steps() -> list[af.Step]:
    try:
        return af.parse_steps(st.session_state["affine_steps"])
    except af.AffineError as exc:
        st.warning(f"The steps in the URL could not be read ({exc}); using the default steps.")
        st.session_state["affine_steps"] = DEFAULT_STEPS
        return af.parse_steps(DEFAULT_STEPS)


def _set_steps(steps: list[af.Step]) -> None:
    st.session_state["affine_steps"] = af.format_steps(steps)
    for key in [k for k in st.session_state if STEP_WIDGET.match(str(k))]:
        del st.session_state[key]


def _apply_preset(name: str) -> None:
    _set_steps(list(af.PRESETS[name].steps))
    st.session_state["affine_mode"] = "steps"
    if (st.session_state["affine_frame"], st.session_state["affine_mapping"]) != ("normalised", "sampler"):
        st.session_state["affine_frame"] = "normalised"
        st.session_state["affine_mapping"] = "sampler"
        st.session_state["affine_redraw_sidebar"] = True
    st.session_state["affine_preset_note"] = af.PRESETS[name].note


def _edit_steps(action: str, index: int = 0) -> None:
    steps = af.parse_steps(st.session_state["affine_steps"])
    if action == "add":
        steps.append(af.make_step(st.session_state["affine_new_kind"]))
    elif action == "remove":
        steps.pop(index)
    else:
        other = index - 1 if action == "up" else index + 1
        steps[index], steps[other] = steps[other], steps[index]
    _set_steps(steps)


def _switch_mode() -> None:
    """Carry the current map over: steps -> their product; typed matrix -> its decomposition as steps."""
    if st.session_state["affine_mode"] == "direct":
        product = af.compose(af.parse_steps(st.session_state["affine_steps"]))
        for key in ENTRY_KEYS:
            st.session_state[f"affine_{key}"] = float(product[int(key[1]), int(key[2])])
    else:
        _set_steps(figures.steps_from_matrix(_typed_matrix()))


def _typed_matrix() -> np.ndarray:
    return af.matrix_from_entries([float(st.session_state.get(f"affine_{key}", 0.0)) for key in ENTRY_KEYS])


def _sampler_options() -> af.SamplerOptions:
    state = st.session_state
    return af.SamplerOptions(interpolation=state["affine_interp"], padding=state["affine_padding"],
                          engine=state["affine_engine"], frame=state["affine_frame"], mapping=state["affine_mapping"])


# ---------------------------------------------------------------------------------------------- editor


def _presets() -> None:
    st.markdown("**Presets** (the seed's convention: M is the sampler's map, normalised coordinates)")
    columns = st.columns(3)
    for position, (name, preset) in enumerate(af.PRESETS.items()):
        columns[position % 3].button(preset.label, key=f"affine_preset_{name}", on_click=_apply_preset, args=(name,),
                                     width="stretch")
    note = st.session_state.pop("affine_preset_note", None)
    if note:
        st.caption(note)


def _steps_editor(steps: list[af.Step]) -> list[af.Step]:
    """One bordered row per step with its sliders and move/remove buttons; returns the edited steps."""
    frame = st.session_state["affine_frame"]
    origin = "the top-left pixel" if frame == "pixels_corner" else "the image centre"
    st.caption(f"Steps apply from top to bottom. Rotation, scale and shear act about the origin: {origin}.")
    edited: list[af.Step] = []
    clamped = False
    for index, step in enumerate(steps):
        with st.container(border=True):
            label, sliders, buttons = st.columns([2, 6, 2], vertical_alignment="center")
            label.markdown(f"**{index + 1}. {STEP_LABELS[step.kind]}**")
            values = {}
            for name, value in af.step_values(step).items():
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
            edited.append(af.make_step(step.kind, **values))
    if clamped:
        st.warning("Some values were outside the sliders' ranges and were clamped; the matrix changed accordingly.")
    if not steps:
        st.info("No steps: M is the identity. Add a step or pick a preset.")
    add_kind, add_button = st.columns([3, 1], vertical_alignment="bottom")
    add_kind.selectbox("New step", list(af.STEP_TYPES), format_func=STEP_LABELS.get, key="affine_new_kind")
    add_button.button("Add step", key="affine_add", on_click=_edit_steps, args=("add",),
                      disabled=len(steps) >= af.MAX_STEPS, width="stretch")
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


def _show_product(steps: list[af.Step] | None, matrix: np.ndarray) -> None:
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
    return af.thumbnail(pixels, side)


@st.cache_data(show_spinner=False, max_entries=64)
def _jpeg_uri(pixels: np.ndarray) -> str:
    return figures.jpeg_data_uri(pixels)


@st.cache_data(show_spinner=False, max_entries=8)
def _warp(pixels: np.ndarray, matrix: np.ndarray, options: af.SamplerOptions):
    """The page's slider-to-image path, keyed by the picture, M and the (hashable) sampler options."""
    view = af.render_warp(pixels, matrix, options)
    return view, figures.jpeg_bytes(af.thumbnail(view.image, DISPLAY_SIDE))


def _views(pixels: np.ndarray, matrix: np.ndarray, options: af.SamplerOptions) -> None:
    left, right = st.columns(2)
    try:
        view, shown = _warp(pixels, matrix, options)
    except af.AffineError as exc:
        left.error(str(exc))
        with right:
            st.subheader("Input")
            st.image(figures.jpeg_bytes(_preview(pixels, DISPLAY_SIDE)), width="stretch")
        return
    with left:
        st.subheader("Input, and where the output grid samples it", anchor="sampling-grid")  # linked to from /stn
        preview = _preview(pixels, FIGURE_SIDE)
        lines = af.grid_lines(view.theta, *pixels.shape[:2])
        fig = figures.grid_figure(_jpeg_uri(preview), preview.shape[:2], pixels.shape[:2], lines)
        show_figure(fig, "affine_sampling_grid", data=lambda: figures.grid_table(lines), key="affine_grid_fig",
                    live=True)
    with right:
        st.subheader("Output")
        st.image(shown, width="stretch", caption=options.label())
        image_download(view.image, "affine_warped", label="Download the warped image (PNG)", key="affine_png")
        st.latex(figures.theta_latex(view.theta))
        st.caption("θ: the sampler's normalised output → input map (torch affine_grid, align_corners=True).")


@st.fragment
def _matrix_facts(matrix: np.ndarray, size: tuple[int, int]) -> None:
    """A fragment: moving K reruns this panel only."""
    st.divider()
    shapes_column, facts_column = st.columns([3, 2], gap="large")
    with facts_column:
        st.subheader("Determinant, inverse, decomposition")
        change = af.area_change(matrix)
        st.metric("det M", figures.determinant_text(change))
        st.markdown(change.describe())
        caption = figures.sampler_area_caption(change)
        if st.session_state["affine_mapping"] == "sampler" and caption:
            st.caption(caption)
        try:
            st.latex(figures.inverse_latex(af.inverse(matrix)))
        except af.SingularMatrixError as exc:
            st.error(str(exc))
        st.latex(figures.decomposition_latex(af.decompose(matrix)))
        st.caption("Any affine map splits into a shear, a scale (negative sy: a mirror), a rotation and a "
                   "translation, applied in that order.")
        point_x, point_y = st.columns(2)
        point_x.number_input("K x", min_value=-LIMIT, max_value=LIMIT, step=0.05, key="affine_kx")
        point_y.number_input("K y", min_value=-LIMIT, max_value=LIMIT, step=0.05, key="affine_ky")
        k = (float(st.session_state["affine_kx"]), float(st.session_state["affine_ky"]))
        k_prime = af.apply_to_point(matrix, k)
        st.latex(figures.point_latex(k, k_prime))
        publish(PARAMS)
    with shapes_column:
        st.subheader("The unit square, the basis vectors and an F, before and after K → MK")
        before = af.reference_shapes(figures.frame_unit(st.session_state["affine_frame"], size))
        fig, data = figures.shapes_figure(before, af.transform_shapes(matrix, before), k, k_prime)
        show_figure(fig, "affine_shapes", data=data, key="affine_shapes_fig", live=True)
        st.caption("y points down, as image rows do. Grey: before; colour: after. In sampler mode the picture "
                   "itself moves by M⁻¹, the opposite way.")


@st.fragment
def _forward_vs_inverse(pixels: np.ndarray, matrix: np.ndarray, options: af.SamplerOptions) -> None:
    """Computed only while open (a lazy expander in its own fragment)."""
    panel = st.expander("Forward vs inverse mapping: why samplers map output → input", icon=":material/swap_horiz:",
                        key="affine_forward_open", on_change="rerun")
    with panel:
        st.markdown(figures.FORWARD_VS_INVERSE)
        if not panel.open:
            return
        preview = _preview(pixels, DEMO_SIDE)
        size = pixels.shape[:2]
        try:
            theta = af.to_theta(matrix, options.frame, *size, options.mapping)
            splat = af.forward_splat(af.to_unit_float(preview), theta)
            pulled = af.render_warp(preview, matrix, options, size=size, engine="numpy")
        except af.AffineError as exc:
            st.error(f"No forward picture: {exc}")
            return
        push, pull = st.columns(2)
        push.image(af.to_uint8(splat.image), width="stretch",
                   caption=f"Forward (push, rounded): {splat.hole_fraction:.1%} of the output never reached, "
                           f"{splat.collision_fraction:.1%} of pixels collided")
        pull.image(pulled.image, width="stretch", caption="Inverse (pull, interpolated): no holes")


@st.fragment
def _engine_check(pixels: np.ndarray, matrix: np.ndarray, options: af.SamplerOptions) -> None:
    """Computed only while open: four engines on every slider move would cost more than the warp itself."""
    panel = st.expander("Check: do the four engines agree?", icon=":material/fact_check:", key="affine_check_open",
                        on_change="rerun")
    with panel:
        if not panel.open:
            st.caption("Open to run numpy, torch, OpenCV and scikit-image on the same picture.")
            return
        full = st.toggle("Use the full-size picture (slower)", key="affine_check_full")
        work = pixels if full else _preview(pixels, CHECK_SIDE)
        st.caption(f"All engines warp the same {work.shape[1]}×{work.shape[0]} float image; differences are "
                   "in units of full intensity (1.0).")
        try:
            theta = af.to_theta(matrix, options.frame, *pixels.shape[:2], options.mapping)
            with st.spinner("Running the four engines…"):
                checks = af.compare_engines(af.to_unit_float(work), theta, options)
        except af.AffineError as exc:
            st.error(str(exc))
            return
        # a static table wraps the verdicts (a refusal is a sentence) and shows refused cells as "—"
        st.table(figures.engine_table_text(checks), hide_index=True)


@st.cache_resource(show_spinner=False, max_entries=32)
def _bilinear_figure(window: PixelWindow, ex: BilinearExplanation) -> go.Figure:
    """Shared by every session and rerun, never mutated: the panel does not depend on M, so moving a step's
    slider rebuilt the same figure every time (13 % of the server's GIL time at 8 sessions, py-spy)."""
    return figures.bilinear_figure(window, ex)


@st.fragment
def _bilinear_explainer(pixels: np.ndarray) -> None:
    """A fragment: picking another location or channel reruns this panel only."""
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
        ex = af.explain_bilinear(channel, x, y)
    except af.AffineError as exc:
        st.error(str(exc))
        return
    grid_column, numbers_column = st.columns([3, 2], gap="large")
    with grid_column:
        window = af.pixel_window(channel, x, y, radius=3)
        show_figure(_bilinear_figure(window, ex), "affine_bilinear", data=figures.window_table(window),
                    key="affine_bilinear_fig", live=True)
    with numbers_column:
        st.markdown(figures.bilinear_point_text(ex, st.session_state["affine_channel"]))
        st.dataframe(figures.neighbour_table(ex), hide_index=True, width="stretch",
                     column_config={"weight in P": st.column_config.NumberColumn(format="%.4f")})
        st.caption("The weights sum to 1. Interpolating along y first gives the same P.")
        st.metric("P", f"{ex.p:.6g}")
    for line in figures.bilinear_latex(ex):
        st.latex(line)
    publish(PARAMS)


@st.fragment
def _animation(pixels: np.ndarray, matrix: np.ndarray, options: af.SamplerOptions) -> None:
    """Built only when switched on, in its own fragment."""
    st.divider()
    st.subheader("Animation: from the identity to M")
    if not st.toggle("Build the animation", key="affine_animate",
                     help=f"{ANIMATION_FRAMES} frames at {ANIMATION_SIDE} px, interpolating angle, shear, scale "
                          "and translation."):
        return
    preview = _preview(pixels, ANIMATION_SIDE)
    try:
        with st.spinner(f"Warping {ANIMATION_FRAMES} frames…"):
            frames = af.animation_frames(preview, matrix, options, size=pixels.shape[:2], count=ANIMATION_FRAMES)
    except af.AffineError as exc:
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


def _downloads(matrix: np.ndarray, steps: list[af.Step] | None, size: tuple[int, int]) -> None:
    st.divider()
    frame, mapping = st.session_state["affine_frame"], st.session_state["affine_mapping"]
    st.download_button(
        "Download the matrix (JSON: M, θ for torch, the OpenCV pixel matrix)",
        data=lambda: json.dumps(af.matrix_report(matrix, frame=frame, mapping=mapping, steps=steps, size=size),
                                indent=2),
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
