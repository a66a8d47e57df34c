"""Accuracy, the cross-validated error curve and the learning curve: scikit-learn's predictions, so its errors.

``cross_val_score`` refits a classifier for every K and every fold (25 x 10 fits for the seed's odd K up to
49). Here each fold gets one neighbour query at the largest K, and every K is read off it. Predictions that
rest on a tie are settled by scikit-learn's own tie-breaking (``services.knn.neighbours.ExactPredictor``),
so every prediction equals the refitted classifier's and the curves equal ``cross_val_score``'s (averaging
the fold errors may round differently in the last bit: the tests allow 1e-12); they report how many
predictions rested on a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from services.knn.errors import NeighbourCountError, SplitError
from services.knn.neighbours import ExactPredictor, Metric, check_k, classifier, table_bytes
from services.knn.preprocess import MAX_TABLE_BYTES, Split, make_scaler
from services.knn.workload import crowding
from services.workers import StopCheck, stop_point

#: The seed's search: odd K from 1 to 49 with 10-fold cross-validation.
DEFAULT_KS = tuple(range(1, 50, 2))
DEFAULT_FOLDS = 10
MIN_FOLDS, MAX_FOLDS = 2, 20


class _WorkMeter:
    """Distance evaluations a curve has cost so far (``services.knn.workload``'s estimates, counted as the work
    is done), against ``limit``: a curve stops adding K values once over it, so tie-heavy data gets fewer K
    values, and ordinary data, with few ties, all of them."""

    def __init__(self, X: np.ndarray, y: np.ndarray, limit: int | None) -> None:
        self.limit = limit
        self.per_query = crowding(X, y).per_query() if limit is not None else 0

    def cost(self, predictor: ExactPredictor) -> int:
        """The predictor's table query and its tie-breaking queries so far."""
        table = len(predictor.eval_X) * max(self.per_query, predictor.depth)
        return table + predictor.tree_requeries * self.per_query + predictor.brute_requeries * len(predictor.train_y)

    def over(self, spent: int) -> bool:
        return self.limit is not None and spent > self.limit

    def note(self, ks: tuple[int, ...], kept: int) -> str:
        if kept == len(ks):
            return ""
        return (
            f"Computed for K ≤ {ks[kept - 1]} only ({kept} of the {len(ks)} values asked): many predictions here rest "
            "on ties between equally distant training points, each settled by a new neighbour query, and the other "
            f"values would exceed the limit of {self.limit:,} distance evaluations per request."
        )


def _checked_ks(ks: Sequence[int]) -> tuple[int, ...]:
    values = tuple(sorted({int(k) for k in ks}))
    if not values:
        raise NeighbourCountError("Give at least one K.")
    if values[0] < 1:
        raise NeighbourCountError(f"K must be at least 1, not {values[0]}.")
    return values


@dataclass(frozen=True)
class SplitScores:
    """Predictions and accuracy at one K on the training points (each its own neighbour) and test points,
    as ``knn.score(X_train, y_train)`` and ``knn.score(X_test, y_test)`` report them."""

    k: int
    train_pred: np.ndarray
    test_pred: np.ndarray
    train_accuracy: float
    test_accuracy: float
    delegated: int


class SplitPredictors:
    """Training-point and test-point predictions of one split for any K up to ``max_k`` (two queries).

    When the tables for a very large K would not fit in ``MAX_TABLE_BYTES``, each K is predicted by
    scikit-learn directly instead (the same numbers, without the shortcut)."""

    def __init__(
        self, split: Split, *, max_k: int, weights: str, metric: Metric, should_stop: StopCheck | None = None
    ) -> None:
        self.split, self.max_k, self.weights, self.metric = split, check_k(max_k, split.n_train), weights, metric
        depth = min(max_k + 1, split.n_train)
        self.direct = table_bytes(split.n_train + split.n_test, depth, split.n_classes) > MAX_TABLE_BYTES
        self._predictors = () if self.direct else tuple(
            ExactPredictor(
                split.X_train, split.y_train, points, max_k=max_k, weights=weights, metric=metric,
                n_classes=split.n_classes, should_stop=should_stop,
            )
            for points in (split.X_train, split.X_test)
        )

    def _predict(self, k: int) -> tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]]:
        if not self.direct:
            return self._predictors[0].predict(k), self._predictors[1].predict(k)
        if k > self.max_k:
            raise NeighbourCountError(f"These predictors were built for K ≤ {self.max_k}, not {k}.")
        model = classifier(k, self.weights, self.metric).fit(self.split.X_train, self.split.y_train)
        return (model.predict(self.split.X_train), 0), (model.predict(self.split.X_test), 0)

    def scores(self, k: int) -> SplitScores:
        (train_pred, train_ties), (test_pred, test_ties) = self._predict(k)
        return SplitScores(
            k=k,
            train_pred=train_pred,
            test_pred=test_pred,
            train_accuracy=float(np.mean(train_pred == self.split.y_train)),
            test_accuracy=float(np.mean(test_pred == self.split.y_test)) if self.split.n_test else float("nan"),
            delegated=train_ties + test_ties,
        )


