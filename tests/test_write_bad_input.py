"""Every write input answered (issue 25, item 6): bodies the write API once answered with a 500
(or a 503, or a silent 200) now get a 400/422 that names the field, and nothing is written.
Bodies are raw text, as a client could send them: NaN, Infinity and 1e400 are not JSON but
Python's parser reads them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gis import accounts, changes
from gis.cluster import ClusterInfo
from gis.db import engine_for
from gis.settings import Settings
from tests.staff import add_account
from tests.workers import db_name
from web import create_app

DB = db_name("cddgis_test_write_bad_input")
ITEMS = "/api/collections/khok-nong-na/items"
GOOD = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [98.9853, 18.7883]},
        "properties": {"plot_id": "BAD-1", "plot_size_rai": 3, "model_level": "HLM",
                       "budget_year": 2565}}


def _with(path: str, raw: str) -> str:
    """GOOD as JSON text with the value at ``path`` (``properties.x`` or ``coordinates.0``)
    replaced by ``raw``, written as is."""
    body = json.loads(json.dumps(GOOD))
    part, name = path.split(".")
    if part == "properties":
        body["properties"][name] = "@@"
    else:
        body["geometry"]["coordinates"][int(name)] = "@@"
    return json.dumps(body, ensure_ascii=False).replace('"@@"', raw)


DEEP = "[" * 1200 + "]" * 1200
BAD_POSTS = [
    ("nan-decimal", _with("properties.plot_size_rai", "NaN"), 422, "plot_size_rai"),
    ("infinity-decimal", _with("properties.plot_size_rai", "-Infinity"), 422, "plot_size_rai"),
    ("nan-year", _with("properties.budget_year", "NaN"), 422, "budget_year"),
    ("1e400-year", _with("properties.budget_year", "1e400"), 422, "budget_year"),
    ("huge-integer", _with("properties.village_no", "1" + "0" * 400), 422, "village_no"),
    ("huge-integer-year", _with("properties.budget_year", "9" * 400), 422, "budget_year"),
    ("lone-surrogate", _with("properties.village_name", '"บ้าน\\ud800"'), 422, "village_name"),
    ("deep-json", _with("properties.funding_source", DEEP), 400, "nested"),
    ("long-coordinate", _with("coordinates.0", "9" * 400), 422, "lon/lat"),
    ("nan-coordinate", _with("coordinates.1", "NaN"), 422, "lon/lat"),
    ("null-coordinate", _with("coordinates.0", "null"), 422, "coordinates"),
    ("text-coordinate", _with("coordinates.0", '"98.9"'), 422, "coordinates"),
]
BAD_PATCHES = [
    ("null-coordinates", '{"geometry": {"type": "Point", "coordinates": [null, null]}}',
     "coordinates"),
    ("null-geometry", '{"geometry": null}', "geometry"),
    ("nan-decimal", '{"properties": {"plot_size_rai": NaN}}', "plot_size_rai"),
    ("huge-integer", '{"properties": {"village_no": ' + "9" * 400 + "}}", "village_no"),
    ("lone-surrogate", '{"properties": {"funding_source": "\\udfff"}}', "funding_source"),
]


@pytest.fixture(scope="module")
def owner(copy_database: Callable[..., str]) -> Engine:
    return engine_for(copy_database(DB))


@pytest.fixture(scope="module")
def tokens(owner: Engine) -> dict[str, str]:
    add_account(owner, "cm-officer", provinces=["50"], layers=["khok-nong-na"])
    add_account(owner, "lp-officer", provinces=["51"], layers=["khok-nong-na"])
    changes.set_requires_approval(owner, "khok-nong-na", False)
    return {name: accounts.issue_token(owner, name) for name in ("cm-officer", "lp-officer")}


@pytest.fixture(scope="module")
def api(settings: Settings, cluster: ClusterInfo, owner: Engine) -> Any:
    app = create_app(settings, database_url=cluster.url(database=DB, role="app"))
    app.config["TESTING"] = True
    return app.test_client()


def _bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _stored(owner: Engine) -> list[tuple[str, int]]:
    with owner.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT key, version FROM layer_features WHERE layer = 'khok-nong-na' ORDER BY key"))]


@pytest.mark.parametrize(("raw", "status", "names"),
                         [pytest.param(raw, status, names, id=case)
                          for case, raw, status, names in BAD_POSTS])
def test_a_bad_new_feature_is_refused_naming_the_field(api: Any, tokens: dict[str, str],
                                                       owner: Engine, raw: str, status: int,
                                                       names: str) -> None:
    before = _stored(owner)
    response = api.post(ITEMS, data=raw.encode("utf-8", "surrogatepass"),
                        headers=_bearer(tokens["cm-officer"]),
                        content_type="application/geo+json")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    assert names in answer["description"] + " ".join(answer.get("problems", [])), answer
    assert _stored(owner) == before


@pytest.mark.parametrize(("raw", "names"), [pytest.param(raw, names, id=case)
                                            for case, raw, names in BAD_PATCHES])
def test_a_bad_change_is_refused_naming_the_field(api: Any, tokens: dict[str, str],
                                                  owner: Engine, raw: str, names: str) -> None:
    cm = tokens["cm-officer"]
    if api.get(f"{ITEMS}/PATCH-ME").status_code == 404:
        good = json.loads(json.dumps(GOOD))
        good["properties"]["plot_id"] = "PATCH-ME"
        assert api.post(ITEMS, data=json.dumps(good), headers=_bearer(cm),
                        content_type="application/geo+json").status_code == 201
    etag = api.get(f"{ITEMS}/PATCH-ME").headers["ETag"]
    before = _stored(owner)
    response = api.patch(f"{ITEMS}/PATCH-ME", data=raw.encode("utf-8", "surrogatepass"),
                         headers=_bearer(cm, **{"If-Match": etag}),
                         content_type="application/merge-patch+json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    answer = response.get_json()
    assert names in answer["description"] + " ".join(answer.get("problems", [])), answer
    assert _stored(owner) == before, "a refused change still changed the feature"


def test_a_retired_key_stays_reserved_to_its_province(api: Any, tokens: dict[str, str]) -> None:
    cm, lp = tokens["cm-officer"], tokens["lp-officer"]
    plot = json.loads(json.dumps(GOOD))
    plot["properties"]["plot_id"] = "RETIRED-1"
    created = api.post(ITEMS, data=json.dumps(plot), headers=_bearer(cm),
                       content_type="application/geo+json")
    assert created.status_code == 201
    assert api.delete(f"{ITEMS}/RETIRED-1", headers=_bearer(
        cm, **{"If-Match": created.headers["ETag"]})).status_code == 204
    # An officer of Lamphun (51) takes the key of Chiang Mai's (50) retired plot: refused.
    plot["geometry"]["coordinates"] = [99.0087, 18.5745]
    taken = api.post(ITEMS, data=json.dumps(plot), headers=_bearer(lp),
                     content_type="application/geo+json")
    assert taken.status_code == 409, taken.get_data(as_text=True)
    assert "retired" in taken.get_json()["description"]
    assert "50" in taken.get_json()["description"]
