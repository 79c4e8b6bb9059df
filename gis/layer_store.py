"""PostGIS side of the point layers for import: where points lie, nearby namesakes, upserts.

``PostgisLayerStore`` is the ``layers.importer.LayerStore`` the importer and the sample use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy import Connection, Engine, text

from core.accounts import Account
from core.errors import Forbidden
from core.schema import Layer
from gis import changes
from gis.audit import log_personal_view
from gis.db import writer
from gis.errors import translated
from gis.locate import locate, namesakes_nearby
from gis.search import index_names
from layers import importer
from layers.importer import Carried, Existing, FeatureRow, ImportReport, Placement


def record_import(conn: Connection, *, layer: str, source_file: str, sha256: str, mode: str,
                  committed: bool, sample: bool, counts: dict[str, int],
                  message: str | None, account: Account | None = None) -> int:
    return conn.execute(text("""
        INSERT INTO layer_imports (layer, source_file, file_sha256, mode, committed, sample,
                                   rows_total, rows_ok, rows_warning, rows_error, inserted,
                                   updated, message, account_id)
        VALUES (:layer, :source_file, :sha256, :mode, :committed, :sample, :total, :ok,
                :warning, :error, :inserted, :updated, :message, :account)
        RETURNING id
    """), {"layer": layer, "source_file": source_file, "sha256": sha256, "mode": mode,
           "committed": committed, "sample": sample, "message": message,
           "account": account.id if account else None,
           **{k: counts.get(k, 0) for k in ("total", "ok", "warning", "error", "inserted",
                                             "updated")}}).scalar_one()


def _text_array(cur: Any, names: frozenset[str]) -> str:
    """A literal text[] of declared field names (mogrified, never pasted)."""
    return cur.mogrify("CAST(%s AS text[])", (sorted(names),)).decode()


def upsert_features(conn: Connection, layer: str, rows: list[FeatureRow], *, import_id: int,
                    source_file: str, sample: bool, carried: Carried) -> tuple[int, int]:
    """Inserts or updates by (layer, key). Returns (inserted, updated).

    An update replaces only what the file carries: properties and personal data are merged
    (``stored - carried columns || new``), so a field the file has no column for — the owner's
    name a public download leaves out — is kept, and a column the file has but left blank is
    cleared. The name and the stated areas are replaced only when the file has their columns.
    Sample rule: a feature stays sample once it is sample (``stored OR new``); an import marks
    rows sample when it is a sample import or the file's own ``sample`` column says so, and
    nothing but deleting it turns sample data into real data.
    """
    if not rows:
        return 0, 0
    values = [(
        layer, r.key, r.name, json.dumps(r.properties, ensure_ascii=False),
        json.dumps(r.personal, ensure_ascii=False), *r.given,
        r.placement.province_code, r.placement.district_code, r.placement.subdistrict_code,
        r.placement.region, r.lon, r.lat, sample or r.sample, source_file, import_id,
    ) for r in rows if r.placement is not None]
    raw: Any = conn.connection.dbapi_connection  # psycopg2's, for execute_values
    with translated(conn.engine), raw.cursor() as cur:
        public, personal = _text_array(cur, carried.public), _text_array(cur, carried.personal)
        name = "EXCLUDED.name" if carried.name else "f.name"
        given = "EXCLUDED" if carried.given else "f"
        sql = f"""
            INSERT INTO layer_features AS f (
                layer, key, name, properties, personal, given_province_code,
                given_district_code, given_subdistrict_code, province_code, district_code,
                subdistrict_code, region, geom, sample, source_file, import_id)
            SELECT v.layer, v.key, v.name, v.properties::jsonb, v.personal::jsonb, v.gp, v.gd,
                   v.gs, v.p, v.d, v.s, v.region, ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326),
                   v.sample, v.source_file, v.import_id
            FROM (VALUES %s) AS v(layer, key, name, properties, personal, gp, gd, gs, p, d, s,
                                  region, lon, lat, sample, source_file, import_id)
            ON CONFLICT (layer, key) DO UPDATE SET
                name = {name},
                properties = (f.properties - {public}) || EXCLUDED.properties,
                personal = (f.personal - {personal}) || EXCLUDED.personal,
                given_province_code = {given}.given_province_code,
                given_district_code = {given}.given_district_code,
                given_subdistrict_code = {given}.given_subdistrict_code,
                province_code = EXCLUDED.province_code, district_code = EXCLUDED.district_code,
                subdistrict_code = EXCLUDED.subdistrict_code, region = EXCLUDED.region,
                geom = EXCLUDED.geom, sample = f.sample OR EXCLUDED.sample,
                source_file = EXCLUDED.source_file, import_id = EXCLUDED.import_id,
                updated_at = now()
            RETURNING (xmax = 0) AS inserted
        """
        results = execute_values(cur, sql, values, page_size=1000, fetch=True)
    inserted = sum(1 for (was_insert,) in results if was_insert)
    return inserted, len(results) - inserted


class PostgisLayerWriter:
    """One import's transaction: batches are upserted as they come, then all of it is committed
    with the import's record, or rolled back (a refused import, a dry run).

    Every feature written gets an ``import`` change in ``feature_changes`` (before/after, the
    account; "cli" without one) — except sample loads, which are not CDD's data. When the layer
    asks for review and the account may not approve a row's province, the row is staged: its
    upsert runs in a savepoint to learn the resulting snapshot, is rolled back, and the change
    is stored pending, applied only by ``gis.changes.decide``.
    """

    def __init__(self, engine: Engine, report: ImportReport, *, source_path: str, sample: bool,
                 carried: Carried, account: Account | None = None):
        self.engine = engine
        self.conn = writer(engine).connect()  # its own transaction: the primary
        self.transaction = self.conn.begin()
        # Batch statements are estimated costly, and JIT compiling them cost more than running
        # them (as for gis.locate's lookups).
        self.conn.execute(text("SET LOCAL jit = off"))
        self.report, self.sample, self.carried = report, sample, carried
        self.account = account
        self.inserted = self.updated = self.pending = 0
        self.history = not sample
        self.review = account is not None and changes.requires_approval(self.conn, report.layer)
        # Only the file's name is kept: the path is the server's (var/uploads/<hash>/...) or the
        # operator's machine's, and the history page shows this column (issue 24: no server
        # paths in any page).
        self.import_id = record_import(
            self.conn, layer=report.layer, source_file=report.source_file, sha256=report.sha256,
            mode=report.mode, committed=True, sample=sample, counts={}, message=None,
            account=account)

    def _log_compared(self, before: dict[str, dict]) -> None:
        """PDPA: the file's personal values are compared with the stored ones (the report says
        which changed), so the import reads them: logged as a view, on a connection of its own
        so a dry run's rollback keeps the log entry."""
        if self.account is None or not self.carried.personal:
            return
        compared = [s for s in before.values()
                    if any((s["personal"] or {}).get(f) not in (None, "")
                           for f in self.carried.personal)]
        if compared:
            with self.engine.begin() as conn:
                log_personal_view(conn, self.account, self.report.layer,
                                  [s["id"] for s in compared], f"import {self.report.mode}",
                                  sorted(self.carried.personal))

    def _staged(self, row: FeatureRow, old: dict | None) -> bool:
        if not self.review or self.account is None:
            return False
        layer = self.report.layer
        provinces = {row.placement.province_code if row.placement else None}
        if old is not None:
            provinces.add(old["province_code"])
        return not all(self.account.may_approve(layer, p) for p in provinces)

    def _upsert(self, rows: list[FeatureRow]) -> tuple[int, int]:
        return upsert_features(
            self.conn, self.report.layer, rows, import_id=self.import_id,
            source_file=self.report.source_file, sample=self.sample, carried=self.carried)

    def write(self, rows: list[FeatureRow]) -> dict[str, Existing]:
        layer = self.report.layer
        before = changes.snapshots_by_key(self.conn, layer, [r.key for r in rows])
        existing = {key: Existing(s["properties"], s["personal"], s["lon"], s["lat"])
                    for key, s in before.items()}
        self._log_compared(before)
        staged = [r for r in rows if self._staged(r, before.get(r.key))]
        published = [r for r in rows if not self._staged(r, before.get(r.key))]
        inserted, _ = self._upsert(published)
        self.inserted += inserted
        if published:
            after = self._changed(before, [r.key for r in published])
            bumped = [s["id"] for s in after if s["key"] in before]
            # Updated means changed: a row imported again as it is stored is no update, so
            # a layer's own download imported back reports 0 (issue 24, item 6).
            self.updated += len(bumped)
            if bumped:  # a separate statement: the upsert cannot tell "changed" from "same"
                self.conn.execute(text("""
                    UPDATE layer_features SET version = version + 1 WHERE id = ANY(:ids)
                """), {"ids": bumped})
            if self.history:
                changes.record_import(self.conn, account=self.account, layer=layer,
                                      import_id=self.import_id, before=dict(before),
                                      after=after, pending=False)
        # The names' search forms (no tone marks, RTGS), in the same transaction (issue 15).
        index_names(self.conn, layer, [r.key for r in published if r.placement])
        if staged:
            savepoint = self.conn.begin_nested()
            self._upsert(staged)
            after = self._changed(before, [r.key for r in staged])
            savepoint.rollback()
            changes.record_import(self.conn, account=self.account, layer=layer,
                                  import_id=self.import_id, before=dict(before),
                                  after=after, pending=True)
            self.pending += len(after)
        return existing

    def _changed(self, before: dict[str, dict], keys: list[str]) -> list[dict]:
        """The snapshots of ``keys`` now, only those new or changed, with the version they
        get. Re-importing an unchanged row changes nothing: no version, no history entry, and
        its map tiles stay cached (the tile trigger ignores bookkeeping columns)."""
        out = []
        for key, snap in changes.snapshots_by_key(self.conn, self.report.layer, keys).items():
            old = before.get(key)
            if old is None:
                out.append(snap)
            elif {**old, "version": 0} != {**snap, "version": 0}:
                out.append({**snap, "version": old["version"] + 1})
        return out

    def finish(self, report: ImportReport, *, commit: bool) -> tuple[int, int, int]:
        """Commits or rolls back; a dry run is always rolled back (and, should anything
        commit its transaction, the database refuses: migration 0012)."""
        try:
            if commit and report.mode == "dry-run":
                raise ValueError("a dry run is never committed")
            if commit:
                counts = {**report.counts(), "inserted": self.inserted, "updated": self.updated}
                self.conn.execute(text("""
                    UPDATE layer_imports SET rows_total = :total, rows_ok = :ok,
                        rows_warning = :warning, rows_error = :error, inserted = :inserted,
                        updated = :updated
                    WHERE id = :id
                """), {**counts, "id": self.import_id})
                self.transaction.commit()
            else:
                self.transaction.rollback()
            # A dry run says how many changes would wait for review: the same staging ran, so
            # the check's count is the commit's (issue 24: a check said 0, the commit sent 5).
            if commit or report.mode == "dry-run":
                report.pending = self.pending
        finally:
            self.conn.close()
        return self.import_id, self.inserted, self.updated


