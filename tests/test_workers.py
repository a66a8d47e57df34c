"""The heavy-work pool: single flight, one waiting job per owner, stale jobs stopped, deadlines, sizing.
And the property the pool relies on at the cache seam: Streamlit's own caches compute a missing value once."""

from __future__ import annotations

import threading
import time

import pytest
import streamlit as st

from services.workers import (
    HeavyWorkPool,
    WorkCancelled,
    WorkTimeout,
    default_workers,
    server_torch_threads,
    torch_threads_for,
)


def _blocker(pool: HeavyWorkPool) -> threading.Event:
    """Occupy every worker until the returned event is set."""
    release = threading.Event()
    for index in range(pool.workers):
        pool.submit(f"blocker-{index}", release.wait)
    time.sleep(0.1)
    return release


def test_identical_requests_are_computed_once_and_shared():
    pool = HeavyWorkPool(workers=2)
    calls = []

    def slow_square(x: int) -> int:
        calls.append(x)
        time.sleep(0.3)
        return x * x

    results = []
    threads = [threading.Thread(target=lambda o=owner: results.append(
        pool.run(o, slow_square, 7, key=("square", 7), deadline_s=10))) for owner in "abcdef"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [49] * 6
    assert calls == [7]


def test_asking_again_replaces_the_owners_waiting_job_and_others_keep_their_turn():
    pool = HeavyWorkPool(workers=1)
    release = _blocker(pool)
    order: list[str] = []
    stale = pool.submit("alice", order.append, "alice-1")
    bob = pool.submit("bob", order.append, "bob")
    fresh = pool.submit("alice", order.append, "alice-2")
    with pytest.raises(WorkCancelled):
        stale.future.result(timeout=1)
    release.set()
    bob.future.result(timeout=5)
    fresh.future.result(timeout=5)
    assert order == ["bob", "alice-2"]  # first come, first served; the stale job never ran


def test_a_running_stale_job_is_told_to_stop_and_its_result_dropped():
    pool = HeavyWorkPool(workers=1)
    stopped = threading.Event()

    def long_job(should_stop) -> str:
        for _ in range(200):
            if should_stop():
                stopped.set()
                return "partial"
            time.sleep(0.01)
        return "done"

    first = pool.submit("alice", long_job)
    time.sleep(0.1)
    second = pool.submit("alice", lambda: "new")
    with pytest.raises(WorkCancelled):
        first.future.result(timeout=5)
    assert stopped.is_set()
    assert second.future.result(timeout=5) == "new"


def test_a_job_shared_by_two_owners_survives_one_of_them_leaving():
    pool = HeavyWorkPool(workers=1)
    release = _blocker(pool)
    job = pool.submit("alice", lambda: 42, key="answer")
    assert pool.submit("bob", lambda: 0, key="answer") is job
    pool.cancel("alice", job)
    release.set()
    assert job.future.result(timeout=5) == 42


def test_the_deadline_gives_a_message_and_stops_the_job():
    pool = HeavyWorkPool(workers=1)
    stopped = threading.Event()

    def forever(should_stop) -> None:
        while not should_stop():
            time.sleep(0.01)
        stopped.set()

    started = time.monotonic()
    with pytest.raises(WorkTimeout, match="took longer than 0 s.*smaller setting"):
        pool.run("alice", forever, deadline_s=0.3, what="The cross-validation")
    assert time.monotonic() - started < 2
    assert stopped.wait(2)


def test_errors_reach_the_caller_and_the_pool_keeps_working():
    pool = HeavyWorkPool(workers=1)
    with pytest.raises(ValueError, match="bad input"):
        pool.run("alice", lambda: (_ for _ in ()).throw(ValueError("bad input")), deadline_s=5)
    assert pool.run("alice", lambda: "fine", deadline_s=5) == "fine"


def test_an_abandoned_wait_releases_the_job():
    pool = HeavyWorkPool(workers=1)
    release = _blocker(pool)

    def rerun_requested() -> None:
        raise KeyboardInterrupt  # stands in for Streamlit's RerunException from the yield check

    with pytest.raises(KeyboardInterrupt):
        pool.run("alice", lambda: "stale", deadline_s=5, on_wait=rerun_requested)
    release.set()
    assert pool.run("alice", lambda: "fresh", deadline_s=5) == "fresh"
    assert pool.computed == 2  # the blocker and "fresh": the abandoned job never ran


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (16, 15)])
def test_the_pool_leaves_a_core_for_the_pages(cores, workers):
    assert default_workers(cores) == workers


@pytest.mark.parametrize(("workers", "cores", "threads"), [(1, 1, 1), (1, 2, 1), (15, 16, 1), (4, 16, 3), (1, 8, 7)])
def test_torch_threads_fill_the_spare_cores_without_oversubscribing(workers, cores, threads):
    assert torch_threads_for(workers, cores) == threads


@pytest.mark.parametrize("threads", [1, 3])
def test_the_pool_workers_use_the_policys_torch_threads_whatever_the_process_was_set_to(threads):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2 if threads != 2 else 1)  # what another part of the process last asked for
    try:
        pool = HeavyWorkPool(workers=1, torch_threads=threads)
        assert pool.run("alice", torch.get_num_threads, deadline_s=30) == threads
    finally:
        torch.set_num_threads(previous)


def test_one_setting_decides_torch_threads_for_jobs_and_pages(monkeypatch):
    monkeypatch.setattr("services.workers.machine_cores", lambda: 16)
    monkeypatch.delenv("EXPLORABLE_TORCH_THREADS", raising=False)
    monkeypatch.delenv("EXPLORABLE_HEAVY_WORKERS", raising=False)
    assert server_torch_threads() == 1  # 15 workers on 16 cores
    monkeypatch.setenv("EXPLORABLE_HEAVY_WORKERS", "4")
    assert server_torch_threads() == 3
    monkeypatch.setenv("EXPLORABLE_TORCH_THREADS", "2")
    assert server_torch_threads() == 2


@pytest.mark.parametrize("decorator", [st.cache_data, st.cache_resource], ids=["cache_data", "cache_resource"])
def test_streamlit_caches_single_flight_a_missing_value(decorator):
    calls = []

    @decorator(show_spinner=False)
    def expensive(x: int) -> int:
        calls.append(x)
        time.sleep(0.3)
        return x + 1

    expensive.clear()
    results = []
    threads = [threading.Thread(target=lambda: results.append(expensive(41))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 6
    assert calls == [41]


def test_an_idle_worker_keeps_no_result_alive():
    """After the room has left, a worker waiting for work must not hold its last result (memory back)."""
    import gc
    import weakref

    class Result:
        pass

    pool = HeavyWorkPool(workers=1)
    value = pool.run("viewer", Result, deadline_s=10)
    alive = weakref.ref(value)
    del value
    for _ in range(50):  # the worker drops its frame just after handing the result over
        gc.collect()
        if alive() is None:
            break
        time.sleep(0.02)
    assert alive() is None
