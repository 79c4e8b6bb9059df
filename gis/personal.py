"""Erasing one person's data, and keeping uploads no longer than needed (PDPA, issue 25).

Thailand's PDPA (and its 2024 notification on erasure) expects personal data to be erased or
anonymised on request, copies included. A person's data lives in the current rows
(``layer_features.personal``), in every before/after copy of the change history
(``feature_changes``, pending and rejected changes too), possibly in upload reports
(``upload_jobs``) and in uploaded files still on disk. ``erase`` removes it from all of them in
one transaction (the files right after it commits) and records the erasure in
``personal_erasures`` — who, when, how, which features, how many copies — never the value.

Two ways to name the person:
- by feature (keys): every personal value of those features is erased;
- by name: every personal value equal to the name (ignoring surrounding spaces), in any feature
  of the layer. ``find`` lists the matches first, so a person confirms before anything changes.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from core.accounts import Account
from core.errors import BadParameter, NotFound
from core.readers import FileProblem, open_table
from core.schema import Layer
from gis.audit import CLIENT_ADDRESS

log = logging.getLogger(__name__)

ERASED = "[ลบแล้ว / erased]"
"""What an erased value becomes inside an upload report's text."""


@dataclass(frozen=True)
class Match:
    """A feature holding the person's data: where, and in which personal fields."""

    feature_id: int
    key: str
    name: str | None
    fields: tuple[str, ...]
    retired: bool


@dataclass
class Erasure:
    erasure_id: int
    feature_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)


# A jsonb object of personal values without those that match (:name; by feature: all of them).
_KEPT = """(SELECT coalesce(jsonb_object_agg(k, v), '{{}}'::jsonb)
            FROM jsonb_each(coalesce({personal}, '{{}}'::jsonb)) AS e(k, v)
            WHERE NOT ({matches}))"""
_VALUE_MATCHES = "jsonb_typeof(v) = 'string' AND btrim(v #>> '{}') = :name"
_ANY_MATCH = """EXISTS (SELECT 1 FROM jsonb_each(coalesce({personal}, '{{}}'::jsonb)) AS e(k, v)
                        WHERE {matches})"""


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = name.strip()
    if len(cleaned) < 2:
        raise BadParameter("name: ใส่ชื่อที่จะค้นหาอย่างน้อย 2 ตัวอักษร / give at least 2 characters "
                           "of the name to find")
    return cleaned


def _feature_ids(conn: Connection, layer: Layer, keys: list[str]) -> list[tuple[int, str]]:
    """(id, key) of live features and of retired or pending ones known only to the history."""
    rows = conn.execute(text("""
        SELECT id, key FROM layer_features WHERE layer = :layer AND key = ANY(:keys)
        UNION
        SELECT DISTINCT feature_id, feature_key FROM feature_changes
        WHERE layer = :layer AND feature_key = ANY(:keys) AND feature_id IS NOT NULL
    """), {"layer": layer.id, "keys": keys}).all()
    return [(int(i), k) for i, k in rows]


def find(engine: Engine, layer: Layer, *, keys: list[str] | None = None,
         name: str | None = None) -> list[Match]:
    """The features holding the person's data (current rows and history), for confirmation."""
    name = _clean_name(name)
    if (keys is None) == (name is None):
        raise BadParameter("give either feature keys or a name / ระบุรหัสข้อมูลหรือชื่อ อย่างใดอย่างหนึ่ง")
    matches = "true" if name is None else _VALUE_MATCHES
    with engine.connect() as conn:
        if keys is not None:
            found = _feature_ids(conn, layer, keys)
            ids = [i for i, _ in found]
            if not ids:
                raise NotFound(f"ไม่พบข้อมูลรหัส {', '.join(keys)[:200]} / no feature with these "
                               f"keys in {layer.id}")
            where_rows = "f.id = ANY(:ids)"
            where_history = "c.feature_id = ANY(:ids)"
        else:
            ids = []
            where_rows = _ANY_MATCH.format(personal="f.personal", matches=matches)
            where_history = " OR ".join(
                _ANY_MATCH.format(personal=f"c.{side}->'personal'", matches=matches)
                for side in ("before", "after"))
        rows = conn.execute(text(f"""
            WITH hits AS (
                SELECT f.id, f.key, f.name, f.personal AS personal, false AS retired
                FROM layer_features f WHERE f.layer = :layer AND ({where_rows})
                UNION ALL
                SELECT c.feature_id, c.feature_key, coalesce(c.after, c.before)->>'name',
                       coalesce(c.before->'personal', '{{}}'::jsonb)
                           || coalesce(c.after->'personal', '{{}}'::jsonb),
                       NOT EXISTS (SELECT 1 FROM layer_features f WHERE f.id = c.feature_id)
                FROM feature_changes c WHERE c.layer = :layer AND ({where_history})
            )
            SELECT id, min(key), min(name), bool_and(retired),
                   array(SELECT DISTINCT k FROM hits h2, jsonb_each(h2.personal) AS e(k, v)
                         WHERE h2.id = hits.id AND ({matches}) ORDER BY k)
            FROM hits GROUP BY id ORDER BY min(key)
        """), {"layer": layer.id, "ids": ids, "name": name}).all()
    return [Match(int(i), k, n, tuple(fields), bool(retired))
            for i, k, n, retired, fields in rows if fields]


