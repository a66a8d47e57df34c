"""Spatial transformer, live: train a CNN and the same CNN behind a spatial transformer on distorted digits,
watch each epoch, stop at any time, and look inside what the transformer learned.

The page reads widgets, calls ``services.stn`` and draws. Training runs in a fragment that trains one epoch
per run and asks for the next run itself (``run_every``), so a stop click is seen between two epochs and only
the training panel redraws. A finished pair is shared by every session through ``st.cache_resource`` keyed by
every setting; a stopped pair stays in its own session.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.figure_export import show_figure
from components.heavy import TRAINING_SLOT_COUNT, training_slot
from components.page_header import page_header
from components.page_links import link_to_page
from components.url_state import Param, keep_valid, publish, restore
from services import budget
from services.stn import (
    DISTORTIONS,
    DigitSettings,
    DistortedDigits,
    StnAnalysis,
    StnError,
    StnSettings,
    TrainedPair,
    Training,
    analyse,
    make_digits,
    theta_view,
    torch_threads,
)
from services.stn.figures import (
    accuracy_gain,
    angle_figure,
    angle_table,
    before_after_figure,
    confusion_figure,
    epoch_time_ratio,
    epochs_figure,
    history_table,
    playground_query,
    prediction_captions,
    sample_grid_figure,
    sample_view,
    theta_grid_figure,
    theta_table,
    training_figure,
    training_seconds,
    undo_caption,
)
from views.catalog import PageInfo

#: Training uses one intra-op thread: the server's two cores are shared with every other viewer, and two
#: threads on a busy machine were many times slower than one (bench/bench_stn.py measures both).
TRAINING_THREADS = 1
#: Seconds between the end of one training epoch and the request for the next (the fragment's timer).
EPOCH_TICK = 0.5
SAMPLE_COUNT = 16
#: "A clear negative relation": r below this, and at least a tenth of every applied degree undone.
CLEAR_CORRELATION, CLEAR_SLOPE = -0.5, -0.1
BATCH_SIZES = [16, 32, 64, 128, 256]
LEARNING_RATES = [0.0005, 0.001, 0.002, 0.005, 0.01]
RUN_KEY, PARTIAL_KEY, STOP_KEY = "stn_run", "stn_partial", "stn_stop_requested"
#: The scale slider reaches past the valid 0.4-1.6 so that an extreme range gets its message from the service.
SCALE_SLIDER = (0.2, 2.0)

PARAMS = [
    Param("stn_distortion", "RTS", choices=list(DISTORTIONS), url="dist"),
    Param("stn_angle", 60, low=0, high=180, url="angle"),
    Param("stn_scale", (0.7, 1.2), url="scale"),
    Param("stn_shift", 0.2, low=0.0, high=0.8, url="shift"),
    Param("stn_clutter", 0, low=0, high=budget.STN_MAX_CLUTTER, url="clutter"),
    Param("stn_copies", 2, low=1, high=budget.STN_MAX_COPIES, url="copies"),
    Param("stn_test", 0.2, low=0.0, high=0.9, url="test"),
    Param("stn_seed", 0, low=0, high=9999, url="seed"),
    Param("stn_epochs", 8, low=0, high=budget.STN_MAX_EPOCHS, url="epochs"),
    Param("stn_batch", 64, choices=BATCH_SIZES, url="batch"),
    Param("stn_lr", 0.002, choices=LEARNING_RATES, url="lr"),
    Param("stn_digit", 0, low=0, high=1796, url="digit"),
]

PARAMS_BY_KEY = {param.key: param for param in PARAMS}

HOW_IT_WORKS = r"""
**The transformer.** A *localisation net* (two small convolutions and two dense layers) looks at the input and
outputs six numbers, the affine $\theta$ (2 × 3). The *grid generator* maps a regular grid over the output
through $\theta$, $(x_s, y_s) = \theta\,(x_t, y_t, 1)$, and the *sampler* reads the input there with bilinear
interpolation: exactly the affine playground's pipeline, in normalised coordinates with $-1$ and $1$ at the
first and last pixel centres (`affine_grid` / `grid_sample` with `align_corners=True`). Bilinear sampling is
differentiable in $\theta$, so the classification loss alone teaches the localisation net where to look.

**The comparison.** Both models use the same CNN (a strided 5 × 5 convolution, a 5 × 5 convolution, max-pooling,
two dense layers). They start from the same weights, and the transformer starts at $\theta$ = identity, so at
epoch 0 the two compute the same function; every difference is learned. Both see the same batches with the same
optimiser (Adam) and learning rate.

