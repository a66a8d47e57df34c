"""Does the picture look like the training data? An out-of-domain check with two independent tests.

A network trained on ImageNet photos still answers for a chart, a flat colour or noise. Two tests, either
one flags the picture:

- **The prediction** (max softmax probability and entropy): noise and flat colours get a flat distribution
  over the 1000 classes. Calibrated on EfficientNet-Lite0 (224 px): the 8 bundled photos gave max probability
  0.136–0.950 and entropy 0.39–5.16 nats; flat colours and noise 0.001–0.051 and 5.93–6.91 (ln 1000 = 6.91).
  It does not catch charts or text: a chart can make the network confident (p 0.32–0.57 for the generated
  ones), because confidence measures how ImageNet-like the evidence is, not what the picture is.
- **The picture** (``flat_share``): the largest fraction of the picture covered by pixels of one exact colour
  whose four neighbours have that same colour. Drawn pictures (charts, text, diagrams, screenshots, flat
  colours) sit on a plain background of one colour value; a photo's sensor noise, texture and shading leave
  almost no pixel exactly equal to all its neighbours. Bundled photos: 0.000–0.096 (astronaut's black sky);
  other scikit-image photos up to 0.169 (retina, a fundus photo on a black mask); generated charts and a text
  page 0.70–0.90 as PNG, 0.52–0.53 after JPEG at quality 75. Threshold 0.3. A scan or a camera shot of a
  page has noise and is not caught (scikit-image's ``page``: 0.015); a photo with a large clipped sky, a
  letterbox or a studio-white background can be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Flag a prediction with entropy above this (nats) ...
MAX_ENTROPY = 5.5
#: ... or whose most probable class is below this ...
MIN_TOP_PROBABILITY = 0.09
#: ... or a picture more than this share of which is one flat colour (``flat_share``).
MAX_FLAT_SHARE = 0.3


@dataclass(frozen=True)
class DomainCheck:
    top_probability: float
    entropy: float  # nats; ln(1000) = 6.91 is a uniform guess
    flat_share: float | None = None  # ``flat_share`` of the picture, when it was given

    @property
    def uncertain(self) -> bool:
        """The prediction test: a flat distribution over the classes."""
        return self.entropy > MAX_ENTROPY or self.top_probability < MIN_TOP_PROBABILITY

    @property
    def drawn(self) -> bool:
        """The picture test: a plain one-colour area as large as a drawing's background."""
        return self.flat_share is not None and self.flat_share > MAX_FLAT_SHARE

    @property
    def out_of_domain(self) -> bool:
        return self.uncertain or self.drawn

    def reasons(self) -> list[str]:
        found = []
        if self.drawn:
            assert self.flat_share is not None
            found.append(f"{self.flat_share:.0%} of it is one flat colour (flagged above {MAX_FLAT_SHARE:.0%}: "
                         "charts, text, drawings and screenshots look like this, photos rarely do)")
        if self.top_probability < MIN_TOP_PROBABILITY:
            found.append(f"its most probable class has only p = {self.top_probability:.3f} (flagged below "
                         f"{MIN_TOP_PROBABILITY})")
        if self.entropy > MAX_ENTROPY:
            found.append(f"the prediction's entropy is {self.entropy:.2f} nats (flagged above {MAX_ENTROPY}; a "
                         "uniform guess over 1000 classes is 6.91)")
        return found

    def sentence(self) -> str:
        return ("This picture looks unlike the photos the network was trained on: " + "; ".join(self.reasons())
                + ". The network still names a class, so the maps below explain a guess.")


def flat_share(pixels: np.ndarray) -> float:
    """The largest share of the picture made of pixels that have one exact colour and the same colour at all
    four neighbours (edges repeat outwards): 1 for a flat picture, about 0 for a photo or for noise."""
    p = np.asarray(pixels)
    if p.ndim == 3:
        p = p.astype(np.int32)
        packed = (p[..., 0] << 16) | (p[..., 1] << 8) | p[..., 2]
    else:
        packed = p.astype(np.int32)
    padded = np.pad(packed, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    flat = ((centre == padded[:-2, 1:-1]) & (centre == padded[2:, 1:-1])
            & (centre == padded[1:-1, :-2]) & (centre == padded[1:-1, 2:]))
    colours = centre[flat]
    if colours.size == 0:
        return 0.0
    return float(np.unique(colours, return_counts=True)[1].max() / packed.size)


def domain_check(probabilities: np.ndarray, pixels: np.ndarray | None = None) -> DomainCheck:
    """The check for one softmax distribution and, when given, the picture the network saw (before resizing)."""
    p = np.asarray(probabilities, dtype=np.float64)
    entropy = float(-(p * np.log(np.clip(p, 1e-300, 1.0))).sum())
    return DomainCheck(float(p.max()), entropy, None if pixels is None else flat_share(pixels))
