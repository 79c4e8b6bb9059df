"""The changes domain (gis/changes.py): create, edit, move, retire, restore, revert, review,
history, PDPA view log and import history, against the real PostGIS as the app role (issue 11)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.accounts import Account
from core.errors import Conflict, Forbidden, NotFound, Unprocessable
from gis import changes
from gis.changes import PendingReview, Retired, StaleVersion
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from layers.definitions import LAYERS
from tests.staff import add_account
from tests.workers import db_name

DB = db_name("cddgis_test_changes")
KNN = LAYERS["khok-nong-na"]
CHIANG_MAI = (98.9853, 18.7883)  # province 50
CHIANG_MAI_2 = (98.9700, 18.8000)
LAMPHUN = (99.0087, 18.5745)  # province 51
GULF = (100.5, 10.0)  # the sea


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def app_engine(owner: Engine, cluster: ClusterInfo) -> Engine:
    """As the web app writes: the least-privileged app role."""
    return engine_for(cluster.url(database=DB, role="app"))


@pytest.fixture(scope="module")
def people(owner: Engine) -> dict[str, Account]:
    return {
        "cm": add_account(owner, "cm-officer", provinces=["50"], layers=["khok-nong-na"]),
        "lp": add_account(owner, "lp-officer", provinces=["51"], layers=["khok-nong-na"]),
        "owner": add_account(owner, "knn-owner", layers=["khok-nong-na"], can_approve=True,
                             can_personal=True),
        "lp-approver": add_account(owner, "lp-approver", provinces=["51"], can_approve=True),
        "other-layer": add_account(owner, "lc-officer", layers=["learning-centers"]),
        "admin": add_account(owner, "root", role="admin"),
    }


@pytest.fixture(autouse=True)
def no_review(owner: Engine) -> None:
    changes.set_requires_approval(owner, KNN.id, False)


def _values(plot: str, **more: object) -> dict[str, object]:
    return {"plot_id": plot, "plot_size_rai": "3", "model_level": "HLM", "budget_year": "2565",
            **more}


def _live(engine: Engine, key: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM layer_features WHERE layer = :layer "
                                 "AND key = :key"), {"layer": KNN.id, "key": key}).scalar_one() > 0


def _create(engine: Engine, who: Account, plot: str, where=CHIANG_MAI, **more: object,
            ) -> changes.ChangeResult:
    return changes.create_feature(engine, who, KNN, _values(plot, **more), *where)


def test_create_edit_move_and_history(app_engine: Engine, people: dict[str, Account]) -> None:
    created = _create(app_engine, people["cm"], "CM-0001")
    assert created.status == "published" and created.version == 1
    snap = changes.feature_for_staff(app_engine, people["cm"], KNN, created.feature_id)
    assert snap["province_code"] == "50" and snap["subdistrict_code"].startswith("50")
    assert snap["properties"]["plot_size_rai"] == 3.0 and snap["version"] == 1

    edited = changes.update_feature(app_engine, people["cm"], KNN, created.feature_id,
                                    {"plot_size_rai": "4,5"}, expected_version=1)
    assert edited.version == 2
    moved = changes.update_feature(app_engine, people["cm"], KNN, created.feature_id, {},
                                   expected_version=2, lon=CHIANG_MAI_2[0], lat=CHIANG_MAI_2[1])
    assert moved.version == 3
    log = changes.history(app_engine, people["cm"], KNN, created.feature_id)
    assert [c["kind"] for c in log] == ["move", "update", "create"]
    assert log[1]["before"]["properties"]["plot_size_rai"] == 3.0
    assert log[1]["after"]["properties"]["plot_size_rai"] == 4.5
    assert log[0]["after"]["lon"] == pytest.approx(CHIANG_MAI_2[0])
    assert all(c["actor"] == "cm-officer" for c in log)


def test_invalid_values_are_refused_with_the_importers_messages(
        app_engine: Engine, people: dict[str, Account]) -> None:
    with pytest.raises(Unprocessable) as refused:
        _create(app_engine, people["cm"], "CM-BAD", plot_size_rai="abc", model_level="XYZ",
                colour="red")
    problems = " | ".join(refused.value.problems)
    assert "ขนาดแปลง (ไร่) / Plot size (rai)" in problems and "not a number" in problems
    assert "'XYZ' ไม่ใช่ค่าที่รับได้ / is not one of the allowed values" in problems
    assert "colour: ไม่มีช่องนี้ในชั้นข้อมูล / not a field" in problems
    with pytest.raises(Unprocessable) as missing:
        changes.create_feature(app_engine, people["cm"], KNN, {"plot_id": "CM-X"}, *CHIANG_MAI)
    assert any("missing (required)" in p for p in missing.value.problems)
    with pytest.raises(Unprocessable) as sea:
        _create(app_engine, people["cm"], "CM-SEA", where=GULF)
    assert "outside Thailand" in sea.value.problems[0]
    with pytest.raises(Unprocessable):
        _create(app_engine, people["cm"], "CM-NAN", where=(float("nan"), 18.0))


def test_scope_layer_and_province(app_engine: Engine, people: dict[str, Account]) -> None:
    created = _create(app_engine, people["cm"], "CM-0002")
    with pytest.raises(Forbidden, match="outside the provinces") as other:
        changes.update_feature(app_engine, people["lp"], KNN, created.feature_id,
                               {"plot_size_rai": "9"}, expected_version=1)
    assert "เชียงใหม่" in other.value.message and "(50)" in other.value.message
    with pytest.raises(Forbidden):
        changes.feature_for_staff(app_engine, people["lp"], KNN, created.feature_id)
    with pytest.raises(Forbidden):
        changes.history(app_engine, people["lp"], KNN, created.feature_id)
    with pytest.raises(Forbidden, match="outside the layers"):
        changes.feature_for_staff(app_engine, people["other-layer"], KNN, created.feature_id)
    with pytest.raises(Forbidden, match="51"):  # a move out of the province
        changes.update_feature(app_engine, people["cm"], KNN, created.feature_id, {},
                               expected_version=1, lon=LAMPHUN[0], lat=LAMPHUN[1])
    with pytest.raises(Forbidden, match="51"):
        _create(app_engine, people["cm"], "CM-IN-LP", where=LAMPHUN)
    # Nothing changed.
    snap = changes.feature_for_staff(app_engine, people["cm"], KNN, created.feature_id)
    assert snap["version"] == 1 and snap["province_code"] == "50"


def test_stale_version_and_concurrent_saves(app_engine: Engine,
                                            people: dict[str, Account]) -> None:
    created = _create(app_engine, people["cm"], "CM-0003")
    fid = created.feature_id
    changes.update_feature(app_engine, people["cm"], KNN, fid, {"plot_size_rai": "5"},
                           expected_version=1)
    with pytest.raises(StaleVersion, match="version 2, not 1"):
        changes.update_feature(app_engine, people["owner"], KNN, fid, {"plot_size_rai": "6"},
                               expected_version=1)

    # Two saves of version 2 at the same moment: exactly one wins, the other is refused.
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def save(size: str) -> None:
        barrier.wait()
        try:
            changes.update_feature(app_engine, people["cm"], KNN, fid, {"plot_size_rai": size},
                                   expected_version=2)
            outcomes.append("saved " + size)
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=save, args=(s,)) for s in ("7", "8")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split()[0] for o in outcomes) == ["saved", "stale"]
    saved = next(o for o in outcomes if o.startswith("saved")).split()[1]
    snap = changes.feature_for_staff(app_engine, people["cm"], KNN, fid)
    assert snap["version"] == 3 and snap["properties"]["plot_size_rai"] == float(saved)


def test_retire_restore_and_revert(app_engine: Engine, people: dict[str, Account]) -> None:
    created = _create(app_engine, people["cm"], "CM-0004")
    fid = created.feature_id
    first = changes.update_feature(app_engine, people["cm"], KNN, fid, {"plot_size_rai": "9"},
                                   expected_version=1)
    retired = changes.retire_feature(app_engine, people["cm"], KNN, fid, expected_version=2)
    assert retired.status == "published"
    assert changes.feature_id_for_key(app_engine, KNN, "CM-0004") == fid
    with app_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layer_features WHERE id = :id"),
                            {"id": fid}).scalar_one() == 0
    with pytest.raises(Retired, match="restore it first"):
        changes.update_feature(app_engine, people["cm"], KNN, fid, {"plot_size_rai": "1"},
                               expected_version=2)
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["retired"] is True
    restored = changes.restore_feature(app_engine, people["cm"], KNN, fid)
    assert restored.feature_id == fid and restored.version == 3
    with pytest.raises(Conflict, match="not retired"):
        changes.restore_feature(app_engine, people["cm"], KNN, fid)
    reverted = changes.revert_feature(app_engine, people["cm"], KNN, fid, first.change_id,
                                      expected_version=3)
    snap = changes.feature_for_staff(app_engine, people["cm"], KNN, fid)
    assert reverted.version == 4 and snap["properties"]["plot_size_rai"] == 3.0
    kinds = [c["kind"] for c in changes.history(app_engine, people["cm"], KNN, fid)]
    assert kinds == ["revert", "restore", "retire", "update", "create"]
    with pytest.raises(Conflict, match="retire it instead"):
        changes.revert_feature(app_engine, people["cm"], KNN, fid, created.change_id,
                               expected_version=4)
    with pytest.raises(NotFound):
        changes.restore_feature(app_engine, people["cm"], KNN, 10**12)


def test_review_before_publishing(owner: Engine, app_engine: Engine,
                                  people: dict[str, Account]) -> None:
    created = _create(app_engine, people["cm"], "CM-0005")
    fid = created.feature_id
    changes.set_requires_approval(owner, KNN.id, True)
    waiting = changes.update_feature(app_engine, people["cm"], KNN, fid,
                                     {"plot_size_rai": "12"}, expected_version=1)
    assert waiting.status == "pending" and waiting.version == 1
    snap = changes.feature_for_staff(app_engine, people["cm"], KNN, fid)
    assert snap["properties"]["plot_size_rai"] == 3.0 and snap["pending"] == waiting.change_id
    with pytest.raises(PendingReview, match="waiting for review"):
        changes.update_feature(app_engine, people["owner"], KNN, fid, {"plot_size_rai": "1"},
                               expected_version=1)
    new = _create(app_engine, people["cm"], "CM-0006")
    assert new.status == "pending"
    assert not _live(app_engine, "CM-0006")  # not applied
    with pytest.raises(PendingReview):
        changes.update_feature(app_engine, people["owner"], KNN, new.feature_id, {},
                               expected_version=1)

    listed = {c["id"] for c in changes.pending(app_engine, people["owner"])}
    assert {waiting.change_id, new.change_id} <= listed
    assert changes.pending(app_engine, people["lp-approver"]) == []  # other province
    assert changes.pending(app_engine, people["cm"]) == []  # no approve right
    with pytest.raises(Forbidden):
        changes.decide(app_engine, people["lp-approver"], [waiting.change_id], approve=True)

    decided = changes.decide(app_engine, people["owner"], [waiting.change_id, new.change_id],
                             approve=True, note="ok")
    assert [d.status for d in decided] == ["published", "published"]
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["version"] == 2
    assert changes.feature_id_for_key(app_engine, KNN, "CM-0006") == new.feature_id
    log = changes.history(app_engine, people["cm"], KNN, fid)
    assert log[0]["status"] == "published" and log[0]["decided_by"] == "knn-owner"
    with pytest.raises(Conflict, match="already decided"):
        changes.decide(app_engine, people["owner"], [waiting.change_id], approve=False)

    rejected = changes.retire_feature(app_engine, people["cm"], KNN, fid, expected_version=2)
    changes.decide(app_engine, people["owner"], [rejected.change_id], approve=False)
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["retired"] is False
    # An approver's own change publishes at once.
    own = changes.update_feature(app_engine, people["owner"], KNN, fid, {"plot_size_rai": "2"},
                                 expected_version=2)
    assert own.status == "published" and own.version == 3


def test_personal_fields_need_the_right_and_every_view_is_logged(
        owner: Engine, app_engine: Engine, people: dict[str, Account]) -> None:
    with pytest.raises(Forbidden, match="personal"):
        _create(app_engine, people["cm"], "CM-0007", owner_name="นายสมชาย ใจดี")
    created = _create(app_engine, people["owner"], "CM-0007", owner_name="นายสมชาย ใจดี")
    hidden = changes.feature_for_staff(app_engine, people["cm"], KNN, created.feature_id)
    assert hidden["personal"] == {}
    masked = changes.history(app_engine, people["cm"], KNN, created.feature_id)
    assert "สมชาย" not in str(masked) and masked[0]["after"]["personal"] == {
        "owner_name": changes.HIDDEN}
    # Editing public fields without the right keeps the personal value.
    changes.update_feature(app_engine, people["cm"], KNN, created.feature_id,
                           {"plot_size_rai": "4"}, expected_version=1)
    renamed = changes.update_feature(app_engine, people["owner"], KNN, created.feature_id,
                                     {"owner_name": "นางสมศรี ใจดี"}, expected_version=2)
    # Reverting that without the right keeps the name as it is (writing it needs the right).
    changes.revert_feature(app_engine, people["cm"], KNN, created.feature_id,
                           renamed.change_id, expected_version=3)
    with owner.connect() as conn:
        assert conn.execute(text("SELECT personal FROM layer_features WHERE id = :id"),
                            {"id": created.feature_id}).scalar_one() == {
            "owner_name": "นางสมศรี ใจดี"}
    with owner.begin() as conn:
        conn.execute(text("DELETE FROM personal_data_views"))
    shown = changes.feature_for_staff(app_engine, people["owner"], KNN, created.feature_id)
    assert shown["personal"] == {"owner_name": "นางสมศรี ใจดี"}
    changes.history(app_engine, people["owner"], KNN, created.feature_id)
    with owner.connect() as conn:
        logged = conn.execute(text("""
            SELECT a.name, v.layer, v.feature_ids, v.context FROM personal_data_views v
            JOIN accounts a ON a.id = v.account_id ORDER BY v.id
        """)).all()
    assert [tuple(r) for r in logged] == [
        ("knn-owner", "khok-nong-na", [created.feature_id], "feature"),
        ("knn-owner", "khok-nong-na", [created.feature_id], "history")]


def _csv(tmp_path: Path, rows: list[tuple[str, str, tuple[float, float]]]) -> Path:
    """Plots without a personal column: the officers importing them have no personal-data
    right (a file with one is refused for them, tests/test_personal_data.py)."""
    path = tmp_path / "plots.csv"
    lines = ["plot_id,plot_size_rai,model_level,budget_year,lon,lat"]
    lines += [f"{plot},{size},HLM,2566,{lon},{lat}" for plot, size, (lon, lat) in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_records_history_and_scope(owner: Engine, app_engine: Engine,
                                          people: dict[str, Account], tmp_path: Path) -> None:
    path = _csv(tmp_path, [("IM-1", "2", CHIANG_MAI), ("IM-2", "3", LAMPHUN)])
    refused = import_file(app_engine, KNN, path, account=people["cm"])
    assert not refused.committed
    assert "ลำพูน" in refused.rows[1].errors[0] and "outside this account's provinces" in \
        refused.rows[1].errors[0]
    done = import_file(app_engine, KNN, path, account=people["cm"], valid_only=True)
    assert done.committed and done.inserted == 1
    fid = changes.feature_id_for_key(app_engine, KNN, "IM-1")
    assert fid is not None
    log = changes.history(app_engine, people["cm"], KNN, fid)
    assert [(c["kind"], c["actor"], c["import_id"]) for c in log] == [
        ("import", "cm-officer", done.import_id)]
    with owner.connect() as conn:
        assert conn.execute(text("SELECT account_id FROM layer_imports WHERE id = :id"),
                            {"id": done.import_id}).scalar_one() == people["cm"].id
    # Re-importing raises the version and records before/after.
    again = import_file(app_engine, KNN, _csv(tmp_path, [("IM-1", "5", CHIANG_MAI)]),
                        account=people["cm"])
    assert again.updated == 1
    log = changes.history(app_engine, people["cm"], KNN, fid)
    assert log[0]["before"]["properties"]["plot_size_rai"] == 2.0
    assert log[0]["after"]["properties"]["plot_size_rai"] == 5.0 and log[0]["after"][
        "version"] == 2
    # The same file again changes nothing: no new version, no history entry.
    same = import_file(app_engine, KNN, _csv(tmp_path, [("IM-1", "5", CHIANG_MAI)]),
                       account=people["cm"])
    assert same.committed
    assert len(changes.history(app_engine, people["cm"], KNN, fid)) == 2
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["version"] == 2
    with pytest.raises(Forbidden):
        import_file(app_engine, KNN, path, account=people["other-layer"])
    # Lamphun's officer may not take Chiang Mai's plot by importing its key at a Lamphun point.
    taken = import_file(app_engine, KNN, _csv(tmp_path, [("IM-1", "5", LAMPHUN)]),
                        account=people["lp"])
    assert not taken.committed and "already stored in province" in taken.rows[0].errors[0]
    assert "เชียงใหม่" in taken.rows[0].errors[0]


def test_import_by_an_editor_waits_for_review(owner: Engine, app_engine: Engine,
                                              people: dict[str, Account],
                                              tmp_path: Path) -> None:
    _create(app_engine, people["cm"], "IR-1")
    changes.set_requires_approval(owner, KNN.id, True)
    path = _csv(tmp_path, [("IR-1", "7", CHIANG_MAI), ("IR-2", "8", CHIANG_MAI_2)])
    report = import_file(app_engine, KNN, path, account=people["cm"])
    assert report.committed and report.pending == 2 and report.inserted == report.updated == 0
    fid = changes.feature_id_for_key(app_engine, KNN, "IR-1")
    assert fid is not None
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["properties"][
        "plot_size_rai"] == 3.0  # nothing applied
    assert not _live(app_engine, "IR-2")
    staged = [c for c in changes.pending(app_engine, people["owner"])
              if c["import_id"] == report.import_id]
    assert len(staged) == 2
    # While they wait, the same rows from another file are errors (the features are locked).
    again = import_file(app_engine, KNN, path, account=people["owner"])
    assert not again.committed and "waiting for review" in again.rows[0].errors[0]
    changes.decide(app_engine, people["owner"], [c["id"] for c in staged], approve=True)
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, fid)["properties"][
        "plot_size_rai"] == 7.0
    new_id = changes.feature_id_for_key(app_engine, KNN, "IR-2")
    assert new_id == next(c["feature_id"] for c in staged if c["key"] == "IR-2")


def test_decide_refuses_a_stale_change_and_decides_nothing(
        owner: Engine, app_engine: Engine, people: dict[str, Account]) -> None:
    first = _create(app_engine, people["cm"], "ST-1")
    second = _create(app_engine, people["cm"], "ST-2")
    changes.set_requires_approval(owner, KNN.id, True)
    a = changes.update_feature(app_engine, people["cm"], KNN, first.feature_id,
                               {"plot_size_rai": "10"}, expected_version=1)
    b = changes.update_feature(app_engine, people["cm"], KNN, second.feature_id,
                               {"plot_size_rai": "11"}, expected_version=1)
    with owner.begin() as conn:  # changed behind the review's back (e.g. by hand in psql)
        conn.execute(text("UPDATE layer_features SET version = 5 WHERE id = :id"),
                     {"id": second.feature_id})
    with pytest.raises(StaleVersion, match=f"change #{b.change_id} was made on version 1"):
        changes.decide(app_engine, people["owner"], [a.change_id, b.change_id], approve=True)
    assert {c["id"] for c in changes.pending(app_engine, people["owner"])} >= {
        a.change_id, b.change_id}  # all or nothing: the first waits too
    changes.decide(app_engine, people["owner"], [b.change_id], approve=False)
    changes.decide(app_engine, people["owner"], [a.change_id], approve=True)
    assert changes.feature_for_staff(app_engine, people["cm"], KNN, first.feature_id)[
        "properties"]["plot_size_rai"] == 10.0
