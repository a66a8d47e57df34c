"""The seed's 3-step pipeline: build a normalised sampling grid, transform it by theta, sample the input.

``theta`` is the 2x3 map from *output* to *input* in normalised coordinates: x, y in [-1, 1] with -1 and 1 at
the centres of the first and last pixels, exactly ``torch.nn.functional.affine_grid(..., align_corners=True)``.
(The seed's own sampler scales x_s = 1 to W instead of W - 1, half a pixel off at each edge; ours does not.)
With this convention the seed's translation theta = [[1, 0, 0.5], [0, 1, 0]] samples each output pixel
0.5 · (W - 1) / 2 pixels to its right, so the content moves left by a quarter of the image's width
(precisely: of the distance between its first and last pixel centres).

Four engines do the sampling and, for float images, agree to 1e-4 for nearest and bilinear, borders included
(up to exact rounding ties in nearest, where each library's float rounding decides):

* ``numpy``: from scratch (``numpy_engine``);
* ``torch``: ``affine_grid`` + ``grid_sample`` with ``align_corners=True`` (the definition of the conventions);
* ``opencv``: ``warpAffine`` with the pixel matrix and ``WARP_INVERSE_MAP``; borders ``BORDER_CONSTANT`` (0),
  ``BORDER_REPLICATE``, ``BORDER_REFLECT_101``;
* ``skimage``: ``skimage.transform.warp`` with modes ``constant`` (0), ``edge``, ``reflect``.

Padding "reflection" mirrors about the first and last pixel centres (torch's reflection with
``align_corners=True``, OpenCV's REFLECT_101, numpy's/skimage's "reflect"). Bicubic is Keys' cubic convolution
with a = -0.75 (torch, OpenCV, numpy engine). Two combinations are refused with
``UnsupportedCombinationError`` instead of returning something different: skimage + bicubic (its order-3 warp
uses Catmull-Rom, a = -0.5) and opencv + bicubic + reflection (OpenCV 5 returns a wrong constant for points
more than about two image widths outside the picture).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from services.affine.errors import AffineError, UnsupportedCombinationError
from services.affine.matrices import as_homogeneous, inverse, pixel_matrix
from services.affine.numpy_engine import warp_numpy
from services.affine.options import DEFAULT_OPTIONS, ENGINES, Engine, SamplerOptions

#: Largest output the service agrees to compute (a 4096 x 4096 picture).
MAX_PIXELS = 4096 * 4096


def sampling_grid(theta: np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width, 2) normalised (x, y) input locations sampled by each output pixel (torch's affine_grid).

    Step 1 and 2 of the pipeline: a regular grid over [-1, 1]², then (x_s, y_s) = theta @ (x_t, y_t, 1).
    """
    _check_size(height, width)
    matrix = _check_theta(theta)
    xs = np.linspace(-1.0, 1.0, width)
    ys = np.linspace(-1.0, 1.0, height)
    grid = np.empty((height, width, 2))
    grid[..., 0] = matrix[0, 0] * xs[None, :] + matrix[0, 1] * ys[:, None] + matrix[0, 2]
    grid[..., 1] = matrix[1, 0] * xs[None, :] + matrix[1, 1] * ys[:, None] + matrix[1, 2]
    return grid


