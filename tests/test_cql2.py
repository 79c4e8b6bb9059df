"""Part 3: queryables and CQL2 filters (text and JSON), compiled to parameterised SQL, checked
against direct counts in the database; personal and unknown properties are refused alike."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text


def _get(client: FlaskClient, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _matched(client: FlaskClient, collection: str, cql: str, lang: str = "cql2-text") -> int:
    body = _get(client, f"/api/collections/{collection}/items?limit=1&filter-lang={lang}"
                        f"&filter={quote(cql)}")
    return body["numberMatched"]


def _count(engine: Engine, where: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features WHERE {where}"),
                            params).scalar_one()


def test_queryables_are_json_schema_typed_from_the_declaration(client: FlaskClient) -> None:
    response = client.get("/api/collections/khok-nong-na/queryables")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    doc = response.get_json(force=True)
    props = doc["properties"]
    assert props["plot_size_rai"]["type"] == "number"
    assert props["budget_year"]["type"] == "integer"
    assert props["model_level"]["enum"] == ["HLM", "CLM"]
    assert props["geometry"]["x-ogc-role"] == "primary-geometry"
    assert "owner_name" not in props  # personal data is not queryable
    trees = _get(client, "/api/collections/plant-genetics-trees/queryables")["properties"]
    assert trees["recorded_on"] == {"type": "string", "format": "date",
                                    "title": "วันที่บันทึก / Date recorded"}
    for collection in ("provinces", "districts", "subdistricts", "learning-centers",
                       "volunteer-centers", "otop-tourism-villages"):
        assert "geometry" in _get(client, f"/api/collections/{collection}/queryables")[
            "properties"]
    links = _get(client, "/api/collections/khok-nong-na")["links"]
    assert any(link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables"
               for link in links)


def test_basic_and_advanced_comparisons_match_the_database(client: FlaskClient,
                                                          engine: Engine) -> None:
    kn = "layer = 'khok-nong-na'"
    size = "(properties->>'plot_size_rai')::numeric"
    cases = [
        ("plot_size_rai > 5", f"{kn} AND {size} > 5"),
        ("plot_size_rai BETWEEN 1 AND 3", f"{kn} AND {size} BETWEEN 1 AND 3"),
        ("model_level IN ('CLM') AND budget_year = 2564",
         f"{kn} AND properties->>'model_level' = 'CLM' AND properties->>'budget_year' = '2564'"),
        ("province_code = '50' OR province_code = '57'", f"{kn} AND province_code IN ('50', '57')"),
        ("NOT (land_title = 'chanot')",
         f"{kn} AND NOT (properties->>'land_title' = 'chanot')"),
        ("village_name LIKE 'บ้าน%'", f"{kn} AND properties->>'village_name' LIKE 'บ้าน%'"),
        ("land_title IS NULL", f"{kn} AND properties->>'land_title' IS NULL"),
    ]
    for cql, where in cases:
        expected = _count(engine, where)
        assert expected > 0 or "IS NULL" in cql, cql
        assert _matched(client, "khok-nong-na", cql) == expected, cql


def test_spatial_filters_with_bbox_and_wkt(client: FlaskClient, engine: Engine) -> None:
    box = "ST_MakeEnvelope(98.8, 18.6, 99.2, 19.0, 4326)"
    expected = _count(engine, f"layer = 'khok-nong-na' AND ST_Intersects(geom, {box})")
    assert expected > 0
    assert _matched(client, "khok-nong-na",
                    "S_INTERSECTS(geometry, BBOX(98.8, 18.6, 99.2, 19.0))") == expected
    wkt = "POLYGON((98.8 18.6, 99.2 18.6, 99.2 19.0, 98.8 19.0, 98.8 18.6))"
    assert _matched(client, "khok-nong-na", f"S_WITHIN(geometry, {wkt})") == expected
    # Areas too: the districts a point lies in.
    assert _matched(client, "districts", "S_INTERSECTS(geometry, POINT(98.9853 18.7883))") == 1
    as_json = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              {"bbox": [98.8, 18.6, 99.2, 19.0]}]}
    assert _matched(client, "khok-nong-na", json.dumps(as_json), "cql2-json") == expected


def test_cql2_json_and_temporal_on_dates(client: FlaskClient, engine: Engine) -> None:
    expected = _count(engine, "layer = 'plant-genetics-trees' AND "
                              "(properties->>'recorded_on')::date > '2020-01-01'")
    assert expected > 0
    assert _matched(client, "plant-genetics-trees",
                    "recorded_on > DATE('2020-01-01')") == expected
    assert _matched(client, "plant-genetics-trees",
                    "recorded_on T_AFTER DATE('2020-01-01')") == expected
    as_json = {"op": "t_after", "args": [{"property": "recorded_on"}, {"date": "2020-01-01"}]}
    assert _matched(client, "plant-genetics-trees", json.dumps(as_json), "cql2-json") == expected
    areas = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "region"}, "north"]},
        {"op": ">", "args": [{"property": "area_km2"}, 10000]}]}
    north_big = _matched(client, "provinces", json.dumps(areas), "cql2-json")
    assert 0 < north_big < 17


@pytest.mark.parametrize(("collection", "cql", "message"), [
    ("khok-nong-na", "owner_name = 'x'", "unknown property 'owner_name'"),
    ("khok-nong-na", "owner_name LIKE '%'", "unknown property 'owner_name'"),
    ("khok-nong-na", "nonsense_field = 1", "unknown property 'nonsense_field'"),
    ("khok-nong-na", "plot_size_rai = 'big'", "plot_size_rai is number"),
    ("khok-nong-na", "plot_size_rai >", "filter is not valid cql2-text"),
    ("khok-nong-na", "model_level LIKE 5", "model_level"),
    ("provinces", "S_INTERSECTS(name_th, BBOX(1,2,3,4))", "needs the geometry"),
    ("khok-nong-na", "plot_id'; DROP TABLE layer_features; --", "filter is not valid"),
])
def test_bad_filters_are_a_clear_400(client: FlaskClient, collection: str, cql: str,
                                     message: str) -> None:
    response = client.get(f"/api/collections/{collection}/items?filter={quote(cql)}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.get_json()["description"]


def test_personal_fields_cannot_be_filtered_sorted_or_selected(client: FlaskClient) -> None:
    for query in ("filter=" + quote("owner_name IS NOT NULL"),
                  "filter-lang=cql2-json&filter=" + quote(json.dumps(
                      {"op": "isNull", "args": [{"property": "owner_name"}]})),
                  "sortby=owner_name", "properties=owner_name"):
        response = client.get(f"/api/collections/khok-nong-na/items?{query}")
        assert response.status_code == 400, query
        assert "owner_name" in response.get_json()["description"]


def test_filter_json_syntax_error(client: FlaskClient) -> None:
    response = client.get("/api/collections/provinces/items?filter-lang=cql2-json&filter={")
    assert response.status_code == 400
    assert "filter is not valid cql2-json" in response.get_json()["description"]
