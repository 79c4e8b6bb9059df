"""Public queries over the point layers. The ``personal`` column is never selected here, and the
layer's personal fields are stripped from ``properties`` as well, so no public output can carry
personal data (PDPA).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine, text

from core.schema import Layer
from gis import crs as gcrs
from gis.cql import Compiled, Queryable
from gis.places import like_escape
from gis.versioned import VersionedCache
from layers.definitions import LAYERS

MAX_LIMIT = 10_000
MAX_CSV_ROWS = 10_000_000  # the CSV streams: the whole layer, however big
SMALL_SELECTION = 5_000
"""Up to this many expected matches, a page finds them by index first, then orders by key."""
COUNT_CAP = 100_000
"""numberMatched is counted when the planner expects at most this many matches (an index scan
costing about what one page does); a bigger selection omits it, as OGC API - Features allows,
instead of paying for a full count."""


@dataclass(frozen=True)
class RangeFilter:
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class LayerQuery:
    bbox: tuple[float, float, float, float] | None = None
    region: str | None = None
    province: str | None = None
    district: str | None = None
    subdistrict: str | None = None
    choices: dict[str, tuple[object, ...]] = field(default_factory=dict)
    ranges: dict[str, RangeFilter] = field(default_factory=dict)
    text: str | None = None
    """Part of the name, already in ``village_key`` form."""
    near: tuple[float, float] | None = None
    """lon, lat: order by distance from here, nearest first, with ``distance_km``."""
    radius_km: float | None = None
    exclude: str | None = None
    """A feature id to leave out (the one whose neighbours are asked for)."""
    limit: int = 100
    offset: int = 0
    bbox_srid: int = 4326
    """The SRID of ``bbox`` (already in x, y order)."""
    filter: Compiled | None = None
    """A compiled CQL2 filter (``gis.cql``) over :func:`queryables`."""
    period: tuple[dt.date | None, dt.date | None] | None = None
    """``datetime``: first and last day (None: open) of the layer's ``temporal`` field; a
    layer without one keeps every feature."""
    sortby: tuple[tuple[str, bool], ...] = ()
    """(queryable, descending) pairs; the key always breaks ties."""
    properties: tuple[str, ...] | None = None
    """Only these properties in each feature."""
    crs: gcrs.Crs = gcrs.DEFAULT
    after: str | None = None
    """Keyset paging: start after this key (ordered by key, no ``near``, no ``sortby``)."""


_SQL_TYPES = {"int": ("numeric", "integer"), "year_be": ("numeric", "integer"),
              "float": ("numeric", "number"), "bool": ("boolean", "boolean"),
              "date": ("date", "date")}


def queryables(layer: Layer) -> dict[str, Queryable]:
    """What a filter, sortby or properties may name: the layer's public fields (typed from the
    declaration), its area codes and the geometry. Personal fields are not among them."""
    found = {"id": Queryable("id", "f.key", "string", "รหัส / ID")}
    for f in layer.public_fields:
        cast, kind = _SQL_TYPES.get(f.type, ("", "string"))
        column = f"(f.properties->>'{_safe(layer, f.name)}')"
        found[f.name] = Queryable(f.name, f"{column}::{cast}" if cast else column, kind,
                                  f"{f.label_th} / {f.label_en}",
                                  tuple(c.value for c in f.choices),
                                  contains=None if f.type == "date" else "f.properties")
    for name, title in (("region", "ภาค / CDD region"),
                        ("province_code", "รหัสจังหวัด / province code"),
                        ("district_code", "รหัสอำเภอ / district code"),
                        ("subdistrict_code", "รหัสตำบล / subdistrict code")):
        found[name] = Queryable(name, f"f.{name}", "string", title)
    found["sample"] = Queryable("sample", "f.sample", "boolean", "ข้อมูลตัวอย่าง / sample")
    found["geometry"] = Queryable("geometry", "f.geom", "geometry", "ตำแหน่ง / location")
    return found


def envelope_sql(srid: int) -> str:
    """The request's bbox as a CRS84 polygon, from whatever CRS it came in (a projected box is
    densified first, so its curved edges in degrees are followed)."""
    box = f"ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {int(srid)})"
    if srid == 4326:
        return box
    step = "greatest(:maxx - :minx, :maxy - :miny, 1) / 64"
    return f"ST_Transform(ST_Segmentize({box}, {step}), 4326)"


def geometry_sql(column: str, crs: gcrs.Crs) -> str:
    """A geometry column as GeoJSON in the asked CRS (axis order included)."""
    if crs.lat_first:
        column = f"ST_FlipCoordinates({column})"
    elif crs.projected:
        column = f"ST_Transform({column}, {int(crs.srid)})"
    return f"ST_AsGeoJSON({column}, {crs.digits})::json"


def estimate_rows(conn: Connection, table_where: str, params: dict[str, object]) -> float:
    """The planner's estimate of the rows a selection matches (a fraction of a millisecond)."""
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table_where}"),
                        params).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def count_capped(conn: Connection, table_where: str, params: dict[str, object],
                 cap: int = COUNT_CAP, estimate: float | None = None) -> int | None:
    """The exact number matched, or None when the planner expects more than ``cap`` (a count
    that would cost more than the page). Asking the planner first costs a fraction of a
    millisecond; a capped count (LIMIT in a subquery) would cost twice a plain count."""
    if estimate is None:
        estimate = estimate_rows(conn, table_where, params)
    if estimate > cap:
        return None
    return int(conn.execute(text(f"SELECT count(*) FROM {table_where}"), params).scalar_one())


