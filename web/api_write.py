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
import math
import re
import shutil
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
from gis import crs as gcrs
from gis import upload_jobs as jobs
from gis.layer_store import import_file
from gis.upload_jobs import crs_choice
from layers.importer import ImportRefused
from web import jobs as runner
from web import params as wp
from web.auth import api_account
from web.services import engine, settings

api_write = Blueprint("api_write", __name__)

GEOJSON = "application/geo+json"
JSON_TYPES = ("application/json", GEOJSON, "application/merge-patch+json")
DERIVED = frozenset({"id", "province_code", "district_code", "subdistrict_code", "region",
                     "province_th", "district_th", "subdistrict_th", "sample", "distance_km"})
"""Properties the read API adds (where the point lies, the sample flag): a client may send a
feature back as it got it, and these are ignored — the server derives them again."""
IMPORT_MODES = {"dry-run": {"dry_run": True}, "all": {}, "valid-only": {"valid_only": True}}
JOB_STATUS = {"queued": "accepted", "checking": "running", "committing": "running",
              "checked": "successful", "committed": "successful",
              "not_committed": "successful", "failed": "failed", "cancelled": "dismissed"}
"""A job's status in the words of OGC API - Processes (statusInfo)."""


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
            problems.append("geometry must be a GeoJSON Point [lon, lat] (CRS84, or x, y in "
                            "the Content-Crs header's CRS)")
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


def _content_crs(c: gc.Collection) -> gcrs.Crs:
    """The CRS the body's coordinates are in (Part 4 with Part 2: ``Content-Crs: <uri>``):
    CRS84 without the header, any CRS the collection lists, else 400 naming the header — a
    CRS is never ignored (UTM metres stored as degrees)."""
    raw = request.headers.get("Content-Crs")
    if raw is None:
        return gcrs.DEFAULT
    return wp.crs_named("Content-Crs", raw.strip().removeprefix("<").removesuffix(">"), c.crs)


def _lon_lat(c: gc.Collection, point: tuple[Any, Any] | None,
             crs: gcrs.Crs) -> tuple[float, float] | None:
    """The body's point as the stored CRS84 longitude and latitude."""
    if point is None or crs is gcrs.DEFAULT:
        return point  # as sent: the changes check lon/lat (range, NaN, huge numbers)
    try:
        x, y = float(point[0]), float(point[1])
    except OverflowError:
        x = y = math.nan
    west, south, east, north = crs.bounds
    if crs.lat_first:
        west, south, east, north = south, west, north, east
    if not (west <= x <= east and south <= y <= north):
        raise Unprocessable("ไม่ใช่ GeoJSON Feature ที่ใช้ได้ / not a usable GeoJSON Feature",
                            [f"geometry: ({x}, {y}) is outside {crs.uri} (Content-Crs) / "
                             "พิกัดอยู่นอกขอบเขตของระบบพิกัด"])
    return gcrs.to_crs84(engine(), crs, x, y)


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
    crs = _content_crs(c)
    properties, point = _parts(_body(), whole=True)
    lon_lat = _lon_lat(c, point, crs)
    assert properties is not None and lon_lat is not None
    return _answer(c, c.create(engine(), account, properties, *lon_lat), created=True)


@api_write.put("/collections/<collection_id>/items/<item_id>")
def replace(collection_id: str, item_id: str) -> ResponseReturnValue:
    """Replaces the public fields (one left out is cleared) and the point; personal fields are
    replaced only when sent (the public representation never holds them, so a GET-then-PUT
    must not erase them)."""
    c = _writable(collection_id)
    account = api_account()
    crs = _content_crs(c)
    properties, point = _parts(_body(), whole=True)
    lon_lat = _lon_lat(c, point, crs)
    assert properties is not None and lon_lat is not None
    fid = _feature_id(c, item_id)
    version = _expected_version()
    try:
        result = c.update(engine(), account, fid, properties, expected_version=version,
                          lon=lon_lat[0], lat=lon_lat[1], whole=True)
    except changes.StaleVersion as exc:
        _conflict_to_412(exc)
    return _answer(c, result)


@api_write.patch("/collections/<collection_id>/items/<item_id>")
def update(collection_id: str, item_id: str) -> ResponseReturnValue:
    """Merges the properties sent (null clears one); a geometry moves the point."""
    c = _writable(collection_id)
    account = api_account()
    crs = _content_crs(c)
    properties, point = _parts(_body(), whole=False)
    lon_lat = _lon_lat(c, point, crs)
    fid = _feature_id(c, item_id)
    version = _expected_version()
    lon, lat = lon_lat if lon_lat else (None, None)
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


