"""Reading CDD's exports: CSV (UTF-8, UTF-8 with BOM, cp874/TIS-620), XLSX, GeoJSON, zipped
Shapefile and GeoPackage. What a file is comes from its content, not its name.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import os
import struct
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO

import shapely
from pyproj import CRS, Transformer

from core.encodings import EncodingProblem, detect_encoding
from core.env import int_from_env

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_CELL_CHARS = 128 * 1024
"""A longer cell is that row's error (often an unclosed quote), not the whole file's."""
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 100
"""Workbooks and shapefiles compress 5-20 times; far more is a zip bomb, not data."""
MAX_IMPORT_ROWS = 1_000_000
"""Data rows one file may hold, whatever its format (CDDGIS_IMPORT_MAX_ROWS)."""
MAX_EXPANDED_MB = 256
"""What a zipped shapefile may expand to and a GeoJSON may weigh (CDDGIS_IMPORT_MAX_EXPANDED_MB):
five times the 50 MB upload limit, room for a shapefile's padded columns; a 1,000,000-row file
of a few columns fits, the 291 MB archive of one repeated row does not."""
GIS_BATCH_ROWS = 2_000
"""GeoJSON, shapefile and GeoPackage rows are read this many at a time (GDAL's Arrow stream)."""
DELIMITERS = (",", ";", "\t", "|")
DIALECT_LINES = 50
ENCODING_SAMPLE = 1024 * 1024

csv.field_size_limit(MAX_FILE_BYTES)  # long cells are checked per row instead


class FileProblem(ValueError):
    """The file as a whole cannot be imported; the message says why."""


@dataclass(frozen=True)
class ImportLimits:
    """How big a file an import reads: rows (every format) and the expanded size of a zipped
    shapefile or of a GeoJSON. Archives are measured before a row is read."""

    max_rows: int = MAX_IMPORT_ROWS
    max_expanded_mb: int = MAX_EXPANDED_MB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImportLimits:
        env = os.environ if env is None else env
        return cls(max_rows=int_from_env(env, "CDDGIS_IMPORT_MAX_ROWS", MAX_IMPORT_ROWS, 1),
                   max_expanded_mb=int_from_env(env, "CDDGIS_IMPORT_MAX_EXPANDED_MB",
                                                MAX_EXPANDED_MB, 1))

    def too_many_rows(self, name: str, rows: int | None = None) -> FileProblem:
        counted = f"{rows:,} rows" if rows is not None else f"more than {self.max_rows:,} rows"
        return FileProblem(
            f"{name} has {counted}: at most {self.max_rows:,} rows per file "
            f"(CDDGIS_IMPORT_MAX_ROWS); split it into smaller files / ไฟล์มีข้อมูลเกิน "
            f"{self.max_rows:,} แถว (ขีดจำกัด CDDGIS_IMPORT_MAX_ROWS) แบ่งเป็นหลายไฟล์แล้วนำเข้าทีละไฟล์")

    def too_big(self, name: str, size: int, what: str) -> FileProblem:
        return FileProblem(
            f"{name} {what} {size / 2**20:,.0f} MB: at most {self.max_expanded_mb:,} MB "
            f"(CDDGIS_IMPORT_MAX_EXPANDED_MB); split it into smaller files / ไฟล์มีขนาด "
            f"{size / 2**20:,.0f} MB เกินขีดจำกัด {self.max_expanded_mb:,} MB "
            "(CDDGIS_IMPORT_MAX_EXPANDED_MB) แบ่งเป็นหลายไฟล์แล้วนำเข้าทีละไฟล์")


@dataclass
class RawTable:
    """Rows as read: header -> cell, with the row numbers a user sees in their spreadsheet."""

    kind: str
    headers: list[str]
    rows: list[dict[str, object]]
    row_numbers: list[int]
    points: list[tuple[float, float] | None] | None = None  # from GIS formats, lon/lat
    encoding: str | None = None
    crs: str | None = None


@dataclass(slots=True)
class Record:
    """One data row: its number as the user sees it, its cells, and what is wrong with its shape
    (too many cells, a cell too long); ``point`` is lon/lat from a GIS file's geometry."""

    row: int
    cells: dict[str, object]
    problem: str | None = None
    point: tuple[float, float] | None = None


@dataclass
class TableStream:
    """A table read row by row: ``records`` is consumed once, so a big file is never in memory
    at once (the whole file, its lines and its row dicts used to be: 30 times its size)."""

    kind: str
    headers: list[str]
    records: Iterator[Record]
    geometry: bool = False
    encoding: str | None = None
    crs: str | None = None


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks (files may be hundreds of MB): what load and import
    records name a source file by."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sniff(path: Path) -> str:
    """csv, xlsx, shapefile-zip, geojson or gpkg, from the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise FileProblem(f"ไฟล์ {path.name} ว่างเปล่า / {path.name} is empty")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise FileProblem(f"ไฟล์ {path.name} เป็น ZIP ที่เสียหาย บีบอัดใหม่แล้วอัปโหลดอีกครั้ง / "
                              f"{path.name} looks like a ZIP file but is damaged: zip it again"
                              ) from exc
        _check_expansion(path, infos)
        names = [i.filename for i in infos]
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        if any(n.lower().endswith(".shp") for n in names):
            return "shapefile-zip"
        raise FileProblem(f"ไฟล์ ZIP {path.name} ไม่มีทั้ง Excel และ Shapefile (.shp .dbf .shx) / "
                          f"{path.name} is a ZIP file with neither a workbook nor a shapefile")
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(f"{path.name} เป็น Excel รุ่นเก่า (.xls) บันทึกเป็น .xlsx หรือ CSV ก่อน / "
                          f"{path.name} is an old Excel (.xls) workbook: save it as .xlsx or CSV")
    if b"\x00" in head:
        raise FileProblem(f"{path.name} ไม่ใช่ไฟล์ข้อความ Excel หรือไฟล์ GIS / {path.name} is not a "
                          "text file, a workbook or a GIS file")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") and b'"type"' in head:
        return "geojson"
    return "csv"


def _check_expansion(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuses an archive that would expand to an absurd size (a zip bomb) before reading it."""
    unpacked = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    ratio = unpacked / packed
    if unpacked > MAX_UNZIPPED_BYTES or (unpacked > 50 * 2**20 and ratio > MAX_ZIP_RATIO):
        raise FileProblem(
            f"{path.name} expands to {unpacked / 2**20:,.0f} MB from {packed / 2**20:,.1f} MB "
            f"(ratio {ratio:,.0f}:1; at most {MAX_UNZIPPED_BYTES // 2**20:,} MB and "
            f"{MAX_ZIP_RATIO}:1): refused as a likely zip bomb / ไฟล์ ZIP ขยายใหญ่ผิดปกติ จึงไม่นำเข้า")


EXPECTED = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx",
            ".zip": "shapefile-zip", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
"""The file endings an import takes, and what must be inside: one list for the command line, the
staff upload and the import API (they once disagreed: ``.tsv`` was a 415 from the API)."""
ACCEPTED_NAMES = "CSV, XLSX, GeoJSON, Shapefile (.zip), GeoPackage (.gpkg)"
KIND_NAMES = {"csv": "CSV text", "xlsx": "an Excel workbook (XLSX)",
              "shapefile-zip": "a zipped Shapefile", "geojson": "GeoJSON", "gpkg": "a GeoPackage"}


def open_table(path: Path, limits: ImportLimits | None = None) -> TableStream:
    """The file as a stream of rows; what it is comes from its content, not its name.

    Every format streams, and past ``limits.max_rows`` rows the stream raises FileProblem;
    a zipped shapefile, a GeoPackage or a GeoJSON over the limits is refused here, before a row
    is read (the .dbf header's record count, the GeoPackage's feature count, the sizes)."""
    limits = limits or ImportLimits.from_env()
    if not path.is_file():
        raise FileProblem(f"ไม่พบไฟล์ {path.name} / {path.name} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileProblem(f"{path.name} ใหญ่เกิน {MAX_FILE_BYTES // 2**20} MB / {path.name} is "
                          f"larger than {MAX_FILE_BYTES // 2**20} MB")
    kind = sniff(path)
    expected = EXPECTED.get(path.suffix.lower())
    if expected and expected != kind:
        raise FileProblem(f"{path.name} มีนามสกุล {path.suffix} แต่เนื้อหาเป็น {KIND_NAMES[kind]} "
                          f"เปลี่ยนชื่อให้ตรงกับเนื้อหา / {path.name} is named {path.suffix} but holds "
                          f"{KIND_NAMES[kind]}; rename it to match what it is")
    if kind == "csv":
        return _read_csv(path, limits)
    if kind == "xlsx":
        return _read_xlsx(path, limits)
    return _read_gis(path, kind, limits)


def read_table(path: Path) -> RawTable:
    """The whole table in memory, for small files (indicator tables)."""
    stream = open_table(path)
    rows, numbers, points = [], [], []
    for record in stream.records:
        cells = dict(record.cells)
        if record.problem:
            cells["__extra__"] = record.problem
        rows.append(cells)
        numbers.append(record.row)
        points.append(record.point)
    return RawTable(kind=stream.kind, headers=stream.headers, rows=rows, row_numbers=numbers,
                    points=points if stream.geometry else None, encoding=stream.encoding,
                    crs=stream.crs)


def _encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or cp874, from the first megabyte (cut at a line end)."""
    with path.open("rb") as fh:
        sample = fh.read(ENCODING_SAMPLE)
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if len(sample) == ENCODING_SAMPLE and b"\n" in sample:
        sample = sample[:sample.rindex(b"\n")]
    try:
        encoding = detect_encoding([sample])
    except ValueError as exc:
        raise FileProblem(f"{path.name}: {exc}") from exc
    return "utf-8" if encoding == "ascii" else encoding


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter among , ; tab | that splits the first lines into the same number of columns
    (more than one) most consistently; the quote character is always \" (RFC 4180), so an
    apostrophe in a name is just a letter (csv.Sniffer could take it for the quote)."""
    text = "".join(lines)
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                                          quotechar='"') if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if len(lines) >= DIALECT_LINES and len(rows) > 2:
            rows = rows[:-1]  # the last sampled line may be cut inside a quoted cell
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(r) == width for r in rows) / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(path: Path, limits: ImportLimits) -> TableStream:
    encoding = _encoding(path)
    fh = path.open("r", encoding=encoding, newline="")
    head = [line for _, line in zip(range(DIALECT_LINES), fh, strict=False)]
    fh.seek(0)
    delimiter = detect_delimiter(head)
    reader = csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True)

    def lines() -> Iterator[list[object]]:
        try:
            yield from reader
        except csv.Error as exc:
            raise FileProblem(f"{path.name}: อ่านเป็น CSV ไม่ได้หลังแถวที่ {reader.line_num} "
                              f"(อาจมีเครื่องหมายคำพูดที่ไม่ได้ปิด) / not readable as CSV after row "
                              f"{reader.line_num} (an unclosed quote?)") from exc
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path.name}: รหัสอักขระเปลี่ยนไปจาก {encoding} ใกล้แถวที่ "
                              f"{reader.line_num + 1} บันทึกไฟล์ใหม่เป็น UTF-8 / the text stops being "
                              f"{encoding} near row {reader.line_num + 1}: save the file as UTF-8"
                              ) from exc
        finally:
            fh.close()

    return _stream_from_lines("csv", path, lines(), encoding=encoding, limits=limits)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    return value


