"""A folium map on the page: streamlit-folium's component, with the base map's arguments built once per map.

``st_folium`` renders the whole folium map on every call (branca compiles a Jinja template for each script and
link element; streamlit-folium runs regular expressions and ``dedent`` over the map's script): about a third
of the map page's server time per click under 16 sessions (py-spy ``--gil``). The base map does not change
between clicks, so the arguments ``st_folium`` would send for it are taken once (from ``st_folium`` itself, so
they are exactly its own) and kept; a rerun sends them with the per-query layer's script.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import folium
import streamlit as st
import streamlit_folium

from components.static_files import is_published

_capture_lock = threading.Lock()


def component_arguments(fmap: folium.Map, *, key: str, height: int,
                        returned_objects: Sequence[str]) -> dict[str, Any]:
    """What ``st_folium(fmap, ...)`` sends to its frontend (full width, no layer), captured from ``st_folium``."""
    captured: dict[str, Any] = {}
    with _capture_lock:  # the one place that swaps streamlit-folium's component function
        send = streamlit_folium._component_func
        streamlit_folium._component_func = lambda **arguments: captured.update(arguments)
        try:
            streamlit_folium.st_folium(fmap, key=key, height=height, use_container_width=True,
                                       returned_objects=list(returned_objects))
        finally:
            streamlit_folium._component_func = send
    return captured


@st.cache_resource(show_spinner=False, max_entries=16)
def _base_arguments(map_id: Hashable, _build: Callable[[], folium.Map], key: str, height: int,
                    returned_objects: tuple[str, ...]) -> dict[str, Any]:
    return component_arguments(_build(), key=key, height=height, returned_objects=returned_objects)


def folium_map(map_id: Hashable, build: Callable[[], folium.Map], *, key: str, height: int,
               layer_script: str | None, returned_objects: Sequence[str] = ("last_clicked",)):
    """Draw the map ``build()`` makes (built once per ``map_id``, which must name everything it depends on)
    with ``layer_script`` (streamlit-folium's ``feature_group`` script) on it; returns the component's value.

    The base map's data files (``components.static_files``) may have been dropped since it was built: then it
    is built (and they are written) again."""
    arguments = _base_arguments(map_id, build, key, height, tuple(returned_objects))
    if not all(map(is_published, [*arguments["js_links"], *arguments["css_links"]])):
        _base_arguments.clear()
        arguments = _base_arguments(map_id, build, key, height, tuple(returned_objects))
    return streamlit_folium._component_func(**{**arguments, "feature_group": layer_script})
