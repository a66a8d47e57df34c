"""Page header: title, one paragraph of why, and the maths behind a collapsible "How it works"."""

from __future__ import annotations

import streamlit as st


def page_header(title: str, intro: str, how_it_works: str | None = None, *, icon: str | None = None) -> None:
    st.title(f"{icon} {title}" if icon else title)
    st.markdown(intro)
    if how_it_works:
        with st.expander("How it works", icon=":material/functions:"):
            st.markdown(how_it_works)
