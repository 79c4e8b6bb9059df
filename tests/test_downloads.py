"""Whole-selection downloads (issue 21, item 4): FlatGeobuf, GeoPackage, GeoJSON text sequences
and NDJSON, read back by Debian's GDAL (what QGIS uses) from files downloaded over HTTP: the
right counts, Thai intact, the same properties as the GeoJSON, every filter applied, and no
personal value in any format's bytes. And ``q=`` on items, matched as the tour search matches
(item 5)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gis import collections as gc
from gis import downloads as gd
from gis import layer_queries as lq

OGRINFO, OGR2OGR = "/usr/bin/ogrinfo", "/usr/bin/ogr2ogr"
FORMATS = {"fgb": "fgb", "gpkg": "gpkg", "geojsonseq": "geojsons", "ndjson": "geojsonl"}
"""f= value → the file suffix GDAL recognises."""
PLOTS = "/api/collections/khok-nong-na/items"


def _fetch(url: str, out: Path) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        assert response.status == 200, url
        data = response.read()
    out.write_bytes(data)
    return data


def _count(path: Path) -> int:
    """Features as Debian's ogrinfo counts them (a streamed FlatGeobuf's header says 0,
    "unknown", so GDAL reads every feature to count)."""
    run = subprocess.run([OGRINFO, "-ro", "-al", "-so", str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr[-2000:]
    counts = [int(line.split(":")[1]) for line in run.stdout.splitlines()
              if line.startswith("Feature Count:")]
    assert len(counts) == 1, run.stdout[-2000:]
    return counts[0]


def _as_geojson(path: Path, out: Path) -> dict[str, dict]:
    """The file converted by ogr2ogr to GeoJSON: properties by feature id."""
    run = subprocess.run([OGR2OGR, "-f", "GeoJSON", str(out), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr[-2000:]
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["id"]: f for f in features}


def _same(value: object, expected: object) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return bool(value) == bool(expected) and value is not None
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return abs(float(value) - float(expected)) < 1e-9
    if isinstance(expected, str) and isinstance(value, str) and len(expected) == 10:
        return value[:10] == expected  # a date; FlatGeobuf stores it as a date-time
    return value == expected


def _layer_count(engine: Engine, layer: str, where: str = "true") -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features f "
                                 f"WHERE layer = :l AND {where}"), {"l": layer}).scalar_one()


@pytest.fixture(scope="module")
def full(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole of the 22,791 plots in each format (more than one batch of 20,000)."""
    folder = tmp_path_factory.mktemp("downloads")
    found = {}
    for f, suffix in FORMATS.items():
        found[f] = folder / f"plots.{suffix}"
        _fetch(f"{live_server}{PLOTS}?f={f}", found[f])
    return found


def test_every_format_reads_in_gdal_with_every_feature(full: dict[str, Path],
                                                       engine: Engine) -> None:
    expected = _layer_count(engine, "khok-nong-na")
    assert expected == 22_791
    for f, path in full.items():
        assert _count(path) == expected, f


def test_no_personal_value_in_any_format(full: dict[str, Path], engine: Engine) -> None:
    with engine.connect() as conn:
        owners = conn.execute(text("""
            SELECT DISTINCT personal->>'owner_name' FROM layer_features
            WHERE layer = 'khok-nong-na' AND personal ? 'owner_name' LIMIT 200""")).scalars().all()
    assert len(owners) == 200
    for f, path in full.items():
        data = path.read_bytes()
        assert b"owner_name" not in data, f
        leaked = [o for o in owners if o.encode() in data]
        assert leaked == [], (f, leaked[:3])


