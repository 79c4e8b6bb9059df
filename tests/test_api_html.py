"""HTML for every API resource (f=html, or a browser's Accept), linked together, Thai and
English, and a small map that draws the page's features in real Chromium."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import expect

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path", [
    "/api/", "/api/conformance", "/api/collections", "/api/collections/provinces",
    "/api/collections/khok-nong-na", "/api/collections/khok-nong-na/queryables",
    "/api/collections/districts/items?province=50", "/api/collections/khok-nong-na/items",
    "/api/collections/districts/items/5001", "/api/openapi",
])
def test_every_resource_has_html_for_a_browser(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code == 200, path
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'href="/api/?f=html"' in html  # the way back to the landing page
    assert re.search(r"<script>|\son\w+=", html) is None  # no inline scripts or handlers
    # f=json wins over Accept, and a client that says nothing gets JSON.
    with_f = path + ("&" if "?" in path else "?") + "f=json"
    assert client.get(with_f, headers={"Accept": BROWSER}).mimetype != "text/html"
    assert client.get(path).mimetype != "text/html"


def test_items_table_links_pages_and_features(client: FlaskClient) -> None:
    html = client.get("/api/collections/districts/items?province=50&limit=10&f=html").get_data(
        as_text=True)
    assert "เมืองเชียงใหม่" in html and "Mueang Chiang Mai" in html
    assert "จาก <span class=\"en\">of</span> 25" in html
    assert 'href="/api/collections/districts/items/5001?f=html"' in html
    assert 'rel="next"' in html and "cursor=" in html
    collection = client.get("/api/collections/khok-nong-na?f=html").get_data(as_text=True)
    assert "plot_size_rai" in collection and "owner_name" not in collection
    assert "คุณสมบัติที่ค้นได้" in collection and "Queryables" in collection


def test_html_escapes_what_it_shows(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items?f=html&limit=1&province=10"
                          "&x=<script>alert(1)</script>")
    assert response.status_code == 400  # unknown parameter, answered as JSON under /api
    page = client.get("/api/collections/provinces/items?f=html&properties=name_th&limit=2"
                      ).get_data(as_text=True)
    assert "<script>alert" not in page


@pytest.mark.browser
def test_items_page_draws_its_features_on_a_map(page, live_server: str) -> None:
    page.goto(f"{live_server}/api/collections/learning-centers/items?province=50&limit=20")
    expect(page.locator("h1")).to_contain_text("ศูนย์เรียนรู้")
    expect(page.locator("#api-map")).to_have_attribute("data-drawn", "20")
    expect(page.locator("#api-map .leaflet-interactive")).to_have_count(20)
    page.locator("tbody a").first.click()
    expect(page.locator("#api-map")).to_have_attribute("data-drawn", "1")
    assert page.js_errors == []
