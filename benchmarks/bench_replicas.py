"""Reads on a streaming standby against the primary alone, on the production profile (issue 22).

Starts two production profiles side by side with the project's own script, over one database of
their own (``cddgis_replica_bench``, a copy of the test suite's fully loaded template: boundaries,
the five sample layers, villages, indicators):

* **primary**: ``scripts/production.sh start`` as it was (reads and writes on the primary);
* **replica**: the same with ``CDDGIS_REPLICAS=1`` (a hot standby of the local cluster made by
  ``pg_basebackup -R``, its own PgBouncer, the apps' CDDGIS_READ_DATABASE_URL pointing there).

Then, each part bounded in time:

1. **throughput**: ``wrk`` over a mix of uncached reads (the proxy cache bypassed:
   ``X-Cddgis-Cache-Bypass: 1``), alternating primary, replica, primary, replica… (interleaved,
   so the machine's other load falls on both), with the load average before each run and the
   CPU seconds each part of the stack used (apps, primary PostgreSQL, standby, nginx, PgBouncer);
2. **per class**: the same for main pages, API reads and tiles alone, on the replica profile:
   requests/s per app core and per database core, for the capacity model;
3. **read-your-writes**: replay lag (a row committed on the primary until the standby shows
   it, polled without pause) and, through nginx, a staff write then its author's read
   (primary) and the public's read (standby, polled until it appears);
4. **cache-hit ratio**: a realistic mix of visits through nginx as deployed (cache on),
   counting ``X-Cache-Status`` per kind of request.

Run from the repository root (the machine's other work shows in the load average it prints):

    .venv/bin/python -m benchmarks.bench_replicas [--seconds 15] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg2

from benchmarks.bench_load import _free_port, wrk
from benchmarks.common import bench_settings, p95
from gis import accounts, changes
from gis.cluster import LocalCluster, LocalStandby, create_database
from gis.db import engine_for
from gis.tiles import lonlat_to_tile
from tests.templates import ensure_templates

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cddgis_replica_bench"
BYPASS = {"X-Cddgis-Cache-Bypass": "1"}
KNN = "khok-nong-na"
TILE = f"/api/collections/{KNN}/tiles/WebMercatorQuad"
CLASSES = {
    "pages": ["/tour", "/dashboard?province=50", "/", "/boundaries"],
    "api": ["/api/collections", f"/api/collections/{KNN}/items?limit=100",
            "/api/collections/districts/items?province=50&limit=20",
            "/api/collections/learning-centers/items?near=100.5018,13.7563&limit=5"],
    # z8–z12 over Chiang Mai and Bangkok: the app builds each once, then its tile cache (on
    # the primary) answers; the proxy's cache is bypassed.
    "tiles": [f"{TILE}/{z}/{x}/{y}" for z in (8, 10, 12)
              for lon, lat in ((98.9853, 18.7883), (100.5018, 13.7563))
              for x, y in [lonlat_to_tile(lon, lat, z)]],
}
_BKK = lonlat_to_tile(100.5018, 13.7563, 12)
MIX = ["/api/collections", f"/api/collections/{KNN}/items?limit=100",
       f"{TILE}/12/{_BKK[0]}/{_BKK[1]}", "/tour", "/dashboard?province=50"]


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
        timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


# -- CPU seconds by part of the stack, from /proc ---------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree(root: int, tree: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def _cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (exited children: not here)
    return total / TICK


def _postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def stack(prof: dict, cluster: LocalCluster, standby: LocalStandby | None) -> dict[str, list]:
    """The pids of each part: apps (gunicorn masters and workers), nginx, PgBouncer(s), the
    primary PostgreSQL (every backend, the other profile's too: they share it) and the
    standby."""
    supervised = json.loads((Path(prof["dir"]) / "supervised.json").read_text())["programs"]
    tree = _children()
    parts: dict[str, list] = {"apps": [], "nginx": [], "pgbouncer": []}
    for p in supervised:
        if not p.get("pid"):
            continue
        kind = "apps" if p["name"].startswith("app-") else p["name"].split("-")[0]
        parts.setdefault(kind, []).extend(_tree(p["pid"], tree))
    parts["db-primary"] = _tree(_postmaster(cluster.pgdata), tree)
    if standby is not None:
        parts["db-standby"] = _tree(_postmaster(standby.pgdata), tree)
    return parts


def measure(run, parts: dict[str, list]) -> tuple[dict, dict[str, float]]:
    before = {k: _cpu(v) for k, v in parts.items()}
    result = run()
    used = {k: round(_cpu(v) - before[k], 2) for k, v in parts.items()}
    return result, used


# -- wrk over several paths ------------------------------------------------------------------

def wrk_paths(base: str, paths: list[str], seconds: int, connections: int) -> dict:
    """wrk cycling over ``paths`` (a Lua script), cache bypassed."""
    script = "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n" + """
i = 0
request = function()
  i = (i % #paths) + 1
  return wrk.format("GET", paths[i])
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        return wrk(base + "/", seconds, connections, BYPASS, script=f.name)
    finally:
        os.unlink(f.name)


# -- the two profiles ------------------------------------------------------------------------

def start_profile(name: str, replicas: int, app_url: str, owner_url: str,
                  settings_dir: Path) -> dict:
    port = _free_port()
    prod_dir = settings_dir / f"bench-{name}"
    env = {**os.environ, "DATABASE_URL": app_url, "CDDGIS_OWNER_DATABASE_URL": owner_url,
           "PORT": str(port), "CDDGIS_PROD_DIR": str(prod_dir), "CDDGIS_TILES": "none",
           "CDDGIS_REPLICAS": str(replicas),
           "CDDGIS_API_RATE": "100000", "CDDGIS_API_BURST": "100000",
           "CDDGIS_TILE_RATE": "100000", "CDDGIS_TILE_BURST": "100000"}
    began = time.monotonic()
    done = subprocess.run(["bash", "scripts/production.sh", "start"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    print(done.stdout.strip().splitlines()[-1])
    return {"name": name, "base": f"http://127.0.0.1:{port}", "dir": str(prod_dir), "env": env,
            "start_s": round(time.monotonic() - began, 1)}


def stop_profile(prof: dict) -> None:
    subprocess.run(["bash", "scripts/production.sh", "stop"], cwd=ROOT, env=prof["env"],
                   capture_output=True, text=True, timeout=300)


# -- read-your-writes ------------------------------------------------------------------------

def replay_lag(owner_url: str, standby_port: int, app_url: str, n: int) -> dict:
    """A row committed on the primary until the standby shows it (polled without pause)."""
    from sqlalchemy.engine import make_url

    o, a = make_url(owner_url), make_url(app_url)
    primary = psycopg2.connect(host=o.host, port=o.port, dbname=o.database, user=o.username,
                               password=o.password)
    primary.autocommit = True
    standby = psycopg2.connect(host="127.0.0.1", port=standby_port, dbname=a.database,
                               user=a.username, password=a.password)
    standby.autocommit = True
    lags = []
    try:
        with primary.cursor() as pc, standby.cursor() as sc:
            for i in range(n):
                key = f"BENCH-LAG-{i}"
                pc.execute("""INSERT INTO layer_features (layer, key, name, properties, geom)
                              VALUES (%s, %s, %s, %s, ST_SetSRID(ST_MakePoint(100.5, 13.75),
                                                                 4326))""",
                           (KNN, key, key, json.dumps({"plot_id": key})))
                committed = time.perf_counter()
                while True:
                    sc.execute("SELECT 1 FROM layer_features WHERE layer = %s AND key = %s",
                               (KNN, key))
                    if sc.fetchone():
                        break
                lags.append((time.perf_counter() - committed) * 1000)
            pc.execute("DELETE FROM layer_features WHERE key LIKE 'BENCH-LAG-%%'")
    finally:
        primary.close()
        standby.close()
    return _stats(lags)


def _stats(values: list[float]) -> dict:
    return {"n": len(values), "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(p95(values), 2), "max_ms": round(max(values), 2)}


def staff_then_public(prof: dict, token: str, n: int) -> dict:
    """Through nginx: a staff POST, then its author's GET (primary) and the public's GET
    (standby; repeated until 200)."""
    staff_read, public_seen, writes = [], [], []
    missed: list[int] = []
    for i in range(n):
        plot = f"BENCH-RYW-{prof['name']}-{i}"
        feature = {"type": "Feature", "geometry": {"type": "Point",
                                                   "coordinates": [98.98, 18.78]},
                   "properties": {"plot_id": plot, "plot_size_rai": 3, "model_level": "HLM",
                                  "budget_year": 2565}}
        began = time.perf_counter()
        status, _, body = get(f"{prof['base']}/api/collections/{KNN}/items",
                              {"Authorization": f"Bearer {token}",
                               "Content-Type": "application/geo+json"},
                              json.dumps(feature).encode())
        assert status == 201, body[:300]
        written = time.perf_counter()
        writes.append((written - began) * 1000)
        item = f"{prof['base']}/api/collections/{KNN}/items/{plot}"
        status, _, _ = get(item, {"Authorization": f"Bearer {token}", **BYPASS})
        assert status == 200
        staff_read.append((time.perf_counter() - written) * 1000)
        again = time.perf_counter()
        tries = 0
        while get(item, BYPASS)[0] != 200:
            tries += 1
            assert tries < 10_000
        public_seen.append((time.perf_counter() - again) * 1000)
        missed.append(tries)
    return {"write": _stats(writes), "staff_read_after_write": _stats(staff_read),
            "public_read_until_seen": _stats(public_seen),
            "public_reads_that_missed_it": sum(missed),
            "writes_the_public_missed_at_first": sum(1 for m in missed if m)}


# -- the cache-hit ratio of a realistic mix ---------------------------------------------------

def visits(rng: random.Random, provinces: list[tuple[str, float, float]], tile_template: str,
           n: int) -> list[tuple[str, str]]:
    """(kind, path) of ``n`` visits, as the pages' scripts ask: a page, its API calls and the
    tiles of its map view. Provinces drawn Zipf-like (a few are asked for most: Bangkok,
    Chiang Mai…, in the registry's order after the first ones), so the mix repeats as the
    public's does. Static files are left out (a browser keeps them; nginx would add hits)."""
    import math

    weights = [1 / (i + 1) for i in range(len(provinces))]
    out: list[tuple[str, str]] = []
    for _ in range(n):
        code, lon, lat = rng.choices(provinces, weights)[0]
        kind = rng.choices(["tour", "dashboard", "home", "layer", "api"], [30, 25, 15, 15, 15])[0]
        if kind == "tour":
            out += [("page", "/tour"), ("api", f"/tour/search.json?province={code}")]
        elif kind == "dashboard":
            out += [("page", f"/dashboard?province={code}"),
                    ("api", f"/api/areas/province/{code}/summary")]
        elif kind == "home":
            out += [("page", "/"), ("api", "/api/collections")]
        elif kind == "layer":
            out += [("page", f"/layers/{KNN}"), ("api", f"/api/collections/{KNN}/items?"
                                                         f"province={code}&limit=50")]
        else:
            out += [("api", f"/api/collections/districts/items?province={code}&limit=20")]
        if kind in ("layer", "tour", "dashboard"):
            z = rng.choice([8, 9, 10])
            n_ = 2 ** z
            x = int((lon + 180) / 360 * n_)
            y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n_)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    out.append(("tile", tile_template.format(z=z, x=x + dx, y=y + dy)))
    return out


def cache_mix(prof: dict, requests: list[tuple[str, str]], threads: int) -> dict:
    counts: dict[str, Counter] = {}
    lock = threading.Lock()
    queue = list(reversed(requests))

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                kind, path = queue.pop()
            status, headers, _ = get(prof["base"] + path)
            with lock:
                counts.setdefault(kind, Counter())[
                    headers.get("x-cache-status", "NONE") if status < 400 else f"HTTP {status}"
                ] += 1

    began = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.monotonic() - began
    total = sum(sum(c.values()) for c in counts.values())
    hits = sum(c.get("HIT", 0) for c in counts.values())
    return {"requests": total, "seconds": round(seconds, 1),
            "rps": round(total / seconds, 1), "hit_ratio": round(hits / total, 3),
            "by_kind": {k: dict(v) for k, v in counts.items()}}


def per_core(rows: list[dict]) -> dict:
    """Requests per CPU second of the apps and of PostgreSQL (primary and standby together:
    the database work wherever it ran), by class and profile: the capacity model's input."""
    out: dict = {}
    for row in rows:
        db = row["cpu_s"].get("db-primary", 0) + row["cpu_s"].get("db-standby", 0)
        out.setdefault(row["class"], {})[row["profile"]] = {
            "requests": row["requests"],
            "per_app_core_s": round(row["requests"] / row["cpu_s"]["apps"], 1),
            "per_db_core_s": round(row["requests"] / db, 1) if db else None,
            "per_proxy_and_pool_core_s": round(
                row["requests"] / (row["cpu_s"]["nginx"] + row["cpu_s"]["pgbouncer"]), 1)}
    return out


# -- main ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the mix")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--out", default="/tmp/bench_replicas.json")
    args = parser.parse_args()

    settings = bench_settings()
    cluster = LocalCluster(settings.state_dir)
    info = cluster.start()
    templates = ensure_templates(info, settings.data_dir)
    owner_url = create_database(info, DATABASE, drop_first=True, template=templates.full)
    app_url = info.url(database=DATABASE, role="app")
    owner = engine_for(owner_url)
    accounts.create_account(owner, "bench-officer", password="correct horse battery",
                            role="editor", provinces=["50"], layers=[KNN])
    changes.set_requires_approval(owner, KNN, False)
    token = accounts.issue_token(owner, "bench-officer")
    with owner.connect() as conn:
        from sqlalchemy import text

        provinces = [(r[0], float(r[1]), float(r[2])) for r in conn.execute(text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM provinces ORDER BY code"))]

    results: dict = {"nproc": os.cpu_count(), "args": vars(args)}
    profiles = [start_profile("primary", 0, app_url, owner_url, settings.state_dir),
                start_profile("replica", 1, app_url, owner_url, settings.state_dir)]
    standby = LocalStandby(cluster, name="bench-replica-replica-1")
    results["start_s"] = {p["name"]: p["start_s"] for p in profiles}
    try:
        for prof in profiles:  # warm: every path in every worker (pages kept per version,
            # tiles built into the tile cache), so the runs measure the steady state
            for _ in range(8):
                for path in {*MIX, *(p for ps in CLASSES.values() for p in ps)}:
                    status = get(prof["base"] + path, BYPASS)[0]
                    assert status == 200, (path, status)
            health = json.loads(get(prof["base"] + "/api/health")[2])
            print(prof["name"], "health:", health)

        # 1. the mix, interleaved
        results["mix"] = []
        for round_ in range(args.rounds):
            for prof in profiles:
                parts = stack(prof, cluster, standby if prof["name"] == "replica" else None)
                load = os.getloadavg()
                row, cpu = measure(lambda p=prof: wrk_paths(p["base"], MIX, args.seconds,
                                                            args.connections), parts)
                row.update({"profile": prof["name"], "round": round_ + 1,
                            "loadavg_before": [round(x, 2) for x in load], "cpu_s": cpu})
                print(json.dumps(row))
                results["mix"].append(row)

        # 2. per class, on the replica profile (and the primary profile's figure beside it)
        results["classes"] = []
        for name, paths in CLASSES.items():
            for prof in profiles:
                parts = stack(prof, cluster, standby if prof["name"] == "replica" else None)
                load = os.getloadavg()
                row, cpu = measure(lambda p=prof, ps=paths: wrk_paths(
                    p["base"], ps, args.seconds, args.connections), parts)
                row.update({"class": name, "profile": prof["name"],
                            "loadavg_before": [round(x, 2) for x in load], "cpu_s": cpu,
                            "seconds": args.seconds})
                print(json.dumps(row))
                results["classes"].append(row)

        results["per_core"] = per_core(results["classes"])
        print("per core", json.dumps(results["per_core"]))

        # 3. read-your-writes
        assert standby.port is not None
        results["replay_lag"] = replay_lag(owner_url, standby.port, app_url, 50)
        print("replay lag", results["replay_lag"])
        results["read_your_writes"] = {p["name"]: staff_then_public(p, token, args.writes)
                                       for p in profiles}
        print("read-your-writes", json.dumps(results["read_your_writes"]))

        # 4. cache-hit ratio of a realistic mix, as deployed (the replica profile)
        prof = profiles[1]
        tilejson = json.loads(get(prof["base"] + f"{TILE}/tilejson.json")[2])
        template = str(tilejson["tiles"][0]).removeprefix(prof["base"]).replace(
            "{z}/{x}/{y}", "{z}/{x}/{y}")
        requests = visits(random.Random(22), provinces, template, args.visits)
        load = os.getloadavg()
        results["cache_mix"] = cache_mix(prof, requests, threads=8)
        results["cache_mix"]["loadavg_before"] = [round(x, 2) for x in load]
        print("cache mix", json.dumps(results["cache_mix"]))
    finally:
        for prof in profiles:
            stop_profile(prof)
        standby.stop()
        standby.drop_slot(info)
        import shutil

        shutil.rmtree(standby.dir, ignore_errors=True)
        with owner.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("DELETE FROM layer_features WHERE key LIKE 'BENCH-%'"))
        Path(args.out).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
