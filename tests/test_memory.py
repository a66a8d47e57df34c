"""The memory watcher: it gives memory back when sessions have left, and only then."""

from __future__ import annotations

import threading

from components import memory


def test_memory_is_given_back_when_the_count_falls_and_cycles_collected_while_anyone_is_on(monkeypatch):
    monkeypatch.setattr(memory, "CHECK_S", 0.01)
    counts = iter([0, 3, 5, 5, 2, 2, 0, 0, 4])
    stop = threading.Event()
    seen: list[int] = []
    given: list[int] = []

    def count() -> int:
        value = next(counts, None)
        if value is None:
            stop.set()
            return seen[-1]
        seen.append(value)
        return value

    forgotten: list[int] = []
    collected: list[int] = []
    memory._watch(stop, count=count, give_back=lambda: given.append(seen[-1]),
                  forget=lambda: forgotten.append(seen[-1]), collect=lambda: collected.append(seen[-1]))
    assert given == [2, 0]  # 5 -> 2 and 2 -> 0: cycles collected and free pages trimmed
    assert forgotten == [0]  # the room's caches go only when the last session has gone
    # While anyone is connected (and nobody left) each check collects cycles, in place of Streamlit's
    # collection after every script run; an empty server does nothing (the last 4 is read twice: stop).
    assert collected == [3, 5, 5, 2, 4, 4]


def test_the_rooms_caches_are_cleared_and_the_others_kept():
    import streamlit as st

    calls: list[str] = []

    @st.cache_resource
    def room(key: str) -> str:
        calls.append("room")
        return key

    @st.cache_resource
    def model(key: str) -> str:
        calls.append("model")
        return key

    room("a"), model("a")
    memory.forget_when_empty(room)
    memory.forget_when_empty(room)  # registered once
    memory._forget_room()
    room("a"), model("a")
    assert calls == ["room", "model", "room"]
    memory._ROOM_CACHES.remove(room.clear)


def test_release_returns_free_heap_pages_where_glibc_has_malloc_trim():
    trim = memory._libc_trim()
    assert trim is not None  # this machine's libc is glibc
    assert trim() in (0, 1)  # 1: memory was released, 0: there was nothing to release
    memory.release()


def test_release_lets_go_of_expired_sessions_and_orphaned_media_before_trimming(monkeypatch):
    """Streamlit drops expired sessions only on its next write and deletes orphaned media only after a script
    run; after the last viewer left there is neither."""
    from types import SimpleNamespace

    calls: list[str] = []
    media = SimpleNamespace(remove_orphaned_files=lambda: calls.append("media"))
    storage = SimpleNamespace(_cache=SimpleNamespace(expire=lambda: calls.append("expire")))
    runtime = SimpleNamespace(media_file_mgr=media, _session_mgr=SimpleNamespace(_session_storage=storage))
    monkeypatch.setattr(memory.Runtime, "exists", staticmethod(lambda: True))
    monkeypatch.setattr(memory.Runtime, "instance", staticmethod(lambda: runtime))
    monkeypatch.setattr(memory.gc, "collect", lambda: calls.append("collect"))
    memory.release()
    # expired sessions let go (Streamlit would only on its next write), media marked and deleted, then collect
    assert calls == ["expire", "media", "media", "collect"]


def test_expired_sessions_are_reaped_from_streamlits_own_session_storage(monkeypatch):
    """Streamlit's storage hides an expired session from list() (so the count is 0) but keeps it, state and all,
    until its next write; the watcher's reap lets go of it."""
    import time
    from types import SimpleNamespace

    from streamlit.runtime.memory_session_storage import MemorySessionStorage

    storage = MemorySessionStorage(ttl_seconds=0.05)  # type: ignore[arg-type]
    storage.save(SimpleNamespace(session=SimpleNamespace(id="gone")))  # type: ignore[arg-type]
    time.sleep(0.1)
    assert storage.list() == [] and "gone" in storage._cache._data  # type: ignore[attr-defined]
    runtime = SimpleNamespace(_session_mgr=SimpleNamespace(_session_storage=storage))
    monkeypatch.setattr(memory.Runtime, "exists", staticmethod(lambda: True))
    monkeypatch.setattr(memory.Runtime, "instance", staticmethod(lambda: runtime))
    memory.reap_expired_sessions()
    assert "gone" not in storage._cache._data  # type: ignore[attr-defined]
