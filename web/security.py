"""Output safety for the pages (issue 10): a strict Content-Security-Policy with a per-request
nonce, the usual security headers, and web links only from stored data.

Stored text (village names, highlights, contacts, links) comes from imports; it is escaped where
it is written out. The CSP is the second wall: a script only runs if it is one of our files or an
inline ``<script>`` carrying this response's nonce, so markup that slips into a page stays inert.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context

from gis.settings import Settings

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
REPORT_PATH = "/csp-report"
REPORT_GROUP = "csp"


def nonce() -> str:
    """This request's nonce (made on first use): every inline <script>/<style> we write has it."""
    if not has_request_context():
        return ""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source for the basemap's tile server: ``https://tile.openstreetmap.org``, with a
    ``{s}`` subdomain as a wildcard. None when there is no basemap or it is on this server."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "subdomain-placeholder"))
    if not parts.scheme or not parts.netloc:
        return None  # a relative template: tiles come from 'self'
    host = parts.netloc.replace("subdomain-placeholder", "*")
    return f"{parts.scheme}://{host}"


def policy(settings: Settings, script_nonce: str) -> str:
    """The Content-Security-Policy. Styles: our CSS file, Leaflet's, and the nonce'd <style>
    blocks Folium writes; Leaflet itself styles elements through the DOM, which CSP allows."""
    images = ["'self'", "data:"]
    tiles = tile_source(settings.tile_url)
    if tiles:
        images.append(tiles)
    images += [f"https://{host}" for host in settings.photo_hosts]
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{script_nonce}'",
        f"style-src 'self' 'nonce-{script_nonce}'",
        f"img-src {' '.join(images)}",
        "connect-src 'self'",
        "font-src 'self'",
        # The installable app (web/offline.py): its service worker and manifest are ours only.
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
        # Violations are reported to web/csp_report.py: report-to for the Reporting API
        # (with the Reporting-Endpoints header), report-uri for browsers without it.
        f"report-uri {REPORT_PATH}",
        f"report-to {REPORT_GROUP}",
    ])


def web_url(value: object) -> str | None:
    """``value`` if it is an http(s) link, else None: ``javascript:`` and ``data:`` links run
    script when clicked, and Jinja's escaping does not stop that."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return None
    return text if scheme in ("http", "https") else None


def photo_src(value: object, hosts: tuple[str, ...]) -> str | None:
    """``value`` if it is an https image on one of ``hosts`` (``*.example.org`` matches its
    subdomains), which the CSP lets the page show; else None (show it as a link instead)."""
    url = web_url(value)
    if url is None:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for allowed in hosts:
        name = allowed.split(":")[0]
        if parts.scheme == "https" and (
                host == name or (name.startswith("*.") and host.endswith(name[1:]))):
            return url
    return None


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["cddgis.settings"]
    app.add_template_filter(web_url, "web_url")
    app.add_template_filter(lambda value: photo_src(value, settings.photo_hosts), "photo_src")
    app.add_template_global(nonce, "csp_nonce")

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy(settings, nonce()))
        response.headers.setdefault("Reporting-Endpoints", f'{REPORT_GROUP}="{REPORT_PATH}"')
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
