"""Mapbox Vector Tiles built in PostGIS, and the tile cache that is never stale.

ไทล์เวกเตอร์ (MVT) จาก PostGIS พร้อมแคชที่ไม่มีวันล้าสมัย — every tile is made by one
``ST_AsMVT`` query (``ST_TileEnvelope`` with a margin, ``ST_AsMVTGeom``) and kept in
``tile_cache`` with its envelope and ETag. Triggers (migration 0007) delete the cached tiles a
write touches, in the writer's own transaction: a point layer's tiles whose envelope holds an
old or new position of a changed row, all of a boundary collection's tiles when its table
changes. A builder caches a tile only while it holds a shared advisory lock on the collection
that those triggers take exclusively, so a tile built from data a concurrent writer is about to
replace is served once but never stored.

Points never carry personal data: a point tile selects the layer's *public* fields by name from
``properties`` (each a column of its own) and never the ``personal`` column. A tile never grows
without bound: at low zoom the points are counted on a grid in the tile, and at any zoom a tile
that would pass ``BYTE_BUDGET`` is rebuilt as a coarser grid until it fits.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psycopg2
from sqlalchemy import Engine, text
from sqlalchemy.dialects.postgresql import psycopg2 as psycopg2_dialect

from core.schema import Layer
from gis import boundaries as bq
from gis import collections as gc
from gis import layer_queries as lq
from gis.db import writer
from gis.errors import translated

EXTENT = 4096
"""Tile coordinate space (MVT's usual 4096 units a side)."""
BUFFER = 64
"""Units of margin around a tile (4 px of a 256 px tile), so edges draw without seams."""
MARGIN = BUFFER / EXTENT
MAX_ZOOM = 24
"""WebMercatorQuad's deepest tile matrix."""
BYTE_BUDGET = 500_000
"""No tile is larger: a point tile past it is rebuilt as a coarser grid of counts."""
POINTS_FROM_ZOOM = 8
"""Below this zoom a point layer's tile is a grid of counts (clusters); from it, the points."""
CLUSTER_CELL = 256
"""Grid cell at low zoom, in tile units (16 px of a 256 px tile)."""
DENSE_CELL = 64
"""First grid tried when a tile of points would pass the budget (4 px; 64 x 64 cells)."""
MAX_POINTS_PER_TILE = 20_000
"""More points than this in one tile go straight to a grid (their tile would pass the budget)."""
ALL_LAYERS = "*"
"""Cache key of the multi-collection tileset (every point layer in one tile)."""
_LOCK_CLASS = "cddgis.tile_cache"


def lod_for_zoom(z: int) -> int:
    """The display level of detail whose tolerance is under a pixel at zoom ``z`` (0 = full).

    A pixel of a 256 px tile is 2.4 km at z=6, 611 m at z=8 and 153 m at z=10; the levels are
    simplified to 0.02° (~2.2 km), 0.005° (~550 m) and 0.001° (~110 m)."""
    if z <= 6:
        return 3
    if z <= 8:
        return 2
    if z <= 10:
        return 1
    return 0


@dataclass(frozen=True)
class TileFilters:
    """The items' filters a tile takes (area and the layer's attribute filters)."""

    region: str | None = None
    province: str | None = None
    district: str | None = None
    subdistrict: str | None = None
    choices: dict[str, tuple[object, ...]] = field(default_factory=dict)
    ranges: dict[str, lq.RangeFilter] = field(default_factory=dict)

    def key(self) -> str:
        """Canonical text of the filters: the cache's ``params`` ('' with none)."""
        parts: dict[str, object] = {
            k: v for k, v in (("region", self.region), ("province", self.province),
                              ("district", self.district), ("subdistrict", self.subdistrict))
            if v is not None}
        for name, values in sorted(self.choices.items()):
            parts[name] = sorted(values, key=repr)
        for name, bounds in sorted(self.ranges.items()):
            parts[f"{name}_range"] = [bounds.minimum, bounds.maximum]
        return json.dumps(parts, sort_keys=True, ensure_ascii=False) if parts else ""

    def query(self) -> gc.Query:
        """The same selection as a collection's items query (``Collection.where``)."""
        return gc.Query(region=self.region, province=self.province, district=self.district,
                        subdistrict=self.subdistrict, choices=self.choices, ranges=self.ranges)


@dataclass(frozen=True)
class Tile:
    data: bytes
    etag: str
    cached: bool
    """True when it came from ``tile_cache``."""
    version: str = ""
    """The tileset's version when the tile was looked up (``version_token``): the tile holds
    the data of that version or a newer one, never an older one."""


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """x/y of the tile holding a point at zoom ``z``."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


# -- building ------------------------------------------------------------------------------

_WORLD = 20037508.342789244


def _margin_envelope(z: str, x: str, y: str) -> str:
    """SQL: the tile with its margin, in lon/lat, cut at the world's edge (past 180° it would
    wrap to -180° and turn the box inside out)."""
    e = f"ST_TileEnvelope({z}, {x}, {y}, margin => :margin)"
    return (f"ST_Transform(ST_MakeEnvelope("
            f"greatest(ST_XMin({e}), -{_WORLD}), greatest(ST_YMin({e}), -{_WORLD}), "
            f"least(ST_XMax({e}), {_WORLD}), least(ST_YMax({e}), {_WORLD}), 3857), 4326)")


_ENVELOPE = f"""
    WITH tile AS (
        SELECT ST_TileEnvelope(:tz, :tx, :ty) AS env,
               {_margin_envelope(":tz", ":tx", ":ty")} AS env4326
    )
