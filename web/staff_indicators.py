"""Indicator tables added by staff (issue 23, item 1): ``/staff/indicators``.

An account with the ``indicators`` right (administrators have it) uploads a CSV or XLSX at any
level, region to village, with its titles, unit, year (or year columns), source, licence and
theme. As with point uploads it is **check → report → commit**: the check reads and matches the
table (``indicators/tables.py``, the catalogue's own reader) and writes nothing to the database,
reporting each row's problem in Thai and English; the commit checks again and replaces the
indicator's values in one transaction (``gis/indicator_store.py``). The table waits for the
commit in a private upload folder named in the signed session cookie, so nobody else's commit
can take it. Indicator tables are small (one row per area): the check runs in the request.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from core.accounts import Account
from core.errors import BadParameter, CddgisError, Forbidden
from gis import indicator_store as store
from indicators.tables import LEVELS, IndicatorImportError, IndicatorSpec, TableSpec
from web import jobs as runner
from web.auth import current_account, signed_in
from web.services import engine
from web.staff_uploads import _safe_file_name

staff_indicators = Blueprint("staff_indicators", __name__)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_TABLE_BYTES = 10 * 1024 * 1024
"""An indicator table has a row per area (77 provinces … ~75,000 villages): 10 MB is ample."""
ENDINGS = (".csv", ".xlsx")
PENDING = "indicator_upload"
LEVEL_NAMES = {"region": "ภาค / region", "province": "จังหวัด / province",
               "district": "อำเภอ / district", "subdistrict": "ตำบล / subdistrict",
               "village": "หมู่บ้าน / village (รหัส 8 หลัก / 8-digit code)"}
TEXT_FIELDS = {"title_th": 200, "title_en": 200, "unit": 100, "source": 300, "licence": 200,
               "theme": 100, "area_column": 100, "value_column": 100}


def _account() -> Account:
    account = current_account()
    if account is None or not account.may_manage_indicators:
        raise Forbidden("บัญชีนี้ไม่มีสิทธิ์จัดการตารางตัวชี้วัด / this account has no "
                        "indicators right")
    return account


def _form() -> dict[str, Any]:
    """The form's fields, checked; BadParameter names the field."""
    form = request.form
    meta: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        value = (form.get(name) or "").strip()
        if len(value) > limit:
            raise BadParameter(f"{name}: ยาวเกิน {limit} ตัวอักษร / at most {limit} characters")
        meta[name] = value
    indicator_id = (form.get("id") or "").strip()
    if not ID_PATTERN.match(indicator_id):
        raise BadParameter("id: ใช้ a-z 0-9 และ - ยาว 2–63 ตัว / id is 2–63 characters of a-z, "
                           f"0-9 and '-'; got {indicator_id[:80]!r}")
    meta["id"] = indicator_id
    for name in ("title_th", "title_en", "unit", "source", "licence"):
        if not meta[name]:
            raise BadParameter(f"{name}: ต้องกรอก / {name} is required")
    level = form.get("level", "")
    if level not in LEVELS:
        raise BadParameter(f"level: ต้องเป็น {', '.join(LEVELS)} / level must be one of "
                           f"{', '.join(LEVELS)}")
    meta["level"] = level
    year = (form.get("year") or "").strip()
    if year and not (year.isdigit() and 2400 <= int(year) <= 2700):
        raise BadParameter("year: ปี พ.ศ. 2400–2700 หรือเว้นว่างเมื่อมีคอลัมน์ปี / year is a "
                           "B.E. year 2400–2700, or blank for a table with year columns")
    meta["year"] = int(year) if year else None
    return meta


def _spec(meta: dict[str, Any], file_name: str) -> TableSpec:
    """The table's declaration, as the catalogue's: one indicator, its value column (blank:
    the first after the area column) for one year, or the year columns when no year is given."""
    column = meta["value_column"] if meta["year"] is not None else None
    return TableSpec(
        file=file_name, level=meta["level"],
        keys=(meta["area_column"],) if meta["area_column"] else (),
        source=meta["source"], licence=meta["licence"],
        indicators=(IndicatorSpec(meta["id"], meta["title_th"], meta["title_en"], meta["unit"],
                                  column, meta["year"]),))


