"""The CSP report endpoint (issue 25, item 9): browsers POST violations to /csp-report, which
logs one line per violation (its directive and blocked URI), answers 204, refuses big bodies and
keeps to a per-process budget of reports."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from gis.settings import Settings
from web import create_app

LEGACY = {"csp-report": {
    "document-uri": "https://gis.example/boundaries", "referrer": "",
    "violated-directive": "script-src-elem", "effective-directive": "script-src-elem",
    "original-policy": "default-src 'self'", "disposition": "enforce",
    "blocked-uri": "https://evil.example/x.js", "status-code": 200}}
REPORTING_API = [
    {"type": "csp-violation", "age": 10, "url": "https://gis.example/layers",
     "user_agent": "Mozilla/5.0", "body": {
         "documentURL": "https://gis.example/layers", "effectiveDirective": "img-src",
         "blockedURL": "https://tracker.example/p.gif", "disposition": "enforce",
         "statusCode": 200}},
    {"type": "csp-violation", "age": 12, "url": "https://gis.example/layers",
     "user_agent": "Mozilla/5.0", "body": {
         "documentURL": "https://gis.example/layers", "effectiveDirective": "style-src-attr",
         "blockedURL": "inline", "disposition": "enforce", "statusCode": 200}},
]


@pytest.fixture
def fresh(settings: Settings, db_url: str) -> FlaskClient:
    """An app of its own: the report budget is per process (per app)."""
    return create_app(settings, database_url=db_url).test_client()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cddgis.csp"]


def test_the_policy_names_the_report_endpoint(client: FlaskClient) -> None:
    response = client.get("/boundaries")
    csp = response.headers["Content-Security-Policy"]
    assert "report-uri /csp-report" in csp and "report-to csp" in csp
    assert response.headers["Reporting-Endpoints"] == 'csp="/csp-report"'


def test_a_legacy_report_is_logged_as_one_line(fresh: FlaskClient,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "cddgis.csp")
    response = fresh.post("/csp-report", data=json.dumps(LEGACY),
                          content_type="application/csp-report")
    assert response.status_code == 204 and response.data == b""
    [line] = _lines(caplog)
    assert "script-src-elem" in line and "https://evil.example/x.js" in line
    assert "https://gis.example/boundaries" in line


def test_reporting_api_reports_give_a_line_each(fresh: FlaskClient,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "cddgis.csp")
    response = fresh.post("/csp-report", data=json.dumps(REPORTING_API),
                          content_type="application/reports+json")
    assert response.status_code == 204
    lines = _lines(caplog)
    assert len(lines) == 2
    assert "img-src" in lines[0] and "https://tracker.example/p.gif" in lines[0]
    assert "style-src-attr" in lines[1] and "inline" in lines[1]
    assert not any("Mozilla" in line for line in lines)  # no more than the violation


def test_other_bodies_are_refused(fresh: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "cddgis.csp")
    big = json.dumps({"csp-report": {**LEGACY["csp-report"], "script-sample": "x" * 70_000}})
    assert fresh.post("/csp-report", data=big,
                      content_type="application/csp-report").status_code == 413
    assert fresh.post("/csp-report", data="{not json",
                      content_type="application/csp-report").status_code == 400
    assert fresh.post("/csp-report", data="a=1",
                      content_type="application/x-www-form-urlencoded").status_code == 415
    assert _lines(caplog) == []


def test_reports_are_rate_limited_per_process(fresh: FlaskClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "cddgis.csp")
    statuses = []
    for _ in range(200):  # bounded: the budget is far smaller
        statuses.append(fresh.post("/csp-report", data=json.dumps(LEGACY),
                                   content_type="application/csp-report").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {204}
    assert len(_lines(caplog)) == statuses.count(204)
