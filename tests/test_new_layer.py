"""A new point layer is one declaration: declared here (in the test only), it is migrated,
sampled, served by the API, drawn on the map pages and counted by the indicators, with no code
anywhere else — and its personal field stays out of every public output."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from core.schema import Choice, Field, Layer, SampleSpec
from gis.db import engine_for
from gis.migrate import upgrade
from gis.samples import load_samples
from gis.settings import Settings
from layers.definitions import LAYERS
from web import create_app

WELLS = Layer(
    id="community-wells",
    title_th="บ่อน้ำชุมชน",
    title_en="Community wells",
    description_th="บ่อน้ำที่ชุมชนดูแลร่วมกัน (ชั้นข้อมูลทดสอบ)",
    key_field="well_id",
    name_field="name",
    fields=(
        Field("well_id", "text", "รหัสบ่อ", "Well ID", required=True, max_length=40),
        Field("name", "text", "ชื่อบ่อ", "Name", required=True),
        Field("depth_m", "float", "ความลึก (ม.)", "Depth (m)", minimum=1, maximum=120,
              filter="range"),
        Field("kind", "enum", "ชนิด", "Kind", filter="choice", choices=(
            Choice("dug", "บ่อขุด", "Dug well"), Choice("bore", "บ่อบาดาล", "Borehole"))),
        Field("working", "bool", "ใช้งานได้", "Working", filter="choice"),
        Field("caretaker", "text", "ผู้ดูแล", "Caretaker", personal=True),
    ),
    popup_fields=("name", "depth_m", "kind", "working"),
    color="#0e7490",
    icon="droplet",
    roles=frozenset({"locator"}),
    sample=SampleSpec(count=150),
)


@pytest.fixture(scope="module")
def wells(copy_database: Callable[..., str], data_dir: Path, settings: Settings,
          ) -> Iterator[tuple[Engine, FlaskClient]]:
    """A database of its own with the boundaries, the migrations run again, and the new layer's
    sample loaded through the normal `cddgis sample` path."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setitem(LAYERS, WELLS.id, WELLS)
    url = copy_database("cddgis_test_new_layer")
    upgrade(url)  # nothing layer-specific to migrate: the layers share one table
    engine = engine_for(url)
    reports = load_samples(engine, data_dir, layers=[WELLS.id])
    assert [r.committed for r in reports] == [True], [r.summary() for r in reports]
    app = create_app(settings, database_url=url)
    yield engine, app.test_client()
    monkeypatch.undo()  # no other test sees the sixth layer
    assert WELLS.id not in LAYERS
    engine.dispose()


def _count(engine: Engine, where: str = "TRUE") -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features "
                                 f"WHERE layer = 'community-wells' AND {where}")).scalar_one()


def test_sample_fills_every_field_from_the_declaration(wells) -> None:
    engine, _ = wells
    assert _count(engine) == 150
    assert _count(engine, "sample") == 150
    with engine.connect() as conn:
        kinds = set(conn.execute(text(
            "SELECT DISTINCT properties->>'kind' FROM layer_features "
            "WHERE layer = 'community-wells'")).scalars())
        depths = conn.execute(text(
            "SELECT min((properties->>'depth_m')::float), max((properties->>'depth_m')::float) "
            "FROM layer_features WHERE layer = 'community-wells'")).one()
        personal = conn.execute(text(
            "SELECT count(*) FROM layer_features WHERE layer = 'community-wells' "
            "AND personal ? 'caretaker'")).scalar_one()
    assert kinds == {"dug", "bore"}
    assert 1 <= depths[0] <= depths[1] <= 120
    assert personal == 150


def test_the_api_serves_it_like_any_layer(wells) -> None:
    engine, client = wells
    collections = client.get("/api/collections").get_json()["collections"]
    assert "community-wells" in [c["id"] for c in collections]
    doc = client.get("/api/collections/community-wells").get_json()
    assert doc["numberOfFeatures"] == 150 and doc["sample"] is True
    assert {f["name"] for f in doc["fields"]} == {"well_id", "name", "depth_m", "kind", "working"}

    items = client.get("/api/collections/community-wells/items?limit=1000").get_json()
    assert items["numberMatched"] == 150
    feature = items["features"][0]
    assert "caretaker" not in feature["properties"]
    one = client.get(f"/api/collections/community-wells/items/{feature['id']}").get_json()
    assert one["id"] == feature["id"]

    deep = client.get("/api/collections/community-wells/items?depth_m_min=60&kind=bore"
                      "&working=true").get_json()
    assert deep["numberMatched"] == _count(
        engine, "(properties->>'depth_m')::float >= 60 AND properties->>'kind' = 'bore' "
                "AND (properties->>'working')::boolean")
    clusters = client.get("/api/collections/community-wells/clusters?zoom=5").get_json()
    assert sum(c[2] for c in clusters["clusters"]) == 150
    near = client.get("/api/collections/community-wells/items?near=100.5,13.75&limit=3")
    assert len(near.get_json()["features"]) == 3

    download = client.get("/api/collections/community-wells/items?f=csv")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 150 and "caretaker" not in rows[0]


def test_the_map_pages_show_it(wells) -> None:
    _, client = wells
    single = client.get("/layers/community-wells")
    assert single.status_code == 200
    assert "บ่อน้ำชุมชน" in single.get_data(as_text=True)
    overview = client.get("/layers").get_data(as_text=True)
    assert "community-wells" in overview
    # Its declaration gives it the locator role, so the locator offers it.
    assert "community-wells" in client.get("/locator").get_data(as_text=True)


def test_the_indicators_count_it(wells) -> None:
    engine, client = wells
    catalogue = client.get("/api/indicators").get_json()["indicators"]
    ids = {i["id"] for i in catalogue}
    assert {"community-wells-count", "community-wells-per-km2"} <= ids
    values = client.get("/api/indicators/community-wells-count/values?level=province")
    assert sum(v["value"] or 0 for v in values.get_json()["values"]) == _count(engine)
    assert "community-wells-count" in client.get("/choropleth").get_data(as_text=True)
