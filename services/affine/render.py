"""What the page asks for on every slider move: M -> theta -> warped picture, plus previews and exports.

Kept here (not in the page) so that the exact path the page takes is unit-tested and benchmarked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from services.affine.errors import SingularMatrixError
from services.affine.matrices import Frame, Mapping, as_homogeneous, determinant, interpolate, pixel_matrix, to_theta
from services.affine.options import DEFAULT_OPTIONS, SamplerOptions
from services.affine.sampling import warp
from services.affine.steps import Step, format_steps


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1], the float image every engine is compared on."""
    return np.asarray(pixels, dtype=np.float32) * np.float32(1.0 / 255.0)


def to_uint8(image: np.ndarray, *, scale: float = 255.0) -> np.ndarray:
    """float image in [0, 1] (or in [0, 255] with ``scale=1``) -> uint8 for display; overshoot is clipped."""
    scaled = np.asarray(image, dtype=np.float32) * np.float32(scale)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def thumbnail(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """A uint8 copy no larger than ``max_side`` on its longer side (the picture itself when already small)."""
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    scale = max_side / max(height, width)
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


@dataclass(frozen=True)
class WarpView:
    theta: np.ndarray  # 2x3, normalised, output -> input
    pixel_matrix: np.ndarray  # 2x3, pixels (origin top-left), output -> input: OpenCV with WARP_INVERSE_MAP
    image: np.ndarray  # uint8, same size as the input


def render_warp(
    pixels: np.ndarray,
    matrix: np.ndarray,
    options: SamplerOptions = DEFAULT_OPTIONS,
    *,
    size: tuple[int, int] | None = None,
    **changes: str,
) -> WarpView:
    """Warp uint8 ``pixels`` by M as the page does. ``size`` = (height, width) that M's pixel frame refers to;
    ``changes`` override fields of ``options``.

    Raises ``SingularMatrixError`` in forward mapping when M has no inverse.
    """
    options = options.but(**changes)
    height, width = size or pixels.shape[:2]
    theta = to_theta(matrix, options.frame, height, width, options.mapping)
    # warping the 0..255 values directly saves two full-image passes; interpolation is linear in the values
    warped = warp(pixels, theta, options)
    image = to_uint8(warped, scale=1.0)
    return WarpView(theta=theta, pixel_matrix=pixel_matrix(theta, *pixels.shape[:2]), image=image)


@dataclass(frozen=True)
class AnimationFrame:
    fraction: float  # 0 = identity, 1 = M
    matrix: np.ndarray
    image: np.ndarray | None  # None when this in-between matrix cannot be used (singular in forward mapping)


def animation_frames(
    pixels: np.ndarray,
    matrix: np.ndarray,
    options: SamplerOptions = DEFAULT_OPTIONS,
    *,
    size: tuple[int, int],
    count: int = 16,
    **changes: str,
) -> list[AnimationFrame]:
    """``count`` warped previews going from the identity to M (see ``matrices.interpolate``)."""
    options = options.but(**changes)
    frames = []
    for fraction in np.linspace(0.0, 1.0, max(2, int(count))):
        between = interpolate(matrix, float(fraction))
        try:
            view = render_warp(pixels, between, options, size=size)
            image = view.image
        except SingularMatrixError:
            image = None
        frames.append(AnimationFrame(float(fraction), between, image))
    return frames


def matrix_report(
    matrix: np.ndarray,
    *,
    frame: Frame,
    mapping: Mapping,
    steps: list[Step] | None,
    size: tuple[int, int],
) -> dict:
    """Everything needed to reproduce the view elsewhere, as JSON-ready data."""
    height, width = size
    m = as_homogeneous(matrix)
    report = {
        "frame": frame,
        "mapping": mapping,
        "image_size": {"height": height, "width": width},
        "steps": format_steps(steps) if steps is not None else None,
        "M": np.round(m, 12).tolist(),
        "determinant": determinant(m),
    }
    try:
        theta = to_theta(m, frame, height, width, mapping)
    except SingularMatrixError as exc:
        report["theta"] = None
        report["note"] = str(exc)
        return report
    report["theta"] = np.round(theta, 12).tolist()
    report["theta_usage"] = "torch: F.affine_grid(theta[None], size, align_corners=True), output -> input"
    report["opencv_matrix"] = np.round(pixel_matrix(theta, height, width), 12).tolist()
    report["opencv_usage"] = "cv2.warpAffine(img, opencv_matrix, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)"
    return report