"""


def _boundary_sql(collection: gc.Collection, filters: TileFilters, z: int,
              ) -> tuple[str, dict[str, object]]:
    geom = collection.geometry_columns[lod_for_zoom(z)]
    where, params = collection.where(filters.query())
    parents = "".join(f"t.{p}, " for p in collection.parents)
    # Clipped in lon/lat first (Web Mercator keeps a lon/lat box a box), so only the part in
    # the tile is projected: a full-detail subdistrict at z=14 is mostly outside it. Areas
    # wholly inside the tile (most of them at low zoom) skip the clip.
    return f"""
        {_ENVELOPE}
        SELECT ST_AsMVT(mvt, :layer_name, {EXTENT}, 'geom', 'fid') FROM (
            SELECT ST_AsMVTGeom(ST_Transform(
                       CASE WHEN t.geom @ tile.env4326 THEN t.{geom}
                            ELSE ST_ClipByBox2D(t.{geom}, tile.env4326) END, 3857),
                       tile.env, {EXTENT}, {BUFFER}, true) AS geom,
                   t.code::bigint AS fid, t.code, t.name_th, t.name_en, {parents}t.region
            FROM {collection.table} t, tile
            WHERE t.geom && tile.env4326 AND {where}
            OFFSET 0  -- a fence: else ST_AsMVTGeom runs twice a row (filter and output)
        ) mvt WHERE mvt.geom IS NOT NULL
    """, params


_FIXED_COLUMNS = {"id": "f.key", "province_code": "f.province_code",
                  "district_code": "f.district_code", "subdistrict_code": "f.subdistrict_code",
                  "region": "f.region", "sample": "f.sample"}


def _public_columns(collection: gc.Collection) -> str:
    """The layer's public fields, each by name and typed, as columns (ST_AsMVT makes each a
    property and skips NULLs): personal ones can never be selected. Columns, not one JSON
    object, because ST_AsMVT parses a JSON object per row: measured, that was three quarters
    of a point tile's time. A value of another JSON type than declared (only raw SQL could
    store one) is left out rather than failing the tile."""
    columns = []
    for f in collection.public_fields:
        if f.name in _FIXED_COLUMNS:
            continue
        value, text_value = f"f.properties->'{f.name}'", f"f.properties->>'{f.name}'"
        if f.type in ("int", "year_be"):
            sql = (f"CASE WHEN jsonb_typeof({value}) = 'number' "
                   f"THEN ({text_value})::numeric::bigint END")
        elif f.type == "float":
            sql = f"CASE WHEN jsonb_typeof({value}) = 'number' THEN ({text_value})::float8 END"
        elif f.type == "bool":
            sql = f"CASE WHEN jsonb_typeof({value}) = 'boolean' THEN ({text_value})::boolean END"
        else:
            sql = text_value
        columns.append(f'{sql} AS "{f.name}"')
    columns += [f'{sql} AS "{name}"' for name, sql in _FIXED_COLUMNS.items()]
    return ", ".join(columns)


def _grid_sql(layer: gc.Collection, filters: TileFilters) -> tuple[str, dict[str, object]]:
    """Points counted per grid cell of the tile (``:cell`` units a side), each cell drawn at
    its points' mean position. Only points inside the tile itself (half-open, no margin) are
    counted, so the counts of a zoom's tiles add up to the layer's."""
    where, params = layer.where(filters.query())
    # Web Mercator by formula on lon/lat (what ST_Transform does, without a PROJ call per
    # point: a 1,000,000-point tile at z=5 is mostly this arithmetic).
    mx = "(ST_X(f.geom) * 20037508.342789244 / 180)"
    my = "(ln(tan(radians(45 + ST_Y(f.geom) / 2))) * 6378137)"
    return f"""
        {_ENVELOPE},
        frame AS (
            SELECT ST_XMin(env) AS x0, ST_YMax(env) AS y1,
                   {EXTENT} / (ST_XMax(env) - ST_XMin(env)) AS k, env4326 FROM tile
        ),
        p AS (
            SELECT ({mx} - frame.x0) * frame.k AS px, (frame.y1 - {my}) * frame.k AS py,
                   f.key
            FROM layer_features f, frame
            WHERE f.geom && frame.env4326 AND {where}
        )
        SELECT ST_AsMVT(mvt, :layer_name, {EXTENT}, 'geom') FROM (
            SELECT ST_Point(round(avg(px)), round(avg(py))) AS geom, count(*)::int AS count,
                   CASE WHEN count(*) = 1 THEN min(key) END AS id
            FROM p
            WHERE px >= 0 AND px < {EXTENT} AND py >= 0 AND py < {EXTENT}
            GROUP BY floor(px / :cell), floor(py / :cell)
        ) mvt
    """, params


@dataclass(frozen=True)
class Store:
    """Where a built tile goes in ``tile_cache``; the statement that builds it stores it, so
    its bytes never travel back to the server as a parameter."""

    collection: str
    fingerprint: str
    params: str
    lock_names: tuple[str, ...]

    def bind(self) -> dict[str, object]:
        return {"s_collection": self.collection, "s_fingerprint": self.fingerprint,
                "s_params": self.params, "cls": _LOCK_CLASS,
                "lock_names": list(self.lock_names)}


_ETAG_SQL = "left(encode(sha256(b.bytes), 'hex'), 32)"  # = etag_of()


# A builder may store a tile only while it holds the collections' advisory lock shared (the
# invalidation triggers take it exclusively until their transaction ends; not got: a write is in
# flight, and the tile is served without being stored). The lock is taken by a statement of its
# own in the builder's transaction, so the build that follows takes its snapshot after it and
# sees every writer that held the lock. Sent together with the build in one round trip: several
# statements in one query string are one (implicit) transaction, so no BEGIN or COMMIT travels.
# The cache is disposable, so its commit need not wait for the disk.
_LOCKED = """
    SET LOCAL synchronous_commit TO off;
    SELECT set_config('cddgis.tile_store', coalesce(bool_and(
               pg_try_advisory_xact_lock_shared(hashtext(:cls), hashtext(name))), false)::text,
           true)
    FROM unnest(CAST(:lock_names AS text[])) AS name;
