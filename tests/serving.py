"""The app served over real HTTP on a free loopback port, in a thread, for tests that need a
server (browsers, urllib, GDAL): one way of doing it for every test module."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.serving import make_server

from web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@contextmanager
def served(app: Flask | WSGIApplication) -> Iterator[str]:
    """``app`` on 127.0.0.1 until the block ends; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def served_counting(app: Flask) -> Iterator[tuple[str, list[str]]]:
    """``app`` served as ``served`` does, with every request's path and query string kept in
    the order they arrived: a client's own requests are what show how it pages and whether a
    filter reached the server (a client's debug log is not the same across versions)."""
    seen: list[str] = []

    def counting(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        seen.append(environ["PATH_INFO"] + (f"?{query}" if query else ""))
        return app(environ, start_response)

    with served(counting) as base:
        yield base, seen


def app_with(app: Flask, **changes: Any) -> Flask:
    """Another app on the same database as ``app``, with these settings changed (as an
    operator would set them in the environment)."""
    settings = dataclasses.replace(app.extensions["cddgis.settings"], **changes)
    other = create_app(settings, database_url=app.extensions["cddgis.engine"].url.render_as_string(
        hide_password=False))
    other.config["TESTING"] = True
    return other
