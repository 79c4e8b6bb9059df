"""Indicator tables added by staff (issue 23, item 1): an account with the ``indicators`` right
checks a village-level table (nothing written), reads the report, commits it and sees the values
in the API and on the village's dashboard; a bad table is reported row by row and changes
nothing; an account without the right gets 403; a deletion removes the values."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.conftest import _open_page
from tests.pagestate import wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_staff_indicators")
ID = "jpt-water-village"
META = {"id": ID, "title_th": "ครัวเรือนมีน้ำสะอาดพอ", "title_en": "Households with enough "
        "clean water", "unit": "ร้อยละ (%)", "level": "village", "year": "2566",
        "source": "จปฐ. (ตัวอย่างในการทดสอบ / test sample)", "licence": "CDD", "theme": "จปฐ."}


@pytest.fixture(scope="module")
def owner_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB, full=True))


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
    """No accounts and no staff-added indicators before each test. DELETE, not
    ``reset_workspace``'s TRUNCATE … CASCADE: that would empty every table referring to
    accounts, the catalogue's indicators and the sample layers among them."""
    with owner_engine.begin() as conn:
        conn.execute(text("DELETE FROM indicators WHERE uploaded_at IS NOT NULL"))
        conn.execute(text("TRUNCATE indicator_uploads"))
        conn.execute(text("DELETE FROM staff_sessions; DELETE FROM api_tokens; "
                          "DELETE FROM sign_in_failures; DELETE FROM accounts"))
    return owner_engine


def _villages(engine: Engine) -> tuple[str, list[str]]:
    """A subdistrict with at least three villages the layers know, and their codes."""
    with engine.connect() as conn:
        sub = conn.execute(text("""
            SELECT subdistrict_code FROM layer_features
            WHERE layer = 'khok-nong-na' AND properties->>'village_no' ~ '^[0-9]{1,2}$'
            GROUP BY 1 HAVING count(DISTINCT properties->>'village_no') >= 3
            ORDER BY 1 LIMIT 1""")).scalar_one()
        moos = conn.execute(text("""
            SELECT DISTINCT (properties->>'village_no')::int FROM layer_features
            WHERE layer = 'khok-nong-na' AND subdistrict_code = :s
              AND properties->>'village_no' ~ '^[0-9]{1,2}$' ORDER BY 1"""),
                            {"s": sub}).scalars().all()
    return sub, [f"{sub}{m:02d}" for m in moos]


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(  # type: ignore[return-value]
            "SELECT (SELECT count(*) FROM indicators), (SELECT count(*) FROM indicator_values), "
            "(SELECT count(*) FROM indicator_uploads)")).one())


def _check(client, path: Path, **changes: str):
    page = client.get("/staff/indicators")
    with path.open("rb") as fh:
        return client.post("/staff/indicators/check", data={
            **META, **changes, "file": (fh, path.name), "csrf_token": csrf_token(page.text)},
            content_type="multipart/form-data")


def _post(client, url: str):
    page = client.get("/staff/indicators")
    return client.post(url, data={"csrf_token": csrf_token(page.text)})


def _signed_in(staff_app, name: str):
    client = staff_app.test_client()
    assert sign_in(client, name).status_code in (302, 303)
    return client


