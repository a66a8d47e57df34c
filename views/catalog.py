"""The dashboard's pages, in menu order: each page module defines ``INFO``; the router and home page read it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

#: Page modules under ``views/``, in menu order. (Not ``pages/``: Streamlit treats a folder of that name
#: beside the entry script as a legacy multipage app, and deep links then fail on a fresh server.)
PAGE_MODULES: list[str] = [
    "nearest_map", "knn_boundaries", "gradcam_layers", "affine_playground", "spatial_transformer",
]


@dataclass(frozen=True)
class PageInfo:
    title: str
    icon: str  # a Material icon, ":material/name:"
    url_path: str
    purpose: str  # one line for the home page card
    offline: str  # what works without internet
    render: Callable[[], None]


def tool_pages() -> list[PageInfo]:
    """``INFO`` of every page module, in menu order."""
    return [importlib.import_module(f"views.{name}").INFO for name in PAGE_MODULES]
