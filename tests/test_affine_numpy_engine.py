"""The numpy engine's machinery: blocks shared between the caller and helpers, and the reused pair-table buffer."""

import threading
import time

import numpy as np
import pytest

import services.affine.numpy_engine as engine
from services.affine import PADDINGS, warp


@pytest.fixture
def small_blocks(monkeypatch):
    """Many blocks and table tasks even on a small picture, so every parallel path runs."""
    monkeypatch.setattr(engine, "ROWS_PER_BLOCK", 4)
    monkeypatch.setattr(engine, "TABLE_ROWS", 8)
    monkeypatch.setattr(engine, "WORKERS", 2)


def test_every_item_runs_once_and_the_caller_takes_part(small_blocks):
    seen, caller = [], threading.get_ident()

    def task(item):
        time.sleep(0.001)  # like a numpy loop, lets the other thread run
        seen.append((item, threading.get_ident()))

    engine._in_parallel(task, range(200))
    assert sorted(item for item, _ in seen) == list(range(200))
    assert caller in {thread for _, thread in seen}


def test_a_busy_pool_does_not_hold_the_caller_back(small_blocks):
    """Another session's call occupies the helper: this call does all its items itself and does not wait."""
    release = threading.Event()
    blocker = engine._pool().submit(release.wait, 10)
    try:
        seen, caller = [], threading.get_ident()
        started = time.perf_counter()
        engine._in_parallel(lambda item: seen.append(threading.get_ident()), range(50))
        assert time.perf_counter() - started < 5
        assert seen == [caller] * 50
    finally:
        release.set()
        blocker.result()


@pytest.mark.parametrize("failing_item", [0, 37])
def test_a_failing_block_raises_in_the_caller(small_blocks, failing_item):
    def task(item):
        if item == failing_item:
            raise ValueError(f"block {item}")

    with pytest.raises(ValueError, match=f"block {failing_item}"):
        engine._in_parallel(task, range(80))


@pytest.mark.parametrize("padding", PADDINGS)
def test_results_do_not_depend_on_how_the_rows_are_split(monkeypatch, padding):
    rng = np.random.default_rng(11)
    image = rng.random((61, 47, 3)).astype(np.float32)
    theta = np.array([[0.7, -0.5, 0.1], [0.45, 0.8, -0.2]])
    interpolations = ("nearest", "bilinear", "bicubic")
    whole = {name: warp(image, theta, interpolation=name, padding=padding) for name in interpolations}
    monkeypatch.setattr(engine, "ROWS_PER_BLOCK", 4)
    monkeypatch.setattr(engine, "TABLE_ROWS", 8)
    monkeypatch.setattr(engine, "WORKERS", 2)
    for name in interpolations:
        assert np.array_equal(warp(image, theta, interpolation=name, padding=padding), whole[name]), name
    reference = warp(image, theta, padding=padding, engine="torch")
    assert np.max(np.abs(whole["bilinear"] - reference)) < 1e-4


def test_stale_contents_of_the_reused_table_never_leak(small_blocks):
    rng = np.random.default_rng(3)
    image = rng.random((40, 30, 3)).astype(np.float32)
    theta = np.array([[1.3, 0.2, 0.4], [-0.3, 1.2, -0.5]])  # samples far outside: reads the zero border
    expected = warp(image, theta, engine="torch")
    first = warp(image, theta)
    kept = engine._SCRATCH._free
    assert kept is not None and kept.shape == (3, 40 + engine.PAD, 30 + engine.PAD, 2)
    kept.fill(np.nan)  # whatever the last call left there must be overwritten
    second = warp(image, theta)
    assert engine._SCRATCH._free is kept  # the buffer was lent again, not reallocated
    assert np.max(np.abs(first - expected)) < 1e-4 and np.array_equal(first, second)


def test_concurrent_calls_never_share_a_buffer(small_blocks):
    """Sessions warp at once: each result equals the same warp done alone."""
    rng = np.random.default_rng(8)
    cases = [(rng.random((33, 29, 3)).astype(np.float32), np.eye(3)[:2] + rng.normal(0, 0.3, (2, 3)))
             for _ in range(6)]
    expected = [warp(image, theta) for image, theta in cases]
    failures = []

    def session(index):
        image, theta = cases[index]
        for _ in range(15):
            if not np.array_equal(warp(image, theta), expected[index]):
                failures.append(index)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_buffer_follows_the_picture_size():
    image = np.ones((5, 7, 2), dtype=np.float32)
    warp(image, np.eye(3)[:2])
    assert engine._SCRATCH._free.shape == (2, 5 + engine.PAD, 7 + engine.PAD, 2)
    big = engine._ScratchBuffer(max_bytes=100)
    with big.borrow((10, 10)) as buffer:
        assert buffer.shape == (10, 10)
    assert big._free is None  # larger than max_bytes: not kept
