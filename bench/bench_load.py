"""Load: many viewers at once on Streamlit's own websocket protocol, one server vs replicas behind nginx.

Each session opens a page and then makes ``LOAD_INTERACTIONS`` interactions with short think times, exactly
as the browser sends them (``scripts/serve_client.py``); latency is from the widget change to
``script_finished`` plus the run's media fetched. Printed per page and for a mixed run: p50 / p95 at 1/4/8/16
sessions, interactions per second, server CPU (cores, and ms per interaction) and peak RSS of all replicas, and
exceptions; a replica that died during a run is named with its exit signal, OOM kills and last log lines. A second
table is the GC A/B behind the warm-up's ``gc.freeze()``; a third the memory after everyone left.

The first table is the named peer, ``bench/peer/app.py`` (one slider) on its own server under the same client:
what Streamlit itself costs per rerun here, and how its p95 grows with sessions.

Knobs (environment): LOAD_LEVELS=1,4,8,16  LOAD_INTERACTIONS=6  LOAD_PAGES=peer,map,knn,gradcam,affine
LOAD_REPLICAS=1,2  LOAD_GC=1 (the A/B)  LOAD_AFTER_S=180 (0 skips the after-leave check)  LOAD_SEED=0
LOAD_THINK=0.2,0.6 (seconds before each interaction)  LOAD_MIXED=1 (0 skips the mixed run)
LOAD_ONLY=memory (only the allocator A/B: glibc's default arenas vs MALLOC_ARENA_MAX=2), gc (only the GC A/B)
or soak (LOAD_SOAK_S=300 of LOAD_SOAK_SESSIONS=4 mixed viewers who leave and come back; RSS every 30 s)
"""

from __future__ import annotations

import gc
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from scripts.serve import Cluster, Replica, cluster, free_port, wait_healthy
from scripts.serve_client import RunResult, ServerGone, StreamlitSession

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
#: Pause before each interaction. The default is a stress client (a presenter dragging sliders); people reading
#: a page between clicks pause for seconds: LOAD_THINK=2,6 runs that room instead (printed with every table).
THINK_S = tuple(float(t) for t in os.environ.get("LOAD_THINK", "0.2,0.6").split(","))
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\S*(Error|Exception): ", re.MULTILINE)


# -- what a viewer does on each page ------------------------------------------------------------------------

def _choose(session: StreamlitSession, label: str, rng: random.Random) -> RunResult:
    options = [o for o in session.widget(label).options if o]
    return session.set(label, rng.choice(options))


def _slide(session: StreamlitSession, label: str, rng: random.Random, top: float | None = None) -> RunResult:
    widget = session.widget(label).proto
    high = min(widget.max, top) if top is not None else widget.max
    step = widget.step or 1
    value = widget.min + step * rng.randint(0, int((high - widget.min) / step))
    return session.set(label, value)


def _number(session: StreamlitSession, label: str, low: float, high: float, rng: random.Random) -> RunResult:
    return session.set(label, round(rng.uniform(low, high), 3))


#: The named peer: ``bench/peer/app.py`` (the smallest Streamlit page with a slider) on its own server, same
#: launcher and runner settings: what Streamlit itself costs per rerun, and how its p95 grows with sessions.
PEER = "peer"

#: page -> the interactions a viewer alternates between (the issue's table: what a presenter does there)
SCENARIOS: dict[str, list[Callable[[StreamlitSession, random.Random], RunResult]]] = {
    "map": [lambda s, r: _slide(s, "K (number of neighbours)", r, top=50),
            lambda s, r: _number(s, "Latitude", -60, 70, r)],
    "knn": [lambda s, r: _slide(s, "K (neighbours)", r, top=60),
            lambda s, r: _choose(s, "Weights", r)],
    "gradcam": [lambda s, r: _choose(s, "Sample picture", r)],
    "affine": [lambda s, r: _choose(s, "Sample picture", r),
               lambda s, r: _slide(s, "angle (degrees)", r)],
    PEER: [lambda s, r: _slide(s, "value", r)],
}


@dataclass
class SessionLog:
    page: str
    latencies: list[float] = field(default_factory=list)
    load_seconds: float = 0.0
    exceptions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def viewer(url: str, page: str, interactions: int, seed: int, log: SessionLog) -> None:
    """One session: open ``page``, then ``interactions`` changes with think times in between."""
    rng = random.Random(seed)
    try:
        with StreamlitSession(url, timeout_s=300) as session:
            result = session.load("" if page == PEER else page)  # the peer has one page, the default
            log.load_seconds = result.seconds
            log.exceptions += result.exceptions
            steps = SCENARIOS[page]
            for index in range(interactions):
                time.sleep(rng.uniform(*THINK_S))
                result = steps[index % len(steps)](session, rng)
                log.latencies.append(result.seconds)
                log.exceptions += result.exceptions
    except (ServerGone, TimeoutError, OSError, KeyError) as error:
        log.failures.append(f"{type(error).__name__}: {error}")


