"""``streamlit`` with the service layer imported first and Nagle's algorithm off on its connections.

Preloaded: the server answers ``/_stcore/health`` only once torch, scikit-learn, geopandas and plotly are in
memory.

Why: a bare server answers health at once, and its first visitor's script run then imported every page's
libraries (about 9 s of a 10–11 s first page on 2 cores) while the warm-up competed for the same cores. Here
the imports happen before the server listens, so the launcher (``scripts/serve.py``), nginx and a
Kubernetes readiness probe see the replica as ready only when a page can answer in seconds. The services
never import streamlit, so nothing here touches Streamlit's runtime (page modules and components still load in
the first script run, where a custom component must register itself).

No Nagle: Streamlit 1.67 serves on a socket made with ``socket.socket(family=...)``, whose accepted connections
report ``proto`` 0, and asyncio sets ``TCP_NODELAY`` only where ``proto`` is ``IPPROTO_TCP``. Without it every
rerun's second small websocket frame waited for the viewer's delayed ACK: ~40 ms on every interaction of
every page, the same for a one-slider page (``bench/peer/app.py``: 43–50 ms a rerun, 2–3 ms with it).

    python -m scripts.preloaded_streamlit run app.py [streamlit's options]
"""

from __future__ import annotations

import asyncio.base_events
import importlib
import pkgutil
import socket
import sys

import services


def preload_services() -> list[str]:
    """Import every module under ``services`` (and so the libraries they use); returns their names."""
    names = [info.name for info in pkgutil.walk_packages(services.__path__, prefix="services.")]
    for name in names:
        importlib.import_module(name)
    return names


def _set_nodelay(sock: socket.socket) -> None:
    """asyncio's own ``_set_nodelay`` without its ``proto == IPPROTO_TCP`` test (see the module docstring)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def no_nagle() -> None:
    """Every TCP transport asyncio makes from now on sends small frames at once."""
    asyncio.base_events._set_nodelay = _set_nodelay  # type: ignore[attr-defined]


def main() -> None:
    no_nagle()
    preload_services()
    from streamlit.web.cli import main as streamlit_main

    sys.exit(streamlit_main())


if __name__ == "__main__":
    main()
