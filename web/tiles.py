"""OGC API - Tiles over every collection: Mapbox Vector Tiles built in PostGIS (gis/tiles.py).

ไทล์เวกเตอร์ตามมาตรฐาน OGC API - Tiles — tile matrix sets, tileset lists and metadata, TileJSON
3.0.0, and the tiles themselves (``application/vnd.mapbox-vector-tile``) with an ETag (a hash of
the content). Two ways to keep a tile, both never stale: asked for plainly it is
``Cache-Control: no-cache`` (a client asks again with If-None-Match and gets 304 while the data
under the tile is unchanged); asked for with the tileset's current version (``?v=``, as the
tile URLs in TileJSON and on the map pages carry it) it is ``immutable`` for a year, since a
write that changes a tile changes the version and so the URLs. The path is
``{z}/{x}/{y}`` (column before row, as TileJSON and most tile clients use). An empty tile is a
200 with an empty body (a valid MVT with no layers), so clients need no special case.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request, send_file, url_for
from flask.typing import ResponseReturnValue

from core.errors import BadParameter, NotFound
from gis import collections as gc
from gis import tiles as gt
from gis.settings import Settings
from web import params as wp
from web.params import Param, accept, code_param, layer_filters, region_param
from web.services import engine, settings

tiles = Blueprint("tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
F_TILE = Param("f", "Output format: mvt (Mapbox Vector Tile), the only one.", enum=("mvt",),
               default="mvt")
F_DOC = Param("f", "Output format: json, the only one.", enum=("json",), default="json")
VERSION = Param(
    "v", "The tileset's version, as the tile URL in TileJSON and the tileset document carries "
    "it (it changes with every write that changes a tile). With the current version the tile "
    "is answered `Cache-Control: public, max-age=31536000, immutable`, so a caching proxy keeps "
    "it without asking again; with any other it is the current tile, revalidated by ETag.",
    pattern=r"^[0-9]{1,19}-[0-9a-f]{10}$", max_length=30, example="42-3fa9c1d20b")
IMMUTABLE = "public, max-age=31536000, immutable"
# Web Mercator: the square the tile matrices cut, and the scale of z=0 (OGC 2D TMS annex).
HALF_WORLD = 20037508.3427892
SCALE_Z0 = 559082264.028717
CELL_Z0 = 156543.033928041
ATTRIBUTION = ("Boundaries: RTSD / OCHA via HDX (CC BY-IGO), names: GeoThai (CC BY 4.0); "
               "layers: Community Development Department")


def _link(href: str, rel: str, type_: str, title: str | None = None, **extra: object,
          ) -> dict[str, object]:
    link: dict[str, object] = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    link.update(extra)
    return link


def tile_matrix_set() -> dict[str, object]:
    """WebMercatorQuad as OGC 2D Tile Matrix Set JSON (TMS 2.0), with TMS 1.0's member names
    beside (``identifier``, ``supportedCRS``, ``topLeftCorner``): GDAL 3.6's OGC API driver
    reads only those and refuses the tiles without them ("Invalid tiling matrix set name")."""
    return {
        "id": TMS_ID,
        "identifier": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "supportedCRS": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "boundingBox": {"lowerLeft": [-HALF_WORLD, -HALF_WORLD],
                        "upperRight": [HALF_WORLD, HALF_WORLD], "crs": CRS_3857},
        "tileMatrices": [
            {"id": str(z), "identifier": str(z), "scaleDenominator": SCALE_Z0 / 2**z,
             "cellSize": CELL_Z0 / 2**z, "cornerOfOrigin": "topLeft",
             "pointOfOrigin": [-HALF_WORLD, HALF_WORLD],
             "topLeftCorner": [-HALF_WORLD, HALF_WORLD],
             "tileWidth": 256, "tileHeight": 256, "matrixWidth": 2**z, "matrixHeight": 2**z}
            for z in range(gt.MAX_ZOOM + 1)
        ],
    }


@tiles.get("/tileMatrixSets")
def tile_matrix_sets() -> ResponseReturnValue:
    accept([F_DOC])
    F_DOC.choice()
    href = url_for("tiles.tile_matrix_set_doc", tms=TMS_ID, _external=True)
    return jsonify(tileMatrixSets=[{
        "id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
        "crs": CRS_3857, "links": [_link(href, REL_TILING_SCHEME, "application/json")]}])


@tiles.get("/tileMatrixSets/<tms>")
def tile_matrix_set_doc(tms: str) -> ResponseReturnValue:
    accept([F_DOC])
    F_DOC.choice()
    _check_tms(tms)
    return jsonify(tile_matrix_set())


def _check_tms(tms: str) -> None:
    if tms != TMS_ID:
        raise NotFound(f"no tile matrix set {tms!r}; this server has {TMS_ID}")


# -- collections -----------------------------------------------------------------------------

def _source(collection_id: str) -> gc.Collection:
    found = gc.collection(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r}; see /api/collections")
    return found


def _title(source: gt.Tileset) -> str:
    if isinstance(source, tuple):
        return "ชั้นข้อมูลกรมการพัฒนาชุมชน / CDD layers"
    return source.title


def _layers_of(source: gt.Tileset) -> list[gc.Collection]:
    return list(source) if isinstance(source, tuple) else [source]


_GRID_NOTE = (f"below zoom {gt.POINTS_FROM_ZOOM}, or where a tile would pass "
              f"{gt.BYTE_BUDGET:,} bytes")
_DIMENSION = {"polygon": 2, "point": 0}
"""OGC API - Tiles ``geometryDimension`` of a collection's geometry type."""


