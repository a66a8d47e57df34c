"""explain_layers: one pass equals pytorch-grad-cam per layer, every method on every model, shared-model safety."""

import copy
import io
import math
import threading
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMPlusPlus,
    GuidedBackpropReLUModel,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

from services.cam import (
    METHODS,
    MODELS,
    CamError,
    ExplainOptionError,
    TargetClassError,
    UnknownLayerError,
    UnknownMethodError,
    estimate_work,
    explain_layers,
    load_model,
)
from services.cam.explain import first_component_projection, strongest_channels
from services.cam.models import describe_device, prepare_input
from services.imaging import ImageInputError, load_image, load_sample

LIBRARY = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "xgradcam": XGradCAM, "hirescam": HiResCAM,
           "layercam": LayerCAM, "eigencam": EigenCAM, "eigengradcam": EigenGradCAM}


pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def model():
    """The model under test, used only through explain_layers (as the page's shared cached model is)."""
    return load_model()


@pytest.fixture(scope="module")
def reference():
    """A second copy of the same network for pytorch-grad-cam, which writes gradients into the model it runs."""
    return load_model()


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return load_model("resnet18", pretrained=False)


def _square(name: str, size: int) -> np.ndarray:
    """A sample resized to the network input, so maps are compared at the resolution pytorch-grad-cam returns."""
    return np.asarray(Image.fromarray(load_sample(name).pixels).resize((size, size), Image.Resampling.BICUBIC))


def _library_map(cam_class, cam_model, layer, image, target, **call):
    tensor = prepare_input(cam_model, image, image.shape[0])
    with cam_class(model=cam_model.network, target_layers=[cam_model.module(layer)]) as cam:
        return cam(input_tensor=tensor, targets=[ClassifierOutputTarget(target)], **call)[0]


def _hooks_left(network) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in network.modules())


def test_single_pass_gradcam_equals_pytorch_grad_cam_per_layer(model, reference):
    image = _square("chelsea", 224)
    explanation = explain_layers(model, image)
    assert explanation.layers == model.layers and explanation.target.label == "Egyptian cat"
    for layer in model.layers:
        expected = _library_map(GradCAM, reference, layer, image, explanation.target.index)
        np.testing.assert_allclose(explanation.map("gradcam", layer).heatmap, expected, atol=1e-5, err_msg=layer)


@pytest.mark.parametrize(
    "methods, eigen_smooth",
    [(list(LIBRARY), False), (["gradcam", "hirescam", "layercam"], True)], ids=["plain", "eigen-smooth"],
)
def test_every_gradient_and_eigen_method_equals_pytorch_grad_cam(model, reference, methods, eigen_smooth):
    image = _square("coffee", 64)
    layers = ["_blocks.0", "_blocks.7", "_conv_head"]  # finest grid, a middle one, the head
    explanation = explain_layers(model, image, layers=layers, method=methods, eigen_smooth=eigen_smooth,
                                 input_size=64)
    for method in methods:
        for layer in layers:
            expected = _library_map(LIBRARY[method], reference, layer, image, explanation.target.index,
                                    eigen_smooth=eigen_smooth)
            np.testing.assert_allclose(explanation.map(method, layer).heatmap, expected, atol=1e-5,
                                       err_msg=f"{method} {layer}")


def test_resnet_maps_equal_pytorch_grad_cam(resnet18):
    image = _square("astronaut", 64)
    explanation = explain_layers(resnet18, image, method=["gradcam", "layercam"], target=3, input_size=64)
    twin = copy.deepcopy(resnet18)  # same weights; pytorch-grad-cam may write into it
    for method in ("gradcam", "layercam"):
        for layer in resnet18.layers:
            expected = _library_map(LIBRARY[method], twin, layer, image, 3)
            np.testing.assert_allclose(explanation.map(method, layer).heatmap, expected, atol=1e-5)


def test_augmentation_smoothing_equals_pytorch_grad_cam(model, reference):
    image = _square("chelsea", 96)
    layers = ["_blocks.10", "_conv_head"]
    explanation = explain_layers(model, image, layers=layers, aug_smooth=True, target=285, input_size=96)
    for layer in layers:
        expected = _library_map(GradCAM, reference, layer, image, 285, aug_smooth=True)
        np.testing.assert_allclose(explanation.map("gradcam", layer).heatmap, expected, atol=1e-5)