@contextmanager
def peer_server() -> Iterator[Cluster]:
    """The peer page on one server started as the launcher starts a replica (no warm-up: nothing to warm)."""
    root = Path(__file__).resolve().parent.parent
    workdir = Path(tempfile.mkdtemp(prefix="explorable-peer-"))
    port = free_port()
    command = [sys.executable, "-m", "scripts.preloaded_streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--runner.postScriptGC", "false", "--runner.magicEnabled", "false"]
    with open(workdir / "peer.log", "w") as out:
        process = subprocess.Popen(command, cwd=root / "bench" / "peer", stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(root)})
    replica = Replica(port, workdir / "peer.log", process)
    try:
        wait_healthy(replica.url, process)
        yield Cluster(replica.url, [replica], workdir)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


# -- measuring the server ----------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent on anything but idle and I/O wait (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


class ServerMeter:
    """CPU seconds and peak summed RSS of the replicas while the block runs (sampled every 0.25 s)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_rss = 0
        self._stop = threading.Event()

    def rss(self) -> int:
        return sum(_rss_bytes(pid) for pid in self.pids if Path(f"/proc/{pid}").exists())

    def __enter__(self) -> Self:
        self._cpu0 = sum(_cpu_seconds(p) for p in self.pids)
        self._client0 = _cpu_seconds(os.getpid())
        self._machine0 = _machine_busy_seconds()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_rss = max(self.peak_rss, self.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self._t0
        alive = [p for p in self.pids if Path(f"/proc/{p}").exists()]
        self.cores = (sum(_cpu_seconds(p) for p in alive) - self._cpu0) / self.wall
        self.client_cores = (_cpu_seconds(os.getpid()) - self._client0) / self.wall  # this load client
        self.machine_cores = (_machine_busy_seconds() - self._machine0) / self.wall  # everything on the machine


@dataclass
class LoadResult:
    label: str
    sessions: int
    logs: list[SessionLog]
    wall: float
    cores: float
    peak_rss: int
    log_errors: int
    client_cores: float = 0.0
    machine_cores: float = 0.0
    lost: list[str] = field(default_factory=list)  # replicas that exited during the run, and why

    def latencies(self, page: str | None = None) -> list[float]:
        return [t for log in self.logs if page in (None, log.page) for t in log.latencies]

    @property
    def exceptions(self) -> int:
        return sum(len(log.exceptions) + len(log.failures) for log in self.logs)

    @property
    def throughput(self) -> float:
        return len(self.latencies()) / self.wall

    @property
    def cpu_ms_per_interaction(self) -> float:
        """Server CPU (all replicas) per interaction: the cost to cut when one process is GIL-bound."""
        return 1000 * self.cores * self.wall / max(1, len(self.latencies()))


def run_load(running: Cluster, pages: list[str], sessions: int, interactions: int, seed: int = 0) -> LoadResult:
    """``sessions`` viewers at once, page ``pages[i % len(pages)]`` for viewer i; the server's log is checked."""
    offsets = [replica.log.stat().st_size for replica in running.replicas]
    alive = [replica.process.poll() is None for replica in running.replicas]
    oom_kills = _oom_kills()
    logs = [SessionLog(pages[i % len(pages)]) for i in range(sessions)]
    threads = [threading.Thread(target=viewer, args=(running.url, log.page, interactions, seed * 1000 + i, log))
               for i, log in enumerate(logs)]
    with ServerMeter([r.process.pid for r in running.replicas]) as meter:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    new_log = "".join(_read_from(replica.log, offset) for replica, offset in zip(running.replicas, offsets))
    lost = [_why_lost(running, replica, oom_kills) for replica, was in zip(running.replicas, alive)
            if was and replica.process.poll() is not None]
    return LoadResult("+".join(pages), sessions, logs, meter.wall, meter.cores, meter.peak_rss,
                      len(TRACEBACK.findall(new_log)), meter.client_cores, meter.machine_cores, lost)


