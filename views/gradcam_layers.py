"""Grad-CAM per layer: where each stage of a CNN looks, for several CAM methods, from one forward/backward pass."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from components.figure_export import image_download
from components.heavy import run_heavy
from components.image_input import image_input
from components.page_header import page_header
from components.url_state import Param, publish, restore
from views.catalog import PageInfo
from services.cam import (
    DEFAULT_MODEL,
    METHODS,
    MODELS,
    CamError,
    CamModel,
    Explanation,
    WeightsUnavailableError,
    estimate_work,
    explain_layers,
    imagenet_categories,
    load_model,
    measure_seconds_per_image,
    slow_methods,
)
from services.cam.render import (
    COLORMAPS,
    GridRow,
    colorize,
    comparable_maps,
    compose_grid,
    guided_backprop_image,
    guided_gradcam_image,
    overlay,
)
from services.imaging import SAMPLES, ImageInputError
from services.workers import WorkTimeout

INPUT_SIZES = [96, 128, 160, 192, 224, 256, 320]
BATCH_SIZES = [8, 16, 32, 64, 128]
CHANNEL_FRACTIONS = [0.1, 0.25, 0.5, 1.0]
ALL_LAYERS = sorted({layer for spec in MODELS.values() for layer in spec.layers})
#: Longest side of the working picture: maps and overlays are drawn at this size.
MAX_SIDE = 640

PARAMS = [
    Param("cam_image_sample", "chelsea", choices=list(SAMPLES)),
    Param("model", DEFAULT_MODEL, choices=list(MODELS)),
    Param("layers", list(MODELS[DEFAULT_MODEL].layers), choices=ALL_LAYERS),
    Param("methods", ["gradcam"], choices=list(METHODS)),
    Param("target", -1, low=-1, high=999),
    Param("guided", True),
    Param("guided_cam", True),
    Param("aug", False),
    Param("eigen", False),
    Param("faith", True),
    Param("alpha", 0.5, low=0.0, high=1.0),
    Param("cmap", "jet", choices=list(COLORMAPS)),
    Param("raw", False),
    Param("shared", False),
    Param("size", 224, choices=INPUT_SIZES),
    Param("batch", 32, choices=BATCH_SIZES),
    Param("channels", 1.0, choices=CHANNEL_FRACTIONS),
]

HOW_IT_WORKS = r"""
**Grad-CAM** (Selvaraju et al.) asks which places in a layer's feature maps $A^k$ raised the score $y^c$ of
class $c$. Each channel gets the mean of its gradient, $\alpha_k = \frac{1}{hw}\sum_{ij}\partial y^c/\partial A^k_{ij}$,
and the map is $\mathrm{ReLU}(\sum_k \alpha_k A^k)$, upsampled to the picture. Early layers have fine grids
but little class knowledge; the last layers know the class but see the picture through a coarse 7 × 7 grid.

**One pass for every layer.** All chosen layers are hooked at once; one forward pass records their outputs
and one `torch.autograd.grad` call returns the gradient at all of them. Each map is then computed by
pytorch-grad-cam's own code for that method, so it equals pytorch-grad-cam run on that layer alone (tested to
1e-5), at a fraction of the cost of one pytorch-grad-cam object per layer.

