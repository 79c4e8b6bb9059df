"""cddgis production profile on one machine: nginx → N gunicorn apps → PgBouncer → PostGIS.

Run by ``scripts/production.sh start|stop|status``, which resolves the database URLs and migrates
first. Why each piece: nginx buffers whole requests (a slow client never holds an app thread),
compresses and caches; several stateless app processes survive one crashing and are the unit that
grows onto more machines; PgBouncer lets many app threads share the few backends PostgreSQL runs
well with. Runtime files live in ``CDDGIS_PROD_DIR`` (default ``var/prod``). As root, every process
runs as ``CDDGIS_PROD_USER`` (default ``www-data``), never as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gis.cluster import ClusterInfo, LocalCluster, LocalStandby

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
BROTLI_MODULES = ("ngx_http_brotli_filter_module.so", "ngx_http_brotli_static_module.so")
NGINX_MODULES_DIR = Path("/usr/lib/nginx/modules")


class ProfileError(RuntimeError):
    """The profile could not start; the message says why and what to do."""


@dataclass(frozen=True)
class Config:
    """Every knob, from the environment (documented in docs/operations.md, "Production")."""

    dir: Path
    host: str
    port: int
    apps: int
    workers: int
    threads: int
    statement_timeout_ms: int
    idle_timeout_ms: int
    client_timeout: str
    max_body: str
    max_upload: str
    """Uploads of the staff workspace and the import API (CDDGIS_MAX_UPLOAD_MB, as the app)."""
    microcache: str
    conn_per_ip: int
    rates: dict[str, int]
    """Per-client request limits at nginx: tiles and API requests a second, and their bursts."""
    pool: int | None
    user: str | None
    replicas: int = 0
    """Streaming standbys of the local cluster to read from (CDDGIS_REPLICAS; issue 22)."""

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        user = env.get("CDDGIS_PROD_USER") or ("www-data" if os.geteuid() == 0 else None)
        if user and os.geteuid() != 0:
            user = None  # only root can switch user; run as ourselves
        pool = env.get("CDDGIS_DB_POOL")
        return cls(
            dir=Path(env.get("CDDGIS_PROD_DIR") or ROOT / "var" / "prod").resolve(),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8080")),
            apps=max(1, int(env.get("CDDGIS_APPS", "2"))),
            workers=max(1, int(env.get("CDDGIS_APP_WORKERS", "2"))),
            threads=max(1, int(env.get("CDDGIS_APP_THREADS", "4"))),
            # The app's own settings (gis/settings.py): PgBouncer applies them, since a
            # transaction pool cannot pass the app's per-connection `options`.
            statement_timeout_ms=int(env.get("CDDGIS_STATEMENT_TIMEOUT_MS", "10000")),
            idle_timeout_ms=int(env.get("CDDGIS_IDLE_IN_TRANSACTION_TIMEOUT_MS", "60000")),
            client_timeout=env.get("CDDGIS_CLIENT_TIMEOUT", "10s"),
            max_body=env.get("CDDGIS_MAX_BODY", "1m"),
            max_upload=f"{max(1, int(env.get('CDDGIS_MAX_UPLOAD_MB', '50')))}m",
            microcache=env.get("CDDGIS_MICROCACHE", "5s"),
            conn_per_ip=int(env.get("CDDGIS_CONN_PER_IP", "256")),
            rates={name: max(1, int(env.get(f"CDDGIS_{name.upper()}", str(default))))
                   for name, default in RATE_DEFAULTS.items()},
            pool=int(pool) if pool else None,
            user=user,
            replicas=_count(env.get("CDDGIS_REPLICAS", "0"), "CDDGIS_REPLICAS"),
        )

    @property
    def state_file(self) -> Path:
        return self.dir / "profile.json"


# -- small helpers ---------------------------------------------------------------------------

def _count(value: str, name: str) -> int:
    try:
        count = int(value.strip() or "0")
    except ValueError:
        count = -1
    if count < 0:
        raise ProfileError(f"{name} must be a whole number of 0 or more, got {value!r}")
    return count


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(host: str, port: int) -> bool:
    """No one listens there. SO_REUSEADDR, as nginx and gunicorn bind: the connections a stop
    under load leaves in TIME_WAIT do not hold the port (without it, `start` right after `stop`
    was refused as "in use" for as long as they lasted)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    """Running and not a zombie (our children are reaped by init, not by us)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _http_status(url: str, timeout: float = 3.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def _wait_for(what: str, check, pid: int | None, log: Path | None, timeout: float = 60) -> None:
    """Polls ``check()`` until true; fails early, with the log's tail, if ``pid`` dies."""
    deadline = time.monotonic() + timeout
    while not check():
        if pid is not None and not _alive(pid):
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ProfileError(f"{what} exited while starting.\n{tail}")
        if time.monotonic() > deadline:
            raise ProfileError(f"{what} did not become ready within {timeout:.0f} s"
                               + (f" (see {log})" if log else ""))
        time.sleep(0.1)