def where(layer: Layer, q: LayerQuery) -> tuple[str, dict[str, object]]:
    clauses = ["f.layer = :layer"]
    params: dict[str, object] = {"layer": layer.id}
    if q.bbox is not None:
        envelope = envelope_sql(q.bbox_srid)
        clauses.append(f"f.geom && {envelope}")
        if q.bbox_srid != 4326:  # a projected box is no longer a lon/lat rectangle
            clauses.append(f"ST_Intersects(f.geom, {envelope})")
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    if q.filter is not None:
        clauses.append(f"({q.filter.sql})")
        params.update(q.filter.params)
    if q.period is not None and layer.temporal is not None:
        day = f"(f.properties->>'{_safe(layer, layer.temporal)}')::date"
        for bound, op, limit in (("period_start", ">=", q.period[0]),
                                 ("period_end", "<=", q.period[1])):
            if limit is not None:
                clauses.append(f"{day} {op} :{bound}")
                params[bound] = limit
    for column in ("region", "province", "district", "subdistrict"):
        value = getattr(q, column)
        if value is not None:
            name = column if column == "region" else f"{column}_code"
            clauses.append(f"f.{name} = :{column}")
            params[column] = value
    if q.text:
        clauses.append(name_like_sql(layer))
        params["text"] = "%" + like_escape(q.text) + "%"
    if q.near is not None:
        params["near_lon"], params["near_lat"] = q.near
        if q.radius_km is not None:
            clauses.append("ST_DWithin(f.geom::geography, "
                           "ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)::geography, "
                           ":radius_m)")
            params["radius_m"] = q.radius_km * 1000
    if q.exclude is not None:
        clauses.append("f.key <> :exclude")
        params["exclude"] = q.exclude
    for i, (name, values) in enumerate(sorted(q.choices.items())):
        alternatives = []
        for j, value in enumerate(values):
            alternatives.append(f"f.properties @> CAST(:c{i}_{j} AS jsonb)")
            params[f"c{i}_{j}"] = json.dumps({name: value}, ensure_ascii=False)
        clauses.append("(" + " OR ".join(alternatives) + ")")
    if q.after is not None and q.near is None and not q.sortby:
        clauses.append("f.key > :after")
        params["after"] = q.after
    for i, (name, bounds) in enumerate(sorted(q.ranges.items())):
        expression = f"(f.properties->>'{_safe(layer, name)}')::numeric"
        if bounds.minimum is not None:
            clauses.append(f"{expression} >= :r{i}_min")
            params[f"r{i}_min"] = bounds.minimum
        if bounds.maximum is not None:
            clauses.append(f"{expression} <= :r{i}_max")
            params[f"r{i}_max"] = bounds.maximum
    return " AND ".join(clauses), params


def name_like_sql(layer: Layer) -> str:
    """The name (and the layer's search fields) contains ``:text`` (a LIKE pattern of a
    ``village_key``): spacing, dots, dashes and case do not matter."""
    names = " || '|' || ".join(
        ["coalesce(f.name, '')"] + [f"coalesce(f.properties->>'{_safe(layer, n)}', '')"
                                    for n in layer.search_fields])
    return (f"regexp_replace(lower({names}), '[[:space:].''-]', '', 'g') LIKE :text "
            "ESCAPE '\\'")


