"""Load on the production profile (nginx → 2 gunicorn apps → PgBouncer → PostGIS), with wrk.

Starts the profile with the project's own script (scripts/production.sh) over a database of its
own (``cddgis_load``, loaded once with the same commands as ``make prod``), then:

1. every main page and endpoint: ``wrk`` at 32 connections for ``--seconds`` each, as deployed
   (proxy cache on) and with the proxy cache bypassed (the apps and PostGIS doing the work):
   requests/s, p50/p99 latency, non-2xx/3xx responses and socket errors, and the app workers'
   RSS before and after;
2. slowloris: 50 connections trickling one header line every 5 s, against the proxy and, for
   comparison, against one gunicorn app directly; latency of normal requests before and during;
3. database restart: PostgreSQL stopped for 10 s and started again, on the same port (as a
   packaged service restarts) and with `cddgis db stop` / `cddgis db start`; what clients get
   meanwhile and how long until the app answers again.

Run from the repository root:

    .venv/bin/python -m benchmarks.bench_load [--seconds 60] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.common import bench_settings
from gis.cluster import LocalCluster, _bindir, create_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cddgis_load"
BYPASS = {"X-Cddgis-Cache-Bypass": "1"}  # honoured from loopback only (scripts/prod/nginx.conf.in)
ENDPOINTS = [
    "/",
    "/boundaries",
    "/layers/khok-nong-na",
    "/choropleth",
    "/tour",
    "/locator",
    "/api/collections",
    "/api/collections/khok-nong-na/items?limit=100",
    "/api/collections/subdistricts/items?province=50",
    "/api/indicators/nso-household-income/values?level=province&year=2558",
    "/api/collections/khok-nong-na/clusters?zoom=6&bbox=97.3,5.6,105.7,20.5",
    "/api/collections/learning-centers/items?near=100.5018,13.7563&limit=5",
]
PROBE = "/api/collections/provinces/items?limit=5&lod=3"


def _cli(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "cddgis"), *args], cwd=ROOT, env=env,
                   check=args[:2] != ["load", "villages"], capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None,
        timeout: float = 10) -> tuple[int | str, float]:
    """(status or error name, seconds)."""
    began = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout) as response:
            response.read()
            status: int | str = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, urllib.error.URLError) as exc:
        status = type(getattr(exc, "reason", exc)).__name__
    return status, time.monotonic() - began


# -- wrk -----------------------------------------------------------------------------------

def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str],
        script: str | None = None) -> dict:
    """One wrk run (``script``: a Lua file that picks each request, e.g. over several paths)."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-H", "Accept-Encoding: gzip, br", *(["-s", script] if script else [])]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def worker_rss(state: dict) -> dict[str, float]:
    """RSS (MB) of every gunicorn worker, by pid (children of each app's master)."""
    rss = {}
    for proc in state["processes"]:
        if not proc["name"].startswith("app-"):
            continue
        master = proc["pid"]
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        for pid in [master, *map(int, children)]:
            status = Path(f"/proc/{pid}/status").read_text()
            kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
            rss[f"{proc['name']}:{'master' if pid == master else pid}"] = round(kb / 1024, 1)
    return rss


# -- slowloris -----------------------------------------------------------------------------

class Slowloris:
    """``count`` connections that send one header line every ``every`` seconds, reopened when
    the server drops them (as the attack does)."""

    def __init__(self, host: str, port: int, count: int, every: float = 5.0):
        self.host, self.port, self.count, self.every = host, port, count, every
        self.sockets: list[socket.socket | None] = [None] * count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int) -> None:
        try:
            s = socket.create_connection((self.host, self.port), timeout=2)
            s.sendall(f"GET /?slow={i} HTTP/1.1\r\nHost: {self.host}\r\n".encode())
            self.sockets[i] = s
        except OSError:
            self.sockets[i] = None

    def __enter__(self) -> Slowloris:
        for i in range(self.count):
            self._open(i)
        self.thread.start()
        return self

    def _run(self) -> None:
        line = 0
        while not self.stop.wait(self.every):
            line += 1
            for i, s in enumerate(self.sockets):
                try:
                    if s is None:
                        raise OSError
                    s.sendall(f"X-Slow-{line}: a\r\n".encode())
                except OSError:
                    if s is not None:
                        s.close()
                    self.reopened += 1
                    self._open(i)

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.sockets:
            if s is not None:
                s.close()


