"""Changes to point-layer features by staff: create, edit, move, retire, restore, revert, import;
review before publishing; history; PDPA-logged views of personal fields (issue 11).

The browser workspace (``web/staff_*``) and the API write endpoints (``web/api_write.py``) both
call these functions, so scope, validation, concurrency and review are the same for both.

Contract (as in the brief; additions only, nothing renamed):

- A **snapshot** is a feature's whole state as JSON (``_snapshot``); every change writes one
  ``feature_changes`` row with ``before``/``after`` snapshots (``None`` = no feature).
- ``revert_feature(change_id)`` puts the feature back as it was **before** that change (its
  ``before`` snapshot), as a new change of kind ``revert``; reverting a creation is refused
  (retire it instead).
- Writing a personal field needs the personal-data right, as seeing one does (``Forbidden``).
- The key field cannot change by an edit (retire and create instead): a 422 problem.
- ``feature_for_staff`` of a retired feature answers its last state with ``"retired": true``;
  every snapshot it returns carries ``"pending"`` (the id of the change waiting for review, or
  None). Without the personal-data right ``personal`` is ``{}``.
- ``revert_feature`` by an account without the personal-data right keeps the personal fields
  as they are (it may not write them).
- ``decide`` runs in one transaction in ascending change id: if one change is stale, nothing is
  decided (``StaleVersion`` naming the change), so the approver rejects that one and goes on.
- A pending creation reserves its feature id from the sequence, so the id in the result is the
  id the feature will have.
- Extra helpers: ``feature_id_for_key``, ``current_version``, ``change_for_staff``,
  ``requires_approval``, ``set_requires_approval``, ``snapshots_by_key`` (for the importer's
  writer).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geothai
from psycopg2.extras import execute_values
from sqlalchemy import Connection, Engine, text

from core.accounts import Account
from core.errors import Conflict, Forbidden, NotFound, Unprocessable
from core.schema import Layer
from core.values import BadValue, Converted, is_blank, parse
from gis.audit import log_personal_view, personal_fields_of
from gis.errors import translated
from gis.locate import locate
from gis.search import index_names
from layers.definitions import LAYERS
from layers.importer import COAST_TOLERANCE_M

HIDDEN = "•••"
"""What a personal value shows as to an account without the personal-data right."""


class StaleVersion(Conflict):
    """The change was made against an older version: someone changed the feature first."""


class Retired(Conflict):
    """The feature is retired: restore it before editing."""


class PendingReview(Conflict):
    """The feature has a change waiting for review: nothing else until it is decided."""

    def __init__(self, message: str, change_id: int):
        super().__init__(message)
        self.change_id = change_id


@dataclass(frozen=True)
class ChangeResult:
    feature_id: int
    key: str
    version: int
    """The feature's version after the change (unchanged while the change is pending)."""
    change_id: int
    status: str  # published | pending


_SNAPSHOT_COLUMNS = """
    f.id, f.layer, f.key, f.name, f.properties, f.personal, ST_X(f.geom), ST_Y(f.geom),
    f.given_province_code, f.given_district_code, f.given_subdistrict_code,
    f.province_code, f.district_code, f.subdistrict_code, f.region, f.sample, f.version
"""


def _snapshot(row: Any) -> dict[str, Any]:
    (id_, layer, key, name, properties, personal, lon, lat, gp, gd, gs, p, d, s, region,
     sample, version) = row
    return {"id": id_, "layer": layer, "key": key, "name": name, "properties": properties,
            "personal": personal or {}, "lon": lon, "lat": lat, "given": [gp, gd, gs],
            "province_code": p, "district_code": d, "subdistrict_code": s, "region": region,
            "sample": sample, "version": version}


def snapshots_by_key(conn: Connection, layer: str, keys: list[str]) -> dict[str, dict]:
    """The stored snapshots of these keys (what an import is about to change)."""
    if not keys:
        return {}
    rows = conn.execute(text(f"""
        SELECT {_SNAPSHOT_COLUMNS} FROM layer_features f
        WHERE f.layer = :layer AND f.key = ANY(:keys)
    """), {"layer": layer, "keys": keys}).all()
    return {row[2]: _snapshot(row) for row in rows}


def _current(conn: Connection, layer: Layer, feature_id: int, *, lock: bool = False,
             ) -> dict[str, Any] | None:
    row = conn.execute(text(f"""
        SELECT {_SNAPSHOT_COLUMNS} FROM layer_features f
        WHERE f.layer = :layer AND f.id = :id {'FOR UPDATE' if lock else ''}
    """), {"layer": layer.id, "id": feature_id}).first()
    return _snapshot(row) if row else None


