"""CORS for the open API: any site's browser code may read it.

The API is public and read-only for anonymous callers, and sends no cookies or credentials, so
``Access-Control-Allow-Origin: *`` is safe; pages (``/`` outside ``/api``) get no CORS headers.
"""

from __future__ import annotations

from flask import Flask, Response, request

# Headers a client's script may read: caching, paging and CRS.
EXPOSED = "ETag, Link, Content-Crs, Content-Disposition, X-Tile-Cache"
ALLOWED_REQUEST_HEADERS = "Accept, Accept-Language, Content-Type, If-None-Match, If-Match"


def init_app(app: Flask) -> None:
    @app.after_request
    def allow_cross_origin(response: Response) -> Response:
        if request.path.startswith("/api"):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
            if request.method == "OPTIONS":  # a preflight (e.g. If-None-Match from a script)
                response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
                response.headers["Access-Control-Max-Age"] = "86400"
            response.vary.add("Origin")
        return response