def _fields(item: gc.Collection) -> dict[str, str]:
    """Property names and what they hold, as TileJSON ``vector_layers[].fields`` lists them."""
    return item.tile_fields(_GRID_NOTE)


def _filtered(source: gt.Tileset) -> gc.Collection | None:
    """The collection whose filters the tiles take (the all-layers tileset: none of its
    members' attribute filters, only the areas)."""
    return None if isinstance(source, tuple) else source


_ALL_LEVELS = ("province", "district", "subdistrict")


def tile_params(declared: gt.Source, f: Param = F_TILE) -> list[Param]:
    """The query parameters a tile (or its tileset documents, with ``F_DOC``) takes, as on
    items: the area, and a layer's attribute filters. Declared once: the OpenAPI document is
    made from the same list (``web/openapi.py``)."""
    version = [VERSION] if f is F_TILE else []
    one = _filtered(gt.as_source(declared))
    levels = _ALL_LEVELS if one is None else one.area_levels
    fields = [] if one is None else wp.field_params(one)
    return [wp.REGION, *(wp.AREA_PARAMS[level] for level in levels), *fields, *version, f]


def asked_version() -> str | None:
    """``v`` of a tile request (None without one); 400 naming it when it is not a version."""
    raw = request.args.get("v")
    if raw is None:
        return None
    if not _VERSION_RE.fullmatch(raw):
        raise BadParameter(f"v must be a tile version as the tile URL in TileJSON gives it "
                           f"(e.g. {VERSION.example}); got {raw[:40]!r}")
    return raw


_VERSION_RE = re.compile(VERSION.pattern.strip("^$") if VERSION.pattern else "")


def _filters(source: gt.Tileset, f: Param = F_TILE) -> gt.TileFilters:
    """The tile's filters from the request, after refusing what it does not take."""
    if not request.args or (f is F_TILE and request.args.keys() == {"v"}):
        return gt.TileFilters()  # most tiles: nothing to check or parse
    params = tile_params(source, f)
    accept(params)
    f.choice()  # a wrong f is a 400 naming it
    allowed = wp.names(params)
    codes = {"province": code_param("province", 2), "district": code_param("district", 4),
             "subdistrict": code_param("subdistrict", 6) if "subdistrict" in allowed else None}
    present = [c for c in codes.values() if c]
    for parent, child in itertools.pairwise(present):
        if not child.startswith(parent):
            raise BadParameter(f"{child} is not inside {parent}")
    one = _filtered(source)
    choices, ranges = ({}, {}) if one is None else layer_filters(one)
    return gt.TileFilters(region=region_param(), **codes, choices=choices, ranges=ranges)