"""
_MAY_STORE = "current_setting('cddgis.tile_store', true) = 'true'"


def _storing(select: str, store: Store | None, keep_if: str) -> str:
    """``select`` (which yields ``data``, maybe more) run once; when ``keep_if`` holds of its
    row and the lock is held, the tile is inserted into the cache by the same statement."""
    if store is None:
        return select
    return f"""{_LOCKED}
        WITH built AS MATERIALIZED ({select}),
        stored AS (
            INSERT INTO tile_cache (collection, fingerprint, params, z, x, y, envelope, data,
                                    etag)
            SELECT :s_collection, :s_fingerprint, :s_params, :tz, :tx, :ty,
                   {_margin_envelope(":tz", ":tx", ":ty")}, b.bytes, {_ETAG_SQL}
            FROM (SELECT coalesce(built.data, ''::bytea) AS bytes, built.* FROM built) b
            WHERE {_MAY_STORE} AND {keep_if}
            ON CONFLICT DO NOTHING
        )
        SELECT * FROM built
    """


_DIALECT = psycopg2_dialect.dialect()


@lru_cache(maxsize=1024)
def _driver_sql(sql: str) -> str:
    """``sql`` with its ``:name`` parameters as the driver's ``%(name)s``, compiled once."""
    return str(text(sql).compile(dialect=_DIALECT))


class _Db:
    """A pooled connection used through the driver: one round trip per statement and no
    per-statement bookkeeping. In autocommit, so a lookup needs no BEGIN/COMMIT; a builder
    opens its transaction itself (``_BEGIN_AND_LOCK``). Errors leave as domain errors
    (``gis/errors.py``: a statement timeout is a QueryTimeout)."""

    def __init__(self, pooled: Any, engine: Engine) -> None:
        self.pooled, self.engine = pooled, engine
        self.dbapi = pooled.dbapi_connection
        self.in_transaction = False

    @classmethod
    @contextmanager
    def of(cls, engine: Engine) -> Iterator[_Db]:
        pooled = engine.raw_connection()  # the pool's pre-ping still guards a restart
        db = cls(pooled, engine)
        db.dbapi.autocommit = True
        try:
            yield db
        except BaseException:
            if db.in_transaction and not db.dbapi.closed:
                with contextlib.suppress(psycopg2.Error):
                    db.dbapi.cursor().execute("ROLLBACK")
            raise
        finally:
            if db.dbapi.closed:
                pooled.invalidate()
            else:
                db.dbapi.autocommit = False
            pooled.close()

    def row(self, sql: str, params: dict[str, object], fetch: bool = True) -> Any:
        """The statement's first row (None when it has none)."""
        statement = _driver_sql(sql)
        with translated(self.engine), self.dbapi.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchone() if fetch else None


