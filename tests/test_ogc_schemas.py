"""OGC API - Features: sortables (Part 8 draft), schemas (Part 5) and ``filter-crs`` (Part 3,
Filter class), each requirement checked with a real client (OWSLib) where it has an API for it
and plain HTTP for the details (issue 21, item 7)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from owslib.ogcapi.features import Features
from pyproj import Transformer

from gis import collections as gc

SORTABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/sortables"
SCHEMA_REL = "http://www.opengis.net/def/rel/ogc/1.0/schema"
JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
CONFORMANCE = "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
UTM47 = "http://www.opengis.net/def/crs/EPSG/0/32647"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
THAI = re.compile("[\u0e00-\u0e7f]")
LATIN = re.compile("[A-Za-z]")
IDS = [c.id for c in gc.collections()]


def _link(doc: dict[str, Any], rel: str) -> dict[str, str]:
    found = [link for link in doc["links"] if link["rel"] == rel]
    assert len(found) == 1, f"{doc['id']}: {len(found)} links of rel {rel}"
    return found[0]


# --- Sortables -------------------------------------------------------------------------------

@pytest.mark.parametrize("collection_id", IDS)
def test_every_sortable_sorts_both_ways(client, collection_id: str) -> None:
    """The sortables list exactly what sortby takes: each one sorts ascending and
    descending (numbers checked in order, nulls last), and anything else is a 400 naming it."""
    doc = client.get(f"/api/collections/{collection_id}")
    link = _link(doc.get_json(), SORTABLES_REL)
    assert link["type"] == "application/schema+json"
    answer = client.get(link["href"])
    assert answer.status_code == 200 and answer.mimetype == "application/schema+json"
    sortables = answer.get_json()
    assert sortables["$schema"] == JSON_SCHEMA and sortables["type"] == "object"
    assert sortables["$id"] == link["href"]
    assert sortables["properties"] and "geometry" not in sortables["properties"]
    for name, schema in sortables["properties"].items():
        assert THAI.search(schema["title"]) and LATIN.search(schema["title"]), (name, schema)
        for sign, descending in (("+", False), ("-", True)):
            page = client.get(f"/api/collections/{collection_id}/items",
                              query_string={"sortby": f"{sign}{name}", "limit": 50})
            assert page.status_code == 200, (name, page.text)
            values = [f["properties"].get(name) for f in page.get_json()["features"]]
            assert values, name
            if schema.get("type") in ("integer", "number"):
                present = [v for v in values if v is not None]
                assert present == sorted(present, reverse=descending), (name, sign)
                assert values[:len(present)] == present  # nulls last
    queryables = client.get(f"/api/collections/{collection_id}/queryables").get_json()
    assert set(sortables["properties"]) == set(queryables["properties"]) - {"geometry"}
    for unlisted in ("geometry", "owner_name", "no_such_property"):
        assert unlisted not in sortables["properties"]
        refused = client.get(f"/api/collections/{collection_id}/items",
                             query_string={"sortby": f"-{unlisted}"})
        assert refused.status_code == 400
        assert "sortby" in refused.get_json()["description"]
        assert repr(unlisted) in refused.get_json()["description"]


def test_sortables_html_and_openapi(client) -> None:
    html = client.get("/api/collections/khok-nong-na/sortables?f=html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "Sortables" in html.text and "plot_size_rai" in html.text
    paths = client.get("/api/openapi").get_json()["paths"]
    for collection_id in IDS:
        for part in ("sortables", "schema"):
            operation = paths[f"/collections/{collection_id}/{part}"]["get"]
            assert "application/schema+json" in operation["responses"]["200"]["content"]


# --- Schemas (Part 5) ------------------------------------------------------------------------

@pytest.mark.parametrize("collection_id", IDS)
def test_schema_describes_the_returned_features(client, live_server: str,
                                                collection_id: str) -> None:
    """Part 5 "Schemas" and "Core roles for features": the schema is linked from the
    collection, is JSON Schema 2020-12 with its own URI as $id, lists the features' properties
    in the order they carry them (x-ogc-propertySeq), gives the roles (one id, one primary
    geometry, the primary instant where a temporal property exists), and every feature's
    properties validate against it. No personal field is listed."""
    api = Features(f"{live_server}/api")
    conforms = api.conformance()["conformsTo"]
    assert f"{CONFORMANCE}schemas" in conforms and f"{CONFORMANCE}core-roles-features" in \
        conforms
    described = api.collection(collection_id)
    link = _link(described, SCHEMA_REL)
    assert link["type"] == "application/schema+json"
    schema = api.collection_schema(collection_id)
    assert api.response_headers["Content-Type"].startswith("application/schema+json")
    assert schema["$schema"] == JSON_SCHEMA and schema["type"] == "object"
    assert schema["$id"] == link["href"] == f"{live_server}/api/collections/{collection_id}/schema"
    Draft202012Validator.check_schema(schema)
    properties = schema["properties"]
    sequence = [p["x-ogc-propertySeq"] for p in properties.values()]
    assert sequence == list(range(1, len(properties) + 1))
    for name, p in properties.items():
        assert THAI.search(p["title"]) and LATIN.search(p["title"]), (name, p["title"])
        assert "type" in p or "$ref" in p, name
    roles = {name: p["x-ogc-role"] for name, p in properties.items() if "x-ogc-role" in p}
    assert sorted(roles.values()).count("id") == 1
    assert list(roles.values()).count("primary-geometry") == 1
    geometry = next(n for n, r in roles.items() if r == "primary-geometry")
    c = gc.required(collection_id)
    assert properties[geometry]["format"] == gc.GEOMETRY_FORMATS[c.geometry_type]
    instants = [n for n, r in roles.items() if r == "primary-instant"]
    assert instants == ([c.temporal] if c.temporal else [])
    for instant in instants:
        assert properties[instant]["format"] in ("date", "date-time")
    for personal in c.personal_fields:
        assert personal not in properties

    page = api.collection_items(collection_id, limit=200)
    assert page["features"]
    carried = [n for n in properties if n != geometry and n != "distance_km"]
    id_name = next(n for n, r in roles.items() if r == "id")
    validator = Draft202012Validator(schema)
    for feature in page["features"]:
        assert list(feature["properties"]) == carried  # the declared order, nothing else
        assert feature["properties"][id_name] == feature["id"]
        present = {k: v for k, v in feature["properties"].items() if v is not None}
        errors = [e.message for e in validator.iter_errors(present)]
        assert not errors, (feature["id"], errors)
        if instants and feature["properties"][instants[0]] is not None:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", feature["properties"][instants[0]])


def test_schema_html(client) -> None:
    html = client.get("/api/collections/plant-genetics-trees/schema",
                      headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "primary-instant" in html.text and "โครงสร้างข้อมูล" in html.text
    assert "owner_name" not in client.get("/api/collections/khok-nong-na/schema").text


# --- filter-crs (Part 3, Filter) -------------------------------------------------------------

def _ring_utm() -> list[list[float]]:
    """A 20 km square around Chiang Mai in UTM 47N, with a vertex every 500 m (its edges,
    straight in metres, are curves in degrees: enough vertices make both polygons the same
    area to well under a metre)."""
    west, south, size, step = 490_000.0, 2_060_000.0, 20_000.0, 500.0
    n = int(size / step)
    edge = [(west + i * step, south) for i in range(n)] + \
        [(west + size, south + i * step) for i in range(n)] + \
        [(west + size - i * step, south + size) for i in range(n)] + \
        [(west, south + size - i * step) for i in range(n)]
    return [[x, y] for x, y in [*edge, edge[0]]]


def _polygon(ring: list[list[float]]) -> str:
    return "POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))"


@pytest.mark.parametrize("collection_id", ["khok-nong-na", "districts", "subdistricts"])
def test_filter_crs_gives_the_same_features(client, live_server: str,
                                            collection_id: str) -> None:
    """S_INTERSECTS with the same area written in UTM 47N, in CRS84 and in EPSG:4326 (latitude
    first) selects the same features; the ring is converted by PROJ (pyproj), not by the
    server's PostGIS."""
    utm = _ring_utm()
    to_lonlat = Transformer.from_crs("EPSG:32647", "OGC:CRS84", always_xy=True)
    lonlat = [list(to_lonlat.transform(x, y)) for x, y in utm]
    latlon = [[lat, lon] for lon, lat in lonlat]

    def ids(ring: list[list[float]], crs: str | None) -> set[str]:
        args = {"filter": f"S_INTERSECTS(geometry, {_polygon(ring)})", "limit": 10_000}
        if crs is not None:
            args["filter-crs"] = crs
        answer = client.get(f"/api/collections/{collection_id}/items", query_string=args)
        assert answer.status_code == 200, answer.text
        body = answer.get_json()
        assert body.get("numberMatched", len(body["features"])) == len(body["features"])
        return {f["id"] for f in body["features"]}

    in_crs84 = ids(lonlat, None)
    assert in_crs84, "the square holds features"
    assert ids(lonlat, CRS84) == in_crs84
    assert ids(utm, UTM47) == in_crs84
    assert ids(utm, "EPSG:32647") == in_crs84  # the short form clients also send
    assert ids(latlon, EPSG4326) == in_crs84
    # OWSLib passes filter-crs through as any other parameter
    api = Features(f"{live_server}/api")
    through = api.collection_items(collection_id, filter=f"S_INTERSECTS(geometry, "
                                   f"{_polygon(utm)})", **{"filter-crs": UTM47, "limit": 10_000})
    assert {f["id"] for f in through["features"]} == in_crs84


