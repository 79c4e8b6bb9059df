"""Vector tiles (OGC API - Tiles): the documents, the tiles as GDAL's MVT driver reads them, no
personal data in any tile, and a cache that a write (an import, raw SQL, a boundary reload) can
never leave stale. The byte budget at 1,000,000 points: tests/test_tiles_million.py.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gis import layer_queries as lq
from gis import tiles as gt
from gis.boundary_store import load_boundaries
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.workers import db_name
from web import create_app

KNN = LAYERS["khok-nong-na"]
TMS = "/api/collections/{c}/tiles/WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
CHIANG_MAI = (98.9853, 18.7883)  # lon, lat: the old city
THAILAND = (97.34, 5.61, 105.64, 20.47)


def tile_url(collection: str, z: int | str, x: int | str, y: int | str, query: str = "",
             ) -> str:
    return f"{TMS.format(c=collection)}/{z}/{x}/{y}{query}"


def tiles_over(bbox: tuple[float, float, float, float], z: int) -> Iterator[tuple[int, int]]:
    x0, y1 = gt.lonlat_to_tile(bbox[0], bbox[1], z)
    x1, y0 = gt.lonlat_to_tile(bbox[2], bbox[3], z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            yield x, y


# -- GDAL, a real MVT client ------------------------------------------------------------------

@dataclass
class OgrFeature:
    layer: str
    fields: dict[str, str]
    geometry: str


def ogr_read(tmp_path: Path, data: bytes, z: int, x: int, y: int) -> list[OgrFeature]:
    """The tile's features as ``ogrinfo`` (GDAL's MVT driver) decodes them. The file is named
    z/x/y.pbf, from which GDAL georeferences it."""
    if shutil.which("ogrinfo") is None:
        pytest.fail("ogrinfo is missing: run `make test` (it installs Debian's gdal-bin).",
                    pytrace=False)
    if not data:
        return []
    path = tmp_path / "tiles" / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(path)], capture_output=True,
                         text=True, check=True).stdout
    features: list[OgrFeature] = []
    for line in out.splitlines():
        if m := re.match(r"OGRFeature\((.+)\):\d+$", line):
            features.append(OgrFeature(m.group(1), {}, ""))
        elif m := re.match(r"  (\w+) \([^)]*\) = (.*)$", line):
            features[-1].fields[m.group(1)] = m.group(2)
        elif line.startswith("  ") and features and line.strip()[:1].isalpha():
            features[-1].geometry = line.strip()
    return features


def _tile(client: FlaskClient, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == MVT
    return response.data


def test_gdal_finds_chiang_mai_and_a_subdistrict(client: FlaskClient, engine: Engine,
                                                 tmp_path: Path) -> None:
    for z in (6, 7):
        x, y = gt.lonlat_to_tile(*CHIANG_MAI, z)
        features = ogr_read(tmp_path, _tile(client, tile_url("provinces", z, x, y)), z, x, y)
        chiang_mai = [f for f in features if f.fields.get("code") == "50"]
        assert len(chiang_mai) == 1, [f.fields for f in features]
        assert chiang_mai[0].layer == "provinces"
        assert chiang_mai[0].fields["name_th"] == "เชียงใหม่"
        assert chiang_mai[0].fields["name_en"] == "Chiang Mai"
        assert chiang_mai[0].fields["region"] == "north"
        assert chiang_mai[0].geometry.startswith(("POLYGON", "MULTIPOLYGON"))
    with engine.connect() as conn:
        lon, lat = conn.execute(text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(geom) AS p FROM subdistricts WHERE code = '500101') s
        """)).one()
    x, y = gt.lonlat_to_tile(lon, lat, 12)
    features = ogr_read(tmp_path, _tile(client, tile_url("subdistricts", 12, x, y)), 12, x, y)
    found = [f.fields for f in features if f.fields.get("code") == "500101"]
    assert found and found[0]["district_code"] == "5001"
    assert found[0]["province_code"] == "50"


def test_point_tiles_add_up_to_the_layer(client: FlaskClient, engine: Engine,
                                         tmp_path: Path) -> None:
    """At z=7 a point layer's tiles are counts on a grid; over all tiles they are the layer."""
    with engine.connect() as conn:
        expected = conn.execute(text(
            "SELECT count(*) FROM layer_features WHERE layer = :l"), {"l": KNN.id}).scalar_one()
    assert expected > 20_000
    total = 0
    for x, y in tiles_over(THAILAND, 7):
        for f in ogr_read(tmp_path, _tile(client, tile_url(KNN.id, 7, x, y)), 7, x, y):
            total += int(f.fields["count"])
    assert total == expected


