"""The planners' choropleth page, and its standalone HTML export."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import folium
from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from gis import choropleth as ch
from gis import indicators as gi
from web import engine, settings
from web.choices import area_choices
from web.indicators_api import VALUE_PARAMS, compute_values
from web.maps import base_map, render, static_url
from web.params import BadParameter

choropleth = Blueprint("choropleth", __name__)
STATIC = Path(__file__).parent / "static"
DEFAULT_INDICATOR = "nso-household-income"  # what a planner most often opens with
METHOD_LABELS = {
    "quantiles": "ควอนไทล์ — Quantiles",
    "equal_interval": "ช่วงเท่ากัน — Equal interval",
    "fisher_jenks": "Natural breaks (Fisher-Jenks)",
    "std_mean": "ส่วนเบี่ยงเบนมาตรฐาน — Standard deviation",
    "manual": "กำหนดเอง — Manual breaks",
}


@choropleth.get("/choropleth")
def page() -> ResponseReturnValue:
    fmap = render(base_map(settings()))
    catalogue = [i.as_dict() for i in gi.catalogue(engine())]
    ids = [i["id"] for i in catalogue]
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in ids else ids[0]
    return render_template(
        "choropleth.html", fmap=fmap, indicators=catalogue, default_indicator=default,
        **area_choices(),
        methods=METHOD_LABELS, sequential=ch.SEQUENTIAL, diverging=ch.DIVERGING)


def _inline_assets(html: str) -> str:
    """Puts the vendored Leaflet JS and CSS inside the page, so the file works on its own."""
    for tag, path, wrap in (
        ('<script src="{}"></script>', "vendor/leaflet-1.9.3/leaflet.js", "<script>{}</script>"),
        ('<link rel="stylesheet" href="{}"/>', "vendor/leaflet-1.9.3/leaflet.css",
         "<style>{}</style>"),
    ):
        html = html.replace(tag.format(static_url(path)),
                            wrap.format((STATIC / path).read_text(encoding="utf-8")))
    return html


@choropleth.get("/choropleth/export.html")
def export() -> ResponseReturnValue:
    """The current view as one HTML file (map, legend, source) with Leaflet inside it."""
    indicator_id = request.args.get("indicator", "")
    if not request.args.get("classify"):
        raise BadParameter("classify (a classification method) is required for the export")
    _, values = compute_values(indicator_id, VALUE_PARAMS | {"indicator"})
    body: dict[str, Any] = values
    geo = json.loads(ch.areas_geojson(engine(), body["level"], body.get("region"),
                                      body.get("province"), body.get("district")))
    by_code = {v["code"]: v for v in body["values"]}
    unit = body["indicator"]["unit"]
    for feature in geo["features"]:
        v = by_code.get(feature["properties"]["code"], {})
        value = v.get("value")
        # Folium's GeoJsonTooltip puts these in with innerHTML: escape them here.
        feature["properties"].update({
            "name_th": escape(v.get("name_th", "")),
            "shown": "ไม่มีข้อมูล / no data" if value is None else escape(f"{value:,.2f} {unit}"),
            "color": v.get("color", ch.NO_DATA_COLOR)})
    fmap = base_map(settings())
    layer = folium.GeoJson(
        geo, style_function=lambda f: {"fillColor": f["properties"]["color"], "color": "#fff",
                                       "weight": 0.5, "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(["name_th", "shown"], labels=False))
    layer.add_to(fmap)
    bounds: Any = layer.get_bounds()  # [[south, west], [north, east]]; None only when empty
    fmap.fit_bounds(bounds)
    indicator = body["indicator"]
    title = f"{indicator['title_th']} / {indicator['title_en']}"
    if body.get("year"):
        title += f" พ.ศ. {body['year']}" + (f" เทียบกับ {body['compare']}"
                                            if body.get("compare") else "")
    root: Any = fmap.get_root()  # a branca Figure (typed as a plain Element)
    root.html.add_child(folium.Element(
        render_template("choropleth_legend.html", body=body, title=title)))
    rendered = render(fmap)
    html = render_template("choropleth_export.html", fmap=rendered, title=title)
    name = f"{indicator['id']}-{body['level']}-{body.get('year') or 'all'}.html"
    return Response(_inline_assets(html), mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