def probe(base: str, n: int, timeout: float = 5.0) -> dict:
    results = [get(base + PROBE, BYPASS, timeout=timeout) for _ in range(n)]
    ok = [sec * 1000 for status, sec in results if status == 200]
    return {"requests": n, "ok": len(ok),
            "failed": sorted({str(s) for s, _ in results if s != 200}),
            "median_ms": round(statistics.median(ok), 1) if ok else None,
            "max_ms": round(max(ok), 1) if ok else None}


def slowloris_run(base: str, app_base: str, slow: int) -> dict:
    host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
    app_port = int(app_base.rsplit(":", 1)[1])
    out = {"proxy_before": probe(base, 30)}
    with Slowloris(host, port, slow):
        out["proxy_during"] = probe(base, 30)
    out["app_direct_before"] = probe(app_base, 10)
    with Slowloris(host, app_port, slow):
        out["app_direct_during"] = probe(app_base, 10)
    return out


# -- database restart ----------------------------------------------------------------------

def _same_port_restart(cluster: LocalCluster, down_seconds: float) -> None:
    """pg_ctl stop, wait, pg_ctl start on the same port: what a packaged PostgreSQL service
    (systemctl restart postgresql) does."""
    info = cluster.info()
    pg_ctl = str(_bindir() / "pg_ctl")
    cluster._run([pg_ctl, "stop", "-w", "-m", "fast", "-D", str(cluster.pgdata)])
    time.sleep(down_seconds)
    options = (f"-p {info.port} -c listen_addresses=127.0.0.1 "
               f"-c unix_socket_directories={cluster.pgdata}")
    cluster._run([pg_ctl, "start", "-w", "-t", "60", "-D", str(cluster.pgdata),
                  "-l", str(cluster.logdir / "postgres.log"), "-o", options])


def _cddgis_db_restart(cluster: LocalCluster, down_seconds: float) -> None:
    """`cddgis db stop`, wait, `cddgis db start` (LocalCluster.stop/start)."""
    cluster.stop()
    time.sleep(down_seconds)
    cluster.start()


def db_restart_run(base: str, cluster: LocalCluster, down_seconds: float, how: str) -> dict:
    """Every 0.5 s, three requests in parallel (health, a cached page, an uncached query), from
    the stop until the database is back; then the time until each answers 200 again."""
    urls = {"health": (base + "/api/health", {}), "cached": (base + "/api/collections", {}),
            "uncached": (base + PROBE, BYPASS)}
    for url, headers in urls.values():
        get(url, headers)  # warm: the proxy has a copy of the cached page
    port_before = cluster.info().port
    samples: list[tuple[str, int | str, float]] = []
    done = threading.Event()

    def one(kind: str) -> None:
        status, seconds = get(*urls[kind], timeout=30)
        samples.append((kind, status, seconds))

    def sampler() -> None:
        threads = []
        while not done.is_set():
            for kind in urls:
                t = threading.Thread(target=one, args=(kind,), daemon=True)
                t.start()
                threads.append(t)
            done.wait(0.5)
        for t in threads:
            t.join()

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    (_same_port_restart if how == "same-port" else _cddgis_db_restart)(cluster, down_seconds)
    back = time.monotonic()
    first_ok: dict[str, float] = {}
    while len(first_ok) < len(urls) and time.monotonic() - back < 60:
        for kind, (url, headers) in urls.items():
            if kind not in first_ok and get(url, headers, timeout=30)[0] == 200:
                first_ok[kind] = time.monotonic() - back
        time.sleep(0.05)
    done.set()
    thread.join()
    summary = {}
    for kind in urls:
        mine = [(status, sec) for k, status, sec in samples if k == kind]
        counts: dict[str, int] = {}
        for status, _ in mine:
            counts[str(status)] = counts.get(str(status), 0) + 1
        summary[kind] = {"answers": counts,
                         "max_ms": round(max(sec for _, sec in mine) * 1000, 1),
                         "first_ok_after_start_s": round(first_ok[kind], 2)
                         if kind in first_ok else None}
    return {"how": how, "down_seconds": down_seconds, "port_before": port_before,
            "port_after": cluster.info().port, **summary}


