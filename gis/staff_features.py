"""What the staff map pages read (issue 11): a layer's features in an account's scope, its
retired features, and the extent of the scope. Writes go through ``gis.changes`` only.

Scope is by province (``None`` = every province): an officer's map and list never hold a point
of another province, so neither the page nor its JSON can show one. Personal fields are never
selected here; the feature page asks ``gis.changes.feature_for_staff``, which logs the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from gis.places import like_escape

LIST_LIMIT = 500
"""The map and list show at most this many points of the view at once (the rest: zoom in)."""


@dataclass(frozen=True)
class StaffPoint:
    id: int
    key: str
    name: str | None
    lon: float
    lat: float
    province_code: str | None
    place: str
    """Subdistrict, district, province in Thai: where the point lies."""
    version: int
    pending: bool
    """A change to it waits for approval: it is locked for other edits until decided."""

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "name": self.name, "lon": self.lon,
                "lat": self.lat, "province_code": self.province_code, "place": self.place,
                "version": self.version, "pending": self.pending}


def _scope(provinces: frozenset[str] | None, column: str) -> tuple[str, dict[str, object]]:
    if provinces is None:
        return "TRUE", {}
    return f"{column} = ANY(CAST(:provinces AS text[]))", {"provinces": sorted(provinces)}


def features_in_scope(engine: Engine, layer: str, provinces: frozenset[str] | None, *,
                      search: str | None = None,
                      bbox: tuple[float, float, float, float] | None = None,
                      limit: int = LIST_LIMIT) -> tuple[list[StaffPoint], bool]:
    """Points of ``layer`` in the provinces (and the box, and matching ``search`` in the key or
    the name), by key; and whether there were more than ``limit``."""
    scope, params = _scope(provinces, "f.province_code")
    clauses = ["f.layer = :layer", scope]
    params.update({"layer": layer, "limit": limit + 1})
    if bbox is not None:
        clauses.append("f.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
        params.update(zip(("minx", "miny", "maxx", "maxy"), bbox, strict=True))
    if search:
        clauses.append("(f.key ILIKE :search ESCAPE '\\' OR f.name ILIKE :search ESCAPE '\\')")
        params["search"] = "%" + like_escape(search) + "%"
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT f.id, f.key, f.name, ST_X(f.geom), ST_Y(f.geom), f.province_code,
                   concat_ws(' · ', s.name_th, d.name_th, p.name_th), f.version,
                   EXISTS (SELECT 1 FROM feature_changes c
                           WHERE c.layer = f.layer AND c.feature_id = f.id
                             AND c.status = 'pending')
            FROM layer_features f
            LEFT JOIN provinces p ON p.code = f.province_code
            LEFT JOIN districts d ON d.code = f.district_code
            LEFT JOIN subdistricts s ON s.code = f.subdistrict_code
            WHERE {" AND ".join(clauses)}
            ORDER BY f.key
            LIMIT :limit
        """), params).all()
    points = [StaffPoint(int(r[0]), r[1], r[2], float(r[3]), float(r[4]), r[5], r[6] or "",
                         int(r[7]), bool(r[8])) for r in rows[:limit]]
    return points, len(rows) > limit


def retired_in_scope(engine: Engine, layer: str, provinces: frozenset[str] | None,
                     limit: int = 200) -> list[dict[str, Any]]:
    """Features whose last published change retired them and that are still gone, newest
    first: what may be restored. The province is the one the feature had when retired."""
    scope, params = _scope(provinces, "last.before->>'province_code'")
    params.update({"layer": layer, "limit": limit})
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT last.feature_id, last.before->>'key', last.before->>'name', last.at,
                   last.actor
            FROM (
                SELECT DISTINCT ON (c.feature_id) c.feature_id, c.kind, c.before, c.at, c.actor
                FROM feature_changes c
                WHERE c.layer = :layer AND c.status = 'published'
                ORDER BY c.feature_id, c.id DESC
            ) last
            WHERE last.kind = 'retire' AND {scope}
              AND NOT EXISTS (SELECT 1 FROM layer_features f WHERE f.id = last.feature_id)
            ORDER BY last.at DESC
            LIMIT :limit
        """), params).all()
    return [{"id": int(r[0]), "key": r[1], "name": r[2], "at": r[3], "actor": r[4]}
            for r in rows]


def scope_extent(engine: Engine, layer: str, provinces: frozenset[str] | None,
                 ) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the account's provinces (the whole country when
    unscoped), for the map's first view."""
    if provinces is None:
        sql, params = "SELECT ST_Extent(geom_lod3) FROM provinces", {}
    else:
        sql = "SELECT ST_Extent(geom_lod3) FROM provinces WHERE code = ANY(CAST(:p AS text[]))"
        params = {"p": sorted(provinces)}
    with engine.connect() as conn:
        box = conn.execute(text(f"""
            SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
            FROM ({sql}) AS t(b)
        """), params).one_or_none()
    if box is None or box[0] is None:
        return None
    return [[float(box[1]), float(box[0])], [float(box[3]), float(box[2])]]


def place_names(engine: Engine, province: str | None, district: str | None,
                subdistrict: str | None) -> dict[str, str | None]:
    """Thai and English names of a point's province, district and subdistrict (None where the
    code is None or unknown): what a page shows after a move re-derived them."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT (SELECT name_th FROM provinces WHERE code = :p),
                   (SELECT name_en FROM provinces WHERE code = :p),
                   (SELECT name_th FROM districts WHERE code = :d),
                   (SELECT name_en FROM districts WHERE code = :d),
                   (SELECT name_th FROM subdistricts WHERE code = :s),
                   (SELECT name_en FROM subdistricts WHERE code = :s)
        """), {"p": province, "d": district, "s": subdistrict}).one()
    keys = ("province_th", "province_en", "district_th", "district_en", "subdistrict_th",
            "subdistrict_en")
    return dict(zip(keys, row, strict=True))

