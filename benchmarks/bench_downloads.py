"""Whole-layer downloads in each format (issue 21, item 4): time and the serving process's peak
memory growth.

Loads the boundaries and the five sample layers into ``cddgis_bench``, then adds
``--points`` synthetic learning centres (one INSERT, as ``tests/test_tiles.py`` makes its
million points; Thai names, every public field filled, a personal-free layer) so that one
registered collection holds about a million points. Serves the app as production does
(``cddgis serve``: gunicorn, one worker, four threads) and downloads, formats interleaved (the
order rotates every round), the whole of:

- the 22,791 Khok Nong Na plots, and
- the synthetic learning centres (``--points`` + the 1,885 sample ones),

in each format: GeoJSON (``f=json``, every page of 10,000 followed by its next link: GeoJSON
has no unpaged download), CSV, FlatGeobuf, GeoPackage, GeoJSON text sequence and NDJSON.
Reports the median of ``--rounds`` (3) of the whole transfer's seconds, the ratio to GeoJSON,
and the worker's peak RSS growth during the download (Linux: the peak is reset through
``/proc/<pid>/clear_refs`` before each download and read as ``VmHWM`` after it).

    .venv/bin/python -m benchmarks.bench_downloads [--points 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from benchmarks.bench_api import _free_port
from benchmarks.common import BENCH_DATABASE, bench_database, bench_settings
from gis.cluster import LocalCluster
from gis.db import engine_for
from gis.samples import load_samples

OUT = Path(__file__).parent / "out"
FORMATS = ("json", "csv", "fgb", "gpkg", "geojsonseq", "ndjson")
LAYERS = {"khok-nong-na": "Khok Nong Na plots", "learning-centers": "learning centres"}


def _synthetic(engine: Engine, points: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.2564)"))
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom, province_code,
                                        region, sample)
            SELECT 'learning-centers', 'LC-S' || lpad(i::text, 7, '0'),
                   'ศูนย์เรียนรู้สังเคราะห์ ' || i,
                   jsonb_build_object('center_id', 'LC-S' || lpad(i::text, 7, '0'),
                                      'name', 'ศูนย์เรียนรู้สังเคราะห์ ' || i,
                                      'place', 'หมู่ ' || (i % 20 + 1) || ' ตำบลทดสอบ',
                                      'budget_year', 2560 + i % 8, 'ready', i % 3 = 0,
                                      'phone', '02-000-' || lpad((i % 10000)::text, 4, '0')),
                   ST_SetSRID(ST_MakePoint(97.35 + random() * 8.3, 5.62 + random() * 14.8),
                              4326), '10', 'central', true
            FROM generate_series(1, :n) AS i
        """), {"n": points})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE layer_features"))


@contextmanager
def _serve(args: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[int]:
    """``cddgis serve`` (the gunicorn master) until the block ends; yields its worker's pid
    once ``health`` answers."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(health, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start; see {log}")
            time.sleep(0.2)  # polling a server that is starting: no event to wait on
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        yield int(children[0])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise KeyError(field)


def _download(base: str, layer: str, fmt: str, pid: int) -> tuple[float, int, float]:
    """(seconds, bytes, peak RSS growth in MB) of the whole layer in ``fmt``."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status(pid, "VmRSS")
    size = 0
    started = time.perf_counter()
    url: str | None = f"{base}/api/collections/{layer}/items?f={fmt}"
    if fmt == "json":
        url += "&limit=10000"
    while url:
        with urllib.request.urlopen(url, timeout=1800) as response:
            body = response.read()
        size += len(body)
        url = None
        if fmt == "json":  # follow the pages to the end, as a GeoJSON client does
            links = json.loads(body)["links"]
            url = next((x["href"] for x in links if x["rel"] == "next"), None)
    seconds = time.perf_counter() - started
    return seconds, size, (_status(pid, "VmHWM") - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true",
                        help="keep cddgis_bench as an earlier run left it (no load)")
    args = parser.parse_args()
    settings = bench_settings()
    started = time.perf_counter()
    if args.reuse:  # the data of an earlier run, as it was left
        url = LocalCluster(settings.state_dir).start().url(database=BENCH_DATABASE)
        engine = engine_for(url)
    else:
        url, engine = bench_database(settings)
        load_samples(engine, settings.data_dir, layers=list(LAYERS))
        if args.points:
            _synthetic(engine, args.points)
    with engine.connect() as conn:
        counts = dict(conn.execute(text(
            "SELECT layer, count(*) FROM layer_features GROUP BY layer")).all())
    print(f"data ready in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
    OUT.mkdir(exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[tuple[str, str], list[tuple[float, int, float]]] = {}
    serve = [str(Path(sys.executable).parent / "cddgis"), "serve", "--workers", "1",
             "--threads", "4", "--no-migrate", "--no-access-log"]
    env = {"DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1", "CDDGIS_TILES": "none"}
    with _serve(serve, env, f"{base}/api/health", OUT / "cddgis-downloads.log") as pid:
        for layer in LAYERS:
            for fmt in FORMATS:  # warm-up: the first request of each kind loads code
                _download(base, "volunteer-centers", fmt, pid)
            for r in range(args.rounds):
                order = FORMATS[r % len(FORMATS):] + FORMATS[:r % len(FORMATS)]
                for fmt in order:
                    results.setdefault((layer, fmt), []).append(_download(base, layer, fmt,
                                                                          pid))
                    s, b, m = results[(layer, fmt)][-1]
                    print(f"  {layer} {fmt}: {s:.2f} s, {b / 1e6:.1f} MB, +{m:.0f} MB RSS",
                          flush=True)
    (OUT / "downloads.json").write_text(json.dumps(
        {f"{layer} {fmt}": [{"seconds": s, "bytes": b, "rss_growth_mb": m} for s, b, m in runs]
         for (layer, fmt), runs in results.items()}, indent=1))
    print(f"\n| layer (points) | format | seconds (median of {args.rounds}) | "
          "× GeoJSON time | MB sent | peak RSS growth (MB, max) |")
    print("|---|---|---:|---:|---:|---:|")
    for layer in LAYERS:
        geojson = statistics.median(s for s, _, _ in results[(layer, "json")])
        for fmt in FORMATS:
            runs = results[(layer, fmt)]
            seconds = statistics.median(s for s, _, _ in runs)
            print(f"| {layer} ({counts.get(layer, 0):,}) | {fmt} | {seconds:.2f} | "
                  f"{seconds / geojson:.2f} | {runs[0][1] / 1e6:.1f} | "
                  f"{max(m for _, _, m in runs):.0f} |")


if __name__ == "__main__":
    main()
