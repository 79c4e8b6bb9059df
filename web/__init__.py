"""The Flask app: pages and the OGC API - Features, over the queries in gis/."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from gis.db import database_url as configured_url
from gis.db import engine_for
from gis.settings import Settings


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # Thai stays Thai in JSON
    app.json.sort_keys = False
    app.extensions["cddgis.settings"] = settings
    app.extensions["cddgis.engine"] = engine_for(database_url or configured_url(settings))

    from web import compress, security
    from web.api import api
    from web.choropleth_page import choropleth
    from web.indicators_api import indicators_api
    from web.pages import pages
    from web.tour import tour

    compress.init_app(app)
    security.init_app(app)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # vendored assets change only with releases

    app.register_blueprint(pages)
    app.register_blueprint(tour)
    app.register_blueprint(choropleth)
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(indicators_api, url_prefix="/api")

    def _wants_json() -> bool:
        return request.path.startswith("/api")

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc: Exception) -> ResponseReturnValue:
        app.logger.error("database error: %s", exc)
        message = "The database is not reachable right now. Please try again shortly."
        if _wants_json():
            return jsonify(code="ServiceUnavailable", description=message), 503
        return render_template("error.html", status=503, message=message), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        if _wants_json():
            return jsonify(code=exc.name.replace(" ", ""), description=exc.description), exc.code
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        message = "Something went wrong on our side; the error has been logged."
        if _wants_json():
            return jsonify(code="InternalServerError", description=message), 500
        return render_template("error.html", status=500, message=message), 500

    return app


def engine() -> Engine:
    from flask import current_app

    return current_app.extensions["cddgis.engine"]


def settings() -> Settings:
    from flask import current_app

    return current_app.extensions["cddgis.settings"]
