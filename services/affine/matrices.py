"""Matrix facts about an affine map: coordinate frames, determinant, inverse, decomposition, points and shapes.

All matrices here are 3x3 homogeneous (a 2x3 is accepted where noted and given the row [0, 0, 1]).

Coordinate frames. The sampler works in *normalised* coordinates: x, y in [-1, 1] with -1 and 1 at the centres
of the first and last pixels (torch's ``align_corners=True``), so the origin is the image centre. A user may
prefer to write M in pixels, with the origin either at the image centre or at the top-left pixel (OpenCV and
scikit-image); ``to_theta`` converts M from any of these frames to the sampler's normalised ``theta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from services.affine.errors import AffineError, SingularMatrixError
from services.affine.steps import Rotate, Scale, Shear, Step, Translate, compose

Frame = Literal["normalised", "pixels_centre", "pixels_corner"]
FRAMES: dict[str, str] = {
    "normalised": "Normalised: x, y in [-1, 1], origin at the image centre (the seed, STN, torch)",
    "pixels_centre": "Pixels, origin at the image centre (a true rotation on non-square pictures)",
    "pixels_corner": "Pixels, origin at the top-left pixel (OpenCV, scikit-image)",
}
Mapping = Literal["sampler", "forward"]
MAPPINGS: dict[str, str] = {
    "sampler": "M maps output → input (inverse mapping: the sampler's θ, as in the seed)",
    "forward": "M maps input → output (forward mapping: the sampler uses M⁻¹)",
}

#: |det| below this times the squared size of the linear part counts as zero.
SINGULAR_TOLERANCE = 1e-12


def as_homogeneous(matrix: np.ndarray) -> np.ndarray:
    """A 3x3 float copy of a 2x3 or 3x3 affine matrix; raises ``AffineError`` for anything else."""
    arr = np.asarray(matrix, dtype=np.float64)
    if arr.shape == (2, 3):
        arr = np.vstack([arr, [0.0, 0.0, 1.0]])
    if arr.shape != (3, 3):
        raise AffineError(f"An affine matrix is 2x3 or 3x3, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise AffineError("The matrix contains NaN or infinite entries.")
    if not np.allclose(arr[2], [0.0, 0.0, 1.0]):
        raise AffineError(f"The last row of an affine 3x3 matrix must be [0, 0, 1], got {arr[2].tolist()}.")
    return arr.copy()


def matrix_from_entries(entries: list[float] | tuple[float, ...]) -> np.ndarray:
    """The 3x3 affine matrix whose first two rows are the six typed entries (m00, m01, m02, m10, m11, m12)."""
    values = [float(value) for value in entries]
    if len(values) != 6:
        raise AffineError(f"An affine matrix has 6 free entries, got {len(values)}.")
    return np.array([values[:3], values[3:], [0.0, 0.0, 1.0]])


def frame_matrix(frame: Frame, height: int, width: int) -> np.ndarray:
    """The 3x3 map from normalised coordinates to ``frame`` coordinates for an image of this size."""
    if height < 2 or width < 2:
        raise AffineError(f"The image must be at least 2x2 pixels, got {width}x{height}.")
    half_w, half_h = (width - 1) / 2.0, (height - 1) / 2.0
    if frame == "normalised":
        return np.eye(3)
    if frame == "pixels_centre":
        return np.diag([half_w, half_h, 1.0])
    if frame == "pixels_corner":
        return np.array([[half_w, 0.0, half_w], [0.0, half_h, half_h], [0.0, 0.0, 1.0]])
    raise AffineError(f"Unknown frame {frame!r}; use one of {', '.join(FRAMES)}.")


def to_theta(matrix: np.ndarray, frame: Frame, height: int, width: int, mapping: Mapping = "sampler") -> np.ndarray:
    """The sampler's 2x3 ``theta`` (normalised, output -> input) for M written in ``frame``.

    With ``mapping="forward"`` M sends input points to output points, so the sampler needs M⁻¹ (and a singular
    M raises ``SingularMatrixError``).
    """
    sampler = as_homogeneous(matrix)
    if mapping == "forward":
        sampler = inverse(sampler)
    elif mapping != "sampler":
        raise AffineError(f"Unknown mapping {mapping!r}; use one of {', '.join(MAPPINGS)}.")
    to_frame = frame_matrix(frame, height, width)
    return (np.linalg.inv(to_frame) @ sampler @ to_frame)[:2]


def pixel_matrix(theta: np.ndarray, height: int, width: int) -> np.ndarray:
    """``theta`` as a 2x3 map between pixel coordinates (origin top-left pixel): what OpenCV and skimage take."""
    to_pixels = frame_matrix("pixels_corner", height, width)
    return (to_pixels @ as_homogeneous(theta) @ np.linalg.inv(to_pixels))[:2]


def determinant(matrix: np.ndarray) -> float:
    """det of the linear 2x2 part: the factor by which M scales areas (negative: orientation flips)."""
    arr = as_homogeneous(matrix)
    with np.errstate(over="ignore"):  # entries near 1e155 and beyond: det overflows to inf, which is the truth
        return float(np.linalg.det(arr[:2, :2]))


def _relative_determinant(arr: np.ndarray) -> float:
    """det of the linear part scaled to a largest entry of 1: finite for any finite M, so huge but invertible
    entries (1e200) are not mistaken for a singular map."""
    size = float(np.abs(arr[:2, :2]).max())
    return float(np.linalg.det(arr[:2, :2] / size)) if size > 0 else 0.0


def is_singular(matrix: np.ndarray) -> bool:
    return abs(_relative_determinant(as_homogeneous(matrix))) <= SINGULAR_TOLERANCE


def inverse(matrix: np.ndarray) -> np.ndarray:
    """The 3x3 inverse; ``SingularMatrixError`` when det = 0 (no map can undo a squash onto a line)."""
    arr = as_homogeneous(matrix)
    if is_singular(arr):
        det = determinant(arr)
        if det == 0:
            raise SingularMatrixError(
                "M is singular (determinant 0): it squashes the plane onto a line or a point, so no inverse exists."
            )
        raise SingularMatrixError(
            f"M is singular in floating point: its determinant {det:.3g} is negligible next to its largest entry "
            f"{np.abs(arr[:2, :2]).max():.3g}, so it squashes the plane (almost) onto a line; no usable inverse exists."
        )
    with np.errstate(over="ignore", under="ignore"):
        result = np.linalg.inv(arr)
    if not np.all(np.isfinite(result)):
        raise AffineError(
            f"M's inverse does not fit in floating point (the linear part's largest |entry| is "
            f"{np.abs(arr[:2, :2]).max():.3g}): keep the entries between 1e-6 and 1e6 in size."
        )
    result[2] = (0.0, 0.0, 1.0)
    return result


@dataclass(frozen=True)
class AreaChange:
    determinant: float
    area_scale: float  # |det|
    flips: bool  # det < 0: a mirror image
    singular: bool

    def describe(self) -> str:
        if self.singular:
            return "det = 0: M squashes the plane onto a line (or a point); it has no inverse."
        flip = "and flips orientation (a mirror image)" if self.flips else "and keeps orientation"
        return f"M multiplies areas by |det| = {self.area_scale:.4g} {flip}."


def area_change(matrix: np.ndarray) -> AreaChange:
    det = determinant(matrix)
    return AreaChange(det, abs(det), det < 0 and not is_singular(matrix), is_singular(matrix))


@dataclass(frozen=True)
class Decomposition:
    """M = T · R · S · H: shear x by ``shear`` first, then scale, rotate, translate (the seed's M = R S H + T)."""

    translation: tuple[float, float]
    rotation_degrees: float
    shear: float  # x-shear m (the decomposition needs no y-shear)
    scale: tuple[float, float]  # sy < 0 when M flips orientation

    def steps(self) -> list[Step]:
        """The decomposition as editor steps, in the order they apply."""
        return [
            Shear(self.shear, 0.0),
            Scale(*self.scale),
            Rotate(self.rotation_degrees),
            Translate(*self.translation),
        ]


def decompose(matrix: np.ndarray) -> Decomposition:
    """Split any affine M into translation, rotation, shear and scale that recompose to it exactly.

    With A the linear part, the first column of A is sx times a unit vector at the rotation angle; then
    Rᵀ A = [[sx, sx m], [0, sy]] gives sy (negative for a mirror) and the shear m. Works for singular M too:
    a zero first column gives sx = 0 and takes the angle from the second column.
    """
    arr = as_homogeneous(matrix)
    a, b, c, d = arr[0, 0], arr[0, 1], arr[1, 0], arr[1, 1]
    sx = math.hypot(a, c)
    if sx > 0:
        angle = math.atan2(c, a)
        cos, sin = math.cos(angle), math.sin(angle)
        upper = cos * b + sin * d  # (Rᵀ A)[0, 1] = sx m
        sy = -sin * b + cos * d  # (Rᵀ A)[1, 1]
        shear = upper / sx
    else:
        sy = math.hypot(b, d)
        angle = math.atan2(-b, d) if sy > 0 else 0.0
        shear = 0.0
    return Decomposition(
        translation=(float(arr[0, 2]), float(arr[1, 2])),
        rotation_degrees=math.degrees(angle),
        shear=float(shear),
        scale=(float(sx), float(sy)),
    )


def apply_to_point(matrix: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    """K' = M K for the point K = (x, y), in homogeneous coordinates."""
    x, y, _ = as_homogeneous(matrix) @ np.array([point[0], point[1], 1.0])
    return float(x), float(y)


def apply_to_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """M applied to an (N, 2) array of points."""
    arr = as_homogeneous(matrix)
    pts = np.asarray(points, dtype=np.float64)
    return pts @ arr[:2, :2].T + arr[:2, 2]


#: An asymmetric letter F inside the unit square, as a closed polygon: mirrors and rotations are obvious on it.
#: Drawn for a y axis pointing down (image rows), so its top bar has the smallest y.
F_SHAPE = np.array(
    [
        [0.2, 0.9], [0.35, 0.9], [0.35, 0.55], [0.65, 0.55], [0.65, 0.42], [0.35, 0.42], [0.35, 0.23],
        [0.8, 0.23], [0.8, 0.1], [0.2, 0.1], [0.2, 0.9],
    ]
)
UNIT_SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])