def test_score_cam_equals_pytorch_grad_cam(model, reference):
    image = _square("chelsea", 64)
    layers = ["_blocks.0", "_blocks.2"]
    explanation = explain_layers(model, image, layers=layers, method="scorecam", batch_size=16, input_size=64)
    tensor = prepare_input(reference, image, 64)
    for layer in layers:
        with ScoreCAM(reference.network, [reference.module(layer)]) as cam:
            cam.batch_size = 16
            expected = cam(tensor, [ClassifierOutputTarget(explanation.target.index)])[0]
        np.testing.assert_allclose(explanation.map("scorecam", layer).heatmap, expected, atol=1e-5)


def test_ablation_cam_equals_pytorch_grad_cam_without_swapping_layers(resnet18):
    """pytorch-grad-cam swaps an ablation layer into the model; here a thread-bound output hook stands in.

    (The swap cannot even run at EfficientNet's blocks, which take a keyword argument its ablation layer does
    not accept; the hook can, see ``test_every_method_runs_on_every_model``.)"""
    twin = copy.deepcopy(resnet18)
    image = _square("chelsea", 64)
    layers = ["layer1", "layer2"]
    explanation = explain_layers(resnet18, image, layers=layers, method="ablationcam", batch_size=32, input_size=64,
                                 target=281)
    tensor = prepare_input(twin, image, 64)
    for layer in layers:
        with AblationCAM(twin.network, [twin.module(layer)], batch_size=32) as cam:
            expected = cam(tensor, [ClassifierOutputTarget(281)])[0]
        np.testing.assert_allclose(explanation.map("ablationcam", layer).heatmap, expected, atol=1e-5)


def test_guided_backprop_equals_pytorch_grad_cam_on_resnet(resnet18):
    image = _square("coffee", 64)
    explanation = explain_layers(resnet18, image, guided=True, target=7, input_size=64)
    library = GuidedBackpropReLUModel(copy.deepcopy(resnet18.network), device="cpu")
    expected = library(prepare_input(resnet18, image, 64), target_category=7)
    np.testing.assert_allclose(explanation.guided_backprop, expected, atol=1e-6)


def test_faithfulness_equals_pytorch_grad_cam_metric(model):
    image = _square("coffee", 96)
    explanation = explain_layers(model, image, layers=["_blocks.7", "_conv_head"], faithfulness=True, input_size=96)
    tensor = prepare_input(model, image, 96)
    target = explanation.target.index
    for layer in explanation.layers:
        cam = explanation.map("gradcam", layer).heatmap[None]
        expected = CamMultImageConfidenceChange()(tensor, cam, [ClassifierOutputSoftmaxTarget(target)], model.network)
        assert explanation.map("gradcam", layer).faithfulness == pytest.approx(float(expected[0]), abs=1e-5)
        assert -1.0 <= explanation.map("gradcam", layer).faithfulness <= 1.0


def _cat_on_coffee(corner: tuple[int, int]) -> np.ndarray:
    """The coffee photo with a small Chelsea pasted at ``corner``: two objects, two classes."""
    canvas = np.asarray(Image.fromarray(load_sample("coffee").pixels).resize((480, 480))).copy()
    cat = np.asarray(Image.fromarray(load_sample("chelsea").pixels).resize((240, 160), Image.Resampling.BICUBIC))
    x, y = corner
    canvas[y:y + 160, x:x + 240] = cat
    return canvas


@pytest.mark.parametrize("corner", [(0, 0), (240, 320)])
def test_last_layer_map_lies_on_the_animal_it_explains(model, corner):
    image = _cat_on_coffee(corner)
    x, y = corner
    box_share = 240 * 160 / 480 ** 2

    def mass_on_cat(target: int) -> float:
        heatmap = explain_layers(model, image, layers=["_conv_head"], target=target).map("gradcam", "_conv_head")
        return float(heatmap.heatmap[y:y + 160, x:x + 240].sum() / heatmap.heatmap.sum())

    assert mass_on_cat(285) > 3 * box_share  # "Egyptian cat": the mass sits on the cat
    assert mass_on_cat(967) < box_share  # "espresso": the mass moves to the cup