def _safe(layer: Layer, name: str) -> str:
    """Only declared, public field names ever reach SQL text."""
    if name not in {f.name for f in layer.public_fields}:
        raise ValueError(f"{name!r} is not a public field of {layer.id}")
    return name


_AREA_OUTPUTS = (("province_code", "f.province_code"), ("district_code", "f.district_code"),
                 ("subdistrict_code", "f.subdistrict_code"), ("region", "f.region"),
                 ("province_th", "p.name_th"), ("district_th", "d.name_th"),
                 ("subdistrict_th", "s.name_th"), ("sample", "f.sample"))
NEAR_KM = ("round((ST_Distance(f.geom::geography, ST_SetSRID(ST_MakePoint(:near_lon, "
           ":near_lat), 4326)::geography) / 1000)::numeric, 3)")
"""The ground distance from ``near`` in km (``where`` binds the point)."""


def property_pairs(layer: Layer) -> list[tuple[str, str]]:
    """Each public property a feature carries and its SQL, in the declared order: id, the
    layer's public fields as its declaration lists them, then where it lies. The one order the
    features, the Part 5 schema and the staff edit form follow (``gis/collections.py``)."""
    return [("id", "f.key"),
            *((f.name, f"f.properties->'{_safe(layer, f.name)}'") for f in layer.public_fields),
            *_AREA_OUTPUTS]


def _public_properties(layer: Layer, only: tuple[str, ...] | None = None,
                       distance: str | None = None) -> str:
    """A feature's public properties as ``json`` in the declared order: id, the layer's public
    fields as its declaration lists them, then where it lies (a field with no value is null).
    ``json_build_object`` keeps that order where ``jsonb`` would sort the keys shortest first,
    which is the column order QGIS, GDAL and the CSV would show (issue 21, item 8). Only
    declared names reach the SQL text: ``only`` (checked against the queryables) picks among
    them; personal fields are never among them."""
    pairs = property_pairs(layer)
    if only is not None:
        pairs = [(name, sql) for name, sql in pairs if name in only]
    if distance is not None:
        pairs.append(("distance_km", distance))
    return "json_build_object(" + ", ".join(f"'{name}', {sql}" for name, sql in pairs) + ")"


_JOINS = """
    LEFT JOIN provinces p ON p.code = f.province_code
    LEFT JOIN districts d ON d.code = f.district_code
    LEFT JOIN subdistricts s ON s.code = f.subdistrict_code
"""


@dataclass(frozen=True)
class PointPage:
    number_matched: int | None
    """None when counting would cost more than the page (see COUNT_CAP)."""
    features: list[str]
    any_sample: bool
    more: bool = False
    """Whether another page follows."""
    last_key: str | None = None


def _selection(layer: Layer, q: LayerQuery, columns: str, *, few: bool = False,
               ) -> tuple[str, dict[str, object]]:
    """SELECT of the page of features ``q`` asks for: by id, or nearest first.

    ``few``: the selection is small (the planner expects at most SMALL_SELECTION rows), so its
    rows are found first — by the spatial or JSONB index — and then ordered by key. Left to
    itself the planner walks the key index and filters, which is slow when the matches are
    bunched in key order (plot ids start with the province code, and so does a bbox).

    Nearest first uses the geography index: KNN (``<->``) on the sphere picks a generous set of
    candidates, which are then ordered by their ellipsoidal distance (what is shown).
    """
    clauses, params = where(layer, q)
    params = {**params, "limit": q.limit, "offset": 0 if q.after else q.offset}
    if q.near is None:
        found = queryables(layer)
        order = "".join(f"{found[name].sql} {'DESC' if desc else 'ASC'} NULLS LAST, "
                        for name, desc in q.sortby)
        if few:  # the page's ids first (index, sort, limit), then its rows are built
            return f"""
                WITH hits AS MATERIALIZED (
                    SELECT f.id FROM layer_features f WHERE {clauses}
                    ORDER BY {order}f.key LIMIT :limit OFFSET :offset)
                SELECT {columns}, NULL::float8 AS distance_m
                FROM hits h JOIN layer_features f ON f.id = h.id {_JOINS}
                ORDER BY {order}f.key
            """, params
        return f"""
            SELECT {columns}, NULL::float8 AS distance_m
            FROM layer_features f {_JOINS}
            WHERE {clauses}
            ORDER BY {order}f.key
            LIMIT :limit OFFSET :offset
        """, params
    params["candidates"] = 2 * (q.limit + q.offset) + 20
    point = "ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)::geography"
    return f"""
        WITH candidates AS (
            SELECT f.id FROM layer_features f
            WHERE {clauses}
            ORDER BY f.geom::geography <-> {point}
            LIMIT :candidates
        )
        SELECT {columns}, ST_Distance(f.geom::geography, {point}) AS distance_m
        FROM candidates c JOIN layer_features f ON f.id = c.id {_JOINS}
        ORDER BY distance_m, f.key
        LIMIT :limit OFFSET :offset
    """, params


