"""Indicator tables (read and matched by ``indicators/``) into PostGIS, one transaction each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from core.errors import Conflict, NotFound
from gis.summary import FEATURE_COLUMN, VILLAGE_FIELD, village_layer_ids
from indicators.catalog import TABLES, read_catalog
from indicators.tables import IndicatorImportError, TableReport, TableSpec, read_values


def load_table(engine: Engine, spec: TableSpec, path: Path, *, skip_unmatched: bool = False,
               ) -> TableReport:
    """Replaces the table's indicators and their values in one transaction."""
    values, report = read_values(spec, path, skip_unmatched=skip_unmatched)
    with engine.begin() as conn:
        for ind in spec.indicators:
            conn.execute(text("""
                INSERT INTO indicators (id, title_th, title_en, unit, source, licence, level,
                                        source_file)
                VALUES (:id, :title_th, :title_en, :unit, :source, :licence, :level, :file)
                ON CONFLICT (id) DO UPDATE SET
                    title_th = EXCLUDED.title_th, title_en = EXCLUDED.title_en,
                    unit = EXCLUDED.unit, source = EXCLUDED.source, licence = EXCLUDED.licence,
                    level = EXCLUDED.level, source_file = EXCLUDED.source_file, loaded_at = now()
            """), {"id": ind.id, "title_th": ind.title_th, "title_en": ind.title_en,
                   "unit": ind.unit, "source": spec.source, "licence": spec.licence,
                   "level": spec.level, "file": path.name})
            conn.execute(text("DELETE FROM indicator_values WHERE indicator_id = :id"),
                         {"id": ind.id})
        if values:
            conn.execute(text("""
                INSERT INTO indicator_values (indicator_id, area_code, year, value)
                VALUES (:i, :c, :y, :v)
            """), [{"i": i, "c": c, "y": y, "v": v} for i, c, y, v in values])
    return report


def load_catalog(engine: Engine, data_dir: Path, *, catalog: Path | None = None,
                 ) -> list[TableReport]:
    """Loads every table declared (``indicators/catalog.json``, or ``catalog``) that is present
    in ``data_dir/indicators``."""
    folder = data_dir / "indicators"
    reports = []
    for spec in TABLES if catalog is None else read_catalog(catalog):
        path = folder / spec.file
        if path.exists():
            reports.append(load_table(engine, spec, path))
    return reports


def indicators_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM indicators)")).scalar())


# ---- tables added by staff (issue 23) -------------------------------------------------------

def known_villages(engine: Engine) -> frozenset[str]:
    """The village codes the dashboards know (the layers' หมู่ที่ per subdistrict, as
    ``gis.summary``'s villages): a village-level table is matched against these."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT DISTINCT {FEATURE_COLUMN["village"]} FROM layer_features
            WHERE layer = ANY(:layers) AND subdistrict_code IS NOT NULL
              AND properties->>'{VILLAGE_FIELD}' ~ '^[0-9]{{1,2}}$'
        """), {"layers": village_layer_ids()}).scalars().all()
    return frozenset(rows)


def check_upload(engine: Engine, spec: TableSpec, path: Path) -> tuple[
        list[tuple[str, str, int | None, float | None]], TableReport]:
    """Reads and matches a staff table, writing nothing: every row's problem is reported."""
    villages = known_villages(engine) if spec.level == "village" else frozenset()
    return read_values(spec, path, collect=True, villages=villages)


def _refuse_catalogue_id(conn: Connection, indicator_id: str) -> None:
    loaded_by_cli = conn.execute(text(
        "SELECT uploaded_at IS NULL FROM indicators WHERE id = :id"), {"id": indicator_id},
    ).scalar()
    if loaded_by_cli:
        raise Conflict(f"ตัวชี้วัด {indicator_id} มาจากแคตตาล็อก ไม่ใช่ที่เจ้าหน้าที่เพิ่ม / "
                       f"{indicator_id} is a catalogue indicator (cddgis load indicators), "
                       "not a staff table: choose another id")


