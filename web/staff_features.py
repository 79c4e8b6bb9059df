"""Edits on the map, history and review in the browser (issue 11), under ``/staff``.

Every write goes through ``gis.changes`` (the same rules as the API: scope, validation with the
importer's messages, versions, approval). The pages are plain POST forms with the CSRF token, so
nothing is lost when a save is refused: the form comes back with what the person typed, the
server's problems beside the fields, and on a conflict the values someone else saved first.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core.accounts import Account
from core.errors import BadParameter, Conflict, Forbidden, NotFound, TooLarge, Unprocessable
from core.photos import BadBundle, Bundle, NotAPhoto, prepare
from core.schema import Field, Layer
from core.values import BE_OFFSET
from gis import changes
from gis import collections as gc
from gis import photos as gphotos
from gis import staff_features as store
from layers.definitions import LAYERS
from web.auth import current_account, signed_in
from web.choices import area_choices
from web.maps import plain_map
from web.services import engine, settings

staff_features = Blueprint("staff_features", __name__)

BANGKOK = ZoneInfo("Asia/Bangkok")
THAI_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.",
               "พ.ย.", "ธ.ค.")
KINDS = {
    "create": "เพิ่ม / created", "update": "แก้ไข / edited", "move": "ย้ายตำแหน่ง / moved",
    "retire": "เลิกใช้ / retired", "restore": "นำกลับ / restored", "import": "นำเข้า / imported",
    "revert": "คืนค่าฉบับเดิม / reverted",
}
STATUSES = {"published": "เผยแพร่แล้ว / published", "pending": "รออนุมัติ / pending",
            "rejected": "ไม่อนุมัติ / rejected"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters no field may hold (tab and line breaks are text)."""
STALE = "ไม่สามารถบันทึก: มีผู้แก้ไขก่อนหน้า / someone saved first"


@staff_features.app_template_filter("thai_time")
def thai_time(value: object) -> str:
    """A moment as Thai officers read it: Bangkok time, B.E. year (25 พ.ย. 2569 17:20 น.)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    local = value.astimezone(BANGKOK)
    return (f"{local.day} {THAI_MONTHS[local.month - 1]} {local.year + BE_OFFSET} "
            f"{local:%H:%M} น.")


# ---- helpers -----------------------------------------------------------------------------

def _account() -> Account:
    account = current_account()
    assert account is not None  # @signed_in ran first
    return account


def _layer(layer_id: str) -> Layer:
    layer = LAYERS.get(layer_id)
    if layer is None:
        raise NotFound(f"ไม่มีชั้นข้อมูล {layer_id!r} / no layer {layer_id!r}")
    if not _account().covers_layer(layer.id):
        raise Forbidden(f"บัญชีนี้ไม่มีสิทธิ์ในชั้นข้อมูล {layer.title_th} / this account does not "
                        f"cover the layer {layer.title_en}")
    return layer


def _scope(account: Account) -> frozenset[str] | None:
    return None if account.is_admin else account.provinces


def _show(f: Field, value: object) -> str:
    """A stored value as the form shows it (and as the importer reads it back)."""
    if value is None:
        return ""
    if f.type == "bool":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and f.type != "float":
        return str(int(value))
    return str(value)


def _label(f: Field, value: object) -> str:
    """A stored value for people: a choice's Thai label, yes/no in Thai."""
    if value is None or value == "":
        return "—"
    if f.type == "bool":
        return "ใช่ / yes" if value else "ไม่ใช่ / no"
    if f.type == "enum":
        for c in f.choices:
            if c.value == value:
                return c.label_th
    return str(value)


def _label_form(f: Field, text: str) -> str:
    """A form's text value for people (the form spells yes/no as true/false)."""
    if f.type == "bool" and text in ("true", "false"):
        return _label(f, text == "true")
    return _label(f, text)


def _fields(layer: Layer, account: Account) -> list[Field]:
    """The fields this account edits, in the order the API's schema lists them (one declared
    order, ``Collection.form_fields``): personal ones only with the right to see them."""
    return list(gc.of(layer).form_fields(account.may_see_personal(layer.id)))


