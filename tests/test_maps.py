"""Every map page's Folium map, as served (web/maps.py; docs/architecture.md, "Maps on pages"):
it loads nothing from outside the app, writes no zoom-locking viewport tag, carries the
response's nonce on every inline tag, and registers the one hook the page scripts use. The
public pages and the staff workspace's map pages (signed in as an admin) are all checked: a
plugin that brings its own CDN list, a template that drops the nonce or a page built without
the helper fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.staff import add_account, sign_in
from tests.workers import db_name
from web import create_app, maps

DB = db_name("cddgis_test_maps")
LAYER = "learning-centers"
PUBLIC_MAP_PAGES = ("/boundaries", "/layers", "/layers/khok-nong-na", "/choropleth", "/tour",
                    "/tour/{village}", "/tour/trip?v={village}", "/locator")
STAFF_MAP_PAGES = (f"/staff/layers/{LAYER}", f"/staff/layers/{LAYER}/new",
                   f"/staff/layers/{LAYER}/{{feature}}", "/staff/review")
COMMON_JS = Path(__file__).parents[1] / "web" / "static" / "js" / "common.js"


class _Tags(HTMLParser):
    """The page's <script>, <style>, <link> and <meta name=viewport> tags, with their attributes
    (and whether a script has inline text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "link", "meta"):
            self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _check_map_page(response: TestResponse, path: str) -> None:
    """Every rule below, each failure named (one broken rule does not hide another)."""
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    found = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert found, path
    page_nonce = found[1]
    tags = _tags(html)
    problems: list[str] = []
    # Nothing from elsewhere: every script and stylesheet is a path on this server.
    for tag, attrs in tags:
        loads = tag == "link" and attrs.get("rel") not in ("canonical", "alternate")
        url = attrs.get("src") if tag == "script" else attrs.get("href") if loads else None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not url.startswith("/"):
                problems.append(f"loads {url} from elsewhere")
    # One viewport tag, base.html's, which lets people zoom; none from Folium.
    viewports = [a.get("content") for t, a in tags if t == "meta" and a.get("name") == "viewport"]
    if viewports != ["width=device-width, initial-scale=1"]:
        problems.append(f"viewport tags {viewports}")
    # Every inline <script> (not JSON data) and every <style> carries this response's nonce.
    inline = [(t, a) for t, a in tags if (t == "style" or (t == "script" and "src" not in a
                                                          and a.get("type") != "application/json"))]
    if len([t for t, _ in inline if t == "style"]) < 3:  # Folium's, through PageMap
        problems.append("Folium's <style> blocks are missing")
    problems += [f"<{t}> without this response's nonce: {a}" for t, a in inline
                 if a.get("nonce") != page_nonce]
    # The hook, once, in the map's own script; Folium's generated name is not handed out.
    if html.count('window.cddgisMaps = window.cddgisMaps || {})["page"]') != 1:
        problems.append("no window.cddgisMaps.page")
    if html.count('new CustomEvent("cddgis:map-ready"') != 1:
        problems.append("no cddgis:map-ready event")
    if "mapName" in html:
        problems.append("the page config still hands out Folium's map name")
    assert problems == [], (path, problems)


@pytest.fixture(scope="module")
def village(client_module: FlaskClient) -> str:
    items = client_module.get("/api/collections/otop-tourism-villages/items?limit=1").get_json()
    return str(items["features"][0]["id"])


@pytest.fixture(scope="module")
def client_module(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize("path", PUBLIC_MAP_PAGES)
def test_public_map_page(client_module: FlaskClient, village: str, path: str) -> None:
    url = path.format(village=village)
    _check_map_page(client_module.get(url), url)


def test_the_plain_map_is_rendered_once_and_each_response_has_its_nonce(
        client_module: FlaskClient) -> None:
    """Folium built the same map on every request (issue 26: a quarter of ``/tour``); the
    pages whose map holds nothing of their own now share one rendering per process, and each
    response still carries its own nonce on every inline tag."""
    first, second = (client_module.get("/choropleth") for _ in range(2))
    _check_map_page(first, "/choropleth")
    _check_map_page(second, "/choropleth")
    html = [r.get_data(as_text=True) for r in (first, second)]
    nonces = [re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"])[1]  # type: ignore[index]
              for r in (first, second)]
    assert nonces[0] != nonces[1]
    names = [set(re.findall(r"\bmap_[0-9a-f]{32}\b", h)) for h in html]
    assert names[0] and names[0] == names[1]  # the same rendering, not a new one
    assert html[0].replace(nonces[0], "N") == html[1].replace(nonces[1], "N")
    tour = client_module.get("/tour").get_data(as_text=True)
    assert names[0] <= set(re.findall(r"\bmap_[0-9a-f]{32}\b", tour))  # shared by the pages
    assert len(maps._PLAIN) <= maps.PLAIN_MAX


@pytest.fixture(scope="module")
def staff_engine(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB, full=True))


@pytest.fixture(scope="module")
def staff_client(settings: Settings, cluster: ClusterInfo, staff_engine: Engine) -> FlaskClient:
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    add_account(staff_engine, "maps-admin", role="admin")
    client = app.test_client()
    assert sign_in(client, "maps-admin").status_code in (302, 303)
    return client


@pytest.mark.parametrize("path", STAFF_MAP_PAGES)
def test_staff_map_page(staff_client: FlaskClient, staff_engine: Engine, path: str) -> None:
    with staff_engine.connect() as conn:
        feature = conn.execute(text("SELECT min(id) FROM layer_features WHERE layer = :l"),
                               {"l": LAYER}).scalar_one()
    url = path.format(feature=feature)
    _check_map_page(staff_client.get(url), url)


def test_export_carries_leaflet_and_the_hook(client_module: FlaskClient) -> None:
    """The standalone export links no file at all (Leaflet is inside it) and has no viewport
    tag either."""
    response = client_module.get("/choropleth/export.html?indicator=nso-household-income"
                                 "&level=province&classify=quantiles&k=5")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tags = _tags(html)
    assert not [a for t, a in tags
                if a.get("src") or (t == "link" and a.get("rel") == "stylesheet")]
    assert not [a for t, a in tags if t == "meta" and a.get("name") == "viewport"]
    assert "L.map(" in html and "window.cddgisMaps" in html
    leaflet = (Path(maps.__file__).parent / "static" / maps.VENDORED_JS["leaflet"]).read_text(
        encoding="utf-8")
    assert leaflet[:2000] in html


def test_hand_made_maps_share_the_defaults() -> None:
    """common.js handMap() starts where page_map() does (the maps page scripts make by hand)."""
    source = COMMON_JS.read_text(encoding="utf-8")
    found = re.search(r"const MAP_DEFAULTS = (\{.*?\});", source)
    assert found, "common.js has no MAP_DEFAULTS"
    defaults = json.loads(re.sub(r"(\w+):", r'"\1":', found[1]))
    assert defaults == {"bounds": maps.THAILAND_BOUNDS, "basemapMaxZoom": maps.BASEMAP_MAX_ZOOM}
