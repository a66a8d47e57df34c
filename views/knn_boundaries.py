"""KNN decision boundaries: every K live, the cross-validated error curve, and the neighbours behind a vote.

The page reads widgets, calls ``services.knn`` and draws. The expensive step, one neighbour query of the
whole grid at the largest K in reach, is cached as a resource, so moving the K slider only reads another
row of running votes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.figure_export import figure_downloads, plotly_config, show_figure
from components.heavy import run_heavy
from components.page_header import page_header
from components.url_state import Param, publish, restore
from views.catalog import PageInfo
from services.knn import (
    DEFAULT_FEATURES,
    METRICS,
    SCALINGS,
    TABLE_LOADERS,
    VIEWS,
    WEIGHTS,
    CsvError,
    CvCurve,
    Dataset,
    DatasetSpec,
    Grid,
    KnnError,
    LearningCurve,
    Metric,
    ModelBoundary,
    ExactPredictor,
    ScratchComparison,
    Split,
    SplitPredictors,
    check_k,
    compare_with_sklearn,
    cv_error_curve,
    dataset_from_frame,
    explain_location,
    grid_resolution,
    learning_curve,
    load_dataset,
    make_grid,
    max_cv_k,
    neighbour_table,
    numeric_columns,
    read_csv_table,
    split_dataset,
    sweep_ks,
    table_depth,
    table_features,
    tree_and_forest,
    vote_table,
    votes_at,
)
from services.knn.figures import boundary_figure, cv_figure, learning_figure, sweep_figure
from services.workers import WorkTimeout

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
RESOLUTIONS = [100, 150, 200, 300]
FOLD_CHOICES = [3, 5, 10]
#: Side-by-side tree/forest panels and the animation use a coarser grid: three (or 25) figures at once.
COMPARE_RESOLUTION, SWEEP_RESOLUTION = 120, 100
COMPARE_HEIGHT = 360
#: The from-scratch check runs one point at a time: every test point plus a lattice of this many a side.
SCRATCH_LATTICE = 30
CLICK_ACTIONS = {"explain": "explain that location", "add": "add a training point there"}

PARAMS = [
    Param("data", "iris", choices=list(DATASET_LABELS)),
    Param("view", "features", choices=list(VIEWS)),
    Param("fx", DEFAULT_FEATURES["iris"][0]),
    Param("fy", DEFAULT_FEATURES["iris"][1]),
    Param("n", 300, low=20, high=5000),
    Param("noise", 0.2, low=0.0, high=1.0),
    Param("classes", 3, low=2, high=5),
    Param("dseed", 0, low=0, high=99_999),
    Param("test", 0.33, low=0.1, high=0.5),
    Param("seed", 42, low=0, high=99_999),
    Param("scale", "none", choices=list(SCALINGS)),
    Param("k", 7, low=1, high=20_000),
    Param("weights", "uniform", choices=list(WEIGHTS)),
    Param("metric", "euclidean", choices=list(METRICS)),
    Param("p", 3.0, low=1.0, high=10.0),
    Param("res", 200, choices=RESOLUTIONS),
    Param("folds", 10, choices=FOLD_CHOICES),
    Param("cvk", (1, 49)),
]

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


# ---------------------------------------------------------------- cached seam (services do the work)


@st.cache_data(max_entries=32, show_spinner=False)
def _builtin_dataset(spec: DatasetSpec) -> Dataset:
    return load_dataset(spec)


@st.cache_data(max_entries=8, show_spinner=False)
def _csv_frame(raw: bytes, filename: str) -> pd.DataFrame:
    return read_csv_table(raw, filename)


@st.cache_data(max_entries=16, show_spinner=False)
def _csv_dataset(raw: bytes, filename: str, x: str, y: str, label: str, drop_missing: bool) -> Dataset:
    return dataset_from_frame(_csv_frame(raw, filename), x, y, label, drop_missing=drop_missing, name=filename)


@st.cache_data(max_entries=32, show_spinner=False)
def _split(dataset: Dataset, test_fraction: float, seed: int, scaling: str, added: tuple) -> Split:
    return split_dataset(dataset, test_fraction=test_fraction, seed=seed, scaling=scaling, added_points=added)


@st.cache_resource(max_entries=2, show_spinner="Finding the nearest neighbours of every grid cell…")
def _grid_votes(split: Split, metric: Metric, resolution: int, depth: int, weights: str) -> tuple[Grid, ExactPredictor]:
    """The grid and one neighbour query at ``depth`` for all its cells (the expensive step; every K below
    ``depth`` is then a lookup)."""
    grid = make_grid(split, resolution)
    max_k = depth - 1 if depth < split.n_train else depth
    return grid, ExactPredictor(
        split.X_train, split.y_train, grid.points, max_k=max_k, weights=weights, metric=metric,
        n_classes=split.n_classes,
    )


@st.cache_resource(max_entries=3, show_spinner=False)
def _split_predictors(split: Split, metric: Metric, depth: int, weights: str) -> SplitPredictors:
    return SplitPredictors(split, max_k=depth - 1 if depth < split.n_train else depth, weights=weights, metric=metric)


@st.cache_data(max_entries=16, show_spinner="Cross-validating every K…")
def _cv_curve(split: Split, ks: tuple[int, ...], weights: str, metric: Metric, folds: int) -> CvCurve:
    return run_heavy(
        cv_error_curve, split.X_train_raw, split.y_train, ks, weights=weights, metric=metric, scaling=split.scaling,
        n_folds=folds, n_classes=split.n_classes, what="The cross-validation curve",
    )


@st.cache_data(max_entries=16, show_spinner=False)
def _learning_curve(split: Split, ks: tuple[int, ...], weights: str, metric: Metric) -> LearningCurve:
    return learning_curve(split, ks, weights=weights, metric=metric)


@st.cache_data(max_entries=8, show_spinner="Fitting a decision tree and a random forest…")
def _tree_and_forest(split: Split, max_depth: int | None, n_trees: int, seed: int) -> tuple[ModelBoundary, ...]:
    return tree_and_forest(split, make_grid(split, COMPARE_RESOLUTION), max_depth=max_depth, n_trees=n_trees, seed=seed)


@st.cache_data(max_entries=8, show_spinner="Rendering one frame per K…")
def _sweep(split: Split, metric: Metric, weights: str, ks: tuple[int, ...]):
    grid = make_grid(split, SWEEP_RESOLUTION)
    depth = min(ks[-1] + 1, split.n_train)
    table = neighbour_table(split.X_train, split.y_train, grid.points, depth, metric, split.n_classes)
    votes = vote_table(table, weights)
    frames = []
    for k in ks:
        at_k = votes_at(votes, k)
        frames.append((k, at_k.labels, at_k.proba))
    return sweep_figure(grid, frames, split)


@st.cache_data(max_entries=8, show_spinner="Running the from-scratch KNN one point at a time…")
def _scratch(split: Split, k: int, weights: str, metric: Metric) -> ScratchComparison:
    lattice = make_grid(split, SCRATCH_LATTICE).points
    queries = np.vstack([split.X_test, lattice])
    return compare_with_sklearn(
        split.X_train, split.y_train, queries, k, weights=weights, metric=metric, n_classes=split.n_classes
    )


# ---------------------------------------------------------------- controls


def _data_controls() -> tuple[Dataset | None, str]:
    """The dataset the controls describe (None after showing why it cannot be built) and a name for it."""
    source = st.selectbox("Dataset", list(DATASET_LABELS), key="data", format_func=DATASET_LABELS.get)
    if source == "csv":
        return _csv_controls()
    if source in TABLE_LOADERS:
        view = st.radio(
            "View", list(VIEWS), key="view", horizontal=True,
            format_func={"features": "two features", "pca": "2-D PCA of all features"}.get,
        )
        if view == "pca":
            spec = DatasetSpec(source, view="pca")
        else:
            names = table_features(source)
            for key, default in zip(("fx", "fy"), DEFAULT_FEATURES[source]):
                if st.session_state.get(key) not in names:
                    st.session_state[key] = default
            x_name = st.selectbox("x-axis feature", names, key="fx")
            y_name = st.selectbox("y-axis feature", names, key="fy")
            spec = DatasetSpec(source, view="features", features=(x_name, y_name))
    else:
        n_samples = st.slider("Samples", 20, 5000, step=10, key="n")
        noise = st.slider("Noise", 0.0, 1.0, step=0.05, key="noise", help="Standard deviation of the jitter.")
        n_classes = st.slider("Classes", 2, 5, key="classes") if source in ("blobs", "spiral") else 2
        data_seed = st.number_input("Data seed", 0, 99_999, step=1, key="dseed")
        spec = DatasetSpec(source, n_samples=n_samples, noise=noise, n_classes=n_classes, seed=int(data_seed))
    try:
        dataset = _builtin_dataset(spec)
    except KnnError as error:
        st.error(str(error))
        return None, repr(spec)
    return dataset, repr(spec)


def _csv_controls() -> tuple[Dataset | None, str]:
    upload = st.file_uploader(
        "CSV file: two numeric feature columns and a label column", type=["csv", "tsv", "txt"], key="csv_file"
    )
    if upload is None:
        st.info("Upload a CSV file (comma, semicolon or tab separated, with a header row).")
        return None, "csv"
    raw = upload.getvalue()
    try:
        frame = _csv_frame(raw, upload.name)
    except CsvError as error:
        st.error(str(error))
        return None, f"csv:{upload.file_id}"
    columns = list(frame.columns)
    numeric = numeric_columns(frame)
    text_columns = [column for column in columns if column not in numeric]
    defaults = {
        "csv_x": numeric[0] if numeric else columns[0],
        "csv_y": numeric[1] if len(numeric) > 1 else columns[1],
        "csv_label": text_columns[-1] if text_columns else columns[-1],
    }
    for key, default in defaults.items():
        if st.session_state.get(key) not in columns:
            st.session_state[key] = default
    x_name = st.selectbox("x-axis feature column", columns, key="csv_x")
    y_name = st.selectbox("y-axis feature column", columns, key="csv_y")
    label = st.selectbox("Label column", columns, key="csv_label")
    drop_missing = st.checkbox("Drop rows with missing values", key="csv_dropna")
    name = f"csv:{upload.file_id}:{x_name}:{y_name}:{label}:{drop_missing}"
    try:
        dataset = _csv_dataset(raw, upload.name, x_name, y_name, label, drop_missing)
    except KnnError as error:
        st.error(str(error))
        return None, name
    if dataset.note:
        st.caption(dataset.note)
    return dataset, name


def _reset_for_new_data(identity: str) -> None:
    """Hand-added points and the explained location belong to one dataset: forget them when it changes."""
    if st.session_state.get("knn_identity") != identity:
        st.session_state["knn_identity"] = identity
        st.session_state["knn_added"] = []
        st.session_state.pop("ex_x", None)
        st.session_state.pop("ex_y", None)


def _k_slider(n_train: int | None) -> int:
    """The K slider, 1..n_train. A K beyond the training points (from a URL or a smaller dataset) is refused
    with the service's message and brought back to n_train."""
    if n_train is None:
        st.slider("K (neighbours)", 1, max(2, int(st.session_state.get("k", 7))), key="k", disabled=True)
        return int(st.session_state["k"])
    try:
        check_k(int(st.session_state.get("k", 7)), n_train)
    except KnnError as error:
        st.warning(f"{error} K was set to {n_train}.")
        st.session_state["k"] = n_train
    return int(st.slider("K (neighbours)", 1, max(2, n_train), key="k", help="Any K from 1 to the training points."))


