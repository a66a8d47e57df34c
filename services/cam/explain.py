"""Class activation maps for every requested layer of a CNN from one forward and one backward pass.

pytorch-grad-cam builds one CAM object per set of target layers and runs a forward and a full backward pass
(parameter gradients included) for each. Here every requested layer is hooked at once, the gradient of the
target score is taken with respect to all of their outputs in a single ``torch.autograd.grad`` call (no
parameter gradients are computed), and pytorch-grad-cam's own ``get_cam_image`` turns each layer's
activations and gradients into a map, so every map equals what pytorch-grad-cam gives for that layer alone.

Models are shared between sessions. Forward hooks on a shared module fire for every thread that runs it, so
each hook here records only the forward passes of the thread that registered it, and hooks live only inside
``with`` blocks. Guided backprop runs on the model's separate guided copy. AblationCAM, which in
pytorch-grad-cam swaps a layer of the model for an ablation layer, instead substitutes the layer's output
through such a thread-bound hook, so the shared model is never modified.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
import torch
import ttach as tta
from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.ablation_layer import AblationLayer
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.metrics.cam_mult_image import CamMultImageConfidenceChange
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from torch import nn

from services.cam.errors import ExplainOptionError, TargetClassError, UnknownLayerError, UnknownMethodError
from services.cam.models import CamModel, describe_device, prepare_input
from services.cam.trust import DomainCheck, domain_check
from services.imaging import MIN_SIDE, ImageInputError, LoadedImage, to_rgb_uint8
from services.workers import WorkCancelled

#: Progress callback: fraction done in [0, 1] and a sentence for the user.
Progress = Callable[[float, str], None]
#: Asked between steps of long work; True means the caller has gone (the heavy-work pool's ``should_stop``).
ShouldStop = Callable[[], bool]

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 512
MAX_BATCH_SIZE = 256
TOP_K = 5
#: Cost of one forward + backward pass, in "forward passes of one image" (the unit of estimates).
PASS_COST = 3.0


@dataclass(frozen=True)
class MethodInputs:
    """What one method needs to weigh one layer's channels: pytorch-grad-cam's ``get_cam_image`` arguments."""

    cam_object: BaseCAM
    tensor: torch.Tensor
    module: nn.Module
    target: int
    activations: np.ndarray  # 1 x C x h x w
    gradients: np.ndarray | None  # same shape, None for gradient-free methods


def _by_cam_weights(inputs: MethodInputs) -> np.ndarray:
    """Channels weighted by the method's own ``get_cam_weights`` (Grad-CAM, Grad-CAM++, XGrad-CAM, Score-CAM...)."""
    weights = inputs.cam_object.get_cam_weights(inputs.tensor, inputs.module, [ClassifierOutputTarget(inputs.target)],
                                                inputs.activations, inputs.gradients)
    return weights[:, :, None, None] * inputs.activations


def _gradient_times_activation(inputs: MethodInputs) -> np.ndarray:
    return inputs.gradients * inputs.activations


def _positive_gradient_times_activation(inputs: MethodInputs) -> np.ndarray:
    assert inputs.gradients is not None  # a gradient method: its inputs always carry gradients
    return np.maximum(inputs.gradients, 0) * inputs.activations


def _activations_alone(inputs: MethodInputs) -> np.ndarray:
    return inputs.activations


def _plain(cam_class: type[BaseCAM]) -> Callable[[nn.Module, ExplainRequest, WorkTracker], BaseCAM]:
    """A pytorch-grad-cam object with no hooks of its own (``target_layers=[]``): only its math is used."""
    return lambda network, _request, _tracker: cam_class(network, [])


@dataclass(frozen=True)
class MethodInfo:
    """One CAM method: adding a method is adding one row to ``METHODS``."""

    key: str
    title: str
    cam_class: type[BaseCAM]  # the pytorch-grad-cam class whose result this method equals
    uses_gradients: bool
    slow: bool  # one forward pass per feature channel: minutes on a CPU at deep layers
    summary: str
    weigh: Callable[[MethodInputs], np.ndarray]  # 1 x C x h x w weighted activations, summed into the map
    project: bool = False  # the map is the first principal component of ``weigh`` (EigenCAM, EigenGrad-CAM)
    build: Callable[[nn.Module, ExplainRequest, WorkTracker], BaseCAM] | None = None  # default: ``_plain``

    def cam_object(self, network: nn.Module, request: ExplainRequest, tracker: WorkTracker) -> BaseCAM:
        return (self.build or _plain(self.cam_class))(network, request, tracker)


