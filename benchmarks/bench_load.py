"""Load on the production profile (nginx → 2 gunicorn apps → PgBouncer → PostGIS), with wrk.

Starts the profile with the project's own script (scripts/production.sh) over a database of its
own (``cddgis_load``, loaded once with the same commands as ``make prod``), then:

1. every main page and endpoint: ``wrk`` at 32 connections for ``--seconds`` each, as deployed
   (proxy cache on) and with the proxy cache bypassed (the apps and PostGIS doing the work):
   requests/s, p50/p99 latency, non-2xx/3xx responses and socket errors, and the app workers'
   RSS before and after;
2. slowloris: 50 connections trickling one header line every 5 s, against the proxy and, for
   comparison, against one gunicorn app directly; latency of normal requests before and during;
3. database restart: PostgreSQL stopped for 10 s and started again; what clients get meanwhile
   and how long until the app answers again.

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
from gis.cluster import LocalCluster, create_database

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


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-H", "Accept-Encoding: gzip, br"]
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

def db_restart_run(base: str, cluster: LocalCluster, down_seconds: float) -> dict:
    cached = base + "/api/collections"
    seen: dict[str, list] = {"health": [], "cached_page": [], "uncached_api": []}

    def sample() -> None:
        seen["health"].append(get(base + "/api/health", timeout=20)[0])
        seen["cached_page"].append(get(cached, timeout=20)[0])
        seen["uncached_api"].append(get(base + PROBE, BYPASS, timeout=20))

    for _ in range(3):
        sample()
    cluster.stop()
    stopped = time.monotonic()
    while time.monotonic() - stopped < down_seconds:
        sample()
        time.sleep(0.5)
    cluster.start()
    started = time.monotonic()
    first_ok: dict[str, float] = {}
    while len(first_ok) < 2 and time.monotonic() - started < 120:
        if "health" not in first_ok and get(base + "/api/health", timeout=20)[0] == 200:
            first_ok["health"] = time.monotonic() - started
        if "uncached_api" not in first_ok and get(base + PROBE, BYPASS, timeout=20)[0] == 200:
            first_ok["uncached_api"] = time.monotonic() - started
        time.sleep(0.05)
    down = seen["uncached_api"][3:]
    return {
        "down_seconds": down_seconds,
        "during_health": sorted({str(s) for s in seen["health"][3:]}),
        "during_cached_page": sorted({str(s) for s in seen["cached_page"][3:]}),
        "during_uncached_api": sorted({str(s) for s, _ in down}),
        "during_uncached_api_max_ms": round(max(sec for _, sec in down) * 1000, 1),
        "seconds_to_first_ok_after_start": {k: round(v, 2) for k, v in first_ok.items()},
    }


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
    args = parser.parse_args()

    settings = bench_settings()
    cluster = LocalCluster(settings.state_dir)
    url = create_database(cluster.start(), DATABASE)
    env = {**os.environ, "DATABASE_URL": url, "CDDGIS_OWNER_DATABASE_URL": url,
           "CDDGIS_TILES": "none", "PORT": str(_free_port()),
           "CDDGIS_PROD_DIR": str(settings.state_dir / "prod-bench")}
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
    results: dict = {"seconds": args.seconds, "connections": args.connections,
                     "nproc": os.cpu_count(), "wrk": {}}
    try:
        state = json.loads(state_file.read_text())
        for path in ENDPOINTS:
            status, _ = get(base + path, BYPASS, timeout=30)
            assert status == 200, (path, status)
        results["rss_before_mb"] = worker_rss(state)
        for name in args.passes.split(","):
            headers = BYPASS if name == "bypass" else {}
            for path in ENDPOINTS:
                row = wrk(base + path, args.seconds, args.connections, headers)
                results["wrk"].setdefault(name, {})[path] = row
                print(f"{name:<7} {path:<75} {row['rps']:>8.1f} req/s  p50 {row['p50_ms']:>7.1f}"
                      f" ms  p99 {row['p99_ms']:>7.1f} ms  non-2xx {row['non_2xx']}  socket "
                      f"errors {row['socket_errors']}", flush=True)
        results["rss_after_mb"] = worker_rss(state)
        app_base = f"http://127.0.0.1:{state['app_ports'][0]}"
        results["slowloris"] = slowloris_run(base, app_base, args.slow)
        print(json.dumps(results["slowloris"], indent=1), flush=True)
        results["db_restart"] = db_restart_run(base, cluster, args.db_down)
        print(json.dumps(results["db_restart"], indent=1), flush=True)
    finally:
        subprocess.run([*script, "stop"], cwd=ROOT, env=env, check=False)
    print(json.dumps({k: results[k] for k in ("rss_before_mb", "rss_after_mb")}, indent=1))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_load.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
