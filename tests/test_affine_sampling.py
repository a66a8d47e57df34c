"""The sampler: four engines agree on random maps and pictures, and the seed's examples give the right pictures."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from services.affine import (
    ENGINES,
    PADDINGS,
    AffineError,
    SingularMatrixError,
    UnsupportedCombinationError,
    compare_engines,
    forward_splat,
    grid_lines,
    pixel_matrix,
    sampling_grid,
    warp,
)

SUPPORTED_BICUBIC = {"zeros": ("numpy", "torch", "opencv"), "border": ("numpy", "torch", "opencv"),
                     "reflection": ("numpy", "torch")}


def random_case(rng, channels, spread=0.6):
    height, width = (int(v) for v in rng.integers(5, 40, size=2) * 2 + 1)  # odd sizes
    shape = (height, width) if channels is None else (height, width, channels)
    image = rng.random(shape).astype(np.float32)
    theta = np.eye(3)[:2] + rng.normal(0.0, spread, (2, 3))
    return image, theta


def near_rounding_tie(theta, height, width, tolerance=1e-3):
    """Output pixels whose exact input location is within ``tolerance`` of halfway between two pixels."""
    p = pixel_matrix(theta, height, width)
    rows, cols = np.mgrid[0:height, 0:width]
    x = p[0, 0] * cols + p[0, 1] * rows + p[0, 2]
    y = p[1, 0] * cols + p[1, 1] * rows + p[1, 2]
    return (np.abs(x - np.floor(x) - 0.5) < tolerance) | (np.abs(y - np.floor(y) - 0.5) < tolerance)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_engines_agree_on_random_maps_bilinear(padding, channels):
    rng = np.random.default_rng(hash((padding, channels)) % 2**32)
    for _ in range(4):
        image, theta = random_case(rng, channels)
        reference = warp(image, theta, padding=padding, engine="torch")
        assert reference.shape == image.shape and reference.dtype == np.float32
        for engine in ("numpy", "opencv", "skimage"):
            result = warp(image, theta, padding=padding, engine=engine)
            assert result.shape == image.shape
            assert np.max(np.abs(result - reference)) < 1e-4, (engine, padding, theta)


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("channels", [None, 3])
def test_engines_agree_on_random_maps_nearest(padding, channels):
    rng = np.random.default_rng(hash(("nearest", padding, channels)) % 2**32)
    for _ in range(4):
        image, theta = random_case(rng, channels)
        height, width = image.shape[:2]
        ties = near_rounding_tie(theta, height, width)
        assert ties.mean() < 0.02  # the exemption below stays negligible
        reference = warp(image, theta, interpolation="nearest", padding=padding, engine="torch")
        for engine in ("numpy", "opencv", "skimage"):
            result = warp(image, theta, interpolation="nearest", padding=padding, engine=engine)
            difference = np.abs(result - reference).reshape(height, width, -1).max(axis=2)
            assert np.max(difference[~ties]) < 1e-4, (engine, padding)


@pytest.mark.parametrize("padding", PADDINGS)
def test_bicubic_agrees_where_the_engine_supports_it(padding):
    rng = np.random.default_rng(7)
    for _ in range(3):
        image, theta = random_case(rng, 3)
        reference = warp(image, theta, interpolation="bicubic", padding=padding, engine="torch")
        for engine in SUPPORTED_BICUBIC[padding]:
            result = warp(image, theta, interpolation="bicubic", padding=padding, engine=engine)
            assert np.max(np.abs(result - reference)) < 1e-4, (engine, padding)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic"])
def test_far_outside_the_picture_reflection_repeats_and_zeros_vanish(interpolation):
    rng = np.random.default_rng(3)
    image = rng.random((9, 14, 2)).astype(np.float32)
    theta = np.array([[1.31, 0.42, 7.337], [-0.29, 0.93, -5.113]])  # samples several picture widths away
    ties = near_rounding_tie(theta, 9, 14) if interpolation == "nearest" else np.zeros((9, 14), dtype=bool)
    for padding in PADDINGS:
        reference = warp(image, theta, interpolation=interpolation, padding=padding, engine="torch")
        engines = SUPPORTED_BICUBIC[padding] if interpolation == "bicubic" else ENGINES
        for engine in engines:
            result = warp(image, theta, interpolation=interpolation, padding=padding, engine=engine)
            assert np.max(np.abs(result - reference)[~ties]) < 1e-4, (engine, padding)
    assert np.all(warp(image, theta, interpolation=interpolation, padding="zeros") == 0)


@pytest.mark.parametrize(
    "engine, interpolation",
    [(e, i) for e in ENGINES for i in ("nearest", "bilinear", "bicubic") if (e, i) != ("skimage", "bicubic")],
)
def test_identity_returns_the_picture(engine, interpolation):
    image = np.random.default_rng(0).random((11, 8, 3)).astype(np.float32)
    result = warp(image, np.eye(3)[:2], interpolation=interpolation, engine=engine)
    assert np.allclose(result, image, atol=1e-5)


@pytest.mark.parametrize("engine", ENGINES)
def test_seed_translation_moves_the_content_left_by_a_quarter_of_the_width(engine):
    height, width = 9, 41  # (W - 1) / 4 = 10 pixels exactly
    image = np.zeros((height, width), dtype=np.float32)
    image[:, 20] = 1.0  # a bright column in the middle
    image[:, 40] = 0.5  # and one at the right edge
    theta = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])  # the seed's example
    result = warp(image, theta, engine=engine)
    assert np.flatnonzero(result[0] == 1.0).tolist() == [10]
    assert np.flatnonzero(result[0] == 0.5).tolist() == [30]
    assert np.allclose(result[:, :31], image[:, 10:]) and np.all(result[:, 31:] == 0)


def test_seed_rotation_turns_the_picture_about_its_centre():
    size = 41
    rows, cols = np.mgrid[0:size, 0:size]
    blob = np.exp(-((cols - 30.0) ** 2 + (rows - 20.0) ** 2) / 4.0).astype(np.float32)  # right of the centre
    theta = np.array([[0.707, -0.707, 0.0], [0.707, 0.707, 0.0]])  # the seed's 45 degrees
    result = warp(blob, theta)
    centre = np.array([(result * cols).sum(), (result * rows).sum()]) / result.sum()
    # output location u with theta u = input location: u = theta^-1 (0.5, 0) in normalised coordinates
    u = np.linalg.solve(theta[:, :2], [0.5, 0.0])
    expected = (u + 1) / 2 * (size - 1)
    assert np.allclose(centre, expected, atol=0.1)  # (27.1, 12.9): up and to the right, same distance
    assert np.hypot(*(centre - 20.0)) == pytest.approx(10.0, abs=0.2)


def test_sampling_grid_equals_torch_affine_grid():
    theta = np.array([[0.9, -0.4, 0.2], [0.3, 1.2, -0.1]])
    for height, width in ((5, 7), (8, 3), (2, 2)):
        expected = F.affine_grid(torch.tensor(theta)[None], [1, 1, height, width], align_corners=True)[0].numpy()
        assert np.allclose(sampling_grid(theta, height, width), expected)
    grid = sampling_grid(np.eye(3)[:2], 3, 5)
    assert grid[0, 0].tolist() == [-1.0, -1.0] and grid[-1, -1].tolist() == [1.0, 1.0]


def test_integer_images_keep_their_scale_and_many_channels_work():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (13, 10, 3), dtype=np.uint8)
    assert np.array_equal(warp(image, np.eye(3)[:2]), image.astype(np.float32))
    wide = rng.random((9, 12, 6)).astype(np.float32)  # more channels than OpenCV takes at once
    theta = np.array([[0.8, 0.2, 0.1], [-0.1, 1.1, 0.05]])
    reference = warp(wide, theta, engine="torch")
    for engine in ENGINES:
        assert np.max(np.abs(warp(wide, theta, engine=engine) - reference)) < 1e-4


def test_unsupported_combinations_raise_instead_of_differing():
    image = np.zeros((8, 8), dtype=np.float32)
    with pytest.raises(UnsupportedCombinationError, match="Catmull-Rom"):
        warp(image, np.eye(3)[:2], interpolation="bicubic", engine="skimage")
    with pytest.raises(UnsupportedCombinationError, match="REFLECT_101"):
        warp(image, np.eye(3)[:2], interpolation="bicubic", padding="reflection", engine="opencv")


@pytest.mark.parametrize(
    "image, theta, options, fragment",
    [
        (np.zeros((1, 5)), np.eye(3)[:2], {}, "at least 2x2"),
        (np.zeros((2, 3, 4, 5)), np.eye(3)[:2], {}, "H x W"),
        (np.full((4, 4), np.nan), np.eye(3)[:2], {}, "NaN"),
        (np.array([[0.0, -np.inf], [1.0, 2.0]]), np.eye(3)[:2], {}, "infinite"),
        (np.zeros((4, 4), dtype=complex), np.eye(3)[:2], {}, "real-valued"),
        (np.zeros((4, 4)), np.eye(2), {}, "2x3"),
        (np.zeros((4, 4)), [[1, 0, np.inf], [0, 1, 0]], {}, "NaN or infinite"),
        (np.zeros((4, 4)), np.eye(3)[:2], {"engine": "cuda"}, "Unknown engine"),
        (np.zeros((4, 4)), np.eye(3)[:2], {"interpolation": "lanczos"}, "Unknown interpolation"),
        (np.zeros((4, 4)), np.eye(3)[:2], {"padding": "wrap"}, "Unknown padding"),
    ],
)
def test_bad_input_raises_a_clear_error(image, theta, options, fragment):
    with pytest.raises(AffineError, match=fragment):
        warp(image, theta, **options)


def test_singular_theta_still_samples_a_line_of_the_input():
    image = np.random.default_rng(1).random((6, 9)).astype(np.float32)
    theta = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # every output row samples the middle row
    result = warp(image, theta)
    for row in result:
        assert np.allclose(row, warp(image, theta, engine="torch")[0], atol=1e-5)


def test_compare_engines_reports_agreement_and_refusals():
    image = np.random.default_rng(2).random((15, 12, 3)).astype(np.float32)
    theta = np.array([[0.9, 0.3, 0.1], [-0.2, 1.0, 0.0]])
    checks = {c.engine: c for c in compare_engines(image, theta)}
    assert set(checks) == set(ENGINES)
    assert checks["numpy"].message == "reference" and checks["numpy"].max_difference == 0
    assert all(c.max_difference < 1e-4 and c.message.startswith("agrees") for e, c in checks.items() if e != "numpy")
    bicubic = {c.engine: c for c in compare_engines(image, theta, interpolation="bicubic")}
    assert bicubic["skimage"].max_difference is None and "Catmull-Rom" in bicubic["skimage"].message


def test_grid_lines_outline_the_sampled_region():
    height, width = 10, 20
    lines = grid_lines(np.eye(3)[:2], height, width, count=5)
    assert len(lines) == 10
    assert np.allclose(lines[0], [[0, 0], [0, height - 1]])  # the left edge
    assert np.allclose(lines[1], [[0, 0], [width - 1, 0]])  # the top edge
    shifted = grid_lines(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]), height, width, count=5)
    assert np.allclose(shifted[0][:, 0], (width - 1) / 4)  # output's left edge samples a quarter in


def test_forward_splatting_leaves_holes_when_enlarging():
    image = np.random.default_rng(3).random((30, 30)).astype(np.float32)
    same = forward_splat(image, np.eye(3)[:2])
    assert same.hole_fraction == 0 and same.collision_fraction == 0 and np.allclose(same.image[..., 0], image)
    enlarged = forward_splat(image, np.array([[0.5, 0, 0], [0, 0.5, 0]]))  # sampler zooms in x2
    assert enlarged.hole_fraction > 0.6
    shrunk = forward_splat(image, np.array([[2.0, 0, 0], [0, 2.0, 0]]))
    assert shrunk.collision_fraction > 0.5
    with pytest.raises(SingularMatrixError):
        forward_splat(image, np.array([[1.0, 0, 0], [0, 0, 0]]))