def _last_published(conn: Connection, layer: Layer, feature_id: int) -> Any:
    return conn.execute(text("""
        SELECT id, kind, before, after FROM feature_changes
        WHERE layer = :layer AND feature_id = :id AND status = 'published'
        ORDER BY id DESC LIMIT 1
    """), {"layer": layer.id, "id": feature_id}).first()


def _retired_state(conn: Connection, layer: Layer, feature_id: int) -> dict[str, Any] | None:
    """The last state of a retired feature (its retire's ``before``), or None."""
    last = _last_published(conn, layer, feature_id)
    if last is not None and last.kind == "retire" and last.after is None:
        return dict(last.before)
    return None


def _existing(conn: Connection, layer: Layer, feature_id: int) -> dict[str, Any]:
    """The live feature, locked for this transaction; Retired or NotFound otherwise.

    The key's advisory lock is taken before the row lock, in the order ``decide`` takes them,
    so a review and an edit of one feature wait for each other instead of deadlocking."""
    found = _current(conn, layer, feature_id)
    if found is not None:
        _lock_key(conn, layer.id, found["key"])
        found = _current(conn, layer, feature_id, lock=True)
    if found is not None:
        return found
    if _retired_state(conn, layer, feature_id) is not None:
        raise Retired(f"ข้อมูลนี้ถูกเลิกใช้แล้ว กู้คืนก่อนจึงแก้ไขได้ / feature {feature_id} of "
                      f"{layer.id} is retired; restore it first")
    waiting = conn.execute(text("""
        SELECT id, feature_key FROM feature_changes
        WHERE layer = :layer AND feature_id = :id AND status = 'pending' ORDER BY id LIMIT 1
    """), {"layer": layer.id, "id": feature_id}).first()
    if waiting is not None:
        _not_pending(conn, layer.id, waiting.feature_key)
    raise NotFound(f"ไม่พบข้อมูล / no feature {feature_id} in {layer.id}")


def feature_id_for_key(engine: Engine, layer: Layer, key: str) -> int | None:
    """The id of the feature with this key: live, retired, or waiting for review as a creation
    (None if it never existed)."""
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT id FROM layer_features WHERE layer = :layer AND key = :key"),
            {"layer": layer.id, "key": key}).scalar_one_or_none()
        if found is None:
            found = conn.execute(text("""
                SELECT feature_id FROM feature_changes
                WHERE layer = :layer AND feature_key = :key AND feature_id IS NOT NULL
                ORDER BY id DESC LIMIT 1
            """), {"layer": layer.id, "key": key}).scalar_one_or_none()
    return found


# --- scope and review -----------------------------------------------------------------------

def _province_label(code: str | None) -> str:
    province = geothai.province(code) if code else None
    if province is None:
        return f"({code or '-'})"
    return f"{province.name_th} / {province.name_en} ({code})"


def _check_layer(account: Account, layer: Layer) -> None:
    if account.disabled or not account.covers_layer(layer.id):
        raise Forbidden(f"ชั้นข้อมูล {layer.title_th} ไม่อยู่ในขอบเขตของบัญชี {account.name} / "
                        f"layer {layer.id} is outside the layers of account {account.name}")


def _check_provinces(account: Account, layer: Layer, *provinces: str | None) -> None:
    _check_layer(account, layer)
    for code in provinces:
        if not account.may_edit(layer.id, code):
            raise Forbidden(f"จังหวัด {_province_label(code)} ไม่อยู่ในขอบเขตของบัญชี "
                            f"{account.name} / province {_province_label(code)} is outside the "
                            f"provinces of account {account.name}")


def requires_approval(conn: Connection | Engine, layer_id: str) -> bool:
    def ask(c: Connection) -> bool:
        return bool(c.execute(text(
            "SELECT requires_approval FROM layer_settings WHERE layer = :layer"),
            {"layer": layer_id}).scalar_one_or_none())

    if isinstance(conn, Engine):
        with conn.connect() as c:
            return ask(c)
    return ask(conn)


