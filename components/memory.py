"""Give memory back to the machine when viewers leave: one watcher thread per server process.

Why: after a room of viewers left, a server's RSS stayed far above its post-warm-up level although their
sessions were gone (``make bench BENCH=load``, memory row): glibc keeps freed heap pages in its arenas
instead of returning them to the operating system. What: every ``CHECK_S`` the watcher counts this process's
sessions (connected, or disconnected and still within ``server.disconnectedSessionTTL``); when the count has
fallen since the last check (Streamlit has dropped sessions and their state, media and pending downloads),
it runs one ``gc.collect()`` and glibc's ``malloc_trim(0)``, which hands every free page back. Both take a few
milliseconds on a warm, frozen heap. While sessions are connected and none has left, each check runs one
``gc.collect()``: that replaces Streamlit's ``gc.collect(2)`` after *every* script run (``runner.postScriptGC``,
off in ``.streamlit/config.toml``), which under 16 stress sessions was 8–20 % of the server's GIL time
(py-spy ``--gil``) for the same job of freeing what sessions left in reference cycles. When the count reaches
0, the caches registered with ``forget_when_empty`` (results that only serve the viewers of the moment, such
as the Grad-CAM explanations every session shares) are cleared first. Every other cache keeps its
``max_entries``/``ttl`` (stated at each cache) and ``server.maxCacheDataSize``: models, indexes and the
warm-up's default views stay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Callable
from typing import Any, Protocol

from streamlit.logger import get_logger
from streamlit.runtime import Runtime

_LOG = get_logger(__name__)
#: How often the watcher looks; while anyone is connected it also collects cycles this often.
CHECK_S = 5.0
_START_LOCK = threading.Lock()
_started = False


def _libc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


class Clearable(Protocol):
    def clear(self) -> None: ...


_ROOM_CACHES: list[Callable[[], None]] = []


def forget_when_empty(*cached: Clearable) -> None:
    """Clear these ``st.cache_*`` functions when the last session has gone (see the module's note)."""
    for function in cached:
        if function.clear not in _ROOM_CACHES:
            _ROOM_CACHES.append(function.clear)


def _forget_room() -> None:
    for clear in list(_ROOM_CACHES):
        clear()


def drop_orphaned_media() -> None:
    """Delete the media no live session shows. Streamlit does this after each script run and at a session's
    shutdown, but a file the shutdown only marks (downloads), or a picture that a script still running at the
    shutdown registered, waits for the *next* script run: after the last viewer left, nobody runs one. Twice:
    the first pass marks downloads, the second deletes them."""
    if Runtime.exists():
        for _ in range(2):
            Runtime.instance().media_file_mgr.remove_orphaned_files()


def reap_expired_sessions() -> None:
    """Let go of the disconnected sessions whose ``server.disconnectedSessionTTL`` has passed. Streamlit's
    session storage (a TTL cache) hides them from its count at once but drops them only on its next write,
    so after the last viewer left they stayed, state and all: a census at count 0 found 52 such sessions
    holding 2,226 widgets and the Grad-CAM sessions' kept forward passes (1,232 tensors, 667 MB). This does
    what that next write would (no public API; the count below reads a private attribute too)."""
    storage = getattr(_session_manager(), "_session_storage", None)
    expire = getattr(getattr(storage, "_cache", None), "expire", None)
    if callable(expire):
        expire()


def release() -> None:
    """Let go of expired sessions and orphaned media, collect cycles, then return the allocator's free pages to
    the operating system (where glibc allows)."""
    reap_expired_sessions()
    drop_orphaned_media()
    gc.collect()
    trim = _libc_trim()
    if trim is not None:
        trim()


def _session_manager() -> Any:
    """The runtime's session manager (private), or None: no runtime, or AppTest's mock runtime, which has none."""
    return getattr(Runtime.instance(), "_session_mgr", None) if Runtime.exists() else None


def _session_count() -> int:
    manager = _session_manager()
    return manager.num_sessions() if manager is not None else 0


def _watch(stop: threading.Event, count: Callable[[], int] = _session_count,
           give_back: Callable[[], None] = release, forget: Callable[[], None] = _forget_room,
           collect: Callable[[], object] = gc.collect) -> None:
    previous = count()
    while not stop.wait(CHECK_S):
        now = count()
        if now < previous:
            if now == 0:
                forget()
            give_back()
            _LOG.debug("sessions %d -> %d: memory given back", previous, now)
        elif now > 0:
            collect()
        previous = now


def start() -> None:
    """Start this process's watcher once (idempotent)."""
    global _started
    with _START_LOCK:
        if _started:
            return
        _started = True
    threading.Thread(target=_watch, args=(threading.Event(),), name="memory-watch", daemon=True).start()