def _form_values(layer: Layer, snapshot: dict[str, Any] | None) -> dict[str, str]:
    if not snapshot:
        return {}
    merged = {**(snapshot.get("properties") or {}), **(snapshot.get("personal") or {})}
    return {f.name: _show(f, merged.get(f.name)) for f in layer.fields if f.name in merged}


def _problems_by_field(layer: Layer, problems: list[str]) -> tuple[dict[str, list[str]],
                                                                    list[str]]:
    """The server's problems beside the fields they name (by name or Thai/English label);
    the rest above the form."""
    by_field: dict[str, list[str]] = {}
    rest: list[str] = []
    labels = sorted(((label, f.name) for f in layer.fields
                     for label in (f"{f.label_th} / {f.label_en} ({f.name})", f.name, f.label_th,
                                   f.label_en)), key=lambda p: -len(p[0]))
    for problem in problems:
        for label, name in labels:
            if problem.startswith(label):
                by_field.setdefault(name, []).append(problem)
                break
        else:
            rest.append(problem)
    return by_field, rest


def _read_form(layer: Layer, account: Account, *, for_display: bool = False,
               ) -> dict[str, str | None]:
    """The form's values by field (blank = None). ``for_display``: control characters
    removed, to show the form again; otherwise a field holding one (NUL, which PostgreSQL
    refuses, and the like) is that field's problem (422), never a failed write."""
    values: dict[str, str | None] = {}
    problems = []
    for f in _fields(layer, account):
        raw = request.form.get(f.name, "")[:f.max_length + 100].strip()
        if CONTROL.search(raw):
            if for_display:
                raw = CONTROL.sub("", raw)
            else:
                problems.append(f"{f.label_th} / {f.label_en} ({f.name}): มีอักขระควบคุม (เช่น "
                                "NUL) / contains control characters (such as NUL)")
        values[f.name] = raw or None
    if problems:
        raise Unprocessable("ข้อมูลไม่ผ่านการตรวจสอบ / the values are not valid", problems)
    return values


def _read_point(required: bool) -> tuple[float | None, float | None]:
    lon_raw, lat_raw = request.form.get("lon", "").strip(), request.form.get("lat", "").strip()
    if not lon_raw and not lat_raw and not required:
        return None, None
    try:
        lon, lat = float(lon_raw), float(lat_raw)
    except ValueError as exc:
        raise BadParameter("ตำแหน่งไม่ถูกต้อง: คลิกหรือลากจุดบนแผนที่ / the position is missing or "
                           "not a number: click or drag the point on the map") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadParameter("ตำแหน่งอยู่นอกช่วงพิกัด / the position is out of range")
    return lon, lat


def _read_version() -> int:
    try:
        return int(request.form.get("version", ""))
    except ValueError as exc:
        raise BadParameter("ไม่มีเลขฉบับ (version) ในแบบฟอร์ม: โหลดหน้าใหม่ / the form carries no "
                           "version: reload the page") from exc


def _diff(layer: Layer, before: dict[str, Any] | None, after: dict[str, Any] | None,
          ) -> list[dict[str, str]]:
    """What a change did, field by field: label, before, after (personal values only when the
    snapshots carry them, i.e. when the account may see them)."""
    b, a = before or {}, after or {}
    rows = []
    for f in layer.fields:
        source = "personal" if f.personal else "properties"
        old, new = (b.get(source) or {}).get(f.name), (a.get(source) or {}).get(f.name)
        if old != new:
            rows.append({"label": f"{f.label_th} / {f.label_en}", "before": _label(f, old),
                         "after": _label(f, new)})
    old_point = (b.get("lon"), b.get("lat")) if b else None
    new_point = (a.get("lon"), a.get("lat")) if a else None
    if old_point != new_point:
        def point(p: tuple[Any, Any] | None) -> str:
            return "—" if not p or p[0] is None else f"{float(p[1]):.5f}, {float(p[0]):.5f}"
        rows.append({"label": "ตำแหน่ง (ละติจูด, ลองจิจูด) / position (lat, lon)",
                     "before": point(old_point), "after": point(new_point)})
    if b.get("province_code") != a.get("province_code") and b and a:
        rows.append({"label": "จังหวัด / province", "before": str(b.get("province_code") or "—"),
                     "after": str(a.get("province_code") or "—")})
    return rows