def set_requires_approval(engine: Engine, layer_id: str, on: bool) -> None:
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_settings (layer, requires_approval) VALUES (:layer, :on)
            ON CONFLICT (layer) DO UPDATE SET requires_approval = :on, updated_at = now()
        """), {"layer": layer_id, "on": on})


def _publishes(conn: Connection, account: Account, layer_id: str,
               provinces: Iterable[str | None]) -> bool:
    """Whether the change goes public at once: no review asked, or the author may approve it."""
    return not requires_approval(conn, layer_id) or all(
        account.may_approve(layer_id, p) for p in provinces)


def _lock_key(conn: Connection, layer_id: str, key: str) -> None:
    """Serialises changes of one feature (also a creation and its key) across processes."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                 {"k": f"{layer_id}/{key}"})


def _not_pending(conn: Connection, layer_id: str, key: str) -> None:
    waiting = conn.execute(text("""
        SELECT id FROM feature_changes
        WHERE layer = :layer AND feature_key = :key AND status = 'pending'
        ORDER BY id LIMIT 1
    """), {"layer": layer_id, "key": key}).scalar_one_or_none()
    if waiting is not None:
        raise PendingReview(
            f"ข้อมูลนี้มีการแก้ไขรอการอนุมัติ (#{waiting}) แก้ไขต่อได้เมื่ออนุมัติหรือปฏิเสธแล้ว / "
            f"feature {key!r} has a change waiting for review (#{waiting}); it can be changed "
            "again once that is approved or rejected", waiting)


# --- validation -----------------------------------------------------------------------------

