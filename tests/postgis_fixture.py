"""A throwaway PostgreSQL + PostGIS cluster for tests, shared by the whole session.

Use it from a test module with ``pytest_plugins = ["tests.postgis_fixture"]`` (registering it as a plugin,
rather than importing the fixtures, keeps one cluster per session however many modules ask for it):

- ``postgis_binaries``: only the skip-or-fail check, for tests that make their own cluster;
- ``postgis_cluster``: the running :class:`scripts.postgis_cluster.LocalCluster` (``.stop()``/``.start()``
  for fault tests; the next ``postgis_dsn`` request restarts it);
- ``postgis_dsn``: the app role's connection string, with the server guaranteed to be up.

The cluster is initdb'ed into a fresh folder under /tmp (the ``postgres`` OS user must reach it, which rules
out pytest's private tmp dirs), listens on a random free port on 127.0.0.1 with fsync off, and is deleted at
the end of the session. Without the PostgreSQL/PostGIS binaries the tests are skipped, unless
``REQUIRE_POSTGIS=1`` (set by ``.ci/run``), which turns that into a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from scripts.postgis_cluster import ClusterError, LocalCluster, missing_binaries


def _postgis_required() -> bool:
    return os.environ.get("REQUIRE_POSTGIS") == "1"


@pytest.fixture(scope="session")
def postgis_binaries() -> None:
    """Skips (or, with REQUIRE_POSTGIS=1, fails) when the server binaries or the extension are missing."""
    problem = missing_binaries()
    if problem:
        if _postgis_required():
            pytest.fail(f"REQUIRE_POSTGIS=1 but {problem}")
        pytest.skip(f"{problem} (set REQUIRE_POSTGIS=1 to fail instead)")


@pytest.fixture(scope="session")
def postgis_cluster(postgis_binaries: None) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tempfile.mkdtemp(prefix="postgis-test-"))
    try:
        cluster.start(durable=False)
    except ClusterError as exc:
        cluster.destroy()
        pytest.fail(f"could not start a throwaway PostGIS cluster: {exc}")
    yield cluster
    cluster.destroy()


@pytest.fixture
def postgis_dsn(postgis_cluster: LocalCluster) -> str:
    if not postgis_cluster.is_running():
        postgis_cluster.start()
    return postgis_cluster.dsn()
