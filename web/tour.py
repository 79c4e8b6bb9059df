"""Pages for tourists (GIS tour from home) and for staff (learning-center locator)."""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from gis import layer_queries as lq
from layers.definitions import LAYERS, OTOP_PRODUCT_TYPES
from web import engine, settings
from web.choices import area_choices
from web.maps import base_map, render

tour = Blueprint("tour", __name__)
VILLAGES = LAYERS["otop-tourism-villages"]
NEIGHBOURS = 5


@tour.get("/tour")
def tour_index() -> ResponseReturnValue:
    fmap = render(base_map(settings()))
    summary = lq.layer_summary(engine()).get(VILLAGES.id, {})
    return render_template("tour.html", fmap=fmap, product_types=OTOP_PRODUCT_TYPES,
                           sample=summary.get("sample", False), **area_choices())


@tour.get("/tour/<village_id>")
def tour_village(village_id: str) -> ResponseReturnValue:
    raw = lq.get_feature(engine(), VILLAGES, village_id)
    if raw is None:
        abort(404, description=f"ไม่พบชุมชน {village_id!r} — no tourism village {village_id!r}")
    village = json.loads(raw)
    lon, lat = village["geometry"]["coordinates"]
    page = lq.query_features(engine(), VILLAGES, lq.LayerQuery(
        near=(lon, lat), exclude=village_id, limit=NEIGHBOURS), count=False)
    neighbours = [json.loads(f) for f in page.features]
    fmap = base_map(settings())
    fmap.location = [lat, lon]
    # The markers are drawn by tour_village.js from the page config (JSON, tooltips as text):
    # Folium would paste the names into its inline script, where `${…}` or <img onerror> runs.
    markers = {"village": _marker(village), "neighbours": [_marker(f) for f in neighbours],
               "color": VILLAGES.color}
    points = [[lat, lon]] + [[f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]]
                             for f in neighbours[:2]]
    fmap.fit_bounds(points, padding=(30, 30), max_zoom=13)
    product = {c.value: c for c in OTOP_PRODUCT_TYPES}.get(
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
    layers = [LAYERS["learning-centers"], LAYERS["volunteer-centers"]]
    configs = [{"id": lay.id, "title_th": lay.title_th, "title_en": lay.title_en,
                "color": lay.color, "name_field": lay.name_field,
                "fields": {f.name: {"label_th": f.label_th, "type": f.type}
                           for f in lay.public_fields}}
               for lay in layers]
    summary = lq.layer_summary(engine())
    return render_template("locator.html", fmap=fmap, layers=configs,
                           sample=any(summary.get(lay.id, {}).get("sample") for lay in layers),
                           **area_choices())
