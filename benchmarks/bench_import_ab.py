"""Big imports before and after a change, interleaved (issue 25, item 7): one CSV of ``--rows``
rows (as ``bench_imports``: distinct keys at real village positions) imported all-or-nothing
into an emptied, vacuumed layer by a child process running the code of one source tree, the
schema migrated to what that tree expects. Prints, per run, the seconds in all, in the writing
phase (from the writer's start to the end) and in ``finish`` (the COMMIT, with the tile cache's
commit-time work since migration 0017), the peak RSS growth and the load average.

The "before" tree is an export of an earlier commit, e.g.
``git archive e567431 | tar -x -C /tmp/before``. From the repository root:

    .venv/bin/python -m benchmarks.bench_import_ab --before-tree /tmp/before \\
        --before-revision 0016 [--rows 100000] [--repeat 1] [--reuse]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def child(tree: str, url: str, path: str) -> None:
    """One import with the code of ``tree``; its figures as JSON on stdout."""
    sys.path.insert(0, tree)
    import gis
    from gis import layer_store
    from gis.db import engine_for
    from layers.definitions import LAYERS

    assert gis.__file__ is not None and gis.__file__.startswith(tree), gis.__file__
    marks: dict[str, float] = {}
    begin, finish = layer_store.PostgisLayerStore.begin, layer_store.PostgisLayerWriter.finish

    def timed_begin(self, *a, **k):  # type: ignore[no-untyped-def]
        marks["begin"] = time.monotonic()
        return begin(self, *a, **k)

    def timed_finish(self, *a, **k):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        try:
            return finish(self, *a, **k)
        finally:
            marks["finish"] = time.monotonic() - started

    layer_store.PostgisLayerStore.begin = timed_begin  # type: ignore[method-assign]
    layer_store.PostgisLayerWriter.finish = timed_finish  # type: ignore[method-assign]
    engine = engine_for(url)
    before = _kb("VmRSS")
    began = time.monotonic()
    report = layer_store.import_file(engine, LAYERS["learning-centers"], Path(path))
    ended = time.monotonic()
    print(json.dumps({"seconds": ended - began, "write": ended - marks.get("begin", ended),
                      "finish": marks.get("finish"), "committed": report.committed,
                      "inserted": report.inserted, "problems": report.file_problems[:2],
                      "growth_mb": (_kb("VmHWM") - before) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--before-tree", required=False)
    parser.add_argument("--before-revision", default="0016")
    parser.add_argument("--after-tree", default=str(ROOT))
    parser.add_argument("--reuse", action="store_true",
                        help="use the cddgis_bench database as it is (boundaries loaded)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from benchmarks.bench_imports import HEADERS, LAYER, _on_land, _villages
    from benchmarks.common import BENCH_DATABASE, bench_database, bench_settings
    from gis.cluster import LocalCluster
    from gis.db import engine_for

    settings = bench_settings()
    if args.reuse:
        url = LocalCluster(settings.state_dir).start().url(database=BENCH_DATABASE,
                                                            role="owner")
        engine = engine_for(url)
    else:
        url, engine = bench_database(settings)
    config = Config()
    config.set_main_option("script_location", str(ROOT / "gis" / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    places = _on_land(engine, _villages(settings.data_dir))
    path = Path(f"/tmp/cddgis-bench-import-ab-{args.rows}.csv")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for i in range(args.rows):
            lon, lat = places[i % len(places)]
            out.writerow([f"LC{i:07d}", f"ศูนย์เรียนรู้ชุมชน {i}", lat, lon])
    print(f"{args.rows:,} rows, {path.stat().st_size / 2**20:.1f} MB", flush=True)
    trees = {"after": args.after_tree, **({"before": args.before_tree}
                                          if args.before_tree else {})}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for round_ in range(args.repeat):
        order = sorted(trees)  # after, before; then before, after; ...
        if round_ % 2:
            order.reverse()
        for name in order:
            if name == "before":
                command.downgrade(config, args.before_revision)
            else:
                command.upgrade(config, "head")
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM layer_features WHERE layer = :l"), {"l": LAYER})
                conn.execute(text("DELETE FROM feature_changes WHERE layer = :l"), {"l": LAYER})
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE layer_features, feature_names, "
                                  "feature_changes"))  # the same start for each: empty
            load = os.getloadavg()[0]
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_import_ab", "--child", trees[name],
                 url, str(path)], cwd=ROOT, capture_output=True, text=True, check=True,
                env={**os.environ, "CDDGIS_TILES": "none"})
            result = {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}
            print(name, json.dumps(result), flush=True)
            assert result["committed"] and result["inserted"] == args.rows, result
            results[name].append(result)
    for name, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        print(f"{name}: {args.rows / seconds * 60:,.0f} rows/min, {seconds:.1f} s, writing "
              f"{statistics.median(r['write'] for r in runs):.1f} s, finish "
              f"{statistics.median(r['finish'] for r in runs):.2f} s, peak RSS growth "
              f"{statistics.median(r['growth_mb'] for r in runs):.0f} MB, load "
              f"{statistics.median(r['load'] for r in runs):.1f} (runs "
              f"{', '.join(format(r['seconds'], '.1f') for r in runs)})")


if __name__ == "__main__":
    main()
