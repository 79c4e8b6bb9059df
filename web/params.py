"""Query parameters: parsed once, with a clear message for every way they can be wrong."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Protocol

from flask import Response, after_this_request, g, request
from werkzeug.routing import IntegerConverter

from core.areas import CDD_REGIONS
from core.errors import BadParameter, NotFound
from core.schema import Field, Layer
from gis import crs as gcrs
from gis.collections import Collection
from gis.cql import Compiled, Queryable, compile_filter
from gis.layer_queries import MAX_LIMIT, RangeFilter

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_NEAR_LIMIT = 1_000
MAX_RADIUS_KM = 500
MAX_BREAKS = 8


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a stored row's number, 1 to 2,147,483,647 (PostgreSQL's
    ``integer``). Anything else matches no route, so it is a 404 "not found", never a number
    the database refuses (which once was a 503 "database unreachable")."""

    def __init__(self, map: object, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=1, max=2_147_483_647)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Param:
    """One query parameter, declared once: the parsers read their limits from it and the OpenAPI
    document (``web/openapi.py``) is generated from the same object, so the two cannot drift."""

    name: str
    description: str
    type: str = "string"
    """JSON Schema type: string, integer, number, boolean or array (comma-separated)."""
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[object, ...] = ()
    pattern: str | None = None
    items: dict[str, object] = field(default_factory=dict)
    """For arrays: the schema of one item."""
    max_length: int | None = None
    example: object = None

    def schema(self) -> dict[str, object]:
        schema: dict[str, object] = {"type": self.type}
        for key, value in (("default", self.default), ("minimum", self.minimum),
                           ("maximum", self.maximum), ("pattern", self.pattern),
                           ("maxLength", self.max_length)):
            if value is not None:
                schema[key] = value
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.type == "array":
            schema["items"] = self.items or {"type": "string"}
        return schema

    def openapi(self) -> dict[str, object]:
        doc: dict[str, object] = {"name": self.name, "in": "query", "required": False,
                                  "description": self.description, "schema": self.schema()}
        if self.type == "array":
            doc["style"], doc["explode"] = "form", False
        if self.example is not None:
            doc["example"] = self.example
        return doc

    def raw(self) -> str | None:
        value = request.args.get(self.name)
        return None if value is None or value == "" else value

    def integer(self) -> int:
        """The parameter as a whole number within the declared minimum and maximum."""
        assert self.minimum is not None and self.maximum is not None
        default = self.default if isinstance(self.default, int) else 0
        return int_param(self.name, default, int(self.minimum), int(self.maximum))

    def choice(self) -> str | None:
        raw = self.raw()
        if raw is None:
            return None if self.default is None else str(self.default)
        if raw not in self.enum:
            raise BadParameter(f"{self.name} must be one of {', '.join(map(str, self.enum))}; "
                               f"got {raw!r}")
        return raw


def accept(params: list[Param]) -> None:
    """Refuses any parameter the endpoint does not declare (a typo is an error, not ignored)."""
    reject_unknown({p.name for p in params})


def reject_control_characters() -> None:
    """Runs before every request: NUL and other control characters are never valid text.

    PostgreSQL refuses NUL in text (an error that looked like an outage) and no name, code or
    search holds a control character, so they are refused here once, for every parameter and
    path part, before any query is built.
    """
    for name, values in request.args.lists():
        if CONTROL.search(name):
            raise BadParameter(f"parameter names must not contain control characters; got "
                               f"{name!r}")
        for value in values:
            if CONTROL.search(value):
                raise BadParameter(f"{name} must not contain control characters (such as NUL); "
                                   f"got {value!r}")
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and CONTROL.search(value):
            raise NotFound(f"no {name} {value!r}: ids never contain control characters")
    # Forms (the staff pages) may hold tabs and line breaks, but never a NUL. The feature
    # forms check their own fields, answering 422 with the field's problem beside it
    # (web/staff_features.py); every other form gets a 400 naming the field.
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") \
            and request.blueprint != "staff_features":
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise BadParameter(f"ช่อง {name!r} มีอักขระ NUL ซึ่งใช้ไม่ได้ / the form field "
                                   f"{name!r} must not contain NUL characters")


