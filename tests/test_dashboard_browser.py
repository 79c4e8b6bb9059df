"""The area dashboard in real Chromium (issue 14): drill-down by click and by drop-down and back
by the breadcrumbs, charts that show the API's numbers, nothing fetched beyond 127.0.0.1, and a
phone layout with no sideways scroll."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from tests.pagestate import wait_ready

pytestmark = pytest.mark.browser

CHART_DATA = """() => [...document.querySelectorAll("[data-chart]")]
  .filter((fig) => fig.querySelector(".chart")).map((fig) => {
  const o = echarts.getInstanceByDom(fig.querySelector(".chart")).getOption();
  const cat = [...(o.yAxis || []), ...(o.xAxis || [])].find((a) => a.type === "category");
  return { id: fig.dataset.chart, layer: fig.dataset.layer || null, type: o.series[0].type,
           labels: cat ? cat.data : o.series[0].data.map((d) => d.name),
           series: o.series.map((s) => s.data.map((d) =>
             (d && typeof d === "object") ? d.value : d)) };
})"""


def guard(page: Page) -> list[str]:
    """Every request the page makes; any beyond 127.0.0.1 is refused and recorded."""
    outside: list[str] = []

    def check(route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", check)
    return outside


def open_ready(page: Page, url: str) -> None:
    page.goto(url)
    wait_ready(page)


def arrive(page: Page, pattern: str) -> None:
    """After a click that navigates: the new page's URL, then its own readiness."""
    page.wait_for_url(re.compile(pattern))
    wait_ready(page)


def test_drill_down_by_click_and_drop_down_and_back(page, live_server):
    outside = guard(page)
    open_ready(page, f"{live_server}/dashboard")
    expect(page.locator("#area-name")).to_contain_text("ประเทศไทย")
    # by click: Chiang Mai's row in the provinces' table
    page.click('a[data-child="50"]')
    arrive(page, r"/dashboard\?province=50$")
    expect(page.locator("#area-name")).to_contain_text("เชียงใหม่")
    expect(page.locator("#d-province")).to_have_value("50")
    # by drop-down: a district, then a subdistrict
    page.select_option("#d-district", "5001")
    arrive(page, r"/dashboard\?district=5001$")
    expect(page.locator("#area-name")).to_contain_text("เมืองเชียงใหม่")
    page.select_option("#d-subdistrict", "500101")
    arrive(page, r"/dashboard\?subdistrict=500101$")
    expect(page.locator("#area-name")).to_contain_text("ศรีภูมิ")
    expect(page.locator(".crumbs li")).to_have_count(4)
    # and back up by the breadcrumbs
    page.click('.crumbs a[data-level="district"]')
    arrive(page, r"/dashboard\?district=5001$")
    page.click('.crumbs a[data-level="province"]')
    arrive(page, r"/dashboard\?province=50$")
    page.click('.crumbs a[data-level="country"]')
    arrive(page, r"/dashboard$")
    expect(page.locator("#area-name")).to_contain_text("ประเทศไทย")
    assert outside == []
    assert page.js_errors == [] and page.csp_refusals == []
    assert page.evaluate("window.__cspViolations") == []


def test_a_click_on_a_bar_goes_down(page, live_server):
    open_ready(page, f"{live_server}/dashboard?province=50")
    chart = page.locator('[data-chart="children"] .chart')
    # the first (longest) bar is at the top of the horizontal chart: click on its row
    first = page.evaluate("""() => {
      const c = echarts.getInstanceByDom(document.querySelector('[data-chart="children"] .chart'));
      return c.convertToPixel({ gridIndex: 0 }, [c.getOption().series[0].data[0] / 2, 0]);
    }""")
    chart.click(position={"x": first[0], "y": first[1]})  # scrolls it into view first
    arrive(page, r"/dashboard\?district=50\d\d$")


def test_a_click_on_the_map_goes_down(page, live_server):
    open_ready(page, f"{live_server}/dashboard?district=5001")
    areas = page.locator("#child-map path.leaflet-interactive")
    expect(areas).to_have_count(16)  # Mueang Chiang Mai's subdistricts
    areas.first.click()
    arrive(page, r"/dashboard\?subdistrict=5001\d\d$")