def _query(**more: str) -> str:
    """The request's filters (and ``more``), to carry into the links and tile URLs."""
    args = {**{k: v for k, v in request.args.items() if k != "f"}, **more}
    return f"?{urlencode(args)}" if args else ""


def _tile_template(source: gt.Tileset) -> str:
    """The tile URL with the tileset's current version: a client that reads it again after a
    write gets new URLs, so what a proxy kept under the old ones is never shown as current."""
    if isinstance(source, tuple):
        base = url_for("tiles.dataset_tileset", tms=TMS_ID, _external=True)
    else:
        base = url_for("tiles.tileset", collection_id=source.id, tms=TMS_ID, _external=True)
    version = gt.current_version(engine(), source)
    return f"{base}/{{z}}/{{x}}/{{y}}{_query(v=version)}"


def _versioned_doc(doc: dict[str, object]) -> Response:
    """A document that carries tile URLs with a version: asked again every time."""
    response = jsonify(doc)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _tilejson_url(source: gt.Tileset) -> str:
    if isinstance(source, tuple):
        return url_for("tiles.dataset_tilejson", tms=TMS_ID, _external=True) + _query()
    return url_for("tiles.tilejson", collection_id=source.id, tms=TMS_ID,
                   _external=True) + _query()


def _tileset_doc(source: gt.Tileset, self_href: str) -> dict[str, object]:
    template = _tile_template(source)
    bbox = gt.extent(engine(), source)
    doc: dict[str, object] = {
        "title": _title(source),
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            _link(self_href, "self", "application/json"),
            _link(url_for("tiles.tile_matrix_set_doc", tms=TMS_ID, _external=True),
                  REL_TILING_SCHEME, "application/json", "WebMercatorQuad"),
            # The OGC template names; the path order is z/x/y (column, then row).
            _link(template.replace("{z}", "{tileMatrix}").replace("{x}", "{tileCol}")
                  .replace("{y}", "{tileRow}"), "item", MVT, "Mapbox Vector Tile",
                  templated=True),
            _link(_tilejson_url(source), "describedby", "application/json", "TileJSON 3.0.0"),
        ],
        "layers": [{
            "id": item.id, "title": _title(item), "dataType": "vector",
            "geometryDimension": _DIMENSION[item.geometry_type],
            "minTileMatrix": "0", "maxTileMatrix": str(gt.MAX_ZOOM),
            "propertiesSchema": {"type": "object", "properties": {
                name: {"description": what} for name, what in _fields(item).items()}},
        } for item in _layers_of(source)],
    }
    if bbox:
        doc["boundingBox"] = {"lowerLeft": bbox[:2], "upperRight": bbox[2:],
                              "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    return doc


@tiles.get("/collections/<collection_id>/tiles")
def tilesets(collection_id: str) -> ResponseReturnValue:
    source = _source(collection_id)
    _filters(source, F_DOC)
    href = url_for("tiles.tileset", collection_id=collection_id, tms=TMS_ID,
                   _external=True) + _query()
    return jsonify(tilesets=[{
        "title": _title(source), "dataType": "vector", "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [_link(href, "self", "application/json"),
                  _link(url_for("tiles.tile_matrix_set_doc", tms=TMS_ID, _external=True),
                        REL_TILING_SCHEME, "application/json")],
    }], links=[_link(request.url, "self", "application/json")])


@tiles.get("/collections/<collection_id>/tiles/<tms>")
def tileset(collection_id: str, tms: str) -> ResponseReturnValue:
    source = _source(collection_id)
    _check_tms(tms)
    _filters(source, F_DOC)
    return _versioned_doc(_tileset_doc(source, request.url))


def _tilejson(source: gt.Tileset) -> dict[str, object]:
    bbox = gt.extent(engine(), source) or [97.34, 5.61, 105.64, 20.47]
    center = [round((bbox[0] + bbox[2]) / 2, 5), round((bbox[1] + bbox[3]) / 2, 5), 6]
    return {
        "tilejson": "3.0.0",
        "name": _title(source),
        "scheme": "xyz",
        "tiles": [_tile_template(source)],
        "minzoom": 0,
        "maxzoom": gt.MAX_ZOOM,
        "bounds": bbox,
        "center": center,
        "attribution": ATTRIBUTION,
        "vector_layers": [{
            "id": item.id, "description": _title(item), "minzoom": 0,
            "maxzoom": gt.MAX_ZOOM, "fields": _fields(item)} for item in _layers_of(source)],
    }


