"""The open API, shaped as OGC API - Features (GeoJSON per RFC 7946)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from gis import boundaries as bq
from gis.regions import CDD_REGIONS
from web import engine

api = Blueprint("api", __name__)

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
ITEM_PARAMS = {"bbox", "region", "province", "district", "limit", "offset", "f", "lod"}


class BadParameter(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@api.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter) -> ResponseReturnValue:
    return jsonify(code="InvalidParameterValue", description=exc.message), 400


def _format(allowed: tuple[str, ...] = ("json", "geojson")) -> str:
    f = request.args.get("f", "json").lower()
    if f not in allowed:
        raise BadParameter(f"f must be one of {', '.join(allowed)}; got {f!r}")
    return f


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a whole number; got {raw!r}") from exc
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}; got {value}")
    return value


def _code(name: str, length: int) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(rf"[0-9]{{{length}}}", raw):
        raise BadParameter(f"{name} must be a {length}-digit DOPA code (e.g. "
                           f"{'1001'[:length] if length <= 4 else '100101'}); got {raw!r}")
    return raw


def _bbox() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadParameter("bbox must be minLon,minLat,maxLon,maxLat (4 numbers); "
                           f"got {raw!r}")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise BadParameter(f"bbox must hold 4 numbers; got {raw!r}") from exc
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise BadParameter("bbox is longitude/latitude in degrees (WGS 84); values out of range")
    if minx > maxx or miny > maxy:
        raise BadParameter("bbox minimums must not exceed its maximums")
    return minx, miny, maxx, maxy


def _region() -> str | None:
    raw = request.args.get("region")
    if raw is None or raw == "":
        return None
    if raw not in CDD_REGIONS:
        raise BadParameter(f"region must be one of {', '.join(CDD_REGIONS)}; got {raw!r}")
    return raw


def _reject_unknown(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadParameter(f"unknown parameter(s): {', '.join(unknown)}; "
                           f"allowed: {', '.join(sorted(allowed))}")


def _collection(collection_id: str) -> bq.BoundaryCollection:
    collection = bq.COLLECTIONS.get(collection_id)
    if collection is None:
        abort(404, description=f"no collection {collection_id!r}; see /api/collections")
    return collection


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _collection_doc(c: bq.BoundaryCollection) -> dict[str, object]:
    bbox = bq.extent(engine(), c)
    return {
        "id": c.id,
        "title": f"{c.title_th} / {c.title_en}",
        "description": (f"{c.title_en} of Thailand with official DOPA codes and names. Source: "
                        "RTSD / OCHA via HDX (CC BY-IGO); names: GeoThai (CC BY 4.0)."),
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {"spatial": {"bbox": [bbox] if bbox else [],
                               "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "links": [
            _link(url_for("api.collection", collection_id=c.id, _external=True), "self",
                  "application/json"),
            _link(url_for("api.items", collection_id=c.id, _external=True), "items", GEOJSON),
        ],
    }


@api.get("/")
def landing() -> ResponseReturnValue:
    _format()
    return jsonify(
        title="cddgis API",
        description=("Admin boundaries and community-development layers of Thailand, as OGC API "
                     "- Features. ขอบเขตการปกครองและข้อมูลชุมชนของกรมการพัฒนาชุมชน"),
        links=[
            _link(url_for("api.landing", _external=True), "self", "application/json"),
            _link(url_for("api.conformance", _external=True), "conformance",
                  "application/json"),
            _link(url_for("api.collections", _external=True), "data", "application/json"),
            _link(url_for("api.health", _external=True), "status", "application/json"),
        ],
    )


@api.get("/conformance")
def conformance() -> ResponseReturnValue:
    return jsonify(conformsTo=CONFORMANCE)


@api.get("/health")
def health() -> ResponseReturnValue:
    try:
        versions = bq.health(engine())
    except Exception as exc:  # any failure to reach the database is "down"
        return jsonify(status="unavailable", database=str(exc).splitlines()[0]), 503
    return jsonify(status="ok", **versions)


@api.get("/collections")
def collections() -> ResponseReturnValue:
    _format()
    return jsonify(
        collections=[_collection_doc(c) for c in bq.COLLECTIONS.values()],
        links=[_link(url_for("api.collections", _external=True), "self", "application/json")],
    )


@api.get("/collections/<collection_id>")
def collection(collection_id: str) -> ResponseReturnValue:
    _format()
    return jsonify(_collection_doc(_collection(collection_id)))


def _page_links(collection_id: str, q: bq.ItemQuery, returned: int, matched: int,
                ) -> list[dict[str, str]]:
    base = url_for("api.items", collection_id=collection_id, _external=True)
    args = {k: v for k, v in request.args.items() if k != "offset"}

    def at(offset: int) -> str:
        return f"{base}?{urlencode({**args, 'offset': offset})}"

    links = [_link(at(q.offset), "self", GEOJSON),
             _link(url_for("api.collection", collection_id=collection_id, _external=True),
                   "collection", "application/json")]
    if q.offset + returned < matched:
        links.append(_link(at(q.offset + q.limit), "next", GEOJSON))
    if q.offset > 0:
        links.append(_link(at(max(0, q.offset - q.limit)), "prev", GEOJSON))
    return links


def _geojson(body: str) -> Response:
    return Response(body, mimetype=GEOJSON)


@api.get("/collections/<collection_id>/items")
def items(collection_id: str) -> ResponseReturnValue:
    c = _collection(collection_id)
    _reject_unknown(ITEM_PARAMS)
    _format()
    q = bq.ItemQuery(
        bbox=_bbox(), region=_region(), province=_code("province", 2),
        district=_code("district", 4),
        limit=_int("limit", 100, 1, bq.MAX_LIMIT), offset=_int("offset", 0, 0, 10**9),
        lod=_int("lod", 0, 0, 3),
    )
    if q.province and q.district and not q.district.startswith(q.province):
        raise BadParameter(f"district {q.district} is not in province {q.province}")
    page = bq.query_items(engine(), c, q)
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": _page_links(c.id, q, len(page.features), page.number_matched),
    }
    body = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(page.features)
    return _geojson(body + "]}")


@api.get("/collections/<collection_id>/items/<code>")
def item(collection_id: str, code: str) -> ResponseReturnValue:
    c = _collection(collection_id)
    _reject_unknown({"f", "lod"})
    _format()
    if not re.fullmatch(rf"[0-9]{{{c.code_length}}}", code):
        raise BadParameter(f"{c.id} are identified by {c.code_length}-digit DOPA codes; "
                           f"got {code!r}")
    feature = bq.get_item(engine(), c, code, lod=_int("lod", 0, 0, 3))
    if feature is None:
        abort(404, description=f"no {c.level} with code {code}")
    return _geojson(feature)
