"""Reading CDD's exports: CSV (UTF-8, UTF-8 with BOM, cp874/TIS-620), XLSX, GeoJSON, zipped
Shapefile and GeoPackage. What a file is comes from its content, not its name.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyogrio

from cddgis.core.encodings import decode_text_columns, detect_encoding

MAX_FILE_BYTES = 200 * 1024 * 1024


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


def sniff(path: Path) -> str:
    """csv, xlsx, shapefile-zip, geojson or gpkg, from the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise FileProblem(f"{path.name} is empty")
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as exc:
            raise FileProblem(f"{path.name} looks like a ZIP file but is damaged") from exc
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


EXPECTED = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".zip": "shapefile-zip",
            ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
KIND_NAMES = {"csv": "CSV text", "xlsx": "an Excel workbook (XLSX)",
              "shapefile-zip": "a zipped Shapefile", "geojson": "GeoJSON", "gpkg": "a GeoPackage"}


def read_table(path: Path) -> RawTable:
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


def _read_csv(path: Path) -> RawTable:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    else:
        try:
            encoding = detect_encoding([data])
        except ValueError as exc:
            raise FileProblem(f"{path.name}: {exc}") from exc
        encoding = "utf-8" if encoding == "ascii" else encoding
        text = data.decode(encoding)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        lines = list(reader)
    except csv.Error as exc:
        raise FileProblem(f"{path.name}: not readable as CSV ({exc})") from exc
    return _table_from_lines("csv", path, lines, encoding=encoding)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    return value


def _read_xlsx(path: Path) -> RawTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken workbooks
        raise FileProblem(f"{path.name}: cannot be opened as a workbook ({exc})") from exc
    sheet = book.worksheets[0]
    lines = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return _table_from_lines("xlsx", path, lines, encoding=None)


def _table_from_lines(kind: str, path: Path, lines: list[list[object]],
                      encoding: str | None) -> RawTable:
    # Skip leading blank lines; the first non-blank line holds the headers.
    start = next((i for i, line in enumerate(lines)
                  if any(str(c).strip() for c in line if c is not None)), None)
    if start is None:
        raise FileProblem(f"{path.name} has no header row")
    headers = [str(h).strip() if h is not None else "" for h in lines[start]]
    rows, numbers = [], []
    for offset, line in enumerate(lines[start + 1:], start=start + 2):
        if not any(str(c).strip() for c in line if c is not None):
            continue
        if len(line) > len(headers) and any(str(c).strip() for c in line[len(headers):]
                                            if c is not None):
            rows.append({"__extra__": f"has {len(line)} cells but the header has "
                                      f"{len(headers)}"})
        else:
            rows.append({})
        for h, value in zip(headers, line, strict=False):
            if h:
                rows[-1][h] = value
        numbers.append(offset)
    return RawTable(kind=kind, headers=[h for h in headers if h], rows=rows,
                    row_numbers=numbers, encoding=encoding)


def _read_gis(path: Path, kind: str) -> RawTable:
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
    points: list[tuple[float, float] | None] = []
    for geom in frame.geometry:
        if geom is None or geom.is_empty or geom.geom_type != "Point":
            points.append(None)
        else:
            points.append((geom.x, geom.y))
    attributes = frame.drop(columns="geometry")
    rows = [{k: _plain(v) for k, v in rec.items()} for rec in attributes.to_dict("records")]
    return RawTable(kind=kind, headers=[str(c) for c in attributes.columns], rows=rows,
                    row_numbers=list(range(1, len(rows) + 1)), points=points,
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
