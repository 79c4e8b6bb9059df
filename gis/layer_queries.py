"""Public queries over the point layers. The ``personal`` column is never selected here, and the
layer's personal fields are stripped from ``properties`` as well, so no public output can carry
personal data (PDPA).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from cddgis.core.schema import Layer
from gis.places import like_escape

MAX_LIMIT = 10_000
MAX_CSV_ROWS = 10_000_000  # the CSV streams: the whole layer, however big


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


def _where(layer: Layer, q: LayerQuery) -> tuple[str, dict[str, object]]:
    clauses = ["f.layer = :layer"]
    params: dict[str, object] = {"layer": layer.id}
    if q.bbox is not None:
        clauses.append("f.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    for column in ("region", "province", "district", "subdistrict"):
        value = getattr(q, column)
        if value is not None:
            name = column if column == "region" else f"{column}_code"
            clauses.append(f"f.{name} = :{column}")
            params[column] = value
    if q.text:
        names = " || '|' || ".join(
            ["coalesce(f.name, '')"] + [f"coalesce(f.properties->>'{_safe(layer, n)}', '')"
                                        for n in layer.search_fields])
        clauses.append(f"regexp_replace(lower({names}), '[[:space:].''-]', '', 'g') LIKE :text "
                       "ESCAPE '\\'")
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
    for i, (name, bounds) in enumerate(sorted(q.ranges.items())):
        expression = f"(f.properties->>'{_safe(layer, name)}')::numeric"
        if bounds.minimum is not None:
            clauses.append(f"{expression} >= :r{i}_min")
            params[f"r{i}_min"] = bounds.minimum
        if bounds.maximum is not None:
            clauses.append(f"{expression} <= :r{i}_max")
            params[f"r{i}_max"] = bounds.maximum
    return " AND ".join(clauses), params


def _safe(layer: Layer, name: str) -> str:
    """Only declared, public field names ever reach SQL text."""
    if name not in {f.name for f in layer.public_fields}:
        raise ValueError(f"{name!r} is not a public field of {layer.id}")
    return name


def _personal_array(layer: Layer) -> str:
    names = ", ".join(f"'{f.name}'" for f in layer.personal_fields)
    return f"ARRAY[{names}]::text[]" if names else "ARRAY[]::text[]"


def _public_properties(layer: Layer) -> str:
    return f"""
        (f.properties - {_personal_array(layer)}) || jsonb_build_object(
            'id', f.key,
            'province_code', f.province_code,
            'district_code', f.district_code,
            'subdistrict_code', f.subdistrict_code,
            'region', f.region,
            'province_th', p.name_th,
            'district_th', d.name_th,
            'subdistrict_th', s.name_th,
            'sample', f.sample
        )
    """


_JOINS = """
    LEFT JOIN provinces p ON p.code = f.province_code
    LEFT JOIN districts d ON d.code = f.district_code
    LEFT JOIN subdistricts s ON s.code = f.subdistrict_code
