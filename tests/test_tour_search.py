"""Tour name search that forgives slips (issue 15): the stored forms, the JSON endpoints, bad
input, the migration's backfill, and RTGS romanisation with no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from flask.testing import FlaskClient
from pyproj import Geod
from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo, create_database
from gis.db import engine_for
from tests.workers import db_name

TOUR = "otop-tourism-villages"

# Any attempt to open a socket fails: romanising must need no network and no download.
OFFLINE = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network used")
class Refused(socket.socket):
    connect = connect_ex = sendto = refuse
socket.socket = Refused
socket.getaddrinfo = socket.create_connection = refuse
from gis.search import romanise
print(romanise(sys.argv[1]))
"""


def test_romanisation_works_offline(tmp_path: Path) -> None:
    """PyThaiNLP's royin engine with no network and an empty data directory."""
    env = {**os.environ, "HOME": str(tmp_path), "PYTHAINLP_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", OFFLINE, "บ้านแม่ก๊ะเหนือ"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "mae ka nuea"


def test_import_stores_the_search_forms(engine: Engine, app) -> None:
    """Every tour village has its forms, filled by the importer (not per request)."""
    with engine.connect() as conn:
        missing = conn.execute(text("""
            SELECT count(*) FROM layer_features f LEFT JOIN feature_names n USING (layer, key)
            WHERE f.layer = :l AND n.key IS NULL"""), {"l": TOUR}).scalar_one()
        norm, rtgs = conn.execute(text("""
            SELECT n.name_norm, n.name_rtgs FROM feature_names n
            JOIN layer_features f USING (layer, key) WHERE f.name = 'บ้านแม่ก๊ะเหนือ'""")).one()
    assert missing == 0
    assert (norm, rtgs) == ("แมกะเหนือ", "mae ka nuea")


@pytest.mark.parametrize("typed", ["แม่กะเหนือ", "Mae Ka Nuea", "mae ka nuea", "แม่ก๊ะเหนีอ"])
def test_search_finds_the_intended_village_first(client: FlaskClient, typed: str) -> None:
    body = client.get("/tour/search.json", query_string={"q": typed}).get_json()
    assert body["numberMatched"] >= 1
    assert body["features"][0]["properties"]["village_name"] == "บ้านแม่ก๊ะเหนือ"
    assert body["suggestions"] == []


def test_search_pages_and_filters(client: FlaskClient, engine: Engine) -> None:
    """Mae Ka in Chiang Mai: every page within the province, the next link continues."""
    first = client.get("/tour/search.json?q=mae&province=50&limit=5").get_json()
    assert first["numberMatched"] > 5 and first["numberReturned"] == 5
    assert all(f["properties"]["province_th"] == "เชียงใหม่" for f in first["features"])
    link = next(x["href"] for x in first["links"] if x["rel"] == "next")
    second = client.get(link.replace("http://localhost", "")).get_json()
    ids = [f["id"] for f in first["features"] + second["features"]]
    assert len(set(ids)) == 10


def test_autocomplete_is_limited(client: FlaskClient) -> None:
    body = client.get("/tour/suggest.json?q=mae%20ka&limit=3").get_json()
    assert len(body["suggestions"]) == 3
    assert set(body["suggestions"][0]) == {"id", "name_th", "name_en", "province_th"}
    assert client.get("/tour/suggest.json?q=%20").get_json() == {"suggestions": []}


@pytest.mark.parametrize(("url", "names"), [
    ("/tour/search.json?q=" + "ก" * 101, "q"),
    ("/tour/search.json?q=mae&limit=0", "limit"),
    ("/tour/search.json?q=mae&limit=401", "limit"),
    ("/tour/search.json?q=mae&offset=-1", "offset"),
    ("/tour/search.json?q=mae&province=5", "province"),
    ("/tour/search.json?q=mae&region=x", "region"),
    ("/tour/search.json?q=mae&near=abc", "near"),
    ("/tour/search.json?q=mae&product_type=%20", "product_type"),
    ("/tour/search.json?q=mae%00", None),
    ("/tour/suggest.json?q=mae&limit=21", "limit"),
])
def test_bad_search_requests_are_400(client: FlaskClient, url: str, names: str | None) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    if names:
        assert names in response.get_data(as_text=True)


def test_like_wildcards_are_literal(client: FlaskClient) -> None:
    body = client.get("/tour/search.json?q=%25%25%25").get_json()
    assert body["numberMatched"] == 0


def test_migration_fills_the_forms_of_stored_features(cluster: ClusterInfo) -> None:
    """A database with villages stored before 0008 gets their forms when it migrates."""
    url = create_database(cluster, db_name("cddgis_test_search_backfill"), drop_first=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path("gis/migrations").resolve()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "0007")
    db = engine_for(url)
    try:
        with db.begin() as conn:
            conn.execute(text("""
                INSERT INTO layer_features (layer, key, name, properties, geom)
                VALUES (:l, 'OTOP-T-1', 'บ้านท่าลาน', '{"village_name_en": "Tha Lan Village"}',
                        ST_SetSRID(ST_MakePoint(100.1, 15.4), 4326))"""), {"l": TOUR})
        command.upgrade(cfg, "head")
        with db.connect() as conn:
            row = conn.execute(text("SELECT name_norm, name_rtgs FROM feature_names")).one()
        assert row == ("ทาลาน", "tha lan | tha lan village")
        with db.begin() as conn:  # a deleted feature takes its forms with it
            conn.execute(text("DELETE FROM layer_features"))
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM feature_names")).scalar_one() == 0
    finally:
        db.dispose()


# ---- places and products (issue 24, item 1) ----------------------------------------------------

def _count(engine: Engine, where: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM layer_features f WHERE f.layer = "
                                 f"'{TOUR}' AND {where}"), params).scalar_one()


