"""A project-local PostgreSQL 15 + PostGIS cluster, for machines where DATABASE_URL is not set.

The cluster lives in ``<state_dir>/pgdata`` and listens on a free loopback port. PostgreSQL refuses
to run as root, so when we are root the server runs as the ``postgres`` system user.

Three roles, each with its own generated password in ``cluster.json`` (mode 600): ``postgres``
(superuser: creates databases and the PostGIS extension only), ``cddgis`` (owner of the database
and its schema: migrations, loaders, importers) and ``cddgis_app`` (the web app: CONNECT, SELECT,
and writes only where a migration grants them). A leaked app password cannot change the schema.
"""

from __future__ import annotations

import dataclasses
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg2.extensions import connection as PgConnection

PG_MAJOR = "15"
SUPERUSER = "postgres"
OWNER_ROLE = "cddgis"
APP_ROLE = "cddgis_app"
APP_DATABASE = "cddgis"
ROLES = {"app": APP_ROLE, "owner": OWNER_ROLE}
INSTALL_HINT = (
    "PostgreSQL 15 with PostGIS 3 is needed. On Debian or Ubuntu, as root:\n"
    "    apt-get install postgresql-15 postgresql-15-postgis-3\n"
    "or point DATABASE_URL at an existing PostGIS database."
)


class ClusterError(RuntimeError):
    """The local database cluster could not be set up or started; the message says why."""


@dataclass(frozen=True)
class ClusterInfo:
    port: int
    superuser_password: str
    owner_password: str
    app_password: str

    def url(self, database: str = APP_DATABASE, role: str = "app") -> str:
        """URL for the ``app`` role (the web app) or the ``owner`` role (migrate, load…)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        password = self.app_password if role == "app" else self.owner_password
        return _url(ROLES[role], password, self.port, database)

    def as_json(self) -> str:
        return json.dumps({"port": self.port, "superuser_password": self.superuser_password,
                           "owner_password": self.owner_password,
                           "app_password": self.app_password})


def _url(user: str, password: str, port: int, database: str) -> str:
    return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{port}/{database}"


def _new_password() -> str:
    return secrets.token_urlsafe(24)


def _bindir() -> Path:
    debian = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (debian / "pg_ctl").exists():
        return debian
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise ClusterError(f"pg_ctl was not found. {INSTALL_HINT}")


def _postgis_installed() -> bool:
    share = Path(f"/usr/share/postgresql/{PG_MAJOR}/extension")
    return any(share.glob("postgis--*.sql")) if share.exists() else True


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Could PostgreSQL listen on ``port``? Like PostgreSQL, bind with SO_REUSEADDR: the
    TIME_WAIT connections a stopped server leaves behind for a minute do not make the port busy
    (without it a restart found the port "taken" and moved to a new one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, timeout: float) -> bool:
    """True once ``port`` is free, False if it is still taken after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not _port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def recorded_port(info_file: Path) -> int | None:
    """The port cluster.json records now (read on every new connection by the web engine)."""
    try:
        return int(json.loads(info_file.read_text())["port"])
    except (OSError, ValueError, KeyError):
        return None


def _reachable_by(user: str, path: Path) -> bool:
    """Can ``user`` walk down to ``path``? (Checked on the mode bits, without switching user.)"""
    account = pwd.getpwnam(user)
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {account.pw_gid}
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            break
        st = folder.stat()
        if st.st_uid == account.pw_uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