def test_every_chart_shows_the_api_numbers(page, live_server, client):
    open_ready(page, f"{live_server}/dashboard?province=50")
    api = client.get("/api/areas/province/50/summary").get_json()
    charts = {c["id"]: c for c in page.evaluate(CHART_DATA)}
    # child areas compared: the chosen layer's count for every district, by name
    children = charts.pop("children")
    by_name = {c["name_th"]: c["counts"][children["layer"]] for c in api["children"]}
    assert dict(zip(children["labels"], children["series"][0], strict=True)) == by_name
    # each layer's categories
    expected = 0
    for layer in api["layers"]:
        for cat in layer["categories"]:
            if not cat["values"]:
                continue
            expected += 1
            figure = page.locator(f'[data-chart="{layer["id"]}:{cat["field"]}"]')
            if len(cat["values"]) == 1:  # one value is a sentence, not a one-slice donut
                expect(figure.locator(f'[data-single="{cat["field"]}"]')).to_contain_text(
                    f"ทั้งหมด {cat['values'][0]['count']:,} เป็น {cat['values'][0]['label_th']}")
                continue
            chart = charts.pop(f"{layer['id']}:{cat['field']}")
            if cat["type"] == "year_be":  # years are a trend: a line, never a donut
                assert chart["type"] == "line", cat["field"]
            assert chart["labels"] == [v["label_th"] for v in cat["values"]]
            assert chart["series"][0] == [v["count"] for v in cat["values"]]
        # added per month: a line, or one month written out
        months = layer["added_by_month"]
        if len(months) > 1:
            chart = charts.pop(f"{layer['id']}:added")
            assert chart["series"][0] == [m["count"] for m in months]
        elif months:
            expect(page.locator(f'[data-chart="{layer["id"]}:added"] [data-single]')
                   ).to_contain_text(f"ทั้งหมด {months[0]['count']:,} เพิ่มเข้าระบบในเดือน")
    assert expected >= 8
    # indicators over the years: the province, and the mean of all provinces
    lines = 0
    for ind in api["indicators"]:
        series = [s for s in ind["series"] if s["year"] is not None]
        if len(series) < 2:
            continue
        lines += 1
        chart = charts.pop(f"indicator:{ind['id']}")
        assert chart["labels"] == [str(s["year"]) for s in series]  # 2558, never 2,558
        assert chart["series"][0] == [s["value"] for s in series]
        assert chart["series"][-1] == pytest.approx([s["level_mean"] for s in series])
    assert lines >= 2
    assert charts == {}, f"charts not checked: {list(charts)}"
    # the cards: the same numbers, written the Thai way
    plots = next(x for x in api["layers"] if x["id"] == "khok-nong-na")
    expect(page.locator('[data-card="khok-nong-na"] .card-value')).to_have_text(
        f"{plots['count']:,}")
    rank = "อันดับร่วม" if plots["tied"] > 1 else "อันดับ"
    expect(page.locator('[data-card="khok-nong-na"] .card-note')).to_contain_text(
        f"{rank} {plots['rank']} จาก 77 จังหวัดในประเทศไทย")


def test_a_district_card_says_its_share_of_the_province_and_ties(page, live_server, client):
    """Issue 23, item 3: "% of Chiang Mai", not "% of the country"; all-equal says so."""
    open_ready(page, f"{live_server}/dashboard?district=5001")
    api = client.get("/api/areas/district/5001/summary").get_json()
    for item in api["layers"]:
        note = page.locator(f'[data-card="{item["id"]}"] .card-note')
        expect(note).to_contain_text("ของเชียงใหม่")
        expect(note).not_to_contain_text("ของประเทศ")
        if item["all_equal"]:
            expect(note).to_contain_text(f"เท่ากันทั้ง {item['of']} อำเภอ/เขตในเชียงใหม่")
        elif item["tied"] > 1:
            expect(note).to_contain_text(f"อันดับร่วม {item['rank']} จาก {item['of']}")
        else:
            expect(note).to_contain_text(f"อันดับ {item['rank']} จาก {item['of']}")


