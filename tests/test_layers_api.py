"""Sample layers, the layer API (filters, CSV, clusters), and PDPA: no personal data leaks."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from layers.definitions import LAYERS
from layers.sample import generate, village_places

PUBLISHED = {"khok-nong-na": 22_791, "learning-centers": 1_885, "volunteer-centers": 76,
             "otop-tourism-villages": 3_680, "plant-genetics-trees": 13 * 40}


def _count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_samples_have_the_published_sizes(engine: Engine) -> None:
    # The session database copies a template whose build imported the samples through the
    # normal importer and failed loudly unless every layer's report said committed.
    for layer_id, size in PUBLISHED.items():
        assert _count(engine, "SELECT count(*) FROM layer_features WHERE layer = :l AND sample",
                      l=layer_id) == size, layer_id
    assert _count(engine, "SELECT count(DISTINCT province_code) FROM layer_features "
                          "WHERE layer = 'khok-nong-na'") == 73
    assert _count(engine, "SELECT count(DISTINCT province_code) FROM layer_features "
                          "WHERE layer = 'volunteer-centers'") == 76
    assert _count(engine, "SELECT count(DISTINCT properties->>'centre') FROM layer_features "
                          "WHERE layer = 'plant-genetics-trees'") == 13
    # Every sample point lies in a real subdistrict, and went through the importer.
    assert _count(engine, "SELECT count(*) FROM layer_features WHERE subdistrict_code IS NULL "
                          "OR import_id IS NULL") == 0
    assert _count(engine, "SELECT count(*) FROM layer_imports WHERE sample AND committed") == 5


def test_samples_are_deterministic(data_dir: Path) -> None:
    places = village_places(data_dir)
    first = generate(LAYERS["otop-tourism-villages"], places, seed=7)
    assert first == generate(LAYERS["otop-tourism-villages"], places, seed=7)
    assert first != generate(LAYERS["otop-tourism-villages"], places, seed=8)


def _features(client: FlaskClient, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_layer_collections_say_sample(client: FlaskClient) -> None:
    docs = {c["id"]: c for c in _features(client, "/api/collections")["collections"]}
    for layer_id, size in PUBLISHED.items():
        assert docs[layer_id]["numberOfFeatures"] >= size
        assert docs[layer_id]["sample"] is True
        assert "ข้อมูลตัวอย่าง / SAMPLE DATA" in docs[layer_id]["description"]
    fields = {f["name"] for f in docs["khok-nong-na"]["fields"]}
    assert "owner_name" not in fields and "plot_size_rai" in fields


def test_area_and_attribute_filters_match_direct_counts(client: FlaskClient,
                                                        engine: Engine) -> None:
    base = "/api/collections/khok-nong-na/items?limit=1"
    cases = {
        "province=50": "province_code = '50'",
        "district=5001": "district_code = '5001'",
        "region=south": "region = 'south'",
        "model_level=CLM": "properties->>'model_level' = 'CLM'",
        "land_title=spk401,ns3k": "properties->>'land_title' IN ('spk401', 'ns3k')",
        "plot_size_rai_min=5&plot_size_rai_max=10":
            "(properties->>'plot_size_rai')::numeric BETWEEN 5 AND 10",
        "province=50&model_level=HLM&plot_size_rai_max=1":
            "province_code = '50' AND properties->>'model_level' = 'HLM' "
            "AND (properties->>'plot_size_rai')::numeric <= 1",
    }
    for query, where in cases.items():
        expected = _count(engine, f"SELECT count(*) FROM layer_features "
                                  f"WHERE layer = 'khok-nong-na' AND {where}")
        body = _features(client, f"{base}&{query}")
        assert body["numberMatched"] == expected, query
        assert expected > 0, query
    body = _features(client, "/api/collections/khok-nong-na/items?province=50&limit=5")
    assert {f["properties"]["province_code"] for f in body["features"]} == {"50"}
    assert body["sample"] is True and "ข้อมูลตัวอย่าง" in body["notice"]


def test_bbox_and_subdistrict_filters(client: FlaskClient) -> None:
    around_chiang_mai = _features(
        client, "/api/collections/learning-centers/items?bbox=98.5,18.3,99.5,19.3&limit=1000")
    assert around_chiang_mai["numberMatched"] > 0
    for f in around_chiang_mai["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 98.5 <= lon <= 99.5 and 18.3 <= lat <= 19.3
    one = around_chiang_mai["features"][0]["properties"]["subdistrict_code"]
    body = _features(client, f"/api/collections/learning-centers/items?subdistrict={one}")
    assert {f["properties"]["subdistrict_code"] for f in body["features"]} == {one}


def test_single_feature_by_its_stable_id(client: FlaskClient) -> None:
    feature = _features(client, "/api/collections/volunteer-centers/items/VC-50")
    assert feature["id"] == "VC-50"
    assert feature["properties"]["province_code"] == "50"
    assert feature["properties"]["name"] == "ศูนย์ผู้นำจิตอาสาพัฒนาชุมชนจังหวัดเชียงใหม่"
    missing = client.get("/api/collections/volunteer-centers/items/VC-99")
    assert missing.status_code == 404


def test_clusters_add_up_to_the_count(client: FlaskClient) -> None:
    total = _features(client, "/api/collections/khok-nong-na/items?limit=1&region=north")
    clusters = _features(client, "/api/collections/khok-nong-na/clusters?zoom=7&region=north")
    assert sum(c[2] for c in clusters["clusters"]) == total["numberMatched"]
    assert len(clusters["clusters"]) < 200  # a zoomed-out map draws cells, not 5,000 markers


def test_csv_download_is_excel_friendly_and_complete(client: FlaskClient,
                                                     engine: Engine) -> None:
    response = client.get("/api/collections/khok-nong-na/items?f=csv&province=50")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data(as_text=True)
    assert raw.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))))
    assert len(rows) == _count(engine, "SELECT count(*) FROM layer_features "
                                       "WHERE layer = 'khok-nong-na' AND province_code = '50'")
    assert rows[0]["province_th"] == "เชียงใหม่" and rows[0]["sample"] == "True"
    assert "owner_name" not in rows[0]


def test_no_personal_data_in_any_public_output(client: FlaskClient, engine: Engine) -> None:
    with engine.connect() as conn:
        owners = {r[0] for r in conn.execute(text(
            "SELECT personal->>'owner_name' FROM layer_features "
            "WHERE layer = 'khok-nong-na' AND province_code = '50'"))}
    assert len(owners) > 10
    outputs = [
        client.get("/api/collections/khok-nong-na/items?province=50&limit=10000"),
        client.get("/api/collections/khok-nong-na/items?province=50&f=csv"),
        client.get("/api/collections/khok-nong-na"),
        client.get("/layers/khok-nong-na?province=50"),
        client.get("/layers?province=50"),
    ]
    first = _features(client, "/api/collections/khok-nong-na/items?province=50&limit=1")
    outputs.append(client.get(f"/api/collections/khok-nong-na/items/{first['features'][0]['id']}"))
    for response in outputs:
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "owner_name" not in body and "ชื่อเจ้าของแปลง" not in body
        leaked = [name for name in owners if name in body]
        assert not leaked, (response.request.path, leaked[:3])


@pytest.mark.parametrize(("query", "message"), [
    ("model_level=XL", "model_level must be one of HLM, CLM"),
    ("plot_size_rai_min=abc", "plot_size_rai_min must be a number"),
    ("plot_size_rai_min=5&plot_size_rai_max=1", "must not exceed"),
    ("owner_name=x", "unknown parameter(s): owner_name"),
    ("subdistrict=50", "subdistrict must be a 6-digit DOPA code"),
    ("province=50&district=1001", "1001 is not inside 50"),
    ("f=kml", "f must be one of json, geojson, html, csv"),
])
def test_bad_layer_parameters(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/collections/khok-nong-na/items?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["description"]


def test_layer_pages_embed_no_features(client: FlaskClient) -> None:
    for layer_id in LAYERS:
        response = client.get(f"/layers/{layer_id}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "ข้อมูลตัวอย่าง" in html  # the sample banner
        assert len(response.data) < 60_000
        assert not re.search(r"KNN-\d\d-\d{5}|LC-\d\d-\d{4}", html)
    assert client.get("/layers/no-such-layer").status_code == 404
    overview = client.get("/layers").get_data(as_text=True)
    assert all(f'value="{layer_id}"' in overview for layer_id in LAYERS)
