"""The Grad-CAM presenter: grid pictures and captions from an explanation and display options, the grid PNG."""

import numpy as np
import pytest

from services.cam import explain_layers, load_model
from services.cam.figures import (
    DisplayOptions,
    best_cell_sentence,
    duration,
    grid_image,
    grid_view,
    run_summary,
    slow_button_label,
    slow_warning,
)
from services.cam.render import colorize, comparable_maps, overlay
from services.imaging import load_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def explanation():
    model = load_model()
    return explain_layers(model, load_sample("chelsea").pixels, layers=["_blocks.4", "_conv_head"],
                          method=["gradcam", "eigencam"], guided=True, faithfulness=True, input_size=96)


def test_cells_are_overlays_captioned_with_method_layer_and_score(explanation):
    view = grid_view(explanation, DisplayOptions(alpha=0.3, colormap="turbo"))
    assert view.column_labels == ("stage 3 · _blocks.4", "stage 8 · _conv_head")
    assert [row.label for row in view.rows] == ["Grad-CAM", "Guided Grad-CAM", "EigenCAM", "Guided EigenCAM"]
    cell = explanation.map("gradcam", "_conv_head")
    np.testing.assert_array_equal(view.rows[0].cells[1], overlay(explanation.image, cell.heatmap, alpha=0.3,
                                                                 colormap="turbo"))
    assert view.rows[0].notes[1] == f"stage 8 · Δp {cell.faithfulness:+.2f}"
    assert view.rows[1].notes[0] == "stage 3"
    assert [caption for caption, _ in view.extras] == ["Input", "Guided backprop (same for every layer)"]


def test_heatmap_only_and_shared_scale_change_only_the_pictures(explanation):
    view = grid_view(explanation, DisplayOptions(heatmap_only=True, shared_scale=True, guided_rows=False,
                                                 guided_backprop=False))
    cells = [explanation.map("gradcam", layer) for layer in explanation.layers]
    expected = [colorize(m, "jet") for m in comparable_maps(cells)]
    for got, want in zip(view.rows[0].cells, expected):
        np.testing.assert_array_equal(got, want)
    assert [row.label for row in view.rows] == ["Grad-CAM", "EigenCAM"] and len(view.extras) == 1


def test_grid_image_keeps_only_scores_as_notes(explanation):
    view = grid_view(explanation, DisplayOptions())
    picture = grid_image(explanation, view)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    assert picture.shape[0] > 4 * 160 and picture.shape[1] > 2 * 160


def test_sentences_name_the_target_the_best_cell_and_the_cost(explanation):
    assert f"Explaining **{explanation.target.label}**" in run_summary(explanation)
    best = max(explanation.maps.values(), key=lambda cell: cell.faithfulness)
    assert f"Δp {best.faithfulness:+.2f}" in best_cell_sentence(explanation)
    assert duration(59) == "59 s" and duration(600) == "10 min"
    text = slow_warning(["Score-CAM"], 43, 96, 31.6, "cpu")
    assert "Score-CAM runs one forward pass per feature channel" in text and "43 image passes at 96 px" in text
    assert slow_button_label(["Score-CAM", "Ablation-CAM"], 200) == "Run Score-CAM and Ablation-CAM (≈ 3 min)"
