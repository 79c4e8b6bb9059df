"""Reads on a PostgreSQL streaming replica, writes on the primary (issue 22), with two real
clusters: the test PostGIS and a hot standby of it made here by ``pg_basebackup -R``
(``gis.cluster.LocalStandby``), on its own port and data directory under the state dir.

The replica's replay is paused (``pg_wal_replay_pause()``) to make lag as long as a test needs:
what the public reads then shows where it was read, and staff must still see their own writes.
Waits poll the standby's replay position with a deadline, never a fixed sleep."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from core.errors import InternalError
from gis import accounts, changes
from gis import tiles as gt
from gis.cluster import ClusterInfo, LocalCluster, LocalStandby
from gis.db import engine_for
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.staff import add_account, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_replicas")
KNN = LAYERS["khok-nong-na"]
ITEMS = f"/api/collections/{KNN.id}/items"
TILEJSON = f"/api/collections/{KNN.id}/tiles/WebMercatorQuad/tilejson.json"
POINT = [98.9853, 18.7883]  # Chiang Mai, province 50
REFUSED = "read-only transaction"  # "cannot execute INSERT in a read-only transaction"
PUBLIC_URLS = ["/", "/boundaries", "/layers", f"/layers/{KNN.id}", "/dashboard", "/tour",
               "/choropleth", "/api/collections", f"{ITEMS}?limit=5",
               "/api/collections/provinces/items?limit=2", "/api/places?q=เชียงใหม่",
               "/api/indicators", "/tour/search.json?q=บ้าน", TILEJSON,
               "/api/areas/province/50/summary"]




@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    """The test database on the primary, made before the standby is copied from it."""
    return engine_for(copy_database(DB, full=True))


@pytest.fixture(scope="module")
def standby(settings: Settings, cluster: ClusterInfo, owner: Engine) -> Iterator[LocalStandby]:
    """A fresh hot standby of the test cluster, stopped and removed after the module."""
    replica = LocalStandby(LocalCluster(settings.state_dir), name=db_name("standby"))
    replica.create(cluster, fresh=True)
    replica.start(cluster)
    try:
        _wait_for_replay(owner, replica, cluster)
        yield replica
    finally:
        replica.stop()
        replica.drop_slot(cluster)  # else the primary keeps WAL for it for ever
        shutil.rmtree(replica.dir, ignore_errors=True)  # a whole copy of the test cluster


def _superuser(cluster: ClusterInfo, port: int) -> Any:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                            password=cluster.superuser_password)
    conn.autocommit = True
    return conn


def _wait_for_replay(owner: Engine, standby: LocalStandby, cluster: ClusterInfo,
                     timeout: float = 900) -> None:
    """Until the standby has replayed everything the primary had written when asked. The
    standby replays the whole test cluster: beside another xdist worker loading a million
    points, that is minutes of WAL on a busy machine (120 s was seen to be too short)."""
    with owner.connect() as conn:
        position = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
    assert standby.port is not None
    deadline = time.monotonic() + timeout
    conn = _superuser(cluster, standby.port)
    try:
        with conn.cursor() as cur:
            while True:
                cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,))
                if cur.fetchone()[0]:
                    return
                assert time.monotonic() < deadline, "the standby did not replay in time"
                cur.execute("SELECT pg_sleep(0.05)")  # the poll's pace, on the server
    finally:
        conn.close()


def _replay(cluster: ClusterInfo, standby: LocalStandby, *, paused: bool) -> None:
    """Pauses or resumes the standby's replay, and waits until it has."""
    assert standby.port is not None
    conn = _superuser(cluster, standby.port)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_wal_replay_pause()" if paused else
                        "SELECT pg_wal_replay_resume()")
            deadline = time.monotonic() + 30
            while True:
                cur.execute("SELECT pg_get_wal_replay_pause_state()")
                state = cur.fetchone()[0]
                if (state == "paused") == paused and (paused or state == "not paused"):
                    return
                assert time.monotonic() < deadline, f"replay state stays {state}"
                cur.execute("SELECT pg_sleep(0.05)")
    finally:
        conn.close()


