"""Photos of features (issue 24, item 2): what an uploaded file is, judged by its content, and
the copies the public sees, made with Pillow (no database, no web framework).

The public copies (a web size and a thumbnail, JPEG) are re-encoded from the pixels alone, so
no EXIF, ICC or XMP block of the original reaches them: a phone's photo carries where and when
it was taken, and that is shown to staff as audit evidence, never to the public. The original
is not kept.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps, UnidentifiedImageError

from core.readers import FileProblem, Record, open_table
from core.schema import header_key

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
"""What a photo may be, by its content (Pillow's sniffing), never by its file name."""
WEB_SIZE = 1280
"""The web copy's longest side: sharp on a phone and large enough for a share preview."""
THUMB_SIZE = 320
MAX_PIXELS = 60_000_000
"""More pixels than any camera the offices use (a 50 MP phone): a larger image is refused
before it is decoded (a decompression bomb would fill the memory)."""
BANGKOK = ZoneInfo("Asia/Bangkok")

_ORIENTATION = 0x0112
_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306


class NotAPhoto(ValueError):
    """The file is not a JPEG, PNG or WebP image that can be read; the message says why."""


@dataclass(frozen=True)
class Prepared:
    """An uploaded photo made ready to store: its public copies and what its EXIF says."""

    content_hash: str
    original_bytes: int
    width: int
    height: int
    web: bytes
    web_width: int
    web_height: int
    thumb: bytes
    taken_at: datetime | None
    taken_lon: float | None
    taken_lat: float | None


def prepare(data: bytes) -> Prepared:
    """Reads ``data`` as a photo (by content) and makes its public copies. Raises NotAPhoto."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise NotAPhoto(f"ภาพใหญ่เกินไป ({image.width}×{image.height} พิกเซล) / the image "
                                f"is too large ({image.width}×{image.height} pixels; at most "
                                f"{MAX_PIXELS // 1_000_000} megapixels)")
            exif = image.getexif()
            taken_at = _taken_at(exif)
            taken_lon, taken_lat = _gps(exif)
            width, height = image.size
            if exif.get(_ORIENTATION) in (5, 6, 7, 8):  # turned a quarter: upright is taller
                width, height = height, width
            if image.format in ("JPEG", "MPO"):
                # Decoded at 1/2, 1/4 or 1/8 scale while still at least the web size (the
                # JPEG decoder's own scaling): a 12 MP photo several times faster, same copies.
                image.draft("RGB", (WEB_SIZE, WEB_SIZE))
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise NotAPhoto("ไฟล์ไม่ใช่ภาพ JPEG, PNG หรือ WebP / the file is not a JPEG, PNG or WebP "
                        "image") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        if isinstance(exc, NotAPhoto):
            raise
        raise NotAPhoto("ไฟล์ภาพเสียหรือไม่ครบ / the image file is damaged or incomplete") from exc
    upright = ImageOps.exif_transpose(image)  # the camera's orientation, before resizing
    web = _copy(upright, WEB_SIZE, 82)
    thumb = _copy(web[3], THUMB_SIZE, 78)
    return Prepared(
        content_hash=hashlib.sha256(data).hexdigest(), original_bytes=len(data),
        width=width, height=height, web=web[0], web_width=web[1],
        web_height=web[2], thumb=thumb[0], taken_at=taken_at, taken_lon=taken_lon,
        taken_lat=taken_lat)


def _copy(image: Image.Image, longest: int, quality: int,
          ) -> tuple[bytes, int, int, Image.Image]:
    """A JPEG of at most ``longest`` pixels a side, from the pixels only: saved without
    ``exif``, ``icc_profile`` or XMP, so nothing the camera wrote goes with it. Transparency
    is laid on white (JPEG has none)."""
    copy = image.copy()
    copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    if copy.mode in ("RGBA", "LA", "PA") or (copy.mode == "P" and "transparency" in copy.info):
        rgba = copy.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "#ffffff")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        copy = flat
    elif copy.mode != "RGB":
        copy = copy.convert("RGB")
    copy.info.clear()
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue(), copy.width, copy.height, copy


def _taken_at(exif: Image.Exif) -> datetime | None:
    """EXIF DateTimeOriginal (else DateTime); its OffsetTimeOriginal when the camera wrote one,
    else Bangkok time (Thai phones' clocks)."""
    sub = exif.get_ifd(_EXIF_IFD)
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6:
        try:
            sign = -1 if offset.strip()[0] == "-" else 1
            hours, minutes = (int(p) for p in offset.strip()[1:].split(":"))
            return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours,
                                                                    minutes=minutes)))
        except ValueError:
            pass
    return moment.replace(tzinfo=BANGKOK)


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    """The EXIF GPS position (longitude, latitude) in degrees, or (None, None)."""
    gps = exif.get_ifd(_GPS_IFD)
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None, None
    return lon, lat


def _degrees(value: object, ref: object, negative: str) -> float:
    d, m, s = (float(v) for v in value)  # type: ignore[attr-defined]
    sign = -1 if str(ref).strip().rstrip("\x00").upper() == negative else 1
    return sign * (d + m / 60 + s / 3600)