def test_points_at_high_zoom_carry_public_fields(client: FlaskClient, tmp_path: Path) -> None:
    x, y = gt.lonlat_to_tile(*CHIANG_MAI, 9)
    features = ogr_read(tmp_path, _tile(client, tile_url(KNN.id, 9, x, y)), 9, x, y)
    assert features and all(f.geometry.startswith("POINT") for f in features)
    assert {"id", "plot_id", "model_level", "plot_size_rai", "budget_year"} <= set(
        features[0].fields)
    assert "count" not in features[0].fields


# -- no personal data -----------------------------------------------------------------------

def test_personal_fields_never_enter_a_tile(client: FlaskClient, engine: Engine,
                                            tmp_path: Path) -> None:
    """Owner names live in the ``personal`` column; not one of them, nor the field name, is in
    any tile over Chiang Mai at grid or point zooms (MVT strings are plain UTF-8)."""
    personal_fields = [f.name for f in KNN.personal_fields]
    assert personal_fields == ["owner_name"]
    for z in (5, 7, 9, 11, 13):
        x, y = gt.lonlat_to_tile(*CHIANG_MAI, z)
        data = _tile(client, tile_url(KNN.id, z, x, y))
        with engine.connect() as conn:
            owners = conn.execute(text("""
                SELECT DISTINCT f.personal->>'owner_name' FROM layer_features f
                WHERE f.layer = :l AND f.personal ? 'owner_name'
                  AND f.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326)
            """), {"l": KNN.id, "z": z, "x": x, "y": y}).scalars().all()
        assert owners, f"no plots with an owner in {z}/{x}/{y}: the check would prove nothing"
        assert not [o for o in owners if o.encode() in data]
        assert b"owner_name" not in data
        for f in ogr_read(tmp_path, data, z, x, y):
            assert not set(f.fields) & set(personal_fields)


# -- documents and parameters ---------------------------------------------------------------

