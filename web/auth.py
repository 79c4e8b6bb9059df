"""Staff sign-in: signed session cookies, CSRF on every form, API bearer tokens.

Pages of the workspace call ``signed_in()`` (a redirect to the sign-in page otherwise); API write
endpoints call ``api_account()`` (401 without a live token). The signed cookie carries only a
random session id; its row in ``staff_sessions`` (gis.accounts) is checked on every request, so
sign-out (which deletes the row) ends that session on the server, even for a copied cookie,
and the account's other sessions go on. A password change or disabling the account bumps its
``session_epoch``, which ends every session at once. Sessions last ``CDDGIS_SESSION_HOURS`` from
sign-in (the row's ``expires_at``, and the cookie's own signed age).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect  # type: ignore[import-untyped]

from core.accounts import Account
from core.errors import Forbidden, Unauthorized
from gis import accounts as store
from gis.settings import Settings, persistent_secret
from web.services import engine

csrf = CSRFProtect()
staff_auth = Blueprint("staff_auth", __name__)

CSRF_REFUSED = ("แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาโหลดหน้าใหม่แล้วส่งอีกครั้ง / the form has expired or was "
                "not sent by this site: reload the page and submit again")
SIGN_IN_NEEDED = ("ต้องใช้โทเคน API: ส่ง Authorization: Bearer <token> "
                  "(สร้างด้วย `cddgis users token NAME`) / an API token is needed: send "
                  "Authorization: Bearer <token> (made with "
                  "`cddgis users token NAME`)")

View = TypeVar("View", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["cddgis.settings"]
    app.secret_key = settings.secret_key or persistent_secret(settings.state_dir)
    app.config.update(
        SESSION_COOKIE_NAME="cddgis_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # expiry counts from sign-in, not from last use
        WTF_CSRF_TIME_LIMIT=settings.session_hours * 3600,
        WTF_CSRF_SSL_STRICT=False,  # the Origin/Referer check is ours (SameSite + token)
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
    )
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> ResponseReturnValue:
        from web.errors import answer

        return answer(400, "CSRFRefused", CSRF_REFUSED)

    @app.after_request
    def private_pages(response: Response) -> Response:
        # Anything a signed-in person sees is theirs alone: no shared cache may keep it.
        if request.path.startswith("/staff") or "account" in g:
            response.headers["Cache-Control"] = "no-store"
        return response

    app.register_blueprint(staff_auth, url_prefix="/staff")


def current_account() -> Account | None:
    """The signed-in account of this request, checked against the database once per request."""
    if "account" in g:
        return g.account
    account = None
    session_id = session.get("sid")
    if isinstance(session_id, str):

        account = store.account_for_session(engine(), session_id)
        if account is None:
            session.clear()  # ended, expired or unknown: the cookie is dropped
    g.account = account
    return account


def signed_in(view: View) -> View:
    """A workspace page: the sign-in page first when nobody is signed in."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            return redirect(url_for("staff_auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_only(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = current_account()
        if account is None:
            return redirect(url_for("staff_auth.sign_in", next=request.full_path.rstrip("?")))
        if not account.is_admin:
            raise Forbidden("หน้านี้สำหรับผู้ดูแลระบบ / this page is for administrators")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def api_account() -> Account:
    """The account of an API write: ``Authorization: Bearer <token>``, or 401. Cookies are never
    accepted here, so the API needs no CSRF token and a page cannot write through it."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(SIGN_IN_NEEDED)

    account = store.account_for_token(engine(), token.strip())
    if account is None:
        raise Unauthorized("โทเคนไม่ถูกต้อง ถูกเพิกถอน หรือบัญชีถูกระงับ / the token is unknown, "
                           "revoked, or its account is disabled")
    g.account = account
    return account


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a crafted ?next= must not send someone elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("staff_auth.home")


@staff_auth.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:

    error = None
    name = ""
    retry_after = 0
    if request.method == "POST":
        name = request.form.get("name", "")[:64]
        password = request.form.get("password", "")[:1024]
        try:
            account = store.sign_in(engine(), name, password,
                                    address=request.remote_addr or "unknown")
        except store.SignInRefused as refused:
            error, retry_after = str(refused), refused.retry_after
        else:
            settings: Settings = current_app.extensions["cddgis.settings"]
            session.clear()  # a session id chosen before sign-in is never kept (fixation)
            session.permanent = True
            session["sid"] = store.start_session(engine(), account, hours=settings.session_hours)
            return redirect(_safe_next(request.args.get("next")))
    page = render_template("staff/sign_in.html", error=error, name=name)
    if retry_after:  # held back, the password not even checked: 429 with when to come back
        return page, 429, {"Retry-After": str(retry_after)}
    return page, 401 if error else 200


@staff_auth.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    session_id = session.get("sid")
    if isinstance(session_id, str):

        store.end_session(engine(), session_id)  # ends it on the server: copies die too
    session.clear()
    return redirect(url_for("staff_auth.sign_in", signed_out=1))


@staff_auth.route("/password", methods=["GET", "POST"])
@signed_in
def change_password() -> ResponseReturnValue:
    from core.errors import BadParameter

    account = current_account()
    assert account is not None
    error = None
    if request.method == "POST":
        current = request.form.get("current", "")[:1024]
        new, again = request.form.get("new", "")[:1024], request.form.get("again", "")[:1024]
        try:
            store.sign_in(engine(), account.name, current,
                          address=request.remote_addr or "unknown")
            if new != again:
                raise BadParameter("รหัสผ่านใหม่สองช่องไม่ตรงกัน / the two new passwords differ")
            updated = store.set_password(engine(), account.name, new)
        except store.SignInRefused as refused:
            error = str(refused)
        except BadParameter as bad:
            error = bad.message
        else:
            # This session goes on at the new epoch; every other one ended with the old.
            store.keep_session(engine(), session["sid"], updated)
            return redirect(url_for("staff_auth.home", password_changed=1))
    return render_template("staff/password.html", error=error), 400 if error else 200


@staff_auth.get("/")
@signed_in
def home() -> ResponseReturnValue:
    return render_template("staff/home.html", account=current_account())


def forbid_unless(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)


__all__ = ["abort", "admin_only", "api_account", "csrf", "current_account", "forbid_unless",
           "init_app", "signed_in"]
