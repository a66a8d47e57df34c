"""The router runs, the home page lists every tool page, and every registered page renders cleanly."""

import pytest

from tests.conftest import app_test
from views.catalog import tool_pages

PAGES = tool_pages()


def test_home_page_renders_with_a_card_per_page(no_exceptions):
    at = app_test().run()
    no_exceptions(at)
    assert at.title[0].value == "Explorable ML"
    card_titles = [sub.value for sub in at.subheader]
    for info in PAGES:
        assert any(info.title in title for title in card_titles)


def test_services_never_import_streamlit():
    from tests.conftest import ROOT

    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "services").rglob("*.py")
        if "import streamlit" in path.read_text() or "from streamlit" in path.read_text()
    ]
    assert offenders == []


@pytest.mark.parametrize("info", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_renders_through_the_router(info, no_exceptions):
    at = app_test(info.url_path, timeout=180).run()
    no_exceptions(at)
    assert any(info.title in t.value for t in at.title), [t.value for t in at.title]
