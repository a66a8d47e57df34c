"""Serve the app: one Streamlit process, or N replicas behind nginx with session affinity (127.0.0.1 only).

    python -m scripts.serve [--replicas N] [--port 8501] [--postgis]

One replica listens on ``--port`` itself. With N ≥ 2, replicas listen on free local ports and Debian's nginx
(run unprivileged from a temporary prefix) listens on ``--port``: websocket upgrade, the same
``server.cookieSecret`` on every replica (a fresh random one per start, passed in the environment, never on
the command line), and affinity by a routing cookie: a new viewer is dealt to the next replica in turn and
nginx's response names that replica in the cookie, so the page load, its websocket, its media and its uploads
all reach the replica that owns the session. When a replica dies only its viewers move: the others are its
backups, each of its viewers reconnects to a live one, where the URL restores the view. Every replica is
health-checked on ``/_stcore/health`` before it is used (it answers only once its service layer is imported:
``scripts/preloaded_streamlit.py``) and then opened once by a headless viewer, which starts its warm-up
(``components/warmup.py``). ``--postgis`` starts the
local PostGIS cluster (``scripts/postgis_cluster.py``) and gives every replica its ``GEO_DSN``.
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
ROUTE_COOKIE = "explorable_route"
HEALTH_TIMEOUT_S = 120.0


class ServeError(RuntimeError):
    """The cluster could not be started; the message says which part and where its log is."""


@dataclass
class Replica:
    port: int
    log: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Die as a crashed replica would: SIGKILL, no goodbye to its websockets."""
        self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    url: str
    replicas: list[Replica]
    workdir: Path
    nginx: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def logs(self) -> str:
        """Every replica's log, for tests that fail on a traceback."""
        return "\n".join(replica.log.read_text(errors="replace") for replica in self.replicas)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen | None = None, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServeError(f"{url} exited with status {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise ServeError(f"{url} was not healthy within {timeout_s:.0f} s")


def start_replica(port: int, log: Path, env: dict[str, str], flags: Sequence[str] = (),
                  address: str = "127.0.0.1") -> Replica:
    # preloaded: health answers only once the service layer's libraries are imported (the first page is fast)
    command = [sys.executable, "-m", "scripts.preloaded_streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", address, "--server.fileWatcherType", "none",
               *flags]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Replica(port, log, process)


def nginx_conf(port: int, upstream_ports: list[int], prefix: Path) -> str:
    """nginx.conf for the replicas: new viewers dealt round-robin, then kept on their replica by a cookie.

    A viewer without the routing cookie goes to ``balanced`` (round-robin, its state shared by both nginx
    workers), and every response sets the cookie to the replica that answered (``$upstream_addr``); with it,
    each request goes to that replica's own group, whose other servers are backups: when it dies, its viewers
    move to a live one and the next response re-points their cookie. A hash of a random key per viewer split
    16 viewers 10/6 or worse in many runs, so one replica queued while the other idled.
    """
    names = [f"replica_{index}" for index in range(len(upstream_ports))]
    server = "        server 127.0.0.1:{} max_fails=1 fail_timeout=3s{};"
    balanced = "\n".join(server.format(p, "") for p in upstream_ports)
    own_groups = "\n".join(
        f"    upstream {name} {{\n"
        + "\n".join(server.format(p, "" if p == own else " backup") for p in [own, *(q for q in upstream_ports
                                                                                    if q != own)])
        + "\n        keepalive 16;\n    }"
        for name, own in zip(names, upstream_ports))
    by_cookie = "\n".join(f"        {name} {name};" for name in names)
    by_answer = "\n".join(f"        ~127\\.0\\.0\\.1:{p}$ {name};" for p, name in zip(upstream_ports, names))
    return f"""
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_max_body_size 30m;  # server.maxUploadSize is 25 MB

    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
    # The cookie names the replica's own group; no cookie (or a stale one): the round-robin group.
    map $cookie_{ROUTE_COOKIE} $route_group {{
        default balanced;
{by_cookie}
    }}
    # The replica that answered (the last one tried, after a failover) goes back into the cookie.
    map $upstream_addr $answered_by {{
        default "";
{by_answer}
    }}

    upstream balanced {{
        zone balanced 64k;
{balanced}
        keepalive 32;
    }}
{own_groups}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://$route_group;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;  # a websocket is idle while the viewer reads
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            add_header Set-Cookie "{ROUTE_COOKIE}=$answered_by; Path=/; HttpOnly; SameSite=Lax" always;
            add_header X-Explorable-Replica $upstream_addr always;  # local only: which replica answered
        }}
    }}
}}
"""


def _prepare_nginx_prefix(prefix: Path) -> None:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # nginx's workers drop to nobody: let them write their temp files
        nobody = pwd.getpwnam("nobody")
        for path in [prefix / "tmp", *(prefix / "tmp").iterdir()]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def trigger_warmup(url: str) -> None:
    """Open the home page once as a headless viewer: the first script run starts the replica's warm-up."""
    from scripts.serve_client import StreamlitSession

    with StreamlitSession(url, timeout_s=300, fetch_media=False) as viewer:
        viewer.load("")


@contextmanager
def cluster(replicas: int = 1, *, port: int | None = None, nginx: bool | None = None, warm: bool = True,
            env: dict[str, str] | None = None, flags: Sequence[str] = (), workdir: Path | None = None,
            address: str = "127.0.0.1"):
    """Start ``replicas`` Streamlit processes (behind nginx when more than one), yield a ``Cluster``, stop all."""
    use_nginx = replicas > 1 if nginx is None else nginx
    if use_nginx and not Path(NGINX).exists():
        raise ServeError(f"no nginx at {NGINX}: apt-get install nginx (or set NGINX=/path/to/nginx)")
    port = port or free_port()
    own_dir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="explorable-serve-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # MALLOC_ARENA_MAX=2: glibc's default of 8 arenas per core kept more memory after viewers left (bench_load).
    # EXPLORABLE_WARMUP=1: the launcher's replicas warm themselves at start (a bare `streamlit run`, as the
    # browser tests use, does not: its background warm-up would compete with the first page under test).
    replica_env = {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32), "MALLOC_ARENA_MAX": "2",
                   "EXPLORABLE_WARMUP": "1", **os.environ, **(env or {})}
    started: list[Replica] = []
    proxy = None
    try:
        for index in range(replicas):
            replica_port = free_port() if use_nginx else port
            started.append(start_replica(replica_port, workdir / f"replica-{index}.log", replica_env, flags,
                                         address if not use_nginx else "127.0.0.1"))
        for replica in started:
            wait_healthy(replica.url, replica.process)
        if warm:
            warmers = [threading.Thread(target=trigger_warmup, args=(r.url,), daemon=True) for r in started]
            for thread in warmers:
                thread.start()
            for thread in warmers:
                thread.join()
        url = started[0].url
        if use_nginx:
            prefix = workdir / "nginx"
            _prepare_nginx_prefix(prefix)
            conf = prefix / "nginx.conf"
            conf.write_text(nginx_conf(port, [r.port for r in started], prefix))
            with open(prefix / "stderr.log", "w") as nginx_stderr:
                proxy = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                         stderr=nginx_stderr)
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, proxy, timeout_s=20)
        yield Cluster(url, started, workdir, proxy, env or {})
    finally:
        for process in [proxy, *(r.process for r in started)]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [proxy, *(r.process for r in started)]:
            if process is not None:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        if own_dir and not os.environ.get("KEEP_SERVE_DIR"):
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1",
                        help="where a single replica listens (0.0.0.0 inside a container); nginx stays on 127.0.0.1")
    parser.add_argument("--postgis", action="store_true", help="start the local PostGIS and pass GEO_DSN")
    args = parser.parse_args(argv)
    env = {}
    if args.postgis:
        from scripts.postgis_cluster import LocalCluster, load_world

        database = LocalCluster(ROOT / ".postgis")
        fresh = not database.initialized
        env["GEO_DSN"] = database.start()
        if fresh:
            load_world(env["GEO_DSN"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with cluster(args.replicas, port=args.port, env=env, workdir=ROOT / ".serve", address=args.address) as running:
            print(f"Serving {args.replicas} replica(s) at {running.url} (logs in .serve/)", flush=True)
            while not stop.is_set():
                dead = [r.port for r in running.replicas if r.process.poll() is not None]
                if dead and len(dead) == len(running.replicas):
                    print("every replica has exited; stopping", file=sys.stderr)
                    return 1
                stop.wait(1.0)
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
