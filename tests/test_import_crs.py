"""A UTM file without a zone column imports through the web upload and the import API (issue 25,
item 8): both take the coordinate system now; before, neither did, and both said "use --crs"."""

from __future__ import annotations

import dataclasses
import io
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from pyproj import Transformer
from sqlalchemy import Engine

from gis import accounts
from gis import upload_jobs as jobs
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.staff import add_account, csrf_token, sign_in
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_import_crs")
HEADER = "รหัสศูนย์,ชื่อศูนย์,ปีงบประมาณ,easting,northing\n"


def _utm_file() -> bytes:
    """Two learning centres in Chiang Mai, in UTM 47N metres, no zone column."""
    to_utm = Transformer.from_crs(4326, 32647, always_xy=True)
    rows = []
    for i, (lon, lat) in enumerate(((98.99, 18.79), (98.95, 18.85))):
        e, n = to_utm.transform(lon, lat)
        rows.append(f"UTM-{i},ศูนย์ยูทีเอ็ม {i},2565,{e:.1f},{n:.1f}\n")
    return (HEADER + "".join(rows)).encode()


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def app(settings: Settings, cluster: ClusterInfo, owner: Engine, tmp_path_factory: Any) -> Any:
    add_account(owner, "utm-officer", provinces=["50"], layers=["learning-centers"])
    state = tmp_path_factory.mktemp("crs-state")
    app = create_app(dataclasses.replace(settings, state_dir=state, cookie_secure=False),
                     database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app


def _api(client: Any, token: str, crs: str | None) -> Any:
    data: dict[str, Any] = {"file": (io.BytesIO(_utm_file()), "centres.csv")}
    if crs is not None:
        data["crs"] = crs
    return client.post("/api/collections/learning-centers/imports", data=data,
                       headers={"Authorization": f"Bearer {token}"},
                       content_type="multipart/form-data")


def test_the_import_api_takes_a_crs(app: Any, owner: Engine) -> None:
    client = app.test_client()
    token = accounts.issue_token(owner, "utm-officer")
    without = _api(client, token, None).get_json()
    assert without["counts"]["error"] == 2
    assert "crs=" in without["rows"][0]["errors"][0]  # says how, for an API user too
    assert "โซน" in without["rows"][0]["errors"][0]  # and in Thai
    utm = _api(client, token, "EPSG:32647").get_json()
    assert utm["counts"]["error"] == 0 and utm["counts"]["inserted"] == 2, utm
    bad = _api(client, token, "EPSG:3857")
    assert bad.status_code == 400 and "crs" in bad.get_json()["description"]


def test_the_upload_page_takes_a_crs(app: Any) -> None:
    client = app.test_client()
    sign_in(client, "utm-officer")
    form = client.get("/staff/upload")
    assert 'name="crs"' in form.text and "EPSG:32647" in form.text
    sent = client.post("/staff/upload", data={
        "layer": "learning-centers", "crs": "EPSG:32647", "csrf_token": csrf_token(form.text),
        "file": (io.BytesIO(_utm_file()), "centres.csv")}, content_type="multipart/form-data")
    assert sent.status_code == 303
    job = int(re.search(r"/staff/upload/(\d+)", sent.headers["Location"]).group(1))
    deadline = time.monotonic() + 120  # a bound, so a stuck job fails loudly
    while (status := client.get(f"/staff/upload/{job}/status").get_json())["status"] \
            in jobs.RUNNING:
        assert time.monotonic() < deadline, status  # ends as soon as the status changes
    assert status["status"] == "checked", status
    assert status["counts"]["error"] == 0 and status["would_insert"] == 2


def test_every_import_path_takes_the_same_file_types(app: Any, owner: Engine) -> None:
    """One list (core.readers.EXPECTED): the API once refused .tsv (415) that the upload
    page took."""
    from core.readers import EXPECTED

    client = app.test_client()
    token = accounts.issue_token(owner, "utm-officer")
    tsv = ("รหัสศูนย์\tชื่อศูนย์\tปีงบประมาณ\tละติจูด\tลองจิจูด\n"
           "TSV-1\tศูนย์แท็บ\t2565\t18.79\t98.99\n").encode()
    answer = client.post("/api/collections/learning-centers/imports",
                         data={"file": (io.BytesIO(tsv), "centres.tsv")},
                         headers={"Authorization": f"Bearer {token}"},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["counts"]["ok"] == 1
    sign_in(client, "utm-officer")
    form = client.get("/staff/upload").text
    assert f'accept="{",".join(EXPECTED)}"' in form