def _run(db: _Db, sql: str, params: dict[str, object], name: str, z: int, x: int,
         y: int, store: Store | None = None, keep_if: str = "true", **extra: object) -> bytes:
    select = f"SELECT ({sql}) AS data"
    data = db.row(_storing(select, store, keep_if), {
        **params, "tz": z, "tx": x, "ty": y, "margin": MARGIN, "layer_name": name,
        **(store.bind() if store else {}), **extra})[0]
    return bytes(data or b"")


def _capped_sql(layer: gc.Collection, filters: TileFilters) -> tuple[str, dict[str, object]]:
    """The tile of points and whether the margin envelope holds ``:cap`` points or more (then
    the tile is NULL: a grid is made instead). One statement: the count and the tile share one
    index scan."""
    where, params = layer.where(filters.query())
    return f"""
        {_ENVELOPE},
        points AS MATERIALIZED (
            SELECT ST_AsMVTGeom(ST_Transform(f.geom, 3857), tile.env, {EXTENT}, {BUFFER}, true)
                   AS geom, {_public_columns(layer)}
            FROM layer_features f, tile
            WHERE f.geom && tile.env4326 AND {where}
            LIMIT :cap
        ),
        verdict AS (SELECT count(*) >= :cap AS too_many FROM points)
        SELECT CASE WHEN verdict.too_many THEN NULL ELSE (
                   SELECT ST_AsMVT(mvt, :layer_name, {EXTENT}, 'geom')
                   FROM points mvt WHERE mvt.geom IS NOT NULL) END AS data,
               verdict.too_many
        FROM verdict
    """, params


def _capped_points(db: _Db, layer: gc.Collection, filters: TileFilters, z: int, x: int,
                   y: int, cap: int, budget: int, store: Store | None) -> bytes | None:
    """The tile of points, or None when the margin envelope holds ``cap`` points or more."""
    select, params = _capped_sql(layer, filters)
    data, too_many = db.row(_storing(
        select, store, "NOT b.too_many AND length(b.bytes) <= :budget"), {
        **params, "tz": z, "tx": x, "ty": y, "margin": MARGIN, "cap": cap, "budget": budget,
        "layer_name": layer.id, **(store.bind() if store else {})})
    return None if too_many else bytes(data or b"")


def build_layer_tile(db: _Db, layer: gc.Collection, filters: TileFilters, z: int, x: int,
                     y: int, budget: int = BYTE_BUDGET, store: Store | None = None) -> bytes:
    """A point layer's tile: counts on a grid below ``POINTS_FROM_ZOOM``, else the points;
    either way no more than ``budget`` bytes (coarser grids until it fits)."""
    points = (_capped_points(db, layer, filters, z, x, y, MAX_POINTS_PER_TILE + 1, budget,
                             store)
              if z >= POINTS_FROM_ZOOM else None)
    if points is not None:
        if len(points) <= budget:
            return points
        cell = DENSE_CELL
    else:
        cell = CLUSTER_CELL if z < POINTS_FROM_ZOOM else DENSE_CELL
    sql, params = _grid_sql(layer, filters)
    while True:
        data = _run(db, sql, params, layer.id, z, x, y, store,
                    "length(b.bytes) <= :budget OR :last", cell=cell, budget=budget,
                    last=cell >= EXTENT)
        if len(data) <= budget or cell >= EXTENT:
            return data
        cell *= 2


def build_area_tile(db: _Db, collection: gc.Collection, filters: TileFilters, z: int, x: int,
                    y: int, store: Store | None = None) -> bytes:
    sql, params = _boundary_sql(collection, filters, z)
    return _run(db, sql, params, collection.id, z, x, y, store)


def _point_statement(layer: gc.Collection, filters: TileFilters, z: int,
                     ) -> tuple[str, dict[str, object]]:
    if z < POINTS_FROM_ZOOM:
        sql, params = _grid_sql(layer, filters)
        return sql, {**params, "cell": CLUSTER_CELL}
    sql, params = _capped_sql(layer, filters)
    return sql, {**params, "cap": MAX_POINTS_PER_TILE + 1}