def _on_plot_select() -> None:
    """A click on the decision plot: move the explained location there, and add a point if asked to."""
    points = (st.session_state.get("knn_plot") or {}).get("selection", {}).get("points", [])
    if not points:
        return
    x, y = float(points[0]["x"]), float(points[0]["y"])
    st.session_state["ex_x"], st.session_state["ex_y"] = x, y
    if st.session_state.get("click") == "add":
        code = st.session_state.get("add_class", 0)
        st.session_state["knn_added"] = [*st.session_state.get("knn_added", []), (x, y, int(code))]
    else:
        st.session_state["explain"] = True


def _add_point() -> None:
    code = int(st.session_state.get("add_class", 0))
    point = (float(st.session_state["ex_x"]), float(st.session_state["ex_y"]), code)
    st.session_state["knn_added"] = [*st.session_state.get("knn_added", []), point]


def _clear_points() -> None:
    st.session_state["knn_added"] = []


def _apply_k(k: int) -> None:
    st.session_state["k"] = k


# ---------------------------------------------------------------- page


def render() -> None:
    page_header(
        INFO.title,
        "Watch the K-nearest-neighbour vote carve up the plane: small K follows every point, large K smooths "
        "over them. Every K is live, the cross-validated error says which K to trust, and any location can "
        "be explained neighbour by neighbour.",
        HOW_IT_WORKS,
        icon=INFO.icon,
    )
    restore(PARAMS)
    st.session_state.setdefault("knn_added", [])
    controls, main = st.columns([1, 2.8], gap="medium")
    with controls:
        st.subheader("Data")
        dataset, identity = _data_controls()
        _reset_for_new_data(identity)
        st.subheader("Split and scaling")
        test_fraction = st.slider("Test fraction", 0.1, 0.5, step=0.01, key="test")
        seed = int(st.number_input("Split seed", 0, 99_999, step=1, key="seed"))
        scaling = st.radio("Scaling", list(SCALINGS), key="scale", format_func=SCALING_LABELS.get, horizontal=True)
        split = None
        if dataset is not None:
            if dataset.note and not identity.startswith("csv"):
                st.caption(dataset.note)
            try:
                split = _split(dataset, float(test_fraction), seed, scaling, tuple(st.session_state["knn_added"]))
            except KnnError as error:
                st.error(str(error))
        st.subheader("Vote")
        weights = st.radio("Weights", list(WEIGHTS), key="weights", horizontal=True,
                           format_func={"uniform": "uniform", "distance": "1 / distance"}.get)
        metric_name = st.selectbox("Metric", list(METRICS), key="metric")
        p = float(st.slider("Minkowski p", 1.0, 10.0, step=0.5, key="p")) if metric_name == "minkowski" else 2.0
        metric = Metric(metric_name, p)
        st.subheader("Display")
        resolution = st.select_slider("Grid resolution (cells a side)", RESOLUTIONS, key="res")
        st.radio("Clicking the plot will", list(CLICK_ACTIONS), key="click", format_func=CLICK_ACTIONS.get)
    with main:
        k = _k_slider(split.n_train if split is not None else None)
        if split is None:
            publish(PARAMS)
            return
        _main_view(split, k, weights, metric, int(resolution), seed)
    publish(PARAMS)


