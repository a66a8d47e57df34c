"""The Streamlit side of the heavy-work pool: one pool per server process, the session as the job's owner.

``run_heavy(fn, ...)`` is a drop-in for calling ``fn`` from a page: the work runs on the shared pool
(``services/workers.py``), progress callbacks are relayed to the page from the script thread, and a rerun of
the same session (the viewer changed something) abandons the stale job. Inside a cached function the rerun is
not checked, as Streamlit itself does not: the result is still wanted by the cache and by other sessions.
"""

from __future__ import annotations

from collections.abc import Callable
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
