"""Importing a CDD export into a point layer, with the checks of CDD's "Data Cleansing".

Every row is checked and gets a verdict (ok, warning, error) with its reasons. By default an
import with any error commits nothing; ``valid_only`` commits the valid rows. Either way the
write is one transaction, and every import (even a refused one) is recorded.

This module holds no SQL: what needs the database (where a point lies, namesakes already in the
layer, the write) goes through a ``LayerStore``; ``gis.layer_store`` provides the PostGIS one.
"""

from __future__ import annotations

import csv
import itertools
import math
import pickle
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Protocol

import geothai
from geothai import normalize
from pyproj import Transformer

from core.errors import own_words
from core.readers import FileProblem, Record, TableStream, file_sha256, open_table
from core.schema import Layer, header_key
from core.values import (
    TRUE_WORDS,
    BadValue,
    Converted,
    is_blank,
    parse,
    read_number,
    safe_row,
)

THAILAND_BBOX = (97.3, 5.6, 105.7, 20.5)
NO_ZONE = ("ไม่รู้โซน UTM: เพิ่มคอลัมน์โซน (47 หรือ 48) หรือเลือกระบบพิกัดตอนนำเข้า / no UTM zone "
           "(47 or 48): add a zone column, or choose the coordinate system when importing (the "
           "upload page's 'Coordinates', crs= in the import API, --crs on the command line)")
UTM_ZONES = {"47": "EPSG:32647", "47n": "EPSG:32647", "48": "EPSG:32648", "48n": "EPSG:32648"}

SPECIAL_HEADERS: dict[str, set[str]] = {
    "lat": {"lat", "latitude", "ละติจูด", "ละติจูท", "พิกัดละติจูด", "y", "พิกัดy", "latdd"},
    "lon": {"lon", "lng", "long", "longitude", "ลองจิจูด", "ลองติจูด", "พิกัดลองจิจูด", "x",
            "พิกัดx", "londd"},
    "easting": {"easting", "utme", "utmx", "อีสติ้ง", "พิกัดe"},
    "northing": {"northing", "utmn", "utmy", "นอร์ทติ้ง", "พิกัดn"},
    "zone": {"zone", "utmzone", "โซน", "โซนutm"},
    "province_code": {"provincecode", "รหัสจังหวัด", "provcode", "pvcode", "adm1pcode"},
    "district_code": {"districtcode", "รหัสอำเภอ", "ampcode", "adm2pcode"},
    "subdistrict_code": {"subdistrictcode", "รหัสตำบล", "tamcode", "adm3pcode"},
    "province": {"province", "จังหวัด", "ชื่อจังหวัด", "provincename"},
    "district": {"district", "อำเภอ", "เขต", "อำเภอเขต", "amphoe", "districtname"},
    "subdistrict": {"subdistrict", "ตำบล", "แขวง", "ตำบลแขวง", "tambon", "subdistrictname"},
    "sample": {"sample", "ข้อมูลตัวอย่าง"},
    # cddgis's own CSV download writes where each point lies as province_code … and the areas
    # its source stated as stated_province_code …; with these present the plain codes are
    # the location's, not a statement, and are not read (issue 24, item 6).
    "stated_province_code": {"statedprovincecode", "รหัสจังหวัดที่ระบุ"},
    "stated_district_code": {"stateddistrictcode", "รหัสอำเภอที่ระบุ"},
    "stated_subdistrict_code": {"statedsubdistrictcode", "รหัสตำบลที่ระบุ"},
}
STATED_ROLES = {"stated_province_code": "province_code", "stated_district_code": "district_code",
                "stated_subdistrict_code": "subdistrict_code"}
AREA_ROLES = ("province_code", "district_code", "subdistrict_code", "province", "district",
              "subdistrict")
BATCH = 2_000


# A point this close outside the (simplified) boundary is taken as on land; further out it is in
# the sea or across a border river (Vientiane is ~1 km from Thailand's bank of the Mekong).
COAST_TOLERANCE_M = 500


@dataclass(frozen=True)
class Placement:
    """The subdistrict a point lies in (or the nearest one, ``distance_m`` away)."""

    subdistrict_code: str
    district_code: str
    province_code: str
    region: str | None
    name_th: str
    distance_m: float  # 0 when inside


@dataclass
class FeatureRow:
    """One checked row, ready to be written."""

    key: str
    name: str | None
    properties: dict[str, object]
    personal: dict[str, object]
    lon: float
    lat: float
    given: tuple[str | None, str | None, str | None]
    placement: Placement | None
    sample: bool = False
    """The file's own ``sample`` column said so (a download of sample data coming back)."""


@dataclass(frozen=True)
class Carried:
    """What the file has columns for: an update replaces only these and keeps the rest (a
    download leaves personal data out; re-importing it must not erase it)."""

    public: frozenset[str]
    personal: frozenset[str]
    name: bool
    given: bool


@dataclass(frozen=True)
class Existing:
    """A stored feature an update is about to change, for reporting what changes."""

    properties: dict[str, object]
    personal: dict[str, object]
    lon: float
    lat: float


