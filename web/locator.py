"""The staff locator (``/locator``): the nearest learning centres and volunteer leader centres
to a place, with the layers' "only …" filters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core.errors import BadParameter, NotFound
from core.schema import Layer
from gis import layer_queries as lq
from gis.nearest_villages import district_name, nearest_per_village
from web import params as wp
from web.choices import area_choices
from web.downloads import csv_attachment
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


@locator.get("/locator/villages")
def villages_nearest() -> ResponseReturnValue:
    """The nearest centre for every village of a district, as a printable list (``f=html``)
    or a CSV for Excel (``f=csv``), with the locator's "only …" filters."""
    layers = {lay.id: lay for lay in layers_with_role("locator")}
    layer_id = request.args.get("layer") or next(iter(layers))
    layer = layers.get(layer_id)
    if layer is None:
        raise BadParameter(f"layer must be one of {', '.join(layers)}; got {layer_id!r}")
    only = {f["name"] for f in only_filters(layer)}
    wp.reject_unknown({"layer", "district", "f", *only})
    district = wp.code_param("district", 4)
    if district is None:
        raise BadParameter("district (a 4-digit DOPA code, e.g. 5001) is required")
    names = district_name(engine(), district)
    if names is None:
        raise NotFound(f"ไม่พบอำเภอ {district} / no district {district}")
    fmt = request.args.get("f", "html")
    if fmt not in ("html", "csv"):
        raise BadParameter(f"f must be html or csv; got {fmt!r}")
    choices, _ = wp.layer_filters(layer)
    chosen = {name: values for name, values in choices.items() if name in only}
    rows = nearest_per_village(engine(), layer, district, lq.LayerQuery(choices=chosen))
    sample = bool(lq.layer_summary(engine()).get(layer.id, {}).get("sample"))
    if fmt == "csv":
        return _villages_csv(layer, district, rows, sample)
    return render_template("locator_villages.html", layer=layer, district=district,
                           district_th=names[0], district_en=names[1], province_th=names[2],
                           rows=rows, sample=sample,
                           csv_url=url_for("locator.villages_nearest",
                                           **_as_csv(request.args.to_dict())),
                           only=[f for f in only_filters(layer) if f["name"] in chosen])


def _as_csv(args: dict[str, str]) -> dict[str, Any]:
    return {**args, "f": "csv"}


def _villages_csv(layer: Layer, district: str, rows: list, sample: bool) -> Response:
    header = ["village_id", "หมู่บ้าน / village", "subdistrict_code", "ตำบล / subdistrict",
              "lon", "lat", "nearest_key", f"{layer.title_th} ที่ใกล้ที่สุด / nearest",
              "distance_km", "sample"]
    body = ([r.village_id, r.village_th, r.subdistrict_code or "", r.subdistrict_th or "",
             f"{r.lon:.6f}", f"{r.lat:.6f}", r.key or "", r.name or "",
             "" if r.distance_m is None else f"{r.distance_m / 1000:.2f}",
             "true" if sample else "false"] for r in rows)
    return csv_attachment([header, *body], f"nearest-{layer.id}-{district}.csv")
