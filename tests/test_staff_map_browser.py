"""Edits on the map, history and review in a real browser (issue 11): an officer edits one
feature and moves another and sees both in the history; an officer of another province can
neither see nor change them; a pending change reaches the public API only once approved; two
people saving the same feature get one conflict and lose no write. Real PostGIS, real Chromium,
no time waits: every step waits for the data that must appear."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from gis import accounts, changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.conftest import CSP_LISTENER
from tests.pagestate import wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app
from web.staff_features import thai_time

pytestmark = pytest.mark.browser

DB = db_name("cddgis_test_staff_map")
LC = LAYERS["learning-centers"]
HEADER = ["รหัสศูนย์", "ชื่อศูนย์", "ปีที่ได้รับงบประมาณ (พ.ศ.)", "พร้อมเป็นแหล่งเรียนรู้", "โทรศัพท์",
          "ละติจูด", "ลองจิจูด"]
# Chiang Mai city (province 50) and Lamphun town (51).
ROWS = [
    ["LC-CM-EDIT", "ศูนย์เรียนรู้ช้างเผือก", 2564, "ใช่", "053111111", 18.7950, 98.9850],
    ["LC-CM-MOVE", "ศูนย์เรียนรู้ท่าแพ", 2564, "ใช่", "053222222", 18.7870, 98.9930],
    ["LC-CM-BOTH", "ศูนย์เรียนรู้ศรีภูมิ", 2565, "ใช่", "053333333", 18.7960, 98.9900],
    ["LC-CM-WAIT", "ศูนย์เรียนรู้สุเทพ", 2565, "ไม่ใช่", "053444444", 18.8030, 98.9560],
    ["LC-CM-GONE", "ศูนย์เรียนรู้หายยา", 2563, "ใช่", "053555555", 18.7780, 98.9830],
    ["LC-CM-BACK", "ศูนย์เรียนรู้วัดเกต", 2564, "ใช่", "053777777", 18.7900, 99.0050],
    ["LC-CM-NOTE", "ศูนย์เรียนรู้ป่าแดด", 2564, "ใช่", "053888888", 18.7600, 98.9800],
    ["LC-LP-OWN", "ศูนย์เรียนรู้ลำพูน", 2564, "ใช่", "053666666", 18.5790, 99.0087],
]
KNN = LAYERS["khok-nong-na"]
PLOT_HEADER = ["รหัสแปลง", "ขนาดแปลง (ไร่)", "ชื่อเจ้าของแปลง", "ระดับโมเดล", "ปีงบประมาณ", "ละติจูด",
               "ลองจิจูด"]
PLOT = ["KNN-CM-1", 3, "นางสาวมาลี ใจงาม", "HLM", 2564, 18.8100, 98.9700]
LAMPHUN = (99.0087, 18.5790)


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str], tmp_path_factory: pytest.TempPathFactory,
                 ) -> Engine:
    engine = engine_for(copy_database(DB))
    path: Path = tmp_path_factory.mktemp("staffmap") / "centers.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    report = import_file(engine, LC, path)
    assert report.committed, report.summary()
    plots = path.with_name("plots.csv")
    with plots.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([PLOT_HEADER, PLOT])
    assert import_file(engine, KNN, plots).committed
    add_account(engine, "cm-officer", provinces=["50"], layers=[LC.id])
    add_account(engine, "cm-second", provinces=["50"], layers=[LC.id])
    add_account(engine, "lp-officer", provinces=["51"], layers=[LC.id])
    add_account(engine, "cm-approver", provinces=["50"], layers=[LC.id], can_approve=True)
    add_account(engine, "cm-plots", provinces=["50"], layers=[KNN.id])
    add_account(engine, "cm-plots-pdpa", provinces=["50"], layers=[KNN.id], can_personal=True)
    return engine


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner_engine: Engine) -> Any:
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def base(staff_app: Any) -> Iterator[str]:
    with served(staff_app) as url:
        yield url


def feature_id(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM layer_features WHERE key = :k"),
                                {"k": key}).scalar_one())


def properties(engine: Engine, key: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT properties FROM layer_features WHERE key = :k"),
                                 {"k": key}).scalar_one())


@pytest.fixture
def open_as(browser: Any, base: str) -> Iterator[Callable[[str], Page]]:
    """Signed-in pages in contexts of their own (one per person), closed after the test."""
    contexts, pages = [], []
    refusals: list[str] = []

    def open_page(name: str) -> Page:
        context = browser.new_context(locale="th-TH", viewport={"width": 1280, "height": 860})
        contexts.append(context)
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: refusals.append(msg.text)
                if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        page.js_errors = errors  # type: ignore[attr-defined]
        pages.append(page)
        page.goto(base + "/staff/sign-in")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.staff-form button[type=submit]")
        expect(page.locator("[data-account]")).to_have_attribute("data-account", name)
        return page

    yield open_page
    for page in pages:
        assert page.js_errors == []  # type: ignore[attr-defined]
        if not page.is_closed():
            assert page.evaluate("() => window.__cspViolations") == []
    assert refusals == []
    for context in contexts:
        context.close()


def open_feature(page: Page, base: str, key: str, engine: Engine) -> None:
    page.goto(f"{base}/staff/layers/{LC.id}/{feature_id(engine, key)}")
    expect(page.locator("#feature-form")).to_be_visible()
    wait_ready(page)


def save(page: Page) -> None:
    page.click("#save")


def test_officer_edits_one_feature_moves_another_and_sees_both(
        open_as: Callable[[str], Page], base: str, owner_engine: Engine) -> None:
    page = open_as("cm-officer")
    # The layer's page lists the officer's points and draws them.
    page.goto(f"{base}/staff/layers/{LC.id}")
    wait_ready(page)
    expect(page.locator("#feature-list")).to_contain_text("ศูนย์เรียนรู้ช้างเผือก")
    page.click("#feature-list a:text('ศูนย์เรียนรู้ช้างเผือก')")
    expect(page.locator("#feature-form")).to_be_visible()
    wait_ready(page)

    # A bad year: the server's message beside the field, what was typed kept.
    page.fill("#f-name", "ศูนย์เรียนรู้ช้างเผือก (ปรับปรุง)")
    page.fill("#f-budget_year", "สองพัน")
    save(page)
    problem = page.locator(".field.has-problem #f-budget_year-problem")
    expect(problem).to_be_visible()
    expect(page.locator("#f-name")).to_have_value("ศูนย์เรียนรู้ช้างเผือก (ปรับปรุง)")
    expect(page.locator("#f-budget_year")).to_have_value("สองพัน")
    assert properties(owner_engine, "LC-CM-EDIT")["name"] == "ศูนย์เรียนรู้ช้างเผือก"

    page.fill("#f-budget_year", "2566")
    save(page)
    expect(page.locator("#saved")).to_contain_text("บันทึกแล้ว")
    edit = page.locator("#history li[data-kind=update]").first
    expect(edit).to_contain_text("cm-officer")
    expect(edit).to_contain_text("ศูนย์เรียนรู้ช้างเผือก (ปรับปรุง)")
    expect(edit).to_contain_text("2566")
    expect(edit.locator("time")).to_contain_text("25")  # a Buddhist-Era year: 25xx
    assert properties(owner_engine, "LC-CM-EDIT")["budget_year"] == 2566

    # Another feature: drag its marker, save; the move is in its history, re-located.
    open_feature(page, base, "LC-CM-MOVE", owner_engine)
    pin = page.locator(".staff-pin")
    box = pin.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y - 60, steps=8)
    page.mouse.up()
    expect(page.locator("#moved")).to_be_visible()
    moved_to = float(page.input_value("#lon"))
    save(page)
    expect(page.locator("#saved")).to_contain_text("บันทึกแล้ว")
    expect(page.locator("#place")).to_contain_text("เชียงใหม่")
    move = page.locator("#history li[data-kind=move]").first
    expect(move).to_contain_text("ตำแหน่ง")
    expect(move).to_contain_text(f"{moved_to:.5f}")
    with owner_engine.connect() as conn:
        lon = conn.execute(text("SELECT ST_X(geom) FROM layer_features WHERE key='LC-CM-MOVE'")
                           ).scalar_one()
    assert abs(lon - moved_to) < 1e-5 and lon > 98.9935

    # A move into another province is refused with its name; the form keeps the input.
    page.evaluate("([lon, lat]) => { document.getElementById('lon').value = lon; "
                  "document.getElementById('lat').value = lat; }", list(LAMPHUN))
    page.fill("#f-phone", "053999999")
    save(page)
    expect(page.locator("#save-message")).to_contain_text("ลำพูน")
    expect(page.locator("#f-phone")).to_have_value("053999999")
    assert properties(owner_engine, "LC-CM-MOVE")["phone"] == "053222222"


def test_officer_of_another_province_cannot_see_or_change(
        open_as: Callable[[str], Page], base: str, owner_engine: Engine) -> None:
    page = open_as("lp-officer")
    page.goto(f"{base}/staff/layers/{LC.id}")
    wait_ready(page)
    expect(page.locator("#feature-list")).to_contain_text("ศูนย์เรียนรู้ลำพูน")
    expect(page.locator("#feature-list")).not_to_contain_text("ช้างเผือก")
    listed = page.request.get(f"{base}/staff/layers/{LC.id}/points.json"
                              "?bbox=98.9,18.7,99.1,18.9").json()
    assert [f["key"] for f in listed["features"]] == []

    target = feature_id(owner_engine, "LC-CM-EDIT")
    answer = page.goto(f"{base}/staff/layers/{LC.id}/{target}")
    assert answer is not None and answer.status == 403
    expect(page.locator("body")).to_contain_text("เชียงใหม่")
    before = properties(owner_engine, "LC-CM-EDIT")

    # A forged save with a valid token of this session changes nothing.
    page.goto(f"{base}/staff/layers/{LC.id}")
    token = page.locator("input[name=csrf_token]").first.input_value()
    for path in ("", "/retire"):
        refused = page.request.post(f"{base}/staff/layers/{LC.id}/{target}{path}", form={
            "csrf_token": token, "name": "hijacked", "version": "1"})
        assert refused.status == 403
    assert properties(owner_engine, "LC-CM-EDIT") == before

    # The session ends (signed out elsewhere): the list says so instead of failing silently.
    page.goto(f"{base}/staff/layers/{LC.id}")
    wait_ready(page)
    page.context.clear_cookies()
    page.fill("#q", "ลำพูน")
    expect(page.locator("#status")).to_contain_text("ลงชื่อเข้าใช้อีกครั้ง")


@pytest.fixture
def approval(owner_engine: Engine) -> Iterator[None]:
    with owner_engine.begin() as conn:
        conn.execute(text("""INSERT INTO layer_settings (layer, requires_approval)
                             VALUES (:l, true) ON CONFLICT (layer)
                             DO UPDATE SET requires_approval = true"""), {"l": LC.id})
    yield
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE layer_settings SET requires_approval = false WHERE layer = :l"),
                     {"l": LC.id})


def test_approval_publishes_a_pending_change_only_then(
        open_as: Callable[[str], Page], base: str, owner_engine: Engine, approval: None) -> None:
    officer = open_as("cm-officer")
    open_feature(officer, base, "LC-CM-WAIT", owner_engine)
    officer.fill("#f-name", "ศูนย์เรียนรู้ดอยสุเทพ")
    # A move too (what dragging the marker writes): while it waits, the proposed place is drawn
    # beside the live one instead of the marker jumping back (issue 24, item 7).
    live = officer.evaluate("() => window.CDDGIS.staff")
    officer.evaluate("([lon, lat]) => { document.getElementById('lon').value = lon;"
                     " document.getElementById('lat').value = lat; }",
                     [f"{float(live['lon']) + 0.01:.6f}", f"{float(live['lat']):.6f}"])
    save(officer)
    expect(officer.locator("#saved")).to_contain_text("รออนุมัติ")
    expect(officer.locator("#pending-lock")).to_be_visible()
    expect(officer.locator("path.proposed-place")).to_have_count(1)
    expect(officer.locator("#moved")).to_contain_text("รออนุมัติ")
    public = f"{base}/api/collections/{LC.id}/items/LC-CM-WAIT"
    assert officer.request.get(public).json()["properties"]["name"] == "ศูนย์เรียนรู้สุเทพ"

    approver = open_as("cm-approver")
    approver.goto(f"{base}/staff/review")
    wait_ready(approver)
    # The legend's dots are the map's: the old place's style and each layer's colour.
    legend = approver.locator("#review-legend [data-key] circle").evaluate_all(
        "(cs) => cs.map((c) => c.getAttribute('fill').toLowerCase())")
    drawn = approver.locator("path.review-old, path.review-new").evaluate_all(
        "(ps) => ps.map((p) => p.getAttribute('fill').toLowerCase())")
    assert drawn and set(drawn) <= set(legend), (drawn, legend)
    change = approver.locator("#review-list li", has_text="LC-CM-WAIT")
    expect(change).to_contain_text("ศูนย์เรียนรู้ดอยสุเทพ")
    expect(change.locator("td.before").first).to_contain_text("ศูนย์เรียนรู้สุเทพ")
    change.locator("input[name=note]").fill("ตรวจแล้ว")
    change.locator("button.approve").click()
    expect(approver.locator("#decided")).to_contain_text("อนุมัติ")
    expect(approver.locator("#review-list li", has_text="LC-CM-WAIT")).to_have_count(0)
    assert officer.request.get(public).json()["properties"]["name"] == "ศูนย์เรียนรู้ดอยสุเทพ"
    officer.reload()
    decided = officer.locator("#history li").first
    expect(decided).to_contain_text("อนุมัติโดย")
    expect(decided).to_contain_text("cm-approver")
    expect(decided).to_contain_text("ตรวจแล้ว")
    expect(officer.locator("#pending-lock")).to_have_count(0)


def test_two_people_saving_the_same_feature_one_conflict_no_lost_write(
        open_as: Callable[[str], Page], base: str, owner_engine: Engine) -> None:
    first, second = open_as("cm-officer"), open_as("cm-second")
    open_feature(first, base, "LC-CM-BOTH", owner_engine)
    open_feature(second, base, "LC-CM-BOTH", owner_engine)
    first.fill("#f-name", "ศูนย์เรียนรู้ศรีภูมิ (ชื่อใหม่)")
    second.fill("#f-phone", "0812345678")
    save(first)
    expect(first.locator("#saved")).to_contain_text("บันทึกแล้ว")

    save(second)
    expect(second.locator("#save-message")).to_contain_text(
        "ไม่สามารถบันทึก: มีผู้แก้ไขก่อนหน้า")
    expect(second.locator("#conflict")).to_contain_text("ศูนย์เรียนรู้ศรีภูมิ (ชื่อใหม่)")
    expect(second.locator("#f-phone")).to_have_value("0812345678")  # nothing typed is lost
    expect(second.locator("#f-name")).to_have_value("ศูนย์เรียนรู้ศรีภูมิ (ชื่อใหม่)")
    assert properties(owner_engine, "LC-CM-BOTH")["phone"] == "053333333"

    save(second)
    expect(second.locator("#saved")).to_contain_text("บันทึกแล้ว")
    saved = properties(owner_engine, "LC-CM-BOTH")
    assert saved["name"] == "ศูนย์เรียนรู้ศรีภูมิ (ชื่อใหม่)" and saved["phone"] == "0812345678"
    expect(second.locator("#history li[data-kind=update]")).to_have_count(2)


def test_add_by_click_retire_and_restore(open_as: Callable[[str], Page], base: str,
                                         owner_engine: Engine) -> None:
    page = open_as("cm-officer")
    page.goto(f"{base}/staff/layers/{LC.id}")
    wait_ready(page)
    page.click("#add-mode")
    box = page.locator(".mapwrap .folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#feature-form")).to_be_visible()
    assert page.input_value("#lon") and page.input_value("#lat")
    page.fill("#f-center_id", "LC-CM-NEW")
    page.fill("#f-name", "ศูนย์เรียนรู้ใหม่ <b>ทดลอง</b>")
    save(page)
    expect(page.locator("#saved")).to_contain_text("บันทึกแล้ว")
    expect(page.locator("h1")).to_contain_text("ศูนย์เรียนรู้ใหม่ <b>ทดลอง</b>")  # shown as text

    open_feature(page, base, "LC-CM-GONE", owner_engine)
    gone = feature_id(owner_engine, "LC-CM-GONE")
    page.click("#retire")
    expect(page.locator("#retired")).to_be_visible()
    assert page.request.get(f"{base}/api/collections/{LC.id}/items/LC-CM-GONE").status == 404
    page.goto(f"{base}/staff/layers/{LC.id}")
    expect(page.locator("details.retired")).to_contain_text("ศูนย์เรียนรู้หายยา")
    page.click("details.retired a:text('ศูนย์เรียนรู้หายยา')")
    page.click("#restore")
    expect(page.locator("#saved")).to_contain_text("นำกลับ")
    assert feature_id(owner_engine, "LC-CM-GONE") == gone
    kinds = page.locator("#history li").evaluate_all("(items) => items.map((i) => i.dataset.kind)")
    assert kinds[:2] == ["restore", "retire"]


def test_restore_an_earlier_version_is_a_new_change(
        open_as: Callable[[str], Page], base: str, owner_engine: Engine) -> None:
    page = open_as("cm-officer")
    open_feature(page, base, "LC-CM-BACK", owner_engine)
    earlier = page.locator("#history li").count()  # the import that made it
    page.fill("#f-name", "ศูนย์เรียนรู้วัดเกตการาม")
    save(page)
    expect(page.locator("#history li")).to_have_count(earlier + 1)
    page.fill("#f-name", "ชื่อที่พิมพ์ผิด")
    save(page)
    expect(page.locator("#history li")).to_have_count(earlier + 2)
    # The version before the typo comes back, as a third change; the typo stays in the history.
    page.locator("#history li").first.locator("button.revert").click()
    expect(page.locator("#history li")).to_have_count(earlier + 3)
    expect(page.locator("#history li").first).to_have_attribute("data-kind", "revert")
    assert properties(owner_engine, "LC-CM-BACK")["name"] == "ศูนย์เรียนรู้วัดเกตการาม"
    expect(page.locator("#f-name")).to_have_value("ศูนย์เรียนรู้วัดเกตการาม")


def test_personal_fields_only_with_the_right_and_every_view_logged(
        staff_app: Any, owner_engine: Engine) -> None:
    plot = feature_id(owner_engine, "KNN-CM-1")
    url = f"/staff/layers/{KNN.id}/{plot}"
    with owner_engine.connect() as conn:
        views_before = conn.execute(text("SELECT count(*) FROM personal_data_views")).scalar_one()
    plain = staff_app.test_client()
    anonymous = plain.get(url)
    assert anonymous.status_code == 302 and "/staff/sign-in" in anonymous.location
    sign_in(plain, "cm-plots")
    page = plain.get(url)
    assert page.status_code == 200 and "KNN-CM-1" in page.text
    assert "มาลี" not in page.text and 'name="owner_name"' not in page.text
    allowed = staff_app.test_client()
    sign_in(allowed, "cm-plots-pdpa")
    page = allowed.get(url)
    assert page.status_code == 200 and "นางสาวมาลี ใจงาม" in page.text
    assert 'name="owner_name"' in page.text
    with owner_engine.connect() as conn:
        logged = conn.execute(text("""
            SELECT a.name, v.layer, v.feature_ids FROM personal_data_views v
            JOIN accounts a ON a.id = v.account_id ORDER BY v.id""")).all()
    assert len(logged) > views_before
    assert ("cm-plots-pdpa", KNN.id, [plot]) in [tuple(r) for r in logged]
    assert all(r[0] == "cm-plots-pdpa" for r in logged)


def test_times_are_bangkok_time_in_buddhist_era_years() -> None:
    from datetime import UTC, datetime

    assert thai_time(datetime(2026, 11, 25, 10, 20, tzinfo=UTC)) == "25 พ.ย. 2569 17:20 น."
    assert thai_time("2026-12-31T18:30:00+00:00") == "1 ม.ค. 2570 01:30 น."


def test_control_characters_in_a_form_are_the_fields_problem_not_an_outage(
        staff_app: Any, owner_engine: Engine) -> None:
    client = staff_app.test_client()
    sign_in(client, "cm-officer")
    target = feature_id(owner_engine, "LC-CM-BACK")
    page = client.get(f"/staff/layers/{LC.id}/{target}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version is not None
    before = properties(owner_engine, "LC-CM-BACK")
    answer = client.post(f"/staff/layers/{LC.id}/{target}", data={
        "csrf_token": csrf_token(page.text), "version": version.group(1),
        "center_id": "LC-CM-BACK", "name": "ศูนย์\x00เรียนรู้"})
    assert answer.status_code == 422
    assert 'id="f-name-problem"' in answer.text and "control" in answer.text
    assert properties(owner_engine, "LC-CM-BACK") == before

    # A note with NUL: refused, the pending change stays pending.
    officer = accounts.find_account(owner_engine, "cm-officer")
    assert officer is not None
    changes.set_requires_approval(owner_engine, LC.id, True)
    try:
        noted = feature_id(owner_engine, "LC-CM-NOTE")
        waiting = changes.update_feature(owner_engine, officer, LC, noted, {"phone": "0811111111"},
                                         expected_version=1)
    finally:
        changes.set_requires_approval(owner_engine, LC.id, False)
    assert waiting.status == "pending"
    approver = staff_app.test_client()
    sign_in(approver, "cm-approver")
    review = approver.get("/staff/review")
    assert "LC-CM-NOTE" in review.text
    refused = approver.post("/staff/review", data={
        "csrf_token": csrf_token(review.text), "change_id": str(waiting.change_id),
        "decision": "reject", "note": "ไม่\x00ผ่าน"})
    assert refused.status_code == 400 and "control" in refused.text
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM feature_changes WHERE id = :id"),
                            {"id": waiting.change_id}).scalar_one() == "pending"
