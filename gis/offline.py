"""What a phone needs to keep one province for use with no network (issue 24, item 4): the
province's box and names. The list of what to fetch is made by web/offline.py from these."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class ProvinceBox:
    code: str
    name_th: str
    name_en: str
    bbox: tuple[float, float, float, float]


def province_box(engine: Engine, code: str) -> ProvinceBox | None:
    """The province's bounding box (lon/lat) from its boundary, and its names; None if there is
    no such province."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT name_th, name_en, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
            FROM (SELECT name_th, name_en, ST_Envelope(geom) AS e FROM provinces
                  WHERE code = :code) p
        """), {"code": code}).one_or_none()
    if row is None:
        return None
    return ProvinceBox(code, row[0], row[1],
                       (float(row[2]), float(row[3]), float(row[4]), float(row[5])))
