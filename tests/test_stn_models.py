"""The transformer's pieces: identity theta, gradient flow to the localisation net, and one convention with the
project's numpy sampler."""

import numpy as np
import pytest
import torch
from torch.nn import functional

from services.affine import Rotate, Scale, Shear, Translate, compose, warp
from services.stn import build_pair, transform
from services.stn.models import SmallCnn, _FoldedInputGradConv, sampling_grid

#: grid_sample builds its grid in float32, the numpy engine in float64: at 42 x 42 they differ by a few 1e-6.
SAMPLER_TOLERANCE = 2e-5


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def test_identity_theta_returns_the_input():
    images = torch.rand(6, 1, 42, 42, generator=torch.Generator().manual_seed(0))
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(6, 2, 3)
    assert torch.max(torch.abs(transform(images, identity) - images)) <= 1e-6


def test_fresh_pair_computes_the_same_function():
    """theta starts at the identity and the ST-CNN's CNN starts as a copy of the plain one."""
    cnn, stn = build_pair(42, seed=3)
    images = torch.rand(8, 1, 42, 42, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        output, theta = stn.transformed(images)
        assert torch.allclose(theta, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(8, 2, 3))
        assert torch.max(torch.abs(output - images)) <= 1e-6
        assert torch.max(torch.abs(stn(images) - cnn(images))) <= 1e-5


def test_gradients_reach_the_localisation_net():
    _, stn = build_pair(42, seed=0)
    images = torch.rand(16, 1, 42, 42, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(16) % 10
    optimiser = torch.optim.SGD(stn.parameters(), lr=0.1)
    functional.cross_entropy(stn(images), labels).backward()
    # the last layer starts at zero weights, so only it has a gradient at first ...
    assert stn.localisation.fc2.weight.grad.abs().sum() > 0
    assert stn.localisation.fc2.bias.grad.abs().sum() > 0
    optimiser.step()
    optimiser.zero_grad()
    functional.cross_entropy(stn(images), labels).backward()
    # ... and after one step the classification loss reaches the first convolution of the localisation net
    assert stn.localisation.conv1.weight.grad.abs().sum() > 0


def _random_thetas(count: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    thetas = [compose([Shear(rng.uniform(-0.3, 0.3), 0.0), Scale(*rng.uniform(0.5, 1.5, 2)),
                       Rotate(rng.uniform(-180, 180)), Translate(*rng.uniform(-0.5, 0.5, 2))])[:2]
              for _ in range(count)]
    return torch.from_numpy(np.stack(thetas))


@pytest.mark.parametrize("side", [28, 42])
def test_the_grid_generator_is_affine_grid(side):
    """Values and the gradient reaching theta, against torch's own affine_grid (float64: different summation
    orders differ by a few ulps)."""
    theta = _random_thetas(8, side).requires_grad_(True)
    reference_theta = theta.detach().clone().requires_grad_(True)
    ours = sampling_grid(theta, side, side)
    theirs = functional.affine_grid(reference_theta, [8, 1, side, side], align_corners=True)
    assert ours.shape == theirs.shape and ours.is_contiguous()
    assert torch.max(torch.abs(ours - theirs)) <= 1e-12
    weights = torch.rand(ours.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(side))
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    assert torch.max(torch.abs(theta.grad - reference_theta.grad)) <= 1e-9 * float(reference_theta.grad.abs().max())


@pytest.mark.parametrize("side", [27, 42])
def test_the_first_convolution_passes_back_autograds_gradients(side):
    """The classifier's first convolution computes its input gradient by fold when the input needs one (the
    ST-CNN's): the same forward pass as conv2d, and every gradient equal to autograd's through conv2d (float64;
    at 27 every input row is covered by the stride-2 windows, at 42 the last one is not)."""
    torch.manual_seed(side)
    conv = torch.nn.Conv2d(1, 16, kernel_size=5, stride=2).double()
    images = torch.rand(3, 1, side, side, dtype=torch.float64, requires_grad=True)
    ours = _FoldedInputGradConv.apply(images, conv.weight, conv.bias, conv.stride)
    theirs = functional.conv2d(images, conv.weight, conv.bias, conv.stride)
    assert torch.equal(ours, theirs)
    upstream = torch.rand(ours.shape, dtype=torch.float64)
    wrt = (images, conv.weight, conv.bias)
    for mine, expected in zip(torch.autograd.grad(ours, wrt, upstream), torch.autograd.grad(theirs, wrt, upstream)):
        assert torch.max(torch.abs(mine - expected)) <= 1e-12 * float(expected.abs().max())


def test_the_first_convolution_gradient_matches_finite_differences():
    small = (torch.rand(2, 1, 9, 9, dtype=torch.float64, requires_grad=True),
             torch.rand(3, 1, 5, 5, dtype=torch.float64, requires_grad=True),
             torch.rand(3, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(lambda x, w, b: _FoldedInputGradConv.apply(x, w, b, (2, 2)), small)


def test_the_cnn_computes_the_same_function_when_its_input_needs_a_gradient():
    cnn = SmallCnn(42)
    images = torch.rand(4, 1, 42, 42, generator=torch.Generator().manual_seed(5))
    assert torch.equal(cnn(images.clone().requires_grad_(True)), cnn(images))


@pytest.mark.parametrize("side", [28, 42])
def test_numpy_sampler_equals_grid_sample_for_random_theta(side):
    rng = np.random.default_rng(side)
    images = rng.random((12, side, side)).astype(np.float32)
    worst = 0.0
    for image in images:
        steps = [Shear(rng.uniform(-0.3, 0.3), 0.0), Scale(*rng.uniform(0.5, 1.5, 2)), Rotate(rng.uniform(-180, 180)),
                 Translate(*rng.uniform(-0.5, 0.5, 2))]
        theta = compose(steps)[:2]
        ours = warp(image, theta, engine="numpy")
        theirs = transform(torch.from_numpy(image)[None, None], torch.from_numpy(theta.astype(np.float32))[None])
        worst = max(worst, float(np.max(np.abs(ours - theirs[0, 0].numpy()))))
    assert worst <= SAMPLER_TOLERANCE
