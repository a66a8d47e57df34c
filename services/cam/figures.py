"""What the Grad-CAM page shows, built from an explanation and the display choices: the grid's pictures and
captions, the downloadable grid image, and the sentences around them. The page only places these."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from services.cam.explain import METHODS, Explanation
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
from services.cam.road import RoadScores
from services.cam.sanity import PASS_BELOW, SanityCheck
from services.cam.trust import MAX_ENTROPY, MAX_FLAT_SHARE, MIN_TOP_PROBABILITY

# --- the page's explanatory text ---------------------------------------------------------------------------
HOW_IT_WORKS = r"""
**Grad-CAM** (Selvaraju et al.) asks which places in a layer's feature maps $A^k$ raised the score $y^c$ of
class $c$. Each channel gets the mean of its gradient, $\alpha_k = \frac{1}{hw}\sum_{ij}\partial y^c/\partial A^k_{ij}$,
and the map is $\mathrm{ReLU}(\sum_k \alpha_k A^k)$, upsampled to the picture. Early layers have fine grids
but little class knowledge; the last layers know the class but see the picture through a coarse 7 × 7 grid.

**One pass for every layer.** All chosen layers are hooked at once; one forward pass records their outputs
and one `torch.autograd.grad` call returns the gradient at all of them. Each map is then computed by
pytorch-grad-cam's own code for that method, so it equals pytorch-grad-cam run on that layer alone (tested to
1e-5), at a fraction of the cost of one pytorch-grad-cam object per layer.

