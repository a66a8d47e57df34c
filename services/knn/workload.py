"""Work estimates checked before a neighbour query starts, so tie-heavy data gets a smaller job, not a stall.

A KD-tree prunes a branch only when it is farther than the current K-th neighbour. Among training points that
share one location every distance is equal, so a query that reaches such a crowd reads all of it, and a
prediction that rests on a tie is asked again for each K. The cost of a request is therefore about
``distinct queries x max(crowd, a tree descent) x queries per point``; ``budget.KNN_MAX_DISTANCE_EVALUATIONS``
caps it: the grid is sized before its query (``affordable_resolution``), and the curves meter their tie
re-queries as they go (``services.knn.evaluation``), so ordinary data, with few ties, keeps every K value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services import budget
from services.knn.errors import WorkloadError
from services.knn.neighbours import LEAF_SIZE


@dataclass(frozen=True)
class Crowding:
    """How many training points coincide: the largest group at one location holding two or more classes
    (those are the groups tie-breaking has to read), and how many distinct locations there are."""

    largest_mixed_group: int
    distinct_points: int
    n_points: int

    def per_query(self) -> int:
        """Distance evaluations of one KD-tree query: a descent of a few leaves, or the whole crowd."""
        descent = LEAF_SIZE * max(1, math.ceil(math.log2(self.n_points + 1)))
        return max(descent, self.largest_mixed_group)


def crowding(X: np.ndarray, y: np.ndarray) -> Crowding:
    points = np.ascontiguousarray(X, dtype=np.float64)
    _, inverse, counts = np.unique(points, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    largest = 1
    crowded = np.flatnonzero(counts > 1)
    if len(crowded):
        pairs = np.unique(np.column_stack([inverse, np.asarray(y)]), axis=0)
        classes_per_group = np.bincount(pairs[:, 0], minlength=len(counts))
        mixed = counts[classes_per_group > 1]
        largest = int(mixed.max()) if len(mixed) else 1
    return Crowding(largest_mixed_group=largest, distinct_points=len(counts), n_points=len(points))


def query_work(n_queries: int, crowd: Crowding, queries_per_point: int = 1) -> int:
    """Distance evaluations for ``n_queries`` distinct query points, each asked ``queries_per_point`` times."""
    return int(n_queries) * crowd.per_query() * max(1, int(queries_per_point))


def affordable_resolution(requested: int, crowd: Crowding, minimum: int = 20) -> int:
    """The largest grid side up to ``requested`` whose cells can be queried (table plus one tie re-query per K)
    within the budget; ``WorkloadError`` when even ``minimum`` cells a side cannot."""
    cells = budget.KNN_MAX_DISTANCE_EVALUATIONS // (2 * crowd.per_query())
    side = min(int(requested), math.isqrt(max(cells, 0)))
    if side < minimum:
        raise WorkloadError(
            f"{crowd.largest_mixed_group:,} training points of different classes share one location; even a "
            f"{minimum}×{minimum} grid would cost {query_work(minimum**2, crowd, 2):,} distance evaluations "
            f"(the limit is {budget.KNN_MAX_DISTANCE_EVALUATIONS:,}). Remove the duplicated rows."
        )
    return side
