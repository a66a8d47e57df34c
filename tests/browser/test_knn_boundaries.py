"""The KNN page in headless Chromium: move K with the keyboard, click the plot to explain and to add a point."""

import re

import numpy as np
import pandas as pd
import pytest

from tests.browser.conftest import PLOTLY_DRAWS, assert_clean, plotly_draws, screenshot, settle


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


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``, as a person does: open it, click the entry."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def _k_value(page) -> int:
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="K (neighbours)").get_by_role("slider")
    return int(thumb.input_value())


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Synthetic: two moons", "Synthetic: circles"),
        ("Wine (pick 2 of 13 features)", "Iris (pick 2 of 4 features)"),
        ("Breast cancer (2 features or PCA)", "Wine (pick 2 of 13 features)"),
        ("Synthetic: blobs", "Synthetic: XOR"),
        ("Synthetic: two moons", "Breast cancer (2 features or PCA)"),
    ],
)
def test_second_dataset_change_keeps_the_page_working(page, app_url, first, second):
    # Regression (issue 17, defect 1): the browser sent back the class selectbox's label for a class that the
    # new dataset lacks, and the page crashed comparing it with a class code.
    _open(page, app_url)
    _choose(page, "Dataset", first)
    assert_clean(page)
    _choose(page, "Dataset", second)
    assert_clean(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    assert "Training / test points" in page.inner_text("body")


def test_k_survives_a_dataset_change_and_is_clamped_with_a_message(page, app_url):
    # Regression (issue 17, defect 2): K went back to 1 whenever the number of training points changed.
    page.goto(f"{app_url}/knn?k=15")
    settle(page)
    _choose(page, "Dataset", "Wine (pick 2 of 13 features)")
    assert_clean(page)
    assert _k_value(page) == 15
    assert re.search(r"[?&]k=15\b", page.url)
    page.goto(f"{app_url}/knn?data=wine&k=110")
    settle(page)
    assert _k_value(page) == 110
    _choose(page, "Dataset", "Iris (pick 2 of 4 features)")
    assert_clean(page)
    assert _k_value(page) == 100
    assert "K was set to 100" in page.inner_text("body")


def test_k_survives_the_first_added_point(page, app_url):
    page.goto(f"{app_url}/knn?k=15")
    settle(page)
    page.get_by_text("add a training point there").click()
    settle(page)
    _click_plot(page, 0.7, 0.3)
    assert_clean(page)
    assert _metric(page, "Training / test points") == "101 / 50"
    assert _k_value(page) == 15


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    settle(page)
    assert_clean(page)


def _chart_data(page, index: int) -> list:
    """The plotly traces of the ``index``-th chart on the page, as plotly.js holds them."""
    charts = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
    return charts.nth(index).evaluate(
        "gd => gd._fullData.map(t => ({name: t.name, y: Array.from(t.y || []), color: t.line && t.line.color}))"
    )


def test_learning_curve_caption_agrees_with_its_chart(page, app_url):
    # Regression (issue 17, defect 8): the caption said K = 1 fits the training set while the chart showed
    # 0.05; iris's sepal plane has points of different species at the same coordinates.
    _open(page, app_url)
    _open_tab(page, "Learning curve")
    panel = page.get_by_role("tabpanel").filter(has_text="Training error")
    traces = _chart_data(panel, 0)
    train, test = traces[0], traces[1]
    at_one = train["y"][0]
    caption = panel.locator('[data-testid="stCaptionContainer"]').filter(has_text="Training error").inner_text()
    if at_one > 0:
        assert "K = 1 fits the training set." not in caption
        assert f"{at_one:.3f}" in caption and "share their exact coordinates" in caption
    assert train["color"] != test["color"]
    assert {train["color"], test["color"]} <= {"#0072B2", "#D55E00"}  # Okabe-Ito: colour-blind safe


def test_cv_band_stays_within_zero_and_one(page, app_url):
    page.goto(f"{app_url}/knn?data=moons&noise=0.05&k=7")  # near-zero errors: mean - s.d. would go below 0
    settle(page)
    assert_clean(page)
    panel = page.get_by_role("tabpanel").filter(has_text="Best K")
    band = _chart_data(panel, 0)[0]
    assert band["name"].startswith("± 1 s.d.")
    assert min(band["y"]) >= 0 and max(band["y"]) <= 1
    if "clipped" in band["name"]:
        assert "clipped to 0–1" in panel.inner_text()


def test_moving_k_sends_little_and_only_the_board(page, app_url):
    # Issue 17: every K step re-sent ~730 KB (the whole page, a 300x300 float heatmap in JSON).
    _open(page, app_url)
    received = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(len(frame))))
    page.reload()
    settle(page)
    received.clear()
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="K (neighbours)").get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")
    settle(page)
    assert_clean(page)
    assert _k_value(page) == 8
    sent = sum(received)
    print(f"bytes received for one K step: {sent}")
    assert 0 < sent < 150_000, sent


def test_a_k_step_draws_the_boundary_once(page, app_url):
    """Issue 17: each K step drew the new boundary twice in the browser (Streamlit hands a new chart a copy
    of its figure, and plotly took the template, typed arrays, title and width as changed and drew it all
    again): half the time between the answer and the painted page."""
    page.context.add_init_script(PLOTLY_DRAWS)
    _open(page, app_url)
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="K (neighbours)").get_by_role("slider")
    thumb.focus()
    axis = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.xaxis.title.text")
    for expected_k in (8, 9):
        plotly_draws(page)
        thumb.press("ArrowRight")
        settle(page)
        assert _k_value(page) == expected_k
        drawn = plotly_draws(page)
        assert drawn.count(axis) == 1, drawn


def test_the_boundary_table_is_built_when_its_download_is_pressed(page, app_url):
    """The grid-cell CSV is built only on the click (not on every K step): it still holds every cell of the
    grid the caption names, each cell's class and probabilities."""
    _open(page, app_url)
    side = int(re.search(r"Grid (\d+)×\1", page.inner_text("body")).group(1))
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download data (CSV)").first.click()
    assert download.value.suggested_filename == "knn-boundary-k7.csv"
    table = pd.read_csv(download.value.path())
    probabilities = [column for column in table.columns if column.startswith("P(")]
    assert len(table) == side * side and table.columns[2] == "predicted class" and len(probabilities) == 3
    assert np.allclose(table[probabilities].sum(axis=1), 1.0, atol=1e-9)
    assert set(table["predicted class"]) <= {name.removeprefix("P(").removesuffix(")") for name in probabilities}