def _import_answer(body: dict[str, Any], mode: str) -> tuple[dict[str, Any], int]:
    """The import's answer, the same whether it ran in the request or as a job: the report
    (200, or 202 when rows wait for review), or 422 when nothing could be imported."""
    if body["committed"] or mode == "dry-run":
        return body, 202 if body["pending"] else 200
    return {"code": "InvalidContent",
            "description": "ไม่ได้นำเข้า: มีแถวที่ผิดพลาด ฐานข้อมูลไม่เปลี่ยนแปลง / nothing was "
                           "imported: the file has errors and the database is unchanged",
            **body}, 422


def _in_background(size: int) -> bool:
    """A file over CDDGIS_IMPORT_SYNC_MAX_KB, or a client that asks for it (RFC 7240's
    ``Prefer: respond-async``), is imported as a job rather than inside the request."""
    prefer = request.headers.get("Prefer", "").lower()
    return size > settings().import_sync_max_kb * 1024 or "respond-async" in prefer


@api_write.post("/collections/<collection_id>/imports")
def bulk_import(collection_id: str) -> ResponseReturnValue:
    """A file posted as multipart ``file`` with ``mode`` = dry-run (default), all (all or
    nothing) or valid-only: the importer's report, rows with errors first. Files over
    CDDGIS_MAX_UPLOAD_MB are refused with 413 before they are read; files over
    CDDGIS_IMPORT_SYNC_MAX_KB become a job: 202 with ``Location: /api/jobs/{id}``."""
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
        size = path.stat().st_size
        if _in_background(size):
            return _start_job(layer, account, path, name=name, suffix=suffix, size=size,
                              mode=mode, crs=crs)
        try:
            report = import_file(engine(), layer, path, account=account, crs=crs,
                                 **IMPORT_MODES[mode])
        except ImportRefused as exc:
            raise Unprocessable(str(exc)) from None
    body, status = _import_answer(jobs.api_report_json(report), mode)
    return jsonify(body), status


def _start_job(layer: Any, account: Any, sent: Path, *, name: str, suffix: str, size: int,
               mode: str, crs: str | None) -> ResponseReturnValue:
    """Moves the file where uploads wait (PDPA retention applies), queues the job and
    answers 202 with where to follow it."""
    folder = runner.new_upload_folder()
    path = folder / name
    shutil.move(sent, path)
    try:
        job_id = runner.runner().create(
            engine(), account, layer.id, file_name=name, stored_name=f"{folder.name}/{name}",
            kind=EXPECTED[suffix], size=size, rows_estimate=jobs.estimate_rows(path,
                                                                             EXPECTED[suffix]),
            crs=crs, origin="api", commit_mode=jobs.API_MODES[mode])
    except jobs.TooManyJobs:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    runner.submit(_import_then_clean, job_id, path, layer, account, crs)
    location = url_for("api_write.import_job", job_id=job_id, _external=True)
    body = _job_json(jobs.api_job_for(engine(), account, job_id), location)
    headers = {"Location": location}
    if "respond-async" in request.headers.get("Prefer", "").lower():
        headers["Preference-Applied"] = "respond-async"
    return jsonify(body), 202, headers


def _import_then_clean(import_engine: Any, job_id: int, path: Path, layer: Any, account: Any,
                       crs: str | None, *, timeout_s: float | None = None) -> None:
    try:
        jobs.run_api_import(import_engine, job_id, path, layer, account, crs,
                            timeout_s=timeout_s)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def _job_json(job: dict[str, Any], location: str) -> dict[str, Any]:
    """The job as OGC API - Processes words a status (``statusInfo``), with the import's
    answer once it is done: ``report`` is the body the synchronous import gives, and
    ``report_status`` its HTTP status."""
    mode = {None: "dry-run", "all-or-nothing": "all"}.get(job["commit_mode"],
                                                          job["commit_mode"])
    estimate = job["rows_estimate"]
    body: dict[str, Any] = {
        "jobID": str(job["id"]), "type": "process", "processID": "import",
        "status": JOB_STATUS[job["status"]], "collection": job["layer"], "mode": mode,
        "file_name": job["file_name"], "message": job["message"],
        "created": job["created_at"].isoformat(), "updated": job["updated_at"].isoformat(),
        "rows_done": job["rows_done"], "rows_estimate": estimate,
        "progress": (100 if JOB_STATUS[job["status"]] == "successful"
                     else min(99, 100 * job["rows_done"] // estimate) if estimate else None),
        "links": [{"href": location, "rel": "self", "type": "application/json",
                   "title": "this job / งานนำเข้านี้"}],
    }
    if job.get("report") is not None:
        body["report"], body["report_status"] = _import_answer(job["report"], mode)
    return body


@api_write.get("/jobs/<id:job_id>")
def import_job(job_id: int) -> ResponseReturnValue:
    """An import job the API started: its status and progress and, once it is done, the same
    report the synchronous import answers with. Its owner's (or an administrator's) only: 404
    for anyone else."""
    account = api_account()
    job = jobs.api_job_for(engine(), account, job_id)
    location = url_for("api_write.import_job", job_id=job_id, _external=True)
    return jsonify(_job_json(job, location))