def _history(layer: Layer, account: Account, feature_id: int) -> list[dict[str, Any]]:
    entries = []
    for change in changes.history(engine(), account, layer, feature_id):
        entries.append({**change,
                        "kind_label": KINDS.get(change.get("kind", ""), change.get("kind")),
                        "status_label": STATUSES.get(change.get("status", ""),
                                                     change.get("status")),
                        "diff": _diff(layer, change.get("before"), change.get("after"))})
    return entries


def _map() -> Any:
    return plain_map(settings())


def _feature_page(layer: Layer, account: Account, feature_id: int, *,
                  form_values: dict[str, str] | None = None, status: int = 200,
                  keep_base: bool = False, **extra: Any) -> ResponseReturnValue:
    """The feature page: live (form, map, history) or retired (restore, history).

    The form carries the version and the values it was loaded with (``was-<field>``): a save
    refused as stale merges the person's changes into what was saved first, so neither write is
    lost. ``keep_base``: a save refused for another reason keeps the base it was made against.
    """
    snapshot = changes.feature_for_staff(engine(), account, layer, feature_id)  # scope, PDPA log
    retired = snapshot if snapshot.get("retired") else None
    place = store.place_names(engine(), snapshot.get("province_code"),
                              snapshot.get("district_code"), snapshot.get("subdistrict_code"))
    history = _history(layer, account, feature_id)
    pending = any(h.get("status") == "pending" for h in history)
    live_values = _form_values(layer, snapshot)
    values = form_values if form_values is not None else live_values
    base_version: object = snapshot.get("version")
    base_values = live_values
    if keep_base:
        base_version = request.form.get("version", base_version)
        base_values = {f.name: request.form.get(f"was-{f.name}", "") for f in layer.fields}
    config = {"mode": "feature", "color": layer.color, "lon": snapshot.get("lon"),
              "lat": snapshot.get("lat"), "editable": retired is None and not pending,
              "moved": bool(form_values is not None and request.form.get("lon"))}
    if config["moved"]:
        config["lon"], config["lat"] = request.form.get("lon"), request.form.get("lat")
    # While a move waits for approval the live marker stays where it is; the proposed place is
    # drawn beside it, so the officer sees their move was kept (issue 24: it "jumped back").
    waiting = next((h for h in history if h.get("status") == "pending"), None)
    proposed = (waiting or {}).get("after") or {}
    if proposed.get("lon") is not None and (proposed.get("lon"), proposed.get("lat")) != (
            snapshot.get("lon"), snapshot.get("lat")):
        config["proposed"] = [proposed["lon"], proposed["lat"]]
    photos = gphotos.for_staff(engine(), layer.id, snapshot["key"]) if not retired else []
    return render_template(
        "staff/feature.html", layer=layer, account=account, fields=_fields(layer, account),
        photos=photos, max_photo_mb=settings().max_photo_mb,
        may_edit=account.may_edit(layer.id, snapshot.get("province_code")),
        snapshot=snapshot, values=values, base_values=base_values, base_version=base_version,
        place=place, history=history, retired=retired, pending=pending, fmap=_map(),
        page_config={"staff": config}, feature_id=feature_id, label=_label,
        **{"problems": {}, "form_problems": [], "conflict": None, "message": None,
           "photo_problem": None, **extra},
    ), status


