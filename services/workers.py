"""A bounded pool for heavy work shared by every session: fair, single-flight, cancellable, with a deadline.

Why: one server process serves the whole room. Heavy requests (a CAM pass, a CV curve) run here instead of
on each session's script thread, so at most ``workers`` of them compete for the cores and the light pages keep
the rest. The queue is fair because every owner (a session) has at most one job waiting: asking again replaces
that owner's stale job. Jobs with the same ``key`` are computed once, and every owner waiting for it shares the
result. A caller waits at most ``deadline_s`` and then gets ``WorkTimeout``, a message a person can act on.

Stopping frees the worker, not only the caller. A job is told to stop when nobody waits for it any more (its
owner asked again, left, or gave up at its deadline) and when the latest deadline of its callers has passed
(so a caller that vanished without cancelling cannot hold a worker either). A long function run here takes a
``should_stop`` argument (the pool passes it) and calls ``stop_point(should_stop)`` between its steps: folds,
K values, chunks of query points, trees, epochs. That raises ``WorkCancelled``, the worker drops the job and
takes the next one, so the next caller's job starts within one step of the deadline.

A function that cannot check (one torch forward pass, one KD-tree query, one scikit-learn ``fit``) holds its
worker until it returns, and its late result is dropped. Such a call has to be bounded *before* it is
submitted, by the work estimates of ``services.budget`` (decoded pixels and input side for a forward pass,
``KNN_MAX_DISTANCE_EVALUATIONS`` for a neighbour query, epochs x images for training), and a long one split
into steps with a check between them: the slot is then held at most one step past the deadline.

Threads, not processes: torch, numpy and scikit-learn release the GIL in their kernels, and the models stay
shared in memory instead of being copied into every worker.
"""

from __future__ import annotations

import inspect
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
POLL_S = 0.1


#: What a long function takes as ``should_stop``: true once its result is no longer wanted.
StopCheck = Callable[[], bool]


class WorkCancelled(RuntimeError):
    """The job was stopped before it produced a result: replaced by a newer request of the same owner, or
    every caller gave up waiting for it. Long functions raise it from ``stop_point``."""


def stop_point(should_stop: StopCheck | None) -> None:
    """Between two steps of a long function: raise ``WorkCancelled`` when its result is no longer wanted."""
    if should_stop is not None and should_stop():
        raise WorkCancelled("stopped: nobody waits for this result any more")


class WorkTimeout(TimeoutError):
    """The job did not finish within its deadline; the message says what to do."""


