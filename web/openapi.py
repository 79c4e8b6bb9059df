"""The OpenAPI 3.0 document of /api, generated from the parameter declarations the views parse
with (``web/params.py``, ``web/indicators_api.py``): a parameter cannot be accepted without being
documented, nor documented without being accepted (``tests/test_openapi.py`` checks both).

Each collection gets its own paths (as pygeoapi does) so that its own parameters — a layer's
attribute filters — and limits are exact; a client can read ``limit``'s maximum here to choose
large pages (GDAL 3.6 does not yet: it asks for pages of 10, which keyset paging keeps
cheap).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for

from core import __version__
from gis import collections as gc
from gis import summary as gs
from layers.definitions import LAYERS
from web import dashboard, dashboard_compare
from web import indicators_api as ia
from web import params as wp
from web import tiles as wt
from web.downloads import MEDIA_TYPES as DOWNLOAD_TYPES
from web.params import Param

JSON = "application/json"
GEOJSON = "application/geo+json"

_EXCEPTION = {"type": "object", "required": ["code"],
              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}
_FEATURES = {"type": "object", "required": ["type", "features"],
             "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                            "numberMatched": {"type": "integer", "minimum": 0},
                            "numberReturned": {"type": "integer", "minimum": 0},
                            "links": {"type": "array", "items": {"type": "object"}}}}
_OBJECT: dict[str, object] = {"type": "object"}


SHARED: dict[str, Param] = {"limit": wp.LIMIT, "bbox": wp.BBOX, "datetime": wp.DATETIME}
"""Part 1 Core's parameters, declared once in ``components/parameters`` and named by ``$ref``
from every items path, as the standard's own OpenAPI templates do: QGIS 3.22 reads ``limit``'s
maximum there only (else it pages by 100)."""


def _responses(content: dict[str, dict[str, object]], *, not_found: bool = True,
               ) -> dict[str, object]:
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
    responses: dict[str, object] = {
        "200": {"description": "OK", "content": content},
        "400": {"description": "A parameter is wrong; the description says how.", **error},
        "503": {"description": "The database is unavailable.", **error},
        "504": {"description": "The request took longer than the statement timeout.", **error},
    }
    if not_found:
        responses["404"] = {"description": "Not found.", **error}
    return responses


def _op(operation_id: str, summary: str, params: list[Param],
        content: dict[str, dict[str, object]], *, tags: list[str],
        path_params: list[dict[str, object]] | None = None,
        description: str = "", required: tuple[str, ...] = ()) -> dict[str, object]:
    parameters = list(path_params or [])
    for p in params:
        shared = next((name for name, c in SHARED.items() if c is p), None)
        if shared is not None:
            parameters.append({"$ref": f"#/components/parameters/{shared}"})
            continue
        doc = p.openapi()
        if p.name in required:
            doc["required"] = True
        parameters.append(doc)
    op: dict[str, object] = {"operationId": operation_id, "summary": summary, "tags": tags,
                             "parameters": parameters, "responses": _responses(content)}
    if description:
        op["description"] = description
    return {"get": op}


def _html_or(kind: str, schema: dict[str, object] = _OBJECT) -> dict[str, dict[str, object]]:
    return {kind: {"schema": schema}, "text/html": {"schema": {"type": "string"}}}


def _id_param(name: str, description: str, pattern: str | None = None) -> dict[str, object]:
    schema: dict[str, object] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


_TMS = _id_param("tileMatrixSetId", "Tile matrix set", f"^{wt.TMS_ID}$")
_TILE_ADDRESS = [
    {"name": "tileMatrix", "in": "path", "required": True, "description": "Zoom level (z)",
     "schema": {"type": "integer", "minimum": 0, "maximum": wt.gt.MAX_ZOOM}},
    {"name": "tileCol", "in": "path", "required": True, "description": "Tile column (x)",
     "schema": {"type": "integer", "minimum": 0}},
    {"name": "tileRow", "in": "path", "required": True, "description": "Tile row (y)",
     "schema": {"type": "integer", "minimum": 0}},
]


def _add_tiles(add: Callable[[str, list[Param], dict[str, object]], None], base: str,
               prefix: str, title: str, source: wt.gt.Source, tags: list[str]) -> None:
    """A collection's (or the dataset's) tilesets list, tileset, TileJSON and tiles."""
    doc, tile = wt.tile_params(source, wt.F_DOC), wt.tile_params(source)
    json_: dict[str, dict[str, object]] = {JSON: {"schema": _OBJECT}}
    if base:  # the dataset's tilesets list is added with the other capabilities
        add(f"{base}/tiles", doc, _op(f"{prefix}tilesets", f"{title}: vector tilesets", doc,
                                      json_, tags=tags))
    else:
        add("/tiles", [wt.F_DOC], _op(f"{prefix}tilesets", f"{title}: vector tilesets",
                                      [wt.F_DOC], json_, tags=tags))
    add(f"{base}/tiles/{{tileMatrixSetId}}", doc, _op(
        f"{prefix}tileset", f"{title}: tileset metadata", doc, json_, tags=tags,
        path_params=[_TMS]))
    add(f"{base}/tiles/{{tileMatrixSetId}}/tilejson.json", doc, _op(
        f"{prefix}tilejson", f"{title}: TileJSON 3.0.0", doc, json_, tags=tags,
        path_params=[_TMS]))
    add(f"{base}/tiles/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}", tile, _op(
        f"{prefix}tile", f"{title}: one Mapbox Vector Tile", tile,
        {wt.MVT: {"schema": {"type": "string", "format": "binary"}}}, tags=tags,
        path_params=[_TMS, *_TILE_ADDRESS],
        description="ETag is a hash of the content; ask again with If-None-Match for a 304 "
                    "while the data under the tile is unchanged. With `v` (the tileset's "
                    "current version, as TileJSON's tile URL carries it) the tile may be kept "
                    "a year: a write that changes a tile changes the version."))


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_FEATURE_IN: dict[str, object] = {"type": "object", "required": ["type", "geometry", "properties"],
               "properties": {"type": {"type": "string", "enum": ["Feature"]},
                              "geometry": {"type": "object"},
                              "properties": {"type": "object"}}}


def _write_responses(*codes: str) -> dict[str, object]:
    """The answers of a Part 4 write, in the OGC exception JSON unless a feature."""
    error: dict[str, object] = {
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
    said: dict[str, tuple[str, dict[str, object]]] = {
        "200": ("The feature as now published (ETag: its new version)",
                {"content": {GEOJSON: {"schema": _OBJECT}}}),
        "201": ("Created: Location of the feature, ETag \"1\"",
                {"content": {GEOJSON: {"schema": _OBJECT}}}),
        "202": ("Waiting for review: Location of the change (/changes/{changeId})",
                {"content": {JSON: {"schema": _OBJECT}}}),
        "204": ("Retired", {}),
        "400": ("Not JSON, or a wrong parameter", error),
        "401": ("No valid bearer token", error),
        "403": ("Outside the account's layers or provinces (the message names them)", error),
        "404": ("No such collection or feature", error),
        "405": ("Boundary collections are read-only", error),
        "409": ("The feature is retired or has a change waiting for review", error),
        "412": ("If-Match names an older version: someone changed the feature first", error),
        "413": ("Larger than the upload limit (CDDGIS_MAX_UPLOAD_MB)", error),
        "415": ("Content-Type or file type not accepted", error),
        "422": ("Invalid for the layer: `problems` lists every reason (Thai and English)",
                error),
        "428": ("If-Match is missing", error),
    }
    return {code: {"description": said[code][0], **said[code][1]} for code in codes}


def _write_op(operation_id: str, summary: str, tags: list[str], responses: tuple[str, ...], *,
              path_params: list[dict[str, object]] | None = None,
              body: dict[str, object] | None = None, if_match: bool = False,
              description: str = "") -> dict[str, object]:
    parameters: list[dict[str, object]] = list(path_params or [])
    if if_match:
        parameters.append({"name": "If-Match", "in": "header", "required": True,
                           "description": "The ETag a GET of the feature gave, e.g. \"3\"",
                           "schema": {"type": "string"}})
    op: dict[str, object] = {"operationId": operation_id, "summary": summary, "tags": tags,
                             "parameters": parameters, "security": _BEARER,
                             "responses": _write_responses(*responses)}
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if description:
        op["description"] = description
    return op


_JOB: dict[str, object] = {
    "type": "object", "required": ["jobID", "status", "links"],
    "properties": {
        "jobID": {"type": "string"},
        "status": {"type": "string",
                   "enum": ["accepted", "running", "successful", "failed", "dismissed"]},
        "progress": {"type": "integer", "nullable": True, "minimum": 0, "maximum": 100},
        "message": {"type": "string", "nullable": True},
        "rows_done": {"type": "integer"},
        "rows_estimate": {"type": "integer", "nullable": True},
        "report": _OBJECT, "report_status": {"type": "integer", "enum": [200, 202, 422]},
        "links": {"type": "array", "items": _OBJECT}}}


def _import_op(op: dict[str, object]) -> dict[str, object]:
    """A bulk import's own answers: 202 is also a job (large files), 429 a full queue."""
    responses = op["responses"]
    assert isinstance(responses, dict)
    responses["202"] = {
        "description": "Rows wait for review (the report), or the file became a job: "
                       "Location /jobs/{jobId}, the body its status",
        "headers": {"Location": {"schema": {"type": "string"},
                                 "description": "The job to poll (/jobs/{jobId})"}},
        "content": {JSON: {"schema": _OBJECT}}}
    responses["429"] = {
        "description": "The account has CDDGIS_IMPORT_QUEUE_PER_ACCOUNT imports waiting",
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
    return op


def _add_writes(ops: dict[str, tuple[list[Param], dict[str, object]]]) -> None:
    """OGC API - Features Part 4 on every point layer, its bulk import, and the changes it
    answers with (``web/api_write.py``)."""
    feature_in: dict[str, object] = {GEOJSON: {"schema": _FEATURE_IN},
                                     JSON: {"schema": _FEATURE_IN}}
    merge: dict[str, object] = {**feature_in, "application/merge-patch+json": {"schema": _OBJECT}}
    for layer in LAYERS.values():
        name, tag = layer.id.replace("-", "_"), [layer.id]
        base = f"/collections/{layer.id}/items"
        fid = _id_param("featureId", f"{layer.key_field} (the layer's natural key)")
        ops[base][1]["post"] = _write_op(
            f"create_{name}", "Add a feature (Part 4)", tag,
            ("201", "202", "400", "401", "403", "409", "415", "422"), body=feature_in)
        item = ops[f"{base}/{{featureId}}"][1]
        item["put"] = _write_op(
            f"replace_{name}", "Replace a feature's public fields and point (Part 4)", tag,
            ("200", "202", "400", "401", "403", "404", "409", "412", "415", "422", "428"),
            path_params=[fid], body=feature_in, if_match=True,
            description="A public field left out is cleared; personal fields change only "
                        "when sent (with the personal-data right).")
        item["patch"] = _write_op(
            f"update_{name}", "Change some fields, or move the point (Part 4)", tag,
            ("200", "202", "400", "401", "403", "404", "409", "412", "415", "422", "428"),
            path_params=[fid], body=merge, if_match=True,
            description="Properties sent replace those stored (null clears one); a geometry "
                        "moves the point and its province/district/subdistrict are derived "
                        "again.")
        item["delete"] = _write_op(
            f"retire_{name}", "Retire a feature (Part 4; restorable in the workspace)", tag,
            ("202", "204", "401", "403", "404", "409", "412", "428"), path_params=[fid],
            if_match=True)
        ops[f"/collections/{layer.id}/imports"] = ([], {"post": _import_op(_write_op(
            f"import_{name}", "Bulk import a file: the importer's report", tag,
            ("200", "202", "400", "401", "403", "413", "415", "422"),
            body={"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "mode": {"type": "string",
                                        "enum": ["dry-run", "all", "valid-only"]}}}}},
            description="mode=dry-run (default) checks and reports; all commits all or "
                        "nothing; valid-only commits the rows without errors. Rows outside "
                        "the account's provinces are errors naming the province. A file over "
                        "CDDGIS_IMPORT_SYNC_MAX_KB (or `Prefer: respond-async`) is imported "
                        "as a job: 202 with Location /jobs/{jobId}."))})
    ops["/jobs/{jobId}"] = ([], {"get": _write_op(
        "importJob", "An import job the API started: status, progress, and its report",
        ["Changes"], ("401", "404"),
        path_params=[{"name": "jobId", "in": "path", "required": True,
                      "description": "Job id (the Location of a 202 from …/imports)",
                      "schema": {"type": "integer"}}],
        description="For the job's owner (or an administrator); 404 for anyone else. "
                    "status: accepted, running, successful, failed or dismissed (OGC API - "
                    "Processes). Once successful, report is the body the import answers "
                    "with when it runs in the request, and report_status its HTTP status.")})
    ops["/jobs/{jobId}"][1]["get"]["responses"]["200"] = {  # type: ignore[index]
        "description": "The job (OGC API - Processes statusInfo, plus the import's report)",
        "content": {JSON: {"schema": _JOB}}}
    ops["/changes/{changeId}"] = ([], {"get": _write_op(
        "change", "One change (e.g. one waiting for review)", ["Changes"],
        ("200", "401", "403", "404"),
        path_params=[{"name": "changeId", "in": "path", "required": True,
                      "description": "Change id", "schema": {"type": "integer"}}])})


