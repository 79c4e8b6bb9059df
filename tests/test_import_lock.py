"""A long import never blocks the layer's other writers (issue 25, item 7): the tile cache is
invalidated at commit (migration 0017), not under a lock held from the import's first write.

Before: the tile-cache triggers took the layer's advisory lock exclusively at the import's
first write, until it ended; an API edit of another feature of the layer waited for the whole
import (a 504 after the statement timeout)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from core.accounts import Account
from gis import changes
from gis import tiles as gt
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import PostgisLayerStore, import_file
from gis.locate import locate
from layers.definitions import LAYERS
from layers.importer import Carried, FeatureRow, ImportReport
from tests.staff import add_account
from tests.workers import db_name

DB = db_name("cddgis_test_import_lock")
KNN = LAYERS["khok-nong-na"]
EDITED = (98.9853, 18.7883)  # Chiang Mai: the feature the officer edits
IMPORTED = (100.5018, 13.7563)  # Bangkok: where the held import writes
Z = 12


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    engine = engine_for(copy_database(DB))
    changes.set_requires_approval(engine, KNN.id, False)
    return engine


@pytest.fixture(scope="module")
def impatient(owner: Engine, cluster: ClusterInfo) -> Engine:
    """The web app's role, as the API writes, with a lock wait of at most 1 s: a wait for the
    import becomes an error instead of a pass after the import ends."""
    engine = engine_for(cluster.url(database=DB, role="app"))

    @event.listens_for(engine, "connect")
    def _short_waits(dbapi_connection: object, _record: object) -> None:
        with dbapi_connection.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute("SET lock_timeout = '1s'")

    return engine


@pytest.fixture(scope="module")
def officer(owner: Engine) -> Account:
    return add_account(owner, "lock-officer", layers=[KNN.id])


def _tile(engine: Engine, lon: float, lat: float) -> gt.Tile:
    return gt.get_tile(engine, KNN, gt.TileFilters(), Z, *gt.lonlat_to_tile(lon, lat, Z))


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(version), 0) FROM tile_versions "
                                 "WHERE collection = :l"), {"l": KNN.id}).scalar_one()


def _pending(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM tile_cache_pending")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM tile_cache_pending_xacts")).scalar_one())


def _report(name: str) -> ImportReport:
    return ImportReport(layer=KNN.id, source_file=name, sha256="", mode="all-or-nothing",
                        file_problems=[], rows=[])


def _row(engine: Engine, key: str, lon: float, lat: float) -> FeatureRow:
    return FeatureRow(key=key, name=key, properties={
        "plot_id": key, "plot_size_rai": 2.0, "model_level": "HLM", "budget_year": 2566},
        personal={}, lon=lon, lat=lat, given=(None, None, None),
        placement=locate(engine, [(lon, lat)])[0])


def test_an_open_import_does_not_block_an_edit_of_another_feature(
        owner: Engine, impatient: Engine, officer: Account) -> None:
    edited = changes.create_feature(owner, officer, KNN, {
        "plot_id": "LOCK-EDIT", "plot_size_rai": "3", "model_level": "HLM",
        "budget_year": "2565"}, *EDITED)
    assert not _tile(owner, *EDITED).cached and _tile(owner, *EDITED).cached
    assert not _tile(owner, *IMPORTED).cached and _tile(owner, *IMPORTED).cached
    version = _version(owner)

    # The import's write transaction, open: a batch written, not finished.
    report = _report("held.csv")
    carried = Carried(public=frozenset({"plot_id", "plot_size_rai", "model_level",
                                        "budget_year"}), personal=frozenset(), name=True,
                      given=False)
    writer = PostgisLayerStore(owner).begin(report, source_path="held.csv", sample=False,
                                            carried=carried)
    try:
        writer.write([_row(owner, f"LOCK-IMP-{i}", IMPORTED[0] + i * 1e-4, IMPORTED[1])
                      for i in range(3)])
        # Another writer of the same layer saves a change to a different feature, through the
        # path the API and the forms use, and does not wait for the import.
        saved = changes.update_feature(impatient, officer, KNN, edited.feature_id,
                                       {"plot_size_rai": "7"}, expected_version=1)
        assert saved.status == "published" and saved.version == 2
        created = changes.create_feature(impatient, officer, KNN, {  # and a new one
            "plot_id": "LOCK-NEW", "plot_size_rai": "1", "model_level": "HLM",
            "budget_year": "2566"}, EDITED[0] + 0.001, EDITED[1])
        assert created.status == "published"
        # And a second import of the layer (other keys) writes and commits meanwhile.
        other = _report("other.csv")
        second = PostgisLayerStore(impatient).begin(other, source_path="other.csv",
                                                    sample=False, carried=carried)
        try:
            second.write([_row(owner, "LOCK-OTHER", EDITED[0] - 0.001, EDITED[1])])
        except BaseException:
            second.finish(other, commit=False)
            raise
        assert second.finish(other, commit=True)[1:] == (1, 0)
        assert not _tile(owner, *EDITED).cached  # the commits forgot the tile
        # A tile of the import's place built now shows the committed data (no import row yet).
        during = _tile(owner, *IMPORTED)
        assert b"LOCK-IMP-0" not in during.data
        # Nobody else sees the import's pending invalidation.
        assert _pending(owner) == (0, 0)
        writer.finish(report, commit=True)
    except BaseException:
        writer.finish(report, commit=False)
        raise

    after = _tile(owner, *IMPORTED)
    assert not after.cached and b"LOCK-IMP-0" in after.data, "a stale tile outlived the import"
    assert _tile(owner, *IMPORTED).cached
    edited_tile = _tile(owner, *EDITED)
    assert edited_tile.cached and b"LOCK-EDIT" in edited_tile.data
    assert b"LOCK-NEW" in edited_tile.data and b"LOCK-OTHER" in edited_tile.data
    assert _version(owner) == version + 4  # edit, creation, two imports: each at its commit
    assert _pending(owner) == (0, 0)


def test_a_dry_run_leaves_no_pending_rows_and_no_version(owner: Engine,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "dry.csv"
    path.write_text("plot_id,plot_size_rai,model_level,budget_year,lat,lon\n"
                    f"DRY-1,2,HLM,2566,{IMPORTED[1]},{IMPORTED[0] + 0.01}\n", encoding="utf-8")
    _tile(owner, IMPORTED[0] + 0.01, IMPORTED[1])
    version = _version(owner)
    report = import_file(owner, KNN, path, dry_run=True)
    assert report.inserted == 1 and not report.committed, report.summary()
    assert _pending(owner) == (0, 0)
    assert _version(owner) == version
    assert _tile(owner, IMPORTED[0] + 0.01, IMPORTED[1]).cached  # nothing forgotten


def test_a_big_transaction_forgets_by_cells(owner: Engine) -> None:
    """Past TILE_EXACT_POINTS positions the commit forgets the tiles of whole grid cells: still
    every tile holding a written point, never fewer."""
    lon, lat = 99.0087, 18.5745  # Lamphun
    kept_far = (102.8359, 16.4322)  # Khon Kaen: nowhere near the rows
    assert not _tile(owner, lon, lat).cached
    before = _tile(owner, lon, lat)
    assert before.cached
    assert not _tile(owner, *kept_far).cached
    with owner.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            SELECT :l, 'CELL-' || i, 'CELL-' || i, CAST(:p AS jsonb),
                   ST_SetSRID(ST_MakePoint(:lon + (i % 100) * 1e-5, :lat + (i / 100) * 1e-5),
                              4326)
            FROM generate_series(1, 10500) AS i
        """), {"l": KNN.id, "p": json.dumps({"plot_id": "CELL"}), "lon": lon, "lat": lat})
        assert conn.execute(text("SELECT count(*) FROM tile_cache_pending")).scalar_one() \
            == 10500
    again = _tile(owner, lon, lat)
    assert not again.cached and again.data != before.data
    assert _tile(owner, *kept_far).cached
    assert _pending(owner) == (0, 0)
