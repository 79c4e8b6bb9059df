"""OGC API - Features Part 4 (POST/PUT/PATCH/DELETE with bearer tokens and If-Match), the
changes it answers with, and bulk import through the API (issue 11). Through Flask's test client
and, for the happy path, 412 and 401, as real HTTP against a live server."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate
from pyproj import Transformer
from sqlalchemy import Engine, text

from gis import accounts, changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.serving import served
from tests.staff import add_account, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_api_write")
KNN = LAYERS["khok-nong-na"]
ITEMS = "/api/collections/khok-nong-na/items"
CHIANG_MAI = [98.9853, 18.7883]  # province 50
CHIANG_MAI_2 = [98.9700, 18.8000]
LAMPHUN = [99.0087, 18.5745]  # province 51


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def tokens(owner: Engine) -> dict[str, str]:
    add_account(owner, "cm-officer", provinces=["50"], layers=["khok-nong-na"])
    add_account(owner, "lp-officer", provinces=["51"], layers=["khok-nong-na"])
    add_account(owner, "lc-officer", layers=["learning-centers"])
    add_account(owner, "knn-owner", layers=["khok-nong-na"], can_approve=True,
                can_personal=True)
    return {name: accounts.issue_token(owner, name)
            for name in ("cm-officer", "lp-officer", "lc-officer", "knn-owner")}


@pytest.fixture(scope="module")
def write_app(settings: Settings, cluster: ClusterInfo, owner: Engine):
    # A 1 MB upload limit, to prove the 413 without a big file.
    app = create_app(dataclasses.replace(settings, max_upload_mb=1),
                     database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def api(write_app):
    return write_app.test_client()


@pytest.fixture(autouse=True)
def no_review(owner: Engine) -> None:
    changes.set_requires_approval(owner, KNN.id, False)


@pytest.fixture(scope="module")
def live(write_app) -> Iterator[str]:
    with served(write_app) as base:
        yield base


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _feature(plot: str, point: list[float] = CHIANG_MAI, **more: object) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": point},
            "properties": {"plot_id": plot, "plot_size_rai": 3, "model_level": "HLM",
                           "budget_year": 2565, **more}}


def _post(api, token: str, feature: dict[str, Any]):
    return api.post(ITEMS, data=json.dumps(feature), headers=_bearer(token),
                    content_type="application/geo+json")


def test_create_read_replace_update_retire(api, tokens: dict[str, str]) -> None:
    cm = tokens["cm-officer"]
    created = _post(api, cm, _feature("API-1", village_name="บ้านดอน"))
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"{ITEMS}/API-1")
    assert created.headers["ETag"] == '"1"'
    assert created.get_json()["properties"]["province_code"] == "50"

    public = api.get(f"{ITEMS}/API-1")
    assert public.status_code == 200 and public.headers["ETag"] == '"1"'

    patched = api.patch(f"{ITEMS}/API-1", data=json.dumps({"properties": {"plot_size_rai": 4}}),
                        headers=_bearer(cm, **{"If-Match": '"1"'}),
                        content_type="application/merge-patch+json")
    assert patched.status_code == 200 and patched.headers["ETag"] == '"2"'
    assert patched.get_json()["properties"]["village_name"] == "บ้านดอน"  # merged, kept

    stale = api.put(f"{ITEMS}/API-1", data=json.dumps(_feature("API-1")),
                    headers=_bearer(cm, **{"If-Match": '"1"'}),
                    content_type="application/geo+json")
    assert stale.status_code == 412 and stale.get_json()["code"] == "PreconditionFailed"
    missing = api.put(f"{ITEMS}/API-1", data=json.dumps(_feature("API-1")), headers=_bearer(cm),
                      content_type="application/geo+json")
    assert missing.status_code == 428 and "If-Match" in missing.get_json()["description"]

    # PUT replaces: a public field left out is cleared; the geometry moves the point.
    replaced = api.put(f"{ITEMS}/API-1", data=json.dumps(_feature("API-1", CHIANG_MAI_2)),
                       headers=_bearer(cm, **{"If-Match": '"2"'}),
                       content_type="application/geo+json")
    assert replaced.status_code == 200 and replaced.headers["ETag"] == '"3"'
    props = api.get(f"{ITEMS}/API-1").get_json()
    assert props["properties"]["village_name"] is None  # every declared field, null if empty
    assert props["geometry"]["coordinates"] == pytest.approx(CHIANG_MAI_2)

    no_match = api.delete(f"{ITEMS}/API-1", headers=_bearer(cm))
    assert no_match.status_code == 428
    retired = api.delete(f"{ITEMS}/API-1", headers=_bearer(cm, **{"If-Match": '"3"'}))
    assert retired.status_code == 204
    assert api.get(f"{ITEMS}/API-1").status_code == 404
    again = api.patch(f"{ITEMS}/API-1", data=json.dumps({"properties": {"plot_size_rai": 5}}),
                      headers=_bearer(cm, **{"If-Match": '"3"'}),
                      content_type="application/json")
    assert again.status_code == 409 and "restore it first" in again.get_json()["description"]
    assert api.delete(f"{ITEMS}/NOPE", headers=_bearer(cm, **{"If-Match": '"1"'})
                      ).status_code == 404


def test_tokens_and_scope(api, tokens: dict[str, str]) -> None:
    no_token = api.post(ITEMS, data=json.dumps(_feature("API-2")),
                        content_type="application/geo+json")
    assert no_token.status_code == 401 and no_token.headers["WWW-Authenticate"].startswith(
        "Bearer")
    assert no_token.get_json()["code"] == "Unauthorized"
    forged = _post(api, "cddgis_forged", _feature("API-2"))
    assert forged.status_code == 401
    # A session cookie is no credential for the API (and the API asks no CSRF token).
    cookie_only = api.post(ITEMS, data=json.dumps(_feature("API-2")),
                           headers={"Cookie": "cddgis_session=x"},
                           content_type="application/geo+json")
    assert cookie_only.status_code == 401

    other_layer = _post(api, tokens["lc-officer"], _feature("API-2"))
    assert other_layer.status_code == 403 and "khok-nong-na" in other_layer.get_json()[
        "description"]
    other_province = _post(api, tokens["cm-officer"], _feature("API-2", LAMPHUN))
    assert other_province.status_code == 403
    assert "ลำพูน" in other_province.get_json()["description"]

    assert _post(api, tokens["cm-officer"], _feature("API-2")).status_code == 201
    theirs = api.patch(f"{ITEMS}/API-2", data=json.dumps({"properties": {"plot_size_rai": 9}}),
                       headers=_bearer(tokens["lp-officer"], **{"If-Match": '"1"'}),
                       content_type="application/json")
    assert theirs.status_code == 403 and "เชียงใหม่" in theirs.get_json()["description"]
    moved_out = api.patch(f"{ITEMS}/API-2",
                          data=json.dumps({"geometry": {"type": "Point",
                                                        "coordinates": LAMPHUN}}),
                          headers=_bearer(tokens["cm-officer"], **{"If-Match": '"1"'}),
                          content_type="application/json")
    assert moved_out.status_code == 403
    assert api.get(f"{ITEMS}/API-2").headers["ETag"] == '"1"'  # nothing changed

    boundary = api.delete("/api/collections/provinces/items/50",
                          headers=_bearer(tokens["knn-owner"], **{"If-Match": '"1"'}))
    assert boundary.status_code == 405 and boundary.get_json()["code"] == "MethodNotAllowed"
    assert api.post("/api/collections/provinces/items", data="{}",
                    content_type="application/json").status_code == 405
    unknown = api.post("/api/collections/nope/items", data="{}", headers=_bearer(
        tokens["cm-officer"]), content_type="application/json")
    assert unknown.status_code == 404


def test_invalid_content(api, tokens: dict[str, str]) -> None:
    cm = tokens["cm-officer"]
    bad = _post(api, cm, _feature("API-3", plot_size_rai="lots", model_level="XYZ"))
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["code"] == "InvalidContent"
    assert any("Plot size (rai)" in p and "not a number" in p for p in body["problems"])
    assert any("XYZ" in p for p in body["problems"])
    sea = _post(api, cm, _feature("API-3", [100.5, 10.0]))
    assert sea.status_code == 422 and "outside Thailand" in sea.get_json()["problems"][0]
    line = _feature("API-3")
    line["geometry"] = {"type": "LineString", "coordinates": [CHIANG_MAI, CHIANG_MAI_2]}
    assert _post(api, cm, line).status_code == 422
    assert api.post(ITEMS, data="{not json", headers=_bearer(cm),
                    content_type="application/json").status_code == 400
    wrong_type = api.post(ITEMS, data=json.dumps(_feature("API-3")), headers=_bearer(cm),
                          content_type="text/plain")
    assert wrong_type.status_code == 415
    personal = _post(api, cm, _feature("API-3", owner_name="นาย ก"))
    assert personal.status_code == 403 and "personal" in personal.get_json()["description"]
    assert api.get(f"{ITEMS}/API-3").status_code == 404  # none of it was written


def test_control_characters_are_a_problem_naming_the_field(api, tokens: dict[str, str]) -> None:
    """A NUL (which PostgreSQL cannot store in text) or another control character in a value is
    a 422 naming the field, in a POST and a PATCH alike; before, the NUL reached the database
    and the answer was a 500."""
    cm = tokens["cm-officer"]
    bad = _post(api, cm, _feature("API-NUL", village_name="บ้าน\x00ใหม่"))
    assert bad.status_code == 422, bad.get_data(as_text=True)
    assert any("village_name" in p and "U+0000" in p for p in bad.get_json()["problems"])
    assert api.get(f"{ITEMS}/API-NUL").status_code == 404
    made = _post(api, cm, _feature("API-NUL"))
    assert made.status_code == 201
    patch = api.patch(f"{ITEMS}/API-NUL", data=json.dumps({"properties": {
        "village_name": "bell\x07"}}), content_type="application/merge-patch+json",
        headers=_bearer(cm, **{"If-Match": made.headers["ETag"]}))
    assert patch.status_code == 422 and "U+0007" in " ".join(patch.get_json()["problems"])
    kept = _post(api, cm, _feature("API-NUL2", village_name="บ้านใหม่\tหมู่ 2\nซอย 3"))
    assert kept.status_code == 201  # tab and line breaks are text, not control junk


def test_personal_fields_stay_out_of_public_answers(api, owner: Engine,
                                                    tokens: dict[str, str]) -> None:
    created = _post(api, tokens["knn-owner"], _feature("API-4", owner_name="นางสาวข ใจงาม"))
    assert created.status_code == 201 and "ใจงาม" not in created.text
    public = api.get(f"{ITEMS}/API-4")
    assert "ใจงาม" not in public.text and "owner_name" not in public.text
    # A GET-then-PUT by an account without the right keeps the owner's name.
    feature = public.get_json()
    kept = api.put(f"{ITEMS}/API-4", data=json.dumps(feature),
                   headers=_bearer(tokens["cm-officer"], **{"If-Match": public.headers["ETag"]}),
                   content_type="application/geo+json")
    assert kept.status_code == 200, kept.text
    with owner.connect() as conn:
        stored = conn.execute(text("SELECT personal FROM layer_features WHERE key = 'API-4'")
                              ).scalar_one()
    assert stored == {"owner_name": "นางสาวข ใจงาม"}


def test_review_answers_202_and_publishes_only_when_approved(
        api, owner: Engine, tokens: dict[str, str]) -> None:
    cm = tokens["cm-officer"]
    assert _post(api, cm, _feature("API-5")).status_code == 201
    changes.set_requires_approval(owner, KNN.id, True)
    waiting = api.patch(f"{ITEMS}/API-5", data=json.dumps({"properties": {"plot_size_rai": 8}}),
                        headers=_bearer(cm, **{"If-Match": '"1"'}),
                        content_type="application/json")
    assert waiting.status_code == 202
    location = waiting.headers["Location"]
    assert "/api/changes/" in location and waiting.get_json()["status"] == "pending"
    change = api.get(location, headers=_bearer(cm)).get_json()
    assert change["status"] == "pending" and change["after"]["properties"][
        "plot_size_rai"] == 8
    assert api.get(location).status_code == 401
    assert api.get(location, headers=_bearer(tokens["lp-officer"])).status_code == 403
    public = api.get(f"{ITEMS}/API-5")
    assert public.get_json()["properties"]["plot_size_rai"] == 3 and public.headers[
        "ETag"] == '"1"'
    locked = api.patch(f"{ITEMS}/API-5", data=json.dumps({"properties": {"plot_size_rai": 1}}),
                       headers=_bearer(tokens["knn-owner"], **{"If-Match": '"1"'}),
                       content_type="application/json")
    assert locked.status_code == 409 and "review" in locked.get_json()["description"]
    new = _post(api, cm, _feature("API-6"))
    assert new.status_code == 202 and api.get(f"{ITEMS}/API-6").status_code == 404

    approver = accounts.find_account(owner, "knn-owner")
    assert approver is not None
    changes.decide(owner, approver, [change["id"], new.get_json()["change"]], approve=True)
    assert api.get(f"{ITEMS}/API-5").get_json()["properties"]["plot_size_rai"] == 8
    assert api.get(f"{ITEMS}/API-6").status_code == 200


def _csv(rows: list[tuple[str, list[float]]]) -> bytes:
    lines = ["plot_id,plot_size_rai,model_level,budget_year,lon,lat"]
    lines += [f"{plot},2,HLM,2566,{lon},{lat}" for plot, (lon, lat) in rows]
    return ("\n".join(lines) + "\n").encode()


def _upload(api, token: str, content: bytes, name: str = "plots.csv", mode: str = "dry-run"):
    import io

    return api.post("/api/collections/khok-nong-na/imports",
                    data={"file": (io.BytesIO(content), name), "mode": mode},
                    headers=_bearer(token), content_type="multipart/form-data")


def _count(owner: Engine) -> int:
    with owner.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM layer_features")).scalar_one()


def test_bulk_import(api, owner: Engine, tokens: dict[str, str]) -> None:
    cm = tokens["cm-officer"]
    content = _csv([("BI-1", CHIANG_MAI), ("BI-2", LAMPHUN), ("BI-3", CHIANG_MAI_2)])
    before = _count(owner)
    dry = _upload(api, cm, content)
    assert dry.status_code == 200
    report = dry.get_json()
    assert report["mode"] == "dry-run" and report["committed"] is False
    assert report["counts"]["error"] == 1 and report["rows"][0]["status"] == "error"
    assert "ลำพูน" in report["rows"][0]["errors"][0]  # errors first, naming the province
    refused = _upload(api, cm, content, mode="all")
    assert refused.status_code == 422 and refused.get_json()["committed"] is False
    assert _count(owner) == before
    done = _upload(api, cm, content, mode="valid-only")
    assert done.status_code == 200 and done.get_json()["counts"]["inserted"] == 2
    assert _count(owner) == before + 2

    pdf = _upload(api, cm, b"%PDF-1.4", name="plots.pdf")
    assert pdf.status_code == 415 and "plots.pdf" in pdf.get_json()["description"]
    big = _upload(api, cm, b"x" * (1024 * 1024 + 10))
    assert big.status_code == 413 and big.get_json()["code"] == "RequestEntityTooLarge"
    assert _upload(api, cm, content, mode="maybe").status_code == 400
    assert _upload(api, tokens["lc-officer"], content).status_code == 403
    assert api.post("/api/collections/khok-nong-na/imports").status_code == 401


def test_conformance_and_openapi(api) -> None:
    conforms = api.get("/api/conformance").get_json()["conformsTo"]
    for c in ("create-replace-delete", "update", "optimistic-locking-etags"):
        assert f"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/{c}" in conforms
    doc = api.get("/api/openapi").get_json()
    validate(doc)
    item = doc["paths"]["/collections/khok-nong-na/items/{featureId}"]
    assert {"get", "put", "patch", "delete"} <= set(item)
    assert "post" in doc["paths"]["/collections/khok-nong-na/items"]
    assert "post" in doc["paths"]["/collections/khok-nong-na/imports"]
    assert "put" not in doc["paths"]["/collections/provinces/items/{featureId}"]


def _http(method: str, url: str, body: dict | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_real_http_exchange(live: str, tokens: dict[str, str]) -> None:
    cm = {**_bearer(tokens["cm-officer"]), "Content-Type": "application/geo+json"}
    status, headers, _ = _http("POST", live + ITEMS, _feature("HTTP-1"), cm)
    assert status == 201 and headers["ETag"] == '"1"'
    status, headers, body = _http("GET", headers["Location"])
    assert status == 200 and headers["ETag"] == '"1"'
    assert json.loads(body)["properties"]["plot_id"] == "HTTP-1"
    status, headers, _ = _http("PATCH", f"{live}{ITEMS}/HTTP-1",
                               {"properties": {"plot_size_rai": 6}}, {**cm, "If-Match": '"1"'})
    assert status == 200 and headers["ETag"] == '"2"'
    status, _, body = _http("PATCH", f"{live}{ITEMS}/HTTP-1",
                            {"properties": {"plot_size_rai": 7}}, {**cm, "If-Match": '"1"'})
    assert status == 412 and json.loads(body)["code"] == "PreconditionFailed"
    status, headers, body = _http("PATCH", f"{live}{ITEMS}/HTTP-1",
                                  {"properties": {"plot_size_rai": 7}},
                                  {"Content-Type": "application/json", "If-Match": '"2"'})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    status, _, body = _http("GET", f"{live}{ITEMS}/HTTP-1")
    assert json.loads(body)["properties"]["plot_size_rai"] == 6


UTM47 = "http://www.opengis.net/def/crs/EPSG/0/32647"
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def test_content_crs_is_honoured_or_refused(api, tokens: dict[str, str]) -> None:
    """Part 4 with Part 2: a write's coordinates in the Content-Crs the header names (any CRS
    the collection lists) are stored as the same place in CRS84 — checked against PROJ
    (pyproj), not the server's PostGIS; an unknown CRS is a 400 naming Content-Crs, never
    ignored (UTM metres once were stored as degrees)."""
    cm = tokens["cm-officer"]
    to_utm = Transformer.from_crs("OGC:CRS84", "EPSG:32647", always_xy=True)
    utm = list(to_utm.transform(*CHIANG_MAI_2))
    created = _post(api, cm, _feature("API-CRS"))
    assert created.status_code == 201, created.text
    assert "32647" in " ".join(api.get("/api/collections/khok-nong-na").get_json()["crs"])

    put = api.put(f"{ITEMS}/API-CRS", data=json.dumps(_feature("API-CRS", utm)),
                  headers=_bearer(cm, **{"If-Match": '"1"', "Content-Crs": f"<{UTM47}>"}),
                  content_type="application/geo+json")
    assert put.status_code == 200, put.text
    back = api.get(f"{ITEMS}/API-CRS", query_string={"crs": CRS84_URI}).get_json()
    assert back["geometry"]["coordinates"] == pytest.approx(CHIANG_MAI_2, abs=1e-6)
    in_utm = api.get(f"{ITEMS}/API-CRS", query_string={"crs": UTM47}).get_json()
    assert in_utm["geometry"]["coordinates"] == pytest.approx(utm, abs=0.01)

    # EPSG:4326 is latitude first; PATCH honours the header as PUT and POST do
    lat_lon = [CHIANG_MAI[1], CHIANG_MAI[0]]
    patched = api.patch(f"{ITEMS}/API-CRS",
                        data=json.dumps({"geometry": {"type": "Point", "coordinates": lat_lon}}),
                        headers=_bearer(cm, **{"If-Match": '"2"', "Content-Crs":
                                               "<http://www.opengis.net/def/crs/EPSG/0/4326>"}),
                        content_type="application/merge-patch+json")
    assert patched.status_code == 200, patched.text
    back = api.get(f"{ITEMS}/API-CRS").get_json()
    assert back["geometry"]["coordinates"] == pytest.approx(CHIANG_MAI, abs=1e-6)
    posted = api.post(ITEMS, data=json.dumps(_feature("API-CRS-2", utm)),
                      headers=_bearer(cm, **{"Content-Crs": "EPSG:32647"}),
                      content_type="application/geo+json")
    assert posted.status_code == 201, posted.text
    assert posted.get_json()["geometry"]["coordinates"] == pytest.approx(CHIANG_MAI_2,
                                                                          abs=1e-6)

    for bad in (f"<{UTM47.replace('32647', '2154')}>", "<nonsense>"):
        for method, path in ((api.put, f"{ITEMS}/API-CRS"), (api.patch, f"{ITEMS}/API-CRS"),
                             (api.post, ITEMS)):
            refused = method(path, data=json.dumps(_feature("API-CRS", utm)),
                             headers=_bearer(cm, **{"If-Match": '"3"', "Content-Crs": bad}),
                             content_type="application/geo+json")
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.get_json()["description"].startswith("Content-Crs")
    assert api.get(f"{ITEMS}/API-CRS").headers["ETag"] == '"3"'  # nothing was written
    huge = json.dumps(_feature("API-CRS-3", [1.0, 2.0])).replace("[1.0, 2.0]",
                                                                 f"[{'9' * 400}, 2.0]")
    for header in (UTM47, "EPSG:4326"):
        outside = api.post(ITEMS, data=huge, headers=_bearer(cm, **{"Content-Crs": header}),
                           content_type="application/geo+json")
        assert outside.status_code == 422 and "Content-Crs" in outside.get_json()["problems"][0]


def test_staff_form_follows_the_schema_order(write_app, tokens: dict[str, str]) -> None:
    """The staff edit form shows the fields in the order the API's schema lists the
    properties (one declared order); personal fields only for those allowed to see them."""
    staff = write_app.test_client()
    assert sign_in(staff, "knn-owner").status_code in (302, 303)
    form = staff.get("/staff/layers/khok-nong-na/new")
    assert form.status_code == 200
    shown = re.findall(r'<label for="f-([a-z0-9_]+)"', form.text)
    schema = write_app.test_client().get("/api/collections/khok-nong-na/schema").get_json()
    fields = {f.name for f in KNN.fields}
    public = [name for name in schema["properties"] if name in fields]
    assert [name for name in shown if name in public] == public
    assert set(shown) == fields  # the owner may see personal fields: all of them, in place
    personal = {f.name for f in KNN.personal_fields}
    assert personal and not personal & set(schema["properties"])