@tiles.get("/collections/<collection_id>/tiles/<tms>/tilejson.json")
def tilejson(collection_id: str, tms: str) -> ResponseReturnValue:
    source = _source(collection_id)
    _check_tms(tms)
    _filters(source, F_DOC)
    return _versioned_doc(_tilejson(source))


# -- tiles -----------------------------------------------------------------------------------

_INDEX = re.compile(r"[0-9]{1,10}")


def _index(name: str, raw: str) -> int:
    if not _INDEX.fullmatch(raw):
        raise BadParameter(f"{name} must be a whole number of 0 or more; got {raw!r}")
    return int(raw)


def tile_address(z_raw: str, x_raw: str, y_raw: str) -> tuple[int, int, int]:
    """z/x/y of a request: 400 naming the part that is not a tile index, 404 outside the
    matrix (a ``.mvt`` or ``.pbf`` ending is allowed on y)."""
    y_raw = re.sub(r"\.(mvt|pbf)$", "", y_raw)
    z = _index("z (tile matrix)", z_raw)
    if z > gt.MAX_ZOOM:
        raise BadParameter(f"z (tile matrix) must be between 0 and {gt.MAX_ZOOM}; got {z}")
    x, y = _index("x (tile column)", x_raw), _index("y (tile row)", y_raw)
    size = 2**z
    if x >= size or y >= size:
        raise NotFound(f"tile {z}/{x}/{y} is outside the tile matrix: at z={z}, x and y run "
                       f"from 0 to {size - 1}")
    return z, x, y


def _mvt_response(tile: gt.Tile, version: str | None) -> Response:
    """The tile with its ETag, or 304 when the client's copy is still the current one; kept a
    year when asked for with the tileset's current version (the URL then names the data)."""
    headers = {"ETag": f'"{tile.etag}"',
               "Cache-Control": IMMUTABLE if version == tile.version else "no-cache",
               "X-Tile-Cache": "hit" if tile.cached else "miss"}
    # Weak comparison, as If-None-Match asks: a proxy that gzips the tile (nginx in the
    # production profile) makes its ETag weak, and the client sends it back that way.
    if request.if_none_match.contains_weak(tile.etag):
        return Response(status=304, headers=headers)
    return Response(tile.data, mimetype=MVT, headers=headers)


@cache
def _cache_budget(settings: Settings) -> gt.CacheBudget:
    """The tile cache's budget from the app's settings (made once, not per tile)."""
    return gt.CacheBudget(total_bytes=settings.tile_cache_mb * 2**20,
                          filtered_bytes=settings.tile_cache_filtered_mb * 2**20)


def _tile_response(source: gt.Tileset, z_raw: str, x_raw: str, y_raw: str) -> Response:
    z, x, y = tile_address(z_raw, x_raw, y_raw)
    filters, version = _filters(source), asked_version()
    return _mvt_response(gt.get_tile(engine(), source, filters, z, x, y,
                                     _cache_budget(settings())), version)


@tiles.get("/collections/<collection_id>/tiles/<tms>/<z>/<x>/<y>")
def tile(collection_id: str, tms: str, z: str, x: str, y: str) -> ResponseReturnValue:
    source = _source(collection_id)
    _check_tms(tms)
    return _tile_response(source, z, x, y)


# -- every point layer in one tileset --------------------------------------------------------

def _all_layers() -> tuple[gc.Collection, ...]:
    return gc.point_layers()


@tiles.get("/tiles")
def dataset_tilesets() -> ResponseReturnValue:
    accept([F_DOC])
    F_DOC.choice()
    href = url_for("tiles.dataset_tileset", tms=TMS_ID, _external=True)
    return jsonify(tilesets=[{
        "title": _title(_all_layers()), "dataType": "vector", "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": [_link(href, "self", "application/json"),
                  _link(url_for("tiles.tile_matrix_set_doc", tms=TMS_ID, _external=True),
                        REL_TILING_SCHEME, "application/json", "WebMercatorQuad")]}],
        links=[_link(request.url, "self", "application/json")])


