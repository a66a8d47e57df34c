"""Download buttons for figures and images, so anything on screen can be taken into a slide deck."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from services.imaging import encode_png


def plotly_config(filename: str) -> dict:
    """Plotly chart config whose camera button saves a 2x PNG named after the figure (no kaleido needed)."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
    }


#: A figure's data table, or a function that builds it when its download button is pressed (a table of every
#: grid cell costs more than the figure: building it on every K step was 6.5 % of the KNN server's time).
FigureData = pd.DataFrame | Callable[[], pd.DataFrame]


def show_figure(fig: go.Figure, filename: str, *, data: FigureData | None = None, key: str | None = None,
                live: bool = False) -> None:
    """Draw a plotly figure with download buttons: interactive HTML, the plotted data as CSV, PNG via the camera.
    ``live``: a ``services.plotting.live_figure``, drawn without Streamlit's theme (it carries the look)."""
    st.plotly_chart(fig, config=plotly_config(filename), key=key, theme=None if live else "streamlit")
    figure_downloads(fig, filename, data=data, key=key or filename)


def figure_downloads(fig: go.Figure, filename: str, *, data: FigureData | None = None, key: str) -> None:
    """HTML (standalone, works offline) and CSV download buttons for a figure already on the page."""
    columns = st.columns(2 if data is not None else 1)
    columns[0].download_button(
        "Download interactive HTML",
        data=lambda: fig.to_html(include_plotlyjs=True, full_html=True),
        file_name=f"{filename}.html",
        mime="text/html",
        key=f"{key}_html",
        on_click="ignore",
    )
    if data is not None:
        columns[1].download_button(
            "Download data (CSV)",
            data=lambda: (data() if callable(data) else data).to_csv(index=False),
            file_name=f"{filename}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            on_click="ignore",
        )
    st.caption("PNG: use the camera icon in the figure's toolbar.")


def image_download(image: np.ndarray | Callable[[], np.ndarray], filename: str, *, label: str = "Download PNG",
                   key: str | None = None) -> None:
    """A PNG download button for a numpy image (uint8, or floats in [0, 1]), or for a function that builds it:
    then the picture is built only when the button is pressed, not on every rerun."""
    st.download_button(
        label,
        data=lambda: encode_png(image() if callable(image) else image),
        file_name=f"{filename}.png",
        mime="image/png",
        key=key or f"{filename}_png",
        on_click="ignore",
    )