def _feature_parts(layer: Layer, q: LayerQuery) -> str:
    """A feature's parts; the outer query assembles them as JSON text once (no json → jsonb →
    text round trip per row)."""
    distance = NEAR_KM if q.near is not None else None
    return (f"{geometry_sql('f.geom', q.crs)} AS geometry, "
            f"{_public_properties(layer, q.properties, distance)} AS properties, f.sample, "
            "f.key")


def query_features(engine: Engine, layer: Layer, q: LayerQuery, *, count: bool = True,
                   ) -> PointPage:
    """A page of features, and whether more follow (one row more is read to know).

    By key, a page starts after the previous page's last key (``q.after``): an index range
    scan, so the last page of a million costs what the first does. numberMatched is counted
    (up to COUNT_CAP) on a first page only: a page reached by cursor continues a selection whose
    size its first page told, and counting again would cost more than the page itself.
    ``count=False`` skips it on the first page too.
    """
    count = count and q.after is None
    clauses, params = where(layer, replace(q, after=None))
    selected = f"layer_features f WHERE {clauses}"
    with engine.connect() as conn:
        estimate = None
        if count or (q.near is None and (q.bbox is not None or q.filter is not None)):
            estimate = estimate_rows(conn, selected, params)
        matched = count_capped(conn, selected, params, estimate=estimate) if count else None
        few = estimate is not None and estimate <= SMALL_SELECTION
        sql, page_params = _selection(layer, replace(q, limit=q.limit + 1),
                                      _feature_parts(layer, q), few=few)
        rows = conn.execute(text(f"""
            SELECT json_build_object(
                       'type', 'Feature', 'id', key, 'geometry', geometry,
                       'properties', properties
                   )::text, sample, key
            FROM ({sql}) page
        """), page_params).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return PointPage(matched, [r[0] for r in rows], any(r[1] for r in rows), more,
                     rows[-1][2] if rows else None)


def get_feature(engine: Engine, layer: Layer, key: str, crs: gcrs.Crs = gcrs.DEFAULT,
                ) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text(f"""
            SELECT json_build_object(
                'type', 'Feature', 'id', f.key,
                'geometry', {geometry_sql("f.geom", crs)},
                'properties', {_public_properties(layer)}
            )::text
            FROM layer_features f {_JOINS}
            WHERE f.layer = :layer AND f.key = :key
        """), {"layer": layer.id, "key": key}).scalar_one_or_none()


def rows_for_csv(engine: Engine, layer: Layer, q: LayerQuery,
                 batch: int = 2_000) -> Iterator[dict[str, object]]:
    """Flat public rows (lon/lat columns, distance when near) for a CSV download, streamed from
    a server-side cursor ``batch`` rows at a time: memory stays flat however big the layer."""
    sql, params = _selection(
        layer, q, f"ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, {_public_properties(layer)} AS "
                  "props, f.given_province_code, f.given_district_code, f.given_subdistrict_code")
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            text(sql), params)
        for lon, lat, props, gp, gd, gs, d in result:
            # The areas the source stated, apart from where the point lies (``province_code``
            # …): the importer reads these back as the stated ones, so a download imported back
            # unchanged is no edit (issue 24, item 6).
            yield {**props, "lon": lon, "lat": lat,
                   "stated_province_code": gp, "stated_district_code": gd,
                   "stated_subdistrict_code": gs,
                   "distance_km": None if d is None else round(d / 1000, 3)}