def _oom_kills() -> int:
    """The kernel's count of processes its OOM killer has killed since boot (``/proc/vmstat``)."""
    for line in Path("/proc/vmstat").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def _why_lost(running: Cluster, replica, oom_kills_before: int) -> str:
    """A replica that died under load: its exit status, whether the OOM killer ran, its last log lines, nginx's."""
    status = replica.process.returncode
    signal_name = f"signal {-status}" if status < 0 else f"status {status}"
    oom = _oom_kills() - oom_kills_before
    tail = " | ".join(replica.log.read_text(errors="replace").strip().splitlines()[-3:])
    nginx_log = running.workdir / "nginx" / "error.log"
    nginx = nginx_log.read_text(errors="replace").strip().splitlines()[-2:] if nginx_log.exists() else []
    return (f"replica :{replica.port} exited with {signal_name}; OOM kills during the run: {oom}; its log ends: "
            f"{tail or '(empty)'}; nginx: {' | '.join(nginx) or '(nothing)'}")


def _read_from(path: Path, offset: int) -> str:
    with open(path, errors="replace") as log:
        log.seek(offset)
        return log.read()


def warm_all(running: Cluster, pages: list[str]) -> None:
    """Every replica has opened every page once (the warm-up does it too; this makes it certain)."""
    for replica in running.replicas:
        for page in pages:
            with StreamlitSession(replica.url, timeout_s=600) as session:
                session.load(page)


def wait_warmed(running: Cluster, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all("warm-up finished" in r.log.read_text(errors="replace") for r in running.replicas):
            return
        time.sleep(1)


# -- printing ------------------------------------------------------------------------------------------------

def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(result: LoadResult, page: str | None = None) -> str:
    values = result.latencies(page)
    return (f"{_p(values, 0.5):6.2f} / {_p(values, 0.95):6.2f}")


def print_table(title: str, results: dict[tuple[str, int], LoadResult], levels: list[int], pages: list[str]):
    print(f"\n{title}\n")
    print("| page | " + " | ".join(f"p50 / p95 (s) at {n}" for n in levels)
          + f" | interactions/s at {levels[-1]} | server CPU at {levels[-1]} (cores; ms per interaction)"
          + " | load client / whole machine"
          + f" (cores) | peak RSS at {levels[-1]} | errors |")
    print("|---" * (len(levels) + 6) + "|")
    for page in pages:
        cells = [results.get((page, n)) for n in levels]
        last = cells[-1]
        errors = sum(r.exceptions + r.log_errors for r in cells if r)
        print(f"| {page} | " + " | ".join(_row(r) if r else "—" for r in cells)
              + (f" | {last.throughput:.2f} | {last.cores:.2f}; {last.cpu_ms_per_interaction:.0f} ms"
                 f" | {last.client_cores:.2f} / {last.machine_cores:.2f}"
                 f" | {last.peak_rss / 2**30:.2f} GB" if last else " | | | |")
              + f" | {errors} |", flush=True)
    for cell in (c for c in cells if c is not None):
        for reason in cell.lost:
            print(f"LOST during {page} at {cell.sessions} sessions: {reason}", flush=True)


def print_mixed(title: str, result: LoadResult, single: dict[str, float], pages: list[str]) -> None:
    print(f"\n{title}: {result.sessions} sessions over {', '.join(pages)}, "
          f"{result.throughput:.2f} interactions/s, {result.cores:.2f} cores, peak RSS "
          f"{result.peak_rss / 2**30:.2f} GB, errors {result.exceptions + result.log_errors}\n")
    print("| page | p50 / p95 (s) mixed | single-session p95 | mixed p95 / single p95 |")
    print("|---|---|---|---|")
    for page in pages:
        values = result.latencies(page)
        base = single.get(page, float("nan"))
        print(f"| {page} | {_row(result, page)} | {base:.2f} | {_p(values, 0.95) / base:.2f}x |", flush=True)


# -- the GC evidence -----------------------------------------------------------------------------------------

GC_PROBE = """
import gc, importlib, statistics, time
for name in ["nearest_map", "knn_boundaries", "gradcam_layers", "affine_playground"]:
    importlib.import_module("views." + name)
def collect():
    times = []
    for _ in range(7):
        t = time.perf_counter(); gc.collect(2); times.append(time.perf_counter() - t)
    return statistics.median(times)
tracked = len(gc.get_objects()); before = collect()
gc.freeze(); after = collect()
print(tracked, before, gc.get_freeze_count(), after)
"""


def gc_probe() -> tuple[int, float, int, float]:
    """Objects tracked with every page imported, gc.collect(2) before and after gc.freeze() (in a subprocess)."""
    out = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "PYTHONPATH": "."})
    tracked, before, frozen, after = out.stdout.split()[-4:]
    return int(tracked), float(before), int(frozen), float(after)