"""


@dataclass(frozen=True)
class PointPage:
    number_matched: int
    features: list[str]
    any_sample: bool


def _selection(layer: Layer, q: LayerQuery, columns: str) -> tuple[str, dict[str, object]]:
    """SELECT of the page of features ``q`` asks for: by id, or nearest first.

    Nearest first uses the geography index: KNN (``<->``) on the sphere picks a generous set of
    candidates, which are then ordered by their ellipsoidal distance (what is shown).
    """
    where, params = _where(layer, q)
    params = {**params, "limit": q.limit, "offset": q.offset}
    if q.near is None:
        return f"""
            SELECT {columns}, NULL::float8 AS distance_m
            FROM layer_features f {_JOINS}
            WHERE {where}
            ORDER BY f.key
            LIMIT :limit OFFSET :offset
        """, params
    params["candidates"] = 2 * (q.limit + q.offset) + 20
    point = "ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)::geography"
    return f"""
        WITH candidates AS (
            SELECT f.id FROM layer_features f
            WHERE {where}
            ORDER BY f.geom::geography <-> {point}
            LIMIT :candidates
        )
        SELECT {columns}, ST_Distance(f.geom::geography, {point}) AS distance_m
        FROM candidates c JOIN layer_features f ON f.id = c.id {_JOINS}
        ORDER BY distance_m, f.key
        LIMIT :limit OFFSET :offset
    """, params


def _feature_json(layer: Layer) -> str:
    return f"""
        json_build_object(
            'type', 'Feature', 'id', f.key,
            'geometry', ST_AsGeoJSON(f.geom, 6)::json,
            'properties', {_public_properties(layer)}
        )::jsonb
    """


def query_features(engine: Engine, layer: Layer, q: LayerQuery, *, count: bool = True,
                   ) -> PointPage:
    """A page of features. ``count=False`` skips numberMatched (a full count of the selection,
    the larger cost of a nearest-first query over a big layer)."""
    where, params = _where(layer, q)
    sql, page_params = _selection(layer, q, f"{_feature_json(layer)} AS feature")
    with engine.connect() as conn:
        matched, any_sample = -1, False
        if count:
            matched, any_sample = conn.execute(
                text(f"SELECT count(*), coalesce(bool_or(sample), false) "
                     f"FROM layer_features f WHERE {where}"), params).one()
        rows = conn.execute(text(f"""
            SELECT CASE WHEN distance_m IS NULL THEN feature::text
                        ELSE jsonb_set(feature, '{{properties,distance_km}}',
                                       to_jsonb(round((distance_m / 1000)::numeric, 3)))::text
                   END
            FROM ({sql}) page
        """), page_params).scalars().all()
    return PointPage(matched, list(rows), bool(any_sample))


def get_feature(engine: Engine, layer: Layer, key: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text(f"""
            SELECT json_build_object(
                'type', 'Feature', 'id', f.key,
                'geometry', ST_AsGeoJSON(f.geom, 6)::json,
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
        layer, q, f"ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, {_public_properties(layer)} AS props")
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            text(sql), params)
        for lon, lat, props, d in result:
            yield {**props, "lon": lon, "lat": lat,
                   "distance_km": None if d is None else round(d / 1000, 3)}


@dataclass(frozen=True)
class Cluster:
    count: int
    lon: float
    lat: float
    key: str | None  # the feature, when the cluster holds one


def clusters(engine: Engine, layer: Layer, q: LayerQuery, cell_degrees: float) -> list[Cluster]:
    """Points gathered on a grid: what a zoomed-out map needs instead of every marker."""
    where, params = _where(layer, q)
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT count(*), ST_X(ST_Centroid(ST_Collect(f.geom))),
                   ST_Y(ST_Centroid(ST_Collect(f.geom))),
                   CASE WHEN count(*) = 1 THEN min(f.key) END
            FROM layer_features f
            WHERE {where}
            GROUP BY ST_SnapToGrid(f.geom, :cell)
        """), {**params, "cell": cell_degrees}).all()
    return [Cluster(int(n), round(x, 6), round(y, 6), key) for n, x, y, key in rows]


def choice_values(engine: Engine, layer: Layer, name: str) -> list[tuple[object, int]]:
    """The values a field takes in the data, with counts, for filter drop-downs."""
    column = _safe(layer, name)
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            SELECT f.properties->'{column}' AS value, count(*)
            FROM layer_features f WHERE f.layer = :layer AND f.properties ? '{column}'
            GROUP BY 1 ORDER BY 1
        """), {"layer": layer.id}).all()
    return [(value, int(n)) for value, n in rows]


def layer_summary(engine: Engine) -> dict[str, dict[str, object]]:
    """Per layer: how many features, whether any are sample, and their extent."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT layer, n, any_sample, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
            FROM (SELECT layer, count(*) AS n, bool_or(sample) AS any_sample,
                         ST_Extent(geom) AS e
                  FROM layer_features GROUP BY layer) t
        """)).all()
    return {layer: {"count": int(n), "sample": bool(sample),
                    "bbox": [round(v, 6) for v in (x0, y0, x1, y1)]}
            for layer, n, sample, x0, y0, x1, y1 in rows}