class LayerWriter(Protocol):
    """One open transaction of an import: rows are written batch by batch, then committed or
    rolled back as a whole."""

    def write(self, rows: list[FeatureRow]) -> dict[str, Existing]:
        """Upserts ``rows``; returns the stored state of those that existed, before the write."""
        ...

    def finish(self, report: ImportReport, *, commit: bool) -> tuple[int, int, int]:
        """Commits (recording the import) or rolls back; (import id, inserted, updated)."""
        ...


class LayerStore(Protocol):
    """What an import needs from the database; ``gis.layer_store.PostgisLayerStore`` is it."""

    def locate(self, points: list[tuple[float, float]]) -> list[Placement | None]:
        """The subdistrict each (lon, lat) lies in, or the nearest; None when none is near."""
        ...

    def namesakes_nearby(self, layer: str, rows: list[tuple[str, str, float, float]],
                         radius_m: float) -> dict[int, str]:
        """For rows (key, name, lon, lat): index -> key of a feature already in the layer with
        the same name within ``radius_m`` but another key."""
        ...

    def record(self, report: ImportReport, *, sample: bool, message: str) -> int:
        """Records an import that wrote nothing; returns its id."""
        ...

    def stored_provinces(self, layer: str, keys: list[str]) -> dict[str, str | None]:
        """key -> the province the stored feature with that key lies in (keys stored only)."""
        ...

    def awaiting_review(self, layer: str, keys: list[str]) -> dict[str, int]:
        """key -> the id of a change of that feature waiting for review (keys waiting only)."""
        ...

    def begin(self, report: ImportReport, *, source_path: str, sample: bool,
              carried: Carried) -> LayerWriter:
        """Opens the transaction the import writes in."""
        ...


class ImportRefused(RuntimeError):
    """The file cannot be imported at all (unreadable, wrong columns); nothing was written."""


class ImportCancelled(RuntimeError):
    """The import was cancelled while it ran (a clerk's Cancel): its transaction is rolled
    back and the cancellation reaches the caller, which decides what to record."""


@dataclass(slots=True)
class RowResult:
    row: int
    key: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    """What an update changes in the stored feature (reported, not a finding)."""
    point: tuple[float, float] | None = None
    """Where the row lies (lon, lat) when its coordinates could be read: reports draw it."""

    @property
    def status(self) -> str:
        return "error" if self.errors else "warning" if self.warnings else "ok"


@dataclass
class ImportReport:
    layer: str
    source_file: str
    sha256: str
    mode: str
    file_problems: list[str]
    rows: list[RowResult]
    file_notes: list[str] = field(default_factory=list)
    committed: bool = False
    inserted: int = 0
    updated: int = 0
    import_id: int | None = None
    encoding: str | None = None
    pending: int = 0
    """Rows staged for review (the layer asks for approval), applied only when approved."""

    def counts(self) -> dict[str, int]:
        by: dict[str, int] = defaultdict(int)
        for r in self.rows:
            by[r.status] += 1
        return {"total": len(self.rows), "ok": by["ok"], "warning": by["warning"],
                "error": by["error"], "inserted": self.inserted, "updated": self.updated}

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(["row", "key", "status", "reasons"])
            for problem in self.file_problems:
                out.writerow(safe_row(["file", "", "error", problem]))
            for note in self.file_notes:
                out.writerow(safe_row(["file", "", "note", note]))
            for r in self.rows:
                out.writerow(safe_row([r.row, r.key or "", r.status,
                                       "; ".join(r.errors + r.warnings + r.changes)]))

    def summary(self) -> str:
        c = self.counts()
        verdict = ("committed" if self.committed else
                   "dry run: nothing written" if self.mode == "dry-run" else
                   "NOT committed: the database is unchanged")
        lines = [f"{self.layer}: {c['total']} rows — {c['ok']} ok, {c['warning']} with warnings, "
                 f"{c['error']} with errors; {verdict}"]
        if self.committed:
            lines.append(f"  {self.inserted} inserted, {self.updated} updated "
                         f"(import #{self.import_id})")
            if self.pending:
                lines.append(f"  {self.pending} waiting for review / รออนุมัติ {self.pending} "
                             "รายการ")
        elif self.mode == "dry-run":
            changed = sum(1 for r in self.rows if r.changes)
            lines.append(f"  would insert {self.inserted}, would update {self.updated} "
                         f"({changed} with changes; fields the file has no column for are "
                         f"kept) / จะเพิ่ม {self.inserted} แก้ไข {self.updated} รายการ "
                         "(ช่องที่ไฟล์ไม่มีจะคงค่าเดิม)")
            if self.pending:
                lines.append(f"  would send {self.pending} for review / จะส่งรออนุมัติ "
                             f"{self.pending} รายการ")
        lines += [f"  file: {p}" for p in self.file_problems]
        lines += [f"  note: {n}" for n in self.file_notes]
        # Errors first, then warnings (each in file order), as the web report lists them: a
        # clerk must see what stops the import before what merely deserves a look.
        shown = ([r for r in self.rows if r.status == "error"]
                 + [r for r in self.rows if r.status == "warning"])[:15]
        for r in shown:
            lines.append(f"  row {r.row}: {r.status}: {'; '.join(r.errors + r.warnings)}")
        if self.mode == "dry-run":
            lines += [f"  row {r.row}: would change {'; '.join(r.changes)}"
                      for r in self.rows if r.changes][:15]
        hidden = sum(1 for r in self.rows if r.status != "ok") - len(shown)
        if hidden > 0:
            lines.append(f"  … {hidden} more rows with findings (see --report)")
        return "\n".join(lines)


