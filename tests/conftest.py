"""Test fixtures: a real PostGIS (the project's own local cluster), the real boundary files, the
app served over HTTP, and headless Chromium. Nothing is mocked; a missing service fails loudly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from boundaries.load import LoadReport
from gis.boundary_store import load_boundaries
from gis.cluster import ClusterInfo, LocalCluster, create_database
from gis.db import engine_for
from gis.indicator_store import load_catalog
from gis.migrate import upgrade
from gis.samples import load_samples
from gis.settings import Settings
from gis.village_store import load_villages
from indicators.tables import TableReport
from layers.importer import ImportReport
from tests.serving import served
from web import create_app

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def settings() -> Settings:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CDDGIS_TILES"] = "none"  # no network in tests
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    boundaries = settings.data_dir / "boundaries"
    if not boundaries.is_dir():
        pytest.fail(f"The boundary data is missing: {boundaries}. Set CDDGIS_DATA_DIR to the "
                    "folder holding boundaries/ (see README).", pytrace=False)
    return settings.data_dir


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> ClusterInfo:
    """The project's local PostGIS, started by the project's own code."""
    return LocalCluster(settings.state_dir).start()


BOUNDARY_TEMPLATE = "cddgis_test_boundaries"
EMPTY_TEMPLATE = "cddgis_test_empty"


@pytest.fixture(scope="session")
def empty_template(cluster: ClusterInfo) -> str:
    """A migrated database with no data, to copy from (migrations run once per session)."""
    url = create_database(cluster, EMPTY_TEMPLATE, drop_first=True)
    upgrade(url)
    return EMPTY_TEMPLATE


@pytest.fixture(scope="session")
def boundary_template(cluster: ClusterInfo, empty_template: str,
                      data_dir: Path) -> tuple[str, LoadReport]:
    """The real national boundaries, loaded once per session into a database that tests copy."""
    url = create_database(cluster, BOUNDARY_TEMPLATE, drop_first=True, template=empty_template)
    engine = engine_for(url)
    report = load_boundaries(engine, data_dir)
    engine.dispose()  # a template may have no connections while it is copied
    return BOUNDARY_TEMPLATE, report


@pytest.fixture(scope="session")
def copy_database(cluster: ClusterInfo, boundary_template: tuple[str, LoadReport],
                  empty_template: str) -> Callable[..., str]:
    """Makes a fresh database of one's own: with the national boundaries (default) or empty
    (``empty=True``), in about a second; what a test writes there touches no other test."""
    def copy(name: str, *, empty: bool = False) -> str:
        template = empty_template if empty else boundary_template[0]
        return create_database(cluster, name, drop_first=True, template=template)
    return copy


@pytest.fixture(scope="session")
def db_url(copy_database: Callable[..., str]) -> str:
    """The session's shared database: boundaries, samples, villages and indicators, read-only
    for tests (a test that writes uses ``copy_database``)."""
    return copy_database("cddgis_test")


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return engine_for(db_url)


@pytest.fixture(scope="session")
def loaded(engine: Engine, boundary_template: tuple[str, LoadReport]) -> LoadReport:
    """The real HDX boundaries (loaded once, into the template the session database copies)."""
    return boundary_template[1]


@pytest.fixture(scope="session")
def sampled(engine: Engine, loaded: LoadReport, data_dir: Path) -> list[ImportReport]:
    """The five sample layers, generated and imported once for the session."""
    reports = load_samples(engine, data_dir)
    failed = [r.summary() for r in reports if not r.committed]
    assert not failed, failed
    return reports


@pytest.fixture(scope="session")
def villages(engine: Engine, loaded: LoadReport, data_dir: Path) -> int:
    """The 65k village points, for place-name search."""
    return load_villages(engine, data_dir).loaded


@pytest.fixture(scope="session")
def indicator_tables(engine: Engine, loaded: LoadReport, data_dir: Path) -> list[TableReport]:
    """The open indicator tables (NSO, OAE, OSM, กชช.2ค, population), loaded once."""
    return load_catalog(engine, data_dir)


@pytest.fixture(scope="session")
def app(settings: Settings, cluster: ClusterInfo, db_url: str, loaded: LoadReport,
        sampled: list[ImportReport], villages: int, indicator_tables: list[TableReport]):
    """The web app as production runs it: connected as the least-privilege app role."""
    app = create_app(settings, database_url=cluster.url(database="cddgis_test", role="app"))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    with served(app) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium).",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )
        yield browser
        browser.close()


# Records every Content-Security-Policy violation, from the first byte of the page on.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});
"""


def _open_page(browser, **context_options: object):
    """A page in a fresh context; ``page.js_errors`` collects the page's uncaught errors and
    ``page.csp_refusals`` the console's CSP "Refused to …" messages."""
    context = browser.new_context(locale="th-TH", **context_options)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    refusals: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: refusals.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
    page.js_errors = errors
    page.csp_refusals = refusals
    return context, page


@pytest.fixture
def page(browser):
    context, page = _open_page(browser, viewport={"width": 1200, "height": 800})
    yield page
    context.close()


@pytest.fixture
def phone(browser):
    """A phone-sized touch screen."""
    context, page = _open_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True, device_scale_factor=2)
    yield page
    context.close()
