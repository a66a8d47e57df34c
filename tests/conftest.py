"""Shared test helpers: AppTest entry points for the router and for single pages."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

ROOT = Path(__file__).resolve().parent.parent


def validated_and_sent(figure: go.Figure) -> tuple[dict, dict]:
    """A figure built without validation, validated, next to the JSON the page sends: they must be equal. A
    ``live_figure`` has no template; validating it brings plotly's default back, so neither side keeps one."""
    sent, validated = json.loads(figure.to_json()), json.loads(go.Figure(figure.to_dict()).to_json())
    if sent["layout"].get("template", {}) is None:
        sent["layout"].pop("template"), validated["layout"].pop("template")
    return validated, sent


def app_test(url_path: str | None = None, *, timeout: float = 60) -> AppTest:
    """The whole app through its router, opened on ``url_path`` (the home page when None)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    if url_path is not None:
        # There is no public way (Streamlit 1.67): AppTest.switch_page resolves only *file* pages and raises
        # ValueError for anything else, while our pages are st.Page(callable), keyed by calc_hash(url_path).
        # switch_page itself ends by setting this attribute to the resolved hash; we set the same value.
        # If a Streamlit upgrade renames it, the run falls back to the home page and
        # test_app.test_every_page_renders_through_the_router (which asserts each page's own title) fails.
        assert hasattr(at, "_page_hash"), "AppTest no longer has _page_hash: find its new page switch"
        at._page_hash = calc_hash(url_path)
    return at


def page_test(module: str, *, timeout: float = 60) -> AppTest:
    """One page's ``render()`` alone, for driving its widgets."""
    return AppTest.from_string(f"from views.{module} import render\n\nrender()\n", default_timeout=timeout)


@pytest.fixture(scope="module")
def one_torch_thread():
    """The test machine's cores are shared: one intra-op thread avoids OpenMP oversubscription stalls."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def no_exceptions():
    """Assert helper: an AppTest run produced no exception element."""

    def check(at: AppTest) -> None:
        assert not at.exception, "\n".join(str(e.value) for e in at.exception)

    return check
