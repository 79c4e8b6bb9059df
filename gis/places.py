"""Finding a place by name: provinces, districts, subdistricts and villages, Thai or English."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import geothai
from geothai import normalize
from sqlalchemy import Engine, text

from core.areas import village_key


@dataclass(frozen=True)
class Place:
    kind: str  # province, district, subdistrict, village
    code: str
    name_th: str
    name_en: str | None
    context_th: str  # the areas it lies in
    lon: float
    lat: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def like_escape(text_: str) -> str:
    """A user's text as a LIKE pattern that matches itself: % and _ are literal (ESCAPE '\\')."""
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_TABLE = {"province": "provinces", "district": "districts", "subdistrict": "subdistricts"}


# How many registry matches are read when a search is limited to an area: a common name
# (บ้านหนองบัว, ต.ในเมือง) has dozens of namesakes, and the ones inside the area may come last.
_WITHIN_CANDIDATES = 200


def search(engine: Engine, query: str, limit: int = 10, within: str | None = None) -> list[Place]:
    """Places whose name matches ``query``, areas first, then villages.

    ``within`` (a 2-, 4- or 6-digit DOPA code) keeps only places inside that area, so the staff
    locator's province filter narrows the places as well as the centres (issue 24: with the
    province set to เชียงใหม่, "บ้านหนองบัว" listed eight namesakes elsewhere)."""
    query = query.strip()
    if not normalize(query):
        return []
    areas = geothai.search(query, limit=_WITHIN_CANDIDATES if within else limit)
    if within:
        areas = [r for r in areas if str(r.area.code).startswith(within)][:limit]
    found: list[Place] = []
    with engine.connect() as conn:
        for result in areas:
            area = result.area
            row = conn.execute(text(f"""
                SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
                FROM {_TABLE[result.level]} WHERE code = :code
            """), {"code": area.code}).one_or_none()
            if row is None:
                continue  # in the registry but with no geometry loaded
            found.append(Place(result.level, area.code, area.name_th, area.name_en,
                               _context(area.code), round(row[0], 6), round(row[1], 6)))
        key = village_key(query)
        if key and len(found) < limit:
            rows = conn.execute(text("""
                SELECT id, name_th, subdistrict_code, ST_X(geom), ST_Y(geom)
                FROM villages WHERE search_key LIKE :prefix ESCAPE '\\'
                  AND (CAST(:within AS text) IS NULL OR subdistrict_code LIKE :within || '%')
                ORDER BY search_key = :key DESC, name_th, id
                LIMIT :limit
            """), {"prefix": like_escape(key) + "%", "key": key, "limit": limit - len(found),
                  "within": within}).all()
            found += [Place("village", str(i), name, None, _context(code or ""), round(x, 6),
                            round(y, 6)) for i, name, code, x, y in rows]
    return found


def _context(code: str) -> str:
    address = geothai.address(code) if len(code) == 6 else None
    if address:
        return (f"ต.{address.subdistrict.name_th} อ.{address.district.name_th} "
                f"จ.{address.province.name_th}")
    district = geothai.district(code) if len(code) == 4 else None
    province = geothai.province(code[:2]) if district else None
    if province:
        return f"จ.{province.name_th}"
    return ""
