"""The local cluster keeps its address across restarts and the running app reconnects by itself.

These tests run their own cluster in a temporary state folder, never the session's shared one.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gis.cluster import LocalCluster, create_database
from gis.migrate import upgrade
from gis.settings import Settings
from tests.serving import served as serving
from web import create_app


@pytest.fixture
def own_cluster() -> Iterator[tuple[LocalCluster, Settings]]:
    """A fresh cluster of its own, migrated, and settings that point the app at it."""
    state = Path(tempfile.mkdtemp(prefix="cddgis-test-cluster-"))
    state.chmod(0o755)  # the postgres system user must reach pgdata inside it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CDDGIS_STATE_DIR=str(state), CDDGIS_TILES="none")
    settings = Settings.from_env(env)
    cluster = LocalCluster(settings.state_dir)
    try:
        info = cluster.start()
        upgrade(create_database(info, "cddgis"))
        yield cluster, settings
    finally:
        cluster.stop()
        shutil.rmtree(cluster.state_dir, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def served(own_cluster: tuple[LocalCluster, Settings]) -> Iterator[str]:
    """The app on that cluster, served over HTTP in a thread (as conftest's live_server)."""
    _, settings = own_cluster
    with serving(create_app(settings)) as base:
        yield base


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _seconds_until_ok(url: str, deadline: float = 30.0) -> float:
    """Poll ``url`` until it answers 200; how long that took."""
    started = time.monotonic()
    while _status(url) != 200:
        assert time.monotonic() - started < deadline, f"{url} never answered 200"
    return time.monotonic() - started


def test_app_recovers_after_database_restart(own_cluster: tuple[LocalCluster, Settings],
                                             served: str) -> None:
    cluster, _ = own_cluster
    health = f"{served}/api/health"
    port = cluster.info().port
    for _ in range(3):  # connections in the pool, which the restart will break
        assert _status(health) == 200
    cluster.stop()
    assert _status(health) == 503
    cluster.start()
    assert cluster.info().port == port, "the cluster moved to another port"
    elapsed = _seconds_until_ok(health)
    assert elapsed < 5, f"the app needed {elapsed:.1f} s to answer again"


def test_port_is_reused_while_old_connections_close(
        own_cluster: tuple[LocalCluster, Settings]) -> None:
    """Before: stop + start moved to a new port (the old one had TIME_WAIT connections)."""
    cluster, _ = own_cluster
    port = cluster.info().port
    for _ in range(3):
        cluster.stop()
        assert cluster.start().port == port


def test_app_follows_a_cluster_that_had_to_move(own_cluster: tuple[LocalCluster, Settings],
                                                served: str) -> None:
    """If another program keeps the port, the cluster moves after a bounded wait, records the
    new port, and the running app's engine follows it without a restart."""
    cluster, _ = own_cluster
    health = f"{served}/api/health"
    assert _status(health) == 200
    port = cluster.info().port
    cluster.stop()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        moved = cluster.start(port_wait=0.5)
    finally:
        squatter.close()
    assert moved.port != port
    assert _seconds_until_ok(health) < 5