def _read_xlsx(path: Path, limits: ImportLimits) -> TableStream:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken workbooks
        raise FileProblem(f"{path.name}: เปิดเป็นไฟล์ Excel ไม่ได้ (ไฟล์อาจเสียหายหรือมีรหัสผ่าน) / cannot "
                          "be opened as a workbook (damaged, or protected by a password?)") from exc

    def lines() -> Iterator[list[object]]:
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell(v) for v in row]
        finally:
            book.close()

    return _stream_from_lines("xlsx", path, lines(), encoding=None, limits=limits)


def _blank(line: list[object]) -> bool:
    return not any(str(c).strip() for c in line if c is not None)


def _stream_from_lines(kind: str, path: Path, lines: Iterator[list[object]],
                       encoding: str | None, limits: ImportLimits) -> TableStream:
    # Skip leading blank lines; the first non-blank line holds the headers.
    number = 0
    for line in lines:
        number += 1
        if not _blank(line):
            break
    else:
        raise FileProblem(f"{path.name} ไม่มีแถวหัวตาราง / {path.name} has no header row")
    headers = [str(h).strip() if h is not None else "" for h in line]
    if any(len(h) > 1000 for h in headers):
        raise FileProblem(f"{path.name}: หัวตารางยาวเกิน 1,000 ตัวอักษร (อาจมีเครื่องหมายคำพูดที่ไม่ได้ปิด) / "
                          "a header is longer than 1,000 characters (an unclosed quote?)")

    def records(number: int = number) -> Iterator[Record]:
        rows = 0
        for line in lines:
            number += 1
            if _blank(line):
                continue
            rows += 1
            if rows > limits.max_rows:
                raise limits.too_many_rows(path.name)
            problems = []
            if len(line) > len(headers) and not _blank(line[len(headers):]):
                problems.append(f"แถวมี {len(line)} ช่อง แต่หัวตารางมี {len(headers)} / row has "
                                f"{len(line)} cells but the header has {len(headers)}")
            cells: dict[str, object] = {}
            for h, value in zip(headers, line, strict=False):
                if not h:
                    continue
                if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                    problems.append(
                        f"row {number}: the {h!r} cell is {len(value):,} characters long (at "
                        f"most {MAX_CELL_CHARS:,}; an unclosed quote?) / ข้อความในช่องยาวเกินไป")
                    continue
                cells[h] = value
            yield Record(number, cells, "; ".join(problems) or None)

    return TableStream(kind=kind, headers=[h for h in headers if h], records=records(),
                       encoding=encoding)


