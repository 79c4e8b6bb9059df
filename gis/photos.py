"""Photos of features (issue 24, item 2): the ``feature_photos`` rows and their files.

The files are the public copies only (``core.photos.prepare``: EXIF stripped), under
``<state_dir>/photos/<hash[:2]>/<hash>-web.jpg`` and ``-thumb.jpg``, a folder the replicas share
as they share the uploads. A file is named by the SHA-256 of the uploaded bytes, so its URL
never changes meaning and may be cached for a year. What the camera says (time, GPS position)
stays in the row and is read here for staff only; the public reads select neither.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from core.photos import Prepared

SIZES = ("web", "thumb")
HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FeatureRef:
    """A live feature a photo may be attached to: its key, where it lies (scope) and point."""

    id: int
    key: str
    province_code: str | None
    lon: float
    lat: float


def photos_dir(state_dir: Path) -> Path:
    return state_dir / "photos"


def file_path(root: Path, content_hash: str, size: str) -> Path:
    """Where a public copy lives; ``content_hash`` and ``size`` are checked, never a path."""
    if not HASH.fullmatch(content_hash) or size not in SIZES:
        raise ValueError(f"no photo file {content_hash!r} {size!r}")
    return root / content_hash[:2] / f"{content_hash}-{size}.jpg"


def live_feature(engine: Engine, layer_id: str, feature_id: int) -> FeatureRef | None:
    """The live (not retired) feature ``feature_id`` of ``layer_id``, or None."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT id, key, province_code, ST_X(geom) AS lon, ST_Y(geom) AS lat
            FROM layer_features WHERE layer = :layer AND id = :id
        """), {"layer": layer_id, "id": feature_id}).one_or_none()
    return None if row is None else FeatureRef(row.id, row.key, row.province_code, row.lon,
                                               row.lat)


def live_features_by_key(engine: Engine, layer_id: str,
                         keys: list[str]) -> dict[str, FeatureRef]:
    """The live features of ``layer_id`` with these keys (a bulk photo upload's rows)."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT id, key, province_code, ST_X(geom) AS lon, ST_Y(geom) AS lat
            FROM layer_features WHERE layer = :layer AND key = ANY(:keys)
        """), {"layer": layer_id, "keys": sorted(set(keys))}).all()
    return {r.key: FeatureRef(r.id, r.key, r.province_code, r.lon, r.lat) for r in rows}


def _write(path: Path, data: bytes) -> None:
    """Written whole under a private name, then renamed into place: a replica reading the
    shared folder meanwhile sees no file or the whole file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def add(engine: Engine, root: Path, account_id: int | None, layer_id: str, feature_key: str,
        photo: Prepared) -> int:
    """Stores ``photo`` for the feature (the same photo twice is one photo); returns its id."""
    for size, data in (("web", photo.web), ("thumb", photo.thumb)):
        path = file_path(root, photo.content_hash, size)
        if not path.exists():
            _write(path, data)
    with engine.begin() as conn:
        photo_id = conn.execute(text("""
            INSERT INTO feature_photos (layer, feature_key, content_hash, original_bytes, width,
                                        height, web_width, web_height, web_bytes, thumb_bytes,
                                        taken_at, taken_lon, taken_lat, uploaded_by)
            VALUES (:layer, :key, :hash, :bytes, :w, :h, :ww, :wh, :wb, :tb, :taken_at, :lon,
                    :lat, :account)
            ON CONFLICT ON CONSTRAINT uq_feature_photos_feature_hash DO NOTHING
            RETURNING id
        """), {"layer": layer_id, "key": feature_key, "hash": photo.content_hash,
               "bytes": photo.original_bytes, "w": photo.width, "h": photo.height,
               "ww": photo.web_width, "wh": photo.web_height, "wb": len(photo.web),
               "tb": len(photo.thumb), "taken_at": photo.taken_at, "lon": photo.taken_lon,
               "lat": photo.taken_lat, "account": account_id}).scalar_one_or_none()
        if photo_id is None:
            photo_id = conn.execute(text("""
                SELECT id FROM feature_photos
                WHERE layer = :layer AND feature_key = :key AND content_hash = :hash
            """), {"layer": layer_id, "key": feature_key,
                   "hash": photo.content_hash}).scalar_one()
    return int(photo_id)


def for_staff(engine: Engine, layer_id: str, feature_key: str) -> list[dict[str, Any]]:
    """A feature's photos with the audit evidence: when and where the camera says each was
    taken, and how far (metres, on the sphere) that is from where the feature is."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT p.id, p.content_hash, p.width, p.height, p.web_width, p.web_height,
                   p.original_bytes, p.taken_at, p.taken_lon, p.taken_lat, p.created,
                   a.name AS uploaded_by,
                   CASE WHEN p.taken_lon IS NOT NULL AND f.geom IS NOT NULL THEN
                        ST_DistanceSphere(f.geom, ST_SetSRID(ST_MakePoint(p.taken_lon,
                                                                          p.taken_lat), 4326))
                   END AS distance_m
            FROM feature_photos p
            LEFT JOIN layer_features f ON f.layer = p.layer AND f.key = p.feature_key
            LEFT JOIN accounts a ON a.id = p.uploaded_by
            WHERE p.layer = :layer AND p.feature_key = :key
            ORDER BY p.id
        """), {"layer": layer_id, "key": feature_key}).mappings().all()
    return [dict(r) for r in rows]


def public(engine: Engine, layer_id: str, feature_key: str) -> list[dict[str, Any]]:
    """A live feature's photos for the public pages: the file's hash and size, nothing of the
    camera's time or place, nor who uploaded it."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
            SELECT p.content_hash, p.web_width, p.web_height
            FROM feature_photos p
            JOIN layer_features f ON f.layer = p.layer AND f.key = p.feature_key
            WHERE p.layer = :layer AND p.feature_key = :key
            ORDER BY p.id
        """), {"layer": layer_id, "key": feature_key}).mappings().all()
    return [dict(r) for r in rows]


def is_public(engine: Engine, content_hash: str) -> bool:
    """Whether a live feature shows this photo (a retired feature's photos are not served)."""
    with engine.connect() as conn:
        return bool(conn.execute(text("""
            SELECT EXISTS (SELECT FROM feature_photos p
                           JOIN layer_features f ON f.layer = p.layer AND f.key = p.feature_key
                           WHERE p.content_hash = :hash)
        """), {"hash": content_hash}).scalar_one())


def is_stored(engine: Engine, content_hash: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT EXISTS (SELECT FROM feature_photos WHERE content_hash = :hash)"),
            {"hash": content_hash}).scalar_one())


def delete(engine: Engine, root: Path, layer_id: str, feature_key: str,
           photo_id: int) -> bool:
    """Removes one photo of the feature; its files go too when no other feature shows the
    same picture. False when there was no such photo."""
    with engine.begin() as conn:
        content_hash = conn.execute(text("""
            DELETE FROM feature_photos
            WHERE id = :id AND layer = :layer AND feature_key = :key
            RETURNING content_hash
        """), {"id": photo_id, "layer": layer_id, "key": feature_key}).scalar_one_or_none()
        if content_hash is None:
            return False
        still = conn.execute(text(
            "SELECT EXISTS (SELECT FROM feature_photos WHERE content_hash = :hash)"),
            {"hash": content_hash}).scalar_one()
    if not still:
        for size in SIZES:
            file_path(root, content_hash, size).unlink(missing_ok=True)
    return True