# How a collection's tiles are made, by its geometry: areas clipped at the zoom's level of
# detail; points as points, or counted on a grid (zoomed out, or past the byte budget).
_STATEMENTS = {"polygon": _boundary_sql, "point": _point_statement}
_BUILDERS: dict[str, Callable[..., bytes]] = {"polygon": build_area_tile,
                                               "point": build_layer_tile}


def statement(source: gc.Collection | bq.BoundaryCollection | Layer, filters: TileFilters,
              z: int, x: int, y: int) -> tuple[str, dict[str, object]]:
    """The one ST_AsMVT statement a tile usually takes (a grid below ``POINTS_FROM_ZOOM``,
    else the points, capped), with its parameters: what benchmarks time as the floor, and
    part of the tileset's ``fingerprint``."""
    collection = gc.of(source)
    sql, params = _STATEMENTS[collection.geometry_type](collection, filters, z)
    return sql, {**params, "tz": z, "tx": x, "ty": y, "margin": MARGIN,
                 "layer_name": collection.id}


# -- caching -------------------------------------------------------------------------------

Tileset = gc.Collection | tuple[gc.Collection, ...]
"""A collection, or every point layer (the multi-collection tileset)."""
Source = Tileset | bq.BoundaryCollection | Layer | tuple[Layer, ...]
"""A tileset as the callers name it: a collection or its declaration (``gc.of``)."""


def as_source(source: Source) -> Tileset:
    if isinstance(source, tuple):
        return tuple(gc.of(member) for member in source)
    return gc.of(source)


def cache_collection(source: Source) -> str:
    return ALL_LAYERS if isinstance(source, tuple) else source.id


def _members(source: Tileset) -> tuple[gc.Collection, ...]:
    return source if isinstance(source, tuple) else (source,)


def _lock_names(source: Tileset) -> list[str]:
    return sorted({name for member in _members(source) for name in member.lock_names})


def _build(db: _Db, source: Tileset, filters: TileFilters, z: int, x: int, y: int,
           store: Store) -> bytes:
    """The tile's bytes, stored in the cache by the statement that made them (the all-layers
    tile, made of several, by a statement of its own in the same transaction)."""
    if not isinstance(source, tuple):
        return _BUILDERS[source.geometry_type](db, source, filters, z, x, y, store=store)
    # One MVT layer per collection; MVT tiles concatenate into one tile.
    db.row(f"BEGIN ISOLATION LEVEL READ COMMITTED; {_LOCKED}", store.bind())
    db.in_transaction = True
    budget = BYTE_BUDGET // max(1, len(source))
    data = b"".join(build_layer_tile(db, layer, filters, z, x, y, budget) for layer in source)
    db.row(f"""
        INSERT INTO tile_cache (collection, fingerprint, params, z, x, y, envelope, data, etag)
        SELECT :s_collection, :s_fingerprint, :s_params, :tz, :tx, :ty,
               {_margin_envelope(":tz", ":tx", ":ty")}, :data, :etag
        WHERE {_MAY_STORE}
        ON CONFLICT DO NOTHING
    """, {**store.bind(), "tz": z, "tx": x, "ty": y, "margin": MARGIN, "data": data,
          "etag": etag_of(data)}, fetch=False)
    db.row("COMMIT", {}, fetch=False)
    db.in_transaction = False
    return data


# -- versions: what a versioned tile URL carries ----------------------------------------------

TILE_FORMAT = "2"
"""Raise it when a change outside the tile statements alters what a tile holds (the statements'
own text is part of ``fingerprint`` already): the tiles cached before, and every versioned URL,
are then new."""


def version_names(source: Source | str) -> list[str]:
    """The rows of ``tile_versions`` a tileset's content depends on."""
    if source == BASEMAP:
        return ["provinces", "districts", "subdistricts", "villages"]
    if isinstance(source, tuple):
        return sorted(layer.id for layer in source)
    assert not isinstance(source, str)
    return [source.id]


_FINGERPRINTS: dict[int, tuple[object, str]] = {}


