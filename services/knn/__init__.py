"""KNN decision boundaries: datasets, one-query-every-K votes, exact cross-validation, explanations, figures.

Plain Python (no streamlit). Every function raises a ``KnnError`` subclass with a message for the user
when the input or a setting cannot be used.
"""

from services.knn.datasets import (
    DEFAULT_FEATURES,
    SYNTHETIC_KINDS,
    TABLE_LOADERS,
    VIEWS,
    Dataset,
    DatasetSpec,
    dataset_from_frame,
    load_dataset,
    numeric_columns,
    read_csv_table,
    table_features,
)
from services.knn.errors import (
    CsvError,
    DatasetError,
    KnnError,
    NeighbourCountError,
    SettingsError,
    SplitError,
    WorkloadError,
)
from services.knn.evaluation import (
    DEFAULT_FOLDS,
    DEFAULT_KS,
    CvCurve,
    LearningCurve,
    SplitPredictors,
    SplitScores,
    cv_error_curve,
    fold_indices,
    learning_curve,
    max_cv_k,
    split_scores,
)
from services.knn.explain import Explanation, explain_location
from services.knn.neighbours import (
    METRICS,
    WEIGHTS,
    ExactPredictor,
    Metric,
    NeighbourTable,
    Votes,
    VoteTable,
    build_tree,
    check_k,
    classifier,
    neighbour_table,
    sweep_ks,
    table_depth,
    vote_table,
    votes_at,
)
from services.knn.preprocess import SCALINGS, Grid, Split, grid_resolution, make_grid, make_scaler, split_dataset
from services.knn.scratch import ScratchComparison, compare_with_sklearn, scratch_knn
from services.knn.settings import (
    BoundaryPlan,
    KnnSettings,
    SizedKs,
    affordable_curve_ks,
    affordable_max_k,
    checked_point,
    clamp_k,
    cv_curve,
    cv_k_range,
    data_centre,
    explain,
    grid_votes,
    make_split,
    odd_ks,
    plan_boundary,
    scratch_check,
    scratch_queries,
    split_crowding,
    split_learning_curve,
    split_predictors,
    sweep_frames,
)
from services.knn.trees import ModelBoundary, tree_and_forest

__all__ = [
    "DEFAULT_FEATURES", "DEFAULT_FOLDS", "DEFAULT_KS", "METRICS", "SCALINGS", "SYNTHETIC_KINDS", "TABLE_LOADERS",
    "VIEWS", "WEIGHTS",
    "CsvError", "CvCurve", "Dataset", "DatasetError", "DatasetSpec", "ExactPredictor", "Explanation", "Grid",
    "KnnError", "LearningCurve", "Metric", "ModelBoundary", "NeighbourCountError", "NeighbourTable",
    "ScratchComparison", "SettingsError", "Split", "SplitError", "SplitPredictors", "SplitScores", "VoteTable", "Votes",
    "build_tree", "check_k", "classifier", "compare_with_sklearn", "cv_error_curve", "dataset_from_frame",
    "explain_location", "fold_indices", "grid_resolution", "learning_curve", "load_dataset", "make_grid",
    "make_scaler", "max_cv_k", "neighbour_table", "numeric_columns", "read_csv_table", "scratch_knn",
    "split_dataset", "split_scores", "sweep_ks", "table_depth", "table_features", "tree_and_forest",
    "vote_table", "votes_at",
    "BoundaryPlan", "KnnSettings", "SizedKs", "WorkloadError", "affordable_curve_ks", "affordable_max_k",
    "checked_point", "clamp_k",
    "cv_curve", "cv_k_range", "data_centre", "explain", "grid_votes", "make_split", "odd_ks", "plan_boundary",
    "scratch_check", "scratch_queries", "split_crowding", "split_learning_curve", "split_predictors", "sweep_frames",
]
