"""Import jobs: the ``upload_jobs`` table, and the background check and commit of an uploaded
file through the importer (issue 11), for the staff workspace and the import API (issue 20).

A worker thread checks (dry run) and later commits the file with ``gis.layer_store``'s importer,
on an engine without the web statement timeout, and writes its progress and report into the
job's row: any app process can answer a poll, and the report outlives the file. Rows that lie
outside the uploader's provinces are errors naming the province, in the check and the commit.

One ``JobRunner`` per app process runs them all, staff uploads and the API's large files
(``origin = 'api'``, checked and written in one go as the synchronous API does): a bounded pool,
a bounded queue per account, and a time limit a job cannot outlive (it stops at its next batch
the way Cancel stops it, and is failed with a message naming the setting).
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from core.accounts import Account
from core.errors import (
    BadParameter,
    CddgisError,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    own_words,
)
from core.readers import ACCEPTED_NAMES, EXPECTED, FileProblem, sniff
from core.schema import Layer
from gis.layer_store import PostgisLayerStore, PostgisLayerWriter, import_scope
from layers import importer
from layers.importer import (
    Carried,
    Existing,
    FeatureRow,
    ImportCancelled,
    ImportRefused,
    ImportReport,
)

log = logging.getLogger(__name__)

# The file endings the upload form takes, and what the importer must find inside: the one list
# every import path uses (core.readers).
KINDS: dict[str, str] = EXPECTED
KIND_NAMES = ACCEPTED_NAMES
RUNNING = ("queued", "checking", "committing")
STALE_MINUTES = 15
"""A running job whose row has not moved for this long lost its process (a restart): shown as
failed. The worker touches the row every batch of 2,000 rows, far more often than this."""
MAX_ROWS_SHOWN = 500
STATUS_ORDER = "CASE r->>'status' WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"
TIMEOUT_SETTING = "CDDGIS_IMPORT_JOB_TIMEOUT_S"


class TooManyJobs(CddgisError):
    """The account already has as many imports waiting as it may (429): one client cannot
    fill the queue the whole office shares."""

    status = 429
    code = "TooManyRequests"


def timeout_message(seconds: float) -> str:
    return (f"หยุดเพราะใช้เวลาเกิน {seconds:g} วินาที ({TIMEOUT_SETTING}) ไม่มีการเปลี่ยนแปลง / "
            f"stopped after its time limit of {seconds:g} s ({TIMEOUT_SETTING}); nothing was "
            "changed")


class JobRunner:
    """The one pool every import job runs on, in this process: ``workers`` at once, the rest
    queued (at most ``queued_per_account`` of one account), each stopped after ``timeout_s``.
    Framework-free; web/ keeps one per app and hands it the import engine."""

    def __init__(self, *, workers: int, timeout_s: float, queued_per_account: int):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cddgis-import")
        self.timeout_s = timeout_s
        self.queued_per_account = queued_per_account

    def create(self, engine: Engine, account: Account, layer: str, **job: Any) -> int:
        """A new job row, or TooManyJobs when the account's queue is full."""
        return create_job(engine, account, layer, queue_limit=self.queued_per_account, **job)

    def submit(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        """Runs ``fn(*args, timeout_s=…)`` on a worker thread, in the caller's context (the
        client's address for the PDPA view log)."""
        return self.pool.submit(contextvars.copy_context().run, fn, *args,
                                timeout_s=self.timeout_s)


def file_kind(file_name: str, path: Path) -> str:
    """The importer's kind of an uploaded file, or BadParameter naming what is wrong with it:
    an ending the form does not take, or content that is not what the ending says."""
    suffix = Path(file_name).suffix.lower()
    expected = KINDS.get(suffix)
    if expected is None:
        shown = suffix or "(ไม่มีนามสกุล / no ending)"
        raise BadParameter(
            f"ไม่รับไฟล์ชนิด {shown} ({file_name}) ใช้ได้เฉพาะ {KIND_NAMES} / files of type "
            f"{shown} ({file_name}) are not accepted: upload {KIND_NAMES}")
    try:
        found = sniff(path)
    except FileProblem as exc:
        raise BadParameter(f"อ่านไฟล์ {file_name} ไม่ได้ / {file_name} cannot be read: {exc}"
                           ) from exc
    if found != expected:
        raise BadParameter(
            f"ไฟล์ {file_name} มีนามสกุล {suffix} แต่เนื้อหาเป็น {found} / {file_name} is named "
            f"{suffix} but its content is {found}: save it in the format its name says")
    return found


def estimate_rows(path: Path, kind: str) -> int | None:
    """About how many data rows a CSV has (its line count), for a progress bar; None for the
    other formats, whose row count costs as much as reading them."""
    if kind != "csv":
        return None
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 1)


