"""Grad-CAM per layer: what every stage of a CNN looks at, from one forward and one backward pass.

Public API: ``load_model`` and ``explain_layers`` (plus the model registry, method registry, estimates and
the drawing helpers in ``services.cam.render``).
"""

from services.cam.errors import (
    CamError,
    ExplainOptionError,
    TargetClassError,
    UnknownLayerError,
    UnknownMethodError,
    UnknownModelError,
    WeightsFileError,
    WeightsUnavailableError,
)
from services.cam.explain import (
    METHODS,
    Explanation,
    ExplainRequest,
    ForwardPass,
    LayerMap,
    MethodInfo,
    Prediction,
    WorkTracker,
    estimate_request,
    estimate_work,
    explain_layers,
    explain_maps,
    forward_pass,
    measure_seconds_per_image,
    slow_methods,
    with_faithfulness,
    with_guided_backprop,
)
from services.cam.models import (
    DEFAULT_MODEL,
    MODELS,
    CamModel,
    ModelSpec,
    imagenet_categories,
    load_model,
    model_spec,
)

__all__ = [
    "DEFAULT_MODEL",
    "METHODS",
    "MODELS",
    "CamError",
    "CamModel",
    "Explanation",
    "ExplainOptionError",
    "ExplainRequest",
    "ForwardPass",
    "LayerMap",
    "MethodInfo",
    "ModelSpec",
    "Prediction",
    "TargetClassError",
    "UnknownLayerError",
    "UnknownMethodError",
    "UnknownModelError",
    "WeightsFileError",
    "WeightsUnavailableError",
    "WorkTracker",
    "estimate_request",
    "estimate_work",
    "explain_layers",
    "explain_maps",
    "forward_pass",
    "imagenet_categories",
    "load_model",
    "measure_seconds_per_image",
    "model_spec",
    "slow_methods",
    "with_faithfulness",
    "with_guided_backprop",
]
