"""The page's slider-to-image path, the animation frames and the matrix export."""

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from services.affine import (
    Rotate,
    Scale,
    SingularMatrixError,
    Translate,
    animation_frames,
    compose,
    matrix_report,
    parse_steps,
    render_warp,
    thumbnail,
    to_theta,
    to_uint8,
    to_unit_float,
    warp,
)

OPTIONS = {"frame": "normalised", "mapping": "sampler", "interpolation": "bilinear", "padding": "zeros"}


def picture(height=24, width=31):
    rng = np.random.default_rng(8)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_render_warp_is_warp_on_the_unit_float_picture():
    pixels = picture()
    m = compose([Rotate(25.0), Scale(0.8, 1.1)])
    view = render_warp(pixels, m, engine="numpy", **OPTIONS)
    expected = warp(to_unit_float(pixels), to_theta(m, "normalised", 24, 31), engine="torch")
    assert view.image.dtype == np.uint8 and view.image.shape == pixels.shape
    assert np.max(np.abs(view.image.astype(int) - to_uint8(expected).astype(int))) <= 1
    opencv = cv2.warpAffine(pixels, view.pixel_matrix, (31, 24), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert np.mean(np.abs(opencv.astype(int) - view.image.astype(int))) < 1.0


def test_identity_keeps_the_picture_exactly():
    pixels = picture()
    assert np.array_equal(render_warp(pixels, np.eye(3), engine="numpy", **OPTIONS).image, pixels)


def test_forward_mapping_moves_the_picture_the_other_way():
    pixels = picture()
    m = compose([Translate(0.5, 0.0)])
    sampler = render_warp(pixels, m, engine="numpy", **OPTIONS)
    forward = render_warp(pixels, compose([Translate(-0.5, 0.0)]), engine="numpy", **{**OPTIONS, "mapping": "forward"})
    assert np.array_equal(sampler.image, forward.image)
    with pytest.raises(SingularMatrixError):
        render_warp(pixels, compose([Scale(0.0, 1.0)]), engine="numpy", **{**OPTIONS, "mapping": "forward"})


def test_pixel_frames_refer_to_the_full_size_picture():
    pixels = picture(40, 60)
    small = thumbnail(pixels, 30)
    assert small.shape[:2] == (20, 30)
    m = compose([Translate(29.5, 0.0)])  # half of (60 - 1) pixels of the full picture
    view = render_warp(small, m, engine="numpy", size=(40, 60), **{**OPTIONS, "frame": "pixels_corner"})
    assert np.allclose(view.theta, [[1, 0, 1.0], [0, 1, 0]])
    assert thumbnail(pixels, 100) is pixels


def test_animation_goes_from_the_picture_to_the_final_warp():
    pixels = picture()
    m = compose([Rotate(60.0), Translate(0.2, 0.0)])
    frames = animation_frames(pixels, m, engine="numpy", size=(24, 31), count=5, **OPTIONS)
    assert [f.fraction for f in frames] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.array_equal(frames[0].image, pixels)
    assert np.array_equal(frames[-1].image, render_warp(pixels, m, engine="numpy", **OPTIONS).image)


def test_animation_skips_singular_frames_in_forward_mapping():
    frames = animation_frames(
        picture(), compose([Scale(-1.0, 1.0)]), engine="numpy", size=(24, 31), count=3,
        **{**OPTIONS, "mapping": "forward"},
    )
    assert [f.image is None for f in frames] == [False, True, False]  # the flip passes through scale 0


def test_matrix_report_reproduces_the_warp_in_torch_and_opencv():
    steps = parse_steps("rotate:30;translate:0.1,-0.2")
    report = json.loads(json.dumps(matrix_report(compose(steps), frame="normalised", mapping="sampler",
                                                 steps=steps, size=(24, 31))))
    assert report["steps"] == "rotate:30;translate:0.1,-0.2"
    assert report["determinant"] == pytest.approx(1.0)
    image = to_unit_float(picture())
    ours = warp(image, np.array(report["theta"]))
    grid = F.affine_grid(torch.tensor(report["theta"], dtype=torch.float32)[None], [1, 3, 24, 31], align_corners=True)
    torch_out = F.grid_sample(torch.from_numpy(image).permute(2, 0, 1)[None], grid, align_corners=True)
    assert np.max(np.abs(torch_out[0].permute(1, 2, 0).numpy() - ours)) < 1e-4
    opencv = cv2.warpAffine(image, np.array(report["opencv_matrix"]), (31, 24),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert np.max(np.abs(opencv - ours)) < 1e-4


def test_matrix_report_explains_a_singular_forward_map():
    report = matrix_report(compose([Scale(0.0, 1.0)]), frame="normalised", mapping="forward", steps=None,
                           size=(10, 10))
    assert report["theta"] is None and "singular" in report["note"]
