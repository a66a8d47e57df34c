"""Distorted digits, offline: scikit-learn's 1,797 bundled 8 x 8 digits, upsampled, placed on a larger canvas and
rotated / translated / scaled by the project's own numpy sampler (``services.affine.warp``).

Each distortion is the sampler's theta (output -> input, normalised, ``align_corners=True``), built as
``theta = R(angle) · S(1/scale) · T(-shift)``: the picture is shifted by ``shift``, grown by ``scale`` and turned
counter-clockwise on screen by ``angle``. A transformer that undoes it must output theta's inverse, so its
learned rotation should be close to ``-angle`` (plus whatever constant turn it prefers for upright digits).

The split is by original digit: a test digit is never a distorted copy of a training one. Training digits get
``copies`` distortions each, test digits one; clutter fragments come from digits on the same side of the split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.affine import Rotate, Scale, Step, Translate, compose, warp
from services.stn.settings import DigitSettings


@dataclass(frozen=True, eq=False)
class DigitSet:
    """One side of the split. ``angles`` / ``scales`` / ``shifts`` / ``thetas`` are the applied distortions."""

    images: np.ndarray  # (n, canvas, canvas) float32 in [0, 1]
    labels: np.ndarray  # (n,) int64, 0..9
    angles: np.ndarray  # (n,) degrees, the rotation of the applied sampler theta
    scales: np.ndarray  # (n,) the digit's size factor
    shifts: np.ndarray  # (n, 2) normalised (tx, ty)
    thetas: np.ndarray  # (n, 2, 3) the sampler theta that made each image from the centred digit
    sources: np.ndarray  # (n,) index of the original scikit-learn digit

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class DistortedDigits:
    settings: DigitSettings
    train: DigitSet
    test: DigitSet
    centred: np.ndarray  # (1797, canvas, canvas) every original digit, upsampled and centred, undistorted


def centred_digits(digit_size: int, canvas: int) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as float32 in [0, 1], upsampled to ``digit_size`` and centred on a ``canvas`` square."""
    import torch
    from sklearn.datasets import load_digits
    from torch.nn import functional

    bunch = load_digits()
    small = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    large = functional.interpolate(small, size=(digit_size, digit_size), mode="bilinear", align_corners=False)
    out = np.zeros((len(small), canvas, canvas), dtype=np.float32)
    start = (canvas - digit_size) // 2
    out[:, start : start + digit_size, start : start + digit_size] = large[:, 0].clamp(0.0, 1.0).numpy()
    return out, bunch.target.astype(np.int64)


def distortion_theta(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """The sampler's 2 x 3 theta that shifts the picture by ``shift``, grows it by ``scale``, turns it by ``angle``."""
    steps: list[Step] = [Translate(-shift[0], -shift[1]), Scale(1.0 / scale, 1.0 / scale), Rotate(angle)]
    return compose(steps)[:2]


def make_digits(settings: DigitSettings) -> DistortedDigits:
    """The distorted train and test digits for ``settings`` (validated first); the same settings give the same
    pixels."""
    settings = settings.validate()
    centred, labels = centred_digits(settings.digit_size, settings.canvas)
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(labels))
    n_test = round(settings.test_fraction * len(labels))
    test_sources, train_sources = np.sort(order[:n_test]), np.sort(order[n_test:])
    train = _distort(centred, labels, np.repeat(train_sources, settings.copies), settings, rng)
    test = _distort(centred, labels, test_sources, settings, rng)
    return DistortedDigits(settings=settings, train=train, test=test, centred=centred)


def _distort(centred: np.ndarray, labels: np.ndarray, sources: np.ndarray, settings: DigitSettings,
             rng: np.random.Generator) -> DigitSet:
    n = len(sources)
    angles = rng.uniform(-settings.max_angle, settings.max_angle, n)
    scales = rng.uniform(settings.min_scale, settings.max_scale, n)
    shifts = rng.uniform(-settings.max_shift, settings.max_shift, (n, 2))
    thetas = np.stack([distortion_theta(a, s, (t[0], t[1])) for a, s, t in zip(angles, scales, shifts)])
    images = np.stack([warp(centred[source], theta) for source, theta in zip(sources, thetas)])
    if settings.clutter:
        _add_clutter(images, centred[np.unique(sources)], settings.clutter, settings.digit_size // 4, rng)
    return DigitSet(
        images=np.clip(images, 0.0, 1.0).astype(np.float32),
        labels=labels[sources],
        angles=angles,
        scales=scales,
        shifts=shifts,
        thetas=thetas,
        sources=sources,
    )


def _add_clutter(images: np.ndarray, pool: np.ndarray, count: int, side: int, rng: np.random.Generator) -> None:
    """Scatter ``count`` ``side`` x ``side`` crops of random pool digits over each image (brightest pixel wins)."""
    canvas = images.shape[1]
    inner = pool.shape[1]
    for image in images:
        for _ in range(count):
            donor = pool[rng.integers(len(pool))]
            row, col = rng.integers(inner // 4, 3 * inner // 4 - side, size=2)
            piece = donor[row : row + side, col : col + side]
            top, left = rng.integers(0, canvas - side, size=2)
            window = image[top : top + side, left : left + side]
            np.maximum(window, piece, out=window)