def _main_view(split: Split, k: int, weights: str, metric: Metric, requested_resolution: int, seed: int) -> None:
    depth = table_depth(k, split.n_train)
    resolution = grid_resolution(requested_resolution, depth, split.n_classes)
    grid, grid_predictor = _grid_votes(split, metric, resolution, depth, weights)
    votes = grid_predictor.votes(k)
    scores = _split_predictors(split, metric, depth, weights).scores(k)
    explanation = _explanation(split, k, weights, metric)

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
    figure = boundary_figure(
        grid, votes.labels, votes.proba, split,
        title=f"K = {k} · {weights} votes · {metric.label} distance",
        train_pred=scores.train_pred, test_pred=scores.test_pred, explanation=explanation,
    )
    st.plotly_chart(
        figure, key="knn_plot", on_select=_on_plot_select, selection_mode="points",
        config=plotly_config(f"knn-boundary-k{k}"),
    )
    grid_data = _grid_frame(grid, votes.labels, votes.proba, split)
    figure_downloads(figure, f"knn-boundary-k{k}", data=grid_data, key="knn_plot_dl")
    largest = depth - 1 if depth < split.n_train else depth
    notes = [f"Grid {resolution}×{resolution}; one query at {depth} neighbours serves every K ≤ {largest}."]
    if resolution < requested_resolution:
        notes.append(
            f"Reduced from {requested_resolution} cells a side so a {depth}-deep neighbour table fits in memory."
        )
    if votes.tie_count:
        notes.append(
            f"{votes.tie_count:,} cells sit on a tie (equally distant points of different classes compete for the "
            "K-th place); scikit-learn's own tie-breaking settles them."
        )
    st.caption(" ".join(notes))

    _explain_panel(split, explanation)
    tabs = st.tabs(["Cross-validation", "Learning curve", "K sweep", "Tree & forest", "From scratch"])
    with tabs[0]:
        _cv_panel(split, k, weights, metric)
    with tabs[1]:
        _learning_panel(split, k, weights, metric)
    with tabs[2]:
        _sweep_panel(split, weights, metric)
    with tabs[3]:
        _compare_panel(split, figure, scores, seed)
    with tabs[4]:
        _scratch_panel(split, k, weights, metric)


