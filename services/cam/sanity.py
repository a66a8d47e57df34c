"""Sanity check by cascading model randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

A map that explains the network must change when the network's learned weights are replaced by random ones.
On a deep copy (the shared model is never touched) the weights are re-initialised from the classifier head
down, stage by stage; after each step every chosen map is compared with the original by Spearman rank
correlation and SSIM, as in the paper (on a 56 × 56 grid). Grad-CAM's maps fall apart; guided backprop, which mostly
shows the picture's edges, stays similar.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

from services.cam.explain import (
    METHODS,
    ExplainRequest,
    Explanation,
    LayerMap,
    Progress,
    ShouldStop,
    WorkTracker,
    _check_layers,
    explain_maps,
    with_guided_backprop,
)
from services.cam.models import CamModel, guided_copy

#: A map "passes" when its Spearman rank correlation with the original falls below this once every stage is
#: randomised: it depends on the weights. Guided backprop, which mostly reflects the picture's edges, stays high.
PASS_BELOW = 0.5


@dataclass(frozen=True)
class SanityStep:
    randomised_from: str  # every parameterised module after this stage was re-initialised ("head" first)
    modules: int  # how many modules are random now
    spearman: Mapping[tuple[str, str], float]  # (method, layer) -> rank correlation with the original map
    ssim: Mapping[tuple[str, str], float]
    guided_spearman: float | None  # guided backprop's rank correlation with the original, when computed


@dataclass(frozen=True)
class SanityCheck:
    original: Explanation
    steps: tuple[SanityStep, ...]
    seconds: float

    def passes(self, method: str, layer: str) -> bool:
        """Whether the map changed once the network was randomised (it depends on what the network learned)."""
        return self.steps[-1].spearman[(method, layer)] < PASS_BELOW

    def verdicts(self) -> list[str]:
        lines = []
        for method, layer in self.original.maps:
            final = self.steps[-1].spearman[(method, layer)]
            verb = "passes: its map changes" if self.passes(method, layer) else "FAILS: its map barely changes"
            lines.append(f"{METHODS[method].title} at {layer} {verb} when the weights are randomised "
                         f"(rank correlation {final:+.2f} at full randomisation; pass below {PASS_BELOW}).")
        if self.steps[-1].guided_spearman is not None:
            lines.append(f"Guided backprop keeps rank correlation {self.steps[-1].guided_spearman:+.2f}: it shows "
                         "the picture's edges more than what the network learned.")
        return lines


def cascade_stages(model: CamModel, layers: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(stage name, parameterised modules to re-initialise at that step), cumulative from the head down: the
    first step randomises everything after the deepest chosen layer, each next one reaches a stage deeper."""
    order = [name for name, module in model.network.named_modules()
             if any(True for _ in module.parameters(recurse=False))]
    chosen = [layer for layer in model.layers if layer in layers]
    steps = []
    for stage in reversed(chosen):
        after = [name for name in order if _after(name, stage, order)]
        steps.append(("head" if stage == chosen[-1] else stage, after))
    return steps


def _after(name: str, stage: str, order: list[str]) -> bool:
    """Whether module ``name`` runs after stage ``stage`` (comes later in definition order, outside it)."""
    inside = [i for i, n in enumerate(order) if n == stage or n.startswith(stage + ".")]
    if not inside:
        return False
    return order.index(name) > max(inside)


def estimate_sanity_passes(layers: Sequence[str], guided: bool) -> int:
    """Forward + backward passes of the check (one per step, and the original), to show its cost first."""
    return (len(layers) + 1) * (2 if guided else 1)


def sanity_check(model: CamModel, image: np.ndarray, request: ExplainRequest, *, seed: int = 0,
                 guided: bool = True, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> SanityCheck:
    """Cascading randomisation on a deep copy of the network (the shared model is never touched): after each
    step, every chosen map's Spearman rank correlation and SSIM with the original map. ``should_stop`` is asked
    before every pass (the heavy-work pool's stop); ``WorkCancelled`` when it says so."""
    started = time.perf_counter()
    request = request.replace(guided=False, faithfulness=False, aug_smooth=False,
                              methods=tuple(m for m in request.methods if not METHODS[m].slow) or ("gradcam",))
    stages = cascade_stages(model, _check_layers(model, request.layers))
    tracker = WorkTracker(progress, len(stages) + 1, should_stop)
    tracker.check()
    original = explain_maps(model, image, request)
    target = original.target.index
    fixed = request.replace(target=target)  # the same class all the way down, as in the paper
    original_guided = with_guided_backprop(model, original).guided_backprop if guided else None
    network = copy.deepcopy(model.network)
    guided_network = guided_copy(network)  # randomised alongside, module for module, with the same numbers
    generator = torch.Generator().manual_seed(seed)
    tracker.advance(1, "original maps")
    steps = []
    for stage, modules in stages:
        with torch.no_grad():
            state = generator.get_state()
            for copy_of_network in (network, guided_network):
                generator.set_state(state)
                for name in modules:
                    _reinitialise(copy_of_network.get_submodule(name), generator)
        randomised = dataclasses.replace(model, network=network, guided_network=guided_network)
        after = explain_maps(randomised, image, fixed)
        guided_similarity = None
        if original_guided is not None:
            tracker.check()
            moved = with_guided_backprop(randomised, after).guided_backprop
            assert moved is not None  # with_guided_backprop always fills it
            guided_similarity = _spearman(np.abs(original_guided).sum(axis=2), np.abs(moved).sum(axis=2))
        steps.append(SanityStep(
            randomised_from=stage, modules=len(modules),
            spearman={key: _spearman(_input_map(cell), _input_map(after.maps[key]))
                      for key, cell in original.maps.items()},
            ssim={key: _ssim(_input_map(cell), _input_map(after.maps[key])) for key, cell in original.maps.items()},
            guided_spearman=guided_similarity,
        ))
        tracker.advance(1, f"randomised from {stage}")
    tracker.finish()
    return SanityCheck(original, tuple(steps), time.perf_counter() - started)


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    """New random weights (Kaiming-uniform like torch's own initialisation, from ``generator``); norms to 1/0."""
    for name, parameter in module.named_parameters(recurse=False):
        if parameter.dim() > 1:
            bound = 1.0 / math.sqrt(parameter[0].numel())
            parameter.copy_(torch.rand(parameter.shape, generator=generator) * 2 * bound - bound)
        elif name == "weight" and isinstance(module, nn.modules.batchnorm._BatchNorm):
            parameter.fill_(1.0)
        else:
            parameter.zero_()
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.reset_running_stats()


#: Maps are compared on a SIMILARITY_SIDE² grid: finer than every stage but the first (112²), and 16x cheaper
#: than at 224² (Spearman's ranking and SSIM's filters were most of the check's time).
SIMILARITY_SIDE = 56


def _coarse(a: np.ndarray) -> np.ndarray:
    return cv2.resize(np.asarray(a, dtype=np.float32), (SIMILARITY_SIDE, SIMILARITY_SIDE), interpolation=cv2.INTER_AREA)


def _input_map(cell: LayerMap) -> np.ndarray:
    """The map at the network's input size, which every map from ``explain_maps`` carries."""
    assert cell.input_heatmap is not None
    return cell.input_heatmap


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _coarse(a), _coarse(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0  # a constant map (all zero after ReLU) has no ranking
    value = spearmanr(np.ravel(a), np.ravel(b)).statistic
    return float(value) if np.isfinite(value) else 0.0


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(np.float64(_coarse(a)), np.float64(_coarse(b)), data_range=1.0))
