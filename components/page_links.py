"""Links between pages by their URL path (pages are callables, so ``st.page_link`` needs their ``st.Page``)."""

from __future__ import annotations

import streamlit as st


def link_to_page(url_path: str, label: str, *, icon: str | None = None) -> None:
    """A page link to the catalog page served at ``/url_path``."""
    from views.catalog import tool_pages

    info = next(page for page in tool_pages() if page.url_path == url_path)
    page = st.Page(info.render, title=info.title, icon=info.icon, url_path=info.url_path)
    st.page_link(page, label=label, icon=icon or info.icon)