METHODS: dict[str, MethodInfo] = {
    info.key: info
    for info in (
        MethodInfo("gradcam", "Grad-CAM", GradCAM, True, False, "channels weighted by their mean gradient",
                   _by_cam_weights),
        MethodInfo("gradcampp", "Grad-CAM++", GradCAMPlusPlus, True, False,
                   "positive gradients weighted by higher-order terms: better for several objects", _by_cam_weights),
        MethodInfo("xgradcam", "XGrad-CAM", XGradCAM, True, False, "gradients weighted by normalised activations",
                   _by_cam_weights),
        MethodInfo("hirescam", "HiResCAM", HiResCAM, True, False,
                   "element-wise gradient × activation: provably faithful for the layer", _gradient_times_activation),
        MethodInfo("layercam", "LayerCAM", LayerCAM, True, False,
                   "positive gradients per location: sharp maps even at early layers",
                   _positive_gradient_times_activation),
        MethodInfo("eigencam", "EigenCAM", EigenCAM, False, False,
                   "first principal component of the activations: class-agnostic", _activations_alone, project=True),
        MethodInfo("eigengradcam", "EigenGrad-CAM", EigenGradCAM, True, False,
                   "first principal component of gradient × activation", _gradient_times_activation, project=True),
        MethodInfo("scorecam", "Score-CAM", ScoreCAM, False, True,
                   "each channel masks the image; the class score of the masked image is its weight", _by_cam_weights,
                   build=lambda network, request, tracker: _BatchedScoreCAM(
                       network, request.batch_size, request.channel_fraction, tracker)),
        MethodInfo("ablationcam", "Ablation-CAM", AblationCAM, False, True,
                   "each channel is removed in turn; the drop in class score is its weight", _by_cam_weights,
                   build=lambda network, request, tracker: _HookedAblationCAM(
                       network, request.batch_size, request.channel_fraction, tracker)),
    )
}


@dataclass(frozen=True)
class ExplainRequest:
    """Everything that decides an explanation except the model and the picture; hashable, so it is a cache key.

    ``layers`` None means all of the model's stages, ``target`` None the top-1 class, ``input_size`` None the
    model's own. ``guided`` adds the guided backprop gradient, ``faithfulness`` Δp per map; ``batch_size`` and
    ``channel_fraction`` size down the slow methods (Score-CAM, Ablation-CAM).
    """

    layers: tuple[str, ...] | None = None
    methods: tuple[str, ...] = ("gradcam",)
    target: int | None = None
    aug_smooth: bool = False
    eigen_smooth: bool = False
    guided: bool = False
    faithfulness: bool = False
    input_size: int | None = None
    batch_size: int = 32
    channel_fraction: float = 1.0

    def __post_init__(self) -> None:
        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        object.__setattr__(self, "methods", methods)
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def of(cls, *, method: str | Sequence[str] = "gradcam", **fields) -> ExplainRequest:
        """The request from ``explain_layers``-style keywords (``method`` may be one key or several)."""
        return cls(methods=fields.pop("methods", method), **fields)

    def replace(self, **changes) -> ExplainRequest:
        return dataclasses.replace(self, **changes)

    @property
    def maps_only(self) -> ExplainRequest:
        """The part that decides the maps: guided backprop and faithfulness are separate stages."""
        return self.replace(guided=False, faithfulness=False)


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class LayerMap:
    """One cell of the grid: a method's map at one layer."""

    method: str
    layer: str
    heatmap: np.ndarray  # H x W float32 in [0, 1], min-max scaled per map exactly as pytorch-grad-cam does
    raw: np.ndarray  # H x W float32 >= 0, the same map before scaling: comparable across layers of one method
    grid: tuple[int, int]  # (rows, columns) of the layer's feature map: the map's true resolution
    faithfulness: float | None  # change of the target probability when the input is multiplied by the map
    input_heatmap: np.ndarray | None = None  # the scaled map at the network's input size (what Δp multiplies in)


