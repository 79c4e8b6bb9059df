"""The production profile (scripts/production.sh): nginx → 2 gunicorn apps → PgBouncer → PostGIS,
started by the project's own script against the test session's database, and stopped at the end.
"""

from __future__ import annotations

import gzip
import inspect
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from gis.cluster import ClusterInfo
from gis.settings import Settings
from tests.workers import worker_suffix

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "production.sh"
CLIENT_TIMEOUT_S = 3  # nginx's client_header_timeout in this session (production default: 10 s)


@dataclass(frozen=True)
class Profile:
    base: str
    dir: Path
    env: dict[str, str]

    @property
    def state(self) -> dict:
        return json.loads((self.dir / "profile.json").read_text())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), action], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="session")
def app_db_url(cluster: ClusterInfo, db_url: str) -> str:
    """The session database as the app role where least-privilege roles exist (``db_url`` is
    then the owner's), else the one URL."""
    if "role" in inspect.signature(ClusterInfo.url).parameters:
        return cluster.url(database=make_url(db_url).database, role="app")
    return db_url


@pytest.fixture(scope="session")
def production(app, db_url: str, app_db_url: str, settings: Settings) -> Iterator[Profile]:
    """The profile on a free port, serving the session's loaded database (``app`` loads it)."""
    port = _free_port()
    prod_dir = settings.state_dir / f"prod-test{worker_suffix()}"  # one per xdist worker
    env = {**os.environ, "DATABASE_URL": app_db_url, "CDDGIS_OWNER_DATABASE_URL": db_url,
           "PORT": str(port), "CDDGIS_PROD_DIR": str(prod_dir), "CDDGIS_TILES": "none",
           "CDDGIS_APPS": "2", "CDDGIS_APP_WORKERS": "1",
           "CDDGIS_CLIENT_TIMEOUT": f"{CLIENT_TIMEOUT_S}s"}
    started = _script("start", env)
    profile = Profile(f"http://127.0.0.1:{port}", prod_dir, env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield profile
    finally:
        stopped = _script("stop", env)
        assert stopped.returncode == 0, stopped.stderr
        assert not (prod_dir / "profile.json").exists()


def _get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
         timeout: float = 10) -> Answer:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status, found = response.status, response.headers
    except urllib.error.HTTPError as exc:
        body, status, found = exc.read(), exc.code, exc.headers
    return Answer(status, {k.lower(): v for k, v in found.items()}, body,
                  time.monotonic() - began)


