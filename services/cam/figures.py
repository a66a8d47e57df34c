"""What the Grad-CAM page shows, built from an explanation and the display choices: the grid's pictures and
captions, the downloadable grid image, and the sentences around them. The page only places these."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.cam.explain import METHODS, Explanation, LayerMap
from services.cam.models import MODELS
from services.cam.render import (
    GridRow,
    colorize,
    comparable_maps,
    compose_grid,
    guided_backprop_image,
    guided_gradcam_image,
    overlay,
)

#: Side of one cell in the downloadable grid image.
GRID_CELL_PX = 160


@dataclass(frozen=True)
class DisplayOptions:
    """How maps are drawn; changing these recomputes no explanation."""

    alpha: float = 0.5  # heatmap opacity over the photo
    colormap: str = "jet"
    heatmap_only: bool = False
    shared_scale: bool = False  # one colour scale across a method's layers (``comparable_maps``)
    guided_backprop: bool = True  # show the guided backprop picture
    guided_rows: bool = True  # a guided row under each method


@dataclass(frozen=True)
class GridView:
    """The grid as the page draws it: column headers, rows of pictures with one caption per cell."""

    column_labels: tuple[str, ...]
    rows: tuple[GridRow, ...]
    extras: tuple[tuple[str, np.ndarray], ...]  # (caption, picture): the input and the guided backprop


def grid_view(explanation: Explanation, display: DisplayOptions) -> GridView:
    """Pictures of every cell; each caption names its layer (the row label names the method), so the grid
    still reads when a narrow screen stacks its columns."""
    spec = MODELS[explanation.model]
    labels = tuple(spec.layer_label(layer) for layer in explanation.layers)
    short = tuple(label.split(" · ")[0] for label in labels)  # "stage 3", or the layer's own name
    image = explanation.image
    guided = explanation.guided_backprop
    rows: list[GridRow] = []
    for method in explanation.methods:
        cells = [explanation.map(method, layer) for layer in explanation.layers]
        maps = comparable_maps(cells) if display.shared_scale else [cell.heatmap for cell in cells]
        pictures = [colorize(m, display.colormap) if display.heatmap_only
                    else overlay(image, m, alpha=display.alpha, colormap=display.colormap) for m in maps]
        title = METHODS[method].title
        rows.append(GridRow(title, pictures, [_caption(name, cell) for name, cell in zip(short, cells)]))
        if guided is not None and display.guided_rows:
            rows.append(GridRow(f"Guided {title}", [guided_gradcam_image(guided, cell.heatmap) for cell in cells],
                                list(short)))
    extras = [("Input", image)]
    if guided is not None and display.guided_backprop:
        extras.append(("Guided backprop (same for every layer)", guided_backprop_image(guided)))
    return GridView(labels, tuple(rows), tuple(extras))


def _caption(layer: str, cell: LayerMap) -> str:
    score = f" · Δp {cell.faithfulness:+.2f}" if cell.faithfulness is not None else ""
    return f"{layer}{score}"


def grid_image(explanation: Explanation, view: GridView) -> np.ndarray:
    """The whole grid as one RGB picture, titled with the model and the class, for the PNG download."""
    spec = MODELS[explanation.model]
    rows = [GridRow(row.label, row.cells, [_note(n) for n in row.notes] if row.notes else None) for row in view.rows]
    return compose_grid(rows, view.column_labels, cell_size=GRID_CELL_PX,
                        title=f"{spec.title}: {explanation.target.label} (p = {explanation.target.probability:.2f})")


def _note(caption: str) -> str:
    """The Δp part of a cell caption (the grid image has its own headers)."""
    return caption.split(" · ")[-1] if "Δp" in caption else ""


def prediction_label(label: str, probability: float) -> str:
    return f"{label} · {probability:.1%}"


def run_summary(explanation: Explanation) -> str:
    timing = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in explanation.timings.items())
    return (f"Explaining **{explanation.target.label}** (p = {explanation.target.probability:.3f}). "
            f"Ran on **{explanation.device}** at {explanation.input_size} px in {explanation.seconds:.2f} s "
            f"({timing}).")


def best_cell_sentence(explanation: Explanation) -> str | None:
    """The most faithful cell by Δp, or None when nothing was scored."""
    scored = [cell for cell in explanation.maps.values() if cell.faithfulness is not None]
    if not scored:
        return None
    best = max(scored, key=lambda cell: cell.faithfulness)
    spec = MODELS[explanation.model]
    return (f"Most faithful cell: **{METHODS[best.method].title}** at **{spec.layer_label(best.layer)}** "
            f"(Δp {best.faithfulness:+.2f}: the probability of *{explanation.target.label}* changes least when the "
            "picture is multiplied by that map).")


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def slow_warning(titles: list[str], passes: float, input_size: int, seconds: float, device: str) -> str:
    """What a slow method will cost, said before it runs."""
    names = " and ".join(titles)
    return (f"{names} {'run' if len(titles) > 1 else 'runs'} one forward pass per feature channel: about "
            f"{passes:,.0f} image passes at {input_size} px, roughly **{duration(seconds)}** on {device}. To size "
            "down: fewer or shallower layers, a smaller input size, or fewer channels (Options).")


def slow_button_label(titles: list[str], seconds: float) -> str:
    return f"Run {' and '.join(titles)} (≈ {duration(seconds)})"
