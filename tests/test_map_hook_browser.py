"""The hook page scripts find their map by (web/maps.py MapHook; docs/architecture.md, "Maps on
pages"), in Chromium: on every map page, public and staff, ``cddgis:map-ready`` fires once with
the page's Leaflet map, ``cddgisCommon.pageMap()`` returns that same map, and the page's own
script has drawn on it; the maps page scripts make by hand start from the shared view."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.pagestate import wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account
from tests.workers import db_name
from web import create_app

pytestmark = pytest.mark.browser

DB = db_name("cddgis_test_map_hook")
LAYER = "learning-centers"
PUBLIC = ("/boundaries", "/layers", "/layers/khok-nong-na", "/choropleth", "/tour",
          "/tour/{village}", "/locator")
STAFF = (f"/staff/layers/{LAYER}", f"/staff/layers/{LAYER}/new",
         f"/staff/layers/{LAYER}/{{feature}}", "/staff/review")

# Installed before any page script: records each map-ready event as it fires.
LISTENER = """
window.__mapReady = [];
document.addEventListener("cddgis:map-ready", (e) => window.__mapReady.push(e.detail));
"""
SEEN = """() => ({
  events: window.__mapReady.map((d) => [d.name, d.map instanceof L.Map]),
  same: window.__mapReady.length === 1 && window.__mapReady[0].map === cddgisCommon.pageMap(),
  layers: (() => { let n = 0; cddgisCommon.pageMap().eachLayer(() => { n += 1; }); return n; })(),
})"""


def _check(page: Page, url: str) -> None:
    page.goto(url)
    wait_ready(page, timeout=60_000)
    seen = page.evaluate(SEEN)
    assert seen["events"] == [["page", True]], url
    assert seen["same"], url
    assert seen["layers"] >= 1, url  # the page's script found the map and drew on it
    assert page.js_errors == [], url


@pytest.fixture(scope="module")
def village(app: Flask) -> str:
    with app.test_client() as client:
        items = client.get("/api/collections/otop-tourism-villages/items?limit=1").get_json()
    return str(items["features"][0]["id"])


def test_hook_fires_on_every_public_map_page(page: Page, live_server: str, village: str) -> None:
    page.context.add_init_script(LISTENER)
    for path in PUBLIC:
        _check(page, live_server + path.format(village=village))


@pytest.fixture(scope="module")
def staff_server(settings: Settings, cluster: ClusterInfo,
                 copy_database: Callable[..., str]) -> Iterator[tuple[str, Engine]]:
    engine = engine_for(copy_database(DB, full=True))
    add_account(engine, "hook-admin", role="admin")
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    with served(app) as base:
        yield base, engine


def test_hook_fires_on_every_staff_map_page(page: Page, staff_server: tuple[str, Engine]) -> None:
    base, engine = staff_server
    with engine.connect() as conn:
        feature = conn.execute(text("SELECT min(id) FROM layer_features WHERE layer = :l"),
                               {"l": LAYER}).scalar_one()
    page.goto(base + "/staff/sign-in")
    page.fill("input[name=name]", "hook-admin")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url(lambda url: "/staff/sign-in" not in url)
    page.context.add_init_script(LISTENER)
    for path in STAFF:
        _check(page, base + path.format(feature=feature))


def test_hand_made_map_draws(page: Page, live_server: str) -> None:
    """The API's item page draws its map with cddgisCommon.handMap() (the shared first view,
    then the feature: a province, fitted), with the page's CSP."""
    page.goto(live_server + "/api/collections/provinces/items/50")
    # A function, not a bare expression: Playwright polls a bare expression with eval(), which
    # the page's CSP refuses whenever the map is not drawn at the first look.
    page.wait_for_function("() => document.getElementById('api-map').dataset.drawn === '1'")
    assert page.evaluate("document.querySelectorAll('#api-map .leaflet-interactive').length") == 1
    assert page.js_errors == []
