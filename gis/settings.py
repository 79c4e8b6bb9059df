"""Settings read from the environment, in one typed place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.env import int_from_env, seconds_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _networks_setting(env: dict[str, str], name: str,
                      default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks, each checked; refused with the setting's name."""
    import ipaddress

    raw = [part.strip() for part in env.get(name, "").split(",") if part.strip()]
    for part in raw:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError as exc:
            raise ValueError(f"{name}: {part!r} is not an IP address or network "
                             "(e.g. 127.0.0.1,::1 or 172.30.250.0/24)") from exc
    return tuple(raw) or default


def persistent_secret(state_dir: Path) -> str:
    """A random key kept in ``state_dir/secret_key`` (created 0600 on first use), so sessions
    survive restarts of a single-machine install that did not set CDDGIS_SECRET_KEY."""
    import secrets

    path = state_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: a second process either
        # makes its own link fail (and reads ours) or wins; nobody reads a half-written key.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _default_data_dir() -> Path:
    """The shared data beside the project root, where the team keeps the open source files."""
    return PROJECT_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    """An existing PostGIS database, as the web app's (least-privileged) role. Unset: the project
    runs its own local cluster."""
    data_dir: Path
    """Where the source files live (boundaries/, points/, indicators/)."""
    state_dir: Path
    """Project-local folder for the local database cluster and its credentials."""
    host: str
    port: int
    tile_url: str | None
    """Basemap tile URL template, or None for no basemap (air-gapped networks)."""
    tile_attribution: str
    basemap_pmtiles: Path | None = None
    """A local PMTiles basemap (``CDDGIS_TILES=pmtiles:/path``), served by the app with range
    requests; then there is no raster tile URL, and nothing is fetched from the internet."""
    statement_timeout_ms: int = 10_000
    upload_retention_days: int = 30
    """Uploads older than this lose their stored file and row-by-row report
    (CDDGIS_UPLOAD_RETENTION_DAYS): PDPA, keep personal data no longer than needed."""
    tile_cache_mb: int = 512
    """The most tile data the database keeps (CDDGIS_TILE_CACHE_MB); the oldest go first."""
    tile_cache_filtered_mb: int = 64
    """Of that, the most for tiles made for a filter (CDDGIS_TILE_CACHE_FILTERED_MB), which any
    client can vary without end."""
    """The web app's longest SQL statement; PostgreSQL cancels it beyond (0 = no limit).
    Loaders and importers do long, legitimate work and use an engine without it."""
    owner_database_url: str | None = None
    """The same database as the role that owns the schema (migrate, load, import, sample);
    CDDGIS_OWNER_DATABASE_URL, or DATABASE_URL when only that is given."""
    read_database_urls: tuple[str, ...] = ()
    """Streaming replicas the web app reads from (CDDGIS_READ_DATABASE_URL, comma-separated);
    none: reads go to the primary (DATABASE_URL). Writes always go to the primary."""
    replica_max_lag_s: float = 30.0
    """A replica further behind the primary than this (CDDGIS_REPLICA_MAX_LAG_S, seconds) is
    out of the read rotation until it catches up; its reads go to the primary."""
    idle_in_transaction_timeout_ms: int = 60_000
    """A web connection left idle inside a transaction this long is closed by PostgreSQL, so a
    stuck request cannot hold locks (0 = never)."""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    photo_hosts: tuple[str, ...] = ()
    """Hosts whose https images the pages show (CDDGIS_PHOTO_HOSTS, e.g. ``otop.cdd.go.th,
    *.cdd.go.th``): they join the CSP's img-src. A photo link elsewhere is shown as a link, so
    the strict policy never blocks an image the importer accepted."""
    """Host names the app answers to (CDDGIS_ALLOWED_HOSTS, comma-separated; ``*`` for any).
    Absolute links in API responses are built from the request's Host, so a forged Host header
    must be refused rather than echoed into links (and caches)."""

    secret_key: str | None = None
    """Signs session cookies and CSRF tokens (CDDGIS_SECRET_KEY). Unset: a random key kept in
    ``state_dir/secret_key`` (one machine); set it to the same value on every replica."""
    session_hours: int = 8
    """A staff session ends this long after sign-in (CDDGIS_SESSION_HOURS)."""
    cookie_secure: bool = True
    """Session cookies only over HTTPS (CDDGIS_COOKIE_SECURE=0 for plain-HTTP setups; browsers
    treat http://127.0.0.1 and localhost as secure, so local use works either way)."""
    proxies: int = 0
    """How many reverse proxies stand in front (CDDGIS_PROXIES): their X-Forwarded-For/-Proto
    are trusted that many hops deep, so sign-in throttling sees the client's address rather than
    the proxy's (which would slow everyone down together)."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    """Addresses or networks (CIDR) of those proxies (CDDGIS_TRUSTED_PROXIES, comma-separated):
    X-Forwarded-* is believed only on a request that comes from one of them, so a request sent
    straight to an app port keeps its real address. Loopback by default: the production
    profile's nginx runs on the same machine."""
    max_upload_mb: int = 50
    """The largest file the staff workspace and the import API accept (CDDGIS_MAX_UPLOAD_MB)."""
    max_photo_mb: int = 15
    """The largest photo staff may attach to a feature (CDDGIS_MAX_PHOTO_MB); larger: 413."""
    import_workers: int = 2
    """Imports checked or committed at once per app process (CDDGIS_IMPORT_WORKERS): the staff
    uploads and the API's background imports share them, so a burst of imports never takes the
    CPU from the people browsing the map; more wait in the queue."""
    import_job_timeout_s: float = 1800.0
    """The longest an import job may run (CDDGIS_IMPORT_JOB_TIMEOUT_S, seconds): past it the
    job stops at its next batch as a Cancel does, nothing is committed, and it is failed."""
    import_queue_per_account: int = 10
    """Import jobs one account may have waiting in the queue (CDDGIS_IMPORT_QUEUE_PER_ACCOUNT):
    more are refused with 429, so one client cannot fill the queue for everyone."""
    import_sync_max_kb: int = 64
    """The largest file the import API imports inside the request (CDDGIS_IMPORT_SYNC_MAX_KB);
    a larger one becomes a job and the answer is 202 with its URL (``/api/jobs/{id}``)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        tiles = env.get("CDDGIS_TILES", "osm").strip()
        pmtiles: Path | None = None
        if tiles.lower() in ("", "none", "off"):
            tile_url, attribution = None, ""
        elif tiles.lower().startswith("pmtiles:"):
            raw = tiles[len("pmtiles:"):].strip()
            if not raw:
                raise ValueError("CDDGIS_TILES=pmtiles: needs a file, e.g. "
                                 "pmtiles:/srv/maps/thailand.pmtiles")
            pmtiles = Path(raw).expanduser().resolve()
            tile_url, attribution = None, env.get("CDDGIS_TILES_ATTRIBUTION", "")
        elif tiles.lower() == "osm":
            tile_url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
            attribution = "&copy; OpenStreetMap contributors"
        else:
            tile_url, attribution = tiles, env.get("CDDGIS_TILES_ATTRIBUTION", "")
        try:
            port = int(env.get("PORT", "8000"))
        except ValueError as exc:
            raise ValueError(f"PORT must be a number, got {env['PORT']!r}") from exc
        statement_timeout_ms = int_from_env(env, "CDDGIS_STATEMENT_TIMEOUT_MS", 10_000)
        idle_timeout_ms = int_from_env(env, "CDDGIS_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000)
        hosts = tuple(h.strip() for h in env.get("CDDGIS_ALLOWED_HOSTS", "").split(",")
                      if h.strip())
        photo_hosts = tuple(h.strip().lower() for h in env.get("CDDGIS_PHOTO_HOSTS", "")
                            .split(",") if h.strip())
        bad = [h for h in photo_hosts if not re.fullmatch(r"(\*\.)?[a-z0-9.-]+(:\d+)?", h)]
        if bad:
            raise ValueError(f"CDDGIS_PHOTO_HOSTS: {bad[0]!r} is not a host name (e.g. "
                             "otop.cdd.go.th or *.cdd.go.th)")
        return cls(
            allowed_hosts=hosts or cls.allowed_hosts,
            photo_hosts=photo_hosts,
            database_url=env.get("DATABASE_URL") or None,
            owner_database_url=(env.get("CDDGIS_OWNER_DATABASE_URL") or env.get("DATABASE_URL")
                                or None),
            data_dir=Path(env.get("CDDGIS_DATA_DIR") or _default_data_dir()).resolve(),
            state_dir=Path(env.get("CDDGIS_STATE_DIR") or PROJECT_ROOT / "var").resolve(),
            host=env.get("HOST", "127.0.0.1"),
            port=port,
            tile_url=tile_url,
            tile_attribution=attribution,
            basemap_pmtiles=pmtiles,
            statement_timeout_ms=statement_timeout_ms,
            upload_retention_days=int_from_env(env, "CDDGIS_UPLOAD_RETENTION_DAYS", 30,
                                               minimum=1),
            tile_cache_mb=int_from_env(env, "CDDGIS_TILE_CACHE_MB", 512, minimum=1),
            tile_cache_filtered_mb=int_from_env(env, "CDDGIS_TILE_CACHE_FILTERED_MB", 64,
                                                minimum=1),
            idle_in_transaction_timeout_ms=idle_timeout_ms,
            read_database_urls=tuple(u.strip() for u in env.get(
                "CDDGIS_READ_DATABASE_URL", "").split(",") if u.strip()),
            replica_max_lag_s=seconds_from_env(env, "CDDGIS_REPLICA_MAX_LAG_S", 30.0),
            secret_key=env.get("CDDGIS_SECRET_KEY") or None,
            session_hours=int_from_env(env, "CDDGIS_SESSION_HOURS", 8, minimum=1),
            cookie_secure=env.get("CDDGIS_COOKIE_SECURE", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            max_upload_mb=int_from_env(env, "CDDGIS_MAX_UPLOAD_MB", 50, minimum=1),
            max_photo_mb=int_from_env(env, "CDDGIS_MAX_PHOTO_MB", 15, minimum=1),
            import_workers=int_from_env(env, "CDDGIS_IMPORT_WORKERS", 2, minimum=1),
            import_job_timeout_s=seconds_from_env(env, "CDDGIS_IMPORT_JOB_TIMEOUT_S", 1800.0),
            import_queue_per_account=int_from_env(env, "CDDGIS_IMPORT_QUEUE_PER_ACCOUNT", 10,
                                                  minimum=1),
            import_sync_max_kb=int_from_env(env, "CDDGIS_IMPORT_SYNC_MAX_KB", 64),
            proxies=int_from_env(env, "CDDGIS_PROXIES", 0),
            trusted_proxies=_networks_setting(env, "CDDGIS_TRUSTED_PROXIES",
                                              cls.trusted_proxies),
        )