def create_job(engine: Engine, account: Account, layer: str, *, file_name: str,
               stored_name: str, kind: str, size: int, rows_estimate: int | None,
               crs: str | None = None, origin: str = "upload", commit_mode: str | None = None,
               queue_limit: int | None = None) -> int:
    """The job's row, ``queued``; with ``queue_limit``, refused (TooManyJobs) when the account
    already has that many jobs waiting (a lost process's jobs no longer count)."""
    with engine.begin() as conn:
        if queue_limit is not None:  # two requests at once must not both take the last place
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('cddgis.import_queue'), "
                              ":account)"), {"account": account.id})
        job_id = conn.execute(text(f"""
            INSERT INTO upload_jobs (account_id, layer, file_name, stored_name, file_kind,
                                     size_bytes, rows_estimate, crs, origin, commit_mode)
            SELECT :account, :layer, :file_name, :stored, :kind, :size, :estimate, :crs,
                   :origin, :mode
            WHERE CAST(:limit AS int) IS NULL OR (
                SELECT count(*) FROM upload_jobs
                WHERE account_id = :account AND status = 'queued'
                  AND updated_at >= now() - interval '{STALE_MINUTES} minutes') < :limit
            RETURNING id
        """), {"account": account.id, "layer": layer, "file_name": file_name[:255],
               "stored": stored_name, "kind": kind, "size": size,
               "estimate": rows_estimate, "crs": crs, "origin": origin, "mode": commit_mode,
               "limit": queue_limit}).scalar_one_or_none()
    if job_id is None:
        raise TooManyJobs(f"บัญชีนี้มีงานนำเข้ารอคิวอยู่ {queue_limit} งานแล้ว รอให้งานเดิมเสร็จก่อน / "
                          f"this account already has {queue_limit} imports waiting in the "
                          "queue: wait for one to finish (CDDGIS_IMPORT_QUEUE_PER_ACCOUNT)")
    return int(job_id)


CRS_CHOICES = {"": "ละติจูด/ลองจิจูด หรือคอลัมน์โซน / latitude and longitude, or a zone column",
               "EPSG:32647": "UTM โซน 47N (ส่วนใหญ่ของประเทศ) / UTM zone 47N (most of Thailand)",
               "EPSG:32648": "UTM โซน 48N (ภาคตะวันออกและอีสานตะวันออก) / UTM zone 48N (the east)"}


def crs_choice(raw: str | None) -> str | None:
    """The coordinate system chosen on the upload form (or in the API), or BadParameter."""
    raw = (raw or "").strip()
    if raw.upper() in ("", "EPSG:4326"):
        return None
    chosen = importer.UTM_ZONES.get(raw.lower().removeprefix("utm").strip(), raw.upper())
    if chosen not in CRS_CHOICES:
        raise BadParameter("crs: ใช้ได้เฉพาะ EPSG:4326, EPSG:32647 (UTM 47N), EPSG:32648 "
                           "(UTM 48N) / crs must be EPSG:4326, EPSG:32647 (UTM 47N) or "
                           f"EPSG:32648 (UTM 48N); got {raw[:40]!r}")
    return chosen


_JOB = f"""
    SELECT j.id, j.account_id, a.name AS account_name, j.layer, j.file_name, j.stored_name,
           j.file_kind, j.size_bytes, j.rows_done, j.rows_estimate, j.check_import_id,
           j.commit_mode, j.import_id, j.message, j.created_at, j.updated_at, j.crs,
           j.origin,
           CASE WHEN j.status IN ('queued', 'checking', 'committing')
                 AND j.updated_at < now() - interval '{STALE_MINUTES} minutes'
                THEN 'failed' ELSE j.status END AS status,
           j.report - 'rows' - 'fixes' AS summary,
           j.commit_report - 'rows' AS commit_summary
    FROM upload_jobs j JOIN accounts a ON a.id = j.account_id
"""


def get_job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    """The job without its rows (``summary``: the check's counts, problems and notes)."""
    with engine.connect() as conn:
        row = conn.execute(text(_JOB + " WHERE j.id = :id"), {"id": job_id}).mappings().first()
    return dict(row) if row else None