def _save_file() -> tuple[Path, str]:
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise BadParameter("file: เลือกไฟล์ CSV หรือ XLSX / choose a CSV or XLSX file")
    name = _safe_file_name(sent.filename)
    if not name.lower().endswith(ENDINGS):
        raise BadParameter("file: รับเฉพาะ .csv และ .xlsx / only .csv and .xlsx tables")
    folder = runner.new_upload_folder()
    path = folder / name
    sent.save(path)
    if path.stat().st_size > MAX_TABLE_BYTES:
        shutil.rmtree(folder, ignore_errors=True)
        raise BadParameter(f"file: ใหญ่เกิน {MAX_TABLE_BYTES // 1024 // 1024} MB / a table is at "
                           f"most {MAX_TABLE_BYTES // 1024 // 1024} MB")
    return path, name


def _page(account: Account, status: int = 200, **extra: Any) -> ResponseReturnValue:
    return render_template("staff/indicators.html", account=account, levels=LEVEL_NAMES,
                           tables=store.staff_tables(engine()),
                           history=store.staff_history(engine()),
                           max_mb=MAX_TABLE_BYTES // 1024 // 1024, **extra), status


def _drop_pending() -> None:
    pending = session.pop(PENDING, None)
    if pending:
        shutil.rmtree(runner.uploads_dir() / pending["folder"], ignore_errors=True)


@staff_indicators.get("/indicators")
@signed_in
def page() -> ResponseReturnValue:
    return _page(_account(), done=request.args.get("done"), deleted=request.args.get("deleted"))


@staff_indicators.post("/indicators/check")
@signed_in
def check() -> ResponseReturnValue:
    """Reads and matches the table, writes nothing to the database; the report, and a commit
    button when no row has a problem."""
    account = _account()
    try:
        meta = _form()
        path, name = _save_file()
    except BadParameter as refused:
        return _page(account, 400, error=refused.message, form=request.form)
    try:
        values, report = store.check_upload(engine(), _spec(meta, name), path)
    except IndicatorImportError as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        return _page(account, 422, error=str(exc), form=request.form)
    _drop_pending()
    if report.problems:
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        session[PENDING] = {"folder": path.parent.name, "file": name, "meta": meta,
                            "account": account.id}
    status = 422 if report.problems else 200
    return render_template("staff/indicator_check.html", account=account, meta=meta,
                           report=report, problems=[p.as_dict() for p in report.problems],
                           sample=[v for v in values if v[3] is not None][:10],
                           levels=LEVEL_NAMES), status


@staff_indicators.post("/indicators/commit")
@signed_in
def commit() -> ResponseReturnValue:
    account = _account()
    pending = session.get(PENDING)
    if not pending or pending.get("account") != account.id:
        raise BadParameter("ไม่มีตารางที่ตรวจแล้วรอบันทึก ตรวจใหม่ / no checked table waits to "
                           "be saved: check it again")
    path = runner.uploads_dir() / pending["folder"] / pending["file"]
    try:
        if not path.exists():
            raise BadParameter("ไฟล์ที่ตรวจแล้วหมดอายุ ตรวจใหม่ / the checked file has expired: "
                               "check it again")
        meta = pending["meta"]
        store.replace_staff_table(engine(), _spec(meta, pending["file"]), path,
                                  account_id=account.id, theme=meta["theme"] or None)
    except IndicatorImportError as exc:
        return _page(account, 422, error=str(exc))
    except CddgisError as refused:
        return _page(account, refused.status, error=refused.message)
    finally:
        _drop_pending()
    return redirect(url_for("staff_indicators.page", done=meta["id"]), 303)


@staff_indicators.post("/indicators/<indicator_id>/delete")
@signed_in
def delete(indicator_id: str) -> ResponseReturnValue:
    account = _account()
    store.delete_staff_table(engine(), indicator_id, account_id=account.id)
    return redirect(url_for("staff_indicators.page", deleted=indicator_id), 303)
