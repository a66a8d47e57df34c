"""A shared link must work as the very first request a freshly started server sees."""

from tests.browser.conftest import assert_clean, serve_app, settle


def test_deep_link_to_a_page_on_a_cold_server(page):
    # Regression: with the page modules in a folder named pages/, Streamlit ran the app as a legacy
    # multipage app and answered this first request with a "Page not found" dialog.
    with serve_app("streamlit-cold.log") as url:
        page.goto(f"{url}/knn?k=9")
        settle(page)
        assert_clean(page)
        assert page.get_by_role("heading", name="KNN decision boundaries").count() == 1
