"""The production profile with a streaming standby (issue 22, item 5): `CDDGIS_REPLICAS=1
scripts/production.sh start` copies the local cluster with ``pg_basebackup -R``, starts the hot
standby, a PgBouncer of its own in front of it, and points the apps' CDDGIS_READ_DATABASE_URL
there. Public reads come from the standby, staff writes and their reads from the primary.

The standby's replay is paused (``pg_wal_replay_pause()``) to tell where a read was served: a
row written on the primary is then missing from what the standby serves, and only there.
Waits poll the standby's replay position with a deadline, never a fixed sleep."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from sqlalchemy import Engine, text

from gis import accounts, changes
from gis.cluster import ClusterInfo, LocalCluster, LocalStandby
from gis.db import engine_for
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.staff import add_account
from tests.test_production import _free_port, _get
from tests.workers import db_name, worker_suffix

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "production.sh"
DB = db_name("cddgis_test_prod_replica")
KNN = LAYERS["khok-nong-na"]
ITEMS = f"/api/collections/{KNN.id}/items"
POINT = [98.9853, 18.7883]  # Chiang Mai, province 50
BYPASS = {"X-Cddgis-Cache-Bypass": "1"}  # past nginx's micro-cache: every read reaches an app


@dataclass(frozen=True)
class Profile:
    base: str
    dir: Path
    env: dict[str, str]
    standby: LocalStandby

    @property
    def state(self) -> dict:
        return json.loads((self.dir / "profile.json").read_text())


def _script(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A start copies the whole test cluster (pg_basebackup): minutes on a busy 2-core machine.
    return subprocess.run(["bash", str(SCRIPT), action], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB, full=True))


@pytest.fixture(scope="module")
def profile(owner: Engine, settings: Settings, cluster: ClusterInfo) -> Iterator[Profile]:
    port = _free_port()
    prod_dir = settings.state_dir / f"prod-replica-test{worker_suffix()}"
    env = {**os.environ, "DATABASE_URL": cluster.url(database=DB, role="app"),
           "CDDGIS_OWNER_DATABASE_URL": owner.url.render_as_string(hide_password=False),
           "PORT": str(port), "CDDGIS_PROD_DIR": str(prod_dir), "CDDGIS_TILES": "none",
           "CDDGIS_APPS": "2", "CDDGIS_APP_WORKERS": "1", "CDDGIS_REPLICAS": "1",
           # A paused replay must not take the standby out of the rotation in this test.
           "CDDGIS_REPLICA_MAX_LAG_S": "3600",
           "CDDGIS_API_RATE": "1000", "CDDGIS_API_BURST": "1000"}
    standby = LocalStandby(LocalCluster(settings.state_dir), name=f"{prod_dir.name}-replica-1")
    started = _script("start", env)
    profile = Profile(f"http://127.0.0.1:{port}", prod_dir, env, standby)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield profile
    finally:
        stopped = _script("stop", env)
        try:
            assert stopped.returncode == 0, stopped.stderr
            assert not standby.is_running()  # `make prod-stop` stops the standby too
        finally:
            standby.stop()
            standby.drop_slot(cluster)  # else the primary keeps WAL for it for ever
            shutil.rmtree(standby.dir, ignore_errors=True)  # a whole copy of the test cluster


def _superuser(cluster: ClusterInfo, port: int) -> Any:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                            password=cluster.superuser_password)
    conn.autocommit = True
    return conn


def _poll(cur: Any, query: str, args: tuple, what: str, timeout: float = 600) -> Any:
    """Runs ``query`` until its first column is true; the pause between tries is the
    server's (``pg_sleep``), with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        cur.execute(query, args)
        row = cur.fetchone()
        if row and row[0]:
            return row
        assert time.monotonic() < deadline, what
        cur.execute("SELECT pg_sleep(0.05)")


def _replayed(owner: Engine, cluster: ClusterInfo, standby: LocalStandby) -> None:
    with owner.connect() as conn:
        position = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
    assert standby.port is not None
    conn = _superuser(cluster, standby.port)
    try:
        with conn.cursor() as cur:
            _poll(cur, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,),
                  "the standby did not replay in time")
    finally:
        conn.close()


def _replay(cluster: ClusterInfo, standby: LocalStandby, *, paused: bool) -> None:
    assert standby.port is not None
    conn = _superuser(cluster, standby.port)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_wal_replay_pause()" if paused else
                        "SELECT pg_wal_replay_resume()")
            _poll(cur, "SELECT pg_get_wal_replay_pause_state() = %s",
                  ("paused" if paused else "not paused",), "the replay state did not change",
                  timeout=30)
    finally:
        conn.close()