@cache
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _in_bbox(lon: float, lat: float) -> bool:
    min_lon, min_lat, max_lon, max_lat = THAILAND_BBOX
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def _map_columns(layer: Layer, headers: list[str], utm: bool,
                 ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Field name -> header, special role -> header, and headers nobody wanted."""
    fields: dict[str, str] = {}
    special: dict[str, str] = {}
    unused: list[str] = []
    for header in headers:
        key = header_key(header)
        owner = next((f.name for f in layer.fields if key in f.accepted_headers()), None)
        if owner and owner not in fields:
            fields[owner] = header
            continue
        role = next((r for r, names in SPECIAL_HEADERS.items() if key in names), None)
        if role in ("lat", "lon") and utm and key in ("x", "y"):
            role = "easting" if key == "x" else "northing"
        if role and role not in special:
            special[role] = header
        else:
            unused.append(header)
    if any(role in special for role in STATED_ROLES):
        for role in AREA_ROLES:  # the location's areas: the stated ones are in their own columns
            if role in special:
                unused.append(special.pop(role))
        for stated, role in STATED_ROLES.items():
            if stated in special:
                special[role] = special.pop(stated)
    return fields, special, unused


def _given_codes(raw: dict[str, object], special: dict[str, str], result: RowResult,
                 ) -> tuple[str | None, str | None, str | None]:
    """The province/district/subdistrict the row says it is in, as DOPA codes."""
    def cell(role: str) -> str:
        header = special.get(role)
        value = raw.get(header) if header else None
        return "" if is_blank(value) else str(value).strip().removesuffix(".0")

    province, district, subdistrict = (cell("province_code") or None, cell("district_code") or
                                       None, cell("subdistrict_code") or None)
    if subdistrict and not geothai.subdistrict(subdistrict):
        result.warnings.append(f"รหัสตำบล {subdistrict} ไม่ใช่รหัสของกรมการปกครอง / stated "
                               f"subdistrict code {subdistrict} is not a DOPA code")
    if subdistrict:
        district, province = district or subdistrict[:4], province or subdistrict[:2]
    if district:
        province = province or district[:2]
    p_name, d_name, s_name = cell("province"), cell("district"), cell("subdistrict")
    if not province and p_name:
        found = [p for p in geothai.provinces()
                 if normalize(p_name) in (normalize(p.name_th), normalize(p.name_en))]
        province = found[0].code if found else None
        if not found:
            result.warnings.append(f"ไม่รู้จักจังหวัด {p_name!r} / stated province {p_name!r} is not a "
                                   "province name")
    if not district and d_name and province:
        in_province = [d for d in geothai.districts(province)
                 if normalize(d_name) in (normalize(d.name_th), normalize(d.name_en))
                 or (normalize(d_name) in ("เมือง", "mueang") and d.code.endswith("01"))]
        district = in_province[0].code if in_province else None
        if not in_province:
            result.warnings.append(f"ไม่พบอำเภอ {d_name!r} ในจังหวัด {province} / stated district "
                                   f"{d_name!r} is not in province {province}")
    if not subdistrict and s_name and district:
        in_district = [s for s in geothai.subdistricts(district)
                 if normalize(s_name) in (normalize(s.name_th), normalize(s.name_en))]
        subdistrict = in_district[0].code if in_district else None
        if not in_district:
            result.warnings.append(f"ไม่พบตำบล {s_name!r} ในอำเภอ {district} / stated subdistrict "
                                   f"{s_name!r} is not in district {district}")
    return province, district, subdistrict


def _coordinates(geometry: bool, record: Record, raw: dict[str, object],
                 special: dict[str, str], crs: str | None, result: RowResult,
                 ) -> tuple[float, float] | None:
    if geometry:
        point = record.point
        if point is None:
            result.errors.append("ไม่มีพิกัดจุด / no point geometry")
        return point
    utm_crs = crs
    if "zone" in special and not is_blank(raw.get(special["zone"])):
        zone = header_key(str(raw[special["zone"]])).removesuffix(".0")
        utm_crs = UTM_ZONES.get(zone)
        if utm_crs is None:
            result.errors.append(f"โซน UTM {raw[special['zone']]!r} ต้องเป็น 47 หรือ 48 / UTM zone "
                                 f"{raw[special['zone']]!r} is not 47 or 48")
            return None
    if "easting" in special or (utm_crs and "lat" not in special):
        e_col, n_col = special.get("easting"), special.get("northing")
        if not (e_col and n_col):
            result.errors.append("พิกัด UTM ต้องมีทั้งคอลัมน์ easting และ northing / projected "
                                 "coordinates need both easting and northing columns")
            return None
        if utm_crs is None:
            result.errors.append(NO_ZONE)
            return None
        try:
            (e, e_note), (n, n_note) = read_number(raw[e_col]), read_number(raw[n_col])
        except (BadValue, TypeError):
            result.errors.append(f"easting/northing {raw.get(e_col)!r}, {raw.get(n_col)!r} are "
                                 "not numbers (commas only between groups of three digits) / "
                                 "พิกัด easting/northing ไม่ใช่ตัวเลข")
            return None
        result.warnings += [f"easting/northing: {note}" for note in (e_note, n_note) if note]
        return _transformer(utm_crs).transform(e, n)
    if "lat" not in special or "lon" not in special:
        return None  # reported once for the whole file
    lat_raw, lon_raw = raw.get(special["lat"]), raw.get(special["lon"])
    if is_blank(lat_raw) or is_blank(lon_raw):
        result.errors.append("ไม่มีละติจูด/ลองจิจูด / latitude/longitude missing")
        return None
    try:
        lat = float(str(lat_raw).strip().replace(",", "."))
        lon = float(str(lon_raw).strip().replace(",", "."))
    except ValueError:
        result.errors.append(f"ละติจูด/ลองจิจูด {lat_raw!r}, {lon_raw!r} ไม่ใช่ตัวเลข / "
                             f"latitude/longitude {lat_raw!r}, {lon_raw!r} are not numbers")
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        result.errors.append("ละติจูด/ลองจิจูดไม่ใช่ตัวเลขที่ใช้ได้ / latitude/longitude are not "
                             "finite numbers")
        return None
    if utm_crs:
        return _transformer(utm_crs).transform(lon, lat)
    if not _in_bbox(lon, lat) and _in_bbox(lat, lon):
        result.warnings.append("ละติจูดและลองจิจูดสลับกัน แก้ให้แล้ว / latitude and longitude were "
                               "swapped; corrected")
        return lat, lon
    if abs(lat) > 90 or abs(lon) > 180:
        if 100_000 < abs(lon) < 1_000_000 and 500_000 < abs(lat) < 2_500_000:
            result.errors.append(f"พิกัดเป็นเมตรแบบ UTM / coordinates look projected (UTM "
                                 f"metres). {NO_ZONE}")
        else:
            result.errors.append(f"ละติจูด {lat} / ลองจิจูด {lon} อยู่นอกช่วง / latitude {lat} / "
                                 f"longitude {lon} are out of range")
        return None
    return lon, lat


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


MAX_FIXED_ROWS = 500
"""How many rows of one upload may be fixed in place (issue 24, item 8): the report shows at
most 500 rows, and every fix is stored with the job."""
MAX_FIX_CHARS = 16 * 1024
"""The most characters one fixed row's cells may hold together: a row of a CDD export is a few
hundred; a fix is typed in a form, not pasted from a file."""

Fixes = Mapping[int, Mapping[str, str]]
"""Fixed rows of an uploaded file: the file's row number -> header -> the cell's new text. The
file itself is never changed; the importer reads the fixed cells in place of the file's."""


def _normal_crs(crs: str | None) -> str | None:
    """The import's coordinate system (None: latitude and longitude), or ImportRefused."""
    if crs is None:
        return None
    crs = UTM_ZONES.get(header_key(crs), crs.upper())
    if crs not in ("EPSG:4326", "EPSG:32647", "EPSG:32648"):
        raise ImportRefused(f"ระบบพิกัด {crs[:40]} ใช้ไม่ได้ / the coordinate system (crs) "
                            f"{crs[:40]} is not supported: use EPSG:4326 (latitude and "
                            "longitude), EPSG:32647 (UTM 47N) or EPSG:32648 (UTM 48N)")
    return None if crs == "EPSG:4326" else crs


def _fixed(records: Iterator[Record], headers: list[str], fixes: Fixes | None,
           ) -> Iterator[Record]:
    """The file's records with the fixed rows' cells in place of the file's. A fixed row has
    every cell from the form, so what was wrong with its shape in the file (too many cells, a
    cell too long) no longer holds; a GIS file's geometry stays the file's."""
    if not fixes:
        yield from records
        return
    known = set(headers)
    for record in records:
        fix = fixes.get(record.row)
        if fix is None:
            yield record
            continue
        cells = dict(record.cells)
        cells.update({h: v for h, v in fix.items() if h in known})
        yield Record(record.row, cells, None, record.point)


def read_row(path: Path, row: int) -> tuple[TableStream, Record | None]:
    """The file (its headers) and its row numbered ``row`` as the report numbers rows (the line
    a spreadsheet shows), or None when the file has no such row."""
    table = open_table(path)
    for record in table.records:
        if record.row == row:
            return table, record
        if record.row > row:
            break
    return table, None


def _file_problems(layer: Layer, headers: list[str], fields: dict[str, str],
                   special: dict[str, str], geometry: bool, personal_allowed: bool,
                   ) -> list[str]:
    """What makes a file unimportable whatever its rows hold (its columns)."""
    problems = []
    missing = [f for f in layer.fields if f.required and f.name not in fields]
    if missing:
        problems.append("ขาดคอลัมน์ที่จำเป็น / missing required column(s): " + ", ".join(
            f"{f.label_th} / {f.label_en} ({f.name})" for f in missing))
    personal = [f for f in layer.personal_fields if f.name in fields]
    if personal and not personal_allowed:
        names = ", ".join(f"{f.label_th} / {f.label_en} ({f.name})" for f in personal)
        problems.append(
            f"ไฟล์มีคอลัมน์ข้อมูลส่วนบุคคล ({names}) แต่บัญชีนี้ไม่มีสิทธิ์ข้อมูลส่วนบุคคล: ลบคอลัมน์นี้ออก "
            f"หรือให้ผู้มีสิทธิ์นำเข้า / the file has personal-data column(s) {names}, and this "
            "account has no personal-data right: remove the column(s), or ask an account with "
            "that right to import the file")
    if not geometry and not (("lat" in special and "lon" in special)
                             or ("easting" in special and "northing" in special)):
        problems.append("ไม่มีคอลัมน์พิกัด: เพิ่มละติจูดและลองจิจูด หรือ easting/northing พร้อม"
                        "โซน UTM / no coordinate columns: add latitude and longitude "
                        "(ละติจูด, ลองจิจูด) or easting/northing with a UTM zone")
    return problems


def check_row(store: LayerStore, layer: Layer, path: Path, row: int,
              fix: Mapping[str, str], *, other_keys: dict[str, int] | None = None,
              crs: str | None = None, allowed_provinces: frozenset[str] | None = None,
              personal_allowed: bool = True) -> RowResult | None:
    """One row of ``path`` checked again with ``fix`` in place of its cells (issue 24, item 8):
    the same checks ``import_file`` makes, with the same reasons, so a clerk can correct a
    broken row in the report and see its verdict at once. ``other_keys`` (key -> row) are the
    keys of the file's other rows, for the duplicate check (a dict the caller may make answer
    lazily). None when the file has no such row; ImportRefused when the file as a whole cannot
    be imported (nothing to fix row by row). Nothing is written: what an update would change
    is known only to the whole file's check."""
    crs = _normal_crs(crs)
    try:
        table, record = read_row(path, row)
    except (FileProblem, ValueError) as exc:
        raise ImportRefused(str(exc)) from exc
    if record is None:
        return None
    headers = table.headers
    fields, special, _ = _map_columns(layer, headers, utm=bool(crs))
    problems = _file_problems(layer, headers, fields, special, table.geometry, personal_allowed)
    if problems:
        raise ImportRefused("; ".join(problems))
    report = ImportReport(layer=layer.id, source_file=path.name, sha256="", mode="dry-run",
                          file_problems=[], rows=[])
    checker = _Checker(store, layer, report, fields, special, crs, table.geometry,
                       allowed_provinces)
    if other_keys is not None:
        checker.seen_key = other_keys
    [(result, _)] = checker.check(list(_fixed(iter([record]), headers, {row: fix})))
    return result


def import_file(store: LayerStore, layer: Layer, path: Path, *, dry_run: bool = False,
                valid_only: bool = False, sample: bool = False, crs: str | None = None,
                allowed_provinces: frozenset[str] | None = None,
                personal_allowed: bool = True, fixes: Fixes | None = None) -> ImportReport:
    """Checks every row of ``path`` and, unless refused, upserts it into the layer.

    ``allowed_provinces`` (an officer's scope; None = all): a row whose point lies in another
    province is an error naming that province. Without ``personal_allowed`` (an account without
    the personal-data right) a file with a personal column is refused whole, as a PATCH of that
    field is (403): the import would overwrite personal data, and a dry run would tell whether a
    guessed value matches the stored one.

    The file is read row by row and checked and written in batches inside one transaction,
    so memory holds one batch and a verdict per row, not the file. A dry run writes too, then
    rolls back: it reports what the import would insert, update and change.
    """
    path = Path(path)
    mode = "dry-run" if dry_run else "valid-only" if valid_only else "all-or-nothing"
    sha = file_sha256(path) if path.is_file() else ""
    report = ImportReport(layer=layer.id, source_file=path.name, sha256=sha, mode=mode,
                          file_problems=[], rows=[])
    crs = _normal_crs(crs)
    try:
        table = open_table(path)
        records = _fixed(iter(table.records), table.headers, fixes)
        first = next(records, None)
    except (FileProblem, ValueError) as exc:
        report.file_problems.append(str(exc))
        _record(store, report, sample, message=str(exc))
        return report
    report.encoding = table.encoding
    fields, special, unused = _map_columns(layer, table.headers, utm=bool(crs))
    if unused:
        report.file_notes.append("คอลัมน์ที่ไม่ได้ใช้ / columns not used: " + ", ".join(unused))
    report.file_problems += _file_problems(layer, table.headers, fields, special,
                                           table.geometry, personal_allowed)
    if first is None:
        report.file_problems.append("ไฟล์มีแต่หัวตาราง ไม่มีข้อมูล / the file has a header but no data "
                                    "rows")
    if report.file_problems or first is None:
        _record(store, report, sample, message="; ".join(report.file_problems))
        return report

    carried = Carried(
        public=frozenset(f.name for f in layer.public_fields if f.name in fields),
        personal=frozenset(f.name for f in layer.personal_fields if f.name in fields),
        name=layer.name_field in fields, given=any(r in special for r in AREA_ROLES))
    checker = _Checker(store, layer, report, fields, special, crs, table.geometry,
                       allowed_provinces)
    # Two phases. Checking reads the whole file without a transaction: nothing is held while a
    # big file is read. The rows to write go to a temporary file, batch by batch; then the
    # writing phase opens the one transaction, writes them and commits or rolls back as a whole.
    # It locks only the rows it writes: the tile cache is forgotten at its commit (migration
    # 0016), so the layer's other writers do not wait for it. An import refused all-or-nothing
    # never opens the transaction at all.
    spill = _Spill()
    try:
        errors = 0
        begin_checking = getattr(store, "checking", None)
        if begin_checking is not None:
            begin_checking(report)
        for batch in _batched(itertools.chain((first,), records), BATCH):
            checked = checker.check(batch)
            errors += sum(1 for result, _ in checked if result.errors)
            if errors and not (dry_run or valid_only):
                continue  # all or nothing, and it will be nothing: nothing to write
            spill.add([(len(report.rows) - len(checked) + i, f)
                       for i, (r, f) in enumerate(checked)
                       if f is not None and r.status != "error"])
    except FileProblem as exc:  # the file broke part-way (bad CSV quoting, too many rows)
        spill.close()
        report.file_problems.append(str(exc))
        _record(store, report, sample, message=str(exc))
        return report
    except ImportCancelled:
        spill.close()
        raise
    except Exception as exc:
        spill.close()
        problem = "ตรวจไม่สำเร็จ ฐานข้อมูลไม่เปลี่ยนแปลง / checking failed, nothing was changed: "
        problem += own_words(exc)
        report.file_problems.append(problem)
        _record(store, report, sample, message=problem)
        return report
    if errors and not (dry_run or valid_only):
        spill.close()
        _record(store, report, sample, message=f"{report.counts()['error']} row(s) with "
                "errors; nothing committed")
        return report
    committed = False
    writer = store.begin(report, source_path=str(path), sample=sample, carried=carried)
    try:
        for good in spill.batches():
            before = writer.write([f for _, f in good])
            for index, feature in good:
                if feature.key in before:
                    report.rows[index].changes = _changes(layer, carried, before[feature.key],
                                                          feature)
        if dry_run:
            _, report.inserted, report.updated = writer.finish(report, commit=False)
        else:
            report.import_id, report.inserted, report.updated = writer.finish(report,
                                                                              commit=True)
            committed = True
    except ImportCancelled:
        writer.finish(report, commit=False)
        report.inserted = report.updated = 0
        raise
    except Exception as exc:
        writer.finish(report, commit=False)
        report.inserted = report.updated = 0
        problem = "บันทึกไม่สำเร็จ ฐานข้อมูลไม่เปลี่ยนแปลง / writing failed, nothing was changed: "
        problem += own_words(exc)
        report.file_problems.append(problem)
        _record(store, report, sample, message=problem)
        return report
    finally:
        spill.close()
    if committed:
        report.committed = True
        return report
    _record(store, report, sample, message="dry run")
    return report


class _Spill:
    """The checked rows to write, pickled batch by batch to a temporary file between the
    checking and the writing phase: memory holds one batch, not the file's rows."""

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None
        self.count = 0

    def add(self, rows: list[tuple[int, FeatureRow]]) -> None:
        if not rows:
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="cddgis-import-")  # noqa: SIM115
        pickle.dump(rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def batches(self) -> Iterator[list[tuple[int, FeatureRow]]]:
        if self.file is None:
            return
        self.file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self.file)  # our own file, written just now

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _batched(items: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """itertools.batched, which Python 3.11 lacks."""
    while batch := list(itertools.islice(items, size)):
        yield batch


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "(blank)" if value is None else str(value)


def _changes(layer: Layer, carried: Carried, old: Existing, new: FeatureRow) -> list[str]:
    """What an update changes; personal values are named, never shown (PDPA)."""
    changes = [f"{name}: {_show(old.properties.get(name))} → {_show(new.properties.get(name))}"
               for name in sorted(carried.public)
               if old.properties.get(name) != new.properties.get(name)]
    changes += [f"{name} changes (personal data: value not shown)"
                for name in sorted(carried.personal)
                if old.personal.get(name) != new.personal.get(name)]
    moved = _distance_m((old.lon, old.lat), (new.lon, new.lat))
    if moved > 1:
        changes.append(f"point moves {moved:,.0f} m")
    return changes


def _record(store: LayerStore, report: ImportReport, sample: bool, message: str) -> None:
    report.import_id = store.record(report, sample=sample, message=message[:2000])


class _Checker:
    """Checks rows batch by batch; remembers only what checks on later rows need (keys seen,
    named points on a grid), not the rows themselves."""

    def __init__(self, store: LayerStore, layer: Layer, report: ImportReport,
                 fields: dict[str, str], special: dict[str, str], crs: str | None,
                 geometry: bool, allowed_provinces: frozenset[str] | None = None):
        self.store, self.layer, self.report = store, layer, report
        self.allowed_provinces = allowed_provinces
        self.fields, self.special, self.crs, self.geometry = fields, special, crs, geometry
        self.seen_key: dict[str, int] = {}
        self.names = _NameGrid(layer.namesake_radius_m)

    def check(self, batch: list[Record]) -> list[tuple[RowResult, FeatureRow | None]]:
        checked = [self._row(record) for record in batch]
        _check_places(self.store, checked, self.allowed_provinces)
        if self.allowed_provinces is not None:
            self._stored_elsewhere(checked)
        self._awaiting_review(checked)
        self._duplicates(checked)
        return [(result, feature) for result, feature, _ in checked]

    def _row(self, record: Record) -> tuple[RowResult, FeatureRow | None, tuple | None]:
        layer, raw = self.layer, record.cells
        result = RowResult(row=record.row)
        self.report.rows.append(result)
        if record.problem:
            result.errors.append(record.problem)
        values: dict[str, object] = {}
        personal: dict[str, object] = {}
        for f in layer.fields:
            header = self.fields.get(f.name)
            cell = raw.get(header) if header else None
            label = f"{header or f.label_th}"
            if is_blank(cell):
                # A cell the reader dropped as too long has its own error already.
                dropped = header is not None and header not in raw and bool(
                    record.problem and f"{header!r} cell" in record.problem)
                if f.required and not dropped:
                    result.errors.append(f"{label}: ไม่มีค่า (ต้องกรอก) / missing (required)")
                continue
            try:
                value = parse(f, cell)
            except Converted as note:
                value = note.value
                result.warnings.append(f"{label}: {note.note}")
            except BadValue as exc:
                result.errors.append(f"{label}: {exc}")
                continue
            (personal if f.personal else values)[f.name] = value
        key = values.get(layer.key_field)
        result.key = str(key) if key is not None else None
        given = _given_codes(raw, self.special, result)
        point = _coordinates(self.geometry, record, raw, self.special, self.crs, result)
        result.point = point
        feature = None
        if result.key is not None and point is not None:
            name = values.get(layer.name_field)
            flagged = self.special.get("sample")
            feature = FeatureRow(key=result.key, name=None if name is None else str(name),
                                 properties=values, personal=personal, lon=point[0],
                                 lat=point[1], given=given, placement=None,
                                 sample=flagged is not None
                                 and str(raw.get(flagged, "")).strip().lower() in TRUE_WORDS)
        return result, feature, point

    def _stored_elsewhere(self, checked: list[tuple[RowResult, FeatureRow | None, tuple | None]],
                          ) -> None:
        """An update of a feature stored in a province outside the account's is an error too:
        a file must not move another province's feature into one's own."""
        allowed = self.allowed_provinces or frozenset()
        stored = self.store.stored_provinces(
            self.layer.id, [f.key for _, f, _ in checked if f is not None])
        for result, feature, _ in checked:
            where = stored.get(feature.key) if feature is not None else None
            if feature is not None and feature.key in stored and where not in allowed:
                name = _area_name("province", where) if where else "-"
                result.errors.append(
                    f"{self.layer.key_field} {feature.key!r} มีอยู่แล้วในจังหวัด{name} ({where}) นอก"
                    f"จังหวัดที่บัญชีนี้ดูแล / {feature.key!r} is already stored in province "
                    f"{name} ({where}), outside this account's provinces")

    def _awaiting_review(self, checked: list[tuple[RowResult, FeatureRow | None, tuple | None]],
                         ) -> None:
        """A feature with a change waiting for review takes no other change until it is
        decided, from a file either."""
        waiting = self.store.awaiting_review(
            self.layer.id, [f.key for _, f, _ in checked if f is not None])
        for result, feature, _ in checked:
            if feature is not None and feature.key in waiting:
                result.errors.append(
                    f"{feature.key!r} มีการแก้ไขรออนุมัติ (#{waiting[feature.key]}) / has a change "
                    f"waiting for review (#{waiting[feature.key]}); import it again once that "
                    "is approved or rejected")

    def _duplicates(self, checked: list[tuple[RowResult, FeatureRow | None, tuple | None]],
                    ) -> None:
        layer = self.layer
        for result, feature, _ in checked:
            if result.key is not None:
                if result.key in self.seen_key:
                    result.errors.append(f"รหัสซ้ำกับแถวที่ {self.seen_key[result.key]} / duplicate "
                                         f"{layer.key_field} {result.key!r}: same as "
                                         f"row {self.seen_key[result.key]}")
                else:
                    self.seen_key[result.key] = result.row
            # The name is the key (plots): a namesake would be a duplicate key, checked above.
            if feature is None or not feature.name or layer.name_field == layer.key_field:
                continue
            other = self.names.add(feature.name, feature.key, feature.lon, feature.lat,
                                   result.row)
            if other is not None:
                result.warnings.append(
                    f"อาจซ้ำ: ชื่อเดียวกันห่างจากแถวที่ {other} ไม่เกิน {layer.namesake_radius_m:g} ม. / "
                    f"possible duplicate: same name {feature.name!r} within "
                    f"{layer.namesake_radius_m:g} m of row {other}")
        named = [(r, f, f.name) for r, f, _ in checked if f is not None and f.name]
        nearby = self.store.namesakes_nearby(
            layer.id, [(f.key, name, f.lon, f.lat) for _, f, name in named],
            radius_m=layer.namesake_radius_m)
        for position, existing in nearby.items():
            named[position][0].warnings.append(
                f"อาจซ้ำ: {existing!r} ในชั้นข้อมูลมีชื่อเดียวกันในระยะ {layer.namesake_radius_m:g} ม. / "
                f"possible duplicate: {existing!r} already in the layer has the same name "
                f"within {layer.namesake_radius_m:g} m")


class _NameGrid:
    """Earlier rows by name on a grid of cells smaller than the radius, to find a namesake
    nearby without comparing every pair. Two points in one cell are always within the radius,
    so a row whose cell already holds its name under another key is answered there at once.

    Near-linear whatever the file: a cell keeps each key once (its first row) and at most
    ``CELL_KEYS`` keys, so a row compares with at most 25 × ``CELL_KEYS`` earlier ones. Keeping
    every row made one key at one place quadratic (64,000 rows: 207 s). A cell that is full
    already answers every row that falls in it; a row in a neighbouring cell compares with the
    keys kept (a namesake within the radius but behind a full cell can go unwarned)."""

    CELL_KEYS = 8

    def __init__(self, radius_m: float):
        self.radius_m = radius_m
        self.cell_m = radius_m / 1.5
        self.cells: dict[tuple[str, int, int], dict[str, tuple[float, float, int]]] = \
            defaultdict(dict)
        self.compared = 0
        """Distances computed so far (the work, for tests)."""

    def _cell(self, lon: float, lat: float) -> tuple[int, int]:
        # Equirectangular metres without the cos(latitude) factor: cells are at most cell_m
        # wide on the ground, and 2 cells either way cover the radius up to 60° latitude.
        return int(lon * 111_320 // self.cell_m), int(lat * 111_320 // self.cell_m)

    def add(self, name: str, key: str, lon: float, lat: float, row: int) -> int | None:
        """Remembers the point; returns the row of an earlier namesake within the radius."""
        cx, cy = self._cell(lon, lat)
        found = None
        for dx, dy in _NEIGHBOURS:
            for other_key, (o_lon, o_lat, o_row) in self.cells.get((name, cx + dx, cy + dy),
                                                                   {}).items():
                if other_key == key:
                    continue
                self.compared += 1
                if _distance_m((o_lon, o_lat), (lon, lat)) <= self.radius_m:
                    found = o_row
                    break
            if found is not None:
                break
        cell = self.cells[(name, cx, cy)]
        if key not in cell and len(cell) < self.CELL_KEYS:
            cell[key] = (lon, lat, row)
        return found


_NEIGHBOURS = sorted(itertools.product(range(-2, 3), repeat=2),
                     key=lambda d: abs(d[0]) + abs(d[1]))


def _check_places(store: LayerStore,
                  checked: list[tuple[RowResult, FeatureRow | None, tuple | None]],
                  allowed_provinces: frozenset[str] | None = None) -> None:
    located = [(result, feature, point) for result, feature, point in checked
               if point is not None]
    placements = store.locate([point for _, _, point in located])
    for (result, feature, point), place in zip(located, placements, strict=True):
        if place is None or place.distance_m > COAST_TOLERANCE_M:
            far = f"{place.distance_m / 1000:,.1f} km" if place else "far"
            lon, lat = point
            result.errors.append(f"จุดอยู่นอกประเทศไทย / point ({lat:.5f}, {lon:.5f}) lies outside "
                                 f"Thailand: {far} "
                                 "from the nearest subdistrict (in the sea or a neighbouring "
                                 "country?)")
            continue
        if place.distance_m > 0:
            result.warnings.append(f"จุดอยู่นอกแนวชายฝั่ง / point lies "
                                   f"{place.distance_m:,.0f} m outside the mapped "
                                   f"coastline; placed in the nearest subdistrict "
                                   f"{place.name_th} ({place.subdistrict_code})")
        if allowed_provinces is not None and place.province_code not in allowed_provinces:
            name = _area_name("province", place.province_code)
            result.errors.append(
                f"จุดอยู่ในจังหวัด{name} ({place.province_code}) นอกจังหวัดที่บัญชีนี้ดูแล / the point "
                f"lies in province {name} ({place.province_code}), outside this account's "
                f"provinces ({', '.join(sorted(allowed_provinces)) or '-'})")
            continue
        if feature is None:
            continue
        feature.placement = place
        gp, gd, gs = feature.given
        actual = {"province": place.province_code, "district": place.district_code,
                  "subdistrict": place.subdistrict_code}
        for level, stated in (("province", gp), ("district", gd), ("subdistrict", gs)):
            if stated and stated != actual[level]:
                result.warnings.append(
                    f"รหัสพื้นที่ที่ระบุ ({stated}) ไม่ตรงกับที่ตั้งจุด ({actual[level]}) เก็บไว้ทั้งคู่ / "
                    f"stated {level} {stated} but the point lies in {actual[level]} "
                    f"({_area_name(level, actual[level])}); both kept")
                break


def _area_name(level: str, code: str) -> str:
    area = {"province": geothai.province, "district": geothai.district,
            "subdistrict": geothai.subdistrict}[level](code)
    return area.name_th if area else code
