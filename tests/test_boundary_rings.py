"""Boundaries as GeoJSON readers get them (issue 21, item 4): RFC 7946 §3.1.6 wants outer rings
counter-clockwise and holes clockwise, and a polygon must still be valid once its coordinates are
rounded as the API writes them (6 decimals at full detail, 5 for the display levels). Checked on
every unit of every level, at every level of detail, read back through the API."""

from __future__ import annotations

import json

import pytest
import shapely
from flask.testing import FlaskClient
from shapely.geometry import MultiPolygon, Polygon, shape

COLLECTIONS = ("provinces", "districts", "subdistricts")


def _features(client: FlaskClient, collection: str, lod: int) -> list[dict]:
    response = client.get(f"/api/collections/{collection}/items?limit=10000&lod={lod}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = json.loads(response.get_data(as_text=True))
    assert body["numberReturned"] == body["numberMatched"]
    return body["features"]


def _polygons(geom: object) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    assert isinstance(geom, MultiPolygon), type(geom).__name__
    return list(geom.geoms)


@pytest.mark.parametrize("lod", [0, 1, 2, 3])
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_rings_are_counter_clockwise_and_valid_after_rounding(client: FlaskClient,
                                                               collection: str,
                                                               lod: int) -> None:
    features = _features(client, collection, lod)
    assert len(features) == {"provinces": 77, "districts": 928, "subdistricts": 7425}[collection]
    clockwise, ccw_holes, invalid = [], [], []
    for feature in features:
        geom = shape(feature["geometry"])
        if not geom.is_valid:
            invalid.append(f"{feature['id']}: {shapely.is_valid_reason(geom)}")
        for polygon in _polygons(geom):
            if not polygon.exterior.is_ccw:
                clockwise.append(feature["id"])
            if any(ring.is_ccw for ring in polygon.interiors):
                ccw_holes.append(feature["id"])
    assert not clockwise, f"{len(clockwise)} clockwise outer rings, e.g. {clockwise[:5]}"
    assert not ccw_holes, f"{len(ccw_holes)} counter-clockwise holes, e.g. {ccw_holes[:5]}"
    assert not invalid, f"{len(invalid)} invalid once rounded, e.g. {invalid[:5]}"