def _refused_save(layer: Layer, account: Account, feature_id: int, exc: Exception,
                  ) -> ResponseReturnValue:
    """A refused save: the form again with what was typed, and why (422/403/409)."""
    typed = {k: v or "" for k, v in _read_form(layer, account, for_display=True).items()}
    if isinstance(exc, Unprocessable):
        by_field, rest = _problems_by_field(layer, exc.problems)
        return _feature_page(layer, account, feature_id, form_values=typed, status=422,
                             keep_base=True, problems=by_field, form_problems=rest,
                             message=exc.message)
    if isinstance(exc, changes.StaleVersion):
        current = changes.feature_for_staff(engine(), account, layer, feature_id)
        now = _form_values(layer, current)
        merged, shown = {}, []
        for f in _fields(layer, account):
            was = request.form.get(f"was-{f.name}", "")
            mine, theirs = typed.get(f.name, ""), now.get(f.name, "")
            changed_by_me = mine != was
            merged[f.name] = mine if changed_by_me else theirs
            shown.append({"label": f"{f.label_th} / {f.label_en}",
                          "theirs": _label_form(f, theirs), "mine": _label_form(f, mine),
                          "clash": changed_by_me and theirs != was and theirs != mine})
        return _feature_page(layer, account, feature_id, form_values=merged, status=409,
                             conflict={"version": current.get("version"), "fields": shown,
                                       "lon": current.get("lon"), "lat": current.get("lat")},
                             message=STALE)
    assert isinstance(exc, Forbidden | Conflict | BadParameter)
    return _feature_page(layer, account, feature_id, form_values=typed, keep_base=True,
                         status=getattr(exc, "status", 400), message=exc.message)


# ---- pages -------------------------------------------------------------------------------

@staff_features.get("/layers")
@signed_in
def layers() -> ResponseReturnValue:
    account = _account()
    shown = [layer for layer in LAYERS.values() if account.covers_layer(layer.id)]
    return render_template("staff/feature_layers.html", account=account, layers=shown)


@staff_features.get("/layers/<layer_id>")
@signed_in
def layer_page(layer_id: str) -> ResponseReturnValue:
    account = _account()
    layer = _layer(layer_id)
    retired = store.retired_in_scope(engine(), layer.id, _scope(account))
    config = {"mode": "list", "color": layer.color, "layer": layer.id,
              "points": url_for("staff_features.points", layer_id=layer.id),
              "feature": url_for("staff_features.feature", layer_id=layer.id, feature_id=0),
              "new": url_for("staff_features.new_feature", layer_id=layer.id),
              "extent": store.scope_extent(engine(), layer.id, _scope(account))}
    provinces = [p for p in area_choices()["provinces"]
                 if account.is_admin or account.provinces is None
                 or p["code"] in account.provinces]
    return render_template("staff/features.html", account=account, layer=layer,
                           retired=retired, fmap=_map(), page_config={"staff": config},
                           offline_provinces=provinces)


@staff_features.get("/layers/<layer_id>/points.json")
@signed_in
def points(layer_id: str) -> ResponseReturnValue:
    """The points of the map's view in the account's scope (public fields only)."""
    account = _account()
    layer = _layer(layer_id)
    bbox = None
    if request.args.get("bbox"):
        try:
            parts = tuple(float(v) for v in request.args["bbox"].split(","))
        except ValueError as exc:
            raise BadParameter("bbox must be minLon,minLat,maxLon,maxLat") from exc
        if len(parts) != 4:
            raise BadParameter("bbox must be minLon,minLat,maxLon,maxLat")
        bbox = (parts[0], parts[1], parts[2], parts[3])
    search = request.args.get("q", "").strip()[:100] or None
    found, more = store.features_in_scope(engine(), layer.id, _scope(account), search=search,
                                          bbox=bbox)
    return jsonify({"features": [p.as_json() for p in found], "more": more})