@pytest.mark.parametrize("layer, query", [
    ("khok-nong-na", "province=50"),
    ("khok-nong-na", "bbox=98.8,18.6,99.2,19.0&filter=model_level%3D%27CLM%27"),
    ("plant-genetics-trees", ""),
    ("learning-centers", "ready=true&region=north"),
])
def test_each_format_has_the_geojson_features_and_properties(
        live_server: str, client: FlaskClient, tmp_path: Path, layer: str, query: str) -> None:
    """Filtered downloads have the filtered count; every feature's properties (Thai included)
    and position are the GeoJSON's."""
    items = f"/api/collections/{layer}/items?{query}"
    geojson = client.get(f"{items}&limit=10000").get_json()
    expected = {f["id"]: f for f in geojson["features"]}
    assert 0 < len(expected) == geojson["numberMatched"] < 10_000
    for f, suffix in FORMATS.items():
        path = tmp_path / f"{f}.{suffix}"
        _fetch(f"{live_server}{items}&f={f}", path)
        assert _count(path) == len(expected), f
        found = _as_geojson(path, tmp_path / f"{f}.geojson")
        assert found.keys() == expected.keys(), f
        for key, feature in expected.items():
            got = found[key]
            props = {k: v for k, v in got["properties"].items() if v is not None}
            want = {k: v for k, v in feature["properties"].items() if v is not None}
            assert props.keys() == want.keys(), (f, key, props.keys() ^ want.keys())
            wrong = {k: (props[k], want[k]) for k in want if not _same(props[k], want[k])}
            assert wrong == {}, (f, key, wrong)
            assert got["geometry"]["coordinates"] == pytest.approx(
                feature["geometry"]["coordinates"], abs=1e-6), (f, key)


def test_batches_by_key_read_every_row_once(engine: Engine) -> None:
    """Batches of 5,000 by key: every plot once, in id order, for the GDAL formats' rows and
    the GeoJSON text; a limit and offset cut across batches."""
    c = gc.required("khok-nong-na")
    whole = gc.Query(limit=lq.MAX_CSV_ROWS)
    keys = [row[0] for _, rows in gd.flat_rows(engine, c, whole, batch=5_000) for row in rows]
    assert len(keys) == len(set(keys)) == 22_791 and keys == sorted(keys)
    texts = list(gd.geojson_features(engine, c, whole, batch=5_000))
    assert [json.loads(t)["id"] for t in texts] == keys
    cut = gc.Query(limit=7_000, offset=4_990)
    part = [row[0] for _, rows in gd.flat_rows(engine, c, cut, batch=5_000) for row in rows]
    assert part == keys[4_990:11_990]


def test_limit_offset_and_an_empty_selection(live_server: str, client: FlaskClient,
                                             tmp_path: Path) -> None:
    first = client.get(f"{PLOTS}?limit=30&offset=10").get_json()["features"]
    for f, suffix in FORMATS.items():
        path = tmp_path / f"page.{suffix}"
        _fetch(f"{live_server}{PLOTS}?f={f}&limit=30&offset=10", path)
        found = _as_geojson(path, tmp_path / f"page-{f}.geojson")
        assert sorted(found) == [x["id"] for x in first], f
        empty = tmp_path / f"empty.{suffix}"
        _fetch(f"{live_server}{PLOTS}?f={f}&province=10", empty)  # no plots in Bangkok
        if f in ("fgb", "gpkg"):  # a valid file with the columns and no features
            assert _count(empty) == 0, f
        else:
            assert empty.read_bytes() == b"", f


def test_properties_and_crs_apply_to_the_files(live_server: str, tmp_path: Path) -> None:
    """``properties=`` picks the columns (the id always), ``crs=`` the coordinates."""
    for f, suffix in FORMATS.items():
        path = tmp_path / f"some.{suffix}"
        _fetch(f"{live_server}/api/collections/volunteer-centers/items?f={f}"
               "&properties=name,province_th&crs=http://www.opengis.net/def/crs/EPSG/0/32647",
               path)
        found = _as_geojson(path, tmp_path / f"some-{f}.geojson")
        assert len(found) == 76, f
        feature = next(iter(found.values()))
        assert set(feature["properties"]) == {"id", "name", "province_th"}, f
        x, y = feature["geometry"]["coordinates"][:2]
        assert abs(x) > 1000 and y > 500_000, (f, x, y)  # metres, not degrees


