"""Out-of-domain flag (issue 15): off for every bundled photo, on for noise and flat colours."""

import numpy as np
import pytest

from services.cam import explain_layers, load_model
from services.cam.trust import MAX_ENTROPY, domain_check
from services.imaging import SAMPLES, load_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return load_model()


def _check(model, pixels):
    return explain_layers(model, pixels, layers=["_conv_head"]).domain


@pytest.mark.parametrize("name", list(SAMPLES))
def test_bundled_photos_are_in_domain(model, name):
    check = _check(model, load_sample(name).pixels)
    assert not check.out_of_domain, check


@pytest.mark.parametrize("kind", ["uniform noise", "gaussian noise", "flat grey", "flat white", "flat red"])
def test_noise_and_flat_pictures_are_flagged(model, kind):
    rng = np.random.default_rng(0)
    pixels = {"uniform noise": lambda: rng.integers(0, 256, (200, 300, 3), dtype=np.uint8),
              "gaussian noise": lambda: np.uint8(np.clip(rng.normal(128, 40, (200, 300, 3)), 0, 255)),
              "flat grey": lambda: np.full((200, 300, 3), 128, np.uint8),
              "flat white": lambda: np.full((200, 300, 3), 255, np.uint8),
              "flat red": lambda: np.tile(np.uint8([200, 30, 30]), (200, 300, 1))}[kind]()
    check = _check(model, pixels)
    assert check.out_of_domain and "looks unlike the photos" in check.sentence(), check


def test_entropy_and_top_probability_of_known_distributions():
    uniform = domain_check(np.full(1000, 1e-3))
    assert uniform.entropy == pytest.approx(np.log(1000)) and uniform.out_of_domain
    sure = domain_check(np.r_[0.99, np.full(999, 0.01 / 999)])
    assert sure.top_probability == pytest.approx(0.99) and sure.entropy < MAX_ENTROPY and not sure.out_of_domain
