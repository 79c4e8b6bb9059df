"""Queries over the admin boundaries: the one place that knows their tables.

Features are built as GeoJSON text inside PostGIS (``ST_AsGeoJSON``) and joined, not parsed and
re-serialised in Python: a page of 1,000 subdistricts stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from cddgis.core.areas import CDD_REGIONS


@dataclass(frozen=True)
class BoundaryCollection:
    id: str
    level: str
    table: str
    title_th: str
    title_en: str
    code_length: int
    parents: tuple[str, ...]  # parent code columns this level has
    child_table: str | None
    child_key: str | None


COLLECTIONS: dict[str, BoundaryCollection] = {
    c.id: c
    for c in (
        BoundaryCollection("provinces", "province", "provinces", "จังหวัด", "Provinces", 2,
                           (), "districts", "province_code"),
        BoundaryCollection("districts", "district", "districts", "อำเภอ/เขต", "Districts", 4,
                           ("province_code",), "subdistricts", "district_code"),
        BoundaryCollection("subdistricts", "subdistrict", "subdistricts", "ตำบล/แขวง",
                           "Subdistricts", 6, ("province_code", "district_code"), None, None),
    )
}
GEOMETRY_COLUMNS = {0: "geom", 1: "geom_lod1", 2: "geom_lod2", 3: "geom_lod3"}
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class ItemQuery:
    bbox: tuple[float, float, float, float] | None = None
    region: str | None = None
    province: str | None = None
    district: str | None = None
    limit: int = 100
    offset: int = 0
    lod: int = 0


@dataclass(frozen=True)
class FeaturePage:
    number_matched: int
    features: list[str]  # each a GeoJSON Feature as text


def _where(collection: BoundaryCollection, q: ItemQuery) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    if q.bbox is not None:
        clauses.append("t.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) AND "
                       "ST_Intersects(t.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    if q.region is not None:
        clauses.append("t.region = :region")
        params["region"] = q.region
    if q.province is not None:
        column = "t.code" if collection.level == "province" else "t.province_code"
        clauses.append(f"{column} = :province")
        params["province"] = q.province
    if q.district is not None:
        if collection.level == "province":
            clauses.append("t.code = :district_province")
            params["district_province"] = q.district[:2]
        else:
            column = "t.code" if collection.level == "district" else "t.district_code"
            clauses.append(f"{column} = :district")
            params["district"] = q.district
    return (" AND ".join(clauses) or "TRUE"), params


def _feature_sql(collection: BoundaryCollection, lod: int) -> str:
    geom = GEOMETRY_COLUMNS[lod]
    digits = 6 if lod == 0 else 5
    parent_props = "".join(f"'{p}', t.{p}, " for p in collection.parents)
    children = (f"(SELECT count(*) FROM {collection.child_table} c "
                f"WHERE c.{collection.child_key} = t.code)"
                if collection.child_table else "NULL")
    return f"""
        json_build_object(
            'type', 'Feature',
            'id', t.code,
            'geometry', ST_AsGeoJSON(t.{geom}, {digits})::json,
            'properties', json_build_object(
                'code', t.code,
                'name_th', t.name_th,
                'name_en', t.name_en,
                {parent_props}
                'region', t.region,
                'region_nesdb', t.region_nesdb,
                'area_km2', round(t.area_km2::numeric, 2),
                'children', {children},
                'in_registry', t.in_registry
            )
        )::text
    """


def query_items(engine: Engine, collection: BoundaryCollection, q: ItemQuery) -> FeaturePage:
    where, params = _where(collection, q)
    with engine.connect() as conn:
        matched = conn.execute(
            text(f"SELECT count(*) FROM {collection.table} t WHERE {where}"), params).scalar_one()
        rows = conn.execute(text(f"""
            SELECT {_feature_sql(collection, q.lod)}
            FROM {collection.table} t
            WHERE {where}
            ORDER BY t.code
            LIMIT :limit OFFSET :offset
        """), {**params, "limit": q.limit, "offset": q.offset}).scalars().all()
    return FeaturePage(number_matched=matched, features=list(rows))


def get_item(engine: Engine, collection: BoundaryCollection, code: str, lod: int = 0,
             ) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text(f"""
            SELECT {_feature_sql(collection, lod)} FROM {collection.table} t WHERE t.code = :code
        """), {"code": code}).scalar_one_or_none()


def extent(engine: Engine, collection: BoundaryCollection) -> list[float] | None:
    with engine.connect() as conn:
        row = conn.execute(text(f"""
            SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
            FROM (SELECT ST_Extent(geom)::geometry AS e FROM {collection.table}) s
        """)).one()
    return None if row[0] is None else [round(v, 6) for v in row]


def area_names(engine: Engine, collection: BoundaryCollection, parent: str | None = None,
               ) -> list[dict[str, str]]:
    """Codes and names for drop-downs, sorted the Thai way."""
    where, params = "TRUE", {}
    if parent is not None and collection.parents:
        where, params = f"{collection.parents[-1]} = :parent", {"parent": parent}
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT code, name_th, name_en, region FROM {collection.table}
            WHERE {where} ORDER BY name_th COLLATE "th-TH-x-icu", code
        """), params).mappings().all()
    return [dict(r) for r in rows]


def latest_load(engine: Engine) -> dict[str, object] | None:
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT id, loaded_at, sources, counts, registry_version, seconds
            FROM boundary_loads ORDER BY id DESC LIMIT 1
        """)).mappings().one_or_none()
    return dict(row) if row else None


def latest_load_issues(engine: Engine, kind: str | None = None) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT level, code, kind, detail FROM boundary_issues
            WHERE load_id = (SELECT max(id) FROM boundary_loads)
              AND (CAST(:kind AS text) IS NULL OR kind = :kind)
            ORDER BY level, kind, code
        """), {"kind": kind}).mappings().all()
    return [dict(r) for r in rows]


def health(engine: Engine) -> dict[str, str]:
    """Major versions of PostgreSQL and PostGIS (exact ones would help an attacker pick an
    exploit); raises if the database cannot be reached."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT current_setting('server_version_num')::int / 10000, "
            "split_part(postgis_lib_version(), '.', 1)")).one()
    return {"postgresql": str(row[0]), "postgis": str(row[1])}


def is_region(code: str) -> bool:
    return code in CDD_REGIONS