@staff_features.route("/layers/<layer_id>/new", methods=["GET", "POST"])
@signed_in
def new_feature(layer_id: str) -> ResponseReturnValue:
    account = _account()
    layer = _layer(layer_id)
    typed: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    form_problems: list[str] = []
    message = None
    status = 200
    source = request.form if request.method == "POST" else request.args
    lon, lat = source.get("lon", ""), source.get("lat", "")
    if request.method == "POST":
        typed = {k: v or "" for k, v in _read_form(layer, account, for_display=True).items()}
        try:
            point_lon, point_lat = _read_point(required=True)
            assert point_lon is not None and point_lat is not None
            result = changes.create_feature(engine(), account, layer,
                                            _read_form(layer, account), point_lon, point_lat)
        except Unprocessable as exc:
            problems, form_problems = _problems_by_field(layer, exc.problems)
            message, status = exc.message, 422
        except (Forbidden, Conflict, BadParameter) as exc:
            message, status = exc.message, exc.status
        else:
            if result.status == "pending":
                return redirect(url_for("staff_features.layer_page", layer_id=layer.id,
                                        pending=result.key))
            return redirect(url_for("staff_features.feature", layer_id=layer.id,
                                    feature_id=result.feature_id, saved="create"))
    config = {"mode": "new", "color": layer.color, "lon": lon or None, "lat": lat or None,
              "editable": True}
    return render_template("staff/feature_new.html", account=account, layer=layer,
                           fields=_fields(layer, account), values=typed, problems=problems,
                           form_problems=form_problems, message=message, lon=lon, lat=lat,
                           fmap=_map(), page_config={"staff": config}), status


@staff_features.route("/layers/<layer_id>/<id:feature_id>", methods=["GET", "POST"])
@signed_in
def feature(layer_id: str, feature_id: int) -> ResponseReturnValue:
    account = _account()
    layer = _layer(layer_id)
    if request.method == "GET":
        return _feature_page(layer, account, feature_id)
    try:
        lon, lat = _read_point(required=False)
        result = changes.update_feature(engine(), account, layer, feature_id,
                                        _read_form(layer, account),
                                        expected_version=_read_version(), lon=lon, lat=lat)
    except (Unprocessable, Forbidden, Conflict, BadParameter) as exc:
        return _refused_save(layer, account, feature_id, exc)
    return redirect(url_for("staff_features.feature", layer_id=layer.id, feature_id=feature_id,
                            saved=result.status))


def _action(layer_id: str, feature_id: int, act: str) -> ResponseReturnValue:
    """Retire, restore or revert, then back to the feature page (or it again, with why not)."""
    account = _account()
    layer = _layer(layer_id)
    try:
        if act == "retire":
            result = changes.retire_feature(engine(), account, layer, feature_id,
                                            expected_version=_read_version())
        elif act == "restore":
            result = changes.restore_feature(engine(), account, layer, feature_id)
        else:
            try:
                change_id = int(request.form.get("change_id", ""))
            except ValueError as exc:
                raise BadParameter("change_id must be a number") from exc
            result = changes.revert_feature(engine(), account, layer, feature_id, change_id,
                                            expected_version=_read_version())
    except changes.StaleVersion:
        return _feature_page(layer, account, feature_id, status=409, message=STALE)
    except (Unprocessable, Forbidden, Conflict, BadParameter) as exc:
        return _feature_page(layer, account, feature_id, status=exc.status, message=exc.message)
    return redirect(url_for("staff_features.feature", layer_id=layer.id, feature_id=feature_id,
                            saved=result.status, did=act))


@staff_features.post("/layers/<layer_id>/<id:feature_id>/retire")
@signed_in
def retire(layer_id: str, feature_id: int) -> ResponseReturnValue:
    return _action(layer_id, feature_id, "retire")


@staff_features.post("/layers/<layer_id>/<id:feature_id>/restore")
@signed_in
def restore(layer_id: str, feature_id: int) -> ResponseReturnValue:
    return _action(layer_id, feature_id, "restore")


@staff_features.post("/layers/<layer_id>/<id:feature_id>/revert")
@signed_in
def revert(layer_id: str, feature_id: int) -> ResponseReturnValue:
    return _action(layer_id, feature_id, "revert")


# ---- photos ------------------------------------------------------------------------------

