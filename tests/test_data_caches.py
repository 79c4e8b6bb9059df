"""What depends only on the data is kept per process under the data versions (issue 26,
item 1; gis/versioned.py): filter choices, area names, the indicator catalogue, a dashboard's
counts and categories. Each is served from the cache while the data stays, and a write shows on
the very next request: through the app's own write API where it has one (point layers), through
the real loader (indicators) or SQL as the loaders write it (boundaries, which no API writes).
A cache that ignored the versions fails these tests; so does one that outgrew its budget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gis import accounts, changes, versioned
from gis import boundaries as bq
from gis import indicators as gi
from gis import layer_queries as lq
from gis import summary as gs
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.indicator_store import load_table
from gis.settings import Settings
from indicators.tables import IndicatorSpec, TableSpec
from layers.definitions import LAYERS
from tests.staff import add_account
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_data_caches")
KNN = LAYERS["khok-nong-na"]
ITEMS = f"/api/collections/{KNN.id}/items"
CHIANG_MAI = [98.9853, 18.7883]  # province 50
_PAGE_CONFIG = re.compile(r"window\.CDDGIS = (\{.*?\});\s*</script>", re.S)
_CONFIG = re.compile(r'<script type="application/json" id="dashboard-config">(.*?)</script>',
                     re.S)


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    """A database of this module's own: boundaries, samples, villages and indicators."""
    return engine_for(copy_database(DB, full=True))


@pytest.fixture(scope="module")
def client(settings: Settings, cluster: ClusterInfo, owner: Engine) -> FlaskClient:
    """The app on it as the least-privilege app role, as deployed."""
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture(scope="module")
def token(owner: Engine) -> str:
    add_account(owner, "cache-officer", layers=[KNN.id], can_approve=True)
    changes.set_requires_approval(owner, KNN.id, False)
    return accounts.issue_token(owner, "cache-officer")


