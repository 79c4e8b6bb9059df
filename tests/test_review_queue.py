"""Review at the scale of an import (issue 24, item 7): approve or reject every change of an
import at once with a per-row opt-out, filter the queue by layer, province and author, and an
officer's inbox of their own waiting, approved and rejected changes with the reviewer's notes.
Through the real pages (HTTP, CSRF) on a database of its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gis import changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.staff import add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_review_queue")
KNN = LAYERS["khok-nong-na"]
POINTS = [(98.9853, 18.7883), (98.9700, 18.8000), (98.9600, 18.8100), (98.9500, 18.8200)]


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def app_engine(owner: Engine, cluster: ClusterInfo) -> Engine:
    return engine_for(cluster.url(database=DB, role="app"))


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner: Engine):
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


def _import(engine: Engine, who, tmp_path: Path, prefix: str) -> int:
    path = tmp_path / f"{prefix}.csv"
    lines = ["plot_id,plot_size_rai,model_level,budget_year,lon,lat"]
    lines += [f"{prefix}-{i},{i + 1},HLM,2566,{lon},{lat}" for i, (lon, lat) in enumerate(POINTS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(engine, KNN, path, account=who)
    assert report.committed and report.pending == len(POINTS), report.summary()
    return int(report.import_id)


def _status(owner: Engine, import_id: int) -> dict[str, str]:
    with owner.connect() as conn:
        return dict(conn.execute(text(
            "SELECT feature_key, status FROM feature_changes WHERE import_id = :i"),
            {"i": import_id}).all())


def test_an_import_is_approved_whole_with_a_row_left_out_and_the_officer_sees_it(
        owner: Engine, app_engine: Engine, staff_app, tmp_path: Path) -> None:
    changes.set_requires_approval(owner, KNN.id, True)
    officer = add_account(owner, "rq-officer", provinces=["50"], layers=[KNN.id])
    other = add_account(owner, "rq-other", provinces=["50"], layers=[KNN.id])
    add_account(owner, "rq-approver", provinces=["50"], layers=[KNN.id], can_approve=True)
    first = _import(app_engine, officer, tmp_path, "RQ")
    _import(app_engine, other, tmp_path, "RX")

    reviewer = staff_app.test_client()
    sign_in(reviewer, "rq-approver")
    queue = reviewer.get("/staff/review")
    assert queue.status_code == 200
    assert f'id="import-{first}"' in queue.text and "8 จาก 8" in queue.text
    # Filtering by author keeps only that officer's changes (and their import's form).
    mine = reviewer.get("/staff/review?author=rq-officer")
    assert "4 จาก 8" in mine.text and f'id="import-{first}"' in mine.text
    assert "RX-0" not in mine.text and "RQ-0" in mine.text
    assert reviewer.get("/staff/review?province=5").status_code == 400
    assert reviewer.get("/staff/review?layer=nope").status_code == 400

    # Approve the whole import, leaving RQ-2 out.
    left_out = re.search(rf'name="leave_out" value="(\d+)" form="import-{first}"',
                         mine.text.split("RQ-2")[0].rsplit('<li class="change"', 1)[1])
    assert left_out
    decided = reviewer.post("/staff/review", data={
        "csrf_token": csrf_token(mine.text), "import_id": str(first),
        "leave_out": left_out.group(1), "decision": "approve", "note": "ตรวจแล้ว ok",
        "filter_author": "rq-officer"})
    assert decided.status_code == 302 and "author=rq-officer" in decided.headers["Location"]
    assert _status(owner, first) == {"RQ-0": "published", "RQ-1": "published",
                                     "RQ-2": "pending", "RQ-3": "published"}

    page = reviewer.get("/staff/review?author=rq-officer")
    rejected = reviewer.post("/staff/review", data={
        "csrf_token": csrf_token(page.text), "import_id": str(first), "decision": "reject",
        "note": "พิกัดผิด <b>wrong</b>"})
    assert rejected.status_code == 302
    assert _status(owner, first)["RQ-2"] == "rejected"

    # The officer's inbox: three approved with the note, one rejected with its note (escaped).
    inbox_client = staff_app.test_client()
    sign_in(inbox_client, "rq-officer")
    inbox = inbox_client.get("/staff/my-changes")
    assert inbox.status_code == 200
    assert re.search(r'id="count-approved">3<', inbox.text)
    assert re.search(r'id="count-rejected">1<', inbox.text)
    assert re.search(r'id="count-pending">0<', inbox.text)
    assert "ตรวจแล้ว ok" in inbox.text and "rq-approver" in inbox.text
    assert "พิกัดผิด &lt;b&gt;wrong&lt;/b&gt;" in inbox.text and "<b>wrong" not in inbox.text
    assert "RX-0" not in inbox.text  # only one's own changes


def test_a_whole_import_decision_takes_only_what_the_reviewer_may_approve(
        owner: Engine, app_engine: Engine, staff_app, tmp_path: Path) -> None:
    changes.set_requires_approval(owner, KNN.id, True)
    officer = add_account(owner, "rq-officer2", provinces=["50"], layers=[KNN.id])
    add_account(owner, "rq-lamphun", provinces=["51"], layers=[KNN.id], can_approve=True)
    import_id = _import(app_engine, officer, tmp_path, "RL")
    reviewer = staff_app.test_client()
    sign_in(reviewer, "rq-lamphun")
    page = reviewer.get("/staff/review")
    answer = reviewer.post("/staff/review", data={
        "csrf_token": csrf_token(page.text), "import_id": str(import_id),
        "decision": "approve"})
    assert answer.status_code == 400  # nothing of it is theirs to approve
    assert set(_status(owner, import_id).values()) == {"pending"}
