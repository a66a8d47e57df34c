"""`python -m scripts.postgis_cluster`: a local cluster that is private, password-protected and restartable."""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest

from scripts.postgis_cluster import (
    SERVER_OS_USER,
    WORLD_MIN_POPULATION,
    WORLD_TABLE,
    LocalCluster,
    free_port,
    load_world,
    main,
)
from services.geo.index import PointIndex
from services.geo.places import world_places
from services.geo.postgis import PostgisPointStore, connection_problem

pytest_plugins = ["tests.postgis_fixture"]
pytestmark = pytest.mark.postgis


@pytest.fixture
def cluster_dir(postgis_binaries):
    root = Path(tempfile.mkdtemp(prefix="postgis-cli-"))
    yield root
    LocalCluster(root).destroy()


def test_start_dsn_stop_restart(cluster_dir, capsys):
    port = free_port()
    assert main(["start", "--dir", str(cluster_dir), "--port", str(port)]) == 0
    cluster = LocalCluster(cluster_dir)
    dsn = cluster.dsn()
    assert dsn.startswith("postgresql://geo:") and dsn.endswith(f"@127.0.0.1:{port}/geo")
    assert f"export GEO_DSN='{dsn}'" in capsys.readouterr().out
    assert connection_problem(dsn) is None

    with psycopg.connect(dsn) as conn:
        role = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False, False)
    with psycopg.connect(cluster.admin_dsn()) as admin:
        assert admin.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert admin.execute("SHOW unix_socket_directories").fetchone() == ("",)
        methods = {row[0] for row in admin.execute("SELECT auth_method FROM pg_hba_file_rules")}
    assert methods == {"scram-sha-256"}  # no trust, no peer: a password everywhere
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn.replace(cluster.config().password, "guess"), connect_timeout=5)
    assert stat.S_IMODE(os.stat(cluster.config_file).st_mode) == 0o600
    if os.geteuid() == 0:
        assert os.stat(cluster.data_dir).st_uid == pwd.getpwnam(SERVER_OS_USER).pw_uid

    # Starting again is a no-op that prints the same DSN; `dsn` prints it alone.
    assert main(["start", "--dir", str(cluster_dir)]) == 0
    assert f"export GEO_DSN='{dsn}'" in capsys.readouterr().out
    assert main(["dsn", "--dir", str(cluster_dir)]) == 0
    assert capsys.readouterr().out.strip() == dsn

    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert main(["stop", "--dir", str(cluster_dir)]) == 0
    assert not cluster.is_running()
    assert connection_problem(dsn) is not None
    assert main(["start", "--dir", str(cluster_dir)]) == 0
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


def test_dsn_without_a_cluster_says_what_to_do(capsys):
    empty = tempfile.mkdtemp(prefix="postgis-none-")
    assert main(["dsn", "--dir", empty]) == 1
    assert "make postgis" in capsys.readouterr().err
    os.rmdir(empty)


@pytest.mark.slow  # reading the 235k GeoNames places takes seconds on its own
def test_load_world_fills_the_world_table(postgis_dsn, monkeypatch):
    places = world_places(WORLD_MIN_POPULATION)
    monkeypatch.setattr("services.geo.places.world_places", lambda min_population: places)  # read once
    count = load_world(postgis_dsn)
    assert count == len(places)
    with PostgisPointStore.from_table(postgis_dsn, WORLD_TABLE) as store:
        assert len(store) == len(places)
        expected = PointIndex(places["lat"], places["lon"], backend="rtree").nearest(35.68, 139.69, 5)
        assert store.nearest(35.68, 139.69, 5).equals(expected)
    with PostgisPointStore.from_points(postgis_dsn, places["lat"], places["lon"], table=WORLD_TABLE) as again:
        assert again.reused
