"""Train/test split, feature scaling fitted on the training points only, and the plotting grid.

Scaling matters for KNN because distances mix the features: a feature measured in thousands would
otherwise decide every vote. The scaler never sees the test points, so test accuracy stays honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from services import budget
from services.knn.datasets import Dataset
from services.knn.errors import SettingsError, SplitError
from services.knn.neighbours import table_bytes

SCALINGS = ("none", "standard", "minmax")
MIN_TEST_FRACTION, MAX_TEST_FRACTION = 0.1, 0.5
#: Memory allowed for one grid's neighbour table with its running votes; beyond it the grid is made coarser.
MAX_TABLE_BYTES = budget.KNN_MAX_TABLE_BYTES


def make_scaler(scaling: str) -> TransformerMixin | None:
    """A fresh, unfitted scikit-learn scaler for the setting (None for no scaling)."""
    if scaling == "none":
        return None
    if scaling == "standard":
        return StandardScaler()
    if scaling == "minmax":
        return MinMaxScaler()
    raise SettingsError(f"Unknown scaling {scaling!r}; choose one of {', '.join(SCALINGS)}.")


@dataclass(frozen=True)
class FittedScaling:
    """A scaler's fitted parameters as plain arrays (so a split stays plain data that a cache can hash),
    applied with scikit-learn's own arithmetic: standard ``(X - mean) / scale``, min-max ``X * scale + min``."""

    kind: str
    offset: np.ndarray  # standard: mean_; min-max: min_
    factor: np.ndarray  # standard: scale_ (a divisor); min-max: scale_ (a multiplier)

    @classmethod
    def fit(cls, scaling: str, X: np.ndarray) -> FittedScaling | None:
        scaler = make_scaler(scaling)
        if scaler is None:
            return None
        scaler.fit(X)
        if scaling == "standard":
            return cls(kind=scaling, offset=scaler.mean_.copy(), factor=scaler.scale_.copy())
        return cls(kind=scaling, offset=scaler.min_.copy(), factor=scaler.scale_.copy())

    def transform(self, X: np.ndarray) -> np.ndarray:
        points = np.array(X, dtype=np.float64)
        if self.kind == "standard":
            points -= self.offset
            points /= self.factor
        else:
            points *= self.factor
            points += self.offset
        return points


@dataclass(frozen=True)
class Split:
    """Training and test points, raw (for plotting) and scaled (for distances)."""

    X_train_raw: np.ndarray
    y_train: np.ndarray
    X_test_raw: np.ndarray
    y_test: np.ndarray
    X_train: np.ndarray  # scaled with the scaling fitted on X_train_raw
    X_test: np.ndarray
    scaler: FittedScaling | None
    scaling: str
    class_names: tuple[str, ...]
    feature_names: tuple[str, str]
    n_added: int = 0  # hand-added points, the last rows of the training set

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def scale(self, points_raw: np.ndarray) -> np.ndarray:
        """Points in axis units -> the space where distances are measured."""
        points = np.asarray(points_raw, dtype=np.float64)
        return points.copy() if self.scaler is None else self.scaler.transform(points)


def split_dataset(
    dataset: Dataset,
    *,
    test_fraction: float,
    seed: int,
    scaling: str,
    added_points: Sequence[tuple[float, float, int]] = (),
) -> Split:
    """Stratified split (as the seed's ``train_test_split``), hand-added points joined to the training side,
    then the scaler fitted on the training side only."""
    if not MIN_TEST_FRACTION <= test_fraction <= MAX_TEST_FRACTION:
        raise SplitError(
            f"The test fraction must be between {MIN_TEST_FRACTION} and {MAX_TEST_FRACTION}, not {test_fraction}."
        )
    counts = np.bincount(dataset.y, minlength=dataset.n_classes)
    if counts.min() < 2:
        rare = dataset.class_names[int(np.argmin(counts))]
        raise SplitError(f"Class {rare!r} has {counts.min()} point(s); every class needs at least 2 to be split.")
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            dataset.X, dataset.y, test_size=test_fraction, random_state=seed, stratify=dataset.y
        )
    except ValueError as error:  # e.g. fewer test slots than classes
        raise SplitError(
            f"Cannot split {dataset.n_samples} points with test fraction {test_fraction}: {error}"
        ) from error
    added = _added_points(added_points, dataset.n_classes)
    if len(added):
        X_train = np.vstack([X_train, added[:, :2]])
        y_train = np.concatenate([y_train, added[:, 2].astype(np.intp)])
    scaler = FittedScaling.fit(scaling, X_train)
    return Split(
        X_train_raw=X_train,
        y_train=y_train,
        X_test_raw=X_test,
        y_test=y_test,
        X_train=np.array(X_train, dtype=np.float64) if scaler is None else scaler.transform(X_train),
        X_test=np.array(X_test, dtype=np.float64) if scaler is None else scaler.transform(X_test),
        scaler=scaler,
        scaling=scaling,
        class_names=dataset.class_names,
        feature_names=dataset.feature_names,
        n_added=len(added),
    )


def _added_points(points: Sequence[tuple[float, float, int]], n_classes: int) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(array).all():
        raise SplitError("An added point has a missing or infinite coordinate.")
    if len(array) and np.abs(array[:, :2]).max() > budget.KNN_MAX_ABS_FEATURE:
        raise SplitError(
            f"An added point lies beyond ±{budget.KNN_MAX_ABS_FEATURE:.0e}, where distances overflow; remove it."
        )
    codes = array[:, 2]
    if ((codes < 0) | (codes >= n_classes) | (codes != np.round(codes))).any():
        raise SplitError(f"An added point has a class code outside 0..{n_classes - 1}.")
    return array


@dataclass(frozen=True)
class Grid:
    """A regular lattice over the data in axis units; cell ``i * len(xs) + j`` sits at ``(xs[j], ys[i])``."""

    xs: np.ndarray
    ys: np.ndarray
    points_raw: np.ndarray  # (len(ys) * len(xs), 2)
    points: np.ndarray  # scaled like the training points

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ys), len(self.xs)


def grid_resolution(requested: int, depth: int, n_classes: int) -> int:
    """The requested lattice side, reduced when a deep neighbour table would not fit in ``MAX_TABLE_BYTES``."""
    return int(max(20, min(requested, np.floor(np.sqrt(MAX_TABLE_BYTES / table_bytes(1, depth, n_classes))))))


def make_grid(split: Split, resolution: int, margin: float = 0.05) -> Grid:
    """A ``resolution`` x ``resolution`` lattice covering every point (training, test, added) plus a margin."""
    if resolution < 2:
        raise SettingsError(f"The grid needs at least 2 cells a side, not {resolution}.")
    every = np.vstack([split.X_train_raw, split.X_test_raw])
    low, high = every.min(axis=0), every.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - margin * span, high + margin * span
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    points_raw = np.column_stack([xx.ravel(), yy.ravel()])
    return Grid(xs=xs, ys=ys, points_raw=points_raw, points=split.scale(points_raw))