def operations() -> dict[str, tuple[list[Param], dict[str, object]]]:
    """Every path with the parameters its view accepts, and its OpenAPI path item."""
    ops: dict[str, tuple[list[Param], dict[str, object]]] = {}

    def add(path: str, params: list[Param], item: dict[str, object]) -> None:
        ops[path] = (params, item)

    f = [wp.F_JSON]
    add("/", f, _op("getLandingPage", "Landing page / หน้าแรก", f, _html_or(JSON),
                    tags=["Capabilities"]))
    add("/conformance", f, _op("getConformance", "Conformance classes", f, _html_or(JSON),
                               tags=["Capabilities"]))
    add("/collections", f, _op("getCollections", "Collections / ชุดข้อมูล", f, _html_or(JSON),
                               tags=["Capabilities"]))
    add("/openapi", f, _op("getOpenAPI", "This API definition (OpenAPI 3.0)", f,
                           _html_or("application/vnd.oai.openapi+json;version=3.0"),
                           tags=["Capabilities"]))
    for c in gc.collections():
        cid, title, tag = c.id, c.title, [c.id]
        items_params, item_params = wp.items_params(c), wp.item_params(c)
        feature_id = _id_param("featureId", c.id_description, c.id_pattern)
        base = f"/collections/{cid}"
        name = cid.replace("-", "_")
        add(base, f, _op(f"describe_{name}", f"{title}: metadata", f, _html_or(JSON),
                         tags=tag))
        add(f"{base}/queryables", f, _op(
            f"queryables_{name}", f"{title}: queryables (JSON Schema)", f,
            _html_or("application/schema+json"), tags=tag))
        add(f"{base}/sortables", f, _op(
            f"sortables_{name}", f"{title}: sortables, what sortby may name (JSON Schema)", f,
            _html_or("application/schema+json"), tags=tag))
        add(f"{base}/schema", f, _op(
            f"schema_{name}", f"{title}: schema of the features' properties, in order, with "
            "their roles (JSON Schema, Part 5)", f,
            _html_or("application/schema+json"), tags=tag))
        content = _html_or(GEOJSON, {"$ref": "#/components/schemas/featureCollection"})
        if c.points:
            content["text/csv"] = {"schema": {"type": "string"}}
            content.update({media: {"schema": {"type": "string", "format": "binary"}}
                            for media in DOWNLOAD_TYPES.values()})
        add(f"{base}/items", items_params, _op(
            f"items_{name}", f"{title}: features", items_params, content, tags=tag,
            description="Paged by key: follow the next link (it carries a cursor) and every "
                        "page costs the same. numberMatched is omitted when counting would "
                        "cost more than a page."))
        add(f"{base}/items/{{featureId}}", item_params, _op(
            f"item_{name}", f"{title}: one feature", item_params, _html_or(GEOJSON), tags=tag,
            path_params=[feature_id]))
        _add_tiles(add, base, f"{name}_", title, c, tag)
        if c.points:
            cluster = wp.cluster_params(c)
            add(f"{base}/clusters", cluster, _op(
                f"clusters_{name}", f"{title}: points gathered on a grid (cddgis extension)",
                cluster, {JSON: {"schema": _OBJECT}}, tags=tag))
    _add_writes(ops)
    # The generic items path, with the parameters every collection accepts: clients that look
    # here rather than at a collection's own path find the same limits.
    shared = [p for p in wp.boundary_items_params()
              if all(p.name in wp.names(wp.layer_items_params(layer))
                     for layer in LAYERS.values())]
    add("/collections/{collectionId}/items", shared, _op(
        "items", "Features of any collection (see each collection's own path for all its "
        "parameters)", shared,
        _html_or(GEOJSON, {"$ref": "#/components/schemas/featureCollection"}), tags=["Data"],
        path_params=[_id_param("collectionId", "Collection id")]))
    doc = [wt.F_DOC]
    add("/tileMatrixSets", doc, _op("getTileMatrixSets", "Tile matrix sets (OGC API - Tiles)",
                                    doc, {JSON: {"schema": _OBJECT}}, tags=["Tiles"]))
    add("/tileMatrixSets/{tileMatrixSetId}", doc, _op(
        "getTileMatrixSet", "One tile matrix set (OGC 2D TMS JSON)", doc,
        {JSON: {"schema": _OBJECT}}, tags=["Tiles"], path_params=[_TMS]))
    _add_tiles(add, "", "dataset_", "Every CDD point layer in one tileset",
               tuple(LAYERS.values()), ["Tiles"])
    json_: dict[str, dict[str, object]] = {JSON: {"schema": _OBJECT}}
    add("/basemap/tiles/{tileMatrixSetId}/tilejson.json", [], _op(
        "basemapTilejson", "The offline basemap from cddgis's own data: TileJSON", [], json_,
        tags=["Tiles"], path_params=[_TMS]))
    add("/basemap/tiles/{tileMatrixSetId}/{tileMatrix}/{tileCol}/{tileRow}", [wt.VERSION], _op(
        "basemapTile", "The offline basemap: boundary lines, area and village names (MVT)",
        [wt.VERSION],
        {wt.MVT: {"schema": {"type": "string", "format": "binary"}}}, tags=["Tiles"],
        path_params=[_TMS, *_TILE_ADDRESS]))
    summary = dashboard.SUMMARY_PARAMS
    add("/areas/{level}/{code}/summary", summary, _op(
        "areaSummary", "Everything cddgis knows about one area (the dashboard's numbers)",
        summary, {JSON: {"schema": _OBJECT}, "text/csv": {"schema": {"type": "string"}},
                  dashboard.XLSX: {"schema": {"type": "string", "format": "binary"}}},
        tags=["Extensions"], path_params=[
            {"name": "level", "in": "path", "required": True, "description": "Area level",
             "schema": {"type": "string", "enum": list(gs.LEVELS)}},
            _id_param("code", "DOPA code of the area (TH for the country; a region is "
                      "central, north, northeast or south; a village is its subdistrict code "
                      "and หมู่ที่, e.g. 50010103)",
                      "^(TH|central|north|northeast|south|[0-9]{2,8})$")]))
    compare = dashboard_compare.COMPARE_PARAMS
    add("/areas/compare", compare, _op(
        "areasCompared", "Up to four areas side by side (the comparison page's numbers)",
        compare, {JSON: {"schema": _OBJECT}}, tags=["Extensions"], required=("areas",)))
    places = [wp.PLACE_Q, wp.PLACE_LIMIT, wp.PLACE_WITHIN]
    add("/places", places, _op("places", "Find a place by name (cddgis extension)", places,
                               {JSON: {"schema": _OBJECT}}, tags=["Extensions"],
                               required=("q",)))
    add("/health", [], _op("health", "Database status", [], {JSON: {"schema": _OBJECT}},
                           tags=["Capabilities"]))
    add("/indicators", ia.CATALOGUE_PARAMS, _op(
        "indicators", "Indicator catalogue (cddgis extension)", ia.CATALOGUE_PARAMS,
        {JSON: {"schema": _OBJECT}}, tags=["Indicators"]))
    add("/indicators/{indicatorId}/values", ia.VALUES_PARAMS, _op(
        "indicatorValues", "Indicator values per area, optionally classified",
        ia.VALUES_PARAMS, {JSON: {"schema": _OBJECT}, "text/csv": {"schema": {"type": "string"}}},
        tags=["Indicators"],
        path_params=[_id_param("indicatorId", "Indicator id (see /indicators)")]))
    add("/choropleth/areas", ia.AREAS_PARAMS, _op(
        "choroplethAreas", "Display geometry of a level's areas", ia.AREAS_PARAMS,
        {GEOJSON: {"schema": _OBJECT}}, tags=["Indicators"]))
    return ops


def document() -> dict[str, object]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cddgis API",
            "version": __version__,
            "description": ("ขอบเขตการปกครองและชั้นข้อมูลของกรมการพัฒนาชุมชน — Thailand's admin "
                            "boundaries and CDD's point layers as OGC API - Features (Parts 1, "
                            "2, 3 and 4), with cddgis extensions (near, radius_km, q, clusters, "
                            "places, indicators)."),
            "license": {"name": "MIT (code); data licences per collection"},
        },
        "servers": [{"url": url_for("api.landing", _external=True).rstrip("/")}],
        "paths": {path: item for path, (_, item) in operations().items()},
        "components": {"schemas": {"exception": _EXCEPTION, "featureCollection": _FEATURES},
                       "parameters": {name: p.openapi() for name, p in SHARED.items()},
                       "securitySchemes": {"bearer": {
                           "type": "http", "scheme": "bearer",
                           "description": "An API token from `cddgis users token NAME`"}}},
    }
