"""The collection contract (gis/collections.py): boundaries and point layers answer the same
methods, so web/ never asks which kind a collection is."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from core.errors import MethodNotAllowed
from gis import collections as gc
from layers.definitions import LAYERS


def test_one_registry_lists_what_the_api_lists(client: FlaskClient) -> None:
    listed = [c["id"] for c in client.get("/api/collections").get_json()["collections"]]
    assert [c.id for c in gc.collections()] == listed
    assert listed[:3] == ["provinces", "districts", "subdistricts"]
    for collection_id in listed:
        assert gc.collection(collection_id) is gc.collection(collection_id)  # one object
    assert gc.collection("no-such-collection") is None


@pytest.mark.parametrize("collection_id", ["provinces", "districts", "subdistricts",
                                           *LAYERS])
def test_every_collection_answers_the_same_methods(engine: Engine, collection_id: str) -> None:
    """items, item, where, queryables and summary, the same way for both kinds."""
    c = gc.collection(collection_id)
    assert c is not None
    page = c.items(engine, gc.Query(limit=3))
    assert len(page.features) == 3 and page.more
    first = json.loads(page.features[0])
    assert json.loads(page.features[-1])["id"] == page.last_key
    one = c.item(engine, first["id"])
    assert one is not None and json.loads(one)["id"] == first["id"]
    assert json.loads(one)["properties"] == first["properties"]
    assert c.item_id_problem(first["id"]) is None
    assert c.item(engine, "0" * 6 + "x") is None
    next_page = c.items(engine, gc.Query(limit=3, after=page.last_key))
    assert not {json.loads(f)["id"] for f in next_page.features} & {
        json.loads(f)["id"] for f in page.features}
    assert c.summary(engine).bbox is not None
    assert {"geometry"} <= set(c.queryables())
    assert not set(c.personal_fields) & set(c.queryables())
    assert not set(c.personal_fields) & set(c.tile_fields("grid"))


@pytest.mark.parametrize("collection_id", ["provinces", "districts", "subdistricts",
                                           "khok-nong-na"])
def test_one_where_selects_by_area_for_both_kinds(engine: Engine, collection_id: str) -> None:
    """Chiang Mai (50), and its Mueang district (5001), select the same way in every
    collection: the province itself, its districts, its subdistricts, its points."""
    c = gc.collection(collection_id)
    assert c is not None
    province, district = "50", "5001"
    if c.points:  # an area where this layer's sample has points
        with engine.connect() as conn:
            district = conn.execute(text(
                "SELECT min(district_code) FROM layer_features WHERE layer = :l"),
                {"l": c.id}).scalar_one()
        province = district[:2]
    for query, prefix in ((gc.Query(province=province, limit=1000), province),
                          (gc.Query(district=district, limit=1000),
                           province if c.id == "provinces" else district)):
        page = c.items(engine, query)
        assert page.features, (c.id, query)
        for feature in map(json.loads, page.features):
            props = feature["properties"]
            code = props.get("code") or props.get("subdistrict_code")
            assert code.startswith(prefix), (c.id, query, code)
        if page.number_matched is not None and not page.more:
            assert page.number_matched == len(page.features)
    where, params = c.where(gc.Query(region="north"))
    assert "region" in where and params["region"] == "north"


def test_boundaries_refuse_writes_with_405(engine: Engine) -> None:
    provinces = gc.collection("provinces")
    assert provinces is not None and not provinces.writable
    with pytest.raises(MethodNotAllowed, match="read-only"):
        provinces.layer()
    with pytest.raises(MethodNotAllowed):
        provinces.feature_id(engine, "10")
    layer = gc.collection("khok-nong-na")
    assert layer is not None and layer.writable and layer.layer() is LAYERS["khok-nong-na"]


def test_what_differs_is_data() -> None:
    provinces, layer = gc.collection("provinces"), gc.collection("khok-nong-na")
    assert provinces is not None and layer is not None
    assert (provinces.geometry_type, layer.geometry_type) == ("polygon", "point")
    assert provinces.lods == (0, 1, 2, 3) and layer.lods == (0,)
    assert provinces.item_id_problem("1") is not None
    assert layer.personal_fields == tuple(f.name for f in LAYERS["khok-nong-na"].personal_fields)
    assert layer.personal_fields  # the plot owner's name and phone are personal
    with pytest.raises(ValueError, match="text"):  # never ignored silently
        provinces.where(gc.Query(text="chiang"))
