"""Vector tile time and bytes: cddgis (cold, cached in the app, kept by the proxy) beside tipg on
the same PostGIS, and the raw ST_AsMVT statement as the floor; and the largest tile of a
1,000,000-point layer.

Loads the boundaries and the sample layers into ``cddgis_bench``, installs tipg into its own
virtualenv under ``benchmarks/out/tipg-venv`` (never into the project) and starts it with
uvicorn on 127.0.0.1, pointed at the same database through views that hold what cddgis serves
(the subdistricts' public columns and full geometry; the Khok Nong Na plots without the
personal column). cddgis runs as in production: nginx with the production configuration
(scripts/prod/nginx.conf.in) in front of ``cddgis serve`` (gunicorn, 1 worker, 4 threads);
tipg under uvicorn (1 worker). Clients keep their connections open, as browsers and QGIS do.

In one interleaved run, for each tile (z=6, 10 and 14 over Bangkok and Chiang Mai;
subdistricts and the plots) and each round:

- *cold*: the collection's version raised and its cached tiles deleted (a write just
  happened), then the tile at its new versioned URL through nginx: nothing cached anywhere;
- *cold, app direct*: the same, asked of gunicorn without nginx;
- *kept by the proxy*: the same versioned URL again (nginx answers from its cache);
- *cached in the app*: the plain URL (no version: nginx passes it on; the app's tile cache);
- tipg; and the statement cddgis runs, on a plain psycopg2 cursor (*raw*).

A trivial request to each server (``/api/conformance`` past nginx's cache, tipg's
``/conformance``) gives the HTTP floor. Medians over the rounds. Run from the repository root:

    .venv/bin/python -m benchmarks.bench_tiles [--rounds 15] [--points 1000000]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine, make_url, text
from sqlalchemy.dialects import postgresql

from benchmarks.common import bench_database, bench_settings
from core.schema import Field, Layer
from gis import boundaries as bq
from gis import tiles as gt
from gis.samples import load_samples
from layers.definitions import LAYERS

OUT = Path(__file__).parent / "out"
VENV = OUT / "tipg-venv"
PLACES = {"Bangkok": (100.5018, 13.7563), "Chiang Mai": (98.9853, 18.7883)}
ZOOMS = (6, 10, 14)
TIPG_SCHEMA = "tipg_bench"
SYNTHETIC = Layer(id="synthetic-1m", title_th="สังเคราะห์", title_en="Synthetic", description_th="",
                  key_field="key", name_field="key", fields=(Field("key", "text", "", ""),),
                  popup_fields=(), color="#000", icon="")


def install_tipg() -> Path:
    """tipg and uvicorn in a virtualenv of their own (created once, reused)."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "tipg", "uvicorn"],
                       check=True)
    return VENV / "bin" / "uvicorn"


