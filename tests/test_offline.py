"""The offline plan and its bounds (issue 24, item 4), without a browser: a bad province is a
400 naming the parameter, an unknown one 404; the tile list is bounded; the fresh CSRF token is
for signed-in staff only."""

from __future__ import annotations

from typing import Any

from web.offline import MAX_TILES, bounded_tiles, tiles_for


def test_the_plan_for_a_province(client: Any) -> None:
    plan = client.get("/offline/provinces/75.json").get_json()
    assert plan["province"]["name_th"] == "สมุทรสงคราม"
    assert plan["features"].startswith("/api/collections/otop-tourism-villages/items?")
    assert "province=75" in plan["features"]
    assert 0 < len(plan["tiles"]) <= MAX_TILES
    assert all("/api/basemap/tiles/WebMercatorQuad/" in u and "?v=" in u for u in plan["tiles"])
    assert plan["estimate_bytes"] > 0
    assert plan["zoom"][1] <= 14


def test_a_large_province_keeps_within_the_tile_cap(client: Any) -> None:
    plan = client.get("/offline/provinces/50.json").get_json()  # Chiang Mai
    assert len(plan["tiles"]) <= MAX_TILES
    assert plan["zoom"][1] < 14  # the top zooms were left out to stay within the cap


def test_bad_and_unknown_provinces(client: Any) -> None:
    bad = client.get("/offline/provinces/5x.json")
    assert bad.status_code == 400 and "province must be a 2-digit DOPA code" in bad.text
    assert client.get("/offline/provinces/99.json").status_code == 404


def test_the_csrf_token_is_for_staff_only(client: Any) -> None:
    response = client.get("/staff/csrf.json")
    assert response.status_code == 302 and "/staff/sign-in" in response.headers["Location"]


def test_tiles_cover_the_box_and_are_bounded() -> None:
    tiles = tiles_for((99.9, 13.3, 100.1, 13.5), 6, 6)
    assert tiles == [(6, 49, 29)]
    found, top = bounded_tiles((97.0, 5.0, 106.0, 21.0))  # the whole country
    assert len(found) <= MAX_TILES and top >= 6
