"""Where the database is, and one engine per URL."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine, create_engine

from gis.cluster import LocalCluster
from gis.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    """Neither DATABASE_URL nor a local cluster is there to connect to."""


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the project-local cluster (which must have been started)."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        return url
    info = LocalCluster(settings.state_dir).info()
    if info is None:
        raise DatabaseNotConfigured(
            "No database: set DATABASE_URL, or run `cddgis db start` to create the local PostGIS."
        )
    return info.url()


@cache
def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                         connect_args={"connect_timeout": 5,
                                       "application_name": "cddgis"})
