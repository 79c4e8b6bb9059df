"""Database errors told as what they mean (gis/errors.py, issue 20): each class raised through a
real statement on the real PostGIS, and what a client then gets over HTTP. Before, every one of
these was a 503 "the database is not reachable", and the log held the statement's parameters.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import pytest
from psycopg2.extensions import STATUS_READY
from sqlalchemy import Engine, text

from core.errors import (
    Conflict,
    InternalError,
    QueryTimeout,
    Unavailable,
    UnstorableValue,
)
from gis.bulk import insert_values
from gis.db import engine_for, web_engine
from gis.settings import Settings
from web import create_app

OWNER_NAME = "นางสมศรี ทดสอบส่วนตัว"  # stands for a plot owner's name: never in a log or answer


@pytest.fixture(scope="module")
def scratch(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database("cddgis_test_db_errors"))


def test_a_refused_connection_is_unavailable() -> None:
    down = engine_for("postgresql+psycopg2://x:y@127.0.0.1:9/none")
    with pytest.raises(Unavailable) as caught, down.connect():
        pass
    assert caught.value.status == 503 and caught.value.retry_after_s > 0
    assert "127.0.0.1" not in caught.value.message


def test_a_statement_over_the_time_limit_is_a_query_timeout(settings: Settings,
                                                            scratch: Engine) -> None:
    quick = dataclasses.replace(settings, statement_timeout_ms=200)
    url = scratch.url.render_as_string(hide_password=False)
    with pytest.raises(QueryTimeout) as caught, web_engine(quick, url).connect() as conn:
        conn.execute(text("SELECT pg_sleep(3)"))
    assert caught.value.status == 504 and "0.2 s" in caught.value.message


def test_a_duplicate_key_is_a_conflict(scratch: Engine) -> None:
    with scratch.begin() as conn:
        conn.execute(text("DELETE FROM tile_versions WHERE collection = 'test-dup'"))
    with pytest.raises(Conflict) as caught, scratch.begin() as conn:
        conn.execute(text("INSERT INTO tile_versions (collection, version) VALUES "
                          "('test-dup', 1), ('test-dup', 2)"))
    assert caught.value.status == 409 and "exists already" in caught.value.message


@pytest.mark.parametrize(("statement", "says"), [
    ("SELECT CAST(:v AS integer)", "not in a valid form"),
    ("SELECT CAST(:v AS numeric)::integer", "not in a valid form"),
    ("SELECT CAST(CAST(:big AS numeric) AS integer)", "too large"),
    ("SELECT CAST(:v AS jsonb)", "not in a valid form"),
])
def test_a_value_the_database_cannot_hold_is_unprocessable_without_the_value(
        scratch: Engine, statement: str, says: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(UnstorableValue) as caught, \
            scratch.connect() as conn:
        conn.execute(text(statement), {"v": OWNER_NAME, "big": "1" + "0" * 40})
    assert caught.value.status == 422 and says in caught.value.message
    assert OWNER_NAME not in caught.value.message
    assert OWNER_NAME not in caplog.text


def test_a_missing_required_value_names_its_column(scratch: Engine) -> None:
    with pytest.raises(UnstorableValue) as caught, scratch.begin() as conn:
        conn.execute(text("INSERT INTO tile_versions (collection, version) VALUES (NULL, 1)"))
    assert caught.value.column == "collection" and "collection" in caught.value.message


def test_a_bug_in_our_sql_is_a_500_whose_id_is_in_the_log_without_parameters(
        scratch: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(InternalError) as caught, \
            scratch.connect() as conn:
        conn.execute(text("SELECT no_such_column FROM provinces WHERE name_th = :n"),
                     {"n": OWNER_NAME})
    error_id = caught.value.error_id
    assert caught.value.status == 500 and error_id in caught.value.message
    assert f"database error {error_id}" in caplog.text and "42703" in caplog.text
    assert OWNER_NAME not in caplog.text and OWNER_NAME not in str(caught.value)


def test_the_driver_path_is_translated_too(scratch: Engine,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """``execute_values`` runs through psycopg2 itself (gis/bulk.py)."""
    with caplog.at_level(logging.DEBUG), pytest.raises(UnstorableValue), \
            scratch.begin() as conn:
        insert_values(conn, "INSERT INTO tile_versions (collection, version) VALUES %s",
                      [("test-driver", OWNER_NAME)])
    assert OWNER_NAME not in caplog.text


def test_numbers_too_large_for_a_row_id_in_urls_are_404(settings: Settings,
                                                        scratch: Engine) -> None:
    """Staff and API URLs with a row number PostgreSQL's integer cannot hold answered 503."""
    client = create_app(settings, database_url=scratch.url.render_as_string(
        hide_password=False)).test_client()
    for path in ("/staff/upload/99999999999999999999/status",
                 "/api/changes/99999999999999999999",
                 "/staff/layers/khok-nong-na/99999999999999999999"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)


def test_an_unreachable_database_answers_503_with_retry_after(settings: Settings) -> None:
    down = create_app(settings, database_url="postgresql+psycopg2://x:y@127.0.0.1:9/none")
    response = down.test_client().get("/api/collections/provinces/items")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["code"] == "ServiceUnavailable"


def test_an_internal_error_answers_500_with_the_id(settings: Settings, db_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(settings, database_url=db_url)

    def broken() -> str:
        with engine_for(db_url).connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        return "unreachable"

    app.add_url_rule("/api/broken", "broken", broken)
    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/api/broken")
    body = response.get_json()
    assert response.status_code == 500 and body["code"] == "InternalServerError"
    error_id = body["description"].split("error id ")[1].split(")")[0]
    assert f"database error {error_id}" in caplog.text
    assert f"error id {error_id}" in caplog.text


def _terminate(engine: Engine, pid: int) -> None:
    """Closes one session from the server's side, as a database restart does (from a session
    of its own, outside the pool under test)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    other = create_engine(engine.url, poolclass=NullPool)
    with other.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    other.dispose()


def test_an_idle_pooled_connection_the_server_closed_is_replaced_unseen(
        copy_database: Callable[..., str]) -> None:
    """Issue 26: no ping on every checkout, yet a connection that sat in the pool (here marked
    as returned long ago, rather than waited for) and was closed by the server meanwhile is
    replaced before the request uses it."""
    from gis import db

    url = copy_database("cddgis_test_db_idle_ping")
    engine = db.engine_for(url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        record = conn.connection._connection_record
    _terminate(engine, pid)
    assert record is not None
    record.info["returned_at"] -= db.IDLE_PING_S + 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    # A live idle connection is tested too, and handed out outside a transaction (the test's
    # SELECT must not leave one open: an AUTOCOMMIT connection then cannot be set up).
    with engine.connect() as conn:
        record = conn.connection._connection_record
    assert record is not None
    record.info["returned_at"] -= db.IDLE_PING_S + 1
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.status == STATUS_READY
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("SELECT 1"))
    engine.dispose()


def test_a_busy_pooled_connection_is_used_without_a_ping(
        copy_database: Callable[..., str]) -> None:
    """The other half: a connection back in the pool a moment ago is used as it is (that ping
    cost a fifth of a simple page's time). If the server closed it meanwhile, that one request
    meets a 503 that asks to retry, and the pool, invalidated, serves the next one."""
    from gis import db

    engine = db.engine_for(copy_database("cddgis_test_db_busy_no_ping"))
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    _terminate(engine, pid)
    with pytest.raises(Unavailable), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()
