"""Content-Security-Policy violation reports (issue 25, item 9).

Browsers POST a report when the policy (web/security.py) refuses something: the old
``report-uri`` form (``application/csp-report``, one ``{"csp-report": {…}}``) and the Reporting
API's ``report-to`` form (``application/reports+json``, a list of ``{"type": "csp-violation",
"body": {…}}``). Each violation becomes one log line (logger ``cddgis.csp``) with the directive,
the blocked URI and the page, each without query string or fragment; nothing else of the report
(not the user agent, not a script sample) is kept. Bodies are small (``MAX_BYTES``), a batch
gives at most ``MAX_PER_BODY`` lines, and each process takes at most ``PER_MINUTE`` reports a
minute (a token bucket; more answer 429). The proxy limits each address as well.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue

from web.security import REPORT_PATH as PATH

TYPES = ("application/csp-report", "application/reports+json", "application/json")
MAX_BYTES = 64 * 1024
MAX_PER_BODY = 10
PER_MINUTE = 60
FIELD_CHARS = 200

log = logging.getLogger("cddgis.csp")
csp_report = Blueprint("csp_report", __name__)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``take()`` spends one if there is one."""

    def __init__(self, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60, burst, clock
        self.tokens, self.at = float(burst), clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


def _clean(value: object) -> str:
    """A URL without query or fragment (they may hold what someone typed), or a keyword
    (``inline``, ``eval``); one printable line, at most FIELD_CHARS."""
    text = str(value or "-")
    try:
        parts = urlsplit(text)
        if parts.scheme in ("http", "https", "ws", "wss"):
            text = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    except ValueError:
        pass
    return _UNPRINTABLE.sub("?", text)[:FIELD_CHARS]


def _violations(doc: object) -> list[tuple[str, str, str]]:
    """(directive, blocked URI, page) of each violation the body holds, either form."""
    found: list[tuple[object, object, object]] = []
    if isinstance(doc, dict) and isinstance(doc.get("csp-report"), dict):
        r = doc["csp-report"]
        found.append((r.get("effective-directive") or r.get("violated-directive"),
                      r.get("blocked-uri"), r.get("document-uri")))
    elif isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict) and item.get("type") == "csp-violation" \
                    and isinstance(item.get("body"), dict):
                b = item["body"]
                found.append((b.get("effectiveDirective"), b.get("blockedURL"),
                              b.get("documentURL") or item.get("url")))
    return [(_clean(d), _clean(u), _clean(p)) for d, u, p in found]


def _refuse(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@csp_report.post(PATH)
def receive() -> ResponseReturnValue:
    if request.mimetype not in TYPES:
        return _refuse(415, f"a CSP report is one of {', '.join(TYPES)}")
    if request.content_length is not None and request.content_length > MAX_BYTES:
        return _refuse(413, f"a CSP report is at most {MAX_BYTES} bytes")
    raw = request.stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return _refuse(413, f"a CSP report is at most {MAX_BYTES} bytes")
    bucket: TokenBucket = current_app.extensions["cddgis.csp_reports"]
    if not bucket.take():
        return _refuse(429, "too many CSP reports; try later")
    try:
        doc = json.loads(raw)
    except ValueError:
        return _refuse(400, "a CSP report is JSON")
    for directive, blocked, page in _violations(doc)[:MAX_PER_BODY]:
        log.warning("CSP violation: directive=%s blocked=%s page=%s", directive, blocked, page)
    return Response(status=204)


def init_app(app: Flask) -> None:
    app.extensions["cddgis.csp_reports"] = TokenBucket(PER_MINUTE, burst=PER_MINUTE)
    app.register_blueprint(csp_report)
