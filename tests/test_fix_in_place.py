"""Fixing a broken row in the upload report without leaving the page (issue 24, item 8): the
server checks the one row again with the importer's own rules and reasons, keeps the fix with
the job, and the commit writes the fixed values; the uploaded file stays as it was.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from layers import importer
from layers.importer import MAX_FIX_CHARS
from tests.conftest import _open_page
from tests.pagestate import new_view, wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account, csrf_token, reset_workspace, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_fix_rows")
LAYER = "learning-centers"
YEAR = "ปีงบประมาณ"
# Row 2 is fine; row 3's budget year is written in words, which the importer refuses.
BROKEN = ("รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"
          "LC-CM-1,ศูนย์เรียนรู้สันทราย,2564,18.8500,99.0400\n"
          "LC-CM-2,ศูนย์เรียนรู้แม่ริม,สองห้าหกสี่,18.9100,98.9400\n")
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner_engine: Engine):
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def fresh(owner_engine: Engine) -> Engine:
    return reset_workspace(owner_engine, LAYER)


def _upload(client, path: Path) -> str:
    form = client.get("/staff/upload")
    with path.open("rb") as fh:
        answer = client.post("/staff/upload", data={
            "layer": LAYER, "file": (fh, path.name), "csrf_token": csrf_token(form.text)},
            content_type="multipart/form-data")
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"]


def _settled(client, job_url: str, deadline_s: float = 60) -> dict:
    """Polls the job until its worker has finished (a deadline, not a sleep)."""
    deadline = time.monotonic() + deadline_s
    while True:
        status = client.get(job_url + "/status").get_json()
        if status["status"] not in ("queued", "checking", "committing"):
            return status
        assert time.monotonic() < deadline, status


def _stored_file(settings: Settings, owner_engine: Engine, job_url: str) -> Path:
    job_id = int(job_url.rstrip("/").rsplit("/", 1)[-1])
    with owner_engine.connect() as conn:
        stored = conn.execute(text("SELECT stored_name FROM upload_jobs WHERE id = :id"),
                              {"id": job_id}).scalar_one()
    return settings.state_dir / "uploads" / stored


def _budget_year(engine: Engine, key: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT properties->'budget_year' FROM layer_features WHERE layer = :l AND key = :k"),
            {"l": LAYER, "k": key}).scalar_one_or_none()


def test_a_broken_row_is_fixed_rechecked_and_committed_with_the_fix(
        staff_app, fresh: Engine, tmp_path: Path, settings: Settings) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    add_account(fresh, "cm-other", provinces=["50"], layers=[LAYER])
    owner, other = staff_app.test_client(), staff_app.test_client()
    sign_in(owner, "cm-officer")
    sign_in(other, "cm-other")
    source = tmp_path / "ศูนย์เรียนรู้.csv"
    source.write_text(BROKEN, encoding="utf-8")
    job_url = _upload(owner, source)
    assert _settled(owner, job_url)["counts"]["error"] == 1
    stored = _stored_file(settings, fresh, job_url)
    digest = hashlib.sha256(stored.read_bytes()).hexdigest()
    token = csrf_token(owner.get(job_url).text)
    [broken] = owner.get(job_url + "/rows?status=error").get_json()["rows"]
    assert broken["row"] == 3  # the file's row number: the header is row 1

    # The form is prefilled with what the file has, column by column.
    form = owner.get(job_url + "/rows/3").get_json()
    assert [c["header"] for c in form["cells"]] == BROKEN.splitlines()[0].split(",")
    cells = {c["header"]: c["value"] for c in form["cells"]}
    assert cells[YEAR] == "สองห้าหกสี่" and form["status"] == "error"

    def fix(values: dict[str, str], client=owner, row: int = 3, csrf: str | None = None):
        data = {f"cell:{h}": v for h, v in values.items()}
        data["csrf_token"] = token if csrf is None else csrf
        return client.post(f"{job_url}/rows/{row}", data=data, headers=JSON)

    # The same value again: the same verdict with the same reasons as the whole file's check.
    same = fix(cells)
    assert same.status_code == 200, same.text
    assert same.get_json()["row"]["errors"] == broken["errors"]
    # Another bad value: still broken, the reason in Thai and English.
    still = fix({**cells, YEAR: "ปีหน้า"}).get_json()
    assert still["row"]["status"] == "error" and still["counts"]["error"] == 1
    [reason] = still["row"]["errors"]
    assert reason.startswith(YEAR) and "ปีหน้า" in reason
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in reason.split("/")[0])
    assert " / " in reason and any(ch.isascii() and ch.isalpha() for ch in reason)
    # The fix: the row is ok, and the report says so (counts, the row's entry, the map).
    good = fix({**cells, YEAR: "2564"})
    assert good.status_code == 200
    assert good.get_json()["row"]["status"] == "ok"
    assert good.get_json()["counts"] == {**good.get_json()["counts"], "error": 0, "ok": 2}
    status = owner.get(job_url + "/status").get_json()
    assert status["counts"]["error"] == 0 and status["status"] == "checked"
    assert owner.get(job_url + "/rows?status=error").get_json()["rows"] == []
    assert owner.get(job_url + "/rows/3").get_json()["cells"][2]["value"] == "2564"

    # Refused: no CSRF token, a row the file does not have, another account's upload, a fix
    # larger than any row, nothing to check.
    assert fix({**cells, YEAR: "2564"}, csrf="").status_code == 400
    assert fix(cells, row=99).status_code == 404
    assert fix(cells, row=1).status_code == 404  # the header row is not a data row
    assert owner.get(job_url + "/rows/99").status_code == 404
    other_token = csrf_token(other.get("/staff/upload").text)
    assert fix(cells, client=other, csrf=other_token).status_code == 403
    assert other.get(job_url + "/rows/3").status_code == 403
    huge = fix({**cells, "ชื่อศูนย์": "ก" * (MAX_FIX_CHARS + 1)})
    assert huge.status_code == 413 and "characters" in huge.get_json()["description"]
    bulky = owner.post(f"{job_url}/rows/3", data={"csrf_token": token,
                                                  f"cell:{YEAR}": "1" * 300_000}, headers=JSON)
    assert bulky.status_code == 413
    empty = owner.post(f"{job_url}/rows/3", data={"csrf_token": token}, headers=JSON)
    assert empty.status_code == 400 and "cell" in empty.get_json()["description"]
    assert owner.get(job_url + "/status").get_json()["counts"]["error"] == 0

    # The file is as it was uploaded; the commit writes the fixed value, all or nothing.
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    committed = owner.post(job_url + "/commit", data={"mode": "all-or-nothing",
                                                      "csrf_token": token})
    assert committed.status_code == 303
    done = _settled(owner, job_url)
    assert done["status"] == "committed" and done["commit_counts"]["inserted"] == 2
    assert _budget_year(fresh, "LC-CM-2") == 2564
    # Too late to fix a committed upload.
    assert fix({**cells, YEAR: "2565"}).status_code == 409


def test_a_fix_is_checked_with_the_uploaders_scope_and_the_files_other_rows(
        staff_app, fresh: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The province scope and the duplicate-key check apply to a fixed row as to the file; the
    number of fixed rows is bounded."""
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    owner = staff_app.test_client()
    sign_in(owner, "cm-officer")
    source = tmp_path / "broken.csv"
    source.write_text(BROKEN, encoding="utf-8")
    job_url = _upload(owner, source)
    _settled(owner, job_url)
    token = csrf_token(owner.get(job_url).text)
    cells = {c["header"]: c["value"] for c in owner.get(job_url + "/rows/3").get_json()["cells"]}

    def fix(values: dict[str, str]) -> dict:
        data = {f"cell:{h}": v for h, v in values.items()} | {"csrf_token": token}
        answer = owner.post(f"{job_url}/rows/3", data=data, headers=JSON)
        assert answer.status_code == 200, answer.text
        return answer.get_json()["row"]

    bangkok = fix({**cells, YEAR: "2564", "ละติจูด": "13.8700", "ลองจิจูด": "100.6000"})
    assert bangkok["status"] == "error"
    assert any("outside this account's provinces" in e for e in bangkok["errors"])
    twin = fix({**cells, YEAR: "2564", "รหัสศูนย์": "LC-CM-1"})
    assert any("same as row 2" in e for e in twin["errors"])
    # A plain form post (no script) goes back to the report, at the row.
    plain = owner.post(f"{job_url}/rows/3", data={f"cell:{YEAR}": "2564", "csrf_token": token})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#row-3")
    # Past the most rows one upload may have fixed (1 here): 422, and row 3 may still change.
    monkeypatch.setattr(importer, "MAX_FIXED_ROWS", 1)
    one_more = owner.post(f"{job_url}/rows/2", data={f"cell:{YEAR}": "2565",
                                                     "csrf_token": token}, headers=JSON)
    assert one_more.status_code == 422 and "at most 1 rows" in one_more.get_json()["description"]
    assert fix({**cells, YEAR: "2565"})["status"] == "ok"


