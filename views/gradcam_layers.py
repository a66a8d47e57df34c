"""Grad-CAM per layer: where each stage of a CNN looks, for several CAM methods, from one forward/backward pass.

The grid comes first; the controls live in the sidebar (collapsible). Each stage of the work is remembered on
its own, so a target change reuses the forward pass and a display change recomputes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from components.figure_export import image_download, show_figure
from components.heavy import run_heavy
from components.image_input import image_input
from components.memory import forget_when_empty
from components.page_header import page_header
from components.url_state import Param, keep_valid, publish, restore
from services import budget
from services.cam import (
    DEFAULT_MODEL,
    METHODS,
    MODELS,
    CamError,
    CamModel,
    ExplainRequest,
    Explanation,
    PassTiming,
    WeightsUnavailableError,
    estimate_work,
    explain_maps,
    forward_pass,
    imagenet_categories,
    load_model,
    measure_seconds_per_image,
    slow_methods,
    with_faithfulness,
    with_guided_backprop,
)
from services.cam.explain import PASS_COST
from services.cam.figures import (
    FAITHFULNESS_OFF,
    HOW_IT_WORKS,
    ROAD_INTRO,
    SANITY_INTRO,
    SIDE_PICTURE_PX,
    DisplayOptions,
    EncodedRow,
    best_cell_sentence,
    column_labels,
    duration,
    encoded_rows,
    faithfulness_table,
    grid_image,
    guided_rows,
    matched_layers,
    method_rows,
    prediction_label,
    predictions_line,
    road_summary,
    road_table,
    run_summary,
    sanity_figure,
    sanity_table,
    side_pictures,
    slow_button_label,
    slow_warning,
)
from services.cam.models import local_weights_files, use_server_threads, weights_folder
from services.cam.render import COLORMAPS, GridRow
from services.cam.road import estimate_road_imputations, road_scores
from services.cam.sanity import estimate_sanity_passes, sanity_check
from services.imaging import SAMPLES, ImageInputError
from services.workers import WorkTimeout
from views.catalog import PageInfo

INPUT_SIZES = [96, 128, 160, 192, 224, 256, 320]
BATCH_SIZES = [8, 16, 32, 64, 128]
CHANNEL_FRACTIONS = [0.1, 0.25, 0.5, 1.0]
ALL_LAYERS = sorted({layer for spec in MODELS.values() for layer in spec.layers})
#: Longest side of the working picture: maps and overlays are drawn at this size.
MAX_SIDE = 640
#: After a deadline message of the sanity check or ROAD: what makes them cheaper.
FEWER_PASSES_HINT = "Fewer layers (sidebar) or a smaller input size (Options) make it faster."
#: Results every session shares (``_shared_box``, ``_shown``): one picture's explanation (maps, guided backprop
#: and faithfulness share their arrays) is about 12 MB at MAX_SIDE and its encoded grid 2-5 MB. A kept forward
#: pass (about 70 MB with its graph) stays in its session only. Entries unused for SHARED_TTL_S are dropped on
#: the next write, and all of them when the last session has gone (``components.memory``).
SHARED_ENTRIES = 24
SHARED_TTL_S = 10 * 60
#: ``server.maxUploadSize`` in .streamlit/config.toml: the server refuses larger uploads whatever a widget says.
UPLOAD_LIMIT_MB = st.get_option("server.maxUploadSize")

# Session keys carry the page prefix; the URL keeps the names links were shared with.
PARAMS = [
    Param("cam_image_sample", "chelsea", choices=list(SAMPLES)),
    Param("cam_model", DEFAULT_MODEL, choices=list(MODELS), url="model"),
    Param("cam_layers", list(MODELS[DEFAULT_MODEL].layers), choices=ALL_LAYERS, url="layers"),
    Param("cam_methods", ["gradcam"], choices=list(METHODS), url="methods"),
    Param("cam_target", -1, low=-1, high=999, url="target"),
    Param("cam_guided", True, url="guided"),
    Param("cam_guided_cam", True, url="guided_cam"),
    Param("cam_aug", False, url="aug"),
    Param("cam_eigen", False, url="eigen"),
    Param("cam_faith", False, url="faith"),  # opt-in: its forward pass per cell was most of a target change
    Param("cam_alpha", 0.5, low=0.0, high=1.0, url="alpha"),
    Param("cam_cmap", "jet", choices=list(COLORMAPS), url="cmap"),
    Param("cam_raw", False, url="raw"),
    Param("cam_shared", False, url="shared"),
    Param("cam_size", 224, choices=INPUT_SIZES, url="size"),
    Param("cam_batch", 32, choices=BATCH_SIZES, url="batch"),
    Param("cam_channels", 1.0, choices=CHANNEL_FRACTIONS, url="channels"),
]


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _shared_model(name: str) -> CamModel:
    """One model per name for all sessions; explanations never modify it (hooks are per request)."""
    use_server_threads()
    return load_model(name)


@st.cache_resource(show_spinner="Loading your weights…", max_entries=2)
def _shared_model_from_file(name: str, digest: str, _weights: bytes) -> CamModel:
    return load_model(name, weights_file=_weights)


@st.cache_resource(show_spinner="Loading the weights file…", max_entries=2)
def _shared_model_from_path(name: str, content_key: str, path: str) -> CamModel:
    return load_model(name, weights_file=Path(path))


@st.cache_data(show_spinner=False, max_entries=16)
def _seconds_per_image(name: str, weights: str, size: int, batch: int, _model: CamModel) -> float:
    return measure_seconds_per_image(_model, size, min(batch, 16))


def render() -> None:
    page_header(
        INFO.title,
        "Where does each stage of a convolutional network look when it recognises a picture? Pick layers and "
        "CAM methods in the sidebar: the grid shows layers across and methods down, all computed from a single "
        "forward and backward pass. The default network, EfficientNet-Lite0, ships with the app and works offline.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    restore(PARAMS)
    _keep_choices_valid()
    with st.sidebar:
        loaded = image_input("cam_image", default_sample="chelsea", max_side=MAX_SIDE)
        model = _model_controls()
        _option_controls()
    publish(PARAMS)
    if loaded is None or model is None:
        return
    identity = _identity(model, loaded.pixels)
    request = _gated_request(model, identity)
    explanation = None if request is None else _maps(model, loaded.pixels, identity, request)
    if explanation is None:
        return
    if explanation.domain is not None and explanation.domain.out_of_domain:
        st.warning(explanation.domain.sentence(), icon=":material/help:")
    _predictions(explanation)
    _grid(model, explanation, identity, request)
    _compare_panel(loaded.pixels, explanation, request)
    _road_panel(model, explanation, identity, request)
    _sanity_panel(model, loaded.pixels, identity, request)


def _keep_choices_valid() -> None:
    """Values from a URL or an older session that left the options go back to a default."""
    keep_valid("cam_model", list(MODELS), DEFAULT_MODEL)
    for key, choices in (("cam_cmap", list(COLORMAPS)), ("cam_size", INPUT_SIZES), ("cam_batch", BATCH_SIZES),
                         ("cam_channels", CHANNEL_FRACTIONS)):
        keep_valid(key, choices, next(p.default for p in PARAMS if p.key == key))
    spec = MODELS[st.session_state["cam_model"]]
    kept = [layer for layer in st.session_state.get("cam_layers", []) if layer in spec.layers]
    st.session_state["cam_layers"] = kept or list(spec.layers)  # none left means all


def _on_model_change() -> None:
    st.session_state["cam_layers"] = list(MODELS[st.session_state["cam_model"]].layers)


def _use_default_model() -> None:
    st.session_state["cam_model"] = DEFAULT_MODEL
    _on_model_change()


def _model_controls() -> CamModel | None:
    st.selectbox("Network", list(MODELS), format_func=lambda n: MODELS[n].title, key="cam_model",
                 on_change=_on_model_change)
    spec = MODELS[st.session_state["cam_model"]]
    st.multiselect("Layers (shallow → deep)", list(spec.layers), format_func=spec.layer_label, key="cam_layers")
    st.multiselect(
        "Methods", list(METHODS), format_func=lambda m: METHODS[m].title + (" (slow)" if METHODS[m].slow else ""),
        key="cam_methods", help="\n".join(f"- **{info.title}**: {info.summary}" for info in METHODS.values()),
    )
    source = _weights_source(spec) if spec.weights_url is not None else None
    failures: dict = st.session_state.setdefault("cam_weights_failures", {})
    if source is not None and source[1] in failures:  # a file that failed once is not read again
        st.error(failures[source[1]])
        return None
    try:
        if source is None:
            model = _shared_model(spec.name)
        elif isinstance(source[0], bytes):
            model = _shared_model_from_file(spec.name, source[1], source[0])
        else:
            model = _shared_model_from_path(spec.name, source[1], str(source[0]))
    except WeightsUnavailableError as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        st.button("Use EfficientNet-Lite0 (bundled, works offline)", on_click=_use_default_model,
                  key="cam_use_default")
        st.caption("Or open *Use a local weights file* above and load the weights for this network.")
        return None
    except CamError as exc:
        if source is not None:
            failures[source[1]] = str(exc)
        st.error(str(exc))
        return None
    st.caption(f"Weights: {model.weights} · device: **{model.device}**")
    return model


def _weights_source(spec) -> tuple[bytes | Path, str] | None:
    """(uploaded bytes or a file in the server's weights folder, a key naming its content), or None for the
    standard weights. Float32 ResNets (45–98 MiB) are over the upload limit: they come from the folder."""
    folder = weights_folder()
    files = {path.name: path for path in local_weights_files(folder)}
    with st.expander("Use a local weights file instead of torchvision's", icon=":material/upload_file:"):
        if files:
            name = st.selectbox(f"A weights file on this server (in {folder.name}/)", ["(none)", *files],
                                key=f"cam_weights_path_{spec.name}")
            if name in files:
                stat = files[name].stat()
                return files[name], f"{files[name]}:{stat.st_size}:{stat.st_mtime_ns}"
        upload = st.file_uploader(
            f"State dict for {spec.title} (.pth / .pt), loaded as tensors only",
            type=["pth", "pt", "bin"], key=f"cam_weights_{spec.name}",
        )
        st.caption(f"Uploads are limited to {UPLOAD_LIMIT_MB} MB; float32 ResNet-18/34/50 files are 45/83/98 MiB. "
                   f"Put larger files in the server's `{folder}` folder (or set CAM_WEIGHTS_DIR) to pick them "
                   "here.")
    if upload is None:
        return None
    data = upload.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def _option_controls() -> None:
    with st.expander("Options: target class, guided backprop, smoothing, speed", icon=":material/tune:"):
        categories = imagenet_categories()  # every network here predicts the 1000 ImageNet classes
        st.selectbox(
            "Explain the class (type to search the 1000 ImageNet classes)", [-1, *range(len(categories))],
            format_func=lambda i: "top-1 prediction" if i < 0 else f"{categories[i]} (#{i})", key="cam_target",
            help="The top-5 predictions are also offered as buttons above the grid.",
        )
        st.toggle("Guided backprop", key="cam_guided", help="Sharp, class-insensitive input gradient.")
        st.toggle("Guided Grad-CAM rows", key="cam_guided_cam", help="Guided backprop × each method's map.")
        st.toggle("Augmentation smoothing", key="cam_aug",
                  help="Average over flips and brightness changes (6 passes: 6× slower).")
        st.toggle("Eigen smoothing", key="cam_eigen", help="Keep only the first principal component of each map.")
        st.toggle("Faithfulness score per cell", key="cam_faith",
                  help="Δp for every cell: one extra forward pass per cell, so it is off unless asked for.")
        st.select_slider("Input size (pixels)", INPUT_SIZES, key="cam_size",
                         help="Smaller inputs make every method faster, Score-CAM and Ablation-CAM most.")
        st.select_slider("Batch size (slow methods)", BATCH_SIZES, key="cam_batch")
        st.select_slider("Channels tried (slow methods)", CHANNEL_FRACTIONS, key="cam_channels",
                         format_func=lambda f: f"{f:.0%}",
                         help="Score-CAM / Ablation-CAM over only the most active channels: an approximation.")


def _request(methods: list[str]) -> ExplainRequest:
    state = st.session_state
    return ExplainRequest(
        layers=tuple(state["cam_layers"]), methods=tuple(methods),
        target=None if state["cam_target"] < 0 else state["cam_target"], aug_smooth=state["cam_aug"],
        eigen_smooth=state["cam_eigen"], guided=state["cam_guided"] or state["cam_guided_cam"],
        faithfulness=state["cam_faith"], input_size=state["cam_size"], batch_size=state["cam_batch"],
        channel_fraction=state["cam_channels"],
    )


@st.cache_resource(show_spinner=False, max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S)
def _shared_box(stage: str, key: str) -> dict:
    """An empty box per (stage, key) that every session sees: the first result is put in it, so 16 viewers of
    a bundled picture get one explanation. The box is made instantly (no st.* inside the cached function);
    first callers at the same moment share one job because ``run_heavy`` single-flights by key."""
    return {}


def _remembered(stage: str, key: Any, compute: Callable[[], Any], keep: int, shared: bool = True) -> Any:
    """This session's result of ``stage`` for ``key``, else every session's (``shared``), else computed once;
    the session holds its ``keep`` latest."""
    store: dict = st.session_state.setdefault(f"cam_memo_{stage}", {})
    if key not in store:
        box = _shared_box(stage, repr(key)) if shared else {}
        if "value" not in box:
            box["value"] = compute()
        while len(store) >= keep:
            store.pop(next(iter(store)))
        store[key] = box["value"]
    return store[key]


@st.cache_resource(show_spinner=False, max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S)
def _shown(kind: str, key: str, display_key: str, _explanation: Explanation, _display: DisplayOptions) -> tuple:
    """(rows, the same rows JPEG-encoded) of the grid ("maps") or its guided rows ("guided"), built and encoded
    once for every session showing this explanation with these display options (they were 45 % of the server's
    GIL time at 16 Grad-CAM sessions, encoded on every rerun of every session)."""
    rows = (method_rows if kind == "maps" else guided_rows)(_explanation, _display)
    return rows, encoded_rows(rows)


@st.cache_resource(show_spinner=False, max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S)
def _side_pictures(key: str, display_key: str, _explanation: Explanation, _display: DisplayOptions) -> EncodedRow:
    """The input and guided backprop pictures, encoded once (their captions as the row's notes)."""
    pictures = side_pictures(_explanation, _display)
    return encoded_rows([GridRow("side", [p for _, p in pictures], [c for c, _ in pictures])], SIDE_PICTURE_PX)[0]


forget_when_empty(_shared_box, _shown, _side_pictures)  # they serve the viewers of the moment


def _identity(model: CamModel, pixels: np.ndarray) -> tuple:
    return model.name, model.weights, id(model), hashlib.sha1(pixels.tobytes()).hexdigest()


def _gated_request(model: CamModel, identity: tuple) -> ExplainRequest | None:
    """The request to serve now: slow methods join only after their go (their cost is shown first)."""
    methods = list(st.session_state["cam_methods"])
    if not methods:
        st.info("Choose at least one method (sidebar).")
        return None
    request = _request(methods)
    slow = slow_methods(methods)
    pending = bool(slow) and (identity, request.maps_only) not in st.session_state.get("cam_memo_maps", {})
    if pending and not st.session_state.get("cam_run_slow") and not _slow_gate(model, slow, request):
        fast = [m for m in methods if m not in slow]
        return request.replace(methods=tuple(fast)) if fast else None
    return request


def _maps(model: CamModel, pixels: np.ndarray, identity: tuple, request: ExplainRequest) -> Explanation | None:
    """Predictions and maps (the kept forward pass serves a new target with one backward pass)."""
    fresh = (identity, request.maps_only) not in st.session_state.get("cam_memo_maps", {})
    bar = st.empty()
    try:
        def compute() -> Explanation:  # the forward pass only when the maps are in no session's memo yet
            forward_key = (identity, request.layers, request.input_size)
            forward = None if request.aug_smooth else _remembered("forward", forward_key, lambda: run_heavy(
                forward_pass, model, pixels, request, what="The forward pass", key=("forward", forward_key)),
                keep=1, shared=False)
            return run_heavy(
                explain_maps, model, pixels, request.maps_only, forward=forward, what="The explanation",
                key=("maps", identity, request.maps_only),
                progress=lambda fraction, text: bar.progress(min(1.0, fraction), text=text))

        explanation = _remembered("maps", (identity, request.maps_only), compute, keep=3)
    except (CamError, ImageInputError, WorkTimeout) as exc:
        st.error(str(exc))
        return None
    finally:
        bar.empty()
    slow = slow_methods(request.methods)
    if fresh and slow:  # later estimates follow what this machine really did
        st.session_state["cam_pass_timing"] = PassTiming.observed(
            explanation.timings["maps"], _slow_work(model, slow, request), request.input_size)
    return explanation


def _slow_work(model: CamModel, slow: list[str], request: ExplainRequest) -> float:
    return estimate_work(model, request.layers, slow, aug_smooth=request.aug_smooth,
                         channel_fraction=request.channel_fraction)


def _slow_gate(model: CamModel, slow: list[str], request: ExplainRequest) -> bool:
    """The cost of the slow methods and a go button; drawn only while their result is not there yet."""
    titles = [METHODS[m].title for m in slow]
    work = _slow_work(model, slow, request)
    timing = st.session_state.get("cam_pass_timing") or PassTiming(
        _seconds_per_image(model.name, model.weights, request.input_size, request.batch_size, model),
        request.input_size)
    seconds = timing.seconds(work, request.input_size)
    st.warning(slow_warning(titles, work, request.input_size, seconds, str(model.device)),
               icon=":material/hourglass_top:")
    return st.button(slow_button_label(titles, seconds), type="primary", key="cam_run_slow")


def _set_target(index: int) -> None:
    st.session_state["cam_target"] = index


def _predictions(explanation: Explanation) -> None:
    columns = st.columns(len(explanation.predictions))
    for column, prediction in zip(columns, explanation.predictions):
        column.button(
            prediction_label(prediction.label, prediction.probability), key=f"cam_top_{prediction.index}",
            on_click=_set_target, args=(prediction.index,), width="stretch",
            type="primary" if prediction.index == explanation.target.index else "secondary",
            help="Explain this class",
        )


@st.fragment
def _grid(model: CamModel, explanation: Explanation, identity: tuple, request: ExplainRequest) -> None:
    """The grid, then guided rows and faithfulness as they are ready; the display controls rerun only this."""
    state = st.session_state
    display = DisplayOptions(alpha=state["cam_alpha"], colormap=state["cam_cmap"], heatmap_only=state["cam_raw"],
                             shared_scale=state["cam_shared"], guided_backprop=state["cam_guided"],
                             guided_rows=state["cam_guided_cam"])
    labels = column_labels(explanation)
    for column, label in zip(st.columns(len(labels)), labels):
        column.markdown(f"**{label}**")
    key = (identity, request.maps_only)
    display_key = repr(display)
    rows, shown = _shown("maps", repr(key), display_key, explanation, display)
    _draw_rows(shown, len(labels))
    try:  # both run on the shared pool, once for every session asking
        if request.guided:
            explanation = _remembered("guided", key, lambda: run_heavy(
                with_guided_backprop, model, explanation, what="Guided backprop", key=("guided", key)), keep=3)
            guided, shown = _shown("guided", repr(key), display_key, explanation, display)
            _draw_rows(shown, len(labels))
            rows = rows + guided
        if request.faithfulness:
            explanation = _remembered("faith", (key, request.guided), lambda: run_heavy(
                with_faithfulness, model, explanation, request.batch_size, what="The faithfulness scores",
                key=("faith", key, request.guided)), keep=3)
    except WorkTimeout as exc:
        st.error(str(exc))
    st.caption(run_summary(explanation))
    table = faithfulness_table(explanation)
    if table:
        st.markdown(table)
        st.caption(best_cell_sentence(explanation))
    elif not request.faithfulness:
        st.caption(FAITHFULNESS_OFF)
    with st.expander("Display", icon=":material/palette:", expanded=True):
        first, second, third = st.columns(3)
        first.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="cam_alpha")
        second.selectbox("Colour map", list(COLORMAPS), key="cam_cmap")
        third.toggle("Heatmap only (no photo)", key="cam_raw")
        third.toggle("Shared colour scale across layers", key="cam_shared",
                     help="Per-layer scaling hides that early layers are weak; this keeps real magnitudes.")
    final_key = repr((key, request.guided, request.faithfulness))
    side = _side_pictures(final_key, display_key, explanation, display)
    for column, picture, caption in zip(st.columns(4), side.cells, side.notes or ()):
        column.image(picture, caption=caption)
    # Composed when the button is pressed: on every display change it was ~50 ms of the rerun.
    image_download(lambda: grid_image(explanation, rows), f"gradcam-{explanation.model}",
                   label="Download the grid (PNG)", key="cam_grid_png")
    publish(PARAMS)


@st.fragment
def _sanity_panel(model: CamModel, pixels: np.ndarray, identity: tuple, request: ExplainRequest) -> None:
    """Model randomisation on a copy of the network, run on request (its cost is shown first)."""
    with st.expander("Sanity check: do the maps depend on what the network learned?", icon=":material/science:"):
        passes = estimate_sanity_passes(request.layers, guided=True)
        seconds = PassTiming(_seconds_per_image(model.name, model.weights, request.input_size, 1, model),
                             request.input_size).seconds(passes * PASS_COST, request.input_size)
        st.markdown(SANITY_INTRO)
        check = _run_on_request(
            "sanity", (identity, request.maps_only), f"Randomise and compare ({passes} passes, ≈ {duration(seconds)})",
            sanity_check, model, pixels, request, what="The sanity check", start="Randomising…")
        if check is None:
            return
        for line in check.verdicts():
            st.markdown(f"- {line}")
        show_figure(sanity_figure(check), "gradcam-sanity-check", data=sanity_table(check), key="cam_sanity_fig")
        st.caption(f"Took {check.seconds:.1f} s on a copy of the network; the shared model was not touched.")


@st.fragment
def _compare_panel(pixels: np.ndarray, explanation: Explanation, request: ExplainRequest) -> None:
    """A second bundled network on the same picture: its maps at matched relative depth, predictions beside."""
    with st.expander("Compare with another network", icon=":material/compare:"):
        others = [name for name, spec in MODELS.items() if spec.weights_url is None and name != explanation.model]
        other = st.selectbox("Second network", others, format_func=lambda n: MODELS[n].title, key="cam_compare")
        if not st.toggle("Explain with it too", key="cam_compare_on"):  # off: costs nothing on every rerun
            return
        layers = matched_layers(explanation.model, explanation.layers, other)
        second_request = ExplainRequest(layers=layers, methods=explanation.methods[:1], target=explanation.target.index)
        key = (_identity(_shared_model(other), pixels), second_request)
        try:
            second = _remembered("compare", key, lambda: run_heavy(
                explain_maps, _shared_model(other), pixels, second_request, what="The second network's explanation",
                key=("compare", key)), 1)
        except (CamError, ImageInputError, WorkTimeout) as exc:
            st.error(str(exc))
            return
        display = DisplayOptions(alpha=st.session_state["cam_alpha"], colormap=st.session_state["cam_cmap"])
        for title, result in ((MODELS[explanation.model].title, explanation), (MODELS[other].title, second)):
            st.markdown(f"**{title}**: {predictions_line(result)}")
            _draw_rows(method_rows(result, display)[:1], len(result.layers))
        st.caption(f"Both explain *{explanation.target.label}*; stages matched by relative depth.")


@st.fragment
def _road_panel(model: CamModel, explanation: Explanation, identity: tuple, request: ExplainRequest) -> None:
    """ROAD per cell beside the RandomCAM and Sobel baselines, run on request (sparse solves are slow)."""
    with st.expander("ROAD: is each map better than chance?", icon=":material/rule:"):
        st.markdown(ROAD_INTRO)
        solves = estimate_road_imputations(len(explanation.maps))
        scores = _run_on_request(
            "road", (identity, request.maps_only), f"Score every cell with ROAD ({solves} imputations)", road_scores,
            model, explanation, what="ROAD scoring", start="Removing pixels and imputing them…")
        if scores is not None:
            st.markdown(road_table(explanation, scores))
            st.caption(road_summary(explanation, scores))


def _run_on_request(stage: str, key: Any, label: str, fn: Callable[..., Any], *args: Any, what: str,
                    start: str) -> Any:
    """This session's kept result of a check that runs when its button is pressed (the cost is in the label),
    on the heavy-work pool with a progress bar and its deadline; None until asked, or after a shown error."""
    store: dict = st.session_state.setdefault(f"cam_memo_{stage}", {})
    if key not in store:
        if not st.button(label, key=f"cam_run_{stage}"):
            return None
        bar = st.progress(0.0, text=start)
        try:
            result = run_heavy(fn, *args, what=what, key=(stage, key), deadline_s=budget.HEAVY_WORK_DEADLINE_S,
                               progress=lambda fraction, text: bar.progress(min(1.0, fraction), text=text))
        except (CamError, ImageInputError, WorkTimeout) as exc:
            st.error(f"{exc} {FEWER_PASSES_HINT}")
            return None
        finally:
            bar.empty()
        store.clear()
        store[key] = result
    return store[key]


def _draw_rows(rows: list, columns: int) -> None:
    for row in rows:
        st.markdown(f"**{row.label}**")
        for column, picture, caption in zip(st.columns(columns), row.cells, row.notes):
            column.image(picture, caption=caption)


INFO = PageInfo(
    title="Grad-CAM per layer",
    icon=":material/layers:",
    url_path="gradcam",
    purpose="What every stage of a CNN looks at: Grad-CAM and eight other CAM methods across all layers at once, "
    "with guided backprop, faithfulness scores and a shared colour scale.",
    offline="everything with the bundled EfficientNet-Lite0; ResNets need torchvision's weights cached or online.",
    render=render,
)
