"""The Streamlit side of the heavy-work pool: one pool per server process, the session as the job's owner.

``run_heavy(fn, ...)`` is a drop-in for calling ``fn`` from a page: the work runs on the shared pool
(``services/workers.py``), progress callbacks are relayed to the page from the script thread, and a rerun of
the same session (the viewer changed something) abandons the stale job. Inside a cached function the rerun is
not checked, as Streamlit itself does not: the result is still wanted by the cache and by other sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st
from streamlit.runtime.caching.cache_utils import in_cached_function
from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check, get_script_run_ctx

from services.budget import HEAVY_WORK_DEADLINE_S
from services.workers import HeavyWorkPool, configured_workers, server_torch_threads, use_torch_threads

T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def heavy_pool() -> HeavyWorkPool:
    """Sized to the machine (``EXPLORABLE_HEAVY_WORKERS`` overrides), torch's intra-op threads from the one
    policy in ``services.workers.server_torch_threads`` for its workers and the script threads alike."""
    threads = server_torch_threads()
    use_torch_threads(threads)
    return HeavyWorkPool(configured_workers(), torch_threads=threads)


def run_heavy(fn: Callable[..., T], *args: Any, what: str, key: object = None,
              deadline_s: float = HEAVY_WORK_DEADLINE_S, progress: Callable[..., None] | None = None,
              **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the shared pool; raises ``WorkTimeout`` after ``deadline_s`` with a message."""
    ctx = get_script_run_ctx(suppress_warning=True)
    owner = ctx.session_id if ctx is not None else "no-session"
    latest: list[tuple] = []
    if progress is not None:
        kwargs["progress"] = lambda *update: latest.append(update)
    yield_check = None if in_cached_function.get() else get_run_yield_check()

    def on_wait() -> None:
        if progress is not None and latest:
            progress(*latest[-1])
            latest.clear()
        if yield_check is not None:
            yield_check()  # raises when this session asked again: the pool then drops the stale job

    return heavy_pool().run(owner, fn, *args, key=key, deadline_s=deadline_s, on_wait=on_wait, what=what, **kwargs)


#: Work that runs in a viewer's own script thread, step by step, instead of on the pool (the STN page trains
#: one epoch per fragment run, drawing each as it ends) takes one of these slots per step: at most as many at
#: once as the pool has workers, so a room of trainings cannot take more cores than the heavy work may.
TRAINING_SLOT_COUNT = configured_workers()
TRAINING_SLOTS = threading.BoundedSemaphore(TRAINING_SLOT_COUNT)


@contextmanager
def training_slot() -> Iterator[bool]:
    """Yields whether a slot was free (never waits: the page says so and tries again on its next run)."""
    taken = TRAINING_SLOTS.acquire(blocking=False)
    try:
        yield taken
    finally:
        if taken:
            TRAINING_SLOTS.release()