@pytest.mark.browser
def test_a_clerk_fixes_a_row_in_the_report_and_commits(browser, staff_app, fresh: Engine,
                                                        tmp_path: Path) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    source = tmp_path / "ศูนย์เรียนรู้.csv"
    source.write_text(BROKEN, encoding="utf-8")
    with served(staff_app) as server:
        context, page = _open_page(browser, viewport={"width": 1200, "height": 900})
        try:
            page.goto(server + "/staff/upload")
            page.fill("input[name=name]", "cm-officer")
            page.fill("input[name=password]", PASSWORD)
            page.click("form.staff-form button[type=submit]")
            page.select_option("select[name=layer]", LAYER)
            page.set_input_files("input[name=file]", str(source))
            page.click("form.upload-form button[type=submit]")
            page.wait_for_url("**/staff/upload/*")
            wait_ready(page, timeout=60_000)
            expect(page.locator("#count-error")).to_have_text("1")
            expect(page.locator("#report-map path.status-error")).to_have_count(1)
            expect(page.locator("#commit-all")).to_be_disabled()
            row = page.locator("#report-table tbody tr[data-row='3']")
            with new_view(page):
                row.get_by_role("button", name="แก้ไข").click()
            year = page.get_by_label(YEAR, exact=True)
            expect(year).to_have_value("สองห้าหกสี่")
            year.fill("2564")
            with new_view(page):
                year.press("Enter")  # the keyboard alone: the form submits on Enter
            expect(row).to_have_attribute("data-status", "ok")
            expect(page.locator("#report-map path.status-error")).to_have_count(0)
            expect(page.locator("#report-map path.status-ok")).to_have_count(2)
            expect(page.locator("#count-error")).to_have_text("0")
            expect(page.locator("#count-ok")).to_have_text("2")
            expect(page.locator("#commit-all")).to_be_enabled()
            page.click("#commit-all")
            page.wait_for_url("**/staff/upload/*")
            wait_ready(page, timeout=60_000)
            expect(page.locator("#job-status")).to_have_attribute("data-status", "committed")
            expect(page.locator("#commit-result")).to_contain_text("2 inserted")
            assert not page.js_errors and not page.csp_refusals
        finally:
            context.close()
    assert _budget_year(fresh, "LC-CM-2") == 2564