@dataclass(frozen=True)
class Explanation:
    model: str
    image: np.ndarray  # H x W x 3 uint8: the picture every map and overlay is aligned with
    input_size: int  # side of the square the network saw
    predictions: tuple[Prediction, ...]  # top-5, most probable first
    target: Prediction  # the class being explained
    layers: tuple[str, ...]
    methods: tuple[str, ...]
    maps: Mapping[tuple[str, str], LayerMap]  # (method, layer) -> map
    guided_backprop: np.ndarray | None  # H x W x 3 float32 input gradient through guided ReLUs
    device: str
    aug_smooth: bool = False
    eigen_smooth: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)  # seconds per phase
    domain: DomainCheck | None = None  # does the picture look like the training data (softmax, flat area)

    def map(self, method: str, layer: str) -> LayerMap:
        return self.maps[(method, layer)]

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())


def explain_layers(
    model: CamModel,
    image: np.ndarray | LoadedImage,
    request: ExplainRequest | None = None,
    *,
    progress: Progress | None = None,
    **fields,
) -> Explanation:
    """Top-5 predictions and one map per (method, layer) for ``image``, as ``request`` asks.

    ``request`` may instead be given as its fields (``layers=..., method=..., target=...``; see
    ``ExplainRequest``). All methods share one forward/backward pass; guided backprop and faithfulness are the
    separate stages ``with_guided_backprop`` and ``with_faithfulness``, so a caller can cache each on its own.
    """
    request = ExplainRequest.of(**fields) if request is None else request
    tracker = WorkTracker(progress, estimate_request(model, request))
    explanation = explain_maps(model, image, request, tracker=tracker)
    if request.guided:
        explanation = with_guided_backprop(model, explanation, tracker=tracker)
    if request.faithfulness:
        explanation = with_faithfulness(model, explanation, request.batch_size, tracker=tracker)
    tracker.finish()
    return explanation


