"""The open API as GIS clients use it, beside pygeoapi and tipg on the same PostGIS tables.

Loads the boundaries, the five sample layers and a synthetic 1,000,000-point layer into
``cddgis_bench``; copies the Khok Nong Na plots, the subdistricts and the synthetic layer into
plain tables (schema ``peer``: typed columns, primary key, GiST index) for the peers, which read
tables rather than cddgis's JSONB layer store; installs pygeoapi and tipg, each into its own
virtualenv under ``benchmarks/out/`` (never into the project), and serves all three on
loopback (cddgis under gunicorn as in production, pygeoapi under gunicorn, tipg under uvicorn;
one process each). Then, interleaved (the order rotates every round):

- requests: a first page of 100, a bbox page, one item, a CQL2 filter (median of N rounds);
- GDAL's OAPIF driver (``ogr2ogr -f GPKG``, defaults only) downloading all 22,791 plots and all
  7,425 subdistricts, once per server (a peer that takes longer than --gdal-timeout is cut off
  and reported as such);
- cddgis only: the first and the last page of 100 of the 1,000,000-point layer (the last by its
  next-link cursor), and the same last page by offset for comparison.

Run from the repository root (needs ogr2ogr and network access to PyPI for the peers):

    .venv/bin/python -m benchmarks.bench_api [--rounds 20] [--points 1000000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, make_url, text

from benchmarks.bench_nearest import SYNTHETIC
from benchmarks.common import bench_database, bench_settings, served
from gis.samples import load_samples
from layers.definitions import LAYERS
from web.params import make_cursor

OUT = Path(__file__).parent / "out"
PEERS = {"pygeoapi": ["pygeoapi", "gunicorn", "geoalchemy2", "psycopg2-binary"],
         "tipg": ["tipg", "uvicorn"]}
"""What each peer's virtualenv gets (pygeoapi's PostgreSQL provider needs geoalchemy2)."""
BBOX = "98.8,18.6,99.2,19.0"
CQL = "plot_size_rai > 5 AND model_level = 'CLM'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peer_tables(engine: Engine, points: int) -> None:
    """The same data as plain tables, which is what pygeoapi and tipg serve."""
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.2564)"))
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            SELECT 'synthetic-1m', 'S' || lpad(i::text, 7, '0'), 'S' || i, '{}'::jsonb,
                   ST_SetSRID(ST_MakePoint(97.35 + random() * 8.3, 5.62 + random() * 14.8), 4326)
            FROM generate_series(1, :n) AS i
        """), {"n": points})
        conn.execute(text("DROP SCHEMA IF EXISTS peer CASCADE; CREATE SCHEMA peer"))
        conn.execute(text("""
            CREATE TABLE peer.khok_nong_na AS
            SELECT f.key AS id, f.properties->>'plot_id' AS plot_id,
                   (f.properties->>'village_no')::int AS village_no,
                   f.properties->>'village_name' AS village_name,
                   (f.properties->>'plot_size_rai')::float8 AS plot_size_rai,
                   f.properties->>'model_level' AS model_level,
                   f.properties->>'land_title' AS land_title,
                   (f.properties->>'budget_year')::int AS budget_year,
                   f.properties->>'funding_source' AS funding_source,
                   f.province_code, f.district_code, f.subdistrict_code, f.region, f.sample,
                   f.geom
            FROM layer_features f WHERE f.layer = 'khok-nong-na';
            CREATE TABLE peer.subdistricts AS
            SELECT code AS id, name_th, name_en, province_code, district_code, region,
                   region_nesdb, round(area_km2::numeric, 2)::float8 AS area_km2, in_registry,
                   geom
            FROM subdistricts;
            CREATE TABLE peer.synthetic AS
            SELECT key AS id, geom FROM layer_features WHERE layer = 'synthetic-1m';
        """))
        for table in ("khok_nong_na", "subdistricts", "synthetic"):
            conn.execute(text(f"ALTER TABLE peer.{table} ADD PRIMARY KEY (id)"))
            conn.execute(text(f"CREATE INDEX ON peer.{table} USING gist (geom)"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def _venv(peer: str) -> Path:
    """The peer's own virtualenv under benchmarks/out/, created and filled on first use."""
    venv = OUT / f"venv-{peer}"
    stamp = venv / "installed.txt"
    if not stamp.exists() or stamp.read_text() != " ".join(PEERS[peer]):
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PEERS[peer]], check=True)
        stamp.write_text(" ".join(PEERS[peer]))
    return venv


