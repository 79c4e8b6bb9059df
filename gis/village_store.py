"""Village points (``boundaries/villages.py`` reads them) into PostGIS, for place search."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from boundaries.villages import VillageReport, read_villages
from gis.bulk import insert_values


def load_villages(engine: Engine, data_dir: Path) -> VillageReport:
    """Replaces the villages table with the file's points, in one transaction."""
    rows, report = read_villages(data_dir)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM villages"))
        insert_values(conn, """
                INSERT INTO villages (name_th, search_key, subdistrict_code, district_code,
                                      province_code, geom, source)
                SELECT v.name, v.key, v.s, v.d, v.p, ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326),
                       v.source
                FROM (VALUES %s) AS v(name, key, s, d, p, lon, lat, source)
            """, rows, page_size=5000)
    return report


def villages_loaded(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM villages)")).scalar())
