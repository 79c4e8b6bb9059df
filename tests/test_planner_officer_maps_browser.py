"""Issue 15, the planners' and officers' part, in headless Chromium: numbers the Thai way, shared
links that reproduce the view, the change map's colours, the choropleth table, the legend on the
map, PNG and CSV downloads, and the locator's panel."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, text

from tests.pagestate import new_view, wait_ready

pytestmark = pytest.mark.browser

CHOROPLETH = "/choropleth?indicator={}&level={}&classify={}&k=5"
INCOME = "nso-household-income"


def _number(label: str) -> float:
    """A number as the pages write it (thousands separators, U+2212 minus, + on a change)."""
    return float(label.strip().replace(",", "").replace("\u2212", "-").replace("+", ""))


def _legend_bounds(page: Page) -> list[tuple[float, float, int]]:
    """(lower, upper, count) of each class in the on-map legend."""
    out = []
    for row in page.locator("#legend .row[data-class]").all():
        spans = row.locator("span").all_inner_texts()
        label = spans[1].split(" (")[0]  # a std_mean note follows in brackets
        lower, upper = label.split(" – ")
        out.append((_number(lower), _number(upper), int(spans[2].strip("()").replace(",", ""))))
    return out


def _map_zoom(page: Page) -> int:
    return page.evaluate("() => cddgisCommon.pageMap().getZoom()")


def _grant_clipboard(page: Page, origin: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)


# -- item 3: numbers ---------------------------------------------------------------------------

def test_small_rates_keep_significant_digits(page: Page, live_server: str) -> None:
    """Per-km² values are mostly below 0.02: two decimals made the table read 0.01 and 0.02 and
    the legend "0 – 0.01"."""
    page.goto(live_server + CHOROPLETH.format("learning-centers-per-km2", "province", "quantiles"))
    wait_ready(page)
    bounds = _legend_bounds(page)
    assert len(bounds) == 5
    assert all(lo < hi for lo, hi, _ in bounds), bounds  # never "0 – 0"
    assert bounds[0][0] > 0
    top = page.locator("#ctable tbody tr").first.locator("td[data-col=value]").inner_text()
    assert re.fullmatch(r"0\.0\d{3}", top), top  # three significant digits, e.g. 0.0193
    assert page.js_errors == []


def test_standard_deviation_classes_ascend_and_none_is_empty(page: Page,
                                                            live_server: str) -> None:
    """Income 2558: mean − 2 SD (11,124.66) lies below the minimum (13,497.2); the legend showed
    "13,497.2 – 11,124.66 (0)"."""
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "std_mean") + "&year=2558")
    wait_ready(page)
    bounds = _legend_bounds(page)
    assert bounds and all(lo < hi and n > 0 for lo, hi, n in bounds), bounds
    assert [lo for lo, _, _ in bounds] == sorted(lo for lo, _, _ in bounds)
    assert bounds[0][0] == pytest.approx(13497.2, abs=1)
    assert "SD" in page.locator("#legend .row[data-class]").first.inner_text()


def test_a_budget_year_in_a_popup_has_no_thousands_separator(page: Page, live_server: str,
                                                             engine: Engine) -> None:
    with engine.connect() as conn:
        name, year, lat, lon = conn.execute(text(
            "SELECT name, properties->>'budget_year', ST_Y(geom), ST_X(geom) FROM layer_features "
            "WHERE layer = 'learning-centers' AND properties->>'budget_year' IS NOT NULL "
            "ORDER BY key LIMIT 1")).one()
    page.goto(f"{live_server}/layers/learning-centers?z=16&c={lat:.5f},{lon:.5f}")
    wait_ready(page)
    with new_view(page):
        page.locator("#feature-table tbody tr", has_text=name).first.click()
    popup = page.locator(".leaflet-popup-content .popup")
    expect(popup).to_have_count(1)
    expect(popup).to_contain_text(str(year))
    assert f"{year[0]},{year[1:]}" not in popup.inner_text()  # never "2,563"


# -- item 4: shared links ------------------------------------------------------------------------

# Every address the page writes into the address bar (and so into its permalink), in order.
RECORD_URLS = """
window.__urls = [];
const replace = history.replaceState.bind(history);
history.replaceState = (state, title, url) => {
  window.__urls.push(String(url));
  replace(state, title, url);
};
"""


def test_a_layers_permalink_restores_its_view_on_every_load(browser: Browser,
                                                            live_server: str) -> None:
    """Restored on 3 loads in 12: the link's view was set with an animated zoom, so the first
    view the page read, drew, wrote into the address bar and declared ready was still the
    country (z=5); whether the zoom's end came before "ready" was a race."""
    link = f"{live_server}/layers/learning-centers?province=50&ready=true&z=9&c=18.8,98.98"
    restored = 0
    for _ in range(12):
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="th-TH")
        context.add_init_script(RECORD_URLS)
        page = context.new_page()
        page.goto(link)
        wait_ready(page)
        center = page.evaluate("() => { const c = cddgisCommon.pageMap().getCenter();"
                               " return [c.lat, c.lng]; }")
        permalink = page.locator("#permalink").get_attribute("href") or ""
        written = page.evaluate("() => window.__urls")
        view = "z=9&c=18.80000%2C98.98000"
        if (_map_zoom(page) == 9 and center == pytest.approx([18.8, 98.98], abs=1e-4)
                and written and all(view in u for u in written)
                and view in permalink and "province=50" in permalink
                and "ready=true" in permalink):
            restored += 1
        context.close()
    assert restored == 12