@contextmanager
def _process(args: list[str], env: dict[str, str], health: str, log: Path):
    """A server process on loopback, until the block ends; waits until ``health`` answers."""
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
            time.sleep(0.2)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _pygeoapi(url: str, port: int) -> tuple[list[str], dict[str, str], str]:
    db = make_url(url)
    venv = _venv("pygeoapi")
    provider = {"type": "feature", "name": "PostgreSQL", "id_field": "id", "geom_field": "geom",
                "data": {"host": db.host, "port": db.port, "dbname": db.database,
                         "user": db.username, "password": db.password,
                         "search_path": ["peer", "public"]}}

    def resource(title: str, table: str) -> dict[str, Any]:
        return {"type": "collection", "title": title, "description": title, "keywords": [title],
                "extents": {"spatial": {"bbox": [97, 5, 106, 21],
                                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [{**provider, "table": table}]}

    contact = {k: "bench" for k in ("name", "position", "address", "city", "stateorprovince",
                                    "postalcode", "country", "phone", "fax", "hours",
                                    "instructions")}
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port},
                   "url": f"http://127.0.0.1:{port}", "mimetype": "application/json",
                   "encoding": "utf-8", "language": "en-US", "cors": False,
                   "pretty_print": False, "limit": 10,
                   "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench",
                                        "keywords": ["bench"], "keywords_type": "theme",
                                        "terms_of_service": "none", "url": "http://localhost"},
                     "license": {"name": "none", "url": "http://localhost"},
                     "provider": {"name": "bench", "url": "http://localhost"},
                     "contact": {**contact, "email": "bench@localhost",
                                 "url": "http://localhost", "role": "pointOfContact"}},
        "resources": {"khok-nong-na": resource("khok-nong-na", "khok_nong_na"),
                      "subdistricts": resource("subdistricts", "subdistricts"),
                      "synthetic": resource("synthetic", "synthetic")},
    }
    config_path = OUT / "pygeoapi-config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    openapi = OUT / "pygeoapi-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config_path), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config_path),
                    "--output-file", str(openapi)], env={**os.environ, **env}, check=True,
                   capture_output=True)
    args = [str(venv / "bin" / "gunicorn"), "-w", "1", "--threads", "4", "-b",
            f"127.0.0.1:{port}", "pygeoapi.flask_app:APP"]
    return args, env, f"http://127.0.0.1:{port}"


def _tipg(url: str, port: int) -> tuple[list[str], dict[str, str], str]:
    db = make_url(url)
    venv = _venv("tipg")
    dsn = f"postgresql://{db.username}:{db.password}@{db.host}:{db.port}/{db.database}"
    env = {"DATABASE_URL": dsn, "TIPG_DB_SCHEMAS": '["peer"]',
           "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    args = [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port",
            str(port), "--log-level", "warning"]
    return args, env, f"http://127.0.0.1:{port}"


def _timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(
            url, headers={"Accept": "application/geo+json"}), timeout=120) as response:
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    elapsed = (time.perf_counter() - started) * 1000
    json.loads(body)
    return elapsed


