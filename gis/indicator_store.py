"""Indicator tables (read and matched by ``indicators/``) into PostGIS, one transaction each."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from indicators.catalog import TABLES
from indicators.tables import TableReport, TableSpec, read_values


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


def load_catalog(engine: Engine, data_dir: Path) -> list[TableReport]:
    """Loads every known table present in ``data_dir/indicators``; says which are missing."""
    folder = data_dir / "indicators"
    reports = []
    for spec in TABLES:
        path = folder / spec.file
        if path.exists():
            reports.append(load_table(engine, spec, path))
    return reports


def indicators_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM indicators)")).scalar())