def test_tables_sort_and_share_links(page, live_server):
    open_ready(page, f"{live_server}/dashboard")
    table = page.locator('[data-chart="children"] table')
    header = table.locator("th").nth(2)  # the first layer's count
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    values = [int(v) for v in table.locator("tbody td:nth-child(3)").evaluate_all(
        "(tds) => tds.map((td) => td.dataset.value)")]
    assert values == sorted(values, reverse=True) and len(values) == 77
    line = page.locator("#share-line").get_attribute("href")
    assert line.startswith("https://social-plugins.line.me/lineit/share?url=")
    image = page.locator('meta[property="og:image"]').get_attribute("content")
    r = page.request.get(image)
    assert r.status == 200 and r.headers["content-type"] == "image/png"
    assert r.body()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("query", ["", "?province=50", "?subdistrict=500101"])
def test_phone_has_no_sideways_scroll(phone, live_server, query):
    open_ready(phone, f"{live_server}/dashboard{query}")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= phone.viewport_size["width"], width
    assert phone.js_errors == []


def test_village_dashboard_from_its_subdistrict(page, live_server, client, engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        sub = conn.execute(text("""SELECT subdistrict_code FROM layer_features
            WHERE layer = 'khok-nong-na' AND province_code = '50' GROUP BY 1
            ORDER BY count(*) DESC, 1 LIMIT 1""")).scalar_one()
    open_ready(page, f"{live_server}/dashboard?subdistrict={sub}")
    expect(page.locator("#map-block")).to_be_hidden()  # villages have no outlines
    village = page.locator("a[data-child]").first
    code = village.get_attribute("data-child")
    village.click()
    arrive(page, rf"/dashboard\?village={code}$")
    expect(page.locator(".crumbs li")).to_have_count(5)
    api = client.get(f"/api/areas/village/{code}/summary").get_json()
    expect(page.locator("#area-name")).to_contain_text(api["area"]["name_th"])
    centres = page.locator('[data-nearby="learning-centers"] tbody tr')
    expect(centres).to_have_count(5)
    first = next(n for n in api["nearby"] if n["layer"] == "learning-centers")
    expect(centres.first).to_contain_text(first["name"])
    page.click('.crumbs a[data-level="subdistrict"]')
    arrive(page, rf"/dashboard\?subdistrict={sub}$")


def test_numbers_the_thai_way(page, live_server):
    open_ready(page, f"{live_server}/dashboard?province=50")
    num = "(x) => window.cddgisDashboard.num(x)"
    assert page.evaluate(f"({num})(1640479)") == "1,640,479"
    assert page.evaluate(f"({num})(14950.4)") == "14,950"
    assert page.evaluate(f"({num})(12.345)") == "12.3"
    assert page.evaluate(f"({num})(0.012345)") == "0.0123"  # a small rate keeps its digits
    assert page.evaluate(f"({num})(0)") == "0"
    expect(page.locator('[data-card="population"] .card-value')).to_have_text("1,640,479")


def test_print_lays_out_on_a4(page, live_server):
    open_ready(page, f"{live_server}/dashboard?province=50")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 703, "height": 1000})  # A4 less 12 mm margins, at 96 dpi
    page.evaluate("window.cddgisDashboard.charts.forEach((c) => c.resize())")
    expect(page.locator(".share")).to_be_hidden()
    expect(page.locator("#dform")).to_be_hidden()
    expect(page.locator(".topbar")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 703
    pdf = page.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pdf[:5] == b"%PDF-" and 1 <= pages <= 12, pages


def test_choosing_a_region_opens_its_dashboard(page, live_server, client):
    """Issue 23: ภาคเหนือ in the drop-down opens the north's own page (its 17 provinces on the
    map and in the chart), and a province from the narrowed list goes down from there."""
    open_ready(page, f"{live_server}/dashboard")
    page.select_option("#d-region", "north")
    arrive(page, r"/dashboard\?region=north$")
    expect(page.locator("#area-name")).to_contain_text("ภาคเหนือ")
    api = client.get("/api/areas/region/north/summary").get_json()
    expect(page.locator("#child-map path.leaflet-interactive")).to_have_count(17)
    expect(page.locator('[data-card="khok-nong-na"] .card-value')).to_have_text(
        f"{next(x for x in api['layers'] if x['id'] == 'khok-nong-na')['count']:,}")
    expect(page.locator("#d-region")).to_have_value("north")
    # the north's 17 provinces and "all" are offered; the others are hidden
    assert page.locator("#d-province option:not([hidden])").count() == 18
    page.select_option("#d-province", "50")
    arrive(page, r"/dashboard\?province=50$")
    expect(page.locator("#area-name")).to_contain_text("เชียงใหม่")


def test_village_drop_down(page, live_server, client, engine):
    """Issue 23: villages are reached by a drop-down too, not only by a subdistrict's chart."""
    with engine.connect() as conn:  # a subdistrict of Chiang Mai whose layers name villages
        sub = conn.execute(text("""SELECT subdistrict_code FROM layer_features
            WHERE province_code = '50' AND properties->>'village_no' ~ '^[0-9]+$'
            GROUP BY 1 ORDER BY count(DISTINCT properties->>'village_no') DESC, 1
            LIMIT 1""")).scalar_one()
    open_ready(page, f"{live_server}/dashboard?subdistrict={sub}")
    villages = client.get(f"/api/areas/subdistrict/{sub}/summary").get_json()["villages"]
    assert len(villages) > 1
    expect(page.locator("#d-village option")).to_have_count(len(villages) + 1)
    page.select_option("#d-village", villages[-1]["code"])
    arrive(page, rf"/dashboard\?village={villages[-1]['code']}$")
    expect(page.locator("#area-name")).to_contain_text(villages[-1]["name_th"])
    expect(page.locator("#d-village")).to_have_value(villages[-1]["code"])
    expect(page.locator("#d-subdistrict")).to_have_value(sub)
    page.select_option("#d-village", "")
    arrive(page, rf"/dashboard\?subdistrict={sub}$")


def test_compare_four_areas_in_the_browser(page, live_server, client):
    """Issue 23, item 3: from a district's dashboard to a comparison, an area added by the form
    and another removed; each chart holds the API's numbers, nothing fetched from outside."""
    outside = guard(page)
    open_ready(page, f"{live_server}/dashboard?district=5001")
    page.click("#compare")
    arrive(page, r"/dashboard/compare\?areas=district")
    page.select_option("#c-add", "region:north")
    page.click("#add-area button[type=submit]")
    arrive(page, r"add=region")
    page.select_option("#c-add", "province:55")
    page.click("#add-area button[type=submit]")
    arrive(page, r"add=province")
    api = client.get("/api/areas/compare?areas=district:5001,province:50,region:north,"
                     "province:55").get_json()
    expect(page.locator("#compare-table thead th[data-area]")).to_have_count(4)
    expect(page.locator("#c-add")).to_be_disabled()
    data = {c["id"]: c for c in page.evaluate(CHART_DATA)}
    for row in api["layers"]:
        assert data[f"{row['id']}:count"]["labels"] == [a["name_th"] for a in api["areas"]]
        assert data[f"{row['id']}:count"]["series"][0] == [c["count"] for c in row["cells"]]
    page.locator('th[data-area="region:north"] a.remove').click()
    arrive(page, r"/dashboard/compare\?areas=")
    expect(page.locator("#compare-table thead th[data-area]")).to_have_count(3)
    expect(page.locator('th[data-area="region:north"]')).to_have_count(0)
    assert outside == []


def test_a_click_on_a_bar_filters_the_layer(page, live_server, client):
    """Issue 23, item 5: a bar clicked filters its layer's card, other charts, children and
    map; the URL keeps it; "clear" goes back."""
    open_ready(page, f"{live_server}/dashboard?province=50")
    fig = page.locator('[data-chart="khok-nong-na:plot_size_rai"] .chart')
    api = client.get("/api/areas/province/50/summary").get_json()
    sizes = next(c for c in next(x for x in api["layers"] if x["id"] == "khok-nong-na")
                 ["categories"] if c["field"] == "plot_size_rai")["values"]
    k = max(range(len(sizes)), key=lambda i: sizes[i]["count"])  # the tallest bar
    x, y = fig.evaluate("""(box, k) => {
        const chart = echarts.getInstanceByDom(box);
        const value = chart.getOption().series[0].data[k];
        return chart.convertToPixel({ seriesIndex: 0 }, [k, (value.value ?? value) / 2]);
    }""", k)
    fig.click(position={"x": x, "y": y})
    chosen = f"khok-nong-na:plot_size_rai:{sizes[k]['value']}"
    arrive(page, r"filter=khok-nong-na%3Aplot_size_rai%3A")
    filtered = client.get(f"/api/areas/province/50/summary?filter={chosen}").get_json()
    plots = next(x for x in filtered["layers"] if x["id"] == "khok-nong-na")
    assert plots["count"] == sizes[k]["count"]
    expect(page.locator("#filter-note")).to_contain_text(sizes[k]["label_th"])
    expect(page.locator('[data-card="khok-nong-na"] .card-value')).to_have_text(
        f"{plots['count']:,}")
    charts = {c["id"]: c for c in page.evaluate(CHART_DATA)}
    by_name = {c["name_th"]: c["counts"]["khok-nong-na"] for c in filtered["children"]}
    assert charts["children"]["layer"] == "khok-nong-na"
    assert dict(zip(charts["children"]["labels"], charts["children"]["series"][0],
                    strict=True)) == by_name
    level = next(c for c in plots["categories"] if c["field"] == "model_level")
    if len(level["values"]) > 1:
        assert charts["khok-nong-na:model_level"]["series"][0] == [
            v["count"] for v in level["values"]]
    # down a level, the filter goes along; clear goes back to every feature
    page.click('a[data-child="5001"]')
    arrive(page, r"district=5001&filter=")
    page.locator("#clear-filter").click()
    arrive(page, r"/dashboard\?district=5001$")
    expect(page.locator("#filter-note")).to_have_count(0)


# Thai fonts (TLWG's Loma here) draw shifted tone marks and vowels with private-use glyphs
# (the Microsoft/Monotype convention), and a PDF's text carries those code points; read back,
# they are mapped to the letters they stand for, and SARA AM to its one code point.
THAI_PUA = {0xF700: 0x0E10, 0xF70F: 0x0E0D, 0xF710: 0x0E31, 0xF711: 0x0E4D, 0xF712: 0x0E47,
            0xF718: 0x0E38, 0xF719: 0x0E39, 0xF71A: 0x0E3A,
            **{0xF701 + i: 0x0E34 + i for i in range(4)},
            **{base + i: 0x0E48 + i for base in (0xF705, 0xF70A, 0xF713) for i in range(5)}}


def thai_from_pdf(text: str) -> str:
    return text.translate(THAI_PUA).replace("\u0e4d\u0e32", "\u0e33")


def test_the_printed_pdf_holds_the_area_and_the_api_numbers(page, live_server, client, tmp_path):
    """Issue 23, item 6: a report-ready PDF, drawn by Chromium's print of the page (A4, its
    fonts embedded, no service outside): its text holds the area's names and the numbers the
    API gives."""
    from pypdf import PdfReader

    open_ready(page, f"{live_server}/dashboard?province=50")
    page.emulate_media(media="print")
    path = tmp_path / "dashboard.pdf"
    page.pdf(path=str(path), format="A4", print_background=True)
    reader = PdfReader(path)
    width, height = (float(x) for x in reader.pages[0].mediabox.upper_right)
    assert abs(width - 595.3) < 1.5 and abs(height - 841.9) < 1.5  # A4 (210 × 297 mm)
    fonts = {str(f.get_object().get("/BaseFont", "")) for p in reader.pages
             for f in (p.get("/Resources", {}).get("/Font", {}) or {}).values()}
    # fonts embedded as subsets (ABCDEF+Name): the Thai text below is readable without them
    assert any("+" in f for f in fonts), fonts
    text = thai_from_pdf(" ".join(p.extract_text() for p in reader.pages))
    api = client.get("/api/areas/province/50/summary").get_json()
    assert "เชียงใหม่" in text and "Chiang Mai" in text
    for layer in api["layers"]:
        assert f"{layer['count']:,}" in text, layer["id"]
    assert f"{round(api['population']['value']):,}" in text


def test_theme_tabs_keep_the_theme_down_the_levels(page, live_server, client):
    """Issue 23, item 2: a theme's tab narrows the page; drilling down keeps the theme."""
    open_ready(page, f"{live_server}/dashboard?province=50")
    page.click('nav.themes a[data-theme="community-economy"]')
    arrive(page, r"/dashboard\?(?=.*\bprovince=50\b)(?=.*\btheme=community-economy\b)")
    api = client.get("/api/areas/province/50/summary?theme=community-economy").get_json()
    expect(page.locator("#cards .layer-card")).to_have_count(len(api["layers"]))
    page.click('a[data-child="5001"]')
    arrive(page, r"/dashboard\?district=5001&theme=community-economy$")
    expect(page.locator('nav.themes a[aria-current="page"]')).to_have_attribute(
        "data-theme", "community-economy")
