"""Settings read from the environment, in one typed place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int_setting(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    """An integer from the environment, refused with its name when it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


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
    """The web app's longest SQL statement; PostgreSQL cancels it beyond (0 = no limit).
    Loaders and importers do long, legitimate work and use an engine without it."""
    owner_database_url: str | None = None
    """The same database as the role that owns the schema (migrate, load, import, sample);
    CDDGIS_OWNER_DATABASE_URL, or DATABASE_URL when only that is given."""
    idle_in_transaction_timeout_ms: int = 60_000
    """A web connection left idle inside a transaction this long is closed by PostgreSQL, so a
    stuck request cannot hold locks (0 = never)."""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    """Host names the app answers to (CDDGIS_ALLOWED_HOSTS, comma-separated; ``*`` for any).
    Absolute links in API responses are built from the request's Host, so a forged Host header
    must be refused rather than echoed into links (and caches)."""

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
        statement_timeout_ms = _int_setting(env, "CDDGIS_STATEMENT_TIMEOUT_MS", 10_000)
        idle_timeout_ms = _int_setting(env, "CDDGIS_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000)
        hosts = tuple(h.strip() for h in env.get("CDDGIS_ALLOWED_HOSTS", "").split(",")
                      if h.strip())
        return cls(
            allowed_hosts=hosts or cls.allowed_hosts,
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
            idle_in_transaction_timeout_ms=idle_timeout_ms,
        )
