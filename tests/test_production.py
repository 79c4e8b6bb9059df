"""The production profile (scripts/production.sh): nginx → 2 gunicorn apps → PgBouncer → PostGIS,
started by the project's own script against the test session's database, and stopped at the end.
"""

from __future__ import annotations

import gzip
import importlib.util
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
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
           "CDDGIS_CLIENT_TIMEOUT": f"{CLIENT_TIMEOUT_S}s",
           # These tests are one client asking fast (e.g. on and on while an app is killed):
           # the per-client limits are tested with small ones of their own, in front.
           "CDDGIS_API_RATE": "1000", "CDDGIS_API_BURST": "1000",
           "CDDGIS_TILE_RATE": "1000", "CDDGIS_TILE_BURST": "1000"}
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
    without the app; a plain tile URL never is (it is revalidated by ETag, past the cache). A
    write changes the version, so the next TileJSON names new URLs, which show the write."""
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
    assert [_get(plain).headers["x-cache-status"] for _ in range(2)] == ["BYPASS", "BYPASS"]

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


def test_a_burst_of_sign_in_posts_is_refused_by_the_proxy(production: Profile) -> None:
    """Before: every POST reached the app (and cost an argon2 hash); now nginx answers a burst
    from one address with 429 (the form's GET is not limited)."""
    answers = [_get(f"{production.base}/staff/sign-in", data=b"name=x&password=y")
               for _ in range(40)]
    statuses = [a.status for a in answers]
    assert 429 in statuses and statuses[0] != 429, statuses
    refused = answers[statuses.index(429)]
    assert refused.headers["server"] == "nginx" and "Retry-After".lower() in refused.headers
    assert "ถี่เกินไป" in refused.body.decode() and "wait a moment" in refused.body.decode()
    assert _get(f"{production.base}/staff/sign-in").status == 200


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


CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
          "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_the_proxy_cache_keeps_one_copy_per_format(production: Profile) -> None:
    """Issue 25, item 3: an API URL answers HTML to a browser and JSON to everyone else; the
    proxy keys its cache on the format the Accept header asks for, not on the URL alone, and
    not on each browser's own Accept string."""
    url = f"{production.base}/api/collections/districts/items?province=10&limit=2"
    html = _get(url, {"Accept": CHROME})
    assert html.status == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["x-cache-status"] == "MISS"
    assert "Accept" in html.headers["vary"]
    other_browser = _get(url, {"Accept": FIREFOX})
    assert other_browser.headers["content-type"].startswith("text/html")
    assert other_browser.headers["x-cache-status"] == "HIT"

    as_json = _get(url, {"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/"), as_json.headers
    assert json.loads(as_json.body)["numberReturned"] == 2
    assert as_json.headers["x-cache-status"] == "MISS"
    for accept in (None, "application/json", "*/*", "application/geo+json"):
        again = _get(url, {"Accept": accept} if accept else {})
        assert again.headers["x-cache-status"] == "HIT", accept
        assert json.loads(again.body) == json.loads(as_json.body), accept
    # A client that weighs JSON above HTML gets what the app chooses, never a browser's copy.
    weighed = _get(url, {"Accept": "text/html;q=0.5, application/json"})
    assert weighed.headers["content-type"].startswith("application/")


def test_unversioned_tiles_bypass_the_proxy_cache(production: Profile) -> None:
    """Issue 25, item 9: a tile URL without ``v`` is the app's (ETag revalidation, its own tile
    cache); the proxy neither keeps it nor makes concurrent requests queue on its cache lock."""
    tilejson = _get(f"{production.base}/api/collections/khok-nong-na/tiles/WebMercatorQuad/"
                    "tilejson.json")
    versioned = str(json.loads(tilejson.body)["tiles"][0]).replace("{z}/{x}/{y}", "11/1595/944")
    plain = versioned.split("?")[0]
    for _ in range(2):
        answer = _get(plain)
        assert answer.status == 200
        assert answer.headers.get("x-cache-status") in ("BYPASS", None), answer.headers
    assert _get(versioned).headers["x-cache-status"] in ("MISS", "EXPIRED")
    assert _get(versioned).headers["x-cache-status"] == "HIT"


def test_csp_reports_pass_the_proxy_uncached(production: Profile) -> None:
    report = json.dumps({"csp-report": {"violated-directive": "img-src",
                                        "blocked-uri": "https://x.example/p.gif"}}).encode()
    for _ in range(2):
        answer = _get(f"{production.base}/csp-report",
                      {"Content-Type": "application/csp-report"}, data=report)
        assert answer.status == 204, answer
        assert answer.headers.get("x-cache-status") in ("BYPASS", None)


def _status_pids(production: Profile) -> dict[str, int]:
    """Each process's pid as `production.sh status` shows it."""
    shown = _script("status", production.env).stdout
    return {line.split()[0]: int(line.split()[2]) for line in shown.splitlines()
            if len(line.split()) > 2 and line.split()[1] == "pid"}


def test_a_killed_app_comes_back_and_no_client_sees_an_error(production: Profile) -> None:
    """Issue 25, item 5: `kill -9` of one app's gunicorn master: nginx serves from the other at
    once and the supervisor starts a new master on the same port."""
    import signal
    import threading

    state = production.state
    port = state["app_ports"][0]
    old = _status_pids(production)["app-1"]
    stop = threading.Event()
    answers: list[int | str] = []
    answered = threading.Condition()

    def clients() -> None:
        while not stop.is_set():  # the proxy's cache skipped: every request reaches an app
            try:
                answer: int | str = _get(f"{production.base}/api/collections?f=json",
                                         {"X-Cddgis-Cache-Bypass": "1"}).status
            except OSError as exc:
                answer = str(exc)
            with answered:
                answers.append(answer)
                answered.notify_all()

    def until_answers(count: int, what: str, timeout: float = 30) -> None:
        """Waits for the client thread's answers (woken by each one), not for time."""
        with answered:
            assert answered.wait_for(lambda: len(answers) >= count, timeout), what

    thread = threading.Thread(target=clients)
    thread.start()
    try:
        until_answers(20, "the load is on before the kill")
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        # nginx serves on at once, from the other app (the client thread checks every answer).
        served = len(answers)
        until_answers(served + 5, "nginx serving after the kill", timeout=10)
        # A new master on the same port: as soon as it has loaded the app (3–11 s measured on
        # this 2-core machine under other test runs).
        def new_master_answers() -> bool:  # each check waits on a process and a request
            new = _status_pids(production).get("app-1")
            return bool(new and new != old
                        and _get_status(f"http://127.0.0.1:{port}/api/health") == 200)

        _until(new_master_answers, "app-1 did not come back within 30 s")
        back = time.monotonic() - killed_at
        print(f"app-1 answered again {back:.1f} s after kill -9")
        seen = len(answers)
        until_answers(seen + 20, "serving on through nginx")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert set(answers) == {200}, [a for a in answers if a != 200]
    status = _script("status", production.env)
    assert status.returncode == 0, status.stdout


@pytest.mark.parametrize("name", ["nginx", "pgbouncer"])
def test_a_killed_proxy_or_pool_comes_back(production: Profile, name: str) -> None:
    """Issue 25, item 5: nginx (whose workers outlive their master and hold the port) and
    PgBouncer are started again too; the profile answers, through the database, within 10 s."""
    import signal

    old = _status_pids(production)[name]
    os.kill(old, signal.SIGKILL)
    killed_at = time.monotonic()

    def back() -> bool:
        new = _status_pids(production).get(name)
        return bool(new and new != old
                    and _get_status(f"{production.base}/api/health") == 200)

    _until(back, f"{name} serving again", timeout=10)
    print(f"{name} served again {time.monotonic() - killed_at:.1f} s after kill -9")


def _until(check, what: str, timeout: float = 30) -> None:
    """Polls ``check`` until it holds: each check is a blocking request or process (it waits on
    the data itself), so there is no sleep between checks."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what


def _get_status(url: str) -> int | None:
    try:
        return _get(url, timeout=2).status
    except OSError:
        return None


def test_stop_then_start_at_once_after_load(production: Profile) -> None:
    """Issue 25, item 5: `start` right after `stop` under load succeeds (it was refused as
    "port in use" for ~35 s: the check bound without SO_REUSEADDR, and connections the proxy
    had just closed still held the port in TIME_WAIT)."""
    for _ in range(60):  # each connection closed by nginx: TIME_WAIT on the proxy's port
        assert _get(f"{production.base}/api/health", {"Connection": "close"}).status == 200
    stopped = _script("stop", production.env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    started = _script("start", production.env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert _get(f"{production.base}/api/health").status == 200


def test_one_client_past_its_rate_gets_429_with_retry_after(production: Profile) -> None:
    """Per-client limits on tiles and the API (issue 25, item 1): the production nginx
    configuration, rendered with small limits, in front of the profile. Health checks are never
    limited."""
    spec = importlib.util.spec_from_file_location("prod_profile_rates",
                                                  ROOT / "scripts" / "prod" / "profile.py")
    assert spec and spec.loader
    profile = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = profile  # dataclasses look their module up there
    spec.loader.exec_module(profile)
    # Beside the profile's own folder: nginx's workers (another user) can reach it.
    tmp_path = production.dir.parent / f"rate-test{worker_suffix()}"
    shutil.rmtree(tmp_path, ignore_errors=True)
    for sub in ("cache", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "nginx" / sub).mkdir(parents=True)
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o777)  # nginx's workers may run as another user
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(profile.nginx_conf(
        work_dir=tmp_path, access_log=tmp_path / "access.log", error_log=tmp_path / "error.log",
        listen=f"127.0.0.1:{port}", upstreams=[production.base.removeprefix("http://")],
        client_timeout="10s", max_body="1m", conn_per_ip=256, statement_timeout_ms=10_000,
        microcache="0", brotli=False,
        rates={"tile_rate": 1, "tile_burst": 3, "api_rate": 1, "api_burst": 3}))
    proxy = subprocess.Popen(["nginx", "-p", f"{tmp_path}/", "-c", str(conf), "-e",
                              str(tmp_path / "error.log"), "-g", "daemon off;"])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _get_status(f"{base}/api/health") != 200:  # health: never limited
            assert proxy.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "error.log").read_text()
        assert [_get(f"{base}/api/health").status for _ in range(10)] == [200] * 10
        tile = f"{base}/api/collections/provinces/tiles/WebMercatorQuad/0/0/0"
        for url in (f"{base}/api/collections?f=json", tile):
            answers = [_get(url) for _ in range(10)]
            statuses = [a.status for a in answers]
            assert statuses[:2] == [200, 200] and 429 in statuses, (
                statuses, (tmp_path / "error.log").read_text()[-2000:])
            refused = answers[statuses.index(429)]
            assert refused.headers["retry-after"] == "1"
            assert json.loads(refused.body)["code"] == "TooManyRequests"
        # Each zone counts its own: the API's limit left the pages alone.
        assert _get(f"{base}/boundaries").status == 200
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
        shutil.rmtree(tmp_path, ignore_errors=True)