def _read_gis(path: Path, kind: str, limits: ImportLimits) -> TableStream:
    """GeoJSON, zipped shapefile or GeoPackage, ``GIS_BATCH_ROWS`` features at a time through
    GDAL's Arrow stream (pyogrio.raw.open_arrow): memory holds one batch, not the file."""
    from pyogrio.raw import open_arrow  # imported here: the app starts ~1 s sooner without it

    encoding = None
    if kind == "shapefile-zip":
        encoding = _check_shapefile_zip(path, limits)
    elif kind == "gpkg":
        _check_gpkg(path, limits)
    elif path.stat().st_size > limits.max_expanded_mb * 2**20:
        raise limits.too_big(path.name, path.stat().st_size, "is")
    stack = contextlib.ExitStack()
    try:
        meta, reader = stack.enter_context(open_arrow(
            path, batch_size=GIS_BATCH_ROWS, use_pyarrow=True,
            encoding="ISO-8859-1" if kind == "shapefile-zip" else None))
    except Exception as exc:  # pyogrio raises several types for unreadable files
        stack.close()
        raise FileProblem(f"{path.name}: เปิดเป็นไฟล์ GIS ไม่ได้ (ไฟล์อาจเสียหายหรือไม่ครบ เช่น Shapefile "
                          "ที่ขาด .shx หรือ .dbf) / cannot be read as a GIS file (damaged, or "
                          "incomplete: a shapefile needs its .shp, .shx and .dbf)") from exc
    crs, transformer = None, None
    if meta.get("crs"):
        source = CRS.from_user_input(meta["crs"])
        crs = source.to_string()
        if source.to_epsg() != 4326:
            transformer = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
    headers = [str(h) for h in meta["fields"]]
    geometry = meta.get("geometry_name") or "wkb_geometry"
    recode = encoding not in (None, "ascii")

    def records() -> Iterator[Record]:
        number = 0
        try:
            for batch in reader:
                if number + batch.num_rows > limits.max_rows:
                    raise limits.too_many_rows(path.name)
                columns = [batch.column(h).to_pylist() for h in headers]
                points: list[tuple[float, float] | None] = [None] * batch.num_rows
                if geometry in batch.schema.names:
                    geoms = shapely.from_wkb(batch.column(geometry).to_numpy(
                        zero_copy_only=False))
                    xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
                    if transformer is not None:
                        xs, ys = transformer.transform(xs, ys)
                    is_point = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
                    points = [(float(x), float(y)) if ok else None
                              for ok, x, y in zip(is_point, xs, ys, strict=True)]
                for i in range(batch.num_rows):
                    number += 1
                    cells = {}
                    for h, column in zip(headers, columns, strict=True):
                        value = column[i]
                        if recode and isinstance(value, str):
                            try:
                                value = value.encode("latin-1").decode(encoding or "")
                            except UnicodeError as exc:
                                raise FileProblem(f"{path.name}: the text stops being "
                                                  f"{encoding} in row {number}") from exc
                        cells[h] = _plain(value)
                    yield Record(number, cells, None, points[i])
        except FileProblem:
            raise
        except Exception as exc:  # GDAL may find the damage only part-way
            raise FileProblem(f"{path.name}: อ่านต่อไม่ได้หลังแถวที่ {number} (ไฟล์อาจเสียหาย) / cannot be "
                              f"read after row {number} (is the file damaged?)") from exc
        finally:
            stack.close()

    return TableStream(kind=kind, headers=headers, records=records(), geometry=True,
                       encoding=encoding, crs=crs)


