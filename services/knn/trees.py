"""Decision-tree and random-forest boundaries on the same split, for comparison with KNN.

The Korean notes in the seeds: a tree splits one feature at a time (axis-parallel, blocky regions) and
overfits when grown deep; a forest averages many trees grown on bootstrap samples with random features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from services.knn.errors import SettingsError
from services.knn.preprocess import Grid, Split
from services.workers import StopCheck, stop_point

MAX_DEPTH_LIMIT = 30
MAX_TREES = 500
#: Trees the forest grows between two stop checks (warm start: the same forest as growing them all at once).
TREES_PER_STEP = 5


@dataclass(frozen=True)
class ModelBoundary:
    """A fitted model's class probabilities on the grid and its accuracies."""

    name: str
    proba: np.ndarray  # (cells, n_classes)
    labels: np.ndarray  # (cells,)
    train_accuracy: float
    test_accuracy: float


def tree_and_forest(
    split: Split, grid: Grid, *, max_depth: int | None, n_trees: int, seed: int, should_stop: StopCheck | None = None
) -> tuple[ModelBoundary, ModelBoundary]:
    """A decision tree (``max_depth``; None grows it until leaves are pure) and a random forest of ``n_trees``,
    grown ``TREES_PER_STEP`` at a time with a stop check between (``WorkCancelled``)."""
    if max_depth is not None and not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise SettingsError(f"Tree depth must be between 1 and {MAX_DEPTH_LIMIT}, not {max_depth}.")
    if not 1 <= n_trees <= MAX_TREES:
        raise SettingsError(f"The forest needs between 1 and {MAX_TREES} trees, not {n_trees}.")
    depth_label = "unlimited depth" if max_depth is None else f"depth ≤ {max_depth}"
    models = (
        (f"Decision tree ({depth_label})", DecisionTreeClassifier(max_depth=max_depth, random_state=seed)),
        (
            f"Random forest ({n_trees} trees, {depth_label})",
            RandomForestClassifier(n_estimators=n_trees, max_depth=max_depth, random_state=seed, n_jobs=1),
        ),
    )
    (tree_name, tree), (forest_name, forest) = models
    tree.fit(split.X_train, split.y_train)
    stop_point(should_stop)
    _grow_forest(forest, split, n_trees, should_stop)
    return _boundary(tree_name, tree, split, grid), _boundary(forest_name, forest, split, grid)


def _grow_forest(forest: RandomForestClassifier, split: Split, n_trees: int, should_stop: StopCheck | None) -> None:
    """Fit ``n_trees`` trees in steps. scikit-learn's warm start draws the seeds the skipped trees would have
    used, so the forest equals one grown in a single ``fit``."""
    if should_stop is None:
        forest.fit(split.X_train, split.y_train)
        return
    forest.set_params(warm_start=True)
    for grown in range(TREES_PER_STEP, n_trees + TREES_PER_STEP, TREES_PER_STEP):
        stop_point(should_stop)
        forest.set_params(n_estimators=min(grown, n_trees))
        forest.fit(split.X_train, split.y_train)


def _boundary(name: str, model, split: Split, grid: Grid) -> ModelBoundary:
    proba = np.zeros((len(grid.points), split.n_classes))
    proba[:, model.classes_] = model.predict_proba(grid.points)
    return ModelBoundary(
        name=name,
        proba=proba,
        labels=np.argmax(proba, axis=1),
        train_accuracy=float(model.score(split.X_train, split.y_train)),
        test_accuracy=float(model.score(split.X_test, split.y_test)) if split.n_test else float("nan"),
    )
