"""Offline in the field (issue 24, item 4), in Chromium, air-gapped (every request outside
127.0.0.1 is refused): the tour installs as a web app (manifest, icons, a service worker that
controls the page); a kept province opens with the network cut — requests dropped, never
answered, as a firewall does — and shows its villages on the offline basemap; a staff edit saved
with no network is queued, then sent when the network returns, with the version check merging it
on top of a save made meanwhile. Waits are for data, never for a length of time."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import Engine, text

from gis import accounts, changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.layer_store import import_file
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.conftest import CSP_LISTENER
from tests.pagestate import wait_ready
from tests.serving import served
from tests.staff import PASSWORD, add_account
from tests.workers import db_name
from web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

pytestmark = pytest.mark.browser

PROVINCE = "75"  # Samut Songkhram: the smallest province, so its tiles are few
LC = LAYERS["learning-centers"]
OUTSIDE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")


class Gate:
    """The app behind a switch: when ``drop`` is set, requests are taken and never answered
    (the connection stays open, as behind a firewall that drops packets), until the test ends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.drop = threading.Event()
        self.release = threading.Event()
        self.dropped: list[str] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse,
                 ) -> Iterable[bytes]:
        if self.drop.is_set():
            self.dropped.append(environ["PATH_INFO"])
            self.release.wait()
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"released"]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def open_context(browser: Any, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale="th-TH", **options)
    context.add_init_script(CSP_LISTENER)
    context.route(OUTSIDE, lambda route: route.abort())  # air-gapped
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return context, page


def controlled(page: Page) -> None:
    """Waits until the service worker is active, then reloads until it controls the page."""
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("() => Boolean(navigator.serviceWorker.controller)"):
        page.reload()
        wait_ready(page)
    assert page.evaluate("() => Boolean(navigator.serviceWorker.controller)")


def test_the_tour_installs_as_a_web_app(page: Page, live_server: str) -> None:
    with urllib.request.urlopen(f"{live_server}/manifest.webmanifest") as response:
        assert response.headers["Content-Type"].startswith("application/manifest+json")
        manifest = json.load(response)
    assert manifest["name"].startswith("cddgis เที่ยวชุมชน")  # Thai first
    assert manifest["start_url"] == "/tour" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        with urllib.request.urlopen(live_server + icon["src"]) as response:
            body = response.read()
        if icon["type"] == "image/png":
            image = Image.open(io.BytesIO(body))
            assert f"{image.width}x{image.height}" == icon["sizes"]
    with urllib.request.urlopen(f"{live_server}/sw.js") as response:
        assert response.headers["Service-Worker-Allowed"] == "/"
        assert "javascript" in response.headers["Content-Type"]
        csp = response.headers["Content-Security-Policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp

    page.context.route(OUTSIDE, lambda route: route.abort())
    page.goto(f"{live_server}/tour")
    wait_ready(page)
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == "/manifest.webmanifest"
    controlled(page)
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL").startswith(
        f"{live_server}/sw.js?v=")
    # The app shell is cached on install.
    shell = page.evaluate("""async () => {
        const names = (await caches.keys()).filter((n) => n.startsWith("cddgis-shell-"));
        return names.length ? (await (await caches.open(names[0])).keys()).map((r) => r.url) : [];
    }""")
    assert any(u.endswith("/static/js/tour.js") for u in shell)
    assert any(u.endswith(".woff2") for u in shell)
    assert page.evaluate("() => window.__cspViolations") == []
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def gate(app: Any) -> Iterator[tuple[Gate, str]]:
    gated = Gate(app)
    with served(gated) as base:
        yield gated, base
    gated.release.set()


