"""Whole-selection downloads of a point layer's items in the formats GIS software loads:
``f=fgb`` (FlatGeobuf), ``f=gpkg`` (GeoPackage), ``f=geojsonseq`` (GeoJSON text sequence,
RFC 8142) and ``f=ndjson`` (newline-delimited GeoJSON), beside ``f=json`` and ``f=csv``.

Like the CSV, a download takes every filter the items take and is not paged: without
``limit`` it is the whole selection (at most ``lq.MAX_CSV_ROWS`` rows), read in batches by
``gis/downloads.py``, so memory stays flat. The text sequences stream as the batches come. A
GeoPackage is an SQLite database, which cannot be written to a socket, and PostGIS 3.3's
FlatGeobuf writer is wrong with NULL values (``gis/downloads.py``), so both are written by GDAL
(pyogrio) from the stream of batches into a temporary file, which is then streamed and
removed.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Response
from sqlalchemy import Engine

from core.values import safe_row
from gis import collections as gc
from gis import downloads as gd
from web.params import BadParameter
from web.services import engine

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("fgb", "gpkg", "geojsonseq", "ndjson")
"""The ``f`` values answered here (point layers)."""
MEDIA_TYPES = {"fgb": "application/flatgeobuf", "gpkg": "application/geopackage+sqlite3",
               "geojsonseq": "application/geo+json-seq", "ndjson": "application/x-ndjson"}
SUFFIXES = {"fgb": "fgb", "gpkg": "gpkg", "geojsonseq": "geojsons", "ndjson": "ndjson"}
DESCRIPTIONS = {
    "fgb": "FlatGeobuf (QGIS, GDAL, browsers; no spatial index)",
    "gpkg": "GeoPackage (QGIS, ArcGIS, GDAL)",
    "geojsonseq": "GeoJSON text sequence, one feature per record (RFC 8142)",
    "ndjson": "newline-delimited GeoJSON features",
}
FILE_CHUNK = 256 * 1024
_DRIVERS = {"fgb": ("FlatGeobuf", {"SPATIAL_INDEX": "NO"}), "gpkg": ("GPKG", {})}


def _arrow_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {"text": pa.string(), "bigint": pa.int64(), "double precision": pa.float64(),
            "boolean": pa.bool_(), "date": pa.date32()}


def response(c: gc.Collection, fmt: str, q: gc.Query) -> Response:
    """The download of ``q``'s selection in ``fmt`` (one of FORMATS)."""
    problem = gd.unordered_problem(q)
    if problem is not None:
        raise BadParameter(problem)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    headers = {"Content-Disposition":
               f'attachment; filename="{c.id}-{stamp}.{SUFFIXES[fmt]}"',
               "Content-Crs": f"<{q.crs.uri}>"}
    db = engine()  # the body is sent outside the request's context
    if fmt in _DRIVERS:
        body: Iterator[bytes] = _gdal_file(db, c, q, fmt)
    else:
        body = _sequence(db, c, q, "\x1e" if fmt == "geojsonseq" else "")
    # The first chunk is made now: a bad filter or a timeout in the first batch is still an
    # error status, not a broken download.
    first = next(body, b"")
    return Response(itertools.chain([first], body), mimetype=MEDIA_TYPES[fmt],
                    headers=headers, direct_passthrough=True)


def csv_attachment(rows: Any, name: str) -> Response:
    """A small CSV (reports, lists) as a download Excel opens: UTF-8 with its byte-order mark
    (Excel reads Thai only so), and any cell that would run as a formula neutralised. A whole
    layer streams instead (web/api.py)."""
    out = io.StringIO()
    csv.writer(out).writerows(safe_row(list(row)) for row in rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _sequence(db: Engine, c: gc.Collection, q: gc.Query, separator: str) -> Iterator[bytes]:
    """One feature a line (RFC 8142 puts the record separator before each)."""
    chunk: list[str] = []
    size = 0
    for feature in gd.geojson_features(db, c, q):
        chunk.append(f"{separator}{feature}\n")
        size += len(feature)
        if size > FILE_CHUNK:
            yield "".join(chunk).encode()
            chunk, size = [], 0
    yield "".join(chunk).encode()


def _gdal_file(db: Engine, c: gc.Collection, q: gc.Query, fmt: str) -> Iterator[bytes]:
    """GDAL (pyogrio) writes the file from a stream of Arrow batches (one batch in memory at a
    time) into a temporary file before the response starts, so a database error is still an
    error status; the file is then sent in chunks and removed when sent (or abandoned).

    FlatGeobuf is written without its spatial index: building one keeps every feature's box
    in memory until the end (about 50 MB for a million points), which is what a streamed
    download must not do; GDAL and QGIS read a file without one."""
    # GDAL, Arrow and NumPy are loaded with the first such download, not when the app starts
    # (pyogrio brings geopandas and pandas: half a second of every worker's start; issue 26).
    import numpy as np
    import pyarrow as pa
    import pyogrio
    import shapely

    driver, options = _DRIVERS[fmt]
    cols = gd.columns(c, q.properties)
    arrow = _arrow_types()
    schema = pa.schema([pa.field(col.name, arrow[col.kind]) for col in cols]
                       + [pa.field("geometry", pa.binary())])

    def batches() -> Iterator[pa.RecordBatch]:
        for _, rows in gd.flat_rows(db, c, q):
            *by_column, xs, ys = zip(*rows, strict=True)
            points = shapely.to_wkb(shapely.points(np.array(xs, dtype=float),
                                                   np.array(ys, dtype=float)))
            yield pa.RecordBatch.from_arrays(
                [*(pa.array(values, type=field.type)
                   for values, field in zip(by_column, schema, strict=False)),
                 pa.array(points, type=pa.binary())], schema=schema)

    folder = tempfile.mkdtemp(prefix="cddgis-download-")
    path = os.path.join(folder, f"{c.id}.{SUFFIXES[fmt]}")
    try:
        pyogrio.write_arrow(
            pa.RecordBatchReader.from_batches(schema, batches()), path, layer=c.id,
            driver=driver, geometry_name="geometry", geometry_type="Point",
            crs=f"EPSG:{q.crs.srid}", layer_options=options)
    except BaseException:
        _remove(folder)
        raise
    return _send(path, folder)


def _send(path: str, folder: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as file:
            while chunk := file.read(FILE_CHUNK):
                yield chunk
    finally:
        _remove(folder)


def _remove(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