def normalised_to_pixels(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normalised (x, y) -> pixel (column, row) coordinates: -1 -> 0, 1 -> W - 1."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts + 1.0) * 0.5 * np.array([width - 1, height - 1], dtype=np.float64)


def warp(image: np.ndarray, theta: np.ndarray, options: SamplerOptions = DEFAULT_OPTIONS, **changes: str) -> np.ndarray:
    """Step 3: sample ``image`` (H x W or H x W x C) on theta's grid; returns float32 of the same shape and scale.

    ``changes`` override single fields of ``options`` (``warp(image, theta, engine="torch")``); the frame and
    mapping of ``options`` do not matter here, theta is already the sampler's map.
    """
    pixels = _check_image(image)
    matrix = _check_theta(theta)
    options = options.but(**changes)
    interpolation, padding, engine = options.interpolation, options.padding, options.engine
    _check_combination(interpolation, padding, engine)
    squeeze = pixels.ndim == 2
    if squeeze:
        pixels = pixels[:, :, None]
    height, width = pixels.shape[:2]
    if engine == "numpy":
        result = warp_numpy(pixels, pixel_matrix(matrix, height, width), interpolation, padding)
    elif engine == "torch":
        result = _warp_torch(pixels, matrix, interpolation, padding)
    elif engine == "opencv":
        result = _warp_opencv(pixels, pixel_matrix(matrix, height, width), interpolation, padding)
    else:
        result = _warp_skimage(pixels, pixel_matrix(matrix, height, width), interpolation, padding)
    return result[:, :, 0] if squeeze else result


@dataclass(frozen=True)
class EngineCheck:
    engine: str
    max_difference: float | None  # max |engine - reference| over all pixels and channels; None when refused
    milliseconds: float | None
    message: str  # "reference", "agrees", or why it differs / was refused


def compare_engines(
    image: np.ndarray,
    theta: np.ndarray,
    options: SamplerOptions = DEFAULT_OPTIONS,
    *,
    reference: Engine = "numpy",
    tolerance: float = 1e-4,
    **changes: str,
) -> list[EngineCheck]:
    """Run every engine with ``options``' interpolation and padding; report each one's largest difference from
    ``reference`` (``options.engine`` is ignored: every engine runs)."""
    options = options.but(**changes)
    interpolation = options.interpolation
    outputs: dict[str, tuple[np.ndarray | None, float | None, str]] = {}
    for engine in ENGINES:
        try:
            started = time.perf_counter()
            result = warp(image, theta, options, engine=engine)
            outputs[engine] = (result, (time.perf_counter() - started) * 1000.0, "")
        except UnsupportedCombinationError as exc:
            outputs[engine] = (None, None, str(exc))
    base = outputs[reference][0]
    checks = []
    for engine, (output, ms, refusal) in outputs.items():
        if output is None or base is None:
            reason = refusal or f"The reference engine refused: {outputs[reference][2]}"
            checks.append(EngineCheck(engine, None, ms, reason))
            continue
        difference = float(np.max(np.abs(output - base))) if output.size else 0.0
        if engine == reference:
            message = "reference"
        elif difference <= tolerance:
            message = f"agrees (≤ {tolerance:g})"
        elif interpolation == "nearest":
            message = "differs: nearest picks a different pixel where a location is (almost) exactly halfway"
        elif interpolation == "bicubic":
            message = "differs: bicubic agreement is not guaranteed (float rounding of the 16-tap kernel)"
        else:
            message = "differs"
        checks.append(EngineCheck(engine, difference, ms, message))
    return checks


def grid_lines(theta: np.ndarray, height: int, width: int, count: int = 9) -> list[np.ndarray]:
    """Where ``count`` vertical and ``count`` horizontal output grid lines sample the input, in input pixels.

    An affine map sends lines to lines, so each is two end points ((2, 2) arrays of (column, row)); the first
    and last lines of each family outline the region of the input that the output shows.
    """
    _check_size(height, width)
    matrix = as_homogeneous(_check_theta(theta))
    ticks = np.linspace(-1.0, 1.0, max(2, int(count)))
    lines = []
    for tick in ticks:
        for ends in (np.array([[tick, -1.0], [tick, 1.0]]), np.array([[-1.0, tick], [1.0, tick]])):
            sampled = ends @ matrix[:2, :2].T + matrix[:2, 2]
            lines.append(normalised_to_pixels(sampled, height, width))
    return lines


@dataclass(frozen=True)
class SplatResult:
    image: np.ndarray  # float32 like the input; unreached pixels are 0
    hole_fraction: float  # output pixels that no input pixel landed on
    collision_fraction: float  # input pixels that landed on an already written output pixel


def forward_splat(image: np.ndarray, theta: np.ndarray) -> SplatResult:
    """The naive *forward* warp: push every input pixel to the rounded output position theta⁻¹ sends it to.

    Shows why samplers pull instead of push: enlarging leaves holes, shrinking makes pixels collide.
    """
    pixels = _check_image(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width = pixels.shape[:2]
    forward = inverse(pixel_matrix(_check_theta(theta), height, width))
    rows, columns = np.mgrid[0:height, 0:width]
    x = np.rint(forward[0, 0] * columns + forward[0, 1] * rows + forward[0, 2]).astype(np.int64).ravel()
    y = np.rint(forward[1, 0] * columns + forward[1, 1] * rows + forward[1, 2]).astype(np.int64).ravel()
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    targets = y[inside] * width + x[inside]
    out = np.zeros((height * width, pixels.shape[2]), dtype=np.float32)
    out[targets] = pixels.reshape(-1, pixels.shape[2])[inside]
    reached = np.zeros(height * width, dtype=bool)
    reached[targets] = True
    collisions = targets.size - np.count_nonzero(reached)
    return SplatResult(
        image=out.reshape(pixels.shape),
        hole_fraction=1.0 - np.count_nonzero(reached) / reached.size,
        collision_fraction=collisions / max(1, targets.size),
    )


def _check_size(height: int, width: int) -> None:
    if height < 2 or width < 2:
        raise AffineError(f"The image must be at least 2x2 pixels, got {width}x{height}.")
    if height * width > MAX_PIXELS:
        raise AffineError(f"{width}x{height} is too large; at most {MAX_PIXELS / 1e6:.0f} megapixels.")


def _check_theta(theta: np.ndarray) -> np.ndarray:
    arr = np.asarray(theta, dtype=np.float64)
    if arr.shape == (3, 3):
        arr = as_homogeneous(arr)[:2]
    if arr.shape != (2, 3):
        raise AffineError(f"theta must be a 2x3 (or 3x3 affine) matrix, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise AffineError("theta contains NaN or infinite entries.")
    return arr


def _check_image(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] < 1):
        raise AffineError(f"Expected an H x W or H x W x C image, got shape {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise AffineError(f"Expected a real-valued image, got dtype {arr.dtype}.")
    _check_size(arr.shape[0], arr.shape[1])
    pixels = np.ascontiguousarray(arr, dtype=np.float32)
    if not (np.isfinite(pixels.min()) and np.isfinite(pixels.max())):  # NaN propagates; no full-size mask
        raise AffineError("The image contains NaN or infinite values.")
    return pixels


def _check_combination(interpolation: str, padding: str, engine: str) -> None:
    if engine == "skimage" and interpolation == "bicubic":
        raise UnsupportedCombinationError(
            "scikit-image's bicubic (order 3) uses the Catmull-Rom kernel (a = -0.5), not Keys' a = -0.75 of "
            "torch, OpenCV and the numpy engine; choose another engine for bicubic."
        )
    if engine == "opencv" and interpolation == "bicubic" and padding == "reflection":
        raise UnsupportedCombinationError(
            "OpenCV's bicubic warp with BORDER_REFLECT_101 returns a wrong constant for points far outside the "
            "picture; choose another engine (or padding) for bicubic + reflection."
        )


def _warp_torch(pixels: np.ndarray, theta: np.ndarray, interpolation: str, padding: str) -> np.ndarray:
    import torch
    import torch.nn.functional as functional

    height, width, channels = pixels.shape
    batch = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
    grid = functional.affine_grid(
        torch.from_numpy(theta.astype(np.float32)).unsqueeze(0), [1, channels, height, width], align_corners=True
    )
    with torch.no_grad():
        result = functional.grid_sample(batch, grid, mode=interpolation, padding_mode=padding, align_corners=True)
    return np.ascontiguousarray(result[0].permute(1, 2, 0).numpy())


def _warp_opencv(pixels: np.ndarray, pixel_map: np.ndarray, interpolation: str, padding: str) -> np.ndarray:
    import cv2

    height, width, channels = pixels.shape
    flags = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}[interpolation]
    border = {
        "zeros": cv2.BORDER_CONSTANT, "border": cv2.BORDER_REPLICATE, "reflection": cv2.BORDER_REFLECT_101
    }[padding]
    folded = _folded_maps(pixel_map, height, width) if padding == "reflection" else None
    out = np.empty_like(pixels)
    start = 0
    while start < channels:
        # warpAffine takes 1 to 4 channels; its float path for 2 channels is coarser, so send 4, 3 or 1
        count = 4 if channels - start >= 4 else 3 if channels - start == 3 else 1
        chunk = np.ascontiguousarray(pixels[:, :, start : start + count])
        if folded is None:
            warped = cv2.warpAffine(
                chunk, pixel_map, (width, height), flags=flags | cv2.WARP_INVERSE_MAP, borderMode=border, borderValue=0
            )
        else:
            warped = cv2.remap(chunk, folded[0], folded[1], flags, borderMode=border, borderValue=0)
        out[:, :, start : start + count] = warped.reshape(height, width, count)
        start += count
    return out


def _folded_maps(pixel_map: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """OpenCV's REFLECT_101 border walks back one image width at a time, so its cost grows with the distance
    sampled outside the picture (minutes for a translation of 1e6). Reflection about the edge pixels' centres is
    periodic (period 2 (W - 1)) and commutes with interpolation, so folding the sample locations into the
    picture first gives the same values at a cost independent of the distance. None when the map stays within
    one reflection of the picture, where warpAffine itself is fast."""
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], dtype=np.float64)
    reached = corners @ np.asarray(pixel_map, dtype=np.float64).T
    if np.all(np.abs(reached[:, 0] - (width - 1) / 2) <= 1.5 * width) and \
            np.all(np.abs(reached[:, 1] - (height - 1) / 2) <= 1.5 * height):
        return None
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    x = pixel_map[0, 0] * columns + pixel_map[0, 1] * rows + pixel_map[0, 2]
    y = pixel_map[1, 0] * columns + pixel_map[1, 1] * rows + pixel_map[1, 2]
    return _fold(x, width).astype(np.float32), _fold(y, height).astype(np.float32)


def _fold(coordinate: np.ndarray, size: int) -> np.ndarray:
    period = 2.0 * (size - 1)
    inside = np.mod(coordinate, period)
    return np.where(inside > size - 1, period - inside, inside)


def _warp_skimage(pixels: np.ndarray, pixel_map: np.ndarray, interpolation: str, padding: str) -> np.ndarray:
    from skimage.transform import warp as skimage_warp

    order = {"nearest": 0, "bilinear": 1}[interpolation]
    mode = {"zeros": "constant", "border": "edge", "reflection": "reflect"}[padding]
    result = skimage_warp(
        pixels, as_homogeneous(pixel_map), order=order, mode=mode, cval=0.0, clip=False, preserve_range=True
    )
    return np.ascontiguousarray(result, dtype=np.float32)