def _validated(account: Account, layer: Layer, values: dict[str, Any], base: dict[str, Any],
               *, creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(properties, personal) after applying ``values`` to ``base``, checked by the layer's
    declaration with the importer's own parsing and messages; Unprocessable lists every problem.
    A blank value clears an optional field; a field not in ``values`` keeps its value."""
    known = {f.name for f in layer.fields}
    problems = [f"{name}: ไม่มีช่องนี้ในชั้นข้อมูล / not a field of {layer.id}"
                for name in sorted(set(values) - known)]
    properties, personal = dict(base.get("properties") or {}), dict(base.get("personal") or {})
    for f in layer.fields:
        label = f"{f.label_th} / {f.label_en} ({f.name})"
        if f.name not in values:
            if creating and f.required:
                problems.append(f"{label}: ต้องกรอก / missing (required)")
            continue
        raw = values[f.name]
        if f.personal and not account.may_see_personal(layer.id):
            raise Forbidden(f"{label}: ข้อมูลส่วนบุคคล ต้องมีสิทธิ์ดูข้อมูลส่วนบุคคล / personal "
                            "data: changing it needs the personal-data right")
        target = personal if f.personal else properties
        if isinstance(raw, dict | list):
            problems.append(f"{label}: ต้องเป็นค่าเดียว / must be a single value, not {raw!r}")
            continue
        if is_blank(raw):
            if f.required:
                problems.append(f"{label}: ต้องกรอก / missing (required)")
            target.pop(f.name, None)
            continue
        try:
            value = parse(f, raw)
        except Converted as note:
            value = note.value
        except BadValue as exc:
            problems.append(f"{label}: {exc}")
            continue
        target[f.name] = value
    if not creating and properties.get(layer.key_field) != (base.get("properties") or {}).get(
            layer.key_field):
        problems.append(f"{layer.key_field}: รหัสเปลี่ยนไม่ได้ (เลิกใช้แล้วสร้างใหม่แทน) / the key "
                        "cannot change; retire the feature and create a new one")
    if problems:
        raise Unprocessable(f"ข้อมูลไม่ผ่านการตรวจสอบ / the values are not valid for {layer.id}",
                            problems)
    return properties, personal


def _placed(engine: Engine, lon: Any, lat: Any) -> dict[str, Any]:
    """Where the point lies: province/district/subdistrict/region, or Unprocessable."""
    try:
        x, y = float(lon), float(lat)
    except OverflowError:  # an integer of hundreds of digits: out of range below
        x = y = math.inf
    except (TypeError, ValueError):
        raise Unprocessable("พิกัดไม่ถูกต้อง / the point is not valid",
                            [f"lon/lat {str(lon)[:30]}, {str(lat)[:30]} are not numbers / "
                             "ไม่ใช่ตัวเลข"]) from None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise Unprocessable("พิกัดไม่ถูกต้อง / the point is not valid",
                            [f"lon/lat {str(lon)[:30]}, {str(lat)[:30]} are out of range "
                             "(lon -180…180, lat -90…90) / พิกัดอยู่นอกช่วง"])
    place = locate(engine, [(x, y)])[0]
    if place is None or place.distance_m > COAST_TOLERANCE_M:
        raise Unprocessable("จุดอยู่นอกประเทศไทย / the point lies outside Thailand", [
            f"point ({y:.5f}, {x:.5f}) lies outside Thailand (in the sea or a neighbouring "
            "country?) / จุดอยู่นอกประเทศไทย"])
    return {"lon": x, "lat": y, "province_code": place.province_code,
            "district_code": place.district_code, "subdistrict_code": place.subdistrict_code,
            "region": place.region}


# --- writing --------------------------------------------------------------------------------

def _name(layer: Layer, properties: dict[str, Any]) -> str | None:
    value = properties.get(layer.name_field)
    return None if value is None else str(value)


def _apply(conn: Connection, before: dict | None, after: dict | None, *,
           context: str = "") -> None:
    """Makes ``after`` the live state of the feature ``before`` was (None: create / retire).
    The version is checked in the same statement: a concurrent change makes it StaleVersion."""
    stale = StaleVersion(
        "มีผู้อื่นแก้ไขข้อมูลนี้ก่อนแล้ว โหลดใหม่แล้วแก้ไขอีกครั้ง / someone else changed this feature "
        f"first{context}: reload it and make the change again")
    if after is None:
        assert before is not None
        done = conn.execute(text("""
            DELETE FROM layer_features WHERE id = :id AND version = :version RETURNING id
        """), {"id": before["id"], "version": before["version"]}).first()
        if done is None:
            raise stale
        return
    params = {
        "id": after["id"], "layer": after["layer"], "key": after["key"], "name": after["name"],
        "properties": json.dumps(after["properties"], ensure_ascii=False),
        "personal": json.dumps(after["personal"], ensure_ascii=False),
        "gp": after["given"][0], "gd": after["given"][1], "gs": after["given"][2],
        "p": after["province_code"], "d": after["district_code"], "s": after["subdistrict_code"],
        "region": after["region"], "lon": after["lon"], "lat": after["lat"],
        "sample": bool(after["sample"]), "version": after["version"],
        "base": None if before is None else before["version"],
    }
    if before is None:
        taken = conn.execute(text("""
            SELECT key FROM layer_features WHERE id = :id OR (layer = :layer AND key = :key)
        """), params).first()
        if taken is not None:
            raise Conflict(f"มีข้อมูลรหัส {after['key']!r} อยู่แล้ว / a feature with key "
                           f"{after['key']!r} already exists in {after['layer']}{context}")
        conn.execute(text("""
            INSERT INTO layer_features (id, layer, key, name, properties, personal,
                given_province_code, given_district_code, given_subdistrict_code,
                province_code, district_code, subdistrict_code, region, geom, sample, version)
            VALUES (:id, :layer, :key, :name, CAST(:properties AS jsonb),
                CAST(:personal AS jsonb), :gp, :gd, :gs, :p, :d, :s, :region,
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :sample, :version)
        """), params)
        index_names(conn, after["layer"], [after["key"]])  # tour search finds it (issue 15)
        return
    done = conn.execute(text("""
        UPDATE layer_features SET name = :name, properties = CAST(:properties AS jsonb),
            personal = CAST(:personal AS jsonb), given_province_code = :gp,
            given_district_code = :gd, given_subdistrict_code = :gs, province_code = :p,
            district_code = :d, subdistrict_code = :s, region = :region,
            geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), version = :version,
            updated_at = now()
        WHERE id = :id AND version = :base
        RETURNING id
    """), params).first()
    if done is None:
        raise stale
    index_names(conn, after["layer"], [after["key"]])


def _record(conn: Connection, *, account: Account | None, layer_id: str, kind: str,
            status: str, before: dict | None, after: dict | None,
            import_id: int | None = None) -> int:
    snap = after or before
    assert snap is not None
    return conn.execute(text("""
        INSERT INTO feature_changes (layer, feature_id, feature_key, kind, status, account_id,
            actor, base_version, before, after, province_code, import_id)
        VALUES (:layer, :fid, :key, :kind, :status, :account, :actor, :base,
                CAST(:before AS jsonb), CAST(:after AS jsonb), :province, :import_id)
        RETURNING id
    """), {"layer": layer_id, "fid": snap["id"], "key": snap["key"], "kind": kind,
           "status": status, "account": account.id if account else None,
           "actor": account.name if account else "cli",
           "base": before["version"] if before else None,
           "before": None if before is None else json.dumps(before, ensure_ascii=False),
           "after": None if after is None else json.dumps(after, ensure_ascii=False),
           "province": snap["province_code"], "import_id": import_id}).scalar_one()


def _submit(conn: Connection, account: Account, layer: Layer, kind: str, before: dict | None,
            after: dict | None) -> ChangeResult:
    """Publishes the change, or stores it pending when the layer asks for review and the
    author may not approve it here."""
    provinces = {s["province_code"] for s in (before, after) if s is not None}
    publish = _publishes(conn, account, layer.id, provinces)
    if publish:
        _apply(conn, before, after)
    change_id = _record(conn, account=account, layer_id=layer.id, kind=kind,
                        status="published" if publish else "pending", before=before,
                        after=after)
    snap = after or before
    assert snap is not None
    version = (snap["version"] if publish else before["version"] if before else 0)
    return ChangeResult(snap["id"], snap["key"], version, change_id,
                        "published" if publish else "pending")


def _check_version(current: dict[str, Any], expected_version: int) -> None:
    if current["version"] != expected_version:
        raise StaleVersion(
            f"ข้อมูลนี้ถูกแก้ไขไปแล้ว (ฉบับที่ {current['version']}) ขณะที่คุณแก้จากฉบับที่ "
            f"{expected_version}: โหลดใหม่แล้วแก้ไขอีกครั้ง / the feature is at version "
            f"{current['version']}, not {expected_version}: someone changed it first; reload "
            "it and make the change again")


def create_feature(engine: Engine, account: Account, layer: Layer,
                   values: dict[str, Any], lon: float, lat: float) -> ChangeResult:
    """A new feature at (lon, lat) with ``values`` (by field name)."""
    _check_layer(account, layer)
    properties, personal = _validated(account, layer, values, {}, creating=True)
    place = _placed(engine, lon, lat)
    _check_provinces(account, layer, place["province_code"])
    key = str(properties[layer.key_field])
    with engine.begin() as conn:
        _lock_key(conn, layer.id, key)
        _not_pending(conn, layer.id, key)
        if conn.execute(text("SELECT 1 FROM layer_features WHERE layer = :layer AND key = :key"),
                        {"layer": layer.id, "key": key}).first():
            raise Conflict(f"มีข้อมูลรหัส {key!r} อยู่แล้ว / a feature with key {key!r} already "
                           f"exists in {layer.id}")
        _retired_key_in_scope(conn, account, layer, key)
        new_id = conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('layer_features', 'id'))")).scalar_one()
        after = {"id": new_id, "layer": layer.id, "key": key,
                 "name": _name(layer, properties), "properties": properties,
                 "personal": personal, **place, "given": [None, None, None], "sample": False,
                 "version": 1}
        return _submit(conn, account, layer, "create", None, after)


def _retired_key_in_scope(conn: Connection, account: Account, layer: Layer, key: str) -> None:
    """A retired feature's key stays reserved to its province: taken by a new feature in
    another province, the retired one could never be restored there."""
    province = conn.execute(text("""
        SELECT c.province_code FROM feature_changes c
        WHERE c.layer = :layer AND c.feature_key = :key AND c.kind = 'retire'
          AND c.status = 'published'
          AND NOT EXISTS (SELECT 1 FROM layer_features f WHERE f.id = c.feature_id)
        ORDER BY c.id DESC LIMIT 1
    """), {"layer": layer.id, "key": key}).scalar_one_or_none()
    if province is not None and not account.is_admin and account.provinces is not None \
            and province not in account.provinces:
        raise Conflict(f"รหัส {key!r} เป็นของข้อมูลที่เลิกใช้แล้วในจังหวัดรหัส {province} ใช้รหัสอื่น / "
                       f"the key {key!r} belongs to a retired feature of province {province}: "
                       "it stays reserved there (it can be restored); choose another key")


def _changeable(conn: Connection, account: Account, layer: Layer, feature_id: int,
                expected_version: int) -> dict[str, Any]:
    """The live feature, if this account may change it now: in scope, not waiting for review,
    and still at the version the change was made against."""
    before = _existing(conn, layer, feature_id)
    _check_provinces(account, layer, before["province_code"])
    _not_pending(conn, layer.id, before["key"])
    _check_version(before, expected_version)
    return before


def update_feature(engine: Engine, account: Account, layer: Layer, feature_id: int,
                   values: dict[str, Any], *, expected_version: int,
                   lon: float | None = None, lat: float | None = None) -> ChangeResult:
    """Changes the fields in ``values`` (others kept); with lon/lat, moves the point too."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        before = _changeable(conn, account, layer, feature_id, expected_version)
        properties, personal = _validated(account, layer, values, before, creating=False)
        after = {**before, "name": _name(layer, properties), "properties": properties,
                 "personal": personal, "version": before["version"] + 1}
        kind = "update"
        if lon is not None or lat is not None:
            place = _placed(engine, lon, lat)
            if (place["lon"], place["lat"]) != (before["lon"], before["lat"]):
                kind = "move"
            after.update(place)
            _check_provinces(account, layer, after["province_code"])
        return _submit(conn, account, layer, kind, before, after)


