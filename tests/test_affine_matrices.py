"""Frames, determinant, inverse, decomposition, points and shapes."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from services.affine import (
    AffineError,
    Rotate,
    Scale,
    Shear,
    SingularMatrixError,
    Translate,
    apply_to_point,
    area_change,
    compose,
    decompose,
    determinant,
    frame_matrix,
    interpolate,
    inverse,
    latex_matrix,
    pixel_matrix,
    reference_shapes,
    to_theta,
    transform_shapes,
)
from services.affine.matrices import as_homogeneous


def random_affine(rng, spread=1.0):
    m = np.eye(3)
    m[:2] = np.eye(3)[:2] + rng.normal(0, spread, (2, 3))
    return m


def test_decompose_recomposes_random_matrices():
    rng = np.random.default_rng(1)
    for _ in range(200):
        m = random_affine(rng)
        parts = decompose(m)
        assert np.allclose(compose(parts.steps()), m, atol=1e-10)
        assert parts.scale[0] >= 0


def test_decompose_recovers_known_parts_and_a_mirror():
    m = compose([Shear(0.4, 0.0), Scale(2.0, -0.5), Rotate(-70.0), Translate(3.0, -1.0)])
    parts = decompose(m)
    assert parts.translation == pytest.approx((3.0, -1.0))
    assert parts.rotation_degrees == pytest.approx(-70.0)
    assert parts.shear == pytest.approx(0.4)
    assert parts.scale == pytest.approx((2.0, -0.5))


@pytest.mark.parametrize(
    "linear", [[[1, 2], [2, 4]], [[0, 3], [0, -1]], [[0, 0], [0, 0]], [[2, 0], [0, 0]], [[0, 0], [5, 0]]]
)
def test_decompose_handles_singular_matrices(linear):
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = (0.5, -0.25)
    assert np.allclose(compose(decompose(m).steps()), m, atol=1e-12)


def test_decompose_accepts_2x3_and_rejects_non_affine():
    assert decompose([[1, 0, 2], [0, 1, 3]]).translation == (2.0, 3.0)
    with pytest.raises(AffineError, match="last row"):
        decompose([[1, 0, 0], [0, 1, 0], [0.1, 0, 1]])
    with pytest.raises(AffineError, match="2x3 or 3x3"):
        decompose(np.eye(2))
    with pytest.raises(AffineError, match="NaN"):
        decompose([[np.nan, 0, 0], [0, 1, 0]])


def test_determinant_is_the_area_factor_and_its_sign_the_orientation():
    m = compose([Scale(2.0, 3.0), Rotate(33.0), Translate(5, 5)])
    assert determinant(m) == pytest.approx(6.0)
    change = area_change(compose([Scale(-1.0, 1.0)]))
    assert change.flips and change.area_scale == pytest.approx(1.0) and not change.singular
    singular = area_change(compose([Scale(1.0, 0.0)]))
    assert singular.singular and not singular.flips
    assert "no inverse" in singular.describe()
    square = reference_shapes(1.0).square
    after = transform_shapes(m, reference_shapes(1.0)).square
    shoelace = lambda p: 0.5 * abs(np.dot(p[:-1, 0], p[1:, 1]) - np.dot(p[1:, 0], p[:-1, 1]))  # noqa: E731
    assert shoelace(after) == pytest.approx(6.0 * shoelace(square))


def test_inverse_undoes_m_and_singular_matrices_raise():
    rng = np.random.default_rng(2)
    for _ in range(20):
        m = random_affine(rng)
        assert np.allclose(inverse(m) @ m, np.eye(3), atol=1e-9)
    for singular in (compose([Scale(0.0, 2.0)]), [[1, 2, 0], [2, 4, 1]], np.diag([0.0, 0.0, 1.0])):
        with pytest.raises(SingularMatrixError, match="singular"):
            inverse(singular)


def test_apply_to_point_is_m_times_k_in_homogeneous_coordinates():
    m = compose([Rotate(90.0), Translate(1.0, 2.0)])
    assert apply_to_point(m, (1.0, 0.0)) == pytest.approx((1.0, 3.0))
    assert apply_to_point(np.eye(3), (0.3, -0.7)) == pytest.approx((0.3, -0.7))


def test_shapes_move_with_m_and_the_f_shows_a_mirror():
    before = reference_shapes(2.0)
    assert before.square.max() == 2.0 and np.allclose(before.e1, [[0, 0], [2, 0]])
    after = transform_shapes(compose([Scale(-1.0, 1.0)]), before)
    assert np.allclose(after.letter[:, 0], -before.letter[:, 0])
    assert np.allclose(after.e2, before.e2)


def test_frames_convert_to_the_same_theta():
    height, width = 31, 47
    # a rotation about the image centre, written in each frame
    rotation = compose([Rotate(30.0)])
    theta_centre = to_theta(rotation, "pixels_centre", height, width)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corner = compose([Translate(-cx, -cy), Rotate(30.0), Translate(cx, cy)])
    assert np.allclose(to_theta(corner, "pixels_corner", height, width), theta_centre)
    # in normalised coordinates a translation of 2 is the whole width
    assert to_theta(compose([Translate(2.0, 0.0)]), "normalised", height, width)[0, 2] == 2.0
    pixels = to_theta(compose([Translate(width - 1.0, 0.0)]), "pixels_corner", height, width)
    assert np.allclose(pixels, [[1, 0, 2], [0, 1, 0]])


def test_forward_mapping_uses_the_inverse_and_refuses_singular_matrices():
    m = compose([Scale(2.0, 2.0), Translate(0.5, 0.0)])
    assert np.allclose(as_homogeneous(to_theta(m, "normalised", 10, 10, "forward")), inverse(m))
    with pytest.raises(SingularMatrixError):
        to_theta(compose([Scale(0.0, 1.0)]), "normalised", 10, 10, "forward")
    with pytest.raises(AffineError):
        to_theta(m, "normalised", 10, 10, "sideways")
    with pytest.raises(AffineError):
        frame_matrix("inches", 10, 10)
    with pytest.raises(AffineError, match="2x2"):
        frame_matrix("normalised", 1, 10)


def test_pixel_matrix_matches_torch_affine_grid():
    height, width = 7, 12
    theta = np.array([[0.8, 0.3, 0.1], [-0.2, 1.1, -0.3]])
    grid = F.affine_grid(torch.tensor(theta)[None], [1, 1, height, width], align_corners=True)[0].numpy()
    pixels = (grid + 1) / 2 * np.array([width - 1, height - 1])
    p = pixel_matrix(theta, height, width)
    rows, cols = np.mgrid[0:height, 0:width]
    assert np.allclose(p[0, 0] * cols + p[0, 1] * rows + p[0, 2], pixels[..., 0])
    assert np.allclose(p[1, 0] * cols + p[1, 1] * rows + p[1, 2], pixels[..., 1])


def test_interpolate_runs_from_identity_to_m_and_turns_rotations():
    m = compose([Rotate(170.0), Scale(2.0, -1.0), Translate(1.0, 2.0)])
    assert np.allclose(interpolate(m, 0.0), np.eye(3))
    assert np.allclose(interpolate(m, 1.0), m)
    halfway = compose([Rotate(90.0)])
    assert np.allclose(interpolate(compose([Rotate(180.0)]), 0.5), halfway, atol=1e-9)
    assert abs(np.linalg.det(interpolate(compose([Rotate(180.0)]), 0.5)[:2, :2])) == pytest.approx(1.0)


def test_latex_matrix_rounds_and_hides_negative_zero():
    text = latex_matrix(np.array([[1.0, -0.0, math.pi], [0.0, 1e-20, -2.5]]))
    assert text == r"\begin{bmatrix}1 & 0 & 3.14 \\ 0 & 0 & -2.5\end{bmatrix}"
