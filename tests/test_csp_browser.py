"""Content-Security-Policy (issue 10): every page loads and works in Chromium with no violation,
and every response carries the security headers."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from tests.pagestate import wait_ready

pytestmark = pytest.mark.browser

PAGES = ("/", "/boundaries", "/layers", "/layers/khok-nong-na", "/choropleth", "/tour",
         "/tour/{village}", "/tour/trip?v={village}", "/locator", "/locator?at=16.44,102.83")


def _violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations") + page.csp_refusals


@pytest.fixture(scope="module")
def village(live_server: str, app) -> str:
    with app.test_client() as client:
        return client.get("/api/collections/otop-tourism-villages/items?limit=1").get_json()[
            "features"][0]["id"]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_with_no_csp_violation(page: Page, live_server: str, village: str,
                                          path: str) -> None:
    response = page.goto(live_server + path.format(village=village))
    if path == "/":
        expect(page.locator("body")).to_have_attribute("data-state", "ready")  # no script
    else:
        wait_ready(page)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    if path != "/":
        # The map is drawn (Folium's nonce'd script ran) and the page script reached "ready".
        assert page.locator(".leaflet-container").count() == 1
    assert _violations(page) == []
    assert page.js_errors == []


def test_the_listener_sees_a_violation(page: Page, live_server: str) -> None:
    """The check above can fail: markup that sneaks in is refused, and reported."""
    page.goto(f"{live_server}/boundaries")
    wait_ready(page)
    page.evaluate("""() => document.body.insertAdjacentHTML(
        'beforeend', '<img src="data:," onload="window.__ran = 1" style="color:red">')""")
    page.wait_for_function("() => window.__cspViolations.length >= 2")
    assert page.evaluate("window.__ran") is None


def test_headers_on_every_response(client: FlaskClient) -> None:
    for path in ("/", "/api", "/api/collections/provinces/items?limit=1",
                 "/static/js/common.js", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
                          "base-uri 'none'", "object-src 'none'", "form-action 'self'",
                          "img-src 'self' data:"):
            assert directive in csp, (path, directive)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path


def test_each_response_has_its_own_nonce(client: FlaskClient) -> None:
    import re

    nonces = []
    for _ in range(2):
        response = client.get("/boundaries")
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])[1]
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts), scripts
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
