"""The boundaries explorer in headless Chromium: the map draws and the drill-down works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.pagestate import new_view, wait_ready

pytestmark = pytest.mark.browser


def _map_center(page: Page) -> tuple[float, float]:
    center = page.evaluate("() => { const c = cddgisCommon.pageMap().getCenter(); "
                           "return [c.lng, c.lat]; }")
    return center[0], center[1]


def _wait_for_code(page: Page, code: str) -> None:
    expect(page.locator("#info")).to_have_attribute("data-code", code, timeout=20_000)
    wait_ready(page)


def test_national_view_draws_every_province(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/boundaries")
    wait_ready(page)
    expect(page.locator("path.cddgis-child")).to_have_count(77)
    expect(page.locator("#info")).to_contain_text("ประเทศไทย")
    assert page.js_errors == []


def test_picking_a_province_zooms_and_outlines_its_districts(page: Page,
                                                             live_server: str) -> None:
    page.goto(f"{live_server}/boundaries")
    wait_ready(page)
    with new_view(page):
        page.select_option("#province", "50")
    _wait_for_code(page, "50")
    info = page.locator("#info")
    expect(info.locator("[data-field=name_th]")).to_have_text("เชียงใหม่")
    expect(info.locator("[data-field=code]")).to_have_text("50")
    expect(info.locator("[data-field=children]")).to_have_text("25")
    expect(info.locator("[data-field=area_km2]")).to_contain_text("ตร.กม.")
    expect(page.locator("path.cddgis-child")).to_have_count(25)
    expect(page.locator("path.cddgis-selected")).to_have_count(1)
    lon, lat = _map_center(page)
    assert 98.0 < lon < 99.7 and 17.2 < lat < 20.2  # the map is on Chiang Mai
    assert re.search(r"[?&]province=50\b", page.url)
    # The district list is now Chiang Mai's.
    expect(page.locator("#district option")).to_have_count(26)  # 25 + "all"

    with new_view(page):
        page.select_option("#district", "5001")
    _wait_for_code(page, "5001")
    expect(page.locator("path.cddgis-child")).to_have_count(16)
    assert "district=5001" in page.url
    assert page.js_errors == []


def test_link_opens_the_same_view(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/boundaries?subdistrict=500101")
    _wait_for_code(page, "500101")
    expect(page.locator("#info [data-field=name_th]")).to_have_text("ศรีภูมิ")
    assert page.locator("#province").input_value() == "50"
    assert page.locator("#district").input_value() == "5001"
    assert page.locator("#subdistrict").input_value() == "500101"
    lon, lat = _map_center(page)
    assert 98.9 < lon < 99.1 and 18.7 < lat < 18.9


def test_clicking_an_area_drills_down_and_back_returns(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/boundaries?province=73")
    _wait_for_code(page, "73")
    # Click the map on the centre of Mueang Nakhon Pathom (7301).
    point = page.evaluate("""() => {
        const map = cddgisCommon.pageMap();
        const p = map.latLngToContainerPoint([13.82, 100.06]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""")
    with new_view(page):
        page.mouse.click(point[0], point[1])
    _wait_for_code(page, "7301")
    expect(page.locator("#info [data-field=name_th]")).to_have_text("เมืองนครปฐม")
    with new_view(page):
        page.go_back()
    _wait_for_code(page, "73")
    expect(page.locator("path.cddgis-child")).to_have_count(7)


def test_region_narrows_the_province_list(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/boundaries")
    wait_ready(page)
    with new_view(page):
        page.select_option("#region", "south")
    _wait_for_code(page, "south")
    expect(page.locator("path.cddgis-child")).to_have_count(14)
    visible = page.eval_on_selector_all("#province option",
                                        "els => els.filter(e => e.value && !e.hidden).length")
    assert visible == 14
