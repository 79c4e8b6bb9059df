"""Test fixtures: a real PostGIS (the project's own local cluster), the real boundary files, the
app served over HTTP, and headless Chromium. Nothing is mocked; a missing service fails loudly.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from boundaries.load import LoadReport
from gis.boundary_store import load_boundaries
from gis.cluster import ClusterInfo, LocalCluster, create_database
from gis.db import close_idle_connections, engine_for
from gis.indicator_store import load_catalog
from gis.settings import Settings
from indicators.tables import TableReport
from tests.serving import served
from tests.templates import Loaded, Templates, ensure_templates
from tests.workers import db_name
from web import create_app

CHROMIUM = "/usr/bin/chromium"


# The longest files of `make test-fast`, longest first (--durations, docs/benchmarks.md "Test
# suite"). pytest-xdist's --dist loadfile hands files to idle workers in collection order, and a
# run ends when its last file does: started first, a long file runs while the short ones fill
# the other worker, instead of starting last and running alone.
LONGEST_FIRST = ("test_tiles_million.py", "test_tile_cache_budget.py", "test_openapi.py",
                 "test_gdal_ogr.py", "test_bad_input.py", "test_cql2.py",
                 "test_ogc_core_requirements.py", "test_indicators.py")


def _longest_first(items: list[pytest.Item]) -> None:
    """The files of ``LONGEST_FIRST`` first, in its order; the rest as collected (a stable
    sort: the tests of a file keep their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="module", autouse=True)
def _idle_connections_closed_after_each_module() -> Iterator[None]:
    """Each test module makes its own databases and apps, each with its pools; their idle
    connections are closed when the module ends, or a serial run of every module reaches the
    server's max_connections ("remaining connection slots are reserved") near its end."""
    yield
    close_idle_connections()


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
    """The project's local PostGIS, started by the project's own code (one xdist worker at a
    time: two creating a fresh cluster at once would both run initdb)."""
    key = hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"cddgis-test-cluster-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return LocalCluster(settings.state_dir).start()


@pytest.fixture(scope="session")
def templates(cluster: ClusterInfo, data_dir: Path) -> Templates:
    """The migrated, boundary and fully loaded templates, kept in the cluster between runs and
    rebuilt only when the data files or the loaders' code change (tests/templates.py)."""
    return ensure_templates(cluster, data_dir)


@pytest.fixture(scope="session")
def empty_template(templates: Templates) -> str:
    """A migrated database with no data, to copy from."""
    return templates.empty


@pytest.fixture(scope="session")
def copy_database(cluster: ClusterInfo, templates: Templates) -> Callable[..., str]:
    """Makes a fresh database of one's own: with the national boundaries (default), empty
    (``empty=True``) or with everything the session database has (``full=True``), in about a
    second; what a test writes there touches no other test. The name gets the xdist worker's
    suffix (tests.workers.db_name): use ``db_name`` wherever the name is spelled again."""
    def copy(name: str, *, empty: bool = False, full: bool = False) -> str:
        template = (templates.empty if empty else templates.full if full
                    else templates.boundaries)
        return create_database(cluster, db_name(name), drop_first=True, template=template)
    return copy


SESSION_DB = db_name("cddgis_test")


@pytest.fixture(scope="session")
def db_url(copy_database: Callable[..., str]) -> str:
    """The session's shared database: boundaries, samples, villages and indicators, read-only
    for tests (a test that writes uses ``copy_database``)."""
    return copy_database(SESSION_DB, full=True)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return engine_for(db_url)


@pytest.fixture(scope="session")
def boundary_load(copy_database: Callable[..., str], data_dir: Path) -> Iterator[Loaded]:
    """A real load of the national boundaries, now, into a migrated database of its own: for
    the tests that assert on the load's report (the templates are not rebuilt every run)."""
    engine = engine_for(copy_database("cddgis_test_boundary_load", empty=True))
    yield Loaded(load_boundaries(engine, data_dir), engine)
    engine.dispose()


@pytest.fixture(scope="session")
def loaded(boundary_load: Loaded) -> LoadReport:
    """The report of that real boundary load (its rows are in ``boundary_load.engine``)."""
    return boundary_load.report


@pytest.fixture(scope="session")
def indicator_load(copy_database: Callable[..., str], data_dir: Path) -> Iterator[Loaded]:
    """A real load of the open indicator tables, now, into a copy with the boundaries."""
    engine = engine_for(copy_database("cddgis_test_indicator_load"))
    yield Loaded(load_catalog(engine, data_dir), engine)
    engine.dispose()


@pytest.fixture(scope="session")
def indicator_tables(indicator_load: Loaded) -> list[TableReport]:
    """The reports of that real load of the open indicator tables (NSO, OAE, OSM, กชช.2ค,
    population)."""
    return indicator_load.report


@pytest.fixture(scope="session")
def app(settings: Settings, cluster: ClusterInfo, db_url: str):
    """The web app as production runs it, on the session database (boundaries, samples,
    villages, indicators): connected as the least-privilege app role."""
    app = create_app(settings, database_url=cluster.url(database=SESSION_DB, role="app"))
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


# The fixtures that start Chromium. A test that uses one (even through another fixture) must be
# marked `browser` (`-m "not browser"` leaves it out); collection fails loudly if one is not.
BROWSER_FIXTURES = frozenset({"browser", "page", "phone"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items
                if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("browser") is None]
    if unmarked:
        raise pytest.UsageError(
            "These tests start Chromium (they use the browser, page or phone fixture) but are "
            "not marked @pytest.mark.browser (a module's `pytestmark = pytest.mark.browser` "
            "will do):\n  " + "\n  ".join(unmarked))
    _longest_first(items)
