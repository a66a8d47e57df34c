"""The bilinear explainer reproduces the seed's formula and the samplers' value at the same location."""

import numpy as np
import pytest

from services.affine import SEED_LOCATION, AffineError, explain_bilinear, frame_matrix, pixel_window, warp


def ramp(height=10, width=12):
    rows, cols = np.mgrid[0:height, 0:width]
    return (10.0 * rows + cols).astype(np.float64)  # value = 10 y + x


def test_seed_example_at_6_7_3_2():
    ex = explain_bilinear(ramp(), *SEED_LOCATION)
    assert (ex.x1, ex.x2, ex.y1, ex.y2) == (6, 7, 3, 4)
    assert (ex.q11, ex.q21, ex.q12, ex.q22) == (36.0, 37.0, 46.0, 47.0)
    assert ex.weight_x1 == pytest.approx(0.3) and ex.weight_x2 == pytest.approx(0.7)
    assert ex.weight_y1 == pytest.approx(0.8) and ex.weight_y2 == pytest.approx(0.2)
    assert ex.r1 == pytest.approx(36.7) and ex.r2 == pytest.approx(46.7)
    assert ex.p == pytest.approx(38.7)  # bilinear is exact on a linear ramp: 10 * 3.2 + 6.7
    assert sum(ex.corner_weights.values()) == pytest.approx(1.0)
    assert ex.corner_weights["Q21"] == pytest.approx(0.7 * 0.8)


def test_p_equals_every_engines_bilinear_sample_there():
    values = np.random.default_rng(4).random((9, 11))
    height, width = values.shape
    for x, y in [(6.7, 3.2), (0.0, 0.0), (10.0, 8.0), (3.25, 7.9)]:
        ex = explain_bilinear(values, x, y)
        to_pixels = frame_matrix("pixels_corner", height, width)
        everywhere_xy = np.array([[0.0, 0.0, x], [0.0, 0.0, y], [0.0, 0.0, 1.0]])
        theta = (np.linalg.inv(to_pixels) @ everywhere_xy @ to_pixels)[:2]
        for engine in ("numpy", "torch", "opencv", "skimage"):
            sampled = warp(values.astype(np.float32), theta, engine=engine)
            assert sampled[0, 0] == pytest.approx(ex.p, abs=1e-5), (engine, x, y)


def test_interpolating_y_first_gives_the_same_p():
    values = np.random.default_rng(5).random((6, 6))
    ex = explain_bilinear(values, 2.4, 1.9)
    column1 = ex.weight_y1 * ex.q11 + ex.weight_y2 * ex.q12
    column2 = ex.weight_y1 * ex.q21 + ex.weight_y2 * ex.q22
    assert ex.weight_x1 * column1 + ex.weight_x2 * column2 == pytest.approx(ex.p)


def test_the_last_row_and_column_still_have_two_neighbours():
    ex = explain_bilinear(ramp(5, 5), 4.0, 4.0)
    assert (ex.x1, ex.x2, ex.y1, ex.y2) == (3, 4, 3, 4)
    assert ex.p == pytest.approx(44.0)


@pytest.mark.parametrize("x, y", [(-0.1, 2.0), (11.5, 2.0), (3.0, 9.01), (float("nan"), 1.0)])
def test_locations_outside_the_picture_are_refused(x, y):
    with pytest.raises(AffineError, match="outside the picture"):
        explain_bilinear(ramp(), x, y)


def test_explainer_needs_a_2d_array():
    with pytest.raises(AffineError, match="2-D"):
        explain_bilinear(np.zeros((4, 4, 3)), 1.0, 1.0)


def test_pixel_window_is_clipped_to_the_picture():
    window = pixel_window(ramp(), 6.7, 3.2, radius=3)
    assert (window.left, window.top) == (4, 1) and window.values.shape == (6, 6)
    assert window.values[0, 0] == 14.0
    corner = pixel_window(ramp(), 0.2, 0.3, radius=3)
    assert (corner.left, corner.top) == (0, 0) and corner.values.shape == (4, 4)
