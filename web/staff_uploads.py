"""The staff workspace's uploads and import history (issue 11).

``/staff/upload``: an officer chooses a layer in their scope and a file; the file is saved under
the state directory and checked by the app's import job runner (``web/jobs.py`` over
``gis.upload_jobs``, shared with the import API) while the page polls;
the dry-run report (every row ok / warning / error, errors first, on a map by status) then leads
to a commit (all or nothing, or the valid rows only) or a cancel. ``/staff/imports`` lists every
import with its counts and report. (Administration: ``web/staff_admin.py``.)
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from core.accounts import Account
from core.errors import BadParameter, Forbidden, NotFound, Unprocessable
from gis import upload_jobs as jobs
from gis.personal import purge_uploads
from layers.definitions import LAYERS
from web import jobs as runner
from web.auth import current_account, signed_in
from web.downloads import csv_attachment
from web.services import engine, settings

staff_uploads = Blueprint("staff_uploads", __name__)

BANGKOK = ZoneInfo("Asia/Bangkok")
_CONTROL = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
STATUS_TEXT = {
    "queued": "รอคิว / queued", "checking": "กำลังตรวจ / checking",
    "checked": "ตรวจแล้ว / checked", "failed": "ล้มเหลว / failed",
    "committing": "กำลังนำเข้า / committing", "committed": "นำเข้าแล้ว / committed",
    "not_committed": "ไม่ได้นำเข้า / not committed", "cancelled": "ยกเลิกแล้ว / cancelled",
}


def init_app(app: Flask) -> None:
    app.add_template_filter(be_time, "be_time")

    app.register_blueprint(staff_uploads, url_prefix="/staff")


def be_time(value: datetime | None) -> str:
    """A time as Thai offices write it: day/month/B.E. year, Bangkok time."""
    if value is None:
        return ""
    local = value.astimezone(BANGKOK)
    return f"{local.day}/{local.month}/{local.year + 543} {local:%H:%M}"


def _account() -> Account:
    account = current_account()
    assert account is not None  # @signed_in ran first
    return account


def _uploads_dir() -> Path:
    return runner.uploads_dir()


def _safe_file_name(name: str) -> str:
    """The uploader's file name, kept for reports (Thai included) but never a path."""
    base = _CONTROL.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[-120:] or "upload"


def _layers_in_scope(account: Account) -> list[dict[str, str]]:
    return [{"id": layer.id, "title_th": layer.title_th, "title_en": layer.title_en}
            for layer in LAYERS.values() if account.covers_layer(layer.id)]


def _job_path(job: dict[str, Any]) -> Path:
    return _uploads_dir() / job["stored_name"]


def _remove_upload(job: dict[str, Any]) -> None:
    shutil.rmtree(_job_path(job).parent, ignore_errors=True)


# ---- upload ---------------------------------------------------------------------------------

@staff_uploads.route("/upload", methods=["GET", "POST"])
@signed_in
def upload() -> ResponseReturnValue:
    account = _account()
    layers = _layers_in_scope(account)
    if request.method == "GET":
        return render_template("staff/upload.html", account=account, layers=layers,
                               accepted_endings=",".join(jobs.KINDS),
                               recent=jobs.recent_jobs(engine(), account),
                               status_text=STATUS_TEXT, crs_choices=jobs.CRS_CHOICES,
                               max_mb=settings().max_upload_mb)
    layer_id = request.form.get("layer", "")
    chosen = LAYERS.get(layer_id)
    try:
        if chosen is None:
            raise BadParameter(f"ไม่มีชั้นข้อมูล {layer_id!r} / there is no layer {layer_id!r}")
        if not account.covers_layer(chosen.id):
            raise Forbidden(f"บัญชีนี้ไม่ได้ดูแลชั้นข้อมูล {chosen.title_th} / this account does not "
                            f"edit the layer {chosen.id}")
        crs = jobs.crs_choice(request.form.get("crs"))
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            raise BadParameter("เลือกไฟล์ที่จะอัปโหลด / choose a file to upload")
        name = _safe_file_name(sent.filename)
        folder = runner.new_upload_folder()
        path = folder / name
        sent.save(path)
        try:
            kind = jobs.file_kind(name, path)
            purge_uploads(engine(), _uploads_dir(), settings().upload_retention_days)  # PDPA
            job_id = runner.runner().create(
                engine(), account, chosen.id, file_name=name,
                stored_name=f"{folder.name}/{name}", kind=kind, size=path.stat().st_size,
                rows_estimate=jobs.estimate_rows(path, kind), crs=crs)
        except (BadParameter, jobs.TooManyJobs):
            shutil.rmtree(folder, ignore_errors=True)
            raise
    except (BadParameter, Forbidden, jobs.TooManyJobs) as refused:
        return render_template("staff/upload.html", account=account, layers=layers,
                               accepted_endings=",".join(jobs.KINDS),
                               recent=[], status_text=STATUS_TEXT, max_mb=settings().max_upload_mb,
                               crs_choices=jobs.CRS_CHOICES, chosen_crs=request.form.get("crs"),
                               error=refused.message,
                               chosen=layer_id), refused.status
    runner.submit(jobs.run_check, job_id, path, chosen, account, crs)
    return redirect(url_for("staff_uploads.job_page", job_id=job_id), 303)