def _grid_frame(grid: Grid, labels: np.ndarray, proba: np.ndarray, split: Split) -> pd.DataFrame:
    frame = pd.DataFrame({split.feature_names[0]: grid.points_raw[:, 0], split.feature_names[1]: grid.points_raw[:, 1]})
    frame["predicted class"] = np.asarray(split.class_names, dtype=object)[labels]
    for code, name in enumerate(split.class_names):
        frame[f"P({name})"] = proba[:, code]
    return frame


def _explanation(split: Split, k: int, weights: str, metric: Metric):
    """The location inputs live in the explain panel; their default is the middle of the data."""
    if "ex_x" not in st.session_state or "ex_y" not in st.session_state:
        centre = np.vstack([split.X_train_raw, split.X_test_raw]).mean(axis=0)
        st.session_state["ex_x"], st.session_state["ex_y"] = float(centre[0]), float(centre[1])
    if not st.session_state.get("explain", False):
        return None
    location = (float(st.session_state["ex_x"]), float(st.session_state["ex_y"]))
    return explain_location(split, location, k, weights=weights, metric=metric)


def _explain_panel(split: Split, explanation) -> None:
    with st.expander("Explain a point · add points", icon=":material/my_location:", expanded=explanation is not None):
        st.toggle("Explain the vote at this location", key="explain")
        left, right, add = st.columns([1, 1, 1.4])
        left.number_input(f"x: {split.feature_names[0]}", key="ex_x", format="%.4g")
        right.number_input(f"y: {split.feature_names[1]}", key="ex_y", format="%.4g")
        if st.session_state.get("add_class", 0) >= split.n_classes:
            st.session_state["add_class"] = 0
        with add:
            st.selectbox("Class of an added point", range(split.n_classes), key="add_class",
                         format_func=lambda code: split.class_names[code])
        buttons = st.columns(2)
        buttons[0].button("Add a training point at this location", on_click=_add_point, icon=":material/add:")
        buttons[1].button(f"Remove the {split.n_added} added point(s)", on_click=_clear_points,
                          disabled=split.n_added == 0, icon=":material/delete:")
        st.caption("Or click the plot: with clicks set to 'add', each click adds a point of the chosen class.")
        if explanation is None:
            return
        counts = ", ".join(
            f"{name}: {score:.3g}" for name, score in zip(split.class_names, explanation.scores) if score > 0
        )
        verdict = f"**{explanation.predicted_name}** (P = {explanation.proba[explanation.predicted]:.2f})"
        vote_kind = "neighbour counts" if explanation.weights == "uniform" else "summed 1/distance weights"
        st.markdown(f"The {explanation.k} nearest training points vote {counts} ({vote_kind}) → {verdict}.")
        if explanation.tie:
            st.warning(
                "This location sits on a tie: equally distant points of different classes compete for the last place."
            )
        st.dataframe(explanation.neighbours, hide_index=True, height=min(400, 38 + 35 * explanation.k))
        st.caption("Distances are measured after scaling; coordinates are in the axis units.")


