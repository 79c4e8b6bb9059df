"""Where the database is, and one engine per URL and purpose (web app or loaders)."""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psycopg2
from sqlalchemy import (
    Connection,
    Engine,
    PoolProxiedConnection,
    create_engine,
    event,
    exc,
    make_url,
    text,
)

from core.errors import Unavailable
from gis.cluster import LocalCluster, recorded_port
from gis.errors import translate_errors
from gis.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    """Neither DATABASE_URL nor a local cluster is there to connect to."""


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Every engine this process made, so a forked child can drop the pools it inherited."""


def _forget_inherited_pools() -> None:
    """In a forked child (a gunicorn worker, a job process): every engine starts a new, empty
    pool, leaving the parent's sockets to the parent (``close=False``). Without this, two
    workers share one PostgreSQL session through an inherited socket, and one worker's COMMIT
    can commit another's open transaction — a dry run's rows included (issue 25, item 0)."""
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_pools)


def close_idle_connections() -> None:
    """Closes every pool's idle connections (checked-out ones are left to their users; a
    pool opens new ones when next asked). For a process that makes many engines over its
    life — the test session makes one or two per test database — so idle sessions do not
    pile up to the server's ``max_connections``."""
    for engine in list(_ENGINES):
        engine.dispose()


def _guard_against_fork(engine: Engine) -> None:
    """SQLAlchemy's recipe for pools and forks, behind the fork hook: a connection made in
    another process is never handed out here (it is discarded and a new one made), whatever
    way this process was started."""
    @event.listens_for(engine, "connect")
    def _remember_pid(dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _refuse_foreign(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError(
                "connection made in another process: a new one is opened")


def _normalise(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return url


def database_url(settings: Settings, role: str = "app") -> str:
    """The URL for ``role``: ``app`` (the web app: DATABASE_URL) or ``owner`` (migrate and load:
    CDDGIS_OWNER_DATABASE_URL, else DATABASE_URL); without them, the project-local cluster's
    (which must have been started)."""
    configured = settings.owner_database_url if role == "owner" else settings.database_url
    if configured:
        return _normalise(configured)
    if settings.database_url and role == "owner":
        return _normalise(settings.database_url)
    if settings.owner_database_url and role == "app":
        raise DatabaseNotConfigured(
            "CDDGIS_OWNER_DATABASE_URL is set but DATABASE_URL (the web app's role) is not.")
    info = LocalCluster(settings.state_dir).info()
    if info is None:
        raise DatabaseNotConfigured(
            "No database: set DATABASE_URL, or run `cddgis db start` to create the local PostGIS."
        )
    return info.url(role=role)


@cache
def engine_for(url: str, *, statement_timeout_ms: int = 0,
               idle_in_transaction_timeout_ms: int = 0,
               cluster_file: Path | None = None, read_only: bool = False) -> Engine:
    """A pooled engine. A connection idle for a while is tested before use (``_ping_if_idle``),
    so the first request after a database restart does not fail. Timeouts (ms, 0 = none) are
    set on every connection at start-up; the loaders' engine has none (their work is long and
    legitimate). With ``cluster_file`` (the local cluster's cluster.json) each new connection
    goes to the port recorded there now, so the app follows the cluster if it ever moved."""
    connect_args: dict[str, object] = {"connect_timeout": 5, "application_name": "cddgis"}
    options = []
    if statement_timeout_ms:
        options.append(f"-c statement_timeout={int(statement_timeout_ms)}")
    if idle_in_transaction_timeout_ms:
        options.append("-c idle_in_transaction_session_timeout="
                       f"{int(idle_in_transaction_timeout_ms)}")
    if read_only:
        # Every transaction of this engine is read-only, on the primary as on a replica: a
        # write sent down the read path fails the same way with or without a replica, so the
        # tests of a one-database setup catch it too (SQLSTATE 25006).
        options.append("-c default_transaction_read_only=on")
    if options:
        connect_args["options"] = " ".join(options)
    # hide_parameters: a failed statement's parameters (a plot owner's name, say) never reach
    # an exception's text, and so never a log line or an answer.
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_recycle=RECYCLE_S,
                           connect_args=connect_args, hide_parameters=True)
    _ping_if_idle(engine)
    _guard_against_fork(engine)
    translate_errors(engine, statement_timeout_ms)
    _ENGINES.add(engine)
    if cluster_file is not None:
        @event.listens_for(engine, "do_connect")
        def _current_port(dialect: object, record: object, cargs: object,
                          cparams: dict[str, object]) -> None:
            port = recorded_port(cluster_file)
            if port is not None:
                cparams["port"] = port
    return engine


# A connection back in the pool for longer than this is tested with one round trip before it is
# used; one that came back more recently is used as it is. Under load (when a ping would cost a
# fifth of a simple page's time, issue 26) connections come back within milliseconds; after a
# quiet spell, or a database restart, the test replaces a dead connection before a request sees it.
IDLE_PING_S = 2.0
RECYCLE_S = 1800  # connections are replaced after half an hour, whatever happens


def _ping_if_idle(engine: Engine) -> None:
    """SQLAlchemy's custom pessimistic disconnect handling: raising ``DisconnectionError`` in
    ``checkout`` makes the pool drop the connection and hand out a fresh one (up to 3 tries).
    A disconnect seen by a statement still invalidates the whole pool (SQLAlchemy's default),
    so after a restart at most one request per process, on a connection used within the last
    ``IDLE_PING_S``, can meet the error (a 503 that asks to retry)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_S:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            # psycopg2 opened a transaction for the SELECT: the pool hands out a connection
            # outside any (SET SESSION and isolation levels refuse to run inside one).
            dbapi_connection.rollback()
        except Exception as error:  # the driver's OperationalError/InterfaceError
            raise exc.DisconnectionError("an idle pooled connection was closed") from error


def _local_cluster_file(settings: Settings, url: str) -> Path | None:
    """cluster.json when ``url`` points at the local cluster (as recorded now), else None."""
    if settings.database_url:
        return None
    cluster = LocalCluster(settings.state_dir)
    parsed = make_url(url)
    port = recorded_port(cluster.info_file)
    if port is None or parsed.host != "127.0.0.1" or parsed.port != port:
        return None
    return cluster.info_file


def web_engine(settings: Settings, url: str | None = None, *,
               read_only: bool = False) -> Engine:
    """The web app's engine: bounded statement time, so a heavy request (e.g. a 1,000 km radius
    with 10,000 rows) is cancelled by PostgreSQL instead of running on after the client left."""
    url = url or database_url(settings)
    return engine_for(url,
                      statement_timeout_ms=settings.statement_timeout_ms,
                      idle_in_transaction_timeout_ms=settings.idle_in_transaction_timeout_ms,
                      cluster_file=_local_cluster_file(settings, url), read_only=read_only)


# -- reads on streaming replicas, writes on the primary (issue 22) ----------------------------

PRIMARY_READS: ContextVar[bool] = ContextVar("cddgis_primary_reads", default=False)
"""True while the reads of this context must see every write already committed on the primary
(a signed-in staff member's request, an API client with a token, any request that writes):
they go to the primary. The web app sets it at the start of every request."""

CHECK_EVERY_S = 1.0
"""How often (at most) each process asks a replica how far behind it is."""

IN_ROTATION = "ok"
STATES = (IN_ROTATION, "lagging", "unreachable", "not-a-standby", "unknown")


@dataclass
class Replica:
    """One streaming replica, and what its last check found (``state``: one of ``STATES``)."""

    engine: Engine
    state: str = "unknown"
    checked_at: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock)


class RoutedEngine(Engine):
    """The web app's engine: an Engine to the code in gis/, which routes each unit of work by
    what it does. ``begin()`` (a transaction that commits: a write) goes to the primary;
    ``connect()`` and ``raw_connection()`` (work that is rolled back or autocommitted reads, the
    way every reader in gis/ is written) go to a replica in the rotation, or to the primary when
    none is or ``PRIMARY_READS`` is set. Every read connection is read-only, the primary's too,
    so a write on the read path fails in every setup, not only with a replica. Code that must
    write through ``connect()`` (a long import's own transaction) asks ``writer(engine)``.

    Anything else (``url``, ``dialect``) is the primary's: the engine is built on its pool."""

    def __init__(self, primary: Engine, primary_reads: Engine, replicas: list[Engine],
                 max_lag_s: float, statement_timeout_ms: int = 0) -> None:
        super().__init__(primary.pool, primary.dialect, primary.url, hide_parameters=True)
        translate_errors(self, statement_timeout_ms)  # the tile path's errors name the limit
        self.primary, self.primary_reads = primary, primary_reads
        self.replicas = [Replica(e) for e in replicas]
        self.max_lag_s = max_lag_s
        self._turn = itertools.count()

    # -- routing
    def connect(self) -> Connection:
        replica = self._replica()
        if replica is not None:
            try:
                return replica.engine.connect()
            except Unavailable:
                replica.state = "unreachable"
        return self.primary_reads.connect()

    def raw_connection(self) -> PoolProxiedConnection:
        replica = self._replica()
        if replica is not None:
            try:
                return replica.engine.raw_connection()
            except (Unavailable, exc.DBAPIError, psycopg2.OperationalError):
                # The pool hands the driver's own error up from here (no handle_error event).
                replica.state = "unreachable"
        return self.primary_reads.raw_connection()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.primary.begin() as conn:
            yield conn

    def _replica(self) -> Replica | None:
        """The next replica in the rotation (round robin), or None: read from the primary."""
        if not self.replicas or PRIMARY_READS.get():
            return None
        for replica in self.replicas:
            self._check_if_due(replica)
        live = [r for r in self.replicas if r.state == IN_ROTATION]
        return live[next(self._turn) % len(live)] if live else None

    # -- lag and loss
    def _check_if_due(self, replica: Replica) -> None:
        if time.monotonic() - replica.checked_at < CHECK_EVERY_S:
            return
        if not replica.lock.acquire(blocking=False):
            return  # another thread is checking it; its last state stands meanwhile
        try:
            replica.state = self._check(replica)
            replica.checked_at = time.monotonic()
        finally:
            replica.lock.release()

    def _check(self, replica: Replica) -> str:
        """Where the replica stands now. Caught up when it has replayed the primary's WAL
        position read just before; else behind by the age of the last transaction it
        replayed (PostgreSQL's own measure), out of the rotation past ``max_lag_s``."""
        try:
            with self.primary_reads.connect() as conn:
                position = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Unavailable:
            return "unknown"  # the primary's trouble is not the replica's; health says so
        try:
            with replica.engine.connect() as conn:
                standby, caught_up, behind_s = conn.execute(text("""
                    SELECT pg_is_in_recovery(),
                           coalesce(pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn),
                                    false),
                           extract(epoch FROM now() - pg_last_xact_replay_timestamp())
                """), {"position": position}).one()
        except Unavailable:
            return "unreachable"
        if not standby:
            return "not-a-standby"  # promoted: no longer following this primary
        if caught_up or (behind_s is not None and float(behind_s) <= self.max_lag_s):
            return IN_ROTATION
        return "lagging"

    def states(self) -> list[str]:
        """Each replica's state now (checked for the asking), for /api/health."""
        for replica in self.replicas:
            with replica.lock:
                replica.state = self._check(replica)
                replica.checked_at = time.monotonic()
        return [r.state for r in self.replicas]


def writer(engine: Engine) -> Engine:
    """The primary behind ``engine``: for work that writes through ``connect()``."""
    return engine.primary if isinstance(engine, RoutedEngine) else engine


def routed_engine(settings: Settings, url: str | None = None) -> RoutedEngine:
    """The web app's engine (``RoutedEngine``): writes on the primary (``url`` or
    DATABASE_URL), reads on CDDGIS_READ_DATABASE_URL's replicas while they keep up."""
    primary = web_engine(settings, url)
    primary_url = primary.url.render_as_string(hide_password=False)
    replicas = [engine_for(_normalise(u), read_only=True,
                           statement_timeout_ms=settings.statement_timeout_ms,
                           idle_in_transaction_timeout_ms=settings.idle_in_transaction_timeout_ms)
                for u in settings.read_database_urls]
    return RoutedEngine(primary, web_engine(settings, primary_url, read_only=True), replicas,
                        settings.replica_max_lag_s, settings.statement_timeout_ms)


def replica_states(engine: Engine) -> list[str]:
    """Each replica's state (``STATES``), checked now; empty without replicas. Words only:
    no host, port or lag figure leaves (an operator reads those in PostgreSQL)."""
    return engine.states() if isinstance(engine, RoutedEngine) else []
