"""Point layer pages in headless Chromium: filters change what is shown; names are escaped."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from gis.layer_store import import_file
from layers.definitions import LAYERS
from tests.pagestate import new_view, wait_ready

pytestmark = pytest.mark.browser

# True once a grid tile canvas has something painted on it.
GRID_PAINTED = """() => [...document.querySelectorAll(".cddgis-grid canvas")].some((c) => {
  if (!c.width) return false;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
  return false;
})"""


def _count(page: Page, which: str) -> int:
    return int(page.locator(f"#count-{which}").get_attribute("data-value"))


def _db_count(engine: Engine, where: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features WHERE {where}")).scalar()


def test_filtering_by_province_changes_the_count(page: Page, live_server: str,
                                                 engine: Engine) -> None:
    page.goto(f"{live_server}/layers/khok-nong-na")
    wait_ready(page)
    national = _db_count(engine, "layer = 'khok-nong-na'")
    assert _count(page, "total") == national
    expect(page.locator("#sample-banner")).to_contain_text("ข้อมูลตัวอย่าง")
    # Zoomed out: a grid of counts drawn from the layer's vector tiles, not 22k markers.
    page.wait_for_function(GRID_PAINTED)
    assert page.locator("path.cddgis-point").count() == 0

    with new_view(page):
        page.select_option("#f-province", "50")
    in_chiang_mai = _db_count(engine, "layer = 'khok-nong-na' AND province_code = '50'")
    assert _count(page, "total") == in_chiang_mai
    assert "province=50" in page.url
    assert page.locator("#feature-table tbody tr").count() > 0
    first_area = page.locator("#feature-table tbody tr td").last.inner_text()
    assert "เชียงใหม่" in first_area
    csv_link = page.locator("#csv-link").get_attribute("href")
    assert "province=50" in csv_link and "f=csv" in csv_link

    with new_view(page):
        page.select_option("select[name=model_level]", "CLM")
    assert _count(page, "total") == _db_count(
        engine, "layer = 'khok-nong-na' AND province_code = '50' "
                "AND properties->>'model_level' = 'CLM'")
    assert page.js_errors == []


def test_permalink_restores_filters_and_view(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/layers/learning-centers?province=50&ready=true&z=9&c=18.8,98.98")
    wait_ready(page)
    assert page.locator("#f-province").input_value() == "50"
    assert page.locator("select[name=ready]").input_value() == "true"
    assert page.evaluate("cddgisCommon.pageMap().getZoom()") == 9
    assert "ready=true" in page.locator("#permalink").get_attribute("href")


def test_layer_switcher(page: Page, live_server: str, engine: Engine) -> None:
    page.goto(f"{live_server}/layers")
    wait_ready(page)
    everything = _db_count(engine, "TRUE")
    # The swatches take their colour from the page's nonce'd style block (no style="" under CSP).
    swatch = page.locator("#layer-switcher .swatch[data-layer='volunteer-centers']")
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(124, 58, 237)"
    assert _count(page, "total") == everything
    with new_view(page):
        for layer_id in LAYERS:
            if layer_id != "volunteer-centers":
                page.uncheck(f"#layer-switcher input[value='{layer_id}']")
    assert _count(page, "total") == _db_count(engine, "layer = 'volunteer-centers'")
    assert "layers=volunteer-centers" in page.url


def test_popup_shows_a_hostile_name_as_text(page: Page, live_server: str, engine: Engine,
                                            tmp_path: Path) -> None:
    hostile = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    path = tmp_path / "xss.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["รหัสศูนย์", "ชื่อศูนย์", "ละติจูด", "ลองจิจูด"])
        writer.writerow(["XSS-1", hostile, 14.0208, 99.5328])  # Kanchanaburi
    report = import_file(engine, LAYERS["learning-centers"], path)
    assert report.committed, report.summary()
    try:

        page.goto(f"{live_server}/layers/learning-centers?z=16&c=14.0208,99.5328")
        wait_ready(page)
        with new_view(page):  # the map moves to it and reloads the view; the popup stays open
            page.locator("#feature-table tbody tr", has_text="<script>").click()
        popup = page.locator(".leaflet-popup-content .popup h3")
        expect(popup).to_have_count(1)  # the popup of the marker drawn before the move fades out
        expect(popup).to_have_text(hostile)
        assert page.evaluate("window.__xss") is None
    finally:  # the shared session database is left as it was found
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM layer_features "
                              "WHERE layer = 'learning-centers' AND key = 'XSS-1'"))