def _refused_on_replica(standby: LocalStandby) -> list[str]:
    """The standby's log lines that say a write was tried on it."""
    if not standby.log.exists():
        return []
    return [line for line in standby.log.read_text(errors="replace").splitlines()
            if REFUSED in line or "cannot execute" in line]


def _app(settings: Settings, cluster: ClusterInfo, standby: LocalStandby,
         max_lag_s: float = 3600) -> Flask:
    app = create_app(dataclasses.replace(
        settings, read_database_urls=(standby.url(cluster, DB),), replica_max_lag_s=max_lag_s,
        cookie_secure=False), database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def app(settings: Settings, cluster: ClusterInfo, standby: LocalStandby) -> Flask:
    return _app(settings, cluster, standby)


@pytest.fixture(scope="module")
def token(owner: Engine) -> str:
    add_account(owner, "replica-officer", provinces=["50"], layers=[KNN.id])
    changes.set_requires_approval(owner, KNN.id, False)
    return accounts.issue_token(owner, "replica-officer")


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _feature(plot: str, **more: object) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": POINT},
            "properties": {"plot_id": plot, "plot_size_rai": 3, "model_level": "HLM",
                           "budget_year": 2565, **more}}


def _tile_url(client: FlaskClient, headers: dict[str, str] | None = None) -> str:
    """The z14 tile over POINT, as the TileJSON this reader is given names it (versioned)."""
    template = client.get(TILEJSON, headers=headers or {}).get_json()["tiles"][0]
    x, y = gt.lonlat_to_tile(POINT[0], POINT[1], 14)
    return template.replace("{z}", "14").replace("{x}", str(x)).replace("{y}", str(y))


def test_public_reads_come_from_the_replica_and_staff_read_their_own_writes(
        app: Flask, owner: Engine, standby: LocalStandby, cluster: ClusterInfo,
        token: str) -> None:
    client = app.test_client()
    for url in PUBLIC_URLS:  # every public reader works on the replica
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    before_url = _tile_url(client)
    before = client.get(before_url)
    assert before.status_code == 200 and b"REPL-1" not in before.data

    _replay(cluster, standby, paused=True)
    try:
        created = client.post(ITEMS, data=json.dumps(_feature("REPL-1")),
                              headers=_bearer(token), content_type="application/geo+json")
        assert created.status_code == 201, created.text
        # Its author reads it at once (their reads go to the primary) ...
        mine = client.get(f"{ITEMS}/REPL-1", headers=_bearer(token))
        assert mine.status_code == 200 and mine.headers["ETag"] == '"1"'
        staff_tile_url = _tile_url(client, _bearer(token))
        assert staff_tile_url != before_url  # the primary's version, with the write
        # ... the public, served by the replica that has not replayed it, does not yet.
        assert client.get(f"{ITEMS}/REPL-1").status_code == 404
        # A tile URL carries the version the replica has replayed, never a newer one; its
        # tile (from the primary's cache) is of that version or newer, and not kept under the
        # old URL: the versions differ.
        assert _tile_url(client) == before_url
        behind = client.get(before_url)
        assert behind.status_code == 200 and b"REPL-1" in behind.data
        assert "immutable" not in behind.headers["Cache-Control"]
    finally:
        _replay(cluster, standby, paused=False)
    _wait_for_replay(owner, standby, cluster)

    # Replayed: the public sees the write, with new tile URLs whose tile holds the new point.
    assert client.get(f"{ITEMS}/REPL-1").status_code == 200
    after_url = _tile_url(client)
    assert after_url == staff_tile_url
    after = client.get(after_url)
    assert after.status_code == 200 and b"REPL-1" in after.data
    assert "immutable" in after.headers["Cache-Control"]
    assert _refused_on_replica(standby) == []