def _photo_feature(account: Account, layer: Layer, feature_id: int) -> gphotos.FeatureRef:
    """The live feature a photo is added to or removed from, if this account may edit it: the
    same scope rule as editing its fields (layer and province)."""
    ref = gphotos.live_feature(engine(), layer.id, feature_id)
    if ref is None:
        raise NotFound(f"ไม่พบข้อมูล (หรือเลิกใช้แล้ว) / no live feature {feature_id} in "
                       f"{layer.id}")
    if not account.may_edit(layer.id, ref.province_code):
        raise Forbidden(f"จุดนี้ไม่อยู่ในขอบเขตของบัญชี {account.name} / this feature is outside "
                        f"the scope of account {account.name}")
    return ref


def _read_photo() -> bytes:
    """The ``photo`` field's bytes, read no further than the limit (413 beyond it)."""
    sent = request.files.get("photo")
    if sent is None or not sent.filename:
        raise BadParameter("photo: เลือกภาพที่จะแนบ / choose a photo to attach")
    limit = settings().max_photo_mb * 1024 * 1024
    data = sent.stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"photo: ภาพใหญ่เกิน {settings().max_photo_mb} MB / the photo is larger "
                       f"than {settings().max_photo_mb} MB (CDDGIS_MAX_PHOTO_MB)")
    if not data:
        raise BadParameter("photo: ไฟล์ว่าง / the file is empty")
    return data


@staff_features.post("/layers/<layer_id>/<id:feature_id>/photos")
@signed_in
def add_photo(layer_id: str, feature_id: int) -> ResponseReturnValue:
    """Attaches a photo: checked by its content (JPEG, PNG or WebP), its EXIF time and place
    kept for staff, and public copies made without any EXIF (``core.photos``)."""
    account = _account()
    layer = _layer(layer_id)
    try:
        ref = _photo_feature(account, layer, feature_id)
        data = _read_photo()
        try:
            photo = prepare(data)
        except NotAPhoto as exc:
            raise Unprocessable(f"photo: {exc}", [f"photo: {exc}"]) from exc
        gphotos.add(engine(), gphotos.photos_dir(settings().state_dir), account.id, layer.id,
                    ref.key, photo)
    except (BadParameter, TooLarge, Unprocessable) as exc:
        # Out of scope or no such feature: the error itself (403/404); a bad file: the page
        # again, the problem beside the photo field, nothing stored.
        return _feature_page(layer, account, feature_id, status=exc.status,
                             photo_problem=exc.message)
    return redirect(url_for("staff_features.feature", layer_id=layer.id, feature_id=feature_id,
                            photo="added") + "#photos", 303)


@staff_features.post("/layers/<layer_id>/<id:feature_id>/photos/<int:photo_id>/delete")
@signed_in
def delete_photo(layer_id: str, feature_id: int, photo_id: int) -> ResponseReturnValue:
    account = _account()
    layer = _layer(layer_id)
    ref = _photo_feature(account, layer, feature_id)
    if not gphotos.delete(engine(), gphotos.photos_dir(settings().state_dir), layer.id, ref.key,
                          photo_id):
        raise NotFound(f"ไม่พบภาพ / no photo {photo_id} of this feature")
    return redirect(url_for("staff_features.feature", layer_id=layer.id, feature_id=feature_id,
                            photo="deleted") + "#photos", 303)


BULK_RESULTS = {"ok": "แนบแล้ว / attached", "error": "ไม่ได้แนบ / not attached"}