def fingerprint(source: Source | str) -> str:
    """What code and declaration put in a tileset's tiles: the tile statements at the zooms
    where they differ (level of detail, grid or points, which public fields) and the limits.
    Part of the cache key, so a tile cached before a field became personal, or before an
    upgrade changed the statements, is never served again; and part of the version.

    Kept per declaration object (a declaration is not hashable; the entry holds the object,
    so its id is not reused while the entry lives); a tuple of layers, made anew per request,
    is fingerprinted from its members'."""
    if isinstance(source, tuple):
        return _digest([TILE_FORMAT, ALL_LAYERS, *(fingerprint(layer) for layer in source)])
    if not isinstance(source, str):
        source = gc.of(source)
    known = _FINGERPRINTS.get(id(source))
    if known is not None and known[0] is source:
        return known[1]
    if len(_FINGERPRINTS) > 4096:  # declarations made on the fly (tests): never unbounded
        _FINGERPRINTS.clear()
    fp = _fingerprint(source)
    _FINGERPRINTS[id(source)] = (source, fp)
    return fp


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:10]


def _fingerprint(source: gc.Collection | str) -> str:
    if source == BASEMAP:
        items = [gc.required(c) for c in version_names(BASEMAP)[:3]]
        extra = [build_basemap_names_sql(z) for z in range(0, MAX_ZOOM + 1, 2)]
    else:
        assert not isinstance(source, str)
        items, extra = [source], []
    texts = [TILE_FORMAT, *extra, *(str(v) for v in (
        EXTENT, BUFFER, BYTE_BUDGET, POINTS_FROM_ZOOM, CLUSTER_CELL, DENSE_CELL,
        MAX_POINTS_PER_TILE))]
    for item in items:
        for z in (0, 6, 8, 10, 14):
            sql, params = statement(item, TileFilters(), z, 0, 0)
            texts.append(sql + repr(sorted((k, v) for k, v in params.items()
                                           if k not in ("tz", "tx", "ty"))))
    return _digest(texts)


def version_token(total: int, source: Source | str) -> str:
    """``v`` of a tile URL: the sum of the tileset's data versions (it rises with every write
    that changes a tile) and its fingerprint."""
    return f"{total}-{fingerprint(source)}"


_VERSION = ("(SELECT coalesce(sum(version), 0) FROM tile_versions "
            "WHERE collection = ANY(CAST(:version_names AS text[])))")


def current_version(engine: Engine, source: Source | str) -> str:
    """The tileset's version now (for TileJSON, and the pages' tile URLs)."""
    with _Db.of(engine) as db:
        total = db.row(f"SELECT {_VERSION}", {"version_names": version_names(source)})[0]
    return version_token(int(total), source)


def current_versions(engine: Engine, sources: dict[str, Source | str]) -> dict[str, str]:
    """Several tilesets' versions in one statement (a map page needs a few)."""
    with _Db.of(engine) as db:
        rows = db.row("SELECT coalesce(json_object_agg(collection, version), '{}') "
                      "FROM tile_versions", {})[0]
    return {name: version_token(sum(int(rows.get(n, 0)) for n in version_names(source)),
                                source) for name, source in sources.items()}


# -- the cache ------------------------------------------------------------------------------

# The tile if cached, and the tileset's version; one statement, so they agree.
_LOOKUP = f"""
    SELECT c.data, c.etag, {_VERSION}
    FROM (SELECT 1) one LEFT JOIN tile_cache c
      ON c.collection = :collection AND c.fingerprint = :fingerprint AND c.params = :params
     AND c.z = :z AND c.x = :x AND c.y = :y
"""


@dataclass(frozen=True)
class CacheBudget:
    """How much tile data ``tile_cache`` may hold (issue 25: one client once grew it from 7.8
    to 218 MB in 27 s with tiles that differed only in a filter value). Filtered tiles (any
    ``params``) have a part of their own, since a client can vary a filter without end; the
    whole cache has ``total_bytes``. Over budget, the oldest tiles go first (by age, not by
    last use: a hit stays a read, so the cache works on a read-only replica too). Checked every
    ``check_every`` misses in each process, so a part may run over by that many tiles at most
    (each at most ``BYTE_BUDGET``) before it is cut back to ``keep`` of its budget."""

    total_bytes: int = 512 * 2**20
    filtered_bytes: int = 64 * 2**20
    check_every: int = 20
    keep: float = 0.8


_MISSES = itertools.count(1)  # next() on it is atomic: threads need no lock

# The newest tiles up to :keep bytes stay; the rest of the part goes. octet_length reads the
# TOAST pointer's size (the data is stored EXTERNAL), so the sum does not read the tiles.
_EVICT = """
    DELETE FROM tile_cache c USING (
        SELECT collection, fingerprint, params, z, x, y FROM (
            SELECT collection, fingerprint, params, z, x, y,
                   sum(octet_length(data)) OVER (
                       ORDER BY created_at DESC, collection, params, z, x, y) AS newer_bytes
            FROM tile_cache WHERE {part}
        ) t WHERE newer_bytes > :keep
    ) old
    WHERE (c.collection, c.fingerprint, c.params, c.z, c.x, c.y)
        = (old.collection, old.fingerprint, old.params, old.z, old.x, old.y)
"""


