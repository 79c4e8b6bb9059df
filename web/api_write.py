"""OGC API - Features Part 4 (create, replace, update, delete) and bulk import, for CDD's other
systems: ``Authorization: Bearer <token>`` only (never cookies, so no CSRF token is needed and
no page can write through it), the same scope, validation and review as the workspace
(``gis/changes.py``).

Items are addressed by the layer's natural key, as the read API does. Every write needs
``If-Match`` with the ETag a GET gave (``"<version>"``) except a creation: without it the answer
is 428 Precondition Required (RFC 6585) — a client that forgot the header learns so, rather
than being told someone else changed the feature (412, kept for a stale version). A change that
waits for review answers 202 Accepted with a ``Location`` of the change (``/api/changes/{id}``).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from core.errors import (
    BadParameter,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    UnsupportedMediaType,
)
from core.readers import EXPECTED
from gis import changes
from gis import collections as gc
from gis.layer_store import import_file
from gis.upload_jobs import crs_choice
from layers.importer import ImportRefused, ImportReport
from web.auth import api_account
from web.services import engine

api_write = Blueprint("api_write", __name__)

GEOJSON = "application/geo+json"
JSON_TYPES = ("application/json", GEOJSON, "application/merge-patch+json")
DERIVED = frozenset({"id", "province_code", "district_code", "subdistrict_code", "region",
                     "province_th", "district_th", "subdistrict_th", "sample", "distance_km"})
"""Properties the read API adds (where the point lies, the sample flag): a client may send a
feature back as it got it, and these are ignored — the server derives them again."""
IMPORT_MODES = {"dry-run": {"dry_run": True}, "all": {}, "valid-only": {"valid_only": True}}


def _writable(collection_id: str) -> gc.Collection:
    """The collection to write: a read-only one refuses (405), an unknown one is 404."""
    found = gc.collection(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}")
    found.layer()  # 405 for a read-only collection, before anything else is checked
    return found


def _feature_id(c: gc.Collection, key: str) -> int:
    found = c.feature_id(engine(), key)
    if found is None:
        raise NotFound(c.missing(key))
    return found


def _expected_version() -> int:
    """The version ``If-Match`` names: 428 without it, 412 when it is no version at all."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        raise PreconditionRequired(
            "ต้องส่ง If-Match เป็น ETag ที่ได้จาก GET / send If-Match with the ETag a GET of the "
            "feature gave (e.g. If-Match: \"3\"), so that a change made meanwhile is not "
            "overwritten")
    found = re.fullmatch(r'\s*(?:W/)?"(\d{1,9})"\s*', header)
    if found is None:
        raise PreconditionFailed(f"If-Match {header[:40]!r} names no version of this feature "
                                 "(expected an ETag such as \"3\")")
    return int(found.group(1))


def _body() -> dict[str, Any]:
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {mimetype or '(none)'} is not accepted: send a GeoJSON feature as "
            f"{GEOJSON} or application/json")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise BadParameter(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadParameter("the body is nested too deeply (JSON arrays or objects inside each "
                           "other hundreds of times) / ข้อมูลซ้อนกันลึกเกินไป") from None
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a GeoJSON Feature object",
                            ["expected {\"type\": \"Feature\", \"geometry\": …, "
                             "\"properties\": …}"])
    return body


def _parts(body: dict[str, Any], *, whole: bool) -> tuple[dict[str, Any] | None,
                                                           tuple[Any, Any] | None]:
    """(properties without the derived ones, (lon, lat)) of a GeoJSON Feature; ``whole``: both
    must be there (POST, PUT)."""
    problems = []
    if body.get("type", "Feature") != "Feature":
        problems.append(f"type must be \"Feature\", not {body.get('type')!r}")
    properties = body.get("properties")
    if properties is not None and not isinstance(properties, dict):
        problems.append("properties must be an object")
        properties = None
    geometry = body.get("geometry")
    point = None
    if "geometry" in body and geometry is None:  # merge-patch's null: remove it
        problems.append("geometry: a point cannot be removed; send a Point [lon, lat] or leave "
                        "geometry out / ลบพิกัดไม่ได้")
    if geometry is not None:
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(
                coordinates, list) or len(coordinates) not in (2, 3):
            problems.append("geometry must be a GeoJSON Point [lon, lat] (CRS84)")
        elif not all(isinstance(c, int | float) and not isinstance(c, bool)
                     for c in coordinates):
            problems.append("geometry: coordinates must be numbers [lon, lat], not "
                            f"{json.dumps(coordinates)[:60]} / พิกัดต้องเป็นตัวเลข")
        else:
            point = (coordinates[0], coordinates[1])
    if whole and properties is None and not problems:
        problems.append("properties are missing")
    if whole and point is None and not problems:
        problems.append("geometry (a Point) is missing")
    if problems:
        raise Unprocessable("ไม่ใช่ GeoJSON Feature ที่ใช้ได้ / not a usable GeoJSON Feature",
                            problems)
    if properties is not None:
        properties = {k: v for k, v in properties.items() if k not in DERIVED}
    return properties, point


def _answer(c: gc.Collection, result: changes.ChangeResult, *, created: bool = False,
            ) -> ResponseReturnValue:
    """201/200 with the feature as the public API shows it, or 202 with the change."""
    if result.status == "pending":
        location = url_for("api_write.change", change_id=result.change_id, _external=True)
        body = {"status": "pending", "change": result.change_id, "feature": result.key,
                "description": "รอการอนุมัติก่อนเผยแพร่ / waiting for review before it is "
                               "published",
                "links": [{"href": location, "rel": "monitor", "type": "application/json"}]}
        return jsonify(body), 202, {"Location": location}
    location = url_for("api.item", collection_id=c.id, item_id=result.key, _external=True)
    headers = {"ETag": f'"{result.version}"', "Location": location}
    feature = c.item(engine(), result.key)
    if feature is None:  # retired
        return Response(status=204, headers={"Location": location})
    return Response(feature, status=201 if created else 200, mimetype=GEOJSON, headers=headers)


