"""Pictures from explanations: colour maps, overlays, a shared colour scale, guided Grad-CAM and the PNG grid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pytorch_grad_cam.utils.image import deprocess_image

from services.cam.errors import ExplainOptionError
from services.cam.explain import METHODS, LayerMap

COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "hot": cv2.COLORMAP_HOT,
}


def colorize(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """H x W values in [0, 1] -> H x W x 3 RGB uint8 through a named colour map."""
    if colormap not in COLORMAPS:
        raise ExplainOptionError(f"Unknown colour map {colormap!r}; choose from {', '.join(COLORMAPS)}.")
    levels = np.array(np.rint(np.clip(heatmap, 0.0, 1.0) * 255), dtype=np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """The coloured heatmap blended over the photo; ``alpha`` is the heatmap's opacity (0 = photo only)."""
    if not 0.0 <= alpha <= 1.0:
        raise ExplainOptionError("The overlay opacity must be between 0 and 1.")
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colorize(heatmap, colormap).astype(np.float32)
    return np.array(np.clip(np.rint(blended), 0, 255), dtype=np.uint8)


def comparable_maps(cells: Sequence[LayerMap]) -> list[np.ndarray]:
    """The maps of one method at several layers on one colour scale (the largest value anywhere becomes 1).

    Per-map min-max scaling makes every layer look equally sure. Here the unscaled maps are compared instead.
    A gradient-based map is a sum of gradient × activation per feature-map cell, and a layer with a finer grid
    splits the same evidence over more cells (each cell's gradient shrinks with the cell's area), so those maps
    are first multiplied by their number of cells: the value becomes evidence per unit of image area.
    """
    densities = []
    for cell in cells:
        factor = cell.grid[0] * cell.grid[1] if METHODS[cell.method].uses_gradients else 1
        densities.append(cell.raw * np.float32(factor))
    top = max((float(d.max()) for d in densities), default=0.0)
    if top <= 0.0:
        return [np.zeros_like(d) for d in densities]
    return [np.array(d / top, dtype=np.float32) for d in densities]


def guided_backprop_image(gradient: np.ndarray) -> np.ndarray:
    """Guided backprop gradient (H x W x 3) as a viewable RGB uint8 image (pytorch-grad-cam's ``deprocess_image``)."""
    return deprocess_image(np.array(gradient, dtype=np.float32))


def guided_gradcam_image(gradient: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """Guided Grad-CAM: the guided backprop gradient masked by a map: sharp and class-discriminative."""
    return deprocess_image(np.array(gradient, dtype=np.float32) * np.array(heatmap, dtype=np.float32)[:, :, None])


@dataclass(frozen=True)
class GridRow:
    label: str
    cells: Sequence[np.ndarray | None]  # RGB uint8 images (None leaves the cell empty)
    notes: Sequence[str] | None = None  # one caption per cell, drawn under it


def compose_grid(rows: Sequence[GridRow], column_labels: Sequence[str], *, cell_size: int = 192,
                 title: str = "") -> np.ndarray:
    """One RGB image of the whole grid (labels across the top and down the left) for the PNG download."""
    if not rows or not column_labels:
        raise ExplainOptionError("There is nothing to draw: choose at least one layer and one method.")
    font_size = max(11, cell_size // 14)
    font = _font(font_size)
    label_width = max(120, int(max(font.getlength(r.label) for r in rows)) + 16)
    line = int(font_size * 1.35)  # not font.size: Pillow's bitmap fallback font has no size
    header = line * (2 if title else 1) + 8
    note_height = line if any(r.notes for r in rows) else 0
    row_height = cell_size + note_height + 6
    width = label_width + len(column_labels) * (cell_size + 6)
    canvas = Image.new("RGB", (width, header + len(rows) * row_height), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((8, 4), title, fill="black", font=font)
    for column, label in enumerate(column_labels):
        draw.text((label_width + column * (cell_size + 6), header - line), _fit(font, label, cell_size),
                  fill="black", font=font)
    for row_index, row in enumerate(rows):
        top = header + row_index * row_height
        draw.text((8, top + cell_size // 2 - line // 2), row.label, fill="black", font=font)
        for column, cell in enumerate(row.cells):
            left = label_width + column * (cell_size + 6)
            if cell is not None:
                canvas.paste(Image.fromarray(_fit_image(cell, cell_size)), (left, top))
            if row.notes and column < len(row.notes) and row.notes[column]:
                draw.text((left, top + cell_size + 2), _fit(font, row.notes[column], cell_size), fill="dimgray",
                          font=font)
    return np.asarray(canvas)


def _fit_image(image: np.ndarray, size: int) -> np.ndarray:
    """Scale to fit a size × size square (aspect kept) on white."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    resized = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    square = np.full((size, size, 3), 255, dtype=np.uint8)
    top, left = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    square[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return square


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _fit(font, text: str, width: int) -> str:
    """``text`` shortened with an ellipsis so it fits ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"