**The data.** scikit-learn's 1,797 bundled 8 × 8 digits, upsampled to 28 × 28 and centred on a 42 × 42 canvas,
then rotated (R) or rotated, scaled and shifted (RTS) by the project's numpy sampler, optionally with clutter
(fragments of other digits). The split is by original digit, so no test digit is a copy of a training one.
A distortion is the sampler's $\theta_d = R(\alpha)\,S(1/s)\,T(-t)$: the digit turns counter-clockwise by
$\alpha$ on screen. To undo it the transformer must output about $\theta_d^{-1}$, whose rotation is $-\alpha$:
a working transformer shows a clear *negative* relation between applied and learned angle (up to a constant
turn it may prefer for every digit).

**Checked.** The project's numpy sampler (`services.affine.warp`) is run again at every learned $\theta$ and
must reproduce the transformer's output to 1e-4.
"""


# ---------------------------------------------------------------- cached seam (services do the work)


@st.cache_resource(max_entries=4, show_spinner="Distorting the digits…")
def _digits(settings: DigitSettings) -> DistortedDigits:
    """Shared, read-only: every session with the same digit settings gets the same arrays."""
    return make_digits(settings)


@st.cache_resource(max_entries=8, show_spinner=False)
def _finished(settings: StnSettings) -> dict[str, TrainedPair]:
    """The finished pair for these settings, shared by every session: ``{"pair": ...}`` once someone trained it."""
    return {}


@st.cache_resource(max_entries=8, show_spinner="Looking inside the trained pair…")
def _analysis(run_id: str, _pair: TrainedPair, _digits: DistortedDigits) -> StnAnalysis:
    """Keyed by the pair's ``run_id``: one analysis per trained state."""
    with torch_threads(TRAINING_THREADS):
        return analyse(_pair, _digits)


# ---------------------------------------------------------------------------------------------- page


