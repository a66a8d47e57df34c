"""Drawing helpers of the Grad-CAM page: colour maps, overlays, the shared colour scale, guided images, grid PNG."""

import numpy as np
import pytest

from services.cam import ExplainOptionError, LayerMap
from services.cam.render import (
    COLORMAPS,
    GridRow,
    colorize,
    comparable_maps,
    compose_grid,
    guided_backprop_image,
    guided_gradcam_image,
    overlay,
)


def _cell(method: str, raw: np.ndarray, grid: tuple[int, int]) -> LayerMap:
    scaled = raw / raw.max() if raw.max() > 0 else raw
    return LayerMap(method=method, layer="x", heatmap=np.float32(scaled), raw=np.float32(raw), grid=grid,
                    faithfulness=None)


@pytest.mark.parametrize("name", list(COLORMAPS))
def test_colorize_maps_zero_and_one_to_the_ends_of_the_colour_map(name):
    colours = colorize(np.array([[0.0, 1.0, 2.0, -1.0]]), name)
    assert colours.shape == (1, 4, 3) and colours.dtype == np.uint8
    np.testing.assert_array_equal(colours[0, 1], colours[0, 2])  # values are clipped to [0, 1]
    np.testing.assert_array_equal(colours[0, 0], colours[0, 3])
    assert not np.array_equal(colours[0, 0], colours[0, 1])


def test_jet_runs_from_blue_to_red():
    low, high = colorize(np.array([[0.0, 1.0]]), "jet")[0]
    assert low[2] > 100 and low[0] < 50  # dark blue, in RGB order
    assert high[0] > 100 and high[2] < 50  # dark red


def test_overlay_opacity_blends_photo_and_heatmap():
    photo = np.full((4, 5, 3), 200, dtype=np.uint8)
    heat = np.linspace(0, 1, 20).reshape(4, 5)
    np.testing.assert_array_equal(overlay(photo, heat, alpha=0.0), photo)
    np.testing.assert_array_equal(overlay(photo, heat, alpha=1.0, colormap="viridis"), colorize(heat, "viridis"))
    half = overlay(photo, heat, alpha=0.5).astype(int)
    expected = (photo.astype(int) + colorize(heat).astype(int)) / 2
    assert np.abs(half - expected).max() <= 1


def test_bad_display_options_are_refused():
    with pytest.raises(ExplainOptionError, match="opacity"):
        overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2)), alpha=1.5)
    with pytest.raises(ExplainOptionError, match="Unknown colour map"):
        colorize(np.zeros((2, 2)), "rainbow-unicorn")


def test_shared_scale_puts_gradient_maps_on_evidence_per_area():
    # Same total evidence spread over a 2x2 grid and a 1x1 grid: equal per unit area, so equal after scaling.
    fine = _cell("gradcam", np.full((4, 4), 0.25), grid=(2, 2))
    coarse = _cell("gradcam", np.full((4, 4), 1.0), grid=(1, 1))
    weak = _cell("gradcam", np.full((4, 4), 0.05), grid=(1, 1))
    scaled = comparable_maps([fine, coarse, weak])
    np.testing.assert_allclose(scaled[0], 1.0)
    np.testing.assert_allclose(scaled[1], 1.0)
    np.testing.assert_allclose(scaled[2], 0.05)


def test_shared_scale_leaves_activation_methods_unweighted():
    a = _cell("eigencam", np.full((2, 2), 2.0), grid=(8, 8))
    b = _cell("eigencam", np.full((2, 2), 4.0), grid=(1, 1))
    scaled = comparable_maps([a, b])
    np.testing.assert_allclose(scaled[0], 0.5)
    np.testing.assert_allclose(scaled[1], 1.0)


def test_shared_scale_of_empty_maps_is_zero():
    scaled = comparable_maps([_cell("gradcam", np.zeros((3, 3)), grid=(3, 3))])
    np.testing.assert_array_equal(scaled[0], 0.0)


def test_guided_images_are_viewable_and_masked():
    gradient = np.random.default_rng(0).standard_normal((6, 8, 3)).astype(np.float32)
    picture = guided_backprop_image(gradient)
    assert picture.dtype == np.uint8 and picture.shape == (6, 8, 3)
    mask = np.zeros((6, 8), np.float32)
    mask[:, :4] = 1.0
    masked = guided_gradcam_image(gradient, mask)
    assert masked.shape == (6, 8, 3)
    assert np.ptp(masked[:, 4:]) == 0  # outside the map there is nothing left but the neutral grey
    assert np.ptp(masked[:, :4]) > 0


def test_grid_image_has_one_cell_per_layer_and_row():
    cell = np.zeros((30, 60, 3), np.uint8)
    cell[:, :, 1] = 255  # pure green, a colour no label uses
    rows = [GridRow("Grad-CAM", [cell, cell, None], ["Δp -0.10", "", "Δp +0.02"]), GridRow("Guided", [cell] * 3)]
    grid = compose_grid(rows, ["layer1", "layer2", "a very long layer name that does not fit"], cell_size=64,
                        title="test")
    assert grid.dtype == np.uint8 and grid.ndim == 3
    assert grid.shape[1] >= 3 * 64 and grid.shape[0] >= 2 * 64
    # five pictures (the sixth cell is empty), each letterboxed to 64 x 32 pixels
    green = np.all(grid == [0, 255, 0], axis=2).sum()
    assert green == 5 * 64 * 32


def test_an_empty_grid_is_refused():
    with pytest.raises(ExplainOptionError, match="nothing to draw"):
        compose_grid([], ["layer1"])