def job_for(engine: Engine, account: Account, job_id: int) -> dict[str, Any]:
    """The job if this account may see it (its own; an administrator: any), else 404/403."""
    job = get_job(engine, job_id)
    if job is None:
        raise NotFound(f"ไม่พบการอัปโหลด {job_id} / no upload {job_id}")
    if job["account_id"] != account.id and not account.is_admin:
        raise Forbidden(f"การอัปโหลด {job_id} เป็นของบัญชีอื่น / upload {job_id} belongs to "
                        "another account")
    return job


def recent_jobs(engine: Engine, account: Account, limit: int = 10) -> list[dict[str, Any]]:
    """The account's latest uploads, for the upload page."""
    with engine.connect() as conn:
        rows = conn.execute(text(_JOB + " WHERE j.account_id = :account "
                                 "AND j.origin = 'upload' ORDER BY j.id DESC LIMIT :limit"),
                            {"account": account.id, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def report_rows(engine: Engine, job_id: int, *, status: str | None, offset: int = 0,
                limit: int = MAX_ROWS_SHOWN, commit: bool = False) -> tuple[list[dict], int]:
    """Rows of the report, errors first then warnings then ok (each in file order), optionally
    of one status; and how many there are."""
    column = "commit_report" if commit else "report"
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT r, count(*) OVER () AS n
            FROM upload_jobs j, jsonb_array_elements(j.{column}->'rows') WITH ORDINALITY AS e(r, i)
            WHERE j.id = :id AND (CAST(:status AS text) IS NULL OR r->>'status' = :status)
            ORDER BY {STATUS_ORDER}, i
            OFFSET :offset LIMIT :limit
        """), {"id": job_id, "status": status, "offset": offset, "limit": limit}).all()
    return [r for r, _ in rows], (rows[0].n if rows else 0)


def report_points(engine: Engine, job_id: int) -> list[list[Any]]:
    """[lon, lat, status, row] of every row whose coordinates could be read, for the map."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT r->'point'->>0, r->'point'->>1, r->>'status', r->'row'
            FROM upload_jobs j, jsonb_array_elements(j.report->'rows') AS e(r)
            WHERE j.id = :id AND jsonb_typeof(r->'point') = 'array'
        """), {"id": job_id}).all()
    return [[float(x), float(y), s, n] for x, y, s, n in rows]


def all_report_rows(engine: Engine, job_id: int, *, commit: bool = False) -> dict[str, Any]:
    """The whole report (for the CSV download)."""
    column = "commit_report" if commit else "report"
    with engine.connect() as conn:
        report = conn.execute(text(f"SELECT {column} FROM upload_jobs WHERE id = :id"),
                              {"id": job_id}).scalar_one_or_none()
    return report or {}


def report_csv_rows(report: dict[str, Any]) -> Iterator[list[object]]:
    """The report as ``ImportReport.write_csv`` writes it: header, file problems and notes, then
    one line per row (the caller neutralises formulas)."""
    yield ["row", "key", "status", "reasons"]
    for problem in report.get("file_problems", []):
        yield ["file", "", "error", problem]
    for note in report.get("file_notes", []):
        yield ["file", "", "note", note]
    for r in report.get("rows", []):
        yield [r["row"], r.get("key") or "", r["status"],
               "; ".join(r.get("errors", []) + r.get("warnings", []) + r.get("changes", []))]


def report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "layer": report.layer, "source_file": report.source_file, "sha256": report.sha256,
        "mode": report.mode, "encoding": report.encoding, "committed": report.committed,
        "inserted": report.inserted, "updated": report.updated,
        "import_id": report.import_id, "counts": report.counts(),
        "pending": getattr(report, "pending", 0),  # rows waiting for review (staffapi's writer)
        "file_problems": report.file_problems, "file_notes": report.file_notes,
        "rows": [{"row": r.row, "key": r.key, "status": r.status, "errors": r.errors,
                  "warnings": r.warnings, "changes": r.changes,
                  "point": [round(r.point[0], 6), round(r.point[1], 6)] if r.point else None}
                 for r in report.rows],
    }


class _JobStore(PostgisLayerStore):
    """The PostGIS store (which records the account on the import and its changes, and stages
    rows for review where the layer asks for it), plus the job's progress (rows read so far).
    Rows outside the account's provinces are the importer's own errors (``allowed_provinces``),
    as in the API."""

    def __init__(self, engine: Engine, job_id: int, account: Account,
                 timeout_s: float | None = None):
        super().__init__(engine, account)
        self.job_id = job_id
        self.report: ImportReport | None = None
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s

    def timed_out(self, running: str, report: ImportReport) -> bool:
        """After the importer returned uncommitted: if the job ran past its limit (a statement
        stopped by what was left of it; the writer rolled back), the job is failed saying so."""
        if report.committed or self.deadline is None or time.monotonic() < self.deadline:
            return False
        _finish(self.engine, self.job_id, "status = 'failed', message = :m",
                {"m": timeout_message(self.timeout_s or 0)}, running)
        return True

    def remaining_ms(self) -> int | None:
        if self.deadline is None:
            return None
        return max(1, int((self.deadline - time.monotonic()) * 1000))

    def checking(self, report: ImportReport) -> None:
        """The importer starts checking rows (before any transaction of its own)."""
        self.report = report

    def _progress(self, rows: int) -> None:
        """Says how far we are, and stops if the clerk has cancelled or the job is past its
        time limit (the import's transaction, if it has one yet, is then rolled back)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            assert self.timeout_s is not None
            _finish(self.engine, self.job_id, "status = 'failed', message = :m",
                    {"m": timeout_message(self.timeout_s)}, ("checking", "committing"))
            raise ImportCancelled(f"upload {self.job_id} ran past its time limit")
        with self.engine.begin() as conn:
            running = conn.execute(text(
                "UPDATE upload_jobs SET rows_done = :n, updated_at = now() "
                "WHERE id = :id AND status IN ('checking', 'committing') RETURNING id"),
                {"n": rows, "id": self.job_id}).first()
        if running is None:
            raise ImportCancelled(f"upload {self.job_id} was cancelled")

    def locate(self, points: list[tuple[float, float]]) -> list[Any]:
        """Each batch is located first while the rows are checked."""
        if self.report is not None:
            self._progress(len(self.report.rows))
        return super().locate(points)

    def begin(self, report: ImportReport, *, source_path: str, sample: bool,
              carried: Carried) -> PostgisLayerWriter:
        """The writing phase, after every row was checked: a cancel stops it batch by batch."""
        self.report = report
        writer = super().begin(report, source_path=source_path, sample=sample, carried=carried)
        write = writer.write

        def write_and_tell(rows: list[FeatureRow]) -> dict[str, Existing]:
            self._progress(len(report.rows))
            return write(rows)

        writer.write = write_and_tell  # type: ignore[method-assign]
        # Behind PgBouncer every server connection starts with the web's statement timeout
        # (its connect_query): an import's own transaction lifts it, for itself only.
        # The job's time limit bounds a single statement too (what is left of it).
        writer.conn.execute(text(f"SET LOCAL statement_timeout = {self.remaining_ms() or 0}"))
        writer.conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = '10min'"))
        return writer


def _finish(engine: Engine, job_id: int, sets: str, params: dict[str, Any],
            expect: str | tuple[str, ...]) -> bool:
    """Moves the job on from ``expect`` (a cancelled job stays cancelled)."""
    expected = [expect] if isinstance(expect, str) else list(expect)
    with engine.begin() as conn:
        return bool(conn.execute(text(
            f"UPDATE upload_jobs SET {sets}, updated_at = now() "
            "WHERE id = :id AND status = ANY(:expect)"),
            {**params, "id": job_id, "expect": expected}).rowcount)


def run_check(engine: Engine, job_id: int, path: Path, layer: Layer, account: Account,
              crs: str | None = None, *, timeout_s: float | None = None) -> None:
    """The dry run of an uploaded file, in a worker thread: report and counts into the job."""
    if not _finish(engine, job_id, "status = 'checking'", {}, "queued"):
        return  # cancelled before it started
    try:
        store = _JobStore(engine, job_id, account, timeout_s)
        report = importer.import_file(store, layer, path, dry_run=True, crs=crs,
                                      **import_scope(account, layer))
    except ImportCancelled:
        return  # the job stays cancelled (or failed: too long); its transaction rolled back
    except ImportRefused as exc:
        _finish(engine, job_id, "status = 'failed', message = :m", {"m": str(exc)}, "checking")
        return
    except Exception as exc:  # the job must not stay "checking" for ever
        log.error("checking upload %s failed", job_id)
        _finish(engine, job_id, "status = 'failed', message = :m",
                {"m": f"การตรวจล้มเหลว / the check failed: {own_words(exc)}"}, "checking")
        return
    if store.timed_out("checking", report):
        return
    _finish(engine, job_id,
            "status = 'checked', report = CAST(:r AS jsonb), check_import_id = :i, "
            "rows_done = :n",
            {"r": json.dumps(report_json(report), ensure_ascii=False), "i": report.import_id,
             "n": len(report.rows)}, "checking")


def claim_commit(engine: Engine, account: Account, job_id: int, mode: str) -> dict[str, Any]:
    """Marks a checked job as committing (once: a second click or a second tab is refused)."""
    if mode not in ("all-or-nothing", "valid-only"):
        raise BadParameter("mode must be all-or-nothing or valid-only")
    job = job_for(engine, account, job_id)
    if job["account_id"] != account.id:
        raise Forbidden(f"การอัปโหลด {job_id} เป็นของบัญชีอื่น / upload {job_id} belongs to "
                        "another account: only its uploader commits it")
    if job["origin"] != "upload":
        raise Conflict(f"งาน {job_id} มาจาก API นำเข้าในขั้นเดียว / job {job_id} came from the "
                       "import API, which imports in one step: send the file again with the "
                       "mode you want")
    if not account.covers_layer(job["layer"]):
        raise Forbidden(f"บัญชีนี้ไม่ได้ดูแลชั้นข้อมูล {job['layer']} / this account does not "
                        f"edit {job['layer']}")
    summary = job["summary"] or {}
    if mode == "all-or-nothing" and (summary.get("counts", {}).get("error")
                                     or summary.get("file_problems")):
        raise Conflict("มีแถวที่ผิดพลาด นำเข้าทั้งหมดไม่ได้ เลือก 'นำเข้าเฉพาะแถวที่ถูกต้อง' หรือแก้ไฟล์ / "
                       "the file has rows with errors: commit the valid rows only, or fix the "
                       "file and upload it again")
    if not _finish(engine, job_id, "status = 'committing', commit_mode = :mode, rows_done = 0",
                   {"mode": mode}, "checked"):
        raise Conflict(f"การอัปโหลดนี้อยู่ในสถานะ {job['status']} นำเข้าไม่ได้ / this upload is "
                       f"{job['status']} and cannot be committed")
    return job


def run_commit(engine: Engine, job_id: int, path: Path, layer: Layer, account: Account,
               mode: str, crs: str | None = None, *, timeout_s: float | None = None) -> None:
    """The commit, in a worker thread, with the rows fixed in the report in place of the
    file's (``fix_row``); the file is deleted when it is done."""
    try:
        store = _JobStore(engine, job_id, account, timeout_s)
        report = importer.import_file(store, layer, path, valid_only=mode == "valid-only",
                                      crs=crs, fixes=job_fixes(engine, job_id),
                                      **import_scope(account, layer))
    except Exception as exc:
        log.error("committing upload %s failed", job_id)
        _finish(engine, job_id, "status = 'not_committed', message = :m",
                {"m": f"การนำเข้าล้มเหลว ไม่มีการเปลี่ยนแปลง / the commit failed, nothing changed: "
                      f"{own_words(exc)}"}, "committing")
        return
    finally:
        path.unlink(missing_ok=True)
    if store.timed_out("committing", report):
        return
    _finish(engine, job_id,
            "status = :s, commit_report = CAST(:r AS jsonb), import_id = :i, rows_done = :n",
            {"s": "committed" if report.committed else "not_committed",
             "r": json.dumps(report_json(report), ensure_ascii=False), "i": report.import_id,
             "n": len(report.rows)}, "committing")


# ---- fixing a row in place (issue 24, item 8) -----------------------------------------------
# The fixed cells are kept in the job's report (``report->'fixes'``: row -> header -> text), not
# in the file, which stays as uploaded: the PDPA erasure and the upload retention, which
# already reach the report, reach the fixes with it.

class FixTooLarge(CddgisError):
    """A fixed row holds more text than a row of a CDD export ever does (413)."""

    status = 413
    code = "RequestEntityTooLarge"


def _fixable(engine: Engine, account: Account, job_id: int) -> dict[str, Any]:
    """The job if this account may fix its rows: its uploader's, a staff upload, checked."""
    job = job_for(engine, account, job_id)
    if job["account_id"] != account.id:
        raise Forbidden(f"การอัปโหลด {job_id} เป็นของบัญชีอื่น / upload {job_id} belongs to "
                        "another account: only its uploader fixes its rows")
    if job["origin"] != "upload":
        raise NotFound(f"ไม่พบการอัปโหลด {job_id} / no upload {job_id}")
    if not account.covers_layer(job["layer"]):
        raise Forbidden(f"บัญชีนี้ไม่ได้ดูแลชั้นข้อมูล {job['layer']} / this account does not "
                        f"edit {job['layer']}")
    if job["status"] != "checked":
        raise Conflict(f"การอัปโหลดนี้อยู่ในสถานะ {job['status']} แก้ไขแถวไม่ได้ / this upload is "
                       f"{job['status']}: only a checked upload's rows can be fixed")
    return job


def _report_row(engine: Engine, job_id: int, row: int) -> dict[str, Any]:
    """The report's entry for the file's row ``row``, or NotFound."""
    with engine.connect() as conn:
        entry = conn.execute(text("""
            SELECT r FROM upload_jobs j, jsonb_array_elements(j.report->'rows') AS e(r)
            WHERE j.id = :id AND r->>'row' = :row
        """), {"id": job_id, "row": str(row)}).scalar_one_or_none()
    if entry is None:
        raise NotFound(f"การอัปโหลด {job_id} ไม่มีแถวที่ {row} / upload {job_id} has no row {row}")
    return dict(entry)


def job_fixes(engine: Engine, job_id: int) -> dict[int, dict[str, str]]:
    """The rows fixed in the job's report: the file's row number -> header -> text."""
    with engine.connect() as conn:
        fixes = conn.execute(text("SELECT report->'fixes' FROM upload_jobs WHERE id = :id"),
                             {"id": job_id}).scalar_one_or_none()
    return {int(row): cells for row, cells in (fixes or {}).items()}


def _text(value: object) -> str:
    """A cell as a form shows it (a spreadsheet's whole number without its '.0')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_for_fixing(engine: Engine, account: Account, job_id: int, row: int,
                   path: Path) -> dict[str, Any]:
    """A broken row as the fix form shows it: its report entry, and each of the file's columns
    with the cell the file has there (or the fix already made)."""
    _fixable(engine, account, job_id)
    entry = _report_row(engine, job_id, row)
    try:
        table, record = importer.read_row(path, row)
    except (FileProblem, ValueError, OSError) as exc:
        raise NotFound(f"ไฟล์ของการอัปโหลด {job_id} อ่านไม่ได้แล้ว / the file of upload {job_id} "
                       "can no longer be read") from exc
    if record is None:
        raise NotFound(f"การอัปโหลด {job_id} ไม่มีแถวที่ {row} / upload {job_id} has no row {row}")
    fixed = job_fixes(engine, job_id).get(row, {})
    cells = [{"header": h, "value": fixed[h] if h in fixed else _text(record.cells.get(h))}
             for h in table.headers]
    return {**entry, "cells": cells, "fixed": bool(fixed), "geometry": table.geometry}


def fix_row(engine: Engine, account: Account, job_id: int, row: int, cells: dict[str, str],
            path: Path, layer: Layer) -> dict[str, Any]:
    """Checks the file's row ``row`` again with ``cells`` in place of the file's, with the
    importer's own rules and reasons, and keeps the fix with the job: the report's entry and
    counts say the row's new verdict, and the commit reads the fixed cells (``run_commit``).
    The uploaded file is not touched. Returns the new entry and the job's counts."""
    job = _fixable(engine, account, job_id)
    old = _report_row(engine, job_id, row)
    size = sum(len(h) + len(v) for h, v in cells.items())
    if size > importer.MAX_FIX_CHARS:
        raise FixTooLarge(f"แถวที่แก้มีข้อความ {size:,} ตัวอักษร เกิน {importer.MAX_FIX_CHARS:,} / "
                          f"the fixed row holds {size:,} characters, more than "
                          f"{importer.MAX_FIX_CHARS:,}")
    fixes = job_fixes(engine, job_id)
    if row not in fixes and len(fixes) >= importer.MAX_FIXED_ROWS:
        raise Unprocessable(f"แก้ได้ไม่เกิน {importer.MAX_FIXED_ROWS} แถวต่อการอัปโหลด แก้ไฟล์แล้วอัปโหลด"
                            f"ใหม่ / at most {importer.MAX_FIXED_ROWS} rows of one upload can be "
                            "fixed in the page: fix the file and upload it again")

    def other_row(key: str) -> int | None:
        with engine.connect() as conn:
            return conn.execute(text("""
                SELECT min((r->>'row')::int)
                FROM upload_jobs j, jsonb_array_elements(j.report->'rows') AS e(r)
                WHERE j.id = :id AND r->>'key' = :key AND r->>'row' <> :row
            """), {"id": job_id, "key": key, "row": str(row)}).scalar_one_or_none()

    try:
        result = importer.check_row(PostgisLayerStore(engine, account), layer, path, row, cells,
                                    other_keys=_OtherRows(other_row), crs=job["crs"],
                                    **import_scope(account, layer))
    except ImportRefused as exc:
        raise Conflict(str(exc)) from exc
    except (FileNotFoundError, OSError) as exc:
        raise NotFound(f"ไฟล์ของการอัปโหลด {job_id} ไม่มีแล้ว / the file of upload {job_id} is "
                       "gone") from exc
    if result is None:
        raise NotFound(f"การอัปโหลด {job_id} ไม่มีแถวที่ {row} / upload {job_id} has no row {row}")
    entry = {"row": row, "key": result.key, "status": result.status, "errors": result.errors,
             "warnings": result.warnings, "changes": [], "fixed": True,
             "point": ([round(result.point[0], 6), round(result.point[1], 6)]
                       if result.point else None)}
    with engine.begin() as conn:
        counts = conn.execute(text(
            "SELECT report->'counts' FROM upload_jobs WHERE id = :id AND status = 'checked' "
            "FOR UPDATE"), {"id": job_id}).scalar_one_or_none()
        if counts is None:
            raise Conflict(f"การอัปโหลด {job_id} เปลี่ยนสถานะไปแล้ว / upload {job_id} is no longer "
                           "checked")
        current = conn.execute(text("""
            SELECT r->>'status', i - 1
            FROM upload_jobs j, jsonb_array_elements(j.report->'rows') WITH ORDINALITY AS e(r, i)
            WHERE j.id = :id AND r->>'row' = :row
        """), {"id": job_id, "row": str(row)}).one()
        counts = dict(counts)
        counts[current[0]] -= 1
        counts[entry["status"]] += 1
        conn.execute(text("""
            UPDATE upload_jobs SET updated_at = now(), report = jsonb_set(jsonb_set(jsonb_set(
                report, ARRAY['rows', CAST(:i AS text)], CAST(:entry AS jsonb)),
                '{counts}', CAST(:counts AS jsonb)),
                ARRAY['fixes'], coalesce(report->'fixes', '{}') ||
                                jsonb_build_object(CAST(:row AS text), CAST(:cells AS jsonb)))
            WHERE id = :id
        """), {"id": job_id, "i": current[1], "row": str(row),
               "entry": json.dumps(entry, ensure_ascii=False),
               "counts": json.dumps(counts), "cells": json.dumps(cells, ensure_ascii=False)})
    log.info("upload %s: row %s fixed in place (%s → %s)", job_id, row, old["status"],
             entry["status"])
    return {"row": entry, "counts": counts}


class _OtherRows(dict[str, int]):
    """The duplicate check's keys seen, for one row checked again: the file's other rows,
    asked of the stored report by key when the check looks (not every key of a big file)."""

    def __init__(self, lookup: Callable[[str], int | None]):
        super().__init__()
        self.lookup = lookup

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if not isinstance(key, str) or (found := self.lookup(key)) is None:
            return False
        self[key] = found
        return True


API_MODES = {"dry-run": None, "all": "all-or-nothing", "valid-only": "valid-only"}
"""The import API's modes, and the job's ``commit_mode`` for each (None: a dry run)."""


def api_report_json(report: ImportReport) -> dict[str, Any]:
    """The import API's report, rows with errors first: what the synchronous answer holds and
    what a finished job gives (``report`` of ``/api/jobs/{id}``)."""
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


def run_api_import(engine: Engine, job_id: int, path: Path, layer: Layer, account: Account,
                   crs: str | None = None, *, timeout_s: float | None = None) -> None:
    """An import the API runs in the background, in one go as its synchronous answer does
    (the job's ``commit_mode``: None for a dry run); the API's report into the job. The file
    is the caller's to delete."""
    job = get_job(engine, job_id)
    if job is None:
        return
    mode = job["commit_mode"]
    running = "committing" if mode else "checking"
    if not _finish(engine, job_id, f"status = '{running}'", {}, "queued"):
        return  # cancelled (or erased) before it started
    store = _JobStore(engine, job_id, account, timeout_s)
    try:
        report = importer.import_file(store, layer, path, dry_run=mode is None,
                                      valid_only=mode == "valid-only", crs=crs,
                                      **import_scope(account, layer))
    except ImportCancelled:
        return  # failed (its time limit) or cancelled; its transaction was rolled back
    except ImportRefused as exc:
        _finish(engine, job_id, "status = 'failed', message = :m", {"m": str(exc)}, running)
        return
    except Exception as exc:  # the job must not stay running for ever
        log.error("import job %s failed", job_id)
        _finish(engine, job_id, "status = 'failed', message = :m",
                {"m": f"การนำเข้าล้มเหลว ไม่มีการเปลี่ยนแปลง / the import failed, nothing changed: "
                      f"{own_words(exc)}"}, running)
        return
    if store.timed_out(running, report):
        return
    done = "checked" if mode is None else "committed" if report.committed else "not_committed"
    # where the staff upload keeps a check's and a commit's, so the import history finds it
    report_column, import_column = (("report", "check_import_id") if mode is None
                                    else ("commit_report", "import_id"))
    _finish(engine, job_id,
            f"status = :s, {report_column} = CAST(:r AS jsonb), {import_column} = :i, "
            "rows_done = :n",
            {"s": done, "r": json.dumps(api_report_json(report), ensure_ascii=False),
             "i": report.import_id, "n": len(report.rows)}, running)


def api_job_for(engine: Engine, account: Account, job_id: int) -> dict[str, Any]:
    """A job the API started, with its whole report once finished, for its owner or an
    administrator; 404 for anyone else, as if it did not exist (its file name and rows are the
    owner's)."""
    job = get_job(engine, job_id)
    if (job is None or job["origin"] != "api"
            or (job["account_id"] != account.id and not account.is_admin)):
        raise NotFound(f"ไม่พบงานนำเข้า {job_id} / no import job {job_id}")
    finished = job["status"] in ("checked", "committed", "not_committed")
    job["report"] = (all_report_rows(engine, job_id, commit=job["commit_mode"] is not None)
                     if finished else None)
    return job


def cancel(engine: Engine, account: Account, job_id: int) -> dict[str, Any]:
    """Cancels a job that has not been committed; its file is the caller's to delete."""
    job = job_for(engine, account, job_id)
    if job["account_id"] != account.id and not account.is_admin:
        raise Forbidden(f"upload {job_id} belongs to another account")
    with engine.begin() as conn:
        done = conn.execute(text("""
            UPDATE upload_jobs SET status = 'cancelled', updated_at = now()
            WHERE id = :id AND status IN ('queued', 'checking', 'checked', 'failed')
        """), {"id": job_id}).rowcount
    if not done:
        raise Conflict(f"การอัปโหลดนี้อยู่ในสถานะ {job['status']} ยกเลิกไม่ได้ / this upload is "
                       f"{job['status']} and cannot be cancelled")
    return job


def history(engine: Engine, account: Account, *, before: int | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """Imports newest first: who, what, when, counts, committed, and the upload that holds the
    report. An administrator, or an editor of every province, sees all imports of the layers
    they cover; an editor of some provinces sees their own (others' reports name rows of other
    provinces)."""
    sees_all = account.is_admin or account.provinces is None
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT i.id, i.layer, regexp_replace(i.source_file, '^.*[/\\\\]', '') AS source_file,
                   i.mode, i.committed, i.sample, i.rows_total,
                   i.rows_ok, i.rows_warning, i.rows_error, i.inserted, i.updated, i.message,
                   i.imported_at, a.name AS account_name,
                   coalesce(c.id, d.id) AS job_id, c.id IS NOT NULL AS is_commit
            FROM layer_imports i
            LEFT JOIN accounts a ON a.id = i.account_id
            LEFT JOIN upload_jobs c ON c.import_id = i.id
            LEFT JOIN upload_jobs d ON d.check_import_id = i.id
            WHERE (CAST(:before AS int) IS NULL OR i.id < :before)
              AND (:all OR i.account_id = :account)
              AND (CAST(:layers AS text[]) IS NULL OR i.layer = ANY(:layers))
            ORDER BY i.id DESC LIMIT :limit
        """), {"before": before, "all": sees_all, "account": account.id, "limit": limit,
               "layers": None if account.layers is None or account.is_admin
               else sorted(account.layers)}).mappings().all()
    return [dict(r) for r in rows]


def import_report(engine: Engine, account: Account, import_id: int) -> dict[str, Any]:
    """The stored report of an import made by an upload, if this account may see it."""
    visible = [r for r in history(engine, account, before=import_id + 1, limit=1)
               if r["id"] == import_id]
    if not visible:
        raise NotFound(f"ไม่พบการนำเข้า {import_id} / no import {import_id} you may see")
    row = visible[0]
    if row["job_id"] is None:
        raise NotFound(f"การนำเข้า {import_id} ไม่มีรายงานที่เก็บไว้ (นำเข้าจากบรรทัดคำสั่ง) / import "
                       f"{import_id} has no stored report (made from the command line: use "
                       "its --report file)")
    return all_report_rows(engine, row["job_id"], commit=row["is_commit"])