def tipg_views(engine: Engine) -> None:
    """What tipg serves: the same rows and public columns as cddgis, as views in a schema of
    their own (tipg publishes every table and view of the schemas it is given)."""
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {TIPG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {TIPG_SCHEMA}"))
        conn.execute(text(f"""
            CREATE VIEW {TIPG_SCHEMA}.subdistricts AS
            SELECT code AS id, code, name_th, name_en, province_code, district_code, region, geom
            FROM public.subdistricts"""))
        conn.execute(text(f"""
            CREATE VIEW {TIPG_SCHEMA}.khok_nong_na AS
            SELECT id, key, properties, province_code, district_code, subdistrict_code, region,
                   sample, geom
            FROM public.layer_features WHERE layer = 'khok-nong-na'"""))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _process(args: list[str], env: dict[str, str], ready: str, expect: str,
             name: str) -> Iterator[None]:
    """A server process, until the block ends; ready once ``ready`` answers with ``expect``."""
    log = (OUT / f"{name}.log").open("w")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=5) as r:
                    if expect in r.read().decode():
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {OUT / f'{name}.log'}")
        yield
    finally:
        proc.terminate()
        try:  # gunicorn finishes its keep-alive connections first; the figures are in hand
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def cddgis_served(url: str) -> Iterator[str]:
    """``cddgis serve`` (gunicorn, as in production) on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": str(port),
           "CDDGIS_TILES": "none"}
    base = f"http://127.0.0.1:{port}"
    cddgis = str(Path(sys.executable).parent / "cddgis")
    with _process([cddgis, "serve", "--workers", "1"], env, f"{base}/api/health", '"ok"',
                  "cddgis"):
        yield base


@contextmanager
def tipg_served(url: str) -> Iterator[str]:
    """tipg under uvicorn on a free loopback port, until the block ends."""
    port = _free_port()
    parsed = make_url(url)
    env = {**os.environ,
           "DATABASE_URL": parsed.set(drivername="postgresql").render_as_string(
               hide_password=False),
           "TIPG_DB_SCHEMAS": json.dumps([TIPG_SCHEMA]), "TIPG_DB_ONLY_SPATIAL_TABLES": "true"}
    base = f"http://127.0.0.1:{port}"
    with _process([str(install_tipg()), "tipg.main:app", "--host", "127.0.0.1", "--port",
                   str(port), "--log-level", "warning"], env, f"{base}/collections",
                  f"{TIPG_SCHEMA}.subdistricts", "tipg"):
        yield base


_CONNECTIONS: dict[str, http.client.HTTPConnection] = {}


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[float, bytes, str]:
    """ms, body, and where the answer came from (``proxy`` from nginx's cache, else the app's
    X-Tile-Cache). One kept-alive connection per server, as map clients keep theirs."""
    parts = urlsplit(url)
    connection = _CONNECTIONS.get(parts.netloc)
    if connection is None:
        connection = _CONNECTIONS[parts.netloc] = http.client.HTTPConnection(
            parts.netloc, timeout=60)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status == 200, (url, response.status, body[:200])
    source = ("proxy" if response.headers.get("X-Cache-Status") == "HIT"
              else response.headers.get("X-Tile-Cache", ""))
    return elapsed, body, source


@contextmanager
def nginx_in_front(app_base: str) -> Iterator[str]:
    """nginx with the production configuration (scripts/prod/nginx.conf.in), proxying to the
    app at ``app_base``, on a free loopback port; its cache starts empty."""
    spec = importlib.util.spec_from_file_location(
        "cddgis_prod_profile", Path(__file__).parent.parent / "scripts" / "prod" / "profile.py")
    assert spec and spec.loader
    profile = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = profile  # its dataclasses look their module up
    spec.loader.exec_module(profile)
    work = OUT / "nginx"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("nginx/cache", "nginx/client_body", "nginx/proxy", "nginx/fastcgi",
                "nginx/uwsgi", "nginx/scgi"):
        (work / sub).mkdir(parents=True)
    for path in [work, *work.rglob("*")]:
        path.chmod(0o777)  # nginx's workers may run as another user (root starts them)
    port = _free_port()
    conf = work / "nginx.conf"
    conf.write_text(profile.nginx_conf(
        work_dir=work, access_log=work / "access.log", error_log=work / "error.log",
        listen=f"127.0.0.1:{port}", upstreams=[app_base.removeprefix("http://")],
        client_timeout="10s", max_body="1m", conn_per_ip=256, statement_timeout_ms=30_000,
        microcache="5s", brotli=False,
        # A benchmark is one client asking as fast as it can: no per-client limit.
        rates={"tile_rate": 100_000, "tile_burst": 100_000, "api_rate": 100_000,
               "api_burst": 100_000}))
    base = f"http://127.0.0.1:{port}"
    with _process(["nginx", "-p", f"{work}/", "-c", str(conf), "-e", str(work / "error.log"),
                   "-g", "daemon off;"], dict(os.environ), f"{base}/api/health", '"ok"',
                  "nginx"):
        yield base


def raw_ms(engine: Engine, source: bq.BoundaryCollection | Layer, z: int, x: int,
           y: int) -> tuple[float, int]:
    """The statement cddgis runs for this tile, on a plain psycopg2 cursor."""
    sql, params = gt.statement(source, gt.TileFilters(), z, x, y)
    compiled = text(sql).bindparams(**params).compile(dialect=postgresql.psycopg2.dialect())
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cur:
            started = time.perf_counter()
            cur.execute(str(compiled), compiled.params)
            data = cur.fetchone()[0]
            elapsed = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    return elapsed, len(bytes(data or b""))


def million_points(engine: Engine, n: int) -> dict[str, object]:
    """Largest tile and slowest cold tile at z=0..6 over a synthetic layer of ``n`` points."""
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.2564)"))
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, geom)
            SELECT 'synthetic-1m', 'S' || i, 'S' || i, jsonb_build_object('key', 'S' || i),
                   ST_SetSRID(ST_MakePoint(97.35 + random() * 8.3, 5.62 + random() * 14.8),
                              4326)
            FROM generate_series(1, :n) AS i"""), {"n": n})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE layer_features"))
    largest, slowest = 0, 0.0
    for z in range(0, 11):
        x0, y1 = gt.lonlat_to_tile(97.34, 5.61, z)
        x1, y0 = gt.lonlat_to_tile(105.64, 20.47, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                if z > 6 and (x, y) != gt.lonlat_to_tile(101.5, 13.0, z):
                    continue  # beyond z=6, one dense tile per zoom
                started = time.perf_counter()
                tile = gt.get_tile(engine, SYNTHETIC, gt.TileFilters(), z, x, y)
                slowest = max(slowest, time.perf_counter() - started)
                largest = max(largest, len(tile.data))
    gt.clear_cache(engine, SYNTHETIC.id)
    return {"points": n, "largest_tile_bytes": largest, "slowest_cold_s": slowest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    install_tipg()
    settings = bench_settings()
    url, engine = bench_database(settings)
    load_samples(engine, settings.data_dir, layers=["khok-nong-na"])
    tipg_views(engine)

    sources: dict[str, tuple[bq.BoundaryCollection | Layer, str]] = {
        "subdistricts": (bq.COLLECTIONS["subdistricts"], f"{TIPG_SCHEMA}.subdistricts"),
        "khok-nong-na": (LAYERS["khok-nong-na"], f"{TIPG_SCHEMA}.khok_nong_na"),
    }
    cases = [(name, place, z, *gt.lonlat_to_tile(lon, lat, z))
             for name in sources for place, (lon, lat) in PLACES.items() for z in ZOOMS]
    keys = ("cold", "cold_direct", "proxy", "app_cache", "tipg", "raw", "floor_cddgis",
            "floor_tipg")
    samples: dict[tuple, dict[str, list[float]]] = {c: {k: [] for k in keys} for c in cases}
    sizes: dict[tuple, dict[str, int]] = {}
    bypass = {"X-Cddgis-Cache-Bypass": "1"}  # honoured from loopback only

    def written(name: str, source: bq.BoundaryCollection | Layer) -> str:
        """As after a write to the collection: a new version, its cached tiles gone."""
        with engine.begin() as conn:
            conn.execute(text("UPDATE tile_versions SET version = version + 1 "
                              "WHERE collection = :c"), {"c": name})
        gt.clear_cache(engine, name)
        return gt.current_version(engine, source)

    with cddgis_served(url) as app, nginx_in_front(app) as proxy, tipg_served(url) as tipg:
        for round_no in range(args.rounds + 1):  # round 0 warms every server up
            for case in cases:
                name, _, z, x, y = case
                source, tipg_id = sources[name]
                path = f"/api/collections/{name}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                direct, _, state = fetch(f"{app}{path}?v={written(name, source)}")
                assert state == "miss", state
                versioned = f"{proxy}{path}?v={written(name, source)}"
                cold, body, state = fetch(versioned)
                assert state == "miss", state
                kept, again, state = fetch(versioned)
                assert state == "proxy" and again == body, state
                app_cache, plain, state = fetch(f"{proxy}{path}")
                assert state == "hit" and plain == body, state
                theirs, tipg_body, _ = fetch(
                    f"{tipg}/collections/{tipg_id}/tiles/WebMercatorQuad/{z}/{x}/{y}")
                floor, raw_bytes = raw_ms(engine, source, z, x, y)
                http_ours = fetch(f"{proxy}/api/conformance", bypass)[0]
                http_theirs = fetch(f"{tipg}/conformance")[0]
                if round_no:
                    for key, value in (("cold", cold), ("cold_direct", direct),
                                       ("proxy", kept), ("app_cache", app_cache),
                                       ("tipg", theirs), ("raw", floor),
                                       ("floor_cddgis", http_ours), ("floor_tipg", http_theirs)):
                        samples[case][key].append(value)
                sizes[case] = {"cddgis": len(body), "tipg": len(tipg_body), "raw": raw_bytes}
    big = million_points(engine, args.points)

    rows = []
    for case in cases:
        name, place, z, x, y = case
        m = {k: statistics.median(v) for k, v in samples[case].items()}
        rows.append({"collection": name, "place": place, "tile": f"{z}/{x}/{y}", **m,
                     **{f"{k}_bytes": v for k, v in sizes[case].items()},
                     "tipg_over_cold": m["tipg"] / m["cold"],
                     "tipg_over_proxy": m["tipg"] / m["proxy"],
                     "tipg_over_app_cache": m["tipg"] / m["app_cache"],
                     "cold_over_raw": m["cold"] / m["raw"],
                     "cold_direct_over_raw": m["cold_direct"] / m["raw"],
                     "proxy_over_raw": m["proxy"] / m["raw"],
                     # What no server can beat: the statement plus a trivial request's HTTP.
                     "raw_plus_floor": m["raw"] + m["floor_cddgis"],
                     "cold_over_raw_plus_floor": m["cold"] / (m["raw"] + m["floor_cddgis"])})
    floors = {k: statistics.median(v for c in cases for v in samples[c][k])
              for k in ("floor_cddgis", "floor_tipg")}
    print(f"{os.cpu_count()} cores; {args.rounds} rounds, medians in ms; nginx → cddgis serve "
          f"(gunicorn, 1 worker, 4 threads), tipg {tipg_version()} (uvicorn, 1 worker); "
          f"kept-alive connections; HTTP floor (a trivial request): cddgis "
          f"{floors['floor_cddgis']:.2f} ms (through nginx), tipg {floors['floor_tipg']:.2f} ms")
    print("| collection | place | z/x/y | cddgis cold | cold, app direct | kept by the proxy "
          "| cached in the app | tipg | raw ST_AsMVT | cddgis bytes | tipg bytes | tipg ÷ cold "
          "| tipg ÷ proxy | tipg ÷ app cache | cold ÷ raw | app direct ÷ raw | proxy ÷ raw "
          "| cold ÷ (raw + floor) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['collection']} | {r['place']} | {r['tile']} | {r['cold']:.2f} "
              f"| {r['cold_direct']:.2f} | {r['proxy']:.2f} | {r['app_cache']:.2f} "
              f"| {r['tipg']:.2f} | {r['raw']:.2f} "
              f"| {r['cddgis_bytes']:,} | {r['tipg_bytes']:,} | {r['tipg_over_cold']:.1f}× "
              f"| {r['tipg_over_proxy']:.1f}× | {r['tipg_over_app_cache']:.1f}× "
              f"| {r['cold_over_raw']:.1f}× | {r['cold_direct_over_raw']:.1f}× "
              f"| {r['proxy_over_raw']:.2f}× | {r['cold_over_raw_plus_floor']:.1f}× |")
    print(f"{big['points']:,} synthetic points, z=0..6 over Thailand and one dense tile per zoom "
          f"to z=10: largest tile {big['largest_tile_bytes']:,} bytes (budget "
          f"{gt.BYTE_BUDGET:,}), slowest cold tile {big['slowest_cold_s']:.2f} s")
    (OUT / "tiles.json").write_text(json.dumps({"tiles": rows, "million": big,
                                                "http_floor_ms": floors}, indent=2))


def tipg_version() -> str:
    out = subprocess.run([str(VENV / "bin" / "python"), "-c",
                          "import tipg; print(tipg.__version__)"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
