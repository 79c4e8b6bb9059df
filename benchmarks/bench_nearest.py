"""Latency of "the 5 nearest" over the learning centers and over a 1,000,000-point layer.

Loads the boundaries and the sample layers into ``cddgis_bench``, adds a synthetic layer of
1,000,000 random points over Thailand's extent, then times nearest-5 queries from 200 seeded
random origins: the query alone, the query with its numberMatched count, and (for the real
layer) the API request end to end, served on loopback. Run from
the repository root:

    .venv/bin/python -m benchmarks.bench_nearest [--points 1000000] [--origins 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import urllib.request
from pathlib import Path

from sqlalchemy import text

from benchmarks.common import bench_database, bench_settings, p95, served
from core.schema import Field, Layer
from gis import layer_queries as lq
from gis.samples import load_samples
from layers.definitions import LAYERS

SYNTHETIC = Layer(id="synthetic-1m", title_th="สังเคราะห์", title_en="Synthetic", description_th="",
                  key_field="key", name_field="key", fields=(Field("key", "text", "", ""),),
                  popup_fields=(), color="#000", icon="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--origins", type=int, default=200)
    args = parser.parse_args()
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_samples(engine, settings.data_dir, layers=["learning-centers"])
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.2564)"))
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            SELECT 'synthetic-1m', 'S' || i, 'S' || i, '{}'::jsonb,
                   ST_SetSRID(ST_MakePoint(97.35 + random() * 8.3, 5.62 + random() * 14.8), 4326)
            FROM generate_series(1, :n) AS i
        """), {"n": args.points})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE layer_features"))
    insert_seconds = time.perf_counter() - started

    rng = random.Random(2564)
    origins = [(rng.uniform(98.0, 105.0), rng.uniform(6.5, 19.5)) for _ in range(args.origins)]

    results = {}
    with served(settings, url) as base:
        for layer, count in ((LAYERS["learning-centers"], 1_885), (SYNTHETIC, args.points)):
            query_ms, counted_ms, api_ms = [], [], []
            for lon, lat in origins[:5]:  # warm-up
                lq.query_features(engine, layer, lq.LayerQuery(near=(lon, lat), limit=5))
            for lon, lat in origins:
                q = lq.LayerQuery(near=(lon, lat), limit=5)
                t = time.perf_counter()
                page = lq.query_features(engine, layer, q, count=False)
                query_ms.append((time.perf_counter() - t) * 1000)
                assert len(page.features) == 5
                t = time.perf_counter()
                lq.query_features(engine, layer, q)
                counted_ms.append((time.perf_counter() - t) * 1000)
                if layer.id in LAYERS:
                    t = time.perf_counter()
                    with urllib.request.urlopen(f"{base}/api/collections/{layer.id}/items?"
                                                f"near={lon},{lat}&limit=5") as response:
                        json.load(response)
                    api_ms.append((time.perf_counter() - t) * 1000)
            with engine.connect() as conn:
                plan = conn.execute(text("""
                    EXPLAIN SELECT id FROM layer_features f WHERE f.layer = :layer
                    ORDER BY f.geom::geography
                             <-> ST_SetSRID(ST_MakePoint(100, 14), 4326)::geography
                    LIMIT 30
                """), {"layer": layer.id}).scalars().all()
            results[f"{layer.id} ({count:,} points)"] = {
                "query_median_ms": statistics.median(query_ms), "query_p95_ms": p95(query_ms),
                "with_count_median_ms": statistics.median(counted_ms),
                "with_count_p95_ms": p95(counted_ms),
                "api_median_ms": statistics.median(api_ms) if api_ms else None,
                "api_p95_ms": p95(api_ms) if api_ms else None,
                "uses_index": any("ix_layer_features_layer_geog" in line for line in plan),
            }

    print(f"{os.cpu_count()} cores; {args.origins} random origins; synthetic layer inserted and "
          f"indexed in {insert_seconds:.1f} s")
    print("| layer | nearest 5: median (ms) | p95 (ms) | + numberMatched: median | p95 "
          "| API median (ms) | API p95 (ms) | KNN index used |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        api = (f"{r['api_median_ms']:.1f} | {r['api_p95_ms']:.1f}" if r["api_median_ms"]
               else "– | –")
        print(f"| {name} | {r['query_median_ms']:.1f} | {r['query_p95_ms']:.1f} "
              f"| {r['with_count_median_ms']:.1f} | {r['with_count_p95_ms']:.1f} | {api} "
              f"| {r['uses_index']} |")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "nearest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