def _render(template: str, values: dict[str, object]) -> str:
    text = (TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    missing = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if missing:
        raise ProfileError(f"{template}: unfilled placeholders {missing}")
    return text


def _after_statement(statement_timeout_ms: int, margin: int) -> int:
    """Seconds a little above the statement timeout (60 s when statements are unbounded)."""
    return -(-statement_timeout_ms // 1000) + margin if statement_timeout_ms else 60


class Runner:
    """Starts processes as the service user, detached, each logging to its own file."""

    def __init__(self, cfg: Config, as_self: bool = False):
        self.cfg = cfg
        self.account = pwd.getpwnam(cfg.user) if cfg.user and not as_self else None

    def own(self, path: Path, mode: int | None = None) -> None:
        if mode is not None:
            path.chmod(mode)
        if self.account:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def app_runner(self) -> Runner:
        """Who runs the apps: the service user if it can run the virtualenv's Python.

        A virtualenv built on a Python under /root (pyenv) is out of its reach; then the apps run
        as the invoking user, with a warning (nginx and PgBouncer still drop privileges).
        """
        if not self.account:
            return self
        try:
            probe = subprocess.run(
                [str(VENV_BIN / "python"), "-c", "import web, gunicorn"], cwd=ROOT,
                user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[],
                capture_output=True, text=True,
                env={"PATH": "/usr/bin:/bin", "HOME": str(self.cfg.dir / "home")})
            reason = (probe.stderr.strip() or "no access").splitlines()[-1]
            ok = probe.returncode == 0
        except PermissionError as exc:
            reason, ok = str(exc), False
        if ok:
            return self
        print(f"warning: the service user '{self.cfg.user}' cannot run {VENV_BIN / 'python'} "
              f"({reason}); the apps run as {pwd.getpwuid(os.geteuid()).pw_name}. Build .venv "
              "with Debian's /usr/bin/python3 (PYTHON=/usr/bin/python3 scripts/setup.sh) in a "
              "folder that user can read.", file=sys.stderr)
        return Runner(self.cfg, as_self=True)

    def run(self, args: list[str], env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {}
        if self.account:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid,
                      "extra_groups": []}
        proc = subprocess.run(args, env=env, capture_output=True, text=True, **kwargs)
        if check and proc.returncode:
            raise ProfileError(f"{' '.join(args[:3])} failed:\n{proc.stderr or proc.stdout}")
        return proc

    def program(self, name: str, args: list[str], log: Path, env: dict[str, str], *,
                stop: str = "SIGTERM", port: int | None = None) -> dict[str, object]:
        """A program for the supervisor (scripts/prod/supervise.py) to start and keep up."""
        log.touch()
        self.own(log)
        return {"name": name, "argv": args, "env": env, "log": str(log), "stop": stop,
                "port": port, "uid": self.account.pw_uid if self.account else None,
                "gid": self.account.pw_gid if self.account else None}


# -- the database side -----------------------------------------------------------------------

@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str
    sslmode: str | None

    @classmethod
    def from_url(cls, url: str) -> Database:
        from sqlalchemy.engine import make_url

        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        parsed = make_url(url)
        host = parsed.host or str(parsed.query.get("host") or "127.0.0.1")
        if not (parsed.username and parsed.password and parsed.database):
            raise ProfileError("the database URL needs a user, a password and a database name "
                               "(PgBouncer logs in with them)")
        sslmode = parsed.query.get("sslmode")
        return cls(host=host, port=parsed.port or 5432, name=parsed.database,
                   user=parsed.username, password=parsed.password,
                   sslmode=str(sslmode) if sslmode else None)

    def connect(self, host: str | None = None, port: int | None = None):
        import psycopg2

        return psycopg2.connect(host=host or self.host, port=port or self.port, dbname=self.name,
                                user=self.user, password=self.password, connect_timeout=5,
                                sslmode=self.sslmode if host is None and self.sslmode
                                else "prefer")


def pool_size(cfg: Config, owner: Database) -> tuple[int, int, str]:
    """Backends for the app: a share of what the server allows, near 2 x cores + 2.

    PostgreSQL does best with about two active backends per core; more only queue inside it.
    Half of ``max_connections`` (less the superuser reserve) is left for migrations, loaders,
    backups and a second app machine.
    """
    with owner.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('max_connections')::int, "
                    "current_setting('superuser_reserved_connections')::int")
        max_connections, reserved = cur.fetchone()
    conn.close()
    budget = max(2, (max_connections - reserved) // 2)
    pool = cfg.pool or min(budget, 2 * (os.cpu_count() or 1) + 2)
    why = (f"max_connections={max_connections}, reserved={reserved}: at most {budget} backends "
           f"for the app, {pool} per pool")
    return min(pool, budget), budget, why


# -- the two configuration files, for this script and for docker-compose ---------------------

RATE_DEFAULTS = {"tile_rate": 60, "tile_burst": 300, "api_rate": 20, "api_burst": 100}
"""Requests a second per client address (CDDGIS_TILE_RATE, CDDGIS_API_RATE) and the bursts
served at once above them (CDDGIS_TILE_BURST, CDDGIS_API_BURST): a map that moves asks for
dozens of tiles at once; more than this from one address, on and on, is not a person."""


def nginx_conf(*, work_dir: Path | str, access_log: Path | str, error_log: Path | str,
               listen: str, upstreams: list[str], client_timeout: str, max_body: str,
               conn_per_ip: int, statement_timeout_ms: int, microcache: str,
               brotli: bool, max_upload: str = "50m",
               rates: dict[str, int] | None = None) -> str:
    """nginx.conf from scripts/prod/nginx.conf.in."""
    modules = "\n".join(f"load_module {NGINX_MODULES_DIR / m};" for m in BROTLI_MODULES)
    brotli_conf = ("    brotli on;\n    brotli_comp_level 5;\n    brotli_min_length 1024;\n"
                   "    brotli_types application/json application/geo+json text/csv text/css\n"
                   "                 application/javascript text/javascript image/svg+xml;")
    if microcache.strip() in ("", "0", "0s", "off"):
        cache_valid = "# no micro-cache (CDDGIS_MICROCACHE=0)"
    else:
        cache_valid = f"proxy_cache_valid 200 {microcache};"
    return _render("nginx.conf.in", {
        "LOAD_MODULES": modules if brotli else "# brotli: Debian's nginx module is absent",
        "BROTLI": brotli_conf if brotli else "", "DIR": work_dir, "ACCESS_LOG": access_log,
        "ERROR_LOG": error_log, "CLIENT_TIMEOUT": client_timeout, "MAX_BODY": max_body,
        "MAX_UPLOAD": max_upload,
        "CONN_PER_IP": conn_per_ip,
        "UPSTREAMS": "\n".join(f"        server {u} max_fails=3 fail_timeout=5s;"
                               for u in upstreams),
        "LISTEN": listen, "READ_TIMEOUT": f"{_after_statement(statement_timeout_ms, 5)}s",
        "MICROCACHE_VALID": cache_valid,
        **{name.upper(): value for name, value in {**RATE_DEFAULTS, **(rates or {})}.items()},
    })


def pgbouncer_ini(*, db_name: str, db_host: str, db_port: int, statement_timeout_ms: int,
                  idle_timeout_ms: int,
                  listen_addr: str, port: int, pool: int, max_db: int, max_clients: int,
                  auth_file: Path | str, logfile: Path | str, pidfile: Path | str,
                  sslmode: str | None, read_only: bool = False) -> str:
    """pgbouncer.ini from scripts/prod/pgbouncer.ini.in. ``read_only``: a standby's pool,
    whose backends are read-only as the app's read engine asks (PgBouncer drops the app's
    own ``options``), so a write sent there fails the same way on a promoted server too."""
    return _render("pgbouncer.ini.in", {
        "DBNAME": db_name, "DBHOST": db_host, "DBPORT": db_port,
        "CONNECT_QUERY": "; ".join(
            [f"SET statement_timeout = {statement_timeout_ms}",
             f"SET idle_in_transaction_session_timeout = {idle_timeout_ms}"]
            + (["SET default_transaction_read_only = on"] if read_only else [])),
        "LISTEN_ADDR": listen_addr, "PORT": port,
        "POOL": pool, "MAX_DB": max_db, "MAX_CLIENTS": max_clients, "AUTH_FILE": auth_file,
        "LOGFILE": logfile, "PIDFILE": pidfile,
        "QUERY_TIMEOUT": _after_statement(statement_timeout_ms, 5),
        "TLS": f"server_tls_sslmode = {sslmode}" if sslmode else "",
    })


COMPOSE_DIR = TEMPLATES / "compose"


def compose_files() -> dict[Path, str]:
    """The proxy and pool configuration docker-compose.yml builds into its images.

    Checked in and tested to equal this rendering, so the two deployments cannot drift apart.
    """
    return {
        COMPOSE_DIR / "nginx.conf": nginx_conf(
            work_dir="/var/lib/cddgis-proxy", access_log="/dev/stdout", error_log="stderr",
            listen="8080", upstreams=["app:8000"], client_timeout="10s", max_body="1m",
            conn_per_ip=256, statement_timeout_ms=10_000, microcache="5s", brotli=True),
        COMPOSE_DIR / "pgbouncer.ini": pgbouncer_ini(
            db_name="cddgis", db_host="db", db_port=5432, statement_timeout_ms=10_000,
            idle_timeout_ms=60_000,
            listen_addr="*", port=6432, pool=8, max_db=48, max_clients=400,
            auth_file="/var/lib/cddgis-pool/users.txt", logfile="", pidfile="", sslmode=None),
        # The streaming replica's own pool (service pgbouncer-replica, issue 22).
        COMPOSE_DIR / "pgbouncer-replica.ini": pgbouncer_ini(
            db_name="cddgis", db_host="db-replica", db_port=5432, statement_timeout_ms=10_000,
            idle_timeout_ms=60_000,
            listen_addr="*", port=6432, pool=8, max_db=48, max_clients=400,
            auth_file="/var/lib/cddgis-pool/users.txt", logfile="", pidfile="", sslmode=None,
            read_only=True),
    }


def render_compose(_: Config) -> int:
    for path, text in compose_files().items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


# -- start / stop / status -------------------------------------------------------------------

def start(cfg: Config) -> int:
    state = _read_state(cfg)
    if state and _supervisor_alive(state):
        print(f"cddgis production profile is already running on http://{cfg.host}:"
              f"{state['port']}/")
        return 0
    if state:
        stop(cfg, quiet=True)
    app_url = os.environ.get("CDDGIS_PROD_APP_URL") or os.environ.get("DATABASE_URL")
    if not app_url:
        raise ProfileError("no database URL: run this through scripts/production.sh")
    owner_url = os.environ.get("CDDGIS_PROD_OWNER_URL") or app_url
    app_db, owner_db = Database.from_url(app_url), Database.from_url(owner_url)
    if not _port_is_free(cfg.host, cfg.port):
        raise ProfileError(f"{cfg.host}:{cfg.port} is in use; set PORT to a free port")

    runner = Runner(cfg)
    # A fresh cache: the data may have been reloaded while the profile was stopped.
    shutil.rmtree(cfg.dir / "nginx" / "cache", ignore_errors=True)
    for sub in ("", "home", "nginx", "nginx/cache", "nginx/client_body", "nginx/proxy",
                "nginx/fastcgi", "nginx/uwsgi", "nginx/scgi"):
        (cfg.dir / sub).mkdir(parents=True, exist_ok=True)
        runner.own(cfg.dir / sub, 0o700)
    (cfg.dir / "supervised.json").unlink(missing_ok=True)
    programs: list[dict[str, object]] = []
    if os.environ.get("CDDGIS_PROD_LOCAL_DB") == "1":
        # The project's own PostgreSQL (`cddgis db start`, run by production.sh): pg_ctl runs it
        # detached, so it is watched on its port and started again when it stops answering.
        programs.append({
            "name": "postgresql", "watch": True, "host": app_db.host, "port": app_db.port,
            "argv": [str(VENV_BIN / "cddgis"), "db", "start"], "log": str(cfg.dir / "db.log"),
            "env": {k: v for k, v in os.environ.items() if not k.startswith("CDDGIS_PROD_")}})
    replicas = _standbys(cfg, app_db, programs) if cfg.replicas else []
    if not cfg.replicas:
        _retire_standbys(cfg, app_db)
    bouncer_port = _pgbouncer(cfg, runner, app_db, owner_db, programs)
    for replica in replicas:
        replica["pgbouncer_port"] = _pgbouncer(
            cfg, runner, app_db, owner_db, programs, name=f"pgbouncer-{replica['name']}",
            db_port=int(replica["port"]), read_only=True)
    app_ports = _apps(cfg, runner.app_runner(), app_db, bouncer_port, programs,
                      read_ports=[int(r["pgbouncer_port"]) for r in replicas])
    _nginx(cfg, runner, app_ports, programs)
    state = {"port": cfg.port, "pgbouncer_port": bouncer_port, "app_ports": app_ports,
             "processes": [{k: p[k] for k in ("name", "port") if p.get(k)} for p in programs],
             "replicas": replicas}
    state["supervisor"] = _start_supervisor(cfg, programs)
    _write_state(cfg, state)
    try:
        _wait_until_serving(cfg, app_db, bouncer_port, app_ports,
                            [int(r["pgbouncer_port"]) for r in replicas])
    except BaseException:
        stop(cfg, quiet=True)
        raise
    reads = (f"; reads on {len(replicas)} streaming standby(s) through PgBouncer :"
             + ", :".join(str(r["pgbouncer_port"]) for r in replicas)) if replicas else ""
    print(f"cddgis production profile is serving on http://{cfg.host}:{cfg.port}/ "
          f"(nginx → {len(app_ports)} app processes → PgBouncer :{bouncer_port} → "
          f"{app_db.host}:{app_db.port}/{app_db.name}{reads}); files in {cfg.dir}")
    return 0


# -- streaming standbys of the local cluster (CDDGIS_REPLICAS, issue 22) ----------------------

def _local_cluster(app_db: Database) -> tuple[Path, LocalCluster, ClusterInfo] | None:
    """The project's local cluster (gis.cluster) when ``app_db`` is on it, else None: only a
    cluster of this machine, whose superuser we hold, can be copied by ``pg_basebackup``."""
    from gis.cluster import LocalCluster
    from gis.settings import Settings

    state_dir = Settings.from_env().state_dir
    cluster = LocalCluster(state_dir)
    info = cluster.info()
    if (info is None or not cluster.is_running()
            or app_db.host not in ("127.0.0.1", "localhost") or app_db.port != info.port):
        return None
    return state_dir, cluster, info


def _standby_names(cfg: Config, count: int) -> list[tuple[str, str]]:
    """(name in the profile, standby folder under the state dir): the folder carries the
    profile's folder name, so two profiles (a test's beside `make prod`) never share one."""
    return [(f"replica-{i}", f"{cfg.dir.name}-replica-{i}") for i in range(1, count + 1)]


def _standbys(cfg: Config, app_db: Database,
              programs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Starts ``cfg.replicas`` hot standbys of the local cluster (``gis.cluster.LocalStandby``:
    ``pg_basebackup -R`` through a replication slot of its own), each watched by the supervisor
    like the primary. A copy from an earlier start is kept and catches up through its slot; a
    copy whose slot is gone (retired) is made again."""
    from gis.cluster import ClusterError, LocalStandby

    found = _local_cluster(app_db)
    if found is None:
        raise ProfileError(
            "CDDGIS_REPLICAS makes streaming standbys of the project's own PostGIS (started by "
            "`cddgis db start`), and the database URL points elsewhere. For replicas of another "
            "server, give them to the apps as CDDGIS_READ_DATABASE_URL (docs/operations.md).")
    state_dir, cluster, info = found
    replicas: list[dict[str, object]] = []
    for name, folder in _standby_names(cfg, cfg.replicas):
        standby = LocalStandby(cluster, name=folder)
        began = time.monotonic()
        try:
            fresh = standby.initialised and not standby.has_slot(info)
            copied = fresh or not standby.initialised
            standby.create(info, fresh=fresh)
            port = standby.start(info)
        except ClusterError as exc:
            raise ProfileError(f"the standby {folder} could not start: {exc}") from exc
        print(f"{name}: hot standby of 127.0.0.1:{info.port} on 127.0.0.1:{port} "
              f"({'copied with pg_basebackup -R' if copied else 'kept, catching up'} in "
              f"{time.monotonic() - began:.0f} s; data in {standby.pgdata})")
        programs.append({
            "name": name, "watch": True, "host": "127.0.0.1", "port": port,
            "argv": [str(VENV_BIN / "python"), str(Path(__file__).resolve()), "standby-start",
                     folder],
            "log": str(cfg.dir / f"{name}.log"),
            "env": {k: v for k, v in os.environ.items() if not k.startswith("CDDGIS_PROD_")}})
        replicas.append({"name": name, "standby": folder, "port": port,
                         "state_dir": str(state_dir)})
    return replicas


def _retire_standbys(cfg: Config, app_db: Database) -> None:
    """Started without replicas: a standby an earlier start of this profile left is stopped,
    its slot dropped (a slot nobody reads keeps WAL on the primary for ever) and its copy
    removed."""
    found = _local_cluster(app_db)
    if found is None:
        return
    from gis.cluster import LocalStandby

    _, cluster, info = found
    for folder in sorted(p.name for p in cluster.state_dir.glob(f"{cfg.dir.name}-replica-*")):
        standby = LocalStandby(cluster, name=folder)
        standby.stop()
        standby.drop_slot(info)
        shutil.rmtree(standby.dir, ignore_errors=True)
        print(f"retired the standby {folder} (CDDGIS_REPLICAS is 0): slot dropped, copy removed")


def _standby(entry: dict) -> tuple[LocalStandby, ClusterInfo | None]:
    """The ``LocalStandby`` a state entry names, and its cluster's info."""
    from gis.cluster import LocalCluster, LocalStandby

    cluster = LocalCluster(Path(entry["state_dir"]))
    return LocalStandby(cluster, name=entry["standby"]), cluster.info()


def standby_start(folder: str) -> int:
    """The supervisor's start command for a watched standby (``profile.py standby-start``)."""
    from gis.cluster import LocalCluster, LocalStandby
    from gis.settings import Settings

    cluster = LocalCluster(Settings.from_env().state_dir)
    info = cluster.info()
    if info is None:
        raise ProfileError("the local cluster has no cluster.json")
    port = LocalStandby(cluster, name=folder).start(info)
    print(f"standby {folder} is running on 127.0.0.1:{port}")
    return 0


def _replication(entry: dict) -> str | None:
    """How the primary sees the standby's stream (its slot's sender): ``streaming, replay lag
    …`` or None when no sender serves the slot."""
    import psycopg2

    standby, info = _standby(entry)
    if info is None:
        return None
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=info.port, user="postgres",
                                password=info.superuser_password, dbname="postgres",
                                connect_timeout=5)
    except psycopg2.Error:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("""
                SELECT r.state, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,
                       extract(epoch FROM r.replay_lag)
                  FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
                 WHERE s.slot_name = %s""", (standby.slot,))
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    state, behind, lag = row
    if not behind:
        return f"{state}, caught up (replayed all the primary's WAL)"
    return (f"{state}, replay {behind} bytes behind"
            + (f", replay lag {float(lag):.2f} s" if lag is not None else ""))


def _pgbouncer(cfg: Config, runner: Runner, app_db: Database, owner_db: Database,
               programs: list[dict[str, object]], *, name: str = "pgbouncer",
               db_port: int | None = None, read_only: bool = False) -> int:
    """A PgBouncer for the primary (``name`` pgbouncer) or, with ``db_port``, for a standby on
    this machine (its own port and files, ``<name>.ini``)."""
    pool, budget, why = pool_size(cfg, owner_db)
    port = _free_port()
    users = cfg.dir / f"{name}-users.txt"
    quoted = app_db.password.replace('"', '""')
    users.write_text(f'"{app_db.user}" "{quoted}"\n')
    runner.own(users, 0o600)
    ini = cfg.dir / f"{name}.ini"
    ini.write_text(pgbouncer_ini(
        db_name=app_db.name, db_host=app_db.host, db_port=db_port or app_db.port,
        statement_timeout_ms=cfg.statement_timeout_ms, idle_timeout_ms=cfg.idle_timeout_ms,
        listen_addr="127.0.0.1", port=port,
        pool=pool, max_db=budget, max_clients=max(200, cfg.apps * cfg.workers * 10 * 2),
        auth_file=users, logfile=cfg.dir / f"{name}.log", pidfile=cfg.dir / f"{name}.pid",
        sslmode=app_db.sslmode, read_only=read_only))
    runner.own(ini, 0o600)
    print(f"PgBouncer ({name}): transaction pooling on 127.0.0.1:{port} → "
          f"{app_db.host}:{db_port or app_db.port} ({why})")
    programs.append(runner.program(name, ["pgbouncer", str(ini)],
                                   cfg.dir / f"{name}.out",
                                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                   stop="SIGINT", port=port))
    return port


def _apps(cfg: Config, runner: Runner, app_db: Database, bouncer_port: int,
          programs: list[dict[str, object]], read_ports: list[int] | None = None) -> list[int]:
    from urllib.parse import quote

    def through(port: int) -> str:
        return (f"postgresql+psycopg2://{quote(app_db.user, safe='')}:"
                f"{quote(app_db.password, safe='')}@127.0.0.1:{port}/{app_db.name}")

    url = through(bouncer_port)
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("CDDGIS_PROD_APP_URL", "CDDGIS_PROD_OWNER_URL",
                             "CDDGIS_OWNER_DATABASE_URL")}
    if read_ports:
        # The standbys' pools first, then any replicas of one's own (CDDGIS_READ_DATABASE_URL).
        given = [u for u in base_env.get("CDDGIS_READ_DATABASE_URL", "").split(",") if u.strip()]
        base_env["CDDGIS_READ_DATABASE_URL"] = ",".join([*map(through, read_ports), *given])
    ports = []
    for i in range(1, cfg.apps + 1):
        port = _free_port()
        env = {**base_env, "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": str(port),
               "HOME": str(cfg.dir / "home"), "PYTHONDONTWRITEBYTECODE": "1",
               # nginx in front, on this machine: the client's address is X-Forwarded-For,
               # believed only from loopback (CDDGIS_TRUSTED_PROXIES' default).
               "CDDGIS_PROXIES": "1"}
        programs.append(runner.program(
            f"app-{i}", [str(VENV_BIN / "cddgis"), "serve", "--workers", str(cfg.workers),
                         "--threads", str(cfg.threads),
                         "--timeout", str(_after_statement(cfg.statement_timeout_ms, 10)),
                         "--max-requests", "5000", "--no-access-log", "--no-migrate"],
            cfg.dir / f"app-{i}.log", env, stop="SIGTERM", port=port))
        ports.append(port)
    print(f"apps: {cfg.apps} × gunicorn ({cfg.workers} workers × {cfg.threads} threads) on "
          f"127.0.0.1:{', '.join(map(str, ports))}")
    return ports


def _nginx(cfg: Config, runner: Runner, app_ports: list[int],
           programs: list[dict[str, object]]) -> None:
    conf = cfg.dir / "nginx.conf"
    conf.write_text(nginx_conf(
        work_dir=cfg.dir, access_log=cfg.dir / "nginx-access.log",
        error_log=cfg.dir / "nginx-error.log", listen=f"{cfg.host}:{cfg.port}",
        upstreams=[f"127.0.0.1:{p}" for p in app_ports], client_timeout=cfg.client_timeout,
        max_body=cfg.max_body, max_upload=cfg.max_upload, conn_per_ip=cfg.conn_per_ip,
        statement_timeout_ms=cfg.statement_timeout_ms, microcache=cfg.microcache,
        brotli=all((NGINX_MODULES_DIR / m).exists() for m in BROTLI_MODULES),
        rates=cfg.rates))
    runner.own(conf, 0o600)
    args = ["nginx", "-p", f"{cfg.dir}/", "-c", str(conf), "-e", str(cfg.dir / "nginx-error.log")]
    runner.run([*args, "-t", "-q"])
    programs.append(runner.program("nginx", [*args, "-g", "daemon off;"], cfg.dir / "nginx.out",
                                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                   stop="SIGQUIT", port=cfg.port))
    programs[-1]["host"] = cfg.host


SUPERVISOR = TEMPLATES / "supervise.py"


def _start_supervisor(cfg: Config, programs: list[dict[str, object]]) -> int:
    """scripts/prod/supervise.py, detached: it starts the programs and keeps them up. Their
    environment (the database password among it) goes through a pipe, never to a file."""
    log = cfg.dir / "supervisor.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(VENV_BIN / "python"), str(SUPERVISOR)], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"state": str(cfg.dir / "supervised.json"), "cwd": str(ROOT),
                                 "programs": programs}).encode())
    proc.stdin.close()
    print(f"supervisor: pid {proc.pid}, restarts any process that exits (log {log})")
    return proc.pid


