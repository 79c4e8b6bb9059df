"""QGIS 3.22 reading all 22,791 Khok Nong Na plots beside a plain HTTP client paging the same
items (issue 21: QGIS at most 2x the plain client's time on the same machine).

Loads the boundaries and the Khok Nong Na sample into ``cddgis_bench`` (or, with ``--reuse``,
takes it as an earlier run left it), serves the app as production does (``cddgis serve``:
gunicorn, one worker, four threads) and, ``--rounds`` times, interleaved (the order swaps every
round):

- **QGIS**: ``tests/qgis_client.py`` under Debian's Python, the OAPIF provider with the data
  source QGIS's own dialog writes (no page size: QGIS takes ``limit``'s maximum from the
  OpenAPI), every feature read with its geometry. Two figures: the read (layer opened, every
  feature iterated; what a user waits for) and the whole process (QGIS's start-up included).
- **plain**: ``urllib`` asking for ``limit=10000`` (the largest page the API allows),
  following each page's ``next`` link to the end and parsing every page's JSON; and the same
  with ``limit=1000``, the 23 requests QGIS makes, to tell the server's share of QGIS's time
  from QGIS's own.

Prints the medians and the ratio.

    .venv/bin/python -m benchmarks.bench_qgis [--rounds 5] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from sqlalchemy import text

from benchmarks.bench_api import _free_port
from benchmarks.bench_downloads import _serve
from benchmarks.common import BENCH_DATABASE, bench_database, bench_settings
from gis.cluster import LocalCluster
from gis.db import engine_for
from gis.samples import load_samples

OUT = Path(__file__).parent / "out"
CLIENT = Path(__file__).parent.parent / "tests" / "qgis_client.py"
LAYER = "khok-nong-na"
PAGE = 10_000
QGIS_PAGE = 1_000
"""What QGIS 3.22 asks for per page here (``limit``'s maximum, capped at 1,000 by QGIS)."""


def plain(base: str, size: int = PAGE) -> tuple[float, int]:
    """Seconds to page through every plot by ``next`` links, and how many came."""
    started = time.perf_counter()
    url: str | None = f"{base}/api/collections/{LAYER}/items?limit={size}"
    count = 0
    while url:
        with urllib.request.urlopen(url, timeout=300) as response:
            page = json.load(response)
        count += len(page["features"])
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    return time.perf_counter() - started, count


def qgis(base: str, profile: str) -> tuple[float, float, int]:
    """(seconds of the read, seconds of the whole QGIS process, features read)."""
    args = {"do": "read", "profile": profile, "sample": 0,
            "layers": [{"name": LAYER, "uri": f"url='{base}/api' typename='{LAYER}'"}]}
    started = time.perf_counter()
    run = subprocess.run(["/usr/bin/python3", str(CLIENT), json.dumps(args)],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    wall = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"QGIS failed: {run.stderr[-2000:]}")
    [got] = json.loads(run.stdout.splitlines()[-1])["result"]
    return got["seconds"], wall, got["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true",
                        help="keep cddgis_bench as an earlier run left it (no load)")
    args = parser.parse_args()
    settings = bench_settings()
    if args.reuse:
        url = LocalCluster(settings.state_dir).start().url(database=BENCH_DATABASE)
        engine = engine_for(url)
    else:
        url, engine = bench_database(settings)
        load_samples(engine, settings.data_dir, layers=[LAYER])
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM layer_features WHERE layer = :l"),
                             {"l": LAYER}).scalar_one()
    print(f"{total} plots in {BENCH_DATABASE}", flush=True)
    OUT.mkdir(exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [str(Path(sys.executable).parent / "cddgis"), "serve", "--workers", "1",
             "--threads", "4", "--no-migrate", "--no-access-log"]
    env = {"DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1", "CDDGIS_TILES": "none"}
    reads: list[float] = []
    walls: list[float] = []
    plains: list[float] = []
    smalls: list[float] = []
    with _serve(serve, env, f"{base}/api/health", OUT / "cddgis-qgis.log"), \
            tempfile.TemporaryDirectory(prefix="bench-qgis-") as profile:
        plain(base)  # warm-up: the first request of each kind loads code
        for r in range(args.rounds):
            order = ("qgis", "plain", "small")
            for who in order[r % 3:] + order[:r % 3]:
                if who == "qgis":
                    read, wall, count = qgis(base, profile)
                    reads.append(read)
                    walls.append(wall)
                    print(f"  round {r + 1} QGIS: read {read:.2f} s (process {wall:.2f} s), "
                          f"{count} features", flush=True)
                else:
                    seconds, count = plain(base, PAGE if who == "plain" else QGIS_PAGE)
                    (plains if who == "plain" else smalls).append(seconds)
                    print(f"  round {r + 1} {who}: {seconds:.2f} s, {count} features",
                          flush=True)
                assert count == total, (who, count, total)
    p, sm, q, w = (statistics.median(x) for x in (plains, smalls, reads, walls))
    print(f"\n| client | seconds (median of {args.rounds}) | x plain |")
    print("|---|---:|---:|")
    print(f"| plain HTTP (urllib, limit={PAGE}, next links, JSON parsed) | {p:.2f} | 1.00 |")
    print(f"| plain HTTP, limit={QGIS_PAGE} (QGIS's 23 requests) | {sm:.2f} | {sm / p:.2f} |")
    print(f"| QGIS 3.22 OAPIF: the read (layer opened, every feature) | {q:.2f} | {q / p:.2f} |")
    print(f"| QGIS 3.22 OAPIF: the whole process (start-up included) | {w:.2f} | {w / p:.2f} |")


if __name__ == "__main__":
    main()
