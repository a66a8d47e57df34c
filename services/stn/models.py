"""The two models: a small CNN, and the same CNN behind a spatial transformer.

The transformer is the seed's three pieces: a localisation net outputs theta (2 x 3, its last layer starts at
zero weights and the identity bias, so training starts from "do nothing"), ``affine_grid`` turns theta into a
sampling grid and ``grid_sample`` reads the input bilinearly there, both with ``align_corners=True``: the
convention of ``services.affine``, whose numpy sampler reproduces the output for the same theta.
The localisation net looks at a 2x average-pooled copy of the input, so the transformer adds little to the
classifier's cost.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

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
        x = functional.relu(self.conv1(x))
        x = functional.relu(functional.max_pool2d(self.conv2(x), 2))
        x = functional.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class Localisation(nn.Module):
    """Input -> theta (n, 2, 3): avg-pool 2x -> conv 5x5 stride 2 (8) -> conv 3x3 (16) -> max-pool -> 32 -> 6."""

    def __init__(self, canvas: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=5, stride=2)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3)
        side = ((canvas // 2 - 5) // 2 + 1 - 2) // 2
        self.fc1 = nn.Linear(16 * side * side, 32)
        self.fc2 = nn.Linear(32, 6)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor(IDENTITY_THETA))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.avg_pool2d(x, 2)
        x = functional.relu(self.conv1(x))
        x = functional.relu(functional.max_pool2d(self.conv2(x), 2))
        x = functional.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).view(-1, 2, 3)


def transform(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Sample ``images`` (n, c, h, w) on theta's grid: the grid generator and the bilinear sampler.

    The grid and the sampling run in float64: a float32 grid is off by a few 1e-6 pixel at 42 px, enough
    that even the identity would not return its input exactly; the cost is small next to the convolutions.
    """
    grid = functional.affine_grid(theta.double(), list(images.shape), align_corners=True)
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
