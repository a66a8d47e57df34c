"""PostGIS backend under failure: server stopped mid-session, loads interrupted or killed, hostile input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from services.geo.index import PointIndex
from services.geo.postgis import (
    InvalidTableName,
    PostgisPointStore,
    PostgisTableError,
    PostgisUnavailable,
    connection_problem,
    content_sha256,
    synthetic_points,
)
from tests.conftest import ROOT

pytest_plugins = ["tests.postgis_fixture"]
pytestmark = pytest.mark.postgis


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    """Every table in the database with all its rows (small test tables only)."""
    with psycopg.connect(dsn) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys' "
            "ORDER BY tablename"
        )]
        return {
            table: sorted(
                conn.execute(psycopg.sql.SQL("SELECT * FROM {}").format(psycopg.sql.Identifier(table))), key=repr
            )
            for table in tables
        }


def staging_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'geo_load_%%'")]


def test_server_stopped_mid_session_is_a_clear_error_and_embedded_search_goes_on(postgis_cluster, postgis_dsn):
    points = synthetic_points(500, seed=8)
    embedded = PointIndex(points["lat"], points["lon"], backend="rtree")
    store = PostgisPointStore.from_points(postgis_dsn, points["lat"], points["lon"], table="stoppable")
    expected = embedded.nearest(48.0, 2.0, 5)
    assert store.nearest(48.0, 2.0, 5).equals(expected)
    password = postgis_cluster.config().password

    postgis_cluster.stop()
    try:
        with pytest.raises(PostgisUnavailable) as lost:
            store.nearest(48.0, 2.0, 5)  # the open connection is cut
        with pytest.raises(PostgisUnavailable) as refused:
            store.within(48.0, 2.0, 100.0)  # reconnecting finds nobody listening
        for message in (str(lost.value), str(refused.value)):
            assert password not in message and "postgresql://geo:***@127.0.0.1" in message
        assert "stopped answering" in str(lost.value)
        assert "cannot connect" in str(refused.value)
        problem = connection_problem(postgis_dsn)
        assert problem and password not in problem
        with pytest.raises(PostgisUnavailable):
            PostgisPointStore.from_table(postgis_dsn, "stoppable")
        # The in-process engine does not care.
        assert embedded.nearest(48.0, 2.0, 5).equals(expected)
    finally:
        postgis_cluster.start()
    # Back up: the same store object reconnects by itself.
    assert store.nearest(48.0, 2.0, 5).equals(expected)
    store.close()


def test_load_interrupted_in_process_leaves_the_old_table(postgis_dsn, monkeypatch):
    old = synthetic_points(300, seed=1)
    new = synthetic_points(1000, seed=2)
    PostgisPointStore.from_points(postgis_dsn, old["lat"], old["lon"], table="interrupted").close()
    before = snapshot(postgis_dsn)
    monkeypatch.setattr("services.geo.postgis.COPY_CHUNK_ROWS", 100)

    def stop_halfway(fraction: float, message: str) -> None:
        if fraction >= 0.3:
            raise KeyboardInterrupt  # what Ctrl-C or a Streamlit rerun does to a running load

    with pytest.raises(KeyboardInterrupt):
        PostgisPointStore.from_points(postgis_dsn, new["lat"], new["lon"], table="interrupted", progress=stop_halfway)
    assert snapshot(postgis_dsn) == before
    assert staging_tables(postgis_dsn) == []
    with PostgisPointStore.from_table(postgis_dsn, "interrupted") as store:
        assert len(store) == 300
        expected = PointIndex(old["lat"], old["lon"], backend="brute").nearest(0.0, 0.0, 4)
        assert store.nearest(0.0, 0.0, 4).equals(expected)


KILLED_LOADER = """
import sys, time
import services.geo.postgis as postgis
postgis.COPY_CHUNK_ROWS = 200
points = postgis.synthetic_points(4000, seed=3)

def pause_halfway(fraction, message):
    if fraction >= 0.3:
        print("HALFWAY", flush=True)
        time.sleep(120)

