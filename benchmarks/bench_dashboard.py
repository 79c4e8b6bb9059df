"""Area dashboards (issue 14): server time and bytes for the country's and a province's
dashboard, fully drawn.

Headless Chromium opens each dashboard once and records every request the page makes (HTML,
CSS, scripts, the map's areas, the drop-downs' lists). Each of those is then fetched warm over
loopback (median of N after a warm-up); server time is the sum of the medians, bytes the sum of
what travels with gzip — the app gzips HTML and JSON itself, and for static files (which Flask
sends uncompressed) the gzip size nginx sends in production (`make prod`) is given beside the raw
size. The summary API alone is timed too. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_dashboard [--requests 7]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import time
import urllib.request
from pathlib import Path

from benchmarks.common import bench_database, bench_settings, served
from gis.indicator_store import load_catalog
from gis.samples import load_samples

CHROMIUM = "/usr/bin/chromium"
PAGES = {"country": "/dashboard", "province 50 (Chiang Mai)": "/dashboard?province=50",
         "district 5001": "/dashboard?district=5001",
         "subdistrict 500101": "/dashboard?subdistrict=500101"}


def fetch(url: str) -> tuple[float, int, int]:
    """(seconds, bytes on the wire with gzip, bytes if gzipped by a proxy)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    seconds = time.perf_counter() - started
    return seconds, len(body), len(body) if encoded else len(gzip.compress(body, 6))


def page_requests(root: str, path: str) -> list[str]:
    """Every URL the page loads until it says it is ready."""
    from playwright.sync_api import sync_playwright

    urls: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.on("request", lambda r: urls.append(r.url))
        page.goto(root + path)
        # a function, not a string: the page's CSP refuses eval
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60_000)
        browser.close()
    return list(dict.fromkeys(urls))


def measure(urls: list[str], n: int) -> tuple[float, int, int, list[tuple[str, float, int]]]:
    total_s, wire, proxied, rows = 0.0, 0, 0, []
    for url in urls:
        fetch(url)  # warm-up
        runs = [fetch(url) for _ in range(n)]
        seconds = statistics.median(r[0] for r in runs)
        _, raw_wire, gz = runs[-1]
        total_s += seconds
        wire += raw_wire
        proxied += gz
        rows.append((url, seconds, gz))
    return total_s, wire, proxied, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the figures
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_catalog(engine, settings.data_dir)
    load_samples(engine, settings.data_dir)
    results: dict[str, dict[str, object]] = {}
    with served(settings, url) as root:
        print(f"{os.cpu_count()} cores; warm medians of {args.requests}")
        print("| dashboard | requests | server time, summed (warm) | summary API alone "
              "| bytes, app as is | bytes with gzip everywhere (nginx) |")
        print("|---|---|---|---|---|---|")
        for name, path in PAGES.items():
            urls = page_requests(root, path)
            seconds, wire, proxied, rows = measure(urls, args.requests)
            level, _, code = (path.split("?")[1].partition("=") if "?" in path
                              else ("country", "", "TH"))
            api = f"{root}/api/areas/{level}/{code}/summary"
            fetch(api)
            api_s = statistics.median(fetch(api)[0] for _ in range(args.requests))
            print(f"| {name} | {len(urls)} | {seconds * 1000:.0f} ms | {api_s * 1000:.0f} ms "
                  f"| {wire:,} | {proxied:,} |")
            results[name] = {"requests": len(urls), "seconds": seconds, "api_seconds": api_s,
                             "bytes": wire, "gzip_bytes": proxied,
                             "parts": [{"url": u.replace(root, ""), "seconds": s, "gzip_bytes": b}
                                       for u, s, b in rows]}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
