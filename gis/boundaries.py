"""Queries over the admin boundaries for web/: the API, the pages and their area pickers.

Other modules of gis/ read the same tables for their own answers (tiles, choropleth, summary,
places, search, layer queries), and ``gis/boundary_store.py`` writes them.

Features are built as GeoJSON text inside PostGIS (``ST_AsGeoJSON``) and joined, not parsed and
re-serialised in Python: a page of 1,000 subdistricts stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine, text

from core.areas import CDD_REGIONS
from gis import crs as gcrs
from gis.cql import Compiled, Queryable
from gis.db import writer
from gis.layer_queries import count_capped, envelope_sql, geometry_sql
from gis.versioned import VersionedCache


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
    bbox_srid: int = 4326
    filter: Compiled | None = None
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    crs: gcrs.Crs = field(default=gcrs.DEFAULT)
    after: str | None = None
    """Keyset paging: the page starts after this code (ordered by code, no sortby)."""


@dataclass(frozen=True)
class FeaturePage:
    number_matched: int | None
    features: list[str]  # each a GeoJSON Feature as text
    more: bool = False
    last_key: str | None = None


PARENT_TITLES = {"province_code": "รหัสจังหวัด / province code",
                 "district_code": "รหัสอำเภอ / district code"}


def queryables(collection: BoundaryCollection) -> dict[str, Queryable]:
    """What a filter, sortby or properties may name in a boundary collection."""
    found = [Queryable("code", "t.code", "string", "รหัส DOPA / DOPA code"),
             Queryable("name_th", "t.name_th", "string", "ชื่อ / Thai name"),
             Queryable("name_en", "t.name_en", "string", "ชื่อภาษาอังกฤษ / English name"),
             *(Queryable(p, f"t.{p}", "string", PARENT_TITLES.get(p, p))
               for p in collection.parents),
             Queryable("region", "t.region", "string", "ภาค / CDD region",
                       tuple(CDD_REGIONS)),
             Queryable("region_nesdb", "t.region_nesdb", "string",
                       "ภาค (สศช.) / NESDB region"),
             Queryable("area_km2", "t.area_km2", "number", "พื้นที่ (ตร.กม.) / area (km²)"),
             Queryable("in_registry", "t.in_registry", "boolean",
                       "อยู่ในทะเบียนกรมการปกครอง / in the DOPA registry"),
             Queryable("geometry", "t.geom", "geometry", "ขอบเขต / boundary")]
    return {q.name: q for q in found}


def where(collection: BoundaryCollection, q: ItemQuery) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    if q.bbox is not None:
        envelope = envelope_sql(q.bbox_srid)
        clauses.append(f"t.geom && {envelope} AND ST_Intersects(t.geom, {envelope})")
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    if q.filter is not None:
        clauses.append(f"({q.filter.sql})")
        params.update(q.filter.params)
    if q.after is not None and not q.sortby:
        clauses.append("t.code > :after")
        params["after"] = q.after
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


def property_pairs(collection: BoundaryCollection) -> list[tuple[str, str]]:
    """Each property an area carries and its SQL, in the declared order (the features and the
    Part 5 schema both follow it, ``gis/collections.py``)."""
    children = (f"(SELECT count(*) FROM {collection.child_table} c "
                f"WHERE c.{collection.child_key} = t.code)"
                if collection.child_table else "NULL")
    return [("code", "t.code"), ("name_th", "t.name_th"), ("name_en", "t.name_en"),
            *((p, f"t.{p}") for p in collection.parents),
            ("region", "t.region"), ("region_nesdb", "t.region_nesdb"),
            ("area_km2", "round(t.area_km2::numeric, 2)"), ("children", children),
            ("in_registry", "t.in_registry")]


def _feature_sql(collection: BoundaryCollection, lod: int, crs: gcrs.Crs = gcrs.DEFAULT,
                 only: tuple[str, ...] | None = None) -> str:
    geom = GEOMETRY_COLUMNS[lod]
    geometry = geometry_sql(f"t.{geom}", crs)
    if not crs.projected and lod > 0:
        geometry = geometry.replace(", 6)::json", ", 5)::json")
    opening, closing = "json", ""
    if only is not None:  # only the asked properties (names checked, list bound)
        opening = ("(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') "
                   "FROM jsonb_each(jsonb")
        closing = ") e WHERE e.key = ANY(CAST(:only_properties AS text[])))"
    properties = ", ".join(f"'{name}', {sql}" for name, sql in property_pairs(collection))
    return f"""
        json_build_object(
            'type', 'Feature',
            'id', t.code,
            'geometry', {geometry},
            'properties', {opening}_build_object({properties}){closing}
        )::text
    """


def query_items(engine: Engine, collection: BoundaryCollection, q: ItemQuery) -> FeaturePage:
    """A page of areas; by code, a page starts after the previous one's last code (keyset), so
    every page costs the same. numberMatched is exact (at most 7,425 rows to count), on a first
    page only: a page reached by cursor continues a selection its first page counted."""
    clauses, params = where(collection, q)
    found = queryables(collection)
    order = "".join(f"{found[name].sql} {'DESC' if desc else 'ASC'} NULLS LAST, "
                    for name, desc in q.sortby)
    page_params: dict[str, object] = {**params, "limit": q.limit + 1,
                                      "offset": 0 if q.after else q.offset}
    if q.properties is not None:
        page_params["only_properties"] = list(q.properties)
    count_where = where(collection, replace(q, after=None))
    with engine.connect() as conn:
        matched = None if q.after is not None else count_capped(
            conn, f"{collection.table} t WHERE {count_where[0]}", count_where[1])
        rows = conn.execute(text(f"""
            SELECT {_feature_sql(collection, q.lod, q.crs, q.properties)}, t.code
            FROM {collection.table} t
            WHERE {clauses}
            ORDER BY {order}t.code
            LIMIT :limit OFFSET :offset
        """), page_params).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return FeaturePage(matched, [r[0] for r in rows], more, rows[-1][1] if rows else None)


def get_item(engine: Engine, collection: BoundaryCollection, code: str, lod: int = 0,
             crs: gcrs.Crs = gcrs.DEFAULT) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text(f"""
            SELECT {_feature_sql(collection, lod, crs)} FROM {collection.table} t
            WHERE t.code = :code
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
    """Codes and names for drop-downs, sorted the Thai way.

    On every page with an area filter (13–17 % of its time, issue 26), so kept per data
    version (gis/versioned.py): a boundary load raises the table's version."""
    clauses, params = "TRUE", {}
    if parent is not None and collection.parents:
        clauses, params = f"{collection.parents[-1]} = :parent", {"parent": parent}

    def make(conn: Connection) -> tuple[dict[str, str], ...]:
        rows = conn.execute(text(f"""
            SELECT code, name_th, name_en, region FROM {collection.table}
            WHERE {clauses} ORDER BY name_th COLLATE "th-TH-x-icu", code
        """), params).mappings().all()
        return tuple(dict(r) for r in rows)

    with engine.connect() as conn:
        kept = AREA_NAMES.get(conn, (collection.table, clauses, parent), make)
    return [dict(r) for r in kept]  # copies: the kept ones serve every request


AREA_NAMES: VersionedCache[tuple[dict[str, str], ...]] = VersionedCache(
    "area names", max_entries=128)
"""Per boundary table and parent: the provinces (77), a province's districts, a district's
subdistricts; a few kB each."""


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
    exploit); raises if the database cannot be reached. Asks the primary (behind a routed
    engine): the site cannot stand without it, whatever the replicas do."""
    with writer(engine).connect() as conn:
        row = conn.execute(text(
            "SELECT current_setting('server_version_num')::int / 10000, "
            "split_part(postgis_lib_version(), '.', 1)")).one()
    return {"postgresql": str(row[0]), "postgis": str(row[1])}