def test_maps_have_the_image_size_and_range(model):
    image = load_sample("chelsea").pixels
    explanation = explain_layers(model, image, method=["gradcam", "eigencam"], guided=True)
    assert explanation.image.shape == image.shape
    assert explanation.guided_backprop.shape == image.shape
    for cell in explanation.maps.values():
        assert cell.heatmap.shape == image.shape[:2] and cell.heatmap.dtype == np.float32
        assert cell.heatmap.min() >= 0.0 and 0.9 < cell.heatmap.max() <= 1.0
        assert cell.raw.min() >= 0.0 and np.isfinite(cell.raw).all()
    assert explanation.map("gradcam", "_blocks.0").grid == (112, 112)
    assert explanation.map("gradcam", "_conv_head").grid == (7, 7)
    assert explanation.device == describe_device(model.device) and explanation.seconds > 0


@pytest.mark.parametrize("name", list(MODELS))
def test_every_method_runs_on_every_model(name, model):
    cam_model = model if name == "efficientnet-lite0" else load_model(name, pretrained=False)
    explanation = explain_layers(
        cam_model, _square("astronaut", 48), method=list(METHODS), guided=True, faithfulness=True, input_size=32,
        channel_fraction=0.03, batch_size=64,
    )
    assert set(explanation.maps) == {(m, layer) for m in METHODS for layer in cam_model.layers}
    for cell in explanation.maps.values():
        assert cell.heatmap.shape == (48, 48) and np.isfinite(cell.heatmap).all()
        assert cell.faithfulness is not None and math.isfinite(cell.faithfulness)
    assert np.isfinite(explanation.guided_backprop).all()
    assert _hooks_left(cam_model.network) == 0


def _structure(network) -> list:
    """Every module by name, identity, type and in-place flag: what a ReLU swap would change."""
    return [(name, id(m), type(m), getattr(m, "inplace", None)) for name, m in network.named_modules()]


@pytest.mark.parametrize("name", ["lite0", "resnet18"])
def test_guided_backprop_leaves_the_shared_model_unchanged(model, resnet18, name):
    model = model if name == "lite0" else resnet18  # ReLU6 everywhere / in-place ReLUs shared within blocks
    image = _square("chelsea", 96)
    before = explain_layers(model, image, input_size=96)
    state = {key: value.clone() for key, value in model.network.state_dict().items()}
    structure = _structure(model.network)
    guided = explain_layers(model, image, guided=True, input_size=96)
    after = explain_layers(model, image, input_size=96)
    assert np.abs(guided.guided_backprop).max() > 0
    for layer in model.layers:
        np.testing.assert_array_equal(before.map("gradcam", layer).heatmap, after.map("gradcam", layer).heatmap)
    assert _structure(model.network) == structure
    for key, value in model.network.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert all(p.grad is None for p in model.network.parameters())  # no gradients pile up in the shared model
    assert _hooks_left(model.network) == 0


class _Stop(Exception):
    """Stands in for Streamlit interrupting a script (a rerun) from inside the progress callback."""


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "ablationcam"])
def test_hooks_are_released_when_a_request_is_interrupted(model, method):
    def interrupt(fraction, message):
        if fraction > 0.3:
            raise _Stop

    with pytest.raises(_Stop):
        explain_layers(model, _square("coffee", 48), layers=["_blocks.4"], method=method, input_size=48,
                       batch_size=8, progress=interrupt)
    assert _hooks_left(model.network) == 0


