"""The Grad-CAM presenter: grid pictures and captions from an explanation and display options, the grid PNG."""

import dataclasses

import numpy as np
import pytest

from services.cam import explain_layers, load_model
from services.cam.figures import (
    CELL_SIDE_PX,
    DisplayOptions,
    best_cell_sentence,
    column_labels,
    duration,
    encoded_rows,
    faithfulness_table,
    grid_image,
    guided_rows,
    method_rows,
    run_summary,
    side_pictures,
    slow_button_label,
    slow_warning,
)
from services.cam.render import GridRow, colorize, comparable_maps, overlay
from services.imaging import load_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def explanation():
    model = load_model()
    return explain_layers(model, load_sample("chelsea").pixels, layers=["_blocks.4", "_conv_head"],
                          method=["gradcam", "eigencam"], guided=True, faithfulness=True, input_size=96)


def test_cells_are_overlays_captioned_with_their_layer(explanation):
    display = DisplayOptions(alpha=0.3, colormap="turbo")
    assert column_labels(explanation) == ("stage 3 · _blocks.4", "stage 8 · _conv_head")
    rows = method_rows(explanation, display)
    assert [row.label for row in rows] == ["Grad-CAM", "EigenCAM"]
    cell = explanation.map("gradcam", "_conv_head")
    np.testing.assert_array_equal(rows[0].cells[1], overlay(explanation.image, cell.heatmap, alpha=0.3,
                                                            colormap="turbo"))
    assert rows[0].notes == ["stage 3", "stage 8"]
    guided = guided_rows(explanation, display)
    assert [row.label for row in guided] == ["Guided Grad-CAM", "Guided EigenCAM"] and guided[1].notes[0] == "stage 3"
    assert [caption for caption, _ in side_pictures(explanation, display)] == [
        "Input", "Guided backprop (same for every layer)"]


def test_heatmap_only_and_shared_scale_change_only_the_pictures(explanation):
    display = DisplayOptions(heatmap_only=True, shared_scale=True, guided_rows=False, guided_backprop=False)
    cells = [explanation.map("gradcam", layer) for layer in explanation.layers]
    expected = [colorize(m, "jet") for m in comparable_maps(cells)]
    for got, want in zip(method_rows(explanation, display)[0].cells, expected):
        np.testing.assert_array_equal(got, want)
    assert guided_rows(explanation, display) == [] and len(side_pictures(explanation, display)) == 1


def test_faithfulness_table_lists_every_cell(explanation):
    table = faithfulness_table(explanation).splitlines()
    assert table[0] == "| Δp | stage 3 | stage 8 |" and len(table) == 4
    score = explanation.map("eigencam", "_conv_head").faithfulness
    assert table[3].startswith("| EigenCAM |") and table[3].endswith(f"{score:+.2f} |")
    unscored = dataclasses.replace(explanation, maps={k: dataclasses.replace(c, faithfulness=None)
                                                      for k, c in explanation.maps.items()})
    assert faithfulness_table(unscored) is None and best_cell_sentence(unscored) is None


def test_grid_image_has_every_row(explanation):
    display = DisplayOptions()
    rows = method_rows(explanation, display) + guided_rows(explanation, display)
    picture = grid_image(explanation, rows)
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


def test_sanity_figure_has_one_line_per_map_and_the_guided_reference():
    from services.cam import ExplainRequest
    from services.cam.figures import sanity_figure, sanity_table
    from services.cam.sanity import sanity_check

    model = load_model()
    check = sanity_check(model, load_sample("coffee").pixels,
                         ExplainRequest(layers=("_blocks.15", "_conv_head"), input_size=96))
    table = sanity_table(check)
    assert len(table) == 2 * 3 and set(table["map"]) == {"Grad-CAM @ _blocks.15", "Grad-CAM @ _conv_head",
                                                         "guided backprop"}
    figure = sanity_figure(check)
    assert [trace.name for trace in figure.data] == ["Grad-CAM @ _blocks.15", "Grad-CAM @ _conv_head",
                                                     "guided backprop"]
    assert list(figure.data[1].x) == ["head", "_blocks.15"]
    assert figure.data[1].y[-1] == pytest.approx(check.steps[-1].spearman[("gradcam", "_conv_head")])


def test_road_table_marks_cells_that_do_not_beat_the_baselines(explanation):
    from services.cam.figures import road_summary, road_table
    from services.cam.road import RoadScores

    keys = list(explanation.maps)
    scores = RoadScores(cells={k: 0.1 * i for i, k in enumerate(keys)}, random_baseline=0.15, sobel_baseline=0.05,
                        percentiles=(20, 80), seconds=1.0)
    table = road_table(explanation, scores).splitlines()
    assert table[0] == "| ROAD | stage 3 | stage 8 |"
    assert table[2] == "| Grad-CAM | +0.000 ✗ | +0.100 ✗ |" and table[3] == "| EigenCAM | +0.200 | +0.300 |"
    summary = road_summary(explanation, scores)
    assert "**EigenCAM** at **stage 8 · _conv_head** (+0.300)" in summary and "2 of 4 cells" in summary


def test_layers_are_matched_by_relative_depth():
    from services.cam.figures import matched_layers
    from services.cam.models import MODELS

    lite0, lite2 = MODELS["efficientnet-lite0"].layers, MODELS["efficientnet-lite2"].layers
    assert matched_layers("efficientnet-lite0", lite0, "efficientnet-lite2") == lite2  # same stage count
    assert matched_layers("efficientnet-lite0", ["_blocks.0", "_conv_head"], "resnet18") == ("layer1", "layer4")
    assert matched_layers("resnet18", ["layer2"], "efficientnet-lite1") == ("_blocks.6",)


def test_encoded_rows_are_display_sized_jpeg():
    """Cells travel at display size: a 640 px working picture at quality 100 was 150-250 kB a cell."""
    import io

    from PIL import Image

    rows, columns = np.mgrid[0:427, 0:640]
    picture = np.stack([rows * 255 // 427, columns * 255 // 640, (rows + columns) * 255 // 1067],
                       axis=-1).astype(np.uint8)  # a smooth picture
    (row,) = encoded_rows([GridRow("Grad-CAM", [picture, None], ["a", "b"])])
    assert row.label == "Grad-CAM" and row.notes == ["a", "b"] and row.cells[1] is None
    decoded = Image.open(io.BytesIO(row.cells[0]))
    assert decoded.format == "JPEG" and decoded.size == (CELL_SIDE_PX, round(427 * CELL_SIDE_PX / 640))
    # The same picture as PIL's area average shrinks it, to JPEG's rounding on a smooth picture.
    expected = np.asarray(Image.fromarray(picture).resize(decoded.size, Image.Resampling.BOX), dtype=int)
    assert np.abs(np.asarray(decoded, dtype=int) - expected).mean() < 2
    full = io.BytesIO()
    Image.fromarray(picture).save(full, format="JPEG", quality=100)  # what was sent before
    assert len(row.cells[0]) < len(full.getvalue()) / 4


def test_small_pictures_are_not_enlarged():
    import io

    from PIL import Image

    picture = np.zeros((48, 64, 3), np.uint8)
    (row,) = encoded_rows([GridRow("side", [picture], None)], max_side=512)
    assert Image.open(io.BytesIO(row.cells[0])).size == (64, 48)
