"""The four elementary steps (scale, rotate, shear, translate), their 3x3 homogeneous matrices, and products.

Steps are listed in the order they are applied to a point, so ``compose([shear, scale, rotate])`` is the seed's
``M = R S H``: the last step is the leftmost factor. Each step is a small frozen dataclass, so a list of steps
is plain data that can be compared, stored in a URL (``format_steps`` / ``parse_steps``) and unit-tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np

from services.affine.errors import StepsFormatError

#: More steps than this would not fit the editor; the URL parser refuses longer lists.
MAX_STEPS = 8


@dataclass(frozen=True)
class Scale:
    """x' = sx x, y' = sy y. A negative factor mirrors; a zero factor squashes the plane (singular)."""

    sx: float = 1.0
    sy: float = 1.0
    kind: ClassVar[str] = "scale"

    def linear(self) -> np.ndarray:
        return np.array([[self.sx, 0.0], [0.0, self.sy]])

    def latex(self) -> str:
        return rf"S({_num(self.sx)},\ {_num(self.sy)})"


@dataclass(frozen=True)
class Rotate:
    """Counter-clockwise by ``degrees`` in x-right/y-up axes; image rows grow downwards, so it looks clockwise."""

    degrees: float = 0.0
    kind: ClassVar[str] = "rotate"

    def linear(self) -> np.ndarray:
        quarter_turns, rest = divmod(self.degrees, 90.0)
        if rest == 0.0:  # exact for 90, 180, ...: no 6e-17 where a 0 belongs
            cos, sin = ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[int(quarter_turns) % 4]
        else:
            angle = math.radians(self.degrees)
            cos, sin = math.cos(angle), math.sin(angle)
        return np.array([[cos, -sin], [sin, cos]])

    def latex(self) -> str:
        return rf"R({_num(self.degrees)}^\circ)"


@dataclass(frozen=True)
class Shear:
    """The seed's shear: x' = x + m y, y' = n x + y (a = d = 1, b = m, c = n)."""

    m: float = 0.0
    n: float = 0.0
    kind: ClassVar[str] = "shear"

    def linear(self) -> np.ndarray:
        return np.array([[1.0, self.m], [self.n, 1.0]])

    def latex(self) -> str:
        return rf"H({_num(self.m)},\ {_num(self.n)})"


@dataclass(frozen=True)
class Translate:
    """x' = x + tx, y' = y + ty: only expressible as a matrix in homogeneous coordinates."""

    tx: float = 0.0
    ty: float = 0.0
    kind: ClassVar[str] = "translate"

    def linear(self) -> np.ndarray:
        return np.eye(2)

    def latex(self) -> str:
        return rf"T({_num(self.tx)},\ {_num(self.ty)})"


Step = Scale | Rotate | Shear | Translate
#: Step kind -> class, in the order the editor offers them.
STEP_TYPES: dict[str, type] = {cls.kind: cls for cls in (Scale, Rotate, Shear, Translate)}


def step_matrix(step: Step) -> np.ndarray:
    """The 3x3 homogeneous matrix of one step."""
    matrix = np.eye(3)
    matrix[:2, :2] = step.linear()
    if isinstance(step, Translate):
        matrix[:2, 2] = (step.tx, step.ty)
    return matrix


def compose(steps: list[Step] | tuple[Step, ...]) -> np.ndarray:
    """The 3x3 product for steps applied first to last: ``compose([A, B, C]) == C @ B @ A``."""
    product = np.eye(3)
    for step in steps:
        product = step_matrix(step) @ product
    return product


def step_values(step: Step) -> dict[str, float]:
    """The step's parameters by name, in declaration order (``{"sx": 1.0, "sy": 2.0}``)."""
    return {f.name: float(getattr(step, f.name)) for f in fields(step)}


def make_step(kind: str, **values: float) -> Step:
    """A step of ``kind`` ("scale", "rotate", "shear", "translate"); missing values take the identity's."""
    if kind not in STEP_TYPES:
        raise StepsFormatError(f"Unknown step {kind!r}; use one of {', '.join(STEP_TYPES)}.")
    step = STEP_TYPES[kind]()
    return replace(step, **{name: float(value) for name, value in values.items()})


def format_steps(steps: list[Step] | tuple[Step, ...]) -> str:
    """Compact text for a URL: ``"shear:0.3,0;rotate:45"`` (``parse_steps`` reads it back)."""
    return ";".join(f"{step.kind}:" + ",".join(_short(v) for v in step_values(step).values()) for step in steps)


def parse_steps(text: str) -> list[Step]:
    """Read ``format_steps`` text; raise ``StepsFormatError`` with the offending part otherwise."""
    text = text.strip()
    if not text:
        return []
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if len(parts) > MAX_STEPS:
        raise StepsFormatError(f"At most {MAX_STEPS} steps are supported, got {len(parts)}.")
    steps = []
    for part in parts:
        kind, _, raw_values = part.partition(":")
        kind = kind.strip().lower()
        if kind not in STEP_TYPES:
            raise StepsFormatError(f"Unknown step {kind!r} in {part!r}; use one of {', '.join(STEP_TYPES)}.")
        names = [f.name for f in fields(STEP_TYPES[kind])]
        items = [item.strip() for item in raw_values.split(",")] if raw_values.strip() else []
        if len(items) != len(names):
            raise StepsFormatError(f"{kind} needs {len(names)} value(s) ({', '.join(names)}), got {part!r}.")
        try:
            values = [float(item) for item in items]
        except ValueError as exc:
            raise StepsFormatError(f"Not a number in {part!r}.") from exc
        if not all(math.isfinite(v) for v in values):
            raise StepsFormatError(f"Values must be finite numbers, got {part!r}.")
        steps.append(make_step(kind, **dict(zip(names, values))))
    return steps


@dataclass(frozen=True)
class Preset:
    label: str
    steps: tuple[Step, ...]
    note: str


#: The seed's examples and a few classics. Like the seed, M is the sampler's map (output -> input).
PRESETS: dict[str, Preset] = {
    "identity": Preset("Identity", (), "M = I: every output pixel samples the same input pixel."),
    "translate": Preset(
        "Seed: translate 0.5 in x",
        (Translate(0.5, 0.0),),
        "The seed's M = [[1, 0, 0.5], [0, 1, 0]]: each output pixel samples 0.5 further right, so the picture "
        "moves left by a quarter of its width.",
    ),
    "rotate45": Preset(
        "Seed: rotate 45°",
        (Rotate(45.0),),
        "The seed's M = [[0.707, -0.707, 0], [0.707, 0.707, 0]], about the origin.",
    ),
    "zoom": Preset(
        "Zoom in ×2",
        (Scale(0.5, 0.5),),
        "Sampling a region half as wide fills the output with it: zooming in needs s < 1, as the seed says.",
    ),
    "flip": Preset("Mirror (flip x)", (Scale(-1.0, 1.0),), "A negative scale: determinant < 0, orientation flips."),
    "italic": Preset(
        "Italic shear",
        (Shear(0.3, 0.0),),
        "x_in = x_out + 0.3 y_out: rows above the centre sample further left, so the picture leans right.",
    ),
}


def _num(value: float) -> str:
    return f"{value:.3g}"


def _short(value: float) -> str:
    text = f"{value:.6g}"
    return "0" if text == "-0" else text
