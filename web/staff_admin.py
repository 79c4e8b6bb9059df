"""The staff workspace's administration (issue 11): accounts, their API tokens and sign-in
failures, and which layers need approval. Administrators only (``admin_only``)."""

from __future__ import annotations

from typing import Any

import geothai
from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core.accounts import ROLES, Account
from core.errors import BadParameter, CddgisError, Forbidden
from gis import accounts as store
from layers.definitions import LAYERS
from web.auth import admin_only, current_account
from web.services import engine

staff_admin = Blueprint("staff_admin", __name__)


def _account() -> Account:
    account = current_account()
    assert account is not None  # admin_only
    return account


# ---- administration -------------------------------------------------------------------------

def _province_choices() -> list[dict[str, str]]:
    return [{"code": p.code, "name_th": p.name_th, "name_en": p.name_en}
            for p in sorted(geothai.provinces(), key=lambda p: p.code)]


def _admin_page(status: int = 200, **extra: Any) -> ResponseReturnValue:
    accounts = store.list_accounts(engine())
    return render_template("staff/admin_accounts.html", account=_account(),
                           accounts=accounts, tokens=store.token_counts(engine()),
                           provinces=_province_choices(), layers=LAYERS, roles=ROLES,
                           **extra), status


@staff_admin.get("/admin/accounts")
@admin_only
def admin_accounts() -> ResponseReturnValue:
    return _admin_page(done=request.args.get("done"))


@staff_admin.post("/admin/accounts")
@admin_only
def admin_add_account() -> ResponseReturnValue:
    form = request.form
    provinces = form.getlist("provinces")
    layers = form.getlist("layers")
    try:
        if form.get("password", "") != form.get("again", ""):
            raise BadParameter("รหัสผ่านสองช่องไม่ตรงกัน / the two passwords differ")
        added = store.create_account(
            engine(), form.get("name", "")[:64], role=form.get("role", ""),
            password=form.get("password", "")[:1024], provinces=provinces, layers=layers,
            can_approve=bool(form.get("approve")), can_personal=bool(form.get("personal")),
            can_indicators=bool(form.get("indicators")),
            display_name=(form.get("display_name") or "").strip()[:200] or None)
    except CddgisError as refused:
        return _admin_page(refused.status if refused.status < 500 else 400,
                           error=refused.message, form=form)
    return redirect(url_for("staff_admin.admin_account", name=added.name, done="added"), 303)


def _target(name: str) -> Account:
    return store.require_account(engine(), name)


@staff_admin.get("/admin/accounts/<name>")
@admin_only
def admin_account(name: str, *, token: str | None = None, error: str | None = None,
                  status: int = 200) -> ResponseReturnValue:
    target = _target(name)
    return render_template("staff/admin_account.html", account=_account(), target=target,
                           tokens=store.list_tokens(engine(), target.name), token=token,
                           failures=store.failure_count(engine(), target.name),
                           error=error, done=request.args.get("done")), status


@staff_admin.post("/admin/accounts/<name>/disabled")
@admin_only
def admin_set_disabled(name: str) -> ResponseReturnValue:
    target = _target(name)
    disable = request.form.get("disabled") == "1"
    if disable and target.id == _account().id:
        raise Forbidden("ระงับบัญชีของตัวเองไม่ได้ / you cannot disable your own account")
    store.update_account(engine(), target.name, disabled=disable)
    return redirect(url_for("staff_admin.admin_account", name=target.name,
                            done="disabled" if disable else "enabled"), 303)


@staff_admin.post("/admin/accounts/<name>/failures")
@admin_only
def admin_clear_failures(name: str) -> ResponseReturnValue:
    """Unlock: the account's failed sign-ins are forgotten, so no address waits for it."""
    target = _target(name)
    store.clear_failures(engine(), target.name)
    return redirect(url_for("staff_admin.admin_account", name=target.name, done="unlocked"),
                    303)


@staff_admin.post("/admin/accounts/<name>/password")
@admin_only
def admin_reset_password(name: str) -> ResponseReturnValue:
    target = _target(name)
    new, again = request.form.get("new", "")[:1024], request.form.get("again", "")[:1024]
    try:
        if new != again:
            raise BadParameter("รหัสผ่านสองช่องไม่ตรงกัน / the two passwords differ")
        store.set_password(engine(), target.name, new)
    except BadParameter as bad:
        return admin_account(target.name, error=bad.message, status=400)
    return redirect(url_for("staff_admin.admin_account", name=target.name, done="password"),
                    303)


@staff_admin.post("/admin/accounts/<name>/tokens")
@admin_only
def admin_issue_token(name: str) -> ResponseReturnValue:
    target = _target(name)
    label = (request.form.get("label") or "").strip()[:100] or None
    token = store.issue_token(engine(), target.name, label=label)
    # Shown in this answer only (no redirect, no-store): only its hash is kept.
    return admin_account(target.name, token=token)


@staff_admin.post("/admin/accounts/<name>/tokens/<id:token_id>/revoke")
@admin_only
def admin_revoke_token(name: str, token_id: int) -> ResponseReturnValue:
    target = _target(name)
    store.revoke_token(engine(), target.name, token_id)
    return redirect(url_for("staff_admin.admin_account", name=target.name, done="revoked"),
                    303)


@staff_admin.route("/admin/layers", methods=["GET", "POST"])
@admin_only
def admin_layers() -> ResponseReturnValue:
    if request.method == "POST":
        layer = request.form.get("layer", "")
        if layer not in LAYERS:
            raise BadParameter(f"ไม่มีชั้นข้อมูล {layer!r} / there is no layer {layer!r}")
        store.set_requires_approval(engine(), layer, request.form.get("requires_approval") == "1")
        return redirect(url_for("staff_admin.admin_layers", done=layer), 303)
    return render_template("staff/admin_layers.html", account=_account(), layers=LAYERS,
                           approvals=store.layer_approvals(engine()),
                           done=request.args.get("done"))