def gc_ab(pages: list[str], sessions: int, interactions: int, rounds: int = 2) -> None:
    """Interleaved rounds of one server per variant: Streamlit's default, warm-up + freeze, postScriptGC off."""
    tracked, before, frozen, after = gc_probe()
    print(f"\nGC: {tracked:,} objects tracked with every page imported; gc.collect(2) {before * 1000:.0f} ms; "
          f"after gc.freeze() ({frozen:,} frozen) {after * 1000:.2f} ms\n")
    on, off = ["--runner.postScriptGC", "true"], ["--runner.postScriptGC", "false"]
    variants = {
        "postScriptGC on, nothing frozen (Streamlit default)": ({"EXPLORABLE_WARMUP": "0"}, on),
        "postScriptGC on + warm-up gc.freeze()": ({}, on),
        "postScriptGC off": ({"EXPLORABLE_WARMUP": "0"}, off),
        "postScriptGC off + warm-up gc.freeze() + the watcher's collection every 5 s (chosen)": ({}, off),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    rss: dict[str, int] = {}
    for round_index in range(rounds):
        for name, (env, flags) in variants.items():
            with cluster(1, env=env, flags=flags, warm=not env) as running:
                if not env:  # the warm-up runs: wait for its gc.freeze()
                    wait_warmed(running)
                warm_all(running, pages)
                result = run_load(running, pages, sessions, interactions, seed=round_index)
                times[name] += result.latencies()
                rss[name] = max(rss.get(name, 0), result.peak_rss)
    base = _p(times[next(iter(variants))], 0.5)
    print(f"| server ({sessions} sessions over {', '.join(pages)}) | p50 / p95 (s) | p50 vs default | peak RSS |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {_p(values, .5):.2f} / {_p(values, .95):.2f} | {_p(values, .5) / base:.2f}x | "
              f"{rss[name] / 2**30:.2f} GB |", flush=True)


# -- memory after everyone left, by allocator setting --------------------------------------------------------

def memory_ab(sessions: int, interactions: int, after_s: float) -> None:
    """Peak and after-leave RSS of one server under ``sessions`` Grad-CAM viewers, glibc's default arenas vs 2."""
    print(f"\n| allocator ({sessions} Grad-CAM sessions, then {after_s:.0f} s idle) | after warm-up | peak | "
          "after they left | vs after warm-up |")
    print("|---|---|---|---|---|")
    for name, env in (("glibc default (8 × cores arenas)", {}), ("MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"})):
        with cluster(1, env=env) as running:
            wait_warmed(running)
            warm_all(running, ["gradcam"])
            meter = ServerMeter([r.process.pid for r in running.replicas])
            settled = meter.rss()
            result = run_load(running, ["gradcam"], sessions, interactions)
            time.sleep(after_s)
            left = meter.rss()
            print(f"| {name} | {settled / 2**30:.2f} GB | {result.peak_rss / 2**30:.2f} GB | {left / 2**30:.2f} GB | "
                  f"{left / settled - 1:+.0%} |", flush=True)


# -- a soak: viewers who come and go for minutes ---------------------------------------------------------------

