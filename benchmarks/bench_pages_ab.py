"""Pages' requests/s, uncached, before and after a change, side by side in one run (issue 26).

Two copies of the app served as ``make run`` serves it (``cddgis serve``: gunicorn, 2 workers,
4 threads), on the same database, no proxy in front (so no proxy cache): ``--before`` is a
checkout of the old code (a second git worktree), the other this checkout. For each round and
route, ``wrk`` runs against both, in an order that alternates, so a busy spell on a shared
machine falls on both sides; the medians of the rounds are reported.

The database (``cddgis_pages_ab``) is loaded once with the same commands as ``make prod`` and
reused; it is migrated by this checkout (the old code reads it as it is).

    git worktree add /tmp/caches/base <old commit>
    .venv/bin/python -m benchmarks.bench_pages_ab --before /tmp/caches/base \\
        [--rounds 5] [--seconds 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.bench_load import _free_port, get, wrk
from benchmarks.common import bench_settings
from gis.cluster import LocalCluster, create_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cddgis_pages_ab"
ROUTES = ["/layers/khok-nong-na", "/choropleth", "/tour", "/dashboard?province=50", "/dashboard"]


def _cli(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "cddgis"), *args], cwd=ROOT, env=env,
                   check=args[:2] != ["load", "villages"], capture_output=True)


@contextmanager
def serving(code: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """``cddgis serve`` from the checkout ``code`` (its modules first on the path)."""
    port = _free_port()
    run_env = {**env, "PORT": str(port), "PYTHONPATH": str(code)}
    origin = subprocess.run([sys.executable, "-c", "import web.maps; print(web.maps.__file__)"],
                            cwd=code, env=run_env, capture_output=True, text=True, check=True)
    assert origin.stdout.startswith(str(code)), (code, origin.stdout)  # that checkout's code
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from cddgis.cli import main; sys.exit(main())",
         "serve", "--no-migrate", "--workers", "2", "--threads", "4", "--no-access-log"],
        cwd=code, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = open(log, "w")  # noqa: SIM115 (closed when the server stops)
    booted = 0
    for line in proc.stdout:  # data-driven: ready when gunicorn says both workers booted
        out.write(line)
        booted += "Booting worker" in line
        if booted == 2:
            break
    else:
        raise RuntimeError(f"{code} did not start; see {log}")
    threading.Thread(target=lambda: out.writelines(proc.stdout or ()), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/caches"))
    parser.add_argument("--routes", default=" ".join(ROUTES),
                        help="the routes, space-separated (default: the issue's five)")
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    settings = bench_settings()
    cluster = LocalCluster(settings.state_dir)
    url = create_database(cluster.start(), DATABASE)
    env = {**os.environ, "DATABASE_URL": url, "CDDGIS_OWNER_DATABASE_URL": url,
           "CDDGIS_TILES": "none",
           **{f"CDDGIS_{name.upper()}": "100000" for name in
              ("tile_rate", "tile_burst", "api_rate", "api_burst")}}
    began = time.monotonic()
    for step in (["migrate"], ["load", "boundaries", "--if-empty"],
                 ["load", "villages", "--if-empty"], ["load", "indicators", "--if-empty"],
                 ["sample", "--if-empty"]):
        _cli(step, env)
    print(f"database {DATABASE} ready in {time.monotonic() - began:.0f} s", flush=True)

    sides = {"before": args.before.resolve(), "after": ROOT}
    routes = args.routes.split()
    figures: dict[str, dict[str, list[float]]] = {s: {r: [] for r in routes} for s in sides}
    with ExitStack() as stack:
        bases = {side: stack.enter_context(serving(code, env, args.log_dir / f"{side}.log"))
                 for side, code in sides.items()}
        missing: set[tuple[str, str]] = set()  # a route the old code does not have yet
        for side, base in bases.items():
            for route in routes:  # every route answers, and each worker has warmed up
                for _ in range(4):
                    status, _ = get(base + route, timeout=60)
                    if side == "before" and status in (400, 404):
                        missing.add((side, route))
                        break
                    assert status == 200, (side, route, status)
        load = [os.getloadavg()[0]]
        for round_ in range(args.rounds):
            for i, route in enumerate(routes):
                order = list(sides) if (round_ + i) % 2 == 0 else list(sides)[::-1]
                for side in order:
                    if (side, route) in missing:
                        continue
                    row = wrk(bases[side] + route, args.seconds, args.connections, {})
                    assert row["non_2xx"] == 0 and row["socket_errors"] == 0, (side, route, row)
                    figures[side][route].append(row["rps"])
                    print(f"round {round_ + 1} {side:<6} {route:<24} {row['rps']:>8.1f} req/s",
                          flush=True)
            load.append(os.getloadavg()[0])
    if not args.rounds:  # --rounds 0: load the database and check both sides answer
        return
    print(f"\nrequests/s, median of {args.rounds} rounds of {args.seconds} s, "
          f"{args.connections} connections; load average {min(load):.1f}–{max(load):.1f}")
    print("| route | before | after | × |\n|---|---:|---:|---:|")
    for route in routes:
        a = statistics.median(figures["after"][route])
        if not figures["before"][route]:
            print(f"| `{route}` | (new) | {a:.1f} | |")
            continue
        b = statistics.median(figures["before"][route])
        print(f"| `{route}` | {b:.1f} | {a:.1f} | {a / b:.1f} |")
    out = ROOT / "benchmarks" / "out" / "bench_pages_ab.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rounds": figures, "load": load, "seconds": args.seconds,
                               "connections": args.connections}, indent=1))


if __name__ == "__main__":
    main()
