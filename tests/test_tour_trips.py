"""Trips (issue 24, item 3) over HTTP: a shared trip link (/tour/trip?v=…) lists its villages in
the link's order with their map, and opens the route in Google Maps and OpenStreetMap with the
villages' coordinates in that order; a bad ``v`` is a 400 naming it, unknown villages are listed
as not found, and hostile names are escaped. English mode's names (/tour/names.json and the
pages' data-en) come from the declared English name, else the romanisation kept at import."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import Engine, text

from gis.search import english_name

TOUR = "otop-tourism-villages"
HOSTILE = '<script>alert("trip")</script><img src=x onerror=alert(1)>"\''
# Mae Hong Son, away from where other tests look (test_xss_browser uses 19.30, 97.97).
HOSTILE_VILLAGE = ("TRIP-HOSTILE-1", 19.2000, 97.9400)


def _villages(engine: Engine, n: int) -> list[tuple[str, float, float, str]]:
    """``n`` villages of Nan (key, lat, lon, Thai name), in an order that is not the keys'."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT key, ST_Y(geom), ST_X(geom), name FROM layer_features "
            "WHERE layer = :l AND province_code = '55' ORDER BY md5(key) LIMIT :n"),
            {"l": TOUR, "n": n}).all()
    assert len(rows) == n
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _stop_ids(body: str) -> list[str]:
    stops = body.split('id="trip-stops"', 1)[1].split("</ol>", 1)[0]
    return [html.unescape(x) for x in re.findall(r'<li data-id="([^"]*)"', stops)]


def _hrefs(body: str, cls: str) -> list[str]:
    found = re.findall(rf'class="button-link {cls}" href="([^"]*)"', body)
    return [html.unescape(h) for h in found]


def _at(lat: float, lon: float) -> str:
    return f"{lat:.6f},{lon:.6f}"


