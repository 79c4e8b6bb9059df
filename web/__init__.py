"""The Flask app: the pages, the staff workspace and the open API (OGC API - Features and Tiles),
over the queries in gis/."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from gis.audit import CLIENT_ADDRESS
from gis.db import PRIMARY_READS, routed_engine
from gis.settings import Settings


class ThaiJSONProvider(DefaultJSONProvider):
    """Thai stays Thai in JSON (no \\u escapes), and keys keep the order we wrote them in."""

    ensure_ascii = False
    sort_keys = False


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["JSON_AS_ASCII"] = False
    app.json = ThaiJSONProvider(app)
    app.extensions["cddgis.settings"] = settings
    # A request for any other Host is refused (400) before links are built from it.
    app.config["TRUSTED_HOSTS"] = (None if "*" in settings.allowed_hosts
                                   else list(settings.allowed_hosts))
    from web.params import RowIdConverter

    app.url_map.converters["id"] = RowIdConverter
    app.extensions["cddgis.engine"] = routed_engine(settings, database_url)
    if settings.proxies:
        from web.proxies import TrustedProxyFix

        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, hops=settings.proxies, trusted=settings.trusted_proxies)

    from web import auth, compress, cors, csp_report, errors, params, security, staff_uploads
    from web.api import api
    from web.api_write import api_write
    from web.choropleth_page import choropleth
    from web.dashboard import dashboard
    from web.dashboard_compare import dashboard_compare
    from web.indicators_api import indicators_api
    from web.locator import locator
    from web.offline import offline
    from web.pages import pages
    from web.staff_admin import staff_admin
    from web.staff_features import staff_features
    from web.staff_indicators import staff_indicators
    from web.staff_personal import staff_personal
    from web.tiles import tiles
    from web.tour import tour

    app.before_request(_choose_reads)  # first: every later hook's reads are routed by it
    compress.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    staff_uploads.init_app(app)  # after auth: its blueprint is under /staff
    cors.init_app(app)
    app.before_request(params.reject_control_characters)  # NUL & co.: 400/404, in one place
    app.before_request(_remember_client_address)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # vendored assets change only with releases

    app.register_blueprint(pages)
    app.register_blueprint(tour)
    app.register_blueprint(offline)
    app.register_blueprint(locator)
    app.register_blueprint(choropleth)
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(api_write, url_prefix="/api")
    # API writes take bearer tokens only, never cookies (web/auth.py): no CSRF token needed.
    auth.csrf.exempt(api)
    auth.csrf.exempt(api_write)
    # Browsers send CSP reports without cookies or tokens; the endpoint only logs.
    csp_report.init_app(app)
    auth.csrf.exempt(csp_report.csp_report)
    app.register_blueprint(indicators_api, url_prefix="/api")
    app.register_blueprint(tiles, url_prefix="/api")
    app.register_blueprint(dashboard)
    app.register_blueprint(dashboard_compare)
    app.register_blueprint(staff_features, url_prefix="/staff")
    app.register_blueprint(staff_indicators, url_prefix="/staff")
    app.register_blueprint(staff_personal, url_prefix="/staff")
    app.register_blueprint(staff_admin, url_prefix="/staff")

    return app


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _choose_reads() -> None:
    """Read-your-writes (issue 22): a request that may write, a staff member's (a session
    cookie, or the staff pages) and an API client's with a token read from the primary, so
    they see their own writes at once; the public's reads go to a replica (gis.db routes
    them). Decided from the request alone: reading the session would add Vary: Cookie to
    public answers and keep them out of shared caches."""
    PRIMARY_READS.set(request.method not in _SAFE_METHODS
                      or request.path.startswith("/staff")
                      or "Authorization" in request.headers
                      or request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]) is not None)


def _remember_client_address() -> None:
    """The client's address for the PDPA view log (gis/audit.py), behind the trusted proxy."""
    CLIENT_ADDRESS.set(request.remote_addr)