@tiles.get("/tiles/<tms>")
def dataset_tileset(tms: str) -> ResponseReturnValue:
    _check_tms(tms)
    _filters(_all_layers(), F_DOC)
    return _versioned_doc(_tileset_doc(_all_layers(), request.url))


@tiles.get("/tiles/<tms>/tilejson.json")
def dataset_tilejson(tms: str) -> ResponseReturnValue:
    _check_tms(tms)
    _filters(_all_layers(), F_DOC)
    return _versioned_doc(_tilejson(_all_layers()))


@tiles.get("/tiles/<tms>/<z>/<x>/<y>")
def dataset_tile(tms: str, z: str, x: str, y: str) -> ResponseReturnValue:
    _check_tms(tms)
    return _tile_response(_all_layers(), z, x, y)



# -- the basemap (needs no internet) ---------------------------------------------------------

BASEMAP_ATTRIBUTION = ("Boundaries: RTSD / OCHA via HDX (CC BY-IGO), names: GeoThai (CC BY 4.0), "
                       "villages: TH_VILLAGE2012")


@tiles.get("/basemap/tiles/<tms>/tilejson.json")
def basemap_tilejson(tms: str) -> ResponseReturnValue:
    """TileJSON of the basemap drawn from cddgis's own data (lines, names, villages)."""
    _check_tms(tms)
    accept([])
    base = url_for("tiles.basemap_tile", tms=TMS_ID, z=0, x=0, y=0, _external=True)
    version = gt.current_version(engine(), gt.BASEMAP)
    template = base.removesuffix("/0/0/0") + f"/{{z}}/{{x}}/{{y}}?v={version}"
    layers = [("provinces", 0), ("districts", gt.BASEMAP_DISTRICTS_FROM),
              ("subdistricts", gt.BASEMAP_SUBDISTRICTS_FROM), ("labels", 4),
              ("villages", gt.BASEMAP_VILLAGES_FROM)]
    return _versioned_doc({
        "tilejson": "3.0.0", "name": "cddgis basemap / แผนที่ฐาน cddgis", "scheme": "xyz",
        "tiles": [template], "minzoom": 0, "maxzoom": gt.MAX_ZOOM,
        "bounds": [97.34, 5.61, 105.64, 20.47], "center": [100.5, 13.5, 6],
        "attribution": BASEMAP_ATTRIBUTION,
        "vector_layers": [{"id": name, "minzoom": first, "maxzoom": gt.MAX_ZOOM, "fields": {}}
                          for name, first in layers],
    })


@tiles.get("/basemap/tiles/<tms>/<z>/<x>/<y>")
def basemap_tile(tms: str, z: str, x: str, y: str) -> ResponseReturnValue:
    """A basemap tile: boundary lines by zoom (from the cached collection tiles), area names
    as label points, village names zoomed in."""
    _check_tms(tms)
    accept([VERSION])
    zi, xi, yi = tile_address(z, x, y)
    version = asked_version()
    return _mvt_response(gt.get_basemap_tile(engine(), zi, xi, yi), version)


@tiles.get("/basemap/basemap.pmtiles")
def basemap_pmtiles() -> ResponseReturnValue:
    """The operator's PMTiles basemap (``CDDGIS_TILES=pmtiles:/path``), with range requests:
    the map reads only the directory and the tiles it shows. (The path ends in ``.pmtiles``:
    that is how the renderer tells a PMTiles file from a z/x/y template.)"""
    path = settings().basemap_pmtiles
    if path is None or not path.is_file():
        raise NotFound("no PMTiles basemap here; set CDDGIS_TILES=pmtiles:/path/to/file.pmtiles")
    response = send_file(path, mimetype="application/vnd.pmtiles", conditional=True,
                         etag=True, max_age=0)
    # Not kept by the browser: Chrome answers a later range request from a cached whole-file
    # 200 (a small file's first read), which the PMTiles reader must refuse. The reader keeps
    # its own cache of what it has read.
    response.headers["Cache-Control"] = "no-store"
    return response
