"""Looking inside a trained pair: what theta the transformer learned, whether it undoes the applied rotation,
how both models err, and whether the project's numpy sampler reproduces the transformer's output.

The learned theta is decomposed by ``services.affine.decompose`` (M = T R S H) and sampled again by
``services.affine.warp(engine="numpy")``: the playground's maths, checked against ``grid_sample`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.affine import Decomposition, decompose, grid_lines, latex_matrix, warp
from services.stn.data import DistortedDigits
from services.stn.models import N_CLASSES
from services.stn.training import TrainedPair, as_batch, predict, transformer_outputs

#: The numpy sampler must reproduce the transformer's output to this (float32 grids and bilinear weights).
SAMPLER_TOLERANCE = 1e-4


@dataclass(frozen=True)
class SamplerCheck:
    max_difference: float  # max |numpy sampler - grid_sample| over every pixel of every image checked
    images: int
    tolerance: float

    @property
    def agrees(self) -> bool:
        return self.max_difference <= self.tolerance


@dataclass(frozen=True)
class AngleRelation:
    """Applied rotation against learned rotation over the test set."""

    correlation: float | None  # Pearson r; None when the applied angles do not vary
    slope: float | None  # least-squares slope (-1: the transformer undoes every degree)
    intercept: float | None  # the constant turn the transformer adds to every digit


@dataclass(frozen=True, eq=False)
class StnAnalysis:
    labels: np.ndarray  # (n,) test labels
    cnn_predictions: np.ndarray
    stn_predictions: np.ndarray
    thetas: np.ndarray  # (n, 2, 3) learned theta per test digit
    outputs: np.ndarray  # (n, h, w) the transformer's output per test digit
    learned_rotation: np.ndarray  # (n,) degrees, from decompose(theta)
    learned_scale: np.ndarray  # (n, 2)
    applied_angles: np.ndarray  # (n,) degrees
    angles: AngleRelation
    cnn_confusion: np.ndarray  # (10, 10) rows: true class, columns: predicted
    stn_confusion: np.ndarray
    sampler: SamplerCheck

    @property
    def cnn_accuracy(self) -> float:
        return float(np.mean(self.cnn_predictions == self.labels))

    @property
    def stn_accuracy(self) -> float:
        return float(np.mean(self.stn_predictions == self.labels))


@dataclass(frozen=True)
class ThetaView:
    """One digit's learned theta, explained."""

    theta: np.ndarray  # (2, 3)
    latex: str
    decomposition: Decomposition
    grid: list[np.ndarray]  # sampling-grid lines over the input, in pixels ((2, 2) arrays of (column, row))


def analyse(pair: TrainedPair, digits: DistortedDigits) -> StnAnalysis:
    """Everything the "Looking inside" panels show, over the whole test set."""
    test = digits.test
    outputs, thetas = transformer_outputs(pair.stn, test)
    parts = [decompose(theta) for theta in thetas]
    rotation = np.array([part.rotation_degrees for part in parts])
    x = as_batch(test.images)
    cnn_predictions, stn_predictions = predict(pair.cnn, x), predict(pair.stn, x)
    return StnAnalysis(
        labels=test.labels,
        cnn_predictions=cnn_predictions,
        stn_predictions=stn_predictions,
        thetas=thetas,
        outputs=outputs,
        learned_rotation=rotation,
        learned_scale=np.array([part.scale for part in parts]),
        applied_angles=test.angles,
        angles=angle_relation(test.angles, rotation),
        cnn_confusion=confusion_matrix(test.labels, cnn_predictions),
        stn_confusion=confusion_matrix(test.labels, stn_predictions),
        sampler=sampler_check(test.images, thetas, outputs),
    )


def angle_relation(applied: np.ndarray, learned: np.ndarray) -> AngleRelation:
    """Correlation and least-squares line of learned against applied rotation (None where undefined)."""
    if len(applied) < 2 or np.ptp(applied) == 0 or np.ptp(learned) == 0:
        return AngleRelation(None, None, None)
    slope, intercept = np.polyfit(applied, learned, 1)
    return AngleRelation(float(np.corrcoef(applied, learned)[0, 1]), float(slope), float(intercept))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def sampler_check(images: np.ndarray, thetas: np.ndarray, outputs: np.ndarray,
                  tolerance: float = SAMPLER_TOLERANCE) -> SamplerCheck:
    """Sample every image again with the project's numpy engine at the learned theta; compare with the
    transformer's ``grid_sample`` output."""
    worst = 0.0
    for image, theta, output in zip(images, thetas, outputs):
        again = warp(image, theta, interpolation="bilinear", padding="zeros", engine="numpy")
        worst = max(worst, float(np.max(np.abs(again - output))))
    return SamplerCheck(max_difference=worst, images=len(images), tolerance=tolerance)


def theta_view(theta: np.ndarray, height: int, width: int, lines: int = 7) -> ThetaView:
    return ThetaView(
        theta=np.asarray(theta, dtype=np.float64),
        latex=latex_matrix(theta),
        decomposition=decompose(theta),
        grid=grid_lines(theta, height, width, lines),
    )
