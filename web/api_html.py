"""HTML renderings of the API's resources (OGC API - Features "HTML" conformance class).

The same data as the JSON, for a person with a browser: Thai first, English beside, links between
the resources, and a small map on item pages. Pages extend ``base.html``; the map script
(``static/js/api_map.js``) fetches the JSON twin of the page, so no page embeds features.
"""

from __future__ import annotations

import json

from flask import render_template
from flask.typing import ResponseReturnValue

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


def queryables(collection_id: str, doc: dict[str, object]) -> ResponseReturnValue:
    return _render("queryables.html", collection_id=collection_id, queryables=doc)


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
                   map_src=rel.get("alternate", ""), map_config=_map_config())


def item(collection_id: str, feature: str, links: list[dict[str, str]]) -> ResponseReturnValue:
    rel = {link["rel"]: link["href"] for link in links}
    return _render("item.html", collection_id=collection_id, feature=json.loads(feature),
                   rel=rel, map_src=rel.get("alternate", ""), map_config=_map_config())


def openapi(doc: dict[str, object]) -> ResponseReturnValue:
    return _render("openapi.html", doc=doc)