def test_the_locator_keeps_its_filters_in_the_link(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/locator?at=18.79,98.98&layer=learning-centers&n=10&province=50"
              "&ready=true")
    wait_ready(page)
    assert page.locator("#count-n").input_value() == "10"
    assert page.locator("#l-province").input_value() == "50"
    assert page.locator("#only-learning-centers-ready").is_checked()
    expect(page.locator("#results li")).to_have_count(10)
    assert all("เชียงใหม่" in t for t in page.locator("#results li .muted").all_inner_texts())
    with new_view(page):
        page.select_option("#count-n", "20")
    assert "n=20" in page.url and "province=50" in page.url and "ready=true" in page.url
    with new_view(page):
        page.uncheck("#only-learning-centers-ready")
    assert "ready=" not in page.url
    _grant_clipboard(page, live_server)
    page.click("#copy-link")
    expect(page.locator(".copy-note")).to_contain_text("คัดลอก")
    assert page.evaluate("() => navigator.clipboard.readText()") == page.url


def test_back_after_a_drill_down_lands_on_the_country(page: Page, live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format("learning-centers-count", "province", "quantiles"))
    wait_ready(page)
    with new_view(page):
        page.locator("#ctable tbody tr[data-code='50']").click()
    expect(page.locator("#ctable tbody tr")).to_have_count(25)
    with new_view(page):
        page.go_back()
    assert "level=province" in page.url and "province=" not in page.url.split("?")[1]
    assert page.locator("#c-province").input_value() == ""
    expect(page.locator("#ctable tbody tr")).to_have_count(77)
    assert page.js_errors == []


def test_copy_link_keeps_every_filter(page: Page, live_server: str) -> None:
    _grant_clipboard(page, live_server)
    page.goto(f"{live_server}/layers/learning-centers?province=50&ready=true&z=9&c=18.8,98.98")
    wait_ready(page)
    page.click("#copy-link")
    expect(page.locator(".copy-note")).to_contain_text("คัดลอก")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(live_server) and "province=50" in copied and "ready=true" in copied
    assert "z=9" in copied

    page.goto(live_server + CHOROPLETH.format("osm-poi-count", "subdistrict", "quantiles")
              + "&province=50&sort=value-asc&q=หนองบัว")
    wait_ready(page)
    page.click("#copy-link")
    expect(page.locator(".copy-note")).to_contain_text("คัดลอก")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    for part in ("indicator=osm-poi-count", "level=subdistrict", "province=50",
                 "classify=quantiles", "sort=value-asc", "q=%E0%B8%AB"):
        assert part in copied, (part, copied)


# -- item 8: the change map ----------------------------------------------------------------------