def _cv_panel(split: Split, k: int, weights: str, metric: Metric) -> None:
    folds = st.selectbox("Folds", FOLD_CHOICES, key="folds", help="cross_val_score's cv: unshuffled stratified folds.")
    try:
        largest = max_cv_k(split.y_train, int(folds))
    except KnnError as error:
        st.error(str(error))
        return
    chosen = tuple(st.session_state.get("cvk", ()))
    if len(chosen) != 2 or not 1 <= chosen[0] < chosen[1] <= largest:
        st.session_state["cvk"] = (1, max(2, min(49, largest)))
    low, high = st.slider("Range of K (odd values)", 1, max(2, largest), key="cvk")
    ks = tuple(range(low | 1, high + 1, 2))
    if not ks:
        st.info("The range holds no odd K.")
        return
    try:
        curve = _cv_curve(split, ks, weights, metric, int(folds))
    except (KnnError, WorkTimeout) as error:
        st.error(str(error))
        return
    best = curve.best_k
    left, right = st.columns([3, 1])
    with left:
        show_figure(cv_figure(curve, k), "knn-cv-error", data=_cv_frame(curve), key="knn_cv")
    with right:
        st.metric("Best K", best, help="Lowest mean error; the smallest K on equal errors.")
        st.metric("Its error", f"{curve.errors.min():.3f}")
        st.button(f"Use K = {best}", on_click=_apply_k, args=(best,), disabled=best == k, type="primary")
        st.caption(
            f"{curve.n_folds} folds × {len(ks)} values of K from {curve.n_folds} neighbour queries; equal to "
            f"scikit-learn's `cross_val_score` (the scaler refitted per fold). {curve.delegated} predictions sat "
            "on a tie and were settled by scikit-learn's own tie-breaking."
        )


def _cv_frame(curve: CvCurve) -> pd.DataFrame:
    frame = pd.DataFrame({"K": curve.ks, "mean error": curve.errors})
    for fold in range(curve.n_folds):
        frame[f"fold {fold + 1} error"] = curve.fold_errors[fold]
    return frame


