"""The staff locator (``/locator``): the nearest learning centres and volunteer leader centres
to a place, with the layers' "only …" filters."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from core.schema import Layer
from gis import layer_queries as lq
from web.choices import area_choices
from web.maps import plain_map
from web.page_layers import layers_with_role, script_config
from web.services import engine, settings

locator = Blueprint("locator", __name__)


def only_filters(layer: Layer) -> list[dict[str, str]]:
    """The "only …" check boxes the locator offers: the layer's public yes/no choice filters."""
    return [{"name": f.name, "label_th": f.label_th, "label_en": f.label_en}
            for f in layer.filter_fields if f.type == "bool" and f.filter == "choice"]


@locator.get("/locator")
def locator_page() -> ResponseReturnValue:
    fmap = plain_map(settings())
    layers = layers_with_role("locator")
    configs = [script_config(lay) | {"only": only_filters(lay)} for lay in layers]
    summary = lq.layer_summary(engine())
    return render_template("locator.html", fmap=fmap, layers=configs,
                           sample=any(summary.get(lay.id, {}).get("sample") for lay in layers),
                           **area_choices())
