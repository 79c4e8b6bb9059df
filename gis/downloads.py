"""The statements behind the whole-selection downloads of a point layer (FlatGeobuf, GeoPackage,
GeoJSON text sequences): what ``/items?f=csv`` does for spreadsheets, in the formats GIS
software loads.

Every download reads the selection in batches by key (``f.key > last key``, an index range
scan per batch, so the last batch of a million costs what the first does) inside one
REPEATABLE READ transaction (every batch sees the same snapshot), so neither the database
nor this process ever holds more than one batch. Each batch is a statement of its own under
the web engine's statement timeout, and the selection is at most ``lq.MAX_CSV_ROWS`` rows: the
same bounds as the CSV download.

The columns are the layer's public fields (typed from the declaration) and the area codes and
names, as the GeoJSON's properties are; the ``personal`` column and the personal fields are
never named, so no download can carry personal data (PDPA).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine, text

from gis import collections as gc
from gis import layer_queries as lq

BATCH = 20_000
"""Rows per statement: large enough that a statement's overhead is small, small enough that a
batch (a few MB) never matters to memory."""

_SQL = {"int": "bigint", "year_be": "bigint", "float": "double precision", "bool": "boolean",
        "date": "date"}
_JOINS = """
    LEFT JOIN provinces p ON p.code = f.province_code
    LEFT JOIN districts d ON d.code = f.district_code
    LEFT JOIN subdistricts s ON s.code = f.subdistrict_code
"""


@dataclass(frozen=True)
class Column:
    name: str
    sql: str
    kind: str
    """text, bigint, double precision, boolean or date."""


def columns(c: gc.Collection) -> list[Column]:
    """The public columns of a point layer, in the order the GeoJSON's properties come."""
    found = [Column("id", "f.key", "text")]
    fields = {f.name for f in c.public_fields}
    for f in c.public_fields:
        if f.name not in fields or not f.name.isidentifier():
            raise ValueError(f"unsafe field name {f.name!r}")
        kind = _SQL.get(f.type, "text")
        value = f"(f.properties->>'{f.name}')"
        if kind == "bigint":  # JSON numbers; validated as whole numbers on import
            expression = f"{value}::numeric::bigint"
        elif kind != "text":
            expression = f"{value}::{kind}"
        else:
            expression = value
        found.append(Column(f.name, expression, kind))
    found += [Column("province_code", "f.province_code", "text"),
              Column("district_code", "f.district_code", "text"),
              Column("subdistrict_code", "f.subdistrict_code", "text"),
              Column("region", "f.region", "text"),
              Column("province_th", "p.name_th", "text"),
              Column("district_th", "d.name_th", "text"),
              Column("subdistrict_th", "s.name_th", "text"),
              Column("sample", "f.sample", "boolean")]
    return found


def unordered_problem(q: gc.Query) -> str | None:
    """Why this query cannot be downloaded in batches by key (None when it can): a download is
    in id order, so nearest-first and sortby orders are refused by name, not ignored."""
    if q.sortby:
        return "sortby: a download (f=fgb, gpkg, geojsonseq, ndjson) is in id order"
    if q.near is not None:
        return "near: a download (f=fgb, gpkg, geojsonseq, ndjson) is in id order; " \
               "select by bbox or area instead"
    return None


def _run(engine: Engine, c: gc.Collection, q: gc.Query, select_rows: str, outer: str,
         batch: int, extra: dict[str, object] | None = None,
         ) -> Iterator[list[Any]]:
    """Rows of each batch of ``outer`` over the batch's rows (``select_rows``, which must end
    with ``f.key AS last_key``). ``outer`` reads ``batch_rows`` and returns rows whose last
    column is the batch's last key."""
    problem = unordered_problem(q)
    if problem is not None:
        raise ValueError(problem)
    remaining = q.limit
    after = q.after
    offset = q.offset if after is None else 0
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            while remaining > 0:
                clauses, params = c.where(replace(q, after=after))
                size = min(batch, remaining)
                rows: list[Any] = list(conn.execute(text(f"""
                    WITH batch_rows AS MATERIALIZED (
                        SELECT {select_rows}
                        FROM layer_features f {_JOINS}
                        WHERE {clauses}
                        ORDER BY f.key LIMIT :batch_size OFFSET :batch_offset)
                    {outer}
                """), {**params, **(extra or {}), "batch_size": size,
                       "batch_offset": offset}).all())
                if not rows or rows[-1][-1] is None:
                    return
                yield rows
                count = int(rows[-1][-2])
                remaining -= count
                if count < size:
                    return
                after, offset = str(rows[-1][-1]), 0


def _geometry(q: gc.Query) -> str:
    """The geometry in the asked CRS: files declare their CRS (an SRID), so a projected CRS is
    a transform, and EPSG:4326 stays longitude first in the file's coordinates (readers take
    the axis order from the CRS declaration)."""
    return f"ST_Transform(f.geom, {int(q.crs.srid)})" if q.crs.projected else "f.geom"


def _select(cols: list[Column]) -> str:
    """The columns, each cast to its type: PostGIS 3.3's ST_AsFlatGeobuf writes ``varchar``
    values that GDAL cannot read ("Invalid size detected: string value"); ``text`` is right."""
    return ", ".join(f'({col.sql})::{col.kind} AS "{col.name}"' for col in cols)