def _learning_panel(split: Split, k: int, weights: str, metric: Metric) -> None:
    low, high = st.session_state["cvk"]
    ks = tuple(value for value in range(low | 1, high + 1, 2) if value <= split.n_train)
    if not ks:
        return
    curve = _learning_curve(split, ks, weights, metric)
    frame = pd.DataFrame({"K": curve.ks, "training error": curve.train_errors, "test error": curve.test_errors})
    show_figure(learning_figure(curve, k), "knn-learning-curve", data=frame, key="knn_learning")
    st.caption(
        "Training error counts each training point as its own neighbour, so K = 1 fits the training set; the gap "
        "to the test error is the variance that a larger K trades for bias."
    )


def _sweep_panel(split: Split, weights: str, metric: Metric) -> None:
    ks = tuple(sweep_ks(split.n_train))
    st.caption(
        f"One frame per K ({', '.join(map(str, ks))}) on a {SWEEP_RESOLUTION}×{SWEEP_RESOLUTION} grid, "
        "for presentations."
    )
    if not st.toggle("Build the K-sweep animation", key="sweep_on"):
        return
    show_figure(_sweep(split, metric, weights, ks), "knn-k-sweep", key="knn_sweep")


def _compare_panel(split: Split, knn_figure, scores, seed: int) -> None:
    left, right = st.columns(2)
    unlimited = left.checkbox("Grow the tree to pure leaves", key="tree_full")
    max_depth = None if unlimited else left.slider("Tree depth", 1, 20, 5, key="tree_depth")
    n_trees = right.slider("Trees in the forest", 10, 300, 100, step=10, key="forest_trees")
    if not st.toggle("Fit the tree and the forest", key="compare_on"):
        return
    tree, forest = _tree_and_forest(split, max_depth, n_trees, seed)
    columns = st.columns(3)
    grid = make_grid(split, COMPARE_RESOLUTION)
    panels = (
        (f"KNN · train {scores.train_accuracy:.1%} · test {scores.test_accuracy:.1%}", None),
        (f"{tree.name} · train {tree.train_accuracy:.1%} · test {tree.test_accuracy:.1%}", tree),
        (f"{forest.name} · train {forest.train_accuracy:.1%} · test {forest.test_accuracy:.1%}", forest),
    )
    for column, (title, model) in zip(columns, panels):
        with column:
            st.markdown(f"**{title}**")
            if model is None:
                copy = go.Figure(knn_figure).update_layout(height=COMPARE_HEIGHT, title=None, showlegend=False)
                st.plotly_chart(copy, key="knn_compare_knn", config=plotly_config("knn-compare-knn"))
                continue
            figure = boundary_figure(grid, model.labels, model.proba, split, title="", height=COMPARE_HEIGHT)
            figure.update_layout(showlegend=False)
            kind = model.name.split()[0].lower()
            show_figure(figure, f"knn-compare-{kind}", key=f"knn_compare_{kind}")
    st.caption(
        "Trees split one feature at a time, hence the axis-parallel blocks; the forest averages trees grown on "
        "bootstrap samples."
    )


def _scratch_panel(split: Split, k: int, weights: str, metric: Metric) -> None:
    st.caption(
        "The seed's KNN in plain numpy, one point at a time: every test point plus a "
        f"{SCRATCH_LATTICE}×{SCRATCH_LATTICE} lattice over the plot, compared with scikit-learn's predictions."
    )
    if not st.toggle("Run the from-scratch KNN", key="scratch_on"):
        return
    comparison = _scratch(split, k, weights, metric)
    columns = st.columns(4)
    columns[0].metric("Points compared", comparison.n_points)
    columns[1].metric("Disagreements", comparison.disagreements)
    columns[2].metric("…away from ties", comparison.disagreements_away_from_ties)
    slowdown = comparison.scratch_seconds / max(comparison.sklearn_seconds, 1e-9)
    columns[3].metric("Slower than scikit-learn", f"{slowdown:.0f}×")
    if comparison.disagreements_away_from_ties == 0:
        st.success(
            f"The from-scratch KNN equals scikit-learn on all {comparison.n_points - comparison.ties} points away from "
            f"exact distance ties ({comparison.ties} points sit on one)."
        )
    else:
        st.error(f"{comparison.disagreements_away_from_ties} disagreements away from ties: this is a bug.")


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