def test_media_types_and_file_names(client: FlaskClient) -> None:
    for f, media in (("fgb", "application/flatgeobuf"),
                     ("gpkg", "application/geopackage+sqlite3"),
                     ("geojsonseq", "application/geo+json-seq"),
                     ("ndjson", "application/x-ndjson")):
        response = client.get(f"/api/collections/volunteer-centers/items?f={f}")
        assert response.status_code == 200 and response.mimetype == media, f
        assert "attachment; filename=\"volunteer-centers-" in response.headers[
            "Content-Disposition"]
    seq = client.get("/api/collections/volunteer-centers/items?f=geojsonseq").get_data()
    records = seq.split(b"\x1e")
    assert records[0] == b"" and len(records) == 77  # RFC 8142: RS before each record
    assert all(json.loads(r)["type"] == "Feature" for r in records[1:])


@pytest.mark.parametrize("query, names", [
    ("f=fgb&sortby=-plot_size_rai", "sortby"),
    ("f=gpkg&near=100.5,13.7", "near"),
    ("f=kml", "f must be one of"),
])
def test_downloads_refuse_what_they_cannot_do_by_name(client: FlaskClient, query: str,
                                                      names: str) -> None:
    response = client.get(f"{PLOTS}?{query}")
    assert response.status_code == 400
    assert names in response.get_json()["description"]


def test_boundaries_offer_no_downloads(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items?f=fgb")
    assert response.status_code == 400 and "f must be one of" in response.get_json()[
        "description"]


def test_openapi_and_html_offer_the_downloads(client: FlaskClient) -> None:
    doc = client.get("/api/openapi?f=json").get_json()
    op = doc["paths"]["/collections/khok-nong-na/items"]["get"]
    content = op["responses"]["200"]["content"]
    for media in ("application/flatgeobuf", "application/geopackage+sqlite3",
                  "application/geo+json-seq", "application/x-ndjson"):
        assert media in content
    html = client.get(f"{PLOTS}?f=html&province=50&limit=5").get_data(as_text=True)
    for f in FORMATS:
        assert f"f={f}" in html and "province=50" in html
    assert "limit=5&amp;f=fgb" not in html and "f=fgb&amp;limit" not in html


# -- q= on items, as the tour search matches (item 5) ------------------------------------------

TOUR = "/api/collections/otop-tourism-villages/items"


@pytest.mark.parametrize("typed", ["แม่กะเหนือ", "Mae Ka Nuea", "mae ka nuea", "แม่ก๊ะเหนีอ"])
def test_q_finds_what_the_tour_search_finds(client: FlaskClient, typed: str) -> None:
    """A spelling without tone marks, with a vowel slip, or in RTGS finds บ้านแม่ก๊ะเหนือ on
    the items, as the tour search does."""
    tour = client.get("/tour/search.json", query_string={"q": typed}).get_json()
    wanted = tour["features"][0]["id"]
    items = client.get(TOUR, query_string={"q": typed, "limit": 1000}).get_json()
    assert wanted in [f["id"] for f in items["features"]], typed
    assert items["numberMatched"] <= tour["numberMatched"] + 50


def test_q_filters_downloads_and_keeps_id_order(client: FlaskClient) -> None:
    items = client.get(TOUR, query_string={"q": "Mae Ka Nuea", "limit": 1000}).get_json()
    ids = [f["id"] for f in items["features"]]
    assert ids == sorted(ids)
    seq = client.get(TOUR, query_string={"q": "Mae Ka Nuea", "f": "ndjson"}).get_data()
    assert [json.loads(line)["id"] for line in seq.splitlines()] == ids


@pytest.mark.parametrize("q, status", [("x" * 101, 400), ("ab\x01c", 400)])
def test_bad_q_is_400_naming_q(client: FlaskClient, q: str, status: int) -> None:
    response = client.get(TOUR, query_string={"q": q})
    assert response.status_code == status
    assert "q" in response.get_json()["description"].split()[0]
