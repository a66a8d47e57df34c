"""'Explain a point': the K neighbours behind the vote at one location, with their distances and weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from services import budget
from services.knn.errors import SettingsError
from services.knn.neighbours import Metric, check_k, neighbour_table, vote_table, votes_at
from services.knn.preprocess import Split


@dataclass(frozen=True)
class Explanation:
    """Why the classifier says what it says at ``location`` (axis units)."""

    location: tuple[float, float]
    k: int
    weights: str
    neighbours: pd.DataFrame  # rank, training row, x, y (axis units), class, distance (scaled space), weight
    scores: np.ndarray  # (n_classes,) votes per class
    proba: np.ndarray  # (n_classes,)
    predicted: int  # class code
    tie: bool  # the vote depends on which of several equally distant points are counted
    class_names: tuple[str, ...]

    @property
    def predicted_name(self) -> str:
        return self.class_names[self.predicted]


def explain_location(
    split: Split, location: tuple[float, float], k: int, *, weights: str, metric: Metric
) -> Explanation:
    """The same vote the boundary shows at this location, spelled out neighbour by neighbour."""
    k = check_k(k, split.n_train)
    if not np.isfinite(location).all() or np.abs(location).max() > budget.KNN_MAX_ABS_FEATURE:
        raise SettingsError(
            f"The location ({location[0]:.3g}, {location[1]:.3g}) lies beyond ±{budget.KNN_MAX_ABS_FEATURE:.0e}, "
            "where distances overflow; choose one nearer the data."
        )
    point = split.scale(np.array([location], dtype=np.float64))
    table = neighbour_table(split.X_train, split.y_train, point, min(k + 1, split.n_train), metric, split.n_classes)
    votes = votes_at(vote_table(table, weights), k)
    rows = table.indices[:k, 0]
    distances = table.distances[:k, 0]
    if weights == "uniform":
        neighbour_weights = np.ones(k)
    elif (distances == 0).any():
        neighbour_weights = (distances == 0).astype(float)
    else:
        neighbour_weights = 1.0 / distances
    labels = split.y_train[rows]
    neighbours = pd.DataFrame(
        {
            "rank": np.arange(1, k + 1),
            "training row": rows,
            split.feature_names[0]: split.X_train_raw[rows, 0],
            split.feature_names[1]: split.X_train_raw[rows, 1],
            "class": [split.class_names[code] for code in labels],
            "distance": distances,
            "weight": neighbour_weights,
        }
    )
    return Explanation(
        location=(float(location[0]), float(location[1])),
        k=k,
        weights=weights,
        neighbours=neighbours,
        scores=votes.scores[0],
        proba=votes.proba[0],
        predicted=int(votes.labels[0]),
        tie=bool(votes.ties[0]),
        class_names=split.class_names,
    )
