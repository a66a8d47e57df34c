"""Image normalisation: every supported mode becomes RGB uint8, every bad input a clear ImageInputError."""

import io

import numpy as np
import pytest
from PIL import Image

from services.imaging import (
    SAMPLES,
    ImageInputError,
    encode_png,
    load_image,
    load_sample,
    to_rgb_uint8,
)


def _encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _gradient(width: int = 40, height: int = 30) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 100)]).astype(np.uint8)


def test_rgb_png_round_trips_exactly():
    rgb = _gradient()
    out = load_image(_encode(Image.fromarray(rgb)))
    assert out.pixels.dtype == np.uint8 and out.pixels.shape == (30, 40, 3)
    np.testing.assert_array_equal(out.pixels, rgb)
    assert out.original_size == (40, 30) and out.notes == ()


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "BMP", "TIFF"])
def test_common_formats_decode(fmt):
    out = load_image(_encode(Image.fromarray(_gradient()), fmt))
    assert out.pixels.shape == (30, 40, 3)
    assert np.abs(out.pixels.astype(int) - _gradient().astype(int)).mean() < 8  # lossy formats are close


def test_grayscale_becomes_three_equal_channels():
    gray = _gradient()[:, :, 0]
    out = load_image(_encode(Image.fromarray(gray, mode="L")))
    for channel in range(3):
        np.testing.assert_array_equal(out.pixels[:, :, channel], gray)


def test_rgba_is_composited_over_white():
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:10, :, 3] = 255  # top half opaque red, bottom half fully transparent
    out = load_image(_encode(Image.fromarray(rgba, mode="RGBA")))
    np.testing.assert_array_equal(out.pixels[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out.pixels[-1, 0], [255, 255, 255])


def test_palette_with_transparency():
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    img.info["transparency"] = 1
    img.paste(1, (0, 8, 16, 16))
    out = load_image(_encode(img))
    np.testing.assert_array_equal(out.pixels[0, 0], [0, 0, 255])
    np.testing.assert_array_equal(out.pixels[-1, 0], [255, 255, 255])


def test_sixteen_bit_grayscale_scales_by_full_range():
    values = np.array([[0, 257 * 128, 65535]] * 10, dtype=np.uint16).repeat(4, axis=1)
    out = load_image(_encode(Image.fromarray(values)))
    assert list(out.pixels[0, [0, 4, 8], 0]) == [0, 128, 255]


def test_cmyk_jpeg_converts_to_rgb():
    out = load_image(_encode(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG"))
    r, g, b = out.pixels[12, 12].astype(int)
    assert r > 200 and g < 60 and b < 60  # pure red ink


def test_exif_orientation_is_applied():
    img = Image.fromarray(_gradient(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree turn
    out = load_image(_encode(img, "JPEG", exif=exif))
    assert out.pixels.shape[:2] == (40, 20)
    assert out.original_size == (20, 40)


def test_animated_gif_uses_first_frame_and_says_so():
    frames = [Image.new("RGB", (16, 16), color) for color in ((255, 0, 0), (0, 255, 0))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = load_image(data)
    assert out.pixels[0, 0, 0] > 200 and out.pixels[0, 0, 1] < 50
    assert any("first" in note for note in out.notes)


def test_large_photo_is_downscaled_with_a_note():
    out = load_image(_encode(Image.new("RGB", (3000, 1500), (10, 20, 30))), max_side=600)
    assert out.pixels.shape == (300, 600, 3)
    assert out.original_size == (3000, 1500)
    assert "Downscaled from 3000×1500 to 600×300" in out.notes[0]


def test_large_jpeg_uses_reduced_decoding_but_reports_true_size():
    out = load_image(_encode(Image.new("RGB", (4000, 2000), (200, 10, 10)), "JPEG"), max_side=500)
    assert out.pixels.shape == (250, 500, 3)
    assert out.original_size == (4000, 2000)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is a text file, not a picture" * 10, "not an image"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not an image"),
    ],
)
def test_non_images_are_refused(data, message):
    with pytest.raises(ImageInputError, match=message):
        load_image(data)


def test_truncated_file_is_refused():
    data = _encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)), "PNG")
    with pytest.raises(ImageInputError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    # A 20000 x 20000 PNG of one colour compresses to a few hundred kB but would need 1.2 GB decoded.
    bomb = _encode(Image.new("L", (20000, 20000), 0), optimize=True)
    with pytest.raises(ImageInputError, match="limit"):
        load_image(bomb, max_pixels=100_000_000)


def test_tiny_image_is_refused():
    with pytest.raises(ImageInputError, match="1×1"):
        load_image(_encode(Image.new("RGB", (1, 1))))


def test_to_rgb_uint8_handles_floats_bools_and_rejects_nan():
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0.0, 1.0]]))[0, :, 0], [0, 255])
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[-1.0, 1.0]]))[0, :, 1], [0, 255])  # min-max
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[False, True]]))[0, :, 2], [0, 255])
    with pytest.raises(ImageInputError, match="NaN"):
        to_rgb_uint8(np.array([[np.nan, 1.0]]))
    with pytest.raises(ImageInputError, match="shape"):
        to_rgb_uint8(np.zeros((4, 4, 2)))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_samples_load_offline_as_rgb(name):
    out = load_sample(name, max_side=256)
    assert out.pixels.dtype == np.uint8 and out.pixels.ndim == 3 and out.pixels.shape[2] == 3
    assert max(out.pixels.shape[:2]) <= 256


def test_unknown_sample_is_refused():
    with pytest.raises(ImageInputError, match="Unknown sample"):
        load_sample("no-such-picture")


def test_encode_png_round_trip():
    rgb = _gradient()
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(rgb)))), rgb)
    gray = np.linspace(0, 1, 64).reshape(8, 8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(gray))))
    assert decoded.shape == (8, 8) and decoded[0, 0] == 0 and decoded[-1, -1] == 255


def test_a_picture_too_narrow_for_its_length_says_so_with_its_real_size():
    with pytest.raises(ImageInputError, match=r"8×1200 pixels: shrunk to 1024 .* 7×1024.* too narrow"):
        load_image(_encode(Image.new("RGB", (8, 1200))), max_side=1024)
    assert load_image(_encode(Image.new("RGB", (8, 1000))), max_side=1024).size == (8, 1000)


def test_the_fuzz_entry_point_accepts_pictures_and_refusals_and_nothing_else():
    from fuzz.fuzz_images import one_input

    one_input(_encode(Image.fromarray(_gradient())))
    one_input(b"not a picture")
    one_input(_encode(Image.fromarray(_gradient()))[:60])