def split_scores(split: Split, k: int, *, weights: str, metric: Metric) -> SplitScores:
    """Accuracy at one K (builds the predictors for just this K)."""
    return SplitPredictors(split, max_k=check_k(k, split.n_train), weights=weights, metric=metric).scores(k)


@dataclass(frozen=True)
class CvCurve:
    """Mean k-fold misclassification error against K (the seed's 'MSE' list, 1 - mean accuracy)."""

    ks: np.ndarray
    errors: np.ndarray  # (len(ks),)
    fold_errors: np.ndarray  # (n_folds, len(ks))
    n_folds: int
    delegated: int
    note: str = ""  # why fewer K values than asked were computed ("" when all were)

    @property
    def best_k(self) -> int:
        """The K with the lowest error; the smallest such K on equal errors (the seed's ``MSE.index(min(MSE))``)."""
        return int(self.ks[int(np.argmin(self.errors))])

    @property
    def best_error(self) -> float:
        return float(self.errors.min())


def fold_indices(y: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds ``cross_val_score(..., cv=n_folds)`` uses for a classifier: unshuffled stratified folds."""
    if not MIN_FOLDS <= n_folds <= MAX_FOLDS:
        raise SplitError(f"The number of folds must be between {MIN_FOLDS} and {MAX_FOLDS}, not {n_folds}.")
    counts = np.bincount(y)
    if n_folds > len(y):
        raise SplitError(f"{n_folds}-fold cross-validation needs at least {n_folds} training points, not {len(y)}.")
    if n_folds > counts[counts > 0].max():
        raise SplitError(
            f"{n_folds}-fold cross-validation needs a class with at least {n_folds} training points; "
            f"the largest class has {counts.max()}."
        )
    return list(StratifiedKFold(n_splits=n_folds).split(np.zeros((len(y), 1)), y))


def max_cv_k(y: np.ndarray, n_folds: int = DEFAULT_FOLDS) -> int:
    """The largest K every cross-validation training fold can support."""
    return int(min(len(train) for train, _ in fold_indices(y, n_folds)))


def cv_error_curve(
    X: np.ndarray,
    y: np.ndarray,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    weights: str = "uniform",
    metric: Metric = Metric(),  # noqa: B008 (Metric is frozen: one shared immutable default)
    scaling: str = "none",
    n_folds: int = DEFAULT_FOLDS,
    n_classes: int | None = None,
    should_stop: StopCheck | None = None,
    max_evaluations: int | None = None,
) -> CvCurve:
    """The ``cross_val_score`` error curve, one neighbour query per fold. With scaling, the scaler is refitted
    on each fold's training part (as ``make_pipeline(scaler, knn)`` in ``cross_val_score`` does). With
    ``should_stop`` it stops (``WorkCancelled``) between folds, K values and chunks of query points. With
    ``max_evaluations`` it keeps only the first K values that fit that much work (each fold gets its share)."""
    ks = _checked_ks(ks)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    n_classes = n_classes or int(y.max()) + 1
    folds = fold_indices(y, n_folds)
    smallest = min(len(train) for train, _ in folds)
    if ks[-1] > smallest:
        raise NeighbourCountError(
            f"K = {ks[-1]} needs {ks[-1]} points in every cross-validation training fold; the smallest "
            f"fold has {smallest}. Choose K ≤ {smallest}."
        )
    accuracy = np.empty((len(folds), len(ks)))
    delegated = 0
    meter = _WorkMeter(X, y, None if max_evaluations is None else max_evaluations // len(folds))
    kept = len(ks)
    for fold, (train, held_out) in enumerate(folds):
        stop_point(should_stop)
        scaler = make_scaler(scaling)
        X_train, X_held = X[train], X[held_out]
        if scaler is not None:
            X_train = scaler.fit_transform(X_train)
            X_held = scaler.transform(X_held)
        predictor = ExactPredictor(
            X_train, y[train], X_held, max_k=ks[-1], weights=weights, metric=metric, n_classes=n_classes,
            should_stop=should_stop,
        )
        for column, k in enumerate(ks[:kept]):
            stop_point(should_stop)
            labels, tied = predictor.predict(k, should_stop)
            accuracy[fold, column] = np.mean(labels == y[held_out])
            delegated += tied
            if column + 1 < kept and meter.over(meter.cost(predictor)):
                kept = column + 1
    accuracy = accuracy[:, :kept]
    mean_accuracy = np.ascontiguousarray(accuracy.T).mean(axis=1)  # one 1-D mean per K, as scores.mean()
    return CvCurve(
        ks=np.array(ks[:kept]),
        errors=1.0 - mean_accuracy,
        fold_errors=1.0 - accuracy,
        n_folds=n_folds,
        delegated=delegated,
        note=meter.note(ks, kept),
    )


@dataclass(frozen=True)
class LearningCurve:
    """Training and test error against K on one split: small K fits the training points (low bias, high
    variance), large K smooths over them."""

    ks: np.ndarray
    train_errors: np.ndarray
    test_errors: np.ndarray
    delegated: int
    conflicting_points: int = 0  # training points sharing their coordinates with a point of another class
    note: str = ""  # why fewer K values than asked were computed ("" when all were)


def conflicting_points(X: np.ndarray, y: np.ndarray) -> int:
    """Training points at a location that also holds a point of another class: no K fits all of those, so
    the training error at K = 1 is not 0 when there are any."""
    _, groups = np.unique(np.asarray(X, dtype=np.float64), axis=0, return_inverse=True)
    groups = groups.ravel()
    pairs = np.unique(np.column_stack([groups, np.asarray(y)]), axis=0)
    classes_per_group = np.bincount(pairs[:, 0], minlength=groups.max() + 1)
    return int((classes_per_group[groups] > 1).sum())


def learning_curve(
    split: Split,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    weights: str,
    metric: Metric,
    should_stop: StopCheck | None = None,
    max_evaluations: int | None = None,
) -> LearningCurve:
    """Training and test error at every K (stoppable between K values and chunks with ``should_stop``; with
    ``max_evaluations``, only the first K values that fit that much work)."""
    ks = _checked_ks(ks)
    check_k(ks[-1], split.n_train)
    meter = _WorkMeter(split.X_train, split.y_train, max_evaluations)
    sides = [
        (truth, ExactPredictor(
            split.X_train, split.y_train, points, max_k=ks[-1], weights=weights, metric=metric,
            n_classes=split.n_classes, should_stop=should_stop,
        ))
        for points, truth in ((split.X_train, split.y_train), (split.X_test, split.y_test))
    ]
    errors: list[list[float]] = [[], []]
    delegated = 0
    for k in ks:
        stop_point(should_stop)
        for curve, (truth, predictor) in zip(errors, sides):
            labels, tied = predictor.predict(k, should_stop)
            curve.append(1.0 - np.mean(labels == truth))
            delegated += tied
        if len(errors[0]) < len(ks) and meter.over(sum(meter.cost(predictor) for _, predictor in sides)):
            break
    kept = len(errors[0])
    return LearningCurve(
        ks=np.array(ks[:kept]), train_errors=np.array(errors[0]), test_errors=np.array(errors[1]), delegated=delegated,
        conflicting_points=conflicting_points(split.X_train, split.y_train), note=meter.note(ks, kept),
    )
