"""Areas side by side (issue 23, item 3): the comparison's numbers are the areas' own
summaries', bad ``areas`` are 400s naming the parameter, and the page shows every area."""

from __future__ import annotations

import pytest

from web.dashboard_compare import COMPARE_MAX


def test_four_areas_of_any_levels_side_by_side(client):
    areas = "province:50,province:55,region:north,district:5001"
    body = client.get(f"/api/areas/compare?areas={areas}").get_json()
    assert [a["token"] for a in body["areas"]] == areas.split(",")
    for a, token in zip(body["areas"], areas.split(","), strict=True):
        level, code = token.split(":")
        own = client.get(f"/api/areas/{level}/{code}/summary").get_json()
        assert a["name_th"] == own["area"]["name_th"]
        for row in body["layers"]:
            mine = next(x for x in own["layers"] if x["id"] == row["id"])
            cell = row["cells"][body["areas"].index(a)]
            assert (cell["count"], cell["rank"], cell["parent_share"]) == (
                mine["count"], mine["rank"], mine["parent_share"])
    # an indicator one area lacks is None there, not a zero
    income = next(r for r in body["indicators"] if r["id"] == "nso-household-income")
    assert income["cells"][0]["value"] is not None and income["cells"][3] is None


@pytest.mark.parametrize(("query", "word"), [
    ("areas=", "areas: name one to four areas"),
    ("areas=province", "is not level:code"),
    ("areas=province:5", "areas: province must be a 2-digit DOPA code"),
    ("areas=planet:1", "areas: level must be one of"),
    ("areas=region:west", "areas: region must be one of"),
    ("areas=province:99", "areas: "),  # no such province: a 400 naming areas, not a 404
    ("areas=" + ",".join(f"province:{c}" for c in (10, 11, 12, 13, 14)), "at most 4"),
    ("areas=province:50&zoom=3", "zoom"),
])
def test_bad_areas(client, query, word):
    for path in ("/api/areas/compare", "/dashboard/compare"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, response.status_code)
        assert word in response.get_data(as_text=True), path


def test_missing_areas_is_a_400(client):
    response = client.get("/api/areas/compare")
    assert response.status_code == 400 and "areas is required" in response.get_data(as_text=True)


def test_page_lists_the_areas_adds_and_removes(client):
    html = client.get("/dashboard/compare?areas=province:50,region:north&add=province:55"
                      ).get_data(as_text=True)
    for name in ("เชียงใหม่", "ภาคเหนือ", "น่าน"):
        assert name in html
    assert 'data-area="province:55"' in html
    # remove: a link to the comparison without that area
    assert "areas=region:north,province:55" in html.replace("%3A", ":").replace("%2C", ",")
    # the same area twice is shown once; four is the most, and then adding is off
    full = client.get("/dashboard/compare?areas=province:50,province:50,province:55,"
                      "province:56,province:57").get_data(as_text=True)
    assert full.count('<th scope="col" data-area=') == 4 and 'id="c-add" disabled' in full
    assert COMPARE_MAX == 4


def test_dashboard_links_to_a_comparison_with_the_area_above(client):
    html = client.get("/dashboard?district=5001").get_data(as_text=True)
    assert "/dashboard/compare?areas=district:5001,province:50" in html.replace(
        "%3A", ":").replace("%2C", ",")
    html = client.get("/dashboard?province=50").get_data(as_text=True)
    assert "areas=province:50,region:north" in html.replace("%3A", ":").replace("%2C", ",")
    html = client.get("/dashboard").get_data(as_text=True)  # the country: its four regions
    assert ("areas=region:central,region:north,region:northeast,region:south"
            in html.replace("%3A", ":").replace("%2C", ","))
