"""Pages for tourists (GIS tour from home) and for staff (learning-center locator).

Which layers they show comes from the declarations (``Layer.roles``): the layer with the "tour"
role is the tour's, those with "locator" are the locator's choices.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from gis import layer_queries as lq
from layers.definitions import LAYERS, Layer  # Layer via definitions: schema.py is moving
from web import engine, settings
from web.choices import area_choices
from web.maps import base_map, fit_bounds, render

tour = Blueprint("tour", __name__)
NEIGHBOURS = 5


def layers_with_role(role: str) -> list[Layer]:
    """The declared layers that play ``role``, in declaration order."""
    found = [layer for layer in LAYERS.values() if role in layer.roles]
    if not found:
        raise LookupError(f"no layer in layers/definitions.py has the role {role!r}")
    return found


def tour_layer() -> Layer:
    """The one layer the GIS tour shows."""
    layers = layers_with_role("tour")
    if len(layers) > 1:
        raise LookupError(f"more than one layer has the role 'tour': {[x.id for x in layers]}")
    return layers[0]


def script_config(layer: Layer) -> dict[str, object]:
    """What a page script may know of a layer: its id, titles and public fields (never the
    personal ones)."""
    return {"id": layer.id, "title_th": layer.title_th, "title_en": layer.title_en,
            "color": layer.color, "name_field": layer.name_field,
            "fields": {f.name: {"label_th": f.label_th, "label_en": f.label_en, "type": f.type,
                                "filter": f.filter}
                       for f in layer.public_fields}}


def only_filters(layer: Layer) -> list[dict[str, str]]:
    """The "only …" check boxes the locator offers: the layer's public yes/no choice filters."""
    return [{"name": f.name, "label_th": f.label_th, "label_en": f.label_en}
            for f in layer.filter_fields if f.type == "bool" and f.filter == "choice"]


@tour.get("/tour")
def tour_index() -> ResponseReturnValue:
    layer = tour_layer()
    fmap = render(base_map(settings()))
    summary = lq.layer_summary(engine()).get(layer.id, {})
    return render_template("tour.html", fmap=fmap, layer=script_config(layer),
                           product_types=layer.field("product_type").choices,
                           sample=summary.get("sample", False), **area_choices())


@tour.get("/tour/<village_id>")
def tour_village(village_id: str) -> ResponseReturnValue:
    villages = tour_layer()
    raw = lq.get_feature(engine(), villages, village_id)
    if raw is None:
        abort(404, description=f"ไม่พบชุมชน {village_id!r} — no tourism village {village_id!r}")
    village = json.loads(raw)
    lon, lat = village["geometry"]["coordinates"]
    page = lq.query_features(engine(), villages, lq.LayerQuery(
        near=(lon, lat), exclude=village_id, limit=NEIGHBOURS), count=False)
    neighbours = [json.loads(f) for f in page.features]
    fmap = base_map(settings())
    fmap.location = [lat, lon]
    # The markers are drawn by tour_village.js from the page config (JSON, tooltips as text):
    # Folium would paste the names into its inline script, where `${…}` or <img onerror> runs.
    markers = {"village": _marker(village), "neighbours": [_marker(f) for f in neighbours],
               "color": villages.color}
    points = [[lat, lon]] + [[f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]]
                             for f in neighbours[:2]]
    fit_bounds(fmap, points, padding=(30, 30), max_zoom=13)
    product = {c.value: c for c in villages.field("product_type").choices}.get(
        village["properties"].get("product_type"))
    return render_template("tour_village.html", village=village, props=village["properties"],
                           sample=village["properties"].get("sample", False),
                           neighbours=neighbours, product=product, markers=markers,
                           fmap=render(fmap))


def _marker(feature: dict) -> dict[str, object]:
    lon, lat = feature["geometry"]["coordinates"]
    return {"id": feature["id"], "lat": lat, "lon": lon,
            "name": feature["properties"]["village_name"]}


@tour.get("/locator")
def locator() -> ResponseReturnValue:
    fmap = render(base_map(settings()))
    layers = layers_with_role("locator")
    configs = [script_config(lay) | {"only": only_filters(lay)} for lay in layers]
    summary = lq.layer_summary(engine())
    return render_template("locator.html", fmap=fmap, layers=configs,
                           sample=any(summary.get(lay.id, {}).get("sample") for lay in layers),
                           **area_choices())
