"""Personal data on every path, and erasable (PDPA; issue 25, item 2).

One rule (``Account.may_see_personal``) decides who reads or writes a personal field, and the
import paths now follow it as PATCH always did; views and comparisons are logged with the fields
and the client's address; and one person's data can be erased everywhere cddgis keeps it —
after which no copy remains in any table, stored file or log line the app writes.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cddgis.cli import main
from gis import accounts, changes
from gis import upload_jobs as jobs
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.personal import purge_uploads
from gis.settings import Settings
from tests.staff import add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_personal")
ITEMS = "/api/collections/khok-nong-na/items"
IMPORTS = "/api/collections/khok-nong-na/imports"
OWNER = "นางสาวลบได้ ทดสอบสิทธิ์"  # the person who asks to be erased
OTHER = "นายคงอยู่ ต่อไป"  # someone else, who stays
HEADER = "รหัสแปลง,ขนาดแปลง (ไร่),ชื่อเจ้าของแปลง,ระดับโมเดล,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    engine = engine_for(copy_database(DB))
    changes.set_requires_approval(engine, "khok-nong-na", False)
    return engine


@pytest.fixture(scope="module")
def tokens(owner: Engine) -> dict[str, str]:
    add_account(owner, "plain-officer", provinces=["50"], layers=["khok-nong-na"])
    add_account(owner, "pdpa-officer", provinces=["50"], layers=["khok-nong-na"],
                can_personal=True)
    add_account(owner, "admin", role="admin")
    return {n: accounts.issue_token(owner, n) for n in ("plain-officer", "pdpa-officer")}


@pytest.fixture(scope="module")
def app(settings: Settings, cluster: ClusterInfo, owner: Engine, tmp_path_factory: Any) -> Any:
    import dataclasses

    state = tmp_path_factory.mktemp("personal-state")
    app = create_app(dataclasses.replace(settings, state_dir=state, cookie_secure=False),
                     database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _plot(key: str, name: str | None = None, lon: float = 98.9853, lat: float = 18.7883
          ) -> dict[str, Any]:
    props: dict[str, Any] = {"plot_id": key, "plot_size_rai": 3, "model_level": "HLM",
                             "budget_year": 2565}
    if name:
        props["owner_name"] = name
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def _create(client: Any, token: str, key: str, name: str) -> None:
    if client.get(f"{ITEMS}/{key}").status_code == 404:
        created = client.post(ITEMS, data=json.dumps(_plot(key, name)), headers=_bearer(token),
                              content_type="application/geo+json")
        assert created.status_code == 201, created.text


def _stored_owner(owner: Engine, key: str) -> object:
    with owner.connect() as conn:
        return conn.execute(text("SELECT personal->>'owner_name' FROM layer_features "
                                 "WHERE layer = 'khok-nong-na' AND key = :k"), {"k": key}
                            ).scalar_one_or_none()


def _import(client: Any, token: str, csv_text: str, mode: str = "dry-run") -> Any:
    return client.post(IMPORTS, data={"file": (io.BytesIO(csv_text.encode()), "plots.csv"),
                                      "mode": mode},
                       headers=_bearer(token), content_type="multipart/form-data",
                       environ_base={"REMOTE_ADDR": "10.9.8.7"})


def test_an_officer_without_the_right_cannot_write_names_by_import(
        app: Any, owner: Engine, tokens: dict[str, str]) -> None:
    client = app.test_client()
    _create(client, tokens["pdpa-officer"], "PD-1", "นางจริง ใจดี")
    guess_right = HEADER + "PD-1,3,นางจริง ใจดี,HLM,2565,18.7883,98.9853\n"
    guess_wrong = HEADER + "PD-1,3,นายเดา ผิด,HLM,2565,18.7883,98.9853\n"
    reports = [_import(client, tokens["plain-officer"], body).get_json()
               for body in (guess_right, guess_wrong)]
    for report in reports:  # refused whole, naming the column: nothing to compare
        assert any("owner_name" in p for p in report["file_problems"]), report
        assert report["rows"] == []
    # A dry run tells a right guess from a wrong one no more.
    assert reports[0]["file_problems"] == reports[1]["file_problems"]
    committed = _import(client, tokens["plain-officer"], guess_wrong, mode="all")
    assert committed.status_code == 422
    assert _stored_owner(owner, "PD-1") == "นางจริง ใจดี"
    # The same file without the column imports (public fields only; the name is kept).
    public_only = "รหัสแปลง,ขนาดแปลง (ไร่),ระดับโมเดล,ปีงบประมาณ,ละติจูด,ลองจิจูด\n" \
                  "PD-1,4,HLM,2565,18.7883,98.9853\n"
    assert _import(client, tokens["plain-officer"], public_only, mode="all").status_code == 200
    assert _stored_owner(owner, "PD-1") == "นางจริง ใจดี"


def test_a_comparison_in_an_import_is_logged_with_fields_and_address(
        app: Any, owner: Engine, tokens: dict[str, str]) -> None:
    client = app.test_client()
    _create(client, tokens["pdpa-officer"], "PD-2", "นางเทียบ ค่า")
    with owner.begin() as conn:
        conn.execute(text("DELETE FROM personal_data_views"))
    dry = _import(client, tokens["pdpa-officer"],
                  HEADER + "PD-2,3,นางเทียบ ค่าใหม่,HLM,2565,18.7883,98.9853\n")
    assert dry.status_code == 200
    assert "owner_name changes (personal data: value not shown)" in dry.get_json()["rows"][0][
        "changes"]
    with owner.connect() as conn:
        logged = conn.execute(text(
            "SELECT a.name, v.context, v.fields, v.address FROM personal_data_views v "
            "JOIN accounts a ON a.id = v.account_id")).all()
    assert [tuple(r) for r in logged] == [("pdpa-officer", "import dry-run", ["owner_name"],
                                           "10.9.8.7")]


def _every_copy(owner: Engine, value: str) -> dict[str, int]:
    """Rows holding ``value`` in every table of the schema (as text: jsonb, arrays and all)."""
    found = {}
    with owner.connect() as conn:
        tables = conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'")).scalars().all()
        for table in tables:
            hits = conn.execute(text(
                f'SELECT count(*) FROM "{table}" t WHERE strpos(CAST(t AS text), :v) > 0'),
                {"v": value}).scalar_one()
            if hits:
                found[table] = hits
    return found


def _files_holding(root: Path, value: str) -> list[Path]:
    needle = value.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_erasure_by_name_leaves_no_copy_anywhere(
        app: Any, owner: Engine, tokens: dict[str, str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.test_client()
    pdpa = tokens["pdpa-officer"]
    _create(client, pdpa, "ER-1", OWNER)
    _create(client, pdpa, "ER-2", OTHER)
    # History holds the name twice (before and after a change), and a retired plot too.
    etag = client.get(f"{ITEMS}/ER-1").headers["ETag"]
    assert client.patch(f"{ITEMS}/ER-1", data=json.dumps({"properties": {"plot_size_rai": 5}}),
                        headers=_bearer(pdpa, **{"If-Match": etag}),
                        content_type="application/merge-patch+json").status_code == 200
    _create(client, pdpa, "ER-3", OWNER)
    etag = client.get(f"{ITEMS}/ER-3").headers["ETag"]
    assert client.delete(f"{ITEMS}/ER-3", headers=_bearer(pdpa, **{"If-Match": etag})
                         ).status_code == 204
    # An uploaded file waiting on disk holds the name.
    state = app.extensions["cddgis.settings"].state_dir
    folder = state / "uploads" / "f0f0f0"
    folder.mkdir(parents=True)
    (folder / "plots.csv").write_text(HEADER + f"ER-9,3,{OWNER},HLM,2565,18.78,98.98\n",
                                      encoding="utf-8")
    account = accounts.list_accounts(owner)[0]
    jobs.create_job(owner, account, "khok-nong-na", file_name="plots.csv",
                    stored_name="f0f0f0/plots.csv", kind="csv", size=100, rows_estimate=1)
    before = _every_copy(owner, OWNER)
    assert before.get("layer_features") == 1 and before.get("feature_changes", 0) >= 3
    assert _files_holding(state, OWNER)

    monkeypatch.setenv("DATABASE_URL", owner.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CDDGIS_STATE_DIR", str(state))
    with caplog.at_level(logging.DEBUG):
        assert main(["personal", "erase", "--layer", "khok-nong-na", "--name", OWNER]) == 1
        assert _every_copy(owner, OWNER) == before, "listing the matches changed something"
        assert main(["personal", "erase", "--layer", "khok-nong-na", "--name", f" {OWNER} ",
                     "--reason", "คำขอเลขที่ 12/2569", "--yes"]) == 0
    assert _every_copy(owner, OWNER) == {}
    assert _files_holding(state, OWNER) == []
    assert OWNER not in caplog.text
    assert _stored_owner(owner, "ER-2") == OTHER  # someone else's name stays
    with owner.connect() as conn:
        erasure = conn.execute(text("SELECT actor, method, counts, reason FROM "
                                    "personal_erasures")).one()
    assert erasure.actor == "cli" and erasure.method == "name"
    assert erasure.counts["features"] == 1 and erasure.counts["upload_files"] == 1
    assert erasure.counts["history_entries"] >= 3
    # The erased feature is still there, without its name; its ETag moved on.
    assert client.get(f"{ITEMS}/ER-1").status_code == 200
    assert _stored_owner(owner, "ER-1") is None


def test_erasure_by_feature_on_the_admin_page(app: Any, owner: Engine,
                                             tokens: dict[str, str]) -> None:
    client = app.test_client()
    _create(client, tokens["pdpa-officer"], "EF-1", "นายหน้า แอดมิน")
    _create(client, tokens["pdpa-officer"], "EF-2", "นายหน้า แอดมิน")
    assert sign_in(client, "admin").status_code in (302, 303)
    page = client.get("/staff/admin/personal")
    assert page.status_code == 200
    found = client.post("/staff/admin/personal", data={
        "csrf_token": csrf_token(page.text), "layer": "khok-nong-na", "keys": "EF-1"})
    assert found.status_code == 200 and "EF-1" in found.text and "owner_name" in found.text
    assert _stored_owner(owner, "EF-1") == "นายหน้า แอดมิน"  # nothing until confirmed
    erased = client.post("/staff/admin/personal", data={
        "csrf_token": csrf_token(found.text), "layer": "khok-nong-na", "keys": "EF-1",
        "confirm": "erase", "reason": "request 7"})
    assert erased.status_code == 200 and 'id="erased"' in erased.text
    assert _stored_owner(owner, "EF-1") is None
    assert _stored_owner(owner, "EF-2") == "นายหน้า แอดมิน"  # by feature: only that feature
    missing = client.post("/staff/admin/personal", data={
        "csrf_token": csrf_token(erased.text), "layer": "khok-nong-na", "keys": "NO-SUCH"})
    assert missing.status_code == 404 and "NO-SUCH" in missing.text


def test_only_administrators_reach_the_erasure_page(app: Any, tokens: dict[str, str]) -> None:
    client = app.test_client()
    assert sign_in(client, "pdpa-officer").status_code in (302, 303)
    assert client.get("/staff/admin/personal").status_code == 403


def test_uploads_past_retention_lose_their_file_and_row_reports(
        app: Any, owner: Engine, tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    (uploads / "old").mkdir(parents=True)
    (uploads / "old" / "plots.csv").write_text(HEADER, encoding="utf-8")
    (uploads / "new").mkdir(parents=True)
    (uploads / "new" / "plots.csv").write_text(HEADER, encoding="utf-8")
    account = accounts.list_accounts(owner)[0]
    ids = [jobs.create_job(owner, account, "khok-nong-na", file_name="plots.csv",
                           stored_name=f"{name}/plots.csv", kind="csv", size=10,
                           rows_estimate=1) for name in ("old", "new")]
    with owner.begin() as conn:
        conn.execute(text("UPDATE upload_jobs SET status = 'checked', "
                          "report = CAST(:r AS jsonb) WHERE id = ANY(:ids)"),
                     {"ids": ids, "r": json.dumps({"counts": {"ok": 1}, "rows": [{"row": 2}]})})
        conn.execute(text("UPDATE upload_jobs SET created_at = now() - interval '31 days' "
                          "WHERE id = :id"), {"id": ids[0]})
    assert purge_uploads(owner, uploads, 30) == {"uploads": 1, "files": 1}
    assert not (uploads / "old").exists() and (uploads / "new" / "plots.csv").exists()
    with owner.connect() as conn:
        kept = dict(conn.execute(text("SELECT id, report ? 'rows' FROM upload_jobs "
                                      "WHERE id = ANY(:ids)"), {"ids": ids}).all())
        status = conn.execute(text("SELECT status FROM upload_jobs WHERE id = :id"),
                              {"id": ids[0]}).scalar_one()
    assert kept == {ids[0]: False, ids[1]: True} and status == "cancelled"
    assert os.path.exists(uploads / "new")
