"""Request objects of the KNN page and the computations it caches, keyed on them.

``KnnSettings`` says how every vote on the page is taken (the split, the weighting, the distance). It is
frozen and hashable, so it is the cache key of every computation below; K itself is not in it, because one
neighbour query serves every K up to its depth (``largest_k``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services import budget
from services.knn.datasets import Dataset
from services.knn.errors import NeighbourCountError, SettingsError
from services.knn.evaluation import CvCurve, LearningCurve, SplitPredictors, cv_error_curve, learning_curve
from services.knn.explain import Explanation, explain_location
from services.knn.neighbours import (
    ExactPredictor,
    Metric,
    check_k,
    check_weights,
    largest_k,
    neighbour_table,
    table_bytes,
    table_depth,
    vote_table,
    votes_at,
)
from services.knn.preprocess import (
    MAX_TABLE_BYTES,
    SCALINGS,
    Grid,
    Split,
    grid_resolution,
    make_grid,
    split_dataset,
)
from services.knn.scratch import ScratchComparison, compare_with_sklearn
from services.knn.workload import Crowding, affordable_resolution, crowding
from services.workers import StopCheck, stop_point


@dataclass(frozen=True)
class KnnSettings:
    """Split, scaling and vote settings: everything but the dataset and K that a result depends on."""

    test_fraction: float = 0.33
    seed: int = 42
    scaling: str = "none"
    weights: str = "uniform"
    metric: Metric = field(default_factory=Metric)
    added: tuple[tuple[float, float, int], ...] = ()  # hand-added training points (x, y, class code)

    def __post_init__(self) -> None:
        check_weights(self.weights)
        if self.scaling not in SCALINGS:
            raise SettingsError(f"Unknown scaling {self.scaling!r}; choose one of {', '.join(SCALINGS)}.")


def make_split(dataset: Dataset, settings: KnnSettings) -> Split:
    return split_dataset(
        dataset, test_fraction=settings.test_fraction, seed=settings.seed, scaling=settings.scaling,
        added_points=settings.added,
    )


def split_crowding(split: Split) -> Crowding:
    return crowding(split.X_train, split.y_train)


@dataclass(frozen=True)
class BoundaryPlan:
    """Which grid and which neighbour-table depth serve K, and why the grid may be coarser than asked."""

    depth: int
    resolution: int
    requested: int
    largest_k: int
    reason: str  # "" when the requested grid is used


def plan_boundary(split: Split, k: int, requested: int) -> BoundaryPlan:
    """The grid side for K: reduced so the neighbour table fits in memory and the queries fit the time budget."""
    depth = table_depth(k, split.n_train)
    by_memory = grid_resolution(requested, depth, split.n_classes)
    resolution = affordable_resolution(by_memory, split_crowding(split))
    reason = ""
    if resolution < by_memory:
        reason = (
            f"Reduced from {requested} cells a side: {split_crowding(split).largest_mixed_group:,} training points "
            "of different classes share one location, and every cell near them has to read them all."
        )
    elif by_memory < requested:
        reason = f"Reduced from {requested} cells a side so a {depth}-deep neighbour table fits in memory."
    return BoundaryPlan(depth, resolution, requested, largest_k(depth, split.n_train), reason)


def grid_votes(
    split: Split, settings: KnnSettings, resolution: int, depth: int, should_stop: StopCheck | None = None
) -> tuple[Grid, ExactPredictor]:
    """The grid and one neighbour query at ``depth`` for all its cells (every K below it is then a lookup)."""
    grid = make_grid(split, resolution)
    return grid, ExactPredictor(
        split.X_train, split.y_train, grid.points, max_k=largest_k(depth, split.n_train),
        weights=settings.weights, metric=settings.metric, n_classes=split.n_classes, should_stop=should_stop,
    )


def split_predictors(
    split: Split, settings: KnnSettings, depth: int, should_stop: StopCheck | None = None
) -> SplitPredictors:
    return SplitPredictors(
        split, max_k=largest_k(depth, split.n_train), weights=settings.weights, metric=settings.metric,
        should_stop=should_stop,
    )


def sweep_frames(
    split: Split, settings: KnnSettings, ks: tuple[int, ...], resolution: int, should_stop: StopCheck | None = None
) -> tuple[Grid, list[tuple[int, np.ndarray, np.ndarray]]]:
    """One (K, labels, probabilities) frame per K on a coarse grid, all read off one neighbour query (the grid
    made coarser when a crowd of coincident points makes every cell's query read all of it)."""
    grid = make_grid(split, affordable_resolution(resolution, split_crowding(split)))
    depth = min(ks[-1] + 1, split.n_train)
    table = neighbour_table(
        split.X_train, split.y_train, grid.points, depth, settings.metric, split.n_classes, should_stop=should_stop
    )
    votes = vote_table(table, settings.weights)
    frames = []
    for k in ks:
        stop_point(should_stop)
        at_k = votes_at(votes, k)
        frames.append((k, at_k.labels, at_k.proba))
    return grid, frames


def scratch_check(
    split: Split, settings: KnnSettings, k: int, lattice: int, should_stop: StopCheck | None = None
) -> ScratchComparison:
    """The from-scratch KNN against scikit-learn on every test point plus a ``lattice``² grid (sampled evenly
    down to ``budget.KNN_MAX_SCRATCH_DISTANCES``, see ``scratch_queries``)."""
    queries, _ = scratch_queries(split, lattice)
    return compare_with_sklearn(
        split.X_train, split.y_train, queries, k, weights=settings.weights, metric=settings.metric,
        n_classes=split.n_classes, should_stop=should_stop,
    )


def scratch_queries(split: Split, lattice: int) -> tuple[np.ndarray, str]:
    """The points the from-scratch check compares, and a note when there were too many to afford."""
    queries = np.vstack([split.X_test, make_grid(split, lattice).points])
    affordable = max(1, budget.KNN_MAX_SCRATCH_DISTANCES // split.n_train)
    if len(queries) <= affordable:
        return queries, ""
    picks = np.unique(np.linspace(0, len(queries) - 1, affordable).round().astype(int))
    return queries[picks], (
        f"Compared on {len(picks):,} of the {len(queries):,} points, evenly spread: with {split.n_train:,} training "
        "points the one-point-at-a-time loop would take too long for all of them."
    )


@dataclass(frozen=True)
class SizedKs:
    """The K values a curve is computed for, and a message when tie-heavy data forced fewer than asked."""

    ks: tuple[int, ...]
    note: str = ""


def affordable_curve_ks(split: Split, ks: tuple[int, ...], *, folds: int | None = None) -> SizedKs:
    """``ks``, cut to the K whose neighbour tables fit in ``MAX_TABLE_BYTES`` and whose table queries take at
    most half of ``budget.KNN_MAX_DISTANCE_EVALUATIONS`` (the other half is for tie-breaking, which the curve
    meters as it goes: its ``note`` says when that cut it short). ``folds``: a cross-validation curve (one
    fold's held-out part is in memory at a time); without it, the learning curve (training and test points)."""
    crowd = split_crowding(split)
    if folds is None:
        distinct_test = len(np.unique(split.X_test, axis=0)) if split.n_test else 0
        in_memory, queried = split.n_train + split.n_test, crowd.distinct_points + distinct_test
    else:  # stratified folds differ by a point per class
        in_memory, queried = -(-split.n_train // folds) + split.n_classes, crowd.distinct_points
    by_memory = MAX_TABLE_BYTES // max(1, table_bytes(in_memory, 1, split.n_classes))
    work = budget.KNN_MAX_DISTANCE_EVALUATIONS // 2
    by_work = work // max(1, queried) if queried * crowd.per_query() <= work else 0
    deepest = min(by_memory, by_work)
    fitting = tuple(k for k in ks if min(k + 1, split.n_train) <= deepest) or ks[:1]
    if len(fitting) == len(ks):
        return SizedKs(ks)
    if by_memory <= by_work:
        why = (f"a neighbour table of {in_memory:,} points for a larger K would not fit in the "
               f"{MAX_TABLE_BYTES // 2**20} MiB one request may use")
    else:
        why = (f"querying {queried:,} distinct points for more neighbours would cost more than the "
               f"{budget.KNN_MAX_DISTANCE_EVALUATIONS:,} distance evaluations one request may"
               + (f" ({crowd.largest_mixed_group:,} training points of different classes share one location)"
                  if crowd.largest_mixed_group > 1 else ""))
    return SizedKs(fitting, f"Sized down to K ≤ {fitting[-1]}: {why}.")


def cv_curve(
    split: Split, settings: KnnSettings, ks: tuple[int, ...], folds: int, should_stop: StopCheck | None = None
) -> CvCurve:
    return cv_error_curve(
        split.X_train_raw, split.y_train, ks, weights=settings.weights, metric=settings.metric,
        scaling=split.scaling, n_folds=folds, n_classes=split.n_classes, should_stop=should_stop,
        max_evaluations=budget.KNN_MAX_DISTANCE_EVALUATIONS,
    )


def split_learning_curve(
    split: Split, settings: KnnSettings, ks: tuple[int, ...], should_stop: StopCheck | None = None
) -> LearningCurve:
    return learning_curve(
        split, ks, weights=settings.weights, metric=settings.metric, should_stop=should_stop,
        max_evaluations=budget.KNN_MAX_DISTANCE_EVALUATIONS,
    )


def explain(split: Split, settings: KnnSettings, location: tuple[float, float], k: int) -> Explanation:
    return explain_location(split, location, k, weights=settings.weights, metric=settings.metric)


def data_centre(split: Split) -> tuple[float, float]:
    """The mean of every point, training and test: where the explained location starts."""
    centre = np.vstack([split.X_train_raw, split.X_test_raw]).mean(axis=0)
    return float(centre[0]), float(centre[1])


def affordable_max_k(split: Split) -> int:
    """The largest K the page can vote with inside the request budget: one neighbour table of every training
    and test point at its depth fits in ``MAX_TABLE_BYTES``, or (past that) scikit-learn's own predictions
    are small enough: their (points x K) neighbour arrays fit there too, and a brute-force pass over every
    training point stays within ``budget.KNN_MAX_DISTANCE_EVALUATIONS``. 20,000 rows voting at K = 6,000 took
    40 s and 3.4 GB before this limit."""
    n_points, n_train = split.n_train + split.n_test, split.n_train
    per_depth = max(1, table_bytes(n_points, 1, split.n_classes))
    if n_train * per_depth <= MAX_TABLE_BYTES:
        return n_train
    by_table = largest_k(1 << int(MAX_TABLE_BYTES // per_depth).bit_length() - 1, n_train)
    if n_points * n_train > budget.KNN_MAX_DISTANCE_EVALUATIONS:
        return max(1, by_table)
    by_arrays = MAX_TABLE_BYTES // (n_points * 16)  # float64 distances and int64 indices per neighbour
    return int(max(1, by_table, min(n_train, by_arrays)))


def clamp_k(k: int, n_train: int, top: int | None = None) -> tuple[int, str]:
    """K brought into 1..n_train (or 1..``top``, the budget's ``affordable_max_k``), and the reason when it
    had to move ("" when it did not)."""
    if top is not None and top < n_train and k > top:
        return top, (
            f"K = {k} is more than this dataset allows: voting over that many of its {n_train:,} training points "
            f"would take more time and memory than one request may. K was set to {top}."
        )
    try:
        return check_k(int(k), n_train), ""
    except NeighbourCountError as error:
        target = 1 if k < 1 else n_train
        return target, f"{error} K was set to {target}."


def cv_k_range(chosen: tuple[int, ...], largest: int, default_high: int = 49) -> tuple[tuple[int, int], str]:
    """The cross-validation K range kept where it was, clamped into 1..largest (with a note when clamped);
    the default range when ``chosen`` is not a range at all."""
    top = max(2, largest)
    if len(chosen) != 2 or not chosen[0] < chosen[1]:
        return (1, max(2, min(default_high, largest))), ""
    low, high = max(1, min(int(chosen[0]), top - 1)), min(int(chosen[1]), top)
    if (low, high) == tuple(chosen):
        return (low, high), ""
    return (low, high), f"The K range was narrowed to {low}–{high}: every fold's training part has {largest} points."


def odd_ks(low: int, high: int, limit: int | None = None) -> tuple[int, ...]:
    """The odd K in [low, high] (odd avoids two-class draws), at most ``limit``."""
    top = high if limit is None else min(high, limit)
    return tuple(range(low | 1, top + 1, 2))


def checked_point(x: float, y: float) -> tuple[float, float]:
    """A location typed or clicked by the user, refused before it is added when a distance from it would
    overflow (so a bad point never sticks in the session)."""
    if not (np.isfinite(x) and np.isfinite(y)) or max(abs(x), abs(y)) > budget.KNN_MAX_ABS_FEATURE:
        raise SettingsError(
            f"The point ({x:.3g}, {y:.3g}) lies beyond ±{budget.KNN_MAX_ABS_FEATURE:.0e}, where distances "
            "overflow; it was not added."
        )
    return float(x), float(y)


__all__ = [
    "BoundaryPlan", "KnnSettings", "SizedKs", "affordable_curve_ks", "affordable_max_k", "checked_point", "clamp_k",
    "cv_curve", "cv_k_range", "data_centre", "explain", "grid_votes", "make_split", "odd_ks", "plan_boundary",
    "scratch_check", "scratch_queries", "split_crowding", "split_learning_curve", "split_predictors", "sweep_frames",
]