def test_tile_matrix_set_tilesets_and_tilejson(client: FlaskClient) -> None:
    tms = client.get("/api/tileMatrixSets/WebMercatorQuad").get_json()
    assert tms["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert [m["id"] for m in tms["tileMatrices"]] == [str(z) for z in range(25)]
    assert tms["tileMatrices"][1]["matrixWidth"] == 2
    assert math.isclose(tms["tileMatrices"][0]["cellSize"], 156543.033928041)
    listed = client.get("/api/tileMatrixSets").get_json()["tileMatrixSets"]
    assert listed[0]["id"] == "WebMercatorQuad"

    for collection in ("provinces", "districts", "subdistricts", *LAYERS):
        sets = client.get(TMS.format(c=collection).rsplit("/", 1)[0]).get_json()["tilesets"]
        assert sets[0]["dataType"] == "vector"
        doc = client.get(TMS.format(c=collection)).get_json()
        rels = {link["rel"]: link for link in doc["links"]}
        assert rels["item"]["type"] == MVT and rels["item"]["templated"] is True
        assert "{tileMatrix}/{tileCol}/{tileRow}" in rels["item"]["href"]
        assert doc["layers"][0]["id"] == collection
        tilejson = client.get(f"{TMS.format(c=collection)}/tilejson.json").get_json()
        assert tilejson["tilejson"] == "3.0.0"
        assert re.search(f"{collection}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
                         r"\?v=[0-9]+-[0-9a-f]{10}$", tilejson["tiles"][0]), tilejson["tiles"]
        assert tilejson["vector_layers"][0]["id"] == collection
    knn = client.get(f"{TMS.format(c=KNN.id)}/tilejson.json?province=50&model_level=CLM")
    layer = knn.get_json()["vector_layers"][0]
    assert "owner_name" not in layer["fields"] and "plot_size_rai" in layer["fields"]
    assert re.search(r"\{y\}\?province=50&model_level=CLM&v=[0-9]+-[0-9a-f]{10}$",
                     knn.get_json()["tiles"][0])
    everything = client.get("/api/tiles/WebMercatorQuad/tilejson.json").get_json()
    assert [v["id"] for v in everything["vector_layers"]] == list(LAYERS)
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in client.get(
        "/api/conformance").get_json()["conformsTo"]


@pytest.mark.parametrize(("path", "status", "says"), [
    (tile_url("provinces", "x", 1, 1), 400, "z (tile matrix)"),
    (tile_url("provinces", 25, 1, 1), 400, "z (tile matrix) must be between 0 and 24"),
    (tile_url("provinces", 3, "-1", 1), 400, "x (tile column)"),
    (tile_url("provinces", 3, 1, "1.5"), 400, "y (tile row)"),
    (tile_url("provinces", 3, 1, "99999999999"), 400, "y (tile row)"),
    (tile_url("provinces", 3, 8, 1), 404, "outside the tile matrix"),
    (tile_url("provinces", 0, 0, 1), 404, "outside the tile matrix"),
    ("/api/collections/provinces/tiles/WorldCRS84Quad/0/0/0", 404, "tile matrix set"),
    (tile_url("nowhere", 0, 0, 0), 404, "no collection"),
    (tile_url("provinces", 0, 0, 0, "?limit=5"), 400, "unknown parameter"),
    (tile_url("provinces", 0, 0, 0, "?subdistrict=500101"), 400, "unknown parameter"),
    (tile_url("provinces", 0, 0, 0, "?province=5"), 400, "province"),
    (tile_url("districts", 0, 0, 0, "?province=50&district=1001"), 400, "not inside"),
    (tile_url(KNN.id, 0, 0, 0, "?model_level=XYZ"), 400, "model_level"),
    (tile_url(KNN.id, 0, 0, 0, "?region=west"), 400, "region"),
    (tile_url(KNN.id, 0, 0, 0, "?f=json"), 400, "f must be one of mvt"),
    (tile_url(KNN.id, 0, 0, 0, "?v=latest"), 400, "v must be a tile version"),
    (tile_url("provinces", 0, 0, 0, "?province=50&v=12"), 400, "v must be a tile version"),
    ("/api/basemap/tiles/WebMercatorQuad/0/0/0?v=1-x", 400, "v must be a tile version"),
])
def test_bad_tile_requests_say_what_is_wrong(client: FlaskClient, path: str, status: int,
                                             says: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert says in response.get_json()["description"]


def test_empty_tile_is_an_empty_mvt_and_filters_apply(client: FlaskClient,
                                                      tmp_path: Path) -> None:
    ocean = client.get(tile_url("provinces", 4, 0, 0))  # the North Atlantic
    assert ocean.status_code == 200 and ocean.mimetype == MVT and ocean.data == b""
    assert ocean.headers["ETag"]
    x, y = gt.lonlat_to_tile(*CHIANG_MAI, 9)
    everything = ogr_read(tmp_path, _tile(client, tile_url(KNN.id, 9, x, y)), 9, x, y)
    clm = ogr_read(tmp_path, _tile(client, tile_url(KNN.id, 9, x, y, "?model_level=CLM")),
                   9, x, y)
    assert clm and all(f.fields["model_level"] == "CLM" for f in clm)
    assert len(clm) < len(everything)
    lamphun = client.get(tile_url("districts", 9, x, y, "?province=51")).data
    chiang_mai = client.get(tile_url("districts", 9, x, y, "?province=50")).data
    assert "ลำพูน".encode() not in chiang_mai and b"5001" in chiang_mai
    assert b"5001" not in lamphun


def test_etag_cache_control_and_304(client: FlaskClient) -> None:
    x, y = gt.lonlat_to_tile(*CHIANG_MAI, 8)
    url = tile_url("subdistricts", 8, x, y, "?province=50")
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache" and etag.startswith('"')
    again = client.get(url)
    assert again.headers["X-Tile-Cache"] == "hit" and again.headers["ETag"] == etag
    assert again.data == first.data
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # Behind nginx's gzip the ETag comes back weak (W/"…"): still the same tile, still a 304.
    assert client.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    # The multi-collection tileset: one MVT layer per point layer.
    both = client.get(f"/api/tiles/WebMercatorQuad/8/{x}/{y}")
    assert both.status_code == 200 and both.mimetype == MVT
    assert all(layer.id.encode() in both.data for layer in LAYERS.values()
               if layer.id in ("khok-nong-na", "learning-centers"))


# -- freshness ------------------------------------------------------------------------------

OWN_DATABASE = db_name("cddgis_test_tiles")
HEADER = ["รหัสแปลง", "ขนาดแปลง (ไร่)", "ชื่อเจ้าของแปลง", "ระดับโมเดล", "ปีงบประมาณ", "จังหวัด",
          "ละติจูด", "ลองจิจูด"]
# lon, lat, province: places well inside their tiles at z=6..12 (checked below).
PLACES = {"T1": (98.9853, 18.7883, "เชียงใหม่"), "T2": (102.8360, 16.4419, "ขอนแก่น"),
          "T3": (100.45, 7.15, "สงขลา")}
MOVED_TO = (99.95, 19.25, "พะเยา")


@pytest.fixture(scope="module")
def own(copy_database: Callable[..., str], cluster: ClusterInfo,
        settings: Settings) -> tuple[Engine, FlaskClient]:
    """A database of this module's own (boundaries, no layers) and the app on it, as the
    least-privilege app role."""
    engine = engine_for(copy_database(OWN_DATABASE))
    app = create_app(settings, database_url=cluster.url(database=OWN_DATABASE, role="app"))
    app.config["TESTING"] = True
    return engine, app.test_client()


def _plots_csv(path: Path, places: dict[str, tuple[float, float, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for key, (lon, lat, province) in places.items():
        writer.writerow([key, 5, f"นางทดสอบ {key}", "HLM", 2564, province, lat, lon])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _inside(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile of a point that lies clear of its tile's margin (so no neighbour draws it)."""
    n = 2**z
    fx = (lon + 180) / 360 * n
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    for f in (fx, fy):
        assert 2 * gt.MARGIN < f % 1 < 1 - 2 * gt.MARGIN, (lon, lat, z)
    return int(fx), int(fy)


def _state(client: FlaskClient, urls: list[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        out[url] = (response.headers["ETag"], response.headers["X-Tile-Cache"])
    return out


def _raw_insert(engine: Engine, key: str, properties: dict[str, object], lon: float,
                lat: float) -> None:
    """A plot written by raw SQL (no importer): the triggers must see it all the same."""
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            VALUES (:l, :key, :key, CAST(:properties AS jsonb),
                    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        """), {"l": KNN.id, "key": key, "properties": json.dumps(properties), "lon": lon,
               "lat": lat})


def test_import_that_moves_one_point_changes_exactly_its_tiles(
        own: tuple[Engine, FlaskClient], tmp_path: Path) -> None:
    engine, client = own
    first = import_file(engine, KNN, _plots_csv(tmp_path / "a.csv", PLACES))
    assert first.committed, first.summary()
    changed: list[str] = []
    kept: list[str] = []
    for z in (6, 8, 10, 12):
        old, new = _inside(*PLACES["T1"][:2], z), _inside(*MOVED_TO[:2], z)
        others = {_inside(*PLACES[k][:2], z) for k in ("T2", "T3")}
        neighbours = {(x + dx, y + dy) for x, y in (old, new)
                      for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))} - {old, new}
        changed += [tile_url(KNN.id, z, x, y) for x, y in {old, new}]
        kept += [tile_url(KNN.id, z, x, y) for x, y in neighbours | others]
    before = _state(client, changed + kept)
    assert all(source == "miss" for _, source in before.values())
    assert all(source == "hit" for _, source in _state(client, changed + kept).values())

    moved = import_file(engine, KNN, _plots_csv(tmp_path / "b.csv", {**PLACES,
                                                                      "T1": MOVED_TO}))
    # Only T1 changed; T2 and T3 are imported again as stored, which is no update (issue 24).
    assert moved.committed and moved.updated == 1, moved.summary()
    after = _state(client, changed + kept)
    for url in changed:
        assert after[url][0] != before[url][0], f"{url} still shows the old place"
    for url in kept:  # not even rebuilt: their cached tile was not touched
        assert after[url] == (before[url][0], "hit"), url


def test_raw_sql_and_a_write_in_flight_never_leave_a_stale_tile(
        own: tuple[Engine, FlaskClient]) -> None:
    engine, client = own
    lon, lat = 100.5018, 13.7563  # Bangkok
    _raw_insert(engine, "RAW1", {"plot_id": "FIRST"}, lon, lat)
    x, y = gt.lonlat_to_tile(lon, lat, 11)
    url = tile_url(KNN.id, 11, x, y)
    assert b"FIRST" in client.get(url).data
    assert client.get(url).headers["X-Tile-Cache"] == "hit"

    # A writer that has changed the row but not committed: the cached tile is still the
    # committed truth; a tile built meanwhile shows the committed data and may be stored (the
    # writer holds no lock until it commits: migration 0016), and the commit forgets it, so it
    # is never served after the write.
    other = tile_url(KNN.id, 12, *gt.lonlat_to_tile(lon, lat, 12))
    with engine.connect() as writer:
        transaction = writer.begin()
        writer.execute(text("UPDATE layer_features SET properties = '{\"plot_id\": \"SECOND\"}' "
                            "WHERE key = 'RAW1'"))
        cached = client.get(url)
        assert cached.headers["X-Tile-Cache"] == "hit" and b"FIRST" in cached.data
        during = client.get(other)
        assert during.headers["X-Tile-Cache"] == "miss" and b"FIRST" in during.data
        again = client.get(other)
        assert again.headers["X-Tile-Cache"] == "hit" and b"FIRST" in again.data
        transaction.commit()
    for tile in (url, other):
        after = client.get(tile)
        assert b"SECOND" in after.data and b"FIRST" not in after.data
        assert client.get(tile).headers["X-Tile-Cache"] == "hit"

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM layer_features WHERE key = 'RAW1'"))
    assert b"RAW1" not in client.get(url).data


def test_boundary_reload_clears_its_collections(own: tuple[Engine, FlaskClient],
                                                data_dir: Path) -> None:
    engine, client = own
    x, y = gt.lonlat_to_tile(*CHIANG_MAI, 7)
    urls = [tile_url(c, 7, x, y) for c in ("provinces", "districts", "subdistricts")]
    _state(client, urls)
    assert all(source == "hit" for _, source in _state(client, urls).values())
    with engine.begin() as conn:  # any writer: a raw rename
        conn.execute(text("UPDATE provinces SET name_en = 'Chiang Mai (renamed)' "
                          "WHERE code = '50'"))
    assert b"Chiang Mai (renamed)" in client.get(urls[0]).data
    load_boundaries(engine, data_dir)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM tile_cache WHERE collection IN "
                                 "('provinces', 'districts', 'subdistricts')")).scalar_one()
    assert left == 0
    assert b"Chiang Mai (renamed)" not in client.get(urls[0]).data


def _version(client: FlaskClient, tilejson_url: str) -> str:
    response = client.get(tilejson_url)
    assert response.headers["Cache-Control"] == "no-cache"  # it names the version: ask again
    template = response.get_json()["tiles"][0]
    found = re.search(r"[?&]v=([0-9]+-[0-9a-f]{10})$", template)
    assert found, template
    return found.group(1)


def test_a_versioned_tile_is_immutable_and_a_write_gives_new_urls(
        own: tuple[Engine, FlaskClient]) -> None:
    """A tile asked for with the tileset's current version may be kept a year (a proxy or CDN
    keeps it without asking); a write that changes a tile changes the version of exactly the
    tilesets it touched, so the URLs the next client reads are new; the old URL then answers
    the current tile, revalidated (never kept) — so nothing kept is ever shown as current."""
    engine, client = own
    knn_json = f"{TMS.format(c=KNN.id)}/tilejson.json"
    versions = {
        "knn": lambda: _version(client, knn_json),
        "subdistricts": lambda: _version(client, f"{TMS.format(c='subdistricts')}/tilejson.json"),
        "all": lambda: _version(client, "/api/tiles/WebMercatorQuad/tilejson.json"),
        "basemap": lambda: _version(client, "/api/basemap/tiles/WebMercatorQuad/tilejson.json"),
    }
    before = {name: read() for name, read in versions.items()}
    lon, lat = 100.5018, 13.7563  # Bangkok
    x, y = gt.lonlat_to_tile(lon, lat, 11)
    url = tile_url(KNN.id, 11, x, y)

    kept = client.get(f"{url}?v={before['knn']}")
    assert kept.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(url).headers["Cache-Control"] == "no-cache"
    stranger = client.get(f"{url}?v=1-0123456789")  # well-formed, not the current version
    assert stranger.status_code == 200 and stranger.headers["Cache-Control"] == "no-cache"
    assert stranger.data == kept.data
    # The basemap's own tiles the same way.
    basemap = client.get(f"/api/basemap/tiles/WebMercatorQuad/6/49/29?v={before['basemap']}")
    assert basemap.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    # A change that no tile shows (bookkeeping only) keeps every version.
    with engine.begin() as conn:
        conn.execute(text("UPDATE layer_features SET updated_at = now() WHERE layer = :l"),
                     {"l": KNN.id})
    assert {name: read() for name, read in versions.items()} == before

    _raw_insert(engine, "VER1", {"plot_id": "VERSIONED"}, lon, lat)
    after = {name: read() for name, read in versions.items()}
    assert after["knn"] != before["knn"] and after["all"] != before["all"]
    assert after["subdistricts"] == before["subdistricts"]
    assert after["basemap"] == before["basemap"]
    fresh = client.get(f"{url}?v={after['knn']}")
    assert b"VERSIONED" in fresh.data
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    old_url = client.get(f"{url}?v={before['knn']}")
    assert b"VERSIONED" in old_url.data and old_url.headers["Cache-Control"] == "no-cache"

    # Villages are in the basemap only; a boundary table is its own collection and the basemap.
    with engine.begin() as conn:
        conn.execute(text("UPDATE villages SET name_th = name_th WHERE id = (SELECT min(id) "
                          "FROM villages)"))
        conn.execute(text("DELETE FROM layer_features WHERE key = 'VER1'"))
    assert versions["basemap"]() != after["basemap"]
    assert versions["subdistricts"]() == before["subdistricts"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE subdistricts SET name_en = name_en WHERE code = '500101'"))
    assert versions["subdistricts"]() != before["subdistricts"]


def test_layer_summaries_are_kept_only_while_the_data_versions_stay(
        own: tuple[Engine, FlaskClient]) -> None:
    """The per-layer counts and extents (most pages, /api/collections) are kept per process
    under the layers' data versions: a write shows at once, whoever makes it (raw SQL here)."""
    engine, client = own

    def matched() -> int:
        doc = client.get(f"/api/collections/{KNN.id}/items?limit=1").get_json()
        return int(doc["numberMatched"])

    before, before_api = lq.layer_summary(engine).get(KNN.id, {"count": 0}), matched()
    _raw_insert(engine, "SUM1", {"plot_id": "SUM1"}, 105.5, 15.2)
    after = lq.layer_summary(engine)[KNN.id]
    assert after["count"] == int(str(before["count"])) + 1
    assert after["bbox"][2] == 105.5  # type: ignore[index]
    collection = client.get(f"/api/collections/{KNN.id}").get_json()
    assert collection["extent"]["spatial"]["bbox"][0][2] == 105.5
    assert matched() == before_api + 1
    after["count"] = -1  # a caller's change stays its own
    assert lq.layer_summary(engine)[KNN.id]["count"] == int(str(before["count"])) + 1
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM layer_features WHERE key = 'SUM1'"))
    assert lq.layer_summary(engine).get(KNN.id, {"count": 0})["count"] == before["count"]


def test_a_field_made_personal_is_never_served_from_the_cache(
        own: tuple[Engine, FlaskClient]) -> None:
    """The cache is keyed by what the declaration puts in a tile: once a field is declared
    personal, a tile cached while it was public is not served again (before: it was, with the
    field in it, until something under the tile changed), and ``cddgis serve`` deletes it."""
    engine, _ = own
    lon, lat = 100.5018, 13.7563
    _raw_insert(engine, "PDPA1", {"plot_id": "PDPA1", "plot_size_rai": 7}, lon, lat)
    x, y = gt.lonlat_to_tile(lon, lat, 12)
    public = gt.get_tile(engine, KNN, gt.TileFilters(), 12, x, y)
    assert b"plot_size_rai" in public.data
    assert gt.get_tile(engine, KNN, gt.TileFilters(), 12, x, y).cached
    made_personal = dataclasses.replace(KNN, fields=tuple(
        dataclasses.replace(f, personal=True) if f.name == "plot_size_rai" else f
        for f in KNN.fields))
    assert gt.fingerprint(made_personal) != gt.fingerprint(KNN)
    now = gt.get_tile(engine, made_personal, gt.TileFilters(), 12, x, y)
    assert not now.cached and b"PDPA1" in now.data and b"plot_size_rai" not in now.data
    assert now.version != public.version  # so a proxy's copy is not asked for either
    assert gt.forget_other_fingerprints(engine, [made_personal]) >= 1
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM tile_cache WHERE collection = :l AND fingerprint = :f"),
            {"l": KNN.id, "f": gt.fingerprint(KNN)}).scalar_one() == 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM layer_features WHERE key = 'PDPA1'"))