def soak(pages: list[str], sessions: int, seconds: float, interactions: int, after_s: float) -> None:
    """``sessions`` viewers, each on its own page of ``pages`` in turn, opening it, making ``interactions``
    changes, leaving and coming back, for ``seconds``; RSS and latency every 30 s, then ``after_s`` idle."""
    print(f"\nSoak: {sessions} viewers over {', '.join(pages)} for {seconds:.0f} s, {interactions} interactions per "
          f"visit, think {THINK_S[0]}-{THINK_S[1]} s\n")
    print("| minute | RSS | interactions so far | p95 in the last 30 s (s) | errors so far |")
    print("|---|---|---|---|---|")
    with cluster(1) as running:
        wait_warmed(running)
        warm_all(running, pages)
        meter = ServerMeter([r.process.pid for r in running.replicas])
        settled = meter.rss()
        print(f"| 0.0 | {settled / 2**30:.2f} GB (after warm-up) | 0 | | 0 |", flush=True)
        offset = running.replicas[0].log.stat().st_size
        stop = threading.Event()
        logs: list[SessionLog] = []

        def come_and_go(index: int) -> None:
            visit = 0
            while not stop.is_set():
                log = SessionLog(pages[(index + visit) % len(pages)])
                logs.append(log)
                viewer(running.url, log.page, interactions, seed=index * 1000 + visit, log=log)
                visit += 1

        threads = [threading.Thread(target=come_and_go, args=(i,), daemon=True) for i in range(sessions)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        seen = 0
        peak = settled
        while (elapsed := time.monotonic() - started) < seconds:
            time.sleep(min(30, seconds - elapsed))
            everything = [t for log in list(logs) for t in log.latencies]
            recent, seen = everything[seen:], len(everything)
            errors = sum(len(log.exceptions) + len(log.failures) for log in list(logs))
            rss = meter.rss()
            peak = max(peak, rss)
            print(f"| {(time.monotonic() - started) / 60:.1f} | {rss / 2**30:.2f} GB | {len(everything)} | "
                  f"{_p(recent, 0.95):.2f} | {errors} |", flush=True)
        stop.set()
        for thread in threads:
            thread.join(timeout=300)
        time.sleep(after_s)
        left = meter.rss()
        log_errors = len(TRACEBACK.findall(_read_from(running.replicas[0].log, offset)))
        print(f"\nsoak: after warm-up {settled / 2**30:.2f} GB, peak sampled {peak / 2**30:.2f} GB, {after_s:.0f} s "
              f"after the last viewer left {left / 2**30:.2f} GB ({left / settled - 1:+.0%}); tracebacks in the log "
              f"{log_errors}", flush=True)


# -- the whole benchmark -----------------------------------------------------------------------------------------

def _env_list(name: str, default: str) -> list[str]:
    return [item for item in os.environ.get(name, default).split(",") if item]


def main() -> None:
    levels = [int(n) for n in _env_list("LOAD_LEVELS", "1,4,8,16")]
    pages = _env_list("LOAD_PAGES", f"{PEER},map,knn,gradcam,affine")
    with_peer = PEER in pages
    pages = [page for page in pages if page != PEER]
    interactions = int(os.environ.get("LOAD_INTERACTIONS", "6"))
    seed = int(os.environ.get("LOAD_SEED", "0"))
    after_s = float(os.environ.get("LOAD_AFTER_S", "180"))
    if os.environ.get("LOAD_ONLY") == "memory":
        memory_ab(levels[-1], interactions, after_s)
        return
    if os.environ.get("LOAD_ONLY") == "soak":
        soak(pages, int(os.environ.get("LOAD_SOAK_SESSIONS", "4")), float(os.environ.get("LOAD_SOAK_S", "300")),
             interactions, after_s)
        return
    if os.environ.get("LOAD_ONLY") == "gc":
        gc_ab(["map", "knn"], sessions=8, interactions=interactions)
        return
    if os.environ.get("LOAD_GC", "1") == "1":
        gc_ab(["map", "knn"], sessions=8, interactions=interactions)
    if with_peer:
        with peer_server() as running:
            warm_all(running, [""])
            results = {(PEER, n): run_load(running, [PEER], n, interactions, seed) for n in levels}
            print_table(f"Peer (`bench/peer/app.py`, one slider), one server, think {THINK_S[0]}-{THINK_S[1]} s",
                        results, levels, [PEER])
    single_p95: dict[int, dict[str, float]] = {}
    for replicas in [int(n) for n in _env_list("LOAD_REPLICAS", "1,2")] if pages else []:
        with cluster(replicas) as running:
            wait_warmed(running)
            warm_all(running, pages)
            settled = ServerMeter([r.process.pid for r in running.replicas]).rss()
            results = {(page, n): run_load(running, [page], n, interactions, seed) for page in pages for n in levels}
            title = f"{replicas} replica(s){' behind nginx' if replicas > 1 else ''}, RSS after warm-up " \
                    f"{settled / 2**30:.2f} GB, think {THINK_S[0]}-{THINK_S[1]} s"
            print_table(title, results, levels, pages)
            single = {page: _p(results[(page, levels[0])].latencies(), 0.95) for page in pages}
            single_p95[replicas] = single
            if os.environ.get("LOAD_MIXED", "1") == "1":
                mixed = run_load(running, pages, 8, interactions, seed)
                print_mixed(f"Mixed ({replicas} replica(s))", mixed, single, pages)
            top = levels[-1]
            per_page = [results[(page, top)].throughput for page in pages]
            print(f"\nthroughput at {top} sessions per page: "
                  + ", ".join(f"{p} {t:.2f}/s" for p, t in zip(pages, per_page)))
            if replicas == 1 and after_s > 0:
                heavy = run_load(running, ["gradcam"], top, interactions, seed + 1) if "gradcam" in pages else None
                time.sleep(after_s)
                gc.collect()
                left = ServerMeter([r.process.pid for r in running.replicas]).rss()
                print(f"\nmemory: after warm-up {settled / 2**30:.2f} GB; peak at {top} Grad-CAM sessions "
                      f"{(heavy.peak_rss if heavy else 0) / 2**30:.2f} GB; {after_s:.0f} s after they left "
                      f"{left / 2**30:.2f} GB ({left / settled - 1:+.0%})", flush=True)


if __name__ == "__main__":
    main()
