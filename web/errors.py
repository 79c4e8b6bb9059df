"""Every error a request can end with, turned into an answer in one place.

Domain errors (``cddgis.core.errors``) raised anywhere — a parameter parser, a query, a page —
become their status code with the OGC API exception JSON (``{"code", "description"}``) under
``/api`` and the HTML error page elsewhere. Database outages become 503 without internals (host,
port and driver text go to the log, never to the client); anything unexpected is a logged 500.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from psycopg2 import errors as pg_errors
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cddgis.core.errors import CddgisError

UNAVAILABLE = "The database is not reachable right now. Please try again shortly."
TOO_SLOW = ("คำขอนี้ใช้เวลานานเกิน {seconds:g} วินาทีจึงถูกยกเลิก / The request took longer than "
            "{seconds:g} s and was stopped; ask for less (a smaller bbox, area, limit or "
            "radius_km).")


def wants_json() -> bool:
    """API paths answer in JSON; pages answer in HTML."""
    return request.path.startswith("/api")


def answer(status: int, code: str, message: str,
           problems: list[str] | None = None) -> ResponseReturnValue:
    if wants_json():
        body: dict[str, object] = {"code": code, "description": message}
        if problems:
            body["problems"] = problems
        headers = {"WWW-Authenticate": 'Bearer realm="cddgis"'} if status == 401 else {}
        return jsonify(body), status, headers
    return render_template("error.html", status=status, message=message,
                           problems=problems or []), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CddgisError)
    def domain_error(exc: CddgisError) -> ResponseReturnValue:
        return answer(exc.status, exc.code, exc.message, getattr(exc, "problems", None))

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> ResponseReturnValue:
        if isinstance(exc.orig, pg_errors.QueryCanceled):  # statement_timeout
            app.logger.warning("statement cancelled on %s: %s", request.full_path, exc.orig)
            seconds = app.extensions["cddgis.settings"].statement_timeout_ms / 1000
            return answer(504, "QueryTimeout", TOO_SLOW.format(seconds=seconds))
        app.logger.error("database error: %s", exc)
        return answer(503, "ServiceUnavailable", UNAVAILABLE)

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
        app.logger.exception("unhandled error")
        return answer(500, "InternalServerError",
                      "Something went wrong on our side; the error has been logged.")