def layer_count(engine: Engine, layer: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM layer_features WHERE layer = :layer"),
                            {"layer": layer}).scalar_one()


class PostgisLayerStore:
    """The importer's database side, over one engine."""

    def __init__(self, engine: Engine, account: Account | None = None):
        self.engine = engine
        self.account = account

    def locate(self, points: list[tuple[float, float]]) -> list[Placement | None]:
        return locate(self.engine, points)

    def namesakes_nearby(self, layer: str, rows: list[tuple[str, str, float, float]],
                         radius_m: float) -> dict[int, str]:
        return namesakes_nearby(self.engine, layer, rows, radius_m)

    def record(self, report: ImportReport, *, sample: bool, message: str) -> int:
        with self.engine.begin() as conn:
            return record_import(
                conn, layer=report.layer, source_file=report.source_file, sha256=report.sha256,
                mode=report.mode, committed=False, sample=sample, counts=report.counts(),
                message=message, account=self.account)

    def stored_provinces(self, layer: str, keys: list[str]) -> dict[str, str | None]:
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(text("""
                SELECT key, province_code FROM layer_features
                WHERE layer = :layer AND key = ANY(:keys)
            """), {"layer": layer, "keys": keys}).all()
        return {key: province for key, province in rows}

    def awaiting_review(self, layer: str, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(text("""
                SELECT feature_key, min(id) FROM feature_changes
                WHERE status = 'pending' AND layer = :layer AND feature_key = ANY(:keys)
                GROUP BY feature_key
            """), {"layer": layer, "keys": keys}).all()
        return {key: change_id for key, change_id in rows}

    def begin(self, report: ImportReport, *, source_path: str, sample: bool,
              carried: Carried) -> PostgisLayerWriter:
        return PostgisLayerWriter(self.engine, report, source_path=source_path, sample=sample,
                                  carried=carried, account=self.account)


def import_scope(account: Account, layer: Layer) -> dict[str, Any]:
    """The importer's options for what ``account`` may write, for every import path (the
    staff upload, the API, the CLI with an account): rows only in its provinces, and personal
    columns only with the personal-data right (``Account.may_see_personal``, the rule every
    other path uses)."""
    options: dict[str, Any] = {"personal_allowed": account.may_see_personal(layer.id)}
    if not account.is_admin and account.provinces is not None:
        options["allowed_provinces"] = account.provinces
    return options


def import_file(engine: Engine, layer: Layer, path: Path, *, account: Account | None = None,
                **options: Any) -> ImportReport:
    """``layers.importer.import_file`` against this database (options as there).

    With an ``account`` (the workspace, the API): the layer must be in its scope, rows outside
    its provinces are errors naming the province, the import and its changes record who made
    them, and where the layer asks for review the account's unapprovable rows wait as pending.
    """
    if account is not None:
        if account.disabled or not account.covers_layer(layer.id):
            raise Forbidden(f"ชั้นข้อมูล {layer.title_th} ไม่อยู่ในขอบเขตของบัญชี {account.name} / "
                            f"layer {layer.id} is outside the layers of account {account.name}")
        for name, value in import_scope(account, layer).items():
            options.setdefault(name, value)
    return importer.import_file(PostgisLayerStore(engine, account), layer, path, **options)
