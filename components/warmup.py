"""Warm the whole app once per server process, in the background, then freeze the warm heap for the GC.

Why: the first visitor after a start used to wait 10–20 s (torch, sklearn, geopandas imports; the model; the
R-tree; each page's default view), and every script run ended in Streamlit's ``gc.collect(2)``
(``runner.postScriptGC``), which rescanned the ~550k long-lived objects those imports create: 0.3–0.8 s with
the GIL held after *every* rerun of every session (``make bench BENCH=load`` prints the A/B).

What: on the first script run of the process (``make run`` / ``make serve`` trigger it right after the server
is healthy, so no visitor pays for it) a daemon thread opens every page once as a headless viewer on this
server's own websocket, which fills exactly the caches a visitor's default view needs, then calls
``gc.collect()`` and ``gc.freeze()``: modules, models and indexes move to the permanent generation, and
the collection after each rerun only scans what the sessions themselves allocated. Until it is done, the
sidebar says how far it got. Only servers started by ``scripts/serve.py`` (``make run``, ``make serve``) warm
up: it sets ``EXPLORABLE_WARMUP=1``.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import streamlit as st
from streamlit import config
from streamlit.logger import get_logger

from scripts.serve_client import ServerGone, StreamlitSession
from views.catalog import PAGE_MODULES, tool_pages

_LOG = get_logger(__name__)
HEALTH_WAIT_S = 60.0
PAGE_TIMEOUT_S = 300.0


@dataclass
class WarmupState:
    """Progress of this process's warm-up, read by every session's sidebar."""

    started_at: float = 0.0
    done_pages: dict[str, float] = field(default_factory=dict)  # url path -> seconds its default view took
    failures: dict[str, str] = field(default_factory=dict)
    current: str = ""
    finished_at: float = 0.0
    frozen_objects: int = 0

    @property
    def finished(self) -> bool:
        return self.finished_at > 0


STATE = WarmupState()
_START_LOCK = threading.Lock()


def start() -> None:
    """Start this process's warm-up once (idempotent), and say in the sidebar how far it is while it runs."""
    if os.environ.get("EXPLORABLE_WARMUP") != "1" or not st.context.headers.get("Host"):
        return  # only the launcher's servers warm up (scripts/serve.py sets it); AppTest has no server to visit
    with _START_LOCK:
        if not STATE.started_at:
            STATE.started_at = time.monotonic()
            # The page modules are imported here, in the script thread, never in the warm-up thread: a custom
            # component (streamlit-folium's map) registers itself with the server only when its module is
            # imported under a ScriptRunContext. Imported first by the warm-up thread, it was never registered
            # and its frontend answered 404 for the process's life (the map never drew under `make run`).
            paths = [info.url_path for info in tool_pages()]
            threading.Thread(target=_warm_everything, args=(_own_url(), paths), name="warmup", daemon=True).start()
    if not STATE.finished:
        ready = len(STATE.done_pages) + len(STATE.failures)
        st.sidebar.caption(
            f":material/hourglass_top: Warming up after a restart: {ready} of {len(PAGE_MODULES)} pages ready"
            + (f", loading /{STATE.current}" if STATE.current else "")
            + ". A page opened now may take a few seconds longer."
        )


def _own_url() -> str:
    address = config.get_option("server.address") or "127.0.0.1"
    if address in ("0.0.0.0", "::"):
        address = "127.0.0.1"
    return f"http://{address}:{config.get_option('server.port')}"


def _warm_everything(url: str, paths: list[str]) -> None:
    try:
        _wait_healthy(url)
        for path in paths:
            STATE.current = path
            started = time.perf_counter()
            try:
                with StreamlitSession(url, timeout_s=PAGE_TIMEOUT_S) as viewer:
                    result = viewer.load(path)
                if result.exceptions:
                    STATE.failures[path] = result.exceptions[0]
                else:
                    STATE.done_pages[path] = time.perf_counter() - started
            except (ServerGone, TimeoutError, OSError) as error:
                STATE.failures[path] = str(error)
    except TimeoutError as error:
        STATE.failures["(server)"] = str(error)
    finally:
        for path, reason in STATE.failures.items():
            _LOG.warning("warm-up of /%s failed: %s", path, reason)
        STATE.current = ""
        gc.collect()
        gc.freeze()
        STATE.frozen_objects = gc.get_freeze_count()
        STATE.finished_at = time.monotonic()
        _LOG.info("warm-up finished in %.1f s; %d objects frozen", STATE.finished_at - STATE.started_at,
                  STATE.frozen_objects)


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + HEALTH_WAIT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy")