def retire_feature(engine: Engine, account: Account, layer: Layer, feature_id: int, *,
                   expected_version: int) -> ChangeResult:
    """Removes the feature from the live layer; its last state stays in the history."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        before = _changeable(conn, account, layer, feature_id, expected_version)
        return _submit(conn, account, layer, "retire", before, None)


def restore_feature(engine: Engine, account: Account, layer: Layer,
                    feature_id: int) -> ChangeResult:
    """Brings a retired feature back, with the same id and its last state."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        if _current(conn, layer, feature_id) is not None:
            raise Conflict(f"ข้อมูลนี้ยังใช้งานอยู่ ไม่ต้องกู้คืน / feature {feature_id} of {layer.id} "
                           "is not retired")
        last = _retired_state(conn, layer, feature_id)
        if last is None:
            raise NotFound(f"ไม่พบข้อมูลที่เลิกใช้ / no retired feature {feature_id} in {layer.id}")
        _check_provinces(account, layer, last["province_code"])
        _lock_key(conn, layer.id, last["key"])
        _not_pending(conn, layer.id, last["key"])
        after = {**last, "version": last["version"] + 1}
        return _submit(conn, account, layer, "restore", None, after)


def revert_feature(engine: Engine, account: Account, layer: Layer, feature_id: int,
                   change_id: int, *, expected_version: int) -> ChangeResult:
    """Puts the feature back as it was before change ``change_id``, as a new change."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        change = conn.execute(text("""
            SELECT before, status FROM feature_changes
            WHERE id = :id AND layer = :layer AND feature_id = :fid
        """), {"id": change_id, "layer": layer.id, "fid": feature_id}).first()
        if change is None or change.status != "published":
            raise NotFound(f"ไม่พบการเปลี่ยนแปลง #{change_id} ของข้อมูลนี้ / no published change "
                           f"#{change_id} of feature {feature_id} in {layer.id}")
        if change.before is None:
            raise Conflict(f"การเปลี่ยนแปลง #{change_id} สร้างข้อมูลนี้ขึ้นมา: ใช้การเลิกใช้แทน / "
                           f"change #{change_id} created the feature: retire it instead")
        before = _existing(conn, layer, feature_id)
        target = dict(change.before)
        _check_provinces(account, layer, before["province_code"], target["province_code"])
        _not_pending(conn, layer.id, before["key"])
        _check_version(before, expected_version)
        after = {**target, "id": before["id"], "key": before["key"], "layer": layer.id,
                 "sample": before["sample"], "version": before["version"] + 1}
        if not account.may_see_personal(layer.id):  # writing them needs the right too
            after["personal"] = before["personal"]
        return _submit(conn, account, layer, "revert", before, after)


# --- reading --------------------------------------------------------------------------------

def _log_personal(conn: Connection, account: Account, layer_id: str, feature_ids: list[int],
                  context: str, snapshots: Iterable[dict | None]) -> None:
    """PDPA: who saw which personal fields of which features, when, and from where."""
    log_personal_view(conn, account, layer_id, feature_ids, context,
                      personal_fields_of(snapshots))


def _masked(snap: dict | None) -> dict | None:
    if snap is None:
        return None
    return {**snap, "personal": {k: HIDDEN for k in snap.get("personal") or {}}}


def feature_for_staff(engine: Engine, account: Account, layer: Layer,
                      feature_id: int) -> dict[str, Any]:
    """The feature's snapshot for the workspace (a retired one: its last state)."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        snap = _current(conn, layer, feature_id)
        retired = snap is None
        if snap is None:
            snap = _retired_state(conn, layer, feature_id)
        if snap is None:
            raise NotFound(f"ไม่พบข้อมูล / no feature {feature_id} in {layer.id}")
        _check_provinces(account, layer, snap["province_code"])
        waiting = conn.execute(text("""
            SELECT id FROM feature_changes
            WHERE layer = :layer AND feature_key = :key AND status = 'pending'
            ORDER BY id LIMIT 1
        """), {"layer": layer.id, "key": snap["key"]}).scalar_one_or_none()
        if account.may_see_personal(layer.id):
            if snap["personal"]:
                _log_personal(conn, account, layer.id, [feature_id], "feature", [snap])
        else:
            snap["personal"] = {}
    return {**snap, "retired": retired, "pending": waiting}


