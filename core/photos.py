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
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
"""What a photo may be, by its content (Pillow's sniffing), never by its file name."""
WEB_SIZE = 1280
"""The web copy's longest side: sharp on a phone and large enough for a share preview."""
THUMB_SIZE = 320
MAX_PIXELS = 60_000_000
"""More pixels than any camera the offices use (a 50 MP phone): a larger image is refused
before it is decoded (a decompression bomb would fill the memory)."""
BANGKOK = ZoneInfo("Asia/Bangkok")

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
    thumb = _copy(upright, THUMB_SIZE, 78)
    return Prepared(
        content_hash=hashlib.sha256(data).hexdigest(), original_bytes=len(data),
        width=upright.width, height=upright.height, web=web[0], web_width=web[1],
        web_height=web[2], thumb=thumb[0], taken_at=taken_at, taken_lon=taken_lon,
        taken_lat=taken_lat)


def _copy(image: Image.Image, longest: int, quality: int) -> tuple[bytes, int, int]:
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
    return out.getvalue(), copy.width, copy.height


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