class LocalCluster:
    def __init__(self, state_dir: Path):
        self.run_as = "postgres" if os.geteuid() == 0 else None
        if self.run_as and _user_exists(self.run_as) and not _reachable_by(self.run_as, state_dir):
            # e.g. a checkout under /root: keep the cluster where the postgres user can reach it.
            digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:10]
            state_dir = Path("/var/tmp") / f"cddgis-{digest}"
        self.state_dir = state_dir
        self.pgdata = state_dir / "pgdata"
        self.logdir = state_dir / "pglog"
        self.info_file = state_dir / "cluster.json"

    # -- helpers ---------------------------------------------------------------------------
    def _cmd(self, args: list[str]) -> list[str]:
        if self.run_as is None:
            return args
        return ["runuser", "-u", self.run_as, "--", *args]

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self._cmd(args), capture_output=True, text=True)
        if check and proc.returncode != 0:
            output = proc.stderr or proc.stdout
            raise ClusterError(f"{' '.join(args[:2])} failed (exit {proc.returncode}):\n{output}")
        return proc

    def _owned_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(path, user.pw_uid, user.pw_gid)
        path.chmod(0o700)

    def _read_info(self) -> ClusterInfo | None:
        if not self.info_file.exists():
            return None
        data = json.loads(self.info_file.read_text())
        if "superuser_password" not in data:
            # A cluster made before the roles were split: one password served the superuser
            # and the (owning) app role. Keep it for the superuser; start() gives the owner
            # and the app role their own.
            return ClusterInfo(port=int(data["port"]), superuser_password=data["password"],
                               owner_password="", app_password="")
        return ClusterInfo(port=int(data["port"]),
                           superuser_password=data["superuser_password"],
                           owner_password=data["owner_password"],
                           app_password=data["app_password"])

    def _write_info(self, info: ClusterInfo) -> None:
        # Created with mode 600 before the passwords are written, never readable by others.
        fd = os.open(self.info_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(info.as_json())
        self.info_file.chmod(0o600)

    # -- public ----------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        return self._run([str(_bindir() / "pg_ctl"), "status", "-D", str(self.pgdata)],
                         check=False).returncode == 0

    def info(self) -> ClusterInfo | None:
        return self._read_info()

    def init(self) -> ClusterInfo:
        if self.run_as:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError as exc:
                raise ClusterError(f"no '{self.run_as}' system user to run PostgreSQL as. "
                                   f"{INSTALL_HINT}") from exc
        if not _postgis_installed():
            raise ClusterError(f"PostGIS is not installed. {INSTALL_HINT}")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._owned_dir(self.pgdata)
        self._owned_dir(self.logdir)
        if self.run_as and self._run(["test", "-w", str(self.pgdata)], check=False).returncode:
            raise ClusterError(
                f"the '{self.run_as}' user cannot reach {self.pgdata}; give it access to the "
                "parent folders, or set CDDGIS_STATE_DIR to a folder it can reach."
            )
        info = ClusterInfo(port=_free_port(), superuser_password=_new_password(),
                           owner_password=_new_password(), app_password=_new_password())
        pwfile = self.logdir / ".initpw"
        pwfile.write_text(info.superuser_password + "\n")
        pwfile.chmod(0o600)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run([
                str(_bindir() / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                f"--pwfile={pwfile}", "--auth-local=peer", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--no-locale",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_info(info)
        return info

    def start(self, port_wait: float = 30.0) -> ClusterInfo:
        """Starts the cluster (creating it first if needed) and returns how to reach it.

        The address stays the recorded one, so a running app reconnects by itself after a
        restart: when that port is still held (an old server closing), wait up to ``port_wait``
        seconds for it; only if something else keeps it does the cluster move to a new port
        (recorded in cluster.json, which the app's engine re-reads)."""
        info = self._read_info() if self.initialised else None
        if info is None:
            if self.initialised:
                raise ClusterError(f"{self.pgdata} exists but {self.info_file} is missing; "
                                   f"remove {self.state_dir} to start afresh.")
            info = self.init()
        if not info.owner_password or not info.app_password:  # a cluster from before the split
            info = dataclasses.replace(info, owner_password=_new_password(),
                                       app_password=_new_password())
            self._write_info(info)
        if self.is_running():
            _ensure_roles(info)
            return info
        if not _wait_for_port(info.port, port_wait):
            info = dataclasses.replace(info, port=_free_port())
            self._write_info(info)
        options = (f"-p {info.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.pgdata}")
        self._run([
            str(_bindir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.pgdata),
            "-l", str(self.logdir / "postgres.log"), "-o", options,
        ])
        self._wait_ready(info)
        self._ensure_app_database(info)
        return info

    def stop(self) -> None:
        if self.is_running():
            self._run([str(_bindir() / "pg_ctl"), "stop", "-w", "-m", "fast",
                       "-D", str(self.pgdata)])

    def _wait_ready(self, info: ClusterInfo, timeout: float = 30.0) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(host="127.0.0.1", port=info.port, user=SUPERUSER,
                                 password=info.superuser_password, dbname="postgres").close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"PostgreSQL did not accept connections: {exc}") from exc
                time.sleep(0.2)

    def _ensure_app_database(self, info: ClusterInfo) -> None:
        create_database(info, APP_DATABASE)


def _superuser_connection(info: ClusterInfo, database: str = "postgres") -> PgConnection:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=info.port, user=SUPERUSER,
                            password=info.superuser_password, dbname=database)
    conn.autocommit = True
    return conn


def _ensure_roles(info: ClusterInfo) -> None:
    """The owner and app roles exist, can log in, and have the passwords cluster.json records
    (set on every start, so an edited or upgraded cluster.json takes effect)."""
    from psycopg2 import sql

    conn = _superuser_connection(info)
    try:
        with conn.cursor() as cur:
            # One process at a time (pytest-xdist workers, two commands started together): two
            # ALTER ROLE of one role at once fail with "tuple concurrently updated".
            cur.execute("SELECT pg_advisory_lock(hashtext('cddgis.roles'))")
            for role, password in ((OWNER_ROLE, info.owner_password),
                                   (APP_ROLE, info.app_password)):
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                    "PASSWORD %s").format(sql.Identifier(role)), (password,))
    finally:
        conn.close()