def machine_cores() -> int:
    """Cores this process may run on (the container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(cores: int) -> int:
    """Leave one core to the script threads (light pages, the event loop) when there is more than one."""
    return max(1, cores - 1)


@dataclass
class Job:
    key: object
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    owners: set[str] = field(default_factory=set)
    future: Future = field(default_factory=Future)
    stop: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    deadline: float = -math.inf  # monotonic time after which no caller waits for it (the latest of theirs)

    def should_stop(self) -> bool:
        return self.stop.is_set() or time.monotonic() > self.deadline


class HeavyWorkPool:
    """``workers`` threads taking jobs first come, first served, at most one waiting job per owner."""

    def __init__(self, workers: int | None = None, torch_threads: int = 0) -> None:
        self.workers = workers or default_workers(machine_cores())
        self.torch_threads = torch_threads  # > 0: each worker sets torch's intra-op threads to it at start
        self._queue: deque[Job] = deque()
        self._by_key: dict[object, Job] = {}
        self._owned: dict[str, Job] = {}
        self._lock = threading.Condition()
        self.computed = 0  # jobs actually run (tests and the benchmark read it)
        for index in range(self.workers):
            threading.Thread(target=self._work, name=f"heavy-{index}", daemon=True).start()

    # -- submitting --------------------------------------------------------------------------------------
    def submit(self, owner: str, fn: Callable[..., T], *args: Any, key: object = None,
               deadline_s: float = math.inf, **kwargs: Any) -> Job:
        """Queue ``fn(*args, **kwargs)`` for ``owner``, wanted for ``deadline_s``; a job with an equal ``key``
        already queued or running is shared instead (it then runs until the latest of its callers' deadlines).
        The owner's previous job is released (and stopped if nobody else waits for it)."""
        wanted_until = time.monotonic() + deadline_s
        with self._lock:
            shared = self._by_key.get(key) if key is not None else None
            previous = self._owned.get(owner)
            if previous is not None and previous is not shared:
                self._release(owner, previous)
            if shared is not None and not shared.stop.is_set():
                job = shared
            else:
                job = Job(key, fn, args, kwargs)
                self._queue.append(job)
                if key is not None:
                    self._by_key[key] = job
                self._lock.notify()
            job.owners.add(owner)
            job.deadline = max(job.deadline, wanted_until)
            self._owned[owner] = job
            return job

    def cancel(self, owner: str, job: Job) -> None:
        """``owner`` no longer wants ``job`` (it asked again, left, or gave up at its deadline)."""
        with self._lock:
            self._release(owner, job)

    def run(self, owner: str, fn: Callable[..., T], *args: Any, key: object = None, deadline_s: float,
            on_wait: Callable[[], None] | None = None, what: str = "This computation", **kwargs: Any) -> T:
        """Submit and wait; ``on_wait`` runs every ~0.1 s while waiting (progress, or raising to abandon)."""
        deadline = time.monotonic() + deadline_s
        job = self.submit(owner, fn, *args, key=key, deadline_s=deadline_s, **kwargs)
        timeout = WorkTimeout(
            f"{what} took longer than {deadline_s:.0f} s (the server is busy or the request is large) "
            "and was stopped. Try again in a moment, or choose a smaller setting."
        )
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise timeout
                try:
                    return job.future.result(timeout=min(POLL_S, remaining))
                except TimeoutError:
                    if on_wait is not None:
                        on_wait()
                except WorkCancelled:
                    if time.monotonic() >= deadline - POLL_S:
                        raise timeout from None  # it stopped itself at (a shared job's) deadline
                    raise
        except BaseException:
            self.cancel(owner, job)
            raise
        finally:
            with self._lock:
                if self._owned.get(owner) is job and job.future.done():
                    del self._owned[owner]

    # -- inside --------------------------------------------------------------------------------------------
    def _release(self, owner: str, job: Job) -> None:
        job.owners.discard(owner)
        if self._owned.get(owner) is job:
            del self._owned[owner]
        if job.owners or job.future.done():
            return
        job.stop.set()
        if self._by_key.get(job.key) is job:
            del self._by_key[job.key]
        if not job.started:
            self._queue.remove(job)
            job.future.set_exception(WorkCancelled("replaced by a newer request"))

    def _work(self) -> None:
        if self.torch_threads:
            use_torch_threads(self.torch_threads)
        while True:
            with self._lock:
                while not self._queue:
                    self._lock.wait()
                job = self._queue.popleft()
                job.started = True
                self.computed += 1
            self._run(job)
            del job  # an idle worker must not keep its last result (a Grad-CAM explanation: ~170 MB) alive

    def _run(self, job: Job) -> None:
        try:
            stop_point(job.should_stop)  # every caller's deadline passed while it was queued
            kwargs = job.kwargs
            if _accepts(job.fn, "should_stop"):
                kwargs = {**kwargs, "should_stop": job.should_stop}
            result = job.fn(*job.args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any failure is handed to the waiting caller, who re-raises it
            outcome: tuple[str, Any] = ("error", error)
        else:
            outcome = ("ok", result)
        with self._lock:
            if self._by_key.get(job.key) is job:
                del self._by_key[job.key]
            if job.should_stop():  # a result nobody waits for, maybe partial: dropped
                outcome = ("error", WorkCancelled("replaced by a newer request, or past every deadline"))
        if outcome[0] == "ok":
            job.future.set_result(outcome[1])
        else:
            job.future.set_exception(outcome[1])

def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


# -- torch's intra-op threads: the one decision for the pool's jobs and the pages' own torch calls -----------
#
# Sessions and pool workers already run in parallel threads. With torch's default (one intra-op thread per
# core) their OpenMP workers spin against each other on a busy 2-core machine: a Grad-CAM forward pass measured
# 10x slower (2.8-5.5 s vs 0.23-0.43 s, faithfulness 7.1-7.5 s vs 1.9-2.4 s, load average 15). So every torch
# call in a server process uses ``server_torch_threads()``: ``EXPLORABLE_TORCH_THREADS`` if set, else the spare
# cores divided among the pool's workers (1 on this machine; 3 each for 4 workers on 16 cores). The pool's
# workers set it at start and the Grad-CAM page's model loader sets it for the script threads
# (``services.cam.models.use_server_threads``); the spatial-transformer page's training keeps its own count
# inside ``services.stn.torch_threads`` (one training run, measured there).

def torch_threads_for(workers: int, cores: int) -> int:
    """Intra-op threads per job so that ``workers`` concurrent jobs fill, not oversubscribe, the spare cores."""
    return max(1, (cores - 1) // workers) if cores > 1 else 1


def configured_workers() -> int:
    """The pool's size in a server: ``EXPLORABLE_HEAVY_WORKERS`` if set, else ``default_workers``."""
    return int(os.environ.get("EXPLORABLE_HEAVY_WORKERS", "0")) or default_workers(machine_cores())


def server_torch_threads() -> int:
    """torch's intra-op threads for every job and page of a server process (see the note above)."""
    override = int(os.environ.get("EXPLORABLE_TORCH_THREADS", "0"))
    return override if override > 0 else torch_threads_for(configured_workers(), machine_cores())


def use_torch_threads(count: int) -> None:
    """Set torch's intra-op threads: the calling thread's now, and the number torch gives threads that have not
    run a parallel op yet (an OpenMP thread that already ran one keeps its own until it sets it again)."""
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