def _change_dict(row: Any, show_personal: bool) -> dict[str, Any]:
    before, after = row.before, row.after
    if not show_personal:
        before, after = _masked(before), _masked(after)
    return {"id": row.id, "layer": row.layer, "feature_id": row.feature_id,
            "key": row.feature_key, "kind": row.kind, "status": row.status,
            "actor": row.actor, "at": row.at.isoformat(), "base_version": row.base_version,
            "before": before, "after": after, "province_code": row.province_code,
            "import_id": row.import_id, "decided_by": row.decided_by_name,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "note": row.note}


_CHANGE_SELECT = """
    SELECT c.id, c.layer, c.feature_id, c.feature_key, c.kind, c.status, c.actor, c.at,
           c.base_version, c.before, c.after, c.province_code, c.import_id, c.decided_at,
           c.note, a.name AS decided_by_name
    FROM feature_changes c LEFT JOIN accounts a ON a.id = c.decided_by
"""


def _has_personal(row: Any) -> bool:
    return any((s or {}).get("personal") for s in (row.before, row.after))


def history(engine: Engine, account: Account, layer: Layer,
            feature_id: int) -> list[dict[str, Any]]:
    """Every change of the feature, newest first (pending and rejected ones included)."""
    _check_layer(account, layer)
    with engine.begin() as conn:
        rows = conn.execute(text(f"""
            {_CHANGE_SELECT} WHERE c.layer = :layer AND c.feature_id = :fid ORDER BY c.id DESC
        """), {"layer": layer.id, "fid": feature_id}).all()
        live = _current(conn, layer, feature_id)
        if not rows and live is None:
            raise NotFound(f"ไม่พบข้อมูล / no feature {feature_id} in {layer.id}")
        province = live["province_code"] if live else rows[0].province_code
        _check_provinces(account, layer, province)
        show = account.may_see_personal(layer.id)
        if show and any(_has_personal(r) for r in rows):
            _log_personal(conn, account, layer.id, [feature_id], "history",
                          [s for r in rows for s in (r.before, r.after)])
    return [_change_dict(r, show) for r in rows]


