"""GDAL's OAPIF driver — what QGIS uses — against the running app: every collection downloaded
completely (counts equal the database's), a bbox and a CQL2 filter evaluated by the server."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import Engine, text

from gis.boundaries import COLLECTIONS
from layers.definitions import LAYERS

OGR2OGR = "/usr/bin/ogr2ogr"


def _download(live_server: str, collection: str, out: Path, *extra: str,
              env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """ogr2ogr with defaults only (no page size); returns (features, GDAL's log, seconds)."""
    if not Path(OGR2OGR).exists():
        pytest.fail("ogr2ogr is missing: run `make test` (it installs Debian's gdal-bin).",
                    pytrace=False)
    started = time.perf_counter()
    run = subprocess.run(
        [OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{live_server}/api", collection, *extra],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CPL_DEBUG": "ON", **(env or {})})
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-2000:]
    return pyogrio.read_info(out, layer=collection)["features"], run.stderr, seconds


def _fetched(log: str) -> list[str]:
    return re.findall(r"HTTP: Fetch\((\S+)\)", log)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_every_collection_downloads_completely(live_server: str, engine: Engine,
                                               tmp_path: Path) -> None:
    for collection in [*COLLECTIONS, *LAYERS]:
        table = COLLECTIONS[collection].table if collection in COLLECTIONS else None
        expected = _count(engine, f"SELECT count(*) FROM {table}") if table else _count(
            engine, f"SELECT count(*) FROM layer_features WHERE layer = '{collection}'")
        features, log, _ = _download(live_server, collection, tmp_path / f"{collection}.gpkg")
        assert features == expected, collection
        pages = [u for u in _fetched(log) if "/items?" in u]
        # Pages follow next links by key (cursor), never by a growing offset: linear.
        assert all("offset=" not in u for u in pages), collection
        # No time limit here (speed lives in benchmarks/): a timed test fails on a busy machine.


def test_bbox_is_evaluated_by_the_server(live_server: str, engine: Engine,
                                         tmp_path: Path) -> None:
    features, log, _ = _download(live_server, "khok-nong-na", tmp_path / "bbox.gpkg",
                                 "-spat", "98.8", "18.6", "99.2", "19.0")
    assert any("bbox=98.7999" in u for u in _fetched(log))  # GDAL prints %.18g
    assert features == _count(engine, """
        SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na'
          AND ST_Intersects(geom, ST_MakeEnvelope(98.8, 18.6, 99.2, 19.0, 4326))""") > 0


def test_cql2_filter_is_evaluated_by_the_server(live_server: str, engine: Engine,
                                                tmp_path: Path) -> None:
    # GDAL 3.6 sends CQL text (filter-lang=cql-text, the draft's name) when allowed to.
    features, log, _ = _download(
        live_server, "khok-nong-na", tmp_path / "cql.gpkg",
        "-where", "model_level = 'CLM' AND budget_year = 2564",
        env={"OGR_OAPIF_ALLOW_CQL_TEXT": "YES"})
    assert any("filter=" in u and "CLM" in u for u in _fetched(log)), _fetched(log)[:5]
    assert features == _count(engine, """
        SELECT count(*) FROM layer_features WHERE layer = 'khok-nong-na'
          AND properties->>'model_level' = 'CLM' AND properties->>'budget_year' = '2564'""") > 0
