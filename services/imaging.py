"""Turn untrusted image bytes (or a built-in sample) into a safe RGB uint8 array.

Every page that takes a picture goes through here, so that corrupt files, decompression bombs, odd pixel
modes and huge photos are handled once, with messages a person can act on.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Pixel count above which a file is refused before decoding (a 100-megapixel photo still passes).
MAX_DECODE_PIXELS = 120_000_000
#: Longest side of the working copy; larger photos are downscaled (and the user told so).
DEFAULT_MAX_SIDE = 1024
#: Smallest side that any page can do something useful with.
MIN_SIDE = 8

_EXIF_ORIENTATION = 0x0112

#: Built-in samples from ``skimage.data``: name -> one-line description.
SAMPLES: dict[str, str] = {
    "chelsea": "Chelsea the cat",
    "coffee": "A cup of coffee",
    "astronaut": "Astronaut Eileen Collins",
    "rocket": "A rocket on the launch pad",
    "camera": "The cameraman (grayscale)",
    "hubble_deep_field": "Hubble deep field",
    "immunohistochemistry": "Immunohistochemistry stain",
    "coins": "Greek coins (grayscale)",
}


class ImageInputError(ValueError):
    """The input cannot be used as an image; the message says why, for the user."""


@dataclass(frozen=True)
class LoadedImage:
    """A normalised picture and what was done to it on the way."""

    pixels: np.ndarray  # H x W x 3, uint8, C-contiguous
    original_size: tuple[int, int]  # (width, height) as stored in the file, after EXIF rotation
    notes: tuple[str, ...] = ()  # human-readable things worth telling the user (downscaled, first frame, ...)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the working copy."""
        return self.pixels.shape[1], self.pixels.shape[0]


def load_image(
    data: bytes,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = MAX_DECODE_PIXELS,
    min_side: int = MIN_SIDE,
) -> LoadedImage:
    """Decode ``data`` into RGB uint8, applying EXIF orientation and capping the working size.

    Raises ``ImageInputError`` for anything that is not a usable image.
    """
    if not data:
        raise ImageInputError("The file is empty.")
    with warnings.catch_warnings():
        # Pillow's own bomb check is a warning below 2x its limit; we enforce ours explicitly instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"The image is too large to decode safely ({exc}).") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ImageInputError("This file is not an image in a format we can read.") from exc
        width, height = img.size
        if width * height > max_pixels:
            raise ImageInputError(
                f"The image is {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
                f"the limit is {max_pixels / 1e6:.0f} MP. Please downscale it first."
            )
        notes: list[str] = []
        try:
            if getattr(img, "n_frames", 1) > 1:
                notes.append(f"The file has {img.n_frames} frames; using the first one.")
                img.seek(0)
            if img.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width  # the photo is stored on its side
            if max(width, height) > max_side and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))  # let libjpeg decode at reduced scale: much faster
            img.load()
            img = ImageOps.exif_transpose(img)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageInputError(f"The image file is damaged or truncated ({exc}).") from exc
    original_size = (width, height)
    pixels = to_rgb_uint8(_pil_to_array(img))
    pixels, scaled_note = _cap_size(pixels, max_side)
    if scaled_note:
        notes.append(f"Downscaled from {original_size[0]}×{original_size[1]} to {scaled_note}.")
    if min(pixels.shape[:2]) < min_side:
        raise ImageInputError(
            f"The image is {pixels.shape[1]}×{pixels.shape[0]} pixels; at least {min_side}×{min_side} is needed."
        )
    return LoadedImage(pixels=np.ascontiguousarray(pixels), original_size=original_size, notes=tuple(notes))


def load_sample(name: str, *, max_side: int = DEFAULT_MAX_SIDE) -> LoadedImage:
    """One of the ``SAMPLES`` shipped with scikit-image, as RGB uint8 (no download)."""
    if name not in SAMPLES:
        raise ImageInputError(f"Unknown sample {name!r}; choose one of {', '.join(SAMPLES)}.")
    from skimage import data as skdata

    raw = getattr(skdata, name)()
    pixels = to_rgb_uint8(raw)
    original_size = (pixels.shape[1], pixels.shape[0])
    pixels, scaled_note = _cap_size(pixels, max_side)
    notes = (f"Downscaled from {original_size[0]}×{original_size[1]} to {scaled_note}.",) if scaled_note else ()
    return LoadedImage(pixels=pixels, original_size=original_size, notes=notes)


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Any HxW, HxWx1, HxWx3 or HxWx4 array of integers or floats -> HxWx3 uint8.

    Integers wider than 8 bits are scaled by their type's range (16-bit PNG/TIFF); floats are taken as
    [0, 1] when they fit, else min-max scaled; alpha is composited over white.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageInputError(f"Expected a grayscale, RGB or RGBA image, got an array of shape {arr.shape}.")
    if arr.size == 0:
        raise ImageInputError("The image has no pixels.")
    unit = _to_unit_float(arr)
    if unit.ndim == 2:
        unit = np.repeat(unit[:, :, None], 3, axis=2)
    elif unit.shape[2] == 4:
        alpha = unit[:, :, 3:4]
        unit = unit[:, :, :3] * alpha + (1.0 - alpha)
    return np.ascontiguousarray(np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8))


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes for an image array (uint8, or floats in [0, 1]) for download buttons."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        arr = to_rgb_uint8(arr) if arr.ndim == 3 else np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _to_unit_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.dtype == np.uint8:
            return arr.astype(np.float64) / 255.0
        top = float(arr.max())
        # 16-bit data stored in a wider type (Pillow's "I" mode) is still 16-bit data.
        full_range = 255.0 if top <= 255 else 65535.0 if top <= 65535 else float(np.iinfo(arr.dtype).max)
        return np.clip(arr.astype(np.float64), 0, None) / full_range
    values = arr.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageInputError("The image contains NaN or infinite values.")
    lo, hi = float(values.min()), float(values.max())
    if lo >= 0.0 and hi <= 1.0:
        return values
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode == "I;16B":
        img = img.convert("I")
    elif img.mode == "LA":
        la = np.asarray(img)
        return np.dstack([la[:, :, 0]] * 3 + [la[:, :, 1]])
    return np.asarray(img)


def _cap_size(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, str | None]:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels, None
    scale = max_side / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(pixels).resize(new_size, Image.Resampling.LANCZOS))
    return np.ascontiguousarray(resized), f"{new_size[0]}×{new_size[1]}"