def keep_within(engine: Engine, budget: CacheBudget) -> int:
    """Cuts each part of the cache that is over its budget back to ``keep`` of it; the number
    of tiles deleted. One process at a time (the others skip it)."""
    deleted = 0
    engine = writer(engine)  # deletes: the primary's, behind a routed engine
    with _Db.of(engine) as db:
        db.row("BEGIN", {}, fetch=False)
        db.in_transaction = True
        got = db.row("SELECT pg_try_advisory_xact_lock(hashtext(:cls), hashtext('budget'))",
                     {"cls": _LOCK_CLASS})[0]
        if got:
            filtered, total = db.row(
                "SELECT coalesce(sum(octet_length(data)) FILTER (WHERE params <> ''), 0), "
                "coalesce(sum(octet_length(data)), 0) FROM tile_cache", {})
            for part, used, allowed in (("params <> ''", filtered, budget.filtered_bytes),
                                        ("true", total, budget.total_bytes)):
                if used > allowed:
                    with db.dbapi.cursor() as cur, translated(engine):
                        cur.execute(_EVICT.format(part=part).replace(":keep", "%(keep)s"),
                                    {"keep": int(allowed * budget.keep)})
                        deleted += cur.rowcount
        db.row("COMMIT", {}, fetch=False)
        db.in_transaction = False
    return deleted


def _count_miss(engine: Engine, budget: CacheBudget | None) -> None:
    if budget is None:
        return
    if next(_MISSES) % budget.check_every == 0:
        keep_within(engine, budget)


def get_tile(engine: Engine, declared: Source, filters: TileFilters, z: int, x: int, y: int,
             budget: CacheBudget | None = None) -> Tile:
    """The tile from the cache, or built now (and cached when no writer is at work on it).

    Tiles are small and asked for by the hundred, so this path talks to the driver directly
    (measured: SQLAlchemy's per-statement work and isolation switching were ~40 % of a cached
    tile's database time): a hit is one statement in autocommit; a miss is one more round trip
    (the lock, then the statement that builds and stores the tile, as one implicit
    transaction). The version is read with the lookup, before any build: the tile is of that
    version or a newer one. With a ``budget``, the cache is kept within it.

    With read replicas (issue 22) the whole of it runs on the primary (``writer``):
    ``tile_cache`` is UNLOGGED (a disposable cache needs no write-ahead log), so a replica has
    no cache to read (PostgreSQL refuses unlogged relations during recovery). The freshness
    rule holds across them: the version a public tile URL carries was read on the replica (the
    TileJSON and pages are reads), the primary is at that version or newer, and the tile is of
    the primary's version; a tile asked for with an older version than the primary's is sent
    ``no-cache`` (``Tile.version`` differs from the URL's)."""
    engine = writer(engine)
    source = as_source(declared)
    collection, params, fp = cache_collection(source), filters.key(), fingerprint(source)
    with _Db.of(engine) as db:
        data, etag, total = db.row(_LOOKUP, {
            "collection": collection, "fingerprint": fp, "params": params, "z": z, "x": x,
            "y": y, "version_names": version_names(source)})
        version = version_token(int(total), source)
        if data is not None:
            return Tile(bytes(data), etag, cached=True, version=version)
        data = _build(db, source, filters, z, x, y,
                      Store(collection, fp, params, tuple(_lock_names(source))))
    _count_miss(engine, budget)
    return Tile(data, etag_of(data), cached=False, version=version)


def forget_other_fingerprints(engine: Engine, sources: list[Source]) -> int:
    """Deletes the cached tiles of ``sources`` made under another fingerprint (an earlier
    declaration or version of the code): never served again, so only taking room."""
    keep = [(cache_collection(s), fingerprint(s)) for s in sources]
    with engine.begin() as conn:
        return conn.execute(text("""
            DELETE FROM tile_cache c WHERE NOT EXISTS (
                SELECT 1 FROM unnest(CAST(:collections AS text[]), CAST(:fps AS text[]))
                    AS k(collection, fingerprint)
                WHERE k.collection = c.collection AND k.fingerprint = c.fingerprint)
        """), {"collections": [k[0] for k in keep], "fps": [k[1] for k in keep]}).rowcount


def clear_cache(engine: Engine, collection: str | None = None) -> int:
    """Empties the tile cache (of one collection); always safe, tiles are rebuilt on demand."""
    with engine.begin() as conn:
        return conn.execute(text(
            "DELETE FROM tile_cache WHERE CAST(:c AS text) IS NULL OR collection = :c"),
            {"c": collection}).rowcount