def test_a_trip_link_lists_its_villages_in_order_with_the_route(client: FlaskClient,
                                                                 engine: Engine) -> None:
    villages = _villages(engine, 4)
    ids = [v[0] for v in villages]
    response = client.get(f"/tour/trip?v={','.join(ids)}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert _stop_ids(body) == ids
    for key, _, _, name in villages:
        assert f'href="/tour/{key}"' in body and html.escape(name) in body
    # The map's markers, in the same order (the page config tour_trip.js draws).
    config = json.loads(re.search(r"window\.CDDGIS = (\{.*?\});\n", body).group(1))
    assert [s["id"] for s in config["markers"]["stops"]] == ids
    # Google Maps: origin, the waypoints and the destination, in the trip's order.
    [google] = _hrefs(body, "google-route")
    assert google.startswith("https://www.google.com/maps/dir/?")
    q = parse_qs(urlparse(google).query)
    coords = [_at(lat, lon) for _, lat, lon, _ in villages]
    assert q["api"] == ["1"]
    assert [q["origin"][0], *q["waypoints"][0].split("|"), q["destination"][0]] == coords
    # OpenStreetMap: one link a leg (its directions join two points), the legs in order.
    osm = _hrefs(body, "osm-route")
    assert len(osm) == 3
    for leg, href in enumerate(osm):
        assert href.startswith("https://www.openstreetmap.org/directions?")
        assert parse_qs(urlparse(href).query)["route"] == [f"{coords[leg]};{coords[leg + 1]}"]
    # Plain links only: nothing of Google's or OpenStreetMap's is loaded by the page.
    assert not re.search(r"<script[^>]+src=\"https?://", body)
    assert "<script>" not in body  # every inline script carries the nonce
    # Another order is another trip.
    again = client.get(f"/tour/trip?v={','.join(reversed(ids))}").get_data(as_text=True)
    assert _stop_ids(again) == ids[::-1]


def test_a_long_trip_is_cut_into_google_parts_that_join(client: FlaskClient,
                                                        engine: Engine) -> None:
    """A browser follows about eight Google waypoints: 20 stops are parts of at most 10 stops,
    each starting where the one before ended."""
    villages = _villages(engine, 20)
    body = client.get(f"/tour/trip?v={','.join(v[0] for v in villages)}").get_data(as_text=True)
    coords = [_at(lat, lon) for _, lat, lon, _ in villages]
    route: list[str] = []
    for href in _hrefs(body, "google-route"):
        q = parse_qs(urlparse(href).query)
        part = [q["origin"][0], *(q["waypoints"][0].split("|") if "waypoints" in q else []),
                q["destination"][0]]
        assert len(part) <= 10
        if route:
            assert part[0] == route[-1]
            part = part[1:]
        route += part
    assert route == coords
    assert len(_hrefs(body, "osm-route")) == 19


def test_one_village_gives_directions_to_it(client: FlaskClient, engine: Engine) -> None:
    [(key, lat, lon, _)] = _villages(engine, 1)
    body = client.get(f"/tour/trip?v={key}").get_data(as_text=True)
    [google] = _hrefs(body, "google-route")
    assert parse_qs(urlparse(google).query)["destination"] == [_at(lat, lon)]
    [osm] = _hrefs(body, "osm-route")
    assert parse_qs(urlparse(osm).query)["route"] == [f";{_at(lat, lon)}"]


@pytest.mark.parametrize("v", ["", ",", "a,,b", "x" * 41, " , "])
def test_a_bad_v_is_a_400_naming_it(client: FlaskClient, v: str) -> None:
    response = client.get("/tour/trip", query_string={"v": v})
    assert response.status_code == 400
    assert "v " in response.get_data(as_text=True) or "v:" in response.get_data(as_text=True)


def test_no_v_is_a_400_naming_it(client: FlaskClient) -> None:
    response = client.get("/tour/trip")
    assert response.status_code == 400
    assert "v must list" in response.get_data(as_text=True)


def test_more_than_twenty_villages_is_a_400(client: FlaskClient, engine: Engine) -> None:
    ids = [v[0] for v in _villages(engine, 21)]
    response = client.get(f"/tour/trip?v={','.join(ids)}")
    assert response.status_code == 400
    assert "v lists 21 villages; at most 20" in response.get_data(as_text=True)


def test_unknown_villages_are_listed_as_not_found(client: FlaskClient, engine: Engine) -> None:
    (a, *_), (b, *_) = _villages(engine, 2)
    response = client.get(f"/tour/trip?v={a},NO-SUCH-1,{b},NO-SUCH-2")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert _stop_ids(body) == [a, b]
    missing = body.split('id="trip-missing"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r"<code>([^<]*)</code>", missing) == ["NO-SUCH-1", "NO-SUCH-2"]
    assert "ไม่พบชุมชนเหล่านี้" in missing and "not found" in missing
    # None found: the page says so, as a 404.
    response = client.get("/tour/trip?v=NO-SUCH-1")
    assert response.status_code == 404
    assert "<code>NO-SUCH-1</code>" in response.get_data(as_text=True)


@pytest.fixture
def hostile(engine: Engine) -> Iterator[str]:
    key, lat, lon = HOSTILE_VILLAGE
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM layer_features WHERE layer = :l AND key = :k"),
                     {"l": TOUR, "k": key})
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, province_code,
                                        district_code, subdistrict_code, region, geom, sample)
            SELECT :layer, :key, :name, CAST(:props AS jsonb), s.province_code, s.district_code,
                   s.code, s.region, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), true
            FROM subdistricts s
            WHERE ST_Contains(s.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        """), {"layer": TOUR, "key": key, "name": HOSTILE, "lat": lat, "lon": lon,
               "props": json.dumps({"village_id": key, "village_name": HOSTILE,
                                    "village_name_en": HOSTILE, "product_type": "food"})})
    yield key
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM layer_features WHERE layer = :l AND key = :k"),
                     {"l": TOUR, "k": key})


def test_hostile_names_and_ids_are_escaped(client: FlaskClient, hostile: str) -> None:
    body = client.get("/tour/trip", query_string={"v": f"{hostile},<b>x</b>"}).get_data(
        as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>x</b>" not in body
    assert str(escape(HOSTILE)) in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body  # the unknown id, listed as text
    config = re.search(r"window\.CDDGIS = (\{.*?\});\n", body).group(1)
    assert "<" not in config  # JSON in a script: no way out of it
    assert json.loads(config)["markers"]["stops"][0]["name"] == HOSTILE


def test_english_names_come_from_the_romanisation_when_none_is_declared(
        client: FlaskClient, engine: Engine) -> None:
    with engine.connect() as conn:
        key, name, rtgs = conn.execute(text(
            "SELECT f.key, f.name, n.name_rtgs FROM layer_features f JOIN feature_names n "
            "ON n.layer = f.layer AND n.key = f.key WHERE f.layer = :l AND f.name LIKE 'บ้าน%' "
            "AND NOT f.properties ? 'village_name_en' ORDER BY f.key LIMIT 1"),
            {"l": TOUR}).one()
    expected = english_name(name, rtgs)
    assert expected.startswith("Ban ") and re.fullmatch(r"[A-Za-z0-9 ]+", expected)
    names = client.get(f"/tour/names.json?v={key},NO-SUCH-1").get_json()["names"]
    assert names == {key: expected}
    # The village page's heading and the trip page carry it for English mode, Thai beside it.
    page = client.get(f"/tour/{key}").get_data(as_text=True)
    assert f'data-en="{expected}"' in page.split("<h1>", 1)[1].split("</h1>", 1)[0]
    trip = client.get(f"/tour/trip?v={key}").get_data(as_text=True)
    assert f'data-th="{html.escape(name)}" data-en="{expected}"' in trip
    # Autocomplete and "did you mean" name it the same way.
    suggested = client.get("/tour/suggest.json", query_string={"q": name}).get_json()
    assert {"id": key, "name_en": expected} in [
        {"id": s["id"], "name_en": s["name_en"]} for s in suggested["suggestions"]]


def test_a_declared_english_name_wins(hostile: str, client: FlaskClient) -> None:
    assert client.get(f"/tour/names.json?v={hostile}").get_json()["names"] == {hostile: HOSTILE}
    assert english_name("บ้านท่าลาน", "tha lan | x", "Ban Tha Lan Homestay") == "Ban Tha Lan Homestay"
    assert english_name("บ้านท่าลาน", "tha lan") == "Ban Tha Lan"
    assert english_name("ชุมชนคลองสาน", "khlong san") == "Chumchon Khlong San"
    assert english_name("ท่าลาน", "") == "ท่าลาน"


def test_names_json_is_bounded(client: FlaskClient) -> None:
    response = client.get("/tour/names.json?v=" + ",".join(f"x{i}" for i in range(401)))
    assert response.status_code == 400
    assert "v lists 401 villages; at most 400" in response.get_json()["description"]