def test_two_threads_explaining_different_images_match_sequential_runs(model):
    images = {"chelsea": _square("chelsea", 64), "coffee": _square("coffee", 64)}
    options = dict(method=["gradcam", "ablationcam"], layers=["_blocks.2", "_blocks.10", "_conv_head"],
                   guided=True, channel_fraction=0.05, batch_size=16, input_size=64)
    sequential = {name: explain_layers(model, image, **options) for name, image in images.items()}

    def work(name, barrier, results, errors):
        try:
            barrier.wait()
            results[name] = explain_layers(model, images[name], **options)
        except Exception as exc:  # surfaced below with the thread's traceback
            errors.append(exc)

    for _ in range(3):
        barrier, results, errors = threading.Barrier(len(images)), {}, []
        threads = [threading.Thread(target=work, args=(name, barrier, results, errors)) for name in images]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        for name, expected in sequential.items():
            got = results[name]
            assert got.target == expected.target
            for key, cell in expected.maps.items():
                np.testing.assert_allclose(got.maps[key].heatmap, cell.heatmap, atol=1e-5, err_msg=f"{name} {key}")
                np.testing.assert_allclose(got.maps[key].raw, cell.raw, rtol=1e-5, atol=1e-8)
            np.testing.assert_allclose(got.guided_backprop, expected.guided_backprop, atol=1e-6)
    assert _hooks_left(model.network) == 0


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.mark.slow
def test_repeated_explanations_do_not_grow_memory(model):
    image = _square("chelsea", 48)
    options = dict(method=["gradcam", "eigencam"], guided=True, faithfulness=True, input_size=48)
    for _ in range(10):
        explain_layers(model, image, **options)
    baseline = _rss_bytes()
    for _ in range(100):
        explain_layers(model, image, **options)
    growth = (_rss_bytes() - baseline) / baseline
    assert growth < 0.10, f"memory grew by {growth:.1%}"


def test_progress_reports_every_phase_and_ends_at_one(model):
    reports = []
    explain_layers(model, _square("coffee", 48), layers=["_blocks.0", "_blocks.2"], method=["gradcam", "scorecam"],
                   input_size=48, batch_size=8, guided=True, faithfulness=True,
                   progress=lambda fraction, text: reports.append((fraction, text)))
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Score-CAM: 8/16" in text for _, text in reports)
    assert any("faithfulness" in text for _, text in reports)


def test_estimate_counts_one_forward_pass_per_channel_for_slow_methods(model):
    fast = estimate_work(model, None, "gradcam")
    assert fast == 3.0
    slow = estimate_work(model, None, ["gradcam", "scorecam", "ablationcam"])
    assert slow == 3.0 + 2 * sum(model.channels.values())
    assert estimate_work(model, ["_conv_head"], "scorecam", channel_fraction=0.1) == 3.0 + 128
    assert estimate_work(model, ["_conv_head"], "gradcam", aug_smooth=True) == 6 * 3.0 + 3.0


def test_channel_subset_keeps_the_strongest_channels():
    activations = np.zeros((6, 2, 2), dtype=np.float32)
    activations[[1, 4, 5]] = [[[3.0]], [[-5.0]], [[1.0]]]
    assert strongest_channels(activations, 1.0).tolist() == list(range(6))
    assert strongest_channels(activations, 0.5).tolist() == [1, 4, 5]
    assert strongest_channels(activations, 0.01).tolist() == [4]


