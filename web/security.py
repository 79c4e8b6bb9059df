"""Output safety for the pages (issue 10): links from stored data are web links only.

Stored text (village names, highlights, contacts, links) comes from imports anyone at CDD can
feed; it is escaped where it is written out, never trusted to be harmless.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask


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


def init_app(app: Flask) -> None:
    app.add_template_filter(web_url, "web_url")