# ---- many photos at once: a ZIP holding a table and the photos it names ------------------

FILE_HEADERS = ("photo_file", "photo_files", "ไฟล์ภาพ", "ชื่อไฟล์ภาพ", "ไฟล์รูป", "photo file",
                "file name", "ชื่อไฟล์")
"""The table's column of file names (Thai or English), compared as import headers are."""
MAX_BUNDLE_ENTRIES = 5_000


class BadBundle(ValueError):
    """The ZIP cannot be used at all (not a ZIP, no table, no key or file column)."""


@dataclass(frozen=True)
class BundleRow:
    """One row of the bundle's table: the feature's key and the photo files it names."""

    row: int
    key: str
    files: tuple[str, ...]
    problem: str | None = None


class Bundle:
    """A ZIP of photos and one table (CSV or XLSX) naming, for each feature key, its photo files
    (several in one cell separated by ``;`` or ``,``). Files are matched by their name alone,
    ignoring folders and case. Each photo is read when asked for, no further than the limit."""

    def __init__(self, path: Path, key_headers: set[str], max_photo_bytes: int,
                 workdir: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
            infos = [i for i in self._zip.infolist() if not i.is_dir()
                     and not i.filename.startswith("__MACOSX/")]
        except (zipfile.BadZipFile, OSError) as exc:
            raise BadBundle("bundle: ไฟล์ไม่ใช่ ZIP / the file is not a ZIP archive") from exc
        if len(infos) > MAX_BUNDLE_ENTRIES:
            raise BadBundle(f"bundle: มีไฟล์เกิน {MAX_BUNDLE_ENTRIES:,} ไฟล์ / more than "
                            f"{MAX_BUNDLE_ENTRIES:,} files in the ZIP")
        self.max_photo_bytes = max_photo_bytes
        tables = [i for i in infos if i.filename.lower().endswith((".csv", ".xlsx"))]
        if len(tables) != 1:
            raise BadBundle("bundle: ZIP ต้องมีตาราง (CSV หรือ XLSX) หนึ่งไฟล์ / the ZIP must hold "
                            f"exactly one table (CSV or XLSX); it holds {len(tables)}")
        self.files = {i.filename.rsplit("/", 1)[-1].lower(): i for i in infos
                      if i is not tables[0]}
        table_info = tables[0]
        if table_info.file_size > 20 * 2**20:
            raise BadBundle("bundle: ตารางใหญ่เกิน 20 MB / the table is larger than 20 MB")
        table = workdir / ("table" + Path(table_info.filename).suffix.lower())
        table.write_bytes(self._zip.read(table_info))
        try:
            stream = open_table(table)
        except (FileProblem, ValueError) as exc:
            raise BadBundle(f"bundle: {exc}") from exc
        by_key = {header_key(h): h for h in stream.headers}
        key_col = next((by_key[k] for k in key_headers if k in by_key), None)
        file_col = next((by_key[header_key(h)] for h in FILE_HEADERS
                         if header_key(h) in by_key), None)
        if key_col is None or file_col is None:
            raise BadBundle("bundle: ตารางต้องมีคอลัมน์รหัสและคอลัมน์ไฟล์ภาพ (ไฟล์ภาพ / photo_file) / "
                            "the table needs the layer's key column and a photo_file (ไฟล์ภาพ) "
                            f"column; it has {', '.join(stream.headers)}")
        self.rows: list[BundleRow] = []
        try:
            self._read_rows(stream.records, key_col, file_col)
        except ValueError as exc:  # FileProblem while streaming (too many rows, bad bytes)
            raise BadBundle(f"bundle: {exc}") from exc

    def _read_rows(self, records: Iterator[Record], key_col: str, file_col: str) -> None:
        for record in records:
            key = str(record.cells.get(key_col) or "").strip()
            names = tuple(n.strip() for n in re.split(r"[;,]", str(
                record.cells.get(file_col) or "")) if n.strip())
            if not key and not names:
                continue
            problem = record.problem
            if problem is None and not key:
                problem = "ไม่มีรหัส / no key"
            if problem is None and not names:
                problem = "ไม่มีชื่อไฟล์ภาพ / no photo file named"
            self.rows.append(BundleRow(record.row, key, names, problem))

    def read(self, name: str) -> bytes:
        """The named photo's bytes; NotAPhoto when it is not there or too large."""
        info = self.files.get(name.replace("\\", "/").rsplit("/", 1)[-1].lower())
        if info is None:
            raise NotAPhoto(f"ไม่มีไฟล์ {name!r} ใน ZIP / no file {name!r} in the ZIP")
        if info.file_size > self.max_photo_bytes:
            raise NotAPhoto(f"{name}: ภาพใหญ่เกินกำหนด / the photo is larger than "
                            f"{self.max_photo_bytes // 2**20} MB")
        with self._zip.open(info) as fh:
            data = fh.read(self.max_photo_bytes + 1)
        if len(data) > self.max_photo_bytes:  # the ZIP's stated size was wrong
            raise NotAPhoto(f"{name}: ภาพใหญ่เกินกำหนด / the photo is larger than "
                            f"{self.max_photo_bytes // 2**20} MB")
        return data

    def close(self) -> None:
        self._zip.close()
