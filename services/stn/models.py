"""The two models: a small CNN, and the same CNN behind a spatial transformer.

The transformer is the seed's three pieces: a localisation net outputs theta (2 x 3, its last layer starts at
zero weights and the identity bias, so training starts from "do nothing"), the grid generator turns theta into
a sampling grid (``affine_grid``'s, ``align_corners=True``) and ``grid_sample`` reads the input bilinearly there
(``align_corners=True``): the convention of ``services.affine``, whose numpy sampler reproduces the output for
the same theta.

Cost (one CPU thread; ``torch.profiler`` of a training step, timings in bench/bench_stn.py): the localisation
net looks at a 3x average-pooled copy of the input. ``affine_grid`` builds its base grid again in the forward and
in the backward pass, so the grid here is one matrix product with a cached base grid (equal to ``affine_grid``,
tested). oneDNN's input gradient for the classifier's strided one-channel first convolution, which the plain
CNN never needs (its input is data), took about eight times as long as that layer's forward pass and weight
gradient together; here it is a matrix product and ``fold`` (equal to autograd's, tested).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import nn
from torch.nn import functional
from torch.nn.grad import conv2d_weight

N_CLASSES = 10
IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


class SmallCnn(nn.Module):
    """conv 5x5 stride 2 (16) -> conv 5x5 (32) -> max-pool -> 64 -> 10, for a square one-channel canvas.

    A strided first convolution instead of convolution + pooling: on the CPU, pooling a full-size feature map
    costs more than the convolution itself, and the transformer's gradient must pass back through this layer.
    """

    def __init__(self, canvas: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=5, stride=2)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        side = ((canvas - 5) // 2 + 1 - 4) // 2
        self.fc1 = nn.Linear(32 * side * side, 64)
        self.fc2 = nn.Linear(64, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad:  # the ST-CNN's sampled canvas
            x = _FoldedInputGradConv.apply(x, self.conv1.weight, self.conv1.bias, self.conv1.stride)
        else:
            x = self.conv1(x)
        x = functional.relu(x)
        x = functional.relu(functional.max_pool2d(self.conv2(x), 2))
        x = functional.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class _FoldedInputGradConv(torch.autograd.Function):
    """``conv2d`` (no padding or dilation, one group) whose input gradient is ``fold(weightᵀ @ grad)``.

    The forward pass is ``functional.conv2d`` itself, so both models compute the same function; only the
    backward pass of an input that needs a gradient (the ST-CNN's sampled canvas) is computed differently.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                stride: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.stride = stride
        return functional.conv2d(x, weight, bias, stride)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        n, out_channels = grad.shape[:2]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            columns = weight.reshape(out_channels, -1).t() @ grad.reshape(n, out_channels, -1)
            grad_x = functional.fold(columns, x.shape[-2:], weight.shape[-2:], stride=ctx.stride)
        if ctx.needs_input_grad[1]:
            grad_weight = conv2d_weight(x, weight.shape, grad, stride=ctx.stride)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None


class Localisation(nn.Module):
    """Input -> theta (n, 2, 3): avg-pool 3x -> conv 5x5 (8) -> max-pool -> 32 -> 6.

    Where to look needs less detail than what the digit is: on a 3x pooled canvas (14 x 14 at 42) one
    convolution finds the digit, and the whole net costs about a twentieth of the classifier's step.
    """

    def __init__(self, canvas: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=5)
        side = (canvas // 3 - 4) // 2
        self.fc1 = nn.Linear(8 * side * side, 32)
        self.fc2 = nn.Linear(32, 6)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor(IDENTITY_THETA))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.avg_pool2d(x, 3)
        x = functional.relu(functional.max_pool2d(self.conv1(x), 2))
        x = functional.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).view(-1, 2, 3)


@cache
def _base_grid(height: int, width: int) -> torch.Tensor:
    """(3, h * w): rows x, y and 1 at the output pixel centres, x and y being ``affine_grid``'s own at the identity
    (-1 and 1 on the first and last pixel centres). Shared and never written to."""
    identity = torch.eye(2, 3, dtype=torch.float64)[None]
    xy = functional.affine_grid(identity, [1, 1, height, width], align_corners=True).reshape(-1, 2)
    return torch.cat([xy, torch.ones(height * width, 1, dtype=torch.float64)], dim=1).t().contiguous()


def sampling_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``affine_grid(theta, (n, c, height, width), align_corners=True)`` for float64 theta, as one matrix product
    (2n, 3) x (3, h * w), so that its backward pass is one product too."""
    n = theta.shape[0]
    grid = theta @ _base_grid(height, width)  # (n, 2, h * w)
    return grid.view(n, 2, height, width).permute(0, 2, 3, 1).contiguous()


def transform(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Sample ``images`` (n, c, h, w) on theta's grid: the grid generator and the bilinear sampler.

    The grid and the sampling run in float64: a float32 grid is off by a few 1e-6 pixel at 42 px, enough
    that even the identity would not return its input exactly; the cost is small next to the convolutions.
    """
    grid = sampling_grid(theta.double(), *images.shape[-2:])
    sampled = functional.grid_sample(images.double(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return sampled.to(images.dtype)


class SpatialTransformerCnn(nn.Module):
    """Localisation net -> theta -> sampled canvas -> the same ``SmallCnn``."""

    def __init__(self, canvas: int) -> None:
        super().__init__()
        self.localisation = Localisation(canvas)
        self.classifier = SmallCnn(canvas)

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        return self.localisation(x)

    def transformed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the transformer's output, theta) for a batch."""
        theta = self.localisation(x)
        return transform(x, theta), theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.transformed(x)[0])


def build_pair(canvas: int, seed: int) -> tuple[SmallCnn, SpatialTransformerCnn]:
    """Both models from one seed; the ST-CNN's classifier starts as an exact copy of the plain CNN, so at
    initialisation (theta = identity) the two compute the same function and any difference is learned."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        cnn = SmallCnn(canvas)
        stn = SpatialTransformerCnn(canvas)
    stn.classifier.load_state_dict(cnn.state_dict())
    return cnn, stn