def test_village_table_check_report_commit_api_dashboard_delete(
        staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "planner", can_indicators=True)
    client = _signed_in(staff_app, "planner")
    sub, codes = _villages(fresh)
    path = tmp_path / "จปฐ-น้ำ.csv"
    path.write_text("รหัสหมู่บ้าน,ร้อยละ\n" + f"{codes[0]},91.5\n{codes[1]},78\n{codes[2]},85.25\n",
                    encoding="utf-8")
    before = _counts(fresh)
    checked = _check(client, path)
    assert checked.status_code == 200, checked.text
    assert 'data-count="matched">3<' in checked.text and 'data-problems="0"' in checked.text
    assert _counts(fresh) == before  # the check writes nothing
    assert client.get(f"/api/indicators/{ID}/values?level=village").status_code == 404

    committed = _post(client, "/staff/indicators/commit")
    assert committed.status_code == 303, committed.text
    assert _counts(fresh) == (before[0] + 1, before[1] + 3, before[2] + 1)

    body = client.get(f"/api/indicators/{ID}/values?level=village&subdistrict={sub}").get_json()
    got = {r["code"]: r["value"] for r in body["values"]}
    assert {c: got[c] for c in codes[:3]} == {codes[0]: 91.5, codes[1]: 78.0, codes[2]: 85.25}
    assert body["indicator"]["levels"] == ["village"] and body["year"] == 2566
    assert all(r["code"].startswith(sub) for r in body["values"])
    summary = client.get(f"/api/areas/village/{codes[1]}/summary").get_json()
    card = next(i for i in summary["indicators"] if i["id"] == ID)
    assert card["value"] == 78.0 and card["year"] == 2566
    assert (card["rank"], card["of"]) == (3, 3)  # among the subdistrict's villages
    assert summary["ranked_among"]["parent_th"] == summary["area"]["parents"][-1]["name_th"]

    assert ID not in client.get("/choropleth").text  # a map of polygons: no village table yet
    listing = client.get("/staff/indicators").text
    assert f'data-indicator="{ID}"' in listing and "planner" in listing

    assert _post(client, f"/staff/indicators/{ID}/delete").status_code == 303
    assert client.get(f"/api/indicators/{ID}/values?level=village").status_code == 404
    assert _counts(fresh) == (before[0], before[1], before[2] + 2)  # history: replace, delete
    assert client.get(f"/api/areas/village/{codes[1]}/summary").get_json()["indicators"] == [
        i for i in summary["indicators"] if i["id"] != ID]


def test_bad_table_is_reported_row_by_row_and_changes_nothing(
        staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "planner", can_indicators=True)
    client = _signed_in(staff_app, "planner")
    _, codes = _villages(fresh)
    good = tmp_path / "good.csv"
    good.write_text(f"code,value\n{codes[0]},10\n", encoding="utf-8")
    assert _check(client, good).status_code == 200
    assert _post(client, "/staff/indicators/commit").status_code == 303
    before = _counts(fresh)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,value\n"
                   f"{codes[0]},11\n"         # row 2: fine
                   "99999901,5\n"             # row 3: no such village
                   f"{codes[1]},สิบ\n"         # row 4: text in a number column
                   f"{codes[0]},12\n"         # row 5: the same village as row 2
                   f"{codes[2]},{'9' * 1_048_576}\n",  # row 6: a 1 MB cell
                   encoding="utf-8")
    checked = _check(client, bad)
    assert checked.status_code == 422
    kinds = dict(re.findall(r'data-row="(\d+)" data-kind="(\w+)"', checked.text))
    assert kinds == {"3": "unmatched", "4": "not_number", "5": "duplicate",
                     "6": "cell_too_long"}
    report = html.unescape(checked.text)
    assert "แถว 3: ไม่พบพื้นที่ '99999901'" in report
    assert "row 3: no village matches '99999901'" in report
    assert "ไม่ใช่ตัวเลข" in report and "row 4, column 'value': 'สิบ' is not a number" in report
    assert "เป็นพื้นที่เดียวกับแถว 2" in report and "as row 2" in report
    assert "row 6: the 'value' cell is 1,048,576 characters long" in report
    assert "9" * 1000 not in report  # the long cell is not repeated back
    assert "commit-form" not in checked.text
    # nothing waits to be committed, nothing changed
    assert _post(client, "/staff/indicators/commit").status_code == 400
    assert _counts(fresh) == before
    body = client.get(f"/api/indicators/{ID}/values?level=village&subdistrict="
                      f"{codes[0][:6]}").get_json()
    assert {r["code"]: r["value"] for r in body["values"] if r["value"] is not None} == {
        codes[0]: 10.0}