# -- main ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="wrk duration per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--slow", type=int, default=50, help="slowloris connections")
    parser.add_argument("--db-down", type=float, default=10.0)
    parser.add_argument("--passes", default="cached,bypass",
                        help="cached (as deployed), bypass (proxy cache skipped), or both")
    parser.add_argument("--parts", default="wrk,slowloris,restart",
                        help="which runs (results merge into benchmarks/out/bench_load.json)")
    args = parser.parse_args()

    settings = bench_settings()
    cluster = LocalCluster(settings.state_dir)
    url = create_database(cluster.start(), DATABASE)
    env = {**os.environ, "DATABASE_URL": url, "CDDGIS_OWNER_DATABASE_URL": url,
           "CDDGIS_TILES": "none", "PORT": str(_free_port()),
           "CDDGIS_PROD_DIR": str(settings.state_dir / "prod-bench"),
           # A benchmark is one client asking as fast as it can: no per-client limit.
           **{f"CDDGIS_{name.upper()}": "100000" for name in
              ("tile_rate", "tile_burst", "api_rate", "api_burst")}}
    began = time.monotonic()
    for step in (["migrate"], ["load", "boundaries", "--if-empty"],
                 ["load", "villages", "--if-empty"], ["load", "indicators", "--if-empty"],
                 ["sample", "--if-empty"]):
        _cli(step, env)
    print(f"database {DATABASE} ready in {time.monotonic() - began:.0f} s")

    script = ["bash", str(ROOT / "scripts" / "production.sh")]
    subprocess.run([*script, "start"], cwd=ROOT, env=env, check=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    state_file = Path(env["CDDGIS_PROD_DIR"]) / "profile.json"
    results: dict = {"nproc": os.cpu_count(), "wrk": {}}
    try:
        state = json.loads(state_file.read_text())
        for path in ENDPOINTS:
            status, _ = get(base + path, BYPASS, timeout=30)
            assert status == 200, (path, status)
        parts = args.parts.split(",")
        if "wrk" in parts:
            results.update(seconds=args.seconds, connections=args.connections)
            results["rss_before_mb"] = worker_rss(state)
            for name in args.passes.split(","):
                headers = BYPASS if name == "bypass" else {}
                for path in ENDPOINTS:
                    row = wrk(base + path, args.seconds, args.connections, headers)
                    results["wrk"].setdefault(name, {})[path] = row
                    print(f"{name:<7} {path:<75} {row['rps']:>8.1f} req/s  p50 "
                          f"{row['p50_ms']:>7.1f} ms  p99 {row['p99_ms']:>7.1f} ms  non-2xx "
                          f"{row['non_2xx']}  socket errors {row['socket_errors']}", flush=True)
            results["rss_after_mb"] = worker_rss(state)
            print(json.dumps({k: results[k] for k in ("rss_before_mb", "rss_after_mb")},
                             indent=1))
        if "slowloris" in parts:
            app_base = f"http://127.0.0.1:{state['app_ports'][0]}"
            results["slowloris"] = slowloris_run(base, app_base, args.slow)
            print(json.dumps(results["slowloris"], indent=1), flush=True)
        if "restart" in parts:
            # Same port first: `cddgis db start` may move the cluster to another port, which
            # leaves this profile pointing at the old one.
            results["db_restart"] = [db_restart_run(base, cluster, args.db_down, how)
                                     for how in ("same-port", "cddgis-db")]
            print(json.dumps(results["db_restart"], indent=1), flush=True)
    finally:
        subprocess.run([*script, "stop"], cwd=ROOT, env=env, check=False)
    out = ROOT / "benchmarks" / "out" / "bench_load.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    if not results["wrk"]:
        del results["wrk"]
    out.write_text(json.dumps({**previous, **results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
