"""Gzip for JSON, CSV, HTML and JS responses, for deployments with no reverse proxy in front.

A province's plots are about 1 MB of GeoJSON and under 200 kB gzipped; on a provincial office's
connection that difference is the page.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

COMPRESSIBLE = ("application/json", "application/geo+json", "text/csv", "text/html",
                "text/css", "text/javascript", "application/javascript", "image/svg+xml")
MIN_BYTES = 1024


def init_app(app: Flask) -> None:
    @app.after_request
    def _gzip(response: Response) -> Response:
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