def test_fast_projection_equals_pytorch_grad_cam(model):
    rng = np.random.default_rng(3)
    for shape in [(1, 16, 12, 9), (1, 80, 3, 4), (2, 5, 7, 7)]:
        activations = np.maximum(rng.standard_normal(shape), -0.2).astype(np.float32)
        np.testing.assert_allclose(first_component_projection(activations), get_2d_projection(activations),
                                   atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [(dict(layers=["layer4"]), UnknownLayerError, "has no layer 'layer4'"),
     (dict(layers=[]), UnknownLayerError, "at least one layer"),
     (dict(method="fullgrad"), UnknownMethodError, "Unknown method 'fullgrad'"),
     (dict(method=[]), UnknownMethodError, "at least one method"),
     (dict(target=1000), TargetClassError, "between 0 and 999"),
     (dict(input_size=16), ExplainOptionError, "input size"),
     (dict(batch_size=0), ExplainOptionError, "batch size"),
     (dict(channel_fraction=0.0), ExplainOptionError, "fraction of channels"),
     (dict(channel_fraction=float("nan")), ExplainOptionError, "fraction of channels")],
)
def test_bad_options_give_typed_errors(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        explain_layers(model, _square("coffee", 32), **kwargs)
    assert issubclass(error, CamError) and issubclass(error, ValueError)


def test_layers_come_back_shallow_to_deep_whatever_the_order_asked(model):
    explanation = explain_layers(model, _square("coffee", 48), layers=["_conv_head", "_blocks.0", "_conv_head"],
                                 input_size=48)
    assert explanation.layers == ("_blocks.0", "_conv_head")


def _encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height``: a decompression bomb without the memory."""
    data = bytearray(_encode(Image.new("L", (16, 16))))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), color) for color in ((200, 30, 30), (30, 200, 30))]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    "data, message",
    [(b"GIF89a but not really", "not an image"),
     (_encode(Image.new("RGB", (1, 1))), "1×1 pixels"),
     (_png_claiming(20000, 20000), "too large to decode safely"),
     (_encode(Image.new("L", (40, 30), 90)), None),
     (_encode(Image.new("RGBA", (40, 30), (10, 20, 30, 128))), None),
     (_encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"), None),
     (_animated_gif(), "first one")],
    ids=["non-image", "1x1", "20000x20000", "grayscale", "rgba", "cmyk", "animated-gif"],
)
def test_bad_or_unusual_pictures_get_a_clear_message_or_work(model, data, message):
    try:
        loaded = load_image(data)
    except ImageInputError as exc:
        assert message is not None and message in str(exc)
        return
    if message is not None:
        assert any(message in note for note in loaded.notes)
    explanation = explain_layers(model, loaded, layers=["_conv_head"], input_size=32)
    assert explanation.image.shape == (30, 40, 3)
    assert explanation.map("gradcam", "_conv_head").heatmap.shape == (30, 40)


@pytest.mark.parametrize(
    "array, message",
    [(np.zeros((1, 1, 3), np.uint8), "1×1 pixels"), (np.zeros((20, 20, 2), np.uint8), "shape"),
     (np.full((20, 20), np.nan), "NaN")],
)
def test_bad_arrays_are_refused_with_a_message(model, array, message):
    with pytest.raises(ImageInputError, match=message):
        explain_layers(model, array, layers=["_conv_head"], input_size=32)


def test_grayscale_and_rgba_arrays_are_accepted(model):
    gray = np.linspace(0, 1, 40 * 30).reshape(30, 40)
    rgba = np.dstack([_square("coffee", 40)[:30], np.full((30, 40), 255, np.uint8)])
    for array in (gray, rgba):
        assert explain_layers(model, array, layers=["_conv_head"], input_size=32).image.shape == (30, 40, 3)


def test_a_request_is_a_hashable_cache_key():
    from services.cam import ExplainRequest

    first = ExplainRequest(layers=["_blocks.0"], methods="gradcam", target=3)
    same = ExplainRequest.of(layers=("_blocks.0",), method=["gradcam"], target=3)
    assert first == same and hash(first) == hash(same) and {first: 1}[same] == 1
    assert first.replace(target=4) != first
    assert first.replace(guided=True, faithfulness=True).maps_only == first


def test_a_kept_forward_pass_serves_a_new_target_exactly(model):
    from services.cam import ExplainRequest, explain_maps, forward_pass

    image = _square("chelsea", 96)
    request = ExplainRequest(layers=("_blocks.7", "_conv_head"), methods=("gradcam", "layercam"), input_size=96)
    kept = forward_pass(model, image, request)
    for target in (285, 281, 285):
        reused = explain_maps(model, image, request.replace(target=target), forward=kept)
        fresh = explain_maps(model, image, request.replace(target=target))
        for key, cell in fresh.maps.items():
            np.testing.assert_allclose(reused.maps[key].heatmap, cell.heatmap, atol=1e-6)
    assert _hooks_left(model.network) == 0


def test_a_new_method_is_one_table_row(model, reference, monkeypatch):
    from services.cam.explain import MethodInfo, _gradient_times_activation

    row = MethodInfo("hires2", "HiResCAM again", HiResCAM, True, False, "a copy", _gradient_times_activation)
    monkeypatch.setitem(METHODS, "hires2", row)
    image = _square("coffee", 96)
    explanation = explain_layers(model, image, layers=["_blocks.10"], method="hires2", target=967, input_size=96)
    expected = _library_map(HiResCAM, reference, "_blocks.10", image, 967)
    np.testing.assert_allclose(explanation.map("hires2", "_blocks.10").heatmap, expected, atol=1e-5)


def test_pass_timing_scales_with_the_pixel_count():
    from services.cam import PassTiming

    timing = PassTiming.observed(seconds=2.0, passes=20, input_size=96)
    assert timing.seconds_per_pass == pytest.approx(0.1)
    assert timing.seconds(20, 96) == pytest.approx(2.0)
    assert timing.seconds(10, 192) == pytest.approx(4.0)
