"""The seed's KNN written from scratch in plain numpy, and a count of where it disagrees with scikit-learn.

The seed's ``predict`` computes every distance, sorts ``[distance, index]`` pairs (so equal distances keep
the lower index first), takes the first K labels and returns ``Counter(targets).most_common(1)``. This
version keeps that loop, adds the seed's suggested improvements (inverse-distance weights, other metrics)
and breaks equal votes towards the lowest class, as scikit-learn does (``Counter.most_common`` would return
the class met first instead). Disagreements with scikit-learn can then only come from exact distance ties,
where the two pick different members among equally distant points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from services.knn.neighbours import DISTANCE_RTOL, VOTE_RTOL, Metric, check_k, check_weights, chunks, classifier
from services.workers import StopCheck


def scratch_predict_one(
    X_train: np.ndarray, y_train: np.ndarray, point: np.ndarray, k: int, weights: str, metric: Metric, n_classes: int
) -> tuple[int, bool]:
    """The label of one point, and whether it rests on a tie (equally distant points straddling the K-th
    place, or a distance-weighted vote within rounding of a draw)."""
    distances = metric.distances(point, X_train)
    order = np.argsort(distances, kind="stable")  # the seed's sorted([distance, i]) pairs
    nearest = order[:k]
    if weights == "uniform":
        neighbour_weights = np.ones(k)
    else:
        with np.errstate(divide="ignore"):
            neighbour_weights = 1.0 / distances[nearest]
        if np.isinf(neighbour_weights).any():  # on top of training points: only those vote
            neighbour_weights = np.isinf(neighbour_weights).astype(float)
    votes = np.bincount(y_train[nearest], weights=neighbour_weights, minlength=n_classes)
    label = int(np.argmax(votes))  # lowest class on equal votes
    tie = False
    if k < len(order):
        kth, following = distances[order[k - 1]], distances[order[k]]
        tie = following - kth <= DISTANCE_RTOL * following
    if weights == "distance" and n_classes > 1:
        top_two = np.sort(votes)[-2:]
        tie = tie or (top_two[1] - top_two[0]) <= VOTE_RTOL * top_two[1]
    return label, bool(tie)


def scratch_knn(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_query: np.ndarray,
    k: int,
    *,
    weights: str = "uniform",
    metric: Metric = Metric(),  # noqa: B008 (Metric is frozen: one shared immutable default)
    n_classes: int | None = None,
    should_stop: StopCheck | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and tie flags for every query point, one point at a time like the seed's ``kNearestNeighbor``.
    K larger than the training set is refused (the seed's 'Can't have more neighbors than training samples')."""
    check_k(k, len(y_train))
    check_weights(weights)
    n_classes = n_classes or int(np.max(y_train)) + 1
    results = [
        scratch_predict_one(X_train, y_train, point, k, weights, metric, n_classes)
        for rows in chunks(len(X_query), should_stop)  # a stop check every ~50 ms of points
        for point in X_query[rows]
    ]
    labels = np.array([label for label, _ in results], dtype=np.intp)
    ties = np.array([tie for _, tie in results], dtype=bool)
    return labels, ties


@dataclass(frozen=True)
class ScratchComparison:
    """How the from-scratch KNN compares with scikit-learn on the same points."""

    n_points: int
    disagreements: int
    disagreements_at_ties: int  # of those, how many sit on a tie (the only place they may differ)
    ties: int
    scratch_seconds: float
    sklearn_seconds: float
    scratch_labels: np.ndarray
    sklearn_labels: np.ndarray

    @property
    def disagreements_away_from_ties(self) -> int:
        return self.disagreements - self.disagreements_at_ties

    @property
    def points_away_from_ties(self) -> int:
        return self.n_points - self.ties

    @property
    def slowdown(self) -> float:
        """How many times longer the from-scratch loop took than scikit-learn."""
        return self.scratch_seconds / max(self.sklearn_seconds, 1e-9)


def compare_with_sklearn(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_query: np.ndarray,
    k: int,
    *,
    weights: str,
    metric: Metric,
    n_classes: int,
    should_stop: StopCheck | None = None,
) -> ScratchComparison:
    started = time.perf_counter()
    scratch, ties = scratch_knn(
        X_train, y_train, X_query, k, weights=weights, metric=metric, n_classes=n_classes, should_stop=should_stop
    )
    scratch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reference = classifier(k, weights, metric).fit(X_train, y_train).predict(X_query)
    sklearn_seconds = time.perf_counter() - started
    differ = scratch != reference
    return ScratchComparison(
        n_points=len(X_query),
        disagreements=int(differ.sum()),
        disagreements_at_ties=int((differ & ties).sum()),
        ties=int(ties.sum()),
        scratch_seconds=scratch_seconds,
        sklearn_seconds=sklearn_seconds,
        scratch_labels=scratch,
        sklearn_labels=reference,
    )
