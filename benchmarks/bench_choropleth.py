"""Nationwide subdistrict choropleth: a naive Folium choropleth of the raw geometry (baseline)
against cddgis's page (simplified coverage + cached areas + values, gzip).

Both show the OSM POI count for all 7,425 subdistricts. Server time is measured warm (median of
N requests after one warm-up) over loopback; bytes are what the browser transfers (gzip where the
app applies it). Run from the repository root:

    .venv/bin/python -m benchmarks.bench_choropleth [--requests 7]
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

from benchmarks.common import bench_database, bench_settings, served
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=7)
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
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "choropleth.json").write_text(json.dumps({
        "baseline": {"seconds": base_seconds, "bytes": len(raw),
                     "gzip_bytes": len(gzip.compress(raw))},
        "cddgis": {name: {"seconds": s, "bytes": len(b)} for name, (s, b) in ours.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
