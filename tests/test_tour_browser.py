"""The tour page on a phone, and the locator, in headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import Engine, text

from tests.pagestate import new_view, wait_ready
from tests.workers import db_name

pytestmark = pytest.mark.browser


def test_tour_on_a_phone_filters_by_province(phone: Page, live_server: str,
                                            engine: Engine) -> None:
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    with engine.connect() as conn:
        total, in_nan = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE province_code = '55') FROM layer_features "
            "WHERE layer = 'otop-tourism-villages'")).one()
    expect(phone.locator("#count")).to_have_attribute("data-value", str(total))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll

    with new_view(phone):
        phone.select_option("#t-province", "55")
    expect(phone.locator("#count")).to_have_attribute("data-value", str(in_nan))
    items = phone.locator("#village-list li")
    assert items.count() == min(30, in_nan)
    for text_ in items.all_inner_texts():
        assert "จ.น่าน" in text_
    assert "province=55" in phone.url
    # The map went to Nan by the time the page said ready (and no late animation undid it).
    assert phone.evaluate("cddgisCommon.pageMap().getZoom()") >= 7
    assert phone.js_errors == []


def test_language_switch_is_remembered(phone: Page, live_server: str) -> None:
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    heading = phone.locator("main h1")
    expect(heading).to_have_text("เที่ยวชุมชน OTOP นวัตวิถี จากบ้าน")
    phone.click("#lang")
    expect(heading).to_have_text("GIS tour from home: OTOP Nawatwithi villages")
    phone.reload()
    wait_ready(phone)
    expect(heading).to_have_text("GIS tour from home: OTOP Nawatwithi villages")
    expect(phone.locator("#near-me")).to_have_text("Near me")


def test_locator_lists_the_centers_nearest_a_clicked_point(page: Page,
                                                           live_server: str) -> None:
    page.goto(f"{live_server}/locator")
    wait_ready(page)
    point = page.evaluate("""() => {
        const map = cddgisCommon.pageMap();
        map.setView([16.44, 102.83], 9, {animate: false});  // Khon Kaen
        const p = map.latLngToContainerPoint([16.44, 102.83]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""")
    with new_view(page):
        page.mouse.click(*point)
    at = parse_qs(urlparse(page.url).query)["at"][0]
    lat, lon = (float(v) for v in at.split(","))
    assert abs(lat - 16.44) < 0.01 and abs(lon - 102.83) < 0.01
    shown = page.eval_on_selector_all("#results li", "els => els.map(e => [e.dataset.id, "
                                                     "Number(e.dataset.km)])")
    assert len(shown) == 5
    with urllib.request.urlopen(f"{live_server}/api/collections/learning-centers/items?"
                                f"near={lon},{lat}&limit=5") as response:
        expected = json.load(response)["features"]
    assert [s[0] for s in shown] == [f["id"] for f in expected]
    assert [s[1] for s in shown] == sorted(s[1] for s in shown)
    assert page.locator(".cddgis-rank").count() == 5
    csv_href = page.locator("#csv").get_attribute("href")
    assert "f=csv" in csv_href and "near=" in csv_href

    with new_view(page):
        page.check("input[name=layer][value=volunteer-centers]")
    assert all(i.startswith("VC-") for i in page.eval_on_selector_all(
        "#results li", "els => els.map(e => e.dataset.id)"))
    assert page.js_errors == []


def test_locator_resolves_a_place_name(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/locator")
    wait_ready(page)
    page.fill("#from", "ต.ศรีภูมิ")
    with new_view(page):
        page.locator("#place-results button", has_text="จ.เชียงใหม่").click()
    expect(page.locator("#origin")).to_contain_text("ศรีภูมิ")
    first_km = float(page.locator("#results li").first.get_attribute("data-km"))
    assert first_km < 30


def test_locator_offers_the_chosen_layers_yes_no_filters(page: Page, live_server: str) -> None:
    """The "only …" boxes come from the declaration: learning centers' `ready`, none for
    volunteer centers (issue 9)."""
    page.goto(f"{live_server}/locator?at=16.44,102.83&layer=learning-centers")
    wait_ready(page)
    only = page.locator(".only-filter:visible")
    expect(only).to_have_count(1)
    expect(only).to_contain_text("พร้อมเป็นแหล่งเรียนรู้")
    with new_view(page):
        only.locator("input").check()
    assert "ready=true" in page.locator("#csv").get_attribute("href")
    details = page.locator("#results li").all_inner_texts()
    assert details and all("พร้อมเป็นแหล่งเรียนรู้" in d and "ยังไม่พร้อม" not in d
                           for d in details)

    with new_view(page):
        page.check("input[name=layer][value=volunteer-centers]")
    expect(page.locator(".only-filter:visible")).to_have_count(0)
    assert "ready=" not in page.locator("#csv").get_attribute("href")


# --- issue 15: what a first-time tourist stumbled on ------------------------------------------

TOUR = "otop-tourism-villages"


def _village_id(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT key FROM layer_features WHERE layer = :l AND name = :n"),
                            {"l": TOUR, "n": name}).scalar_one()


def _list_names(page: Page) -> list[str]:
    return page.eval_on_selector_all("#village-list li a", "els => els.map(e => e.textContent)")


@pytest.fixture
def desktop(browser):
    """The issue's desktop: 1366×768."""
    context = browser.new_context(locale="th-TH", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    yield page
    context.close()


def test_village_page_opens_on_the_village(desktop: Page, live_server: str,
                                           engine: Engine) -> None:
    """Item 1: zoomed on the village (not a lone dot at country zoom), its subdistrict and
    district outlined, nearby tourism villages and other layers' points, directions links."""
    key = _village_id(engine, "บ้านแม่ก๊ะเหนือ")
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM layer_features "
                                     "WHERE layer = :l AND key = :k"), {"l": TOUR, "k": key}).one()
    desktop.goto(f"{live_server}/tour/{key}")
    wait_ready(desktop)
    view = desktop.evaluate("""() => { const m = cddgisCommon.pageMap(); const b = m.getBounds();
        return {zoom: m.getZoom(), w: b.getWest(), e: b.getEast(), s: b.getSouth(),
                n: b.getNorth()}; }""")
    assert view["zoom"] >= 11, view
    assert view["w"] < lon < view["e"] and view["s"] < lat < view["n"]
    expect(desktop.locator("path.cddgis-outline-subdistricts")).to_have_count(1)
    expect(desktop.locator("path.cddgis-outline-districts")).to_have_count(1)
    expect(desktop.locator("path.cddgis-neighbour")).to_have_count(5)
    assert desktop.locator("path.cddgis-nearby").count() > 0  # learning centres, plots, …
    # The legend's dots are the markers' colours (issue 24: they did not match).
    def key_fill(key: str) -> str:
        return str(desktop.locator(f'#map-key [data-key="{key}"] circle')
                   .get_attribute("fill")).lower()

    def marker_fills(cls: str) -> set[str]:
        return set(desktop.locator(f"path.{cls}").evaluate_all(
            "(ps) => ps.map((p) => p.getAttribute('fill').toLowerCase())"))

    assert marker_fills("cddgis-village") == {key_fill("village")}
    assert marker_fills("cddgis-neighbour") == {key_fill("neighbour")}
    other_keys = desktop.locator("#map-key [data-key] circle").evaluate_all(
        "(cs) => cs.map((c) => c.getAttribute('fill').toLowerCase())")
    assert marker_fills("cddgis-nearby") <= set(other_keys)
    href = desktop.locator("#directions").get_attribute("href")
    assert href.startswith("https://www.google.com/maps/dir/")
    assert f"{lat:.6f}%2C{lon:.6f}" in href
    assert f"{lat:.6f}%2C{lon:.6f}" in desktop.locator("#directions-osm").get_attribute("href")
    assert desktop.js_errors == []


def test_village_page_shares_with_a_preview_image(desktop: Page, live_server: str,
                                                  engine: Engine) -> None:
    """LINE/Facebook share: Open Graph and Twitter tags with an absolute PNG the app draws,
    share links that open LINE and Facebook; the page itself loads nothing from elsewhere."""
    key = _village_id(engine, "บ้านแม่ก๊ะเหนือ")
    hosts: set[str] = set()
    desktop.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    desktop.goto(f"{live_server}/tour/{key}")
    wait_ready(desktop)
    meta = desktop.eval_on_selector_all(
        "meta[property^='og:'], meta[name^='twitter:']",
        "els => Object.fromEntries(els.map(e => [e.getAttribute('property') || "
        "e.getAttribute('name'), e.content]))")
    assert meta["og:title"].startswith("บ้านแม่ก๊ะเหนือ")
    assert meta["og:url"] == f"{live_server}/tour/{key}"
    assert meta["twitter:card"] == "summary_large_image"
    image = meta["og:image"]
    assert image == meta["twitter:image"] and image.startswith(live_server + "/")
    with urllib.request.urlopen(image) as response:
        assert response.headers["Content-Type"] == "image/png"
        png = response.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1200 and int.from_bytes(png[20:24], "big") == 630
    line = desktop.locator("#share-line").get_attribute("href")
    facebook = desktop.locator("#share-facebook").get_attribute("href")
    assert line.startswith("https://social-plugins.line.me/lineit/share?url=")
    assert facebook.startswith("https://www.facebook.com/sharer/sharer.php?u=")
    for href in (line, facebook):
        assert next(iter(parse_qs(urlparse(href).query).values())) == [meta["og:url"]]
    assert hosts == {urlparse(live_server).netloc}


@pytest.mark.parametrize("typed", ["แม่กะเหนือ", "แม่กาเหนือ", "Mae Ka Nuea", "ban mae ka nuea"])
def test_search_forgives_slips_and_english(phone: Page, live_server: str, typed: str) -> None:
    """Item 5: a missing tone mark, a vowel slip (า for ะ) and RTGS find บ้านแม่ก๊ะเหนือ first."""
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    with new_view(phone):
        phone.fill("#q", typed)
    assert _list_names(phone)[0] == "บ้านแม่ก๊ะเหนือ"


def test_a_place_name_lists_the_villages_of_that_place(phone: Page, live_server: str) -> None:
    """Issue 24, item 1: "น่าน" listed 300 unrelated villages; now Nan's, and says so."""
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    with new_view(phone):
        phone.fill("#q", "น่าน")
    expect(phone.locator("#place-note")).to_have_text(" ในจ.น่าน")
    cards = phone.locator("#village-list li").all_inner_texts()
    assert cards and all("น่าน" in card for card in cards), cards[:3]


def test_the_list_can_follow_the_map(desktop: Page, live_server: str) -> None:
    """Issue 24, item 1: "in this view" keeps the list to the map's view, and it follows moves."""
    desktop.goto(f"{live_server}/tour")
    wait_ready(desktop)
    everywhere = int(desktop.locator("#count").get_attribute("data-value"))

    def in_view_count() -> int:
        bbox = desktop.evaluate("() => cddgisCommon.pageMap().getBounds().toBBoxString()")
        url = f"{live_server}/api/collections/{TOUR}/items?limit=1&bbox={bbox}"
        with urllib.request.urlopen(url) as answer:
            return int(json.load(answer)["numberMatched"])

    with new_view(desktop):
        desktop.evaluate("() => cddgisCommon.pageMap().setView([18.79, 98.98], 10,"
                         " {animate: false})")
    with new_view(desktop):
        desktop.check("#in-view")
    shown = int(desktop.locator("#count").get_attribute("data-value"))
    assert 0 < shown < everywhere and shown == in_view_count()
    assert "in_view=1" in desktop.url
    with new_view(desktop):  # a move re-lists
        desktop.evaluate("() => cddgisCommon.pageMap().setView([13.75, 100.5], 10,"
                         " {animate: false})")
    moved = int(desktop.locator("#count").get_attribute("data-value"))
    assert moved == in_view_count() and moved != shown


def test_the_countrys_grid_of_counts_zooms_where_it_is_tapped(phone: Page,
                                                              live_server: str) -> None:
    """Issue 24, item 1: at country zoom the counts are a canvas grid from tiles; a tap on
    one zooms in there, as a cluster marker's tap does."""
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    expect(phone.locator(".cddgis-grid")).to_have_count(1)
    before = phone.evaluate("() => cddgisCommon.pageMap().getZoom()")
    x, y = phone.evaluate("() => { const m = cddgisCommon.pageMap();"
                          " const p = m.latLngToContainerPoint([18.79, 98.98]);"
                          " return [p.x, p.y]; }")
    box = phone.locator(".tour-map .leaflet-container").bounding_box()
    with new_view(phone):
        phone.mouse.click(box["x"] + x, box["y"] + y)
    after = phone.evaluate("() => { const m = cddgisCommon.pageMap(); const c = m.getCenter();"
                           " return [m.getZoom(), c.lat, c.lng]; }")
    assert after[0] == before + 2
    assert abs(after[1] - 18.79) < 0.5 and abs(after[2] - 98.98) < 0.5


def test_no_results_says_so_and_offers_a_misspelt_place(phone: Page, live_server: str) -> None:
    """Issue 24, item 1: "zzzz" showed only "พบ 0 ชุมชน"; a misspelt place offers the place
    (above whatever villages its likeness found)."""
    phone.goto(f"{live_server}/tour?q=zzzz")
    wait_ready(phone)
    expect(phone.locator("#no-results")).to_be_visible()
    expect(phone.locator("#did-you-mean")).to_be_hidden()
    with new_view(phone):
        phone.fill("#q", "เชียงใหมม")
    offered = phone.locator("#suggestions .place-suggestion").first
    expect(offered).to_have_text("จ.เชียงใหม่")
    with new_view(phone):
        offered.click()
    expect(phone.locator("#place-note")).to_have_text(" ในจ.เชียงใหม่")
    expect(phone.locator("#suggestions")).to_be_hidden()


def test_search_forgives_a_vowel_slip(phone: Page, live_server: str) -> None:
    """ใ typed for ไ (the two look alike on the keyboard)."""
    phone.goto(f"{live_server}/tour?q=บ้านใผ่ฝรั่ง")
    wait_ready(phone)
    assert _list_names(phone)[0] == "บ้านไผ่ฝรั่ง"


def test_no_results_offers_suggestions(phone: Page, live_server: str, engine: Engine) -> None:
    """Item 5: "no results" offers the likely names (here: the village is in another province
    than the one picked)."""
    phone.goto(f"{live_server}/tour?province=10&q=แม่กะเหนือ")
    wait_ready(phone)
    expect(phone.locator("#count")).to_have_attribute("data-value", "0")
    suggestions = phone.locator("#suggestions a")
    expect(suggestions.first).to_have_text("บ้านแม่ก๊ะเหนือ")
    key = _village_id(engine, "บ้านแม่ก๊ะเหนือ")
    assert suggestions.first.get_attribute("href").endswith(f"/tour/{key}")


def test_autocomplete_is_an_accessible_combobox(phone: Page, live_server: str,
                                                engine: Engine) -> None:
    """Names are offered as you type; arrows move through them (aria-activedescendant), Enter
    opens the village."""
    phone.goto(f"{live_server}/tour")
    wait_ready(phone)
    box = phone.locator("#q")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially("mae ka nue")
    expect(box).to_have_attribute("aria-expanded", "true")
    first = phone.locator("#q-options [role=option]").first
    expect(first).to_contain_text("บ้านแม่ก๊ะเหนือ")
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "q-option-0")
    expect(first).to_have_attribute("aria-selected", "true")
    key = _village_id(engine, "บ้านแม่ก๊ะเหนือ")
    with phone.expect_navigation():
        box.press("Enter")
    assert urlparse(phone.url).path == f"/tour/{key}"


