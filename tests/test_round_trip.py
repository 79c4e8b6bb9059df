"""Issue 24, item 6: a layer's own CSV download, imported back unchanged, changes nothing —
no update, no change waiting for approval, no history entry, no new tile version — for every
layer; and a dry run says exactly what the commit then does."""

from __future__ import annotations

import csv
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
from tests.staff import add_account
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_round_trip")


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB, full=True))


@pytest.fixture(scope="module")
def app_engine(owner: Engine, cluster: ClusterInfo) -> Engine:
    return engine_for(cluster.url(database=DB, role="app"))


@pytest.fixture(scope="module")
def client(settings: Settings, cluster: ClusterInfo, owner: Engine):
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app.test_client()


def _state(engine: Engine, layer: str) -> tuple:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM feature_changes WHERE layer = :l"),
                         {"l": layer}).scalar_one(),
            conn.execute(text("SELECT version FROM tile_versions WHERE collection = :l"),
                         {"l": layer}).scalar(),
            conn.execute(text("SELECT sum(version), count(*) FROM layer_features "
                              "WHERE layer = :l"), {"l": layer}).one(),
        )


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_a_layers_own_download_imports_back_with_no_change(
        layer_id: str, role: str, owner: Engine, app_engine: Engine, client,
        tmp_path: Path) -> None:
    """An editor's changes would wait for review; an administrator's would be published."""
    layer = LAYERS[layer_id]
    changes.set_requires_approval(owner, layer_id, True)
    editor = add_account(owner, f"rt-{role}-{layer_id}"[:40], role=role,
                         provinces=None if role == "admin" else ["50"], layers=[layer_id])
    response = client.get(f"/api/collections/{layer_id}/items?f=csv&province=50&limit=10000")
    assert response.status_code == 200
    path = tmp_path / f"{layer_id}.csv"
    path.write_bytes(response.data)
    rows = response.data.decode("utf-8-sig").count("\n") - 1
    assert rows > 0, layer_id
    before = _state(owner, layer_id)

    checked = import_file(app_engine, layer, path, account=editor, dry_run=True)
    assert checked.counts()["error"] == 0, [r.errors for r in checked.rows if r.errors][:3]
    assert (checked.inserted, checked.updated, checked.pending) == (0, 0, 0), layer_id

    committed = import_file(app_engine, layer, path, account=editor)
    assert committed.committed
    assert (committed.inserted, committed.updated, committed.pending) == (0, 0, 0), layer_id
    assert _state(owner, layer_id) == before


def test_a_dry_run_counts_the_changes_that_will_wait_for_review(
        owner: Engine, app_engine: Engine, client, tmp_path: Path) -> None:
    """With review on, the check counted the staged changes as 0 and the commit then sent
    them (issue 24: "update 0" checked, 5 committed). Four real edits: four, both times."""
    layer_id = "learning-centers"
    changes.set_requires_approval(owner, layer_id, True)
    editor = add_account(owner, "rt-four-edits", provinces=["50"], layers=[layer_id])
    text_ = client.get(f"/api/collections/{layer_id}/items?f=csv&province=50&limit=10000"
                       ).data.decode("utf-8-sig")
    lines = text_.splitlines()
    header = next(csv.reader([lines[0]]))
    rows = list(csv.reader(lines[1:]))
    lon = header.index("lon")
    for row in rows[:4]:  # each moves ~100 m east: a real change
        row[lon] = f"{float(row[lon]) + 0.001:.6f}"
    path = tmp_path / "four-edits.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, *rows])

    checked = import_file(app_engine, LAYERS[layer_id], path, account=editor, dry_run=True)
    assert (checked.inserted, checked.updated, checked.pending) == (0, 0, 4)
    assert "would send 4 for review" in checked.summary()
    committed = import_file(app_engine, LAYERS[layer_id], path, account=editor)
    assert committed.committed and committed.pending == 4
