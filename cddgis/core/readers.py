"""Reading CDD's exports: CSV (UTF-8, UTF-8 with BOM, cp874/TIS-620), XLSX, GeoJSON, zipped
Shapefile and GeoPackage. What a file is comes from its content, not its name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyogrio

from cddgis.core.encodings import decode_text_columns, detect_encoding

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_CELL_CHARS = 128 * 1024
"""A longer cell is that row's error (often an unclosed quote), not the whole file's."""
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 100
"""Workbooks and shapefiles compress 5-20 times; far more is a zip bomb, not data."""
DELIMITERS = (",", ";", "\t", "|")
DIALECT_LINES = 50
ENCODING_SAMPLE = 1024 * 1024

csv.field_size_limit(MAX_FILE_BYTES)  # long cells are checked per row instead


class FileProblem(ValueError):
    """The file as a whole cannot be imported; the message says why."""


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
        raise FileProblem(f"{path.name} is empty")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise FileProblem(f"{path.name} looks like a ZIP file but is damaged") from exc
        _check_expansion(path, infos)
        names = [i.filename for i in infos]
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        if any(n.lower().endswith(".shp") for n in names):
            return "shapefile-zip"
        raise FileProblem(f"{path.name} is a ZIP file with neither a workbook nor a shapefile")
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(f"{path.name} is an old Excel (.xls) workbook: save it as .xlsx or CSV")
    if b"\x00" in head:
        raise FileProblem(f"{path.name} is not a text file, a workbook or a GIS file")
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


EXPECTED = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".zip": "shapefile-zip",
            ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
KIND_NAMES = {"csv": "CSV text", "xlsx": "an Excel workbook (XLSX)",
              "shapefile-zip": "a zipped Shapefile", "geojson": "GeoJSON", "gpkg": "a GeoPackage"}


def open_table(path: Path) -> TableStream:
    """The file as a stream of rows; what it is comes from its content, not its name."""
    if not path.is_file():
        raise FileProblem(f"{path} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileProblem(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB")
    kind = sniff(path)
    expected = EXPECTED.get(path.suffix.lower())
    if expected and expected != kind:
        raise FileProblem(f"{path.name} is named {path.suffix} but holds {KIND_NAMES[kind]}; "
                          f"rename it to match what it is")
    if kind == "csv":
        return _read_csv(path)
    if kind == "xlsx":
        return _read_xlsx(path)
    return _read_gis(path, kind)


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


def _read_csv(path: Path) -> TableStream:
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
            raise FileProblem(f"{path.name}: not readable as CSV after row {reader.line_num} "
                              f"({exc})") from exc
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path.name}: the text stops being {encoding} near row "
                              f"{reader.line_num + 1}") from exc
        finally:
            fh.close()

    return _stream_from_lines("csv", path, lines(), encoding=encoding)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    return value


def _read_xlsx(path: Path) -> TableStream:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken workbooks
        raise FileProblem(f"{path.name}: cannot be opened as a workbook ({exc})") from exc

    def lines() -> Iterator[list[object]]:
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                yield [_cell(v) for v in row]
        finally:
            book.close()

    return _stream_from_lines("xlsx", path, lines(), encoding=None)


def _blank(line: list[object]) -> bool:
    return not any(str(c).strip() for c in line if c is not None)


def _stream_from_lines(kind: str, path: Path, lines: Iterator[list[object]],
                       encoding: str | None) -> TableStream:
    # Skip leading blank lines; the first non-blank line holds the headers.
    number = 0
    for line in lines:
        number += 1
        if not _blank(line):
            break
    else:
        raise FileProblem(f"{path.name} has no header row")
    headers = [str(h).strip() if h is not None else "" for h in line]
    if any(len(h) > 1000 for h in headers):
        raise FileProblem(f"{path.name}: a header is longer than 1,000 characters (an unclosed "
                          "quote?)")

    def records(number: int = number) -> Iterator[Record]:
        for line in lines:
            number += 1
            if _blank(line):
                continue
            problems = []
            if len(line) > len(headers) and not _blank(line[len(headers):]):
                problems.append(f"row has {len(line)} cells but the header has {len(headers)}")
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


def _read_gis(path: Path, kind: str) -> TableStream:
    try:
        frame = pyogrio.read_dataframe(path, encoding="ISO-8859-1"
                                       if kind == "shapefile-zip" else None)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise FileProblem(f"{path.name}: cannot be read ({exc})") from exc
    encoding = None
    if kind == "shapefile-zip":
        encoding = decode_text_columns(frame, path.name)
    crs = frame.crs.to_string() if frame.crs is not None else None
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    attributes = frame.drop(columns="geometry")
    headers = [str(c) for c in attributes.columns]

    def records() -> Iterator[Record]:
        for number, (geom, values) in enumerate(
                zip(frame.geometry, attributes.itertuples(index=False, name=None),
                    strict=True), start=1):
            point = (None if geom is None or geom.is_empty or geom.geom_type != "Point"
                     else (geom.x, geom.y))
            yield Record(number, {h: _plain(v) for h, v in zip(headers, values, strict=True)},
                         None, point)

    return TableStream(kind=kind, headers=headers, records=records(), geometry=True,
                       encoding=encoding, crs=crs)


def _plain(value: object) -> object:
    try:
        import pandas as pd

        if value is None or (not isinstance(value, str | bytes) and pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, date | str | int | float | bool):
        return value
    return str(value)