def test_filter_crs_bbox_and_refusals(client) -> None:
    """A BBOX literal is in filter-crs too; an unknown or unlisted CRS is a 400 naming
    filter-crs."""
    to_utm = Transformer.from_crs("OGC:CRS84", "EPSG:32647", always_xy=True)
    west, south = to_utm.transform(98.985, 18.788)  # in Mueang Chiang Mai (5001)
    items = "/api/collections/districts/items"
    plain = client.get(items, query_string={
        "filter": "S_INTERSECTS(geometry, BBOX(98.985, 18.788, 98.986, 18.789))"}).get_json()
    utm = client.get(items, query_string={
        "filter": f"S_INTERSECTS(geometry, BBOX({west}, {south}, {west + 5}, {south + 5}))",
        "filter-crs": UTM47}).get_json()
    lat_first = client.get(items, query_string={
        "filter": "S_INTERSECTS(geometry, BBOX(18.788, 98.985, 18.789, 98.986))",
        "filter-crs": EPSG4326}).get_json()
    expected = {f["id"] for f in plain["features"]}
    assert "5001" in expected
    assert {f["id"] for f in utm["features"]} <= expected and "5001" in {
        f["id"] for f in utm["features"]}
    assert {f["id"] for f in lat_first["features"]} == expected
    for bad in ("http://www.opengis.net/def/crs/EPSG/0/2154", "EPSG:999999", "nonsense"):
        refused = client.get(items, query_string={
            "filter": "S_INTERSECTS(geometry, BBOX(0, 0, 1, 1))", "filter-crs": bad})
        assert refused.status_code == 400
        assert refused.get_json()["description"].startswith("filter-crs")
