"""Stopping frees the worker: a job whose callers gave up stops at its next step, so the next caller's job
starts. Checked on the real long functions the KNN page runs through the pool, on workloads that take many
seconds to finish, and on the pool's own deadline rules."""

from __future__ import annotations

import inspect
import threading
import time

import numpy as np
import pytest

from services import knn
from services.knn import scratch
from services.workers import HeavyWorkPool, WorkCancelled, WorkTimeout, stop_point

#: How soon after a caller's deadline its job must have left the worker: one step is ~50 ms on a quiet
#: machine (chunks are timed), a batch of trees a few hundred; the margin is for a loaded one. Each workload
#: below takes several times longer than this to finish (measured on the shared 2-core machine, load 5: 2-10 s
#: and more), so a function that ignores ``should_stop`` fails here.
RELEASE_WITHIN_S = 1.5


def _split(X: np.ndarray, y: np.ndarray) -> knn.Split:
    names = tuple("abc"[: int(y.max()) + 1])
    return knn.make_split(knn.Dataset("t", X, y, names, ("x", "y")), knn.KnnSettings())


@pytest.fixture(scope="module")
def splits() -> dict[str, knn.Split]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 2))
    lattice = np.stack(np.meshgrid(np.arange(142.0), np.arange(142.0)), -1).reshape(-1, 2)[:20_000]
    return {
        "random": _split(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)),
        "lattice": _split(lattice, rng.integers(0, 3, len(lattice))),  # equal distances everywhere: ties at every K
        "spot": _split(np.zeros((20_000, 2)), np.arange(20_000) % 2),  # every query reads the whole crowd
    }


KS = tuple(range(1, 200, 2))
WIDE_KS = tuple(range(1, 1000, 2))
SETTINGS = knn.KnnSettings()
WORKLOADS = {  # the page's pool functions, each on a request that takes well over RELEASE_WITHIN_S
    "cv-curve": lambda s: (knn.cv_curve, (s["lattice"], SETTINGS, KS, 10)),
    "learning-curve": lambda s: (knn.split_learning_curve, (s["lattice"], SETTINGS, KS)),
    "grid-votes": lambda s: (knn.grid_votes, (s["spot"], SETTINGS, 200, 16)),
    "split-predictors": lambda s: (knn.split_predictors, (s["random"], SETTINGS, 300)),
    "sweep": lambda s: (knn.sweep_frames, (s["random"], SETTINGS, WIDE_KS, 100)),
    "tree-and-forest": lambda s: (
        lambda should_stop: knn.tree_and_forest(
            s["random"], knn.make_grid(s["random"], 120), max_depth=None, n_trees=500, seed=0,
            should_stop=should_stop,
        ),
        (),
    ),
    "scratch": lambda s: (scratch.scratch_knn, (s["random"].X_train, s["random"].y_train, s["random"].X_train, 7)),
}


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_a_job_whose_caller_timed_out_frees_its_worker_for_the_next_caller(splits, workload):
    fn, args = WORKLOADS[workload](splits)
    assert "should_stop" in inspect.signature(fn).parameters
    pool = HeavyWorkPool(workers=1)
    with pytest.raises(WorkTimeout, match="took longer than"):
        pool.run("alice", fn, *args, deadline_s=0.3, what="The long request")
    assert pool.run("bob", lambda: "next", deadline_s=RELEASE_WITHIN_S) == "next"


def test_a_function_stops_at_its_next_step_with_a_typed_cancellation():
    steps = []

    def long(should_stop) -> None:
        for step in range(1000):
            stop_point(should_stop)
            steps.append(step)
            time.sleep(0.01)

    pool = HeavyWorkPool(workers=1)
    job = pool.submit("alice", long, deadline_s=0.2)
    assert isinstance(job.future.exception(timeout=RELEASE_WITHIN_S), WorkCancelled)
    assert 5 < len(steps) < 1000  # it ran, and it stopped on its own deadline though nobody cancelled it


def test_a_job_whose_callers_all_gave_up_while_it_was_queued_never_runs():
    pool = HeavyWorkPool(workers=1)
    release = threading.Event()
    pool.submit("blocker", release.wait)
    ran = []
    with pytest.raises(WorkTimeout):
        pool.run("alice", ran.append, 1, deadline_s=0.2)
    late = pool.submit("carol", ran.append, 2, deadline_s=0.05)
    time.sleep(0.1)
    release.set()
    assert isinstance(late.future.exception(timeout=5), WorkCancelled)
    assert pool.run("bob", lambda: "fresh", deadline_s=5) == "fresh"
    assert ran == []


def test_a_shared_job_runs_until_its_latest_caller_gives_up():
    pool = HeavyWorkPool(workers=1)
    seen = []

    def long(should_stop) -> str:
        while not should_stop():
            seen.append(time.monotonic())
            time.sleep(0.01)
        raise WorkCancelled("stopped")

    started = time.monotonic()
    with pytest.raises(WorkTimeout):
        pool.run("alice", long, key="shared", deadline_s=0.2)  # gives up first; bob still waits
    job = pool.submit("bob", long, key="shared", deadline_s=0.0)  # joins with an earlier deadline: no effect
    assert pool.submit("carol", long, key="shared", deadline_s=0.8) is job
    assert isinstance(job.future.exception(timeout=5), WorkCancelled)
    assert seen[-1] - started > 0.6  # ran on for carol after alice gave up
