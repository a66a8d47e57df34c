"""The spatial-transformer page in headless Chromium: train with a tiny budget, watch it finish, stop another run.

Streamlit scrolls inside its main block, so a full-page screenshot holds only the first screen; the panels
further down are shot one by one after scrolling to them, at 1440 x 1000 and at 1280 x 720.
"""

import re

from tests.browser.conftest import assert_clean, screenshot, settle

TINY = "copies=1&test=0.5"
TRAINING_TIMEOUT_MS = 240_000


def _open(tab, app_url, query):
    tab.goto(f"{app_url}/stn?{query}")
    settle(tab)
    assert_clean(tab)
    assert tab.get_by_role("heading", name="Spatial transformer, live").count() == 1


def _shot_at(tab, heading: str, name: str) -> None:
    """Scroll ``heading`` to the top of the view and save the visible screen as ``name``."""
    tab.get_by_role("heading", name=heading, exact=True).first.evaluate(
        "element => element.scrollIntoView({block: 'start'})"
    )
    tab.wait_for_timeout(600)
    screenshot(tab, name)


def test_train_with_a_tiny_budget_and_look_inside(page, app_url):
    _open(page, app_url, f"{TINY}&epochs=2")
    assert page.get_by_text("Not trained yet with these settings").count() == 1
    page.set_viewport_size({"width": 1280, "height": 720})
    screenshot(page, "stn_before_training_1280x720")
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.get_by_role("button", name="Train both models").click()
    page.get_by_text("Trained: 2 epochs").wait_for(timeout=TRAINING_TIMEOUT_MS)
    settle(page)
    assert_clean(page)
    assert page.get_by_text("reproduces the transformer's").count() == 1
    assert page.get_by_role("heading", name="Looking inside").count() == 1
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 7
    screenshot(page, "stn_trained")
    for heading, name in (("Looking inside", "stn_inside_before_after"), ("One digit's learned θ", "stn_inside_theta"),
                          ("Does it undo the rotation?", "stn_inside_angles"),
                          ("Confusion matrices (test set)", "stn_inside_confusion")):
        _shot_at(page, heading, name)
    page.set_viewport_size({"width": 1280, "height": 720})
    _shot_at(page, "Training", "stn_trained_1280x720")
    _shot_at(page, "One digit's learned θ", "stn_inside_theta_1280x720")


def test_stop_keeps_the_partial_model(page, app_url):
    """The longest run the page allows, stopped once an epoch is on the board: a tiny epoch takes under a
    second here, so the stop waits for the board's epoch count, which stays, not the passing status line."""
    _open(page, app_url, f"{TINY}&epochs=40&seed=11")
    page.get_by_role("button", name="Train both models").click()
    epochs = page.locator('[data-testid="stMetric"]').filter(has_text="Epochs")
    epochs.filter(has_text=re.compile(r"[1-9]\d* / 40")).wait_for(timeout=TRAINING_TIMEOUT_MS)
    page.get_by_role("button", name="Stop training").click()
    page.get_by_text("Stopped after").wait_for(timeout=TRAINING_TIMEOUT_MS)
    settle(page)
    assert_clean(page)
    assert page.get_by_text("The partial pair, after").count() == 1
    screenshot(page, "stn_stopped")
