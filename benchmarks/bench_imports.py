"""Big imports (issue 25, item 7): an archive over the limits refused up front, and the
throughput and peak memory of large CSV, shapefile and GeoPackage imports.

Over a database of its own (``cddgis_bench``, with the real boundaries):

1. refusal: a zipped shapefile of 1,000,000 rows of one key at one place, ~290 MB expanded
   (the archive of the Hardening II issue), through ``import_file(..., dry_run=True)``: seconds
   until the report says no, median of ``--repeat`` runs;
2. throughput: ``--rows`` rows (distinct keys at the real village positions of
   shared/data/points/th_villages_2012.csv that lie on land, cycled) as CSV, zipped
   shapefile and GeoPackage, each imported all-or-nothing into an emptied layer by a child
   process of its own: rows/minute and that process's peak RSS above what it held before
   the import (imports and the Python runtime), beside the file's size; medians of
   ``--repeat`` runs, the formats interleaved.

Run from the repository root:

    .venv/bin/python -m benchmarks.bench_imports [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
LAYER = "learning-centers"
HEADERS = ["รหัสศูนย์", "ชื่อศูนย์", "ละติจูด", "ลองจิจูด"]


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _villages(data_dir: Path) -> list[tuple[float, float]]:
    with (data_dir / "points" / "th_villages_2012.csv").open(encoding="utf-8") as fh:
        return [(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(fh)]


def _on_land(engine: Engine, places: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The village positions inside a subdistrict (a few in the data set lie in the sea)."""
    from gis.locate import locate

    kept = []
    for start in range(0, len(places), 5_000):
        chunk = places[start:start + 5_000]
        kept += [p for p, at in zip(chunk, locate(engine, chunk), strict=True)
                 if at is not None and at.distance_m == 0]
    return kept


def make_files(folder: Path, rows: int, places: list[tuple[float, float]]) -> dict[str, Path]:
    import geopandas as gpd
    import pyogrio
    import shapely

    lon = [places[i % len(places)][0] for i in range(rows)]
    lat = [places[i % len(places)][1] for i in range(rows)]
    keys = [f"LC{i:07d}" for i in range(rows)]
    names = [f"ศูนย์เรียนรู้ชุมชน {i}" for i in range(rows)]
    files = {"csv": folder / "big.csv", "shapefile": folder / "big.zip",
             "gpkg": folder / "big.gpkg"}
    with files["csv"].open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        out.writerows(zip(keys, names, lat, lon, strict=True))
    frame = gpd.GeoDataFrame({"center_id": keys, "name": names},
                             geometry=shapely.points(lon, lat), crs=4326)
    shp = folder / "shp"
    shp.mkdir()
    pyogrio.write_dataframe(frame, shp / "big.shp", encoding="cp874")
    _zip(shp, files["shapefile"])
    pyogrio.write_dataframe(frame, files["gpkg"])
    return files


def make_bomb(folder: Path) -> Path:
    """1,000,000 rows of one key, one name, one place, a 115-character text column: ~290 MB
    expanded, ~50:1 compressed (under the old 1 GiB and 100:1 zip limits)."""
    import geopandas as gpd
    import shapely

    n = 1_000_000
    frame = gpd.GeoDataFrame({"center_id": ["LC1"] * n, "name": ["ศูนย์"] * n,
                              "note": ["x" * 115] * n},
                             geometry=shapely.points([98.9853] * n, [18.7883] * n), crs=4326)
    shp = folder / "bomb"
    shp.mkdir()
    frame.to_file(shp / "bomb.shp", encoding="cp874")
    path = folder / "bomb.zip"
    _zip(shp, path)
    return path


def _zip(folder: Path, path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, part.name)


def one_import(url: str, path: str) -> None:
    """The child: one import, then its figures as JSON on stdout."""
    from gis.db import engine_for
    from gis.layer_store import import_file
    from layers.definitions import LAYERS

    engine = engine_for(url)
    before = _status_kb("VmRSS")
    began = time.monotonic()
    report = import_file(engine, LAYERS[LAYER], Path(path))
    seconds = time.monotonic() - began
    peak = _status_kb("VmHWM")  # ru_maxrss would carry the parent's peak across exec
    print(json.dumps({"seconds": seconds, "rows": len(report.rows),
                      "committed": report.committed, "inserted": report.inserted,
                      "problems": report.file_problems[:3],
                      "rss_before_mb": before / 1024, "peak_mb": peak / 1024,
                      "growth_mb": (peak - before) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        one_import(*args.child)
        return

    from sqlalchemy import text

    from benchmarks.common import bench_database, bench_settings
    from gis.layer_store import import_file
    from layers.definitions import LAYERS

    settings = bench_settings()
    url, engine = bench_database(settings)
    with tempfile.TemporaryDirectory(prefix="cddgis-bench-imports-") as tmp:
        folder = Path(tmp)
        bomb = make_bomb(folder)
        with zipfile.ZipFile(bomb) as zf:
            expanded = sum(i.file_size for i in zf.infolist())
        print(f"archive: {bomb.stat().st_size / 2**20:.1f} MB, expands to "
              f"{expanded / 2**20:.0f} MB ({expanded / bomb.stat().st_size:.1f}:1), "
              "1,000,000 rows")
        refusals = []
        for _ in range(args.repeat):
            began = time.monotonic()
            report = import_file(engine, LAYERS[LAYER], bomb, dry_run=True)
            refusals.append(time.monotonic() - began)
        print(f"  refused in {statistics.median(refusals):.2f} s (median of {args.repeat}; "
              f"runs {', '.join(f'{s:.2f}' for s in refusals)}): {report.file_problems[0]}")
        bomb.unlink()

        files = make_files(folder, args.rows, _on_land(engine, _villages(settings.data_dir)))
        results: dict[str, list[dict]] = {kind: [] for kind in files}
        for _ in range(args.repeat):
            for kind, path in files.items():
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM layer_features WHERE layer = :l"),
                                 {"l": LAYER})
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_imports", "--child", url,
                     str(path)], cwd=ROOT, capture_output=True, text=True, check=True,
                    env={**os.environ, "CDDGIS_TILES": "none"})
                result = json.loads(out.stdout.strip().splitlines()[-1])
                assert result["committed"] and result["inserted"] == args.rows, result
                results[kind].append(result)
        print(f"\n{args.rows:,} rows, all-or-nothing into an emptied layer, medians of "
              f"{args.repeat} (formats interleaved):")
        print("| file | size | rows/min | seconds | peak RSS growth | × file | RSS before |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind, path in files.items():
            size = path.stat().st_size / 2**20
            seconds = statistics.median(r["seconds"] for r in results[kind])
            growth = statistics.median(r["growth_mb"] for r in results[kind])
            before = statistics.median(r["rss_before_mb"] for r in results[kind])
            print(f"| {kind} | {size:.1f} MB | {args.rows / seconds * 60:,.0f} | "
                  f"{seconds:.1f} | {growth:.0f} MB | {growth / size:.1f} | {before:.0f} MB |")


if __name__ == "__main__":
    main()
