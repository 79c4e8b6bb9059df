"""Nationwide subdistrict choropleth: a naive Folium choropleth of the raw geometry (baseline)
against cddgis's page (simplified coverage + cached areas + values, gzip).

Both show the OSM POI count for all 7,425 subdistricts. Server time is measured warm (median of
N requests after one warm-up) over loopback; bytes are what the browser transfers (gzip where the
app applies it). Then the page in headless Chromium, the subdistricts drawn from GeoJSON
(SVG paths) and from vector tiles (canvas), each in a fresh browser context (nothing cached; the
first run of each is dropped, as a warm-up of the server's caches): time to ready, time until
the areas are on the map, bytes, and the time to redraw after a zoom in and after a pan. Run
from the repository root:

    .venv/bin/python -m benchmarks.bench_choropleth [--requests 7] [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
import urllib.request
from pathlib import Path

import folium
import geopandas as gpd

from benchmarks.common import bench_database, bench_settings, response_sizes, served
from gis.indicator_store import load_catalog

INDICATOR = "osm-poi-count"


def naive_choropleth(engine) -> str:
    """What one writes first: the raw geometry from PostGIS into folium.Choropleth."""
    frame = gpd.read_postgis(
        "SELECT s.code, s.name_th, s.geom, v.value FROM subdistricts s LEFT JOIN "
        "indicator_values v ON v.area_code = s.code AND v.indicator_id = %(id)s",
        engine, geom_col="geom", params={"id": INDICATOR})
    fmap = folium.Map(location=[13, 101], zoom_start=6)
    folium.Choropleth(geo_data=frame.to_json(), data=frame, columns=["code", "value"],
                      key_on="feature.properties.code", fill_color="YlOrRd").add_to(fmap)
    return fmap.get_root().render()


def timed(fn, n: int) -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        return response.read()


PAGE = "/choropleth?indicator=osm-poi-count&level=subdistrict&classify=quantiles&k=5"

# The explorer's views, drawn from GeoJSON (as shipped) and from tiles (`draw=tiles`).
EXPLORER = {"national": "/boundaries?x=1", "province 50": "/boundaries?province=50",
            "district 5001": "/boundaries?district=5001"}

DRAWN = """([mode, svg, least]) => mode === "tiles"
  ? Boolean(document.querySelector(".leaflet-container").dataset.areasDrawn)
  : document.querySelectorAll(svg).length >= least"""

# A zoom in and a pan, each timed until the map has painted again: for SVG two animation
# frames (Leaflet re-projects every path on zoomend/moveend, then the browser paints); for
# tiles until every tile in view has been fetched and painted (the layer's load event).
REDRAW = """async ([mode]) => {
  const map = window[CDDGIS.mapName];
  const box = map.getContainer();
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const painted = () => new Promise((r) => {
    const check = () => (box.dataset.areasDrawn ? frames().then(r) : requestAnimationFrame(check));
    check();
  });
  const settle = mode === "tiles" ? painted : frames;
  const timed = async (move) => { const t = performance.now(); move(); await settle();
                                  return performance.now() - t; };
  const zoom = await timed(() => map.setZoom(map.getZoom() + 1, { animate: false }));
  const pan = await timed(() => map.panBy([250, 120], { animate: false }));
  return { zoom, pan };
}"""


def browser_run(browser, base: str, mode: str, path: str = PAGE, svg: str = "path.area",
                least: int = 7000) -> dict[str, float]:
    """One cold page load in a fresh context: times, bytes and redraws."""
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    started = time.perf_counter()
    page.goto(f"{base}{path}&draw={mode}")
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60_000)
    ready = time.perf_counter() - started
    page.wait_for_function(DRAWN, arg=[mode, svg, least], timeout=60_000)
    drawn = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    sizes = response_sizes(responses)
    data = [s for s in sizes if "/api/" in s[0] and "/api/basemap/" not in s[0]]
    redraw = page.evaluate(REDRAW, [mode])
    context.close()
    return {"seconds_to_ready": ready, "seconds_to_drawn": drawn,
            "requests": len(sizes), "data_bytes": sum(s[1] for s in data),
            "data_transferred": sum(s[2] for s in data),
            "all_bytes": sum(s[1] for s in sizes), "all_transferred": sum(s[2] for s in sizes),
            "zoom_redraw_ms": redraw["zoom"], "pan_redraw_ms": redraw["pan"]}


def browser_comparison(base: str, runs: int) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict[str, float]]] = {"geojson": [], "tiles": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        for run in range(runs + 1):  # interleaved; the first round warms the server up
            for mode in ("geojson", "tiles"):
                measured = browser_run(browser, base, mode)
                if run:
                    results[mode].append(measured)
                for name, path in EXPLORER.items():
                    measured = browser_run(browser, base, mode, path, "path.cddgis-child", 1)
                    if run:
                        results.setdefault(f"explorer {name}, {mode}", []).append(measured)
        browser.close()
    return {mode: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            for mode, rs in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_catalog(engine, settings.data_dir)

    base_seconds, html = timed(lambda: naive_choropleth(engine), max(2, args.requests // 2))
    raw = html.encode()

    with served(settings, url) as root:
        parts = {
            "page": f"{root}/choropleth?indicator={INDICATOR}&level=subdistrict",
            "areas": f"{root}/api/choropleth/areas?level=subdistrict",
            "values": f"{root}/api/indicators/{INDICATOR}/values?level=subdistrict"
                      "&classify=quantiles&k=5",
        }
        ours = {name: timed(lambda u=u: fetch(u), args.requests) for name, u in parts.items()}
        pages = browser_comparison(root, args.runs)
    ours_seconds = sum(t for t, _ in ours.values())
    ours_bytes = sum(len(body) for _, body in ours.values())

    print(f"{os.cpu_count()} cores; warm medians; {INDICATOR} for 7,425 subdistricts")
    print("| | server time (warm) | bytes transferred | bytes uncompressed |")
    print("|---|---|---|---|")
    print(f"| naive Folium choropleth, raw geometry | {base_seconds:.2f} s "
          f"| {len(raw):,} (no gzip) / {len(gzip.compress(raw)):,} (if gzipped) | {len(raw):,} |")
    for name, (seconds, body) in ours.items():
        plain = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        print(f"| cddgis {name} | {seconds * 1000:.1f} ms | {len(body):,} | {len(plain):,} |")
    print(f"| cddgis total | {ours_seconds * 1000:.1f} ms | {ours_bytes:,} | |")
    print(f"\nHeadless Chromium, {PAGE}, median of {args.runs} cold loads")
    print("| drawn from | to ready | to drawn | requests | data (decoded) | data (transferred) "
          "| all (transferred) | redraw after zoom in | redraw after pan |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, r in sorted(pages.items()):
        print(f"| {mode} | {r['seconds_to_ready']:.2f} s | {r['seconds_to_drawn']:.2f} s "
              f"| {r['requests']:.0f} | {r['data_bytes'] / 1000:,.1f} kB "
              f"| {r['data_transferred'] / 1000:,.1f} kB | {r['all_transferred'] / 1000:,.1f} kB "
              f"| {r['zoom_redraw_ms']:.0f} ms | {r['pan_redraw_ms']:.0f} ms |")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "choropleth.json").write_text(json.dumps({
        "baseline": {"seconds": base_seconds, "bytes": len(raw),
                     "gzip_bytes": len(gzip.compress(raw))},
        "cddgis": {name: {"seconds": s, "bytes": len(b)} for name, (s, b) in ours.items()},
        "browser": pages,
    }, indent=2))


if __name__ == "__main__":
    main()