def test_a_kept_province_opens_with_the_network_dropping_requests(
        browser: Any, gate: tuple[Gate, str], engine: Engine) -> None:
    gated, base = gate
    with engine.connect() as conn:
        villages = conn.execute(text(
            "SELECT count(*) FROM layer_features WHERE layer = 'otop-tourism-villages' "
            "AND province_code = :p"), {"p": PROVINCE}).scalar_one()
    assert villages > 0
    context, page = open_context(browser, viewport={"width": 390, "height": 844},
                                 is_mobile=True, has_touch=True)
    try:
        page.goto(f"{base}/tour?province={PROVINCE}")
        wait_ready(page)
        controlled(page)
        page.locator("#offline-panel summary").click()
        expect(page.locator("#offline-province")).to_have_value(PROVINCE)
        page.click("#offline-plan")
        expect(page.locator("#offline-download")).to_be_visible()
        estimate = page.locator("#offline-estimate")
        expect(estimate).to_contain_text("สมุทรสงคราม")
        expect(estimate).to_contain_text("MB")
        assert int(estimate.get_attribute("data-bytes") or 0) > 0
        page.click("#offline-download")
        expect(page.locator("#offline-panel")).to_have_attribute("data-kept", PROVINCE,
                                                                 timeout=120_000)
        expect(page.locator("#offline-kept")).to_contain_text("สมุทรสงคราม")
        assert int(page.locator("#offline-kept").get_attribute("data-bytes") or 0) > 0
        kept = page.evaluate("""async () => (await (await caches.open("cddgis-offline-province"))
                                             .keys()).map((r) => r.url)""")
        tiles = [u for u in kept if "/api/basemap/tiles/" in u]
        assert 0 < len(tiles) <= 3000

        # The network goes silent: every request to the server is taken and never answered.
        gated.drop.set()
        page.reload(timeout=60_000)
        wait_ready(page, timeout=60_000)
        expect(page.locator("#count")).to_have_attribute("data-value", str(villages))
        items = page.locator("#village-list li")
        expect(items.first).to_contain_text("จ.สมุทรสงคราม")
        assert items.count() == min(30, villages)
        expect(page.locator(".cddgis-point").first).to_be_attached()
        # The offline basemap draws from the kept tiles.
        page.wait_for_function("() => document.querySelector('.leaflet-container')"
                               ".dataset.basemap === 'offline'", timeout=30_000)
        assert gated.dropped, "no request reached the silent network"
        assert page.evaluate("() => window.__cspViolations") == []
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
        gated.drop.clear()


# ---- an edit made offline --------------------------------------------------------------------

DB = db_name("cddgis_test_offline_edit")


@pytest.fixture(scope="module")
def staff_engine(copy_database: Callable[..., str], tmp_path_factory: pytest.TempPathFactory,
                 ) -> Engine:
    engine = engine_for(copy_database(DB))
    path = tmp_path_factory.mktemp("offline") / "centers.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([
            ["รหัสศูนย์", "ชื่อศูนย์", "ปีที่ได้รับงบประมาณ (พ.ศ.)", "พร้อมเป็นแหล่งเรียนรู้", "โทรศัพท์",
             "ละติจูด", "ลองจิจูด"],
            ["LC-SS-FIELD", "ศูนย์เรียนรู้แม่กลอง", 2564, "ใช่", "034111111", 13.4098, 100.0022]])
    assert import_file(engine, LC, path).committed
    add_account(engine, "ss-officer", provinces=[PROVINCE], layers=[LC.id])
    add_account(engine, "ss-second", provinces=[PROVINCE], layers=[LC.id])
    return engine


@pytest.fixture(scope="module")
def staff_gate(settings: Settings, cluster: ClusterInfo, staff_engine: Engine,
               ) -> Iterator[tuple[Gate, str]]:
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    gated = Gate(app)
    with served(gated) as base:
        yield gated, base
    gated.release.set()


@pytest.fixture
def staff_base(staff_gate: tuple[Gate, str]) -> str:
    return staff_gate[1]


def sign_in_as(context: BrowserContext, page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/staff/sign-in")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.staff-form button[type=submit]")
    expect(page.locator("[data-account]")).to_have_attribute("data-account", name)


