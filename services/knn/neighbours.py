"""One neighbour query, every K: the engine behind the live K slider and the fast cross-validation.

A KNN vote at K only looks at the K nearest training points, and those are the first K of the K_max
nearest. So one query at the largest K we need (sorted distances and indices per query point) gives the
vote for every smaller K: running class scores along the neighbour ranks (``VoteTable.cumulative``) turn a
K change into a lookup.

Equality with scikit-learn's ``KNeighborsClassifier``:

* the table comes from scikit-learn's own KD-tree with the same metric, so distances are bit-identical to
  the ones the classifier uses with its default ``algorithm="auto"`` (a KD-tree while K < n_train / 2);
* class scores are accumulated neighbour by neighbour in distance order, as ``predict_proba`` does, and
  ``argmax`` picks the lowest class on equal votes, as scikit-learn does. Labels are therefore equal;
  uniform probabilities (count / K) are equal too, and distance-weighted ones agree to a few ulps (the two
  sums of 1/d round differently in the last bit on some CPUs' SIMD kernels; the tests allow 1e-12);
* what is left is which of several *equally distant* training points fill the last places of the K
  nearest. The table orders them by training index (a stable sort); scikit-learn's KD-tree or heap may
  choose others, and its brute-force search (K >= n_train / 2) rounds distances differently in the last
  bit. Query points where that choice could change the vote (the equally distant points, to within
  ``DISTANCE_RTOL``, have different classes) are flagged in ``Votes.ties``, and so are distance-weighted
  votes whose two best classes are closer than ``VOTE_RTOL`` (the summation order could flip them).
  ``ExactPredictor`` then settles exactly those points the way scikit-learn does.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.neighbors import KDTree, KNeighborsClassifier
from sklearn.utils.extmath import weighted_mode
from threadpoolctl import ThreadpoolController

from services.knn.errors import NeighbourCountError, SettingsError
from services.workers import StopCheck, stop_point

WEIGHTS = ("uniform", "distance")
METRICS = ("euclidean", "manhattan", "chebyshev", "minkowski")
MIN_P, MAX_P = 1.0, 10.0
#: Distances this close (relative) count as equal: scikit-learn's KD-tree and brute force differ by an ulp.
DISTANCE_RTOL = 1e-12
#: Distance-weighted votes closer than this (relative) count as ties: summation order may decide them.
VOTE_RTOL = 1e-9
#: scikit-learn's default KD-tree leaf size (the tree shape decides which of equally distant points it returns).
LEAF_SIZE = 30
#: Smallest table depth: the first query covers K up to 15 without a second one.
MIN_TABLE_DEPTH = 16
#: With a ``should_stop`` check, query points go to the KD-tree in chunks that take about this long (timed,
#: and resized after each), so no single call runs long whatever the data: a crowd of coincident training
#: points makes each query read all of it. The answers do not depend on the chunking.
CHUNK_SECONDS = 0.05
FIRST_CHUNK = 64


@dataclass(frozen=True)
class Metric:
    """A distance: euclidean, manhattan, chebyshev, or minkowski with power ``p`` (1 <= p <= 10)."""

    name: str = "euclidean"
    p: float = 2.0

    def __post_init__(self) -> None:
        if self.name not in METRICS:
            raise SettingsError(f"Unknown metric {self.name!r}; choose one of {', '.join(METRICS)}.")
        if self.name == "minkowski" and not MIN_P <= self.p <= MAX_P:
            raise SettingsError(f"The Minkowski power p must be between {MIN_P:g} and {MAX_P:g}, not {self.p}.")

    def sklearn_params(self) -> dict:
        """Keyword arguments for scikit-learn's neighbour estimators."""
        if self.name == "minkowski":
            return {"metric": "minkowski", "p": float(self.p)}
        return {"metric": self.name}

    def tree_params(self) -> dict:
        """The metric as scikit-learn hands it to its KD-tree (``effective_metric_``: minkowski with p = 1 or 2
        becomes manhattan or euclidean), so our tree is built exactly like the classifier's."""
        if self.name == "minkowski" and self.p in (1, 2):
            return {"metric": "manhattan" if self.p == 1 else "euclidean"}
        return self.sklearn_params()

    @property
    def is_euclidean(self) -> bool:
        """Whether scikit-learn treats it as the euclidean distance (it then uses a GEMM shortcut in brute force)."""
        return self.name == "euclidean" or (self.name == "minkowski" and self.p == 2)

    @property
    def label(self) -> str:
        return f"Minkowski (p = {self.p:g})" if self.name == "minkowski" else self.name.capitalize()

    def distances(self, point: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Plain-numpy distances from one point to many (the from-scratch KNN's arithmetic)."""
        diff = np.abs(points - point)
        if self.name == "euclidean":
            return np.sqrt(np.sum(diff * diff, axis=1))
        if self.name == "manhattan":
            return np.sum(diff, axis=1)
        if self.name == "chebyshev":
            return np.max(diff, axis=1)
        return np.sum(diff**self.p, axis=1) ** (1.0 / self.p)


def check_weights(weights: str) -> str:
    if weights not in WEIGHTS:
        raise SettingsError(f"Unknown weighting {weights!r}; choose one of {', '.join(WEIGHTS)}.")
    return weights


def check_k(k: int, n_train: int) -> int:
    """K itself, or a ``NeighbourCountError`` that says why it cannot be used."""
    if k < 1:
        raise NeighbourCountError(f"K must be at least 1, not {k}.")
    if k > n_train:
        raise NeighbourCountError(
            f"K = {k} is more than the {n_train} training points: a vote cannot have more neighbours than "
            f"there are points. Choose K ≤ {n_train}."
        )
    return int(k)


def classifier(k: int, weights: str, metric: Metric) -> KNeighborsClassifier:
    """The scikit-learn model this engine reproduces (default algorithm and leaf size)."""
    return KNeighborsClassifier(n_neighbors=k, weights=check_weights(weights), **metric.sklearn_params())


def chunks(n: int, should_stop: StopCheck | None) -> Iterator[slice]:
    """Row ranges covering ``0..n``: one without a stop check, else timed chunks with a check before each."""
    if should_stop is None:
        yield slice(0, n)
        return
    start, size = 0, FIRST_CHUNK
    while start < n:
        stop_point(should_stop)
        began = time.perf_counter()
        yield slice(start, min(n, start + size))
        start += size
        growth = CHUNK_SECONDS / max(time.perf_counter() - began, 1e-6)
        size = max(1, int(size * min(4.0, growth)))


def chunked_query(tree: KDTree, points: np.ndarray, k: int, should_stop: StopCheck | None = None):
    """``tree.query(points, k=k)`` in chunks with a stop check between them (the same arrays)."""
    if should_stop is None:
        return tree.query(points, k=k)
    distances, indices = np.empty((len(points), k)), np.empty((len(points), k), dtype=np.intp)
    for rows in chunks(len(points), should_stop):
        distances[rows], indices[rows] = tree.query(points[rows], k=k)
    return distances, indices


def build_tree(train_X: np.ndarray, metric: Metric) -> KDTree:
    """The KD-tree ``KNeighborsClassifier`` builds for these points (same leaf size and metric): querying it
    reproduces the classifier's neighbours, ties included."""
    return KDTree(np.asarray(train_X, dtype=np.float64), leaf_size=LEAF_SIZE, **metric.tree_params())


def table_bytes(n_queries: int, depth: int, n_classes: int) -> int:
    """Memory of a neighbour table with its running votes: per query and rank a float64 distance, an int32
    index, an int16 label and one float64 vote per class."""
    return n_queries * depth * (8 + 4 + 2 + 8 * n_classes)


def table_depth(k: int, n_train: int) -> int:
    """How many neighbours to fetch so that K and its neighbourhood need no new query: the next power of two
    above K (at least ``MIN_TABLE_DEPTH``), never more than the training points."""
    check_k(k, n_train)
    return int(min(n_train, max(MIN_TABLE_DEPTH, 1 << int(k).bit_length())))


def largest_k(depth: int, n_train: int) -> int:
    """The largest K a table ``depth`` deep serves: the (K+1)-th neighbour is needed to see a tie, unless the
    table already holds every training point."""
    return depth - 1 if depth < n_train else depth


@dataclass(frozen=True)
class NeighbourTable:
    """The ``depth`` nearest training points of every query point, rank-major: row ``r`` holds every query's
    (r+1)-th nearest. Equal distances are ordered by training index."""

    distances: np.ndarray  # (depth, n_queries) float64
    indices: np.ndarray  # (depth, n_queries) int32, rows of the training set
    labels: np.ndarray  # (depth, n_queries) int16 class codes of those neighbours
    n_train: int
    n_classes: int

    @property
    def depth(self) -> int:
        return self.distances.shape[0]

    @property
    def n_queries(self) -> int:
        return self.distances.shape[1]


def neighbour_table(
    train_X: np.ndarray,
    train_y: np.ndarray,
    queries: np.ndarray,
    depth: int,
    metric: Metric,
    n_classes: int,
    *,
    tree: KDTree | None = None,
    should_stop: StopCheck | None = None,
) -> NeighbourTable:
    """One KD-tree query at ``depth`` neighbours for all query points (``tree``: ``build_tree(train_X, metric)``
    when the caller already has it), in stoppable chunks when ``should_stop`` is given."""
    n_train = len(train_y)
    depth = check_k(depth, n_train)
    tree = tree or build_tree(train_X, metric)
    distances, indices = chunked_query(tree, np.asarray(queries, dtype=np.float64), depth, should_stop)
    _order_equal_distances_by_index(distances, indices)
    indices_by_rank = np.ascontiguousarray(indices.T, dtype=np.int32)
    return NeighbourTable(
        distances=np.ascontiguousarray(distances.T),
        indices=indices_by_rank,
        labels=np.asarray(train_y, dtype=np.int16)[indices_by_rank],
        n_train=n_train,
        n_classes=n_classes,
    )


def _order_equal_distances_by_index(distances: np.ndarray, indices: np.ndarray) -> None:
    """In place, per query: within runs of equal distances, lower training indices first (a stable order)."""
    rows = np.flatnonzero((distances[:, 1:] == distances[:, :-1]).any(axis=1))
    if len(rows) == 0:
        return
    order = np.lexsort((indices[rows], distances[rows]), axis=-1)
    distances[rows] = np.take_along_axis(distances[rows], order, axis=1)
    indices[rows] = np.take_along_axis(indices[rows], order, axis=1)


@dataclass(frozen=True)
class VoteTable:
    """Running class scores along the neighbour ranks: ``cumulative[r, c, q]`` is the vote for class ``c`` at
    query ``q`` from its ``r + 1`` nearest neighbours (a count, or a sum of inverse distances)."""

    table: NeighbourTable
    weights: str
    cumulative: np.ndarray  # (depth, n_classes, n_queries) float64

    def scores_at(self, k: int) -> np.ndarray:
        """(n_queries, n_classes) class scores from the K nearest neighbours."""
        return np.ascontiguousarray(self.cumulative[k - 1].T)


def vote_table(table: NeighbourTable, weights: str) -> VoteTable:
    """Accumulate the neighbour weights rank by rank, per class (the order ``predict_proba`` adds them in)."""
    check_weights(weights)
    cumulative = np.empty((table.depth, table.n_classes, table.n_queries))
    if weights == "uniform":
        for code in range(table.n_classes):
            np.cumsum(table.labels == code, axis=0, dtype=np.float64, out=cumulative[:, code])
        return VoteTable(table=table, weights=weights, cumulative=cumulative)
    with np.errstate(divide="ignore"):
        neighbour_weights = 1.0 / table.distances
    # A query point on top of training points takes its vote from those points only, one each
    # (scikit-learn's rule). Such points sort first, so the rule holds for every K alike.
    infinite = np.isinf(neighbour_weights)
    exact = infinite[0]
    neighbour_weights[:, exact] = infinite[:, exact]
    for code in range(table.n_classes):
        np.cumsum(np.where(table.labels == code, neighbour_weights, 0.0), axis=0, out=cumulative[:, code])
    return VoteTable(table=table, weights=weights, cumulative=cumulative)


@dataclass(frozen=True)
class Votes:
    """The K-nearest-neighbour vote of every query point."""

    k: int
    weights: str
    scores: np.ndarray  # (n, n_classes): neighbour counts, or summed inverse distances
    proba: np.ndarray  # (n, n_classes), as scikit-learn's predict_proba
    labels: np.ndarray  # (n,) class codes, as scikit-learn's predict
    ties: np.ndarray  # (n,) bool: the label depends on tie-breaking (see the module docstring)

    @property
    def tie_count(self) -> int:
        return int(self.ties.sum())


def votes_at(votes: VoteTable, k: int) -> Votes:
    """Scores, probabilities, labels and ties at K: one row of the running scores."""
    table = votes.table
    k = check_k(k, table.n_train)
    if k > table.depth or (k == table.depth and k < table.n_train):
        raise NeighbourCountError(
            f"The neighbour table holds {table.depth} neighbours; K = {k} needs {min(k + 1, table.n_train)}."
        )
    scores = votes.scores_at(k)
    proba = scores / scores.sum(axis=1)[:, np.newaxis]
    ties = _boundary_ties(table, k)
    if votes.weights == "distance":
        ties |= _close_votes(scores)
    return Votes(k=k, weights=votes.weights, scores=scores, proba=proba, labels=np.argmax(proba, axis=1), ties=ties)


def _boundary_ties(table: NeighbourTable, k: int) -> np.ndarray:
    """Query points whose K-th and (K+1)-th neighbours are equally far, where the equally far points have
    different classes (or run past the end of the table), so the tie-breaking rule picks the vote."""
    ties = np.zeros(table.n_queries, dtype=bool)
    if k >= table.n_train:
        return ties
    last, following = table.distances[k - 1], table.distances[k]
    rows = np.flatnonzero(following - last <= DISTANCE_RTOL * following)
    if len(rows) == 0:
        return ties
    tolerance = DISTANCE_RTOL * following[rows]
    group = np.abs(table.distances[:, rows] - last[rows]) <= tolerance
    group_labels = table.labels[:, rows]
    lowest = np.where(group, group_labels, np.iinfo(np.int16).max).min(axis=0)
    highest = np.where(group, group_labels, -1).max(axis=0)
    runs_off_table = group[-1] & (table.depth < table.n_train)
    ties[rows] = (lowest != highest) | runs_off_table
    return ties


def _close_votes(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] < 2:
        return np.zeros(len(scores), dtype=bool)
    top_two = -np.partition(-scores, 1, axis=1)[:, :2]
    return (top_two[:, 0] - top_two[:, 1]) <= VOTE_RTOL * top_two[:, 0]


def sweep_ks(n_train: int, largest: int = 49, frames: int = 25) -> list[int]:
    """Odd K values from 1 to ``largest`` (capped by the training points) for the K-sweep animation, at most
    ``frames`` of them, evenly spread."""
    odd = list(range(1, min(largest, n_train) + 1, 2))
    if len(odd) <= frames:
        return odd
    picks = np.unique(np.round(np.linspace(0, len(odd) - 1, frames)).astype(int))
    return [odd[i] for i in picks]


class ExactPredictor:
    """KNN votes of fixed query points for any K up to ``max_k``, from one neighbour query, with ties settled
    as scikit-learn settles them.

    While scikit-learn uses its KD-tree (K < n_train / 2, its ``algorithm="auto"`` rule in low dimensions) a
    tied point is settled by asking the very same tree for exactly K neighbours and voting as scikit-learn
    does; beyond that (brute force) by scikit-learn's classifier itself. ``predict`` equals
    ``classifier(k, weights, metric).fit(train_X, train_y).predict(eval_X)`` for every K.
    """

    def __init__(
        self,
        train_X: np.ndarray,
        train_y: np.ndarray,
        eval_X: np.ndarray,
        *,
        max_k: int,
        weights: str,
        metric: Metric,
        n_classes: int,
        should_stop: StopCheck | None = None,
    ) -> None:
        # Equal query points get equal answers, so only the distinct ones are asked (coincident points would
        # otherwise repeat the most expensive queries: a crowd of equally distant neighbours is read in full).
        self.eval_X, self._inverse = np.unique(np.asarray(eval_X, dtype=np.float64), axis=0, return_inverse=True)
        self._inverse = self._inverse.ravel()
        self.train_X, self.train_y = train_X, train_y
        self.weights, self.metric, self.n_classes = check_weights(weights), metric, n_classes
        n_train = len(train_y)
        self.max_k = check_k(max_k, n_train)
        self._tree = build_tree(train_X, metric)
        self._classes, self._codes = np.unique(train_y, return_inverse=True)
        depth = min(max_k + 1, n_train)
        table = neighbour_table(
            train_X, train_y, self.eval_X, depth, metric, n_classes, tree=self._tree, should_stop=should_stop
        )
        self._votes = vote_table(table, weights)
        # Tie-breaking work so far, for a caller that meters it: rows asked again of the KD-tree (each costs a
        # tree query of K, a whole crowd when it reaches one) and rows asked of brute force (n_train each).
        self.tree_requeries = 0
        self.brute_requeries = 0

    @property
    def depth(self) -> int:
        return self._votes.table.depth

    def _check(self, k: int) -> int:
        if k > self.max_k:
            raise NeighbourCountError(f"This predictor was built for K ≤ {self.max_k}, not {k}.")
        return check_k(k, len(self.train_y))

    def _brute_force(self, k: int) -> bool:
        return k >= len(self.train_y) // 2

    def votes(self, k: int, should_stop: StopCheck | None = None) -> Votes:
        """Votes at K; points flagged in ``ties`` carry scikit-learn's label and probabilities."""
        votes = self._distinct_votes(k, should_stop)
        at = self._inverse
        return Votes(
            k=k, weights=self.weights, scores=votes.scores[at], proba=votes.proba[at], labels=votes.labels[at],
            ties=votes.ties[at],
        )

    def _distinct_votes(self, k: int, should_stop: StopCheck | None) -> Votes:
        votes = votes_at(self._votes, self._check(k))
        rows = np.flatnonzero(votes.ties)
        if len(rows) == 0:
            return votes
        labels, proba = votes.labels.copy(), votes.proba.copy()
        if self._brute_force(k):
            with self._one_thread():
                reference = classifier(k, self.weights, self.metric).fit(self.train_X, self.train_y)
                proba[rows] = 0.0
                proba[np.ix_(rows, reference.classes_)] = reference.predict_proba(self.eval_X[rows])
                labels[rows] = reference.predict(self.eval_X[rows])
        else:
            distances, indices = chunked_query(self._tree, self.eval_X[rows], k, should_stop)
            codes = self._codes[indices]
            proba[rows] = 0.0
            proba[np.ix_(rows, self._classes)] = _sklearn_proba(codes, distances, len(self._classes), self.weights)
            labels[rows] = self._classes[_sklearn_vote(codes, distances, len(self._classes), self.weights)]
        return Votes(k=k, weights=self.weights, scores=votes.scores, proba=proba, labels=labels, ties=votes.ties)

    def predict(self, k: int, should_stop: StopCheck | None = None) -> tuple[np.ndarray, int]:
        """Labels at K, equal to scikit-learn's ``predict``, and how many of them rested on a tie."""
        labels, tied = self._distinct_predict(self._check(k), should_stop)
        return labels[self._inverse], int(tied[self._inverse].sum())

    def _distinct_predict(self, k: int, should_stop: StopCheck | None) -> tuple[np.ndarray, np.ndarray]:
        """Labels of the distinct query points and which of them rested on a tie."""
        if self._brute_force(k) and self.weights == "distance" and self.metric.is_euclidean:
            # Brute-force euclidean distances come from a matrix-product shortcut, not bit-equal to the
            # KD-tree's, and distance weights see the difference: scikit-learn votes for every point here.
            with self._one_thread():
                reference = classifier(k, self.weights, self.metric).fit(self.train_X, self.train_y)
                self.brute_requeries += len(self.eval_X)
                return reference.predict(self.eval_X), np.ones(len(self.eval_X), dtype=bool)
        votes = votes_at(self._votes, k)
        rows = np.flatnonzero(votes.ties)
        if self.weights == "uniform" and len(rows):
            rows = rows[~_uniform_label_settled(self._votes, k, rows)]
        if len(rows) == 0:
            return votes.labels, votes.ties
        labels = votes.labels.copy()
        if self._brute_force(k):
            with self._one_thread():
                reference = classifier(k, self.weights, self.metric).fit(self.train_X, self.train_y)
                labels[rows] = reference.predict(self.eval_X[rows])
            self.brute_requeries += len(rows)
        else:
            distances, indices = chunked_query(self._tree, self.eval_X[rows], k, should_stop)
            self.tree_requeries += len(rows)
            codes = _sklearn_vote(self._codes[indices], distances, len(self._classes), self.weights)
            labels[rows] = self._classes[codes]
        return labels, votes.ties

    def _one_thread(self):
        """Run scikit-learn's brute force on one OpenMP thread when that cannot change its answer: its
        uniform vote works row by row, and with at most one chunk of training points no heaps are merged
        across threads. Small problems then skip the thread start-up, which dominates on a busy machine."""
        if self.weights == "uniform" or len(self.train_y) <= sklearn.get_config()["pairwise_dist_chunk_size"]:
            return _thread_controller().limit(limits=1, user_api="openmp")
        return contextlib.nullcontext()


@functools.cache
def _thread_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _uniform_label_settled(votes: VoteTable, k: int, rows: np.ndarray) -> np.ndarray:
    """For tied query points under uniform votes: whether every choice among the equally distant points
    gives the same label, so no tie-breaking is needed.

    With ``S`` the counts of the strictly closer neighbours, ``g`` the class counts of the equally distant
    group and ``m`` the places left for it, class ``c`` ends with between ``S_c + max(0, m - (|g| - g_c))``
    and ``S_c + min(m, g_c)`` votes. The label is settled when one class beats every other even at its
    worst and their best (equal counts go to the lower class)."""
    table = votes.table
    distances, labels = table.distances[:, rows], table.labels[:, rows]
    last = distances[k - 1]
    group = np.abs(distances - last) <= DISTANCE_RTOL * table.distances[k, rows]
    first = np.argmax(group, axis=0)
    closer = np.arange(table.depth)[:, np.newaxis] < first
    group_size = group.sum(axis=0)
    places = k - first
    lowest, highest = [], []
    for code in range(table.n_classes):
        of_class = labels == code
        before = (of_class & closer).sum(axis=0)
        in_group = (of_class & group).sum(axis=0)
        lowest.append(before + np.maximum(0, places - (group_size - in_group)))
        highest.append(before + np.minimum(places, in_group))
    settled = np.zeros(len(rows), dtype=bool)
    for winner in range(table.n_classes):
        beats_all = np.ones(len(rows), dtype=bool)
        for other in range(table.n_classes):
            if other != winner:
                margin = lowest[winner] - highest[other]
                beats_all &= (margin > 0) | ((margin == 0) & (winner < other))
        settled |= beats_all
    return settled & ~(group[-1] & (table.depth < table.n_train))


def _inverse_distance_weights(distances: np.ndarray) -> np.ndarray:
    """scikit-learn's ``_get_weights(dist, "distance")``: 1/d, or for rows touching a training point, 1 for
    the touching neighbours and 0 for the others."""
    with np.errstate(divide="ignore"):
        inverse = 1.0 / distances
    infinite = np.isinf(inverse)
    exact_rows = infinite.any(axis=1)
    inverse[exact_rows] = infinite[exact_rows]
    return inverse


def _sklearn_proba(codes: np.ndarray, distances: np.ndarray, n_classes: int, weights: str) -> np.ndarray:
    """``predict_proba`` after the KD-tree query: weights added neighbour by neighbour, then normalised."""
    neighbour_weights = np.ones(codes.shape) if weights == "uniform" else _inverse_distance_weights(distances)
    proba = np.zeros((len(codes), n_classes))
    rows = np.arange(len(codes))
    for rank in range(codes.shape[1]):
        proba[rows, codes[:, rank]] += neighbour_weights[:, rank]
    return proba / proba.sum(axis=1)[:, np.newaxis]


def _sklearn_vote(codes: np.ndarray, distances: np.ndarray, n_classes: int, weights: str) -> np.ndarray:
    """``predict`` after the KD-tree query: the most frequent (or heaviest) class index, lowest on a draw."""
    if weights == "uniform":
        counts = np.stack([(codes == c).sum(axis=1) for c in range(n_classes)], axis=1)
        return np.argmax(counts, axis=1)
    mode, _ = weighted_mode(codes, _inverse_distance_weights(distances), axis=1)
    return np.asarray(mode.ravel(), dtype=np.intp)
