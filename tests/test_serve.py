"""Two replicas behind nginx, driven on Streamlit's websocket protocol: warm-up, a short load, failover.

Bounded: one cluster for the module (about a minute to start on 2 busy cores), a few sessions, a few
interactions. Fails on any exception element, lost session, or traceback in a replica's log.
"""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bench.bench_load import run_load
from scripts.serve import NGINX, cluster
from scripts.serve_client import ServerGone, StreamlitSession

pytestmark = pytest.mark.slow
TRACEBACK = re.compile(r"Traceback \(most recent call last\)")


@pytest.fixture(scope="module")
def replicas():
    assert Path(NGINX).exists(), f"no nginx at {NGINX}: `make test` installs it (scripts/system_packages.sh)"
    with cluster(2) as running:
        deadline = time.monotonic() + 400
        while not all("warm-up finished" in r.log.read_text() for r in running.replicas):
            assert time.monotonic() < deadline, running.logs()[-3000:]
            time.sleep(1)
        yield running


def test_warm_up_opens_every_page_without_a_failure(replicas):
    logs = replicas.logs()
    assert "warm-up of" not in logs, logs[-3000:]
    assert not TRACEBACK.search(logs), logs[-3000:]


def test_sessions_spread_over_both_replicas_and_keep_their_replica(replicas):
    seen = set()
    for _ in range(12):
        with StreamlitSession(replicas.url) as viewer:
            first = viewer.replica
            viewer.load("")
            with StreamlitSession(replicas.url, cookie=viewer.cookie) as again:  # same cookie, same replica
                assert again.replica == first
            seen.add(first)
    assert seen == {f"127.0.0.1:{r.port}" for r in replicas.replicas}


def test_short_mixed_load_has_no_exception(replicas):
    result = run_load(replicas, ["map", "knn", "affine", "gradcam"], sessions=4, interactions=2)
    failures = [f for log in result.logs for f in log.exceptions + log.failures]
    assert failures == []
    assert result.log_errors == 0, replicas.logs()[-3000:]
    assert len(result.latencies()) == 4 * 2


def test_new_viewers_are_dealt_evenly_over_the_replicas(replicas):
    """Round-robin for viewers without the cookie: 16 arrivals split 8/8 (a hash of a random key per viewer
    split them 10/6 or worse in many runs, and the busier replica set the room's latency)."""
    owners = []
    for _ in range(16):
        with StreamlitSession(replicas.url) as viewer:
            owners.append(viewer.replica)
    counts = sorted(owners.count(f"127.0.0.1:{r.port}") for r in replicas.replicas)
    assert counts == [8, 8], owners


#: (page, {widget label: value}) a viewer sets; each is kept in the page's URL
VIEWS = [("knn", {"K (neighbours)": 9}), ("knn", {"K (neighbours)": 4}),
         ("map", {"K (number of neighbours)": 17, "Latitude": 12.5}), ("map", {"K (number of neighbours)": 3})]


def _shown(viewer: StreamlitSession, label: str) -> float:
    value = viewer.widget(label).value
    return float(value[0] if isinstance(value, list) else value)


