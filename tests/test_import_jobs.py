"""One import job runner for the staff upload and the import API (issue 20, item 5): a large
file through the API becomes a job (202 + Location), its owner polls it to the same report the
synchronous import gives; nobody else can read it; a job past CDDGIS_IMPORT_JOB_TIMEOUT_S is
stopped as Cancel stops it and fails with nothing committed; an account's queue is bounded."""

from __future__ import annotations

import dataclasses
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from sqlalchemy import Engine, text

from gis import accounts
from gis import upload_jobs as jobs
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from layers.definitions import LAYERS
from tests.staff import add_account
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_import_jobs")
LAYER = "khok-nong-na"
IMPORTS = f"/api/collections/{LAYER}/imports"
LAMPHUN = (99.0087, 18.5745)  # province 51: outside the Chiang Mai officer's provinces


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def tokens(owner: Engine) -> dict[str, str]:
    add_account(owner, "job-cm", provinces=["50"], layers=[LAYER])
    add_account(owner, "job-other", provinces=["50"], layers=[LAYER])
    add_account(owner, "job-admin", role="admin")
    return {name: accounts.issue_token(owner, name)
            for name in ("job-cm", "job-other", "job-admin")}


def _app(settings: Settings, cluster: ClusterInfo, **changed: Any):
    app = create_app(dataclasses.replace(settings, **changed),
                     database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture(scope="module")
def api(settings: Settings, cluster: ClusterInfo, owner: Engine):
    """Files over 1 KB are imported as jobs."""
    return _app(settings, cluster, import_sync_max_kb=1)


@pytest.fixture(scope="module")
def sync_api(settings: Settings, cluster: ClusterInfo, owner: Engine):
    """The same database, every test file imported inside the request (as before jobs)."""
    return _app(settings, cluster, import_sync_max_kb=1024)


def _csv(prefix: str, count: int, *, outside: int = 0) -> bytes:
    """``count`` plots around Chiang Mai city, and ``outside`` in Lamphun (errors for job-cm)."""
    lines = ["plot_id,plot_size_rai,model_level,budget_year,lon,lat"]
    lines += [f"{prefix}-{i},2,HLM,2566,{98.95 + (i % 50) * 0.001:.4f},"
              f"{18.75 + (i // 50) * 0.001:.4f}" for i in range(count)]
    lines += [f"{prefix}-L{i},2,HLM,2566,{LAMPHUN[0]},{LAMPHUN[1]}" for i in range(outside)]
    return ("\n".join(lines) + "\n").encode()


def _post(client, token: str, content: bytes, mode: str, **headers: str):
    return client.post(IMPORTS, data={"file": (io.BytesIO(content), "plots.csv"), "mode": mode},
                       headers={"Authorization": f"Bearer {token}", **headers},
                       content_type="multipart/form-data")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _finished(client, token: str, location: str, deadline_s: float = 120) -> dict[str, Any]:
    """Polls the job until it is no longer waiting or running (a deadline, not a sleep)."""
    deadline = time.monotonic() + deadline_s
    while True:
        job = client.get(location, headers=_bearer(token))
        assert job.status_code == 200, job.get_data(as_text=True)
        body = job.get_json()
        if body["status"] not in ("accepted", "running"):
            return body
        assert time.monotonic() < deadline, body


def _plots(owner: Engine, prefix: str) -> int:
    with owner.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM layer_features WHERE layer = :l "
                                 "AND key LIKE :p"), {"l": LAYER, "p": f"{prefix}-%"}
                            ).scalar_one()


def _without_import_id(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "import_id"}


def test_a_large_file_becomes_a_job_with_the_synchronous_report(
        api, sync_api, owner: Engine, tokens: dict[str, str]) -> None:
    cm = tokens["job-cm"]
    content = _csv("JOB", 60, outside=2)
    assert len(content) > 1024
    # the synchronous answer, as before (the dry run records an import of its own)
    reference = _post(sync_api, cm, content, "dry-run")
    assert reference.status_code == 200
    expected = reference.get_json()
    assert expected["counts"]["error"] == 2 and expected["counts"]["inserted"] == 60

    started = _post(api, cm, content, "dry-run")
    assert started.status_code == 202, started.get_data(as_text=True)
    location = started.headers["Location"]
    assert location.startswith("http://localhost/api/jobs/")
    assert started.get_json()["links"][0]["href"] == location
    done = _finished(api, cm, location)
    assert done["status"] == "successful" and done["mode"] == "dry-run"
    assert done["report_status"] == 200 and done["progress"] == 100
    assert _without_import_id(done["report"]) == _without_import_id(expected)
    assert _plots(owner, "JOB") == 0  # a dry run writes nothing

    # all or nothing with errors: the synchronous 422, as the job's report
    refused = _finished(api, cm, _post(api, cm, content, "all").headers["Location"])
    assert refused["report_status"] == 422 and refused["report"]["code"] == "InvalidContent"
    assert _plots(owner, "JOB") == 0

    committed = _post(api, cm, content, "valid-only")
    assert committed.status_code == 202
    done = _finished(api, cm, committed.headers["Location"])
    assert done["status"] == "successful" and done["report_status"] == 200
    report = done["report"]
    assert report["committed"] is True and report["counts"]["inserted"] == 60
    assert report["rows"] == expected["rows"]  # errors first, naming the province
    assert "ลำพูน" in report["rows"][0]["errors"][0]
    assert _plots(owner, "JOB") == 60
    item = api.get(f"/api/collections/{LAYER}/items/JOB-7")
    assert item.status_code == 200

    # a small file keeps the synchronous answer
    small = _post(api, cm, _csv("SMALL", 3), "dry-run")
    assert small.status_code == 200 and small.get_json()["counts"]["inserted"] == 3
    # and a client may ask for a job whatever the size (RFC 7240)
    asked = _post(api, cm, _csv("SMALL", 3), "dry-run", Prefer="respond-async")
    assert asked.status_code == 202 and asked.headers["Preference-Applied"] == "respond-async"
    assert _finished(api, cm, asked.headers["Location"])["report"]["counts"]["ok"] == 3


