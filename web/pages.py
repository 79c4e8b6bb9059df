"""HTML pages. Thai first, English beside it."""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template, url_for
from flask.typing import ResponseReturnValue

from core.schema import Field, Layer
from gis import boundaries as bq
from gis import layer_queries as lq
from gis import tiles as gt
from layers.definitions import LAYERS
from web.choices import area_choices
from web.maps import plain_map
from web.services import engine, settings

pages = Blueprint("pages", __name__)


@pages.app_context_processor
def map_tiles_context() -> dict[str, object]:
    """``map_config(page)`` for map_page.html (called there only, so other pages ask nothing):
    the page's own settings with what the tiles need."""
    return {"map_config": lambda page: {**page, **map_tiles()}}


def map_tiles() -> dict[str, object]:
    """What a map page's scripts need of the tiles: basemap.js the offline basemap's tiles, a
    local PMTiles file if the operator set one, and whether ours is the base (no raster
    basemap); every script the current version of each tileset (``tileVersions``), which
    its tile URLs carry, so a proxy may keep those tiles (web/tiles.py)."""
    s = settings()
    sources: dict[str, gt.Source | str] = {
        **{c.id: c for c in bq.COLLECTIONS.values()}, **{layer.id: layer for layer in
                                                        LAYERS.values()},
        gt.BASEMAP: gt.BASEMAP}
    versions = gt.current_versions(engine(), sources)
    tiles = url_for("tiles.basemap_tile", tms="WebMercatorQuad", z=0, x=0, y=0)
    return {"basemap": {
        "tiles": tiles.removesuffix("/0/0/0") + f"/{{z}}/{{x}}/{{y}}?v={versions[gt.BASEMAP]}",
        "pmtiles": url_for("tiles.basemap_pmtiles") if s.basemap_pmtiles else None,
        "attribution": s.tile_attribution,
        "on": s.tile_url is None,
    }, "tileVersions": versions}


@pages.get("/")
def index() -> ResponseReturnValue:
    return render_template("index.html")


@pages.get("/boundaries")
def boundaries() -> ResponseReturnValue:
    fmap = plain_map(settings())
    return render_template("boundaries.html", fmap=fmap, **area_choices())


def _layer_config(layer: Layer, summary: dict[str, object] | None) -> dict[str, object]:
    """What the page script needs to know of a layer: public fields only."""
    values = {f.name: lq.choice_values(engine(), layer, f.name)
              for f in layer.filter_fields if f.filter == "choice" and not f.choices}
    return {
        "id": layer.id,
        "title_th": layer.title_th,
        "title_en": layer.title_en,
        "color": layer.color,
        "name_field": layer.name_field,
        "popup_fields": list(layer.popup_fields),
        "count": (summary or {}).get("count", 0),
        "sample": (summary or {}).get("sample", False),
        "fields": {f.name: {"label_th": f.label_th, "label_en": f.label_en, "type": f.type,
                            "choices": {c.value: c.label_th for c in f.choices}}
                   for f in layer.public_fields},
        "filters": [{"name": f.name, "kind": f.filter, "label_th": f.label_th,
                     "label_en": f.label_en,
                     "options": ([[c.value, c.label_th] for c in f.choices] if f.choices else
                                 [[_option_value(v), _option_label(f, v)]
                                  for v, _ in values.get(f.name, [])])}
                    for f in layer.filter_fields],
    }


def _option_value(value: object) -> str:
    """As the API's filter parameters spell it: true/false, 2564, text."""
    return value if isinstance(value, str) else json.dumps(value)


def _option_label(f: Field, value: object) -> str:
    if f.type == "bool":
        return "ใช่ / yes" if value else "ไม่ใช่ / no"
    return str(value)


def _render_layers(layers: list[Layer], single: bool) -> str:
    summary = lq.layer_summary(engine())
    fmap = plain_map(settings())
    configs = [_layer_config(layer, summary.get(layer.id)) for layer in layers]
    return render_template("layers.html", fmap=fmap, layers=configs, single=single,
                           sample=any(c["sample"] for c in configs), **area_choices())


@pages.get("/layers")
def layers_overview() -> ResponseReturnValue:
    return _render_layers(list(LAYERS.values()), single=False)


@pages.get("/layers/<layer_id>")
def layer_page(layer_id: str) -> ResponseReturnValue:
    layer = LAYERS.get(layer_id)
    if layer is None:
        abort(404, description=f"ไม่มีชั้นข้อมูล {layer_id!r} — no layer {layer_id!r}")
    return _render_layers([layer], single=True)
