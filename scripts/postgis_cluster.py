"""A local PostgreSQL + PostGIS cluster in a project folder, for the map's PostGIS backend.

    python -m scripts.postgis_cluster start [--load-world] [--dir .postgis] [--port N]
    python -m scripts.postgis_cluster stop [--dir .postgis]
    python -m scripts.postgis_cluster dsn [--dir .postgis]

``start`` runs ``initdb`` on first use, then ``pg_ctl start``. The server listens on 127.0.0.1 only, has no
Unix socket and no ``trust`` entry (scram-sha-256 everywhere), and the app connects as an unprivileged role
``geo`` with a generated password that owns database ``geo`` (where ``CREATE EXTENSION postgis`` ran as
superuser). Credentials live in ``<dir>/cluster.json`` (mode 0600). PostgreSQL refuses to run as root, so
when we are root the server binaries run as the ``postgres`` OS user on a folder chowned to it.

The test fixture (``tests/postgis_fixture.py``) and the benchmark reuse :class:`LocalCluster` for throwaway
clusters in temporary folders.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

#: Where Debian's ``postgresql-15`` package puts the server binaries; override with ``PG_BIN``.
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
#: The OS user that owns the cluster files when we run as root.
SERVER_OS_USER = "postgres"
APP_ROLE = "geo"
APP_DATABASE = "geo"
SUPERUSER = "postgres"
#: Table the world places are loaded into by ``start --load-world``, and which of them (all 234,908).
WORLD_TABLE = "world_places"
WORLD_MIN_POPULATION = 500


class ClusterError(RuntimeError):
    """The local cluster could not be created, started or stopped; the message says what to do."""


@dataclass
class ClusterConfig:
    """What a started cluster needs to be reached again: written once to ``cluster.json``."""

    port: int
    password: str
    superuser_password: str
    ready: bool = False  # role, database and extension created


def missing_binaries(bin_dir: Path = PG_BIN) -> str | None:
    """None when the PostgreSQL server binaries and the PostGIS extension are installed, else what is missing."""
    absent = [name for name in ("initdb", "pg_ctl", "postgres") if not (bin_dir / name).is_file()]
    if absent:
        return (
            f"PostgreSQL server binaries not found in {bin_dir} ({', '.join(absent)}); "
            "install them with `apt-get install postgresql postgresql-15-postgis-3` or set PG_BIN"
        )
    share = _sharedir(bin_dir)
    if share is None or not (share / "extension" / "postgis.control").is_file():
        return "the PostGIS extension is not installed; install it with `apt-get install postgresql-15-postgis-3`"
    return None


def _sharedir(bin_dir: Path) -> Path | None:
    try:
        out = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out.stdout.strip())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalCluster:
    """One PostgreSQL cluster living entirely inside ``root`` (data, log, credentials)."""

    def __init__(self, root: Path | str, *, bin_dir: Path = PG_BIN) -> None:
        self.root = Path(root).resolve()
        self.bin_dir = bin_dir
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self.config_file = self.root / "cluster.json"

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file() and self.config_file.is_file()

    def config(self) -> ClusterConfig:
        try:
            return ClusterConfig(**json.loads(self.config_file.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise ClusterError(f"cannot read {self.config_file}: {exc}; delete {self.root} to start afresh") from exc

    def _save_config(self, config: ClusterConfig) -> None:
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(config), out, indent=2)

    def dsn(self) -> str:
        """Connection string of the unprivileged app role (contains its password: never log it)."""
        config = self.config()
        return f"postgresql://{APP_ROLE}:{config.password}@127.0.0.1:{config.port}/{APP_DATABASE}"

    def admin_dsn(self, database: str = "postgres") -> str:
        config = self.config()
        return f"postgresql://{SUPERUSER}:{config.superuser_password}@127.0.0.1:{config.port}/{database}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").is_file():
            return False
        return self._pg(["pg_ctl", "-D", str(self.data_dir), "status"], check=False).returncode == 0

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, *, port: int | None = None, durable: bool = True) -> str:
        """Create (first time) and start the cluster; returns the app DSN. ``durable=False`` turns fsync off."""
        problem = missing_binaries(self.bin_dir)
        if problem:
            raise ClusterError(problem)
        if not self.initialized:
            if self.data_dir.exists():
                raise ClusterError(f"{self.data_dir} exists but is not a complete cluster; delete {self.root}")
            self._init(port or free_port(), durable)
        elif port is not None and port != self.config().port:
            config = self.config()
            config.port = port
            self._save_config(config)
        if not self.is_running():
            config = self.config()
            result = self._pg(
                ["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                 "-o", f"-p {config.port}", "start"],
                check=False,
            )
            if result.returncode != 0:
                raise ClusterError(
                    f"pg_ctl start failed (port {config.port} taken? pass --port N): {result.stdout}{result.stderr}"
                    f"\n--- {self.log_file} ---\n{self._log_tail()}"
                )
        if not self.config().ready:
            self._create_app_database()
        return self.dsn()

    def stop(self, *, mode: str = "fast") -> None:
        """Shut down (``fast`` disconnects open sessions cleanly); a stopped cluster stays on disk."""
        if self.is_running():
            result = self._pg(["pg_ctl", "-D", str(self.data_dir), "-w", "-m", mode, "stop"], check=False)
            if result.returncode != 0:
                raise ClusterError(f"pg_ctl stop failed: {result.stdout}{result.stderr}")

    def destroy(self) -> None:
        """Stop the server and delete the folder (throwaway clusters only)."""
        try:
            self.stop(mode="immediate")  # no shutdown checkpoint: the files are deleted next
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _init(self, port: int, durable: bool) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        config = ClusterConfig(
            port=port,
            password=secrets.token_urlsafe(24),
            superuser_password=secrets.token_urlsafe(24),
        )
        self._save_config(config)
        pwfile = self.root / "initdb.pw"
        pwfile.unlink(missing_ok=True)  # left over from a killed earlier attempt
        with os.fdopen(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(config.superuser_password + "\n")
        self._hand_to_server_user(self.root)
        self._hand_to_server_user(pwfile)
        try:
            result = self._pg(
                ["initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                 "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
                 *([] if durable else ["--no-sync"])],
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise ClusterError(f"initdb failed: {result.stdout}{result.stderr}")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "password_encryption": "'scram-sha-256'",
            "shared_buffers": "'256MB'",
            "maintenance_work_mem": "'512MB'",
            "work_mem": "'32MB'",
            "max_wal_size": "'4GB'",
            # Bulk loads into tables created in the same transaction skip WAL entirely.
            "wal_level": "minimal",
            "max_wal_senders": "0",
        }
        if not durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# scripts/postgis_cluster.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _create_app_database(self) -> None:
        config = self.config()
        try:
            with psycopg.connect(self.admin_dsn(), autocommit=True, connect_timeout=10) as admin:
                role_exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
                verb = "ALTER" if role_exists else "CREATE"
                admin.execute(
                    sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        sql.Identifier(APP_ROLE), sql.Literal(config.password)
                    )
                )
                if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE]).fetchone():
                    admin.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                        )
                    )
            with psycopg.connect(self.admin_dsn(APP_DATABASE), autocommit=True, connect_timeout=10) as admin:
                admin.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            raise ClusterError(f"setting up role/database/extension failed: {exc}") from exc
        config.ready = True
        self._save_config(config)

    # -- running the server binaries -----------------------------------------------------------------------------

    def _as_server_user(self) -> list[str]:
        return ["runuser", "-u", SERVER_OS_USER, "--"] if os.geteuid() == 0 else []

    def _hand_to_server_user(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        try:
            owner = pwd.getpwnam(SERVER_OS_USER)
        except KeyError as exc:
            raise ClusterError(f"running as root needs an OS user {SERVER_OS_USER!r} to own the cluster") from exc
        os.chown(path, owner.pw_uid, owner.pw_gid)

    def _pg(self, argv: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
        command = [*self._as_server_user(), str(self.bin_dir / argv[0]), *argv[1:]]
        return subprocess.run(command, capture_output=True, text=True, check=check, cwd=self.root)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def load_world(dsn: str) -> int:
    """Load every GeoNames place (population >= 500) into ``WORLD_TABLE``; returns the row count.

    ``idx`` is the row position in ``services.geo.places.world_places(WORLD_MIN_POPULATION)``.
    """
    from services.geo.places import world_places
    from services.geo.postgis import PostgisPointStore

    places = world_places(WORLD_MIN_POPULATION)

    def report(fraction: float, message: str) -> None:
        print(f"\r  {fraction:4.0%} {message:<60}", end="", file=sys.stderr, flush=True)

    with PostgisPointStore.from_points(
        dsn, places["lat"], places["lon"], table=WORLD_TABLE, progress=report
    ) as store:
        print(file=sys.stderr)
        return store.n_points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.postgis_cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "dsn"])
    parser.add_argument("--dir", default=".postgis", help="cluster folder (default: .postgis)")
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one, kept afterwards)")
    parser.add_argument("--load-world", action="store_true", help=f"load the world places into {WORLD_TABLE}")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.dir)
    try:
        if args.command == "stop":
            cluster.stop()
            print(f"stopped the cluster in {cluster.root}")
            return 0
        if args.command == "dsn":
            if not cluster.initialized:
                raise ClusterError(f"no cluster in {cluster.root}; run `make postgis` first")
            print(cluster.dsn())
            return 0
        dsn = cluster.start(port=args.port)
        if args.load_world:
            rows = load_world(dsn)
            print(f"table {WORLD_TABLE}: {rows:,} places", file=sys.stderr)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"PostGIS is running in {cluster.root} on 127.0.0.1:{cluster.config().port} (log: {cluster.log_file}).")
    print("Point the map page at it (keep this DSN private, it holds the password):")
    print(f"export GEO_DSN='{dsn}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
