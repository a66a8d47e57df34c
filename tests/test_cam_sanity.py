"""Sanity check by cascading randomisation (issue 15): the shared model is untouched, Grad-CAM's map changes
when the head is randomised, guided backprop's much less (Adebayo et al. 2018's direction)."""

import hashlib

import numpy as np
import pytest

from services.cam import ExplainRequest, load_model
from services.cam.sanity import PASS_BELOW, cascade_stages, estimate_sanity_passes, sanity_check
from services.imaging import load_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Measured on chelsea at 224 px: rank correlation 0.58 after the head (_bn1, _fc) is randomised; asserted
#: below 0.8 (a margin of 0.22). Guided backprop kept 0.991 at the same step (maps compared on a 56² grid).
HEAD_RANDOMISED_BELOW = 0.8


@pytest.fixture(scope="module")
def model():
    return load_model()


def _digest(network) -> str:
    digest = hashlib.sha256()
    for name, value in network.state_dict().items():
        digest.update(name.encode() + value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def _hooks_left(network) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in network.modules())


def test_randomising_the_head_changes_grad_cam_but_hardly_guided_backprop(model):
    before = _digest(model.network)
    check = sanity_check(model, load_sample("chelsea").pixels, ExplainRequest(layers=("_conv_head",)))
    assert _digest(model.network) == before and _hooks_left(model.network) == 0
    assert _hooks_left(model.guided_network) == 0
    (head,) = check.steps
    assert head.randomised_from == "head" and head.modules == 2
    assert head.spearman[("gradcam", "_conv_head")] < HEAD_RANDOMISED_BELOW
    assert head.guided_spearman > head.spearman[("gradcam", "_conv_head")]
    assert -1 <= head.ssim[("gradcam", "_conv_head")] <= 1


def test_the_cascade_reaches_one_stage_deeper_each_step(model):
    stages = cascade_stages(model, model.layers)
    assert [name for name, _ in stages] == ["head", "_blocks.15", "_blocks.14", "_blocks.10", "_blocks.7",
                                            "_blocks.4", "_blocks.2", "_blocks.0"]
    sizes = [len(modules) for _, modules in stages]
    assert sizes == sorted(sizes) and stages[0][1] == ["_bn1", "_fc"]
    assert all(set(a) <= set(b) for (_, a), (_, b) in zip(stages, stages[1:]))
    assert estimate_sanity_passes(model.layers, guided=True) == 18


def test_verdicts_say_pass_or_fail_plainly(model):
    check = sanity_check(model, load_sample("coffee").pixels,
                         ExplainRequest(layers=("_blocks.15", "_conv_head"), input_size=96), guided=False)
    lines = check.verdicts()
    assert len(lines) == 2 and all(("passes" in line) != ("FAILS" in line) for line in lines)
    final = check.steps[-1].spearman[("gradcam", "_conv_head")]
    assert ("passes" in lines[1]) == (final < PASS_BELOW) and np.isfinite(final)
