"""Trips on a phone (issue 24, item 3), in Chromium with every request outside 127.0.0.1
refused: a tourist saves two villages from the tour's list, reorders them with the buttons (by
touch and by keyboard), and the share link opened in a fresh browser shows them in that order;
nothing reaches the server but the link. English mode names villages in English (the
romanisation kept at import when the layer declares none), with the Thai beside them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import Engine, text

from gis.search import english_name
from tests.pagestate import new_view, wait_ready

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2, "locale": "th-TH"}


def _air_gapped(context: BrowserContext) -> list[str]:
    """Refuses every request that leaves 127.0.0.1; returns the list of those refused."""
    leaving: list[str] = []

    def only_here(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_here)
    return leaving


@pytest.fixture
def phone_offline(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(**PHONE)
    leaving = _air_gapped(context)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    yield page, leaving
    context.close()


def _trip_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#trip-list li", "els => els.map(e => e.dataset.id)")


def test_save_reorder_and_share_a_trip(phone_offline: tuple[Page, list[str]],
                                       browser: Browser, live_server: str) -> None:
    page, leaving = phone_offline
    page.goto(f"{live_server}/tour?province=55")
    wait_ready(page)
    expect(page.locator("#trip-empty")).to_be_visible()
    cards = page.locator("#village-list li")
    first, second = (cards.nth(i).get_attribute("data-id") for i in (0, 1))
    names = [cards.nth(i).locator("a").inner_text() for i in (0, 1)]
    # Saved from the list by a tap: the button says so, the trip lists them in that order.
    for i in (0, 1):
        cards.nth(i).locator("button.trip-save").tap()
        expect(cards.nth(i).locator("button.trip-save")).to_have_attribute("aria-pressed", "true")
    assert _trip_ids(page) == [first, second]
    expect(page.locator("[data-trip-count]").first).to_have_text("2")
    expect(page.locator("#trip-list li a")).to_have_text(names)
    # Kept on the device, nothing on the server: the same list after a reload.
    page.reload()
    wait_ready(page)
    assert _trip_ids(page) == [first, second]
    # Reordered by a tap on "down"…
    page.locator("#trip-list li").first.locator(".trip-down").tap()
    assert _trip_ids(page) == [second, first]
    # …and back by the keyboard: the moved village's button keeps the focus.
    up = page.locator(f"#trip-list li[data-id='{first}'] .trip-up")
    up.focus()
    page.keyboard.press("Enter")
    assert _trip_ids(page) == [first, second]
    page.keyboard.press("Tab")  # from "up" (now disabled, focus moved on) to the next button
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == first
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "down" again
    assert _trip_ids(page) == [second, first]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The share link carries the ordered ids.
    href = page.locator("#trip-link").get_attribute("href")
    assert parse_qs(urlsplit(href).query)["v"] == [f"{second},{first}"]

    # A fresh browser (nothing stored) opens it: the villages in that order, on the map.
    context = browser.new_context(**PHONE)
    _air_gapped(context)
    other = context.new_page()
    other.goto(href)
    wait_ready(other)
    stops = other.eval_on_selector_all("#trip-stops li", "els => els.map(e => e.dataset.id)")
    assert stops == [second, first]
    expect(other.locator("#trip-stops li a")).to_have_text(names[::-1])
    assert other.locator(".cddgis-trip-stop").count() == 2
    assert other.locator(".cddgis-trip-stop").all_inner_texts() == ["1", "2"]
    google = other.locator(".google-route").get_attribute("href")
    assert google.startswith("https://www.google.com/maps/dir/?")
    # Kept on that device too, when asked.
    assert other.evaluate("localStorage.getItem('cddgis.trip')") is None
    other.locator("#trip-keep").tap()
    assert [s["id"] for s in other.evaluate("JSON.parse(localStorage.getItem('cddgis.trip'))")
            ] == [second, first]
    context.close()

    # Removed from the list: one left, the focus on what is left.
    page.locator(f"#trip-list li[data-id='{second}'] .trip-remove").tap()
    assert _trip_ids(page) == [first]
    assert page.js_errors == []
    assert leaving == []


def test_a_village_page_saves_to_the_trip(phone_offline: tuple[Page, list[str]],
                                          live_server: str, engine: Engine) -> None:
    page, _ = phone_offline
    with engine.connect() as conn:
        key = conn.execute(text("SELECT key FROM layer_features WHERE layer = "
                                "'otop-tourism-villages' ORDER BY key LIMIT 1")).scalar_one()
    page.goto(f"{live_server}/tour/{key}")
    wait_ready(page)
    save = page.locator("#trip-save")
    expect(save).to_have_attribute("aria-pressed", "false")
    save.tap()
    expect(save).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-trip-count]")).to_have_text("1")
    page.goto(f"{live_server}/tour")
    wait_ready(page)
    assert _trip_ids(page) == [key]
    assert page.js_errors == []


def test_english_mode_names_villages_in_english(phone_offline: tuple[Page, list[str]],
                                                live_server: str, engine: Engine) -> None:
    """The sample villages declare no English name: the list, the map's tooltips, the village
    page and the trip page show the romanised name, with the Thai beside it."""
    page, _ = phone_offline
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT f.key, f.name, n.name_rtgs FROM layer_features f JOIN feature_names n "
            "ON n.layer = f.layer AND n.key = f.key WHERE f.layer = 'otop-tourism-villages' "
            "AND f.province_code = '55'")).all()
    english = {key: english_name(name, rtgs) for key, name, rtgs in rows}
    thai = {key: name for key, name, _ in rows}
    page.add_init_script("localStorage.setItem('cddgis.lang', 'en')")
    page.goto(f"{live_server}/tour?province=55")
    wait_ready(page)
    cards = page.locator("#village-list li")
    key = cards.first.get_attribute("data-id")
    assert english[key] != thai[key]
    expect(cards.first.locator("a")).to_have_text(english[key])
    expect(cards.first.locator(".other-name")).to_have_text(f" {thai[key]}")
    shown = page.eval_on_selector_all("#village-list li", "els => els.map(e => "
                                      "[e.dataset.id, e.querySelector('a').textContent])")
    assert all(name == english[k] for k, name in shown)
    # The map's tooltips too.
    tooltips = page.evaluate("""() => { const out = [];
        cddgisCommon.pageMap().eachLayer((l) => { if (l.getTooltip && l.getTooltip() &&
          l.options.className === 'cddgis-point') {
            out.push(l.getTooltip().getContent().textContent);
        } });
        return out; }""")
    assert tooltips and set(tooltips) <= set(english.values())
    # A search's results.
    with new_view(page):
        page.fill("#q", thai[key])
    assert "q=" in page.url
    expect(page.locator(f"#village-list li[data-id='{key}'] a")).to_have_text(english[key])
    # The village page, and back to Thai.
    page.goto(f"{live_server}/tour/{key}")
    wait_ready(page)
    expect(page.locator("main h1")).to_have_text(f"{english[key]} {thai[key]}")
    page.click("#lang")
    expect(page.locator("main h1")).to_have_text(f"{thai[key]} {english[key]}")
    assert page.js_errors == []
