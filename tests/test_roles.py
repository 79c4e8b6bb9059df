"""Least privilege: the web app's role reads, and writes only what it is granted; the schema
belongs to the owner role; each role (and the superuser) has its own password."""

from __future__ import annotations

import json
import stat

import psycopg2
import pytest
from psycopg2.errors import InsufficientPrivilege
from sqlalchemy import text

from cddgis.cli import main
from core.errors import InternalError
from gis.cluster import APP_ROLE, OWNER_ROLE, ClusterInfo, LocalCluster
from gis.db import engine_for
from gis.settings import Settings
from tests.workers import db_name
from web import create_app

TEST_DB = db_name("cddgis_test")


@pytest.fixture
def app_url(cluster: ClusterInfo, db_url: str) -> str:
    """The session's migrated test database, as the web app's role."""
    return cluster.url(database=TEST_DB, role="app")


def test_each_role_has_its_own_password(settings: Settings, cluster: ClusterInfo) -> None:
    info_file = LocalCluster(settings.state_dir).info_file
    assert stat.S_IMODE(info_file.stat().st_mode) == 0o600
    recorded = json.loads(info_file.read_text())
    passwords = [recorded[k] for k in ("superuser_password", "owner_password", "app_password")]
    assert len(set(passwords)) == 3 and all(len(p) >= 24 for p in passwords)
    # The app's password does not open the superuser (nor the owner).
    for user in ("postgres", OWNER_ROLE):
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(host="127.0.0.1", port=cluster.port, user=user,
                             password=cluster.app_password, dbname=TEST_DB)


@pytest.mark.parametrize("statement", [
    "CREATE TABLE intruder (id int)",
    "DROP TABLE provinces",
    "UPDATE provinces SET name_en = name_en",
    # the staff page writes indicator rows (0023), never empties the tables
    "TRUNCATE indicators",
    "DELETE FROM villages",
    "TRUNCATE layer_features",
    "ALTER TABLE villages ADD COLUMN x int",
    "CREATE TEMP TABLE scratch (id int)",
])
def test_app_role_cannot_change_schema_or_reference_data(app_url: str, statement: str) -> None:
    with pytest.raises(InternalError) as caught, engine_for(app_url).begin() as conn:
        conn.execute(text(statement))
    # Our bug, not the client's: a 500 with an error id; the driver's error is the cause.
    assert isinstance(caught.value.__cause__, InsufficientPrivilege), caught.value


def test_app_role_reads_and_writes_only_granted_tables(app_url: str) -> None:
    with engine_for(app_url).connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == APP_ROLE
        conn.execute(text("SELECT count(*) FROM provinces")).scalar()
        new_id = conn.execute(text("""
            INSERT INTO layer_imports (layer, source_file, file_sha256, mode, committed,
                rows_total, rows_ok, rows_warning, rows_error, inserted, updated)
            VALUES ('learning-centers', 'x.csv', '0', 'test', false, 0, 0, 0, 0, 0, 0)
            RETURNING id""")).scalar()
        assert new_id is not None  # the id sequence is usable too
        conn.rollback()


def test_tables_the_owner_adds_later_are_readable_not_writable(db_url: str,
                                                               app_url: str) -> None:
    """ALTER DEFAULT PRIVILEGES: a table a later migration creates is readable by the app."""
    owner = engine_for(db_url)
    with owner.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS future_table"))
        conn.execute(text("CREATE TABLE future_table (id int)"))
    try:
        with engine_for(app_url).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM future_table")).scalar() == 0
            with pytest.raises(InternalError) as caught:
                conn.execute(text("INSERT INTO future_table VALUES (1)"))
            assert isinstance(caught.value.__cause__, InsufficientPrivilege)
    finally:
        with owner.begin() as conn:
            conn.execute(text("DROP TABLE future_table"))


def test_web_app_works_as_app_role(settings: Settings, app_url: str) -> None:
    client = create_app(settings, database_url=app_url).test_client()
    for path in ("/api/health", "/api/collections", "/api/collections/provinces/items?limit=2",
                 "/api/collections/districts/items/5001", "/api/collections/learning-centers/items",
                 "/api/indicators", "/boundaries", "/layers", "/choropleth",
                 "/api/places?q=เชียงใหม่"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    assert client.get("/api/collections/provinces/items?limit=2").get_json()[
        "numberReturned"] == 2


def test_db_url_prints_each_role(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                 settings: Settings, cluster: ClusterInfo) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CDDGIS_OWNER_DATABASE_URL", raising=False)
    monkeypatch.setenv("CDDGIS_STATE_DIR", str(settings.state_dir))
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip() == cluster.url(role="app")
    assert main(["db", "url", "--role", "owner"]) == 0
    assert capsys.readouterr().out.strip() == cluster.url(role="owner")
    assert f"//{APP_ROLE}:" in cluster.url(role="app")
    assert f"//{OWNER_ROLE}:" in cluster.url(role="owner")


def test_one_database_url_serves_both_roles(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    """An operator with one URL: the owner URL defaults to it."""
    one = "postgresql+psycopg2://me:pw@db.example:5432/gis"
    monkeypatch.setenv("DATABASE_URL", one)
    monkeypatch.delenv("CDDGIS_OWNER_DATABASE_URL", raising=False)
    for argv in (["db", "url"], ["db", "url", "--role", "owner"]):
        assert main(argv) == 0
        assert capsys.readouterr().out.strip() == one
    owner = "postgresql+psycopg2://boss:pw2@db.example:5432/gis"
    monkeypatch.setenv("CDDGIS_OWNER_DATABASE_URL", owner)
    assert main(["db", "url", "--role", "owner"]) == 0
    assert capsys.readouterr().out.strip() == owner
    assert Settings.from_env({"DATABASE_URL": one}).owner_database_url == one