def explain_maps(
    model: CamModel,
    image: np.ndarray | LoadedImage,
    request: ExplainRequest,
    *,
    forward: ForwardPass | None = None,
    tracker: WorkTracker | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> Explanation:
    """The predictions and maps of ``request`` (its ``guided`` and ``faithfulness`` are left to the other stages).

    ``forward`` is a ``ForwardPass`` of the same model, picture, layers and size kept from an earlier call: a new
    target class then costs one backward pass instead of a forward and a backward. ``should_stop`` is asked
    between steps (each batch of Score-CAM / Ablation-CAM); ``WorkCancelled`` when it says so.
    """
    started = time.perf_counter()
    tracker = tracker or WorkTracker(progress, estimate_request(model, request.maps_only), should_stop)
    pixels = _as_pixels(image)
    layers = _check_layers(model, request.layers)
    methods = _check_methods(request.methods)
    size = _check_options(model, request)
    target = check_target(model, request.target)
    tensor = prepare_input(model, pixels, size)
    if forward is None or not forward.serves(model, tensor, layers):
        forward = ForwardPass(model, tensor, layers)
    chosen = forward.top1 if target is None else target
    predictions, target_prediction = _predictions(model, forward.logits, chosen)
    domain = domain_check(torch.softmax(forward.logits[0].double(), dim=0).cpu().numpy(), pixels)
    need_gradients = any(METHODS[m].uses_gradients for m in methods)
    gradients = forward.gradients(chosen) if need_gradients and not request.aug_smooth else None
    timings = {"prediction + gradients": time.perf_counter() - started}
    tracker.advance(PASS_COST, "forward and backward pass done")

    objects = {m: METHODS[m].cam_object(model.network, request, tracker) for m in methods}
    mark = time.perf_counter()
    if request.aug_smooth:
        heat, raw, grids = _augmented_maps(model, tensor, layers, methods, objects, chosen, need_gradients,
                                           request.eigen_smooth, tracker)
    else:
        heat, raw = _maps_from_pass(forward.activations, gradients, tensor, layers, methods, objects, model, chosen,
                                    request.eigen_smooth)
        grids = forward.grids
    timings["maps"] = time.perf_counter() - mark

    mark = time.perf_counter()
    out_size = (pixels.shape[1], pixels.shape[0])
    maps = {
        key: LayerMap(
            method=key[0],
            layer=key[1],
            heatmap=np.clip(_resize(heat[key], out_size), 0.0, 1.0),
            raw=np.maximum(_resize(raw[key], out_size), 0.0),
            grid=grids[key[1]],
            faithfulness=None,
            input_heatmap=heat[key],
        )
        for key in heat
    }
    timings["resize"] = time.perf_counter() - mark
    return Explanation(
        model=model.name,
        image=pixels,
        input_size=size,
        predictions=predictions,
        target=target_prediction,
        layers=layers,
        methods=methods,
        maps=maps,
        guided_backprop=None,
        device=describe_device(model.device),
        aug_smooth=request.aug_smooth,
        eigen_smooth=request.eigen_smooth,
        timings=timings,
        domain=domain,
    )


def forward_pass(model: CamModel, image: np.ndarray | LoadedImage, request: ExplainRequest) -> ForwardPass:
    """The forward pass ``explain_maps`` would run for ``request``, to keep and hand back to it later."""
    layers = _check_layers(model, request.layers)
    return ForwardPass(model, prepare_input(model, _as_pixels(image), _check_options(model, request)), layers)


def with_guided_backprop(model: CamModel, explanation: Explanation, *,
                         tracker: WorkTracker | None = None) -> Explanation:
    """``explanation`` plus the guided backprop gradient of its target (one pass on the model's guided copy)."""
    mark = time.perf_counter()
    tensor = prepare_input(model, explanation.image, explanation.input_size)
    gradient = _guided_backprop(model, tensor, explanation.target.index)
    gradient = _resize(gradient, (explanation.image.shape[1], explanation.image.shape[0]))
    if tracker is not None:
        tracker.advance(PASS_COST, "guided backprop done")
    timings = {**explanation.timings, "guided backprop": time.perf_counter() - mark}
    return dataclasses.replace(explanation, guided_backprop=gradient, timings=timings)


def with_faithfulness(model: CamModel, explanation: Explanation, batch_size: int = 32, *,
                      tracker: WorkTracker | None = None) -> Explanation:
    """``explanation`` with Δp on every map: the target probability on ``input × map`` minus on the input
    (pytorch-grad-cam's ``CamMultImageConfidenceChange`` with a softmax target). Near 0 or positive means the
    map keeps the evidence."""
    mark = time.perf_counter()
    tensor = prepare_input(model, explanation.image, explanation.input_size)
    # explain_maps sets input_heatmap on every map it returns (None only in hand-built LayerMaps).
    heat = cast(dict[tuple[str, str], np.ndarray],
                {key: cell.input_heatmap for key, cell in explanation.maps.items()})
    scores = _faithfulness(model, tensor, heat, explanation.target.index, explanation.target.probability,
                           max(1, min(int(batch_size), MAX_BATCH_SIZE)))
    if tracker is not None:
        tracker.advance(len(heat), "faithfulness scored")
    maps = {key: dataclasses.replace(cell, faithfulness=scores[key]) for key, cell in explanation.maps.items()}
    timings = {**explanation.timings, "faithfulness": time.perf_counter() - mark}
    return dataclasses.replace(explanation, maps=maps, timings=timings)


def estimate_request(model: CamModel, request: ExplainRequest) -> float:
    """``estimate_work`` of a whole request."""
    return estimate_work(model, request.layers, request.methods, aug_smooth=request.aug_smooth,
                         guided=request.guided, faithfulness=request.faithfulness,
                         channel_fraction=request.channel_fraction)


def estimate_work(
    model: CamModel,
    layers: Sequence[str] | None,
    methods: str | Sequence[str],
    *,
    aug_smooth: bool = False,
    guided: bool = False,
    faithfulness: bool = False,
    channel_fraction: float = 1.0,
) -> float:
    """Cost of a request in forward passes of one image: ScoreCAM/AblationCAM need one per feature channel."""
    layers = _check_layers(model, layers)
    methods = _check_methods(methods)
    passes = len(tta_transforms()) if aug_smooth else 1
    per_pass = PASS_COST + sum(
        math.ceil(model.channels[layer] * channel_fraction) for m in methods if METHODS[m].slow for layer in layers
    )
    extra = (PASS_COST if aug_smooth else 0.0) + (PASS_COST if guided else 0.0)
    extra += len(layers) * len(methods) if faithfulness else 0.0
    return passes * per_pass + extra


def measure_seconds_per_image(model: CamModel, input_size: int | None = None, batch_size: int = 8) -> float:
    """Seconds one image takes in a batched forward pass on this machine (calibrates estimates before any run):
    the median of three batches after a warm-up batch, so one slow first call does not inflate every estimate."""
    size = input_size or model.spec.input_size
    batch = torch.zeros(max(1, batch_size), 3, size, size, device=model.device)
    samples = []
    with torch.no_grad():
        model.network(batch)  # warm-up: first calls allocate
        for _ in range(3):
            started = time.perf_counter()
            model.network(batch)
            if model.device.type == "cuda":
                torch.cuda.synchronize(model.device)
            samples.append((time.perf_counter() - started) / batch.shape[0])
    return sorted(samples)[1]


@dataclass(frozen=True)
class PassTiming:
    """Seconds per image pass seen at one input size; passes at other sizes scale with the pixel count."""

    seconds_per_pass: float
    input_size: int

    @classmethod
    def observed(cls, seconds: float, passes: float, input_size: int) -> PassTiming:
        """From a finished run: ``seconds`` for ``passes`` image passes at ``input_size``."""
        return cls(seconds / max(passes, 1.0), input_size)

    def seconds(self, passes: float, input_size: int) -> float:
        return passes * self.seconds_per_pass * (input_size / self.input_size) ** 2


def slow_methods(methods: Sequence[str]) -> list[str]:
    return [m for m in _check_methods(methods) if METHODS[m].slow]


def tta_transforms() -> tta.Compose:
    """The test-time augmentations pytorch-grad-cam averages over for ``aug_smooth``."""
    return tta.Compose([tta.HorizontalFlip(), tta.Multiply(factors=[0.9, 1, 1.1])])


# --------------------------------------------------------------------------------------------------------------
# hooks bound to the calling thread


@contextmanager
def recorded_outputs(modules: Mapping[str, nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``modules`` during forward passes run by this thread; hooks removed on exit."""
    owner = threading.get_ident()
    outputs: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def record(_module, _inputs, output):
            if threading.get_ident() == owner:
                outputs[name] = output

        return record

    handles = [module.register_forward_hook(recorder(name)) for name, module in modules.items()]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def replaced_output(module: nn.Module, replacement: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Make ``module`` return ``replacement(output)`` in this thread's forward passes only."""
    owner = threading.get_ident()

    def replace(_module, _inputs, output):
        return replacement(output) if threading.get_ident() == owner else None

    handle = module.register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()


# --------------------------------------------------------------------------------------------------------------
# the single pass and the maps


class ForwardPass:
    """One forward pass with every chosen layer hooked, its graph kept: the gradients for any target class then
    cost one backward pass (``gradients``), and a target change needs no new forward pass.

    Safe to share between threads: backward passes over the kept graph take turns.
    """

    KEPT_TARGETS = 4

    def __init__(self, model: CamModel, tensor: torch.Tensor, layers: Sequence[str]):
        self.model = model
        self.tensor = tensor
        self.layers = tuple(layers)
        modules = {layer: model.module(layer) for layer in self.layers}
        x = tensor.detach().requires_grad_(True)
        with torch.enable_grad(), recorded_outputs(modules) as outputs:
            logits = model.network(x)
        self._logits = logits
        self._captured = [outputs[layer] for layer in self.layers]
        self.logits = logits.detach()
        self.top1 = int(self.logits[0].argmax())
        self.activations = {layer: a.detach().cpu().numpy() for layer, a in zip(self.layers, self._captured)}
        self._gradients: dict[int, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    @property
    def grids(self) -> dict[str, tuple[int, int]]:
        return {layer: (int(a.shape[-2]), int(a.shape[-1])) for layer, a in self.activations.items()}

    def serves(self, model: CamModel, tensor: torch.Tensor, layers: Sequence[str]) -> bool:
        """Whether this pass is the one ``model`` would run on ``tensor`` at ``layers``."""
        return (model is self.model and tuple(layers) == self.layers and tensor.shape == self.tensor.shape
                and bool(torch.equal(tensor, self.tensor)))

    def gradients(self, target: int) -> dict[str, np.ndarray]:
        """Gradient of the score of class ``target`` at every layer's output (one backward pass, remembered)."""
        with self._lock:
            if target not in self._gradients:
                grads = torch.autograd.grad(self._logits[0, target], self._captured, retain_graph=True)
                if len(self._gradients) >= self.KEPT_TARGETS:
                    self._gradients.pop(next(iter(self._gradients)))
                self._gradients[target] = {layer: g.detach().cpu().numpy() for layer, g in zip(self.layers, grads)}
            return self._gradients[target]


def _layer_map(info: MethodInfo, inputs: MethodInputs, eigen_smooth: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scaled, raw) map at input resolution, computed as ``BaseCAM.compute_cam_per_layer`` does."""
    cam = np.maximum(_cam_image(info, inputs, eigen_smooth), 0)
    size = (inputs.tensor.shape[-1], inputs.tensor.shape[-2])
    # Scaled twice like pytorch-grad-cam: per layer, then again when it "aggregates" the layers; the second pass
    # matters because bilinear upsampling never quite reaches the grid's maximum.
    scaled = scale_cam_image(scale_cam_image(cam, size))[0]
    raw = cv2.resize(np.array(cam[0], dtype=np.float32), size)
    return scaled, raw


def _cam_image(info: MethodInfo, inputs: MethodInputs, eigen_smooth: bool) -> np.ndarray:
    """The ``get_cam_image`` of each pytorch-grad-cam method, with a faster principal-component projection.

    pytorch-grad-cam's ``get_2d_projection`` asks numpy for the full SVD, whose left factor is (h·w)² floats:
    630 MB and seconds at a 112 × 112 layer. Only the first right singular vector is used, which the thin SVD
    returns identically (same LAPACK routine), so the maps are unchanged.
    """
    weighted = info.weigh(inputs)
    if info.project or eigen_smooth:
        return first_component_projection(weighted)
    return weighted.sum(axis=1)


def first_component_projection(activation_batch: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``get_2d_projection`` (projection on the first principal component) via a thin SVD."""
    batch = np.array(activation_batch, copy=True)
    batch[np.isnan(batch)] = 0
    projections = []
    for activations in batch:
        flat = activations.reshape(activations.shape[0], -1).transpose()
        flat = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        projections.append((flat @ vt[0, :]).reshape(activations.shape[1:]))
    return np.array(projections, dtype=np.float32)


def _maps_from_pass(activations, gradients, tensor, layers, methods, objects, model: CamModel, target: int,
                    eigen_smooth: bool):
    heat: dict[tuple[str, str], np.ndarray] = {}
    raw: dict[tuple[str, str], np.ndarray] = {}
    for method in methods:
        for layer in layers:
            inputs = MethodInputs(objects[method], tensor, model.module(layer), target, activations[layer],
                                  gradients[layer] if gradients is not None else None)
            heat[(method, layer)], raw[(method, layer)] = _layer_map(METHODS[method], inputs, eigen_smooth)
    return heat, raw


def _augmented_maps(model, tensor, layers, methods, objects, target, need_gradients, eigen_smooth, tracker):
    """Average of the maps over pytorch-grad-cam's test-time augmentations, mapped back to the original frame."""
    heat_sum: dict[tuple[str, str], np.ndarray] = {}
    raw_sum: dict[tuple[str, str], np.ndarray] = {}
    transforms = list(tta_transforms())
    grids: dict[str, tuple[int, int]] = {}
    for transform in transforms:
        augmented = transform.augment_image(tensor)
        result = ForwardPass(model, augmented, layers)
        gradients = result.gradients(target) if need_gradients else None
        grids = result.grids
        tracker.advance(PASS_COST, "augmented pass done")
        heat, raw = _maps_from_pass(result.activations, gradients, augmented, layers, methods, objects, model, target,
                                    eigen_smooth)
        for key in heat:
            heat_sum[key] = heat_sum.get(key, 0) + _deaugment(transform, heat[key])
            raw_sum[key] = raw_sum.get(key, 0) + _deaugment(transform, raw[key])
    count = np.float32(len(transforms))
    return ({k: np.float32(v / count) for k, v in heat_sum.items()},
            {k: np.float32(v / count) for k, v in raw_sum.items()}, grids)


def _deaugment(transform, heat: np.ndarray) -> np.ndarray:
    return transform.deaugment_mask(torch.from_numpy(np.float32(heat))[None, None]).numpy()[0, 0]


def _guided_backprop(model: CamModel, tensor: torch.Tensor, target: int) -> np.ndarray:
    """Gradient of the target score w.r.t. the input through guided ReLUs, H x W x 3 (on the guided copy)."""
    x = tensor.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model.guided_network(x)
        (gradient,) = torch.autograd.grad(logits[0, target], x)
    return gradient[0].cpu().numpy().transpose(1, 2, 0)


def _faithfulness(model: CamModel, tensor: torch.Tensor, heat: Mapping[tuple[str, str], np.ndarray], target: int,
                  probability: float, batch_size: int) -> dict[tuple[str, str], float]:
    """Target probability on ``input × map`` minus on the input, per map (pytorch-grad-cam's
    ``CamMultImageConfidenceChange`` with a softmax target): near 0 or positive means the map keeps the evidence."""
    keys = list(heat)
    metric = CamMultImageConfidenceChange()
    after: list[float] = []
    for start in range(0, len(keys), batch_size):
        chunk = keys[start:start + batch_size]
        cams = np.stack([heat[key] for key in chunk]).astype(np.float32)
        scores = metric(tensor.repeat(len(chunk), 1, 1, 1), cams, [ClassifierOutputSoftmaxTarget(target)] * len(chunk),
                        model.network, return_diff=False)
        after.extend(float(s) for s in np.ravel(scores))
    return {key: value - probability for key, value in zip(keys, after)}


def _predictions(model: CamModel, logits: torch.Tensor, target: int) -> tuple[tuple[Prediction, ...], Prediction]:
    probabilities = torch.softmax(logits[0].float(), dim=0).cpu().numpy()
    top = np.argsort(-probabilities)[:TOP_K]
    predictions = tuple(Prediction(int(i), model.categories[i], float(probabilities[i])) for i in top)
    return predictions, Prediction(target, model.categories[target], float(probabilities[target]))


def _resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (array.shape[1], array.shape[0]) == size:
        return np.array(array, dtype=np.float32)
    return cv2.resize(np.array(array, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------------------------------------------
# methods


def strongest_channels(activations: np.ndarray, fraction: float) -> np.ndarray:
    """Indices (ascending) of the ``fraction`` of channels with the largest mean |activation| (all when 1)."""
    count = activations.shape[0]
    if fraction >= 1.0:
        return np.arange(count)
    keep = max(1, math.ceil(count * fraction))
    strength = np.abs(activations.reshape(count, -1)).mean(axis=1)
    return np.sort(np.argsort(-strength, kind="stable")[:keep])


class _BatchedScoreCAM(ScoreCAM):
    """ScoreCAM building the masked images one batch at a time (pytorch-grad-cam materialises all of them:
    channels × 3 × H × W floats, 770 MB at a 1280-channel layer), reporting progress, optionally on a subset."""

    def __init__(self, model: nn.Module, batch_size: int, channel_fraction: float, tracker: WorkTracker):
        super().__init__(model, [])
        self.batch_size = batch_size
        self.channel_fraction = channel_fraction
        self.tracker = tracker

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        channels = strongest_channels(activations[0], self.channel_fraction)
        scores = np.full(activations.shape[1], -np.inf, dtype=np.float32)  # skipped channels get weight 0
        with torch.no_grad():
            upsample = torch.nn.UpsamplingBilinear2d(size=input_tensor.shape[-2:])
            activation_tensor = torch.from_numpy(activations).to(self.device)
            for start in range(0, len(channels), self.batch_size):
                chosen = channels[start:start + self.batch_size]
                upsampled = upsample(activation_tensor[:, chosen])
                flat = upsampled.view(upsampled.size(0), upsampled.size(1), -1)
                maxs, mins = flat.max(dim=-1)[0][:, :, None, None], flat.min(dim=-1)[0][:, :, None, None]
                upsampled = (upsampled - mins) / (maxs - mins + 1e-8)
                batch = (input_tensor[:, None] * upsampled[:, :, None])[0]
                scores[chosen] = [targets[0](output).cpu().item() for output in self.model(batch)]
                self.tracker.advance(len(chosen), f"Score-CAM: {start + len(chosen)}/{len(channels)} masked images")
        return torch.nn.Softmax(dim=-1)(torch.from_numpy(scores)[None]).numpy()


class _HookedAblationCAM(AblationCAM):
    """AblationCAM whose ablation layer stands in for the target layer through a thread-bound output hook,
    instead of being swapped into the (shared) model, with progress and an optional channel subset."""

    def __init__(self, model: nn.Module, batch_size: int, channel_fraction: float, tracker: WorkTracker):
        super().__init__(model, [], ablation_layer=AblationLayer(), batch_size=batch_size)
        self.channel_fraction = channel_fraction
        self.tracker = tracker

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        with torch.no_grad():
            with recorded_outputs({"layer": target_layer}) as recorded:
                outputs = self.model(input_tensor)
            layer_output = recorded["layer"]
            original = np.array([target(output).cpu().item() for target, output in zip(targets, outputs)],
                                dtype=np.float32)
            channels = np.array(strongest_channels(activations[0], self.channel_fraction), dtype=np.int32)
            ablation = self.ablation_layer
            ablation.indices = channels
            new_scores: list[float] = []
            batch_tensor = input_tensor[0].repeat(self.batch_size, 1, 1, 1)
            with replaced_output(target_layer, ablation):
                for start in range(0, len(channels), self.batch_size):
                    if start + self.batch_size > len(channels):
                        batch_tensor = batch_tensor[: len(channels) - start]
                    ablation.set_next_batch(input_batch_index=0, activations=layer_output,
                                            num_channels_to_ablate=batch_tensor.size(0))
                    new_scores.extend(targets[0](output).cpu().item() for output in self.model(batch_tensor))
                    ablation.indices = ablation.indices[batch_tensor.size(0):]
                    self.tracker.advance(batch_tensor.size(0),
                                         f"Ablation-CAM: {len(new_scores)}/{len(channels)} channels ablated")
        weights = np.array(self.assemble_ablation_scores(new_scores, original[0], channels, activations.shape[1]),
                           dtype=np.float32)
        weights = weights.reshape(activations.shape[:2])
        return (original[:, None] - weights) / original[:, None]


# --------------------------------------------------------------------------------------------------------------
# progress and validation


class WorkTracker:
    """Turns units of work done into a fraction and an estimate of the time left for the progress callback;
    every step is also where a stopped job ends (``should_stop``)."""

    def __init__(self, callback: Progress | None, total: float, should_stop: ShouldStop | None = None):
        self.callback = callback
        self.total = max(total, 1.0)
        self.done = 0.0
        self.started = time.perf_counter()
        self.should_stop = should_stop

    def check(self) -> None:
        """Raise ``WorkCancelled`` when the caller has gone (asked again, left, or its deadline passed)."""
        if self.should_stop is not None and self.should_stop():
            raise WorkCancelled(f"stopped after {self.done:g} of {self.total:g} steps: nobody waits for the result")

    def advance(self, units: float, message: str) -> None:
        self.check()
        self.done = min(self.total, self.done + units)
        if self.callback is None:
            return
        fraction = self.done / self.total
        elapsed = time.perf_counter() - self.started
        left = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        suffix = f" · about {left:.0f} s left" if fraction < 1 and elapsed > 1 and math.isfinite(left) else ""
        self.callback(fraction, f"{message}{suffix}")

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(1.0, f"done in {time.perf_counter() - self.started:.1f} s")


def _as_pixels(image: np.ndarray | LoadedImage) -> np.ndarray:
    pixels = to_rgb_uint8(image.pixels if isinstance(image, LoadedImage) else image)
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise ImageInputError(
            f"The image is {pixels.shape[1]}×{pixels.shape[0]} pixels; at least {MIN_SIDE}×{MIN_SIDE} is needed."
        )
    return pixels


def _check_layers(model: CamModel, layers: Sequence[str] | None) -> tuple[str, ...]:
    if layers is None:
        return model.layers
    chosen = tuple(dict.fromkeys(layers))
    if not chosen:
        raise UnknownLayerError("Choose at least one layer.")
    unknown = [layer for layer in chosen if layer not in model.layers]
    if unknown:
        raise UnknownLayerError(
            f"{model.spec.title} has no layer {', '.join(map(repr, unknown))}; choose from {', '.join(model.layers)}."
        )
    return tuple(layer for layer in model.layers if layer in chosen)  # shallow to deep, whatever the order given


def _check_methods(method: str | Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys([method] if isinstance(method, str) else method))
    if not chosen:
        raise UnknownMethodError("Choose at least one method.")
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise UnknownMethodError(f"Unknown method {', '.join(map(repr, unknown))}; choose from {', '.join(METHODS)}.")
    return chosen


def _check_options(model: CamModel, request: ExplainRequest) -> int:
    input_size, batch_size, channel_fraction = request.input_size, request.batch_size, request.channel_fraction
    size = model.spec.input_size if input_size is None else int(input_size)
    if not MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
        raise ExplainOptionError(f"The input size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE} pixels.")
    if not 1 <= int(batch_size) <= MAX_BATCH_SIZE:
        raise ExplainOptionError(f"The batch size must be between 1 and {MAX_BATCH_SIZE}.")
    if not (0.0 < channel_fraction <= 1.0) or not math.isfinite(channel_fraction):
        raise ExplainOptionError("The fraction of channels must be above 0 and at most 1.")
    return size


def check_target(model: CamModel, target: int | None) -> int | None:
    """``target`` if it is a valid class index of ``model`` (None means top-1)."""
    if target is None:
        return None
    if not 0 <= int(target) < len(model.categories):
        raise TargetClassError(f"The target class must be between 0 and {len(model.categories) - 1}.")
    return int(target)