def vary_on_accept() -> None:
    """This response's representation is chosen by the Accept header: it says so (``Vary:
    Accept``), so that no shared cache hands a browser's HTML to a JSON client (issue 25,
    item 3). The proxy's cache key holds the format too (scripts/prod/nginx.conf.in)."""
    if g.get("vary_on_accept"):
        return
    g.vary_on_accept = True

    @after_this_request
    def _vary(response: Response) -> Response:
        response.vary.add("Accept")
        return response


def format_param(allowed: tuple[str, ...] = ("json", "geojson")) -> str:
    """``f``; without it, ``html`` when allowed and the client (a browser) prefers HTML."""
    raw = request.args.get("f")
    if raw is None or raw == "":
        if "html" in allowed:
            vary_on_accept()
        if "html" in allowed and request.accept_mimetypes.best_match(
                ["application/json", "application/geo+json", "text/html"]) == "text/html":
            return "html"
        return "json"
    f = raw.lower()
    if f not in allowed:
        raise BadParameter(f"f must be one of {', '.join(allowed)}; got {f!r}")
    return f


def int_param(name: str, default: int, low: int, high: int, *, cap: bool = False) -> int:
    """A whole number between ``low`` and ``high``; ``cap``: one above ``high`` is taken as
    ``high`` (OGC API - Features' ``limit``, /req/core/fc-limit-response-1 C)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a whole number; got {raw!r}") from exc
    if cap and value > high:
        return high
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}; got {value}")
    return value


def code_param(name: str, length: int) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(rf"[0-9]{{{length}}}", raw):
        raise BadParameter(f"{name} must be a {length}-digit DOPA code (e.g. "
                           f"{'1001'[:length] if length <= 4 else '100101'}); got {raw!r}")
    return raw


def bbox_param(crs: gcrs.Crs = gcrs.DEFAULT) -> tuple[float, float, float, float] | None:
    """bbox in x, y order of ``crs`` (EPSG:4326's latitude-first box is turned round)."""
    raw = request.args.get("bbox")
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise BadParameter("bbox must be minLon,minLat,maxLon,maxLat (4 numbers, or 6 with "
                           f"heights); got {raw!r}")
    if len(parts) == 6:  # minx,miny,minz,maxx,maxy,maxz: the data is 2D, so the heights
        parts = [*parts[0:2], *parts[3:5]]  # select nothing out (Part 1: 3D boxes allowed)
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError as exc:
        raise BadParameter(f"bbox must hold 4 numbers (or 6 with heights); got {raw!r}") from exc
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise BadParameter(f"bbox must hold 4 finite numbers; got {raw!r}")
    if crs.lat_first:
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    if crs.projected:
        if minx > maxx or miny > maxy:
            raise BadParameter("bbox minimums must not exceed its maximums")
        x0, y0, x1, y1 = crs.bounds
        if not (x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1):
            raise BadParameter(f"bbox is in metres for this bbox-crs and must lie within "
                               f"{x0:.0f},{y0:.0f},{x1:.0f},{y1:.0f}")
        return minx, miny, maxx, maxy
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise BadParameter("bbox is longitude/latitude in degrees (WGS 84); values out of range")
    if minx > maxx or miny > maxy:
        raise BadParameter("bbox minimums must not exceed its maximums")
    return minx, miny, maxx, maxy


def region_param() -> str | None:
    raw = request.args.get("region")
    if raw is None or raw == "":
        return None
    if raw not in CDD_REGIONS:
        raise BadParameter(f"region must be one of {', '.join(CDD_REGIONS)}; got {raw!r}")
    return raw


def reject_unknown(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadParameter(f"unknown parameter(s): {', '.join(unknown)}; "
                           f"allowed: {', '.join(sorted(allowed))}")


def _filter_value(f: Field, raw: str) -> object:
    """One value of a choice filter, typed as the data stores it."""
    if f.type == "enum":
        choice = f.choice(raw)
        if choice is None:
            allowed = ", ".join(c.value for c in f.choices)
            raise BadParameter(f"{f.name} must be one of {allowed}; got {raw!r}")
        return choice.value
    if f.type == "bool":
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise BadParameter(f"{f.name} must be true or false; got {raw!r}")
    if f.type in ("int", "year_be"):
        try:
            return int(raw)
        except ValueError as exc:
            raise BadParameter(f"{f.name} must be a whole number; got {raw!r}") from exc
    return raw


def _number(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a number; got {raw!r}") from exc
    if not math.isfinite(value):
        raise BadParameter(f"{name} must be a finite number; got {raw!r}")
    return value


def filter_param_names(layer: Layer) -> set[str]:
    names: set[str] = set()
    for f in layer.filter_fields:
        names |= {f"{f.name}_min", f"{f.name}_max"} if f.filter == "range" else {f.name}
    return names


class Filtered(Protocol):
    """What has attribute filters: a layer's declaration, or any collection (a boundary
    collection has none)."""

    @property
    def filter_fields(self) -> tuple[Field, ...]: ...


def layer_filters(layer: Filtered) -> tuple[dict[str, tuple[object, ...]], dict[str, RangeFilter]]:
    """The layer's attribute filters: ``field=a,b`` for choices, ``field_min``/``_max`` ranges."""
    choices: dict[str, tuple[object, ...]] = {}
    ranges: dict[str, RangeFilter] = {}
    for f in layer.filter_fields:
        if f.filter == "range":
            low, high = _number(f"{f.name}_min"), _number(f"{f.name}_max")
            if low is not None and high is not None and low > high:
                raise BadParameter(f"{f.name}_min must not exceed {f.name}_max")
            if low is not None or high is not None:
                ranges[f.name] = RangeFilter(low, high)
        else:
            raw = request.args.get(f.name)
            if raw is None or raw == "":
                continue
            values = tuple(_filter_value(f, v.strip()) for v in raw.split(",") if v.strip())
            if not values:
                raise BadParameter(f"{f.name} needs at least one value (e.g. {f.name}=a,b); "
                                   f"got {raw!r}")
            choices[f.name] = values
    return choices, ranges


def near_param() -> tuple[float, float] | None:
    raw = request.args.get("near")
    if raw is None or raw == "":
        if request.args.get("radius_km"):
            raise BadParameter("radius_km needs near=lon,lat")
        return None
    parts = raw.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError as exc:
        raise BadParameter(f"near must be lon,lat in degrees (e.g. 100.5018,13.7563); "
                           f"got {raw!r}") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadParameter(f"near is out of range: longitude -180..180, latitude -90..90; "
                           f"got {raw!r}")
    return lon, lat


def radius_param() -> float | None:
    value = _number("radius_km")
    if value is not None and not 0 < value <= MAX_RADIUS_KM:
        raise BadParameter(f"radius_km must be more than 0 and at most {MAX_RADIUS_KM} (a "
                           f"wider search is too much work for one request); got {value:g}")
    return value


def near_paging(limit: int, offset: int) -> None:
    """Nearest-first work grows with limit + offset: both are capped when near is given."""
    if limit > MAX_NEAR_LIMIT:
        raise BadParameter(f"limit must be at most {MAX_NEAR_LIMIT:,} with near (the nearest "
                           f"{MAX_NEAR_LIMIT:,} is the most one request returns); got {limit}")
    if limit + offset > MAX_NEAR_LIMIT:
        raise BadParameter(f"offset + limit must be at most {MAX_NEAR_LIMIT:,} with near; got "
                           f"offset {offset}")


def breaks_param() -> list[float] | None:
    """Manual class breaks: at most 8 finite numbers (k - 1 for at most 9 classes)."""
    raw = request.args.get("breaks")
    if not raw:
        return None
    parts = [b for b in raw.split(",") if b.strip()]
    if len(parts) > MAX_BREAKS:
        raise BadParameter(f"breaks takes at most {MAX_BREAKS} numbers (for at most "
                           f"{MAX_BREAKS + 1} classes); got {len(parts)}")
    try:
        breaks = [float(b) for b in parts]
    except ValueError as exc:
        raise BadParameter("breaks must be numbers separated by commas") from exc
    if not all(math.isfinite(b) for b in breaks):
        raise BadParameter("breaks must be finite numbers (not nan or inf)")
    return breaks


def _instant(raw: str) -> dt.date:
    """One end of ``datetime`` as the UTC day it falls on: an RFC 3339 date-time (an offset
    is turned to UTC; none is read as UTC) or a date (the whole day)."""
    text = raw.strip()
    try:
        if "T" not in text.upper():
            return dt.date.fromisoformat(text)
        value = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        raise BadParameter(
            f"datetime: {raw!r} ไม่ใช่วันที่หรือเวลา / is not an RFC 3339 date-time (e.g. "
            "2020-01-01T00:00:00Z) or date (2020-01-01)") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.date()


def datetime_param() -> tuple[dt.date | None, dt.date | None] | None:
    """``datetime`` (OGC API - Features Part 1 Core): an instant or an interval, each end a
    date-time or a date, ``..`` or empty for an open end. Dated features are kept when their
    day overlaps it, so it comes back as the first and last UTC day it touches (None: open).
    A collection whose features carry no date keeps them all (the standard's
    /req/core/fc-time-response C), but a malformed value is still a 400."""
    raw = DATETIME.raw()
    if raw is None:
        return None
    parts = raw.split("/")
    if len(parts) > 2:
        raise BadParameter(f"datetime: an instant or start/end; got {raw!r}")
    if len(parts) == 1:
        if parts[0].strip() in ("", ".."):
            raise BadParameter(f"datetime: an instant or start/end; got {raw!r}")
        day = _instant(parts[0])
        return day, day
    start, end = (None if p.strip() in ("", "..") else _instant(p) for p in parts)
    if start is None and end is None:  # the standard's ABNF: at most one end is open
        raise BadParameter(f"datetime: an interval needs a start or an end; got {raw!r}")
    if start is not None and end is not None and start > end:
        raise BadParameter(f"datetime: the start is after the end; got {raw!r}")
    return start, end


def text_param() -> str | None:
    raw = request.args.get("q")
    if raw is None or not raw.strip():
        return None
    if len(raw) > 100:
        raise BadParameter("q is at most 100 characters")
    return raw.strip()


# --- Declared parameters, shared by the views and the OpenAPI document ------------------------

CRS_NAMES = tuple(gcrs.SUPPORTED)
F_JSON = Param("f", "Output format: json (or geojson), or html for a browser. Without f, a "
                    "browser's Accept header gets HTML.", enum=("json", "html"), default="json")
F_ITEMS = Param("f", "Output format: GeoJSON (json/geojson), html (a paged table and map), or "
                     "a download of every matching row, not paged (limit caps it; sortby and "
                     "near are refused, a download is in id order except csv): csv (UTF-8 "
                     "with BOM, for Excel), fgb (FlatGeobuf, streamed), gpkg (GeoPackage), "
                     "geojsonseq (GeoJSON text sequence, RFC 8142) or ndjson "
                     "(newline-delimited GeoJSON).",
                enum=("json", "geojson", "html", "csv", "fgb", "gpkg", "geojsonseq", "ndjson"),
                default="json")
F_BOUNDARY_ITEMS = Param("f", "Output format: GeoJSON (json/geojson) or html.",
                         enum=("json", "geojson", "html"), default="json")
BBOX = Param("bbox", "minLon,minLat,maxLon,maxLat (in bbox-crs; default CRS84 degrees): only "
                     "features that intersect it. Six numbers (with heights) are taken as "
                     "their horizontal box.", type="array", items={"type": "number"},
             example="100.3,13.5,100.9,14.0")
BBOX_CRS = Param("bbox-crs", "CRS of bbox (OGC API - Features Part 2).", enum=CRS_NAMES,
                 default=gcrs.CRS84)
CRS_PARAM = Param("crs", "CRS of the returned geometry (Part 2); the answer says which in its "
                         "Content-Crs header. EPSG:4326 is latitude first.", enum=CRS_NAMES,
                  default=gcrs.CRS84)
REGION = Param("region", "CDD region", enum=tuple(CDD_REGIONS))
PROVINCE = Param("province", "2-digit DOPA province code", pattern="^[0-9]{2}$", example="50")
DISTRICT = Param("district", "4-digit DOPA district code", pattern="^[0-9]{4}$", example="5001")
SUBDISTRICT = Param("subdistrict", "6-digit DOPA subdistrict code", pattern="^[0-9]{6}$",
                    example="500101")
LIMIT = Param("limit", "Features per page (ask for the maximum to download fast); more than "
                       "the maximum is taken as the maximum.",
              type="integer", default=100, minimum=1, maximum=MAX_LIMIT)
OFFSET = Param("offset", "Features to skip (the next links use cursor instead: every page then "
                         "costs the same).", type="integer", default=0, minimum=0,
               maximum=10**9)
CURSOR = Param("cursor", "Where the previous page ended: opaque, taken from a next link.",
               max_length=400)
LOD = Param("lod", "Level of detail: 0 = full geometry, 3 = coarsest display geometry.",
            type="integer", default=0, minimum=0, maximum=3)
SORTBY = Param("sortby", "Sort by queryables: +name (ascending, the default) or -name "
                         "(descending), comma-separated (OGC Features Part 8 draft).",
               type="array", example="-area_km2")
PROPERTIES = Param("properties", "Only these properties in each feature (comma-separated "
                                 "queryables).", type="array", example="name_th,name_en")
FILTER = Param("filter", "A CQL2 filter over the collection's queryables (Part 3), e.g. "
                         "province_code = '50' AND S_INTERSECTS(geometry, "
                         "BBOX(98.9,18.7,99.1,18.9)).", max_length=20_000)
FILTER_LANG = Param("filter-lang", "Language of filter. cql-text, the draft's name that GDAL "
                                   "3.6 sends, is read as cql2-text.",
                    enum=("cql2-text", "cql2-json", "cql-text"), default="cql2-text")
FILTER_CRS = Param("filter-crs", "CRS of the coordinates in filter's geometries and BBOX "
                                 "(Part 3, Filter): any CRS the collection lists; EPSG:4326 "
                                 "is latitude first.", enum=CRS_NAMES, default=gcrs.CRS84)
DATETIME = Param(
    "datetime", "Features dated in this instant or interval (RFC 3339 date-time or date; "
                "start/end, `..` or empty for an open end), e.g. 2020-01-01T00:00:00Z/.. — "
                "collections whose features carry no date (extent.temporal absent) keep all.",
    example="2020-01-01T00:00:00Z/..")
Q = Param("q", "Free text: features whose name is like it, as the tour search finds them "
              "(ชื่อ: tone marks, vowel slips and spacing forgiven; English/RTGS spellings "
              "such as 'Nong Bua' find Thai names). A filter: the items keep their order.",
          max_length=100)
NEAR = Param("near", "lon,lat: nearest first, each feature with distance_km (cddgis "
                     "extension; limit + offset at most 1,000).", type="array",
             items={"type": "number"}, example="100.5018,13.7563")
RADIUS = Param("radius_km", "With near: only features within this ground distance (km).",
               type="number", minimum=0, maximum=MAX_RADIUS_KM)
ZOOM = Param("zoom", "Map zoom level the grid is made for.", type="integer", default=6,
             minimum=0, maximum=22)
PLACE_Q = Param("q", "A place name (Thai or English): province, district, subdistrict or "
                     "village. Required.", max_length=100, example="เชียงใหม่")
PLACE_LIMIT = Param("limit", "Places to return.", type="integer", default=10, minimum=1,
                    maximum=50)
PLACE_WITHIN = Param("within", "Only places inside this area: a 2-digit province, 4-digit "
                     "district or 6-digit subdistrict DOPA code.", pattern="^([0-9]{2}){1,3}$",
                     example="50")

_TYPES = {"int": "integer", "year_be": "integer", "float": "number", "bool": "boolean"}


def field_params(layer: Filtered) -> list[Param]:
    """The layer's attribute filters as declared parameters: ``field=a,b`` for choices,
    ``field_min``/``field_max`` for ranges."""
    params: list[Param] = []
    for f in layer.filter_fields:
        if f.filter == "range":
            for end in ("min", "max"):
                params.append(Param(f"{f.name}_{end}", f"{f.label_en}: {end}imum",
                                    type="number", minimum=f.minimum, maximum=f.maximum))
        else:
            item: dict[str, object] = {"type": _TYPES.get(f.type, "string")}
            if f.choices:
                item["enum"] = [c.value for c in f.choices]
            params.append(Param(f.name, f"{f.label_en} ({f.label_th}): one or more values, "
                                        "comma-separated", type="array", items=item))
    return params


AREA_PARAMS = {"province": PROVINCE, "district": DISTRICT, "subdistrict": SUBDISTRICT}
"""The area code parameters, by the level a collection's ``area_levels`` names."""


def items_params(collection: Collection) -> list[Param]:
    """What ``/collections/{id}/items`` takes, from what the collection has: its area levels
    and attribute filters; points also name search, nearest first and CSV; several levels of
    detail add ``lod``; and every other queryable as ``name=value``."""
    declared = _own_items_params(collection)
    return declared + queryable_params(collection, names(declared))


def _own_items_params(collection: Collection) -> list[Param]:
    points = [Q, NEAR, RADIUS] if collection.points else []
    lod = [LOD] if len(collection.lods) > 1 else []
    return [BBOX, BBOX_CRS, CRS_PARAM, DATETIME, REGION,
            *(AREA_PARAMS[level] for level in collection.area_levels),
            *field_params(collection), *points, FILTER, FILTER_LANG, FILTER_CRS, SORTBY,
            PROPERTIES,
            LIMIT, OFFSET, CURSOR, *lod, F_ITEMS if collection.points else F_BOUNDARY_ITEMS]


_QUERYABLE_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean"}


def queryable_params(collection: Collection, taken: set[str]) -> list[Param]:
    """OGC API - Features Part 3 "queryables as query parameters": every queryable that is not
    already a parameter of its own (``region``, a layer's choice filters) selects by equality,
    ``province_code=50``. GDAL 3.6 sends a ``-where`` to the server only on properties it finds
    here, so they are declared per collection. Personal fields are no queryables, so never
    parameters."""
    params: list[Param] = []
    for name, q in collection.queryables().items():
        if q.type == "geometry" or name in taken:
            continue
        described = f"{q.title}: " if q.title and q.title != name else ""
        params.append(Param(
            name, f"{described}only features whose {name} equals this (queryable as a query "
                  "parameter; booleans: true/false or 1/0; dates: YYYY-MM-DD).",
            type=_QUERYABLE_TYPES.get(q.type, "string"),
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" if q.type == "date" else None,
            enum=q.enum))
    return params


def _queryable_value(name: str, kind: str, raw: str) -> object:
    """One query parameter's value typed as its queryable (a CQL2 JSON literal)."""
    if kind == "boolean":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise BadParameter(f"{name} must be true or false (or 1 or 0); got {raw!r}")
    if kind in ("integer", "number"):
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (kind == "integer" and not number.is_integer()):
            raise BadParameter(f"{name} must be a {'whole ' if kind == 'integer' else ''}"
                               f"number; got {raw!r}")
        return int(number) if number.is_integer() else number
    if kind == "date":
        try:
            return {"date": dt.date.fromisoformat(raw).isoformat()}
        except ValueError:
            raise BadParameter(f"{name} must be a date (YYYY-MM-DD); got {raw!r}") from None
    return raw


def queryables_filter(collection: Collection) -> Compiled | None:
    """The ``name=value`` queryable parameters given, as one compiled filter (AND)."""
    found = collection.queryables()
    terms: list[object] = []
    for param in queryable_params(collection, names(_own_items_params(collection))):
        name, raw = param.name, param.raw()
        if raw is None:
            continue
        q = found[name]
        terms.append({"op": "=", "args": [{"property": name},
                                          _queryable_value(name, q.type, raw)]})
    if not terms:
        return None
    tree = terms[0] if len(terms) == 1 else {"op": "and", "args": terms}
    return compile_filter(json.dumps(tree), "cql2-json", found, prefix="qp")


def both(a: Compiled | None, b: Compiled | None) -> Compiled | None:
    """Two compiled filters that must both hold (their bind names have different prefixes)."""
    if a is None or b is None:
        return a or b
    return Compiled(f"({a.sql}) AND ({b.sql})", {**a.params, **b.params})


def item_params(collection: Collection) -> list[Param]:
    """What ``/collections/{id}/items/{itemId}`` takes."""
    lod = [LOD] if len(collection.lods) > 1 else []
    return [CRS_PARAM, *lod, F_BOUNDARY_ITEMS]


def boundary_items_params() -> list[Param]:
    return [BBOX, BBOX_CRS, CRS_PARAM, DATETIME, REGION, PROVINCE, DISTRICT, FILTER,
            FILTER_LANG, SORTBY, PROPERTIES, LIMIT, OFFSET, CURSOR, LOD, F_BOUNDARY_ITEMS]


def layer_items_params(layer: Filtered) -> list[Param]:
    return [BBOX, BBOX_CRS, CRS_PARAM, DATETIME, REGION, PROVINCE, DISTRICT, SUBDISTRICT,
            *field_params(layer), Q, NEAR, RADIUS, FILTER, FILTER_LANG, SORTBY, PROPERTIES, LIMIT,
            OFFSET, CURSOR, F_ITEMS]


def boundary_item_params() -> list[Param]:
    return [CRS_PARAM, LOD, F_BOUNDARY_ITEMS]


def layer_item_params() -> list[Param]:
    return [CRS_PARAM, F_BOUNDARY_ITEMS]


def cluster_params(layer: Filtered) -> list[Param]:
    return [BBOX, REGION, PROVINCE, DISTRICT, SUBDISTRICT, *field_params(layer), Q, NEAR, RADIUS,
            FILTER, FILTER_LANG, ZOOM]


def crs_param(param: Param = CRS_PARAM, allowed: tuple[str, ...] = CRS_NAMES) -> gcrs.Crs:
    """A CRS parameter: one of ``allowed`` (the collection's ``crs``), as a URI or a short
    form; anything else is a 400 naming the parameter."""
    return crs_named(param.name, param.raw(), allowed)


def crs_named(name: str, raw: str | None, allowed: tuple[str, ...] = CRS_NAMES) -> gcrs.Crs:
    """The CRS ``raw`` names, where ``name`` (a parameter or header) may be one of
    ``allowed``; None is CRS84."""
    if raw is None:
        return gcrs.DEFAULT
    uri = _crs_uri(raw.strip())
    found = gcrs.SUPPORTED.get(uri) if uri in allowed else None
    if found is None:
        raise BadParameter(f"{name} ต้องเป็นหนึ่งใน {', '.join(allowed)} / {name} must be one "
                           f"of {', '.join(allowed)}; got {raw[:200]!r}")
    return found


def _crs_uri(raw: str) -> str:
    """Accepts the short forms clients also send: EPSG:32647, [EPSG:32647], OGC:CRS84."""
    short = raw.strip("[]").upper()
    if short in ("OGC:CRS84", "CRS84"):
        return gcrs.CRS84
    if match := re.fullmatch(r"EPSG:+(?:[0-9.]*:)?([0-9]+)", short):
        return gcrs.epsg(int(match.group(1)))
    return raw


def cursor_param() -> str | None:
    """The key a page starts after: base64url JSON from a next link, checked before use."""
    raw = CURSOR.raw()
    if raw is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadParameter("cursor is not one this API made; take it from a next link") from exc
    if not (isinstance(value, dict) and isinstance(value.get("after"), str)
            and 0 < len(value["after"]) <= 200 and not CONTROL.search(value["after"])):
        raise BadParameter("cursor is not one this API made; take it from a next link")
    return str(value["after"])


def make_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def names(params: list[Param]) -> set[str]:
    return {p.name for p in params}


def sortby_param(queryables: dict[str, Queryable]) -> tuple[tuple[str, bool], ...]:
    """``sortby=+a,-b``: (name, descending) pairs over the queryables (not the geometry)."""
    raw = SORTBY.raw()
    if raw is None:
        return ()
    keys: list[tuple[str, bool]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("+- ")
        if name not in queryables or queryables[name].type == "geometry":
            raise BadParameter(f"sortby: unknown property {name!r}; sortable: "
                               f"{', '.join(sorted(_plain(queryables)))}")
        keys.append((name, descending))
    if len(keys) > 5:
        raise BadParameter("sortby takes at most 5 properties")
    return tuple(keys)


def properties_param(queryables: dict[str, Queryable],
                     extra: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """``properties=a,b``: only these in each feature (queryables and the other outputs)."""
    raw = PROPERTIES.raw()
    if raw is None:
        return None
    allowed = set(_plain(queryables)) | set(extra)
    wanted = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    unknown = [p for p in wanted if p not in allowed]
    if unknown:
        raise BadParameter(f"properties: unknown {', '.join(map(repr, unknown))}; allowed: "
                           f"{', '.join(sorted(allowed))}")
    return wanted


def filter_param(queryables: dict[str, Queryable],
                 crs: gcrs.Crs = gcrs.DEFAULT) -> Compiled | None:
    """The CQL2 filter compiled; its geometry literals are in ``crs`` (``filter-crs``)."""
    raw = FILTER.raw()
    lang = FILTER_LANG.choice() or "cql2-text"
    if lang == "cql-text":  # the draft's name (GDAL 3.6); its comparisons are CQL2 text
        lang = "cql2-text"
    if raw is None:
        return None
    if len(raw) > (FILTER.max_length or 0):
        raise BadParameter(f"filter is at most {FILTER.max_length:,} characters")
    return compile_filter(raw, lang, queryables, crs=crs)


def _plain(queryables: dict[str, Queryable]) -> list[str]:
    return [n for n, q in queryables.items() if q.type != "geometry"]
