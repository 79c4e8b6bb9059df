"""The choropleth page in headless Chromium: switching the classification changes the legend."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.pagestate import new_view, wait_ready

pytestmark = pytest.mark.browser


def _legend(page: Page) -> list[str]:
    return page.locator("#legend .row[data-class]").all_inner_texts()


def test_switching_classification_changes_the_legend(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/choropleth?indicator=nso-household-income&level=province"
              "&classify=quantiles&k=5")
    wait_ready(page)
    expect(page.locator("#legend")).to_have_attribute("data-method", "quantiles")
    quantiles = _legend(page)
    assert len(quantiles) == 5
    assert page.locator("path.area").count() == 77
    assert page.locator("#ctable tbody tr").count() == 77

    with new_view(page):
        page.select_option("#c-method", "equal_interval")
    expect(page.locator("#legend")).to_have_attribute("data-method", "equal_interval")
    equal = _legend(page)
    assert len(equal) == 5 and equal != quantiles
    assert "classify=equal_interval" in page.url

    page.select_option("#c-k", "3")
    expect(page.locator("#legend")).to_have_attribute("data-classes", "3")
    assert page.js_errors == []


def test_clicking_a_province_drills_down(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/choropleth?indicator=learning-centers-count&level=province"
              "&classify=quantiles&k=4")
    wait_ready(page)
    # Issue 9: the click changes the URL and fetches before it draws; the page must not still
    # report the province view as ready meanwhile (this failed one run in three).
    with new_view(page):
        page.locator("#ctable tbody tr[data-code='50']").click()
    assert "level=district" in page.url and "province=50" in page.url
    assert page.locator("#ctable tbody tr").count() == 25  # Chiang Mai's districts


def test_compare_table_shows_both_years_and_the_percent_change(page: Page, live_server: str,
                                                               client) -> None:
    """Issue 23, item 4: the change between years shows neither year's value no more."""
    page.goto(f"{live_server}/choropleth?indicator=nso-household-income&level=province"
              "&year=2558&compare=2549&classify=quantiles&k=5")
    wait_ready(page)
    heads = page.locator("#ctable thead th").all_inner_texts()
    assert [h.split("\n")[0].split(" B.E.")[0].strip() for h in heads[-4:]] == [
        "พ.ศ. 2549", "พ.ศ. 2558", "เปลี่ยนแปลง Change", "% เปลี่ยนแปลง % change"], heads
    api = client.get("/api/indicators/nso-household-income/values?level=province&year=2558"
                     "&compare=2549").get_json()
    bkk = next(v for v in api["values"] if v["code"] == "10")
    row = page.locator("#ctable tbody tr[data-code='10']")
    for col, value in (("value_compare", bkk["value_compare"]), ("value_year", bkk["value_year"])):
        assert row.locator(f"[data-col='{col}']").inner_text().replace(",", "") == (
            f"{value:.0f}" if value >= 1000 else str(value)), col
    pct = row.locator("[data-col='change_pct']").inner_text()
    assert pct.endswith(" %") and f"{abs(bkk['change_pct']):.1f}".rstrip("0").rstrip(".") in pct
    assert page.js_errors == []


def test_a_province_only_indicator_says_why_a_click_only_zooms(page: Page,
                                                               live_server: str) -> None:
    """Issue 23: a click on a province of a province-only table just zoomed, with a black
    focus box and no word of why."""
    page.goto(f"{live_server}/choropleth?indicator=nso-household-income&level=province"
              "&classify=quantiles&k=5")
    wait_ready(page)
    with new_view(page):
        page.locator("#ctable tbody tr[data-code='50']").click()
    note = page.locator("#map-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("ตัวชี้วัดนี้มีข้อมูลถึงระดับจังหวัดเท่านั้น จึงซูมไปที่เชียงใหม่")
    expect(note.locator("a")).to_have_attribute("href", "/dashboard?province=50")
    assert "level=province" in page.url and page.js_errors == []


def test_bad_manual_breaks_are_said_beside_the_field(page: Page, live_server: str) -> None:
    """Issue 23: a refused breaks list failed below the fold with the old legend still shown."""
    page.goto(f"{live_server}/choropleth?indicator=nso-household-income&level=province"
              "&classify=quantiles&k=5")
    wait_ready(page)
    page.select_option("#c-method", "manual")
    page.fill("#c-breaks", "30000,20000")
    page.locator("#c-breaks").dispatch_event("change")
    error = page.locator("#breaks-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("breaks must increase")
    expect(page.locator("#c-breaks")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#map-legend")).to_have_class(re.compile(r"\bstale\b"))
    assert page.evaluate("() => document.activeElement.id") == "c-breaks"
    with new_view(page):
        page.fill("#c-breaks", "20000,30000")
        page.locator("#c-breaks").dispatch_event("change")
    expect(error).to_be_hidden()
    expect(page.locator("#map-legend")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#legend .row[data-class]")).to_have_count(3)
