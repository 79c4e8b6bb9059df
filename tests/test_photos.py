"""Photo links the importer accepts are shown, never blocked by the page's own CSP (issue 25,
item 8): /tour once tried to load photos from hosts its img-src did not name (24 violations).
A photo on a host in CDDGIS_PHOTO_HOSTS is an image (and the host joins img-src); any other
photo link is a link, which the policy allows."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pyproj import Geod
from sqlalchemy import Engine, text

from core.schema import header_key
from core.values import BadValue, parse
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from layers.definitions import OTOP_TOURISM_VILLAGES
from tests.staff import add_account, csrf_token, sign_in
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


# ---- photos staff attach to a feature (issue 24, item 2) ---------------------------------

FEATURE_LON, FEATURE_LAT = 98.98, 18.79  # PH-CDD, above
TAKEN = "2026:11:30 14:05:00"


def camera_jpeg(size: tuple[int, int] = (1600, 1200), color: str = "#2a7a4b") -> bytes:
    """A phone's photo as Pillow writes it: EXIF with the camera, its orientation (turned a
    quarter), DateTimeOriginal and a GPS position (18°47'30" N, 98°59' E, ~400 m from PH-CDD)."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    exif.get_ifd(0x8769)[36867] = TAKEN  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (18.0, 47.0, 30.0)
    gps[3], gps[4] = "E", (98.0, 59.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


TAKEN_LAT, TAKEN_LON = 18 + 47 / 60 + 30 / 3600, 98 + 59 / 60


@pytest.fixture(scope="module")
def staff_app(settings: Settings, cluster: ClusterInfo, owner: Engine,
              tmp_path_factory: pytest.TempPathFactory) -> Any:
    add_account(owner, "photo-officer", provinces=["50"], layers=["otop-tourism-villages"])
    add_account(owner, "photo-outsider", provinces=["10"], layers=["otop-tourism-villages"])
    state = tmp_path_factory.mktemp("photos-state")
    app = create_app(dataclasses.replace(settings, state_dir=state, cookie_secure=False,
                                         max_photo_mb=1),
                     database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


def _feature_id(owner: Engine, key: str) -> int:
    with owner.connect() as conn:
        return int(conn.execute(text(
            "SELECT id FROM layer_features WHERE layer = 'otop-tourism-villages' AND key = :k"),
            {"k": key}).scalar_one())


def _photo_rows(owner: Engine) -> list[Any]:
    with owner.connect() as conn:
        return list(conn.execute(text(
            "SELECT id, feature_key, content_hash, taken_lon, taken_lat FROM feature_photos "
            "ORDER BY id")))


def _stored_files(app: Any) -> list[Path]:
    root = app.extensions["cddgis.settings"].state_dir / "photos"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _signed_in(app: Any, name: str) -> tuple[Any, str]:
    client = app.test_client()
    assert sign_in(client, name).status_code in (302, 303)
    return client, "/staff/layers/otop-tourism-villages/{}"


def _send(client: Any, url: str, data: bytes, name: str = "photo.jpg") -> Any:
    page = client.get(url)
    return client.post(f"{url}/photos", data={
        "csrf_token": csrf_token(page.text), "photo": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def test_a_photo_keeps_its_exif_for_staff_and_none_in_the_public_copy(
        staff_app: Any, owner: Engine) -> None:
    client, pattern = _signed_in(staff_app, "photo-officer")
    url = pattern.format(_feature_id(owner, "PH-CDD"))
    sent = _send(client, url, camera_jpeg())
    assert sent.status_code == 303, sent.text[:500]
    staff_page = client.get(url)
    assert staff_page.status_code == 200
    # Staff see when and where the camera says it was taken, and how far that is from the
    # feature (PostGIS ST_DistanceSphere; within 1 % of the ellipsoid's distance).
    assert "30 พ.ย. 2569 14:05 น." in staff_page.text
    assert f"{TAKEN_LAT:.6f}, {TAKEN_LON:.6f}" in staff_page.text
    shown_m = float(re.search(r'class="distance" data-m="(\d+)"', staff_page.text).group(1))
    _, _, expected_m = Geod(ellps="WGS84").inv(FEATURE_LON, FEATURE_LAT, TAKEN_LON, TAKEN_LAT)
    assert abs(shown_m - expected_m) < expected_m * 0.01, (shown_m, expected_m)

    public = staff_app.test_client().get("/tour/PH-CDD")
    assert public.status_code == 200
    src = re.search(r'<img class="village-photo" src="(/photos/[0-9a-f]{64}/web\.jpg)"',
                    public.text)
    assert src, public.text[:2000]
    assert f'<meta property="og:image" content="http://localhost{src.group(1)}">' \
        in public.text
    assert '<meta property="og:image:type" content="image/jpeg">' in public.text
    assert f"{TAKEN_LAT:.6f}" not in public.text and "14:05" not in public.text
    for size in ("web", "thumb"):
        served = staff_app.test_client().get(src.group(1).replace("web", size))
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        # a day: a deleted photo also leaves the caches (PDPA), not after a year
        assert served.headers["Cache-Control"] == "public, max-age=86400"
        with Image.open(io.BytesIO(served.data)) as copy:
            assert dict(copy.getexif()) == {}
            assert not {"exif", "icc_profile", "xmp"} & set(copy.info)
            assert copy.height > copy.width  # turned upright (EXIF orientation) before resizing
            assert max(copy.size) <= (1280 if size == "web" else 320)
    assert b"TestCam" not in staff_app.test_client().get(src.group(1)).data

    # Deleted by staff: no row, no files, the URL is gone.
    photo_id = _photo_rows(owner)[-1].id
    page = client.get(url)
    gone = client.post(f"{url}/photos/{photo_id}/delete",
                       data={"csrf_token": csrf_token(page.text)})
    assert gone.status_code == 303
    assert _photo_rows(owner) == [] and _stored_files(staff_app) == []
    assert staff_app.test_client().get(src.group(1)).status_code == 404
    assert "village-photos" not in staff_app.test_client().get("/tour/PH-CDD").text


def test_only_an_editor_of_the_feature_may_attach_a_photo(staff_app: Any,
                                                          owner: Engine) -> None:
    url = f"/staff/layers/otop-tourism-villages/{_feature_id(owner, 'PH-CDD')}"
    anonymous = staff_app.test_client()
    token = csrf_token(anonymous.get("/staff/sign-in").text)
    refused = anonymous.post(f"{url}/photos", data={
        "csrf_token": token, "photo": (io.BytesIO(camera_jpeg()), "a.jpg")},
        content_type="multipart/form-data")
    assert refused.status_code in (302, 303, 401, 403)
    assert "/staff/sign-in" in refused.headers.get("Location", "/staff/sign-in")

    outsider, _ = _signed_in(staff_app, "photo-outsider")  # Bangkok, not Chiang Mai
    token = csrf_token(outsider.get("/staff/").text)
    refused = outsider.post(f"{url}/photos", data={
        "csrf_token": token, "photo": (io.BytesIO(camera_jpeg()), "a.jpg")},
        content_type="multipart/form-data")
    assert refused.status_code == 403
    assert _photo_rows(owner) == [] and _stored_files(staff_app) == []


def test_a_file_that_is_no_photo_or_too_large_is_refused_naming_the_field(
        staff_app: Any, owner: Engine) -> None:
    client, pattern = _signed_in(staff_app, "photo-officer")
    url = pattern.format(_feature_id(owner, "PH-CDD"))
    text_as_jpeg = _send(client, url, b"name,phone\nsomeone,0812345678\n", "photo.jpg")
    assert text_as_jpeg.status_code == 422
    assert 'id="photo-problem"' in text_as_jpeg.text and "photo: " in text_as_jpeg.text
    noise = os.urandom(1024 * 1024 + 10)  # past CDDGIS_MAX_PHOTO_MB=1
    too_large = _send(client, url, noise, "big.jpg")
    assert too_large.status_code == 413
    assert "photo: " in too_large.text and "1 MB" in too_large.text
    truncated = _send(client, url, camera_jpeg()[:2000], "cut.jpg")
    assert truncated.status_code == 422 and "photo: " in truncated.text
    assert _photo_rows(owner) == [] and _stored_files(staff_app) == []


def test_the_village_page_links_the_published_contacts(staff_app: Any, owner: Engine) -> None:
    with owner.begin() as conn:
        conn.execute(text("""
            UPDATE layer_features SET properties = properties || CAST(:p AS jsonb)
            WHERE layer = 'otop-tourism-villages' AND key = 'PH-ELSE'
        """), {"p": json.dumps({"phone": "053-123456, 081-234-5678",
                                "line_id": "baan.otop", "opening_days": "จ.-ศ. 08:30-16:30"})})
    page = staff_app.test_client().get("/tour/PH-ELSE")
    assert '<a href="tel:053123456">053-123456</a>' in page.text
    assert '<a href="tel:0812345678">081-234-5678</a>' in page.text
    assert 'href="https://line.me/R/ti/p/~baan.otop"' in page.text
    assert "จ.-ศ. 08:30-16:30" in page.text


@pytest.mark.parametrize(("field", "good", "bad"), [
    ("line_id", ["baan.otop", "@otopvillage", "sample.otop-50-0001"],
     ["ab", "has space", "bad/slash", "x" * 22]),
    ("opening_days", ["จ.-ศ. 08:30-16:30", "ส. อา.", "ทุกวัน", "Sat-Sun 9:00-17:00",
                      "วันจันทร์ถึงวันศุกร์", "Mon, Wed, Fri"],
     ["whenever", "08:00", "จ.-ศ. 25:00-26:00", "<script>"]),
    ("phone", ["053-123456", "0812345678"], ["line: baan.otop"]),
])
def test_the_contact_fields_are_checked(field: str, good: list[str], bad: list[str]) -> None:
    declared = OTOP_TOURISM_VILLAGES.field(field)
    for value in good:
        assert parse(declared, value) == value
    for value in bad:
        with pytest.raises(BadValue):
            parse(declared, value)
    assert {header_key(h) for h in declared.headers} <= declared.accepted_headers()


def test_the_contact_fields_take_thai_and_english_headers() -> None:
    layer = OTOP_TOURISM_VILLAGES
    for header, field in (("เบอร์โทร", "phone"), ("telephone", "phone"), ("ไลน์", "line_id"),
                          ("LINE ID", "line_id"), ("วันเปิด", "opening_days"),
                          ("Opening days", "opening_days")):
        assert header_key(header) in layer.field(field).accepted_headers(), header


def _bundle(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_photos_in_bulk_from_a_zip_of_a_table_and_photos(staff_app: Any,
                                                          owner: Engine) -> None:
    """One ZIP: a table (Thai headers) naming each feature's photos, and the photos. Every row
    is reported; a bad row stops nothing; the same rules as one photo (content, scope, EXIF)."""
    with owner.begin() as conn:
        conn.execute(text("""
            INSERT INTO layer_features (layer, key, name, properties, province_code, geom)
            VALUES ('otop-tourism-villages', 'PH-BKK', 'PH-BKK', '{}'::jsonb, '10',
                    ST_SetSRID(ST_MakePoint(100.5, 13.75), 4326))
        """))
    table = ("รหัสชุมชน,ไฟล์ภาพ\n"
             "PH-CDD,photos/front.jpg; side.png\n"
             "PH-ELSE,notes.jpg\n"
             "PH-ELSE,missing.jpg\n"
             "NO-SUCH,front.jpg\n"
             "PH-BKK,front.jpg\n").encode()
    png = io.BytesIO()
    Image.new("RGBA", (300, 200), (200, 30, 30, 128)).save(png, "PNG")
    bundle = _bundle({"photos.csv": table, "photos/front.jpg": camera_jpeg(),
                      "side.png": png.getvalue(), "notes.jpg": b"not a photo at all"})
    client, _ = _signed_in(staff_app, "photo-officer")
    url = "/staff/layers/otop-tourism-villages/photos"
    token = csrf_token(client.get(url).text)
    sent = client.post(url, data={"csrf_token": token, "bundle": (io.BytesIO(bundle), "b.zip")},
                       content_type="multipart/form-data")
    assert sent.status_code == 200, sent.text[:500]
    assert re.search(r'id="attached">2<', sent.text) and re.search(r'id="not-attached">4<',
                                                                    sent.text)
    assert "notes.jpg: ไฟล์ไม่ใช่ภาพ" in sent.text
    assert "no file &#39;missing.jpg&#39; in the ZIP" in sent.text
    assert "no live feature with the key &#39;NO-SUCH&#39;" in sent.text
    assert "the feature &#39;PH-BKK&#39; is outside this account&#39;s scope" in sent.text
    rows = _photo_rows(owner)
    assert [(r.feature_key, r.taken_lat is not None) for r in rows] == [
        ("PH-CDD", True), ("PH-CDD", False)]
    for r in rows:
        with Image.open(staff_app.extensions["cddgis.settings"].state_dir / "photos"
                        / r.content_hash[:2] / f"{r.content_hash}-web.jpg") as copy:
            assert dict(copy.getexif()) == {} and "exif" not in copy.info

    no_zip = client.post(url, data={"csrf_token": token,
                                    "bundle": (io.BytesIO(b"village_id\nPH-CDD\n"), "b.zip")},
                         content_type="multipart/form-data")
    assert no_zip.status_code == 422 and "bundle: " in no_zip.text
    with owner.begin() as conn:
        conn.execute(text("DELETE FROM feature_photos"))
        conn.execute(text("DELETE FROM layer_features WHERE key = 'PH-BKK'"))
    shutil.rmtree(staff_app.extensions["cddgis.settings"].state_dir / "photos")
