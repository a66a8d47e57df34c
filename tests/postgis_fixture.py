"""A throwaway PostgreSQL + PostGIS cluster for tests, shared by the whole session.

Use it from a test module with ``pytest_plugins = ["tests.postgis_fixture"]`` (registering it as a plugin,
rather than importing the fixtures, keeps one cluster per session however many modules ask for it):

- ``postgis_binaries``: only the skip-or-fail check, for tests that make their own cluster;
- ``postgis_cluster``: the running :class:`scripts.postgis_cluster.LocalCluster` (``.stop()``/``.start()``
  for fault tests; the next ``postgis_dsn`` request restarts it);
- ``postgis_dsn``: the app role's connection string, with the server guaranteed to be up.

The cluster is initdb'ed into a fresh folder under /tmp (the ``postgres`` OS user must reach it, which rules
out pytest's private tmp dirs), listens on a random free port on 127.0.0.1 with fsync off, and is deleted at
the end of the session. Without the PostgreSQL/PostGIS binaries the tests fail (never skip): ``make test``
installs them (``scripts/system_packages.sh``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from scripts.postgis_cluster import ClusterError, LocalCluster, missing_binaries


@pytest.fixture(scope="session")
def postgis_binaries() -> None:
    """Fails, with what to install, when the server binaries or the extension are missing."""
    problem = missing_binaries()
    if problem:
        pytest.fail(f"{problem}: `make test` installs PostgreSQL and PostGIS (scripts/system_packages.sh)")


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