def test_near_me_zooms_to_you_and_the_nearest(browser, live_server: str) -> None:
    """Item 6: with the location given, the map goes to it and the nearest villages."""
    context = browser.new_context(locale="th-TH", viewport={"width": 390, "height": 844},
                                  geolocation={"latitude": 18.79, "longitude": 98.98},
                                  permissions=["geolocation"])
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/tour")
        wait_ready(phone)
        with new_view(phone):
            phone.click("#near-me")
        view = phone.evaluate("""() => { const m = cddgisCommon.pageMap(); const b = m.getBounds();
            return {zoom: m.getZoom(), inside: b.contains([18.79, 98.98])}; }""")
        assert view["zoom"] >= 9 and view["inside"], view
        first_km = float(phone.locator("#village-list li .distance").first.inner_text().split()[0])
        assert first_km < 20
    finally:
        context.close()


def test_near_me_refused_says_so_beside_the_button(browser, live_server: str) -> None:
    """Item 6: a refused location is said next to the button, in view (not ~3,000 px down)."""
    context = browser.new_context(locale="th-TH", viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    context.clear_permissions()
    phone = context.new_page()
    try:
        phone.goto(f"{live_server}/tour")
        wait_ready(phone)
        phone.click("#near-me")
        message = phone.locator("#near-status")
        expect(message).to_contain_text("ตำแหน่ง")
        expect(message).to_be_in_viewport()
        box, button = message.bounding_box(), phone.locator("#near-me").bounding_box()
        assert abs(box["y"] - button["y"]) < 120  # beside (or just under) the button
    finally:
        context.close()


def test_the_list_says_how_many_and_shows_more(page: Page, live_server: str,
                                               engine: Engine) -> None:
    """Item 7: "30 จาก 101", and แสดงเพิ่ม loads the next page (Chiang Mai has 101)."""
    with engine.connect() as conn:
        in_cm = conn.execute(text("SELECT count(*) FROM layer_features WHERE layer = :l AND "
                                  "province_code = '50'"), {"l": TOUR}).scalar_one()
    assert in_cm > 60
    page.goto(f"{live_server}/tour?province=50")
    wait_ready(page)
    expect(page.locator("#shown")).to_have_text(f"30 จาก {in_cm}")
    with new_view(page):
        page.click("#more")
    expect(page.locator("#shown")).to_have_text(f"60 จาก {in_cm}")
    ids = page.eval_on_selector_all("#village-list li", "els => els.map(e => e.dataset.id)")
    assert len(ids) == len(set(ids)) == 60
    while page.locator("#more").is_visible():
        with new_view(page):
            page.click("#more")
    expect(page.locator("#village-list li")).to_have_count(in_cm)
    expect(page.locator("#shown")).to_have_text(f"{in_cm} จาก {in_cm}")


@pytest.fixture(scope="module")
def photo_server(settings: Any, cluster: Any, copy_database: Callable[..., str],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A village of its own, with a photo a phone took (EXIF GPS and time) and the community's
    contacts, on an app of its own (its photos under a temporary state directory)."""
    from core.photos import prepare
    from gis import photos
    from gis.db import engine_for
    from tests.serving import served
    from tests.test_photos import camera_jpeg
    from web import create_app

    name = db_name("cddgis_test_tour_photos")
    owner = engine_for(copy_database(name))
    with owner.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, province_code, geom)
            VALUES ('otop-tourism-villages', 'PHOTO-1', 'บ้านภาพถ่าย', CAST(:p AS jsonb), '50',
                    ST_SetSRID(ST_MakePoint(98.98, 18.79), 4326))
        """), {"p": json.dumps({"village_id": "PHOTO-1", "village_name": "บ้านภาพถ่าย",
                                "province_th": "เชียงใหม่", "phone": "053-123456",
                                "line_id": "baan.photo", "opening_days": "ส. อา. 09:00-17:00"})})
    state = tmp_path_factory.mktemp("tour-photos-state")
    photos.add(owner, photos.photos_dir(state), None, "otop-tourism-villages", "PHOTO-1",
               prepare(camera_jpeg()))
    app = create_app(dataclasses.replace(settings, state_dir=state),
                     database_url=cluster.url(database=name, role="app"))
    with served(app) as base:
        yield base


def test_the_village_page_shows_its_photo_and_contact_links_offline(
        phone: Page, photo_server: str) -> None:
    outside: list[str] = []

    def air_gapped(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    phone.route("**/*", air_gapped)
    phone.goto(f"{photo_server}/tour/PHOTO-1")
    wait_ready(phone)
    photo = phone.locator("img.village-photo")
    expect(photo).to_be_visible()
    phone.wait_for_function("document.querySelector('img.village-photo').complete")
    assert phone.evaluate("document.querySelector('img.village-photo').naturalWidth") > 0
    src = photo.get_attribute("src") or ""
    assert re.fullmatch(r"/photos/[0-9a-f]{64}/web\.jpg", src), src
    og = phone.locator('meta[property="og:image"]').get_attribute("content")
    assert og == f"{photo_server}{src}"
    expect(phone.locator("#contact-phone a")).to_have_attribute("href", "tel:053123456")
    expect(phone.locator("#contact-line a")).to_have_attribute(
        "href", "https://line.me/R/ti/p/~baan.photo")
    expect(phone.locator("#opening-days")).to_have_text("ส. อา. 09:00-17:00")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert outside == [] and phone.js_errors == [] and phone.csp_refusals == []
