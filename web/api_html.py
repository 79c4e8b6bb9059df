"""HTML renderings of the API's resources (OGC API - Features "HTML" conformance class).

The same data as the JSON, for a person with a browser: Thai first, English beside, links between
the resources, and a small map on item pages. Pages extend ``base.html``; the map script
(``static/js/api_map.js``) fetches the JSON twin of the page, so no page embeds features.
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from gis import collections as gc
from web.services import settings


def _render(template: str, **context: object) -> ResponseReturnValue:
    return render_template(f"api/{template}", **context)


def landing(body: dict[str, object]) -> ResponseReturnValue:
    return _render("landing.html", body=body)


def conformance(classes: list[str]) -> ResponseReturnValue:
    return _render("conformance.html", classes=classes)


def collections(body: dict[str, object]) -> ResponseReturnValue:
    return _render("collections.html", body=body)


def collection(doc: dict[str, object], queryables: dict[str, object]) -> ResponseReturnValue:
    return _render("collection.html", doc=doc, queryables=queryables)


def queryables(collection_id: str, doc: dict[str, object],
               heading: tuple[str, str] = ("คุณสมบัติที่ค้นได้", "Queryables"),
               ) -> ResponseReturnValue:
    """A JSON Schema of the collection's properties as a table: the queryables, the sortables
    or the schema (``heading``: Thai, English)."""
    return _render("queryables.html", collection_id=collection_id, queryables=doc,
                   heading=heading, endpoint=request.endpoint)


def _map_config() -> dict[str, str]:
    s = settings()
    return {"tiles": s.tile_url or "", "attribution": s.tile_attribution or ""}


def items(collection_id: str, title: str, features: list[str], matched: int | None,
          links: list[dict[str, str]], sample: bool = False) -> ResponseReturnValue:
    parsed = [json.loads(f) for f in features]
    columns: list[str] = []
    for feature in parsed:
        for key in feature.get("properties") or {}:
            if key not in columns:
                columns.append(key)
    rel = {link["rel"]: link["href"] for link in links}
    return _render("items.html", collection_id=collection_id, title=title, features=parsed,
                   columns=columns, matched=matched, rel=rel, sample=sample,
                   map_src=rel.get("alternate", ""), map_config=_map_config(),
                   downloads=_downloads(collection_id))


_DOWNLOAD_LABELS = (("csv", "CSV"), ("fgb", "FlatGeobuf"), ("gpkg", "GeoPackage"),
                    ("geojsonseq", "GeoJSON-Seq"), ("ndjson", "NDJSON"))


def _downloads(collection_id: str) -> list[tuple[str, str]]:
    """(label, URL) of the whole selection this page shows a page of, in each download format:
    the same filters, without the paging (a download is not paged)."""
    found = gc.collection(collection_id)
    if found is None or not found.points:
        return []
    args: dict[str, Any] = {k: v for k, v in request.args.items()
            if k not in ("f", "limit", "offset", "cursor")}
    ordered = "sortby" in args or "near" in args  # only the CSV keeps those orders
    return [(label, url_for("api.items", collection_id=collection_id, f=f, **args))
            for f, label in _DOWNLOAD_LABELS if f == "csv" or not ordered]


def item(collection_id: str, feature: str, links: list[dict[str, str]]) -> ResponseReturnValue:
    rel = {link["rel"]: link["href"] for link in links}
    return _render("item.html", collection_id=collection_id, feature=json.loads(feature),
                   rel=rel, map_src=rel.get("alternate", ""), map_config=_map_config())


def openapi(doc: dict[str, object]) -> ResponseReturnValue:
    return _render("openapi.html", doc=doc)