@dataclass(frozen=True)
class ShapeSet:
    """The unit square, the basis vectors e1 and e2 (from the origin) and the F, in frame units."""

    square: np.ndarray
    e1: np.ndarray  # (2, 2): origin, tip
    e2: np.ndarray
    letter: np.ndarray


def reference_shapes(unit: float = 1.0) -> ShapeSet:
    """The shapes before the map; ``unit`` is the side of the square (1 in normalised, pixels otherwise)."""
    origin = [0.0, 0.0]
    return ShapeSet(
        square=UNIT_SQUARE * unit,
        e1=np.array([origin, [unit, 0.0]]),
        e2=np.array([origin, [0.0, unit]]),
        letter=F_SHAPE * unit,
    )


def transform_shapes(matrix: np.ndarray, shapes: ShapeSet) -> ShapeSet:
    """The same shapes after K -> M K."""
    return ShapeSet(*(apply_to_points(matrix, part) for part in (shapes.square, shapes.e1, shapes.e2, shapes.letter)))


def interpolate(matrix: np.ndarray, fraction: float) -> np.ndarray:
    """A matrix part of the way from the identity (0) to M (1), for animations.

    Interpolates the decomposition (angle, shear, scale, translation) rather than the entries, so a rotation
    turns instead of shrinking through the centre.
    """
    parts = decompose(matrix)
    t = float(fraction)
    between = Decomposition(
        translation=(t * parts.translation[0], t * parts.translation[1]),
        rotation_degrees=t * parts.rotation_degrees,
        shear=t * parts.shear,
        scale=(1.0 + t * (parts.scale[0] - 1.0), 1.0 + t * (parts.scale[1] - 1.0)),
    )
    return compose(between.steps())


def latex_matrix(matrix: np.ndarray, digits: int = 3) -> str:
    """A bmatrix for st.latex, entries rounded to ``digits`` significant digits.

    Entries below 1e-12 of the largest one are rounding noise (cos 90° = 6e-17) and are shown as 0.
    """
    arr = np.asarray(matrix, dtype=np.float64)
    arr = np.where(np.abs(arr) < 1e-12 * max(1.0, float(np.abs(arr).max(initial=0.0))), 0.0, arr)
    rows = []
    for row in arr:
        cells = []
        for value in row:
            text = f"{value:.{digits}g}"
            cells.append("0" if text in ("-0", "0") else text)
        rows.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"