def _gdal(root: str, collection: str, timeout: float) -> tuple[float | None, int | None]:
    """Seconds for ogr2ogr with defaults only, and the features it wrote (None: cut off)."""
    out = OUT / "gdal.gpkg"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{root}", collection],
                       check=True, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None
    seconds = time.perf_counter() - started
    info = subprocess.run(["ogrinfo", "-so", str(out), collection], capture_output=True,
                          text=True)
    count = next((int(line.split(":")[1]) for line in info.stdout.splitlines()
                  if line.startswith("Feature Count")), None)
    return seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--gdal-timeout", type=float, default=300)
    parser.add_argument("--peers", default="pygeoapi,tipg")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_samples(engine, settings.data_dir)
    started = time.perf_counter()
    _peer_tables(engine, args.points)
    print(f"data ready in {time.perf_counter() - started:.0f} s", flush=True)
    with engine.connect() as conn:
        item_id = conn.execute(text("SELECT id FROM peer.khok_nong_na ORDER BY id "
                                    "OFFSET 11000 LIMIT 1")).scalar_one()
        last_after = conn.execute(text(
            "SELECT id FROM peer.synthetic ORDER BY id DESC OFFSET 100 LIMIT 1")).scalar_one()

    q = quote(CQL)
    servers: dict[str, dict[str, str]] = {}
    failures: dict[str, str] = {}
    with ExitStack() as stack:
        # cddgis as production runs it (gunicorn; one worker, like the peers' single process).
        port = _free_port()
        cddgis = f"http://127.0.0.1:{port}"
        stack.enter_context(_process(
            [str(Path(sys.executable).parent / "cddgis"), "serve", "--workers", "1",
             "--threads", "4", "--no-migrate", "--no-access-log"],
            {"DATABASE_URL": url, "PORT": str(port), "HOST": "127.0.0.1",
             "CDDGIS_TILES": "none"}, f"{cddgis}/api/health", OUT / "cddgis.log"))
        servers["cddgis"] = {
            "root": f"{cddgis}/api", "kn": "khok-nong-na", "sub": "subdistricts",
            "page": f"{cddgis}/api/collections/khok-nong-na/items?limit=100",
            "bbox": f"{cddgis}/api/collections/khok-nong-na/items?limit=100&bbox={BBOX}",
            "item": f"{cddgis}/api/collections/khok-nong-na/items/{item_id}",
            "cql2": f"{cddgis}/api/collections/khok-nong-na/items?limit=100&filter={q}"}
        for peer, make in (("pygeoapi", _pygeoapi), ("tipg", _tipg)):
            if peer not in args.peers.split(","):
                continue
            try:
                port = _free_port()
                command, env, root = make(url, port)
                stack.enter_context(_process(command, env, f"{root}/collections",
                                             OUT / f"{peer}.log"))
            except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
                failures[peer] = str(exc)
                print(f"{peer}: {exc}", flush=True)
                continue
            kn, sub = ("khok-nong-na", "subdistricts") if peer == "pygeoapi" else (
                "peer.khok_nong_na", "peer.subdistricts")
            fmt = "&f=json" if peer == "pygeoapi" else ""
            servers[peer] = {
                "root": root, "kn": kn, "sub": sub,
                "page": f"{root}/collections/{kn}/items?limit=100{fmt}",
                "bbox": f"{root}/collections/{kn}/items?limit=100&bbox={BBOX}{fmt}",
                "item": f"{root}/collections/{kn}/items/{item_id}?{fmt[1:]}",
                # pygeoapi 0.21 names CQL2 text by the draft's name.
                "cql2": f"{root}/collections/{kn}/items?limit=100&filter={q}&filter-lang="
                        f"{'cql-text' if peer == 'pygeoapi' else 'cql2-text'}{fmt}"}

        results: dict[str, dict[str, Any]] = {name: {} for name in servers}
        names = list(servers)
        for scenario in ("page", "bbox", "item", "cql2"):
            for name in names:  # warm-up, and check each answers
                try:
                    _timed_get(servers[name][scenario])
                except (urllib.error.URLError, RuntimeError, ValueError) as exc:
                    results[name][scenario] = f"error: {exc}"
            timings: dict[str, list[float]] = {n: [] for n in names}
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    if not isinstance(results[name].get(scenario), str):
                        timings[name].append(_timed_get(servers[name][scenario]))
            for name in names:
                if timings[name]:
                    results[name][scenario] = round(statistics.median(timings[name]), 1)
            print(scenario, {n: results[n].get(scenario) for n in names}, flush=True)

        for collection in ("kn", "sub"):  # the order turns round between the two
            for name in (names if collection == "kn" else list(reversed(names))):
                seconds, count = _gdal(servers[name]["root"], servers[name][collection],
                                       args.gdal_timeout)
                results[name][f"gdal_{collection}_s"] = (
                    round(seconds, 1) if seconds is not None else f"> {args.gdal_timeout:.0f}")
                results[name][f"gdal_{collection}_features"] = count
                print("gdal", collection, name, seconds, count, flush=True)

    # The 1,000,000-point layer is declared for this process only (as tests/test_new_layer.py
    # does), so the app is served in-process for this part.
    LAYERS[SYNTHETIC.id] = SYNTHETIC
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with served(settings, url) as served_root:
        base = f"{served_root}/api/collections/synthetic-1m/items?limit=100"
        deep: dict[str, list[float]] = {"first": [], "last_cursor": [], "last_offset": []}
        pages: dict[str, Callable[[], float]] = {
            "first": lambda: _timed_get(base),
            "last_cursor": lambda: _timed_get(f"{base}&cursor={make_cursor(last_after)}"),
            "last_offset": lambda: _timed_get(f"{base}&offset={args.points - 100}"),
        }
        for fn in pages.values():
            fn()
        for r in range(args.rounds):
            for key in list(pages)[r % 3:] + list(pages)[:r % 3]:
                if key != "last_offset" or r < 5:
                    deep[key].append(pages[key]())
        synthetic = {k: round(statistics.median(v), 1) for k, v in deep.items()}
        print("synthetic", synthetic, flush=True)

    report = {"machine": f"{os.cpu_count()} cores, {platform.platform()}",
              "rounds": args.rounds, "points": args.points, "results": results,
              "synthetic_1m_ms": synthetic, "peer_failures": failures}
    (OUT / "api.json").write_text(json.dumps(report, indent=2))
    _print(report)


