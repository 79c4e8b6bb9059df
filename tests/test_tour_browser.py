"""The tour page on a phone, and the locator, in headless Chromium."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from tests.pagestate import new_view, wait_ready

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
    assert phone.evaluate("window[CDDGIS.mapName].getZoom()") >= 7
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
        const map = window[CDDGIS.mapName];
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
