"""Page weight and load time of the Khok Nong Na plots map (22,791 sample plots).

Loads the real boundaries and the sample layers into a database of its own (``cddgis_bench``),
serves the app on loopback and opens the page in headless Chromium, counting every byte the
page fetches (HTML, JS, CSS, fonts, API and tiles), decoded and as transferred (the app gzips),
until the page reports ready and until the map is drawn (markers in the DOM, or the grid of counts
painted from vector tiles). Run from the repository root:

    .venv/bin/python -m benchmarks.bench_layers [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from playwright.sync_api import Page

from benchmarks.common import bench_database, bench_settings, response_sizes, served
from gis.samples import load_samples

VIEWS = {
    "national": "/layers/khok-nong-na",
    "region (north)": "/layers/khok-nong-na?region=north",
    "province (Chiang Mai)": "/layers/khok-nong-na?province=50",
}


DRAWN = """() => document.querySelector(".cddgis-cluster, path.cddgis-point") !== null ||
  [...document.querySelectorAll(".cddgis-grid canvas")].some((c) => {
    if (!c.width) return false;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
    return false;
  })"""


def measure(page: Page, url: str) -> dict[str, float]:
    responses = []
    page.on("response", lambda response: responses.append(response))

    started = time.perf_counter()
    page.goto(url)
    # A function, not an expression: the page's CSP forbids eval, which Playwright uses for one.
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60_000)
    elapsed = time.perf_counter() - started
    # Drawn: the points or cluster markers are in the DOM, or the grid of counts (vector tiles)
    # has painted its canvas, whichever the page draws at this zoom.
    page.wait_for_function(DRAWN, timeout=60_000)
    drawn = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    sizes = response_sizes(responses)  # url, body bytes, bytes on the wire
    html = next(s for s in sizes if "/layers/" in s[0] and "/api/" not in s[0])
    api = [s for s in sizes if "/api/" in s[0]]
    return {
        "seconds_to_ready": elapsed,
        "seconds_to_drawn": drawn,
        "requests": len(sizes),
        "html_bytes": html[1],
        "api_bytes": sum(s[1] for s in api),
        "basemap_bytes": sum(s[1] for s in api if "/api/basemap/" in s[0]),
        "total_bytes": sum(s[1] for s in sizes),
        "transferred_bytes": sum(s[2] for s in sizes),
        "markers_drawn": page.locator("path.cddgis-point").count(),
        "clusters_drawn": page.locator(".cddgis-cluster").count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_samples(engine, settings.data_dir)

    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, float]] = {}
    with served(settings, url) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        for name, path in VIEWS.items():
            runs = []
            for _ in range(args.runs + 1):  # the first run warms caches and is dropped
                context = browser.new_context(viewport={"width": 1400, "height": 850})
                page = context.new_page()
                runs.append(measure(page, base + path))
                context.close()
            runs = runs[1:]
            results[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        browser.close()

    print(f"Python {platform.python_version()}, {os.cpu_count()} cores; median of {args.runs}")
    print("| view | to ready (s) | to drawn (s) | requests | HTML (kB) | API (kB) "
          "| of which basemap (kB) | all (kB) "
          "| transferred (kB) | markers | clusters |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds_to_ready']:.2f} | {r['seconds_to_drawn']:.2f} "
              f"| {r['requests']:.0f} "
              f"| {r['html_bytes'] / 1000:.1f} | {r['api_bytes'] / 1000:.1f} "
              f"| {r['basemap_bytes'] / 1000:.1f} "
              f"| {r['total_bytes'] / 1000:.1f} | {r['transferred_bytes'] / 1000:.1f} "
              f"| {r['markers_drawn']:.0f} | {r['clusters_drawn']:.0f} |")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "layers.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
