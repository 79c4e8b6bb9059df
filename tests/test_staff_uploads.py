"""Uploads in the staff workspace, the import history and the admin pages (issue 11): a real
browser uploads a file, reads the report and its map and commits; HTTP tests for every bad input.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from gis import accounts
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.conftest import _open_page
from tests.pagestate import new_view, wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account, csrf_token, reset_workspace, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_uploads")
LAYER = "learning-centers"
HEADER = "รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"
# Chiang Mai (50): a good row and a bad number; Bangkok (10): outside a Chiang Mai officer's scope.
MIXED = HEADER + ("LC-CM-1,ศูนย์เรียนรู้สันทราย,2564,18.8500,99.0400\n"
                  "LC-CM-2,ศูนย์เรียนรู้แม่ริม,สองห้าหกสี่,18.9100,98.9400\n"
                  "LC-BKK-1,ศูนย์เรียนรู้บางเขน,2565,13.8700,100.6000\n")


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner_engine: Engine):
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def server(staff_app) -> Iterator[str]:
    with served(staff_app) as base:
        yield base


@pytest.fixture
def fresh(owner_engine: Engine) -> Engine:
    """No accounts, uploads or features of the layer before each test."""
    return reset_workspace(owner_engine, LAYER)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _upload(client, path: Path, layer: str = LAYER, *, name: str | None = None,
            token: str | None = None):
    form = client.get("/staff/upload")
    with path.open("rb") as fh:
        return client.post("/staff/upload", data={
            "layer": layer, "file": (fh, name or path.name),
            "csrf_token": token if token is not None else csrf_token(form.text)},
            content_type="multipart/form-data")


def _settled(client, job_url: str, deadline_s: float = 60) -> dict:
    """Polls the job until its worker has finished (a deadline, not a sleep: the loop ends as
    soon as the status changes)."""
    deadline = time.monotonic() + deadline_s
    while True:
        status = client.get(job_url + "/status").get_json()
        if status["status"] not in ("queued", "checking", "committing"):
            return status
        assert time.monotonic() < deadline, status


def _public_ids(client, province: str) -> set[str]:
    items = client.get(f"/api/collections/{LAYER}/items?province={province}").get_json()
    return {f["id"] for f in items["features"]}


# ---- the browser -----------------------------------------------------------------------------

def _sign_in_page(page: Page, server: str, name: str) -> None:
    page.goto(server + "/staff/upload")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.staff-form button[type=submit]")
    expect(page.locator("form.upload-form")).to_be_visible()


def _upload_in_page(page: Page, path: Path) -> None:
    page.select_option("select[name=layer]", LAYER)
    page.set_input_files("input[name=file]", str(path))
    page.click("form.upload-form button[type=submit]")
    page.wait_for_url("**/staff/upload/*")
    wait_ready(page, timeout=60_000)


@pytest.mark.browser
def test_officer_uploads_reads_report_and_map_and_commits(
        browser, server: str, staff_app, fresh: Engine, tmp_path: Path,
        settings: Settings) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    add_account(fresh, "bkk-officer", provinces=["10"], layers=[LAYER])
    path = _write(tmp_path, "ศูนย์เรียนรู้-เชียงใหม่.csv", MIXED)
    context, page = _open_page(browser, viewport={"width": 1200, "height": 900})
    try:
        _sign_in_page(page, server, "cm-officer")
        _upload_in_page(page, path)
        expect(page.locator("#job-status")).to_have_attribute("data-status", "checked")
        expect(page.locator("#count-error")).to_have_text("2")
        expect(page.locator("#count-ok")).to_have_text("1")
        # Errors first, with their reasons; the row outside Chiang Mai names its province.
        statuses = page.locator("#report-table tbody tr").evaluate_all(
            "(rows) => rows.map((r) => r.dataset.status)")
        assert statuses == ["error", "error", "ok"]
        table = page.locator("#report-table tbody").inner_text()
        assert "จังหวัดกรุงเทพมหานคร (10)" in table and "outside this account's provinces" in table
        assert "budget_year" in table or "ปีงบประมาณ" in table
        # The filter shows one status at a time.
        with new_view(page):
            page.click("[data-filter=ok]")
        expect(page.locator("#report-table tbody tr")).to_have_count(1)
        assert page.locator("#report-table tbody tr").get_attribute("data-status") == "ok"
        with new_view(page):
            page.click("[data-filter=error]")
        expect(page.locator("#report-table tbody tr.row-error")).to_have_count(2)
        expect(page.locator("#report-table tbody tr.row-ok")).to_have_count(0)
        # The map draws every row by status, in the status's colour.
        expect(page.locator("#report-map path.status-error")).to_have_count(2)
        expect(page.locator("#report-map path.status-ok")).to_have_count(1)
        assert page.locator("#report-map path.status-ok").get_attribute("fill") == "#15803d"
        assert page.locator("#report-map path.status-error").first.get_attribute(
            "fill") == "#b91c1c"
        # All or nothing is not offered with errors; the valid rows are committed.
        expect(page.locator("#commit-all")).to_be_disabled()
        page.click("#commit-valid")
        page.wait_for_url("**/staff/upload/*")
        wait_ready(page, timeout=60_000)
        expect(page.locator("#job-status")).to_have_attribute("data-status", "committed")
        expect(page.locator("#commit-result")).to_contain_text("1 inserted")
        assert not page.js_errors and not page.csp_refusals
    finally:
        context.close()

    public = staff_app.test_client()
    assert _public_ids(public, "50") == {"LC-CM-1"}
    assert _public_ids(public, "10") == set()  # the Bangkok row was not the officer's

    # Another province's officer gets the Chiang Mai rows as errors naming Chiang Mai.
    context, page = _open_page(browser, viewport={"width": 1200, "height": 900})
    try:
        _sign_in_page(page, server, "bkk-officer")
        _upload_in_page(page, path)
        with new_view(page):
            page.click("[data-filter=error]")
        errors = page.locator("#report-table tbody").inner_text()
        assert "LC-CM-1" in errors and "province เชียงใหม่ (50), outside" in errors
        expect(page.locator("#count-ok")).to_have_text("1")
    finally:
        context.close()

    # The history shows who imported what, and the committed import.
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    history = client.get("/staff/imports")
    assert history.status_code == 200
    assert "cm-officer" in history.text and "ศูนย์เรียนรู้-เชียงใหม่.csv" in history.text
    assert str(settings.state_dir) not in history.text  # no server path (issue 24)
    with fresh.connect() as conn:
        committed = conn.execute(text(
            "SELECT i.id, a.name, i.inserted FROM layer_imports i JOIN accounts a "
            "ON a.id = i.account_id WHERE i.committed")).all()
    assert [(name, inserted) for _, name, inserted in committed] == [("cm-officer", 1)]
    report = client.get(f"/staff/imports/{committed[0][0]}/report.csv")
    assert report.status_code == 200 and "LC-BKK-1" in report.text


@pytest.mark.browser
def test_upload_page_and_report_fit_a_phone(browser, server: str, staff_app, fresh: Engine,
                                            tmp_path: Path) -> None:
    """Issue 24: the upload page was 718 px wide on a 390 px phone (sideways scrolling)."""
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    path = _write(tmp_path, "ศูนย์เรียนรู้-เชียงใหม่.csv", MIXED)
    context, page = _open_page(browser, viewport={"width": 390, "height": 844},
                               is_mobile=True, has_touch=True)
    widest = "() => document.documentElement.scrollWidth"
    try:
        _sign_in_page(page, server, "cm-officer")
        assert page.evaluate(widest) <= 390, "upload form"
        _upload_in_page(page, path)
        expect(page.locator("#count-error")).to_have_text("2")
        assert page.evaluate(widest) <= 390, "report"
    finally:
        context.close()


# ---- HTTP: bad input ------------------------------------------------------------------------

def test_wrong_type_missing_file_and_csrf_change_nothing(staff_app, fresh: Engine,
                                                          tmp_path: Path) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    pdf = _upload(client, _write(tmp_path, "รายงาน.pdf", b"%PDF-1.4 not a table"))
    assert pdf.status_code == 400
    assert ".pdf" in pdf.text and "รายงาน.pdf" in pdf.text and "XLSX" in pdf.text
    misnamed = _upload(client, _write(tmp_path, "centres.xlsx", MIXED))
    assert misnamed.status_code == 400 and "named .xlsx but its content is csv" in misnamed.text
    old_excel = _upload(client, _write(tmp_path, "old.csv", b"\xd0\xcf\x11\xe0" + b"\0" * 600))
    assert old_excel.status_code == 400 and ".xls" in old_excel.text
    good = _write(tmp_path, "good.csv", MIXED)
    for token in ("", "forged"):
        refused = _upload(client, good, token=token)
        assert refused.status_code == 400 and "reload the page" in refused.text
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM upload_jobs")).scalar_one() == 0


def test_file_over_the_size_limit_is_a_clear_413(settings: Settings, cluster: ClusterInfo,
                                                 fresh: Engine, tmp_path: Path) -> None:
    small = create_app(dataclasses.replace(settings, max_upload_mb=1),
                       database_url=cluster.url(database=DB, role="app"))
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    client = small.test_client()
    sign_in(client, "cm-officer")
    big = _write(tmp_path, "big.csv", MIXED + "x" * (1024 * 1024 + 10))
    answer = _upload(client, big)
    assert answer.status_code == 413
    assert "1 MB" in answer.text and "split it" in answer.text and "แบ่งไฟล์" in answer.text
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM upload_jobs")).scalar_one() == 0


def test_layer_out_of_scope_and_unknown_layer(staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    page = client.get("/staff/upload")
    assert 'value="learning-centers"' in page.text and 'value="khok-nong-na"' not in page.text
    good = _write(tmp_path, "good.csv", MIXED)
    other = _upload(client, good, layer="khok-nong-na")
    assert other.status_code == 403 and "khok-nong-na" in other.text
    unknown = _upload(client, good, layer="<script>")
    assert unknown.status_code == 400 and "<script>" not in unknown.text
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM upload_jobs")).scalar_one() == 0


def test_only_the_uploader_commits_and_all_or_nothing_needs_no_errors(
        staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    add_account(fresh, "cm-other", provinces=["50"], layers=[LAYER])
    owner, other = staff_app.test_client(), staff_app.test_client()
    sign_in(owner, "cm-officer")
    sign_in(other, "cm-other")
    answer = _upload(owner, _write(tmp_path, "mixed.csv", MIXED))
    assert answer.status_code == 303
    job_url = answer.headers["Location"]
    assert _settled(owner, job_url)["status"] == "checked"

    page = other.get(job_url)
    assert page.status_code == 403
    form = owner.get(job_url)
    stolen = other.post(job_url + "/commit", data={"mode": "valid-only",
                                                   "csrf_token": csrf_token(form.text)})
    assert stolen.status_code in (400, 403)  # the other's session has its own CSRF token
    own_token = csrf_token(other.get("/staff/upload").text)
    stolen = other.post(job_url + "/commit", data={"mode": "valid-only", "csrf_token": own_token})
    assert stolen.status_code == 403 and "another account" in stolen.text
    all_or_nothing = owner.post(job_url + "/commit", data={
        "mode": "all-or-nothing", "csrf_token": csrf_token(form.text)})
    assert all_or_nothing.status_code == 409 and "valid rows only" in all_or_nothing.text
    assert owner.get(job_url + "/status").get_json()["status"] == "checked"
    assert _public_ids(staff_app.test_client(), "50") == set()

    # Cancel: the file is gone and the job cannot be committed any more.
    cancelled = owner.post(job_url + "/cancel", data={"csrf_token": csrf_token(form.text)})
    assert cancelled.status_code == 303
    late = owner.post(job_url + "/commit", data={"mode": "valid-only",
                                                 "csrf_token": csrf_token(form.text)})
    assert late.status_code == 409 and "cancelled" in late.text


def test_all_or_nothing_commit_and_formula_safe_report(staff_app, fresh: Engine,
                                                      tmp_path: Path) -> None:
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    clean = HEADER + ("=HYPERLINK(1),ศูนย์หนึ่ง,2564,18.8500,99.0400\n"
                      "LC-CM-9,ศูนย์สอง,2565,18.7000,98.9000\n")
    job_url = _upload(client, _write(tmp_path, "clean.csv", clean)).headers["Location"]
    status = _settled(client, job_url)
    assert status["counts"]["error"] == 0, status
    form = client.get(job_url)
    done = client.post(job_url + "/commit", data={"mode": "all-or-nothing",
                                                  "csrf_token": csrf_token(form.text)})
    assert done.status_code == 303
    status = _settled(client, job_url)
    assert status["status"] == "committed" and status["commit_counts"]["inserted"] == 2
    assert _public_ids(client, "50") == {"=HYPERLINK(1)", "LC-CM-9"}
    report = client.get(job_url + "/report.csv?report=commit").text
    assert "'=HYPERLINK(1)" in report and "\n=HYPERLINK" not in report.replace(",=", ",")


# ---- administration --------------------------------------------------------------------------

def test_admin_pages(staff_app, fresh: Engine) -> None:
    add_account(fresh, "boss", role="admin")
    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    officer = staff_app.test_client()
    sign_in(officer, "cm-officer")
    for path in ("/staff/admin/accounts", "/staff/admin/accounts/boss", "/staff/admin/layers"):
        assert officer.get(path).status_code == 403, path
    token = csrf_token(officer.get("/staff/upload").text)
    assert officer.post("/staff/admin/accounts/boss/disabled",
                        data={"disabled": "1", "csrf_token": token}).status_code == 403
    assert not accounts.require_account(fresh, "boss").disabled

    admin = staff_app.test_client()
    sign_in(admin, "boss")
    listing = admin.get("/staff/admin/accounts")
    assert listing.status_code == 200 and "cm-officer" in listing.text
    token = csrf_token(listing.text)
    added = admin.post("/staff/admin/accounts", data={
        "name": "KKN-Office", "display_name": "สพจ.ขอนแก่น", "role": "editor",
        "provinces": ["40"], "layers": [LAYER, "khok-nong-na"], "approve": "1",
        "password": "a long enough secret", "again": "a long enough secret",
        "csrf_token": token})
    assert added.status_code == 303
    kkn = accounts.require_account(fresh, "kkn-office")
    assert kkn.provinces == {"40"} and kkn.layers == {LAYER, "khok-nong-na"}
    assert kkn.can_approve and not kkn.can_personal and kkn.display_name == "สพจ.ขอนแก่น"
    bad = admin.post("/staff/admin/accounts", data={
        "name": "x2", "role": "editor", "provinces": ["99"], "password": PASSWORD,
        "again": PASSWORD, "csrf_token": token})
    assert bad.status_code == 400 and "99" in bad.text
    taken = admin.post("/staff/admin/accounts", data={
        "name": "kkn-office", "role": "editor", "password": PASSWORD, "again": PASSWORD,
        "csrf_token": token})
    assert taken.status_code == 409 and "already exists" in taken.text

    # Tokens: shown once, work, and stop when revoked.
    issued = admin.post("/staff/admin/accounts/kkn-office/tokens",
                        data={"label": "sync", "csrf_token": token})
    assert issued.status_code == 200
    shown = issued.text.split('id="new-token">')[1].split("<")[0]
    assert accounts.account_for_token(fresh, shown).name == "kkn-office"
    again = admin.get("/staff/admin/accounts/kkn-office")
    assert shown not in again.text and "sync" in again.text
    (token_id,) = [t["id"] for t in accounts.list_tokens(fresh, "kkn-office")]
    assert admin.post(f"/staff/admin/accounts/kkn-office/tokens/{token_id}/revoke",
                      data={"csrf_token": token}).status_code == 303
    assert accounts.account_for_token(fresh, shown) is None

    # Reset a password, disable and enable; an admin cannot disable themself.
    kkn_client = staff_app.test_client()
    sign_in(kkn_client, "kkn-office", "a long enough secret")
    assert admin.post("/staff/admin/accounts/kkn-office/password", data={
        "new": "reset by the admin", "again": "reset by the admin",
        "csrf_token": token}).status_code == 303
    assert kkn_client.get("/staff/").status_code == 302  # their session ended
    assert sign_in(staff_app.test_client(), "kkn-office", "reset by the admin"
                   ).status_code == 302
    short = admin.post("/staff/admin/accounts/kkn-office/password", data={
        "new": "short", "again": "short", "csrf_token": token})
    assert short.status_code == 400 and "10" in short.text
    assert admin.post("/staff/admin/accounts/kkn-office/disabled",
                      data={"disabled": "1", "csrf_token": token}).status_code == 303
    assert accounts.require_account(fresh, "kkn-office").disabled
    assert admin.post("/staff/admin/accounts/kkn-office/disabled",
                      data={"disabled": "0", "csrf_token": token}).status_code == 303
    assert not accounts.require_account(fresh, "kkn-office").disabled
    assert admin.post("/staff/admin/accounts/boss/disabled",
                      data={"disabled": "1", "csrf_token": token}).status_code == 403

    # A layer's approval setting.
    assert admin.post("/staff/admin/layers", data={
        "layer": "khok-nong-na", "requires_approval": "1", "csrf_token": token}
        ).status_code == 303
    assert accounts.layer_approvals(fresh) == {"khok-nong-na": True}
    page = admin.get("/staff/admin/layers")
    assert 'data-layer="khok-nong-na"' in page.text
    missing = admin.post("/staff/admin/accounts", data={"name": "y2", "role": "editor",
                                                        "password": PASSWORD,
                                                        "again": PASSWORD})
    assert missing.status_code == 400 and "reload the page" in missing.text


# ---- formats, progress, stale jobs ----------------------------------------------------------

def test_thai_windows_csv_and_xlsx_upload(staff_app, fresh: Engine, tmp_path: Path) -> None:
    """The upload reads what the importer reads: a TIS-620/cp874 CSV and an XLSX workbook."""
    from openpyxl import Workbook

    add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    cp874 = _write(tmp_path, "windows.csv", MIXED.encode("cp874"))
    status = _settled(client, _upload(client, cp874).headers["Location"])
    assert status["encoding"] in ("cp874", "tis-620") and status["counts"]["total"] == 3
    book = Workbook()
    sheet = book.active
    for line in MIXED.strip().split("\n"):
        sheet.append(line.split(","))
    book.save(tmp_path / "centres.xlsx")
    status = _settled(client, _upload(client, tmp_path / "centres.xlsx").headers["Location"])
    assert status["counts"] == {"total": 3, "ok": 1, "warning": 0, "error": 2,
                                "inserted": 1, "updated": 0}, status


def test_progress_is_reported_while_others_are_answered(staff_app, fresh: Engine,
                                                        tmp_path: Path) -> None:
    """A 20,000-row file is checked in the background: polls see its rows counted up while
    other requests are answered, and it ends checked with every row reported."""
    add_account(fresh, "boss", role="admin")
    client, other = staff_app.test_client(), staff_app.test_client()
    sign_in(client, "boss")
    lines = [HEADER]
    for i in range(20_000):
        lines.append(f"LC-{i:05d},ศูนย์ {i},2564,{16.0 + (i % 100) * 0.03:.4f},"
                     f"{100.0 + (i // 100) * 0.01:.4f}\n")
    path = _write(tmp_path, "big.csv", "".join(lines))
    started = time.monotonic()
    job_url = _upload(client, path).headers["Location"]
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 300
    while True:
        status = client.get(job_url + "/status").get_json()
        seen.append((status["status"], status["rows_done"]))
        if status["status"] not in ("queued", "checking"):
            break
        assert other.get("/api/health").status_code == 200  # nobody waits for the check
        assert time.monotonic() < deadline
    took = time.monotonic() - started
    assert status["status"] == "checked" and status["counts"]["total"] == 20_000, status
    assert status["rows_estimate"] == 20_000
    partial = [n for s, n in seen if s == "checking" and 0 < n < 20_000]
    assert partial, seen[:5]  # progress came in between, batch by batch
    started = time.monotonic()
    rows = client.get(job_url + "/rows").get_json()
    points = client.get(job_url + "/points").get_json()["points"]
    served = time.monotonic() - started
    assert rows["total"] == 20_000 and len(rows["rows"]) == 500 and len(points) == 20_000
    print(f"20,000 rows checked in {took:.1f} s; {len(seen)} polls answered meanwhile; "
          f"first report page and all points served in {served:.2f} s")


def test_a_job_whose_process_died_shows_failed(staff_app, fresh: Engine) -> None:
    account = add_account(fresh, "cm-officer", provinces=["50"], layers=[LAYER])
    with fresh.begin() as conn:
        job_id = conn.execute(text("""
            INSERT INTO upload_jobs (account_id, layer, file_name, stored_name, file_kind,
                                     size_bytes, status, updated_at)
            VALUES (:a, :l, 'x.csv', 'gone/x.csv', 'csv', 1, 'checking',
                    now() - interval '20 minutes') RETURNING id
        """), {"a": account.id, "l": LAYER}).scalar_one()
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    assert client.get(f"/staff/upload/{job_id}/status").get_json()["status"] == "failed"
    form = client.get(f"/staff/upload/{job_id}")
    cancelled = client.post(f"/staff/upload/{job_id}/cancel",
                            data={"csrf_token": csrf_token(form.text)})
    assert cancelled.status_code == 303