def test_a_staff_session_reads_its_own_edit_at_once(
        app: Flask, owner: Engine, standby: LocalStandby, cluster: ClusterInfo) -> None:
    add_account(owner, "replica-editor", provinces=["50"], layers=[KNN.id])
    staff = app.test_client()
    assert sign_in(staff, "replica-editor").status_code in (302, 303)
    public = app.test_client()
    _replay(cluster, standby, paused=True)
    try:
        # A cookie-signed staff session: its writes and reads both go to the primary.
        token = accounts.issue_token(owner, "replica-editor")
        edited = staff.post(ITEMS, data=json.dumps(_feature("REPL-2")),
                            headers=_bearer(token), content_type="application/geo+json")
        assert edited.status_code == 201, edited.text
        assert staff.get(f"{ITEMS}/REPL-2").status_code == 200  # the session's own read
        assert public.get(f"{ITEMS}/REPL-2").status_code == 404  # not replayed yet
    finally:
        _replay(cluster, standby, paused=False)
    _wait_for_replay(owner, standby, cluster)
    assert public.get(f"{ITEMS}/REPL-2").status_code == 200
    assert _refused_on_replica(standby) == []


def _health(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/api/health")
    assert answer.status_code == 200, answer.text
    return answer.get_json()


def _until(condition: Callable[[], bool], timeout: float = 600) -> None:
    """Polls ``condition`` (each call a real request) until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"


def test_a_lagging_replica_leaves_the_rotation(
        settings: Settings, owner: Engine, standby: LocalStandby, cluster: ClusterInfo,
        token: str) -> None:
    app = _app(settings, cluster, standby, max_lag_s=0.2)
    client = app.test_client()
    assert _health(client)["replicas"] == ["ok"]
    _replay(cluster, standby, paused=True)
    try:
        created = client.post(ITEMS, data=json.dumps(_feature("REPL-3")),
                              headers=_bearer(token), content_type="application/geo+json")
        assert created.status_code == 201, created.text
        _until(lambda: _health(client)["replicas"] == ["lagging"])
        # Out of the rotation: the public reads the primary, and sees the write.
        assert client.get(f"{ITEMS}/REPL-3").status_code == 200
        # Each database's state in words, nothing more (no host, port or lag figure).
        assert set(_health(client)) == {
            "status", "database", "postgresql", "postgis", "replicas"}
    finally:
        _replay(cluster, standby, paused=False)
    _until(lambda: _health(client)["replicas"] == ["ok"])
    assert _refused_on_replica(standby) == []


def test_a_stopped_replica_leaves_the_site_answering_from_the_primary(
        app: Flask, standby: LocalStandby, cluster: ClusterInfo) -> None:
    client = app.test_client()
    assert client.get(f"{ITEMS}?limit=1").status_code == 200
    standby.stop()
    try:
        body = _health(client)
        assert body["status"] == "ok" and body["replicas"] == ["unreachable"]
        assert "127.0.0.1" not in json.dumps(body) and str(standby.port) not in json.dumps(body)
        for url in PUBLIC_URLS:
            answer = client.get(url)
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        assert client.get(_tile_url(client)).status_code == 200
    finally:
        standby.start(cluster)
    _until(lambda: _health(client)["replicas"] == ["ok"])
    assert _refused_on_replica(standby) == []


def test_a_write_on_the_read_path_fails_without_a_replica_too(
        settings: Settings, cluster: ClusterInfo, copy_database: Callable[..., str]) -> None:
    """The read path is read-only on the primary as well: a query in gis/ that writes through
    ``connect()`` fails in the one-database tests, not first in production with a replica."""
    name = db_name("cddgis_test_read_path")
    copy_database("cddgis_test_read_path", empty=True)
    engine = create_app(settings, database_url=cluster.url(database=name, role="app")
                        ).extensions["cddgis.engine"]
    insert = text("INSERT INTO sign_in_failures (name, address) VALUES ('x', '192.0.2.1')")
    with pytest.raises(InternalError), engine.connect() as conn:
        conn.execute(insert)
        conn.commit()
    with engine.begin() as conn:  # the write path: the primary, writable
        conn.execute(insert)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sign_in_failures")).scalar_one() == 1