@staff_uploads.get("/upload/<id:job_id>")
@signed_in
def job_page(job_id: int) -> ResponseReturnValue:
    account = _account()
    job = jobs.job_for(engine(), account, job_id)
    return render_template("staff/upload_job.html", account=account, job=job,
                           layer=LAYERS.get(job["layer"]), status_text=STATUS_TEXT,
                           map_config={"tiles": settings().tile_url or "",
                                       "attribution": settings().tile_attribution or ""})


def _job_json(job: dict[str, Any]) -> dict[str, Any]:
    summary = job["summary"] or {}
    commit = job["commit_summary"] or {}
    return {
        "id": job["id"], "status": job["status"], "status_text": STATUS_TEXT[job["status"]],
        "layer": job["layer"], "file_name": job["file_name"], "rows_done": job["rows_done"],
        "rows_estimate": job["rows_estimate"], "message": job["message"],
        "counts": summary.get("counts"), "file_problems": summary.get("file_problems", []),
        "file_notes": summary.get("file_notes", []), "encoding": summary.get("encoding"),
        "would_insert": summary.get("inserted"), "would_update": summary.get("updated"),
        "commit_mode": job["commit_mode"], "commit_counts": commit.get("counts"),
        "commit_problems": commit.get("file_problems", []),
        "committed": commit.get("committed"), "import_id": job["import_id"],
        "pending": commit.get("pending", 0),
    }


@staff_uploads.get("/upload/<id:job_id>/status")
@signed_in
def job_status(job_id: int) -> ResponseReturnValue:
    return jsonify(_job_json(jobs.job_for(engine(), _account(), job_id)))


@staff_uploads.get("/upload/<id:job_id>/rows")
@signed_in
def job_rows(job_id: int) -> ResponseReturnValue:
    jobs.job_for(engine(), _account(), job_id)
    status = request.args.get("status") or None
    if status not in (None, "error", "warning", "ok"):
        raise BadParameter("status must be error, warning or ok")
    try:
        offset = max(0, int(request.args.get("offset", "0")))
    except ValueError as exc:
        raise BadParameter("offset must be a whole number") from exc
    commit = request.args.get("report") == "commit"
    rows, total = jobs.report_rows(engine(), job_id, status=status, offset=offset,
                                   commit=commit)
    return jsonify(rows=rows, total=total, offset=offset, limit=jobs.MAX_ROWS_SHOWN)


@staff_uploads.get("/upload/<id:job_id>/points")
@signed_in
def job_points(job_id: int) -> ResponseReturnValue:
    jobs.job_for(engine(), _account(), job_id)
    return jsonify(points=jobs.report_points(engine(), job_id))


# ---- fixing a broken row in place (issue 24, item 8) ---------------------------------------

MAX_FIX_BODY = 256 * 1024
"""The largest fix form taken: a row of MAX_FIX_CHARS Thai characters, percent-encoded."""
MAX_FIX_FIELDS = 300


@staff_uploads.get("/upload/<id:job_id>/rows/<int:row>")
@signed_in
def row_for_fixing(job_id: int, row: int) -> ResponseReturnValue:
    """A row's report entry and its cells as the file has them (or as fixed), for the form the
    report opens in place. Its uploader's only: the cells may hold personal data."""
    job = jobs.job_for(engine(), _account(), job_id)
    return jsonify(jobs.row_for_fixing(engine(), _account(), job_id, row, _job_path(job)))


