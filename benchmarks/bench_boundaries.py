"""Boundary load time, and time and bytes of /boundaries and a 1,000-subdistrict API page.

Uses a database of its own (``cddgis_bench``) on the project's local PostGIS and serves the app
on loopback. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_boundaries [--loads 3] [--requests 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import urllib.request
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import bench_database, bench_settings, p95, served
from gis.boundary_store import load_boundaries

URLS = {
    "/boundaries": "/boundaries",
    "subdistricts of Chiang Mai (API)":
        "/api/collections/subdistricts/items?province=50&limit=1000",
}


def fetch(url: str, gzip_ok: bool) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    settings = bench_settings()
    url, engine = bench_database(settings, boundaries=False)

    load_seconds = []
    for _ in range(args.loads):
        started = time.perf_counter()
        load_boundaries(engine, settings.data_dir)
        load_seconds.append(time.perf_counter() - started)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT current_setting('server_version'), "
                                     "postgis_lib_version()")).one()

    pages = {}
    with served(settings, url) as base:
        for name, path in URLS.items():
            fetch(base + path, gzip_ok=False)  # warm-up
            timings = [fetch(base + path, gzip_ok=False) for _ in range(args.requests)]
            _, packed = fetch(base + path, gzip_ok=True)
            pages[name] = {"median_ms": statistics.median(t for t, _ in timings) * 1000,
                           "p95_ms": p95([t for t, _ in timings]) * 1000,
                           "bytes": timings[0][1], "gzip_bytes": packed}

    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, PostgreSQL "
          f"{versions[0]}, PostGIS {versions[1]}")
    median = statistics.median(load_seconds)
    print(f"Full boundary load (77 + 928 + 7,425 units): median {median:.2f} s, "
          f"min {min(load_seconds):.2f} s over {args.loads} loads")
    print("| request | median (ms) | p95 (ms) | bytes | gzip bytes |")
    print("|---|---|---|---|---|")
    for name, r in pages.items():
        print(f"| {name} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['bytes']:,} "
              f"| {r['gzip_bytes']:,} |")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "boundaries.json").write_text(json.dumps(
        {"load_seconds": load_seconds, "pages": pages}, indent=2))


if __name__ == "__main__":
    main()
