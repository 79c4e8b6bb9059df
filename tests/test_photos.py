"""Photo links the importer accepts are shown, never blocked by the page's own CSP (issue 25,
item 8): /tour once tried to load photos from hosts its img-src did not name (24 violations).
A photo on a host in CDDGIS_PHOTO_HOSTS is an image (and the host joins img-src); any other
photo link is a link, which the policy allows."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_photos")


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    engine = engine_for(copy_database(DB))
    with engine.begin() as conn:
        for key, photo in (("PH-CDD", "https://otop.cdd.go.th/img/a.jpg"),
                           ("PH-ELSE", "https://photos.example.net/b.jpg")):
            conn.execute(text("""
                INSERT INTO layer_features (layer, key, name, properties, province_code,
                                            geom)
                VALUES ('otop-tourism-villages', :key, :key, CAST(:p AS jsonb), '50',
                        ST_SetSRID(ST_MakePoint(98.98, 18.79), 4326))
            """), {"key": key, "p": json.dumps({"village_id": key, "village_name": key,
                                                 "photo_url": photo})})
    return engine


def _client(settings: Settings, cluster: ClusterInfo, hosts: tuple[str, ...]):
    app = create_app(dataclasses.replace(settings, photo_hosts=hosts),
                     database_url=cluster.url(database=DB, role="app"))
    return app.test_client()


def test_a_photo_on_an_allowed_host_is_an_image_the_policy_allows(
        settings: Settings, cluster: ClusterInfo, owner: Engine) -> None:
    client = _client(settings, cluster, ("*.cdd.go.th",))
    page = client.get("/tour/PH-CDD")
    assert page.status_code == 200, page.text[:300]
    assert '<img class="village-photo" src="https://otop.cdd.go.th/img/a.jpg"' in page.text
    img_src = next(p for p in page.headers["Content-Security-Policy"].split("; ")
                   if p.startswith("img-src"))
    assert "https://*.cdd.go.th" in img_src


def test_a_photo_elsewhere_is_a_link_not_a_blocked_image(
        settings: Settings, cluster: ClusterInfo, owner: Engine) -> None:
    for hosts in ((), ("*.cdd.go.th",)):
        page = _client(settings, cluster, hosts).get("/tour/PH-ELSE")
        assert page.status_code == 200
        assert "village-photo" not in page.text  # no <img> the CSP would block
        assert 'href="https://photos.example.net/b.jpg"' in page.text
        assert "photos.example.net" not in page.headers["Content-Security-Policy"]


def test_a_photo_host_setting_that_is_no_host_is_refused() -> None:
    with pytest.raises(ValueError, match="CDDGIS_PHOTO_HOSTS"):
        Settings.from_env({"CDDGIS_PHOTO_HOSTS": "https://x.org/'; script-src *"})
    assert Settings.from_env({"CDDGIS_PHOTO_HOSTS": "otop.cdd.go.th, *.cdd.go.th"}
                             ).photo_hosts == ("otop.cdd.go.th", "*.cdd.go.th")