def test_the_profile_streams_to_a_standby_and_shows_it(profile: Profile,
                                                       cluster: ClusterInfo) -> None:
    names = [p["name"] for p in profile.state["processes"]]
    assert names == ["replica-1", "pgbouncer", "pgbouncer-replica-1", "app-1", "app-2",
                     "nginx"]
    # The primary sees the standby streaming through its slot.
    conn = _superuser(cluster, cluster.port)
    try:
        with conn.cursor() as cur:
            state = _poll(cur, """
                SELECT r.state = 'streaming', r.state FROM pg_replication_slots s
                  JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = %s
            """, (profile.standby.slot,), "the standby is not streaming", timeout=60)
            assert state[1] == "streaming"
    finally:
        conn.close()
    # `make prod-status` names the standby, its stream and its lag.
    status = _script("status", profile.env)
    assert status.returncode == 0, status.stdout + status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith("replica-1 ")
                and "standby" in x)
    assert "streaming" in line and ("caught up" in line or "behind" in line), line
    # The app's health shows the replica in the read rotation, through nginx.
    health = _get(f"{profile.base}/api/health")
    assert health.status == 200 and json.loads(health.body)["replicas"] == ["ok"]
    # The standby's own pool is read-only, whatever the app asks.
    url = profile.env["DATABASE_URL"].split("@")[0].split("//")[1]
    user, password = url.split(":")
    pool = psycopg2.connect(host="127.0.0.1", dbname=DB, user=user, password=password,
                            port=profile.state["replicas"][0]["pgbouncer_port"])
    try:
        with pool.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
            assert cur.fetchone() == (True, "on")
    finally:
        pool.close()


def test_public_reads_come_from_the_standby_and_a_staff_write_from_the_primary(
        profile: Profile, owner: Engine, cluster: ClusterInfo) -> None:
    add_account(owner, "prod-replica-officer", provinces=["50"], layers=[KNN.id])
    changes.set_requires_approval(owner, KNN.id, False)
    token = accounts.issue_token(owner, "prod-replica-officer")
    staff = {"Authorization": f"Bearer {token}", **BYPASS}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": POINT},
               "properties": {"plot_id": "PROD-REPL-1", "plot_size_rai": 3,
                              "model_level": "HLM", "budget_year": 2565}}
    _replayed(owner, cluster, profile.standby)  # the token and account are on the standby
    assert _get(f"{profile.base}{ITEMS}?limit=3", BYPASS).status == 200
    _replay(cluster, profile.standby, paused=True)
    try:
        created = _get(f"{profile.base}{ITEMS}", {**staff,
                                                  "Content-Type": "application/geo+json"},
                       data=json.dumps(feature).encode())
        assert created.status == 201, created.body[:500]
        # The author reads it at once (primary); the public, served by the paused standby,
        # does not have it yet: that read came from the standby.
        assert _get(f"{profile.base}{ITEMS}/PROD-REPL-1", staff).status == 200
        assert _get(f"{profile.base}{ITEMS}/PROD-REPL-1", BYPASS).status == 404
        with owner.connect() as conn:  # and it is on the primary
            assert conn.execute(text("SELECT count(*) FROM layer_features "
                                     "WHERE key = 'PROD-REPL-1'")).scalar_one() == 1
    finally:
        _replay(cluster, profile.standby, paused=False)
    _replayed(owner, cluster, profile.standby)
    assert _get(f"{profile.base}{ITEMS}/PROD-REPL-1", BYPASS).status == 200
    # Nothing was ever written on the standby.
    log = profile.standby.log.read_text(errors="replace")
    assert "read-only transaction" not in log and "cannot execute" not in log


def test_a_stop_keeps_the_copy_and_a_start_without_replicas_retires_it(
        profile: Profile, cluster: ClusterInfo) -> None:
    """`make prod-stop` stops the standby and keeps its copy and slot (the next start catches
    up instead of copying again); started with CDDGIS_REPLICAS=0, the profile retires it: no
    slot left to keep WAL on the primary for ever, no copy left on disk. (Runs last: the
    module's profile is then the one without a replica.)"""
    standby = profile.standby
    assert _script("stop", profile.env).returncode == 0
    assert not standby.is_running() and standby.initialised and standby.has_slot(cluster)

    again = _script("start", profile.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kept, catching up" in again.stdout, again.stdout
    health = _get(f"{profile.base}/api/health")
    assert json.loads(health.body)["replicas"] == ["ok"]

    assert _script("stop", profile.env).returncode == 0
    without = _script("start", {**profile.env, "CDDGIS_REPLICAS": "0"})
    assert without.returncode == 0, without.stdout + without.stderr
    assert f"retired the standby {standby.dir.name}" in without.stdout, without.stdout
    assert not standby.dir.exists() and not standby.has_slot(cluster)
    assert "replicas" not in json.loads(_get(f"{profile.base}/api/health").body)
    assert [p["name"] for p in profile.state["processes"]] == [
        "pgbouncer", "app-1", "app-2", "nginx"]


def test_replicas_of_a_server_not_ours_are_refused_with_a_message(
        settings: Settings) -> None:
    """CDDGIS_REPLICAS copies the project's own cluster only; another server's URL is refused
    before anything starts, naming what to do instead."""
    env = {**os.environ, "CDDGIS_REPLICAS": "1", "PORT": str(_free_port()),
           "CDDGIS_PROD_DIR": str(settings.state_dir / f"prod-refused{worker_suffix()}"),
           "DATABASE_URL": "postgresql+psycopg2://u:p@127.0.0.1:1/elsewhere"}
    refused = subprocess.run([str(ROOT / ".venv" / "bin" / "python"),
                              str(ROOT / "scripts" / "prod" / "profile.py"), "start"],
                             cwd=ROOT, env={**env, "CDDGIS_PROD_APP_URL": env["DATABASE_URL"]},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "CDDGIS_READ_DATABASE_URL" in refused.stderr, refused.stderr
    bad = subprocess.run([str(ROOT / ".venv" / "bin" / "python"),
                          str(ROOT / "scripts" / "prod" / "profile.py"), "start"],
                         cwd=ROOT, env={**env, "CDDGIS_REPLICAS": "one"},
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "CDDGIS_REPLICAS must be a whole number" in bad.stderr
