"""Turn untrusted image bytes (or a built-in sample) into a safe RGB uint8 array.

Every page that takes a picture goes through here, so that corrupt files, decompression bombs, odd pixel
modes and huge photos are handled once, with messages a person can act on.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from services.budget import (
    IMAGE_DECODE_BYTES,
    IMAGE_DEFAULT_MAX_SIDE,
    IMAGE_MAX_PIXELS,
    IMAGE_MIN_SIDE,
    IMAGE_UPLOAD_BYTES,
)

#: Kept under their old names: pages and tests import them from here.
MAX_DECODE_PIXELS = IMAGE_MAX_PIXELS
DEFAULT_MAX_SIDE = IMAGE_DEFAULT_MAX_SIDE
MIN_SIDE = IMAGE_MIN_SIDE

#: The formats the uploader offers; anything else (DDS, BLP, PSD, ...) is refused before a decoder runs.
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
#: What Pillow's decoders raise on malformed files: OSError (truncated data, bad codec state, and
#: UnidentifiedImageError), SyntaxError (PNG/GIF chunk checks), ValueError (bad header fields), EOFError (frame
#: walks), struct.error (short headers), TypeError (a TIFF page without ImageWidth: "Missing dimensions"),
#: IndexError/KeyError (TIFF and BMP tables pointing past their data), ZeroDivisionError (a zero TIFF
#: resolution or BMP field), NotImplementedError (a valid file with a feature Pillow lacks).
DECODER_ERRORS: tuple[type[Exception], ...] = (
    OSError, SyntaxError, ValueError, EOFError, struct.error, TypeError, IndexError, KeyError, ZeroDivisionError,
    NotImplementedError,
)
#: Bytes per pixel at the peak of decoding and normalising each mode: Pillow's own storage (1 byte for 1/L/P,
#: 4 for the 2- to 4-band modes and for I/F) plus the conversion the working copy needs (P -> RGBA, 16-bit
#: -> I, RGBA -> premultiplied for resampling).
PEAK_BYTES_PER_PIXEL = {"1": 2, "L": 1, "P": 5, "PA": 8, "LA": 8, "RGB": 4, "RGBA": 8, "CMYK": 8, "YCbCr": 8,
                        "I": 4, "F": 4, "I;16": 6, "I;16B": 6, "I;16L": 6, "I;16N": 6}
#: libwebp decodes into its own buffer before Pillow copies it: 4 more bytes per pixel.
FORMAT_EXTRA_BYTES_PER_PIXEL = {"WEBP": 4}

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

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
    max_decode_bytes: int = IMAGE_DECODE_BYTES,
) -> LoadedImage:
    """Decode ``data`` into RGB uint8, applying EXIF orientation and capping the working size.

    The declared size is checked against ``max_pixels`` and the decoding budget ``max_decode_bytes`` before
    anything is decoded; JPEG is decoded at a reduced scale when large; the picture is shrunk while still
    8-bit, so the float conversion only ever sees the small working copy.
    Raises ``ImageInputError`` for anything that is not a usable image.
    """
    if not data:
        raise ImageInputError("The file is empty.")
    if len(data) > IMAGE_UPLOAD_BYTES:
        raise ImageInputError(
            f"The file is {len(data) / 2**20:.1f} MiB; the limit is {IMAGE_UPLOAD_BYTES / 2**20:.0f} MiB."
        )
    with warnings.catch_warnings():
        # Pillow's own bomb check is a warning below 2x its limit; we enforce ours explicitly instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"The image is too large to decode safely ({exc}).") from exc
        except DECODER_ERRORS as exc:
            raise ImageInputError("This file is not an image in a format we can read (PNG, JPEG, WebP, BMP, "
                                  "TIFF or GIF).") from exc
        try:
            return _decode(img, data, max_side=max_side, max_pixels=max_pixels, min_side=min_side,
                           max_decode_bytes=max_decode_bytes)
        except ImageInputError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"The image is too large to decode safely ({exc}).") from exc
        except DECODER_ERRORS as exc:
            raise ImageInputError(f"The image file is damaged or truncated ({_reason(exc)}).") from exc
        finally:
            img.close()


def _decode(img: Image.Image, data: bytes, *, max_side: int, max_pixels: int, min_side: int,
            max_decode_bytes: int) -> LoadedImage:
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageInputError(f"The image declares a size of {width}×{height} pixels.")
    if width * height > max_pixels:
        raise ImageInputError(
            f"The image is {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
            f"the limit is {max_pixels / 1e6:.0f} MP. Please downscale it first."
        )
    if min(width, height) < min_side:
        raise ImageInputError(f"The image is {width}×{height} pixels; at least {min_side}×{min_side} is needed.")
    notes = [note] if (note := _frames_note(data)) else []
    if img.format in ("JPEG", "MPO") and max(width, height) > max_side:
        img.draft("RGB", (max_side, max_side))  # libjpeg decodes at 1/2, 1/4 or 1/8 scale: much less memory
    needed = _peak_bytes(img)
    if needed > max_decode_bytes:
        raise ImageInputError(
            f"The image is {width}×{height} pixels ({img.mode}); decoding it would take about "
            f"{needed / 2**20:.0f} MiB, and the limit is {max_decode_bytes / 2**20:.0f} MiB. "
            "Please downscale it (or save it as JPEG) first."
        )
    img.load()
    orientation = img.getexif().get(_EXIF_ORIENTATION, 1)  # after load: a PNG's eXIf may follow its pixels
    if orientation in (5, 6, 7, 8):
        width, height = height, width  # the photo is stored on its side
    small = _shrink(_resizable(img), max_side)
    if orientation in _TRANSPOSE:
        small = small.transpose(_TRANSPOSE[orientation])
    pixels = to_rgb_uint8(_pil_to_array(small))
    if (pixels.shape[1], pixels.shape[0]) != (width, height):
        notes.append(f"Downscaled from {width}×{height} to {pixels.shape[1]}×{pixels.shape[0]}.")
    if min(pixels.shape[:2]) < min_side:
        raise ImageInputError(
            f"The image is {width}×{height} pixels: shrunk to {max_side} pixels on its long side it would be "
            f"{pixels.shape[1]}×{pixels.shape[0]}, and at least {min_side} pixels are needed across. The picture "
            "is too narrow for its length; crop it first."
        )
    return LoadedImage(pixels=np.ascontiguousarray(pixels), original_size=(width, height), notes=tuple(notes))


def _frames_note(data: bytes) -> str | None:
    """Say when only the first frame or page is used. Asked of a separate handle: walking to the next frame of
    a damaged file may fail, and the first frame is still usable."""
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            several = bool(getattr(probe, "is_animated", False))
    except DECODER_ERRORS:
        return "The file has more frames or pages that cannot be read; using the first one."
    return "The file has several frames or pages; using the first one." if several else None


def _peak_bytes(img: Image.Image) -> int:
    """Bytes that decoding and normalising ``img`` at its current (possibly draft-reduced) size would need."""
    width, height = img.size
    per_pixel = PEAK_BYTES_PER_PIXEL.get(img.mode, 16) + FORMAT_EXTRA_BYTES_PER_PIXEL.get(img.format or "", 0)
    return width * height * per_pixel


def _resizable(img: Image.Image) -> Image.Image:
    """A mode that Lanczos resampling accepts and that keeps the file's meaning (palette, alpha, 16 bits)."""
    if img.mode in ("P", "PA"):
        return img.convert("RGBA")
    if img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return img.convert("RGB")
    if img.mode == "1":
        return img.convert("L")
    if img.mode.startswith("I;16"):
        return img.convert("I")
    return img


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """At most ``max_side`` on the long side: a box reduction by an integer factor first (cheap, and it keeps
    Lanczos' input small), then Lanczos to the exact size."""
    width, height = img.size
    if max(width, height) <= max_side:
        return img
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    factor = max(width, height) // (2 * max_side)
    if factor >= 2 and img.mode in ("L", "RGB", "RGBA", "LA", "I", "F"):
        img = img.reduce(factor)
    return img.resize(size, Image.Resampling.LANCZOS)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


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
    img = _resizable(img)
    if img.mode == "LA":
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
