"""The web app's statements are bounded in time; the loaders' are not."""

from __future__ import annotations

import dataclasses
import time

import pytest
from psycopg2.errors import QueryCanceled
from sqlalchemy import text

from core.errors import QueryTimeout
from gis.db import engine_for, web_engine
from gis.settings import Settings
from web import create_app


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """Settings with a short statement and idle-in-transaction limit."""
    return dataclasses.replace(settings, statement_timeout_ms=300,
                               idle_in_transaction_timeout_ms=300)


def test_default_and_bad_setting() -> None:
    assert Settings.from_env({}).statement_timeout_ms == 10_000
    assert Settings.from_env({"CDDGIS_STATEMENT_TIMEOUT_MS": "2500"}).statement_timeout_ms == 2500
    with pytest.raises(ValueError, match="CDDGIS_STATEMENT_TIMEOUT_MS"):
        Settings.from_env({"CDDGIS_STATEMENT_TIMEOUT_MS": "10s"})


def test_web_engine_cancels_a_long_statement(quick: Settings, db_url: str) -> None:
    engine = web_engine(quick, db_url)
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught, engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    assert isinstance(caught.value.__cause__, QueryCanceled)
    assert "0.3 s" in caught.value.message
    assert time.monotonic() - started < 2
    with engine.connect() as conn:  # the pool is still usable afterwards
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "300ms"


def test_default_web_engine_has_ten_seconds(settings: Settings, db_url: str) -> None:
    with web_engine(Settings.from_env({}), db_url).connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "10s"


def test_loader_engine_has_no_limit(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_idle_transaction_is_closed_by_the_server(quick: Settings, db_url: str) -> None:
    """A web connection left idle inside a transaction does not hold its locks for ever."""
    web = web_engine(quick, db_url)
    watcher = engine_for(db_url)
    conn = web.connect()
    try:
        conn.begin()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        deadline = time.monotonic() + 10
        while True:
            with watcher.connect() as w:
                alive = w.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                  {"p": pid}).scalar()
            if not alive:
                break
            assert time.monotonic() < deadline, "the idle transaction was never closed"
    finally:
        conn.invalidate()
        conn.close()


def test_api_request_over_the_limit_answers_504_quickly(quick: Settings, db_url: str) -> None:
    """A request whose query runs over the limit (here: blocked behind a lock) is stopped by
    PostgreSQL and answered with a clear JSON message, not left running."""
    app = create_app(quick, database_url=db_url)
    holder = engine_for(db_url).connect()
    try:
        holder.begin()
        holder.execute(text("LOCK TABLE provinces IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = app.test_client().get("/api/collections/provinces/items")
        elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 504, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "QueryTimeout"
    assert "0.3 s" in body["description"] and "วินาที" in body["description"]
    assert elapsed < 3