@staff_features.route("/layers/<layer_id>/photos", methods=["GET", "POST"])
@signed_in
def bulk_photos(layer_id: str) -> ResponseReturnValue:
    """Many photos at once: one ZIP holding a table (the layer's key and a ``ไฟล์ภาพ /
    photo_file`` column) and the photos it names. Each photo is checked and stored as one
    attached on the feature's page, under the same scope rule; each row is reported, and a
    row's problem never stops the others."""
    account = _account()
    layer = _layer(layer_id)
    report: list[dict[str, Any]] | None = None
    message, status = None, 200
    if request.method == "POST":
        sent = request.files.get("bundle")
        try:
            if sent is None or not sent.filename:
                raise BadParameter("bundle: เลือกไฟล์ ZIP / choose a ZIP file")
            with tempfile.TemporaryDirectory(prefix="cddgis-photos-") as work:
                path = Path(work) / "bundle.zip"
                sent.save(path)
                try:
                    bundle = Bundle(path, layer.field(layer.key_field).accepted_headers(),
                                    settings().max_photo_mb * 1024 * 1024, Path(work))
                except BadBundle as exc:
                    raise Unprocessable(str(exc), [str(exc)]) from exc
                try:
                    report = _attach_bundle(account, layer, bundle)
                finally:
                    bundle.close()
        except (BadParameter, Unprocessable) as exc:
            message, status = exc.message, exc.status
        else:
            status = 200
    return render_template("staff/photos_bulk.html", account=account, layer=layer,
                           report=report, message=message, results=BULK_RESULTS,
                           max_photo_mb=settings().max_photo_mb,
                           max_upload_mb=settings().max_upload_mb), status


def _attach_bundle(account: Account, layer: Layer, bundle: Bundle) -> list[dict[str, Any]]:
    features = gphotos.live_features_by_key(engine(), layer.id, [r.key for r in bundle.rows])
    root = gphotos.photos_dir(settings().state_dir)
    report: list[dict[str, Any]] = []
    for row in bundle.rows:
        ref = features.get(row.key)
        problem = row.problem
        if problem is None and ref is None:
            problem = f"ไม่พบจุดรหัส {row.key!r} / no live feature with the key {row.key!r}"
        elif problem is None and ref is not None and not account.may_edit(layer.id,
                                                                           ref.province_code):
            problem = (f"จุด {row.key!r} ไม่อยู่ในขอบเขตของบัญชี / the feature {row.key!r} is "
                       "outside this account's scope")
        for name in row.files or ("",):
            entry = {"row": row.row, "key": row.key, "file": name, "result": "error",
                     "reason": problem, "feature_id": ref.id if ref else None}
            if problem is None and ref is not None:
                try:
                    gphotos.add(engine(), root, account.id, layer.id, ref.key,
                                prepare(bundle.read(name)))
                    entry["result"] = "ok"
                except NotAPhoto as exc:
                    entry["reason"] = f"{name}: {exc}"
            report.append(entry)
    return report


# ---- review ------------------------------------------------------------------------------

@staff_features.route("/review", methods=["GET", "POST"])
@signed_in
def review() -> ResponseReturnValue:
    account = _account()
    message, status = None, 200
    if request.method == "POST":
        ids = _chosen_changes(account)
        approve = request.form.get("decision") == "approve"
        note = request.form.get("note", "").strip()[:2000] or None
        if note and CONTROL.search(note):
            raise BadParameter("หมายเหตุมีอักขระควบคุม (เช่น NUL) / the note contains control "
                               "characters (such as NUL)")
        try:
            decided = changes.decide(engine(), account, ids, approve=approve, note=note)
        except (Conflict, Forbidden, Unprocessable, BadParameter) as exc:
            message, status = exc.message, exc.status
        else:
            back: dict[str, Any] = {"decided": len(decided), "approved": int(approve),
                                    **_review_filters()}
            return redirect(url_for("staff_features.review", **back))
    waiting = []
    shapes = []
    filters = _review_filters()
    everything = changes.pending(engine(), account)
    authors = sorted({c["actor"] for c in everything})
    layers_waiting = [lay for lay in LAYERS.values() if any(c["layer"] == lay.id
                                                            for c in everything)]
    matching = [c for c in everything if _matches(c, filters)]
    for change in matching[:REVIEW_SHOWN]:
        layer = LAYERS.get(change.get("layer", ""))
        if layer is None:
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        waiting.append({**change, "layer_obj": layer,
                        "kind_label": KINDS.get(change.get("kind", ""), change.get("kind")),
                        "diff": _diff(layer, before or None, after or None)})
        shapes.append({"id": change.get("id"), "color": layer.color,
                       "before": [before["lon"], before["lat"]] if before.get("lon") else None,
                       "after": [after["lon"], after["lat"]] if after.get("lon") else None})
    import_sizes: dict[int, int] = {}
    for c in matching:
        if c["import_id"] is not None:
            import_sizes[c["import_id"]] = import_sizes.get(c["import_id"], 0) + 1
    return render_template("staff/review.html", account=account, waiting=waiting,
                           message=message, fmap=_map(), filters=filters, authors=authors,
                           layers_waiting=layers_waiting, matching=len(matching),
                           total=len(everything), import_sizes=import_sizes,
                           old_place=OLD_PLACE,
                           layers_shown=[lay for lay in LAYERS.values()
                                         if any(c["layer_obj"] is lay for c in waiting)],
                           page_config={"staff": {"mode": "review", "changes": shapes,
                                                  "old_place": OLD_PLACE}}), status