def test_the_staff_map_opens_a_kept_province_with_the_network_dropping_requests(
        browser: Any, staff_gate: tuple[Gate, str]) -> None:
    gated, base = staff_gate
    context, page = open_context(browser, viewport={"width": 1280, "height": 860})
    try:
        sign_in_as(context, page, base, "ss-officer")
        page.goto(f"{base}/staff/layers/{LC.id}")
        wait_ready(page)
        controlled(page)
        expect(page.locator("#feature-list")).to_contain_text("LC-SS-FIELD")
        page.locator("#offline-panel summary").click()
        # The officer's scope: only their province is offered.
        assert page.eval_on_selector_all("#offline-province option[value]:not([value=''])",
                                         "os => os.map(o => o.value)") == [PROVINCE]
        page.select_option("#offline-province", PROVINCE)
        page.click("#offline-plan")
        page.click("#offline-download")
        expect(page.locator("#offline-panel")).to_have_attribute("data-kept", PROVINCE,
                                                                 timeout=120_000)

        gated.drop.set()
        page.reload(timeout=60_000)
        wait_ready(page, timeout=60_000)
        expect(page.locator("#feature-list")).to_contain_text("LC-SS-FIELD")
        expect(page.locator(".staff-bar .who")).to_contain_text("ss-officer")
        assert gated.dropped

        gated.drop.clear()  # back online: the kept province can be removed
        page.locator("#offline-panel summary").click()
        page.click("#offline-remove")
        expect(page.locator("#offline-panel")).to_have_attribute("data-kept", "")
        expect(page.locator("#offline-kept")).to_contain_text("no province kept")
        assert page.evaluate("async () => (await caches.keys())"
                             ".includes('cddgis-offline-province')") is False
        assert page.evaluate("() => window.__cspViolations") == []
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
        gated.drop.clear()


def _center(engine: Engine) -> tuple[int, str, dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT id, key, properties FROM layer_features WHERE layer = :l "
            "AND province_code = :p ORDER BY key LIMIT 1"),
            {"l": LC.id, "p": PROVINCE}).one()
    return int(row[0]), str(row[1]), dict(row[2])


def _poll(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the database did not change in time"
        threading.Event().wait(0.2)  # a poll interval between reads, not a wait for an outcome


def test_an_edit_saved_offline_is_queued_and_sent_when_the_network_returns(
        browser: Any, staff_base: str, staff_engine: Engine) -> None:
    feature_id, _key, before = _center(staff_engine)
    context, page = open_context(browser, viewport={"width": 1280, "height": 860})
    try:
        sign_in_as(context, page, staff_base, "ss-officer")
        page.goto(f"{staff_base}/staff/layers/{LC.id}/{feature_id}")
        wait_ready(page)
        expect(page.locator("#offline-queue")).to_have_attribute("data-waiting", "0")

        context.set_offline(True)
        new_name = f"{before['name']} (แก้ไขออฟไลน์)"
        page.fill("#f-name", new_name)
        box = page.locator(".staff-pin").bounding_box()  # and moved: drag the marker
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y - 40, steps=8)
        page.mouse.up()
        expect(page.locator("#moved")).to_be_visible()
        moved_to = float(page.input_value("#lon"))
        page.click("#save")
        queue = page.locator("#offline-queue")
        expect(queue).to_have_attribute("data-waiting", "1")
        expect(queue).to_contain_text("1 edit waiting to send")
        expect(queue).to_contain_text("รอส่ง 1 รายการ")

        # Meanwhile someone else saves another field: the queued edit is now one version behind.
        second = accounts.require_account(staff_engine, "ss-second")
        changes.update_feature(staff_engine, second, LC, feature_id, {"budget_year": "2567"},
                               expected_version=int(page.input_value("input[name=version]")))
        assert _center(staff_engine)[2]["name"] == before["name"]

        context.set_offline(False)  # the online event sends the queue
        _poll(lambda: _center(staff_engine)[2]["name"] == new_name)
        after = _center(staff_engine)[2]
        assert after["budget_year"] == 2567  # the save made first is kept: merged on top
        with staff_engine.connect() as conn:
            lon = conn.execute(text("SELECT ST_X(geom) FROM layer_features WHERE id = :i"),
                               {"i": feature_id}).scalar_one()
        assert abs(lon - moved_to) < 1e-5
        result = page.locator("#offline-results li").first
        expect(result).to_have_attribute("data-state", "merged")
        expect(result).to_contain_text("sent")
        expect(queue).to_have_attribute("data-waiting", "0")

        # A queued edit the server refuses says why, and the queue empties.
        page.reload()
        wait_ready(page)
        context.set_offline(True)
        page.fill("#f-budget_year", "สองพัน")
        page.click("#save")
        expect(queue).to_have_attribute("data-waiting", "1")
        context.set_offline(False)
        refused = page.locator("#offline-results li").first
        expect(refused).to_have_attribute("data-state", "refused", timeout=30_000)
        expect(refused).to_contain_text("budget_year")
        expect(queue).to_have_attribute("data-waiting", "0")
        assert _center(staff_engine)[2]["budget_year"] == 2567
        assert page.evaluate("() => window.__cspViolations") == []
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
