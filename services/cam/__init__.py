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
    LayerMap,
    MethodInfo,
    Prediction,
    estimate_work,
    explain_layers,
    measure_seconds_per_image,
    slow_methods,
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
    "estimate_work",
    "explain_layers",
    "imagenet_categories",
    "load_model",
    "measure_seconds_per_image",
    "model_spec",
    "slow_methods",
]