def test_killing_a_replica_under_load_loses_no_view(replicas):  # the module's last use of the pair: one dies
    viewers = []
    for index in range(8):  # enough viewers that both replicas own some
        page, settings = VIEWS[index % len(VIEWS)]
        viewer = StreamlitSession(replicas.url, timeout_s=180).open()
        viewer.load(page)
        for label, value in settings.items():
            viewer.set(label, value)
        viewers.append((viewer, page, settings, viewer.query_string))
    doomed = replicas.replicas[0]
    owned = [v for v, *_ in viewers if v.replica == f"127.0.0.1:{doomed.port}"]
    assert owned and len(owned) < len(viewers), [v.replica for v, *_ in viewers]

    stop = threading.Event()
    background = threading.Thread(target=_keep_busy, args=(replicas.url, stop), daemon=True)
    background.start()  # the replica dies under load, not idle
    time.sleep(1.0)
    doomed.kill()

    lost = []
    reconnected = 0
    for viewer, page, settings, query in viewers:
        try:
            result = viewer.set(next(iter(settings)), next(iter(settings.values())))  # its next interaction
        except ServerGone:
            viewer.close()
            reconnected += 1
            viewer = StreamlitSession(replicas.url, timeout_s=180, cookie=viewer.cookie).open()  # browser reconnect
            result = viewer.load(page, query)
            assert result.exceptions == []
            if viewer.replica == f"127.0.0.1:{doomed.port}":
                lost.append(f"{page}: routed to the dead replica")
            for label, value in settings.items():  # drawn from the URL alone
                if _shown(viewer, label) != float(value):
                    lost.append(f"{page}: {label} shows {_shown(viewer, label)} instead of {value}")
        if parse_qs(result.query_string) != parse_qs(query):
            lost.append(f"{page}: URL {result.query_string!r} instead of {query!r}")
        viewer.close()
    stop.set()
    background.join(timeout=200)
    assert reconnected == len(owned)
    assert lost == []


def _keep_busy(url: str, stop: threading.Event) -> None:
    rng = random.Random(1)
    while not stop.is_set():
        try:
            with StreamlitSession(url, timeout_s=120) as viewer:
                viewer.load("knn")
                viewer.set("K (neighbours)", rng.randint(1, 30))
        except (ServerGone, OSError, TimeoutError):
            time.sleep(0.2)


def test_the_launchers_replicas_import_the_service_layer_before_streamlit():
    """The launcher's replicas answer health only after the heavy imports (the first page is fast); the
    services must never pull Streamlit in, or that would start its runtime's modules before the server."""
    import subprocess
    import sys

    probe = ("import sys; sys.argv = ['preloaded']; from scripts.preloaded_streamlit import preload_services; "
             "names = preload_services(); print(len(names), 'torch' in sys.modules, 'sklearn' in sys.modules, "
             "'streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parent.parent, check=True).stdout.split()
    every_module = len(list((Path(__file__).resolve().parent.parent / "services").rglob("*.py"))) - 1  # not itself
    assert int(out[0]) == every_module and out[1:] == ["True", "True", "False"]
    version = subprocess.run([sys.executable, "-m", "scripts.preloaded_streamlit", "version"], capture_output=True,
                             text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent, check=True)
    assert "Streamlit, version" in version.stdout


def _server_side_nodelay() -> int:
    """TCP_NODELAY of a connection accepted by an asyncio server on a socket made as Streamlit 1.67 makes it.

    The loop runs in a thread of its own: the browser tests' Playwright keeps an event loop marked running on
    the main thread for the whole session, where ``asyncio.run`` refuses to start."""
    import asyncio
    import socket
    from concurrent.futures import ThreadPoolExecutor

    async def probe() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = socket.socket(family=socket.AF_INET)  # proto 0, as in streamlit's starlette_server
        listener.bind(("127.0.0.1", 0))
        server = await asyncio.start_server(on_connect, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        value = await asyncio.wait_for(accepted, 10)
        writer.close()
        server.close()
        return value

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(probe())).result(timeout=30)


def test_the_launcher_turns_nagle_off_on_connections_streamlit_accepts(monkeypatch):
    """Stock asyncio leaves Nagle on for these connections (each rerun's second frame then waits ~40 ms for the
    viewer's delayed ACK); the launcher's ``no_nagle`` turns it off. If the first assert fails, Python or
    Streamlit fixed it and ``no_nagle`` can go."""
    import asyncio.base_events

    from scripts.preloaded_streamlit import no_nagle

    assert _server_side_nodelay() == 0
    monkeypatch.setattr(asyncio.base_events, "_set_nodelay", asyncio.base_events._set_nodelay)  # restored after
    no_nagle()
    assert _server_side_nodelay() != 0