@staff_uploads.post("/upload/<id:job_id>/rows/<int:row>")
@signed_in
def fix_row(job_id: int, row: int) -> ResponseReturnValue:
    """Checks one row again with the cells sent (``cell:<the file's header>``) in place of the
    file's, and keeps the fix for the commit. JSON for the page's script; a plain form post
    goes back to the report."""
    if (request.content_length or 0) > MAX_FIX_BODY:
        raise jobs.FixTooLarge(f"แบบฟอร์มใหญ่เกิน {MAX_FIX_BODY // 1024} KB / the form is larger "
                               f"than {MAX_FIX_BODY // 1024} KB")
    account = _account()
    job = jobs.job_for(engine(), account, job_id)
    cells = {name.removeprefix("cell:"): value for name, value in request.form.items()
             if name.startswith("cell:")}
    if not cells:
        raise BadParameter("cell: ไม่มีค่าของแถวที่แก้ / no cells: send each column as "
                           "cell:<the file's header>")
    if len(cells) > MAX_FIX_FIELDS:
        raise Unprocessable(f"cell: มีมากกว่า {MAX_FIX_FIELDS} ช่อง / more than {MAX_FIX_FIELDS} "
                            "cells")
    answer = jobs.fix_row(engine(), account, job_id, row, cells, _job_path(job),
                          LAYERS[job["layer"]])
    if request.accept_mimetypes.best == "application/json":
        return jsonify(answer)
    return redirect(url_for("staff_uploads.job_page", job_id=job_id) + f"#row-{row}", 303)


@staff_uploads.post("/upload/<id:job_id>/commit")
@signed_in
def job_commit(job_id: int) -> ResponseReturnValue:
    account = _account()
    mode = request.form.get("mode", "")
    job = jobs.claim_commit(engine(), account, job_id, mode)
    layer = LAYERS[job["layer"]]
    runner.submit(_commit_then_clean, job, layer, account, mode, _job_path(job))
    return redirect(url_for("staff_uploads.job_page", job_id=job_id), 303)


def _commit_then_clean(import_engine: Engine, job: dict[str, Any], layer: Any,
                       account: Account, mode: str, path: Path, *,
                       timeout_s: float | None = None) -> None:
    try:
        jobs.run_commit(import_engine, job["id"], path, layer, account, mode, job["crs"],
                        timeout_s=timeout_s)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


@staff_uploads.post("/upload/<id:job_id>/cancel")
@signed_in
def job_cancel(job_id: int) -> ResponseReturnValue:
    job = jobs.cancel(engine(), _account(), job_id)
    _remove_upload(job)
    return redirect(url_for("staff_uploads.job_page", job_id=job_id), 303)


@staff_uploads.get("/upload/<id:job_id>/report.csv")
@signed_in
def job_report_csv(job_id: int) -> ResponseReturnValue:
    jobs.job_for(engine(), _account(), job_id)
    commit = request.args.get("report") == "commit"
    report = jobs.all_report_rows(engine(), job_id, commit=commit)
    if not report:
        raise NotFound("ยังไม่มีรายงาน / there is no report yet")
    return csv_attachment(jobs.report_csv_rows(report),
                f"upload-{job_id}-{'commit' if commit else 'check'}-report.csv")


# ---- import history -------------------------------------------------------------------------

@staff_uploads.get("/imports")
@signed_in
def imports() -> ResponseReturnValue:
    account = _account()
    try:
        before = int(request.args["before"]) if request.args.get("before") else None
    except ValueError as exc:
        raise BadParameter("before must be an import number") from exc
    rows = jobs.history(engine(), account, before=before, limit=100)
    older = rows[-1]["id"] if len(rows) == 100 else None
    return render_template("staff/imports.html", account=account, rows=rows, older=older,
                           layers=LAYERS)


@staff_uploads.get("/imports/<id:import_id>/report.csv")
@signed_in
def import_report_csv(import_id: int) -> ResponseReturnValue:
    report = jobs.import_report(engine(), _account(), import_id)
    # Reasons quote the file's own cells: csv_attachment keeps a formula there from running.
    return csv_attachment(jobs.report_csv_rows(report), f"import-{import_id}-report.csv")