@dataclass(frozen=True)
class Cluster:
    count: int
    lon: float
    lat: float
    key: str | None  # the feature, when the cluster holds one


def clusters(engine: Engine, layer: Layer, q: LayerQuery, cell_degrees: float) -> list[Cluster]:
    """Points gathered on a grid: what a zoomed-out map needs instead of every marker."""
    clauses, params = where(layer, q)
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT count(*), ST_X(ST_Centroid(ST_Collect(f.geom))),
                   ST_Y(ST_Centroid(ST_Collect(f.geom))),
                   CASE WHEN count(*) = 1 THEN min(f.key) END
            FROM layer_features f
            WHERE {clauses}
            GROUP BY ST_SnapToGrid(f.geom, :cell)
        """), {**params, "cell": cell_degrees}).all()
    return [Cluster(int(n), round(x, 6), round(y, 6), key) for n, x, y, key in rows]


def choice_values(engine: Engine, layer: Layer, name: str) -> list[tuple[object, int]]:
    """The values a field takes in the data, with counts, for filter drop-downs.

    A scan of the layer (40 % of a layer page's time, issue 26), so kept per data version
    (gis/versioned.py): a write to any layer shows on the next request."""
    column = _safe(layer, name)

    def make(conn: Connection) -> tuple[tuple[object, int], ...]:
        rows = conn.execute(text(f"""
            SELECT f.properties->'{column}' AS value, count(*)
            FROM layer_features f WHERE f.layer = :layer AND f.properties ? '{column}'
            GROUP BY 1 ORDER BY 1
        """), {"layer": layer.id}).all()
        return tuple((value, int(n)) for value, n in rows)

    with engine.connect() as conn:
        return list(CHOICE_VALUES.get(conn, (layer.id, column), make))


CHOICE_VALUES: VersionedCache[tuple[tuple[object, int], ...]] = VersionedCache(
    "choice values", max_entries=256)
"""Per (layer, field): a few dozen values each; five layers with a few choice fields each."""
SUMMARIES: VersionedCache[dict[str, dict[str, object]]] = VersionedCache(
    "layer summary", max_entries=64)
"""One entry per database (tests make many)."""


def layer_summary(engine: Engine) -> dict[str, dict[str, object]]:
    """Per layer: how many features, whether any are sample, and their extent (in space, and
    in time for a layer with a ``temporal`` field).

    Asked for by most pages and the collections document, and a scan of every feature (20 ms
    at 29,000 points, growing with the layers), so it is kept per process for as long as the
    layers' data versions stay the same (gis/versioned.py): asking costs one small lookup."""
    with engine.connect() as conn:
        return _copy(SUMMARIES.get(conn, "summary", _make_summary))


def _make_summary(conn: Connection) -> dict[str, dict[str, object]]:
    dated = [(layer.id, layer.temporal) for layer in LAYERS.values() if layer.temporal]
    values = ", ".join(f"(:dl{i}, :df{i})" for i in range(len(dated))) or "(NULL, NULL)"
    bound = {f"d{kind}{i}": v for i, pair in enumerate(dated)
             for kind, v in zip("lf", pair, strict=True)}
    rows = conn.execute(text(f"""
        SELECT layer, n, any_sample, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e),
               first_day, last_day
        FROM (SELECT f.layer, count(*) AS n, bool_or(sample) AS any_sample,
                     ST_Extent(geom) AS e,
                     min((f.properties->>d.field)::date) AS first_day,
                     max((f.properties->>d.field)::date) AS last_day
              FROM layer_features f
              LEFT JOIN (VALUES {values}) d(layer, field) ON d.layer = f.layer
              GROUP BY f.layer) t
    """), bound).all()
    return {layer: {"count": int(n), "sample": bool(sample),
                    "bbox": [round(v, 6) for v in (x0, y0, x1, y1)],
                    "interval": (None if first is None else first.isoformat(),
                                 None if last is None else last.isoformat())}
            for layer, n, sample, x0, y0, x1, y1, first, last in rows}


def _copy(summary: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """A copy the caller may change (the kept one is shared by every request)."""
    return {layer: {**s, "bbox": list(s["bbox"])} for layer, s in summary.items()}  # type: ignore[call-overload]