def _values_of(conn: Connection, layer: Layer, ids: list[int]) -> set[str]:
    """Every personal value the features hold or held (to find their copies elsewhere)."""
    rows = conn.execute(text("""
        SELECT v #>> '{}' FROM layer_features f, jsonb_each(f.personal) AS e(k, v)
        WHERE f.layer = :layer AND f.id = ANY(:ids) AND jsonb_typeof(v) = 'string'
        UNION
        SELECT v #>> '{}' FROM feature_changes c,
               jsonb_each(coalesce(c.before->'personal', '{}'::jsonb)
                          || coalesce(c.after->'personal', '{}'::jsonb)) AS e(k, v)
        WHERE c.layer = :layer AND c.feature_id = ANY(:ids) AND jsonb_typeof(v) = 'string'
    """), {"layer": layer.id, "ids": ids}).scalars()
    return {v.strip() for v in rows if v and len(v.strip()) >= 2}


def _redact_reports(conn: Connection, layer: Layer, values: set[str]) -> int:
    """Upload reports of the layer whose text holds a value: the value replaced."""
    changed = 0
    for value in sorted(values):
        inside_json = json.dumps(value, ensure_ascii=False)[1:-1]
        changed += conn.execute(text("""
            UPDATE upload_jobs SET
                report = CAST(replace(CAST(report AS text), :v, :erased) AS jsonb),
                commit_report = CAST(replace(CAST(commit_report AS text), :v, :erased) AS jsonb)
            WHERE layer = :layer AND (strpos(CAST(report AS text), :v) > 0
                                      OR strpos(CAST(commit_report AS text), :v) > 0)
        """), {"layer": layer.id, "v": inside_json, "erased": ERASED}).rowcount
    return changed


def _files_holding(conn: Connection, layer: Layer, uploads_dir: Path,
                   values: set[str]) -> list[tuple[int, Path]]:
    """Stored upload files of the layer with a cell equal to one of the values."""
    jobs = conn.execute(text("SELECT id, stored_name FROM upload_jobs WHERE layer = :layer"),
                        {"layer": layer.id}).all()
    out = []
    for job_id, stored in jobs:
        path = uploads_dir / stored
        if not path.is_file():
            continue
        try:
            table = open_table(path)
            holds = any(str(cell).strip() in values
                        for record in table.records for cell in record.cells.values()
                        if cell is not None)
        except (FileProblem, ValueError, OSError):
            holds = True  # a file we cannot read cannot be shown not to hold it: it goes
        if holds:
            out.append((int(job_id), path))
    return out