def _supervised(cfg: Config) -> dict[str, dict]:
    """What the supervisor last wrote about each program, by name."""
    try:
        found = json.loads((cfg.dir / "supervised.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {p["name"]: p for p in found["programs"]}


def _wait_until_serving(cfg: Config, app_db: Database, bouncer_port: int,
                        app_ports: list[int], read_ports: list[int] | None = None) -> None:
    """Each piece answers in turn; a program that exits while starting fails the start at once,
    with its log's tail (the supervisor would only start it again)."""
    supervisor = _read_state(cfg)["supervisor"]  # type: ignore[index]

    def check(name: str, ready, log: Path, timeout: float = 60) -> None:
        def done() -> bool:
            seen = _supervised(cfg).get(name, {})
            if not _alive(supervisor) or seen.get("last_exit"):
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                sup = (cfg.dir / "supervisor.log").read_text(errors="replace")[-1000:]
                raise ProfileError(f"{name} exited while starting.\n{tail}\n{sup}")
            return bool(ready())
        _wait_for(name, done, None, log, timeout=timeout)

    def through_bouncer(port: int = bouncer_port) -> bool:
        try:
            app_db.connect(host="127.0.0.1", port=port).close()
        except Exception:
            return False
        return True

    check("pgbouncer", through_bouncer, cfg.dir / "pgbouncer.log", timeout=30)
    for i, port in enumerate(read_ports or [], start=1):
        name = f"pgbouncer-replica-{i}"
        check(name, lambda p=port: through_bouncer(p), cfg.dir / f"{name}.log", timeout=30)
    for i, port in enumerate(app_ports, start=1):
        check(f"app-{i}", lambda p=port: _http_status(f"http://127.0.0.1:{p}/api/health") == 200,
              cfg.dir / f"app-{i}.log")
    check("nginx", lambda: _http_status(f"http://{cfg.host}:{cfg.port}/api/health") == 200,
          cfg.dir / "nginx-error.log")


def _supervisor_alive(state: dict) -> bool:
    pid = state.get("supervisor")
    return bool(pid) and _alive(pid) and "supervise.py" in _cmdline(pid)


def stop(cfg: Config, quiet: bool = False) -> int:
    """The supervisor stops the proxy first (no new requests), then the apps (finishing theirs),
    then the pool; this waits, bounded, until it has and every port is free again."""
    state = _read_state(cfg)
    if not state:
        if not quiet:
            print("cddgis production profile is not running.")
        return 0
    supervisor = state.get("supervisor")
    if supervisor and _supervisor_alive(state):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 60  # nginx ≤ 10 s, the apps ≤ 30 s, then SIGKILL
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(supervisor):
            os.kill(supervisor, signal.SIGKILL)
    # Whatever is left (a supervisor killed, or a profile.json from before there was one).
    pids = [p.get("pid") for p in [*_supervised(cfg).values(), *state["processes"]]]
    for pid in filter(None, pids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    # The standbys (watched, so the supervisor leaves them running, as the primary): stopped,
    # their copies and slots kept, so the next start catches up instead of copying again.
    for entry in state.get("replicas", []):
        standby, _ = _standby(entry)
        try:
            standby.stop()
        except Exception as exc:  # the rest of the stop goes on
            print(f"warning: the standby {entry['standby']} did not stop: {exc}",
                  file=sys.stderr)
    ports = [(cfg.host, state["port"])] + [("127.0.0.1", p) for p in
                                           [*state.get("app_ports", []),
                                            state.get("pgbouncer_port"),
                                            *[r.get("pgbouncer_port")
                                              for r in state.get("replicas", [])]] if p]
    deadline = time.monotonic() + 15
    busy = ports
    while busy and time.monotonic() < deadline:
        busy = [(h, p) for h, p in busy if not _port_is_free(h, p)]
        if busy:
            time.sleep(0.1)
    cfg.state_file.unlink(missing_ok=True)
    (cfg.dir / "supervised.json").unlink(missing_ok=True)
    if busy:
        print(f"warning: still in use after the stop: {busy}", file=sys.stderr)
    if not quiet:
        print("cddgis production profile stopped.")
    return 0


def status(cfg: Config) -> int:
    state = _read_state(cfg)
    if not state:
        print("cddgis production profile is not running.")
        return 3
    ok = _supervisor_alive(state)
    print(f"{'supervisor':<10} pid {state.get('supervisor', '-'):<8} "
          f"{'running' if ok else 'STOPPED'}")
    seen = _supervised(cfg)
    for p in state["processes"]:
        now = seen.get(p["name"], {})
        pid = now.get("pid")
        where = f" on {now.get('host', '127.0.0.1')}:{p['port']}" if "port" in p else ""
        restarts = f" (restarts: {now['restarts']}, last exit: {now['last_exit']})" \
            if now.get("restarts") else ""
        if now.get("watch"):
            up = _port_answers(state, now)
            ok &= up
            print(f"{p['name']:<10} watched{where}: {'answering' if up else 'NOT ANSWERING'}"
                  f"{restarts}")
            continue
        alive = bool(pid) and _alive(pid) and now.get("state") == "running"
        ok &= alive
        print(f"{p['name']:<10} pid {pid or '-':<8} {'running' if alive else 'STOPPED'}{where}"
              f"{restarts}")
    for entry in state.get("replicas", []):
        stream = _replication(entry)
        ok &= stream is not None
        print(f"{entry['name']:<10} standby {entry['standby']} on 127.0.0.1:{entry['port']}: "
              f"{stream or 'NOT STREAMING from the primary'}")
    health = _http_status(f"http://{cfg.host}:{state['port']}/api/health")
    print(f"http://{cfg.host}:{state['port']}/api/health → {health or 'no answer'}")
    return 0 if ok and health == 200 else 3


def _port_answers(state: dict, program: dict) -> bool:
    try:
        socket.create_connection((program.get("host") or "127.0.0.1", program["port"]),
                                 timeout=2).close()
    except OSError:
        return False
    return True


def _read_state(cfg: Config) -> dict | None:
    if not cfg.state_file.exists():
        return None
    return json.loads(cfg.state_file.read_text())


def _write_state(cfg: Config, state: dict) -> None:
    cfg.state_file.write_text(json.dumps(state, indent=1))
    cfg.state_file.chmod(0o600)


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else ""
    actions = {"start": start, "stop": stop, "status": status,
               "render-compose": render_compose}
    if action == "standby-start" and len(argv) == 3:
        try:
            return standby_start(argv[2])
        except Exception as exc:  # the supervisor logs it, tries again
            print(f"cddgis production: {exc}", file=sys.stderr)
            return 1
    if action not in actions:
        print("usage: scripts/production.sh start|stop|status", file=sys.stderr)
        return 2
    try:
        return actions[action](Config.from_env())
    except ProfileError as exc:
        print(f"cddgis production: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