def test_only_the_owner_or_an_administrator_reads_a_job(
        api, tokens: dict[str, str]) -> None:
    started = _post(api, tokens["job-cm"], _csv("OWN", 40), "dry-run")
    assert started.status_code == 202
    location = started.headers["Location"]
    _finished(api, tokens["job-cm"], location)
    other = api.get(location, headers=_bearer(tokens["job-other"]))
    assert other.status_code == 404 and other.get_json()["code"] == "NotFound"
    assert api.get(location).status_code == 401
    admin = api.get(location, headers=_bearer(tokens["job-admin"]))
    assert admin.status_code == 200 and admin.get_json()["status"] == "successful"
    missing = api.get("/api/jobs/987654", headers=_bearer(tokens["job-cm"]))
    assert missing.status_code == 404


def test_a_job_past_its_time_limit_fails_with_nothing_committed(
        settings: Settings, cluster: ClusterInfo, owner: Engine,
        tokens: dict[str, str]) -> None:
    api = _app(settings, cluster, import_sync_max_kb=1, import_job_timeout_s=0.000001)
    cm = tokens["job-cm"]
    with owner.connect() as conn:
        imports = conn.execute(text("SELECT count(*) FROM layer_imports")).scalar_one()
    started = _post(api, cm, _csv("SLOW", 60), "all")
    assert started.status_code == 202
    done = _finished(api, cm, started.headers["Location"])
    assert done["status"] == "failed", done
    assert "CDDGIS_IMPORT_JOB_TIMEOUT_S" in done["message"] and "วินาที" in done["message"]
    assert "report" not in done
    assert _plots(owner, "SLOW") == 0
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layer_imports")).scalar_one() == imports


def test_a_staff_check_past_its_time_limit_fails(owner: Engine, tmp_path: Path) -> None:
    """The staff upload's check runs under the same limit (run as the runner runs it)."""
    account = add_account(owner, "job-clerk", provinces=["50"], layers=[LAYER])
    path = tmp_path / "plots.csv"
    path.write_bytes(_csv("CLERK", 40))
    job = jobs.create_job(owner, account, LAYER, file_name="plots.csv", stored_name="x/p.csv",
                          kind="csv", size=path.stat().st_size, rows_estimate=40)
    runner = jobs.JobRunner(workers=1, timeout_s=0.000001, queued_per_account=5)
    finished = threading.Event()
    runner.submit(jobs.run_check, owner, job, path, LAYERS[LAYER], account).add_done_callback(
        lambda _: finished.set())
    assert finished.wait(120)
    got = jobs.get_job(owner, job)
    assert got is not None and got["status"] == "failed"
    assert "CDDGIS_IMPORT_JOB_TIMEOUT_S" in got["message"]
    assert got["summary"] is None


def test_an_accounts_queue_is_bounded(owner: Engine) -> None:
    account = add_account(owner, "job-burst", provinces=["50"], layers=[LAYER])
    runner = jobs.JobRunner(workers=1, timeout_s=60, queued_per_account=2)
    made = [runner.create(owner, account, LAYER, file_name="a.csv", stored_name="x/a.csv",
                          kind="csv", size=1, rows_estimate=1) for _ in range(2)]
    assert len(set(made)) == 2
    with pytest.raises(jobs.TooManyJobs) as refused:
        runner.create(owner, account, LAYER, file_name="a.csv", stored_name="x/a.csv",
                      kind="csv", size=1, rows_estimate=1)
    assert refused.value.status == 429 and "CDDGIS_IMPORT_QUEUE_PER_ACCOUNT" in str(refused.value)


def test_the_job_is_in_the_api_definition(api) -> None:
    doc = api.get("/api/openapi").get_json()
    validate(doc)
    job = doc["paths"]["/jobs/{jobId}"]["get"]
    assert {"200", "401", "404"} <= set(job["responses"]) and job["security"]
    imports = doc["paths"][f"/collections/{LAYER}/imports"]["post"]["responses"]
    assert "Location" in imports["202"]["headers"] and "429" in imports
