"""KNN decision boundaries: every K live, the cross-validated error curve, and the neighbours behind a vote.

The page reads widgets, calls ``services.knn`` and draws. The expensive step, one neighbour query of the
whole grid at the largest K in reach, is cached as a resource keyed on ``KnnSettings``, so moving the K
slider only reads another row of running votes, and it reruns only the board (a fragment), not the controls.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.figure_export import figure_downloads, plotly_config, show_figure
from components.heavy import run_heavy
from components.page_header import page_header
from components.url_state import Param, keep_valid, publish, restore
from services import knn
from services.knn import figures as fig
from services.workers import WorkTimeout
from views.catalog import PageInfo

RESOLUTIONS = [100, 150, 200, 300]
FOLD_CHOICES = [3, 5, 10]
#: Side-by-side tree/forest panels and the animation use a coarser grid: three (or 25) figures at once.
COMPARE_RESOLUTION, SWEEP_RESOLUTION = 120, 100
COMPARE_HEIGHT = 360
#: The from-scratch check runs one point at a time: every test point plus a lattice of this many a side.
SCRATCH_LATTICE = 30
TABS = ["Cross-validation", "Learning curve", "K sweep", "Tree & forest", "From scratch"]

PARAMS = [  # session keys carry the page prefix; the URL keeps the names links were shared with
    Param("knn_data", "iris", choices=list(fig.DATASET_LABELS), url="data"),
    Param("knn_view", "features", choices=list(knn.VIEWS), url="view"),
    Param("knn_fx", knn.DEFAULT_FEATURES["iris"][0], url="fx"),
    Param("knn_fy", knn.DEFAULT_FEATURES["iris"][1], url="fy"),
    Param("knn_n", 300, low=20, high=5000, url="n"),
    Param("knn_noise", 0.2, low=0.0, high=1.0, url="noise"),
    Param("knn_classes", 3, low=2, high=5, url="classes"),
    Param("knn_dseed", 0, low=0, high=99_999, url="dseed"),
    Param("knn_test", 0.33, low=0.1, high=0.5, url="test"),
    Param("knn_seed", 42, low=0, high=99_999, url="seed"),
    Param("knn_scale", "none", choices=list(knn.SCALINGS), url="scale"),
    Param("knn_k", 7, low=1, high=20_000, url="k"),
    Param("knn_weights", "uniform", choices=list(knn.WEIGHTS), url="weights"),
    Param("knn_metric", "euclidean", choices=list(knn.METRICS), url="metric"),
    Param("knn_p", 3.0, low=1.0, high=10.0, url="p"),
    Param("knn_res", 200, choices=RESOLUTIONS, url="res"),
    Param("knn_folds", 10, choices=FOLD_CHOICES, url="folds"),
    Param("knn_cvk", (1, 49), url="cvk"),
]



# ---------------------------------------------------------------- cached seam (services do the work)


@st.cache_data(max_entries=32, show_spinner=False)
def _builtin_dataset(spec: knn.DatasetSpec) -> knn.Dataset:
    return knn.load_dataset(spec)


@st.cache_data(max_entries=8, show_spinner=False)
def _csv_frame(raw: bytes, filename: str) -> pd.DataFrame:
    return knn.read_csv_table(raw, filename)


@st.cache_data(max_entries=16, show_spinner=False)
def _csv_dataset(raw: bytes, filename: str, x: str, y: str, label: str, drop_missing: bool) -> knn.Dataset:
    return knn.dataset_from_frame(_csv_frame(raw, filename), x, y, label, drop_missing=drop_missing, name=filename)


@st.cache_data(max_entries=32, show_spinner=False)
def _split(dataset: knn.Dataset, settings: knn.KnnSettings) -> knn.Split:
    return knn.make_split(dataset, settings)


@st.cache_data(max_entries=16, show_spinner=False)
def _plan(split: knn.Split, k: int, resolution: int) -> knn.BoundaryPlan:
    return knn.plan_boundary(split, k, resolution)


@st.cache_resource(max_entries=2, show_spinner="Finding the nearest neighbours of every grid cell…")
def _grid_votes(split: knn.Split, settings: knn.KnnSettings, resolution: int, depth: int):
    return run_heavy(knn.grid_votes, split, settings, resolution, depth, what="The neighbour query of the grid")


@st.cache_resource(max_entries=3, show_spinner=False)
def _split_predictors(split: knn.Split, settings: knn.KnnSettings, depth: int):
    return run_heavy(knn.split_predictors, split, settings, depth, what="Scoring the training and test points")


@st.cache_data(max_entries=16, show_spinner="Cross-validating every K…")
def _cv_curve(split: knn.Split, settings: knn.KnnSettings, ks: tuple[int, ...], folds: int) -> knn.CvCurve:
    return run_heavy(knn.cv_curve, split, settings, ks, folds, what="The cross-validation curve")


@st.cache_data(max_entries=16, show_spinner=False)
def _learning_curve(split: knn.Split, settings: knn.KnnSettings, ks: tuple[int, ...]) -> knn.LearningCurve:
    return run_heavy(knn.split_learning_curve, split, settings, ks, what="The learning curve")


@st.cache_data(max_entries=8, show_spinner="Fitting a decision tree and a random forest…")
def _tree_and_forest(split: knn.Split, max_depth: int | None, n_trees: int, seed: int):
    grid = knn.make_grid(split, COMPARE_RESOLUTION)
    return grid, run_heavy(knn.tree_and_forest, split, grid, max_depth=max_depth, n_trees=n_trees, seed=seed,
                           what="Fitting the tree and the forest")


@st.cache_data(max_entries=8, show_spinner="Rendering one frame per K…")
def _sweep(split: knn.Split, settings: knn.KnnSettings, ks: tuple[int, ...]) -> go.Figure:
    frames = run_heavy(knn.sweep_frames, split, settings, ks, SWEEP_RESOLUTION, what="The K-sweep animation")
    return fig.sweep_figure(*frames, split)


@st.cache_data(max_entries=8, show_spinner="Running the from-scratch KNN one point at a time…")
def _scratch(split: knn.Split, settings: knn.KnnSettings, k: int) -> knn.ScratchComparison:
    return run_heavy(knn.scratch_check, split, settings, k, SCRATCH_LATTICE, what="The from-scratch check")


def _error(error: knn.KnnError) -> None:
    st.error(fig.escape_markdown(str(error)))


# ---------------------------------------------------------------- controls


def _data_controls() -> tuple[knn.Dataset | None, str]:
    """The dataset the controls describe (None after showing why it cannot be built) and a name for it."""
    source = st.selectbox("Dataset", list(fig.DATASET_LABELS), key="knn_data", format_func=fig.DATASET_LABELS.get)
    if source == "csv":
        return _csv_controls()
    if source in knn.TABLE_LOADERS:
        view = st.radio("View", list(knn.VIEWS), key="knn_view", horizontal=True,
                        format_func=fig.VIEW_LABELS.get)
        if view == "pca":
            spec = knn.DatasetSpec(source, view="pca")
        else:
            names = knn.table_features(source)
            for key, default in zip(("knn_fx", "knn_fy"), knn.DEFAULT_FEATURES[source]):
                keep_valid(key, names, default)
            x_name = st.selectbox("x-axis feature", names, key="knn_fx")
            y_name = st.selectbox("y-axis feature", names, key="knn_fy")
            spec = knn.DatasetSpec(source, view="features", features=(x_name, y_name))
    else:
        n_samples = st.slider("Samples", 20, 5000, step=10, key="knn_n")
        noise = st.slider("Noise", 0.0, 1.0, step=0.05, key="knn_noise", help="Standard deviation of the jitter.")
        n_classes = st.slider("Classes", 2, 5, key="knn_classes") if source in ("blobs", "spiral") else 2
        data_seed = st.number_input("Data seed", 0, 99_999, step=1, key="knn_dseed")
        spec = knn.DatasetSpec(source, n_samples=n_samples, noise=noise, n_classes=n_classes, seed=int(data_seed))
    try:
        dataset = _builtin_dataset(spec)
    except knn.KnnError as error:
        _error(error)
        return None, repr(spec)
    if dataset.note:
        st.caption(dataset.note)
    return dataset, repr(spec)


def _csv_controls() -> tuple[knn.Dataset | None, str]:
    upload = st.file_uploader(
        "CSV file: two numeric feature columns and a label column", type=["csv", "tsv", "txt"], key="knn_csv_file"
    )
    if upload is None:
        st.info("Upload a CSV file (comma, semicolon or tab separated, with a header row).")
        return None, "csv"
    raw = upload.getvalue()
    try:
        frame = _csv_frame(raw, upload.name)
    except knn.CsvError as error:
        _error(error)
        return None, f"csv:{upload.file_id}"
    columns = list(frame.columns)
    numeric = knn.numeric_columns(frame)
    text_columns = [column for column in columns if column not in numeric]
    keep_valid("knn_csv_x", columns, numeric[0] if numeric else columns[0])
    keep_valid("knn_csv_y", columns, numeric[1] if len(numeric) > 1 else columns[1])
    keep_valid("knn_csv_label", columns, text_columns[-1] if text_columns else columns[-1])
    x_name = st.selectbox("x-axis feature column", columns, key="knn_csv_x")
    y_name = st.selectbox("y-axis feature column", columns, key="knn_csv_y")
    label = st.selectbox("Label column", columns, key="knn_csv_label")
    drop_missing = st.checkbox("Drop rows with missing values", key="knn_csv_dropna")
    name = f"csv:{upload.file_id}:{x_name}:{y_name}:{label}:{drop_missing}"
    try:
        dataset = _csv_dataset(raw, upload.name, x_name, y_name, label, drop_missing)
    except knn.KnnError as error:
        _error(error)
        return None, name
    if dataset.note:
        st.caption(dataset.note)
    return dataset, name


def _reset_for_new_data(identity: str) -> None:
    """Hand-added points and the explained location belong to one dataset: forget them when it changes."""
    if st.session_state.get("knn_identity") != identity:
        st.session_state["knn_identity"] = identity
        st.session_state["knn_added"] = []
        st.session_state.pop("knn_ex_x", None)
        st.session_state.pop("knn_ex_y", None)


def _vote_controls() -> tuple[knn.KnnSettings, int]:
    st.subheader("Split and scaling")
    test_fraction = st.slider("Test fraction", 0.1, 0.5, step=0.01, key="knn_test")
    seed = int(st.number_input("Split seed", 0, 99_999, step=1, key="knn_seed"))
    scaling = st.radio("Scaling", list(knn.SCALINGS), key="knn_scale", format_func=fig.SCALING_LABELS.get,
                       horizontal=True)
    st.subheader("Vote")
    weights = st.radio("Weights", list(knn.WEIGHTS), key="knn_weights", horizontal=True,
                       format_func=fig.WEIGHT_LABELS.get)
    metric_name = st.selectbox("Metric", list(knn.METRICS), key="knn_metric")
    p = float(st.slider("Minkowski p", 1.0, 10.0, step=0.5, key="knn_p")) if metric_name == "minkowski" else 2.0
    st.subheader("Display")
    resolution = st.select_slider("Grid resolution (cells a side)", RESOLUTIONS, key="knn_res")
    st.radio("Clicking the plot will", list(fig.CLICK_ACTIONS), key="knn_click", format_func=fig.CLICK_ACTIONS.get)
    settings = knn.KnnSettings(float(test_fraction), seed, scaling, weights, knn.Metric(metric_name, p))
    return settings, int(resolution)


def _k_slider(split: knn.Split | None) -> int:
    """The K slider, 1..n_train (or the budget's smaller top for a large dataset). K is written back when the
    range changes, so a new slider range (another dataset, an added point) keeps it; a K beyond the range is
    clamped, with the service's message."""
    wanted = int(st.session_state.get("knn_k", st.session_state.get("knn_k_kept", 7)))
    if split is None:
        st.session_state["knn_k"] = wanted
        return int(st.slider("K (neighbours)", 1, max(2, wanted), key="knn_k", disabled=True))
    top = knn.affordable_max_k(split)
    k, note = knn.clamp_k(wanted, split.n_train, top)
    if note:
        st.warning(note)
    if k != wanted or st.session_state.get("knn_k_top") != top or "knn_k" not in st.session_state:
        # Only when the range or the value changes: a value written every run also overrides a key press
        # the browser sent while this run was under way (quick presses were lost).
        st.session_state["knn_k"] = k
    st.session_state["knn_k_top"] = top
    helptext = "Any K from 1 to the training points." if top == split.n_train else (
        f"Any K from 1 to {top}: a vote over more of the {split.n_train:,} training points would exceed the "
        "request budget.")
    k = int(st.slider("K (neighbours)", 1, max(2, top), key="knn_k", help=helptext))
    st.session_state["knn_k_kept"] = k
    return k


def _on_plot_select() -> None:
    """A click on the decision plot: move the explained location there, and add a point if asked to."""
    points = (st.session_state.get("knn_plot") or {}).get("selection", {}).get("points", [])
    if not points:
        return
    x, y = float(points[0]["x"]), float(points[0]["y"])
    st.session_state["knn_ex_x"], st.session_state["knn_ex_y"] = x, y
    if st.session_state.get("knn_click") == "add":
        _add_point()
    else:
        st.session_state["knn_explain"] = True


def _add_point() -> None:
    st.session_state.pop("knn_add_refused", None)
    try:
        x, y = knn.checked_point(float(st.session_state["knn_ex_x"]), float(st.session_state["knn_ex_y"]))
    except knn.KnnError as error:
        st.session_state["knn_add_refused"] = str(error)
        return
    point = (x, y, int(st.session_state.get("knn_add_class", 0)))
    st.session_state["knn_added"] = [*st.session_state.get("knn_added", []), point]


def _clear_points() -> None:
    st.session_state["knn_added"] = []


def _apply_k(k: int) -> None:
    st.session_state["knn_k"] = k


# ---------------------------------------------------------------- page


def render() -> None:
    page_header(INFO.title, fig.INTRO, fig.HOW_IT_WORKS, icon=INFO.icon)
    restore(PARAMS)
    st.session_state.setdefault("knn_added", [])
    controls, main = st.columns([1, 2.8], gap="medium")
    with controls:
        st.subheader("Data")
        dataset, identity = _data_controls()
        _reset_for_new_data(identity)
        settings, resolution = _vote_controls()
    with main:
        _board(dataset, settings, resolution)
    publish(PARAMS)


@st.fragment
def _board(dataset: knn.Dataset | None, settings: knn.KnnSettings, resolution: int) -> None:
    """Everything that depends on K: moving K, clicking the plot or adding a point reruns only this."""
    split = None
    if dataset is not None:
        try:
            split = _split(dataset, replace(settings, added=tuple(st.session_state["knn_added"])))
        except knn.KnnError as error:
            _error(error)
            if st.session_state["knn_added"]:
                st.button("Remove the added points", on_click=_clear_points, icon=":material/delete:")
    k = _k_slider(split)
    if split is not None:
        try:
            _main_view(split, replace(settings, added=tuple(st.session_state["knn_added"])), k, resolution)
        except (knn.KnnError, WorkTimeout) as error:
            st.error(fig.escape_markdown(str(error)))
    publish(PARAMS)


def _main_view(split: knn.Split, settings: knn.KnnSettings, k: int, requested_resolution: int) -> None:
    plan = _plan(split, k, requested_resolution)
    grid, grid_predictor = _grid_votes(split, settings, plan.resolution, plan.depth)
    votes = grid_predictor.votes(k)
    scores = _split_predictors(split, settings, plan.depth).scores(k)
    explanation = _explanation(split, settings, k)

    columns = st.columns(4)
    columns[0].metric(
        "Training accuracy", f"{scores.train_accuracy:.1%}", help="Each training point is its own nearest neighbour."
    )
    columns[1].metric("Test accuracy", f"{scores.test_accuracy:.1%}")
    columns[2].metric("Training / test points", f"{split.n_train} / {split.n_test}")
    columns[3].metric(
        "Tied grid cells", f"{votes.tie_count:,}",
        help="Cells whose vote depends on which of several equally distant training points count.",
    )
    figure = fig.boundary_figure(
        grid, votes.labels, votes.proba, split,
        title=f"K = {k} · {settings.weights} votes · {settings.metric.label} distance",
        train_pred=scores.train_pred, test_pred=scores.test_pred, explanation=explanation,
    )
    st.plotly_chart(
        figure, key="knn_plot", on_select=_on_plot_select, selection_mode="points",
        config=plotly_config(f"knn-boundary-k{k}"), theme=None,  # a live figure carries its own look
    )
    figure_downloads(figure, f"knn-boundary-k{k}", data=lambda: fig.grid_frame(grid, votes.labels, votes.proba, split),
                     key="knn_plot_dl")
    st.caption(fig.boundary_caption(plan.resolution, plan.depth, plan.largest_k, plan.reason, votes.tie_count))

    _explain_panel(split, explanation)
    tabs = st.tabs(TABS, key="knn_tab", on_change="rerun")
    with tabs[0]:
        if tabs[0].open is not False:
            _cv_panel(split, settings, k)
    with tabs[1]:
        if tabs[1].open:
            _learning_panel(split, settings, k)
    with tabs[2]:
        _sweep_panel(split, settings)
    with tabs[3]:
        _compare_panel(split, figure, scores, settings.seed)
    with tabs[4]:
        _scratch_panel(split, settings, k)


def _explanation(split: knn.Split, settings: knn.KnnSettings, k: int):
    """The location inputs live in the explain panel; their default is the middle of the data."""
    if "knn_ex_x" not in st.session_state or "knn_ex_y" not in st.session_state:
        st.session_state["knn_ex_x"], st.session_state["knn_ex_y"] = knn.data_centre(split)
    if not st.session_state.get("knn_explain", False):
        return None
    location = (float(st.session_state["knn_ex_x"]), float(st.session_state["knn_ex_y"]))
    try:
        return knn.explain(split, settings, location, k)
    except knn.KnnError as error:
        _error(error)
        return None


def _explain_panel(split: knn.Split, explanation) -> None:
    with st.expander("Explain a point · add points", icon=":material/my_location:", expanded=explanation is not None):
        st.toggle("Explain the vote at this location", key="knn_explain")
        left, right, add = st.columns([1, 1, 1.4])
        left.number_input(f"x: {fig.escape_markdown(split.feature_names[0])}", key="knn_ex_x", format="%.4g")
        right.number_input(f"y: {fig.escape_markdown(split.feature_names[1])}", key="knn_ex_y", format="%.4g")
        # The browser may send back the label of a class the new dataset lacks: keep the choice a class code.
        keep_valid("knn_add_class", list(range(split.n_classes)), 0)
        with add:
            st.selectbox("Class of an added point", range(split.n_classes), key="knn_add_class",
                         format_func=lambda code: split.class_names[code])
        buttons = st.columns(2)
        buttons[0].button("Add a training point at this location", on_click=_add_point, icon=":material/add:")
        buttons[1].button(f"Remove the {split.n_added} added point(s)", on_click=_clear_points,
                          disabled=split.n_added == 0, icon=":material/delete:")
        if refused := st.session_state.get("knn_add_refused"):
            st.error(fig.escape_markdown(refused))
        st.caption("Or click the plot: with clicks set to 'add', each click adds a point of the chosen class.")
        if explanation is None:
            return
        st.markdown(fig.explanation_text(explanation))
        if explanation.tie:
            st.warning(
                "This location sits on a tie: equally distant points of different classes compete for the last place."
            )
        st.dataframe(explanation.neighbours, hide_index=True, height=fig.table_height(explanation.k))
        st.caption("Distances are measured after scaling; coordinates are in the axis units.")


def _cv_panel(split: knn.Split, settings: knn.KnnSettings, k: int) -> None:
    folds = st.selectbox("Folds", FOLD_CHOICES, key="knn_folds",
                         help="cross_val_score's cv: unshuffled stratified folds.")
    try:
        largest = knn.max_cv_k(split.y_train, int(folds))
    except knn.KnnError as error:
        _error(error)
        return
    (low, high), note = knn.cv_k_range(tuple(st.session_state.get("knn_cvk", ())), largest)
    st.session_state["knn_cvk"] = (low, high)  # written every run: a new slider range keeps the chosen one
    if note:
        st.caption(note)
    low, high = st.slider("Range of K (odd values)", 1, max(2, largest), key="knn_cvk")
    sized = knn.affordable_curve_ks(split, knn.odd_ks(low, high), folds=int(folds))
    if not sized.ks:
        st.info("The range holds no odd K.")
        return
    if sized.note:
        st.warning(sized.note)
    try:
        curve = _cv_curve(split, settings, sized.ks, int(folds))
    except (knn.KnnError, WorkTimeout) as error:
        st.error(fig.escape_markdown(str(error)))
        return
    if curve.note:
        st.warning(curve.note)
    best = curve.best_k
    left, right = st.columns([3, 1])
    with left:
        show_figure(fig.cv_figure(curve), "knn-cv-error", data=lambda: fig.cv_frame(curve), key="knn_cv",
                    live=True)
    with right:
        st.metric("Best K", best, help="Lowest mean error; the smallest K on equal errors.")
        st.metric("Its error", f"{curve.best_error:.3f}")
        value, helptext = fig.error_at_k(curve, k)
        st.metric(f"Error at K = {k}", value, help=helptext)
        st.button(f"Use K = {best}", on_click=_apply_k, args=(best,), disabled=best == k, type="primary")
        st.caption(fig.cv_caption(curve, fig.cv_band(curve)[2]))


def _learning_panel(split: knn.Split, settings: knn.KnnSettings, k: int) -> None:
    low, high = st.session_state.get("knn_cvk", (1, 49))
    sized = knn.affordable_curve_ks(split, knn.odd_ks(low, high, split.n_train))
    if not sized.ks:
        return
    if sized.note:
        st.warning(sized.note)
    try:
        curve = _learning_curve(split, settings, sized.ks)
    except WorkTimeout as error:
        st.error(str(error))
        return
    if curve.note:
        st.warning(curve.note)
    show_figure(fig.learning_figure(curve, k), "knn-learning-curve", data=lambda: fig.learning_frame(curve),
                key="knn_learning", live=True)
    st.caption(fig.learning_caption(curve))


def _sweep_panel(split: knn.Split, settings: knn.KnnSettings) -> None:
    ks = tuple(knn.sweep_ks(split.n_train))
    st.caption(fig.sweep_caption(ks, SWEEP_RESOLUTION))
    if st.toggle("Build the K-sweep animation", key="knn_sweep_on"):
        try:
            show_figure(_sweep(split, settings, ks), "knn-k-sweep", key="knn_sweep")
        except WorkTimeout as error:
            st.error(str(error))


def _compare_panel(split: knn.Split, knn_figure: go.Figure, scores, seed: int) -> None:
    left, right = st.columns(2)
    unlimited = left.checkbox("Grow the tree to pure leaves", key="knn_tree_full")
    max_depth = None if unlimited else left.slider("Tree depth", 1, 20, 5, key="knn_tree_depth")
    n_trees = right.slider("Trees in the forest", 10, 300, 100, step=10, key="knn_forest_trees")
    if not st.toggle("Fit the tree and the forest", key="knn_compare_on"):
        return
    try:
        grid, models = _tree_and_forest(split, max_depth, n_trees, seed)
    except WorkTimeout as error:
        st.error(str(error))
        return
    titles = fig.compare_titles(scores.train_accuracy, scores.test_accuracy, models)
    columns = st.columns(3)
    with columns[0]:
        st.markdown(titles[0])
        st.plotly_chart(fig.small_copy(knn_figure, COMPARE_HEIGHT), key="knn_compare_knn",
                        config=plotly_config("knn-compare-knn"), theme=None)
    for column, title, model in zip(columns[1:], titles[1:], models):
        with column:
            st.markdown(title)
            kind = model.name.split()[0].lower()
            show_figure(fig.model_figure(grid, model, split, COMPARE_HEIGHT), f"knn-compare-{kind}",
                        key=f"knn_compare_{kind}", live=True)
    st.caption(fig.COMPARE_CAPTION)


def _scratch_panel(split: knn.Split, settings: knn.KnnSettings, k: int) -> None:
    st.caption(fig.scratch_caption(SCRATCH_LATTICE))
    if not st.toggle("Run the from-scratch KNN", key="knn_scratch_on"):
        return
    _, sampled = knn.scratch_queries(split, SCRATCH_LATTICE)
    if sampled:
        st.caption(sampled)
    try:
        comparison = _scratch(split, settings, k)
    except WorkTimeout as error:
        st.error(str(error))
        return
    columns = st.columns(4)
    columns[0].metric("Points compared", comparison.n_points)
    columns[1].metric("Disagreements", comparison.disagreements)
    columns[2].metric("…away from ties", comparison.disagreements_away_from_ties)
    columns[3].metric("Slower than scikit-learn", f"{comparison.slowdown:.0f}×")
    agrees, verdict = fig.scratch_verdict(comparison)
    (st.success if agrees else st.error)(verdict)


INFO = PageInfo(
    title="KNN decision boundaries",
    icon=":material/scatter_plot:",
    url_path="knn",
    purpose=(
        "Every K live on a shaded decision map, the 10-fold error curve that picks K, and the neighbours behind "
        "any vote."
    ),
    offline="Everything: the datasets ship with scikit-learn or are generated; CSV files are read locally.",
    render=render,
)
