"""The nationwide subdistrict choropleth draws from vector tiles, styled by code in the browser,
and still answers hover (tooltip with the area's name) and click (the drill-down)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from tests.pagestate import wait_ready

pytestmark = pytest.mark.browser

DRAWN = ("() => document.querySelector('.leaflet-container').dataset.areasDrawn === "
         "'subdistricts'")
# The pixel of the page at a lon/lat, as [r, g, b, a], read from the choropleth's canvases.
PIXEL = """([lon, lat]) => {
  const map = cddgisCommon.pageMap();
  const p = map.latLngToContainerPoint([lat, lon]);
  const box = map.getContainer().getBoundingClientRect();
  for (const c of document.querySelectorAll(".cddgis-choropleth-tiles canvas")) {
    const r = c.getBoundingClientRect();
    const x = box.left + p.x, y = box.top + p.y;
    if (x >= r.left && x < r.right && y >= r.top && y < r.bottom && c.width) {
      const k = c.width / r.width;
      return [...c.getContext("2d").getImageData(Math.floor((x - r.left) * k),
                                                 Math.floor((y - r.top) * k), 1, 1).data];
    }
  }
  return null;
}"""


def _inside(engine: Engine, code: str) -> tuple[float, float]:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM subdistricts WHERE code = :c) s"), {"c": code}).one()


def _screen(page: Page, lon: float, lat: float) -> tuple[float, float]:
    return page.evaluate("""([lon, lat]) => {
        const map = cddgisCommon.pageMap();
        const p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [lon, lat])


def test_nationwide_subdistricts_from_tiles_with_hover_and_click(
        page: Page, live_server: str, engine: Engine) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server}/choropleth?indicator=osm-poi-count&level=subdistrict"
              "&classify=quantiles&k=5")
    wait_ready(page)
    page.wait_for_function(DRAWN)
    assert any("/api/collections/subdistricts/tiles/WebMercatorQuad/" in u for u in requests)
    assert not any("/api/choropleth/areas?level=subdistrict" in u for u in requests)
    assert page.locator("path.area").count() == 0  # no SVG path per area
    assert page.locator("#ctable tbody tr").count() > 7000

    # Zoomed in on Chiang Mai: Si Phum (500101) is painted in its class colour, and the
    # pointer over it names it.
    lon, lat = _inside(engine, "500101")
    page.evaluate("([lon, lat]) => cddgisCommon.pageMap().setView([lat, lon], 13, "
                  "{ animate: false })", [lon, lat])
    page.wait_for_function(DRAWN)
    color = page.wait_for_function(f"() => {{ const p = ({PIXEL})([{lon}, {lat}]); "
                                   "return p && p[3] ? p : false; }").json_value()
    assert color[3] > 0
    x, y = _screen(page, lon, lat)
    page.mouse.move(x, y)
    tip = page.locator(".cddgis-area-tip")
    expect(tip).to_contain_text("ศรีภูมิ")
    # The tooltip's text is the indicator's, from the values answer (name, value and rank).
    expect(tip).to_contain_text("อันดับ")

    # A click asks for the drill-down (the deepest level: the page says so, or zooms to it).
    page.mouse.click(x, y)
    page.wait_for_function("""() => document.getElementById("status").textContent.includes(
        "this indicator goes no deeper") ||
        cddgisCommon.pageMap().getContainer().dataset.zoomed === "500101" """)
    assert page.js_errors == []


def test_province_level_stays_geojson(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/choropleth?indicator=nso-household-income&level=province"
              "&classify=quantiles&k=5")
    wait_ready(page)
    assert page.locator("path.area").count() == 77
    assert page.locator(".cddgis-choropleth-tiles").count() == 0