# How the review map draws a change's old place; its legend uses the same values.
OLD_PLACE = {"fill": "#9ca3af", "stroke": "#4b5563"}


# The review page lists at most this many changes (a large import may stage thousands: those
# are decided as a whole with "approve the import", not one by one).
REVIEW_SHOWN = 200


def _review_filters() -> dict[str, str]:
    """The queue's filters from the address: layer, province (2 digits), author."""
    filters = {}
    for name in ("layer", "province", "author"):
        value = (request.values.get(f"filter_{name}") if request.method == "POST"
                 else request.args.get(name)) or ""
        if value.strip():
            filters[name] = value.strip()[:64]
    if "layer" in filters and filters["layer"] not in LAYERS:
        raise BadParameter(f"layer: ไม่มีชั้นข้อมูล {filters['layer']!r} / no layer "
                           f"{filters['layer']!r}")
    if "province" in filters and not re.fullmatch(r"[0-9]{2}", filters["province"]):
        raise BadParameter(f"province must be a 2-digit DOPA code; got {filters['province']!r}")
    return filters


def _matches(change: dict[str, Any], filters: dict[str, str]) -> bool:
    return (filters.get("layer") in (None, change["layer"])
            and filters.get("province") in (None, change["province_code"])
            and filters.get("author") in (None, change["actor"]))


def _chosen_changes(account: Account) -> list[int]:
    """The changes a review form decides: the ticked one(s), or every waiting change of an
    import this account may approve, less those the reviewer left out (per-row opt-out)."""
    try:
        ids = [int(v) for v in request.form.getlist("change_id")]
        import_raw = request.form.get("import_id")
        import_id = int(import_raw) if import_raw else None
        left_out = {int(v) for v in request.form.getlist("leave_out")}
    except ValueError as exc:
        raise BadParameter("change_id, import_id and leave_out must be numbers") from exc
    if import_id is not None:
        ids = [c["id"] for c in changes.pending(engine(), account, import_id=import_id)
               if c["id"] not in left_out]
    if not ids:
        raise BadParameter("เลือกอย่างน้อยหนึ่งรายการ / choose at least one change")
    return ids


@staff_features.get("/my-changes")
@signed_in
def my_changes() -> ResponseReturnValue:
    """An officer's inbox: their own changes waiting, approved and rejected, with the notes."""
    account = _account()
    mine = changes.mine(engine(), account)
    for change in mine:
        layer = LAYERS.get(change["layer"])
        change["layer_title"] = layer.title_th if layer else change["layer"]
        change["kind_label"] = KINDS.get(change["kind"], change["kind"])
    counts = {state: sum(1 for c in mine if _state(c) == state)
              for state in ("pending", "approved", "rejected")}
    return render_template("staff/my_changes.html", account=account, mine=mine, counts=counts,
                           state=_state, limit=changes.INBOX_LIMIT)


def _state(change: dict[str, Any]) -> str:
    return "approved" if change["status"] == "published" else str(change["status"])