def _print(report: dict[str, Any]) -> None:
    results = report["results"]
    names = list(results)
    print(f"\n{report['machine']}; median of {report['rounds']} interleaved rounds (ms)")
    print("| | " + " | ".join(names) + " | " + " | ".join(
        f"cddgis ÷ {n}" for n in names[1:]) + " |")
    print("|---" * (1 + 2 * len(names) - 1) + "|")
    for key, label in (("page", "first page of 100 plots"), ("bbox", "bbox page (Chiang Mai)"),
                       ("item", "one plot"), ("cql2", "CQL2 filter, page of 100"),
                       ("gdal_kn_s", "ogr2ogr 22,791 plots (s)"),
                       ("gdal_sub_s", "ogr2ogr 7,425 subdistricts (s)")):
        values = [results[n].get(key) for n in names]
        ratios = [f"{values[0] / v:.2f}" if isinstance(v, int | float) and isinstance(
            values[0], int | float) and v else "–" for v in values[1:]]
        print(f"| {label} | " + " | ".join(str(v) for v in values) + " | "
              + " | ".join(ratios) + " |")
    s = report["synthetic_1m_ms"]
    print(f"\n1,000,000 points, page of 100: first {s['first']} ms, last by cursor "
          f"{s['last_cursor']} ms ({s['last_cursor'] / s['first']:.2f}×), last by offset "
          f"{s['last_offset']} ms ({s['last_offset'] / s['first']:.1f}×)")


if __name__ == "__main__":
    main()