def _rgb(page: Page, selector: str) -> list[tuple[int, int, int]]:
    colours = page.locator(selector).evaluate_all(
        "els => els.map((e) => getComputedStyle(e).backgroundColor)")
    return [tuple(int(x) for x in re.findall(r"\d+", c)[:3]) for c in colours]


def test_a_change_that_only_rises_is_not_drawn_as_losses(page: Page, live_server: str) -> None:
    """Income 2541 → 2558 rose in every province: no class may take the red (loss) side."""
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles")
              + "&year=2558&compare=2541&scheme=RdBu")
    wait_ready(page)
    legend = page.locator("#legend")
    expect(legend).to_have_attribute("data-diverging", "false")
    expect(legend.locator("h3")).to_contain_text("เพิ่มขึ้นทุกพื้นที่")
    labels = page.locator("#legend .row[data-class] span:nth-child(2)").all_inner_texts()
    assert labels and all(lab.startswith("+") for lab in labels), labels
    swatches = _rgb(page, "#legend .row[data-class] .swatch-box")
    assert all(b > r for r, _, b in swatches), swatches  # RdBu's blue (gain) half only
    assert _legend_bounds(page)[0][0] > 0
    value = page.locator("#ctable tbody tr").first.locator("td[data-col=value]").inner_text()
    assert value.startswith("+")
    page.locator("path.area").first.hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("+")


def test_a_change_with_gains_and_losses_is_centred_on_zero(page: Page, live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles")
              + "&year=2558&compare=2556&scheme=RdBu")
    wait_ready(page)
    expect(page.locator("#legend")).to_have_attribute("data-diverging", "true")
    bounds = _legend_bounds(page)
    assert any(hi == 0 for _, hi, _ in bounds) and any(lo == 0 for lo, _, _ in bounds), bounds
    swatches = _rgb(page, "#legend .row[data-class] .swatch-box")
    for (lo, hi, _), (r, _g, b) in zip(bounds, swatches, strict=True):
        assert (r > b) if hi <= 0 else (b > r), (lo, hi, (r, b))  # losses red, gains blue
    assert any(t.startswith("\u2212") for t in page.locator(
        "#ctable td[data-col=value]").all_inner_texts())


# -- item 9: the choropleth table ------------------------------------------------------------------

def test_the_table_sorts_both_ways_searches_and_names_parents(page: Page,
                                                              live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format("osm-poi-count", "subdistrict", "quantiles")
              + "&province=50")
    wait_ready(page)
    heads = page.locator("#ctable thead th").all_inner_texts()
    assert any("อำเภอ" in h for h in heads) and any("จังหวัด" in h for h in heads)
    value_th = page.locator("#ctable thead th[data-sort=value]")
    value_th.locator("button").click()
    expect(page.locator("#ctable thead th[data-sort=value]")).to_have_attribute(
        "aria-sort", "descending")
    page.locator("#ctable thead th[data-sort=value] button").click()
    expect(page.locator("#ctable thead th[data-sort=value]")).to_have_attribute(
        "aria-sort", "ascending")
    assert "sort=value-asc" in page.url
    values = [_number(t) for t in page.locator("#ctable td[data-col=value]").all_inner_texts()
              if t != "ไม่มีข้อมูล"]
    assert values == sorted(values) and len(values) > 100

    page.fill("#table-search", "หนองบัว")
    expect(page.locator("#ctable tbody tr")).not_to_have_count(len(values))
    rows = page.locator("#ctable tbody tr")
    assert rows.count() >= 1
    assert all("หนองบัว" in t for t in rows.all_inner_texts())
    assert all(d for d in page.locator("#ctable td[data-col=district]").all_inner_texts())
    assert set(page.locator("#ctable td[data-col=province]").all_inner_texts()) == {"เชียงใหม่"}
    expect(page).to_have_url(re.compile(r"q=%E0%B8%AB"))