**Methods.** Grad-CAM++, XGrad-CAM, HiResCAM, LayerCAM and EigenGrad-CAM reweight gradient × activation
differently; EigenCAM uses no gradient at all (the first principal component, class-agnostic). Score-CAM and
Ablation-CAM need one forward pass *per feature channel* (1280 at EfficientNet's head), so they are slow on a
CPU: the page estimates the time first, and you can shrink the input, the batch or the channels tried.

**Guided backprop** passes only positive gradients back through every ReLU, giving a sharp but
class-insensitive picture; multiplied by a CAM map it becomes **guided Grad-CAM**. It runs on a separate copy
of the network, so the shared model is never altered.

**Shared colour scale.** Each map is normally stretched to its own 0…1, which makes a weak early layer look
as confident as the last one. With the shared scale, one method's maps keep their real magnitudes: a
gradient map's cell holds gradient × activation for its patch, so it is multiplied by the number of cells to
become evidence per unit of image area, then all layers are divided by the same maximum.

**Faithfulness** (pytorch-grad-cam's `CamMultImageConfidenceChange`): the network sees the picture multiplied
by the map, and Δp is the change of the target class probability. Near 0 or positive: the map kept what the
decision rests on. Strongly negative: the evidence was outside the highlighted area.

**Out of domain.** A network trained on photos still names a class for a chart, a flat colour or noise, so
the page runs two tests and warns above the grid when either fires. *The prediction*: entropy above
{MAX_ENTROPY} nats (6.91 is a uniform guess) or top probability below {MIN_TOP_PROBABILITY}; on
EfficientNet-Lite0 the bundled photos gave 0.39–5.16 nats and p 0.136–0.950, flat colours and noise
5.93–6.91 nats and p ≤ 0.051. It misses charts and text, which can make the network confident (p up to
0.57), and fires on some close-up textures (scikit-image's grass and gravel photos).
*The picture*: the flat share, the largest part of the picture made of pixels of one exact colour whose four
neighbours have the same colour. Drawn pictures (charts, text, diagrams, screenshots) sit on a plain
background; in a photo, sensor noise and texture leave almost no pixel equal to all its neighbours. Flagged
above {MAX_FLAT_SHARE:.0%}: the bundled photos have at most 10% (the astronaut's black sky), other
scikit-image photos at most 17% (a retina on its black mask); generated charts and a text page 70–90%, still
52–53% after JPEG compression. A photo or scan *of* a page is not caught (its noise breaks the flat area), and a
photo with a large clipped sky, black bars or a studio-white background can be flagged.
""".replace("{MAX_ENTROPY}", f"{MAX_ENTROPY}").replace("{MIN_TOP_PROBABILITY}", f"{MIN_TOP_PROBABILITY}").replace(
    "{MAX_FLAT_SHARE:.0%}", f"{MAX_FLAT_SHARE:.0%}")

ROAD_INTRO = (
    "ROAD (Rong et al. 2022, pytorch-grad-cam's `ROADCombined`) removes the most relevant pixels, and separately "
    "the least relevant, filling them in by noisy linear imputation, and compares the target's probability: "
    "(LeRF − MoRF) / 2, higher is more faithful. The same score for random channel weights (RandomCAM) and for "
    "an edge map (Sobel) says what chance gets on this picture."
)

#: Under the grid while the faithfulness scores are off (their default: one extra forward pass per cell made a
#: target change ~0.5 s slower on 2 cores, most of its time).
FAITHFULNESS_OFF = (
    "Faithfulness (Δp per cell: how the target's probability changes when the picture is multiplied by the map) "
    "is off: turn it on under *Options* (one extra forward pass per cell)."
)

SANITY_INTRO = (
    "Adebayo et al. (2018) showed that some saliency maps look right and mean nothing. Here a copy of the network "
    "gets random weights from the classifier head down, one stage further each step, and every map is compared "
    "with the original (Spearman rank correlation; SSIM in the CSV). A map that **passes** falls apart; one that "
    "**fails** stays similar, so it shows the picture more than the network."
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


def column_labels(explanation: Explanation) -> tuple[str, ...]:
    spec = MODELS[explanation.model]
    return tuple(spec.layer_label(layer) for layer in explanation.layers)


def _short_labels(explanation: Explanation) -> list[str]:
    """"stage 3" (or a ResNet layer's own name): what each cell's caption says."""
    return [label.split(" · ")[0] for label in column_labels(explanation)]


def method_rows(explanation: Explanation, display: DisplayOptions) -> list[GridRow]:
    """One row of overlays (or heatmaps) per method. Each caption names its layer (the row label names the
    method), so the grid still reads when a narrow screen stacks its columns."""
    rows = []
    for method in explanation.methods:
        cells = [explanation.map(method, layer) for layer in explanation.layers]
        maps = comparable_maps(cells) if display.shared_scale else [cell.heatmap for cell in cells]
        pictures = [colorize(m, display.colormap) if display.heatmap_only
                    else overlay(explanation.image, m, alpha=display.alpha, colormap=display.colormap) for m in maps]
        rows.append(GridRow(METHODS[method].title, pictures, _short_labels(explanation)))
    return rows


def guided_rows(explanation: Explanation, display: DisplayOptions) -> list[GridRow]:
    """Guided backprop × each method's maps, one row per method (none without guided backprop)."""
    guided = explanation.guided_backprop
    if guided is None or not display.guided_rows:
        return []
    return [GridRow(f"Guided {METHODS[method].title}",
                    [guided_gradcam_image(guided, explanation.map(method, layer).heatmap)
                     for layer in explanation.layers], _short_labels(explanation))
            for method in explanation.methods]


#: Longest side of a grid cell as sent to the browser. A cell is shown about 110 px wide in the 8-column grid on
#: a laptop or projector and at most ~360 px on a phone that stacks the columns; the 640 px working picture at
#: quality 100 was 150-250 kB a cell (3 MB a view), sent and decoded on every change of picture, class or display.
CELL_SIDE_PX = 384
#: The input and guided backprop pictures sit four to a row: shown larger, sent larger.
SIDE_PICTURE_PX = 512
#: JPEG quality of the pictures shown (downloads stay lossless PNG).
DISPLAY_QUALITY = 90


@dataclass(frozen=True)
class EncodedRow:
    """A grid row ready to send: every cell JPEG-encoded once at display size, so sessions showing the same
    explanation share the bytes instead of encoding them on every rerun (``st.image`` sends JPEG bytes as they
    are)."""

    label: str
    cells: tuple[bytes | None, ...]
    notes: Sequence[str] | None = None


def display_jpeg(picture: np.ndarray, max_side: int = CELL_SIDE_PX, quality: int = DISPLAY_QUALITY) -> bytes:
    """``picture`` as JPEG, shrunk (area-averaged, aspect kept) to at most ``max_side`` pixels a side."""
    image = Image.fromarray(np.asarray(picture, dtype=np.uint8))
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encoded_rows(rows: Sequence[GridRow], max_side: int = CELL_SIDE_PX) -> list[EncodedRow]:
    """``rows`` with each picture as display-sized JPEG bytes (:func:`display_jpeg`)."""
    return [EncodedRow(row.label, tuple(None if cell is None else display_jpeg(cell, max_side) for cell in row.cells),
                       row.notes) for row in rows]


def side_pictures(explanation: Explanation, display: DisplayOptions) -> list[tuple[str, np.ndarray]]:
    """(caption, picture): the input, and the guided backprop gradient when it was computed and is shown."""
    pictures = [("Input", explanation.image)]
    if explanation.guided_backprop is not None and display.guided_backprop:
        pictures.append(("Guided backprop (same for every layer)", guided_backprop_image(explanation.guided_backprop)))
    return pictures


def faithfulness_table(explanation: Explanation) -> str | None:
    """Δp of every cell as a markdown table (methods down, layers across), or None when nothing was scored."""
    if not any(cell.faithfulness is not None for cell in explanation.maps.values()):
        return None
    header = "| Δp | " + " | ".join(_short_labels(explanation)) + " |"
    rule = "|---|" + "---:|" * len(explanation.layers)
    lines = [header, rule]
    for method in explanation.methods:
        scores = [explanation.map(method, layer).faithfulness for layer in explanation.layers]
        lines.append(f"| {METHODS[method].title} | " + " | ".join(
            "–" if score is None else f"{score:+.2f}" for score in scores) + " |")
    return "\n".join(lines)


def grid_image(explanation: Explanation, rows: list[GridRow]) -> np.ndarray:
    """The whole grid as one RGB picture, titled with the model and the class, Δp under each method's cells,
    for the PNG download."""
    spec = MODELS[explanation.model]
    titles = {METHODS[m].title: m for m in explanation.methods}
    drawn = []
    for row in rows:
        method = titles.get(row.label)
        notes = None
        if method is not None:
            scores = [explanation.map(method, layer).faithfulness for layer in explanation.layers]
            notes = [f"Δp {score:+.2f}" if score is not None else "" for score in scores]
        drawn.append(GridRow(row.label, row.cells, notes))
    return compose_grid(drawn, column_labels(explanation), cell_size=GRID_CELL_PX,
                        title=f"{spec.title}: {explanation.target.label} (p = {explanation.target.probability:.2f})")


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
    best = max(scored, key=lambda cell: cast(float, cell.faithfulness))  # None filtered out above
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


def sanity_table(check: SanityCheck) -> pd.DataFrame:
    """One row per randomisation step and map: the data behind ``sanity_figure`` (CSV download)."""
    rows = []
    for depth, step in enumerate(check.steps, start=1):
        for (method, layer), value in step.spearman.items():
            rows.append({"step": depth, "randomised from": step.randomised_from, "map": f"{METHODS[method].title} "
                         f"@ {layer}", "spearman": value, "ssim": step.ssim[(method, layer)]})
        if step.guided_spearman is not None:
            rows.append({"step": depth, "randomised from": step.randomised_from, "map": "guided backprop",
                         "spearman": step.guided_spearman, "ssim": np.nan})
    return pd.DataFrame(rows)


def sanity_figure(check: SanityCheck) -> go.Figure:
    """Rank correlation with the original map against randomisation depth, one line per map."""
    table = sanity_table(check)
    steps = [step.randomised_from for step in check.steps]
    figure = go.Figure()
    for name, group in table.groupby("map", sort=False):
        figure.add_trace(go.Scatter(x=[steps[i - 1] for i in group["step"]], y=group["spearman"], name=name,
                                    mode="lines+markers",
                                    line={"dash": "dot", "color": "black"} if name == "guided backprop" else None))
    figure.add_hline(y=PASS_BELOW, line={"dash": "dash", "color": "gray"}, annotation_text="pass below")
    figure.update_layout(title="Similarity to the original map as the weights are randomised from the head down",
                         xaxis_title="randomised from (cumulative)", yaxis_title="Spearman rank correlation",
                         yaxis_range=[-1, 1.05], height=420, margin={"t": 60, "b": 40})
    return figure


def road_table(explanation: Explanation, scores: RoadScores) -> str:
    """ROAD per cell as a markdown table; ✗ marks a cell that does not beat both baselines."""
    lines = ["| ROAD | " + " | ".join(_short_labels(explanation)) + " |", "|---|" + "---:|" * len(explanation.layers)]
    for method in explanation.methods:
        cells = []
        for layer in explanation.layers:
            key = (method, layer)
            cells.append(f"{scores.cells[key]:+.3f}" + ("" if scores.beats_baselines(key) else " ✗"))
        lines.append(f"| {METHODS[method].title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def road_summary(explanation: Explanation, scores: RoadScores) -> str:
    method, layer = scores.best
    beaten = sum(not scores.beats_baselines(key) for key in scores.cells)
    return (f"Baselines on the same picture: RandomCAM {scores.random_baseline:+.3f}, Sobel edges "
            f"{scores.sobel_baseline:+.3f}. Most faithful cell by ROAD: **{METHODS[method].title}** at "
            f"**{MODELS[explanation.model].layer_label(layer)}** ({scores.cells[scores.best]:+.3f}). "
            f"{beaten} of {len(scores.cells)} cells (✗) do not beat both baselines. Percentiles "
            f"{', '.join(map(str, scores.percentiles))}; {scores.seconds:.1f} s.")


def matched_layers(first: str, layers: Sequence[str], second: str) -> tuple[str, ...]:
    """For each of ``layers`` of model ``first``, the layer of model ``second`` at the nearest relative depth
    (0 = first stage, 1 = last), so two networks of different depth are compared stage for stage."""
    mine, theirs = MODELS[first].layers, MODELS[second].layers
    chosen = []
    for layer in layers:
        depth = mine.index(layer) / max(1, len(mine) - 1)
        chosen.append(theirs[round(depth * (len(theirs) - 1))])
    return tuple(dict.fromkeys(chosen))


def predictions_line(explanation: Explanation) -> str:
    return " · ".join(f"{p.label} {p.probability:.1%}" for p in explanation.predictions)