def _conflict_to_412(exc: changes.StaleVersion) -> NoReturn:
    raise PreconditionFailed(exc.message) from exc


@api_write.post("/collections/<collection_id>/items")
def create(collection_id: str) -> ResponseReturnValue:
    c = _writable(collection_id)
    account = api_account()
    properties, point = _parts(_body(), whole=True)
    assert properties is not None and point is not None
    return _answer(c, c.create(engine(), account, properties, *point), created=True)


@api_write.put("/collections/<collection_id>/items/<item_id>")
def replace(collection_id: str, item_id: str) -> ResponseReturnValue:
    """Replaces the public fields (one left out is cleared) and the point; personal fields are
    replaced only when sent (the public representation never holds them, so a GET-then-PUT
    must not erase them)."""
    c = _writable(collection_id)
    account = api_account()
    properties, point = _parts(_body(), whole=True)
    assert properties is not None and point is not None
    fid = _feature_id(c, item_id)
    version = _expected_version()
    try:
        result = c.update(engine(), account, fid, properties, expected_version=version,
                          lon=point[0], lat=point[1], whole=True)
    except changes.StaleVersion as exc:
        _conflict_to_412(exc)
    return _answer(c, result)


@api_write.patch("/collections/<collection_id>/items/<item_id>")
def update(collection_id: str, item_id: str) -> ResponseReturnValue:
    """Merges the properties sent (null clears one); a geometry moves the point."""
    c = _writable(collection_id)
    account = api_account()
    properties, point = _parts(_body(), whole=False)
    fid = _feature_id(c, item_id)
    version = _expected_version()
    lon, lat = point if point else (None, None)
    try:
        result = c.update(engine(), account, fid, properties or {}, expected_version=version,
                          lon=lon, lat=lat)
    except changes.StaleVersion as exc:
        _conflict_to_412(exc)
    return _answer(c, result)


@api_write.delete("/collections/<collection_id>/items/<item_id>")
def retire(collection_id: str, item_id: str) -> ResponseReturnValue:
    """Retires the feature (kept in the history; restorable in the workspace)."""
    c = _writable(collection_id)
    account = api_account()
    fid = _feature_id(c, item_id)
    version = _expected_version()
    try:
        result = c.retire(engine(), account, fid, expected_version=version)
    except changes.StaleVersion as exc:
        _conflict_to_412(exc)
    return _answer(c, result)


@api_write.get("/changes/<id:change_id>")
def change(change_id: int) -> ResponseReturnValue:
    """One change (pending, published or rejected), for its author and those who may see the
    feature; personal values shown only with the personal-data right."""
    account = api_account()
    found = changes.change_for_staff(engine(), account, change_id)
    return jsonify(found)


def _report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "layer": report.layer, "source_file": report.source_file, "mode": report.mode,
        "committed": report.committed, "import_id": report.import_id,
        "encoding": report.encoding, "counts": report.counts(), "pending": report.pending,
        "file_problems": report.file_problems, "file_notes": report.file_notes,
        "rows": [{"row": r.row, "key": r.key, "status": r.status, "errors": r.errors,
                  "warnings": r.warnings, "changes": r.changes}
                 for r in sorted(report.rows, key=lambda r: (r.status != "error",
                                                             r.status != "warning", r.row))],
    }


@api_write.post("/collections/<collection_id>/imports")
def bulk_import(collection_id: str) -> ResponseReturnValue:
    """A file posted as multipart ``file`` with ``mode`` = dry-run (default), all (all or
    nothing) or valid-only: the importer's report, rows with errors first. Files over
    CDDGIS_MAX_UPLOAD_MB are refused with 413 before they are read."""
    layer = _writable(collection_id).layer()
    account = api_account()
    if not account.covers_layer(layer.id):
        raise Forbidden(f"layer {layer.id} is outside the layers of account {account.name}")
    mode = request.args.get("mode") or request.form.get("mode") or "dry-run"
    if mode not in IMPORT_MODES:
        raise BadParameter(f"mode must be one of {', '.join(IMPORT_MODES)}; got {mode[:40]!r}")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadParameter("send the file as multipart/form-data field 'file' / แนบไฟล์ในช่อง "
                           "file")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in EXPECTED:
        raise UnsupportedMediaType(
            f"{Path(upload.filename).name[:100]}: file type {suffix or '(none)'} is not "
            "supported; send CSV, XLSX, GeoJSON, a zipped Shapefile or a GeoPackage / "
            "ชนิดไฟล์นี้นำเข้าไม่ได้")
    crs = crs_choice(request.args.get("crs") or request.form.get("crs"))
    name = Path(upload.filename).name[:200]
    with tempfile.TemporaryDirectory(prefix="cddgis-api-import-") as tmp:
        path = Path(tmp) / name
        upload.save(path)
        try:
            report = import_file(engine(), layer, path, account=account, crs=crs,
                                 **IMPORT_MODES[mode])
        except ImportRefused as exc:
            raise Unprocessable(str(exc)) from None
    body = _report_json(report)
    if report.committed or mode == "dry-run":
        return jsonify(body), 202 if report.pending else 200
    body = {"code": "InvalidContent",
            "description": "ไม่ได้นำเข้า: มีแถวที่ผิดพลาด ฐานข้อมูลไม่เปลี่ยนแปลง / nothing was "
                           "imported: the file has errors and the database is unchanged",
            **body}
    return jsonify(body), 422
