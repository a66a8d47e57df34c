"""Browser monkey test: seeded random interactions on every page; any exception box or traceback fails it.

Each page gets a share of a fixed time budget (``MONKEY_SECONDS``, 80 s in all by default) and at least a few
steps; a step is one of: pick a random option of a select box, move a slider by a few keys, flip a toggle or
checkbox, pick a radio option, press a button, click inside a plot or the map, or upload a small generated
file where the page has an uploader. The seed (``MONKEY_SEED``) and every step are printed, so a failure can
be replayed.
"""

from __future__ import annotations

import io
import os
import random
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import assert_clean, screenshot

PAGES = ["map", "knn", "gradcam", "affine"]
BUDGET_S = float(os.environ.get("MONKEY_SECONDS", "80"))
SEED = int(os.environ.get("MONKEY_SEED", "20261201"))
MIN_STEPS = 3
#: Buttons a monkey must not press: they start long, opt-in work (benchmarks, slow CAM methods).
AVOID_BUTTONS = ("Run benchmark", "Run Score", "Run Ablation", "Deploy")


def _idle(tab, timeout_s: float = 60) -> None:
    """Wait for the script to finish (no running indicator) and the page to stop changing for 0.5 s."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet = None
    while time.monotonic() < deadline:
        busy = tab.locator('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').count() > 0
        if busy:
            quiet = None
        elif quiet is None:
            quiet = time.monotonic()
        elif time.monotonic() - quiet > 0.5:
            return
        time.sleep(0.1)


def _visible(locator) -> list:
    return [locator.nth(i) for i in range(min(locator.count(), 40)) if locator.nth(i).is_visible()]


def _png(rng: random.Random) -> bytes:
    pixels = np.random.default_rng(rng.randrange(2**32)).integers(0, 255, (rng.randint(16, 96), 64, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _csv(rng: random.Random) -> bytes:
    rows = ["x,y,label", *(f"{rng.uniform(-3, 3):.3f},{rng.uniform(-3, 3):.3f},{rng.choice('ab')}" for _ in range(40))]
    return "\n".join(rows).encode()


def _select(tab, rng):
    boxes = _visible(tab.locator('[data-testid="stSelectbox"]'))
    if not boxes:
        return None
    box = rng.choice(boxes)
    box.click()
    options = tab.locator('[role="option"]')
    options.first.wait_for(timeout=5000)
    option = options.nth(rng.randrange(min(options.count(), 30)))
    text = option.inner_text()
    option.click()
    return f"select {text!r}"


def _slide(tab, rng):
    thumbs = _visible(tab.locator('[data-testid="stSlider"] [role="slider"]'))
    if not thumbs:
        return None
    thumb = rng.choice(thumbs)
    key = rng.choice(["ArrowRight", "ArrowLeft"])
    presses = rng.randint(1, 4)
    thumb.focus()
    for _ in range(presses):
        thumb.press(key)
    return f"slider {thumb.get_attribute('aria-valuenow')} {key}×{presses}"


def _flip(tab, rng):
    switches = _visible(tab.locator('[data-testid="stCheckbox"] label, [data-testid="stToggle"] label'))
    if not switches:
        return None
    switch = rng.choice(switches)
    text = switch.inner_text()[:40]
    switch.click()
    return f"flip {text!r}"


def _radio(tab, rng):
    choices = _visible(tab.locator('[data-testid="stRadio"] label'))
    if not choices:
        return None
    choice = rng.choice(choices)
    text = choice.inner_text()[:40]
    choice.click()
    return f"radio {text!r}"


def _press(tab, rng):
    buttons = [b for b in _visible(tab.locator('[data-testid="stButton"] button'))
               if b.is_enabled() and not any(word in b.inner_text() for word in AVOID_BUTTONS)]
    if not buttons:
        return None
    button = rng.choice(buttons)
    text = button.inner_text()[:40]
    button.click()
    return f"button {text!r}"


def _click_figure(tab, rng):
    targets = _visible(tab.locator('[data-testid="stPlotlyChart"], iframe[title="streamlit_folium.st_folium"]'))
    if not targets:
        return None
    target = rng.choice(targets)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    if not box or box["width"] < 50 or box["height"] < 50:
        return None
    fx, fy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    tab.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    return f"click figure at ({fx:.2f}, {fy:.2f})"


def _upload(tab, rng):
    inputs = tab.locator('[data-testid="stFileUploader"] input[type="file"]')
    if inputs.count() == 0:
        uploads = _visible(tab.locator('[data-testid="stRadio"] label').filter(has_text="Upload"))
        if uploads:
            uploads[0].click()
            return "radio 'Upload'"
        return None
    field = inputs.nth(rng.randrange(inputs.count()))
    accept = (field.get_attribute("accept") or "").lower()
    if ".csv" in accept or "csv" in accept or ".geojson" in accept:
        payload = {"name": "monkey.csv", "mimeType": "text/csv", "buffer": _csv(rng)}
    else:
        payload = {"name": "monkey.png", "mimeType": "image/png", "buffer": _png(rng)}
    field.set_input_files(payload)
    return f"upload {payload['name']}"


ACTIONS = [_select, _slide, _flip, _radio, _press, _click_figure, _upload]
WEIGHTS = [3, 3, 2, 2, 1, 2, 1]


@pytest.mark.slow
@pytest.mark.parametrize("path", PAGES)
def test_random_interactions_never_show_an_exception(page, app_url, path):
    rng = random.Random(f"{SEED}-{path}")
    page.set_viewport_size({"width": 1440, "height": 1200})
    page.goto(f"{app_url}/{path}")
    # the page's first widgets, not just the app shell: before the first script run nothing is "running" yet
    page.wait_for_selector('[data-testid="stSelectbox"], [data-testid="stSlider"], [data-testid="stRadio"]',
                           timeout=180_000)
    _idle(page, timeout_s=180)
    assert_clean(page)
    deadline = time.monotonic() + BUDGET_S / len(PAGES)
    steps: list[str] = []
    attempts = 0
    while time.monotonic() < deadline or len(steps) < MIN_STEPS:
        action = rng.choices(ACTIONS, WEIGHTS)[0]
        attempts += 1
        assert attempts < 200, f"/{path}: nothing to interact with ({steps})"
        try:
            done = action(page, rng)
        except PlaywrightError:  # a widget that moved or closed under the monkey is not a defect
            page.keyboard.press("Escape")
            done = None
        if done is None:
            continue
        steps.append(done)
        print(f"/{path} step {len(steps)}: {done}", flush=True)
        _idle(page)
        try:
            assert_clean(page)
        except AssertionError as error:
            screenshot(page, f"monkey-{path}-failure")
            raise AssertionError(f"/{path} after steps (seed {SEED}): {steps}\n{error}") from None
        if len(steps) >= 60:
            break