def erase(engine: Engine, layer: Layer, *, keys: list[str] | None = None,
          name: str | None = None, actor: str, account: Account | None = None,
          uploads_dir: Path | None = None, reason: str | None = None) -> Erasure:
    """Erases the person's data everywhere cddgis keeps it; see the module docstring."""
    name = _clean_name(name)
    matches = find(engine, layer, keys=keys, name=name)
    ids = [m.feature_id for m in matches]
    counts = {"features": 0, "history_entries": 0, "upload_reports": 0, "upload_files": 0}
    with engine.begin() as conn:
        values = {name} if name is not None else _values_of(conn, layer, ids)
        matching = "true" if name is None else _VALUE_MATCHES
        if ids:
            counts["features"] = conn.execute(text(f"""
                UPDATE layer_features f
                SET personal = {_KEPT.format(personal="f.personal", matches=matching)},
                    version = version + 1, updated_at = now()
                WHERE f.layer = :layer AND f.id = ANY(:ids)
                  AND {_ANY_MATCH.format(personal="f.personal", matches=matching)}
            """), {"layer": layer.id, "ids": ids, "name": name}).rowcount
            sides = {side: _KEPT.format(personal=f"c.{side}->'personal'", matches=matching)
                     for side in ("before", "after")}
            counts["history_entries"] = conn.execute(text(f"""
                UPDATE feature_changes c SET
                    before = CASE WHEN c.before ? 'personal'
                        THEN jsonb_set(c.before, '{{personal}}', {sides['before']})
                        ELSE c.before END,
                    after = CASE WHEN c.after ? 'personal'
                        THEN jsonb_set(c.after, '{{personal}}', {sides['after']})
                        ELSE c.after END
                WHERE c.layer = :layer AND c.feature_id = ANY(:ids)
                  AND ({_ANY_MATCH.format(personal="c.before->'personal'", matches=matching)}
                    OR {_ANY_MATCH.format(personal="c.after->'personal'", matches=matching)})
            """), {"layer": layer.id, "ids": ids, "name": name}).rowcount
        counts["upload_reports"] = _redact_reports(conn, layer, values)
        files = _files_holding(conn, layer, uploads_dir, values) if uploads_dir else []
        for job_id, _ in files:
            conn.execute(text("""
                UPDATE upload_jobs SET message = :m, updated_at = now(),
                    status = CASE WHEN status IN ('queued', 'checked', 'failed')
                                  THEN 'cancelled' ELSE status END
                WHERE id = :id
            """), {"id": job_id, "m": "ไฟล์ถูกลบเพราะมีข้อมูลส่วนบุคคลที่ขอให้ลบ / the file was "
                                    "deleted: it held personal data that was erased"})
        counts["upload_files"] = len(files)
        erasure_id = conn.execute(text("""
            INSERT INTO personal_erasures (account_id, actor, address, layer, method,
                                           feature_ids, counts, reason)
            VALUES (:account, :actor, :address, :layer, :method, :ids, CAST(:counts AS jsonb),
                    :reason)
            RETURNING id
        """), {"account": account.id if account else None, "actor": actor[:100],
               "address": CLIENT_ADDRESS.get(), "layer": layer.id,
               "method": "name" if name is not None else "feature", "ids": ids,
               "counts": json.dumps(counts), "reason": (reason or None) and reason[:500]}
        ).scalar_one()
    for _, path in files:  # after the commit: a rolled-back erasure keeps its files
        _delete_upload(path, uploads_dir)
    log.info("personal data erasure %s: layer %s, %d features, counts %s", erasure_id,
             layer.id, len(ids), counts)
    return Erasure(erasure_id, ids, counts)


def purge_uploads(engine: Engine, uploads_dir: Path, older_than_days: int) -> dict[str, int]:
    """Retention: uploads older than ``older_than_days`` lose their stored file and their
    row-by-row reports (which name rows of personal data); the job's counts stay. Running jobs
    that old lost their process long ago (``upload_jobs.STALE_MINUTES``)."""
    with engine.begin() as conn:
        old = conn.execute(text("""
            UPDATE upload_jobs SET report = report - 'rows' - 'fixes',
                commit_report = commit_report - 'rows',
                status = CASE WHEN status IN ('queued', 'checking', 'checked', 'failed')
                              THEN 'cancelled' ELSE status END,
                message = coalesce(message || ' · ', '') || :m, updated_at = now()
            WHERE created_at < now() - make_interval(days => :days)
              AND (report ? 'rows' OR commit_report ? 'rows' OR status IN
                   ('queued', 'checking', 'checked', 'failed'))
            RETURNING stored_name
        """), {"days": older_than_days,
               "m": f"ลบไฟล์และรายงานรายแถวเมื่อครบ {older_than_days} วัน / the file and the "
                    f"row-by-row report were deleted after {older_than_days} days"}).scalars()
        stored = list(old)
    files = 0
    for name in stored:
        path = uploads_dir / name
        files += path.is_file()
        _delete_upload(path, uploads_dir)
    return {"uploads": len(stored), "files": files}


def _delete_upload(path: Path, uploads_dir: Path | None) -> None:
    """An upload's file and the folder of its own that holds it."""
    if uploads_dir is not None and path.parent != uploads_dir and \
            path.parent.parent == uploads_dir:
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def erasures(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest erasures, for the admin page."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT id, at, actor, layer, method, cardinality(feature_ids) AS features, counts,
                   reason
            FROM personal_erasures ORDER BY id DESC LIMIT :limit
        """), {"limit": limit}).mappings().all()
    return [dict(r) for r in rows]