def flatgeobuf(engine: Engine, c: gc.Collection, q: gc.Query,
               batch: int = BATCH) -> Iterator[bytes]:
    """A FlatGeobuf file (no spatial index, so it can stream), made by PostGIS's
    ``ST_AsFlatGeobuf`` one batch at a time: the first batch's file is sent whole, with its
    header's feature count set to 0 ("unknown, read to the end", which the format allows for
    a streamed file) and its envelope set to the whole selection's; each later batch's file
    has the same header (same columns, same types) and only its features are sent."""
    cols = columns(c)
    names = ", ".join(f'"{col.name}"' for col in cols)
    outer = f"""
        SELECT (SELECT ST_AsFlatGeobuf(t.*, false, 'geom')
                FROM (SELECT {names}, geom FROM batch_rows ORDER BY last_key) t),
               (SELECT count(*) FROM batch_rows), (SELECT max(last_key) FROM batch_rows)
    """
    envelope = _extent(engine, c, q)
    first = True
    for rows in _run(engine, c, q, f"{_select(cols)}, {_geometry(q)} AS geom, f.key AS last_key",
                     outer, batch):
        data = bytes(rows[0][0])
        header_end = 12 + struct.unpack_from("<I", data, 8)[0]
        if first:
            yield _streamable_header(data[:header_end], envelope)
            first = False
        yield data[header_end:]
    if first:  # nothing matched: a valid file with no features
        yield _empty_flatgeobuf(engine, c, q)


def _extent(engine: Engine, c: gc.Collection, q: gc.Query) -> tuple[float, ...] | None:
    clauses, params = c.where(q)
    with engine.connect() as conn:
        row = conn.execute(text(f"""
            SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                SELECT ST_Extent(geom) AS e FROM (
                    SELECT {_geometry(q)} AS geom FROM layer_features f WHERE {clauses}
                    ORDER BY f.key LIMIT :limit OFFSET :offset) s) t
        """), {**params, "limit": q.limit, "offset": q.offset if q.after is None else 0}).one()
    return None if row[0] is None else tuple(float(v) for v in row)


def _empty_flatgeobuf(engine: Engine, c: gc.Collection, q: gc.Query) -> bytes:
    """The header of the layer's FlatGeobuf with no features (PostGIS writes the columns from a
    row's types, so one typed row that is never a feature gives them)."""
    cols = columns(c)
    nulls = ", ".join(f'NULL::{col.kind} AS "{col.name}"' for col in cols)
    with engine.connect() as conn:
        data = bytes(conn.execute(text(f"""
            SELECT ST_AsFlatGeobuf(t.*, false, 'geom') FROM (
                SELECT {nulls}, ST_SetSRID(ST_MakePoint(0, 0), {int(q.crs.srid)}) AS geom) t
        """)).scalar_one())
    header_end = 12 + struct.unpack_from("<I", data, 8)[0]
    return _streamable_header(data[:header_end], None)


# The FlatGeobuf header is a FlatBuffers table; its fields in schema order (header.fbs).
_ENVELOPE, _FEATURES_COUNT = 1, 8


def _field_position(buf: memoryview, table: int, index: int) -> int | None:
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vtable_size = struct.unpack_from("<H", buf, vtable)[0]
    if 4 + 2 * index >= vtable_size:
        return None
    offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
    return table + offset if offset else None


def _streamable_header(head: bytes, envelope: tuple[float, ...] | None) -> bytes:
    """The magic bytes and header of a file PostGIS wrote for one batch, changed in place (same
    length) to describe the whole stream: feature count 0 (unknown), the selection's envelope."""
    out = bytearray(head)
    buf = memoryview(out)[12:]
    table = struct.unpack_from("<I", buf, 0)[0]
    count_at = _field_position(buf, table, _FEATURES_COUNT)
    if count_at is not None:
        struct.pack_into("<Q", buf, count_at, 0)
    envelope_at = _field_position(buf, table, _ENVELOPE)
    if envelope_at is not None and envelope is not None:
        vector = envelope_at + struct.unpack_from("<I", buf, envelope_at)[0]
        if struct.unpack_from("<I", buf, vector)[0] == len(envelope):
            struct.pack_into(f"<{len(envelope)}d", buf, vector + 4, *envelope)
    buf.release()
    return bytes(out)


def geojson_features(engine: Engine, c: gc.Collection, q: gc.Query,
                     batch: int = BATCH) -> Iterator[str]:
    """Each feature as GeoJSON text, built by PostGIS exactly as the items' GeoJSON builds it
    (the same public properties; ``properties=`` limits them as it does there)."""
    layer = c.layer()
    properties = lq._public_properties(layer, q.properties)  # the items' own expression
    feature = (f"json_build_object('type', 'Feature', 'id', f.key, "
               f"'geometry', {lq.geometry_sql('f.geom', q.crs)}, "
               f"'properties', {properties})::text AS feature")
    outer = "SELECT feature, count(*) OVER (), last_key FROM batch_rows ORDER BY last_key"
    extra: dict[str, object] = ({} if q.properties is None
                                else {"only_properties": list(q.properties)})
    for rows in _run(engine, c, q, f"{feature}, f.key AS last_key", outer, batch, extra):
        for row in rows:
            yield str(row[0])


def flat_rows(engine: Engine, c: gc.Collection, q: gc.Query, batch: int = BATCH
              ) -> Iterator[tuple[list[Column], list[tuple[object, ...]]]]:
    """Batches of public rows, each ``(*columns, geometry as WKB)``, for writers that take
    columns (the GeoPackage)."""
    cols = columns(c)
    names = ", ".join(f'"{col.name}"' for col in cols)
    outer = f"""
        SELECT {names}, ST_AsBinary(geom), count(*) OVER (), last_key
        FROM batch_rows ORDER BY last_key
    """
    for rows in _run(engine, c, q, f"{_select(cols)}, {_geometry(q)} AS geom, f.key AS last_key",
                     outer, batch):
        yield cols, [tuple(row[:-2]) for row in rows]