**Methods.** Grad-CAM++, XGrad-CAM, HiResCAM, LayerCAM and EigenGrad-CAM reweight gradient × activation
differently; EigenCAM uses no gradient at all (the first principal component, class-agnostic). Score-CAM and
Ablation-CAM need one forward pass *per feature channel* (1280 at EfficientNet's head), so they are slow on a
CPU: the page estimates the time first, and you can shrink the input, the batch or the channels tried.

**Guided backprop** passes only positive gradients back through every ReLU, giving a sharp but
class-insensitive picture; multiplied by a CAM map it becomes **guided Grad-CAM**. It runs on a separate copy
of the network, so the shared model is never altered.

**Shared colour scale.** Each map is normally stretched to its own 0…1, which makes a weak early layer look
as confident as the last one. With the shared scale, one method's maps keep their real magnitudes: a
gradient map's cell holds gradient × activation for its patch, so it is multiplied by the number of cells to
become evidence per unit of image area, then all layers are divided by the same maximum.

**Faithfulness** (pytorch-grad-cam's `CamMultImageConfidenceChange`): the network sees the picture multiplied
by the map, and Δp is the change of the target class probability. Near 0 or positive: the map kept what the
decision rests on. Strongly negative: the evidence was outside the highlighted area.
"""


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _shared_model(name: str) -> CamModel:
    """One model per name for all sessions; explanations never modify it (hooks are per request)."""
    return load_model(name)


@st.cache_resource(show_spinner="Loading your weights…", max_entries=2)
def _shared_model_from_file(name: str, digest: str, _weights: bytes) -> CamModel:
    return load_model(name, weights_file=_weights)


@st.cache_data(show_spinner=False, max_entries=16)
def _seconds_per_image(name: str, weights: str, size: int, batch: int, _model: CamModel) -> float:
    return measure_seconds_per_image(_model, size, min(batch, 16))


def render() -> None:
    page_header(
        INFO.title,
        "Where does each stage of a convolutional network look when it recognises a picture? Pick layers and "
        "CAM methods: the grid shows layers across and methods down, all computed from a single forward and "
        "backward pass. The default network, EfficientNet-Lite0, ships with the app and works offline.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    restore(PARAMS)
    _sanitise_layers()

    picture_column, setup_column = st.columns([1, 2], gap="large")
    with picture_column:
        loaded = image_input("cam_image", default_sample="chelsea", max_side=MAX_SIDE)
    with setup_column:
        model = _model_controls()
    _option_controls()
    publish(PARAMS)
    if loaded is None or model is None:
        return

    explanation = _explain(model, loaded.pixels)
    if explanation is None:
        return
    _predictions(explanation)
    _grid(explanation)


def _sanitise_layers() -> None:
    """Keep only layers of the chosen model (a URL or a model switch can bring others); none means all."""
    spec = MODELS[st.session_state["model"]]
    kept = [layer for layer in st.session_state.get("layers", []) if layer in spec.layers]
    st.session_state["layers"] = kept or list(spec.layers)


def _on_model_change() -> None:
    st.session_state["layers"] = list(MODELS[st.session_state["model"]].layers)


def _use_default_model() -> None:
    st.session_state["model"] = DEFAULT_MODEL
    _on_model_change()


def _model_controls() -> CamModel | None:
    st.selectbox("Network", list(MODELS), format_func=lambda n: MODELS[n].title, key="model",
                 on_change=_on_model_change)
    spec = MODELS[st.session_state["model"]]
    st.multiselect("Layers (shallow → deep)", list(spec.layers), format_func=spec.layer_label, key="layers")
    st.multiselect(
        "Methods", list(METHODS), format_func=lambda m: METHODS[m].title + (" (slow)" if METHODS[m].slow else ""),
        key="methods", help="\n".join(f"- **{info.title}**: {info.summary}" for info in METHODS.values()),
    )
    weights_file = None
    if spec.weights_url is not None:
        with st.expander("Use a local weights file instead of torchvision's", icon=":material/upload_file:"):
            upload = st.file_uploader(
                f"State dict for {spec.title} (.pth / .pt), loaded as tensors only",
                type=["pth", "pt", "bin"], key=f"cam_weights_{spec.name}",
            )
            weights_file = upload.getvalue() if upload is not None else None
    try:
        if weights_file is not None:
            model = _shared_model_from_file(spec.name, hashlib.sha256(weights_file).hexdigest(), weights_file)
        else:
            model = _shared_model(spec.name)
    except WeightsUnavailableError as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        st.button("Use EfficientNet-Lite0 (bundled, works offline)", on_click=_use_default_model,
                  key="cam_use_default")
        st.caption("Or open *Use a local weights file* above and load the weights for this network.")
        return None
    except CamError as exc:
        st.error(str(exc))
        return None
    st.caption(f"Weights: {model.weights} · device: **{model.device}**")
    return model


def _option_controls() -> None:
    with st.expander("Options: target class, guided backprop, smoothing, speed", icon=":material/tune:"):
        categories = imagenet_categories()  # every network here predicts the 1000 ImageNet classes
        st.selectbox(
            "Explain the class (type to search the 1000 ImageNet classes)", [-1, *range(len(categories))],
            format_func=lambda i: "top-1 prediction" if i < 0 else f"{categories[i]} (#{i})", key="target",
            help="The top-5 predictions are also offered as buttons above the grid.",
        )
        first, second, third = st.columns(3)
        first.toggle("Guided backprop", key="guided", help="Sharp, class-insensitive input gradient.")
        first.toggle("Guided Grad-CAM rows", key="guided_cam", help="Guided backprop × each method's map.")
        second.toggle("Augmentation smoothing", key="aug",
                      help="Average over flips and brightness changes (6 passes: 6× slower).")
        second.toggle("Eigen smoothing", key="eigen", help="Keep only the first principal component of each map.")
        second.toggle("Faithfulness score per cell", key="faith")
        third.select_slider("Input size (pixels)", INPUT_SIZES, key="size",
                            help="Smaller inputs make every method faster, Score-CAM and Ablation-CAM most.")
        third.select_slider("Batch size (slow methods)", BATCH_SIZES, key="batch")
        third.select_slider("Channels tried (slow methods)", CHANNEL_FRACTIONS, key="channels",
                            format_func=lambda f: f"{f:.0%}",
                            help="Score-CAM / Ablation-CAM over only the most active channels: an approximation.")
    with st.expander("Display", icon=":material/palette:", expanded=True):
        first, second, third = st.columns(3)
        first.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="alpha")
        second.selectbox("Colour map", list(COLORMAPS), key="cmap")
        third.toggle("Heatmap only (no photo)", key="raw")
        third.toggle("Shared colour scale across layers", key="shared",
                     help="Per-layer scaling hides that early layers are weak; this keeps real magnitudes.")


def _request(methods: list[str]) -> dict:
    state = st.session_state
    return dict(
        layers=list(state["layers"]), method=methods, target=None if state["target"] < 0 else state["target"],
        aug_smooth=state["aug"], eigen_smooth=state["eigen"], guided=state["guided"] or state["guided_cam"],
        faithfulness=state["faith"], input_size=state["size"], batch_size=state["batch"],
        channel_fraction=state["channels"],
    )


def _explain(model: CamModel, pixels: np.ndarray) -> Explanation | None:
    """Run (or reuse) the explanation; slow methods wait for an explicit go with a time estimate."""
    methods = list(st.session_state["methods"])
    if not methods:
        st.info("Choose at least one method.")
        return None
    slow = slow_methods(methods)
    picture = hashlib.sha1(pixels.tobytes()).hexdigest()
    request = _request(methods)
    key = repr((model.name, model.weights, id(model), picture, sorted(request.items())))
    results: dict = st.session_state.setdefault("cam_results", {})
    if key not in results and slow:
        fast = [m for m in methods if m not in slow]
        if not _slow_methods_confirmed(model, slow, request):
            if not fast:
                return None
            request = _request(fast)
            key = repr((model.name, model.weights, id(model), picture, sorted(request.items())))
    if key not in results:
        bar = st.progress(0.0, text="Explaining…")
        try:
            explanation = run_heavy(
                explain_layers, model, pixels, what="The explanation", key=key,
                progress=lambda fraction, text: bar.progress(min(1.0, fraction), text=text), **request
            )
        except (CamError, ImageInputError, WorkTimeout) as exc:
            bar.empty()
            st.error(str(exc))
            return None
        bar.empty()
        results.clear()  # keep one result per session: maps of big pictures are large
        results[key] = explanation
    return results[key]


def _slow_methods_confirmed(model: CamModel, slow: list[str], request: dict) -> bool:
    titles = " and ".join(METHODS[m].title for m in slow)
    work = estimate_work(model, request["layers"], slow, aug_smooth=request["aug_smooth"],
                         channel_fraction=request["channel_fraction"])
    seconds = work * _seconds_per_image(model.name, model.weights, request["input_size"], request["batch_size"], model)
    st.warning(
        f"{titles} {'run' if len(slow) > 1 else 'runs'} one forward pass per feature channel: about "
        f"{work:,.0f} image passes at {request['input_size']} px, roughly **{_duration(seconds)}** on "
        f"{model.device}. To size down: fewer or shallower layers, a smaller input size, or fewer channels "
        "(Options).",
        icon=":material/hourglass_top:",
    )
    return st.button(f"Run {titles} (≈ {_duration(seconds)})", type="primary", key="cam_run_slow")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _set_target(index: int) -> None:
    st.session_state["target"] = index


def _predictions(explanation: Explanation) -> None:
    st.subheader("Prediction")
    columns = st.columns(len(explanation.predictions))
    for column, prediction in zip(columns, explanation.predictions):
        column.button(
            f"{prediction.label} · {prediction.probability:.1%}", key=f"cam_top_{prediction.index}",
            on_click=_set_target, args=(prediction.index,), width="stretch",
            type="primary" if prediction.index == explanation.target.index else "secondary",
            help="Explain this class",
        )
    timing = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in explanation.timings.items())
    st.caption(
        f"Explaining **{explanation.target.label}** (p = {explanation.target.probability:.3f}). "
        f"Ran on **{explanation.device}** at {explanation.input_size} px in {explanation.seconds:.2f} s ({timing})."
    )


def _grid(explanation: Explanation) -> None:
    state = st.session_state
    spec = MODELS[explanation.model]
    labels = [spec.layer_label(layer) for layer in explanation.layers]
    image = explanation.image
    guided = explanation.guided_backprop

    top = st.columns(4)
    top[0].image(image, caption="Input")
    if guided is not None and state["guided"]:
        top[1].image(guided_backprop_image(guided), caption="Guided backprop (same for every layer)")

    rows: list[GridRow] = []
    for method in explanation.methods:
        cells = [explanation.map(method, layer) for layer in explanation.layers]
        maps = comparable_maps(cells) if state["shared"] else [cell.heatmap for cell in cells]
        pictures = [colorize(m, state["cmap"]) if state["raw"] else overlay(image, m, alpha=state["alpha"],
                                                                             colormap=state["cmap"]) for m in maps]
        notes = [f"Δp {cell.faithfulness:+.2f}" if cell.faithfulness is not None else "" for cell in cells]
        rows.append(GridRow(METHODS[method].title, pictures, notes))
        if guided is not None and state["guided_cam"]:
            rows.append(GridRow(f"Guided {METHODS[method].title}",
                                [guided_gradcam_image(guided, cell.heatmap) for cell in cells]))

    st.subheader("Layers across, methods down")
    for column, label in zip(st.columns(len(labels)), labels):
        column.markdown(f"**{label}**")
    for row in rows:
        st.markdown(f"**{row.label}**")
        for index, (column, picture) in enumerate(zip(st.columns(len(labels)), row.cells)):
            note = row.notes[index] if row.notes else None
            column.image(picture, caption=note or None)
    _best_cell(explanation)
    grid = compose_grid(rows, labels, cell_size=160,
                        title=f"{spec.title}: {explanation.target.label} (p = {explanation.target.probability:.2f})")
    image_download(grid, f"gradcam-{explanation.model}", label="Download the grid (PNG)", key="cam_grid_png")


def _best_cell(explanation: Explanation) -> None:
    scored = [cell for cell in explanation.maps.values() if cell.faithfulness is not None]
    if not scored:
        return
    best = max(scored, key=lambda cell: cell.faithfulness)
    spec = MODELS[explanation.model]
    st.caption(
        f"Most faithful cell: **{METHODS[best.method].title}** at **{spec.layer_label(best.layer)}** "
        f"(Δp {best.faithfulness:+.2f}: the probability of *{explanation.target.label}* changes least when the "
        "picture is multiplied by that map)."
    )


INFO = PageInfo(
    title="Grad-CAM per layer",
    icon=":material/layers:",
    url_path="gradcam",
    purpose="What every stage of a CNN looks at: Grad-CAM and eight other CAM methods across all layers at once, "
    "with guided backprop, faithfulness scores and a shared colour scale.",
    offline="everything with the bundled EfficientNet-Lite0; ResNets need torchvision's weights cached or online.",
    render=render,
)
