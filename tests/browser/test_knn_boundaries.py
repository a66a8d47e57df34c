"""The KNN page in headless Chromium: move K with the keyboard, click the plot to explain and to add a point."""

import re

from tests.browser.conftest import assert_clean, screenshot, settle


def _open(page, app_url: str) -> None:
    page.goto(f"{app_url}/knn?k=7")
    settle(page)
    assert_clean(page)


def _metric(page, label: str) -> str:
    block = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return block.locator('[data-testid="stMetricValue"]').inner_text()


def _click_plot(page, fx: float, fy: float) -> None:
    plot = page.locator('[data-testid="stPlotlyChart"]').first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x, y)
    page.wait_for_timeout(500)
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    settle(page)


def test_k_slider_and_click_to_explain(page, app_url):
    page.set_viewport_size({"width": 1440, "height": 1400})
    _open(page, app_url)
    ties_at_7 = _metric(page, "Tied grid cells")
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="K (neighbours)").get_by_role("slider")
    thumb.focus()
    for _ in range(8):
        thumb.press("ArrowRight")
    settle(page)
    assert_clean(page)
    assert re.search(r"[?&]k=15\b", page.url)
    assert _metric(page, "Tied grid cells") != ties_at_7

    _click_plot(page, 0.45, 0.45)
    assert_clean(page)
    assert "The 15 nearest training points vote" in page.inner_text("body")
    screenshot(page, "knn-k15-explained")


def test_click_adds_a_training_point(page, app_url):
    _open(page, app_url)
    assert _metric(page, "Training / test points") == "100 / 50"
    page.get_by_text("add a training point there").click()
    settle(page)
    _click_plot(page, 0.7, 0.3)
    assert_clean(page)
    assert _metric(page, "Training / test points") == "101 / 50"
    screenshot(page, "knn-point-added")