def _check_shapefile_zip(path: Path, limits: ImportLimits) -> str:
    """Refuses a zipped shapefile over the limits from what it declares (the members' sizes,
    the .dbf header's record count), before a row is read; returns the text's encoding, from
    the bytes of its text columns (the first megabyte of them that is not ASCII)."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        expanded = sum(i.file_size for i in infos)
        if expanded > limits.max_expanded_mb * 2**20:
            raise limits.too_big(path.name, expanded, "expands to")
        tables = [i for i in infos if i.filename.lower().endswith(".dbf")]
        headers = {}
        for info in tables:
            with archive.open(info) as fh:
                head = fh.read(32)
            if len(head) == 32:
                records = struct.unpack_from("<I", head, 4)[0]
                if records > limits.max_rows:
                    raise limits.too_many_rows(path.name, records)
                headers[info.filename] = records
        if not headers:
            return "ascii"
        biggest = max(tables, key=lambda i: headers.get(i.filename, -1))
        with archive.open(biggest) as fh:
            sample = _dbf_text_sample(fh)
    try:
        return detect_encoding(sample)
    except EncodingProblem as exc:
        raise FileProblem(f"{path.name}: {exc}") from exc


def _dbf_text_sample(fh: IO[bytes]) -> list[bytes]:
    """Non-ASCII values of the .dbf's character columns, up to ENCODING_SAMPLE bytes, read in
    chunks of whole records (a file all ASCII is read through, never held)."""
    head = fh.read(32)
    if len(head) < 32:
        return []
    header_len, record_len = struct.unpack_from("<HH", head, 8)
    descriptors = fh.read(max(0, header_len - 32))
    text_fields, offset = [], 1  # each record starts with its deleted flag
    for start in range(0, len(descriptors) - 31, 32):
        if descriptors[start] == 0x0D:
            break
        kind, width = chr(descriptors[start + 11]), descriptors[start + 16]
        if kind == "C":
            text_fields.append((offset, offset + width))
        offset += width
    if record_len <= 0 or not text_fields:
        return []
    sample: list[bytes] = []
    size = 0
    chunk_records = max(1, 2**20 // record_len)
    while size < ENCODING_SAMPLE and (chunk := fh.read(record_len * chunk_records)):
        if chunk.isascii():
            continue
        for start in range(0, len(chunk) - record_len + 1, record_len):
            for a, b in text_fields:
                value = chunk[start + a:start + b].rstrip(b" \x00")
                if not value.isascii():
                    sample.append(value)
                    size += len(value)
    return sample


def _check_gpkg(path: Path, limits: ImportLimits) -> None:
    """Refuses a GeoPackage with more features than the row limit, from its own count
    (gpkg_ogr_contents, or GDAL's fast count), before a row is read."""
    from pyogrio import read_info  # GDAL's bindings load only when a GIS file comes (start-up)

    try:
        count = read_info(path)["features"]
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise FileProblem(f"{path.name}: เปิดเป็นไฟล์ GIS ไม่ได้ (ไฟล์อาจเสียหายหรือไม่ครบ เช่น Shapefile "
                          "ที่ขาด .shx หรือ .dbf) / cannot be read as a GIS file (damaged, or "
                          "incomplete: a shapefile needs its .shp, .shx and .dbf)") from exc
    if count is not None and count > limits.max_rows:
        raise limits.too_many_rows(path.name, int(count))


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, date | str | int | float | bool):
        return value
    return str(value)
