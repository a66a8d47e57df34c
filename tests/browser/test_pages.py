"""Every page opens in headless Chromium, settles with no exception, and leaves a screenshot."""

import pytest

from tests.browser.conftest import PLOTLY_DRAWS, assert_clean, plotly_draws, screenshot, settle
from views.catalog import tool_pages

PAGE_PATHS = ["", *(info.url_path for info in tool_pages())]


@pytest.mark.parametrize("url_path", PAGE_PATHS, ids=[p or "home" for p in PAGE_PATHS])
def test_page_opens_cleanly(page, app_url, url_path):
    page.goto(f"{app_url}/{url_path}")
    settle(page)
    assert_clean(page)
    assert page.locator("h1").count() >= 1
    screenshot(page, url_path or "home")


def test_home_links_to_every_page(page, app_url):
    page.goto(app_url)
    settle(page)
    body = page.inner_text("body")
    assert "Explorable ML" in body
    for info in tool_pages():
        assert page.get_by_role("link", name=f"Open {info.title}").count() == 1


@pytest.mark.parametrize(("url_path", "charts"), [
    ("knn", ["sepal length (cm)", "number of neighbours K"]),
    ("affine", ["column (px)", "column"]),
])
def test_opening_a_page_draws_each_chart_once(page, app_url, url_path, charts):
    """Issue 17: on opening, Streamlit hands every new chart a copy of its figure, and plotly drew it all again
    (the CV curve twice, the bilinear explainer three times, with its auto margins); live figures draw once."""
    page.context.add_init_script(PLOTLY_DRAWS)
    page.goto(f"{app_url}/{url_path}")
    settle(page)
    assert_clean(page)
    drawn = plotly_draws(page)
    assert {axis: drawn.count(axis) for axis in charts} == dict.fromkeys(charts, 1), drawn
