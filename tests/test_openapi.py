"""The OpenAPI document: valid OpenAPI 3.0, generated from the declarations the views parse
with (so every accepted parameter is documented and every documented one accepted), and replayed
against the app by schemathesis with no server errors."""

from __future__ import annotations

import re

import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from layers.definitions import LAYERS

OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _params(doc: dict, item: dict) -> list[dict]:
    """An operation's parameters with each ``$ref`` (components/parameters) resolved."""
    return [doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
            for p in item["parameters"]]


def _doc(client: FlaskClient) -> dict:
    response = client.get("/api/openapi")
    assert response.status_code == 200
    assert response.mimetype == OPENAPI.split(";")[0]
    return response.get_json(force=True)


def test_landing_links_to_the_api_definition(client: FlaskClient) -> None:
    links = {link["rel"]: link for link in client.get("/api/").get_json()["links"]}
    assert links["service-desc"]["type"] == OPENAPI
    assert links["service-desc"]["href"].endswith("/api/openapi")
    doc = client.get(links["service-doc"]["href"].replace("http://localhost", ""))
    assert doc.status_code == 200 and doc.mimetype == "text/html"
    html = doc.get_data(as_text=True)
    assert "GET /collections/khok-nong-na/items" in html and "plot_size_rai_min" in html
    assert "cdn" not in html.lower() and "<script>" not in html


def test_document_is_valid_openapi_3(client: FlaskClient) -> None:
    doc = _doc(client)
    validate(doc)  # raises on any error
    items = _params(doc, doc["paths"]["/collections/khok-nong-na/items"]["get"])
    limit = next(p for p in items if p["name"] == "limit")
    # GDAL and QGIS read the maximum to choose large pages.
    assert limit["schema"] == {"type": "integer", "default": 100, "minimum": 1,
                               "maximum": 10_000}
    names = {p["name"] for p in items}
    assert {"near", "radius_km", "q", "filter", "filter-lang", "sortby", "crs", "bbox-crs",
            "model_level", "plot_size_rai_min", "cursor"} <= names
    assert "owner_name" not in names  # personal data is no parameter
    assert "/places" in doc["paths"] and "/indicators/{indicatorId}/values" in doc["paths"]
    assert "/collections/learning-centers/clusters" in doc["paths"]


def _concrete(client: FlaskClient, path: str) -> str:
    """A documented path with real ids in it."""
    path = (path.replace("{tileMatrixSetId}", "WebMercatorQuad").replace("{tileMatrix}", "7")
            .replace("{tileCol}", "100").replace("{tileRow}", "59")  # Chiang Mai at z=7
            .replace("{level}/{code}", "province/50"))
    if "{indicatorId}" in path:
        first = client.get("/api/indicators").get_json()["indicators"][0]["id"]
        return path.replace("{indicatorId}", first)
    if "{featureId}" in path:
        collection = path.split("/")[2]
        if collection in LAYERS:
            feature = client.get(f"/api/collections/{collection}/items?limit=1").get_json()
            return path.replace("{featureId}", feature["features"][0]["id"])
        length = {"provinces": 2, "districts": 4, "subdistricts": 6}[collection]
        return path.replace("{featureId}", "100101"[:length])
    return path


def test_every_accepted_parameter_is_documented_and_back(client: FlaskClient) -> None:
    """Each view says which parameters it accepts when given an unknown one; that list must be
    exactly the document's (query parameters), path by path."""
    doc = _doc(client)
    checked = 0
    for path, item in doc["paths"].items():
        if path == "/health":  # takes no parameters and ignores any (load balancers' probes)
            continue
        if path == "/collections/{collectionId}/items":  # the shared subset, checked below
            continue
        if "get" not in item or item["get"].get("security"):  # writes (test_api_write.py)
            continue
        documented = {p["name"] for p in _params(doc, item["get"]) if p["in"] == "query"}
        response = client.get(f"/api{_concrete(client, path)}?not_a_parameter=1")
        assert response.status_code == 400, path
        message = response.get_json()["description"]
        match = re.search(r"allowed: (.*)$", message)
        assert match, (path, message)
        accepted = {n for n in match.group(1).split(", ") if n}
        assert accepted == documented, (path, accepted ^ documented)
        checked += 1
    assert checked >= 40
    shared = {p["name"] for p in _params(
        doc, doc["paths"]["/collections/{collectionId}/items"]["get"]) if p["in"] == "query"}
    for path, item in doc["paths"].items():
        if path.endswith("}/items") or not path.endswith("/items"):
            continue
        assert shared <= {p["name"] for p in _params(doc, item["get"])}, path


# Examples per operation. 10 made 1,131 requests (498 answered 200, each a real query); every
# queryable became a declared parameter, so more of them now reach the database (at 2c8599e:
# 964 requests, 351 answered 200). 5 make 566, still past the 4 per operation asserted below,
# and every operation is still replayed (docs/benchmarks.md, "Test suite").
EXAMPLES = 5


def test_replayed_requests_never_fail_on_our_side(app) -> None:
    """Requests generated from the document (valid and not) for every operation: never a 5xx."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi", app)
    failures: list[str] = []
    calls: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def replay(case) -> None:
            response = case.call()
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {case.path} {case.query} "
                                f"{response.text[:200]}")

        replay()
    assert operations >= 40 and len(calls) >= 4 * operations
    assert not failures, "\n".join(failures[:10])


def test_the_api_and_its_document_say_the_release(client) -> None:
    """The version in pyproject.toml (the CHANGELOG's release) is the one /api shows."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    assert client.get("/api/").get_json()["version"] == version
    assert client.get("/api/openapi").get_json()["info"]["version"] == version