def change_for_staff(engine: Engine, account: Account, change_id: int) -> dict[str, Any]:
    """One change, for its author or anyone whose scope covers where it lies."""
    with engine.begin() as conn:
        row = conn.execute(text(f"{_CHANGE_SELECT} WHERE c.id = :id"), {"id": change_id}).first()
        if row is None:
            raise NotFound(f"ไม่พบการเปลี่ยนแปลง #{change_id} / no change #{change_id}")
        author = conn.execute(text("SELECT account_id FROM feature_changes WHERE id = :id"),
                              {"id": change_id}).scalar_one()
        if author != account.id:
            layer = LAYERS.get(row.layer)
            if layer is None:
                raise NotFound(f"no change #{change_id}")
            _check_provinces(account, layer, *_provinces_of(row))
        show = account.may_see_personal(row.layer)
        if show and _has_personal(row):
            _log_personal(conn, account, row.layer, [row.feature_id], "change",
                          [row.before, row.after])
    return _change_dict(row, show)


def current_version(engine: Engine, layer: Layer, key: str) -> int | None:
    """The live feature's version (the API's ETag), or None."""
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT version FROM layer_features WHERE layer = :layer AND key = :key"),
            {"layer": layer.id, "key": key}).scalar_one_or_none()


def _provinces_of(row: Any) -> set[str | None]:
    return {s["province_code"] for s in (row.before, row.after) if s is not None}


def pending(engine: Engine, account: Account, *,
            import_id: int | None = None) -> list[dict[str, Any]]:
    """The changes waiting for review that this account may approve, oldest first; with
    ``import_id``, only that import's (what "approve the whole import" decides)."""
    with engine.begin() as conn:
        if not (account.is_admin or account.can_approve) or account.disabled:
            return []
        rows = conn.execute(text(f"""
            {_CHANGE_SELECT} WHERE c.status = 'pending'
              AND (CAST(:layers AS text[]) IS NULL OR c.layer = ANY(CAST(:layers AS text[])))
              AND (CAST(:import_id AS bigint) IS NULL OR c.import_id = :import_id)
            ORDER BY c.id
        """), {"layers": None if account.is_admin or account.layers is None
               else sorted(account.layers), "import_id": import_id}).all()
        mine = [r for r in rows if all(account.may_approve(r.layer, p) for p in _provinces_of(r))]
        shown: dict[str, list[Any]] = {}
        out = []
        for r in mine:
            show = account.may_see_personal(r.layer)
            if show and _has_personal(r):
                shown.setdefault(r.layer, []).append(r)
            out.append(_change_dict(r, show))
        for layer_id, seen in shown.items():
            _log_personal(conn, account, layer_id, [r.feature_id for r in seen], "review",
                          [s for r in seen for s in (r.before, r.after)])
    return out