def create_database(info: ClusterInfo, name: str, *, drop_first: bool = False,
                    template: str | None = None) -> str:
    """Creates a PostGIS-enabled database owned by the owner role and returns the owner's URL
    (which migrates and loads it); the app role may only connect (tables: see migration 0006).

    With ``template``, the new database is a file-level copy of that one (which must have no
    connections): how tests get a fresh database with the national boundaries in a second."""
    from psycopg2 import sql

    _ensure_roles(info)
    conn = _superuser_connection(info)
    try:
        with conn.cursor() as cur:
            database = sql.Identifier(name)
            if drop_first:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
                    database, sql.Identifier(OWNER_ROLE),
                    sql.Identifier(template or "template1")))
            # Not every role of the cluster may connect (nor make temporary tables): only ours.
            cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                database, sql.Identifier(APP_ROLE)))
    finally:
        conn.close()
    # PostGIS is not a trusted extension: the superuser creates it for the owner.
    conn = _superuser_connection(info, name)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        conn.close()
    return info.url(database=name, role="owner")


class LocalStandby:
    """A streaming replica of a ``LocalCluster`` on this machine (issue 22): a hot standby made
    by ``pg_basebackup -R`` (which writes ``standby.signal`` and ``primary_conninfo``), in
    ``<state_dir>/<name>/pgdata`` on a port of its own. The roles and their passwords are the
    primary's (replication copies them), so ``url`` is the primary's with another port."""

    def __init__(self, primary: LocalCluster, name: str = "standby"):
        self.primary = primary
        self.dir = primary.state_dir / name
        self.pgdata = self.dir / "pgdata"
        self.log = self.dir / "postgres.log"
        self.port_file = self.dir / "port"

    @property
    def port(self) -> int | None:
        return recorded_port(self.port_file) if self.port_file.exists() else None

    @property
    def slot(self) -> str:
        """The standby's replication slot on the primary (names: [a-z0-9_])."""
        return "cddgis_" + "".join(c if c.isalnum() else "_" for c in self.dir.name.lower())

    @property
    def initialised(self) -> bool:
        """A copy is there (it may be stopped)."""
        return (self.pgdata / "PG_VERSION").exists()

    def has_slot(self, info: ClusterInfo) -> bool:
        """The primary still keeps this standby's slot: a kept copy can catch up through it
        (without it, the copy is made again)."""
        conn = _superuser_connection(info)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s",
                            (self.slot,))
                return cur.fetchone() is not None
        finally:
            conn.close()

    def drop_slot(self, info: ClusterInfo, timeout: float = 60) -> None:
        """Drops the slot once no standby uses it: a slot nobody reads keeps WAL on the
        primary for ever. Waits (up to ``timeout``) for a stopping standby's sender to end."""
        conn = _superuser_connection(info)
        try:
            with conn.cursor() as cur:
                deadline = time.monotonic() + timeout
                while True:
                    cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                (self.slot,))
                    row = cur.fetchone()
                    if row is None:
                        return
                    if not row[0]:
                        cur.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
                        return
                    if time.monotonic() > deadline:
                        raise ClusterError(f"replication slot {self.slot} is still in use")
                    cur.execute("SELECT pg_sleep(0.1)")
        finally:
            conn.close()

    def url(self, info: ClusterInfo, database: str = APP_DATABASE, role: str = "app") -> str:
        port = self.port
        if port is None:
            raise ClusterError(f"the standby in {self.dir} has not been started")
        password = info.app_password if role == "app" else info.owner_password
        return _url(ROLES[role], password, port, database)

    def is_running(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.primary._run(
            [str(_bindir() / "pg_ctl"), "status", "-D", str(self.pgdata)],
            check=False).returncode == 0

    def create(self, info: ClusterInfo, *, fresh: bool = False) -> None:
        """Copies the running primary with ``pg_basebackup -R`` (a fast checkpoint, WAL
        streamed along), unless a copy is there already and not ``fresh``."""
        if fresh:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.primary._owned_dir(self.dir)
        self.drop_slot(info)
        conninfo = (f"host=127.0.0.1 port={info.port} user={SUPERUSER} "
                    f"password={info.superuser_password}")
        # A replication slot (-C -S): the primary keeps the WAL this standby has not received
        # yet. Without one, a burst of writes (a million-point load) recycled a segment the
        # standby still needed, and it stopped for good ("already been removed").
        self.primary._run([str(_bindir() / "pg_basebackup"), "-D", str(self.pgdata), "-R",
                           "-C", "-S", self.slot, "-X", "stream", "-c", "fast",
                           "-d", conninfo])
        self.primary._run(["chmod", "700", str(self.pgdata)])

    def start(self, info: ClusterInfo) -> int:
        """Starts the standby (made first if needed) and waits until it accepts reads; its
        port (kept in ``<dir>/port`` while free, like the primary's)."""
        self.create(info)
        if self.is_running() and self.port is not None:
            return self.port
        port = self.port
        if port is None or not _wait_for_port(port, 5):
            port = _free_port()
        self.port_file.write_text(json.dumps({"port": port}))
        options = (f"-p {port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.pgdata} -c hot_standby=on")
        self.primary._run([str(_bindir() / "pg_ctl"), "start", "-w", "-t", "120", "-D",
                           str(self.pgdata), "-l", str(self.log), "-o", options])
        self.primary._wait_ready(dataclasses.replace(info, port=port), timeout=120)
        return port

    def stop(self) -> None:
        if self.is_running():
            self.primary._run([str(_bindir() / "pg_ctl"), "stop", "-w", "-m", "fast",
                               "-D", str(self.pgdata)])
