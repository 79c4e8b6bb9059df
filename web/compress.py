"""Gzip for JSON, CSV, HTML, JS and CSS responses, for deployments with no reverse proxy in front.

A province's plots are about 1 MB of GeoJSON and under 200 kB gzipped; on a provincial office's
connection that difference is the page. Static files (the vendored map renderer, charts and
fonts' CSS) are compressed once per file version and kept in memory.
"""

from __future__ import annotations

import gzip
import os
from functools import lru_cache

from flask import Flask, Response, request
from werkzeug.security import safe_join

COMPRESSIBLE = ("application/json", "application/geo+json", "text/csv", "text/html",
                "text/css", "text/javascript", "application/javascript", "image/svg+xml")
MIN_BYTES = 1024


@lru_cache(maxsize=128)
def _gzipped_file(path: str, mtime: float) -> bytes:
    """A static file gzipped at the highest level, once per version (``mtime`` keys it)."""
    with open(path, "rb") as fh:
        return gzip.compress(fh.read(), compresslevel=9)


def _static_gzip(app: Flask, response: Response) -> Response:
    filename = (request.view_args or {}).get("filename")
    path = safe_join(app.static_folder or "", filename) if filename else None
    if path is None or not os.path.isfile(path):
        return response
    response.direct_passthrough = False
    response.set_data(_gzipped_file(path, os.path.getmtime(path)))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.get_data()))
    if response.headers.get("ETag", "").startswith('"'):  # same content, another encoding
        response.headers["ETag"] = "W/" + response.headers["ETag"]
    response.vary.add("Accept-Encoding")
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def _gzip(response: Response) -> Response:
        if (response.direct_passthrough and request.endpoint == "static"
                and response.status_code == 200 and response.mimetype in COMPRESSIBLE
                and "Content-Encoding" not in response.headers
                and "gzip" in request.headers.get("Accept-Encoding", "").lower()):
            return _static_gzip(app, response)
        if (response.direct_passthrough or response.status_code < 200
                or response.status_code >= 300 or "Content-Encoding" in response.headers
                or response.mimetype not in COMPRESSIBLE
                or "gzip" not in request.headers.get("Accept-Encoding", "").lower()):
            return response
        data = response.get_data()
        if len(data) < MIN_BYTES:
            return response
        response.set_data(gzip.compress(data, compresslevel=5))
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Content-Length"] = str(len(response.get_data()))
        response.vary.add("Accept-Encoding")
        return response