def render() -> None:
    page_header(
        INFO.title,
        "The affine playground applies a θ you choose. Here a network *learns* θ: a spatial transformer in front "
        "of a small CNN, trained on rotated, shifted and scaled digits from the classification loss alone, next to "
        "the same CNN without it. Train both, watch every epoch, stop whenever you like, then look inside.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    link_to_page("affine", "Part I: the affine playground (θ, the sampling grid, bilinear interpolation)")
    restore(PARAMS)
    _keep_scale_range_valid()
    settings, train_slot = _settings_controls()
    try:
        settings = settings.validate()
        digits = _digits(settings.digits)
    except StnError as exc:
        st.error(str(exc))
        publish(PARAMS)
        return
    _train_button(train_slot, settings, digits)
    samples, training = st.columns([2, 3], gap="large")
    with samples:
        _sample_grid(digits)
    with training:
        st.fragment(_training_panel, run_every=EPOCH_TICK if _live_run(settings) else None)(settings, digits)
    pair = _current_pair(settings)
    if pair is not None and _live_run(settings) is None:
        _looking_inside(pair, digits)
    publish(PARAMS)


def _keep_scale_range_valid() -> None:
    """A range slider needs two values inside its bounds; a hand-edited link may hold anything else."""
    value = st.session_state.get("stn_scale")
    low, high = SCALE_SLIDER
    if isinstance(value, (list, tuple)) and len(value) == 2 and low <= value[0] <= value[1] <= high:
        return
    st.warning(f"The scale range in the link ({value}) is not two sizes between {low} and {high}; using the default.")
    st.session_state["stn_scale"] = PARAMS_BY_KEY["stn_scale"].default


def _settings_controls() -> tuple[StnSettings, DeltaGenerator]:
    """The settings row; also returns the empty slot for the train button under the training settings."""
    with st.container(border=True):
        distortion, ranges, data, training = st.columns(4, gap="medium")
        distortion.markdown("**Distortion**")
        distortion.radio("Distortion", list(DISTORTIONS), format_func=lambda d: f"{d}: {DISTORTIONS[d]}",
                         key="stn_distortion", label_visibility="collapsed")
        distortion.slider("Rotation range ± (degrees)", 0, 180, step=5, key="stn_angle")
        rts = st.session_state["stn_distortion"] == "RTS"
        ranges.slider("Scale range (RTS)", *SCALE_SLIDER, step=0.05, key="stn_scale", disabled=not rts,
                      help="The digit's size factor is drawn uniformly from this range.")
        ranges.slider("Shift range ± (RTS; 1 = half the canvas)", 0.0, 0.8, step=0.05, key="stn_shift",
                      disabled=not rts)
        ranges.slider("Clutter fragments per image", 0, budget.STN_MAX_CLUTTER, key="stn_clutter",
                      help="Pieces of other digits scattered over the canvas.")
        data.slider("Distorted copies of each training digit", 1, budget.STN_MAX_COPIES, key="stn_copies")
        data.slider("Test fraction (split by original digit)", 0.0, 0.9, step=0.05, key="stn_test")
        data.number_input("Seed", 0, 9999, step=1, key="stn_seed")
        training.number_input("Epochs", 0, budget.STN_MAX_EPOCHS, step=1, key="stn_epochs",
                              help="One epoch trains both models once over every training image.")
        training.select_slider("Batch size", BATCH_SIZES, key="stn_batch")
        training.select_slider("Learning rate (Adam, both models)", LEARNING_RATES, key="stn_lr")
        train_slot = training.empty()
    low, high = st.session_state["stn_scale"]
    digits = DigitSettings(
        distortion=st.session_state["stn_distortion"],
        max_angle=float(st.session_state["stn_angle"]),
        min_scale=float(low),
        max_scale=float(high),
        max_shift=float(st.session_state["stn_shift"]),
        clutter=int(st.session_state["stn_clutter"]),
        copies=int(st.session_state["stn_copies"]),
        test_fraction=float(st.session_state["stn_test"]),
        seed=int(st.session_state["stn_seed"]),
    )
    settings = StnSettings(digits=digits, epochs=int(st.session_state["stn_epochs"]),
                           batch_size=int(st.session_state["stn_batch"]),
                           learning_rate=float(st.session_state["stn_lr"]))
    return settings, train_slot


def _train_button(slot: DeltaGenerator, settings: StnSettings, digits: DistortedDigits) -> None:
    """Start a run (a full rerun, so the training fragment below is declared with its timer)."""
    if _live_run(settings) is not None:
        slot.caption("Training… progress and the stop button are under **Training** below.")
        return
    fresh = _current_pair(settings) is None
    if slot.button("Train both models" if fresh else "Train again", key="stn_train",
                   type="primary" if fresh else "secondary", icon=":material/play_arrow:", width="stretch",
                   help="Trains a new CNN / ST-CNN pair from scratch with these settings."):
        st.session_state.pop(PARTIAL_KEY, None)
        st.session_state.pop(STOP_KEY, None)
        st.session_state[RUN_KEY] = Training(settings, digits)
        slot.caption("Training… progress and the stop button are under **Training** below.")


def _sample_grid(digits: DistortedDigits) -> None:
    train = digits.train
    rts = digits.settings.distortion == "RTS"
    sample = sample_view(train, SAMPLE_COUNT, with_scale=rts)
    side = digits.settings.canvas
    st.subheader("The data")
    st.caption(f"{len(train):,} training and {len(digits.test):,} test images, {side} × {side}. A sample before "
               "training; each caption gives the digit, the rotation applied (positive turns it counter-clockwise)"
               + (" and its size factor." if rts else "."))
    show_figure(sample_grid_figure(train.images[sample.indices], sample.captions, columns=4), "stn_samples",
                data=sample.table, key="stn_samples_fig")


# ------------------------------------------------------------------------------------------ training


def _live_run(settings: StnSettings) -> Training | None:
    run = st.session_state.get(RUN_KEY)
    return run if isinstance(run, Training) and run.settings == settings else None


def _current_pair(settings: StnSettings) -> TrainedPair | None:
    """The finished shared pair for these settings, else this session's stopped one."""
    shared = _finished(settings).get("pair")
    if shared is not None:
        return shared
    partial = st.session_state.get(PARTIAL_KEY)
    return partial if isinstance(partial, TrainedPair) and partial.settings == settings else None


def _request_stop() -> None:
    st.session_state[STOP_KEY] = True


def _keep_partial(run: Training) -> None:
    """Stop ``run``: its models as after the last finished epoch stay in this session."""
    st.session_state[PARTIAL_KEY] = run.result(stopped=True)
    st.session_state.pop(RUN_KEY, None)
    st.session_state.pop(STOP_KEY, None)


def _training_panel(settings: StnSettings, digits: DistortedDigits) -> None:
    st.subheader("Training")
    run = st.session_state.get(RUN_KEY)
    if isinstance(run, Training) and run.settings != settings:
        _keep_partial(run)  # the settings changed mid-run: that run stops, keeping what it learned
        st.info("The settings changed while training: that run stopped and kept its partial model.")
        run = None
    if run is not None:
        _train_one_epoch(run)
        return
    pair = _current_pair(settings)
    if pair is None:
        st.info(f"Not trained yet with these settings: {settings.epochs} epochs of {len(digits.train):,} images for "
                "each model (press **Train both models** above). Progress is drawn after every epoch, and you can "
                "stop at any time.")
        return
    if pair.stopped:
        st.warning(f"Stopped after {pair.epochs_done} of {settings.epochs} epochs. The models below are the partial "
                   "ones, as they were after the last finished epoch (kept in your session only).")
    else:
        st.success(f"Trained: {pair.epochs_done} epochs ({training_seconds(pair.history):.0f} s of training). "
                   "This pair is cached on the server, so anyone opening these settings sees it at once.")
    _history(pair.history, settings.epochs)


def _train_one_epoch(run: Training) -> None:
    if st.session_state.get(STOP_KEY):
        _keep_partial(run)
        st.rerun()
    done = len(run.history)
    st.button("Stop training (keeps what was learned)", key="stn_stop", on_click=_request_stop,
              icon=":material/stop:", help="Takes effect at the end of the epoch being trained.")
    status = st.empty()
    chart = st.empty()
    with chart.container():
        _history(run.history, run.settings.epochs)
    status.info(f"Training epoch {done + 1} of {run.settings.epochs} (both models)…", icon=":material/hourglass_top:")
    with training_slot() as free:
        if not free:
            status.info("Waiting for a free training slot: other viewers are training on this server (it trains "
                        f"at most {TRAINING_SLOT_COUNT} at a time). This run goes on by itself when one ends.",
                        icon=":material/hourglass_top:")
            return
        with torch_threads(TRAINING_THREADS):
            report = run.run_epoch()
    if run.done:
        _finished(run.settings)["pair"] = run.result()
        st.session_state.pop(RUN_KEY, None)
        st.rerun()
    status.info(f"Epoch {report.epoch} of {run.settings.epochs} done: test accuracy CNN "
                f"{report.cnn_test_accuracy:.1%}, ST-CNN {report.stn_test_accuracy:.1%}. Next epoch starting…",
                icon=":material/hourglass_top:")
    with chart.container():
        _history(run.history, run.settings.epochs)


def _history(history, epochs: int) -> None:
    if not history:
        return
    last = history[-1]
    columns = st.columns(4)
    columns[0].metric("Epochs", f"{last.epoch} / {epochs}")
    columns[1].metric("CNN test", f"{last.cnn_test_accuracy:.1%}")
    columns[2].metric("ST-CNN test", f"{last.stn_test_accuracy:.1%}",
                      delta=f"{accuracy_gain(last):+.1%}",
                      help="Test accuracy after the last epoch; the delta is against the plain CNN.")
    columns[3].metric("epoch time ST / CNN", f"{epoch_time_ratio(history):.2f}×")
    show_figure(training_figure(history, epochs), "stn_training", data=history_table(history),
                key=f"stn_training_{len(history)}")


# -------------------------------------------------------------------------------------- looking inside


def _looking_inside(pair: TrainedPair, digits: DistortedDigits) -> None:
    st.header("Looking inside")
    if pair.stopped:
        st.caption(f"The partial pair, after {pair.epochs_done} epochs.")
    analysis = _analysis(pair.run_id, pair, digits)
    test = digits.test
    fixed = pair.fixed_indices
    captions = prediction_captions(analysis, fixed)
    st.subheader("Distorted test digits → the transformer's output")
    st.caption("Top: test digits as both models see them. Bottom: what the transformer hands to its CNN. Below each: "
               "the true digit and each model's answer.")
    show_figure(before_after_figure(test.images[fixed], analysis.outputs[fixed], captions), "stn_before_after",
                key="stn_before_after_fig")
    _theta_panel(pair, digits, analysis)
    st.subheader("The output over training")
    st.caption("The same test digits after each saved epoch (0 = before training, θ = identity): drag the slider "
               "or press ▶.")
    show_figure(epochs_figure(test.images[fixed], pair.snapshots), "stn_epochs", key="stn_epochs_fig")
    _angle_panel(analysis)
    st.subheader("Confusion matrices (test set)")
    show_figure(confusion_figure(analysis.cnn_confusion, analysis.stn_confusion, analysis.cnn_accuracy,
                                 analysis.stn_accuracy), "stn_confusion", key="stn_confusion_fig")
    _sampler_panel(analysis)


@st.fragment
def _theta_panel(pair: TrainedPair, digits: DistortedDigits, analysis: StnAnalysis) -> None:
    st.subheader("One digit's learned θ")
    test = digits.test
    keep_valid("stn_digit", range(len(test)), 0)
    index = st.slider("Test digit", 0, len(test) - 1, key="stn_digit")
    theta = analysis.thetas[index]
    view = theta_view(theta, *test.images[index].shape)
    parts = view.decomposition
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(f"Digit **{test.labels[index]}**, distorted by {test.angles[index]:+.1f}° "
                    f"(scale ×{test.scales[index]:.2f}, shift ({test.shifts[index, 0]:+.2f}, "
                    f"{test.shifts[index, 1]:+.2f})). CNN says **{analysis.cnn_predictions[index]}**, "
                    f"ST-CNN says **{analysis.stn_predictions[index]}**.")
        st.latex(rf"\theta = {view.latex}")
        columns = st.columns(2)
        columns[0].metric("rotation", f"{parts.rotation_degrees:+.1f}°",
                          help="From services.affine.decompose (θ = T R S H).")
        columns[1].metric("scale (sx, sy)", f"{parts.scale[0]:.2f}, {parts.scale[1]:.2f}")
        columns[0].metric("shear", f"{parts.shear:+.3f}")
        columns[1].metric("translation", f"{parts.translation[0]:+.2f}, {parts.translation[1]:+.2f}")
        st.caption(undo_caption(test, index))
        # relative link: works under any base path
        st.markdown(f"[Open this θ in the affine playground](affine?{playground_query(theta)}) (typed-matrix mode): "
                    "the same warp, by the same sampler.")
    with right:
        show_figure(theta_grid_figure(test.images[index], analysis.outputs[index], view), "stn_theta_grid",
                    data=theta_table(theta), key="stn_theta_grid_fig")
    publish(PARAMS)  # this fragment reruns alone when the digit changes: keep the link in step


def _angle_panel(analysis: StnAnalysis) -> None:
    st.subheader("Does it undo the rotation?")
    relation = analysis.angles
    if relation.correlation is None:
        st.info("The applied angles (or the learned ones) do not vary, so there is no relation to show: widen the "
                "rotation range.")
        return
    columns = st.columns(3)
    columns[0].metric("correlation r", f"{relation.correlation:+.2f}",
                      help="Pearson correlation of applied against learned rotation over the test set.")
    columns[1].metric("slope", f"{relation.slope:+.2f}", help="−1: the transformer undoes every degree.")
    columns[2].metric("constant turn", f"{relation.intercept:+.1f}°", help="The fit's intercept.")
    clear = relation.slope is not None and relation.correlation < CLEAR_CORRELATION and relation.slope < CLEAR_SLOPE
    verdict = ("a clear negative relation: the transformer turns digits back" if clear
               else "no clear negative relation yet: train longer, or widen the rotation range")
    st.caption(f"Each point is a test digit. {verdict.capitalize()}.")
    show_figure(angle_figure(analysis), "stn_angles", data=angle_table(analysis), key="stn_angles_fig")


def _sampler_panel(analysis: StnAnalysis) -> None:
    st.subheader("One convention everywhere")
    check = analysis.sampler
    text = (f"The project's numpy sampler (`services.affine.warp`), run at each learned θ, reproduces the "
            f"transformer's `grid_sample` output for all {check.images:,} test digits: largest difference "
            f"{check.max_difference:.1e} (tolerance {check.tolerance:g}).")
    if check.agrees:
        st.success(text, icon=":material/verified:")
    else:
        st.error(text.replace("reproduces", "does NOT reproduce"))


INFO = PageInfo(
    title="Spatial transformer, live",
    icon=":material/model_training:",
    url_path="stn",
    purpose="Train a CNN with and without a spatial transformer on distorted digits and watch it learn to undo "
    "the distortion.",
    offline="Everything: scikit-learn's bundled digits, trained on this server's CPU.",
    render=render,
)
