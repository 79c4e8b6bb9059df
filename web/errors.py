"""Every error a request can end with, turned into an answer in one place.

Domain errors (``core.errors``) raised anywhere — a parameter parser, a query, a page —
become their status code with the OGC API exception JSON (``{"code", "description"}``) under
``/api`` and the HTML error page elsewhere. Database errors arrive here already told as what
they mean (``gis/errors.py``: 503 only when the database is unreachable, 504 for a statement
cancelled at its time limit, 409, 422, or a 500 with an error id); this module imports no
driver. Anything unexpected is a 500 whose error id is in the answer and the log.
"""

from __future__ import annotations

import secrets

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.errors import CddgisError, InternalError, QueryTimeout, Unavailable


def wants_json() -> bool:
    """API paths and the pages' JSON (``….json``: the tour's search and names) answer in JSON;
    pages answer in HTML, except to a page's script that asks for JSON first (``Accept:
    application/json``: the upload report's fix form), which shows the message itself."""
    return (request.path.startswith("/api") or request.path.endswith(".json")
            or request.accept_mimetypes.best == "application/json")


def answer(status: int, code: str, message: str, problems: list[str] | None = None,
           headers: dict[str, str] | None = None) -> ResponseReturnValue:
    headers = dict(headers or {})
    if wants_json():
        body: dict[str, object] = {"code": code, "description": message}
        if problems:
            body["problems"] = problems
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="cddgis"'
        return jsonify(body), status, headers
    return render_template("error.html", status=status, message=message,
                           problems=problems or []), status, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(CddgisError)
    def domain_error(exc: CddgisError) -> ResponseReturnValue:
        headers = {}
        if isinstance(exc, Unavailable):
            headers["Retry-After"] = str(exc.retry_after_s)
            app.logger.error("database unavailable on %s", request.path)
        elif isinstance(exc, QueryTimeout):
            app.logger.warning("statement cancelled at its time limit on %s", request.path)
        elif isinstance(exc, InternalError):
            app.logger.error("error id %s on %s %s", exc.error_id, request.method,
                             request.path)
        return answer(exc.status, exc.code, exc.message, getattr(exc, "problems", None),
                      headers)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
        # The body limit (MAX_CONTENT_LENGTH) is the upload limit: say which and what to do.
        limit = app.extensions["cddgis.settings"].max_upload_mb
        return answer(413, "RequestEntityTooLarge",
                      f"ไฟล์ใหญ่เกิน {limit} MB ที่ระบบรับได้ แบ่งไฟล์เป็นส่วน ๆ แล้วอัปโหลดทีละส่วน / the "
                      f"file is larger than the {limit} MB limit (CDDGIS_MAX_UPLOAD_MB): split it "
                      "and upload the parts one by one")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "Error").replace(" ", "")
        return answer(exc.code or 500, code, exc.description or "")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        bug = InternalError(secrets.token_hex(6))
        app.logger.exception("error id %s: unhandled error on %s %s", bug.error_id,
                             request.method, request.path)
        return answer(500, bug.code, bug.message)