def test_the_table_works_by_keyboard(page: Page, live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format("learning-centers-count", "district", "quantiles")
              + "&province=50")
    wait_ready(page)
    assert page.locator("#ctable tbody tr[tabindex='0']").count() == 1  # one tab stop
    page.locator("#table-search").focus()
    page.keyboard.press("Tab")  # the search box, then the sort buttons, then the rows
    for _ in range(10):
        if page.evaluate("() => document.activeElement.matches('#ctable tbody tr')"):
            break
        page.keyboard.press("Tab")
    first = page.evaluate("() => document.activeElement.dataset.code")
    assert first
    page.keyboard.press("ArrowDown")
    second = page.evaluate("() => document.activeElement.dataset.code")
    assert second and second != first
    with new_view(page):
        page.keyboard.press("Enter")  # a district: down to its subdistricts
    assert f"district={second}" in page.url and "level=subdistrict" in page.url
    zoom = _map_zoom(page)
    page.locator("#ctable tbody tr").first.focus()
    code = page.evaluate("() => document.activeElement.dataset.code")
    with new_view(page):
        page.keyboard.press("Enter")  # the deepest level: the map zooms to the subdistrict
    expect(page.locator(".folium-map")).to_have_attribute("data-zoomed", code)
    assert _map_zoom(page) > zoom


