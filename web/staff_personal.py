"""PDPA for administrators: find one person's data and erase it everywhere (``gis.personal``).

``/staff/admin/personal``: choose a layer and give feature keys or a name; the matches are
listed (which features, which personal fields); a second, explicit confirmation erases. The
erasure is recorded without the erased value, and the latest erasures are listed.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from core.errors import BadParameter, NotFound
from core.schema import Layer
from gis import personal
from layers.definitions import LAYERS
from web.auth import admin_only, current_account
from web.services import engine, settings

staff_personal = Blueprint("staff_personal", __name__)


def _page(status: int = 200, **extra: object) -> ResponseReturnValue:
    return render_template("staff/admin_personal.html", account=current_account(),
                           layers=LAYERS, erasures=personal.erasures(engine()),
                           form=request.form if request.method == "POST" else request.args,
                           **extra), status


def _who() -> tuple[Layer, list[str] | None, str | None]:
    form = request.form
    layer = LAYERS.get(form.get("layer", ""))
    if layer is None:
        raise BadParameter("layer: เลือกชั้นข้อมูล / choose a layer")
    keys = [k.strip() for k in form.get("keys", "").replace(",", "\n").splitlines() if k.strip()]
    name = form.get("name", "").strip() or None
    if bool(keys) == bool(name):
        raise BadParameter("ระบุรหัสข้อมูล หรือ ชื่อ อย่างใดอย่างหนึ่ง / give feature keys or a name, "
                           "not both")
    return layer, keys or None, name


@staff_personal.get("/admin/personal")
@admin_only
def personal_page() -> ResponseReturnValue:
    return _page()


@staff_personal.post("/admin/personal")
@admin_only
def personal_find_or_erase() -> ResponseReturnValue:
    try:
        layer, keys, name = _who()
        matches = personal.find(engine(), layer, keys=keys, name=name)
        if request.form.get("confirm") != "erase":
            return _page(matches=matches, layer_id=layer.id)
        account = current_account()
        assert account is not None  # admin_only
        done = personal.erase(engine(), layer, keys=keys, name=name,
                              actor=account.name, account=account,
                              uploads_dir=settings().state_dir / "uploads",
                              reason=request.form.get("reason", "").strip() or None)
    except (BadParameter, NotFound) as refused:
        return _page(refused.status, error=refused.message)
    return _page(erased=done)
