"""Pages render, in Thai, with no file loaded from outside the app."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from gis.settings import Settings
from web import create_app

EXTERNAL_ASSET = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["']?(?:https?:)?//""", re.I)


def test_home_page_in_thai_and_english(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "กรมการพัฒนาชุมชน" in html and "Community Development Department" in html
    assert 'href="/boundaries"' in html and "CC BY-IGO" in html


def test_boundaries_page_lists_77_provinces_in_thai(client: FlaskClient) -> None:
    response = client.get("/boundaries")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    options = re.findall(r'<option value="(\d{2})" data-region="(\w+)">([^<]+)</option>', html)
    assert len(options) == 77
    assert ("50", "north", "เชียงใหม่ — Chiang Mai") in options
    assert "ภาคตะวันออกเฉียงเหนือ" in html


def test_pages_load_nothing_from_a_cdn(client: FlaskClient) -> None:
    for path in ("/", "/boundaries"):
        html = client.get(path).get_data(as_text=True)
        assert not EXTERNAL_ASSET.search(html), path
    leaflet = client.get("/static/vendor/leaflet-1.9.3/leaflet.js")
    assert leaflet.status_code == 200 and b"Leaflet" in leaflet.data[:400]
    assert client.get("/static/vendor/leaflet-1.9.3/leaflet.css").status_code == 200


def test_basemap_tiles_are_the_only_outside_url(settings: Settings, db_url: str) -> None:
    from dataclasses import replace

    with_tiles = replace(settings, tile_url="https://tile.example.org/{z}/{x}/{y}.png",
                         tile_attribution="Example")
    html = create_app(with_tiles, database_url=db_url).test_client().get(
        "/boundaries").get_data(as_text=True)
    assert "https://tile.example.org/{z}/{x}/{y}.png" in html
    assert not EXTERNAL_ASSET.search(html)


def test_unknown_page_is_a_friendly_404(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "ขออภัย" in response.get_data(as_text=True)


def test_large_responses_are_gzipped_when_asked(client: FlaskClient) -> None:
    import gzip
    import json

    plain = client.get("/api/collections/districts/items?province=50")
    packed = client.get("/api/collections/districts/items?province=50",
                        headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) < len(plain.data) / 2
    assert json.loads(gzip.decompress(packed.data)) == json.loads(plain.data)


def _village_id(client: FlaskClient) -> str:
    return client.get("/api/collections/otop-tourism-villages/items?limit=1").get_json()[
        "features"][0]["id"]


MAP_PAGES = ("/boundaries", "/layers", "/layers/learning-centers", "/choropleth", "/tour",
             "/locator")


def test_every_page_shares_one_header_banner_and_status(client: FlaskClient) -> None:
    """One base template: the header once, the sample banner once where data is sample, one
    status line and the loading state the page script turns into ready (issue 9)."""
    for path in ("/", *MAP_PAGES, f"/tour/{_village_id(client)}"):
        html = client.get(path).get_data(as_text=True)
        assert html.count('<header class="topbar"') == 1, path
        if path == "/":
            assert 'data-state="ready"' in html and "sample-banner" not in html
            continue
        if path.startswith(("/layers", "/tour", "/locator")):  # the test layers are sample data
            assert html.count('id="sample-banner"') == 1, path
            assert "ข้อมูลตัวอย่าง" in html, path
        else:
            assert "sample-banner" not in html, path
        if path in MAP_PAGES:
            assert html.count('id="status"') == 1, path
            assert 'data-state="loading"' in html, path
            assert "js/areas.js" in html, path


def test_csp_allows_the_configured_tile_server_only(settings: Settings, db_url: str) -> None:
    from dataclasses import replace

    from web.security import tile_source

    with_tiles = replace(settings, tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png",
                         tile_attribution="Example")
    csp = create_app(with_tiles, database_url=db_url).test_client().get(
        "/boundaries").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tile.example.org;" in csp
    assert tile_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == \
        "https://tile.openstreetmap.org"
    assert tile_source(None) is None and tile_source("/tiles/{z}/{x}/{y}.png") is None


def test_tour_and_locator_layers_come_from_the_declared_roles(client: FlaskClient) -> None:
    import json

    from layers.definitions import LAYERS

    def config(html: str) -> dict:
        return json.loads(re.search(r"window\.CDDGIS = (\{.*?\});\n", html)[1])

    tour = config(client.get("/tour").get_data(as_text=True))
    assert [lay.id for lay in LAYERS.values() if "tour" in lay.roles] == [tour["layer"]["id"]]
    assert "village_name" in tour["layer"]["fields"]
    locator = config(client.get("/locator").get_data(as_text=True))
    assert [c["id"] for c in locator["layers"]] == [
        lay.id for lay in LAYERS.values() if "locator" in lay.roles]
    by_id = {c["id"]: c for c in locator["layers"]}
    assert by_id["learning-centers"]["only"] == [
        {"name": "ready", "label_th": "พร้อมเป็นแหล่งเรียนรู้",
         "label_en": "Ready as a learning site"}]
    assert by_id["volunteer-centers"]["only"] == []
    for c in locator["layers"]:  # public fields only
        personal = {f.name for f in LAYERS[c["id"]].personal_fields}
        assert not personal & set(c["fields"]), c["id"]


def test_static_scripts_are_gzipped_without_a_proxy(client) -> None:
    """`make run` has no nginx in front: the vendored renderer (~130 kB) must still travel
    compressed, and revalidate to a 304."""
    url = "/static/vendor/protomaps-leaflet-5.1.0/protomaps-leaflet.js"
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.get_data()) < len(plain.get_data()) / 2
    import gzip

    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    again = client.get(url, headers={"Accept-Encoding": "gzip",
                                     "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    plain.close()
    zipped.close()
