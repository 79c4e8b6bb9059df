"""The maps draw from vector tiles with nothing from the internet (issue 13): every request the
browser makes goes to 127.0.0.1, the offline basemap paints the land and writes Thai names in
the app's own font, a local PMTiles basemap is read by range requests, and the layer map still
counts right."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, Response

from tests.pagestate import new_view, wait_ready
from tests.test_basemap import pmtiles_app, pmtiles_file, pmtiles_server  # noqa: F401
from tests.test_layers_browser import GRID_PAINTED

pytestmark = pytest.mark.browser
PMTILES = "/api/basemap/basemap.pmtiles"

# Every string a canvas writes, with its font and the map layer the canvas belongs to.
TEXT_SPY = """
window.__drawnText = [];
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  const box = this.canvas.closest ? this.canvas.closest(".cddgis-basemap, .cddgis-pmtiles") : null;
  window.__drawnText.push({ text: String(text), font: this.font,
                            layer: box ? box.classList[box.classList.length - 1] : "" });
  return fillText.call(this, text, ...rest);
};
"""

# The RGBA of the basemap's canvas at a lon/lat (null where no tile canvas covers it).
PIXEL_AT = """([lon, lat]) => {
  const map = cddgisCommon.pageMap();
  const pt = map.latLngToContainerPoint([lat, lon]);
  const r0 = map.getContainer().getBoundingClientRect();
  const x = r0.left + pt.x, y = r0.top + pt.y;
  for (const c of document.querySelectorAll(".cddgis-basemap canvas")) {
    const r = c.getBoundingClientRect();
    if (x < r.left || x >= r.right || y < r.top || y >= r.bottom || !r.width) continue;
    const px = Math.floor((x - r.left) * c.width / r.width);
    const py = Math.floor((y - r.top) * c.height / r.height);
    return Array.from(c.getContext("2d").getImageData(px, py, 1, 1).data);
  }
  return null;
}"""


@pytest.fixture
def requests(page: Page) -> Iterator[list[str]]:
    """Every URL the page asks for, from the first."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.add_init_script(TEXT_SPY)
    yield urls


def _leaving(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme not in ("data", "blob")
            and urlsplit(u).hostname != "127.0.0.1"]


def _wait_label(page: Page, name: str, layer: str = "cddgis-basemap") -> dict[str, str]:
    handle = page.wait_for_function(
        "([name, layer]) => window.__drawnText.find((t) => t.text === name && t.layer === layer)",
        arg=[name, layer])
    return handle.json_value()


def test_boundaries_draw_an_offline_basemap_in_thai(page: Page, requests: list[str],
                                                    live_server: str) -> None:
    page.goto(f"{live_server}/boundaries")
    wait_ready(page)
    label = _wait_label(page, "เชียงใหม่")
    assert "Sarabun" in label["font"]
    assert page.evaluate("() => document.fonts.check('600 14px Sarabun', 'เชียงใหม่')")
    assert page.evaluate("() => document.documentElement.lang") == "th"
    # The land is painted where a province lies, the sea is left to the map's background.
    land = page.wait_for_function(f"() => ({PIXEL_AT})([99.5, 17.0])").json_value()
    assert land[3] == 255 and land[:3] != [0, 0, 0]
    assert page.evaluate(f"({PIXEL_AT})([96.5, 9.0])")[3] == 0  # Andaman Sea
    tiles = [u for u in requests if "/api/basemap/tiles/WebMercatorQuad/" in u]
    assert tiles, "the basemap drew from vector tiles"
    assert any(u.endswith(".woff2") for u in requests)  # the Thai font, from the app itself
    assert _leaving(requests) == []
    assert page.js_errors == []


def _api_count(live_server: str, query: str) -> int:
    with urllib.request.urlopen(f"{live_server}/api/collections/khok-nong-na/items?"
                                f"{query}&limit=1") as r:
        return int(json.load(r)["numberMatched"])


def test_layer_map_draws_from_tiles_counts_right_and_stays_on_loopback(
        page: Page, requests: list[str], live_server: str) -> None:
    page.goto(f"{live_server}/layers/khok-nong-na?region=north&model_level=CLM")
    wait_ready(page)
    assert int(page.locator("#count-total").get_attribute("data-value")) == _api_count(
        live_server, "region=north&model_level=CLM")
    # Regional zoom: the grid of counts is drawn from the layer's tiles, filtered as the counts.
    page.wait_for_function(GRID_PAINTED)
    grid = [u for u in requests if "/collections/khok-nong-na/tiles/WebMercatorQuad/" in u]
    assert grid and all("region=north" in u and "model_level=CLM" in u for u in grid)
    assert "/clusters?" not in " ".join(requests)  # the tiles replace the cluster request
    _wait_label(page, "เชียงใหม่")
    with new_view(page):
        page.select_option("#f-province", "50")  # zoomed in: the points, counted right
    assert int(page.locator("#count-total").get_attribute("data-value")) == _api_count(
        live_server, "province=50&model_level=CLM")
    assert page.locator("path.cddgis-point").count() > 0
    assert _leaving(requests) == []
    assert page.js_errors == []


def test_zoomed_in_names_districts_and_villages(page: Page, requests: list[str],
                                                live_server: str, engine) -> None:
    from sqlalchemy import text
    with engine.connect() as conn:
        village, lon, lat = conn.execute(text(
            "SELECT name_th, ST_X(geom), ST_Y(geom) FROM villages WHERE province_code = '50' "
            "AND district_code = '5001' ORDER BY id LIMIT 1")).one()
    page.goto(f"{live_server}/layers/khok-nong-na?z=15&c={lat:.5f},{lon:.5f}")
    wait_ready(page)
    _wait_label(page, village)
    assert _leaving(requests) == []


def test_a_local_pmtiles_basemap_is_read_by_ranges(page: Page, requests: list[str],
                                                   pmtiles_server: str) -> None:  # noqa: F811
    ranges: list[Response] = []
    asked: list[Request] = []
    page.on("response", lambda r: ranges.append(r) if PMTILES in r.url else None)
    page.on("request", lambda r: asked.append(r) if PMTILES in r.url else None)
    page.goto(f"{pmtiles_server}/boundaries")
    wait_ready(page)
    _wait_label(page, "เชียงใหม่", "cddgis-pmtiles")
    assert ranges and all(r.status == 206 for r in ranges)
    assert all(r.headers.get("range", "").startswith("bytes=") for r in asked)
    assert _leaving(requests) == []
    assert page.js_errors == []


def test_tour_grid_from_tiles_in_thai(page: Page, requests: list[str], live_server: str) -> None:
    page.goto(f"{live_server}/tour")
    wait_ready(page)
    page.wait_for_function(GRID_PAINTED)
    assert any("/collections/otop-tourism-villages/tiles/WebMercatorQuad/" in u for u in requests)
    assert not any("/clusters?" in u for u in requests)  # the tiles draw the national view
    assert int(page.locator("#count").get_attribute("data-value")) > 0
    _wait_label(page, "เชียงใหม่")
    assert _leaving(requests) == []
    assert page.js_errors == []
