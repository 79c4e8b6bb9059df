"""The basemap that needs no internet (issue 13): its tiles hold the lines, area names and
village names GDAL finds where they belong; the operator's PMTiles file is served with range
requests; ``CDDGIS_TILES`` chooses between them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from gis import tiles as gt
from gis.settings import Settings
from tests.serving import app_with, served
from tests.test_tiles import MVT, ogr_read, tiles_over

BASEMAP = "/api/basemap/tiles/WebMercatorQuad"
CHIANG_MAI = (98.99, 18.79)
BANGKOK = (100.5018, 13.7563)


def _tile(client: FlaskClient, z: int, lon_lat: tuple[float, float]) -> tuple[bytes, int, int]:
    x, y = gt.lonlat_to_tile(*lon_lat, z)
    response = client.get(f"{BASEMAP}/{z}/{x}/{y}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == MVT
    assert response.headers["ETag"] and response.headers["Cache-Control"] == "no-cache"
    return response.data, x, y


def test_province_lines_and_names_zoomed_out(client: FlaskClient, tmp_path: Path) -> None:
    data, x, y = _tile(client, 6, CHIANG_MAI)
    features = ogr_read(tmp_path, data, 6, x, y)
    layers = {f.layer for f in features}
    assert layers == {"provinces", "labels"}  # no district lines, no villages at z=6
    labels = {f.fields["name_th"]: f for f in features if f.layer == "labels"}
    assert labels["เชียงใหม่"].fields["level"] == "provinces"
    assert labels["เชียงใหม่"].geometry.startswith("POINT")
    assert {f.fields["level"] for f in labels.values()} == {"provinces"}


def test_district_and_subdistrict_lines_and_village_names_zoomed_in(
        client: FlaskClient, tmp_path: Path) -> None:
    data, x, y = _tile(client, 9, CHIANG_MAI)
    nine = ogr_read(tmp_path, data, 9, x, y)
    assert {f.layer for f in nine} == {"provinces", "districts", "labels"}
    assert "เมืองเชียงใหม่" in {f.fields["name_th"] for f in nine if f.layer == "labels"}
    data, x, y = _tile(client, 14, BANGKOK)
    fourteen = ogr_read(tmp_path / "z14", data, 14, x, y)
    assert {"provinces", "districts", "subdistricts"} <= {f.layer for f in fourteen}
    assert {f.fields["level"] for f in fourteen if f.layer == "labels"} <= {"subdistricts"}


def test_village_names_in_a_village_tile(client: FlaskClient, engine, tmp_path: Path) -> None:
    from sqlalchemy import text
    with engine.connect() as conn:
        name, lon, lat = conn.execute(text(
            "SELECT name_th, ST_X(geom), ST_Y(geom) FROM villages WHERE province_code = '50' "
            "ORDER BY id LIMIT 1")).one()
    data, x, y = _tile(client, 13, (lon, lat))
    villages = [f for f in ogr_read(tmp_path, data, 13, x, y) if f.layer == "villages"]
    assert name in {f.fields["name_th"] for f in villages}
    data, _, _ = _tile(client, 11, (lon, lat))
    assert b"villages" not in data  # village names only zoomed in


def test_basemap_tile_revalidates(client: FlaskClient) -> None:
    x, y = gt.lonlat_to_tile(*BANGKOK, 8)
    first = client.get(f"{BASEMAP}/8/{x}/{y}")
    again = client.get(f"{BASEMAP}/8/{x}/{y}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path, status", [
    (f"{BASEMAP}/abc/0/0", 400), (f"{BASEMAP}/2/4/0", 404), (f"{BASEMAP}/2/1/1?x=1", 400),
    ("/api/basemap/tiles/WorldCRS84Quad/0/0/0", 404)])
def test_bad_basemap_tile_addresses(client: FlaskClient, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_tilejson(client: FlaskClient) -> None:
    doc = client.get(f"{BASEMAP}/tilejson.json").get_json()
    assert re.search(r"/api/basemap/tiles/WebMercatorQuad/\{z\}/\{x\}/\{y\}"
                     r"\?v=[0-9]+-[0-9a-f]{10}$", doc["tiles"][0]), doc["tiles"]
    assert {v["id"] for v in doc["vector_layers"]} == {
        "provinces", "districts", "subdistricts", "labels", "villages"}


# -- a local PMTiles basemap, cut from our own tiles -------------------------------------------

THAILAND = (97.3, 5.6, 105.7, 20.5)


def build_pmtiles(client: FlaskClient, path: Path, zooms: range = range(0, 7)) -> int:
    """A small PMTiles file of the basemap's own tiles over Thailand (what an operator would
    download once; here the tests make it). Returns the number of tiles written."""
    entries = []
    for z in zooms:
        for x, y in tiles_over(THAILAND, z):
            data = client.get(f"{BASEMAP}/{z}/{x}/{y}").data
            if data:
                entries.append((zxy_to_tileid(z, x, y), data))
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, data in sorted(entries):
            writer.write_tile(tile_id, data)
        e7 = [round(v * 10_000_000) for v in THAILAND]
        writer.finalize({"tile_type": TileType.MVT, "tile_compression": Compression.NONE,
                         "min_lon_e7": e7[0], "min_lat_e7": e7[1], "max_lon_e7": e7[2],
                         "max_lat_e7": e7[3], "center_zoom": 6},
                        {"name": "cddgis test basemap", "attribution": "cddgis tests"})
    return len(entries)


@pytest.fixture(scope="session")
def pmtiles_file(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pmtiles") / "thailand.pmtiles"
    assert build_pmtiles(app.test_client(), path) > 10
    return path


@pytest.fixture(scope="session")
def pmtiles_app(app: Flask, pmtiles_file: Path) -> Flask:
    """The app as an operator runs it with ``CDDGIS_TILES=pmtiles:/path`` (same database)."""
    return app_with(app, basemap_pmtiles=pmtiles_file)


@pytest.fixture(scope="session")
def pmtiles_server(pmtiles_app: Flask) -> Iterator[str]:
    with served(pmtiles_app) as base:
        yield base


# -- CDDGIS_TILES ---------------------------------------------------------------------------

def test_tiles_setting() -> None:
    none = Settings.from_env({"CDDGIS_TILES": "none"})
    assert none.tile_url is None and none.basemap_pmtiles is None
    local = Settings.from_env({"CDDGIS_TILES": "pmtiles:/srv/maps/thailand.pmtiles"})
    assert local.tile_url is None
    assert local.basemap_pmtiles == Path("/srv/maps/thailand.pmtiles")
    assert Settings.from_env({}).tile_url.startswith("https://tile.openstreetmap.org/")
    with pytest.raises(ValueError, match="pmtiles: needs a file"):
        Settings.from_env({"CDDGIS_TILES": "pmtiles:"})


def test_no_pmtiles_file_is_a_404(client: FlaskClient) -> None:
    response = client.get("/api/basemap/basemap.pmtiles")
    assert response.status_code == 404
    assert "CDDGIS_TILES=pmtiles:" in response.get_json()["description"]


def test_pmtiles_file_is_served_with_ranges(pmtiles_app, pmtiles_file: Path) -> None:
    client = pmtiles_app.test_client()
    whole = pmtiles_file.read_bytes()
    response = client.get("/api/basemap/basemap.pmtiles", headers={"Range": "bytes=0-126"})
    assert response.status_code == 206
    assert response.data == whole[:127] and response.data.startswith(b"PMTiles")
    assert response.headers["Content-Range"] == f"bytes 0-126/{len(whole)}"
    assert response.headers["Accept-Ranges"] == "bytes"
