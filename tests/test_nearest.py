"""Nearest-first queries, place names, and the tour and locator pages (server side)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from flask.testing import FlaskClient
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
CHIANG_MAI = (98.9853, 18.7883)  # lon, lat
KHON_KAEN = (102.8359, 16.4419)


def _get(client: FlaskClient, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _all_centers(client: FlaskClient) -> list[dict]:
    return _get(client, "/api/collections/learning-centers/items?limit=10000")["features"]


def _geodesic_km(a: tuple[float, float], b: list[float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000


@pytest.mark.parametrize("origin", [CHIANG_MAI, KHON_KAEN])
def test_nearest_five_are_the_true_nearest_with_geodesic_distances(
        client: FlaskClient, origin: tuple[float, float]) -> None:
    body = _get(client, f"/api/collections/learning-centers/items?near={origin[0]},{origin[1]}"
                        "&limit=5")
    got = body["features"]
    assert len(got) == 5
    for f in got:  # ground distance on the WGS84 ellipsoid, to the metre
        expected = _geodesic_km(origin, f["geometry"]["coordinates"])
        assert f["properties"]["distance_km"] == pytest.approx(expected, abs=0.001)
    distances = [f["properties"]["distance_km"] for f in got]
    assert distances == sorted(distances)
    brute = sorted(_all_centers(client),
                   key=lambda f: _geodesic_km(origin, f["geometry"]["coordinates"]))
    assert [f["id"] for f in got] == [f["id"] for f in brute[:5]]


def test_radius_limits_the_search(client: FlaskClient) -> None:
    lon, lat = CHIANG_MAI
    body = _get(client, f"/api/collections/learning-centers/items?near={lon},{lat}"
                        "&radius_km=25&limit=1000")
    inside = [f for f in _all_centers(client)
              if _geodesic_km(CHIANG_MAI, f["geometry"]["coordinates"]) <= 25]
    assert body["numberMatched"] == len(inside) > 0
    assert all(f["properties"]["distance_km"] <= 25 for f in body["features"])


def test_near_combines_with_filters_and_csv(client: FlaskClient) -> None:
    lon, lat = KHON_KAEN
    body = _get(client, f"/api/collections/learning-centers/items?near={lon},{lat}"
                        "&province=40&ready=true&limit=3")
    assert {f["properties"]["province_code"] for f in body["features"]} == {"40"}
    assert all(f["properties"]["ready"] is True for f in body["features"])
    csv_text = client.get(f"/api/collections/learning-centers/items?near={lon},{lat}&limit=3"
                          "&f=csv").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    header = lines[0].split(",")
    assert len(lines) == 4 and "distance_km" in header
    first = float(lines[1].split(",")[header.index("distance_km")])
    assert first <= float(lines[3].split(",")[header.index("distance_km")])


@pytest.mark.parametrize(("query", "message"), [
    ("near=abc", "near must be lon,lat"),
    ("near=100.5", "near must be lon,lat"),
    ("near=200,13", "near is out of range"),
    ("near=13.7,100.5", "near is out of range"),
    ("radius_km=5", "radius_km needs near=lon,lat"),
    ("near=100.5,13.7&radius_km=0", "radius_km must be more than 0"),
    ("near=100.5,13.7&radius_km=abc", "radius_km must be a number"),
])
def test_bad_coordinates_get_a_400(client: FlaskClient, query: str, message: str) -> None:
    body = _get(client, f"/api/collections/learning-centers/items?{query}", 400)
    assert message in body["description"]


@pytest.mark.parametrize(("query", "kind", "code"), [
    ("เชียงใหม่", "province", "50"),
    ("จังหวัดเชียงใหม่", "province", "50"),
    ("Chiang Mai", "province", "50"),
    ("อ.เมืองเชียงใหม่", "district", "5001"),
    ("Mueang Chiang Mai", "district", "5001"),
    ("ต.ศรีภูมิ", "subdistrict", "500101"),
    ("Si Phum", "subdistrict", "500101"),
])
def test_place_names_resolve_in_thai_and_english(client: FlaskClient, query: str, kind: str,
                                                 code: str) -> None:
    places = _get(client, f"/api/places?q={query}")["places"]
    assert any(p["kind"] == kind and p["code"] == code for p in places), places[:3]
    place = next(p for p in places if p["code"] == code)
    assert 97 < place["lon"] < 106 and 5 < place["lat"] < 21


def test_village_names_resolve_with_or_without_ban(client: FlaskClient) -> None:
    with_prefix = _get(client, "/api/places?q=บ้านท่าลานเตียน")["places"]
    without = _get(client, "/api/places?q=ท่าลานเตียน")["places"]
    assert with_prefix and with_prefix == without
    assert with_prefix[0]["kind"] == "village" and with_prefix[0]["name_th"] == "บ้านท่าลานเตียน"
    assert "จ.ชัยนาท" in with_prefix[0]["context_th"]
    assert _get(client, "/api/places?q=", 400)["description"].startswith("q (a place name)")


def test_place_search_keeps_to_the_chosen_area(client: FlaskClient) -> None:
    """Issue 24: with the locator's province set to เชียงใหม่, "บ้านหนองบัว" listed eight
    namesakes in other provinces. ``within`` keeps areas and villages inside the area."""
    anywhere = _get(client, "/api/places?q=บ้านหนองบัว&limit=8")["places"]
    assert any("จ.เชียงใหม่" not in p["context_th"] for p in anywhere)
    in_cm = _get(client, "/api/places?q=บ้านหนองบัว&limit=8&within=50")["places"]
    assert in_cm and all(p["context_th"].endswith("จ.เชียงใหม่") for p in in_cm), in_cm
    areas = _get(client, "/api/places?q=ศรีภูมิ&within=50")["places"]
    assert [(p["kind"], p["code"]) for p in areas] == [("subdistrict", "500101")]
    assert _get(client, "/api/places?q=ศรีภูมิ&within=10")["places"] == []
    bad = _get(client, "/api/places?q=ศรีภูมิ&within=5", 400)
    assert "within" in bad["description"]


def test_nearest_center_for_every_village_of_a_district(client: FlaskClient) -> None:
    """Issue 24: the locator's batch list, checked against a brute-force geodesic search over
    every center (the API's own list) for each village."""
    response = client.get("/locator/villages?layer=learning-centers&district=5001&f=csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('nearest-learning-centers-5001.csv"')
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) > 20 and all(r["subdistrict_code"].startswith("5001") for r in rows)
    centers = _all_centers(client)
    for row in rows:
        at = (float(row["lon"]), float(row["lat"]))
        best = min(centers, key=lambda f: _geodesic_km(at, f["geometry"]["coordinates"]))
        assert row["nearest_key"] == best["id"], row
        assert float(row["distance_km"]) == pytest.approx(
            _geodesic_km(at, best["geometry"]["coordinates"]), abs=0.006)

    page = client.get("/locator/villages?layer=learning-centers&district=5001")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "เมืองเชียงใหม่" in html and html.count("<tr>") == len(rows) + 1
    assert 'href="/locator/villages?layer=learning-centers&amp;district=5001&amp;f=csv"' in html


@pytest.mark.parametrize(("query", "status", "named"), [
    ("layer=learning-centers", 400, "district"),
    ("layer=learning-centers&district=50", 400, "district"),
    ("layer=learning-centers&district=9999", 404, "9999"),
    ("layer=khok-nong-na&district=5001", 400, "layer"),
    ("layer=learning-centers&district=5001&f=xlsx", 400, "f must be"),
    ("layer=learning-centers&district=5001&colour=red", 400, "colour"),
])
def test_the_village_list_refuses_bad_input(client: FlaskClient, query: str, status: int,
                                            named: str) -> None:
    response = client.get(f"/locator/villages?{query}")
    assert response.status_code == status
    assert named in response.get_data(as_text=True)


def test_name_search_forgives_prefix_and_spacing(client: FlaskClient) -> None:
    first = _get(client, "/api/collections/otop-tourism-villages/items?limit=1")["features"][0]
    name = first["properties"]["village_name"]
    bare = re.sub(r"^บ้าน", "", name)
    spaced = " ".join(bare)  # a space between every letter
    for q in (name, bare, f"บ้าน {bare}", spaced):
        ids = [f["id"] for f in _get(
            client, f"/api/collections/otop-tourism-villages/items?q={q}&limit=1000")["features"]]
        assert first["id"] in ids, q


def test_village_page_lists_its_nearest_neighbours(client: FlaskClient) -> None:
    village = _get(client, "/api/collections/otop-tourism-villages/items?province=50&limit=1"
                   )["features"][0]
    html = client.get(f"/tour/{village['id']}").get_data(as_text=True)
    assert village["properties"]["village_name"] in html
    kms = [float(k) for k in re.findall(r'data-km="([\d.]+)"', html)]
    ids = re.findall(r'<li data-id="([^"]+)">', html)
    assert len(kms) == 5 and kms == sorted(kms) and village["id"] not in ids
    lon, lat = village["geometry"]["coordinates"]
    nearest = _get(client, "/api/collections/otop-tourism-villages/items?"
                           f"near={lon},{lat}&limit=6")["features"]
    assert ids == [f["id"] for f in nearest if f["id"] != village["id"]][:5]
    assert "ข้อมูลตัวอย่าง" in html
    assert client.get("/tour/NO-SUCH-VILLAGE").status_code == 404


def test_tour_and_locator_pages_embed_no_villages(client: FlaskClient) -> None:
    for path in ("/tour", "/locator"):
        response = client.get(path)
        assert response.status_code == 200
        assert not re.search(r"OTOP-\d\d-\d{4}|LC-\d\d-\d{4}", response.get_data(as_text=True))
        assert len(response.data) < 40_000