# The officer's inbox lists this many of their latest reviewed or waiting changes.
INBOX_LIMIT = 500


def mine(engine: Engine, account: Account, limit: int = INBOX_LIMIT) -> list[dict[str, Any]]:
    """The account's own changes that went through review — waiting, approved or rejected,
    with the reviewer's note — newest first: an officer's inbox (issue 24, item 7). Values are
    masked: the inbox says what happened to a change, and personal fields stay behind the
    feature page's rule."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"""
            {_CHANGE_SELECT}
            WHERE c.account_id = :account
              AND (c.status IN ('pending', 'rejected') OR c.decided_at IS NOT NULL)
            ORDER BY c.id DESC LIMIT :limit
        """), {"account": account.id, "limit": limit}).all()
    return [_change_dict(r, False) for r in rows]


def decide(engine: Engine, account: Account, change_ids: list[int], *, approve: bool,
           note: str | None = None) -> list[ChangeResult]:
    """Publishes (applies) or rejects pending changes, in change order, all or none."""
    results = []
    with engine.begin() as conn:
        for change_id in sorted(set(change_ids)):
            row = conn.execute(text("""
                SELECT id, layer, feature_id, feature_key, status, before, after, base_version
                FROM feature_changes WHERE id = :id FOR UPDATE
            """), {"id": change_id}).first()
            if row is None:
                raise NotFound(f"ไม่พบการเปลี่ยนแปลง #{change_id} / no change #{change_id}")
            if row.status != "pending":
                raise Conflict(f"การเปลี่ยนแปลง #{change_id} ได้รับการพิจารณาแล้ว ({row.status}) / "
                               f"change #{change_id} was already decided ({row.status})")
            for code in _provinces_of(row):
                if not account.may_approve(row.layer, code):
                    raise Forbidden(
                        f"ไม่มีสิทธิ์อนุมัติ {row.layer} ในจังหวัด {_province_label(code)} / "
                        f"account {account.name} may not approve {row.layer} in province "
                        f"{_province_label(code)}")
            if approve:
                _lock_key(conn, row.layer, row.feature_key)
                _apply(conn, row.before, row.after,
                       context=f" (change #{change_id} was made on version "
                               f"{row.base_version}; reject it)")
            conn.execute(text("""
                UPDATE feature_changes SET status = :status, decided_by = :by,
                    decided_at = now(), note = :note
                WHERE id = :id
            """), {"status": "published" if approve else "rejected", "by": account.id,
                   "note": note, "id": change_id})
            snap = row.after or row.before
            version = (snap["version"] if approve or row.before is None
                       else row.before["version"])
            results.append(ChangeResult(row.feature_id, row.feature_key, version, change_id,
                                        "published" if approve else "rejected"))
    return results


# --- imports --------------------------------------------------------------------------------

def record_import(conn: Connection, *, account: Account | None, layer: str, import_id: int,
                  before: dict[str, dict | None], after: list[dict], pending: bool) -> None:
    """One ``import`` change per feature an import wrote (or staged, when ``pending``)."""
    if not after:
        return
    actor = account.name if account else "cli"
    status = "pending" if pending else "published"
    values = []
    for snap in after:
        old = before.get(snap["key"])
        values.append((
            layer, snap["id"], snap["key"], "import", status,
            account.id if account else None, actor, old["version"] if old else None,
            None if old is None else json.dumps(old, ensure_ascii=False),
            json.dumps(snap, ensure_ascii=False), snap["province_code"], import_id))
    raw: Any = conn.connection.dbapi_connection
    with translated(conn.engine), raw.cursor() as cur:
        execute_values(cur, """
            INSERT INTO feature_changes (layer, feature_id, feature_key, kind, status,
                account_id, actor, base_version, before, after, province_code, import_id)
            VALUES %s
        """, values, template="(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)",
            page_size=1000)
