"""Does the picture look like the training data? An out-of-domain check on the prediction.

Out of domain: a network trained on ImageNet photos still answers for a chart, a flat colour or noise, just
with a flat distribution over its 1000 classes. The check uses the maximum softmax probability and the entropy
of the prediction, with thresholds calibrated on EfficientNet-Lite0 (224 px): the 8 bundled photos gave max
probability 0.134–0.950 and entropy 0.39–5.16 nats; generated flat colours (grey, white, red, black) and noise
(uniform, Gaussian) gave max probability 0.001–0.051 and entropy 5.93–6.91 (ln 1000 = 6.91). A chart (0.106,
4.96) and a page of text (0.431, 3.83) are *not* told apart from the harder photos (Hubble deep field 0.134,
5.16): softmax confidence measures how ImageNet-like the evidence is, not what the picture is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Flag a prediction with entropy above this (nats) ...
MAX_ENTROPY = 5.5
#: ... or whose most probable class is below this.
MIN_TOP_PROBABILITY = 0.09


@dataclass(frozen=True)
class DomainCheck:
    top_probability: float
    entropy: float  # nats; ln(1000) = 6.91 is a uniform guess

    @property
    def out_of_domain(self) -> bool:
        return self.entropy > MAX_ENTROPY or self.top_probability < MIN_TOP_PROBABILITY

    def sentence(self) -> str:
        return (f"This picture looks unlike the photos the network was trained on: its most probable class has "
                f"p = {self.top_probability:.3f} and the prediction's entropy is {self.entropy:.2f} nats (a uniform "
                f"guess over 1000 classes is 6.91). Flagged above {MAX_ENTROPY} nats or below p = "
                f"{MIN_TOP_PROBABILITY}; the maps explain a guess.")


def domain_check(probabilities: np.ndarray) -> DomainCheck:
    """The check for one softmax distribution."""
    p = np.asarray(probabilities, dtype=np.float64)
    entropy = float(-(p * np.log(np.clip(p, 1e-300, 1.0))).sum())
    return DomainCheck(float(p.max()), entropy)
