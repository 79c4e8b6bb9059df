"""Layout, phones, language and accessibility (issue 15, items 10–12), in real Chromium.

axe-core (vendored, web/static/vendor/axe-core-*) is put in each page by the test through the
DevTools protocol (an init script), so the app never serves it and the page keeps its strict CSP:
a <script> tag with the file's text, as ``add_script_tag(path=…)`` makes, is refused by that CSP.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import text

from gis import changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.pagestate import new_view, wait_ready
from tests.serving import app_with, served
from tests.staff import PASSWORD, add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
AXE = next((ROOT / "web/static/vendor").glob("axe-core-*/axe.min.js"))
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

AXE_SERIOUS = """async () => {
  const r = await axe.run(document, { resultTypes: ["violations"] });
  return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ` +
                v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(" | "));
}"""
SETTLED = "() => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'"


def _context(browser: Browser, viewport: dict[str, int], lang: str) -> BrowserContext:
    phone = viewport["width"] < 700
    context = browser.new_context(viewport=viewport, locale="th-TH", is_mobile=phone,
                                  has_touch=phone, device_scale_factor=2 if phone else 1)
    # The language a visitor chose earlier (lang.js keeps it in localStorage).
    context.add_init_script("try { if (!localStorage.getItem('cddgis.lang')) "
                            f"localStorage.setItem('cddgis.lang', '{lang}'); }} catch (e) {{}}")
    # A trip saved earlier (trips.js): the tour's trip list, with its buttons, is checked too.
    context.add_init_script("try { if (!localStorage.getItem('cddgis.trip')) localStorage.setItem("
                            "'cddgis.trip', JSON.stringify([{id: 'A11Y-1', name_th: 'บ้านหนึ่ง', "
                            "name_en: 'Ban Nueng'}, {id: 'A11Y-2', name_th: 'บ้านสอง', "
                            "name_en: 'Ban Song'}])); } catch (e) {}")
    context.add_init_script(path=str(AXE))
    return context


@pytest.fixture(scope="module")
def village_id(live_server: str) -> str:
    with urllib.request.urlopen(f"{live_server}/api/collections/otop-tourism-villages/items"
                                "?limit=1&f=json") as r:
        return str(json.load(r)["features"][0]["id"])


def every_page(village_id: str) -> list[str]:
    """Every kind of page a visitor can open: the apps, the API's HTML, an error page."""
    return ["/", "/boundaries?district=5001", "/layers", "/layers/khok-nong-na",
            "/choropleth?indicator=nso-household-income&level=province",
            "/choropleth?indicator=nso-household-income&level=province&year=2558&compare=2549",
            "/tour", f"/tour/{village_id}", f"/tour/trip?v={village_id}", "/locator",
            "/dashboard?province=50", "/dashboard?region=north",
            "/dashboard/compare?areas=province:50,region:north",
            "/api", "/api/conformance", "/api/collections", "/api/collections/provinces",
            "/api/collections/provinces/queryables", "/api/collections/districts/items?province=50",
            "/api/collections/provinces/items/50", "/api/openapi?f=html", "/no-such-page",
            "/staff/sign-in"]


# -- issue 24: the staff workspace, signed in ---------------------------------------------------

STAFF_DB = db_name("cddgis_test_a11y_staff")
KNN = "khok-nong-na"
BROKEN_UPLOAD = ("รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,ละติจูด,ลองจิจูด\n"
                 "LC-A11Y-1,ศูนย์เรียนรู้สันทราย,2564,18.8500,99.0400\n"
                 "LC-A11Y-2,ศูนย์เรียนรู้แม่ริม,สองห้าหกสี่,18.9100,98.9400\n")


@pytest.fixture(scope="module")
def staff_site(copy_database: Callable[..., str], settings: Settings, cluster: ClusterInfo,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The app on a full copy of the data, with an administrator, an officer's import waiting
    for review and an upload whose report has a broken row: every staff page has something to
    show. Yields the server and the staff pages' paths."""
    owner = engine_for(copy_database(STAFF_DB, full=True))
    app = create_app(settings, database_url=cluster.url(database=STAFF_DB, role="app"))
    app.config["TESTING"] = True
    app_engine = engine_for(cluster.url(database=STAFF_DB, role="app"))
    changes.set_requires_approval(owner, KNN, True)
    add_account(owner, "a11y-admin", role="admin", can_approve=True, can_personal=True)
    officer = add_account(owner, "a11y-officer", provinces=["50"], layers=[KNN])
    folder = tmp_path_factory.mktemp("a11y-staff")
    plots = folder / "plots.csv"
    plots.write_text("plot_id,plot_size_rai,model_level,budget_year,lon,lat\n"
                     "A11Y-1,3,HLM,2566,98.9853,18.7883\nA11Y-2,4,HLM,2566,98.9700,18.8000\n",
                     encoding="utf-8")
    assert import_file(app_engine, LAYERS[KNN], plots, account=officer).pending == 2
    with owner.connect() as conn:
        feature = conn.execute(text("SELECT id FROM layer_features WHERE layer = :l "
                                    "ORDER BY id LIMIT 1"), {"l": KNN}).scalar_one()
    client = app.test_client()
    sign_in(client, "a11y-admin")
    upload = folder / "broken.csv"
    upload.write_text(BROKEN_UPLOAD, encoding="utf-8")
    with upload.open("rb") as fh:
        sent = client.post("/staff/upload", data={
            "layer": "learning-centers", "file": (fh, upload.name),
            "csrf_token": csrf_token(client.get("/staff/upload").text)},
            content_type="multipart/form-data")
    job = sent.headers["Location"]
    deadline = time.monotonic() + 60
    while client.get(job + "/status").get_json()["status"] != "checked":
        assert time.monotonic() < deadline
    pages = ["/staff/", "/staff/layers", f"/staff/layers/{KNN}",
             f"/staff/layers/{KNN}/{feature}", f"/staff/layers/{KNN}/new", "/staff/upload",
             urlsplit(job).path, "/staff/imports", "/staff/review", "/staff/my-changes",
             "/staff/admin/accounts", "/staff/admin/accounts/a11y-officer",
             "/staff/admin/layers", "/staff/admin/personal", "/staff/password",
             "/staff/indicators", f"/staff/layers/{KNN}/photos"]
    with served(app) as base:
        yield base, pages


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["th", "en"])
def test_axe_finds_nothing_serious_on_any_staff_page_signed_in(
        browser: Browser, staff_site: tuple[str, list[str]], viewport: dict[str, int],
        lang: str) -> None:
    """Issue 24: every staff page an administrator opens, signed in, has no serious or critical
    axe-core violation either, desktop and phone, Thai and English (the upload report with a
    row's fix form open too)."""
    base, pages = staff_site
    context = _context(browser, viewport, lang)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        page.goto(base + "/staff/sign-in")
        page.fill("input[name=name]", "a11y-admin")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("form.staff-form button[type=submit]")
        for path in pages:
            _open(page, base + path)
            assert urlsplit(page.url).path == path, page.url  # signed in: not sent away
            if violations := page.evaluate(AXE_SERIOUS):
                found[path] = violations
            if path.startswith("/staff/upload/"):
                with new_view(page, timeout=60_000):
                    page.locator(".fix-row").first.click()
                if violations := page.evaluate(AXE_SERIOUS):
                    found[path + " (fix form)"] = violations
    finally:
        context.close()
    assert found == {}


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(SETTLED, timeout=60_000)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["th", "en"])
def test_axe_finds_nothing_serious_on_any_page(browser: Browser, live_server: str,
                                               village_id: str, viewport: dict[str, int],
                                               lang: str) -> None:
    """0 serious or critical axe-core violations on every page, desktop and phone, Thai and
    English; and no page scrolls sideways on a phone."""
    context = _context(browser, viewport, lang)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    sideways: dict[str, list[int]] = {}
    try:
        for path in every_page(village_id):
            _open(page, live_server + path)
            assert page.evaluate("() => document.documentElement.lang") == lang
            if violations := page.evaluate(AXE_SERIOUS):
                found[path] = violations
            width = page.evaluate(
                "() => [document.scrollingElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1]:
                sideways[path] = width
    finally:
        context.close()
    assert found == {}
    if viewport is PHONE:
        assert sideways == {}


@pytest.mark.parametrize("lang,labels", [
    ("th", ["ขอบเขตการปกครอง", "ชั้นข้อมูล", "แผนที่ตัวชี้วัด", "แดชบอร์ดพื้นที่", "เที่ยวชุมชน",
            "ค้นหาศูนย์", "API"]),
    ("en", ["Boundaries", "Layers", "Indicators", "Dashboards", "Tour", "Locator", "API"]),
])
def test_phone_menu_reaches_every_page(browser: Browser, live_server: str, lang: str,
                                       labels: list[str]) -> None:
    """At 390 px the top bar's links sit under a menu button (aria-expanded), all of them
    reachable and inside the screen, labelled in the language chosen."""
    context = _context(browser, PHONE, lang)
    page = context.new_page()
    try:
        _open(page, f"{live_server}/choropleth")
        menu = page.locator("#menu-button")
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        links = page.locator("#site-nav a")
        expect(links.first).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        assert links.count() == len(labels)
        for i, label in enumerate(labels):
            link = links.nth(i)
            expect(link).to_be_visible()
            expect(link).to_contain_text(label)
            box = link.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        if lang == "en":  # the English alone, not the Thai beside it
            expect(links.nth(0)).to_have_text("Boundaries", use_inner_text=True)
        with page.expect_navigation():
            links.nth(5).click()
        assert urlsplit(page.url).path == "/locator"
    finally:
        context.close()


def test_no_page_disables_pinch_zoom(browser: Browser, live_server: str,
                                     village_id: str) -> None:
    """One viewport tag, and it lets people zoom (Folium's own said user-scalable=no)."""
    context = _context(browser, PHONE, "th")
    page = context.new_page()
    try:
        for path in every_page(village_id):
            _open(page, live_server + path)
            tags = page.evaluate(
                "() => [...document.querySelectorAll('meta[name=viewport]')].map(m => m.content)")
            assert tags == ["width=device-width, initial-scale=1"], path
    finally:
        context.close()


def test_subdistrict_map_is_one_tab_stop(browser: Browser, live_server: str) -> None:
    """7,425 clickable subdistricts are not 7,425 tab stops: Tab goes from the map to what
    follows it, arrow keys pan the map, and the polygons still answer a click."""
    context = _context(browser, DESKTOP, "th")
    page = context.new_page()
    try:
        # Drawn as SVG (draw=geojson), the worst case: one path per subdistrict. The default
        # nationwide drawing is from tiles, on canvases that take no focus at all.
        page.goto(f"{live_server}/choropleth?indicator=osm-poi-count&level=subdistrict"
                  "&draw=geojson")
        wait_ready(page, timeout=60_000)
        assert page.locator("path.area").count() > 7000
        the_map = page.locator(".folium-map")
        expect(the_map).to_have_attribute("tabindex", "0")
        the_map.focus()
        # Tab from the map leaves it: never into one of its polygons.
        focused = []
        for _ in range(5):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("() => document.activeElement.tagName.toLowerCase()"))
        assert "path" not in focused, focused
        expect(the_map).to_have_attribute("aria-label", "แผนที่: ลูกศรเพื่อเลื่อน, + และ − เพื่อซูม"
                                          " — Map: arrow keys pan, + and − zoom")
        the_map.focus()
        before = page.evaluate("() => cddgisCommon.pageMap().getCenter().lng")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "(before) => cddgisCommon.pageMap().getCenter().lng > before", arg=before)
        page.locator("path.area").first.dispatch_event("click")  # still clickable
    finally:
        context.close()


def test_english_mode_names_places_in_english(browser: Browser, live_server: str) -> None:
    """English chosen anywhere: the top bar is in English and the basemap writes name_en."""
    context = _context(browser, DESKTOP, "th")
    context.add_init_script("""
      window.__drawn = [];
      const fill = CanvasRenderingContext2D.prototype.fillText;
      CanvasRenderingContext2D.prototype.fillText = function (t, ...rest) {
        window.__drawn.push(String(t));
        return fill.call(this, t, ...rest);
      };""")
    page = context.new_page()
    try:
        _open(page, f"{live_server}/boundaries")
        page.wait_for_function("() => window.__drawn.includes('เชียงใหม่')")
        nav = page.locator("#site-nav a").first
        expect(nav).to_have_text("ขอบเขตการปกครอง Boundaries", use_inner_text=True)
        page.locator("[data-lang-switch]").click()
        assert page.evaluate("() => document.documentElement.lang") == "en"
        expect(nav).to_have_text("Boundaries", use_inner_text=True)
        page.wait_for_function("() => window.__drawn.includes('Chiang Mai')")
        _open(page, f"{live_server}/")  # remembered on the next page
        expect(page.locator("#go-tour")).to_contain_text("GIS tour from home")
        expect(page.locator("#go-tour strong")).to_have_text("GIS tour from home",
                                                             use_inner_text=True)
    finally:
        context.close()


HOME_LINKS = {"tour": "/tour", "choropleth": "/choropleth", "dashboard": "/dashboard",
              "boundaries": "/boundaries", "layers": "/layers", "locator": "/locator",
              "api": "/api/"}


def test_home_page_leads_every_audience_to_its_pages(page: Page, live_server: str) -> None:
    """The front door: tourists, planners and staff each find their pages, Thai with English."""
    page.goto(f"{live_server}/")
    for audience in ("สำหรับนักท่องเที่ยว", "สำหรับนักวางแผน", "สำหรับเจ้าหน้าที่"):
        expect(page.get_by_role("heading", name=audience)).to_be_visible()
    for key, path in HOME_LINKS.items():
        link = page.locator(f"#go-{key}")
        expect(link).to_be_visible()
        assert urlsplit(link.get_attribute("href") or "").path == path
    expect(page.locator("#go-tour")).to_contain_text("เที่ยวชุมชน OTOP นวัตวิถี จากบ้าน")
    expect(page.locator("#go-tour")).to_contain_text("GIS tour from home")
    page.locator("#go-locator").click()
    page.wait_for_url(f"{live_server}/locator")
    wait_ready(page)


def test_api_answers_a_browser_in_html_and_clients_in_json(page: Page,
                                                          live_server: str) -> None:
    """/api typed into a browser is the HTML landing page; GIS clients keep JSON."""
    response = page.goto(f"{live_server}/api")
    assert response and response.headers["content-type"].startswith("text/html")
    expect(page.locator("h1")).to_have_text("cddgis API")
    for accept in ("application/json", "*/*"):
        req = urllib.request.Request(f"{live_server}/api/", headers={"Accept": accept})
        with urllib.request.urlopen(req) as r:
            assert r.headers["Content-Type"].startswith("application/json")
            assert json.load(r)["title"] == "cddgis API"
    with urllib.request.urlopen(f"{live_server}/api/?f=json") as r:
        assert r.headers["Content-Type"].startswith("application/json")


# -- item 12: the internet basemap fails, ours takes over --------------------------------------

@pytest.fixture(scope="module")
def osm_server(app: Flask) -> Iterator[str]:
    """The app with the default basemap, OpenStreetMap (the tests' own app draws none)."""
    defaults = Settings.from_env({})
    with served(app_with(app, tile_url=defaults.tile_url,
                         tile_attribution=defaults.tile_attribution)) as base:
        yield base


def test_offline_the_osm_basemap_falls_back_to_ours(page: Page, osm_server: str) -> None:
    """No internet: the OpenStreetMap tiles fail, so the map says so, draws cddgis's own
    basemap (land painted, its own credits) and no longer credits OpenStreetMap."""
    leaving: list[str] = []

    def no_internet(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", no_internet)
    page.goto(f"{osm_server}/boundaries")
    wait_ready(page)
    the_map = page.locator(".folium-map")
    expect(the_map).to_have_attribute("data-basemap", "offline")
    assert any("tile.openstreetmap.org" in u for u in leaving)
    expect(page.locator(".basemap-note")).to_be_visible()
    expect(page.locator(".basemap-note")).to_contain_text("OpenStreetMap")
    attribution = page.locator(".leaflet-control-attribution")
    expect(attribution).to_contain_text("GeoThai")
    expect(attribution).not_to_contain_text("OpenStreetMap")
    expect(the_map).to_have_class(re.compile(r"\boffline-basemap\b"))
    page.wait_for_function("() => window.cddgisBasemap && window.cddgisBasemap._map")


def test_a_network_that_drops_tile_requests_falls_back_too(phone: Page, osm_server: str) -> None:
    """Issue 24: a firewall that drops requests (no answer, no refusal) left the map grey for
    minutes, crediting OpenStreetMap. Now the map falls back when no tile has loaded after a
    few seconds, keeps OpenStreetMap in the layer control, and the note can be closed on a
    phone-sized map, and stays closed."""
    held: list[Route] = []

    def dropped(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            held.append(route)  # never answered, never refused

    page = phone
    page.route("**/*", dropped)
    page.goto(f"{osm_server}/boundaries")
    wait_ready(page)
    the_map = page.locator(".folium-map")
    expect(the_map).to_have_attribute("data-basemap", "offline", timeout=30_000)
    assert any("tile.openstreetmap.org" in r.request.url for r in held)
    expect(page.locator(".leaflet-control-attribution")).not_to_contain_text("OpenStreetMap")
    # The layer control still offers OpenStreetMap, for when the network answers again.
    expect(page.locator(".leaflet-control-layers-base")).to_contain_text("Basemap")
    note = page.locator(".basemap-note")
    expect(note).to_be_visible()
    close = note.get_by_role("button", name=re.compile("Close"))
    close.tap()
    expect(page.locator(".basemap-note")).to_have_count(0)
    # Closed once, it stays closed on the next map page (the map still falls back).
    page.goto(f"{osm_server}/boundaries")
    wait_ready(page)
    expect(page.locator(".folium-map")).to_have_attribute("data-basemap", "offline",
                                                          timeout=30_000)
    expect(page.locator(".basemap-note")).to_have_count(0)


def test_online_the_osm_basemap_stays(page: Page, osm_server: str) -> None:
    """Tiles that load keep OpenStreetMap as the base (served here by a stand-in tile)."""
    tile = (ROOT / "web/static/vendor/leaflet-1.9.3/images/marker-shadow.png").read_bytes()

    def stand_in(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.fulfill(status=200, content_type="image/png", body=tile)

    page.route("**/*", stand_in)
    page.goto(f"{osm_server}/boundaries")
    wait_ready(page)
    page.wait_for_function("() => document.querySelector('.leaflet-tile-loaded')")
    expect(page.locator(".folium-map")).to_have_attribute("data-basemap", "raster")
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap")
    assert page.locator(".basemap-note").count() == 0


def test_map_credit_links_are_underlined_on_folium_pages(page: Page, live_server: str) -> None:
    """Folium pages load leaflet.css after app.css, and Leaflet's own rule takes the underline
    off the credit links; axe flagged it (link-in-text-block) whenever the credits held text."""
    for path in ("/locator", "/boundaries", "/choropleth"):
        page.goto(f"{live_server}{path}")
        wait_ready(page)
        decoration = page.evaluate("""() => getComputedStyle(
            document.querySelector('.leaflet-control-attribution a')).textDecorationLine""")
        assert decoration == "underline", (path, decoration)