postgis.PostgisPointStore.from_points(sys.argv[1], points["lat"], points["lon"], table="killed", progress=pause_halfway)
"""


def test_load_killed_halfway_leaves_the_old_table(postgis_dsn):
    old = synthetic_points(250, seed=4)
    PostgisPointStore.from_points(postgis_dsn, old["lat"], old["lon"], table="killed").close()
    before = snapshot(postgis_dsn)
    loader = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOADER, postgis_dsn], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert loader.stdout.readline().strip() == "HALFWAY"
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=30)
    # The server rolls the load back as soon as it sees the client gone; give it a moment.
    deadline = time.monotonic() + 20
    with psycopg.connect(postgis_dsn, autocommit=True) as conn:
        while conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'explorable-ml geo' AND pid <> "
            "pg_backend_pid()"
        ).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.1)
    assert snapshot(postgis_dsn) == before
    assert staging_tables(postgis_dsn) == []
    with PostgisPointStore.from_table(postgis_dsn, "killed") as store:
        assert len(store) == 250
        assert store.content_sha256 == content_sha256(old["lat"].to_numpy(), old["lon"].to_numpy())
    # Nothing stays locked: the next load goes through.
    retry = synthetic_points(400, seed=5)
    with PostgisPointStore.from_points(postgis_dsn, retry["lat"], retry["lon"], table="killed") as store:
        assert len(store) == 400 and not store.reused


HOSTILE_NAMES = [
    "victims; DROP TABLE victims; --",
    'victims"; DROP TABLE victims; --',
    "victims' OR '1'='1",
    "victims--",
    "victims/*",
    "ｖictims",  # full-width v
    "victimś",
    "victims\x00",
    "victims\n",
    "Victims",
    " victims",
    "",
    "v" * 64,
    "1victims",
    "public.victims",
    "geo_point_sets",
    None,
    7,
    b"victims",
]


@pytest.fixture
def victims(postgis_dsn):
    points = synthetic_points(50, seed=9)
    PostgisPointStore.from_points(postgis_dsn, points["lat"], points["lon"], table="victims").close()
    return points


def test_hostile_names_and_values_execute_nothing_and_lose_nothing(postgis_dsn, victims, monkeypatch):
    before = snapshot(postgis_dsn)
    store = PostgisPointStore.from_table(postgis_dsn, "victims")
    hostile_text = "0); DROP TABLE victims; --"
    with monkeypatch.context() as patch:
        patch.setattr(psycopg, "connect", lambda *a, **k: pytest.fail("a connection was attempted"))
        for name in HOSTILE_NAMES:
            with pytest.raises(InvalidTableName):
                PostgisPointStore.from_points(postgis_dsn, [1.0], [2.0], table=name)
            with pytest.raises(InvalidTableName):
                PostgisPointStore.from_table(postgis_dsn, name)
        for lat, lon in [([hostile_text], [0.0]), ([0.0], [hostile_text]), ([float("nan")], [0.0]), ([95.0], [0.0])]:
            with pytest.raises(ValueError):
                PostgisPointStore.from_points(postgis_dsn, lat, lon, table="victims")
    with monkeypatch.context() as patch:
        # The store's connection is not open yet; queries with bad values must fail before opening it.
        patch.setattr(psycopg, "connect", lambda *a, **k: pytest.fail("a connection was attempted"))
        for call in [lambda: store.nearest(hostile_text, 0.0, 3), lambda: store.nearest(0.0, hostile_text, 3),
                     lambda: store.nearest(0.0, 0.0, "3; DROP TABLE victims"),
                     lambda: store.within(0.0, 0.0, "1 OR 1=1"), lambda: store.within(0.0, 0.0, float("nan"))]:
            with pytest.raises(ValueError):
                call()
    store.close()
    assert snapshot(postgis_dsn) == before


@pytest.mark.parametrize("keyword", ["select", "drop", "user", "_"])
def test_names_that_are_sql_keywords_are_quoted_not_executed(postgis_dsn, victims, keyword):
    before = snapshot(postgis_dsn)
    points = synthetic_points(30, seed=10)
    with PostgisPointStore.from_points(postgis_dsn, points["lat"], points["lon"], table=keyword) as store:
        assert len(store.nearest(0.0, 0.0, 30)) == 30
    after = snapshot(postgis_dsn)
    assert after.pop(keyword) and after.pop("geo_point_sets")
    before.pop("geo_point_sets")
    assert after == before


def test_a_table_we_did_not_load_is_never_replaced(postgis_dsn):
    with psycopg.connect(postgis_dsn) as conn:
        conn.execute("CREATE TABLE precious (idx bigint, note text)")
        conn.execute("INSERT INTO precious VALUES (1, 'keep me')")
    with pytest.raises(PostgisTableError, match="not loaded by this app"):
        PostgisPointStore.from_points(postgis_dsn, [1.0], [2.0], table="precious")
    with psycopg.connect(postgis_dsn) as conn:
        assert conn.execute("SELECT * FROM precious").fetchall() == [(1, "keep me")]


def test_dropped_table_is_a_typed_error(postgis_dsn):
    points = synthetic_points(20, seed=11)
    store = PostgisPointStore.from_points(postgis_dsn, points["lat"], points["lon"], table="ephemeral")
    with psycopg.connect(postgis_dsn) as conn:
        conn.execute("DROP TABLE ephemeral")
    with pytest.raises(PostgisTableError, match="no longer exists"):
        store.nearest(0.0, 0.0, 1)
    store.close()
