"""GDAL's OAPIF driver — what QGIS uses — against the running app: every collection downloaded
completely (counts equal the database's), a bbox and a CQL2 filter evaluated by the server."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pyogrio
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from gis.boundaries import COLLECTIONS
from layers.definitions import LAYERS
from tests.serving import served_counting

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


def _ogr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("collection", "where", "sql"), [
    ("khok-nong-na", "province_code = '50'", "province_code = '50'"),
    # GDAL writes booleans as 0/1.
    ("learning-centers", "ready = 1", "(properties->>'ready')::boolean"),
])
def test_where_on_a_queryable_is_evaluated_by_the_server(
        app: Flask, engine: Engine, tmp_path: Path, collection: str, where: str,
        sql: str) -> None:
    """GDAL with its defaults (no option set): the filter goes to the server, so only the
    matching features travel (before, ``province_code`` made GDAL download all 22,791 plots
    to keep 641, and ``ready = 1`` was a 400 and 0 features)."""
    expected = _count(engine, f"SELECT count(*) FROM layer_features WHERE layer = "
                              f"'{collection}' AND {sql}")
    out = tmp_path / "where.gpkg"
    with served_counting(app) as (base, seen):
        run = _ogr(OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{base}/api", collection,
                   "-where", where)
    assert run.returncode == 0, run.stderr[-2000:]
    assert pyogrio.read_info(out, layer=collection)["features"] == expected > 0
    pages = [u for u in seen if u.startswith(f"/api/collections/{collection}/items?")]
    filtered = [u for u in pages if "filter=" in u or where.split()[0] + "=" in u]
    # Every page after GDAL's first look at the layer (one unfiltered page of 10, to learn
    # its fields) carries the filter, and there are only as many as the matches need.
    assert len(filtered) == len(pages) - 1, pages[:3]
    assert len(filtered) <= math.ceil(expected / 10) + 1, len(filtered)


def test_the_ogc_api_driver_finds_the_vector_tiles(app: Flask, tmp_path: Path) -> None:
    """GDAL's OGCAPI driver follows the collection's ``tilesets-vector`` link to the tileset
    list, the tileset (its ``self`` link), the tile matrix set (its ``tiling-scheme`` link,
    which GDAL 3.6 parses) and the ``item`` template of Mapbox Vector Tiles; the tiles
    at that template then read as layers and features with GDAL's MVT driver.

    GDAL 3.6.2 (Debian bookworm) goes no further by itself: its OGCAPI driver builds layers
    only from map (PNG/JPEG) tiles and returns "unable to open" with no message when a
    tileset has only vector tiles (read from its code: after the tile matrix set it tests the
    raster URL only). Later GDAL versions build one layer per tile matrix from the same
    documents; the test then also checks those layers."""
    with served_counting(app) as (base, seen):
        run = _ogr("/usr/bin/ogrinfo", "-ro", "-so", "-oo", "API=TILES",
                   f"OGCAPI:{base}/api/collections/khok-nong-na")
        walked = [urlsplit(u).path for u in seen]
        assert walked[:4] == ["/api/collections/khok-nong-na",
                              "/api/collections/khok-nong-na/tiles",
                              "/api/collections/khok-nong-na/tiles/WebMercatorQuad",
                              "/api/tileMatrixSets/WebMercatorQuad"], walked
        if run.returncode == 0:  # a GDAL newer than 3.6.2
            assert re.search(r"^1: .+", run.stdout, re.M), run.stdout
        tileset = json.loads(urlopen(f"{base}/api/collections/khok-nong-na/tiles/"
                                     "WebMercatorQuad", timeout=60).read())
        [item] = [link["href"] for link in tileset["links"] if link["rel"] == "item"]
        # Udon Thani at z=10, where plots are one by one (points from z=8).
        url = (item.replace("{tileMatrix}", "10").replace("{tileCol}", "804")
               .replace("{tileRow}", "461"))
        path, _, query = url.partition("?")
        tile = _ogr("/usr/bin/ogrinfo", "-ro", "-al", "-so", f"/vsicurl/{path}.mvt?{query}")
    assert tile.returncode == 0, tile.stderr[-2000:]
    assert "Layer name: khok-nong-na" in tile.stdout
    counted = re.search(r"Feature Count: (\d+)", tile.stdout)
    assert counted and int(counted.group(1)) > 0, tile.stdout
    assert "plot_id: String" in tile.stdout
