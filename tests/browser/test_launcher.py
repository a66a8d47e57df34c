"""The app as `make run` serves it: scripts/serve.py's replica, whose first script run starts the warm-up thread.

The other browser tests use a bare `streamlit run` (no warm-up); this one covers what only the launcher does.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from scripts.serve import cluster
from tests.browser.conftest import assert_clean, settle

FOLIUM_FRONTEND = "/component/streamlit_folium.st_folium/index.html"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_map_draws_on_a_warmed_up_launcher_server(browser):
    """The warm-up thread once imported the page modules itself; streamlit-folium then registered its frontend
    outside a script run, the server answered 404 for it, and the map never drew (Streamlit's "trouble
    loading the component" after 60 s) for every visitor of `make run`."""
    with cluster(1) as running:
        assert _status(running.url + FOLIUM_FRONTEND) == 200
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            tab = context.new_page()
            tab.goto(f"{running.url}/map")
            settle(tab)
            leaflet = tab.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator(
                "#map_div.leaflet-container")
            leaflet.wait_for(timeout=60_000)
            assert_clean(tab)
        finally:
            context.close()
        assert "Traceback" not in running.logs()
