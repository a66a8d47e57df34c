"""Charts a whole number of pixels wide, so a new plotly chart is drawn once, not twice.

Streamlit measures a chart's frame (``getBoundingClientRect``, e.g. 706.109375 px in the KNN page's main
column at 1440 px) and sets that width on the figure after the first draw, which plotly made from the
computed style (706.109 px): a different width, so it drew the whole figure again. The frame rounded down to
whole pixels gives both the same number. See ``services.plotting.live_figure`` for the other causes.
"""

from __future__ import annotations

import streamlit as st

STYLE = '<style>div[data-testid="stFullScreenFrame"] { width: round(down, 100%, 1px); }</style>'


def whole_pixel_charts() -> None:
    """Once per full run, before the page: the style holds for every chart the page (or a fragment) draws."""
    st.html(STYLE)