def extent(engine: Engine, source: Source) -> list[float] | None:
    """lon/lat bounds of what the tiles show (for TileJSON ``bounds``)."""
    members = _members(as_source(source))
    if len(members) == 1:
        return members[0].summary(engine).bbox
    boxes = [b for member in members if (b := member.summary(engine).bbox) is not None]
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


# -- the basemap: cddgis's own boundaries, names and villages --------------------------------

BASEMAP = "basemap"
"""Id of the basemap tileset (an offline basemap drawn from the project's own data)."""
BASEMAP_DISTRICTS_FROM = 7
"""Zoom from which the basemap has district lines (subdistricts from ``..._SUBDISTRICTS_FROM``)."""
BASEMAP_SUBDISTRICTS_FROM = 10
BASEMAP_VILLAGES_FROM = 12
MAX_VILLAGES_PER_TILE = 3_000
"""Village names are shown zoomed in only; no tile holds more (a dense town stays small)."""
# Which areas are named at which zooms: (collection, display geometry, first zoom, last zoom).
_LABELS = (("provinces", "geom_lod3", 4, 8), ("districts", "geom_lod2", 8, 10),
           ("subdistricts", "geom_lod1", 11, MAX_ZOOM))


def basemap_layers(z: int) -> list[gc.Collection]:
    """The boundary collections whose lines the basemap draws at zoom ``z``."""
    names = ["provinces"]
    if z >= BASEMAP_DISTRICTS_FROM:
        names.append("districts")
    if z >= BASEMAP_SUBDISTRICTS_FROM:
        names.append("subdistricts")
    return [gc.required(n) for n in names]


def build_basemap_names_sql(z: int) -> str:
    """The statement of ``build_basemap_names`` at zoom ``z`` ('' when nothing is named)."""
    parts = [f"""
        SELECT ST_PointOnSurface(t.{geom}) AS pt, t.name_th, t.name_en, '{c}' AS level
        FROM {gc.required(c).table} t, tile WHERE t.geom && tile.env4326
    """ for c, geom, first, last in _LABELS if first <= z <= last]
    sql = [f"""
        SELECT ST_AsMVT(l, 'labels', {EXTENT}, 'geom') FROM (
            SELECT ST_AsMVTGeom(ST_Transform(a.pt, 3857), tile.env, {EXTENT}, 0, true) AS geom,
                   a.name_th, a.name_en, a.level
            FROM ({' UNION ALL '.join(parts)}) a, tile
            OFFSET 0  -- computed once a row (see _boundary_sql)
        ) l WHERE l.geom IS NOT NULL
    """] if parts else []
    if z >= BASEMAP_VILLAGES_FROM:
        sql.append(f"""
            SELECT ST_AsMVT(v, 'villages', {EXTENT}, 'geom') FROM (
                SELECT ST_AsMVTGeom(ST_Transform(f.geom, 3857), tile.env, {EXTENT}, 0, true)
                       AS geom, f.name_th
                FROM villages f, tile WHERE f.geom && tile.env4326
                LIMIT {MAX_VILLAGES_PER_TILE}
            ) v WHERE v.geom IS NOT NULL
        """)
    if not sql:
        return ""
    select = " || ".join(f"coalesce(({s}), ''::bytea)" for s in sql)
    return f"{_ENVELOPE} SELECT {select}"


def build_basemap_names(engine: Engine, z: int, x: int, y: int) -> bytes:
    """Two MVT layers: ``labels`` (one point per named area, inside the area: ``name_th``,
    ``name_en``, ``level``) and ``villages`` (``name_th``) from zoom ``BASEMAP_VILLAGES_FROM``.

    A label point is kept only in the tile that holds it (no margin), so a name is drawn once;
    the renderer lets it run across the tile edge."""
    sql = build_basemap_names_sql(z)
    if not sql:
        return b""
    with _Db.of(engine) as db:
        data = db.row(sql, {"tz": z, "tx": x, "ty": y, "margin": MARGIN})[0]
    return bytes(data or b"")


def get_basemap_tile(engine: Engine, z: int, x: int, y: int) -> Tile:
    """The basemap tile: the boundary collections' own (cached, never stale) tiles for the
    lines, and the names built now (small: a few hundred points at most). The version is read
    first, so the tile is of that version or a newer one."""
    version = current_version(engine, BASEMAP)
    parts = [get_tile(engine, c, TileFilters(), z, x, y) for c in basemap_layers(z)]
    data = b"".join(p.data for p in parts) + build_basemap_names(engine, z, x, y)
    return Tile(data, etag_of(data), cached=all(p.cached for p in parts), version=version)