def test_script_runs_two_apps_behind_nginx_and_pgbouncer(production: Profile) -> None:
    state = production.state
    names = [p["name"] for p in state["processes"]]
    assert names == ["pgbouncer", "app-1", "app-2", "nginx"]
    status = _script("status", production.env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "/api/health → 200" in status.stdout
    # Each app answers on its own port (the upstreams nginx balances over).
    for port in state["app_ports"]:
        assert _get(f"http://127.0.0.1:{port}/api/health").status == 200


def test_pgbouncer_pools_transactions_with_a_statement_timeout(production: Profile,
                                                                app_db_url: str) -> None:
    url = make_url(app_db_url)
    conn = psycopg2.connect(host="127.0.0.1", port=production.state["pgbouncer_port"],
                            dbname=url.database, user=url.username, password=url.password)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone()[0] == "10s"
            cur.execute("SHOW idle_in_transaction_session_timeout")
            assert cur.fetchone()[0] == "1min"
            cur.execute("SELECT count(*) FROM provinces")
            assert cur.fetchone()[0] == 77
    finally:
        conn.close()
    # The app's engine asks for its timeouts as start-up `options`, which a transaction pool
    # cannot honour per connection: PgBouncer ignores them (not refuses) and applies its own.
    conn = psycopg2.connect(host="127.0.0.1", port=production.state["pgbouncer_port"],
                            dbname=url.database, user=url.username, password=url.password,
                            options="-c statement_timeout=1234")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone()[0] == "10s"
    finally:
        conn.close()
    ini = (production.dir / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in ini
    assert oct((production.dir / "pgbouncer-users.txt").stat().st_mode)[-3:] == "600"


def test_page_and_api_answer_through_nginx_with_gzip(production: Profile) -> None:
    page = _get(f"{production.base}/boundaries", {"Accept-Encoding": "gzip"})
    assert page.status == 200
    assert page.headers["server"] == "nginx"
    assert page.headers["content-encoding"] == "gzip"
    assert "สำรวจขอบเขตการปกครอง" in gzip.decompress(page.body).decode()

    api = _get(f"{production.base}/api/collections/provinces/items?limit=77&lod=3",
               {"Accept-Encoding": "gzip"})
    assert api.status == 200
    assert api.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(api.body))["numberReturned"] == 77

    brotli = _get(f"{production.base}/api/collections/provinces/items?limit=77&lod=3",
                  {"Accept-Encoding": "br"})
    assert brotli.headers["content-encoding"] == "br"
    assert len(brotli.body) < len(api.body) * 1.2


def test_static_assets_come_with_cache_headers_and_from_the_proxy_cache(
        production: Profile) -> None:
    url = f"{production.base}/static/vendor/leaflet-1.9.3/leaflet.js"
    first = _get(url, {"Accept-Encoding": "gzip"})
    assert first.status == 200
    assert "max-age=3600" in first.headers["cache-control"]
    assert first.headers["content-encoding"] == "gzip"
    again = _get(url, {"Accept-Encoding": "gzip"})
    assert again.headers["x-cache-status"] == "HIT"
    assert again.body == first.body


def test_api_response_is_served_from_the_proxy_cache_on_the_second_request(
        production: Profile) -> None:
    url = f"{production.base}/api/choropleth/areas?level=province"
    first = _get(url)
    assert first.status == 200
    assert first.headers["x-cache-status"] == "MISS"
    assert "max-age=3600" in first.headers["cache-control"]
    second = _get(url)
    assert second.headers["x-cache-status"] == "HIT"
    assert second.body == first.body
    # The app's ETag is honoured by the proxy: a client that has the copy gets a 304.
    revalidated = _get(url, {"If-None-Match": first.headers["etag"]})
    assert revalidated.status == 304
    assert revalidated.body == b""

    # Responses the app says nothing about are micro-cached for a few seconds.
    items = f"{production.base}/api/collections/districts/items?province=50&limit=5"
    assert _get(items).headers["x-cache-status"] == "MISS"
    assert _get(items).headers["x-cache-status"] == "HIT"


def test_versioned_tiles_come_from_the_proxy_cache_and_a_write_gives_new_urls(
        production: Profile, db_url: str) -> None:
    """A tile URL with the tileset's version (as TileJSON gives it) is kept by nginx and served
    without the app; a plain tile URL never is (it is revalidated by ETag). A write changes
    the version, so the next TileJSON names new URLs, which show the write."""
    tilejson_url = (f"{production.base}/api/collections/khok-nong-na/tiles/WebMercatorQuad/"
                    "tilejson.json")

    def template() -> str:
        answer = _get(tilejson_url)
        assert answer.status == 200 and answer.headers["cache-control"] == "no-cache"
        assert answer.headers["x-cache-status"] != "HIT"
        return str(json.loads(answer.body)["tiles"][0])

    tile = "12/3191/1889"  # central Bangkok: where the write below goes
    lon, lat = 100.5018, 13.7563
    before = template().replace("{z}/{x}/{y}", tile)
    assert before.startswith(production.base) and "?v=" in before
    first = _get(before)
    assert first.status == 200 and first.headers["x-cache-status"] in ("MISS", "EXPIRED")
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    second = _get(before)
    assert second.headers["x-cache-status"] == "HIT" and second.body == first.body
    plain = before.split("?")[0]
    assert [_get(plain).headers["x-cache-status"] for _ in range(2)] == ["MISS", "MISS"]

    url = make_url(db_url)
    conn = psycopg2.connect(host=url.host, port=url.port, dbname=url.database,
                            user=url.username, password=url.password)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("""
                INSERT INTO layer_features (layer, key, name, properties, geom)
                VALUES ('khok-nong-na', 'PROD-VERSION', 'PROD-VERSION',
                        '{"plot_id": "PROD-VERSION"}', ST_SetSRID(ST_MakePoint(%s, %s), 4326))
            """, (lon, lat))
        after = template().replace("{z}/{x}/{y}", tile)
        assert after != before
        fresh = _get(after)
        assert fresh.headers["x-cache-status"] == "MISS" and b"PROD-VERSION" in fresh.body
        assert _get(after).headers["x-cache-status"] == "HIT"
        # What the proxy kept under the old URL is the old version's tile, by its name.
        assert _get(before).body == first.body
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM layer_features WHERE key = 'PROD-VERSION'")
        conn.close()


def test_health_is_never_cached(production: Profile) -> None:
    for _ in range(2):
        answer = _get(f"{production.base}/api/health")
        assert answer.status == 200
        assert "x-cache-status" not in answer.headers


def test_oversized_request_body_is_refused_by_the_proxy(production: Profile) -> None:
    answer = _get(f"{production.base}/api/collections", {"Content-Type": "text/plain"},
                  data=b"x" * (2 * 1024 * 1024))
    assert answer.status == 413
    assert answer.headers["server"] == "nginx"


def test_fifty_slow_clients_do_not_stop_normal_requests(production: Profile) -> None:
    """Slowloris: 50 connections trickle header lines; everyone else is answered promptly,
    and nginx drops the slow ones once client_header_timeout has passed."""
    host, port = "127.0.0.1", int(production.base.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for i in range(50):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(f"GET /?slow={i} HTTP/1.1\r\nHost: {host}\r\n".encode())
            slow.append(s)
        urls = ["/boundaries", "/api/collections", "/api/health",
                "/api/collections/provinces/items?limit=3&lod=3"]
        latencies = []
        for round_ in range(4):  # bounded: 4 rounds of one trickled line + 4 normal requests
            for s in slow:
                s.sendall(f"X-Round-{round_}: a\r\n".encode())
            for path in urls:
                answer = _get(production.base + path, timeout=5)
                assert answer.status == 200, (path, answer.status)
                latencies.append(answer.seconds)
        assert max(latencies) < 2.0, latencies

        # nginx closes each slow connection once its header took too long (no 200 for them).
        deadline = time.monotonic() + CLIENT_TIMEOUT_S + 15
        for s in slow:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/1.1 200"), data[:100]
    finally:
        for s in slow:
            s.close()