def test_unknown_village_gets_suggestions_and_bad_fields_name_the_field(
        staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "planner", can_indicators=True)
    client = _signed_in(staff_app, "planner")
    sub, codes = _villages(fresh)
    path = tmp_path / "t.csv"
    path.write_text(f"code,value\n{sub}99,1\n", encoding="utf-8")
    checked = _check(client, path)
    assert checked.status_code == 422 and codes[0] in checked.text  # "did you mean"
    assert _check(client, path, id="Bad Id!").status_code == 400
    assert "id:" in _check(client, path, id="Bad Id!").text
    assert "level:" in _check(client, path, level="tambon").text
    assert "year:" in _check(client, path, year="1999").text
    province = tmp_path / "p.csv"
    province.write_text("จังหวัด,ค่า\nเชียงใหม่,1\nเชียงใหม,2\n", encoding="utf-8")
    checked = _check(client, province, level="province", id="p-test")
    assert checked.status_code == 422 and "เชียงใหม่" in checked.text  # row 3: a suggestion


def test_without_the_right_403_and_admin_has_it(staff_app, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "editor-only")
    add_account(fresh, "boss", role="admin")
    client = _signed_in(staff_app, "editor-only")
    assert client.get("/staff/indicators").status_code == 403
    token = csrf_token(client.get("/staff/upload").text)
    path = tmp_path / "t.csv"
    path.write_text("code,value\n50,1\n", encoding="utf-8")
    with path.open("rb") as fh:
        assert client.post("/staff/indicators/check", data={
            **META, "file": (fh, "t.csv"), "csrf_token": token},
            content_type="multipart/form-data").status_code == 403
    assert client.post("/staff/indicators/commit",
                       data={"csrf_token": token}).status_code == 403
    assert client.post("/staff/indicators/population/delete",
                       data={"csrf_token": token}).status_code == 403
    assert "/staff/indicators" not in client.get("/staff/upload").text
    admin = _signed_in(staff_app, "boss")
    assert admin.get("/staff/indicators").status_code == 200
    # a catalogue indicator is not a staff table: neither replaced nor deleted from here
    assert _post(admin, "/staff/indicators/population/delete").status_code == 409
    assert _check(admin, path, id="population", level="province").status_code == 200
    assert _post(admin, "/staff/indicators/commit").status_code == 409


@pytest.mark.browser
def test_browser_uploads_village_table_and_sees_it_on_the_dashboard(
        browser, server: str, fresh: Engine, tmp_path: Path) -> None:
    add_account(fresh, "planner", can_indicators=True)
    _, codes = _villages(fresh)
    path = tmp_path / "village.csv"
    path.write_text(f"code,value\n{codes[0]},42.5\n{codes[1]},17\n", encoding="utf-8")
    context, page = _open_page(browser, viewport={"width": 1200, "height": 900})
    try:
        page.goto(server + "/staff/indicators")
        page.fill("input[name=name]", "planner")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.staff-form button[type=submit]")
        expect(page.locator("form.indicator-form")).to_be_visible()
        page.set_input_files("input[name=file]", str(path))
        for name in ("id", "title_th", "title_en", "unit", "year", "source", "licence", "theme"):
            page.fill(f"input[name={name}]", META[name])
        page.select_option("select[name=level]", "village")
        page.click("form.indicator-form button[type=submit]")
        expect(page.locator('#indicator-report [data-count="matched"]')).to_have_text("2")
        page.click("form.commit-form button[type=submit]")
        expect(page.locator("#indicator-done")).to_be_visible()
        expect(page.locator(f'#indicator-tables tr[data-indicator="{ID}"]')).to_be_visible()
        page.goto(f"{server}/dashboard?village={codes[0]}")
        wait_ready(page)
        card = page.locator(f'#indicator-cards [data-card="{ID}"]')
        expect(card).to_contain_text("42.5")
        expect(card).to_contain_text("ครัวเรือนมีน้ำสะอาดพอ")
    finally:
        context.close()