def _post_plot(client: FlaskClient, token: str, plot: str, **properties: object) -> None:
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": CHIANG_MAI},
               "properties": {"plot_id": plot, "plot_size_rai": 3, "model_level": "HLM",
                              "budget_year": 2565, **properties}}
    response = client.post(ITEMS, data=json.dumps(feature), content_type="application/geo+json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


def _kept(cache: versioned.VersionedCache, owner: Engine, key: object) -> bool:
    """Whether ``cache`` holds ``key`` for this module's database under today's versions."""
    app_url = next(url for url, k in list(cache._entries) if k == key and DB in url)
    with owner.connect() as conn:
        return cache.find((app_url, key), versioned.versions(conn))[0]  # type: ignore[arg-type]


def _budget_options(client: FlaskClient) -> set[str]:
    html = client.get(f"/layers/{KNN.id}").text
    config = json.loads(_PAGE_CONFIG.search(html)[1])  # type: ignore[index]
    (layer,) = config["layers"]
    (budget,) = [f for f in layer["filters"] if f["name"] == "budget_year"]
    return {value for value, _ in budget["options"]}


def test_filter_choices_are_kept_and_a_write_shows_at_once(client: FlaskClient, owner: Engine,
                                                           token: str) -> None:
    before = _budget_options(client)
    assert "2599" not in before
    assert _kept(lq.CHOICE_VALUES, owner, (KNN.id, "budget_year"))
    assert _budget_options(client) == before  # from the cache, the same
    _post_plot(client, token, "CACHE-1", budget_year=2599)
    assert _budget_options(client) == before | {"2599"}  # the very next request


def _dashboard(client: FlaskClient, query: str = "") -> dict:
    html = client.get(f"/dashboard{query}").text
    return json.loads(_CONFIG.search(html)[1])["summary"]  # type: ignore[index]


def _knn(summary: dict) -> dict:
    (layer,) = [layer for layer in summary["layers"] if layer["id"] == KNN.id]
    return layer


def _category(layer: dict, field: str, value: str) -> int:
    (category,) = [c for c in layer["categories"] if c["field"] == field]
    return sum(v["count"] for v in category["values"] if v["value"] == value)


@pytest.mark.parametrize("query", ["?province=50", ""])
def test_dashboard_counts_and_categories_are_kept_and_a_write_shows_at_once(
        client: FlaskClient, owner: Engine, token: str, query: str) -> None:
    before = _knn(_dashboard(client, query))
    level, code = ("province", "50") if query else ("country", "")
    assert _kept(gs.AREA_SUMMARIES, owner, (level, code))
    _post_plot(client, token, f"CACHE-D{level}", model_level="CLM", land_title="chanot")
    after = _knn(_dashboard(client, query))
    assert after["count"] == before["count"] + 1
    assert _category(after, "model_level", "CLM") == _category(before, "model_level", "CLM") + 1


def test_area_names_are_kept_and_a_boundary_write_shows_at_once(client: FlaskClient,
                                                                owner: Engine) -> None:
    """The provinces' drop-down on every page with an area filter. No API writes boundaries:
    the row is changed as a boundary load changes it, and the table's trigger raises its
    version."""
    page = client.get("/dashboard").text
    assert "เชียงใหม่" in page and "เชียงใหม่ทดสอบ" not in page
    assert _kept(bq.AREA_NAMES, owner, ("provinces", "TRUE", None))
    with owner.begin() as conn:
        conn.execute(text("UPDATE provinces SET name_th = 'เชียงใหม่ทดสอบ' WHERE code = '50'"))
    try:
        assert "เชียงใหม่ทดสอบ" in client.get("/choropleth").text
    finally:
        with owner.begin() as conn:
            conn.execute(text("UPDATE provinces SET name_th = 'เชียงใหม่' WHERE code = '50'"))
    assert "เชียงใหม่ทดสอบ" not in client.get("/choropleth").text


def test_indicator_catalogue_is_kept_and_a_load_shows_at_once(client: FlaskClient,
                                                              owner: Engine,
                                                              tmp_path: Path) -> None:
    """Loaded with the loader ``cddgis load indicators`` uses (migration 0019's trigger)."""
    def ids() -> set[str]:
        return {i["id"] for i in client.get("/api/indicators").get_json()["indicators"]}

    assert "test-cache" not in ids()
    assert _kept(gi.CATALOGUE, owner, "catalogue")
    path = tmp_path / "cache.csv"
    path.write_text("จังหวัด,ค่า\nเชียงใหม่,1\nลำพูน,3\n", encoding="utf-8")
    spec = TableSpec("cache.csv", "province", ("จังหวัด",), "test", "test",
                     (IndicatorSpec("test-cache", "ทดสอบแคช", "Cache test", "u", "ค่า"),))
    load_table(owner, spec, path)
    assert "test-cache" in ids()
    assert "ทดสอบแคช" in client.get("/choropleth").text


def test_each_cache_stays_within_its_budget(client: FlaskClient, owner: Engine,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded per process: past ``max_entries`` the least recently used goes, and what is
    asked for again is kept."""
    for cache in (lq.CHOICE_VALUES, lq.SUMMARIES, bq.AREA_NAMES, gi.CATALOGUE, gs.AREA_SUMMARIES):
        assert 0 < cache.max_entries <= 256, cache.name
    monkeypatch.setattr(gs.AREA_SUMMARIES, "max_entries", 5)
    provinces = ["10", "11", "12", "13", "14", "15", "16", "17", "18", "19"]
    for code in provinces:
        assert client.get(f"/dashboard?province={code}").status_code == 200
        assert len(gs.AREA_SUMMARIES) <= 5
    assert [k for _, k in gs.AREA_SUMMARIES._entries] == [("province", c) for c in provinces[-5:]]
    assert client.get("/dashboard?province=16").status_code == 200  # a hit: now the newest
    assert client.get("/dashboard?province=20").status_code == 200  # 17 goes, not 16
    assert [k for _, k in gs.AREA_SUMMARIES._entries] == [
        ("province", c) for c in ("17", "18", "19", "16", "20")]


def test_a_kept_value_is_not_changed_by_a_caller(owner: Engine) -> None:
    """The kept values serve every request: what a caller gets is its own copy."""
    first = gs.area_summary(owner, "province", "50")
    first["layers"][0]["count"] = -1
    first["children"].clear()
    again = gs.area_summary(owner, "province", "50")
    assert again["layers"][0]["count"] >= 0 and again["children"]
    names = bq.area_names(owner, bq.COLLECTIONS["provinces"])
    names[0]["name_th"] = "changed"
    assert bq.area_names(owner, bq.COLLECTIONS["provinces"])[0]["name_th"] != "changed"
    values = lq.choice_values(owner, KNN, "budget_year")
    values.clear()
    assert lq.choice_values(owner, KNN, "budget_year")