def replace_staff_table(engine: Engine, spec: TableSpec, path: Path, *, account_id: int,
                        theme: str | None) -> TableReport:
    """Checks the table again and, if no row has a problem, replaces the indicator and its
    values in one transaction with a history row: a failure anywhere leaves the old values."""
    values, report = check_upload(engine, spec, path)
    if report.problems:
        raise IndicatorImportError(
            f"{len(report.problems)} แถวมีปัญหา ไม่ได้บันทึก / {len(report.problems)} rows have "
            "problems; nothing was saved")
    (ind,) = spec.indicators
    with engine.begin() as conn:
        _refuse_catalogue_id(conn, ind.id)
        conn.execute(text("""
            INSERT INTO indicators (id, title_th, title_en, unit, source, licence, level,
                                    source_file, theme, uploaded_by, uploaded_at)
            VALUES (:id, :title_th, :title_en, :unit, :source, :licence, :level, :file,
                    :theme, :account, now())
            ON CONFLICT (id) DO UPDATE SET
                title_th = EXCLUDED.title_th, title_en = EXCLUDED.title_en,
                unit = EXCLUDED.unit, source = EXCLUDED.source, licence = EXCLUDED.licence,
                level = EXCLUDED.level, source_file = EXCLUDED.source_file,
                theme = EXCLUDED.theme, uploaded_by = EXCLUDED.uploaded_by,
                uploaded_at = now(), loaded_at = now()
        """), {"id": ind.id, "title_th": ind.title_th, "title_en": ind.title_en,
               "unit": ind.unit, "source": spec.source, "licence": spec.licence,
               "level": spec.level, "file": spec.file, "theme": theme, "account": account_id})
        conn.execute(text("DELETE FROM indicator_values WHERE indicator_id = :id"),
                     {"id": ind.id})
        if values:
            conn.execute(text("""
                INSERT INTO indicator_values (indicator_id, area_code, year, value)
                VALUES (:i, :c, :y, :v)
            """), [{"i": i, "c": c, "y": y, "v": v} for i, c, y, v in values])
        conn.execute(text("""
            INSERT INTO indicator_uploads (indicator_id, action, account_id, file_name, areas,
                                           "values")
            VALUES (:id, 'replace', :account, :file, :areas, :values)
        """), {"id": ind.id, "account": account_id, "file": spec.file, "areas": report.matched,
               "values": report.values})
    return report


def delete_staff_table(engine: Engine, indicator_id: str, *, account_id: int) -> None:
    """Deletes a staff-added indicator and its values (the history keeps a row saying so)."""
    with engine.begin() as conn:
        _refuse_catalogue_id(conn, indicator_id)
        gone = conn.execute(text("DELETE FROM indicators WHERE id = :id AND uploaded_at IS NOT "
                                 "NULL RETURNING id"), {"id": indicator_id}).first()
        if gone is None:
            raise NotFound(f"ไม่มีตัวชี้วัด {indicator_id} / no staff indicator {indicator_id!r}")
        conn.execute(text("""
            INSERT INTO indicator_uploads (indicator_id, action, account_id)
            VALUES (:id, 'delete', :account)
        """), {"id": indicator_id, "account": account_id})


def staff_tables(engine: Engine) -> list[dict[str, Any]]:
    """The staff-added indicators, newest first, with who uploaded them and their counts."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT i.id, i.title_th, i.title_en, i.unit, i.level, i.theme, i.source,
                   i.source_file, i.uploaded_at, a.name AS account,
                   (SELECT count(*) FROM indicator_values v WHERE v.indicator_id = i.id)
                       AS n_values
            FROM indicators i LEFT JOIN accounts a ON a.id = i.uploaded_by
            WHERE i.uploaded_at IS NOT NULL ORDER BY i.uploaded_at DESC, i.id
        """)).mappings().all()
    return [dict(r) for r in rows]


def staff_history(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT u.id, u.indicator_id, u.action, u.file_name, u.areas, u."values", u.at,
                   a.name AS account
            FROM indicator_uploads u LEFT JOIN accounts a ON a.id = u.account_id
            ORDER BY u.id DESC LIMIT :limit
        """), {"limit": limit}).mappings().all()
    return [dict(r) for r in rows]
