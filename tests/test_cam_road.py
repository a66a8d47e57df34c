"""ROAD beside Δp (issue 15): equal to pytorch-grad-cam's metric classes called directly on the same maps, and
baselines (RandomCAM, Sobel) computed on the same image with the same seed."""

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.road import ROADCombined
from pytorch_grad_cam.sobel_cam import sobel_cam
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

from services.cam import explain_layers, load_model
from services.cam.models import prepare_input
from services.cam.road import estimate_road_imputations, random_cam_map, road_scores, sobel_map
from services.imaging import load_sample
from services.workers import WorkCancelled

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small():
    model = load_model()
    explanation = explain_layers(model, load_sample("chelsea").pixels, layers=["_blocks.15", "_conv_head"],
                                 input_size=96)
    return model, explanation


def test_road_equals_the_library_metric_called_directly(small):
    model, explanation = small
    scores = road_scores(model, explanation, percentiles=(30, 70), seed=3)
    tensor = prepare_input(model, explanation.image, 96)
    keys = list(explanation.maps)
    cams = np.stack([explanation.maps[k].input_heatmap for k in keys]
                    + [random_cam_map(model, explanation, 3), sobel_map(explanation)]).astype(np.float32)
    torch.manual_seed(3)
    expected = ROADCombined(percentiles=[30, 70])(tensor.repeat(len(cams), 1, 1, 1), cams,
                                              [ClassifierOutputSoftmaxTarget(explanation.target.index)] * len(cams),
                                              model.network)
    got = [scores.cells[k] for k in keys] + [scores.random_baseline, scores.sobel_baseline]
    np.testing.assert_allclose(got, np.ravel(expected), atol=1e-6)
    assert scores.best in keys and scores.beats_baselines(scores.best) == (
        scores.cells[scores.best] > max(scores.random_baseline, scores.sobel_baseline))


def test_baselines_are_the_same_image_and_seed(small):
    model, explanation = small
    np.testing.assert_array_equal(random_cam_map(model, explanation, 0), random_cam_map(model, explanation, 0))
    assert not np.array_equal(random_cam_map(model, explanation, 0), random_cam_map(model, explanation, 1))
    from PIL import Image

    square = np.asarray(Image.fromarray(explanation.image).resize((96, 96), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(sobel_map(explanation) * 255.0, np.float32(sobel_cam(square)))
    assert estimate_road_imputations(2, (20, 40, 60, 80)) == 32


def test_a_stopped_road_run_ends_at_the_next_imputation(small):
    model, explanation = small
    asked, steps = [], []

    def should_stop() -> bool:
        asked.append(True)
        return len(asked) >= 4  # asked before the first imputation and after each: three imputations run

    with pytest.raises(WorkCancelled):
        road_scores(model, explanation, percentiles=(50,), should_stop=should_stop,
                    progress=lambda fraction, text: steps.append(text))
    assert len(asked) == 4  # of 9 (8 imputations)
    assert [text.split(" · ")[0] for text in steps] == ["ROAD LeRF 50%: map 1 of 4", "ROAD LeRF 50%: map 2 of 4"]
