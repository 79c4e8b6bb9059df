"""The statements behind the whole-selection downloads of a point layer (FlatGeobuf, GeoPackage,
GeoJSON text sequences): what ``/items?f=csv`` does for spreadsheets, in the formats GIS
software loads.

Every download reads the selection in batches by key (``f.key > last key``, an index range
scan per batch, so the last batch of a million costs what the first does) inside one
REPEATABLE READ transaction (every batch sees the same snapshot), so neither the database
nor this process ever holds more than one batch. Each batch is a statement of its own under
the web engine's statement timeout, and the selection is at most ``lq.MAX_CSV_ROWS`` rows: the
same bounds as the CSV download.

The FlatGeobuf is written by GDAL from ``flat_rows``, not by PostGIS's ``ST_AsFlatGeobuf``:
in PostGIS 3.3 (Debian 12's) a NULL value shifts the column index of the values after it
(``NULL::text, true`` reads back as the first column true; GDAL reports "Invalid size detected"
or "Field 0 set more than once"), and ``varchar``, ``date`` and ``timestamp`` values are
unreadable; most layers have empty optional fields.

The columns are the layer's public fields (typed from the declaration) and the area codes and
names, as the GeoJSON's properties are; the ``personal`` column and the personal fields are
never named, so no download can carry personal data (PDPA).
"""

from __future__ import annotations

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


def columns(c: gc.Collection, only: tuple[str, ...] | None = None) -> list[Column]:
    """The public columns of a point layer, in the order the GeoJSON's properties come; with
    ``only`` (``properties=``, checked against the queryables), the id and those."""
    found = _columns(c)
    if only is None:
        return found
    return [col for col in found if col.name == "id" or col.name in only]


def _columns(c: gc.Collection) -> list[Column]:
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
    """Each batch's rows as ``outer`` makes them from ``batch_rows`` (the batch's
    ``select_rows``, which end with ``f.key AS last_key``); each of ``outer``'s rows ends with
    the batch's row count and the row's key, so the next batch starts after the last one."""
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
                if not rows:
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
    """The columns, each cast to its declared type."""
    return ", ".join(f'({col.sql})::{col.kind} AS "{col.name}"' for col in cols)


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
    """Batches of public rows, each ``(*columns, x, y)`` (the point in the asked CRS), for
    writers that take columns (GDAL's FlatGeobuf and GeoPackage).

    Coordinates rather than WKB: psycopg2 hands ``bytea`` over as ``memoryview`` objects, and
    Arrow arrays made from them kept the process's memory growing with the download (+110 MB
    per 300,000 points, measured); two floats make the WKB in one vectorised call instead."""
    cols = columns(c, q.properties)
    names = ", ".join(f'"{col.name}"' for col in cols)
    outer = f"""
        SELECT {names}, ST_X(geom), ST_Y(geom), count(*) OVER (), last_key
        FROM batch_rows ORDER BY last_key
    """
    for rows in _run(engine, c, q, f"{_select(cols)}, {_geometry(q)} AS geom, f.key AS last_key",
                     outer, batch):
        yield cols, [tuple(row[:-2]) for row in rows]