@pytest.mark.parametrize(("typed", "code", "column"), [
    ("เชียงใหม่", "50", "province_code"), ("จ.น่าน", "55", "province_code"),
    ("Nan", "55", "province_code"), ("ดอยสะเก็ด", "5005", "district_code"),
    ("Amphoe Doi Saket", "5005", "district_code"),
])
def test_a_place_name_lists_the_villages_in_that_place(client: FlaskClient, engine: Engine,
                                                      typed: str, code: str,
                                                      column: str) -> None:
    """"เชียงใหม่" listed villages so named in Nakhon Ratchasima; "น่าน" 300 unrelated ones."""
    body = client.get("/tour/search.json", query_string={"q": typed, "limit": 400}).get_json()
    assert body["place"]["code"] == code
    inside = _count(engine, f"f.{column} = :code", code=code)
    assert inside > 0 and body["numberMatched"] == inside
    assert {f["properties"][column] for f in body["features"]} == {code}


def test_a_place_lists_nearest_its_middle_first(client: FlaskClient, engine: Engine) -> None:
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface("
                                     "geom) AS p FROM provinces WHERE code = '55') t")).one()
    body = client.get("/tour/search.json?q=น่าน&limit=50").get_json()
    geod = Geod(ellps="WGS84")
    metres = [geod.inv(lon, lat, *f["geometry"]["coordinates"])[2] for f in body["features"]]
    assert metres == sorted(metres)


@pytest.mark.parametrize(("typed", "where"), [
    ("โฮมสเตย์", "f.properties->>'highlights_th' LIKE '%โฮมสเตย์%'"),
    ("homestay", "f.properties->>'highlights_en' ILIKE '%homestay%'"),
    ("กาแฟ", "f.properties->>'products' LIKE '%กาแฟ%' OR f.properties->>'highlights_th' "
            "LIKE '%กาแฟ%'"),
])
def test_products_and_activities_are_found(client: FlaskClient, engine: Engine, typed: str,
                                          where: str) -> None:
    """"โฮมสเตย์" and "homestay" found nothing: only names were searched."""
    expected = _count(engine, f"({where})")
    assert expected > 0
    body = client.get("/tour/search.json", query_string={"q": typed, "limit": 5}).get_json()
    assert body["numberMatched"] >= expected and body["place"] is None
    for feature in body["features"]:
        text_ = " ".join(str(feature["properties"].get(k) or "") for k in (
            "products", "highlights_th", "highlights_en", "village_name", "village_name_en"))
        assert typed.casefold() in text_.casefold(), feature["properties"]


def test_a_product_type_is_found_by_its_label(client: FlaskClient, engine: Engine) -> None:
    expected = _count(engine, "f.properties->>'product_type' = 'herbal'")
    body = client.get("/tour/search.json?q=สมุนไพร&limit=5").get_json()
    assert body["numberMatched"] >= expected > 0


@pytest.mark.parametrize(("typed", "code"), [("เชียงใหมม", "50"), ("Chang Mai", "50"),
                                             ("ดอยสะเกด", "5005")])
def test_a_misspelt_place_is_offered(client: FlaskClient, typed: str,
                                                   code: str) -> None:
    """A slip in a place's name (villages may still match it by likeness)."""
    body = client.get("/tour/search.json", query_string={"q": typed}).get_json()
    assert body["place"] is None and body["place_suggestions"][0]["code"] == code


def test_nothing_like_it_offers_nothing(client: FlaskClient) -> None:
    body = client.get("/tour/search.json?q=zzzz").get_json()
    assert (body["numberMatched"], body["place_suggestions"]) == (0, [])
    exact = client.get("/tour/search.json?q=เชียงใหม่").get_json()
    assert exact["place"]["code"] == "50" and exact["place_suggestions"] == []
