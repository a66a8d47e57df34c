"""Faithfulness that beats chance: ROAD (Rong et al. 2022) per cell, through pytorch-grad-cam's own metric
classes, beside two baselines on the same image: RandomCAM (random channel weights at the deepest chosen layer,
seeded) and a Sobel edge map. A cell that does not beat both is no better than chance at finding the evidence.

ROAD removes the most relevant pixels (MoRF) and, separately, the least relevant (LeRF) by noisy linear
imputation at each percentile; the combined score is (LeRF − MoRF) / 2 of the target's softmax probability,
averaged over the percentiles: higher is more faithful.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import RandomCAM
from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirst, ROADMostRelevantFirst
from pytorch_grad_cam.sobel_cam import sobel_cam
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

from services.cam.explain import (
    Explanation,
    ForwardPass,
    MethodInfo,
    MethodInputs,
    Progress,
    ShouldStop,
    WorkTracker,
    _layer_map,
)
from services.cam.models import CamModel, prepare_input

#: Percentiles of pixels removed, for both orders.
ROAD_PERCENTILES = (20, 40, 60, 80)


@dataclass(frozen=True)
class RoadScores:
    cells: Mapping[tuple[str, str], float]  # (method, layer) -> ROAD combined score, higher is better
    random_baseline: float
    sobel_baseline: float
    percentiles: tuple[int, ...]
    seconds: float

    def beats_baselines(self, key: tuple[str, str]) -> bool:
        return self.cells[key] > max(self.random_baseline, self.sobel_baseline)

    @property
    def best(self) -> tuple[str, str]:
        return max(self.cells, key=self.cells.__getitem__)


def estimate_road_imputations(cells: int, percentiles: Sequence[int] = ROAD_PERCENTILES) -> int:
    """Noisy linear imputations (sparse solves) ROAD needs: per cell and baseline, per percentile, twice."""
    return (cells + 2) * len(percentiles) * 2


def random_cam_map(model: CamModel, explanation: Explanation, seed: int = 0) -> np.ndarray:
    """RandomCAM's map (uniform random channel weights in [-1, 1]) at the deepest layer of ``explanation``, at
    the network's input size; seeded, so baselines repeat."""
    layer = explanation.layers[-1]
    tensor = prepare_input(model, explanation.image, explanation.input_size)
    target = explanation.target.index
    forward = ForwardPass(model, tensor, [layer])
    rng = np.random.default_rng(seed)
    info = MethodInfo("randomcam", "RandomCAM", RandomCAM, True, False, "random channel weights",
                      lambda inputs: rng.uniform(-1, 1, size=inputs.activations.shape[:2])[:, :, None, None]
                      * inputs.activations)
    inputs = MethodInputs(None, tensor, model.module(layer), target, forward.activations[layer],
                          forward.gradients(target)[layer])
    return _layer_map(info, inputs, eigen_smooth=False)[0]


def sobel_map(explanation: Explanation) -> np.ndarray:
    """pytorch-grad-cam's Sobel edge map of the picture the network saw, scaled to [0, 1]."""
    from PIL import Image

    size = explanation.input_size
    square = np.asarray(Image.fromarray(explanation.image).resize((size, size), Image.Resampling.BICUBIC))
    return np.array(sobel_cam(square), dtype=np.float32) / 255.0


def road_scores(model: CamModel, explanation: Explanation, *, percentiles: Sequence[int] = ROAD_PERCENTILES,
                seed: int = 0, progress: Progress | None = None, should_stop: ShouldStop | None = None) -> RoadScores:
    """ROAD (combined) for every cell of ``explanation`` and for the two baselines.

    The same numbers as ``ROADCombined(percentiles)`` called once on the whole batch of maps (the tests check
    it): its metric classes are called here in its order (every LeRF percentile, then every MoRF one; within
    each, map after map), so the imputation noise is drawn in the same sequence, one map at a time; the
    unperturbed probability, the same for every map, is computed once. ``should_stop`` is asked between
    imputations (the heavy-work pool's stop); ``WorkCancelled`` when it says so.
    """
    started = time.perf_counter()
    keys = list(explanation.maps)
    cams = np.stack([explanation.maps[key].input_heatmap for key in keys]
                    + [random_cam_map(model, explanation, seed), sobel_map(explanation)]).astype(np.float32)
    tensor = prepare_input(model, explanation.image, explanation.input_size)
    target = ClassifierOutputSoftmaxTarget(explanation.target.index)
    with torch.no_grad():
        before = np.float32(target(model.network(tensor)[0]).cpu().numpy())
    tracker = WorkTracker(progress, estimate_road_imputations(len(keys), percentiles), should_stop)
    change: dict[str, list[np.ndarray]] = {"LeRF": [], "MoRF": []}
    with torch.random.fork_rng():  # the imputation adds noise: seeded here, the caller's RNG left as it was
        torch.manual_seed(seed)
        tracker.check()
        for order, metric in (("LeRF", ROADLeastRelevantFirst), ("MoRF", ROADMostRelevantFirst)):
            for percentile in percentiles:
                scorer = metric(percentile)
                after: list[float] = []
                for index, cam in enumerate(cams):
                    after.append(float(scorer(tensor, cam[None], [target], model.network, return_diff=False)[0]))
                    tracker.advance(1, f"ROAD {order} {percentile}%: map {index + 1} of {len(cams)}")
                change[order].append(np.array(after, dtype=np.float32) - before)
    # AveragerAcrossThresholds and ROADCombined's arithmetic, in float32 like theirs
    lerf, morf = (np.mean(np.array(change[order], dtype=np.float32), axis=0) for order in ("LeRF", "MoRF"))
    scores = (lerf - morf) / 2
    tracker.finish()
    return RoadScores(cells={key: float(s) for key, s in zip(keys, scores)}, random_baseline=float(scores[-2]),
                      sobel_baseline=float(scores[-1]), percentiles=tuple(percentiles),
                      seconds=time.perf_counter() - started)
