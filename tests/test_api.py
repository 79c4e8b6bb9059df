"""The OGC API - Features endpoints, over the real boundaries in PostGIS."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from gis.settings import Settings
from web import create_app


def _get(client: FlaskClient, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_landing_links_to_conformance_and_collections(client: FlaskClient) -> None:
    body = _get(client, "/api/")
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "conformance", "data"} <= rels
    conformance = _get(client, "/api/conformance")["conformsTo"]
    assert any(c.endswith("/conf/geojson") for c in conformance)


def test_collections_describe_the_three_levels(client: FlaskClient) -> None:
    body = _get(client, "/api/collections")
    ids = [c["id"] for c in body["collections"]]
    assert ids[:3] == ["provinces", "districts", "subdistricts"]
    provinces = _get(client, "/api/collections/provinces")
    minx, miny, maxx, maxy = provinces["extent"]["spatial"]["bbox"][0]
    assert 97 < minx < 98 and 5 < miny < 6 and 105 < maxx < 106 and 20 < maxy < 21
    assert _get(client, "/api/collections/villages", 404)["description"].startswith(
        "no collection")


def test_all_provinces_with_official_thai_names(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items?limit=100")
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == 77
    names = {f["properties"]["code"]: f["properties"]["name_th"] for f in body["features"]}
    assert names["10"] == "กรุงเทพมหานคร" and names["96"] == "นราธิวาส"
    # RFC 7946: longitude first
    first = body["features"][0]
    assert first["id"] == first["properties"]["code"]
    lon, lat = first["geometry"]["coordinates"][0][0][0]
    assert 97 < lon < 106 and 5 < lat < 21
    assert set(first["properties"]) >= {"code", "name_th", "name_en", "region", "area_km2"}


def test_all_928_districts_in_one_page(client: FlaskClient) -> None:
    body = _get(client, "/api/collections/districts/items?limit=1000")
    assert body["numberMatched"] == body["numberReturned"] == 928
    assert "next" not in {link["rel"] for link in body["links"]}
    codes = [f["properties"]["code"] for f in body["features"]]
    assert codes == sorted(codes) and len(set(codes)) == 928


def test_paging_links_and_offsets(client: FlaskClient) -> None:
    first = _get(client, "/api/collections/districts/items?limit=100")
    assert first["numberReturned"] == 100
    links = {link["rel"]: link["href"] for link in first["links"]}
    # next continues after the last key (a cursor), not at an offset.
    assert "cursor=" in links["next"] and "offset" not in links["next"] and "prev" not in links
    codes, url = [f["id"] for f in first["features"]], links["next"]
    while url:
        page = _get(client, url.replace("http://localhost", ""))
        assert "numberMatched" not in page  # told by the first page; not paid for again
        codes += [f["id"] for f in page["features"]]
        url = {link["rel"]: link["href"] for link in page["links"]}.get("next")
    assert len(codes) == 928 and codes == sorted(set(codes))
    # offset is still accepted, and its next link goes on by key.
    last = _get(client, "/api/collections/districts/items?limit=100&offset=900")
    assert last["numberReturned"] == 28 and last["numberMatched"] == 928
    links = {link["rel"]: link["href"] for link in last["links"]}
    assert "next" not in links and "offset=800" in links["prev"]
    assert [f["id"] for f in last["features"]] == codes[900:]


def test_province_and_district_filters(client: FlaskClient) -> None:
    districts = _get(client, "/api/collections/districts/items?province=50")
    assert districts["numberMatched"] == 25
    assert {f["properties"]["province_code"] for f in districts["features"]} == {"50"}
    subs = _get(client, "/api/collections/subdistricts/items?district=5001")
    assert subs["numberMatched"] == 16
    assert {f["properties"]["district_code"] for f in subs["features"]} == {"5001"}
    both = _get(client, "/api/collections/subdistricts/items?province=50&district=5001")
    assert both["numberMatched"] == 16
    clash = _get(client, "/api/collections/subdistricts/items?province=10&district=5001", 400)
    assert clash["description"] == "5001 is not inside 10"


def test_region_filter(client: FlaskClient) -> None:
    north = _get(client, "/api/collections/provinces/items?region=north")
    assert north["numberMatched"] == 17
    assert {f["properties"]["region"] for f in north["features"]} == {"north"}


def test_bbox_filter(client: FlaskClient) -> None:
    around_bangkok = _get(client, "/api/collections/provinces/items?bbox=100.5,13.7,100.55,13.75")
    codes = {f["properties"]["code"] for f in around_bangkok["features"]}
    assert "10" in codes and "50" not in codes


def test_single_item_and_children_count(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items/50")
    assert response.mimetype == "application/geo+json"
    feature = response.get_json(force=True)
    assert feature["properties"]["name_th"] == "เชียงใหม่"
    assert feature["properties"]["children"] == 25
    assert feature["properties"]["area_km2"] > 20000
    assert _get(client, "/api/collections/provinces/items/99", 404)["description"] \
        == "no province with code 99"
    assert _get(client, "/api/collections/districts/items/50", 400)["code"] \
        == "InvalidParameterValue"


def test_lod_returns_lighter_geometry(client: FlaskClient) -> None:
    full = client.get("/api/collections/subdistricts/items?province=50&limit=1000")
    light = client.get("/api/collections/subdistricts/items?province=50&limit=1000&lod=3")
    assert len(light.data) < 0.6 * len(full.data)
    assert light.get_json(force=True)["numberReturned"] == 204


def test_json_and_geojson_formats_agree(client: FlaskClient) -> None:
    a = _get(client, "/api/collections/provinces/items?limit=3&f=json")
    b = _get(client, "/api/collections/provinces/items?limit=3&f=geojson")
    assert a["features"] == b["features"]


@pytest.mark.parametrize(("query", "message"), [
    ("limit=0", "limit must be between 1 and 10000"),
    ("limit=ten", "limit must be a whole number"),
    ("offset=-1", "offset must be between"),
    ("bbox=1,2,3", "bbox must be minLon,minLat,maxLon,maxLat"),
    ("bbox=a,b,c,d", "bbox must hold 4 numbers"),
    ("bbox=101,14,100,13", "minimums must not exceed"),
    ("bbox=0,0,200,10", "out of range"),
    ("province=5", "province must be a 2-digit DOPA code"),
    ("district=10011", "district must be a 4-digit DOPA code"),
    ("region=mars", "region must be one of"),
    ("f=xml", "f must be one of json, geojson"),
    ("lod=9", "lod must be between 0 and 3"),
    ("provice=50", "unknown parameter(s): provice"),
])
def test_bad_parameters_get_a_clear_400(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/collections/districts/items?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "InvalidParameterValue"
    assert message in body["description"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_health_reports_major_versions_only(client: FlaskClient) -> None:
    body = _get(client, "/api/health")
    assert body["status"] == "ok"
    # Major versions tell an operator what runs; exact ones would tell an attacker too.
    assert body == {"status": "ok", "database": "ok", "postgresql": "15", "postgis": "3"}


def test_database_down_gives_503_not_a_stack_trace(settings: Settings) -> None:
    # A port nobody listens on: the app starts, but every query fails to connect.
    down = create_app(settings, database_url="postgresql+psycopg2://x:y@127.0.0.1:9/none")
    client = down.test_client()
    health = client.get("/api/health")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    # Says "unavailable" without the driver's text (host, port, user).
    assert "127.0.0.1" not in health.get_data(as_text=True)
    assert health.get_json() == {"status": "unavailable", "database": "unavailable"}
    items = client.get("/api/collections/provinces/items")
    assert items.status_code == 503
    assert items.get_json()["code"] == "ServiceUnavailable"
    page = client.get("/boundaries")
    assert page.status_code == 503 and "Traceback" not in page.get_data(as_text=True)


def test_output_crs_and_content_crs_header(client: FlaskClient) -> None:
    base = "/api/collections/learning-centers/items/"
    first = _get(client, "/api/collections/learning-centers/items?limit=1")["features"][0]
    lon, lat = first["geometry"]["coordinates"]
    plain = client.get(base + first["id"])
    assert plain.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    lat_first = client.get(base + first["id"] + "?crs=http://www.opengis.net/def/crs/EPSG/0/4326")
    assert lat_first.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    assert lat_first.get_json(force=True)["geometry"]["coordinates"] == [lat, lon]
    zone = "32647" if lon < 102 else "32648"
    utm = client.get(f"/api/collections/learning-centers/items?limit=1&crs=EPSG:{zone}")
    assert utm.headers["Content-Crs"] == f"<http://www.opengis.net/def/crs/EPSG/0/{zone}>"
    x, y = utm.get_json(force=True)["features"][0]["geometry"]["coordinates"]
    assert 100_000 < x < 900_000 and 600_000 < y < 2_300_000  # metres, in Thailand
    mercator = client.get(base + first["id"] + "?crs=http://www.opengis.net/def/crs/EPSG/0/3857")
    mx, _ = mercator.get_json(force=True)["geometry"]["coordinates"]
    assert abs(mx - lon * 20037508.34 / 180) < 1
    doc = _get(client, "/api/collections/provinces")
    assert "http://www.opengis.net/def/crs/EPSG/0/32647" in doc["crs"]
    assert doc["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    bad = client.get("/api/collections/provinces/items?crs=EPSG:2154")
    assert bad.status_code == 400 and "crs must be one of" in bad.get_json()["description"]


def test_bbox_crs_in_metres_and_latitude_first(client: FlaskClient) -> None:
    degrees = _get(client, "/api/collections/districts/items?bbox=98.9,18.7,99.1,18.9&limit=1")
    lat_first = _get(client, "/api/collections/districts/items?bbox=18.7,98.9,18.9,99.1"
                             "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326&limit=1")
    assert lat_first["numberMatched"] == degrees["numberMatched"] > 0
    # Chiang Mai city in UTM 47N metres.
    utm = _get(client, "/api/collections/districts/items?bbox=495000,2070000,500000,2075000"
                       "&bbox-crs=EPSG:32647&limit=50")
    assert "5001" in {f["id"] for f in utm["features"]}
    # All of Thailand in UTM 48N and in Web Mercator: every district (densified edges).
    everything = _get(client, "/api/collections/districts/items?bbox=-1e6,-9e6,2e6,9e6"
                              "&bbox-crs=EPSG:32648&limit=1")
    assert everything["numberMatched"] == 928
    assert _get(client, "/api/collections/districts/items?bbox=-2e7,-2e7,2e7,2e7"
                        "&bbox-crs=EPSG:3857&limit=1")["numberMatched"] == 928
    # Beyond where the projection works: a 400, not a database error.
    for box in ("1e12,0,2e12,1", "5e7,0,6e7,1"):
        bad = client.get(f"/api/collections/districts/items?bbox={box}&bbox-crs=EPSG:32647")
        assert bad.status_code == 400 and "must lie within" in bad.get_json()["description"]


def test_sortby_and_properties(client: FlaskClient) -> None:
    biggest = _get(client, "/api/collections/provinces/items?sortby=-area_km2&limit=3"
                           "&properties=name_en,area_km2")
    areas = [f["properties"]["area_km2"] for f in biggest["features"]]
    assert areas == sorted(areas, reverse=True)
    assert biggest["features"][0]["properties"] == {"name_en": "Chiang Mai",
                                                    "area_km2": areas[0]}
    # sortby pages by offset and still reaches every feature exactly once.
    ids, url = [], "/api/collections/provinces/items?sortby=name_en&limit=30"
    while url:
        page = _get(client, url.replace("http://localhost", ""))
        ids += [f["id"] for f in page["features"]]
        url = {link["rel"]: link["href"] for link in page["links"]}.get("next")
    assert len(ids) == len(set(ids)) == 77
    plots = _get(client, "/api/collections/khok-nong-na/items?sortby=-plot_size_rai,%2Bid"
                         "&properties=plot_size_rai&limit=5")["features"]
    sizes = [f["properties"]["plot_size_rai"] for f in plots]
    assert sizes == sorted(sizes, reverse=True) and set(plots[0]["properties"]) == {
        "plot_size_rai"}
    for query, message in (("sortby=geometry", "sortby: unknown property"),
                           ("sortby=nope", "sortby: unknown property"),
                           ("properties=nope", "properties: unknown")):
        response = client.get(f"/api/collections/provinces/items?{query}")
        assert response.status_code == 400 and message in response.get_json()["description"]


def test_cursor_is_validated(client: FlaskClient) -> None:
    for cursor in ("not-base64!", "e30", "eyJhZnRlciI6IDV9"):  # junk, {}, {"after": 5}
        response = client.get(f"/api/collections/khok-nong-na/items?cursor={cursor}")
        assert response.status_code == 400, cursor
        assert "cursor is not one this API made" in response.get_json()["description"]


def test_single_items_carry_their_links(client: FlaskClient) -> None:
    feature = _get(client, "/api/collections/districts/items/5001")
    links = {link["rel"]: link for link in feature["links"]}
    assert links["collection"]["href"].endswith("/api/collections/districts")
    assert links["alternate"]["type"] == "text/html"
    assert links["self"]["type"] == "application/geo+json"


def test_conformance_declares_what_is_implemented(client: FlaskClient) -> None:
    classes = set(_get(client, "/api/conformance")["conformsTo"])
    ogc = "http://www.opengis.net/spec"
    assert {f"{ogc}/ogcapi-features-1/1.0/conf/core", f"{ogc}/ogcapi-features-1/1.0/conf/oas30",
            f"{ogc}/ogcapi-features-1/1.0/conf/html", f"{ogc}/ogcapi-features-2/1.0/conf/crs",
            f"{ogc}/ogcapi-features-3/1.0/conf/filter", f"{ogc}/cql2/1.0/conf/cql2-json",
            f"{ogc}/cql2/1.0/conf/basic-spatial-functions",
            f"{ogc}/cql2/1.0/conf/temporal-functions"} <= classes  # proved in test_cql2.py
    # Not implemented, so not declared.
    assert f"{ogc}/cql2/1.0/conf/array-functions" not in classes
    assert f"{ogc}/cql2/1.0/conf/arithmetic" not in classes
