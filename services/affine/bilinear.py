"""The seed's worked bilinear example: the value at a fractional location such as (6.7, 3.2), step by step.

With Q11 = (x1, y1), Q21 = (x2, y1), Q12 = (x1, y2), Q22 = (x2, y2) the four surrounding pixels (x is the column,
y the row), interpolate along x, then along y:

    R1 = (x2 - x)/(x2 - x1) Q11 + (x - x1)/(x2 - x1) Q21
    R2 = (x2 - x)/(x2 - x1) Q12 + (x - x1)/(x2 - x1) Q22
    P  = (y2 - y)/(y2 - y1) R1 + (y - y1)/(y2 - y1) R2

x1 = floor(x) and x2 = x1 + 1 (on the last column x1 steps back one so that x2 stays inside the image); the
result equals the sampler's bilinear value at that location.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from services.affine.errors import AffineError

#: The seed's example location (x = column, y = row).
SEED_LOCATION = (6.7, 3.2)


@dataclass(frozen=True)
class BilinearExplanation:
    x: float
    y: float
    x1: int
    x2: int
    y1: int
    y2: int
    q11: float
    q21: float
    q12: float
    q22: float
    weight_x1: float  # (x2 - x) / (x2 - x1), multiplies Q11 and Q12
    weight_x2: float  # (x - x1) / (x2 - x1)
    weight_y1: float  # (y2 - y) / (y2 - y1), multiplies R1
    weight_y2: float  # (y - y1) / (y2 - y1)
    r1: float
    r2: float
    p: float

    @property
    def corner_weights(self) -> dict[str, float]:
        """The weight of each neighbour in P (they sum to 1)."""
        return {
            "Q11": self.weight_x1 * self.weight_y1,
            "Q21": self.weight_x2 * self.weight_y1,
            "Q12": self.weight_x1 * self.weight_y2,
            "Q22": self.weight_x2 * self.weight_y2,
        }


def explain_bilinear(channel: np.ndarray, x: float, y: float) -> BilinearExplanation:
    """Every intermediate number of bilinear interpolation of a 2-D array at (x, y) = (column, row)."""
    values = np.asarray(channel, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 2:
        raise AffineError(f"Expected a 2-D array of at least 2x2 values, got shape {values.shape}.")
    height, width = values.shape
    if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x <= width - 1 and 0 <= y <= height - 1):
        raise AffineError(
            f"The location ({x:g}, {y:g}) is outside the picture: x must be in [0, {width - 1}] and y in "
            f"[0, {height - 1}] (pixel centres)."
        )
    x1 = min(int(math.floor(x)), width - 2)
    y1 = min(int(math.floor(y)), height - 2)
    x2, y2 = x1 + 1, y1 + 1
    q11, q21 = float(values[y1, x1]), float(values[y1, x2])
    q12, q22 = float(values[y2, x1]), float(values[y2, x2])
    weight_x1, weight_x2 = (x2 - x) / (x2 - x1), (x - x1) / (x2 - x1)
    weight_y1, weight_y2 = (y2 - y) / (y2 - y1), (y - y1) / (y2 - y1)
    r1 = weight_x1 * q11 + weight_x2 * q21
    r2 = weight_x1 * q12 + weight_x2 * q22
    p = weight_y1 * r1 + weight_y2 * r2
    return BilinearExplanation(
        float(x), float(y), x1, x2, y1, y2, q11, q21, q12, q22, weight_x1, weight_x2, weight_y1, weight_y2, r1, r2, p
    )


@dataclass(frozen=True)
class PixelWindow:
    """A small block of pixel values around a location, for the zoomed grid."""

    values: np.ndarray  # (rows, columns)
    left: int  # column index of values[:, 0]
    top: int  # row index of values[0, :]


def pixel_window(channel: np.ndarray, x: float, y: float, radius: int = 3) -> PixelWindow:
    """The pixels within ``radius`` of (x, y), clipped to the picture."""
    values = np.asarray(channel)
    height, width = values.shape[:2]
    left = max(0, min(int(math.floor(x)) - radius + 1, width - 1))
    top = max(0, min(int(math.floor(y)) - radius + 1, height - 1))
    right = min(width, int(math.floor(x)) + radius + 1)
    bottom = min(height, int(math.floor(y)) + radius + 1)
    return PixelWindow(values=values[top:bottom, left:right], left=left, top=top)
