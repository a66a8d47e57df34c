"""How the page samples a picture through M: one frozen, hashable value instead of five loose arguments.

``SamplerOptions`` is what ``warp``, ``compare_engines``, ``render_warp`` and ``animation_frames`` take, and
what the page uses as its cache key, so a new option is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from services.affine.errors import AffineError
from services.affine.matrices import FRAMES, MAPPINGS, Frame, Mapping

Interpolation = Literal["nearest", "bilinear", "bicubic"]
Padding = Literal["zeros", "border", "reflection"]
Engine = Literal["numpy", "torch", "opencv", "skimage"]
INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear", "bicubic")
PADDINGS: tuple[str, ...] = ("zeros", "border", "reflection")
ENGINES: tuple[str, ...] = ("numpy", "torch", "opencv", "skimage")


@dataclass(frozen=True)
class SamplerOptions:
    """The sampler (interpolation, padding, engine) and how M is read (its frame, and which way it maps)."""

    interpolation: Interpolation = "bilinear"
    padding: Padding = "zeros"
    engine: Engine = "numpy"
    frame: Frame = "normalised"
    mapping: Mapping = "sampler"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("interpolation", self.interpolation, INTERPOLATIONS),
            ("padding", self.padding, PADDINGS),
            ("engine", self.engine, ENGINES),
            ("frame", self.frame, tuple(FRAMES)),
            ("mapping", self.mapping, tuple(MAPPINGS)),
        ):
            if value not in allowed:
                raise AffineError(f"Unknown {name} {value!r}; use one of {', '.join(allowed)}.")

    def but(self, **changes: Any) -> SamplerOptions:
        """A copy with some fields changed (``options.but(engine="torch")``); no change returns ``self``."""
        return replace(self, **changes) if changes else self

    def label(self) -> str:
        """The caption under the output: "numpy · bilinear · zeros padding"."""
        return f"{self.engine} · {self.interpolation} · {self.padding} padding"


DEFAULT_OPTIONS = SamplerOptions()