def test_the_table_is_on_phones_without_sideways_scroll(phone: Page, live_server: str) -> None:
    phone.goto(live_server + CHOROPLETH.format("osm-poi-count", "subdistrict", "quantiles")
               + "&province=50")
    wait_ready(phone)
    table = phone.locator("#ctable")
    expect(table).to_be_visible()
    table.locator("tbody tr").first.scroll_into_view_if_needed()
    expect(table.locator("tbody tr").first).to_be_in_viewport()
    widths = phone.evaluate("() => [document.documentElement.scrollWidth,"
                            " document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths


def test_a_shared_map_on_a_phone_opens_map_first_with_a_folded_legend(
        phone: Page, live_server: str) -> None:
    """Issue 23: the map started ~800 px down under twelve controls, its legend over half of
    it. Now the map is the first thing under the header and the legend folds to its title."""
    phone.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles") + "&year=2558")
    wait_ready(phone)
    map_box = phone.locator(".folium-map").bounding_box()
    form_box = phone.locator("#cform").bounding_box()
    assert map_box and form_box and map_box["y"] < 200 and map_box["y"] < form_box["y"]
    legend = phone.locator("#map-legend")
    expect(legend.locator("#legend .row[data-class]").first).to_be_hidden()
    expect(legend.locator("#map-title")).to_contain_text("พ.ศ. 2558")
    folded = legend.bounding_box()
    assert folded and folded["height"] < 0.25 * map_box["height"], folded
    phone.locator("#legend-toggle").tap()
    expect(legend.locator("#legend .row[data-class]")).to_have_count(5)
    expect(legend.locator("#legend .row[data-class]").first).to_be_visible()
    expect(phone.locator("#legend-toggle")).to_have_attribute("aria-expanded", "true")


# -- legend on the map, PNG and CSV -----------------------------------------------------------

def test_title_and_legend_are_on_the_map(page: Page, live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles") + "&year=2558")
    wait_ready(page)
    on_map = page.locator(".leaflet-control-container #map-legend")
    expect(on_map).to_be_visible()
    expect(on_map.locator("#map-title")).to_contain_text("พ.ศ. 2558")
    expect(on_map.locator("#legend .row[data-class]")).to_have_count(5)


def test_png_export_carries_the_map_and_its_legend(page: Page, live_server: str,
                                                   tmp_path: Path) -> None:
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles") + "&year=2558")
    wait_ready(page)
    with page.expect_download() as info:
        page.click("#png-export")
    download = info.value
    assert download.suggested_filename == f"{INCOME}-province-2558.png"
    path = tmp_path / "map.png"
    download.save_as(path)
    image = Image.open(path).convert("RGB")
    box = page.locator(".folium-map").bounding_box()
    panel = page.evaluate("() => window.cddgisMapPng.PANEL")
    assert box and image.width == (round(box["width"]) + panel) * 2
    assert image.height > round(box["height"]) * 2  # the title above, the source below
    # Issue 23: the legend is beside the map, never over it: its swatches are in the column
    # right of the map, and the map's own rectangle holds no legend text box.
    map_w = round(box["width"]) * 2
    beside = {c for _, c in image.crop((map_w, 0, image.width, image.height)).getcolors(
        maxcolors=1 << 20) or []}
    for r, g, b in _rgb(page, "#legend .row[data-class] .swatch-box"):
        assert (r, g, b) in beside  # the legend's swatches, in the column beside the map
    pixels = np.asarray(image.crop((0, 0, map_w, image.height)))
    background = pixels[pixels.shape[0] // 2, 2]
    differs = float((pixels != background).any(axis=2).mean())
    assert differs > 0.2, differs  # the provinces were drawn, not only an empty frame
    assert page.evaluate("() => window.__cspViolations") == [] and page.js_errors == []


def test_indicator_csv_carries_year_unit_and_source(page: Page, live_server: str) -> None:
    page.goto(live_server + CHOROPLETH.format(INCOME, "province", "quantiles") + "&year=2556")
    wait_ready(page)
    href = page.locator("#csv-link").get_attribute("href")
    body = page.evaluate("async (u) => (await fetch(u)).text()", href)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == 77
    assert {r["year_be"] for r in rows} == {"2556"}
    assert {r["unit"] for r in rows} == {"บาท/เดือน (baht/month)"}
    assert all(r["source"] and r["licence"] for r in rows)


# -- item 2: the locator's panel -----------------------------------------------------------------

def test_the_locator_place_search_honours_the_province_and_says_not_found(
        page: Page, live_server: str) -> None:
    """Issue 24: the place search ignored the chosen province and said nothing on no match."""
    page.goto(f"{live_server}/locator")
    wait_ready(page)
    page.select_option("#l-province", "50")
    page.fill("#from", "บ้านหนองบัว")
    expect(page.locator("#place-results button").first).to_be_visible()
    listed = page.locator("#place-results button").all_inner_texts()
    assert listed and all(t.endswith("จ.เชียงใหม่") for t in listed), listed
    page.fill("#from", "ศรีภูมิ")
    expect(page.locator("#place-results button")).to_have_count(1)
    page.select_option("#l-province", "10")
    page.fill("#from", "ศรีภูมิx")
    page.fill("#from", "ศรีภูมิ")
    expect(page.locator("#place-results .place-none")).to_contain_text(
        "ไม่พบสถานที่ \"ศรีภูมิ\"")
    expect(page.locator("#place-results button")).to_have_count(0)


def test_the_locator_lists_the_nearest_center_for_every_village_of_a_district(
        page: Page, live_server: str) -> None:
    """Issue 24: a batch "nearest center for every village in this district", printable."""
    page.goto(f"{live_server}/locator")
    wait_ready(page)
    expect(page.locator("#batch-district")).to_be_disabled()
    page.select_option("#l-province", "50")
    expect(page.locator("#batch-district")).to_be_enabled()
    page.select_option("#batch-district", "5001")
    page.click("#batch button[type=submit]")
    page.wait_for_url("**/locator/villages?*")
    assert "layer=learning-centers" in page.url and "district=5001" in page.url
    expect(page.locator("h1")).to_contain_text("เมืองเชียงใหม่")
    rows = page.locator("#villages-nearest tbody tr")
    assert rows.count() > 20
    assert "ศูนย์" in rows.first.inner_text()


def test_the_locator_panel_never_scrolls_sideways(browser: Browser, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="th-TH")
    page = context.new_page()
    try:
        page.goto(f"{live_server}/locator")
        wait_ready(page)
        fits = "() => { const p = document.querySelector('.panel');" \
               " return [p.scrollWidth, p.clientWidth, p.scrollLeft]; }"
        width, client, _ = page.evaluate(fits)
        assert width <= client, (width, client)
        page.fill("#from", "เชียงใหม่")
        expect(page.locator("#place-results li").first).to_be_visible()
        page.locator("#place-results button").last.focus()
        width, client, left = page.evaluate(fits)
        assert width <= client and left == 0, (width, client, left)
    finally:
        context.close()
