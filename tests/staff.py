"""Helpers for the staff workspace tests: accounts, a signed-in test client, CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, text

from gis import accounts

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


def reset_workspace(engine: Engine, layer: str) -> Engine:
    """No accounts, uploads, imports, changes or features of ``layer``: a test's clean start."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE accounts, api_tokens, sign_in_failures, upload_jobs, "
                          "feature_changes, layer_settings, layer_imports CASCADE"))
        conn.execute(text("DELETE FROM layer_features WHERE layer = :l"), {"l": layer})
    return engine


def add_account(engine: Engine, name: str, **options: Any) -> accounts.Account:
    options.setdefault("role", "editor")
    return accounts.create_account(engine, name, password=PASSWORD, **options)


def sign_in(client: Any, name: str, password: str = PASSWORD) -> Any:
    """Signs in through the real form (GET for the token, POST); returns the POST response."""
    page = client.get("/staff/sign-in")
    return client.post("/staff/sign-in", data={"name": name, "password": password,
                                              "csrf_token": csrf_token(page.text)})
