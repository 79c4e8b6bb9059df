"""What every benchmark does first: a database of its own, and the app served on loopback."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from werkzeug.serving import make_server

from gis.boundary_store import load_boundaries
from gis.cluster import LocalCluster, create_database
from gis.db import engine_for
from gis.migrate import upgrade
from gis.settings import Settings
from web import create_app

BENCH_DATABASE = "cddgis_bench"


def bench_settings() -> Settings:
    return Settings.from_env({**os.environ, "CDDGIS_TILES": "none"})


def bench_database(settings: Settings, *, boundaries: bool = True) -> tuple[str, Engine]:
    """A fresh ``cddgis_bench`` on the project's local PostGIS, migrated (and with boundaries)."""
    info = LocalCluster(settings.state_dir).start()
    url = create_database(info, BENCH_DATABASE, drop_first=True)
    upgrade(url)
    engine = engine_for(url)
    if boundaries:
        load_boundaries(engine, settings.data_dir)
    return url, engine


@contextmanager
def served(settings: Settings, url: str) -> Iterator[str]:
    """The app on a free loopback port, for as long as the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, create_app(settings, database_url=url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def response_sizes(responses: list[Any]) -> list[tuple[str, int, int]]:
    """(url, body bytes, bytes on the wire) of each Playwright response that has a body."""
    sizes = []
    for response in responses:
        try:
            body = response.body()
        except Exception:  # redirects and aborted requests have no body
            continue
        sizes.append((response.url, len(body), response.request.sizes()["responseBodySize"]))
    return sizes


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
